"""Command-line commands of the procedure: ``mitrasim plan`` and ``mitrasim procedure``.

Thin layers over :func:`mitrasim.procedure.plan_case`, :func:`mitrasim.procedure.run_procedure`
and :func:`mitrasim.procedure.report.write_report`.  Bad input (a case file
with an unknown field, a value out of range, a bad seed) raises
:class:`mitrasim.errors.InputError`, which ``mitrasim.cli.main`` prints as one
line naming the field, with exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from mitrasim.procedure.indication import RESEARCH_FLAG

from mitrasim.disclaimer import DISCLAIMER
from mitrasim.errors import InputError

__all__ = ["register", "parse_seed", "print_plan", "print_procedure"]


def parse_seed(text: str | None) -> int:
    """``--seed`` as a non-negative integer (one-line error otherwise)."""
    if text is None:
        return 0
    try:
        v = int(text)
    except ValueError:
        raise InputError("--seed", text, "an integer >= 0") from None
    if v < 0:
        raise InputError("--seed", text, "an integer >= 0")
    return v


def _json_default(x: Any) -> Any:
    import numpy as np

    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return x.item()
    return str(x)


def _dump(d: dict) -> str:
    return json.dumps(d, indent=2, ensure_ascii=False, default=_json_default)


def print_plan(res: Any, console: Any, top: int = 5) -> None:
    """The plan ranking as a heart team would read it."""
    from rich.table import Table

    b = res.baseline
    if res.indication_note:
        console.print(f"[bold red]{res.indication_note}[/bold red]")
    console.print(f"[bold]{res.name}[/bold] — baseline: EROA {b.eroa_cm2:.2f} cm², MR {b.mr_grade}, "
                  f"mean gradient {b.mean_gradient_mmhg:.1f} mmHg, MVA {b.mva_cm2:.2f} cm²")  # fmt: skip
    console.print(f"{res.n_evaluated} plans evaluated in one engine batch ({res.seconds_engine:.2f} s engine, {res.seconds_total:.2f} s total); rules: {res.rules.text()}")
    t = Table(title="Best plans", show_lines=False)
    for col in ("#", "plan", "MR", "EROA cm²", "gradient mmHg", "MVA cm²", "grasp", "why not first"):
        t.add_column(col)
    for p in res.top(top):
        t.add_row(str(p.rank), p.describe(), p.mr_grade, f"{p.eroa_cm2:.2f}", f"{p.mean_gradient_mmhg:.1f}", f"{p.mva_cm2:.2f}", ",".join(p.grasps), p.why_lost or "best")
    console.print(t)
    lost = res.losers()
    if lost:
        t2 = Table(title="Why others lost")
        for col in ("#", "plan", "MR", "gradient mmHg", "MVA cm²", "lost because"):
            t2.add_column(col)
        for p in lost:
            t2.add_row(str(p.rank), p.describe(), p.mr_grade, f"{p.mean_gradient_mmhg:.1f}", f"{p.mva_cm2:.2f}", p.why_lost or "")
        console.print(t2)
    print_plan_intervals(res, console, top)
    for n, v in sorted(res.verdicts.items()):
        console.print(f"  • {v}")
    mv = res.mvarc()
    console.print(f"Best plan, MVARC echo component: residual MR {mv.residual_mr}; {'iatrogenic stenosis' if mv.iatrogenic_stenosis else 'no iatrogenic stenosis'}")
    for line in mv.lines():
        console.print(f"   {line}")
    console.print(f"[dim]{DISCLAIMER}[/dim]")


def print_plan_intervals(res: Any, console: Any, top: int) -> None:
    """The calibrated patient's predictions for the baseline and the plans shown, with 90 % intervals."""
    from rich.table import Table

    from mitrasim.procedure.intervals import SHOWN, format_interval

    if res.baseline_intervals is None:
        console.print(f"[dim]No uncertainty intervals: {res.uncertainty.get('why', '')}.[/dim]")
        return
    u = res.uncertainty
    t = Table(title=f"Calibrated patient: point estimate [90 % interval, {u['n_ensemble']}-member ensemble]")
    for col in ("#", "valve", *(lab for _, lab, _ in SHOWN)):
        t.add_column(col)
    t.add_row("", "baseline", *(format_interval(res.baseline_intervals[q], d) for q, _, d in SHOWN))
    for p in res.reported(top):
        if p.intervals is not None:
            t.add_row(str(p.rank), p.describe(), *(format_interval(p.intervals[q], d) for q, _, d in SHOWN))
    console.print(t)


