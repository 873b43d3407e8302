"""The shipped examples' results against their stored references (examples/reference/NAME.json).

A change of any published number must be deliberate: regenerate with
``PYTHONPATH=src python3 examples/reference/regenerate.py`` and review the diff.  Tolerances:

* Engine outputs: the runs use ``SolverSettings().tol`` (steady when every state changes less than
  ``tol`` over a beat, in mL, mmHg and 10 mL/s).  A mean gradient is a beat average of pressures:
  ``tol`` mmHg.  A volume per beat (RVol, forward SV) integrates a flow state that may still change by
  ``10·tol`` mL/s over the beat, so ``10·tol·T`` mL with the longest beat allowed (``T`` = 60 s over the lowest heart rate of mitrasim.ranges).
  RF = RVol/(RVol + SV) moves by at most ``100·δV/(RVol + SV)`` points for a volume change ``δV``.
* Valve-model areas: the profiles live on a grid of step ``ds_mm``; one cell more or less of the
  largest gap (EROA: ``C_d·max g·ds/100``) or opening (MVA: ``max w·ds/100``) is the model's
  resolution.  Clip positions: one grid step.
* Grades, devices, scallops, clip counts, stop reasons, MVARC endpoints and the planner's verdicts:
  exactly.
* Calibration residuals: each within the calibration's acceptance, ``RESIDUAL_Z_ACCEPTED`` SDs
  (:mod:`mitrasim.calibrate.fit`).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from mitrasim.calibrate.fit import RESIDUAL_Z_ACCEPTED

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "examples" / "reference"


def _regenerate_module():
    spec = importlib.util.spec_from_file_location("regenerate_references", REF / "regenerate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


R = _regenerate_module()
NAMES = R.names()


@pytest.fixture(scope="module")
def current():
    return R.results()


def _tolerances(name: str) -> dict[str, float]:
    from mitrasim.case import load_case
    from mitrasim.physiology.simulation import SolverSettings
    from mitrasim.ranges import RANGES
    from mitrasim.valve import valve_from_spec

    v = valve_from_spec(load_case(ROOT / "examples" / f"{name}.yaml").valve)
    tol = SolverSettings().tol
    longest_beat_s = 60.0 / RANGES["hr_bpm"].lo
    return {
        "mean_gradient_mmhg": tol,
        "volume_ml": 10.0 * tol * longest_beat_s,
        "co_l_min": 10.0 * tol * longest_beat_s * RANGES["hr_bpm"].hi / 1000.0,  # that volume per beat, at the fastest rate
        "eroa_cm2": v.discharge_coeff * float(v.gap_mm.max()) * v.ds_mm / 100.0,
        "mva_cm2": float(v.opening_mm.max()) * v.ds_mm / 100.0,
        "position_mm": v.ds_mm,
    }


def _check_state(now: dict, ref: dict, tol: dict, where: str) -> None:
    assert now["mr_grade"] == ref["mr_grade"] and now["decision_grade"] == ref["decision_grade"], where
    assert now["eroa_cm2"] == pytest.approx(ref["eroa_cm2"], abs=tol["eroa_cm2"]), where
    assert now["mva_cm2"] == pytest.approx(ref["mva_cm2"], abs=tol["mva_cm2"]), where
    assert now["mean_gradient_mmhg"] == pytest.approx(ref["mean_gradient_mmhg"], abs=tol["mean_gradient_mmhg"]), where
    if "rvol_ml" in ref:
        assert now["rvol_ml"] == pytest.approx(ref["rvol_ml"], abs=tol["volume_ml"]), where
    if "forward_sv_ml" in ref:
        assert now["forward_sv_ml"] == pytest.approx(ref["forward_sv_ml"], abs=tol["volume_ml"]), where
        total = ref["rvol_ml"] + ref["forward_sv_ml"]
        assert now["rf_pct"] == pytest.approx(ref["rf_pct"], abs=100.0 * tol["volume_ml"] / total), where


def _check_intervals(now: dict, ref: dict, tol: dict, where: str) -> None:
    """The planner's 90 % intervals (baseline, best plan): pressures within the engine's ``tol`` mmHg,
    forward output within the per-beat volume tolerance at the fastest heart rate."""
    for key in ("baseline_intervals", "best_intervals"):
        if ref.get(key) is None:
            assert now.get(key) is None, where
            continue
        for q, r in ref[key].items():
            a = tol["co_l_min"] if q == "co_l_min" else tol["mean_gradient_mmhg"]
            for k in ("value", "p05", "p95"):
                assert now[key][q][k] == pytest.approx(r[k], abs=a), (where, key, q, k)


def test_every_example_has_a_reference():
    assert NAMES and sorted(p.stem for p in REF.glob("*.json")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_example_matches_its_reference(current, name):
    ref = json.loads((REF / f"{name}.json").read_text())
    now = current[name]
    tol = _tolerances(name)
    _check_state(now["baseline"], ref["baseline"], tol, f"{name} baseline")
    assert set(now["procedure"]) == set(ref["procedure"])
    for label, r in ref["procedure"].items():
        n, where = now["procedure"][label], f"{name} procedure {label}"
        assert [(c["device"], c["scallop"], c["effective"]) for c in n["clips"]] == [(c["device"], c["scallop"], c["effective"]) for c in r["clips"]], where
        for a, b in zip(n["clips"], r["clips"]):
            assert a["position_mm"] == pytest.approx(b["position_mm"], abs=tol["position_mm"]), where
        _check_state(n["final"], r["final"], tol, where)
        assert (n["stop_reason"], n["aborted"], n["complications"], n["mvarc"]) == (r["stop_reason"], r["aborted"], r["complications"], r["mvarc"]), where
    nb, rb = now["plan"]["best"], ref["plan"]["best"]
    assert now["plan"]["n_evaluated"] == ref["plan"]["n_evaluated"]
    assert (nb["devices"], nb["scallops"], nb["failure"]) == (rb["devices"], rb["scallops"], rb["failure"])
    assert nb["positions_mm"] == pytest.approx(rb["positions_mm"], abs=tol["position_mm"])
    _check_state(nb, rb, tol, f"{name} plan")
    assert now["plan"]["verdicts"] == ref["plan"]["verdicts"]
    _check_intervals(now["plan"], ref["plan"], tol, name)
    if "calibration" in ref:  # the same measurements fitted, each within the calibration's acceptance
        assert set(now["calibration"]["z"]) == set(ref["calibration"]["z"]) and all(abs(z) <= RESIDUAL_Z_ACCEPTED for z in now["calibration"]["z"].values())
    if "valve_model" in ref:
        nv, rv = now["valve_model"], ref["valve_model"]
        assert nv["devices"] == rv["devices"]
        for k in ("eroa_before_cm2", "eroa_after_cm2"):
            assert nv[k] == pytest.approx(rv[k], abs=tol["eroa_cm2"])
        for k in ("mva_before_cm2", "mva_after_cm2"):
            assert nv[k] == pytest.approx(rv[k], abs=tol["mva_cm2"])


def test_the_readme_tables_are_the_references():
    """examples/README.md's two tables are generated from the stored references, number for number."""
    readme = (ROOT / "examples" / "README.md").read_text()
    assert R.readme_with_tables(readme, R.stored()) == readme
