"""Reading input files and writing outputs without tracebacks or half-written files.

* :func:`read_text` reads UTF-8 text; bytes that are not UTF-8 raise an ``OSError``
  (``EILSEQ``) naming the file and the offending byte, so every loader's existing
  ``except OSError`` turns it into its one-line :class:`~mitrasim.errors.InputError`.
* :func:`check_output_file` / :func:`check_output_dir` refuse, before any work is
  done, an output whose folder is missing, is a file, or is not writable.
* :func:`write_atomic` writes to a temporary file in the same folder and renames it
  into place: a reader (or a crash) never sees a half-written file.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from mitrasim.errors import InputError

__all__ = ["read_text", "read_data", "check_output_file", "check_output_dir", "write_atomic"]


def read_text(path: str | Path) -> str:
    """The file's text (UTF-8, optional BOM); OSError (``EILSEQ`` when not UTF-8) otherwise."""
    p = Path(path)
    data = p.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OSError(errno.EILSEQ, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8", str(p)) from None


def read_data(path: str | Path, field: str, readable: str, valid: str, json_by_suffix: bool = True) -> object:
    """The parsed content of a YAML file (JSON when ``json_by_suffix`` and the name ends ``.json``).
    A file that cannot be read is one :class:`InputError` naming ``field`` (allowed: ``readable``),
    content that does not parse another (allowed: ``valid``), each with the reason's first line."""
    import json

    import yaml

    p = Path(path)
    try:
        text = read_text(p)
    except OSError as exc:
        raise InputError(field, str(path), readable, exc.strerror) from None
    try:
        return json.loads(text) if json_by_suffix and p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InputError(field, str(path), valid, str(exc).splitlines()[0]) from None


def check_output_file(path: str | Path, field: str) -> Path:
    """``path`` if a file can be written there: its folder exists and is writable, it is not a folder."""
    p = Path(path)
    if p.is_dir():
        raise InputError(field, str(p), "a file name (this is a folder)")
    folder = p.parent if str(p.parent) else Path(".")
    _check_writable_folder(folder, field, str(p))
    if p.exists() and not os.access(p, os.W_OK):
        raise InputError(field, str(p), "a writable file (this one is read-only)")
    return p


def check_output_dir(path: str | Path, field: str) -> Path:
    """``path`` if it is (or can be created as) a writable folder; never creates anything."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise InputError(field, str(p), "a folder (this is a file)")
        _check_writable_folder(p, field, str(p))
        return p
    _check_writable_folder(p.parent if str(p.parent) else Path("."), field, str(p))
    return p


def _check_writable_folder(folder: Path, field: str, shown: str) -> None:
    if not folder.exists():
        raise InputError(field, shown, "a path in an existing folder", f"folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise InputError(field, shown, "a path in a folder", f"{str(folder)!r} is a file")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(field, shown, "a path in a writable folder", f"folder {str(folder)!r} is read-only")


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    p = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent if str(p.parent) else ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p
