"""Calibration of the circulation to a patient's measurements (issue 12).

Recovery: parameters that generated noise-free measurements are found again within 1 % (plain
weighted least squares, no prior).  Coverage: with noise of each method's SD, the Laplace 90 %
intervals cover the truth in 85–95 % of cases (fast: 20 patients, binomial band; slow: 200).
Bad input: one InputError naming the fields.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mitrasim.calibrate import calibrate_measurements, parse_measurements
from mitrasim.calibrate.fit import SETTINGS, forward, problem
from mitrasim.calibrate.measurements import MEASURES
from mitrasim.calibrate.synthetic import synthetic_patients
from mitrasim.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))

FULL_PANEL = {
    "sbp_mmhg": "arterial_line", "dbp_mmhg": "arterial_line", "lvedv_ml": "cmr", "lvesv_ml": "cmr", "eroa_cm2": "pisa",
    "la_volume_ml": "cmr", "e_velocity_m_s": "doppler", "mean_gradient_mmhg": "doppler", "mva_cm2": "planimetry",
    "spap_mmhg": "rhc", "la_mean_mmhg": "la_direct", "la_vwave_mmhg": "la_direct", "co_l_min": "thermodilution",
}  # fmt: skip


@pytest.mark.parametrize("truth", [
    {"lv_ea_mmhg_ml": 0.7, "lv_eb_mmhg_ml": 0.11, "lv_v0_ml": 40.0, "sys_ar_r_mmhg_s_ml": 1.4, "sys_ar_c_ml_mmhg": 1.0,
     "pvr_scale": 1.8, "stressed_volume_shift_ml": 150.0, "la_eb_mmhg_ml": 0.08, "la_v0_ml": 25.0, "eroa_cm2": 0.35, "mva_cm2": 3.5},
    {"lv_ea_mmhg_ml": 0.4, "lv_eb_mmhg_ml": 0.05, "lv_v0_ml": 10.0, "sys_ar_r_mmhg_s_ml": 0.9, "sys_ar_c_ml_mmhg": 0.7,
     "pvr_scale": 0.7, "stressed_volume_shift_ml": -100.0, "la_eb_mmhg_ml": 0.05, "la_v0_ml": 12.0, "eroa_cm2": 0.5, "mva_cm2": 5.0},
])  # fmt: skip
def test_noise_free_measurements_give_back_the_parameters_within_1_percent(truth):
    template = parse_measurements({"hr_bpm": 72} | {k: {"value": MEASURES[k][1] + 1, "method": m} for k, m in FULL_PANEL.items()})
    prob = problem(template, "secondary_mr")
    u = np.array([
        (np.log(truth[p.name] / prob.center(p)) if p.transform == "log" else truth[p.name] - prob.center(p)) / p.prior_sd
        for p in prob.params
    ])  # fmt: skip
    q, _ = forward(prob.pset, prob.overrides(u[None, :]), SETTINGS, True)
    meas = parse_measurements({"hr_bpm": 72} | {k: {"value": float(q[MEASURES[k][0]][0]), "method": m} for k, m in FULL_PANEL.items()})
    cal = calibrate_measurements(meas, "secondary_mr", prior=False, n_ensemble=0, max_nfev=200)
    assert cal.converged, cal.message
    for name, v in truth.items():
        got = cal.parameters[name]["value"]
        assert got == pytest.approx(v, rel=0.01, abs=0.01 * abs(prob.center(next(p for p in prob.params if p.name == name))) if v == 0 else 0), name
    assert all(abs(r["z"]) < 1e-3 for r in cal.residuals)


def _coverage(n: int, seed: int) -> tuple[float, int]:
    hits = total = 0
    for p in synthetic_patients(n, seed):
        cal = calibrate_measurements(p.measurements, "secondary_mr", n_ensemble=200, seed=seed)
        assert cal.converged, cal.message
        for k, v in p.truth.items():
            total += 1
            hits += cal.parameters[k]["p05"] <= v <= cal.parameters[k]["p95"]
    return hits / total, total


def test_laplace_intervals_cover_the_truth_about_90_percent_of_the_time():
    """20 synthetic patients x 9 parameters: the 90 % intervals' hit rate within a 3-SD binomial band."""
    cov, total = _coverage(20, seed=11)
    band = 3 * np.sqrt(0.9 * 0.1 / total)
    assert 0.9 - band <= cov <= 0.9 + band


@pytest.mark.slow
def test_laplace_intervals_cover_85_to_95_percent_of_200_patients():
    cov, _ = _coverage(200, seed=5)
    assert 0.85 <= cov <= 0.95


def test_identifiability_names_what_blood_pressure_alone_cannot_determine():
    cal = calibrate_measurements(parse_measurements({"sbp_mmhg": 118, "dbp_mmhg": 72}), "secondary_mr", n_ensemble=16)
    und = set(cal.identifiability["undetermined"])
    assert {"lv_v0_ml", "la_v0_ml", "la_eb_mmhg_ml", "pvr_scale"} <= und
    assert "sys_ar_r_mmhg_s_ml" not in und or "sys_ar_c_ml_mmhg" not in und  # BP speaks to the arteries
    assert len(cal.identifiability["singular_values"]) == 2  # two measurements: rank at most 2


def test_ensemble_intervals_contain_the_fitted_value():
    cal = calibrate_measurements(parse_measurements({"sbp_mmhg": 118, "dbp_mmhg": 72, "lvedv_ml": 193, "lvef_pct": 31}), "secondary_mr")
    for k, v in cal.predictions.items():
        assert v["p05"] <= v["value"] <= v["p95"] or np.isclose(v["p05"], v["p95"]), k


