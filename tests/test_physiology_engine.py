"""The circulation engine: physiology, accuracy against scipy Radau, batching, steady state, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mitrasim.physiology import reference as R
from mitrasim.physiology import simulation as S
from mitrasim.physiology.parameter_sets import PARAMETER_SETS, SVZEROD_TWO_HILL_SI, from_svzerod_config, get_parameter_set
from mitrasim.physiology.parameters import KP

SAMPLES = 4000
SHARED_JSON = Path(__file__).resolve().parents[2] / "shared" / "peers" / "svzerod" / "closed_loop_two_hill.json"


@pytest.fixture(scope="module")
def sweep():
    return S.simulate("regazzoni2022", eroa_cm2=np.linspace(0.0, 0.6, 13))


def test_normal_heart_in_adult_ranges():
    m = S.simulate("regazzoni2022").patient_metrics()
    assert 55 <= m["ef_pct"] <= 65
    assert 4.5 <= m["co_l_min"] <= 6.5
    assert 110 <= m["sbp_mmhg"] <= 135 and 70 <= m["dbp_mmhg"] <= 90
    assert 6 <= m["la_mean_mmhg"] <= 12
    assert 100 <= m["edv_ml"] <= 160
    assert m["rvol_ml"] == 0 and m["converged"]


def test_blood_volume_reproduces_reference_steady_beat_with_diode_valves():
    """physiology.md [computed]: the paper's all-diode model, EDV 119, SV 71, CO 5.33, BP 123/78, LA 9.0."""
    import dataclasses

    from mitrasim.physiology.parameters import Model

    base = get_parameter_set("regazzoni2022")
    vals = {k: v for k, v in base.values.items() if k not in ("mva_cm2", "eroa_cm2", "mv_leff_cm")}
    vals |= {"mv_rmin_mmhg_s_ml": 0.0075, "mv_rmax_mmhg_s_ml": 75006.2}
    diode = dataclasses.replace(base, model=Model("cosine", "diode"), values=vals)
    m = S.simulate(diode, settings=S.SolverSettings(tol=1e-5, max_beats=2000)).patient_metrics()
    assert m["edv_ml"] == pytest.approx(119, abs=1.5)
    assert m["sv_ml"] == pytest.approx(71, abs=1.0)
    assert m["co_l_min"] == pytest.approx(5.33, abs=0.05)
    assert m["sbp_mmhg"] == pytest.approx(123, abs=1.5) and m["dbp_mmhg"] == pytest.approx(78, abs=1.5)
    assert m["la_mean_mmhg"] == pytest.approx(9.0, abs=0.3)


def test_eroa_sweep_monotone_and_published_relationships(sweep):
    m = sweep.metrics
    e = sweep.parameters["eroa_cm2"]
    for k in ("rvol_ml", "rf_pct", "la_mean_mmhg", "la_vwave_mmhg"):
        assert np.all(np.diff(m[k]) > 0), k
    ratio = m["rvol_ml"][1:] / e[1:]  # RVol = EROA × VTI_MR, VTI about 110–160 cm
    assert np.all((ratio > 110) & (ratio < 160))
    assert np.all(np.diff(m["forward_sv_ml"]) < 0)
    assert m["mr_vmax_m_s"][1:].min() > 4.0  # LV–LA gradient of a normal LV: 4–6 m/s jets


def test_narrowed_mva_raises_gradient():
    r = S.simulate("regazzoni2022", mva_cm2=[4.0, 2.0, 1.5, 1.0])
    g = r.metrics["mean_gradient_mmhg"]
    assert np.all(np.diff(g) > 0)
    assert 3.5 <= g[2] <= 5.5  # about 4–5 mmHg at 1.5 cm² in a normal heart


def test_batch_equals_one_at_a_time():
    e = np.array([0.0, 0.13, 0.27, 0.41, 0.55])
    hr = np.array([60.0, 70.0, 75.0, 90.0, 110.0])
    batch = S.simulate("primary_mr", eroa_cm2=e, hr_bpm=hr)
    for i in range(len(e)):
        one = S.simulate("primary_mr", eroa_cm2=e[i], hr_bpm=hr[i])
        for k, v in one.metrics.items():
            np.testing.assert_allclose(batch.metrics[k][i], v[0], rtol=1e-12, atol=1e-12, err_msg=k)


