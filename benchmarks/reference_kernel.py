r"""A reference kernel of the engine's model, written to find the machine's limit for it.

The same equations as ``mitrasim.physiology.engine`` (Regazzoni 2022 circulation, four
time-varying elastances, four R–C–L circuits, resistive diodes for the aortic, tricuspid and
pulmonary valves, the mitral valve as two inertial one-way Bernoulli orifices), the same
classical RK4 at the same step (``T / n_steps``) and the same one-way clamp after each step,
so the same accuracy against the Radau reference.  It does the least a batch needs:

* structure of arrays, blocks of :data:`LANES` patients with the patient loop innermost, every
  array index a constant plus the lane (the stage's activation row is a slice), so the lane loops
  compile to vector loads and FMAs (an index with a run-time offset compiles to gathers);
* the first stage reads x alone, the update is x += (dt/6)·(k1 + 2(k2 + k3) + k4) with dt/6 per row;
* the activation tabulated once per patient at the 2·n_steps + 1 RK4 stage times (a cosine
  per point, computed in the kernel and counted in its time);
* a fixed number of beats (no steady-state test, no Anderson step), and on the last beat only
  the running metrics needed for EDV, ESV, aortic systolic/diastolic, mean LA and forward
  output (``REF_METRICS``).

It exists for ``benchmarks/engine.py --kernel`` only: the engine is measured against it in
the same run, and its metrics are compared with the engine's (same beats, same step).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from mitrasim.physiology.engine import K_BERNOULLI, RHO_L_UNIT
from mitrasim.physiology.parameters import KP

#: Lanes per block: 16 measured fastest (8 lanes: 0.48×, 32 lanes: 0.9× of 16, interleaved CPU time, see RESULTS.md).
LANES = 16
REF_METRICS = ("edv_ml", "esv_ml", "sbp_mmhg", "dbp_mmhg", "la_mean_mmhg", "co_l_min")

# derived per-patient rows (the kernel reads no division)
(D_DT, D_EA, D_EB, D_V0) = (0, 1, 5, 9)  # EA/EB/V0: 4 chambers each
(D_R, D_IC, D_IL) = (13, 17, 21)  # 4 circuits each
(D_GO, D_GC) = (25, 28)  # av, tv, pv
(D_FIB, D_FG, D_RIB, D_RG) = (31, 32, 33, 34)
N_D = 35


def derived(P: np.ndarray, n_steps: int) -> np.ndarray:
    """Per-patient constants of the reference kernel from the engine's parameter matrix ``P``."""
    n = P.shape[1]
    D = np.empty((N_D, n))
    D[D_DT] = P[KP["period_s"]] / n_steps
    for k, ch in enumerate(("la", "lv", "ra", "rv")):
        D[D_EA + k] = P[KP[f"{ch}_ea_mmhg_ml"]]
        D[D_EB + k] = P[KP[f"{ch}_eb_mmhg_ml"]]
        D[D_V0 + k] = P[KP[f"{ch}_v0_ml"]]
    for k, c in enumerate(("sys_ar", "sys_ven", "pul_ar", "pul_ven")):
        D[D_R + k] = P[KP[f"{c}_r_mmhg_s_ml"]]
        D[D_IC + k] = 1.0 / P[KP[f"{c}_c_ml_mmhg"]]
        D[D_IL + k] = 1.0 / P[KP[f"{c}_l_mmhg_s2_ml"]]
    for k, v in enumerate(("av", "tv", "pv")):
        D[D_GO + k] = 1.0 / P[KP[f"{v}_rmin_mmhg_s_ml"]]
        D[D_GC + k] = 1.0 / P[KP[f"{v}_rmax_mmhg_s_ml"]]
    af, ar, leff = P[KP["mva_cm2"]], P[KP["eroa_cm2"]], P[KP["mv_leff_cm"]]
    D[D_FIB] = 1.0 / (K_BERNOULLI * af) ** 2
    D[D_FG] = af / (RHO_L_UNIT * leff)
    pos = ar > 0.0
    D[D_RIB] = np.where(pos, 1.0 / (K_BERNOULLI * np.where(pos, ar, 1.0)) ** 2, 0.0)
    D[D_RG] = np.where(pos, ar / (RHO_L_UNIT * leff), 0.0)
    return D


