"""grade_mr_arrays (vectorised) agrees with grade_mr on every state."""

from __future__ import annotations

import numpy as np
import pytest

from mitrasim.echo.grading import PV_CODES, grade_mr, grade_mr_arrays
from mitrasim.echo.signs import CW_CODES, LV_CODES
from mitrasim.procedure.hemodynamics import decision_grade


@pytest.mark.parametrize("guideline", ["ase2017", "esc2021"])
@pytest.mark.parametrize("etiology", ["primary", "secondary"])
@pytest.mark.parametrize("elliptical, low_flow", [(True, True), (True, False), (False, True)])
def test_arrays_match_scalar_grading(guideline, etiology, elliptical, low_flow):
    rng = np.random.default_rng(3)
    n = 3000
    eroa = np.round(rng.uniform(0, 0.7, n), 2) * (rng.random(n) > 0.05)
    rvol = np.round(rng.uniform(0, 90, n), 0) * (rng.random(n) > 0.05)
    rf = np.round(rng.uniform(0, 70, n), 0) * (rng.random(n) > 0.05)
    vc = np.where(rng.random(n) < 0.2, np.nan, np.round(rng.uniform(0, 1.0, n), 2))
    r = np.where(rng.random(n) < 0.2, np.nan, np.round(rng.uniform(0, 1.3, n), 2))
    pv = rng.choice([None, "normal", "blunted", "reversal"], n)
    e = np.round(rng.uniform(0.5, 1.8, n), 2)
    cw = rng.choice([None, "faint", "dense_parabolic", "dense_triangular"], n)
    lv = rng.choice([None, "normal", "enlarged"], n)
    sec = np.full(n, etiology == "secondary")
    g, d = grade_mr_arrays(eroa, rvol, rf, vc_cm=vc, pisa_radius_cm=r, aliasing_cm_s=40.0,
                           pv_flow_code=np.array([PV_CODES[x] for x in pv]), e_velocity_m_s=e,
                           cw_code=np.array([CW_CODES[x] for x in cw]), lv_code=np.array([LV_CODES[x] for x in lv]), secondary=sec, guideline=guideline, elliptical_orifice=elliptical, low_flow=low_flow)  # fmt: skip
    for i in range(n):
        kw = {"vc_cm": None if np.isnan(vc[i]) else vc[i], "pisa_radius_cm": None if np.isnan(r[i]) else r[i]}
        s = grade_mr(eroa_cm2=eroa[i], rvol_ml=rvol[i], rf_pct=rf[i], aliasing_cm_s=40.0, pv_flow=pv[i], e_velocity_m_s=e[i], cw_density=cw[i], lv_size=lv[i],
                     etiology=etiology, guideline=guideline, elliptical_orifice=elliptical, low_flow=low_flow, **kw)  # fmt: skip
        assert (-1 if s.grade_number is None else s.grade_number) == g[i], (i, s.reasons)
        assert decision_grade(s) == d[i]


def test_non_finite_is_indeterminate_and_decides_worst():
    g, d = grade_mr_arrays(np.array([np.nan]), np.array([10.0]), np.array([10.0]))
    assert g.tolist() == [-1] and d.tolist() == [4]


def test_criteria_against_discordant_quantitation_agree_with_the_scalar_grade():
    """Four severe criteria against quantitation spread over two categories, none above 2+
    (EROA 1+, RVol 2+, RF 1+): indeterminate in both paths (was 4+ in the arrays)."""
    kw = dict(vc_cm=0.75, pv_flow="reversal", e_velocity_m_s=1.5, cw_density="dense_triangular")
    s = grade_mr(eroa_cm2=0.15, rvol_ml=35.0, rf_pct=20.0, **kw)
    g, _ = grade_mr_arrays(np.array([0.15]), np.array([35.0]), np.array([20.0]), vc_cm=np.array([0.75]),
                           pv_flow_code=np.array([PV_CODES["reversal"]]), e_velocity_m_s=np.array([1.5]),
                           cw_code=np.array([CW_CODES["dense_triangular"]]))  # fmt: skip
    assert s.grade_number is None and g.tolist() == [-1]
