"""Which compiled kernel runs a batch, and the one line said before the first compilation.

Plain Python, apart from the engine's compiled kernels (:mod:`mitrasim.physiology.engine`),
so that changing the choice of kernel does not invalidate their cache (numba's cache is
stamped with the hash of the kernel module's source).

Kernels: one per lane count (1 for a single patient, ``engine.LANES`` for batches and
each of ``engine.REMAINDER_LANES`` for the last block of a step-count segment with few patients left) and
mitral law (orifice, diode), each compiled on its first use (:func:`_compile`) and then loaded from
the cache (without numba's refresh of its whole compiler: :func:`_load_without_refresh`).  A command compiles only
the kernels it runs: a batch calls the group kernels from Python, once per work item of
:func:`plan_work`, on this thread or, on several engine threads, on the threads of one module-level
pool (:func:`_executor`; the kernels release the GIL), so each group kernel is compiled when a batch
first needs one of its blocks — no parallel kernel, no numba thread pool.  No one-lane kernel is
compiled beside a group kernel: a single patient runs in a lane of a group kernel in a process that has just compiled one,
and in a command about one case (:func:`one_case_kernels`)
a small batch runs on the one-lane kernel while the group kernel is neither compiled nor cached — so
a first ``mitrasim demo`` (a planner batch of about 550 patients, small batches and single patients)
compiles the one-lane kernel only, the cheapest to compile (:data:`COMPILE_S_ESTIMATE_ONE_LANE`).
A batch asked for float32 (``SolverSettings.precision``) runs the float32 twins of these kernels, on blocks
of ``engine.LANES32`` (remainders ``engine.REMAINDER_LANES32``: :data:`BLOCKS`); none of them is compiled
unless a batch asks for float32.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np

from mitrasim.physiology import engine
from mitrasim.threads import CPU_COUNT

__all__ = ["run_batch", "batch_threads", "Segments", "padded_width", "plan_work", "compile_notice", "COMPILE_S_ESTIMATE",
           "COMPILE_S_ESTIMATE_ONE_LANE", "SERIAL_BATCH_MAX", "one_case_kernels"]

#: Seconds to compile the group kernels of a valve law that a batch compiles as it needs them (the
#: ``engine.LANES``-lane kernel and both remainder kernels, about 9-10 CPU-s each) on the development
#: machine, for the notice below (CPU seconds of numba's compile events: benchmarks/RESULTS.md,
#: "Remainder blocks of 8 and 4 lanes", 27.9 CPU-s at load 2-7).
COMPILE_S_ESTIMATE = (25, 35)
#: The same for the one-lane kernel (one patient, or a small batch on a fresh install: the first
#: ``mitrasim demo`` compiles this one only).
COMPILE_S_ESTIMATE_ONE_LANE = (12, 18)


def _print_notice(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


#: Told once per process, in one line, when a kernel is about to be compiled rather than loaded
#: from the cache (a fresh install, or new engine code): a callable taking the line; by default it
#: is printed to stderr (so ``--json`` output stays clean).  Set to None for silence.
compile_notice: Callable[[str], None] | None = _print_notice
_notice_given = False
_notice_lock = threading.Lock()
#: Held while a kernel is compiled by :func:`_call`: a thread that reaches a kernel another thread is
#: compiling waits here, then finds it compiled (and neither compiles nor counts it again).
_compile_lock = threading.Lock()
#: Seconds spent compiling kernels in this process (0 when all came from the cache), each kernel's
#: compilation counted once whichever threads waited for it.
compile_seconds = 0.0


_known: dict = {}  # kernel -> compiled or cached (each kernel's cache index is read once per process)


def _cached(kernel) -> bool:
    """Whether ``kernel`` is compiled in this process or fresh in numba's cache (the index's
    source stamp matches).  Reads numba's cache index (``Dispatcher._cache``, an internal:
    should it change, every kernel counts as not cached and the notice is given once).
    A cached kernel is then loaded by :func:`_load_without_refresh`."""
    if kernel not in _known:
        try:
            _known[kernel] = bool(kernel.overloads) or bool(kernel._cache._cache_file._load_index())
            if _known[kernel] and not kernel.overloads:
                _load_without_refresh(kernel)
        except AttributeError:
            return False
    return _known[kernel]


def _load_without_refresh(kernel) -> None:
    """Load ``kernel``'s cached machine code without numba's refresh of the whole target context.

    Numba's ``Cache.load_overload`` first refreshes the CPU target: it imports and installs every
    typing and lowering registry (through ``numba.np.arraymath`` also ``scipy.linalg``), about
    0.5 s CPU that a warm ``mitrasim simulate`` would otherwise spend on code it never compiles
    (benchmarks/RESULTS.md, "One patient, warm start and first run").  Machine code loaded from
    the cache needs only numba's runtime (NRT) symbols, which are installed here.  Should the cache
    miss after all (another signature), numba compiles as usual, and its compiler refreshes the
    context itself.  Uses numba internals (``Cache._load_overload``, ``rtsys``): without them the
    ordinary load runs."""
    cache = getattr(kernel, "_cache", None)
    if cache is None:
        return
    load = getattr(cache, "_load_overload", None)
    guard = getattr(cache, "_guard_against_spurious_io_errors", None)
    if load is None or guard is None:
        return
    from numba.core.runtime import rtsys

    def load_overload(sig, target_context):
        rtsys.initialize(target_context)
        with guard():
            return load(sig, target_context)
        return None  # the guard swallowed an I/O error: numba compiles

    cache.load_overload = load_overload


#: LLVM's loop vectoriser leaves a loop whose constant trip count is below this option scalar when it
#: needs run-time checks (LLVM's default, :data:`LLVM_MIN_TRIP_COUNT`, is 16): the engine's kernels
#: are compiled with it lowered to the smallest of ``engine.REMAINDER_LANES``, so that the remainder
#: kernels' lane loops vectorise like those of the ``engine.LANES``-lane kernel (and give its numbers
#: bit for bit: ``tests/test_remainder_lanes.py``).  The one-lane and ``engine.LANES``-lane kernels'
#: results are bit-identical with and without it (checked on 200 patients).
VECTORIZER_MIN_TRIP_COUNT = min(engine.REMAINDER_LANES)
#: LLVM's own ``-vectorizer-min-trip-count`` (``TinyTripCountVectorThreshold`` in LoopVectorize.cpp),
#: put back after each compilation of the engine so that other numba code of the process is compiled as usual.
LLVM_MIN_TRIP_COUNT = 16


@contextlib.contextmanager
def _short_loops_vectorised() -> Iterator[None]:
    """Within the block, under numba's compiler lock (no other thread compiles meanwhile), LLVM
    vectorises loops down to :data:`VECTORIZER_MIN_TRIP_COUNT` iterations (a process-wide LLVM option)."""
    import llvmlite.binding as llvm
    from numba.core.compiler_lock import global_compiler_lock

    with global_compiler_lock:
        llvm.set_option("", f"-vectorizer-min-trip-count={VECTORIZER_MIN_TRIP_COUNT}")
        try:
            yield
        finally:
            llvm.set_option("", f"-vectorizer-min-trip-count={LLVM_MIN_TRIP_COUNT}")


def _compile(kernel, args) -> None:
    """Compile ``kernel`` for the types of ``args`` with the engine's LLVM option
    (:func:`_short_loops_vectorised`; a kernel compiled by a plain first call would lack it)."""
    with _short_loops_vectorised():
        kernel.compile(tuple(kernel.typeof_pyval(a) for a in args))


def _call(kernel, *args) -> None:
    """Call a kernel; its first compilation in the process (:func:`_compile`) is announced and timed,
    once, whichever of several threads reach it together (:data:`_compile_lock`)."""
    global compile_seconds
    if not _cached(kernel):
        with _compile_lock:
            if not _known.get(kernel):  # not compiled meanwhile by the thread this one waited for
                _announce(kernel)
                t = time.perf_counter()
                _compile(kernel, args)
                compile_seconds += time.perf_counter() - t
                _known[kernel] = True
    kernel(*args)


def _announce(kernel) -> None:
    """The one line before the process's first compilation (:data:`compile_notice`), with the estimate for ``kernel``."""
    global _notice_given
    with _notice_lock:
        if compile_notice is None or _notice_given:
            return
        from mitrasim.physiology._numba_cache import cache_dir

        one_lane = {_kernels(d, p)[0] for d in (False, True) for p in engine.PRECISIONS}
        lo, hi = COMPILE_S_ESTIMATE_ONE_LANE if kernel in one_lane else COMPILE_S_ESTIMATE
        compile_notice(f"mitrasim: compiling the engine once for this installation (about {lo}-{hi} s; "
                       f"later runs load it from {cache_dir()})")
        _notice_given = True