def activation(P: np.ndarray) -> np.ndarray:
    """Cosine activation parameters (tC, TC, TR) per chamber, rows 3·chamber + (0, 1, 2)."""
    A = np.empty((12, P.shape[1]))
    for k, ch in enumerate(("la", "lv", "ra", "rv")):
        for i, s in enumerate("abc"):
            A[3 * k + i] = P[KP[f"{ch}_act_{s}"]]
    return A


@njit(fastmath={"contract"}, cache=False)
def _block(D, TAB, which, X0, n_steps, n_beats, p0, out):
    L = LANES
    T = np.empty(L)
    dt = np.empty(L)
    c = np.empty(N_D * L)
    for r in range(N_D):
        for j in range(L):
            c[r * L + j] = D[r, p0 + j]
    w6 = np.empty(14 * L)  # the RK4 weight dt/6 of each state row
    for j in range(L):
        dt[j] = c[D_DT * L + j]
        T[j] = dt[j] * n_steps
        for i in range(14):
            w6[i * L + j] = dt[j] / 6.0
    ns2 = 2 * n_steps + 1
    act = np.empty(ns2 * 4 * L)
    for j in range(L):
        u = which[p0 + j]
        for m in range(ns2 * 4):
            act[m * L + j] = TAB[u, m]
    x = np.empty(14 * L)
    for i in range(14):
        for j in range(L):
            x[i * L + j] = X0[i, p0 + j]
    k1 = np.zeros(14 * L)
    k2 = np.zeros(14 * L)
    k3 = np.zeros(14 * L)
    k4 = np.zeros(14 * L)
    acc = np.zeros(7 * L)
    for beat in range(n_beats):
        last = beat == n_beats - 1
        if last:
            for j in range(L):
                acc[0 * L + j] = -1e300
                acc[1 * L + j] = 1e300
                acc[2 * L + j] = -1e300
                acc[3 * L + j] = 1e300
                acc[4 * L + j] = 0.0
                acc[5 * L + j] = 0.0
                acc[6 * L + j] = x[4 * L + j]
        for step in range(n_steps):
            s2 = 2 * step
            _stage(x, x, 0.0, k1, c, act[s2 * 4 * L:(s2 + 1) * 4 * L], True, L)
            if last:
                for j in range(L):
                    vlv = x[1 * L + j]
                    pao = x[4 * L + j]
                    acc[0 * L + j] = max(acc[0 * L + j], vlv)
                    acc[1 * L + j] = min(acc[1 * L + j], vlv)
                    acc[2 * L + j] = max(acc[2 * L + j], pao)
                    acc[3 * L + j] = min(acc[3 * L + j], pao)
                    p_la = (c[D_EB * L + j] + c[D_EA * L + j] * act[((s2) * 4 + 0) * L + j]) * (x[0 * L + j] - c[D_V0 * L + j])
                    acc[4 * L + j] += p_la
                    acc[5 * L + j] += x[8 * L + j]
            ah = act[(s2 + 1) * 4 * L:(s2 + 2) * 4 * L]  # a slice: indices from 0, no per-lane wraparound test (gathers)
            _stage(x, k1, 0.5, k2, c, ah, False, L)
            _stage(x, k2, 0.5, k3, c, ah, False, L)
            _stage(x, k3, 1.0, k4, c, act[(s2 + 2) * 4 * L:(s2 + 3) * 4 * L], False, L)
            _update(x, k1, k2, k3, k4, w6, L)
        if last:
            for j in range(L):
                out[0, p0 + j] = acc[0 * L + j]
                out[1, p0 + j] = acc[1 * L + j]
                out[2, p0 + j] = acc[2 * L + j]
                out[3, p0 + j] = acc[3 * L + j]
                out[4, p0 + j] = acc[4 * L + j] / n_steps
                # forward volume by the systemic arterial mass balance, as the engine reports it
                fwd = acc[5 * L + j] * dt[j] + (x[4 * L + j] - acc[6 * L + j]) / c[D_IC * L + j]
                out[5, p0 + j] = fwd * 60.0 / T[j] / 1000.0
    return 0


