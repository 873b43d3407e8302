"""One patient (issue 19, goal 2): the whole ``simulate()`` call against the kernel alone and
svZeroDSolver, and a warm ``mitrasim simulate --json`` as a whole process.

    PYTHONPATH=src python benchmarks/one_patient.py [--only call,cli] [--repeats 200] [--json out.json]

``call``: one patient of ``svzerod_two_hill`` (SimVascular's ``closed_loop_two_hill.json``), 20
plain beats (no Anderson acceleration, like the kernel call and svZeroDSolver), at 208 RK4 steps
per beat (the first multiple of 16 at or above svZeroDSolver's 200 points per beat) and at the 4 ms step (176 steps), each timed as the whole ``simulate()`` call and as the
kernel alone on the same prepared arrays, with svZeroDSolver 3.2 on the same file at 200 points per
beat and 20 beats, all interleaved in one loop; medians and the 10th–90th percentile of the per-round
ratios; the accuracy of each against its tight reference (mitrasim: scipy Radau on the same model;
svZeroDSolver: itself converged at 689 and 2000 points per beat).

``cli``: whole processes, interleaved: ``python -c pass``, ``import numpy``, ``import numba`` and
``mitrasim simulate --json`` (default preset and ``svzerod_two_hill``) on a filled compile cache;
median CPU seconds (user + system, of the child) and wall seconds.  ``--baseline-src DIR`` adds the
same command run from another checkout's ``src`` (e.g. the main branch) to the rotation.

CPU seconds are reported beside wall seconds: on a shared machine they are inflated less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import engine as B  # noqa: E402  (benchmarks/engine.py: shared helpers)
import peers  # noqa: E402

from mitrasim.physiology import simulation as S  # noqa: E402

PRESET = "svzerod_two_hill"
N_BEATS = 20
SVZEROD_POINTS_PER_BEAT = 200


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q))


def whole_call_vs_kernel(repeats: int) -> dict:
    """Interleaved: simulate() and the kernel alone at two steps, and svZeroDSolver (fewer rounds)."""
    period = 60.0 / S.build_batch(S.get_parameter_set(PRESET))[0]["hr_bpm"][0]
    steps_like = {"208_steps": period / SVZEROD_POINTS_PER_BEAT, "176_steps_4ms": 4e-3}
    fns, info = {}, {}
    for name, dt in steps_like.items():
        n_steps = int(B.mitrasim_fixed_beats(PRESET, 1, dt).n_steps[0])
        ps, P, ew, X0 = B._engine_arrays(PRESET, n_steps)
        plain = S.SolverSettings(min_beats=N_BEATS, max_beats=N_BEATS, tol=1e-300, dt_max_s=dt, accelerate=False)
        fns[f"call_{name}"] = (lambda plain=plain: S.simulate(PRESET, settings=plain))  # plain beats, as the kernel call
        fns[f"kernel_{name}"] = B._kernel_call(ps, P, ew, X0, n_steps, N_BEATS)
        err, metric = B.radau_worst(PRESET, 3, dt)
        info[name] = {"steps_per_beat": n_steps, "dt_max_s": dt, "max_rel_err_vs_radau": err, "max_rel_err_vs_radau_metric": metric}
    cfg = peers.load_two_hill_config()
    svz = lambda: peers.run_svzerod(cfg, n_beats=N_BEATS, steps_per_beat=SVZEROD_POINTS_PER_BEAT)  # noqa: E731
    for f in (*fns.values(), svz):
        f()  # compile or load, warm caches
    cpu: dict[str, list[float]] = {k: [] for k in (*fns, "svzerod")}
    wall: dict[str, list[float]] = {k: [] for k in (*fns, "svzerod")}
    every = max(1, repeats // 20)  # svZeroDSolver takes ~100× as long: 20 rounds of it
    for r in range(repeats):
        for k, f in (*fns.items(), *((("svzerod", svz),) if r % every == 0 else ())):
            c, t = time.process_time(), time.perf_counter()
            f()
            wall[k].append(time.perf_counter() - t)
            cpu[k].append(time.process_time() - c)
    out: dict = {"preset": PRESET, "beats": N_BEATS, "repeats": repeats, "steps": info,
                 "svzerod_points_per_beat": SVZEROD_POINTS_PER_BEAT,
                 "svzerod_max_rel_err_vs_converged": peers.max_rel_diff(svz(), peers.svzerod_converged_reference(cfg)),
                 "us_per_beat_wall_median": {k: 1e6 * statistics.median(v) / N_BEATS for k, v in wall.items()},
                 "us_per_beat_cpu_median": {k: 1e6 * statistics.median(v) / N_BEATS for k, v in cpu.items()}}
    for name in steps_like:
        ratios = [c / k for c, k in zip(wall[f"call_{name}"], wall[f"kernel_{name}"])]
        out[f"call_over_kernel_{name}"] = {"median": statistics.median(ratios), "p10": _pct(ratios, 10), "p90": _pct(ratios, 90),
                                           "of_medians_cpu": statistics.median(cpu[f"call_{name}"]) / statistics.median(cpu[f"kernel_{name}"])}
        for who in ("call", "kernel"):
            out[f"svzerod_over_{who}_{name}"] = statistics.median(wall["svzerod"]) / statistics.median(wall[f"{who}_{name}"])
    return out


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def whole_processes(repeats: int, baseline_src: Path | None) -> dict:
    """Warm whole processes, interleaved; the compile cache is the user's (filled by a first run)."""
    here_src = str(HERE.parent / "src")
    sim = ["-m", "mitrasim", "simulate", "--json"]
    cmds: dict[str, tuple[list[str], str]] = {
        "python -c pass": (["-c", "pass"], here_src),
        "import numpy": (["-c", "import numpy"], here_src),
        "import numba": (["-c", "import numba"], here_src),
        "mitrasim simulate --json": (sim, here_src),
        "mitrasim simulate --preset svzerod_two_hill --json": ([*sim, "--preset", PRESET], here_src),
    }
    if baseline_src is not None:
        cmds["baseline: mitrasim simulate --json"] = (sim, str(baseline_src))
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its bytecode compiled
    for args, src in cmds.values():  # fill the compile cache and the bytecode caches
        subprocess.run([sys.executable, *args], env={**env, "PYTHONPATH": src}, check=True, capture_output=True)
    cpu: dict[str, list[float]] = {k: [] for k in cmds}
    wall: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(repeats):
        for k, (args, src) in cmds.items():
            c, t = _child_cpu(), time.perf_counter()
            subprocess.run([sys.executable, *args], env={**env, "PYTHONPATH": src}, check=True, capture_output=True)
            wall[k].append(time.perf_counter() - t)
            cpu[k].append(_child_cpu() - c)
    return {k: {"cpu_s_median": statistics.median(cpu[k]), "cpu_s_p10": _pct(cpu[k], 10), "cpu_s_p90": _pct(cpu[k], 90),
                "wall_s_median": statistics.median(wall[k])} for k in cmds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="call,cli", help="comma-separated sections: call, cli")
    ap.add_argument("--repeats", type=int, default=200, help="rounds of the interleaved call loop (cli: a tenth)")
    ap.add_argument("--baseline-src", type=Path, help="another checkout's src folder to run `mitrasim simulate --json` from")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    only = set(args.only.split(","))
    out: dict = {"machine": B.machine(), "loadavg_start": os.getloadavg()}
    if "call" in only:
        out["call"] = whole_call_vs_kernel(args.repeats)
    if "cli" in only:
        out["cli"] = whole_processes(max(3, args.repeats // 10), args.baseline_src)
    out["loadavg_end"] = os.getloadavg()
    print(json.dumps(out, indent=1, default=float))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
