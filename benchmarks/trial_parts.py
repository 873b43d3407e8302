"""Benchmark: where a trial's CPU outside the engine kernel goes, by named step (issue 19 goal 4).

Usage (from the repository root, mitrasim importable from src/)::

    PYTHONPATH=src python benchmarks/trial_parts.py --n 5000 --population tvt_mixed

One in-process trial (one arm "MR <= 1+, up to 4 clips", chunks of 2,500, after a 200-patient warm-up
that loads the compiled code).  Every ``dispatch.run_batch`` call is timed as the kernel (process CPU,
all threads); each named function below is timed around its calls (process CPU), and its time
outside the kernel is its CPU minus the kernel CPU inside it.  Nested functions overlap (the
procedure contains its rounds, ``simulate`` its ``_run_batch``); a function not on the list is in
its caller's figure only.  Unlike ``benchmarks/cohort.py --profile --top``, no profiler inflates the
Python: the wrappers cost two clock reads per call.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from mitrasim.cohort.trial import parse_trial, run_trial
from mitrasim.physiology import dispatch

#: (module, function) timed; patched in every mitrasim module that imported the function by name.
PARTS = (
    ("mitrasim.cohort.adapter", "sample_indicated_blocks"), ("mitrasim.cohort.mapping", "fit_baselines"),
    ("mitrasim.cohort.population", "sample_population_streams"), ("mitrasim.cohort.adapter", "_awake_baselines"),
    ("mitrasim.cohort.adapter", "patient_setups"), ("mitrasim.procedure.process", "run_procedure_arrays"),
    ("mitrasim.procedure.steps", "make_groups"), ("mitrasim.procedure.steps", "baseline"), ("mitrasim.procedure.steps", "start_course"),
    ("mitrasim.procedure.process", "_round_candidates"), ("mitrasim.procedure.steps", "target"), ("mitrasim.procedure.steps", "grasp"),
    ("mitrasim.procedure.steps", "access"), ("mitrasim.procedure.steps", "clip_model"), ("mitrasim.procedure.steps", "simulate_round"),
    ("mitrasim.procedure.steps", "decide"), ("mitrasim.procedure.steps", "placed_clips"), ("mitrasim.procedure.steps", "apply_round"),
    ("mitrasim.procedure.oplog", "round_entries"), ("mitrasim.procedure.steps", "awake_outcome"), ("mitrasim.procedure.process", "_final_log"),
    ("mitrasim.procedure.hemodynamics", "simulate_states"), ("mitrasim.physiology.simulation", "simulate"),
    ("mitrasim.cohort.adapter", "_columns"), ("mitrasim.cohort.trial", "encode_chunk"),
)  # fmt: skip


def _trial(n: int, population: str) -> Any:
    return parse_trial({"name": "parts", "population": population, "n_patients": n, "seed": 1, "chunk_size": min(n, 2_500),
                        "arms": [{"name": "mr_le_1plus", "strategy": {"stop_rule": "mr_le_1plus", "max_clips": 4}}]})  # fmt: skip


def _timed(f: Callable[..., Any], key: str, acc: dict[str, list[float]], kernel: list[float]) -> Callable[..., Any]:
    def wrapper(*a: Any, **k: Any) -> Any:
        c0, k0 = time.process_time(), kernel[0]
        try:
            return f(*a, **k)
        finally:
            row = acc.setdefault(key, [0.0, 0.0, 0.0])
            row[0] += time.process_time() - c0
            row[1] += kernel[0] - k0
            row[2] += 1

    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5_000)
    ap.add_argument("--population", default="tvt_mixed")
    a = ap.parse_args()
    run_trial(_trial(200, a.population), Path(tempfile.mkdtemp()) / "warm", workers=1, progress=False)
    acc: dict[str, list[float]] = {}
    kernel = [0.0]
    inner = dispatch.run_batch

    def timed_kernel(*args: Any, **kw: Any) -> Any:
        c0 = time.process_time()
        try:
            return inner(*args, **kw)
        finally:
            kernel[0] += time.process_time() - c0

    for mod, name in PARTS:
        f = getattr(importlib.import_module(mod), name)
        w = _timed(f, f"{mod.rsplit('.', 1)[-1]}.{name}", acc, kernel)
        for m in list(sys.modules.values()):
            if getattr(m, "__name__", "").startswith("mitrasim") and getattr(m, name, None) is f:
                setattr(m, name, w)
    dispatch.run_batch = timed_kernel
    with tempfile.TemporaryDirectory() as d:
        c0 = time.process_time()
        run_trial(_trial(a.n, a.population), Path(d) / "t", workers=1, chunk_threads=1, progress=False)  # one chunk at a time: CPU per call is the call's
        cpu = time.process_time() - c0
    print(f"{a.population} n={a.n:,}: CPU {cpu:.2f} s, kernel {kernel[0]:.2f} s, outside the kernel {cpu - kernel[0]:.2f} s "
          f"({100 * (1 - kernel[0] / cpu):.1f} %), load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"  {'CPU-s outside the kernel (calls)':48s}")
    for key, (c, k, calls) in sorted(acc.items(), key=lambda kv: -(kv[1][0] - kv[1][1])):
        print(f"  {key:40s} {c - k:7.3f}  ({int(calls)})")


if __name__ == "__main__":
    main()