@njit(fastmath={"contract"}, parallel=True, cache=False)
def _run(D, TAB, which, X0, n_steps, n_beats, out):
    n_blocks = D.shape[1] // LANES
    for b in prange(n_blocks):
        _block(D, TAB, which, X0, n_steps, n_beats, b * LANES, out)


@njit(cache=False)
def _tables(ACT, T, n_steps):
    """Activation φ at t = s·dt/2, s = 0 … 2·n_steps, of each timing (row of ACT, T): (n_u, (2·n_steps + 1)·4)."""
    n_u = T.size
    ns2 = 2 * n_steps + 1
    TAB = np.empty((n_u, ns2 * 4))
    for u in range(n_u):
        h = 0.5 * T[u] / n_steps
        for s in range(ns2):
            t = s * h
            for ch in range(4):
                tc, tcon, trel = ACT[u, 3 * ch], ACT[u, 3 * ch + 1], ACT[u, 3 * ch + 2]
                x = (t - tc) % T[u]
                if x < tcon:
                    phi = 0.5 * (1.0 - math.cos(math.pi * x / tcon))
                else:
                    x = (t - tc - tcon) % T[u]
                    phi = 0.5 * (1.0 + math.cos(math.pi * x / trel)) if x < trel else 0.0
                TAB[u, s * 4 + ch] = phi
    return TAB


def run(P: np.ndarray, X0: np.ndarray, n_steps: int, n_beats: int) -> np.ndarray:
    """Every patient (column of the engine's ``P``, ``X0``; a multiple of LANES) for ``n_beats`` beats.

    Returns (6, n): :data:`REF_METRICS` of the last beat.  The activation is tabulated once per
    distinct timing (patients with the same heart rate and timings share one table).
    """
    D = derived(P, n_steps)
    timing = np.vstack([activation(P), P[KP["period_s"]][None, :]]).T
    uniq, which = np.unique(timing, axis=0, return_inverse=True)
    TAB = _tables(np.ascontiguousarray(uniq[:, :12]), np.ascontiguousarray(uniq[:, 12]), n_steps)
    out = np.zeros((6, P.shape[1]))
    _run(D, TAB, which.ravel().astype(np.int64), X0, n_steps, n_beats, out)
    return out


@njit(fastmath={"contract"}, inline="always")
def _update(x, k1, k2, k3, k4, w6, L):
    """x += dt/6·(k1 + 2(k2 + k3) + k4) (w6 = dt/6 per state row and lane), then the one-way orifice flows clamped at zero."""
    for m in range(14 * L):
        x[m] += w6[m] * (k1[m] + 2.0 * (k2[m] + k3[m]) + k4[m])
    for j in range(L):
        x[12 * L + j] = max(x[12 * L + j], 0.0)
        x[13 * L + j] = max(x[13 * L + j], 0.0)


