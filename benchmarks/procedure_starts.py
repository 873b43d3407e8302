"""The procedure's start states (:mod:`mitrasim.procedure.start_states`): engine beats per patient in
each phase of a trial, and CPU, for settings of the switches in :mod:`mitrasim.procedure.steps`,
run alternately in one process (the same patients, the same fit).

    PYTHONPATH=src python benchmarks/procedure_starts.py --n 2500 --population tvt_mixed \\
        --switch PLANE_WAVES "()" "(2,)" "(1, 1, 1)" --repeats 3
    PYTHONPATH=src python benchmarks/procedure_starts.py --switch AWAKE_TRANSFER False True
    PYTHONPATH=src python benchmarks/procedure_starts.py --switch PLANE_WEIGHT_LIMIT 2.0 4.0 10.0 1e9

Each run is one chunk of the trial of ``cohort.py`` (one arm, MR ≤ 1+, up to 4 clips, seed 1) after a
100-patient warm-up; CPU is this process's (both engine threads).  Beats: the sum of the engine's
``beats_to_steady`` over every state simulated in the phase, per trial patient, with beats per state.
"""

from __future__ import annotations

import argparse
import ast
import os
import time


def main() -> None:
    from cohort import _trial, beat_counter
    from mitrasim.cohort.trial import compute_chunk
    from mitrasim.physiology import simulation
    from mitrasim.procedure import steps

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2500)
    ap.add_argument("--population", default="tvt_mixed")
    ap.add_argument("--switch", nargs="+", default=["PLANE_WAVES", "()", "(1, 1, 1)"], metavar=("NAME", "VALUE"))
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    name, values = a.switch[0], [ast.literal_eval(v) for v in a.switch[1:]]
    if not hasattr(steps, name):
        raise SystemExit(f"mitrasim.procedure.steps has no switch {name}")
    beats: dict[str, list[float]] = {}
    sim = simulation._result  # every engine batch's result (simulate or simulate_presets)

    counted = beat_counter(sim, beats)

    simulation._result = counted
    default = getattr(steps, name)
    try:
        compute_chunk(_trial(100, 100, a.population).model_dump_json(), 0)
        for _ in range(a.repeats):
            for v in values:
                setattr(steps, name, v)
                beats.clear()
                c0 = time.process_time()
                compute_chunk(_trial(a.n, a.n, a.population).model_dump_json(), 0)
                cpu = time.process_time() - c0
                total = sum(r[0] for r in beats.values())
                parts = "; ".join(f"{k} {r[0] / a.n:.2f} ({r[0] / max(r[1], 1):.2f}/state)" for k, r in beats.items() if k in ("procedure baseline", "clip rounds", "awake outcome"))
                print(f"{name}={v!r:14s} {a.population} n={a.n}: CPU {cpu:.2f} s, load {os.getloadavg()[0]:.1f}; beats per patient {total / a.n:.1f}: {parts}", flush=True)
    finally:
        setattr(steps, name, default)
        simulation._result = sim


if __name__ == "__main__":
    main()
