"""One engine batch for patients of several parameter sets (``simulate_presets``): each patient's
results are those of ``simulate`` with its own set alone, to the bit."""

from __future__ import annotations

import numpy as np
import pytest

from mitrasim.errors import InputError
from mitrasim.physiology import simulation as S
from mitrasim.procedure.hemodynamics import simulate_states

SETTINGS = S.SolverSettings(dt_max_s=4e-3, tol=1e-2, max_beats=40)


def _patients(n: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    presets = np.where(rng.random(n) < 0.4, "secondary_mr", "primary_mr").tolist()
    kw = {"hr_bpm": rng.uniform(55.0, 110.0, n), "eroa_cm2": rng.uniform(0.1, 0.6, n), "mva_cm2": rng.uniform(2.5, 5.0, n)}
    ov = {"lv_ea_mmhg_ml": rng.uniform(1.0, 3.0, n), "stressed_volume_shift_ml": rng.uniform(-150.0, 150.0, n)}
    return presets, kw, ov


def _alone(presets, kw, ov, initial_state=None):
    """Each preset's patients through ``simulate`` alone, put back in order."""
    n = len(presets)
    out = {"final_state": np.full((n, 14), np.nan)}
    for name in dict.fromkeys(presets):
        idx = np.flatnonzero(np.array(presets) == name)
        init = None if initial_state is None else initial_state[idx]
        r = S.simulate(name, {k: v[idx] for k, v in ov.items()}, **{k: v[idx] for k, v in kw.items()}, initial_state=init, settings=SETTINGS)
        out["final_state"][idx] = r.final_state
        for k, v in r.metrics.items():
            out.setdefault(k, np.full(n, np.nan))[idx] = v
    return out


@pytest.mark.parametrize("warm", [False, True])
def test_a_mixed_batch_equals_each_preset_alone_to_the_bit(warm):
    presets, kw, ov = _patients(37)
    init = None
    if warm:  # each patient's own steady state, moved a little
        init = _alone(presets, kw, ov)["final_state"] * 1.01
    both = S.simulate_presets(presets, ov, **kw, initial_state=init, settings=SETTINGS)
    alone = _alone(presets, kw, ov, init)
    np.testing.assert_array_equal(both.final_state, alone["final_state"])
    for k, v in both.metrics.items():
        np.testing.assert_array_equal(v, alone[k], err_msg=k)
    assert both.preset == "primary_mr+secondary_mr" or both.preset == "secondary_mr+primary_mr"
    assert set(both.citations) >= {"chiarito2018", "stone2018_coapt"}
    # the base values are each patient's own set's
    sec = np.array(presets) == "secondary_mr"
    for name, mask in (("secondary_mr", sec), ("primary_mr", ~sec)):
        np.testing.assert_array_equal(both.parameters["sys_ar_c_ml_mmhg"][mask], S.get_parameter_set(name).values["sys_ar_c_ml_mmhg"])


def test_simulate_states_runs_mergeable_presets_in_one_batch(monkeypatch):
    presets, kw, ov = _patients(20, seed=5)
    calls = []
    real = S.simulate_presets

    def spy(*a, **k):
        calls.append(len(k["hr_bpm"]))
        return real(*a, **k)

    monkeypatch.setattr(S, "simulate_presets", spy)
    h = simulate_states(presets, ov, kw["hr_bpm"], kw["eroa_cm2"], kw["mva_cm2"], 1.0, settings=SETTINGS)
    assert calls == [20]
    alone = _alone(presets, kw, ov)
    np.testing.assert_array_equal(h.metrics["rvol_ml"], alone["rvol_ml"])


def test_presets_of_different_models_are_refused():
    assert not S.presets_mergeable(["regazzoni2022", "svzerod_two_hill"])
    assert S.presets_mergeable(["primary_mr", "secondary_mr"])
    with pytest.raises(InputError, match="presets"):
        S.simulate_presets(["regazzoni2022", "svzerod_two_hill"], hr_bpm=np.array([60.0, 70.0]), settings=SETTINGS)
