"""Benchmark: a full planner search (>= 500 plans) once the engine is compiled.

    PYTHONPATH=src python benchmarks/planner.py [--repeat 5] [--threads N]

Prints the number of plans, the engine seconds (one warm-started batch) and the
total seconds of ``plan_case`` (enumeration, clip model, engine, echo grading,
ranking) for each example case; the first call of each process is a warm-up
(compilation is cached on disk, see mitrasim.physiology._numba_cache).
Target (issue 4): < 1 s for >= 500 plans on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="engine threads (0 = all cores)")
    ap.add_argument("--cases", nargs="*", default=["p2_flail", "coapt_secondary", "small_valve", "commissural_a3p3", "barlow"])
    a = ap.parse_args()
    if a.threads:
        os.environ["MITRASIM_THREADS"] = str(a.threads)
    from mitrasim.case import load_case
    from mitrasim.procedure import plan_case

    print(f"# planner benchmark · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · threads {a.threads or 'all'}")
    print(f"{'case':18s} {'plans':>6s} {'engine s (median)':>18s} {'total s (median)':>17s} {'total s (min)':>14s}")
    for name in a.cases:
        case = load_case(ROOT / "examples" / f"{name}.yaml")
        plan_case(case)  # warm-up: loads the compiled engine
        eng, tot = [], []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            r = plan_case(case)
            tot.append(time.perf_counter() - t0)
            eng.append(r.seconds_engine)
        print(f"{name:18s} {r.n_evaluated:6d} {statistics.median(eng):18.3f} {statistics.median(tot):17.3f} {min(tot):14.3f}")


if __name__ == "__main__":
    main()
