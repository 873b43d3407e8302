"""A case file run through the procedure, as the pathway's :class:`~mitrasim.pathway.outcome.ValveOutcome`.

This module sits above :mod:`mitrasim.procedure` and :mod:`mitrasim.pathway` (the pathway reads
results, never the engine): ``mitrasim careplan --case CASE.yaml`` calls it to simulate the
procedure and hands the pathway only the result.
"""

from __future__ import annotations

from pathlib import Path

from mitrasim.errors import InputError
from mitrasim.pathway.outcome import ValveOutcome, grade_or_indeterminate, outcome_from_dict, read_mapping

__all__ = ["outcome_from_case", "load_case_or_outcome"]


def outcome_from_case(path: str | Path) -> ValveOutcome:
    """Run the procedure on a case file (no complications) and return its predicted outcome.

    This is the one place that reads a case's simulated results (the procedure's result object);
    ``mitrasim careplan --case CASE.yaml`` shows them in the clinician's report only, never in the
    patient's guide.  An indeterminate grade stays "indeterminate".
    """
    from mitrasim.case import load_case
    from mitrasim.procedure import run_procedure
    from mitrasim.valve.fit import valve_from_spec

    case = load_case(path)
    result = run_procedure(case, seed=None)
    clips = [c for c in result.clips if c.effective]
    if not clips:
        raise InputError("case", str(path), "a case in which the simulated procedure places at least one clip",
                         f"no clip placed: {result.stop_reason}")
    line = valve_from_spec(case.valve).line_length_mm

    return outcome_from_dict({
        "eroa_before_cm2": result.baseline.eroa_cm2,
        "eroa_after_cm2": result.final.eroa_cm2,
        "mr_grade_before": grade_or_indeterminate(result.baseline.mr_grade),
        "mr_grade_after": grade_or_indeterminate(result.final.mr_grade),
        "mean_gradient_after_mmhg": result.final.mean_gradient_mmhg,
        "mva_after_cm2": result.final.mva_cm2,
        "coaptation_length_mm": line,
        "clips": [{"position_mm": c.position_mm, "width_mm": c.width_mm, "device": c.device} for c in clips],
    })


def load_case_or_outcome(path: str | Path) -> ValveOutcome:
    """A case file (``patient:`` and ``valve:``) is run through the procedure; a result file is read as it is."""
    data = read_mapping(path)
    if isinstance(data, dict) and "valve" in data and "patient" in data:
        return outcome_from_case(path)
    return outcome_from_dict(data)
