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
