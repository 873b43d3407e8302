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

import functools
import hashlib
import os
import sys
import tempfile
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


@functools.lru_cache(maxsize=None)
def _cache_path(py_file: str, root: Path) -> str | None:
    """The cache folder of a source file of the package under ``root`` (created and found writable),
    or None (outside the package, or not writable).  Once per file and folder in a process: numba
    creates a locator for every compiled function (two dozen in the engine alone) at import."""
    path = Path(py_file).resolve()
    if not path.is_relative_to(_PKG_ROOT):
        return None
    folder = str(root / f"py{sys.version_info[0]}{sys.version_info[1]}" / path.relative_to(_PKG_ROOT).parent)
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()  # writable (numba's own check)
    except OSError:
        return None
    return folder


@functools.lru_cache(maxsize=None)
def _source_stamp(py_file: str, mtime_ns: int, size: int) -> str:
    with open(py_file, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class MitrasimCacheLocator(caching._CacheLocator):
    """Cache locator for functions defined in the mitrasim package (content-stamped, user folder)."""

    def __init__(self, py_func, py_file: str, cache_path: str):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = cache_path

    def get_cache_path(self) -> str:
        return self._cache_path

    def get_source_stamp(self):
        st = os.stat(self._py_file)
        return _source_stamp(self._py_file, st.st_mtime_ns, st.st_size)

    def get_disambiguator(self) -> str:
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        try:
            cache_path = _cache_path(py_file, cache_dir())
        except (OSError, ValueError):
            return None
        return None if cache_path is None else cls(py_func, py_file, cache_path)


if MitrasimCacheLocator not in _IMPL._locator_classes:
    _IMPL._locator_classes.insert(0, MitrasimCacheLocator)
