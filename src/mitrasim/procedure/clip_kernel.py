"""The clip model of :mod:`mitrasim.valve.clip` and the grasp's reading of the site, compiled, for
the procedure's batches of candidates.

A trial's first round asks the clip model for some 20,000 candidate plans per 2,500 patients on
64-cell valve rows; :func:`mitrasim.valve.clip.clipped_profiles_rows` evaluates its equations (that
module's docstring: closure, grasp depth, the tapers φ(d; λ_sys) and ψ(d; λ_dia), the spacer floor,
the annular shortening ε) as numpy expressions over ``(m, K, G)`` arrays, about thirty passes over
memory with a temporary each.  :func:`clipped_profiles_rows` here evaluates the same equations in
one compiled pass per plan, operation for operation in numpy's order (no fused multiply-add, the
products over devices and the sum of the widths in slot order), so its profiles are equal bit for
bit (``tests/test_clip_kernel.py``); the numpy function stays the model's reference.

:func:`grasp_at` is :func:`mitrasim.devices.grasp.grasp_at` with its reading of the site (the
clip's cell, the largest gap, worst calcification and any cleft under the clip: maxima and "any",
exact in any order) compiled, and the grasp rule itself applied by the same numpy function
(:func:`mitrasim.devices.grasp.grasp_of_site`).

Both run compiled only for batches of at least :data:`COMPILED_MIN_CELLS` grid cells (plans × cells
of a valve row): a smaller batch (one patient's procedure, the demo) runs the numpy reference, equal
bit for bit, so a command that simulates a few patients compiles neither (1.4 CPU-s on first use).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mitrasim import citations
from mitrasim.devices import grasp
from mitrasim.devices.grasp import GraspNumbers, grasp_of_site
from mitrasim.physiology import _numba_cache  # noqa: F401  (the content-hashed cache locator)
from mitrasim.valve import clip as reference
from mitrasim.valve.clip import DEFAULT_CLIP_PARAMS, _HOLD_BY_CODE, _MOBILITY_BY_CODE, ClipModelParams, ValveRows, _ap_shrink, _as_plan_arrays, _kept_slots

__all__ = ["COMPILED_MIN_CELLS", "clipped_profiles_rows", "grasp_at"]

COMPILED_MIN_CELLS = 16_384
"""Smallest batch (plans × grid cells) run compiled; below it numpy's cost per call is small and a
first run does not wait for the compilation (module docstring)."""


def clipped_profiles_rows(
    valves: ValveRows,
    rows: np.ndarray,
    positions_mm: np.ndarray,
    widths_mm: np.ndarray,
    arm_lengths_mm: np.ndarray,
    params: ClipModelParams = DEFAULT_CLIP_PARAMS,
    spacers_mm: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`mitrasim.valve.clip.clipped_profiles_rows` (same arguments, same ``(g, w)`` of shape
    ``(m, G)``, equal bit for bit), compiled."""
    if np.size(rows) * valves.s_mm.shape[1] < COMPILED_MIN_CELLS:
        return reference.clipped_profiles_rows(valves, rows, positions_mm, widths_mm, arm_lengths_mm, params, spacers_mm)
    citations.cite("caballero2020", "paukovitsch2024")
    pos, wid, arm, spc, present = _kept_slots(*_as_plan_arrays(positions_mm, widths_mm, arm_lengths_mm, spacers_mm))
    rows = np.asarray(rows)
    shrink = _ap_shrink(valves.annular_calcification_grade[rows], np.where(present, wid, 0.0), params)  # numpy's sum, as the reference
    m, G = rows.size, valves.s_mm.shape[1]
    g = np.empty((m, G))
    w = np.empty((m, G))
    f = lambda a, t=float: np.ascontiguousarray(a, dtype=t)  # noqa: E731
    p = params
    consts = np.array([p.systolic_zone_per_arm, p.diastolic_zone_per_arm, p.tenting_free_mm, p.functional_gap_closure, p.slack_reference,
                       p.slack_bounds[0], p.slack_bounds[1]], dtype=float)  # fmt: skip
    v = valves
    _clip_rows(
        f(rows, np.int64), f(v.s_mm), f(v.ds_mm), f(v.ap_diameter_mm), f(v.anterior_mm), f(v.posterior_mm), f(v.gap_degenerative_mm),
        f(v.gap_functional_mm), f(v.opening_mm), f(v.calcification_grade, np.int64), f(v.lesion_kind, np.int64), f(v.tenting_depth_mm),
        f(shrink), f(pos), f(wid), f(arm), f(spc), f(present, np.bool_), bool(spc[present].any()), consts, _MOBILITY_BY_CODE, _HOLD_BY_CODE, g, w,
    )  # fmt: skip
    return g, w


@njit(cache=True)
def _taper(d, zone):  # pragma: no cover - compiled
    """φ(d; λ) as :func:`mitrasim.valve.clip.smooth_taper`: u = clip(d / max(λ, 1e-9), 0, 1), (u·u)·(3 − 2u)."""
    u = d / max(zone, 1e-9)
    u = min(max(u, 0.0), 1.0)
    return (u * u) * (3.0 - 2.0 * u)


