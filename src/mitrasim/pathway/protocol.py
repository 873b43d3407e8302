"""A hospital's own protocol: every default of the patient's path, overridable.

The protocol is read from YAML and validated with pydantic v2 (``extra="forbid"``).
Any field left out keeps its default from :mod:`mitrasim.pathway.defaults`.
A bad protocol (unknown key, negative duration, unknown time zone) raises
:class:`mitrasim.errors.InputError` naming the field, the value and what is allowed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mitrasim.errors import validate_model
from mitrasim.files import read_data
from mitrasim.pathway.defaults import EMERGENCY_NUMBERS
from mitrasim.pathway.defaults import value as _d

__all__ = ["AntithromboticProtocol", "EchoProtocol", "ReminderProtocol", "Protocol", "load_protocol", "protocol_from_dict"]

Days = Annotated[int, Field(ge=0, le=3650)]
#: A country whose emergency numbers are built in (ISO 3166 code): the keys of ``EMERGENCY_NUMBERS`` (tested).
Country = Literal["FR", "BE", "CH", "GB", "CA", "US"]
#: A telephone number as printed: digits, spaces, +, dots, dashes, brackets (empty = not set).
PHONE_PATTERN = r"^(\+?[0-9 ().-]{3,40})?$"
Months = Annotated[int, Field(ge=0, le=240)]


def _parse_time(v: Any) -> dt.time:
    """Accept ``"HH:MM"`` strings (YAML may also give minutes since midnight as an int)."""
    if isinstance(v, dt.time):
        return v
    if isinstance(v, int):  # YAML 1.1 reads 14:00 as sexagesimal 840
        if 0 <= v < 24 * 60:
            return dt.time(v // 60, v % 60)
        raise ValueError("a time of day HH:MM")
    if isinstance(v, str):
        try:
            return dt.time.fromisoformat(v)
        except ValueError:
            pass
    raise ValueError("a time of day HH:MM")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AntithromboticProtocol(_Strict):
    """Blood-thinning medicine after the procedure (a local protocol: no trial-based guideline exists)."""

    antiplatelet_months: Months = Field(default_factory=lambda: _d("antithrombotic.antiplatelet_months"))
    dual_antiplatelet_months: Annotated[int, Field(ge=0, le=24)] = Field(
        default_factory=lambda: _d("antithrombotic.dual_antiplatelet_months")
    )
    anticoagulated_continue: bool = Field(default_factory=lambda: _d("antithrombotic.anticoagulated_continue"))
    anticoagulated_antiplatelet_months: Annotated[int, Field(ge=0, le=24)] = Field(
        default_factory=lambda: _d("antithrombotic.anticoagulated_antiplatelet_months")
    )


class EchoProtocol(_Strict):
    """Heart ultrasound (echo) follow-up visits."""

    before_discharge: bool = Field(default_factory=lambda: _d("echo.before_discharge"))
    after_days: list[Annotated[int, Field(ge=1, le=3650)]] = Field(default_factory=lambda: _d("echo.after_days"))
    after_months: list[Annotated[int, Field(ge=1, le=240)]] = Field(default_factory=lambda: _d("echo.after_months"))
    yearly_for_years: Annotated[int, Field(ge=0, le=30)] = Field(default_factory=lambda: _d("echo.yearly_for_years"))


class ReminderProtocol(_Strict):
    """Calendar reminders (VALARM) before each event."""

    timed_hours_before: list[Annotated[float, Field(gt=0, le=24 * 14)]] = Field(
        default_factory=lambda: _d("reminders.timed_hours_before")
    )
    all_day_hours_before: Annotated[float, Field(gt=0, le=24 * 14)] = Field(
        default_factory=lambda: _d("reminders.all_day_hours_before")
    )


class Protocol(_Strict):
    """All settings of the patient's path.  ``Protocol()`` is the default protocol."""

    hospital_name: Annotated[str, Field(max_length=200)] = ""
    ward_phone: Annotated[str, Field(max_length=40, pattern=PHONE_PATTERN)] = ""
    out_of_hours_phone: Annotated[str, Field(max_length=40, pattern=PHONE_PATTERN)] = ""
    country: Country = Field(default_factory=lambda: _d("country"))
    emergency_numbers: list[Annotated[str, Field(pattern=r"^[0-9]{2,4}$")]] = Field(default_factory=list, max_length=3)
    weekend_appointments: Literal["next_weekday", "previous_weekday", "allowed"] = Field(
        default_factory=lambda: _d("weekend_appointments")
    )
    dental_reminder_days_before: Annotated[int, Field(ge=1, le=60)] = Field(
        default_factory=lambda: _d("dental_reminder_days_before")
    )
    no_driving_days: Annotated[int, Field(ge=1, le=60)] = Field(default_factory=lambda: _d("no_driving_days"))
    fasting_reminder_time: dt.time = Field(default_factory=lambda: _parse_time(_d("fasting_reminder_time")))
    timezone: str = Field(default_factory=lambda: _d("timezone"))
    preparation_visit_days_before: Annotated[int, Field(ge=1, le=365)] = Field(
        default_factory=lambda: _d("preparation_visit_days_before")
    )
    admission_days_before: Annotated[int, Field(ge=0, le=14)] = Field(default_factory=lambda: _d("admission_days_before"))
    admission_time: dt.time = Field(default_factory=lambda: _parse_time(_d("admission_time")))
    procedure_time: dt.time = Field(default_factory=lambda: _parse_time(_d("procedure_time")))
    procedure_duration_hours: Annotated[float, Field(gt=0, le=12)] = Field(
        default_factory=lambda: _d("procedure_duration_hours")
    )
    fasting_from: dt.time = Field(default_factory=lambda: _parse_time(_d("fasting_from")))
    discharge_days_after: Annotated[int, Field(ge=0, le=60)] = Field(default_factory=lambda: _d("discharge_days_after"))
    legs_straight_hours: Annotated[float, Field(ge=0, le=48)] = Field(default_factory=lambda: _d("legs_straight_hours"))
    no_bath_days: Days = Field(default_factory=lambda: _d("no_bath_days"))
    groin_stiffness_days: Days = Field(default_factory=lambda: _d("groin_stiffness_days"))
    no_heavy_lifting_days: Days = Field(default_factory=lambda: _d("no_heavy_lifting_days"))
    heavy_lifting_limit_kg: Annotated[float, Field(gt=0, le=100)] = Field(default_factory=lambda: _d("heavy_lifting_limit_kg"))
    full_recovery_days: Days = Field(default_factory=lambda: _d("full_recovery_days"))
    antithrombotic: AntithromboticProtocol = Field(default_factory=AntithromboticProtocol)
    echo: EchoProtocol = Field(default_factory=EchoProtocol)
    reminders: ReminderProtocol = Field(default_factory=ReminderProtocol)

    @field_validator("admission_time", "procedure_time", "fasting_from", "fasting_reminder_time", mode="before")
    @classmethod
    def _time(cls, v: Any) -> dt.time:
        return _parse_time(v)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone such as Europe/Paris or UTC") from None
        return v

    @property
    def emergency(self) -> tuple[str, ...]:
        """The emergency numbers to print: the protocol's own, else the country's (medical number first)."""
        return tuple(self.emergency_numbers) or EMERGENCY_NUMBERS[self.country]

    @property
    def emergency_number(self) -> str:
        """The first emergency number (the one warning-sign actions name)."""
        return self.emergency[0]

    @property
    def has_contact(self) -> bool:
        """Whether the patient can be told whom to call: a hospital name and a ward telephone number."""
        return bool(self.hospital_name.strip() and self.ward_phone.strip())

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.timezone)


def protocol_from_dict(data: object) -> Protocol:
    """Validate a protocol mapping; raise :class:`InputError` on the first problem."""
    if data is None:
        return Protocol()
    return validate_model(Protocol, data, "protocol", mapping="a mapping of protocol settings")


def load_protocol(path: str | Path | None) -> Protocol:
    """Read and validate a hospital protocol YAML file (``None`` gives the defaults)."""
    if path is None:
        return Protocol()
    data = read_data(path, "protocol", "a readable YAML file", "valid YAML", json_by_suffix=False)
    return protocol_from_dict(data)
