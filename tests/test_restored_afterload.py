"""Decisions read with the afterload restored under general anaesthesia (issue 13 follow-up):
the loading state, its monotone effect on the reading, each protocol branch, bad input."""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pytest

from _procedure_shared import case
from mitrasim.errors import InputError
from mitrasim.procedure.loading import (
    ANAESTHESIA_CHANGE,
    FUNCTIONAL_GAP_SCALE,
    loading_arrays,
    loading_overrides,
    valve_in_state,
)
from mitrasim.physiology.parameter_sets import get_parameter_set
from mitrasim.physiology.simulation import SolverSettings
from mitrasim.procedure.calibration import FORWARD_DISCHARGE_COEFF
from mitrasim.procedure.hemodynamics import echo_arrays, grade_arrays, simulate_states
from mitrasim.procedure.process import run_procedure_arrays, setup_from_case
from mitrasim.protocol import DEFAULT_PROTOCOL, check_protocol
from mitrasim.procedure.clip_calibration import _valve

FAST = SolverSettings(dt_max_s=4e-3, tol=1e-2)
RESTORED = "anaesthesia_restored_afterload"


def test_restored_state_is_anaesthesia_with_the_awake_afterload():
    """R_sys back to the patient's own value (override or preset); venous capacitance and heart rate stay GA's."""
    own = {"sys_ar_r_mmhg_s_ml": 1.7, "lv_eb_mmhg_ml": 0.03}
    ga, hr_ga = loading_overrides("secondary_mr", own, 80.0, "anaesthesia")
    rs, hr_rs = loading_overrides("secondary_mr", own, 80.0, RESTORED)
    assert rs["sys_ar_r_mmhg_s_ml"] == 1.7 and ga["sys_ar_r_mmhg_s_ml"] == pytest.approx(
        1.7 * (1 + ANAESTHESIA_CHANGE["sys_ar_r_mmhg_s_ml"])
    )
    assert rs["sys_ven_c_ml_mmhg"] == ga["sys_ven_c_ml_mmhg"] and hr_rs == hr_ga < 80.0
    assert rs["lv_eb_mmhg_ml"] == 0.03
    # a resistance not overridden is the preset's own value
    rs0, _ = loading_overrides("secondary_mr", {}, 80.0, RESTORED)
    assert (
        rs0.get("sys_ar_r_mmhg_s_ml", get_parameter_set("secondary_mr").values["sys_ar_r_mmhg_s_ml"])
        == get_parameter_set("secondary_mr").values["sys_ar_r_mmhg_s_ml"]
    )
    # the functional gap is the awake one; a flail is the same in every state
    fmr, flail = _valve("coapt_secondary"), _valve("p2_flail")
    assert FUNCTIONAL_GAP_SCALE[RESTORED] == 1.0
    assert valve_in_state(fmr, RESTORED).eroa_cm2 == fmr.eroa_cm2 > valve_in_state(fmr, "anaesthesia").eroa_cm2
    assert valve_in_state(flail, RESTORED).eroa_cm2 == flail.eroa_cm2


def test_bad_state_is_one_line_naming_the_states():
    with pytest.raises(InputError) as e:
        loading_overrides("secondary_mr", {}, 70.0, "phenylephrine")
    assert e.value.field == "loading_state" and e.value.value == "phenylephrine" and RESTORED in e.value.allowed


SCALES = (0.6, 0.8, 1.0, 1.2)


@functools.lru_cache(maxsize=None)
def _readings():
    """The functional valve scaled in gap, read in three ways in one engine batch: GA, GA's valve with
    the afterload restored (the pressure effect alone), and the restored state (pressure and valve)."""
    base = _valve("coapt_secondary")
    rows = []
    for s in SCALES:
        v = base.with_(gap_functional_mm=base.gap_functional_mm * s)
        v_ga = valve_in_state(v, "anaesthesia")
        rows += [
            ("ga", v_ga, "anaesthesia"),
            ("afterload", v_ga, RESTORED),
            ("restored", valve_in_state(v, RESTORED), RESTORED),
        ]
    over, hr = loading_arrays(
        ["secondary_mr"] * len(rows), [{}] * len(rows), np.full(len(rows), 72.0), [r[2] for r in rows]
    )
    h = simulate_states(
        ["secondary_mr"] * len(rows),
        over,
        hr,
        np.array([r[1].eroa_cm2 for r in rows]),
        np.array([r[1].mva_cm2 for r in rows]),
        FORWARD_DISCHARGE_COEFF,
    )
    e = echo_arrays(h, np.ones(len(rows), bool))
    _, dec = grade_arrays(e, np.ones(len(rows), bool))
    k = len(SCALES)
    shape = lambda a: np.asarray(a).reshape(k, 3)  # noqa: E731
    return shape(e["rvol_ml"]), shape(dec)


