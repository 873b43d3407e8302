"""The anaesthesia states hold the patient's awake blood (:mod:`mitrasim.procedure.loading`, *Blood*):
a cold start and the procedure's start from the awake state alike, and so general anaesthesia
lowers the preload and the regurgitant volume against the awake state (Grewal 2000's direction)."""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pytest

from _procedure_shared import NAMES, case
from mitrasim.physiology.simulation import SolverSettings
from mitrasim.procedure import start_states as S
from mitrasim.procedure.calibration import FORWARD_DISCHARGE_COEFF
from mitrasim.procedure.clip_calibration import _valve
from mitrasim.procedure.hemodynamics import simulate_states
from mitrasim.procedure.loading import LOADING_STATES, loading_arrays, valve_in_state
from mitrasim.procedure.process import run_procedure_arrays, setup_from_case

FAST = SolverSettings(dt_max_s=4e-3, tol=1e-2)
BLOOD_RTOL = 1e-9  # the engine conserves w·x to rounding (many beats of float64 sums)
TIGHT = SolverSettings(tol=1e-8)
STEADY_ATOL = 1e3 * TIGHT.tol  # two starts of equal blood: the same steady state, to the stopping test
# (every state changes < tol over a beat) divided by 1 − ρ, ρ ≤ 0.999 the slowest mode's contraction per beat
PAIRS = (("primary_mr", "p2_flail"), ("secondary_mr", "coapt_secondary"))


@functools.lru_cache(maxsize=None)
def _cold(preset: str, valve: str):
    """One valve in every loading state, each started cold from the preset's initial state."""
    v = [valve_in_state(_valve(valve), s) for s in LOADING_STATES]
    over, hr = loading_arrays([preset] * 3, [{}] * 3, np.full(3, 72.0), list(LOADING_STATES))
    eroa, mva = np.array([x.eroa_cm2 for x in v]), np.array([x.mva_cm2 for x in v])
    h = simulate_states([preset] * 3, over, hr, eroa, mva, FORWARD_DISCHARGE_COEFF, settings=TIGHT)
    return over, hr, eroa, mva, h


@pytest.mark.parametrize("preset,valve", PAIRS)
def test_a_cold_start_in_every_state_holds_the_awake_blood(preset, valve):
    """The loading overrides move the stressed-volume shift with the venous compliance, so a cold
    start under anaesthesia holds the blood the awake cold start holds (fails without the shift:
    ΔC · C_ven · p_ven,0 more, 367 mL in primary_mr)."""
    over, _, _, _, h = _cold(preset, valve)
    held = S.blood(h.final_state, S.blood_weights([preset] * 3, over))
    assert np.allclose(held, held[0], rtol=BLOOD_RTOL, atol=0)


@pytest.mark.parametrize("preset,valve", PAIRS)
def test_cold_and_awake_started_anaesthesia_reach_one_steady_state(preset, valve):
    """The awake steady state moved into each anaesthesia state (:func:`start_states.moved`) holds
    the same blood as that state's cold start, so both reach the same steady state."""
    over, hr, eroa, mva, h = _cold(preset, valve)
    w = S.blood_weights([preset] * 3, over)
    x = S.moved(np.repeat(h.final_state[:1], 2, axis=0), w[:1].repeat(2, axis=0), w[1:])
    assert np.allclose(S.blood(x, w[1:]), S.blood(h.final_state[:1], w[:1]), rtol=1e-12, atol=0)
    warm = simulate_states([preset] * 2, over[1:], hr[1:], eroa[1:], mva[1:], FORWARD_DISCHARGE_COEFF, initial_state=x, settings=TIGHT)
    assert np.abs(warm.final_state - h.final_state[1:]).max() < STEADY_ATOL


@functools.lru_cache(maxsize=None)
def _procedures():
    """The five examples, decisions under GA and with the afterload restored (one batch, exact readings)."""
    setups = [setup_from_case(case(n)) for n in NAMES]
    both = [replace(s, rules=s.rules.with_(assess_at_restored_afterload=r)) for r in (False, True) for s in setups]
    return run_procedure_arrays(both, seed=None, settings=FAST, loading="anaesthesia")


def test_the_procedures_anaesthesia_baseline_holds_the_awake_baselines_blood():
    r = _procedures()
    assert set(r.decision_states) == {"anaesthesia", "anaesthesia_restored_afterload"}
    n = len(r)
    presets = [s.preset for s in r.setups]
    awake = [dict(s.overrides) for s in r.setups]
    state, _ = loading_arrays(presets, awake, np.array([s.hr_bpm for s in r.setups]), r.decision_states)
    assert r.intraprocedural_baseline is not None
    held = S.blood(r.intraprocedural_baseline.final_state, S.blood_weights(presets, state))
    own = S.blood(r.baseline.final_state, S.blood_weights(presets, awake))
    assert held.shape == (n,) and np.allclose(held, own, rtol=BLOOD_RTOL, atol=0)


@pytest.mark.parametrize("metric", ["edv_ml", "rvol_ml", "la_mean_mmhg", "map_mmhg"])
def test_anaesthesia_unloads_every_example_heart(metric):
    """Under GA (decisions at the anaesthetic afterload), against the same patient awake before the
    procedure: LV end-diastolic volume, regurgitant volume, LA and mean arterial pressure lower
    (Grewal 2000: GA lowers the pressures and LV dimensions and MR is read lower)."""
    r = _procedures()
    ga = np.array([s == "anaesthesia" for s in r.decision_states])
    assert ga.sum() == len(NAMES) and r.intraprocedural_baseline is not None
    assert np.all(r.intraprocedural_baseline.metrics[metric][ga] < r.baseline.metrics[metric][ga])
