"""Write a care plan's files into a folder, all or nothing.

:func:`write_careplan` renders ``careplan.ics``, ``guide.html``, ``guide.pdf``
and ``careplan.json`` into a temporary folder next to ``out_dir`` and moves them
in only when every file is complete, so an error leaves nothing half-written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path

from mitrasim.pathway.careplan import CarePlan
from mitrasim.pathway.guide import guide_readability, html_to_pdf, render_guide_html
from mitrasim.pathway.ics import careplan_to_ics
from mitrasim.pathway.outcome import ValveOutcome

__all__ = ["OUTPUT_FILES", "careplan_json", "write_careplan"]

OUTPUT_FILES: tuple[str, ...] = ("careplan.ics", "guide.html", "guide.pdf", "careplan.json")


def careplan_json(plan: CarePlan, outcome: ValveOutcome | None = None) -> dict:
    """The JSON document: the plan, the case result if any, and the readability of the English text."""
    doc = plan.to_dict()
    doc["case"] = outcome.model_dump(mode="json") if outcome is not None else None
    if outcome is not None:
        doc["case"]["predicted_leak_reduction_percent"] = round(outcome.reduction_percent, 1)
    doc["readability"] = guide_readability(plan).to_dict() if plan.lang == "en" else None
    return doc


def write_careplan(plan: CarePlan, out_dir: str | Path, outcome: ValveOutcome | None = None, *,
                   pdf: bool = True, now: dt.datetime | None = None) -> list[Path]:
    """Write the plan's files into ``out_dir`` atomically; return their final paths.

    Existing files of the same names are replaced; other files in ``out_dir`` are
    left alone.  With ``pdf=False`` no PDF is made (no Chromium needed).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = [n for n in OUTPUT_FILES if pdf or n != "guide.pdf"]
    tmp = Path(tempfile.mkdtemp(prefix=".careplan-", dir=out))
    try:
        (tmp / "careplan.ics").write_bytes(careplan_to_ics(plan, now))
        html = tmp / "guide.html"
        html.write_text(render_guide_html(plan, outcome), encoding="utf-8")
        if pdf:
            html_to_pdf(html, tmp / "guide.pdf")
        (tmp / "careplan.json").write_text(
            json.dumps(careplan_json(plan, outcome), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        final = []
        for n in names:
            os.replace(tmp / n, out / n)
            final.append(out / n)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
