"""The mitral valve: coaptation line, lesions, gap and opening profiles, the clip model.

Public API::

    build_valve(spec) -> ValveModel               # geometry from a case's ValveSpec
    valve_from_spec(spec) -> ValveModel           # ... fitted to measured EROA/MVA if given
    fit_to_measured(valve, eroa_cm2, mva_cm2)     # 1-D scaling of the profiles
    evaluate_plans(valve, positions_mm, widths_mm, arm_lengths_mm) -> PlanAreas   # batched
    apply_clips(valve, positions_mm, widths_mm, arm_lengths_mm) -> ClipResult      # one plan, orifices
"""

from mitrasim.valve.clip import DEFAULT_CLIP_PARAMS, ClipModelParams, ClipResult, PlanAreas, apply_clips, evaluate_plans
from mitrasim.valve.fit import fit_to_measured, valve_from_spec
from mitrasim.valve.geometry import Orifice, ValveModel, build_valve

__all__ = [
    "ValveModel",
    "Orifice",
    "build_valve",
    "valve_from_spec",
    "fit_to_measured",
    "evaluate_plans",
    "apply_clips",
    "PlanAreas",
    "ClipResult",
    "ClipModelParams",
    "DEFAULT_CLIP_PARAMS",
]
