import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mitrasim import citations
from mitrasim.echo.grading import grade_mr, grade_number
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
    "kw, grade",
    [
        (dict(vc_cm=0.3 - EPS), "1+"),
        (dict(vc_cm=0.3), "indeterminate"),  # intermediate VC alone settles nothing
        (dict(vc_cm=0.7 - EPS), "indeterminate"),
        (dict(vc_cm=0.7), "4+"),
        (dict(pisa_radius_cm=0.3), "1+"),
        (dict(pisa_radius_cm=0.3 + EPS), "indeterminate"),
        (dict(pisa_radius_cm=0.9 - EPS), "indeterminate"),
        (dict(pisa_radius_cm=0.9), "4+"),
        (dict(jet_area_pct=20 - EPS), "1+"),
        (dict(jet_area_pct=20), "indeterminate"),
        (dict(jet_area_pct=50), "indeterminate"),
        (dict(jet_area_pct=50 + EPS), "4+"),
        (dict(pv_flow="reversal"), "4+"),
        (dict(pv_flow="blunted"), "indeterminate"),
    ],
)
def test_sign_cuts_both_sides(kw, grade):
    assert grade_mr(**kw).grade == grade


def test_esc_pisa_radius_cut_is_1cm():
    assert grade_mr(pisa_radius_cm=0.95, guideline="esc2021").grade == "indeterminate"
    assert grade_mr(pisa_radius_cm=1.0, guideline="esc2021").grade == "4+"


def test_pisa_radius_sign_ignored_at_unusual_aliasing():
    r = grade_mr(pisa_radius_cm=1.2, aliasing_cm_s=60.0)
    assert r.grade == "indeterminate"


def test_e_velocity_and_la_are_tie_breakers_only():
    # E > 1.2 alone decides nothing
    assert grade_mr(e_velocity_m_s=1.5).grade == "indeterminate"
    # EROA 3+ and RVol 4+ tie: broken by EROA, or upward by a supportive sign of severe
    assert grade_mr(eroa_cm2=0.38, rvol_ml=62).grade == "3+"
    assert grade_mr(eroa_cm2=0.38, rvol_ml=62, e_velocity_m_s=1.2 + EPS).grade == "4+"
    assert grade_mr(eroa_cm2=0.38, rvol_ml=62, e_velocity_m_s=1.2).grade == "3+"
    assert grade_mr(eroa_cm2=0.38, rvol_ml=62, la_volume_index_ml_m2=34 + EPS).grade == "4+"
    assert grade_mr(eroa_cm2=0.41, rvol_ml=58, la_volume_index_ml_m2=30).grade == "3+"


def test_majority_of_quantitative():
    r = grade_mr(eroa_cm2=0.42, rvol_ml=58, rf_pct=55)
    assert r.grade == "4+"
    assert r.disagreeing == ["rvol_ml"]
    assert set(r.drivers) >= {"eroa_cm2", "rf_pct"}


def test_discordance_is_indeterminate_and_names_parameters():
    r = grade_mr(eroa_cm2=0.15, rvol_ml=65)
    assert r.grade == "indeterminate" and r.grade_number is None
    assert set(r.disagreeing) == {"eroa_cm2", "rvol_ml"}
    r = grade_mr(eroa_cm2=0.25, vc_cm=0.8)
    assert r.grade == "indeterminate"
    assert set(r.disagreeing) == {"vc_cm", "eroa_cm2"}
    r = grade_mr(vc_cm=0.2, pv_flow="reversal")
    assert r.grade == "indeterminate"


def test_specific_signs_settle_it():
    r = grade_mr(eroa_cm2=0.35, vc_cm=0.75)
    assert r.grade == "4+" and "vc_cm" in r.drivers
    assert r.disagreeing == ["eroa_cm2"]
    r = grade_mr(eroa_cm2=0.25, vc_cm=0.25)
    assert r.grade == "1+" and r.disagreeing == ["eroa_cm2"]


def test_secondary_mr_notes_and_esc_elliptical():
    r = grade_mr(eroa_cm2=0.32, etiology="secondary")
    assert r.grade == "3+" and any("may already be severe" in n for n in r.notes)
    assert not grade_mr(eroa_cm2=0.32, etiology="primary").notes
    r = grade_mr(eroa_cm2=0.32, etiology="secondary", guideline="esc2021", elliptical_orifice=True)
    assert r.grade == "4+"
    assert grade_mr(eroa_cm2=0.30 - EPS, etiology="secondary", guideline="esc2021", elliptical_orifice=True).grade == "2+"
    assert grade_mr(rvol_ml=45, etiology="secondary", guideline="esc2021", elliptical_orifice=True).grade == "4+"
    # the elliptical flag changes nothing under ASE 2017 nor for primary MR
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
_param = st.fixed_dictionaries(
    {
        "eroa_cm2": _opt(st.floats(0.0, 0.8)),
        "rvol_ml": _opt(st.floats(0.0, 120.0)),
        "rf_pct": _opt(st.floats(0.0, 80.0)),
        "vc_cm": _opt(st.floats(0.0, 1.2)),
        "pisa_radius_cm": _opt(st.floats(0.0, 1.5)),
        "jet_area_pct": _opt(st.floats(0.0, 90.0)),
        "e_velocity_m_s": _opt(st.floats(0.3, 2.0)),
        "la_volume_index_ml_m2": _opt(st.floats(15.0, 120.0)),
        "pv_flow": _opt(st.sampled_from(["normal", "blunted", "reversal"])),
    }
)
_PV = {"normal": 0, "blunted": 1, "reversal": 2}
_PV_BACK = {v: k for k, v in _PV.items()}


@settings(max_examples=300, deadline=None)
@given(_param, st.lists(st.floats(0.0, 0.5), min_size=9, max_size=9), st.sampled_from(["ase2017", "esc2021"]), st.sampled_from(["primary", "secondary"]))
def test_more_regurgitation_never_grades_lower(base, bumps, guideline, etiology):
    if all(v is None for v in base.values()):
        return
    more = {}
    for (k, v), b in zip(base.items(), bumps):
        if v is None:
            more[k] = None
        elif k == "pv_flow":
            more[k] = _PV_BACK[min(2, _PV[v] + (1 if b > 0.25 else 0))]
        else:
            more[k] = min(v * (1 + b) + b * 0.1, {"rf_pct": 100.0, "jet_area_pct": 100.0}.get(k, 1e9))
    a = grade_mr(base, guideline=guideline, etiology=etiology)
    b = grade_mr(more, guideline=guideline, etiology=etiology)
    if a.grade_number is not None and b.grade_number is not None:
        assert b.grade_number >= a.grade_number, (base, more, a.reasons, b.reasons)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.0, 0.8), st.floats(0.0, 0.8))
def test_single_parameter_monotone(x, y):
    lo, hi = sorted((x, y))
    assert grade_mr(eroa_cm2=hi).grade_number >= grade_mr(eroa_cm2=lo).grade_number
