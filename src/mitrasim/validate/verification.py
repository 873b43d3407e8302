"""Code verification, run (not quoted) for the credibility report.

Three checks, each returning a plain dict (the report's tables):

1. **Engine against the reference** (:func:`radau_check`): the compiled fixed-step RK4 engine and
   :mod:`mitrasim.physiology.reference` (the same model written again in numpy and integrated by
   scipy's Radau at rtol 1e-10, event-switched at the valves) from the same start for
   :data:`RADAU_BEATS` beats; every beat metric within :data:`RADAU_REL_TOL` (relative, with
   :data:`RADAU_ABS_TOL` absolute floor) — the accuracy the engine's own test suite asserts.
2. **Batch equal to one at a time** (:func:`batch_check`): a batch of patients and the same patients
   simulated alone give the same metrics to :data:`BATCH_TOL` (the engine's lanes are independent, so
   the only allowed difference is floating-point round-off).
3. **Step convergence** (:func:`step_convergence`): the steady beat at the trial step and at 1/2, 1/4,
   1/8 of it, steady-state tolerance :data:`STEP_STEADY_TOL`; the error of each step against the finest,
   the observed order ``p = log(e₁/e₂)/log(h₁/h₂)`` between the two coarsest, and a pass when the
   trial step's relative error is at most :data:`STEP_REL_TOL` for every metric (a project criterion:
   well below the agreement margins of :mod:`mitrasim.validate.endpoints`).

Calculation verification (the Monte-Carlo error of each endpoint) is in :mod:`mitrasim.validate.endpoints`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mitrasim.physiology import reference as R
from mitrasim.physiology import simulation as S
from mitrasim.physiology.parameter_sets import get_parameter_set
from mitrasim.physiology.parameters import KP

__all__ = ["RADAU_CASES", "STEP_METRICS", "batch_check", "code_verification", "radau_check", "step_convergence"]

RADAU_BEATS = 3
RADAU_REL_TOL = 5e-3
RADAU_ABS_TOL = 1e-3
#: (preset, engine keyword arguments) compared with the reference.
RADAU_CASES: tuple[tuple[str, dict[str, float]], ...] = (("primary_mr", {"eroa_cm2": 0.4}), ("secondary_mr", {"eroa_cm2": 0.3}))
#: Metrics skipped in the reference comparison: undefined without a jet or flagged booleans.
_RADAU_SKIP = ("pv_systolic_reversal", "e_velocity_m_s", "mr_vmax_m_s")
BATCH_TOL = 1e-12
STEP_FACTORS = (1, 2, 4, 8)
STEP_STEADY_TOL = 1e-7
STEP_REL_TOL = 0.01
STEP_METRICS = ("rvol_ml", "forward_sv_ml", "mean_gradient_mmhg", "rf_pct", "sbp_mmhg")


def radau_check(preset: str, kw: dict[str, float]) -> dict[str, Any]:
    """Engine vs the Radau reference for one preset (module docstring, check 1)."""
    ps = get_parameter_set(preset)
    st = S.SolverSettings(min_beats=RADAU_BEATS, max_beats=RADAU_BEATS, tol=1e-300, accelerate=False)  # plain beats
    eng = S.simulate(ps, settings=st, **kw).patient_metrics()
    cols, n = S.build_batch(ps, None, **kw)
    n_steps = int(S.steps_per_beat(60.0 / cols["hr_bpm"], st.dt_max_s)[0])
    P, _ = S._kernel_arrays(cols, ps.model, n, 1, n_steps)
    X0 = S._initial_states(ps, cols, n, 1, None)
    _, w = R.reference_beats(P, 0, X0[:, 0], 0 if ps.model.activation == "cosine" else 1, ps.model.mitral == "diode", RADAU_BEATS)
    ref = R.waveform_metrics(
        w, period_s=P[KP["period_s"], 0], eroa_cm2=P[KP["eroa_cm2"], 0], mva_cm2=P[KP["mva_cm2"], 0],
        t_ventricular_s=P[KP["lv_act_a"], 0], t_atrial_s=P[KP["la_act_a"], 0],
    )
    rows = []
    for k, v in ref.items():
        if k in _RADAU_SKIP or k not in eng or not (np.isfinite(v) and np.isfinite(eng[k])):
            continue
        e = float(eng[k])
        err = abs(e - float(v))
        ok = err <= max(RADAU_REL_TOL * abs(float(v)), RADAU_ABS_TOL)
        rows.append({"metric": k, "engine": e, "reference": float(v), "rel_error": err / abs(float(v)) if v else err, "pass": bool(ok)})
    return {"preset": preset, "inputs": kw, "beats": RADAU_BEATS, "dt_s": float(60.0 / cols["hr_bpm"][0] / n_steps), "rows": rows, "pass": all(r["pass"] for r in rows)}


def batch_check(settings: S.SolverSettings) -> dict[str, Any]:
    """A batch of five patients vs each alone, at the trial's solver settings (check 2)."""
    eroa = np.array([0.0, 0.15, 0.3, 0.45, 0.6])
    hr = np.array([55.0, 68.0, 75.0, 92.0, 110.0])
    batch = S.simulate("primary_mr", eroa_cm2=eroa, hr_bpm=hr, settings=settings)
    worst = 0.0
    for i in range(eroa.size):
        one = S.simulate("primary_mr", eroa_cm2=eroa[i], hr_bpm=hr[i], settings=settings)
        for k, v in one.metrics.items():
            a, b = np.asarray(batch.metrics[k][i], float), np.asarray(v[0], float)
            if np.isfinite(a) and np.isfinite(b):
                worst = max(worst, float(abs(a - b) / max(abs(b), 1.0)))
    return {"patients": int(eroa.size), "max_rel_difference": worst, "tolerance": BATCH_TOL, "pass": worst <= BATCH_TOL}


