"""Errors raised for bad input.

Every input error names the field, the value given and what is allowed, in one
line, so the command line and the web API can show it as it is.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["InputError", "check_range", "from_validation_error"]


class InputError(ValueError):
    """Bad input: ``field`` had ``value``; ``allowed`` says what would be accepted."""

    def __init__(self, field: str, value: Any, allowed: str, hint: str | None = None):
        self.field = field
        self.value = value
        self.allowed = allowed
        self.hint = hint
        msg = f"{field}: got {value!r}; allowed: {allowed}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)

    def to_dict(self) -> dict[str, Any]:
        v = self.value
        if isinstance(v, float) and not math.isfinite(v):
            v = str(v)
        return {"field": self.field, "value": v if _jsonable(v) else repr(v), "allowed": self.allowed, "message": str(self)}


def _jsonable(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


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


def from_validation_error(exc: Exception, prefix: str = "") -> InputError:
    """Turn the first error of a pydantic ``ValidationError`` into an :class:`InputError`."""
    errs = exc.errors()  # type: ignore[attr-defined]
    e = errs[0]
    loc = ".".join(str(p) for p in e.get("loc", ()) if p != "__root__")
    field = f"{prefix}.{loc}" if prefix and loc else (prefix or loc or "input")
    allowed = e.get("msg", "valid value")
    ctx = e.get("ctx") or {}
    if e.get("type") == "extra_forbidden":
        allowed = "no such field"
    elif ctx:
        allowed = allowed + "".join(f"; {k}={v}" for k, v in ctx.items() if k in ("ge", "gt", "le", "lt", "expected"))
    more = f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""
    return InputError(field, e.get("input"), allowed + more)
