"""One registry of the sources behind every literature number in mitrasim.

Every module that uses a number from the literature registers the source once,
next to the number, with :func:`register`, and marks it as used with
:func:`cite` when a computation relies on it (the PyBaMM pattern).  Reports and
the command line print :func:`used` (or the citations a result carries) so a
reader always sees where the numbers came from.

>>> from mitrasim import citations
>>> src = citations.register("example2000", "Doe J. An example. J Ex 1:1 (2000).")
>>> citations.get("example2000").text
'Doe J. An example. J Ex 1:1 (2000).'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Source", "register", "get", "cite", "used", "reset_used", "all_sources", "format_list"]


@dataclass(frozen=True)
class Source:
    """A bibliographic source: a stable key, the reference text and an optional DOI/URL."""

    key: str
    text: str
    doi: str | None = None
    note: str | None = None

    def format(self) -> str:
        out = self.text
        if self.doi:
            out += f" doi:{self.doi}"
        return out


_REGISTRY: dict[str, Source] = {}
_USED: dict[str, None] = {}


def register(key: str, text: str, doi: str | None = None, note: str | None = None) -> Source:
    """Register a source under ``key``; registering the same key twice must give the same text."""
    src = Source(key, text, doi, note)
    old = _REGISTRY.get(key)
    if old is not None and (old.text != text or old.doi != doi):
        raise ValueError(f"citation key {key!r} registered twice with different text")
    _REGISTRY[key] = src
    return src


def get(key: str) -> Source:
    try:
        return _REGISTRY[key]
    except KeyError:
        raise KeyError(f"unknown citation key {key!r}; known: {sorted(_REGISTRY)}") from None


def cite(*keys: str) -> tuple[str, ...]:
    """Mark sources as used in this process (order of first use is kept)."""
    for k in keys:
        get(k)
        _USED.setdefault(k, None)
    return keys


def used() -> list[Source]:
    return [_REGISTRY[k] for k in _USED]


def reset_used() -> None:
    _USED.clear()


def all_sources() -> list[Source]:
    return list(_REGISTRY.values())


def format_list(keys) -> list[str]:
    """Reference texts for ``keys`` (unique, in order)."""
    seen: dict[str, None] = {}
    for k in keys:
        seen.setdefault(k, None)
    return [get(k).format() for k in seen]


# Sources used across the whole package (module-specific ones are registered where used).
register(
    "mitrasim",
    "mitrasim: a research and education simulator of mitral regurgitation and "
    "transcatheter edge-to-edge repair. Not a medical device.",
)


# Shared sources (cited by several areas) are registered once, in bibliography.py.
from mitrasim import bibliography as _bibliography  # noqa: E402,F401
