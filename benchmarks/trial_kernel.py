"""The engine kernel inside a trial, replayed (issue 19 goal 4): why a trial's patient-beat costs
more kernel CPU than a fixed-beat benchmark's.

Records the kernel inputs of every batch call (``dispatch.run_batch`` with more than one column) of an
``--n``-patient trial (one chunk at a time, in process, after a warm-up trial: ``lanes._record_trial``),
then replays every call, in one process and interleaved ``--repeats`` times, laid out as
``simulation._layout`` lays it out (the trial's own columns and segments):

* ``trial``: the recorded settings (``min_beats = 2``, the trial's tolerance), on 1 and on
  ``--threads`` engine threads: CPU-s, wall, and each work list's busy time (``time.thread_time``
  inside ``dispatch._run_items``), so the threads' imbalance shows as wall, not CPU;
* ``fixed B last`` / ``fixed B all``: the same columns, every state exactly ``B`` beats
  (``min_beats = max_beats = B``, ``tol = 0``), beat metrics on the last beat only / on every beat,
  one thread: with B = 2 and B = ``--beats``, the per-state cost ``a`` (lane start, elastance table,
  finish), the cost per computed lane-step of a beat without metrics ``p`` and with them ``m`` on the
  trial's own patients, step counts and kernels:
  ``cost(B, last) = a·S + W·((B − 1)·p + m)``, ``cost(B, all) = a·S + W·B·m`` (S columns, W
  lane-steps per beat of the padded layout).

The trial's lane schedule is emulated from each column's recorded beats (a group kernel's lanes take
the next column of their work item when theirs is steady, the lowest lane first; every lane of a
group computes every step, idle or not): computed lane-steps on beats with metrics (some active lane
at or past its ``min_beats``-th beat) and without.  With ``a``, ``p`` and ``m`` that predicts the
trial replay's CPU; the decomposition table then charges the trial's CPU per real patient-beat, from
the fixed-beat rate, to: steps per beat, padding and idle lanes, metrics on every beat, the per-state
cost, and the rest (measured − predicted).

    PYTHONPATH=src python benchmarks/trial_kernel.py --n 5000 --population tvt_mixed --repeats 3
    PYTHONPATH=src python benchmarks/trial_kernel.py --n 5000 --per-call   # one line per call as well
    PYTHONPATH=src python benchmarks/trial_kernel.py --n 5000 --python     # only layout and dispatch Python per call
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lanes import _record_trial  # noqa: E402  (benchmarks/lanes.py)

from mitrasim.physiology import dispatch  # noqa: E402
from mitrasim.physiology import engine as E  # noqa: E402
from mitrasim.physiology import simulation as S  # noqa: E402

#: Steps per beat of the fixed-beat engine benchmark (``benchmarks/engine.py --only kernel``).
BENCH_STEPS = 208


def record(n: int, population: str, chunk: int) -> list[dict]:
    """Every batch call's real patients (parameters, start states, onset windows, step counts), the
    solver settings and each patient's recorded beats to steady."""
    calls: list[dict] = []

    def keep(seg, args, kw):
        P, X0, kind, diode, _, min_beats, max_beats, tol, ew, metrics, x_end, waves, accel, _ = args
        real = np.concatenate([np.arange(seg.start[k], seg.start[k] + seg.n_real[k]) for k in range(len(seg.n_real))])
        calls.append({"P": P[:, real], "X0": X0[:, real], "ew": ew[:, real], "steps": np.repeat(seg.n_steps, seg.n_real),
                      "beats": metrics[E.MI["beats_to_steady"], real].astype(np.int64), "kind": kind, "diode": diode,
                      "solver": (min_beats, max_beats, tol), "accel": accel, "wave_steps": waves.shape[1]})

    _record_trial(n, population, chunk, keep)
    return calls


