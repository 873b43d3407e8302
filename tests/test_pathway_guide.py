"""The printable guide: sections, pictures, large print; rendered in headless Chromium."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from mitrasim.errors import InputError
from mitrasim.pathway.careplan import PatientFacts, build_careplan
from mitrasim.pathway.guide import SECTION_IDS, find_chromium, html_to_pdf, html_to_png, render_guide_html
from mitrasim.pathway.outcome import load_outcome, outcome_from_dict
from mitrasim.pathway.protocol import protocol_from_dict

CASE = {
    "eroa_before_cm2": 0.45,
    "eroa_after_cm2": 0.12,
    "mr_grade_before": "4+",
    "mr_grade_after": "1+",
    "mean_gradient_after_mmhg": 3.2,
    "mva_after_cm2": 2.4,
    "coaptation_length_mm": 32,
    "clips": [{"position_mm": 14, "width_mm": 4, "device": "NT"}, {"position_mm": 19.5, "width_mm": 6, "device": "NTW"}],
}

needs_chromium = pytest.mark.skipif(find_chromium() is None, reason="Debian's chromium is not installed (apt-get install chromium)")


def _html(lang: str = "en", protocol: dict | None = None, large_print: bool = False, **facts) -> str:
    plan = build_careplan(PatientFacts(procedure_date=dt.date(2026, 3, 27), lang=lang, **facts), protocol_from_dict(protocol))
    return render_guide_html(plan, large_print)


def _pdf_pages(pdf: bytes) -> int:
    """Page count: poppler's pdfinfo when present (WeasyPrint compresses its page objects), else the page objects."""
    import shutil
    import subprocess
    import tempfile

    if shutil.which("pdfinfo"):
        with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
            f.write(pdf)
            f.flush()
            info = subprocess.run(["pdfinfo", f.name], capture_output=True, text=True, check=True).stdout
        return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_html_has_every_section_and_picture(lang):
    html = _html(lang)
    for sid in SECTION_IDS:
        assert f'id="{sid}"' in html, sid
    assert html.count("<svg") == 3  # heart, leaking valve, clip
    assert "Undefined" not in html and "{{" not in html and "{%" not in html
    assert "@media print" in html and "@page" in html


def test_large_print_option_enlarges_the_type():
    normal, large = _html(), _html(large_print=True)
    size = lambda h: float(re.search(r"html \{ font-size: ([0-9.]+)px", h).group(1))  # noqa: E731
    assert size(large) >= 1.25 * size(normal) and 'class="large-print"' in large


def test_case_file_validation(tmp_path):
    f = tmp_path / "case.json"
    f.write_text('{"eroa_before_cm2": 0.4}', encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_outcome(f)
    assert e.value.field.startswith("case.")
    bad = dict(CASE, clips=[{"position_mm": 40, "width_mm": 4}])
    with pytest.raises(InputError):
        outcome_from_dict(bad)
    y = tmp_path / "case.yaml"
    y.write_text("eroa_before_cm2: 0.4\neroa_after_cm2: 0.1\nmr_grade_before: '3+'\nmr_grade_after: '1+'\n"
                 "mean_gradient_after_mmhg: 3\nmva_after_cm2: 2.5\ncoaptation_length_mm: 30\n"
                 "clips: [{position_mm: 15, width_mm: 4}]\n", encoding="utf-8")
    assert load_outcome(y).reduction_percent == pytest.approx(75.0)


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_screenshot_is_not_blank(tmp_path, lang):
    pil = pytest.importorskip("PIL.Image")
    html = tmp_path / "guide.html"
    html.write_text(_html(lang), encoding="utf-8")
    png = html_to_png(html, tmp_path / "guide.png", width=1000, height=2600)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    im = pil.open(png).convert("RGB")
    assert im.size == (1000, 2600)
    colours = im.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, figures, colours: not a blank page
    # the heading colour and the figures' colours are there
    px = set(c for _, c in colours)
    assert (0x8D, 0x1F, 0x1F) in px or any(abs(r - 0x8D) < 6 and g < 0x30 and b < 0x30 for r, g, b in px)


@pytest.mark.browser
@needs_chromium
def test_pdf_page_count_and_fill(tmp_path):
    """The printed guide: few pages, none of them half empty except the last (pdftotext per page)."""
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    for lang in ("en", "fr"):
        html = tmp_path / f"guide-{lang}.html"
        html.write_text(_html(lang, {"hospital_name": "H", "ward_phone": "01 99 00 12 34"}, dental_work_date=dt.date(2026, 6, 1)), encoding="utf-8")
        pdf = html_to_pdf(html, tmp_path / f"guide-{lang}.pdf")
        n = _pdf_pages(pdf.read_bytes())
        assert 5 <= n <= 9, (lang, n)
        lines = []
        for page in range(1, n + 1):
            out = subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
                                 capture_output=True, text=True, check=True).stdout
            lines.append(len([ln for ln in out.splitlines() if ln.strip()]))
        full = max(lines)
        # a page with a drawing holds fewer text lines: half of the fullest page is the floor for every page but the last
        assert all(x >= full * 0.4 for x in lines[:-1]), (lang, lines)


def _renderers() -> list[str]:
    from mitrasim.pathway import pdf

    out = []
    if find_chromium() is not None:
        out.append("chromium")
    if pdf._weasyprint_works():
        out.append("weasyprint")
    return out


@pytest.mark.browser
@pytest.mark.parametrize("renderer", ["chromium", "weasyprint"])
def test_draft_is_marked_on_every_pdf_page(tmp_path, renderer):
    import shutil
    import subprocess

    from mitrasim.pathway.pdf import render_pdf

    if renderer not in _renderers() or shutil.which("pdftotext") is None:
        pytest.skip(f"{renderer} or pdftotext is not available here")
    for lang, word in (("en", "DRAFT: not for patients. The hospital's phone number is missing."), ("fr", "BROUILLON")):
        html = tmp_path / f"draft-{lang}.html"
        html.write_text(_html(lang), encoding="utf-8")  # no hospital protocol: a draft
        pdf = render_pdf(html, tmp_path / f"draft-{lang}.pdf", renderer)
        n = _pdf_pages(pdf.read_bytes())
        assert 5 <= n <= 9, (renderer, lang, n)
        for page in range(1, n + 1):
            text = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(pdf), "-"],
                                  capture_output=True, text=True, check=True).stdout
            assert word in text.replace("’", "'"), (renderer, lang, page)
