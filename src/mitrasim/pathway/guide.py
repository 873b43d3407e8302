"""The printable guide: HTML (jinja2, print CSS) and PDF / PNG through headless Chromium.

:func:`render_guide_html` gives a self-contained HTML page (inline CSS and SVG, no
network) in the plan's language.  :func:`html_to_pdf` and :func:`html_to_png`
call Debian's ``chromium`` headless with a fresh profile; :func:`find_chromium`
says whether it is there (``MITRASIM_CHROMIUM`` may name another binary).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from mitrasim import citations
from mitrasim.errors import InputError
from mitrasim.pathway import svg, texts
from mitrasim.pathway.careplan import CarePlan
from mitrasim.pathway.defaults import EMERGENCY_NUMBERS_SOURCE
from mitrasim.pathway.i18n import format_date, format_list, format_number, translator
from mitrasim.pathway.readability import Readability, readability

__all__ = [
    "ChromiumMissing",
    "explanation_text",
    "guide_readability",
    "guide_context",
    "render_guide_html",
    "find_chromium",
    "html_to_pdf",
    "html_to_png",
    "SECTION_IDS",
]

citations.register(
    "rnib_clear_print",
    "RNIB (Royal National Institute of Blind People). Clear Print guidelines; and large print for readers "
    "with sight loss.",
    note="minimum text size and large print: mitrasim.pathway.guide.PRINT_PT (standard, large); 14 point "
    "recommended, 18 preferred for large print. [check] read through secondary copies of the guidelines "
    "(a reproduced 'Clear Print Guidelines from RNIB' appendix: the minimum and the 14 point recommendation; "
    "Hampshire County Council's guidance: large print no smaller than the large size, preferably 18 point), "
    "not RNIB's own page",
)

#: Printed type size of the guide's text and tables, in points: the RNIB Clear Print minimum, and large print.
PRINT_PT: dict[str, float] = {"standard": 12.0, "large": 16.0}
PRINT_PT_SOURCE = "rnib_clear_print"

#: Section ids of the guide, in order.
SECTION_IDS: tuple[str, ...] = (
    "contacts", "heart", "leak", "who", "clip", "how", "risks", "before", "day", "after", "medicines", "infection",
    "checkups", "timeline", "warning", "sources",
)

_CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


class ChromiumMissing(InputError):
    """Headless Chromium is needed for the PDF or the screenshot and was not found."""

    def __init__(self) -> None:
        super().__init__(
            "chromium", "not found", "Debian's chromium on PATH (apt-get install chromium) or MITRASIM_CHROMIUM=/path",
            "needed for guide.pdf; use --no-pdf to skip it",
        )


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("mitrasim.pathway", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _explanation(plan: CarePlan, section: str) -> list[str]:
    """Translated paragraphs of one explanation section, placeholders filled from the protocol."""
    _ = translator(plan.lang)
    p = plan.protocol
    days_for = {
        texts.EXPLANATION["after"][1]: p.no_driving_days,
        texts.EXPLANATION["after"][2]: p.full_recovery_days,
        texts.EXPLANATION["after"][3]: p.no_bath_days,
        texts.EXPLANATION["after"][5]: p.no_heavy_lifting_days,
        texts.EXPLANATION["infection"][2]: p.dental_reminder_days_before,
    }
    out = []
    for msg in texts.EXPLANATION[section]:
        if msg in days_for and not days_for[msg] and msg != texts.EXPLANATION["infection"][2]:
            continue  # a rule the hospital switched off (0 days) is not printed
        fields: dict[str, Any] = {}
        if "{days}" in msg:
            fields["days"] = days_for[msg]
        if "{kg}" in msg:
            fields["kg"] = format_number(p.heavy_lifting_limit_kg, plan.lang)
        out.append(_(msg, **fields))
    return out


def _medicines(plan: CarePlan) -> list[str]:
    _ = translator(plan.lang)
    a = plan.protocol.antithrombotic
    out: list[str] = []
    if plan.facts.anticoagulated and a.anticoagulated_continue:
        out.append(_(texts.MEDICINE["anticoagulant"]))
        if a.anticoagulated_antiplatelet_months:
            out.append(_(texts.MEDICINE["anticoagulant_plus"], months=a.anticoagulated_antiplatelet_months))
    elif a.antiplatelet_months:
        out.append(_(texts.MEDICINE["antiplatelet"], months=a.antiplatelet_months))
        if a.dual_antiplatelet_months:
            out.append(_(texts.MEDICINE["dual"], months=a.dual_antiplatelet_months))
    out.append(_(texts.MEDICINE["bleeding"]))
    return out


def explanation_text(plan: CarePlan) -> str:
    """All the guide's sentences as rendered (one string): explanations, medicines, the dates' descriptions and the
    warning signs' actions (headings and table labels, which are not sentences, are left out)."""
    paras: list[str] = []
    for section in texts.EXPLANATION:
        paras.extend(_explanation(plan, section))
    paras.extend(_medicines(plan))
    paras.extend(e.description for e in plan.events)
    paras.extend(w.action for w in plan.warning_signs)
    return "\n".join(paras)


