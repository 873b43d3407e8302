"""The operator's protocol: one schema for case files, trial arms, the planner and the web.

:class:`Protocol` is the single definition of the procedure's strategy and stop rules and of
their ranges: a case file's ``procedure:`` section (:class:`mitrasim.case.ProcedureRules`, which
adds the planned ``clips``), a trial arm's ``strategy:`` (:class:`mitrasim.cohort.adapter.Strategy`,
which adds the ``stop_rule`` shorthand) and the web requests (which carry a case) are this model;
the runtime :class:`~mitrasim.procedure.rules.Rules` is built from it and validated by it.

The limits and their comparisons (stated once, applied literally by :func:`gradient_ok` and
:func:`area_ok`, printed by :func:`limit_text`):

* release a clip only if the mean gradient is **strictly below** ``max_gradient_mmhg``
  (a gradient equal to the limit is refused) — clinical.md, "Stop rules seen in practice";
* and only if the planimetric valve area is **at least** ``min_mva_cm2`` —
  MVARC 2015 "no iatrogenic stenosis" (both defaults are the MVARC rows of
  :mod:`mitrasim.echo.thresholds`, :data:`MVARC_GRADIENT_MMHG` and :data:`MVARC_EOA_CM2`);
* a clip that leaves the gradient above ``abort_gradient_mmhg`` is noted as past the abort limit;
* the operator aims for ``target_residual_grade``; with ``accept_2plus_near_limit`` a residual
  2+ (when the target is lower) is accepted once the gradient is within ``gradient_band_mmhg`` of
  its limit (``g ≥ max_gradient_mmhg − band``) or the area within ``area_band_cm2`` of its limit
  (``MVA < min_mva_cm2 + band``): another clip would likely break a limit.  The band widths are a
  model choice (no source gives them);
* at most ``max_clips`` clips and ``max_grasp_attempts`` grasps in the whole procedure (each
  clip's first grasp, and each move: a reposition of the same device or an exchange for another
  size of the family, counted separately); a move needs a grasp left after the first;
  ``device_exchange`` False keeps the first device of each clip.  The operator judges the
  alternatives on imaging before grasping (the model moves at most once per clip, to the best
  position within the rules), so a clip uses one or two grasps;
* with ``assess_at_restored_afterload`` (default on) the decision readings under general
  anaesthesia are taken with the afterload restored to the patient's awake value (the
  phenylephrine "afterload challenge", :mod:`mitrasim.procedure.loading`): intra-operative TEE
  under GA under-estimates MR and matching the awake blood pressure with phenylephrine removes
  the difference (PubMed 16950471; Shiran 2007); off: the readings are GA's own.  The grasp
  itself is done in the GA state either way.

Printing: numbers next to a limit are printed with as many decimals as it takes (up to 6) for
the printed number to compare with the limit as the true one does (:func:`compare_text`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from mitrasim.devices.catalogue import DEFAULT_CATALOGUE
from mitrasim.echo.thresholds import threshold
from mitrasim.errors import validate_model

__all__ = [
    "Protocol",
    "DEFAULT_PROTOCOL",
    "GRADES",
    "grade_of",
    "GRADIENT_COMPARISON",
    "AREA_COMPARISON",
    "gradient_ok",
    "area_ok",
    "compare_text",
    "check_protocol",
    "number_text",
    "near_limit_text",
    "MVARC_GRADIENT_MMHG",
    "MVARC_EOA_CM2",
]

GRADES = ("0", "1+", "2+")
"""Target grades a protocol may aim for."""

GRADIENT_COMPARISON = "<"
"""A clip may be released when ``gradient < max_gradient_mmhg``."""

AREA_COMPARISON = "≥"
"""A clip may be released when ``MVA ≥ min_mva_cm2``."""


_DEFAULT_ABORT_MMHG = 8.0
"""Abort limit of the gradient (clinical.md, "Stop rules seen in practice": abort above 8 mmHg)."""


def grade_of(text: str) -> int:
    """``"1+"`` → 1, ``"0"`` → 0."""
    return GRADES.index(text)


def _mvarc(parameter: str, kind: str) -> float:
    row = threshold("mvarc", parameter, kind)
    assert row is not None, (parameter, kind)  # the table's MVARC rows (tests/test_protocol*)
    return row.value


#: MVARC 2015 "no iatrogenic stenosis": mean gradient at or above this is a stenosis (its one definition
#: is the row of :mod:`mitrasim.echo.thresholds`; the release limit's default).
MVARC_GRADIENT_MMHG = _mvarc("mean_gradient_mmhg", "stenosis_from")
#: MVARC 2015 "no iatrogenic stenosis": an EOA below this is a stenosis (the row of :mod:`mitrasim.echo.thresholds`).
MVARC_EOA_CM2 = _mvarc("eoa_cm2", "stenosis_below")


class Protocol(BaseModel):
    """The procedure's strategy and stop rules (module docstring); every range is defined here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target_residual_grade: Literal["0", "1+", "2+"] = Field("1+", description="aim: stop adding clips at or below this grade")
    accept_2plus_near_limit: bool = Field(False, description="accept a residual 2+ when the gradient or area is within its band of the limit")
    gradient_band_mmhg: float = Field(1.0, ge=0, le=5, description="tolerance band below max_gradient_mmhg (model choice)")
    area_band_cm2: float = Field(0.5, ge=0, le=2, description="tolerance band above min_mva_cm2 (model choice)")
    max_gradient_mmhg: float = Field(MVARC_GRADIENT_MMHG, gt=0, le=20, description="release only if the mean gradient is < this")
    abort_gradient_mmhg: float = Field(_DEFAULT_ABORT_MMHG, gt=0, le=30, description="a clip above this is opened at once")
    min_mva_cm2: float = Field(MVARC_EOA_CM2, ge=0.5, le=4.0, description="release only if the planimetric MVA is >= this")
    max_clips: int = Field(4, ge=1, le=6)
    max_grasp_attempts: int = Field(8, ge=1, le=24, description="grasps in the whole procedure: each clip's first grasp and every reposition or exchange")
    device_exchange: bool = Field(True, description="may exchange a clip for another size of the family")
    device_preference: str = Field("auto", description="auto, MitraClip, PASCAL or a catalogue device name")
    min_eroa_reduction: float = Field(0.20, ge=0, lt=1, description="a clip that does not lower the grade must cut EROA by this fraction (model choice)")
    reposition_offsets_mm: tuple[float, ...] = Field((-2.0, 2.0, -4.0, 4.0), max_length=8, description="positions tried around the target (mm)")
    assess_at_restored_afterload: bool = Field(
        True, description="under general anaesthesia, read MR and gradient for each decision with the afterload restored to the awake value (phenylephrine)",
    )

    @model_validator(mode="before")
    @classmethod
    def _abort_default(cls, data: Any) -> Any:
        # without an abort limit of its own, a release limit above the default abort limit raises it
        if isinstance(data, dict) and "abort_gradient_mmhg" not in data and isinstance(data.get("max_gradient_mmhg"), (int, float)):
            data = {**data, "abort_gradient_mmhg": max(_DEFAULT_ABORT_MMHG, float(data["max_gradient_mmhg"]))}
        return data

    @field_validator("abort_gradient_mmhg")
    @classmethod
    def _abort(cls, v: float, info: ValidationInfo) -> float:
        g = info.data.get("max_gradient_mmhg")
        if g is not None and v < g:
            raise ValueError(f"abort limit must be >= max_gradient_mmhg = {g:g}")
        return v

    @field_validator("device_preference")
    @classmethod
    def _pref(cls, v: str) -> str:
        if v not in ("auto", "MitraClip", "PASCAL") and v not in DEFAULT_CATALOGUE:
            raise ValueError(f"unknown device preference {v!r}; auto, MitraClip, PASCAL or one of {sorted(DEFAULT_CATALOGUE)}")
        return v

    @field_validator("reposition_offsets_mm")
    @classmethod
    def _offsets(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(not -20 <= x <= 20 for x in v):
            raise ValueError("offsets in [-20, 20] mm")
        return v

    @property
    def target_grade(self) -> int:
        return grade_of(self.target_residual_grade)


DEFAULT_PROTOCOL = Protocol.model_validate({})


def check_protocol(data: dict[str, Any], prefix: str = "rules") -> Protocol:
    """A :class:`Protocol` from a mapping; a bad value is an :class:`InputError` naming
    ``prefix.field``, the value and the allowed range."""
    return validate_model(Protocol, data, prefix)


def gradient_ok(gradient_mmhg: Any, limit_mmhg: Any) -> Any:
    """The release rule on the gradient: ``gradient < limit`` (NaN is not ok)."""
    return gradient_mmhg < limit_mmhg


def area_ok(mva_cm2: Any, limit_cm2: Any) -> Any:
    """The release rule on the area: ``MVA ≥ limit`` (NaN is not ok)."""
    return mva_cm2 >= limit_cm2


_OPS = {"<": lambda a, b: a < b, "≥": lambda a, b: a >= b, ">": lambda a, b: a > b, "≤": lambda a, b: a <= b}


def number_text(value: float, limit: float, min_decimals: int = 1) -> str:
    """``value`` with as many decimals (``min_decimals`` to 6) as it takes for the printed number to
    fall on the same side of ``limit`` as the true one (``4.97`` next to a limit of 5, not ``5.0``)."""
    d = min_decimals
    while d < 6 and (round(value, d) < limit) != (value < limit):
        d += 1
    return f"{value:.{d}f}"


def compare_text(value: float, limit: float, op: str, unit: str, min_decimals: int = 1) -> str:
    """``"4.97 mmHg < 5 mmHg"`` or ``"5.00 mmHg ≥ 5 mmHg"``: the value with enough decimals (up to 6)
    that the printed number satisfies the printed comparison exactly when the true one does;
    ``op`` is the comparison that holds (one of ``< ≥ > ≤``)."""
    holds = _OPS[op](value, limit)
    d = min_decimals
    while d < 6 and _OPS[op](round(value, d), limit) != holds:
        d += 1
    return f"{value:.{d}f} {unit} {op} {limit:g} {unit}"


def near_limit_text(rules: Any, gradient_mmhg: float, mva_cm2: float) -> str | None:
    """Why a residual 2+ is accepted under ``accept_2plus_near_limit`` (``rules``: a
    :class:`~mitrasim.procedure.rules.Rules`): the gradient within ``gradient_band_mmhg`` of its
    limit (``g ≥ max − band``) or the area within ``area_band_cm2`` of its limit (``MVA < min + band``);
    None when neither."""
    g_edge = rules.max_gradient_mmhg - rules.gradient_band_mmhg
    a_edge = rules.min_mva_cm2 + rules.area_band_cm2
    if gradient_mmhg >= g_edge:
        return f"gradient {compare_text(gradient_mmhg, g_edge, '≥', 'mmHg')}, within {rules.gradient_band_mmhg:g} mmHg of the {rules.max_gradient_mmhg:g} mmHg limit"
    if mva_cm2 < a_edge:
        return f"MVA {compare_text(mva_cm2, a_edge, '<', 'cm²', 2)}, within {rules.area_band_cm2:g} cm² of the {rules.min_mva_cm2:g} cm² limit"
    return None
