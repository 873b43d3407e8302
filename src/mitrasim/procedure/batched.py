"""Vectorised per-round work of the procedure: targets, device choice, grasp, candidates.

The procedure (:mod:`mitrasim.procedure.process`) groups its patients by valve grid size,
catalogue and rules; within a group every step below is one numpy expression over the
group's active patients (no Python loop over patients):

* residual profiles with the effective clips (:func:`mitrasim.valve.clip.clipped_profiles_rows`);
* the free positions of a clip width and the target ``argmax_c Σ_{|s−c|≤W/2} g Δs``;
* the device rule of :func:`mitrasim.devices.choose_device` and the grasp rule of
  :func:`mitrasim.devices.grasp_arrays`;
* the candidates: first attempt, the reposition offsets, the other sizes of the family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from numba import njit

from mitrasim.physiology import _numba_cache  # noqa: F401  (the content-hashed cache locator)
from mitrasim.devices.catalogue import Device
from mitrasim.devices.grasp import GraspNumbers, choose_sizes, grasp_at  # noqa: F401  (GraspNumbers re-exported)
from mitrasim.procedure import clip_kernel
from mitrasim.valve.clip import ValveRows

__all__ = ["GraspNumbers", "grasp_at", "free_mask", "targets", "choose_devices", "Candidates", "candidate_positions", "grasp_candidates",
           "first_peak", "COVER_TIE_REL", "POSITION_TIE_MM"]

COVER_TIE_REL = 1e-9
"""Covers (window sums of the residual gap, :func:`targets`) and gap values (:func:`first_peak`)
within this relative difference of the largest are one tie, and the first position wins.  Two
windows placed symmetrically about a symmetric gap's peak cover the same gap in exact arithmetic
but sum it in different orders, and every patient's gap is scaled by its fitted EROA: compared
exactly, their last bits chose between them, so an engine change at the 1e-11 level moved 18 % of
a trial's first clips by a grid step (benchmarks/RESULTS.md, sixth session).  Rounding of a sum of
a few hundred terms stays below 1e-13 relative; 1e-9 is far above it and far below any cover
difference that means something about the valve."""
POSITION_TIE_MM = 1e-9
"""Distances to a wanted position (:func:`nearest_free`) within this many mm are one tie (the lower
position wins): grid positions symmetric about the wanted one are then equally near however their
differences round."""


def first_peak(g: np.ndarray) -> np.ndarray:
    """Per row of ``g`` (m, G): the index of its first value within :data:`COVER_TIE_REL` of the
    row's largest (``np.argmax`` with rounding ties resolved by position)."""
    top = g.max(axis=1, keepdims=True)
    return np.argmax(g >= top - COVER_TIE_REL * np.abs(top), axis=1)


def free_mask(vr: ValveRows, rows: np.ndarray, width: np.ndarray, clip_pos: np.ndarray, clip_w: np.ndarray) -> np.ndarray:
    """(m, G): grid positions where a clip of ``width`` (m,) fits inside the line without
    overlapping a clip in place (``clip_pos``/``clip_w`` (m, K), NaN = none)."""
    s = vr.s_mm[rows]
    W = width[:, None]
    ok = (s >= W / 2 - 1e-9) & (s <= vr.line_length_mm[rows][:, None] - W / 2 + 1e-9)
    for k in range(clip_pos.shape[1]):
        at = np.flatnonzero(np.isfinite(clip_pos[:, k]))  # the rows with a clip in slot k (the others keep ok)
        if at.size == rows.size:
            ok &= np.abs(s - clip_pos[:, k : k + 1]) >= 0.5 * (W + clip_w[:, k : k + 1]) - 1e-9
        elif at.size:
            ok[at] &= np.abs(s[at] - clip_pos[at, k : k + 1]) >= 0.5 * (W[at] + clip_w[at, k : k + 1]) - 1e-9
    return ok


def targets(vr: ValveRows, rows: np.ndarray, g: np.ndarray, free: np.ndarray, width: np.ndarray) -> np.ndarray:
    """The free position covering the most residual gap, ``argmax_c Σ_{|s−c|≤W/2} g`` (the first
    on a tie: covers within :data:`COVER_TIE_REL` of each other); NaN if none is free."""
    s = np.ascontiguousarray(vr.s_mm[rows], dtype=float)
    return _targets(s, np.ascontiguousarray(g, dtype=float), np.ascontiguousarray(free), np.asarray(width, dtype=float) / 2, COVER_TIE_REL)


@njit(cache=True)
def _targets(s, g, free, half, tie):  # pragma: no cover - compiled
    """Row r: the free grid point c maximising the window sum of g over |s_j − s_c| ≤ half[r].

    s is increasing along a row, so each window is a run of indices found by two moving bounds
    (O(G) per row instead of the O(G²) mask): every index between them is in the window (rounding
    is monotone, so ``|s_j − s_c|`` falls towards c and rises after it), and the cover is the sum
    over that run in index order.  A later point wins only with a cover larger than the best one's
    by more than ``tie`` (relative): covers equal to rounding are a tie, and the first of them wins.
    """
    m, G = s.shape
    out = np.full(m, np.nan)
    for r in range(m):
        lo = 0
        hi = 0
        best = -np.inf
        for c in range(G):
            sc = s[r, c]
            while abs(s[r, lo] - sc) > half[r] and lo < c:
                lo += 1
            if hi < lo:
                hi = lo
            while hi + 1 < G and abs(s[r, hi + 1] - sc) <= half[r]:
                hi += 1
            if not free[r, c]:
                continue
            cover = 0.0
            for j in range(lo, hi + 1):
                cover += g[r, j]
            if best == -np.inf or cover > best + tie * abs(best):
                best = cover
                out[r] = sc
    return out


