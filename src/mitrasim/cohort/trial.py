"""In-silico trials: a population, arms (procedure strategies), n patients, a seed; run in chunks.

Trial file (YAML, pydantic ``extra="forbid"``)::

    name: coapt_stop_rules
    population: coapt_like          # shipped name, a path relative to this file, or an inline mapping
    n_patients: 2000
    seed: 20240601
    chunk_size: 500
    arms:
      - {name: target_1plus, strategy: {stop_rule: mr_le_1plus, max_clips: 4}}
      - {name: target_2plus, strategy: {stop_rule: mr_le_2plus, max_clips: 2}}
    outcomes: {secondary_hfh_multiplier: 1.0}
    solver: {dt_max_s: 0.004, tol: 0.01}

Execution: the unit of randomness is a block of :data:`RANDOM_BLOCK_PATIENTS` patients, not a
chunk.  Block ``b`` (patients ``b·B …``) has its own seed, child ``b`` of ``SeedSequence(seed)``,
spawned again into (population, procedure, outcomes) streams: its patients are sampled (and, with
an indication, rejection-sampled) from the first, its procedure's uniform draws (one row per
patient) from the second, its outcome draws from the third.  A chunk (``chunk_size`` patients, the
unit of work and of storage) computes the blocks it overlaps — their engine work batched together —
and keeps its own rows, so a patient's rows depend only on the trial and the patient: identical for
any ``chunk_size``, locally, in a process pool, on Dask, and after a resume
(``tests/test_trial_blocks.py``).  Every arm of a chunk runs on the same sampled patients with the
same procedure and outcome draws (paired arms, common random numbers).  In this process (the
default) one chunk runs per core at once, each on its own Python thread with its engine on that
thread (:func:`_run_threads`); in a process pool one per process.  On Dask a task computes
``k`` consecutive chunks one after another (adaptive ``k``: :mod:`mitrasim.cohort.scaling`), each
written as soon as its task's result arrives and then released from the cluster; a lost worker's
task is rerun by Dask (a pure function of the trial and its indices), and a chunk already written
is never written twice.

Output folder::

    DIR/manifest.json               header, written once: format, trial hash, name, version,
                                    randomness scheme (:data:`RANDOMNESS`), sizes, arms
    DIR/journal.jsonl               one line appended per finished chunk (file, rows, size, SHA-256,
                                    compute seconds, threads, engine seconds) and per run (mode,
                                    workers, scheduler round trip, client seconds per chunk)
    DIR/trial.json                  the resolved trial (population inlined)
    DIR/chunks/chunk-000000.parquet one file per chunk: rows of every arm; metadata holds
                                    mitrasim.trial (JSON), mitrasim.trial_hash, mitrasim.version,
                                    mitrasim.randomness, mitrasim.chunk_index

A chunk file is written to a temporary name and renamed (atomic), then its line is appended to
the journal with one ``write`` and an ``fsync`` (the cost of recording a chunk does not grow with
the trial, as rewriting a manifest after every chunk did); a crash leaves at most a torn last line,
which is ignored and cut off before the next append.  ``--resume`` skips only chunks whose file is
there with the journalled size and hash (a deleted, truncated or altered chunk is recomputed, and
said so; a chunk renamed but not yet journalled is checked and journalled); a folder holding
another trial, or written under another randomness scheme or version, is refused and nothing in it
is touched.  A run holds an exclusive lock on ``DIR/.lock`` (``flock``), so a second run into the
same folder is refused while the first is running; on Ctrl-C the finished chunks
stay and :class:`TrialInterrupted` says how many.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, field_validator

import mitrasim
from mitrasim.cohort.adapter import Strategy, run_patient_chunk, sample_indicated_blocks
from mitrasim.cohort.mapping import engine_inputs
from mitrasim.cohort.outcomes import OutcomeModel, apply_outcomes, outcome_uniforms
from mitrasim.cohort.columns import level_values
from mitrasim.cohort.population import Population, load_population
from mitrasim.errors import InputError, validate_model
from mitrasim.files import read_data, read_text
from mitrasim.physiology.simulation import SolverSettings
from mitrasim.procedure.risks import draw_uniforms

__all__ = ["Arm", "Trial", "load_trial", "parse_trial", "trial_hash", "RANDOM_BLOCK_PATIENTS", "RANDOMNESS", "block_seeds", "chunk_blocks", "compute_chunk", "encode_chunk", "compute_task", "run_trial", "read_results", "TrialStore", "TrialInterrupted", "DASK_QUIET_CONFIG", "local_dask_cluster"]

MANIFEST = "manifest.json"
JOURNAL = "journal.jsonl"
LOCK = ".lock"
#: The manifest's format: a header written once, finished chunks and runs appended to :data:`JOURNAL`.
MANIFEST_FORMAT = "mitrasim-trial/2"


class TrialInterrupted(Exception):
    """A run stopped by Ctrl-C: ``kept`` of ``total`` chunks are finished in ``out``."""

    def __init__(self, out: Path, kept: int, total: int):
        self.out, self.kept, self.total = out, kept, total
        super().__init__(f"interrupted: {kept} of {total} chunk(s) are finished and kept in {out}")
CHUNK_DIR = "chunks"


class Arm(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.\-]+$")
    strategy: Strategy = Field(default_factory=Strategy)


class CohortSolver(BaseModel):
    """Engine settings for trials: a coarser step and tolerance than the single-patient default, for
    speed.  Against the default on 300 patients × 2 arms (``benchmarks/cohort.py --accuracy 300``, with
    the awake baseline warm-started from the baseline fit): grades before and after and clips implanted
    identical in every row, clips attempted in 599, MVARC device success in 594 and devices in 588 of
    600; where the devices agree the baseline gradient within 0.06 mmHg and RVol within 0.15 mL (median
    differences after the procedure 0.004 mmHg and 0.01 mL)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dt_max_s: float = Field(4e-3, gt=1e-5, le=5e-3)
    tol: float = Field(1e-2, gt=0, le=1.0)
    max_beats: int = Field(300, ge=2, le=10_000)
    accelerate: bool = Field(True, description="Anderson acceleration of the beat-to-beat map in the engine (SolverSettings.accelerate)")

    def settings(self, threads: int = 0) -> SolverSettings:
        return SolverSettings(dt_max_s=self.dt_max_s, tol=self.tol, max_beats=self.max_beats, threads=threads, accelerate=self.accelerate)


