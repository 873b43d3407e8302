"""mitrasim's reduced-order clip model (its own; no open-source model is known).

A clip ``k`` of width ``W_k`` (mm) and arm length ``ℓ_k`` (mm) placed at
``c_k`` (mm along the coaptation line) acts on the baseline profiles ``g`` (systolic
gap) and ``w`` (diastolic opening) of :mod:`mitrasim.valve.geometry`:

1. **Closure.**  Over its width, ``|s − c_k| ≤ W_k/2``, both leaflets are held
   together: ``g = w = 0``.
2. **Restriction.**  Beyond the clip edge, at distance ``d = |s − c_k| − W_k/2``,
   the leaflet edges are pinned, so they can neither part fully in systole nor
   open fully in diastole.  Both profiles are multiplied by a smooth taper

       φ(d; λ) = 3u² − 2u³,  u = min(1, d/λ)   (φ(0) = 0, φ(λ) = 1, C¹),

   with a zone length proportional to the arm length (the arms hold leaflet
   tissue that deep) and inversely proportional to the leaflets' slack:

       λ_sys = a_sys · ℓ / σ,   λ_dia = a_dia · ℓ / σ,
       σ = clip((A(c) + P(c)) / (σ_ref · D_AP), 0.6, 1.6),

   ``A, P`` the leaflet lengths at the clip.  Long, redundant leaflets (Barlow)
   have slack σ > 1 and a short restricted zone; short or tethered ones a long
   one.  Several clips multiply their tapers: ``Φ = Π_k φ_k``.
3. **Annulus.**  Pulling the leaflets together shortens the antero-posterior
   diameter by the fraction ``ε = min(ε_max, k_AP · Σ_k W_k)``, ``ε_max = 0.28``
   (Caballero et al. 2020 upper bound).  The diastolic opening scales with
   ``D_AP`` (geometry), so ``w ← (1 − ε) w``; the *functional* coaptation gap
   closes by ``β·ε·D_AP``: ``g_fun ← max(0, g_fun − β ε D_AP)``; degenerative
   gaps (prolapse, flail) are not closed by the annulus.

So ``g' = max(g_deg, g_fun') · Φ_sys`` and ``w' = (1 − ε) · w · Φ_dia``;
``eroa_cm2 = C_d Σ g' Δs/100``, ``mva_cm2 = Σ w' Δs/100``.

Assumptions and limits: leaflets are thin, the clip sits perpendicular to the
line and grasps symmetrically; tissue mechanics are replaced by the taper; the
clip's effect does not depend on the driving pressure; a second clip next to a
first one restricts a region already restricted (product of tapers), which
gives diminishing returns.  Every operation is monotone: adding a clip never
raises ``g`` or ``w`` anywhere, so more clips never increase EROA or MVA.

Free parameters ``a_sys``, ``a_dia`` are calibrated in
:mod:`mitrasim.valve.calibration` (defaults below are its result); ``k_AP``,
``β``, ``σ_ref`` are model choices stated in :class:`ClipModelParams`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mitrasim import citations
from mitrasim.valve.geometry import Orifice, ValveModel, find_orifices

__all__ = [
    "ClipModelParams",
    "DEFAULT_CLIP_PARAMS",
    "PlanAreas",
    "ClipResult",
    "smooth_taper",
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
    note="Clips reduced the anatomic regurgitant orifice area by up to 52% (one clip), the anatomic "
    "opening area by up to 71% (two clips) and the antero-posterior annulus diameter by up to 28%.",
)

CABALLERO_AP_SHRINK_MAX = 0.28
CABALLERO_REGURGITANT_REDUCTION_MAX = 0.52
CABALLERO_OPENING_REDUCTION_MAX_TWO_CLIPS = 0.71


@dataclass(frozen=True)
class ClipModelParams:
    """Parameters of the clip model (see the module docstring for the equations).

    ``systolic_zone_per_arm`` (a_sys) and ``diastolic_zone_per_arm`` (a_dia) are
    calibrated (:func:`mitrasim.valve.calibration.calibrate_clip_model`).
    ``ap_shrink_per_mm`` (k_AP): 1.25%/mm of total clip width, i.e. about 5% for
    one 4-mm clip, reaching the 28% bound with 22 mm of clips (model choice).
    ``functional_gap_closure`` (β) = 0.5: half of the septal-lateral shortening
    closes the coaptation gap (model choice).  ``slack_reference`` (σ_ref) = 1.1:
    normal leaflets (A2 24 + P2 13 mm over AP 33 mm) have σ ≈ 1.
    """

    systolic_zone_per_arm: float = 0.353
    diastolic_zone_per_arm: float = 0.910
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
    return u * u * (3.0 - 2.0 * u)


def _as_plan_arrays(positions_mm, widths_mm, arm_lengths_mm):
    pos = np.asarray(positions_mm, dtype=float)
    if pos.ndim == 1:
        pos = pos[None, :]
    wid = np.broadcast_to(np.asarray(widths_mm, dtype=float), pos.shape)
    arm = np.broadcast_to(np.asarray(arm_lengths_mm, dtype=float), pos.shape)
    present = np.isfinite(pos) & np.isfinite(wid) & np.isfinite(arm)
    return pos, wid, arm, present


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

    @classmethod
    def from_valves(cls, valves: "list[ValveModel]") -> "ValveRows":
        """Stack valves of one grid size."""
        sizes = {v.s_mm.size for v in valves}
        if len(sizes) != 1:
            raise ValueError(f"valves of one grid size only (got {sorted(sizes)})")
        st = lambda name: np.stack([getattr(v, name) for v in valves])  # noqa: E731
        ar = lambda name: np.array([getattr(v, name) for v in valves], dtype=float)  # noqa: E731
        return cls(
            s_mm=st("s_mm"), ds_mm=ar("ds_mm"), line_length_mm=ar("line_length_mm"), ap_diameter_mm=ar("ap_diameter_mm"),
            anterior_mm=st("anterior_mm"), posterior_mm=st("posterior_mm"), gap_degenerative_mm=st("gap_degenerative_mm"),
            gap_functional_mm=st("gap_functional_mm"), opening_mm=st("opening_mm"), calcification_grade=st("calcification_grade"),
            cleft=st("cleft"), segment_edges_mm=np.array([v.segment_edges_mm for v in valves], dtype=float),
            discharge_coeff=ar("discharge_coeff"),
        )  # fmt: skip

    @property
    def gap_mm(self) -> np.ndarray:
        return np.maximum(self.gap_degenerative_mm, self.gap_functional_mm)

    def index_of(self, rows: np.ndarray, s_mm: np.ndarray) -> np.ndarray:
        """Grid index of the cell holding ``s_mm`` on valve ``rows`` (as :meth:`ValveModel.index_of`)."""
        ds = self.ds_mm[rows].reshape(rows.shape + (1,) * (np.ndim(s_mm) - rows.ndim))
        i = np.floor(np.asarray(s_mm, dtype=float) / ds).astype(int)
        return np.clip(i, 0, self.s_mm.shape[1] - 1)


def _clip_core(
    s: np.ndarray,
    ds: np.ndarray,
    ap: np.ndarray,
    anterior: np.ndarray,
    posterior: np.ndarray,
    gap_deg: np.ndarray,
    gap_fun: np.ndarray,
    opening: np.ndarray,
    pos: np.ndarray,
    wid: np.ndarray,
    arm: np.ndarray,
    present: np.ndarray,
    p: ClipModelParams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The clip model's equations (module docstring) for ``(m, K)`` plans on ``(m, G)`` valve rows.

    ``s``, ``anterior``, ``posterior``, ``gap_*``, ``opening``: ``(m, G)`` (or ``(1, G)``);
    ``ds``, ``ap``: ``(m,)`` (or ``(1,)``).  Returns ``(g, w, ap_after)``.
    """
    G = s.shape[-1]
    if present.shape[1] > 1 and not present.all():  # slots empty in every plan change nothing (factor 1, width 0)
        keep = present.any(axis=0)
        if not keep.any():
            keep[0] = True
        pos, wid, arm, present = pos[:, keep], wid[:, keep], arm[:, keep], present[:, keep]
    idx = np.clip(np.floor(np.where(present, pos, 0.0) / ds[:, None]).astype(int), 0, G - 1)
    r = np.arange(anterior.shape[0])[:, None] if anterior.shape[0] > 1 else np.zeros((1, 1), dtype=int)
    leaflets = anterior[r, idx] + posterior[r, idx]
    sigma = np.clip(leaflets / (p.slack_reference * ap[:, None]), *p.slack_bounds)
    lam_s = p.systolic_zone_per_arm * arm / sigma
    lam_d = p.diastolic_zone_per_arm * arm / sigma
    w_eff = np.where(present, wid, 0.0)
    d = np.abs(s[:, None, :] - np.where(present, pos, 0.0)[:, :, None]) - 0.5 * w_eff[:, :, None]
    mask = present[:, :, None]
    phi_s = np.where(mask, smooth_taper(d, np.where(present, lam_s, 1.0)[:, :, None]), 1.0).prod(axis=1)
    phi_d = np.where(mask, smooth_taper(d, np.where(present, lam_d, 1.0)[:, :, None]), 1.0).prod(axis=1)
    shrink = np.minimum(p.ap_shrink_max, p.ap_shrink_per_mm * w_eff.sum(axis=1))
    g_fun = np.maximum(0.0, gap_fun - (p.functional_gap_closure * shrink * ap)[:, None])
    g = np.maximum(gap_deg, g_fun) * phi_s
    w = opening * (1.0 - shrink)[:, None] * phi_d
    return g, w, ap * (1.0 - shrink)


