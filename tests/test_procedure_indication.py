"""Indication: the procedure and the planner refuse a baseline below MR 3+ unless the research flag
is given, and then say so in every output (text, JSON, HTML report, API)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _procedure_shared import EXAMPLES, NAMES, case, plan, procedures
from mitrasim.errors import InputError

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.run([sys.executable, "-m", "mitrasim", *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("cmd", ["procedure", "plan"])
def test_cli_refuses_a_2plus_baseline_in_one_line(cmd):
    p = _cli(cmd, str(EXAMPLES / "small_valve.yaml"))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: indication:") and "2+" in lines[0]
    assert "--research-below-indication" in lines[0] and not p.stdout


def test_api_refuses_and_research_flag_is_stated():
    """Every shipped example below 3+ at baseline (decided by its own research run) is refused without
    the flag and carries the note with it; those at 3+/4+ carry no note."""
    from mitrasim.procedure import plan_case, run_procedure

    res, _ = procedures()
    below = [n for n in NAMES if res[n].baseline.decision_grade < 3]
    assert "small_valve" in below  # a 2+ example exists (examples/README)
    for name in NAMES:
        r = res[name]
        if name in below:
            assert "RESEARCH RUN" in r.indication_note and f"{r.baseline.decision_grade}+" in r.indication_note
            assert r.to_dict()["indication_note"] == r.indication_note
            assert "RESEARCH RUN" in plan(name).to_dict()["indication_note"]
            with pytest.raises(InputError) as e:
                run_procedure(case(name), seed=None)
            assert e.value.field == "indication"
            with pytest.raises(InputError):
                plan_case(case(name))
        else:
            assert r.indication_note is None  # 3+/4+ (or indeterminate, most likely ≥ 3+): indicated


def test_research_flag_in_text_json_and_report(tmp_path):
    out = tmp_path / "r.html"
    p = _cli("procedure", str(EXAMPLES / "small_valve.yaml"), "--research-below-indication", "--report", str(out))
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("RESEARCH RUN")
    assert "RESEARCH RUN" in out.read_text(encoding="utf-8")
    p = _cli("plan", str(EXAMPLES / "small_valve.yaml"), "--research-below-indication", "--json")
    assert p.returncode == 0 and "RESEARCH RUN" in json.loads(p.stdout)["indication_note"]
