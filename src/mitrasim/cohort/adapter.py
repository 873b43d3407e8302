"""The one place where the cohort calls the procedure: :func:`run_patient_chunk`.

Every virtual patient of a chunk goes through the procedure of :mod:`mitrasim.procedure`
(:func:`mitrasim.procedure.process.run_procedure_arrays`, batched over the chunk): the same
targeting, device choice, grasp, echo grading, release/reposition/stop rules and seeded
complications (:class:`mitrasim.procedure.ComplicationRates`) as a single case.  This
module only maps a trial arm's :class:`Strategy` onto the procedure's
:class:`~mitrasim.procedure.Rules`, the sampled patients onto its
:class:`~mitrasim.procedure.PatientSetup` (:mod:`mitrasim.cohort.mapping`), and its
result onto :data:`OUTPUT_COLUMNS`.

Paired arms: the chunk's procedure draws (a seed, or the uniform matrix a trial builds from its
patients' blocks, :mod:`mitrasim.cohort.trial`) are the same in every arm and patient ``i``'s
complication draws are row ``i`` of that matrix, so a patient meets the same random numbers in
every arm (common random numbers).

Column meanings: grades are the procedure's decision grades (the ASE 2017 grade, or its named
most-likely grade when indeterminate, :data:`mitrasim.echo.grading.MOST_LIKELY_RULE`); ``rf_*_pct`` the echo's volumetric RF;
``mva_*_cm2`` planimetric; ``clips_attempted`` the clips grasped (released or not),
``clips_implanted`` those left in the valve (including one attached to a single leaflet);
``grasp_attempts``, ``repositions`` and ``device_exchanges`` the grasps and the two kinds of move,
``procedure_minutes`` the procedure time of the operator's log (0 without access) and ``ended_by``
the event that ended the procedure (urgent surgery, death; null otherwise): in-hospital events
depend on the patient (age, LVEF) and the course (:mod:`mitrasim.procedure.risks`);
``lvef_sim_pct``/``lvedv_sim_ml``/``sbp_sim_mmhg``/``forward_sv_sim_ml`` the engine's baseline beat (its volumes are
CMR-equivalent when the population's are 2D echo: :func:`mitrasim.cohort.mapping.engine_lv_volumes`);
the MVARC columns are the procedure's :mod:`mitrasim.echo.mvarc` endpoints (technical, device and
procedural success: True only when every component is met — a death, stroke, urgent surgery,
SLDA or embolization never leaves a success) and ``mvarc_failed`` names each failed component
as ``endpoint:component`` (``;``-separated).

Loading states: every ``*_before``/``*_after`` column is **awake** (the pre-procedure
assessment and the reported result at discharge); ``gradient_intraproc_mmhg`` and
``grade_intraproc`` are the last readings the operator decided on, in the state
``loading_intraproc`` names (general anaesthesia, by default with the afterload restored)
and with reading noise (:mod:`mitrasim.procedure.loading`,
:mod:`mitrasim.procedure.readings`), so an implanted patient can leave above the gradient
limit the rules applied to the reading.
"""

from __future__ import annotations

from itertools import repeat
from operator import attrgetter
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from mitrasim import citations
from mitrasim.cohort import sources as _sources  # noqa: F401
from mitrasim.cohort.mapping import EngineInputs, chunk_areas, chunk_valves, concat_engine_inputs, engine_inputs, frozen_instances, valve_models
from mitrasim.cohort.columns import level_mask, level_values
from mitrasim.cohort.population import MAX_DRAWS_PER_PATIENT, LvVolumeMethod, Population, sample_streams_table
from mitrasim.errors import InputError
from mitrasim.physiology.simulation import SolverSettings, require_float64
from mitrasim.procedure.hemodynamics import BatchHemo
from mitrasim.procedure.process import PatientSetup, ProcedureArrays, run_procedure_arrays
from mitrasim.procedure.risks import DEFAULT_RATES, ComplicationRates, PatientRisk
from mitrasim.protocol import GRADES, Protocol
from mitrasim.valve.geometry import ValveModel
from mitrasim.procedure.rules import Rules, rules_from_protocol

