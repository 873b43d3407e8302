"""The TEER procedure as a process, the planner, and the reports.

Public API
----------
::

    from mitrasim.procedure import run_procedure, run_procedures, plan_case, Rules, ComplicationRates

    run_procedure(case, *, seed=0, rules=None, rates=None, forward_discharge_coeff=None,
                  waveforms=False, settings=None) -> ProcedureResult
    run_procedures(cases, *, seed=0, rules=None, rates=None, forward_discharge_coeff=None,
                   waveforms=False, settings=None) -> ProcedureBatch
    plan_case(case, *, rules=None, position_step_mm=1.0, forward_discharge_coeff=None,
              baseline=None, settings=None, intervals="reported", n_ensemble=64) -> PlanResult
    write_report(path, *, case, plan=None, procedure=None, intervals=None) -> Path   # mitrasim.procedure.report
    procedure_intervals(case, proc) -> dict        # mitrasim.procedure.intervals: 90 % intervals before/after

``case`` / ``cases``: :class:`mitrasim.case.Case` objects, paths to case files, or
:class:`PatientSetup` objects (for virtual cohorts: ``PatientSetup(name, preset, valve,
etiology, hr_bpm, overrides, rules)`` with a :class:`mitrasim.valve.ValveModel`, so no
case file is needed).

Batching (for cohorts)
----------------------
``run_procedures`` takes all patients at once.  Each round evaluates every active
patient's candidate clips (first attempt + alternatives, about 8 per patient) in
**one engine batch per preset**, warm-started from the patient's previous steady
cycle; only the clip geometry and the echo grading are per-patient numpy/Python.
The result is a :class:`ProcedureBatch`: ``batch.results[i]`` is patient ``i``'s
:class:`ProcedureResult` (log, clips, baseline/final :class:`StateSummary`,
complications, MVARC), and ``batch.arrays()`` gives cohort columns (n,):
``n_clips, aborted, {eroa_cm2, mva_cm2, forward_area_cm2, mean_gradient_mmhg, rvol_ml,
rf_pct, co_l_min, la_mean_mmhg, lvef_pct}_{before,after}, mr_grade_{before,after}``
(decision grade 0–4), ``mvarc_success`` (1/0/−1 unknown) and one boolean column per
complication (``bleeding, pericardial_effusion, stroke, urgent_surgery,
in_hospital_death, slda, embolization``).

Determinism: for a given seed, patient ``i``'s complication draws are row ``i`` of
``numpy.random.default_rng(seed).random((n, N_DRAWS))``, so they depend on the seed
and the patient's index only.  ``seed=None`` switches complications off;
``rates=NO_COMPLICATIONS`` does the same with a seed.

Areas: the valve model gives the anatomic (planimetric) MVA; the engine gets
``C_d,fwd × MVA`` with ``C_d,fwd`` from :mod:`mitrasim.procedure.calibration`.
Every reported ``mva_cm2`` is planimetric (the number the stop rule 1.5 cm² and
MVARC use); ``forward_area_cm2`` is the engine's effective area.

Research and education only: not a medical device.
"""

from mitrasim.procedure.calibration import FORWARD_DISCHARGE_COEFF
from mitrasim.procedure.planner import PlanOutcome, PlanResult, enumerate_plans, plan_case
from mitrasim.procedure.process import (
    ClipStep,
    PatientSetup,
    PlacedClip,
    ProcedureBatch,
    ProcedureResult,
    StateSummary,
    run_procedure,
    run_procedures,
    setup_from_case,
)
from mitrasim.procedure.risks import DEFAULT_RATES, NO_COMPLICATIONS, ComplicationRates
from mitrasim.procedure.rules import DEFAULT_RULES, Rules, rules_from_case

__all__ = [
    "run_procedure",
    "run_procedures",
    "plan_case",
    "enumerate_plans",
    "setup_from_case",
    "PatientSetup",
    "ProcedureResult",
    "ProcedureBatch",
    "StateSummary",
    "PlacedClip",
    "ClipStep",
    "PlanResult",
    "PlanOutcome",
    "Rules",
    "DEFAULT_RULES",
    "rules_from_case",
    "ComplicationRates",
    "DEFAULT_RATES",
    "NO_COMPLICATIONS",
    "FORWARD_DISCHARGE_COEFF",
]
