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
from typing import Any, Mapping

from mitrasim import citations
from mitrasim.calibrate.fit import Calibration, calibrate_measurements
from mitrasim.errors import InputError

__all__ = ["DEFAULT_ENSEMBLE", "VALVE_AND_RATE", "calibrate_case", "calibrated_overrides", "circulation_overrides"]

DEFAULT_ENSEMBLE = 64
"""Members of a case's uncertainty ensemble (5th/95th percentiles of 64 draws: each percentile's
rank is within about ±2 of its target; model choice, the cost is one batch per use)."""

VALVE_AND_RATE = ("eroa_cm2", "mva_cm2", "hr_bpm")
"""Fitted or fixed in the calibration but set by the valve model and the case downstream."""


def circulation_overrides(overrides: Mapping[str, float]) -> dict[str, float]:
    """A fitted patient's engine overrides less :data:`VALVE_AND_RATE` (set per valve state and by the case)."""
    return {k: v for k, v in overrides.items() if k not in VALVE_AND_RATE}


def calibrate_case(case: Any, n_ensemble: int = DEFAULT_ENSEMBLE, seed: int = 0) -> Calibration:
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
    if case.measurements is None:  # calibrate_case checked it; the JSON round trip keeps it
        raise InputError("measurements", None, "a measurements: block in the case to calibrate to")
    cal = calibrate_measurements(case.measurements, case.patient.preset, base, hr_bpm=case.patient.hr_bpm, n_ensemble=n_ensemble, seed=seed)
    if not cal.converged:
        raise InputError("measurements", "(the whole block)", "measurements the circulation model can fit", f"calibration {cal.message}")
    return cal


def calibrated_overrides(case: Any) -> dict[str, float]:
    """Engine overrides of the case's patient: calibrated when the case has measurements."""
    if getattr(case, "measurements", None) is None:
        return dict(case.patient.overrides)
    cal = calibrate_case(case)  # the point estimate; the default ensemble comes with it (cached for the intervals)
    return circulation_overrides(cal.overrides)