@njit(fastmath={"contract"}, inline="always")
def _stage(x, kp, h, k, c, a, first, L):
    """k = f(x + h·dt·kp) for one block (``first``, a compile-time constant: k = f(x)); ``a``: the
    activation of the stage's time, a[chamber·L + lane]."""
    for j in range(L):
        hd = 0.0 if first else h * c[D_DT * L + j]
        v_la = x[0 * L + j] if first else x[0 * L + j] + hd * kp[0 * L + j]
        v_lv = x[1 * L + j] if first else x[1 * L + j] + hd * kp[1 * L + j]
        v_ra = x[2 * L + j] if first else x[2 * L + j] + hd * kp[2 * L + j]
        v_rv = x[3 * L + j] if first else x[3 * L + j] + hd * kp[3 * L + j]
        p_sa = x[4 * L + j] if first else x[4 * L + j] + hd * kp[4 * L + j]
        p_sv = x[5 * L + j] if first else x[5 * L + j] + hd * kp[5 * L + j]
        p_pa = x[6 * L + j] if first else x[6 * L + j] + hd * kp[6 * L + j]
        p_pv = x[7 * L + j] if first else x[7 * L + j] + hd * kp[7 * L + j]
        q_sa = x[8 * L + j] if first else x[8 * L + j] + hd * kp[8 * L + j]
        q_sv = x[9 * L + j] if first else x[9 * L + j] + hd * kp[9 * L + j]
        q_pa = x[10 * L + j] if first else x[10 * L + j] + hd * kp[10 * L + j]
        q_pn = x[11 * L + j] if first else x[11 * L + j] + hd * kp[11 * L + j]
        xf = x[12 * L + j] if first else x[12 * L + j] + hd * kp[12 * L + j]
        xr = x[13 * L + j] if first else x[13 * L + j] + hd * kp[13 * L + j]
        p_la = (c[D_EB * L + j] + c[D_EA * L + j] * a[0 * L + j]) * (v_la - c[D_V0 * L + j])
        p_lv = (c[(D_EB + 1) * L + j] + c[(D_EA + 1) * L + j] * a[1 * L + j]) * (v_lv - c[(D_V0 + 1) * L + j])
        p_ra = (c[(D_EB + 2) * L + j] + c[(D_EA + 2) * L + j] * a[2 * L + j]) * (v_ra - c[(D_V0 + 2) * L + j])
        p_rv = (c[(D_EB + 3) * L + j] + c[(D_EA + 3) * L + j] * a[3 * L + j]) * (v_rv - c[(D_V0 + 3) * L + j])
        d = p_lv - p_sa
        q_av = d * (c[D_GO * L + j] if d > 0.0 else c[D_GC * L + j])
        d = p_ra - p_rv
        q_tv = d * (c[(D_GO + 1) * L + j] if d > 0.0 else c[(D_GC + 1) * L + j])
        d = p_rv - p_pa
        q_pv = d * (c[(D_GO + 2) * L + j] if d > 0.0 else c[(D_GC + 2) * L + j])
        dm = p_la - p_lv
        q_f = max(xf, 0.0)
        q_r = max(xr, 0.0)
        gf = (dm - q_f * q_f * c[D_FIB * L + j]) * c[D_FG * L + j]
        gr = (-dm - q_r * q_r * c[D_RIB * L + j]) * c[D_RG * L + j]
        k[12 * L + j] = gf if ((xf > 0.0) | (dm > 0.0)) else 0.0
        k[13 * L + j] = gr if ((xr > 0.0) | (dm < 0.0)) else 0.0
        k[0 * L + j] = q_pn - q_f + q_r
        k[1 * L + j] = q_f - q_r - q_av
        k[2 * L + j] = q_sv - q_tv
        k[3 * L + j] = q_tv - q_pv
        k[4 * L + j] = (q_av - q_sa) * c[D_IC * L + j]
        k[5 * L + j] = (q_sa - q_sv) * c[(D_IC + 1) * L + j]
        k[6 * L + j] = (q_pv - q_pa) * c[(D_IC + 2) * L + j]
        k[7 * L + j] = (q_pa - q_pn) * c[(D_IC + 3) * L + j]
        k[8 * L + j] = (p_sa - p_sv - c[D_R * L + j] * q_sa) * c[D_IL * L + j]
        k[9 * L + j] = (p_sv - p_ra - c[(D_R + 1) * L + j] * q_sv) * c[(D_IL + 1) * L + j]
        k[10 * L + j] = (p_pa - p_pv - c[(D_R + 2) * L + j] * q_pa) * c[(D_IL + 2) * L + j]
        k[11 * L + j] = (p_pv - p_la - c[(D_R + 3) * L + j] * q_pn) * c[(D_IL + 3) * L + j]
