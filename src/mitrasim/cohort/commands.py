"""Command-line commands of the cohort module: ``mitrasim trial`` and ``mitrasim report``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mitrasim.errors import InputError


def _trial(
    trial_file: Path = typer.Argument(..., help="trial YAML (see examples/trials/)"),
    out: Path = typer.Option(..., "--out", help="output folder (Parquet chunks, manifest, journal)"),
    resume: bool = typer.Option(False, "--resume", help="continue an interrupted trial in --out"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, max=256, help="local processes (default 1: this process, one chunk per core at once)"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address, e.g. tcp://127.0.0.1:8786"),
    dask_local: Optional[int] = typer.Option(None, "--dask-local", min=1, max=256, help="start a local Dask cluster of N workers"),
    chunks_per_task: Optional[int] = typer.Option(None, "--chunks-per-task", min=1, max=10_000, help="chunks per Dask task (default: adaptive, from measured chunk cost and workers; results never depend on it)"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show the progress bar"),
) -> None:
    """Run an in-silico trial (research and education only; not a medical device)."""
    from mitrasim.cohort.trial import TrialInterrupted, load_trial, run_trial

    if scheduler and dask_local:
        raise InputError("--scheduler", scheduler, "either --scheduler or --dask-local, not both")
    trial = load_trial(trial_file)
    try:
        res = run_trial(trial, out, resume=resume, workers=workers, scheduler=scheduler, dask_local=dask_local, progress=progress, chunks_per_task=chunks_per_task)
    except TrialInterrupted as e:
        typer.echo(f"{e}; continue with: mitrasim trial {trial_file} --out {out} --resume", err=True)
        raise typer.Exit(130) from None
    if res.get("chunks_recomputed"):
        typer.echo(f"recomputed chunk(s) {res['chunks_recomputed']}: missing or changed since they were recorded", err=True)
    typer.echo(
        f"{res['patients_run']:,} patients in {res['seconds']:.1f} s ({res['patients_per_s']:,.0f} patients/s); "
        f"{res['chunks_run']} chunk(s) run, {res['chunks_skipped']} already done -> {res['out']}"
    )


def _report(out: Path = typer.Argument(..., help="a trial output folder")) -> None:
    """Write report.html, summary.csv and paired.csv for a trial folder."""
    from mitrasim.cohort.report import write_report
    from mitrasim.files import check_output_dir

    check_output_dir(out, "DIR")  # write_report reads (and checks) every chunk before it writes
    paths = write_report(out)
    typer.echo(" ".join(str(p) for p in paths.values() if p.exists()))


def register(app: typer.Typer) -> None:
    """Add ``trial`` and ``report`` to the ``mitrasim`` command line."""
    app.command("trial")(_trial)
    app.command("report")(_report)