def test_steady_state_is_periodic():
    r = S.simulate("secondary_mr", eroa_cm2=[0.2, 0.41])
    assert r.metrics["converged"].all()
    again = S.simulate("secondary_mr", eroa_cm2=[0.2, 0.41], initial_state=r, settings=S.SolverSettings(min_beats=1, max_beats=1))
    scale = np.array([1.0] * 8 + [10.0] * 6)
    change = np.abs(again.final_state - r.final_state) / scale
    assert change.max() < S.SolverSettings().tol
    for k in ("edv_ml", "rvol_ml", "map_mmhg"):
        np.testing.assert_allclose(again.metrics[k], r.metrics[k], rtol=2e-4)


def test_warm_start_converges_faster():
    cold = S.simulate("regazzoni2022", eroa_cm2=0.3)
    warm = S.simulate("regazzoni2022", eroa_cm2=0.31, initial_state=cold)
    assert warm.metrics["beats_to_steady"][0] < cold.metrics["beats_to_steady"][0]


def _reference_beat(ps, n_beats, dt_max_s, **kw):
    """The kernel parameters P (one column) of one patient and the Radau reference's last of
    ``n_beats`` beats from the engine's start, sampled SAMPLES times."""
    cols, n = S.build_batch(ps, kw.pop("overrides", None), **kw)
    P, _ = S._kernel_arrays(cols, ps.model, n, 1, int(S.steps_per_beat(60.0 / cols["hr_bpm"], dt_max_s)[0]))
    X0 = S._initial_states(ps, cols, n, 1, None)
    _, w = R.reference_beats(P, 0, X0[:, 0], 0 if ps.model.activation == "cosine" else 1, ps.model.mitral == "diode", n_beats, samples_per_beat=SAMPLES)
    return P, w


def _radau_metrics(ps, n_beats, dt_max_s, **kw):
    """The Radau reference's metrics of :func:`_reference_beat`'s beat."""
    P, w = _reference_beat(ps, n_beats, dt_max_s, **kw)
    return R.waveform_metrics(
        w, period_s=P[KP["period_s"], 0], eroa_cm2=P[KP["eroa_cm2"], 0], mva_cm2=P[KP["mva_cm2"], 0],
        t_ventricular_s=P[KP["lv_act_a"], 0], t_atrial_s=P[KP["la_act_a"], 0],
    )


def _reference_metrics(preset, n_beats, dt_max_s=S.SolverSettings().dt_max_s, **kw):
    ps = get_parameter_set(preset)
    st = S.SolverSettings(min_beats=n_beats, max_beats=n_beats, tol=1e-300, accelerate=False, dt_max_s=dt_max_s)  # plain beats: a transient
    eng = S.simulate(ps, settings=st, **kw).patient_metrics()
    return eng, _radau_metrics(ps, n_beats, dt_max_s, **kw)


#: The engine's accuracy target against Radau on every metric at the production step (issue 19).
RADAU_REL_TOL = 2e-3
_SLOW = pytest.mark.slow
#: Issue 19's production step: 4 ms, 208 steps a beat at 75 bpm (the default dt_max_s is finer).
DT_208_S = 4e-3


@pytest.mark.parametrize("dt_max_s", [DT_208_S, pytest.param(S.SolverSettings().dt_max_s, marks=_SLOW)])
@pytest.mark.parametrize(
    "preset,kw",
    [
        ("regazzoni2022", {"eroa_cm2": 0.3}), ("secondary_mr", {}), ("svzerod_two_hill", {}), ("primary_mr", {"eroa_cm2": 0.6}),
        pytest.param("regazzoni2022", {"eroa_cm2": 0.0}, marks=_SLOW), pytest.param("regazzoni2022_normal", {}, marks=_SLOW),
        pytest.param("primary_mr", {"eroa_cm2": 0.1}, marks=_SLOW), pytest.param("primary_mr", {}, marks=_SLOW),
        pytest.param("secondary_mr", {"eroa_cm2": 0.2}, marks=_SLOW),
    ],
)  # fmt: skip
def test_agrees_with_scipy_radau_reference(preset, kw, dt_max_s):
    """Same model, same start, 3 beats at the production step (208 a beat at 75 bpm) and at the
    default step: every metric within 0.2 % of Radau at rtol 1e-10 (the reference's metrics from
    4000 samples a beat and its orifice events)."""
    eng, ref = _reference_metrics(preset, 3, dt_max_s=dt_max_s, **kw)
    diode = get_parameter_set(preset).model.mitral == "diode"
    assert set(ref) <= set(eng)
    for k, v in ref.items():
        if k == "pv_systolic_reversal":
            assert eng[k] == v, k
        elif diode and k in ("e_velocity_m_s", "mr_vmax_m_s"):  # no orifice area: not defined
            assert np.isnan(eng[k]), k
        elif k == "pv_min_systolic_flow_ml_s":
            continue  # test_pulmonary_vein_systolic_minimum_agrees_with_radau
        else:
            assert eng[k] == pytest.approx(v, rel=RADAU_REL_TOL, abs=1e-9), (k, eng[k], v)


