"""The ``"esc2021"`` set against ESC/EACTS 2021 Table 7 ("Severe mitral regurgitation criteria based on
2D echocardiography", Vahanian et al., Eur Heart J 2022;43:561–632) and sections 6.1.1, 6.1.2, 6.2.1.

Numbers are typed here from the table (mm and mm² converted to cm and cm²), not read from
:mod:`mitrasim.echo.thresholds`: vena contracta ≥ 7 mm (≥ 8 mm biplane), E-wave dominant > 1.2 m/s,
large central jet > 50 % of LA, EROA ≥ 40 mm², RVol ≥ 60 mL, RF ≥ 50 %, LA dilated by volume
≥ 60 mL/m² or diameter ≥ 55 mm, LV dilated by end-systolic diameter ≥ 40 mm, TVI mitral/TVI aortic > 1.4;
secondary MR: EROA ≥ 30 mm² with an elliptical orifice, RVol ≥ 45 mL with low flow.
Table 7 lists severe criteria only: the mild column under ``"esc2021"`` is ASE 2017's and is labelled.
"""

from __future__ import annotations

import pytest

from mitrasim.echo.grading import ESC_MILD_COLUMN_NOTE, ESC_SECONDARY_LA_NOTE, MILD_COLUMN_LABEL, grade_mr
from mitrasim.echo.thresholds import GUIDELINES, THRESHOLDS, rows

EPS = 1e-6
ESC = "esc2021"
ASE_MILD = " (ASE 2017 mild column)"


def _side(r) -> str | None:
    """Which column the one sign given fell in: ``"severe"``, ``"mild"`` or ``None`` (neither)."""
    assert len(r.findings) == 1, r.reasons
    return "severe" if r.criteria_severe else "mild" if r.criteria_mild else None


@pytest.mark.parametrize(
    "kw, esc, ase",
    [
        # biplane VC: ESC "≥ 8 mm for biplane", ASE 2017 "> 0.8 cm"
        (dict(vc_biplane_cm=0.79), None, None),
        (dict(vc_biplane_cm=0.80), "severe", None),
        (dict(vc_biplane_cm=0.81), "severe", "severe"),
        # LA: ESC dilated from a volume index of 60 mL/m²; ASE 2017 (Lang 2015) above 34 mL/m²
        (dict(la_volume_index_ml_m2=59.0), None, "severe"),
        (dict(la_volume_index_ml_m2=60.0), "severe", "severe"),
        (dict(la_volume_index_ml_m2=34.0), "mild", "mild"),
        (dict(la_volume_index_ml_m2=34.0 + EPS), None, "severe"),
        # Table 7 criteria the ASE 2017 set does not grade
        (dict(la_diameter_mm=54.9), None, None),
        (dict(la_diameter_mm=55.0), "severe", None),
        (dict(lvesd_mm=39.9), None, None),
        (dict(lvesd_mm=40.0), "severe", None),
        (dict(tvi_mitral_aortic_ratio=1.4), None, None),
        (dict(tvi_mitral_aortic_ratio=1.4 + EPS), "severe", None),
        # cuts ESC 2021 shares with ASE 2017
        (dict(vc_cm=0.70 - EPS), None, None),
        (dict(vc_cm=0.70), "severe", "severe"),
        (dict(e_velocity_m_s=1.2), None, None),
        (dict(e_velocity_m_s=1.2 + EPS), "severe", "severe"),
        (dict(jet_area_pct=50.0), None, None),
        (dict(jet_area_pct=50.0 + EPS), "severe", "severe"),
    ],
)
def test_table7_sign_cuts_and_the_ase_set_beside_them(kw, esc, ase):
    assert _side(grade_mr(**kw, guideline=ESC)) == esc
    assert _side(grade_mr(**kw, guideline="ase2017")) == ase


@pytest.mark.parametrize("name, cut", [("eroa_cm2", 0.40), ("rvol_ml", 60.0), ("rf_pct", 50.0)])
@pytest.mark.parametrize("etiology", ["primary", "secondary"])
def test_table7_quantitative_severe_cuts(name, cut, etiology):
    assert grade_mr(**{name: cut}, guideline=ESC, etiology=etiology).grade == "4+"
    assert grade_mr(**{name: cut - EPS}, guideline=ESC, etiology=etiology).grade == "3+"


