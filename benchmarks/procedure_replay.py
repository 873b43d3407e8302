"""Benchmark: the procedure side's own CPU outside the kernel, on replays of one trial chunk (issue 19 goal 4).

Usage (from the repository root, mitrasim importable from src/)::

    PYTHONPATH=src python benchmarks/procedure_replay.py --n 2500 --population tvt_mixed --repeats 3

One in-process trial of ``--n`` patients (one chunk, one arm as ``benchmarks/trial_parts.py``) is
run once with :func:`mitrasim.procedure.process.run_procedure_arrays`' inputs captured; then the
procedure alone is run ``--repeats`` times on them (the same inputs, so the same work each time),
with ``benchmarks/trial_breakdown.py``'s clock: every timed function charged its own CPU outside
the kernel, and the two procedure-side components of that script ("procedure steps" and
"operator's log") summed.  No sampling, set-up, indication or output runs between the repeats,
and the cyclic collector's objects are frozen before them as a trial freezes them
(``mitrasim.cohort.trial``), so a pair of checkouts compares the procedure's Python with less noise
than whole trials.  ``--functions`` lists each timed function of the two components.
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import trial_breakdown as tb
from trial_parts import _trial

import mitrasim.cohort.adapter as adapter
from mitrasim.cohort.trial import run_trial
from mitrasim.procedure import process

#: The components of ``trial_breakdown.COMPONENTS`` that are the procedure side's own Python.
PROCEDURE_SIDE = ("procedure steps", "operator's log")


def _captured(n: int, population: str) -> list[tuple[list[Any], dict[str, Any]]]:
    """The inputs of every ``run_procedure_arrays`` call of an ``n``-patient trial (one per chunk and arm)."""
    calls: list[tuple[list[Any], dict[str, Any]]] = []
    inner = adapter.run_procedure_arrays

    def capture(setups: Any, **kw: Any) -> Any:
        calls.append((list(setups), kw))
        return inner(setups, **kw)

    adapter.run_procedure_arrays = capture  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as d:
            run_trial(_trial(n, population), Path(d) / "t", workers=1, chunk_threads=1, progress=False)
    finally:
        adapter.run_procedure_arrays = inner
    return calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2_500)
    ap.add_argument("--population", default="tvt_mixed")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--functions", action="store_true", help="also list the procedure side's timed functions")
    a = ap.parse_args()
    calls = _captured(a.n, a.population)
    for setups, kw in calls:  # warm: every compiled function loaded
        process.run_procedure_arrays(setups, **kw)
    gc.collect()
    gc.freeze()
    clock = tb._Clock()
    tb._patch(clock)
    c0 = time.process_time()
    for _ in range(a.repeats):
        for setups, kw in calls:
            process.run_procedure_arrays(setups, **kw)
    cpu = (time.process_time() - c0) / a.repeats
    keys = [k for label, ks in tb.COMPONENTS if label.startswith(PROCEDURE_SIDE) for k in ks]
    own = {k: clock.own.get(k, [0.0])[0] / a.repeats for k in keys}
    parts = {name: sum(own[k] for label, ks in tb.COMPONENTS if label.startswith(name) for k in ks) for name in PROCEDURE_SIDE}
    print(f"{a.population} n={a.n:,} ({len(calls)} procedure call(s)), per repeat: CPU {cpu:.3f} s, kernel {clock.kernel / a.repeats:.3f} s; "
          f"procedure steps {parts['procedure steps']:.4f} + operator's log {parts[PROCEDURE_SIDE[1]]:.4f} = "
          f"procedure side {sum(parts.values()):.4f} CPU-s, load {os.getloadavg()[0]:.1f}")  # fmt: skip
    if a.functions:
        for k in sorted(keys, key=lambda k: -own[k]):
            print(f"  {k:36s} {1000 * own[k]:7.1f} ms")


if __name__ == "__main__":
    main()
