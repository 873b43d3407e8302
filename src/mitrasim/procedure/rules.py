"""The operator's rules at run time: :class:`Rules`, the :class:`~mitrasim.protocol.Protocol` with
the target grade as a number.

The protocol is the one definition of the strategy and stop rules: their fields, defaults,
ranges, the limits' comparisons and their sources (:mod:`mitrasim.protocol`'s docstring says
what each rule does).  :class:`Rules` inherits all of it and changes one thing: the target
residual grade is held as its index into :data:`~mitrasim.protocol.GRADES` (0 for "0", 1 for
"1+", 2 for "2+"), the form the procedure's arrays compare with.  It is frozen and hashable (the
procedure groups its patients by their rules); a bad value is an
:class:`~mitrasim.errors.InputError` naming ``rules.FIELD``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from mitrasim import citations
from mitrasim.errors import from_validation_error
from mitrasim.protocol import AREA_COMPARISON, DEFAULT_PROTOCOL, GRADES, GRADIENT_COMPARISON, Protocol

__all__ = ["Rules", "DEFAULT_RULES", "rules_from_case", "rules_from_protocol"]

citations.register(
    "clinical_reference_stop_rules",
    "mitrasim clinical reference (shared/reference/clinical.md), 'The procedure and the valve area': the "
    "release, abort and add-a-clip limits on the mean gradient, the valve area and the residual MR grade.",
    note="The limits are the defaults of mitrasim.protocol.Protocol (max_gradient_mmhg, abort_gradient_mmhg, "
    "min_mva_cm2, target_residual_grade). What was checked: the release limits on the gradient and the area are "
    "the cuts of MVARC's iatrogenic stenosis (the 'mvarc' rows of mitrasim.echo.thresholds, Stone 2015, marked "
    "src there; the protocol holds its own copy of the two numbers); a pre-discharge gradient at or above the "
    "same cut is an 'outcomes-related cutoff' in a 291-patient TEER series (J Am Heart Assoc, PMC10944065, "
    "abstract read). The abort limit and the add-a-clip rule are the clinical reference's practice summary; no "
    "primary source stating them was read [check].",
)


class Rules(Protocol):
    """Stop rules of the procedure and the planner: every field, default and range of
    :class:`~mitrasim.protocol.Protocol`; ``target_residual_grade`` as a number (module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # the protocol's target grade as its index into GRADES (the one field Rules holds otherwise)
    target_residual_grade: int = Field(  # type: ignore[assignment]
        DEFAULT_PROTOCOL.target_grade, ge=0, le=len(GRADES) - 1, strict=True, description="aim, as a number: 0, 1 or 2 (grade 0, 1+, 2+)"
    )

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise from_validation_error(exc, "rules") from None

    @property
    def target_grade(self) -> int:
        return self.target_residual_grade

    def protocol_dict(self) -> dict[str, Any]:
        """The rules as the protocol writes them (the target grade as text)."""
        return {**self.model_dump(), "target_residual_grade": GRADES[self.target_residual_grade]}

    def protocol(self) -> Protocol:
        return Protocol.model_validate(self.protocol_dict())

    def with_(self, **kw: Any) -> "Rules":
        """These rules with the fields ``kw`` changed (validated as a whole)."""
        return Rules(**{**self.model_dump(), **kw})

    def text(self) -> str:
        t = (
            f"release if gradient {GRADIENT_COMPARISON} {self.max_gradient_mmhg:g} mmHg and MVA {AREA_COMPARISON} {self.min_mva_cm2:g} cm²; "
            f"abort a clip above {self.abort_gradient_mmhg:g} mmHg; add clips while MR > {GRADES[self.target_residual_grade]}, "
            f"at most {self.max_clips}; at most {self.max_grasp_attempts} grasps"
            + ("" if self.device_exchange else "; no device exchange")
            + ("; decisions read with the afterload restored" if self.assess_at_restored_afterload else "; decisions read at the anaesthetic afterload")
        )
        if self.accept_2plus_near_limit and self.target_residual_grade < 2:
            t += f"; accept 2+ within {self.gradient_band_mmhg:g} mmHg or {self.area_band_cm2:g} cm² of a limit"
        return t


def rules_from_protocol(p: Protocol) -> Rules:
    """The :class:`Rules` of a :class:`Protocol` (or of a subclass: a case's ``procedure``, a trial
    arm's ``strategy``; their own extra fields are dropped).  The protocol carries every field of
    the rules."""
    d = p.model_dump(include=set(Rules.model_fields))
    d["target_residual_grade"] = p.target_grade
    return Rules(**d)


DEFAULT_RULES = Rules()


def rules_from_case(case: Any) -> Rules:
    """The rules of a :class:`mitrasim.case.Case` (its ``procedure`` section, a
    :class:`~mitrasim.protocol.Protocol`)."""
    citations.cite("clinical_reference_stop_rules", "stone2015_mvarc")
    return rules_from_protocol(case.procedure)
