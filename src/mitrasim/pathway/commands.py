"""Command line of the patient's path: ``mitrasim careplan``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer

from mitrasim.errors import InputError

__all__ = ["register", "parse_date"]


def parse_date(field: str, text: str | None) -> dt.date | None:
    """An ISO date ``YYYY-MM-DD`` (``None`` stays ``None``), else :class:`InputError`."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(field, text, "a date YYYY-MM-DD") from None


def careplan(
    procedure_date: str = typer.Option(..., "--procedure-date", help="Date of the procedure, YYYY-MM-DD."),
    out: Path = typer.Option(..., "--out", help="Folder for careplan.ics, guide.html, guide.pdf, careplan.json."),
    lang: str = typer.Option("en", "--lang", help="Language of the plan: en | fr."),
    anticoagulated: bool = typer.Option(False, "--anticoagulated", help="The patient already takes an anticoagulant."),
    dental_work_date: Optional[str] = typer.Option(None, "--dental-work-date", help="Planned dental care, YYYY-MM-DD."),
    surgery_date: Optional[str] = typer.Option(None, "--surgery-date", help="Planned operation, YYYY-MM-DD."),
    protocol: Optional[Path] = typer.Option(None, "--protocol", help="Hospital protocol YAML overriding the defaults."),
    case: Optional[Path] = typer.Option(None, "--case", help="A case file (patient, valve: the procedure is simulated) or a case result (ValveOutcome), JSON or YAML."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Make guide.pdf (Chromium, else WeasyPrint; else say how)."),
    draft: bool = typer.Option(False, "--draft", help="Allow a guide without the hospital's phone number (marked DRAFT on every page)."),
    large_print: bool = typer.Option(False, "--large-print", help="Larger type in the guide (HTML and PDF)."),
) -> None:
    """Write a patient's care plan: guide (HTML, PDF), calendar, FHIR CarePlan, JSON; with --case a clinician's report. Research and education only."""
    from mitrasim.files import check_output_dir
    from mitrasim.pathway.careplan import build_careplan, facts_from_dict
    from mitrasim.pathway.export import write_careplan
    from mitrasim.pathway.i18n import check_lang
    from mitrasim.case_outcome import load_case_or_outcome
    from mitrasim.pathway.pdf import NO_PDF_HINT, pdf_renderer
    from mitrasim.pathway.protocol import load_protocol

    facts = facts_from_dict(
        {
            "procedure_date": parse_date("procedure-date", procedure_date),
            "lang": check_lang(lang),
            "anticoagulated": anticoagulated,
            "dental_work_date": parse_date("dental-work-date", dental_work_date),
            "surgery_date": parse_date("surgery-date", surgery_date),
        }
    )
    check_output_dir(out, "--out")
    proto = load_protocol(protocol)
    if not proto.has_contact and not draft:
        raise InputError("protocol.ward_phone", proto.ward_phone or "(not set)",
                         "the hospital's name and ward telephone number in --protocol (or --draft for a marked draft)")
    outcome = load_case_or_outcome(case) if case is not None else None
    plan = build_careplan(facts, proto)
    renderer = pdf_renderer() if pdf else None
    for path in write_careplan(plan, out, outcome, pdf=renderer, large_print=large_print):
        typer.echo(str(path))
    if pdf and renderer is None:
        typer.echo(NO_PDF_HINT)


def register(app: typer.Typer) -> None:
    """Add the ``careplan`` command to ``app``."""
    app.command("careplan")(careplan)
