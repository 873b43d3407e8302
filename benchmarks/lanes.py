"""Lanes spent on padding in the batched kernel (issue 19, goal 4).

``--per-lane``: the CPU per lane-step of each remainder group kernel (``engine.REMAINDER_LANES``)
against the ``engine.LANES``-lane one: the same patients (``--n`` of one preset at spread heart rates, so several
step-count segments), a fixed number of beats each (``min_beats = max_beats = --beats``, a tolerance
no state meets; once with metrics on the last beat only, once on every beat), one thread, kernels
interleaved, CPU seconds of each call; the kernels' numbers are compared bit for bit.

``--trial N``: records every batch call of an ``N``-patient trial (one chunk at a time, in process)
and replays each call's lane
schedule from its columns' beats to steady (a group kernel's lanes take the next column of their
work item as their patient settles, the lowest lane first at a beat's end: a heap of (beat, lane)):
real and computed columns per call, the lane-beat-steps of real patients against those computed
(padding, and lanes idle while the last patients of a work item settle) under this checkout's
layout (``simulation._layout``, ``dispatch.plan_work``).  Run it in two checkouts to compare layouts.

    PYTHONPATH=src python benchmarks/lanes.py --per-lane --n 4000 --repeats 5
    PYTHONPATH=src python benchmarks/lanes.py --trial 2000 --population tvt_mixed
"""

from __future__ import annotations

import argparse
import heapq
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mitrasim.physiology import dispatch  # noqa: E402
from mitrasim.physiology import engine as E  # noqa: E402
from mitrasim.physiology.simulation import SolverSettings, simulate  # noqa: E402


def _captured_batch(n: int, preset: str, beats: int, min_beats: int):
    """The arguments of the kernel call of ``simulate()`` on ``n`` patients at spread heart rates,
    ``beats`` fixed beats each (the call itself is run once: it loads or compiles the kernels)."""
    hr = np.random.default_rng(1).uniform(60.0, 90.0, n)
    cap: dict = {}
    inner = dispatch.run_batch

    def spy(*a, **kw):
        cap["a"] = a
        inner(*a, **kw)

    dispatch.run_batch = spy
    try:
        s = SolverSettings(dt_max_s=3.448275e-3, tol=1e-12, min_beats=min_beats, max_beats=beats, threads=1)
        simulate(preset, eroa_cm2=0.3, mva_cm2=4.0, hr_bpm=hr, settings=s)
    finally:
        dispatch.run_batch = inner
    return cap["a"]


def per_lane(n: int, preset: str, beats: int, repeats: int) -> None:
    for min_beats, label in ((beats, "metrics on the last beat"), (1, "metrics on every beat")):
        P, X0, kind, diode, seg, mb, xb, tol, ew, metrics, x_end, waves, accel, _ = _captured_batch(n, preset, beats, min_beats)
        groups = dispatch._kernels(diode)[1]
        cols = P.shape[1]
        assert not (np.diff(seg.start) % min(groups)).any()  # every kernel runs every column

        def run(kernel):
            m, xe = np.zeros_like(metrics), np.zeros_like(x_end)
            c0 = time.process_time()
            for k in range(len(seg.n_steps)):
                dispatch._call(kernel, P, X0, kind, int(seg.n_steps[k]), mb, xb, tol, ew, m, xe, waves, accel, int(seg.start[k]), int(seg.start[k + 1]))
            return time.process_time() - c0, m, xe

        out = {lanes: run(kernel) for lanes, kernel in groups.items()}  # loaded or compiled before timing
        same = {lanes: np.array_equal(o[1], out[E.LANES][1], equal_nan=True) and np.array_equal(o[2], out[E.LANES][2]) for lanes, o in out.items()}
        cpu: dict[int, list[float]] = {lanes: [] for lanes in groups}
        for _ in range(repeats):
            for lanes, kernel in groups.items():
                cpu[lanes].append(run(kernel)[0])
        lane_steps = float(np.sum(np.diff(seg.start) * seg.n_steps)) * beats
        med = {k: float(np.median(v)) for k, v in cpu.items()}
        print(f"{preset}, {n:,} patients ({cols:,} columns, {len(seg.n_steps)} step counts), {beats} beats, {label}, one thread, "
              f"{repeats} interleaved runs (medians), load {os.getloadavg()[0]:.1f}:")
        for lanes in groups:
            print(f"  {lanes:2d} lanes: {med[lanes]:.3f} CPU-s  {1e9 * med[lanes] / lane_steps:.2f} ns per lane-step, "
                  f"{med[lanes] / med[E.LANES]:.3f}× the {E.LANES}-lane kernel's; numbers bit-identical to its: {same[lanes]}  "
                  f"(runs {', '.join(f'{c:.3f}' for c in cpu[lanes])})")


