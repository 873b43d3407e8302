"""The care plan: a dated timeline of what happens to the patient, and when.

:func:`build_careplan` turns a procedure date, a few facts about the patient and
a hospital :class:`~mitrasim.pathway.protocol.Protocol` into a :class:`CarePlan`:
events with dates (all-day) or times (time-zone aware), plain-language titles and
instructions in the patient's language, and the sources behind them.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from mitrasim import citations
from mitrasim.errors import InputError, validate_model
from mitrasim.pathway import texts
from mitrasim.pathway.i18n import check_lang, format_date, format_datetime_range, format_list, format_number, format_time, translator
from mitrasim.pathway.protocol import Protocol
from mitrasim.ranges import CARE_DATES

__all__ = ["PatientFacts", "Event", "EventKind", "EVENT_KINDS", "WarningSign", "CarePlan", "add_months", "build_careplan", "facts_from_dict", "weekday_rule"]


class PatientFacts(BaseModel):
    """What the plan needs to know about the patient."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    procedure_date: dt.date
    anticoagulated: bool = False
    dental_work_date: dt.date | None = None
    surgery_date: dt.date | None = None
    lang: Literal["en", "fr"] = "en"

    @field_validator("procedure_date", "dental_work_date", "surgery_date")
    @classmethod
    def _date_in_range(cls, v: dt.date | None, info: ValidationInfo) -> dt.date | None:
        return CARE_DATES.check(v, info.field_name or "date")


def facts_from_dict(data: dict[str, Any]) -> PatientFacts:
    """Validate patient facts; raise :class:`InputError` naming the first bad field."""
    return validate_model(PatientFacts, data)


#: What an event is for the patient (and the FHIR resource it becomes, see :mod:`mitrasim.pathway.fhir`).
EventKind = Literal["appointment", "task", "medication", "info"]

#: The kind of each event code.
EVENT_KINDS: dict[str, EventKind] = {
    "prep_visit": "appointment", "admission": "appointment", "procedure": "appointment", "echo_discharge": "appointment",
    "echo": "appointment", "medicine_review": "appointment",
    "fasting": "task", "no_bath": "task", "no_lifting": "task", "no_driving": "task",
    "dental_after": "task", "dental_before": "task", "surgery_after": "task", "surgery_before": "task",
    "antiplatelet": "medication", "dual_antiplatelet": "medication", "anticoagulant": "medication",
    "anticoagulant_antiplatelet": "medication",
    "hospital_stay": "info", "discharge": "info", "recovery": "info",
}

#: Event codes that are appointments a hospital books on weekdays (``weekend_appointments`` applies).
WEEKDAY_CODES: frozenset[str] = frozenset({"prep_visit", "echo", "medicine_review"})


