"""Compile CPU seconds of a first batch on two engine threads on an empty compile cache (issue 19, goal 3).

Runs, in a fresh process per checkout with ``MITRASIM_CACHE_DIR`` a new temporary folder, one
``simulate()`` of ``--n`` patients at three heart rates (three step-count segments, so remainder
blocks too) with ``SolverSettings(threads=2)``: the multi-thread batch path.  Records numba's
top-level ``numba:compile`` events (CPU and wall seconds) and the kernels left in the cache.  With
``--checkout`` given several times the checkouts alternate, ``--repeat`` rounds.

    PYTHONPATH=src python benchmarks/first_batch.py --checkout . --checkout ../other --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r'''
import json, sys, time, resource
import numpy as np
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
from numba.core import event as ev
events, depth = [], [0]
class L(ev.Listener):
    def on_start(self, event):
        depth[0] += 1
        if depth[0] == 1:
            events.append([event.data["dispatcher"].py_func.__name__, cpu(), time.perf_counter()])
    def on_end(self, event):
        depth[0] -= 1
        if depth[0] == 0:
            events[-1][1:] = [cpu() - events[-1][1], time.perf_counter() - events[-1][2]]
ev.register("numba:compile", L())
from mitrasim.physiology import simulation as S
n = int(sys.argv[1])
t0, w0 = cpu(), time.perf_counter()
S.simulate("regazzoni2022", eroa_cm2=np.linspace(0.1, 0.5, n), hr_bpm=np.array([62.0, 75.0, 91.0])[np.arange(n) % 3],
           settings=S.SolverSettings(threads=2))
print(json.dumps({"cpu_s": cpu() - t0, "wall_s": time.perf_counter() - w0, "compile": events}))
'''


def run_once(checkout: Path, n: int) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "MITRASIM_CACHE_DIR": cache, "PYTHONPATH": str(checkout / "src")}
        p = subprocess.run([sys.executable, "-c", CHILD, str(n)], env=env, capture_output=True, text=True, check=True)
        r = json.loads(p.stdout.strip().splitlines()[-1])
        r["kernels_cached"] = sorted({f.name.split("-")[0].rsplit(".", 1)[-1] for f in Path(cache).rglob("*.nbi")})
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkout", type=Path, action="append", default=None, help="repository root (repeatable; default .)")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    for rnd in range(args.repeat):
        for c in args.checkout or [Path(".")]:
            load = os.getloadavg()
            r = run_once(c.resolve(), args.n)
            comp = sum(e[1] for e in r["compile"])
            print(f"round {rnd} {c}: compile {comp:.1f} CPU-s ({sum(e[2] for e in r['compile']):.1f} s wall) of {r['cpu_s']:.1f} CPU-s, "
                  f"{r['wall_s']:.1f} s wall; {', '.join(f'{e[0]} {e[1]:.1f}' for e in r['compile'])}; "
                  f"cached {r['kernels_cached']}; load {load[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
