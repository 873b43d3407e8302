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

``--replay N``: records the real patients of every batch call of an ``N``-patient trial (parameters,
start states, step counts, solver settings), then runs every call again, in one process and
interleaved ``--repeats`` times, laid out two ways: every segment padded to whole blocks of
``engine.LANES`` (the layout before the remainder kernels) and as ``simulation._layout`` lays it out
now; CPU seconds inside ``dispatch.run_batch`` on ``--threads`` engine threads (1: the one-thread
path of a trial's chunk threads), and the real patients' numbers compared bit for bit.

    PYTHONPATH=src python benchmarks/lanes.py --per-lane --n 4000 --repeats 5
    PYTHONPATH=src python benchmarks/lanes.py --trial 2000 --population tvt_mixed
    PYTHONPATH=src python benchmarks/lanes.py --replay 5000 --population tvt_mixed --repeats 3
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
    calls: list[tuple] = []
    _record_trial(n, population, chunk, lambda seg, args, kw: calls.append((seg, args[9][E.MI["beats_to_steady"]].astype(np.int64))))
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


def _record_trial(n: int, population: str, chunk: int, keep) -> None:
    """Run an ``n``-patient trial (one chunk at a time, in process, after a warm-up trial) with
    ``keep(seg, args, kw)`` called after every batch call of the engine."""
    from cohort import _trial  # benchmarks/cohort.py

    from mitrasim.cohort.trial import run_trial

    inner = dispatch.run_batch

    def record(*args, **kw):
        inner(*args, **kw)
        P, n_steps = args[0], args[4]
        if P.shape[1] > 1:
            n_patients = kw.get("n_patients")
            seg = n_steps if isinstance(n_steps, dispatch.Segments) else dispatch.Segments.one(int(n_steps), P.shape[1], P.shape[1] if n_patients is None else n_patients)
            keep(seg, args, kw)

    run_trial(_trial(200, 200, population), Path(tempfile.mkdtemp()) / "warm", workers=1, chunk_threads=1, progress=False)
    dispatch.run_batch = record
    try:
        with tempfile.TemporaryDirectory() as d:
            run_trial(_trial(n, chunk, population), Path(d) / "a", workers=1, chunk_threads=1, progress=False)
    finally:
        dispatch.run_batch = inner


def _laid_out(call: dict, remainder_blocks: bool):
    """A recorded call's real patients grouped by step count, each segment padded with copies of its
    first patient to whole blocks of LANES, or (``remainder_blocks``) to :func:`dispatch.padded_width`."""
    steps = call["steps"]
    order = np.argsort(steps, kind="stable")
    s = steps[order]
    first = np.concatenate(([0], np.flatnonzero(s[1:] != s[:-1]) + 1))
    n_real = np.diff(np.append(first, len(s)))
    width = dispatch.padded_width(n_real) if remainder_blocks else -(-n_real // E.LANES) * E.LANES
    start = np.concatenate(([0], np.cumsum(width)))
    src = np.repeat(order[first], width)
    at = np.arange(len(s)) + np.repeat(start[:-1] - first, n_real)
    src[at] = order
    seg = dispatch.Segments(start.astype(np.int64), n_real.astype(np.int64), s[first].astype(np.int64))
    return seg, src, at, order


def replay(n: int, population: str, chunk: int, repeats: int, threads: int) -> None:
    calls: list[dict] = []

    def keep(seg, args, kw):
        P, X0, kind, diode, _, min_beats, max_beats, tol, ew, metrics, x_end, waves, accel, _ = args
        real = np.concatenate([np.arange(seg.start[k], seg.start[k] + seg.n_real[k]) for k in range(len(seg.n_real))])
        calls.append({"P": P[:, real], "X0": X0[:, real], "ew": ew[:, real], "steps": np.repeat(seg.n_steps, seg.n_real),
                      "kind": kind, "diode": diode, "solver": (min_beats, max_beats, tol), "accel": accel, "wave_steps": waves.shape[1]})

    _record_trial(n, population, chunk, keep)

    def run(call: dict, remainder_blocks: bool):
        seg, src, at, order = _laid_out(call, remainder_blocks)
        n_pad = int(seg.start[-1])
        metrics, x_end = np.zeros((E.N_METRIC, n_pad)), np.zeros((14, n_pad))
        waves = np.zeros((E.N_WAVE, call["wave_steps"] and int(seg.n_steps.max()), n_pad))
        P, X0, ew = (np.ascontiguousarray(call[k].take(src, axis=1)) for k in ("P", "X0", "ew"))
        c0 = time.process_time()
        dispatch.run_batch(P, X0, call["kind"], call["diode"], seg, *call["solver"], ew, metrics, x_end, waves, call["accel"], threads, threads=threads)
        cpu = time.process_time() - c0
        out = np.empty((E.N_METRIC, len(order)))
        out[:, order] = metrics[:, at]
        return cpu, n_pad, out

    cpu: dict[bool, list[float]] = {False: [], True: []}
    cols: dict[bool, int] = {}
    outs: dict[bool, list[np.ndarray]] = {}
    same = True
    for _ in range(repeats):
        for rb in (False, True):
            total, n_cols, outs[rb] = 0.0, 0, []
            for call in calls:
                c, k, out = run(call, rb)
                total += c
                n_cols += k
                outs[rb].append(out)
            cpu[rb].append(total)
            cols[rb] = n_cols
        same = same and all(np.array_equal(a, b, equal_nan=True) for a, b in zip(outs[False], outs[True]))
    med = {k: float(np.median(v)) for k, v in cpu.items()}
    print(f"{population}, the {len(calls)} batch calls of a {n:,}-patient trial ({sum(len(c['steps']) for c in calls):,} patient states) replayed, "
          f"{threads} engine thread(s), {repeats} interleaved runs (medians), load {os.getloadavg()[0]:.1f}:")
    for rb, label in ((False, f"whole blocks of {E.LANES}"), (True, f"remainder blocks of {', '.join(map(str, E.REMAINDER_LANES))}")):
        print(f"  {label:28s} {cols[rb]:8,} columns  kernel {med[rb]:.3f} CPU-s  (runs {', '.join(f'{c:.3f}' for c in cpu[rb])})")
    print(f"  remainder blocks / whole blocks: columns {cols[True] / cols[False]:.3f}, kernel CPU {med[True] / med[False]:.3f}; "
          f"real patients' numbers bit-identical: {same}")


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
    ap.add_argument("--replay", type=int, default=0, metavar="N")
    ap.add_argument("--threads", type=int, default=1, help="with --replay: engine threads")
    a = ap.parse_args()
    if a.per_lane:
        per_lane(a.n, a.preset, a.beats, a.repeats)
    if a.trial:
        trial(a.trial, a.population, a.chunk)
    if a.replay:
        replay(a.replay, a.population, a.chunk, a.repeats, a.threads)


if __name__ == "__main__":
    main()
