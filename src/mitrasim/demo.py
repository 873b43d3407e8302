"""``mitrasim demo``: every stage of the pipeline, once, on the shipped P2 flail example.

The stages, each printed on a line that starts with its number and name (the test
``tests/test_demo.py`` runs the command and checks each of them):

1. Engine      the same normal heart without and with severe MR (a table)
2. Calibration the case's ``measurements:`` fitted on its preset (:mod:`mitrasim.calibrate`)
3. Echo        the baseline's ASE 2017 grade from the synthetic echo (:mod:`mitrasim.echo`)
4. Plan        the planner's best clip plan (:mod:`mitrasim.procedure.planner`)
5. Procedure   the simulated procedure, as the operator sees it (:mod:`mitrasim.procedure.process`)
6. MVARC       the procedure's MVARC 2015 endpoints (:mod:`mitrasim.echo.mvarc`)
7. Care plan   the patient's plan: dates and actions only, no model prediction (:mod:`mitrasim.pathway`)

This module sits above every subpackage (the composition root of the demonstration), so no
subpackage imports another one's stage for it.  Nothing here catches an import error or a failed
stage: a stage that cannot run stops the demo with its error, and the command exits non-zero.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer

from mitrasim.disclaimer import DISCLAIMER

__all__ = ["STAGES", "DEMO_PROCEDURE_IN_DAYS", "ENGINE_EROA_CM2", "ENGINE_PRESET", "demo_case", "run_demo", "register"]

#: Each stage's line starts with ``"{n}. {name}:"``.
STAGES: tuple[str, ...] = ("Engine", "Calibration", "Echo", "Plan", "Procedure", "MVARC", "Care plan")

#: Days from today to the demonstration patient's procedure date (the care plan's dates follow it).
DEMO_PROCEDURE_IN_DAYS = 14

#: The engine stage's heart (a normal one, see its table's title) and its two orifices: none, and
#: acute severe MR.
ENGINE_PRESET = "regazzoni2022_normal"
ENGINE_EROA_CM2 = (0.0, 0.5)


def _stage(n: int) -> str:
    return f"{n}. {STAGES[n - 1]}:"


def demo_case() -> Any:
    """The shipped P2 flail case (the package's copy of ``examples/p2_flail.yaml``)."""
    from mitrasim.examples_data import load_example

    return load_example("p2_flail")


def engine_stage(console: Any) -> None:
    """A normal heart and the same heart with severe MR (:data:`ENGINE_EROA_CM2`), side by side."""
    from rich.table import Table

    from mitrasim.physiology.commands import SHOWN, _fmt
    from mitrasim.physiology.simulation import simulate

    eroa = ENGINE_EROA_CM2[1]
    res = simulate(ENGINE_PRESET, eroa_cm2=list(ENGINE_EROA_CM2))
    a, b = res.patient_metrics(0), res.patient_metrics(1)
    console.print(f"{_stage(1)} {ENGINE_PRESET} without and with acute severe MR (EROA {eroa:g} cm²): "
                  f"regurgitant volume {a['rvol_ml']:.0f} → {b['rvol_ml']:.0f} mL", markup=False)
    t = Table(title="A normal heart (Regazzoni 2022 with normal pulmonary resistance) without and with acute severe mitral regurgitation "
                    f"(EROA {eroa:g} cm², no remodelling, hence the high EF)")
    t.add_column("metric")
    t.add_column("normal", justify="right")
    t.add_column("severe MR", justify="right")
    for key, label, fmt in SHOWN:
        if key in ("beats_to_steady", "hr_bpm"):
            continue
        t.add_row(label, _fmt(fmt, a[key]), _fmt(fmt, b[key]))
    console.print(t)


def calibration_stage(console: Any, case: Any) -> Any:
    """The case's measurements fitted on its preset (the point estimate the procedure runs on)."""
    from mitrasim.procedure.patient import calibrate_case

    cal = calibrate_case(case, n_ensemble=0)
    worst = max(abs(float(r["z"])) for r in cal.residuals)
    console.print(f"{_stage(2)} {len(cal.residuals)} measurements fitted on {cal.preset} "
                  f"({cal.engine_calls} engine calls; largest |z| {worst:.2f}; {cal.message})", markup=False)
    return cal


def echo_stage(console: Any, proc: Any) -> None:
    from mitrasim.pathway.outcome import grade_or_indeterminate

    b = proc.baseline
    console.print(f"{_stage(3)} baseline EROA {b.eroa_cm2:.2f} cm², RVol {b.rvol_ml:.0f} mL, RF {b.rf_pct:.0f}% → "
                  f"MR {grade_or_indeterminate(b.mr_grade)} ({b.grade.severity}); "
                  f"mean gradient {b.mean_gradient_mmhg:.1f} mmHg", markup=False)


def plan_stage(console: Any, case: Any) -> Any:
    from mitrasim.pathway.outcome import grade_or_indeterminate
    from mitrasim.procedure.planner import plan_case

    plan = plan_case(case, intervals="none")  # the line shows point estimates only: no ensemble to compute
    p = plan.best
    console.print(f"{_stage(4)} {plan.n_evaluated} plans in one engine batch; best: {p.describe()} → "
                  f"MR {grade_or_indeterminate(p.mr_grade)}, gradient {p.mean_gradient_mmhg:.1f} mmHg, "
                  f"MVA {p.mva_cm2:.2f} cm²", markup=False)
    for v in plan.verdicts.values():
        console.print(f"   • {v}", markup=False)
    return plan


def procedure_stage(console: Any, proc: Any) -> None:
    from mitrasim.pathway.outcome import grade_or_indeterminate
    from mitrasim.procedure.commands import print_before_after

    console.print(f"{_stage(5)} {proc.n_clips} clip(s); MR {grade_or_indeterminate(proc.baseline.mr_grade)} → "
                  f"{grade_or_indeterminate(proc.final.mr_grade)}; as the operator sees it:", markup=False)
    for line in proc.log[1:]:
        console.print("   " + line, markup=False)
    print_before_after(proc, console)


def mvarc_stage(console: Any, proc: Any) -> None:
    from mitrasim.pathway.outcome import grade_or_indeterminate

    sten = {True: "iatrogenic stenosis", False: "no iatrogenic stenosis", None: "stenosis not assessable"}
    f = proc.final
    console.print(f"{_stage(6)} residual MR {proc.mvarc.residual_mr} (MR {grade_or_indeterminate(f.mr_grade)}); "
                  f"{sten[proc.mvarc.iatrogenic_stenosis]} (mean gradient {f.mean_gradient_mmhg:.1f} mmHg, "
                  f"MVA {f.mva_cm2:.2f} cm²)", markup=False)
    for line in proc.mvarc.lines():
        console.print(f"   {line}", markup=False)


def careplan_stage(console: Any, today: dt.date) -> Any:
    """The patient's plan: built from dates and the hospital protocol only (no model prediction)."""
    from mitrasim.pathway.careplan import build_careplan, facts_from_dict
    from mitrasim.pathway.protocol import load_protocol

    facts = facts_from_dict({"procedure_date": today + dt.timedelta(days=DEMO_PROCEDURE_IN_DAYS), "lang": "en"})
    plan = build_careplan(facts, load_protocol(None))
    first, last = plan.events[0], plan.events[-1]
    console.print(f"{_stage(7)} {len(plan.events)} events from {_day(first.start)} ({first.title}) to "
                  f"{_day(last.start)} ({last.title}); {len(plan.warning_signs)} warning signs "
                  "(the patient's material carries no model prediction)", markup=False)
    return plan


def _day(x: dt.date | dt.datetime) -> str:
    return (x.date() if isinstance(x, dt.datetime) else x).isoformat()


def run_demo(console: Any = None, *, seed: int = 0, today: dt.date | None = None) -> dict[str, Any]:
    """Run and print every stage; returns ``{"case", "calibration", "plan", "procedure", "careplan"}``."""
    if console is None:
        from rich.console import Console

        console = Console()
    from mitrasim.physiology.dispatch import one_case_kernels
    from mitrasim.procedure.process import run_procedure

    console.print(f"mitrasim demo — {DISCLAIMER}\n", markup=False)
    with one_case_kernels():  # one case: a fresh install compiles the one-lane engine kernel only
        engine_stage(console)
        case = demo_case()
        console.print(f"\nThe case: {case.name} — {(case.description or '').strip()}", markup=False)
        cal = calibration_stage(console, case)
        proc = run_procedure(case, seed=seed)
        echo_stage(console, proc)
        plan = plan_stage(console, case)
        procedure_stage(console, proc)
        mvarc_stage(console, proc)
        care = careplan_stage(console, today or dt.date.today())
    console.print(DISCLAIMER, markup=False)
    return {"case": case, "calibration": cal, "plan": plan, "procedure": proc, "careplan": care}


def demo_cmd() -> None:
    """Run the demonstration: every stage of the pipeline on the P2 flail example. Research and education only."""
    run_demo()


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
