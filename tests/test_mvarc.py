"""MVARC endpoints (Stone et al., JACC 2015, Part 1 and Part 2): every component on single cases."""

from __future__ import annotations

import itertools

import pytest

from mitrasim.echo.stenosis import evaluate_mvarc
from mitrasim.echo.mvarc import MVARCEvents, evaluate_endpoints, events_from_complications, events_from_names

GOOD_ECHO = evaluate_mvarc("4+", "1+", eoa_after_cm2=2.5, mean_gradient_after_mmhg=3.0)
NONE = events_from_names(["none"])
ADVERSE = ("death", "stroke", "urgent_surgery", "slda", "embolization", "major_bleeding", "pericardial_effusion")


def test_all_met_without_events():
    r = evaluate_endpoints(GOOD_ECHO, NONE)
    assert (r.technical.success, r.device.success, r.procedural.success) == (True, True, True)
    assert r.technical.time_point.startswith("exit from the procedure room")
    assert r.device.time_point.startswith("30 days") and r.procedural.time_point == "30 days"


# event -> (technical, device, procedural) and the component that must be named as failed
@pytest.mark.parametrize(
    "event, expect, failed",
    [
        ("death", (None, False, False), ("alive_at_exit", "alive", "no_death")),
        ("stroke", (True, False, False), (None, "stroke_free", "no_stroke")),
        ("urgent_surgery", (False, False, False), ("no_emergency_surgery_or_reintervention", "no_unplanned_surgery_or_reintervention", "no_urgent_surgery_or_reintervention")),
        ("slda", (False, False, False), ("device_correctly_positioned", "no_slda", "device_success")),
        ("embolization", (False, False, False), ("device_correctly_positioned", "no_embolization", "device_success")),
        ("major_bleeding", (True, True, False), (None, None, "no_major_bleeding")),
        ("pericardial_effusion", (True, True, False), (None, None, "no_major_cardiac_structural_complication")),
        ("no_device_implanted", (False, False, False), ("device_delivered_and_retrieved", "device_in_place", "device_success")),
    ],
)
def test_each_event_fails_its_endpoints_and_is_named(event, expect, failed):
    r = evaluate_endpoints(GOOD_ECHO, events_from_names([event]))
    eps = (r.technical, r.device, r.procedural)
    assert tuple(e.success for e in eps) == expect
    for e, name in zip(eps, failed):
        if name is not None and e.success is False:
            assert name in e.failed, (e.name, e.failed)
        if name is not None and e.success is None:
            assert name in e.not_assessable


@pytest.mark.parametrize(
    "after, grad, failed",
    [("3+", 3.0, "mr_reduction_optimal_or_acceptable"), ("1+", 5.0, "no_iatrogenic_stenosis")],
)
def test_echo_components_fail_device_success(after, grad, failed):
    r = evaluate_endpoints(evaluate_mvarc("4+", after, eoa_after_cm2=2.5, mean_gradient_after_mmhg=grad), NONE)
    assert r.technical.success is True  # echo is not a technical-success component
    assert r.device.success is False and r.device.failed == [failed]
    assert r.procedural.success is False and "device_success" in r.procedural.failed
    assert failed in r.device.verdict


def test_unassessed_components_are_undecided_never_success():
    r = evaluate_endpoints(GOOD_ECHO, MVARCEvents())
    assert (r.technical.success, r.device.success, r.procedural.success) == (None, None, None)
    r = evaluate_endpoints(evaluate_mvarc("3+", "2+"), NONE)  # stenosis not measured
    assert r.device.success is None and r.device.not_assessable == ["no_iatrogenic_stenosis"]


def test_no_success_with_a_hard_event_in_any_combination():
    for k in range(1, 3):
        for combo in itertools.combinations(ADVERSE[:5], k):
            r = evaluate_endpoints(GOOD_ECHO, events_from_names(list(combo)))
            assert r.device.success is False and r.procedural.success is False, combo
            assert r.technical.success is not True or set(combo) <= {"stroke"}, combo


def test_events_from_procedure_complications():
    ev = events_from_complications({"in_hospital_death": True, "bleeding": False, "slda": True}, n_clips=2)
    assert ev.death and ev.slda and ev.device_implanted and ev.major_bleeding is False and ev.stroke is False
    assert events_from_complications({}, n_clips=0).device_implanted is False


