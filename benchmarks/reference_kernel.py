r"""A reference kernel of the engine's model, written to find the machine's limit for it.

The same equations as ``mitrasim.physiology.engine`` (Regazzoni 2022 circulation, four
time-varying elastances, four R–C–L circuits, resistive diodes for the aortic, tricuspid and
pulmonary valves, the mitral valve as two inertial one-way Bernoulli orifices), the same
classical RK4 at the same step (``T / n_steps``) and the same one-way clamp after each step,
so the same accuracy against the Radau reference.  It does the least a batch needs:

* structure of arrays, blocks of :data:`LANES` patients with the patient loop innermost, every
  array index a constant plus the lane (the step's activation rows are slices), so the lane loop
  compiles to vector loads and FMAs (an index with a run-time offset compiles to gathers);
* the whole RK4 step in one pass over the lanes: a lane's state, stage states, slopes and
  constants are scalars (registers), read once and written once a step; the first stage reads x
  alone, the update is x += (dt/6)·(k1 + 2(k2 + k3) + k4);
* the activation tabulated once per distinct timing (patients with the same heart rate and
  timings share one table, computed with a cosine per point and counted in the kernel's time),
  turned into each lane's elastance E = E_B + E_A·φ when a block starts;
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
#: Lanes per block of the float32 kernel: two 512-bit vectors of 16 floats, as the float64 kernel's 16 lanes
#: are two vectors of 8 doubles (one vector a block leaves a step's two independent halves no overlap).
LANES32 = 32
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


def _make(dtype, lanes):
    """The kernel's compiled functions for one float type (``np.float64``: the reference; ``np.float32``: the
    single-precision variant measured in ``benchmarks/engine.py``).  Every constant has the kernel's type, so
    float32 arithmetic stays float32 (a float64 literal would promote it); float64 constants are Python floats,
    so ``flops.py``'s counting float sees every operation."""
    f64 = dtype == np.float64
    ZERO, HALF, TWO, SIX = (float(v) if f64 else dtype(v) for v in (0.0, 0.5, 2.0, 6.0))
    BIG = 1e300 if f64 else dtype(np.finfo(dtype).max)

    @njit(fastmath={"contract"})
    def f(v_la, v_lv, v_ra, v_rv, p_sa, p_sv, p_pa, p_pv, q_sa, q_sv, q_pa, q_pn, xf, xr,
           e_la, e_lv, e_ra, e_rv,
           r0, r1, r2, r3, ic0, ic1, ic2, ic3, il0, il1, il2, il3, go0, gc0, go1, gc1, go2, gc2, fib, fg, rib, rg):
        """The right-hand side of one lane at one stage: its 14 slopes (scalars in, a tuple out)."""
        p_la = e_la * v_la
        p_lv = e_lv * v_lv
        p_ra = e_ra * v_ra
        p_rv = e_rv * v_rv
        d = p_lv - p_sa
        q_av = d * (go0 if d > 0.0 else gc0)
        d = p_ra - p_rv
        q_tv = d * (go1 if d > 0.0 else gc1)
        d = p_rv - p_pa
        q_pv = d * (go2 if d > 0.0 else gc2)
        dm = p_la - p_lv
        q_f = max(xf, ZERO)
        q_r = max(xr, ZERO)
        gf = (dm - q_f * q_f * fib) * fg
        gr = (-dm - q_r * q_r * rib) * rg
        kf = gf if ((xf > 0.0) | (dm > 0.0)) else ZERO
        kr = gr if ((xr > 0.0) | (dm < 0.0)) else ZERO
        return (q_pn - q_f + q_r, q_f - q_r - q_av, q_sv - q_tv, q_tv - q_pv,
                (q_av - q_sa) * ic0, (q_sa - q_sv) * ic1, (q_pv - q_pa) * ic2, (q_pa - q_pn) * ic3,
                (p_sa - p_sv - r0 * q_sa) * il0, (p_sv - p_ra - r1 * q_sv) * il1,
                (p_pa - p_pv - r2 * q_pa) * il2, (p_pv - p_la - r3 * q_pn) * il3, kf, kr)


    @njit(fastmath={"contract"}, inline="always")
    def rk4_step(x, c, a0, ah, a1, L):
        """One RK4 step of one block: per lane, x read once, four stages in registers, x written once
        (one-way orifice flows clamped at zero); ``a0``, ``ah``, ``a1``: the elastances at the step's
        start, middle and end, a[chamber·L + lane]."""
        for j in range(L):
            dt = c[D_DT * L + j]
            h = HALF * dt
            w = dt / SIX
            r0, r1, r2, r3 = c[D_R * L + j], c[(D_R + 1) * L + j], c[(D_R + 2) * L + j], c[(D_R + 3) * L + j]
            ic0, ic1, ic2, ic3 = c[D_IC * L + j], c[(D_IC + 1) * L + j], c[(D_IC + 2) * L + j], c[(D_IC + 3) * L + j]
            il0, il1, il2, il3 = c[D_IL * L + j], c[(D_IL + 1) * L + j], c[(D_IL + 2) * L + j], c[(D_IL + 3) * L + j]
            go0, gc0, go1, gc1 = c[D_GO * L + j], c[D_GC * L + j], c[(D_GO + 1) * L + j], c[(D_GC + 1) * L + j]
            go2, gc2 = c[(D_GO + 2) * L + j], c[(D_GC + 2) * L + j]
            fib, fg, rib, rg = c[D_FIB * L + j], c[D_FG * L + j], c[D_RIB * L + j], c[D_RG * L + j]
            x0, x1, x2, x3 = x[0 * L + j], x[1 * L + j], x[2 * L + j], x[3 * L + j]
            x4, x5, x6, x7 = x[4 * L + j], x[5 * L + j], x[6 * L + j], x[7 * L + j]
            x8, x9, x10, x11 = x[8 * L + j], x[9 * L + j], x[10 * L + j], x[11 * L + j]
            x12, x13 = x[12 * L + j], x[13 * L + j]
            k1 = f(x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13,
                    a0[j], a0[L + j], a0[2 * L + j], a0[3 * L + j],
                    r0, r1, r2, r3, ic0, ic1, ic2, ic3, il0, il1, il2, il3, go0, gc0, go1, gc1, go2, gc2, fib, fg, rib, rg)
            k2 = f(x0 + h * k1[0], x1 + h * k1[1], x2 + h * k1[2], x3 + h * k1[3], x4 + h * k1[4], x5 + h * k1[5],
                    x6 + h * k1[6], x7 + h * k1[7], x8 + h * k1[8], x9 + h * k1[9], x10 + h * k1[10], x11 + h * k1[11],
                    x12 + h * k1[12], x13 + h * k1[13],
                    ah[j], ah[L + j], ah[2 * L + j], ah[3 * L + j],
                    r0, r1, r2, r3, ic0, ic1, ic2, ic3, il0, il1, il2, il3, go0, gc0, go1, gc1, go2, gc2, fib, fg, rib, rg)
            s0, s1, s2, s3, s4, s5, s6 = k1[0] + TWO * k2[0], k1[1] + TWO * k2[1], k1[2] + TWO * k2[2], k1[3] + TWO * k2[3], k1[4] + TWO * k2[4], k1[5] + TWO * k2[5], k1[6] + TWO * k2[6]
            s7, s8, s9, s10, s11, s12, s13 = k1[7] + TWO * k2[7], k1[8] + TWO * k2[8], k1[9] + TWO * k2[9], k1[10] + TWO * k2[10], k1[11] + TWO * k2[11], k1[12] + TWO * k2[12], k1[13] + TWO * k2[13]
            k3 = f(x0 + h * k2[0], x1 + h * k2[1], x2 + h * k2[2], x3 + h * k2[3], x4 + h * k2[4], x5 + h * k2[5],
                    x6 + h * k2[6], x7 + h * k2[7], x8 + h * k2[8], x9 + h * k2[9], x10 + h * k2[10], x11 + h * k2[11],
                    x12 + h * k2[12], x13 + h * k2[13],
                    ah[j], ah[L + j], ah[2 * L + j], ah[3 * L + j],
                    r0, r1, r2, r3, ic0, ic1, ic2, ic3, il0, il1, il2, il3, go0, gc0, go1, gc1, go2, gc2, fib, fg, rib, rg)
            s0, s1, s2, s3, s4, s5, s6 = s0 + TWO * k3[0], s1 + TWO * k3[1], s2 + TWO * k3[2], s3 + TWO * k3[3], s4 + TWO * k3[4], s5 + TWO * k3[5], s6 + TWO * k3[6]
            s7, s8, s9, s10, s11, s12, s13 = s7 + TWO * k3[7], s8 + TWO * k3[8], s9 + TWO * k3[9], s10 + TWO * k3[10], s11 + TWO * k3[11], s12 + TWO * k3[12], s13 + TWO * k3[13]
            k4 = f(x0 + dt * k3[0], x1 + dt * k3[1], x2 + dt * k3[2], x3 + dt * k3[3], x4 + dt * k3[4], x5 + dt * k3[5],
                    x6 + dt * k3[6], x7 + dt * k3[7], x8 + dt * k3[8], x9 + dt * k3[9], x10 + dt * k3[10], x11 + dt * k3[11],
                    x12 + dt * k3[12], x13 + dt * k3[13],
                    a1[j], a1[L + j], a1[2 * L + j], a1[3 * L + j],
                    r0, r1, r2, r3, ic0, ic1, ic2, ic3, il0, il1, il2, il3, go0, gc0, go1, gc1, go2, gc2, fib, fg, rib, rg)
            x[0 * L + j] = x0 + w * (s0 + k4[0])
            x[1 * L + j] = x1 + w * (s1 + k4[1])
            x[2 * L + j] = x2 + w * (s2 + k4[2])
            x[3 * L + j] = x3 + w * (s3 + k4[3])
            x[4 * L + j] = x4 + w * (s4 + k4[4])
            x[5 * L + j] = x5 + w * (s5 + k4[5])
            x[6 * L + j] = x6 + w * (s6 + k4[6])
            x[7 * L + j] = x7 + w * (s7 + k4[7])
            x[8 * L + j] = x8 + w * (s8 + k4[8])
            x[9 * L + j] = x9 + w * (s9 + k4[9])
            x[10 * L + j] = x10 + w * (s10 + k4[10])
            x[11 * L + j] = x11 + w * (s11 + k4[11])
            x[12 * L + j] = max(x12 + w * (s12 + k4[12]), ZERO)
            x[13 * L + j] = max(x13 + w * (s13 + k4[13]), ZERO)


    @njit(fastmath={"contract"}, cache=False)
    def block(D, TAB, which, X0, n_steps, n_beats, p0, out):
        L = lanes
        c = np.empty(N_D * L, dtype)
        for r in range(N_D):
            for j in range(L):
                c[r * L + j] = D[r, p0 + j]
        ns2 = 2 * n_steps + 1
        act = np.empty(ns2 * 4 * L, dtype)
        for j in range(L):  # the lane's elastance E = E_B + E_A·φ at every stage time, from its timing's φ table
            u = which[p0 + j]
            for m in range(ns2):
                for ch in range(4):
                    act[(m * 4 + ch) * L + j] = c[(D_EB + ch) * L + j] + c[(D_EA + ch) * L + j] * TAB[u, m * 4 + ch]
        x = np.empty(14 * L, dtype)
        for i in range(14):
            for j in range(L):
                x[i * L + j] = X0[i, p0 + j] - (c[(D_V0 + i) * L + j] if i < 4 else ZERO)  # volumes above V0: p = E·x
        acc = np.zeros(7 * L, dtype)
        for beat in range(n_beats):
            last = beat == n_beats - 1
            if last:
                for j in range(L):
                    acc[0 * L + j] = -BIG
                    acc[1 * L + j] = BIG
                    acc[2 * L + j] = -BIG
                    acc[3 * L + j] = BIG
                    acc[4 * L + j] = ZERO
                    acc[5 * L + j] = ZERO
                    acc[6 * L + j] = x[4 * L + j]
            for step in range(n_steps):
                s2 = 2 * step
                a0 = act[s2 * 4 * L:(s2 + 1) * 4 * L]  # slices: indices from 0, no per-lane wraparound test (gathers)
                if last:
                    for j in range(L):
                        vlv = x[1 * L + j]
                        pao = x[4 * L + j]
                        acc[0 * L + j] = max(acc[0 * L + j], vlv)
                        acc[1 * L + j] = min(acc[1 * L + j], vlv)
                        acc[2 * L + j] = max(acc[2 * L + j], pao)
                        acc[3 * L + j] = min(acc[3 * L + j], pao)
                        p_la = a0[j] * x[0 * L + j]
                        acc[4 * L + j] += p_la
                        acc[5 * L + j] += x[8 * L + j]
                rk4_step(x, c, a0, act[(s2 + 1) * 4 * L:(s2 + 2) * 4 * L], act[(s2 + 2) * 4 * L:(s2 + 3) * 4 * L], L)
            if last:
                for j in range(L):
                    dt = c[D_DT * L + j]
                    out[0, p0 + j] = acc[0 * L + j] + c[(D_V0 + 1) * L + j]
                    out[1, p0 + j] = acc[1 * L + j] + c[(D_V0 + 1) * L + j]
                    out[2, p0 + j] = acc[2 * L + j]
                    out[3, p0 + j] = acc[3 * L + j]
                    out[4, p0 + j] = acc[4 * L + j] / n_steps
                    # forward volume by the systemic arterial mass balance, as the engine reports it
                    fwd = acc[5 * L + j] * dt + (x[4 * L + j] - acc[6 * L + j]) / c[D_IC * L + j]
                    out[5, p0 + j] = fwd * 60.0 / (dt * n_steps) / 1000.0
        return 0


    @njit(fastmath={"contract"}, parallel=True, cache=False)
    def run_all(D, TAB, which, X0, n_steps, n_beats, out):
        n_blocks = D.shape[1] // lanes
        for b in prange(n_blocks):
            block(D, TAB, which, X0, n_steps, n_beats, b * lanes, out)



    return rk4_step, run_all, block


