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
* calcification at the site: severe → infeasible; moderate → marginal (model
  choice [check]: the German position paper, Boekstegers 2014, is reproduced in
  reviews as calling severe calcification in the grasping area unsuitable — not
  read here; EVEREST II excluded any calcification in the grasping area, so that
  trial gives no grasp outcome at a calcified site).  A cleft at the site →
  marginal (EVEREST II exclusion).

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
from typing import Callable, Literal, Mapping, Sequence

import numpy as np

from mitrasim import citations
from mitrasim.devices.catalogue import DEFAULT_CATALOGUE, NT_ARM_MM, NT_REACH_MM, Device
from mitrasim.errors import InputError
from mitrasim.valve.clip import ValveRows, available_leaflet_mm, available_leaflet_one_mm
from mitrasim.valve.geometry import CALCIFICATION_GRADES, CALCIFICATION_MOBILITY, ValveModel

_MOBILITY = np.array([CALCIFICATION_MOBILITY[g] for g in CALCIFICATION_GRADES])

__all__ = [
    "GraspAssessment", "GraspNumbers", "assess_grasp", "grasp_at", "grasp_of_site", "grasp_arrays", "grasp_reasons", "grasp_reasons_rows", "GRASP_STATUS", "choose_device", "DeviceChoice",
    "SLDA_MULTIPLIER_MAX", "choose_sizes", "SizeChoice", "SiteReading", "read_site", "size_orders", "size_rule", "NO_DEVICE",
]  # fmt: skip

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
"""Status names by code (0, 1, 2) of :func:`grasp_arrays`."""

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
    a_avail = available_leaflet_one_mm(float(anterior_mm), float(gap), device.spacer_mm, float(tenting_mm))
    p_avail = available_leaflet_one_mm(float(posterior_mm), float(gap), device.spacer_mm, float(tenting_mm))
    lmin = float(_MOBILITY[int(calc)]) * min(device.arm_length_mm, a_avail, p_avail)
    return _grasp_words(float(gap), lmin, int(calc), bool(cleft), device, min(a_avail, p_avail))


def grasp_reasons_rows(gap: np.ndarray, anterior_mm: np.ndarray, posterior_mm: np.ndarray, calc: np.ndarray, cleft: np.ndarray, devices: Sequence[Device],
                       tenting_mm: np.ndarray | float = 0.0) -> list[tuple[str, ...]]:  # fmt: skip
    """:func:`grasp_reasons` of many grasps (arrays (m,), ``devices`` one per grasp): the leaflet
    numbers of all in one numpy pass (:func:`~mitrasim.valve.clip.available_leaflet_mm`, the
    operations of the one-grasp path, and ``min`` taken as Python's: a later value only when
    smaller), the words per grasp."""
    gap = np.asarray(gap, dtype=float)
    arm, spacer = (np.array([getattr(d, k) for d in devices], dtype=float) for k in ("arm_length_mm", "spacer_mm"))
    a_avail = available_leaflet_mm(anterior_mm, gap, spacer, tenting_mm)
    p_avail = available_leaflet_mm(posterior_mm, gap, spacer, tenting_mm)
    shortest = np.where(p_avail < a_avail, p_avail, a_avail)  # min(a_avail, p_avail)
    reach_min = np.where(a_avail < arm, a_avail, arm)
    reach_min = np.where(p_avail < reach_min, p_avail, reach_min)  # min(arm, a_avail, p_avail)
    calc = np.asarray(calc).astype(np.int64)
    lmin = _MOBILITY[calc] * reach_min
    rows = zip(gap.tolist(), lmin.tolist(), calc.tolist(), np.asarray(cleft, dtype=bool).tolist(), devices, shortest.tolist())
    return [_grasp_words(*row) for row in rows]


def _grasp_words(gap: float, lmin: float, calc: int, cleft: bool, device: Device, leaflet_mm: float) -> tuple[str, ...]:
    """The words of one grasp from its numbers: the gap, the leaflet in the grasp ``lmin``, the
    calcification grade, a cleft, and the shorter leaflet available ``leaflet_mm``."""
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
    if device.arm_length_mm > leaflet_mm:
        reasons.append(f"{device.name} arm ({device.arm_length_mm:g} mm) longer than the leaflet available ({leaflet_mm:.1f} mm)")
    return tuple(reasons)


