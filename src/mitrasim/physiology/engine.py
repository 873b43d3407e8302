r"""The compiled, batched circulation engine.

Map of the kernel
-----------------
Entry: :func:`mitrasim.physiology.dispatch.run_batch` picks a kernel per valve law (``orifice`` /
``diode``): the one-lane group kernel ``_run_group_1_*`` (one patient, or a few patients one after
another; see its docstring for when one patient runs in lane 0 of the LANES-lane kernel), or, for a
batch, the ``LANES``-lane group kernel ``_run_group_lanes_*`` on each contiguous run of whole blocks
and a ``REMAINDER_LANES``-lane ``_run_group_rem8_*``/``_run_group_rem4_*`` on a step-count segment's last few,
called from Python per work item, on several Python threads at once (the kernels release the GIL).
A group kernel (``run_group`` in :func:`_make_run_group`) works on L lanes (1, :data:`REMAINDER_LANES` or :data:`LANES`);
its work arrays are 1-D, row r of lane j at ``[r·L + j]``:

* ``X``: the state, rows :data:`~mitrasim.physiology.parameters.STATE_NAMES` (``S_*``: 4 chamber
  volumes, held above their unstressed volumes, V − V0, so that p = E(t)·X; 4 circuit pressures, 4 circuit flows, Q_f and Q_r of the mitral orifices);
  ``X0b``: X at the beat's start (residual, forward SV, Anderson); ``KS``: the first RK4 stage's
  slopes K1 (same rows as X), kept on beats with metrics (the accumulators read them);
* ``PB``: per-lane constants (``B_*``: dt, elastances, reciprocal capacitances and inertances,
  valve conductances, orifice Bernoulli and inertia terms, ventricular onset step and fraction, the
  early-filling window's length, the gradient trace's flow threshold); the right-hand side reads
  its constants as one tuple per lane (:func:`_lane_constants`, indices ``C_*``);
* ``act``: the chambers' elastances E(t) = E_B + E_A·φ(t) at every half step,
  ``act[(s2·4 + chamber)·L + j]`` at t = s2·dt/2, s2 = 0 … 2·n_steps (filled by :func:`_setup_lane`);
* ``A``: the beat accumulators (``A_*``; the rows from ``A_FOPEN`` on carry over between beats;
  the pulmonary-vein rows ``A_GMX`` … ``A_HST`` hold the current gap in forward mitral flow and
  the beat's first one);
* ``FH``/``GH``: Anderson rings of scaled residuals and beat ends, slot k (0 … ACCEL_MEMORY) of row r
  at ``(k·14 + r)·L + j``;
  per lane ``acnt``, ``abest`` (Anderson), ``lane_col`` (patient column), ``lane_beat``, ``active``.

In: ``P`` (KERNEL_PARAMS × n), ``X0`` (14 × n), ``e_window`` (2 × n: ventricular and atrial onset
in steps), solver settings, ``p0 … p1`` (the group's columns).  Out: ``metrics``
(:data:`METRIC_NAMES` × n), ``x_end`` (14 × n: the last beat's end state, for warm starts),
``waves`` (:data:`WAVE_NAMES` × n_steps × n, or n_steps = 0 for none).

Order: each lane takes a patient (:func:`_setup_lane`: state, ``PB``, ``act``; :func:`_start_samples`:
the samples its first step reads from a step before).  Per beat:
``X0b`` ← X, :func:`_reset_acc`; the beat has metrics if some lane may report it (its
``min_beats``-th beat or later).  Per step (elastance slices ``e0``, ``eh``, ``e1`` of its start,
middle, end; :func:`_store_waves` first, if asked): on a beat with metrics, and on the last step of
every beat (whose samples carry over into the next), K1 = :func:`_rhs` (X),
:func:`_volume_turns` (EDV/ESV between samples, before the previous sample is overwritten),
:func:`_accumulate` (metrics from the step's start), :func:`_rk4_rest` (K2 … K4 and the update,
one-way flows clamped at 0); on the other steps :func:`_rk4_step` (the whole step in one pass).
Both paths run the same arithmetic on the state (:func:`_slopes`, :func:`_rk4_stages`), so a
patient's numbers do not depend on which path its neighbours needed.
At the beat's end, per lane: residual max|X − X0b|/scale; steady (after ``min_beats``),
``max_beats`` or diverged → :func:`_finish` (metrics; if diverged all NaN but beats_to_steady, converged = 0) and the lane takes the
group's next patient (or goes idle); otherwise :func:`_anderson` (if ``accel``) sets the next start.

Equations (units mL, mmHg, s; Regazzoni et al. 2022, with mitrasim's mitral valve)
-------------------------------------------------------------------------------
Chambers ``c`` in LA, LV, RA, RV (time-varying elastance)::

    p_c = (E_B,c + E_A,c · φ_c(t)) · (V_c − V0_c)

Circuits ``k`` in sys_ar, sys_ven, pul_ar, pul_ven (C at the inlet, then R and L)::

    C_k · dp_k/dt = Q_in,k − Q_k
    L_k · dQ_k/dt = p_k − p_down,k − R_k · Q_k

Aortic, tricuspid and pulmonary valves are resistive diodes (the paper's)::

    Q = Δp / R,   R = R_min if Δp > 0 else R_max

The mitral valve (``Model.mitral == "orifice"``) is two one-way Bernoulli
orifices in parallel with inertance: the forward orifice of area ``mva_cm2``
(LA→LV) and the regurgitant orifice of area ``eroa_cm2`` (LV→LA)::

    L_f · dQ_f/dt = (p_LA − p_LV) − B_f · Q_f·|Q_f|     while Q_f > 0 or p_LA > p_LV, else Q_f = 0
    L_r · dQ_r/dt = (p_LV − p_LA) − B_r · Q_r·|Q_r|     while Q_r > 0 or p_LV > p_LA, else Q_r = 0
    B = 1 / (50.16 · A)²          (Q = 50.16 · A · sqrt(Δp): ρ = 1060 kg/m³, A in cm²)
    L = ρ · l_eff / A = 7.95e-4 · l_eff[cm] / A[cm²]   mmHg·s²/mL

so both flows are smooth states and EROA is used as a vena-contracta area (no
discharge coefficient).  With ``Model.mitral == "diode"`` the mitral valve is the
paper's resistive diode instead (Q_f = Δp/R, Q_r = 0).  Mass balance::

    dV_LA = Q_pul_ven − Q_f + Q_r        dV_LV = Q_f − Q_r − Q_av
    dV_RA = Q_sys_ven − Q_tv             dV_RV = Q_tv − Q_pv

Numerics
--------
Classical RK4 at a fixed step ``dt = T / n_steps`` (an even number of steps per
beat, at most ``dt_max_s``); a flow that would cross zero through a closed
one-way orifice is clamped at zero after each step (the switch is a first-order
event; the tests bound its error against an event-located Radau reference).
Activation curves are tabulated once per patient at the RK4 stage times, as the elastances
E_B + E_A·φ(t) the stages read; each step's stages read the table through slices indexed from 0
(an index with a run-time offset is tested for negative wraparound per lane and compiled to
gathers: half the speed).
Patients are processed in blocks of :data:`LANES` with the patient loop
innermost (structure of arrays) so the compiler vectorises across patients;
blocks run in parallel threads.  Each patient runs until the per-beat state
change, scaled per state (1 mL, 1 mmHg, 10 mL/s), is below ``tol`` (at least
``min_beats``, at most ``max_beats``) and its metrics are those of its last beat.
Between beats the start of the next beat is, by default, the Anderson-accelerated
combination of the last few beats (:data:`ACCEL_MEMORY`); every beat itself is plain
RK4, so the steady-state test and the metrics are those of a plain beat.

Per step and patient the kernel does four stages (the first reads the state alone), the
beat-metric accumulators and the update ``X += (dt/6)·(K1 + 2·K2 + 2·K3 + K4)``: about 429
floating-point operations on a beat with metrics and 378 without, counted by running this code on
a counting float (``benchmarks/flops.py``).  Stages 2–4 and the update run in one pass over the
lanes in which a lane's state, stage states, slopes and constants are scalars held in registers
(:func:`_slopes` and :func:`_rk4_stages` take and return tuples); on a beat without metrics the
first stage joins that pass.  The metric accumulators stay a separate pass: joined with the first
stage (one loop body holding the stage's slopes and about 30 accumulators) the loop ran slower.
Every compiled function, helpers included, takes the same flags (``_jit``): FMA contraction only
(:data:`FASTMATH`; an instruction keeps the flags of the function it was compiled in, so a helper
compiled without them would not fuse after inlining) and numpy's error model (a division by zero
gives inf/NaN, which the beat-end test reports as diverged, instead of raising).  There is one
kernel per lane count (1, :data:`REMAINDER_LANES`, :data:`LANES`) and mitral law, each compiled on its first use and cached;
small helpers are separate functions that LLVM inlines, and numba's own inlining (``_jit_inline``)
is kept for the hot loops and for the helpers that take only scalars and tuples: a function that
takes an array, inlined by numba inside a lane loop, leaves reference-count calls in the loop,
which then does not vectorise (stages 2–4 share one call site, and no array is assigned by slice,
whose shape-error path costs seconds to compile).

Precision (``SolverSettings.precision``): every kernel exists in float64 (the default and the reference) and in
float32 (opt-in): the same source compiled in :func:`_float32_namespace`, where the float type ``FLOAT`` and the
step loops' constants are float32, so the state, the stage slopes, ``PB``, ``act`` and ``A`` are float32 and every
operation of the step loops is (16 floats a 512-bit vector; :data:`LANES32` lanes a block); what stays float64 is
listed at :data:`PRECISIONS`.  The float64 kernels' arithmetic does not depend on it (the names stand for the
literals they replaced).

Metrics at the edges of a sampled window (the beat's samples are the steps' starts) use the
step's slopes instead of the nearest sample: LVEDP is extrapolated from the sample before
ventricular onset along dp/dt = E·dV/dt; the forward orifice's opening time is the linear
zero crossing of p_LA − p_LV; the pulmonary-vein flow at mitral opening or closing is
extrapolated to the switch time along a parabola (this sample's value and slope, the slope's change
since the sample before).  The mean gradient's duration gives every step of diastole to the
forward flow or to a gap: a step whose closing the slope located inside it but whose next sample still
flows is forward to its end (else a closing near a sample moved the duration by up to a step: 0.4 %).
Each metric is within 0.2 % of the Radau reference (``tests/test_physiology_engine.py``).
"""

