"""Write a care plan's files into a folder, all or nothing.

:func:`write_careplan` renders the patient's material — ``guide.html``, ``guide.pdf``
(when a renderer is here, see :mod:`mitrasim.pathway.pdf`), ``careplan.ics`` and the FHIR
``careplan.fhir.json`` — plus ``careplan.json`` (the plan as data) and, with a case,
``clinician.html`` (the case's simulated results: the only file that carries them).  Everything is
written into a temporary folder next to ``out_dir`` and moved in only when every file is complete,
so an error leaves nothing half-written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path

from mitrasim.pathway.careplan import CarePlan
from mitrasim.pathway.clinician import render_clinician_html
from mitrasim.pathway.fhir import careplan_to_fhir
from mitrasim.pathway.guide import guide_readability, render_guide_html
from mitrasim.pathway.ics import careplan_to_ics
from mitrasim.pathway.outcome import ValveOutcome
from mitrasim.pathway.pdf import render_pdf

__all__ = ["OUTPUT_FILES", "PATIENT_FILES", "careplan_json", "write_careplan"]

#: Files for the patient (never a simulated number in them).
PATIENT_FILES: tuple[str, ...] = ("guide.html", "guide.pdf", "careplan.ics", "careplan.fhir.json")
#: Every file ``write_careplan`` may write, in order.
OUTPUT_FILES: tuple[str, ...] = (*PATIENT_FILES, "careplan.json", "clinician.html")


def careplan_json(plan: CarePlan, outcome: ValveOutcome | None = None) -> dict:
    """The plan as data, the case's simulated result (for the clinician) if any, and the readability of the English text."""
    doc = plan.to_dict()
    doc["case"] = outcome.model_dump(mode="json") if outcome is not None else None
    if outcome is not None:
        doc["case"]["predicted_leak_reduction_percent"] = round(outcome.reduction_percent, 1)
    doc["readability"] = guide_readability(plan).to_dict() if plan.lang == "en" else None
    return doc


def write_careplan(plan: CarePlan, out_dir: str | Path, outcome: ValveOutcome | None = None, *,
                   pdf: str | None = None, large_print: bool = False, now: dt.datetime | None = None) -> list[Path]:
    """Write the plan's files into ``out_dir`` atomically; return their final paths.

    ``pdf`` names the renderer (``"chromium"`` or ``"weasyprint"``, see :func:`mitrasim.pathway.pdf.pdf_renderer`);
    ``None`` writes no PDF.  Existing files of the same names are replaced; other files are left alone.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".careplan-", dir=out))
    try:
        html = tmp / "guide.html"
        html.write_text(render_guide_html(plan, large_print), encoding="utf-8")
        if pdf is not None:
            render_pdf(html, tmp / "guide.pdf", pdf)
        (tmp / "careplan.ics").write_bytes(careplan_to_ics(plan, now))
        (tmp / "careplan.fhir.json").write_text(
            json.dumps(careplan_to_fhir(plan, now), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        (tmp / "careplan.json").write_text(
            json.dumps(careplan_json(plan, outcome), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        if outcome is not None:
            (tmp / "clinician.html").write_text(render_clinician_html(plan, outcome), encoding="utf-8")
        final = []
        for n in OUTPUT_FILES:
            if (tmp / n).exists():
                os.replace(tmp / n, out / n)
                final.append(out / n)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
