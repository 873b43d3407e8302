"""The operator's rules at run time: a frozen, hashable :class:`Rules` built from the
:class:`~mitrasim.protocol.Protocol` (the one schema, where the ranges, the limits'
comparisons and their sources are written).

Defaults (clinical.md, "Stop rules seen in practice"; Stone 2015 MVARC):

* release a clip only if the mean gradient stays ``< max_gradient_mmhg`` and the valve area
  ``≥ min_mva_cm2`` (planimetric, all orifices);
* a clip that leaves the gradient ``> abort_gradient_mmhg`` is opened and removed at once;
  if no position of any allowed size is acceptable the procedure stops there;
* add another clip while the residual MR grade is above ``target_residual_grade``, fewer than
  ``max_clips`` are in place and the valve area after the last clip is still ``≥ min_mva_cm2``;
  with ``accept_2plus_near_limit`` a residual 2+ is accepted near a limit (the tolerance band);
* a further clip must help and never worsen: a clip that raises the MR grade is never released;
  one that keeps it must cut EROA by at least ``min_eroa_reduction`` (model choice: the operator
  sees no gain on the colour jet below that);
* before releasing, the operator compares the grasp with the nearby positions
  ``reposition_offsets_mm`` (a reposition) and the other sizes of the family (a device exchange,
  when ``device_exchange``) and moves when one of them gives a lower MR grade within the rules,
  while grasps are left (``max_grasp_attempts`` in the whole procedure).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from mitrasim import citations
from mitrasim.errors import InputError
from mitrasim.protocol import AREA_COMPARISON, DEFAULT_PROTOCOL, GRADES, GRADIENT_COMPARISON, Protocol, check_protocol, grade_of

__all__ = ["Rules", "DEFAULT_RULES", "rules_from_case", "rules_from_protocol"]

citations.register(
    "clinical_reference_stop_rules",
    "mitrasim clinical reference (shared/reference/clinical.md), 'The procedure and the valve area': the "
    "release, abort and add-a-clip limits on the mean gradient, the valve area and the residual MR grade [check].",
    note="The limits are the defaults of mitrasim.protocol.Protocol (max_gradient_mmhg, "
    "abort_gradient_mmhg, min_mva_cm2, target_residual_grade).",
)


_P = DEFAULT_PROTOCOL


@dataclass(frozen=True)
class Rules:
    """Stop rules of the procedure and the planner (units in the names); the fields and ranges of
    :class:`~mitrasim.protocol.Protocol`, the target grade as a number."""

    max_clips: int = _P.max_clips
    max_gradient_mmhg: float = _P.max_gradient_mmhg
    abort_gradient_mmhg: float = _P.abort_gradient_mmhg
    min_mva_cm2: float = _P.min_mva_cm2
    target_residual_grade: int = _P.target_grade
    min_eroa_reduction: float = _P.min_eroa_reduction
    reposition_offsets_mm: tuple[float, ...] = field(default=_P.reposition_offsets_mm)
    max_grasp_attempts: int = _P.max_grasp_attempts
    device_exchange: bool = _P.device_exchange
    device_preference: str = _P.device_preference
    accept_2plus_near_limit: bool = _P.accept_2plus_near_limit
    gradient_band_mmhg: float = _P.gradient_band_mmhg
    area_band_cm2: float = _P.area_band_cm2
    assess_at_restored_afterload: bool = _P.assess_at_restored_afterload

    def __post_init__(self) -> None:
        if not (isinstance(self.target_residual_grade, int) and 0 <= self.target_residual_grade < len(GRADES)):
            raise InputError("rules.target_residual_grade", self.target_residual_grade, "0, 1 or 2 (grade 0, 1+, 2+)")
        check_protocol(self.protocol_dict(), "rules")

    def protocol_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["target_residual_grade"] = GRADES[self.target_residual_grade]
        return d

    def protocol(self) -> Protocol:
        return Protocol.model_validate(self.protocol_dict())

    def with_(self, **kw: Any) -> "Rules":
        return replace(self, **kw)

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


def rules_from_protocol(p: Protocol, base: "Rules | None" = None) -> Rules:
    """The :class:`Rules` of a :class:`Protocol` (every field of the protocol; ``base`` is unused
    beyond what the protocol does not carry)."""
    d = p.model_dump()
    d["target_residual_grade"] = grade_of(p.target_residual_grade)
    d["reposition_offsets_mm"] = tuple(d["reposition_offsets_mm"])
    names = {f.name for f in fields(Rules)}
    return replace(base or Rules(), **{k: v for k, v in d.items() if k in names})


DEFAULT_RULES = Rules()


def rules_from_case(case: Any, base: Rules | None = None) -> Rules:
    """The rules of a :class:`mitrasim.case.Case` (its ``procedure`` section, a
    :class:`~mitrasim.protocol.Protocol`)."""
    citations.cite("clinical_reference_stop_rules", "stone2015_mvarc")
    return rules_from_protocol(case.procedure, base)