def step_convergence(trial_dt_s: float, preset: str = "secondary_mr", eroa_cm2: float = 0.4) -> dict[str, Any]:
    """Steady-beat metrics at the trial step and finer ones (check 3)."""
    runs = []
    for f in STEP_FACTORS:
        st = S.SolverSettings(dt_max_s=trial_dt_s / f, tol=STEP_STEADY_TOL, max_beats=1000)
        r = S.simulate(preset, eroa_cm2=eroa_cm2, settings=st)
        m = r.patient_metrics()
        runs.append({"dt_s": float(60.0 / m["hr_bpm"] / r.n_steps[0]), "converged": bool(m["converged"]), **{k: float(m[k]) for k in STEP_METRICS}})
    fine = runs[-1]
    rows = []
    for k in STEP_METRICS:
        errs = [abs(r[k] - fine[k]) for r in runs[:-1]]
        h = [r["dt_s"] for r in runs[:-1]]
        order = math.log(errs[0] / errs[1]) / math.log(h[0] / h[1]) if errs[0] > 0 and errs[1] > 0 else math.nan
        rel = errs[0] / abs(fine[k]) if fine[k] else errs[0]
        rows.append({"metric": k, "values": [r[k] for r in runs], "error_at_trial_step": errs[0], "rel_error_at_trial_step": rel, "observed_order": order, "pass": rel <= STEP_REL_TOL})
    return {"preset": preset, "eroa_cm2": eroa_cm2, "dt_s": [r["dt_s"] for r in runs], "all_converged": all(r["converged"] for r in runs), "rows": rows, "pass": all(r["pass"] for r in rows) and all(r["converged"] for r in runs)}


def code_verification(settings: S.SolverSettings) -> dict[str, Any]:
    """All three checks (the trial's solver settings for batch and step convergence)."""
    radau = [radau_check(p, kw) for p, kw in RADAU_CASES]
    batch = batch_check(settings)
    step = step_convergence(settings.dt_max_s)
    return {"radau": radau, "batch": batch, "step": step, "pass": all(r["pass"] for r in radau) and batch["pass"] and step["pass"]}
