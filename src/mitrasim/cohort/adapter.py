"""The one place where the cohort calls the procedure: :func:`run_patient_chunk`.

>>> SWITCH TO ``mitrasim.procedure`` HERE <<<
``mitrasim.procedure.run_procedures`` (batched over patients, seeded) is being
written on another branch.  Until it lands, :func:`run_patient_chunk` runs an
*interim* procedure built from what exists — the valve geometry and clip model
(:mod:`mitrasim.valve`), the device catalogue (:mod:`mitrasim.devices`), the
engine (:func:`mitrasim.physiology.simulation.simulate`) and the echo grading
thresholds (:mod:`mitrasim.echo.thresholds`) — vectorised over the chunk.  To
switch: build the procedure's patient inputs from ``patients`` (see
:mod:`mitrasim.cohort.mapping`), call ``run_procedures(..., seed=seed)`` and
map its result onto :data:`OUTPUT_COLUMNS` (same names, same meaning); the trial
runner, the store and the reports only see those columns.

Interim procedure (per patient, all patients of the chunk at once)
------------------------------------------------------------------
1. Baseline beat: engine at the sampled EROA and the effective forward area
   ``C_d,fwd · MVA``; MR graded from EROA, RVol and RF (vectorised ASE 2017
   quantitative grading: each parameter's grade from the thresholds table, the
   median of the three; 0 when EROA is zero).
2. Step k (k < ``max_clips``, patients still going): the next clip goes where
   the residual systolic gap is largest (clamped so the clip lies on the line);
   device by the rule of :func:`mitrasim.devices.grasp.choose_device`
   (preference family; long arms if the gap > 5 mm and both leaflets leave
   ≥ 9 mm; wide if MVA ≥ 4 cm², segment 2 and a leak ≥ 10 mm long) made
   vectorised; if that size cannot grasp (gap beyond its reach or < 4 mm of
   leaflet in the arms) the long-arm size of the family is tried, else the
   procedure stops (``no_grasp``).  The clip model
   (:mod:`mitrasim.valve.clip` equations, :data:`~mitrasim.valve.DEFAULT_CLIP_PARAMS`)
   gives the new EROA and MVA; the engine (warm-started) the gradient, RVol, RF.
3. Stop rule: a clip that leaves the mean gradient ≥ ``max_gradient_mmhg`` or
   the MVA < ``min_mva_cm2`` is not released (``stenosis``); otherwise it is.
   More clips while the residual grade is above the rule's target.
4. Complications with common random numbers (the same uniforms for every arm
   of a patient, so arms are paired): single-leaflet device attachment per
   released clip (the clip's effect is lost; MR returns to the previous step's),
   and per procedure in-hospital death, stroke, major bleeding, tamponade,
   urgent surgery, embolization (rates: :data:`COMPLICATION_RATES`).
5. MVARC (Stone 2015): optimal MR ≤ 1+, acceptable ≤ 2+ and one grade lower,
   no stenosis (MVA ≥ 1.5 cm² and gradient < 5 mmHg), device success = alive, a
   clip in place, no urgent surgery or embolization, MR acceptable, no stenosis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mitrasim import citations
from mitrasim.cohort import sources as _sources  # noqa: F401
from mitrasim.cohort.mapping import ChunkValves, chunk_valves, engine_inputs
from mitrasim.devices.catalogue import DEFAULT_CATALOGUE
from mitrasim.echo import sources as _echo_sources  # noqa: F401
from mitrasim.echo.thresholds import threshold
from mitrasim.errors import InputError
from mitrasim.physiology.simulation import SolverSettings, simulate
from mitrasim.valve.clip import DEFAULT_CLIP_PARAMS, smooth_taper
from mitrasim.valve.geometry import forward_effective_area_cm2

__all__ = ["Strategy", "STOP_RULES", "COMPLICATION_RATES", "OUTPUT_COLUMNS", "run_patient_chunk", "grade_quantitative"]

#: Named stop rules: the residual grade at which the operator stops adding clips.
STOP_RULES: dict[str, int] = {"mr_le_1plus": 1, "mr_le_2plus": 2, "single_clip": 4}

#: Per-procedure (or per-clip for SLDA) probabilities; clinical.md "Risks" (mid-points of the ranges).
COMPLICATION_RATES: dict[str, float] = {
    "death_inhospital": 0.025,  # 2.3-2.7% (TVT)
    "stroke": 0.015,  # 1-2.6%
    "major_bleeding": 0.026,  # about 2.6% (TVT early)
    "tamponade": 0.0075,  # 0.5-1% [check]
    "urgent_surgery": 0.005,  # < 1% [check]
    "embolization": 0.002,  # < 0.5% [check]
    "slda_per_clip": 0.0175,  # 1.5-2% (EXPAND 2.0%)
}
_PROC_EVENTS = ("death_inhospital", "stroke", "major_bleeding", "tamponade", "urgent_surgery", "embolization")
_FAMILIES = {"MitraClip": ("NT", "XT", "NTW", "XTW"), "PASCAL": ("PASCAL Ace", "PASCAL")}
GRASP_MIN_MM = 4.0


class Strategy(BaseModel):
    """A procedure strategy (one trial arm)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stop_rule: str = Field("mr_le_1plus", description="one of " + ", ".join(STOP_RULES))
    device_preference: str = Field("auto", description="auto, MitraClip, PASCAL or a catalogue device name")
    max_clips: int = Field(4, ge=1, le=6)
    max_gradient_mmhg: float = Field(5.0, gt=0, le=20)
    min_mva_cm2: float = Field(1.5, ge=0.5, le=4.0)

    @field_validator("stop_rule")
    @classmethod
    def _rule(cls, v: str) -> str:
        if v not in STOP_RULES:
            raise ValueError(f"unknown stop rule {v!r}; one of {', '.join(STOP_RULES)}")
        return v

    @field_validator("device_preference")
    @classmethod
    def _pref(cls, v: str) -> str:
        if v not in ("auto", "MitraClip", "PASCAL") and v not in DEFAULT_CATALOGUE:
            raise ValueError(f"unknown device preference {v!r}; auto, MitraClip, PASCAL or one of {sorted(DEFAULT_CATALOGUE)}")
        return v