def test_a_fit_that_does_not_converge_says_so_and_why():
    cal = calibrate_measurements(parse_measurements({"sbp_mmhg": 118, "dbp_mmhg": 72, "lvedv_ml": 193}), "secondary_mr", max_nfev=1, n_ensemble=0)
    assert not cal.converged and cal.message.startswith("did not converge") and "evaluations" in cal.message


@pytest.mark.parametrize("data,field", [
    ({"lvedv_ml": 150, "lvesv_ml": 160}, "measurements.lvesv_ml"),
    ({"lvedv_ml": 150, "lvef_pct": 40, "rvol_ml": 70}, "measurements.rvol_ml"),
    ({"lvedv_ml": 150, "lvesv_ml": 60, "lvef_pct": 35}, "measurements.lvef_pct"),
    ({"la_mean_mmhg": -3}, "measurements.la_mean_mmhg"),
    ({"sbp_mmhg": 80, "dbp_mmhg": 90}, "measurements.dbp_mmhg"),
    ({"la_mean_mmhg": 20, "la_vwave_mmhg": 15}, "measurements.la_vwave_mmhg"),
    ({"lvedv_ml": {"value": 150, "method": "mri"}}, "measurements.lvedv_ml.method"),
    ({"lvedv_ml": {"value": 150, "sd": 0}}, "measurements.lvedv_ml.sd"),
    ({"lv_mass_g": 200}, "measurements.lv_mass_g"),
])  # fmt: skip
def test_impossible_measurements_name_the_fields(data, field):
    with pytest.raises(InputError) as e:
        parse_measurements(data)
    assert e.value.field == field


def test_case_file_measurement_errors_name_the_case_path():
    import yaml

    from mitrasim.case import load_case, parse_case

    data = yaml.safe_load((ROOT / "examples" / "coapt_secondary.yaml").read_text())
    data["measurements"]["lvedv_ml"] = {"value": 120, "method": "echo_2d"}
    data["measurements"]["rvol_ml"] = 60
    with pytest.raises(InputError) as e:
        parse_case(data)
    assert e.value.field == "measurements.rvol_ml"
    assert load_case(ROOT / "examples" / "coapt_secondary.yaml").measurements.lvedv_ml.value == 193


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_has_measurements_and_is_calibrated(path):
    from mitrasim.procedure.patient import calibrate_case, calibrated_overrides
    from mitrasim.case import load_case
    from mitrasim.procedure.process import setup_from_case

    case = load_case(path)
    assert case.measurements is not None
    cal = calibrate_case(case)
    assert cal.converged, cal.message
    assert all(abs(r["z"]) < 3 for r in cal.residuals), cal.residuals
    setup = setup_from_case(case)
    assert setup.overrides == calibrated_overrides(case)
    assert setup.overrides["lv_ea_mmhg_ml"] == cal.parameters["lv_ea_mmhg_ml"]["value"]


def test_cli_calibrate_json_and_bad_input_exit_2(tmp_path):
    def run(*a):
        return subprocess.run([sys.executable, "-m", "mitrasim", "calibrate", *a], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    r = run("examples/coapt_secondary.yaml", "--json", "--ensemble", "16")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["converged"] and "lv_ea_mmhg_ml" in d["parameters"] and d["predictions"]["co_l_min"]["p05"] <= d["predictions"]["co_l_min"]["p95"]
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "examples" / "coapt_secondary.yaml").read_text().replace("lvedv_ml: {value: 193, method: echo_2d}", "lvedv_ml: 193\n  lvesv_ml: 200"))
    r = run(str(bad))
    assert r.returncode == 2 and "measurements.lvesv_ml" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_procedure_on_the_calibrated_patient_carries_intervals():
    from mitrasim.procedure.intervals import PLAN_QUANTITIES, procedure_intervals
    from mitrasim.case import load_case

    r = procedure_intervals(load_case(ROOT / "examples" / "p2_flail.yaml"), n_ensemble=24)
    assert r["clips"]
    for state in ("before", "after"):
        for q in PLAN_QUANTITIES:
            v = r[state][q]
            assert v["p05"] <= v["p95"] and np.isfinite(v["value"]), (state, q)
    assert r["after"]["rvol_ml"]["p95"] < r["before"]["rvol_ml"]["p05"]  # the clip takes the leak down in every member
    assert r["after"]["mva_cm2"] < r["before"]["mva_cm2"]  # and narrows the valve (the gradient may fall: less inflow)


def test_ensemble_members_move_continuously_with_the_covariance():
    """A rounding-level change of the covariance moves every member by a rounding-level amount,
    also where the data leave several parameters at their prior (equal eigenvalues, whose
    eigenvectors an eigen-decomposition may turn arbitrarily)."""
    from mitrasim.calibrate.fit import _ensemble

    rng = np.random.default_rng(4)
    p = 6
    J = np.vstack([rng.standard_normal((2, p)), np.eye(p)])  # two measurements, prior rows
    cov = np.linalg.inv(J.T @ J)
    lo, hi = np.full(p, -50.0), np.full(p, 50.0)
    a = _ensemble(np.zeros(p), cov, 64, 7, lo, hi)
    bump = 1e-13 * rng.standard_normal((p, p))
    b = _ensemble(np.zeros(p), cov + bump + bump.T, 64, 7, lo, hi)
    assert np.max(np.abs(a - b)) < 1e-9
    # the draws have the covariance asked for
    many = _ensemble(np.zeros(p), cov, 200_000, 1, lo, hi)
    np.testing.assert_allclose(np.cov(many.T), cov, atol=0.02)
