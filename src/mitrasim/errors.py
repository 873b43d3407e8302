"""Errors raised for bad input.

Every input error names the field, the value given and what is allowed, in one
line, so the command line and the web API can show it as it is.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, TypeVar

__all__ = ["InputError", "check_range", "from_validation_error", "validate_model", "json_safe", "dumps", "one_line"]


from mitrasim.input_error import InputError, _json_value, _short_repr, _text, one_line  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from pydantic import BaseModel

_M = TypeVar("_M", bound="BaseModel")


def json_safe(x: Any) -> Any:
    """Plain JSON data: numpy to Python, non-finite floats to ``None`` (callers flag them, see
    :func:`mitrasim.ranges.result_flags`), tuples to lists, lone surrogates escaped."""
    if isinstance(x, dict):
        return {_text(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):
        return json_safe(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, str):
        return _text(x)
    return x


def dumps(x: Any, **kw: Any) -> str:
    """``json.dumps`` that cannot fail on NaN/Infinity (strict JSON out: they become ``null``)."""
    import json

    return json.dumps(json_safe(x), allow_nan=False, **kw)


def check_range(field: str, value: float, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False, unit: str = "") -> float:
    """Return ``value`` as float if ``lo <= value <= hi`` (open ends if asked), else raise :class:`InputError`."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(field, value, _range_text(lo, hi, lo_open, hi_open, unit), "not a number") from None
    ok = math.isfinite(x) and (x > lo if lo_open else x >= lo) and (x < hi if hi_open else x <= hi)
    if not ok:
        raise InputError(field, value, _range_text(lo, hi, lo_open, hi_open, unit))
    return x


def _range_text(lo: float, hi: float, lo_open: bool, hi_open: bool, unit: str) -> str:
    a = "(" if lo_open else "["
    b = ")" if hi_open else "]"
    u = f" {unit}" if unit else ""
    return f"{a}{lo:g}, {hi:g}{b}{u}"


_BOUND_WORDS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}


def from_validation_error(exc: Exception, prefix: str = "", skip: tuple[str, ...] = ("__root__",)) -> InputError:
    """Turn the first error of a pydantic ``ValidationError`` into an :class:`InputError`.

    A bound error on a quantity of :data:`mitrasim.ranges.RANGES` (the last part of the
    field's path is its name) reads as the range's sentence ("heart rate 500 bpm is
    outside 30–200 bpm"); other errors read "field: got VALUE; allowed: WHAT".
    """
    errs = exc.errors()  # type: ignore[attr-defined]
    e = errs[0]
    parts = [str(p) for p in e.get("loc", ()) if p not in skip]
    loc = ".".join(parts)
    field = f"{prefix}.{loc}" if prefix and loc else (prefix or loc or "input")
    more = f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""
    value = e.get("input")
    ctx = e.get("ctx") or {}
    etype = e.get("type", "")
    if isinstance(ctx.get("error"), InputError):  # raised by a validator: keep its sentence, at this path
        return ctx["error"].renamed(field)
    if etype == "extra_forbidden":
        return InputError(field, value, "no such field" + more)
    if etype == "missing":
        return InputError(field, None, "a value (required)" + more, message=f"{field} is required{more}")
    from mitrasim import ranges

    names = [p for p in parts if not p.isdigit()]  # "eroa_cm2.0": an element of a list of EROAs
    r = ranges.RANGES.get(names[-1]) if names else None
    if r is not None and (etype in ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number") or etype.endswith("_parsing")):
        return InputError(field, value, r.text() + more, message=(r.message(value) if etype != "float_parsing" else f"{r.label} {value!r} is not a number ({r.text()})") + more)
    bounds = [f"{_BOUND_WORDS[k]} {v}" for k, v in ctx.items() if k in _BOUND_WORDS]
    if bounds:
        allowed = " and ".join(bounds)
    elif "expected" in ctx:
        allowed = f"one of {ctx['expected']}"
    else:
        allowed = str(e.get("msg", "a valid value")).removeprefix("Value error, ")
    return InputError(field, value, allowed + more)


def validate_model(model: type[_M], data: Any, prefix: str = "", mapping: str | None = None) -> _M:
    """``model.model_validate(data)`` (a pydantic model class); the first error becomes an
    :class:`InputError` naming ``prefix.field`` (:func:`from_validation_error`).  With ``mapping``
    (what the mapping should hold), anything but a mapping is refused first, naming ``prefix``."""
    from pydantic import ValidationError

    if mapping is not None and not isinstance(data, dict):
        raise InputError(prefix, type(data).__name__, mapping)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, prefix) from None
