"""The care plan as an iCalendar file (RFC 5545) for common calendar apps.

* All-day events use ``DTSTART;VALUE=DATE`` with an exclusive ``DTEND``.
* Timed events carry ``TZID`` of the protocol's zone (default ``Europe/Paris``,
  see :mod:`mitrasim.pathway.defaults`) and the matching ``VTIMEZONE`` is added,
  so times stay right across daylight-saving changes in any app.
* Every event has a stable ``UID`` (derived from the plan, so re-importing a plan
  updates instead of duplicating), a ``DTSTAMP`` in UTC and ``VALARM`` display
  reminders from the protocol.
"""

from __future__ import annotations

import datetime as dt
import uuid

import icalendar

from mitrasim.pathway.careplan import CarePlan, Event

__all__ = ["careplan_to_calendar", "careplan_to_ics", "event_uid"]

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
    rem = plan.protocol.reminders
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
        if e.all_day:
            ve.add_component(_alarm(dt.timedelta(hours=rem.all_day_hours_before), e.title))
        else:
            for h in rem.timed_hours_before:
                ve.add_component(_alarm(dt.timedelta(hours=h), e.title))
        cal.add_component(ve)
    first = min(e.first_day for e in plan.events) - dt.timedelta(days=366)
    last = max(e.last_day for e in plan.events) + dt.timedelta(days=366)
    cal.add_missing_timezones(first_date=first, last_date=last)
    return cal


def careplan_to_ics(plan: CarePlan, now: dt.datetime | None = None) -> bytes:
    """The plan serialised as iCalendar bytes (CRLF line ends, folded lines)."""
    return careplan_to_calendar(plan, now).to_ical()
