"""Trial populations sample only patients within the TEER indication (baseline MR 3+/4+) unless
their YAML says ``indication: any``."""

from __future__ import annotations

import numpy as np

from mitrasim.cohort.adapter import baseline_decision_grades, sample_indicated
from mitrasim.cohort.population import load_population
from mitrasim.physiology.simulation import SolverSettings

FAST = SolverSettings(dt_max_s=4e-3, tol=1e-2)


def test_only_indicated_patients_by_default_and_all_with_any():
    pop = load_population("tvt_mixed")
    assert pop.indication == "mr_3plus"
    t = sample_indicated(pop, 120, 5, FAST, first_id=1000)
    assert t.num_rows == 120 and t.column("patient_id").to_pylist() == list(range(1000, 1120))
    assert np.all(baseline_decision_grades(t, FAST, dict(pop.presets), pop.lv_volume_method) >= 3)
    anyone = sample_indicated(pop.model_copy(update={"indication": "any"}), 120, 5, FAST)
    g = baseline_decision_grades(anyone, FAST, dict(pop.presets), pop.lv_volume_method)
    assert np.any(g < 3)  # tvt_mixed has patients below the indication (plausibility run: ~13 %)


def test_trial_rows_all_start_at_3plus(tmp_path):
    from mitrasim.cohort.trial import parse_trial, read_results, run_trial

    trial = parse_trial({"name": "ind", "population": "tvt_mixed", "n_patients": 80, "seed": 2, "chunk_size": 80,
                         "arms": [{"name": "a", "strategy": {"stop_rule": "mr_le_1plus", "max_clips": 4}}]})  # fmt: skip
    run_trial(trial, tmp_path / "t", workers=1, progress=False)
    rows = read_results(tmp_path / "t")[0].to_pydict()
    assert min(rows["grade_before"]) >= 3


def test_the_indication_fit_is_reused_unchanged():
    """The baselines fitted to test the indication are the kept patients' own fits (a patient's fit
    does not depend on its batch): the chunk run with them is the chunk run that fits again."""
    from mitrasim.cohort.adapter import Strategy, run_patient_chunk, sample_indicated_inputs

    pop = load_population("tvt_mixed")
    t, ei = sample_indicated_inputs(pop, 40, 7, FAST)
    assert t.equals(sample_indicated(pop, 40, 7, FAST)) and len(ei.overrides) == 40
    kw = {"settings": FAST, "preset_by_etiology": dict(pop.presets), "lv_volume_method": pop.lv_volume_method}
    again = run_patient_chunk(t, Strategy(max_clips=1), 3, **kw).drop_columns(["engine_seconds"])
    reused = run_patient_chunk(t, Strategy(max_clips=1), 3, ei=ei, **kw).drop_columns(["engine_seconds"])
    assert reused.equals(again)


def test_the_awake_baseline_starts_from_the_fits_steady_state():
    """The baseline fit's steady state is the awake baseline's own (same heart, valve, rate and step):
    warm-started from it every patient reaches the steady-state test in the fewest beats the solver
    runs, and the result is nearer the true limit cycle (a 1e-8 tolerance run) than a cold start's at
    the trial tolerance, since the fit ran to the tighter ``BASELINE_SOLVER_TOL``."""
    import dataclasses

    from mitrasim.cohort.adapter import Strategy, patient_setups, sample_indicated_inputs
    from mitrasim.cohort.mapping import BASELINE_SOLVER_TOL
    from mitrasim.procedure import steps
    from mitrasim.procedure.calibration import FORWARD_DISCHARGE_COEFF
    from mitrasim.procedure.hemodynamics import simulate_states
    from mitrasim.procedure.risks import DEFAULT_RATES, N_DRAWS

    assert BASELINE_SOLVER_TOL < FAST.tol
    pop = load_population("tvt_mixed")
    t, ei = sample_indicated_inputs(pop, 40, 7, FAST)
    assert ei is not None and ei.state is not None and np.isfinite(ei.state).all()
    setups = patient_setups(t, Strategy(), FAST, dict(pop.presets), pop.lv_volume_method, ei)

    def awake(sts):
        ctx = steps.Context.build(sts, np.ones((len(sts), N_DRAWS)), DEFAULT_RATES, FORWARD_DISCHARGE_COEFF, FAST)
        return steps.baseline(ctx).hemo

    warm, cold = awake(setups), awake([dataclasses.replace(s, initial_state=None) for s in setups])
    assert np.all(warm.metrics["beats_to_steady"] == FAST.min_beats)
    assert np.all(cold.metrics["beats_to_steady"] > FAST.min_beats)
    ref = simulate_states([s.preset for s in setups], [s.overrides for s in setups], np.array([s.hr_bpm for s in setups]), warm.eroa_cm2, warm.mva_cm2,
                          FORWARD_DISCHARGE_COEFF, initial_state=warm.final_state, settings=dataclasses.replace(FAST, tol=1e-8, max_beats=2000))  # fmt: skip
    for k in ("edv_ml", "ef_pct", "sbp_mmhg", "forward_sv_ml", "rvol_ml"):
        assert np.max(np.abs(warm.metrics[k] - ref.metrics[k])) <= np.max(np.abs(cold.metrics[k] - ref.metrics[k])), k


def test_the_indication_grade_is_the_procedures_baseline_grade():
    """The indication's lean baseline (valves and engine inputs as arrays) gives every patient, above
    and below the indication, the decision grade the procedure's own baseline step gives it."""
    from mitrasim.cohort.adapter import Strategy, run_patient_chunk
    from mitrasim.cohort.mapping import engine_inputs

    pop = load_population("tvt_mixed")
    t = sample_indicated(pop.model_copy(update={"indication": "any"}), 60, 11, FAST)
    ei = engine_inputs(t, dict(pop.presets), FAST, pop.lv_volume_method)
    g = baseline_decision_grades(t, FAST, dict(pop.presets), pop.lv_volume_method, ei)
    kw = {"settings": FAST, "preset_by_etiology": dict(pop.presets), "lv_volume_method": pop.lv_volume_method, "ei": ei}
    before = run_patient_chunk(t, Strategy(max_clips=1), 3, **kw).column("grade_before").to_numpy()
    assert np.any(g < 3) and np.any(g >= 3)
    assert np.array_equal(g, before)