class Trial(BaseModel):
    """A trial (see the module docstring); ``population`` is resolved to a full description."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=4000)
    population: Population
    n_patients: int = Field(ge=1, le=10_000_000)
    seed: int = Field(ge=0, lt=2**63)
    chunk_size: int = Field(1000, ge=1, le=200_000, description="patients per chunk (unit of work and storage; results do not depend on it): "
                            "a multiple of RANDOM_BLOCK_PATIENTS keeps a block of patients from being sampled by two chunks")
    arms: list[Arm] = Field(min_length=1, max_length=20)
    outcomes: OutcomeModel = Field(default_factory=OutcomeModel)
    solver: CohortSolver = Field(default_factory=CohortSolver)

    @field_validator("arms")
    @classmethod
    def _unique(cls, v: list[Arm]) -> list[Arm]:
        names = [a.name for a in v]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names must be unique: {names}")
        return v

    @property
    def n_chunks(self) -> int:
        return -(-self.n_patients // self.chunk_size)

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def parse_trial(data: Any, base_dir: str | Path | None = None, source: str = "trial") -> Trial:
    """Validate a trial mapping; the population reference is resolved (shipped name, path or mapping)."""
    if not isinstance(data, dict):
        raise InputError(source, type(data).__name__, "a mapping with name, population, n_patients, seed, arms")
    data = dict(data)
    if "population" not in data:
        raise InputError("population", None, "a shipped population name, a YAML path or a mapping")
    pop = data["population"]
    if not isinstance(pop, Population):
        try:
            data["population"] = load_population(pop, base_dir=base_dir)
        except InputError as e:
            raise e.renamed(f"population.{e.field}" if isinstance(pop, dict) else e.field) from None
    return validate_model(Trial, data)


def load_trial(path: str | Path) -> Trial:
    """Load a trial YAML file; errors name the field (``arms.1.strategy.stop_rule``)."""
    p = Path(path)
    data = read_data(p, "trial", "a readable trial YAML file", "valid YAML", json_by_suffix=False)
    return parse_trial(data, base_dir=p.parent, source=p.name)


def trial_hash(trial: Trial) -> str:
    """SHA-256 of the trial's canonical JSON (resolved population included)."""
    return hashlib.sha256(trial.canonical_json().encode()).hexdigest()


#: Patients per block, the unit of randomness: block ``b`` holds patients ``b·B … (b+1)·B − 1`` (the
#: last block up to ``n_patients``) and has its own streams, so a patient's rows never depend on
#: ``chunk_size``, on the workers or on how chunks are grouped into tasks.  An engineering choice:
#: small enough that a chunk boundary off the blocks costs little extra sampling, large enough that
#: the indication's rejection sampling wastes few draws per block.
RANDOM_BLOCK_PATIENTS = 100

#: The randomness scheme recorded in every manifest; a folder written under another scheme (or
#: none: chunk-seeded, before this one) is refused rather than mixed with this one.
RANDOMNESS = f"patient-blocks/{RANDOM_BLOCK_PATIENTS}/v1"


def block_seeds(trial: Trial, block: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence, np.random.SeedSequence]:
    """(population, procedure, outcomes) streams of block ``block``: child ``block`` of
    ``SeedSequence(seed)`` (as ``spawn`` would give it, without spawning every block's), spawned into three."""
    a, b, c = np.random.SeedSequence(trial.seed, spawn_key=(block,)).spawn(3)
    return a, b, c


