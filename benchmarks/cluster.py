"""Trials on Dask (issue 19, goal 5): wall time with 1 and 2 local workers, the adaptive task sizes,
and the projection the trial report makes (:mod:`mitrasim.cohort.scaling`) from the measured chunks.

    PYTHONPATH=src python benchmarks/cluster.py --n 40000 --chunk 1000 --workers 1,2
    PYTHONPATH=src python benchmarks/cluster.py --n 40000 --chunk 1000 --workers 1,2 --existing
    PYTHONPATH=src python benchmarks/cluster.py --n-per-worker 10000 --chunk 1000 --workers 2,16 --existing  # projection checked
    PYTHONPATH=src python benchmarks/cluster.py --n 40000 --chunk 1000 --workers 1,2 --dask-defaults  # Dask's own diagnostics left on

With ``--n-per-worker K`` the run on W workers holds K·W patients (weak scaling), and every run after
the first is compared with the wall time the first run's trial folder projects for it
(:func:`mitrasim.cohort.scaling.projected_wall_s`: its median chunk's cost per patient and core, its
warm-up and its per-task costs, for that run's patients on that run's workers).

Without ``--existing`` each run starts its local cluster (``run_trial(dask_local=W)``) and the time
includes starting the worker processes; with it the cluster (W single-threaded worker processes,
nothing imported in them yet) is started and waited for before the clock starts, and the trial
connects to it by address as it would to an existing cluster (``run_trial(scheduler=...)``): the time
then holds what a trial costs on a running cluster, its workers' imports and kernel loads included.

Prints one line per run and the projection of the last run; paste into benchmarks/RESULTS.md with
the machine, the load average and the command.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from mitrasim.cohort import trial as trial_module
from mitrasim.cohort.scaling import projected_wall_s, throughput
from mitrasim.cohort.trial import local_dask_cluster, parse_trial, read_results, run_trial


def _trial(n: int, chunk: int, population: str):
    return parse_trial({
        "name": f"cluster_{n}", "population": population, "n_patients": n, "seed": 20240601, "chunk_size": chunk,
        "arms": [{"name": "le2", "strategy": {"stop_rule": "mr_le_2plus", "max_clips": 2}}],
    })  # fmt: skip


def _running_cluster(workers: int):
    """A local cluster of ``workers`` single-threaded worker processes, started and waited for (the
    cluster ``--dask-local`` starts: :func:`mitrasim.cohort.trial.local_dask_cluster`)."""
    from dask.distributed import Client

    cluster = local_dask_cluster(workers)
    with Client(cluster) as client:
        client.wait_for_workers(workers)
    return cluster


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40_000)
    ap.add_argument("--chunk", type=int, default=1000)
    ap.add_argument("--workers", default="1,2", help="comma-separated Dask worker counts, run in this order")
    ap.add_argument("--population", default="tvt_mixed")
    ap.add_argument("--existing", action="store_true", help="start each cluster before the clock and connect by address")
    ap.add_argument("--n-per-worker", type=int, default=0, help="K: K·W patients on W workers (weak scaling), each run after the first checked against the first's projection")
    ap.add_argument("--dask-defaults", action="store_true", help="Dask's default diagnostics on the clusters (not DASK_QUIET_CONFIG)")
    a = ap.parse_args()
    if a.dask_defaults:
        trial_module.DASK_QUIET_CONFIG = {}
    os.environ.setdefault("MITRASIM_THREADS", "1")
    tmp = Path(tempfile.mkdtemp())
    walls: dict[int, float] = {}
    rates: dict[int, float] = {}
    man = {}
    first = None
    for w in (int(x) for x in a.workers.split(",")):
        n = a.n_per_worker * w if a.n_per_worker else a.n
        trial = _trial(n, a.chunk, a.population)
        out = tmp / f"w{w}"
        cluster = _running_cluster(w) if a.existing else None
        t0, c0 = time.perf_counter(), time.process_time()
        if cluster is None:
            r = run_trial(trial, out, dask_local=w, progress=False)
        else:
            r = run_trial(trial, out, scheduler=cluster.scheduler_address, progress=False)
        walls[w] = time.perf_counter() - t0
        rates[w] = n / walls[w]
        client_cpu = time.process_time() - c0  # this process: the client and the local cluster's scheduler
        if cluster is not None:
            cluster.close()
        entries = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines() if line.strip()]
        compute = sorted(float(e["compute_s"]) for e in entries if "compute_s" in e)
        if compute:
            print(f"  chunks' compute on the workers: {sum(compute):.1f} s in all, median {compute[len(compute) // 2]:.2f} s, "
                  f"first {float(entries[0].get('compute_s', float('nan'))):.2f} s, largest {compute[-1]:.2f} s", flush=True)
        man = read_results(out)[1]  # the manifest with the journal's chunk entries (their recorded costs)
        run = r["run"]
        print(f"dask {w} worker(s){' (running cluster)' if a.existing else ''}: {n:,} patients in {walls[w]:.1f} s, {n / walls[w]:,.0f} patients/s; tasks {run['tasks']} "
              f"(chunks per task {run['chunks_per_task']}); scheduler round trip {1000 * run['task_overhead_s']:.1f} ms; "
              f"client {1000 * run['client_s_per_chunk']:.1f} ms per chunk; client+scheduler CPU {client_cpu:.2f} s "
              f"({1000 * client_cpu / trial.n_chunks:.0f} ms per chunk); load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        if first is None:
            first = (w, throughput(man))
        elif first[1] is not None:
            proj = projected_wall_s(first[1], n, w, a.chunk)
            print(f"  projected from the {first[0]}-worker run: {proj:.1f} s; measured {walls[w]:.1f} s (measured / projected {walls[w] / proj:.2f})", flush=True)
    if 1 in rates and 2 in rates:
        print(f"1 -> 2 workers: {rates[2] / rates[1]:.2f}x (patients per second)")
    tp = throughput(man)
    if tp is not None:
        print(f"last run: {tp.patients_per_s_per_core:.1f} patients/s per core (median chunk), warm-up {tp.warmup_s:.1f} s")
        for p in tp.projections:
            print(f"  projected {p['patients']:,} patients on {p['cores']} cores: {p['wall_s']:,.0f} s")


if __name__ == "__main__":
    main()