@dataclass(frozen=True)
class Event:
    """One event of the plan.

    All-day events have ``date`` values and an exclusive ``end`` (as in iCalendar);
    timed events have time-zone-aware ``datetime`` values.
    """

    code: str
    title: str
    description: str
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime
    all_day: bool
    sources: tuple[str, ...] = ()
    kind: EventKind = "info"
    alarms: tuple[dt.timedelta, ...] = ()
    when: str = ""

    @property
    def first_day(self) -> dt.date:
        """The calendar day the event starts on."""
        return self.start.date() if isinstance(self.start, dt.datetime) else self.start

    @property
    def last_day(self) -> dt.date:
        """The last calendar day the event covers (inclusive)."""
        if self.all_day:
            return self.end - dt.timedelta(days=1)  # type: ignore[operator]
        return self.end.date()  # type: ignore[union-attr]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (ISO dates and times)."""
        return {
            "code": self.code,
            "title": self.title,
            "description": self.description,
            "all_day": self.all_day,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "when": self.when,
            "kind": self.kind,
            "reminders_before_s": [int(a.total_seconds()) for a in self.alarms],
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class WarningSign:
    """A sign to watch for and what to do about it (translated)."""

    sign: str
    action: str


@dataclass
class CarePlan:
    """A patient's plan: facts, protocol, events (sorted) and warning signs, in one language."""

    facts: PatientFacts
    protocol: Protocol
    events: list[Event]
    warning_signs: list[WarningSign]
    fast: list[tuple[str, str]]
    sources: list[str] = field(default_factory=list)

    @property
    def lang(self) -> str:
        return self.facts.lang

    @property
    def is_draft(self) -> bool:
        """A plan whose protocol gives no hospital name and ward telephone number is a draft."""
        return not self.protocol.has_contact

    def event(self, code: str) -> Event:
        """The first event with ``code`` (KeyError if none)."""
        for e in self.events:
            if e.code == code:
                return e
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the whole plan (stable keys; no creation time, so it is deterministic)."""
        return {
            "mitrasim": "careplan/2",
            "draft": self.is_draft,
            "disclaimer": "Research and education only; not a medical device.",
            "facts": self.facts.model_dump(mode="json"),
            "protocol": self.protocol.model_dump(mode="json"),
            "events": [e.to_dict() for e in self.events],
            "warning_signs": [{"sign": w.sign, "action": w.action} for w in self.warning_signs],
            "sources": [{"key": k, "text": citations.get(k).format()} for k in self.sources],
        }


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months, clamped to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def weekday_rule(day: dt.date, rule: str) -> dt.date:
    """Move a weekend ``day`` per the hospital's ``weekend_appointments`` rule (weekdays stay)."""
    if rule == "allowed" or day.weekday() < 5:
        return day
    if rule == "next_weekday":
        return day + dt.timedelta(days=7 - day.weekday())
    return day - dt.timedelta(days=day.weekday() - 4)


def _evening_before(start: dt.datetime, t: dt.time, proto: Protocol) -> dt.datetime:
    """The last wall-clock time ``t`` strictly before ``start`` (the fasting reminder)."""
    cand = _at(start.date(), t, proto)
    return cand if cand < start else _at(start.date() - dt.timedelta(days=1), t, proto)


def _at(day: dt.date, t: dt.time, proto: Protocol) -> dt.datetime:
    """Wall-clock ``day t`` in the protocol zone, normalised through UTC (valid across DST changes)."""
    local = dt.datetime.combine(day, t, tzinfo=proto.zone)
    return local.astimezone(dt.timezone.utc).astimezone(proto.zone)


def _plus_hours(start: dt.datetime, hours: float) -> dt.datetime:
    """Elapsed-time addition (not wall-clock): correct across a DST change."""
    return (start.astimezone(dt.timezone.utc) + dt.timedelta(hours=hours)).astimezone(start.tzinfo)


def _src(*keys: str) -> tuple[str, ...]:
    return citations.cite(*keys)


@dataclass
class _Builder:
    """Collects the plan's events: translation, kinds, default reminders and the display date in one place."""

    facts: PatientFacts
    proto: Protocol
    events: list[Event] = field(default_factory=list)

    @property
    def lang(self) -> str:
        return self.facts.lang

    def allday(self, code: str, first: dt.date, n_days: int = 1, src: tuple[str, ...] = (),
               alarms: tuple[dt.timedelta, ...] | None = None, text: str | None = None, **fields: object) -> None:
        """Add an all-day event of ``n_days`` days starting ``first`` (weekday rule applied to appointments)."""
        _ = translator(self.lang)
        if code in WEEKDAY_CODES:
            first = weekday_rule(first, self.proto.weekend_appointments)
        last = first + dt.timedelta(days=n_days - 1)
        title, desc = texts.EVENT_TEXT[text or code]
        when = format_date(first, self.lang, "full") if n_days == 1 else format_datetime_range(first, last, self.lang)
        if alarms is None:
            alarms = (dt.timedelta(hours=self.proto.reminders.all_day_hours_before),)
        self.events.append(Event(code, _(title, **fields), _(desc, **fields), first, last + dt.timedelta(days=1), True,
                                 src, EVENT_KINDS[code], alarms, when))

    def timed(self, code: str, start: dt.datetime, end: dt.datetime, src: tuple[str, ...] = (), text: str | None = None,
              alarms: tuple[dt.timedelta, ...] | None = None, when: str | None = None, **fields: object) -> None:
        """Add a timed event (reminders from the protocol unless given)."""
        _ = translator(self.lang)
        title, desc = texts.EVENT_TEXT[text or code]
        if alarms is None:
            alarms = tuple(dt.timedelta(hours=h) for h in self.proto.reminders.timed_hours_before)
        if when is None:
            when = _(texts.UI["date_at_time"], date=format_date(start.date(), self.lang, "full"),
                     time=format_time(start.timetz().replace(tzinfo=None), self.lang))
        self.events.append(Event(code, _(title, **fields), _(desc, **fields), start, end, False, src,
                                 EVENT_KINDS[code], alarms, when))


def build_careplan(facts: PatientFacts, protocol: Protocol | None = None) -> CarePlan:
    """Build the dated care plan for ``facts`` under ``protocol`` (defaults if ``None``)."""
    p = protocol or Protocol()
    lang = check_lang(facts.lang)
    _ = translator(lang)
    b = _Builder(facts, p)
    _hospital_days(b)
    _medicines(b)
    _echo_followup(b)
    _prophylaxis(b)
    ev = b.events
    ev.sort(key=lambda e: (e.first_day, 0 if e.all_day else 1, e.start if not e.all_day else dt.datetime.min.replace(tzinfo=dt.timezone.utc)))  # stable: same-day order as built
    emergency = format_list(p.emergency, lang)
    signs = [WarningSign(_(s), _(a, emergency=emergency)) for s, a in texts.WARNING_SIGNS]
    fast = [(_(letter), _(t, emergency=emergency)) for letter, t in texts.FAST]
    keys = list(dict.fromkeys(k for e in ev for k in e.sources))
    return CarePlan(facts, p, ev, signs, fast, keys)


def _hospital_days(b: _Builder) -> None:
    """Preparation visit, admission, fasting, the procedure, the stay and the first days at home."""
    p, lang, day0, one = b.proto, b.lang, b.facts.procedure_date, dt.timedelta(days=1)
    _ = translator(lang)
    guide, hosp = _src("mitrasim_patient_seed"), _src("hospital_protocol")
    b.allday("prep_visit", day0 - p.preparation_visit_days_before * one, src=guide + hosp)

    admit_day = day0 - p.admission_days_before * one
    admit = _at(admit_day, p.admission_time, p)
    proc = _at(day0, p.procedure_time, p)
    if admit >= proc:
        raise InputError("protocol.admission_time", p.admission_time.isoformat(timespec="minutes"),
                         f"before the procedure time {p.procedure_time.isoformat(timespec='minutes')} when admitted the same day")
    b.timed("admission", admit, _plus_hours(admit, 1.0), src=hosp)
    discharge = day0 + p.discharge_days_after * one
    nights = (discharge - admit_day).days
    b.allday("hospital_stay", admit_day, nights + 1, src=_src("mitrasim_patient_seed", "sorajja2017_tvt"), nights=nights)

    fast_day = day0 if p.fasting_from < p.procedure_time else day0 - one
    fast_start = _at(fast_day, p.fasting_from, p)
    remind = fast_start - _evening_before(fast_start, p.fasting_reminder_time, p)
    if p.fasting_from == dt.time(0, 0):
        night = _(texts.UI["night_of"], first=format_date(fast_day - one, lang, "full"), second=format_date(fast_day, lang, "full"))
        b.timed("fasting", fast_start, proc, src=guide + hosp, text="fasting_midnight", alarms=(remind,),
                when=_(texts.UI["from_midnight_night_of"], night=night), evening=format_date(fast_day - one, lang, "full"))
    else:
        b.timed("fasting", fast_start, proc, src=guide + hosp, alarms=(remind,),
                time=format_time(p.fasting_from, lang), date=format_date(fast_day, lang, "full"))
    b.timed("procedure", proc, _plus_hours(proc, p.procedure_duration_hours),
            src=_src("mitrasim_patient_seed", "ottawa_mitraclip_guide"), hours=format_number(p.legs_straight_hours, lang))
    b.allday("no_driving", day0, p.no_driving_days, src=_src("rcoa_after_ga", "hospital_protocol"), days=p.no_driving_days)
    if p.echo.before_discharge:
        b.allday("echo_discharge", max(discharge, day0 + one) if p.discharge_days_after else day0,
                 src=_src("mitrasim_patient_seed", "ottawa_mitraclip_guide"))
    b.allday("discharge", discharge, src=_src("mitrasim_patient_seed", "sorajja2017_tvt"))
    if p.no_bath_days:
        b.allday("no_bath", day0, p.no_bath_days, src=guide, days=p.no_bath_days)
    if p.no_heavy_lifting_days:
        b.allday("no_lifting", discharge, p.no_heavy_lifting_days, src=_src("ottawa_mitraclip_guide"),
                 kg=format_number(p.heavy_lifting_limit_kg, lang))
    if p.full_recovery_days:
        b.allday("recovery", day0 + p.full_recovery_days * one, src=_src("ottawa_mitraclip_guide"))


def _medicines(b: _Builder) -> None:
    """Antithrombotic events: a local protocol (no trial-based guideline exists)."""
    a, lang, day0 = b.proto.antithrombotic, b.lang, b.facts.procedure_date
    src = _src("mitrasim_patient_seed", "teer_antithrombotic_cohort2022")
    review_at: dt.date | None = None
    if b.facts.anticoagulated and a.anticoagulated_continue:
        b.allday("anticoagulant", day0, src=src)
        if a.anticoagulated_antiplatelet_months:
            end = add_months(day0, a.anticoagulated_antiplatelet_months)
            b.allday("anticoagulant_antiplatelet", day0, (end - day0).days + 1, src=src, end=format_date(end, lang, "long"))
            review_at = end
    elif a.antiplatelet_months:
        if a.dual_antiplatelet_months:
            end2 = add_months(day0, a.dual_antiplatelet_months)
            b.allday("dual_antiplatelet", day0, (end2 - day0).days + 1, src=src, end=format_date(end2, lang, "long"))
        end = add_months(day0, a.antiplatelet_months)
        b.allday("antiplatelet", day0, (end - day0).days + 1, src=src, end=format_date(end, lang, "long"))
        review_at = end
    if review_at is not None:
        b.allday("medicine_review", review_at, src=src + _src("hospital_protocol"))


def _echo_followup(b: _Builder) -> None:
    """Echo check-ups after discharge: after N days, after N months, then yearly (one per date, weekdays per the protocol)."""
    p, day0 = b.proto, b.facts.procedure_date
    _ = translator(b.lang)
    src = _src("mitrasim_patient_seed", "ottawa_mitraclip_guide", "hospital_protocol")
    planned: dict[dt.date, str] = {}

    def plan(day: dt.date, when: str) -> None:
        planned.setdefault(weekday_rule(day, p.weekend_appointments), when)

    for n in p.echo.after_days:
        plan(day0 + dt.timedelta(days=n), _(texts.WHEN["days"], n=n))
    for n in p.echo.after_months:
        plan(add_months(day0, n), _(texts.WHEN["one_year"]) if n == 12 else _(texts.WHEN["months"], n=n))
    for y in range(1, p.echo.yearly_for_years + 1):
        plan(add_months(day0, 12 * y), _(texts.WHEN["one_year"]) if y == 1 else _(texts.WHEN["years"], n=y))
    for day in sorted(planned):
        b.allday("echo", day, src=src, when=planned[day])


def _prophylaxis(b: _Builder) -> None:
    """Dental work and planned surgery: endocarditis prophylaxis advice (AHA 2021, ESC 2023), reminded ahead."""
    day0, lead = b.facts.procedure_date, b.proto.dental_reminder_days_before
    ie = _src("mitrasim_patient_seed", "wilson2021_aha_ie", "delgado2023_esc_ie")
    # all-day events start at 00:00: the reminder fires at noon, ``lead`` days before
    ahead = (dt.timedelta(days=lead) - dt.timedelta(hours=12), dt.timedelta(hours=b.proto.reminders.all_day_hours_before))
    for code, when in (("dental", b.facts.dental_work_date), ("surgery", b.facts.surgery_date)):
        if when is None:
            continue
        if when >= day0:
            b.allday(f"{code}_after", when, src=ie + _src("hospital_protocol"), alarms=ahead, days_ahead=lead)
        else:
            b.allday(f"{code}_before", when)
