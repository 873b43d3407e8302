"""The calibrated patient's uncertainty carried to every prediction: 90 % intervals of valve states.

A case with ``measurements:`` is calibrated (:mod:`mitrasim.calibrate.fit`): the fitted patient
θ̂ and an ensemble θ_1 … θ_m drawn from the Laplace posterior.  A *valve state* s (the valve before
the procedure, after the procedure's clips, after one planner candidate) is the valve model's
pair (EROA_s, anatomic MVA_s); the valve model does not depend on the circulation, so each member
is simply run at each state:

    y_{k,s} = steady beat of the engine at (θ_k, ρ_k^E · EROA_s, ρ_k^M · A_fwd,s),   A_fwd,s = C_d,fwd · MVA_s

where ρ_k = (member's fitted area) / (point estimate's fitted area) when the calibration fitted the
EROA or the MVA (they were measured), else 1: a member that explains the measurements with a larger
orifice (and so, say, a higher flow for the same gradient) keeps that larger orifice, in proportion,
at every valve state; dropping it would pair that member's flow with the point's orifice and widen
the intervals falsely (small_valve: baseline gradient 95th percentile 5.8 mmHg against 3.5 in the
calibration's own ensemble).

for all k × s in ONE batched engine call (:func:`mitrasim.procedure.hemodynamics.simulate_states`,
warm-started from the point estimate's steady state of that valve state when one is given, held
to the member's own blood: the members differ in stressed volume, compliances and unstressed
volumes, and the engine conserves the blood of its start, so the point's state unmoved would give
every member the point's blood).  Each
quantity q of :data:`PLAN_QUANTITIES` is reported as the point estimate (the fitted patient,
as the planner or the procedure computed it) and the 5th and 95th percentiles of y_{k,s}
over the members with a steady beat (the others are counted, never silently dropped).

The interval is the spread the *measurements* leave in the circulation (and, through ρ, in the
measured valve areas); the valve model's own error (EROA, MVA after a clip) is not in it.  ``mitrasim calibrate CASE.yaml --procedure``,
``mitrasim plan`` and ``mitrasim procedure`` (text, JSON, HTML) print it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from mitrasim.procedure.patient import DEFAULT_ENSEMBLE, calibrate_case, circulation_overrides

__all__ = ["INTERVAL_PERCENTILES", "PLAN_QUANTITIES", "SHOWN", "Ensemble", "case_ensemble", "case_procedure_intervals", "format_interval",
           "post_clip_coverage", "procedure_intervals", "state_intervals"]


#: Quantities carried with intervals for every valve state (LA pressure, forward output, gradient, …).
PLAN_QUANTITIES = ("la_mean_mmhg", "la_vwave_mmhg", "co_l_min", "mean_gradient_mmhg", "rvol_ml", "sbp_mmhg")
INTERVAL_PERCENTILES = (5.0, 95.0)
"""The reported interval: 5th–95th percentile of the ensemble (a central 90 % interval)."""

#: What the reports show per valve state: quantity, label, decimals.
SHOWN = (("la_mean_mmhg", "LA mean (mmHg)", 0), ("co_l_min", "forward output (L/min)", 1), ("mean_gradient_mmhg", "mean gradient (mmHg)", 1))


def format_interval(v: Mapping[str, float], digits: int) -> str:
    """``"20 [15–24]"``: the point estimate and its 90 % interval."""
    return f"{v['value']:.{digits}f} [{v['p05']:.{digits}f}–{v['p95']:.{digits}f}]"


@dataclass(frozen=True)
class Ensemble:
    """The calibration's ensemble of one case: member overrides (valve areas and rate left to the
    valve model and the case) for the preset at the case's heart rate."""

    preset: str
    hr_bpm: float
    members: tuple[Mapping[str, float], ...]
    seed: int
    valve_scale: tuple[tuple[float, float], ...] | None = None  # per member (EROA, forward area) / the point estimate's; None: 1

    def describe(self) -> dict[str, Any]:
        lo, hi = INTERVAL_PERCENTILES
        return {
            "n_ensemble": len(self.members), "seed": self.seed, "interval": f"{lo:g}th-{hi:g}th percentile of the ensemble (90 %)",
            "method": "Laplace posterior of the case's calibration (mitrasim.calibrate.fit); valve model's error not included",
        }  # fmt: skip