def test_restoring_afterload_raises_the_read_regurgitation_in_functional_mr():
    """Monotone property, same valve: restoring the afterload raises the regurgitant volume (pressure
    alone, and with the awake functional gap) and never lowers the grade."""
    rvol, dec = _readings()
    assert np.all(rvol[:, 1] > rvol[:, 0])  # a higher LV systolic pressure drives more flow through the same orifice
    assert np.all(rvol[:, 2] > rvol[:, 1])  # and the awake (wider) functional gap more still
    assert np.all(dec[:, 2] >= dec[:, 0]) and np.all(dec[:, 1] >= dec[:, 0])
    assert np.any(dec[:, 2] > dec[:, 0])  # the restored reading changes at least one grade in the range
    assert np.all(np.diff(rvol, axis=0) > 0)  # and the readings still rank the valves by gap


# ----------------------------------------------------------------------------- protocol branches


def _setup(name: str, restored: bool):
    s = setup_from_case(case(name))
    return replace(s, rules=s.rules.with_(assess_at_restored_afterload=restored))


@functools.lru_cache(maxsize=None)
def _run(loading: str):
    """coapt_secondary and p2_flail, with and without the option, one batch (exact readings)."""
    setups = [_setup(n, r) for r in (True, False) for n in ("coapt_secondary", "p2_flail")]
    return run_procedure_arrays(setups, seed=None, settings=FAST, loading=loading)


def test_default_follows_practice():
    assert DEFAULT_PROTOCOL.assess_at_restored_afterload is True
    assert check_protocol({"assess_at_restored_afterload": False}).assess_at_restored_afterload is False


def test_option_on_reads_decisions_at_restored_afterload():
    r = _run("anaesthesia")
    assert r.loading == "anaesthesia"
    assert r.decision_states == [RESTORED, RESTORED, "anaesthesia", "anaesthesia"]
    rv = r.intraprocedural_baseline.metrics["rvol_ml"]
    assert rv[0] > rv[2]  # functional MR: the restored reading is higher than GA's
    # the awake assessment and its grade are the same whatever the option
    assert np.array_equal(r.baseline.metrics["rvol_ml"][:2], r.baseline.metrics["rvol_ml"][2:])
    # every log names the state of its intraprocedural reading
    assert "afterload restored" in r.steps[0][1].text and "afterload restored" not in r.steps[2][1].text
    assert "general anaesthesia" in r.steps[2][1].text
    checks = [[s.text for s in steps if s.text.lstrip().startswith("check")] for steps in r.steps]
    assert checks[0] and all("(afterload restored)" in t for t in checks[0])
    assert checks[2] and all("(under GA)" in t for t in checks[2])


def test_option_off_is_the_anaesthesia_run():
    """Off, the decisions are GA's own: the same course as a batch of only those patients."""
    r = _run("anaesthesia")
    alone = run_procedure_arrays(
        [_setup(n, False) for n in ("coapt_secondary", "p2_flail")], seed=None, settings=FAST, loading="anaesthesia"
    )
    assert np.allclose(
        r.intraprocedural_baseline.metrics["rvol_ml"][2:], alone.intraprocedural_baseline.metrics["rvol_ml"], rtol=1e-9
    )
    assert [len(c) for c in r.clips[2:]] == [len(c) for c in alone.clips]


def test_awake_procedure_ignores_the_option():
    r = _run("awake")
    assert r.decision_states == ["awake"] * 4
    assert np.allclose(
        r.intraprocedural_baseline.metrics["rvol_ml"][:2], r.intraprocedural_baseline.metrics["rvol_ml"][2:], rtol=1e-12
    )


def test_outputs_name_the_reading_state():
    from mitrasim.procedure import run_procedures

    res = run_procedures([case("coapt_secondary")], seed=None, settings=FAST).results[0].to_dict()
    assert (
        res["intraprocedural"]["loading"] == RESTORED and res["intraprocedural"]["procedure_loading"] == "anaesthesia"
    )
    assert res["loading"] == {"baseline": "awake", "final": "awake", "intraprocedural": RESTORED}


@pytest.mark.parametrize("preset,valve", [("secondary_mr", "coapt_secondary"), ("primary_mr", "p2_flail")])
def test_restored_pressure_lies_between_anaesthesia_and_awake(preset, valve):
    """The awake resistance with GA's lower preload and heart rate (lower output) restores the mean
    arterial pressure from GA's towards, but not above, the awake one (module docstring)."""
    states = ("awake", "anaesthesia", RESTORED)
    v = [valve_in_state(_valve(valve), s) for s in states]
    over, hr = loading_arrays([preset] * 3, [{}] * 3, np.full(3, 72.0), list(states))
    h = simulate_states([preset] * 3, over, hr, np.array([x.eroa_cm2 for x in v]), np.array([x.mva_cm2 for x in v]), FORWARD_DISCHARGE_COEFF)
    awake, ga, restored = h.metrics["map_mmhg"]
    assert ga < restored <= awake