@dataclass
class GraspNumbers:
    """Grasp of one device at one position per row: status code (0 good, 1 marginal, 2 infeasible),
    SLDA multiplier, and the anatomy it was read from (for the operator's words)."""

    status: np.ndarray
    multiplier: np.ndarray
    gap_mm: np.ndarray
    anterior_mm: np.ndarray
    posterior_mm: np.ndarray
    calcification: np.ndarray
    cleft: np.ndarray


def grasp_at(vr: ValveRows, rows: np.ndarray, g: np.ndarray, pos: np.ndarray, width: np.ndarray, arm: np.ndarray, reach: np.ndarray, spacer: np.ndarray | float = 0.0) -> GraspNumbers:
    """The grasp of a device of ``width`` (m,) at ``pos`` (m,) on the gap profiles ``g`` (m, G) of
    valves ``rows`` (``spacer``: each device's spacer thickness, mm; the valves' tenting depth is
    taken from ``vr``): the one reading of the anatomy under the clip (the largest gap and worst
    calcification under its width, any cleft there, the leaflet lengths in its cell) and
    :func:`grasp_arrays` on it (:func:`grasp_of_site`).  :func:`assess_grasp` is this with m = 1."""
    m = rows.size
    r = np.arange(m)
    i = vr.index_of(rows, pos)
    s = vr.s_mm[rows]
    under = np.abs(s - pos[:, None]) <= np.maximum(0.5 * width, vr.ds_mm[rows])[:, None]
    anyu = under.any(axis=1)
    gap = np.where(anyu, np.where(under, g, -np.inf).max(axis=1), g[r, i])
    calc_rows = vr.calcification_grade[rows]
    calc = np.where(anyu, np.where(under, calc_rows, -1).max(axis=1), calc_rows[r, i])
    cleft = (under & vr.cleft[rows]).any(axis=1)
    return grasp_of_site(vr, rows, i, gap, calc, cleft, arm, reach, spacer)


def grasp_of_site(vr: ValveRows, rows: np.ndarray, i: np.ndarray, gap: np.ndarray, calc: np.ndarray, cleft: np.ndarray, arm: np.ndarray, reach: np.ndarray,
                  spacer: np.ndarray | float = 0.0) -> GraspNumbers:  # fmt: skip
    """:func:`grasp_at` from its reading of the site: the clip's cell ``i`` (m,), the largest gap,
    the worst calcification and any cleft under the clip (m,)."""
    citations.cite("feldman2011_everest2", "boekstegers2014", "tctmd_expand2019")
    a_len, p_len = vr.anterior_mm[rows, i], vr.posterior_mm[rows, i]
    status, mult = grasp_arrays(gap, a_len, p_len, calc, cleft, arm, reach, spacer, vr.tenting_depth_mm[rows])
    return GraspNumbers(status, mult, gap, a_len, p_len, calc, cleft)


def assess_grasp(valve: ValveModel, position_mm: float, device: Device) -> GraspAssessment:
    """Can ``device`` grasp both leaflets at ``position_mm``?  See the module rule; the anatomy is
    read by :func:`grasp_at` (one valve, one clip), the operator's words by :func:`grasp_reasons`."""
    vr = ValveRows.from_valves([valve])
    one = lambda x: np.array([x], dtype=float)  # noqa: E731
    n = grasp_at(vr, np.array([0]), vr.gap_mm, one(position_mm), one(device.width_mm), one(device.arm_length_mm), one(device.grasp_reach_mm), device.spacer_mm)
    gap, a_len, p_len = float(n.gap_mm[0]), float(n.anterior_mm[0]), float(n.posterior_mm[0])
    calc, cleft, t = int(n.calcification[0]), bool(n.cleft[0]), valve.tenting_depth_mm
    status, m = n.status[0], n.multiplier[0]
    mob = float(_MOBILITY[calc])
    ga = mob * min(device.arm_length_mm, float(available_leaflet_mm(a_len, gap, device.spacer_mm, t)))
    gp = mob * min(device.arm_length_mm, float(available_leaflet_mm(p_len, gap, device.spacer_mm, t)))
    reasons = grasp_reasons(gap, a_len, p_len, calc, cleft, device, t)
    return GraspAssessment(GRASP_STATUS[int(status)], float(m), gap, ga, gp, reasons)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DeviceChoice:
    device: Device
    reasons: tuple[str, ...]


