"""Synthetic patients for testing the calibration: a known truth, its measurements with noise.

The truth is drawn from the fit's own prior (``u ~ N(0, I)`` in the prior-scaled coordinates of
:mod:`mitrasim.calibrate.fit`), the measurements are the engine's values at the truth, minus the
method's bias, plus Gaussian noise of the method's SD.  When the model is near-linear over the
posterior, the Laplace 90 % intervals then cover the truth in about 90 % of cases: the
coverage test of the issue.  All truths run through the engine in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mitrasim.calibrate.fit import SETTINGS, forward, problem
from mitrasim.calibrate.measurements import (
    MEASURES,
    METHODS,
    Measurements,
    parse_measurements,
)

__all__ = ["DEFAULT_PANEL", "SyntheticPatient", "synthetic_patients"]

#: measurement → method of the synthetic panel: a full echo + cuff + right-heart work-up.
DEFAULT_PANEL: dict[str, str] = {
    "sbp_mmhg": "cuff", "dbp_mmhg": "cuff", "lvedv_ml": "echo_2d", "lvesv_ml": "echo_2d", "eroa_cm2": "pisa",
    "la_volume_ml": "echo_2d", "e_velocity_m_s": "doppler", "spap_mmhg": "rhc", "la_mean_mmhg": "pcwp",
    "la_vwave_mmhg": "pcwp", "co_l_min": "thermodilution",
}  # fmt: skip


@dataclass
class SyntheticPatient:
    truth: dict[str, float]  # fitted-parameter name → true value
    measurements: Measurements
    exact: Measurements  # the same panel without noise
    overrides: dict[str, float]  # the truth as engine overrides of the preset (to simulate it elsewhere)


def synthetic_patients(n: int, seed: int, preset: str = "secondary_mr", panel: dict[str, str] | None = None, hr_bpm: float = 75.0,
                       prior_fraction: float = 1.0) -> list[SyntheticPatient]:  # fmt: skip
    """``n`` synthetic patients around ``preset``; truths u ~ N(0, prior_fraction² I), truncated to those
    whose steady beat converges and whose panel lies inside the measurable ranges (:data:`MEASURES`)."""
    panel = dict(DEFAULT_PANEL if panel is None else panel)
    rng = np.random.default_rng(seed)
    template = parse_measurements({"hr_bpm": hr_bpm} | {k: {"value": MEASURES[k][1] + 1.0, "method": m} for k, m in panel.items()})
    prob = problem(template, preset)
    lo, hi = prob.bounds_u()
    m = 3 * n + 8
    U = np.clip(prior_fraction * rng.standard_normal((m, len(prob.params))), lo + 1e-6, hi - 1e-6)
    q, _ = forward(prob.pset, prob.overrides(U), SETTINGS, waveform_quantities=True)
    # rejection: a truth whose steady beat did not converge or whose panel leaves the measurable range
    ok = q["converged"].astype(bool)
    for k in panel:
        y = q[MEASURES[k][0]]
        ok &= np.isfinite(y) & (y > MEASURES[k][1]) & (y < MEASURES[k][2])
    keep = np.flatnonzero(ok)[:n]
    if len(keep) < n:
        raise RuntimeError(f"only {len(keep)} of {m} synthetic truths were physiological; lower prior_fraction")
    out = []
    for i in keep:
        exact = {"hr_bpm": hr_bpm}
        noisy = {"hr_bpm": hr_bpm}
        for k, m in panel.items():
            meth = METHODS[k][m]
            y = float(q[MEASURES[k][0]][i] - meth.bias)
            sd = meth.sd * abs(y) if meth.relative else meth.sd
            exact[k] = {"value": y, "method": m, "sd": sd}
            lo_k, hi_k = MEASURES[k][1], MEASURES[k][2]
            noisy[k] = {"value": float(np.clip(y + sd * rng.standard_normal(), lo_k, hi_k)), "method": m, "sd": sd}
        out.append(SyntheticPatient(prob.values(U[i]), Measurements.model_validate(noisy), Measurements.model_validate(exact), prob.overrides(U[i : i + 1])[0]))
    return out
