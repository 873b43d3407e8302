"""The remainder blocks (issue 19, goal 4): a step-count segment's last block of r patients runs on
the group kernel of the fewest lanes that holds r (``engine.REMAINDER_LANES``: 8 or 4) instead of a
block of ``engine.LANES`` lanes mostly computing padding.  A patient's numbers must not depend on
which kernel ran it (bit for bit against the ``engine.LANES``-lane kernel, 1e-12 against its run
alone: ``tests/test_mixed_batch.py`` runs segments of 1, 2, 3, 17 and 20 patients, each with a
remainder block), the padding must be what :func:`dispatch.padded_width` says, and the remainder
kernels' lane loops must be vectorised (LLVM leaves loops of fewer than 16 iterations scalar unless
told: ``dispatch.VECTORIZER_MIN_TRIP_COUNT``)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import njit

from mitrasim.physiology import dispatch as D
from mitrasim.physiology import engine as E
from mitrasim.physiology import simulation as S
from mitrasim.physiology.parameter_sets import get_parameter_set

ROOT = Path(__file__).resolve().parents[1]
L = E.LANES
R8, R4 = E.REMAINDER_LANES


def test_padded_width_is_whole_blocks_with_a_remainder_block_for_few_patients_left():
    """n patients: whole blocks of LANES, then for the r left over 4 columns if r ≤ 4, 8 if r ≤ 8,
    else one more block of LANES; the array form equals the scalar one."""
    assert (L, R8, R4) == (16, 8, 4)
    widths = [D.padded_width(n) for n in range(1, 5 * L + 1)]
    for n, w in zip(range(1, 5 * L + 1), widths):
        r = n % L
        assert w == n if r == 0 else w == n - r + (R4 if r <= R4 else R8 if r <= R8 else L), n
        assert 0 <= w - n < L and w % R4 == 0
    assert widths[:9] == [4, 4, 4, 4, 8, 8, 8, 8, 16] and D.padded_width(17) == 20 and D.padded_width(21) == 24
    np.testing.assert_array_equal(D.padded_width(np.arange(1, 5 * L + 1)), widths)


def _segment_inputs(preset: str, n: int, waveforms: bool):
    """n patients of one step count whose beats to steady differ (EROA, LV elastance, stressed volume
    and start spread),
    as simulate() lays them out."""
    pset = get_parameter_set(preset)
    rng = np.random.default_rng(7)
    ea = pset.values["lv_ea_mmhg_ml"] * rng.uniform(0.6, 1.4, n)
    over = [{"stressed_volume_shift_ml": float(x), "lv_ea_mmhg_ml": float(e)} for x, e in zip(rng.uniform(-200.0, 200.0, n), ea)]
    eroa = rng.uniform(0.0, 0.6, n) if pset.model.mitral == "orifice" else None
    cols, _ = S.build_batch(pset, over, eroa_cm2=eroa, hr_bpm=np.full(n, 72.0))
    steps = int(S.steps_per_beat(60.0 / cols["hr_bpm"][:1], 4e-3)[0])
    P, ew = S._kernel_arrays(cols, pset.model, n, n, steps)
    X0 = S._initial_states(pset, cols, n, n, None) * rng.uniform(0.8, 1.2, (14, n))  # starts near and far from steady
    kind = 0 if pset.model.activation == "cosine" else 1
    return pset.model.mitral == "diode", (P, X0, kind, steps), ew, np.zeros((E.N_WAVE, steps if waveforms else 0, n))


@pytest.mark.parametrize("preset", ["primary_mr", "svzerod_two_hill"])
def test_the_remainder_kernels_give_the_lanes_kernels_numbers_bit_for_bit(preset):
    """The same 256 patients through the LANES-lane and each remainder group kernel (each lane
    refilled as its patient settles, so patients meet different neighbours and lanes): every
    metric, end state and waveform sample identical.  (This is what keeps a trial's table
    bit-identical to one with every block on LANES lanes.  A remainder kernel compiled without
    ``dispatch.VECTORIZER_MIN_TRIP_COUNT``, its lane loops scalar, differs in the last bit of a few
    values in a thousand.)"""
    n = 16 * L
    diode, (P, X0, kind, steps), ew, waves = _segment_inputs(preset, n, waveforms=True)
    out = {}
    for lanes in (L, R8, R4):
        metrics, x_end, w = np.zeros((E.N_METRIC, n)), np.zeros((14, n)), waves.copy()
        D._call(D._kernels(diode)[1][lanes], P, X0, kind, steps, 2, 300, 1e-3, ew, metrics, x_end, w, True, 0, n)
        out[lanes] = metrics, x_end, w
    beats = out[L][0][E.MI["beats_to_steady"]]
    assert (out[L][0][E.MI["converged"]] == 1.0).all() and beats.min() < beats.max()  # lanes refill at different beats
    for lanes in (R8, R4):
        for a, b in zip(out[L], out[lanes]):
            np.testing.assert_array_equal(a, b, err_msg=str(lanes))


@pytest.mark.parametrize("counts, widths, kernels", [
    ([20], [20], [(L, 0, 16), (R4, 16, 20)]),
    ([5, 9, 33], [8, 16, 36], [(R8, 0, 8), (L, 8, 24), (L, 24, 56), (R4, 56, 60)]),
    ([16, 8, 3], [16, 8, 4], [(L, 0, 16), (R8, 16, 24), (R4, 24, 28)]),
])
def test_a_batch_computes_the_padding_it_claims(monkeypatch, counts, widths, kernels):
    """Segments of ``counts`` patients (one heart rate each): the batch handed to the kernel has
    ``widths`` columns per segment (computed columns per call), and on one thread each block runs
    on the kernel of its lanes, a remainder block alone; every real column is a patient, each in its
    own column, and the numbers equal those of the same patients in a batch of one segment each."""
    hr = np.concatenate([np.full(c, h) for c, h in zip(counts, (95.0, 75.0, 60.0))])
    eroa = np.linspace(0.05, 0.5, len(hr))
    seen, calls = [], []
    inner, call = D.run_batch, D._call
    monkeypatch.setattr(D, "run_batch", lambda *a, **k: (seen.append((a[0].shape[1], a[4])), inner(*a, **k)))
    monkeypatch.setattr(D, "_call", lambda kernel, *a: (calls.append((int(kernel.__name__.split("_")[3]), a[-2], a[-1])), call(kernel, *a)))
    settings = S.SolverSettings(dt_max_s=4e-3, tol=1e-2, threads=1)
    res = S.simulate("primary_mr", eroa_cm2=eroa, hr_bpm=hr, settings=settings)
    (n_cols, seg), = seen
    assert n_cols == sum(widths)
    if len(counts) > 1:
        assert list(np.diff(seg.start)) == widths and list(seg.n_real) == counts
    assert calls == kernels
    for c, h in zip(counts, (95.0, 75.0, 60.0)):
        i = np.flatnonzero(hr == h)
        alone = S.simulate("primary_mr", eroa_cm2=eroa[i], hr_bpm=hr[i], settings=settings)
        for k in E.METRIC_NAMES:
            np.testing.assert_array_equal(res.metrics[k][i], alone.metrics[k], err_msg=k)


def test_plan_work_gives_the_parallel_kernel_the_same_items_as_one_thread():
    """A batch's work items name their lanes (column 3): a remainder block is an
    item of its own lanes on every number of lists."""
    seg = D.Segments(np.array([0, 24, 40, 44]), np.array([21, 16, 3]), np.array([176, 208, 256]))
    one, _ = D.plan_work(seg, 1)
    assert one.tolist() == [[0, 16, 176, L], [16, 24, 176, R8], [24, 40, 208, L], [40, 44, 256, R4]]
    for n_lists in (2, 3, 4):
        work, _ = D.plan_work(seg, n_lists)
        assert [row for row in work.tolist() if row[3] != L] == [[16, 24, 176, R8], [40, 44, 256, R4]]


def test_a_segment_not_in_whole_blocks_is_refused():
    """22 columns: a block of 16 and 6 left, which no kernel's lanes hold exactly."""
    diode, (P, X0, kind, steps), ew, waves = _segment_inputs("primary_mr", 22, waveforms=False)
    with pytest.raises(ValueError, match="each a multiple of 16 plus 0 or one of"):
        D.run_batch(P, X0, kind, diode, D.Segments.one(steps, 22, 22), 2, 5, 1e-3, ew, np.zeros((E.N_METRIC, 22)),
                    np.zeros((14, 22)), waves, True, 1, threads=1)


