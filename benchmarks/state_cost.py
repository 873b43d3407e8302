"""The engine kernel's CPU per state against its beats per state (issue 19 goal 4): a fixed number of
beats ``k`` per state (``min_beats = max_beats = k``, a tolerance no state meets), ``--n`` patients of
one preset at spread heart rates, one engine thread, CPU seconds inside ``dispatch.run_batch``;
``cost(k) ≈ a + b·k`` separates the per-state cost ``a`` (the lane's start and elastance table, and the
beat metrics, which only a state's last beat carries here since ``min_beats = k``) from the cost ``b``
of a beat without metrics.  (A trial's states run with ``min_beats = 2``: metrics on every beat from the
second.)  ``--parts``: two of those costs alone, on one lane of a 16-lane group: the four chambers'
elastance tables of a state (``engine._cosine_table``, ns per point, at the preset's own timings and
the trials' step) and one Anderson step (``engine._anderson``, ns per lane and beat, on a history of
shrinking residuals with restarts).

    PYTHONPATH=src python benchmarks/state_cost.py --n 4000
    PYTHONPATH=src python benchmarks/state_cost.py --parts
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
from numba import njit

from mitrasim.physiology import dispatch
from mitrasim.physiology import engine as E
from mitrasim.physiology import simulation as S
from mitrasim.physiology.simulation import SolverSettings, simulate

#: The trials' step (``cohort.trial``'s solver default): dt ≤ 3.448 ms, 240 steps a beat at 70 bpm.
TRIAL_DT_S = 3.448275e-3


def _cpu_per_call(fn, reps: int, repeats: int = 5) -> float:
    """Least CPU seconds per call of ``fn(reps)`` (which makes ``reps`` calls) over ``repeats`` tries."""
    fn(1)
    best = math.inf
    for _ in range(repeats):
        c0 = time.process_time()
        fn(reps)
        best = min(best, (time.process_time() - c0) / reps)
    return best


@njit
def _tables(reps, P, act, n_steps, L):
    h = P[E._P_T, 0] / (2 * n_steps)
    for r in range(reps):
        for ch in range(4):
            b0 = E._P_ACT + 6 * ch
            E._cosine_table(P[b0, 0], P[b0 + 1, 0], P[b0 + 2, 0], P[E._P_T, 0], h, 2 * n_steps + 1,
                            P[E._P_CH + 3 * ch, 0], P[E._P_CH + 3 * ch + 1, 0], act, ch, r % L, L)


#: The Anderson step's scratch arguments before the fifth session's h13 (a checkout of main before it, for A/B).
_OLD_ANDERSON = E._anderson.py_func.__code__.co_argcount == 12


@njit
def _andersons(reps, X, X0b, FH, GH, cnt, best, PB, hist, L):
    a, b, c = np.zeros((3, 3)), np.zeros(3), np.zeros(3, np.int64)
    for r in range(reps):
        j = r % L
        for i in range(E.N_STATE):
            X[i * L + j] = hist[r % hist.shape[0], i * L + j]
        if _OLD_ANDERSON:
            E._anderson(X, X0b, FH, GH, cnt, best, PB, j, L, a, b, c)
        else:
            E._anderson(X, X0b, FH, GH, cnt, best, PB, j, L)


def parts(preset: str) -> None:
    """The elastance tables of one state and one Anderson step, alone (one lane of a 16-lane group)."""
    L = E.LANES
    pset = S.get_parameter_set(preset)
    cols, _ = S.build_batch(pset, None, eroa_cm2=0.3)
    n_steps = int(S.steps_per_beat(60.0 / cols["hr_bpm"], TRIAL_DT_S)[0])
    P, _ = S._kernel_arrays(cols, pset.model, 1, 1, n_steps)
    act = np.zeros((2 * n_steps + 1) * 4 * L)
    t = _cpu_per_call(lambda k: _tables(k, P, act, n_steps, L), 20000)
    print(f"{preset}, {n_steps} steps: the 4 chambers' elastance tables {1e6 * t:.2f} µs per state, {1e9 * t / (4 * (2 * n_steps + 1)):.2f} ns per point")
    rng = np.random.default_rng(0)
    n_state = E.N_STATE * L
    x0b = rng.uniform(50.0, 100.0, n_state)
    shrink = np.exp(-0.3 * np.arange(64))[:, None] * (1.0 + 50.0 * (rng.uniform(size=(64, 1)) < 0.1))  # with jumps: restarts
    hist = x0b[None, :] + rng.normal(0.0, 1.0, (64, n_state)) * shrink
    ring = (E.ACCEL_MEMORY + 1) * n_state
    t = _cpu_per_call(lambda k: _andersons(k, np.empty(n_state), x0b, np.zeros(ring), np.zeros(ring), np.zeros(L, np.int64), np.zeros(L),
                                           np.full(E.N_PB * L, -40.0), hist, L), 300000)  # fmt: skip
    print(f"one Anderson step {1e9 * t:.0f} ns per lane and beat (one thread, load {os.getloadavg()[0]:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--preset", default="secondary_mr")
    ap.add_argument("--beats", default="1,2,3,5,9")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--parts", action="store_true", help="only the elastance tables and one Anderson step, alone")
    a = ap.parse_args()
    if a.parts:
        parts(a.preset)
        return
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
            s = SolverSettings(dt_max_s=TRIAL_DT_S, tol=1e-12, min_beats=k, max_beats=k, threads=1)
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
