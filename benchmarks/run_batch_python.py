"""Benchmark: the Python of a trial's batch calls around the kernel, ``simulation._run_batch`` with the
kernel not run (issue 19 goal 4).

Usage (from the repository root, mitrasim importable from src/)::

    PYTHONPATH=src python benchmarks/run_batch_python.py --n 5000 --population tvt_mixed
    PYTHONPATH=src python benchmarks/run_batch_python.py --n 5000 --against OTHER/src/mitrasim/physiology/simulation.py

Records the arguments of every ``_run_batch`` call of an in-process trial (one chunk at a time), then
replays them with ``simulation._run`` a no-op: the layout, the parameter columns at the kernel's
columns, the kernel rows and onset positions, the start states and the results put back in patient
order.  ``--against`` loads another checkout's ``simulation.py`` beside this one (same package
otherwise), checks that both build the same kernel inputs to the bit, and alternates the two, best
and median of ``--repeats`` (CPU seconds of this process).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from trial_parts import _trial

from mitrasim.cohort.trial import run_trial
from mitrasim.physiology import simulation as S


def record(n: int, population: str) -> list[tuple[Any, ...]]:
    """The arguments of every ``_run_batch`` call of an ``n``-patient trial of ``population``."""
    calls: list[tuple[Any, ...]] = []
    inner = S._run_batch

    def wrap(*a: Any) -> Any:
        calls.append(a)
        return inner(*a)

    S._run_batch = wrap
    try:
        run_trial(_trial(n, population), Path(tempfile.mkdtemp()) / "t", workers=1, chunk_threads=1, progress=False)
    finally:
        S._run_batch = inner
    return calls


def load_other(path: str) -> ModuleType:
    """Another checkout's ``simulation.py`` as a module of this package."""
    spec = importlib.util.spec_from_file_location("mitrasim.physiology._simulation_against", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def kernel_inputs(mod: ModuleType, calls: list[tuple[Any, ...]]) -> list[tuple[np.ndarray, ...]]:
    """Each call's kernel inputs (P, X0, ew) as ``mod`` builds them."""
    got: list[tuple[np.ndarray, ...]] = []
    mod._run = lambda P, X0, pset, seg, settings, ew, *rest: got.append((P.copy(), X0.copy(), ew.copy()))
    for a in calls:
        mod._run_batch(*a)
    return got


def replay(mod: ModuleType, calls: list[tuple[Any, ...]]) -> float:
    """CPU seconds of ``mod._run_batch`` over the calls, the kernel not run."""
    mod._run = lambda *a: None
    c0 = time.process_time()
    for a in calls:
        mod._run_batch(*a)
    return time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--population", default="tvt_mixed")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--against", default=None, help="another checkout's physiology/simulation.py")
    a = ap.parse_args()
    calls = record(a.n, a.population)
    mods = {"this": S}
    if a.against:
        mods["against"] = load_other(a.against)
        ref, new = kernel_inputs(mods["against"], calls), kernel_inputs(S, calls)
        same = all(np.array_equal(x.view(np.int64), y.view(np.int64)) for r, s in zip(ref, new) for x, y in zip(r, s))
        print(f"kernel inputs of the {len(calls)} calls the same to the bit: {same}")
    times: dict[str, list[float]] = {k: [] for k in mods}
    for _ in range(a.repeats):
        for k, m in mods.items():
            times[k].append(replay(m, calls))
    for k, t in times.items():
        print(f"  {k}: _run_batch Python {1e3 * min(t):.1f} ms best, {1e3 * statistics.median(t):.1f} median per {len(calls)} calls "
              f"({1e6 * min(t) / len(calls):.0f} µs per call; load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
