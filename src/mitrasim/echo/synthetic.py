"""Synthetic echo: what a sonographer would report from one simulated steady beat.

A pure function of the engine's waveforms (one patient; see :func:`synthetic_echo`
for the keys), plus an explicit random generator when measurement noise is wanted.

Conventions and assumptions:

- Time: `t_s` is uniform over one period, with or without the end point
  (detected from `hr_bpm`); integrals are periodic sums ``Σ x · dt``.
- Diastole is the complement of the longest span without forward mitral flow
  (flow ≤ `flow_threshold_rel` × peak); it holds E, diastasis and A, as a CW
  envelope traced from the onset of E to the end of A. The rest is "systole"
  (isovolumic periods included), used for the pulmonary-vein pattern.
- MR velocity: v(t) = q_mr(t) / EROA (cm/s), so Vmax = peak q_mr / EROA and
  VTI = ∫ v dt. PISA is read at peak regurgitant flow with an aliasing velocity
  Va: radius r = sqrt(Q_peak / (2π Va)); EROA = 2π r² Va / Vmax; RVol = EROA × VTI.
  Without noise these return the model's EROA and ∫ q_mr dt exactly.
- Vena contracta: the orifice is an ellipse of area EROA and long/short axis
  ratio `vc_aspect_ratio` (1 = circle, for a primary MR jet; secondary MR
  orifices along the coaptation line are elliptical, e.g. 2–3); the 2-D width
  reported is the short axis, 2 sqrt(EROA / (π · ratio)).
- Volumetric: total SV = max(v_lv) − min(v_lv); forward SV = ∫ max(q_av, 0) dt
  (what LVOT Doppler sees); RVol_volumetric = total − forward; RF = RVol / total.
- Mean gradient: 4 v² with v = q_mv / MVA (m/s), averaged over diastole; E velocity
  is the first peak of that velocity in diastole.
- Pulmonary veins: S wave = the vein's forward flow during ventricular systole, D wave =
  during diastole; ``"reversal"`` only when the retrograde systolic peak reaches
  ``PV_REVERSAL_REL_S`` × the forward S peak (:mod:`mitrasim.echo.signs`, the one echo path's
  rule; a brief negative dip is not a reversal), else ``"blunted"`` if the S peak is below the
  D peak, else ``"normal"`` (systolic dominance); `pv_s_d_ratio` is S peak / D peak.
- CW envelope of the MR jet (:mod:`mitrasim.echo.signs`): density = ∫q_mr / ∫q_mv over the
  beat; contour from the v wave (LA pressure's maximum while the mitral valve is shut) above
  the mean LA pressure (triangular when large); LV size from the 2D LVEDV and LVEF.

Checked against the closed-loop engine (``regazzoni2022``, tests/test_echo_simulated.py):
its beat starts at ventricular contraction onset, so diastole wraps around the
end of the arrays (handled: the masks are circular); E comes before A; peak MR
is systolic, though a small diastolic leak through the orifice (< 5 % of the
regurgitant volume) is counted in the VTI, as the engine's own RVol does; its
pulmonary-vein flow is "blunted" even with a competent valve and shows no
systolic reversal up to EROA 0.6 cm² in that preset (a property of the model).
Use :func:`echo_from_simulation` to measure a ``SimulationResult`` directly.

Noise (optional, ``noise=True`` with a ``numpy.random.Generator``): multiplicative
Gaussian errors with relative SDs from :data:`NOISE_SOURCES` (configurable via
:class:`NoiseModel`). The PISA radius error enters squared into EROA and RVol,
as it does at the bedside.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np

from mitrasim import citations
from mitrasim.echo import sources as _sources  # noqa: F401
from mitrasim.echo.calculators import vena_contracta_cm
from mitrasim.echo.grading import MRGrade, MRInputs, decision_grade, grade_mr
from mitrasim.echo.signs import (
    CW_LABELS,
    LV_LABELS,
    PV_LABELS,
    cw_density_ratio,
    cw_envelope_code,
    lv_size_code,
    pv_pattern_code,
    v_wave_above_mean_mmhg,
)
from mitrasim.errors import InputError

__all__ = [
    "EchoMeasurements",
    "NoiseModel",
    "NOISE_SOURCES",
    "synthetic_echo",
    "simulation_waveforms",
    "echo_from_simulation",
    "echo_from_simulation_all",
    "measurement_columns",
    "WAVEFORM_KEYS",
    "SCALAR_KEYS",
]

WAVEFORM_KEYS: tuple[str, ...] = (
    "t_s",
    "v_lv_ml",
    "v_la_ml",
    "p_la_mmhg",
    "p_lv_mmhg",
    "p_ao_mmhg",
    "q_mv_ml_s",
    "q_mr_ml_s",
    "q_av_ml_s",
    "q_pvein_ml_s",
)
SCALAR_KEYS: tuple[str, ...] = ("eroa_cm2", "mva_cm2", "hr_bpm")

#: Default relative SD of each measurement, its source and how well it was checked.
#: pisa_radius: inter-observer 0.1% ± 13.8% at Va 27–29 cm/s (PubMed 15077090); the
#: squared radius then gives ~28% on EROA, of the order of the 17–21 mm² replicate
#: SD of difference reported for PISA EROA (Zolgharni 2013).
NOISE_SOURCES: dict[str, tuple[float, tuple[str, ...], str]] = {
    "pisa_radius": (0.138, ("pisa_reproducibility_pmid15077090", "zolgharni2013_aquro"), "src"),
    "vena_contracta": (0.10, ("biner2010",), "check"),
    "doppler_velocity": (0.05, (), "check"),
    "lv_volume": (0.10, (), "check"),
    "forward_sv": (0.10, (), "check"),
}


@dataclass(frozen=True)
class NoiseModel:
    """Relative SDs (fraction of the value) of multiplicative Gaussian measurement errors."""

    pisa_radius: float = NOISE_SOURCES["pisa_radius"][0]
    vena_contracta: float = NOISE_SOURCES["vena_contracta"][0]
    doppler_velocity: float = NOISE_SOURCES["doppler_velocity"][0]
    lv_volume: float = NOISE_SOURCES["lv_volume"][0]
    forward_sv: float = NOISE_SOURCES["forward_sv"][0]


@dataclass
class EchoMeasurements:
    """What the sonographer reports (units in the names). ``None`` where not measurable."""

    eroa_cm2: float
    pisa_radius_cm: float
    aliasing_cm_s: float
    peak_mr_flow_ml_s: float
    mr_vmax_cm_s: float
    mr_vti_cm: float
    rvol_ml: float
    rvol_volumetric_ml: float
    rf_pct: float
    vc_cm: float
    mean_gradient_mmhg: float | None
    e_velocity_m_s: float | None
    pv_flow: str | None
    lvedv_ml: float
    lvesv_ml: float
    lvef_pct: float
    total_sv_ml: float
    forward_sv_ml: float
    mva_cm2: float
    hr_bpm: float
    vc_aspect_ratio: float = 1.0
    pv_s_d_ratio: float | None = None
    cw_density: str | None = None
    cw_density_ratio: float | None = None
    v_wave_above_mean_mmhg: float | None = None
    lv_size: str | None = None
    noisy: bool = False
    citations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def mr_inputs(self) -> MRInputs:
        """The grading inputs: EROA, RVol (PISA), RF (volumetric), VC, PISA radius, PV flow, E velocity,
        CW envelope.

        With no regurgitant jet (EROA 0) the volumetric RF, which is then only
        measurement round-off, is left out, as a sonographer would.
        """
        has_mr = self.eroa_cm2 > 0.0
        return MRInputs(
            eroa_cm2=self.eroa_cm2,
            rvol_ml=self.rvol_ml,
            rf_pct=self.rf_pct if has_mr else None,  # no jet seen: volumetric RF not reported
            vc_cm=self.vc_cm,
            pisa_radius_cm=self.pisa_radius_cm if has_mr and self.pisa_radius_cm > 0 else None,
            aliasing_cm_s=self.aliasing_cm_s if has_mr and self.pisa_radius_cm > 0 else None,
            pv_flow=self.pv_flow,
            e_velocity_m_s=self.e_velocity_m_s,
            cw_density=self.cw_density if has_mr else None,
            lv_size=self.lv_size,
        )

    def grade(self, *, etiology: str = "primary", guideline: str = "ase2017", elliptical_orifice: bool = False, low_flow: bool = False) -> MRGrade:
        """Grade these measurements with :func:`mitrasim.echo.grading.grade_mr`."""
        return grade_mr(self.mr_inputs(), etiology=etiology, guideline=guideline, elliptical_orifice=elliptical_orifice, low_flow=low_flow)


def _arrays(w: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    arr: dict[str, np.ndarray] = {}
    n = None
    for k in WAVEFORM_KEYS:
        if k not in w:
            raise InputError(f"waveforms.{k}", None, "a 1-D array over one beat", "missing key")
        a = np.asarray(w[k], dtype=float)
        if a.ndim != 1 or a.size < 8 or not np.all(np.isfinite(a)):
            raise InputError(f"waveforms.{k}", f"array shape {a.shape}", "finite 1-D array with >= 8 samples")
        if n is not None and a.size != n:
            raise InputError(f"waveforms.{k}", f"length {a.size}", f"same length as t_s ({n})")
        n = a.size
        arr[k] = a
    sc: dict[str, float] = {}
    for k, lo, hi in (("eroa_cm2", 0.0, 5.0), ("mva_cm2", 0.0, 15.0), ("hr_bpm", 20.0, 250.0)):
        if k not in w:
            raise InputError(f"waveforms.{k}", None, "a scalar", "missing key")
        x = float(np.asarray(w[k]).reshape(()))
        if not (math.isfinite(x) and lo <= x <= hi) or (k == "mva_cm2" and x == 0.0):
            raise InputError(f"waveforms.{k}", x, f"[{lo:g}, {hi:g}]" + (" and > 0" if k == "mva_cm2" else ""))
        sc[k] = x
    for k in ("q_mv_ml_s", "q_mr_ml_s"):
        if np.min(arr[k]) < -1e-9 * max(1.0, np.max(np.abs(arr[k]))):
            raise InputError(f"waveforms.{k}", float(np.min(arr[k])), ">= 0 everywhere (one-way flow)")
    t = arr["t_s"]
    dt = np.diff(t)
    if np.any(dt <= 0) or np.ptp(dt) > 1e-6 * max(dt.mean(), 1e-12) + 1e-12:
        raise InputError("waveforms.t_s", "non-uniform", "uniform, increasing samples over one period")
    return arr, sc


def _periodic(arr: dict[str, np.ndarray], hr_bpm: float) -> tuple[dict[str, np.ndarray], float]:
    """Drop a duplicated end point (t[-1] − t[0] == period) and return the samples and dt."""
    t = arr["t_s"]
    dt = float(t[1] - t[0])
    period = 60.0 / hr_bpm
    if abs((t[-1] - t[0]) - period) < 0.5 * dt:
        return {k: v[:-1] for k, v in arr.items()}, dt
    return arr, dt


def _diastole_mask(q_mv: np.ndarray, rel: float) -> np.ndarray:
    """True in diastole: everything outside the longest circular span without forward mitral flow."""
    n = q_mv.size
    peak = float(np.max(q_mv))
    if peak <= 0.0:
        return np.zeros(n, dtype=bool)
    flow = q_mv > rel * peak
    if flow.all():
        return np.ones(n, dtype=bool)
    start = int(np.argmax(flow))  # roll so index 0 has flow; runs of no-flow are then contiguous
    rolled = np.roll(~flow, -start)
    best_len, best_at, run, at = 0, 0, 0, 0
    for i, nf in enumerate(rolled):
        if nf:
            if run == 0:
                at = i
            run += 1
            if run > best_len:
                best_len, best_at = run, at
        else:
            run = 0
    dia_rolled = np.ones(n, dtype=bool)
    dia_rolled[best_at : best_at + best_len] = False
    return np.roll(dia_rolled, start)


def _e_peak(v: np.ndarray, dia: np.ndarray) -> float:
    """First local maximum of v within diastole, in time order (circular)."""
    n = v.size
    # time-ordered diastolic indices starting at the first diastolic sample after systole
    starts = np.flatnonzero(dia & ~np.roll(dia, 1))
    first = int(starts[0]) if starts.size else 0
    order = [(first + i) % n for i in range(n) if dia[(first + i) % n]]
    seq = v[order]
    top = float(seq.max())
    for i in range(1, seq.size - 1):
        if seq[i] >= seq[i - 1] and seq[i] > seq[i + 1] and seq[i] >= 0.3 * top:
            return float(seq[i])
    return top


def _pv_pattern(q: np.ndarray, dia: np.ndarray) -> tuple[str | None, float | None]:
    """(pattern, S/D peak ratio) of the pulmonary-vein flow over one beat, by the one rule of
    :func:`mitrasim.echo.signs.pv_pattern_code` (S: peak forward flow during ventricular systole,
    ``~dia``; D: during diastole; reversal against the S peak)."""
    if dia.all() or not dia.any():
        return None, None
    s_peak, d_peak = max(float(q[~dia].max()), 0.0), max(float(q[dia].max()), 0.0)
    code = pv_pattern_code(np.array([q[~dia].min()]), np.array([s_peak]), np.array([d_peak]))
    return PV_LABELS[int(code[0])], (s_peak / d_peak if d_peak > 0.0 else None)


def _cw_envelope(arr: dict[str, np.ndarray], dia: np.ndarray, eroa_cm2: float, q_peak: float, dt: float) -> tuple[str | None, float | None, float | None]:
    """(CW envelope label, density ratio, v wave above the mean LA pressure) of the MR jet
    (:mod:`mitrasim.echo.signs`); no envelope without a jet, no v wave without a diastole."""
    if dia.all() or not dia.any():
        return None, None, None
    p_la = arr["p_la_mmhg"]
    v_wave = v_wave_above_mean_mmhg(np.array([p_la[~dia].max()]), np.array([p_la.mean()]))
    if eroa_cm2 <= 0.0 or q_peak <= 0.0:
        return None, None, float(v_wave[0])
    ratio = cw_density_ratio(np.array([arr["q_mr_ml_s"].sum() * dt]), np.array([arr["q_mv_ml_s"].sum() * dt]))
    code = cw_envelope_code(ratio, v_wave, np.array([True]))
    return CW_LABELS[int(code[0])], float(ratio[0]), float(v_wave[0])


@dataclass(frozen=True)
class _ErrorFactors:
    """Multiplicative measurement errors: ``self(sd)`` is 1 + sd·N(0, 1) (kept ≥ 0.05) drawn from
    ``rng``, or exactly 1 without noise (``rng`` None) or for a zero SD."""

    nm: NoiseModel
    rng: np.random.Generator | None

    def __call__(self, sd: float) -> float:
        if self.rng is None or sd <= 0.0:
            return 1.0
        return max(0.05, 1.0 + sd * float(self.rng.standard_normal()))


@dataclass(frozen=True)
class _Jet:
    """The MR jet as measured: CW Vmax and VTI, PISA radius and EROA, RVol = EROA·VTI, vena contracta."""

    vmax_cm_s: float = 0.0
    vti_cm: float = 0.0
    pisa_radius_cm: float = 0.0
    eroa_cm2: float = 0.0
    rvol_ml: float = 0.0
    vc_cm: float = 0.0


def _jet(q_mr: np.ndarray, eroa_true: float, dt: float, aliasing_cm_s: float, vc_aspect_ratio: float, err: _ErrorFactors) -> _Jet:
    """PISA and CW of the MR jet (module docstring): all zero without a regurgitant orifice or flow."""
    q_peak = float(q_mr.max())
    if not (eroa_true > 0.0 and q_peak > 0.0):
        return _Jet()
    vel_f = err(err.nm.doppler_velocity)
    vmax = q_peak / eroa_true * vel_f
    vti = float(q_mr.sum() * dt) / eroa_true * vel_f
    r = math.sqrt(q_peak / (2.0 * math.pi * aliasing_cm_s)) * err(err.nm.pisa_radius)
    # PISA not applicable below the aliasing velocity: the orifice is reported as imaged
    eroa = 2.0 * math.pi * r * r * aliasing_cm_s / vmax if vmax > aliasing_cm_s else eroa_true
    vc = vena_contracta_cm(eroa_true, vc_aspect_ratio) * err(err.nm.vena_contracta)
    return _Jet(vmax, vti, r, eroa, eroa * vti, vc)


@dataclass(frozen=True)
class _Volumes:
    """LV volumes and the volumetric method: total SV = EDV − ESV, RVol = total − forward SV."""

    edv_ml: float
    esv_ml: float
    total_sv_ml: float
    forward_sv_ml: float
    rvol_ml: float
    rf_pct: float
    ef_pct: float


def _volumes(arr: dict[str, np.ndarray], dt: float, err: _ErrorFactors) -> _Volumes:
    """EDV, ESV (one LV-volume error each), forward SV from ∫max(q_av, 0) (LVOT Doppler), the
    volumetric RVol and RF, and the LVEF."""
    edv = float(arr["v_lv_ml"].max()) * err(err.nm.lv_volume)
    esv = min(float(arr["v_lv_ml"].min()) * err(err.nm.lv_volume), edv)
    total_sv = edv - esv
    fwd = float(np.clip(arr["q_av_ml_s"], 0.0, None).sum() * dt) * err(err.nm.forward_sv)
    rvol = max(total_sv - fwd, 0.0)
    if rvol <= 1e-9 * max(total_sv, 1.0):  # round-off of an exact mass balance
        rvol = 0.0
    rf = min(100.0 * rvol / total_sv if total_sv > 0 else 0.0, 100.0)
    ef = 100.0 * total_sv / edv if edv > 0 else 0.0
    return _Volumes(edv, esv, total_sv, fwd, rvol, rf, ef)


def _diastolic_velocities(q_mv: np.ndarray, mva_cm2: float, dia: np.ndarray, err: _ErrorFactors) -> tuple[float | None, float | None]:
    """Mean gradient (4v² averaged over diastole) and E velocity, with v = q_mv / MVA (m/s); both
    None without diastolic forward flow."""
    if not dia.any():
        return None, None
    v_m_s = q_mv / mva_cm2 / 100.0
    dop = err(err.nm.doppler_velocity)
    mean_grad = float(np.mean(4.0 * v_m_s[dia] ** 2)) * dop * dop
    return mean_grad, _e_peak(v_m_s, dia) * err(err.nm.doppler_velocity)


def synthetic_echo(
    waveforms: Mapping[str, Any],
    *,
    rng: np.random.Generator | None = None,
    noise: bool = False,
    noise_model: NoiseModel | None = None,
    aliasing_cm_s: float = 40.0,
    vc_aspect_ratio: float = 1.0,
    flow_threshold_rel: float = 0.01,
) -> EchoMeasurements:
    """Echo measurements of one simulated steady beat.

    **Arguments:**

    - `waveforms`: mapping with 1-D arrays over one beat — `t_s` (uniform, 0 to
      the period), `v_lv_ml`, `v_la_ml`, `p_la_mmhg`, `p_lv_mmhg`, `p_ao_mmhg`,
      `q_mv_ml_s` (forward mitral, ≥ 0), `q_mr_ml_s` (regurgitant, ≥ 0),
      `q_av_ml_s`, `q_pvein_ml_s` (negative = reversal) — and scalars
      `eroa_cm2`, `mva_cm2`, `hr_bpm`.
    - `rng`: a ``numpy.random.Generator``; required when `noise` is True.
    - `noise`: add measurement noise (relative SDs of `noise_model`).
    - `noise_model`: a :class:`NoiseModel`; default from :data:`NOISE_SOURCES`.
    - `aliasing_cm_s`: colour-Doppler aliasing velocity for PISA (cm/s).
    - `vc_aspect_ratio`: long/short axis ratio of the orifice (1 = circle).
    - `flow_threshold_rel`: fraction of peak flow below which flow counts as none.

    **Returns:** an :class:`EchoMeasurements`; grade it with ``.grade()``.

    **Raises:** `InputError` for a missing key, ragged or non-uniform arrays,
    negative one-way flows, or out-of-range scalars.
    """
    arr, sc = _arrays(waveforms)
    arr, dt = _periodic(arr, sc["hr_bpm"])
    if noise and rng is None:
        raise InputError("rng", None, "a numpy.random.Generator when noise=True")
    if not (0.0 < aliasing_cm_s <= 200.0):
        raise InputError("aliasing_cm_s", aliasing_cm_s, "(0, 200] cm/s")
    err = _ErrorFactors(nm=noise_model or NoiseModel(), rng=rng if noise else None)
    eroa_true, mva = sc["eroa_cm2"], sc["mva_cm2"]
    q_peak = float(arr["q_mr_ml_s"].max())
    # the error factors are drawn in this order: jet, volumes, diastole (a seeded study is reproducible)
    jet = _jet(arr["q_mr_ml_s"], eroa_true, dt, aliasing_cm_s, vc_aspect_ratio, err)
    vol = _volumes(arr, dt, err)
    dia = _diastole_mask(arr["q_mv_ml_s"], flow_threshold_rel)
    mean_grad, e_vel = _diastolic_velocities(arr["q_mv_ml_s"], mva, dia, err)
    pv, pv_sd = _pv_pattern(arr["q_pvein_ml_s"], dia)
    cw, cw_ratio, cw_rise = _cw_envelope(arr, dia, eroa_true, q_peak, dt)

    keys = ["zoghbi2017"] + (list(dict.fromkeys(s for v in NOISE_SOURCES.values() for s in v[1])) if noise else [])
    citations.cite(*keys)
    return EchoMeasurements(
        eroa_cm2=jet.eroa_cm2,
        pisa_radius_cm=jet.pisa_radius_cm,
        aliasing_cm_s=float(aliasing_cm_s),
        peak_mr_flow_ml_s=q_peak,
        mr_vmax_cm_s=jet.vmax_cm_s,
        mr_vti_cm=jet.vti_cm,
        rvol_ml=jet.rvol_ml,
        rvol_volumetric_ml=vol.rvol_ml,
        rf_pct=vol.rf_pct,
        vc_cm=jet.vc_cm,
        mean_gradient_mmhg=mean_grad,
        e_velocity_m_s=e_vel,
        pv_flow=pv,
        pv_s_d_ratio=pv_sd,
        lvedv_ml=vol.edv_ml,
        lvesv_ml=vol.esv_ml,
        lvef_pct=vol.ef_pct,
        total_sv_ml=vol.total_sv_ml,
        forward_sv_ml=vol.forward_sv_ml,
        mva_cm2=mva,
        hr_bpm=sc["hr_bpm"],
        vc_aspect_ratio=vc_aspect_ratio,
        cw_density=cw,
        cw_density_ratio=cw_ratio,
        v_wave_above_mean_mmhg=cw_rise,
        lv_size=LV_LABELS[int(lv_size_code(np.array([vol.edv_ml]), np.array([vol.ef_pct]))[0])],
        noisy=noise,
        citations=keys,
    )


def _n_patients(result: Any) -> int:
    return int(np.asarray(result.parameters["eroa_cm2"]).shape[0])


def simulation_waveforms(result: Any, i: int = 0) -> dict[str, Any]:
    """The mapping :func:`synthetic_echo` expects, for patient `i` of a simulation result.

    `result` is a :class:`mitrasim.physiology.simulation.SimulationResult` run with
    ``waveforms=True`` (duck-typed: ``patient_waveforms(i)`` and ``parameters``).
    The arrays are the engine's (one steady beat, uniform steps, no end point; in
    ``regazzoni2022`` the beat starts at ventricular contraction onset); the
    scalars `eroa_cm2`, `mva_cm2`, `hr_bpm` come from ``result.parameters``.

    **Raises:** `InputError` (field `result.waveforms`) if the result has no
    waveforms, (field `i`) if `i` is not a patient of it.
    """
    n = _n_patients(result)
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -n <= int(i) < n:
        raise InputError("i", i, f"a patient index in [0, {n - 1}]")
    if getattr(result, "waveforms", None) is None:
        raise InputError("result.waveforms", None, "a result of simulate(..., waveforms=True)")
    wf = result.patient_waveforms(int(i))
    out: dict[str, Any] = {k: wf[k] for k in WAVEFORM_KEYS if k in wf}
    for k in SCALAR_KEYS:
        out[k] = float(np.asarray(result.parameters[k])[int(i)])
    return out


def echo_from_simulation(
    result: Any,
    i: int = 0,
    *,
    noise: bool = False,
    rng: np.random.Generator | None = None,
    noise_model: NoiseModel | None = None,
    aliasing_cm_s: float = 40.0,
    vc_aspect_ratio: float = 1.0,
    flow_threshold_rel: float = 0.01,
) -> EchoMeasurements:
    """Synthetic echo of patient `i` of a simulation result (see :func:`simulation_waveforms`).

    Keyword arguments as :func:`synthetic_echo`. Grade the result with ``.grade()``.
    """
    return synthetic_echo(
        simulation_waveforms(result, i),
        rng=rng,
        noise=noise,
        noise_model=noise_model,
        aliasing_cm_s=aliasing_cm_s,
        vc_aspect_ratio=vc_aspect_ratio,
        flow_threshold_rel=flow_threshold_rel,
    )


def echo_from_simulation_all(result: Any, **kwargs: Any) -> list[EchoMeasurements]:
    """:func:`echo_from_simulation` for every patient of `result`, in order.

    With ``noise=True`` the one `rng` is drawn from patient by patient, so a
    seed gives the whole cohort reproducibly.
    """
    return [echo_from_simulation(result, i, **kwargs) for i in range(_n_patients(result))]


def measurement_columns(
    measurements: list[EchoMeasurements], *, etiology: str = "primary", guideline: str = "ase2017"
) -> dict[str, np.ndarray]:
    """Columns over patients: every numeric field of :class:`EchoMeasurements`
    (NaN where not measurable), `pv_flow` (object array), and the guideline
    grade (`grade`: labels, `grade_number`: NaN when indeterminate; `decision_grade`: the
    grade or, when indeterminate, the named most-likely grade).
    """
    cols: dict[str, np.ndarray] = {}
    skip = {"citations", "noisy", "pv_flow", "cw_density", "lv_size"}
    for name in EchoMeasurements.__dataclass_fields__:
        if name in skip:
            continue
        cols[name] = np.array([np.nan if getattr(m, name) is None else float(getattr(m, name)) for m in measurements])
    cols["pv_flow"] = np.array([m.pv_flow for m in measurements], dtype=object)
    cols["cw_density"] = np.array([m.cw_density for m in measurements], dtype=object)
    cols["lv_size"] = np.array([m.lv_size for m in measurements], dtype=object)
    grades = [m.grade(etiology=etiology, guideline=guideline) for m in measurements]
    cols["grade"] = np.array([g.grade for g in grades], dtype=object)
    cols["grade_number"] = np.array([np.nan if g.grade_number is None else float(g.grade_number) for g in grades])
    cols["decision_grade"] = np.array([decision_grade(g) for g in grades], dtype=np.int64)
    return cols