@pytest.mark.parametrize("name, cut, flag, other", [("eroa_cm2", 0.30, "elliptical_orifice", "low_flow"), ("rvol_ml", 45.0, "low_flow", "elliptical_orifice")])
def test_table7_secondary_column_lower_cuts(name, cut, flag, other):
    """Table 7 secondary MR: EROA 'may be ≥ 30 mm² if elliptical regurgitant orifice area', RVol 'may be
    ≥ 45 mL if low flow conditions' (section 6.2.1): each cut with its own condition; not for primary
    MR, not without the flag, not under ASE 2017."""
    on = {flag: True}
    r = grade_mr(**{name: cut}, guideline=ESC, etiology="secondary", **on)
    assert r.grade == "4+" and f"severe from {cut:g})" in r.reasons[1]
    assert grade_mr(**{name: cut - EPS}, guideline=ESC, etiology="secondary", **on).grade == "2+"
    assert grade_mr(**{name: cut}, guideline=ESC, etiology="secondary", **{other: True}).grade == "3+"
    plain = grade_mr(**{name: cut}, guideline=ESC, etiology="secondary")
    assert plain.grade == "3+" and any(f"(ESC 2021 Table 7; set {flag})" in n for n in plain.notes)
    assert grade_mr(**{name: cut}, guideline=ESC, etiology="primary", **on).grade == "3+"
    assert grade_mr(**{name: cut}, etiology="secondary", elliptical_orifice=True, low_flow=True).grade == "3+"


def test_an_la_between_normal_and_table7_is_neither_column():
    r = grade_mr(la_volume_index_ml_m2=59.0, guideline=ESC)
    assert r.findings[0].kind == "intermediate" and "< 60" in r.reasons[1]
    # an enlarged LV is still a severe criterion (Table 7: dilated LV) with such an LA
    assert grade_mr(la_volume_index_ml_m2=59.0, lv_size="enlarged", guideline=ESC).criteria_severe == ["chambers"]
    # a normal LV with such an LA is no mild criterion (the LA is not normal)
    assert grade_mr(la_volume_index_ml_m2=59.0, lv_size="normal", guideline=ESC).criteria_mild == []


def test_reasons_name_the_cut_as_each_set_states_it():
    assert grade_mr(vc_biplane_cm=0.80, guideline=ESC).reasons[1] == "biplane vena contracta 0.8 cm ≥ 0.8 → severe criterion"
    assert grade_mr(vc_biplane_cm=0.79, guideline=ESC).reasons[1] == "biplane vena contracta 0.79 cm < 0.8: not a severe criterion"
    assert grade_mr(vc_biplane_cm=0.80).reasons[1] == "biplane vena contracta 0.8 cm ≤ 0.8: not a severe criterion"
    assert grade_mr(la_volume_index_ml_m2=60.0, guideline=ESC).reasons[1].startswith("LA volume index 60 mL/m² ≥ 60 →")


MILD_STUDY = dict(vc_cm=0.2, pv_flow="normal", cw_density="faint", inflow_pattern="a_dominant", la_volume_index_ml_m2=30.0, pisa_radius_cm=0.3)


def test_every_mild_criterion_under_esc2021_is_labelled_as_ases():
    esc, ase = grade_mr(MILD_STUDY, guideline=ESC), grade_mr(MILD_STUDY)
    assert esc.grade == ase.grade == "1+" and sorted(esc.criteria_mild) == sorted(ase.criteria_mild) and len(esc.criteria_mild) == 6
    mild = [f.text for f in esc.findings if f.kind == "criterion_mild"]
    assert len(mild) == 6 and all(t.endswith(ASE_MILD) for t in mild), mild
    assert ESC_MILD_COLUMN_NOTE in esc.notes
    # the ASE set's reasons and notes carry neither
    assert not any(ASE_MILD in t for t in ase.reasons) and ESC_MILD_COLUMN_NOTE not in ase.notes
    assert [t + ASE_MILD for t in ase.reasons[1:]] == esc.reasons[1:]
    # a severe criterion is Table 7's: no label
    sev = grade_mr(vc_cm=0.8, guideline=ESC)
    assert not any(ASE_MILD in t for t in sev.reasons) and ESC_MILD_COLUMN_NOTE not in sev.notes
    assert MILD_COLUMN_LABEL == {"ase2017": "", ESC: ASE_MILD}


