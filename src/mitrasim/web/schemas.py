"""Request models of the web API (pydantic v2): every field typed and bounded.

The case itself is validated by :func:`mitrasim.case.parse_case` (the same code as
the command line); these models bound what the web adds: batch sizes, beats,
clip lists, names.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mitrasim.physiology.preset_names import DEFAULT_PRESET
from mitrasim.ranges import RANGES

__all__ = [
    "MAX_PATIENTS",
    "SimulateRequest",
    "ClipIn",
    "AssessRequest",
    "CaseIn",
    "GradeRequest",
    "CareplanRequest",
    "PlanRequest",
    "SweepRequest",
    "TrialRequest",
    "ErrorReply",
    "ERROR_STATUSES",
]

MAX_PATIENTS = 64
MAX_BEATS = 300
Number = float


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SimulateRequest(_In):
    """One engine call: a preset, per-patient overrides and mitral areas (lists broadcast together)."""

    preset: str = Field(DEFAULT_PRESET, min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    overrides: list[dict[str, Number]] | None = Field(None, max_length=MAX_PATIENTS, description="one dict per patient, or one for all")
    eroa_cm2: list[Number] | None = Field(None, min_length=1, max_length=MAX_PATIENTS)
    mva_cm2: list[Number] | None = Field(None, min_length=1, max_length=MAX_PATIENTS)
    hr_bpm: list[Number] | None = Field(None, min_length=1, max_length=MAX_PATIENTS)
    waveforms: bool = Field(False, description="return the steady beat's waveforms (at most 4 patients)")
    max_beats: int = Field(MAX_BEATS, ge=1, le=MAX_BEATS)

    @model_validator(mode="after")
    def _bounded(self) -> "SimulateRequest":
        for name in ("overrides",):
            for i, o in enumerate(getattr(self, name) or []):
                if len(o) > 40:
                    raise ValueError(f"{name}.{i}: at most 40 parameters per patient")
        return self


class ClipIn(_In):
    """A clip on the coaptation line: device name from the catalogue, centre position in mm."""

    device: str = Field(min_length=1, max_length=40)
    position_mm: Number = Field(ge=0, le=60)


class AssessRequest(_In):
    """A case (as in a case file) and the clips placed on it."""

    case: dict[str, Any]
    clips: list[ClipIn] = Field(default_factory=list, max_length=6)


def plain_text(value: str) -> str:
    """``value`` if it holds no control, format (e.g. right-to-left override U+202E), surrogate,
    private-use or unassigned character and is not blank; else ValueError naming the character."""
    for i, ch in enumerate(value):
        cat = unicodedata.category(ch)
        if cat in _REFUSED_CATEGORIES:
            raise ValueError(f"plain text: character U+{ord(ch):04X} ({_CATEGORY_WORDS[cat]}) at position {i} is not allowed")
    if not value.strip():
        raise ValueError("plain text, not blank")
    return value


_CATEGORY_WORDS = {"Cc": "control", "Cf": "format/bidirectional control", "Cs": "surrogate", "Co": "private use", "Cn": "unassigned"}
_REFUSED_CATEGORIES = frozenset(_CATEGORY_WORDS)


class CaseIn(_In):
    """A case to save, with its clips."""

    name: str = Field(min_length=1, max_length=200)
    case: dict[str, Any]
    clips: list[ClipIn] = Field(default_factory=list, max_length=6)

    @field_validator("name")
    @classmethod
    def _plain(cls, v: str) -> str:
        return plain_text(v)


class GradeRequest(_In):
    """Measured echo values (as ``mitrasim grade``): see :class:`mitrasim.echo.schema.EchoInput`."""

    echo: dict[str, Any]


class CareplanRequest(_In):
    """The patient's facts for a care plan and, optionally, a saved result to show in the guide."""

    procedure_date: dt.date
    lang: Literal["en", "fr"] = "en"
    anticoagulated: bool = False
    dental_work_date: dt.date | None = None
    surgery_date: dt.date | None = None
    case: dict[str, Any] | None = None
    clips: list[ClipIn] = Field(default_factory=list, max_length=6)


class PlanRequest(_In):
    """A case for the planner / the procedure."""

    case: dict[str, Any]
    seed: int = Field(0, ge=0, le=2**31 - 1)
    research_below_indication: bool = False  # simulate a baseline below MR 3+; stated in the result


class SweepRequest(_In):
    """A background job: the steady beat over a range of EROA (a small cohort of one preset)."""

    preset: str = Field(DEFAULT_PRESET, min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    eroa_min_cm2: Number = RANGES["eroa_cm2"].field(0.0)
    eroa_max_cm2: Number = RANGES["eroa_cm2"].field(0.6)
    n: int = Field(20, ge=1, le=2000)
    mva_cm2: Number = RANGES["mva_cm2"].field(4.0)
    chunk: int = Field(16, ge=1, le=MAX_PATIENTS)


class ErrorDetail(BaseModel):
    """One error: the field, the value given (when there is one), what is allowed, and one line of text."""

    field: str
    message: str
    value: Any = None
    allowed: str | None = None


class ErrorReply(BaseModel):
    """Every error reply of the API (4xx and 5xx)."""

    error: ErrorDetail


ERROR_STATUSES = (400, 401, 403, 404, 408, 409, 412, 413, 422, 428, 429, 500, 503, 504)
"""Status codes of error replies, documented on every route (all in the :class:`ErrorReply` shape)."""


class TrialRequest(_In):
    """A virtual trial (issue 5): passed as it is to :mod:`mitrasim.cohort`."""

    spec: dict[str, Any]
    seed: int = Field(0, ge=0, le=2**31 - 1)
