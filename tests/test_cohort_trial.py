"""Trials: reproducible Parquet content (in-process, process pool, Dask, interrupted + resumed),
counts across arms and chunks, bad input refused without touching the output folder, report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml

from mitrasim.cohort.trial import load_trial, read_results, run_trial
from mitrasim.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def _write_trial(tmp_path: Path, n: int = 60, chunk: int = 20, **over) -> Path:
    d = {
        "name": "tiny",
        "population": "tvt_mixed",
        "n_patients": n,
        "seed": 42,
        "chunk_size": chunk,
        "arms": [
            {"name": "le1", "strategy": {"stop_rule": "mr_le_1plus", "max_clips": 3}},
            {"name": "le2", "strategy": {"stop_rule": "mr_le_2plus", "max_clips": 1}},
        ],
    }
    d.update(over)
    p = tmp_path / "trial.yaml"
    p.write_text(yaml.safe_dump(d))
    return p


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _content(out: Path) -> pa.Table:
    t, _ = read_results(out)
    return t


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    trial = load_trial(_write_trial(tmp))
    run_trial(trial, tmp / "out", workers=1, chunk_threads=1, progress=False)  # one chunk at a time; the other runs (threads, pool, Dask, resumed) are compared with it
    return tmp, trial, _content(tmp / "out")


def test_counts_add_up_across_arms_and_chunks(reference):
    tmp, trial, t = reference
    assert t.num_rows == trial.n_patients * len(trial.arms)
    man = read_results(tmp / "out")[1]
    assert sorted(int(k) for k in man["chunks"]) == list(range(trial.n_chunks))
    assert sum(v["rows"] for v in man["chunks"].values()) == t.num_rows
    arm = np.asarray(t.column("arm").to_pylist())
    ids = t.column("patient_id").to_numpy()
    for a in ("le1", "le2"):
        assert sorted(ids[arm == a].tolist()) == list(range(trial.n_patients))
    chunk = t.column("chunk").to_numpy()
    assert np.all(ids // trial.chunk_size == chunk)
    md = __import__("pyarrow.parquet", fromlist=["x"]).read_schema(tmp / "out" / "chunks" / "chunk-000000.parquet").metadata
    assert json.loads(md[b"mitrasim.trial"])["name"] == "tiny" and md[b"mitrasim.version"]


def test_arms_are_paired_on_the_same_patients(reference):
    _, _, t = reference
    arm = np.asarray(t.column("arm").to_pylist())
    a, b = t.filter(pa.array(arm == "le1")), t.filter(pa.array(arm == "le2"))
    for c in ("age_years", "eroa_before_cm2", "grade_before", "gradient_before_mmhg"):
        assert a.column(c).equals(b.column(c))
    assert np.all(b.column("clips_implanted").to_numpy() <= 1)


def test_process_pool_gives_identical_content(reference, tmp_path):
    _, trial, t = reference
    run_trial(trial, tmp_path / "out", workers=2, progress=False)
    assert _content(tmp_path / "out").equals(t)


def test_dask_local_gives_identical_content(reference, tmp_path):
    pytest.importorskip("dask.distributed")
    src_tmp, _, t = reference
    r = subprocess.run(
        [sys.executable, "-m", "mitrasim", "trial", str(src_tmp / "trial.yaml"), "--out", str(tmp_path / "out"), "--dask-local", "2", "--no-progress"],
        env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert _content(tmp_path / "out").equals(t)


def test_scheduler_address_runs_on_a_separately_started_dask_cluster(reference, tmp_path):
    """``--scheduler ADDRESS``: a scheduler and a worker started on their own (as on a cluster)."""
    pytest.importorskip("dask.distributed")
    src_tmp, _, t = reference
    sf = tmp_path / "scheduler.json"
    env = _env()
    env["MITRASIM_THREADS"] = "1"
    procs = [subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(sf)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )]  # fmt: skip
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not sf.exists():
            time.sleep(0.1)
        address = json.loads(sf.read_text())["address"]
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--host", "127.0.0.1"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        r = subprocess.run(
            [sys.executable, "-m", "mitrasim", "trial", str(src_tmp / "trial.yaml"), "--out", str(tmp_path / "out"), "--scheduler", address, "--no-progress"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr[-2000:]
        assert _content(tmp_path / "out").equals(t)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_killed_run_resumes_without_recomputing_or_duplicating(reference, tmp_path):
    src_tmp, trial, t = reference
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mitrasim", "trial", str(src_tmp / "trial.yaml"), "--out", str(out), "--workers", "1", "--no-progress"],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.time() + 240
    first = out / "chunks" / "chunk-000000.parquet"
    while time.time() < deadline and not first.exists() and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert first.exists()
    before = {p.name: p.stat().st_mtime_ns for p in (out / "chunks").glob("chunk-*.parquet")}
    if len(before) == trial.n_chunks:
        pytest.skip("the run finished before it could be killed")
    r = subprocess.run(
        [sys.executable, "-m", "mitrasim", "trial", str(src_tmp / "trial.yaml"), "--out", str(out), "--resume", "--workers", "1", "--no-progress"],
        env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"{len(before)} already done" in r.stdout
    for name, mtime in before.items():  # finished chunks were not recomputed
        assert (out / "chunks" / name).stat().st_mtime_ns == mtime
    assert _content(out).equals(t)
    assert not list((out / "chunks").glob("*.tmp*"))


def test_output_folder_of_another_trial_is_refused_untouched(reference, tmp_path):
    src_tmp, trial, _ = reference
    out = tmp_path / "out"
    run_trial(trial, out, workers=1, progress=False)
    snapshot = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    other = load_trial(_write_trial(tmp_path, seed=43))
    with pytest.raises(InputError) as e:
        run_trial(other, out, resume=True, progress=False)
    assert e.value.field == "out" and "another configuration" in str(e.value)
    with pytest.raises(InputError) as e2:
        run_trial(trial, out, resume=False, progress=False)
    assert e2.value.field == "--resume"
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == snapshot


def test_unknown_strategy_in_a_trial_file_names_the_field(tmp_path):
    p = _write_trial(tmp_path, arms=[{"name": "a", "strategy": {"stop_rule": "whenever"}}])
    with pytest.raises(InputError) as e:
        load_trial(p)
    assert e.value.field == "arms.0.strategy.stop_rule"
    r = subprocess.run([sys.executable, "-m", "mitrasim", "trial", str(p), "--out", str(tmp_path / "o")], env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "arms.0.strategy.stop_rule" in r.stderr
    assert not (tmp_path / "o").exists()


def test_bad_population_reference_and_negative_sd_in_inline_population(tmp_path):
    with pytest.raises(InputError) as e:
        load_trial(_write_trial(tmp_path, population="atlantis_like"))
    assert e.value.field == "population"
    pop = yaml.safe_load((SRC / "mitrasim" / "cohort" / "populations" / "coapt_like.yaml").read_text())
    pop["continuous"]["lvef_pct"]["sd"] = -3
    with pytest.raises(InputError) as e:
        load_trial(_write_trial(tmp_path, population=pop))
    assert e.value.field == "population.continuous.lvef_pct.sd"


def test_report_writes_html_and_csv(reference):
    from mitrasim.cohort.report import write_report

    tmp, _, _ = reference
    paths = write_report(tmp / "out")
    text = paths["html"].read_text()
    assert "<svg" in text and "http://cdn" not in text and "<script src" not in text
    assert "Sorajja" in text and "not a medical device" in text
    assert "CMR-equivalent volumes" in text and "Rigolli" in text  # the echo-volume mapping is stated and cited
    summary = paths["summary"].read_text().splitlines()
    assert summary[0].startswith("arm,metric") and len(summary) > 20
    assert "McNemar" in paths["paired"].read_text()


@pytest.mark.slow
def test_shipped_example_trials_validate_and_a_larger_run_is_reproducible(tmp_path):
    for p in sorted((ROOT / "examples" / "trials").glob("*.yaml")):
        load_trial(p)
    trial = load_trial(ROOT / "examples" / "trials" / "coapt_stop_rules.yaml")
    run_trial(trial, tmp_path / "a", workers=1, progress=False)
    run_trial(trial, tmp_path / "b", workers=2, progress=False)
    assert _content(tmp_path / "a").equals(_content(tmp_path / "b"))


def test_package_version_is_the_one_in_pyproject():
    """Trial folders record the version and refuse to resume under another one, so it must be the
    released one (pyproject) and not a stale copy."""
    import tomllib

    import mitrasim

    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"] == mitrasim.__version__


def test_folder_run_with_another_version_is_refused_untouched(reference, tmp_path):
    """Results of another mitrasim version are not mixed with this one's on --resume."""
    _, trial, _ = reference
    out = tmp_path / "out"
    run_trial(trial, out, workers=1, progress=False)
    man = json.loads((out / "manifest.json").read_text())
    man["version"] = "0.0.1"
    (out / "manifest.json").write_text(json.dumps(man))
    snapshot = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(InputError) as e:
        run_trial(trial, out, resume=True, progress=False)
    assert e.value.field == "out" and "0.0.1" in str(e.value)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == snapshot


