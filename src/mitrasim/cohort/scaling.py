"""Trials on a Dask cluster: adaptive grouping of chunks into tasks, and the throughput projection.

A trial's ``chunk_size`` chunk is its unit of storage (one Parquet file, one journal line) and its
randomness comes from fixed blocks of patients (:data:`mitrasim.cohort.trial.RANDOM_BLOCK_PATIENTS`,
:mod:`mitrasim.cohort.trial`), so results never depend on the chunk size, on how chunks are grouped
into tasks or on the number of workers.  What adapts to the cluster is the number
``k`` of consecutive chunks one Dask task computes:

* measured: ``c``, the median compute seconds of one chunk on one core (timed on the worker), and
  ``o``, the scheduler's round trip for one task (a no-op task submitted and gathered, median of
  :data:`OVERHEAD_PROBES`), on ``W`` worker threads;
* ``k_overhead = ceil(o / (OVERHEAD_SHARE · c))`` — the scheduler's share of a task at most
  :data:`OVERHEAD_SHARE`;
* ``k_balance = floor(R / (TASKS_PER_WORKER · W))`` for ``R`` chunks still to submit — every
  worker keeps at least :data:`TASKS_PER_WORKER` tasks to take, so the last wave is short;
* ``k_loss = floor(MAX_TASK_S / c)`` — a lost worker loses at most :data:`MAX_TASK_S` seconds of work;
* ``k = max(1, min(k_overhead, k_balance, k_loss))``.  The first ``2·W`` tasks are one chunk each
  (they measure ``c``).

Projection (``projected_wall_s``), from the chunks' recorded costs::

    T(N) = P · s_core / N  +  n_tasks · (o + w)  +  u

``s_core``: core-seconds per patient of the median chunk (compute seconds × threads ÷ patients);
``u`` a worker's warm-up (imports, the compiled engine's cache), paid once per worker in parallel:
the costliest chunk's seconds minus the median chunk's;
``P`` patients; ``N`` cores; ``w`` the client's serial seconds per chunk (writing the bytes
it received and appending the journal line: the Parquet encoding and the SHA-256 are done where
the chunk was computed).  Assumptions: compute scales linearly with cores (independent patients, no shared
state); the scheduler's and the client's per-task costs are serial and do not overlap the compute
(an upper bound on them); one task per chunk; no worker loss; patients cost the same on every core.
Checked against measured runs (``benchmarks/cluster.py --n-per-worker``, ``benchmarks/RESULTS.md``): from
a 1-worker run the 2-worker wall time was projected to within a few per cent, and on a 16-vCPU VM with the
clusters' quiet Dask settings (:data:`mitrasim.cohort.trial.DASK_QUIET_CONFIG`) the 8- and 16-worker wall
times from a 2-worker run within about 10 %; with Dask's default diagnostics a chunk's compute grew with the
number of concurrent workers and the projection under-estimated 16 workers by a quarter to a third: linear
scaling makes ``T(N)`` a lower bound on machines whose cores slow under full load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import median
from typing import Any, Iterable

__all__ = [
    "OVERHEAD_SHARE", "TASKS_PER_WORKER", "MAX_TASK_S", "OVERHEAD_PROBES", "WORKERS_REFRESH_S", "PROJECTION_CORES", "PROJECTION_PATIENTS",
    "chunks_per_task", "Throughput", "throughput", "projected_wall_s",
]  # fmt: skip

#: Largest share of a task's time the scheduler's round trip may take.
OVERHEAD_SHARE = 0.02
#: Tasks every worker keeps in the queue (load balance of the last wave).
TASKS_PER_WORKER = 4
#: Longest task, in seconds of compute: the work a lost worker can take with it.
MAX_TASK_S = 60.0
#: Seconds between two counts of the cluster's worker threads while a trial runs (each count is a
#: round trip to the scheduler; workers that join are given tasks within this time).
WORKERS_REFRESH_S = 5.0
#: No-op tasks timed to measure the scheduler's round trip.
OVERHEAD_PROBES = 10
#: Core counts of the projection in the trial report.
PROJECTION_CORES = (16, 64, 256)
#: Trial size of the report's second projection (a million-patient trial).
PROJECTION_PATIENTS = 1_000_000


def chunks_per_task(chunk_s: float, overhead_s: float, workers: int, remaining: int) -> int:
    """``k`` chunks per task (module docstring) from the per-chunk cost ``chunk_s``, the scheduler's
    round trip ``overhead_s``, ``workers`` threads and ``remaining`` chunks still to submit."""
    if not (chunk_s > 0 and math.isfinite(chunk_s)):
        return 1
    k_overhead = math.ceil(max(overhead_s, 0.0) / (OVERHEAD_SHARE * chunk_s))
    k_balance = remaining // (TASKS_PER_WORKER * max(workers, 1))
    k_loss = int(MAX_TASK_S // chunk_s)
    return max(1, min(k_overhead, k_balance, k_loss))


def median_probe(samples: Iterable[float]) -> float:
    """The median of the timed no-op round trips (seconds)."""
    s = list(samples)
    return float(median(s)) if s else 0.0


@dataclass(frozen=True)
class Throughput:
    """Measured throughput of a trial folder and its projected wall time (module docstring)."""

    patients: int
    core_seconds: float
    patients_per_s_per_core: float  # of the median chunk (warm-up excluded)
    warmup_s: float
    task_overhead_s: float | None  # None: no Dask run recorded (the projection then omits it)
    client_s_per_chunk: float
    n_chunks: int
    projections: list[dict[str, Any]]
    chunk_size: int = 1


def projected_wall_s(tp: Throughput, patients: int, cores: int, chunk_size: int | None = None) -> float:
    """``T(N)`` of the module docstring for ``patients`` on ``cores`` from ``tp``'s measured costs, in
    chunks of ``chunk_size`` patients (default: the measured trial's)."""
    n_tasks = -(-int(patients) // int(chunk_size or tp.chunk_size))
    return patients / (tp.patients_per_s_per_core * cores) + n_tasks * ((tp.task_overhead_s or 0.0) + tp.client_s_per_chunk) + tp.warmup_s


def throughput(manifest: dict[str, Any]) -> Throughput | None:
    """From a trial manifest's recorded chunk costs and runs; ``None`` when no chunk has costs
    recorded (a folder written before costs were kept)."""
    entries = [e for e in manifest.get("chunks", {}).values() if isinstance(e.get("compute_s"), (int, float)) and e.get("rows")]
    if not entries:
        return None
    n_arms = max(len(manifest.get("arms", [])), 1)
    patients = sum(int(e["rows"]) // n_arms for e in entries)
    core_s = sum(float(e["compute_s"]) * int(e.get("threads", 1)) for e in entries)
    runs = [r for r in manifest.get("runs", []) if isinstance(r, dict)]
    probes = [float(r["task_overhead_s"]) for r in runs if isinstance(r.get("task_overhead_s"), (int, float))]
    overhead = median_probe(probes) if probes else None
    client = median_probe(float(r["client_s_per_chunk"]) for r in runs if isinstance(r.get("client_s_per_chunk"), (int, float)))
    per_chunk = sorted(float(e["compute_s"]) * int(e.get("threads", 1)) for e in entries)
    per_patient = sorted(float(e["compute_s"]) * int(e.get("threads", 1)) / (int(e["rows"]) // n_arms) for e in entries)
    s_core = float(median(per_patient))
    warmup = per_chunk[-1] - float(median(per_chunk))
    chunk_size = int(manifest.get("chunk_size", 1)) or 1
    tp = Throughput(patients, core_s, 1.0 / s_core, warmup, overhead, client, len(entries), [], chunk_size)
    for total in dict.fromkeys((int(manifest.get("n_patients", patients)), PROJECTION_PATIENTS)):
        for cores in PROJECTION_CORES:
            tp.projections.append({"patients": total, "cores": cores, "wall_s": projected_wall_s(tp, total, cores)})
    return tp
