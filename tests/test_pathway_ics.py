"""The calendar file parses back with every event, reminders, UIDs and time zones."""

from __future__ import annotations

import datetime as dt

import icalendar

from mitrasim.pathway.careplan import PatientFacts, build_careplan
from mitrasim.pathway.ics import careplan_to_ics
from mitrasim.pathway.protocol import protocol_from_dict

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def _plan(**kw):
    proto = protocol_from_dict(kw.pop("protocol", None))
    return build_careplan(PatientFacts(procedure_date=dt.date(2025, 3, 30), dental_work_date=dt.date(2025, 12, 31), **kw), proto)


def test_ics_round_trip_every_event():
    plan = _plan(lang="fr")
    raw = careplan_to_ics(plan, NOW)
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    cal = icalendar.Calendar.from_ical(raw)
    events = cal.walk("VEVENT")
    assert len(events) == len(plan.events)
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == len(uids)
    for ve, e in zip(events, plan.events):
        assert str(ve["SUMMARY"]) == e.title
        assert str(ve["DESCRIPTION"]) == e.description
        assert ve["DTSTAMP"].dt == NOW
        start, end = ve["DTSTART"].dt, ve["DTEND"].dt
        assert start == e.start and end == e.end
        alarms = ve.walk("VALARM")
        assert alarms and all(a["ACTION"] == "DISPLAY" and a["TRIGGER"].dt < dt.timedelta(0) for a in alarms)
        if e.all_day:
            assert type(start) is dt.date and ve["DTSTART"].params.get("VALUE") == "DATE"
        else:
            assert ve["DTSTART"].params["TZID"] == "Europe/Paris"
            assert start.utcoffset() == e.start.utcoffset()
    assert [str(t["TZID"]) for t in cal.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert cal["VERSION"] == "2.0" and "PRODID" in cal


def test_dst_offsets_survive_the_round_trip():
    cal = icalendar.Calendar.from_ical(careplan_to_ics(_plan(), NOW))
    by_code = {}
    for ve in cal.walk("VEVENT"):
        by_code.setdefault(str(ve["CATEGORIES"].cats[1]), ve)
    fasting = by_code["fasting"]
    s, e = fasting["DTSTART"].dt, fasting["DTEND"].dt
    assert s.utcoffset() == dt.timedelta(hours=1) and e.utcoffset() == dt.timedelta(hours=2)
    assert e.astimezone(dt.timezone.utc) - s.astimezone(dt.timezone.utc) == dt.timedelta(hours=7, minutes=30)


def test_uids_are_stable_and_utc_zone_has_no_vtimezone():
    plan = _plan(protocol={"timezone": "UTC"})
    a, b = careplan_to_ics(plan, NOW), careplan_to_ics(plan, NOW)
    assert a == b
    cal = icalendar.Calendar.from_ical(a)
    assert not cal.walk("VTIMEZONE")
    timed = [ve for ve in cal.walk("VEVENT") if isinstance(ve["DTSTART"].dt, dt.datetime)]
    assert timed and all(ve["DTSTART"].dt.utcoffset() == dt.timedelta(0) for ve in timed)
    assert b"DTSTART:20250330T083000Z" in a


def test_reminders_follow_protocol():
    cal = icalendar.Calendar.from_ical(careplan_to_ics(_plan(protocol={"reminders": {"timed_hours_before": [48, 1], "all_day_hours_before": 6}}), NOW))
    for ve in cal.walk("VEVENT"):
        trig = sorted(-a["TRIGGER"].dt for a in ve.walk("VALARM"))
        if str(ve["CATEGORIES"].cats[1]) in ("fasting", "dental_after", "surgery_after"):
            continue  # their own reminders: tested in test_pathway_events
        if isinstance(ve["DTSTART"].dt, dt.datetime):
            assert trig == [dt.timedelta(hours=1), dt.timedelta(hours=48)]
        else:
            assert trig == [dt.timedelta(hours=6)]
