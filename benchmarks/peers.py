"""Peer simulators for mitrasim's engine benchmark and like-for-like checks.

Plain functions that run the simulators a user might choose instead of
mitrasim, on the same scenario and machine, and reduce their last simulated
beat to the same handful of metrics:

* ``svzerod`` (SimVascular svZeroDSolver, C++ core, implicit generalized-alpha)
  on SimVascular's own ``closed_loop_two_hill.json`` test case, a member of the
  Regazzoni et al. 2022 model family;
* ``circulation`` (Simula), whose ``Regazzoni2020`` class integrates the same
  model family in pure Python with forward Euler at 1 ms, on its own default
  parameters.

It also measures the machine's float64 floating-point peak (numpy matrix
multiply) on one core and on all cores, so that the engine's throughput can be
quoted as a fraction of it.

These packages are benchmark/test extras (``benchmarks/requirements.txt``),
never runtime dependencies of mitrasim; they are imported lazily, inside the
functions that need them.

Every metric dictionary returned here has the keys::

    edv_ml, esv_ml, sv_ml, ef_pct, sbp_mmhg, dbp_mmhg, map_mmhg,
    la_mean_mmhg, co_l_min, hr_bpm

where the aortic pressures are those of the systemic arterial compartment
just downstream of the aortic valve, the means are time averages over the last
beat (trapezoidal rule), and ``co_l_min`` is the net aortic-valve flow
integrated over the last beat times the heart rate.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Pascal per mmHg.
PA_PER_MMHG = 133.322
#: Cubic metres per millilitre.
M3_PER_ML = 1e-6

#: Environment variable naming the shared folder (the one holding ``peers/``).
SHARED_ENV = "MITRASIM_SHARED"
#: Location of the two-hill file inside the shared folder.
TWO_HILL_RELPATH = Path("peers") / "svzerod" / "closed_loop_two_hill.json"

#: svZeroDSolver output names used for the metrics (checked in ``run_svzerod``).
SVZEROD_NAMES = {
    "v_lv": "Vc:LV",
    "p_lv": "pressure:LV:AV",
    "q_av": "flow:LV:AV",
    "q_mv": "flow:LA:MV",
    "p_la": "pressure:LA:MV",
    "p_ao": "pressure:AV:AR_SYS",
}

_REPO_ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------


def two_hill_config_path() -> Path | None:
    """Return the path of ``closed_loop_two_hill.json`` if it can be found, else None.

    Looked for, in order, under ``$MITRASIM_SHARED/peers/svzerod/`` and under
    ``../shared/peers/svzerod/`` relative to the repository root (the shared
    folder sits beside the checkout).
    """
    candidates: list[Path] = []
    env = os.environ.get(SHARED_ENV)
    if env:
        candidates.append(Path(env) / TWO_HILL_RELPATH)
    candidates.append(_REPO_ROOT.parent / "shared" / TWO_HILL_RELPATH)
    for cand in candidates:
        if cand.is_file():
            return cand
    return None


def load_two_hill_config(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Read SimVascular's ``closed_loop_two_hill.json`` (svZeroDSolver input, SI units).

    Parameters
    ----------
    path
        Explicit file path. If None, the file is looked for under
        ``$MITRASIM_SHARED/peers/svzerod/`` and then ``../shared/peers/svzerod/``
        relative to the repository root.

    Returns
    -------
    dict
        The parsed configuration (a fresh object: callers may modify it).

    Raises
    ------
    FileNotFoundError
        If the file cannot be found, with the places that were searched.
    """
    if path is None:
        found = two_hill_config_path()
        if found is None:
            raise FileNotFoundError(
                "closed_loop_two_hill.json not found: set MITRASIM_SHARED to the shared "
                f"folder (containing {TWO_HILL_RELPATH.as_posix()}) or place that folder "
                "beside the repository as ../shared"
            )
        path = found
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


# --------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------