NO_DEVICE = -1
"""Index of "no device" in the size orders of :func:`size_orders`."""
MITRACLIP_SIZES = ("NT", "XT", "NTW", "XTW")
"""The MitraClip sizes in the order tried after the size rule's own (short/long arms, narrow/wide)."""
PASCAL_SIZES = ("PASCAL Ace", "PASCAL")
"""The PASCAL sizes, narrow then wide."""
FAMILY_PREFERENCES = ("auto", "MitraClip", "PASCAL")
"""Preferences that name a family (``auto`` = MitraClip); any other preference is a device name."""

Feasible = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``feasible(k, d)``: can device ``d[j]`` (index into the catalogue) grasp at row ``k[j]``'s site?"""


@dataclass(frozen=True)
class SiteReading:
    """What the size rule reads at each row's site (m,) and its verdict (:func:`size_rule`)."""

    gap_mm: np.ndarray
    shortest_mm: np.ndarray
    mva_cm2: np.ndarray
    segment: np.ndarray
    leak_mm: np.ndarray
    long_arms: np.ndarray
    wide: np.ndarray


@dataclass(frozen=True)
class SizeChoice:
    """Per row: the chosen device (index into ``list(catalogue)``), the first size of the rule's
    order, whether any size can grasp; ``reading`` None when the preference named a device."""

    device: np.ndarray
    first: np.ndarray
    feasible: np.ndarray
    reading: SiteReading | None


def read_site(vr: ValveRows, rows: np.ndarray, g: np.ndarray, position_mm: np.ndarray, mva_cm2: np.ndarray) -> SiteReading:
    """The size rule's anatomy at ``position_mm`` (m,) of valves ``rows`` with gap profiles ``g``
    (m, G): the gap in the site's cell, the shorter leaflet there less half that gap, the
    segment (0, 1, 2), the leak's length (:func:`leak_length_mm`) and the rule's verdict."""
    r = np.arange(rows.size)
    i = vr.index_of(rows, position_mm)
    gap = g[r, i]
    shortest = np.minimum(vr.anterior_mm[rows, i], vr.posterior_mm[rows, i]) - gap / 2
    seg = (vr.segment_edges_mm[rows] <= np.asarray(position_mm)[:, None]).sum(axis=1) - 1
    leak = leak_length_mm(g, vr.ds_mm[rows])
    mva = np.broadcast_to(np.asarray(mva_cm2, dtype=float), (rows.size,))
    long_arms, wide = size_rule(gap, shortest, mva, seg, leak)
    return SiteReading(gap, shortest, mva, seg, leak, long_arms, wide)


def _indices(catalogue: Mapping[str, Device], names: Sequence[str]) -> np.ndarray:
    keys = list(catalogue)
    return np.array([keys.index(n) if n in catalogue else NO_DEVICE for n in names])


def size_orders(long_arms: np.ndarray, wide: np.ndarray, family: str, catalogue: Mapping[str, Device]) -> np.ndarray:
    """(m, k) the sizes to try per row, as catalogue indices: the size rule's own first, then the
    family's other sizes in :data:`MITRACLIP_SIZES` order (PASCAL: the other width); sizes the
    catalogue lacks are dropped, the order kept, and the rows padded with :data:`NO_DEVICE`."""
    if family == "PASCAL":
        narrow, broad = _indices(catalogue, PASCAL_SIZES)
        order = np.stack([np.where(wide, broad, narrow), np.where(wide, narrow, broad)], axis=1)
    else:
        ids = _indices(catalogue, MITRACLIP_SIZES)
        first = np.where(long_arms, np.where(wide, 3, 1), np.where(wide, 2, 0))  # index into MITRACLIP_SIZES
        rest = [np.where(j < first, ids[j], ids[np.minimum(j + 1, 3)]) for j in range(3)]
        order = np.stack([ids[first]] + rest, axis=1)
    key = np.where(order == NO_DEVICE, order.shape[1] + np.arange(order.shape[1]), np.arange(order.shape[1]))
    return np.take_along_axis(order, np.argsort(key, axis=1, kind="stable"), axis=1)


