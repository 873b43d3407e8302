"""The guide as PDF on any machine: Chromium when present, else WeasyPrint, else none (said in one line).

:func:`pdf_renderer` picks the first that works here:

1. ``chromium`` — Debian's headless Chromium (or ``MITRASIM_CHROMIUM``), as for the screenshots;
2. ``weasyprint`` — pure-Python from PyPI (it needs the Pango library, present on most Linux desktops and
   in Debian's ``libpango-1.0-0``; where Pango is missing its import fails and this renderer is skipped);
3. none — ``mitrasim careplan`` then writes the HTML and the calendar and prints
   :data:`NO_PDF_HINT` (exit 0).

Both renderers honour the guide's print CSS (A4, page-margin boxes with the page number and, for a draft,
the draft line on every page).
"""

from __future__ import annotations

from pathlib import Path

from mitrasim.pathway.guide import find_chromium, html_to_pdf

__all__ = ["NO_PDF_HINT", "pdf_renderer", "render_pdf"]

#: The one line printed when no PDF renderer is available.
NO_PDF_HINT = (
    "guide.pdf not made: no PDF renderer here (install Debian's chromium, or Pango for WeasyPrint); "
    "open guide.html in a web browser and print it to PDF"
)


def _weasyprint_works() -> bool:
    try:
        import weasyprint  # noqa: F401  (imports Pango through cffi)
    except (ImportError, OSError):
        return False
    return True


def pdf_renderer() -> str | None:
    """``"chromium"``, ``"weasyprint"`` or ``None``: the PDF renderer this machine has."""
    if find_chromium() is not None:
        return "chromium"
    if _weasyprint_works():
        return "weasyprint"
    return None


def render_pdf(html_path: Path, pdf_path: Path, renderer: str) -> Path:
    """Print ``html_path`` into ``pdf_path`` with ``renderer`` (from :func:`pdf_renderer`)."""
    if renderer == "chromium":
        return html_to_pdf(html_path, pdf_path)
    if renderer == "weasyprint":
        import weasyprint

        weasyprint.HTML(filename=str(html_path)).write_pdf(str(pdf_path))
        if not pdf_path.exists() or pdf_path.stat().st_size == 0:
            raise RuntimeError("weasyprint wrote no PDF")
        return pdf_path
    raise ValueError(f"unknown PDF renderer {renderer!r}: chromium | weasyprint")
