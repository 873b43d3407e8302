"""Issue 12 item 1: every command that offers a "normal heart" by default uses the physiological
normal set; the paper's own set stays available by name and is labelled as not a normal heart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mitrasim.calibrate import presets as cal
from mitrasim.physiology.parameter_sets import PARAMETER_SETS
from mitrasim.physiology.preset_names import DEFAULT_PRESET, PRESET_LABELS

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mitrasim", *args], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "COLUMNS": "200"})  # fmt: skip


def test_every_preset_is_labelled_and_the_papers_set_is_not_called_normal():
    assert set(PRESET_LABELS) == set(PARAMETER_SETS) and DEFAULT_PRESET in PARAMETER_SETS
    assert "not a normal heart" in PRESET_LABELS["regazzoni2022"]
    assert "not a normal heart" in PARAMETER_SETS["regazzoni2022"].description
    assert not PARAMETER_SETS["regazzoni2022"].description.lower().startswith("normal")


def test_simulate_defaults_to_the_normal_heart():
    r = _cli("simulate", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["preset"] == DEFAULT_PRESET
    # the normal heart's mean PA pressure is the healthy anchor (Kovacs 2009), not the paper's pulmonary hypertension
    assert d["metrics"]["pa_mean_mmhg"] == pytest.approx(cal.NORMAL_MPAP_MMHG, abs=0.5)
    r = _cli("simulate", "--preset", "regazzoni2022", "--json")  # the paper's set by name
    assert r.returncode == 0 and json.loads(r.stdout)["metrics"]["pa_mean_mmhg"] > 25


def test_simulate_help_labels_the_papers_set():
    r = _cli("simulate", "--help")
    text = " ".join(r.stdout.split())
    assert r.returncode == 0 and "not a normal heart" in text and f"default: {DEFAULT_PRESET}" in text


def test_web_defaults_and_listing(tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from mitrasim.web.app import create_app
    from mitrasim.web.schemas import SimulateRequest, SweepRequest
    from mitrasim.web.settings import WebSettings

    assert SimulateRequest().preset == DEFAULT_PRESET and SweepRequest().preset == DEFAULT_PRESET
    settings = WebSettings(db_url=f"sqlite:///{tmp_path / 'web.sqlite3'}", workers=1, task_timeout_s=60)
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as c:
        meta = c.get("/api/meta").json()
    assert meta["default_preset"] == DEFAULT_PRESET and "not a normal heart" in meta["preset_labels"]["regazzoni2022"]


def test_the_library_function_defaults_to_the_normal_heart_too():
    """``mitrasim.simulate()`` without a preset is the CLI's and the web's normal heart, not the paper's set."""
    import mitrasim

    r = mitrasim.simulate()
    assert r.preset == DEFAULT_PRESET
    assert float(r.metrics["pa_mean_mmhg"][0]) == pytest.approx(cal.NORMAL_MPAP_MMHG, abs=0.5)
