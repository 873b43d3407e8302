"""What a heart team measures, with each measurement's method, bias and uncertainty.

The ``measurements:`` block of a case file (and of a FHIR Bundle, :mod:`mitrasim.calibrate.fhir`)
is :class:`Measurements`.  Every field is optional; a field is a number, or a mapping
``{value, method, sd}`` where ``method`` picks the default uncertainty and bias and ``sd``
replaces the default.  The observation model of measurement *k* is

    y_k = m_k(θ) − b_k + ε_k,     ε_k ~ N(0, σ_k²)

with ``m_k(θ)`` the engine's steady-beat value (:data:`MEASURES`' ``metric``), ``b_k`` the
method's known bias (2D echo volumes against the engine's physical volume: Rigolli 2016,
:data:`mitrasim.echo.lv_bias.ECHO_2D_EDV_BIAS_ML`) and ``σ_k`` the method's SD
(absolute, or relative to the value).  Defaults (:data:`METHODS`) cite their source;
those marked ``check`` were not read in the source and are flagged in the fit report.

Derived measurements: systolic PA pressure from the tricuspid jet, ``sPAP = 4·v_TR² + RAP``
(simplified Bernoulli, ASE/EAE right-heart guideline, Rudski 2010), with the RA pressure
from the IVC when not measured (:data:`DEFAULT_RAP_MMHG`, the guideline's intermediate value [sec]).
Its default uncertainty and bias are those of Doppler sPAP against right-heart catheterisation in a
large, mostly post-capillary cohort (Greiner 2014): bias = the midpoint of the 95% limits of agreement
:data:`GREINER2014_LOA_MMHG`, SD = their half-width / z₀.₉₇₅ (:data:`SPAP_TR_SD_MMHG`,
:data:`SPAP_TR_BIAS_MMHG`).

A measured sPAP is compared with the model through its *mean* PA pressure and Chemla's relation

    sPAP_model = (mPAP_model − CHEMLA2004_INTERCEPT_MMHG) / CHEMLA2004_SLOPE

(Chemla 2004: mPAP = slope · sPAP + intercept, r² = 0.98 over mPAP 10–78 mmHg), not through the
model's peak PA pressure: the lumped pulmonary artery (the paper's compliance) has a pulse pressure
of about 5 mmHg at every level (normal heart 16.7/11.8, mean 14.0 mmHg; a measured sPAP was then
read as a much higher mean pressure than it means), which left the examples' sPAP residuals at
−1.6 to −2 SD with the fitted PVR pulled up by the data and held back by its prior.

Cross-field checks (:func:`check_measurements`): LVESV < LVEDV; RVol ≤ total stroke
volume; RF ≤ 100 %; DBP < SBP; v wave ≥ mean LA pressure; an LVEF within 3 SD of
``100·(EDV − ESV)/EDV`` when all three are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mitrasim import citations
from mitrasim.errors import InputError, validate_model

__all__ = ["DEFAULT_RAP_MMHG", "MEASURES", "METHODS",  # noqa: F822  (METHODS: the module __getattr__, built on first use)
           "Measured", "Measurements", "Observation", "check_measurements", "observations", "parse_measurements"]

CHEMLA2004_SLOPE = 0.61
CHEMLA2004_INTERCEPT_MMHG = 2.0
"""mPAP = CHEMLA2004_SLOPE · sPAP + CHEMLA2004_INTERCEPT_MMHG (Chemla 2004, read in the abstract;
validation bias 0 ± 2 mmHg)."""

DEFAULT_RAP_MMHG = 8.0
"""RA pressure assumed for sPAP from the TR jet when ``rap_mmhg`` is not given: the guideline's
'intermediate' IVC value (Rudski 2010; read in secondary copies of its IVC table [sec])."""

GREINER2014_LOA_MMHG = (-18.1, 14.1)
"""95% limits of agreement of Doppler sPAP minus catheter sPAP (mmHg; Greiner 2014, abstract)."""
_Z975 = 1.959963984540054
"""The standard normal 97.5% quantile (95% limits of agreement = bias ± z·SD)."""
SPAP_TR_SD_MMHG = (GREINER2014_LOA_MMHG[1] - GREINER2014_LOA_MMHG[0]) / 2.0 / _Z975
"""SD of Doppler sPAP (TR jet + RA pressure) about the catheter value (mmHg; module docstring)."""
SPAP_TR_BIAS_MMHG = -(GREINER2014_LOA_MMHG[0] + GREINER2014_LOA_MMHG[1]) / 2.0
"""Engine (catheter) value minus Doppler sPAP, on average (mmHg): Doppler reads low by the LoA midpoint."""

@dataclass(frozen=True)
class Method:
    """Default uncertainty of one measurement method: ``sd`` absolute (unit of the value) or relative."""

    sd: float
    relative: bool
    bias: float = 0.0  # engine value − measured value, on average (unit of the value)
    sources: tuple[str, ...] = ()
    status: Literal["src", "derived", "check"] = "check"


@lru_cache(maxsize=None)
def methods() -> dict[str, dict[str, Method]]:
    """measurement → method → default uncertainty (the first method is the default); also importable
    as ``METHODS``.  Built on first use: its numbers come from the echo and cohort modules, which a
    case file without measurements need not import."""
    from mitrasim.calibrate import sources as _sources  # noqa: F401  (registers the measurement sources)
    from mitrasim.echo.lv_bias import ECHO_2D_EDV_BIAS_ML, ECHO_2D_ESV_BIAS_ML
    from mitrasim.echo.synthetic import NOISE_SOURCES

    _PISA_REL = 2.0 * NOISE_SOURCES["pisa_radius"][0]  # EROA ∝ r²: twice the radius' relative SD
    _DOPPLER_REL = NOISE_SOURCES["doppler_velocity"][0]
    _LV_VOLUME_REL = NOISE_SOURCES["lv_volume"][0]
    return {
        "sbp_mmhg": {"cuff": Method(8.0, False, 0.0, ("iso81060_2_2018",), "src"), "arterial_line": Method(3.0, False, 0.0, ("mitrasim_measurement_sd",))},
        "dbp_mmhg": {"cuff": Method(8.0, False, 0.0, ("iso81060_2_2018",), "src"), "arterial_line": Method(3.0, False, 0.0, ("mitrasim_measurement_sd",))},
        "lvedv_ml": {
            "echo_2d": Method(_LV_VOLUME_REL, True, ECHO_2D_EDV_BIAS_ML, ("rigolli2016_lv_bias",), "derived"),
            "echo_3d": Method(_LV_VOLUME_REL, True, 0.0, ("mitrasim_measurement_sd",)),
            "cmr": Method(0.05, True, 0.0, ("mitrasim_measurement_sd",)),
        },
        "lvesv_ml": {
            "echo_2d": Method(_LV_VOLUME_REL, True, ECHO_2D_ESV_BIAS_ML, ("rigolli2016_lv_bias",), "derived"),
            "echo_3d": Method(_LV_VOLUME_REL, True, 0.0, ("mitrasim_measurement_sd",)),
            "cmr": Method(0.05, True, 0.0, ("mitrasim_measurement_sd",)),
        },
        "lvef_pct": {
            "echo_2d": Method(5.0, False, 0.0, ("rigolli2016_lv_bias", "mitrasim_measurement_sd")),
            "echo_3d": Method(4.0, False, 0.0, ("mitrasim_measurement_sd",)),
            "cmr": Method(3.0, False, 0.0, ("mitrasim_measurement_sd",)),
        },
        "eroa_cm2": {"pisa": Method(_PISA_REL, True, 0.0, NOISE_SOURCES["pisa_radius"][1], "derived")},
        "rvol_ml": {"pisa": Method(_PISA_REL, True, 0.0, NOISE_SOURCES["pisa_radius"][1], "derived"), "volumetric": Method(0.25, True, 0.0, ("mitrasim_measurement_sd",))},
        "rf_pct": {"pisa": Method(8.0, False, 0.0, ("mitrasim_measurement_sd",)), "cmr": Method(6.0, False, 0.0, ("mitrasim_measurement_sd",))},
        "la_volume_ml": {"echo_2d": Method(0.15, True, 0.0, ("mitrasim_measurement_sd",)), "cmr": Method(0.08, True, 0.0, ("mitrasim_measurement_sd",))},
        "e_velocity_m_s": {"doppler": Method(_DOPPLER_REL, True, 0.0, (), "check")},
        "mean_gradient_mmhg": {"doppler": Method(2.0 * _DOPPLER_REL, True, 0.0, (), "derived")},
        "mva_cm2": {"planimetry": Method(0.10, True, 0.0, ("mitrasim_measurement_sd",)), "pressure_half_time": Method(0.20, True, 0.0, ("mitrasim_measurement_sd",))},
        "spap_mmhg": {"tr_velocity": Method(SPAP_TR_SD_MMHG, False, SPAP_TR_BIAS_MMHG, ("greiner2014_spap", "rudski2010_rap", "chemla2004_mpap"), "src"),
                      "rhc": Method(2.0, False, 0.0, ("mitrasim_measurement_sd", "chemla2004_mpap"))},
        "la_mean_mmhg": {"pcwp": Method(3.0, False, 0.0, ("mitrasim_measurement_sd",)), "la_direct": Method(1.5, False, 0.0, ("mitrasim_measurement_sd",))},
        "la_vwave_mmhg": {"pcwp": Method(4.0, False, 0.0, ("mitrasim_measurement_sd",)), "la_direct": Method(2.0, False, 0.0, ("mitrasim_measurement_sd",))},
        "co_l_min": {"thermodilution": Method(0.10, True, 0.0, ("stetz1982_thermodilution", "yang2011_thermodilution_precision")),
                      "fick": Method(0.10, True, 0.0, ("mitrasim_measurement_sd",)),
                      # forward output from LVOT area × VTI (Doppler; the cohort's forward SV): relative SD [check]; an ICU
                      # comparison with thermodilution (parulekar2023_vti, in calibrate.sources) is consistent with it
                      "doppler": Method(0.15, True, 0.0, ("mitrasim_measurement_sd", "parulekar2023_vti"))},
    }


def __getattr__(name: str) -> Any:
    if name == "METHODS":
        return methods()
    raise AttributeError(name)


#: measurement → (engine quantity, allowed range); engine quantities are ``SimulationResult.metrics``
#: names, ``la_max_volume_ml`` / ``pa_systolic_mmhg`` taken from the waveforms, or
#: ``pa_systolic_chemla_mmhg`` (the sPAP of the model's mean PA pressure, module docstring).
MEASURES: dict[str, tuple[str, float, float]] = {
    "sbp_mmhg": ("sbp_mmhg", 40.0, 260.0),
    "dbp_mmhg": ("dbp_mmhg", 20.0, 160.0),
    "lvedv_ml": ("edv_ml", 40.0, 500.0),
    "lvesv_ml": ("esv_ml", 10.0, 450.0),
    "lvef_pct": ("ef_pct", 5.0, 85.0),
    "eroa_cm2": ("eroa_cm2", 0.0, 2.0),
    "rvol_ml": ("rvol_ml", 0.0, 250.0),
    "rf_pct": ("rf_pct", 0.0, 100.0),
    "la_volume_ml": ("la_max_volume_ml", 15.0, 400.0),
    "e_velocity_m_s": ("e_velocity_m_s", 0.2, 3.0),
    "mean_gradient_mmhg": ("mean_gradient_mmhg", 0.0, 30.0),
    "mva_cm2": ("mva_cm2", 0.3, 9.0),
    "spap_mmhg": ("pa_systolic_chemla_mmhg", 10.0, 120.0),
    "la_mean_mmhg": ("la_mean_mmhg", 0.0, 60.0),
    "la_vwave_mmhg": ("la_vwave_mmhg", 0.0, 90.0),
    "co_l_min": ("co_l_min", 0.5, 15.0),
}
WAVEFORM_QUANTITIES = ("la_max_volume_ml", "pa_systolic_mmhg")


class Measured(BaseModel):
    """One measurement: its value, the method (default: the first in :data:`METHODS`) and an optional SD."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float
    method: str | None = None
    sd: float | None = Field(None, gt=0, description="replaces the method's default uncertainty (unit of the value)")


