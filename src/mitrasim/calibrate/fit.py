"""Fit a patient's circulation to measurements: weighted least squares, identifiability, Laplace ensemble.

Parameters (:data:`FIT_PARAMETERS`)
-----------------------------------
Each measured quantity depends mostly on one of these, which is why they were chosen:

* ``lv_ea_mmhg_ml`` LV contractility (end-systolic elastance) — ESV, LVEF, SBP;
* ``lv_eb_mmhg_ml`` LV passive stiffness — LV filling pressure at a given EDV (LA pressure, E wave);
* ``lv_v0_ml`` LV unstressed volume (LV size) — EDV at a given filling pressure;
* ``sys_ar_r_mmhg_s_ml`` systemic resistance — mean arterial pressure at a given output;
* ``sys_ar_c_ml_mmhg`` arterial compliance — pulse pressure (SBP − DBP);
* ``pvr_scale`` the pulmonary arterial and venous resistances together — PA pressure above LA;
* ``stressed_volume_shift_ml`` circulating (stressed) blood volume — all filling pressures;
* ``la_eb_mmhg_ml`` LA stiffness — LA pressure and v wave at a given LA volume;
* ``la_v0_ml`` LA unstressed volume (LA size) — LA volume;
* ``eroa_cm2`` (only when EROA, RVol or RF is measured) and ``mva_cm2`` (only when MVA or the
  mean gradient is measured; the engine's effective forward area, compared with a planimetric MVA
  through the procedure's one forward discharge coefficient).

Heart rate and rhythm are set from the measurements, not fitted.

Estimator
---------
Each parameter θ_j is mapped to a dimensionless coordinate ``u_j = (g(θ_j) − g(θ0_j)) / s_j`` with
``g = ln`` (positive scale parameters) or the identity (volumes, areas), ``θ0`` the preset's
value and ``s_j`` the prior SD (:data:`FIT_PARAMETERS`).  The estimate is the maximum a posteriori
point of the Gaussian prior ``u ~ N(0, I)`` and the measurement model of
:mod:`mitrasim.calibrate.measurements`:

    û = argmin_u  Σ_k ((m_k(u) − b_k − y_k)/σ_k)²  +  Σ_j u_j²

solved by :func:`scipy.optimize.least_squares` (trust-region reflective, box bounds from the
parameter ranges).  The Jacobian is a forward difference with step :data:`FD_STEP` in ``u``; the
base point and the ``p`` shifted points are one batched engine call.  ``prior=False`` drops the
prior residuals (plain weighted least squares; used to test recovery).

Identifiability and uncertainty
-------------------------------
The Laplace approximation of the posterior at û is ``N(û, (JᵀJ)⁻¹)`` with ``J`` the Jacobian of the
whitened residuals (measurements and prior).  A parameter whose posterior SD is more than
:data:`UNDETERMINED_RATIO` of its prior SD is reported as *undetermined by the data* (the
measurements shrink its uncertainty by less than 30 %: it stays at the preset's value within the
prior); the singular values of the measurement part of ``J`` and the pairs of parameters with a
posterior correlation above :data:`STRONG_CORRELATION` are reported too.  The uncertainty
ensemble draws ``n_ensemble`` samples ``u = û + L z`` (``L`` the Cholesky factor of the Laplace
covariance, ``z`` standard normal from a seeded generator) and runs them through the engine in
one batch; every downstream prediction carries their 5th–95th percentiles (90 % interval).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import least_squares

from mitrasim import citations
from mitrasim.calibrate.measurements import (
    CHEMLA2004_INTERCEPT_MMHG,
    CHEMLA2004_SLOPE,
    WAVEFORM_QUANTITIES,
    Measurements,
    Observation,
    observations,
)
from mitrasim.errors import InputError
from mitrasim.physiology.parameter_sets import get_parameter_set
from mitrasim.physiology.parameters import SPECS, STRESSED_VOLUME_SHIFT, ParameterSet
from mitrasim.physiology.simulation import SimulationResult, SolverSettings, require_float64, simulate

__all__ = ["FIT_PARAMETERS", "PREDICTED", "RESIDUAL_Z_ACCEPTED", "SETTINGS", "Calibration", "FitParameter", "calibrate_measurements", "forward"]

SETTINGS = SolverSettings(tol=1e-6, max_beats=800)
"""Steady-state tolerance of the fit: well below the effect of an :data:`FD_STEP` change."""
FD_STEP = 3e-3
"""Forward-difference step in the prior-scaled coordinate u (0.3 % of a prior SD): large against the
steady-state tolerance's noise in the metrics, small against the curvature (1e-3 and 1e-2 stopped short
of the noise-free optimum in the recovery test; 3e-3 reaches it)."""
UNDETERMINED_RATIO = 0.7
STRONG_CORRELATION = 0.9
RESIDUAL_Z_ACCEPTED = 3.0
"""A calibration fits a measurement when its residual ``z = (m(û) − y)/σ`` is within this many SDs.
Normal theory, a model choice (not a literature number): with Gaussian measurement errors of SD σ a
least-squares residual has variance 1 − leverage ≤ 1, so ``|z| > 3`` has probability at most
2·(1 − Φ(3)) = 0.27 % per measurement when the model can explain the data; a larger residual says it
cannot (the three-sigma bound)."""
#: Quantities every calibration reports for the fitted patient (with the ensemble's 90 % interval).
PREDICTED = ("sbp_mmhg", "dbp_mmhg", "edv_ml", "esv_ml", "ef_pct", "co_l_min", "rvol_ml", "rf_pct", "la_mean_mmhg", "la_vwave_mmhg",
             "pa_mean_mmhg", "mean_gradient_mmhg", "e_velocity_m_s")  # fmt: skip


@dataclass(frozen=True)
class FitParameter:
    """A fitted parameter: the engine parameters it scales (log) or shifts (lin), its prior SD."""

    name: str
    targets: tuple[str, ...]
    transform: Literal["log", "lin"]
    prior_sd: float  # in ln units (log) or the parameter's unit (lin)
    description: str


LOG_PRIOR_SD = float(np.log(2.0))
"""Prior SD of the scale parameters: a factor of 2 (weakly informative; a model choice)."""

FIT_PARAMETERS: tuple[FitParameter, ...] = (
    FitParameter("lv_ea_mmhg_ml", ("lv_ea_mmhg_ml",), "log", LOG_PRIOR_SD, "LV contractility (active elastance)"),
    FitParameter("lv_eb_mmhg_ml", ("lv_eb_mmhg_ml",), "log", LOG_PRIOR_SD, "LV passive stiffness"),
    FitParameter("lv_v0_ml", ("lv_v0_ml",), "lin", 40.0, "LV unstressed volume (size)"),
    FitParameter("sys_ar_r_mmhg_s_ml", ("sys_ar_r_mmhg_s_ml",), "log", LOG_PRIOR_SD, "systemic resistance"),
    FitParameter("sys_ar_c_ml_mmhg", ("sys_ar_c_ml_mmhg",), "log", LOG_PRIOR_SD, "systemic arterial compliance"),
    FitParameter("pvr_scale", ("pul_ar_r_mmhg_s_ml", "pul_ven_r_mmhg_s_ml"), "log", LOG_PRIOR_SD, "pulmonary resistances (scale)"),
    FitParameter(STRESSED_VOLUME_SHIFT, (STRESSED_VOLUME_SHIFT,), "lin", 300.0, "stressed blood volume (shift)"),
    FitParameter("la_eb_mmhg_ml", ("la_eb_mmhg_ml",), "log", LOG_PRIOR_SD, "LA passive stiffness"),
    FitParameter("la_v0_ml", ("la_v0_ml",), "lin", 20.0, "LA unstressed volume (size)"),
    FitParameter("eroa_cm2", ("eroa_cm2",), "lin", 0.2, "effective regurgitant orifice area"),
    FitParameter("mva_cm2", ("mva_cm2",), "lin", 1.0, "mitral valve area"),
)
_BY_NAME = {p.name: p for p in FIT_PARAMETERS}
_EROA_DATA = ("eroa_cm2", "rvol_ml", "rf_pct")
_MVA_DATA = ("mva_cm2", "mean_gradient_mmhg")


def free_parameters(obs: list[Observation], only: tuple[str, ...] | None = None) -> tuple[FitParameter, ...]:
    """The fitted parameters for these observations (EROA and MVA only when the data speak to them);
    ``only`` restricts them to the named ones."""
    names = {o.name for o in obs}
    if only is not None:
        unknown = [n for n in only if n not in _BY_NAME]
        if unknown:
            raise InputError("free", unknown[0], "names of FIT_PARAMETERS: " + ", ".join(_BY_NAME))
        return tuple(p for p in FIT_PARAMETERS if p.name in only)
    out = [p for p in FIT_PARAMETERS if p.name not in ("eroa_cm2", "mva_cm2")]
    if names & set(_EROA_DATA):
        out.append(_BY_NAME["eroa_cm2"])
    if names & set(_MVA_DATA):
        out.append(_BY_NAME["mva_cm2"])
    return tuple(out)


@dataclass
class Problem:
    """A calibration problem: the preset, its fixed settings, observations and the free parameters."""

    pset: ParameterSet
    base: dict[str, float]  # engine values at u = 0 (the preset with the case's overrides)
    fixed: dict[str, float]  # set from the measurements (heart rate, rhythm), not fitted
    obs: list[Observation]
    params: tuple[FitParameter, ...]
    settings: SolverSettings = SETTINGS

    @property
    def y(self) -> np.ndarray:
        return np.array([o.value for o in self.obs])

    @property
    def sd(self) -> np.ndarray:
        return np.array([o.sd for o in self.obs])

    def center(self, p: FitParameter) -> float:
        return 1.0 if p.name == "pvr_scale" else self.base[p.targets[0]]

    def bounds_u(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = [], []
        for p in self.params:
            c = self.center(p)
            if p.name == "pvr_scale":
                a, b = np.log(0.1), np.log(10.0)
            elif p.transform == "log":
                spec = SPECS[p.targets[0]]
                a, b = np.log(max(spec.lo, c * 0.02, 1e-9)) - np.log(c), np.log(min(spec.hi, c * 50.0)) - np.log(c)
            else:
                spec = SPECS[p.targets[0]]
                lo_v = spec.lo + (1e-3 if spec.lo_open else 0.0)
                a, b = lo_v - c, spec.hi - c
            lo.append(a / p.prior_sd)
            hi.append(b / p.prior_sd - 2 * FD_STEP)  # room for the forward-difference point
        return np.array(lo), np.array(hi)

    def overrides(self, U: np.ndarray) -> list[dict[str, float]]:
        """Engine override dicts for each row of ``U`` (m, p)."""
        out = []
        for u in np.atleast_2d(U):
            o = dict(self.fixed)
            for p, uj in zip(self.params, u):
                if p.transform == "log":
                    f = float(np.exp(uj * p.prior_sd))
                    for t in p.targets:
                        o[t] = self.base[t] * f
                else:
                    o[p.targets[0]] = self.center(p) + float(uj) * p.prior_sd
            out.append(o)
        return out

    def values(self, u: np.ndarray) -> dict[str, float]:
        """Fitted parameter values (engine units; ``pvr_scale`` dimensionless)."""
        out = {}
        for p, uj in zip(self.params, u):
            c = self.center(p)
            out[p.name] = float(c * np.exp(uj * p.prior_sd)) if p.transform == "log" else float(c + uj * p.prior_sd)
        return out


def forward(pset: ParameterSet, overrides: list[dict[str, float]], settings: SolverSettings, waveform_quantities: bool) -> tuple[dict[str, np.ndarray], SimulationResult]:
    """One engine call for a batch; returns the engine quantities (metrics + areas + waveform extras)."""
    res = simulate(pset, overrides, waveforms=waveform_quantities, settings=settings)
    q = dict(res.metrics)
    from mitrasim.valve.geometry import FORWARD_DISCHARGE_COEFF

    q["eroa_cm2"] = res.parameters["eroa_cm2"]
    q["mva_cm2"] = res.parameters["mva_cm2"] / FORWARD_DISCHARGE_COEFF  # planimetric MVA: the engine's area is the effective one
    q["pa_systolic_chemla_mmhg"] = (q["pa_mean_mmhg"] - CHEMLA2004_INTERCEPT_MMHG) / CHEMLA2004_SLOPE  # measurements' docstring
    if waveform_quantities:
        q["la_max_volume_ml"] = np.nanmax(res.waveforms["v_la_ml"], axis=1)
        q["pa_systolic_mmhg"] = np.nanmax(res.waveforms["p_pa_mmhg"], axis=1)
    return q, res


def _predict(prob: Problem, U: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Predicted measurements (m, k), the engine's convergence flags (m,) and all quantities."""
    wave = any(o.quantity in WAVEFORM_QUANTITIES for o in prob.obs)
    q, _ = forward(prob.pset, prob.overrides(U), prob.settings, wave)
    pred = np.stack([q[o.quantity] - o.bias for o in prob.obs], axis=1) if prob.obs else np.zeros((len(U), 0))
    return pred, q["converged"].astype(bool), q


