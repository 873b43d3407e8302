"""Global sensitivity of the main outcomes to the model's uncertain parameters (Sobol indices, SALib).

Variance-based indices of an output ``Y = f(θ)`` over independent uniform parameters θ:
first order ``S_i = V[E(Y|θ_i)] / V(Y)`` and total ``S_Ti = E[V(Y|θ_~i)] / V(Y)``, estimated from a
Saltelli design of ``N·(D + 2)`` evaluations (Saltelli et al. 2010, via SALib: Herman & Usher 2017;
SALib's bootstrap gives a 95% interval of each index).

The model function (:func:`procedure_outcomes`): a fixed sample of virtual patients from the question's
population (context of use), each through the whole procedure (:func:`mitrasim.procedure.process.run_procedure_arrays`,
the context of use's strategy, complications off) with the parameters of :data:`PARAMETERS` set to θ; the
outputs (:data:`OUTPUTS`) are averages over the sample.  Common random numbers: the same patients for
every θ, so the indices are the parameters' share of the variance of those averages.

Convergence check (its own): the indices are estimated at ``N`` and at ``2N`` (independent designs);
the analysis is called converged when every total index moved by at most :data:`CONVERGENCE_TOL` between
the two (a project criterion), and the report shows both with the bootstrap intervals at ``2N``.
An output that does not vary over the ranges has no indices (reported as constant, not as NaN).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mitrasim import citations
from mitrasim.errors import InputError
from mitrasim.procedure import calibration as _cal
from mitrasim.validate import sources as _sources  # noqa: F401

__all__ = ["CONVERGENCE_TOL", "OUTPUTS", "PARAMETERS", "UncertainParameter", "ishigami", "procedure_outcomes", "run_sensitivity", "sobol_indices"]

#: Largest change of a total index between N and 2N for the analysis to count as converged.
CONVERGENCE_TOL = 0.05


@dataclass(frozen=True)
class UncertainParameter:
    name: str
    lo: float
    hi: float
    basis: str  # where the range comes from
    source: str  # citation key


PARAMETERS: tuple[UncertainParameter, ...] = (
    UncertainParameter(
        "forward_discharge_coeff", *_cal.FIT_RANGE,
        "the measured in-vitro range the calibration searched (procedure/calibration.py FIT_RANGE)", "neuss2019_gradient",
    ),
    UncertainParameter("mv_leff_cm", 0.5, 2.0, "mitral inertance length: half to twice the presets' value (model range)", "mitrasim_cohort_model"),
    UncertainParameter("la_stiffness_scale", 0.5, 2.0, "LA passive stiffness la_eb x scale (chronic MR dilates the LA; model range)", "mitrasim_cohort_model"),
    UncertainParameter("afterload_scale", 0.8, 1.25, "systemic resistance x scale (loading during the procedure; model range)", "mitrasim_cohort_model"),
)
OUTPUTS: dict[str, str] = {
    "mean_gradient_after_mmhg": "mean post-procedure gradient, mmHg",
    "share_mr_le_1plus": "share with residual MR <= 1+",
    "share_mr_le_2plus": "share with residual MR <= 2+",
    "mean_rvol_after_ml": "mean residual regurgitant volume, mL",
    "clips_per_patient": "clips per patient",
}


def _problem(params: tuple[UncertainParameter, ...]) -> dict[str, Any]:
    return {"num_vars": len(params), "names": [p.name for p in params], "bounds": [[p.lo, p.hi] for p in params]}


def sobol_indices(f: Callable[[np.ndarray], dict[str, np.ndarray]], problem: dict[str, Any], n_base: int, seed: int) -> dict[str, dict[str, Any]]:
    """First-order and total Sobol indices (with 95% bootstrap half-widths) of every output of ``f``.

    ``f`` maps the (M, D) Saltelli design to ``{output: (M,) values}``.
    """
    try:
        from SALib.analyze import sobol as sobol_analyze
        from SALib.sample import sobol as sobol_sample
    except ImportError as e:  # no silent fallback: the report needs the indices
        raise RuntimeError("the sensitivity analysis needs SALib: pip install 'mitrasim[validate]' (or run with --no-sensitivity)") from e

    citations.cite("saltelli2010_sobol", "herman2017_salib")
    X = sobol_sample.sample(problem, n_base, calc_second_order=False, seed=seed)
    Y = f(X)
    out: dict[str, dict[str, Any]] = {}
    for name, y in Y.items():
        y = np.asarray(y, float)
        if not np.all(np.isfinite(y)):
            raise InputError(f"sensitivity output {name}", "non-finite", "finite model outputs")
        if np.ptp(y) <= 1e-12 * max(1.0, float(np.abs(y).max())):
            out[name] = {"constant": True, "value": float(y[0])}
            continue
        r = sobol_analyze.analyze(problem, y, calc_second_order=False, num_resamples=200, conf_level=0.95, seed=seed)
        out[name] = {
            "constant": False,
            "S1": [float(v) for v in r["S1"]], "S1_conf": [float(v) for v in r["S1_conf"]],
            "ST": [float(v) for v in r["ST"]], "ST_conf": [float(v) for v in r["ST_conf"]],
            "mean": float(y.mean()), "sd": float(y.std(ddof=1)),
        }  # fmt: skip
    return {"evaluations": int(X.shape[0]), "outputs": out}  # type: ignore[dict-item]


def ishigami(X: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """The Ishigami test function (Ishigami & Homma 1990), x_i ~ U(−π, π)."""
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


def procedure_outcomes(setups: list[Any], settings: Any, params: tuple[UncertainParameter, ...] = PARAMETERS) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """The model function of the module docstring for a fixed list of :class:`PatientSetup`."""
    from mitrasim.physiology.parameter_sets import get_parameter_set
    from mitrasim.procedure.process import run_procedure_arrays

    names = [p.name for p in params]
    la_eb = {s.preset: float(get_parameter_set(s.preset).values["la_eb_mmhg_ml"]) for s in setups}
    k = len(setups)

    def patients(theta: np.ndarray) -> list[Any]:
        t = dict(zip(names, theta))
        rows = []
        for s in setups:
            ov = dict(s.overrides)
            ov["mv_leff_cm"] = t.get("mv_leff_cm", ov.get("mv_leff_cm", 1.0))
            ov["la_eb_mmhg_ml"] = la_eb[s.preset] * t.get("la_stiffness_scale", 1.0)
            if "sys_ar_r_mmhg_s_ml" in ov:
                ov["sys_ar_r_mmhg_s_ml"] = ov["sys_ar_r_mmhg_s_ml"] * t.get("afterload_scale", 1.0)
            rows.append(dataclasses.replace(s, overrides=ov))
        return rows

    def f(X: np.ndarray) -> dict[str, np.ndarray]:
        # The discharge coefficient is one number per procedure call; a Saltelli design has only two
        # distinct values of each column per base sample, so rows sharing it run in one batched call.
        cd_col = names.index("forward_discharge_coeff") if "forward_discharge_coeff" in names else None
        keys = X[:, cd_col] if cd_col is not None else np.zeros(len(X))
        out = {name: np.empty(len(X)) for name in OUTPUTS}
        for cd in np.unique(keys):
            idx = np.flatnonzero(keys == cd)
            batch = [p for i in idx for p in patients(X[i])]
            r = run_procedure_arrays(batch, seed=None, settings=settings, forward_discharge_coeff=None if cd_col is None else float(cd))
            g = np.asarray(r.final_decision).reshape(len(idx), k)
            clips = np.array([len(c) for c in r.clips], float).reshape(len(idx), k)
            out["mean_gradient_after_mmhg"][idx] = np.asarray(r.final.metrics["mean_gradient_mmhg"]).reshape(len(idx), k).mean(axis=1)
            out["share_mr_le_1plus"][idx] = (g <= 1).mean(axis=1)
            out["share_mr_le_2plus"][idx] = (g <= 2).mean(axis=1)
            out["mean_rvol_after_ml"][idx] = np.asarray(r.final.metrics["rvol_ml"]).reshape(len(idx), k).mean(axis=1)
            out["clips_per_patient"][idx] = clips.mean(axis=1)
        return out

    return f


def run_sensitivity(population: Any, strategy: Any, settings: Any, n_base: int, n_patients: int, seed: int) -> dict[str, Any]:
    """Sobol indices of :data:`OUTPUTS` over :data:`PARAMETERS` at N and 2N, with the convergence check."""
    from mitrasim.cohort.adapter import patient_setups
    from mitrasim.cohort.population import sample_population

    pts = sample_population(population, n_patients, np.random.SeedSequence(seed))
    setups = patient_setups(pts, strategy, settings, dict(population.presets), population.lv_volume_method)
    f = procedure_outcomes(setups, settings)
    problem = _problem(PARAMETERS)
    for p in PARAMETERS:
        citations.cite(p.source)
    a = sobol_indices(f, problem, n_base, seed)
    b = sobol_indices(f, problem, 2 * n_base, seed + 1)
    moved = 0.0
    for name, rb in b["outputs"].items():
        ra = a["outputs"][name]
        if rb["constant"] or ra["constant"]:
            continue
        moved = max(moved, float(np.max(np.abs(np.array(rb["ST"]) - np.array(ra["ST"])))))
    widths = [w for v in b["outputs"].values() if not v["constant"] for w in v["ST_conf"]]
    return {
        "parameters": [dataclasses.asdict(p) for p in PARAMETERS],
        "max_total_index_halfwidth_at_2n": max(widths) if widths else 0.0,
        "outputs": OUTPUTS,
        "population": population.name,
        "patients": n_patients,
        "n_base": n_base,
        "at_n": a,
        "at_2n": b,
        "max_total_index_change": moved,
        "convergence_tol": CONVERGENCE_TOL,
        "converged": moved <= CONVERGENCE_TOL,
    }
