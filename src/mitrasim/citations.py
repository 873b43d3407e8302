"""One registry of the sources behind every literature number in mitrasim.

Every module that uses a number from the literature registers the source once,
next to the number, with :func:`register`, and marks it as used with
:func:`cite` when a computation relies on it (the PyBaMM pattern).

A computation collects the sources *it* used with :func:`collect` (per call, as
PyBaMM collects per simulation): every :func:`cite` made while the ``with``
block runs, in this thread or task, lands in that collector and in every
enclosing one, and in no other.  Results carry ``collected.keys``, so two
computations in one process carry their own lists, and a long-lived server
never accumulates sources.  :func:`used` is the process-wide record, for a
command line that wants to print everything it touched.

>>> from mitrasim import citations
>>> src = citations.register("example2000", "Doe J. An example. J Ex 1:1 (2000).")
>>> citations.get("example2000").text
'Doe J. An example. J Ex 1:1 (2000).'
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Source", "Collected", "register", "get", "cite", "collect", "used", "reset_used", "all_sources",
    "format_list", "stamped",
]


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


@dataclass
class Collected:
    """The sources cited inside one :func:`collect` block, in order of first use."""

    _keys: dict[str, None] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return list(self._keys)

    def sources(self) -> list[Source]:
        return [get(k) for k in self._keys]


_REGISTRY: dict[str, Source] = {}
_USED: dict[str, None] = {}
#: The collectors open in the current thread / task (innermost last).
_OPEN: ContextVar[tuple[Collected, ...]] = ContextVar("mitrasim_citation_collectors", default=())


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
    """Mark sources as used by the computations now collecting (and in the process-wide record)."""
    open_ = _OPEN.get()
    for k in keys:
        get(k)
        _USED.setdefault(k, None)
        for c in open_:
            c._keys.setdefault(k, None)
    return keys


@contextmanager
def collect() -> Iterator[Collected]:
    """Collect the sources cited while the block runs (nested blocks also feed the outer ones).

    >>> with collect() as c:
    ...     _ = cite("mitrasim")
    >>> c.keys
    ['mitrasim']
    """
    c = Collected()
    token = _OPEN.set(_OPEN.get() + (c,))
    try:
        yield c
    finally:
        _OPEN.reset(token)


def stamped(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: run ``fn`` inside :func:`collect` and set its result's ``citations`` to the keys it cited.

    >>> @stamped
    ... def f():
    ...     cite("mitrasim")
    ...     return type("R", (), {})()
    >>> f().citations
    ['mitrasim']
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with collect() as c:
            res = fn(*args, **kwargs)
        res.citations = c.keys
        return res

    return wrapper


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


# Shared sources (cited by several areas) are listed once, in bibliography.py, and registered here.
from mitrasim.bibliography import SHARED as _SHARED  # noqa: E402

for _args, _kwargs in _SHARED:
    register(*_args, **_kwargs)
