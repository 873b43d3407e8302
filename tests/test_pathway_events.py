"""The events' own fixes: fasting wording and reminder, weekend appointments, dental lead time,
the anticoagulant title, French « 1er » and typography, the VTIMEZONE's DST rules."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import icalendar
import pytest

from mitrasim.pathway.careplan import PatientFacts, build_careplan, weekday_rule
from mitrasim.pathway.guide import render_guide_html
from mitrasim.pathway.i18n import NBSP, format_date
from mitrasim.pathway.ics import careplan_to_ics, vtimezone
from mitrasim.pathway.protocol import protocol_from_dict

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
PARIS = ZoneInfo("Europe/Paris")


def _plan(day: dt.date, lang: str = "en", protocol: dict | None = None, **kw):
    return build_careplan(PatientFacts(procedure_date=day, lang=lang, **kw), protocol_from_dict(protocol))


def _alarm_times(ve) -> list[dt.datetime]:
    start = ve["DTSTART"].dt
    if not isinstance(start, dt.datetime):
        start = dt.datetime.combine(start, dt.time(), PARIS)  # an all-day event starts at local midnight
    return sorted(start + a["TRIGGER"].dt for a in ve.walk("VALARM"))


def test_fasting_from_midnight_names_the_night_and_reminds_the_evening_before():
    p = _plan(dt.date(2027, 3, 15))  # a Monday
    e = p.event("fasting")
    assert e.start == dt.datetime(2027, 3, 15, 0, 0, tzinfo=PARIS)
    assert "12:00" not in e.when and "AM" not in e.when  # never "12:00 AM", which reads as Monday night
    assert "midnight" in e.when and "Sunday, March 14, 2027" in e.when and "Monday, March 15, 2027" in e.when
    assert "Sunday, March 14, 2027" in e.description
    cal = icalendar.Calendar.from_ical(careplan_to_ics(p, NOW))
    ve = next(v for v in cal.walk("VEVENT") if v["CATEGORIES"].cats[1] == "fasting")
    (alarm,) = _alarm_times(ve)
    assert alarm.astimezone(PARIS) == dt.datetime(2027, 3, 14, 18, 0, tzinfo=PARIS)  # the evening before, not 2 nights before


def test_fasting_reminder_is_before_the_fast_for_an_evening_fast():
    p = _plan(dt.date(2027, 3, 15), protocol={"fasting_from": "17:00"})
    e = p.event("fasting")
    assert e.start == dt.datetime(2027, 3, 14, 17, 0, tzinfo=PARIS)
    assert e.start - e.alarms[0] < e.start and (e.start - e.alarms[0]).date() == dt.date(2027, 3, 13)


def test_french_fasting_and_times_read_naturally():
    e = _plan(dt.date(2027, 3, 1), "fr").event("fasting")
    assert e.when.replace(NBSP, " ") == "À partir de minuit, dans la nuit du dimanche 28 février 2027 au lundi 1er mars 2027"
    assert _plan(dt.date(2027, 3, 1), "fr").event("procedure").when.endswith(f"à 8{NBSP}h{NBSP}30")


@pytest.mark.parametrize("rule, expected", [
    ("next_weekday", dt.date(2027, 3, 8)), ("previous_weekday", dt.date(2027, 3, 5)), ("allowed", dt.date(2027, 3, 6)),
])
def test_weekday_rule(rule, expected):
    assert weekday_rule(dt.date(2027, 3, 6), rule) == expected  # a Saturday
    assert weekday_rule(dt.date(2027, 3, 7), rule) == (expected + dt.timedelta(days=1) if rule == "allowed" else expected)
    assert weekday_rule(dt.date(2027, 3, 3), rule) == dt.date(2027, 3, 3)


def test_no_appointment_on_a_weekend_by_default():
    # procedure on a Saturday-anniversary date: yearly echoes on 4 Mar 2028 (Sat) and 4 Mar 2029 (Sun) would fall on weekends
    p = _plan(dt.date(2027, 3, 4))
    appts = [e for e in p.events if e.code in ("echo", "prep_visit", "medicine_review")]
    assert len([e for e in appts if e.code == "echo"]) == 7
    assert all(e.first_day.weekday() < 5 for e in appts), [(e.code, e.first_day) for e in appts]
    allowed = _plan(dt.date(2027, 3, 4), protocol={"weekend_appointments": "allowed"})
    assert any(e.first_day.weekday() >= 5 for e in allowed.events if e.code == "echo")


@pytest.mark.parametrize("lead", [7, 14, 21])
def test_dental_reminder_fires_lead_days_before(lead):
    dental = dt.date(2027, 6, 10)
    p = _plan(dt.date(2027, 3, 1), protocol={"dental_reminder_days_before": lead}, dental_work_date=dental)
    cal = icalendar.Calendar.from_ical(careplan_to_ics(p, NOW))
    ve = next(v for v in cal.walk("VEVENT") if v["CATEGORIES"].cats[1] == "dental_after")
    first = _alarm_times(ve)[0]
    assert first.date() == dental - dt.timedelta(days=lead)
    assert f"{lead} days" in str(ve["DESCRIPTION"])


def test_anticoagulant_title_agrees_with_its_text():
    e = _plan(dt.date(2027, 3, 1), anticoagulated=True).event("anticoagulant")
    assert "Keep taking" not in e.title and "Restart" in e.title and "again" in e.description


@pytest.mark.parametrize("day, text", [
    (dt.date(2027, 3, 1), "lundi 1er mars 2027"), (dt.date(2027, 1, 1), "vendredi 1er janvier 2027"),
    (dt.date(2027, 3, 11), "jeudi 11 mars 2027"), (dt.date(2027, 3, 21), "dimanche 21 mars 2027"),
])
def test_french_first_of_the_month(day, text):
    assert format_date(day, "fr") == text


def test_french_guide_typography():
    html = render_guide_html(_plan(dt.date(2027, 3, 1), "fr", protocol={"hospital_name": "CHU", "ward_phone": "01 99 00 12 34"}))
    body = re.sub(r"<style>.*?</style>", "", html, flags=re.DOTALL)
    body = re.sub(r'<span class="ref" lang="en">.*?</span>', "", body, flags=re.DOTALL)  # references keep their own language
    text = re.sub(r"<[^>]+>", " ", body)
    text = re.sub(r"https?://\S+", "", text)
    assert not re.search(r" [:;!?](\s|$)", text)  # ordinary space before : ; ! ?
    assert not re.search(r"\w[:;!?](\s|$)", text.replace("http", ""))  # and never glued either
    assert "lundi 1er mars 2027" in text.replace(NBSP, " ")
    assert " 1 mars" not in text.replace(NBSP, " ")


def test_vtimezone_dst_rules_start_at_0200_and_0300():
    tz = vtimezone("Europe/Paris", dt.date(2026, 1, 1), dt.date(2028, 1, 1))
    blocks = [(c.name, c["DTSTART"].dt, c["TZOFFSETFROM"].td, c["TZOFFSETTO"].td) for c in tz.subcomponents]
    daylight = [b for b in blocks if b[0] == "DAYLIGHT" and b[2] != b[3]]
    standard = [b for b in blocks if b[0] == "STANDARD" and b[2] != b[3]]
    assert [d[1] for d in daylight] == [dt.datetime(2026, 3, 29, 2, 0), dt.datetime(2027, 3, 28, 2, 0)]
    assert [s[1] for s in standard] == [dt.datetime(2026, 10, 25, 3, 0), dt.datetime(2027, 10, 31, 3, 0)]


@pytest.mark.parametrize("zone, spring, autumn", [
    ("America/Montreal", dt.datetime(2027, 3, 14, 2, 0), dt.datetime(2027, 11, 7, 2, 0)),
    ("Europe/London", dt.datetime(2027, 3, 28, 1, 0), dt.datetime(2027, 10, 31, 2, 0)),
])
def test_vtimezone_other_zones(zone, spring, autumn):
    tz = vtimezone(zone, dt.date(2027, 1, 1), dt.date(2028, 1, 1))
    starts = {c.name: c["DTSTART"].dt for c in tz.subcomponents if c["TZOFFSETFROM"].td != c["TZOFFSETTO"].td}
    assert starts == {"DAYLIGHT": spring, "STANDARD": autumn}


@pytest.mark.parametrize("day", [
    dt.date(2027, 3, 28),   # spring forward (Europe/Paris): the night of 27-28 March
    dt.date(2027, 10, 31),  # fall back
    dt.date(2027, 4, 30),   # month end
    dt.date(2027, 12, 31),  # year end
    dt.date(2028, 1, 1),    # year start (admission the year before)
])
def test_calendar_round_trip_across_dst_month_and_year_ends(day):
    p = _plan(day, protocol={"admission_days_before": 1})
    cal = icalendar.Calendar.from_ical(careplan_to_ics(p, NOW))
    events = cal.walk("VEVENT")
    assert len(events) == len(p.events)
    for ve, e in zip(events, p.events):
        s, t = ve["DTSTART"].dt, ve["DTEND"].dt
        assert s == e.start and t == e.end and t > s
        if isinstance(s, dt.datetime):
            assert s.utcoffset() == s.astimezone(PARIS).utcoffset()  # the wall time maps to the right offset
            for a in _alarm_times(ve):
                assert a < s
    proc = next(ve for ve in events if ve["CATEGORIES"].cats[1] == "procedure")["DTSTART"].dt
    assert (proc.hour, proc.minute) == (8, 30) and proc.date() == day
    adm = next(ve for ve in events if ve["CATEGORIES"].cats[1] == "admission")["DTSTART"].dt
    assert adm.date() == day - dt.timedelta(days=1) and (adm.hour, adm.minute) == (14, 0)
    # the calendar's VTIMEZONE gives the same UTC instants as zoneinfo
    (tz,) = cal.walk("VTIMEZONE")
    changes = sorted(c["DTSTART"].dt - c["TZOFFSETFROM"].td for c in tz.subcomponents if c["TZOFFSETFROM"].td != c["TZOFFSETTO"].td)
    for ch in changes:
        utc = ch.replace(tzinfo=dt.UTC)
        assert (utc - dt.timedelta(minutes=1)).astimezone(PARIS).utcoffset() != (utc + dt.timedelta(minutes=1)).astimezone(PARIS).utcoffset()


@pytest.mark.parametrize("raw, typeset", [
    ("Urgence : appelez le 15", f"Urgence{NBSP}: appelez le 15"),
    ("Y a-t-il des risques ?", "Y a-t-il des risques\u202f?"),
    ("Attention !", "Attention\u202f!"),
    ("oui ; non", "oui\u202f; non"),
    ("« Qui appeler »", f"«{NBSP}Qui appeler{NBSP}»"),
    ("4,5 kg pendant 5 jours", f"4,5{NBSP}kg pendant 5{NBSP}jours"),
    ("https://www.example.org", "https://www.example.org"),  # a URL's colon is not punctuation
])
def test_french_typography_rules(raw, typeset):
    from mitrasim.pathway.i18n import french_typography

    assert french_typography(raw) == typeset
    assert french_typography(typeset) == typeset  # idempotent: the catalogue can hold typeset text
