"""Command-line commands of the circulation engine: ``simulate`` (its table is also the demo's first stage, :mod:`mitrasim.demo`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer

from mitrasim.errors import InputError
from mitrasim.physiology.preset_names import DEFAULT_PRESET, preset_help

#: Metrics shown by ``simulate`` and ``demo`` (name, label, format).
SHOWN = (
    ("edv_ml", "LV end-diastolic volume (mL)", "{:.0f}"),
    ("esv_ml", "LV end-systolic volume (mL)", "{:.0f}"),
    ("ef_pct", "LV ejection fraction (%)", "{:.0f}"),
    ("forward_sv_ml", "forward stroke volume (mL)", "{:.0f}"),
    ("rvol_ml", "regurgitant volume (mL)", "{:.0f}"),
    ("rf_pct", "regurgitant fraction (%)", "{:.0f}"),
    ("co_l_min", "forward cardiac output (L/min)", "{:.2f}"),
    ("sbp_mmhg", "aortic systolic (mmHg)", "{:.0f}"),
    ("dbp_mmhg", "aortic diastolic (mmHg)", "{:.0f}"),
    ("map_mmhg", "mean arterial (mmHg)", "{:.0f}"),
    ("la_mean_mmhg", "mean LA pressure (mmHg)", "{:.1f}"),
    ("la_vwave_mmhg", "LA v-wave (mmHg)", "{:.1f}"),
    ("lvedp_mmhg", "LV end-diastolic pressure (mmHg)", "{:.1f}"),
    ("pa_mean_mmhg", "mean pulmonary arterial (mmHg)", "{:.1f}"),
    ("mean_gradient_mmhg", "mean mitral gradient (mmHg)", "{:.1f}"),
    ("e_velocity_m_s", "mitral E velocity (m/s)", "{:.2f}"),
    ("mr_vmax_m_s", "MR peak velocity (m/s)", "{:.2f}"),
    ("pv_systolic_reversal", "pulmonary-vein backward flow in systole", "{}"),  # any backward sample; the echo's graded "reversal" (S-wave rule) is echo.signs
    ("hr_bpm", "heart rate (bpm)", "{:.0f}"),
    ("beats_to_steady", "beats to steady state", "{}"),
)


def parse_sets(items: list[str] | None) -> dict[str, float]:
    """``["name=value", ...]`` → dict; a malformed item raises :class:`InputError` naming it."""
    out: dict[str, float] = {}
    for raw in items or []:
        name, sep, value = raw.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError("--set", raw, "name=value, e.g. lv_ea_mmhg_ml=2.0")
        try:
            out[name] = float(value)
        except ValueError:
            raise InputError(name, value, "a number") from None
    return out


def _fmt(fmt: str, v) -> str:
    """A metric for the table; no value (None, NaN, ±inf) shows as "no value", never as a number."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "no value"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return fmt.format(v)


def simulate_cmd(
    preset: str = typer.Option(DEFAULT_PRESET, "--preset", help=preset_help()),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="override a parameter: name=value (repeatable)"),
    eroa_cm2: Optional[float] = typer.Option(None, "--eroa-cm2", help="effective regurgitant orifice area, cm²"),
    mva_cm2: Optional[float] = typer.Option(None, "--mva-cm2", help="mitral (forward) valve area, cm²"),
    hr_bpm: Optional[float] = typer.Option(None, "--hr-bpm", help="heart rate, beats/min"),
    as_json: bool = typer.Option(False, "--json", help="print {metrics, parameters, citations} as JSON"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="write a figure (PV loop, pressures, mitral flow) to this PNG/SVG/PDF file"),
    precision: str = typer.Option("float64", "--precision", help="the engine's float type: float64 (the default, the reference) or "
                                  "float32 (faster for large batches; metrics typically within 1e-5 of float64's)"),
) -> None:
    """Simulate one patient to a periodic steady state and print the beat metrics.

    A beat that is not a steady state, has no value for a metric or lies outside
    physiology (:func:`mitrasim.ranges.result_flags`) is shown with the reason and
    exits with code 2; no figure is written for it.
    """
    from mitrasim import citations
    from mitrasim.files import check_output_file
    from mitrasim.physiology.simulation import SolverSettings, simulate
    from mitrasim.ranges import result_flags

    overrides = parse_sets(set_)
    settings = SolverSettings(precision=precision)
    if plot is not None:
        if plot.suffix.lower() not in (".png", ".svg", ".pdf"):
            raise InputError("--plot", str(plot), "a file name ending in .png, .svg or .pdf")
        check_output_file(plot, "--plot")
    res = simulate(preset, overrides, eroa_cm2=eroa_cm2, mva_cm2=mva_cm2, hr_bpm=hr_bpm, waveforms=plot is not None, settings=settings)
    metrics = res.patient_metrics(0)
    flags = result_flags(metrics)
    if plot is not None and not flags:
        _write_plot(res, plot)
    if as_json:
        from mitrasim.errors import dumps

        payload = {
            "valid": not flags,
            "flags": flags,
            "metrics": metrics,
            "parameters": res.patient_parameters(0),
            "citations": citations.format_list(res.citations),
            "preset": res.preset,
        }
        typer.echo(dumps(payload, indent=2))
    else:
        _print_table(res, metrics, plot if not flags else None)
    if flags:
        typer.echo("error: no result: " + "; ".join(flags), err=True)
        raise typer.Exit(2)


def _write_plot(res, plot: Path) -> None:
    """The figure through a temporary file in the same folder, renamed into place when complete."""
    import os

    from mitrasim.physiology.plots import plot_beat

    tmp = plot.with_name(f".{plot.stem}.partial{plot.suffix}")
    try:
        plot_beat(res, 0, tmp)
        os.replace(tmp, plot)
    finally:
        tmp.unlink(missing_ok=True)


def _print_table(res, metrics: dict, plot: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from mitrasim import citations

    t = Table(title=f"mitrasim simulate: {res.preset}", show_lines=False)
    t.add_column("metric")
    t.add_column("value", justify="right")
    for key, label, fmt in SHOWN:
        t.add_row(label, _fmt(fmt, metrics[key]))
    con = Console()
    con.print(t)
    con.print("Sources: " + "; ".join(citations.format_list(res.citations)), markup=False)
    if plot is not None:
        con.print(f"figure written to {plot}")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_cmd)
