"""Hospital protocol: overrides apply, bad protocols fail with field, value and allowed range."""

from __future__ import annotations

import datetime as dt

import pytest

from mitrasim.errors import InputError
from mitrasim.pathway.careplan import PatientFacts, build_careplan
from mitrasim.pathway.defaults import DEFAULTS, source_keys
from mitrasim.pathway.protocol import Protocol, load_protocol
from mitrasim import citations


def test_defaults_table_matches_protocol_defaults_and_sources_are_registered():
    dumped = Protocol().model_dump(mode="json")
    for key, d in DEFAULTS.items():
        node = dumped
        for part in key.split("."):
            node = node[part]
        expect = d.value
        if key.endswith(("_time", "fasting_from")):
            node, expect = dt.time.fromisoformat(node), dt.time.fromisoformat(expect)
        assert node == expect, key
    for k in source_keys():
        citations.get(k)


def test_yaml_overrides_apply(tmp_path):
    f = tmp_path / "hospital.yaml"
    f.write_text(
        "hospital_name: Heart Centre\n"
        "ward_phone: '+33 1 23 45 67 89'\n"
        "timezone: America/Montreal\n"
        "procedure_time: '07:45'\n"
        "no_bath_days: 3\n"
        "discharge_days_after: 2\n"
        "heavy_lifting_limit_kg: 5\n"
        "antithrombotic:\n  antiplatelet_months: 3\n"
        "echo:\n  after_days: [7, 30]\n  after_months: [12]\n  yearly_for_years: 1\n"
        "reminders:\n  timed_hours_before: [48]\n",
        encoding="utf-8",
    )
    proto = load_protocol(f)
    assert proto.antithrombotic.dual_antiplatelet_months == 0  # untouched default
    p = build_careplan(PatientFacts(procedure_date=dt.date(2026, 3, 2)), proto)
    proc = p.event("procedure")
    assert (proc.start.hour, proc.start.minute) == (7, 45) and str(proc.start.tzinfo) == "America/Montreal"
    assert p.event("no_bath").last_day == dt.date(2026, 3, 4)
    assert p.event("discharge").first_day == dt.date(2026, 3, 4)
    assert p.event("antiplatelet").last_day == dt.date(2026, 6, 2)
    assert "5 kg" in p.event("no_lifting").title
    assert [e.first_day for e in p.events if e.code == "echo"] == [dt.date(2026, 3, 9), dt.date(2026, 4, 1), dt.date(2027, 3, 2)]


def test_yaml_sexagesimal_time_is_read_as_a_time(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("procedure_time: 9:15\n", encoding="utf-8")  # YAML 1.1 reads this as 555
    assert load_protocol(f).procedure_time == dt.time(9, 15)


@pytest.mark.parametrize(
    "text, field",
    [
        ("no_bath_days: -1\n", "protocol.no_bath_days"),
        ("procedure_duration_hours: -2\n", "protocol.procedure_duration_hours"),
        ("antithrombotic:\n  antiplatelet_months: -6\n", "protocol.antithrombotic.antiplatelet_months"),
        ("echo:\n  after_days: [30, -1]\n", "protocol.echo.after_days.1"),
        ("colour: blue\n", "protocol.colour"),
        ("echo:\n  every_week: true\n", "protocol.echo.every_week"),
        ("timezone: Mars/Olympus\n", "protocol.timezone"),
        ("procedure_time: '25:61'\n", "protocol.procedure_time"),
        ("- a\n- b\n", "protocol"),
        ("no_bath_days: [\n", "protocol"),
        ("ward_phone: call me\n", "protocol.ward_phone"),
        ("country: DE\n", "protocol.country"),
        ("emergency_numbers: ['1-1-2']\n", "protocol.emergency_numbers.0"),
        ("weekend_appointments: sometimes\n", "protocol.weekend_appointments"),
        ("dental_reminder_days_before: 0\n", "protocol.dental_reminder_days_before"),
        ("fasting_reminder_time: '7pm'\n", "protocol.fasting_reminder_time"),
    ],
)
def test_bad_protocols_fail_clearly(tmp_path, text, field):
    f = tmp_path / "bad.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_protocol(f)
    assert e.value.field == field
    msg = str(e.value)
    assert field in msg and "allowed" in msg and "\n" not in msg


def test_negative_duration_names_allowed_range(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("no_heavy_lifting_days: -5\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_protocol(f)
    assert e.value.value == -5 and "≥ 0" in e.value.allowed  # the bound in words, not pydantic's ge=0


def test_unknown_key_says_no_such_field(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("fasting_hours: 6\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_protocol(f)
    assert e.value.allowed.startswith("no such field")


def test_missing_file():
    with pytest.raises(InputError) as e:
        load_protocol("does/not/exist.yaml")
    assert e.value.field == "protocol"


def test_empty_file_gives_defaults(tmp_path):
    f = tmp_path / "empty.yaml"
    f.write_text("", encoding="utf-8")
    assert load_protocol(f) == Protocol()


def test_example_protocol_sets_every_setting_and_makes_a_patient_guide():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "protocols" / "hospital_protocol.yaml"
    proto = load_protocol(path)
    assert proto.has_contact and proto.emergency == ("15", "112")
    import yaml

    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert set(written) | {"emergency_numbers"} == set(Protocol.model_fields)  # every setting documented
    for group in ("antithrombotic", "echo", "reminders"):
        assert set(written[group]) == set(type(getattr(proto, group)).model_fields)


def test_country_literal_is_the_emergency_table():
    import typing

    from mitrasim.pathway.defaults import EMERGENCY_NUMBERS
    from mitrasim.pathway.protocol import Country

    assert typing.get_args(Country) == tuple(EMERGENCY_NUMBERS)
