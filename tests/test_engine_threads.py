"""The engine from several Python threads of one process (a trial's chunks on two threads,
:mod:`mitrasim.cohort.trial`): a batch on one thread runs the group kernel from its own thread
(numba's thread pool never entered) and gives the parallel batch kernel's numbers bit for bit; the
kernels release the GIL; two threads running batches at once each get their own batch's numbers."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

from mitrasim.physiology import dispatch as D
from mitrasim.physiology import engine as E
from mitrasim.physiology import simulation as S
from mitrasim.physiology.parameter_sets import get_parameter_set

PRESET = "regazzoni2022"
N = 5 * E.LANES + 3  # padded blocks, and three heart rates: three segments of step counts


def _batch(threads: int, shift: float = 0.0) -> S.SimulationResult:
    """A batch of N patients at three heart rates (so three step counts), EROA spread; ``shift``
    moves the EROAs (a second, different batch)."""
    hr = np.array([62.0, 75.0, 91.0])[np.arange(N) % 3]
    eroa = np.linspace(0.1, 0.5, N) + shift
    return S.simulate(PRESET, eroa_cm2=eroa, hr_bpm=hr, settings=S.SolverSettings(dt_max_s=4e-3, tol=1e-2, threads=threads))


def _same(a: S.SimulationResult, b: S.SimulationResult) -> None:
    for k in E.METRIC_NAMES:
        np.testing.assert_array_equal(a.metrics[k], b.metrics[k], err_msg=k)
    np.testing.assert_array_equal(a.final_state, b.final_state)


@pytest.fixture(scope="module")
def on_the_pool():
    """The batch on the parallel batch kernel (two numba threads), and a second batch."""
    assert len(np.unique(_batch(2).n_steps)) == 3
    return _batch(2), _batch(2, shift=0.05)


def test_one_thread_runs_the_group_kernel_from_the_calling_thread_with_the_pools_numbers(on_the_pool, monkeypatch):
    """threads=1: the group kernel once per segment, never the parallel batch kernel; every metric
    and end state equal bit for bit to the parallel kernel's (the trials' results do not depend on
    how their chunks are run)."""
    calls: list[str] = []
    inner = D._call
    monkeypatch.setattr(D, "_call", lambda kernel, *a: (calls.append(kernel.__name__), inner(kernel, *a)))
    _same(_batch(1), on_the_pool[0])
    assert calls == [f"_run_group_{E.LANES}_orifice"] * 3


def _kernel_inputs():
    """One segment of N patients padded to whole blocks, as :func:`simulation.simulate` prepares it."""
    pset = get_parameter_set(PRESET)
    cols, _ = S.build_batch(pset, None, eroa_cm2=np.linspace(0.1, 0.5, N), hr_bpm=np.full(N, 70.0))
    steps = int(S.steps_per_beat(60.0 / cols["hr_bpm"][:1], 4e-3)[0])
    n_pad = -(-N // E.LANES) * E.LANES
    P, ew = S._kernel_arrays(cols, pset.model, N, n_pad, steps)
    return P, S._initial_states(pset, cols, N, n_pad, None), ew, steps, n_pad


def _run(inputs, threads: int) -> tuple[np.ndarray, np.ndarray]:
    P, X0, ew, steps, n_pad = inputs
    metrics, x_end = np.zeros((E.N_METRIC, n_pad)), np.zeros((14, n_pad))
    D.run_batch(P, X0, 0, False, steps, 2, 300, 1e-2, ew, metrics, x_end, np.zeros((E.N_WAVE, 0, n_pad)), True, threads,
                n_patients=N, threads=threads)
    return metrics, x_end


def test_a_kernel_call_releases_the_gil():
    """While one thread is in the kernel, another thread runs Python.  The interpreter's switch
    interval is set far beyond the call, so a kernel that held the GIL would let the other thread
    run no bytecode at all between the two reads of its counter (nothing else between them waits)."""
    inputs = _kernel_inputs()
    expected = _run(inputs, 2)
    count = [0]
    started, stop = threading.Event(), threading.Event()

    def spin() -> None:
        while not stop.is_set():
            count[0] += 1
            started.set()
            time.sleep(0)  # releases the GIL: the kernel's thread takes it back at once after its call

    other = threading.Thread(target=spin)
    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        other.start()
        assert started.wait(60)
        before = count[0]
        got = _run(inputs, 1)
        during = count[0] - before
    finally:
        stop.set()
        sys.setswitchinterval(old)
        other.join(60)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a[:, :N], b[:, :N])
    assert during > 0


def test_two_threads_running_batches_at_once_each_get_their_own_numbers(on_the_pool):
    """Two threads start their batches together (a barrier), each on one engine thread, twice over;
    each gets exactly its own batch's numbers from the parallel kernel."""
    expected = {0: on_the_pool[0], 1: on_the_pool[1]}
    got: dict[tuple[int, int], S.SimulationResult] = {}
    barrier = threading.Barrier(2, timeout=120)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for rep in range(2):
                barrier.wait()
                got[(k, rep)] = _batch(1, shift=0.05 * k)
        except BaseException as e:  # noqa: BLE001  (reported by the main thread)
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not errors, errors
    for (k, _), res in got.items():
        _same(res, expected[k])
    assert len(got) == 4


def test_numbas_thread_count_is_kept_per_thread():
    """numba keeps ``set_num_threads`` per calling thread: a chunk thread that sets its count (the
    last chunk of a threaded trial runs its engine on every core) leaves the others' unchanged."""
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:  # type: ignore[attr-defined]
        pytest.skip("numba has one thread here")
    main = numba.get_num_threads()
    seen = []

    def other() -> None:
        numba.set_num_threads(1)
        seen.append(numba.get_num_threads())

    t = threading.Thread(target=other)
    t.start()
    t.join(60)
    assert seen == [1] and numba.get_num_threads() == main