def print_procedure_intervals(iv: dict[str, Any] | None, console: Any) -> None:
    """Before and after the procedure's clips, with the calibration ensemble's 90 % intervals."""
    from rich.table import Table

    from mitrasim.procedure.intervals import SHOWN, format_interval

    if iv is None:
        return
    t = Table(title=f"Calibrated patient: point estimate [90 % interval, {iv['uncertainty']['n_ensemble']}-member ensemble]")
    for col in ("", "before", "after"):
        t.add_column(col)
    for q, lab, d in SHOWN:
        t.add_row(lab, format_interval(iv["before"][q], d), format_interval(iv["after"][q], d))
    console.print(t)


def write_plan_fhir(path: Path, case: Any, res: Any) -> None:
    """The case's calibration with its predictions at the baseline and every plan that has intervals, as FHIR."""
    from mitrasim.procedure.calibrate_commands import write_fhir
    from mitrasim.procedure.patient import calibrate_case

    if res.baseline_intervals is None:
        raise InputError("--fhir", str(path), "a case with measurements (the export carries the calibrated patient's predictions)")
    states = {"baseline": ("at baseline", res.baseline_intervals)}
    states |= {f"plan_{p.rank}": (f"after plan #{p.rank}, {p.describe()}", p.intervals) for p in res.plans if p.intervals is not None}
    write_fhir(path, calibrate_case(case), states)


def print_procedure(res: Any, console: Any, intervals: dict[str, Any] | None = None) -> None:
    """The operator's log and the before/after table (with the calibrated patient's 90 % intervals
    when ``intervals``, from :func:`mitrasim.procedure.intervals.case_procedure_intervals`, is given)."""
    if res.indication_note:
        console.print(f"[bold red]{res.indication_note}[/bold red]")
    console.print(f"[bold]{res.name}[/bold] — procedure (seed {res.seed})")
    for line in res.log:
        console.print(line, markup=False)
    print_before_after(res, console)
    print_procedure_intervals(intervals, console)
    sten = {True: "iatrogenic stenosis", False: "no iatrogenic stenosis", None: "stenosis not assessable"}[res.mvarc.iatrogenic_stenosis]
    console.print(f"MVARC: residual MR {res.mvarc.residual_mr}; {sten}")
    for line in res.mvarc.lines():
        console.print(f"   {line}")
    ev = [k for k, v in res.complications.items() if v]
    console.print("Complications: " + (", ".join(ev) if ev else "none"))
    console.print(f"[dim]{DISCLAIMER}[/dim]")


