"""The protocol: one schema, each strategy option and each stop branch, limits compared exactly and
printed with enough digits, a released clip never worsens the grade, bad input names the field."""

from __future__ import annotations

import re

from dataclasses import replace

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from _procedure_shared import EXAMPLES, NAMES, case
from mitrasim.errors import InputError
from mitrasim.procedure import ComplicationRates, Rules, setup_from_case, steps
from mitrasim.procedure.codes import Outcome, Refusal
from mitrasim.protocol import Protocol, check_protocol, compare_text, number_text
from mitrasim.procedure.risks import N_DRAWS
from test_procedure_steps import _course, _ctx, _hemo, _round


@pytest.fixture(scope="module")
def base():
    return setup_from_case(case("p2_flail"))


def _with(s, **kw):
    return replace(s, rules=s.rules.with_(**kw))


# ----------------------------------------------------------------------------- printing at the limit


def test_a_gradient_just_under_the_limit_is_not_printed_as_the_limit():
    assert number_text(4.97, 5.0) == "4.97"
    assert number_text(4.9999, 5.0) == "4.9999"
    assert number_text(2.94, 5.0) == "2.9"
    assert compare_text(4.97, 5.0, "<", "mmHg") == "4.97 mmHg < 5 mmHg"
    assert compare_text(5.0, 5.0, "≥", "mmHg") == "5.0 mmHg ≥ 5 mmHg"
    assert compare_text(1.496, 1.5, "<", "cm²", 2) == "1.496 cm² < 1.5 cm²"


def test_log_prints_a_gradient_under_the_limit_with_its_digits(base):
    from mitrasim.procedure import oplog

    ctx = _ctx([base])
    c = _course(ctx, [0.5], [4], [2], [4])
    r = _round([0], [1], [0], [0.1], [3.0], [4.97], [1], [0])
    r.before = {"eroa_cm2": np.array([0.5]), "decision": np.array([4]), "mean_gradient_mmhg": np.array([2.0]), "la_mean_mmhg": np.array([20.0]), "la_vwave_mmhg": np.array([40.0])}
    r.hemo.metrics["la_mean_mmhg"] = np.array([15.0])
    r.hemo.metrics["la_vwave_mmhg"] = np.array([25.0])
    d = steps.release_events(ctx, r, steps.decide(ctx, c, r))
    assert d.outcome.tolist() == [Outcome.RELEASE]
    placed = steps.placed_clips(ctx, r, d)
    nxt, sd = steps.apply_round(ctx, c, r, d, placed)
    oplog.round_entries(ctx, c, r, d, placed, sd, nxt)
    rel = [s.text for s in c.steps[0] if s.action == "release"]
    assert "2.0→4.97 mmHg (limit < 5)" in rel[0] and "LA mean 20→15 mmHg" in rel[0]


# ----------------------------------------------------------------------------- limits compared exactly


def test_area_exactly_at_the_limit_may_be_released(base):
    ctx = _ctx([base, base])
    c = _course(ctx, [0.5] * 2, [4] * 2, [2] * 2, [4] * 2)
    lim = base.rules.min_mva_cm2
    f = steps.refusals(ctx, c, np.arange(2), _hemo([0.1, 0.1], [lim, np.nextafter(lim, 0)], [2, 2]), np.array([1, 1]), np.zeros(2, int))
    assert f.tolist() == [Refusal.NONE, Refusal.AREA]


def test_gradient_just_under_the_limit_may_be_released(base):
    ctx = _ctx([base, base])
    c = _course(ctx, [0.5] * 2, [4] * 2, [2] * 2, [4] * 2)
    lim = base.rules.max_gradient_mmhg
    f = steps.refusals(ctx, c, np.arange(2), _hemo([0.1, 0.1], [3, 3], [np.nextafter(lim, 0), lim]), np.array([1, 1]), np.zeros(2, int))
    assert f.tolist() == [Refusal.NONE, Refusal.GRADIENT]


# ----------------------------------------------------------------------------- never worse


@settings(max_examples=200, deadline=None)
@given(
    before=st.lists(st.integers(0, 4), min_size=1, max_size=8),
    data=st.data(),
)
def test_no_clip_that_worsens_the_grade_may_be_released(base, before, data):
    n = len(before)
    after = data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    eroa_frac = data.draw(st.lists(st.floats(0.0, 1.2), min_size=n, max_size=n))
    ctx = _ctx([base] * n)
    c = _course(ctx, [0.5] * n, [4] * n, [2] * n, before)
    h = _hemo(0.5 * np.array(eroa_frac), [3] * n, [2] * n)
    f = steps.refusals(ctx, c, np.arange(n), h, np.array(after), np.zeros(n, int))
    ok = f == Refusal.NONE
    assert np.all(np.array(after)[ok] <= np.array(before)[ok])


