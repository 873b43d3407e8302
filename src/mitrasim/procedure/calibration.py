"""Calibration of the forward discharge coefficient against the gradient anchor.

The valve model gives the *anatomic* (planimetric) MVA, summed over all
orifices (Maisano 1999).  The engine's forward orifice is a Bernoulli orifice
with no discharge coefficient, so it needs the *effective* area

    A_fwd = C_d,fwd · MVA.

``C_d,fwd`` is fitted with the engine against the Neuss cohort anchor (mean
gradient before and after TEER, :data:`GRADIENT_BEFORE_MMHG`, :data:`GRADIENT_AFTER_MMHG`,
SDs :data:`GRADIENT_SD_MMHG`; clinical.md) across the representative
set of :mod:`mitrasim.procedure.clip_calibration` (the five example valves, each with
its typical plan; the same plans that calibrate the clip model so that MVA
about halves).  Each case runs on its own engine preset and heart rate
(``primary_mr`` / ``secondary_mr``, from the example files).

What one coefficient can and cannot do.  The mean gradient scales roughly as
``(Q_dia / (C·MVA))²``, so ``C`` moves the before and after means *together*;
their difference is set by how the diastolic inflow changes when MR is
removed.  In the engine's MR phenotypes the inflow falls nearly in proportion
to the area (P2 flail: 117 → 64 mL per beat, MVA 5.40 → 2.56 cm²) and its
profile changes: before, a tall E wave (684 mL/s) and an A wave separated by
a diastasis with no flow; after, orifice-limited filling that runs through
diastole (E 225 mL/s).  Averaged over the forward-flow time only, this made
the P2 flail gradient *fall* (2.95 → 2.52 mmHg at C = 0.875: RMS flow
408 → 178 mL/s, ×0.44, against an area ×0.47).  The Doppler mean gradient is
traced from the onset of E to the end of A, diastasis included (as
:mod:`mitrasim.echo.synthetic` does); since the engine's ``mean_gradient_mmhg``
follows that convention the baseline means are 0.8 mmHg lower and the P2 flail
gradient rises a little (2.29 → 2.43 mmHg at C = 0.80) rather than by the
third a fixed flow profile would give.  The fit targets the number the
procedure's decisions depend on — the *post-procedure* mean gradient (stop
rules, MVARC) — within the measured in-vitro range of Flachskampf et al. 1990
(:data:`FIT_RANGE`):

    C_d,fwd = argmin_{C ∈ FIT_RANGE} |ḡ_after(C) − GRADIENT_AFTER_MMHG|   (grid step 0.025)

and reports the baseline mean it then gives (a test checks it is within one
cohort SD of the anchor's baseline): :data:`~mitrasim.valve.geometry.FORWARD_DISCHARGE_COEFF`, which gave
2.24 → 3.06 mmHg when it was fitted, with the lesion-aware clip
model (issue 13) and the presets recalibrated as compensated states (issue 12: normal pulmonary resistance, primary MR
at forward output 4.5 L/min and BP 125/75, secondary MR at 3.8 L/min and 117/70; the
larger diastolic inflow needs the larger coefficient), near the high end of the
measured range. Earlier: 0.900 (2.29 → 3.11 mmHg) with the earlier clip model; 0.675 (2.31 → 3.06 mmHg) with low-output presets (primary MR
3.3 L/min at SBP 106, secondary MR 2.1 L/min at 82/63), 0.80 (1.98 →
3.13 mmHg) with a secondary_mr that filled almost only by atrial contraction, and
0.875 (2.62 → 3.08) before the diastasis convention.

Run ``python -m mitrasim.procedure.calibration`` to repeat the fit and print
the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from mitrasim import citations
from mitrasim.procedure import clip_calibration as _clip_calibration  # noqa: F401  (registers the anchors' sources)

__all__ = [
    "FORWARD_DISCHARGE_COEFF",
    "forward_effective_area_cm2",
    "CASE_PRESETS",
    "GradientCalibration",
    "gradient_fn",
    "calibrate",
    "cohort_means",
]

from mitrasim.valve.geometry import FORWARD_DISCHARGE_COEFF  # noqa: E402  (its value is this module's fit; defined beside the regurgitant C_d)


def forward_effective_area_cm2(mva_cm2: float | np.ndarray, discharge_coeff: float | None = None) -> float | np.ndarray:
    """Effective forward orifice area the engine receives: ``C_d,fwd · MVA`` (anatomic MVA,
    cm²; ``discharge_coeff`` defaults to :data:`FORWARD_DISCHARGE_COEFF`)."""
    citations.cite("flachskampf1990")
    cd = FORWARD_DISCHARGE_COEFF if discharge_coeff is None else float(discharge_coeff)
    return cd * np.asarray(mva_cm2)

GRADIENT_BEFORE_MMHG, GRADIENT_AFTER_MMHG = 1.6, 3.1
GRADIENT_SD_MMHG = (1.0, 1.5)
"""Neuss cohort (n = 255): mean ± SD before and after TEER (clinical.md); the gradient calibration anchor."""

CASE_PRESETS: dict[str, tuple[str, float]] = {
    "p2_flail": ("primary_mr", 72.0),
    "coapt_secondary": ("secondary_mr", 75.0),
    "small_valve": ("primary_mr", 70.0),
    "commissural_a3p3": ("primary_mr", 68.0),
    "barlow": ("primary_mr", 70.0),
}
"""Engine preset and heart rate of each representative case (as in ``examples/*.yaml``)."""


def gradient_fn(presets: Sequence[str], eroa_cm2: np.ndarray, forward_area_cm2: np.ndarray, hr_bpm: np.ndarray | None = None) -> np.ndarray:
    """Mean diastolic gradient (mmHg) at steady state for each (preset, EROA, effective area)."""
    from mitrasim.procedure.hemodynamics import simulate_states

    n = len(presets)
    hr = np.full(n, 70.0) if hr_bpm is None else np.asarray(hr_bpm, dtype=float)
    h = simulate_states(list(presets), [{}] * n, hr, np.asarray(eroa_cm2), np.asarray(forward_area_cm2), 1.0)
    return h.metrics["mean_gradient_mmhg"]


@dataclass(frozen=True)
class GradientCalibration:
    forward_discharge_coeff: float
    mean_gradient_before_mmhg: float
    mean_gradient_after_mmhg: float
    mean_mva_before_cm2: float
    mean_mva_after_cm2: float
    mean_mva_reduction: float
    rows: list[dict]
    grid: list[tuple[float, float, float]]

    def format(self) -> str:
        lines = [
            f"forward discharge coefficient C_d,fwd = {self.forward_discharge_coeff:.3f} (Flachskampf 1990: {FIT_RANGE[0]:g}-{FIT_RANGE[1]:g})",
            f"{'case':18s} {'preset':13s} {'clips':>5s} {'MVA cm2':>15s} {'gradient mmHg':>16s}",
        ]
        for r in self.rows:
            lines.append(
                f"{r['case']:18s} {r['preset']:13s} {r['clips']:5d} {r['mva_before']:6.2f} -> {r['mva_after']:5.2f} "
                f"{r['gradient_before']:7.2f} -> {r['gradient_after']:5.2f}"
            )
        lines.append(
            f"mean gradient {self.mean_gradient_before_mmhg:.2f} -> {self.mean_gradient_after_mmhg:.2f} mmHg "
            f"(Neuss anchor {GRADIENT_BEFORE_MMHG} -> {GRADIENT_AFTER_MMHG}); mean MVA {self.mean_mva_before_cm2:.2f} -> {self.mean_mva_after_cm2:.2f} cm2, "
            f"mean reduction {self.mean_mva_reduction:.0%} (anchor: about half)"
        )
        return "\n".join(lines)


def _plans():
    from mitrasim.procedure.clip_calibration import representative_plans
    from mitrasim.valve.clip import evaluate_plans

    plans = representative_plans()
    eroa0 = np.array([p.valve.eroa_cm2 for p in plans])
    mva0 = np.array([p.valve.mva_cm2 for p in plans])
    after = [evaluate_plans(p.valve, p.positions_mm[None], p.widths_mm[None], p.arm_lengths_mm[None]) for p in plans]
    eroa1 = np.array([float(a.eroa_cm2[0]) for a in after])
    mva1 = np.array([float(a.mva_cm2[0]) for a in after])
    return plans, eroa0, mva0, eroa1, mva1


def cohort_means(coeff: float = FORWARD_DISCHARGE_COEFF) -> GradientCalibration:
    """The representative set before/after its typical plans with ``coeff`` (one engine batch)."""
    return calibrate(np.array([coeff]))


FIT_RANGE = (0.675, 0.93)
"""Flachskampf et al. 1990: the range of the in-vitro discharge coefficients measured."""


def calibrate(grid: np.ndarray | None = None) -> GradientCalibration:
    """Fit ``C_d,fwd`` (see the module docstring): every grid point (default 0.60–1.00,
    step 0.025) and case, before and after, in one engine batch; the fit is the point
    within :data:`FIT_RANGE` whose post-procedure mean is closest to :data:`GRADIENT_AFTER_MMHG`."""
    citations.cite("neuss2019_gradient", "flachskampf1990", "teer_halves_mva")
    plans, eroa0, mva0, eroa1, mva1 = _plans()
    g = np.round(np.arange(0.60, 1.0001, 0.025), 3) if grid is None else np.asarray(grid, dtype=float)
    names = [CASE_PRESETS[p.name][0] for p in plans]
    hrs = np.array([CASE_PRESETS[p.name][1] for p in plans])
    m = len(plans)
    presets = (names + names) * g.size
    eroa = np.tile(np.concatenate([eroa0, eroa1]), g.size)
    area = np.repeat(g, 2 * m) * np.tile(np.concatenate([mva0, mva1]), g.size)
    hr = np.tile(np.concatenate([hrs, hrs]), g.size)
    grads = gradient_fn(presets, eroa, area, hr).reshape(g.size, 2, m)
    before, after = grads[:, 0, :].mean(axis=1), grads[:, 1, :].mean(axis=1)
    err = np.abs(after - GRADIENT_AFTER_MMHG)
    inside = (g >= FIT_RANGE[0] - 1e-9) & (g <= FIT_RANGE[1] + 1e-9)
    err = np.where(inside | (g.size == 1), err, np.inf)
    k = int(np.argmin(err))
    rows = [
        dict(
            case=p.name, preset=names[j], clips=len(p.devices), devices=list(p.devices),
            mva_before=float(mva0[j]), mva_after=float(mva1[j]),
            eroa_before=float(eroa0[j]), eroa_after=float(eroa1[j]),
            gradient_before=float(grads[k, 0, j]), gradient_after=float(grads[k, 1, j]),
        )  # fmt: skip
        for j, p in enumerate(plans)
    ]
    return GradientCalibration(
        forward_discharge_coeff=float(g[k]),
        mean_gradient_before_mmhg=float(before[k]),
        mean_gradient_after_mmhg=float(after[k]),
        mean_mva_before_cm2=float(mva0.mean()),
        mean_mva_after_cm2=float(mva1.mean()),
        mean_mva_reduction=float(np.mean(1.0 - mva1 / mva0)),
        rows=rows,
        grid=[(float(c), float(b), float(a)) for c, b, a in zip(g, before, after)],
    )


if __name__ == "__main__":  # pragma: no cover
    cal = calibrate()
    for c, b, a in cal.grid:
        print(f"C_d,fwd {c:.3f}: mean gradient {b:.2f} -> {a:.2f} mmHg")
    print(cal.format())
