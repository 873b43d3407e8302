"""Mitral stenosis grade (ASE/EAE 2009) and MVARC evaluation of a before/after pair (Stone 2015).

Thresholds come from :mod:`mitrasim.echo.thresholds` (sets ``"ms"`` and ``"mvarc"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mitrasim import citations
from mitrasim.echo import sources as _sources  # noqa: F401
from mitrasim.echo.grading import MRGrade, grade_label, grade_number
from mitrasim.echo.thresholds import threshold
from mitrasim.errors import InputError, check_range

__all__ = ["StenosisGrade", "grade_stenosis", "MVARCResult", "evaluate_mvarc", "stenosis_criteria"]

#: The accepted valve area / EOA (cm², lower end open) and mean transmitral gradient (mmHg): the
#: input check of :func:`grade_stenosis` and :func:`evaluate_mvarc` (and of
#: :class:`mitrasim.echo.mvarc.MVARCBatch`), one definition.
AREA_RANGE_CM2 = (0.0, 10.0)
MEAN_GRADIENT_RANGE_MMHG = (0.0, 60.0)

_ORDER = {"none": 0, "none or mild": 1, "mild": 1, "moderate": 2, "severe": 3}


def _v(table: str, parameter: str, kind: str) -> float:
    row = threshold(table, parameter, kind)
    assert row is not None, (table, parameter, kind)
    return row.value


@dataclass
class StenosisGrade:
    """`severity`: ``"none"``, ``"mild"``, ``"moderate"`` or ``"severe"`` (ASE/EAE 2009 words; ``"none or
    mild"`` from a gradient < 5 mmHg alone); `acc_aha_stage` the ACC/AHA 2020 stage by MVA; `caveats`
    the heart-rate and flow caveats of the gradient."""

    severity: str
    by_mva: str | None
    by_gradient: str | None
    reasons: list[str]
    measurements: dict[str, float]
    discordant: bool = False
    acc_aha_stage: str | None = None
    caveats: list[str] = field(default_factory=list)
    citations: list[str] = field(default_factory=lambda: ["baumgartner2009", "otto2020"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "acc_aha_stage": self.acc_aha_stage,
            "by_mva": self.by_mva,
            "by_gradient": self.by_gradient,
            "discordant": self.discordant,
            "reasons": list(self.reasons),
            "caveats": list(self.caveats),
            "measurements": dict(self.measurements),
            "citations": list(self.citations),
        }


def _by_mva(a: float) -> tuple[str, str]:
    """(ASE/EAE 2009 severity with "none" for a normal area, ACC/AHA 2020 stage)."""
    normal = _v("ms", "mva_cm2", "normal_above")
    mod, sev = _v("ms", "mva_cm2", "moderate_at_most"), _v("ms", "mva_cm2", "severe_below")
    acc_sev, acc_vsev = _v("ms", "mva_cm2", "acc_aha_severe_at_most"), _v("ms", "mva_cm2", "acc_aha_very_severe_at_most")
    severity = "none" if a > normal else "severe" if a < sev else "moderate" if a <= mod else "mild"
    stage = (
        "no stenosis (normal valve area)" if a > normal
        else "C/D very severe MS" if a <= acc_vsev
        else "C/D severe MS" if a <= acc_sev
        else "B progressive MS"
    )  # fmt: skip
    return severity, stage


def grade_stenosis(mva_cm2: float | None = None, mean_gradient_mmhg: float | None = None, hr_bpm: float | None = None) -> StenosisGrade:
    """Grade mitral stenosis from the valve area and/or the mean diastolic gradient.

    MVA (ASE/EAE 2009 table, Baumgartner 2009): > 1.5 cm² mild, 1.0–1.5 moderate, < 1.0
    severe, and *no stenosis* above the normal-area cut (a normal MVA is 4–6 cm²);
    the ACC/AHA 2020 stage is given alongside (B progressive above 1.5 cm², C/D
    severe at ≤ 1.5, very severe at ≤ 1.0). Mean gradient: < 5 mmHg none or mild,
    5–10 moderate, > 10 severe — valid at heart rates 60–80 bpm in sinus rhythm
    (caveat when `hr_bpm` is outside or not given): the gradient depends on flow
    and heart rate, the area does not, so with both the **area decides** and a
    disagreement is flagged.

    **Raises:** `InputError` if neither is given or a value is out of range.
    """
    if mva_cm2 is None and mean_gradient_mmhg is None:
        raise InputError("measurements", None, "at least one of: mva_cm2, mean_gradient_mmhg")
    reasons: list[str] = []
    caveats: list[str] = []
    meas: dict[str, float] = {}
    by_mva = by_grad = stage = None
    if mva_cm2 is not None:
        a = check_range("mva_cm2", mva_cm2, *AREA_RANGE_CM2, lo_open=True, unit="cm2")
        meas["mva_cm2"] = a
        by_mva, stage = _by_mva(a)
        reasons.append(f"MVA {a:g} cm² → {by_mva} (ACC/AHA 2020: {stage})")
    if mean_gradient_mmhg is not None:
        g = check_range("mean_gradient_mmhg", mean_gradient_mmhg, *MEAN_GRADIENT_RANGE_MMHG, unit="mmHg")
        meas["mean_gradient_mmhg"] = g
        mod, sev = _v("ms", "mean_gradient_mmhg", "moderate_from"), _v("ms", "mean_gradient_mmhg", "severe_above")
        by_grad = "severe" if g > sev else "moderate" if g >= mod else "none or mild"
        reasons.append(f"mean gradient {g:g} mmHg → {by_grad}")
        lo, hi = _v("ms", "hr_bpm", "gradient_valid_from"), _v("ms", "hr_bpm", "gradient_valid_to")
        if hr_bpm is None:
            caveats.append(f"gradient bands assume a heart rate of {lo:g}–{hi:g} bpm in sinus rhythm (heart rate not given)")
        else:
            hr = check_range("hr_bpm", hr_bpm, 20.0, 250.0, unit="bpm")
            meas["hr_bpm"] = hr
            if not lo <= hr <= hi:
                caveats.append(f"heart rate {hr:g} bpm outside {lo:g}–{hi:g}: the gradient {'over' if hr > hi else 'under'}states the stenosis")
    severity = by_mva if by_mva is not None else str(by_grad)
    discordant = by_mva is not None and by_grad is not None and abs(_ORDER[by_mva] - _ORDER[by_grad]) >= 1 and not (by_mva in ("none", "mild") and by_grad == "none or mild")
    if discordant:
        reasons.append("MVA and gradient disagree (the gradient depends on flow and heart rate): the area decides")
    citations.cite("baumgartner2009", "otto2020")
    return StenosisGrade(severity, by_mva, by_grad, reasons, meas, discordant, stage, caveats)


@dataclass
class MVARCResult:
    """MVARC evaluation: residual MR class, iatrogenic stenosis, and whether both criteria are met."""

    mr_before: str
    mr_after: str
    residual_mr: str  # "optimal" | "acceptable" | "not acceptable" | "indeterminate"
    iatrogenic_stenosis: bool | None
    success: bool | None
    reasons: list[str]
    citations: list[str] = field(default_factory=lambda: ["stone2015_mvarc"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "mr_before": self.mr_before,
            "mr_after": self.mr_after,
            "residual_mr": self.residual_mr,
            "iatrogenic_stenosis": self.iatrogenic_stenosis,
            "success": self.success,
            "reasons": list(self.reasons),
            "citations": list(self.citations),
        }


def _as_number(x: MRGrade | str | int, name: str) -> int | None:
    if isinstance(x, MRGrade):
        return x.grade_number
    try:
        return grade_number(x)
    except InputError as exc:
        raise InputError(name, x, exc.allowed) from None


def stenosis_criteria(eoa_cm2: Any, mean_gradient_mmhg: Any) -> tuple[Any, Any]:
    """The two MVARC iatrogenic-stenosis criteria (Stone 2015; :func:`evaluate_mvarc`), elementwise on
    numbers or arrays: (EOA below its cut, mean gradient at or above its cut); each None when its
    value is None."""
    small = None if eoa_cm2 is None else eoa_cm2 < _v("mvarc", "eoa_cm2", "stenosis_below")
    high = None if mean_gradient_mmhg is None else mean_gradient_mmhg >= _v("mvarc", "mean_gradient_mmhg", "stenosis_from")
    return small, high


def evaluate_mvarc(
    before: MRGrade | str | int,
    after: MRGrade | str | int,
    *,
    eoa_after_cm2: float | None = None,
    mean_gradient_after_mmhg: float | None = None,
) -> MVARCResult:
    """MVARC (Stone 2015) evaluation of MR reduction and iatrogenic stenosis.

    Residual MR: *optimal* if ≤ 1+; *acceptable* if ≤ 2+ and at least one grade
    lower than before; otherwise *not acceptable*. Iatrogenic stenosis: EOA
    < 1.5 cm² or mean gradient ≥ 5 mmHg (``None`` when neither is given).
    `success` is True when residual MR is optimal or acceptable and there is no
    stenosis; ``None`` when a part cannot be decided.
    """
    b, a = _as_number(before, "mr_before"), _as_number(after, "mr_after")
    reasons: list[str] = []
    opt = _v("mvarc", "residual_mr_grade", "optimal_at_most")
    acc = _v("mvarc", "residual_mr_grade", "acceptable_at_most")
    red = _v("mvarc", "mr_grade_reduction", "acceptable_at_least")
    if a is None:
        residual = "indeterminate"
        reasons.append("residual MR grade indeterminate")
    elif a <= opt:
        residual = "optimal"
        reasons.append(f"residual MR {grade_label(a)} ≤ {grade_label(int(opt))}: optimal")
    elif a <= acc and b is not None and b - a >= red:
        residual = "acceptable"
        reasons.append(f"residual MR {grade_label(a)} ≤ {grade_label(int(acc))} and reduced from {grade_label(b)}: acceptable")
    elif a <= acc and b is None:
        residual = "indeterminate"
        reasons.append(f"residual MR {grade_label(a)} but baseline grade indeterminate: reduction unknown")
    else:
        residual = "not acceptable"
        why = f"> {grade_label(int(acc))}" if a > acc else f"not reduced by ≥ {int(red)} grade from {grade_label(b)}"
        reasons.append(f"residual MR {grade_label(a)} {why}: not acceptable")

    stenosis: bool | None = None
    eoa_cut = _v("mvarc", "eoa_cm2", "stenosis_below")
    grad_cut = _v("mvarc", "mean_gradient_mmhg", "stenosis_from")
    e = None if eoa_after_cm2 is None else check_range("eoa_after_cm2", eoa_after_cm2, *AREA_RANGE_CM2, lo_open=True, unit="cm2")
    g = None if mean_gradient_after_mmhg is None else check_range("mean_gradient_after_mmhg", mean_gradient_after_mmhg, *MEAN_GRADIENT_RANGE_MMHG, unit="mmHg")
    small, high = stenosis_criteria(e, g)
    if e is not None:
        stenosis = bool(small)
        reasons.append(f"EOA {e:g} cm² {'<' if stenosis else '≥'} {eoa_cut:g}")
    if g is not None:
        hit = bool(high)
        stenosis = bool(stenosis) or hit
        reasons.append(f"mean gradient {g:g} mmHg {'≥' if hit else '<'} {grad_cut:g}")
    if stenosis:
        reasons.append("iatrogenic mitral stenosis")

    if residual == "not acceptable" or stenosis:
        success: bool | None = False
    elif residual == "indeterminate" or stenosis is None:
        success = None
    else:
        success = True
    citations.cite("stone2015_mvarc")
    return MVARCResult(grade_label(b), grade_label(a), residual, stenosis, success, reasons)
