"""Stop branches of the procedure not reached by the shipped examples: clip embolization."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

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
