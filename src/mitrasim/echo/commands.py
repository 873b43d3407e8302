"""Command-line commands of the echo module: ``mitrasim grade``, ``mitrasim mvarc``, ``mitrasim echo-thresholds``."""

from __future__ import annotations

import json
from typing import Any, Optional

import typer

from mitrasim import citations
from mitrasim.echo.grading import CATEGORICAL, MRGrade, grade_mr
from mitrasim.echo.schema import load_case_echo, to_mr_inputs, validate_echo
from mitrasim.echo.thresholds import GUIDELINE_LABELS
from mitrasim.echo.stenosis import MVARCResult, StenosisGrade, evaluate_mvarc, grade_stenosis
from mitrasim.errors import InputError
from mitrasim.echo.mvarc import EVENT_NAMES, MVARCEndpoints, evaluate_endpoints, events_from_names

DISCLAIMER = "Research and education only: not a medical device."

# CLI option name -> EchoInput field (numbers parsed here so bad input gives one line, exit 2)
_NUMERIC = {
    "eroa_cm2": "--eroa-cm2",
    "rvol_ml": "--rvol-ml",
    "rf_pct": "--rf-pct",
    "vc_cm": "--vc-cm",
    "vc_biplane_cm": "--vc-biplane-cm",
    "pisa_radius_cm": "--pisa-radius-cm",
    "aliasing_cm_s": "--aliasing-cm-s",
    "mr_vmax_cm_s": "--mr-vmax-cm-s",
    "mr_vti_cm": "--mr-vti-cm",
    "wall_angle_deg": "--wall-angle-deg",
    "e_velocity_m_s": "--e-velocity-m-s",
    "jet_area_pct": "--jet-area-pct",
    "la_volume_index_ml_m2": "--la-volume-index-ml-m2",
    "la_diameter_mm": "--la-diameter-mm",
    "lvesd_mm": "--lvesd-mm",
    "tvi_mitral_aortic_ratio": "--tvi-mitral-aortic-ratio",
    "mva_cm2": "--mva-cm2",
    "mean_gradient_mmhg": "--mean-gradient-mmhg",
    "hr_bpm": "--hr-bpm",
}


