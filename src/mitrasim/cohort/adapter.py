"""The one place where the cohort calls the procedure: :func:`run_patient_chunk`.

Every virtual patient of a chunk goes through the procedure of :mod:`mitrasim.procedure`
(:func:`mitrasim.procedure.process.run_procedure_arrays`, batched over the chunk): the same
targeting, device choice, grasp, echo grading, release/reposition/stop rules and seeded
complications (:class:`mitrasim.procedure.ComplicationRates`) as a single case.  This
module only maps a trial arm's :class:`Strategy` onto the procedure's
:class:`~mitrasim.procedure.Rules`, the sampled patients onto its
:class:`~mitrasim.procedure.PatientSetup` (:mod:`mitrasim.cohort.mapping`), and its
result onto :data:`OUTPUT_COLUMNS`.

Paired arms: the chunk's procedure seed is the same in every arm and patient ``i``'s
complication draws are row ``i`` of the procedure's uniform matrix, so a patient meets
the same random numbers in every arm (common random numbers).

Column meanings: grades are the procedure's decision grades (the ASE 2017 grade, or the
worst quantitative grade when indeterminate); ``rf_*_pct`` the echo's volumetric RF;
``mva_*_cm2`` planimetric; ``clips_attempted`` the clips grasped (released or not),
``clips_implanted`` those left in the valve (including one attached to a single leaflet);
``lvef_sim_pct``/``lvedv_sim_ml``/``sbp_sim_mmhg`` the engine's baseline beat (its volumes are
CMR-equivalent when the population's are 2D echo: :func:`mitrasim.cohort.mapping.engine_lv_volumes`);
the MVARC columns are :func:`mitrasim.echo.evaluate_mvarc`'s, device success adding alive,
a clip in place, no urgent surgery and no embolization.

Loading states: every ``*_before``/``*_after`` column is **awake** (the pre-procedure
assessment and the reported result at discharge); ``gradient_intraproc_mmhg`` and
``grade_intraproc`` are the last readings the operator decided on, under general
anaesthesia and with reading noise (:mod:`mitrasim.physiology.loading`,
:mod:`mitrasim.procedure.readings`), so an implanted patient can leave above the gradient
limit the rules applied to the reading.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mitrasim import citations
from mitrasim.cohort import sources as _sources  # noqa: F401
from mitrasim.cohort.mapping import chunk_valves, engine_inputs, valve_models
from mitrasim.cohort.population import LvVolumeMethod
from mitrasim.devices.catalogue import DEFAULT_CATALOGUE
from mitrasim.physiology.simulation import SolverSettings
from mitrasim.procedure.process import PatientSetup, ProcedureArrays, run_procedure_arrays
from mitrasim.procedure.risks import DEFAULT_RATES, ComplicationRates
from mitrasim.procedure.rules import DEFAULT_RULES, Rules

__all__ = ["Strategy", "STOP_RULES", "OUTPUT_COLUMNS", "EVENT_COLUMNS", "run_patient_chunk", "strategy_rules"]

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
    "gradient_intraproc_mmhg", "grade_intraproc",
    "slda", *_PROC_EVENTS, "complications",
    "mvarc_optimal_mr", "mvarc_acceptable_mr", "mvarc_no_stenosis", "mvarc_device_success",
    "engine_seconds", "log",
)  # fmt: skip


def strategy_rules(strategy: Strategy) -> Rules:
    """The procedure's :class:`~mitrasim.procedure.Rules` for a trial arm."""
    return DEFAULT_RULES.with_(
        max_clips=1 if strategy.stop_rule == "single_clip" else strategy.max_clips,
        target_residual_grade=STOP_RULES[strategy.stop_rule],
        max_gradient_mmhg=strategy.max_gradient_mmhg,
        abort_gradient_mmhg=max(DEFAULT_RULES.abort_gradient_mmhg, strategy.max_gradient_mmhg),
        min_mva_cm2=strategy.min_mva_cm2,
        device_preference=strategy.device_preference,
    )


def patient_setups(
    patients: pa.Table, strategy: Strategy, settings: SolverSettings, preset_by_etiology: dict[str, str], lv_volume_method: LvVolumeMethod = "echo_2d"
) -> list[PatientSetup]:
    """The procedure's patients for a chunk: engine preset and overrides, valve, etiology, rules."""
    ei = engine_inputs(patients, preset_by_etiology, settings, lv_volume_method)
    valves = valve_models(chunk_valves(patients))
    rules = strategy_rules(strategy)
    ids = patients.column("patient_id").to_pylist()
    etio = patients.column("etiology").to_pylist()
    return [
        PatientSetup(name=str(ids[i]), preset=str(ei.presets[i]), valve=valves[i], etiology=str(etio[i]), hr_bpm=float(ei.hr_bpm[i]), overrides=ei.overrides[i], rules=rules)
        for i in range(patients.num_rows)
    ]


