"""One echo path: the procedure, the planner, the cohort, the web and the care plan measure a
simulated state with :mod:`mitrasim.echo.simulated`, and agree on every shipped example.

The cohort runs :func:`mitrasim.procedure.process.run_procedure_arrays` (the procedure's own
batched function) and the care plan reads the procedure's result, so the procedure's numbers
are theirs; the web's valve assessment and the planner run their own engine batches and must
give the same measurements of the same baseline state.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from _procedure_shared import EXAMPLES, NAMES, case, plan, procedures


@pytest.fixture(scope="module")
def web_before():
    from mitrasim.web.services import assess_clips

    return {n: assess_clips(yaml.safe_load((EXAMPLES / f"{n}.yaml").read_text()), [])["before"] for n in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_web_planner_and_procedure_agree_on_the_baseline(name, web_before):
    res, _ = procedures()
    p = res[name].baseline
    w = web_before[name]
    pl = plan(name).baseline
    for other in (w["echo"], pl.echo.to_dict()):
        assert other["eroa_cm2"] == pytest.approx(p.echo.eroa_cm2, rel=1e-9)
        # the orifice shape (and so the vena contracta) is the etiology's, wherever it is measured
        assert other["vc_cm"] == pytest.approx(p.echo.vc_cm, rel=1e-9)
        assert other["vc_aspect_ratio"] == p.echo.vc_aspect_ratio
        assert other["rvol_ml"] == pytest.approx(p.echo.rvol_ml, rel=0.02)  # engine steady-state tolerance
        assert other["rf_pct"] == pytest.approx(p.echo.rf_pct, abs=1.5)
    assert w["mr_grade"] == p.grade.grade == pl.grade.grade, (name, w["mr_reasons"][0], p.grade.reasons[0])


def test_coapt_vena_contracta_is_the_same_everywhere(web_before):
    """The issue's example: the web said 0.72 cm (circular orifice), the procedure 0.46 cm."""
    res, _ = procedures()
    vc = res["coapt_secondary"].baseline.echo.vc_cm
    assert web_before["coapt_secondary"]["echo"]["vc_cm"] == pytest.approx(vc, rel=1e-9)
    assert res["coapt_secondary"].baseline.echo.vc_aspect_ratio > 1.0


def test_cohort_columns_are_the_procedure_path():
    from mitrasim.procedure.process import run_procedure_arrays, _as_setup

    res, _ = procedures()
    setups = [_as_setup(case(n), None) for n in NAMES]
    arr = run_procedure_arrays(setups, seed=None)
    for i, n in enumerate(NAMES):
        assert arr.baseline_echo["vc_cm"][i] == pytest.approx(res[n].baseline.echo.vc_cm, rel=1e-9)
        assert arr.baseline_echo["rf_pct"][i] == pytest.approx(res[n].baseline.echo.rf_pct, rel=1e-9)


def test_brief_negative_pv_sample_is_not_a_reversal():
    """A retrograde systolic dip smaller than the forward S wave is not a reversal; one that
    reaches PV_REVERSAL_REL_S × S is; S below D without reversal is blunted, else normal."""
    from mitrasim.echo.signs import PV_CODES, PV_REVERSAL_REL_S, pv_pattern_code

    s_pk = np.array([80.0, 80.0, 80.0, 80.0, 120.0, 0.0])
    d_pk = np.array([100.0, 100.0, 100.0, 100.0, 100.0, 100.0])
    lim = PV_REVERSAL_REL_S * 80.0
    q_min = np.array([-1.0, -(lim - 1e-6), -lim, 5.0, -1.0, 0.0])
    got = pv_pattern_code(q_min, s_pk, d_pk).tolist()
    c = PV_CODES
    assert got == [c["blunted"], c["blunted"], c["reversal"], c["blunted"], c["normal"], c["blunted"]]
