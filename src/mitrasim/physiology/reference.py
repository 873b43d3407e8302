"""A tight-tolerance scipy reference for the compiled engine (same model, independent integrator).

The model is the one of :mod:`mitrasim.physiology.engine`, written here again as plain numpy
code and integrated with ``scipy.integrate.solve_ivp(method="Radau")`` at rtol 1e-10.  A hard
clamp of the one-way orifice flows makes implicit solvers fail, so the reference is
*event-switched*: each one-way mitral orifice has a mode (flowing / shut); an event stops the
integration where a flowing orifice's flow reaches zero or where a shut orifice's pressure
difference turns in its favour, and the integration restarts in the other mode.  The resistive
diodes (and the activation curves' phase boundaries) only have kinks; the integration is also
restarted there so that the step-size control never straddles them.

It is slow (tens of milliseconds to seconds per beat): use it in tests and benchmarks only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.integrate import solve_ivp

from mitrasim.physiology.engine import K_BERNOULLI, RHO_L_UNIT, _phi
from mitrasim.physiology.parameters import KP, N_STATE

__all__ = ["reference_beats", "waveform_metrics"]


class _Patient:
    """Parameters of one patient (column ``c`` of the kernel parameter array)."""

    def __init__(self, P: np.ndarray, c: int, kind: int, diode: bool):
        g = lambda name: float(P[KP[name], c])  # noqa: E731
        self.T = g("period_s")
        self.kind = kind
        self.diode_flag = diode
        self.E = [(g(f"{ch}_ea_mmhg_ml"), g(f"{ch}_eb_mmhg_ml"), g(f"{ch}_v0_ml")) for ch in ("la", "lv", "ra", "rv")]
        self.act = [tuple(g(f"{ch}_act_{k}") for k in "abcdef") for ch in ("la", "lv", "ra", "rv")]
        self.circ = [(g(f"{k}_r_mmhg_s_ml"), g(f"{k}_c_ml_mmhg"), g(f"{k}_l_mmhg_s2_ml")) for k in ("sys_ar", "sys_ven", "pul_ar", "pul_ven")]
        self.valve = {v: (g(f"{v}_rmin_mmhg_s_ml"), g(f"{v}_rmax_mmhg_s_ml")) for v in ("av", "tv", "pv", "mv")}
        self.mva = g("mva_cm2")
        self.eroa = g("eroa_cm2")
        self.leff = g("mv_leff_cm")

    def phi(self, t: float) -> list[float]:
        return [_phi(t, self.kind, *a, self.T) for a in self.act]  # type: ignore[call-arg]  # numba's Dispatcher type hides the jitted signature

    def pressures(self, t, x):
        ph = self.phi(t)
        return [(eb + ea * p) * (x[i] - v0) for i, ((ea, eb, v0), p) in enumerate(zip(self.E, ph))]

    def valve_flow(self, v: str, d: float) -> float:
        rmin, rmax = self.valve[v]
        return d / rmin if d > 0 else d / rmax

    def flows(self, t, x, mode):
        """Valve flows (q_f, q_r, q_av, q_tv, q_pv) and the pressures."""
        p_la, p_lv, p_ra, p_rv = self.pressures(t, x)
        q_av = self.valve_flow("av", p_lv - x[4])
        q_tv = self.valve_flow("tv", p_ra - p_rv)
        q_pv = self.valve_flow("pv", p_rv - x[6])
        if self.diode_flag:
            q = self.valve_flow("mv", p_la - p_lv)
            q_f, q_r = q, 0.0
        else:
            q_f = x[12] if mode[0] else 0.0
            q_r = x[13] if mode[1] else 0.0
        return (q_f, q_r, q_av, q_tv, q_pv), (p_la, p_lv, p_ra, p_rv)

    def rhs(self, t, x, mode):
        (q_f, q_r, q_av, q_tv, q_pv), (p_la, p_lv, p_ra, p_rv) = self.flows(t, x, mode)
        (r_sa, c_sa, l_sa), (r_sv, c_sv, l_sv), (r_pa, c_pa, l_pa), (r_pv, c_pv, l_pv) = self.circ
        dx = np.empty(N_STATE)
        dx[0] = x[11] - q_f + q_r
        dx[1] = q_f - q_r - q_av
        dx[2] = x[9] - q_tv
        dx[3] = q_tv - q_pv
        dx[4] = (q_av - x[8]) / c_sa
        dx[5] = (x[8] - x[9]) / c_sv
        dx[6] = (q_pv - x[10]) / c_pa
        dx[7] = (x[10] - x[11]) / c_pv
        dx[8] = (x[4] - x[5] - r_sa * x[8]) / l_sa
        dx[9] = (x[5] - p_ra - r_sv * x[9]) / l_sv
        dx[10] = (x[6] - x[7] - r_pa * x[10]) / l_pa
        dx[11] = (x[7] - p_la - r_pv * x[11]) / l_pv
        dx[12] = dx[13] = 0.0
        if not self.diode_flag:
            d = p_la - p_lv
            if mode[0]:
                a = self.mva
                dx[12] = (d - x[12] ** 2 / (K_BERNOULLI * a) ** 2) * a / (RHO_L_UNIT * self.leff)
            if mode[1] and self.eroa > 0:
                a = self.eroa
                dx[13] = (-d - x[13] ** 2 / (K_BERNOULLI * a) ** 2) * a / (RHO_L_UNIT * self.leff)
        return dx


def _event(fn: Callable[[float, np.ndarray], float], direction: int) -> Callable[[float, np.ndarray], float]:
    """A terminal event for ``solve_ivp``, which reads the function's ``terminal`` and ``direction`` attributes."""
    setattr(fn, "terminal", True)
    setattr(fn, "direction", direction)
    return fn