def clipped_profiles(
    valve: ValveModel,
    positions_mm: np.ndarray,
    widths_mm: np.ndarray,
    arm_lengths_mm: np.ndarray,
    params: ClipModelParams = DEFAULT_CLIP_PARAMS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Profiles after clipping, batched.

    ``positions_mm``, ``widths_mm``, ``arm_lengths_mm``: shape ``(n_plans, max_clips)``
    (widths/arms may broadcast); a NaN position (or width/arm) marks an absent clip.
    Returns ``(g, w, ap_diameter_mm, n_clips)`` with ``g, w`` of shape
    ``(n_plans, n_grid)`` (anatomic mm) and the others ``(n_plans,)``.
    """
    citations.cite("caballero2020")
    pos, wid, arm, present = _as_plan_arrays(positions_mm, widths_mm, arm_lengths_mm)
    one = lambda a: np.asarray(a, dtype=float)[None, ...]  # noqa: E731
    g, w, ap = _clip_core(
        one(valve.s_mm), np.full(pos.shape[0], valve.ds_mm), np.full(pos.shape[0], valve.ap_diameter_mm),
        one(valve.anterior_mm), one(valve.posterior_mm), one(valve.gap_degenerative_mm), one(valve.gap_functional_mm),
        one(valve.opening_mm), pos, wid, arm, present, params,
    )  # fmt: skip
    return g, w, ap, present.sum(axis=1)


def clipped_profiles_rows(
    valves: ValveRows,
    rows: np.ndarray,
    positions_mm: np.ndarray,
    widths_mm: np.ndarray,
    arm_lengths_mm: np.ndarray,
    params: ClipModelParams = DEFAULT_CLIP_PARAMS,
) -> tuple[np.ndarray, np.ndarray]:
    """Profiles after clipping for plan ``j`` on valve ``rows[j]`` (many patients at once).

    ``positions_mm`` etc.: ``(m, max_clips)``, NaN = no clip; returns ``(g, w)`` of shape
    ``(m, G)``.  Same equations (and floating-point operations) as :func:`clipped_profiles`.
    """
    citations.cite("caballero2020")
    pos, wid, arm, present = _as_plan_arrays(positions_mm, widths_mm, arm_lengths_mm)
    v = valves
    g, w, _ = _clip_core(
        v.s_mm[rows], v.ds_mm[rows], v.ap_diameter_mm[rows], v.anterior_mm[rows], v.posterior_mm[rows],
        v.gap_degenerative_mm[rows], v.gap_functional_mm[rows], v.opening_mm[rows], pos, wid, arm, present, params,
    )  # fmt: skip
    return g, w


def evaluate_plans(
    valve: ValveModel,
    positions_mm: np.ndarray,
    widths_mm: np.ndarray,
    arm_lengths_mm: np.ndarray,
    params: ClipModelParams = DEFAULT_CLIP_PARAMS,
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

    Returns :class:`PlanAreas` with ``eroa_cm2 = C_d Σ g' Δs/100`` and
    ``mva_cm2 = Σ w' Δs/100`` per plan (anatomic MVA, all orifices summed).
    """
    g, w, ap, n = clipped_profiles(valve, positions_mm, widths_mm, arm_lengths_mm, params)
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
) -> ClipResult:
    """One plan (1-D arrays of clips): profiles, areas and the orifices left.

    A clip strictly inside an orifice splits it in two; two separated clips in
    one orifice make three.
    """
    pos = np.atleast_1d(np.asarray(positions_mm, dtype=float))[None, :]
    wid = np.broadcast_to(np.asarray(widths_mm, dtype=float), pos.shape[1:])[None, :]
    arm = np.broadcast_to(np.asarray(arm_lengths_mm, dtype=float), pos.shape[1:])[None, :]
    g, w, ap, _ = clipped_profiles(valve, pos, wid, arm, params)
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
