"""Complications depend on the patient and on the course, and change the course."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from _procedure_shared import case
from mitrasim.procedure import ComplicationRates, run_procedures, setup_from_case, steps
from mitrasim.procedure.risks import (
    BLEEDING_ANTICOAGULANT_MULTIPLIER,
    COLUMNS,
    DEATH_OR_PER_DECADE,
    LOW_LVEF_MULTIPLIER,
    N_DRAWS,
    REFERENCE_STS_PCT,
    REFRACTORY_TAMPONADE_SHARE,
    TAMPONADE_AT_PUNCTURE_SHARE,
    PatientRisk,
    patient_multipliers,
    scale_odds,
)
from mitrasim.procedure.timing import PHASE_MINUTES, REFERENCE_MINUTES
from test_procedure_steps import _course, _ctx, _round


def _odds(p):
    return p / (1 - p)


@pytest.fixture(scope="module")
def base():
    return setup_from_case(case("p2_flail"))


# ----------------------------------------------------------------------------- patient risk


def test_patient_multipliers_follow_the_documented_model():
    m = patient_multipliers([
        PatientRisk(82.0, 55.0), PatientRisk(92.0, 55.0), PatientRisk(72.0, 25.0), PatientRisk(70.0, 25.0, sts_prom_pct=12.2), PatientRisk(on_anticoagulant=True),
    ])  # fmt: skip
    d = m["in_hospital_death"]
    assert d[0] == 1.0 and d[1] == pytest.approx(DEATH_OR_PER_DECADE)
    assert d[2] == pytest.approx(LOW_LVEF_MULTIPLIER / DEATH_OR_PER_DECADE)
    assert d[3] == pytest.approx(12.2 / REFERENCE_STS_PCT)  # the surgical-risk score wins over the proxy
    assert m["bleeding"].tolist() == [1, 1, 1, 1, BLEEDING_ANTICOAGULANT_MULTIPLIER]
    assert m["stroke"][1] > m["stroke"][0] > m["stroke"][2]


def test_scale_odds_multiplies_the_odds_and_stays_a_probability():
    p = np.array([0.0, 0.02, 0.5, 0.99, 1.0])
    q = scale_odds(p, 3.0)
    assert np.allclose(_odds(q[1:4]), 3 * _odds(p[1:4])) and q[0] == 0 and q[-1] == 1 and np.all(q <= 1)


def test_older_patients_die_more_often_in_hospital(base):
    """Same valve, ages 67 and 87: the sampled in-hospital death rate follows the odds model."""
    rates = ComplicationRates(in_hospital_death=0.05, bleeding=0, stroke=0, pericardial_effusion=0, urgent_surgery=0, slda_per_patient=0, embolization_per_patient=0)
    n = 4000
    ctx = {}
    for age in (67.0, 87.0):
        s = replace(base, risk=PatientRisk(age, 55.0))
        U = np.random.default_rng(3).random((n, N_DRAWS))
        c = steps.Context.build([s] * n, U, rates, 0.675, None)
        co = _course(c, [0.5] * n, [4] * n, [2] * n, [4] * n)
        co.accessed[:] = True
        co.minutes[:] = REFERENCE_MINUTES
        steps.post_events(c, co)
        ctx[age] = co.events["in_hospital_death"].mean()
    from mitrasim.procedure.risks import DEATH_IN_ROOM_SHARE

    p_ref = rates.in_hospital_death * (1 - DEATH_IN_ROOM_SHARE)
    for age, rate in ctx.items():
        p = float(scale_odds(p_ref, DEATH_OR_PER_DECADE ** ((age - 82) / 10)))
        assert abs(rate - p) < 4 * np.sqrt(p * (1 - p) / n), (age, rate, p)  # binomial 4 sigma
    assert ctx[87.0] > ctx[67.0]


def test_longer_procedures_raise_stroke_and_death_odds_in_proportion(base):
    rates = ComplicationRates(stroke=0.02, in_hospital_death=0.03)
    U = np.zeros((2, N_DRAWS))
    ctx = _ctx([base, base], U, rates)
    c = _course(ctx, [0.5] * 2, [4] * 2, [2] * 2, [4] * 2)
    c.accessed[:] = True
    c.minutes[:] = [REFERENCE_MINUTES, 2 * REFERENCE_MINUTES]
    # the probabilities the step uses, read back through draws just below and above them
    from mitrasim.procedure.timing import course_multiplier

    t = course_multiplier(c.minutes)
    assert t.tolist() == [1.0, 2.0]
    p1, p2 = scale_odds(0.02, ctx.risk["stroke"][0] * t[0]), scale_odds(0.02, ctx.risk["stroke"][1] * t[1])
    assert _odds(p2) == pytest.approx(2 * _odds(p1))
    U[:, COLUMNS["stroke"]] = (p1 + p2) / 2  # between the two: only the longer procedure has a stroke
    steps.post_events(ctx, c)
    assert c.events["stroke"].tolist() == [False, True]


# ----------------------------------------------------------------------------- events change the course


def _one_clip_round(ctx, c):
    r = _round([0], [1], [0], [0.3], [3.0], [2.0], [3], [0])
    d = steps.release_events(ctx, r, steps.decide(ctx, c, r))
    nxt, _ = steps.apply_round(ctx, c, r, d, steps.placed_clips(ctx, r, d))
    return d, nxt


def test_urgent_surgery_ends_the_procedure(base):
    U = np.ones((1, N_DRAWS))
    U[0, COLUMNS["urgent_surgery[0]"]] = 0.0
    ctx = _ctx([base], U, ComplicationRates(urgent_surgery=0.01))
    c = _course(ctx, [0.5], [4.0], [2], [4])
    d, nxt = _one_clip_round(ctx, c)
    assert nxt[0] and c.active[0]  # residual 3+: another clip would follow ...
    steps.clip_events(ctx, c, d)
    assert not c.active[0] and c.ended_by[0] == "urgent surgery" and c.events["urgent_surgery"][0]  # ... but surgery ends it
    assert c.stop_reason[0] == "urgent surgery during clip 1"
    steps.closing(ctx, c)
    assert not any(s.action == "closure" for s in c.steps[0])


def test_death_in_the_room_ends_the_procedure_and_no_later_event_is_drawn(base):
    U = np.zeros((1, N_DRAWS))
    U[0, COLUMNS["tamponade[0]"]] = 1.0
    U[0, COLUMNS["urgent_surgery[0]"]] = 1.0
    ctx = _ctx([base], U, ComplicationRates(in_hospital_death=0.02))
    c = _course(ctx, [0.5], [4.0], [2], [4])
    c.accessed[0] = True
    d, _ = _one_clip_round(ctx, c)
    steps.clip_events(ctx, c, d)
    assert c.ended_by[0] == "death" and c.events["in_hospital_death"][0] and not c.active[0]
    assert steps.post_events(ctx, c) == {}


def test_tamponade_is_drained_and_the_procedure_goes_on_unless_refractory(base):
    rate = 0.02
    p_grasp = rate * (1 - TAMPONADE_AT_PUNCTURE_SHARE) / 1.4
    for u, refractory in ((0.5 * p_grasp, False), (0.5 * REFRACTORY_TAMPONADE_SHARE * p_grasp, True)):
        U = np.ones((1, N_DRAWS))
        U[0, COLUMNS["tamponade[0]"]] = u
        ctx = _ctx([base], U, ComplicationRates(pericardial_effusion=rate))
        c = _course(ctx, [0.5], [4.0], [2], [4])
        d, _ = _one_clip_round(ctx, c)
        before = c.minutes[0]
        steps.clip_events(ctx, c, d)
        assert c.events["pericardial_effusion"][0]
        assert c.minutes[0] - before == pytest.approx(PHASE_MINUTES["tamponade"] + 8 + 13 + 5)
        assert c.active[0] == (not refractory) and c.events["urgent_surgery"][0] == refractory


def test_events_change_the_course_end_to_end(base):
    """40 copies of the P2 flail with high in-procedure rates: whoever met urgent surgery or death in
    the room has no clip after it and no closure; the others end with the septal check and closure;
    every log's minutes add up to the procedure time."""
    rates = ComplicationRates(pericardial_effusion=0.3, urgent_surgery=0.3, in_hospital_death=0.4, bleeding=0.1, stroke=0.1)
    setups = [replace(base, name=f"p{i}", rules=base.rules.with_(target_residual_grade=0)) for i in range(40)]
    res = run_procedures(setups, seed=5, rates=rates).results
    ended = [r for r in res if r.course["ended_by"]]
    assert ended and len(ended) < len(res)
    for r in res:
        acts = [s.action for s in r.steps]
        assert sum(s.minutes for s in r.steps) == pytest.approx(r.course["procedure_minutes"])
        if r.course["ended_by"]:
            end = next(i for i, s in enumerate(r.steps) if s.action == "event" and "procedure ended" in s.text)
            assert not any(a in ("align", "grasp", "release", "closure") for a in acts[end + 1 :])
            assert r.complications["urgent_surgery" if r.course["ended_by"] == "urgent surgery" else "in_hospital_death"]
        else:
            assert "closure" in acts
    drained = [r for r in res if r.complications["pericardial_effusion"] and not r.course["ended_by"]]
    assert drained and all("closure" in [s.action for s in r.steps] for r in drained)