def _in_lanes(kernel, lanes: int, args) -> None:
    """One patient in lane 0 of a ``lanes``-lane group kernel (the other lanes repeat it), results copied back."""
    P, X0, kind, n_steps, min_beats, max_beats, tol, e_window, metrics, x_end, waves, accel = args
    pad = lambda a: np.ascontiguousarray(np.repeat(a, lanes, axis=-1))  # noqa: E731
    m, xe, w = pad(metrics), pad(x_end), pad(waves)
    kernel(pad(P), pad(X0), kind, n_steps, min_beats, max_beats, tol, pad(e_window), m, xe, w, accel, 0, lanes)
    metrics[:, 0], x_end[:, 0], waves[..., 0] = m[:, 0], xe[:, 0], w[..., 0]


#: Largest batch that runs patient after patient on the one-lane kernel while the ``engine.LANES``-lane
#: group kernel of its valve law is neither compiled in this process nor cached (a fresh install); 0, the
#: default, never: a library call, a trial or the web server compiles the group kernels for its first
#: batch.  A command about one case raises it for its run (:func:`one_case_kernels`).
SERIAL_BATCH_MAX = 0
#: :data:`SERIAL_BATCH_MAX` within :func:`one_case_kernels`: the planner's candidates (about 550 in
#: ``mitrasim demo``) and a calibration's batches are below it.  At about 0.2 ms of CPU per patient
#: on one lane (against 0.1 ms on a group kernel; benchmarks/RESULTS.md, "One patient, warm start
#: and first run") such a batch costs a fraction of a second, where compiling the group kernels costs
#: about 10-20 CPU-s more than the one-lane kernel alone.
ONE_CASE_BATCH_MAX = 1024