def print_before_after(res: Any, console: Any) -> None:
    from rich.table import Table

    t = Table(title="Before / after")
    for col in ("", "before", "after"):
        t.add_column(col)
    b, f = res.baseline, res.final
    rows = [
        ("MR grade", b.mr_grade, f.mr_grade),
        ("EROA (cm²)", f"{b.eroa_cm2:.2f}", f"{f.eroa_cm2:.2f}"),
        ("regurgitant volume (mL)", f"{b.rvol_ml:.0f}", f"{f.rvol_ml:.0f}"),
        ("regurgitant fraction (%)", f"{b.rf_pct:.0f}", f"{f.rf_pct:.0f}"),
        ("mean gradient (mmHg)", f"{b.mean_gradient_mmhg:.1f}", f"{f.mean_gradient_mmhg:.1f}"),
        ("MVA, planimetric (cm²)", f"{b.mva_cm2:.2f}", f"{f.mva_cm2:.2f}"),
        ("forward stroke volume (mL)", f"{b.forward_sv_ml:.0f}", f"{f.forward_sv_ml:.0f}"),
        ("cardiac output (L/min)", f"{b.co_l_min:.2f}", f"{f.co_l_min:.2f}"),
        ("LA mean pressure (mmHg)", f"{b.la_mean_mmhg:.1f}", f"{f.la_mean_mmhg:.1f}"),
        ("LA v-wave (mmHg)", f"{b.la_vwave_mmhg:.1f}", f"{f.la_vwave_mmhg:.1f}"),
        ("clips", "0", f"{res.n_clips} " + ", ".join(f"{c.device}@{c.scallop}" for c in res.clips)),
    ]
    for r in rows:
        t.add_row(*r)
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add ``plan`` and ``procedure`` to the ``mitrasim`` command line."""

    @app.command("plan")
    def plan_cmd(
        case: Path = typer.Argument(..., metavar="CASE.yaml", help="Case file (YAML or JSON)."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        report: Optional[Path] = typer.Option(None, "--report", metavar="FILE.html", help="Write a self-contained HTML report."),
        top: int = typer.Option(5, "--top", min=1, max=50, help="How many plans to show."),
        research: bool = typer.Option(False, RESEARCH_FLAG, help="Plan a baseline below MR 3+ (outside the TEER indication); stated in every output."),
        intervals: str = typer.Option("reported", "--intervals", help="Plans with 90 % intervals of the calibrated patient (a case with measurements): reported (those shown), all, none."),
        fhir_out: Optional[Path] = typer.Option(None, "--fhir", metavar="FILE.json", help="Write the calibrated patient and its predictions for the baseline and every plan with intervals as a FHIR R4 Bundle of Observations."),
    ) -> None:
        """Enumerate clip plans for a case, evaluate them on the engine and rank them."""
        from rich.console import Console

        from mitrasim.case import load_case
        from mitrasim.procedure.planner import plan_case

        c = load_case(case)
        if intervals not in ("reported", "all", "none"):
            raise InputError("--intervals", intervals, "reported, all or none")
        res = plan_case(c, research_below_indication=research, intervals=intervals, interval_top=top)
        if fhir_out is not None:
            write_plan_fhir(fhir_out, c, res)
        proc = None
        if report is not None:
            from mitrasim.procedure.intervals import case_procedure_intervals
            from mitrasim.procedure.process import run_procedure
            from mitrasim.procedure.report import write_report

            proc = run_procedure(c, seed=0, waveforms=True, research_below_indication=research)
            write_report(report, case=c, plan=res, procedure=proc, intervals=case_procedure_intervals(c, proc))
        if as_json:
            d = res.to_dict(top=top)
            if report is not None:
                d["report"] = str(report)
            typer.echo(_dump(d))
        else:
            con = Console()
            print_plan(res, con, top=top)
            if report is not None:
                con.print(f"report written to {report}")

    @app.command("procedure")
    def procedure_cmd(
        case: Path = typer.Argument(..., metavar="CASE.yaml", help="Case file (YAML or JSON)."),
        seed: Optional[str] = typer.Option(None, "--seed", metavar="N", help="Seed of the complication draws (default 0)."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        report: Optional[Path] = typer.Option(None, "--report", metavar="FILE.html", help="Write a self-contained HTML report."),
        research: bool = typer.Option(False, RESEARCH_FLAG, help="Simulate a baseline below MR 3+ (outside the TEER indication); stated in every output."),
    ) -> None:
        """Simulate the TEER procedure clip by clip, as the operator would see it."""
        from rich.console import Console

        from mitrasim.case import load_case
        from mitrasim.procedure.process import run_procedure

        s = parse_seed(seed)
        c = load_case(case)
        res = run_procedure(c, seed=s, waveforms=report is not None, research_below_indication=research)
        from mitrasim.procedure.intervals import case_procedure_intervals

        iv = case_procedure_intervals(c, res)
        if report is not None:
            from mitrasim.procedure.report import write_report

            write_report(report, case=c, plan=None, procedure=res, intervals=iv)
        if as_json:
            typer.echo(_dump({**res.to_dict(), "intervals": iv}))
        else:
            print_procedure(res, Console(), iv)