def nearest_free(vr: ValveRows, rows: np.ndarray, free: np.ndarray, want: np.ndarray) -> np.ndarray:
    """The free grid position nearest to ``want`` (the lower one on a tie: distances within
    :data:`POSITION_TIE_MM`); NaN if none is free."""
    s = vr.s_mm[rows]
    d = np.where(free, np.abs(s - want[:, None]), np.inf)
    j = np.argmax(d <= d.min(axis=1, keepdims=True) + POSITION_TIE_MM, axis=1)
    return np.where(free.any(axis=1), s[np.arange(rows.size), j], np.nan)


def choose_devices(
    vr: ValveRows, rows: np.ndarray, g: np.ndarray, mva_now: np.ndarray, preference: str, catalogue: Mapping[str, Device]
) -> np.ndarray:
    """:func:`mitrasim.devices.grasp.choose_sizes` (the rule of :func:`mitrasim.devices.choose_device`)
    at the peak of the residual gap, per row, with :func:`grasp_at` as the grasp: index into
    ``list(catalogue)`` of the chosen device."""
    devs = list(catalogue.values())
    peak = vr.s_mm[rows][np.arange(rows.size), first_peak(g)]

    by_device = {n: np.array([getattr(dv, n) for dv in devs]) for n in ("width_mm", "arm_length_mm", "grasp_reach_mm", "spacer_mm")}

    def feasible(k: np.ndarray, d: np.ndarray) -> np.ndarray:
        w, a, reach, spacer = (by_device[n][d] for n in ("width_mm", "arm_length_mm", "grasp_reach_mm", "spacer_mm"))
        return grasp_at(vr, rows[k], g[k], peak[k], w, a, reach, spacer).status < 2

    return choose_sizes(vr, rows, g, peak, mva_now, preference, catalogue, feasible).device


@dataclass
class Candidates:
    """Candidate clips of one group's round, patient-major (first attempt first): rows into the group's
    valves, device index into the catalogue, position, and the grasp."""

    rows: np.ndarray
    device: np.ndarray
    position_mm: np.ndarray
    first: np.ndarray
    grasp: GraspNumbers | None
    arm_factor: np.ndarray | None = None  # grasp-depth factor per candidate (None = 1)
    attempt: np.ndarray | None = None  # attempt number within the patient's round (0 = first)
    target_mm: np.ndarray | None = None  # the targeted position (position_mm: where the clip landed)


def candidate_positions(
    vr: ValveRows,
    rows: np.ndarray,
    g: np.ndarray,
    dev: np.ndarray,
    clip_pos: np.ndarray,
    clip_w: np.ndarray,
    offsets_mm: Sequence[float],
    catalogue: Mapping[str, Device],
    exchange: bool = True,
) -> Candidates:
    """First attempt at the target of the chosen device, then the nearest free positions at
    ``target + offset``, then (``exchange``) the target of every other size of the device's
    family (catalogue order); duplicates (same device and position) dropped.  Rows with no free
    position for the chosen device get no candidate.  ``grasp`` is left None
    (:func:`grasp_candidates`)."""
    devs = list(catalogue.values())
    width = np.array([d.width_mm for d in devs])
    m = rows.size
    free0 = free_mask(vr, rows, width[dev], clip_pos, clip_w)
    c0 = targets(vr, rows, g, free0, width[dev])
    slots_pos = [c0]
    slots_dev = [dev]
    for off in offsets_mm:
        p = nearest_free(vr, rows, free0, c0 + off)
        dup = np.zeros(m, bool)
        for q in slots_pos:
            dup |= p == q
        slots_pos.append(np.where(dup | np.isnan(c0), np.nan, p))
        slots_dev.append(dev)
    fam = np.array([d.family for d in devs], dtype=object)
    for k, d in enumerate(devs if exchange else ()):
        member = (fam[dev] == d.family) & (dev != k)
        if not member.any():
            continue
        at = np.flatnonzero(member & np.isfinite(c0))  # the rows this size is an alternative for: only their targets (each row's its own)
        p = np.full(m, np.nan)
        if at.size:
            w = np.full(at.size, d.width_mm)
            p[at] = targets(vr, rows[at], g[at], free_mask(vr, rows[at], w, clip_pos[at], clip_w[at]), w)
        slots_pos.append(p)
        slots_dev.append(np.full(m, k))
    P = np.stack(slots_pos, axis=1)
    D = np.stack(slots_dev, axis=1)
    valid = np.isfinite(P)
    rr, ss = np.nonzero(valid)  # patient-major, slot order kept
    return Candidates(rows[rr], D[rr, ss], P[rr, ss], ss == 0, None)


def grasp_candidates(vr: ValveRows, rows: np.ndarray, g: np.ndarray, cands: Candidates, catalogue: Mapping[str, Device]) -> Candidates:
    """``cands`` (of the group rows ``rows`` with residual gaps ``g``) with their :func:`grasp_at`."""
    devs = list(catalogue.values())
    dev_c = cands.device
    order = np.argsort(rows)
    g_row = order[np.searchsorted(rows[order], cands.rows)]  # each candidate's row of g
    width, arm, reach, spacer = (np.array([getattr(d, k) for d in devs], dtype=float)[dev_c] for k in ("width_mm", "arm_length_mm", "grasp_reach_mm", "spacer_mm"))
    arm = arm * (1.0 if cands.arm_factor is None else cands.arm_factor)
    ga = clip_kernel.grasp_at(vr, cands.rows, g, g_row, cands.position_mm, width, arm, reach, spacer)
    return Candidates(cands.rows, dev_c, cands.position_mm, cands.first, ga, cands.arm_factor, cands.attempt, cands.target_mm)