class _Evaluator:
    """fun/jac for least_squares sharing one batched engine call per point (base + p shifted)."""

    def __init__(self, prob: Problem, prior: bool):
        self.prob = prob
        self.prior = prior
        self.cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        self.engine_calls = 0
        self.not_converged = 0

    def _eval(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = u.tobytes()
        if key not in self.cache:
            p = len(u)
            U = np.vstack([u, u + FD_STEP * np.eye(p)])
            pred, conv, _ = _predict(self.prob, U)
            self.engine_calls += 1
            self.not_converged += int((~conv).sum())
            r = (pred - self.prob.y) / self.prob.sd
            J = (r[1:] - r[0]).T / FD_STEP
            if self.prior:
                r = np.hstack([r, np.broadcast_to(U, (p + 1, p))])
                J = np.vstack([J, np.eye(p)])
            self.cache = {key: (r[0], J)}
        return self.cache[key]

    def fun(self, u: np.ndarray) -> np.ndarray:
        return self._eval(u)[0]

    def jac(self, u: np.ndarray) -> np.ndarray:
        return self._eval(u)[1]


@dataclass
class Calibration:
    """The fitted patient: parameters, residuals, identifiability, ensemble and predictions."""

    preset: str
    overrides: dict[str, float]  # engine overrides of the fitted patient (apply to ``preset``)
    parameters: dict[str, dict[str, Any]]  # name → value, prior, 90 % interval, determined, description
    residuals: list[dict[str, Any]]  # per measurement: measured, predicted, z
    identifiability: dict[str, Any]
    predictions: dict[str, dict[str, float]]  # quantity → value, p05, p95
    ensemble_overrides: list[dict[str, float]]
    converged: bool
    message: str
    engine_calls: int
    citations: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "preset": self.preset, "converged": self.converged, "message": self.message, "overrides": self.overrides,
            "parameters": self.parameters, "residuals": self.residuals, "identifiability": self.identifiability,
            "predictions": self.predictions, "n_ensemble": len(self.ensemble_overrides), "engine_calls": self.engine_calls,
            "citations": list(self.citations),
        }  # fmt: skip