from __future__ import annotations

import functools
import math
import types

import numpy as np
from numba import njit
from numba.core.dispatcher import Dispatcher

from mitrasim.physiology import _numba_cache  # noqa: F401  (installs the content-hashed cache locator)
from mitrasim.physiology.parameters import KP, N_STATE
from mitrasim.threads import engine_threads

#: Bernoulli constant in clinical units: Q [mL/s] = K_BERNOULLI · A [cm²] · sqrt(Δp [mmHg]).
K_BERNOULLI = 50.16
#: ρ·(1 cm)/(1 cm²) in mmHg·s²/mL: inertance of a 1 cm² orifice 1 cm long (ρ = 1060 kg/m³).
RHO_L_UNIT = 1060.0 * 0.01 / 1e-4 / 133.322 / 1e6

METRIC_NAMES = (
    "edv_ml", "esv_ml", "sv_ml", "ef_pct", "forward_sv_ml", "rvol_ml", "rf_pct", "co_l_min",
    "sbp_mmhg", "dbp_mmhg", "map_mmhg", "la_mean_mmhg", "la_vwave_mmhg", "lvedp_mmhg",
    "pa_mean_mmhg", "mean_gradient_mmhg", "e_velocity_m_s", "mr_vmax_m_s", "pv_systolic_reversal",
    "hr_bpm", "beats_to_steady",
    # extra, used by echo and tests
    "peak_mv_flow_ml_s", "peak_mr_flow_ml_s", "pv_min_systolic_flow_ml_s", "pv_s_peak_ml_s", "pv_d_peak_ml_s",
    "steady_residual", "converged",
)  # fmt: skip
N_METRIC = len(METRIC_NAMES)
#: A state beyond this magnitude (mL, mmHg, mL/s) means the integration diverged.
DIVERGED = 1e6
MI = {n: i for i, n in enumerate(METRIC_NAMES)}
_M_BEATS, _M_RES, _M_CONV = MI["beats_to_steady"], MI["steady_residual"], MI["converged"]

WAVE_NAMES = (
    "v_la_ml", "v_lv_ml", "p_la_mmhg", "p_lv_mmhg", "p_ao_mmhg", "p_pa_mmhg", "p_ra_mmhg", "p_rv_mmhg",
    "q_mv_ml_s", "q_mr_ml_s", "q_av_ml_s", "q_pvein_ml_s",
)  # fmt: skip
N_WAVE = len(WAVE_NAMES)

# state rows
S_VLA, S_VLV, S_VRA, S_VRV, S_PSA, S_PSV, S_PPA, S_PPV, S_QSA, S_QSV, S_QPA, S_QPV, S_QF, S_QR = range(14)
_STATE_SCALE = np.array([1.0] * 4 + [1.0] * 4 + [10.0] * 6)

# parameter rows (see parameters.KERNEL_PARAMS)
_P_T = KP["period_s"]
_P_CH = KP["la_ea_mmhg_ml"]  # 4 chambers x (ea, eb, v0)
_P_CIRC = KP["sys_ar_r_mmhg_s_ml"]  # 4 circuits x (r, c, l)
_P_VALVE = KP["av_rmin_mmhg_s_ml"]  # av, tv, pv, mv x (rmin, rmax)
_P_MVA = KP["mva_cm2"]
_P_EROA = KP["eroa_cm2"]
_P_LEFF = KP["mv_leff_cm"]
_P_ACT = KP["la_act_a"]  # 4 chambers x (a..f)


#: LLVM fast-math flags of the group kernels, chosen one by one: ``contract`` lets a multiply and
#: an add fuse into one FMA (one rounding instead of two).  Not ``nnan``/``ninf``: a diverged
#: state must stay NaN/inf so that the beat-end test catches it; not ``reassoc``/``arcp``: the
#: same expression must give the same bits in the one-lane and the vectorised kernels.
FASTMATH = frozenset({"contract"})
#: Every compiled function of the engine takes the same flags (helpers too: LLVM inlines them into the
#: kernels, and an instruction keeps the flags of the function it was compiled in).  ``nogil``: a
#: kernel called from Python releases the GIL while it runs, so two Python threads of one process
#: can each run the engine on its own batch while the other runs Python (a trial's chunks on two
#: threads: :mod:`mitrasim.cohort.trial`); it changes the call's wrapper, not the arithmetic.
_jit = njit(cache=True, nogil=True, fastmath=set(FASTMATH), error_model="numpy")
_jit_inline = njit(cache=True, nogil=True, fastmath=set(FASTMATH), error_model="numpy", inline="always")

#: The kernels' float type and the constants their step loops use, named so that one source serves both
#: precisions: in this module's namespace they are float64 (``FLOAT`` = ``np.float64``, the constants Python
#: floats, which numba types as float64 like the literals they stand for, so the float64 kernels are the same code
#: bit for bit); the float32 kernels (:data:`PRECISIONS`, :func:`_float32_namespace`) see them as ``np.float32``,
#: so no float64 literal promotes their arithmetic.  ``BIG`` seeds the running extremes (a seed never updated is
#: reported as no value: :data:`mitrasim.ranges.PLACEHOLDER_ABS`); float32's is ``inf`` (1e300 does not fit).
FLOAT = np.float64
ZERO, HALF, ONE, TWO, SIX = 0.0, 0.5, 1.0, 2.0, 6.0
BIG = 1e300

#: Patients per block in batches (the SIMD lane count of the compiled loops).
LANES = 16
#: Patients per block of the remainder kernels ``_run_group_rem8_*`` and ``_run_group_rem4_*``: a
#: step-count segment's last block, of r patients, runs on the smallest of them with at least r lanes
#: rather than on a block of :data:`LANES` mostly padding (:func:`mitrasim.physiology.dispatch.padded_width`).
#: Their lane loops vectorise only when LLVM's loop vectoriser accepts constant trip counts this short
#: (its default minimum is 16: below it a loop that needs run-time alias checks stays scalar, 3.3×
#: slower per lane and not bit-equal to the vector loops), so :mod:`~mitrasim.physiology.dispatch`
#: compiles the engine's kernels with ``-vectorizer-min-trip-count`` lowered to the smallest
#: (``dispatch.VECTORIZER_MIN_TRIP_COUNT``).
REMAINDER_LANES = (8, 4)
#: Patients per block of the float32 batch kernels: two 512-bit vectors of 16 floats, as the float64 kernels'
#: :data:`LANES` are two vectors of 8 doubles (16 float32 lanes, one vector a block, ran 1.15x slower:
#: benchmarks/RESULTS.md, s8-h23), and the lanes of their remainder kernels.
LANES32 = 32
REMAINDER_LANES32 = (16, 8)
#: The block lanes and the remainder kernels' lanes of each precision (:data:`PRECISIONS`).
BLOCK_LANES = {"float64": (LANES, REMAINDER_LANES), "float32": (LANES32, REMAINDER_LANES32)}

# Per-block work arrays are 1-D with row r of lane j at [r*L + j] (L lanes) and one
# array per role (state, stage slopes, parameters, accumulators), so the compiler's run-time alias
# checks pass and the patient loops run as SIMD code.
R_PB = 0
(B_DT, B_LA_EA, B_LA_EB, B_LA_V0, B_LV_EA, B_LV_EB, B_LV_V0, B_RA_EA, B_RA_EB, B_RA_V0, B_RV_EA, B_RV_EB, B_RV_V0,
 B_SA_R, B_SA_IC, B_SA_IL, B_SV_R, B_SV_IC, B_SV_IL, B_PA_R, B_PA_IC, B_PA_IL, B_PV_R, B_PV_IC, B_PV_IL,
 B_AV_GO, B_AV_GC, B_TV_GO, B_TV_GC, B_PUV_GO, B_PUV_GC, B_MV_GO, B_MV_GC,
 B_F_IB, B_F_G, B_R_IB, B_R_G, B_EWK, B_EWF, B_EWL, B_WTHR, B_IDT) = range(R_PB, R_PB + 42)  # fmt: skip
N_PB = 42
R_ACC = 0
(A_VMAX, A_VMIN, A_LVEDP, A_PMAX, A_PMIN, A_PINT, A_LAINT, A_LAV, A_PAINT, A_FWD, A_RVOL, A_GINT, A_GT, A_PVMIN,
 A_EPK, A_MRPK, A_MVPK, A_GAP, A_GEJ, A_WPK, A_PVS, A_PVD, A_GMX, A_GMN, A_HMX, A_HMN, A_HEJ, A_HST,
 A_FOPEN, A_DPP, A_VPREV, A_MPREV, A_KPVP) = range(R_ACC, R_ACC + 33)  # fmt: skip
N_ACC = 33  # A_FOPEN and after: they carry over from beat to beat (see _reset_acc)

#: Peak velocity (m/s) a forward wave needs for the Doppler trace of the mean gradient to run on
#: through the diastasis after it (model choice: a wave slower than this, e.g. a vestigial E wave
#: of a stiff, full ventricle, is not traced as an E wave; of the order of what a sonographer
#: would still recognise above the spectral wall filter).
TRACE_MIN_VELOCITY_M_S = 0.2


@_jit_inline
def _phi(t, kind, a, b, c, d, e, f, T):
    """Activation φ(t) in [0, 1] (t is wrapped into [0, T))."""
    if kind == 0:  # Regazzoni cosine: a = tC, b = TC, c = TR
        tt = (t - a) % T
        if tt < b:
            return 0.5 * (1.0 - math.cos(math.pi * tt / b))
        tt = (t - a - b) % T
        if tt < c:
            return 0.5 * (1.0 + math.cos(math.pi * tt / c))
        return 0.0
    # two-hill: a = shift, b = tau1, c = tau2, d = m1, e = m2, f = 1/max
    ts = (t - a) % T
    g1 = (ts / b) ** d
    g2 = (ts / c) ** e
    return f * g1 / (1.0 + g1) / (1.0 + g2)