def _beat_mean(t: np.ndarray, y: np.ndarray) -> float:
    """Time average of ``y`` over ``t`` (trapezoidal rule)."""
    return float(np.trapezoid(y, t) / (t[-1] - t[0]))


def beat_metrics(
    t_s: np.ndarray,
    v_lv_ml: np.ndarray,
    p_ao_mmhg: np.ndarray,
    p_la_mmhg: np.ndarray,
    q_av_ml_s: np.ndarray,
    period_s: float,
) -> dict[str, float]:
    """Reduce one beat's waveforms (clinical units) to the comparison metrics.

    ``t_s`` should span exactly one period, both ends included.
    """
    edv = float(np.max(v_lv_ml))
    esv = float(np.min(v_lv_ml))
    sv = edv - esv
    fwd_ml = float(np.trapezoid(q_av_ml_s, t_s))  # net aortic flow over the beat
    hr = 60.0 / period_s
    return {
        "edv_ml": edv,
        "esv_ml": esv,
        "sv_ml": sv,
        "ef_pct": 100.0 * sv / edv,
        "sbp_mmhg": float(np.max(p_ao_mmhg)),
        "dbp_mmhg": float(np.min(p_ao_mmhg)),
        "map_mmhg": _beat_mean(t_s, p_ao_mmhg),
        "la_mean_mmhg": _beat_mean(t_s, p_la_mmhg),
        "co_l_min": fwd_ml * hr / 1000.0,
        "hr_bpm": hr,
    }


METRIC_KEYS = ("edv_ml", "esv_ml", "sbp_mmhg", "dbp_mmhg", "la_mean_mmhg", "co_l_min")
"""Metrics used to judge convergence (the like-for-like set plus CO)."""


def max_rel_diff(a: dict[str, float], b: dict[str, float], keys=METRIC_KEYS) -> float:
    """Largest relative difference |a-b|/|b| over ``keys``."""
    return max(abs(a[k] - b[k]) / abs(b[k]) for k in keys)


# --------------------------------------------------------------------------
# svZeroDSolver
# --------------------------------------------------------------------------


def _svzerod_setup(
    cfg: dict[str, Any], n_beats: int, steps_per_beat: int
) -> dict[str, Any]:
    cfg = copy.deepcopy(cfg)
    sp = cfg["simulation_parameters"]
    sp["number_of_cardiac_cycles"] = int(n_beats)
    sp["number_of_time_pts_per_cardiac_cycle"] = int(steps_per_beat)
    sp["output_all_cycles"] = False
    sp["output_variable_based"] = True
    return cfg


def _svzerod_metrics(wide, period_s: float) -> dict[str, float]:
    missing = [n for n in SVZEROD_NAMES.values() if n not in wide.columns]
    if missing:
        raise KeyError(f"svzerod output lacks {missing}; has {sorted(wide.columns)}")
    t = wide.index.to_numpy(dtype=float)
    col = lambda key: wide[SVZEROD_NAMES[key]].to_numpy(dtype=float)  # noqa: E731
    out = beat_metrics(
        t - t[0],
        col("v_lv") / M3_PER_ML,
        col("p_ao") / PA_PER_MMHG,
        col("p_la") / PA_PER_MMHG,
        col("q_av") / M3_PER_ML,
        period_s,
    )
    # The file's valves are not perfect diodes (closed resistance Rmax): report
    # the back-flow volume through each left-heart valve over the beat.
    out["mv_backflow_ml"] = -float(np.trapezoid(np.minimum(col("q_mv"), 0.0), t)) / M3_PER_ML
    out["av_backflow_ml"] = -float(np.trapezoid(np.minimum(col("q_av"), 0.0), t)) / M3_PER_ML
    return out


def _svzerod_simulate(cfg: dict[str, Any]):
    """Run svzerod and pivot its long dataframe to (time x name), with the wall time."""
    import svzerod

    t0 = time.perf_counter()
    df = svzerod.simulate(cfg)
    wall = time.perf_counter() - t0
    wide = df.pivot(index="time", columns="name", values="y").sort_index()
    return wide, wall


