"""`circulation` peer harness (benchmarks/peers.py): runs and gives sane metrics.

Skipped when the ``circulation`` package (benchmark extra) is not installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PEERS_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "peers.py"


def test_run_circulation_two_beats():
    pytest.importorskip(
        "circulation",
        reason="circulation not importable (pip install -r benchmarks/requirements.txt)",
        exc_type=ImportError,
    )
    spec = importlib.util.spec_from_file_location("mitrasim_bench_peers", _PEERS_PATH)
    peers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peers)
    r = peers.run_circulation(n_beats=2)
    assert r["hr_bpm"] == pytest.approx(75.0)
    assert r["n_beats"] == 2 and r["us_per_beat"] > 0
    assert 80.0 <= r["edv_ml"] <= 180.0
    assert r["esv_ml"] < r["edv_ml"]
    assert r["dbp_mmhg"] < r["map_mmhg"] < r["sbp_mmhg"]
    assert 2.0 <= r["co_l_min"] <= 9.0
