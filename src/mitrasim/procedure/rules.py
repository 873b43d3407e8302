"""The operator's rules: when to release a clip, when to add another, when to stop.

Defaults (clinical.md, "Stop rules seen in practice"; Stone 2015 MVARC):

* release a clip only if the mean gradient stays ``< max_gradient_mmhg`` (5) and
  the valve area ``≥ min_mva_cm2`` (1.5 cm², planimetric, all orifices);
* a clip that leaves the gradient ``> abort_gradient_mmhg`` (8) is opened and
  removed at once; if no position of any allowed size is acceptable the
  procedure stops there;
* add another clip while the residual MR grade is above
  ``target_residual_grade`` (1+), fewer than ``max_clips`` (4) are in place and
  the valve area after the last clip is still ``≥ min_mva_cm2``;
* a further clip must help: lower the MR grade or cut EROA by at least
  ``min_eroa_reduction`` (20%, model choice: the operator sees no gain on
  the colour jet below that), otherwise it is not released;
* before releasing, the operator compares the grasp with the nearby positions
  ``reposition_offsets_mm`` and the neighbouring sizes of the family and
  repositions when one of them gives a lower MR grade within the rules
  (at most ``max_repositions`` times per clip).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from mitrasim import citations
from mitrasim.echo.grading import grade_number
from mitrasim.errors import InputError

__all__ = ["Rules", "DEFAULT_RULES", "rules_from_case"]

citations.register(
    "clinical_reference_stop_rules",
    "mitrasim clinical reference (shared/reference/clinical.md), 'The procedure and the valve area': do not "
    "release a clip that leaves the mean gradient >= 5 mmHg; abort above 8 mmHg; add a clip while residual "
    "MR stays above 1+, the gradient stays < 5 mmHg and the valve area >= 1.5 cm2 [check].",
)


@dataclass(frozen=True)
class Rules:
    """Stop rules of the procedure and the planner (units in the names)."""

    max_clips: int = 4
    max_gradient_mmhg: float = 5.0
    abort_gradient_mmhg: float = 8.0
    min_mva_cm2: float = 1.5
    target_residual_grade: int = 1
    min_eroa_reduction: float = 0.20
    reposition_offsets_mm: tuple[float, ...] = field(default=(-2.0, 2.0, -4.0, 4.0))
    max_repositions: int = 2
    device_preference: str = "auto"

    def __post_init__(self) -> None:
        if not 1 <= self.max_clips <= 6:
            raise InputError("rules.max_clips", self.max_clips, "[1, 6]")
        if not 0 < self.max_gradient_mmhg <= self.abort_gradient_mmhg <= 30:
            raise InputError("rules.max_gradient_mmhg", self.max_gradient_mmhg, f"(0, abort_gradient_mmhg = {self.abort_gradient_mmhg:g}]")
        if not 0.3 <= self.min_mva_cm2 <= 4.0:
            raise InputError("rules.min_mva_cm2", self.min_mva_cm2, "[0.3, 4] cm2")
        if not 0 <= self.target_residual_grade <= 3:
            raise InputError("rules.target_residual_grade", self.target_residual_grade, "0, 1 or 2 (grade 0, 1+, 2+)")
        if not 0 <= self.min_eroa_reduction < 1:
            raise InputError("rules.min_eroa_reduction", self.min_eroa_reduction, "[0, 1)")
        if not 0 <= self.max_repositions <= 5:
            raise InputError("rules.max_repositions", self.max_repositions, "[0, 5]")

    def with_(self, **kw: Any) -> "Rules":
        return replace(self, **kw)

    def text(self) -> str:
        return (
            f"release if gradient < {self.max_gradient_mmhg:g} mmHg and MVA ≥ {self.min_mva_cm2:g} cm²; "
            f"abort a clip above {self.abort_gradient_mmhg:g} mmHg; add clips while MR > "
            f"{'0' if self.target_residual_grade == 0 else str(self.target_residual_grade) + '+'}, "
            f"at most {self.max_clips}"
        )


DEFAULT_RULES = Rules()


def rules_from_case(case: Any, base: Rules | None = None) -> Rules:
    """The rules of a :class:`mitrasim.case.Case` (its ``procedure`` section) over ``base``."""
    citations.cite("clinical_reference_stop_rules", "stone2015_mvarc")
    p = case.procedure
    b = base or DEFAULT_RULES
    return replace(
        b,
        max_clips=int(p.max_clips),
        max_gradient_mmhg=float(p.max_gradient_mmhg),
        abort_gradient_mmhg=max(float(b.abort_gradient_mmhg), float(p.max_gradient_mmhg)),
        min_mva_cm2=float(p.min_mva_cm2),
        target_residual_grade=int(grade_number(p.target_residual_grade) or 0),
        device_preference=p.device_preference,
    )
