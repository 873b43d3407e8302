"""The mitral valve as a coaptation line with a systolic gap and a diastolic opening.

Coordinates
-----------
``s`` (mm) runs along the coaptation line from the anterolateral commissure
(``s = 0``) to the posteromedial commissure (``s = L``).  The line is taken as
straight with length ``L`` equal to the intercommissural diameter (its mild
curvature is ignored).  It is cut into three segments (A1/P1, A2/P2, A3/P3) at
fractions :data:`SEGMENT_FRACTIONS` of ``L`` and discretised in cells of about
:data:`GRID_STEP_MM` (cell centres ``s_i = (i + 1/2)·Δs``, ``Δs = L/n``).

Profiles
--------
* ``g(s)`` (mm): the systolic gap between the leaflet edges, an *anatomic*
  width.  Each lesion contributes a bump

      g_k(s) = gap_k · (1 − |x|^p_k)^(1/2),   x = (s − c_k)/(width_k/2), |x| < 1,

  with ``p = 2`` (elliptic) for prolapse and tethering, ``p = 4`` (flat-topped)
  for a flail; overlapping lesions combine by the maximum (one orifice, not two
  stacked).  Functional (tethering) and degenerative gaps are kept apart
  because annular reduction by a clip narrows only the functional one.
* ``w(s)`` (mm): the diastolic opening between the leaflet tips,

      w(s) = F_OPEN · D_AP · (1 − x²)^(1/2) · m(s),   x = 2s/L − 1,

  an ellipse spanning the commissures whose minor axis scales with the
  antero-posterior diameter; ``m(s) ≤ 1`` is the leaflet mobility (reduced by
  calcification and by tenting).
* ``k(s)``: the lesion kind under each cell (:data:`LESION_KIND_CODE`: 0 none,
  1 tethering, 2 prolapse, 3 flail; where lesions overlap the highest code),
  which the clip model needs (a flail edge has no chordal support beside the
  clip); the valve's tenting depth and its annular calcification grade
  (mitral annular calcification, MAC: a rigid annulus the clip cannot pull in)
  are kept with it.

Areas (Δs in mm, areas in cm² = mm²/100)
------------------------------------------
* ``eroa_cm2 = C_d · Σ g_i Δs / 100`` — EROA is a vena-contracta area, so the
  anatomic gap area is contracted by the discharge coefficient ``C_d``
  (:data:`REGURGITANT_DISCHARGE_COEFF`).
* ``mva_cm2 = Σ w_i Δs / 100`` — the anatomic (planimetric) opening area of all
  orifices together; Maisano et al. 1999 showed a double orifice behaves
  hydraulically as one orifice of the summed area, so no per-orifice
  correction is made.  The engine needs an *effective* forward area: see
  :func:`mitrasim.procedure.calibration.forward_effective_area_cm2` (the one
  calibrated forward discharge coefficient, used by the procedure, the planner
  and the web app alike).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from mitrasim import citations

#: A validated valve section of a case (:class:`mitrasim.case.ValveSpec`), read by attribute only: the
#: valve model knows no case schema (the case imports the valve, never the reverse).
ValveSpecLike = Any

__all__ = [
    "GRID_STEP_MM",
    "SEGMENT_FRACTIONS",
    "segment_edges_rows_mm",
    "SCALLOPS",
    "FORWARD_DISCHARGE_COEFF",
    "REGURGITANT_DISCHARGE_COEFF",
    "F_OPEN",
    "CALCIFICATION_MOBILITY",
    "CALCIFICATION_GRADES",
    "DEFAULT_ANTERIOR_MM",
    "DEFAULT_POSTERIOR_MM",
    "LESION_KIND_CODE",
    "lesion_extent_mm",
    "Orifice",
    "ValveModel",
    "line_length_mm",
    "segment_edges_mm",
    "segment_of_mm",
    "scallop_span_mm",
    "lesion_bump_mm",
    "elliptic_opening_mm",
    "area_cm2",
    "find_orifices",
    "build_valve",
]

citations.register(
    "flachskampf1990",
    "Flachskampf FA, Weyman AE, Guerrero JL, Thomas JD. Influence of orifice geometry and flow rate "
    "on effective valve area: an in vitro study. J Am Coll Cardiol 15(5):1173-1180 (1990).",
    note="Discharge coefficients over mitrasim.procedure.calibration.FIT_RANGE; lower for elliptic (5:1) than "
    "round orifices (-5.5%), higher with a nozzle-like inlet (from 0.81 to the top of FIT_RANGE).",
)
citations.register(
    "maisano1999",
    "Maisano F et al. The hemodynamic effects of double-orifice valve repair for mitral "
    "regurgitation: a 3D computational model. Eur J Cardiothorac Surg 15:419 (1999).",
    note="Pressure drop depends on the total orifice area only, not on how it is split.",
)

citations.register(
    "rac2014_3dtee_mv",
    "Three Dimensional Echocardiographic Analysis of Mitral Valve Characteristics. Rev Argent Cardiol 82(4):279-284 "
    "(2014) (authors not on the page read [check]).",
    doi="10.7775/rac.es.v82.i4.3809",
    note="Abstract read: 26 patients without heart disease, 3D TEE, values indexed to body surface area, median "
    "(IQR): anterior leaflet length 13.4 (12.4-14) mm/m2, posterior 7.8 (7.1-8.3) mm/m2, intercommissural "
    "diameter 18.7 mm/m2. A cross-check of mitrasim.valve.geometry.DEFAULT_ANTERIOR_MM and DEFAULT_POSTERIOR_MM.",
)

GRID_STEP_MM = 0.5
"""Target cell size along the coaptation line (mm)."""

SEGMENT_FRACTIONS = (0.3, 0.4, 0.3)
"""Fractions of the line taken by segments 1, 2, 3 (A1/P1, A2/P2, A3/P3).  Model
assumption: the middle scallop (P2) is the largest posterior scallop."""

SCALLOPS = {"A1": 0, "A2": 1, "A3": 2, "P1": 0, "P2": 1, "P3": 2}
"""Scallop name → segment index (0, 1, 2)."""

FORWARD_DISCHARGE_COEFF = 0.925
"""Calibrated ``C_d,fwd`` (anatomic MVA → the engine's effective forward area), fitted by
:func:`mitrasim.procedure.calibration.calibrate` (its module docstring: the gradient anchor); the
only forward discharge coefficient in mitrasim (procedure, planner, calibration, web app).  It is
defined here, with the valve's other discharge coefficient, so that the patient calibration
(:mod:`mitrasim.calibrate`) reads it without importing the procedure."""

REGURGITANT_DISCHARGE_COEFF = 0.70
"""C_d for the systolic gap: anatomic gap area → EROA (vena contracta).  The
regurgitant orifice is a sharp-edged, very eccentric slit with no converging
inlet, the low end of the range measured by Flachskampf et al. 1990
(:data:`mitrasim.procedure.calibration.FIT_RANGE`; elliptic orifices lower, nozzle inlets higher);
physiology.md: 0.6–0.7."""


F_OPEN = 0.58
"""Diastolic opening width at mid-line as a fraction of the antero-posterior
diameter.  Model choice: a normal annulus (AP 28 mm, IC 35 mm) then opens to
4.5 cm², inside the normal planimetric range 4–5 cm² and above the EVEREST II
exclusion threshold of 4.0 cm²."""

CALCIFICATION_GRADES = ("none", "mild", "moderate", "severe")
CALCIFICATION_MOBILITY = {"none": 1.0, "mild": 0.9, "moderate": 0.75, "severe": 0.55}
"""Leaflet mobility factor m for the calcified segments (model assumption)."""

TENTING_FREE_MM = 5.0
TENTING_MOBILITY_PER_MM = 0.03
TENTING_MOBILITY_MIN = 0.6
"""Tethering restricts opening: m = max(0.6, 1 − 0.03·max(0, tenting − 5 mm))
(model assumption)."""

DEFAULT_ANTERIOR_MM = {"A1": 21.0, "A2": 24.0, "A3": 21.0}
DEFAULT_POSTERIOR_MM = {"P1": 10.0, "P2": 13.0, "P3": 10.0}
"""Typical leaflet heights (physiology.md "Geometry": anterior 22–26 mm, P2
10–15 mm); the lateral scallops are taken a little shorter (model choice).  Cross-check
read (``rac2014_3dtee_mv``, abstract): normal 3D-TEE leaflet lengths indexed to body
surface area, which at 1.8–1.9 m² give about 24–25 mm anterior and 14–15 mm posterior;
per-scallop heights were not read [check]."""

LESION_EXPONENT = {"flail": 4.0, "prolapse": 2.0, "tethering": 2.0}
LESION_KIND_CODE = {"none": 0, "tethering": 1, "prolapse": 2, "flail": 3}
"""Lesion kind → code stored per cell (higher codes win where lesions overlap)."""


@dataclass(frozen=True)
class Orifice:
    """One orifice along the line: from ``start_mm`` to ``end_mm``, its area in cm²."""

    start_mm: float
    end_mm: float
    area_cm2: float

    @property
    def width_mm(self) -> float:
        return self.end_mm - self.start_mm


@dataclass(frozen=True)
class ValveModel:
    """The discretised valve: grid, anatomy on the grid and baseline profiles.

    ``gap_degenerative_mm`` and ``gap_functional_mm`` together give
    ``g = max(g_deg, g_fun)``; ``opening_mm`` is ``w``.  Arrays have the grid's
    length ``n``.  Built by :func:`build_valve`; fitted by
    :func:`mitrasim.valve.fit.fit_to_measured`.
    """

    s_mm: np.ndarray
    ds_mm: float
    line_length_mm: float
    ap_diameter_mm: float
    ic_diameter_mm: float
    segment_edges_mm: tuple[float, float, float, float]
    anterior_mm: np.ndarray
    posterior_mm: np.ndarray
    gap_degenerative_mm: np.ndarray
    gap_functional_mm: np.ndarray
    opening_mm: np.ndarray
    calcification_grade: np.ndarray  # int 0..3 per cell
    cleft: np.ndarray  # bool per cell
    discharge_coeff: float = REGURGITANT_DISCHARGE_COEFF
    notes: tuple[str, ...] = field(default=())
    lesion_kind: np.ndarray | None = None  # int code per cell (LESION_KIND_CODE); None = derived from the gaps
    tenting_depth_mm: float = 0.0
    annular_calcification_grade: int = 0  # 0..3 (CALCIFICATION_GRADES)

    @property
    def lesion_kind_code(self) -> np.ndarray:
        """Lesion kind per cell; when not given, tethering where the functional gap is open,
        prolapse where the degenerative one is."""
        if self.lesion_kind is not None:
            return self.lesion_kind
        return np.where(self.gap_degenerative_mm > 0, LESION_KIND_CODE["prolapse"], np.where(self.gap_functional_mm > 0, LESION_KIND_CODE["tethering"], 0))

    @property
    def gap_mm(self) -> np.ndarray:
        return np.maximum(self.gap_degenerative_mm, self.gap_functional_mm)

    @property
    def anatomic_regurgitant_area_cm2(self) -> float:
        return float(area_cm2(self.gap_mm, self.ds_mm))

    @property
    def eroa_cm2(self) -> float:
        return self.discharge_coeff * self.anatomic_regurgitant_area_cm2

    @property
    def mva_cm2(self) -> float:
        return float(area_cm2(self.opening_mm, self.ds_mm))

    def index_of(self, s_mm: float | np.ndarray) -> np.ndarray:
        """Grid index of the cell containing ``s_mm`` (clipped to the line)."""
        i = np.floor(np.asarray(s_mm, dtype=float) / self.ds_mm).astype(int)
        return np.clip(i, 0, self.s_mm.size - 1)

    def regurgitant_orifices(self) -> list[Orifice]:
        return find_orifices(self.gap_mm, self.s_mm, self.ds_mm, self.discharge_coeff)

    def diastolic_orifices(self) -> list[Orifice]:
        return find_orifices(self.opening_mm, self.s_mm, self.ds_mm)

    def with_(self, **kw: Any) -> "ValveModel":
        return replace(self, **kw)


def line_length_mm(ic_diameter_mm: float) -> float:
    """Coaptation line length L (mm) = intercommissural diameter (straight line)."""
    return float(ic_diameter_mm)


def segment_edges_mm(length_mm: float, fractions: Sequence[float] = SEGMENT_FRACTIONS) -> tuple[float, float, float, float]:
    """Edges (mm) of segments 1, 2, 3: ``(0, f1·L, (f1+f2)·L, L)``."""
    f = np.cumsum([0.0, *fractions])
    f = f / f[-1]
    return tuple(float(x * length_mm) for x in f)  # type: ignore[return-value]


def segment_edges_rows_mm(length_mm: np.ndarray, fractions: Sequence[float] = SEGMENT_FRACTIONS) -> np.ndarray:
    """(n, 4) :func:`segment_edges_mm` of ``n`` line lengths at once (the same products)."""
    f = np.cumsum([0.0, *fractions])
    f = f / f[-1]
    return f[None, :] * np.asarray(length_mm, dtype=float)[:, None]


def segment_of_mm(s_mm: float, length_mm: float) -> int:
    """Segment index (0, 1, 2) of position ``s_mm``."""
    e = segment_edges_mm(length_mm)
    return min(2, max(0, int(np.searchsorted(e, s_mm, side="right")) - 1))


def scallop_span_mm(names: Sequence[str], length_mm: float) -> tuple[float, float]:
    """Union extent (start, end) in mm of the segments holding the named scallops."""
    e = segment_edges_mm(length_mm)
    idx = [SCALLOPS[n] for n in names]
    return e[min(idx)], e[max(idx) + 1]


def lesion_bump_mm(s_mm: np.ndarray, center_mm: float | np.ndarray, width_mm: float | np.ndarray, gap_mm: float, exponent: float | np.ndarray) -> np.ndarray:
    """``gap · (1 − |x|^p)^(1/2)`` for ``|x| < 1``, ``x = (s − c)/(width/2)``, else 0."""
    x = np.abs((s_mm - center_mm) / (0.5 * width_mm))
    return gap_mm * np.sqrt(np.clip(1.0 - x**exponent, 0.0, None))


def elliptic_opening_mm(s_mm: np.ndarray, length_mm: float | np.ndarray, ap_diameter_mm: float | np.ndarray) -> np.ndarray:
    """``F_OPEN · D_AP · (1 − x²)^(1/2)``, ``x = 2s/L − 1``: the unclipped diastolic opening."""
    x = 2.0 * s_mm / length_mm - 1.0
    return F_OPEN * ap_diameter_mm * np.sqrt(np.clip(1.0 - x * x, 0.0, None))


def area_cm2(profile_mm: np.ndarray, ds_mm: float) -> float | np.ndarray:
    """``Σ p_i Δs / 100`` over the last axis (mm² → cm²)."""
    return np.sum(profile_mm, axis=-1) * ds_mm / 100.0


def find_orifices(profile_mm: np.ndarray, s_mm: np.ndarray, ds_mm: float, coeff: float = 1.0, tol_mm: float = 1e-9) -> list[Orifice]:
    """Maximal runs of cells with ``profile > tol``: their extent (cell edges) and ``coeff·area``."""
    open_ = np.asarray(profile_mm) > tol_mm
    if not open_.any():
        return []
    d = np.diff(np.concatenate(([0], open_.astype(np.int8), [0])))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)  # exclusive
    out = []
    for a, b in zip(starts, ends):
        out.append(
            Orifice(
                start_mm=float(s_mm[a] - ds_mm / 2),
                end_mm=float(s_mm[b - 1] + ds_mm / 2),
                area_cm2=float(coeff * np.sum(profile_mm[a:b]) * ds_mm / 100.0),
            )
        )
    return out


def _grid(length_mm: float) -> tuple[np.ndarray, float]:
    n = max(8, int(math.ceil(length_mm / GRID_STEP_MM)))
    ds = length_mm / n
    return (np.arange(n) + 0.5) * ds, ds


def _per_segment(s_mm: np.ndarray, length_mm: float, values: Sequence[float]) -> np.ndarray:
    e = np.asarray(segment_edges_mm(length_mm))
    idx = np.clip(np.searchsorted(e, s_mm, side="right") - 1, 0, 2)
    return np.asarray(values, dtype=float)[idx]


def build_valve(spec: "ValveSpecLike") -> ValveModel:
    """Build the valve model from a validated :class:`mitrasim.case.ValveSpec`.

    Measured ``eroa_cm2`` / ``mva_cm2`` in the spec are *not* applied here; use
    :func:`mitrasim.valve.fit.valve_from_spec` for that.
    """
    citations.cite("flachskampf1990", "maisano1999")
    ap = float(spec.annulus.ap_diameter_mm)
    ic = float(spec.annulus.ic_diameter_mm)
    L = line_length_mm(ic)
    s, ds = _grid(L)
    edges = segment_edges_mm(L)
    ant = spec.leaflets.anterior_mm
    post = spec.leaflets.posterior_mm
    anterior = _per_segment(s, L, [ant.A1, ant.A2, ant.A3])
    posterior = _per_segment(s, L, [post.P1, post.P2, post.P3])

    g_deg = np.zeros_like(s)
    g_fun = np.zeros_like(s)
    kind = np.zeros(s.shape, dtype=np.int64)
    tenting = 0.0
    for les in spec.lesions:
        c, w = lesion_center_width_mm(les, L)
        bump = lesion_bump_mm(s, c, w, float(les.gap_mm), LESION_EXPONENT[les.kind])
        kind = np.where(bump > 0, np.maximum(kind, LESION_KIND_CODE[les.kind]), kind)
        if les.kind == "tethering":
            g_fun = np.maximum(g_fun, bump)
            tenting = max(tenting, float(les.tenting_depth_mm or 0.0))
        else:
            g_deg = np.maximum(g_deg, bump)

    grade_idx = CALCIFICATION_GRADES.index(spec.calcification)
    calc_seg = [0, 0, 0]
    segs = spec.calcified_segments if spec.calcified_segments else (["A1", "A2", "A3"] if grade_idx else [])
    for name in segs:
        calc_seg[SCALLOPS[name]] = grade_idx
    calc = _per_segment(s, L, calc_seg).astype(int)
    cleft_seg = [0.0, 0.0, 0.0]
    for name in spec.cleft_segments:
        cleft_seg[SCALLOPS[name]] = 1.0
    cleft = _per_segment(s, L, cleft_seg) > 0.5

    mobility = np.array([CALCIFICATION_MOBILITY[CALCIFICATION_GRADES[k]] for k in calc])
    mobility = mobility * max(TENTING_MOBILITY_MIN, 1.0 - TENTING_MOBILITY_PER_MM * max(0.0, tenting - TENTING_FREE_MM))
    opening = elliptic_opening_mm(s, L, ap) * mobility
    return ValveModel(
        s_mm=s,
        ds_mm=ds,
        line_length_mm=L,
        ap_diameter_mm=ap,
        ic_diameter_mm=ic,
        segment_edges_mm=edges,
        anterior_mm=anterior,
        posterior_mm=posterior,
        gap_degenerative_mm=g_deg,
        gap_functional_mm=g_fun,
        opening_mm=opening,
        calcification_grade=calc,
        cleft=cleft,
        lesion_kind=kind,
        tenting_depth_mm=tenting,
        annular_calcification_grade=CALCIFICATION_GRADES.index(spec.annular_calcification),
    )


def lesion_center_width_mm(lesion: Any, length_mm: float) -> tuple[float, float]:
    """Centre and width (mm) of a lesion: given values, else from its scallops.

    Defaults: the centre of the union of the lesion's segments; the width 80% of
    that union (flail, prolapse) or 70% of the whole line centred at 0.55·L
    (tethering without segments: the functional orifice is long and a little
    medial).
    """
    if lesion.segments:
        a, b = scallop_span_mm(lesion.segments, length_mm)
        c = 0.5 * (a + b) if lesion.center_mm is None else float(lesion.center_mm)
        w = 0.8 * (b - a) if lesion.width_mm is None else float(lesion.width_mm)
    else:
        c = 0.55 * length_mm if lesion.center_mm is None else float(lesion.center_mm)
        w = 0.7 * length_mm if lesion.width_mm is None else float(lesion.width_mm)
    return c, w


def lesion_extent_mm(lesion: Any, length_mm: float) -> tuple[float, float]:
    """``(c − width/2, c + width/2)`` of a lesion (mm along the line)."""
    c, w = lesion_center_width_mm(lesion, length_mm)
    return c - 0.5 * w, c + 0.5 * w
