"""Accessibility of the patient's guide: language tags, heading order, text alternatives, large print,
and an axe-core audit in the browser (no serious or critical violation)."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest

from mitrasim.pathway.careplan import PatientFacts, build_careplan
from mitrasim.pathway.guide import find_chromium, render_guide_html
from mitrasim.pathway.protocol import protocol_from_dict

HOSPITAL = {"hospital_name": "Example Heart Centre", "ward_phone": "01 99 00 12 34", "out_of_hours_phone": "01 99 00 56 78"}


def _html(lang: str, large_print: bool = False, protocol: dict | None = HOSPITAL) -> str:
    plan = build_careplan(PatientFacts(procedure_date=dt.date(2027, 3, 1), lang=lang, anticoagulated=True,
                                       dental_work_date=dt.date(2027, 6, 1)), protocol_from_dict(protocol))
    return render_guide_html(plan, large_print)


class _Outline(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.svgs: list[dict[str, str | None]] = []
        self.svg_titles = 0
        self.html_lang: str | None = None
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "html":
            self.html_lang = a.get("lang")
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "svg":
            self.svgs.append(a)
        if tag == "title":
            self.svg_titles += 1


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_structure_language_headings_and_text_alternatives(lang):
    o = _Outline()
    o.feed(_html(lang))
    assert o.html_lang == lang
    assert o.headings[0] == 1 and o.headings.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(o.headings, o.headings[1:]))  # no level skipped
    assert o.svgs and all(s.get("role") == "img" and s.get("aria-label") for s in o.svgs)
    assert o.svg_titles >= len(o.svgs) + 1  # each drawing has a <title>, plus the page's
    assert len(o.ids) == len(set(o.ids))


def test_large_print_is_larger_on_screen_and_in_print():
    normal, large = _html("en"), _html("en", large_print=True)
    def screen(h: str) -> float:
        return float(re.search(r"html \{ font-size: ([\d.]+)px", h).group(1))

    def printed(h: str) -> float:
        return float(re.search(r"@media print \{\s*html \{ font-size: ([\d.]+)pt", h).group(1))

    assert screen(large) / screen(normal) >= 1.25 and printed(large) >= 16  # RNIB: large print is 16 pt or more


@pytest.mark.browser
@pytest.mark.skipif(find_chromium() is None, reason="Debian's chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("lang, variant", [("en", "hospital"), ("fr", "hospital"), ("en", "draft"), ("fr", "large")])
def test_axe_core_finds_no_serious_violation(tmp_path, lang, variant):
    sync_api = pytest.importorskip("playwright.sync_api")
    axe_mod = pytest.importorskip("axe_playwright_python.sync_playwright")
    html = _html(lang, large_print=variant == "large", protocol=None if variant == "draft" else HOSPITAL)
    page_file = tmp_path / "guide.html"
    page_file.write_text(html, encoding="utf-8")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844} if variant == "large" else None)
            page.goto(page_file.as_uri())
            result = axe_mod.Axe().run(page)
        finally:
            browser.close()
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result.response["violations"]
           if v["impact"] in ("serious", "critical")]
    assert bad == []
    assert result.response["passes"]  # the audit ran (colour contrast, lang, image alternatives ...)
    assert any(v["id"] == "color-contrast" for v in result.response["passes"])
