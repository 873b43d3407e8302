"""Benchmark: a trial's CPU outside the engine kernel by component, each function's own time (issue 19 goal 4).

Usage (from the repository root, mitrasim importable from src/)::

    PYTHONPATH=src python benchmarks/trial_breakdown.py --n 5000 --population tvt_mixed
    PYTHONPATH=src python benchmarks/trial_breakdown.py --n 5000 --functions   # also every timed function

As ``benchmarks/trial_parts.py`` (one in-process trial, one chunk at a time, after a 200-patient
warm-up; every ``dispatch.run_batch`` call timed as the kernel, process CPU), but each timed function
is charged only its *own* CPU outside the kernel: its time minus the kernel's inside it minus the
outside-kernel time of the timed functions it calls (a stack of the active timed calls).  So the
rows add up: the components below plus "the rest" (the trial's driver, Parquet writing, anything
not timed) equal the trial's CPU outside the kernel.  Each component is a group of the timed
functions (:data:`COMPONENTS`).  No profiler inflates the Python: the wrappers cost two clock
reads and a list push per call (~1 µs; a few thousand calls per 5,000 patients).  A generator
function's body (the baseline fit's ``_evaluate`` and ``_still_moving``, whose engine points a driver
collects) runs when it is iterated, so its time falls to the timed function driving it (the same
component).
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

from trial_parts import PARTS, _trial

from mitrasim.cohort.trial import run_trial
from mitrasim.physiology import dispatch

#: The inner functions timed beside ``trial_parts.PARTS`` (the engine-call side's steps).
INNER = (
    ("mitrasim.physiology.simulation", "_batch"), ("mitrasim.physiology.simulation", "_kernel_arrays"),
    ("mitrasim.physiology.simulation", "_run_batch"), ("mitrasim.physiology.simulation", "_result"),
    ("mitrasim.physiology.simulation", "override_columns"),
    ("mitrasim.cohort.mapping", "fit_baselines_groups"), ("mitrasim.cohort.mapping", "_simulate_points"),
    ("mitrasim.physiology.simulation", "simulate_presets"), ("mitrasim.physiology.simulation", "_simulate_batch"),
    ("mitrasim.cohort.mapping", "_evaluate"), ("mitrasim.cohort.mapping", "_start_states"),
    ("mitrasim.cohort.mapping", "_still_moving"), ("mitrasim.cohort.mapping", "_levenberg_marquardt_step"),
    ("mitrasim.cohort.mapping", "_keep_better"), ("mitrasim.cohort.mapping", "_override_dicts"),
    ("mitrasim.cohort.mapping", "engine_inputs"), ("mitrasim.cohort.mapping", "chunk_valves"), ("mitrasim.cohort.mapping", "chunk_areas"),
    ("mitrasim.cohort.mapping", "valve_models"),
    ("mitrasim.procedure.loading", "loading_arrays"), ("mitrasim.procedure.hemodynamics", "echo_arrays"),
    ("mitrasim.procedure.hemodynamics", "grade_arrays"), ("mitrasim.cohort.trial", "_compute_chunk"),
    ("mitrasim.cohort.outcomes", "apply_outcomes"), ("mitrasim.cohort.population", "sample_streams_table"),
)  # fmt: skip

#: Components of the table: a name and the timed functions (``module.function``, the module's last
#: part) whose own time it sums.  A timed function in no component is listed under "other timed".
COMPONENTS = (
    ("baseline fit's Python (mapping, between its engine calls)", ("mapping.fit_baselines", "mapping.fit_baselines_groups", "mapping._simulate_points", "mapping._evaluate", "mapping._start_states", "mapping._still_moving",
                                                                  "mapping._levenberg_marquardt_step", "mapping._keep_better", "mapping._override_dicts",
                                                                  "mapping.engine_inputs")),
    ("simulate() set-up and results (every call)", ("simulation.simulate", "simulation.simulate_presets", "simulation._simulate_batch", "simulation._batch", "simulation._kernel_arrays", "simulation._run_batch",
                                                   "simulation._result", "simulation.override_columns")),
    ("procedure's engine calls (hemodynamics: states, echo, grades)", ("hemodynamics.simulate_states", "hemodynamics.echo_arrays", "hemodynamics.grade_arrays")),
    ("patient sampling (population streams)", ("population.sample_population_streams", "population.sample_streams_table")),
    ("indication (candidates, awake baselines, valve areas)", ("adapter.sample_indicated_blocks", "adapter._awake_baselines", "mapping.chunk_areas")),
    ("patient set-up (valves, loading, setups)", ("adapter.patient_setups", "mapping.chunk_valves", "mapping.valve_models", "loading.loading_arrays")),
    ("procedure steps (steps, process; not the log)", ("process.run_procedure_arrays", "steps.make_groups", "steps.baseline", "steps.start_course",
                                                       "process._round_candidates", "steps.target", "steps.grasp", "steps.access", "steps.clip_model",
                                                       "steps.simulate_round", "steps.decide", "steps.placed_clips", "steps.apply_round", "steps.awake_outcome")),
    ("operator's log (round entries, final log)", ("oplog.round_entries", "process._final_log")),
    ("outputs (chunk columns, outcomes, Parquet encoding)", ("adapter._columns", "outcomes.apply_outcomes", "trial.encode_chunk")),
    ("chunk driver (_compute_chunk's own)", ("trial._compute_chunk",)),
)  # fmt: skip


class _Clock:
    """Own CPU outside the kernel per timed function: a stack of frames ``[cpu0, kernel0, children's outside]``."""

    def __init__(self) -> None:
        self.kernel = 0.0
        self.stack: list[list[float]] = []
        self.own: dict[str, list[float]] = {}

    def wrap(self, f: Callable[..., Any], key: str) -> Callable[..., Any]:
        def wrapper(*a: Any, **k: Any) -> Any:
            frame = [time.process_time(), self.kernel, 0.0]
            self.stack.append(frame)
            try:
                return f(*a, **k)
            finally:
                self.stack.pop()
                outside = time.process_time() - frame[0] - (self.kernel - frame[1])
                row = self.own.setdefault(key, [0.0, 0.0])
                row[0] += outside - frame[2]
                row[1] += 1
                if self.stack:
                    self.stack[-1][2] += outside

        return wrapper

    def kernel_wrap(self, f: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*a: Any, **k: Any) -> Any:
            c0 = time.process_time()
            try:
                return f(*a, **k)
            finally:
                self.kernel += time.process_time() - c0

        return timed


def _patch(clock: _Clock) -> None:
    for mod, name in (*PARTS, *INNER):
        f = getattr(importlib.import_module(mod), name, None)
        if f is None:  # an older checkout without this step (compare two checkouts with one script)
            continue
        w = clock.wrap(f, f"{mod.rsplit('.', 1)[-1]}.{name}")
        for m in list(sys.modules.values()):
            if getattr(m, "__name__", "").startswith("mitrasim") and getattr(m, name, None) is f:
                setattr(m, name, w)
    dispatch.run_batch = clock.kernel_wrap(dispatch.run_batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5_000)
    ap.add_argument("--population", default="tvt_mixed")
    ap.add_argument("--functions", action="store_true", help="also list every timed function's own CPU outside the kernel")
    a = ap.parse_args()
    run_trial(_trial(200, a.population), Path(tempfile.mkdtemp()) / "warm", workers=1, progress=False)
    clock = _Clock()
    _patch(clock)
    with tempfile.TemporaryDirectory() as d:
        c0 = time.process_time()
        run_trial(_trial(a.n, a.population), Path(d) / "t", workers=1, chunk_threads=1, progress=False)  # one chunk at a time: CPU per call is the call's
        cpu = time.process_time() - c0
    outside = cpu - clock.kernel
    print(f"{a.population} n={a.n:,}: CPU {cpu:.2f} s, kernel {clock.kernel:.2f} s, outside the kernel {outside:.3f} s "
          f"({100 * outside / cpu:.1f} %), load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"  {'component: own CPU-s outside the kernel':64s} {'CPU-s':>7s} {'share':>6s}")
    named = set()
    for label, keys in COMPONENTS:
        s = sum(clock.own.get(k, [0.0])[0] for k in keys)
        named.update(keys)
        print(f"  {label:64s} {s:7.3f} {100 * s / outside:5.1f}%")
    other = sum(v[0] for k, v in clock.own.items() if k not in named)
    if other:
        print(f"  {'other timed functions':64s} {other:7.3f} {100 * other / outside:5.1f}%")
    rest = outside - sum(v[0] for v in clock.own.values())
    print(f"  {'the rest (run_trial, chunk files, Parquet, untimed)':64s} {rest:7.3f} {100 * rest / outside:5.1f}%")
    if a.functions:
        print(f"  {'function: own CPU-s outside the kernel (calls)':48s}")
        for key, (c, calls) in sorted(clock.own.items(), key=lambda kv: -kv[1][0]):
            print(f"  {key:48s} {c:7.3f}  ({int(calls)})")


if __name__ == "__main__":
    main()
