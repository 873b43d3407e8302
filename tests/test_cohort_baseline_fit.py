"""The cohort's batched baseline fit (issue 12): patients whose sampled SBP, LVEDV and LVEF come from
the engine itself (so a solution exists) are all fitted within one SD, in one batched fit."""

from __future__ import annotations

import numpy as np

from mitrasim.cohort import mapping as M
from mitrasim.physiology.parameter_sets import get_parameter_set
from mitrasim.physiology.simulation import SolverSettings, simulate

FAST = SolverSettings(dt_max_s=4e-3, tol=1e-2)


def test_reachable_baselines_are_fitted_within_one_sd():
    rng = np.random.default_rng(3)
    n = 24
    pset = get_parameter_set("secondary_mr")
    truth = np.exp(np.log([pset.values[k] for k in M.BASELINE_FREE]) + 0.3 * rng.standard_normal((n, 3)))
    hr, eroa, mva = rng.uniform(60, 90, n), rng.uniform(0.2, 0.5, n), rng.uniform(3.0, 5.0, n)
    r = simulate("secondary_mr", M._baseline_columns(truth), hr_bpm=hr, eroa_cm2=eroa, mva_cm2=mva, settings=FAST)
    sbp, edv, ef = r.metrics["sbp_mmhg"], r.metrics["edv_ml"], r.metrics["ef_pct"]
    sd = M._baseline_sds(sbp, edv)
    theta, z = M.fit_baselines("secondary_mr", hr, eroa, mva, sbp, edv, ef, sd, FAST)
    assert np.all(np.abs(z) <= M.FIT_WITHIN_SD)
    again = simulate("secondary_mr", M._baseline_columns(theta), hr_bpm=hr, eroa_cm2=eroa, mva_cm2=mva, settings=FAST)
    assert np.all(np.abs(again.metrics["sbp_mmhg"] - sbp) <= M.FIT_WITHIN_SD * sd[:, 0] + 0.5)  # + the tolerance's noise (tol 1e-2)
