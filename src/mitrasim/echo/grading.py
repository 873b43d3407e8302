"""Integrative grading of mitral regurgitation (ASE 2017 / ACC-AHA 2020; ESC 2021 / EACVI 2022).

The grade comes from any subset of the measured parameters. Each parameter is
first read on its own into a :class:`Finding` (a quantitative grade, a specific
or supportive sign of mild or severe MR, an intermediate or a neutral value)
with the thresholds of :mod:`mitrasim.echo.thresholds`. Then the ASE
integrative algorithm is followed:

1. Specific signs settle it: specific signs of severe MR (and none of mild) give
   4+ unless a quantitative parameter says ≤ 2+; specific signs of mild MR (and
   none of severe) give 1+ unless a quantitative parameter says ≥ 3+. Such a
   contradiction, or specific signs of both, is *indeterminate*.
2. Otherwise the quantitative parameters (EROA, RVol, RF) decide: all the same
   grade → that grade; two adjacent grades → the majority, a tie broken by the
   supportive signs, then by EROA, then RVol; grades two or more apart →
   *indeterminate* (needs another modality).
3. No specific sign and no quantitative parameter → *indeterminate*.

Grade ``"0"`` (none/trace) is given when every quantitative parameter given is
exactly zero and no sign of severe MR is present (not a guideline category; it
lets a simulated competent valve read as no MR).

Every result lists the parameters that drove it and those that disagreed with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from mitrasim import citations
from mitrasim.echo import sources as _sources  # noqa: F401  (registers the sources)
from mitrasim.echo.thresholds import GUIDELINES, sources_of, threshold
from mitrasim.errors import InputError, check_range

__all__ = [
    "MRInputs",
    "Finding",
    "MRGrade",
    "grade_mr",
    "SEVERITY_WORDS",
    "GRADE_LABELS",
    "PV_FLOW_PATTERNS",
    "ETIOLOGIES",
    "grade_label",
    "grade_number",
    "grade_mr_arrays",
    "PV_CODES",
]

PV_FLOW_PATTERNS: tuple[str, ...] = ("normal", "blunted", "reversal")
ETIOLOGIES: tuple[str, ...] = ("primary", "secondary")
GRADE_LABELS: dict[int, str] = {0: "0", 1: "1+", 2: "2+", 3: "3+", 4: "4+"}
SEVERITY_WORDS: dict[int, str] = {0: "none/trace", 1: "mild", 2: "moderate", 3: "moderate-severe", 4: "severe"}
INDETERMINATE = "indeterminate"

_ALL = frozenset(range(5))

# name -> (lo, hi, unit) physical range accepted at the edge
_RANGES: dict[str, tuple[float, float, str]] = {
    "eroa_cm2": (0.0, 5.0, "cm2"),
    "rvol_ml": (0.0, 500.0, "mL"),
    "rf_pct": (0.0, 100.0, "%"),
    "vc_cm": (0.0, 3.0, "cm"),
    "pisa_radius_cm": (0.0, 5.0, "cm"),
    "aliasing_cm_s": (0.0, 200.0, "cm/s"),
    "e_velocity_m_s": (0.0, 10.0, "m/s"),
    "jet_area_pct": (0.0, 100.0, "%"),
    "la_volume_index_ml_m2": (0.0, 300.0, "mL/m2"),
}


@dataclass(frozen=True)
class MRInputs:
    """Measured MR parameters; every field optional (``None`` = not measured).

    `pv_flow` is the pulmonary-vein systolic pattern: ``"normal"`` (systolic
    dominance), ``"blunted"`` or ``"reversal"`` (systolic flow reversal).
    """

    eroa_cm2: float | None = None
    rvol_ml: float | None = None
    rf_pct: float | None = None
    vc_cm: float | None = None
    pisa_radius_cm: float | None = None
    aliasing_cm_s: float | None = None
    pv_flow: str | None = None
    e_velocity_m_s: float | None = None
    jet_area_pct: float | None = None
    la_volume_index_ml_m2: float | None = None

    def given(self) -> dict[str, Any]:
        """The measured (non-``None``) fields."""
        return {k: v for k, v in asdict(self).items() if v is not None}


_GRADING_FIELDS = tuple(f.name for f in fields(MRInputs) if f.name != "aliasing_cm_s")


@dataclass(frozen=True)
class Finding:
    """One parameter read on its own.

    `kind` is one of ``quantitative``, ``specific_mild``, ``specific_severe``,
    ``supportive_mild``, ``supportive_severe``, ``intermediate``, ``neutral``;
    `compatible` the grades (0–4) this finding agrees with; `grade` the grade of
    a quantitative parameter.
    """

    parameter: str
    value: Any
    kind: str
    compatible: frozenset[int]
    text: str
    grade: int | None = None


@dataclass
class MRGrade:
    """Result of :func:`grade_mr`."""

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

    @property
    def indeterminate(self) -> bool:
        return self.grade_number is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: grade, severity, reasons, measurements, plus drivers, disagreeing, notes, guideline."""
        return {
            "grade": self.grade,
            "severity": self.severity,
            "reasons": list(self.reasons),
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


def _validate(inputs: MRInputs, etiology: str, guideline: str) -> None:
    if guideline not in GUIDELINES:
        raise InputError("guideline", guideline, " | ".join(GUIDELINES))
    if etiology not in ETIOLOGIES:
        raise InputError("etiology", etiology, " | ".join(ETIOLOGIES))
    for name, v in inputs.given().items():
        if name == "pv_flow":
            if v not in PV_FLOW_PATTERNS:
                raise InputError("pv_flow", v, " | ".join(PV_FLOW_PATTERNS))
            continue
        lo, hi, unit = _RANGES[name]
        check_range(name, v, lo, hi, unit=unit)
    if not any(getattr(inputs, n) is not None for n in _GRADING_FIELDS):
        raise InputError(
            "measurements",
            None,
            "at least one of: " + ", ".join(_GRADING_FIELDS),
            "nothing to grade",
        )


def _quantitative(name: str, x: float, guideline: str, sec_elliptical: bool) -> Finding:
    c2 = _cut(guideline, name, "grade2_from")
    c3 = _cut(guideline, name, "grade3_from")
    c4 = _cut(guideline, name, "grade4_from")
    if sec_elliptical:
        c_ell = _cut(guideline, name, "secondary_elliptical_severe_from")
        if c_ell is not None:
            c4 = c_ell
    g = 1
    if c2 is not None and x >= c2:
        g = 2
    if c3 is not None and x >= c3:
        g = 3
    if c4 is not None and x >= c4:
        g = 4
    if x == 0.0:
        g = 0
    extra = " (secondary MR, elliptical orifice / low flow cut-off)" if sec_elliptical and g == 4 and c4 != c3 else ""
    return Finding(name, x, "quantitative", frozenset({g}), f"{name} = {x:g} → {GRADE_LABELS[g]}{extra}", g)


def _findings(inputs: MRInputs, guideline: str, etiology: str, elliptical: bool) -> tuple[list[Finding], list[str]]:
    out: list[Finding] = []
    notes: list[str] = []
    sec_ell = etiology == "secondary" and elliptical and guideline == "esc2021"
    for name in ("eroa_cm2", "rvol_ml", "rf_pct"):
        x = getattr(inputs, name)
        if x is not None:
            out.append(_quantitative(name, float(x), guideline, sec_ell))

    vc = inputs.vc_cm
    if vc is not None:
        lo, hi = _cut(guideline, "vc_cm", "specific_mild_below"), _cut(guideline, "vc_cm", "specific_severe_from")
        if vc < lo:
            out.append(Finding("vc_cm", vc, "specific_mild", frozenset({0, 1}), f"vena contracta {vc:g} cm < {lo:g} → specific for mild"))
        elif vc >= hi:
            out.append(Finding("vc_cm", vc, "specific_severe", frozenset({4}), f"vena contracta {vc:g} cm ≥ {hi:g} → specific for severe"))
        else:
            out.append(Finding("vc_cm", vc, "intermediate", frozenset({2, 3}), f"vena contracta {vc:g} cm intermediate ({lo:g}–{hi:g})"))

    r = inputs.pisa_radius_cm
    if r is not None:
        va = inputs.aliasing_cm_s
        va_lo = _cut(guideline, "aliasing_cm_s", "radius_valid_from")
        va_hi = _cut(guideline, "aliasing_cm_s", "radius_valid_to")
        lo = _cut(guideline, "pisa_radius_cm", "specific_mild_at_most")
        hi = _cut(guideline, "pisa_radius_cm", "specific_severe_from")
        if va is not None and not (va_lo <= va <= va_hi):
            out.append(Finding("pisa_radius_cm", r, "neutral", _ALL, f"PISA radius {r:g} cm not read as a sign: aliasing {va:g} cm/s outside {va_lo:g}–{va_hi:g}"))
        elif r <= lo:
            out.append(Finding("pisa_radius_cm", r, "specific_mild", frozenset({0, 1}), f"PISA radius {r:g} cm ≤ {lo:g} → small/no flow convergence, specific for mild"))
        elif r >= hi:
            out.append(Finding("pisa_radius_cm", r, "specific_severe", frozenset({4}), f"PISA radius {r:g} cm ≥ {hi:g} → large flow convergence, specific for severe"))
        else:
            out.append(Finding("pisa_radius_cm", r, "intermediate", frozenset({2, 3}), f"PISA radius {r:g} cm intermediate"))
        if va is None:
            notes.append(f"PISA radius read assuming an aliasing velocity of {va_lo:g}–{va_hi:g} cm/s")

    jet = inputs.jet_area_pct
    if jet is not None:
        lo, hi = _cut(guideline, "jet_area_pct", "specific_mild_below"), _cut(guideline, "jet_area_pct", "specific_severe_above")
        if jet < lo:
            out.append(Finding("jet_area_pct", jet, "specific_mild", frozenset({0, 1}), f"jet area {jet:g}% of LA < {lo:g}% → small central jet, specific for mild"))
        elif jet > hi:
            out.append(Finding("jet_area_pct", jet, "specific_severe", frozenset({4}), f"jet area {jet:g}% of LA > {hi:g}% → large central jet, specific for severe"))
        else:
            out.append(Finding("jet_area_pct", jet, "intermediate", frozenset({2, 3}), f"jet area {jet:g}% of LA intermediate"))

    pv = inputs.pv_flow
    if pv is not None:
        if pv == "reversal":
            out.append(Finding("pv_flow", pv, "specific_severe", frozenset({4}), "pulmonary-vein systolic flow reversal → specific for severe"))
        elif pv == "blunted":
            out.append(Finding("pv_flow", pv, "neutral", _ALL, "pulmonary-vein systolic flow blunted → non-specific"))
        else:
            out.append(Finding("pv_flow", pv, "supportive_mild", frozenset({0, 1, 2}), "pulmonary-vein systolic dominance → supports non-severe"))

    e = inputs.e_velocity_m_s
    if e is not None:
        c = _cut(guideline, "e_velocity_m_s", "supportive_severe_above")
        if e > c:
            out.append(Finding("e_velocity_m_s", e, "supportive_severe", frozenset({3, 4}), f"E velocity {e:g} m/s > {c:g} → supports severe"))
        else:
            out.append(Finding("e_velocity_m_s", e, "neutral", _ALL, f"E velocity {e:g} m/s ≤ {c:g} → non-contributory"))

    la = inputs.la_volume_index_ml_m2
    if la is not None:
        c = _cut(guideline, "la_volume_index_ml_m2", "supportive_severe_above")
        if la > c:
            out.append(Finding("la_volume_index_ml_m2", la, "supportive_severe", frozenset({3, 4}), f"LA volume index {la:g} mL/m² > {c:g} → enlarged LA, supports severe"))
        else:
            out.append(Finding("la_volume_index_ml_m2", la, "supportive_mild", frozenset({0, 1, 2}), f"LA volume index {la:g} mL/m² ≤ {c:g} → normal LA, supports non-severe"))

    if etiology == "secondary":
        # (cut kind, note) of the secondary-MR band below the severe cut, per guideline set
        band = {
            "ase2017": ("secondary_may_be_severe_from", "may already be severe (elliptical orifice / low flow); integrate with other findings"),
            "esc2021": ("secondary_elliptical_severe_from", "counts as severe if the orifice is elliptical or flow is low (set elliptical_orifice)"),
        }.get(guideline)
        if band is not None and not (guideline == "esc2021" and elliptical):
            for name in ("eroa_cm2", "rvol_ml"):
                x, c = getattr(inputs, name), _cut(guideline, name, band[0])
                c4 = _cut(guideline, name, "grade4_from")
                if x is not None and c is not None and c <= x < c4:
                    notes.append(f"secondary MR: {name} {x:g} ≥ {c:g} {band[1]}")
    return out, notes


def _tie_break(quant: list[Finding], support: list[Finding], lo: int, hi: int) -> tuple[int, str]:
    sev = any(f.kind == "supportive_severe" for f in support)
    mild = any(f.kind == "supportive_mild" for f in support)
    if sev and not mild:
        return hi, "tie broken upward by supportive signs of severe MR"
    if mild and not sev:
        return lo, "tie broken downward by supportive signs of non-severe MR"
    for name in ("eroa_cm2", "rvol_ml"):
        for f in quant:
            if f.parameter == name:
                return f.grade, f"tie broken by {name}"
    return lo, "tie broken downward"  # not reachable with three quantitative parameters


def grade_mr(
    measurements: MRInputs | Mapping[str, Any] | None = None,
    *,
    etiology: str = "primary",
    guideline: str = "ase2017",
    elliptical_orifice: bool = False,
    **kwargs: Any,
) -> MRGrade:
    """Grade MR from any subset of measured parameters.

    **Arguments:**

    - `measurements`: an :class:`MRInputs`, a mapping with its field names, or
      ``None`` and the fields as keyword arguments (`eroa_cm2`, `rvol_ml`,
      `rf_pct`, `vc_cm`, `pisa_radius_cm`, `aliasing_cm_s`, `pv_flow`,
      `e_velocity_m_s`, `jet_area_pct`, `la_volume_index_ml_m2`).
    - `etiology`: ``"primary"`` or ``"secondary"``.
    - `guideline`: ``"ase2017"`` or ``"esc2021"`` (see :mod:`mitrasim.echo.thresholds`).
    - `elliptical_orifice`: secondary MR with an elliptical orifice or low flow;
      under ``"esc2021"`` it lowers the severe EROA/RVol cut-offs.

    **Returns:** an :class:`MRGrade`.

    **Raises:** `InputError` for an unknown field, a value out of its physical
    range, or when no grading parameter is given (the message lists them).
    """
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
        if k != "pv_flow":
            try:
                data[k] = float(v)
            except (TypeError, ValueError):
                lo, hi, unit = _RANGES[k]
                raise InputError(k, v, f"a number in [{lo:g}, {hi:g}] {unit}") from None
            if not math.isfinite(data[k]):
                lo, hi, unit = _RANGES[k]
                raise InputError(k, v, f"[{lo:g}, {hi:g}] {unit}")
    inputs = MRInputs(**data)
    _validate(inputs, etiology, guideline)

    found, notes = _findings(inputs, guideline, etiology, elliptical_orifice)
    quant = [f for f in found if f.kind == "quantitative"]
    S = [f for f in found if f.kind == "specific_severe"]
    M = [f for f in found if f.kind == "specific_mild"]
    support = [f for f in found if f.kind in ("supportive_mild", "supportive_severe")]

    g: int | None
    drivers: list[Finding]
    conflict: list[Finding] = []
    if quant and all(f.grade == 0 for f in quant) and not S:
        g, drivers, decision = 0, quant, "no regurgitant flow measured"
    elif S and M:
        g, drivers, conflict = None, [], S + M
        decision = "specific signs of both mild and severe MR: indeterminate, needs another modality"
    elif S:
        low = [f for f in quant if f.grade <= 2]
        if low:
            g, drivers, conflict = None, [], S + low
            decision = "specific sign of severe MR contradicted by a quantitative parameter ≤ 2+: indeterminate"
        else:
            g, drivers, decision = 4, S + [f for f in quant if f.grade == 4], "specific sign(s) of severe MR settle it"
    elif M:
        high = [f for f in quant if f.grade >= 3]
        if high:
            g, drivers, conflict = None, [], M + high
            decision = "specific sign of mild MR contradicted by a quantitative parameter ≥ 3+: indeterminate"
        else:
            g, drivers, decision = 1, M + [f for f in quant if f.grade <= 1], "specific sign(s) of mild MR settle it"
    elif quant:
        grades = [f.grade for f in quant]
        lo, hi = min(grades), max(grades)
        if lo == hi:
            g, drivers, decision = lo, quant, "quantitative parameters concordant"
        elif hi - lo == 1:
            n_hi = sum(1 for x in grades if x == hi)
            n_lo = len(grades) - n_hi
            if n_hi != n_lo:
                g = hi if n_hi > n_lo else lo
                decision = "quantitative parameters: majority grade (adjacent grades)"
            else:
                g, decision = _tie_break(quant, support, lo, hi)
                decision = "quantitative parameters split between adjacent grades; " + decision
            drivers = [f for f in quant if f.grade == g] + [f for f in support if g in f.compatible]
        else:
            g, drivers = None, []
            conflict = [f for f in quant if f.grade in (lo, hi)]
            decision = "quantitative parameters discordant by ≥ 2 grades: indeterminate, needs another modality"
    else:
        g, drivers = None, []
        decision = "no specific sign and no quantitative parameter: indeterminate (measure EROA, RVol or RF)"

    if g is None:
        disagreeing = [f.parameter for f in conflict]
    else:
        disagreeing = [f.parameter for f in found if g not in f.compatible]
    keys = sources_of(guideline)
    citations.cite(*keys)
    reasons = [decision] + [f.text for f in found]
    return MRGrade(
        grade=grade_label(g),
        grade_number=g,
        severity=INDETERMINATE if g is None else SEVERITY_WORDS[g],
        reasons=reasons,
        drivers=list(dict.fromkeys(f.parameter for f in drivers)),
        disagreeing=list(dict.fromkeys(disagreeing)),
        measurements=inputs.given(),
        guideline=guideline,
        etiology=etiology,
        notes=notes,
        findings=found,
        citations=list(keys),
    )


PV_CODES: dict[str | None, int] = {None: -1, "normal": 0, "blunted": 1, "reversal": 2}
"""Pulmonary-vein pattern → integer code for :func:`grade_mr_arrays` (−1 = not measured)."""


def _quant_grade_arrays(name: str, x: np.ndarray, guideline: str, sec_ell: np.ndarray) -> np.ndarray:
    """Vectorised :func:`_quantitative` grade (0–4) of one parameter, same cuts and rules."""
    g = np.ones(x.shape, dtype=np.int64)
    c4 = _cut(guideline, name, "grade4_from")
    c_ell = _cut(guideline, name, "secondary_elliptical_severe_from")
    for k, c in ((2, _cut(guideline, name, "grade2_from")), (3, _cut(guideline, name, "grade3_from"))):
        if c is not None:
            g = np.where(x >= c, k, g)
    c4_arr = np.where(sec_ell, c_ell, c4) if c_ell is not None else np.full(x.shape, np.inf if c4 is None else c4)
    g = np.where(x >= c4_arr, 4, g)
    return np.where(x == 0.0, 0, g)


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
    secondary: np.ndarray | None = None,
    guideline: str = "ase2017",
    elliptical_orifice: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`grade_mr` on arrays, for many states at once (same thresholds, same algorithm).

    EROA, RVol and RF are required (arrays of one shape); the optional signs are arrays of
    the same shape with NaN (``pv_flow_code``: −1, see :data:`PV_CODES`) where not measured.
    With three quantitative parameters a tie between adjacent grades cannot occur, so the
    supportive signs never decide here.  Values are not range-checked; a non-finite EROA,
    RVol or RF gives an indeterminate grade.

    Returns ``(grade, decision)``: ``grade`` 0–4 or −1 for *indeterminate*; ``decision``
    the grade, or when indeterminate the worst quantitative grade (the procedure's rule).
    """
    if guideline not in GUIDELINES:
        raise InputError("guideline", guideline, " | ".join(GUIDELINES))
    q_in = [np.asarray(a, dtype=float) for a in (eroa_cm2, rvol_ml, rf_pct)]
    shape = q_in[0].shape
    sec = np.zeros(shape, bool) if secondary is None else np.asarray(secondary, bool)
    sec_ell = sec & elliptical_orifice & (guideline == "esc2021")
    q = np.stack([_quant_grade_arrays(nm, x, guideline, sec_ell) for nm, x in zip(("eroa_cm2", "rvol_ml", "rf_pct"), q_in)])
    finite = np.all(np.isfinite(np.stack(q_in)), axis=0)
    spec_sev = np.zeros(shape, bool)
    spec_mild = np.zeros(shape, bool)
    if vc_cm is not None:
        vc = np.asarray(vc_cm, float)
        has = np.isfinite(vc)
        spec_mild |= has & (vc < _cut(guideline, "vc_cm", "specific_mild_below"))
        spec_sev |= has & (vc >= _cut(guideline, "vc_cm", "specific_severe_from"))
    if pisa_radius_cm is not None:
        r = np.asarray(pisa_radius_cm, float)
        va_ok = aliasing_cm_s is None or (
            _cut(guideline, "aliasing_cm_s", "radius_valid_from") <= aliasing_cm_s <= _cut(guideline, "aliasing_cm_s", "radius_valid_to")
        )
        if va_ok:
            has = np.isfinite(r)
            lo, hi = _cut(guideline, "pisa_radius_cm", "specific_mild_at_most"), _cut(guideline, "pisa_radius_cm", "specific_severe_from")
            spec_mild |= has & (r <= lo)
            spec_sev |= has & ~(r <= lo) & (r >= hi)
    if pv_flow_code is not None:
        spec_sev |= np.asarray(pv_flow_code) == PV_CODES["reversal"]
    _ = e_velocity_m_s  # supportive only: decides a tie, which three quantitative parameters never give
    lo, hi = q.min(axis=0), q.max(axis=0)
    majority = np.where((q == hi).sum(axis=0) >= 2, hi, lo)
    by_quant = np.where(lo == hi, lo, np.where(hi - lo == 1, majority, -1))
    grade = np.where(
        np.all(q == 0, axis=0) & ~spec_sev,
        0,
        np.where(
            spec_sev & spec_mild,
            -1,
            np.where(spec_sev, np.where(lo <= 2, -1, 4), np.where(spec_mild, np.where(hi >= 3, -1, 1), by_quant)),
        ),
    )
    grade = np.where(finite, grade, -1)
    decision = np.where(grade >= 0, grade, np.where(finite, hi, 4))
    citations.cite(*sources_of(guideline))
    return grade.astype(np.int64), decision.astype(np.int64)