@pytest.mark.parametrize("dt_max_s", [DT_208_S, S.SolverSettings().dt_max_s])
@pytest.mark.parametrize("preset,kw", [("regazzoni2022", {"eroa_cm2": 0.3}), ("secondary_mr", {}), ("svzerod_two_hill", {}), ("primary_mr", {"eroa_cm2": 0.6})])
def test_pulmonary_vein_systolic_minimum_agrees_with_radau(preset, kw, dt_max_s, request):
    """The pulmonary-vein flow's systolic minimum (the echo's reversal test reads it against the S
    peak): a minimum that may sit near or cross zero, so its error is measured against the vein's
    wave amplitude, 0.2 % of the larger of the S and D peaks.  secondary_mr and svzerod_two_hill have
    their minimum at mitral closing, read on the parabola back from the sample after the switch
    (``engine._accumulate``; the slope alone missed it by 0.3 % at 4 ms).  Known miss at 4 ms (strict,
    so that a fix shows): secondary_mr, whose systolic closing falls 0.95 of a step after a sample:
    the RK4 step across it ends with 6 mL/s of forward flow where Radau's valve shut 0.2 ms before the
    sample (its last stage sees the orifice closed: the scheme is first order across a valve switch),
    so the closing is located 0.7 ms late and the vein flow read 0.4 mL/s up its rise; an error of
    the state, not of the metric (benchmarks/RESULTS.md, s9-h24's section)."""
    if preset == "secondary_mr" and dt_max_s == DT_208_S:
        request.applymarker(pytest.mark.xfail(strict=True, reason="the state: RK4 across the systolic closing leaves 6 mL/s of forward flow "
                                              "after Radau's closing, so the closing is located 0.7 ms late: 0.23 % of the wave amplitude at 4 ms"))
    eng, ref = _reference_metrics(preset, 3, dt_max_s=dt_max_s, **kw)
    scale = max(abs(ref["pv_s_peak_ml_s"]), abs(ref["pv_d_peak_ml_s"]))
    k = "pv_min_systolic_flow_ml_s"
    assert eng[k] == pytest.approx(ref[k], rel=0, abs=RADAU_REL_TOL * scale), (eng[k], ref[k])


@_SLOW
def test_pulmonary_vein_minimum_and_mean_gradient_agree_with_radau_as_the_closing_moves():
    """svzerod_two_hill (minimum at mitral closing) with its LV active elastance × (1 + s), s in ±2 % (9 values: the
    mitral events move by a fraction of a step against the samples, and one of them across a sample), 3 plain beats
    at 4 ms, each against its own Radau run: the systolic minimum within 0.2 % of the wave amplitude and the mean
    gradient within 0.2 % (issue 19's goal) at every s."""
    ps = get_parameter_set("svzerod_two_hill")
    ea = ps.values["lv_ea_mmhg_ml"]
    nudges = np.linspace(-0.02, 0.02, 9)
    overrides = [{"lv_ea_mmhg_ml": float(ea * (1.0 + x))} for x in nudges]
    st = S.SolverSettings(min_beats=3, max_beats=3, tol=1e-300, accelerate=False, dt_max_s=DT_208_S)
    eng = S.simulate(ps, settings=st, overrides=overrides).metrics
    k = "pv_min_systolic_flow_ml_s"
    for i, ov in enumerate(overrides):
        ref = _radau_metrics(ps, 3, DT_208_S, overrides=[ov])
        scale = max(abs(ref["pv_s_peak_ml_s"]), abs(ref["pv_d_peak_ml_s"]))
        assert abs(eng[k][i] - ref[k]) <= RADAU_REL_TOL * scale, (nudges[i], eng[k][i], ref[k])
        g = "mean_gradient_mmhg"
        assert eng[g][i] == pytest.approx(ref[g], rel=RADAU_REL_TOL), (nudges[i], eng[g][i], ref[g])