__all__ = ["Strategy", "STOP_RULES", "OUTPUT_COLUMNS", "EVENT_COLUMNS", "run_patient_chunk", "strategy_rules", "baseline_decision_grades", "sample_indicated", "sample_indicated_inputs", "sample_indicated_blocks"]

#: Named stop rules: the residual grade at which the operator stops adding clips
#: (``single_clip``: one clip at most, whatever the residual grade).
STOP_RULES: dict[str, int] = {"mr_le_1plus": 1, "mr_le_2plus": 2, "single_clip": 1}

#: Cohort column ← procedure event (:data:`mitrasim.procedure.risks.PATIENT_EVENTS` and embolization).
EVENT_COLUMNS: dict[str, str] = {
    "death_inhospital": "in_hospital_death",
    "stroke": "stroke",
    "major_bleeding": "bleeding",
    "tamponade": "pericardial_effusion",
    "urgent_surgery": "urgent_surgery",
    "embolization": "embolization",
}
_PROC_EVENTS = tuple(EVENT_COLUMNS)


class Strategy(Protocol):
    """A procedure strategy (one trial arm): the operator's :class:`~mitrasim.protocol.Protocol`
    (one schema with case files and the web), plus the ``stop_rule`` shorthand of earlier trial files
    (``mr_le_1plus``/``mr_le_2plus`` set the target grade, ``single_clip`` a 1+ target and one clip)."""

    stop_rule: str | None = Field(None, description="shorthand: one of " + ", ".join(STOP_RULES))

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("stop_rule") is None:
            return data
        rule = data["stop_rule"]
        if rule not in STOP_RULES:
            return data  # the field validator names it
        target = GRADES[STOP_RULES[rule]]
        if data.get("target_residual_grade", target) != target:
            raise ValueError(f"stop_rule {rule} means target_residual_grade {target}, not {data['target_residual_grade']}")
        out = {**data, "target_residual_grade": target}
        if rule == "single_clip":
            out["max_clips"] = 1
        return out

    @field_validator("stop_rule")
    @classmethod
    def _rule(cls, v: str | None) -> str | None:
        if v is not None and v not in STOP_RULES:
            raise ValueError(f"unknown stop rule {v!r}; one of {', '.join(STOP_RULES)}")
        return v


#: Columns of the procedure result (one row per patient), besides the patient's own columns.
OUTPUT_COLUMNS = (
    "preset", "lvef_sim_pct", "lvedv_sim_ml", "sbp_sim_mmhg", "forward_sv_sim_ml", "baseline_fit_ok", "baseline_fit_z_max",
    "eroa_before_cm2", "mva_before_cm2", "rvol_before_ml", "rf_before_pct", "gradient_before_mmhg", "grade_before",
    "clips_attempted", "clips_implanted", "devices", "stop_reason",
    "grasp_attempts", "repositions", "device_exchanges", "procedure_minutes", "ended_by",
    "eroa_after_cm2", "mva_after_cm2", "rvol_after_ml", "rf_after_pct", "gradient_after_mmhg", "grade_after",
    "gradient_intraproc_mmhg", "grade_intraproc", "loading_intraproc",
    "slda", *_PROC_EVENTS, "complications",
    "mvarc_optimal_mr", "mvarc_acceptable_mr", "mvarc_no_stenosis",
    "mvarc_technical_success", "mvarc_device_success", "mvarc_procedural_success", "mvarc_failed",
    "engine_seconds", "log",
)  # fmt: skip


def strategy_rules(strategy: Strategy) -> Rules:
    """The procedure's :class:`~mitrasim.procedure.Rules` for a trial arm."""
    return rules_from_protocol(strategy)


