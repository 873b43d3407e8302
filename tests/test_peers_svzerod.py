"""svZeroDSolver peer harness (benchmarks/peers.py): the like-for-like target is sane.

Skipped when the ``svzerod`` package (benchmark extra, benchmarks/requirements.txt)
is not installed or SimVascular's closed_loop_two_hill.json is not found beside
the checkout (../shared/peers/svzerod/) or under $MITRASIM_SHARED.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PEERS_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "peers.py"


def _load_peers():
    spec = importlib.util.spec_from_file_location("mitrasim_bench_peers", _PEERS_PATH)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


peers = _load_peers()


def test_missing_config_gives_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv(peers.SHARED_ENV, raising=False)
    monkeypatch.setattr(peers, "_REPO_ROOT", tmp_path / "repo")
    with pytest.raises(FileNotFoundError, match="MITRASIM_SHARED"):
        peers.load_two_hill_config()


def _config_or_skip() -> dict:
    pytest.importorskip(
        "svzerod",
        reason="svzerod not importable (pip install -r benchmarks/requirements.txt)",
        exc_type=ImportError,
    )
    if peers.two_hill_config_path() is None:
        pytest.skip(
            "closed_loop_two_hill.json not found: set MITRASIM_SHARED or put the shared "
            "folder beside the checkout as ../shared"
        )
    return peers.load_two_hill_config()


@pytest.fixture(scope="module")
def reference() -> dict:
    return peers.svzerod_converged_reference(_config_or_skip())


def test_reference_is_physiological(reference):
    r = reference
    assert 100.0 <= r["edv_ml"] <= 130.0
    assert 30.0 <= r["esv_ml"] <= 55.0
    assert 55.0 <= r["ef_pct"] <= 70.0
    assert 90.0 <= r["sbp_mmhg"] <= 120.0
    assert 45.0 <= r["dbp_mmhg"] <= 65.0
    assert r["dbp_mmhg"] < r["map_mmhg"] < r["sbp_mmhg"]
    assert 6.0 <= r["la_mean_mmhg"] <= 12.0
    assert 4.5 <= r["co_l_min"] <= 7.5
    assert r["hr_bpm"] == pytest.approx(87.0, abs=0.1)


def test_reference_matches_published_steady_beat(reference):
    # The peers README: LVEDV 114, LVESV 41, aortic 104/54, mean LA 9.2, CO 6.3 L/min.
    expected = {"edv_ml": 114, "esv_ml": 41, "sbp_mmhg": 104, "dbp_mmhg": 54,
                "la_mean_mmhg": 9.2, "co_l_min": 6.3}
    for key, value in expected.items():
        assert reference[key] == pytest.approx(value, rel=0.02), key


def test_reference_is_converged(reference):
    assert reference["last_rel_change"] < 5e-4
    assert reference["beats"] <= 100
    # time-step error: 689 vs 2000 points per cycle
    assert reference["step_rel_diff"] < 1e-3
    # The file's closed valves leak (Rmax = 50 mmHg s/mL): net forward volume per
    # beat is SV less the back-flow through the mitral and aortic valves.
    r = reference
    assert 0.2 < r["mv_backflow_ml"] < 1.0 and 0.2 < r["av_backflow_ml"] < 1.0
    net_ml = r["co_l_min"] * 1000.0 / r["hr_bpm"]
    leak_ml = r["mv_backflow_ml"] + r["av_backflow_ml"]
    assert net_ml == pytest.approx(r["sv_ml"] - leak_ml, rel=2e-3)


def test_run_svzerod_reports_timing_and_does_not_modify_config():
    cfg = _config_or_skip()
    before = repr(cfg)
    r = peers.run_svzerod(cfg, n_beats=3, steps_per_beat=100)
    assert repr(cfg) == before
    assert r["n_beats"] == 3 and r["steps_per_beat"] == 100
    assert r["wall_s"] > 0 and r["us_per_beat"] == pytest.approx(1e6 * r["wall_s"] / 3)
    assert set(peers.SVZEROD_NAMES.values()) <= set(r["final_state"])
    assert 100.0 <= r["edv_ml"] <= 130.0


def test_solver_api_gives_the_same_beat():
    cfg = _config_or_skip()
    a = peers.run_svzerod(cfg, n_beats=3, steps_per_beat=100)
    b = peers.run_svzerod(cfg, n_beats=3, steps_per_beat=100, api="solver")
    assert peers.max_rel_diff(a, b) < 1e-12
    with pytest.raises(ValueError, match="api"):
        peers.run_svzerod(cfg, n_beats=1, steps_per_beat=100, api="nope")