def problem(meas: Measurements, preset: str | ParameterSet, overrides: Mapping[str, float] | None = None, hr_bpm: float | None = None,
            settings: SolverSettings = SETTINGS, free: tuple[str, ...] | None = None) -> Problem:  # fmt: skip
    """The calibration problem of ``meas`` around ``preset`` (+ ``overrides``, e.g. a case's)."""
    require_float64(settings, "the calibration")
    pset = get_parameter_set(preset) if isinstance(preset, str) else preset
    base = dict(pset.values) | {STRESSED_VOLUME_SHIFT: 0.0} | dict(overrides or {})
    fixed: dict[str, float] = {}
    hr = meas.hr_bpm if meas.hr_bpm is not None else hr_bpm
    if hr is not None:
        fixed["hr_bpm"] = float(hr)
    if meas.rhythm == "af":
        fixed["la_ea_mmhg_ml"] = 0.0
    obs = observations(meas)
    if not obs:
        raise InputError("measurements", "none", "at least one measurement besides heart rate and rhythm")
    return Problem(pset, base, fixed, obs, free_parameters(obs, free), settings)


def calibrate_measurements(
    meas: Measurements,
    preset: str | ParameterSet,
    overrides: Mapping[str, float] | None = None,
    *,
    hr_bpm: float | None = None,
    n_ensemble: int = 64,
    seed: int = 0,
    prior: bool = True,
    settings: SolverSettings = SETTINGS,
    max_nfev: int = 300,
    free: tuple[str, ...] | None = None,
) -> Calibration:
    """Fit the patient (module docstring); ``overrides`` are the case's own and stay unless fitted;
    ``max_nfev`` bounds the evaluations of a fit that does not stop on its tolerances (a budget, not an
    accuracy setting: on the engine of 2026-11-30 one of 200 synthetic patients, seed 5, needs 201 and
    stops on ``xtol``; a fit that hits the budget is reported as not converged);
    ``free`` restricts the fitted parameters to those named (default: :func:`free_parameters`)."""
    prob = problem(meas, preset, overrides, hr_bpm, settings, free)
    ev = _Evaluator(prob, prior)
    lo, hi = prob.bounds_u()
    u0 = np.clip(np.zeros(len(prob.params)), lo + 1e-9, hi - 1e-9)
    sol = least_squares(ev.fun, u0, jac=ev.jac, bounds=(lo, hi), method="trf", x_scale=1.0, xtol=1e-10, ftol=1e-10, gtol=1e-10, max_nfev=max_nfev)
    r, J = ev._eval(sol.x)
    k = len(prob.obs)
    ok = bool(sol.status > 0 and np.all(np.isfinite(r)) and ev.not_converged == 0)
    message = _fit_message(sol, ev)
    cov, ident = _identifiability(prob, J, k)
    values = prob.values(sol.x)
    ens_u = _ensemble(sol.x, cov, n_ensemble, seed, lo, hi)
    U = np.vstack([sol.x, ens_u])
    pred, conv, q = _predict(prob, U)
    if not conv[0]:
        ok = False
        message = "did not converge: the fitted patient has no steady beat"
    dropped = int((~conv[1:]).sum())
    if dropped:  # ensemble members without a steady beat are left out of the intervals, and counted
        message += f"; {dropped} of {len(ens_u)} ensemble members dropped (no steady beat)"
        keep = np.concatenate([[True], conv[1:]])
        ens_u, pred, q = ens_u[conv[1:]], pred[keep], {k: v[keep] for k, v in q.items()}
    params = _parameter_table(prob, sol.x, values, ens_u, ident)
    residuals = [
        {"name": o.name, "method": o.method, "measured": o.value, "predicted": float(pred[0, i]), "sd": o.sd,
         "z": float((pred[0, i] - o.value) / o.sd), "sources": list(o.sources), "status": o.status}
        for i, o in enumerate(prob.obs)
    ]  # fmt: skip
    predictions = {name: _interval(q[name]) for name in PREDICTED}
    ov = prob.overrides(sol.x[None, :])[0]
    citations.cite(*prob.pset.citations)
    cites = tuple(dict.fromkeys([*prob.pset.citations, *(s for o in prob.obs for s in o.sources)]))
    return Calibration(
        preset=prob.pset.name, overrides=dict(overrides or {}) | ov, parameters=params, residuals=residuals, identifiability=ident,
        predictions=predictions, ensemble_overrides=[dict(overrides or {}) | o for o in prob.overrides(ens_u)], converged=ok,
        message=message, engine_calls=ev.engine_calls + 1, citations=cites,
    )  # fmt: skip