def _short_loop():
    @njit(fastmath={"contract"})
    def f(a, b, c):
        for i in range(R8):  # fewer iterations than 16, a body too large to unroll, arrays that may alias
            x, y, z = a[i], b[i], c[i]
            for _ in range(3):
                x = x * y + z
                y = y * z + x
                z = z * x + y
                x = x * y + z
                y = y * z + x
                z = z * x + y
                x = x * y + z
                y = y * z + x
            a[i], b[i], c[i] = x, y, z

    return f


def _vector_ops(f) -> int:
    return len(re.findall(r"= f(?:mul|add|sub) (?:contract )?<\d+ x double>", next(iter(f.inspect_llvm().values()))))


def test_short_loops_are_vectorised_only_while_the_engine_compiles():
    """A loop of 8 iterations is vectorised within ``_short_loops_vectorised`` and not before or after
    it (LLVM's option is put back: other numba code of the process compiles as usual)."""
    x = np.ones(R8)
    counts = []
    for scoped in (False, True, False):
        f = _short_loop()
        with D._short_loops_vectorised() if scoped else contextlib.nullcontext():
            f.compile((f.typeof_pyval(x),) * 3)
        counts.append(_vector_ops(f))
    assert counts[0] == counts[2] == 0 and counts[1] > 0, counts


