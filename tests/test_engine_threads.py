"""The engine from several Python threads of one process (a batch's work lists on the engine's pool,
a trial's chunks on two threads, :mod:`mitrasim.cohort.trial`): a batch on one thread runs the group
kernels from its own thread and gives the numbers of the same batch on several threads bit for bit;
the kernels release the GIL; two threads running batches at once each get their own batch's numbers;
an error in a pool thread reaches the caller; a kernel two threads reach uncompiled is compiled and
timed once."""

from __future__ import annotations

import os
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
    """The batch on two engine threads (its second work list on the pool), and a second batch."""
    assert len(np.unique(_batch(2).n_steps)) == 3
    return _batch(2), _batch(2, shift=0.05)


def test_one_thread_runs_the_group_kernel_from_the_calling_thread_with_the_pools_numbers(on_the_pool, monkeypatch):
    """threads=1: the group kernel once per segment, all on the calling thread; every metric and end
    state equal bit for bit to the batch on two threads (the trials' results do not depend on how
    their chunks are run)."""
    calls: list[str] = []
    inner = D._call
    main = threading.get_ident()
    monkeypatch.setattr(D, "_call", lambda kernel, *a: (calls.append((kernel.__name__, threading.get_ident() == main)), inner(kernel, *a)))
    _same(_batch(1), on_the_pool[0])
    assert calls == [(f"_run_group_{E.LANES}_orifice", True)] * 3


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
    interval is set far beyond the call, and the group kernel is called directly (no Python of the
    dispatch around it, whose numpy calls may release the GIL themselves), so a kernel that held the
    GIL would let the other thread run no bytecode at all between the two reads of its counter,
    however many calls (checked: with ``nogil=False`` the counter never moves).  The call is
    repeated until the counter moves, at most 50 times: a call lasts a few milliseconds, and on a
    loaded machine the other thread may not be woken within one (the caller then takes the free GIL
    back first)."""
    inputs = _kernel_inputs()
    expected = _run(inputs, 2)
    P, X0, ew, steps, n_pad = inputs
    metrics, x_end, waves = np.zeros((E.N_METRIC, n_pad)), np.zeros((14, n_pad)), np.zeros((E.N_WAVE, 0, n_pad))
    kernel = E._run_group_lanes_orifice
    args = (P, X0, 0, steps, 2, 300, 1e-2, ew, metrics, x_end, waves, True, 0, n_pad)
    D._call(kernel, *args)  # compiled or loaded from the cache first: file I/O releases the GIL too
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
        for _ in range(50):
            kernel(*args)
            if count[0] > before:
                break
        during = count[0] - before
    finally:
        stop.set()
        sys.setswitchinterval(old)
        other.join(60)
    for a, b in zip((metrics, x_end), expected):
        np.testing.assert_array_equal(a[:, :N], b[:, :N])
    assert during > 0


def test_two_threads_running_batches_at_once_each_get_their_own_numbers(on_the_pool):
    """Two threads start their batches together (a barrier), each on one engine thread, twice over;
    each gets exactly its own batch's numbers."""
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


@pytest.mark.parametrize("threads", [2, 3, 7])
def test_a_batch_on_several_threads_equals_one_thread_and_uses_the_pool(threads, monkeypatch):
    """The same batch on 1 and on n engine threads (n work lists, all but the first on the pool's
    threads): every metric and end state bit for bit; with n > 1 some items ran off the calling thread."""
    inputs = _kernel_inputs()
    ref = _run(inputs, 1)
    off_main: list[bool] = []
    inner, main = D._run_items, threading.get_ident()
    monkeypatch.setattr(D, "_run_items", lambda *a: (off_main.append(threading.get_ident() != main), inner(*a)))
    got = _run(inputs, threads)
    for a, b in zip(got, ref):
        np.testing.assert_array_equal(a, b)
    assert len(off_main) == min(threads, len(D.plan_work(D.Segments.one(inputs[3], inputs[4], N), threads)[1]) - 1)
    assert off_main.count(False) == 1 and any(off_main)


def test_an_error_in_a_pool_thread_reaches_the_caller_after_every_list_ended(monkeypatch):
    """A work list that fails on the pool raises its error in the calling thread, and only once the
    calling thread's own list (and every other) has ended."""
    inputs = _kernel_inputs()
    main, ended = threading.get_ident(), []
    inner = D._run_items

    def items(groups, its, args):
        if threading.get_ident() != main:
            raise RuntimeError("list failed")
        time.sleep(0.2)  # the failure happens while this thread still works
        inner(groups, its, args)
        ended.append(True)

    monkeypatch.setattr(D, "_run_items", items)
    with pytest.raises(RuntimeError, match="list failed"):
        _run(inputs, 2)
    assert ended == [True]