_step, _run, _block = _make(np.float64, LANES)
_step32, _run32, _block32 = _make(np.float32, LANES32)


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


def run(P: np.ndarray, X0: np.ndarray, n_steps: int, n_beats: int, dtype: type = np.float64) -> np.ndarray:
    """Every patient (column of the engine's ``P``, ``X0``) for ``n_beats`` beats.

    Returns (6, n): :data:`REF_METRICS` of the last beat.  The activation is tabulated once per
    distinct timing (patients with the same heart rate and timings share one table).  ``dtype``
    ``np.float32``: the single-precision kernel (constants, state and tables rounded to float32 once,
    every operation of the step in float32; the metrics' last scaling in float64).
    """
    D = derived(P, n_steps)
    timing = np.vstack([activation(P), P[KP["period_s"]][None, :]]).T
    uniq, which = np.unique(timing, axis=0, return_inverse=True)
    TAB = _tables(np.ascontiguousarray(uniq[:, :12]), np.ascontiguousarray(uniq[:, 12]), n_steps)
    n = P.shape[1]
    f64 = dtype == np.float64
    lanes = LANES if f64 else LANES32
    cols = np.arange(-(-n // lanes) * lanes) % n  # a last partial block repeats the first patients
    out = np.zeros((6, cols.size))
    (_run if f64 else _run32)(np.ascontiguousarray(D[:, cols], dtype), TAB.astype(dtype), which.ravel()[cols].astype(np.int64),
                              np.ascontiguousarray(X0[:, cols], dtype), n_steps, n_beats, out)
    return out[:, :n]
