"""Grasp feasibility, single-leaflet-attachment risk and device choice.

Grasp rule (model, thresholds from EVEREST II exclusions and Boekstegers 2014):

* gap ``g`` at the clip site (the anatomic systolic gap, mm) must be within the
  device's ``grasp_reach_mm``: beyond it the grasp is infeasible; above 70% of
  it the grasp is marginal.
* leaflet in the grasp, for each leaflet ``x ∈ {A, P}``:
  ``ℓ_x = m_c · min(arm, ℓ_avail,x)`` with
  ``ℓ_avail = len_x − max(0, g − t)/2 − max(0, T − T_free)``
  (:func:`mitrasim.valve.clip.available_leaflet_mm`: half the gap is bridged
  before the leaflet reaches the arm, a spacer of thickness ``t`` bridges part
  of it, tenting beyond ``T_free`` costs graspable leaflet) and ``m_c`` the
  calcification mobility at the site (stiff tissue enters the arms less; the
  clip model's grasp depth).  ``min(ℓ_A, ℓ_P) < 4 mm`` → infeasible; ``< 6 mm`` →
  marginal.  (Boekstegers: posterior leaflet < 7 mm unsuitable, 7–10 mm
  conditional: with a typical 2–3 mm gap this puts 6 mm of tissue in the arm
  at the "conditional" edge.)
* calcification at the site: severe → infeasible (EVEREST II); moderate →
  marginal.  A cleft at the site → marginal (EVEREST II exclusion).

Single-leaflet device attachment (SLDA) multiplier on the baseline rate
(clinical.md: SLDA about 1.5–2%; the procedure module samples it):

    M = (1 + max(0, 6 − ℓ_min)/2) · (1 + max(0, g/reach − 0.7)/0.3)
        · c_calc · (1.5 if cleft) · (1.3 if arm > ℓ_avail),

``c_calc`` = 1 / 1 / 1.5 for none / mild / moderate calcification; the last
factor applies when the arm is longer than the shortest leaflet's available
length (the arm overhangs the tissue — the EXPAND signal of more SLDA with the
longer XTR arms); ``M`` is capped at 5.  A good grasp has ``M = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping

import numpy as np

from mitrasim import citations
from mitrasim.devices.catalogue import DEFAULT_CATALOGUE, NT_ARM_MM, NT_REACH_MM, Device
from mitrasim.valve.clip import available_leaflet_mm
from mitrasim.valve.geometry import CALCIFICATION_GRADES, CALCIFICATION_MOBILITY, ValveModel

_MOBILITY = np.array([CALCIFICATION_MOBILITY[g] for g in CALCIFICATION_GRADES])

__all__ = ["GraspAssessment", "assess_grasp", "grasp_arrays", "grasp_reasons", "GRASP_STATUS", "choose_device", "DeviceChoice", "SLDA_MULTIPLIER_MAX"]

citations.register(
    "boekstegers2014",
    "Boekstegers P et al. Interventional treatment of mitral regurgitation with the MitraClip system: "
    "position paper of the German Society of Cardiology. Clin Res Cardiol 103:85-96 (2014).",
    note="Suitability: posterior leaflet >= 10 mm optimal, 7-10 mm conditional, < 7 mm unsuitable; "
    "MVA > 4 cm2 optimal, > 3 cm2 conditional; jet A2/P2 optimal, A1/P1 and A3/P3 conditional.",
)

GRASP_MIN_MM = 4.0
GRASP_GOOD_MM = 6.0
GAP_MARGINAL_FRACTION = 0.7
SLDA_MULTIPLIER_MAX = 5.0


@dataclass(frozen=True)
class GraspAssessment:
    status: Literal["good", "marginal", "infeasible"]
    slda_multiplier: float
    gap_mm: float
    grasp_anterior_mm: float
    grasp_posterior_mm: float
    reasons: tuple[str, ...]

    @property
    def feasible(self) -> bool:
        return self.status != "infeasible"


GRASP_STATUS = ("good", "marginal", "infeasible")

LONG_ARM_GAP_MM = NT_REACH_MM / 2
"""Size rule: long arms (XT) above this gap at the site (half the NT reach; model choice)."""
LONG_ARM_MIN_LEAFLET_MM = NT_ARM_MM
"""Size rule: long arms only if both leaflets leave at least an NT arm after bridging half the gap."""
WIDE_MIN_MVA_CM2 = 4.0
"""Size rule: a wide device only in a valve of at least this MVA (EVEREST II's anatomic exclusion)."""
WIDE_MIN_LEAK_MM = 10.0
"""Size rule: a wide device only if the leak spans at least this much of the line (model choice)."""
LEAK_CELL_MM = 0.5
"""A grid cell counts toward the leak's length when its gap exceeds this (model choice)."""


def leak_length_mm(gap_mm: np.ndarray, ds_mm: float | np.ndarray) -> np.ndarray:
    """Length of the coaptation line that leaks: cells with a gap > LEAK_CELL_MM (last axis)."""
    return np.sum(np.asarray(gap_mm) > LEAK_CELL_MM, axis=-1) * np.asarray(ds_mm)


def size_rule(gap_mm, shortest_mm, mva_cm2, segment, leak_mm) -> tuple[np.ndarray, np.ndarray]:
    """The device size rule of :func:`choose_device`, elementwise (scalars or arrays):
    ``(long_arms, wide)``.  ``shortest_mm``: the shorter leaflet at the site less half the gap;
    ``segment``: 0, 1, 2 (1 = segment 2, away from the commissures)."""
    long_arms = (np.asarray(gap_mm) > LONG_ARM_GAP_MM) & (np.asarray(shortest_mm) >= LONG_ARM_MIN_LEAFLET_MM)
    wide = (np.asarray(mva_cm2) >= WIDE_MIN_MVA_CM2) & (np.asarray(segment) == 1) & (np.asarray(leak_mm) >= WIDE_MIN_LEAK_MM)
    return long_arms, wide
"""Status names by code (0, 1, 2) of :func:`grasp_arrays`."""


def grasp_arrays(
    gap_mm: np.ndarray,
    anterior_mm: np.ndarray,
    posterior_mm: np.ndarray,
    calcification: np.ndarray,
    cleft: np.ndarray,
    arm_length_mm: np.ndarray,
    grasp_reach_mm: np.ndarray,
    spacer_mm: np.ndarray | float = 0.0,
    tenting_mm: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The grasp rule (module docstring) on arrays: ``(status code 0/1/2, SLDA multiplier)``.

    ``gap_mm``: the largest gap under the clip; ``anterior_mm``/``posterior_mm``: leaflet
    lengths at the clip's cell; ``calcification``: worst grade (0–3) under the clip;
    ``cleft``: any cleft under the clip; device arm length and reach.  The one
    implementation of the rule: :func:`assess_grasp` calls it for one clip.
    """
    gap = np.asarray(gap_mm, dtype=float)
    arm = np.asarray(arm_length_mm, dtype=float)
    reach = np.asarray(grasp_reach_mm, dtype=float)
    calc = np.asarray(calcification)
    cleft = np.asarray(cleft, dtype=bool)
    avail = available_leaflet_mm(np.minimum(np.asarray(anterior_mm, dtype=float), np.asarray(posterior_mm, dtype=float)), gap, spacer_mm, tenting_mm)
    lmin = _MOBILITY[np.clip(calc.astype(np.int64), 0, 3)] * np.minimum(arm, avail)
    status = np.zeros(np.broadcast(gap, avail, arm).shape, dtype=np.int64)
    status = np.maximum(status, np.where(gap > reach, 2, np.where(gap > GAP_MARGINAL_FRACTION * reach, 1, 0)))
    status = np.maximum(status, np.where(lmin < GRASP_MIN_MM, 2, np.where(lmin < GRASP_GOOD_MM, 1, 0)))
    status = np.maximum(status, np.where(calc >= 3, 2, np.where(calc == 2, 1, 0)))
    status = np.maximum(status, np.where(cleft, 1, 0))
    m = 1.0 + np.maximum(0.0, GRASP_GOOD_MM - lmin) / 2.0
    m = m * (1.0 + np.maximum(0.0, gap / reach - GAP_MARGINAL_FRACTION) / (1.0 - GAP_MARGINAL_FRACTION))
    m = m * np.where(calc == 2, 1.5, 1.0)
    m = m * np.where(cleft, 1.5, 1.0)
    m = m * np.where(arm > avail, 1.3, 1.0)
    return status, np.minimum(SLDA_MULTIPLIER_MAX, m)


def grasp_reasons(gap: float, anterior_mm: float, posterior_mm: float, calc: int, cleft: bool, device: Device, tenting_mm: float = 0.0) -> tuple[str, ...]:
    """The operator's words for a grasp (the same comparisons as :func:`grasp_arrays`)."""
    a_avail = float(available_leaflet_mm(anterior_mm, gap, device.spacer_mm, tenting_mm))
    p_avail = float(available_leaflet_mm(posterior_mm, gap, device.spacer_mm, tenting_mm))
    lmin = float(_MOBILITY[int(calc)]) * min(device.arm_length_mm, a_avail, p_avail)
    reasons: list[str] = []
    if gap > device.grasp_reach_mm:
        reasons.append(f"gap {gap:.1f} mm beyond the {device.name} reach of {device.grasp_reach_mm:g} mm")
    elif gap > GAP_MARGINAL_FRACTION * device.grasp_reach_mm:
        reasons.append(f"gap {gap:.1f} mm near the {device.name} reach of {device.grasp_reach_mm:g} mm")
    if lmin < GRASP_MIN_MM:
        reasons.append(f"only {lmin:.1f} mm of leaflet in the grasp (< {GRASP_MIN_MM:g} mm)")
    elif lmin < GRASP_GOOD_MM:
        reasons.append(f"{lmin:.1f} mm of leaflet in the grasp (< {GRASP_GOOD_MM:g} mm)")
    if calc >= 3:
        reasons.append("severe calcification in the grasping zone")
    elif calc == 2:
        reasons.append("moderate calcification in the grasping zone")
    if cleft:
        reasons.append("cleft in the grasping zone")
    if device.arm_length_mm > min(a_avail, p_avail):
        reasons.append(f"{device.name} arm ({device.arm_length_mm:g} mm) longer than the leaflet available ({min(a_avail, p_avail):.1f} mm)")
    return tuple(reasons)


def assess_grasp(valve: ValveModel, position_mm: float, device: Device) -> GraspAssessment:
    """Can ``device`` grasp both leaflets at ``position_mm``?  See the module rule."""
    citations.cite("feldman2011_everest2", "boekstegers2014", "tctmd_expand2019")
    i = int(valve.index_of(position_mm))
    # the gap the arms must bridge: the largest gap under the clip's width
    half = 0.5 * device.width_mm
    under = np.abs(valve.s_mm - position_mm) <= max(half, valve.ds_mm)
    gap = float(valve.gap_mm[under].max()) if under.any() else float(valve.gap_mm[i])
    a_len, p_len = float(valve.anterior_mm[i]), float(valve.posterior_mm[i])
    calc = int(valve.calcification_grade[under].max()) if under.any() else int(valve.calcification_grade[i])
    cleft = bool(valve.cleft[under].any())
    t = valve.tenting_depth_mm
    status, m = grasp_arrays(np.float64(gap), a_len, p_len, calc, cleft, device.arm_length_mm, device.grasp_reach_mm, device.spacer_mm, t)
    mob = float(_MOBILITY[calc])
    ga = mob * min(device.arm_length_mm, float(available_leaflet_mm(a_len, gap, device.spacer_mm, t)))
    gp = mob * min(device.arm_length_mm, float(available_leaflet_mm(p_len, gap, device.spacer_mm, t)))
    reasons = grasp_reasons(gap, a_len, p_len, calc, cleft, device, t)
    return GraspAssessment(GRASP_STATUS[int(status)], float(m), gap, ga, gp, reasons)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DeviceChoice:
    device: Device
    reasons: tuple[str, ...]


def choose_device(
    valve: ValveModel,
    position_mm: float,
    preference: str = "auto",
    catalogue: Mapping[str, Device] | None = None,
    mva_cm2: float | None = None,
) -> DeviceChoice:
    """Pick a device size from the anatomy at ``position_mm`` (rule, model):

    * family: ``preference`` ("MitraClip", "PASCAL", a device name, or "auto" =
      MitraClip);
    * long arms (XT) if the gap at the site is > LONG_ARM_GAP_MM (half the NT
      reach: large flail gaps) and both leaflets leave ≥ LONG_ARM_MIN_LEAFLET_MM
      (the NT arm) after bridging half the gap; otherwise short arms (NT) —
      short leaflets, small valves;
    * wide (W, or PASCAL) if the valve has room: MVA ≥ WIDE_MIN_MVA_CM2
      (EVEREST II), the site is in segment 2 (not next to a commissure) and the
      leak spans ≥ WIDE_MIN_LEAK_MM of the line; otherwise narrow
      (:func:`size_rule`, shared with the batched procedure).
    A device name as preference is returned as it is ("PASCAL" means the
    PASCAL family: Ace or PASCAL by the width rule).
    Finally, among the sizes of the family, an infeasible grasp is replaced by
    the first feasible one in the order above, if any.
    """
    cat = DEFAULT_CATALOGUE if catalogue is None else catalogue
    citations.cite("feldman2011_everest2", "boekstegers2014")
    if preference not in ("auto", "MitraClip", "PASCAL") and preference in cat:
        return DeviceChoice(cat[preference], ("device chosen by preference",))
    family = "PASCAL" if preference == "PASCAL" else "MitraClip"
    i = int(valve.index_of(position_mm))
    gap = float(valve.gap_mm[i])
    shortest = float(min(valve.anterior_mm[i], valve.posterior_mm[i])) - gap / 2
    mva = valve.mva_cm2 if mva_cm2 is None else mva_cm2
    seg = int(np.searchsorted(valve.segment_edges_mm, position_mm, side="right") - 1)
    wide_gap = float(leak_length_mm(valve.gap_mm, valve.ds_mm))
    reasons = []
    la, wd = size_rule(gap, shortest, mva, seg, wide_gap)
    long_arms, wide = bool(la), bool(wd)
    reasons.append(f"gap {gap:.1f} mm, shortest leaflet beyond half the gap {shortest:.1f} mm → {'long' if long_arms else 'short'} arms")
    reasons.append(f"MVA {mva:.2f} cm², segment {seg + 1}, leak {wide_gap:.0f} mm long → {'wide' if wide else 'narrow'}")
    if family == "PASCAL":
        order = ["PASCAL", "PASCAL Ace"] if wide else ["PASCAL Ace", "PASCAL"]
    else:
        first = ("XT" if long_arms else "NT") + ("W" if wide else "")
        order = [first] + [n for n in ("NT", "XT", "NTW", "XTW") if n != first]
    order = [n for n in order if n in cat]
    for n in order:
        if assess_grasp(valve, position_mm, cat[n]).feasible:
            if n != order[0]:
                reasons.append(f"{order[0]} cannot grasp here; {n} can")
            return DeviceChoice(cat[n], tuple(reasons))
    reasons.append("no size of the family can grasp here")
    return DeviceChoice(cat[order[0]], tuple(reasons))