def guide_readability(plan: CarePlan) -> Readability:
    """Flesch scores of the guide's explanation text (meaningful for English plans)."""
    return readability(explanation_text(plan))


@dataclass(frozen=True)
class _Row:
    when: str
    title: str
    description: str
    code: str


def _contacts(plan: CarePlan) -> list[str]:
    """The contacts box: hospital, ward and out-of-hours numbers, emergency numbers (only what is set)."""
    _ = translator(plan.lang)
    p = plan.protocol
    out = []
    if p.hospital_name:
        out.append(_(texts.UI["hospital"], name=p.hospital_name))
    if p.ward_phone:
        key = "ward_phone_day" if p.out_of_hours_phone else "ward_phone"
        out.append(_(texts.UI[key], phone=p.ward_phone))
    if p.out_of_hours_phone:
        out.append(_(texts.UI["out_of_hours_phone"], phone=p.out_of_hours_phone))
    return out


def css_string(text: str) -> Markup:
    """``text`` as the body of a CSS string literal (for ``content: "..."`` in ``@page``): backslash, quote and
    ``<`` written as CSS escapes, so no character can end the string or the style element."""
    out = "".join(f"\\{ord(c):x} " if c in '\\"<>\n\r' else c for c in text)
    return Markup(out)


def guide_context(plan: CarePlan, large_print: bool = False) -> dict[str, Any]:
    """Everything the patient's guide needs, translated.  No simulated result ever enters it."""
    lang = plan.lang
    _ = translator(lang)
    p = plan.protocol
    ui = {k: _(v) for k, v in texts.UI.items() if "{" not in v}
    ui["procedure_on"] = _(texts.UI["procedure_on"], date=format_date(plan.facts.procedure_date, lang, "full"))
    ui["emergency"] = _(texts.UI["emergency"], number=format_list(p.emergency, lang))
    figures = {
        "heart": Markup(svg.heart_svg(ui)),
        "leak": Markup(svg.leaking_valve_svg(ui)),
        "clip": Markup(svg.clip_svg(ui)),
    }
    keys = list(dict.fromkeys([*plan.sources, *(k for v in texts.SECTION_SOURCES.values() for k in v),
                               *([EMERGENCY_NUMBERS_SOURCE] if not p.emergency_numbers else []), PRINT_PT_SOURCE, "mitrasim"]))
    return {
        "lang": lang,
        "ui": ui,
        "draft": plan.is_draft,
        "draft_css": css_string(ui["draft_banner"]),
        "large_print": large_print,
        "print_pt": PRINT_PT["large" if large_print else "standard"],
        "contacts": _contacts(plan),
        "figures": figures,
        "sections": {s: _explanation(plan, s) for s in texts.EXPLANATION},
        "medicines": _medicines(plan),
        "timeline": [_Row(e.when, e.title, e.description, e.code) for e in plan.events],
        "warnings": plan.warning_signs,
        "fast_title": _(texts.FAST_TITLE),
        "fast": plan.fast,
        "sources": [(_(texts.SOURCE_LABELS[k]), citations.get(k).format()) for k in keys],
    }


def render_guide_html(plan: CarePlan, large_print: bool = False) -> str:
    """The patient's guide as one self-contained HTML page in the plan's language (``large_print``: bigger type)."""
    return _env().get_template("guide.html.j2").render(**guide_context(plan, large_print))


def find_chromium() -> str | None:
    """Path of the headless Chromium binary, or ``None`` if it is not installed."""
    override = os.environ.get("MITRASIM_CHROMIUM")
    if override:
        return override if Path(override).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run_chromium(args: list[str], html_path: Path, timeout_s: float) -> None:
    exe = find_chromium()
    if exe is None:
        raise ChromiumMissing()
    with tempfile.TemporaryDirectory(prefix="mitrasim-chromium-") as profile:
        cmd = [exe, *_CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, html_path.resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        raise RuntimeError(f"chromium failed with exit code {proc.returncode}: {tail[0]}")


def html_to_pdf(html_path: Path, pdf_path: Path, timeout_s: float = 60.0) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium (A4 from the page CSS, no header/footer)."""
    _run_chromium([f"--print-to-pdf={pdf_path.resolve()}", "--no-pdf-header-footer"], html_path, timeout_s)
    if not pdf_path.exists() or pdf_path.stat().st_size == 0:
        raise RuntimeError("chromium wrote no PDF")
    return pdf_path


def html_to_png(html_path: Path, png_path: Path, width: int = 1000, height: int = 4000, timeout_s: float = 60.0) -> Path:
    """Screenshot ``html_path`` (screen CSS) into ``png_path`` with headless Chromium."""
    _run_chromium([f"--screenshot={png_path.resolve()}", f"--window-size={width},{height}"], html_path, timeout_s)
    if not png_path.exists() or png_path.stat().st_size == 0:
        raise RuntimeError("chromium wrote no screenshot")
    return png_path
