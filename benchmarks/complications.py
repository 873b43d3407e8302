"""Complication rates by risk stratum in every shipped population, next to the registered rates.

Usage (from the repository root, mitrasim importable from src/)::

    PYTHONPATH=src python benchmarks/complications.py --n 3000

Each population is sampled (seed 1), every patient goes through the procedure (stop rule MR <= 1+,
up to 4 clips, the trial solver), and the in-hospital events are counted overall and by age
(< 75, 75-85, >= 85 years), LVEF (< 30%, >= 30%) and etiology, with the procedure time and the
grasps.  The registered rates (mitrasim.procedure.risks.DEFAULT_RATES) are the reference
patient's (TVT median age 82, reference course); they are validation targets, not calibration
anchors: nothing is tuned to them.
"""

from __future__ import annotations

import argparse

import numpy as np

from mitrasim.cohort.adapter import Strategy, patient_setups
from mitrasim.cohort.population import SHIPPED_POPULATIONS, load_population, sample_population
from mitrasim.cohort.trial import CohortSolver
from mitrasim.procedure.process import run_procedure_arrays
from mitrasim.procedure.risks import DEFAULT_RATES

EVENTS = ("in_hospital_death", "stroke", "bleeding", "pericardial_effusion", "urgent_surgery", "slda", "embolization")


def _row(label: str, sel: np.ndarray, ev: dict[str, np.ndarray], minutes: np.ndarray, grasps: np.ndarray) -> str:
    n = int(sel.sum())
    if n == 0:
        return f"  {label:18s} n=0"
    rates = "  ".join(f"{100 * ev[e][sel].mean():5.2f}" for e in EVENTS)
    return f"  {label:18s} n={n:5d}  {rates}   {np.median(minutes[sel]):5.0f} min  {grasps[sel].mean():4.2f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    reg = {e: getattr(DEFAULT_RATES, e, None) for e in EVENTS}
    reg["slda"], reg["embolization"] = DEFAULT_RATES.slda_per_patient, DEFAULT_RATES.embolization_per_patient
    head = "  ".join(f"{e[:8]:>5s}" for e in EVENTS)
    print(f"  {'stratum':18s} {'':7s}  {head}   median time  grasps   (% of patients with a clip tried)")
    print(f"  {'registered':18s} {'':7s}  " + "  ".join(f"{100 * reg[e]:5.2f}" for e in EVENTS))
    settings = CohortSolver().settings(0)
    for name in SHIPPED_POPULATIONS:
        pop = load_population(name)
        pts = sample_population(pop, a.n, seed=a.seed)
        setups = patient_setups(pts, Strategy(stop_rule="mr_le_1plus", max_clips=4), settings, dict(pop.presets), pop.lv_volume_method)
        r = run_procedure_arrays(setups, seed=np.random.default_rng(a.seed))
        tried = r.attempts > 0
        age = pts.column("age_years").to_numpy()
        lvef = pts.column("lvef_pct").to_numpy()
        sec = np.array([s.etiology == "secondary" for s in setups])
        ev = r.complications
        print(f"{name} (n={a.n}, {int(tried.sum())} with a clip tried; median age {np.median(age):.0f})")
        for label, sel in (
            ("all", tried),
            ("age < 75", tried & (age < 75)),
            ("age 75-85", tried & (age >= 75) & (age < 85)),
            ("age >= 85", tried & (age >= 85)),
            ("LVEF < 30%", tried & (lvef < 30)),
            ("LVEF >= 30%", tried & (lvef >= 30)),
            ("primary", tried & ~sec),
            ("secondary", tried & sec),
        ):
            print(_row(label, sel, ev, r.minutes, r.grasps))


if __name__ == "__main__":
    main()
