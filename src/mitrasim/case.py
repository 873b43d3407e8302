"""The case file: one patient, one valve, optional echo and procedure rules.

A case is YAML or JSON validated by pydantic (v2) models with ``extra="forbid"``
and physical ranges on every number; units are in the field names.  Load it
with :func:`load_case`; every error is an :class:`~mitrasim.errors.InputError`
naming the field path (``valve.lesions.0.gap_mm``), the value and what is
allowed.  Beyond the per-field ranges, :func:`check_case` checks what needs
several fields: leaflets longer than the annulus allows, a gap no device can
bridge, a planned clip outside the coaptation line, measured areas without a
lesion to shape them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mitrasim.calibrate.measurements import Measurements, check_measurements
from mitrasim.devices.catalogue import DEFAULT_CATALOGUE, max_grasp_reach_mm
from mitrasim.echo.schema import EchoInput
from mitrasim.errors import InputError, validate_model
from mitrasim.files import read_data
from mitrasim.protocol import Protocol
from mitrasim.ranges import RANGES
from mitrasim.valve.geometry import lesion_extent_mm, line_length_mm, scallop_span_mm

__all__ = [
    "Patient",
    "Annulus",
    "AnteriorLeaflet",
    "PosteriorLeaflet",
    "Leaflets",
    "Lesion",
    "ValveSpec",
    "Echo",
    "PlannedClip",
    "ProcedureRules",
    "Case",
    "load_case",
    "parse_case",
    "check_case",
    "clip_position_mm",
    "LEAFLET_MAX_FRACTION_OF_AP",
]

LEAFLET_MAX_FRACTION_OF_AP = {"anterior": 1.5, "posterior": 1.0}
"""A leaflet longer than this fraction of the antero-posterior diameter cannot
fit the annulus (model bound; normal anterior ≈ 0.8·AP, posterior ≈ 0.45·AP,
with room for Barlow elongation)."""

Scallop = Literal["A1", "A2", "A3", "P1", "P2", "P3"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Patient(_Model):
    preset: str = Field(min_length=1, max_length=64, description="engine parameter set, e.g. primary_mr, secondary_mr")
    overrides: dict[str, float] = Field(default_factory=dict, description="engine parameter overrides")
    hr_bpm: float = RANGES["hr_bpm"].field(70.0)
    age_years: float = Field(ge=18, le=110)
    sex: Literal["female", "male"]
    etiology: Literal["primary", "secondary"]
    lvef_pct: float | None = Field(None, ge=5, le=85)
    on_anticoagulant: bool = False
    sts_prom_pct: float | None = Field(None, gt=0, le=80, description="STS predicted risk of mortality (surgical-risk score) when known")


class Annulus(_Model):
    ap_diameter_mm: float = Field(ge=18, le=50, description="antero-posterior (septal-lateral) diameter")
    ic_diameter_mm: float = Field(ge=22, le=55, description="intercommissural diameter")


class AnteriorLeaflet(_Model):
    A1: float = Field(21.0, ge=8, le=45)
    A2: float = Field(24.0, ge=8, le=45)
    A3: float = Field(21.0, ge=8, le=45)


class PosteriorLeaflet(_Model):
    P1: float = Field(10.0, ge=3, le=30)
    P2: float = Field(13.0, ge=3, le=30)
    P3: float = Field(10.0, ge=3, le=30)


class Leaflets(_Model):
    anterior_mm: AnteriorLeaflet = Field(default_factory=AnteriorLeaflet)
    posterior_mm: PosteriorLeaflet = Field(default_factory=PosteriorLeaflet)


class Lesion(_Model):
    """A leak along the coaptation line.

    ``flail``/``prolapse``: the named scallops (``segments``), the gap (mm, the
    distance between the leaflet edges) and the width along the line (mm).
    ``tethering`` (functional MR): ``coaptation_gap_mm`` is given as ``gap_mm``;
    ``tenting_depth_mm`` restricts the diastolic opening.  ``center_mm`` and
    ``width_mm`` default from the segments (see
    :func:`mitrasim.valve.geometry.lesion_center_width_mm`).
    """

    kind: Literal["flail", "prolapse", "tethering"]
    segments: list[Scallop] = Field(default_factory=list)
    gap_mm: float = Field(gt=0, le=25)
    width_mm: float | None = Field(None, gt=0, le=55)
    center_mm: float | None = Field(None, ge=0, le=55)
    tenting_depth_mm: float | None = Field(None, ge=0, le=25)


class ValveSpec(_Model):
    annulus: Annulus
    leaflets: Leaflets = Field(default_factory=Leaflets)
    lesions: list[Lesion] = Field(default_factory=list, max_length=6)
    calcification: Literal["none", "mild", "moderate", "severe"] = Field("none", description="leaflet calcification grade (of calcified_segments, or all)")
    calcified_segments: list[Scallop] = Field(default_factory=list)
    annular_calcification: Literal["none", "mild", "moderate", "severe"] = Field("none", description="mitral annular calcification (MAC) grade")
    cleft_segments: list[Scallop] = Field(default_factory=list)
    eroa_cm2: float | None = RANGES["eroa_cm2"].field(None, description="measured EROA (PISA); the model is fitted to it")
    mva_cm2: float | None = RANGES["mva_cm2"].field(None, description="measured MVA (planimetry); the model is fitted to it")


Echo = EchoInput
"""The ``echo:`` section: measured values, one definition with ``mitrasim grade --case``
(:class:`mitrasim.echo.schema.EchoInput`)."""


class PlannedClip(_Model):
    """A clip placed by the user: at ``position_mm`` or at the centre of ``segment``."""

    device: str
    position_mm: float | None = Field(None, ge=0, le=60)
    segment: Literal["1", "2", "3"] | None = None


class ProcedureRules(Protocol):
    """The ``procedure:`` section: the operator's :class:`~mitrasim.protocol.Protocol`
    (one schema with the trials and the web; its ranges are defined there) and planned ``clips``."""

    clips: list[PlannedClip] = Field(default_factory=list, max_length=6)


class Case(_Model):
    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=4000)
    patient: Patient
    valve: ValveSpec
    echo: Echo | None = None
    measurements: Measurements | None = Field(None, description="what the team measured, each with method and uncertainty: the circulation is calibrated to it (mitrasim.calibrate)")
    procedure: ProcedureRules = Field(default_factory=ProcedureRules)


def check_case(case: Case) -> Case:
    """Cross-field checks; raise :class:`InputError` naming the field path."""
    v = case.valve
    ap = v.annulus.ap_diameter_mm
    L = line_length_mm(v.annulus.ic_diameter_mm)
    for side, leaflet in (("anterior", v.leaflets.anterior_mm), ("posterior", v.leaflets.posterior_mm)):
        lim = LEAFLET_MAX_FRACTION_OF_AP[side] * ap
        for name, val in leaflet.model_dump().items():
            if val > lim:
                raise InputError(
                    f"valve.leaflets.{side}_mm.{name}", val, f"<= {lim:.1f} mm ({LEAFLET_MAX_FRACTION_OF_AP[side]:g} x AP diameter {ap:g} mm)",
                    "leaflet longer than the annulus allows",
                )
    reach = max_grasp_reach_mm(DEFAULT_CATALOGUE)
    for k, les in enumerate(v.lesions):
        base = f"valve.lesions.{k}"
        if les.kind in ("flail", "prolapse") and not les.segments and les.center_mm is None:
            raise InputError(f"{base}.segments", les.segments, "at least one scallop (A1..P3) or center_mm")
        if les.gap_mm > reach:
            raise InputError(f"{base}.gap_mm", les.gap_mm, f"<= {reach:g} mm (largest grasp reach in the catalogue)", "gap beyond any device")
        if les.center_mm is not None and les.center_mm > L:
            raise InputError(f"{base}.center_mm", les.center_mm, f"[0, {L:g}] mm (coaptation line)")
        if les.width_mm is not None and les.width_mm > L:
            raise InputError(f"{base}.width_mm", les.width_mm, f"<= {L:g} mm (coaptation line)")
        if les.kind != "tethering" and les.tenting_depth_mm is not None:
            raise InputError(f"{base}.tenting_depth_mm", les.tenting_depth_mm, "only for kind 'tethering'")
        if les.segments and les.center_mm is not None:
            a, b = scallop_span_mm(les.segments, L)
            if not a <= les.center_mm <= b:
                raise InputError(f"{base}.center_mm", les.center_mm, f"[{a:.1f}, {b:.1f}] mm (inside its segments {'+'.join(les.segments)})", "lesion centre on a segment it does not name")
        lo, hi = lesion_extent_mm(les, L)
        if lo < -1e-9 or hi > L + 1e-9:
            raise InputError(f"{base}.width_mm", les.width_mm, f"a lesion inside the coaptation line [0, {L:g}] mm (it spans {lo:.1f} to {hi:.1f} mm)")
    _check_overlaps(v, L)
    if case.measurements is not None:
        check_measurements(case.measurements, "measurements")
    if v.eroa_cm2 and not v.lesions:
        raise InputError("valve.lesions", [], "at least one lesion to shape the measured eroa_cm2")
    for k, c in enumerate(case.procedure.clips):
        base = f"procedure.clips.{k}"
        if c.device not in DEFAULT_CATALOGUE:
            raise InputError(f"{base}.device", c.device, f"one of {sorted(DEFAULT_CATALOGUE)}")
        if (c.position_mm is None) == (c.segment is None):
            raise InputError(f"{base}.position_mm", c.position_mm, "exactly one of position_mm or segment")
        if c.position_mm is not None:
            half = DEFAULT_CATALOGUE[c.device].width_mm / 2
            if not half <= c.position_mm <= L - half:
                raise InputError(f"{base}.position_mm", c.position_mm, f"[{half:g}, {L - half:g}] mm (clip inside the coaptation line of {L:g} mm)", "clip outside the coaptation line")
    if len(case.procedure.clips) > case.procedure.max_clips:
        raise InputError("procedure.clips", len(case.procedure.clips), f"at most procedure.max_clips = {case.procedure.max_clips} clips")
    return case


def _check_overlaps(v: ValveSpec, length_mm: float) -> None:
    """Two lesions of the same family (degenerative: flail/prolapse; functional: tethering)
    may not overlap along the line: one orifice is one lesion (give it the union's segments)."""
    ext = [(k, les, *lesion_extent_mm(les, length_mm)) for k, les in enumerate(v.lesions)]
    for k, les, lo, hi in ext:
        for j, other, lo2, hi2 in ext[:k]:
            same_family = (les.kind == "tethering") == (other.kind == "tethering")
            if same_family and lo < hi2 and lo2 < hi:
                raise InputError(
                    f"valve.lesions.{k}", f"{les.kind} {lo:.1f}-{hi:.1f} mm",
                    f"no overlap with valve.lesions.{j} ({other.kind} {lo2:.1f}-{hi2:.1f} mm); describe one lesion over the union of segments",
                    "overlapping lesions",
                )


def clip_position_mm(case: Case, clip: PlannedClip) -> float:
    """Position (mm) of a planned clip: given, or the centre of its segment."""
    if clip.position_mm is not None:
        return float(clip.position_mm)
    L = line_length_mm(case.valve.annulus.ic_diameter_mm)
    a, b = scallop_span_mm([f"A{clip.segment}"], L)
    return 0.5 * (a + b)


def parse_case(data: Any, source: str = "case") -> Case:
    """Validate a mapping as a :class:`Case`; errors → :class:`InputError`."""
    if not isinstance(data, dict):
        raise InputError(source, type(data).__name__, "a mapping with patient and valve")
    return check_case(validate_model(Case, data))


def load_case(path: str | Path) -> Case:
    """Load and validate a case file (``.yaml``/``.yml`` or ``.json``).

    Raises :class:`InputError` with the field path (e.g. ``valve.lesions.0.gap_mm``)
    for unknown fields, values out of range and cross-field violations.
    """
    data = read_data(path, "path", "a readable case file", "valid YAML or JSON")
    return parse_case(data, source=Path(path).name)

