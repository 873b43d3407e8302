"""Input schema of measured echo values (the ``echo:`` section of a case file), pydantic v2.

:class:`EchoInput` is the one definition: :mod:`mitrasim.case` uses it as
``Case.echo``, and ``mitrasim grade --case`` reads the same section.

Validated at the edge; :func:`to_mr_inputs` turns it into :class:`~mitrasim.echo.grading.MRInputs`,
computing EROA and RVol by PISA when the radius, aliasing velocity, MR peak
velocity (and VTI) are given and EROA (RVol) is not.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mitrasim.echo import calculators as calc
from mitrasim.echo.grading import MRInputs
from mitrasim.errors import InputError, validate_model
from mitrasim.files import read_data
from mitrasim.ranges import RANGES

__all__ = ["EchoInput", "load_case_echo", "to_mr_inputs", "MR_SIGN_FIELDS"]

#: Grading inputs taken from the echo section as they are (EROA and RVol may be derived by PISA).
MR_SIGN_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(MRInputs) if f.name not in ("eroa_cm2", "rvol_ml"))


class EchoInput(BaseModel):
    """Measured echo values; every field optional, units in the names."""

    model_config = ConfigDict(extra="forbid")

    eroa_cm2: float | None = RANGES["eroa_cm2"].field(None)
    rvol_ml: float | None = RANGES["rvol_ml"].field(None)
    rf_pct: float | None = RANGES["rf_pct"].field(None)
    vc_cm: float | None = RANGES["vc_cm"].field(None)
    vc_biplane_cm: float | None = RANGES["vc_biplane_cm"].field(None)
    pisa_radius_cm: float | None = RANGES["pisa_radius_cm"].field(None)
    aliasing_cm_s: float | None = RANGES["aliasing_cm_s"].field(None)
    mr_vmax_cm_s: float | None = Field(None, gt=0, le=1000)
    mr_vti_cm: float | None = Field(None, ge=0, le=500)
    wall_angle_deg: float | None = RANGES["wall_angle_deg"].field(None)
    pv_flow: Literal["normal", "blunted", "reversal"] | None = None
    e_velocity_m_s: float | None = RANGES["e_velocity_m_s"].field(None)
    inflow_pattern: Literal["a_dominant", "variable", "e_dominant"] | None = None
    jet_area_pct: float | None = RANGES["jet_area_pct"].field(None)
    jet_type: Literal["central", "eccentric", "eccentric_wall_hugging"] | None = None
    cw_density: Literal["faint", "dense_parabolic", "dense_triangular"] | None = None
    mv_morphology: Literal["normal_or_mild", "moderate", "flail_or_large_defect"] | None = None
    la_volume_index_ml_m2: float | None = RANGES["la_volume_index_ml_m2"].field(None)
    lv_size: Literal["normal", "enlarged"] | None = None
    la_diameter_mm: float | None = RANGES["la_diameter_mm"].field(None)  # ESC 2021 Table 7 criteria
    lvesd_mm: float | None = RANGES["lvesd_mm"].field(None)
    tvi_mitral_aortic_ratio: float | None = RANGES["tvi_mitral_aortic_ratio"].field(None)
    mva_cm2: float | None = RANGES["mva_cm2"].field(None)
    mean_gradient_mmhg: float | None = Field(None, ge=0, le=60)
    hr_bpm: float | None = Field(None, ge=20, le=250)  # at the study; the stenosis gradient's caveat
    # context reported with the study (not grading inputs)
    lvef_pct: float | None = Field(None, ge=5, le=85)
    lvedv_ml: float | None = Field(None, ge=20, le=500)
    lvesv_ml: float | None = Field(None, ge=5, le=450)
    la_volume_ml: float | None = Field(None, ge=10, le=400)
    pasp_mmhg: float | None = Field(None, ge=10, le=120)
    # None: the case's patient.etiology, else primary
    etiology: Literal["primary", "secondary"] | None = None
    guideline: Literal["ase2017", "esc2021"] = "ase2017"
    elliptical_orifice: bool = False  # secondary MR, ESC 2021: EROA's lower severe cut
    low_flow: bool = False  # secondary MR, ESC 2021: RVol's lower severe cut


def validate_echo(data: dict[str, Any], prefix: str = "echo") -> EchoInput:
    """Validate a mapping into :class:`EchoInput`; raises :class:`InputError` naming the first bad field."""
    return validate_model(EchoInput, data, prefix=prefix)


def load_case_echo(path: str | Path) -> dict[str, Any]:
    """Read the ``echo:`` section of a YAML (or JSON) case file as a raw mapping.

    Without an ``etiology`` of its own the section takes ``patient.etiology``.
    """
    doc = read_data(path, "case", "a readable YAML/JSON case file", "valid YAML/JSON")
    if not isinstance(doc, dict) or not isinstance(doc.get("echo"), dict):
        raise InputError("case.echo", None if not isinstance(doc, dict) else doc.get("echo"), "a mapping of measured echo values")
    out = dict(doc["echo"])
    patient = doc.get("patient")
    if "etiology" not in out and isinstance(patient, dict) and patient.get("etiology") is not None:
        out["etiology"] = patient["etiology"]
    return out


def to_mr_inputs(e: EchoInput) -> tuple[MRInputs, list[str]]:
    """Grading inputs from validated echo values; derives EROA/RVol by PISA when possible.

    **Returns:** (inputs, notes on what was derived).

    **Raises:** `InputError` if PISA is half-specified (e.g. a peak velocity without radius).
    """
    notes: list[str] = []
    eroa, rvol = e.eroa_cm2, e.rvol_ml
    pisa = {"pisa_radius_cm": e.pisa_radius_cm, "aliasing_cm_s": e.aliasing_cm_s, "mr_vmax_cm_s": e.mr_vmax_cm_s}
    if eroa is None and (e.mr_vmax_cm_s is not None or e.mr_vti_cm is not None):
        missing = [k for k, v in pisa.items() if v is None]
        if missing:
            raise InputError(missing[0], None, "PISA needs pisa_radius_cm, aliasing_cm_s and mr_vmax_cm_s (and mr_vti_cm for RVol)")
    if eroa is None and e.pisa_radius_cm is not None and e.aliasing_cm_s is not None and e.mr_vmax_cm_s is not None:
        alpha = 180.0 if e.wall_angle_deg is None else e.wall_angle_deg
        eroa = calc.pisa_eroa_cm2(e.pisa_radius_cm, e.aliasing_cm_s, e.mr_vmax_cm_s, alpha)
        notes.append(f"EROA {eroa:.3f} cm² by PISA (r {e.pisa_radius_cm:g} cm, Va {e.aliasing_cm_s:g} cm/s, Vmax {e.mr_vmax_cm_s:g} cm/s, α {alpha:g}°)")
    if rvol is None and eroa is not None and e.mr_vti_cm is not None:
        rvol = calc.pisa_rvol_ml(eroa, e.mr_vti_cm)
        notes.append(f"RVol {rvol:.1f} mL = EROA × VTI {e.mr_vti_cm:g} cm")
    same = {f: getattr(e, f) for f in MR_SIGN_FIELDS}
    mr = MRInputs(eroa_cm2=eroa, rvol_ml=rvol, **same)
    return mr, notes