@_jit
def _setup_lane(P, X0, ew, c, j, kind, n_steps, X, PB, act, L):
    """Lane j takes patient (column) c: initial state, derived parameters (reciprocals: no division
    in the loops) and activation table act[(s2·4 + chamber)·L + j] = φ at t = s2·dt/2."""
    for i in range(N_STATE):
        X[i * L + j] = X0[i, c]
    for i in range(4):  # a chamber's volume is held above its unstressed volume: p = E(t)·X
        X[i * L + j] -= P[_P_CH + 3 * i + 2, c]
    if P[_P_EROA, c] <= 0.0:  # no regurgitant orifice: no regurgitant flow (even from a warm start)
        X[S_QR * L + j] = 0.0
    T = P[_P_T, c]
    PB[B_DT * L + j] = T / n_steps
    PB[B_IDT * L + j] = n_steps / T  # 1/dt: the metrics' finite differences multiply by it (no division in the loops)
    for k in range(12):
        PB[(B_LA_EA + k) * L + j] = P[_P_CH + k, c]
    for k in range(4):
        PB[(B_SA_R + 3 * k) * L + j] = P[_P_CIRC + 3 * k, c]
        PB[(B_SA_IC + 3 * k) * L + j] = 1.0 / P[_P_CIRC + 3 * k + 1, c]
        PB[(B_SA_IL + 3 * k) * L + j] = 1.0 / P[_P_CIRC + 3 * k + 2, c]
    for k in range(4):
        PB[(B_AV_GO + 2 * k) * L + j] = 1.0 / P[_P_VALVE + 2 * k, c]
        PB[(B_AV_GC + 2 * k) * L + j] = 1.0 / P[_P_VALVE + 2 * k + 1, c]
    a_f = P[_P_MVA, c]
    a_r = P[_P_EROA, c]
    leff = P[_P_LEFF, c]
    PB[B_F_IB * L + j] = 1.0 / (K_BERNOULLI * a_f) ** 2
    PB[B_F_G * L + j] = a_f / (RHO_L_UNIT * leff)
    PB[B_R_IB * L + j] = 1.0 / (K_BERNOULLI * a_r) ** 2 if a_r > 0.0 else 0.0
    PB[B_R_G * L + j] = -a_r / (RHO_L_UNIT * leff) if a_r > 0.0 else 0.0  # negated: see _mitral_flows
    PB[B_EWK * L + j] = math.floor(ew[0, c])  # step of ventricular onset …
    PB[B_EWF * L + j] = ew[0, c] - math.floor(ew[0, c])  # … and its fraction of a step
    # the early-filling window's length in steps, rounded up: the step index it is compared with
    # (``_accumulate``) is a whole number, so k < ⌈w⌉ exactly when k < w, and a whole number keeps
    # that test exact in float32
    PB[B_EWL * L + j] = math.ceil((ew[1, c] - ew[0, c]) % n_steps)
    # forward flow whose orifice velocity Q/(K_BERNOULLI·A)·(K_BERNOULLI/100) m/s reaches TRACE_MIN_VELOCITY_M_S
    PB[B_WTHR * L + j] = TRACE_MIN_VELOCITY_M_S * 100.0 * a_f
    h = T / (2 * n_steps)
    for ch in range(4):
        b0 = _P_ACT + 6 * ch
        a, b, cc, d, e, f = P[b0, c], P[b0 + 1, c], P[b0 + 2, c], P[b0 + 3, c], P[b0 + 4, c], P[b0 + 5, c]
        # the table holds the elastance E(t) = E_B + E_A·φ(t): the stages read one number per chamber
        ea, eb = PB[(B_LA_EA + 3 * ch) * L + j], PB[(B_LA_EB + 3 * ch) * L + j]
        if kind == 0:
            _cosine_table(a, b, cc, T, h, 2 * n_steps + 1, ea, eb, act, ch, j, L)
        else:
            for s2 in range(2 * n_steps + 1):
                act[(s2 * 4 + ch) * L + j] = eb + ea * _phi(s2 * h, kind, a, b, cc, d, e, f, T)


@_jit
def _cosine_phase(s, h, a_m, T):
    """The cosine activation's phase at point s of the table (t = s·h), wrapped into [0, T) by
    comparisons (``a_m``: the contraction start, already in [0, T)); :func:`_phi` takes a modulo."""
    tt = s * h - a_m
    if tt < 0.0:
        tt += T
    if tt >= T:
        tt -= T
    return tt


@_jit
def _cosine_window(tt, b, c):
    """The window of phase tt: 1 contraction (tt < b), 2 relaxation (tt − b < c), 0 neither (as :func:`_phi`)."""
    return 1 if tt < b else (2 if tt - b < c else 0)


@_jit  # a call, not inlined: inlining it into the group kernel multiplies compile time
def _cosine_table(a, b, c, T, h, n_pts, ea, eb, act, ch, j, L):
    """The elastance E_B + E_A·φ(t) of the cosine activation (:func:`_phi`, kind 0) at t = s·h,
    s = 0 … n_pts − 1, into act[(s·4 + ch)·L + j].

    The same function as :func:`_phi` without its per-point modulo, cosine and window test: the
    points are taken in runs of one window (between two window edges or wraps of the phase, the
    end estimated from the phase at the run's start and checked at the run's end with the per-point
    test, :func:`_cosine_window` of :func:`_cosine_phase`, in which the phase only grows between
    wraps: every point gets the window that test gives it).  A run outside both windows is
    E_B; inside a window, cos of the phase θ_k = θ_0 + k·δ (δ = π·h/b, or π·h/c) comes from four
    independent rotations, point k from point k − 4 by the rotation through 4δ
    (cos 4δ, sin 4δ by double angles), the first four from exact cos θ_0, sin θ_0 by rotations
    through δ.  One rotation per point carried the whole run on one chain of multiply-adds
    (about 8 cycles a point); four chains take a quarter of that.  Rounding error below 1e-13 of
    E_A over a beat (``tests/test_physiology_engine.py``).
    """
    a_m = a % T
    half = 0.5 * ea
    st = 4 * L
    # a window of zero or negative length (an atrial relaxation squeezed out at a very high rate) is
    # never entered, as in _phi; its rotation is then unused
    rc, rs = (math.cos(math.pi * h / b), math.sin(math.pi * h / b)) if b > 0.0 else (1.0, 0.0)
    qc, qs = (math.cos(math.pi * h / c), math.sin(math.pi * h / c)) if c > 0.0 else (1.0, 0.0)
    s = 0
    while s < n_pts:
        tt = _cosine_phase(s, h, a_m, T)
        w = _cosine_window(tt, b, c)
        # the run ends at its window's edge or at the phase's wrap (where the contraction restarts)
        edge = min(b, T) if w == 1 else (min(b + c, T) if w == 2 else T)
        e = min(max(s + 1, s + int(math.ceil((edge - tt) / h))), n_pts)
        # the estimate is off by at most a point of rounding: back while its last point is past the
        # edge or a wrap, then on while the next point is inside (the phase grows until it wraps)
        while e - 1 > s and (_cosine_window(_cosine_phase(e - 1, h, a_m, T), b, c) != w or (
                _cosine_phase(e - 1, h, a_m, T) <= _cosine_phase(e - 2, h, a_m, T))):  # fmt: skip
            e -= 1
        while e < n_pts and _cosine_window(_cosine_phase(e, h, a_m, T), b, c) == w and (
                _cosine_phase(e, h, a_m, T) > _cosine_phase(e - 1, h, a_m, T)):  # fmt: skip
            e += 1
        base = (s * 4 + ch) * L + j
        m = e - s
        if w == 0:
            for k in range(m):
                act[base + k * st] = eb
            s = e
            continue
        # φ = 1/2 − cos θ/2 in the contraction (θ = π·tt/b), 1/2 + cos θ/2 in the relaxation (θ = π·(tt − b)/c)
        th, r1c, r1s, sg = (math.pi * tt / b, rc, rs, -half) if w == 1 else (math.pi * (tt - b) / c, qc, qs, half)
        c0, s0 = math.cos(th), math.sin(th)
        c1, s1 = c0 * r1c - s0 * r1s, s0 * r1c + c0 * r1s
        c2, s2 = c1 * r1c - s1 * r1s, s1 * r1c + c1 * r1s
        c3, s3 = c2 * r1c - s2 * r1s, s2 * r1c + c2 * r1s
        r2c, r2s = r1c * r1c - r1s * r1s, 2.0 * r1c * r1s
        r4c, r4s = r2c * r2c - r2s * r2s, 2.0 * r2c * r2s
        mid = eb + half
        k = 0
        while k + 4 <= m:
            act[base + k * st] = mid + sg * c0
            act[base + (k + 1) * st] = mid + sg * c1
            act[base + (k + 2) * st] = mid + sg * c2
            act[base + (k + 3) * st] = mid + sg * c3
            c0, s0 = c0 * r4c - s0 * r4s, s0 * r4c + c0 * r4s
            c1, s1 = c1 * r4c - s1 * r4s, s1 * r4c + c1 * r4s
            c2, s2 = c2 * r4c - s2 * r4s, s2 * r4c + c2 * r4s
            c3, s3 = c3 * r4c - s3 * r4s, s3 * r4c + c3 * r4s
            k += 4
        if k < m:
            act[base + k * st] = mid + sg * c0
        if k + 1 < m:
            act[base + (k + 1) * st] = mid + sg * c1
        if k + 2 < m:
            act[base + (k + 2) * st] = mid + sg * c2
        s = e


@_jit
def _diode(d, go, gc):
    """Resistive diode: Q = Δp·G, G = 1/R_min if Δp > 0 else 1/R_max (a select, no branch)."""
    return d * (go if d > 0.0 else gc)


