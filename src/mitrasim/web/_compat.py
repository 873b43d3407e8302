"""Transitional: tolerate one source registered twice with the same DOI but different wording.

On the current main, ``physiology.parameter_sets`` and ``echo.sources`` both register
``zoghbi2017`` with slightly different text, so the engine and echo cannot be
imported into one process.  The lead's fix removes the duplicate; until it is
merged, the web app keeps the first registration when the DOI matches.  Remove
this module after ``git merge main`` brings the fix.
"""

from __future__ import annotations

from mitrasim import citations

_original = citations.register


def _register(key: str, text: str, doi: str | None = None, note: str | None = None):  # type: ignore[no-untyped-def]
    old = citations._REGISTRY.get(key)  # noqa: SLF001
    if old is not None and doi is not None and old.doi == doi:
        return old
    return _original(key, text, doi=doi, note=note)


def install() -> None:
    """Install the tolerant ``register`` (idempotent)."""
    if citations.register is _original:
        citations.register = _register  # type: ignore[assignment]