@contextlib.contextmanager
def one_case_kernels(max_batch: int = ONE_CASE_BATCH_MAX) -> Iterator[None]:
    """Within the block, a batch of at most ``max_batch`` patients runs on the one-lane kernel while
    the ``engine.LANES``-lane group kernel is neither compiled nor cached: a command about one case (``mitrasim demo``)
    then compiles one kernel on a fresh install, and none on its second run."""
    global SERIAL_BATCH_MAX
    old, SERIAL_BATCH_MAX = SERIAL_BATCH_MAX, max_batch
    try:
        yield
    finally:
        SERIAL_BATCH_MAX = old


@dataclass(frozen=True)
class _Blocks:
    """A precision's block layout (``engine.BLOCK_LANES``): ``lanes`` a full block's, ``sizes`` the lane counts a
    block may have, smallest first (a segment's last block takes the first that holds its patients),
    ``last`` the last block's lanes for r = 0 … lanes − 1 patients left over (0: none; :func:`padded_width`),
    ``whole`` whether a segment's width modulo ``lanes`` is a whole number of blocks (0, or a remainder's lanes)."""

    lanes: int
    sizes: tuple[int, ...]
    last: np.ndarray
    whole: np.ndarray

    @classmethod
    def of(cls, precision: str) -> _Blocks:
        lanes, rem = engine.BLOCK_LANES[precision]
        sizes = tuple(sorted(rem)) + (lanes,)
        last = np.array([0] + [next(k for k in sizes if r <= k) for r in range(1, lanes)], dtype=np.int64)
        return cls(lanes, sizes, last, np.isin(np.arange(lanes), (0, *rem)))


