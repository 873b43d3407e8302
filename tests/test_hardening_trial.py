"""Trial folders: resume verifies chunk files (size + SHA-256), one run at a time (lock),
Ctrl-C says what was kept, a re-run names --resume, corrupt folders are one-line errors."""

from __future__ import annotations

import fcntl
import json
import shutil
from pathlib import Path

import pytest
import yaml

from mitrasim.cohort.report import write_report
from mitrasim.cohort.trial import JOURNAL, LOCK, MANIFEST, RANDOMNESS, TrialInterrupted, load_trial, read_results, run_trial
from mitrasim.errors import InputError


def _trial(tmp: Path, n: int = 8, chunk: int = 4):
    d = {
        "name": "tiny",
        "population": "tvt_mixed",
        "n_patients": n,
        "seed": 7,
        "chunk_size": chunk,
        "arms": [{"name": "le2", "strategy": {"stop_rule": "mr_le_2plus", "max_clips": 1}}],
    }
    p = tmp / "trial.yaml"
    p.write_text(yaml.safe_dump(d))
    return load_trial(p)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hard")
    trial = _trial(tmp)
    run_trial(trial, tmp / "out", workers=1, progress=False)
    t, _ = read_results(tmp / "out")
    return tmp, trial, t.replace_schema_metadata(None)


def _copy(finished, tmp_path: Path) -> Path:
    src, _, _ = finished
    shutil.copytree(src / "out", tmp_path / "out")
    return tmp_path / "out"


def test_journal_records_size_and_hash_of_every_chunk_once(finished):
    """One journal line per finished chunk (and one per run), the manifest a header written once."""
    tmp, trial, _ = finished
    man = json.loads((tmp / "out" / MANIFEST).read_text())
    assert "chunks" not in man and man["randomness"] == RANDOMNESS
    lines = [json.loads(x) for x in (tmp / "out" / JOURNAL).read_text().splitlines()]
    chunks = [x for x in lines if "chunk" in x]
    assert sorted(x["chunk"] for x in chunks) == list(range(trial.n_chunks))
    assert [x for x in lines if "chunk" not in x] == [{"run": lines[-1]["run"]}]
    for e in chunks:
        f = tmp / "out" / e["file"]
        assert e["bytes"] == f.stat().st_size
        assert len(e["sha256"]) == 64 and e["compute_s"] > 0


def test_a_torn_last_journal_line_is_ignored_and_cut_before_resuming(finished, tmp_path):
    """A crash mid-append leaves a torn last line: the report reads the folder without it, and a
    resume recomputes that chunk and appends after the last whole line."""
    _, trial, ref = finished
    out = _copy(finished, tmp_path)
    j = out / JOURNAL
    lines = j.read_text().splitlines(keepends=True)
    last_chunk = max(k for k, x in enumerate(lines) if '"chunk"' in x)
    kept = [x for k, x in enumerate(lines) if k != last_chunk]
    j.write_text("".join(kept) + lines[last_chunk][: len(lines[last_chunk]) // 2])  # torn: half a line, no newline
    t, man = read_results(out)
    assert len(man["chunks"]) == trial.n_chunks - 1
    (out / "chunks" / json.loads(lines[last_chunk])["file"].split("/")[-1]).unlink()
    header = (out / MANIFEST).read_bytes()
    res = run_trial(trial, out, resume=True, workers=1, progress=False)
    assert res["chunks_run"] == 1
    assert all(json.loads(x) for x in j.read_text().splitlines())  # every line whole again
    assert (out / MANIFEST).read_bytes() == header  # the header is never rewritten: chunks and runs are appended
    assert read_results(out)[0].replace_schema_metadata(None).equals(ref)


def test_a_folder_of_the_chunk_seeded_scheme_is_refused_untouched(finished, tmp_path):
    """A folder written before patient blocks (its manifest has no randomness scheme) is not mixed."""
    _, trial, _ = finished
    out = _copy(finished, tmp_path)
    man = json.loads((out / MANIFEST).read_text())
    del man["randomness"]
    (out / MANIFEST).write_text(json.dumps(man))
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != LOCK}
    with pytest.raises(InputError) as e:
        run_trial(trial, out, resume=True, workers=1, progress=False)
    assert "randomness scheme" in str(e.value) and "one seed per chunk" in str(e.value)
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != LOCK} == before


