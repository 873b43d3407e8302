"""Web API against a real SQLite file and a real (one-worker) process pool."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from mitrasim.web.app import create_app  # noqa: E402
from mitrasim.web.settings import WebSettings  # noqa: E402

XTW_A2P2 = {"device": "XTW", "position_mm": 18.5}


@pytest.fixture(scope="module")
def db_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("web") / "web.sqlite3"


@pytest.fixture(scope="module")
def client(db_file: Path):
    settings = WebSettings(db_url=f"sqlite:///{db_file}", workers=1, task_timeout_s=60)
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as c:
        yield c


@pytest.fixture(scope="module")
def p2_case(client: TestClient) -> dict:
    r = client.get("/api/examples/p2_flail")
    assert r.status_code == 200
    return r.json()["case"]


def test_migrations_ran_on_the_sqlite_file(client: TestClient, db_file: Path) -> None:
    con = sqlite3.connect(db_file)
    tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
    assert {"cases", "results", "jobs", "alembic_version"} <= tables
    assert con.execute("select version_num from alembic_version").fetchone()[0] == "0001"


def test_health_meta_and_headers(client: TestClient) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert r.json()["pool"]["kind"] == "process"
    h = r.headers
    assert "script-src 'self'" in h["content-security-policy"] and "frame-ancestors 'none'" in h["content-security-policy"]
    assert "unsafe-inline" not in h["content-security-policy"].split("script-src")[1].split(";")[0]
    assert h["x-content-type-options"] == "nosniff" and h["referrer-policy"] == "no-referrer"
    meta = client.get("/api/meta").json()
    assert "p2_flail" in meta["examples"] and any(d["name"] == "XTW" for d in meta["devices"])
    assert "not a medical device" in meta["disclaimer"]


def test_simulate_batch_with_waveforms(client: TestClient) -> None:
    r = client.post("/api/simulate", json={"eroa_cm2": [0.0, 0.4], "mva_cm2": [4.0], "waveforms": True})
    assert r.status_code == 200, r.text
    p = r.json()["patients"]
    assert len(p) == 2
    assert p[0]["metrics"]["rvol_ml"] < 1.0 < p[1]["metrics"]["rvol_ml"]
    assert len(p[1]["waveforms"]["p_la_mmhg"]) == len(p[1]["waveforms"]["t_s"]) > 50


def test_grade_takes_every_sign_and_names_bad_ones(client: TestClient) -> None:
    """Issue 11: the new ASE 2017 signs through the API (the page's inputs are i16's)."""
    echo = {"mv_morphology": "flail_or_large_defect", "cw_density": "dense_triangular", "pv_flow": "reversal",
            "jet_type": "eccentric_wall_hugging", "vc_biplane_cm": 0.9, "lv_size": "enlarged", "inflow_pattern": "e_dominant"}  # fmt: skip
    r = client.post("/api/grade", json={"echo": echo})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["grade"] == "4+" and d["rule"] == "criteria_severe" and len(d["criteria_severe"]) == 7
    r = client.post("/api/grade", json={"echo": {"eroa_cm2": 0.3, "cw_density": "thick"}})
    assert r.status_code in (400, 422) and "cw_density" in r.text
    r = client.post("/api/grade", json={"echo": {"eroa_cm2": 0.15, "rvol_ml": 25, "rf_pct": 45}})
    assert r.json()["grade"] == "indeterminate" and r.json()["most_likely_grade"] == "1+"


def test_esc_grade_names_the_ase_count_rule(client: TestClient) -> None:
    """An ESC 2021 study decided by the count of criteria says whose rule the count is."""
    from mitrasim.echo.thresholds import COUNT_RULE_SOURCE

    echo = {"mv_morphology": "flail_or_large_defect", "cw_density": "dense_triangular", "pv_flow": "reversal",
            "jet_type": "eccentric_wall_hugging", "eroa_cm2": 0.45, "guideline": "esc2021"}  # fmt: skip
    d = client.post("/api/grade", json={"echo": echo}).json()
    assert d["guideline"] == "esc2021" and d["rule"] == "criteria_severe"
    assert f"the {COUNT_RULE_SOURCE} rule, used for both guideline sets" in d["reasons"][0]


def test_esc_grade_reasons_use_table7_cuts_and_label_ase_mild_criteria(client: TestClient) -> None:
    """ESC 2021 Table 7: biplane VC from 0.8 cm is severe (ASE 2017: above it), an LA index of 59 mL/m² is
    below Table 7's dilated LA (ASE 2017: severe); a mild criterion is labelled ASE 2017's, with the note."""
    from mitrasim.echo.grading import ESC_MILD_COLUMN_NOTE

    echo = {"vc_biplane_cm": 0.8, "la_volume_index_ml_m2": 59, "pv_flow": "normal", "rvol_ml": 40}
    esc = client.post("/api/grade", json={"echo": {**echo, "guideline": "esc2021"}}).json()
    ase = client.post("/api/grade", json={"echo": echo}).json()
    assert esc["criteria_severe"] == ["vena_contracta"] and ase["criteria_severe"] == ["chambers"]
    assert "biplane vena contracta 0.8 cm ≥ 0.8 → severe criterion" in esc["reasons"]
    assert "pulmonary-vein systolic dominance → mild criterion (ASE 2017 mild column)" in esc["reasons"]
    assert ESC_MILD_COLUMN_NOTE in esc["notes"] and ESC_MILD_COLUMN_NOTE not in ase["notes"]
    assert "pulmonary-vein systolic dominance → mild criterion" in ase["reasons"]


def test_grade_matches_the_cli_function(client: TestClient) -> None:
    r = client.post("/api/grade", json={"echo": {"eroa_cm2": 0.5, "rvol_ml": 75, "rf_pct": 55}})
    assert r.status_code == 200 and r.json()["grade"] == "4+"


def test_assess_p2_flail_with_one_clip(client: TestClient, p2_case: dict) -> None:
    r = client.post("/api/valve/assess", json={"case": p2_case, "clips": [XTW_A2P2]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["before"]["mr_grade"] in ("3+", "4+")
    assert out["after"]["eroa_cm2"] < out["before"]["eroa_cm2"] / 2
    assert out["after"]["mva_cm2"] < out["before"]["mva_cm2"]
    assert out["after"]["mr_grade"] in ("0", "1+", "2+")
    assert len(out["after"]["orifices"]["diastolic"]) == 2  # a double orifice
    assert out["clips"][0]["grasp"] in ("good", "marginal")
    assert 0 < out["after"]["mean_gradient_mmhg"] < 10
    assert len(out["valve"]["segment_edges_mm"]) == 4


def test_cases_saved_listed_updated_deleted(client: TestClient, p2_case: dict) -> None:
    r = client.post("/api/cases", json={"name": "P2 flail, one XTW", "case": p2_case, "clips": [XTW_A2P2]})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert any(c["id"] == cid for c in client.get("/api/cases").json()["items"])
    got = client.get(f"/api/cases/{cid}")
    assert got.json()["clips"] == [XTW_A2P2] and got.json()["case"]["valve"]["annulus"]["ic_diameter_mm"] == 37
    r = client.put(f"/api/cases/{cid}", json={"name": "renamed", "case": p2_case, "clips": []}, headers={"If-Match": got.headers["etag"]})
    assert r.status_code == 200 and client.get(f"/api/cases/{cid}").json()["name"] == "renamed"
    r = client.put(f"/api/cases/{cid}", json={"name": "renamed", "case": p2_case, "clips": [XTW_A2P2]}, headers={"If-Match": r.headers["etag"]})
    assert r.status_code == 200
    r = client.post(f"/api/cases/{cid}/assess")
    assert r.status_code == 200 and r.json()["result_id"] > 0
    res = client.get(f"/api/cases/{cid}/results").json()
    assert res[0]["after"]["mr_grade"] is not None
    assert client.delete(f"/api/cases/{cid}").status_code == 204
    assert client.get(f"/api/cases/{cid}").status_code == 404


def test_careplan_with_guide(client: TestClient, p2_case: dict) -> None:
    r = client.post("/api/careplan", json={"procedure_date": "2026-03-02", "case": p2_case, "clips": [XTW_A2P2]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "<html" in body["guide_html"].lower()
    assert body["careplan"]["case"]["clips"][0]["device"] == "XTW"


def test_sweep_job_progress_and_result(client: TestClient) -> None:
    r = client.post("/api/jobs/sweep", json={"n": 24, "chunk": 8, "eroa_max_cm2": 0.5})
    assert r.status_code == 202
    jid = r.json()["id"]
    for _ in range(200):
        j = client.get(f"/api/jobs/{jid}").json()
        if j["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    assert j["status"] == "done" and j["progress"] == 1.0
    rows = j["result"]["rows"]
    assert len(rows) == 24 and rows[-1]["rvol_ml"] > rows[0]["rvol_ml"]


def test_sweep_job_cancel(client: TestClient) -> None:
    jid = client.post("/api/jobs/sweep", json={"n": 2000, "chunk": 1}).json()["id"]
    time.sleep(0.2)
    assert client.delete(f"/api/jobs/{jid}").status_code == 200
    for _ in range(200):
        j = client.get(f"/api/jobs/{jid}").json()
        if j["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    assert j["status"] == "cancelled" and j["progress"] < 1.0
    assert client.get("/api/health").status_code == 200


@pytest.mark.parametrize("path,feature", [("/api/plan", "plan"), ("/api/procedure", "procedure")])
def test_plan_and_procedure_wrap_the_procedure_module(client: TestClient, p2_case: dict, path: str, feature: str) -> None:
    from mitrasim.procedure.intervals import SHOWN

    r = client.post(path, json={"case": p2_case})
    assert r.status_code == 200, r.text
    assert "features" not in client.get("/api/meta").json()  # no "not in this build" scaffolding
    # the page's interval columns come with the intervals: the command line's SHOWN, labels and all
    d = r.json()
    assert [(c["quantity"], c["label"], c["decimals"]) for c in d["interval_columns"]] == [tuple(x) for x in SHOWN]
    iv = d["ranking"]["best"]["intervals"] if feature == "plan" else d["intervals"]["after"]
    assert {q for q, _, _ in SHOWN} <= set(iv)


def test_meta_names_each_guideline_set_once(client: TestClient) -> None:
    from mitrasim.echo.thresholds import GUIDELINE_LABELS, GUIDELINES

    meta = client.get("/api/meta").json()
    assert meta["echo_choices"]["guideline"] == list(GUIDELINES)
    assert meta["echo_labels"]["guideline"] == GUIDELINE_LABELS and set(GUIDELINE_LABELS) == set(GUIDELINES)


def test_trial_job_wraps_the_cohort_module(client: TestClient) -> None:
    r = client.post("/api/jobs/trial", json={"spec": {}})
    assert r.status_code in (202, 422), r.text


def test_page_docs_and_offline_plotly(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "/static/vendor/plotly.min.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN
    js = client.get("/static/vendor/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert client.get("/static/app.js").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/api/valve/assess" in docs.text
    assert "/api/simulate" in client.get("/api/openapi.json").json()["paths"]


def test_every_example_is_served_from_package_data(client: TestClient) -> None:
    """The examples come from the installed package (importlib.resources), not the source tree."""
    import yaml

    from mitrasim.examples_data import EXAMPLES, example_text

    assert client.get("/api/meta").json()["examples"] == list(EXAMPLES)
    for name in EXAMPLES:
        r = client.get(f"/api/examples/{name}")
        assert r.status_code == 200, r.text
        assert r.json()["case"]["name"] == yaml.safe_load(example_text(name))["name"]


def test_assess_uses_the_procedures_forward_discharge_coefficient(client: TestClient, p2_case: dict) -> None:
    """One C_d,fwd: the page's effective MVA and gradient are the procedure's for the same valve states."""
    import numpy as np

    from mitrasim.case import parse_case
    from mitrasim.procedure.calibration import FORWARD_DISCHARGE_COEFF
    from mitrasim.procedure.hemodynamics import simulate_states
    from mitrasim.web.services import resolve_preset

    out = client.post("/api/valve/assess", json={"case": p2_case, "clips": [XTW_A2P2]}).json()
    case = parse_case(p2_case)
    preset, _ = resolve_preset(case.patient.preset)
    states = [out["before"], out["after"]]
    for s in states:
        assert s["mva_effective_cm2"] == pytest.approx(FORWARD_DISCHARGE_COEFF * s["mva_cm2"])
    from mitrasim.procedure.patient import calibrated_overrides  # the case's measurements fitted (issue 12)

    h = simulate_states(
        [preset] * 2, [calibrated_overrides(case)] * 2, np.full(2, case.patient.hr_bpm),
        np.array([s["eroa_cm2"] for s in states]), np.array([s["mva_cm2"] for s in states]), FORWARD_DISCHARGE_COEFF,
    )  # fmt: skip
    for i, s in enumerate(states):
        assert s["mean_gradient_mmhg"] == pytest.approx(float(h.metrics["mean_gradient_mmhg"][i]), rel=0.02, abs=0.05)


def test_procedure_below_indication_refused_unless_research_flag(client: TestClient) -> None:
    small = client.get("/api/examples/small_valve").json()["case"]
    r = client.post("/api/procedure", json={"case": small})
    assert r.status_code in (400, 422) and "indication" in r.text
    r = client.post("/api/procedure", json={"case": small, "research_below_indication": True})
    assert r.status_code == 200, r.text
    assert "RESEARCH RUN" in r.json()["procedure"]["indication_note"]
