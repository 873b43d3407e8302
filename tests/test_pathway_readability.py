"""Readability of the English patient text (Flesch reading ease, Flesch–Kincaid grade)."""

from __future__ import annotations

import datetime as dt

import pytest

from mitrasim.pathway.careplan import PatientFacts, build_careplan
from mitrasim.pathway.guide import guide_readability
from mitrasim.pathway.readability import TARGET_FK_GRADE, count_syllables, readability, split_sentences


@pytest.mark.parametrize(
    "word, n",
    [("heart", 1), ("valve", 1), ("table", 2), ("leaked", 1), ("wanted", 2), ("pushes", 2), ("makes", 1),
     ("procedure", 3), ("regurgitation", 5), ("mitral", 2), ("the", 1), ("ultrasound", 3), ("don't", 1), ("2026", 1)],
)
def test_syllable_heuristic(word, n):
    assert count_syllables(word) == n


def test_known_values():
    r = readability("The cat sat on the mat. The dog ran.")
    assert (r.sentences, r.words, r.syllables) == (2, 9, 9)
    assert r.reading_ease == pytest.approx(206.835 - 1.015 * 4.5 - 84.6 * 1.0)
    assert r.fk_grade == pytest.approx(0.39 * 4.5 + 11.8 * 1.0 - 15.59)
    hard = readability("Transcatheter edge-to-edge repair necessitates comprehensive echocardiographic evaluation.")
    assert hard.fk_grade > 12


def test_sentences():
    assert split_sentences("One. Two? Three! 4.5 kg is fine.") == ["One", "Two", "Three", "4.5 kg is fine"]
    with pytest.raises(ValueError):
        readability("   ")


@pytest.mark.parametrize("anticoagulated", [False, True])
def test_patient_text_reads_at_leaflet_level(anticoagulated):
    plan = build_careplan(PatientFacts(procedure_date=dt.date(2026, 3, 2), anticoagulated=anticoagulated))
    r = guide_readability(plan)
    assert r.words > 400
    assert r.fk_grade <= TARGET_FK_GRADE
    assert r.reading_ease >= 60