def patient_setups(
    patients: pa.Table, strategy: Strategy, settings: SolverSettings, preset_by_etiology: dict[str, str], lv_volume_method: LvVolumeMethod = "echo_2d",
    ei: EngineInputs | None = None,
) -> list[PatientSetup]:
    """The procedure's patients for a chunk: engine preset and overrides, valve, etiology, rules and
    the warm start of the awake baseline (the fit's steady state; ``ei``: the chunk's fitted
    baselines, :func:`mitrasim.cohort.mapping.engine_inputs`, if already made)."""
    ei = ei if ei is not None else engine_inputs(patients, preset_by_etiology, settings, lv_volume_method)
    n = patients.num_rows
    risks = frozen_instances(PatientRisk, n, {"age_years": map(float, patients.column("age_years").to_pylist()), "lvef_pct": map(float, patients.column("lvef_pct").to_pylist())})
    return frozen_instances(PatientSetup, n, {
        "name": map(str, patients.column("patient_id").to_pylist()), "preset": map(str, ei.presets), "valve": _valve_models(patients, ei),
        "etiology": level_values(patients, "etiology", str, object), "hr_bpm": np.asarray(ei.hr_bpm, dtype=float).tolist(), "overrides": ei.overrides,
        "rules": repeat(strategy_rules(strategy)), "risk": risks, "initial_state": repeat(None) if ei.state is None else ei.state,
    })  # fmt: skip


def _valve_models(patients: pa.Table, ei: EngineInputs) -> list[ValveModel]:
    """The patients' valves scaled to their fitted EROAs, built once and kept in ``ei`` with the table
    they were built from: a chunk's arms share them (a valve is immutable, the procedure copies what it
    changes)."""
    if ei.valves is None or ei.valves[0] is not patients:
        ei.valves = (patients, valve_models(chunk_valves(with_fitted_eroa(patients, ei))))
    return ei.valves[1]


def with_fitted_eroa(patients: pa.Table, ei: EngineInputs) -> pa.Table:
    """``patients`` with ``eroa_cm2`` replaced by the baseline fit's EROA (the valve is scaled to it,
    so the procedure starts from the fitted baseline); unchanged when the baseline was not fitted."""
    if ei.eroa_cm2 is None:
        return patients
    i = patients.column_names.index("eroa_cm2")
    return patients.set_column(i, "eroa_cm2", pa.array(np.asarray(ei.eroa_cm2, dtype=float)))


def run_patient_chunk(
    patients: pa.Table,
    strategy: Strategy,
    seed: int | np.random.SeedSequence | np.ndarray,
    *,
    settings: SolverSettings | None = None,
    preset_by_etiology: dict[str, str] | None = None,
    rates: ComplicationRates | None = None,
    lv_volume_method: LvVolumeMethod = "echo_2d",
    ei: EngineInputs | None = None,
) -> pa.Table:
    """Run the procedure (:mod:`mitrasim.procedure`) for every patient of a chunk; one row per patient.

    Args:
        patients: sampled patients (:func:`mitrasim.cohort.population.sample_population`).
        strategy: the arm's :class:`Strategy`.
        seed: the chunk's procedure seed, or its ``(n, N_DRAWS)`` uniform draws
            (:func:`mitrasim.procedure.process.run_procedure_arrays`); the same for every arm gives
            common random numbers (paired complications).
        settings: engine settings (the trial's ``solver``).
        preset_by_etiology: engine preset per etiology (the population's ``presets``).
        rates: complication rates (default :data:`mitrasim.procedure.DEFAULT_RATES`).
        lv_volume_method: how the sampled LV volumes were measured (the population's
            ``lv_volume_method``; :func:`mitrasim.cohort.mapping.engine_lv_volumes`).
        ei: the chunk's baselines if already fitted (:func:`sample_indicated_inputs`; the same
            presets and volume method), else fitted here.

    Returns:
        A table with ``patient_id`` and :data:`OUTPUT_COLUMNS`.
    """
    settings = settings or SolverSettings()
    require_float64(settings, "a trial")
    preset_by_etiology = preset_by_etiology or {"primary": "primary_mr", "secondary": "secondary_mr"}
    ei = ei if ei is not None else engine_inputs(patients, preset_by_etiology, settings, lv_volume_method)
    setups = patient_setups(patients, strategy, settings, preset_by_etiology, lv_volume_method, ei)
    res = run_procedure_arrays(setups, seed=seed if isinstance(seed, np.ndarray) else np.random.default_rng(seed), rates=rates or DEFAULT_RATES, settings=settings,
                               awake_baseline=ei.awake)  # fmt: skip
    return pa.table(_columns(patients, res, ei))