def _makespan(beats: np.ndarray, lanes: int) -> int:
    """Beats a group kernel of ``lanes`` lanes runs over columns of these beats to steady, in column order."""
    heap = [(0, j) for j in range(lanes)]
    end = 0
    for b in beats.tolist():
        t, j = heapq.heappop(heap)
        heapq.heappush(heap, (t + b, j))
        end = max(end, t + b)
    return end


def trial(n: int, population: str, chunk: int) -> None:
    from cohort import _trial  # benchmarks/cohort.py

    from mitrasim.cohort.trial import run_trial

    inner = dispatch.run_batch
    calls: list[tuple] = []

    def record(P, X0, kind, diode, n_steps, *rest, n_patients=None, threads=0):
        inner(P, X0, kind, diode, n_steps, *rest, n_patients=n_patients, threads=threads)
        if P.shape[1] > 1:
            metrics = rest[4]
            seg = n_steps if isinstance(n_steps, dispatch.Segments) else dispatch.Segments.one(int(n_steps), P.shape[1], P.shape[1] if n_patients is None else n_patients)
            calls.append((seg, metrics[E.MI["beats_to_steady"]].astype(np.int64)))

    run_trial(_trial(200, 200, population), Path(tempfile.mkdtemp()) / "warm", workers=1, chunk_threads=1, progress=False)
    dispatch.run_batch = record
    try:
        with tempfile.TemporaryDirectory() as d:
            run_trial(_trial(n, chunk, population), Path(d) / "a", workers=1, chunk_threads=1, progress=False)
    finally:
        dispatch.run_batch = inner
    useful = computed = 0.0
    real_cols, cols = [], []
    by_lanes: dict[int, float] = {}
    for seg, beats in calls:
        real = np.zeros(len(beats), bool)
        for k in range(len(seg.n_real)):
            real[seg.start[k]:seg.start[k] + seg.n_real[k]] = True
        useful += float(np.sum(beats[real] * np.repeat(seg.n_steps, np.diff(seg.start))[real]))
        for row in dispatch.plan_work(seg, 1)[0].tolist():
            c0, c1, steps = row[:3]
            lanes = row[3] if len(row) > 3 else E.LANES
            w = _makespan(beats[c0:c1], lanes) * lanes * steps
            computed += w
            by_lanes[lanes] = by_lanes.get(lanes, 0.0) + w
        real_cols.append(int(real.sum()))
        cols.append(len(beats))
    print(f"{population}, {n:,}-patient trial (chunks of {chunk}): {len(calls)} batch calls, real columns per call median {np.median(real_cols):.0f}, "
          f"computed columns {sum(cols):,} for {sum(real_cols):,} patients ({sum(cols) / sum(real_cols):.3f} per patient)")
    print(f"  lane-beat-steps: real patients {useful:.4g}, computed {computed:.4g}: useful {100 * useful / computed:.1f} % "
          f"({', '.join(f'{lanes}-lane groups {100 * w / computed:.1f} %' for lanes, w in sorted(by_lanes.items()))} of the computed)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-lane", action="store_true")
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--preset", default="secondary_mr")
    ap.add_argument("--beats", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--trial", type=int, default=0, metavar="N")
    ap.add_argument("--population", default="tvt_mixed")
    ap.add_argument("--chunk", type=int, default=2500)
    a = ap.parse_args()
    if a.per_lane:
        per_lane(a.n, a.preset, a.beats, a.repeats)
    if a.trial:
        trial(a.trial, a.population, a.chunk)


if __name__ == "__main__":
    main()