def _orifice_event(pt: _Patient, k: int, mode: tuple[bool, bool]):
    """Terminal event of one-way mitral orifice ``k`` (0 forward, 1 regurgitant) in ``mode``:
    a flowing orifice's flow reaching zero, or a shut one's driving pressure turning positive."""
    sign = 1.0 if k == 0 else -1.0

    def event(tt, xx):
        if mode[k]:
            return xx[12 + k]
        p_la, p_lv = pt.pressures(tt, xx)[:2]
        return sign * (p_la - p_lv)

    return _event(event, -1 if mode[k] else 1)


def _breakpoints(pt: _Patient, t0: float, t1: float) -> list[float]:
    """Activation phase boundaries inside (t0, t1)."""
    out = []
    T = pt.T
    for a, b, c, *_ in pt.act:
        marks = (a, a + b, a + b + c) if pt.kind == 0 else (a,)
        for m in marks:
            k0 = np.floor((t0 - m) / T)
            for k in range(int(k0), int(k0) + 3):
                t = m + k * T
                if t0 < t < t1:
                    out.append(t)
    return sorted(set(out))


def reference_beats(P: np.ndarray, c: int, x0: np.ndarray, kind: int, diode: bool, n_beats: int, *,
                    rtol: float = 1e-10, atol: float = 1e-10, samples_per_beat: int = 4000):
    """Integrate patient ``c`` for ``n_beats`` from ``x0``; return (x_end, waveforms of the last beat).

    Waveforms are sampled at ``samples_per_beat`` uniform points (same names as the engine's).
    """
    pt = _Patient(P, c, kind, diode)
    x = np.array(x0, dtype=float)
    T = pt.T
    mode = [bool(x[12] > 0.0), bool(x[13] > 0.0)]
    t = 0.0
    t_end = n_beats * T
    ts = np.linspace((n_beats - 1) * T, t_end, samples_per_beat, endpoint=False)
    seg_t, seg_sol, seg_mode = [], [], []
    pv_switch: list[tuple[float, float]] = []  # (time, pulmonary-vein flow) where the forward orifice opens or shuts (last beat)
    stops = _breakpoints(pt, 0.0, t_end) + [k * T for k in range(1, n_beats + 1)]
    stops = sorted(set(s for s in stops if s > 0))
    for t_stop in stops:
        while t < t_stop - 1e-15:
            events = []
            if not diode:
                # a shut orifice whose pressure difference already favours flow opens now
                p_la, p_lv = pt.pressures(t, x)[:2]
                if not mode[0] and p_la - p_lv > 0:
                    mode[0] = True
                    if t >= ts[0]:
                        pv_switch.append((t - ts[0], float(x[11])))
                if not mode[1] and pt.eroa > 0 and p_lv - p_la > 0:
                    mode[1] = True

                events = [_orifice_event(pt, 0, (mode[0], mode[1]))] + ([_orifice_event(pt, 1, (mode[0], mode[1]))] if pt.eroa > 0 else [])
            for v, fn in (("av", lambda tt, xx: pt.pressures(tt, xx)[1] - xx[4]),
                          ("tv", lambda tt, xx: (lambda p: p[2] - p[3])(pt.pressures(tt, xx))),
                          ("pv", lambda tt, xx: pt.pressures(tt, xx)[3] - xx[6])):
                events.append(_event(fn, 0))
            if diode:
                fm = lambda tt, xx: (lambda p: p[0] - p[1])(pt.pressures(tt, xx))  # noqa: E731
                events.append(_event(fm, 0))
            m = tuple(mode)
            sol = solve_ivp(lambda tt, xx: pt.rhs(tt, xx, m), (t, t_stop), x, method="Radau", rtol=rtol, atol=atol,
                            events=events, dense_output=True, first_step=1e-6)
            if sol.status < 0:
                raise RuntimeError(f"reference integration failed at t={t}: {sol.message}")
            seg_t.append((t, sol.t[-1]))
            seg_sol.append(sol.sol)
            seg_mode.append(m)
            x = sol.y[:, -1].copy()
            t_new = sol.t[-1]
            if sol.status == 1 and not diode:
                # which event fired: switch that orifice's mode
                for k in range(min(2, len(sol.t_events))):
                    if len(sol.t_events[k]):
                        mode[k] = not mode[k]
                        if k == 0 and sol.t[-1] >= ts[0]:
                            pv_switch.append((sol.t[-1] - ts[0], float(x[11])))
                        if not mode[k]:
                            x[12 + k] = 0.0
            if t_new <= t + 1e-13:  # an event at the start (grazing): step past it
                t_new = min(t + 1e-9, t_stop)
                x = x + 1e-9 * pt.rhs(t, x, tuple(mode))
            t = t_new
    # sample the last beat
    names = ("v_la_ml", "v_lv_ml", "p_la_mmhg", "p_lv_mmhg", "p_ao_mmhg", "p_pa_mmhg", "p_ra_mmhg", "p_rv_mmhg",
             "q_mv_ml_s", "q_mr_ml_s", "q_av_ml_s", "q_pvein_ml_s")
    w = {n: np.empty(samples_per_beat) for n in names}
    k = 0
    for (a, b), f, m in zip(seg_t, seg_sol, seg_mode):
        while k < samples_per_beat and a <= ts[k] <= b:
            xx = f(ts[k])
            (q_f, q_r, q_av, _, _), (p_la, p_lv, p_ra, p_rv) = pt.flows(ts[k], xx, m)
            if diode:
                q_f, q_r = max(q_f, 0.0), max(-q_f, 0.0)
            vals = (xx[0], xx[1], p_la, p_lv, xx[4], xx[6], p_ra, p_rv, max(q_f, 0.0), max(q_r, 0.0), q_av, xx[11])
            for n, v in zip(names, vals):
                w[n][k] = v
            k += 1
    w["t_s"] = ts - ts[0]
    w["q_pvein_at_mv_switch_ml_s"] = np.array([q for _, q in pv_switch])
    w["t_mv_switch_s"] = np.array([ts_ for ts_, _ in pv_switch])
    return x, w


