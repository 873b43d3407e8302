"""Benchmark: the clip model on 500 random plans at once (``evaluate_plans``, no engine).

    PYTHONPATH=src python benchmarks/clip_model.py [--repeat 5] [--plans 500]

Prints the mean seconds of one batched ``evaluate_plans`` call over ``--plans`` plans of up
to four devices on the p2_flail valve (after one warm-up call).  Target (issue 4, which
replaced a timed unit test): under 50 ms for 500 plans on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from mitrasim.case import ValveSpec
    from mitrasim.valve import evaluate_plans, valve_from_spec

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--plans", type=int, default=500)
    a = ap.parse_args()
    v = valve_from_spec(ValveSpec.model_validate(yaml.safe_load((ROOT / "examples" / "p2_flail.yaml").read_text())["valve"]))
    rng = np.random.default_rng(0)
    n = a.plans
    P = rng.uniform(3, v.line_length_mm - 3, size=(n, 4))
    P[rng.random((n, 4)) < 0.3] = np.nan
    W = np.where(rng.random((n, 4)) < 0.5, 4.0, 6.0)
    L = np.where(rng.random((n, 4)) < 0.5, 9.0, 12.0)
    evaluate_plans(v, P, W, L)
    t = time.perf_counter()
    for _ in range(a.repeat):
        evaluate_plans(v, P, W, L)
    dt = (time.perf_counter() - t) / a.repeat
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"evaluate_plans: {n} plans in {dt * 1e3:.1f} ms (mean of {a.repeat})")


if __name__ == "__main__":
    main()