@njit(cache=True)
def _clip_rows(rows, s, ds, ap, anterior, posterior, gap_deg, gap_fun, opening, calc, kind, tenting, shrink,
               pos, wid, arm, spc, present, any_spacer, c, mobility, hold_by_kind, g_out, w_out):  # pragma: no cover - compiled  # fmt: skip
    """Plan j on valve row ``rows[j]``: ``g_out[j]``, ``w_out[j]`` (the steps of :func:`mitrasim.valve.clip._clip_core`;
    ``shrink`` (m,): ε of step 5, from :func:`mitrasim.valve.clip._ap_shrink`)."""
    a_sys, a_dia, t_free, beta, sigma_ref, sig_lo, sig_hi = c[0], c[1], c[2], c[3], c[4], c[5], c[6]
    m, K = pos.shape
    G = s.shape[1]
    lam_s = np.empty(K)
    lam_d = np.empty(K)
    phi_s = np.empty(G)
    psi_d = np.empty(G)
    for j in range(m):
        r = rows[j]
        half_ds = 0.5 * ds[r]
        for k in range(K):  # step 2, the grasp at each device's site: (ℓ_g, m_c, κ, σ), then λ_sys and λ_dia
            if not present[j, k]:
                continue
            ck = pos[j, k]
            half_w = 0.5 * wid[j, k]
            idx = min(max(int(math.floor(ck / ds[r])), 0), G - 1)
            a_len = anterior[r, idx]
            p_len = posterior[r, idx]
            g_site = 0.0
            calc_k = 0
            kind_k = 0
            for i in range(G):
                if abs(s[r, i] - ck) - half_w <= half_ds:  # under the device (at least its centre's cell)
                    g_site = max(g_site, max(gap_deg[r, i], gap_fun[r, i]))
                    calc_k = max(calc_k, calc[r, i])
                    kind_k = max(kind_k, kind[r, i])
            m_c = mobility[calc_k]
            avail = min(a_len, p_len) - 0.5 * max(0.0, g_site - spc[j, k]) - max(0.0, tenting[r] - t_free)
            depth = m_c * max(min(arm[j, k], avail), 0.0)
            sigma = min(max((a_len + p_len) / (sigma_ref * ap[r]), sig_lo), sig_hi)
            lam_s[k] = a_sys * hold_by_kind[kind_k] * depth / sigma
            lam_d[k] = a_dia * arm[j, k] / (sigma * m_c)
        closure = beta * shrink[j] * ap[r]  # step 5, the annulus
        open_scale = 1.0 - shrink[j]
        # steps 3, 4: the tapers beside each device and the spacer floor, device by device over the
        # cells (the cells' loop vectorises); each cell's products still run over the devices in slot order
        phi_s[:] = 1.0
        psi_d[:] = 1.0
        for k in range(K):
            if not present[j, k]:
                continue
            ck = pos[j, k]
            half_w = 0.5 * wid[j, k]
            for i in range(G):
                d = abs(s[r, i] - ck) - half_w
                phi_s[i] = phi_s[i] * _taper(d, lam_s[k])
                phi_d = _taper(d, lam_d[k])
                if any_spacer:
                    floor = min(1.0, spc[j, k] / max(opening[r, i], 1e-9)) if d > 0 else 0.0
                    phi_d = phi_d + (1.0 - phi_d) * floor
                psi_d[i] = psi_d[i] * phi_d
        for i in range(G):  # step 1, the closure, and the tapers applied
            g_out[j, i] = max(gap_deg[r, i], max(0.0, gap_fun[r, i] - closure)) * phi_s[i]
            w_out[j, i] = opening[r, i] * open_scale * psi_d[i]


def grasp_at(vr: ValveRows, rows: np.ndarray, g: np.ndarray, g_row: np.ndarray, pos: np.ndarray, width: np.ndarray, arm: np.ndarray,
             reach: np.ndarray, spacer: np.ndarray | float = 0.0) -> GraspNumbers:  # fmt: skip
    """:func:`mitrasim.devices.grasp.grasp_at` of clip j on the gap profile ``g[g_row[j]]`` (``g`` one
    row per patient, not per clip: no copy of it per candidate); equal bit for bit."""
    m = rows.size
    if m * vr.s_mm.shape[1] < COMPILED_MIN_CELLS:
        return grasp.grasp_at(vr, rows, g[g_row], pos, width, arm, reach, spacer)
    i = np.empty(m, dtype=np.int64)
    gap = np.empty(m)
    calc = np.empty(m, dtype=vr.calcification_grade.dtype)
    cleft = np.empty(m, dtype=np.bool_)
    f = lambda a, t=float: np.ascontiguousarray(a, dtype=t)  # noqa: E731
    _site(f(rows, np.int64), f(vr.s_mm), f(vr.ds_mm), np.ascontiguousarray(vr.calcification_grade), f(vr.cleft, np.bool_), f(g), f(g_row, np.int64),
          f(pos), f(width), i, gap, calc, cleft)  # fmt: skip
    return grasp_of_site(vr, rows, i, gap, calc, cleft, arm, reach, spacer)


@njit(cache=True)
def _site(rows, s, ds, calc_grade, cleft_cells, g, g_row, pos, width, i_out, gap_out, calc_out, cleft_out):  # pragma: no cover - compiled
    """Clip j: its cell (``ValveRows.index_of``), and over the cells within max(W/2, Δs) of its
    centre the largest gap, the worst calcification and any cleft (its own cell's gap and
    calcification when no cell is that near)."""
    G = s.shape[1]
    for j in range(rows.size):
        r = rows[j]
        q = g_row[j]
        c = pos[j]
        i = min(max(int(math.floor(c / ds[r])), 0), G - 1)
        reach = max(0.5 * width[j], ds[r])
        gap = -np.inf
        calc = -1
        cleft = False
        for k in range(G):
            if abs(s[r, k] - c) <= reach:
                gap = max(gap, g[q, k])
                calc = max(calc, calc_grade[r, k])
                cleft = cleft or cleft_cells[r, k]
        if calc < 0:  # no cell that near
            gap = g[q, i]
            calc = calc_grade[r, i]
        i_out[j] = i
        gap_out[j] = gap
        calc_out[j] = calc
        cleft_out[j] = cleft
