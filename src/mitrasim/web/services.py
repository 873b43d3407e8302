"""What the API computes, as plain functions of JSON-ready inputs (run in the worker pool).

Each function composes the package's public functions (case, valve, devices,
engine, echo, pathway) and returns a JSON-ready dict; no model logic lives here.
They take and return plain data so they can run in another process.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from mitrasim.ranges import result_flags

__all__ = [
    "resolve_preset",
    "simulate_patients",
    "valve_summary",
    "assess_clips",
    "warm_up",
]

WAVE_KEYS = ("t_s", "v_lv_ml", "p_lv_mmhg", "p_la_mmhg", "p_ao_mmhg", "q_mv_ml_s", "q_mr_ml_s")
MAX_WAVE_POINTS = 240


def resolve_preset(name: str) -> tuple[str, list[str]]:
    """The parameter set for ``name`` (InputError naming 'preset' if unknown) and notes (none)."""
    from mitrasim.physiology.parameter_sets import get_parameter_set

    get_parameter_set(name)
    return name, []


def _clean(x: Any) -> Any:
    """JSON-ready: numpy scalars to Python, non-finite floats to None."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _decimate(w: Mapping[str, np.ndarray]) -> dict[str, list[float]]:
    n = len(w["t_s"])
    step = max(1, math.ceil(n / MAX_WAVE_POINTS))
    return {k: [round(float(v), 3) for v in np.asarray(w[k])[::step]] for k in WAVE_KEYS if k in w}


def _settings(max_beats: int):
    from mitrasim.physiology.simulation import SolverSettings

    return SolverSettings(max_beats=max_beats, threads=1)


def simulate_patients(
    preset: str,
    overrides: Sequence[Mapping[str, float]] | None,
    eroa_cm2: Sequence[float] | None,
    mva_cm2: Sequence[float] | None,
    hr_bpm: Sequence[float] | None,
    waveforms: bool,
    max_beats: int,
) -> dict[str, Any]:
    """Engine ``simulate`` over a batch; metrics per patient (and decimated waveforms if asked)."""
    from mitrasim.physiology.simulation import simulate

    name, notes = resolve_preset(preset)
    res = simulate(
        name,
        list(overrides) if overrides else None,
        eroa_cm2=eroa_cm2,
        mva_cm2=mva_cm2,
        hr_bpm=hr_bpm,
        waveforms=waveforms,
        settings=_settings(max_beats),
    )
    patients = []
    for i in range(res.n):
        m = res.patient_metrics(i)
        flags = result_flags(m)  # a null metric is always explained here
        p: dict[str, Any] = {"valid": not flags, "flags": flags, "metrics": m}
        if waveforms:
            p["waveforms"] = _decimate(res.patient_waveforms(i))
        patients.append(p)
    return _clean({"preset": res.preset, "n": res.n, "patients": patients, "notes": notes, "citations": list(res.citations)})