# The right-hand side's per-lane constants as one tuple (:func:`_lane_constants`), loaded once per
# step and kept in registers across the four RK4 stages: unstressed volumes, circuits (R, 1/C, 1/L),
# valve conductances (open, closed: aortic, tricuspid, pulmonary, mitral diode), mitral orifices.
(C_SA_R, C_SA_IC, C_SA_IL, C_SV_R, C_SV_IC, C_SV_IL, C_PA_R, C_PA_IC, C_PA_IL, C_PV_R, C_PV_IC, C_PV_IL,
 C_AV_GO, C_AV_GC, C_TV_GO, C_TV_GC, C_PUV_GO, C_PUV_GC, C_MV_GO, C_MV_GC,
 C_F_IB, C_F_G, C_R_IB, C_R_G) = range(24)  # fmt: skip


@_jit
def _lane_constants(PB, j, L):
    """The right-hand side's constants of lane j (indices ``C_*``)."""
    return (PB[B_SA_R * L + j], PB[B_SA_IC * L + j], PB[B_SA_IL * L + j], PB[B_SV_R * L + j],
            PB[B_SV_IC * L + j], PB[B_SV_IL * L + j], PB[B_PA_R * L + j], PB[B_PA_IC * L + j],
            PB[B_PA_IL * L + j], PB[B_PV_R * L + j], PB[B_PV_IC * L + j], PB[B_PV_IL * L + j],
            PB[B_AV_GO * L + j], PB[B_AV_GC * L + j], PB[B_TV_GO * L + j], PB[B_TV_GC * L + j],
            PB[B_PUV_GO * L + j], PB[B_PUV_GC * L + j], PB[B_MV_GO * L + j], PB[B_MV_GC * L + j],
            PB[B_F_IB * L + j], PB[B_F_G * L + j], PB[B_R_IB * L + j], PB[B_R_G * L + j])  # fmt: skip


@_jit
def _state(X, j, L):
    """The 14 state values (or slopes) of lane j as a tuple, in state order."""
    return (X[S_VLA * L + j], X[S_VLV * L + j], X[S_VRA * L + j], X[S_VRV * L + j], X[S_PSA * L + j],
            X[S_PSV * L + j], X[S_PPA * L + j], X[S_PPV * L + j], X[S_QSA * L + j], X[S_QSV * L + j],
            X[S_QPA * L + j], X[S_QPV * L + j], X[S_QF * L + j], X[S_QR * L + j])  # fmt: skip


@_jit
def _axpy(x, h, k):
    """x + h·k for two 14-tuples (an RK4 stage state)."""
    return (x[0] + h * k[0], x[1] + h * k[1], x[2] + h * k[2], x[3] + h * k[3], x[4] + h * k[4], x[5] + h * k[5],
            x[6] + h * k[6], x[7] + h * k[7], x[8] + h * k[8], x[9] + h * k[9], x[10] + h * k[10],
            x[11] + h * k[11], x[12] + h * k[12], x[13] + h * k[13])  # fmt: skip


@_jit
def _pressures_flows(x, c, e_la, e_lv, e_ra, e_rv, diode):
    """Chamber pressures p = E(t)·(V − V0) and the valve flows of one lane at state ``x`` (a 14-tuple,
    whose chamber rows hold V − V0)
    with the chambers' elastances ``e_*`` at that time (the elastance table, :func:`_setup_lane`).

    Returns p_la, p_lv, p_ra, p_rv, q_av, q_tv, q_pv, and the mitral q_f, q_r (the orifice law's
    clamped states, or the diode's signed flow and 0) with the slopes dq_f/dt, dq_r/dt of the
    orifices' inertial states (0 for the diode).
    """
    p_la = e_la * x[S_VLA]
    p_lv = e_lv * x[S_VLV]
    p_ra = e_ra * x[S_VRA]
    p_rv = e_rv * x[S_VRV]
    q_av = _diode(p_lv - x[S_PSA], c[C_AV_GO], c[C_AV_GC])
    q_tv = _diode(p_ra - p_rv, c[C_TV_GO], c[C_TV_GC])
    q_pv = _diode(p_rv - x[S_PPA], c[C_PUV_GO], c[C_PUV_GC])
    d_mv = p_la - p_lv
    if diode:
        return p_la, p_lv, p_ra, p_rv, q_av, q_tv, q_pv, _diode(d_mv, c[C_MV_GO], c[C_MV_GC]), ZERO, ZERO, ZERO
    xf = x[S_QF]
    xr = x[S_QR]
    q_f = xf if xf > 0.0 else ZERO
    q_r = xr if xr > 0.0 else ZERO
    gf = (d_mv - q_f * q_f * c[C_F_IB]) * c[C_F_G]
    gr = (d_mv + q_r * q_r * c[C_R_IB]) * c[C_R_G]  # (−Δp − B·Q²)/L_r; C_R_G holds −1/L_r
    dqf = gf if ((xf > 0.0) | (d_mv > 0.0)) else ZERO
    dqr = gr if ((xr > 0.0) | (d_mv < 0.0)) else ZERO
    return p_la, p_lv, p_ra, p_rv, q_av, q_tv, q_pv, q_f, q_r, dqf, dqr


@_jit
def _slopes(x, c, e_la, e_lv, e_ra, e_rv, diode):
    """The right-hand side f(x) of one lane (arguments as :func:`_pressures_flows`): the 14 slopes
    in state order."""
    p_la, p_lv, p_ra, p_rv, q_av, q_tv, q_pv, q_f, q_r, dqf, dqr = _pressures_flows(x, c, e_la, e_lv, e_ra, e_rv, diode)
    p_sa, p_sv, p_pa, p_pv = x[S_PSA], x[S_PSV], x[S_PPA], x[S_PPV]
    q_sa, q_sv, q_pa, q_pn = x[S_QSA], x[S_QSV], x[S_QPA], x[S_QPV]
    return (
        q_pn - q_f + q_r,
        q_f - q_r - q_av,
        q_sv - q_tv,
        q_tv - q_pv,
        (q_av - q_sa) * c[C_SA_IC],
        (q_sa - q_sv) * c[C_SV_IC],
        (q_pv - q_pa) * c[C_PA_IC],
        (q_pa - q_pn) * c[C_PV_IC],
        (p_sa - p_sv - c[C_SA_R] * q_sa) * c[C_SA_IL],
        (p_sv - p_ra - c[C_SV_R] * q_sv) * c[C_SV_IL],
        (p_pa - p_pv - c[C_PA_R] * q_pa) * c[C_PA_IL],
        (p_pv - p_la - c[C_PV_R] * q_pn) * c[C_PV_IL],
        dqf,
        dqr,
    )


@_jit
def _observe(x, c, e_la, e_lv, e_ra, e_rv, diode):
    """Observables of one lane at state ``x``: p_la, p_lv, p_ra, p_rv, q_f (≥0), q_r (≥0), q_av."""
    p_la, p_lv, p_ra, p_rv, q_av, q_tv, q_pv, q_f, q_r, dqf, dqr = _pressures_flows(x, c, e_la, e_lv, e_ra, e_rv, diode)
    if diode:
        q_r = -q_f if q_f < 0.0 else ZERO
    q_f = q_f if q_f > 0.0 else ZERO
    return p_la, p_lv, p_ra, p_rv, q_f, q_r, q_av


@_jit_inline
def _rk4_stages(x, k1, c, dt, eh_la, eh_lv, eh_ra, eh_rv, e1_la, e1_lv, e1_ra, e1_rv, diode):
    """Stages 2–4 of one lane's RK4 step from its state ``x`` and first slope ``k1`` (14-tuples) and
    the elastances at the step's middle (``eh_*``) and end (``e1_*``); returns the new state::

        K2 = f(x + dt/2·K1),  K3 = f(x + dt/2·K2),  K4 = f(x + dt·K3)
        x ← x + dt/6·((K1 + 2·K2 + 2·K3) + K4),  then the one-way orifice flows clamped at zero.

    Scalars and tuples only: it inlines into the lane loops, where the stage states, the slopes
    and the lane's constants stay in registers.
    """
    h = HALF * dt
    k2 = _slopes(_axpy(x, h, k1), c, eh_la, eh_lv, eh_ra, eh_rv, diode)
    s = _axpy(k1, TWO, k2)  # the weighted sum K1 + 2·K2 + 2·K3 + K4, built as the stages come
    k3 = _slopes(_axpy(x, h, k2), c, eh_la, eh_lv, eh_ra, eh_rv, diode)
    s = _axpy(s, TWO, k3)  # (so that no stage's slopes stay live to the end: fewer register spills)
    k4 = _slopes(_axpy(x, dt, k3), c, e1_la, e1_lv, e1_ra, e1_rv, diode)
    w = dt / SIX
    return (
        x[0] + w * (s[0] + k4[0]),
        x[1] + w * (s[1] + k4[1]),
        x[2] + w * (s[2] + k4[2]),
        x[3] + w * (s[3] + k4[3]),
        x[4] + w * (s[4] + k4[4]),
        x[5] + w * (s[5] + k4[5]),
        x[6] + w * (s[6] + k4[6]),
        x[7] + w * (s[7] + k4[7]),
        x[8] + w * (s[8] + k4[8]),
        x[9] + w * (s[9] + k4[9]),
        x[10] + w * (s[10] + k4[10]),
        x[11] + w * (s[11] + k4[11]),
        max(x[12] + w * (s[12] + k4[12]), ZERO),
        max(x[13] + w * (s[13] + k4[13]), ZERO),
    )


@_jit
def _put(X, j, L, x):
    """Store the 14-tuple ``x`` as lane j's state (or slopes)."""
    X[S_VLA * L + j] = x[0]
    X[S_VLV * L + j] = x[1]
    X[S_VRA * L + j] = x[2]
    X[S_VRV * L + j] = x[3]
    X[S_PSA * L + j] = x[4]
    X[S_PSV * L + j] = x[5]
    X[S_PPA * L + j] = x[6]
    X[S_PPV * L + j] = x[7]
    X[S_QSA * L + j] = x[8]
    X[S_QSV * L + j] = x[9]
    X[S_QPA * L + j] = x[10]
    X[S_QPV * L + j] = x[11]
    X[S_QF * L + j] = x[12]
    X[S_QR * L + j] = x[13]


@_jit_inline
def _rhs(X, K, PB, e, diode, L):
    """K = f(X): the first RK4 stage of one block, kept for the beat metrics (``e``: the elastance
    table's slice at the step's start)."""
    for j in range(L):
        _put(K, j, L, _slopes(_state(X, j, L), _lane_constants(PB, j, L), e[j], e[L + j], e[2 * L + j], e[3 * L + j], diode))


