"""Benchmark: a ``simulate()`` batch of patients with mixed heart rates — kernel calls, set-up cost, threads.

Usage (from the repository root, mitrasim importable from src/)::

    PYTHONPATH=src python benchmarks/simulate_batch.py                    # batches of 16, 160, 2,500
    PYTHONPATH=src python benchmarks/simulate_batch.py --sizes 2500 --repeats 9

Each batch is ``primary_mr`` (the trials' primary-MR heart) at the trials' solver settings
(``CohortSolver``: dt ≤ 4 ms, tol 1e-2, Anderson acceleration), heart rates drawn from the shipped
populations' marginal (normal 72 ± 12 bpm within 50–110: 9–19 multiples of 16 steps per beat), EROA
0.1–0.6 cm² and four override parameters per patient (as the procedure's baseline-fit overrides).
Every ``dispatch.run_batch`` call is timed (wall and process CPU, all threads).  Printed per size,
medians over the repeats (sizes interleaved): kernel calls per ``simulate()``, CPU ms per ``simulate()``
call in all, inside the kernel calls and outside them (the batch set-up: parameter columns, timings,
kernel arrays, regrouping, result; single-threaded Python and numpy), the kernel's CPU use
(process CPU seconds / wall seconds over the kernel calls; 2.0 = both cores busy throughout, less
on a loaded machine) and its thread imbalance (per kernel call, the busiest thread's CPU seconds over the mean of
the threads that ran, summed over calls, from ``/proc/self/task/*/schedstat``: the kernel's wall time
on idle cores over the ideal; independent of the machine's load; the engine's pool threads wait asleep).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from mitrasim.physiology import dispatch
from mitrasim.physiology.parameter_sets import get_parameter_set
from mitrasim.physiology.simulation import SolverSettings, simulate

SETTINGS = SolverSettings(dt_max_s=4e-3, tol=1e-2)
PRESET = "primary_mr"
#: Parameters set per patient: a factor on the preset's value, or a shift in mL for the stressed volume.
OVERRIDES = ("lv_ea_mmhg_ml", "lv_eb_mmhg_ml", "sys_ar_r_mmhg_s_ml", "stressed_volume_shift_ml")


def batch(n: int, seed: int = 0) -> dict:
    """Arguments of one ``simulate()`` call: ``n`` patients with mixed heart rates."""
    rng = np.random.default_rng(seed)
    hr = np.clip(rng.normal(72.0, 12.0, n), 50.0, 110.0)
    eroa = rng.uniform(0.1, 0.6, n)
    f = rng.uniform(0.8, 1.25, (n, len(OVERRIDES)))
    values = get_parameter_set(PRESET).values
    overrides = [
        {k: (values[k] * f[i, j] if k in values else 100.0 * (f[i, j] - 1.0)) for j, k in enumerate(OVERRIDES)} for i in range(n)
    ]
    return {"preset": PRESET, "overrides": overrides, "hr_bpm": hr, "eroa_cm2": eroa, "settings": SETTINGS}


def thread_cpu_ns() -> dict[int, int]:
    """CPU nanoseconds of each thread of this process so far (Linux ``/proc/self/task/*/schedstat``;
    empty elsewhere)."""
    out = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                out[int(tid)] = int(f.read().split()[0])
        except OSError:
            continue
    return out


class KernelTimer:
    """Wraps ``dispatch.run_batch``: calls, wall and process-CPU seconds inside it, and per call the
    busiest thread's CPU seconds and the mean over the threads that ran."""

    def __init__(self) -> None:
        self.calls, self.wall, self.cpu = 0, 0.0, 0.0
        self.busiest_ns, self.mean_ns = 0, 0.0
        self.inner = dispatch.run_batch

    def __call__(self, *args, **kw):
        t0, c0, th0 = time.perf_counter(), time.process_time(), thread_cpu_ns()
        try:
            return self.inner(*args, **kw)
        finally:
            self.wall += time.perf_counter() - t0
            self.cpu += time.process_time() - c0
            self.calls += 1
            used = [ns - th0.get(tid, 0) for tid, ns in thread_cpu_ns().items()]
            busy = [ns for ns in used if ns > 0.02 * max(used, default=0)]
            if busy:
                self.busiest_ns += max(busy)
                self.mean_ns += sum(busy) / len(busy)

    def imbalance(self) -> float:
        """Σ over calls of the busiest thread's CPU time / Σ of the mean over the threads that ran:
        the kernel calls' wall time on idle cores over its ideal (1.0 = equal work per thread)."""
        return self.busiest_ns / self.mean_ns if self.mean_ns else float("nan")


def measure(kw: dict) -> dict:
    """One ``simulate()`` call: CPU and wall seconds, in and outside the kernel, kernel calls."""
    timer = KernelTimer()
    dispatch.run_batch = timer
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        simulate(**kw)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        dispatch.run_batch = timer.inner
    return {"calls": timer.calls, "cpu_ms": 1e3 * cpu, "kernel_cpu_ms": 1e3 * timer.cpu, "outside_cpu_ms": 1e3 * (cpu - timer.cpu),
            "wall_ms": 1e3 * wall, "kernel_wall_ms": 1e3 * timer.wall, "kernel_cpu_use": timer.cpu / timer.wall if timer.wall else float("nan"),
            "imbalance": timer.imbalance()}


def setup_only(batches: dict[int, dict], repeats: int) -> None:
    """CPU ms per ``simulate()`` call with ``dispatch.run_batch`` replaced by a no-op (medians, sizes interleaved)."""
    for kw in batches.values():
        simulate(**kw)
    inner = dispatch.run_batch
    dispatch.run_batch = lambda *a, **k: None
    rows: dict[int, list[float]] = {n: [] for n in batches}
    try:
        for _ in range(repeats):
            for n, kw in batches.items():
                c0 = time.process_time()
                simulate(**kw)
                rows[n].append(1e3 * (time.process_time() - c0))
    finally:
        dispatch.run_batch = inner
    print(f"load average {os.getloadavg()[0]:.2f} (1 min); set-up alone (kernel call replaced by nothing), median of {repeats}")
    for n, r in rows.items():
        print(f"{n:8d} patients  {float(np.median(r)):8.2f} CPU ms per simulate()  ({1e3 * float(np.median(r)) / n:6.1f} µs per patient)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="16,160,2500")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--setup-only", action="store_true", help="only the set-up: CPU ms per simulate() call with the kernel call replaced by nothing")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    batches = {n: batch(n) for n in sizes}
    if a.setup_only:
        setup_only(batches, a.repeats)
        return
    for n in sizes:  # warm-up: kernels loaded, caches filled
        simulate(**batches[n])
    rows: dict[int, list[dict]] = {n: [] for n in sizes}
    for _ in range(a.repeats):
        for n in sizes:
            rows[n].append(measure(batches[n]))
    steps = {n: len(np.unique(simulate(**batches[n]).n_steps)) for n in sizes}
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) after the run; medians of {a.repeats} calls, sizes interleaved")
    print("patients  step counts  kernel calls  CPU ms/call  in kernel  outside  (per patient µs)  wall ms  kernel CPU use  thread imbalance")
    for n in sizes:
        med = {k: float(np.median([r[k] for r in rows[n]])) for k in rows[n][0]}
        print(f"{n:8d}  {steps[n]:11d}  {med['calls']:12.0f}  {med['cpu_ms']:11.2f}  {med['kernel_cpu_ms']:9.2f}  {med['outside_cpu_ms']:7.2f}"
              f"  ({1e3 * med['outside_cpu_ms'] / n:7.1f})       {med['wall_ms']:8.2f}  {med['kernel_cpu_use']:14.2f}  {med['imbalance']:.2f}")


if __name__ == "__main__":
    main()