#: The block layout of each precision: the float64 kernels' blocks of ``engine.LANES`` (remainders
#: ``engine.REMAINDER_LANES``), the float32 kernels' of ``engine.LANES32`` (``engine.REMAINDER_LANES32``).
BLOCKS = {p: _Blocks.of(p) for p in engine.PRECISIONS}


def padded_width(n_real, precision: str = "float64"):
    """Columns of a step-count segment of ``n_real`` patients (an int, or an array of them): whole
    blocks of ``engine.LANES`` (float32: ``engine.LANES32``), and for the r patients left over one more
    block, of the fewest lanes of the remainder kernels' and a whole block's that holds r
    (``engine.BLOCK_LANES``).  The rest of the segment is padding (computed like a patient, and thrown away)."""
    b = BLOCKS[precision]
    r = np.asarray(n_real) % b.lanes
    width = n_real - r + b.last[r]
    return width if isinstance(n_real, np.ndarray) else int(width)


@dataclass(frozen=True)
class Segments:
    """The columns of a padded batch grouped by RK4 step count: segment k is columns
    ``start[k] … start[k + 1] − 1`` at ``n_steps[k]`` steps per beat; its first ``n_real[k]``
    columns are patients, the rest padding (copies of its first).  A segment is blocks of
    ``engine.LANES`` columns, the last one of ``width % engine.LANES`` (one of ``engine.REMAINDER_LANES``)
    where its width is not a multiple of ``engine.LANES`` (:func:`padded_width`)."""

    start: np.ndarray  # (k + 1,) int64
    n_real: np.ndarray  # (k,) int64
    n_steps: np.ndarray  # (k,) int64

    @classmethod
    def one(cls, n_steps: int, n_pad: int, n_real: int) -> Segments:
        """Every column at ``n_steps`` steps per beat, the first ``n_real`` real."""
        return cls(np.array([0, n_pad], dtype=np.int64), np.array([n_real], dtype=np.int64), np.array([n_steps], dtype=np.int64))


def plan_work(seg: Segments, n_lists: int, precision: str = "float64") -> tuple[np.ndarray, np.ndarray]:
    """Work items and thread lists of a batch (:func:`run_batch`).

    The batch's blocks (of ``engine.LANES`` columns, a segment's last one of fewer where its width
    says so: :class:`Segments`), in column order, each weighing its lanes × its
    segment's steps per beat (the cost of a block's beat), are cut into ``n_lists`` runs of about
    equal weight (within one block); a run is split where a segment starts and around a remainder
    block (an item runs on one group kernel).  Returns ``work`` (items × 4: first column, end column,
    steps per beat, lanes) and ``lists`` (n_lists + 1,): list t is items ``lists[t] … lists[t + 1] − 1``,
    run one after another by one thread (:func:`_run_items`).  ``precision``: whose blocks (float32:
    ``engine.LANES32``, :data:`BLOCKS`).
    """
    L = BLOCKS[precision].lanes
    width = np.diff(seg.start)
    n_full, rem = width // L, width % L  # rem: 0 or one of REMAINDER_LANES (checked by run_batch)
    n_blk = n_full + (rem > 0)
    seg_first = np.concatenate(([0], np.cumsum(n_blk)))  # first block of each segment (and the end)
    n_blocks = int(seg_first[-1])
    k = np.repeat(np.arange(len(width)), n_blk)  # each block's segment
    in_seg = np.arange(n_blocks) - seg_first[k]
    lanes = np.where(in_seg < n_full[k], L, rem[k])
    b_start = seg.start[k] + in_seg * L
    n_lists = max(1, min(n_lists, n_blocks))
    cum = np.zeros(n_blocks + 1)
    np.cumsum(lanes * seg.n_steps[k].astype(float), out=cum[1:])
    target = cum[-1] * np.arange(1, n_lists) / n_lists
    hi = np.searchsorted(cum, target)  # first block boundary at or past each target; the nearer of it and the one before
    cuts = np.concatenate(([0], hi - (target - cum[hi - 1] < cum[hi] - target), [n_blocks]))
    bounds = np.unique(np.concatenate((seg_first, (seg_first[:-1] + n_full)[rem > 0], cuts)))
    a, b = bounds[:-1], bounds[1:]
    work = np.column_stack((b_start[a], b_start[b - 1] + lanes[b - 1], seg.n_steps[k[a]], lanes[a])).astype(np.int64)
    return work, np.searchsorted(a, cuts).astype(np.int64)


