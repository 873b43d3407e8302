"""Issue 12 item 5 and the sPAP observation model: impossible measurement combinations name their
fields (one line, exit 2 on the command line), a fit that does not converge says so and why, and a
measured sPAP is compared with the model's mean PA pressure through Chemla 2004."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mitrasim.calibrate import calibrate_measurements, parse_measurements
from mitrasim.calibrate.measurements import CHEMLA2004_INTERCEPT_MMHG, CHEMLA2004_SLOPE
from mitrasim.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("data,field", [
    ({"lvedv_ml": 150, "lvesv_ml": 150}, "measurements.lvesv_ml"),  # LVESV = LVEDV: no stroke volume
    ({"lvedv_ml": {"value": 120, "method": "cmr"}, "lvesv_ml": {"value": 130, "method": "cmr"}}, "measurements.lvesv_ml"),
    ({"lvedv_ml": 150, "lvesv_ml": 100, "rvol_ml": 60}, "measurements.rvol_ml"),  # RVol > EDV − ESV
    ({"lvedv_ml": 150, "lvesv_ml": 60, "lvef_pct": 80}, "measurements.lvef_pct"),  # 60 % from the volumes
    ({"sbp_mmhg": -10}, "measurements.sbp_mmhg"),
    ({"dbp_mmhg": -5}, "measurements.dbp_mmhg"),
    ({"la_vwave_mmhg": -1}, "measurements.la_vwave_mmhg"),
    ({"spap_mmhg": -20}, "measurements.spap_mmhg"),
    ({"rap_mmhg": -2, "tr_vmax_m_s": 3.0}, "measurements.rap_mmhg"),
    ({"mean_gradient_mmhg": -1}, "measurements.mean_gradient_mmhg"),
])  # fmt: skip
def test_more_impossible_measurements_name_the_fields(data, field):
    with pytest.raises(InputError) as e:
        parse_measurements(data)
    assert e.value.field == field and len(str(e.value).splitlines()) == 1


def test_lvef_inconsistent_with_the_volumes_names_the_fields_and_the_volumes_value():
    with pytest.raises(InputError) as e:
        parse_measurements({"lvedv_ml": 200, "lvesv_ml": 150, "lvef_pct": 55})
    msg = str(e.value)
    assert "lvedv_ml" in msg and "lvesv_ml" in msg and "25.0 %" in msg  # the LVEF the volumes give


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mitrasim", *args], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})  # fmt: skip


@pytest.mark.parametrize("edit,field", [
    ({"sbp_mmhg": -20}, "measurements.sbp_mmhg"),
    ({"lvesv_ml": 200}, "measurements.lvesv_ml"),
    ({"lvesv_ml": 100, "lvef_pct": 70}, "measurements.lvef_pct"),
])  # fmt: skip
def test_plan_and_calibrate_refuse_impossible_measurements_in_one_line(tmp_path, edit, field):
    data = yaml.safe_load((ROOT / "examples" / "p2_flail.yaml").read_text())
    data["measurements"].update(edit)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    for cmd in ("calibrate", "plan"):
        r = _cli(cmd, str(bad))
        err = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(err) == 1 and field in err[0], (cmd, r.stderr)


def test_a_case_whose_fit_does_not_converge_is_refused_saying_why(monkeypatch):
    from mitrasim.case import load_case
    from mitrasim.procedure import patient

    real = patient.calibrate_measurements
    monkeypatch.setattr(patient, "calibrate_measurements", lambda *a, **k: real(*a, **(k | {"max_nfev": 1})))
    patient._cached.cache_clear()
    try:
        with pytest.raises(InputError) as e:
            patient.calibrate_case(load_case(ROOT / "examples" / "p2_flail.yaml"), n_ensemble=0)
    finally:
        patient._cached.cache_clear()
    msg = str(e.value)
    assert e.value.field == "measurements" and "did not converge" in msg and "evaluations" in msg  # what and why


def test_a_fit_whose_engine_finds_no_steady_beat_says_so():
    # a beat budget no circulation reaches its steady state in: the engine's reason is named
    import dataclasses

    from mitrasim.calibrate.fit import SETTINGS

    cal = calibrate_measurements(parse_measurements({"sbp_mmhg": 120, "lvedv_ml": 150}), "regazzoni2022_normal", n_ensemble=0,
                                 settings=dataclasses.replace(SETTINGS, max_beats=2), max_nfev=3)  # fmt: skip
    assert not cal.converged and "no steady beat" in cal.message


def test_measured_spap_is_compared_through_chemla_with_the_models_mean_pa_pressure():
    cal = calibrate_measurements(parse_measurements({"sbp_mmhg": 125, "dbp_mmhg": 75, "lvedv_ml": 150, "spap_mmhg": {"value": 40, "method": "rhc"}}),
                                 "primary_mr", n_ensemble=8)  # fmt: skip
    r = next(x for x in cal.residuals if x["name"] == "spap_mmhg")
    mpap = cal.predictions["pa_mean_mmhg"]["value"]
    assert r["predicted"] == pytest.approx((mpap - CHEMLA2004_INTERCEPT_MMHG) / CHEMLA2004_SLOPE, rel=1e-9)
    assert "chemla2004_mpap" in r["sources"]
    # an invasive sPAP of 40 mmHg (SD 2) is a mean PA pressure near Chemla's 26.4 mmHg: the fit gets there
    assert mpap == pytest.approx(CHEMLA2004_SLOPE * 40 + CHEMLA2004_INTERCEPT_MMHG, abs=3 * 2 * CHEMLA2004_SLOPE)
