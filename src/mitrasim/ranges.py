"""One definition of each quantity's allowed range, used by every entry point.

The command line, the case file, the echo input, the engine's parameter table and
the web API all take a quantity's bounds from :data:`RANGES`, so a heart rate
accepted by one is accepted by all, and an error reads the same everywhere, in
clinical units::

    heart rate 500 bpm is outside 30–200 bpm

A :class:`Range` is a closed interval ``[lo, hi]`` (an end may be open:
``lo < x``).  ``Range.check(x)`` returns ``float(x)`` or raises
:class:`~mitrasim.errors.InputError`; ``Range.field(default)`` is the matching
pydantic ``Field`` (``ge``/``gt``/``le``/``lt``), so a schema states its bounds
by name and the validation message is rewritten by
:func:`mitrasim.errors.from_validation_error` into the same sentence.

Output envelope
---------------
:data:`PHYSIOLOGICAL` bounds a steady beat's metrics to states a living patient can
be in.  A result outside it (or not converged, or with a non-finite value) is
flagged by :func:`result_flags` with the reason; the CLI then exits non-zero
where the user asked for a number.  These bounds are engineering plausibility
limits of the model's domain, not clinical thresholds [check]: they are set
wide (beyond the extremes reported in catheterisation series) so that only a
broken state is flagged.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Mapping

from mitrasim.input_error import InputError

__all__ = ["Range", "DateRange", "CARE_DATES", "RANGES", "POPULATION", "POPULATION_OPTIONAL", "PHYSIOLOGICAL", "get", "check", "result_flags", "PLACEHOLDER_ABS"]


@dataclass(frozen=True)
class Range:
    """A quantity's allowed interval, with the words and unit used in messages."""

    label: str
    unit: str
    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False

    def text(self) -> str:
        """``30–200 bpm``; an open end is marked: ``0 (excluded) to 10 cm²``."""
        lo = _num(self.lo) + (" (excluded)" if self.lo_open else "")
        hi = _num(self.hi) + (" (excluded)" if self.hi_open else "")
        sep = "–" if not (self.lo_open or self.hi_open) else " to "
        return f"{lo}{sep}{hi} {self.unit}".rstrip()

    def contains(self, x: float) -> bool:
        if not math.isfinite(x):
            return False
        above = x > self.lo if self.lo_open else x >= self.lo
        below = x < self.hi if self.hi_open else x <= self.hi
        return above and below

    def message(self, value: Any) -> str:
        """``heart rate 500 bpm is outside 30–200 bpm``."""
        return f"{self.label} {_value_text(value)}{(' ' + self.unit) if self.unit and _is_number(value) else ''} is outside {self.text()}"

    def check(self, value: Any, field: str) -> float:
        """``float(value)`` if inside the range, else :class:`InputError` naming ``field``."""
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise InputError(field, value, self.text(), message=f"{self.label} {_value_text(value)} is not a number ({self.text()})") from None
        if not self.contains(x):
            raise InputError(field, value, self.text(), message=self.message(value))
        return x

    def field(self, default: Any = ..., **kw: Any) -> Any:
        """The pydantic ``Field`` with these bounds (``ge``/``gt``, ``le``/``lt``)."""
        from pydantic import Field

        opts: dict[str, Any] = {("gt" if self.lo_open else "ge"): self.lo, ("lt" if self.hi_open else "le"): self.hi}
        opts["description"] = f"{self.label}, {self.text()}"
        opts.update(kw)
        return Field(default, **opts)


def _num(x: float) -> str:
    return f"{x:g}"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _value_text(v: Any) -> str:
    if isinstance(v, float):
        return "not a number (NaN)" if math.isnan(v) else (f"{v:.4g}" if math.isfinite(v) else ("infinite" if v > 0 else "−infinite"))
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


#: Every quantity that more than one entry point accepts: the single definition of its range.
RANGES: dict[str, Range] = {
    "hr_bpm": Range("heart rate", "bpm", 30.0, 200.0),
    "eroa_cm2": Range("effective regurgitant orifice area", "cm²", 0.0, 2.0),
    "mva_cm2": Range("mitral valve area", "cm²", 0.0, 10.0, lo_open=True),
    # measured MR parameters (echo case files and the grading's entry points), physical bounds
    "rvol_ml": Range("regurgitant volume", "mL", 0.0, 500.0),
    "rf_pct": Range("regurgitant fraction", "%", 0.0, 100.0),
    "vc_cm": Range("vena contracta width", "cm", 0.0, 3.0),
    "vc_biplane_cm": Range("biplane vena contracta width", "cm", 0.0, 3.0),
    "pisa_radius_cm": Range("PISA radius", "cm", 0.0, 5.0),  # 0: no flow convergence seen
    "aliasing_cm_s": Range("aliasing velocity", "cm/s", 0.0, 200.0, lo_open=True),
    "wall_angle_deg": Range("PISA wall angle", "deg", 1.0, 180.0),
    "e_velocity_m_s": Range("mitral E velocity", "m/s", 0.0, 10.0),
    "jet_area_pct": Range("colour jet area", "% of LA area", 0.0, 100.0),
    "la_volume_index_ml_m2": Range("LA volume index", "mL/m²", 0.0, 300.0),
    "la_diameter_mm": Range("LA diameter", "mm", 10.0, 150.0),
    "lvesd_mm": Range("LV end-systolic diameter", "mm", 5.0, 120.0),
    "tvi_mitral_aortic_ratio": Range("TVI mitral / TVI aortic", "", 0.0, 20.0, lo_open=True),
}


