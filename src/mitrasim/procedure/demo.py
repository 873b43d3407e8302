"""The whole pipeline on the P2 flail example: baseline → echo → plan → procedure → before/after.

``mitrasim demo`` (owned by the physiology commands) calls :func:`run_demo`.
"""

from __future__ import annotations

from typing import Any

from mitrasim import DISCLAIMER

__all__ = ["demo_case", "run_demo"]


def demo_case() -> Any:
    """The shipped P2 flail case (the package's copy of ``examples/p2_flail.yaml``)."""
    from mitrasim.examples_data import load_example

    return load_example("p2_flail")


def run_demo(console: Any = None, *, seed: int = 0) -> dict[str, Any]:
    """Run and print the pipeline; returns ``{"case", "plan", "procedure"}``."""
    if console is None:
        from rich.console import Console

        console = Console()
    from mitrasim.procedure.commands import print_before_after
    from mitrasim.procedure.planner import plan_case
    from mitrasim.procedure.process import run_procedure

    case = demo_case()
    console.print(f"[bold]mitrasim demo[/bold] — {case.name}")
    console.print((case.description or "").strip())
    proc = run_procedure(case, seed=seed)
    b = proc.baseline
    console.print(
        f"\n1. Baseline (engine, steady state) and echo: EROA {b.eroa_cm2:.2f} cm², RVol {b.rvol_ml:.0f} mL, "
        f"RF {b.rf_pct:.0f}% → MR {b.mr_grade} ({b.grade.severity}); mean gradient {b.mean_gradient_mmhg:.1f} mmHg"
    )
    plan = plan_case(case)
    p = plan.best
    console.print(
        f"2. Plan: {plan.n_evaluated} plans in one engine batch ({plan.seconds_engine:.2f} s); best: {p.describe()} → "
        f"MR {p.mr_grade}, gradient {p.mean_gradient_mmhg:.1f} mmHg, MVA {p.mva_cm2:.2f} cm²"
    )
    for v in plan.verdicts.values():
        console.print(f"   • {v}")
    console.print("3. Procedure, as the operator sees it:")
    for line in proc.log[1:]:
        console.print("   " + line, markup=False)
    print_before_after(proc, console)
    sten = {True: "iatrogenic stenosis", False: "no iatrogenic stenosis", None: "stenosis not assessable"}[proc.mvarc.iatrogenic_stenosis]
    console.print(f"4. MVARC: residual MR {proc.mvarc.residual_mr}; {sten}")
    for line in proc.mvarc.lines():
        console.print(f"   {line}")
    console.print(f"[dim]{DISCLAIMER}[/dim]")
    return {"case": case, "plan": plan, "procedure": proc}
