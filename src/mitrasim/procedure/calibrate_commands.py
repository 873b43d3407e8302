"""``mitrasim calibrate CASE.yaml|BUNDLE.json``: fit the patient's circulation to its measurements."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer

from mitrasim.calibrate.fit import Calibration
from mitrasim.errors import InputError

DISCLAIMER = "Research and education only: not a medical device."


def _clean(x: Any) -> Any:
    """JSON-safe: non-finite numbers become null with the name listed (never an unflagged NaN)."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, float) and math.isnan(x):
        raise InputError("calibration", "NaN", "finite results", "the engine returned a non-finite value")
    return x


def calibrate_path(path: Path, preset: str | None, n_ensemble: int, seed: int) -> tuple[Calibration, str]:
    """Calibrate a case file (with ``measurements:``) or a FHIR R4 Bundle of Observations."""
    from mitrasim.procedure.patient import calibrate_case
    from mitrasim.calibrate.fit import calibrate_measurements

    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise InputError("path", str(path), "a readable JSON file", str(e).splitlines()[0]) from None
        if isinstance(data, dict) and data.get("resourceType") == "Bundle":
            from mitrasim.calibrate.fhir import measurements_from_bundle

            meas = measurements_from_bundle(data)
            if preset is None:
                raise InputError("--preset", None, "a preset name (a FHIR bundle does not name one)")
            cal = calibrate_measurements(meas, preset, n_ensemble=n_ensemble, seed=seed)
            return cal, path.name
    from mitrasim.case import load_case

    case = load_case(path)
    if preset is not None:
        case = case.model_copy(update={"patient": case.patient.model_copy(update={"preset": preset})})
    return calibrate_case(case, n_ensemble=n_ensemble, seed=seed), case.name or path.name


def format_text(cal: Calibration, name: str, full: bool) -> str:
    """A plain-text summary (``full``: with identifiability details and sources)."""
    out = [f"mitrasim calibrate — {name} (preset {cal.preset}); {DISCLAIMER}", f"fit: {cal.message}", "", "fitted parameters (90 % interval):"]
    for k, p in cal.parameters.items():
        flag = "" if p["determined"] else "  [undetermined by the data: prior]"
        out.append(f"  {k:26s} {p['value']:10.4g}  [{p['p05']:.4g}, {p['p95']:.4g}]  (prior {p['prior']:.4g}){flag}")
    out += ["", "measurements (residual in SDs):"]
    for r in cal.residuals:
        chk = "  [check: default SD not read in its source]" if r["status"] == "check" else ""
        out.append(f"  {r['name']:20s} {r['method']:14s} measured {r['measured']:8.3g}  model {r['predicted']:8.3g}  sd {r['sd']:6.3g}  z {r['z']:+5.2f}{chk}")
    out += ["", "predicted baseline (90 % interval of the ensemble):"]
    for k, v in cal.predictions.items():
        out.append(f"  {k:20s} {v['value']:8.3g}  [{v['p05']:.3g}, {v['p95']:.3g}]")
    if full:
        ident = cal.identifiability
        out += ["", f"identifiability: {ident['rule']}", "  posterior SD / prior SD: " + ", ".join(f"{k} {v:.2f}" for k, v in ident["posterior_sd_over_prior_sd"].items()),
                "  singular values of the whitened measurement Jacobian: " + ", ".join(f"{s:.3g}" for s in ident["singular_values"])]  # fmt: skip
        for pr in ident["strong_correlations"]:
            out.append(f"  strongly correlated: {pr['a']} ~ {pr['b']} (r = {pr['correlation']:+.2f})")
        from mitrasim import citations

        out += ["", "sources:"] + [f"  {citations.get(k).format()}" for k in cal.citations]
    return "\n".join(out)


def format_procedure(after: dict[str, Any]) -> str:
    """Before/after the procedure's clips, each quantity with its 90 % interval."""
    out = ["", f"procedure on the calibrated patient: {len(after['clips'])} clip(s) {'+'.join(after['clips'])}; {after['stop_reason']}",
           f"  {'':20s} {'before':>26s} {'after':>26s}"]  # fmt: skip
    for q in after["before"]:
        if isinstance(after["before"][q], dict):
            b, a = after["before"][q], after["after"][q]
            out.append(f"  {q:20s} {b['value']:8.3g} [{b['p05']:6.3g}, {b['p95']:6.3g}]   {a['value']:8.3g} [{a['p05']:6.3g}, {a['p95']:6.3g}]")
    return "\n".join(out)


def write_fhir(path: Path, cal: Calibration, states: Any = None) -> None:
    """Write the calibration (and predictions at other valve states) as a FHIR R4 Bundle to ``path``."""
    from mitrasim.calibrate.fhir import calibration_bundle

    text = json.dumps(_clean(calibration_bundle(cal, states=states)), indent=2)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise InputError("--fhir", str(path), "a writable path", str(e)) from None


def register(app: typer.Typer) -> None:
    """Add ``calibrate`` to the ``mitrasim`` command line."""

    @app.command("calibrate")
    def calibrate_cmd(
        source: Path = typer.Argument(..., metavar="CASE.yaml|BUNDLE.json", help="Case file with a measurements: block, or a FHIR R4 Bundle of Observations."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        report: bool = typer.Option(False, "--report", help="Full report: identifiability details and sources."),
        preset: str | None = typer.Option(None, "--preset", help="Preset to calibrate (required for a FHIR bundle; default: the case's)."),
        ensemble: int = typer.Option(64, "--ensemble", min=0, max=2000, help="Size of the uncertainty ensemble."),
        seed: int = typer.Option(0, "--seed", min=0, help="Seed of the ensemble draws."),
        fhir_out: Path | None = typer.Option(None, "--fhir", metavar="FILE.json", help="Also write the calibrated state and predictions as a FHIR R4 Bundle of Observations."),
        procedure: bool = typer.Option(False, "--procedure", help="Also run the procedure on the calibrated patient: LA pressure, forward output and gradient before and after its clips, with 90 % intervals."),
    ) -> None:
        """Fit the patient's circulation to its measurements; report parameters, residuals, identifiability, intervals."""
        cal, name = calibrate_path(source, preset, ensemble, seed)
        after = None
        if procedure:
            if source.suffix.lower() == ".json" and json.loads(source.read_text(encoding="utf-8")).get("resourceType") == "Bundle":
                raise InputError("--procedure", True, "a case file (a FHIR bundle has no valve)")
            from mitrasim.procedure.intervals import procedure_intervals
            from mitrasim.case import load_case

            after = procedure_intervals(load_case(source), n_ensemble=ensemble, seed=seed)
        if fhir_out is not None:
            states = {"after_procedure": (f"after the procedure's clips ({'+'.join(after['clips']) or 'none'})", after["after"])} if after else None
            write_fhir(fhir_out, cal, states)
        if as_json:
            typer.echo(json.dumps(_clean({"name": name, **cal.to_dict(), **({"procedure": after} if after else {}), "disclaimer": DISCLAIMER}), indent=2))
        else:
            typer.echo(format_text(cal, name, report))
            if after:
                typer.echo(format_procedure(after))