def test_svzerod_preset_matches_shared_file():
    if not SHARED_JSON.exists():
        pytest.skip("../shared/peers/svzerod/closed_loop_two_hill.json not beside the checkout")
    cfg = json.loads(SHARED_JSON.read_text())
    v_file, init_file = from_svzerod_config(cfg)
    v_pkg, init_pkg = from_svzerod_config(SVZEROD_TWO_HILL_SI)
    assert v_file == pytest.approx(v_pkg, rel=1e-12)
    assert init_file == pytest.approx(init_pkg, rel=1e-12)


def test_svzerod_two_hill_steady_beat_like_svzerodsolver():
    """svZeroDSolver's converged beat of the same file (peers README, benchmarks/peers.py):
    LVEDV 114.15 mL, LVESV 40.71 mL, aortic 103.56/53.55 mmHg, mean LA 9.167 mmHg — within 3 %."""
    m = S.simulate("svzerod_two_hill").patient_metrics()
    for k, v in {"edv_ml": 114.15, "esv_ml": 40.71, "sbp_mmhg": 103.56, "dbp_mmhg": 53.55, "la_mean_mmhg": 9.167}.items():
        assert m[k] == pytest.approx(v, rel=0.03), k


def test_heart_rate_range_runs_and_stays_physiological():
    r = S.simulate("regazzoni2022", hr_bpm=[40, 60, 100, 150])
    assert r.metrics["converged"].all()
    assert np.all((r.metrics["ef_pct"] > 40) & (r.metrics["ef_pct"] < 75))
    assert np.all(np.diff(r.metrics["co_l_min"]) > 0)


def test_waveforms_consistent_with_metrics():
    r = S.simulate("regazzoni2022", eroa_cm2=0.35, waveforms=True)
    w = r.patient_waveforms(0)
    m = r.patient_metrics(0)
    dt = w["t_s"][1] - w["t_s"][0]
    # EDV/ESV are the extremes between samples (cubic Hermite where dV/dt turns): beyond the sampled
    # extremes, by less than the largest change of the volume over one step
    v = w["v_lv_ml"]
    step_change = np.abs(np.diff(v)).max()
    assert 0.0 <= m["edv_ml"] - v.max() < step_change
    assert 0.0 <= v.min() - m["esv_ml"] < step_change
    assert w["q_mr_ml_s"].sum() * dt == pytest.approx(m["rvol_ml"], rel=1e-9)
    assert np.all(w["q_mv_ml_s"] >= 0) and np.all(w["q_mr_ml_s"] >= 0)


def test_without_waveforms_the_result_keeps_one_value_per_patient_not_per_step():
    """Without waveforms nothing in the result grows with the number of RK4 steps: every metric and
    parameter is one value per patient, the state one row of the 14 state variables."""
    r = S.simulate("regazzoni2022", eroa_cm2=np.zeros(3))
    assert r.waveforms is None and np.all(r.n_steps > 14)
    assert all(v.shape == (3,) for v in r.metrics.values())
    assert all(np.shape(v) == (3,) for v in r.parameters.values())
    assert r.final_state.shape == (3, 14)
    with pytest.raises(ValueError, match="without waveforms"):
        r.patient_waveforms(0)


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"eroa_cm2": -0.1}, "eroa_cm2"),
        ({"eroa_cm2": float("nan")}, "eroa_cm2"),
        ({"mva_cm2": 0.0}, "mva_cm2"),
        ({"hr_bpm": 0.0}, "hr_bpm"),
    ],
)
def test_bad_values_name_the_field(kw, field):
    from mitrasim.errors import InputError

    with pytest.raises(InputError) as ei:
        S.simulate("regazzoni2022", **kw)
    # the range's sentence in clinical units (mitrasim.ranges), e.g. "heart rate 0 bpm is outside 30–200 bpm"
    assert ei.value.field == field and "is outside" in str(ei.value) and ei.value.allowed