def _svzerod_solver_run(cfg: dict[str, Any]):
    """Run ``svzerod.Solver`` (no pandas output); wide frame of all variables and the
    wall time of construction plus ``run`` only."""
    import pandas as pd
    import svzerod

    t0 = time.perf_counter()
    solver = svzerod.Solver(cfg)
    solver.run()
    wall = time.perf_counter() - t0
    names = list(cfg["initial_condition"]) or list(SVZEROD_NAMES.values())
    data = {n: np.asarray(solver.get_single_result(n), dtype=float) for n in names}
    wide = pd.DataFrame(data, index=np.asarray(solver.get_times(), dtype=float))
    return wide, wall


def run_svzerod(
    cfg: dict[str, Any],
    n_beats: int = 20,
    steps_per_beat: int = 200,
    api: str = "simulate",
) -> dict[str, Any]:
    """Run svZeroDSolver on ``cfg`` and return the last beat's metrics and timing.

    Parameters
    ----------
    cfg
        svZeroDSolver configuration (e.g. from :func:`load_two_hill_config`); not modified.
    n_beats
        Number of cardiac cycles simulated from the file's initial condition.
    steps_per_beat
        ``number_of_time_pts_per_cardiac_cycle`` (output points per cycle, both
        ends included, so the time step is period / (steps_per_beat - 1)).
    api
        ``"simulate"``: time ``svzerod.simulate(cfg)`` as a user calls it
        (includes building its pandas output of every variable);
        ``"solver"``: time ``svzerod.Solver(cfg).run()`` only, the C++ core
        (results are read out afterwards, untimed).

    Returns
    -------
    dict
        The metrics of :func:`beat_metrics`, ``mv_backflow_ml`` and
        ``av_backflow_ml`` (volume flowing backwards through the closed mitral
        and aortic valves over the beat: the file's closed-valve resistance
        ``Rmax`` = 6.666e9 Pa s/m^3 = 50 mmHg s/mL leaks about 0.5 mL per beat
        each, which is why ``co_l_min`` is about 1.3% below SV x HR), plus
        ``wall_s`` (wall time of
        ``svzerod.simulate``, which includes building its pandas output),
        ``us_per_beat``, ``n_beats``, ``steps_per_beat``, ``period_s`` and
        ``final_state`` (every output variable at the end of the run, SI units,
        usable as an ``initial_condition``).
    """
    run_cfg = _svzerod_setup(cfg, n_beats, steps_per_beat)
    period = float(run_cfg["simulation_parameters"]["cardiac_period"])
    if api == "simulate":
        wide, wall = _svzerod_simulate(run_cfg)
    elif api == "solver":
        wide, wall = _svzerod_solver_run(run_cfg)
    else:
        raise ValueError(f"api must be 'simulate' or 'solver', got {api!r}")
    out: dict[str, Any] = _svzerod_metrics(wide, period)
    out.update(
        wall_s=wall,
        us_per_beat=1e6 * wall / n_beats,
        n_beats=int(n_beats),
        steps_per_beat=int(steps_per_beat),
        period_s=period,
        api=api,
        final_state={k: float(v) for k, v in wide.iloc[-1].items()},
    )
    return out


def time_svzerod(
    cfg: dict[str, Any],
    n_beats: int = 20,
    steps_per_beat: int = 200,
    repeats: int = 5,
    api: str = "simulate",
) -> dict[str, Any]:
    """Median (and min) wall time per beat of :func:`run_svzerod` over ``repeats`` runs."""
    runs = [run_svzerod(cfg, n_beats, steps_per_beat, api) for _ in range(repeats)]
    per_beat = [r["us_per_beat"] for r in runs]
    out = {k: v for k, v in runs[-1].items() if k != "final_state"}
    out.update(
        us_per_beat=statistics.median(per_beat),
        us_per_beat_min=min(per_beat),
        repeats=repeats,
    )
    return out