def _columns(patients: pa.Table, r: ProcedureArrays, ei: EngineInputs) -> dict[str, Any]:
    """:data:`OUTPUT_COLUMNS` from the procedure's arrays."""
    n = len(r)
    b, f = r.baseline, r.final
    ev = r.complications
    implanted = np.array([len(c) for c in r.clips], dtype=np.int16)
    events = {col: ev[name] for col, name in EVENT_COLUMNS.items()}
    comp = _event_lists(n, {"slda": ev["slda"], **{c: events[c] for c in _PROC_EVENTS}})
    mv = r.mvarc.columns()
    residual = mv["residual_mr"]
    acceptable = (residual == "optimal") | (residual == "acceptable")
    intraproc = _intraproc(r)
    return {
        "patient_id": patients.column("patient_id"),
        "preset": pa.array([s.preset for s in r.setups], pa.string()),
        "lvef_sim_pct": b.metrics["ef_pct"],
        "lvedv_sim_ml": b.metrics["edv_ml"],
        "sbp_sim_mmhg": b.metrics["sbp_mmhg"],
        "forward_sv_sim_ml": b.metrics["forward_sv_ml"],
        # every fitted baseline measurement within FIT_WITHIN_SD of the sampled one; null: not fitted (table mapping)
        "baseline_fit_ok": ei.fit_ok if ei.fit_ok is not None else pa.nulls(n, pa.bool_()),
        "baseline_fit_z_max": ei.fit_z_max if ei.fit_z_max is not None else pa.nulls(n, pa.float64()),
        "eroa_before_cm2": b.eroa_cm2,
        "mva_before_cm2": b.mva_cm2,
        "rvol_before_ml": b.metrics["rvol_ml"],
        "rf_before_pct": r.baseline_echo["rf_pct"],
        "gradient_before_mmhg": b.metrics["mean_gradient_mmhg"],
        "grade_before": r.baseline_decision.astype(np.int8),
        "clips_attempted": r.attempts.astype(np.int16),
        "clips_implanted": implanted,
        "devices": pa.array(["+".join(c.device for c in cl) for cl in r.clips], pa.string()),
        "stop_reason": pa.array(r.stop_reason, pa.string()),
        "grasp_attempts": r.grasps.astype(np.int16),
        "repositions": r.repositions.astype(np.int16),
        "device_exchanges": r.exchanges.astype(np.int16),
        "procedure_minutes": r.minutes.astype(float),
        "ended_by": pa.array([e or None for e in r.ended_by], pa.string()),
        "eroa_after_cm2": f.eroa_cm2,
        "mva_after_cm2": f.mva_cm2,
        "rvol_after_ml": f.metrics["rvol_ml"],
        "rf_after_pct": r.final_echo["rf_pct"],
        "gradient_after_mmhg": f.metrics["mean_gradient_mmhg"],
        "grade_after": r.final_decision.astype(np.int8),
        "gradient_intraproc_mmhg": intraproc[0],
        "grade_intraproc": intraproc[1],
        "loading_intraproc": pa.array(r.decision_states or [r.loading] * len(r), pa.string()),
        "slda": ev["slda"],
        **events,
        "complications": pa.array(comp, pa.string()),
        "mvarc_optimal_mr": residual == "optimal",
        "mvarc_acceptable_mr": acceptable,
        "mvarc_no_stenosis": mv["no_stenosis"],
        "mvarc_technical_success": mv["technical"],
        "mvarc_device_success": mv["device"],
        "mvarc_procedural_success": mv["procedural"],
        "mvarc_failed": pa.array(mv["failed"], pa.string()),
        "engine_seconds": np.full(n, r.engine_seconds / max(n, 1)),
        "log": pa.array(["\n".join(map(_TEXT, steps)) for steps in r.steps], pa.string()),
    }


