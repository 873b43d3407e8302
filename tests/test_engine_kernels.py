"""The engine's kernels: one valve law and lane count per kernel, NaN detection kept under the
fast-math flags, the compile notice, and the set-up shortcuts equal to the general path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mitrasim.physiology import dispatch as D
from mitrasim.physiology import engine as E
from mitrasim.physiology import simulation as S
from mitrasim.physiology.parameter_sets import get_parameter_set
from mitrasim.physiology.parameters import scaled_timings

ROOT = Path(__file__).resolve().parents[1]


def _engine_inputs(preset: str, n: int, n_pad: int):
    pset = get_parameter_set(preset)
    cols, _ = S.build_batch(pset, None, eroa_cm2=np.full(n, 0.3) if pset.model.mitral == "orifice" else None,
                            hr_bpm=np.full(n, 70.0))
    steps = int(S.steps_per_beat(60.0 / cols["hr_bpm"][:1], 2.5e-3)[0])
    P, ew = S._kernel_arrays(cols, pset.model, n, n_pad, steps)
    X0 = S._initial_states(pset, cols, n, n_pad, None)
    return pset, P, ew, X0, steps


@pytest.mark.parametrize("n, n_pad", [(1, 1), (3, E.LANES)])
def test_a_non_finite_state_is_caught_as_diverged(n, n_pad):
    """The kernels are compiled with FMA contraction but without ``nnan``/``ninf``: a NaN or an
    infinite state must still end its patient after one beat with NaN metrics, not converged."""
    pset, P, ew, X0, steps = _engine_inputs("regazzoni2022", n, n_pad)
    X0[E.S_PSA, 0] = np.nan
    if n > 1:
        X0[E.S_VLV, 1] = np.inf
    metrics = np.zeros((E.N_METRIC, n_pad))
    x_end = np.zeros((14, n_pad))
    waves = np.zeros((E.N_WAVE, 0, n_pad))
    D.run_batch(P, X0, 0, False, steps, 2, 50, 1e-3, ew, metrics, x_end, waves, True, 2)
    bad = [0] if n == 1 else [0, 1]
    for c in bad:
        assert metrics[E.MI["converged"], c] == 0.0
        assert metrics[E.MI["beats_to_steady"], c] == 1.0
        assert np.isnan(metrics[E.MI["edv_ml"], c]) and np.isnan(metrics[E.MI["co_l_min"], c])
    if n > 1:  # the healthy patient of the same block is untouched
        assert metrics[E.MI["converged"], 2] == 1.0 and 50.0 < metrics[E.MI["edv_ml"], 2] < 300.0


def test_diode_and_orifice_patients_in_one_process_each_get_their_law():
    """Each valve law has its own kernel: a diode preset after an orifice one (and back) runs the
    diode law (no orifice: no Doppler velocities; only the closed diode's leak through R_max, under
    1 mL) and the orifice law (a leak of tens of mL)."""
    a = S.simulate("regazzoni2022", eroa_cm2=0.3)
    d = S.simulate("svzerod_two_hill")
    b = S.simulate("regazzoni2022", eroa_cm2=0.3)
    assert a.metrics["rvol_ml"][0] > 10.0 and b.metrics["rvol_ml"][0] == a.metrics["rvol_ml"][0]
    assert d.metrics["rvol_ml"][0] < 1.0 and np.isnan(d.metrics["e_velocity_m_s"][0])


def test_run_batch_rejects_a_ragged_batch():
    pset, P, ew, X0, steps = _engine_inputs("regazzoni2022", 3, 3)
    with pytest.raises(ValueError, match="multiple of"):
        D.run_batch(P, X0, 0, False, steps, 2, 5, 1e-3, ew, np.zeros((E.N_METRIC, 3)), np.zeros((14, 3)),
                    np.zeros((E.N_WAVE, 0, 3)), True, 2)


class _Uncompiled:
    """Stands in for a numba dispatcher that is neither compiled nor cached."""

    signatures: tuple = ()

    def __init__(self):
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1

    def typeof_pyval(self, value):
        return None

    def compile(self, sig):
        pass


def test_compile_notice_is_one_line_once_per_process(monkeypatch):
    lines: list[str] = []
    monkeypatch.setattr(D, "compile_notice", lines.append)
    monkeypatch.setattr(D, "_notice_given", False)
    k1, k2 = _Uncompiled(), _Uncompiled()
    D._call(k1, 1, 2)
    D._call(k2, 3)
    D._call(k1, 4)
    assert (k1.calls, k2.calls) == (2, 1)
    assert len(lines) == 1 and "\n" not in lines[0]
    assert "compiling the engine once" in lines[0] and str(D.COMPILE_S_ESTIMATE[1]) in lines[0]


def test_a_cached_kernel_gives_no_notice(monkeypatch):
    D._call(E._run_group_1_orifice, *_one_patient_args())  # compiled (or loaded) by now (a single patient may
    # have run in a lane of a group kernel compiled by an earlier test, so simulate() need not compile it)
    lines: list[str] = []
    monkeypatch.setattr(D, "compile_notice", lines.append)
    monkeypatch.setattr(D, "_notice_given", False)
    assert D._cached(E._run_group_1_orifice)
    D._call(E._run_group_1_orifice, *_one_patient_args())
    assert lines == []


def _one_patient_args():
    pset, P, ew, X0, steps = _engine_inputs("regazzoni2022", 1, 1)
    return (P, X0, 0, steps, 2, 5, 1e-3, ew, np.zeros((E.N_METRIC, 1)), np.zeros((14, 1)), np.zeros((E.N_WAVE, 0, 1)), True, 0, 1)


def test_two_hill_timing_shortcut_equals_the_general_path():
    """scaled_timings skips np.unique for a single patient and when every patient has the same
    timing; the normalisation must equal that of the general path (a batch whose second patient has another LV time constant)."""
    pset = get_parameter_set("svzerod_two_hill")
    same, _ = S.build_batch(pset, None, hr_bpm=np.array([70.0, 70.0]))
    tau = pset.values["lv_tau1_s"]
    mixed, _ = S.build_batch(pset, [{}, {"lv_tau1_s": 1.2 * tau}], hr_bpm=np.array([70.0, 70.0]))
    single, _ = S.build_batch(pset, None, hr_bpm=70.0)
    a = scaled_timings(same, pset.model)
    b = scaled_timings(mixed, pset.model)
    one = scaled_timings(single, pset.model)
    for ch in ("la", "lv", "ra", "rv"):
        assert one[f"{ch}_act_f"][0] == a[f"{ch}_act_f"][0] == a[f"{ch}_act_f"][1] == b[f"{ch}_act_f"][0]
    assert b["lv_act_f"][1] != b["lv_act_f"][0]


@pytest.mark.slow
def test_a_single_orifice_patient_compiles_only_its_own_kernel(tmp_path):
    """On an empty cache, one orifice patient compiles (and caches) the one-lane orifice kernel only,
    and says so once on stderr; its stdout stays clean."""
    env = {**os.environ, "MITRASIM_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT / "src")}
    code = "from mitrasim.physiology.simulation import simulate; print(simulate('regazzoni2022', eroa_cm2=0.2).metrics['rvol_ml'][0])"
    p = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    float(p.stdout.strip())
    assert p.stderr.count("compiling the engine once") == 1
    names = " ".join(f.name for f in tmp_path.rglob("*.nbi"))
    assert "_run_group_1_orifice" in names
    for other in ("_run_group_1_diode", *(f"_run_group_{k}_" for k in (E.LANES, *E.REMAINDER_LANES))):
        assert other not in names, names


@pytest.mark.parametrize("lanes", [E.LANES, *E.REMAINDER_LANES])
@pytest.mark.parametrize("preset", ["regazzoni2022", "svzerod_two_hill"])
def test_one_patient_in_a_lane_of_the_batch_kernel_equals_the_one_lane_kernel(preset, lanes):
    """The fallback that saves a process a second compilation gives the one-lane kernel's numbers."""
    S.simulate(preset, eroa_cm2=np.full(3, 0.25) if preset == "regazzoni2022" else None,
               hr_bpm=np.full(3, 70.0))  # the batch kernel of this law, compiled or loaded
    pset, P, ew, X0, steps = _engine_inputs(preset, 1, 1)
    diode = pset.model.mitral == "diode"
    kind = 0 if pset.model.activation == "cosine" else 1

    def arrays():
        return np.zeros((E.N_METRIC, 1)), np.zeros((14, 1)), np.zeros((E.N_WAVE, steps, 1))

    m1, x1, w1 = arrays()
    D.run_batch(P, X0, kind, diode, steps, 2, 300, 1e-3, ew, m1, x1, w1, True, 1)
    m2, x2, w2 = arrays()
    group = D._kernels(diode)[1][lanes]
    D._compile(group, (P, X0, kind, steps, 2, 300, 1e-3, ew, m2, x2, w2, True, 0, 1))  # as dispatch compiles it (if not loaded already)
    D._in_lanes(group, lanes, (P, X0, kind, steps, 2, 300, 1e-3, ew, m2, x2, w2, True))
    assert m1[E.MI["converged"], 0] == 1.0
    np.testing.assert_allclose(m2, m1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x2, x1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w2, w1, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("preset", ["regazzoni2022", "svzerod_two_hill"])
def test_beats_without_metrics_leave_the_reported_beat_unchanged(preset):
    """Beats that no lane can report (before min_beats) run the kernel's plain path (the whole RK4
    step in one pass, no accumulators but on the beat's last step).  The same ten beats run with
    metrics on every beat give the same end state and the same metrics of the tenth beat, bit for
    bit: both paths do the same arithmetic, and the samples that carry over between beats are kept."""
    rng = np.random.default_rng(2)
    n = 40  # three blocks, the last padded
    kw = {"overrides": [{"lv_ea_mmhg_ml": float(x)} for x in rng.uniform(1.5, 3.0, n)]}
    if preset == "regazzoni2022":
        # the patients' cycles shifted through the whole period (0.8 s): their beats start in every
        # phase, at valve openings and volume turns too, where the samples that carry over from one
        # beat into the next decide the edge corrections
        for o, s in zip(kw["overrides"], np.linspace(0.0, 0.8, n, endpoint=False)):
            o.update(lv_tc_s=s, rv_tc_s=s, la_tc_s=(s + 0.6) % 0.8, ra_tc_s=(s + 0.56) % 0.8)
        kw["eroa_cm2"] = rng.uniform(0.0, 0.5, n)
    runs = []
    for min_beats in (10, 1):
        st = S.SolverSettings(min_beats=min_beats, max_beats=10, tol=1e-300, accelerate=False)
        runs.append(S.simulate(preset, settings=st, **kw))
    plain, every = runs
    np.testing.assert_array_equal(plain.final_state, every.final_state)
    for k in plain.metrics:
        np.testing.assert_array_equal(plain.metrics[k], every.metrics[k], err_msg=k)
