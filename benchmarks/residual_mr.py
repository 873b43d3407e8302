"""Residual MR after the procedure in every shipped population, and grades that contradict the
residual orifice and volume (issue 11, item 4).

Usage (from the repository root, mitrasim importable from src/)::

    PYTHONPATH=src python benchmarks/residual_mr.py --n 2000

One arm (stop rule MR ≤ 1+, at most 4 clips), seed 1, the default baseline mapping. Printed per
population: the decision grade after the procedure (0/1+/2+/3+/4+ %; the most-likely grade when the
guideline grade is indeterminate), patients whose grade contradicts their residual EROA and RVol
(EROA < 0.20 cm² and RVol < 30 mL graded ≥ 3+; EROA ≥ 0.40 cm² and RVol ≥ 60 mL graded < 3+),
patients graded below 3+ before the procedure, MVARC device success, and the CPU seconds the
population took.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from mitrasim.cohort.population import SHIPPED_POPULATIONS, load_population
from mitrasim.cohort.trial import parse_trial, read_results, run_trial
from mitrasim.echo.thresholds import threshold


def _cut(parameter: str, kind: str) -> float:
    """An ASE 2017 grade band edge from the one threshold table (``echo.thresholds``)."""
    return threshold("ase2017", parameter, kind).value  # type: ignore[union-attr]


def _cpu_s() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def population_row(name: str, n: int) -> dict:
    """Run ``n`` patients of population ``name`` and summarise their residual MR."""
    pop = load_population(name).model_dump()
    trial = parse_trial({"name": "residual", "population": pop, "n_patients": n, "seed": 1, "chunk_size": min(n, 2_500),
                         "arms": [{"name": "mr_le_1plus", "strategy": {"stop_rule": "mr_le_1plus", "max_clips": 4}}]})  # fmt: skip
    c0, t0 = _cpu_s(), time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        run_trial(trial, Path(d) / "t", workers=1, progress=False)
        tbl = read_results(Path(d) / "t")[0]
    cols = {k: tbl.column(k).to_numpy(zero_copy_only=False) for k in ("grade_after", "eroa_after_cm2", "rvol_after_ml", "grade_before", "mvarc_device_success")}
    g, eroa, rvol = cols["grade_after"], cols["eroa_after_cm2"], cols["rvol_after_ml"]
    return {
        "population": name,
        "n": int(g.size),
        "after_pct": [100.0 * float(np.mean(g == k)) for k in range(5)],
        "mild_graded_3plus": int(np.sum((eroa < _cut("eroa_cm2", "grade2_from")) & (rvol < _cut("rvol_ml", "grade2_from")) & (g >= 3))),
        "severe_graded_below_3plus": int(np.sum((eroa >= _cut("eroa_cm2", "grade4_from")) & (rvol >= _cut("rvol_ml", "grade4_from")) & (g < 3))),
        "baseline_below_3plus": int(np.sum(cols["grade_before"] < 3)),
        "device_success_pct": 100.0 * float(np.mean(cols["mvarc_device_success"].astype(bool))),
        "cpu_s": _cpu_s() - c0,
        "wall_s": time.perf_counter() - t0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="patients per population")
    ap.add_argument("--population", action="append", help="only these populations (default: every shipped one)")
    a = ap.parse_args()
    print("population      n     residual 0/1+/2+/3+/4+ %          EROA<0.20&RVol<30 >=3+  EROA>=0.40&RVol>=60 <3+  baseline<3+  device success  CPU s")
    for name in a.population or SHIPPED_POPULATIONS:
        r = population_row(name, a.n)
        dist = "/".join(f"{x:.1f}" for x in r["after_pct"])
        print(f"{name:14s} {r['n']:5d}  {dist:32s}  {r['mild_graded_3plus']:20d}  {r['severe_graded_below_3plus']:22d}  {r['baseline_below_3plus']:10d}"
              f"  {r['device_success_pct']:13.1f}%  {r['cpu_s']:6.1f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
