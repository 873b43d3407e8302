"""The procedure's result for one patient, as the guide needs it.

A case result is read from a JSON or YAML file (``--case``); a case file is run through the
procedure by :mod:`mitrasim.case_outcome` (above both: the pathway reads results, never the
engine).  All fields are validated with physical ranges.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mitrasim.errors import validate_model
from mitrasim.files import read_data

__all__ = ["ClipPlacement", "ValveOutcome", "MRGrade", "NUMERIC_GRADES", "grade_or_indeterminate", "load_outcome", "outcome_from_dict"]

MRGrade = Literal["0", "1+", "2+", "3+", "4+", "indeterminate"]
#: The graded values; anything else a grader returns (e.g. "indeterminate: discordant") is indeterminate.
NUMERIC_GRADES: tuple[str, ...] = ("0", "1+", "2+", "3+", "4+")


def grade_or_indeterminate(grade: str | None) -> str:
    """An ASE grade as the outcome keeps it: a graded value unchanged, anything else "indeterminate" (never a number)."""
    g = (grade or "").split()[0] if grade else ""
    return g if g in NUMERIC_GRADES else "indeterminate"



class ClipPlacement(BaseModel):
    """One clip on the coaptation line: centre position from the anterolateral end, width, device name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    position_mm: Annotated[float, Field(ge=0, le=80)]
    width_mm: Annotated[float, Field(gt=0, le=20)]
    device: Annotated[str, Field(min_length=1, max_length=60)] = "clip"


class ValveOutcome(BaseModel):
    """Predicted valve before and after the clips (research use only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    eroa_before_cm2: Annotated[float, Field(ge=0, le=3)]
    eroa_after_cm2: Annotated[float, Field(ge=0, le=3)]
    mr_grade_before: MRGrade
    mr_grade_after: MRGrade
    mean_gradient_after_mmhg: Annotated[float, Field(ge=0, le=40)]
    mva_after_cm2: Annotated[float, Field(gt=0, le=10)]
    coaptation_length_mm: Annotated[float, Field(gt=5, le=80)]
    clips: list[ClipPlacement] = Field(min_length=1, max_length=6)

    @model_validator(mode="after")
    def _clips_on_line(self) -> "ValveOutcome":
        for i, c in enumerate(self.clips):
            if c.position_mm > self.coaptation_length_mm:
                raise ValueError(f"clips.{i}.position_mm {c.position_mm} is beyond the coaptation length {self.coaptation_length_mm} mm")
        return self

    @property
    def reduction_percent(self) -> float:
        """Predicted relative drop of the leak area (0–100)."""
        if self.eroa_before_cm2 <= 0:
            return 0.0
        return max(0.0, 100.0 * (1.0 - self.eroa_after_cm2 / self.eroa_before_cm2))


def outcome_from_dict(data: object) -> ValveOutcome:
    """Validate a case result mapping; raise :class:`InputError` on the first problem."""
    return validate_model(ValveOutcome, data, "case", mapping="a mapping with the ValveOutcome fields")


def read_mapping(path: str | Path) -> object:
    """The parsed content of a ``.json``, ``.yaml`` or ``.yml`` file (errors name the ``case`` field)."""
    return read_data(path, "case", "a readable JSON or YAML file", "valid JSON or YAML")


def load_outcome(path: str | Path) -> ValveOutcome:
    """Read a case result from ``.json``, ``.yaml`` or ``.yml``."""
    return outcome_from_dict(read_mapping(path))