def svzerod_converged_reference(
    cfg: dict[str, Any],
    steps_per_beat: int = 689,
    chunk: int = 10,
    rtol: float = 5e-4,
    max_beats: int = 500,
    check_steps_per_beat: int | None = 2000,
) -> dict[str, Any]:
    """svZeroDSolver's periodic steady state on ``cfg``: the like-for-like target.

    Runs ``chunk`` cycles at a time, each chunk warm-started from the final
    state of the previous one, until the last-beat metrics (``METRIC_KEYS``)
    change by less than ``rtol`` (relative) between successive chunks.

    Parameters
    ----------
    cfg
        svZeroDSolver configuration; not modified.
    steps_per_beat
        Points per cycle (689 in the file, about 1 ms steps).
    chunk
        Cycles per chunk.
    rtol
        Relative change between successive chunks below which the run stops
        (5e-4 = 0.05%).
    max_beats
        Cap on the total number of cycles; a RuntimeError is raised if reached.
    check_steps_per_beat
        If given, the converged state is continued for ``chunk`` more cycles at
        this finer resolution and the largest relative difference of the
        metrics is reported as ``step_rel_diff`` (time-step error estimate),
        with those metrics under ``fine``.

    Returns
    -------
    dict
        The metrics of :func:`beat_metrics`, plus ``beats`` (total cycles run),
        ``last_rel_change`` (between the last two chunks), ``steps_per_beat``,
        ``final_state`` and, if checked, ``fine`` and ``step_rel_diff``.
    """
    state_cfg = copy.deepcopy(cfg)
    prev: dict[str, Any] | None = None
    beats = 0
    change = float("inf")
    while True:
        res = run_svzerod(state_cfg, chunk, steps_per_beat)
        beats += chunk
        state_cfg["initial_condition"] = res["final_state"]
        if prev is not None:
            change = max_rel_diff(res, prev)
            if change < rtol:
                break
        if beats >= max_beats:
            raise RuntimeError(
                f"svzerod not periodic to {rtol:g} after {beats} cycles "
                f"(last change {change:.2e})"
            )
        prev = res
    out: dict[str, Any] = {k: v for k, v in res.items() if k not in ("wall_s", "us_per_beat", "n_beats")}
    out.update(beats=beats, last_rel_change=change, rtol=rtol)
    if check_steps_per_beat:
        fine = run_svzerod(state_cfg, chunk, check_steps_per_beat)
        out["fine"] = {k: fine[k] for k in fine if k.endswith(("_ml", "_mmhg", "_pct", "_min", "_bpm"))}
        out["fine"]["steps_per_beat"] = int(check_steps_per_beat)
        out["step_rel_diff"] = max_rel_diff(out, fine)
    return out


# --------------------------------------------------------------------------
# circulation (Simula) Regazzoni2020
# --------------------------------------------------------------------------