def chunk_blocks(trial: Trial, index: int) -> tuple[range, int, int]:
    """The blocks chunk ``index`` overlaps, and its first and last (exclusive) patient."""
    first = index * trial.chunk_size
    last = min(first + trial.chunk_size, trial.n_patients)
    return range(first // RANDOM_BLOCK_PATIENTS, (last - 1) // RANDOM_BLOCK_PATIENTS + 1), first, last


def _block_size(trial: Trial, block: int) -> int:
    return min(RANDOM_BLOCK_PATIENTS, trial.n_patients - block * RANDOM_BLOCK_PATIENTS)


def compute_chunk(trial_json: str, index: int, threads: int = 0) -> tuple[int, pa.Table, float]:
    """Rows of every arm for chunk ``index`` (a pure function of the trial and the index).

    The chunk's patients are drawn block by block (:data:`RANDOM_BLOCK_PATIENTS`, each block from its
    own streams, :func:`block_seeds`) and the rows outside the chunk dropped, so a patient's draws —
    sampling, indication, procedure, outcomes — are those of its block whatever the chunking.
    Returns ``(index, table, engine_seconds)``.  Takes the trial as JSON so process pools
    and Dask workers get a plain string.
    """
    with _older_objects_frozen():
        return _compute_chunk(Trial.model_validate_json(trial_json), index, threads)


#: The cyclic collector's first-generation threshold while a chunk runs (:func:`_older_objects_frozen`;
#: CPython's default is 700).  A chunk leaves no cyclic garbage (a 2,500-patient tvt_mixed chunk run
#: with the collector off, then ``gc.collect()``: 0 unreachable objects; tested), so its young-generation
#: passes only re-traverse live objects: 222 first- and 19 second-generation passes per 5,000 patients,
#: 25 ms CPU.  The collector counts objects allocated and not yet freed, so a cycle left behind would
#: still be collected once this many such objects were pending: the threshold bounds what it could hold.
CHUNK_GC_THRESHOLD = 100_000


@contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """The objects alive before a chunk (the imported modules, ~200,000 tracked objects) left out of
    the cyclic garbage collector's full collections while it runs (``gc.freeze``, undone after; not
    when the caller has frozen objects itself).  The chunk's many small objects (log entries,
    dicts) trigger full collections that traverse them all: 3 per 5,000 patients cost 0.43–0.48 CPU-s
    (tvt_mixed, 4 % of the trial) and 0.02 s with them frozen.  Its young-generation collections
    are also spaced out (first threshold :data:`CHUNK_GC_THRESHOLD`, restored after).  Nothing is
    collected differently among the chunk's own objects; reference counting is unchanged."""
    if gc.get_freeze_count():
        yield
        return
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], CHUNK_GC_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _compute_chunk(trial: Trial, index: int, threads: int) -> tuple[int, pa.Table, float]:
    """:func:`compute_chunk` of a validated trial."""
    blocks, first, last = chunk_blocks(trial, index)
    seeds = [block_seeds(trial, b) for b in blocks]
    sizes = [_block_size(trial, b) for b in blocks]
    settings = trial.solver.settings(threads)
    patients, ei = sample_indicated_blocks(trial.population, sizes, [s[0] for s in seeds], settings, [b * RANDOM_BLOCK_PATIENTS for b in blocks])
    rows = np.arange(first - blocks[0] * RANDOM_BLOCK_PATIENTS, last - blocks[0] * RANDOM_BLOCK_PATIENTS)
    if len(rows) != patients.num_rows:  # a chunk boundary inside a block
        patients, ei = patients.take(rows), None if ei is None else ei.take(rows)
    u_proc = np.concatenate([draw_uniforms(s[1], m) for s, m in zip(seeds, sizes)])[rows]
    u_out = np.concatenate([outcome_uniforms(s[2], m) for s, m in zip(seeds, sizes)])[rows]
    n = last - first
    presets, lv_method = dict(trial.population.presets), trial.population.lv_volume_method
    ei = ei if ei is not None else engine_inputs(patients, presets, settings, lv_method)  # fitted once for every arm
    etiology = level_values(patients, "etiology", str, object)
    parts = []
    engine_s = 0.0
    for arm in trial.arms:
        res = run_patient_chunk(
            patients, arm.strategy, u_proc, settings=settings, preset_by_etiology=presets, lv_volume_method=lv_method, ei=ei,
        )
        engine_s += float(np.sum(res.column("engine_seconds").to_numpy()))
        res = apply_outcomes(res.drop_columns(["engine_seconds"]), etiology, trial.outcomes, u_out, trial.population.sources)
        res = res.drop_columns(["patient_id"])
        columns = [pa.chunked_array([np.full(n, index, np.int32)]), pa.chunked_array([pa.array([arm.name] * n, pa.string())]), *patients.columns, *res.columns]
        parts.append(pa.Table.from_arrays(columns, ["chunk", "arm", *patients.column_names, *res.column_names]))
    return index, pa.concat_tables(parts), engine_s


#: Columns of free text, one value per patient (the operator's log): no dictionary encoding and no
#: min/max statistics in a chunk file.
FREE_TEXT_COLUMNS = frozenset({"log"})


