"""Which compiled kernel runs a batch, and the one line said before the first compilation.

Plain Python, apart from the engine's compiled kernels (:mod:`mitrasim.physiology.engine`),
so that changing the choice of kernel does not invalidate their cache (numba's cache is
stamped with the hash of the kernel module's source).

Kernels: one per lane count (1 for a single patient, ``engine.LANES`` for batches) and mitral
law (orifice, diode), each compiled on its first use and then loaded from the cache.  A command
compiles only the kernels it runs, and a single patient runs on the batch kernel rather than
have a second kernel compiled in a process that has just compiled the batch kernel of its law
(the first ``mitrasim demo``: a batch, then single patients).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np

from mitrasim.physiology import engine

__all__ = ["run_batch", "compile_notice", "COMPILE_S_ESTIMATE"]

#: Seconds to compile one kernel (a lane count and valve law) on the development machine, for the
#: notice below (CPU seconds measured: benchmarks/RESULTS.md, "Engine speed (issue 19)").
COMPILE_S_ESTIMATE = (15, 25)


def _print_notice(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


#: Told once per process, in one line, when a kernel is about to be compiled rather than loaded
#: from the cache (a fresh install, or new engine code): a callable taking the line; by default it
#: is printed to stderr (so ``--json`` output stays clean).  Set to None for silence.
compile_notice: Callable[[str], None] | None = _print_notice
_notice_given = False
#: Seconds spent in first calls that compiled a kernel in this process (0 when all came from the cache).
compile_seconds = 0.0


_known: dict = {}  # kernel -> compiled or cached (each kernel's cache index is read once per process)


def _cached(kernel) -> bool:
    """Whether ``kernel`` is compiled in this process or fresh in numba's cache (the index's
    source stamp matches).  Reads numba's cache index (``Dispatcher._cache``, an internal:
    should it change, every kernel counts as not cached and the notice is given once)."""
    if kernel not in _known:
        try:
            _known[kernel] = bool(kernel.overloads) or bool(kernel._cache._cache_file._load_index())
        except AttributeError:
            return False
    return _known[kernel]


def _call(kernel, *args) -> None:
    """Call a kernel; the first compilation in the process is announced and timed."""
    global _notice_given, compile_seconds
    if _cached(kernel):
        kernel(*args)
        return
    if compile_notice is not None and not _notice_given:
        from mitrasim.physiology._numba_cache import cache_dir

        lo, hi = COMPILE_S_ESTIMATE
        compile_notice(f"mitrasim: compiling the engine once for this installation (about {lo}-{hi} s; "
                       f"later runs load it from {cache_dir()})")
        _notice_given = True
    t = time.perf_counter()
    kernel(*args)
    compile_seconds += time.perf_counter() - t
    _known[kernel] = True


def _in_lanes(kernel, args) -> None:
    """One patient in lane 0 of an ``engine.LANES``-lane group kernel (the other lanes repeat it), results copied back."""
    P, X0, kind, n_steps, min_beats, max_beats, tol, e_window, metrics, x_end, waves, accel = args
    pad = lambda a: np.ascontiguousarray(np.repeat(a, engine.LANES, axis=-1))  # noqa: E731
    m, xe, w = pad(metrics), pad(x_end), pad(waves)
    kernel(pad(P), pad(X0), kind, n_steps, min_beats, max_beats, tol, pad(e_window), m, xe, w, accel, 0, engine.LANES)
    metrics[:, 0], x_end[:, 0], waves[..., 0] = m[:, 0], xe[:, 0], w[..., 0]


def run_batch(P, X0, kind, diode, n_steps, min_beats, max_beats, tol, e_window, metrics, x_end, waves, accel, n_groups) -> None:
    """Integrate every patient (column of ``P``/``X0``) to a periodic steady state.

    P: (n_kernel_params, n_pad) parameters, n_pad 1 or a multiple of ``engine.LANES``; X0: (14, n_pad) initial states;
    e_window: (2, n_pad) step positions (fractional) of ventricular and atrial onset, bounding the
    early-filling window; metrics: (N_METRIC, n_pad) out; x_end: (14, n_pad) out (state at the end
    of the last beat = start of the steady cycle, for warm starts); waves: (N_WAVE, n_steps, n_pad)
    out, or (N_WAVE, 0, n_pad) to skip waveforms; accel: Anderson acceleration of the
    beat-to-beat map (see :data:`engine.ACCEL_MEMORY`; False = plain beat iteration); n_groups:
    groups of patients run in parallel (each refills its lanes from its own patients).

    One patient (n_pad = 1) runs on the one-lane kernel, called directly (no thread pool); a
    batch (n_pad a multiple of ``engine.LANES``) on the ``engine.LANES``-lane kernel in parallel groups.  Exception, so
    that a process compiles at most one kernel per valve law (a first ``mitrasim demo`` runs a
    batch, then single patients): a single patient whose one-lane kernel is neither compiled nor
    cached runs in lane 0 of the batch kernel when this process has just compiled that one (the
    same numbers to 1e-12: ``tests/test_engine_kernels.py``).  Only then: a padded patient costs
    about 6× the one-lane kernel's time per beat (benchmarks/RESULTS.md), so a later process
    compiles the one-lane kernel once rather than pay that on every call.
    """
    args = (P, X0, kind, n_steps, min_beats, max_beats, tol, e_window, metrics, x_end, waves, accel)
    if P.shape[1] == 1:
        one, lanes = (engine._run_group_1_diode, engine._run_group_lanes_diode) if diode else (engine._run_group_1_orifice, engine._run_group_lanes_orifice)
        if lanes.overloads and not _cached(one):  # the batch kernel was compiled by this process
            _in_lanes(lanes, args)
        else:
            _call(one, *args, 0, 1)
        return
    if P.shape[1] % engine.LANES:
        raise ValueError(f"batch of {P.shape[1]} columns: a multiple of {engine.LANES} (or 1)")
    _call(engine._run_batch_diode if diode else engine._run_batch_orifice, *args, n_groups)