def valve_summary(valve: Any) -> dict[str, Any]:
    """Geometry for the valve map: line length, segment edges, gap and opening profiles."""
    step = max(1, len(valve.s_mm) // 120)
    return _clean(
        {
            "line_length_mm": valve.line_length_mm,
            "ap_diameter_mm": valve.ap_diameter_mm,
            "segment_edges_mm": list(valve.segment_edges_mm),
            "s_mm": np.round(valve.s_mm[::step], 2),
            "gap_mm": np.round(valve.gap_mm[::step], 3),
            "eroa_cm2": valve.eroa_cm2,
            "mva_cm2": valve.mva_cm2,
            "notes": list(valve.notes),
        }
    )


def _beat(case: Any, eroa_cm2: float, mva_anatomic_cm2: float, max_beats: int, preset: str) -> dict[str, Any]:
    """Engine beat + synthetic echo + grade for one valve state."""
    from mitrasim.echo.simulated import echo_of_state
    from mitrasim.echo.stenosis import grade_stenosis
    from mitrasim.physiology.simulation import simulate
    from mitrasim.procedure.calibration import forward_effective_area_cm2  # same C_d,fwd as the procedure

    p = case.patient
    mva_eff = float(forward_effective_area_cm2(mva_anatomic_cm2))
    from mitrasim.procedure.patient import calibrated_overrides  # the case's measurements fitted, else its overrides

    res = simulate(preset, calibrated_overrides(case), eroa_cm2=eroa_cm2, mva_cm2=mva_eff, hr_bpm=p.hr_bpm, waveforms=True, settings=_settings(max_beats))
    w = res.patient_waveforms(0)
    m = res.patient_metrics(0)
    echo = echo_of_state(m, eroa_cm2, mva_eff, p.etiology)  # the one echo path (as the procedure)
    grade = echo.grade(etiology=p.etiology)
    sten = grade_stenosis(mva_anatomic_cm2, m["mean_gradient_mmhg"], p.hr_bpm)
    flags = result_flags(m)
    return {
        "valid": not flags,
        "flags": flags,
        "eroa_cm2": eroa_cm2,
        "mva_cm2": mva_anatomic_cm2,
        "mva_effective_cm2": mva_eff,
        "mr_grade": grade.grade,
        "mr_severity": grade.severity,
        "mr_reasons": list(grade.reasons),
        "mr_rule": grade.rule,
        "mr_most_likely_grade": grade.most_likely_grade,
        "mr_warnings": list(grade.warnings),
        "stenosis": sten.severity,
        "mean_gradient_mmhg": m["mean_gradient_mmhg"],
        "metrics": m,
        "echo": {k: v for k, v in echo.to_dict().items() if k != "citations"},
        "waveforms": _decimate(w),
    }


def assess_clips(case_data: Mapping[str, Any], clips: Sequence[Mapping[str, Any]], max_beats: int = 300) -> dict[str, Any]:
    """The valve before and after the given clips: areas, engine beat, echo grade, orifices, grasp.

    ``clips``: ``[{"device": "XTW", "position_mm": 18.5}, ...]`` (validated against the
    catalogue and the coaptation line as the case file's planned clips are).
    """
    from mitrasim.case import parse_case
    from mitrasim.devices.catalogue import DEFAULT_CATALOGUE
    from mitrasim.errors import InputError
    from mitrasim.devices.grasp import assess_grasp
    from mitrasim.valve import apply_clips, valve_from_spec

    data = dict(case_data)
    data["procedure"] = {**dict(data.get("procedure") or {}), "clips": [dict(c) for c in clips]}
    try:
        case = parse_case(data)
    except InputError as exc:  # the request's clips are "clips.N...", not the case file's "procedure.clips.N..."
        if not exc.field.startswith("procedure.clips"):
            raise
        raise exc.renamed(exc.field.removeprefix("procedure.")) from None
    valve = valve_from_spec(case.valve)
    preset, notes = resolve_preset(case.patient.preset)
    devs = [DEFAULT_CATALOGUE[c.device] for c in case.procedure.clips]
    pos = [float(c.position_mm) for c in case.procedure.clips]
    before = _beat(case, valve.eroa_cm2, valve.mva_cm2, max_beats, preset)
    out: dict[str, Any] = {"valve": valve_summary(valve), "before": before, "after": None, "clips": [], "notes": notes}
    if devs:
        cr = apply_clips(valve, pos, [d.width_mm for d in devs], [d.arm_length_mm for d in devs], spacers_mm=[d.spacer_mm for d in devs])
        out["after"] = _beat(case, cr.eroa_cm2, cr.mva_cm2, max_beats, preset)
        out["after"]["orifices"] = {
            "regurgitant": [o.__dict__ for o in cr.regurgitant_orifices],
            "diastolic": [o.__dict__ for o in cr.diastolic_orifices],
        }
        out["after"]["gap_mm"] = np.round(cr.gap_mm[:: max(1, len(cr.gap_mm) // 120)], 3)
    for d, x in zip(devs, pos):
        g = assess_grasp(valve, x, d)
        out["clips"].append({"device": d.name, "position_mm": x, "width_mm": d.width_mm, "grasp": g.status, "grasp_reasons": list(g.reasons)})
    return _clean(out)


def warm_up() -> None:
    """Load the compiled engine in this process (worker initializer)."""
    from mitrasim.physiology.preset_names import DEFAULT_PRESET
    from mitrasim.physiology.simulation import simulate

    simulate(DEFAULT_PRESET, eroa_cm2=0.2, waveforms=True, settings=_settings(50))
