"""The patient's material carries no model numbers; indeterminate grades stay words; FHIR is valid R4."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pydantic
import pytest
from fhir.resources.R4B.bundle import Bundle

from mitrasim.pathway.careplan import PatientFacts, build_careplan
from mitrasim.pathway.export import PATIENT_FILES, write_careplan
from mitrasim.pathway.fhir import careplan_to_fhir
from mitrasim.pathway.outcome import grade_or_indeterminate, outcome_from_dict
from mitrasim.pathway.protocol import protocol_from_dict

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
HOSPITAL = {"hospital_name": "Example Heart Centre", "ward_phone": "01 99 00 12 34"}
CASE = {
    "eroa_before_cm2": 0.45, "eroa_after_cm2": 0.21, "mr_grade_before": "4+", "mr_grade_after": "3+",
    "mean_gradient_after_mmhg": 6.4, "mva_after_cm2": 1.7, "coaptation_length_mm": 32,
    "clips": [{"position_mm": 14, "width_mm": 4, "device": "NT"}],
}
#: What a model number looks like in any language: units of the simulation, an MR grade, a percentage.
MODEL_NUMBER = re.compile(r"cm²|cm2|mmHg|EROA|\b[0-4]\+|grade|\d\s?%|\bMVA\b|gradient", re.IGNORECASE)


def _visible_text(html: str) -> str:
    html = re.sub(r"<(style|script)[^>]*>.*?</\1>", "", html, flags=re.DOTALL)
    html = re.sub(r'<span class="ref" lang="en">.*?</span>', "", html, flags=re.DOTALL)  # bibliographic references
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_case_with_simulated_results_gives_a_guide_without_model_numbers(tmp_path, lang):
    plan = build_careplan(PatientFacts(procedure_date=dt.date(2027, 3, 15), lang=lang, dental_work_date=dt.date(2027, 6, 1)),
                          protocol_from_dict(HOSPITAL))
    out = write_careplan(plan, tmp_path, outcome_from_dict(CASE), pdf=None, now=NOW)
    names = {p.name for p in out}
    assert "clinician.html" in names
    clinician = (tmp_path / "clinician.html").read_text(encoding="utf-8")
    assert "cm²" in clinician and "mmHg" in clinician and "3+" in clinician  # the numbers are there, for the team
    for name in PATIENT_FILES:
        f = tmp_path / name
        if not f.exists():
            continue
        text = f.read_text(encoding="utf-8")
        if name.endswith(".html"):
            text = _visible_text(text)
        hits = MODEL_NUMBER.findall(text)
        assert not hits, (name, hits)


def test_the_model_number_check_can_fail():
    assert MODEL_NUMBER.search("Leak grade: 3+ after") and MODEL_NUMBER.search("0,21 cm²") and MODEL_NUMBER.search("6.4 mmHg")


@pytest.mark.parametrize("raw, kept", [
    ("3+", "3+"), ("4+", "4+"), ("0", "0"), ("2+ (moderate)", "2+"),
    ("indeterminate", "indeterminate"), ("indeterminate: discordant", "indeterminate"), ("", "indeterminate"),
    (None, "indeterminate"), ("2+/3+", "indeterminate"), ("moderate-severe", "indeterminate"),
])
def test_indeterminate_grade_is_never_a_number(raw, kept):
    assert grade_or_indeterminate(raw) == kept


def test_indeterminate_outcome_reaches_the_clinician_as_a_word(tmp_path):
    plan = build_careplan(PatientFacts(procedure_date=dt.date(2027, 3, 15)), protocol_from_dict(HOSPITAL))
    case = dict(CASE, mr_grade_after="indeterminate")
    write_careplan(plan, tmp_path, outcome_from_dict(case), pdf=None, now=NOW)
    html = (tmp_path / "clinician.html").read_text(encoding="utf-8")
    assert "<td>indeterminate</td>" in html


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("facts", [{}, {"anticoagulated": True, "dental_work_date": dt.date(2027, 5, 3), "surgery_date": dt.date(2027, 9, 1)}])
def test_fhir_bundle_is_valid_r4_and_matches_the_calendar_events(lang, facts):
    plan = build_careplan(PatientFacts(procedure_date=dt.date(2027, 3, 15), lang=lang, **facts), protocol_from_dict(HOSPITAL))
    doc = careplan_to_fhir(plan, NOW)
    bundle = Bundle.model_validate(json.loads(json.dumps(doc)))  # a JSON round trip, validated again
    cp = bundle.entry[0].resource
    assert cp.__resource_type__ == "CarePlan" and cp.status == "active" and cp.intent == "plan" and cp.language == lang
    assert len(cp.activity) == len(plan.events)
    by_url = {e.fullUrl: e.resource for e in bundle.entry[1:]}
    for act, ev in zip(cp.activity, plan.events):
        if ev.kind in ("appointment", "task"):
            res = by_url[act.reference.reference]
            assert res.__resource_type__ == ("Appointment" if ev.kind == "appointment" else "Task")
            if ev.kind == "appointment" and not ev.all_day:
                assert res.start == ev.start
        else:
            assert act.detail.description.startswith(ev.title)
            assert (act.detail.kind == "MedicationRequest") == (ev.kind == "medication")
    kinds = {e.resource.__resource_type__ for e in bundle.entry}
    assert {"CarePlan", "Appointment", "Task"} <= kinds


def test_fhir_draft_status_without_contact():
    plan = build_careplan(PatientFacts(procedure_date=dt.date(2027, 3, 15)))
    assert careplan_to_fhir(plan, NOW)["entry"][0]["resource"]["status"] == "draft"


def test_fhir_invalid_resource_is_refused(monkeypatch):
    """The validation is real: a CarePlan without its required status fails."""
    from mitrasim.pathway import fhir

    plan = build_careplan(PatientFacts(procedure_date=dt.date(2027, 3, 15)), protocol_from_dict(HOSPITAL))
    monkeypatch.setattr(fhir, "_detail", lambda e: {"description": e.title})  # CarePlan.activity.detail.status is 1..1
    with pytest.raises(pydantic.ValidationError):
        fhir.careplan_to_fhir(plan, NOW)


def test_patient_files_listed_without_the_clinicians():
    assert "clinician.html" not in PATIENT_FILES and "careplan.json" not in PATIENT_FILES
    assert Path("guide.html").name in PATIENT_FILES
