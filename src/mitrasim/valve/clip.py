"""mitrasim's reduced-order clip model (its own; no open-source model is known).

A device ``k`` of width ``W_k`` (mm, clip arms or PASCAL paddles), arm length
``ℓ_k`` (mm) and spacer thickness ``t_k`` (mm; 0 for MitraClip, PASCAL's central
spacer holds the two leaflets this far apart) placed at ``c_k`` (mm along the
coaptation line) acts on the baseline profiles ``g`` (systolic gap) and ``w``
(diastolic opening) of :mod:`mitrasim.valve.geometry`:

1. **Closure.**  Over its width, ``|s − c_k| ≤ W_k/2``, the leaflets are held
   against each other (or against the spacer, which fills the space between
   them): ``g = w = 0``.
2. **Grasp.**  What the device holds at its site: the largest gap under it
   ``g_c``, the leaflet lengths ``A, P`` at its centre, the worst leaflet
   calcification grade under it (mobility factor ``m_c``,
   :data:`mitrasim.valve.geometry.CALCIFICATION_MOBILITY`: stiff tissue enters
   the arms only that far) and the valve's tenting depth ``T``.  The grasp depth
   (leaflet tissue inside the arms) is

       ℓ_g = m_c · clip(min(ℓ, ℓ_avail), 0, ·),
       ℓ_avail = min(A, P) − max(0, g_c − t)/2 − τ,   τ = max(0, T − T_free),

   (:func:`available_leaflet_mm`, the same rule as the grasp assessment in
   :mod:`mitrasim.devices.grasp`): half the gap still to be bridged is lost
   from each leaflet (a spacer of thickness ``t`` bridges ``t`` of it), and
   tethering beyond ``T_free`` pulls the tips apically so that each mm of
   excess tenting costs a mm of graspable leaflet (model choice).
3. **Restriction.**  Beyond the device edge, at ``d = |s − c_k| − W_k/2``, the
   leaflet edges are pinned, so they can neither part fully in systole nor open
   fully in diastole.  Both profiles are multiplied by a smooth taper

       φ(d; λ) = 3u² − 2u³,  u = min(1, d/λ)   (φ(0) = 0, φ(λ) = 1, C¹),

   with zone lengths

       λ_sys = a_sys · κ_k · ℓ_g / σ,     λ_dia = a_dia · ℓ / (σ · m_c),
       σ = clip((A + P) / (σ_ref · D_AP), 0.6, 1.6).

   In systole the edge is held beside the device only as far as the grasped
   tissue reaches (``ℓ_g``: a larger gap, shorter leaflets, deeper tenting or
   calcified tissue leave a shorter zone and more residual beside the device),
   scaled by the lesion's hold ``κ`` (:data:`LESION_HOLD`: a flail edge has no
   chordal support and springs back sooner than a prolapsing one; tethered
   leaflets are the reference, 1) under the device; long redundant leaflets
   (Barlow, σ > 1) have a shorter zone.  In diastole the pinned arms restrict
   opening over a zone set by the arm length; stiff (calcified) leaflets carry
   the restriction further (``1/m_c``), which lowers the area and raises the
   gradient.  Several devices multiply their factors.
4. **Spacer.**  PASCAL's spacer keeps the leaflets ``t`` apart at the device,
   so beside it the diastolic opening does not fall below ``t``: the diastolic
   factor of device ``k`` is ``ψ_k = φ_k + (1 − φ_k) · min(1, t_k / w)`` for
   ``d > 0`` (0 inside the device).  A spacer therefore leaves a larger valve
   area than a clip of the same width, and the wider PASCAL (larger spacer)
   reduces the area less than PASCAL Ace (Paukovitsch et al. 2024).
5. **Annulus.**  Pulling the leaflets together shortens the antero-posterior
   diameter by ``ε = μ_MAC · min(ε_max, k_AP · Σ_k W_k)``, ``ε_max`` Caballero et al.
   2020's upper bound (:data:`CABALLERO_AP_SHRINK_MAX`), ``μ_MAC`` the share of that shortening a
   calcified annulus still allows (:data:`MAC_ANNULAR_FACTOR`).  The diastolic
   opening scales with ``D_AP``, so ``w ← (1 − ε) w``; the *functional*
   coaptation gap closes by ``β·ε·D_AP``: ``g_fun ← max(0, g_fun − β ε D_AP)``;
   degenerative gaps (prolapse, flail) are not closed by the annulus.

So ``g' = max(g_deg, g_fun') · Π_k φ_k(λ_sys)`` and
``w' = (1 − ε) · w · Π_k ψ_k(λ_dia)``; ``eroa_cm2 = C_d Σ g' Δs/100``,
``mva_cm2 = Σ w' Δs/100``.

Assumptions and limits: leaflets are thin, the device sits perpendicular to the
line and grasps symmetrically (placement error and grasp-depth variation are
applied by the caller: :mod:`mitrasim.devices.variability`); tissue mechanics
are replaced by the taper; the effect does not depend on the driving pressure; a
second device next to a first restricts a region already restricted (product of
factors), which gives diminishing returns.  Every operation is monotone: adding
a device never raises ``g`` or ``w`` anywhere, so more devices never increase
EROA or MVA.

Free parameters ``a_sys``, ``a_dia`` and the PASCAL spacer thicknesses are
calibrated in :mod:`mitrasim.procedure.clip_calibration` on named development anchors
(Caballero 2020 computational model; TEER halves MVA; Paukovitsch 2024 3D-TEE
planimetry of PASCAL vs PASCAL Ace); ``κ``, ``μ_MAC``, ``k_AP``, ``β``,
``σ_ref``, ``T_free`` are model choices stated in :class:`ClipModelParams`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter

import numpy as np

from mitrasim import citations
from mitrasim.valve.geometry import CALCIFICATION_GRADES, CALCIFICATION_MOBILITY, LESION_KIND_CODE, TENTING_FREE_MM, Orifice, ValveModel, find_orifices

__all__ = [
    "ClipModelParams",
    "DEFAULT_CLIP_PARAMS",
    "PlanAreas",
    "ClipResult",
    "smooth_taper",
    "available_leaflet_mm",
    "available_leaflet_one_mm",
    "LESION_HOLD",
    "MAC_ANNULAR_FACTOR",
    "clipped_profiles",
    "clipped_profiles_rows",
    "ValveRows",
    "evaluate_plans",
    "apply_clips",
]

citations.register(
    "caballero2020",
    "Caballero A et al. Patient-specific fluid-structure interaction simulation of MitraClip "
    "repair in functional mitral regurgitation. Front Physiol 11:432 (2020).",
    doi="10.3389/fphys.2020.00432",
    note="Upper bounds of the anatomic regurgitant orifice area reduction (one clip), the anatomic opening "
    "area reduction (two clips) and the antero-posterior annulus shortening: the CABALLERO_* constants "
    "of mitrasim.valve.clip.",
)

citations.register(
    "paukovitsch2024",
    "Paukovitsch M et al. Effect of a smaller spacer in the PASCAL Ace on residual mitral valve orifice "
    "area. Clin Res Cardiol (2024), doi 10.1007/s00392-023-02368-0.",
    doi="10.1007/s00392-023-02368-0",
    note="Functional MR, one device in A2/P2, 3D-TEE planimetry: relative MVOA reduction with PASCAL (P10) "
    "vs PASCAL Ace (mitrasim.valve.clip.PAUKOVITSCH_MVA_REDUCTION; SDs 7.6 and 7.0 points); more indirect "
    "annuloplasty with Ace.",
)

PAUKOVITSCH_MVA_REDUCTION = {"PASCAL": 0.459, "PASCAL Ace": 0.563}
"""Relative MVOA reduction by one central device in functional MR (Paukovitsch 2024):
the calibration anchor of the spacer thicknesses."""

LESION_HOLD = {0: 1.0, LESION_KIND_CODE["tethering"]: 1.0, LESION_KIND_CODE["prolapse"]: 0.8, LESION_KIND_CODE["flail"]: 0.6}
"""κ by lesion code under the device: how far beside it the grasped edge stays coapted,
relative to a tethered leaflet (model choice [check]: no bench or imaging study giving the
residual beside a clip by lesion type was found; a flail edge has no chordal support)."""

MAC_ANNULAR_FACTOR = {0: 1.0, 1: 0.75, 2: 0.5, 3: 0.25}
"""μ_MAC by annular calcification grade: share of the clip's antero-posterior shortening a
calcified annulus allows (model choice [check])."""

CABALLERO_AP_SHRINK_MAX = 0.28
CABALLERO_REGURGITANT_REDUCTION_MAX = 0.52
CABALLERO_OPENING_REDUCTION_MAX_TWO_CLIPS = 0.71


@dataclass(frozen=True)
class ClipModelParams:
    """Parameters of the clip model (see the module docstring for the equations).

    ``systolic_zone_per_arm`` (a_sys) and ``diastolic_zone_per_arm`` (a_dia) are
    calibrated (:func:`mitrasim.procedure.clip_calibration.calibrate_clip_model`).
    ``ap_shrink_per_mm`` (k_AP): relative AP shortening per mm of total device width,
    capped at ``ap_shrink_max`` (:data:`CABALLERO_AP_SHRINK_MAX`) (model choice).
    ``functional_gap_closure`` (β): the share of the AP shortening that closes the
    functional coaptation gap (model choice).  ``slack_reference`` (σ_ref): chosen so
    that normal leaflets (A2 24 + P2 13 mm over AP 33 mm) have σ ≈ 1.
    """

    systolic_zone_per_arm: float = 0.471
    diastolic_zone_per_arm: float = 0.895
    tenting_free_mm: float = TENTING_FREE_MM
    ap_shrink_per_mm: float = 0.008
    ap_shrink_max: float = CABALLERO_AP_SHRINK_MAX
    functional_gap_closure: float = 0.2
    slack_reference: float = 1.1
    slack_bounds: tuple[float, float] = field(default=(0.6, 1.6))


DEFAULT_CLIP_PARAMS = ClipModelParams()


@dataclass(frozen=True)
class PlanAreas:
    """Areas for a batch of plans; every array has shape ``(n_plans,)``."""

    eroa_cm2: np.ndarray
    mva_cm2: np.ndarray
    anatomic_regurgitant_area_cm2: np.ndarray
    ap_diameter_mm: np.ndarray
    n_clips: np.ndarray


@dataclass(frozen=True)
class ClipResult:
    """One plan in full: profiles, areas and orifices."""

    gap_mm: np.ndarray
    opening_mm: np.ndarray
    eroa_cm2: float
    mva_cm2: float
    anatomic_regurgitant_area_cm2: float
    ap_diameter_mm: float
    regurgitant_orifices: list[Orifice]
    diastolic_orifices: list[Orifice]


def smooth_taper(d_mm: np.ndarray, zone_mm: np.ndarray) -> np.ndarray:
    """φ(d; λ) = 3u² − 2u³ with u = clip(d/λ, 0, 1); 0 inside the clip (d ≤ 0)."""
    u = np.clip(d_mm / np.maximum(zone_mm, 1e-9), 0.0, 1.0)
    out = u * u
    out *= 3.0 - 2.0 * u  # (u·u)·(3 − 2u), in place
    return out


def available_leaflet_mm(leaflet_mm, gap_mm, spacer_mm=0.0, tenting_mm=0.0, tenting_free_mm: float = TENTING_FREE_MM):
    """``ℓ_avail = len − max(0, g − t)/2 − max(0, T − T_free)`` (mm): the leaflet a device
    can reach (module docstring, step 2).  Used by the clip model and the grasp rule."""
    bridged = np.maximum(0.0, np.asarray(gap_mm, dtype=float) - spacer_mm)
    return np.asarray(leaflet_mm, dtype=float) - 0.5 * bridged - np.maximum(0.0, np.asarray(tenting_mm, dtype=float) - tenting_free_mm)


def available_leaflet_one_mm(leaflet_mm: float, gap_mm: float, spacer_mm: float = 0.0, tenting_mm: float = 0.0, tenting_free_mm: float = TENTING_FREE_MM) -> float:
    """:func:`available_leaflet_mm` of one clip on Python floats: the same operations in the same
    order, so the same float (NaN propagated as ``np.maximum`` propagates it), without numpy's
    per-call cost (the operator's words of one grasp)."""
    return leaflet_mm - 0.5 * _at_least_zero(gap_mm - spacer_mm) - _at_least_zero(tenting_mm - tenting_free_mm)


def _at_least_zero(x: float) -> float:
    """``np.maximum(0.0, x)`` of one float: ``x`` when above 0 or NaN, else 0.0."""
    return 0.0 if x <= 0.0 else x


def _as_plan_arrays(positions_mm, widths_mm, arm_lengths_mm, spacers_mm=0.0):
    pos = np.asarray(positions_mm, dtype=float)
    if pos.ndim == 1:
        pos = pos[None, :]
    wid = np.broadcast_to(np.asarray(widths_mm, dtype=float), pos.shape)
    arm = np.broadcast_to(np.asarray(arm_lengths_mm, dtype=float), pos.shape)
    spc = np.nan_to_num(np.broadcast_to(np.asarray(0.0 if spacers_mm is None else spacers_mm, dtype=float), pos.shape), nan=0.0)
    present = np.isfinite(pos) & np.isfinite(wid) & np.isfinite(arm)
    return pos, wid, arm, spc, present


_STACKED = ("s_mm", "anterior_mm", "posterior_mm", "gap_degenerative_mm", "gap_functional_mm", "opening_mm", "calcification_grade", "cleft", "lesion_kind_code")
_SCALARS = ("ds_mm", "line_length_mm", "ap_diameter_mm", "segment_edges_mm", "discharge_coeff", "tenting_depth_mm", "annular_calcification_grade")
_VALVE_FIELDS = attrgetter(*_STACKED, *_SCALARS)
"""The fields :meth:`ValveRows.from_valves` stacks: profiles (one row per valve), then one number (or edges) per valve."""


@dataclass(frozen=True)
class ValveRows:
    """Several valves on grids of one size ``G`` (one row per valve), for batched clip models.

    Built by :meth:`from_valves`; every array has a leading axis ``n`` (per valve) and the
    profiles ``(n, G)``.  Valves of one cohort chunk share ``G``; the procedure groups
    its patients by grid size.
    """

    s_mm: np.ndarray
    ds_mm: np.ndarray
    line_length_mm: np.ndarray
    ap_diameter_mm: np.ndarray
    anterior_mm: np.ndarray
    posterior_mm: np.ndarray
    gap_degenerative_mm: np.ndarray
    gap_functional_mm: np.ndarray
    opening_mm: np.ndarray
    calcification_grade: np.ndarray
    cleft: np.ndarray
    segment_edges_mm: np.ndarray  # (n, 4)
    discharge_coeff: np.ndarray
    lesion_kind: np.ndarray  # (n, G) int code
    tenting_depth_mm: np.ndarray  # (n,)
    annular_calcification_grade: np.ndarray  # (n,) int

    @classmethod
    def from_valves(cls, valves: "list[ValveModel]") -> "ValveRows":
        """Stack valves of one grid size (every valve's fields read in one pass, each profile stacked
        by one concatenation: ``np.stack``'s result)."""
        sizes = {v.s_mm.size for v in valves}
        if len(sizes) != 1:
            raise ValueError(f"valves of one grid size only (got {sorted(sizes)})")
        n = len(valves)
        cols = dict(zip(_STACKED + _SCALARS, zip(*map(_VALVE_FIELDS, valves))))
        st = {k: np.concatenate(cols[k]).reshape(n, -1) for k in _STACKED}
        ar = {k: np.array(cols[k], dtype=float) for k in _SCALARS[:-1]}
        return cls(
            s_mm=st["s_mm"], ds_mm=ar["ds_mm"], line_length_mm=ar["line_length_mm"], ap_diameter_mm=ar["ap_diameter_mm"],
            anterior_mm=st["anterior_mm"], posterior_mm=st["posterior_mm"], gap_degenerative_mm=st["gap_degenerative_mm"],
            gap_functional_mm=st["gap_functional_mm"], opening_mm=st["opening_mm"], calcification_grade=st["calcification_grade"],
            cleft=st["cleft"], segment_edges_mm=ar["segment_edges_mm"], discharge_coeff=ar["discharge_coeff"], lesion_kind=st["lesion_kind_code"],
            tenting_depth_mm=ar["tenting_depth_mm"], annular_calcification_grade=np.array(cols["annular_calcification_grade"], dtype=np.int64),
        )  # fmt: skip

    @property
    def gap_mm(self) -> np.ndarray:
        return np.maximum(self.gap_degenerative_mm, self.gap_functional_mm)

    def index_of(self, rows: np.ndarray, s_mm: np.ndarray) -> np.ndarray:
        """Grid index of the cell holding ``s_mm`` on valve ``rows`` (as :meth:`ValveModel.index_of`)."""
        ds = self.ds_mm[rows].reshape(rows.shape + (1,) * (np.ndim(s_mm) - rows.ndim))
        i = np.floor(np.asarray(s_mm, dtype=float) / ds).astype(int)
        return np.clip(i, 0, self.s_mm.shape[1] - 1)


@dataclass(frozen=True)
class _Site:
    """Valve rows as the clip core needs them: ``(m, G)`` profiles, ``(m,)`` scalars."""

    s: np.ndarray
    ds: np.ndarray
    ap: np.ndarray
    anterior: np.ndarray
    posterior: np.ndarray
    gap_deg: np.ndarray
    gap_fun: np.ndarray
    opening: np.ndarray
    calcification: np.ndarray
    lesion_kind: np.ndarray
    tenting_mm: np.ndarray
    mac_grade: np.ndarray


_MOBILITY_BY_CODE = np.array([CALCIFICATION_MOBILITY[g] for g in CALCIFICATION_GRADES])
_HOLD_BY_CODE = np.array([LESION_HOLD[k] for k in range(len(LESION_KIND_CODE))])
_MAC_BY_CODE = np.array([MAC_ANNULAR_FACTOR[k] for k in range(len(CALCIFICATION_GRADES))])


def _under_device(v: _Site, pos: np.ndarray, w_eff: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``d`` (m, K, G): distance beyond each device's edge; ``under`` (m, K, G): cells it covers
    (at least the cell holding its centre)."""
    c = np.where(present, pos, 0.0)[:, :, None]
    d = np.abs(v.s[:, None, :] - c) - 0.5 * w_eff[:, :, None]
    under = (d <= 0.5 * v.ds[:, None, None]) & present[:, :, None]
    return d, under


def _grasp_site(v: _Site, pos, arm, spc, present, under, p: ClipModelParams):
    """Step 2 of the module docstring: ``(ℓ_g, m_c, κ, σ)`` per device, each ``(m, K)``."""
    G = v.s.shape[-1]
    idx = np.clip(np.floor(np.where(present, pos, 0.0) / v.ds[:, None]).astype(int), 0, G - 1)
    r = np.arange(v.anterior.shape[0])[:, None] if v.anterior.shape[0] > 1 else np.zeros((1, 1), dtype=int)
    a_len, p_len = v.anterior[r, idx], v.posterior[r, idx]
    g_site = np.where(under, np.maximum(v.gap_deg, v.gap_fun)[:, None, :], 0.0).max(axis=2)
    calc = np.where(under, v.calcification[:, None, :], 0).max(axis=2)
    kind = np.where(under, v.lesion_kind[:, None, :], 0).max(axis=2)
    m_c = _MOBILITY_BY_CODE[calc]
    avail = available_leaflet_mm(np.minimum(a_len, p_len), g_site, spc, v.tenting_mm[:, None], p.tenting_free_mm)
    depth = m_c * np.clip(np.minimum(arm, avail), 0.0, None)
    sigma = np.clip((a_len + p_len) / (p.slack_reference * v.ap[:, None]), *p.slack_bounds)
    return depth, m_c, _HOLD_BY_CODE[kind], sigma


def _kept_slots(pos, wid, arm, spc, present):
    """The plans' device slots without those empty in every plan (they change nothing: factor 1, width 0)."""
    if present.shape[1] > 1 and not present.all():
        keep = present.any(axis=0)
        if not keep.any():
            keep[0] = True
        pos, wid, arm, spc, present = pos[:, keep], wid[:, keep], arm[:, keep], spc[:, keep], present[:, keep]
    return pos, wid, arm, spc, present


def _ap_shrink(mac_grade: np.ndarray, w_eff: np.ndarray, p: ClipModelParams) -> np.ndarray:
    """Step 5 of the module docstring: ε = μ_MAC · min(ε_max, k_AP · Σ_k W_k) per plan (``w_eff`` (m, K), 0 where no device)."""
    return _MAC_BY_CODE[mac_grade] * np.minimum(p.ap_shrink_max, p.ap_shrink_per_mm * w_eff.sum(axis=1))


def _clip_core(v: _Site, pos, wid, arm, spc, present, p: ClipModelParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The clip model's equations (module docstring) for ``(m, K)`` plans on ``(m, G)`` valve rows.

    Returns ``(g, w, ap_after)``.
    """
    pos, wid, arm, spc, present = _kept_slots(pos, wid, arm, spc, present)
    w_eff = np.where(present, wid, 0.0)
    d, under = _under_device(v, pos, w_eff, present)
    depth, m_c, hold, sigma = _grasp_site(v, pos, arm, spc, present, under, p)
    lam_s = p.systolic_zone_per_arm * hold * depth / sigma
    lam_d = p.diastolic_zone_per_arm * arm / (sigma * m_c)
    mask = present[:, :, None]
    every = bool(present.all())  # every slot holds a device: the masks below change nothing
    phi_s = smooth_taper(d, np.where(present, lam_s, 1.0)[:, :, None])
    phi_s = (phi_s if every else np.where(mask, phi_s, 1.0)).prod(axis=1)
    phi_d = smooth_taper(d, np.where(present, lam_d, 1.0)[:, :, None])
    if spc.any():  # a spacer holds the leaflets apart beyond the device: the opening's floor
        floor = np.where(d > 0, np.minimum(1.0, spc[:, :, None] / np.maximum(v.opening[:, None, :], 1e-9)), 0.0)
        phi_d = phi_d + (1.0 - phi_d) * floor  # (without a spacer the floor is 0 and this adds 0)
    psi_d = (phi_d if every else np.where(mask, phi_d, 1.0)).prod(axis=1)
    shrink = _ap_shrink(v.mac_grade, w_eff, p)
    g_fun = np.maximum(0.0, v.gap_fun - (p.functional_gap_closure * shrink * v.ap)[:, None])
    g = np.maximum(v.gap_deg, g_fun) * phi_s
    w = v.opening * (1.0 - shrink)[:, None] * psi_d
    return g, w, v.ap * (1.0 - shrink)


def _site_of_valve(valve: ValveModel, m: int) -> _Site:
    one = lambda a: np.asarray(a)[None, ...]  # noqa: E731
    return _Site(
        one(valve.s_mm), np.full(m, valve.ds_mm), np.full(m, valve.ap_diameter_mm), one(valve.anterior_mm), one(valve.posterior_mm),
        one(valve.gap_degenerative_mm), one(valve.gap_functional_mm), one(valve.opening_mm), one(np.asarray(valve.calcification_grade, dtype=np.int64)),
        one(np.asarray(valve.lesion_kind_code, dtype=np.int64)), np.full(1, valve.tenting_depth_mm), np.full(1, int(valve.annular_calcification_grade)),
    )  # fmt: skip


def clipped_profiles(
    valve: ValveModel,
    positions_mm: np.ndarray,
    widths_mm: np.ndarray | float,
    arm_lengths_mm: np.ndarray | float,
    params: ClipModelParams = DEFAULT_CLIP_PARAMS,
    spacers_mm: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Profiles after clipping, batched.

    ``positions_mm``, ``widths_mm``, ``arm_lengths_mm``: shape ``(n_plans, max_clips)``
    (widths/arms may broadcast); a NaN position (or width/arm) marks an absent clip.
    Returns ``(g, w, ap_diameter_mm, n_clips)`` with ``g, w`` of shape
    ``(n_plans, n_grid)`` (anatomic mm) and the others ``(n_plans,)``.
    """
    citations.cite("caballero2020", "paukovitsch2024")
    pos, wid, arm, spc, present = _as_plan_arrays(positions_mm, widths_mm, arm_lengths_mm, spacers_mm)
    g, w, ap = _clip_core(_site_of_valve(valve, pos.shape[0]), pos, wid, arm, spc, present, params)
    return g, w, ap, present.sum(axis=1)


def clipped_profiles_rows(
    valves: ValveRows,
    rows: np.ndarray,
    positions_mm: np.ndarray,
    widths_mm: np.ndarray,
    arm_lengths_mm: np.ndarray,
    params: ClipModelParams = DEFAULT_CLIP_PARAMS,
    spacers_mm: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Profiles after clipping for plan ``j`` on valve ``rows[j]`` (many patients at once).

    ``positions_mm`` etc.: ``(m, max_clips)``, NaN = no clip; returns ``(g, w)`` of shape
    ``(m, G)``.  Same equations (and floating-point operations) as :func:`clipped_profiles`.
    """
    citations.cite("caballero2020", "paukovitsch2024")
    pos, wid, arm, spc, present = _as_plan_arrays(positions_mm, widths_mm, arm_lengths_mm, spacers_mm)
    v = valves
    site = _Site(
        v.s_mm[rows], v.ds_mm[rows], v.ap_diameter_mm[rows], v.anterior_mm[rows], v.posterior_mm[rows], v.gap_degenerative_mm[rows],
        v.gap_functional_mm[rows], v.opening_mm[rows], np.asarray(v.calcification_grade[rows], dtype=np.int64), v.lesion_kind[rows],
        v.tenting_depth_mm[rows], v.annular_calcification_grade[rows],
    )  # fmt: skip
    g, w, _ = _clip_core(site, pos, wid, arm, spc, present, params)
    return g, w


def evaluate_plans(
    valve: ValveModel,
    positions_mm: np.ndarray,
    widths_mm: np.ndarray | float,
    arm_lengths_mm: np.ndarray | float,
    params: ClipModelParams = DEFAULT_CLIP_PARAMS,
    spacers_mm: np.ndarray | float = 0.0,
) -> PlanAreas:
    """EROA and MVA for many clip plans at once.

    Parameters
    ----------
    valve : the (possibly fitted) valve model.
    positions_mm : ``(n_plans, max_clips)`` clip centres along the line (mm from the
        anterolateral commissure); NaN = no clip in that slot.
    widths_mm, arm_lengths_mm : same shape (or broadcastable): device width and arm
        length of each clip (see :func:`mitrasim.devices.device_arrays`).
    params : clip-model parameters.
    spacers_mm : spacer thickness of each device (PASCAL; 0 = none), broadcastable.

    Returns :class:`PlanAreas` with ``eroa_cm2 = C_d Σ g' Δs/100`` and
    ``mva_cm2 = Σ w' Δs/100`` per plan (anatomic MVA, all orifices summed).
    """
    g, w, ap, n = clipped_profiles(valve, positions_mm, widths_mm, arm_lengths_mm, params, spacers_mm)
    ara = g.sum(axis=1) * valve.ds_mm / 100.0
    return PlanAreas(
        eroa_cm2=valve.discharge_coeff * ara,
        mva_cm2=w.sum(axis=1) * valve.ds_mm / 100.0,
        anatomic_regurgitant_area_cm2=ara,
        ap_diameter_mm=ap,
        n_clips=n,
    )


def apply_clips(
    valve: ValveModel,
    positions_mm,
    widths_mm,
    arm_lengths_mm,
    params: ClipModelParams = DEFAULT_CLIP_PARAMS,
    spacers_mm=0.0,
) -> ClipResult:
    """One plan (1-D arrays of clips): profiles, areas and the orifices left.

    A clip strictly inside an orifice splits it in two; two separated clips in
    one orifice make three.
    """
    pos = np.atleast_1d(np.asarray(positions_mm, dtype=float))[None, :]
    wid = np.broadcast_to(np.asarray(widths_mm, dtype=float), pos.shape[1:])[None, :]
    arm = np.broadcast_to(np.asarray(arm_lengths_mm, dtype=float), pos.shape[1:])[None, :]
    spc = np.broadcast_to(np.asarray(spacers_mm, dtype=float), pos.shape[1:])[None, :]
    g, w, ap, _ = clipped_profiles(valve, pos, wid, arm, params, spc)
    g, w = g[0], w[0]
    ara = float(g.sum() * valve.ds_mm / 100.0)
    return ClipResult(
        gap_mm=g,
        opening_mm=w,
        eroa_cm2=valve.discharge_coeff * ara,
        mva_cm2=float(w.sum() * valve.ds_mm / 100.0),
        anatomic_regurgitant_area_cm2=ara,
        ap_diameter_mm=float(ap[0]),
        regurgitant_orifices=find_orifices(g, valve.s_mm, valve.ds_mm, valve.discharge_coeff),
        diastolic_orifices=find_orifices(w, valve.s_mm, valve.ds_mm),
    )
