"""Integrative grading of mitral regurgitation, ASE 2017 (Zoghbi et al., JASE 2017;30:303–371), or ESC 2021 / EACVI 2022.

Implemented from the guideline's MR algorithm (ASE 2017 Fig. 12, "algorithm for
integrating multiple parameters of MR severity") and its table of criteria
(ASE 2017 Table 6, "grading the severity of chronic MR by echocardiography"):

1. **Criteria of the mild and the severe column** (qualitative and
   semi-quantitative, Table 6 / Fig. 12). Each measured sign is read on its own
   into a :class:`Finding` of kind ``criterion_mild``, ``criterion_severe``,
   ``intermediate`` or ``not_used`` (with the reason it was not used):

   ====================  ==========================================  =====================================================
   criterion             mild column                                 severe column
   ====================  ==========================================  =====================================================
   ``mv_morphology``     normal or mild leaflet abnormality          flail leaflet, ruptured papillary muscle, large
                                                                     coaptation defect / severe tenting
   ``jet``               small central jet (% of LA area)            large central jet (% of LA area) or an eccentric
                                                                     wall-hugging jet of any size
   ``flow_convergence``  small or no PISA (radius)                   large PISA (radius) — central jets only, Nyquist
                                                                     in the valid window, no wall constraint
   ``cw_density``        faint / partial / parabolic                 dense, triangular
   ``vena_contracta``    narrow VC                                   wide VC, or wide biplane VC
   ``pv_flow``           systolic dominance                          systolic flow reversal
   ``inflow``            A-wave dominant                             E-wave dominant (E velocity above the cut)
   ``chambers``          normal LV size and LA volume index          enlarged LV (normal function) or LA
   ====================  ==========================================  =====================================================

   Every cut is a row of :data:`mitrasim.echo.thresholds.THRESHOLDS` (value, source and how
   well it was checked; ``mitrasim echo-thresholds`` lists them), not restated here.

   Under ``guideline="esc2021"`` the severe column is ESC/EACTS 2021 Table 7 ("severe mitral
   regurgitation criteria based on 2D echocardiography"): its own rows where it differs from
   ASE 2017 (biplane VC from the cut, not above it; the dilated LA from Table 7's volume index,
   so an LA between the upper normal and that cut is intermediate, neither mild nor severe).
   Table 7's TVI mitral/TVI aortic, LV end-systolic diameter and LA diameter are criteria of this
   set only (``tvi_ratio``; the diameters join ``chambers``, severe at their cut, no mild column);
   under ``"ase2017"`` they are reported as not used.
   Table 7 lists severe criteria only, so the mild column stays ASE 2017's: each mild finding's
   reason ends with :data:`MILD_COLUMN_LABEL` and the result carries
   :data:`ESC_MILD_COLUMN_NOTE`.

   Each row is one criterion (a VC and a biplane VC, or an E velocity and an
   inflow pattern, count once). The flow-convergence sign is the measurement
   behind the PISA EROA: it is counted only when no EROA is given (never
   twice), and only for a central, unconstrained jet.

2. **The decisive number of criteria** (row ``criteria``/``decisive_at_least`` of the
   table: "four or more" in Fig. 12, used for both guideline sets: :func:`count_rule`) of one column, and fewer of the other, call MR mild (1+) or severe (4+) — rule ``criteria_mild`` /
   ``criteria_severe``. If quantitative parameters are given and contradict it (none
   above 2+ against severe criteria; any at 3+ or more against mild ones), the grade
   is *indeterminate* (rule ``criteria_vs_quantitation``) — a mitrasim reading of
   Fig. 12, which does not say what to do then [check]; it keeps the grade monotone
   in every measurement (tested).
3. **Otherwise quantitation decides** (EROA, RVol, RF, each by its own bands,
   :mod:`mitrasim.echo.thresholds`): all in one guideline category (mild, moderate
   = 2+/3+, severe) → that category; inside "moderate" the 2+/3+ split (trial
   convention) is the majority, a tie taken by EROA, then RVol (rule
   ``quantitation``).
4. **Discordant quantitation** (parameters in different categories) or none
   with fewer than the decisive number of criteria → ``"indeterminate"``, kept so (ASE 2017:
   another modality — TEE, CMR, 3D — is advised). A separately named
   *most-likely grade* is given with the rule that produced it,
   :data:`MOST_LIKELY_RULE`: the median of the quantitative grades (with two of
   them, the grade of EROA, else of RVol — RF is the most flow-dependent). It
   is never silently the worst; without quantitation there is none.

Grade ``"0"`` (none/trace) is given when every quantitative parameter given is
exactly zero and fewer than the decisive number of severe criteria are present (not a guideline
category; it lets a simulated competent valve read as no MR).

Every result names each criterion met, the rule that decided (:attr:`MRGrade.rule`),
consistency warnings (:attr:`MRGrade.warnings`: a VC that cannot belong to the
EROA, a PISA at an aliasing velocity outside the radius sign's window, a radius sign with a
wall-constrained or eccentric jet) and etiology-aware notes (secondary MR:
elliptical orifice, low flow).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from mitrasim import citations
from mitrasim.echo import sources as _sources  # noqa: F401  (registers the sources)
from mitrasim.echo.signs import CW_CODES, LV_CODES, PV_CODES
from mitrasim.echo.thresholds import COUNT_RULE_SOURCE, GUIDELINES, severe_cut, sources_of, threshold
from mitrasim.errors import InputError, check_range
from mitrasim.ranges import RANGES

__all__ = [
    "MRInputs",
    "Finding",
    "MRGrade",
    "grade_mr",
    "SEVERITY_WORDS",
    "GRADE_LABELS",
    "PV_FLOW_PATTERNS",
    "ETIOLOGIES",
    "CATEGORICAL",
    "MOST_LIKELY_RULE",
    "VC_EROA_MAX_ASPECT",
    "grade_label",
    "grade_number",
    "grade_mr_arrays",
    "most_likely_grade",
    "count_rule",
    "PV_CODES",
    "MILD_COLUMN_LABEL",
    "ESC_MILD_COLUMN_NOTE",
    "ESC_SECONDARY_LA_NOTE",
    "SECONDARY_LOWER_CUTS",
]

PV_FLOW_PATTERNS: tuple[str, ...] = ("normal", "blunted", "reversal")
ETIOLOGIES: tuple[str, ...] = ("primary", "secondary")
#: Categorical signs and their allowed values (mild-column value first, severe-column value last).
CATEGORICAL: dict[str, tuple[str, ...]] = {
    "pv_flow": PV_FLOW_PATTERNS,
    "mv_morphology": ("normal_or_mild", "moderate", "flail_or_large_defect"),
    "jet_type": ("central", "eccentric", "eccentric_wall_hugging"),
    "cw_density": ("faint", "dense_parabolic", "dense_triangular"),
    "inflow_pattern": ("a_dominant", "variable", "e_dominant"),
    "lv_size": ("normal", "enlarged"),
}
GRADE_LABELS: dict[int, str] = {0: "0", 1: "1+", 2: "2+", 3: "3+", 4: "4+"}
SEVERITY_WORDS: dict[int, str] = {0: "none/trace", 1: "mild", 2: "moderate", 3: "moderate-severe", 4: "severe"}
INDETERMINATE = "indeterminate"
MOST_LIKELY_RULE = (
    "median of the quantitative grades (two given: EROA's grade, else RVol's; RF is the most flow-dependent), "
    "at least 1+ unless every one is zero"
)

#: Consistency check of VC against EROA: a 2-D VC width w belongs to orifices of area
#: π w²/4 / k … π w²/4 · k for aspect ratios up to k (model choice: functional MR
#: orifices along the coaptation line have long/short axis ratios of about 2–3).
VC_EROA_MAX_ASPECT = 3.0

#: What a mild-column criterion's reason adds under each guideline set: ESC/EACTS 2021 Table 7 lists
#: criteria of severe MR only, so the mild column of the ``"esc2021"`` set is ASE 2017's (Table 6).
MILD_COLUMN_LABEL: dict[str, str] = {"ase2017": "", "esc2021": " (ASE 2017 mild column)"}
#: The note an ``"esc2021"`` result carries when a mild-column criterion was read.
ESC_MILD_COLUMN_NOTE = (
    "ESC/EACTS 2021 Table 7 lists criteria of severe MR only; the mild criteria read here are ASE 2017's "
    "(Table 6 mild column), labelled so"
)
#: The note an ``"esc2021"`` secondary-MR result carries when an LA volume index or diameter or an LV
#: end-systolic diameter was given.
ESC_SECONDARY_LA_NOTE = (
    "ESC/EACTS 2021 Table 7 gives the dilated-LA and dilated-LV numbers for primary MR; its secondary-MR column "
    "says 'dilated' without a number: the primary-MR cuts are used [check]"
)
#: What a PISA-radius severe criterion's reason adds under each set (ESC 2021 Table 7 gives no radius).
_RADIUS_LABEL: dict[str, str] = {"ase2017": "", "esc2021": " (ESC 2021 Table 7: 'large throughout systole', no radius; this radius is EACVI's [check])"}

#: Secondary MR under ESC/EACTS 2021 (Table 7, secondary column): the parameter's lower severe cut (row
#: kind) and the condition, a :func:`grade_mr` flag, that allows it: EROA with an elliptical regurgitant
#: orifice, RVol in low-flow conditions. The rows exist in the ``"esc2021"`` set only.
SECONDARY_LOWER_CUTS: dict[str, tuple[str, str]] = {
    "eroa_cm2": ("secondary_elliptical_severe_from", "elliptical_orifice"),
    "rvol_ml": ("secondary_low_flow_severe_from", "low_flow"),
}
_CONDITION_WORDS = {"elliptical_orifice": "an elliptical regurgitant orifice", "low_flow": "low flow conditions"}

_ALL = frozenset(range(5))
_MILD = frozenset({0, 1})
_SEVERE = frozenset({4})
_MID = frozenset({2, 3})
_QUANT = ("eroa_cm2", "rvol_ml", "rf_pct")

# name -> (lo, hi, unit) physical range accepted at the edge: mitrasim.ranges.RANGES, the one definition
_RANGES: dict[str, tuple[float, float, str]] = {
    k: (RANGES[k].lo, RANGES[k].hi, RANGES[k].unit)
    for k in ("eroa_cm2", "rvol_ml", "rf_pct", "vc_cm", "vc_biplane_cm", "pisa_radius_cm", "aliasing_cm_s", "wall_angle_deg",
              "e_velocity_m_s", "jet_area_pct", "la_volume_index_ml_m2", "la_diameter_mm", "lvesd_mm", "tvi_mitral_aortic_ratio")
}  # fmt: skip


@dataclass(frozen=True)
class MRInputs:
    """Measured MR parameters; every field optional (``None`` = not measured).

    Categorical signs (allowed values in :data:`CATEGORICAL`): `pv_flow` the
    pulmonary-vein systolic pattern; `mv_morphology` the leaflets (flail leaflet,
    ruptured papillary muscle or large coaptation defect = ``"flail_or_large_defect"``);
    `jet_type` the colour jet's direction; `cw_density` the CW envelope of the
    MR jet; `inflow_pattern` the mitral inflow; `lv_size` the LV size (with a
    normal LV function for the severe criterion). `wall_angle_deg` is the PISA
    wall-constraint angle (180 = unconstrained).
    """

    eroa_cm2: float | None = None
    rvol_ml: float | None = None
    rf_pct: float | None = None
    vc_cm: float | None = None
    vc_biplane_cm: float | None = None
    pisa_radius_cm: float | None = None
    aliasing_cm_s: float | None = None
    wall_angle_deg: float | None = None
    pv_flow: str | None = None
    e_velocity_m_s: float | None = None
    inflow_pattern: str | None = None
    jet_area_pct: float | None = None
    jet_type: str | None = None
    cw_density: str | None = None
    mv_morphology: str | None = None
    la_volume_index_ml_m2: float | None = None
    lv_size: str | None = None
    la_diameter_mm: float | None = None
    lvesd_mm: float | None = None
    tvi_mitral_aortic_ratio: float | None = None

    def given(self) -> dict[str, Any]:
        """The measured (non-``None``) fields."""
        return {k: v for k, v in asdict(self).items() if v is not None}


#: Fields that grade on their own (the aliasing velocity, wall angle and jet type only qualify others).
_GRADING_FIELDS = tuple(f.name for f in fields(MRInputs) if f.name not in ("aliasing_cm_s", "wall_angle_deg", "jet_type"))


@dataclass(frozen=True)
class Finding:
    """One criterion or quantitative parameter read on its own.

    `kind` is one of ``quantitative``, ``criterion_mild``, ``criterion_severe``,
    ``intermediate``, ``not_used``; `criterion` the Table 6 row it belongs to
    (``vena_contracta``, ``flow_convergence`` …, or the parameter for
    quantitative ones); `compatible` the grades (0–4) this finding agrees with;
    `grade` the grade of a quantitative parameter.
    """

    parameter: str
    value: Any
    kind: str
    compatible: frozenset[int]
    text: str
    grade: int | None = None
    criterion: str = ""


@dataclass
class MRGrade:
    """Result of :func:`grade_mr`.

    `rule` names the rule that decided (``criteria_mild``, ``criteria_severe``,
    ``quantitation``, ``no_regurgitation``, ``criteria_vs_quantitation``,
    ``discordant_quantitation``, ``insufficient``); `most_likely_grade` (and
    `most_likely_rule`) are set only when `grade` is indeterminate.
    """

    grade: str
    grade_number: int | None
    severity: str
    reasons: list[str]
    drivers: list[str]
    disagreeing: list[str]
    measurements: dict[str, Any]
    guideline: str
    etiology: str
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)
    rule: str = ""
    criteria_mild: list[str] = field(default_factory=list)
    criteria_severe: list[str] = field(default_factory=list)
    most_likely_grade: str | None = None
    most_likely_rule: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def indeterminate(self) -> bool:
        return self.grade_number is None

    @property
    def most_likely_number(self) -> int | None:
        """The most-likely grade as 0–4 (``None`` if determinate or not estimable)."""
        return None if self.most_likely_grade is None else grade_number(self.most_likely_grade)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: grade, severity, rule, reasons, criteria met, most-likely grade, warnings, notes."""
        return {
            "grade": self.grade,
            "severity": self.severity,
            "rule": self.rule,
            "most_likely_grade": self.most_likely_grade,
            "most_likely_rule": self.most_likely_rule,
            "criteria_mild": list(self.criteria_mild),
            "criteria_severe": list(self.criteria_severe),
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
            "measurements": dict(self.measurements),
            "drivers": list(self.drivers),
            "disagreeing": list(self.disagreeing),
            "notes": list(self.notes),
            "guideline": self.guideline,
            "etiology": self.etiology,
            "citations": list(self.citations),
        }