def encode_chunk(trial: Trial, index: int, table: pa.Table) -> tuple[bytes, dict[str, Any]]:
    """Chunk ``index``'s Parquet file (zstd; metadata: the trial, its hash, the version, the
    randomness scheme, the index) as bytes, and its journal entry (rows, size, SHA-256).  Done where
    the chunk was computed, so a Dask client or pool parent only writes bytes it received.  Only the
    categorical text columns are dictionary-encoded (a number column's values are nearly all
    distinct, :data:`FREE_TEXT_COLUMNS` all): a 2,500-patient chunk 12.9 → 9.2 ms CPU, 974 → 846 kB."""
    md = {
        b"mitrasim.trial": trial.canonical_json().encode(),
        b"mitrasim.trial_hash": trial_hash(trial).encode(),
        b"mitrasim.version": mitrasim.__version__.encode(),
        b"mitrasim.randomness": RANDOMNESS.encode(),
        b"mitrasim.chunk_index": str(index).encode(),
    }
    sink = pa.BufferOutputStream()
    text = [f.name for f in table.schema if pa.types.is_string(f.type)]
    pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), **md}), sink, compression="zstd",
                   use_dictionary=[c for c in text if c not in FREE_TEXT_COLUMNS], write_statistics=[c for c in table.column_names if c not in FREE_TEXT_COLUMNS])  # fmt: skip
    data = sink.getvalue().to_pybytes()
    return data, {"rows": table.num_rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def compute_task(trial_json: str, indices: list[int], threads: int = 0) -> list[tuple[int, bytes, dict[str, Any]]]:
    """One task of a run: :func:`compute_chunk` for each of ``indices`` in turn (so a chunk's rows
    never depend on the task it ran in), each as its Parquet file's bytes (:func:`encode_chunk`)
    with its journal entry and cost: ``compute_s`` (wall seconds of the chunk on this worker, the
    encoding included), ``threads`` (engine threads it used) and ``engine_s``."""
    if threads:
        used = threads
    else:
        from mitrasim.physiology import engine

        used = engine.default_threads()
    trial = Trial.model_validate_json(trial_json)
    out = []
    for i in indices:
        t0 = time.perf_counter()
        with _older_objects_frozen():  # compute_chunk on the trial validated once for the task
            index, table, eng = _compute_chunk(trial, i, threads)
        data, entry = encode_chunk(trial, index, table)
        out.append((index, data, {**entry, "compute_s": time.perf_counter() - t0, "threads": used, "engine_s": eng}))
    return out


class TrialStore:
    """The output folder of one trial: manifest header, journal, atomic chunk files, resume checks."""

    def __init__(self, out: str | Path, trial: Trial):
        self.out = Path(out)
        self.trial = trial
        self.hash = trial_hash(trial)
        self.chunk_dir = self.out / CHUNK_DIR
        self.runs: list[dict[str, Any]] = []
        self.dropped: list[int] = []

    def chunk_path(self, index: int) -> Path:
        return self.chunk_dir / f"chunk-{index:06d}.parquet"

    def prepare(self, resume: bool) -> set[int]:
        """Check the folder and return the finished chunk indices (nothing is written on error)."""
        man = _load_manifest(self.out, "out")
        if man is None:
            if self.out.exists() and any(x.name != LOCK for x in self.out.iterdir()):
                existing = sorted(x.name for x in self.out.iterdir() if x.name != LOCK)[:5]
                raise InputError("out", str(self.out), "an empty or new folder, or a trial output folder", f"it holds other files: {existing}")
            self.out.mkdir(parents=True, exist_ok=True)
            self.chunk_dir.mkdir(exist_ok=True)
            (self.out / "trial.json").write_text(json.dumps(self.trial.model_dump(mode="json"), indent=2))
            (self.out / JOURNAL).touch()
            _atomic_write_bytes(self.out / MANIFEST, json.dumps(self._header(), indent=1).encode())
            return set()
        if man.get("trial_hash") != self.hash:
            raise InputError(
                "out", str(self.out), "a new folder, or the folder of this same trial",
                f"it holds trial {man.get('trial_name')!r} with another configuration (hash {str(man.get('trial_hash'))[:12]}); nothing was changed",
            )
        if man.get("randomness") != RANDOMNESS:
            was = man.get("randomness") or "one seed per chunk (before patient blocks)"
            raise InputError(
                "out", str(self.out), f"a trial folder written with the randomness scheme {RANDOMNESS}",
                f"it was written with {was}: its rows cannot be mixed with this run's; nothing was changed — choose a new --out",
            )
        self.runs = [r for r in man.get("runs", []) if isinstance(r, dict)]
        if man.get("version") != mitrasim.__version__:
            raise InputError("out", str(self.out), f"a trial run with mitrasim {mitrasim.__version__}", f"it was run with {man.get('version')}; nothing was changed")
        done = {int(k) for k in man.get("chunks", {})}
        if not resume:
            if done:
                raise InputError(
                    "--resume", False, "--resume to continue this trial, or a new --out folder",
                    message=f"--out {self.out} already holds {len(done)} of {self.trial.n_chunks} finished chunk(s) of this trial: "
                    "run the same command with --resume to continue it (nothing is recomputed when it is complete), "
                    "or choose a new --out folder; nothing was changed",
                )
        _drop_torn_tail(self.out / JOURNAL)  # appends start on a line of their own
        self.chunk_dir.mkdir(exist_ok=True)
        self.dropped = sorted(i for i in done if not self._verified(man["chunks"][str(i)], i))
        done -= set(self.dropped)
        for tmp in self.chunk_dir.glob("*.tmp*"):
            tmp.unlink()
        for f in sorted(self.chunk_dir.glob("chunk-*.parquet")):  # renamed but not yet journalled (killed in between)
            idx = int(f.stem.split("-")[1])
            if idx not in done and idx < self.trial.n_chunks and self._valid_chunk(f, idx):
                self._append({"chunk": idx, **self._entry(f, self.chunk_path(idx), pq.read_metadata(f).num_rows)})
                done.add(idx)
        return done

    def _verified(self, entry: Any, idx: int) -> bool:
        """A journal entry's file is there, with its recorded size and SHA-256."""
        f = self.chunk_path(idx)
        return f.is_file() and isinstance(entry, dict) and f.stat().st_size == entry.get("bytes") and _sha256(f) == entry.get("sha256")

    def _valid_chunk(self, f: Path, idx: int) -> bool:
        try:
            md = pq.read_schema(f).metadata or {}
        except Exception:  # noqa: BLE001  (a truncated file is simply recomputed)
            return False
        return (md.get(b"mitrasim.trial_hash", b"").decode() == self.hash and md.get(b"mitrasim.chunk_index", b"").decode() == str(idx)
                and md.get(b"mitrasim.randomness", b"").decode() == RANDOMNESS)  # fmt: skip

    def _header(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "trial_name": self.trial.name,
            "trial_hash": self.hash,
            "version": mitrasim.__version__,
            "randomness": RANDOMNESS,
            "n_patients": self.trial.n_patients,
            "chunk_size": self.trial.chunk_size,
            "n_chunks": self.trial.n_chunks,
            "arms": [a.name for a in self.trial.arms],
            "journal": JOURNAL,
        }

    def _append(self, record: dict[str, Any]) -> None:
        _append_line(self.out / JOURNAL, json.dumps(record, separators=(",", ":")))

    def _entry(self, f: Path, path: Path, rows: int) -> dict[str, Any]:
        return {"file": f"{CHUNK_DIR}/{path.name}", "rows": rows, "bytes": f.stat().st_size, "sha256": _sha256(f)}

    def add_run(self, run: dict[str, Any]) -> None:
        """Record a run's measured overheads (:mod:`mitrasim.cohort.scaling`) in the journal."""
        self.runs.append(run)
        self._append({"run": run})

    def write_chunk(self, index: int, data: bytes, entry: dict[str, Any]) -> None:
        """Write a chunk's Parquet bytes (:func:`encode_chunk`) atomically (tmp + rename), then append
        its ``entry`` (rows, size, SHA-256 and cost: compute seconds, threads, engine seconds) to the journal."""
        path = self.chunk_path(index)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        self._append({"chunk": index, "file": f"{CHUNK_DIR}/{path.name}", **entry})


def _append_line(path: Path, line: str) -> None:
    """Append one line with a single ``write`` on an ``O_APPEND`` descriptor, then ``fsync``: a
    crash leaves at most a torn last line, which readers ignore (:func:`_read_journal`)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_journal(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The journal's complete records and the byte length they span; a last line without its
    newline or not valid JSON (torn by a crash mid-append) is left out.  ValueError for a bad line
    before the last."""
    data = path.read_bytes() if path.exists() else b""
    records, end = [], 0
    lines = data.split(b"\n")
    for k, line in enumerate(lines[:-1]):  # lines[-1]: after the last newline (empty, or torn)
        try:
            rec = json.loads(line)
        except ValueError:
            if k == len(lines) - 2 and not lines[-1]:
                break  # the last complete-looking line is torn (a crash between two writes of a line)
            raise ValueError(f"line {k + 1} is not JSON") from None
        if not isinstance(rec, dict):
            raise ValueError(f"line {k + 1} is not a record")
        records.append(rec)
        end += len(line) + 1
    return records, end


def _drop_torn_tail(path: Path) -> None:
    """Cut a torn last line off the journal (under the folder's lock, before appending)."""
    if path.exists():
        _, end = _read_journal(path)
        if end < path.stat().st_size:
            os.truncate(path, end)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _load_manifest(out: Path, field: str) -> dict[str, Any] | None:
    """The folder's manifest with its journal folded in (``None`` if there is none): the header, plus
    ``chunks`` (index → its last journal entry) and ``runs``; InputError if it is not a trial manifest."""
    p = out / MANIFEST
    if not p.exists():
        return None
    bad = lambda why: InputError(field, str(out), "a trial output folder with a readable manifest.json and journal", why)  # noqa: E731
    try:
        man = json.loads(read_text(p))
    except (OSError, ValueError) as e:
        raise bad(f"{MANIFEST}: {e}") from None
    if not isinstance(man, dict):
        raise bad(f"{MANIFEST} is not a mitrasim trial manifest")
    if man.get("format") == MANIFEST_FORMAT:
        try:
            records, _ = _read_journal(out / JOURNAL)
        except (OSError, ValueError) as e:
            raise bad(f"{JOURNAL}: {e}") from None
        man["chunks"] = {str(r["chunk"]): r for r in records if isinstance(r.get("chunk"), int)}
        man["runs"] = [r["run"] for r in records if isinstance(r.get("run"), dict)]
    chunks = man.get("chunks")
    if not isinstance(chunks, dict) or not all(isinstance(k, str) and k.isdigit() and isinstance(v, dict) and isinstance(v.get("file"), str) for k, v in chunks.items()):
        raise bad(f"{MANIFEST} is not a mitrasim trial manifest")
    return man


@contextmanager
def _folder_lock(out: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``out/.lock`` for the run; refuse if another run holds it."""
    import fcntl

    fh = open(out / LOCK, "a+")  # noqa: SIM115 - held for the run
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError("--out", str(out), "a folder no other run is writing", "another mitrasim trial is running into it now; wait for it or choose a new --out") from None
        yield
    finally:
        fh.close()


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _progress(total_patients: int, already: int, enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:  # type: ignore[override]
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} patients/s" if speed else "… patients/s")

    prog = Progress(
        TextColumn("[bold]trial"), BarColumn(), MofNCompleteColumn(), TextColumn("patients"), Rate(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        disable=not enabled, transient=False,
    )
    return prog


def _default_workers() -> int:
    """One process: its chunks run on one thread per core (:func:`_default_chunk_threads`), each
    chunk's engine on its own thread.  ``--workers N`` for a pool of N processes."""
    return 1


def _default_chunk_threads() -> int:
    """Chunks computed at once in this process: one per engine thread of the process
    (:func:`mitrasim.physiology.engine.default_threads`: ``MITRASIM_THREADS``, else every core; the
    web's worker processes set it to 1, one core per request).  Each chunk's engine runs
    single-threaded on its own Python thread (the compiled kernels release the GIL), so one chunk's
    Python between kernel calls runs while the other chunk is in the kernel; one chunk at a time
    with the engine on every core left a core idle during the Python (about a quarter of a trial's
    CPU) and filled two engine threads poorly on small kernel calls (benchmarks/RESULTS.md, "In-process
    trials on both cores")."""
    from mitrasim.physiology import engine

    return engine.default_threads()


def run_trial(
    trial: Trial,
    out: str | Path,
    *,
    resume: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    dask_local: int | None = None,
    progress: bool = True,
    on_chunk: Callable[[int], None] | None = None,
    chunks_per_task: int | None = None,
    chunk_threads: int | None = None,
) -> dict[str, Any]:
    """Run (or resume) a trial into ``out``; return a summary (chunks run, seconds, patients/s).

    ``workers`` = processes for the local run (default None = 1: in this process; N > 1: a spawn
    process pool, one engine thread each); ``chunk_threads`` = in this process, chunks computed at
    once on as many Python threads, each chunk's engine on one thread (default: one per core,
    :func:`_default_chunk_threads`; 1: one chunk at a time, its engine on every core); ``scheduler`` = a Dask scheduler address; ``dask_local`` = start a local Dask
    cluster of that many single-threaded workers (loopback only); ``chunks_per_task`` = chunks one
    Dask task computes (default: adaptive, :mod:`mitrasim.cohort.scaling`).  Results never depend
    on ``workers``, ``chunk_threads``, the cluster or ``chunks_per_task``.
    """
    if scheduler and dask_local:
        raise InputError("--scheduler", scheduler, "either --scheduler or --dask-local, not both")
    if scheduler or dask_local:
        from mitrasim.extras import require_extra

        require_extra("dask", "--scheduler" if scheduler else "--dask-local")
    with ExitStack() as stack:
        # connect first: an unreachable scheduler leaves no new output folder behind
        client = stack.enter_context(_dask_client(scheduler, dask_local)) if (scheduler or dask_local) else None
        return _run_trial(trial, out, resume, workers, client, progress, on_chunk, chunks_per_task, chunk_threads)


def _run_trial(trial: Trial, out: str | Path, resume: bool, workers: int | None, client: Any, progress: bool, on_chunk: Callable[[int], None] | None,
               chunks_per_task: int | None = None, chunk_threads: int | None = None) -> dict[str, Any]:
    store = TrialStore(out, trial)
    from mitrasim.files import check_output_dir

    check_output_dir(store.out, "--out")
    if store.out.is_dir():
        with _folder_lock(store.out):
            return _run_prepared(store, trial, resume, workers, client, progress, on_chunk, None, chunks_per_task, chunk_threads)
    done = store.prepare(resume)  # creates the folder (nothing else could have been writing it)
    with _folder_lock(store.out):
        return _run_prepared(store, trial, resume, workers, client, progress, on_chunk, done, chunks_per_task, chunk_threads)


def _run_prepared(store: "TrialStore", trial: Trial, resume: bool, workers: int | None, client: Any, progress: bool,
                  on_chunk: Callable[[int], None] | None, done: set[int] | None = None, chunks_per_task: int | None = None,
                  chunk_threads: int | None = None) -> dict[str, Any]:
    if done is None:
        done = store.prepare(resume)
    todo = [i for i in range(trial.n_chunks) if i not in done]
    tj = trial.canonical_json()
    sizes = {i: min(trial.chunk_size, trial.n_patients - i * trial.chunk_size) for i in range(trial.n_chunks)}
    already = sum(sizes[i] for i in done)
    t0 = time.perf_counter()
    run: dict[str, Any] = {"mode": "local", "chunks": 0, "client_s": 0.0}
    engine_s = 0.0
    written: set[int] = set()
    prog = _progress(trial.n_patients, already, progress)
    with prog:
        task = prog.add_task("trial", total=trial.n_patients, completed=already)
        try:
            for results in _tasks(tj, todo, workers, client, chunks_per_task, run, chunk_threads):
                for index, data, cost in results:
                    if index in written:  # a retried task's second answer: already on disk
                        continue
                    w0 = time.perf_counter()
                    store.write_chunk(index, data, cost)
                    done.add(index)
                    run["client_s"] += time.perf_counter() - w0
                    written.add(index)
                    engine_s += cost["engine_s"]
                    prog.update(task, advance=sizes[index])
                    if on_chunk:
                        on_chunk(index)
                del results  # streamed: a task's tables are dropped once written
        except KeyboardInterrupt:
            raise TrialInterrupted(store.out, len(done), trial.n_chunks) from None
    wall = time.perf_counter() - t0
    if written:
        run.update(chunks=len(written), wall_s=wall, client_s_per_chunk=run.pop("client_s") / len(written))
        store.add_run(run)
    run_patients = sum(sizes[i] for i in todo)
    return {
        "chunks_run": len(todo),
        "chunks_skipped": trial.n_chunks - len(todo),
        "patients_run": run_patients,
        "seconds": wall,
        "patients_per_s": run_patients / wall if wall > 0 else float("nan"),
        "engine_seconds": engine_s,
        "out": str(store.out),
        "chunks_recomputed": list(store.dropped),
        "run": run,
    }


def _tasks(tj: str, todo: list[int], workers: int | None, client: Any, chunks_per_task: int | None, run: dict[str, Any],
           chunk_threads: int | None = None) -> Iterator[list[tuple[int, bytes, dict[str, Any]]]]:
    """The finished tasks' results, as they finish, from the chosen executor."""
    if client is not None:
        yield from _run_dask(tj, todo, client, chunks_per_task, run)
        return
    n_workers = workers or _default_workers()
    run["workers"] = n_workers
    if n_workers > 1 and len(todo) > 1:
        yield from _run_pool(tj, todo, n_workers)
        return
    n_threads = min(chunk_threads or _default_chunk_threads(), len(todo))
    if n_threads > 1:
        run["chunk_threads"] = n_threads
        yield from _run_threads(tj, todo, n_threads)
        return
    for i in todo:
        yield compute_task(tj, [i], 0)


def _run_threads(tj: str, todo: list[int], n_threads: int) -> Iterator[list[tuple[int, bytes, dict[str, Any]]]]:
    """Chunks in this process, ``n_threads`` at once on as many Python threads, each chunk's engine
    on its own thread (the kernels release the GIL; one thread never enters numba's thread pool:
    :func:`mitrasim.physiology.dispatch.run_batch`), in order of their indices and yielded as they
    finish.  The last chunk, started when no other is left to start, runs its engine on every core
    (engine threads: 0), so that a core whose thread has no chunk left does not idle while it
    finishes.  At most ``n_threads`` chunks are in flight, so no more than that many finished
    tables wait in memory.  The objects alive before the run are left out of the garbage
    collector's full collections for the whole run (:func:`_older_objects_frozen`: once here, as
    ``gc.freeze`` is process-wide, rather than per chunk from two threads)."""
    from collections import deque
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    queue = deque(todo)
    pending: set[Future] = set()
    with _older_objects_frozen(), ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="mitrasim-chunk") as ex:
        try:
            while queue or pending:
                while queue and len(pending) < n_threads:
                    i = queue.popleft()
                    pending.add(ex.submit(compute_task, tj, [i], 1 if queue else 0))
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in sorted(finished, key=lambda f: f.result()[0][0]):  # dropped from ``pending``: a finished result is not kept
                    yield f.result()
        except BaseException:  # Ctrl-C or a failed chunk: start nothing more (the chunks running finish)
            queue.clear()
            for f in pending:
                f.cancel()
            raise


def _pool_init() -> None:
    os.environ.setdefault("MITRASIM_THREADS", "1")


def _run_pool(tj: str, todo: list[int], n_workers: int) -> Iterator[list[tuple[int, bytes, dict[str, Any]]]]:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, wait

    with ProcessPoolExecutor(max_workers=n_workers, mp_context=mp.get_context("spawn"), initializer=_pool_init) as ex:
        pending = {ex.submit(compute_task, tj, [i], 1) for i in todo}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:  # dropped from ``pending``: a finished result is not kept
                yield f.result()


#: Seconds to wait for a Dask scheduler given by ``--scheduler`` before giving up.
DASK_CONNECT_TIMEOUT_S = 15.0


#: Dask settings of the clusters a trial starts itself (``--dask-local``): three of Dask's
#: diagnostics, which wake in every process many times a second, turned off or down.  On the 2-core
#: machine (benchmarks/RESULTS.md, "In-process trials on both cores, and Dask 1 → 2 workers") they
#: took 6.6 % of a worker's task CPU outside its task thread (0.3–0.5 % without them) and 25–30 ms of
#: CPU per second in the client's process, where the local scheduler runs (6–9 ms without): nothing
#: with one worker, whose process leaves a core free for them, but CPU taken from the workers when
#: there is one per core.  The worker's memory monitor (spilling, pausing) is left as it is.  For a
#: cluster started elsewhere, give its workers and scheduler the same settings (README, trials).
DASK_QUIET_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,  # the statistical profiler: the task thread's stack sampled every 10 ms
    "distributed.admin.tick.interval": "1s",  # the event loop's responsiveness check (default 20 ms)
    "distributed.admin.system-monitor.interval": "2s",  # CPU, memory and network samples for the dashboard (default 500 ms)
}