def run_patient_chunk(
    patients: pa.Table,
    strategy: Strategy,
    seed: int | np.random.SeedSequence,
    *,
    settings: SolverSettings | None = None,
    preset_by_etiology: dict[str, str] | None = None,
    rates: ComplicationRates | None = None,
    lv_volume_method: LvVolumeMethod = "echo_2d",
) -> pa.Table:
    """Run the procedure (:mod:`mitrasim.procedure`) for every patient of a chunk; one row per patient.

    Args:
        patients: sampled patients (:func:`mitrasim.cohort.population.sample_population`).
        strategy: the arm's :class:`Strategy`.
        seed: the chunk's procedure seed; the same seed for every arm gives common random
            numbers (paired complications).
        settings: engine settings (the trial's ``solver``).
        preset_by_etiology: engine preset per etiology (the population's ``presets``).
        rates: complication rates (default :data:`mitrasim.procedure.DEFAULT_RATES`).
        lv_volume_method: how the sampled LV volumes were measured (the population's
            ``lv_volume_method``; :func:`mitrasim.cohort.mapping.engine_lv_volumes`).

    Returns:
        A table with ``patient_id`` and :data:`OUTPUT_COLUMNS`.
    """
    settings = settings or SolverSettings()
    preset_by_etiology = preset_by_etiology or {"primary": "primary_mr", "secondary": "secondary_mr"}
    setups = patient_setups(patients, strategy, settings, preset_by_etiology, lv_volume_method)
    res = run_procedure_arrays(setups, seed=np.random.default_rng(seed), rates=rates or DEFAULT_RATES, settings=settings)
    return pa.table(_columns(patients, res))


def _columns(patients: pa.Table, r: ProcedureArrays) -> dict[str, Any]:
    """:data:`OUTPUT_COLUMNS` from the procedure's arrays."""
    n = len(r)
    b, f = r.baseline, r.final
    ev = r.complications
    implanted = np.array([len(c) for c in r.clips], dtype=np.int16)
    events = {col: ev[name] for col, name in EVENT_COLUMNS.items()}
    comp = [";".join([*(["slda"] if ev["slda"][i] else []), *(c for c in _PROC_EVENTS if events[c][i])]) for i in range(n)]
    residual = [m.residual_mr for m in r.mvarc]
    no_sten = np.array([m.iatrogenic_stenosis is False for m in r.mvarc])
    acceptable = np.array([x in ("optimal", "acceptable") for x in residual])
    citations.cite("stone2015_mvarc")
    device_success = ~events["death_inhospital"] & (implanted > 0) & ~events["urgent_surgery"] & ~events["embolization"] & acceptable & no_sten
    return {
        "patient_id": patients.column("patient_id"),
        "preset": pa.array([s.preset for s in r.setups], pa.string()),
        "lvef_sim_pct": b.metrics["ef_pct"],
        "lvedv_sim_ml": b.metrics["edv_ml"],
        "sbp_sim_mmhg": b.metrics["sbp_mmhg"],
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
        "eroa_after_cm2": f.eroa_cm2,
        "mva_after_cm2": f.mva_cm2,
        "rvol_after_ml": f.metrics["rvol_ml"],
        "rf_after_pct": r.final_echo["rf_pct"],
        "gradient_after_mmhg": f.metrics["mean_gradient_mmhg"],
        "grade_after": r.final_decision.astype(np.int8),
        "gradient_intraproc_mmhg": _intraproc(r)[0],
        "grade_intraproc": _intraproc(r)[1],
        "slda": ev["slda"],
        **events,
        "complications": pa.array(comp, pa.string()),
        "mvarc_optimal_mr": np.array([x == "optimal" for x in residual]),
        "mvarc_acceptable_mr": acceptable,
        "mvarc_no_stenosis": no_sten,
        "mvarc_device_success": device_success,
        "engine_seconds": np.full(n, r.engine_seconds / max(n, 1)),
        "log": pa.array(["\n".join(st.text for st in steps) for steps in r.steps], pa.string()),
    }


def _intraproc(r: ProcedureArrays) -> tuple[np.ndarray, np.ndarray]:
    """The gradient and decision grade last read during the procedure (its loading state)."""
    e, d = r.intraprocedural_final_echo, r.intraprocedural_final_decision
    if e is None or d is None:  # a procedure run awake without readings: the final state itself
        return r.final.metrics["mean_gradient_mmhg"], r.final_decision.astype(np.int8)
    return np.asarray(e["mean_gradient_mmhg"], dtype=float), np.asarray(d).astype(np.int8)
