"""Issue 12: every downstream prediction carries the calibration's uncertainty ensemble.

The planner's reported plans and baseline, the procedure's before/after and their outputs (text,
JSON, HTML, FHIR) carry 90 % intervals of LA pressure, forward output and mean gradient; the
intervals contain the point estimate, widen when the measurements are less certain, and cover a
synthetic patient's true post-clip values at about the stated rate.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mitrasim.case import load_case

ROOT = Path(__file__).resolve().parents[1]
SHOWN = ("la_mean_mmhg", "co_l_min", "mean_gradient_mmhg")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mitrasim", *args], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})  # fmt: skip


def _contains(row: dict) -> bool:
    return all(row[q]["p05"] <= row[q]["value"] <= row[q]["p95"] and row[q]["p05"] < row[q]["p95"] for q in SHOWN)


@pytest.fixture(scope="module")
def p2_plan():
    from mitrasim.procedure.planner import plan_case

    return plan_case(load_case(ROOT / "examples" / "p2_flail.yaml"), n_ensemble=32)


def test_every_reported_plan_and_the_baseline_carry_intervals_that_contain_the_point_estimate(p2_plan):
    res = p2_plan
    assert res.baseline_intervals is not None and _contains(res.baseline_intervals)
    shown = res.reported(10)
    assert len(shown) >= 10 and all(p.intervals is not None and _contains(p.intervals) for p in shown)
    assert all(p.intervals["ensemble_members"] + p.intervals["ensemble_dropped"] == 32 for p in shown)
    # the point estimate is the planner's own: the plan's reported values
    for p in shown:
        assert p.intervals["la_mean_mmhg"]["value"] == p.la_mean_mmhg and p.intervals["mean_gradient_mmhg"]["value"] == p.mean_gradient_mmhg
    # plans nobody sees carry none, and say so in the plan's uncertainty record
    assert any(p.intervals is None for p in res.plans) and res.uncertainty["plans_with_intervals"] == len(shown)
    d = res.to_dict(top=10)
    assert all(_contains(p["intervals"]) for p in d["top"]) and d["uncertainty"]["n_ensemble"] == 32
    # the clip lowers the regurgitant volume in the whole ensemble (not just at the point estimate)
    best = res.best.intervals
    assert best["rvol_ml"]["p95"] < res.baseline_intervals["rvol_ml"]["p05"]


def test_intervals_all_gives_every_plan_an_interval_and_the_same_rows_as_reported(p2_plan):
    from mitrasim.procedure.planner import plan_case

    res = plan_case(load_case(ROOT / "examples" / "p2_flail.yaml"), n_ensemble=32, intervals="all", position_step_mm=5.0)
    assert all(p.intervals is not None and _contains(p.intervals) for p in res.plans)
    assert res.uncertainty["intervals"] == "every plan"
    # a plan's interval does not depend on which other plans share its batch (same members, same state)
    ref = {(p.devices, p.positions_mm): p.intervals for p in p2_plan.plans if p.intervals is not None}
    common = [p for p in res.plans if (p.devices, p.positions_mm) in ref]
    assert common
    for p in common:
        a, b = p.intervals, ref[(p.devices, p.positions_mm)]
        for q in SHOWN:  # equal within the engine's steady-state tolerance (1e-6 relative in the fit's settings; warm starts differ)
            assert a[q]["p05"] == pytest.approx(b[q]["p05"], rel=1e-3, abs=1e-3) and a[q]["p95"] == pytest.approx(b[q]["p95"], rel=1e-3, abs=1e-3)


def test_a_case_without_measurements_says_why_it_has_no_intervals():
    from mitrasim.procedure.planner import plan_case

    case = load_case(ROOT / "examples" / "p2_flail.yaml")
    case = case.model_copy(update={"measurements": None})
    res = plan_case(case, position_step_mm=5.0)
    assert res.baseline_intervals is None and all(p.intervals is None for p in res.plans)
    assert "no measurements" in res.uncertainty["why"]


def _with_sd_factor(case, factor: float):
    """The case with every measurement's SD multiplied by ``factor`` (its default SD made explicit)."""
    from mitrasim.calibrate.measurements import observations

    meas = case.measurements
    sds = {o.name: o.sd for o in observations(meas)}
    upd = {}
    for name, sd in sds.items():
        m = getattr(meas, name, None)
        if m is not None and hasattr(m, "value"):
            upd[name] = m.model_copy(update={"sd": sd * factor})
    if meas.tr_vmax_m_s is not None:  # sPAP derived from the TR jet: give it as spap_mmhg with its SD
        from mitrasim.calibrate.measurements import DEFAULT_RAP_MMHG, Measured

        rap = DEFAULT_RAP_MMHG if meas.rap_mmhg is None else meas.rap_mmhg
        upd["spap_mmhg"] = Measured(value=4 * meas.tr_vmax_m_s**2 + rap, method="tr_velocity", sd=sds["spap_mmhg"] * factor)
        upd["tr_vmax_m_s"] = None
    return case.model_copy(update={"measurements": meas.model_copy(update=upd)})