def batch_threads(requested: int, n_columns: int, precision: str = "float64") -> int:
    """Engine threads of a batch of ``n_columns`` columns asked for ``requested`` (``SolverSettings.threads``;
    0: :func:`engine.default_threads`): never more than the process's engine threads
    (:func:`engine.default_threads`, the one place that decides them: 1 in a web worker process) nor
    than the batch's blocks of ``engine.LANES`` (a thread without a block would only wait)."""
    most = engine.default_threads()
    return max(1, min(requested or most, most, n_columns // BLOCKS[precision].lanes))


def run_batch(P, X0, kind, diode, n_steps, min_beats, max_beats, tol, e_window, metrics, x_end, waves, accel, n_groups,
              *, n_patients: int | None = None, threads: int = 0, precision: str = "float64") -> None:
    """Integrate every patient (column of ``P``/``X0``) to a periodic steady state.

    P: (n_kernel_params, n_pad) parameters, n_pad 1 or whole blocks (:class:`Segments`); X0: (14, n_pad) initial states;
    n_steps: RK4 steps per beat of every column (int), or :class:`Segments` for a batch of several
    step counts; e_window: (2, n_pad) step positions (fractional) of ventricular and atrial onset,
    bounding the early-filling window (each column's own, at its own step count); metrics:
    (N_METRIC, n_pad) out; x_end: (14, n_pad) out (state at the end of the last beat = start of the
    steady cycle, for warm starts); waves: (N_WAVE, max n_steps, n_pad) out (a column's rows up to its
    own n_steps written), or (N_WAVE, 0, n_pad) to skip waveforms; accel: Anderson acceleration of the
    beat-to-beat map (see :data:`engine.ACCEL_MEMORY`; False = plain beat iteration); n_groups:
    work lists run at once (one per engine thread; :func:`plan_work`); n_patients: with an int
    ``n_steps``, the real patients, columns ``0 … n_patients − 1`` (the rest is padding; default all);
    threads: engine threads, 1 = this thread only, otherwise ``n_groups`` lists at once (0: as 2+);
    precision: the kernels' float type (``engine.PRECISIONS``; float32 runs the float32 twin of every kernel
    below, on the same blocks, so a batch's float32 numbers equal one patient's float32 numbers bit for bit).

    Which kernel (each compiled on first use, then loaded from the cache; the same numbers to
    1e-12 on every one: ``tests/test_engine_kernels.py``, ``tests/test_one_patient_start.py``):

    * one patient (n_pad = 1): the one-lane kernel.  Exception, so that a process compiles at most
      one kernel kind per valve law: when this process has just compiled a group kernel and the
      one-lane kernel is neither compiled nor cached, the patient runs in lane 0 of that group kernel
      (about 6× the one-lane kernel's time per beat, so a later process compiles the one-lane kernel
      once rather than pay that on every call);
    * a batch of at most :data:`SERIAL_BATCH_MAX` patients (0 unless :func:`one_case_kernels`) while
      the ``engine.LANES``-lane group kernel is neither compiled nor cached: patient after patient on
      the one-lane kernel (a first ``mitrasim demo`` compiles that kernel only), padding skipped;
    * any other batch: its work items (:func:`plan_work`: the ``engine.LANES``-lane group kernel on
      runs of whole blocks, a remainder kernel of ``engine.REMAINDER_LANES`` on a segment's last
      block, compiled only when a batch has one), in ``n_groups`` lists (1 on ``threads`` = 1): list 0
      on this thread, the others at once on the engine's pool (:func:`_executor`).  The kernels
      release the GIL (``engine._jit``), so several Python threads (a trial's chunks) may each run
      their own batch at once; an item writes only its own columns, so the numbers do not depend on
      the lists (``tests/test_engine_threads.py``).  An error in any list is raised here, after
      every list has ended.
    """
    one, groups = _kernels(diode, precision)
    blocks = BLOCKS[precision]
    if P.shape[1] == 1:
        args = (P, X0, kind, int(n_steps), min_beats, max_beats, tol, e_window, metrics, x_end, waves, accel)
        compiled = [k for k in blocks.sizes if groups[k].overloads]  # group kernels compiled by this process
        if compiled and not _cached(one):
            _in_lanes(groups[compiled[0]], compiled[0], args)
        else:
            _call(one, *args, 0, 1)
        return
    seg = n_steps if isinstance(n_steps, Segments) else Segments.one(int(n_steps), P.shape[1], P.shape[1] if n_patients is None else n_patients)
    if P.shape[1] != seg.start[-1] or not blocks.whole[np.diff(seg.start) % blocks.lanes].all():
        raise ValueError(f"batch of {P.shape[1]} columns in segments of {np.diff(seg.start).tolist()}: "
                         f"each a multiple of {blocks.lanes} plus 0 or one of {blocks.sizes[:-1][::-1]} (or 1 column in all)")
    if int(seg.n_real.sum()) <= SERIAL_BATCH_MAX and not _cached(groups[blocks.lanes]):
        for k in range(len(seg.n_steps)):
            c0 = int(seg.start[k])
            _call(one, P, X0, kind, int(seg.n_steps[k]), min_beats, max_beats, tol, e_window, metrics, x_end, waves, accel, c0, c0 + int(seg.n_real[k]))
        return
    work, lists = plan_work(seg, 1 if threads == 1 else n_groups, precision)
    items = [work[lists[t]:lists[t + 1]].tolist() for t in range(len(lists) - 1)]
    arrays = (P, X0, kind, min_beats, max_beats, tol, e_window, metrics, x_end, waves, accel)
    futures = [_executor().submit(_run_items, groups, its, arrays) for its in items[1:]]
    try:
        _run_items(groups, items[0], arrays)
    finally:
        wait(futures)  # every list has ended before the arrays are handed back (or an error raised)
    for f in futures:
        f.result()  # the first error of the pool's lists, raised in this thread


def _run_items(groups: dict, items: list[list[int]], args: tuple) -> None:
    """Work items (first column, end column, steps per beat, lanes) one after another, each on the group kernel of its lanes."""
    P, X0, kind, min_beats, max_beats, tol, e_window, metrics, x_end, waves, accel = args
    for c0, c1, steps, n_lanes in items:
        _call(groups[n_lanes], P, X0, kind, steps, min_beats, max_beats, tol, e_window, metrics, x_end, waves, accel, c0, c1)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """The engine's thread pool, made on the first batch on several threads and kept for the process:
    as many threads as the machine has cores (``mitrasim.threads.CPU_COUNT``; a batch's first list runs on
    its caller, so a batch on n threads uses n − 1 of them; lists beyond the pool's size wait for a thread)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=CPU_COUNT, thread_name_prefix="mitrasim-engine")
        return _pool


def _kernels(diode: bool, precision: str = "float64"):
    """The one-lane kernel and the group kernels by lane count (``engine.LANES`` and each of
    ``engine.REMAINDER_LANES``) of a valve law in a precision (``engine.PRECISIONS``)."""
    if precision not in engine.PRECISIONS:
        raise ValueError(f"precision {precision!r}: one of {engine.PRECISIONS}")
    law = ("diode" if diode else "orifice") + ("" if precision == "float64" else engine._F32_SUFFIX)
    lanes, rem = engine.BLOCK_LANES[precision]
    groups = {lanes: getattr(engine, f"_run_group_lanes_{law}"), **{k: getattr(engine, f"_run_group_rem{k}_{law}") for k in rem}}
    return getattr(engine, f"_run_group_1_{law}"), groups
