"""A case file's own patient: its ``measurements:`` fitted on its preset (used by plan, procedure, web).

:func:`calibrated_overrides` is what the procedure and the planner run on: the case's
``patient.overrides`` with the fitted circulation parameters on top (the valve areas and the
heart rate stay theirs: the valve model and ``patient.hr_bpm`` give them).  The EROA and forward
area the fit holds fixed, when they are not measured, are those the procedure's baseline runs on:
the valve model's EROA and its MVA through the forward discharge coefficient.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from mitrasim import citations
from mitrasim.calibrate.fit import Calibration, calibrate_measurements
from mitrasim.errors import InputError

__all__ = ["VALVE_AND_RATE", "calibrate_case", "calibrated_overrides"]

VALVE_AND_RATE = ("eroa_cm2", "mva_cm2", "hr_bpm")
"""Fitted or fixed in the calibration but set by the valve model and the case downstream."""


def calibrate_case(case: Any, n_ensemble: int = 64, seed: int = 0) -> Calibration:
    """Calibrate ``case`` (a validated :class:`mitrasim.case.Case` with ``measurements``)."""
    if case.measurements is None:
        raise InputError("measurements", None, "a measurements: block in the case to calibrate to")
    cal = _cached(case.model_dump_json(), n_ensemble, seed)
    citations.cite(*cal.citations)  # on every call: the cache must not hide the sources from a later collector
    return cal


@lru_cache(maxsize=32)
def _cached(case_json: str, n_ensemble: int, seed: int) -> Calibration:
    from mitrasim.case import Case

    case = Case.model_validate(json.loads(case_json))
    from mitrasim.procedure.calibration import forward_effective_area_cm2
    from mitrasim.valve import valve_from_spec

    valve = valve_from_spec(case.valve)  # the areas the procedure's baseline runs on
    base = dict(case.patient.overrides)
    base.setdefault("eroa_cm2", float(valve.eroa_cm2))
    base.setdefault("mva_cm2", float(forward_effective_area_cm2(valve.mva_cm2)))
    cal = calibrate_measurements(case.measurements, case.patient.preset, base, hr_bpm=case.patient.hr_bpm, n_ensemble=n_ensemble, seed=seed)
    if not cal.converged:
        raise InputError("measurements", "(the whole block)", "measurements the circulation model can fit", f"calibration {cal.message}")
    return cal


def calibrated_overrides(case: Any) -> dict[str, float]:
    """Engine overrides of the case's patient: calibrated when the case has measurements."""
    if getattr(case, "measurements", None) is None:
        return dict(case.patient.overrides)
    cal = calibrate_case(case, n_ensemble=0)  # the point estimate: no ensemble needed
    return {k: v for k, v in cal.overrides.items() if k not in VALVE_AND_RATE}


#: Quantities carried with intervals before and after the procedure's plan.
PLAN_QUANTITIES = ("la_mean_mmhg", "la_vwave_mmhg", "co_l_min", "mean_gradient_mmhg", "rvol_ml", "sbp_mmhg")


def procedure_intervals(case: Any, n_ensemble: int = 64, seed: int = 0) -> dict[str, Any]:
    """The case's calibrated patient before and after the procedure's plan, with 90 % intervals.

    The procedure (:func:`mitrasim.procedure.run_procedure`, complications off) runs on the fitted
    patient and gives the valve before and after its clips (EROA, effective forward area); the
    calibration's ensemble is then run at both valve states in ONE engine batch, so every quantity
    of :data:`PLAN_QUANTITIES` carries the spread the measurements leave.
    """
    import numpy as np

    from mitrasim.calibrate.fit import SETTINGS, _interval
    from mitrasim.physiology.simulation import simulate
    from mitrasim.procedure.process import run_procedure

    cal = calibrate_case(case, n_ensemble=n_ensemble, seed=seed)
    proc = run_procedure(case, seed=None)
    members = [{k: v for k, v in o.items() if k not in VALVE_AND_RATE} for o in [cal.overrides, *cal.ensemble_overrides]]
    states = {"before": proc.baseline, "after": proc.final}
    ov, eroa, mva = [], [], []
    for s in states.values():
        ov += members
        eroa += [s.eroa_cm2] * len(members)
        mva += [s.forward_area_cm2] * len(members)
    res = simulate(case.patient.preset, ov, eroa_cm2=np.array(eroa), mva_cm2=np.array(mva), hr_bpm=case.patient.hr_bpm, settings=SETTINGS)
    k = len(members)
    out: dict[str, Any] = {"clips": [c.device for c in proc.clips], "stop_reason": proc.stop_reason}
    for j, (name, s) in enumerate(states.items()):
        sl = slice(j * k, (j + 1) * k)
        conv = res.metrics["converged"][sl].astype(bool)
        out[name] = {"eroa_cm2": s.eroa_cm2, "mva_cm2": s.mva_cm2, "ensemble_dropped": int((~conv[1:]).sum())}
        for q in PLAN_QUANTITIES:
            x = res.metrics[q][sl]
            out[name][q] = _interval(np.concatenate([x[:1], x[1:][conv[1:]]]))
    return out