def laid_out(call: dict) -> dict:
    """The call laid out as ``simulation._layout`` does: kernel inputs at the padded columns, the
    segments, and each column's recorded beats (padding repeats its segment's first patient)."""
    seg, src, pos = S._layout(call["steps"])
    src = np.arange(len(call["steps"])) if src is None else src
    n_pad = int(seg.start[-1])
    src_full = np.concatenate((src, np.zeros(n_pad - len(src), np.int64))) if len(src) < n_pad else src  # one step count: padding repeats patient 0
    take = lambda a: np.ascontiguousarray(a.take(src_full, axis=1))  # noqa: E731
    return {"seg": seg, "P": take(call["P"]), "X0": take(call["X0"]), "ew": take(call["ew"]), "beats": call["beats"].take(src_full),
            "pos": pos, "n_pad": n_pad}


def run(call: dict, lay: dict, solver: tuple, threads: int, busy: list | None = None) -> tuple[float, float, np.ndarray]:
    """One replay of a call: CPU-s and wall inside ``dispatch.run_batch``, and the real patients' metrics."""
    n_pad = lay["n_pad"]
    metrics, x_end = np.zeros((E.N_METRIC, n_pad)), np.zeros((14, n_pad))
    waves = np.zeros((E.N_WAVE, call["wave_steps"] and int(lay["seg"].n_steps.max()), n_pad))
    t0, c0 = time.perf_counter(), time.process_time()
    dispatch.run_batch(lay["P"], lay["X0"], call["kind"], call["diode"], lay["seg"], *solver, lay["ew"], metrics, x_end, waves, call["accel"],
                       threads, threads=threads)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    return cpu, wall, metrics[:, lay["pos"]]


#: The kernel parameters an elastance table is made of (besides the step count): the period, each
#: chamber's E_A and E_B, and its activation's six parameters.
TABLE_ROWS = [E._P_T] + [E._P_CH + 3 * i + k for i in range(4) for k in (0, 1)] + list(range(E._P_ACT, E._P_ACT + 24))


def schedule(items: list, beats: np.ndarray, min_beats: int, keys: list | None = None) -> dict:
    """The lane schedule of work items (first column, end column, steps per beat, lanes) from each
    column's beats: a group's lanes take the next column of their item as theirs settles (lowest lane
    first), and every lane computes every step of the group's beats, idle or not.  Returns the
    computed lane-steps on beats with metrics (some active lane at or past its ``min_beats``-th beat)
    and without, on beats where some lane's state ends (what a rule knowing each state's last beat in
    advance would still accumulate), and, with ``keys`` (each column's elastance-table inputs), the
    states started while another lane of their group held an equal table."""
    out = {"with": 0.0, "without": 0.0, "final": 0.0, "states": 0, "shared": 0}
    for c0, c1, steps, L in items:
        col = beats[c0:c1].tolist()
        n = len(col)
        lane_beat = [0] * L
        lane_left = col[:L] + [0] * (L - min(L, n))
        active = [i < n for i in range(L)]
        held = [keys[c0 + i] if (keys is not None and i < n) else None for i in range(L)]
        if keys is not None:
            out["shared"] += sum(held[i] in held[:i] for i in range(1, min(L, n)))
        nxt = L
        out["states"] += n
        while any(active):
            metric = any(active[j] and lane_beat[j] + 1 >= min_beats for j in range(L))
            out["with" if metric else "without"] += L * steps
            out["final"] += L * steps if any(active[j] and lane_beat[j] + 1 == lane_left[j] for j in range(L)) else 0
            for j in range(L):
                if not active[j]:
                    continue
                lane_beat[j] += 1
                if lane_beat[j] == lane_left[j]:
                    if nxt < n:
                        lane_left[j], lane_beat[j] = col[nxt], 0
                        if keys is not None:
                            k = keys[c0 + nxt]
                            out["shared"] += k in held[:j] or k in held[j + 1:]
                            held[j] = k
                        nxt += 1
                    else:
                        active[j] = False
    return out


