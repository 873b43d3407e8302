import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mitrasim.echo import calculators as c
from mitrasim.errors import InputError


def test_pisa_worked_example():
    q = c.pisa_flow_ml_s(0.9, 40.0)
    assert q == pytest.approx(203.6, abs=0.05)
    eroa = c.pisa_eroa_cm2(0.9, 40.0, 500.0)
    assert round(eroa, 2) == 0.41
    assert c.pisa_rvol_ml(eroa, 140.0) == pytest.approx(57.0, abs=0.1)


def test_wall_angle_correction_scales_by_alpha_over_180():
    free = c.pisa_flow_ml_s(0.8, 35.0)
    assert c.pisa_flow_ml_s(0.8, 35.0, wall_angle_deg=120.0) == pytest.approx(free * 120 / 180)


def test_lvot_volumetric_and_rf():
    sv = c.lvot_stroke_volume_ml(2.0, 20.0)
    assert sv == pytest.approx(math.pi * 20.0)
    rvol = c.volumetric_rvol_ml(110.0, sv)
    assert rvol == pytest.approx(110.0 - 62.83, abs=0.01)
    assert c.regurgitant_fraction_pct(rvol, 110.0) == pytest.approx(100 * rvol / 110.0)


def test_pht_and_bernoulli_and_vc():
    assert c.mva_pressure_half_time_cm2(220.0) == pytest.approx(1.0)
    assert c.mva_pressure_half_time_cm2(110.0) == pytest.approx(2.0)
    assert c.bernoulli_gradient_mmhg(2.0) == pytest.approx(16.0)
    assert c.vena_contracta_cm(0.40) == pytest.approx(0.7136, abs=1e-4)
    # ellipse 4:1 of the same area is narrower in its short axis by a factor 2
    assert c.vena_contracta_cm(0.40, aspect_ratio=4.0) == pytest.approx(c.vena_contracta_cm(0.40) / 2)


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: c.pisa_flow_ml_s(-0.5, 40.0), "pisa_radius_cm"),
        (lambda: c.pisa_flow_ml_s(0.5, 0.0), "aliasing_cm_s"),
        (lambda: c.pisa_flow_ml_s(0.5, 40.0, wall_angle_deg=200.0), "wall_angle_deg"),
        (lambda: c.pisa_eroa_cm2(0.9, 40.0, 30.0), "mr_vmax_cm_s"),
        (lambda: c.pisa_eroa_cm2(0.9, 40.0, 40.0), "mr_vmax_cm_s"),
        (lambda: c.regurgitant_fraction_pct(120.0, 100.0), "rvol_ml"),
        (lambda: c.volumetric_rvol_ml(80.0, 90.0), "forward_sv_ml"),
        (lambda: c.mva_pressure_half_time_cm2(0.0), "pht_ms"),
        (lambda: c.pisa_rvol_ml(0.3, float("nan")), "mr_vti_cm"),
        (lambda: c.vena_contracta_cm(0.3, aspect_ratio=0.5), "aspect_ratio"),
    ],
)
def test_impossible_inputs_name_the_field(call, field):
    with pytest.raises(InputError) as exc:
        call()
    assert exc.value.field == field
    assert field in str(exc.value) and "allowed" in str(exc.value)


@given(st.floats(0.01, 100.0))
def test_velocity_round_trip(v):
    assert c.m_s_to_cm_s(c.cm_s_to_m_s(v)) == pytest.approx(v)
    assert c.mm_to_cm(c.cm_to_mm(v)) == pytest.approx(v)


@given(st.floats(0.1, 2.0), st.floats(20.0, 60.0), st.floats(300.0, 700.0))
def test_pisa_eroa_consistent_with_flow(r, va, vmax):
    eroa = c.pisa_eroa_cm2(r, va, vmax)
    assert eroa * vmax == pytest.approx(c.pisa_flow_ml_s(r, va))
    # a larger radius never gives a smaller EROA
    assert c.pisa_eroa_cm2(r * 1.1, va, vmax) > eroa