def test_no_trial_row_is_a_success_with_a_hard_event():
    """Trial rows (the cohort adapter) at high complication rates: a death, stroke, urgent surgery,
    SLDA or embolization never leaves device or procedural success, and the failed component is named."""
    import numpy as np

    from mitrasim.cohort.adapter import Strategy, run_patient_chunk
    from mitrasim.cohort.population import load_population, sample_population
    from mitrasim.physiology.simulation import SolverSettings
    from mitrasim.procedure.risks import DEFAULT_RATES

    rates = DEFAULT_RATES.with_(in_hospital_death=0.2, stroke=0.2, urgent_surgery=0.2, slda_per_patient=0.3, embolization_per_patient=0.2, bleeding=0.2)
    pop = load_population("tvt_mixed")
    pts = sample_population(pop, 150, 3)
    t = run_patient_chunk(pts, Strategy(), 7, settings=SolverSettings(dt_max_s=4e-3, tol=1e-2), preset_by_etiology=dict(pop.presets), rates=rates).to_pydict()
    hard = {k: np.array(t[k]) for k in ("death_inhospital", "stroke", "urgent_surgery", "slda", "embolization")}
    assert all(v.any() for v in hard.values()), {k: int(v.sum()) for k, v in hard.items()}
    any_hard = np.any(np.stack(list(hard.values())), axis=0)
    for ep in ("device", "procedural"):
        assert not np.any(any_hard & np.array(t[f"mvarc_{ep}_success"])), ep
    tech = np.array(t["mvarc_technical_success"])
    for k in ("urgent_surgery", "slda", "embolization", "death_inhospital"):
        assert not np.any(hard[k] & tech), k
    names = {"death_inhospital": "device:alive", "stroke": "device:stroke_free", "urgent_surgery": "device:no_unplanned_surgery_or_reintervention",
             "slda": "device:no_slda", "embolization": "device:no_embolization"}  # fmt: skip
    for k, comp in names.items():
        for i in np.flatnonzero(hard[k]):
            assert comp in t["mvarc_failed"][i].split(";"), (k, t["mvarc_failed"][i])
    bleed = np.array(t["major_bleeding"]) & ~any_hard
    assert not np.any(bleed & np.array(t["mvarc_procedural_success"]))
    assert np.any(np.array(t["mvarc_procedural_success"]))  # the endpoint can be met


def _batch_inputs(n: int, seed: int):
    """Random patients over every grade pair, event combination and both sides of each stenosis cut
    (values on the cuts themselves included)."""
    import numpy as np

    from mitrasim.echo.thresholds import threshold

    rng = np.random.default_rng(seed)
    eoa_cut, grad_cut = (threshold("mvarc", k, c).value for k, c in (("eoa_cm2", "stenosis_below"), ("mean_gradient_mmhg", "stenosis_from")))  # type: ignore[union-attr]
    eoa = np.where(rng.random(n) < 0.1, eoa_cut, rng.uniform(0.5, 4.0, n))
    grad = np.where(rng.random(n) < 0.1, grad_cut, rng.uniform(0.0, 12.0, n))
    names = ("in_hospital_death", "stroke", "urgent_surgery", "slda", "embolization", "bleeding", "pericardial_effusion")
    comp = {k: rng.random(n) < 0.15 for k in names}
    return rng.integers(0, 5, n), rng.integers(0, 5, n), eoa, grad, comp, rng.integers(0, 3, n)


def test_batch_columns_equal_each_patients_endpoints():
    """MVARCBatch.columns (one evaluation per distinct combination) = each patient evaluated alone."""
    import numpy as np

    from mitrasim.echo.mvarc import MVARCBatch

    before, after, eoa, grad, comp, clips = _batch_inputs(3000, 11)
    cols = MVARCBatch(before, after, eoa, grad, comp, clips).columns()
    for i in range(len(before)):
        m = evaluate_endpoints(
            evaluate_mvarc(int(before[i]), int(after[i]), eoa_after_cm2=float(eoa[i]), mean_gradient_after_mmhg=float(grad[i])),
            events_from_complications({k: bool(v[i]) for k, v in comp.items()}, int(clips[i])),
        )
        assert cols["residual_mr"][i] == m.residual_mr
        assert cols["no_stenosis"][i] == (m.iatrogenic_stenosis is False)
        for ep in ("technical", "device", "procedural"):
            assert cols[ep][i] == (getattr(m, ep).success is True)
        assert cols["failed"][i] == ";".join(f"{ep}:{c}" for ep in ("technical", "device", "procedural") for c in getattr(m, ep).failed)
    assert len(set(cols["failed"])) > 20 and 0 < np.mean(cols["no_stenosis"]) < 1  # the inputs reach many combinations


def test_batch_refuses_what_the_echo_component_refuses():
    from mitrasim.echo.mvarc import MVARCBatch
    from mitrasim.errors import InputError

    before, after, eoa, grad, comp, clips = _batch_inputs(50, 3)
    grad[17] = 75.0
    with pytest.raises(InputError, match="mean_gradient_after_mmhg"):
        MVARCBatch(before, after, eoa, grad, comp, clips).columns()


@pytest.mark.parametrize("low, high, cols", [(0, 5, 12), (-3, 2, 4), (0, 2**40, 3)])
def test_distinct_rows_are_numpys_unique_rows(low, high, cols):
    """The batch's grouping of patients by what decides their endpoints: the first row and each row's
    group as ``np.unique(axis=0)`` gives them (the same order), for digits of small ranges (read as one
    integer) and of ranges too wide for that."""
    import numpy as np

    from mitrasim.echo.mvarc import _distinct_rows

    key = np.random.default_rng(cols).integers(low, high, (4000, cols), dtype=np.int64)
    key[2000:] = key[:2000] if high > 2**20 else key[2000:]  # repeats where the values are too many to repeat by chance
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    got_first, got_inverse = _distinct_rows(key)
    assert np.array_equal(got_first, first) and np.array_equal(got_inverse, inverse.reshape(-1))