def local_dask_cluster(n_workers: int) -> Any:
    """A local Dask cluster of ``n_workers`` single-threaded worker processes (loopback only, no
    dashboard), with :data:`DASK_QUIET_CONFIG` (the workers take it from their nannies at start)."""
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set(DASK_QUIET_CONFIG):
        return LocalCluster(n_workers=int(n_workers), threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)


@contextmanager
def _dask_client(scheduler: str | None, dask_local: int | None) -> Iterator[Any]:
    """A Dask client: on a new local cluster (:func:`local_dask_cluster`) or connected to the
    scheduler at ``scheduler``; closed (with its cluster) on exit."""
    from dask.distributed import Client

    cluster = None
    if dask_local:
        cluster = local_dask_cluster(dask_local)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError, TypeError) as e:
            raise InputError(
                "--scheduler", scheduler, "the address of a running Dask scheduler, e.g. tcp://HOST:8786",
                f"no connection within {DASK_CONNECT_TIMEOUT_S:g} s ({e.__class__.__name__}); nothing was written",
            ) from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _noop(i: int) -> int:
    return i


def _probe_overhead(client: Any) -> float:
    """The scheduler's round trip for one task: median of :data:`~mitrasim.cohort.scaling.OVERHEAD_PROBES` no-op tasks."""
    from mitrasim.cohort.scaling import OVERHEAD_PROBES, median_probe

    samples = []
    for i in range(OVERHEAD_PROBES):
        t0 = time.perf_counter()
        client.submit(_noop, i, pure=False).result()
        samples.append(time.perf_counter() - t0)
    return median_probe(samples)