def grade_label(n: int | None) -> str:
    """0–4 → ``"0"``, ``"1+"`` … ``"4+"``; ``None`` → ``"indeterminate"``."""
    return INDETERMINATE if n is None else GRADE_LABELS[n]


def grade_number(label: str | int) -> int | None:
    """``"3+"`` / ``"3"`` / 3 → 3; ``"indeterminate"`` → ``None``. Raises InputError otherwise."""
    if isinstance(label, int) and label in GRADE_LABELS:
        return label
    s = str(label).strip().lower()
    if s == INDETERMINATE:
        return None
    if s in ("trace", "none"):
        return 0
    s = s.rstrip("+")
    if s in {"0", "1", "2", "3", "4"}:
        return int(s)
    raise InputError("mr_grade", label, "one of 0, 1+, 2+, 3+, 4+, trace, indeterminate")


def _cut(guideline: str, parameter: str, kind: str) -> float | None:
    row = threshold(guideline, parameter, kind)
    return None if row is None else row.value


def _req(guideline: str, parameter: str, kind: str) -> float:
    """A cut every guideline set has (a missing row is a bug in the threshold table)."""
    v = _cut(guideline, parameter, kind)
    if v is None:
        raise KeyError((guideline, parameter, kind))
    return v


def _gr(f: Finding) -> int:
    """The grade of a quantitative finding."""
    assert f.grade is not None, f
    return f.grade


