"""FHIR R4 import of measurements and export of the calibrated state (``fhir.resources``, R4B models).

Import: a ``Bundle`` whose entries are ``Observation`` resources (other resource types are
ignored; ``Patient`` and the like may travel with them).  Each Observation is matched by its
``code`` (:data:`CODES`), its value read from ``valueQuantity`` in the UCUM unit of
:data:`CODES` (a different unit is an error, not a conversion), its method from ``method``
(system :data:`METHOD_SYSTEM`, the keys of :data:`mitrasim.calibrate.measurements.METHODS`) and an
optional SD from the extension :data:`SD_EXTENSION`.  A blood-pressure panel (LOINC 85354-9) is
read through its systolic/diastolic components.  The result goes through the same validation as a
case file's ``measurements:`` block.  Errors name the entry and field:
``Bundle.entry[3].resource(Observation).valueQuantity.code``.

R4 and R4B share the Observation and Bundle structure used here; the models are fhir.resources'
R4B ones (the package's R4 line is not maintained).

Codes.  LOINC where the code was verified: heart rate 8867-4, systolic 8480-6 and diastolic
8462-4 blood pressure (panel 85354-9), LV ejection fraction 10230-1, body surface area 8277-6.
Every other measurement (LV volumes, EROA, RVol, RF, LA volume, E velocity, mean gradient, MVA,
sPAP, TR velocity, RA pressure, PCWP/LA pressure and v wave, cardiac output) travels under
mitrasim's code system :data:`MITRASIM_SYSTEM` with the measurement's name as its code: LOINC has
echo and catheterisation codes for several of them, but none was verified here [check], and a
wrong code is worse than a local one.

Export (:func:`calibration_bundle`): a ``collection`` Bundle of Observations, one per fitted
parameter and per predicted quantity, each with the fitted value and its 90 % interval as two
components (``p05``, ``p95``), method "mitrasim calibrated model", and a note that it is a model
value for research and education, not a measurement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from mitrasim.calibrate.fit import Calibration
from mitrasim.calibrate.measurements import Measurements, parse_measurements
from mitrasim.errors import InputError

__all__ = ["CODES", "METHOD_SYSTEM", "MITRASIM_SYSTEM", "SD_EXTENSION", "calibration_bundle", "measurements_from_bundle"]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
MITRASIM_SYSTEM = "urn:mitrasim:measurement"
METHOD_SYSTEM = "urn:mitrasim:method"
SD_EXTENSION = "urn:mitrasim:sd"
BP_PANEL = (LOINC, "85354-9")

#: measurement → (code system, code, UCUM unit)
CODES: dict[str, tuple[str, str, str]] = {
    "hr_bpm": (LOINC, "8867-4", "/min"),
    "sbp_mmhg": (LOINC, "8480-6", "mm[Hg]"),
    "dbp_mmhg": (LOINC, "8462-4", "mm[Hg]"),
    "lvef_pct": (LOINC, "10230-1", "%"),
    "bsa_m2": (LOINC, "8277-6", "m2"),
    "lvedv_ml": (MITRASIM_SYSTEM, "lvedv_ml", "mL"),
    "lvesv_ml": (MITRASIM_SYSTEM, "lvesv_ml", "mL"),
    "eroa_cm2": (MITRASIM_SYSTEM, "eroa_cm2", "cm2"),
    "rvol_ml": (MITRASIM_SYSTEM, "rvol_ml", "mL"),
    "rf_pct": (MITRASIM_SYSTEM, "rf_pct", "%"),
    "la_volume_ml": (MITRASIM_SYSTEM, "la_volume_ml", "mL"),
    "e_velocity_m_s": (MITRASIM_SYSTEM, "e_velocity_m_s", "m/s"),
    "mean_gradient_mmhg": (MITRASIM_SYSTEM, "mean_gradient_mmhg", "mm[Hg]"),
    "mva_cm2": (MITRASIM_SYSTEM, "mva_cm2", "cm2"),
    "spap_mmhg": (MITRASIM_SYSTEM, "spap_mmhg", "mm[Hg]"),
    "tr_vmax_m_s": (MITRASIM_SYSTEM, "tr_vmax_m_s", "m/s"),
    "rap_mmhg": (MITRASIM_SYSTEM, "rap_mmhg", "mm[Hg]"),
    "la_mean_mmhg": (MITRASIM_SYSTEM, "la_mean_mmhg", "mm[Hg]"),
    "la_vwave_mmhg": (MITRASIM_SYSTEM, "la_vwave_mmhg", "mm[Hg]"),
    "co_l_min": (MITRASIM_SYSTEM, "co_l_min", "L/min"),
}
_BY_CODE = {(s, c): name for name, (s, c, _) in CODES.items()}
_PLAIN = ("hr_bpm", "bsa_m2", "tr_vmax_m_s", "rap_mmhg")  # plain numbers in Measurements (no method/sd)
_RHYTHM_CODE = (MITRASIM_SYSTEM, "rhythm")


def _codings(code: Any) -> list[tuple[str, str]]:
    return [(c.system or "", c.code or "") for c in (code.coding or [])] if code is not None else []


def _quantity(name: str, q: Any, where: str) -> float:
    if q is None or q.value is None:
        raise InputError(f"{where}.valueQuantity", None, f"a valueQuantity in {CODES[name][2]} (UCUM)")
    unit = CODES[name][2]
    if q.code != unit or (q.system not in (None, UCUM)):
        raise InputError(f"{where}.valueQuantity.code", q.code, f"'{unit}' (UCUM, system {UCUM}) for {name}")
    return float(q.value)


def _entry_value(name: str, obs: Any, where: str, q: Any) -> Any:
    value = _quantity(name, q, where)
    if name in _PLAIN:
        return value
    item: dict[str, Any] = {"value": value}
    methods = [c for c in (obs.method.coding if obs.method is not None and obs.method.coding else []) if c.system == METHOD_SYSTEM]
    if methods:
        item["method"] = methods[0].code
    for ext in obs.extension or []:
        if ext.url == SD_EXTENSION:
            if ext.valueDecimal is None:
                raise InputError(f"{where}.extension[{SD_EXTENSION}].valueDecimal", None, "a positive number (the measurement's SD)")
            item["sd"] = float(ext.valueDecimal)
    return item


def measurements_from_bundle(bundle: dict[str, Any] | str) -> Measurements:
    """The :class:`Measurements` of a FHIR R4 Bundle of Observations (module docstring)."""
    from fhir.resources.R4B.bundle import Bundle

    try:
        b = Bundle.model_validate_json(bundle) if isinstance(bundle, str) else Bundle.model_validate(bundle)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        raise InputError(f"Bundle.{loc}" if loc else "Bundle", err.get("input") if isinstance(err.get("input"), (str, int, float)) else "…", err.get("msg", "a valid FHIR R4 Bundle")) from None
    data: dict[str, Any] = {}
    source: dict[str, str] = {}
    for i, entry in enumerate(b.entry or []):
        res = entry.resource
        if res is None or res.get_resource_type() != "Observation":
            continue
        where = f"Bundle.entry[{i}].resource(Observation{'/' + res.id if res.id else ''})"
        if res.status in ("entered-in-error", "cancelled"):
            continue
        codes = _codings(res.code)
        if _RHYTHM_CODE in codes:
            if res.valueString not in ("sinus", "af"):
                raise InputError(f"{where}.valueString", res.valueString, "sinus | af")
            data["rhythm"] = res.valueString
            continue
        if BP_PANEL in codes:
            for j, comp in enumerate(res.component or []):
                name = next((_BY_CODE[c] for c in _codings(comp.code) if c in _BY_CODE), None)
                if name not in ("sbp_mmhg", "dbp_mmhg"):
                    continue
                _put(data, source, name, _entry_value(name, res, f"{where}.component[{j}]", comp.valueQuantity), f"{where}.component[{j}]")
            continue
        name = next((_BY_CODE[c] for c in codes if c in _BY_CODE), None)
        if name is None:
            continue  # an observation mitrasim does not use
        _put(data, source, name, _entry_value(name, res, where, res.valueQuantity), where)
    if not any(k not in ("rhythm",) for k in data):
        raise InputError("Bundle.entry", len(b.entry or []), "at least one Observation with a code of mitrasim.calibrate.fhir.CODES")
    try:
        return parse_measurements(data)
    except InputError as e:
        name = e.field.removeprefix("measurements.").split(".")[0]
        if name in source:
            raise InputError(f"{source[name]} ({e.field})", e.value, e.allowed, e.hint) from None
        raise


def _put(data: dict[str, Any], source: dict[str, str], name: str, value: Any, where: str) -> None:
    if name in data:
        raise InputError(f"{where}.code", name, f"one Observation per measurement ({name} already in {source[name]})")
    data[name] = value
    source[name] = where


def _obs(code: str, display: str, value: float, unit: str | None, p05: float, p95: float, subject: str | None) -> dict[str, Any]:
    def q(v: float) -> dict[str, Any]:
        return {"value": round(float(v), 6), **({"unit": unit} if unit else {})}

    o: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"text": "mitrasim model value"}],
        "code": {"coding": [{"system": MITRASIM_SYSTEM, "code": code, "display": display}], "text": display},
        "method": {"text": "mitrasim calibrated model (mitrasim.calibrate)"},
        "valueQuantity": q(value),
        "component": [
            {"code": {"coding": [{"system": MITRASIM_SYSTEM, "code": "p05", "display": "5th percentile of the uncertainty ensemble"}]}, "valueQuantity": q(p05)},
            {"code": {"coding": [{"system": MITRASIM_SYSTEM, "code": "p95", "display": "95th percentile of the uncertainty ensemble"}]}, "valueQuantity": q(p95)},
        ],
        "note": [{"text": "Model value with its 90 % interval, for research and education; not a measurement and not a medical device."}],
    }
    if subject:
        o["subject"] = {"reference": subject}
    return o


_UNITS = {"mmhg": "mm[Hg]", "ml": "mL", "pct": "%", "l_min": "L/min", "m_s": "m/s", "cm2": "cm2", "ml_mmhg": "mL/mm[Hg]"}


def _unit(name: str) -> str | None:
    for suffix, u in sorted(_UNITS.items(), key=lambda kv: -len(kv[0])):
        if name.endswith("_" + suffix):
            return u
    return None


def calibration_bundle(cal: Calibration, subject: str | None = None, states: Mapping[str, tuple[str, Mapping[str, Any]]] | None = None) -> dict[str, Any]:
    """The calibrated state (fitted parameters) and predictions as a FHIR R4 ``collection`` Bundle.

    ``states``: predictions at other valve states, ``key → (what it is, row)`` with ``row`` from
    :func:`mitrasim.procedure.intervals.state_intervals` (e.g. ``"after_procedure"``, ``"plan_1"``);
    each quantity becomes an Observation coded ``prediction.KEY.QUANTITY`` with its 90 % interval."""
    from fhir.resources.R4B.bundle import Bundle

    entries = []
    for name, p in cal.parameters.items():
        entries.append(_obs(f"parameter.{name}", p["description"], p["value"], _unit(name), p["p05"], p["p95"], subject))
    for name, v in cal.predictions.items():
        entries.append(_obs(f"prediction.{name}", f"predicted {name}", v["value"], _unit(name), v["p05"], v["p95"], subject))
    for key, (what, row) in (states or {}).items():
        for name, v in row.items():
            if isinstance(v, Mapping):
                entries.append(_obs(f"prediction.{key}.{name}", f"predicted {name}, {what}", v["value"], _unit(name), v["p05"], v["p95"], subject))
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": e} for e in entries]}
    Bundle.model_validate(bundle)  # what we write must itself be valid FHIR
    return bundle


def bundle_from_measurements(meas: Measurements, subject: str | None = None) -> dict[str, Any]:
    """A Bundle of Observations carrying ``meas`` (the inverse of :func:`measurements_from_bundle`)."""
    entries = []
    for name, (system, code, unit) in CODES.items():
        v = getattr(meas, name, None)
        if v is None:
            continue
        o: dict[str, Any] = {"resourceType": "Observation", "id": name.replace("_", "-"), "status": "final", "code": {"coding": [{"system": system, "code": code}]}}
        value = v if name in _PLAIN else v.value
        o["valueQuantity"] = {"value": value, "system": UCUM, "code": unit, "unit": unit}
        if name not in _PLAIN:
            if v.method:
                o["method"] = {"coding": [{"system": METHOD_SYSTEM, "code": v.method}]}
            if v.sd is not None:
                o["extension"] = [{"url": SD_EXTENSION, "valueDecimal": v.sd}]
        if subject:
            o["subject"] = {"reference": subject}
        entries.append(o)
    if meas.rhythm != "sinus":
        entries.append({"resourceType": "Observation", "id": "rhythm", "status": "final", "code": {"coding": [{"system": MITRASIM_SYSTEM, "code": "rhythm"}]}, "valueString": meas.rhythm})
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": e} for e in entries]}