def run_circulation(
    n_beats: int = 5,
    dt: float = 1e-3,
    parameters: dict[str, Any] | None = None,
    file_output: bool = False,
) -> dict[str, Any]:
    """Run the ``circulation`` package's ``Regazzoni2020`` model; last-beat metrics and timing.

    Pure Python, forward Euler at ``dt`` (1 ms by default), on the package's
    own default parameters (75 bpm) unless ``parameters`` (a nested dict in the
    package's format, unit-free mmHg/mL/s) overrides some. The model writes
    text files to its output folder; a temporary folder is used and removed.
    It is slow (about 0.1 s per beat): keep ``n_beats`` small for timing.

    ``file_output``: the package's ``solve`` calls ``save_state`` (``np.savetxt``
    of the whole, preallocated result arrays) at the first step of every beat
    as well as at the end, a cost that grows with ``n_beats`` squared and is no
    part of the integration. By default (False) that method is replaced by a
    no-op on the instance so that the timing measures the model's numerics;
    True keeps the package's behaviour as shipped.

    Returns
    -------
    dict
        The metrics of :func:`beat_metrics` plus ``wall_s`` (wall time of
        ``solve``, which includes the package's own result saving),
        ``us_per_beat``, ``n_beats``, ``dt_s``, ``period_s``.
    """
    from circulation.regazzoni2020 import Regazzoni2020

    with tempfile.TemporaryDirectory() as tmp:
        model = Regazzoni2020(parameters=parameters, outdir=Path(tmp))
        if not file_output:
            model.save_state = lambda: None  # type: ignore[method-assign]
        # The package configures INFO logging with a line per beat: silence it.
        logging.getLogger("circulation").setLevel(logging.WARNING)
        t0 = time.perf_counter()
        hist = model.solve(num_beats=n_beats, dt=dt)
        wall = time.perf_counter() - t0
    period = 1.0 / float(model.HR)
    t = np.asarray(hist["time"])
    n_per_beat = int(round(period / dt))
    last = slice(len(t) - n_per_beat - 1, len(t))  # one beat, both ends included
    out: dict[str, Any] = beat_metrics(
        t[last] - t[last][0],
        np.asarray(hist["V_LV"])[last],
        np.asarray(hist["p_AR_SYS"])[last],
        np.asarray(hist["p_LA"])[last],
        np.asarray(hist["Q_AV"])[last],
        period,
    )
    out.update(
        wall_s=wall,
        us_per_beat=1e6 * wall / n_beats,
        n_beats=int(n_beats),
        dt_s=dt,
        period_s=period,
        file_output=bool(file_output),
    )
    return out


# --------------------------------------------------------------------------
# machine peak
# --------------------------------------------------------------------------

_PEAK_SCRIPT = r"""
import json, os, sys, time
import numpy as np
seconds, n = float(sys.argv[1]), int(sys.argv[2])
try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:
    threadpool_info = threadpool_limits = None
rng = np.random.default_rng(0)
a = rng.standard_normal((n, n)); b = rng.standard_normal((n, n))
def measure():
    a @ b  # warm-up
    best, t_end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0 = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9
ncores = os.cpu_count() or 1
res = {"n": n, "cores": ncores}
if threadpool_limits is not None:
    info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    res["blas"] = [{k: i.get(k) for k in ("internal_api", "version", "architecture",
                                           "threading_layer", "num_threads", "filepath")}
                   for i in info]
    with threadpool_limits(limits=1, user_api="blas"):
        res["gflops_1"] = measure()
    with threadpool_limits(limits=ncores, user_api="blas"):
        res["gflops_all"] = measure()
else:
    res["blas"] = None
    res["gflops_%s" % os.environ.get("OMP_NUM_THREADS", "all")] = measure()
print(json.dumps(res))
"""

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def machine_peak_gflops(seconds: float = 3.0, n: int = 2000) -> dict[str, Any]:
    """Measure float64 matrix-multiply GFLOP/s with numpy on 1 core and on all cores.

    Runs in a subprocess with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
    unset (they may be set on a machine to force a slower, portable kernel),
    so that the BLAS picks its native kernel. Thread counts are set with
    ``threadpoolctl`` when installed; otherwise two subprocesses are run with
    the thread environment variables set to 1 and to the core count.

    Parameters
    ----------
    seconds
        Time spent measuring each thread count (best single multiply counts).
    n
        Matrix size (n x n times n x n, 2 n^3 flops).

    Returns
    -------
    dict
        ``gflops_1`` (one core), ``gflops_all`` (all cores), ``cores``,
        ``blas`` (threadpoolctl's description of the BLAS: ``internal_api``,
        ``architecture`` = the kernel that ran, version, ...; None without
        threadpoolctl), ``n``, and ``env_unset``: the values the two OpenBLAS
        variables had in this process (None if unset).
    """
    env = dict(os.environ)
    unset = {k: env.pop(k, None) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}

    def call(extra: dict[str, str]) -> dict[str, Any]:
        e = dict(env)
        e.update(extra)
        proc = subprocess.run(
            [sys.executable, "-c", _PEAK_SCRIPT, str(seconds), str(n)],
            env=e, capture_output=True, text=True, check=True,
        )
        return json.loads(proc.stdout.strip().splitlines()[-1])

    try:
        import threadpoolctl  # noqa: F401

        have_tpc = True
    except ImportError:
        have_tpc = False
    if have_tpc:
        for k in _THREAD_VARS:
            env.pop(k, None)
        res = call({})
    else:
        ncores = os.cpu_count() or 1
        one = call({k: "1" for k in _THREAD_VARS})
        allc = call({k: str(ncores) for k in _THREAD_VARS})
        res = {"n": n, "cores": ncores, "blas": None,
               "gflops_1": one["gflops_1"], "gflops_all": allc[f"gflops_{ncores}"]}
    res["env_unset"] = unset
    return res