@pytest.mark.parametrize("damage", ["delete", "truncate"])
def test_resume_recomputes_a_deleted_or_truncated_chunk(finished, tmp_path, damage):
    _, trial, ref = finished
    out = _copy(finished, tmp_path)
    f = out / "chunks" / "chunk-000001.parquet"
    if damage == "delete":
        f.unlink()
    else:
        f.write_bytes(f.read_bytes()[:-40])
    res = run_trial(trial, out, resume=True, workers=1, progress=False)
    assert res["chunks_recomputed"] == [1]
    assert res["chunks_run"] == 1
    t, _ = read_results(out)
    assert t.replace_schema_metadata(None).equals(ref)


def test_rerun_without_resume_names_the_resume_flag(finished, tmp_path):
    _, trial, _ = finished
    out = _copy(finished, tmp_path)
    with pytest.raises(InputError) as e:
        run_trial(trial, out, resume=False, progress=False)
    assert "--resume" in str(e.value) and "nothing was changed" in str(e.value)


def test_second_run_into_a_locked_folder_is_refused(finished, tmp_path):
    _, trial, _ = finished
    out = _copy(finished, tmp_path)
    with open(out / LOCK, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running trial holds it
        with pytest.raises(InputError) as e:
            run_trial(trial, out, resume=True, progress=False)
    assert e.value.field == "--out" and "another mitrasim trial" in str(e.value)
    assert run_trial(trial, out, resume=True, progress=False)["chunks_run"] == 0  # lock released: fine


def test_ctrl_c_keeps_finished_chunks_and_says_so(tmp_path):
    trial = _trial(tmp_path, n=12, chunk=4)

    def stop_after_first(index: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(TrialInterrupted) as e:
        run_trial(trial, tmp_path / "out", workers=1, progress=False, on_chunk=stop_after_first)
    assert (e.value.kept, e.value.total) == (1, 3)
    res = run_trial(trial, tmp_path / "out", resume=True, workers=1, progress=False)
    assert res["chunks_skipped"] == 1 and res["chunks_run"] == 2


@pytest.mark.parametrize("damage", ["bad_manifest", "manifest_not_a_trial", "truncated_chunk", "missing_chunk", "bad_trial_json", "garbled_journal_line"])
def test_report_on_a_corrupt_folder_is_an_input_error_and_writes_nothing(finished, tmp_path, damage):
    out = _copy(finished, tmp_path)
    if damage == "bad_manifest":
        (out / MANIFEST).write_bytes(b"\xff{not json")
    elif damage == "manifest_not_a_trial":
        (out / MANIFEST).write_text(json.dumps({"chunks": [1, 2]}))
    elif damage == "truncated_chunk":
        f = out / "chunks" / "chunk-000000.parquet"
        f.write_bytes(f.read_bytes()[:100])
    elif damage == "missing_chunk":
        (out / "chunks" / "chunk-000000.parquet").unlink()
    elif damage == "garbled_journal_line":  # not the torn last line of a crash: a damaged record before it
        lines = (out / JOURNAL).read_text().splitlines(keepends=True)
        (out / JOURNAL).write_text("".join([lines[0][:10] + "\n", *lines[1:]]))
    else:
        (out / "trial.json").write_text("{}")
    with pytest.raises(InputError) as e:
        write_report(out)
    assert e.value.field == "DIR"
    assert not (out / "report.html").exists() and not (out / "summary.csv").exists()


def test_read_results_on_a_file_is_an_input_error(tmp_path):
    f = tmp_path / "x"
    f.write_text("x")
    with pytest.raises(InputError):
        read_results(f)
