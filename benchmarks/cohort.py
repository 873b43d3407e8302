"""Benchmark: patients/s through the full cohort pipeline (sample → procedure → outcomes → Parquet).

Usage (from the repository root, mitrasim importable from src/)::

    PYTHONPATH=src python benchmarks/cohort.py --n 10000            # local, in-process and 2 processes
    PYTHONPATH=src python benchmarks/cohort.py --n 10000 --dask     # also Dask, 1 vs 2 workers
    PYTHONPATH=src python benchmarks/cohort.py --n 100000 --modes pool2

Prints one line per mode: wall seconds, patients/s (patients × arms counted once per patient),
engine seconds (summed over workers) and the share of worker time spent outside the engine.
One arm (stop rule MR <= 1+, up to 4 clips), tvt_mixed population, chunks of 2,500.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from mitrasim.cohort.trial import parse_trial, run_trial


def _trial(n: int, chunk: int, population: str):
    return parse_trial(
        {
            "name": "benchmark",
            "population": population,
            "n_patients": n,
            "seed": 1,
            "chunk_size": chunk,
            "arms": [{"name": "le1", "strategy": {"stop_rule": "mr_le_1plus", "max_clips": 4}}],
        }
    )


def _one(trial, mode: str, tmp: Path) -> dict:
    out = tmp / mode
    shutil.rmtree(out, ignore_errors=True)
    kw = {"inproc": {"workers": 1}, "pool2": {"workers": 2}, "dask1": {"dask_local": 1}, "dask2": {"dask_local": 2}}[mode]
    t0 = time.perf_counter()
    r = run_trial(trial, out, progress=False, **kw)
    wall = time.perf_counter() - t0
    workers = 2 if mode in ("pool2", "dask2") else 1
    busy = wall * workers
    return {"mode": mode, "wall_s": wall, "patients_per_s": trial.n_patients / wall, "engine_s": r["engine_seconds"], "outside_engine_share": max(0.0, 1 - r["engine_seconds"] / busy)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--chunk", type=int, default=2_500)
    ap.add_argument("--population", default="tvt_mixed")
    ap.add_argument("--modes", default="inproc,pool2")
    ap.add_argument("--dask", action="store_true", help="add dask1,dask2")
    a = ap.parse_args()
    modes = a.modes.split(",") + (["dask1", "dask2"] if a.dask else [])
    trial = _trial(a.n, a.chunk, a.population)
    # warm the compiled engine and the per-preset LV tables once (not timed)
    run_trial(_trial(200, 200, a.population), Path(tempfile.mkdtemp()) / "warm", workers=1, progress=False)
    with tempfile.TemporaryDirectory() as d:
        for m in modes:
            r = _one(trial, m, Path(d))
            print(
                f"{m:7s} n={a.n:>7,} wall {r['wall_s']:7.2f} s  {r['patients_per_s']:8,.0f} patients/s  "
                f"engine {r['engine_s']:7.2f} s  outside engine {100 * r['outside_engine_share']:4.1f}%"
            )


if __name__ == "__main__":
    main()
