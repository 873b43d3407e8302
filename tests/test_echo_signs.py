"""Physiological echo signs from the simulated orifice flow and pressures (issue 11, item 4):
the CW envelope (density, contour) and the LV size, in the one echo path and in the waveform
path (:mod:`mitrasim.echo.signs`)."""

from __future__ import annotations

import numpy as np
import pytest

from mitrasim.echo.signs import (
    CW_CODES,
    CW_DENSE_FROM_RATIO,
    LARGE_V_WAVE_ABOVE_MEAN_MMHG,
    LV_CODES,
    cw_density_ratio,
    cw_envelope_code,
    lv_size_code,
)
from mitrasim.echo.lv_bias import ECHO_2D_EDV_BIAS_ML
from mitrasim.echo.thresholds import threshold


def test_density_is_regurgitant_over_inflow_volume():
    # RVol 20 of an inflow 80 (forward 60): 0.25; RVol 40 of 80 (forward 40): 0.5
    assert cw_density_ratio(np.array([20.0, 40.0, 0.0]), np.array([80.0, 80.0, 0.0])).tolist() == [0.25, 0.5, 0.0]


def test_envelope_categories_follow_the_two_cuts():
    d, v = CW_DENSE_FROM_RATIO, LARGE_V_WAVE_ABOVE_MEAN_MMHG
    dens = np.array([d - 1e-9, d, d, d - 1e-9, d])
    vw = np.array([v + 5, v - 1e-9, v, v, v])
    jet = np.array([True, True, True, True, False])
    got = cw_envelope_code(dens, vw, jet).tolist()
    assert got == [CW_CODES["faint"], CW_CODES["dense_parabolic"], CW_CODES["dense_triangular"], CW_CODES["faint"], CW_CODES[None]]


def test_lv_size_uses_the_2d_volume_and_normal_function():
    cut = threshold("ase2017", "lvedv_2d_ml", "synthetic_enlarged_above").value
    ef_cut = threshold("ase2017", "lvef_pct", "synthetic_normal_function_from").value
    edv = np.array([cut, cut + 1.0, cut + 1.0, np.nan]) + ECHO_2D_EDV_BIAS_ML
    ef = np.array([60.0, ef_cut, ef_cut - 1.0, 60.0])
    assert lv_size_code(edv, ef).tolist() == [LV_CODES["normal"], LV_CODES["enlarged"], LV_CODES[None], LV_CODES[None]]


@pytest.fixture(scope="module")
def sweep():
    from mitrasim.physiology.parameter_sets import PARAMETER_SETS
    from mitrasim.physiology.simulation import simulate

    v = PARAMETER_SETS["primary_mr"].values
    eroa = np.array([0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.6, 0.6, 0.6])
    stiff = np.array([1, 1, 1, 1, 1, 1, 1, 2, 4, 8], float)  # LA elastance factor
    over = [{"la_ea_mmhg_ml": v["la_ea_mmhg_ml"] * f, "la_eb_mmhg_ml": v["la_eb_mmhg_ml"] * f} for f in stiff]
    res = simulate("primary_mr", over, eroa_cm2=eroa, waveforms=True)
    return eroa, stiff, res


def test_density_grows_with_the_orifice_and_reads_the_engines_volumes(sweep):
    from mitrasim.echo.simulated import echo_from_beats

    eroa, stiff, res = sweep
    e = echo_from_beats(res.metrics, eroa, np.full(eroa.shape, 4.0), np.zeros(eroa.shape, bool))
    base = stiff == 1
    assert np.all(np.diff(e["cw_density_ratio"][base]) > 0)
    m = res.metrics
    assert e["cw_density_ratio"] == pytest.approx(m["rvol_ml"] / (m["edv_ml"] - m["esv_ml"]), rel=1e-12)
    # a small orifice is faint (RVol well below half the forward volume), a 0.6 cm² one dense
    assert e["cw_code"][0] == CW_CODES["faint"] and e["cw_code"][6] != CW_CODES["faint"]


def test_a_stiffer_atrium_raises_the_v_wave(sweep):
    """Same orifice, stiffer LA: the same regurgitant volume raises the LA pressure more in late
    systole (the physics behind the triangular contour)."""
    from mitrasim.echo.simulated import echo_from_beats

    eroa, stiff, res = sweep
    e = echo_from_beats(res.metrics, eroa, np.full(eroa.shape, 4.0), np.zeros(eroa.shape, bool))
    at = eroa == 0.6
    assert np.all(np.diff(e["v_wave_above_mean_mmhg"][at]) > 0)
    assert np.all(np.diff(stiff[at]) > 0)