def test_unknown_preset_and_parameter():
    from mitrasim.errors import InputError

    with pytest.raises(InputError, match="preset"):
        S.simulate("nope")
    with pytest.raises(InputError, match="lv_ea"):
        S.simulate("regazzoni2022", {"lv_ea": 2.0})
    assert set(PARAMETER_SETS) >= {"regazzoni2022", "svzerod_two_hill", "primary_mr", "secondary_mr"}


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "mitrasim", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "args,field",
    [
        (["--eroa-cm2", "-0.2"], "eroa_cm2"),
        (["--eroa-cm2", "nan"], "eroa_cm2"),
        (["--hr-bpm", "0"], "hr_bpm"),
        (["--preset", "nope"], "preset"),
        (["--set", "bogus_name=1"], "bogus_name"),
        (["--set", "lv_ea_mmhg_ml"], "--set"),
    ],
)
def test_cli_bad_input_one_line_exit_2(args, field):
    p = _cli("simulate", *args)
    assert p.returncode == 2
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {field}") and ("allowed" in err[0] or "is outside" in err[0])
    assert "Traceback" not in p.stderr


def test_cli_json_and_plot(tmp_path):
    png = tmp_path / "beat.png"
    p = _cli("simulate", "--preset", "primary_mr", "--eroa-cm2", "0.3", "--set", "lv_ea_mmhg_ml=2.5", "--json", "--plot", str(png))
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert set(out) >= {"metrics", "parameters", "citations"}
    assert out["parameters"]["lv_ea_mmhg_ml"] == 2.5 and out["parameters"]["eroa_cm2"] == 0.3
    assert any("Regazzoni" in c for c in out["citations"])
    assert png.stat().st_size > 10_000


def test_closing_the_leak_from_a_leaking_warm_start_leaves_no_regurgitation():
    leaking = S.simulate("primary_mr")  # EROA 0.40, q_mr > 0 in its state
    closed = S.simulate("primary_mr", eroa_cm2=0.0, initial_state=leaking)
    assert closed.metrics["rvol_ml"][0] == 0.0 and closed.metrics["rf_pct"][0] == 0.0


def test_a_raised_resistance_shortens_the_step_instead_of_diverging():
    """An R–L branch decays at −R/L; at the trials' 4 ms step a systemic arterial resistance 2.6× the
    preset's gave NaN within one beat.  The step is now bounded by RK4's real-axis stability (stable_dt_s)."""
    st = S.SolverSettings(dt_max_s=4e-3, tol=1e-2)
    pset = get_parameter_set("secondary_mr")
    r_sys = pset.values["sys_ar_r_mmhg_s_ml"]
    # the resistance above which a 4 ms step is unstable; the two raised ones sit 1.4x and 1.9x above it
    r_crit = S.RK4_STIFF_LIMIT * pset.values["sys_ar_l_mmhg_s2_ml"] / 4e-3
    rs = (r_sys, 1.4 * r_crit, 1.9 * r_crit)
    assert r_sys < r_crit
    res = S.simulate("secondary_mr", [{"sys_ar_r_mmhg_s_ml": r} for r in rs], eroa_cm2=0.4, settings=st)
    assert np.all(res.metrics["converged"] == 1.0)
    sbp = res.metrics["sbp_mmhg"]
    assert np.all(np.isfinite(sbp)) and sbp[0] < sbp[1] < sbp[2]
    assert res.n_steps[0] < res.n_steps[1] < res.n_steps[2]
    cols, _ = S.build_batch(pset, [{"sys_ar_r_mmhg_s_ml": rs[1]}])
    dt = (60.0 / cols["hr_bpm"]) / res.n_steps[1]
    assert np.all(dt * rs[1] / cols["sys_ar_l_mmhg_s2_ml"] <= S.RK4_STIFF_LIMIT)


