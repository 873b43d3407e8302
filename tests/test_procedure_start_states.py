"""Start states of the procedure's engine states (:mod:`mitrasim.procedure.start_states`): they hold
each patient's blood, the plane is exact on affine responses, and a patient's results do not depend
on the batch."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from _procedure_shared import NAMES, case
from mitrasim.physiology.parameters import STATE_NAMES
from mitrasim.physiology.simulation import SolverSettings, simulate
from mitrasim.procedure import start_states as S
from mitrasim.procedure import steps
from mitrasim.procedure.loading import loading_arrays
from mitrasim.procedure.process import run_procedure_arrays, setup_from_case

FAST = SolverSettings(dt_max_s=4e-3, tol=1e-2)
BLOOD_RTOL = 1e-9  # the engine conserves w·x to rounding (many beats of float64 sums)


@functools.lru_cache(maxsize=None)
def _setups():
    return tuple(setup_from_case(case(n)) for n in NAMES)


def test_blood_weights_are_what_the_engine_conserves_under_anaesthesia():
    """From one start, the engine's steady state holds ``w·x`` of the start under the weights of the
    loading it runs in (GA widens the venous compliance); the awake weights do not describe it."""
    preset = "secondary_mr"
    awake = [{}, {"sys_ven_c_ml_mmhg": 60.0}]
    ga, _ = loading_arrays([preset] * 2, awake, np.array([70.0, 70.0]), "anaesthesia")
    x0 = simulate(preset, awake, settings=FAST).final_state
    x1 = simulate(preset, ga, initial_state=x0, settings=FAST).final_state
    w_ga, w_awake = S.blood_weights([preset] * 2, ga), S.blood_weights([preset] * 2, awake)
    assert np.allclose(S.blood(x1, w_ga), S.blood(x0, w_ga), rtol=BLOOD_RTOL, atol=0)
    assert not np.allclose(S.blood(x1, w_awake), S.blood(x0, w_awake), rtol=1e-4, atol=0)
    # columns and dicts give the same weights
    cols = {k: np.array([o.get(k, np.nan) for o in ga]) for k in ga[0]}
    assert np.array_equal(S.blood_weights([preset] * 2, cols), w_ga)


def test_hold_blood_and_transfer_hold_the_target_blood():
    rng = np.random.default_rng(1)
    w = np.abs(rng.normal(1.0, 0.5, (6, len(STATE_NAMES))))
    xa, xb, xc = (rng.uniform(40.0, 60.0, (6, len(STATE_NAMES))) for _ in range(3))  # positive volumes
    target = rng.normal(3000.0, 100.0, 6)
    assert np.allclose(S.blood(S.hold_blood(xa, w, target), w), target, rtol=1e-12, atol=0)
    t = S.transferred(xa, xb, xc, w)
    assert np.allclose(S.blood(t, w), S.blood(xa, w), rtol=1e-12, atol=0)
    moved = np.abs(t - (xa + xc - xb)) > 1e-9  # only the systemic venous pressure is moved
    assert not moved[:, [j for j, k in enumerate(STATE_NAMES) if k != "p_sys_ven_mmhg"]].any()
    bad = xc.copy()
    bad[2, 3] = np.nan
    assert np.array_equal(S.transferred(xa, xb, bad, w)[2], xa[2])  # not finite: the start it replaces
    empty = xc.copy()
    empty[4, STATE_NAMES.index("v_la_ml")] = xb[4, STATE_NAMES.index("v_la_ml")] - xa[4, STATE_NAMES.index("v_la_ml")] - 1.0
    assert np.array_equal(S.transferred(xa, xb, empty, w)[4], xa[4])  # an empty chamber: likewise


def test_plane_is_exact_on_an_affine_response_and_holds_an_affine_invariant():
    """A state affine in (EROA, MVA) is reproduced from the first attempt and two known states; the
    weights sum to 1, so any linear invariant of the known states (the blood) is kept; a missing
    known state weighs 0; the weights are clipped."""
    rng = np.random.default_rng(2)
    m, k = 8, 2
    a0, J = rng.normal(100.0, 1.0, (m, 14)), rng.normal(size=(m, 14, 2))  # volumes stay positive
    f = lambda c: a0 + np.einsum("msc,mc->ms", J, c)  # noqa: E731
    c0 = np.column_stack([rng.uniform(0.1, 0.3, m), rng.uniform(1.5, 3.0, m)])
    ck = c0[:, None, :] + rng.normal(0.0, [0.03, 0.2], (m, k, 2))
    c = c0 + rng.normal(0.0, [0.03, 0.2], (m, 2))
    xk = np.stack([f(ck[:, i]) for i in range(k)], axis=1)
    got = S.plane(f(c0), c0, xk, ck, c, limit=1e6)
    assert np.allclose(got, f(c), rtol=1e-9, atol=1e-9)
    w = np.abs(rng.normal(1.0, 0.5, (m, 14)))
    B = S.blood(f(c0), w) + 3.0  # every known state moved to hold B
    x0s = f(c0) + ((B - S.blood(f(c0), w)) / w[:, 0])[:, None] * np.eye(14)[0]
    xks = xk + ((B[:, None] - np.einsum("mks,ms->mk", xk, w)) / w[:, 0][:, None])[:, :, None] * np.eye(14)[0]
    got_b = S.plane(x0s, c0, xks, ck, c, limit=4.0)
    assert not np.array_equal(got_b, x0s) and np.allclose(S.blood(got_b, w), B, rtol=1e-12, atol=0)
    xk_missing = xk.copy()
    xk_missing[:, 1] = np.nan  # one known state: the secant along its direction
    sec = S.plane(f(c0), c0, xk_missing, ck, c, limit=1e6)
    d = ck[:, 0] - c0
    lam = np.einsum("mc,mc->m", d, c - c0) / np.einsum("mc,mc->m", d, d)
    assert np.allclose(sec, f(c0) + lam[:, None] * (xk[:, 0] - f(c0)), rtol=1e-9, atol=1e-9)
    far = S.plane(f(c0), c0, xk_missing, ck, c0 + 100.0 * d, limit=4.0)  # 100 spreads away: clipped at 4
    assert np.allclose(far, f(c0) + 4.0 * (xk[:, 0] - f(c0)), rtol=1e-9, atol=1e-9)
    assert np.array_equal(S.plane(f(c0), np.full_like(c0, np.nan), xk, ck, c, 4.0), f(c0))  # no reference orifice: weights 0


def test_a_plane_row_is_the_same_alone_as_in_any_batch():
    """Each row's start is its own: rows with 0, 1, 2 or 3 known states mixed in one call, and runs of
    rows with the same known states (a patient's alternatives of one wave), give, bit for bit, what
    each row gives alone (a trial's waves batch rows with and without known states)."""
    rng = np.random.default_rng(4)
    m, k = 16, 3
    x0 = rng.normal(100.0, 1.0, (m, 14))
    c0 = np.column_stack([rng.uniform(0.1, 0.3, m), rng.uniform(1.5, 3.0, m)])
    ck = c0[:, None, :] + rng.normal(0.0, [0.03, 0.2], (m, k, 2))
    xk = x0[:, None, :] + rng.normal(0.0, 1.0, (m, k, 14))
    known = np.arange(m) % 4  # row i knows i % 4 states
    xk[np.arange(k)[None, :] >= known[:, None]] = np.nan
    for a, b in ((4, 7), (11, 13)):  # rows a..b-1: one patient's alternatives (the same known states, their own orifices)
        x0[a:b], c0[a:b], ck[a:b], xk[a:b] = x0[a], c0[a], ck[a], xk[a]
    known = np.isfinite(xk).all(axis=2).sum(axis=1)
    c = c0 + rng.normal(0.0, [0.03, 0.2], (m, 2))
    whole = S.plane(x0, c0, xk, ck, c, limit=10.0)
    alone = np.concatenate([S.plane(x0[i:i + 1], c0[i:i + 1], xk[i:i + 1], ck[i:i + 1], c[i:i + 1], limit=10.0) for i in range(m)])
    assert np.array_equal(whole, alone)
    assert np.array_equal(whole[known == 0], x0[known == 0]) and not np.array_equal(whole[known > 0], x0[known > 0])
    order = rng.permutation(m)
    assert np.array_equal(S.plane(x0[order], c0[order], xk[order], ck[order], c[order], limit=10.0), whole[order])


@functools.lru_cache(maxsize=None)
def _spied_run():
    """The five examples under anaesthesia (seeded), every engine start of the clip rounds and the
    awake outcome recorded with the blood its patient's states hold."""
    rounds, awake = [], []
    mp = pytest.MonkeyPatch()
    sim, starts = steps.simulate, steps._awake_starts

    def spy_sim(ctx, course, rnd, j, init=None):
        q = rnd.patient[j]
        if init is not None:
            w = S.blood_weights([ctx.presets[p] for p in q.tolist()], ctx.overrides_of(q))
            rounds.append((S.blood(init, w), S.blood(course.hemo.final_state[q], w)))
        return sim(ctx, course, rnd, j, init)

    def spy_awake(course, b, run, presets, awake_overrides):
        x = starts(course, b, run, presets, awake_overrides)
        w = S.blood_weights(presets, awake_overrides)
        awake.append((S.blood(x, w), S.blood(b.hemo.final_state[run], w), np.abs(x - b.hemo.final_state[run]).max()))
        return x

    mp.setattr(steps, "simulate", spy_sim)
    mp.setattr(steps, "_awake_starts", spy_awake)
    try:
        run_procedure_arrays(list(_setups()), seed=7, settings=FAST, loading="anaesthesia")
    finally:
        mp.undo()
    return rounds, awake


def test_every_start_of_the_clip_rounds_holds_the_patients_blood():
    """Alternatives start from the first attempt and from planes through the patient's own states of
    the procedure's loading: affine combinations, so each holds the blood of the patient's current
    state (which every state of the procedure holds: each is warm-started from the last)."""
    rounds, _ = _spied_run()
    assert len(rounds) >= 2  # the first wave and the plane starts
    for held, want in rounds:
        assert np.allclose(held, want, rtol=BLOOD_RTOL, atol=0)


def test_the_awake_outcome_starts_hold_the_awake_baselines_blood():
    _, awake = _spied_run()
    assert awake
    for held, want, moved in awake:
        assert moved > 0.1  # the transfer moved the start (not the awake baseline itself)
        assert np.allclose(held, want, rtol=BLOOD_RTOL, atol=0)


def _states_by_patient(setups, monkeypatch):
    """Every engine state of the clip rounds of a run, by patient in order: (EROA, steady state)."""
    out: dict[int, list[tuple[float, np.ndarray]]] = {}
    sim = steps.simulate

    def spy(ctx, course, rnd, j, init=None):
        h = sim(ctx, course, rnd, j, init)
        for r, p in enumerate(rnd.patient[j].tolist()):
            out.setdefault(p, []).append((float(rnd.eroa_cm2[j[r]]), h.final_state[r]))
        return h

    monkeypatch.setattr(steps, "simulate", spy)
    res = run_procedure_arrays(setups, seed=7, settings=FAST, loading="anaesthesia")
    monkeypatch.undo()
    return out, res


def test_a_patients_states_do_not_depend_on_the_batch(monkeypatch):
    """Each start is built from the patient's own states only: patients run with fewer batch mates
    (the first one alone, the first three) get the same states, every alternative included, as in
    the whole batch (to rounding; a patient's draws depend on the seed and its index only)."""
    setups = list(_setups())
    together, res = _states_by_patient(setups, monkeypatch)
    assert sum(len(v) for v in together.values()) > 2 * len(setups)  # alternatives were simulated
    for k in (1, 3):
        part, pres = _states_by_patient(setups[:k], monkeypatch)
        for p in range(k):
            assert [e for e, _ in part[p]] == [e for e, _ in together[p]]
            assert np.allclose(np.array([x for _, x in part[p]]), np.array([x for _, x in together[p]]), rtol=1e-12, atol=1e-12)
        assert np.allclose(pres.final.final_state, res.final.final_state[:k], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("preset", ["primary_mr", "secondary_mr"])
def test_cold_blood_is_the_blood_of_the_engines_cold_start(preset):
    """:func:`start_states.cold_blood` against the engine itself: cold starts of parameter sets that
    differ in stressed volume, unstressed volumes and compliances conserve ``w·x`` of their start,
    so their steady states hold ``B_cold``."""
    over = [
        {},
        {"stressed_volume_shift_ml": 250.0, "lv_v0_ml": 40.0, "sys_ven_c_ml_mmhg": 45.0},
        {"stressed_volume_shift_ml": -300.0, "la_v0_ml": 12.0, "pul_ven_c_ml_mmhg": 9.0, "sys_ar_c_ml_mmhg": 1.1},
    ]
    res = simulate(preset, over, settings=FAST)
    held = S.blood(res.final_state, S.blood_weights([preset] * 3, over))
    want = S.cold_blood([preset] * 3, over)
    assert np.allclose(held, want, rtol=BLOOD_RTOL, atol=0)
    assert np.ptp(want) > 100.0  # the sets differ in blood
    # columns (name → array) as dicts: an override column for all three rows
    cols = {"stressed_volume_shift_ml": np.array([0.0, 250.0, -300.0]), "lv_v0_ml": np.array([30.0, 40.0, 50.0])}
    dicts = [{k: float(v[i]) for k, v in cols.items()} for i in range(3)]
    assert np.array_equal(S.cold_blood([preset] * 3, cols), S.cold_blood([preset] * 3, dicts))
    # the loading states' overrides hold the awake blood of a cold start (loading.py, Blood)
    states = ("awake", "anaesthesia", "anaesthesia_restored_afterload")
    lo, _ = loading_arrays([preset] * 3, [over[1]] * 3, np.full(3, 70.0), list(states))
    assert np.allclose(S.cold_blood([preset] * 3, lo), want[1], rtol=1e-12, atol=0)