def case_ensemble(case: Any, n_ensemble: int = DEFAULT_ENSEMBLE, seed: int = 0) -> Ensemble | None:
    """The calibration ensemble of a :class:`mitrasim.case.Case` (None when it has no measurements)."""
    if getattr(case, "measurements", None) is None:
        return None
    cal = calibrate_case(case, n_ensemble=n_ensemble, seed=seed)
    members = tuple(circulation_overrides(o) for o in cal.ensemble_overrides)
    scale = tuple((_ratio(o, cal.overrides, "eroa_cm2"), _ratio(o, cal.overrides, "mva_cm2")) for o in cal.ensemble_overrides)
    return Ensemble(case.patient.preset, float(case.patient.hr_bpm), members, seed, scale)


def _ratio(member: Mapping[str, float], point: Mapping[str, float], key: str) -> float:
    """A member's fitted valve area over the point estimate's (1 when the area was not fitted)."""
    a, b = member.get(key), point.get(key)
    return 1.0 if a is None or b is None or b <= 0 else float(a) / float(b)


def state_intervals(
    ens: Ensemble,
    eroa_cm2: Sequence[float] | np.ndarray,
    forward_area_cm2: Sequence[float] | np.ndarray,
    values: Sequence[Mapping[str, float]],
    *,
    initial_state: np.ndarray | None = None,
    settings: Any = None,
) -> list[dict[str, Any]]:
    """90 % intervals of :data:`PLAN_QUANTITIES` at each valve state (module docstring).

    ``eroa_cm2``/``forward_area_cm2`` (the engine's effective forward area, C_d,fwd · MVA): the
    states' valve areas (length s); ``values``: the
    point estimate of each quantity at each state; ``initial_state`` (s, 14): warm starts.
    One engine call runs every member at every state.  Returns, per state,
    ``{q: {"value", "p05", "p95"}, "ensemble_members": used, "ensemble_dropped": without a steady beat}``.
    """
    from mitrasim.errors import InputError
    from mitrasim.procedure.hemodynamics import simulate_states, steady_ok

    s, m = len(eroa_cm2), len(ens.members)
    if m < 2:
        raise InputError("n_ensemble", m, "at least 2 ensemble members for an interval")
    ratio = np.ones((m, 2)) if ens.valve_scale is None else np.asarray(ens.valve_scale, dtype=float)
    eroa = np.repeat(np.asarray(eroa_cm2, dtype=float), m) * np.tile(ratio[:, 0], s)
    fwd = np.repeat(np.asarray(forward_area_cm2, dtype=float), m) * np.tile(ratio[:, 1], s)
    presets, members = [ens.preset] * (s * m), list(ens.members) * s
    init = None if initial_state is None else _member_starts(np.repeat(np.asarray(initial_state, dtype=float), m, axis=0), presets, members)
    h = simulate_states(presets, members, np.full(s * m, ens.hr_bpm), eroa, fwd, 1.0, initial_state=init, settings=settings)
    ok = (steady_ok(h) & h.metrics["converged"].astype(bool)).reshape(s, m)
    lo, hi = INTERVAL_PERCENTILES
    out: list[dict[str, Any]] = []
    for i in range(s):
        row: dict[str, Any] = {"ensemble_members": int(ok[i].sum()), "ensemble_dropped": int((~ok[i]).sum())}
        for q in PLAN_QUANTITIES:
            x = h.metrics[q].reshape(s, m)[i][ok[i]]
            if x.size < 2:
                raise InputError("measurements", "(the whole block)", "a calibration whose ensemble has steady beats", f"{x.size} of {m} members reached a steady beat at a valve state")
            row[q] = {"value": float(values[i][q]), "p05": float(np.percentile(x, lo)), "p95": float(np.percentile(x, hi))}
        out.append(row)
    return out


def _member_starts(x: np.ndarray, presets: list[str], members: list[Mapping[str, float]]) -> np.ndarray:
    """The point estimate's states ``x`` as starts of the members: each held to the blood of the
    member's own cold start (its stressed volume, compliances and unstressed volumes, as the
    calibration ran it; :func:`~mitrasim.procedure.start_states.cold_blood`)."""
    from mitrasim.procedure import start_states

    return start_states.hold_blood(x, start_states.blood_weights(presets, members), start_states.cold_blood(presets, members))


