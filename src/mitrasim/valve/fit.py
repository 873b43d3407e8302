"""Fit the model's profiles to measured EROA and MVA.

The lesion fixes the *shape* and *location* of the systolic gap; a measured
EROA fixes its size.  The fit is a 1-D scaling of each profile:

    g ← a·g,  a = EROA_meas / EROA_model      (g_deg and g_fun alike)
    w ← b·w,  b = MVA_meas / MVA_model,

which reproduces the measured values exactly (EROA and MVA are linear in
``g`` and ``w``) and keeps where the leak is and how it is shaped.  Scaling
the gap changes the lesion's gap in mm, not its width: echo measures the
width of the jet along the line more reliably than its depth.
"""

from __future__ import annotations

from mitrasim.errors import InputError
from mitrasim.valve.geometry import ValveModel, ValveSpecLike, build_valve

__all__ = ["fit_to_measured", "valve_from_spec"]


def fit_to_measured(valve: ValveModel, eroa_cm2: float | None = None, mva_cm2: float | None = None) -> ValveModel:
    """Scale ``g`` to ``eroa_cm2`` and ``w`` to ``mva_cm2`` (either may be None)."""
    out = valve
    notes = list(valve.notes)
    if eroa_cm2 is not None:
        model = valve.eroa_cm2
        if eroa_cm2 > 0 and model <= 0:
            raise InputError("valve.lesions", [], "a lesion with a gap to fit the measured eroa_cm2 to")
        a = eroa_cm2 / model if model > 0 else 0.0
        out = out.with_(gap_degenerative_mm=a * out.gap_degenerative_mm, gap_functional_mm=a * out.gap_functional_mm)
        notes.append(f"gap profile scaled by {a:.3f} to the measured EROA {eroa_cm2:g} cm2")
    if mva_cm2 is not None:
        b = mva_cm2 / valve.mva_cm2
        out = out.with_(opening_mm=b * out.opening_mm)
        notes.append(f"opening profile scaled by {b:.3f} to the measured MVA {mva_cm2:g} cm2")
    return out.with_(notes=tuple(notes))


def valve_from_spec(spec: "ValveSpecLike") -> ValveModel:
    """Build the valve and, where the spec gives measured EROA/MVA, fit it to them."""
    return fit_to_measured(build_valve(spec), spec.eroa_cm2, spec.mva_cm2)
