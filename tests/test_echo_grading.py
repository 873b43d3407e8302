import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mitrasim import citations
from mitrasim.echo.grading import CATEGORICAL, decision_grade, grade_mr, grade_number
from mitrasim.echo.thresholds import THRESHOLDS
from mitrasim.errors import InputError

EPS = 1e-6


# Both sides of every quantitative cut (numbers typed here, not read from the table).
@pytest.mark.parametrize(
    "name, cut, below, at",
    [
        ("eroa_cm2", 0.20, "1+", "2+"),
        ("eroa_cm2", 0.30, "2+", "3+"),
        ("eroa_cm2", 0.40, "3+", "4+"),
        ("rvol_ml", 30.0, "1+", "2+"),
        ("rvol_ml", 45.0, "2+", "3+"),
        ("rvol_ml", 60.0, "3+", "4+"),
        ("rf_pct", 30.0, "1+", "2+"),
        ("rf_pct", 40.0, "2+", "3+"),
        ("rf_pct", 50.0, "3+", "4+"),
    ],
)
@pytest.mark.parametrize("guideline", ["ase2017", "esc2021"])
def test_quantitative_cuts_both_sides(name, cut, below, at, guideline):
    assert grade_mr(**{name: cut - EPS}, guideline=guideline).grade == below
    assert grade_mr(**{name: cut}, guideline=guideline).grade == at


def test_severity_words():
    assert grade_mr(eroa_cm2=0.1).severity == "mild"
    assert grade_mr(eroa_cm2=0.25).severity == "moderate"
    assert grade_mr(eroa_cm2=0.35).severity == "moderate-severe"
    assert grade_mr(eroa_cm2=0.45).severity == "severe"
    assert grade_mr(eroa_cm2=0.0, rvol_ml=0.0).grade == "0"


@pytest.mark.parametrize(
    "kw, side",
    [
        (dict(vc_cm=0.3 - EPS), "mild"),
        (dict(vc_cm=0.3), None),
        (dict(vc_cm=0.7 - EPS), None),
        (dict(vc_cm=0.7), "severe"),
        (dict(vc_biplane_cm=0.8), None),
        (dict(vc_biplane_cm=0.8 + EPS), "severe"),
        (dict(pisa_radius_cm=0.3), "mild"),
        (dict(pisa_radius_cm=0.3 + EPS), None),
        (dict(pisa_radius_cm=0.9 - EPS), None),
        (dict(pisa_radius_cm=0.9), "severe"),
        (dict(jet_area_pct=20 - EPS), "mild"),
        (dict(jet_area_pct=20), None),
        (dict(jet_area_pct=50), None),
        (dict(jet_area_pct=50 + EPS), "severe"),
        (dict(pv_flow="reversal"), "severe"),
        (dict(pv_flow="blunted"), None),
        (dict(pv_flow="normal"), "mild"),
        (dict(e_velocity_m_s=1.2), None),
        (dict(e_velocity_m_s=1.2 + EPS), "severe"),
        (dict(la_volume_index_ml_m2=34), "mild"),
        (dict(la_volume_index_ml_m2=34 + EPS), "severe"),
    ],
)
def test_sign_cuts_both_sides_and_one_sign_never_settles(kw, side):
    r = grade_mr(**kw)
    assert (r.criteria_severe, r.criteria_mild) == {"severe": ([r.findings[0].criterion], []), "mild": ([], [r.findings[0].criterion]), None: ([], [])}[side]
    assert r.grade == "indeterminate" and r.rule == "insufficient"


def test_esc_pisa_radius_cut_is_1cm():
    assert grade_mr(pisa_radius_cm=0.95, guideline="esc2021").criteria_severe == []
    assert grade_mr(pisa_radius_cm=1.0, guideline="esc2021").criteria_severe == ["flow_convergence"]


def test_pisa_radius_sign_ignored_at_unusual_aliasing():
    r = grade_mr(pisa_radius_cm=1.2, aliasing_cm_s=60.0)
    assert r.criteria_severe == [] and any("aliasing" in w for w in r.warnings)


def test_adjacent_grades_inside_moderate_take_the_majority_then_eroa():
    assert grade_mr(eroa_cm2=0.38, rvol_ml=50, rf_pct=35).grade == "3+"
    assert grade_mr(eroa_cm2=0.25, rvol_ml=50, rf_pct=35).grade == "2+"
    assert grade_mr(eroa_cm2=0.35, rvol_ml=40).grade == "3+"  # tie: EROA
    assert grade_mr(eroa_cm2=0.25, rvol_ml=50).grade == "2+"


