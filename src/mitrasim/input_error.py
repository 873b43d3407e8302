"""The one error type of bad input, :class:`InputError`, in a module that imports nothing of mitrasim.

:mod:`mitrasim.errors` re-exports it with the helpers that turn validation errors into it (they
read :mod:`mitrasim.ranges`, which raises this error: keeping the class here keeps that one-way).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["InputError", "one_line"]


class InputError(ValueError):
    """Bad input: ``field`` had ``value``; ``allowed`` says what would be accepted."""

    def __init__(self, field: str, value: Any, allowed: str, hint: str | None = None, *, message: str | None = None):
        self.field = field
        self.value = value
        self.allowed = allowed
        self.hint = hint
        self.sentence = message
        if message is not None:  # a sentence in clinical units (mitrasim.ranges), prefixed by the field
            msg = message if message.startswith(field) else f"{field}: {message}"
        else:
            msg = f"{field}: got {_short_repr(value)}; allowed: {allowed}"
        if hint:
            msg += f" ({hint})"
        super().__init__(one_line(msg))

    def renamed(self, field: str) -> "InputError":
        """The same error under another field name (e.g. a request's ``clips.0`` for ``procedure.clips.0``)."""
        sentence = self.sentence
        if sentence is not None and sentence.startswith(self.field):
            sentence = field + sentence[len(self.field):]
        return InputError(field, self.value, self.allowed, self.hint, message=sentence)

    def to_dict(self) -> dict[str, Any]:
        """``{"field", "value", "allowed", "message"}``: always JSON-encodable (strict: no NaN, no lone surrogate)."""
        return {"field": _text(self.field), "value": _json_value(self.value), "allowed": _text(self.allowed), "message": _text(str(self))}


def _short_repr(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 80 else s[:77] + "..."


def _text(s: Any) -> str:
    """A string safe for strict JSON and UTF-8 (lone surrogates escaped)."""
    return str(s).encode("utf-8", "backslashreplace").decode("utf-8")


def _json_value(v: Any) -> Any:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if isinstance(v, int):
        return v if abs(v) < 2**53 else str(v)
    if isinstance(v, str):
        return _text(v[:200])
    return _text(_short_repr(v))


def one_line(msg: str) -> str:
    """Collapse line breaks and control characters so an error is one line."""
    return "".join(ch if ch.isprintable() else " " for ch in msg.replace("\r\n", " ").replace("\n", " ")).strip()
