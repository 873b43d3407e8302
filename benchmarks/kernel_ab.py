"""Two versions of the engine's fixed-beat group kernel, interleaved in one process and one thread.

On a machine shared with other jobs two processes timed one after the other see different loads
(on the 2-core VM their CPU seconds per patient-beat differed by up to 20 % between runs of the same
code), so a change of a few per cent in the kernel cannot be seen that way.  Here each side's
``physiology/engine.py`` is loaded as its own module (its own compiled kernels, cached under its
own path), both run the same inputs on the calling thread in turn, ``--rounds`` times, and the
ratio of their thread CPU seconds is taken pair by pair: both sides see the same load.  Not the same
sensitivity to it, though: on the shared 2-core VM two copies of one file gave 1.002, while two different
kernels' ratio moved by up to ±10 % between runs (what the other vCPU runs slows different code differently),
so repeat a run and trust only a difference larger than that spread.

Run (from the repository root; ``A`` and ``B`` are two ``engine.py`` files, e.g. main's from a
second worktree and this checkout's, or a copy with one change)::

    PYTHONPATH=src python benchmarks/kernel_ab.py A/engine.py B/engine.py [--rounds 7] [--patients 2048]

Prints, for beats without metrics (``min_beats`` = the beats run) and with the metrics on every
beat (``min_beats`` 1): k patient-beats per CPU-second of each side (best and median) and B's speed
relative to A (best against best, and the median of the pairs), and whether B's metrics equal A's
bit for bit (else their largest relative difference).  The kernel is the 16-lane orifice-law group
kernel on the ``regazzoni2022`` batch of ``engine.py --only kernel`` (10 fixed beats at 208 steps,
no Anderson step).  Both files are copied into a temporary folder and compiled afresh (about 20 s of
CPU each).  An LLVM option for B alone (``--llvm-option-b``, e.g. ``--force-vector-width=4``) is set
after A has compiled.  Run it with ``PYTHONPATH`` on the newer checkout's ``src`` (the engine imports
the package's other modules).  ``--kernel-a``/``--kernel-b`` name another module-level kernel of a side (same
arguments), e.g. ``_run_group_lanes_orifice_f32`` to time the float32 kernel against the float64 one of the same
file (``SolverSettings.precision``), or a kernel a variant file adds (a lane count: ``_make_run_group(32, False,
"float32")``; the patients must then be a multiple of its lanes).
"""

from __future__ import annotations

import argparse
import shutil
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import engine as bench  # noqa: E402

from mitrasim.physiology import simulation as S  # noqa: E402


def load_engine(path: Path, folder: Path, name: str) -> ModuleType:
    """A copy of ``path`` (an engine.py) in ``folder``, imported as module ``name``.  The copy lies outside
    the package, so numba caches its kernels beside it (in ``folder``, which the run deletes): they are
    compiled afresh every run, and nothing enters the package's shared compile cache under another name."""
    copy = folder / f"{name}.py"
    shutil.copyfile(path, copy)
    spec = importlib.util.spec_from_file_location(name, copy)
    if spec is None or spec.loader is None:
        raise SystemExit(f"engine: cannot import {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _batch(n: int, dt: float = 4e-3):
    rng = np.random.default_rng(0)
    kw = {"eroa_cm2": rng.uniform(0.0, 0.6, n), "overrides": [{"lv_ea_mmhg_ml": float(x)} for x in rng.uniform(2.0, 3.5, n)]}
    steps = int(S.steps_per_beat(0.8, dt))
    _, P, ew, X0 = bench._engine_arrays("regazzoni2022", steps, **kw)
    return P, ew, X0, steps


def _kernel(mod: ModuleType, P, ew, X0, steps: int, n_beats: int, min_beats: int, name: str = "_run_group_lanes_orifice"):
    """One call of ``mod``'s group kernel ``name`` (default: the 16-lane float64 one) on every patient; returns its metrics."""
    n = P.shape[1]
    kernel = getattr(mod, name)

    def run() -> np.ndarray:
        metrics = np.zeros((mod.N_METRIC, n))
        kernel(P, X0, 0, steps, min_beats, n_beats, 1e-300, ew, metrics, np.zeros((14, n)), np.zeros((mod.N_WAVE, 0, n)), False, 0, n)
        return metrics

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--patients", type=int, default=2048)
    ap.add_argument("--llvm-option-b", action="append", default=[])
    ap.add_argument("--kernel-a", default="_run_group_lanes_orifice", help="A's kernel (a module-level name of its engine.py)")
    ap.add_argument("--kernel-b", default="_run_group_lanes_orifice", help="B's kernel, e.g. _run_group_lanes_orifice_f32")
    args = ap.parse_args()
    n_beats = 10
    P, ew, X0, steps = _batch(args.patients)
    with tempfile.TemporaryDirectory() as tmp:
        sides = {s: load_engine(p.resolve(), Path(tmp), f"engine_{s.lower()}") for s, p in (("A", args.a), ("B", args.b))}
        compare(sides, args, P, ew, X0, steps, n_beats)


def compare(sides: dict, args, P, ew, X0, steps: int, n_beats: int) -> None:
    """Compile both sides (A first), time them in turn ``args.rounds`` times, print the ratios."""
    n = P.shape[1]
    names = {"A": args.kernel_a, "B": args.kernel_b}
    fns = {(s, mb): _kernel(m, P, ew, X0, steps, n_beats, mb, names[s]) for s, m in sides.items() for mb in (n_beats, 1)}
    first = {}
    for key, fn in fns.items():  # compile or load, A first (B's LLVM options apply to B alone)
        if key == ("B", n_beats) and args.llvm_option_b:
            import llvmlite.binding as llvm

            for opt in args.llvm_option_b:
                llvm.set_option("", opt)
        first[key] = fn()
    cpu: dict = {k: [] for k in fns}
    for _ in range(args.rounds):
        for key, fn in fns.items():
            c = time.thread_time()
            fn()
            cpu[key].append(time.thread_time() - c)
    print(f"{n} patients, {n_beats} beats of {steps} steps, {args.rounds} rounds; A {names['A']}, B {names['B']}; load average {os.getloadavg()}")
    for mb, tag in ((n_beats, "metrics on the last beat"), (1, "metrics on every beat")):
        a, b = np.array(cpu[("A", mb)]), np.array(cpu[("B", mb)])
        # the beat metrics, without the steady-state bookkeeping rows (a residual of two float32 states
        # differs from float64's by design)
        rows = [i for i, k in enumerate(sides["A"].METRIC_NAMES) if k not in ("steady_residual", "converged", "beats_to_steady")]
        ma, mb_ = first[("A", mb)][rows], first[("B", mb)][rows]
        same = np.array_equal(ma, mb_, equal_nan=True)
        ok = np.isfinite(ma) & (np.abs(ma) > 1e-9)
        diff = "bit-identical" if same else f"largest relative difference {np.max(np.abs(mb_[ok] - ma[ok]) / np.abs(ma[ok])):.2e}"
        k = n * n_beats / 1e3
        print(f"{tag}: A {k / a.min():.0f} (median {k / np.median(a):.0f}), B {k / b.min():.0f} (median {k / np.median(b):.0f}) "
              f"k patient-beats per CPU-s; B/A speed {a.min() / b.min():.3f} (best), {np.median(a / b):.3f} (median of pairs); {diff}")


if __name__ == "__main__":
    main()
