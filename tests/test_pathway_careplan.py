"""Care plan dates: month and year ends, leap years, daylight-saving changes, regimens, prophylaxis."""

from __future__ import annotations

import datetime as dt

import pytest

from mitrasim.errors import InputError
from mitrasim.pathway.careplan import PatientFacts, add_months, build_careplan, facts_from_dict
from mitrasim.pathway.protocol import protocol_from_dict

UTC = dt.timezone.utc


def plan(day: dt.date, **kw):
    proto = kw.pop("protocol", None)
    return build_careplan(PatientFacts(procedure_date=day, **kw), protocol_from_dict(proto))


@pytest.mark.parametrize(
    "day, months, expected",
    [
        (dt.date(2025, 1, 31), 1, dt.date(2025, 2, 28)),
        (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),
        (dt.date(2025, 8, 31), 6, dt.date(2026, 2, 28)),
        (dt.date(2025, 12, 31), 12, dt.date(2026, 12, 31)),
        (dt.date(2025, 11, 15), 3, dt.date(2026, 2, 15)),
        (dt.date(2024, 2, 29), 12, dt.date(2025, 2, 28)),
    ],
)
def test_add_months_clamps_to_month_end(day, months, expected):
    assert add_months(day, months) == expected


def test_year_end_procedure_crosses_into_new_year():
    p = plan(dt.date(2025, 12, 31))
    assert p.event("discharge").first_day == dt.date(2026, 1, 1)
    assert p.event("admission").first_day == dt.date(2025, 12, 30)
    assert p.event("hospital_stay").first_day == dt.date(2025, 12, 30)
    assert p.event("hospital_stay").last_day == dt.date(2026, 1, 1)
    assert p.event("no_lifting").last_day == dt.date(2026, 1, 5)  # 5 days from discharge
    assert p.event("antiplatelet").last_day == dt.date(2026, 6, 30)
    assert p.event("medicine_review").first_day == dt.date(2026, 6, 30)
    echo = [e.first_day for e in p.events if e.code == "echo"]
    assert echo[:3] == [dt.date(2026, 1, 30), dt.date(2026, 6, 30), dt.date(2026, 12, 31)]


def test_month_end_procedure():
    p = plan(dt.date(2025, 1, 31))
    assert p.event("prep_visit").first_day == dt.date(2025, 1, 17)
    assert p.event("no_bath").first_day == dt.date(2025, 1, 31)
    assert p.event("no_bath").last_day == dt.date(2025, 2, 3)  # 4 days
    assert p.event("antiplatelet").last_day == dt.date(2025, 7, 31)
    assert p.event("recovery").first_day == dt.date(2025, 3, 2)


def test_spring_forward_day_keeps_wall_times_and_real_durations():
    # 30 March 2025: clocks in Paris go from 02:00 to 03:00.
    p = plan(dt.date(2025, 3, 30))
    fasting, proc = p.event("fasting"), p.event("procedure")
    assert fasting.start.hour == 0 and fasting.start.utcoffset() == dt.timedelta(hours=1)
    assert proc.start.hour == 8 and proc.start.minute == 30 and proc.start.utcoffset() == dt.timedelta(hours=2)
    assert fasting.end.astimezone(UTC) - fasting.start.astimezone(UTC) == dt.timedelta(hours=7, minutes=30)
    assert proc.end.astimezone(UTC) - proc.start.astimezone(UTC) == dt.timedelta(hours=3)


def test_fall_back_day():
    # 26 October 2025: clocks in Paris go from 03:00 back to 02:00.
    p = plan(dt.date(2025, 10, 26))
    fasting = p.event("fasting")
    assert fasting.end.astimezone(UTC) - fasting.start.astimezone(UTC) == dt.timedelta(hours=9, minutes=30)
    adm = p.event("admission")
    assert adm.start.utcoffset() == dt.timedelta(hours=2)  # 25 Oct is still summer time