_TEXT = attrgetter("text")  # a log entry's words


def _event_lists(n: int, flags: dict[str, Any]) -> list[str]:
    """Per patient, the names of its events (``flags``: name → (n,) bool, in order) joined by ";"
    ("" without one); the joins only for the patients with an event."""
    cols = {k: np.asarray(v, dtype=bool) for k, v in flags.items()}
    out = [""] * n
    hit = np.logical_or.reduce(list(cols.values())) if cols else np.zeros(n, bool)
    for i in np.flatnonzero(hit).tolist():
        out[i] = ";".join([k for k, v in cols.items() if v[i]])
    return out


def baseline_decision_grades(patients: pa.Table, settings: SolverSettings, preset_by_etiology: dict[str, str], lv_volume_method: LvVolumeMethod = "echo_2d",
                             ei: EngineInputs | None = None) -> np.ndarray:  # fmt: skip
    """(n,) the procedure's baseline decision grade of each sampled patient: the awake baseline of
    the procedure's own baseline step (:func:`mitrasim.procedure.steps.awake_baseline`, on the same
    engine inputs and valves as :func:`patient_setups` gives the procedure, warm-started from the
    same fitted states), so the grade is the one the procedure will see (``ei``: the patients'
    fitted baselines if already made)."""
    ei = ei if ei is not None else engine_inputs(patients, preset_by_etiology, settings, lv_volume_method)
    return _awake_baselines(patients, settings, ei)[1]


def _awake_baselines(patients: pa.Table, settings: SolverSettings, ei: EngineInputs) -> tuple[BatchHemo, np.ndarray]:
    """The awake baseline states and decision grades of :func:`baseline_decision_grades`."""
    from mitrasim.procedure.calibration import FORWARD_DISCHARGE_COEFF
    from mitrasim.procedure.steps import awake_baseline

    eroa, mva = chunk_areas(with_fitted_eroa(patients, ei))  # the valves' areas, as patient_setups' valves have them
    secondary = level_mask(patients, "etiology", "secondary")
    presets = ei.presets.tolist()  # the preset names (str objects)
    cols = ei.override_columns()
    h0, _, _, d0 = awake_baseline(presets, ei.overrides if cols is None else cols, np.asarray(ei.hr_bpm, dtype=float), eroa, mva, secondary, FORWARD_DISCHARGE_COEFF, settings, ei.state)
    return h0, d0


def sample_indicated(pop: Population, n: int, seed: int | np.random.SeedSequence, settings: SolverSettings, first_id: int = 0) -> pa.Table:
    """``n`` patients of ``pop`` within the TEER indication (simulated baseline MR ≥ 3+) when
    ``pop.indication == "mr_3plus"`` (rejection sampling, reproducible from ``seed``); every sampled
    patient when ``"any"``.  :func:`sample_indicated_inputs` also returns their fitted baselines.

    **Raises:** `InputError` (field ``indication``) when fewer than one drawn patient in
    :data:`~mitrasim.cohort.population.MAX_DRAWS_PER_PATIENT` is within the indication.
    """
    return sample_indicated_inputs(pop, n, seed, settings, first_id)[0]


def sample_indicated_inputs(pop: Population, n: int, seed: int | np.random.SeedSequence, settings: SolverSettings,
                            first_id: int = 0) -> tuple[pa.Table, EngineInputs | None]:  # fmt: skip
    """:func:`sample_indicated` and the kept patients' engine inputs (the baselines fitted to test the
    indication, for :func:`run_patient_chunk`'s ``ei``; ``None`` with ``indication == "any"``, where
    nothing was fitted)."""
    return sample_indicated_blocks(pop, [n], [seed], settings, [first_id])