def _measured_field(desc: str) -> Any:
    return Field(None, description=desc)


class Measurements(BaseModel):
    """The ``measurements:`` block: each measurement optional, a number or ``{value, method, sd}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hr_bpm: float | None = Field(None, ge=30, le=180, description="heart rate at the measurements (sets the engine's; not fitted)")
    rhythm: Literal["sinus", "af"] = Field("sinus", description="af: no atrial contraction (la_ea_mmhg_ml = 0)")
    bsa_m2: float | None = Field(None, ge=1.0, le=3.0, description="body surface area, for the cardiac index in reports")
    sbp_mmhg: Measured | None = _measured_field("systolic pressure (cuff | arterial_line)")
    dbp_mmhg: Measured | None = _measured_field("diastolic pressure (cuff | arterial_line)")
    lvedv_ml: Measured | None = _measured_field("LV end-diastolic volume (echo_2d | echo_3d | cmr)")
    lvesv_ml: Measured | None = _measured_field("LV end-systolic volume (echo_2d | echo_3d | cmr)")
    lvef_pct: Measured | None = _measured_field("LV ejection fraction (echo_2d | echo_3d | cmr)")
    eroa_cm2: Measured | None = _measured_field("effective regurgitant orifice area (pisa)")
    rvol_ml: Measured | None = _measured_field("regurgitant volume (pisa | volumetric)")
    rf_pct: Measured | None = _measured_field("regurgitant fraction (pisa | cmr)")
    la_volume_ml: Measured | None = _measured_field("maximal LA volume (echo_2d | cmr)")
    e_velocity_m_s: Measured | None = _measured_field("mitral E velocity (doppler)")
    mean_gradient_mmhg: Measured | None = _measured_field("mean mitral gradient (doppler)")
    mva_cm2: Measured | None = _measured_field("mitral valve area (planimetry | pressure_half_time)")
    spap_mmhg: Measured | None = _measured_field("systolic PA pressure (tr_velocity | rhc)")
    tr_vmax_m_s: float | None = Field(None, ge=0.5, le=6.0, description="peak TR velocity: gives spap_mmhg = 4 v² + RAP")
    rap_mmhg: float | None = Field(None, ge=0, le=30, description="RA pressure (IVC estimate or measured) for sPAP")
    la_mean_mmhg: Measured | None = _measured_field("mean LA pressure or PCWP (pcwp | la_direct)")
    la_vwave_mmhg: Measured | None = _measured_field("LA/PCWP v wave (pcwp | la_direct)")
    co_l_min: Measured | None = _measured_field("cardiac output (thermodilution | fick | doppler): forward output")

    @field_validator(*MEASURES, mode="before")
    @classmethod
    def _number_or_mapping(cls, v: Any) -> Any:
        if v is None or isinstance(v, (dict, Measured)):
            return v
        if isinstance(v, bool):
            raise ValueError("a number or {value, method, sd}")
        return {"value": v}


@dataclass(frozen=True)
class Observation:
    """A measurement ready for the fit: measured value, engine quantity, bias and SD."""

    name: str
    value: float
    quantity: str
    bias: float
    sd: float
    method: str
    sources: tuple[str, ...]
    status: str


def _method(name: str, m: Measured) -> tuple[str, Method]:
    table = methods()[name]
    key = m.method or next(iter(table))
    if key not in table:
        raise InputError(f"measurements.{name}.method", key, " | ".join(table))
    return key, table[key]


def _sd(name: str, m: Measured, meth: Method) -> float:
    if m.sd is not None:
        return float(m.sd)
    return meth.sd * abs(m.value) if meth.relative else meth.sd


def _spap(meas: Measurements) -> Measured | None:
    if meas.spap_mmhg is not None:
        if meas.tr_vmax_m_s is not None:
            raise InputError("measurements.tr_vmax_m_s", meas.tr_vmax_m_s, "either spap_mmhg or tr_vmax_m_s, not both")
        return meas.spap_mmhg
    if meas.tr_vmax_m_s is None:
        return None
    rap = DEFAULT_RAP_MMHG if meas.rap_mmhg is None else meas.rap_mmhg
    return Measured(value=4.0 * meas.tr_vmax_m_s**2 + rap, method="tr_velocity")


def check_measurements(meas: Measurements, prefix: str = "measurements") -> Measurements:
    """Ranges, methods and cross-field checks; raises :class:`InputError` naming the fields."""
    for name, (_, lo, hi) in MEASURES.items():
        m = meas.spap_mmhg if name == "spap_mmhg" else getattr(meas, name)
        if m is None:
            continue
        if not (np.isfinite(m.value) and lo <= m.value <= hi):
            raise InputError(f"{prefix}.{name}", m.value, f"[{lo:g}, {hi:g}]")
        _method(name, m)
    v = {k: (getattr(meas, k).value if getattr(meas, k) is not None else None) for k in MEASURES if k != "spap_mmhg"}
    if v["lvedv_ml"] is not None and v["lvesv_ml"] is not None and v["lvesv_ml"] >= v["lvedv_ml"]:
        raise InputError(f"{prefix}.lvesv_ml", v["lvesv_ml"], f"< {prefix}.lvedv_ml = {v['lvedv_ml']:g} mL", "end-systolic volume must be below end-diastolic")
    if v["sbp_mmhg"] is not None and v["dbp_mmhg"] is not None and v["dbp_mmhg"] >= v["sbp_mmhg"]:
        raise InputError(f"{prefix}.dbp_mmhg", v["dbp_mmhg"], f"< {prefix}.sbp_mmhg = {v['sbp_mmhg']:g} mmHg")
    if v["la_mean_mmhg"] is not None and v["la_vwave_mmhg"] is not None and v["la_vwave_mmhg"] < v["la_mean_mmhg"]:
        raise InputError(f"{prefix}.la_vwave_mmhg", v["la_vwave_mmhg"], f">= {prefix}.la_mean_mmhg = {v['la_mean_mmhg']:g} mmHg")
    edv, esv, ef = v["lvedv_ml"], v["lvesv_ml"], v["lvef_pct"]
    if edv is not None and esv is not None and ef is not None:
        ef_vol = 100.0 * (edv - esv) / edv
        _, meth = _method("lvef_pct", meas.lvef_pct)  # type: ignore[arg-type]
        tol = 3.0 * _sd("lvef_pct", meas.lvef_pct, meth)  # type: ignore[arg-type]
        if abs(ef - ef_vol) > tol:
            raise InputError(
                f"{prefix}.lvef_pct", ef, f"within {tol:.1f} points (3 SD) of 100·(lvedv_ml − lvesv_ml)/lvedv_ml = {ef_vol:.1f} %",
                "LVEF inconsistent with the volumes",
            )
    sv = None
    if edv is not None and esv is not None:
        sv, sv_from = edv - esv, f"{prefix}.lvedv_ml − {prefix}.lvesv_ml"
    elif edv is not None and ef is not None:
        sv, sv_from = edv * ef / 100.0, f"{prefix}.lvedv_ml · {prefix}.lvef_pct"
    if sv is not None and v["rvol_ml"] is not None and v["rvol_ml"] > sv:
        raise InputError(f"{prefix}.rvol_ml", v["rvol_ml"], f"<= total LV stroke volume {sv:.0f} mL ({sv_from})", "regurgitant volume larger than the total stroke volume")
    _spap(meas)
    return meas


def parse_measurements(data: Any, prefix: str = "measurements") -> Measurements:
    """Validate a mapping as :class:`Measurements` (pydantic, then :func:`check_measurements`)."""
    if isinstance(data, Measurements):
        return check_measurements(data, prefix)
    return check_measurements(validate_model(Measurements, data, prefix), prefix)


def observations(meas: Measurements) -> list[Observation]:
    """The fit's observations in :data:`MEASURES` order (LVEF left out when both volumes are given:
    it is their function, and counting it again would double its weight)."""
    out = []
    both_volumes = meas.lvedv_ml is not None and meas.lvesv_ml is not None
    for name, (quantity, _, _) in MEASURES.items():
        m = _spap(meas) if name == "spap_mmhg" else getattr(meas, name)
        if m is None or (name == "lvef_pct" and both_volumes):
            continue
        key, meth = _method(name, m)
        sd = _sd(name, m, meth)
        if not sd > 0:
            raise InputError(f"measurements.{name}", m.value, "a value whose default uncertainty is positive (give sd:)")
        out.append(Observation(name, float(m.value), quantity, meth.bias, sd, key, meth.sources, meth.status))
        citations.cite(*meth.sources)
    return out