def _needed(guideline: str) -> int:
    return int(_req(guideline, "criteria", "decisive_at_least"))


def count_rule(guideline: str) -> str:
    """Where the decisive number of criteria comes from, as the reasons say it: ``"≥ 4, the ASE 2017
    Fig. 12 rule, used for both guideline sets"`` (so an ESC 2021 reader does not take it for an ESC
    rule; :data:`mitrasim.echo.thresholds.COUNT_RULE_SOURCE`)."""
    row = threshold(guideline, "criteria", "decisive_at_least")
    if row is None:
        raise KeyError((guideline, "criteria", "decisive_at_least"))
    shared = all(threshold(g, "criteria", "decisive_at_least") == row for g in GUIDELINES)
    return f"≥ {int(row.value)}, the {COUNT_RULE_SOURCE} rule" + (", used for both guideline sets" if shared else "")


def _validate(inputs: MRInputs, etiology: str, guideline: str) -> None:
    if guideline not in GUIDELINES:
        raise InputError("guideline", guideline, " | ".join(GUIDELINES))
    if etiology not in ETIOLOGIES:
        raise InputError("etiology", etiology, " | ".join(ETIOLOGIES))
    for name, v in inputs.given().items():
        if name in CATEGORICAL:
            if v not in CATEGORICAL[name]:
                raise InputError(name, v, " | ".join(CATEGORICAL[name]))
            continue
        r = RANGES[name]
        check_range(name, v, r.lo, r.hi, lo_open=r.lo_open, hi_open=r.hi_open, unit=r.unit)
    if not any(getattr(inputs, n) is not None for n in _GRADING_FIELDS):
        raise InputError("measurements", None, "at least one of: " + ", ".join(_GRADING_FIELDS), "nothing to grade")


def _category(g: int) -> int:
    """Guideline category of a 0–4 grade: 0 none/mild (0, 1+), 1 moderate (2+, 3+), 2 severe (4+)."""
    return 0 if g <= 1 else 1 if g <= 3 else 2


def _lower_cut(name: str, guideline: str, etiology: str, conditions: Mapping[str, bool]) -> float | None:
    """The secondary-MR severe cut of :data:`SECONDARY_LOWER_CUTS` that applies, or ``None``."""
    if etiology != "secondary" or name not in SECONDARY_LOWER_CUTS:
        return None
    kind, flag = SECONDARY_LOWER_CUTS[name]
    return _cut(guideline, name, kind) if conditions[flag] else None


def _quantitative(name: str, x: float, guideline: str, lower: float | None) -> Finding:
    """The grade of one quantitative parameter; `lower` replaces its severe cut (:func:`_lower_cut`)."""
    c2 = _cut(guideline, name, "grade2_from")
    c3 = _cut(guideline, name, "grade3_from")
    c4_usual = _cut(guideline, name, "grade4_from")
    c4 = c4_usual if lower is None else lower
    g = 1
    if c2 is not None and x >= c2:
        g = 2
    if c3 is not None and x >= c3:
        g = 3
    if c4 is not None and x >= c4:
        g = 4
    if x == 0.0:
        g = 0
    by_lower = lower is not None and g == 4 and c4_usual is not None and x < c4_usual
    extra = f" (secondary MR, {_CONDITION_WORDS[SECONDARY_LOWER_CUTS[name][1]]}: severe from {lower:g})" if by_lower else ""
    return Finding(name, x, "quantitative", frozenset({g}), f"{name} = {x:g} → {GRADE_LABELS[g]}{extra}", g, name)