def test_unreachable_scheduler_is_a_clear_error_and_writes_nothing(reference, tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    import mitrasim.cohort.trial as T

    _, trial, _ = reference
    monkeypatch.setattr(T, "DASK_CONNECT_TIMEOUT_S", 2.0)
    with pytest.raises(InputError) as e:
        run_trial(trial, tmp_path / "out", scheduler="tcp://127.0.0.1:1", progress=False)
    assert e.value.field == "--scheduler" and "nothing was written" in str(e.value)
    assert not (tmp_path / "out").exists()


def test_a_chunk_runs_with_the_older_objects_frozen_and_restores_the_collector(monkeypatch):
    """compute_chunk freezes the objects alive before it (fewer full-collection traversals) and raises
    the young generation's threshold, and undoes both after, also when it fails; a caller's own
    freeze is left as it is."""
    import gc

    from mitrasim.cohort import trial as T

    seen, thresholds = [], []

    def fake(trial, index, threads):
        seen.append(gc.get_freeze_count())
        thresholds.append(gc.get_threshold()[0])
        if index == 1:
            raise RuntimeError("chunk failed")
        return index, None, 0.0

    monkeypatch.setattr(T, "_compute_chunk", fake)
    tj = T.parse_trial({"name": "gc", "population": "tvt_mixed", "n_patients": 10, "seed": 1, "arms": [{"name": "a"}]}).model_dump_json()
    assert gc.get_freeze_count() == 0
    before = gc.get_threshold()
    T.compute_chunk(tj, 0)
    with pytest.raises(RuntimeError):
        T.compute_chunk(tj, 1)
    assert seen[0] > 0 and seen[1] > 0 and gc.get_freeze_count() == 0 and gc.get_threshold() == before
    assert thresholds == [max(before[0], T.CHUNK_GC_THRESHOLD)] * 2
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        T.compute_chunk(tj, 0)
        assert seen[2] == frozen and gc.get_freeze_count() == frozen and thresholds[2] == before[0]
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("population", ["tvt_mixed", "everest2_like"])
def test_a_chunk_leaves_no_cyclic_garbage(population):
    """What CHUNK_GC_THRESHOLD rests on: a chunk's objects are all freed by reference counting, so the
    cyclic collector, off while it runs, finds none of them unreachable after it."""
    import gc

    from mitrasim.cohort import trial as T

    trial = T.parse_trial({"name": "gc", "population": population, "n_patients": 40, "seed": 3,
                           "arms": [{"name": "a"}, {"name": "b", "strategy": {"stop_rule": "single_clip"}}]})  # fmt: skip
    T._compute_chunk(trial, 0, 1)  # imports, compiled kernels and caches first: they stay reachable
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        before = {id(o) for o in gc.get_objects()}  # what became garbage but was made before (another test's event loop) is not the chunk's
        T._compute_chunk(trial, 0, 1)
        gc.collect()
        found = sorted({type(o).__name__ for o in gc.garbage if id(o) not in before})
        assert not found, found
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_a_chunk_file_holds_the_chunks_table_with_dictionaries_for_categorical_text_only():
    """encode_chunk: the file read back is the chunk's table (types and values); the categorical text
    columns are dictionary-encoded, the numbers and the free-text log are not, and the log has no
    min/max statistics."""
    import io

    import pyarrow.parquet as pq

    from mitrasim.cohort import trial as T

    trial = T.parse_trial({"name": "pq", "population": "tvt_mixed", "n_patients": 30, "seed": 2, "arms": [{"name": "a"}]})
    _, table, _ = T.compute_chunk(trial.model_dump_json(), 0)
    data, entry = T.encode_chunk(trial, 0, table)
    back = pq.read_table(io.BytesIO(data))
    assert back.schema.remove_metadata().equals(table.schema.remove_metadata()) and back.equals(table.replace_schema_metadata(back.schema.metadata))
    meta = pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0)
    cols = {meta.column(j).path_in_schema: meta.column(j) for j in range(meta.num_columns)}
    dictionary = {k for k, c in cols.items() if "RLE_DICTIONARY" in c.encodings or "PLAIN_DICTIONARY" in c.encodings}
    text = {f.name for f in table.schema if pa.types.is_string(f.type)}
    assert dictionary == text - T.FREE_TEXT_COLUMNS and "arm" in dictionary and "lvef_pct" not in dictionary
    assert not cols["log"].is_stats_set and cols["lvef_pct"].is_stats_set
    assert entry["bytes"] == len(data)