def test_intervals_widen_with_the_measurement_sd():
    from mitrasim.procedure.planner import plan_case

    case = load_case(ROOT / "examples" / "coapt_secondary.yaml")
    width = {}
    for f in (0.5, 2.0):
        res = plan_case(_with_sd_factor(case, f), n_ensemble=64, position_step_mm=5.0)
        width[f] = {q: [r[q]["p95"] - r[q]["p05"] for r in (res.baseline_intervals, res.best.intervals)] for q in SHOWN}
    for q in SHOWN:  # less certain measurements leave more of the prior's spread: every interval wider
        assert all(w2 > w1 for w1, w2 in zip(width[0.5][q], width[2.0][q])), (q, width)


def test_procedure_cli_json_and_report_carry_the_intervals(tmp_path):
    html = tmp_path / "proc.html"
    r = _cli("procedure", "examples/p2_flail.yaml", "--json", "--report", str(html))
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    iv = d["intervals"]
    assert iv["uncertainty"]["n_ensemble"] == 64 and _contains(iv["before"]) and _contains(iv["after"])
    assert iv["after"]["la_mean_mmhg"]["value"] == pytest.approx(d["final"]["la_mean_mmhg"])
    text = html.read_text()
    assert "point estimate and 90 % interval" in text and "forward output (L/min)" in text
    # a case without measurements: no intervals, and the JSON says none (null), never a placeholder number
    nomeas = tmp_path / "nomeas.yaml"
    import yaml

    data = yaml.safe_load((ROOT / "examples" / "p2_flail.yaml").read_text())
    data.pop("measurements")
    nomeas.write_text(yaml.safe_dump(data))
    r = _cli("procedure", str(nomeas), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["intervals"] is None


def test_plan_cli_shows_intervals_and_exports_them_as_fhir(tmp_path):
    from fhir.resources.R4B.bundle import Bundle

    html, fhir = tmp_path / "plan.html", tmp_path / "plan.fhir.json"
    r = _cli("plan", "examples/coapt_secondary.yaml", "--top", "3", "--report", str(html), "--fhir", str(fhir))
    assert r.returncode == 0, r.stderr
    assert "Calibrated patient: point estimate [90 % interval" in r.stdout
    text = html.read_text()
    assert "90 % interval per plan" in text and "90 % interval</h3>" in text  # the plan's table and the procedure's
    b = json.loads(fhir.read_text())
    Bundle.model_validate(b)
    codes = {e["resource"]["code"]["coding"][0]["code"]: e["resource"] for e in b["entry"]}
    for q in SHOWN:
        o = codes[f"prediction.plan_1.{q}"]
        p05, p95 = (c["valueQuantity"]["value"] for c in o["component"])
        assert p05 <= o["valueQuantity"]["value"] <= p95
    assert "prediction.baseline.la_mean_mmhg" in codes and "parameter.lv_ea_mmhg_ml" in codes


def test_calibrate_procedure_fhir_exports_the_post_procedure_predictions(tmp_path):
    fhir = tmp_path / "cal.fhir.json"
    r = _cli("calibrate", "examples/p2_flail.yaml", "--procedure", "--ensemble", "16", "--fhir", str(fhir))
    assert r.returncode == 0, r.stderr
    codes = {e["resource"]["code"]["coding"][0]["code"] for e in json.loads(fhir.read_text())["entry"]}
    assert {f"prediction.after_procedure.{q}" for q in SHOWN} <= codes


@pytest.mark.slow
def test_true_post_clip_values_of_synthetic_patients_are_covered_at_the_stated_rate():
    """20 synthetic patients (truth from the prior, measurements with the methods' noise), each
    calibrated, its ensemble run at a clipped valve; the truth at that valve must fall inside the
    90 % interval in about 90 % of (patient, quantity) pairs.  The three quantities of a patient are
    correlated, so the binomial bound uses the 20 patients: 3 SD = 3·sqrt(0.9·0.1/20) ≈ 0.20."""
    from mitrasim.procedure.intervals import post_clip_coverage

    r = post_clip_coverage(20, seed=12)
    print(f"post-clip coverage of the 90 % intervals: {r}")
    assert r["not_converged"] == 0 and r["pairs"] == 60
    assert 0.70 <= r["rate"] <= 1.0, r


def test_web_plan_and_procedure_return_the_intervals(tmp_path):
    pytest.importorskip("fastapi")
    import yaml
    from fastapi.testclient import TestClient

    from mitrasim.web.app import create_app
    from mitrasim.web.settings import WebSettings

    case = yaml.safe_load((ROOT / "examples" / "p2_flail.yaml").read_text())
    settings = WebSettings(db_url=f"sqlite:///{tmp_path / 'web.sqlite3'}", workers=1, task_timeout_s=120)
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as c:
        r = c.post("/api/procedure", json={"case": case, "seed": 0})
        assert r.status_code == 200, r.text
        iv = r.json()["intervals"]
        assert _contains(iv["before"]) and _contains(iv["after"])
        r = c.post("/api/plan", json={"case": case})
        assert r.status_code == 200, r.text
        rk = r.json()["ranking"]
        assert _contains(rk["best"]["intervals"]) and all(_contains(p["intervals"]) for p in rk["top"])
        assert _contains(rk["baseline_intervals"])


def test_warm_started_members_reach_their_own_steady_states():
    """The planner starts every ensemble member from the point estimate's state; the members differ
    in stressed volume (and compliances, unstressed volumes), whose blood the engine conserves, so
    each start is held to the member's own blood: the intervals equal those of cold starts (each
    member as the calibration ran it) to the engine's steady-state tolerance."""
    import numpy as np

    from mitrasim.physiology.simulation import SolverSettings
    from mitrasim.procedure.hemodynamics import simulate_states
    from mitrasim.procedure.intervals import PLAN_QUANTITIES, case_ensemble, state_intervals
    from mitrasim.procedure.patient import calibrate_case, circulation_overrides

    case = load_case(ROOT / "examples" / "coapt_secondary.yaml")
    ens = case_ensemble(case, 16, 0)
    shifts = [m.get("stressed_volume_shift_ml", 0.0) for m in ens.members]
    assert max(shifts) - min(shifts) > 100.0  # the members differ in blood
    tight = SolverSettings(tol=1e-7)
    point = circulation_overrides(calibrate_case(case, 16, 0).overrides)
    eroa, fwd = [0.3], [2.5]
    h = simulate_states([ens.preset], [point], np.array([ens.hr_bpm]), np.array(eroa), np.array(fwd), 1.0, settings=tight)
    values = [{q: float(h.metrics[q][0]) for q in PLAN_QUANTITIES}]
    warm = state_intervals(ens, eroa, fwd, values, initial_state=h.final_state, settings=tight)[0]
    cold = state_intervals(ens, eroa, fwd, values, settings=tight)[0]
    for q in PLAN_QUANTITIES:  # tol 1e-7 per beat (mL, mmHg): percentiles agree far below a reported digit
        assert warm[q]["p05"] == pytest.approx(cold[q]["p05"], abs=1e-3) and warm[q]["p95"] == pytest.approx(cold[q]["p95"], abs=1e-3)