@pytest.mark.parametrize("preset", sorted(PARAMETER_SETS))
def test_the_stability_bound_leaves_the_presets_steps_alone(preset):
    """At the default and the trials' step the bound does not bind for any shipped preset (results unchanged)."""
    cols, _ = S.build_batch(get_parameter_set(preset), None)
    assert np.all(S.stable_dt_s(cols) > 4e-3)


def test_cosine_activation_table_equals_the_direct_formula():
    """The table built by rotation (no per-point cos/modulo) is the elastance E_B + E_A·φ(t) with the
    activation φ(t) itself."""
    from mitrasim.physiology import engine as E

    rng = np.random.default_rng(1)
    for _ in range(300):
        T = rng.uniform(0.3, 2.0)
        n = int(16 * rng.integers(4, 40))
        h = T / (2 * n)
        a, b, c = rng.uniform(-T, 2 * T), rng.uniform(0.02, 0.6) * T, rng.uniform(0.02, 0.9) * T
        ea, eb = rng.uniform(0.05, 3.0), rng.uniform(0.01, 0.5)
        act = np.zeros((2 * n + 1) * 4 * 16)
        E._cosine_table(a, b, c, T, h, 2 * n + 1, ea, eb, act, 2, 5, 16)
        got = act[(np.arange(2 * n + 1) * 4 + 2) * 16 + 5]
        ref = np.array([E._phi(s * h, 0, a, b, c, 0.0, 0.0, 0.0, T) for s in range(2 * n + 1)])
        np.testing.assert_allclose((got - eb) / ea, ref, rtol=0, atol=1e-12)
    # a relaxation window of zero length (never entered) is no division by zero
    act = np.zeros(65 * 4 * 16)
    E._cosine_table(0.1, 0.3, 0.0, 0.8, 0.8 / 64, 65, 1.0, 0.1, act, 0, 0, 16)
    assert np.isfinite(act).all()


def test_cosine_table_windows_on_points_longer_than_the_period_and_in_its_own_column():
    """Windows that start exactly on a table point, and contraction windows longer than the period
    (a high rate with long timings: φ restarts the contraction at every wrap of the phase), give φ
    itself; the table writes its own chamber and lane and nothing else."""
    from mitrasim.physiology import engine as E

    T, n = 0.4265943354842754, 43
    h = T / (2 * n)
    windows = [(1.2582163030794185, 0.5003959178739593, 1.4234665687317103), (1.8543091061357349, 0.42580339622422647, 0.690607663824335),
               (0.880754309431568, 0.6205932385633625, 1.1368355391171288), (1.9091809873814745, 0.9951014087300888, 0.7466366205359409),
               (7 * h, 20 * h, 30 * h), (0.0, 2 * n * h, 10 * h), (3 * h, 5 * h, 0.0)]  # fmt: skip
    for ch, (a, b, c) in enumerate(windows):
        act = np.full((2 * n + 1) * 4 * 16, np.nan)
        E._cosine_table(a, b, c, T, h, 2 * n + 1, 2.0, 0.25, act, ch % 4, 7, 16)
        mine = (np.arange(2 * n + 1) * 4 + ch % 4) * 16 + 7
        ref = np.array([E._phi(s * h, 0, a, b, c, 0.0, 0.0, 0.0, T) for s in range(2 * n + 1)])
        np.testing.assert_allclose((act[mine] - 0.25) / 2.0, ref, rtol=0, atol=1e-12)
        others = np.ones(act.size, bool)
        others[mine] = False
        assert np.isnan(act[others]).all()


def _cosine_phi_pointwise(a, b, c, T, h, n_pts):
    """φ at t = s·h point by point, the phase wrapped into [0, T) by comparisons as in the table, and
    whether a point is within rounding of a wrap (where φ jumps if a window outlasts the period: the
    kernel's phase, s·h − a fused into one FMA, may put it on either side)."""
    raw = np.arange(n_pts) * h - a % T
    tt = np.where(raw < 0.0, raw + T, raw)
    tt = np.where(tt >= T, tt - T, tt)
    rise = 0.5 * (1.0 - np.cos(np.pi * tt / b))
    fall = 0.5 * (1.0 + np.cos(np.pi * (tt - b) / c)) if c > 0.0 else np.zeros(n_pts)
    near_wrap = (np.abs(raw) < 1e-12) | (np.abs(raw - T) < 1e-12)
    return np.where(tt < b, rise, np.where(tt - b < c, fall, 0.0)), near_wrap