#: A virtual population's continuous patient variables (:mod:`mitrasim.cohort.population`): the
#: interval a marginal's truncation ``[lo, hi]`` must lie in.  Where a quantity is also in
#: :data:`RANGES` the interval lies inside that one (a drawn patient is a valid input everywhere);
#: ``forward_sv_ml`` is optional (it switches on the population's flow balance).
POPULATION: dict[str, Range] = {
    "age_years": Range("age", "years", 18.0, 110.0),
    "lvef_pct": Range("LV ejection fraction", "%", 5.0, 85.0),
    "lvedv_ml": Range("LV end-diastolic volume", "mL", 40.0, 500.0),
    "eroa_cm2": Range("effective regurgitant orifice area", "cm²", 0.05, 2.0),
    "mva_cm2": Range("mitral valve area", "cm²", 1.5, 9.0),
    "ap_diameter_mm": Range("antero-posterior annulus diameter", "mm", 18.0, 50.0),
    "ic_diameter_mm": Range("intercommissural annulus diameter", "mm", 22.0, 55.0),
    "anterior_leaflet_mm": Range("anterior leaflet length", "mm", 8.0, 45.0),
    "posterior_leaflet_mm": Range("posterior leaflet length", "mm", 3.0, 30.0),
    "lesion_width_frac": Range("lesion width", "fraction of the IC diameter", 0.05, 0.95),
    "tenting_depth_mm": Range("tenting depth", "mm", 0.0, 25.0),
    "hr_bpm": Range("heart rate", "bpm", 40.0, 150.0),
    "sbp_mmhg": Range("systolic blood pressure", "mmHg", 70.0, 220.0),
    "forward_sv_ml": Range("forward stroke volume", "mL", 5.0, 200.0),
}
POPULATION_OPTIONAL = ("forward_sv_ml",)
"""The :data:`POPULATION` variables a population may leave out."""


#: Output envelope of a steady beat (see the module docstring): metric name → range [check].
PHYSIOLOGICAL: dict[str, Range] = {
    "sbp_mmhg": Range("aortic systolic pressure", "mmHg", 30.0, 300.0),
    "dbp_mmhg": Range("aortic diastolic pressure", "mmHg", 5.0, 200.0),
    "la_mean_mmhg": Range("mean LA pressure", "mmHg", 0.0, 60.0),
    "pa_mean_mmhg": Range("mean pulmonary arterial pressure", "mmHg", 0.0, 100.0),
    "lvedp_mmhg": Range("LV end-diastolic pressure", "mmHg", -5.0, 60.0),
    "edv_ml": Range("LV end-diastolic volume", "mL", 10.0, 700.0),
    "co_l_min": Range("forward cardiac output", "L/min", 0.5, 25.0),
}

@dataclass(frozen=True)
class DateRange:
    """Allowed calendar dates: a care plan adds months and years to them, so far-off dates (typos
    such as 9999-12-31 or 0001-01-01) are refused before any date arithmetic can overflow."""

    label: str
    first: dt.date
    last: dt.date

    def check(self, value: dt.date | None, field: str) -> dt.date | None:
        if value is None or self.first <= value <= self.last:
            return value
        raise InputError(field, value.isoformat(), f"{self.first.isoformat()} to {self.last.isoformat()}",
                         message=f"{self.label} {value.isoformat()} is outside {self.first.isoformat()} to {self.last.isoformat()}")


#: Dates of care (procedure, dental work, surgery): a wide window around any plausible use.
CARE_DATES = DateRange("date", dt.date(1900, 1, 1), dt.date(2199, 12, 31))

PLACEHOLDER_ABS = 1e299
"""Magnitudes at or above this are the engine's 'never updated' accumulator seeds (±1e300), not results."""


def get(name: str) -> Range:
    """The range of quantity ``name`` (KeyError lists the known names)."""
    try:
        return RANGES[name]
    except KeyError:
        raise KeyError(f"no range for {name!r}; known: {', '.join(sorted(RANGES))}") from None


def check(name: str, value: Any, field: str | None = None) -> float:
    """Range-check ``value`` of quantity ``name`` (the field in messages defaults to ``name``)."""
    return get(name).check(value, field or name)


def result_flags(metrics: Mapping[str, Any]) -> list[str]:
    """Why a steady beat's metrics cannot be reported as a result (empty: fine).

    Checks, in order: convergence, non-finite values, the output envelope
    :data:`PHYSIOLOGICAL`.  Each reason is one sentence in clinical units.
    """
    reasons: list[str] = []
    hr = metrics.get("hr_bpm")
    if isinstance(hr, float) and not math.isfinite(hr):  # the engine blanks every metric of a diverged patient
        return [f"the simulation diverged (a pressure or volume grew without bound) in beat {metrics.get('beats_to_steady')}: "
                "this combination of parameters is outside what the engine can integrate"]
    if metrics.get("converged") is False:
        reasons.append(f"not a steady state: still changing after {metrics.get('beats_to_steady')} beats (residual {_value_text(metrics.get('steady_residual'))})")
    bad = [k for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v) and k not in OPTIONAL_METRICS]
    if bad:
        reasons.append("the steady beat gives no value for " + ", ".join(bad))
    for k, r in PHYSIOLOGICAL.items():
        v = metrics.get(k)
        if isinstance(v, float) and math.isfinite(v) and not r.contains(v):
            reasons.append("outside physiology: " + r.message(v))
    return reasons


OPTIONAL_METRICS = frozenset({"e_velocity_m_s", "mr_vmax_m_s"})
"""Metrics legitimately undefined (NaN) in a valid beat: orifice velocities of a diode (resistive) mitral valve."""
