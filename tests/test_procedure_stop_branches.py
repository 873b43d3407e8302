"""Stop branches of the procedure not reached by the shipped examples: clip embolization; a baseline
with no steady state."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import pytest

from mitrasim.procedure import run_procedures
from mitrasim.procedure.risks import DEFAULT_RATES

CASE = Path(__file__).resolve().parents[1] / "examples" / "p2_flail.yaml"


def test_an_embolized_clip_ends_the_procedure_and_leaves_no_clip():
    """Only embolization possible (every other rate 0, embolization at the largest rate allowed): a
    patient whose first clip embolizes stops with that reason, keeps no clip and the event, and MVARC
    counts no technical success (MVARC 2015: the first intended device correctly positioned); the
    others go on to their ordinary end.  Same seed, same patients: reproducible."""
    rates = replace(DEFAULT_RATES, **{f.name: 0.0 for f in fields(DEFAULT_RATES)})
    rates = replace(rates, embolization_per_patient=0.5)
    res = run_procedures([CASE] * 20, seed=3, rates=rates).results
    emb = [r for r in res if r.complications["embolization"]]
    assert emb and len(emb) < len(res)
    for r in emb:
        assert r.stop_reason == "clip embolization" and r.n_clips == 0 and not r.aborted
        assert r.mvarc.technical.success is False
    for r in res:
        if not r.complications["embolization"]:
            assert r.stop_reason != "clip embolization" and r.n_clips >= 1
    again = run_procedures([CASE] * 20, seed=3, rates=rates).results
    assert [r.stop_reason for r in again] == [r.stop_reason for r in res]


def test_a_baseline_without_steady_state_is_one_clear_error_not_a_grade(tmp_path):
    """A circulation that does not settle (a pulmonary venous compliance 1,000x too small) has no MR
    grade: the procedure says so in one line naming the baseline, with or without the research flag,
    instead of reading the diverged beat as "baseline MR 0" or failing in the echo grading."""
    import yaml

    from mitrasim.case import parse_case
    from mitrasim.errors import InputError

    data = yaml.safe_load(CASE.read_text())
    data.pop("measurements", None)
    data["patient"]["overrides"] = {"pul_ven_c_ml_mmhg": 0.001}
    case = parse_case(data)
    for flag in (False, True):
        with pytest.raises(InputError) as e:
            run_procedures([case], seed=None, research_below_indication=flag)
        assert e.value.field == "baseline" and "steady state" in str(e.value)