def emulate(lay: dict, min_beats: int, keys: bool = False) -> dict:
    """:func:`schedule` of a laid-out call's work items on one list (``dispatch.plan_work``)."""
    k = None
    if keys:
        step_col = np.repeat(lay["seg"].n_steps, np.diff(lay["seg"].start))
        k = [tuple(row) for row in np.vstack((lay["P"][TABLE_ROWS], step_col)).T.tolist()]
    return schedule(dispatch.plan_work(lay["seg"], 1)[0].tolist(), lay["beats"], min_beats, k)


def idle_levers(lays: list[dict], min_beats: int) -> tuple[float, float]:
    """Computed lane-steps of two other layouts of the same calls (one list): each step-count
    segment's columns longest first (an oracle of each state's beats: the least a reordering could
    reach), and a segment of 16 patients or more on one ``engine.LANES``-lane item over its real
    columns only (no remainder block, no padding; fewer patients as now)."""
    lpt = one = 0.0
    for lay in lays:
        seg, beats = lay["seg"], lay["beats"]
        for k in range(len(seg.n_real)):
            c0, n, steps = int(seg.start[k]), int(seg.n_real[k]), int(seg.n_steps[k])
            width = int(seg.start[k + 1]) - c0
            b = beats[c0:c0 + width]
            srt = np.concatenate((np.sort(b[:n])[::-1], b[n:]))
            items = [list(r) for r in dispatch.plan_work(dispatch.Segments(np.array([0, width]), np.array([n]), np.array([steps])), 1)[0].tolist()]
            e = schedule(items, srt, min_beats)
            lpt += e["with"] + e["without"]
            if n >= E.LANES:
                e = schedule([[0, n, steps, E.LANES]], b[:n], min_beats)
            else:
                e = schedule(items, b, min_beats)
            one += e["with"] + e["without"]
    return lpt, one


class ThreadBusy:
    """``dispatch._run_items`` wrapped to record each work list's thread CPU (per batch call)."""

    def __init__(self) -> None:
        self.lists: list[float] = []
        self.lock = threading.Lock()
        self.inner = dispatch._run_items

    def __enter__(self):
        def timed(groups, items, args):
            t0 = time.thread_time()
            try:
                self.inner(groups, items, args)
            finally:
                with self.lock:
                    self.lists.append(time.thread_time() - t0)

        dispatch._run_items = timed
        return self

    def __exit__(self, *exc) -> None:
        dispatch._run_items = self.inner


