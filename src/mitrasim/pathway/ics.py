"""The care plan as an iCalendar file (RFC 5545) for common calendar apps.

* All-day events use ``DTSTART;VALUE=DATE`` with an exclusive ``DTEND``.
* Timed events carry ``TZID`` of the protocol's zone (default ``Europe/Paris``,
  see :mod:`mitrasim.pathway.defaults`) and the matching ``VTIMEZONE`` is added,
  so times stay right across daylight-saving changes in any app.  The VTIMEZONE is
  built here from the zone's transitions (one ``STANDARD``/``DAYLIGHT`` block per
  change): RFC 5545 §3.6.5 reads a block's ``DTSTART`` in the local time *before*
  the change (``TZOFFSETFROM``), so Europe/Paris springs forward at 02:00 and falls
  back at 03:00 (icalendar's own generator writes 03:00 for both).
* Reminders (``VALARM``) are the event's own (:attr:`Event.alarms`): the fasting
  reminder the evening before, dental care ``dental_reminder_days_before`` ahead.
* Every event has a stable ``UID`` (derived from the plan, so re-importing a plan
  updates instead of duplicating), a ``DTSTAMP`` in UTC and ``VALARM`` display
  reminders from the protocol.
"""

from __future__ import annotations

import datetime as dt
import uuid

from zoneinfo import ZoneInfo

import icalendar

from mitrasim.pathway.careplan import CarePlan, Event

__all__ = ["careplan_to_calendar", "careplan_to_ics", "event_uid", "vtimezone"]

_NAMESPACE = uuid.UUID("6f1c1b2e-3d0a-5b8e-9c55-2a7c0d3e4f10")


def event_uid(plan: CarePlan, event: Event, index: int) -> str:
    """A UID stable for the same plan and event, unique across plans."""
    key = f"{plan.facts.procedure_date.isoformat()}|{event.code}|{event.start.isoformat()}|{index}"
    return f"{uuid.uuid5(_NAMESPACE, key)}@mitrasim"


def _alarm(trigger: dt.timedelta, text: str) -> icalendar.Alarm:
    a = icalendar.Alarm()
    a.add("action", "DISPLAY")
    a.add("description", text)
    a.add("trigger", -trigger)
    return a


def careplan_to_calendar(plan: CarePlan, now: dt.datetime | None = None) -> icalendar.Calendar:
    """The plan as an :class:`icalendar.Calendar` (``now`` sets ``DTSTAMP``; default: the current UTC time)."""
    stamp = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).replace(microsecond=0)
    cal = icalendar.Calendar()
    cal.add("prodid", "-//mitrasim//care plan//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "mitrasim")
    cal.add("x-wr-timezone", plan.protocol.timezone)
    for i, e in enumerate(plan.events):
        ve = icalendar.Event()
        ve.add("uid", event_uid(plan, e, i))
        ve.add("dtstamp", stamp)
        ve.add("summary", e.title)
        ve.add("description", e.description)
        ve.add("dtstart", e.start)
        ve.add("dtend", e.end)
        ve.add("transp", "TRANSPARENT" if e.all_day else "OPAQUE")
        ve.add("categories", ["mitrasim", e.code])
        for before in e.alarms:
            ve.add_component(_alarm(before, e.title))
        cal.add_component(ve)
    if any(not e.all_day for e in plan.events) and plan.protocol.timezone != "UTC":
        first = min(e.first_day for e in plan.events) - dt.timedelta(days=366)
        last = max(e.last_day for e in plan.events) + dt.timedelta(days=366)
        cal.subcomponents.insert(0, vtimezone(plan.protocol.timezone, first, last))
    return cal


def _transitions(zone: ZoneInfo, first: dt.date, last: dt.date) -> list[dt.datetime]:
    """UTC instants in [first, last] where ``zone``'s UTC offset changes (to the minute)."""
    out: list[dt.datetime] = []
    t = dt.datetime.combine(first, dt.time(), dt.timezone.utc)
    end = dt.datetime.combine(last, dt.time(), dt.timezone.utc)
    step = dt.timedelta(days=1)
    while t < end:
        a, b = t.astimezone(zone).utcoffset(), (t + step).astimezone(zone).utcoffset()
        if a != b:  # bisect to the minute within the day
            lo, hi = t, t + step
            while hi - lo > dt.timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(second=0, microsecond=0)
                if mid <= lo:
                    break
                if mid.astimezone(zone).utcoffset() == a:
                    lo = mid
                else:
                    hi = mid
            out.append(hi)
        t += step
    return out


def vtimezone(tzid: str, first: dt.date, last: dt.date) -> icalendar.Timezone:
    """A VTIMEZONE for ``tzid`` valid from ``first`` to ``last``: one block per offset change (RFC 5545 §3.6.5)."""
    zone = ZoneInfo(tzid)
    tz = icalendar.Timezone()
    tz.add("tzid", tzid)
    start = dt.datetime.combine(first, dt.time(), dt.timezone.utc)
    changes = [start, *_transitions(zone, first, last)]
    for i, when in enumerate(changes):
        after = when.astimezone(zone)
        before = (when - dt.timedelta(minutes=1)).astimezone(zone) if i else after
        comp = icalendar.TimezoneDaylight() if after.dst() else icalendar.TimezoneStandard()
        offset_before = before.utcoffset() or dt.timedelta(0)
        local_before = (when + offset_before).replace(tzinfo=None)  # wall clock under TZOFFSETFROM
        comp.add("dtstart", local_before)
        comp.add("tzoffsetfrom", offset_before)
        comp.add("tzoffsetto", after.utcoffset())
        comp.add("tzname", after.tzname())
        tz.add_component(comp)
    return tz


def careplan_to_ics(plan: CarePlan, now: dt.datetime | None = None) -> bytes:
    """The plan serialised as iCalendar bytes (CRLF line ends, folded lines)."""
    return careplan_to_calendar(plan, now).to_ical()
