"""FHIR R4 import of measurements and export of the calibrated state (issue 12)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mitrasim.calibrate import calibrate_measurements
from mitrasim.calibrate.fhir import (
    CODES,
    bundle_from_measurements,
    calibration_bundle,
    measurements_from_bundle,
)
from mitrasim.case import load_case
from mitrasim.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = json.loads((ROOT / "examples" / "coapt_secondary.fhir.json").read_text())


def test_example_bundle_carries_the_example_cases_measurements():
    assert measurements_from_bundle(BUNDLE) == load_case(ROOT / "examples" / "coapt_secondary.yaml").measurements


def test_round_trip_of_every_code():
    m = load_case(ROOT / "examples" / "coapt_secondary.yaml").measurements
    assert measurements_from_bundle(bundle_from_measurements(m)) == m
    assert len({(s, c) for s, c, _ in CODES.values()}) == len(CODES)  # one code per measurement


def _entry(b, oid):
    return next(e["resource"] for e in b["entry"] if e["resource"].get("id") == oid)


def test_wrong_unit_names_the_resource_and_field():
    b = copy.deepcopy(BUNDLE)
    _entry(b, "lvedv-ml")["valueQuantity"]["code"] = "L"
    with pytest.raises(InputError) as e:
        measurements_from_bundle(b)
    assert "Observation/lvedv-ml" in e.value.field and e.value.field.endswith("valueQuantity.code")


def test_inconsistent_values_name_the_observation():
    b = copy.deepcopy(BUNDLE)
    b["entry"].append({"resource": {"resourceType": "Observation", "id": "esv", "status": "final", "code": {"coding": [{"system": CODES["lvesv_ml"][0], "code": CODES["lvesv_ml"][1]}]},
                                    "valueQuantity": {"value": 250, "system": "http://unitsofmeasure.org", "code": "mL"}}})  # fmt: skip
    with pytest.raises(InputError) as e:
        measurements_from_bundle(b)
    assert "Observation/esv" in e.value.field and "lvesv_ml" in e.value.field


def test_not_a_bundle_and_duplicates_are_one_clear_error():
    with pytest.raises(InputError) as e:
        measurements_from_bundle({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Observation", "status": "bogus", "code": {}}}]})
    assert e.value.field.startswith("Bundle")
    b = copy.deepcopy(BUNDLE)
    b["entry"].append({"resource": copy.deepcopy(_entry(b, "lvedv-ml"))})
    with pytest.raises(InputError) as e:
        measurements_from_bundle(b)
    assert e.value.field.endswith(".code") and "already" in e.value.allowed


def test_export_is_valid_fhir_and_carries_the_intervals():
    from fhir.resources.R4B.bundle import Bundle

    cal = calibrate_measurements(measurements_from_bundle(BUNDLE), "secondary_mr", n_ensemble=16)
    out = calibration_bundle(cal, subject="Patient/coapt-like")
    Bundle.model_validate(out)
    co = next(e["resource"] for e in out["entry"] if e["resource"]["code"]["coding"][0]["code"] == "prediction.co_l_min")
    p05, p95 = (c["valueQuantity"]["value"] for c in co["component"])
    assert p05 <= co["valueQuantity"]["value"] <= p95 and co["valueQuantity"]["unit"] == "L/min"
    assert "not a measurement" in co["note"][0]["text"]