def python_per_call(calls: list[dict], repeats: int = 7) -> None:
    """The Python of a batch call around the kernel that this layout and dispatch run
    (``simulation._layout``, ``dispatch.run_batch`` with ``dispatch._run_items`` a no-op: the plan, the
    checks, the pool's lists), per recorded call, best of ``repeats``, on 1 and 2 engine threads."""
    inner = dispatch._run_items
    dispatch._run_items = lambda *a: None
    try:
        for threads in (1, 2):
            def once() -> None:
                for c in calls:
                    seg = S._layout(c["steps"])[0]
                    dispatch.run_batch(np.zeros((1, int(seg.start[-1]))), None, 0, False, seg, *c["solver"], None, None, None, None, True,
                                       threads, threads=threads)

            once()
            best = np.inf
            for _ in range(repeats):
                c0 = time.process_time()
                once()
                best = min(best, time.process_time() - c0)
            print(f"  layout and dispatch Python, {threads} engine thread(s): {1e6 * best / len(calls):.1f} µs per call "
                  f"({best:.4f} CPU-s for {len(calls)} calls; best of {repeats}, load {os.getloadavg()[0]:.1f})")
    finally:
        dispatch._run_items = inner


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--population", default="tvt_mixed")
    ap.add_argument("--chunk", type=int, default=2500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="engine threads of the second trial replay")
    ap.add_argument("--beats", type=int, default=5, help="B of the fixed-beat replays (the other is 2)")
    ap.add_argument("--per-call", action="store_true")
    ap.add_argument("--python", action="store_true", help="only the Python of layout and dispatch per call (kernel not run)")
    a = ap.parse_args()

    calls = record(a.n, a.population, a.chunk)
    if a.python:
        python_per_call(calls)
        return
    lays = [laid_out(c) for c in calls]
    mb = calls[0]["solver"][0]
    assert all(c["solver"][0] == mb for c in calls)

    # the schedule, from the recorded beats
    em = [emulate(lay, mb, keys=True) for lay in lays]
    real_beats = sum(int(c["beats"].sum()) for c in calls)
    real_steps = sum(float(np.sum(c["beats"] * c["steps"])) for c in calls)
    states = sum(len(c["steps"]) for c in calls)
    cols = sum(lay["n_pad"] for lay in lays)
    comp_with, comp_without = sum(e["with"] for e in em), sum(e["without"] for e in em)
    comp = comp_with + comp_without
    W = sum(float(np.sum(np.diff(lay["seg"].start) * lay["seg"].n_steps)) for lay in lays)  # lane-steps per beat, every column
    print(f"{a.population}, {a.n:,}-patient trial (chunks of {a.chunk}): {len(calls)} batch calls, {states:,} real states "
          f"({cols:,} columns with padding), {real_beats:,} real patient-beats ({real_beats / states:.2f} beats per state), "
          f"{real_steps / real_beats:.1f} steps per real beat; solver min_beats {mb}, tol {', '.join(f'{t:g}' for t in sorted({c['solver'][2] for c in calls}))}")
    print(f"  emulated schedule: computed lane-steps {comp:.4g} = {comp / real_steps:.3f} x the real patient-steps; "
          f"on beats with metrics {100 * comp_with / comp:.1f} % (on beats where some lane's state ends, the least any rule of when to "
          f"accumulate metrics could reach without running a beat twice: {100 * sum(e['final'] for e in em) / comp:.1f} %)")
    lpt, one = idle_levers(lays, mb)
    print(f"  levers, emulated: computed / real lane-steps {comp / real_steps:.3f} now, {lpt / real_steps:.3f} with each segment's states longest "
          f"first (an oracle), {one / real_steps:.3f} with a segment of >= {E.LANES} patients on one {E.LANES}-lane item without padding; "
          f"states started while another lane of their group held an equal elastance table: "
          f"{100 * sum(e['shared'] for e in em) / sum(e['states'] for e in em):.1f} %")
    if a.per_call:
        print("  call  states  columns  segments  beats/state  steps/beat  computed/real lane-steps  with metrics")
        for i, (c, lay, e) in enumerate(zip(calls, lays, em)):
            rs = float(np.sum(c["beats"] * c["steps"]))
            print(f"  {i:4d} {len(c['steps']):7d} {lay['n_pad']:8d} {len(lay['seg'].n_steps):9d} {c['beats'].mean():12.2f} "
                  f"{rs / c['beats'].sum():11.1f} {(e['with'] + e['without']) / rs:25.3f} {100 * e['with'] / (e['with'] + e['without']):12.1f} %")

    solvers = {"trial": None, "fixed 2 last": (2, 2, 0.0), f"fixed {a.beats} last": (a.beats, a.beats, 0.0),
               f"fixed {a.beats} all": (1, a.beats, 0.0)}
    modes = [("trial", 1), (f"trial x{a.threads}", a.threads), ("fixed 2 last", 1), (f"fixed {a.beats} last", 1), (f"fixed {a.beats} all", 1)]
    cpu: dict[str, list[float]] = {m: [] for m, _ in modes}
    wall: dict[str, list[float]] = {m: [] for m, _ in modes}
    busy_max: list[float] = []
    busy_sum: list[float] = []
    ref = None
    same = True
    for _ in range(a.repeats):
        for mode, th in modes:
            solver = solvers[mode.split(" x")[0]]
            tc = tw = 0.0
            outs = []
            for c, lay in zip(calls, lays):
                if th > 1:
                    with ThreadBusy() as tb:
                        cc, ww, out = run(c, lay, solver or c["solver"], th)
                    busy_max.append(max(tb.lists))
                    busy_sum.append(sum(tb.lists))
                else:
                    cc, ww, out = run(c, lay, solver or c["solver"], th)
                tc, tw = tc + cc, tw + ww
                outs.append(out)
            cpu[mode].append(tc)
            wall[mode].append(tw)
            if mode.startswith("trial"):
                ref = ref or outs
                same = same and all(np.array_equal(x, y, equal_nan=True) for x, y in zip(ref, outs))
    med = {m: float(np.median(v)) for m, v in cpu.items()}
    medw = {m: float(np.median(v)) for m, v in wall.items()}
    print(f"replayed, {a.repeats} interleaved runs (medians; load {os.getloadavg()[0]:.1f}):")
    for mode, th in modes:
        print(f"  {mode:14s} {th} thread(s): kernel {med[mode]:.3f} CPU-s, wall {medw[mode]:.3f} s  (CPU runs {', '.join(f'{x:.3f}' for x in cpu[mode])})")
    n_rep = len(calls) * a.repeats
    print(f"  trial on {a.threads} threads: work lists' busy CPU {sum(busy_sum) / a.repeats:.3f} s per replay; the longest list per call "
          f"{sum(busy_max) / a.repeats:.3f} s = {100 * sum(busy_max) / max(sum(busy_sum), 1e-12) * a.threads:.0f} % of an even split "
          f"(imbalance costs wall, not CPU); {n_rep // a.repeats} calls; real patients' numbers equal across runs and threads: {same}")

    # the linear cost model from the fixed-beat replays
    B = a.beats
    p = (med[f"fixed {B} last"] - med["fixed 2 last"]) / (W * (B - 2))
    m = p + (med[f"fixed {B} all"] - med[f"fixed {B} last"]) / (W * (B - 1))
    a_state = (med["fixed 2 last"] - W * (p + m)) / cols
    pred = a_state * cols + p * comp_without + m * comp_with
    print(f"  cost model (one thread): per state a = {1e6 * a_state:.2f} µs, per computed lane-step p = {1e9 * p:.2f} ns without metrics, "
          f"m = {1e9 * m:.2f} ns with (m/p {m / p:.3f}); predicted trial {pred:.3f} CPU-s against {med['trial']:.3f} measured")

    # decomposition of the trial's CPU per real patient-beat (one thread)
    per_beat = med["trial"] / real_beats
    bench = (9 * p + m) / 10 * BENCH_STEPS  # fixed-beat benchmark: 10 beats, metrics on the last, 208 steps, no padding
    steps_f = (real_steps / real_beats) / BENCH_STEPS
    rows = [("fixed-beat kernel (10 beats, metrics on the last, 208 steps, full blocks), per patient-beat", bench)]
    x = bench * steps_f
    rows.append((f"× steps per beat {real_steps / real_beats:.1f} / {BENCH_STEPS}", x))
    x2 = x * comp / real_steps
    rows.append((f"× computed / real lane-steps {comp / real_steps:.3f} (padding, idle lanes)", x2))
    x3 = (p * comp_without + m * comp_with) / real_beats
    rows.append((f"metrics on {100 * comp_with / comp:.0f} % of computed lane-steps instead of 10 %", x3))
    x4 = pred / real_beats
    rows.append((f"+ per-state cost a × {cols / real_beats:.3f} states per beat", x4))
    rows.append(("measured trial replay (rest: Anderson and convergence beyond the fixed replays, call overhead)", per_beat))
    print("decomposition, µs of kernel CPU per real patient-beat (one thread):")
    prev = None
    for label, v in rows:
        print(f"  {1e6 * v:7.3f}  {'' if prev is None else f'{1e6 * (v - prev):+7.3f}'}  {label}  ({1e-3 / v:.0f} k patient-beats per CPU-s)")
        prev = v


if __name__ == "__main__":
    main()
