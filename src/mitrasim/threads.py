"""How many engine threads a process uses: one setting, read and checked in one place.

``MITRASIM_THREADS`` (environment variable): a whole number ≥ 0 of engine threads; ``0``, empty or
unset means every core of the machine.  :func:`mitrasim.physiology.engine.default_threads` reads it
for every batch; the command line checks it before a command starts (so a bad value is refused before
anything is written); processes that share a machine's cores with their siblings set it to 1 (a web
worker process, a local Dask worker).
"""

from __future__ import annotations

import os

from mitrasim.input_error import InputError

__all__ = ["ENV", "CPU_COUNT", "engine_threads"]

#: The environment variable that sets the engine threads of a process.
ENV = "MITRASIM_THREADS"

#: The machine's cores, read once (``os.cpu_count()`` is a system call; the engine asks per batch).
CPU_COUNT = os.cpu_count() or 1


def engine_threads() -> int:
    """The engine threads of this process: :data:`ENV` if set to a whole number ≥ 1, else every core.

    **Raises:** `InputError` (field ``MITRASIM_THREADS``) when it is set to anything but a whole number ≥ 0.
    """
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return CPU_COUNT
    try:
        n = int(raw)
    except ValueError:
        n = -1
    if n < 0:
        raise InputError(ENV, raw, "a whole number of engine threads ≥ 1 (0 or unset: every core)")
    return n or CPU_COUNT
