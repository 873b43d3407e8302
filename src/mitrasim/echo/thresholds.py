"""Every grading threshold of the echo module, in one table.

Each row is a :class:`Threshold`: which guideline set(s) it belongs to, the
parameter, the kind of cut, the value (in the unit of the parameter name), the
sources (keys registered in :mod:`mitrasim.echo.sources`) and how well it was
checked:

- ``"src"``: seen in the source or in the project's clinical reference marked [src];
- ``"sec"``: seen only on a secondary page;
- ``"check"``: recalled, not verified — keep it configurable.

Guideline sets (switch with ``guideline=``):

- ``"ase2017"``: ASE 2017 (Zoghbi) / ACC-AHA 2020 (Otto); secondary MR uses the
  same cut-offs, with a note when EROA or RVol reaches its
  ``secondary_may_be_severe_from`` row.
- ``"esc2021"``: ESC/EACTS 2021 (Vahanian), Table 7 "Severe mitral regurgitation
  criteria based on 2D echocardiography" and sections 6.1.1, 6.1.2, 6.2.1 (read in a public
  markdown copy of the guideline); EACVI 2022 (Lancellotti) was not readable. Where Table 7
  gives the same cut as ASE 2017, the row is shared and names both; where it differs, the set
  has its own row: the biplane vena contracta (``specific_severe_from``, where ASE has
  ``specific_severe_above``) and the dilated LA (Table 7's volume index, where ASE uses Lang
  2015's upper normal). Table 7 lists **criteria of severe MR only**: the mild column (and
  the 2+/3+ bands of EROA, RVol and RF) are ASE 2017's, in rows shared by both sets whose note
  says so, and the reasons under ``"esc2021"`` label each mild criterion as ASE's. Table 7
  gives no PISA radius ("large throughout systole"): the set's radius row is [check]. In
  secondary MR, EROA at its ``secondary_elliptical_severe_from`` row counts as severe with an
  elliptical regurgitant orifice, RVol at its ``secondary_low_flow_severe_from`` row in low-flow
  conditions (Table 7, secondary column; each with its own flag of ``grade_mr``).
  Table 7's TVI mitral/TVI aortic, LV end-systolic diameter and LA diameter are rows of this set
  only (entered values; a synthetic echo has volumes, not diameters, and no TVI ratio); under
  ``"ase2017"`` they are not criteria.

Both sets count criteria with the one ``criteria``/``decisive_at_least`` row, whose source is
:data:`COUNT_RULE_SOURCE` (the reasons say so, :func:`mitrasim.echo.grading.count_rule`).

Cut kinds (value ``x`` of a parameter, cut ``c``):

- ``"grade2_from"``, ``"grade3_from"``, ``"grade4_from"``: quantitative cut
  points; ``x >= c`` reaches that grade.
- ``"specific_mild_below"`` (x < c), ``"specific_mild_at_most"`` (x <= c):
  a criterion of the mild column of ASE 2017 Table 6 / Fig. 12.
- ``"specific_severe_from"`` (x >= c), ``"specific_severe_above"`` (x > c):
  a criterion of the severe column (a parameter has one of the two per set). One
  criterion never settles the grade.
- ``"decisive_at_least"`` (parameter ``"criteria"``): how many criteria of one
  column (mild or severe) call the grade without quantitation (ASE 2017 Fig. 12).
- ``"secondary_may_be_severe_from"``: secondary MR, note only (ase2017).
- ``"secondary_elliptical_severe_from"`` (EROA, elliptical orifice),
  ``"secondary_low_flow_severe_from"`` (RVol, low flow): secondary MR, severe (esc2021).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Threshold", "THRESHOLDS", "GUIDELINES", "GUIDELINE_LABELS", "COUNT_RULE_SOURCE", "threshold", "severe_cut", "rows", "sources_of"]

GUIDELINES: tuple[str, ...] = ("ase2017", "esc2021")

#: How every output names a guideline set (command line, API, web page): one name each.
GUIDELINE_LABELS: dict[str, str] = {"ase2017": "ASE 2017 (Zoghbi)", "esc2021": "ESC 2021 / EACVI 2022"}

#: Where the row ``criteria``/``decisive_at_least`` comes from. It is the only source of the count
#: rule and is applied to both guideline sets: ESC/EACTS 2021 (Table 7, section 6.2.1) lists the
#: criteria of severe MR and asks for "an integrative approach" without a number of criteria; whether
#: the EACVI 2022 position paper states a count of its own was not readable here [check].
COUNT_RULE_SOURCE = "ASE 2017 Fig. 12"

VAHANIAN = "vahanian2021_esc"
LANCELLOTTI = "lancellotti2022_eacvi"
_ASE = ("zoghbi2017", "otto2020")
_ESC = (VAHANIAN, LANCELLOTTI)
#: Note of a mild-column row used by both sets: ESC/EACTS 2021 Table 7 lists criteria of severe MR only.
_ASE_MILD = "ASE 2017 Table 6 mild column, used for both sets (ESC 2021 Table 7 lists severe criteria only)"
#: Note of a 2+/3+ band used by both sets: ESC 2021 Table 7 gives the severe cut only; EACVI 2022's bands not read [check].
_ASE_BAND = "ASE 2017 Table 6 band, used for both sets (ESC 2021 Table 7 gives the severe cut only; EACVI 2022 not read)"
_BOTH = ("ase2017", "esc2021")


@dataclass(frozen=True)
class Threshold:
    """One cut: ``guidelines`` it belongs to, ``parameter``, ``kind``, ``value``, ``sources``, ``status``."""

    guidelines: tuple[str, ...]
    parameter: str
    kind: str
    value: float
    sources: tuple[str, ...]
    status: str  # "src" | "sec" | "check"
    note: str = ""


T = Threshold

#: The one table. MR rows first (table "mr"), then stenosis ("ms"), then MVARC ("mvarc").
THRESHOLDS: tuple[Threshold, ...] = (
    # --- MR, quantitative (ASE 2017 Table 6; severe cuts also ESC 2021 Table 7) ---
    T(_BOTH, "eroa_cm2", "grade2_from", 0.20, _ASE, "src", _ASE_BAND),
    T(_BOTH, "eroa_cm2", "grade3_from", 0.30, _ASE, "src", "2+/3+ split of 'moderate' is trial convention; " + _ASE_BAND),
    T(_BOTH, "eroa_cm2", "grade4_from", 0.40, _ASE + _ESC, "src", "severe: ASE 2017 Table 6; ESC 2021 Table 7 (2D PISA)"),
    T(_BOTH, "rvol_ml", "grade2_from", 30.0, _ASE, "src", _ASE_BAND),
    T(_BOTH, "rvol_ml", "grade3_from", 45.0, _ASE, "src", _ASE_BAND),
    T(_BOTH, "rvol_ml", "grade4_from", 60.0, _ASE + _ESC, "src", "severe: ASE 2017 Table 6; ESC 2021 Table 7"),
    T(_BOTH, "rf_pct", "grade2_from", 30.0, _ASE, "src", _ASE_BAND),
    T(_BOTH, "rf_pct", "grade3_from", 40.0, _ASE, "src", _ASE_BAND),
    T(_BOTH, "rf_pct", "grade4_from", 50.0, _ASE + _ESC, "src", "severe: ASE 2017 Table 6; ESC 2021 Table 7"),
    # --- MR, qualitative / semi-quantitative criteria (ASE 2017 Table 6 and Fig. 12; ESC 2021 Table 7) ---
    T(_BOTH, "criteria", "decisive_at_least", 4.0, _ASE, "sec", "Fig. 12: mild or severe only when >= 4 criteria of that column agree; the one count rule, used for both guideline sets"),
    T(_BOTH, "vc_cm", "specific_mild_below", 0.30, _ASE, "src", _ASE_MILD),
    T(_BOTH, "vc_cm", "specific_severe_from", 0.70, _ASE + _ESC, "src", "ASE 2017 Table 6; ESC 2021 Table 7 (vena contracta width)"),
    T(("ase2017",), "vc_biplane_cm", "specific_severe_above", 0.80, _ASE, "src", "biplane (two-chamber + long axis) average"),
    T(("esc2021",), "vc_biplane_cm", "specific_severe_from", 0.80, (VAHANIAN,), "src", "ESC 2021 Table 7: vena contracta width, biplane (from, where ASE 2017 has above)"),
    # --- MR, flow convergence (PISA radius at Nyquist 30-40 cm/s, central jet only) ---
    T(_BOTH, "pisa_radius_cm", "specific_mild_at_most", 0.30, _ASE, "check", "small or no flow convergence; " + _ASE_MILD),
    T(("ase2017",), "pisa_radius_cm", "specific_severe_from", 0.90, _ASE, "check", "large flow convergence"),
    T(("esc2021",), "pisa_radius_cm", "specific_severe_from", 1.00, (LANCELLOTTI,), "check",
      "ESC 2021 Table 7 says 'large throughout systole' with no radius; this radius is EACVI's as secondary pages give it, not read"),
    T(_BOTH, "aliasing_cm_s", "radius_valid_from", 30.0, _ASE, "check", "radius signs hold at Nyquist 30-40 cm/s (ASE 2017; ESC 2021 gives no window: used for both sets)"),
    T(_BOTH, "aliasing_cm_s", "radius_valid_to", 40.0, _ASE, "check"),
    # --- MR, colour jet area (% of LA area; central jets only) ---
    T(_BOTH, "jet_area_pct", "specific_mild_below", 20.0, _ASE, "check", "small central jet; " + _ASE_MILD),
    T(_BOTH, "jet_area_pct", "specific_severe_above", 50.0, _ASE + (VAHANIAN,), "src", "large central jet: ASE 2017 Table 6; ESC 2021 Table 7 (colour flow jet area)"),
    # --- MR, mitral inflow, chambers ---
    T(_BOTH, "e_velocity_m_s", "specific_severe_above", 1.2, _ASE + (VAHANIAN,), "src", "E-wave dominant inflow: ASE 2017 Table 6; ESC 2021 Table 7 (mitral inflow)"),
    T(("ase2017",), "la_volume_index_ml_m2", "specific_severe_above", 34.0, ("lang2015",) + _ASE, "check", "enlarged LA (Lang 2015 upper normal)"),
    T(("esc2021",), "la_volume_index_ml_m2", "specific_severe_from", 60.0, (VAHANIAN,), "src",
      "ESC 2021 Table 7, primary MR: dilated LA by volume index (or by diameter, not an input); also section 6.1.2. "
      "The secondary-MR column says 'dilated' with no number: this cut is used for both etiologies [check]"),
    T(("esc2021",), "la_diameter_mm", "specific_severe_from", 55.0, (VAHANIAN,), "src",
      "ESC 2021 Table 7, primary MR: dilated LA by diameter; also section 6.1.2. Secondary-MR column: 'dilated', no number [check]"),
    T(("esc2021",), "lvesd_mm", "specific_severe_from", 40.0, (VAHANIAN,), "src",
      "ESC 2021 Table 7, primary MR: dilated LV (end-systolic diameter); also section 6.1.2. Secondary-MR column: 'dilated', no number [check]"),
    T(("esc2021",), "tvi_mitral_aortic_ratio", "specific_severe_above", 1.4, (VAHANIAN,), "src", "ESC 2021 Table 7: TVI mitral/TVI aortic (semiquantitative)"),
    T(_BOTH, "la_volume_index_ml_m2", "specific_mild_at_most", 34.0, ("lang2015",) + _ASE, "check", "normal LA size (Lang 2015 upper normal); " + _ASE_MILD),
    # --- MR, LV size read from a synthetic echo (2D biplane volumes; the sex is not known: men's limits) ---
    T(_BOTH, "lvedv_2d_ml", "synthetic_enlarged_above", 150.0, ("lang2015",), "sec",
      "upper normal LVEDV, men, 2D biplane (Lang 2015 Table 1); used for both sets: ESC 2021 Table 7 calls the LV dilated by "
      "end-systolic diameter in primary MR, which a volume model does not give"),
    T(_BOTH, "lvef_pct", "synthetic_normal_function_from", 52.0, ("lang2015",), "sec", "lower normal LVEF, men (Lang 2015)"),
    # --- MR, secondary etiology ---
    T(("ase2017",), "eroa_cm2", "secondary_may_be_severe_from", 0.30, _ASE, "src", "elliptical orifice may underestimate"),
    T(("ase2017",), "rvol_ml", "secondary_may_be_severe_from", 45.0, _ASE, "src", "low-flow state"),
    T(("esc2021",), "eroa_cm2", "secondary_elliptical_severe_from", 0.30, _ESC, "src", "ESC 2021 Table 7, secondary MR: elliptical regurgitant orifice; section 6.2.1"),
    T(("esc2021",), "rvol_ml", "secondary_low_flow_severe_from", 45.0, _ESC, "src", "ESC 2021 Table 7, secondary MR: low flow conditions; section 6.2.1"),
    # --- Mitral stenosis (ASE/EAE 2009 Table; ACC/AHA 2020 stages of MS) ---
    T(("ms",), "mva_cm2", "normal_above", 2.0, ("otto2020", "baumgartner2009"), "check", "normal MVA 4-6 cm2; stage B (progressive) MVA > 1.5"),
    T(("ms",), "mva_cm2", "acc_aha_severe_at_most", 1.5, ("otto2020",), "sec", "stage C/D severe MS"),
    T(("ms",), "mva_cm2", "acc_aha_very_severe_at_most", 1.0, ("otto2020",), "sec", "very severe MS"),
    T(("ms",), "hr_bpm", "gradient_valid_from", 60.0, ("baumgartner2009",), "check", "gradient bands hold at 60-80 bpm, sinus rhythm"),
    T(("ms",), "hr_bpm", "gradient_valid_to", 80.0, ("baumgartner2009",), "check"),
    T(("ms",), "mva_cm2", "moderate_at_most", 1.5, ("baumgartner2009",), "sec", "mild: > 1.5"),
    T(("ms",), "mva_cm2", "severe_below", 1.0, ("baumgartner2009",), "sec"),
    T(("ms",), "mean_gradient_mmhg", "moderate_from", 5.0, ("baumgartner2009",), "sec", "mild: < 5"),
    T(("ms",), "mean_gradient_mmhg", "severe_above", 10.0, ("baumgartner2009",), "sec"),
    # --- MVARC 2015 (Stone) ---
    T(("mvarc",), "residual_mr_grade", "optimal_at_most", 1.0, ("stone2015_mvarc",), "check"),
    T(("mvarc",), "residual_mr_grade", "acceptable_at_most", 2.0, ("stone2015_mvarc",), "check"),
    T(("mvarc",), "mr_grade_reduction", "acceptable_at_least", 1.0, ("stone2015_mvarc",), "check"),
    T(("mvarc",), "eoa_cm2", "stenosis_below", 1.5, ("stone2015_mvarc",), "src"),
    T(("mvarc",), "mean_gradient_mmhg", "stenosis_from", 5.0, ("stone2015_mvarc",), "src"),
)


def rows(guideline: str) -> list[Threshold]:
    """All rows of one guideline set (``"ase2017"``, ``"esc2021"``, ``"ms"``, ``"mvarc"``)."""
    return [r for r in THRESHOLDS if guideline in r.guidelines]


def threshold(guideline: str, parameter: str, kind: str) -> Threshold | None:
    """The row for (guideline, parameter, kind), or ``None`` if that set has no such cut."""
    for r in THRESHOLDS:
        if guideline in r.guidelines and r.parameter == parameter and r.kind == kind:
            return r
    return None


def severe_cut(guideline: str, parameter: str) -> tuple[Threshold, bool]:
    """The severe-column row of a criterion and whether the cut is inclusive (``x >= c``: kind
    ``specific_severe_from``) or not (``x > c``: ``specific_severe_above``). Raises ``KeyError``
    when the set has neither (a bug in the table)."""
    for kind, inclusive in (("specific_severe_from", True), ("specific_severe_above", False)):
        row = threshold(guideline, parameter, kind)
        if row is not None:
            return row, inclusive
    raise KeyError((guideline, parameter, "specific_severe_*"))


def sources_of(guideline: str) -> tuple[str, ...]:
    """Citation keys behind one guideline set, in order of first appearance."""
    seen: dict[str, None] = {}
    for r in rows(guideline):
        for s in r.sources:
            seen.setdefault(s, None)
    return tuple(seen)