@_jit_inline
def _rk4_rest(X, K1, PB, eh, e1, diode, L):
    """Stages 2–4 and the update of one block after :func:`_rhs` (K1 read back from memory)."""
    for j in range(L):
        _put(X, j, L, _rk4_stages(_state(X, j, L), _state(K1, j, L), _lane_constants(PB, j, L), PB[B_DT * L + j],
                                  eh[j], eh[L + j], eh[2 * L + j], eh[3 * L + j],
                                  e1[j], e1[L + j], e1[2 * L + j], e1[3 * L + j], diode))


@_jit_inline
def _rk4_step(X, PB, e0, eh, e1, diode, L):
    """A whole RK4 step of one block in one pass over the lanes (a beat without metrics: nothing
    but the state is read or written)."""
    for j in range(L):
        x = _state(X, j, L)
        c = _lane_constants(PB, j, L)
        k1 = _slopes(x, c, e0[j], e0[L + j], e0[2 * L + j], e0[3 * L + j], diode)
        _put(X, j, L, _rk4_stages(x, k1, c, PB[B_DT * L + j], eh[j], eh[L + j], eh[2 * L + j], eh[3 * L + j],
                                  e1[j], e1[L + j], e1[2 * L + j], e1[3 * L + j], diode))


@_jit
def _elastances(act, s2, j, L):
    """The four chambers' elastances of lane j at table point s2 (t = s2·dt/2)."""
    return act[(s2 * 4) * L + j], act[(s2 * 4 + 1) * L + j], act[(s2 * 4 + 2) * L + j], act[(s2 * 4 + 3) * L + j]


@_jit
def _start_samples(X, PB, act, A, j, L, diode):
    """The carried samples a lane's first beat reads at its first step (see :func:`_accumulate`), set
    at the lane's start: the valve state (A_FOPEN) and p_LA − p_LV (A_DPP) of the start itself (no
    valve edge in the first step), and no slope (A_MPREV = 0: no volume turn in the first step; on
    a lane's first beat :func:`_finish` takes the turn in the beat's last step instead).

    On every later beat the last step of the beat before sets them; the sample before a lane's
    start is not known (one RK4 step back cannot recover a one-way flow clamped at 0 in it).
    """
    x = _state(X, j, L)
    e = _elastances(act, 0, j, L)
    p_la, p_lv, p_ra, p_rv, q_f, q_r, q_av = _observe(x, _lane_constants(PB, j, L), e[0], e[1], e[2], e[3], diode)
    A[A_FOPEN * L + j] = 1.0 if q_f > 0.0 else 0.0
    A[A_DPP * L + j] = p_la - p_lv
    A[A_VPREV * L + j] = x[S_VLV]
    A[A_MPREV * L + j] = 0.0
    A[A_KPVP * L + j] = 0.0  # the vein flow's slope at the sample before: read only at a valve edge, which the first step has none of


@_jit
def _hermite_extremum(vp, mp, vc, mc, h):
    """Extreme value of the cubic Hermite interpolant of (value, slope) = (vp, mp) at τ = 0 and
    (vc, mc) at τ = h, where the slope changes sign inside (mp·mc < 0): its derivative
    A·s² + B·s + C (s = τ/h) has exactly one root in (0, 1), found in the cancellation-free form."""
    hp = h * mp
    hc = h * mc
    a = 6.0 * (vp - vc) + 3.0 * (hp + hc)
    b = 6.0 * (vc - vp) - 4.0 * hp - 2.0 * hc
    c = hp
    q = -0.5 * (b + math.copysign(math.sqrt(max(b * b - 4.0 * a * c, 0.0)), b))
    s1 = c / q
    s = s1 if ((s1 >= 0.0) & (s1 <= 1.0)) else q / a
    s = min(max(s, 0.0), 1.0)
    s2 = s * s
    s3 = s2 * s
    return (2.0 * s3 - 3.0 * s2 + 1.0) * vp + (s3 - 2.0 * s2 + s) * hp + (3.0 * s2 - 2.0 * s3) * vc + (s3 - s2) * hc


@_jit_inline
def _volume_turns(X, K, PB, A, L):
    """EDV / ESV between samples: where dV_LV/dt changed sign since the previous sample, the extreme
    of the cubic Hermite interpolant of (V, dV/dt) at the two samples joins the beat's extremes (a
    sampled maximum is first order where the volume turns sharply: regurgitation starting at
    onset).  A lane loop with a branch, run before :func:`_accumulate` overwrites the previous
    sample: the turn happens twice a beat, so the interpolant stays out of the vector code."""
    n_turn = ZERO
    for j in range(L):  # vector code: does any lane turn?
        n_turn += ONE if A[A_MPREV * L + j] * K[S_VLV * L + j] < 0.0 else ZERO
    if n_turn == 0.0:
        return
    for j in range(L):
        mp = A[A_MPREV * L + j]
        mc = K[S_VLV * L + j]
        if (mp > 0.0 and mc < 0.0) or (mp < 0.0 and mc > 0.0):
            v = _hermite_extremum(A[A_VPREV * L + j], mp, X[S_VLV * L + j], mc, PB[B_DT * L + j])
            A[A_VMAX * L + j] = max(A[A_VMAX * L + j], v)
            A[A_VMIN * L + j] = min(A[A_VMIN * L + j], v)


@_jit_inline
def _accumulate(X, K, PB, e, step, diode, n_steps, A, L):
    """Running beat metrics from the state X (and its slope K) at the start of the step.

    Rectangle rule (K, the slope at X, is passed for metrics that need it); ``e``: the elastance
    table's slice at the step's start.
    """
    for j in range(L):
        p_la, p_lv, p_ra, p_rv, q_f, q_r, q_av = _observe(
            _state(X, j, L), _lane_constants(PB, j, L), e[j], e[L + j], e[2 * L + j], e[3 * L + j], diode)
        dt = PB[B_DT * L + j]
        vlv = X[S_VLV * L + j]
        pao = X[S_PSA * L + j]
        ppa = X[S_PPA * L + j]
        qpn = X[S_QPV * L + j]
        vmax = A[A_VMAX * L + j]
        edp = A[A_LVEDP * L + j]
        lav = A[A_LAV * L + j]
        pvmin = A[A_PVMIN * L + j]
        A[A_VPREV * L + j] = vlv  # for _volume_turns at the next sample
        A[A_MPREV * L + j] = K[S_VLV * L + j]
        up = vlv > vmax
        fwd = q_f > 0.0
        k = step - PB[B_EWK * L + j]
        k = k + n_steps if k < 0.0 else k
        frac = PB[B_EWF * L + j]
        in_e = k < PB[B_EWL * L + j]
        # LVEDP: LV pressure at ventricular onset, extrapolated from the sample before it along its
        # slope dp/dt = E(t)·dV/dt (the activation is flat before onset; p_lv has a kink at onset,
        # so interpolating across it would be first order)
        e_lv = e[L + j]
        A[A_LVEDP * L + j] = p_lv + frac * dt * e_lv * K[S_VLV * L + j] if k == 0.0 else edp
        A[A_VMAX * L + j] = vlv if up else vmax
        A[A_VMIN * L + j] = min(A[A_VMIN * L + j], vlv)
        A[A_PMAX * L + j] = max(A[A_PMAX * L + j], pao)
        A[A_PMIN * L + j] = min(A[A_PMIN * L + j], pao)
        A[A_PINT * L + j] += pao * dt
        A[A_LAINT * L + j] += p_la * dt
        A[A_PAINT * L + j] += ppa * dt
        A[A_FWD * L + j] += X[S_QSA * L + j] * dt  # smooth; aortic valve flow = this + C·Δp over the beat
        A[A_RVOL * L + j] += q_r * dt
        # mean gradient over diastole, as the Doppler trace from the onset of E to the end of A:
        # numerator ∫B·Q² (the Doppler 4v², equal to ∫(p_LA − p_LV) over forward flow because the
        # inertial term integrates to zero; zero at the flow's edges); duration = the forward-flow
        # time, edges located inside the step (opening: Q ∝ τ², so τ = 2Q/Q'; closing: linear,
        # τ = −Q/Q'), plus every zero-flow gap inside diastole (diastasis between E and A: a gap
        # with no aortic ejection since the valve closed, after a wave of peak velocity
        # ≥ TRACE_MIN_VELOCITY_M_S; 4v² = 0 there but the trace spans it)
        dq = K[S_QF * L + j]
        was_open = A[A_FOPEN * L + j] > 0.0
        r = q_f / dq  # one division (used only where dq ≠ 0)
        t_close = min(dt, -r) if dq < 0.0 else dt
        # opening: the forward flow starts where p_LA − p_LV turns positive, linearly interpolated
        # between the previous sample and this one (orifice: else Q ∝ τ², τ = 2Q/Q').  A diode
        # also closes where p_LA − p_LV turns negative: at the first sample after it, the step
        # counted as forward is cut back to that crossing (t_cut)
        d_mv = p_la - p_lv
        d_prev = A[A_DPP * L + j]
        t_cross = dt * d_mv / (d_mv - d_prev)  # time since p_LA − p_LV crossed 0 (used only where it did)
        t_open = t_cross if ((d_prev < 0.0) & (d_mv > 0.0)) else (min(dt, TWO * r) if dq > 0.0 else ZERO)
        A[A_DPP * L + j] = d_mv
        t_cut = ZERO
        if diode:
            t_close = dt
            t_open = t_cross if ((d_prev < 0.0) & (d_mv > 0.0)) else ZERO
            t_cut = t_cross if (was_open & (not fwd) & (d_prev > 0.0) & (d_mv <= 0.0)) else ZERO
        gap = A[A_GAP * L + j] + t_cut  # time since the forward flow stopped
        # a step whose closing was located inside it (t_close < dt) but whose next sample (this one)
        # still has forward flow was forward to its end: its remainder (gap) joins the forward time
        # (else it would count as neither forward flow nor gap, and where the closing falls near a
        # step edge the duration would jump by up to a step)
        wt_orif = t_close + (gap if was_open else t_open)
        wpk = A[A_WPK * L + j]  # peak flow of the last forward wave
        seen = wpk >= PB[B_WTHR * L + j]
        gej = A[A_GEJ * L + j]  # aortic ejection since the forward flow stopped (before this sample)
        dia_gap = (gap - t_open) if ((not was_open) & (gej == 0.0) & (gap > t_open) & seen) else ZERO
        g_orif = q_f * q_f * PB[B_F_IB * L + j]
        A[A_GINT * L + j] += ((p_la - p_lv) * dt if diode else g_orif * dt) if fwd else ZERO
        A[A_GT * L + j] += (wt_orif + dia_gap) if fwd else -t_cut
        A[A_GAP * L + j] = (dt - t_close) if fwd else gap + dt
        A[A_GEJ * L + j] = ZERO if fwd else (ONE if ((gej > 0.0) | (q_av > 0.0)) else ZERO)
        A[A_WPK * L + j] = (max(wpk, q_f) if was_open else q_f) if fwd else wpk
        A[A_FOPEN * L + j] = ONE if fwd else ZERO
        A[A_EPK * L + j] = max(A[A_EPK * L + j], q_f if in_e else ZERO)
        A[A_LAV * L + j] = lav if fwd else max(lav, p_la)
        # peak forward pulmonary-vein flow in systole (the S wave) and in diastole (the D wave); 0
        # when the flow is never forward there.  Systole = a gap in the forward mitral flow with
        # aortic ejection in it (A_GEJ); a gap without ejection (the diastasis between E and A) is
        # diastole.  The gap's extremes (A_GMX, A_GMN) are kept apart and committed to S (and to
        # the systolic minimum A_PVMIN) or to D when the valve opens; the first gap of a beat that
        # began in a gap is held (A_HMX, A_HMN, A_HEJ; A_HST: 1 in it, 2 held) and joined with the
        # beat's open last gap in _finish (one gap across the beat boundary).  The flow at the
        # valve's opening or closing inside the step (where the S wave often peaks: pulmonary-vein
        # flow still rising at mitral opening) belongs to D and to the gap (its maximum and minimum):
        # extrapolated back from this sample to the switch time, b = t_open after opening and gap
        # after closing, on the parabola of this sample's value and slope and the slope's change since
        # the previous sample (q'' ≈ (K − K_prev)/dt: error O(dt³), where the slope alone leaves
        # q''·b²/2, which put a minimum at mitral closing 0.3 % of the wave off at 4 ms):
        #   q_edge = q − b·K + b²/2·(K − K_prev)/dt
        edge = fwd != was_open
        kpv = K[S_QPV * L + j]
        b = t_open if fwd else gap
        q_edge = qpn - b * (kpv - HALF * b * (kpv - A[A_KPVP * L + j]) * PB[B_IDT * L + j])
        A[A_KPVP * L + j] = kpv
        qe = q_edge if edge else ZERO
        gmx = max(A[A_GMX * L + j], qe)
        gmn = min(A[A_GMN * L + j], q_edge if edge else BIG)
        opening = fwd & (not was_open)
        head = opening & (A[A_HST * L + j] == 1.0)
        commit = opening & (A[A_HST * L + j] != 1.0)
        sys_gap = gej > 0.0  # the ending gap had aortic ejection
        A[A_PVS * L + j] = max(A[A_PVS * L + j], gmx) if (commit & sys_gap) else A[A_PVS * L + j]
        A[A_PVMIN * L + j] = min(pvmin, gmn) if (commit & sys_gap) else pvmin
        pvd = max(A[A_PVD * L + j], qe)
        pvd = max(pvd, gmx) if (commit & (not sys_gap)) else pvd
        A[A_PVD * L + j] = max(pvd, qpn) if fwd else pvd
        A[A_HMX * L + j] = gmx if head else A[A_HMX * L + j]
        A[A_HMN * L + j] = gmn if head else A[A_HMN * L + j]
        A[A_HEJ * L + j] = (ONE if sys_gap else ZERO) if head else A[A_HEJ * L + j]
        A[A_HST * L + j] = TWO if head else A[A_HST * L + j]
        A[A_GMX * L + j] = ZERO if fwd else max(gmx, qpn)
        A[A_GMN * L + j] = BIG if fwd else min(gmn, qpn)
        A[A_MRPK * L + j] = max(A[A_MRPK * L + j], q_r)
        A[A_MVPK * L + j] = max(A[A_MVPK * L + j], q_f)