class _Slow:
    """Stands in for an uncompiled kernel whose compilation takes one second of a fake clock."""

    __name__ = "slow"
    overloads: dict = {}

    def __init__(self):
        self.compiled = 0
        self.calls = 0

    def typeof_pyval(self, value):
        return None

    def compile(self, sig):
        self.compiled += 1
        time.sleep(0.3)  # the other thread reaches the kernel meanwhile

    def __call__(self, *args):
        self.calls += 1


def test_a_kernel_two_threads_reach_uncompiled_is_compiled_and_counted_once(monkeypatch):
    clock = [0.0]

    def compile_(kernel, args):
        kernel.compile(None)
        clock[0] += 1.0

    monkeypatch.setattr(D, "_compile", compile_)
    monkeypatch.setattr(D, "_cached", lambda kernel: D._known.get(kernel, False))
    monkeypatch.setattr(D.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(D, "compile_notice", None)
    monkeypatch.setattr(D, "compile_seconds", 0.0)
    k = _Slow()
    barrier = threading.Barrier(2, timeout=60)
    threads = [threading.Thread(target=lambda: (barrier.wait(), D._call(k, 1))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert (k.compiled, k.calls, D.compile_seconds) == (1, 2, 1.0)


def test_the_process_engine_threads_decide_simulate_and_trial_alike(monkeypatch):
    """One setting (``engine.default_threads``: MITRASIM_THREADS, else every core) decides the engine
    threads of a process: a ``simulate()`` batch asked for 0 threads runs on that many work lists, one
    asked for more on no more than that, a trial computes that many chunks at once, and a batch never
    gets more threads than it has blocks of LANES; numba's thread count plays no part."""
    import numba

    from mitrasim.cohort import trial as T

    seen: list[int] = []
    inner = D.run_batch
    monkeypatch.setattr(D, "run_batch", lambda *a, **kw: (seen.append(kw["threads"]), inner(*a, **kw)))
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 1)
    hr = np.linspace(60.0, 90.0, 4 * E.LANES)
    for env, asked, expect in (("2", 0, 2), ("1", 0, 1), ("1", 3, 1), ("3", 2, 2), ("3", 0, 3)):
        monkeypatch.setenv("MITRASIM_THREADS", env)
        seen.clear()
        S.simulate("regazzoni2022", hr_bpm=hr, settings=S.SolverSettings(max_beats=2, threads=asked))
        assert seen == [expect]
        assert T._default_chunk_threads() == E.default_threads() == int(env)
    monkeypatch.setenv("MITRASIM_THREADS", "8")
    assert D.batch_threads(0, 3 * E.LANES) == 3 and D.batch_threads(0, E.LANES - 1) == 1


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", "two"])
def test_a_bad_thread_setting_is_an_input_error_naming_it(monkeypatch, raw):
    """``MITRASIM_THREADS`` set to anything but a whole number ≥ 0 is an input error that names the
    variable and the value, never a traceback and never a quiet fallback to every core."""
    from mitrasim.errors import InputError

    monkeypatch.setenv("MITRASIM_THREADS", raw)
    with pytest.raises(InputError) as e:
        E.default_threads()
    assert e.value.field == "MITRASIM_THREADS" and raw in str(e.value)


def test_an_empty_or_zero_thread_setting_means_every_core(monkeypatch):
    for raw in ("", " ", "0"):
        monkeypatch.setenv("MITRASIM_THREADS", raw)
        assert E.default_threads() == (os.cpu_count() or 1)


def test_the_command_line_refuses_a_bad_thread_setting_before_writing(monkeypatch, tmp_path):
    """A trial started with a bad ``MITRASIM_THREADS`` ends with exit 2 and one ``error:`` line naming
    the variable, and leaves no trial folder behind (the setting is checked before any command runs)."""
    import contextlib
    import io

    from pathlib import Path

    from mitrasim.cli import main

    monkeypatch.setenv("MITRASIM_THREADS", "lots")
    out = tmp_path / "trial"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as e:
        main(["trial", str(Path(__file__).parents[1] / "examples" / "trials" / "coapt_stop_rules.yaml"), "--out", str(out)])
    assert e.value.code == 2
    assert err.getvalue().strip().splitlines()[-1].startswith("error: MITRASIM_THREADS") and "lots" in err.getvalue()
    assert not out.exists()