def test_cosine_table_equals_the_pointwise_formula_for_any_windows():
    """Random windows of any length (contraction and relaxation longer than the period included:
    φ jumps back at each wrap of the phase) and starts on table points: the table built in runs
    is the per-point formula to rounding (runs end at every edge and wrap)."""
    from mitrasim.physiology import engine as E

    rng = np.random.default_rng(5)
    for i in range(3000):
        T = rng.uniform(0.3, 1.5)
        n = int(rng.integers(20, 300))
        h = T / (2 * n)
        a = rng.integers(0, 4 * n) * h if i % 5 == 0 else rng.uniform(0.0, 2.0)
        b = rng.integers(1, 4 * n) * h if i % 7 == 0 else rng.uniform(1e-3, 1.6)
        c = rng.integers(0, 4 * n) * h if i % 11 == 0 else rng.uniform(1e-3, 1.5)
        act = np.zeros((2 * n + 1) * 4)
        E._cosine_table(a, b, c, T, h, 2 * n + 1, 1.5, 0.2, act, 1, 0, 1)
        got = (act[np.arange(2 * n + 1) * 4 + 1] - 0.2) / 1.5
        want, near_wrap = _cosine_phi_pointwise(a, b, c, T, h, 2 * n + 1)
        np.testing.assert_allclose(got[~near_wrap], want[~near_wrap], rtol=0, atol=1e-12, err_msg=f"case {i}")


