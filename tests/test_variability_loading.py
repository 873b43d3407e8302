"""Variability draws, noisy readings and the two loading states (issue 13)."""

import numpy as np
import pytest

from mitrasim.devices.variability import GRASP_DEPTH_LOSS_MAX, PLACEMENT_SD_MM, grasp_depth_factor, normals, patient_keys, placement_error_mm
from mitrasim.errors import InputError
from mitrasim.procedure.loading import FUNCTIONAL_GAP_SCALE_GA, loading_arrays, loading_overrides, valve_in_state
from mitrasim.procedure.calibration import FORWARD_DISCHARGE_COEFF
from mitrasim.procedure.hemodynamics import echo_arrays, simulate_states
from mitrasim.procedure.readings import READING_VARIABILITY, read_echo
from mitrasim.procedure.clip_calibration import _valve


def test_draws_are_a_function_of_key_and_counters_only():
    k = patient_keys(np.random.default_rng(5), 50)
    a = normals(k, 1, 2, 3)
    assert np.array_equal(a, normals(k[::-1], 1, 2, 3)[::-1])  # batch order does not matter
    assert np.array_equal(a[10:20], normals(k[10:20], 1, 2, 3))  # nor batch membership
    assert not np.array_equal(a, normals(k, 1, 2, 4))  # a new attempt is a new draw
    assert not np.array_equal(a, normals(k, 2, 2, 3))  # streams are independent
    assert np.array_equal(patient_keys(np.random.default_rng(5), 80)[:50], k)  # row i: seed and i only


def test_draws_are_standard_normal():
    z = normals(np.arange(100_000, dtype=np.uint64), 1, 0, 0)
    # mean within 4 standard errors, SD within 4 of its standard error (sqrt(1/(2n)))
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    assert abs(z.std() - 1.0) < 4 / np.sqrt(2 * z.size)
    assert np.corrcoef(z[:-1], z[1:])[0, 1] == pytest.approx(0.0, abs=4 / np.sqrt(z.size))


def test_placement_and_depth_distributions():
    z = normals(np.arange(50_000, dtype=np.uint64), 1)
    assert placement_error_mm(z).std() == pytest.approx(PLACEMENT_SD_MM, rel=4 / np.sqrt(2 * z.size))
    f = grasp_depth_factor(z)
    assert f.max() <= 1.0 and f.min() >= 1.0 - GRASP_DEPTH_LOSS_MAX
    assert np.all(np.diff(grasp_depth_factor(np.array([0.0, 0.5, 1.0, 2.0, 10.0]))) <= 0)


def test_readings_unbiased_and_spread_as_stated():
    n = 40_000
    keys = np.arange(n, dtype=np.uint64)
    echo = {k: np.full(n, 1.0) for k in ("eroa_cm2", "pisa_radius_cm", "rvol_ml", "rvol_volumetric_ml", "rf_pct", "vc_cm")}
    echo["mean_gradient_mmhg"] = np.full(n, 4.0)
    r = read_echo(echo, keys, 1, 0)
    v = READING_VARIABILITY
    sd_g = np.hypot(4.0 * v["gradient_beat_cv"], v["gradient_observer_sd_mmhg"])
    assert r["mean_gradient_mmhg"].mean() == pytest.approx(4.0, abs=4 * sd_g / np.sqrt(n))
    assert r["mean_gradient_mmhg"].std() == pytest.approx(sd_g, rel=4 / np.sqrt(2 * n))
    cv_r = np.hypot(v["regurgitation_beat_cv"], v["regurgitation_observer_cv"])
    assert r["eroa_cm2"].std() == pytest.approx(cv_r, rel=4 / np.sqrt(2 * n))
    assert np.array_equal(r["eroa_cm2"], r["rvol_ml"])  # one draw per reading for every regurgitation field
    # the observer's bias is the same at every reading of a patient; the beat differs
    r2 = read_echo(echo, keys, 2, 0)
    d1 = r["mean_gradient_mmhg"] - 4.0
    d2 = r2["mean_gradient_mmhg"] - 4.0
    expected = v["gradient_observer_sd_mmhg"] ** 2 / sd_g**2
    assert np.corrcoef(d1, d2)[0, 1] == pytest.approx(expected, abs=4 / np.sqrt(n))


def test_loading_overrides_and_bad_state():
    o, hr = loading_overrides("primary_mr", {"sys_ar_r_mmhg_s_ml": 2.0}, 80.0, "anaesthesia")
    assert o["sys_ar_r_mmhg_s_ml"] < 2.0 and hr < 80.0 and "sys_ven_c_ml_mmhg" in o
    assert loading_overrides("primary_mr", {"x": 1.0}, 80.0, "awake") == ({"x": 1.0}, 80.0)
    with pytest.raises(InputError) as e:
        loading_overrides("primary_mr", {}, 80.0, "asleep")
    assert "loading_state" in str(e.value) and "asleep" in str(e.value)