def test_the_esc_radius_is_marked_as_not_table7s():
    r = grade_mr(pisa_radius_cm=1.0, guideline=ESC)
    assert r.criteria_severe == ["flow_convergence"] and "no radius" in r.reasons[1] and "[check]" in r.reasons[1]
    assert "[check]" not in grade_mr(pisa_radius_cm=1.0).reasons[1]


def test_secondary_la_note_says_table7_gives_no_number():
    assert ESC_SECONDARY_LA_NOTE in grade_mr(la_volume_index_ml_m2=65.0, guideline=ESC, etiology="secondary").notes
    assert ESC_SECONDARY_LA_NOTE not in grade_mr(la_volume_index_ml_m2=65.0, guideline=ESC).notes
    assert ESC_SECONDARY_LA_NOTE not in grade_mr(la_volume_index_ml_m2=65.0, etiology="secondary").notes


_MR_KINDS = ("grade2_from", "grade3_from", "grade4_from", "specific_mild_below", "specific_mild_at_most", "specific_severe_from",
             "specific_severe_above", "secondary_elliptical_severe_from")  # fmt: skip


def test_no_esc2021_row_passes_an_ase_number_for_an_esc_one():
    """Every esc2021 row that cites ESC 2021 names Table 7 in its note; every other esc2021 grading row
    (the mild column, the 2+/3+ bands) does not cite ESC 2021 and says it is used for both sets, or is [check]."""
    for r in rows(ESC):
        if r.kind not in _MR_KINDS:
            continue
        if "vahanian2021_esc" in r.sources:
            assert "ESC 2021 Table 7" in r.note, r
        else:
            assert "used for both sets" in r.note or r.status == "check", r
        if r.kind.startswith("specific_mild") or r.kind in ("grade2_from", "grade3_from"):
            assert "vahanian2021_esc" not in r.sources and "ASE 2017" in r.note, r


def test_one_severe_kind_per_parameter_and_set():
    for g in GUIDELINES:
        for p in {r.parameter for r in rows(g)}:
            kinds = [r.kind for r in THRESHOLDS if g in r.guidelines and r.parameter == p and r.kind.startswith("specific_severe")]
            assert len(kinds) <= 1, (g, p, kinds)


def test_table7_diameters_and_tvi_ratio():
    """Under esc2021 a diameter at its cut makes the chambers criterion severe whatever the LA index or
    LV size say; below it, it is no mild criterion of its own. Under ase2017 each is reported unused."""
    r = grade_mr(la_volume_index_ml_m2=30.0, lvesd_mm=40.0, guideline=ESC)
    assert r.criteria_severe == ["chambers"] and "LV end-systolic diameter 40 mm ≥ 40" in r.reasons[1]
    r = grade_mr(la_volume_index_ml_m2=30.0, la_diameter_mm=54.0, guideline=ESC)
    assert r.criteria_mild == ["chambers"] and "LA diameter 54 mm < 55" in r.reasons[1]
    r = grade_mr(lvesd_mm=39.0, guideline=ESC)
    assert r.findings[0].kind == "intermediate" and r.reasons[1].endswith("→ not a severe criterion")
    ase = grade_mr(la_volume_index_ml_m2=30.0, lvesd_mm=45.0, tvi_mitral_aortic_ratio=2.0)
    assert ase.criteria_mild == ["chambers"] and ase.criteria_severe == []
    assert "LV end-systolic diameter 45 mm: not a criterion of the ase2017 set" in ase.reasons
    assert "TVI mitral/TVI aortic 2: not a criterion of the ase2017 set" in ase.reasons
    esc = grade_mr(tvi_mitral_aortic_ratio=2.0, guideline=ESC)
    assert esc.criteria_severe == ["tvi_ratio"] and esc.reasons[1] == "TVI mitral/TVI aortic 2 > 1.4 → severe criterion"
    assert ESC_SECONDARY_LA_NOTE in grade_mr(lvesd_mm=45.0, guideline=ESC, etiology="secondary").notes
