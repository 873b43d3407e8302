"""Calibration benchmarks (issue 12): one patient with its uncertainty ensemble, and interval coverage.

    PYTHONPATH=src python benchmarks/calibrate.py --speed            # one patient, warm, median of 5
    PYTHONPATH=src python benchmarks/calibrate.py --coverage 200     # 90 % intervals vs truth, 200 synthetic patients
    PYTHONPATH=src python benchmarks/calibrate.py --post-clip 100    # 90 % intervals of LA pressure, forward output, gradient after a clip vs truth

Speed: the COAPT-like example's measurements (8 measurements, 10 fitted parameters), 64-member
ensemble, after one warm-up call (compiled engine).  Coverage: synthetic patients from
:func:`mitrasim.calibrate.synthetic.synthetic_patients` (truth from the fit's prior, noise of each
method's SD), 200-member ensembles; the share of (patient, parameter) pairs whose 90 % interval
holds the truth.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def speed() -> None:
    from mitrasim.calibrate import calibrate_measurements
    from mitrasim.case import load_case

    case = load_case(ROOT / "examples" / "coapt_secondary.yaml")

    def run():
        return calibrate_measurements(case.measurements, case.patient.preset, {"eroa_cm2": 0.41}, hr_bpm=75, n_ensemble=64)

    run()
    wall, cpu = [], []
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        cal = run()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(f"one patient + 64-member ensemble: median {statistics.median(wall):.3f} s wall (min {min(wall):.3f}, max {max(wall):.3f}), "
          f"median {statistics.median(cpu):.3f} CPU-s; {cal.engine_calls} engine calls; {cal.message}; {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    plan_speed(case)


def plan_speed(case) -> None:
    """The planner without and with the intervals of its reported plans (interleaved, calibration cached)."""
    from mitrasim.procedure.planner import plan_case

    plan_case(case, intervals="reported")  # warm: compiled engine, calibration cached
    t = {"none": [], "reported": []}
    for _ in range(3):
        for mode in t:
            c0 = time.process_time()
            res = plan_case(case, intervals=mode)
            t[mode].append(time.process_time() - c0)
    n = res.uncertainty["plans_with_intervals"]
    print(f"plan_case, {res.n_evaluated} plans: median {statistics.median(t['none']):.3f} CPU-s without intervals, "
          f"{statistics.median(t['reported']):.3f} CPU-s with the intervals of {n} reported plans + baseline "
          f"(64 members x {n + 1} valve states in one engine call, {res.uncertainty['seconds_engine']:.3f} s wall); "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip


def coverage(n: int) -> None:
    from mitrasim.calibrate import calibrate_measurements
    from mitrasim.calibrate.synthetic import synthetic_patients

    t0 = time.perf_counter()
    hits = total = failed = 0
    per: dict[str, list[int]] = {}
    for p in synthetic_patients(n, seed=5):
        cal = calibrate_measurements(p.measurements, "secondary_mr", n_ensemble=200, seed=5)
        if not cal.converged:
            failed += 1
            continue
        for k, v in p.truth.items():
            hit = cal.parameters[k]["p05"] <= v <= cal.parameters[k]["p95"]
            per.setdefault(k, []).append(hit)
            hits += hit
            total += 1
    print(f"coverage of the 90 % intervals: {100 * hits / total:.1f}% of {total} (patient, parameter) pairs; {failed} of {n} fits not converged; "
          f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
    for k, v in per.items():
        print(f"  {k:26s} {100 * sum(v) / len(v):5.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--coverage", type=int, default=0, metavar="N")
    ap.add_argument("--post-clip", type=int, default=0, metavar="N")
    a = ap.parse_args()
    if a.speed:
        speed()
    if a.post_clip:
        from mitrasim.procedure.intervals import post_clip_coverage

        t0 = time.process_time()
        r = post_clip_coverage(a.post_clip, seed=7)
        print(f"post-clip coverage (secondary_mr, EROA 0.08 cm², forward area 2.0 cm²): {r}; {time.process_time() - t0:.1f} CPU-s; "
              f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    if a.coverage:
        coverage(a.coverage)


if __name__ == "__main__":
    main()