def test_quantitation_across_categories_is_indeterminate_with_most_likely():
    r = grade_mr(eroa_cm2=0.42, rvol_ml=58, rf_pct=55)
    assert r.grade == "indeterminate" and r.rule == "discordant_quantitation"
    assert r.most_likely_grade == "4+" and r.most_likely_rule
    assert set(r.disagreeing) == {"eroa_cm2", "rvol_ml", "rf_pct"}


def test_discordance_is_indeterminate_and_names_parameters():
    r = grade_mr(eroa_cm2=0.15, rvol_ml=65)
    assert r.grade == "indeterminate" and r.grade_number is None
    assert set(r.disagreeing) == {"eroa_cm2", "rvol_ml"}
    assert r.most_likely_grade == "1+"  # two values: EROA's grade
    assert grade_mr(eroa_cm2=0.25, vc_cm=0.8).grade == "2+"  # one severe criterion: quantitation decides
    r = grade_mr(vc_cm=0.2, pv_flow="reversal")
    assert r.grade == "indeterminate" and r.most_likely_grade is None


def test_one_specific_sign_does_not_settle_it():
    r = grade_mr(eroa_cm2=0.35, vc_cm=0.75)
    assert r.grade == "3+" and r.criteria_severe == ["vena_contracta"] and r.disagreeing == ["vc_cm"]
    r = grade_mr(eroa_cm2=0.25, vc_cm=0.25)
    assert r.grade == "2+" and r.criteria_mild == ["vena_contracta"]


def test_secondary_mr_notes_and_esc_elliptical():
    r = grade_mr(eroa_cm2=0.32, etiology="secondary")
    assert r.grade == "3+" and any("may already be severe" in n for n in r.notes)
    assert any("elliptical" in n for n in r.notes)
    assert not grade_mr(eroa_cm2=0.32, etiology="primary").notes
    r = grade_mr(eroa_cm2=0.32, etiology="secondary", guideline="esc2021", elliptical_orifice=True)
    assert r.grade == "4+"
    assert grade_mr(eroa_cm2=0.30 - EPS, etiology="secondary", guideline="esc2021", elliptical_orifice=True).grade == "2+"
    assert grade_mr(rvol_ml=45, etiology="secondary", guideline="esc2021", low_flow=True).grade == "4+"
    # the elliptical orifice lowers EROA's cut only, low flow RVol's only (ESC 2021 Table 7)
    assert grade_mr(rvol_ml=45, etiology="secondary", guideline="esc2021", elliptical_orifice=True).grade == "3+"
    assert grade_mr(eroa_cm2=0.32, etiology="secondary", guideline="esc2021", low_flow=True).grade == "3+"
    # the flags change nothing under ASE 2017 nor for primary MR
    assert grade_mr(eroa_cm2=0.32, etiology="secondary", guideline="ase2017", elliptical_orifice=True).grade == "3+"
    assert grade_mr(eroa_cm2=0.32, etiology="primary", guideline="esc2021", elliptical_orifice=True).grade == "3+"


def test_citations_registered_and_listed():
    r = grade_mr(eroa_cm2=0.3)
    assert "zoghbi2017" in r.citations
    for row in THRESHOLDS:
        for key in row.sources:
            citations.get(key)  # raises if unregistered
    assert "lancellotti2022_eacvi" in grade_mr(eroa_cm2=0.3, guideline="esc2021").citations


@pytest.mark.parametrize(
    "kw, field",
    [
        (dict(eroa_cm2=-0.1), "eroa_cm2"),
        (dict(rf_pct=120.0), "rf_pct"),
        (dict(vc_cm=float("inf")), "vc_cm"),
        (dict(pv_flow="sideways"), "pv_flow"),
        (dict(cw_density="thick"), "cw_density"),
        (dict(mv_morphology="flail"), "mv_morphology"),
        (dict(jet_type="wall"), "jet_type"),
        (dict(inflow_pattern="e"), "inflow_pattern"),
        (dict(lv_size="huge"), "lv_size"),
        (dict(vc_biplane_cm=3.5), "vc_biplane_cm"),
        (dict(pisa_radius_cm=0.5, wall_angle_deg=200.0), "wall_angle_deg"),
        (dict(eroa_cm2="abc"), "eroa_cm2"),
        (dict(eroa_cm2=0.3, guideline="acc1998"), "guideline"),
        (dict(eroa_cm2=0.3, etiology="mixed"), "etiology"),
        (dict(bogus=1.0), "bogus"),
        (dict(), "measurements"),
        (dict(aliasing_cm_s=40.0), "measurements"),
    ],
)
def test_bad_input_names_field(kw, field):
    with pytest.raises(InputError) as exc:
        grade_mr(**kw)
    assert exc.value.field == field


