"""Each shipped example gives the result a cardiologist would find plausible (complications off)."""

from __future__ import annotations

import numpy as np
import pytest

from _procedure_shared import NAMES, case, procedures


@pytest.fixture(scope="module")
def res():
    return procedures()[0]


def test_p2_flail_one_or_two_clips_mr_mild_gradient_below_5(res):
    r = res["p2_flail"]
    assert 1 <= r.n_clips <= 2
    assert r.final.decision_grade <= 1
    assert r.final.mean_gradient_mmhg < 5.0
    assert r.baseline.decision_grade >= 3
    assert r.clips[0].scallop == "A2/P2"
    assert r.mvarc.success is True


def test_coapt_like_one_or_two_clips_mr_at_most_2(res):
    r = res["coapt_secondary"]
    assert 1 <= r.n_clips <= 2
    assert r.final.decision_grade <= 2
    assert r.final.mean_gradient_mmhg < 5.0
    assert r.final.mva_cm2 >= 1.5


def test_small_valve_single_clip_and_no_stenosis(res):
    r = res["small_valve"]
    assert r.n_clips == 1
    assert r.final.mean_gradient_mmhg < 5.0
    assert r.final.mva_cm2 >= 1.5


def test_barlow_clips_within_rules_residual_mr_may_stay_significant(res):
    """Barlow: several clips; residual MR may stay moderate or worse when a further clip would make the
    valve stenotic, and the stop reason must then say so (a heart team would then discuss surgery)."""
    r = res["barlow"]
    assert r.n_clips >= 2
    assert r.final.decision_grade <= r.baseline.decision_grade - 1
    # the gradient rule applies to the reading the clip was released on (anaesthesia, reading noise);
    # the awake gradient may end above it (issue 13)
    assert r.intraprocedural["end"]["mean_gradient_mmhg_read"] < 5.0
    assert r.final.mva_cm2 >= 1.5
    if r.final.decision_grade > 2:
        assert "gradient" in r.stop_reason or "MVA" in r.stop_reason


def test_commissural_one_clip_near_the_commissure(res):
    r = res["commissural_a3p3"]
    assert r.n_clips == 1
    assert r.clips[0].scallop == "A3/P3"
    assert r.final.decision_grade <= 1


@pytest.mark.parametrize("name", NAMES)
def test_operator_log_reads_as_steps(res, name):
    r = res[name]
    assert r.log[0].startswith("Baseline:")
    assert r.log[-1].startswith("Result:")
    released = [s for s in r.steps if s.action == "release"]
    assert len(released) == r.n_clips
    for s in released:
        assert "EROA" in s.text and "MR" in s.text and "mean gradient" in s.text and s.text.endswith("release")


@pytest.mark.parametrize("name", NAMES)
def test_operator_log_has_the_phases_and_its_minutes_add_up(res, name):
    r = res[name]
    acts = [s.action for s in r.steps]
    for a in ("access", "transseptal", "steering", "align", "grasp", "insertion", "final_check", "closure"):
        assert a in acts, a
    assert acts.index("transseptal") < acts.index("align") < acts.index("grasp") < acts.index("insertion") < acts.index("release") < acts.index("final_check")
    assert sum(s.minutes for s in r.steps) == pytest.approx(r.course["procedure_minutes"])
    assert f"Procedure time {r.course['procedure_minutes']:.0f} min" in next(s.text for s in r.steps if s.action == "closure")
    assert "above the mitral annular plane" in next(s.text for s in r.steps if s.action == "transseptal")
    assert r.course["grasps"] == sum(a == "grasp" for a in acts)


@pytest.mark.parametrize("name", NAMES)
def test_every_released_clip_lowers_eroa_and_mva_never_rises(res, name):
    r = res[name]
    prev_eroa, prev_mva, prev_grade = r.baseline.eroa_cm2, r.baseline.mva_cm2, r.baseline.decision_grade
    for s in r.steps:
        if s.action == "release":
            assert s.eroa_cm2 <= prev_eroa + 1e-12
            assert s.mva_cm2 <= prev_mva + 1e-12
            assert int(s.mr_grade.rstrip("+") or 0) <= prev_grade if s.mr_grade[0].isdigit() else True
            prev_eroa, prev_mva = s.eroa_cm2, s.mva_cm2


def test_batch_arrays_match_results():
    res, batch = procedures()
    a = batch.arrays()
    assert a["n_clips"].shape == (len(NAMES),)
    for i, n in enumerate(NAMES):
        assert a["n_clips"][i] == res[n].n_clips
        assert a["eroa_cm2_after"][i] == pytest.approx(res[n].final.eroa_cm2)
    assert np.all(a["eroa_cm2_after"] <= a["eroa_cm2_before"])
    assert np.all(a["mva_cm2_after"] <= a["mva_cm2_before"])
    assert not a["slda"].any() and not a["bleeding"].any()  # seed None: no complications


def test_html_report_shows_the_operators_log(res):
    from mitrasim.procedure.report import render_report

    r = res["coapt_secondary"]
    html = render_report(case=case("coapt_secondary"), procedure=r)
    assert "Operator&#39;s log" in html or "Operator's log" in html
    for s in r.steps:
        assert f"<td>{s.action}</td>" in html
    assert "Transseptal puncture" in html and "venous access closed" in html
    assert f"Procedure time {r.course['procedure_minutes']:.0f} min" in html
