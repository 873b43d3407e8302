"""A trial's chunks on two Python threads of one process (the in-process default): the same chunk
files, byte for byte, as one chunk at a time with the engine on every core; interrupted, it keeps
what it wrote and resumes to the same files."""

from __future__ import annotations

import json
import os
import threading

import pytest

from mitrasim.cohort import trial as T
from mitrasim.cohort.trial import JOURNAL, TrialInterrupted, parse_trial, run_trial

N, CHUNK = 80, 20  # four chunks


def _trial():
    return parse_trial({
        "name": "threads", "population": "tvt_mixed", "n_patients": N, "seed": 5, "chunk_size": CHUNK,
        "arms": [{"name": "le1", "strategy": {"stop_rule": "mr_le_1plus", "max_clips": 3}},
                 {"name": "le2", "strategy": {"stop_rule": "mr_le_2plus", "max_clips": 1}}],
    })  # fmt: skip


def _files(out) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "chunks").glob("chunk-*.parquet"))}


def _journal(out) -> list[dict]:
    return [json.loads(line) for line in (out / JOURNAL).read_text().splitlines()]


@pytest.fixture(scope="module")
def one_at_a_time(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "out"
    r = run_trial(_trial(), out, workers=1, chunk_threads=1, progress=False)
    assert "chunk_threads" not in r["run"] and r["chunks_run"] == 4
    return _files(out)


def _overlapping(monkeypatch) -> list[int]:
    """compute_task made to hold its first two calls until both have started (so two chunks are
    computed at once, whatever the machine's scheduling); returns the list of engine threads each call was given."""
    barrier = threading.Barrier(2, timeout=120)
    given: list[int] = []
    inner = T.compute_task

    def held(tj, indices, threads=0):
        given.append(threads)
        if len(given) <= 2:
            barrier.wait()
        return inner(tj, indices, threads)

    monkeypatch.setattr(T, "compute_task", held)
    return given


def test_chunks_on_two_threads_write_the_same_files_as_one_at_a_time(one_at_a_time, tmp_path, monkeypatch):
    given = _overlapping(monkeypatch)
    out = tmp_path / "out"
    r = run_trial(_trial(), out, workers=1, chunk_threads=2, progress=False)
    assert r["run"]["chunk_threads"] == 2
    assert given == [1, 1, 1, 0]  # one engine thread each; the last chunk on every core
    assert _files(out) == one_at_a_time
    chunks = [e for e in _journal(out) if "chunk" in e]
    assert sorted(e["chunk"] for e in chunks) == [0, 1, 2, 3]
    assert [e["threads"] for e in sorted(chunks, key=lambda e: e["chunk"])][:3] == [1, 1, 1]


def test_the_default_in_process_run_uses_one_chunk_thread_per_engine_thread(one_at_a_time, tmp_path, monkeypatch):
    monkeypatch.setenv("MITRASIM_THREADS", "2")
    given = _overlapping(monkeypatch)
    r = run_trial(_trial(), tmp_path / "out", progress=False)
    assert r["run"]["chunk_threads"] == 2 and r["run"]["workers"] == 1 and len(given) == 4
    assert _files(tmp_path / "out") == one_at_a_time


def test_an_interrupted_threaded_run_keeps_its_chunks_and_resumes_to_the_same_files(one_at_a_time, tmp_path):
    out = tmp_path / "out"

    def stop_after_first(index: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(TrialInterrupted) as e:
        run_trial(_trial(), out, workers=1, chunk_threads=2, progress=False, on_chunk=stop_after_first)
    assert (e.value.kept, e.value.total) == (1, 4)
    assert len(_files(out)) == 1 and not list((out / "chunks").glob("*.tmp*"))
    kept = next(iter(_files(out)))
    mtime = (out / "chunks" / kept).stat().st_mtime_ns
    res = run_trial(_trial(), out, resume=True, workers=1, chunk_threads=2, progress=False)
    assert res["chunks_skipped"] == 1 and res["chunks_run"] == 3
    assert (out / "chunks" / kept).stat().st_mtime_ns == mtime  # not recomputed
    assert _files(out) == one_at_a_time


def test_a_failing_chunk_on_a_thread_stops_the_run_and_keeps_the_others(tmp_path, monkeypatch):
    """A chunk that raises on its thread: the error reaches the caller, no chunk is started after
    it, and the chunks written before it stay journalled for a resume."""
    inner = T.compute_task

    def failing(tj, indices, threads=0):
        if indices == [1]:
            raise RuntimeError("chunk 1 failed")
        return inner(tj, indices, threads)

    monkeypatch.setattr(T, "compute_task", failing)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="chunk 1 failed"):
        run_trial(_trial(), out, workers=1, chunk_threads=2, progress=False)
    written = {e["chunk"] for e in _journal(out) if "chunk" in e}
    assert 1 not in written and written <= {0} and len(_files(out)) == len(written)


def test_chunk_threads_follow_the_engine_threads(monkeypatch):
    """One chunk thread per engine thread of the process (``engine.default_threads``: MITRASIM_THREADS,
    else every core): a process limited to one engine thread (the web's workers, one core per
    request) runs one chunk at a time; numba's own thread count plays no part (no numba thread pool runs)."""
    import numba

    from mitrasim.physiology import engine

    monkeypatch.setenv("MITRASIM_THREADS", "2")
    assert T._default_chunk_threads() == 2
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 1)
    assert T._default_chunk_threads() == 2
    monkeypatch.setenv("MITRASIM_THREADS", "1")
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 2)
    assert T._default_chunk_threads() == 1
    monkeypatch.delenv("MITRASIM_THREADS")
    assert T._default_chunk_threads() == engine.default_threads() == (os.cpu_count() or 1)