def _crit(criterion: str, parameter: str, value: Any, side: str | None, text: str) -> Finding:
    """A criterion finding: side ``"mild"``, ``"severe"``, ``"intermediate"`` or ``None`` (not used)."""
    kind, comp = {
        "mild": ("criterion_mild", _MILD),
        "severe": ("criterion_severe", _SEVERE),
        "intermediate": ("intermediate", _MID),
        None: ("not_used", _ALL),
    }[side]
    return Finding(parameter, value, kind, comp, text, None, criterion)


def _ops(inclusive: bool) -> tuple[str, str]:
    """(the cut's sign, its complement): ``("≥", "<")`` for an inclusive cut, ``(">", "≤")`` otherwise."""
    return ("≥", "<") if inclusive else (">", "≤")


def _reaches(x: float, cut: float, inclusive: bool) -> bool:
    return x >= cut if inclusive else x > cut


def _vena_contracta(i: MRInputs, gl: str) -> list[Finding]:
    out: list[Finding] = []
    lo, hi = _req(gl, "vc_cm", "specific_mild_below"), _req(gl, "vc_cm", "specific_severe_from")
    bi_row, bi_incl = severe_cut(gl, "vc_biplane_cm")
    bi, (at, below) = bi_row.value, _ops(bi_incl)
    if i.vc_biplane_cm is not None and _reaches(i.vc_biplane_cm, bi, bi_incl):
        out.append(_crit("vena_contracta", "vc_biplane_cm", i.vc_biplane_cm, "severe", f"biplane vena contracta {i.vc_biplane_cm:g} cm {at} {bi:g} → severe criterion"))
    elif i.vc_cm is not None:
        vc = i.vc_cm
        if vc < lo:
            out.append(_crit("vena_contracta", "vc_cm", vc, "mild", f"vena contracta {vc:g} cm < {lo:g} → mild criterion"))
        elif vc >= hi:
            out.append(_crit("vena_contracta", "vc_cm", vc, "severe", f"vena contracta {vc:g} cm ≥ {hi:g} → severe criterion"))
        else:
            out.append(_crit("vena_contracta", "vc_cm", vc, "intermediate", f"vena contracta {vc:g} cm intermediate ({lo:g}–{hi:g})"))
    elif i.vc_biplane_cm is not None:
        out.append(_crit("vena_contracta", "vc_biplane_cm", i.vc_biplane_cm, "intermediate", f"biplane vena contracta {i.vc_biplane_cm:g} cm {below} {bi:g}: not a severe criterion"))
    return out


def _flow_convergence(i: MRInputs, gl: str, warnings: list[str], notes: list[str]) -> list[Finding]:
    r = i.pisa_radius_cm
    if r is None:
        return []
    va, alpha = i.aliasing_cm_s, i.wall_angle_deg
    va_lo, va_hi = _req(gl, "aliasing_cm_s", "radius_valid_from"), _req(gl, "aliasing_cm_s", "radius_valid_to")
    lo, hi = _req(gl, "pisa_radius_cm", "specific_mild_at_most"), _req(gl, "pisa_radius_cm", "specific_severe_from")
    why = None
    if va is not None and not (va_lo <= va <= va_hi):
        why = f"aliasing {va:g} cm/s outside {va_lo:g}–{va_hi:g}"
        warnings.append(f"PISA at an aliasing velocity of {va:g} cm/s, outside {va_lo:g}–{va_hi:g}: the radius sign does not apply")
    elif alpha is not None and alpha < 180.0:
        why = f"wall-constrained convergence (α {alpha:g}°)"
        warnings.append(f"PISA radius sign not applied to a wall-constrained convergence (α {alpha:g}°); use the α-corrected EROA")
    elif i.jet_type is not None and i.jet_type != "central":
        why = f"{i.jet_type.replace('_', ' ')} jet"
        warnings.append("PISA radius sign is for central jets; not applied to an eccentric jet")
    elif i.eroa_cm2 is not None:
        why = "it is the measurement behind the PISA EROA (counted once, as EROA)"
    if why is not None:
        return [_crit("flow_convergence", "pisa_radius_cm", r, None, f"PISA radius {r:g} cm not counted as a criterion: {why}")]
    if va is None:
        notes.append(f"PISA radius read assuming an aliasing velocity of {va_lo:g}–{va_hi:g} cm/s")
    if r <= lo:
        return [_crit("flow_convergence", "pisa_radius_cm", r, "mild", f"PISA radius {r:g} cm ≤ {lo:g} → small/no flow convergence, mild criterion")]
    if r >= hi:
        return [_crit("flow_convergence", "pisa_radius_cm", r, "severe", f"PISA radius {r:g} cm ≥ {hi:g} → large flow convergence, severe criterion{_RADIUS_LABEL[gl]}")]
    return [_crit("flow_convergence", "pisa_radius_cm", r, "intermediate", f"PISA radius {r:g} cm intermediate")]


def _jet(i: MRInputs, gl: str, warnings: list[str]) -> list[Finding]:
    if i.jet_type == "eccentric_wall_hugging":
        if i.jet_area_pct is not None:
            warnings.append("jet area % of LA is not used for an eccentric wall-hugging jet (it underestimates)")
        return [_crit("jet", "jet_type", i.jet_type, "severe", "eccentric wall-hugging jet → severe criterion (any size)")]
    jet = i.jet_area_pct
    if jet is None:
        return []
    if i.jet_type == "eccentric":
        warnings.append("jet area % of LA is read for central jets; an eccentric jet's area is not a criterion")
        return [_crit("jet", "jet_area_pct", jet, None, f"jet area {jet:g}% not counted: eccentric jet")]
    lo, hi = _req(gl, "jet_area_pct", "specific_mild_below"), _req(gl, "jet_area_pct", "specific_severe_above")
    if jet < lo:
        return [_crit("jet", "jet_area_pct", jet, "mild", f"jet area {jet:g}% of LA < {lo:g}% → small central jet, mild criterion")]
    if jet > hi:
        return [_crit("jet", "jet_area_pct", jet, "severe", f"jet area {jet:g}% of LA > {hi:g}% → large central jet, severe criterion")]
    return [_crit("jet", "jet_area_pct", jet, "intermediate", f"jet area {jet:g}% of LA intermediate")]


