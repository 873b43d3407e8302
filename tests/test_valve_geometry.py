"""Profiles, areas and orifices for simple geometries computed by hand."""

import math

import numpy as np
import pytest

from mitrasim.case import ValveSpec
from mitrasim.valve import ClipModelParams, apply_clips, build_valve, evaluate_plans
from mitrasim.valve.geometry import F_OPEN, REGURGITANT_DISCHARGE_COEFF, find_orifices, segment_edges_mm

NO_ZONE = ClipModelParams(systolic_zone_per_arm=0.0, diastolic_zone_per_arm=0.0, ap_shrink_per_mm=0.0)


def spec(**kw):
    base = {"annulus": {"ap_diameter_mm": 30, "ic_diameter_mm": 40}}
    base.update(kw)
    return ValveSpec.model_validate(base)


def test_grid_and_segments():
    v = build_valve(spec())
    assert v.line_length_mm == 40
    assert v.ds_mm == pytest.approx(0.5)
    assert v.s_mm[0] == pytest.approx(0.25) and v.s_mm[-1] == pytest.approx(39.75)
    assert segment_edges_mm(40) == pytest.approx((0, 12, 28, 40))


def test_competent_valve_has_no_leak_and_elliptic_opening():
    v = build_valve(spec())
    assert v.eroa_cm2 == 0
    # ellipse with axes L = 40 mm and F_OPEN * AP: area pi/4 * 40 * 0.58 * 30 mm^2
    hand = math.pi / 4 * 40 * F_OPEN * 30 / 100
    assert v.mva_cm2 == pytest.approx(hand, rel=5e-3)
    assert len(v.diastolic_orifices()) == 1


def test_prolapse_area_by_hand():
    v = build_valve(spec(lesions=[{"kind": "prolapse", "segments": ["P2"], "gap_mm": 4, "width_mm": 10}]))
    # elliptic bump centred in segment 2 (20 mm): anatomic area pi/4 * 4 * 10 mm^2
    assert v.s_mm[np.argmax(v.gap_mm)] == pytest.approx(20, abs=0.5)
    assert v.anatomic_regurgitant_area_cm2 == pytest.approx(math.pi / 4 * 4 * 10 / 100, rel=1e-2)
    assert v.eroa_cm2 == pytest.approx(REGURGITANT_DISCHARGE_COEFF * math.pi / 4 * 0.4, rel=1e-2)
    orifices = v.regurgitant_orifices()
    assert len(orifices) == 1
    assert orifices[0].start_mm == pytest.approx(15, abs=0.5) and orifices[0].end_mm == pytest.approx(25, abs=0.5)


def test_two_lesions_combine_by_maximum():
    a = build_valve(spec(lesions=[{"kind": "prolapse", "segments": ["P2"], "gap_mm": 4, "width_mm": 10}]))
    b = build_valve(spec(lesions=[
        {"kind": "prolapse", "segments": ["P2"], "gap_mm": 4, "width_mm": 10},
        {"kind": "prolapse", "segments": ["P2"], "gap_mm": 2, "width_mm": 6},
    ]))
    assert b.eroa_cm2 == pytest.approx(a.eroa_cm2)


def test_clip_closes_its_width_and_splits_the_opening():
    v = build_valve(spec())
    r = apply_clips(v, [20.0], 4.0, 9.0, NO_ZONE)
    closed = np.abs(v.s_mm - 20) <= 2
    assert np.all(r.opening_mm[closed] == 0)
    assert np.allclose(r.opening_mm[~closed], v.opening_mm[~closed])
    o = r.diastolic_orifices
    assert [(x.start_mm, x.end_mm) for x in o] == [(0.0, 18.0), (22.0, 40.0)]
    assert sum(x.area_cm2 for x in o) == pytest.approx(r.mva_cm2)
    # removed area = the ellipse over the 4 mm under the clip (Maisano: summed area)
    removed = np.sum(v.opening_mm[closed]) * v.ds_mm / 100
    assert v.mva_cm2 - r.mva_cm2 == pytest.approx(removed)
    wmax = F_OPEN * 30
    assert removed == pytest.approx(wmax * 4 / 100, rel=1e-2)


def test_taper_restricts_neighbourhood_smoothly():
    v = build_valve(spec())
    p = ClipModelParams(systolic_zone_per_arm=0.5, diastolic_zone_per_arm=1.0, ap_shrink_per_mm=0.0)
    r = apply_clips(v, [20.0], 4.0, 9.0, p)
    # slack sigma = (24 + 13) / (1.1 * 30) = 1.121 -> lambda_d = 9 / 1.121 = 8.03 mm
    lam = 9.0 / ((24 + 13) / (1.1 * 30))
    ratio = r.opening_mm / v.opening_mm
    d = np.abs(v.s_mm - 20) - 2
    u = np.clip(d / lam, 0, 1)
    assert np.allclose(ratio, u * u * (3 - 2 * u))


def test_annulus_shrinks_with_clip_width_up_to_bound():
    v = build_valve(spec())
    p = ClipModelParams(ap_shrink_per_mm=0.01)
    r = evaluate_plans(v, np.array([[10.0, 20.0, 30.0, np.nan]]), 6.0, 9.0, p)
    assert r.ap_diameter_mm[0] == pytest.approx(30 * (1 - 0.18))
    r = evaluate_plans(v, np.array([[5.0, 15.0, 25.0, 35.0]]), 10.0, 9.0, p)
    assert r.ap_diameter_mm[0] == pytest.approx(30 * (1 - 0.28))


def test_find_orifices_runs():
    s = np.arange(10) + 0.5
    p = np.array([0, 1, 1, 0, 0, 2, 0, 1, 1, 1], dtype=float)
    o = find_orifices(p, s, 1.0)
    assert [(x.start_mm, x.end_mm) for x in o] == [(1, 3), (5, 6), (7, 10)]
    assert [x.area_cm2 for x in o] == pytest.approx([0.02, 0.02, 0.03])
