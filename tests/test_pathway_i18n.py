"""Both languages are complete: every message translated, placeholders kept, dates per locale."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from mitrasim.pathway import texts
from mitrasim.pathway.catalogs import extract, missing, placeholder_mismatches
from mitrasim.pathway.careplan import PatientFacts, build_careplan
from mitrasim.pathway.guide import render_guide_html
from mitrasim.pathway.i18n import LANGUAGES, catalog, format_date, format_number, translator

#: Words that are the same in French and English.
SAME_IN_FRENCH = {"Sources", "Date", "clip"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_translated(lang):
    assert missing(lang) == []
    assert placeholder_mismatches(lang) == []


def test_catalogue_has_no_stale_messages():
    extracted = {m.id for m in extract() if m.id}
    assert extracted == set(texts.all_messages())
    for lang in LANGUAGES:
        assert {m.id for m in catalog(lang) if m.id} == extracted


def test_french_is_really_french():
    same = [m.id for m in catalog("fr") if m.id and m.string == m.id]
    assert set(same) <= SAME_IN_FRENCH


def test_dates_and_numbers_per_locale():
    d = dt.date(2026, 12, 31)
    assert format_date(d, "fr") == "jeudi 31 décembre 2026"
    assert format_date(d, "en") == "Thursday, December 31, 2026"
    assert format_number(4.5, "fr") == "4,5" and format_number(4.5, "en") == "4.5"


def test_translator_fills_placeholders():
    _ = translator("fr")
    assert _(texts.WHEN["months"], n=6) == "6\u00a0mois"  # a number and its noun never split across lines


def test_french_guide_has_no_english_sentences():
    plan = build_careplan(PatientFacts(procedure_date=dt.date(2026, 2, 27), lang="fr", dental_work_date=dt.date(2026, 5, 1)))
    html = render_guide_html(plan)
    for msg in texts.all_messages():
        if len(msg) > 12 and "{" not in msg and msg not in SAME_IN_FRENCH:
            assert msg not in html, msg
    assert "vendredi 27 février 2026" in html.replace("\u00a0", " ")
    assert 'lang="fr"' in html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_placeholder_left_in_outputs(lang):
    plan = build_careplan(PatientFacts(procedure_date=dt.date(2026, 2, 27), lang=lang, anticoagulated=True))
    html = render_guide_html(plan)
    assert not re.search(r"\{[a-z_]+\}", html)
    for e in plan.events:
        assert "{" not in e.title and "{" not in e.description