def _fit_message(sol: Any, ev: _Evaluator) -> str:
    if ev.not_converged:
        return f"did not converge: the engine found no steady beat in {ev.not_converged} runs (parameters out of the physiological range?)"
    if sol.status <= 0:
        return f"did not converge: {sol.message} after {sol.nfev} evaluations"
    return f"converged: {sol.message} ({sol.nfev} evaluations)"


def _identifiability(prob: Problem, J: np.ndarray, k: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Laplace covariance in u and the identifiability report (module docstring)."""
    p = J.shape[1]
    H = J.T @ J
    if J.shape[0] == k:  # no prior rows: the data alone must determine every direction
        H = H + 1e-12 * np.eye(p)
    cov = np.linalg.pinv(H, hermitian=True)
    sd_post = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    corr = cov / np.outer(np.maximum(sd_post, 1e-300), np.maximum(sd_post, 1e-300))
    sv = np.linalg.svd(J[:k], compute_uv=False) if k else np.zeros(0)
    names = [q.name for q in prob.params]
    pairs = [
        {"a": names[i], "b": names[j], "correlation": float(corr[i, j])}
        for i in range(p) for j in range(i + 1, p) if abs(corr[i, j]) > STRONG_CORRELATION
    ]  # fmt: skip
    undetermined = [n for n, s in zip(names, sd_post) if s > UNDETERMINED_RATIO]
    return cov, {
        "posterior_sd_over_prior_sd": dict(zip(names, map(float, sd_post))),
        "undetermined": undetermined,
        "singular_values": [float(s) for s in sv],
        "strong_correlations": pairs,
        "rule": f"undetermined: posterior SD > {UNDETERMINED_RATIO} x prior SD; strong correlation: |r| > {STRONG_CORRELATION}",
    }


def _ensemble(u: np.ndarray, cov: np.ndarray, n: int, seed: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``n`` draws from N(u, cov) in the fit's coordinates, clipped into the bounds.

    The draws are u + L·z with L the Cholesky factor of cov: a continuous function of cov, so a
    rounding-level change of the engine moves every member by a rounding-level amount.  (An
    eigen-decomposition is not continuous where eigenvalues coincide, as they do for the
    parameters the data leave at their prior: the eigenvectors of that subspace, and with them
    every member, can turn arbitrarily.)  cov = (JᵀJ + I)⁻¹ with the prior's rows is positive
    definite; without them the pseudo-inverse may leave it semidefinite, so the factor is taken of
    cov + 1e-12·tr(cov)/p·I (a relative jitter far below any variance that matters).
    """
    if n <= 0:
        return np.zeros((0, len(u)))
    C = 0.5 * (cov + cov.T)
    L = np.linalg.cholesky(C + 1e-12 * max(float(np.trace(C)) / len(u), 1e-300) * np.eye(len(u)))
    z = np.random.default_rng(seed).standard_normal((n, len(u)))
    return np.clip(u + z @ L.T, lo + 1e-9, hi - 1e-9)


def _parameter_table(prob: Problem, u: np.ndarray, values: dict[str, float], ens_u: np.ndarray, ident: dict[str, Any]) -> dict[str, dict[str, Any]]:
    ens_vals = [prob.values(e) for e in ens_u]
    out = {}
    for p in prob.params:
        arr = np.array([v[p.name] for v in ens_vals]) if ens_vals else np.array([values[p.name]])
        out[p.name] = {
            "value": values[p.name], "prior": prob.center(p), "p05": float(np.percentile(arr, 5)), "p95": float(np.percentile(arr, 95)),
            "determined": p.name not in ident["undetermined"], "description": p.description,
            "engine_parameters": list(p.targets),
        }  # fmt: skip
    return out


def _interval(x: np.ndarray) -> dict[str, float]:
    """Value of the fitted patient (row 0) and the ensemble's 90 % interval (rows 1:)."""
    x = np.asarray(x, dtype=float)
    ens = x[1:] if x.size > 1 else x
    return {"value": float(x[0]), "p05": float(np.percentile(ens, 5)), "p95": float(np.percentile(ens, 95))}