def test_released_clips_never_worsen_the_grade_in_a_cohort():
    """Every release in 300 sampled TVT-like and COAPT-like patients: the grade after ≤ before."""
    from mitrasim.cohort.adapter import Strategy, patient_setups
    from mitrasim.cohort.population import load_population, sample_population
    from mitrasim.physiology.simulation import SolverSettings
    from mitrasim.procedure.process import run_procedure_arrays

    n_rel = 0
    for name, n in (("tvt_mixed", 200), ("coapt_like", 100)):
        pop = load_population(name)
        pts = sample_population(pop, n, seed=21)
        setups = patient_setups(pts, Strategy(target_residual_grade="0", max_clips=4), SolverSettings(dt_max_s=4e-3, tol=1e-2), dict(pop.presets), pop.lv_volume_method)
        res = run_procedure_arrays(setups, seed=None)
        for i in range(len(setups)):
            grade = int(res.baseline_decision[i])
            for s in res.steps[i]:
                if s.action == "release":
                    # "MR 4+→2+" or, for an indeterminate residual grade, "MR 4+→indeterminate (≈2+)": the decision grade
                    new = int(re.search(r"MR [^,→]*→(?:indeterminate \(≈)?(\d)", s.text).group(1))
                    assert new <= grade, s.text
                    grade = new
                    n_rel += 1
            assert res.final_decision[i] <= res.baseline_decision[i]
    assert n_rel > 300  # target 0: many clips tried


# ----------------------------------------------------------------------------- strategy options and stop branches


def _apply(s, decision, grad, mva, n=1, **rules):
    s = _with(s, **rules)
    ctx = _ctx([s] * n)
    c = _course(ctx, [0.5] * n, [4.0] * n, [2] * n, [4] * n)
    r = _round(list(range(n)), [1] * n, [0] * n, [0.1] * n, mva, grad, decision, [0] * n)
    d = steps.release_events(ctx, r, steps.decide(ctx, c, r))
    nxt, _ = steps.apply_round(ctx, c, r, d, steps.placed_clips(ctx, r, d))
    return c, nxt


@pytest.mark.parametrize("target,dec,stops", [("0", 1, False), ("1+", 1, True), ("1+", 2, False), ("2+", 2, True), ("0", 0, True)])
def test_target_grade(base, target, dec, stops):
    from mitrasim.protocol import grade_of

    c, nxt = _apply(base, [dec], [2.0], [3.0], target_residual_grade=grade_of(target))
    assert nxt[0] == (not stops)
    if stops:
        assert c.stop_reason[0].endswith(f"≤ target {target}")


@pytest.mark.parametrize(
    "grad,mva,accepted",
    [(4.0, 3.0, True), (np.nextafter(4.0, 0), 3.0, False), (4.6, 3.0, True), (2.0, 1.99, True), (2.0, 2.0, False)],
)
def test_accept_2plus_near_a_limit_with_the_band_compared_exactly(base, grad, mva, accepted):
    c, nxt = _apply(base, [2], [grad], [mva], accept_2plus_near_limit=True, gradient_band_mmhg=1.0, area_band_cm2=0.5)
    assert nxt[0] == (not accepted)
    if accepted:
        assert c.stop_reason[0].startswith("residual MR 2+ accepted (target 1+)")


def test_without_the_band_2plus_adds_a_clip(base):
    c, nxt = _apply(base, [2], [4.6], [1.6])
    assert nxt[0]


def test_max_grasp_attempts_limits_moves_and_stops(base):
    s = _with(base, max_grasp_attempts=3)
    ctx = _ctx([s, s])
    c = _course(ctx, [0.5] * 2, [4] * 2, [2] * 2, [4] * 2)
    c.grasps[:] = [1, 2]  # patient 1: one grasp left, no room to move
    r = _round([0, 0, 1, 1], [1, 0, 1, 0], [0] * 4, [0.2] * 4, [3] * 4, [6, 3, 6, 3], [2, 1, 2, 1], [3, 0, 3, 0])
    d = steps.decide(ctx, c, r)
    assert [Outcome(x) for x in d.outcome] == [Outcome.REPOSITION, Outcome.REMOVE]
    c.grasps[:] = [3, 0]
    full = steps.close_full(ctx, c, np.array([0, 1]))
    assert full.tolist() == [True, False] and c.stop_reason[0] == "3 grasp attempts: the limit"