def _no_flow_gaps(fwd: np.ndarray) -> np.ndarray:
    """Label of each sample's circular run of no forward mitral flow (−1 where there is flow): the
    runs at the beat's end and start are one gap (the beat is periodic)."""
    n = fwd.size
    label = np.full(n, -1)
    starts = np.flatnonzero(~fwd & np.roll(fwd, 1))  # no flow after flow: the first sample of a gap
    if not starts.size:  # no flow anywhere (one gap) or flow everywhere (none)
        label[~fwd] = 0
        return label
    for g, s0 in enumerate(starts):
        i = int(s0)
        while not fwd[i]:
            label[i] = g
            i = (i + 1) % n
    return label


def _pv_windows(w: dict, fwd: np.ndarray, dt: float) -> tuple[float, float, float]:
    """Pulmonary-vein S peak, D peak and systolic minimum (NaN without a systolic gap) of one sampled beat.

    Systole = a gap in the forward mitral flow with aortic ejection (Q_av > 0) in it (the
    ventricular ejection window); a gap without it (diastasis between E and A) is diastole.  The
    flow at each forward-orifice switch (the reference's events) belongs to D and to its gap (the
    no-flow sample just before an opening or just after a closing), also to its minimum.
    """
    q = w["q_pvein_ml_s"]
    n = q.size
    label = _no_flow_gaps(fwd)
    ejecting = w["q_av_ml_s"] > 0.0
    systolic = {int(g) for g in np.unique(label[label >= 0]) if ejecting[label == g].any()}
    in_s = np.isin(label, list(systolic))
    d_vals = list(q[fwd | ((label >= 0) & ~in_s)])
    s_edge = []
    for t_sw, q_sw in zip(w.get("t_mv_switch_s", ()), w.get("q_pvein_at_mv_switch_ml_s", ())):
        d_vals.append(q_sw)
        near = [k % n for k in (int(np.floor(t_sw / dt)), int(np.ceil(t_sw / dt)))]
        if any(label[k] in systolic for k in near):
            s_edge.append(q_sw)
    s_all = [*q[in_s], *s_edge]
    return max([0.0, *s_all]), max([0.0, *d_vals]), (min(s_all) if s_all else np.nan)


