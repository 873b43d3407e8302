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

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from mitrasim import citations
from mitrasim.errors import InputError, from_validation_error
from mitrasim.pathway import texts
from mitrasim.pathway.defaults import DEFAULTS
from mitrasim.pathway.i18n import check_lang, format_date, format_number, format_time, translator
from mitrasim.pathway.protocol import Protocol
from mitrasim.ranges import CARE_DATES

__all__ = ["PatientFacts", "Event", "WarningSign", "CarePlan", "add_months", "build_careplan", "facts_from_dict"]


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
    try:
        return PatientFacts.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


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

    def event(self, code: str) -> Event:
        """The first event with ``code`` (KeyError if none)."""
        for e in self.events:
            if e.code == code:
                return e
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the whole plan (stable keys; no creation time, so it is deterministic)."""
        return {
            "mitrasim": "careplan/1",
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


def _at(day: dt.date, t: dt.time, proto: Protocol) -> dt.datetime:
    """Wall-clock ``day t`` in the protocol zone, normalised through UTC (valid across DST changes)."""
    local = dt.datetime.combine(day, t, tzinfo=proto.zone)
    return local.astimezone(dt.timezone.utc).astimezone(proto.zone)


def _plus_hours(start: dt.datetime, hours: float) -> dt.datetime:
    """Elapsed-time addition (not wall-clock): correct across a DST change."""
    return (start.astimezone(dt.timezone.utc) + dt.timedelta(hours=hours)).astimezone(start.tzinfo)


def _src(*keys: str) -> tuple[str, ...]:
    return citations.cite(*keys)


def build_careplan(facts: PatientFacts, protocol: Protocol | None = None) -> CarePlan:
    """Build the dated care plan for ``facts`` under ``protocol`` (defaults if ``None``)."""
    p = protocol or Protocol()
    lang = check_lang(facts.lang)
    _ = translator(lang)
    day0 = facts.procedure_date
    one = dt.timedelta(days=1)
    ev: list[Event] = []

    def allday(code: str, first: dt.date, days: int = 1, src: tuple[str, ...] = (), **fields: object) -> None:
        title, desc = texts.EVENT_TEXT[code]
        ev.append(Event(code, _(title, **fields), _(desc, **fields), first, first + days * one, True, src))

    def timed(code: str, start: dt.datetime, end: dt.datetime, src: tuple[str, ...] = (), text: str | None = None, **fields: object) -> None:
        title, desc = texts.EVENT_TEXT[text or code]
        ev.append(Event(code, _(title, **fields), _(desc, **fields), start, end, False, src))

    seed = _src(DEFAULTS["preparation_visit_days_before"].source)
    allday("prep_visit", day0 - p.preparation_visit_days_before * one, src=seed)

    admit_day = day0 - p.admission_days_before * one
    admit = _at(admit_day, p.admission_time, p)
    proc = _at(day0, p.procedure_time, p)
    if admit >= proc:
        raise InputError("protocol.admission_time", p.admission_time.isoformat(timespec="minutes"),
                         f"before the procedure time {p.procedure_time.isoformat(timespec='minutes')} when admitted the same day")
    timed("admission", admit, _plus_hours(admit, 1.0), src=seed)
    discharge = day0 + p.discharge_days_after * one
    nights = (discharge - admit_day).days
    allday("hospital_stay", admit_day, nights + 1, src=_src("sorajja2017_tvt", "mitrasim_patient_seed"), nights=nights)

    fast_day = day0 if p.fasting_from < p.procedure_time else day0 - one
    fast_start = _at(fast_day, p.fasting_from, p)
    if p.fasting_from == dt.time(0, 0):
        timed("fasting", fast_start, proc, src=seed, text="fasting_midnight")
    else:
        timed("fasting", fast_start, proc, src=seed, time=format_time(p.fasting_from, lang))
    timed("procedure", proc, _plus_hours(proc, p.procedure_duration_hours),
          src=_src("ottawa_mitraclip_guide", "mitrasim_patient_seed"), hours=format_number(p.legs_straight_hours, lang))

    if p.echo.before_discharge:
        allday("echo_discharge", max(discharge, day0 + one) if p.discharge_days_after else day0,
               src=_src("ottawa_mitraclip_guide"))
    allday("discharge", discharge, src=_src("sorajja2017_tvt"))
    if p.no_bath_days:
        allday("no_bath", day0, p.no_bath_days, src=seed)
    if p.no_heavy_lifting_days:
        allday("no_lifting", discharge, p.no_heavy_lifting_days, src=_src("ottawa_mitraclip_guide"),
               kg=format_number(p.heavy_lifting_limit_kg, lang))
    if p.full_recovery_days:
        allday("recovery", day0 + p.full_recovery_days * one, src=_src("ottawa_mitraclip_guide"))

    _medicines(facts, p, allday, lang)
    _echo_followup(day0, p, allday, lang)
    _prophylaxis(facts, allday)

    ev.sort(key=lambda e: (e.first_day, 0 if e.all_day else 1, e.start if not e.all_day else dt.datetime.min.replace(tzinfo=dt.timezone.utc)))  # stable: same-day order as built
    signs = [WarningSign(_(s), _(a, emergency=p.emergency_number)) for s, a in texts.WARNING_SIGNS]
    fast = [(_(letter), _(t, emergency=p.emergency_number)) for letter, t in texts.FAST]
    keys = list(dict.fromkeys(k for e in ev for k in e.sources))
    return CarePlan(facts, p, ev, signs, fast, keys)


def _medicines(facts: PatientFacts, p: Protocol, allday, lang: str) -> None:
    """Antithrombotic events: a local protocol (no trial-based guideline exists)."""
    a = p.antithrombotic
    day0 = facts.procedure_date
    src = _src("teer_antithrombotic_cohort2022", "mitrasim_patient_seed")
    review_at: dt.date | None = None
    if facts.anticoagulated and a.anticoagulated_continue:
        allday("anticoagulant", day0, src=src)
        if a.anticoagulated_antiplatelet_months:
            end = add_months(day0, a.anticoagulated_antiplatelet_months)
            allday("anticoagulant_antiplatelet", day0, (end - day0).days + 1, src=src, end=format_date(end, lang, "long"))
            review_at = end
    elif a.antiplatelet_months:
        if a.dual_antiplatelet_months:
            end2 = add_months(day0, a.dual_antiplatelet_months)
            allday("dual_antiplatelet", day0, (end2 - day0).days + 1, src=src, end=format_date(end2, lang, "long"))
        end = add_months(day0, a.antiplatelet_months)
        allday("antiplatelet", day0, (end - day0).days + 1, src=src, end=format_date(end, lang, "long"))
        review_at = end
    if review_at is not None:
        allday("medicine_review", review_at, src=src)


def _echo_followup(day0: dt.date, p: Protocol, allday, lang: str) -> None:
    """Echo check-ups after discharge: after N days, after N months, then yearly (one per date)."""
    _ = translator(lang)
    src = _src("ottawa_mitraclip_guide", "mitrasim_patient_seed")
    planned: dict[dt.date, str] = {}
    for n in p.echo.after_days:
        planned.setdefault(day0 + dt.timedelta(days=n), _(texts.WHEN["days"], n=n))
    for n in p.echo.after_months:
        planned.setdefault(add_months(day0, n), _(texts.WHEN["one_year"]) if n == 12 else _(texts.WHEN["months"], n=n))
    for y in range(1, p.echo.yearly_for_years + 1):
        planned.setdefault(add_months(day0, 12 * y), _(texts.WHEN["one_year"]) if y == 1 else _(texts.WHEN["years"], n=y))
    for day in sorted(planned):
        allday("echo", day, src=src, when=planned[day])


def _prophylaxis(facts: PatientFacts, allday) -> None:
    """Dental work and planned surgery: endocarditis prophylaxis advice (AHA 2021, ESC 2023)."""
    ie = _src("wilson2021_aha_ie", "delgado2023_esc_ie")
    if facts.dental_work_date is not None:
        after = facts.dental_work_date >= facts.procedure_date
        allday("dental_after" if after else "dental_before", facts.dental_work_date, src=ie if after else ())
    if facts.surgery_date is not None:
        after = facts.surgery_date >= facts.procedure_date
        allday("surgery_after" if after else "surgery_before", facts.surgery_date, src=ie if after else ())
