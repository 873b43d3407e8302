"""Calibration of the clip model against published anchors.

Representative set: the five shipped example valves (P2 flail, COAPT-like
secondary MR, small valve, commissural A3/P3, Barlow), each with a typical plan
built the way operators work — each clip at the largest residual gap, device
from :func:`mitrasim.devices.choose_device` — and a typical clip count: one
clip for the flail, the small valve and the commissural jet, two for the
secondary-MR and Barlow valves (1.4 on average; EXPAND: 54% one clip, 41% two,
5% three or more).

Anchors and free parameters:

* ``systolic_zone_per_arm`` (a_sys): one clip in functional MR reduces the
  *anatomic* regurgitant area by at most Caballero et al. 2020's bound
  (:data:`mitrasim.valve.clip.CABALLERO_REGURGITANT_REDUCTION_MAX`).  a_sys is
  set so that the best single clip in the secondary-MR valve reaches that bound.
* ``diastolic_zone_per_arm`` (a_dia): TEER about halves MVA (clinical.md):
  a_dia is set so that the mean MVA reduction over the representative plans is
  :data:`MVA_REDUCTION_TARGET`.
* PASCAL spacer thicknesses (:func:`calibrate_spacers`): one PASCAL (P10) or
  PASCAL Ace at the centre of the secondary-MR valve reduces its area by the
  relative amounts Paukovitsch et al. 2024 measured by 3D-TEE planimetry in
  functional MR (:data:`mitrasim.valve.clip.PAUKOVITSCH_MVA_REDUCTION`).
* Checks (not fitted): two clips reduce the opening area and the AP diameter
  by at most Caballero 2020's bounds (``CABALLERO_*`` in :mod:`mitrasim.valve.clip`)
  in the secondary-MR valve.

The gradient anchor (Neuss cohort) needs the circulation engine: the forward
discharge coefficient is fitted in :mod:`mitrasim.procedure.calibration` (the one
forward-discharge calibration).

Run ``python -m mitrasim.procedure.clip_calibration`` to print the calibration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from mitrasim import citations
from mitrasim.devices.catalogue import DEFAULT_CATALOGUE
from mitrasim.valve.clip import (
    CABALLERO_AP_SHRINK_MAX,
    CABALLERO_OPENING_REDUCTION_MAX_TWO_CLIPS,
    CABALLERO_REGURGITANT_REDUCTION_MAX,
    DEFAULT_CLIP_PARAMS,
    PAUKOVITSCH_MVA_REDUCTION,
    ClipModelParams,
    evaluate_plans,
)
from mitrasim.valve.fit import valve_from_spec
from mitrasim.valve.geometry import ValveModel

__all__ = [
    "REPRESENTATIVE_VALVES",
    "MVA_REDUCTION_TARGET",
    "RepresentativePlan",
    "representative_plans",
    "calibrate_clip_model",
    "CalibrationReport",
    "calibration_report",
]

citations.register(
    "teer_halves_mva",
    "mitrasim clinical reference (shared/reference/clinical.md): TEER about halves the mitral valve "
    "area [src there; primary citation to be added].",
)
citations.register(
    "neuss2019_gradient",
    "Neuss cohort, J Am Heart Assoc (2019): mean transmitral gradient before and after TEER in 255 "
    "patients (via clinical.md; authors to be added).",
    note="The means and SDs are mitrasim.procedure.calibration.GRADIENT_BEFORE_MMHG, GRADIENT_AFTER_MMHG "
    "and GRADIENT_SD_MMHG.",
)

MVA_REDUCTION_TARGET = 0.50

# Valve sections of the shipped examples (tests check they match examples/*.yaml).
REPRESENTATIVE_VALVES: dict[str, dict] = {
    "p2_flail": {
        "annulus": {"ap_diameter_mm": 32, "ic_diameter_mm": 37},
        "leaflets": {"anterior_mm": {"A1": 22, "A2": 26, "A3": 22}, "posterior_mm": {"P1": 12, "P2": 16, "P3": 12}},
        "lesions": [{"kind": "flail", "segments": ["P2"], "gap_mm": 7, "width_mm": 13}],
        "calcification": "none",
    },
    "coapt_secondary": {
        "annulus": {"ap_diameter_mm": 36, "ic_diameter_mm": 42},
        "leaflets": {"anterior_mm": {"A1": 21, "A2": 24, "A3": 21}, "posterior_mm": {"P1": 10, "P2": 12, "P3": 10}},
        "lesions": [{"kind": "tethering", "gap_mm": 2.5, "tenting_depth_mm": 9}],
        "eroa_cm2": 0.41,
    },
    "small_valve": {
        "annulus": {"ap_diameter_mm": 26, "ic_diameter_mm": 32},
        "leaflets": {"anterior_mm": {"A1": 19, "A2": 22, "A3": 19}, "posterior_mm": {"P1": 9, "P2": 12, "P3": 9}},
        "lesions": [{"kind": "prolapse", "segments": ["P2"], "gap_mm": 4.5, "width_mm": 11}],
        "calcification": "mild",
        "calcified_segments": ["P1", "P3"],
        "mva_cm2": 3.5,
    },
    "commissural_a3p3": {
        "annulus": {"ap_diameter_mm": 30, "ic_diameter_mm": 36},
        "leaflets": {"anterior_mm": {"A1": 21, "A2": 24, "A3": 21}, "posterior_mm": {"P1": 11, "P2": 14, "P3": 12}},
        "lesions": [{"kind": "flail", "segments": ["A3", "P3"], "gap_mm": 5, "width_mm": 9}],
    },
    "barlow": {
        "annulus": {"ap_diameter_mm": 38, "ic_diameter_mm": 42},
        "leaflets": {"anterior_mm": {"A1": 28, "A2": 32, "A3": 28}, "posterior_mm": {"P1": 18, "P2": 21, "P3": 18}},
        "lesions": [{"kind": "prolapse", "segments": ["A2", "P1", "P2", "P3"], "gap_mm": 4}],
        "calcification": "mild",
    },
}
TYPICAL_CLIP_COUNT = {"p2_flail": 1, "coapt_secondary": 2, "small_valve": 1, "commissural_a3p3": 1, "barlow": 2}
FMR_CASE = "coapt_secondary"


@dataclass(frozen=True)
class RepresentativePlan:
    name: str
    valve: ValveModel
    positions_mm: np.ndarray  # (n_clips,)
    widths_mm: np.ndarray
    arm_lengths_mm: np.ndarray
    devices: tuple[str, ...]


def _valve(name: str) -> ValveModel:
    from mitrasim.case import ValveSpec

    return valve_from_spec(ValveSpec.model_validate(REPRESENTATIVE_VALVES[name]))


def greedy_plan(valve: ValveModel, n_clips: int, params: ClipModelParams = DEFAULT_CLIP_PARAMS) -> RepresentativePlan:
    """Place ``n_clips`` one by one at the largest residual gap (device chosen there)."""
    from mitrasim.devices.grasp import choose_device
    from mitrasim.valve.clip import clipped_profiles

    pos: list[float] = []
    wid: list[float] = []
    arm: list[float] = []
    names: list[str] = []
    for _ in range(n_clips):
        if pos:
            g, *_ = clipped_profiles(valve, np.array([pos]), np.array([wid]), np.array([arm]), params)
            g = g[0]
        else:
            g = valve.gap_mm
        p = float(valve.s_mm[int(np.argmax(g))])
        dev = choose_device(valve, p).device
        p = float(np.clip(p, dev.width_mm / 2, valve.line_length_mm - dev.width_mm / 2))
        pos.append(p)
        wid.append(dev.width_mm)
        arm.append(dev.arm_length_mm)
        names.append(dev.name)
    return RepresentativePlan("", valve, np.array(pos), np.array(wid), np.array(arm), tuple(names))


def representative_plans(params: ClipModelParams = DEFAULT_CLIP_PARAMS) -> list[RepresentativePlan]:
    out = []
    for name, n in TYPICAL_CLIP_COUNT.items():
        out.append(replace(greedy_plan(_valve(name), n, params), name=name))
    return out


def _reduction(valve: ValveModel, plan_pos, plan_w, plan_arm, params) -> tuple[float, float, float]:
    r = evaluate_plans(valve, np.atleast_2d(plan_pos), np.atleast_2d(plan_w), np.atleast_2d(plan_arm), params)
    ara0 = valve.anatomic_regurgitant_area_cm2
    return (
        1.0 - float(r.anatomic_regurgitant_area_cm2[0]) / ara0 if ara0 > 0 else 0.0,
        1.0 - float(r.mva_cm2[0]) / valve.mva_cm2,
        1.0 - float(r.ap_diameter_mm[0]) / valve.ap_diameter_mm,
    )


def _best_single_clip_reduction(valve: ValveModel, width_mm: float, arm_mm: float, params: ClipModelParams) -> float:
    pos = valve.s_mm[(valve.s_mm >= width_mm / 2) & (valve.s_mm <= valve.line_length_mm - width_mm / 2)]
    r = evaluate_plans(valve, pos[:, None], width_mm, arm_mm, params)
    return float(1.0 - r.anatomic_regurgitant_area_cm2.min() / valve.anatomic_regurgitant_area_cm2)


def _bisect(f: Callable[[float], float], lo: float, hi: float, tol: float = 1e-4) -> float:
    flo = f(lo)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        fm = f(mid)
        if (fm > 0) == (flo > 0):
            lo, flo = mid, fm
        else:
            hi = mid
        if hi - lo < tol:
            break
    return 0.5 * (lo + hi)


def calibrate_clip_model(base: ClipModelParams = DEFAULT_CLIP_PARAMS, joint_with_spacers: bool = False) -> ClipModelParams:
    """Fit a_sys (Caballero's single-clip bound in FMR, CABALLERO_REGURGITANT_REDUCTION_MAX) then a_dia (mean MVA halved).

    ``joint_with_spacers``: a_dia and the two PASCAL spacer thicknesses together minimise
    the squared misses of the three area anchors (mean MVA −50% over the representative
    plans; Paukovitsch 2024's reductions with PASCAL and PASCAL Ace, PAUKOVITSCH_MVA_REDUCTION), a_dia on a
    0.005 grid, each spacer by bisection at each a_dia (:func:`calibrate_spacers`).  Not the
    default: that fit (a_dia 1.05, mean MVA −53.5%) raises the post-procedure gradient of
    the representative set to 3.4 mmHg with the forward discharge coefficient already at
    the low end of its measured range, missing the Neuss gradient anchor; the default keeps
    the MVA-halving anchor and fits the spacers after it (PASCAL Ace then misses its anchor).
    """
    citations.cite("caballero2020", "teer_halves_mva", "tctmd_expand2019")
    fmr = _valve(FMR_CASE)
    dev = DEFAULT_CATALOGUE["NTW"]

    def f_sys(a: float) -> float:
        return _best_single_clip_reduction(fmr, dev.width_mm, dev.arm_length_mm, replace(base, systolic_zone_per_arm=a)) - CABALLERO_REGURGITANT_REDUCTION_MAX

    a_sys = _bisect(f_sys, 0.0, 3.0)
    p = replace(base, systolic_zone_per_arm=a_sys)
    plans = representative_plans(p)

    def f_dia(a: float) -> float:
        q = replace(p, diastolic_zone_per_arm=a)
        return float(np.mean([_reduction(pl.valve, pl.positions_mm, pl.widths_mm, pl.arm_lengths_mm, q)[1] for pl in plans])) - MVA_REDUCTION_TARGET

    a_dia = _bisect(f_dia, 0.0, 5.0)
    if not joint_with_spacers:
        return replace(p, diastolic_zone_per_arm=a_dia)
    best: tuple[float, float] | None = None
    for a in np.arange(round(a_dia, 2), round(a_dia, 2) + 0.6, 0.005):
        q = replace(p, diastolic_zone_per_arm=float(a))
        err = (f_dia(float(a))) ** 2 + sum((m - PAUKOVITSCH_MVA_REDUCTION[k]) ** 2 for k, m in spacer_fit_reductions(q).items())
        if best is None or err < best[0]:
            best = (err, float(a))
    assert best is not None
    return replace(p, diastolic_zone_per_arm=best[1])


def spacer_fit_reductions(params: ClipModelParams) -> dict[str, float]:
    """Relative central MVA reduction of each PASCAL size at its calibrated spacer (FMR valve)."""
    fmr = _valve(FMR_CASE)
    t = calibrate_spacers(params)
    return {k: central_mva_reduction(fmr, DEFAULT_CATALOGUE[k].width_mm, DEFAULT_CATALOGUE[k].arm_length_mm, t[k], params) for k in t}


def central_mva_reduction(valve: ValveModel, width_mm: float, arm_mm: float, spacer_mm: float, params: ClipModelParams = DEFAULT_CLIP_PARAMS) -> float:
    """Relative MVA reduction by one device at the centre of segment 2 (A2/P2)."""
    c = 0.5 * (valve.segment_edges_mm[1] + valve.segment_edges_mm[2])
    r = evaluate_plans(valve, np.array([[c]]), width_mm, arm_mm, params, spacer_mm)
    return float(1.0 - r.mva_cm2[0] / valve.mva_cm2)


def calibrate_spacers(params: ClipModelParams = DEFAULT_CLIP_PARAMS) -> dict[str, float]:
    """Spacer thickness (mm) of each PASCAL size matching Paukovitsch 2024's relative MVA
    reduction in the secondary-MR valve (bisection on [0, 15] mm)."""
    citations.cite("paukovitsch2024")
    fmr = _valve(FMR_CASE)
    out = {}
    for name, target in PAUKOVITSCH_MVA_REDUCTION.items():
        d = DEFAULT_CATALOGUE[name]
        f = lambda t: central_mva_reduction(fmr, d.width_mm, d.arm_length_mm, t, params) - target  # noqa: E731
        out[name] = 0.0 if f(0.0) < 0 else (15.0 if f(15.0) > 0 else _bisect(f, 0.0, 15.0))
    return out


@dataclass(frozen=True)
class CalibrationReport:
    params: ClipModelParams
    rows: list[dict]
    mean_mva_reduction: float
    fmr_best_single_clip_regurgitant_reduction: float
    fmr_two_clip_opening_reduction: float
    fmr_two_clip_ap_reduction: float

    def format(self) -> str:
        p = self.params
        lines = [
            f"clip model: a_sys = {p.systolic_zone_per_arm:.3f}, a_dia = {p.diastolic_zone_per_arm:.3f}, "
            f"k_AP = {p.ap_shrink_per_mm:g}/mm, beta = {p.functional_gap_closure:g}",
            f"{'case':18s} {'devices':12s} {'EROA cm2':>16s} {'MVA cm2':>16s} {'dMVA':>6s} {'dAP':>5s}",
        ]
        for r in self.rows:
            lines.append(
                f"{r['case']:18s} {'+'.join(r['devices']):12s} {r['eroa_before']:7.2f} -> {r['eroa_after']:5.2f} "
                f"{r['mva_before']:7.2f} -> {r['mva_after']:5.2f} {-r['mva_reduction']:6.0%} {-r['ap_reduction']:5.0%}"
            )
        lines += [
            f"mean MVA reduction {self.mean_mva_reduction:.1%} (anchor: TEER about halves MVA)",
            f"FMR best single clip: anatomic regurgitant area -{self.fmr_best_single_clip_regurgitant_reduction:.1%} (Caballero 2020: up to {CABALLERO_REGURGITANT_REDUCTION_MAX:.0%})",
            f"FMR two clips: opening area -{self.fmr_two_clip_opening_reduction:.1%} (up to {CABALLERO_OPENING_REDUCTION_MAX_TWO_CLIPS:.0%}), AP diameter -{self.fmr_two_clip_ap_reduction:.1%} (up to {CABALLERO_AP_SHRINK_MAX:.0%})",
        ]
        return "\n".join(lines)


def calibration_report(params: ClipModelParams = DEFAULT_CLIP_PARAMS) -> CalibrationReport:
    """Evaluate the representative plans and the Caballero checks with ``params``."""
    rows = []
    for pl in representative_plans(params):
        r = evaluate_plans(pl.valve, pl.positions_mm[None], pl.widths_mm[None], pl.arm_lengths_mm[None], params)
        dr, dm, dap = _reduction(pl.valve, pl.positions_mm, pl.widths_mm, pl.arm_lengths_mm, params)
        rows.append(
            dict(
                case=pl.name, devices=pl.devices, positions_mm=pl.positions_mm.round(1).tolist(),
                eroa_before=pl.valve.eroa_cm2, eroa_after=float(r.eroa_cm2[0]),
                mva_before=pl.valve.mva_cm2, mva_after=float(r.mva_cm2[0]),
                mva_reduction=dm, ap_reduction=dap, regurgitant_reduction=dr,
            )
        )
    fmr = _valve(FMR_CASE)
    dev = DEFAULT_CATALOGUE["NTW"]
    two = greedy_plan(fmr, 2, params)
    _, dm2, dap2 = _reduction(fmr, two.positions_mm, two.widths_mm, two.arm_lengths_mm, params)
    return CalibrationReport(
        params=params,
        rows=rows,
        mean_mva_reduction=float(np.mean([r["mva_reduction"] for r in rows])),
        fmr_best_single_clip_regurgitant_reduction=_best_single_clip_reduction(fmr, dev.width_mm, dev.arm_length_mm, params),
        fmr_two_clip_opening_reduction=dm2,
        fmr_two_clip_ap_reduction=dap2,
    )


if __name__ == "__main__":  # pragma: no cover
    fitted = calibrate_clip_model()
    print("re-fitted:", f"a_sys={fitted.systolic_zone_per_arm:.3f}", f"a_dia={fitted.diastolic_zone_per_arm:.3f}")
    print("spacers:", {k: round(v, 2) for k, v in calibrate_spacers(fitted).items()}, "reductions:", {k: round(v, 3) for k, v in spacer_fit_reductions(fitted).items()})
    print(calibration_report().format())
