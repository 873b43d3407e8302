"""The intraprocedural baseline against the awake one in a trial's patients (not a timing).

    PYTHONPATH=src python benchmarks/loading_states.py --n 2000 --population tvt_mixed

The first chunk of the ``n``-patient trial of ``cohort.py`` (seed 1) is sampled and fitted as the
trial does (:func:`mitrasim.cohort.adapter.sample_indicated_blocks`, ``engine_inputs``,
``patient_setups``); :func:`mitrasim.procedure.steps.baseline` computes each patient awake and in
the decisions' state, under general anaesthesia (protocol ``assess_at_restored_afterload`` off)
and with the afterload restored (on).  Printed: the medians of intraprocedural − awake, and the
share of patients whose decision grade is at least one grade lower (higher) than awake — Grewal
2000's "at least one grade lower in about half" for comparison (:mod:`mitrasim.procedure.loading`).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

QUANTITIES = ("edv_ml", "rvol_ml", "map_mmhg", "la_mean_mmhg", "co_l_min")


def main(n: int, population: str) -> None:
    from cohort import _trial
    from mitrasim.cohort.adapter import patient_setups, sample_indicated_blocks
    from mitrasim.cohort.mapping import engine_inputs
    from mitrasim.cohort.trial import RANDOM_BLOCK_PATIENTS, _block_size, block_seeds, chunk_blocks
    from mitrasim.procedure import steps
    from mitrasim.procedure.calibration import FORWARD_DISCHARGE_COEFF

    trial = _trial(n, n, population)
    blocks, _, _ = chunk_blocks(trial, 0)
    seeds = [block_seeds(trial, b)[0] for b in blocks]
    sizes = [_block_size(trial, b) for b in blocks]
    settings = trial.solver.settings(0)
    patients, ei = sample_indicated_blocks(trial.population, sizes, seeds, settings, [b * RANDOM_BLOCK_PATIENTS for b in blocks])
    presets, lv = dict(trial.population.presets), trial.population.lv_volume_method
    ei = ei if ei is not None else engine_inputs(patients, presets, settings, lv)
    for restored in (False, True):
        setups = [replace(s, rules=s.rules.with_(assess_at_restored_afterload=restored)) for s in patient_setups(patients, trial.arms[0].strategy, settings, presets, lv, ei)]
        ctx = steps.Context.build(setups, np.zeros((len(setups), 64)), None, FORWARD_DISCHARGE_COEFF, settings, loading="anaesthesia")
        b = steps.baseline(ctx)
        assert b.intra_hemo is not None and b.intra_decision is not None
        ok = (b.decision >= 0) & (b.intra_decision >= 0)
        med = ", ".join(f"{q} {np.median(b.intra_hemo.metrics[q] - b.hemo.metrics[q]):+.1f}" for q in QUANTITIES)
        lower, higher = np.mean(b.intra_decision[ok] < b.decision[ok]), np.mean(b.intra_decision[ok] > b.decision[ok])
        print(f"{population} {'restored' if restored else 'GA'}: {ok.sum()} graded; median change {med}; one grade or more lower {lower:.1%}, higher {higher:.1%}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--population", default="tvt_mixed")
    a = ap.parse_args()
    main(a.n, a.population)