def test_missing_everything_lists_what_is_needed():
    with pytest.raises(InputError) as exc:
        grade_mr()
    for name in ("eroa_cm2", "rvol_ml", "rf_pct", "vc_cm", "pv_flow"):
        assert name in exc.value.allowed


def test_grade_number_parsing():
    assert grade_number("3+") == 3 and grade_number(2) == 2 and grade_number("trace") == 0
    assert grade_number("indeterminate") is None
    with pytest.raises(InputError):
        grade_number("5+")


_opt = lambda s: st.one_of(st.none(), s)  # noqa: E731
_ORDERED = {k: v for k, v in CATEGORICAL.items() if k != "jet_type"}  # mild-column value first, severe last
_NUM = {
    "eroa_cm2": st.floats(0.0, 0.8),
    "rvol_ml": st.floats(0.0, 120.0),
    "rf_pct": st.floats(0.0, 80.0),
    "vc_cm": st.floats(0.0, 1.2),
    "vc_biplane_cm": st.floats(0.0, 1.2),
    "pisa_radius_cm": st.floats(0.0, 1.5),
    "jet_area_pct": st.floats(0.0, 90.0),
    "e_velocity_m_s": st.floats(0.3, 2.0),
    "la_volume_index_ml_m2": st.floats(15.0, 120.0),
    "la_diameter_mm": st.floats(20.0, 80.0),
    "lvesd_mm": st.floats(20.0, 70.0),
    "tvi_mitral_aortic_ratio": st.floats(0.5, 2.5),
}
_param = st.fixed_dictionaries({**{k: _opt(v) for k, v in _NUM.items()}, **{k: _opt(st.sampled_from(v)) for k, v in _ORDERED.items()}})
_QUALIFIERS = st.fixed_dictionaries({"jet_type": _opt(st.sampled_from(CATEGORICAL["jet_type"])), "wall_angle_deg": _opt(st.sampled_from([120.0, 180.0])), "aliasing_cm_s": _opt(st.sampled_from([25.0, 35.0, 40.0]))})


def _worse(k, v, b):
    """Worsen one measurement by b (0–0.5): a larger number, or the next value towards the severe column."""
    if v is None:
        return None
    if k in _ORDERED:
        vals = _ORDERED[k]
        return vals[min(len(vals) - 1, vals.index(v) + (1 if b > 0.25 else 0))]
    return min(v * (1 + b) + b * 0.1, {"rf_pct": 100.0, "jet_area_pct": 100.0}.get(k, 1e9))


@settings(max_examples=400, deadline=None)
@given(_param, _QUALIFIERS, st.integers(0, len(_NUM) + len(_ORDERED) - 1), st.floats(0.0, 0.5), st.sampled_from(["ase2017", "esc2021"]), st.sampled_from(["primary", "secondary"]))
def test_worsening_any_one_measurement_never_lowers_the_grade(base, qual, which, b, guideline, etiology):
    """Hypothesis: worsening any one measurement never lowers the guideline grade (when both are
    determinate) nor the decision grade (the most-likely grade when indeterminate)."""
    if all(v is None for v in base.values()):
        return
    k = list(base)[which]
    more = {**base, k: _worse(k, base[k], b)}
    a = grade_mr({**base, **qual}, guideline=guideline, etiology=etiology)
    c = grade_mr({**more, **qual}, guideline=guideline, etiology=etiology)
    if a.grade_number is not None and c.grade_number is not None:
        assert c.grade_number >= a.grade_number, (k, base, more, a.reasons, c.reasons)
    estimable = [g.most_likely_rule is None or not g.most_likely_rule.startswith("none") for g in (a, c)]
    if all(estimable):
        assert decision_grade(c) >= decision_grade(a), (k, base, more, a.reasons, c.reasons)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.0, 0.8), st.floats(0.0, 0.8))
def test_single_parameter_monotone(x, y):
    lo, hi = sorted((x, y))
    assert grade_mr(eroa_cm2=hi).grade_number >= grade_mr(eroa_cm2=lo).grade_number
