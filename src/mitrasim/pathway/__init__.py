"""The patient's path: care plan, calendar export, printable guide, translations.

Public API::

    from mitrasim.pathway import PatientFacts, build_careplan, load_protocol, write_careplan
    plan = build_careplan(PatientFacts(procedure_date=date(2026, 3, 2), lang="fr"), load_protocol(None))
    write_careplan(plan, "out/")          # careplan.ics, guide.html, guide.pdf, careplan.json

Research and education only; not a medical device.
"""

from mitrasim.pathway.careplan import CarePlan, Event, PatientFacts, add_months, build_careplan, facts_from_dict
from mitrasim.pathway.export import OUTPUT_FILES, careplan_json, write_careplan
from mitrasim.pathway.guide import find_chromium, guide_readability, html_to_pdf, html_to_png, render_guide_html
from mitrasim.pathway.ics import careplan_to_calendar, careplan_to_ics
from mitrasim.pathway.outcome import ClipPlacement, ValveOutcome, load_outcome, outcome_from_dict
from mitrasim.pathway.protocol import Protocol, load_protocol, protocol_from_dict
from mitrasim.pathway.readability import readability

__all__ = [
    "CarePlan", "Event", "PatientFacts", "add_months", "build_careplan", "facts_from_dict",
    "OUTPUT_FILES", "careplan_json", "write_careplan",
    "find_chromium", "guide_readability", "html_to_pdf", "html_to_png", "render_guide_html",
    "careplan_to_calendar", "careplan_to_ics",
    "ClipPlacement", "ValveOutcome", "load_outcome", "outcome_from_dict",
    "Protocol", "load_protocol", "protocol_from_dict",
    "readability",
]
