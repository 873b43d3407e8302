"""Qualitative echo signs of MR from the simulated orifice flow and pressures (model choices).

The ASE 2017 criteria table (Zoghbi 2017, Table 6 / Fig. 12) reads some signs by eye. A
synthetic echo has no image, so mitrasim derives them from the physics that makes the image
look the way it does. Each derivation is a **model choice**, documented here; the cut-points
are mitrasim's, marked [check] (the guideline names the signs, not a magnitude).

**CW Doppler density** of the MR envelope, compared with the antegrade (mitral inflow)
envelope of the same recording. The Doppler signal power is proportional to the number of red
cells (scatterers) moving through the beam; over a beat that is the volume that crossed the
valve each way, so::

    density_ratio = RVol / (RVol + SV_fwd) = RVol / V_inflow      (same beat)

and the envelope is *dense* when ``density_ratio >= CW_DENSE_FROM_RATIO``, otherwise *faint*.

**CW contour.** By the simplified Bernoulli law (Hatle 1979) the MR velocity is
``v(t) = sqrt((p_LV − p_LA) / 4)`` (m/s, mmHg). A large LA v wave cuts the driving pressure —
and the velocity — in late systole while the LV pressure is still high, so the envelope peaks
early and looks triangular. The v wave is read as a catheter reads it, as its height above the
mean LA pressure (LA pressure's maximum while the mitral valve is shut, minus its mean)::

    v_wave_above_mean_mmhg = p_v − p_LA,mean

The contour is *triangular, early peaking* when it is at least
:data:`LARGE_V_WAVE_ABOVE_MEAN_MMHG`, else parabolic. The ASE criteria read density and contour
together: ``"faint"`` (mild column), ``"dense_parabolic"`` (intermediate),
``"dense_triangular"`` (severe column). A compliant, remodelled LA (chronic MR) keeps the v
wave small, so severe chronic MR can read "dense, parabolic" — as in the clinic.

**Pulmonary-vein flow** (the engine's S- and D-wave metrics: the vein's peak forward flow
in ventricular systole — a time without forward mitral flow that holds aortic ejection — and in
diastole — forward mitral flow and the diastasis between E and A —, and its lowest systolic flow). The retrograde systolic peak ``R = max(0, −min q_pv,systole)`` is compared with
the forward S wave::

    "reversal"  if R > 0 and R >= PV_REVERSAL_REL_S · S   (a reversed wave clearly below the baseline)
    "blunted"   else if S < D                              (diastolic dominance)
    "normal"    else                                       (systolic dominance)

A brief negative dip inside a forward S wave (at valve closure, or the tail of the atrial
reversal) is therefore not a reversal.

**LV size.** The 2D echo LVEDV (the model's volume less the 2D bias of
:mod:`mitrasim.echo.lv_bias`) against the upper normal limit of Lang 2015 (row
``lvedv_2d_ml``/``synthetic_enlarged_above`` of :data:`mitrasim.echo.thresholds.THRESHOLDS`;
the synthetic patient has no sex, so the men's — higher — limit) gives ``lv_size`` ``"normal"``
(mild column) or, with a normal LVEF (row ``lvef_pct``), ``"enlarged"`` (severe column). An
enlarged LV with a low LVEF is not a criterion (in secondary MR it is the cause, not the
consequence): not reported.

**Colour jet area (not modelled).** Thomas et al. (Circulation 1990, source
``thomas1990_jet_momentum``) confirmed that a regurgitant jet is a self-similar turbulent jet
(Gaussian profiles, centreline velocity falling as 1/distance) whose colour area is set by its
momentum flux ``ρ Q v``; its free-jet reach at a colour threshold of tens of cm/s is tens of cm —
longer than any LA — so the area is set by chamber constraint, which their in-vitro power law of
area against momentum carries only for their own chamber: applied to a mild orifice (0.1 cm² at
5 m/s) it predicts an area above the guideline's "large jet" cut. Surface-adherent (wall) jets
are smaller still for the same flow (``chao1992_coanda``). Without a relation that transfers to
the LA, mitrasim does not synthesize a jet area % (a user may enter one).
"""

from __future__ import annotations

