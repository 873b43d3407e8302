"""The one echo path: simulated steady beats (one or a batch) → echo measurements → grade.

Every part of mitrasim that turns a simulated state into echo numbers calls
:func:`echo_from_beats` (arrays over states) or :func:`echo_of_state` (one state): the
procedure and the planner (:mod:`mitrasim.procedure.hemodynamics`), the cohort (through the
procedure), the web (:mod:`mitrasim.web.services`) and the care plan (through the
procedure's result). It reads the engine's beat metrics, so it needs no stored waveforms
(10,000 patients × candidates would not fit in memory); :func:`mitrasim.echo.synthetic_echo`
measures the same beat from its waveforms (with optional noise) and agrees with it
(tests/test_procedure_echo_consistency.py, tests/test_echo_one_path.py).

Noise-free measurements of a state with EROA ``A``, peak regurgitant flow ``Q_pk``:

* PISA at the aliasing velocity ``Va`` = :data:`ALIASING_CM_S`: radius ``r = sqrt(Q_pk / (2π Va))``,
  EROA = ``2π r² Va / Vmax`` = ``A`` with ``Vmax = Q_pk / A``; RVol = ∫ q_MR dt (engine);
* volumetric: RF = (SV_total − SV_fwd) / SV_total from the same beat;
* vena contracta: the orifice is an ellipse of area ``A`` and long/short axis ratio ``k``
  (1 for a primary jet, :data:`SECONDARY_VC_ASPECT` for the functional orifice along the
  coaptation line); the 2-D width reported is its short axis ``2 sqrt(A / (π k))``;
* mean gradient and E velocity: the engine's diastolic ``4v²`` average and early peak;
* pulmonary veins, from the engine's S- and D-wave metrics (peak forward vein flow while the
  mitral valve is shut / open) and its lowest systolic flow: ``"reversal"`` only when the
  retrograde systolic peak reaches :data:`~mitrasim.echo.signs.PV_REVERSAL_REL_S` × the forward
  S peak, else ``"blunted"`` (S < D) or ``"normal"`` (systolic dominance); S/D ratio reported.
  A brief negative sample at valve closure is not a reversal.
* CW envelope of the MR jet (:mod:`mitrasim.echo.signs`): density = RVol over the inflow volume
  (total SV); contour triangular when the LA v wave stands high above the mean LA pressure →
  ``"faint"`` / ``"dense_parabolic"`` / ``"dense_triangular"``;
* LV size (:mod:`mitrasim.echo.signs`): the 2D LVEDV against the upper normal limit, ``"enlarged"``
  only with a normal LVEF.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mitrasim.echo.grading import grade_mr_arrays
from mitrasim.echo.signs import (  # PV_REVERSAL_REL_S: the rule's one definition (re-exported)
    CW_LABELS,
    LV_LABELS,
    PV_LABELS,
    PV_REVERSAL_REL_S,
    cw_density_ratio,
    cw_envelope_code,
    lv_size_code,
    pv_pattern_code,
    v_wave_above_mean_mmhg,
)
from mitrasim.echo.synthetic import EchoMeasurements

__all__ = [
    "ALIASING_CM_S",
    "SECONDARY_VC_ASPECT",
    "PV_REVERSAL_REL_S",
    "orifice_aspect",
    "echo_from_beats",
    "echo_row",
    "echo_of_state",
    "grade_beats",
]

ALIASING_CM_S = 40.0
"""Colour-Doppler aliasing velocity for PISA (clinical.md: usually 30–40 cm/s)."""

SECONDARY_VC_ASPECT = 2.5
"""Long/short axis ratio of a functional (secondary) MR orifice along the coaptation line
(synthetic echo: "e.g. 2–3"; model choice)."""



def orifice_aspect(secondary: np.ndarray | bool) -> np.ndarray:
    """Orifice long/short axis ratio: :data:`SECONDARY_VC_ASPECT` for secondary MR, else 1."""
    return np.where(np.asarray(secondary, bool), SECONDARY_VC_ASPECT, 1.0)


def echo_from_beats(metrics: dict[str, np.ndarray], eroa_cm2: np.ndarray, forward_area_cm2: np.ndarray, secondary: np.ndarray) -> dict[str, np.ndarray]:
    """Noise-free echo measurements of every state from its beat metrics (module docstring).

    ``metrics``: the engine's (:data:`mitrasim.physiology.engine.METRIC_NAMES`), arrays (n,);
    ``eroa_cm2``: the engine's regurgitant area; ``forward_area_cm2``: its effective forward
    area; ``secondary``: (n,) bool. Returns arrays (n,) named as
    :class:`~mitrasim.echo.synthetic.EchoMeasurements` fields; the categorical signs as integer
    codes ``pv_code``, ``cw_code``, ``lv_code`` (:mod:`mitrasim.echo.signs`).
    """
    m = metrics
    eroa = np.asarray(eroa_cm2, dtype=float)
    aspect = orifice_aspect(secondary)
    q_pk = np.maximum(m["peak_mr_flow_ml_s"], 0.0)
    jet = (eroa > 0.0) & (q_pk > 0.0)
    safe_eroa = np.where(jet, eroa, 1.0)
    zero = np.zeros_like(eroa)
    r = np.where(jet, np.sqrt(q_pk / (2.0 * math.pi * ALIASING_CM_S)), zero)
    rvol = np.where(jet, np.maximum(m["rvol_ml"], 0.0), zero)
    sv = m["edv_ml"] - m["esv_ml"]
    fwd = m["forward_sv_ml"]
    rvol_vol = np.fmax(sv - fwd, 0.0)  # no forward SV (a failed beat): no volumetric RVol
    rvol_vol = np.where((rvol_vol <= 1e-6 * np.maximum(sv, 1.0)) | (eroa <= 0.0), 0.0, rvol_vol)
    rf = np.where(sv > 0, np.minimum(100.0, 100.0 * rvol_vol / np.where(sv > 0, sv, 1.0)), 0.0)
    density = np.where(jet, cw_density_ratio(rvol, sv), zero)
    v_wave = v_wave_above_mean_mmhg(m["la_vwave_mmhg"], m["la_mean_mmhg"])
    return {
        "eroa_cm2": np.where(jet, eroa, zero),
        "pisa_radius_cm": r,
        "peak_mr_flow_ml_s": q_pk,
        "mr_vmax_cm_s": np.where(jet, m["mr_vmax_m_s"] * 100.0, zero),
        "mr_vti_cm": np.where(jet, rvol / safe_eroa, zero),
        "rvol_ml": rvol,
        "rvol_volumetric_ml": rvol_vol,
        "rf_pct": rf,
        "vc_cm": np.where(jet, 2.0 * np.sqrt(safe_eroa / (math.pi * aspect)), zero),
        "mean_gradient_mmhg": m["mean_gradient_mmhg"],
        "e_velocity_m_s": m["e_velocity_m_s"],
        "pv_code": pv_pattern_code(m["pv_min_systolic_flow_ml_s"], m["pv_s_peak_ml_s"], m["pv_d_peak_ml_s"]),
        "pv_s_d_ratio": np.where(m["pv_d_peak_ml_s"] > 0, np.maximum(m["pv_s_peak_ml_s"], 0.0) / np.where(m["pv_d_peak_ml_s"] > 0, m["pv_d_peak_ml_s"], 1.0), np.nan),
        "lvedv_ml": m["edv_ml"],
        "lvesv_ml": m["esv_ml"],
        "lvef_pct": m["ef_pct"],
        "total_sv_ml": sv,
        "forward_sv_ml": fwd,
        "mva_cm2": np.asarray(forward_area_cm2, dtype=float),
        "hr_bpm": m["hr_bpm"],
        "vc_aspect_ratio": aspect,
        "cw_density_ratio": density,
        "v_wave_above_mean_mmhg": v_wave,
        "cw_code": cw_envelope_code(density, v_wave, jet),
        "lv_code": lv_size_code(m["edv_ml"], m["ef_pct"]),
    }


def echo_row(arrays: dict[str, np.ndarray], i: int) -> EchoMeasurements:
    """Row ``i`` of :func:`echo_from_beats` as an :class:`EchoMeasurements`."""
    f: dict[str, Any] = {k: float(v[i]) for k, v in arrays.items() if k not in ("pv_code", "cw_code", "lv_code")}
    if not math.isfinite(f["pv_s_d_ratio"]):
        f["pv_s_d_ratio"] = None  # no D wave: no ratio
    return EchoMeasurements(
        aliasing_cm_s=ALIASING_CM_S,
        pv_flow=PV_LABELS[int(arrays["pv_code"][i])],
        cw_density=CW_LABELS[int(arrays["cw_code"][i])],
        lv_size=LV_LABELS[int(arrays["lv_code"][i])],
        noisy=False,
        citations=["zoghbi2017"],
        **f,
    )


def echo_of_state(metrics: dict[str, Any], eroa_cm2: float, forward_area_cm2: float, etiology: str) -> EchoMeasurements:
    """One state (e.g. ``SimulationResult.patient_metrics(i)``) through :func:`echo_from_beats`."""
    m = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in metrics.items()}
    return echo_row(echo_from_beats(m, np.array([eroa_cm2]), np.array([forward_area_cm2]), np.array([etiology == "secondary"])), 0)


def grade_beats(echo: dict[str, np.ndarray], secondary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Guideline grade (−1 indeterminate) and decision grade of every state from :func:`echo_from_beats`
    (:func:`mitrasim.echo.grading.grade_mr_arrays` on the inputs :meth:`EchoMeasurements.mr_inputs`
    gives: no PISA radius without a jet; a state without a jet has EROA, RVol and RF 0, and no CW
    envelope)."""
    return grade_mr_arrays(
        echo["eroa_cm2"], echo["rvol_ml"], echo["rf_pct"], vc_cm=echo["vc_cm"],
        pisa_radius_cm=np.where((echo["eroa_cm2"] > 0.0) & (echo["pisa_radius_cm"] > 0.0), echo["pisa_radius_cm"], np.nan),
        aliasing_cm_s=ALIASING_CM_S, pv_flow_code=echo["pv_code"],
        e_velocity_m_s=echo["e_velocity_m_s"], cw_code=echo["cw_code"],
        lv_code=echo["lv_code"], secondary=secondary,
    )  # fmt: skip