# --------------------------------------------------------------------------
# command line: print the numbers for the benchmark notes
# --------------------------------------------------------------------------


def _fmt(m: dict[str, Any]) -> str:
    return (
        f"EDV {m['edv_ml']:.2f} mL, ESV {m['esv_ml']:.2f} mL, EF {m['ef_pct']:.1f}%, "
        f"BP {m['sbp_mmhg']:.2f}/{m['dbp_mmhg']:.2f} (MAP {m['map_mmhg']:.2f}) mmHg, "
        f"mean LA {m['la_mean_mmhg']:.3f} mmHg, CO {m['co_l_min']:.3f} L/min, "
        f"HR {m['hr_bpm']:.1f} bpm"
    )


def main() -> None:
    """Print svzerod timings and reference, the circulation package's, and the peak."""
    cfg = load_two_hill_config()
    for spb in (689, 200, 100):
        r = time_svzerod(cfg, n_beats=20, steps_per_beat=spb, repeats=5)
        rs = time_svzerod(cfg, n_beats=20, steps_per_beat=spb, repeats=5, api="solver")
        print(f"svzerod {spb:4d} pts/beat, 20 beats: median {r['us_per_beat'] / 1e3:.2f} ms/beat "
              f"(min {r['us_per_beat_min'] / 1e3:.2f}); Solver.run only {rs['us_per_beat'] / 1e3:.2f} "
              f"(min {rs['us_per_beat_min'] / 1e3:.2f}); last beat: {_fmt(r)}")
        assert max_rel_diff(r, rs) < 1e-9
    ref = svzerod_converged_reference(cfg)
    print(f"svzerod converged ({ref['steps_per_beat']} pts/beat, {ref['beats']} cycles, "
          f"last change {ref['last_rel_change']:.1e}): {_fmt(ref)}")
    print(f"  back-flow per beat: mitral {ref['mv_backflow_ml']:.3f} mL, aortic {ref['av_backflow_ml']:.3f} mL")
    for spb in (200, 100):
        r = run_svzerod(cfg, n_beats=20, steps_per_beat=spb)
        print(f"  {spb} pts/beat vs converged: max rel diff {max_rel_diff(r, ref):.2e}")
    print(f"  at {ref['fine']['steps_per_beat']} pts/beat: {_fmt(ref['fine'])}; "
          f"max rel diff {ref['step_rel_diff']:.2e}")
    for n in (5, 20):
        c = run_circulation(n_beats=n)
        c_io = run_circulation(n_beats=n, file_output=True)
        print(f"circulation Regazzoni2020, dt 1 ms, {n} beats: {c['us_per_beat'] / 1e3:.1f} ms/beat "
              f"({c_io['us_per_beat'] / 1e3:.1f} with its file output); last beat: {_fmt(c)}")
    p = machine_peak_gflops()
    print(f"peak float64 matmul: {p['gflops_1']:.1f} GFLOP/s on 1 core, "
          f"{p['gflops_all']:.1f} on {p['cores']} cores; BLAS {p['blas']}; unset {p['env_unset']}")


if __name__ == "__main__":
    main()
