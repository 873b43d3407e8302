"""Synthetic echo of real engine beats: engine → synthetic echo → guideline grade.

One batched ``simulate`` (regazzoni2022, waveforms) over an EROA sweep, shared by
the module; the first run in a fresh environment compiles the engine (~20 s to
2 min), later runs read numba's disk cache.
"""

import numpy as np
import pytest

from mitrasim.echo.synthetic import (
    NoiseModel,
    _diastole_mask,
    echo_from_simulation,
    echo_from_simulation_all,
    measurement_columns,
    simulation_waveforms,
)
from mitrasim.echo.thresholds import threshold
from mitrasim.errors import InputError

EROA = np.concatenate([[0.0], np.round(np.arange(0.05, 0.6001, 0.01), 3)])
CUTS = tuple(threshold("ase2017", "eroa_cm2", k).value for k in ("grade2_from", "grade3_from", "grade4_from"))


def by_eroa(x: float) -> int:
    return 0 if x == 0 else 1 + sum(x >= c for c in CUTS)


def rel_distance(x: float) -> float:
    """Distance of x to the nearest EROA cut, as a fraction of that cut."""
    return min(abs(x - c) / c for c in CUTS)


def near(x: float) -> bool:
    """Near a boundary: within ±0.03 cm² or ±10% of an EROA cut, whichever is wider."""
    return any(abs(x - c) <= max(0.03, 0.10 * c) for c in CUTS)


@pytest.fixture(scope="module")
def sim():
    from mitrasim.physiology.simulation import simulate

    res = simulate("regazzoni2022", eroa_cm2=EROA, waveforms=True)
    assert bool(np.all(res.metrics["converged"]))
    return res


@pytest.fixture(scope="module")
def clean(sim):
    return echo_from_simulation_all(sim)


