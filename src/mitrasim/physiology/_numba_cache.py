"""Where numba caches mitrasim's compiled code.

Numba's default cache lives in ``__pycache__`` beside the source: it is lost on
every reinstall and impossible from a read-only install.  mitrasim's locator
puts the cache of its own modules in a user cache folder, keyed by the module's
path inside the package (not its absolute path) and stamped with a hash of the
source's content, so it survives a reinstall of the same code, works from a
read-only install, and is invalidated when the code changes.

The folder is ``$MITRASIM_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/mitrasim/numba``
(``~/.cache/mitrasim/numba``).  If it cannot be written, numba's own locators
are used as before.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from numba.core import caching

_IMPL = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
_PKG_ROOT = Path(__file__).resolve().parents[1]


def cache_dir() -> Path:
    env = os.environ.get("MITRASIM_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mitrasim" / "numba"


class MitrasimCacheLocator(caching._CacheLocator):
    """Cache locator for functions defined in the mitrasim package (content-stamped, user folder)."""

    def __init__(self, py_func, py_file: str):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        rel = Path(py_file).resolve().relative_to(_PKG_ROOT)
        tag = f"py{sys.version_info[0]}{sys.version_info[1]}"
        self._cache_path = str(cache_dir() / tag / rel.parent)

    def get_cache_path(self) -> str:
        return self._cache_path

    def get_source_stamp(self):
        with open(self._py_file, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def get_disambiguator(self) -> str:
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        try:
            if not Path(py_file).resolve().is_relative_to(_PKG_ROOT):
                return None
            self = cls(py_func, py_file)
            self.ensure_cache_path()
        except (OSError, ValueError):
            return None
        return self


if MitrasimCacheLocator not in _IMPL._locator_classes:
    _IMPL._locator_classes.insert(0, MitrasimCacheLocator)