@_jit
def _reset_acc(A, L):
    """Start a beat: zero the sums and extremes (the forward-flow flag carries over)."""
    for m in range(A_FOPEN * L):
        A[m] = ZERO
    for j in range(L):
        A[A_VMAX * L + j] = -BIG
        A[A_VMIN * L + j] = BIG
        A[A_PMAX * L + j] = -BIG
        A[A_PMIN * L + j] = BIG
        A[A_LAV * L + j] = -BIG
        A[A_PVMIN * L + j] = BIG
        A[A_GMN * L + j] = BIG
        A[A_HMN * L + j] = BIG
        A[A_HST * L + j] = ZERO if A[A_FOPEN * L + j] > 0.0 else ONE  # the beat starts in a gap


#: Anderson acceleration of the beat-to-beat map (``SolverSettings.accelerate``).  The map
#: x ↦ Φ(x) (state at the start of a beat ↦ state one beat later) converges linearly, with
#: real eigenvalues of about 0.87, 0.70 and 0.43 besides the neutral 1 of the conserved blood
#: volume (finite-difference Jacobians of the shipped presets), so plain iteration needs 50–200
#: beats.  With residuals f = (Φ(x) − x)/scale of the last ACCEL_MEMORY + 1 beats, the next start is
#: the affine combination x = Φ(x_k) − Σ γ_i (Φ(x_k) − Φ(x_i)) with γ the least-squares solution of
#: min ‖f_k − Σ γ_i (f_k − f_i)‖ (Anderson 1965; Walker & Ni 2011, "type II"), which removes
#: the slow modes together; 8–12 beats reach the steady-state test from cold or warm starts.
#: Every beat is still a plain beat from its start, and a patient is steady only when such a beat
#: changes it by less than ``tol`` (the same test as without acceleration).  Safeguards: a start
#: with a non-positive chamber volume, or a residual more than ACCEL_RESTART_GROWTH times the
#: smallest one seen, restarts the history from the plain beat; one-way flows are clamped at 0.
#: An affine combination keeps the conserved total blood volume.
ACCEL_MEMORY = 3
if ACCEL_MEMORY != 3:  # pragma: no cover
    raise ImportError("engine._anderson solves the normal equations of exactly 3 columns, written out: ACCEL_MEMORY must be 3")
ACCEL_RESTART_GROWTH = 4.0
#: Tikhonov regularisation of the normal equations, relative to their trace.
ACCEL_REG = 1e-10


@_jit
def _ring_slots(k, m, M1):
    """The first m of the Anderson ring's slots other than k, in slot order (k for a column not used)."""
    c0 = k
    c1 = k
    c2 = k
    c = 0
    for s in range(M1):
        if s != k and c < m:
            if c == 0:
                c0 = s
            elif c == 1:
                c1 = s
            else:
                c2 = s
            c += 1
    return c0, c1, c2


@_jit  # a call, not inlined: inlining it into the group kernel multiplies compile time
def _anderson(X, X0b, FH, GH, cnt, best, PB, j, L):
    """One Anderson step for lane j: X (the end of the plain beat from X0b) becomes the next start.

    FH, GH: ((ACCEL_MEMORY + 1)·14·L) rings of scaled residuals and beat ends; cnt[j] pairs
    stored so far (slot = cnt % (ACCEL_MEMORY + 1)); best[j] the smallest residual norm seen.
    The m ≤ ACCEL_MEMORY = 3 columns' normal equations are summed in one pass over the states and
    solved by a Cholesky factor written out in scalars (the arithmetic of a loop over m, in the
    same order, so the same bits; about half the time of loops over a scratch matrix).
    """
    M1 = ACCEL_MEMORY + 1
    k = cnt[j] % M1
    nrm = 0.0
    for i in range(N_STATE):
        d = (X[i * L + j] - X0b[i * L + j]) / _STATE_SCALE[i]
        FH[(k * N_STATE + i) * L + j] = d
        GH[(k * N_STATE + i) * L + j] = X[i * L + j]
        nrm += d * d
    if cnt[j] > 0 and nrm > (ACCEL_RESTART_GROWTH * ACCEL_RESTART_GROWTH) * best[j]:
        cnt[j] = 0  # diverging from the history: start it again from this plain beat (in slot 0)
        if k != 0:
            for i in range(N_STATE):
                FH[i * L + j] = FH[(k * N_STATE + i) * L + j]
                GH[i * L + j] = GH[(k * N_STATE + i) * L + j]
            k = 0
    if cnt[j] == 0 or nrm < best[j]:
        best[j] = nrm
    cnt[j] += 1
    m = min(cnt[j], M1) - 1  # columns: the stored pairs other than the newest
    if m == 0:
        return
    c0, c1, c2 = _ring_slots(k, m, M1)
    b0 = 0.0
    b1 = 0.0
    b2 = 0.0
    a00 = 0.0
    a01 = 0.0
    a02 = 0.0
    a11 = 0.0
    a12 = 0.0
    a22 = 0.0
    for i in range(N_STATE):
        fk = FH[(k * N_STATE + i) * L + j]
        d0 = fk - FH[(c0 * N_STATE + i) * L + j]
        d1 = fk - FH[(c1 * N_STATE + i) * L + j]
        d2 = fk - FH[(c2 * N_STATE + i) * L + j]
        b0 += d0 * fk
        b1 += d1 * fk
        b2 += d2 * fk
        a00 += d0 * d0
        a01 += d0 * d1
        a02 += d0 * d2
        a11 += d1 * d1
        a12 += d1 * d2
        a22 += d2 * d2
    tr = a00
    if m > 1:
        tr += a11
    if m > 2:
        tr += a22
    if not (tr > 0.0):
        return
    a00 += ACCEL_REG * tr
    a11 += ACCEL_REG * tr
    a22 += ACCEL_REG * tr
    # Cholesky factor l of the m × m system and the solve, m ≤ 3 (unused entries stay out)
    if not (a00 > 0.0):
        return
    l00 = math.sqrt(a00)
    l10 = a01 / l00
    l20 = a02 / l00
    l11 = 1.0
    l21 = 0.0
    l22 = 1.0
    if m > 1:
        a11 -= l10 * l10
        if not (a11 > 0.0):
            return
        l11 = math.sqrt(a11)
        a12 -= l20 * l10
        l21 = a12 / l11
    if m > 2:
        a22 -= l20 * l20
        a22 -= l21 * l21
        if not (a22 > 0.0):
            return
        l22 = math.sqrt(a22)
    y0 = b0 / l00
    y1 = 0.0
    y2 = 0.0
    if m > 1:
        y1 = (b1 - l10 * y0) / l11
    if m > 2:
        y2 = ((b2 - l20 * y0) - l21 * y1) / l22
    g2 = y2 / l22 if m > 2 else 0.0
    g1 = 0.0
    if m > 1:
        g1 = y1
        if m > 2:
            g1 -= l21 * g2
        g1 /= l11
    g0 = y0
    if m > 1:
        g0 -= l10 * g1
    if m > 2:
        g0 -= l20 * g2
    g0 /= l00
    # x = g_k − Σ γ_p (g_k − g_p), kept only if every chamber volume stays positive (an unused
    # column: γ = 0 and g_k − g_k = 0, which leaves x as it is)
    ok = True
    for i in range(4):
        gk = GH[(k * N_STATE + i) * L + j]
        x = gk
        x -= g0 * (gk - GH[(c0 * N_STATE + i) * L + j])
        x -= g1 * (gk - GH[(c1 * N_STATE + i) * L + j])
        x -= g2 * (gk - GH[(c2 * N_STATE + i) * L + j])
        if not (x + PB[(B_LA_V0 + 3 * i) * L + j] > 0.0):  # X holds V − V0
            ok = False
    if not ok:
        cnt[j] = 0
        return
    for i in range(N_STATE):
        gk = GH[(k * N_STATE + i) * L + j]
        x = gk
        x -= g0 * (gk - GH[(c0 * N_STATE + i) * L + j])
        x -= g1 * (gk - GH[(c1 * N_STATE + i) * L + j])
        x -= g2 * (gk - GH[(c2 * N_STATE + i) * L + j])
        X[i * L + j] = x
    X[S_QF * L + j] = max(X[S_QF * L + j], 0.0)
    X[S_QR * L + j] = max(X[S_QR * L + j], 0.0)