def sample_indicated_blocks(pop: Population, sizes: list[int], seeds: list[int | np.random.SeedSequence], settings: SolverSettings,
                            first_ids: list[int]) -> tuple[pa.Table, EngineInputs | None]:  # fmt: skip
    """:func:`sample_indicated_inputs` for several independent blocks at once: block ``b`` holds
    ``sizes[b]`` patients drawn from its own stream ``seeds[b]`` (ids from ``first_ids[b]``), exactly
    as :func:`sample_indicated_inputs` would draw it alone; the blocks' candidates share each engine
    fit (one batched call per rejection round instead of one per block: each patient's fit is its own,
    :meth:`~mitrasim.cohort.mapping.EngineInputs.take`).  Returns the blocks' patients in order."""
    from mitrasim.procedure.indication import INDICATED_FROM_GRADE

    rngs = [np.random.default_rng(s) for s in seeds]
    if pop.indication == "any":
        return sample_streams_table(pop, sizes, rngs, first_ids), None
    tables: list[pa.Table] = []  # each rejection round's kept patients, blocks in order
    rounds: list[EngineInputs] = []  # and their engine inputs
    rows: list[list[np.ndarray]] = [[] for _ in sizes]  # each block's rows in the rounds' concatenation
    kept_before = 0
    got, drawn = [0] * len(sizes), [0] * len(sizes)
    while any(g < m for g, m in zip(got, sizes)):
        short = [b for b, (g, m) in enumerate(zip(got, sizes)) if g < m]
        ms = []
        for b in short:
            if drawn[b] > MAX_DRAWS_PER_PATIENT * max(sizes[b], 20):
                raise InputError("indication", pop.indication, f"a population in which at least 1 in {MAX_DRAWS_PER_PATIENT} patients has baseline MR 3+/4+", f"{got[b]} of {drawn[b]} drawn patients had")
            ms.append(max(16, int(1.25 * (sizes[b] - got[b])) + 4))
            drawn[b] += ms[-1]
        t = sample_streams_table(pop, ms, [rngs[b] for b in short], [0] * len(short))  # the blocks' candidates, block after block
        ei = engine_inputs(t, dict(pop.presets), settings, pop.lv_volume_method)
        ei.awake, grade = _awake_baselines(t, settings, ei)  # the procedure's first state, kept for it (run_patient_chunk)
        indicated = grade >= INDICATED_FROM_GRADE
        starts = np.cumsum([0, *ms[:-1]]).tolist()
        keeps = [a + np.flatnonzero(indicated[a : a + m])[: sizes[b] - got[b]] for b, a, m in zip(short, starts, ms)]
        keep_all = np.concatenate(keeps)
        tables.append(t.take(keep_all))  # the round's kept rows at once
        rounds.append(ei.take(keep_all))
        at = 0
        for b, keep in zip(short, keeps):
            rows[b].append(kept_before + np.arange(at, at + len(keep)))
            got[b] += len(keep)
            at += len(keep)
        kept_before += len(keep_all)
    citations.cite("otto2020", "vahanian2021_esc")
    order = np.concatenate([r for blk in rows for r in blk])  # blocks in order, each block's rounds in order
    ids = pa.array(np.concatenate([np.arange(f, f + m, dtype=np.int64) for f, m in zip(first_ids, sizes)]))
    return pa.concat_tables(tables).take(order).set_column(0, "patient_id", ids), concat_engine_inputs(rounds).take(order)


def _intraproc(r: ProcedureArrays) -> tuple[np.ndarray, np.ndarray]:
    """The gradient and decision grade last read during the procedure (its loading state)."""
    e, d = r.intraprocedural_final_echo, r.intraprocedural_final_decision
    if e is None or d is None:  # a procedure run awake without readings: the final state itself
        return r.final.metrics["mean_gradient_mmhg"], r.final_decision.astype(np.int8)
    return np.asarray(e["mean_gradient_mmhg"], dtype=float), np.asarray(d).astype(np.int8)
