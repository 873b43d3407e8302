"""Thin wrappers over modules written in parallel (``mitrasim.procedure``, ``mitrasim.cohort``).

Each wrapper imports lazily and raises :class:`Unavailable` (HTTP 503, with the
reason) when the module does not yet provide what the endpoint needs.  They run
in the worker pool, so they take and return plain data.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable, Mapping

__all__ = ["Unavailable", "find_callable", "to_jsonable", "plan_case", "run_procedure_case", "trial_runner"]


class Unavailable(RuntimeError):
    """The feature's module is not in this build yet."""


def find_callable(candidates: tuple[tuple[str, str], ...]) -> Callable[..., Any]:
    """The first ``module:function`` of ``candidates`` that exists; else :class:`Unavailable`."""
    for mod_name, fn_name in candidates:
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        fn = getattr(mod, fn_name, None)
        if callable(fn):
            return fn
    names = ", ".join(f"{m}.{f}" for m, f in candidates)
    raise Unavailable(f"not available in this build yet (needs one of: {names})")


def to_jsonable(x: Any) -> Any:
    """Results as JSON: ``to_dict()``, pydantic ``model_dump``, dataclasses, numpy, containers."""
    from mitrasim.web.services import _clean

    if hasattr(x, "to_dict") and callable(x.to_dict):
        return _clean(to_jsonable(x.to_dict()))
    if hasattr(x, "model_dump"):
        return _clean(x.model_dump(mode="json"))
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return _clean({f.name: to_jsonable(getattr(x, f.name)) for f in dataclasses.fields(x)})
    if isinstance(x, Mapping):
        return {str(k): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v) for v in x]
    return _clean(x)


PLANNER = (("mitrasim.procedure", "plan_case"),)
PROCEDURE = (("mitrasim.procedure", "run_procedure"),)
TRIAL = (("mitrasim.cohort.trial", "run_trial"),)


def check_available(candidates: tuple[tuple[str, str], ...]) -> None:
    """Raise :class:`Unavailable` now (before queueing work) if the feature is missing."""
    find_callable(candidates)


def plan_case(case_data: Mapping[str, Any], seed: int = 0, research_below_indication: bool = False) -> dict[str, Any]:
    """The planner's ranking for a case (``mitrasim.procedure`` planner); a baseline below MR 3+ is
    refused unless `research_below_indication` (then stated in the result)."""
    from mitrasim.case import parse_case

    fn = find_callable(PLANNER)
    return {"ranking": to_jsonable(fn(parse_case(dict(case_data)), research_below_indication=research_below_indication))}


def run_procedure_case(case_data: Mapping[str, Any], seed: int = 0, research_below_indication: bool = False) -> dict[str, Any]:
    """The procedure, clip by clip, for a case (``mitrasim.procedure.run_procedure``); indication as :func:`plan_case`."""
    from mitrasim.case import parse_case

    fn = find_callable(PROCEDURE)
    return {"procedure": to_jsonable(fn(parse_case(dict(case_data)), seed=seed, research_below_indication=research_below_indication))}


def trial_runner() -> Callable[..., Any]:
    """``mitrasim.cohort.run_trial`` (issue 5) or :class:`Unavailable`."""
    return find_callable(TRIAL)