def test_engine_beat_meets_synthetic_echo_assumptions(sim):
    for i in (0, int(np.searchsorted(EROA, 0.3)), len(EROA) - 1):
        w = simulation_waveforms(sim, i)
        t, q_mv, q_mr = w["t_s"], w["q_mv_ml_s"], w["q_mr_ml_s"]
        dt = np.diff(t)
        assert np.allclose(dt, dt[0]) and t[-1] + dt[0] == pytest.approx(60.0 / w["hr_bpm"])  # no end point
        dia = _diastole_mask(q_mv, 0.01)
        assert 0 < dia.sum() < dia.size
        assert int(np.sum(dia & ~np.roll(dia, 1))) == 1  # one diastole per beat
        # the beat starts at ventricular contraction onset: the first samples are the end of diastole
        assert dia[0] and not dia[dia.size // 4]
        if w["eroa_cm2"] > 0:
            assert not dia[int(np.argmax(q_mr))]  # peak MR in systole
            # nearly all regurgitant volume is systolic (the engine lets a little leak in diastasis)
            assert q_mr[dia].sum() < 0.05 * q_mr.sum()
        # E before A: the E peak comes first and is the tallest in this preset
        start = int(np.flatnonzero(dia & ~np.roll(dia, 1))[0])
        order = np.roll(np.arange(q_mv.size), -start)[: int(dia.sum())]
        assert int(np.argmax(q_mv[order])) < 0.5 * order.size


def test_matches_engine_metrics(sim, clean):
    m = sim.metrics
    for i, e in enumerate(clean):
        assert e.eroa_cm2 == pytest.approx(EROA[i], abs=1e-12)
        assert e.rvol_ml == pytest.approx(m["rvol_ml"][i], rel=1e-3, abs=1e-6)
        assert e.peak_mr_flow_ml_s == pytest.approx(m["peak_mr_flow_ml_s"][i], rel=1e-6, abs=1e-9)
        assert e.e_velocity_m_s == pytest.approx(m["e_velocity_m_s"][i], rel=1e-3)
        assert e.rf_pct == pytest.approx(m["rf_pct"][i], abs=1.0)
        assert e.lvef_pct == pytest.approx(m["ef_pct"][i], abs=1.0)
        if EROA[i] > 0:
            assert e.mr_vmax_cm_s == pytest.approx(100 * m["mr_vmax_m_s"][i], rel=1e-3)
        assert (e.pv_flow == "reversal") == bool(m["pv_systolic_reversal"][i])


def test_eroa_sweep_grades_follow_eroa_thresholds_except_near_a_boundary(clean):
    assert clean[0].grade().grade == "0"
    rows = []
    for x, e in zip(EROA[1:], clean[1:]):
        g = e.grade()
        rows.append((x, g.grade, by_eroa(x), g.disagreeing))
        if g.grade_number is None:
            # RVol and RF lag EROA across the 3+/4+ category line (ASE 2017: indeterminate, further
            # imaging); the named most-likely grade stays within one grade of EROA's
            assert g.rule == "discordant_quantitation" and abs(g.most_likely_number - by_eroa(x)) <= 1, (x, g.reasons)
        elif g.grade_number != by_eroa(x):
            assert near(x), (x, g.grade, g.reasons)
            assert abs(g.grade_number - by_eroa(x)) == 1
            # the report names what disagreed with the grade it gave
            assert g.disagreeing, (x, g.reasons)
    wrong = [r for r in rows if r[1] not in (f"{r[2]}+", "indeterminate")]
    assert 0 < len(wrong) <= 6, wrong  # only a few points right at 0.20 / 0.30 / 0.40


def test_noise_misgrades_near_boundaries_only(sim, clean):
    draws = 60
    rng = np.random.default_rng(2024)
    noisy = [echo_from_simulation_all(sim, noise=True, rng=rng) for _ in range(draws)]
    again = echo_from_simulation_all(sim, noise=True, rng=np.random.default_rng(2024))
    assert again == noisy[0] and noisy[0] != noisy[1]
    wrong = np.zeros(EROA.size)  # a definite grade other than the EROA grade
    indet = np.zeros(EROA.size)
    for cohort in noisy:
        for i, e in enumerate(cohort):
            n = e.grade().grade_number
            indet[i] += n is None
            wrong[i] += n is not None and n != by_eroa(EROA[i])
    wrong /= draws
    indet /= draws
    idx_near = [i for i, x in enumerate(EROA) if x > 0 and rel_distance(x) <= 0.10]
    # far: the nearest cut ≥ 2.5 SDs of the PISA EROA error away (log scale; radius error enters squared)
    sd_log = 2.0 * NoiseModel().pisa_radius
    idx_far = [i for i, x in enumerate(EROA) if x > 0 and min(abs(np.log(x / c)) for c in CUTS) >= 2.5 * sd_log - 1e-9]
    assert len(idx_near) >= 10 and len(idx_far) >= 5
    # near a cut: inter-observer noise misgrades often (but not always) ...
    near_rate = float(np.mean(wrong[idx_near] + indet[idx_near]))
    assert 0.3 < near_rate < 0.9, near_rate
    # ... far from every cut: never a wrong definite grade; discordant draws are flagged indeterminate
    assert wrong[idx_far].max() == 0.0, {float(EROA[i]): wrong[i] for i in idx_far}
    assert float(np.mean(indet[idx_far])) < 0.15
    assert wrong[0] == 0.0  # a competent valve never reads as MR


def test_columns_and_single_patient(sim, clean):
    cols = measurement_columns(clean)
    assert cols["eroa_cm2"].shape == EROA.shape and cols["grade"][0] == "0"
    assert np.all((cols["grade_number"][1:] >= 1) | np.isnan(cols["grade_number"][1:]))
    assert np.all(cols["decision_grade"][1:] >= 1) and np.all(np.diff(cols["decision_grade"]) >= 0)
    assert echo_from_simulation(sim, 5) == clean[5]


def test_bad_result_or_index(sim):
    with pytest.raises(InputError) as e:
        echo_from_simulation(sim, EROA.size)
    assert e.value.field == "i"

    class NoWaves:
        parameters = sim.parameters
        waveforms = None

    with pytest.raises(InputError) as e:
        echo_from_simulation(NoWaves())
    assert e.value.field == "result.waveforms"