import numpy as np

from mitrasim import citations
from mitrasim.echo import sources as _sources  # noqa: F401  (registers the sources)
from mitrasim.echo.lv_bias import ECHO_2D_EDV_BIAS_ML
from mitrasim.echo.thresholds import threshold

__all__ = [
    "CW_DENSE_FROM_RATIO",
    "LARGE_V_WAVE_ABOVE_MEAN_MMHG",
    "CW_CODES",
    "CW_LABELS",
    "cw_density_ratio",
    "v_wave_above_mean_mmhg",
    "cw_envelope_code",
    "SIGN_SOURCES",
    "PV_REVERSAL_REL_S",
    "PV_CODES",
    "PV_LABELS",
    "pv_pattern_code",
    "LV_CODES",
    "LV_LABELS",
    "lv_size_code",
]

CW_DENSE_FROM_RATIO = 1.0 / 3.0
"""The MR envelope reads *dense* when the regurgitant volume is at least this share of the
antegrade (inflow) volume, i.e. at least half the forward volume (model choice [check]: ASE 2017
Table 6 calls the envelope "dense" from moderate MR on and gives no number)."""

LARGE_V_WAVE_ABOVE_MEAN_MMHG = 10.0
"""A *large* v wave, making the CW contour triangular: at least this height above the mean LA
pressure (mmHg; model choice [check]: catheter studies of MR define a large v wave by a 10 mmHg
margin, over the a wave or over the mean, varying by study; ASE 2017 names the contour, not a
magnitude)."""

#: CW envelope → integer code for :func:`mitrasim.echo.grading.grade_mr_arrays` (−1 = not measured).
CW_CODES: dict[str | None, int] = {None: -1, "faint": 0, "dense_parabolic": 1, "dense_triangular": 2}
CW_LABELS: dict[int, str | None] = {v: k for k, v in CW_CODES.items()}

SIGN_SOURCES: tuple[str, ...] = ("zoghbi2017", "hatle1979")

citations.register(
    "thomas1990_jet_momentum",
    "Thomas JD, Liu CM, Flachskampf FA, O'Shea JP, Davidoff R, Weyman AE. Quantification of jet flow by "
    "momentum analysis. An in vitro color Doppler flow study. Circulation 81:247-259 (1990).",
    doi="10.1161/01.CIR.81.1.247",
    note="Abstract read: jet area = 1.25 (momentum)^0.28, r = 0.989, curvilinear from chamber constraint; "
    "Gaussian profiles, centreline velocity ~ 1/distance; orifices 0.005-0.5 cm2, 1-81 mmHg. Units of the fit "
    "not in the abstract [check]. Cited for why mitrasim does not synthesize a colour jet area (echo.signs).",
)
citations.register(
    "chao1992_coanda",
    "Chao K, Moises VA, Shandas R, Elkadi T, Sahn DJ, Weintraub R. Influence of the Coanda effect on color "
    "Doppler jet area and color encoding. In vitro studies using color Doppler flow mapping. "
    "Circulation 85:333-341 (1992).",
    doi="10.1161/01.CIR.85.1.333",
    note="Abstract read: surface-adherent jets smaller than free jets at every flow (slopes of jet area on flow "
    "rate 11-21 vs 33 cm2 per L/min). Not used numerically.",
)

PV_REVERSAL_REL_S = 0.5
"""Systolic pulmonary-vein flow reversal: the vein's retrograde systolic peak is at least this
share of its forward S peak — a reversed wave clearly below the baseline, at least half as deep
as the forward S wave is tall (model choice [check]: ASE 2017 Table 6 names "systolic flow
reversal", not a magnitude)."""

PV_CODES: dict[str | None, int] = {None: -1, "normal": 0, "blunted": 1, "reversal": 2}
"""Pulmonary-vein pattern → integer code for :func:`mitrasim.echo.grading.grade_mr_arrays` (−1 = not measured)."""
PV_LABELS: dict[int, str | None] = {v: k for k, v in PV_CODES.items()}