def test_a_kernel_is_compiled_within_the_option_before_its_first_call(monkeypatch):
    """dispatch compiles a kernel that is neither compiled nor cached within ``_short_loops_vectorised``
    (a plain first call would compile the remainder kernel scalar)."""
    events: list[str] = []

    @contextlib.contextmanager
    def scoped():
        events.append("enter")
        yield
        events.append("exit")

    class Kernel:
        __name__ = "k"

        def typeof_pyval(self, value):
            return value

        def compile(self, sig):
            events.append(f"compile {sig}")

        def __call__(self, *args):
            events.append("call")

    monkeypatch.setattr(D, "_short_loops_vectorised", scoped)
    monkeypatch.setattr(D, "compile_notice", None)
    D._call(Kernel(), 1, 2)
    assert events == ["enter", "compile (1, 2)", "exit", "call"]


@pytest.mark.slow
@pytest.mark.parametrize("lanes", E.REMAINDER_LANES)
def test_the_remainder_kernels_compiled_by_dispatch_are_vectorised(tmp_path, lanes):
    """On an empty cache, a batch whose only block is a remainder block compiles that remainder kernel
    (through ``dispatch.run_batch``), with vector arithmetic in its lane loops: at least a quarter of
    its arithmetic (the 8-lane kernel compiled without the option: about 2 %)."""
    env = {**os.environ, "MITRASIM_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT / "src")}
    code = (
        "import re, numpy as np\n"
        "from mitrasim.physiology import engine as E\n"
        "from mitrasim.physiology.simulation import SolverSettings, simulate\n"
        f"simulate('primary_mr', eroa_cm2=np.linspace(0.1, 0.5, {lanes}), hr_bpm=70.0, settings=SolverSettings(threads=1))\n"
        f"k = E._run_group_rem{lanes}_orifice\n"
        "ir = next(iter(k.inspect_llvm().values()))\n"
        "vec = len(re.findall(r'= f(?:mul|add|sub|div) (?:contract )?<\\d+ x double>', ir))\n"
        "sca = len(re.findall(r'= f(?:mul|add|sub|div) (?:contract )?double ', ir))\n"
        "print(vec, sca)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    vec, sca = map(int, p.stdout.split())
    assert vec >= 0.25 * sca, (vec, sca)

class _Stub:
    """Stands in for a kernel that is neither compiled nor cached."""

    __name__ = "stub"

    def typeof_pyval(self, value):
        return value

    def compile(self, sig):
        pass

    def __call__(self, *args):
        pass


@pytest.mark.parametrize("attr, estimate", [("_run_group_rem4_diode", "COMPILE_S_ESTIMATE"),
                                            ("_run_group_lanes_orifice", "COMPILE_S_ESTIMATE"),
                                            ("_run_group_1_orifice", "COMPILE_S_ESTIMATE_ONE_LANE")])
def test_the_compile_notice_gives_the_estimate_of_the_kernel_it_compiles(monkeypatch, attr, estimate):
    lines: list[str] = []
    monkeypatch.setattr(D, "compile_notice", lines.append)
    monkeypatch.setattr(D, "_notice_given", False)
    stub = _Stub()
    monkeypatch.setattr(E, attr, stub)
    D._call(stub, 1)
    lo, hi = getattr(D, estimate)
    assert len(lines) == 1 and f"about {lo}-{hi} s" in lines[0]
