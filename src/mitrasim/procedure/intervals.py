"""The calibrated patient's uncertainty carried through the procedure: 90 % intervals before and after.

Above :mod:`mitrasim.procedure.process` (it runs the procedure) and :mod:`mitrasim.procedure.patient`
(the calibration it spreads); ``mitrasim calibrate CASE.yaml --procedure`` prints it.
"""

from __future__ import annotations

from typing import Any

from mitrasim.procedure.patient import VALVE_AND_RATE, calibrate_case

__all__ = ["PLAN_QUANTITIES", "procedure_intervals"]


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