#: LV size → integer code for :func:`mitrasim.echo.grading.grade_mr_arrays` (−1 = not reported).
LV_CODES: dict[str | None, int] = {None: -1, "normal": 0, "enlarged": 1}
LV_LABELS: dict[int, str | None] = {v: k for k, v in LV_CODES.items()}


def cw_density_ratio(rvol_ml: np.ndarray, inflow_volume_ml: np.ndarray) -> np.ndarray:
    """Regurgitant over antegrade (mitral inflow) volume of one beat, in [0, 1] (0 without inflow)."""
    rv = np.maximum(np.asarray(rvol_ml, float), 0.0)
    vin = np.asarray(inflow_volume_ml, float)
    return np.where(vin > 0.0, np.minimum(rv / np.where(vin > 0.0, vin, 1.0), 1.0), 0.0)


def v_wave_above_mean_mmhg(la_vwave_mmhg: np.ndarray, la_mean_mmhg: np.ndarray) -> np.ndarray:
    """The LA v wave's height above the mean LA pressure (mmHg, ≥ 0)."""
    return np.maximum(np.asarray(la_vwave_mmhg, float) - np.asarray(la_mean_mmhg, float), 0.0)


def cw_envelope_code(density_ratio: np.ndarray, v_wave_above_mean: np.ndarray, jet: np.ndarray) -> np.ndarray:
    """(n,) :data:`CW_CODES` of the MR envelope (−1 where there is no jet to record)."""
    dense = np.asarray(density_ratio, float) >= CW_DENSE_FROM_RATIO
    tri = np.asarray(v_wave_above_mean, float) >= LARGE_V_WAVE_ABOVE_MEAN_MMHG
    code = np.where(dense, np.where(tri, CW_CODES["dense_triangular"], CW_CODES["dense_parabolic"]), CW_CODES["faint"])
    citations.cite(*SIGN_SOURCES)
    return np.where(np.asarray(jet, bool), code, CW_CODES[None]).astype(np.int64)


def lv_size_code(edv_ml: np.ndarray, ef_pct: np.ndarray, guideline: str = "ase2017") -> np.ndarray:
    """(n,) :data:`LV_CODES`: ``normal`` when the 2D LVEDV is within normal, ``enlarged`` above it
    with a normal LVEF, −1 (not a criterion) when enlarged with a reduced LVEF or not finite."""
    big_row = threshold(guideline, "lvedv_2d_ml", "synthetic_enlarged_above")
    ef_row = threshold(guideline, "lvef_pct", "synthetic_normal_function_from")
    assert big_row is not None and ef_row is not None  # rows of every MR guideline set
    edv_2d = np.asarray(edv_ml, float) - ECHO_2D_EDV_BIAS_ML
    ef = np.asarray(ef_pct, float)
    ok = np.isfinite(edv_2d) & np.isfinite(ef)
    code = np.where(edv_2d > big_row.value, np.where(ef >= ef_row.value, LV_CODES["enlarged"], LV_CODES[None]), LV_CODES["normal"])
    citations.cite("lang2015", "rigolli2016_lv_bias")
    return np.where(ok, code, LV_CODES[None]).astype(np.int64)


def pv_pattern_code(pv_min_systolic_flow_ml_s: np.ndarray, pv_s_peak_ml_s: np.ndarray, pv_d_peak_ml_s: np.ndarray) -> np.ndarray:
    """(n,) :data:`PV_CODES` of the pulmonary-vein pattern (module docstring); −1 where a metric
    is not finite."""
    q_min = np.asarray(pv_min_systolic_flow_ml_s, float)
    s_pk = np.maximum(np.asarray(pv_s_peak_ml_s, float), 0.0)
    d_pk = np.maximum(np.asarray(pv_d_peak_ml_s, float), 0.0)
    retro = np.maximum(-q_min, 0.0)
    rev = (retro > 0.0) & (retro >= PV_REVERSAL_REL_S * s_pk)
    code = np.where(rev, PV_CODES["reversal"], np.where(s_pk < d_pk, PV_CODES["blunted"], PV_CODES["normal"]))
    ok = np.isfinite(q_min) & np.isfinite(s_pk) & np.isfinite(d_pk)
    return np.where(ok, code, PV_CODES[None]).astype(np.int64)