def choose_sizes(
    vr: ValveRows,
    rows: np.ndarray,
    g: np.ndarray,
    position_mm: np.ndarray,
    mva_cm2: np.ndarray,
    preference: str,
    catalogue: Mapping[str, Device],
    feasible: Feasible,
) -> SizeChoice:
    """The device choice (:func:`choose_device`), one definition for one valve and for many rows:

    * a device name as ``preference`` is taken as it is;
    * otherwise the family's sizes are tried in :func:`size_orders`'s order (the size rule's
      own first) and the first that ``feasible`` says can grasp is chosen; when none can, the
      rule's own size.
    ``feasible`` is the caller's grasp rule (:func:`assess_grasp` on one valve, the procedure's
    batched grasp on the residual gaps); it is asked only for rows still without a size.
    """
    citations.cite("feldman2011_everest2", "boekstegers2014")
    m = rows.size
    if preference not in FAMILY_PREFERENCES and preference in catalogue:
        d = np.full(m, list(catalogue).index(preference))
        return SizeChoice(d, d, np.ones(m, bool), None)
    reading = read_site(vr, rows, g, position_mm, mva_cm2)
    family = "PASCAL" if preference == "PASCAL" else "MitraClip"
    order = size_orders(reading.long_arms, reading.wide, family, catalogue)
    if m and (order[:, 0] == NO_DEVICE).any():
        raise InputError("device_preference", preference, f"a family with a size in the catalogue ({', '.join(catalogue)})")
    chosen = order[:, 0].copy()
    found = np.zeros(m, bool)
    for j in range(order.shape[1]):
        k = np.flatnonzero((order[:, j] != NO_DEVICE) & ~found)
        if k.size == 0:
            continue
        take = k[np.asarray(feasible(k, order[k, j]), dtype=bool)]
        chosen[take] = order[take, j]
        found[take] = True
    return SizeChoice(chosen, order[:, 0], found, reading)


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
      (:func:`size_rule`).
    A device name as preference is returned as it is ("PASCAL" means the
    PASCAL family: Ace or PASCAL by the width rule).
    Finally, among the sizes of the family, an infeasible grasp is replaced by
    the first feasible one in the order above, if any.  :func:`choose_sizes` is the
    one implementation (the batched procedure calls it too); this adds the words.
    """
    cat = DEFAULT_CATALOGUE if catalogue is None else catalogue
    devs = list(cat.values())
    vr = ValveRows.from_valves([valve])
    mva = valve.mva_cm2 if mva_cm2 is None else mva_cm2

    def feasible(k: np.ndarray, d: np.ndarray) -> np.ndarray:
        return np.array([assess_grasp(valve, position_mm, devs[int(x)]).feasible for x in d])

    c = choose_sizes(vr, np.array([0]), vr.gap_mm, np.array([float(position_mm)]), np.array([mva]), preference, cat, feasible)
    chosen, first = devs[int(c.device[0])], devs[int(c.first[0])]
    if c.reading is None:
        return DeviceChoice(chosen, ("device chosen by preference",))
    rd = c.reading
    reasons = [
        f"gap {rd.gap_mm[0]:.1f} mm, shortest leaflet beyond half the gap {rd.shortest_mm[0]:.1f} mm → {'long' if rd.long_arms[0] else 'short'} arms",
        f"MVA {rd.mva_cm2[0]:.2f} cm², segment {rd.segment[0] + 1}, leak {rd.leak_mm[0]:.0f} mm long → {'wide' if rd.wide[0] else 'narrow'}",
    ]
    if not c.feasible[0]:
        reasons.append("no size of the family can grasp here")
    elif chosen.name != first.name:
        reasons.append(f"{first.name} cannot grasp here; {chosen.name} can")
    return DeviceChoice(chosen, tuple(reasons))