def _categorical(i: MRInputs) -> list[Finding]:
    out: list[Finding] = []
    texts = {
        ("mv_morphology", "normal_or_mild"): ("mild", "normal or mildly abnormal leaflets → mild criterion"),
        ("mv_morphology", "moderate"): ("intermediate", "moderately abnormal leaflets → intermediate"),
        ("mv_morphology", "flail_or_large_defect"): ("severe", "flail leaflet / ruptured papillary muscle / large coaptation defect → severe criterion"),
        ("cw_density", "faint"): ("mild", "faint/partial/parabolic CW envelope → mild criterion"),
        ("cw_density", "dense_parabolic"): ("intermediate", "dense but parabolic CW envelope → intermediate"),
        ("cw_density", "dense_triangular"): ("severe", "dense triangular CW envelope → severe criterion"),
        ("pv_flow", "normal"): ("mild", "pulmonary-vein systolic dominance → mild criterion"),
        ("pv_flow", "blunted"): ("intermediate", "pulmonary-vein systolic flow blunted → intermediate"),
        ("pv_flow", "reversal"): ("severe", "pulmonary-vein systolic flow reversal → severe criterion"),
    }
    for name in ("mv_morphology", "cw_density", "pv_flow"):
        v = getattr(i, name)
        if v is not None:
            side, text = texts[(name, v)]
            out.append(_crit(name, name, v, side, text))
    return out


def _inflow(i: MRInputs, gl: str, warnings: list[str]) -> list[Finding]:
    c = _req(gl, "e_velocity_m_s", "specific_severe_above")
    e, pat = i.e_velocity_m_s, i.inflow_pattern
    if e is not None and pat == "a_dominant" and e > c:
        warnings.append(f"E velocity {e:g} m/s > {c:g} with an A-wave-dominant inflow: check the inflow recording")
    if e is not None and e > c:
        return [_crit("inflow", "e_velocity_m_s", e, "severe", f"E velocity {e:g} m/s > {c:g} → E-wave dominant inflow, severe criterion")]
    if pat == "e_dominant":
        return [_crit("inflow", "inflow_pattern", pat, "intermediate" if e is not None else "severe",
                      "E-wave dominant inflow" + (f" but E {e:g} m/s ≤ {c:g}: not a severe criterion" if e is not None else " → severe criterion"))]  # fmt: skip
    if pat == "a_dominant":
        return [_crit("inflow", "inflow_pattern", pat, "mild", "A-wave dominant inflow → mild criterion")]
    if e is not None or pat is not None:
        return [_crit("inflow", "e_velocity_m_s" if e is not None else "inflow_pattern", e if e is not None else pat, "intermediate", "mitral inflow neither A- nor E-dominant" if e is None else f"E velocity {e:g} m/s ≤ {c:g}: not a severe criterion")]
    return []


def _la_part(la: float, gl: str) -> tuple[str, str]:
    """(size, text) of an LA volume index: ``"dilated"`` at the set's severe cut, ``"normal"`` at
    most the mild cut, else ``"between"`` (only where the two cuts differ: ESC 2021)."""
    row, inclusive = severe_cut(gl, "la_volume_index_ml_m2")
    big, normal = row.value, _req(gl, "la_volume_index_ml_m2", "specific_mild_at_most")
    at, below = _ops(inclusive)
    if _reaches(la, big, inclusive):
        return "dilated", f"LA volume index {la:g} mL/m² {at} {big:g}"
    if la <= normal:
        return "normal", f"LA volume index {la:g} mL/m² ≤ {normal:g}"
    return "between", f"LA volume index {la:g} mL/m² above {normal:g} (upper normal) and {below} {big:g}"


#: Chamber diameters that only some sets grade (ESC 2021 Table 7): field → words.
_DIAMETERS = {"lvesd_mm": "LV end-systolic diameter", "la_diameter_mm": "LA diameter"}


def _diameters(i: MRInputs, gl: str) -> tuple[list[tuple[str, float, str, bool]], list[Finding]]:
    """((field, value, text, dilated) of each diameter the set grades, and a not-used finding for each
    diameter the set has no row for."""
    graded: list[tuple[str, float, str, bool]] = []
    unused: list[Finding] = []
    for name, words in _DIAMETERS.items():
        x = getattr(i, name)
        if x is None:
            continue
        row = threshold(gl, name, "specific_severe_from")
        if row is None:
            unused.append(_crit("chambers", name, x, None, f"{words} {x:g} mm: not a criterion of the {gl} set"))
        else:
            graded.append((name, x, f"{words} {x:g} mm {'≥' if x >= row.value else '<'} {row.value:g}", x >= row.value))
    return graded, unused


def _chambers(i: MRInputs, gl: str) -> list[Finding]:
    la, lv = i.la_volume_index_ml_m2, i.lv_size
    diam, unused = _diameters(i, gl)
    if la is None and lv is None and not diam:
        return unused
    la_size, la_text = _la_part(la, gl) if la is not None else (None, "")
    parts = ([la_text] if la is not None else []) + ([f"LV {lv}"] if lv else []) + [d[2] for d in diam]
    big = [(n, x) for n, x, _, dilated in diam if dilated]
    if lv == "enlarged" or la_size == "dilated" or big:
        name, value = ("lv_size", lv) if lv == "enlarged" else ("la_volume_index_ml_m2", la) if la_size == "dilated" else big[0]
        return [_crit("chambers", name, value, "severe", "; ".join(parts) + " → enlarged chamber(s), severe criterion"), *unused]
    if la_size == "between":
        return [_crit("chambers", "la_volume_index_ml_m2", la, "intermediate", "; ".join(parts) + " → neither normal size nor a severe criterion"), *unused]
    if la is None and lv is None:  # diameters below their cuts: no mild column for them (Table 7 lists severe only)
        return [_crit("chambers", diam[0][0], diam[0][1], "intermediate", "; ".join(parts) + " → not a severe criterion"), *unused]
    return [_crit("chambers", "lv_size" if lv is not None else "la_volume_index_ml_m2", lv if lv is not None else la, "mild", "; ".join(parts) + " → normal chamber size, mild criterion"), *unused]