def test_waveform_path_and_metrics_path_agree(sweep):
    """synthetic_echo (waveforms) and echo_of_state (beat metrics) read the same envelope and LV size.
    Density: the same volumes (the kernel's and the waveform's integrals, 1 % apart at most); v
    wave: the waveform path's shut-valve window starts at a 1 % flow threshold, the kernel's at
    zero flow, a sample or two apart (0.5 mmHg)."""
    from mitrasim.echo.simulated import echo_of_state
    from mitrasim.echo.synthetic import echo_from_simulation

    eroa, _, res = sweep
    mva = np.asarray(res.parameters["mva_cm2"], float)
    for i in range(eroa.size):
        a = echo_of_state(res.patient_metrics(i), float(eroa[i]), float(mva[i]), "primary")
        b = echo_from_simulation(res, i)
        assert a.cw_density == b.cw_density and a.lv_size == b.lv_size, i
        assert a.cw_density_ratio == pytest.approx(b.cw_density_ratio, rel=0.01)
        assert a.v_wave_above_mean_mmhg == pytest.approx(b.v_wave_above_mean_mmhg, abs=0.5)
        assert a.mr_inputs().cw_density == a.cw_density and a.mr_inputs().lv_size == a.lv_size


def test_pulmonary_vein_reversal_needs_a_reversed_wave_against_the_s_wave(sweep):
    """The same large orifice: with the compliant LA of the preset the vein's systolic flow stays
    forward (no reversal); with an 8× stiffer LA the v wave drives the vein backwards in systole,
    deeper than half the forward S wave (reversal). A small orifice never reverses."""
    from mitrasim.echo.signs import PV_CODES, PV_REVERSAL_REL_S
    from mitrasim.echo.simulated import echo_from_beats

    eroa, stiff, res = sweep
    e = echo_from_beats(res.metrics, eroa, np.full(eroa.shape, 4.0), np.zeros(eroa.shape, bool))
    m = res.metrics
    assert e["pv_code"][(eroa == 0.6) & (stiff == 1)].tolist() != [PV_CODES["reversal"]]
    assert e["pv_code"][(eroa == 0.6) & (stiff == 8)].tolist() == [PV_CODES["reversal"]]
    assert np.all(e["pv_code"][eroa <= 0.1] != PV_CODES["reversal"])
    rev = e["pv_code"] == PV_CODES["reversal"]
    assert np.all(-m["pv_min_systolic_flow_ml_s"][rev] >= PV_REVERSAL_REL_S * m["pv_s_peak_ml_s"][rev])


def _one_forward_wave(res, i) -> bool:
    """The mitral inflow of beat i is one forward wave (E and A fused: no diastasis)."""
    q = np.asarray(res.patient_waveforms(i)["q_mv_ml_s"]) > 0.0
    return int(np.sum(q & ~np.roll(q, 1))) == 1


def test_pulmonary_vein_pattern_agrees_between_paths(sweep):
    """Where the inflow is one forward wave, the waveform path's S and D waves (windows from a
    1 % mitral-flow threshold) and the kernel's metrics give the same pattern; S/D within 2 % (a
    sample or two at the window edges)."""
    from mitrasim.echo.simulated import echo_of_state
    from mitrasim.echo.synthetic import echo_from_simulation

    eroa, _, res = sweep
    mva = np.asarray(res.parameters["mva_cm2"], float)
    checked = 0
    for i in range(eroa.size):
        if not _one_forward_wave(res, i):
            continue
        a = echo_of_state(res.patient_metrics(i), float(eroa[i]), float(mva[i]), "primary")
        b = echo_from_simulation(res, i)
        assert a.pv_flow == b.pv_flow, (i, a.pv_flow, b.pv_flow)
        assert a.pv_s_d_ratio == pytest.approx(b.pv_s_d_ratio, rel=0.02)
        assert a.mr_inputs().pv_flow == a.pv_flow
        checked += 1
    assert checked >= 5


def test_s_wave_excludes_the_diastasis(sweep):
    """Where E and A are apart, the kernel's S window (gaps in forward mitral flow with aortic
    ejection) leaves the diastasis to D, as the waveform path's windows do: same pattern, S/D within
    2 % (as for one-wave beats)."""
    from mitrasim.echo.simulated import echo_of_state
    from mitrasim.echo.synthetic import echo_from_simulation

    eroa, _, res = sweep
    mva = np.asarray(res.parameters["mva_cm2"], float)
    two = [i for i in range(eroa.size) if not _one_forward_wave(res, i)]
    assert two  # the preset's small orifices: E and A apart
    for i in two:
        a = echo_of_state(res.patient_metrics(i), float(eroa[i]), float(mva[i]), "primary")
        b = echo_from_simulation(res, i)
        assert a.pv_flow == b.pv_flow, (i, a.pv_flow, b.pv_flow)
        assert a.pv_s_d_ratio == pytest.approx(b.pv_s_d_ratio, rel=0.02)