@_jit
def _pv_windows(A, j, L):
    """Systolic minimum, S peak and D peak of the pulmonary-vein flow of lane j at the beat's end,
    with the gaps in forward mitral flow not yet committed by :func:`_accumulate`: the beat's open
    last gap and its held first gap are one gap across the beat boundary (a periodic beat's end is
    its start), systolic if aortic ejection occurred in either part; a gap spanning the whole beat
    (no forward flow) is the open gap alone."""
    pvmin, pvs, pvd = A[A_PVMIN * L + j], A[A_PVS * L + j], A[A_PVD * L + j]
    tail = A[A_FOPEN * L + j] == 0.0  # the beat ends in a gap
    held = A[A_HST * L + j] == 2.0
    if not (tail or held):
        return pvmin, pvs, pvd
    gmx, gmn, ej = -1e300, 1e300, False
    if tail:
        gmx, gmn, ej = A[A_GMX * L + j], A[A_GMN * L + j], A[A_GEJ * L + j] > 0.0
    if held:
        gmx, gmn = max(gmx, A[A_HMX * L + j]), min(gmn, A[A_HMN * L + j])
        ej = ej or A[A_HEJ * L + j] > 0.0
    if ej:
        return min(pvmin, gmn), max(pvs, gmx), pvd
    return pvmin, pvs, max(pvd, gmx)


@_jit
def _finish(A, X, X0b, P, PB, act, n_steps, c, j, beat, res, conv, diode, metrics, x_end, L):
    """Beat metrics of lane j (patient column c) from its accumulators.

    Forward stroke volume = ∫Q_av dt over the beat, computed by mass balance of the systemic
    arterial compartment as ∫Q_sys_ar dt + C_sys_ar·Δp_sys_ar (a smooth integrand, so the
    rectangle rule is accurate where Q_av's valve edges are not).

    EDV and ESV: a beat takes the volume turn between the beat before's last sample and its own
    start in its first step (:func:`_volume_turns`); a lane's first beat has no beat before, and
    takes the turn in its own last step instead (from its last sample to its end, with the slope
    at the end): the same interval of a periodic beat, so a first beat from a steady start reports
    the steady beat's EDV.
    """
    T = P[_P_T, c]
    vmax, vmin = A[A_VMAX * L + j], A[A_VMIN * L + j]
    if beat == 1:
        e = _elastances(act, 2 * n_steps, j, L)
        mc = _slopes(_state(X, j, L), _lane_constants(PB, j, L), e[0], e[1], e[2], e[3], diode)[S_VLV]
        mp = A[A_MPREV * L + j]
        if (mp > 0.0 and mc < 0.0) or (mp < 0.0 and mc > 0.0):
            v = _hermite_extremum(A[A_VPREV * L + j], mp, X[S_VLV * L + j], mc, PB[B_DT * L + j])
            vmax = max(vmax, v)
            vmin = min(vmin, v)
    # the beat's window is closed: its end state (= the start of a periodic beat) counts too
    v0_lv = P[_P_CH + 5, c]  # the kernel's volumes are above V0
    edv = max(vmax, X[S_VLV * L + j]) + v0_lv
    esv = min(vmin, X[S_VLV * L + j]) + v0_lv
    fwd = A[A_FWD * L + j] + P[_P_CIRC + 1, c] * (X[S_PSA * L + j] - X0b[S_PSA * L + j])
    rvol = A[A_RVOL * L + j]
    # the forward time's last remainder (see _accumulate): the last step's closing was located inside it
    # but the end state (the next beat's first sample) still has forward flow
    gt = A[A_GT * L + j] + (A[A_GAP * L + j] if (A[A_FOPEN * L + j] > 0.0 and X[S_QF * L + j] > 0.0) else 0.0)
    metrics[0, c] = edv
    metrics[1, c] = esv
    metrics[2, c] = edv - esv
    metrics[3, c] = 100.0 * (edv - esv) / edv
    metrics[4, c] = fwd
    metrics[5, c] = rvol
    metrics[6, c] = 100.0 * rvol / (fwd + rvol) if fwd + rvol > 0.0 else 0.0
    metrics[7, c] = fwd * 60.0 / T / 1000.0
    metrics[8, c] = A[A_PMAX * L + j]
    metrics[9, c] = A[A_PMIN * L + j]
    metrics[10, c] = A[A_PINT * L + j] / T
    metrics[11, c] = A[A_LAINT * L + j] / T
    metrics[12, c] = A[A_LAV * L + j]
    metrics[13, c] = A[A_LVEDP * L + j]
    metrics[14, c] = A[A_PAINT * L + j] / T
    metrics[15, c] = A[A_GINT * L + j] / gt if gt > 0.0 else 0.0
    if diode:
        metrics[16, c] = math.nan
        metrics[17, c] = math.nan
    else:
        metrics[16, c] = A[A_EPK * L + j] / P[_P_MVA, c] / 100.0
        ea = P[_P_EROA, c]
        metrics[17, c] = A[A_MRPK * L + j] / ea / 100.0 if ea > 0.0 else 0.0
    pvmin, pvs, pvd = _pv_windows(A, j, L)
    metrics[18, c] = 1.0 if pvmin < 0.0 else 0.0
    metrics[19, c] = 60.0 / T
    metrics[20, c] = beat
    metrics[21, c] = A[A_MVPK * L + j]
    metrics[22, c] = A[A_MRPK * L + j]
    metrics[23, c] = pvmin
    metrics[24, c] = pvs
    metrics[25, c] = pvd
    metrics[_M_RES, c] = res
    metrics[_M_CONV, c] = 1.0 if conv else 0.0
    for i in range(N_STATE):
        x_end[i, c] = X[i * L + j] + (P[_P_CH + 3 * i + 2, c] if i < 4 else 0.0)


@_jit
def _store_waves(X, PB, e, diode, active, lane_col, step, waves, L):
    for j in range(L):
        if active[j]:
            c = lane_col[j]
            p_la, p_lv, p_ra, p_rv, q_f, q_r, q_av = _observe(
                _state(X, j, L), _lane_constants(PB, j, L), e[j], e[L + j], e[2 * L + j], e[3 * L + j], diode)
            waves[0, step, c] = X[S_VLA * L + j] + PB[B_LA_V0 * L + j]
            waves[1, step, c] = X[S_VLV * L + j] + PB[B_LV_V0 * L + j]
            waves[2, step, c] = p_la
            waves[3, step, c] = p_lv
            waves[4, step, c] = X[S_PSA * L + j]
            waves[5, step, c] = X[S_PPA * L + j]
            waves[6, step, c] = p_ra
            waves[7, step, c] = p_rv
            waves[8, step, c] = q_f
            waves[9, step, c] = q_r
            waves[10, step, c] = q_av
            waves[11, step, c] = X[S_QPV * L + j]


#: The kernels' float types (``SolverSettings.precision``): ``"float64"``, every result's reference, and
#: ``"float32"``, the same kernels with the state, the stage slopes, the lane constants ``PB``, the elastance
#: table and the beat accumulators in float32 and every operation of the step loops in float32 (twice the lanes
#: of a 512-bit vector).  What stays float64 in the float32 kernels, and why: the inputs ``P``, ``X0`` and the
#: outputs ``metrics``, ``x_end``, ``waves`` (the lane's constants and elastance table are computed in float64 and
#: rounded once); the Anderson rings and normal equations (:func:`_anderson`: the residual differences cancel,
#: and the 3 × 3 Cholesky of nearly dependent columns needs the digits); the beat-end residual (a difference of
#: two float32 states, exact by Sterbenz's lemma near convergence, divided by the scale in float64); the Hermite
#: volume extremum (:func:`_hermite_extremum`, twice a beat, outside the vector loops: the differences of two
#: nearby volumes); the metrics' last divisions (:func:`_finish`).
PRECISIONS = ("float64", "float32")
_F32_SUFFIX = "_f32"


