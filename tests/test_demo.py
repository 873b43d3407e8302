"""``mitrasim demo`` runs every stage of the pipeline and says so, stage by stage (no silent fallback)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import mitrasim
from mitrasim.demo import STAGES

# the stage's line: "n. Name:" and at least one number after it (a stage that printed nothing computed nothing)
STAGE_LINE = r"^{n}\. {name}: .*\d"


@pytest.fixture(scope="module")
def demo_run() -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="250", PYTHONPATH=str(Path(mitrasim.__file__).parents[1]))
    return subprocess.run([sys.executable, "-m", "mitrasim", "demo"], capture_output=True, text=True, env=env, timeout=900)


def test_demo_exits_zero_without_errors(demo_run):
    assert demo_run.returncode == 0, demo_run.stderr[-3000:]
    assert "Traceback" not in demo_run.stderr


@pytest.mark.parametrize("n,name", list(enumerate(STAGES, start=1)))
def test_demo_prints_every_stage(demo_run, n, name):
    assert re.search(STAGE_LINE.format(n=n, name=re.escape(name)), demo_run.stdout, re.M), demo_run.stdout[-4000:]


def test_demo_stages_in_order_and_disclaimer(demo_run):
    where = [demo_run.stdout.index(f"{n}. {name}:") for n, name in enumerate(STAGES, start=1)]
    assert where == sorted(where)
    assert "not a medical device" in demo_run.stdout


def test_demo_care_plan_line_carries_no_model_prediction(demo_run):
    line = next(x for x in demo_run.stdout.splitlines() if x.startswith("7. Care plan:"))
    for model_number in ("MR", "EROA", "cm²", "mmHg", "mL"):
        assert model_number not in line


def test_demo_does_not_swallow_a_failed_stage(monkeypatch):
    """A stage that fails stops the demo with its error (nothing catches it, not even ImportError)."""
    import io

    from rich.console import Console

    import mitrasim.procedure.planner as planner

    def broken(*a, **k):
        raise ImportError("planner broken on purpose")

    monkeypatch.setattr(planner, "plan_case", broken)
    from mitrasim.demo import run_demo

    with pytest.raises(ImportError, match="on purpose"):
        run_demo(Console(file=io.StringIO()))
