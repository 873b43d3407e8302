"""Engine benchmark: mitrasim vs svZeroDSolver and the `circulation` package, in one run.

Run by hand (results go to benchmarks/RESULTS.md with the machine and the command)::

    python -m pip install -r benchmarks/requirements.txt
    python benchmarks/engine.py            # everything (~2–3 min)
    python benchmarks/engine.py --quick    # fewer repeats
    python benchmarks/engine.py --only kernel,one,first   # issue 19's three measurements

Measures:

1. one patient, µs per simulated beat, at equal accuracy: mitrasim's ``svzerod_two_hill`` and
   ``regazzoni2022`` presets vs svZeroDSolver on the same two-hill file (same number of beats)
   and vs ``circulation``'s ``Regazzoni2020`` (forward Euler, 1 ms); accuracy of each against a
   tight reference (mitrasim: scipy Radau rtol 1e-10 on the same model; svzerod: itself at
   689 and 2000 points per beat);
2. batches of 1, 100, 1 000 and 10 000 patients with different parameters: patient-beats/s,
   and the share of the machine's float64 peak (numpy matmul on both cores) for the kernel's
   own operation count;
3. memory per patient without waveforms;
4. cold and warm start of ``mitrasim simulate`` (empty vs filled compile cache);
5. ``kernel``: the batched engine against the reference kernel of ``reference_kernel.py`` (same
   equations, step and beats), interleaved in one run, with the flops per patient-step counted by
   ``flops.py`` (``share_of_fma_peak`` at the step with metrics, as earlier sessions quoted it;
   ``share_of_fma_peak_done`` at the flops the run does: plain steps on the beats before ``min_beats``) and the share of the FMA peak (measured by ``fma_peak.py``) and of numpy's dgemm; the
   reference kernel in float32 too (its speed, its difference from float64, and both kernels' largest
   error against Radau on ``--radau-patients`` patients); the engine in float32 too
   (``SolverSettings.precision``: its speed against both reference kernels and the float64 engine, its
   share of the float32 FMA peak, taken as twice the float64 one: the same units do twice the lanes,
   its largest metric difference from the float64 engine and its error against Radau);
6. ``one``: one patient, the whole ``simulate()`` call against the kernel alone and svZeroDSolver
   at 200 points per beat (same file, same 20 beats), interleaved;
7. ``start``: the first ``mitrasim demo`` and ``mitrasim simulate --json`` on an empty compile cache,
   and both again warm (whole processes).

Wall-clock medians on a shared machine: only the ratios within one run mean much; the CPU seconds
of the process are given beside them (a kernel's work per CPU-second is less sensitive to other
jobs than its wall time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peers  # noqa: E402

from mitrasim.physiology import reference as R  # noqa: E402
from mitrasim.physiology import simulation as S  # noqa: E402
from mitrasim.physiology.parameter_sets import get_parameter_set  # noqa: E402
from mitrasim.physiology.parameters import KP  # noqa: E402

#: Floating-point operations per patient per RK4 step, counted from engine.py's loops:
#: each of the 4 stages forms its state (14 FMA = 28), chamber pressures (4 × 4 = 16), three
#: diodes (3 × 2 = 6), the two mitral orifices (9), mass balances (6), compartment slopes
#: (4 × 2 = 8) and inertial slopes (4 × 4 = 16): 89 per stage; the RK4 update 14 × 6 = 84;
#: the beat-metric accumulators about 40.  (Selects and compares not counted.)
FLOPS_PER_STEP = 4 * 89 + 84 + 40
METRICS = ("edv_ml", "esv_ml", "sbp_mmhg", "dbp_mmhg", "la_mean_mmhg", "co_l_min")


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numba

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numba": numba.__version__,
        "numpy": np.__version__,
        "loadavg": Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else None,
    }


def best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def fixed_beat_settings(n_beats: int, dt_max: float, precision: str = "float64") -> S.SolverSettings:
    """Plain beats, exactly ``n_beats`` (the steady-state test never ends a patient early: float64 at a
    tolerance no beat meets; float32 at its smallest allowed, which with min_beats = max_beats changes
    only the converged flag)."""
    tol = 1e-300 if precision == "float64" else S.FLOAT32_TOL_MIN
    return S.SolverSettings(min_beats=n_beats, max_beats=n_beats, tol=tol, dt_max_s=dt_max, accelerate=False, precision=precision)


def mitrasim_fixed_beats(preset: str, n_beats: int, dt_max: float, precision: str = "float64", **kw):
    return S.simulate(preset, settings=fixed_beat_settings(n_beats, dt_max, precision), **kw)


def radau_worst(preset: str, n_beats: int, dt_max: float, precision: str = "float64", **kw) -> tuple[float, str]:
    """Largest relative metric difference of mitrasim vs the Radau reference over ``n_beats`` plain
    beats (Anderson acceleration off: its beats would start elsewhere than the reference's), and the
    metric it is taken at (so a reported figure says which metric it is)."""
    ps = get_parameter_set(preset)
    res = mitrasim_fixed_beats(preset, n_beats, dt_max, precision, **kw)
    eng = res.patient_metrics()
    cols, n = S.build_batch(ps, None, **kw)
    P, _ = S._kernel_arrays(cols, ps.model, n, 1, int(res.n_steps[0]))
    X0 = S._initial_states(ps, cols, n, 1, None)
    _, w = R.reference_beats(P, 0, X0[:, 0], 0 if ps.model.activation == "cosine" else 1, ps.model.mitral == "diode", n_beats)
    ref = R.waveform_metrics(
        w, period_s=P[KP["period_s"], 0], eroa_cm2=P[KP["eroa_cm2"], 0], mva_cm2=P[KP["mva_cm2"], 0],
        t_ventricular_s=P[KP["lv_act_a"], 0], t_atrial_s=P[KP["la_act_a"], 0],
    )
    # every metric the reference computes but the 0/1 reversal flag (compared exactly by the tests)
    keys = [k for k, v in ref.items() if np.isfinite(v) and np.isfinite(eng[k]) and k != "pv_systolic_reversal"]
    return max((abs(eng[k] - ref[k]) / max(abs(ref[k]), 1e-9), k) for k in keys)


def one_patient(args) -> list[dict]:
    rows = []
    nb = 20
    for preset, kw in (("svzerod_two_hill", {}), ("regazzoni2022", {"eroa_cm2": 0.3})):
        for dt in (4e-3, 2.5e-3):
            mitrasim_fixed_beats(preset, 2, dt, **kw)  # compile / load cache
            t = best_of(lambda: mitrasim_fixed_beats(preset, nb, dt, **kw), args.repeats)
            steps = int(mitrasim_fixed_beats(preset, 1, dt, **kw).n_steps[0])
            err, worst = radau_worst(preset, 3, dt, **kw)
            rows.append({"simulator": f"mitrasim {preset}", "steps_per_beat": steps, "us_per_beat": 1e6 * t / nb, "max_rel_err_vs_reference": err,
                         "max_rel_err_metric": worst})
    try:
        cfg = peers.load_two_hill_config()
        fine = peers.svzerod_converged_reference(cfg) if not args.quick else None
        for steps in (200, 689):
            r = peers.time_svzerod(cfg, n_beats=nb, steps_per_beat=steps, repeats=args.repeats, api="simulate")
            rs = peers.time_svzerod(cfg, n_beats=nb, steps_per_beat=steps, repeats=args.repeats, api="solver")
            err = peers.max_rel_diff(r, fine) if fine else float("nan")
            rows.append({"simulator": "svzerod simulate()", "steps_per_beat": steps, "us_per_beat": r["us_per_beat"], "max_rel_err_vs_reference": err})
            rows.append({"simulator": "svzerod Solver.run() only", "steps_per_beat": steps, "us_per_beat": rs["us_per_beat"], "max_rel_err_vs_reference": err})
    except Exception as exc:  # peers are optional
        rows.append({"simulator": f"svzerod unavailable: {exc}"})
    try:
        c = peers.run_circulation(n_beats=5)
        rows.append({"simulator": "circulation Regazzoni2020 (Euler 1 ms)", "steps_per_beat": 800, "us_per_beat": c["us_per_beat"], "max_rel_err_vs_reference": float("nan")})
    except Exception as exc:
        rows.append({"simulator": f"circulation unavailable: {exc}"})
    return rows


def batches(args, peak_gflops: float | None) -> list[dict]:
    rows = []
    nb = 10
    rng = np.random.default_rng(0)
    for n in (1, 100, 1000, 10000):
        e = rng.uniform(0.0, 0.6, n)
        lv = rng.uniform(2.0, 3.5, n)
        ov = [{"lv_ea_mmhg_ml": float(x)} for x in lv]
        for dt in (4e-3, 2.5e-3):
            run = lambda: mitrasim_fixed_beats("regazzoni2022", nb, dt, eroa_cm2=e, overrides=ov)  # noqa: E731
            run()
            reps = args.repeats if n <= 1000 else max(1, args.repeats // 2)
            t = best_of(run, reps)
            steps = 16 * int(np.ceil(0.8 / (16 * dt)))
            pbs = n * nb / t
            gflops = pbs * steps * FLOPS_PER_STEP / 1e9
            rows.append({
                "patients": n, "steps_per_beat": steps, "patient_beats_per_s": pbs, "us_per_patient_beat": 1e6 / pbs,
                "kernel_gflops": gflops, "share_of_peak": gflops / peak_gflops if peak_gflops else float("nan"),
            })
    return rows


def memory_per_patient() -> float:
    import tracemalloc

    n = 10000
    e = np.linspace(0, 0.6, n)
    S.simulate("regazzoni2022", eroa_cm2=e[:16])
    tracemalloc.start()
    r = S.simulate("regazzoni2022", eroa_cm2=e)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del r
    return peak / n


def start_times() -> dict:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as d:
        env["MITRASIM_CACHE_DIR"] = d
        cmd = [sys.executable, "-m", "mitrasim", "simulate", "--eroa-cm2", "0.3", "--json"]
        t = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        cold = time.perf_counter() - t
        warm = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, capture_output=True)
            warm.append(time.perf_counter() - t)
    return {"cold_s": cold, "warm_s": statistics.median(warm)}


def _timed(fn) -> tuple[float, float]:
    c, t = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def _interleaved(fns: dict, repeats: int) -> dict[str, dict[str, float]]:
    """Median wall and CPU seconds of each function, run in turn ``repeats`` times."""
    for f in fns.values():
        f()  # warm: compile or load
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            runs[k].append(_timed(f))
    return {k: {"wall_s": statistics.median(w for w, _ in v), "cpu_s": statistics.median(c for _, c in v),
                "walls": [w for w, _ in v]} for k, v in runs.items()}


def _engine_arrays(preset: str, n_steps: int, **kw):
    """The kernel's inputs for a batch (what simulate() builds), so the kernel can be timed alone."""
    from mitrasim.physiology import engine as E

    ps = get_parameter_set(preset)
    cols, n = S.build_batch(ps, kw.pop("overrides", None), **kw)
    blk = 1 if n == 1 else E.LANES
    n_pad = -(-n // blk) * blk
    P, ew = S._kernel_arrays(cols, ps.model, n, n_pad, n_steps)
    X0 = S._initial_states(ps, cols, n, n_pad, None)
    return ps, P, ew, X0


def _kernel_call(ps, P, ew, X0, n_steps: int, n_beats: int, min_beats: int | None = None, precision: str = "float64"):
    """The engine kernel alone on fixed beats (Anderson off).  ``min_beats`` (default ``n_beats``):
    the first beat that could be reported; the kernel accumulates the beat metrics from there on,
    so ``min_beats=1`` times a steady-state run's kernel, which accumulates them on every beat.
    ``precision``: the float64 kernels or their float32 twins (``SolverSettings.precision``)."""
    from mitrasim.physiology import dispatch as D
    from mitrasim.physiology import engine as E

    n = P.shape[1]
    threads = D.batch_threads(0, n, precision)  # as simulate(): one work list per thread
    diode = ps.model.mitral == "diode"
    kind = 0 if ps.model.activation == "cosine" else 1

    def run():
        D.run_batch(P, X0, kind, diode, n_steps, n_beats if min_beats is None else min_beats, n_beats, 1e-300, ew, np.zeros((E.N_METRIC, n)),
                    np.zeros((14, n)), np.zeros((E.N_WAVE, 0, n)), False, threads, threads=threads, precision=precision)

    return run


def reference_kernels_vs_radau(P: np.ndarray, X0: np.ndarray, n_steps: int, n_patients: int, n_beats: int = 3) -> dict[str, float]:
    """Largest relative error of the reference kernel in float64 and in float32 against the Radau
    reference, over its :data:`reference_kernel.REF_METRICS` of ``n_beats`` plain beats, for
    ``n_patients`` patients spread over the batch (Radau at rtol 1e-10 takes seconds per patient)."""
    import reference_kernel as RK

    cols = np.linspace(0, P.shape[1] - 1, n_patients).astype(int)
    Pc, Xc = np.ascontiguousarray(P[:, cols]), np.ascontiguousarray(X0[:, cols])
    ref = np.empty((len(RK.REF_METRICS), n_patients))
    for i in range(n_patients):
        _, w = R.reference_beats(Pc, i, Xc[:, i], 0, False, n_beats)
        m = R.waveform_metrics(w, period_s=Pc[KP["period_s"], i], eroa_cm2=Pc[KP["eroa_cm2"], i], mva_cm2=Pc[KP["mva_cm2"], i],
                               t_ventricular_s=Pc[KP["lv_act_a"], i], t_atrial_s=Pc[KP["la_act_a"], i])
        ref[:, i] = [m[k] for k in RK.REF_METRICS]
    return {name: float(np.max(np.abs(RK.run(Pc, Xc, n_steps, n_beats, dtype) - ref) / np.abs(ref)))
            for name, dtype in (("float64", np.float64), ("float32", np.float32))}


def engine_precision_difference(r64, r32) -> dict[str, float]:
    """Largest relative difference of each metric, the float32 engine against the float64 one on the same
    patients and beats; the pulmonary-vein flow's systolic minimum, which may sit near zero, relative to
    the larger of its S and D peaks (as its accuracy test measures it)."""
    out = {}
    for k, a in r32.metrics.items():
        if k in ("beats_to_steady", "steady_residual", "converged", "hr_bpm", "pv_systolic_reversal"):
            continue
        b = r64.metrics[k]
        scale = np.maximum(np.abs(r64.metrics["pv_s_peak_ml_s"]), np.abs(r64.metrics["pv_d_peak_ml_s"])) if k == "pv_min_systolic_flow_ml_s" else np.abs(b)
        d = np.abs(a - b)[scale > 0] / scale[scale > 0]
        out[k] = float(np.nanmax(d)) if d.size else 0.0
    return out


def kernel_vs_reference(args, dgemm: dict) -> dict:
    """Goal 1 of issue 19: the batched engine against the reference kernel, in one run."""
    import flops
    import fma_peak
    import reference_kernel as RK

    n, nb, dt = (4_000 if args.quick else 10_000), 10, 4e-3
    rng = np.random.default_rng(0)
    kw = {"eroa_cm2": rng.uniform(0.0, 0.6, n), "overrides": [{"lv_ea_mmhg_ml": float(x)} for x in rng.uniform(2.0, 3.5, n)]}
    steps = int(S.steps_per_beat(0.8, dt))
    ps, P, ew, X0 = _engine_arrays("regazzoni2022", steps, **dict(kw))
    st = fixed_beat_settings(nb, dt)
    res = S.simulate("regazzoni2022", settings=st, **dict(kw))
    res32 = S.simulate("regazzoni2022", settings=fixed_beat_settings(nb, dt, "float32"), **dict(kw))
    ref = RK.run(P, X0, steps, nb)
    # EDV and ESV differ by design: the engine adds the extremes between samples (Hermite), the
    # reference takes the sampled ones; the other four are computed the same way
    agree = {k: float(np.max(np.abs(res.metrics[k] - ref[i]) / np.abs(ref[i]))) for i, k in enumerate(RK.REF_METRICS)}
    ref32 = RK.run(P, X0, steps, nb, np.float32)
    agree32 = {k: float(np.max(np.abs(ref32[i] - ref[i]) / np.abs(ref[i]))) for i, k in enumerate(RK.REF_METRICS)}
    t = _interleaved({
        "engine_kernel": _kernel_call(ps, P, ew, X0, steps, nb),
        "engine_kernel_float32": _kernel_call(ps, P, ew, X0, steps, nb, precision="float32"),
        "engine_kernel_metrics_every_beat": _kernel_call(ps, P, ew, X0, steps, nb, min_beats=1),
        "reference_kernel": lambda: RK.run(P, X0, steps, nb),
        "reference_kernel_float32": lambda: RK.run(P, X0, steps, nb, np.float32),
        "engine_simulate_call": lambda: S.simulate("regazzoni2022", settings=st, **dict(kw)),
    }, args.repeats)
    fl = flops.count()
    fma = fma_peak.measure()
    err64, worst64 = radau_worst("regazzoni2022", 3, dt, eroa_cm2=0.3)
    err32, worst32 = radau_worst("regazzoni2022", 3, dt, "float32", eroa_cm2=0.3)
    out = {"patients": n, "beats": nb, "steps_per_beat": steps, "engine_vs_reference_metrics_rel_diff": agree,
           "engine_max_rel_err_vs_radau": err64, "engine_max_rel_err_vs_radau_metric": worst64,
           "engine_float32_max_rel_err_vs_radau": err32, "engine_float32_max_rel_err_vs_radau_metric": worst32,
           "engine_float32_vs_float64_rel_diff": engine_precision_difference(res, res32),
           "reference_float32_vs_float64_rel_diff": agree32,
           "reference_kernels_max_rel_err_vs_radau": reference_kernels_vs_radau(P, X0, steps, args.radau_patients),
           "flops_per_patient_step": {"engine": fl["engine"]["per_step"], "engine_plain": fl["engine"]["per_plain_step"],
                                      "reference_kernel": fl["reference_kernel"]["per_step"]},
           "fma_peak": fma, "dgemm_gflops": dgemm.get("gflops_all"), "timings": t}
    for k, v in t.items():
        pbs = n * nb / v["wall_s"]
        per_step = fl["reference_kernel" if k.startswith("reference_kernel") else "engine"]["per_step"]
        g = pbs * steps * per_step / 1e9
        f32 = 2 if k.endswith("float32") else 1  # float32's FMA peak: twice the lanes a vector on the same units
        v.update(patient_beats_per_s=pbs, patient_beats_per_cpu_s=n * nb / v["cpu_s"], gflops=g,
                 share_of_fma_peak=g / (fma["gflops_peak_all"] * f32),
                 share_of_dgemm=g / dgemm["gflops_all"] if dgemm.get("gflops_all") else float("nan"))
        if not k.startswith("reference_kernel"):
            # the flops the run does: a beat without metrics runs the plain step (per_plain_step); only beats from
            # min_beats on (the last one, or all for "metrics_every_beat") run the metrics (per_step)
            with_metrics = nb if k == "engine_kernel_metrics_every_beat" else 1
            done = (with_metrics * fl["engine"]["per_step"] + (nb - with_metrics) * fl["engine"]["per_plain_step"]) / nb
            v.update(flops_per_step_done=done, share_of_fma_peak_done=pbs * steps * done / 1e9 / (fma["gflops_peak_all"] * f32))
    out["ratio_engine_kernel_to_reference"] = t["reference_kernel"]["wall_s"] / t["engine_kernel"]["wall_s"]
    out["ratio_pairs"] = [r / e for e, r in zip(t["engine_kernel"]["walls"], t["reference_kernel"]["walls"])]
    out["ratio_reference_float32_to_float64"] = t["reference_kernel"]["wall_s"] / t["reference_kernel_float32"]["wall_s"]
    e32 = t["engine_kernel_float32"]["wall_s"]
    out["ratio_engine_float32_to_reference_float32"] = t["reference_kernel_float32"]["wall_s"] / e32
    out["ratio_engine_float32_to_reference_float64"] = t["reference_kernel"]["wall_s"] / e32
    out["ratio_engine_float32_to_engine_float64"] = t["engine_kernel"]["wall_s"] / e32
    out["ratio_pairs_engine_float32_to_float64"] = [a / b for a, b in zip(t["engine_kernel"]["walls"], t["engine_kernel_float32"]["walls"])]
    out["ratio_metrics_every_beat_to_reference"] = t["reference_kernel"]["wall_s"] / t["engine_kernel_metrics_every_beat"]["wall_s"]
    return out


def one_patient_vs_svzerod(args) -> dict:
    """Goal 2 of issue 19: one patient, the whole simulate() call vs the kernel alone vs svZeroDSolver."""
    nb, dt = 20, 4e-3
    preset = "svzerod_two_hill"
    steps = int(mitrasim_fixed_beats(preset, 1, dt).n_steps[0])
    ps, P, ew, X0 = _engine_arrays(preset, steps)
    fns = {
        "simulate_call": lambda: mitrasim_fixed_beats(preset, nb, dt),
        "kernel_alone": _kernel_call(ps, P, ew, X0, steps, nb),
    }
    cfg = peers.load_two_hill_config()
    fns["svzerod_simulate_200"] = lambda: peers.run_svzerod(cfg, n_beats=nb, steps_per_beat=200, api="simulate")
    fns["svzerod_solver_run_200"] = lambda: peers.run_svzerod(cfg, n_beats=nb, steps_per_beat=200, api="solver")
    t = _interleaved(fns, max(args.repeats, 7))
    us = {k: 1e6 * v["wall_s"] / nb for k, v in t.items()}
    fine = peers.svzerod_converged_reference(cfg)
    return {
        "preset": preset, "steps_per_beat": steps, "beats": nb, "us_per_beat": us,
        "ratio_call_to_kernel": us["simulate_call"] / us["kernel_alone"],
        "svzerod_simulate_over_call": us["svzerod_simulate_200"] / us["simulate_call"],
        "svzerod_simulate_over_kernel": us["svzerod_simulate_200"] / us["kernel_alone"],
        "svzerod_solver_over_call": us["svzerod_solver_run_200"] / us["simulate_call"],
        **dict(zip(("mitrasim_max_rel_err_vs_radau", "mitrasim_max_rel_err_vs_radau_metric"), radau_worst(preset, 3, dt))),
        "svzerod_200_max_rel_err_vs_converged": peers.max_rel_diff(peers.run_svzerod(cfg, n_beats=nb, steps_per_beat=200), fine),
    }


def _child_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def first_run(args) -> dict:
    """Goal 3 of issue 19: whole processes on an empty compile cache, then warm."""
    env = dict(os.environ)
    out: dict = {}
    with tempfile.TemporaryDirectory() as d:
        env["MITRASIM_CACHE_DIR"] = d
        for name, cmd in (("demo", ["demo"]), ("simulate_json", ["simulate", "--eroa-cm2", "0.3", "--json"])):
            t, c = time.perf_counter(), _child_cpu()
            p = subprocess.run([sys.executable, "-m", "mitrasim", *cmd], env=env, check=True, capture_output=True, text=True)
            out[f"cold_{name}_s"] = time.perf_counter() - t
            out[f"cold_{name}_cpu_s"] = _child_cpu() - c
            out[f"cold_{name}_notice"] = [ln for ln in p.stderr.splitlines() if "compiling" in ln]
            if name == "demo":
                out["cold_demo_kernels"] = sorted({f.name.split("-")[0] for f in Path(d).rglob("*.nbi")})
        for name, cmd in (("simulate_json", ["simulate", "--eroa-cm2", "0.3", "--json"]), ("demo", ["demo"])):
            walls, cpus = [], []
            for _ in range(5):
                t, c = time.perf_counter(), _child_cpu()
                subprocess.run([sys.executable, "-m", "mitrasim", *cmd], env=env, check=True, capture_output=True)
                walls.append(time.perf_counter() - t)
                cpus.append(_child_cpu() - c)
            out[f"warm_{name}_s"] = statistics.median(walls)
            out[f"warm_{name}_cpu_s"] = statistics.median(cpus)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", type=Path, help="also write all numbers to this JSON file")
    ap.add_argument("--only", default="peers,batches,memory,start,kernel,one",
                    help="comma-separated sections: peers, batches, memory, start, kernel, one, first")
    ap.add_argument("--radau-patients", type=int, default=4,
                    help="kernel: patients on which the reference kernels (float64, float32) are checked against Radau (seconds each)")
    args = ap.parse_args()
    args.repeats = 2 if args.quick else 5
    only = set(args.only.split(","))
    out = {"machine": machine()}
    peak = peers.machine_peak_gflops(seconds=1.5 if args.quick else 3.0)
    out["peak"] = peak
    peak_all = peak.get("gflops_all")
    if "first" in only:  # before anything warms the page cache of the compiler
        out["first_run"] = first_run(args)
    if "kernel" in only:
        out["kernel"] = kernel_vs_reference(args, peak)
    if "one" in only:
        out["one"] = one_patient_vs_svzerod(args)
    if "peers" in only:
        out["one_patient"] = one_patient(args)
    if "batches" in only:
        out["batches"] = batches(args, peak_all)
    if "memory" in only:
        out["memory_bytes_per_patient"] = memory_per_patient()
    if "start" in only:
        out["start"] = start_times()
    out["loadavg_end"] = machine()["loadavg"]
    print(json.dumps(out, indent=1, default=float))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