#: Columns of the procedure result (one row per patient), besides the patient's own columns.
OUTPUT_COLUMNS = (
    "preset", "lvef_sim_pct", "lvedv_sim_ml", "sbp_sim_mmhg",
    "eroa_before_cm2", "mva_before_cm2", "rvol_before_ml", "rf_before_pct", "gradient_before_mmhg", "grade_before",
    "clips_attempted", "clips_implanted", "devices", "stop_reason",
    "eroa_after_cm2", "mva_after_cm2", "rvol_after_ml", "rf_after_pct", "gradient_after_mmhg", "grade_after",
    "slda", *_PROC_EVENTS, "complications",
    "mvarc_optimal_mr", "mvarc_acceptable_mr", "mvarc_no_stenosis", "mvarc_device_success",
    "engine_seconds", "log",
)  # fmt: skip


def _cut(parameter: str, kind: str) -> float:
    row = threshold("ase2017", parameter, kind)
    assert row is not None
    return row.value


def grade_quantitative(eroa_cm2: np.ndarray, rvol_ml: np.ndarray, rf_pct: np.ndarray) -> np.ndarray:
    """ASE 2017 quantitative MR grade (0..4) per patient: median of the EROA, RVol and RF grades.

    Each parameter's grade is 1 + the number of its cut points (``grade2_from`` …
    ``grade4_from``) reached; three parameters give no tie; grade 0 when EROA is zero.
    """
    citations.cite("zoghbi2017")
    g = []
    for name, x in (("eroa_cm2", eroa_cm2), ("rvol_ml", rvol_ml), ("rf_pct", rf_pct)):
        cuts = [_cut(name, f"grade{k}_from") for k in (2, 3, 4)]
        g.append(1 + sum((x >= c).astype(int) for c in cuts))
    grade = np.median(np.stack(g), axis=0).astype(np.int8)
    return np.where(eroa_cm2 <= 1e-9, 0, grade).astype(np.int8)


@dataclass
class _Beat:
    eroa: np.ndarray
    mva: np.ndarray
    grad: np.ndarray
    rvol: np.ndarray
    rf: np.ndarray
    grade: np.ndarray
    state: np.ndarray  # (n, 14) warm start


def _simulate(presets, overrides, hr, eroa, mva, settings, state=None) -> tuple[dict[str, np.ndarray], np.ndarray, float]:
    """Engine over a (sub)chunk, one call per preset; metrics and warm-start states in chunk order."""
    import time

    n = len(presets)
    out: dict[str, np.ndarray] = {}
    st = np.empty((n, 14))
    t0 = time.perf_counter()
    for name in sorted(set(presets.tolist())):
        idx = np.flatnonzero(presets == name)
        res = simulate(
            name,
            [overrides[i] for i in idx],
            eroa_cm2=eroa[idx],
            mva_cm2=forward_effective_area_cm2(mva[idx]),
            hr_bpm=hr[idx],
            settings=settings,
            initial_state=None if state is None else state[idx],
        )
        for k in ("mean_gradient_mmhg", "rvol_ml", "rf_pct", "ef_pct", "edv_ml", "sbp_mmhg"):
            out.setdefault(k, np.empty(n))[idx] = res.metrics[k]
        st[idx] = res.final_state
    return out, st, time.perf_counter() - t0