def test_exchange_and_reposition_are_counted_apart(base):
    from mitrasim.devices.catalogue import DEFAULT_CATALOGUE

    ctx = _ctx([base, base])
    c = _course(ctx, [0.5] * 2, [4] * 2, [2] * 2, [4] * 2)
    r = _round([0, 0, 1, 1], [1, 0, 1, 0], [0] * 4, [0.2] * 4, [3] * 4, [6, 3, 6, 3], [2, 1, 2, 1], [3, 0, 3, 0])
    r.device[3] = DEFAULT_CATALOGUE["XT"]  # patient 1's best alternative is another size
    d = steps.release_events(ctx, r, steps.decide(ctx, c, r))
    assert [Outcome(x) for x in d.outcome] == [Outcome.REPOSITION, Outcome.EXCHANGE]
    steps.apply_round(ctx, c, r, d, steps.placed_clips(ctx, r, d))
    assert c.repositions.tolist() == [1, 0] and c.exchanges.tolist() == [0, 1] and c.grasps.tolist() == [2, 2]


def test_no_device_exchange_keeps_the_first_device(base):
    for exchange in (True, False):
        s = _with(base, device_exchange=exchange)
        ctx = _ctx([s])
        c = _course(ctx, [s.valve.eroa_cm2], [s.valve.mva_cm2], [2.0], [4])
        grp = ctx.groups[0]
        loc = np.arange(1)
        g = steps.residual_gap(grp, c, loc)
        cands = steps.target(ctx, grp, c, loc, g, steps.device(ctx, grp, c, loc, g))
        names = {grp.devices[k].name for k in cands.device}
        assert (len(names) > 1) == exchange


def test_device_preference_is_followed():
    s = setup_from_case(case("p2_flail"))
    for pref, family in (("PASCAL", "PASCAL"), ("MitraClip", "MitraClip")):
        ss = _with(s, device_preference=pref)
        ctx = _ctx([ss])
        c = _course(ctx, [ss.valve.eroa_cm2], [ss.valve.mva_cm2], [2.0], [4])
        grp = ctx.groups[0]
        g = steps.residual_gap(grp, c, np.arange(1))
        assert grp.devices[int(steps.device(ctx, grp, c, np.arange(1), g)[0])].family == family


def test_mva_stop_after_slda_and_limit_stop(base):
    s = _with(base, max_clips=2, min_mva_cm2=2.0)
    U = np.ones((2, N_DRAWS))
    U[0, 0] = 0.0  # SLDA: the state stays the one before (MVA 1.9 < 2.0: no room)
    ctx = _ctx([s, s], U, ComplicationRates(slda_per_patient=0.1))
    c = _course(ctx, [0.5] * 2, [1.9, 4.0], [2] * 2, [4] * 2)
    c.n_clips[1] = 1
    r = _round([0, 1], [1, 1], [0, 0], [0.3, 0.3], [3.0, 3.0], [2, 2], [3, 3], [0, 0])
    d = steps.release_events(ctx, r, steps.decide(ctx, c, r))
    d.slot[:] = [0, 1]
    steps.apply_round(ctx, c, r, d, steps.placed_clips(ctx, r, d))
    assert c.stop_reason[0] == "MVA 1.90 < 2 cm²: no room for another clip"
    assert c.stop_reason[1] == "residual MR 3+ but 2 clips: the limit"


def test_strategy_options_change_the_shipped_examples():
    """On the five examples: a 2+ target never uses more clips than 1+, and a 0 target never fewer."""
    from mitrasim.procedure import run_procedures

    cs = [case(n) for n in NAMES]
    n = {t: [r.n_clips for r in run_procedures(cs, seed=None, rules=Rules(target_residual_grade=t), research_below_indication=True).results] for t in (0, 1, 2)}
    assert all(a >= b >= c for a, b, c in zip(n[0], n[1], n[2]))
    assert n[0] != n[2]


# ----------------------------------------------------------------------------- one schema, bad input


def test_one_schema_for_case_trial_and_rules():
    from mitrasim.case import ProcedureRules
    from mitrasim.cohort.adapter import Strategy, strategy_rules
    from mitrasim.procedure.rules import rules_from_protocol

    assert issubclass(ProcedureRules, Protocol) and issubclass(Strategy, Protocol)
    s = Strategy(stop_rule="mr_le_2plus", max_grasp_attempts=5, accept_2plus_near_limit=True)
    r = strategy_rules(s)
    assert r.target_residual_grade == 2 and r.max_grasp_attempts == 5
    assert rules_from_protocol(Protocol(**{k: v for k, v in s.model_dump().items() if k != "stop_rule"})) == r
    with pytest.raises(ValueError, match="means target_residual_grade 2\\+"):
        Strategy(stop_rule="mr_le_2plus", target_residual_grade="1+")