def _retyped(fn, g: dict, name: str):
    """The Python function ``fn`` with the globals ``g`` under the name ``name`` (its code, defaults and
    closure cells unchanged).  numba resolves a function's globals when it compiles it, as constants."""
    out = types.FunctionType(fn.__code__, g, name, fn.__defaults__, fn.__closure__)
    out.__qualname__ = name
    out.__doc__ = fn.__doc__
    out.__module__ = fn.__module__
    return out


@functools.lru_cache(maxsize=None)
def _float32_namespace() -> dict:
    """The globals the float32 kernels are compiled in: this module's, with :data:`FLOAT` and the
    step loops' constants (``ZERO`` … ``BIG``) as float32 and every compiled helper as its own float32
    twin (the same code in this namespace, named ``<name>_f32``, so numba caches it apart from the
    float64 one).  A helper that keeps float64 literals (:func:`_setup_lane`, :func:`_anderson`,
    :func:`_finish`, :func:`_hermite_extremum`) computes in float64 from the float32 values it reads.

    Made on the first float32 kernel's construction; nothing is compiled here (numba compiles a kernel,
    and the helpers it calls, on its first call: a command that never asks for float32 compiles none of it).
    """
    g = dict(globals())
    f = np.float32
    g.update(FLOAT=f, ZERO=f(0.0), HALF=f(0.5), ONE=f(1.0), TWO=f(2.0), SIX=f(6.0), BIG=f(np.inf))
    for name, obj in list(g.items()):
        if isinstance(obj, Dispatcher) and obj.py_func.__module__ == __name__ and not name.startswith("_run_group"):
            deco = _jit_inline if obj.targetoptions.get("inline") == "always" else _jit
            g[name] = deco(_retyped(obj.py_func, g, name + _F32_SUFFIX))
    return g


def _make_run_group(L: int, diode: bool, precision: str = "float64"):
    """The kernel for one group of patients on ``L`` lanes with the mitral ``diode`` law or not
    (both compile-time constants of the closure: the lane loops have a constant trip count and
    vectorise, and a kernel holds one valve law, so a command compiles only the law it uses), in
    ``precision`` (:data:`PRECISIONS`; float32: the same code compiled in :func:`_float32_namespace`).

    Each closure gets its own name (``_run_group_L``) before it is compiled: numba names compiled
    code by qualified name and a per-process counter, so two closures of one name cached by two
    different processes could carry the same symbol, and a process loading both would run one in
    place of the other (it did: a batch kernel cached alone, then the one-patient kernel, gave a
    ZeroDivisionError).  Distinct names make the symbols and cache files distinct.
    """

    def run_group(P, X0, kind, n_steps, min_beats, max_beats, tol, e_window, metrics, x_end, waves, accel, p0, p1):
        """Patients p0 … p1 − 1 on one set of L lanes: each lane takes the next patient as soon as its
        own is steady (a block does not run as long as its slowest patient)."""
        want_waves = waves.shape[1] > 0
        nsf = FLOAT(n_steps)
        X = np.empty(N_STATE * L, FLOAT)
        KS = np.zeros(N_STATE * L, FLOAT)  # the first RK4 stage's slopes (read by the beat metrics)
        X0b = np.empty(N_STATE * L, FLOAT)
        PB = np.empty(N_PB * L, FLOAT)
        A = np.zeros(N_ACC * L, FLOAT)
        act = np.empty((2 * n_steps + 1) * 4 * L, FLOAT)
        FH = np.zeros((ACCEL_MEMORY + 1) * N_STATE * L, np.float64)  # Anderson history (accel): float64 in either precision
        GH = np.zeros((ACCEL_MEMORY + 1) * N_STATE * L, np.float64)
        acnt = np.zeros(L, np.int64)
        abest = np.zeros(L)
        lane_col = np.zeros(L, np.int64)
        lane_beat = np.zeros(L, np.int64)
        active = np.zeros(L, np.bool_)
        for j in range(L):
            _setup_lane(P, X0, e_window, p0 + j, j, kind, n_steps, X, PB, act, L)
            _start_samples(X, PB, act, A, j, L, diode)
            lane_col[j] = p0 + j
            active[j] = True
        next_p = p0 + L
        n_active = L
        while n_active > 0:
            for m in range(N_STATE * L):  # a loop, not X0b[:] = X: a slice assignment compiles numba's
                X0b[m] = X[m]  # shape-mismatch error message (string formatting: about 5 s of compilation)
            _reset_acc(A, L)
            # the beat accumulators are needed only on a beat that some lane may report (one at or
            # after its min_beats-th); on the others only the last step's samples carry over
            metrics_beat = False
            for j in range(L):
                metrics_beat = metrics_beat or (active[j] and lane_beat[j] + 1 >= min(min_beats, max_beats))
            for step in range(n_steps):
                s2 = 2 * step
                # the elastances of the step's start, middle and end: slices indexed from 0, so the
                # lane loops load them as vectors (an index with a run-time offset is tested for
                # wraparound per lane and compiles to gathers)
                e0 = act[s2 * 4 * L:(s2 + 1) * 4 * L]
                eh = act[(s2 + 1) * 4 * L:(s2 + 2) * 4 * L]
                e1 = act[(s2 + 2) * 4 * L:(s2 + 3) * 4 * L]
                if want_waves:
                    _store_waves(X, PB, e0, diode, active, lane_col, step, waves, L)
                if metrics_beat or step == n_steps - 1:
                    _rhs(X, KS, PB, e0, diode, L)
                    _volume_turns(X, KS, PB, A, L)
                    _accumulate(X, KS, PB, e0, FLOAT(step), diode, nsf, A, L)
                    _rk4_rest(X, KS, PB, eh, e1, diode, L)
                else:
                    _rk4_step(X, PB, e0, eh, e1, diode, L)
            for j in range(L):
                if not active[j]:
                    continue
                lane_beat[j] += 1
                beat = lane_beat[j]
                c = lane_col[j]
                res = 0.0
                diverged = False
                for i in range(N_STATE):
                    xi = X[i * L + j]
                    res = max(res, abs(xi - X0b[i * L + j]) / _STATE_SCALE[i])
                    if not (abs(xi) <= DIVERGED):  # also true for NaN
                        diverged = True
                conv = res < tol and beat >= min_beats and not diverged
                if conv or beat == max_beats or diverged:
                    _finish(A, X, X0b, P, PB, act, n_steps, c, j, beat, res, conv, diode, metrics, x_end, L)
                    if diverged:  # unstable step (dt above the stability limit) or bad input
                        for m in range(N_METRIC):
                            metrics[m, c] = math.nan
                        metrics[_M_BEATS, c] = beat
                        metrics[_M_CONV, c] = 0.0
                    if next_p < p1:  # refill the lane with the group's next patient
                        _setup_lane(P, X0, e_window, next_p, j, kind, n_steps, X, PB, act, L)
                        lane_col[j] = next_p
                        next_p += 1
                        lane_beat[j] = 0
                        acnt[j] = 0
                        _start_samples(X, PB, act, A, j, L, diode)
                    else:
                        active[j] = False
                        n_active -= 1
                elif accel:
                    _anderson(X, X0b, FH, GH, acnt, abest, PB, j, L)

    name = f"_run_group_{L}_{'diode' if diode else 'orifice'}"
    if precision == "float32":
        return _jit(_retyped(run_group, _float32_namespace(), name + _F32_SUFFIX))
    run_group.__name__ = run_group.__qualname__ = name
    return _jit(run_group)


# Module-level kernels (a closure that captured the group kernel would miss numba's cache on
# every start: its cache key pickles the closure's cells, and a dispatcher does not pickle stably).
# numba compiles each on its first call, so a command compiles only the lane count and valve law
# it uses.
_run_group_1_orifice = _make_run_group(1, False)
_run_group_1_diode = _make_run_group(1, True)
_run_group_lanes_orifice = _make_run_group(LANES, False)
_run_group_lanes_diode = _make_run_group(LANES, True)
_run_group_rem8_orifice = _make_run_group(REMAINDER_LANES[0], False)
_run_group_rem8_diode = _make_run_group(REMAINDER_LANES[0], True)
_run_group_rem4_orifice = _make_run_group(REMAINDER_LANES[1], False)
_run_group_rem4_diode = _make_run_group(REMAINDER_LANES[1], True)
# The same kernels in float32 (``SolverSettings.precision``), compiled only when a batch asks for float32.
_run_group_1_orifice_f32 = _make_run_group(1, False, "float32")
_run_group_1_diode_f32 = _make_run_group(1, True, "float32")
_run_group_lanes_orifice_f32 = _make_run_group(LANES32, False, "float32")
_run_group_lanes_diode_f32 = _make_run_group(LANES32, True, "float32")
_run_group_rem16_orifice_f32 = _make_run_group(REMAINDER_LANES32[0], False, "float32")
_run_group_rem16_diode_f32 = _make_run_group(REMAINDER_LANES32[0], True, "float32")
_run_group_rem8_orifice_f32 = _make_run_group(REMAINDER_LANES32[1], False, "float32")
_run_group_rem8_diode_f32 = _make_run_group(REMAINDER_LANES32[1], True, "float32")


def default_threads() -> int:
    """The engine threads of this process, decided here only: ``MITRASIM_THREADS`` if set, else every
    core.  A batch asked for 0 threads (``SolverSettings.threads``, the default) runs on this many and
    one asked for more on at most this many (:func:`mitrasim.physiology.dispatch.batch_threads`); a
    trial computes this many chunks at once (``cohort.trial._default_chunk_threads``).  Processes that
    share a machine's cores with their siblings set it to 1: a web worker process
    (``web.pool._init_worker``) and a local Dask worker (``cohort.trial``).  The setting is read and
    checked by :func:`mitrasim.threads.engine_threads` (a bad value is an `InputError`).
    """
    return engine_threads()