def test_a_first_beat_from_the_steady_state_reports_the_steady_beat():
    """A state reported on its first beat (min_beats = max_beats = 1) from a steady beat's end is that
    steady beat again: every metric equal to the steady beat's, EDV and ESV included, where the
    volume turns in the beat's last step (ventricular onset near the beat's start).  The start is
    periodic to tol = 1e-10 (mL, mmHg, 10 mL/s) and a beat does not amplify a change of its start
    (the beat map's eigenvalues are below 1), so the two beats differ by about 1e-10; the bound
    1e-6 is a thousandth of the 1e-3 mL by which the first beat missed the turn."""
    from mitrasim.physiology.engine import METRIC_NAMES

    rng = np.random.default_rng(3)
    n = 48
    over = {"lv_tc_s": rng.uniform(0.0, 0.05, n)}
    # low rates: the mitral valve closes, and the volume turns, near the beat's end in some of them
    kw = {"hr_bpm": rng.uniform(50.0, 60.0, n), "eroa_cm2": rng.uniform(0.0, 0.6, n)}
    steady = S.simulate("secondary_mr", over, settings=S.SolverSettings(tol=1e-10), **kw)
    first = S.simulate("secondary_mr", over, initial_state=steady, settings=S.SolverSettings(min_beats=1, max_beats=1), **kw)
    assert (first.metrics["beats_to_steady"] == 1).all()
    for name in METRIC_NAMES:
        if name not in ("beats_to_steady", "steady_residual", "converged"):
            np.testing.assert_allclose(first.metrics[name], steady.metrics[name], rtol=0, atol=1e-6, err_msg=name)
    for i in (7, 26):  # the one-lane kernel, on two of the patients whose turn is in the last step
        one = S.simulate("secondary_mr", {k: v[i] for k, v in over.items()}, initial_state=steady.final_state[i],
                         settings=S.SolverSettings(min_beats=1, max_beats=1), **{k: v[i] for k, v in kw.items()})  # fmt: skip
        for name in ("edv_ml", "esv_ml", "mean_gradient_mmhg"):
            np.testing.assert_allclose(one.metrics[name], steady.metrics[name][i], rtol=0, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("preset,eroa", [("primary_mr", 0.25), ("secondary_mr", 0.3), ("regazzoni2022", 0.2)])
def test_anderson_acceleration_reaches_the_same_steady_beat_in_fewer_beats(preset, eroa):
    """Accelerated and plain iteration pass the same steady-state test; both land within the
    test's tolerance of a tightly converged beat, the accelerated one in at most 15 beats."""
    tight = S.simulate(preset, eroa_cm2=eroa, settings=S.SolverSettings(tol=1e-10, max_beats=5000))
    warm = S.simulate(preset, eroa_cm2=0.5 * eroa, settings=S.SolverSettings(tol=1e-8, max_beats=5000))
    for init in (None, warm):
        plain = S.simulate(preset, eroa_cm2=eroa, initial_state=init, settings=S.SolverSettings(accelerate=False))
        fast = S.simulate(preset, eroa_cm2=eroa, initial_state=init)  # accelerated by default
        assert fast.metrics["converged"][0] == 1.0
        assert fast.metrics["beats_to_steady"][0] <= 15 < plain.metrics["beats_to_steady"][0]
        for k in ("edv_ml", "esv_ml", "rvol_ml", "forward_sv_ml", "mean_gradient_mmhg", "la_mean_mmhg", "map_mmhg"):
            assert fast.metrics[k][0] == pytest.approx(tight.metrics[k][0], rel=2e-3, abs=2e-3), k
    # batched and one at a time give the same accelerated result (each lane has its own history)
    e = np.array([0.1, eroa, 0.45, 0.05, 0.3] * 4)
    b = S.simulate(preset, eroa_cm2=e)
    for i in (0, 2, 17):
        one = S.simulate(preset, eroa_cm2=e[i])
        assert one.metrics["beats_to_steady"][0] == b.metrics["beats_to_steady"][i]
        np.testing.assert_allclose(one.final_state[0], b.final_state[i], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "preset,kw",
    [("regazzoni2022", {"eroa_cm2": 0.0}), ("primary_mr", {"eroa_cm2": 0.5}), ("svzerod_two_hill", {}), ("primary_mr", {"eroa_cm2": 0.1}),
     ("regazzoni2022", {"eroa_cm2": 0.0, "hr_bpm": 50})],
)  # fmt: skip
def test_pulmonary_vein_s_and_d_peaks_agree_with_radau(preset, kw):
    """Peak forward pulmonary-vein flow in systole (S wave: a gap in forward mitral flow with aortic
    ejection) and in diastole (D wave: forward mitral flow and gaps without ejection): same
    definitions computed from the Radau trajectory sampled 4000 times a beat; a peak sampled at the
    engine's steps (320 a beat at 75 bpm: these cases run at the default dt_max_s) is low by at
    most about f''·dt²/8 (≪ 1 %).  regazzoni2022 without MR and primary_mr at 0.1 cm² have a diastasis whose vein flow exceeds the S peak
    (:func:`test_radau_cases_with_a_diastasis_discriminate`); at 50 bpm regazzoni2022's systolic gap
    spans the beat boundary (the mitral valve shuts before ventricular onset, ejection after it) and
    the S peak lies in its part at the beat's end: counting the two parts apart gives S 2.5 % low."""
    eng, ref = _reference_metrics(preset, 3, **kw)
    for k in ("pv_s_peak_ml_s", "pv_d_peak_ml_s"):
        assert ref[k] > 0.0, k
        assert eng[k] == pytest.approx(ref[k], rel=RADAU_REL_TOL), (k, eng[k], ref[k])


@pytest.mark.parametrize("preset,kw", [("regazzoni2022", {"eroa_cm2": 0.0}), ("primary_mr", {"eroa_cm2": 0.1})])
def test_radau_cases_with_a_diastasis_discriminate(preset, kw):
    """The diastasis cases above test the S window: their Radau beat has a gap in forward mitral
    flow without aortic ejection (E and A apart) whose pulmonary-vein flow exceeds the S peak, so
    "no forward mitral flow" as systole would give a different S (by more than the tolerance)."""
    _, w = _reference_beat(get_parameter_set(preset), 3, S.SolverSettings().dt_max_s, **kw)
    fwd = w["q_mv_ml_s"] > 0.0
    label = R._no_flow_gaps(fwd)
    ej = w["q_av_ml_s"] > 0.0
    diastasis = [g for g in np.unique(label[label >= 0]) if not ej[label == g].any()]
    assert diastasis
    s_peak = R._pv_windows(w, fwd, w["t_s"][1])[0]
    q_dia = max(w["q_pvein_ml_s"][label == g].max() for g in diastasis)
    assert q_dia > s_peak * (1.0 + 10 * RADAU_REL_TOL), (q_dia, s_peak)
