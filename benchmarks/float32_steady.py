"""The float32 engine's steady state against float64's: convergence and beats at several tolerances.

For ``SolverSettings.precision="float32"`` (s8-h23): on varied patients of three presets (HR 50–110 bpm,
EROA 0–0.6 cm², MVA 1.5–5 cm², Anderson on), the share that converges within ``max_beats`` in each precision,
the range of the beat counts' difference float32 − float64, how many differ by more than one, and the
mean beats, at each tolerance of ``--tols`` (below ``simulation.FLOAT32_TOL_MIN`` float32 is refused, so
the settings are built at the floor and their ``tol`` set past the check: this script measures why the
floor is where it is).

    PYTHONPATH=src python benchmarks/float32_steady.py [--n 200] [--tols 1e-3,1e-4,3e-5,1e-5]
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from mitrasim.physiology import simulation as S

PRESETS = ("regazzoni2022", "primary_mr", "secondary_mr")


def _settings(tol: float, precision: str) -> S.SolverSettings:
    st = S.SolverSettings(tol=max(tol, S.FLOAT32_TOL_MIN) if precision == "float32" else tol, precision=precision)
    object.__setattr__(st, "tol", tol)  # past the floor's check, to measure below it
    return st


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--tols", default="1e-3,1e-4,3e-5,1e-5")
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    print(f"{args.n} patients a preset; load average {os.getloadavg()}")
    for preset in PRESETS:
        kw = {"eroa_cm2": rng.uniform(0.0, 0.6, args.n), "hr_bpm": rng.uniform(50.0, 110.0, args.n), "mva_cm2": rng.uniform(1.5, 5.0, args.n)}
        for tol in (float(t) for t in args.tols.split(",")):
            r64 = S.simulate(preset, settings=_settings(tol, "float64"), **kw)
            r32 = S.simulate(preset, settings=_settings(tol, "float32"), **kw)
            b32, b64 = r32.metrics["beats_to_steady"], r64.metrics["beats_to_steady"]
            d = b32 - b64
            print(f"{preset:14s} tol {tol:.0e}: converged float32 {r32.metrics['converged'].mean():.3f}, float64 "
                  f"{r64.metrics['converged'].mean():.3f}; beats float32 - float64 {d.min():+.0f} .. {d.max():+.0f}, "
                  f"|difference| > 1: {(np.abs(d) > 1).sum()}; mean beats {b32.mean():.2f} / {b64.mean():.2f}", flush=True)


if __name__ == "__main__":
    main()
