"""The named steps of the batched procedure (mitrasim.procedure.steps), each on its own.

The decision steps are tested on hand-made rounds (no engine); the geometric steps against the
scalar functions they vectorise (assess_grasp, the window cover of the residual gap, the clip
model); the engine steps on the shipped examples (one compiled engine, shared cache).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from _procedure_shared import NAMES, case
from mitrasim.devices import assess_grasp
from mitrasim.devices.catalogue import DEFAULT_CATALOGUE
from mitrasim.procedure import ComplicationRates, setup_from_case, steps
from mitrasim.procedure.batched import GraspNumbers
from mitrasim.procedure.codes import GraspStatus, Outcome, Refusal
from mitrasim.procedure.hemodynamics import BatchHemo
from mitrasim.procedure.process import residual_profiles
from mitrasim.procedure.risks import MAX_SLOTS, N_DRAWS, POST_EVENTS
from mitrasim.procedure.steps import PlacedClip
from mitrasim.procedure.timing import REFERENCE_MINUTES

CD = 0.675


def _ctx(setups, U=None, rates=None) -> steps.Context:
    n = len(setups)
    return steps.Context.build(setups, np.ones((n, N_DRAWS)) if U is None else U, rates or ComplicationRates(), CD, None)


def _hemo(eroa, mva, grad, ok=None) -> BatchHemo:
    eroa, mva, grad = (np.asarray(x, float) for x in (eroa, mva, grad))
    n = eroa.size
    ok = np.ones(n, bool) if ok is None else np.asarray(ok)
    m = {
        "mean_gradient_mmhg": grad,
        "forward_sv_ml": np.where(ok, 50.0, np.nan),
        "map_mmhg": np.full(n, 90.0),
        "esv_ml": np.full(n, 60.0),
        "edv_ml": np.full(n, 140.0),
        "rvol_ml": 150.0 * eroa,
    }
    return BatchHemo(eroa, mva, CD * mva, m, np.zeros((n, 14)))


def _course(ctx: steps.Context, eroa, mva, grad, decision) -> steps.Course:
    h = _hemo(eroa, mva, grad)
    d = np.asarray(decision, int)
    b = steps.Baseline(h, {"rf_pct": np.full(d.size, 50.0)}, d.copy(), d.copy())
    return steps.start_course(ctx, b)


def _grasp(status) -> GraspNumbers:
    s = np.asarray(status, int)
    z = np.zeros(s.size)
    return GraspNumbers(s, np.ones(s.size), z, z + 10, z + 10, z.astype(int), z.astype(bool))


def _round(patient, first, status, eroa, mva, grad, decision, refusal=None) -> steps.Round:
    patient = np.asarray(patient)
    dev = [DEFAULT_CATALOGUE["NT"]] * patient.size
    r = steps.Round(patient, dev, np.full(patient.size, 20.0), np.asarray(first, bool), _grasp(status), np.asarray(eroa, float), np.asarray(mva, float))
    r.hemo = _hemo(eroa, mva, grad)
    r.decision = np.asarray(decision, int)
    r.grade = r.decision.copy()
    r.refusal = None if refusal is None else np.asarray(refusal, int)
    return r


@pytest.fixture(scope="module")
def setups():
    return [setup_from_case(case(n)) for n in NAMES]


# ----------------------------------------------------------------------------- start, limits


def test_start_course_stops_who_needs_no_clip(setups):
    ctx = _ctx(setups[:3])
    c = _course(ctx, [0.4, 0.1, 0.4], [4, 4, 4], [2, 2, 2], [4, 1, 3])
    assert c.active.tolist() == [True, False, True]
    assert c.stop_reason[1] == "MR 1+ at baseline ≤ target 1+: no clip"
    assert all(log[0].action == "baseline" for log in c.steps)


def test_close_full_at_the_clip_limit(setups):
    s = [replace(setups[0], rules=setups[0].rules.with_(max_clips=2))] * 2
    ctx = _ctx(s)
    c = _course(ctx, [0.4, 0.4], [4, 4], [2, 2], [4, 4])
    c.n_clips[:] = [2, 1]
    full = steps.close_full(ctx, c, np.array([0, 1]))
    assert full.tolist() == [True, False]
    assert c.active.tolist() == [False, True] and c.stop_reason[0] == "2 clips: the limit"


# ----------------------------------------------------------------------------- refusals


def test_refusal_codes_and_their_order(setups):
    s = setups[0]
    R = s.rules
    ctx = _ctx([s] * 6)
    c = _course(ctx, [0.5] * 6, [4.0] * 6, [2.0] * 6, [4] * 6)
    eroa = [0.1, 0.1, 0.1, 0.1, 0.45, 0.1]
    mva = [3.0, 3.0, R.min_mva_cm2 - 0.01, R.min_mva_cm2 - 0.01, 3.0, 3.0]
    grad = [2.0, R.max_gradient_mmhg, 2.0, R.max_gradient_mmhg + 1, 2.0, 2.0]
    status = [0, 0, 0, 0, 0, 2]
    h = _hemo(eroa, mva, grad)
    f = steps.refusals(ctx, c, np.arange(6), h, np.array([1, 1, 1, 1, 4, 1]), np.array(status))
    # at the exact gradient limit the clip may not be released (release needs gradient < limit)
    assert [Refusal(x) for x in f] == [Refusal.NONE, Refusal.GRADIENT, Refusal.AREA, Refusal.GRADIENT, Refusal.NO_GAIN, Refusal.GRASP]


def test_refusal_no_gain_threshold_is_the_eroa_reduction(setups):
    s = setups[0]
    ctx = _ctx([s] * 2)
    c = _course(ctx, [0.5, 0.5], [4, 4], [2, 2], [3, 3])
    cut = (1 - s.rules.min_eroa_reduction) * 0.5
    h = _hemo([cut, cut + 1e-6], [3, 3], [2, 2])
    f = steps.refusals(ctx, c, np.arange(2), h, np.array([3, 3]), np.zeros(2, int))
    assert f.tolist() == [Refusal.NONE, Refusal.NO_GAIN]


def test_no_steady_state_is_refused(setups):
    ctx = _ctx([setups[0]])
    c = _course(ctx, [0.5], [4], [2], [4])
    h = _hemo([0.1], [3], [2], ok=[False])
    assert steps.refusals(ctx, c, np.arange(1), h, np.array([1]), np.zeros(1, int)).tolist() == [Refusal.NO_STEADY_STATE]


# ----------------------------------------------------------------------------- decide


def test_decide_release_reposition_remove(setups):
    s = setups[0]
    planned = replace(s, planned=((20.0, "NT"),))
    ctx = _ctx([s, s, s, s, planned])
    c = _course(ctx, [0.5] * 5, [4] * 5, [2] * 5, [4] * 5)
    #            p0: first refused, ok alt     p1: first ok, alt lower   p2: first ok, alt same  p3: nothing ok   p4 planned, refused: no reposition
    patient = [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    first = [1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0]
    decision = [2, 2, 1, 2, 1, 2, 2, 2, 2, 2, 1]
    refusal = [3, 0, 0, 0, 0, 0, 0, 4, 5, 3, 0]
    grad = [6, 3, 2, 3, 3, 3, 2, 3, 3, 6, 3]
    r = _round(patient, first, [0] * 11, [0.2] * 11, [3] * 11, grad, decision, refusal)
    d = steps.decide(ctx, c, r)
    assert d.patient.tolist() == [0, 1, 2, 3, 4]
    assert [Outcome(x) for x in d.outcome] == [Outcome.REPOSITION, Outcome.REPOSITION, Outcome.RELEASE, Outcome.REMOVE, Outcome.REMOVE]
    # p0: the best alternative is the lower grade (index 2), not the lower gradient first found
    assert d.chosen.tolist() == [2, 4, 5, -1, -1]


def test_best_alternative_breaks_ties_by_gradient_then_eroa(setups):
    r = _round([0, 0, 0, 0], [1, 0, 0, 0], [0] * 4, [0.2, 0.2, 0.1, 0.15], [3] * 4, [2, 3, 3, 2.5], [2, 1, 1, 1], [0, 0, 0, 0])
    assert steps.best_alternatives(r) == {0: 3}


# ----------------------------------------------------------------------------- events at release


def test_release_events_embolization_excludes_slda(setups):
    s = setups[0]
    U = np.ones((3, N_DRAWS))
    U[0, MAX_SLOTS + 0] = 0.0  # embolization of clip 1
    U[0, 0] = 0.0  # its SLDA draw would fire too
    U[1, 0] = 0.0  # SLDA of clip 1
    U[2, 1] = 0.0  # SLDA draw of slot 1: patient 2 is at clip 1, not drawn
    rates = ComplicationRates(slda_per_patient=0.1, embolization_per_patient=0.05)
    ctx = _ctx([s] * 3, U, rates)
    c = _course(ctx, [0.5] * 3, [4] * 3, [2] * 3, [4] * 3)
    r = _round([0, 1, 2], [1, 1, 1], [0, 0, 0], [0.1] * 3, [3] * 3, [2] * 3, [1] * 3, [0] * 3)
    d = steps.release_events(ctx, r, steps.decide(ctx, c, r))
    assert d.embolized.tolist() == [True, False, False]
    assert d.slda.tolist() == [False, True, False]


def test_release_events_slda_scaled_by_grasp_multiplier(setups):
    s = setups[0]
    rates = ComplicationRates(slda_per_patient=0.14, embolization_per_patient=0.0)
    per_clip = rates.slda_per_clip
    U = np.ones((2, N_DRAWS))
    U[:, 0] = 1.5 * per_clip  # above the base rate, below 2 × it
    ctx = _ctx([s] * 2, U, rates)
    c = _course(ctx, [0.5] * 2, [4] * 2, [2] * 2, [4] * 2)
    r = _round([0, 1], [1, 1], [0, 1], [0.1] * 2, [3] * 2, [2] * 2, [1] * 2, [0] * 2)
    r.grasp.multiplier[:] = [1.0, 2.0]
    d = steps.release_events(ctx, r, steps.decide(ctx, c, r))
    assert d.slda.tolist() == [False, True]


# ----------------------------------------------------------------------------- apply, post events


def test_apply_round_places_clips_and_stops(setups):
    s = setups[0]
    ctx = _ctx([s] * 3)
    c = _course(ctx, [0.5] * 3, [4] * 3, [2] * 3, [4] * 3)
    # p0 released to 1+ (target: stop), p1 released to 3+ (another clip), p2 removed
    r = _round([0, 1, 2], [1, 1, 1], [0, 0, 0], [0.1, 0.3, 0.1], [3, 3, 3], [2, 2, 6], [1, 3, 1], [0, 0, 3])
    d = steps.release_events(ctx, r, steps.decide(ctx, c, r))
    placed = steps.placed_clips(ctx, r, d)
    nxt, state_dec = steps.apply_round(ctx, c, r, d, placed)
    assert nxt.tolist() == [False, True, False] and state_dec.tolist() == [1, 3, 4]
    assert c.n_clips.tolist() == [1, 1, 0] and c.attempts.tolist() == [1, 1, 1]
    assert c.active.tolist() == [False, True, False] and c.aborted.tolist() == [False, False, True]
    assert c.stop_reason[0] == "residual MR 1+ ≤ target 1+"
    assert c.stop_reason[2].startswith("clip 1 not released: gradient 6.0 mmHg ≥ 5")
    assert c.decision.tolist() == [1, 3, 4] and c.hemo.eroa_cm2.tolist() == [0.1, 0.3, 0.5]
    assert np.isfinite(c.clip_pos_mm[:2, 0]).all() and np.isnan(c.clip_pos_mm[2, 0])


def test_slda_leaves_the_state_before_the_clip(setups):
    s = setups[0]
    U = np.ones((1, N_DRAWS))
    U[0, 0] = 0.0
    ctx = _ctx([s], U, ComplicationRates(slda_per_patient=0.1))
    c = _course(ctx, [0.5], [4], [2], [4])
    r = _round([0], [1], [0], [0.1], [3], [2], [1], [0])
    d = steps.release_events(ctx, r, steps.decide(ctx, c, r))
    nxt, state_dec = steps.apply_round(ctx, c, r, d, steps.placed_clips(ctx, r, d))
    assert c.events["slda"][0] and not c.clip_effective[0, 0] and c.n_clips[0] == 1
    assert c.hemo.eroa_cm2[0] == 0.5 and state_dec[0] == 4 and nxt[0]


def test_post_events_only_for_patients_accessed_and_alive(setups):
    s = setups[0]
    U = np.zeros((3, N_DRAWS))
    ctx = _ctx([s] * 3, U, ComplicationRates())
    c = _course(ctx, [0.5] * 3, [4] * 3, [2] * 3, [4] * 3)
    c.accessed[:] = [True, False, True]
    c.minutes[:] = REFERENCE_MINUTES
    c.events["in_hospital_death"][2] = True  # died in the room: no later event
    ev = steps.post_events(ctx, c)
    assert ev == {0: list(POST_EVENTS)}
    assert all(c.events[e].tolist()[:2] == [True, False] for e in POST_EVENTS)
    assert not c.events["bleeding"][2] and not c.events["stroke"][2]


# ----------------------------------------------------------------------------- geometry steps against their scalar rules


def _group_round(setups):
    ctx = _ctx(setups)
    c = _course(ctx, [s.valve.eroa_cm2 for s in setups], [s.valve.mva_cm2 for s in setups], [2.0] * len(setups), [4] * len(setups))
    parts = []
    for grp in ctx.groups:
        loc = np.arange(grp.ids.size)
        g_res = steps.residual_gap(grp, c, loc)
        dev = steps.device(ctx, grp, c, loc, g_res)
        cands = steps.grasp(grp, steps.target(ctx, grp, c, loc, g_res, dev), loc, g_res)
        parts.append((grp, cands, g_res))
    return ctx, c, parts


def test_target_covers_the_most_residual_gap(setups):
    _, _, parts = _group_round(setups)
    for grp, cands, g in parts:
        devs = grp.devices
        for j in np.flatnonzero(cands.first):
            r = int(cands.rows[j])
            v = grp.valves
            s, w = v.s_mm[r], devs[cands.device[j]].width_mm
            inside = (s >= w / 2 - 1e-9) & (s <= v.line_length_mm[r] - w / 2 + 1e-9)
            cover = np.array([g[r][np.abs(s - x) <= w / 2].sum() if ok else -np.inf for x, ok in zip(s, inside)])
            assert np.isclose(g[r][np.abs(s - cands.position_mm[j]) <= w / 2].sum(), cover.max(), rtol=1e-12)


def test_grasp_step_is_assess_grasp(setups):
    _, _, parts = _group_round(setups)
    n = 0
    for grp, cands, _ in parts:
        devs = grp.devices
        for j in range(cands.rows.size):
            p = int(grp.ids[cands.rows[j]])
            a = assess_grasp(setups[p].valve, float(cands.position_mm[j]), devs[cands.device[j]])
            assert GraspStatus(int(cands.grasp.status[j])).word == a.status
            assert cands.grasp.multiplier[j] == pytest.approx(a.slda_multiplier, rel=1e-12)
            n += 1
    assert n > len(setups)  # alternatives were made too


def test_clip_model_is_the_scalar_clip_model(setups):
    _, c, parts = _group_round(setups)
    rnd = steps.clip_model(c, [(g, cd) for g, cd, _ in parts])
    for j in range(rnd.patient.size):
        s = setups[int(rnd.patient[j])]
        d = rnd.device[j]
        g, w = residual_profiles(s.valve, [PlacedClip(d.name, float(rnd.position_mm[j]), d.width_mm, d.arm_length_mm, "", "good", 1.0)])
        ds = s.valve.ds_mm
        assert rnd.eroa_cm2[j] == pytest.approx(s.valve.discharge_coeff * g.sum() * ds / 100.0, rel=1e-9)
        assert rnd.mva_cm2[j] == pytest.approx(w.sum() * ds / 100.0, rel=1e-9)


def test_scallop_labels_equal_scallop_label_one_by_one():
    """The batched scallop (the puncture's target in the access step) equals the one-position rule,
    positions on the segment edges and beyond the line's ends included."""
    from mitrasim.procedure import oplog

    rng = np.random.default_rng(1)
    L = rng.uniform(25.0, 45.0, 400)
    edges = np.stack([np.zeros(400), 0.3 * L, 0.7 * L, L], axis=1)
    pos = np.concatenate([rng.uniform(-2.0, 50.0, 300), edges[300:350, 1], edges[350:, 2]])
    want = [oplog._scallop_of_edges(list(e), x) for e, x in zip(edges, pos)]
    assert oplog.scallop_labels(edges, pos) == want and set(want) == {"A1/P1", "A2/P2", "A3/P3"}


def test_simulated_round_keeps_each_state_in_its_candidates_row(setups):
    """After :func:`steps.simulate_round` (first attempts, then the alternatives in waves, copied into
    the kept candidates' rows) every row's engine state is that candidate's: the engine's orifice
    areas are the inputs the clip model gave that candidate, exactly."""
    ctx = _ctx(setups)
    course = steps.start_course(ctx, steps.baseline(ctx))
    parts = []
    for grp in ctx.groups:
        loc = np.arange(grp.ids.size)
        g_res = steps.residual_gap(grp, course, loc)
        dev = steps.device(ctx, grp, course, loc, g_res)
        parts.append((grp, steps.grasp(grp, steps.target(ctx, grp, course, loc, g_res, dev), loc, g_res)))
    out = steps.simulate_round(ctx, course, steps.clip_model(course, parts))
    assert (~out.first).sum() > len(steps.PLANE_WAVES)  # alternatives in more than one wave
    assert out.hemo.eroa_cm2.tolist() == out.eroa_cm2.tolist()
    assert out.hemo.mva_cm2.tolist() == out.mva_cm2.tolist()