def _num(field: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise InputError(field, text, "a number") from None


def run_grade(values: dict[str, Any], case: str | None = None) -> tuple[MRGrade, StenosisGrade | None, list[str]]:
    """Merge case-file ``echo:`` values with command-line values (these win), validate, grade."""
    data: dict[str, Any] = load_case_echo(case) if case else {}
    data.update({k: v for k, v in values.items() if v is not None})
    e = validate_echo(data, prefix="echo" if case else "")
    mr_inputs, notes = to_mr_inputs(e)
    if not any(v is not None for k, v in mr_inputs.given().items() if k != "aliasing_cm_s"):
        raise InputError(
            "measurements",
            None,
            "at least one of --eroa-cm2, --rvol-ml, --rf-pct, --vc-cm, --vc-biplane-cm, --pisa-radius-cm "
            "(with --aliasing-cm-s --mr-vmax-cm-s [--mr-vti-cm]), --pv-flow, --e-velocity-m-s, --inflow-pattern, "
            "--jet-area-pct, --jet-type eccentric_wall_hugging, --cw-density, --mv-morphology, "
            "--la-volume-index-ml-m2, --lv-size, --la-diameter-mm, --lvesd-mm, --tvi-mitral-aortic-ratio, or --case FILE.yaml with an echo: section",
            "nothing to grade",
        )
    result = grade_mr(mr_inputs, etiology=e.etiology or "primary", guideline=e.guideline, elliptical_orifice=e.elliptical_orifice, low_flow=e.low_flow)
    result.notes[:0] = notes
    sten = None
    if e.mva_cm2 is not None or e.mean_gradient_mmhg is not None:
        sten = grade_stenosis(e.mva_cm2, e.mean_gradient_mmhg, e.hr_bpm)
    return result, sten, notes


def _with_sources(obj: MRGrade | StenosisGrade | MVARCResult | MVARCEndpoints) -> dict[str, Any]:
    """``obj.to_dict()`` with its citation keys formatted as references."""
    out = obj.to_dict()
    out["citations"] = citations.format_list(obj.citations)
    return out


def _dumps(out: dict[str, Any]) -> str:
    out["disclaimer"] = DISCLAIMER
    return json.dumps(out, indent=2, ensure_ascii=False)


def _json(result: MRGrade, sten: StenosisGrade | None) -> str:
    out = _with_sources(result)
    if sten is not None:
        out["stenosis"] = _with_sources(sten)
    return _dumps(out)


def _print_rich(result: MRGrade, sten: StenosisGrade | None) -> None:
    from rich.console import Console
    from rich.markup import escape  # texts are plain: a "[check]" in a reason is not markup
    from rich.table import Table

    con = Console()
    table = Table(title=f"MR grade ({GUIDELINE_LABELS[result.guideline]}, {result.etiology} MR)")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    table.add_column("reading")
    table.add_column("role")
    for f in result.findings:
        role = "disagrees" if f.parameter in result.disagreeing else "driver" if f.parameter in result.drivers else ""
        table.add_row(f.parameter, f"{f.value:g}" if isinstance(f.value, float) else str(f.value), escape(f.text), role)
    con.print(table)
    con.print(f"[bold]MR {result.grade}[/bold] ({result.severity}) — rule {result.rule}: {escape(result.reasons[0])}")
    if result.most_likely_grade is not None or result.indeterminate:
        con.print(f"most-likely grade: {result.most_likely_grade or 'none'} ({escape(str(result.most_likely_rule))})")
    con.print(f"criteria met — severe: {', '.join(result.criteria_severe) or 'none'}; mild: {', '.join(result.criteria_mild) or 'none'}")
    for w in result.warnings:
        con.print(f"[yellow]warning:[/yellow] {escape(w)}")
    for n in result.notes:
        con.print(f"note: {escape(n)}")
    if sten is not None:
        con.print(f"[bold]Mitral stenosis: {sten.severity}[/bold] — " + escape("; ".join(sten.reasons)))
        for c in sten.caveats:
            con.print(f"caveat: {escape(c)}")
    con.print("Sources: " + " | ".join(citations.format_list(result.citations + (sten.citations if sten else []))))
    con.print(DISCLAIMER)


# evaluate_mvarc's argument names -> the command-line fields the user typed
_MVARC_FIELDS = {
    "mr_before": "before_grade",
    "mr_after": "after_grade",
    "eoa_after_cm2": "mva_cm2",
    "mean_gradient_after_mmhg": "mean_gradient_mmhg",
}


def run_mvarc(before: str | None, after: str | None, mva_cm2: str | None, mean_gradient_mmhg: str | None, events: str | None = None) -> MVARCEndpoints:
    """Parse the command-line text and evaluate the MVARC endpoints (:mod:`mitrasim.echo.mvarc`); every
    bad value → one :class:`InputError` naming the command-line field (``before_grade``,
    ``after_grade``, ``mva_cm2``, ``mean_gradient_mmhg``, ``events``). Without `events` the clinical
    components are not assessed, so device and procedural success cannot be decided.
    """
    for name, v in (("before_grade", before), ("after_grade", after)):
        if v is None:
            raise InputError(name, None, "an MR grade: 0, 1+, 2+, 3+, 4+ or indeterminate", f"--{name.replace('_', '-')} is required")
    assert before is not None and after is not None  # the loop above raised otherwise
    ev = events_from_names(None if events is None else [x.strip() for x in events.split(",") if x.strip()])
    return evaluate_endpoints(_echo_mvarc(before, after, mva_cm2, mean_gradient_mmhg), ev)


def _echo_mvarc(before: str, after: str, mva_cm2: str | None, mean_gradient_mmhg: str | None) -> MVARCResult:
    try:
        return evaluate_mvarc(
            before,
            after,
            eoa_after_cm2=_num("mva_cm2", mva_cm2),
            mean_gradient_after_mmhg=_num("mean_gradient_mmhg", mean_gradient_mmhg),
        )
    except InputError as exc:
        if exc.field not in _MVARC_FIELDS:
            raise
        raise exc.renamed(_MVARC_FIELDS[exc.field]) from None


def _print_mvarc(r: MVARCEndpoints) -> None:
    sten = {True: "yes", False: "no", None: "not assessed"}[r.iatrogenic_stenosis]
    for line in r.lines():
        typer.echo(line)
    typer.echo(f"residual MR: {r.mr_before} → {r.mr_after}: {r.residual_mr}")
    typer.echo(f"iatrogenic stenosis: {sten}")
    for reason in r.echo.reasons:
        typer.echo(f"- {reason}")
    if all(v is None for k, v in r.events.to_dict().items()):
        typer.echo("clinical events not given (--events none | death,stroke,…): device and procedural success cannot be decided")
    typer.echo("Sources: " + " | ".join(citations.format_list(r.citations)))
    typer.echo(DISCLAIMER)


def register(app: typer.Typer) -> None:
    """Add ``grade``, ``mvarc`` and ``echo-thresholds`` to the ``mitrasim`` command line."""

    @app.command("mvarc")
    def mvarc(
        before_grade: Optional[str] = typer.Option(None, "--before-grade", metavar="0..4+", help="MR grade before the procedure (0, 1+ … 4+, indeterminate)."),
        after_grade: Optional[str] = typer.Option(None, "--after-grade", metavar="0..4+", help="MR grade after the procedure."),
        mva_cm2: Optional[str] = typer.Option(None, "--mva-cm2", metavar="CM2", help="Mitral valve area (EOA) after (cm²)."),
        mean_gradient_mmhg: Optional[str] = typer.Option(None, "--mean-gradient-mmhg", metavar="MMHG", help="Mean mitral gradient after (mmHg)."),
        events: Optional[str] = typer.Option(None, "--events", metavar="none|LIST", help="Clinical events that occurred (comma list of: " + ", ".join(EVENT_NAMES) + "), or 'none'."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """MVARC technical, device and procedural success (Stone 2015 Part 1 and 2): residual MR, iatrogenic stenosis, clinical events."""
        r = run_mvarc(before_grade, after_grade, mva_cm2, mean_gradient_mmhg, events)
        if as_json:
            typer.echo(_dumps(_with_sources(r)))
        else:
            _print_mvarc(r)

    @app.command("grade")
    def grade(
        eroa_cm2: Optional[str] = typer.Option(None, "--eroa-cm2", metavar="CM2", help="EROA (cm²)."),
        rvol_ml: Optional[str] = typer.Option(None, "--rvol-ml", metavar="ML", help="Regurgitant volume (mL)."),
        rf_pct: Optional[str] = typer.Option(None, "--rf-pct", metavar="PCT", help="Regurgitant fraction (%)."),
        vc_cm: Optional[str] = typer.Option(None, "--vc-cm", metavar="CM", help="Vena contracta width (cm)."),
        pisa_radius_cm: Optional[str] = typer.Option(None, "--pisa-radius-cm", metavar="CM", help="PISA radius (cm)."),
        aliasing_cm_s: Optional[str] = typer.Option(None, "--aliasing-cm-s", metavar="CM/S", help="Aliasing velocity (cm/s)."),
        mr_vmax_cm_s: Optional[str] = typer.Option(None, "--mr-vmax-cm-s", metavar="CM/S", help="MR peak CW velocity (cm/s)."),
        mr_vti_cm: Optional[str] = typer.Option(None, "--mr-vti-cm", metavar="CM", help="MR VTI (cm)."),
        wall_angle_deg: Optional[str] = typer.Option(None, "--wall-angle-deg", metavar="DEG", help="PISA wall-constraint angle α (deg, default 180)."),
        vc_biplane_cm: Optional[str] = typer.Option(None, "--vc-biplane-cm", metavar="CM", help="Biplane vena contracta (cm)."),
        pv_flow: Optional[str] = typer.Option(None, "--pv-flow", metavar="normal|blunted|reversal", help="Pulmonary-vein systolic flow."),
        e_velocity_m_s: Optional[str] = typer.Option(None, "--e-velocity-m-s", metavar="M/S", help="Mitral E velocity (m/s)."),
        inflow_pattern: Optional[str] = typer.Option(None, "--inflow-pattern", metavar="a_dominant|variable|e_dominant", help="Mitral inflow pattern."),
        jet_area_pct: Optional[str] = typer.Option(None, "--jet-area-pct", metavar="PCT", help="Colour jet area (% of LA area)."),
        jet_type: Optional[str] = typer.Option(None, "--jet-type", metavar="central|eccentric|eccentric_wall_hugging", help="Colour jet direction."),
        cw_density: Optional[str] = typer.Option(None, "--cw-density", metavar="faint|dense_parabolic|dense_triangular", help="CW envelope of the MR jet."),
        mv_morphology: Optional[str] = typer.Option(None, "--mv-morphology", metavar="normal_or_mild|moderate|flail_or_large_defect", help="Leaflets (flail leaflet, ruptured papillary muscle, large coaptation defect)."),
        la_volume_index_ml_m2: Optional[str] = typer.Option(None, "--la-volume-index-ml-m2", metavar="ML/M2", help="LA volume index (mL/m²)."),
        lv_size: Optional[str] = typer.Option(None, "--lv-size", metavar="normal|enlarged", help="LV size (enlarged with normal function)."),
        la_diameter_mm: Optional[str] = typer.Option(None, "--la-diameter-mm", metavar="MM", help="LA diameter (mm; an ESC 2021 criterion)."),
        lvesd_mm: Optional[str] = typer.Option(None, "--lvesd-mm", metavar="MM", help="LV end-systolic diameter (mm; an ESC 2021 criterion)."),
        tvi_mitral_aortic_ratio: Optional[str] = typer.Option(None, "--tvi-mitral-aortic-ratio", metavar="RATIO", help="TVI mitral / TVI aortic (an ESC 2021 criterion)."),
        mva_cm2: Optional[str] = typer.Option(None, "--mva-cm2", metavar="CM2", help="Mitral valve area (cm²), for a stenosis grade."),
        mean_gradient_mmhg: Optional[str] = typer.Option(None, "--mean-gradient-mmhg", metavar="MMHG", help="Mean mitral gradient (mmHg)."),
        hr_bpm: Optional[str] = typer.Option(None, "--hr-bpm", metavar="BPM", help="Heart rate at the study (gradient caveat)."),
        etiology: Optional[str] = typer.Option(None, "--etiology", metavar="primary|secondary", help="MR etiology (default primary)."),
        guideline: Optional[str] = typer.Option(None, "--guideline", metavar="ase2017|esc2021", help="Threshold set (default ase2017)."),
        elliptical_orifice: bool = typer.Option(False, "--elliptical-orifice", help="Secondary MR, elliptical regurgitant orifice (ESC 2021: EROA's lower severe cut)."),
        low_flow: bool = typer.Option(False, "--low-flow", help="Secondary MR, low flow conditions (ESC 2021: RVol's lower severe cut)."),
        case: Optional[str] = typer.Option(None, "--case", metavar="FILE.yaml", help="Case file with an echo: section."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Grade mitral regurgitation from measured echo values (ASE 2017 / ESC 2021)."""
        local = locals()
        values: dict[str, Any] = {k: _num(k, local[k]) for k in _NUMERIC}
        choices = {**CATEGORICAL, "etiology": ("primary", "secondary"), "guideline": ("ase2017", "esc2021")}
        for k, allowed in choices.items():
            v = local[k]
            if v is not None and v not in allowed:
                raise InputError(k, v, " | ".join(allowed))
            values[k] = v
        for flag, on in (("elliptical_orifice", elliptical_orifice), ("low_flow", low_flow)):
            if on:
                values[flag] = True
        result, sten, _ = run_grade(values, case)
        if as_json:
            typer.echo(_json(result, sten))
        else:
            _print_rich(result, sten)

    @app.command("echo-thresholds")
    def echo_thresholds(
        guideline: Optional[str] = typer.Option(None, "--guideline", metavar="ase2017|esc2021|ms|mvarc", help="Only this set."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """List the grading thresholds with their sources and how well each was checked."""
        from dataclasses import asdict

        from mitrasim.echo.thresholds import THRESHOLDS

        allowed = ("ase2017", "esc2021", "ms", "mvarc")
        if guideline is not None and guideline not in allowed:
            raise InputError("guideline", guideline, " | ".join(allowed))
        rows = [r for r in THRESHOLDS if guideline is None or guideline in r.guidelines]
        if as_json:
            typer.echo(json.dumps([asdict(r) for r in rows], indent=2))
            return
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table(title="echo thresholds")
        for col in ("sets", "parameter", "kind", "value", "sources", "status", "note"):
            table.add_column(col)
        for r in rows:
            table.add_row(",".join(r.guidelines), r.parameter, r.kind, f"{r.value:g}", ",".join(r.sources), r.status, escape(r.note))
        Console().print(table)