def _clipped(v: ChunkValves, rows: np.ndarray, pos: np.ndarray, wid: np.ndarray, arm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clip model (mitrasim.valve.clip equations) for one plan per patient: ``(gap, opening)`` of ``rows``."""
    citations.cite("caballero2020")
    p = DEFAULT_CLIP_PARAMS
    present = np.isfinite(pos)
    s = v.s_mm[rows]
    ap = v.ap_mm[rows]
    cell = np.clip(np.floor(np.where(present, pos, 0.0) / v.ds_mm[rows, None]).astype(int), 0, s.shape[1] - 1)
    r = rows[:, None]
    leaflets = v.anterior_mm[r, cell] + v.posterior_mm[r, cell]
    sigma = np.clip(leaflets / (p.slack_reference * ap[:, None]), *p.slack_bounds)
    armf = np.where(present, arm, 1.0)
    lam_s = p.systolic_zone_per_arm * armf / sigma
    lam_d = p.diastolic_zone_per_arm * armf / sigma
    w_eff = np.where(present, wid, 0.0)
    d = np.abs(s[:, None, :] - np.where(present, pos, 0.0)[:, :, None]) - 0.5 * w_eff[:, :, None]
    m = present[:, :, None]
    phi_s = np.where(m, smooth_taper(d, lam_s[:, :, None]), 1.0).prod(axis=1)
    phi_d = np.where(m, smooth_taper(d, lam_d[:, :, None]), 1.0).prod(axis=1)
    shrink = np.minimum(p.ap_shrink_max, p.ap_shrink_per_mm * w_eff.sum(axis=1))
    g_fun = np.maximum(0.0, v.gap_fun_mm[rows] - (p.functional_gap_closure * shrink * ap)[:, None])
    g = np.maximum(v.gap_deg_mm[rows], g_fun) * phi_s
    w = v.opening_mm[rows] * (1.0 - shrink)[:, None] * phi_d
    return g, w


def _choose_devices(v: ChunkValves, rows, gap_now, pos_cell, mva_now, preference: str) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised device choice (rule of ``choose_device``) and grasp feasibility; returns (names, feasible)."""
    r = rows
    gap = gap_now[np.arange(len(r)), pos_cell]
    a = v.anterior_mm[r, pos_cell]
    p = v.posterior_mm[r, pos_cell]
    shortest = np.minimum(a, p) - gap / 2
    if preference in DEFAULT_CATALOGUE:
        names = np.full(len(r), preference, dtype=object)
    else:
        family = "PASCAL" if preference == "PASCAL" else "MitraClip"
        seg = v.segment[r, pos_cell]
        leak_len = (gap_now > 0.5).sum(axis=1) * v.ds_mm[r]
        wide = (mva_now >= 4.0) & (seg == 1) & (leak_len >= 10.0)
        if family == "PASCAL":
            names = np.where(wide, "PASCAL", "PASCAL Ace").astype(object)
        else:
            long_arms = (gap > 5.0) & (shortest >= 9.0)
            names = np.where(long_arms, np.where(wide, "XTW", "XT"), np.where(wide, "NTW", "NT")).astype(object)
    reach = np.array([DEFAULT_CATALOGUE[n].grasp_reach_mm for n in names])
    armlen = np.array([DEFAULT_CATALOGUE[n].arm_length_mm for n in names])
    feasible = (gap <= reach) & (np.minimum(armlen, shortest) >= GRASP_MIN_MM)
    if preference not in DEFAULT_CATALOGUE:
        fallback = "PASCAL" if preference == "PASCAL" else "XT"
        fb = DEFAULT_CATALOGUE[fallback]
        ok_fb = (gap <= fb.grasp_reach_mm) & (np.minimum(fb.arm_length_mm, shortest) >= GRASP_MIN_MM)
        swap = ~feasible & ok_fb
        names = np.where(swap, fallback, names)
        feasible = feasible | ok_fb
    return names, feasible


def run_patient_chunk(patients: pa.Table, strategy: Strategy, seed: int | np.random.SeedSequence, *, settings: SolverSettings | None = None, preset_by_etiology: dict[str, str] | None = None) -> pa.Table:
    """Run the procedure for every patient of a chunk; one output row per patient.

    Args:
        patients: sampled patients (:func:`mitrasim.cohort.population.sample_population`).
        strategy: the arm's :class:`Strategy`.
        seed: the chunk's procedure seed; the same seed for every arm gives common random
            numbers (paired complications).
        settings: engine settings (the trial's ``solver``).
        preset_by_etiology: engine preset per etiology (the population's ``presets``).

    Returns:
        A table with ``patient_id`` and :data:`OUTPUT_COLUMNS`.
    """
    settings = settings or SolverSettings()
    preset_by_etiology = preset_by_etiology or {"primary": "primary_mr", "secondary": "secondary_mr"}
    n = patients.num_rows
    K = strategy.max_clips
    target = STOP_RULES[strategy.stop_rule]
    rng = np.random.default_rng(seed)
    u_proc = rng.random((n, len(_PROC_EVENTS)))
    u_slda = rng.random((n, 6))  # up to 6 clips: the same numbers whatever max_clips is

    ei = engine_inputs(patients, preset_by_etiology, settings)
    v = chunk_valves(patients)
    all_rows = np.arange(n)
    eroa0 = v.eroa_cm2(np.maximum(v.gap_deg_mm, v.gap_fun_mm))
    mva0 = v.mva_cm2(v.opening_mm)
    m0, st0, t_engine = _simulate(ei.presets, ei.overrides, ei.hr_bpm, eroa0, mva0, settings)
    grade0 = grade_quantitative(eroa0, m0["rvol_ml"], m0["rf_pct"])
    cur = _Beat(eroa0.copy(), mva0.copy(), m0["mean_gradient_mmhg"].copy(), m0["rvol_ml"].copy(), m0["rf_pct"].copy(), grade0.copy(), st0)

    pos = np.full((n, K), np.nan)  # clips acting on the valve
    wid = np.full((n, K), np.nan)
    arm = np.full((n, K), np.nan)
    attempted = np.zeros(n, np.int16)
    implanted = np.zeros(n, np.int16)
    slda = np.zeros(n, bool)
    devices: list[list[str]] = [[] for _ in range(n)]
    logs: list[list[str]] = [[] for _ in range(n)]
    stop = np.full(n, "", dtype=object)
    active = cur.grade > target
    stop[~active] = "target_at_baseline"
    gap_cur = np.maximum(v.gap_deg_mm, v.gap_fun_mm)
    open_cur = v.opening_mm.copy()

    for k in range(K):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        g_now = gap_cur[rows]
        cell = np.argmax(g_now, axis=1)
        names, feasible = _choose_devices(v, rows, g_now, cell, cur.mva[rows], strategy.device_preference)
        for i in rows[~feasible]:
            stop[i] = "no_grasp"
            logs[i].append(f"clip {k + 1}: no device can grasp")
        active[rows[~feasible]] = False
        rows, cell, names = rows[feasible], cell[feasible], names[feasible]
        if rows.size == 0:
            break
        w_new = np.array([DEFAULT_CATALOGUE[x].width_mm for x in names])
        a_new = np.array([DEFAULT_CATALOGUE[x].arm_length_mm for x in names])
        L = v.length_mm[rows]
        p_new = np.clip(v.s_mm[rows, cell], w_new / 2, L - w_new / 2)
        P, W, A = pos[rows].copy(), wid[rows].copy(), arm[rows].copy()
        P[:, k], W[:, k], A[:, k] = p_new, w_new, a_new
        g_c, w_c = _clipped(v, rows, P, W, A)
        e_c = _eroa_rows(v, rows, g_c)
        mva_c = _mva_rows(v, rows, w_c)
        mc, stc, dt = _simulate(ei.presets[rows], [ei.overrides[i] for i in rows], ei.hr_bpm[rows], e_c, mva_c, settings, cur.state[rows])
        t_engine += dt
        grade_c = grade_quantitative(e_c, mc["rvol_ml"], mc["rf_pct"])
        attempted[rows] += 1
        ok = (mc["mean_gradient_mmhg"] < strategy.max_gradient_mmhg) & (mva_c >= strategy.min_mva_cm2)
        for j, i in enumerate(rows):
            verdict = "released" if ok[j] else "not released (stenosis)"
            logs[i].append(
                f"clip {k + 1} {names[j]} at {p_new[j]:.1f} mm: EROA {cur.eroa[i]:.2f}->{e_c[j]:.2f} cm2, "
                f"MVA {mva_c[j]:.2f} cm2, gradient {mc['mean_gradient_mmhg'][j]:.1f} mmHg, MR {grade_c[j]} -> {verdict}"
            )
        bad = rows[~ok]
        stop[bad] = "stenosis"
        active[bad] = False
        good = np.flatnonzero(ok)
        gi = rows[good]
        implanted[gi] += 1
        for j, i in zip(good, gi):
            devices[i].append(str(names[j]))
        lost = u_slda[gi, k] < COMPLICATION_RATES["slda_per_clip"]
        keep = good[~lost]
        ki = rows[keep]
        pos[ki], wid[ki], arm[ki] = P[keep], W[keep], A[keep]
        gap_cur[ki], open_cur[ki] = g_c[keep], w_c[keep]
        cur.eroa[ki], cur.mva[ki] = e_c[keep], mva_c[keep]
        cur.grad[ki], cur.rvol[ki], cur.rf[ki] = mc["mean_gradient_mmhg"][keep], mc["rvol_ml"][keep], mc["rf_pct"][keep]
        cur.grade[ki] = grade_c[keep]
        cur.state[ki] = stc[keep]
        for i in gi[lost]:
            slda[i] = True
            logs[i].append(f"clip {k + 1}: single-leaflet device attachment; its effect is lost")
        done = cur.grade[gi] <= target
        stop[gi[done]] = "target_reached"
        active[gi[done]] = False
        if k == K - 1:
            rest = np.flatnonzero(active)
            stop[rest] = "max_clips"
            active[rest] = False

    ev = {name: u_proc[:, j] < COMPLICATION_RATES[name] for j, name in enumerate(_PROC_EVENTS)}
    tried = attempted > 0
    for name in _PROC_EVENTS:
        ev[name] &= tried
    ev["embolization"] &= implanted > 0
    citations.cite("clinical_reference_risks", "stone2015_mvarc")
    comp = [";".join([*(["slda"] if slda[i] else []), *(nm for nm in _PROC_EVENTS if ev[nm][i])]) for i in range(n)]
    optimal = cur.grade <= 1
    acceptable = (cur.grade <= 2) & (cur.grade <= grade0 - 1)
    no_sten = (cur.mva >= _mvarc("eoa_cm2", "stenosis_below")) & (cur.grad < _mvarc("mean_gradient_mmhg", "stenosis_from"))
    in_place = implanted > 0
    device_success = ~ev["death_inhospital"] & in_place & ~ev["urgent_surgery"] & ~ev["embolization"] & acceptable & no_sten
    cols = {
        "patient_id": patients.column("patient_id"),
        "preset": pa.array(ei.presets.tolist(), pa.string()),
        "lvef_sim_pct": m0["ef_pct"],
        "lvedv_sim_ml": m0["edv_ml"],
        "sbp_sim_mmhg": m0["sbp_mmhg"],
        "eroa_before_cm2": eroa0,
        "mva_before_cm2": mva0,
        "rvol_before_ml": m0["rvol_ml"],
        "rf_before_pct": m0["rf_pct"],
        "gradient_before_mmhg": m0["mean_gradient_mmhg"],
        "grade_before": grade0,
        "clips_attempted": attempted,
        "clips_implanted": implanted,
        "devices": pa.array(["+".join(d) for d in devices], pa.string()),
        "stop_reason": pa.array(stop.tolist(), pa.string()),
        "eroa_after_cm2": cur.eroa,
        "mva_after_cm2": cur.mva,
        "rvol_after_ml": cur.rvol,
        "rf_after_pct": cur.rf,
        "gradient_after_mmhg": cur.grad,
        "grade_after": cur.grade,
        "slda": slda,
        **{name: ev[name] for name in _PROC_EVENTS},
        "complications": pa.array(comp, pa.string()),
        "mvarc_optimal_mr": optimal,
        "mvarc_acceptable_mr": acceptable,
        "mvarc_no_stenosis": no_sten,
        "mvarc_device_success": device_success,
        "engine_seconds": np.full(n, t_engine / max(n, 1)),
        "log": pa.array(["; ".join(x) for x in logs], pa.string()),
    }
    return pa.table(cols)


def _eroa_rows(v: ChunkValves, rows: np.ndarray, gap: np.ndarray) -> np.ndarray:
    from mitrasim.valve.geometry import REGURGITANT_DISCHARGE_COEFF

    return REGURGITANT_DISCHARGE_COEFF * gap.sum(axis=1) * v.ds_mm[rows] / 100.0


def _mva_rows(v: ChunkValves, rows: np.ndarray, opening: np.ndarray) -> np.ndarray:
    return opening.sum(axis=1) * v.ds_mm[rows] / 100.0


def _mvarc(parameter: str, kind: str) -> float:
    row = threshold("mvarc", parameter, kind)
    assert row is not None
    return row.value
