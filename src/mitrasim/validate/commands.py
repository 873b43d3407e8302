"""Command line: ``mitrasim validate COMPARATORS.yaml --out DIR``."""

from __future__ import annotations

from pathlib import Path

import typer

from mitrasim.errors import InputError


def _validate(
    comparators: Path = typer.Argument(..., help="comparator YAML (e.g. src/mitrasim/validate/comparators/development.yaml)"),
    out: Path = typer.Option(..., "--out", help="output folder (trials, report.html, summary.json, validation.csv); run again to resume"),
    n: int | None = typer.Option(None, "--n", min=1, max=10_000_000, help="patients per comparator (default: the file's)"),
    dask_local: int | None = typer.Option(None, "--dask-local", min=1, max=256, help="run the trials on a local Dask cluster of K workers"),
    scheduler: str | None = typer.Option(None, "--scheduler", help="run the trials on the Dask scheduler at ADDR, e.g. tcp://127.0.0.1:8786"),
    sensitivity: bool = typer.Option(True, "--sensitivity/--no-sensitivity", help="run the Sobol analysis"),
    progress: bool = typer.Option(False, "--progress/--no-progress", help="show the trials' progress bars"),
) -> None:
    """Run published comparators and write a credibility report in the ASME V&V 40 structure (research use; not a medical device)."""
    from mitrasim.validate.run import run_validation

    try:
        s = run_validation(comparators, out, n=n, dask_local=dask_local, scheduler=scheduler, progress=progress, sensitivity=sensitivity,
                           on_stage=lambda name: typer.echo(f"done: {name}", err=True))  # fmt: skip
    except InputError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    val = [r for r in s["validation"] if r["role"] == "validation"]
    agree = sum(r["agreement"] == "agree" for r in val)
    miss = sum(r["agreement"] == "miss" for r in val)
    typer.echo(
        f"code verification {'pass' if s['code_verification']['pass'] else 'FAIL'}; validation: {agree} agree, {miss} miss, "
        f"{len(val) - agree - miss} inconclusive of {len(val)} -> {Path(out) / 'report.html'}"
    )


def register(app: typer.Typer) -> None:
    """Add ``validate`` to the ``mitrasim`` command line."""
    app.command("validate")(_validate)