def _tvi_ratio(i: MRInputs, gl: str) -> list[Finding]:
    x = i.tvi_mitral_aortic_ratio
    if x is None:
        return []
    if threshold(gl, "tvi_mitral_aortic_ratio", "specific_severe_above") is None and threshold(gl, "tvi_mitral_aortic_ratio", "specific_severe_from") is None:
        return [_crit("tvi_ratio", "tvi_mitral_aortic_ratio", x, None, f"TVI mitral/TVI aortic {x:g}: not a criterion of the {gl} set")]
    row, inclusive = severe_cut(gl, "tvi_mitral_aortic_ratio")
    at, below = _ops(inclusive)
    if _reaches(x, row.value, inclusive):
        return [_crit("tvi_ratio", "tvi_mitral_aortic_ratio", x, "severe", f"TVI mitral/TVI aortic {x:g} {at} {row.value:g} → severe criterion")]
    return [_crit("tvi_ratio", "tvi_mitral_aortic_ratio", x, "intermediate", f"TVI mitral/TVI aortic {x:g} {below} {row.value:g}: not a severe criterion")]


def _consistency(i: MRInputs, warnings: list[str]) -> None:
    vc, eroa = i.vc_cm, i.eroa_cm2
    if vc is not None and eroa is not None and vc > 0.0 and eroa > 0.0:
        circ = math.pi * vc * vc / 4.0
        k = VC_EROA_MAX_ASPECT
        if not (circ / k <= eroa <= circ * k):
            warnings.append(
                f"vena contracta {vc:g} cm cannot belong to EROA {eroa:g} cm²: a {vc:g} cm width spans "
                f"{circ / k:.2f}–{circ * k:.2f} cm² for orifice aspect ratios up to {k:g}"
            )
    if i.aliasing_cm_s is not None and i.pisa_radius_cm is None and i.eroa_cm2 is None:
        warnings.append("aliasing velocity given without a PISA radius: not used")


def _findings(inputs: MRInputs, guideline: str, etiology: str, conditions: Mapping[str, bool]) -> tuple[list[Finding], list[str], list[str]]:
    warnings: list[str] = []
    notes: list[str] = []
    out = [_quantitative(n, float(getattr(inputs, n)), guideline, _lower_cut(n, guideline, etiology, conditions)) for n in _QUANT if getattr(inputs, n) is not None]
    out += _categorical(inputs)
    out += _jet(inputs, guideline, warnings)
    out += _flow_convergence(inputs, guideline, warnings, notes)
    out += _vena_contracta(inputs, guideline)
    out += _inflow(inputs, guideline, warnings)
    out += _chambers(inputs, guideline)
    out += _tvi_ratio(inputs, guideline)
    _consistency(inputs, warnings)
    notes += _etiology_notes(inputs, out, guideline, etiology, conditions)
    if MILD_COLUMN_LABEL[guideline] and any(f.kind == "criterion_mild" for f in out):
        out = [replace(f, text=f.text + MILD_COLUMN_LABEL[guideline]) if f.kind == "criterion_mild" else f for f in out]
        notes.append(ESC_MILD_COLUMN_NOTE)
    chambers_given = any(getattr(inputs, n) is not None for n in ("la_volume_index_ml_m2", *_DIAMETERS))
    if guideline == "esc2021" and etiology == "secondary" and chambers_given:
        notes.append(ESC_SECONDARY_LA_NOTE)
    return out, notes, warnings


def _etiology_notes(i: MRInputs, found: list[Finding], guideline: str, etiology: str, conditions: Mapping[str, bool]) -> list[str]:
    notes: list[str] = []
    q = {f.parameter: _gr(f) for f in found if f.kind == "quantitative"}
    if "rf_pct" in q and "rvol_ml" in q and _category(q["rf_pct"]) > _category(q["rvol_ml"]):
        notes.append("RF grades higher than RVol: a low forward flow raises RF at a given RVol (low-flow state); RF overstates the lesion")
    if etiology != "secondary":
        return notes
    notes.append("secondary MR: the orifice is often elliptical along the coaptation line; a single-plane VC and hemispheric PISA underestimate it (biplane VC / 3D VCA)")
    for name in ("eroa_cm2", "rvol_ml"):
        if guideline == "esc2021":
            kind, flag = SECONDARY_LOWER_CUTS[name]
            if conditions[flag]:
                continue
            say = f"counts as severe with {_CONDITION_WORDS[flag]} (ESC 2021 Table 7; set {flag})"
        else:
            kind, say = "secondary_may_be_severe_from", "may already be severe (elliptical orifice / low flow); integrate with other findings"
        x, c = getattr(i, name), _cut(guideline, name, kind)
        c4 = _cut(guideline, name, "grade4_from")
        if x is not None and c is not None and c4 is not None and c <= x < c4:
            notes.append(f"secondary MR: {name} {x:g} ≥ {c:g} {say}")
    return notes


