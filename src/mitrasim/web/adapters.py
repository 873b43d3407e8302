"""The web's calls into the procedure and the trials, run in the worker pool (plain data in, plain data out).

They import :mod:`mitrasim.procedure` and :mod:`mitrasim.cohort` directly: an import error is a bug
and surfaces as one (no "not available in this build" fallback).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

__all__ = ["to_jsonable", "interval_columns", "plan_case", "run_procedure_case", "trial_runner"]


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


def interval_columns() -> list[dict[str, Any]]:
    """The quantities a report shows with their 90 % intervals, as the command line labels them
    (:data:`mitrasim.procedure.intervals.SHOWN`): ``[{"quantity", "label", "decimals"}, ...]``."""
    from mitrasim.procedure.intervals import SHOWN

    return [{"quantity": q, "label": label, "decimals": d} for q, label, d in SHOWN]


def plan_case(case_data: Mapping[str, Any], seed: int = 0, research_below_indication: bool = False) -> dict[str, Any]:
    """The planner's ranking for a case (``mitrasim.procedure`` planner); a baseline below MR 3+ is
    refused unless `research_below_indication` (then stated in the result)."""
    from mitrasim.case import parse_case

    from mitrasim.procedure import plan_case as _plan_case

    ranking = _plan_case(parse_case(dict(case_data)), research_below_indication=research_below_indication)
    return {"ranking": to_jsonable(ranking), "interval_columns": interval_columns()}


def run_procedure_case(case_data: Mapping[str, Any], seed: int = 0, research_below_indication: bool = False) -> dict[str, Any]:
    """The procedure, clip by clip, for a case (``mitrasim.procedure.run_procedure``); indication as :func:`plan_case`."""
    from mitrasim.case import parse_case

    from mitrasim.procedure import run_procedure
    from mitrasim.procedure.intervals import case_procedure_intervals

    case = parse_case(dict(case_data))
    proc = run_procedure(case, seed=seed, research_below_indication=research_below_indication)
    # a case with measurements: the calibrated patient's 90 % intervals before and after (else null)
    return {"procedure": to_jsonable(proc), "intervals": to_jsonable(case_procedure_intervals(case, proc)), "interval_columns": interval_columns()}


def trial_runner() -> Callable[..., Any]:
    """:func:`mitrasim.cohort.trial.run_trial`."""
    from mitrasim.cohort.trial import run_trial

    return run_trial