def _diastolic_samples(fwd: np.ndarray, ejecting: np.ndarray, v_m_s: np.ndarray) -> int:
    """Samples with forward flow plus those of every circular no-flow run (:func:`_no_flow_gaps`)
    without ejection that follows a forward wave of peak velocity ≥ the engine's
    TRACE_MIN_VELOCITY_M_S, except the run holding the beat's first no-flow sample."""
    from mitrasim.physiology.engine import TRACE_MIN_VELOCITY_M_S

    n = fwd.size
    if fwd.all():
        return n
    gap, wave = _no_flow_gaps(fwd), _no_flow_gaps(~fwd)  # circular no-flow runs; circular forward waves
    first = gap[int(np.argmax(~fwd))]
    count = int(fwd.sum())
    for g in np.unique(gap[gap >= 0]):
        idx = np.flatnonzero(gap == g)
        s0 = idx[fwd[idx - 1]]  # the gap's first sample: flow before it (idx − 1 wraps round at 0)
        if g == first or not s0.size or ejecting[idx].any():
            continue
        if v_m_s[wave == wave[s0[0] - 1]].max() >= TRACE_MIN_VELOCITY_M_S:  # the wave just before the gap
            count += idx.size  # a gap between two waves, inside diastole
    return count


def waveform_metrics(w: dict, *, period_s: float, eroa_cm2: float, mva_cm2: float, t_ventricular_s: float,
                     t_atrial_s: float) -> dict[str, float]:
    """The engine's beat metrics computed from sampled waveforms of one beat (rectangle rule).

    Same definitions as the compiled kernel: EDV/ESV = max/min LV volume; LVEDP = LV pressure at
    ventricular activation onset; forward SV = ∫Q_av; RVol = ∫Q_r; RF = RVol/(forward + RVol);
    v-wave = max LA pressure while no forward mitral flow; mean gradient = ∫(p_LA − p_LV) over
    forward flow divided by the diastolic duration (forward flow plus the zero-flow gaps without
    aortic ejection, i.e. diastasis); E = peak forward velocity between ventricular and atrial onset;
    pulmonary-vein S / D peaks = the largest forward (≥ 0) pulmonary-vein flow in systole (a gap in
    forward mitral flow with aortic ejection in it) / in diastole (forward mitral flow and the gaps
    without ejection), including its values where the forward orifice opens or shuts
    (``q_pvein_at_mv_switch_ml_s``, recorded at the reference's events); systolic reversal = a
    negative pulmonary-vein flow in systole, and that systolic minimum (:func:`_pv_windows`).
    """
    t = w["t_s"]
    dt = t[1] - t[0]
    T = period_s
    fwd = w["q_mv_ml_s"] > 0.0
    k_v = int(round(t_ventricular_s / dt)) % len(t)
    span = (t_atrial_s - t_ventricular_s) % T
    in_e = ((t - t_ventricular_s) % T) < span
    edv, esv = w["v_lv_ml"].max(), w["v_lv_ml"].min()
    fsv = w["q_av_ml_s"].sum() * dt
    rvol = w["q_mr_ml_s"].sum() * dt
    pv_s, pv_d, pv_min = _pv_windows(w, fwd, dt)
    return {
        "edv_ml": edv,
        "esv_ml": esv,
        "sv_ml": edv - esv,
        "ef_pct": 100 * (edv - esv) / edv,
        "forward_sv_ml": fsv,
        "rvol_ml": rvol,
        "rf_pct": 100 * rvol / (fsv + rvol) if fsv + rvol > 0 else 0.0,
        "co_l_min": fsv * 60 / T / 1000,
        "sbp_mmhg": w["p_ao_mmhg"].max(),
        "dbp_mmhg": w["p_ao_mmhg"].min(),
        "map_mmhg": w["p_ao_mmhg"].sum() * dt / T,
        "la_mean_mmhg": w["p_la_mmhg"].sum() * dt / T,
        "la_vwave_mmhg": w["p_la_mmhg"][~fwd].max() if (~fwd).any() else np.nan,
        "lvedp_mmhg": w["p_lv_mmhg"][k_v],
        "pa_mean_mmhg": w["p_pa_mmhg"].sum() * dt / T,
        "mean_gradient_mmhg": (w["p_la_mmhg"] - w["p_lv_mmhg"])[fwd].sum()
        / _diastolic_samples(fwd, w["q_av_ml_s"] > 0.0, w["q_mv_ml_s"] / mva_cm2 / 100.0)
        if fwd.any() else 0.0,
        "e_velocity_m_s": (w["q_mv_ml_s"][in_e].max() / mva_cm2 / 100) if in_e.any() else np.nan,
        "mr_vmax_m_s": w["q_mr_ml_s"].max() / eroa_cm2 / 100 if eroa_cm2 > 0 else 0.0,
        "pv_systolic_reversal": float(pv_min < 0.0),
        "pv_min_systolic_flow_ml_s": pv_min,
        "pv_s_peak_ml_s": pv_s,
        "pv_d_peak_ml_s": pv_d,
    }