def test_fasting_from_evening_starts_the_day_before():
    p = plan(dt.date(2025, 6, 10), protocol={"fasting_from": "22:00"})
    f = p.event("fasting")
    assert f.start.date() == dt.date(2025, 6, 9) and f.start.hour == 22
    assert "10:00" in f.description or "22:00" in f.description


def test_events_sorted_and_timed_events_aware():
    p = plan(dt.date(2026, 5, 4))
    days = [e.first_day for e in p.events]
    assert days == sorted(days)
    for e in p.events:
        if not e.all_day:
            assert e.start.tzinfo is not None and e.end > e.start
        else:
            assert isinstance(e.start, dt.date) and not isinstance(e.start, dt.datetime) and e.end > e.start
        assert e.title and e.description and "{" not in e.title + e.description


def test_anticoagulated_patient_keeps_anticoagulant():
    p = plan(dt.date(2026, 5, 4), anticoagulated=True)
    codes = {e.code for e in p.events}
    assert "anticoagulant" in codes and "antiplatelet" not in codes and "medicine_review" not in codes
    p2 = plan(dt.date(2026, 5, 4), anticoagulated=True, protocol={"antithrombotic": {"anticoagulated_antiplatelet_months": 3}})
    assert p2.event("anticoagulant_antiplatelet").last_day == dt.date(2026, 8, 4)
    assert p2.event("medicine_review").first_day == dt.date(2026, 8, 4)


def test_dual_antiplatelet_protocol():
    p = plan(dt.date(2026, 5, 4), protocol={"antithrombotic": {"dual_antiplatelet_months": 1, "antiplatelet_months": 12}})
    assert p.event("dual_antiplatelet").last_day == dt.date(2026, 6, 4)
    assert p.event("antiplatelet").last_day == dt.date(2027, 5, 4)


def test_dental_and_surgery_prophylaxis_with_sources():
    p = plan(dt.date(2026, 5, 4), dental_work_date=dt.date(2026, 9, 1), surgery_date=dt.date(2026, 4, 1))
    dental, surgery = p.event("dental_after"), p.event("surgery_before")
    assert dental.first_day == dt.date(2026, 9, 1)
    assert "wilson2021_aha_ie" in dental.sources and "delgado2023_esc_ie" in dental.sources
    assert "antibiotic" in dental.description
    assert surgery.first_day == dt.date(2026, 4, 1)
    assert "wilson2021_aha_ie" in p.sources


def test_echo_followup_deduplicates_dates():
    p = plan(dt.date(2026, 1, 15), protocol={"echo": {"after_months": [6, 12], "yearly_for_years": 2}})
    echo = [e.first_day for e in p.events if e.code == "echo"]
    # 14 Feb 2026 and 15 Jan 2028 are Saturdays: the default weekend rule moves them to the Monday after
    assert echo == [dt.date(2026, 2, 16), dt.date(2026, 7, 15), dt.date(2027, 1, 15), dt.date(2028, 1, 17)]


def test_same_day_admission_after_procedure_time_is_an_error():
    with pytest.raises(InputError) as e:
        plan(dt.date(2026, 1, 15), protocol={"admission_days_before": 0, "admission_time": "10:00"})
    assert e.value.field == "protocol.admission_time"


def test_utc_zone():
    p = plan(dt.date(2026, 3, 29), protocol={"timezone": "UTC"})
    assert p.event("procedure").start.utcoffset() == dt.timedelta(0)


def test_bad_facts():
    with pytest.raises(InputError) as e:
        facts_from_dict({"procedure_date": "2026-02-30"})
    assert e.value.field == "procedure_date"
    with pytest.raises(InputError):
        facts_from_dict({"procedure_date": "2026-02-03", "lang": "de"})


def test_plan_json_is_deterministic():
    a = plan(dt.date(2026, 3, 29)).to_dict()
    b = plan(dt.date(2026, 3, 29)).to_dict()
    assert a == b and a["sources"] and a["warning_signs"]