def procedure_intervals(case: Any, proc: Any = None, n_ensemble: int = DEFAULT_ENSEMBLE, seed: int = 0) -> dict[str, Any]:
    """The case's calibrated patient before and after the procedure's clips, with 90 % intervals.

    ``proc``: a :class:`mitrasim.procedure.process.ProcedureResult` of ``case`` (default: the
    procedure is run, complications off).  Its baseline and final valve states are run for every
    member of the calibration's ensemble in one engine batch.
    """
    from mitrasim.errors import InputError

    ens = case_ensemble(case, n_ensemble, seed)
    if ens is None:
        raise InputError("measurements", None, "a measurements: block in the case (intervals come from its calibration)")
    if proc is None:
        from mitrasim.procedure.process import run_procedure

        proc = run_procedure(case, seed=None)
    states = {"before": proc.baseline, "after": proc.final}
    rows = state_intervals(
        ens, [st.eroa_cm2 for st in states.values()], [st.forward_area_cm2 for st in states.values()],
        [{q: getattr(st, q) for q in PLAN_QUANTITIES} for st in states.values()],
    )  # fmt: skip
    out: dict[str, Any] = {"clips": [c.device for c in proc.clips], "stop_reason": proc.stop_reason, "uncertainty": ens.describe()}
    for (name, st), row in zip(states.items(), rows):
        out[name] = {"eroa_cm2": st.eroa_cm2, "mva_cm2": st.mva_cm2, **row}
    return out


def case_procedure_intervals(case: Any, proc: Any) -> dict[str, Any] | None:
    """:func:`procedure_intervals` of ``proc`` when the case has measurements, else None (no calibration)."""
    if getattr(case, "measurements", None) is None:
        return None
    return procedure_intervals(case, proc)


def post_clip_coverage(n: int, seed: int, preset: str = "secondary_mr", eroa_after_cm2: float = 0.08, forward_area_after_cm2: float = 2.0,
                       n_ensemble: int = 64, prior_fraction: float = 0.5) -> dict[str, Any]:  # fmt: skip
    """How often the 90 % intervals hold a synthetic patient's TRUE values after a clip.

    ``n`` synthetic patients (:func:`mitrasim.calibrate.synthetic.synthetic_patients`: truth drawn
    from the fit's prior scaled by ``prior_fraction``, the default panel measured with each
    method's noise) are calibrated; each ensemble is run at a clipped valve (``eroa_after_cm2``,
    effective forward area ``forward_area_after_cm2``) and the truth, simulated at the same valve,
    is compared with the interval of each quantity of :data:`SHOWN`.  Returns the hits per quantity
    and in all, and the fits that did not converge (counted, left out).
    """
    from mitrasim.calibrate.fit import SETTINGS, calibrate_measurements
    from mitrasim.calibrate.synthetic import synthetic_patients
    from mitrasim.physiology.simulation import simulate

    pats = synthetic_patients(n, seed=seed, preset=preset, prior_fraction=prior_fraction)
    valve = {"eroa_cm2": eroa_after_cm2, "mva_cm2": forward_area_after_cm2}
    truth = simulate(preset, [p.overrides | valve for p in pats], settings=SETTINGS)
    hits = {q: 0 for q, _, _ in SHOWN}
    used, failed = 0, 0
    for i, p in enumerate(pats):
        cal = calibrate_measurements(p.measurements, preset, n_ensemble=n_ensemble, seed=seed + i)
        if not cal.converged:
            failed += 1
            continue
        members = tuple(circulation_overrides(o) for o in cal.ensemble_overrides)
        ens = Ensemble(preset, float(p.overrides["hr_bpm"]), members, seed + i)
        point = simulate(preset, circulation_overrides(cal.overrides), eroa_cm2=eroa_after_cm2,
                         mva_cm2=forward_area_after_cm2, hr_bpm=ens.hr_bpm, settings=SETTINGS)  # fmt: skip
        row = state_intervals(ens, [eroa_after_cm2], [forward_area_after_cm2], [{q: float(point.metrics[q][0]) for q in PLAN_QUANTITIES}], settings=SETTINGS)[0]
        used += 1
        for q in hits:
            hits[q] += int(row[q]["p05"] <= truth.metrics[q][i] <= row[q]["p95"])
    total = sum(hits.values())
    return {"patients": used, "not_converged": failed, "hits": hits, "pairs": used * len(hits), "rate": total / max(1, used * len(hits))}
