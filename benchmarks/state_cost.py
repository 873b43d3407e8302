"""The engine kernel's CPU per state against its beats per state (issue 19 goal 4): a fixed number of
beats ``k`` per state (``min_beats = max_beats = k``, a tolerance no state meets), ``--n`` patients of
one preset at spread heart rates, one engine thread, CPU seconds inside ``dispatch.run_batch``;
``cost(k) ≈ a + b·k`` separates the per-state cost ``a`` (the lane's start and elastance table, and the
beat metrics, which only a state's last beat carries here since ``min_beats = k``) from the cost ``b``
of a beat without metrics.  (A trial's states run with ``min_beats = 2``: metrics on every beat from the
second.)

    PYTHONPATH=src python benchmarks/state_cost.py --n 4000
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from mitrasim.physiology import dispatch
from mitrasim.physiology.simulation import SolverSettings, simulate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--preset", default="secondary_mr")
    ap.add_argument("--beats", default="1,2,3,5,9")
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    hr = np.random.default_rng(1).uniform(60.0, 90.0, a.n)
    cpu = {"s": 0.0}
    inner = dispatch.run_batch

    def timed(*args, **kw):
        c0 = time.process_time()
        inner(*args, **kw)
        cpu["s"] += time.process_time() - c0

    dispatch.run_batch = timed
    ks = [int(k) for k in a.beats.split(",")]
    simulate(a.preset, eroa_cm2=0.3, mva_cm2=4.0, hr_bpm=hr[:64], settings=SolverSettings(min_beats=1, max_beats=1, threads=1))  # load the kernel (not timed)
    rows: dict[int, list[float]] = {k: [] for k in ks}
    for _ in range(a.repeats):
        for k in ks:
            s = SolverSettings(dt_max_s=3.448275e-3, tol=1e-12, min_beats=k, max_beats=k, threads=1)
            cpu["s"] = 0.0
            simulate(a.preset, eroa_cm2=0.3, mva_cm2=4.0, hr_bpm=hr, settings=s)
            rows[k].append(1e6 * cpu["s"] / a.n)
    med = {k: float(np.median(v)) for k, v in rows.items()}
    for k in ks:
        print(f"{k} beats per state: kernel {med[k]:.1f} µs per state ({med[k] / k:.2f} µs per beat)")
    fit = [k for k in ks if k >= 2]
    b, a0 = np.polyfit(fit, [med[k] for k in fit], 1)
    print(f"fit over {fit} beats: {a0:.1f} µs per state + {b:.2f} µs per beat (one thread, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