def test_anaesthesia_narrows_only_the_functional_gap():
    fmr, flail = _valve("coapt_secondary"), _valve("p2_flail")
    assert valve_in_state(fmr, "anaesthesia").eroa_cm2 == pytest.approx(FUNCTIONAL_GAP_SCALE_GA * fmr.eroa_cm2, rel=1e-12)
    assert valve_in_state(flail, "anaesthesia").eroa_cm2 == flail.eroa_cm2


@pytest.mark.parametrize("preset,valve", [("primary_mr", "p2_flail"), ("secondary_mr", "coapt_secondary")])
def test_anaesthesia_lowers_measured_gradient_and_regurgitant_volume(preset, valve):
    """Same valve, awake vs general anaesthesia (engine run in both states).

    The regurgitant volume per beat falls in both: in functional MR lower afterload and preload and a
    narrower functional gap; a degenerative orifice is fixed (Michigan 1995: flail vena contracta
    unchanged under GA), so there the lower afterload and preload (the patient's blood in the wider
    venous bed) alone lower it, against the longer systole of the slower heart; the regurgitant
    *flow* (RVol × HR, mL/min) falls more."""
    v = _valve(valve)
    out, rate = {}, {}
    for state in ("awake", "anaesthesia"):
        vs = valve_in_state(v, state)
        o, hr = loading_arrays([preset], [{}], np.array([72.0]), state)
        h = simulate_states([preset], o, hr, np.array([vs.eroa_cm2]), np.array([vs.mva_cm2]), FORWARD_DISCHARGE_COEFF)
        out[state] = echo_arrays(h, np.array([preset == "secondary_mr"]))
        rate[state] = out[state]["rvol_ml"][0] * float(hr[0])
    assert out["anaesthesia"]["mean_gradient_mmhg"][0] < out["awake"]["mean_gradient_mmhg"][0]
    assert rate["anaesthesia"] < rate["awake"]
    assert out["anaesthesia"]["rvol_ml"][0] < out["awake"]["rvol_ml"][0]


def test_loading_arrays_scale_each_patient_s_own_values():
    """Every patient's dict: its own overrides, then each parameter of its state's change set to
    (its override, else the preset's value) × (1 + change), names in that order, then (a compliance
    changed) the stressed-volume shift less the blood the change adds at the preset's initial
    pressure (none overridden here: the preset's shift is 0); its heart rate
    likewise; the inputs untouched; one patient (:func:`loading_overrides`) as in the batch."""
    from mitrasim.physiology.parameter_sets import get_parameter_set
    from mitrasim.procedure.loading import STATE_CHANGE

    rng = np.random.default_rng(2)
    n = 60
    presets = [("primary_mr", "secondary_mr")[i] for i in rng.integers(0, 2, n)]
    states = [("awake", "anaesthesia", "anaesthesia_restored_afterload")[i] for i in rng.integers(0, 3, n)]
    over = [{"lv_ea_mmhg_ml": float(x), **({"sys_ar_r_mmhg_s_ml": float(x) / 2} if x > 2.5 else {})} for x in rng.uniform(1.5, 3.5, n)]
    hr = rng.uniform(55.0, 100.0, n)
    before = [dict(o) for o in over]
    got, got_hr = loading_arrays(presets, over, hr, states)
    assert over == before
    assert {s for s in states} == set(STATE_CHANGE) and any("sys_ar_r_mmhg_s_ml" in o for o in over) and not all("sys_ar_r_mmhg_s_ml" in o for o in over)
    for i in range(n):
        want = dict(over[i])
        values = get_parameter_set(presets[i]).values
        change = STATE_CHANGE[states[i]]
        added = 0.0  # blood the scaled compliances add at the preset's initial pressures
        for name, rel in change.items():
            if name != "hr_bpm":
                want[name] = float(want.get(name, values[name])) * (1.0 + rel)
                if name.endswith("_c_ml_mmhg"):
                    added += want[name] * rel / (1.0 + rel) * get_parameter_set(presets[i]).initial["p_" + name[:-10] + "_mmhg"]
        if added:  # the stressed-volume shift holds the awake blood of a cold start
            want["stressed_volume_shift_ml"] = -added
        assert list(got[i].keys()) == list(want.keys())
        assert np.allclose(list(got[i].values()), list(want.values()), rtol=1e-12, atol=0)
        assert got_hr[i] == float(hr[i]) * (1.0 + change.get("hr_bpm", 0.0))
        one, one_hr = loading_overrides(presets[i], over[i], float(hr[i]), states[i])
        assert list(one.items()) == list(got[i].items()) and one_hr == got_hr[i]
    with pytest.raises(InputError, match="loading_state"):
        loading_arrays(presets[:2], over[:2], hr[:2], ["awake", "asleep"])