def _cluster_threads(client: Any) -> int:
    """Worker threads on the cluster now (at least 1): one round trip to the scheduler."""
    return sum(int(w.get("nthreads", 1)) for w in client.scheduler_info().get("workers", {}).values()) or 1


class _ThreadCount:
    """:func:`_cluster_threads`, asked at most once per ``refresh_s`` (``Client.scheduler_info`` is a
    synchronous round trip with every worker's details: asked after every finished task it put one
    scheduler round trip per task into the client's serial path)."""

    def __init__(self, client: Any, refresh_s: float, clock: Callable[[], float] = time.monotonic):
        self.client, self.refresh_s, self.clock = client, refresh_s, clock
        self.at = -math.inf
        self.n = 1

    def __call__(self) -> int:
        now = self.clock()
        if now - self.at >= self.refresh_s:
            self.n, self.at = _cluster_threads(self.client), now
        return self.n


def _run_dask(tj: str, todo: list[int], client: Any, fixed_k: int | None, run: dict[str, Any]) -> Iterator[list[tuple[int, bytes, dict[str, Any]]]]:
    """Chunks on a Dask cluster, ``2·W`` tasks in flight, each of ``k`` consecutive chunks (adaptive:
    :func:`mitrasim.cohort.scaling.chunks_per_task`; ``fixed_k`` to force it).  A task's result is
    fetched and released as soon as it finishes (nothing finished stays in the cluster's memory);
    the tasks of a lost worker are rerun by Dask on the others (every task is a pure function of
    the trial and its chunk indices)."""
    from collections import deque
    from statistics import median

    from dask.distributed import as_completed as d_completed

    from mitrasim.cohort.scaling import WORKERS_REFRESH_S, chunks_per_task

    overhead = _probe_overhead(client)
    threads = _ThreadCount(client, WORKERS_REFRESH_S)
    run.update(mode="dask", workers=0, task_overhead_s=overhead, chunks_per_task=[])
    queue = deque(todo)
    tag = hashlib.sha1(tj.encode()).hexdigest()[:8]
    costs: list[float] = []
    ac = d_completed()
    in_flight = 0

    def top_up() -> None:
        """Keep ``2·W`` tasks in flight for the workers there now (a cluster's workers may join late)."""
        nonlocal in_flight
        n_threads = threads()
        run["workers"] = max(run["workers"], n_threads)
        while queue and in_flight < 2 * n_threads:
            k = fixed_k or (chunks_per_task(median(costs), overhead, n_threads, len(queue)) if costs else 1)
            idx = [queue.popleft() for _ in range(min(k, len(queue)))]
            run["chunks_per_task"].append(len(idx))
            ac.add(client.submit(compute_task, tj, idx, 1, pure=False, key=f"chunks-{tag}-{idx[0]}-{idx[-1]}"))
            in_flight += 1

    top_up()
    for fut in ac:
        in_flight -= 1
        res = fut.result()
        fut.release()
        costs.extend(c["compute_s"] for _, _, c in res)
        yield res
        top_up()
    ks = run.pop("chunks_per_task")
    run["tasks"] = len(ks)
    run["chunks_per_task"] = {str(k): ks.count(k) for k in sorted(set(ks))}  # task size → number of tasks


