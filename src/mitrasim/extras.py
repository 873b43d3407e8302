"""Optional extras (``pip install 'mitrasim[EXTRA]'``): a missing one is one clear error naming it.

The core install (``pip install mitrasim``) runs the engine, the valve and clip, echo, the procedure,
trials in process, the care plan and the command line (``mitrasim demo``).  A feature that needs an
extra calls :func:`require_extra` before it does anything, so a missing extra is refused with one
line naming the extra to install (the CLI's exit 2), never hidden behind a fallback.

:data:`EXTRA_MODULES` lists, per extra of ``pyproject.toml``, the top-level modules it provides.
"""

from __future__ import annotations

import importlib.util

from mitrasim.errors import InputError

__all__ = ["EXTRA_MODULES", "MissingExtra", "missing_modules", "require_extra"]

#: extra → the importable top-level modules its distributions provide (``pyproject.toml``'s extras).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "web": ("fastapi", "uvicorn", "sqlalchemy", "alembic", "plotly"),
    "dask": ("dask", "distributed"),
    "validate": ("SALib",),
}


class MissingExtra(InputError):
    """A feature needs an optional extra that is not installed."""


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (``[]`` when the extra is installed)."""
    try:
        modules = EXTRA_MODULES[extra]
    except KeyError:
        raise ValueError(f"unknown extra {extra!r}; known: {sorted(EXTRA_MODULES)}") from None
    return [m for m in modules if importlib.util.find_spec(m) is None]


def require_extra(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtra` (one line naming the extra) when ``extra`` is not installed."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtra(
            feature, None, f"the '{extra}' extra installed",
            message=f"{feature} needs the optional '{extra}' extra (missing: {', '.join(missing)}); "
            f"install it with: pip install 'mitrasim[{extra}]'",
        )
