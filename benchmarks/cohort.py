"""Benchmark: patients/s through the full cohort pipeline (sample → procedure → outcomes → Parquet).

Usage (from the repository root, mitrasim importable from src/)::

    PYTHONPATH=src python benchmarks/cohort.py --n 10000            # local, in-process and 2 processes
    PYTHONPATH=src python benchmarks/cohort.py --n 10000 --dask     # also Dask, 1 vs 2 workers
    PYTHONPATH=src python benchmarks/cohort.py --n 100000 --modes pool2
    PYTHONPATH=src python benchmarks/cohort.py --n 10000 --modes inproc,threads2,pool2 --repeat 3  # interleaved
    PYTHONPATH=src python benchmarks/cohort.py --accuracy 300     # trial solver vs single-case solver
    PYTHONPATH=src python benchmarks/cohort.py --plausibility 2000  # shipped populations: sampled vs simulated baselines, results
    PYTHONPATH=src python benchmarks/cohort.py --profile --n 10000 --population coapt_like  # kernel share, beats per phase, components
    PYTHONPATH=src python benchmarks/cohort.py --table-hash 1000 --population coapt_like  # a trial table's hash (compare two checkouts)
    PYTHONPATH=src python benchmarks/cohort.py --warm-start 1000                  # the awake baseline: cold vs warm start vs a 1e-8 reference
    PYTHONPATH=src python benchmarks/cohort.py --fit 4000 --population coapt_like  # the baseline fit alone: beats, CPU; its switches A/B
    PYTHONPATH=src python benchmarks/cohort.py --fit 4000 --fit-one-off BASELINE_FD_OWN_TOL  # and the default with one switch off

Prints one line per mode: wall seconds, patients/s (patients × arms counted once per patient),
engine seconds (summed over workers) and the share of worker time spent outside the engine.
One arm (stop rule MR <= 1+, up to 4 clips), tvt_mixed population, chunks of 2,500.  Modes:
``inproc`` one chunk at a time in this process, the engine on every core (``chunk_threads=1``);
``threads2`` two chunks at once on two threads of this process, one engine thread each;
``default`` what ``run_trial`` does unasked; ``pool2`` two single-threaded processes; ``dask1``,
``dask2`` local Dask clusters.  ``--repeat N`` runs the modes N times, interleaved.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from mitrasim.cohort.trial import parse_trial, run_trial


def _trial(n: int, chunk: int, population: str, arms=("mr_le_1plus",), solver: dict | None = None):
    return parse_trial(
        {
            "name": "benchmark",
            "population": population,
            "n_patients": n,
            "seed": 1,
            "chunk_size": chunk,
            "arms": [{"name": a, "strategy": {"stop_rule": a, "max_clips": 4}} for a in arms],
            **({"solver": solver} if solver else {}),
        }
    )


def _arrays(table) -> dict:
    """A results table as numpy arrays by column."""
    return {c: table.column(c).to_numpy(zero_copy_only=False) for c in table.column_names}


def accuracy(n: int, population: str) -> None:
    """The trial solver (coarser step and tolerance, accelerated) against the single-case default
    (dt 2.5 ms, tol 1e-3, plain iteration) on the same patients, two arms."""
    import numpy as np

    from mitrasim.cohort.trial import read_results

    arms = ("mr_le_1plus", "mr_le_2plus")
    out = {}
    with tempfile.TemporaryDirectory() as d:
        for name, solver in (("trial", None), ("single-case", {"dt_max_s": 2.5e-3, "tol": 1e-3, "accelerate": False})):
            t0 = time.perf_counter()
            run_trial(_trial(n, n, population, arms, solver), Path(d) / name, workers=1, progress=False)
            tbl = read_results(Path(d) / name)[0].sort_by([("arm", "ascending"), ("patient_id", "ascending")])
            out[name] = _arrays(tbl)
            print(f"{name:12s} {time.perf_counter() - t0:6.1f} s")
    a, b = out["trial"], out["single-case"]
    for col in ("grade_before", "grade_after", "clips_implanted", "clips_attempted", "devices", "mvarc_device_success"):
        print(f"{col:22s} identical in {100 * np.mean(a[col] == b[col]):5.1f}% of {len(a[col])} rows")
    same = a["devices"] == b["devices"]
    for col in ("gradient_before_mmhg", "gradient_after_mmhg", "rvol_before_ml", "rvol_after_ml", "mva_after_cm2"):
        dv = np.abs(a[col] - b[col])
        print(f"{col:22s} |diff| median {np.median(dv[same]):.4f}  max {np.max(dv[same]):.4f}  (rows with the same devices)")


def plausibility(n: int, baselines: tuple[str, ...] = ("fit",)) -> None:
    """Sampled versus simulated baselines and the procedure's results for every shipped population:
    the baseline fitted to each patient's sampled SBP, LVEDV, LVEF, EROA and forward SV (``fit``,
    issue 12) and, on request, the older table mapping (``table``), the LV fitted to CMR-equivalent
    volumes (``echo_2d``).  "within SD": |simulated − sampled| within the measurement SD of
    :func:`mitrasim.cohort.mapping.baseline_sds` (the calibration's); EROA simulated is the
    baseline's (the fitted orifice); forward CO sampled is forward SV × heart rate."""
    import numpy as np

    from mitrasim.cohort import mapping
    from mitrasim.cohort.mapping import forward_sv_column
    from mitrasim.cohort.population import SHIPPED_POPULATIONS, load_population
    from mitrasim.cohort.trial import read_results

    print("population     baseline   SBP samp/sim   within SD: SBP  EDV   EF   EROA  fwdSV | fit ok  SBP<80 sim  fwd CO<2.5 samp/sim  fwd CO L/min samp/sim"
          " | MR<=2+ after  3+/4+ after  clips  MVARC device success")  # fmt: skip
    for name in SHIPPED_POPULATIONS:
        for baseline in baselines:
            mapping.BASELINE_MAPPING = baseline
            pop = load_population(name).model_dump()
            trial = parse_trial({"name": "plausibility", "population": pop, "n_patients": n, "seed": 1, "chunk_size": min(n, 2_500),
                                 "arms": [{"name": "mr_le_1plus", "strategy": {"stop_rule": "mr_le_1plus", "max_clips": 4}}]})
            with tempfile.TemporaryDirectory() as d:
                run_trial(trial, Path(d) / "t", workers=1, progress=False)
                tbl = read_results(Path(d) / "t")[0]
            c = _arrays(tbl)
            fwd = forward_sv_column(tbl)
            co_sim = c["forward_sv_sim_ml"] * c["hr_bpm"] / 1000
            co_samp = fwd * c["hr_bpm"] / 1000
            within = mapping.within_sd_pct(*mapping.sampled_vs_simulated(tbl, pop["lv_volume_method"]))
            ok = c["baseline_fit_ok"]
            ok_txt = f"{100 * np.mean(ok.astype(bool)):5.1f}%" if ok.dtype != object else "   n/a"
            pct = lambda x: 100 * np.mean(x)  # noqa: E731
            print(
                f"{name:14s} {baseline:8s}  {np.median(c['sbp_mmhg']):5.0f} / {np.nanmedian(c['sbp_sim_mmhg']):4.0f}"
                f"        {within[0]:5.1f} {within[1]:5.1f} {within[2]:5.1f} {within[3]:5.1f} {within[4]:5.1f} | {ok_txt}   {pct(c['sbp_sim_mmhg'] < 80):5.1f}%"
                f"      {pct(co_samp < 2.5):5.1f}% / {pct(co_sim < 2.5):5.1f}%        {np.nanmedian(co_samp):5.2f} / {np.nanmedian(co_sim):5.2f}"
                f"    |    {pct(c['grade_after'] <= 2):5.1f}%       {pct(c['grade_after'] >= 3):5.1f}%    {np.mean(c['clips_implanted']):4.2f}   {pct(c['mvarc_device_success']):5.1f}%"
            )
            print(f"{'':14s} sampled (median): LVEDV {np.median(c['lvedv_ml']):.0f} mL, LVEF {np.median(c['lvef_pct']):.1f} %, EROA {np.median(c['eroa_cm2']):.2f} cm2,"
                  f" forward SV {np.nanmedian(fwd):.0f} mL; simulated EROA {np.median(c['eroa_before_cm2']):.2f} cm2, RVol {np.median(c['rvol_before_ml']):.0f} mL")  # fmt: skip
    print("COAPT device arm at 30 days (Circulation 2021 secondary analysis): MR 0/1+ 72.9%, 2+ 19.9%, 3+/4+ 7.2%.")


#: Phases of a trial by the function that called the engine (first match on the stack).
PHASES = (("fit_baselines", "baseline fit"), ("_run_fits", "baseline fit"), ("_guess_model", "fit's initial-guess model"), ("_awake_baselines", "indication"),
          ("awake_outcome", "awake outcome"), ("simulate_round", "clip rounds"), ("baseline", "procedure baseline"))  # fmt: skip


def beat_counter(sim, beats: dict[str, list[float]]):
    """``sim`` (``simulation._result``, which every engine batch's result passes through, whichever
    of ``simulate`` or ``simulate_presets`` ran it) wrapped to add each batch's engine beats and
    states to ``beats[phase]`` (``[beats, states]``), the phase named by the first caller on the
    stack in :data:`PHASES`."""
    import traceback

    import numpy as np

    def counted(*args, **kw):
        res = sim(*args, **kw)
        names = {f.name for f in traceback.extract_stack()}
        phase = next((label for fn, label in PHASES if fn in names), "other")
        b = np.asarray(res.metrics["beats_to_steady"], dtype=float)
        row = beats.setdefault(phase, [0.0, 0.0])
        row[0] += float(np.nansum(b))
        row[1] += b.size
        return res

    return counted


def profile(n: int, chunk: int, population: str, top: int) -> None:
    """One in-process trial (one engine thread per core, as ``inproc``): wall and CPU seconds, the
    wall and CPU seconds inside the engine's compiled kernel calls
    (:func:`mitrasim.physiology.dispatch.run_batch`, timed around each call; CPU = this process's
    threads) and the CPU share outside them; the engine's beats per patient in each phase (sum of
    the steady-state metric ``beats_to_steady`` over every simulated state, per trial patient; the
    states per patient beside); then — in a second run of the same trial under cProfile, which
    inflates Python — the cumulative seconds of the named components."""
    import cProfile
    import pstats

    from mitrasim.physiology import dispatch, simulation

    kernel = {"s": 0.0, "cpu_s": 0.0, "calls": 0}
    beats: dict[str, list[float]] = {}
    inner, sim = dispatch.run_batch, simulation._result

    def timed(*args, **kw):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            inner(*args, **kw)
        finally:
            kernel["s"] += time.perf_counter() - t0
            kernel["cpu_s"] += time.process_time() - c0
            kernel["calls"] += 1

    counted = beat_counter(sim, beats)

    run_trial(_trial(200, 200, population), Path(tempfile.mkdtemp()) / "warm", workers=1, progress=False)
    dispatch.run_batch, simulation._result = timed, counted
    trial = _trial(n, chunk, population)
    try:
        with tempfile.TemporaryDirectory() as d:
            t0, c0 = time.perf_counter(), _cpu_s()
            run_trial(trial, Path(d) / "a", workers=1, chunk_threads=1, progress=False)  # one chunk at a time: CPU per call is the call's
            wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
            print(f"{population} n={n:,} chunk {chunk}: wall {wall:.2f} s  cpu {cpu:.2f} s  kernel {kernel['s']:.2f} s wall, {kernel['cpu_s']:.2f} CPU-s in {kernel['calls']} calls "
                  f"({100 * kernel['s'] / wall:.1f}% of wall)  outside kernel {cpu - kernel['cpu_s']:.2f} CPU-s ({100 * (1 - kernel['cpu_s'] / cpu):.1f}% of CPU)  load {os.getloadavg()[0]:.1f}")
            total = sum(v[0] for v in beats.values())
            print(f"  engine beats per patient: {total / n:.1f} in all; " + "; ".join(f"{k} {v[0] / n:.1f} ({v[1] / n:.2f} states)" for k, v in beats.items()))
            if top:
                dispatch.run_batch, simulation._result = inner, sim
                prof = cProfile.Profile()
                prof.runcall(run_trial, trial, Path(d) / "b", workers=1, chunk_threads=1, progress=False)
                pstats.Stats(prof).sort_stats("cumulative").print_stats(top)
    finally:
        dispatch.run_batch, simulation._result = inner, sim


def table_hash(n: int, population: str) -> None:
    """SHA-256 (first 16 hex digits) of an ``n``-patient trial table (one chunk, in process, every
    column's values) and of each column, to compare two checkouts' results."""
    import hashlib

    from mitrasim.cohort.trial import compute_chunk

    _, tbl, _ = compute_chunk(_trial(n, n, population).model_dump_json(), 0)
    whole = hashlib.sha256()
    for c in tbl.column_names:
        v = repr(tbl.column(c).to_pylist()).encode()
        whole.update(c.encode() + v)
        print(f"  {c:28s} {hashlib.sha256(v).hexdigest()[:16]}")
    print(f"{population} n={n}: table {whole.hexdigest()[:16]}")


def warm_start(n: int, population: str) -> None:
    """The awake baseline of ``n`` indicated patients at the trial's solver settings, cold-started
    and warm-started from the baseline fit's steady state, against a 1e-8-tolerance run: beats and
    |error| (median, 99th percentile, maximum) of the baseline metrics."""
    import dataclasses

    import numpy as np

    from mitrasim.cohort import adapter
    from mitrasim.cohort.population import load_population
    from mitrasim.procedure.calibration import FORWARD_DISCHARGE_COEFF as cd
    from mitrasim.procedure.hemodynamics import echo_arrays, simulate_states

    pop = load_population(population)
    settings = _trial(n, n, population).solver.settings()
    pats, ei = adapter.sample_indicated_inputs(pop, n, 1, settings)
    s = adapter.patient_setups(pats, adapter.Strategy(), settings, dict(pop.presets), pop.lv_volume_method, ei)
    args = ([x.preset for x in s], [dict(x.overrides) for x in s], np.array([x.hr_bpm for x in s]), np.array([x.valve.eroa_cm2 for x in s]),
            np.array([x.valve.mva_cm2 for x in s]), cd)  # fmt: skip
    init = np.stack([x.initial_state for x in s])
    cold = simulate_states(*args, settings=settings)
    warm = simulate_states(*args, settings=settings, initial_state=init)
    ref = simulate_states(*args, settings=dataclasses.replace(settings, tol=1e-8, max_beats=3000), initial_state=init)
    sec = np.array([x.etiology == "secondary" for x in s])
    beats = lambda h: np.mean(h.metrics["beats_to_steady"])  # noqa: E731
    print(f"{population}, {n} patients, tol {settings.tol:g}: beats cold {beats(cold):.2f}, warm {beats(warm):.2f} (reference {beats(ref):.1f})")
    rows = [(k, cold.metrics[k], warm.metrics[k], ref.metrics[k]) for k in ("ef_pct", "edv_ml", "sbp_mmhg", "forward_sv_ml", "rvol_ml", "mean_gradient_mmhg", "la_vwave_mmhg")]
    rows.append(("rf_pct (echo)", *(echo_arrays(h, sec)["rf_pct"] for h in (cold, warm, ref))))
    stat = lambda e: f"{np.median(e):.1e} / {np.percentile(e, 99):.1e} / {np.max(e):.1e}"  # noqa: E731
    print(f"  {'metric':20s} |cold - ref| median / p99 / max      |warm - ref| median / p99 / max")
    for k, c, w, r in rows:
        print(f"  {k:20s} {stat(np.abs(c - r)):34s} {stat(np.abs(w - r))}")


#: The baseline fit's switches compared by ``--fit`` (each variant sets all of them).
FIT_SWITCHES = ("BASELINE_MODEL_FIRST_STEP", "BASELINE_MODEL_STATES", "BASELINE_FD_OWN_TOL")


def fit_alone(n: int, population: str, reps: int, one_off: tuple[str, ...] = ()) -> None:
    """The baseline fit alone (:func:`mitrasim.cohort.mapping.engine_inputs`) on ``n`` sampled
    candidates (the drawn patients a trial fits, before the indication), at the trials' solver
    settings: CPU seconds of the process, inside the kernel (as ``--profile``) and outside, engine
    beats and states per patient and engine calls; :data:`FIT_SWITCHES` all off, the default, and the
    default with each switch of ``one_off`` off alone, ``reps`` times interleaved in one process (medians)."""
    import numpy as np

    from mitrasim.cohort import mapping
    from mitrasim.cohort.population import load_population, sample_population
    from mitrasim.cohort.trial import CohortSolver
    from mitrasim.physiology import dispatch, simulation

    pop = load_population(population)
    settings = CohortSolver().settings()
    mapping.engine_inputs(sample_population(pop, 200, 998), dict(pop.presets), settings, pop.lv_volume_method)  # compiled, guess models learnt
    stat = {"kernel": 0.0, "beats": 0.0, "states": 0, "calls": 0}
    inner, sim = dispatch.run_batch, simulation._result  # every engine batch's result (simulate or simulate_presets)

    def timed(*args, **kw):
        c0 = time.process_time()
        try:
            inner(*args, **kw)
        finally:
            stat["kernel"] += time.process_time() - c0

    def counted(*args, **kw):
        res = sim(*args, **kw)
        stat["beats"] += float(np.nansum(res.metrics["beats_to_steady"]))
        stat["states"] += len(res.metrics["beats_to_steady"])
        stat["calls"] += 1
        return res

    patients = sample_population(pop, n, 5)
    default = {k: getattr(mapping, k) for k in FIT_SWITCHES}
    variants = {"switches off": dict.fromkeys(FIT_SWITCHES, False), **{f"no {k}": {**default, k: False} for k in one_off}, "default": default}
    rows: dict[str, list[tuple[float, ...]]] = {k: [] for k in variants}
    dispatch.run_batch, simulation._result = timed, counted
    try:
        for _ in range(reps):
            for name, switches in variants.items():
                for k, v in switches.items():
                    setattr(mapping, k, v)
                stat.update(kernel=0.0, beats=0.0, states=0, calls=0)
                c0 = _cpu_s()
                mapping.engine_inputs(patients, dict(pop.presets), settings, pop.lv_volume_method)
                cpu = _cpu_s() - c0
                rows[name].append((cpu, stat["kernel"], stat["beats"] / n, stat["states"] / n, stat["calls"]))
    finally:
        dispatch.run_batch, simulation._result = inner, sim
        for k, v in default.items():
            setattr(mapping, k, v)
    print(f"{population}, baseline fit of {n:,} sampled patients, {reps} runs interleaved (medians), load {os.getloadavg()[0]:.1f}")
    w = max(map(len, variants))
    for name, r in rows.items():
        cpu, kern, beats, states, calls = np.median(np.array(r), axis=0)
        print(f"  {name:{w}s} CPU {cpu:.2f} s  kernel {kern:.2f}  outside {cpu - kern:.2f}  beats/patient {beats:.1f}  states/patient {states:.2f}  calls {calls:.0f}"
              f"  ({', '.join(f'{k}={variants[name][k]}' for k in FIT_SWITCHES)})")


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (process pools)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _one(trial, mode: str, tmp: Path) -> dict:
    out = tmp / mode
    shutil.rmtree(out, ignore_errors=True)
    kw = {"inproc": {"workers": 1, "chunk_threads": 1}, "threads2": {"workers": 1, "chunk_threads": 2}, "default": {},
          "pool2": {"workers": 2}, "dask1": {"dask_local": 1}, "dask2": {"dask_local": 2}}[mode]
    t0, c0 = time.perf_counter(), _cpu_s()
    r = run_trial(trial, out, progress=False, **kw)
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    workers = 2 if mode in ("pool2", "dask2", "threads2") or (mode == "default" and r["run"].get("chunk_threads") == 2) else 1
    busy = wall * workers
    return {"mode": mode, "wall_s": wall, "cpu_s": cpu, "patients_per_s": trial.n_patients / wall, "engine_s": r["engine_seconds"], "outside_engine_share": max(0.0, 1 - r["engine_seconds"] / busy)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--chunk", type=int, default=2_500)
    ap.add_argument("--population", default="tvt_mixed")
    ap.add_argument("--modes", default="inproc,pool2")
    ap.add_argument("--dask", action="store_true", help="add dask1,dask2")
    ap.add_argument("--accuracy", type=int, default=0, metavar="N", help="only compare the trial solver with the single-case one on N patients")
    ap.add_argument("--plausibility", type=int, default=0, metavar="N", help="only print each shipped population's baseline haemodynamics and results (N patients)")
    ap.add_argument("--plausibility-baselines", default="fit", help="with --plausibility: fit, table or fit,table")
    ap.add_argument("--profile", action="store_true", help="only time the kernel's share of one in-process trial (and --top N cProfile lines)")
    ap.add_argument("--top", type=int, default=0, metavar="N", help="with --profile: a second run under cProfile, N lines by cumulative time")
    ap.add_argument("--table-hash", type=int, default=0, metavar="N", help="only print the hash of an N-patient trial table (and of each column)")
    ap.add_argument("--warm-start", type=int, default=0, metavar="N", help="only compare the awake baseline cold, warm-started and a tight reference (N patients)")
    ap.add_argument("--baseline", choices=("fit", "table"), default=None, help="baseline mapping (default: mitrasim.cohort.mapping.BASELINE_MAPPING)")
    ap.add_argument("--fit", type=int, default=0, metavar="N", help="only the baseline fit of N sampled patients: CPU, beats, states; its switches off vs default")
    ap.add_argument("--reps", type=int, default=3, help="with --fit: interleaved runs per variant")
    ap.add_argument("--fit-one-off", default="", metavar="S,...", help="with --fit: also the default with each of these FIT_SWITCHES off alone (all: every one)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of every mode, interleaved (mode after mode, then again)")
    a = ap.parse_args()
    if a.baseline:
        from mitrasim.cohort import mapping

        mapping.BASELINE_MAPPING = a.baseline  # inproc only: pool workers import the default
    if a.plausibility:
        plausibility(a.plausibility, tuple(a.plausibility_baselines.split(",")))
        return
    if a.profile:
        profile(a.n, a.chunk, a.population, a.top)
        return
    if a.table_hash:
        table_hash(a.table_hash, a.population)
        return
    if a.warm_start:
        warm_start(a.warm_start, a.population)
        return
    if a.accuracy:
        accuracy(a.accuracy, a.population)
        return
    if a.fit:
        one_off = FIT_SWITCHES if a.fit_one_off == "all" else tuple(x for x in a.fit_one_off.split(",") if x)
        unknown = sorted(set(one_off) - set(FIT_SWITCHES))
        if unknown:
            ap.error(f"--fit-one-off: {', '.join(unknown)} not among {', '.join(FIT_SWITCHES)}")
        fit_alone(a.fit, a.population, a.reps, one_off)
        return
    modes = a.modes.split(",") + (["dask1", "dask2"] if a.dask else [])
    trial = _trial(a.n, a.chunk, a.population)
    # warm the compiled engine and the per-preset LV tables once (not timed)
    run_trial(_trial(200, 200, a.population), Path(tempfile.mkdtemp()) / "warm", workers=1, progress=False)
    with tempfile.TemporaryDirectory() as d:
        for m in [m for _ in range(a.repeat) for m in modes]:
            r = _one(trial, m, Path(d))
            print(
                f"{m:7s} n={a.n:>7,} wall {r['wall_s']:7.2f} s  cpu {r['cpu_s']:7.2f} s  {r['patients_per_s']:8,.0f} patients/s  "
                f"engine {r['engine_s']:7.2f} s  outside engine {100 * r['outside_engine_share']:4.1f}%  load {os.getloadavg()[0]:.1f}"
            )


if __name__ == "__main__":
    main()