def read_results(out: str | Path) -> tuple[pa.Table, dict[str, Any]]:
    """All finished chunks of a trial folder (ordered by chunk, then arm as written) and its manifest."""
    out = Path(out)
    if not out.is_dir():
        raise InputError("DIR", str(out), "a trial output folder (with manifest.json)", "not a folder")
    man = _load_manifest(out, "DIR")
    if man is None:
        raise InputError("DIR", str(out), "a trial output folder (with manifest.json)")
    keys = sorted(man["chunks"], key=int)
    if not keys:
        raise InputError("DIR", str(out), "a trial folder with at least one finished chunk")
    tables = []
    for k in keys:
        f = out / man["chunks"][k]["file"]
        try:
            tables.append(pq.read_table(f))
        except (OSError, pa.ArrowException) as e:
            raise InputError("DIR", str(out), "a trial folder whose finished chunks are intact",
                             f"chunk {k} ({man['chunks'][k]['file']}): {str(e).splitlines()[0][:120]}; run the trial again with --resume to recompute it") from None
    return pa.concat_tables([t.replace_schema_metadata(None) for t in tables]), man


def iter_chunk_tables(out: str | Path) -> Iterable[tuple[int, pa.Table]]:
    out = Path(out)
    for f in sorted((out / CHUNK_DIR).glob("chunk-*.parquet")):
        yield int(f.stem.split("-")[1]), pq.read_table(f)
