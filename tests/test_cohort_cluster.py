"""Trials on a Dask cluster (issue 19, goal 5): adaptive chunks per task, results independent of the
grouping and the number of workers, a worker killed mid-run, the throughput projection."""

from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path

import pyarrow as pa
import pytest

from mitrasim.cohort import scaling
from mitrasim.cohort.scaling import MAX_TASK_S, OVERHEAD_SHARE, TASKS_PER_WORKER, chunks_per_task, throughput
from mitrasim.cohort.trial import parse_trial, read_results, run_trial

TRIAL = {
    "name": "cluster",
    "population": "tvt_mixed",
    "n_patients": 90,
    "seed": 7,
    "chunk_size": 10,
    "arms": [
        {"name": "le1", "strategy": {"stop_rule": "mr_le_1plus", "max_clips": 3}},
        {"name": "le2", "strategy": {"stop_rule": "mr_le_2plus", "max_clips": 1}},
    ],
}


def _content(out: Path) -> pa.Table:
    t, _ = read_results(out)
    return t.drop_columns([c for c in t.column_names if c == "log"]).sort_by([("chunk", "ascending"), ("arm", "ascending"), ("patient_id", "ascending")])


def _manifest_consistent(out: Path, n_chunks: int) -> None:
    """Every chunk exactly once in the journal, its file there with the recorded size and SHA-256."""
    lines = [json.loads(x) for x in (out / "journal.jsonl").read_text().splitlines()]
    assert sorted(x["chunk"] for x in lines if "chunk" in x) == list(range(n_chunks))
    man = read_results(out)[1]
    files = sorted(p.name for p in (out / "chunks").iterdir())
    assert files == [f"chunk-{i:06d}.parquet" for i in range(n_chunks)]  # no temporary or duplicate file
    for entry in man["chunks"].values():
        f = out / entry["file"]
        assert f.stat().st_size == entry["bytes"]
        assert hashlib.sha256(f.read_bytes()).hexdigest() == entry["sha256"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    trial = parse_trial(TRIAL)
    out = tmp_path_factory.mktemp("ref") / "out"
    run_trial(trial, out, progress=False)
    return trial, _content(out), out


# --- adaptive chunks per task: each limit of the rule binds in turn ------------------------------


def test_chunks_per_task_overhead_limit():
    # o / (share · c) = 0.05 / (0.02 · 0.1) = 25 chunks; plenty to balance and far below the loss cap
    assert chunks_per_task(0.1, 0.05, workers=4, remaining=10_000) == round(0.05 / (OVERHEAD_SHARE * 0.1))


def test_chunks_per_task_balance_limit():
    # 40 chunks left on 4 workers: at most 40 / (4 · 4) = 2 chunks per task
    assert chunks_per_task(0.1, 0.05, workers=4, remaining=40) == 40 // (TASKS_PER_WORKER * 4)


def test_chunks_per_task_loss_limit():
    # a 2 s scheduler round trip on 2 s chunks would want 2 / (0.02 · 2) = 50 chunks; a task is capped at MAX_TASK_S of work
    assert chunks_per_task(2.0, 2.0, workers=1, remaining=10_000) == int(MAX_TASK_S // 2.0)


def test_chunks_per_task_never_below_one():
    assert chunks_per_task(5.0, 0.001, workers=64, remaining=3) == 1
    assert chunks_per_task(0.0, 0.01, workers=1, remaining=100) == 1


def test_projection_from_recorded_costs():
    """T(N) = P·s_core/N + n_tasks·(o + w) + u, worked by hand on a made-up manifest."""
    chunks = {str(i): {"file": f"chunks/chunk-{i:06d}.parquet", "rows": 200, "compute_s": c, "threads": 1} for i, c in enumerate([10.0, 10.0, 10.0, 16.0])}
    man = {"n_patients": 1000, "chunk_size": 100, "arms": ["a", "b"], "chunks": chunks,
           "runs": [{"task_overhead_s": 0.02, "client_s_per_chunk": 0.03}]}  # fmt: skip
    tp = throughput(man)
    assert tp is not None
    assert tp.patients == 400
    assert tp.patients_per_s_per_core == pytest.approx(100 / 10.0)  # median chunk: 100 patients in 10 s on one core
    assert tp.warmup_s == pytest.approx(6.0)
    proj = {(p["patients"], p["cores"]): p["wall_s"] for p in tp.projections}
    assert proj[(1000, 16)] == pytest.approx(1000 * 0.1 / 16 + 10 * 0.05 + 6.0)
    assert proj[(scaling.PROJECTION_PATIENTS, 256)] == pytest.approx(1e6 * 0.1 / 256 + 1e4 * 0.05 + 6.0)
    assert {c for _, c in proj} == set(scaling.PROJECTION_CORES)
    # any size, cores and chunk size (benchmarks/cluster.py checks a run against an earlier run's projection)
    assert scaling.projected_wall_s(tp, 5000, 32, 500) == pytest.approx(5000 * 0.1 / 32 + 10 * 0.05 + 6.0)
    assert scaling.projected_wall_s(tp, 1000, 16) == pytest.approx(proj[(1000, 16)])


def test_projection_without_recorded_costs_is_none():
    assert throughput({"chunks": {"0": {"file": "chunks/chunk-000000.parquet"}}}) is None


def test_report_states_throughput_per_core_and_projection(reference):
    from mitrasim.cohort.report import write_report

    _, _, out = reference
    page = write_report(out)["html"].read_text()
    tp = throughput(read_results(out)[1])
    assert tp is not None and tp.task_overhead_s is None  # an in-process run: no scheduler measured, and it says so
    assert f"{tp.patients_per_s_per_core:.2f} patients per second per core" in page
    assert "scheduler's round trip is not measured" in page
    for p in tp.projections:
        assert f"<td>{p['patients']:,}</td><td>{p['cores']}</td><td>{p['wall_s']:,.0f} s" in page


# --- on a local cluster of worker processes ---------------------------------------------------------


@pytest.mark.slow
def test_same_rows_for_any_grouping_of_chunks_into_tasks(reference, tmp_path):
    pytest.importorskip("dask.distributed")
    trial, t, _ = reference
    res = run_trial(trial, tmp_path / "out", dask_local=2, chunks_per_task=4, progress=False)
    assert res["run"]["chunks_per_task"] == {"1": 1, "4": 2}  # 9 chunks: 4 + 4 + 1
    assert _content(tmp_path / "out").equals(t)
    _manifest_consistent(tmp_path / "out", trial.n_chunks)


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(reference, tmp_path):
    """Three worker processes; when the first chunk is written, one worker that is computing a task
    is killed (SIGKILL).  Dask reruns its task elsewhere; the rows equal the in-process run, every
    chunk is in the manifest once with its file's size and hash."""
    pytest.importorskip("dask.distributed")
    from distributed import default_client

    trial, t, _ = reference
    killed: list[tuple[str, list]] = []

    def kill_a_busy_worker(index: int) -> None:
        if killed:
            return
        client = default_client()
        busy = {w: list(keys) for w, keys in client.processing().items() if keys}
        if not busy:
            return
        worker, keys = next(iter(busy.items()))
        pid = client.run(os.getpid, workers=[worker])[worker]
        os.kill(pid, signal.SIGKILL)
        killed.append((worker, keys))

    res = run_trial(trial, tmp_path / "out", dask_local=3, chunks_per_task=1, progress=False, on_chunk=kill_a_busy_worker)
    assert killed, "no worker was busy to kill"
    assert res["chunks_run"] == trial.n_chunks
    assert _content(tmp_path / "out").equals(t)
    _manifest_consistent(tmp_path / "out", trial.n_chunks)
    tp = throughput(read_results(tmp_path / "out")[1])
    assert tp is not None and tp.task_overhead_s is not None and tp.n_chunks == trial.n_chunks


def test_worker_threads_are_counted_at_most_once_per_refresh_interval():
    """The client asks the scheduler for its workers (a synchronous round trip) at most once per
    WORKERS_REFRESH_S, not after every finished task; a worker that joins is seen at the next count."""
    from mitrasim.cohort.scaling import WORKERS_REFRESH_S
    from mitrasim.cohort.trial import _ThreadCount

    class FakeClient:
        def __init__(self):
            self.asked, self.workers = 0, {"a": {"nthreads": 1}}

        def scheduler_info(self):
            self.asked += 1
            return {"workers": dict(self.workers)}

    now = [0.0]
    client = FakeClient()
    count = _ThreadCount(client, WORKERS_REFRESH_S, clock=lambda: now[0])
    assert [count() for _ in range(50)] == [1] * 50 and client.asked == 1
    client.workers["b"] = {"nthreads": 2}
    now[0] = WORKERS_REFRESH_S * 0.99
    assert count() == 1 and client.asked == 1
    now[0] = WORKERS_REFRESH_S
    assert count() == 3 and client.asked == 2


def _worker_diagnostics(dask_worker) -> tuple[bool, float]:
    return "profile" in dask_worker.periodic_callbacks, dask_worker.periodic_callbacks["tick"].callback_time


def _scheduler_tick_ms(dask_scheduler) -> float:
    return dask_scheduler.periodic_callbacks["tick"].callback_time


def test_a_local_cluster_runs_without_the_frequent_diagnostics(tmp_path):
    """The cluster a trial starts (``dask_local``) has no statistical profiler on its workers and
    ticks every second (DASK_QUIET_CONFIG), workers and scheduler alike; the client's own Dask
    settings are left as they were."""
    pytest.importorskip("dask.distributed")
    import dask
    from distributed import default_client

    seen: list = []

    def look(index: int) -> None:
        if not seen:
            client = default_client()
            seen.append((client.run(_worker_diagnostics), client.run_on_scheduler(_scheduler_tick_ms)))

    run_trial(parse_trial({**TRIAL, "n_patients": 20}), tmp_path / "out", dask_local=2, progress=False, on_chunk=look)
    workers, scheduler_tick = seen[0]
    assert len(workers) == 2 and all(tuple(v) == (False, 1000.0) for v in workers.values())
    assert scheduler_tick == 1000.0
    assert dask.config.get("distributed.worker.profile.enabled") is True and dask.config.get("distributed.admin.tick.interval") == "20ms"
