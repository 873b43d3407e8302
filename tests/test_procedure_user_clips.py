"""User-placed clips (the case's ``procedure: clips:``): the procedure places exactly those devices at
those positions, never more, and judges each by the same release rules as its own clips."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mitrasim.case import clip_position_mm, parse_case
from mitrasim.devices import DEFAULT_CATALOGUE
from mitrasim.procedure import run_procedure
from mitrasim.valve import apply_clips, valve_from_spec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _case(name: str, clips: list[dict]):
    d = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    d.setdefault("procedure", {}).update(clips=clips, target_residual_grade="0")
    return parse_case(d)


def test_planned_clips_are_placed_as_given_and_the_valve_is_the_clip_models():
    """Complications off (no placement error): the clips are the planned devices at the planned
    positions; the final valve is the clip model's for those clips (same function, so equal to
    rounding); target 0 is not reached, yet no third clip is added: the plan is the limit."""
    case = _case("p2_flail", [{"device": "NT", "position_mm": 16.0}, {"device": "NTW", "position_mm": 22.0}])
    r = run_procedure(case, seed=None)
    assert [(c.device, c.position_mm) for c in r.clips] == [("NT", 16.0), ("NTW", 22.0)]
    assert r.final.decision_grade > 0 and r.stop_reason.endswith("2 clips: the limit")
    dev = [DEFAULT_CATALOGUE[c.device] for c in r.clips]
    a = apply_clips(valve_from_spec(case.valve), [16.0, 22.0], [d.width_mm for d in dev], [d.arm_length_mm for d in dev])
    assert r.final.eroa_cm2 == pytest.approx(a.eroa_cm2, rel=1e-12)
    assert r.final.mva_cm2 == pytest.approx(a.mva_cm2, rel=1e-12)


def test_a_planned_clip_by_segment_sits_at_its_centre_and_a_rule_breaking_one_is_not_released():
    """In the small valve a second wide clip leaves the MVA below the release limit: it is not
    released (the planned list does not override the rules), and nothing after it is tried."""
    case = _case("small_valve", [{"device": "NTW", "segment": "2"}, {"device": "NTW", "position_mm": 10.0}, {"device": "NTW", "position_mm": 22.0}])
    edges = valve_from_spec(case.valve).segment_edges_mm
    assert clip_position_mm(case, case.procedure.clips[0]) == pytest.approx(0.5 * (edges[1] + edges[2]))
    r = run_procedure(case, seed=None, research_below_indication=True)
    assert [c.device for c in r.clips] == ["NTW"]
    assert r.clips[0].position_mm == pytest.approx(clip_position_mm(case, case.procedure.clips[0]), abs=valve_from_spec(case.valve).ds_mm)
    assert r.stop_reason.startswith("clip 2 not released: MVA") and r.final.mva_cm2 >= case.procedure.min_mva_cm2