def test_rules_are_the_protocol_with_a_numeric_grade():
    """Rules is derived from the Protocol, not restated: the same fields, each with the protocol's
    default and range, but the target grade, held as its index into GRADES."""
    from mitrasim.protocol import DEFAULT_PROTOCOL, GRADES
    from mitrasim.procedure.rules import DEFAULT_RULES

    assert list(Rules.model_fields) == list(Protocol.model_fields)
    for name, f in Protocol.model_fields.items():
        if name != "target_residual_grade":
            r = Rules.model_fields[name]
            assert (r.default, r.metadata, r.annotation) == (f.default, f.metadata, f.annotation), name
    assert DEFAULT_RULES.protocol() == DEFAULT_PROTOCOL
    assert GRADES[DEFAULT_RULES.target_residual_grade] == DEFAULT_PROTOCOL.target_residual_grade
    assert DEFAULT_RULES.target_grade == DEFAULT_PROTOCOL.target_grade
    # the protocol's own cross-field rule: a release limit above the default abort limit raises it
    assert Rules(max_gradient_mmhg=9.0).abort_gradient_mmhg == Protocol(max_gradient_mmhg=9.0).abort_gradient_mmhg == 9.0
    assert len({Rules(), Rules(), DEFAULT_RULES.with_(max_clips=DEFAULT_PROTOCOL.max_clips)}) == 1  # hashable, equal by value


BAD = [
    ("max_grasp_attempts", 0, "≥ 1"),
    ("gradient_band_mmhg", 7, "≤ 5"),
    ("area_band_cm2", -1, "≥ 0"),
    ("max_gradient_mmhg", 25, "≤ 20"),
    ("abort_gradient_mmhg", 4, ">= max_gradient_mmhg"),
    ("target_residual_grade", "3+", "'0', '1+' or '2+'"),
    ("device_exchange", "sometimes", "valid boolean"),
    ("assess_at_restored_afterload", "maybe", "valid boolean"),
]


@pytest.mark.parametrize("field,value,allowed", BAD, ids=[b[0] for b in BAD])
def test_bad_protocol_names_field_value_and_range(field, value, allowed):
    with pytest.raises(InputError) as e:
        check_protocol({field: value})
    assert e.value.field == f"rules.{field}" and e.value.value == value and allowed in e.value.allowed
    with pytest.raises(InputError) as e:
        Rules(**{field: value}) if field not in ("target_residual_grade", "device_exchange", "assess_at_restored_afterload") else check_protocol({field: value})
    assert e.value.field == f"rules.{field}"


@pytest.mark.parametrize("field,value,allowed", BAD[:3], ids=[b[0] for b in BAD[:3]])
def test_cli_bad_protocol_is_one_line_exit_2(tmp_path, capsys, field, value, allowed):
    from mitrasim.cli import main

    data = yaml.safe_load((EXAMPLES / "p2_flail.yaml").read_text())
    data["procedure"][field] = value
    p = tmp_path / "case.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(SystemExit) as e:
        main(["procedure", str(p)])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"procedure.{field}" in err[0] and repr(value) in err[0] and allowed in err[0]


def test_trial_bad_strategy_names_the_arm_field(tmp_path):
    from mitrasim.cohort.trial import parse_trial

    with pytest.raises(InputError) as e:
        parse_trial({"name": "t", "population": "tvt_mixed", "n_patients": 10, "seed": 1, "arms": [{"name": "a", "strategy": {"max_grasp_attempts": 99}}]})
    assert e.value.field == "arms.0.strategy.max_grasp_attempts" and e.value.value == 99


def test_default_release_limits_are_mvarcs_stenosis_cuts():
    """The default release limits sit exactly on MVARC 2015's "no iatrogenic stenosis" edges: a state a
    default protocol releases is never an MVARC stenosis, and one at either edge is refused by both."""
    from mitrasim.echo.stenosis import stenosis_criteria
    from mitrasim.protocol import Protocol, area_ok, gradient_ok

    p = Protocol()
    for g, a in ((p.max_gradient_mmhg, 3.0), (p.max_gradient_mmhg - 1e-9, 3.0), (2.0, p.min_mva_cm2), (2.0, p.min_mva_cm2 - 1e-9)):
        area_stenosis, gradient_stenosis = stenosis_criteria(a, g)
        released = gradient_ok(g, p.max_gradient_mmhg) and area_ok(a, p.min_mva_cm2)
        assert released == (not (bool(area_stenosis) or bool(gradient_stenosis))), (g, a)