def most_likely_grade(quant: Mapping[str, int]) -> int | None:
    """:data:`MOST_LIKELY_RULE` on the quantitative grades given (``{"eroa_cm2": 1, ...}``)."""
    g = [quant[n] for n in _QUANT if n in quant]
    if not g:
        return None
    ml = (quant["eroa_cm2"] if "eroa_cm2" in quant else quant["rvol_ml"]) if len(g) == 2 else sorted(g)[len(g) // 2]
    return max(ml, 1) if max(g) > 0 else 0  # "0" only when every quantitative parameter is zero


def _by_quantitation(quant: list[Finding]) -> tuple[int | None, str, str]:
    """(grade or None, rule, decision text) from the quantitative findings alone (steps 3–4)."""
    grades = [_gr(f) for f in quant]
    lo, hi = min(grades), max(grades)
    if lo == hi:
        return lo, "quantitation", f"quantitation concordant ({', '.join(f.parameter for f in quant)}): {GRADE_LABELS[lo]}"
    if lo == 0 and hi == 1:
        return 1, "quantitation", "quantitation mild (0 only when every quantitative parameter is zero): 1+"
    if _category(lo) == _category(hi):
        n_hi = grades.count(hi)
        n_lo = len(grades) - n_hi
        if n_hi != n_lo:
            g = hi if n_hi > n_lo else lo
            how = "majority"
        else:
            first = next(f for n in ("eroa_cm2", "rvol_ml") for f in quant if f.parameter == n)
            g, how = _gr(first), f"tie taken by {first.parameter}"
        return g, "quantitation", f"quantitation concordant in one category ({SEVERITY_WORDS[lo]}–{SEVERITY_WORDS[hi]}); {GRADE_LABELS[g]} by {how} [2+/3+ split: trial convention]"
    return None, "discordant_quantitation", "quantitative parameters in different categories: indeterminate (ASE 2017: consider TEE, CMR or 3D)"


def _decide(found: list[Finding], guideline: str) -> tuple[int | None, str, str, list[Finding], list[Finding]]:
    """Steps 1–4 of the module docstring: (grade, rule, decision text, drivers, conflicting findings)."""
    quant = [f for f in found if f.kind == "quantitative"]
    sev = [f for f in found if f.kind == "criterion_severe"]
    mild = [f for f in found if f.kind == "criterion_mild"]
    need = _needed(guideline)
    q_grade, q_rule, q_text = _by_quantitation(quant) if quant else (None, "insufficient", "")
    if quant and all(f.grade == 0 for f in quant) and len(sev) < need:
        return 0, "no_regurgitation", "no regurgitant flow measured", quant, []
    if len(sev) >= need and len(mild) < need:
        if quant and max(_gr(f) for f in quant) <= 2:  # no quantitative parameter in the severe zone
            return None, "criteria_vs_quantitation", f"{len(sev)} severe criteria ({count_rule(guideline)}) but no quantitative parameter above {GRADE_LABELS[max(_gr(f) for f in quant)]}: indeterminate (consider TEE, CMR or 3D)", [], sev + quant
        return 4, "criteria_severe", f"{len(sev)} criteria of severe MR ({count_rule(guideline)}): severe", sev + [f for f in quant if _gr(f) == 4], []
    if len(mild) >= need and len(sev) < need:
        if quant and max(_gr(f) for f in quant) >= 3:  # a quantitative parameter in the 3+/4+ zone
            return None, "criteria_vs_quantitation", f"{len(mild)} mild criteria ({count_rule(guideline)}) but quantitation reaches {GRADE_LABELS[max(_gr(f) for f in quant)]}: indeterminate (consider TEE, CMR or 3D)", [], mild + quant
        return 1, "criteria_mild", f"{len(mild)} criteria of mild MR ({count_rule(guideline)}): mild", mild + [f for f in quant if _gr(f) <= 1], []
    counted = f"{len(sev)} severe / {len(mild)} mild criteria (< {need}): quantitation decides"
    if not quant:
        return None, "insufficient", f"{counted}, but none given (EROA, RVol, RF): indeterminate", [], []
    if q_grade is None:
        grades = [_gr(f) for f in quant]
        return None, q_rule, f"{counted}; {q_text}", [], [f for f in quant if f.grade in (min(grades), max(grades))]
    return q_grade, q_rule, f"{counted}; {q_text}", [f for f in quant if _category(_gr(f)) == _category(q_grade)], []


def _parse(measurements: MRInputs | Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> MRInputs:
    data: dict[str, Any] = {}
    if isinstance(measurements, MRInputs):
        data = measurements.given()
    elif measurements is not None:
        data = {k: v for k, v in dict(measurements).items() if v is not None}
    data.update({k: v for k, v in kwargs.items() if v is not None})
    known = {f.name for f in fields(MRInputs)}
    for k in data:
        if k not in known:
            raise InputError(k, data[k], "no such field; known: " + ", ".join(sorted(known)))
    for k, v in data.items():
        if k in CATEGORICAL:
            continue
        lo, hi, unit = _RANGES[k]
        try:
            data[k] = float(v)
        except (TypeError, ValueError):
            raise InputError(k, v, f"a number in [{lo:g}, {hi:g}] {unit}") from None
        if not math.isfinite(data[k]):
            raise InputError(k, v, f"[{lo:g}, {hi:g}] {unit}")
    return MRInputs(**data)


def grade_mr(
    measurements: MRInputs | Mapping[str, Any] | None = None,
    *,
    etiology: str = "primary",
    guideline: str = "ase2017",
    elliptical_orifice: bool = False,
    low_flow: bool = False,
    **kwargs: Any,
) -> MRGrade:
    """Grade MR from any subset of measured parameters (algorithm in the module docstring).

    **Arguments:**

    - `measurements`: an :class:`MRInputs`, a mapping with its field names, or
      ``None`` and the fields as keyword arguments.
    - `etiology`: ``"primary"`` or ``"secondary"``.
    - `guideline`: ``"ase2017"`` or ``"esc2021"`` (see :mod:`mitrasim.echo.thresholds`).
    - `elliptical_orifice`, `low_flow`: secondary MR with an elliptical regurgitant orifice,
      in low-flow conditions; under ``"esc2021"`` they lower the severe cut of EROA and of
      RVol respectively (ESC 2021 Table 7, :data:`SECONDARY_LOWER_CUTS`); no effect otherwise.

    **Returns:** an :class:`MRGrade`.

    **Raises:** `InputError` for an unknown field, a value out of its range or
    not among its allowed values, or when no grading parameter is given.
    """
    inputs = _parse(measurements, kwargs)
    _validate(inputs, etiology, guideline)
    found, notes, warnings = _findings(inputs, guideline, etiology, {"elliptical_orifice": elliptical_orifice, "low_flow": low_flow})
    g, rule, decision, drivers, conflict = _decide(found, guideline)
    ml: int | None = None
    ml_rule: str | None = None
    if g is None:
        q = {f.parameter: _gr(f) for f in found if f.kind == "quantitative"}
        ml = most_likely_grade(q)
        ml_rule = MOST_LIKELY_RULE if ml is not None else "none: no quantitative parameter (measure EROA, RVol or RF)"
    disagreeing = [f.parameter for f in conflict] if g is None else [f.parameter for f in found if f.kind != "not_used" and g not in f.compatible]
    keys = sources_of(guideline)
    citations.cite(*keys)
    return MRGrade(
        grade=grade_label(g),
        grade_number=g,
        severity=INDETERMINATE if g is None else SEVERITY_WORDS[g],
        reasons=[decision] + [f.text for f in found],
        drivers=list(dict.fromkeys(f.parameter for f in drivers)),
        disagreeing=list(dict.fromkeys(disagreeing)),
        measurements=inputs.given(),
        guideline=guideline,
        etiology=etiology,
        notes=notes,
        findings=found,
        citations=list(keys),
        rule=rule,
        criteria_mild=[f.criterion for f in found if f.kind == "criterion_mild"],
        criteria_severe=[f.criterion for f in found if f.kind == "criterion_severe"],
        most_likely_grade=None if ml is None else grade_label(ml),
        most_likely_rule=ml_rule,
        warnings=warnings,
    )


def decision_grade(g: MRGrade) -> int:
    """The grade a decision (stop rule, indication, MVARC) uses: the guideline grade, or when
    indeterminate the most-likely grade (:data:`MOST_LIKELY_RULE`); 4 when neither exists (no
    quantitation at all — the operator keeps treating). Never silently the worst quantitative grade."""
    if g.grade_number is not None:
        return int(g.grade_number)
    ml = g.most_likely_number
    return 4 if ml is None else int(ml)


def _quant_grade_arrays(name: str, x: np.ndarray, guideline: str, lowered: np.ndarray) -> np.ndarray:
    """Vectorised :func:`_quantitative` grade (0–4) of one parameter, same cuts and rules; where
    `lowered`, the parameter's secondary-MR cut (:data:`SECONDARY_LOWER_CUTS`) if the set has one."""
    g = np.ones(x.shape, dtype=np.int64)
    c4 = _cut(guideline, name, "grade4_from")
    c_ell = _cut(guideline, name, SECONDARY_LOWER_CUTS[name][0]) if name in SECONDARY_LOWER_CUTS else None
    for k, c in ((2, _cut(guideline, name, "grade2_from")), (3, _cut(guideline, name, "grade3_from"))):
        if c is not None:
            g = np.where(x >= c, k, g)
    c4_or_inf = np.inf if c4 is None else c4  # no grade-4 cut: never grade 4 by this parameter
    c4_arr = np.where(lowered, c_ell, c4_or_inf) if c_ell is not None else np.full(x.shape, c4_or_inf)
    g = np.where(x >= c4_arr, 4, g)
    return np.where(x == 0.0, 0, g)


def _criteria_counts_arrays(shape: tuple[int, ...], guideline: str, vc_cm: np.ndarray | None, pv_flow_code: np.ndarray | None,
                            e_velocity_m_s: np.ndarray | None, cw_code: np.ndarray | None,
                            lv_code: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(severe, mild) criteria counts of the signs a synthetic echo reports (VC, PV flow, E velocity,
    CW envelope, LV size)."""
    sev = np.zeros(shape, np.int64)
    mild = np.zeros(shape, np.int64)
    if vc_cm is not None:
        vc = np.asarray(vc_cm, float)
        mild += np.isfinite(vc) & (vc < _req(guideline, "vc_cm", "specific_mild_below"))
        sev += np.isfinite(vc) & (vc >= _req(guideline, "vc_cm", "specific_severe_from"))
    if pv_flow_code is not None:
        pv = np.asarray(pv_flow_code)
        mild += pv == PV_CODES["normal"]
        sev += pv == PV_CODES["reversal"]
    if e_velocity_m_s is not None:
        e = np.asarray(e_velocity_m_s, float)
        sev += np.isfinite(e) & (e > _req(guideline, "e_velocity_m_s", "specific_severe_above"))
    if cw_code is not None:
        cw = np.asarray(cw_code)
        mild += cw == CW_CODES["faint"]
        sev += cw == CW_CODES["dense_triangular"]
    if lv_code is not None:
        lv = np.asarray(lv_code)
        mild += lv == LV_CODES["normal"]
        sev += lv == LV_CODES["enlarged"]
    return sev, mild


def grade_mr_arrays(
    eroa_cm2: np.ndarray,
    rvol_ml: np.ndarray,
    rf_pct: np.ndarray,
    *,
    vc_cm: np.ndarray | None = None,
    pisa_radius_cm: np.ndarray | None = None,
    aliasing_cm_s: float | None = None,
    pv_flow_code: np.ndarray | None = None,
    e_velocity_m_s: np.ndarray | None = None,
    cw_code: np.ndarray | None = None,
    lv_code: np.ndarray | None = None,
    secondary: np.ndarray | None = None,
    guideline: str = "ase2017",
    elliptical_orifice: bool = False,
    low_flow: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`grade_mr` on arrays, for many states at once (same thresholds, same algorithm).

    EROA, RVol and RF are required (arrays of one shape); the optional signs are arrays of
    the same shape with NaN (``pv_flow_code``, ``cw_code``, ``lv_code``: −1, see :data:`PV_CODES`,
    :data:`mitrasim.echo.signs.CW_CODES`, :data:`mitrasim.echo.signs.LV_CODES`) where not measured.
    The PISA radius is the measurement behind the EROA given, so it is never a criterion here
    (accepted for the same signature as the inputs of :meth:`EchoMeasurements.mr_inputs`).
    Values are not range-checked; a non-finite EROA, RVol or RF gives an indeterminate grade.

    Returns ``(grade, decision)``: ``grade`` 0–4 or −1 for *indeterminate*; ``decision``
    the grade, or when indeterminate the most-likely grade (:func:`decision_grade`).
    """
    if guideline not in GUIDELINES:
        raise InputError("guideline", guideline, " | ".join(GUIDELINES))
    _ = (pisa_radius_cm, aliasing_cm_s)  # counted once, as the EROA
    q_in = [np.asarray(a, dtype=float) for a in (eroa_cm2, rvol_ml, rf_pct)]
    shape = q_in[0].shape
    sec = np.zeros(shape, bool) if secondary is None else np.asarray(secondary, bool)
    flags = {"elliptical_orifice": elliptical_orifice, "low_flow": low_flow}
    lowered = {nm: sec & flags[SECONDARY_LOWER_CUTS[nm][1]] if nm in SECONDARY_LOWER_CUTS else np.zeros(shape, bool) for nm in _QUANT}
    q = np.stack([_quant_grade_arrays(nm, x, guideline, lowered[nm]) for nm, x in zip(_QUANT, q_in)])
    finite = np.all(np.isfinite(np.stack(q_in)), axis=0)
    lo, hi = q.min(axis=0), q.max(axis=0)
    cat = np.array([0, 0, 1, 1, 2])
    majority = np.where((q == hi).sum(axis=0) >= 2, hi, lo)  # three values: never a tie
    by_quant = np.where(lo == hi, lo, np.where((lo == 0) & (hi == 1), 1, np.where(cat[lo] == cat[hi], majority, -1)))
    median = np.where(hi > 0, np.maximum(np.sort(q, axis=0)[1], 1), 0)
    sev_n, mild_n = _criteria_counts_arrays(shape, guideline, vc_cm, pv_flow_code, e_velocity_m_s, cw_code, lv_code)
    need = _needed(guideline)
    severe_call = (sev_n >= need) & (mild_n < need)
    mild_call = (mild_n >= need) & (sev_n < need)
    grade = np.where(
        np.all(q == 0, axis=0) & (sev_n < need),
        0,
        np.where(
            severe_call,
            np.where(hi <= 2, -1, 4),  # no quantitative parameter in the severe zone: criteria vs quantitation
            np.where(mild_call, np.where(hi >= 3, -1, 1), by_quant),
        ),
    )
    grade = np.where(finite, grade, -1)
    decision = np.where(grade >= 0, grade, np.where(finite, median, 4))
    citations.cite(*sources_of(guideline))
    return grade.astype(np.int64), decision.astype(np.int64)
