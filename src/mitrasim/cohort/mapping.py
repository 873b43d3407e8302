"""From a sampled virtual patient to engine parameters and a valve on a common grid (vectorised).

Baseline fit (the default, :data:`BASELINE_MAPPING` ``"fit"``; :func:`engine_inputs`)
------------------------------------------------------------------------------------
Each patient's engine baseline is fitted to its own sampled measurements, the calibration's
measurement model (:func:`baseline_sds`): SBP (cuff), LVEDV and LVEF (2D echo, compared in engine
terms, below), EROA (PISA) and forward stroke volume (LVOT Doppler, when the population samples it),

    min_u  Σ_k ((m_k(u) − y_k)/σ_k)²  +  Σ_j (prior_j(u))²,

over ln(LV contractility, LV passive stiffness, systemic resistance), the stressed blood volume
and ln EROA (:func:`fit_baselines`: batched Levenberg–Marquardt, one or two engine calls per
iteration, started from a learnt guess, :func:`_initial_guess`, whose regressions also take the first
step and start every point near its steady state, :func:`_guess_model`).  The patient's valve is scaled to the fitted
EROA (:func:`mitrasim.cohort.adapter.with_fitted_eroa`).  A patient with every residual within
:data:`FIT_WITHIN_SD` is ``fit_ok``; the others are flagged and counted (report), not hidden.  The
populations' flow balance (:mod:`mitrasim.cohort.population`) makes the sampled values one heart's,
so the fit can reach them.

Table mapping (``"table"``, the earlier default; documented model choices)
---------------------------------------------------------------------------
* **Preset**: the population's preset for the patient's etiology (``secondary_mr`` /
  ``primary_mr``); if that preset is not (yet) registered in
  :mod:`mitrasim.physiology.parameter_sets`, ``regazzoni2022`` is used and the
  ``preset`` column says so.
* **Echo volumes → engine volumes**: the shipped populations' LVEDV and LVEF are 2D
  echocardiography core-lab values, and 2D echo underestimates LV volumes: against
  cardiac MR by :data:`ECHO_2D_EDV_BIAS_ML` at end-diastole and
  :data:`ECHO_2D_ESV_BIAS_ML` at end-systole, with no bias in LVEF (meta-analysis of
  65 studies, Rigolli 2016).  The engine's LV is a physical volume, so with
  ``lv_volume_method="echo_2d"`` (the default) it is fitted to the CMR-equivalent
  ``EDV = LVEDV + ECHO_2D_EDV_BIAS_ML`` and ``ESV = LVEDV·(1 − LVEF) + ECHO_2D_ESV_BIAS_ML``;
  ``"cmr"`` takes the sampled volumes as they are.  Taken literally, the 2D volumes of
  a COAPT-like patient (the population's mean LVEF and LVEDV) leave a total stroke volume of 60 mL,
  of which the regurgitant volume at its mean EROA is about 43 mL: the COAPT-like
  population then has a median forward output near 1 L/min and a median simulated
  systolic pressure of 71 mmHg (``benchmarks/cohort.py --plausibility``), i.e.
  cardiogenic shock.
* **LV contractility and size**: the chambers are linear in the stressed volume
  ``V − V0``, so shifting the LV unstressed volume ``lv_v0_ml`` by Δ shifts EDV and
  ESV by Δ and leaves the stroke volume unchanged.  The total stroke volume the
  patient should have is ``SV* = EDV − ESV`` (above; ``LVEF · LVEDV`` for ``"cmr"``).  A table of simulated total SV and
  EDV over LV active-elastance scale × EROA (:func:`lv_table`, computed once per
  preset and solver setting) is inverted for the ``lv_ea_mmhg_ml`` scale giving
  ``SV*`` at the patient's EROA (the scale is clipped to the table's range), then
  ``lv_v0_ml`` is shifted so that the engine's EDV is the target EDV.  ``V0`` can only grow (it is ≥ 0), so
  when the table's EDV at ``SV*`` is already above LVEDV the LV is made stiffer
  first: the table has a third axis, the LV passive elastance scale
  (:data:`_EB_SCALES`), and the smallest stiffness whose EDV at ``SV*`` does not
  exceed the target EDV is used (the stiffest if none).  The table is built at the
  preset's heart rate, blood pressure and a normal MVA, and a target stroke volume
  beyond the table's reach is clipped, so the simulated EF/EDV (reported as
  ``lvef_sim_pct``/``lvedv_sim_ml``) differ from the targets: on the shipped
  populations the LVEF is 4–6 points lower on average and the EDV a few mL higher
  (``benchmarks/cohort.py --plausibility``).  Requiring only ``V0 ≥ 0`` (not
  ``V0 ≥`` the preset's) in the stiffness choice halves the LVEF gap, but the larger
  diastolic flow then raises post-clip gradients above the 5 mmHg release limit
  more often; that needs the procedure's forward coefficient re-calibrated with it.
* **Blood pressure**: the systemic arterial resistance is scaled by
  ``sbp_mmhg / SBP_preset`` (a proportional model choice; the simulated SBP is
  reported).
* **Heart rate**: ``hr_bpm`` as sampled.

Valve mapping
-------------
Every patient's coaptation line (length = intercommissural diameter) is cut
into :data:`N_GRID` equal cells, so a chunk's valves are ``(n, N_GRID)`` arrays.
The geometry is :mod:`mitrasim.valve.geometry`'s (its functions are used):
a lesion bump of width ``lesion_width_frac · L`` — flail (flat-topped, p = 4)
or prolapse (p = 2) centred on the sampled segment for primary MR; tethering
(p = 2) centred at 0.55 L for secondary MR — scaled to the sampled EROA
(:func:`mitrasim.valve.fit.fit_to_measured`'s rule); an elliptic opening with
tenting-reduced mobility (secondary MR) scaled to the sampled MVA.  Leaflet
heights per segment: the sampled anterior (A2) / posterior (P2) length, the
lateral scallops scaled like the defaults (A1 = A3 = 21/24 · A2, P1 = P3 = 10/13 · P2).

Lesion extent of primary MR (``lesion_extent``, model shapes): ``single`` as
above; ``multi_segment`` spans the sampled segment and its neighbour (segment
1 or 3 → with 2; segment 2 → with 3), width at least 80% of the two;
``bileaflet`` both leaflets prolapse at the sampled segment (never a flail:
bileaflet flail is an EVEREST II exclusion) with redundant leaflets;
``barlow`` a bileaflet prolapse over 80% of the line centred, with redundant
leaflets; ``commissural`` centred at 10% (segment 1) or 90% (else) of the line,
at most 20% of it wide.  Redundant leaflets are :data:`REDUNDANT_LEAFLET_FACTOR`
longer than sampled (model choice [check]).  Leaflet calcification (one grade
for the whole line; the baseline opening's mobility) and annular calcification
(MAC) grade are taken as sampled; lesion kind per cell and tenting depth go to
the valve for the clip model (:mod:`mitrasim.valve.clip`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice, repeat
from typing import TYPE_CHECKING, Any, Generator, Iterable, TypeVar, get_args

import numpy as np
import pyarrow as pa

from mitrasim import citations
from mitrasim.cohort import sources as _sources  # noqa: F401  (registers the cohort's sources)
from mitrasim.cohort.columns import level_mask, level_values
from mitrasim.echo.lv_bias import ECHO_2D_EDV_BIAS_ML, ECHO_2D_ESV_BIAS_ML, LvVolumeMethod  # re-exported (one definition, in echo)
from mitrasim.errors import InputError
from mitrasim.physiology.parameter_sets import PARAMETER_SETS, ParameterSet, get_parameter_set
from mitrasim.physiology.parameters import N_STATE, STRESSED_VOLUME_SHIFT
from mitrasim.physiology.simulation import SolverSettings, override_columns, presets_mergeable, require_float64, simulate, simulate_presets
from mitrasim.valve import geometry as geo

if TYPE_CHECKING:
    from mitrasim.procedure.hemodynamics import BatchHemo

__all__ = ["N_GRID", "ECHO_2D_EDV_BIAS_ML", "ECHO_2D_ESV_BIAS_ML", "LV_VOLUME_METHODS", "engine_lv_volumes", "resolve_preset", "lv_table", "regurgitant_vti_cm", "regurgitant_vti_at", "RegurgitantVti", "baseline_sds", "fit_baselines", "BaselineFit", "EngineInputs", "concat_engine_inputs", "engine_inputs", "ChunkValves", "chunk_valves", "valve_models"]

N_GRID = 64
LV_VOLUME_METHODS: tuple[str, ...] = get_args(LvVolumeMethod)
"""How a population's LVEDV/LVEF were measured (see the module docstring)."""
_EA_SCALES = np.geomspace(0.15, 3.0, 28)
_EROA_GRID = np.array([0.0, 0.15, 0.3, 0.45, 0.6, 0.8, 1.0, 1.3, 2.0])
_EB_SCALES = np.array([1.0, 1.5, 2.25, 3.4, 5.0, 7.5])
REDUNDANT_LEAFLET_FACTOR = {"bileaflet": 1.15, "barlow": 1.3}
"""Leaflet length factor for redundant (bileaflet, Barlow) valves (model choice [check])."""


def resolve_preset(name: str) -> str:
    """``name`` if the engine knows it, else :class:`InputError` (no fallback to another heart)."""
    if name not in PARAMETER_SETS:
        raise InputError("preset", name, "one of " + ", ".join(sorted(PARAMETER_SETS)))
    return name


def lv_table(preset: str, dt_max_s: float, tol: float) -> dict[str, np.ndarray]:
    """Simulated total SV and EDV over (LV passive scale, EROA, LV active scale), and the preset's SBP
    (cached; the preset's sources are cited on every call, as the engine cites them)."""
    citations.cite(*get_parameter_set(preset).citations)
    return _lv_table(preset, dt_max_s, tol)


@lru_cache(maxsize=16)
def _lv_table(preset: str, dt_max_s: float, tol: float) -> dict[str, np.ndarray]:
    pset = get_parameter_set(preset)
    ea0, eb0 = pset.values["lv_ea_mmhg_ml"], pset.values["lv_eb_mmhg_ml"]
    B, E, S = np.meshgrid(_EB_SCALES, _EROA_GRID, _EA_SCALES, indexing="ij")
    settings = SolverSettings(dt_max_s=dt_max_s, tol=tol, threads=1)
    res = simulate(
        preset,
        [{"lv_ea_mmhg_ml": float(ea0 * s), "lv_eb_mmhg_ml": float(eb0 * b)} for s, b in zip(S.ravel(), B.ravel())],
        eroa_cm2=E.ravel(),
        settings=settings,
    )
    base = simulate(preset, settings=settings)
    shape = E.shape
    return {
        "sv_ml": res.metrics["sv_ml"].reshape(shape),
        "edv_ml": res.metrics["edv_ml"].reshape(shape),
        "sbp_mmhg": float(base.metrics["sbp_mmhg"][0]),
        "ea0": float(ea0),
        "eb0": float(eb0),
        "v0": float(pset.values["lv_v0_ml"]),
        "r_sys": float(pset.values["sys_ar_r_mmhg_s_ml"]),
    }


_VTI_HR_GRID = np.array([40.0, 55.0, 70.0, 85.0, 100.0, 120.0, 150.0])
_VTI_EROA_GRID = np.array([0.05, 0.2, 0.4, 0.7, 1.2, 2.0])


def regurgitant_vti_cm(preset: str, hr_bpm: np.ndarray, eroa_cm2: np.ndarray, sbp_mmhg: np.ndarray) -> np.ndarray:
    """(n,) the engine's regurgitant velocity-time integral ``RVol / EROA`` (cm) of ``preset`` at each
    patient's heart rate, EROA and SBP: a table over heart rate × EROA at the preset's pressures
    (computed once, bilinear), scaled by Bernoulli's ``v ∝ √(P_LV − P_LA)`` with ``P_LV ≈ SBP`` and
    the preset's mean LA pressure (model approximation; the fit absorbs the rest through the EROA).
    The arguments broadcast together; :func:`regurgitant_vti_at` for many EROAs of the same patients."""
    hr, eroa, sbp = np.broadcast_arrays(np.asarray(hr_bpm, dtype=float), np.asarray(eroa_cm2, dtype=float), np.asarray(sbp_mmhg, dtype=float))
    return regurgitant_vti_at(preset, hr.ravel(), sbp.ravel())(eroa.ravel()).reshape(hr.shape)


@dataclass(frozen=True)
class RegurgitantVti:
    """:func:`regurgitant_vti_cm` of fixed patients at any EROA (:func:`regurgitant_vti_at`):
    ``rows`` ``(n, EROA grid)`` the table interpolated at each patient's heart rate, ``drive`` ``(n,)``
    the Bernoulli factor of its SBP; calling it with ``(n,)`` EROAs interpolates along the EROA (the
    same arithmetic, operation for operation, as the bilinear interpolation in one go)."""

    rows: np.ndarray
    drive: np.ndarray

    def __call__(self, eroa_cm2: np.ndarray) -> np.ndarray:
        e = np.clip(np.asarray(eroa_cm2, dtype=float), _VTI_EROA_GRID[0], _VTI_EROA_GRID[-1])
        j = np.clip(np.searchsorted(_VTI_EROA_GRID, e, side="right") - 1, 0, len(_VTI_EROA_GRID) - 2)
        t = (e - _VTI_EROA_GRID[j]) / (_VTI_EROA_GRID[j + 1] - _VTI_EROA_GRID[j])
        r = np.arange(len(e))
        return (self.rows[r, j] * (1 - t) + self.rows[r, j + 1] * t) * self.drive


def regurgitant_vti_at(preset: str, hr_bpm: np.ndarray, sbp_mmhg: np.ndarray) -> RegurgitantVti:
    """:func:`regurgitant_vti_cm` of patients with heart rates and SBPs ``(n,)`` as a function of their
    EROAs: what depends on the heart rate and the SBP computed once (the flow balance's iterations
    move the EROA alone, :func:`mitrasim.cohort.population.balance_flows`)."""
    citations.cite(*get_parameter_set(preset).citations)
    tab = _vti_table(preset)
    h = np.clip(np.asarray(hr_bpm, dtype=float), _VTI_HR_GRID[0], _VTI_HR_GRID[-1])
    i = np.clip(np.searchsorted(_VTI_HR_GRID, h, side="right") - 1, 0, len(_VTI_HR_GRID) - 2)
    s = (h - _VTI_HR_GRID[i]) / (_VTI_HR_GRID[i + 1] - _VTI_HR_GRID[i])
    v = tab["vti"]
    rows = v[i] * (1 - s)[:, None] + v[i + 1] * s[:, None]
    drive = np.maximum(np.asarray(sbp_mmhg, dtype=float) - tab["la_mmhg"], 1.0) / (tab["sbp_mmhg"] - tab["la_mmhg"])
    return RegurgitantVti(rows, np.sqrt(drive))


@lru_cache(maxsize=16)
def _vti_table(preset: str) -> dict[str, np.ndarray | float]:
    H, E = np.meshgrid(_VTI_HR_GRID, _VTI_EROA_GRID, indexing="ij")
    res = simulate(preset, hr_bpm=H.ravel(), eroa_cm2=E.ravel(), settings=SolverSettings(threads=1))
    base = simulate(preset, settings=SolverSettings(threads=1))
    return {"vti": (res.metrics["rvol_ml"] / E.ravel()).reshape(H.shape), "sbp_mmhg": float(base.metrics["sbp_mmhg"][0]),
            "la_mmhg": float(base.metrics["la_mean_mmhg"][0])}  # fmt: skip


def _rows_at_eroa(table: np.ndarray, eroa: np.ndarray) -> np.ndarray:
    """Linear interpolation of the table's rows (over EROA) at each patient's EROA → (n, n_scales)."""
    e = np.clip(eroa, _EROA_GRID[0], _EROA_GRID[-1])
    i = np.clip(np.searchsorted(_EROA_GRID, e, side="right") - 1, 0, len(_EROA_GRID) - 2)
    t = (e - _EROA_GRID[i]) / (_EROA_GRID[i + 1] - _EROA_GRID[i])
    return table[i] * (1 - t)[:, None] + table[i + 1] * t[:, None]


def _inverse_rows(x: np.ndarray, Y: np.ndarray, target: np.ndarray) -> np.ndarray:
    """For each row of ``Y`` (increasing in ``x``) the ``x`` with ``Y = target`` (clipped to the grid)."""
    Yc = np.maximum.accumulate(Y, axis=1)
    k = np.clip((Yc < target[:, None]).sum(axis=1) - 1, 0, len(x) - 2)
    r = np.arange(len(target))
    y0, y1 = Yc[r, k], Yc[r, k + 1]
    t = np.clip((target - y0) / np.where(y1 > y0, y1 - y0, 1.0), 0.0, 1.0)
    return x[k] + t * (x[k + 1] - x[k])


def engine_lv_volumes(lvef_pct: np.ndarray, lvedv_ml: np.ndarray, method: LvVolumeMethod = "echo_2d") -> tuple[np.ndarray, np.ndarray]:
    """The engine's target ``(EDV, total SV)`` in mL for measured LVEF/LVEDV (module docstring)."""
    if method not in LV_VOLUME_METHODS:
        raise InputError("lv_volume_method", method, " | ".join(LV_VOLUME_METHODS))
    edv = np.asarray(lvedv_ml, dtype=float)
    esv = edv * (1.0 - np.asarray(lvef_pct, dtype=float) / 100.0)
    if method == "echo_2d":
        citations.cite("rigolli2016_lv_bias")
        edv, esv = edv + ECHO_2D_EDV_BIAS_ML, esv + ECHO_2D_ESV_BIAS_ML
    return edv, edv - esv


#: Baseline fit of a chunk: the engine parameters fitted to each patient's sampled SBP, LVEDV,
#: LVEF, EROA and forward stroke volume (the three engine scales multiplicative, fitted in log space).
#: Contractility sets the LVEF, passive stiffness the EDV at the filling pressure, systemic
#: resistance the SBP; the LV unstressed volume stays the preset's (with it in place of the
#: stiffness the fit ran into V0 = 0 for EVEREST-like volumes).
BASELINE_FREE = ("lv_ea_mmhg_ml", "lv_eb_mmhg_ml", "sys_ar_r_mmhg_s_ml")
#: The fourth fitted parameter: the patient's effective regurgitant orifice (ln EROA, no prior but
#: its own PISA measurement).  Identifiability: total SV = forward SV + RVol, and the three engine
#: scales fix the total SV (EDV, LVEF) and SBP; the measured forward SV then fixes RVol, i.e. the
#: EROA at the engine's LV–LA gradient, and the measured EROA weighs in with its PISA SD.  Without
#: it a patient whose forward SV, volumes and EROA disagree by the engine's orifice law cannot be
#: reached (measured, issue 12: 64–76 % within SD with three parameters).
BASELINE_EROA = "eroa_cm2"
#: The fitted measurements, in the order of the residual columns.
BASELINE_MEASURED = ("sbp_mmhg", "edv_ml", "ef_pct", "eroa_cm2", "forward_sv_ml")
BASELINE_FD_STEP = 1e-2
"""Forward-difference step of the chunk fit in ln(parameter): large against the trial tolerance's
noise in the metrics (warm starts)."""
BASELINE_ITERATIONS = 12
BASELINE_PRIOR_WIDTH = 2.0
"""How much wider than one patient's calibration prior (:mod:`mitrasim.calibrate.fit`) the chunk fit's
prior is (model choice).  A virtual patient is defined by its sampled measurements; the prior only has
to settle the directions they leave undetermined (passive stiffness against stressed volume), not hold
the determined ones near the preset.  With the single-patient prior (width 1) the high-output, large
hearts among a population's indicated patients stayed more than one SD below their sampled forward SV
(``test_indicated_trial_patients_are_reached_within_their_measurement_sd`` fails for everest2_like;
figures in ``benchmarks/RESULTS.md``)."""
BASELINE_SOLVER_TOL = 1e-3
"""Steady-state tolerance (``SolverSettings.tol``) of the fit's own engine calls, when the caller's is
coarser (the trials' 1e-2).  The step test compares Σz² at two warm-started points; at tol 1e-2 the
same point's whitened metrics differ by 0.012–0.014 SD between warm starts (EDV, LVEF; a secondary_mr
patient, measured), so Σz² by about 2·|z|·0.013, and near an optimum a Σz² difference δ is a move of √δ in the
residuals: for a patient the prior holds at |z| ≈ 1 the fit stops anywhere within about 0.15 SD, three
times :data:`BASELINE_Z_DONE` (two fits of the same patients differed by 0.147).  The state change
per beat that ends the run scales the metrics' distance from the limit cycle, so 1e-3 puts that noise
an order below the exit tolerance; warm-started points need few more beats."""
BASELINE_FD_TOL_FACTOR = 3.0
"""The forward-difference points' steady-state tolerance, as a multiple of their base point's
(:data:`BASELINE_SOLVER_TOL`): they start near their steady states (the base's state moved along the
guess model's slopes), and a coarser stop takes them there in fewer beats.

Bound.  A point stopped at tolerance ``τ`` carries whitened metric errors ``≈ c·τ``, so a
forward-difference column carries ``≈ c·(τ_base + τ_fd)/h`` (``h`` = :data:`BASELINE_FD_STEP`; the
base point's error enters every column) besides the step's truncation ``∝ h``.  The fit stops where
the Gauss–Newton step on its Jacobian vanishes (:func:`_gauss_newton_moves`), so a Jacobian ``J + E``
moves that stop by the difference of the two steps from the same point, ``J·(δ_{J+E} − δ_J)`` in
the whitened measurements (about ``|E|/|J|·|r|``: large only where the prior holds a patient off its
measurements ``r``).  The factor is the largest whose shift stays within ``BASELINE_Z_DONE / 2`` for
95 % of the fit's Jacobians, the other half of :data:`BASELINE_Z_DONE` left to the exit's own
linearisation (tested).  Measured at 1,424 tvt_mixed Jacobians (1,500 candidates, trial settings)
against central differences of points run to 1e-7: the columns' relative error (median / 95th
percentile), the shift (95th / 99th percentile, SD) and beats per point are, truncation alone 0.29 /
1.1 %; factor 1: 0.85 / 2.7 %, 0.009 / 0.022, 4.5 beats; 2: 1.3 / 3.7 %, 0.013 / 0.025, 3.8;
**3**: 1.7 / 5.1 %, 0.016 / 0.038, 3.3; 5: 2.4 / 7.1 %, 0.031 / 0.061, 2.7 (coapt_like at 3: 0.009 /
0.022).  The whole fit then lands as near the fit run to convergence as with factor 1
(``benchmarks/RESULTS.md``).  A lane's first beat is no shortcut: starting ``≈ 0.03`` (state scale)
from their steady states, no point is steady after one beat at these tolerances, and a first beat's
EDV misses a volume turn across the beat's start (the kernel's carried-over samples are not yet
set; up to 0.011 mL against the steady beat, measured), so ``min_beats`` stays 2."""
BASELINE_FD_OWN_TOL = True
"""Run forward-difference points to :data:`BASELINE_FD_TOL_FACTOR` × the base points' tolerance
(else to the base points' own)."""
BASELINE_Z_DONE = 0.05
"""A patient leaves the fit when every residual is below this many SDs."""
BASELINE_BOUNDS = (np.log(0.05), np.log(20.0))
"""Each parameter stays within these factors (ln) of the preset's value."""
BASELINE_EROA_RANGE_CM2 = (0.05, 2.0)
"""The fitted EROA stays inside the engine's orifice range."""
BASELINE_MAPPINGS = ("fit", "table")
BASELINE_MAPPING = "fit"
"""How :func:`engine_inputs` maps a sampled patient to its baseline (see there)."""
FIT_WITHIN_SD = 1.0
"""A patient is fitted when every simulated measurement is within this many SDs of the sampled one."""


@dataclass
class EngineInputs:
    """Per-patient engine inputs of one chunk and the quality of each patient's baseline fit."""

    presets: np.ndarray  # (n,) str: the preset actually used
    overrides: list[dict[str, float]]
    hr_bpm: np.ndarray
    fit_ok: np.ndarray | None = None  # (n,) bool: every fitted measurement within FIT_WITHIN_SD
    fit_z_max: np.ndarray | None = None  # (n,) largest |simulated − sampled| / SD
    eroa_cm2: np.ndarray | None = None  # (n,) the fitted EROA the patient's valve is scaled to (None: the sampled one)
    state: np.ndarray | None = None  # (n, 14) the fitted baseline's steady state (warm start of the awake baseline; None: cold)
    awake: BatchHemo | None = None  # the awake baseline states already simulated (the indication's), None: not yet
    valves: tuple[pa.Table, list[geo.ValveModel]] | None = None  # the patients' valves once built, with their table (shared by a chunk's arms)
    override_table: dict[str, np.ndarray] | None = None  # ``overrides`` as columns (the same numbers; None: not kept)

    def take(self, idx: np.ndarray) -> EngineInputs:
        """The inputs of patients ``idx`` (each patient's fit is its own: the batch does not change it)."""
        idx = np.asarray(idx, dtype=np.int64)
        pick = lambda a: None if a is None else a[idx]  # noqa: E731
        table = None if self.override_table is None else {k: v[idx] for k, v in self.override_table.items()}
        return EngineInputs(self.presets[idx], list(map(self.overrides.__getitem__, idx.tolist())), self.hr_bpm[idx], pick(self.fit_ok), pick(self.fit_z_max), pick(self.eroa_cm2),
                            pick(self.state), None if self.awake is None else self.awake.take(idx), override_table=table)  # fmt: skip

    def override_columns(self) -> dict[str, np.ndarray] | None:
        """The overrides as :func:`~mitrasim.physiology.simulation.simulate`'s override columns: the
        columns kept from the fit, else read from the dicts
        (:func:`~mitrasim.physiology.simulation.override_columns`)."""
        return self.override_table if self.override_table is not None else override_columns(self.overrides)


def concat_engine_inputs(parts: list[EngineInputs]) -> EngineInputs:
    """The inputs of several chunks' patients, in order (all fitted or none; awake states kept when every part has them)."""
    cat = lambda name: None if getattr(parts[0], name) is None else np.concatenate([getattr(x, name) for x in parts])  # noqa: E731
    awake = None
    if all(x.awake is not None for x in parts):
        from mitrasim.procedure.hemodynamics import BatchHemo  # lazy: the procedure imports the engine

        awake = BatchHemo.concat([x.awake for x in parts if x.awake is not None])
    table = None
    if all(x.override_table is not None for x in parts) and len({tuple(x.override_table or ()) for x in parts}) == 1:  # one set of names, in one order
        table = {k: np.concatenate([(x.override_table or {})[k] for x in parts]) for k in parts[0].override_table or ()}
    return EngineInputs(cat("presets"), [o for x in parts for o in x.overrides], cat("hr_bpm"), cat("fit_ok"), cat("fit_z_max"), cat("eroa_cm2"), cat("state"), awake,
                        override_table=table)  # fmt: skip


def baseline_sds(sbp: np.ndarray, edv: np.ndarray, ef: np.ndarray, eroa: np.ndarray, fwd_sv: np.ndarray) -> np.ndarray:
    """(n, 5) SD of each sampled measurement (:data:`BASELINE_MEASURED`): SBP by cuff, LVEDV and LVEF by
    2D echo, EROA by PISA, forward SV by LVOT Doppler (the forward output's relative SD); the
    calibration's defaults (:data:`mitrasim.calibrate.measurements.METHODS`, one definition)."""
    from mitrasim.calibrate.measurements import METHODS

    ms = (METHODS["sbp_mmhg"]["cuff"], METHODS["lvedv_ml"]["echo_2d"], METHODS["lvef_pct"]["echo_2d"], METHODS["eroa_cm2"]["pisa"],
          METHODS["co_l_min"]["doppler"])  # fmt: skip
    citations.cite(*(s for m in ms for s in m.sources))
    col = lambda m, v: m.sd * np.abs(v) if m.relative else np.full(len(v), m.sd)  # noqa: E731
    return np.stack([col(m, np.asarray(v, dtype=float)) for m, v in zip(ms, (sbp, edv, ef, eroa, fwd_sv))], axis=1)


@dataclass
class BaselineFit:
    """A chunk's fitted baselines: engine overrides per patient (:data:`BASELINE_FREE` and
    :data:`BASELINE_SHIFTS`), the EROA ``(n,)``, the residuals in SDs ``(n, 5)``
    (:data:`BASELINE_MEASURED`; 0 where a measurement is missing) and the steady state ``(n, 14)``
    of each patient's fitted point (start of its steady cycle at :data:`BASELINE_SOLVER_TOL`: the
    warm start of the patient's later baseline simulations)."""

    overrides: list[dict[str, float]]
    eroa_cm2: np.ndarray
    z: np.ndarray
    state: np.ndarray
    columns: dict[str, np.ndarray] | None = None  # ``overrides`` as columns (name → (n,), the same numbers, in the dicts' order)


#: Additive fitted parameters: (engine parameter, the state it is added to in a warm start), each
#: fitted in units of the calibration's prior SD: the stressed blood volume (the engine puts it in
#: the systemic veins).  Why: with the three scales alone the high-output patients (forward SV in the
#: top tenth) stayed below their forward SV; the circulating volume sets the venous return.  The LV
#: unstressed volume (``("lv_v0_ml", "v_lv_ml")``, LV size) was tried as well: +0.7 points of
#: patients within SD on one EVEREST II-like sample, at one more engine point per patient and
#: iteration (+17 %); not kept.
BASELINE_SHIFTS: tuple[tuple[str, str], ...] = ((STRESSED_VOLUME_SHIFT, "p_sys_ven_mmhg"),)


def _prior_sds() -> np.ndarray:
    """The calibration's prior SDs of :data:`BASELINE_SHIFTS`, mL (one definition)."""
    from mitrasim.calibrate.fit import FIT_PARAMETERS

    by = {p.name: p.prior_sd for p in FIT_PARAMETERS}
    return np.array([by[k] for k, _ in BASELINE_SHIFTS])


def _fit_overrides(u: np.ndarray, base: np.ndarray, sds: np.ndarray) -> dict[str, np.ndarray]:
    """Engine overrides of fit coordinates ``u`` ``(m, 6)`` as columns (parameter name → ``(m,)``,
    :func:`~mitrasim.physiology.simulation.simulate`'s override columns): ln of the
    :data:`BASELINE_FREE` scales, :data:`BASELINE_SHIFTS` in prior SDs about ``base``, ln EROA (not
    an override)."""
    q, s = len(BASELINE_FREE), len(BASELINE_SHIFTS)
    theta = np.exp(u[:, :q])
    add = base + u[:, q : q + s] * sds
    keys = (*BASELINE_FREE, *(k for k, _ in BASELINE_SHIFTS))
    return dict(zip(keys, np.column_stack([theta, add]).T))


def _override_dicts(columns: dict[str, np.ndarray]) -> list[dict[str, float]]:
    """Override columns as one dict of Python floats per patient (a patient's setup)."""
    return [dict(zip(columns, row)) for row in np.column_stack(list(columns.values())).tolist()]


BASELINE_GUESS = True
"""Start the fit from :func:`_initial_guess` (else from the preset)."""
BASELINE_LAZY_JACOBIAN = True
"""After the first iteration evaluate a step's point alone, and its forward-difference points only
when the exit test (with the Jacobian of the previous best point) says the patient still moves."""
BASELINE_MODEL_FIRST_STEP = True
"""Take the first step with the guess model's Jacobian (:func:`_model_jacobian`), so the first engine
call holds the starting points alone; the exit test uses forward differences only (:func:`fit_baselines`)."""
BASELINE_MODEL_STATES = True
"""Start each point from the patient's best state moved by the guess model's change of steady state
(the first points from the model's state; :func:`fit_baselines`), else from the best state with the
stressed-volume change alone moved in (the first points cold)."""
BASELINE_GUESS_POINTS = 1024
"""Synthetic patients per preset behind the fit's initial guess (:func:`_guess_model`)."""


def _fit_space(pset: ParameterSet, base: np.ndarray, sds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fit's coordinates at the preset ``u0`` ``(p,)`` and their bounds ``lo``, ``hi``
    (:data:`BASELINE_BOUNDS` and the parameters' own ranges; ``hi`` leaves room for the
    forward-difference step); ``base``, ``sds``: the preset's :data:`BASELINE_SHIFTS` and their prior SDs."""
    from mitrasim.physiology.parameters import SPECS

    q = len(BASELINE_FREE)
    u0 = np.concatenate([np.log([pset.values[k] for k in BASELINE_FREE]), np.zeros(len(BASELINE_SHIFTS) + 1)])
    spec_hi = np.log([SPECS[k].hi for k in BASELINE_FREE])
    add_lo = np.array([(SPECS[k].lo - b) / d for (k, _), b, d in zip(BASELINE_SHIFTS, base, sds)])
    add_hi = np.array([(SPECS[k].hi - b) / d for (k, _), b, d in zip(BASELINE_SHIFTS, base, sds)])
    lo = np.concatenate([u0[:q] + BASELINE_BOUNDS[0], add_lo, [np.log(BASELINE_EROA_RANGE_CM2[0])]])
    hi = np.concatenate([np.minimum(u0[:q] + BASELINE_BOUNDS[1], spec_hi), add_hi, [np.log(BASELINE_EROA_RANGE_CM2[1])]]) - 2 * BASELINE_FD_STEP
    return u0, lo, hi


def _guess_features(y: np.ndarray, hr_bpm: np.ndarray, mva_cm2: np.ndarray) -> np.ndarray:
    """Regression features of the initial guess: 1, the logs of the five measurements, heart rate and
    forward area, and their squares."""
    lin = np.log(np.column_stack([y, hr_bpm, mva_cm2]))
    return np.column_stack([np.ones(len(lin)), lin, lin**2])


_FORWARD_MEASURED = (0, 1, 2, 4)
"""The columns of :data:`BASELINE_MEASURED` the guess model's forward map predicts (SBP, EDV, LVEF,
forward SV); the EROA is a fit coordinate itself."""


def _forward_inputs(u: np.ndarray, hr_bpm: np.ndarray, mva_cm2: np.ndarray) -> np.ndarray:
    """(m, p + 2) inputs of the guess model's forward map: the fit coordinates, ln heart rate, ln forward area."""
    return np.column_stack([u, np.log(hr_bpm), np.log(mva_cm2)])


_FORWARD_DEGREE = 3
"""Degree of the guess model's forward map.  Its Jacobian against forward differences at the starting
points (800 tvt_mixed patients): relative error median 9–10 % for a quadratic, 4–5 % for this cubic,
2–3 % for a quartic on 4× the points; the cubic's first step leaves 80 % of patients within
:data:`BASELINE_Z_DONE` of the forward-difference step in every measurement (quadratic 35–45 %).
A quartic starts the points nearer their steady states (fit beats per sampled tvt_mixed patient
37.7 → 31.6, fit CPU −8 % on 1,024 points) but extrapolates worse (predicted states with negative
volumes at 34 of 6,000 points beyond the prior, none for the cubic) and costs more to learn (on 2,048
points 0.27 → 0.52 CPU-s per preset and process): not adopted (``benchmarks/RESULTS.md``)."""


@lru_cache(maxsize=8)
def _monomials(d: int, degree: int) -> tuple[tuple[int, ...], ...]:
    """Index tuples of the monomials of ``d`` variables up to ``degree``, by degree (``()`` is the
    constant; each term's last index is its largest), so those of a lower degree come first."""
    from itertools import combinations_with_replacement

    return tuple(c for k in range(degree + 1) for c in combinations_with_replacement(range(d), k))


@lru_cache(maxsize=8)
def _monomial_products(d: int, degree: int) -> tuple[tuple[int, np.ndarray, np.ndarray], ...]:
    """Per degree k ≥ 1 of :func:`_monomials`: ``(first feature, parents, variables)``: feature
    ``first + j`` is feature ``parents[j]`` (its term without the last index, of degree k − 1) times
    input ``variables[j]`` (that last index)."""
    terms = _monomials(d, degree)
    col = {c: i for i, c in enumerate(terms)}
    out = []
    for k in range(1, degree + 1):
        f = [i for i, c in enumerate(terms) if len(c) == k]  # contiguous: the terms are ordered by degree
        out.append((f[0], np.array([col[terms[i][:-1]] for i in f], dtype=np.intp), np.array([terms[i][-1] for i in f], dtype=np.intp)))
    return tuple(out)


def _forward_features(v: np.ndarray, degree: int | None = None) -> np.ndarray:
    """Monomials of the forward map's inputs ``v`` (m, d) up to ``degree`` (:data:`_FORWARD_DEGREE`),
    feature-major ``(F, m)`` in :func:`_monomials`' order (each from its lower-degree term: one product
    per feature, all of one degree in one array operation, :func:`_monomial_products`)."""
    d = v.shape[1]
    degree = _FORWARD_DEGREE if degree is None else degree
    vt = np.ascontiguousarray(v.T)
    out = np.empty((len(_monomials(d, degree)), len(v)))
    out[0] = 1.0
    for first, parents, variables in _monomial_products(d, degree):
        np.multiply(out[parents], vt[variables], out=out[first : first + len(parents)])
    return out


def _slope_coefficients(coef: np.ndarray, d: int, p: int) -> np.ndarray:
    """``(p, F_low, K)``: the coefficients over the monomials of degree below :data:`_FORWARD_DEGREE`
    of ``∂/∂v_l`` (``l < p``) of the polynomial with coefficients ``coef`` ``(F, K)`` in ``d`` inputs."""
    terms = _monomials(d, _FORWARD_DEGREE)
    low = {c: i for i, c in enumerate(_monomials(d, _FORWARD_DEGREE - 1))}
    out = np.zeros((p, len(low), coef.shape[1]))
    for f, c in enumerate(terms):
        for pos, var in enumerate(c):  # a repeated variable counts once per position: ∂(v²)/∂v = 2v
            if var < p:
                out[var, low[c[:pos] + c[pos + 1 :]]] += coef[f]
    return out


@dataclass(frozen=True)
class _GuessModel:
    """The fit's regressions on one preset's engine patients (:func:`_guess_model`).

    ``inverse`` ``(F_y, p − 1)``: measurements, heart rate and forward area (:func:`_guess_features`)
    → the fit coordinates of the engine scales and stressed volume (the starting point).
    ``forward`` ``(F_u, 4)``: fit coordinates, ln heart rate and ln forward area
    (:func:`_forward_features`) → ln of the simulated SBP, EDV, LVEF and forward SV; its analytic
    derivative is the first step's Jacobian (:func:`_model_jacobian`).
    ``state`` ``(F_u, 14)``: the same inputs → the steady state at the start of the beat, where each
    point of the fit starts (:data:`BASELINE_MODEL_STATES`).  The blood a state holds (chamber volumes
    plus each circuit's C·p, conserved by the engine) is the preset's plus the stressed-volume shift,
    a constant plus a multiple of one input: inside the features' span, so least squares reproduces it
    to rounding, and every predicted state, state change and slope holds each point's own blood (tested)."""

    inverse: np.ndarray
    forward: np.ndarray
    state: np.ndarray
    forward_slopes: np.ndarray  # (p, F_low, 4) ∂forward/∂u over the lower-degree monomials (_slope_coefficients)
    state_slopes: np.ndarray  # (p, F_low, 14) ∂state/∂u likewise


@lru_cache(maxsize=16)
def _guess_model(preset: str, dt_max_s: float, tol: float, accelerate: bool) -> _GuessModel:
    """Least-squares maps between measurements and fit coordinates, learnt once per preset and solver
    setting on :data:`BASELINE_GUESS_POINTS` engine patients drawn from the fit's prior (EROA, heart
    rate and forward area spread over the populations' ranges; a fixed seed, so a pure function of
    its arguments).  They only start the fit (the starting point and the first step's Jacobian: the
    fit's result does not depend on them beyond the fit's tolerance)."""
    from mitrasim.calibrate.fit import LOG_PRIOR_SD

    pset = get_parameter_set(preset)
    rng = np.random.default_rng(20261130)
    m, q, ns = BASELINE_GUESS_POINTS, len(BASELINE_FREE), len(BASELINE_SHIFTS)
    sds = _prior_sds()
    base = np.array([float(pset.values.get(k, 0.0)) for k, _ in BASELINE_SHIFTS])
    u0, lo, hi = _fit_space(pset, base, sds)
    u = np.concatenate([np.log([pset.values[k] for k in BASELINE_FREE]) + LOG_PRIOR_SD * rng.standard_normal((m, q)), rng.standard_normal((m, ns))], axis=1)
    eroa, hr, mva = np.exp(rng.uniform(np.log(0.1), np.log(1.0), m)), rng.uniform(50.0, 110.0, m), rng.uniform(2.5, 6.5, m)
    settings = SolverSettings(dt_max_s=dt_max_s, tol=tol, accelerate=accelerate, threads=1)
    u_all = np.clip(np.column_stack([u, np.log(eroa)]), lo, hi)  # inside the fit's space
    u = u_all[:, :-1]
    res = simulate(preset, _fit_overrides(u_all, base, sds), hr_bpm=hr, eroa_cm2=eroa, mva_cm2=mva, settings=settings)
    y = np.column_stack([res.metrics["sbp_mmhg"], res.metrics["edv_ml"], res.metrics["ef_pct"], eroa, res.metrics["forward_sv_ml"]])
    ok = np.isfinite(y).all(axis=1) & (y > 0).all(axis=1) & (res.metrics["converged"] > 0)
    inverse, *_ = np.linalg.lstsq(_guess_features(y[ok], hr[ok], mva[ok]), u[ok], rcond=None)
    targets = np.column_stack([np.log(y[ok][:, _FORWARD_MEASURED]), res.final_state[ok]])
    coef, *_ = np.linalg.lstsq(_forward_features(_forward_inputs(u_all[ok], hr[ok], mva[ok])).T, targets, rcond=None)
    forward, state = coef[:, : len(_FORWARD_MEASURED)], coef[:, len(_FORWARD_MEASURED) :]
    d, p = u_all.shape[1] + 2, u_all.shape[1]
    return _GuessModel(inverse, forward, state, _slope_coefficients(forward, d, p), _slope_coefficients(state, d, p))


def _model_states(model: _GuessModel, u: np.ndarray, hr_bpm: np.ndarray, mva_cm2: np.ndarray) -> np.ndarray:
    """(m, 14) the guess model's steady state at points ``u`` (start of the beat)."""
    return np.einsum("fs,fm->sm", model.state, _forward_features(_forward_inputs(u, hr_bpm, mva_cm2))).T  # einsum: no BLAS threads


def _model_slopes(coef: np.ndarray, u: np.ndarray, hr_bpm: np.ndarray, mva_cm2: np.ndarray) -> np.ndarray:
    """(m, K, p) a polynomial's ``∂/∂u_l`` at points ``u`` from its slope coefficients ``(p, F_low, K)``
    (:func:`_slope_coefficients`)."""
    low = _forward_features(_forward_inputs(u, hr_bpm, mva_cm2), _FORWARD_DEGREE - 1)
    p, _, k = coef.shape
    return np.einsum("gf,fm->gm", coef.transpose(0, 2, 1).reshape(p * k, -1), low).reshape(p, k, -1).transpose(2, 1, 0)


def _model_state_slopes(model: _GuessModel, u: np.ndarray, hr_bpm: np.ndarray, mva_cm2: np.ndarray) -> np.ndarray:
    """(m, p, 14) the guess model's ``∂state/∂u_l`` at points ``u``."""
    return _model_slopes(model.state_slopes, u, hr_bpm, mva_cm2).transpose(0, 2, 1)


def _model_jacobian(model: _GuessModel, u: np.ndarray, hr_bpm: np.ndarray, mva_cm2: np.ndarray, z: np.ndarray, y0: np.ndarray, sd: np.ndarray,
                    measured: np.ndarray) -> np.ndarray:  # fmt: skip
    """(m, 5, p) the whitened Jacobian ``∂z/∂u`` at points ``u`` from the guess model's forward map:
    ``∂z_k/∂u = m_k · ∂ln m_k/∂u / sd_k`` with ``m_k`` the simulated measurement (from its residual
    ``z``), and the EROA's row exact (``∂z/∂ln EROA = EROA/sd``); 0 in a row not measured or not
    finite.  It only takes the first step: the fit leaves on forward differences (:func:`fit_baselines`)."""
    p = u.shape[1]
    dlog = _model_slopes(model.forward_slopes, u, hr_bpm, mva_cm2)  # (m, 4, p): ∂ln m_k/∂u
    J = np.zeros((len(u), z.shape[1], p))
    sim = y0 + z * sd
    J[:, _FORWARD_MEASURED, :] = (sim[:, _FORWARD_MEASURED] / sd[:, _FORWARD_MEASURED])[:, :, None] * dlog
    J[:, 3, p - 1] = np.exp(u[:, p - 1]) / sd[:, 3]
    J[~(measured & np.isfinite(z))] = 0.0
    return _finite_or_zero(J)


def _finite_or_zero(a: np.ndarray) -> np.ndarray:
    """``a`` with every non-finite value 0 (``np.nan_to_num(a, nan=0, posinf=0, neginf=0)``, the same
    numbers, in two passes instead of four)."""
    return np.where(np.isfinite(a), a, 0.0)


def _initial_guess(model: _GuessModel, y: np.ndarray, hr_bpm: np.ndarray, mva_cm2: np.ndarray, u0: np.ndarray, lo: np.ndarray,
                   hi: np.ndarray) -> np.ndarray:  # fmt: skip
    """(n, p) the fit's starting coordinates: the guess model's prediction (its ``inverse`` map) for the
    engine scales and stressed volume (the preset's where a measurement is missing or not positive),
    the measured EROA; inside the fit's bounds."""
    n, k = len(y), u0.size - 1
    u = np.tile(u0, (n, 1))
    u[:, k] = np.log(np.clip(np.nan_to_num(y[:, 3], nan=1.0), *BASELINE_EROA_RANGE_CM2))
    full = np.isfinite(y).all(axis=1) & (y > 0).all(axis=1)
    if full.any():
        u[full, :k] = _guess_features(y[full], hr_bpm[full], mva_cm2[full]) @ model.inverse
    return np.clip(u, lo, hi)


def fit_baselines(preset: str, hr_bpm: np.ndarray, mva_cm2: np.ndarray, y: np.ndarray, sd: np.ndarray, settings: SolverSettings) -> BaselineFit:
    """Fit :data:`BASELINE_FREE`, :data:`BASELINE_SHIFTS` and the EROA of every patient to its
    measurements ``y`` ``(n, 5)`` (:data:`BASELINE_MEASURED`, engine terms; a NaN forward SV is not
    measured and not fitted).

    Coordinates ``u``: ln of the three engine scales, the stressed blood volume in units of its prior
    SD about the preset's, ln EROA.

    Identifiability: SBP, LVEDV, LVEF, EROA and forward SV against five parameters.  The EROA is
    pinned by forward SV = total SV − RVol (total SV from LVEDV·LVEF) together with its own PISA
    measurement; contractility by the LVEF; systemic resistance by the SBP at the forward output;
    passive stiffness and stressed volume both raise the LVEDV, and only their priors split that
    (the data determine their combination, not each).  Batched Levenberg–Marquardt
    (maximum a posteriori, as :mod:`mitrasim.calibrate.fit`: the whitened residuals
    ``z = (sim − y)/sd`` and the calibration's priors widened by :data:`BASELINE_PRIOR_WIDTH`, ``(ln θ − ln θ_preset)/LOG_PRIOR_SD`` and
    ``(θ − θ_preset)/prior_sd``; the EROA's only prior is its own measurement): without the prior a
    patient whose sampled values leave little forward flow got its SBP from a systemic resistance up
    to 4× the preset's, and most then kept 3+/4+ MR after the procedure.

    Iterations.  The first is one engine call with the ``n`` starting points alone; its step takes
    the guess model's Jacobian (:func:`_model_jacobian`, :data:`BASELINE_MODEL_FIRST_STEP`).  Later
    ones evaluate each step's point alone and, in a second call, the ``5`` forward-difference points
    of the patients whose Jacobian is due (:func:`_forward_differences_due`: the model's, after its
    one step or where the exit test would end the fit on it; a stale one from an earlier best point
    where the test still finds a move; :data:`BASELINE_LAZY_JACOBIAN`), with the best point's own
    residuals as their base: so every patient leaves the fit on a forward-difference Jacobian, and no
    point is simulated twice.  Every point runs to the steady-state tolerance
    :data:`BASELINE_SOLVER_TOL` (the trials' coarser one leaves metric noise near the exit
    tolerance; forward-difference points to :data:`BASELINE_FD_TOL_FACTOR` times it, a bound on the
    Jacobian's error), started from the patient's best steady state so far moved by the guess model's change
    of state between the two points (the first points from the model's state; forward-difference
    points along its slopes; :data:`BASELINE_MODEL_STATES`), which holds each point's own blood, as a
    cold start does.  A step that does not lower ``Σz²`` is rejected and the damping raised (Marquardt's diagonal
    scaling).  A patient leaves the batch when every residual is below :data:`BASELINE_Z_DONE`,
    when its damping passes 1e6, or when its full Gauss–Newton step would move no whitened
    residual by ``BASELINE_Z_DONE`` (:func:`_gauss_newton_moves`: at the MAP optimum to the fit's
    tolerance; without this test almost every patient ran all :data:`BASELINE_ITERATIONS`, the
    prior keeping its residuals above ``BASELINE_Z_DONE``).
    """
    return _run_fits([_fit_steps(preset, hr_bpm, mva_cm2, y, sd, settings)])[0]


def fit_baselines_groups(groups: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]], settings: SolverSettings) -> list[BaselineFit]:
    """:func:`fit_baselines` of several groups ``(preset, hr_bpm, mva_cm2, y, sd)`` at once (a chunk's
    etiologies): each group's fit is its own, step for step, but the groups' engine points of one kind
    (points of a step, or forward-difference points alone) run in one engine batch where their presets
    can share one (:func:`~mitrasim.physiology.simulation.simulate_presets`, each point's result that
    of its own preset alone, to the bit), so the small group's points do not make engine calls of their own."""
    return _run_fits([_fit_steps(*g, settings) for g in groups])


@dataclass
class _Points:
    """A fit's engine points waiting for the engine (:func:`_run_fits`): :func:`simulate`'s arguments."""

    preset: str
    overrides: dict[str, np.ndarray]
    hr_bpm: np.ndarray
    eroa_cm2: np.ndarray
    mva_cm2: np.ndarray
    initial_state: np.ndarray | None
    settings: SolverSettings
    fd_only: bool  # forward-difference points alone (run before the groups' step points: the groups stay in step)


@dataclass
class _PointsResult:
    """The rows of a :class:`_Points` in an engine result: its metrics and steady states."""

    metrics: dict[str, np.ndarray]
    final_state: np.ndarray


_FitSteps = Generator[_Points, Any, BaselineFit]


def _fit_steps(preset: str, hr_bpm: np.ndarray, mva_cm2: np.ndarray, y: np.ndarray, sd: np.ndarray, settings: SolverSettings) -> _FitSteps:
    """:func:`fit_baselines`' iterations: yields each engine call's points (:class:`_Points`), is sent
    their result, returns the fit."""
    require_float64(settings, "the baseline fit")
    prob = _fit_problem(preset, hr_bpm, mva_cm2, y, sd, settings)
    n = len(prob.hr_bpm)
    st = _FitState.start(prob, _starting_points(prob, y))
    act = np.arange(n)  # patients still being fitted
    for it in range(BASELINE_ITERATIONS):
        model_step = BASELINE_MODEL_FIRST_STEP and it == 0
        fd = not model_step and not (BASELINE_LAZY_JACOBIAN and it > 0)
        z, J, state = yield from _evaluate(prob, st, act, st.u[act], fd=fd, warm=it > 0)
        if model_step:
            J = _model_jacobian(prob.model, st.u[act], prob.hr_bpm[act], prob.mva_cm2[act], z, prob.y0[act], prob.sd[act], prob.measured[act])
        _keep_better(prob, st, act, z, J, state, fd)
        act, JtJ, g = yield from _still_moving(prob, st, act, it)
        if len(act) == 0:
            break
        _levenberg_marquardt_step(prob, st, act, JtJ, g)
    columns = _fit_overrides(st.best, prob.base, prob.sds)
    return BaselineFit(_override_dicts(columns), np.exp(st.best[:, prob.ie]), np.where(prob.measured, st.z_best, 0.0),
                       np.where(np.isfinite(st.cost_best)[:, None], st.state_best, np.nan), columns)  # fmt: skip


def _run_fits(fits: list[_FitSteps]) -> list[BaselineFit]:
    """Drive the fits (:func:`_fit_steps`) to their ends: each round runs the waiting forward-difference
    points if any fit waits with some, else every fit's waiting points; the points of one round and one
    solver setting in one engine batch (:func:`_simulate_points`)."""
    out: list[BaselineFit | None] = [None] * len(fits)
    waiting: dict[int, _Points] = {}

    def advance(i: int, result: _PointsResult | None) -> None:
        try:
            waiting[i] = fits[i].send(result)
        except StopIteration as stop:
            out[i] = stop.value

    for i in range(len(fits)):
        advance(i, None)
    while waiting:
        fd_first = any(p.fd_only for p in waiting.values())
        due = [i for i, p in waiting.items() if p.fd_only or not fd_first]
        by_settings: dict[SolverSettings, list[int]] = {}
        for i in due:
            by_settings.setdefault(waiting[i].settings, []).append(i)
        for ids in by_settings.values():
            results = _simulate_points([waiting.pop(i) for i in ids])
            for i, r in zip(ids, results):
                advance(i, r)
    return [f for f in out if f is not None]


def _simulate_points(points: list[_Points]) -> list[_PointsResult]:
    """The engine results of several fits' points of one solver setting: one :func:`simulate` call for
    one fit's (or presets that cannot share a batch: one each), else one
    :func:`~mitrasim.physiology.simulation.simulate_presets` batch, split back by fit."""
    names = list(dict.fromkeys(p.preset for p in points))
    merge = len(points) > 1 and all(p.initial_state is not None for p in points) and presets_mergeable(names)
    if not merge:
        out = []
        for p in points:
            res = simulate(p.preset, p.overrides, hr_bpm=p.hr_bpm, eroa_cm2=p.eroa_cm2, mva_cm2=p.mva_cm2, initial_state=p.initial_state, settings=p.settings)
            out.append(_PointsResult(res.metrics, res.final_state))
        return out
    cat = lambda get: np.concatenate([get(p) for p in points])  # noqa: E731
    which = np.concatenate([np.full(len(p.hr_bpm), names.index(p.preset), dtype=np.intp) for p in points])
    res = simulate_presets(names, {k: cat(lambda p: p.overrides[k]) for k in points[0].overrides}, hr_bpm=cat(lambda p: p.hr_bpm),
                           eroa_cm2=cat(lambda p: p.eroa_cm2), mva_cm2=cat(lambda p: p.mva_cm2), initial_state=cat(lambda p: p.initial_state),
                           settings=points[0].settings, which=which)  # fmt: skip
    edges = np.cumsum([0] + [len(p.hr_bpm) for p in points])
    return [_PointsResult({k: v[a:b] for k, v in res.metrics.items()}, res.final_state[a:b]) for a, b in zip(edges[:-1], edges[1:])]


@dataclass(frozen=True)
class _FitProblem:
    """What :func:`fit_baselines` fits and how: the patients' inputs and measurements (``y0``: 0 where
    not ``measured``), the solver settings of its points (``settings``, at :data:`BASELINE_SOLVER_TOL`;
    ``fd_settings`` of a call of forward-difference points alone, :data:`BASELINE_FD_TOL_FACTOR`),
    the coordinates' frame (``base``, ``sds``, ``u0``,
    bounds ``lo``/``hi``, whitened prior weights ``prior_w``), where an additive volume's change goes in a
    state (``st_idx``, ``st_per_ml``), the guess model, and the sizes: ``q`` scales, ``ns`` shifts,
    ``p`` coordinates, ``k_obs`` measurements, ``ie`` the EROA's coordinate."""

    preset: str
    hr_bpm: np.ndarray
    mva_cm2: np.ndarray
    y0: np.ndarray
    sd: np.ndarray
    measured: np.ndarray
    settings: SolverSettings
    fd_settings: SolverSettings
    base: np.ndarray
    sds: np.ndarray
    u0: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    prior_w: np.ndarray
    st_idx: np.ndarray
    st_per_ml: np.ndarray
    model: _GuessModel
    q: int
    ns: int
    p: int
    k_obs: int
    ie: int


def _fit_problem(preset: str, hr_bpm: np.ndarray, mva_cm2: np.ndarray, y: np.ndarray, sd: np.ndarray, settings: SolverSettings) -> _FitProblem:
    """The fit's set-up (:class:`_FitProblem`)."""
    from mitrasim.calibrate.fit import LOG_PRIOR_SD  # lazy: calibrate imports this module's bias constants
    from mitrasim.physiology.parameters import STATE_NAMES

    pset = get_parameter_set(preset)
    sds = _prior_sds()
    base = np.array([float(pset.values.get(k, 0.0)) for k, _ in BASELINE_SHIFTS])
    q, ns = len(BASELINE_FREE), len(BASELINE_SHIFTS)
    y = np.asarray(y, dtype=float)
    measured = np.isfinite(y)
    u0, lo, hi = _fit_space(pset, base, sds)
    fit_settings = dataclasses.replace(settings, tol=min(settings.tol, BASELINE_SOLVER_TOL))
    fd_tol = fit_settings.tol * (BASELINE_FD_TOL_FACTOR if BASELINE_FD_OWN_TOL else 1.0)
    return _FitProblem(
        preset=preset, hr_bpm=np.asarray(hr_bpm, dtype=float), mva_cm2=np.asarray(mva_cm2, dtype=float), y0=np.where(measured, y, 0.0),
        sd=sd, measured=measured, settings=fit_settings, fd_settings=dataclasses.replace(fit_settings, tol=fd_tol),
        base=base, sds=sds, u0=u0, lo=lo, hi=hi,
        # whitened prior = prior_w·(u − u0); none on the EROA
        prior_w=np.concatenate([np.full(q, 1.0 / LOG_PRIOR_SD), np.ones(ns), [0.0]]) / BASELINE_PRIOR_WIDTH,
        st_idx=np.array([STATE_NAMES.index(st) for _, st in BASELINE_SHIFTS]),
        st_per_ml=np.array([1.0 if st.startswith("v_") else 1.0 / float(pset.values["sys_ven_c_ml_mmhg"]) for _, st in BASELINE_SHIFTS]),
        model=_guess_model(preset, settings.dt_max_s, settings.tol, settings.accelerate),  # at the trial's settings, not the fit's tolerance
        q=q, ns=ns, p=q + ns + 1, k_obs=len(BASELINE_MEASURED), ie=q + ns,
    )  # fmt: skip


def _starting_points(prob: _FitProblem, y: np.ndarray) -> np.ndarray:
    """``(n, p)`` the fit's first points: :func:`_initial_guess` (:data:`BASELINE_GUESS`), else the preset
    with the measured EROA."""
    if BASELINE_GUESS:
        return _initial_guess(prob.model, np.asarray(y, dtype=float), prob.hr_bpm, prob.mva_cm2, prob.u0, prob.lo, prob.hi)
    u = np.tile(prob.u0, (len(prob.hr_bpm), 1))
    u[:, prob.ie] = np.log(np.clip(prob.y0[:, 3], *BASELINE_EROA_RANGE_CM2))
    return u


@dataclass
class _FitState:
    """The fit's state per patient: the current points ``u``, the best point so far (``best``, its
    whitened residuals ``z_best``, cost ``cost_best`` and steady state ``state_best``), the Jacobian
    there (``J_best``; ``fresh``: computed at ``best``, not at an earlier point; ``exact``: by forward
    differences, not the guess model's) and the damping ``lam``; the guess model's state at the
    current and at the best point (``model_u``, ``model_best``: NaN where not known; kept so that a
    step's start state does not evaluate the model at the best point again, :func:`_start_states`)."""

    u: np.ndarray
    best: np.ndarray
    z_best: np.ndarray
    J_best: np.ndarray
    fresh: np.ndarray
    exact: np.ndarray
    cost_best: np.ndarray
    state_best: np.ndarray
    lam: np.ndarray
    model_u: np.ndarray
    model_best: np.ndarray

    @classmethod
    def start(cls, prob: _FitProblem, u: np.ndarray) -> _FitState:
        n = len(u)
        return cls(u=u, best=u.copy(), z_best=np.full((n, prob.k_obs), np.inf), J_best=np.zeros((n, prob.k_obs, prob.p)), fresh=np.zeros(n, bool),
                   exact=np.zeros(n, bool), cost_best=np.full(n, np.inf), state_best=np.zeros((n, N_STATE)), lam=np.full(n, 1e-3),
                   model_u=np.full((n, N_STATE), np.nan), model_best=np.full((n, N_STATE), np.nan))  # fmt: skip


def _evaluate(prob: _FitProblem, st: _FitState, idx: np.ndarray, at: np.ndarray, fd: bool, warm: bool,
              ) -> Generator[_Points, Any, tuple[np.ndarray, np.ndarray | None, np.ndarray]]:  # fmt: skip
    """Whitened residuals ``(k, 5)`` at points ``at`` of patients ``idx`` (and with ``fd`` their
    Jacobian ``(k, 5, p)`` from the forward-difference points, same engine call), and the points'
    steady states; ``warm``: started from each patient's best state.  Forward differences at the
    patients' best points (the lazy Jacobian) take the best point's own residuals as their base
    (that point is not simulated again).  Yields the engine call's points (:class:`_Points`, sent
    their result back: :func:`_run_fits`)."""
    p, q, ie, k_obs = prob.p, prob.q, prob.ie, prob.k_obs
    k = len(idx)
    at_best = fd and warm and np.array_equal(at, st.best[idx])
    offsets = BASELINE_FD_STEP * np.eye(p) if fd else np.zeros((0, p))
    if not at_best:
        offsets = np.vstack([np.zeros((1, p)), offsets])
    r = len(offsets)
    flat = (at[:, None, :] + offsets[None]).reshape(-1, p)
    init = None
    if BASELINE_MODEL_STATES:
        init = _start_states(prob, st, idx, at, offsets, warm)
    elif warm:  # each additive volume's change moved in where a cold start puts it (mL, or mL / compliance for a pressure)
        init = np.repeat(st.state_best[idx], r, axis=0)
        init[:, prob.st_idx] += (flat[:, q:ie] - np.repeat(st.best[idx, q:ie], r, axis=0)) * prob.sds * prob.st_per_ml
    eroa_pts = np.exp(flat[:, ie])
    settings = prob.fd_settings if at_best else prob.settings  # a call of forward-difference points alone
    res = yield _Points(prob.preset, _fit_overrides(flat, prob.base, prob.sds), np.repeat(prob.hr_bpm[idx], r), eroa_pts, np.repeat(prob.mva_cm2[idx], r), init,
                        settings, at_best)  # fmt: skip
    m = np.stack([res.metrics["sbp_mmhg"], res.metrics["edv_ml"], res.metrics["ef_pct"], eroa_pts, res.metrics["forward_sv_ml"]], axis=1)
    z_all = np.where(prob.measured[idx, None, :], (m.reshape(k, r, k_obs) - prob.y0[idx, None, :]) / prob.sd[idx, None, :], 0.0)
    if at_best:
        z, x = st.z_best[idx], st.state_best[idx]
    else:
        z, x = np.where(np.isfinite(z_all[:, 0, :]), z_all[:, 0, :], np.inf), res.final_state.reshape(k, r, -1)[:, 0, :]
    J = _finite_or_zero((z_all[:, r - p :, :] - z[:, None, :]).transpose(0, 2, 1) / BASELINE_FD_STEP) if fd else None
    return z, J, x


def _start_states(prob: _FitProblem, st: _FitState, idx: np.ndarray, at: np.ndarray, offsets: np.ndarray, warm: bool) -> np.ndarray:
    """``(k·r, 14)`` start states of the points ``at + offsets`` (``offsets`` ``(r, p)``): the patient's
    best state moved by the guess model's change of state (``warm``), else the model's state; an
    offset point (forward difference) moved along the model's slopes."""
    h, m, model = prob.hr_bpm[idx], prob.mva_cm2[idx], prob.model
    if not warm:
        x = _model_states(model, at, h, m)
        _remember_model_states(st, idx, at, x)
    elif np.array_equal(at, st.best[idx]):
        x = st.state_best[idx]
    else:
        x_at = _model_states(model, at, h, m)
        x = st.state_best[idx] + x_at - _model_states_at_best(prob, st, idx)
        _remember_model_states(st, idx, at, x_at)
    init = np.repeat(x[:, None, :], len(offsets), axis=1)
    if offsets.any():
        init += np.einsum("rl,kls->krs", offsets, _model_state_slopes(model, at, h, m))
    return init.reshape(len(idx) * len(offsets), -1)


def _remember_model_states(st: _FitState, idx: np.ndarray, at: np.ndarray, x: np.ndarray) -> None:
    """Keep the guess model's states ``x`` at points ``at`` as those at patients ``idx``' current points
    (when ``at`` are them: a point that becomes the best takes its state along, :func:`_keep_better`)."""
    if np.array_equal(at, st.u[idx]):
        st.model_u[idx] = x


def _model_states_at_best(prob: _FitProblem, st: _FitState, idx: np.ndarray) -> np.ndarray:
    """``(k, 14)`` the guess model's states at patients ``idx``' best points: kept from when the point was
    evaluated, else computed (and kept).  The same numbers either way: the model acts patient by patient
    (elementwise features, one column each of a contraction)."""
    x = st.model_best[idx]
    missing = np.isnan(x).any(axis=1)
    if missing.any():
        i = idx[missing]
        x[missing] = st.model_best[i] = _model_states(prob.model, st.best[i], prob.hr_bpm[i], prob.mva_cm2[i])
    return x


def _normal_equations(prob: _FitProblem, st: _FitState, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whitened Jacobian (measurements and the calibration's priors), JᵀJ and Jᵀr at each best point."""
    ie, p = prob.ie, prob.p
    Jb = np.concatenate([st.J_best[idx], np.broadcast_to(np.diag(prob.prior_w)[:ie], (len(idx), ie, p))], axis=1)
    rb = np.concatenate([np.nan_to_num(st.z_best[idx], posinf=0.0), ((st.best[idx] - prob.u0) * prob.prior_w)[:, :ie]], axis=1)
    return Jb, Jb.transpose(0, 2, 1) @ Jb, Jb.transpose(0, 2, 1) @ rb[:, :, None]


def _keep_better(prob: _FitProblem, st: _FitState, act: np.ndarray, z: np.ndarray, J: np.ndarray | None, state: np.ndarray, fd: bool) -> None:
    """The evaluated points of patients ``act`` that lower the MAP cost become their best points (with
    their Jacobian ``J``, when one came with them: by forward differences if ``fd``); the damping falls
    where the step was kept and rises where it was not (Marquardt)."""
    cost = np.sum(z**2, axis=1) + np.sum(((st.u[act] - prob.u0) * prob.prior_w) ** 2, axis=1)
    better = cost < st.cost_best[act]
    b_idx = act[better]
    st.cost_best[b_idx] = cost[better]
    st.best[b_idx], st.z_best[b_idx], st.state_best[b_idx], st.model_best[b_idx] = st.u[b_idx], z[better], state[better], st.model_u[b_idx]
    if J is not None:
        st.J_best[b_idx] = J[better]
        st.exact[b_idx] = fd
    st.fresh[b_idx] = J is not None
    st.lam[act] = np.where(better, st.lam[act] * 0.2, st.lam[act] * 8.0)


def _still_moving(prob: _FitProblem, st: _FitState, act: np.ndarray, it: int) -> Generator[_Points, Any, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The patients of ``act`` that stay in the fit after iteration ``it``: a residual still at or above
    :data:`BASELINE_Z_DONE`, the damping below 1e6, and a full Gauss–Newton step that would still move a
    measurement (:func:`_gauss_newton_moves`), judged on a forward-difference Jacobian at the best point
    (computed here where :func:`_forward_differences_due` says so); with their normal equations
    ``JᵀJ`` and ``Jᵀr`` at the best point (:func:`_normal_equations`, for the next step)."""
    act = act[(np.abs(st.z_best[act]).max(axis=1) >= BASELINE_Z_DONE) & (st.lam[act] < 1e6)]
    if len(act) == 0:
        return act, np.zeros((0, prob.p, prob.p)), np.zeros((0, prob.p, 1))
    finite = np.isfinite(st.cost_best[act])
    certain = ~st.exact[act] & finite & (it > 0)  # due whatever the test says (_forward_differences_due): not tested twice
    k, p = len(act), prob.p
    JtJ, g, moves = np.empty((k, p, p)), np.empty((k, p, 1)), np.zeros(k, bool)
    test = ~certain
    if test.any():
        Jb_t, JtJ[test], g[test] = _normal_equations(prob, st, act[test])
        moves[test] = _gauss_newton_moves(Jb_t, JtJ[test], g[test], rows=prob.k_obs)  # with a stale or the model's Jacobian
    redo = certain | (_forward_differences_due(moves, st.fresh[act], st.exact[act], it == 0) & finite & test)
    if redo.any():  # the Jacobian at the best point
        r = act[redo]
        _, st.J_best[r], _ = yield from _evaluate(prob, st, r, st.best[r], fd=True, warm=True)
        st.fresh[r] = st.exact[r] = True
        Jb_r, JtJ[redo], g[redo] = _normal_equations(prob, st, r)
        moves[redo] = _gauss_newton_moves(Jb_r, JtJ[redo], g[redo], rows=prob.k_obs)
    return act[moves], JtJ[moves], g[moves]


def _levenberg_marquardt_step(prob: _FitProblem, st: _FitState, act: np.ndarray, JtJ: np.ndarray, g: np.ndarray) -> None:
    """The next points of patients ``act``: the damped Gauss–Newton step from each best point (Marquardt's
    diagonal scaling), at most a factor 2 in any scale, inside the bounds; ``JtJ``, ``g``: their normal
    equations there (:func:`_still_moving`)."""
    p = prob.p
    A = JtJ + st.lam[act, None, None] * (np.einsum("nii->ni", JtJ)[:, :, None] * np.eye(p)[None] + 1e-9 * np.eye(p)[None])
    delta = np.nan_to_num(-np.linalg.solve(A, g)[:, :, 0])
    delta *= np.minimum(1.0, np.log(2.0) / np.maximum(np.abs(delta).max(axis=1), 1e-12))[:, None]  # at most ×2 per step
    st.u[act] = np.clip(st.best[act] + delta, prob.lo, prob.hi)
    st.model_u[act] = np.nan  # the model's state at the new points: not known yet


def _forward_differences_due(moves: np.ndarray, fresh: np.ndarray, exact: np.ndarray, first: bool) -> np.ndarray:
    """Patients whose forward-difference Jacobian at the best point is computed before the exit test
    decides (all arrays over the patients still fitted): where the test still finds a move on a
    stale Jacobian (one from an earlier best point), and wherever the Jacobian is the guess model's
    (not ``exact``) and the test would let the patient go, or the model's Jacobian has taken its one
    step (after the ``first`` iteration).  So no patient leaves, and none takes a second step, on the
    model's Jacobian."""
    return (moves & ~fresh) | (~exact & (~moves | (not first)))


def _gauss_newton_moves(Jb: np.ndarray, JtJ: np.ndarray, g: np.ndarray, rows: int | None = None) -> np.ndarray:
    """Patients whose full Gauss–Newton step from their best point would still move one of the first
    ``rows`` whitened residuals (the measurements; all rows when ``None``) by :data:`BASELINE_Z_DONE`
    or more.

    The others sit at the minimum of the MAP objective to within the fit's own tolerance as far as
    the measurements go (the optimum of a patient whose measurements the prior pulls on keeps
    residuals above ``BASELINE_Z_DONE``, so the "every ``|z|`` below it" test alone never ends their
    fit), and further iterations would change none of their simulated measurements by that much:
    they leave the batch.  Only the measurements count: a step that moves the prior residuals alone
    runs along a direction the data do not determine (passive stiffness against stressed volume, both
    setting the LVEDV); with the priors counted a quarter of the patients crept along it, 0.06–0.3
    prior SD a step, until the iteration cap (measured on 300 TVT-like patients).
    """
    p = JtJ.shape[-1]
    step = np.nan_to_num(-np.linalg.solve(JtJ + 1e-9 * np.eye(p)[None], g))  # (k, p, 1)
    move = np.abs(Jb @ step)[:, :, 0]
    return move[:, : rows if rows is not None else move.shape[1]].max(axis=1) >= BASELINE_Z_DONE


def _etiology_groups(patients: pa.Table, preset_by_etiology: dict[str, str]):
    """``(mask, preset)`` for each etiology present in the chunk."""
    for e in ("primary", "secondary"):
        m = level_mask(patients, "etiology", e)
        if m.any():
            if e not in preset_by_etiology:
                raise InputError(f"presets.{e}", None, "a parameter set for the etiology of these patients")
            yield m, resolve_preset(preset_by_etiology[e])


def engine_inputs_table(patients: pa.Table, preset_by_etiology: dict[str, str], settings: SolverSettings, lv_volume_method: LvVolumeMethod = "echo_2d") -> EngineInputs:
    """The table mapping (module docstring): LV contractility and stiffness from a precomputed table,
    systemic resistance scaled by the sampled SBP; no fit, so no fit flags."""
    edv, sv_total = engine_lv_volumes(patients.column("lvef_pct").to_numpy(), patients.column("lvedv_ml").to_numpy(), lv_volume_method)
    eroa = patients.column("eroa_cm2").to_numpy()
    sbp = patients.column("sbp_mmhg").to_numpy()
    n = patients.num_rows
    presets = np.empty(n, dtype=object)
    ea = np.empty(n)
    eb = np.empty(n)
    v0 = np.empty(n)
    rs = np.empty(n)
    for m, name in _etiology_groups(patients, preset_by_etiology):
        presets[m] = name
        tab = lv_table(name, settings.dt_max_s, settings.tol)
        sv_t = sv_total[m]
        nm = int(m.sum())
        r = np.arange(nm)
        chosen = np.zeros(nm, bool)
        ea_m, eb_m, edv_m = np.empty(nm), np.empty(nm), np.empty(nm)
        for b_idx in range(len(_EB_SCALES)):
            sv_rows = _rows_at_eroa(tab["sv_ml"][b_idx], eroa[m])
            edv_rows = _rows_at_eroa(tab["edv_ml"][b_idx], eroa[m])
            scale = _inverse_rows(_EA_SCALES, sv_rows, sv_t)
            j = np.clip(np.searchsorted(_EA_SCALES, scale, side="right") - 1, 0, len(_EA_SCALES) - 2)
            t = (scale - _EA_SCALES[j]) / (_EA_SCALES[j + 1] - _EA_SCALES[j])
            edv_model = edv_rows[r, j] * (1 - t) + edv_rows[r, j + 1] * t
            take = ~chosen & ((edv_model <= edv[m]) | (b_idx == len(_EB_SCALES) - 1))
            ea_m[take], eb_m[take], edv_m[take] = scale[take], _EB_SCALES[b_idx], edv_model[take]
            chosen |= take
        ea[m] = tab["ea0"] * ea_m
        eb[m] = tab["eb0"] * eb_m
        v0[m] = np.clip(tab["v0"] + edv[m] - edv_m, 0.0, 400.0)
        rs[m] = np.clip(tab["r_sys"] * sbp[m] / tab["sbp_mmhg"], 0.05, 10.0)
    overrides = [
        {"lv_ea_mmhg_ml": a, "lv_eb_mmhg_ml": e, "lv_v0_ml": b, "sys_ar_r_mmhg_s_ml": c}
        for a, e, b, c in zip(ea.tolist(), eb.tolist(), v0.tolist(), rs.tolist())
    ]
    return EngineInputs(presets=presets, overrides=overrides, hr_bpm=patients.column("hr_bpm").to_numpy())


def engine_inputs(patients: pa.Table, preset_by_etiology: dict[str, str], settings: SolverSettings, lv_volume_method: LvVolumeMethod = "echo_2d",
                  baseline: str | None = None) -> EngineInputs:  # fmt: skip
    """Map sampled patients to engine presets and overrides.

    ``baseline="fit"``: each patient's baseline fitted to its own sampled SBP, LVEDV, LVEF, EROA and
    forward SV (:func:`fit_baselines`, the calibration's measurement model), with fit flags and the
    fitted EROA the patient's valve is scaled to (:func:`mitrasim.cohort.adapter.patient_setups`);
    ``"table"``: :func:`engine_inputs_table`.  Default: :data:`BASELINE_MAPPING`.
    """
    baseline = baseline or BASELINE_MAPPING
    if baseline not in BASELINE_MAPPINGS:
        raise InputError("baseline", baseline, " | ".join(BASELINE_MAPPINGS))
    if baseline == "table":
        return engine_inputs_table(patients, preset_by_etiology, settings, lv_volume_method)
    from mitrasim.procedure.calibration import forward_effective_area_cm2

    lvef, lvedv = patients.column("lvef_pct").to_numpy(), patients.column("lvedv_ml").to_numpy()
    edv, sv_total = engine_lv_volumes(lvef, lvedv, lv_volume_method)
    eroa = patients.column("eroa_cm2").to_numpy()
    fwd = forward_sv_column(patients)
    mva = np.asarray(forward_effective_area_cm2(patients.column("mva_cm2").to_numpy()))
    sbp = patients.column("sbp_mmhg").to_numpy()
    hr = patients.column("hr_bpm").to_numpy()
    y = np.stack([sbp, edv, 100.0 * sv_total / edv, eroa, fwd], axis=1)
    sd = baseline_sds(sbp, lvedv, lvef, eroa, fwd)
    n = patients.num_rows
    presets = np.empty(n, dtype=object)
    overrides: list[dict[str, float]] = [{} for _ in range(n)]
    eroa_fit = np.empty(n)
    z = np.full((n, len(BASELINE_MEASURED)), np.inf)
    state = np.full((n, N_STATE), np.nan)
    groups = list(_etiology_groups(patients, preset_by_etiology))
    fits = fit_baselines_groups([(name, hr[m], mva[m], y[m], sd[m]) for m, name in groups], settings)
    for (m, name), f in zip(groups, fits):
        presets[m] = name
        for i, o in zip(np.flatnonzero(m).tolist(), f.overrides):
            overrides[i] = o
        eroa_fit[m], z[m], state[m] = f.eroa_cm2, f.z, f.state
    zmax = np.max(np.abs(z), axis=1)
    return EngineInputs(presets=presets, overrides=overrides, hr_bpm=hr, fit_ok=zmax <= FIT_WITHIN_SD, fit_z_max=zmax, eroa_cm2=eroa_fit, state=state,
                        override_table=_fitted_columns(groups, fits, n))  # fmt: skip


def _fitted_columns(groups: list[tuple[np.ndarray, str]], fits: list[BaselineFit], n: int) -> dict[str, np.ndarray] | None:
    """The groups' fitted override columns at the chunk's patients (``groups``: each group's mask),
    when every patient was fitted with one set of names; else None."""
    if not fits or any(f.columns is None for f in fits) or len({tuple(f.columns or ()) for f in fits}) != 1 or sum(int(m.sum()) for m, _ in groups) != n:
        return None
    out = {k: np.empty(n) for k in fits[0].columns or ()}
    for (m, _), f in zip(groups, fits):
        for k, v in (f.columns or {}).items():
            out[k][m] = v
    return out


def _float_column(table: pa.Table, name: str) -> np.ndarray:
    """(n,) column ``name`` as floats; NaN where the table has no such column (not sampled / not simulated)."""
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=float)


def forward_sv_column(patients: pa.Table) -> np.ndarray:
    """(n,) the sampled forward stroke volume, mL; NaN for a population that does not sample it (not measured)."""
    return _float_column(patients, "forward_sv_ml")


BASELINE_LABELS = ("systolic pressure, mmHg", "LVEDV (engine terms), mL", "LVEF (engine terms), %", "EROA, cm²", "forward stroke volume, mL")
"""Reader's labels of :data:`BASELINE_MEASURED`, in its order."""


def sampled_vs_simulated(results: pa.Table, lv_volume_method: LvVolumeMethod) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], np.ndarray]:
    """A trial's sampled and simulated baselines: ``(label, sampled, simulated)`` for each of
    :data:`BASELINE_MEASURED` (sampled LV volumes in the engine's terms) and the ``(n, 5)``
    measurement SDs of :func:`baseline_sds`.  A quantity a population does not sample, or a
    trial's mitrasim did not simulate, is NaN."""
    col = lambda k: _float_column(results, k)  # noqa: E731
    edv, sv = engine_lv_volumes(col("lvef_pct"), col("lvedv_ml"), lv_volume_method)
    fwd = forward_sv_column(results)
    sampled = (col("sbp_mmhg"), edv, 100 * sv / edv, col("eroa_cm2"), fwd)
    simulated = (col("sbp_sim_mmhg"), col("lvedv_sim_ml"), col("lvef_sim_pct"), col("eroa_before_cm2"), col("forward_sv_sim_ml"))
    sd = baseline_sds(col("sbp_mmhg"), col("lvedv_ml"), col("lvef_pct"), col("eroa_cm2"), fwd)
    return list(zip(BASELINE_LABELS, sampled, simulated)), sd


def within_sd_pct(rows: list[tuple[str, np.ndarray, np.ndarray]], sd: np.ndarray) -> list[float]:
    """For each row of :func:`sampled_vs_simulated`, the % of patients whose simulated value lies
    within the measurement SD of the sampled one; NaN where the quantity was not sampled or not
    simulated."""
    return [100 * float(np.mean(np.abs(b - a) <= sd[:, j])) if (np.isfinite(a).any() and np.isfinite(b).any()) else float("nan")
            for j, (_, a, b) in enumerate(rows)]  # fmt: skip


@dataclass
class ChunkValves:
    """A chunk's valves on a common ``(n, N_GRID)`` grid (mm); see the module docstring."""

    s_mm: np.ndarray
    ds_mm: np.ndarray  # (n,)
    length_mm: np.ndarray
    ap_mm: np.ndarray
    anterior_mm: np.ndarray
    posterior_mm: np.ndarray
    gap_deg_mm: np.ndarray
    gap_fun_mm: np.ndarray
    opening_mm: np.ndarray
    segment: np.ndarray  # (n, N_GRID) int 0..2
    lesion_width_mm: np.ndarray  # (n,)
    calcification: np.ndarray  # (n, N_GRID) int grade
    lesion_kind: np.ndarray  # (n, N_GRID) int code (geometry.LESION_KIND_CODE)
    tenting_mm: np.ndarray  # (n,)
    mac_grade: np.ndarray  # (n,) int

    def eroa_cm2(self, gap_mm: np.ndarray) -> np.ndarray:
        return geo.REGURGITANT_DISCHARGE_COEFF * gap_mm.sum(axis=1) * self.ds_mm / 100.0

    def mva_cm2(self, opening_mm: np.ndarray) -> np.ndarray:
        return opening_mm.sum(axis=1) * self.ds_mm / 100.0


@dataclass(frozen=True)
class _Grid:
    """A chunk's closure lines on the common grid: positions ``s_mm`` (n, N_GRID), cell width
    ``ds_mm`` and length ``length_mm`` (n,), AP diameter, the grid's fractions and the segments' edges
    (fractions of the line)."""

    s_mm: np.ndarray
    ds_mm: np.ndarray
    length_mm: np.ndarray
    ap_mm: np.ndarray
    frac: np.ndarray
    edges: np.ndarray


def _grid(patients: pa.Table) -> _Grid:
    L = patients.column("ic_diameter_mm").to_numpy()
    frac = (np.arange(N_GRID) + 0.5) / N_GRID
    edges = np.cumsum([0.0, *geo.SEGMENT_FRACTIONS])
    return _Grid(frac[None, :] * L[:, None], L / N_GRID, L, patients.column("ap_diameter_mm").to_numpy(), frac, edges / edges[-1])


def _gaps(patients: pa.Table, g: _Grid, secondary: np.ndarray, extent: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The regurgitant gap profiles scaled to the sampled EROA: degenerative and functional (n, N_GRID),
    the unit-gap lesion bump, which patients have a flail, and the lesion's width (mm)."""
    gap, bump, flail, width = _gap_profiles(patients, g, secondary, extent)
    return np.where(secondary[:, None], 0.0, gap), np.where(secondary[:, None], gap, 0.0), bump, flail, width


def _gap_profiles(patients: pa.Table, g: _Grid, secondary: np.ndarray, extent: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_gaps` before the split by etiology: each patient's gap profile (n, N_GRID; ≥ 0, the
    degenerative one of a primary patient, the functional one of a secondary), the bump, flail, width."""
    col = lambda k: patients.column(k).to_numpy()  # noqa: E731
    L = g.length_mm
    flail = level_mask(patients, "primary_lesion", "flail") & ~np.isin(extent, ("bileaflet", "barlow"))
    lseg = level_values(patients, "lesion_segment", int, np.int64) - 1
    centre_frac, width_frac = _lesion_span_frac(extent, lseg, np.clip(col("lesion_width_frac"), 0.05, 0.95), g.edges)
    centre = np.where(secondary, 0.55, centre_frac) * L
    width = np.where(secondary, np.clip(col("lesion_width_frac"), 0.05, 0.95), width_frac) * L
    p = np.where(secondary | ~flail, geo.LESION_EXPONENT["prolapse"], geo.LESION_EXPONENT["flail"])
    bump = geo.lesion_bump_mm(g.s_mm, centre[:, None], width[:, None], 1.0, p[:, None])  # unit-gap lesion bump
    unit_eroa = geo.REGURGITANT_DISCHARGE_COEFF * bump.sum(axis=1) * g.ds_mm / 100.0
    gap = bump * (col("eroa_cm2") / np.maximum(unit_eroa, 1e-12))[:, None]
    return gap, bump, flail, width


def _openings(patients: pa.Table, g: _Grid, secondary: np.ndarray, calc_grade: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The diastolic opening profiles (n, N_GRID) scaled to the sampled MVA, and the tenting depth (n,)."""
    col = lambda k: patients.column(k).to_numpy()  # noqa: E731
    calc_mob = np.array([geo.CALCIFICATION_MOBILITY[x] for x in geo.CALCIFICATION_GRADES])[calc_grade]
    tent = np.where(secondary, col("tenting_depth_mm"), 0.0)
    mobility = calc_mob * np.maximum(geo.TENTING_MOBILITY_MIN, 1.0 - geo.TENTING_MOBILITY_PER_MM * np.maximum(0.0, tent - geo.TENTING_FREE_MM))
    opening = geo.elliptic_opening_mm(g.s_mm, g.length_mm[:, None], g.ap_mm[:, None]) * mobility[:, None]
    return opening * (col("mva_cm2") / (opening.sum(axis=1) * g.ds_mm / 100.0))[:, None], tent


def _grade_codes(patients: pa.Table, name: str) -> np.ndarray:
    """A calcification column as grade indices into ``geometry.CALCIFICATION_GRADES``."""
    code = {x: i for i, x in enumerate(geo.CALCIFICATION_GRADES)}
    return level_values(patients, name, code.__getitem__, np.int64)


def chunk_valves(patients: pa.Table) -> ChunkValves:
    """Build every patient's valve at once and fit it to the sampled EROA and MVA."""
    g = _grid(patients)
    n = g.length_mm.size
    seg = np.clip(np.searchsorted(g.edges, g.frac, side="right") - 1, 0, 2)
    secondary = level_mask(patients, "etiology", "secondary")
    extent = _str_col(patients, "lesion_extent")
    a2, p2 = patients.column("anterior_leaflet_mm").to_numpy(), patients.column("posterior_leaflet_mm").to_numpy()
    redundant = np.ones(n)
    for k, f in REDUNDANT_LEAFLET_FACTOR.items():
        redundant = np.where(~secondary & (extent == k), f, redundant)
    a_fac = np.array([geo.DEFAULT_ANTERIOR_MM[k] / geo.DEFAULT_ANTERIOR_MM["A2"] for k in ("A1", "A2", "A3")])
    p_fac = np.array([geo.DEFAULT_POSTERIOR_MM[k] / geo.DEFAULT_POSTERIOR_MM["P2"] for k in ("P1", "P2", "P3")])
    anterior = (a2 * redundant)[:, None] * a_fac[seg][None, :]
    posterior = (p2 * redundant)[:, None] * p_fac[seg][None, :]
    gap_deg, gap_fun, bump, flail, width = _gaps(patients, g, secondary, extent)
    code = np.where(secondary, geo.LESION_KIND_CODE["tethering"], np.where(flail, geo.LESION_KIND_CODE["flail"], geo.LESION_KIND_CODE["prolapse"]))
    kind = np.where(bump > 0, code[:, None], 0).astype(np.int64)
    calc_grade = _grade_codes(patients, "leaflet_calcification")
    opening, tent = _openings(patients, g, secondary, calc_grade)
    calc = np.ascontiguousarray(np.broadcast_to(calc_grade[:, None], (n, N_GRID)))
    segment = np.ascontiguousarray(np.broadcast_to(seg, (n, N_GRID)))
    return ChunkValves(g.s_mm, g.ds_mm, g.length_mm, g.ap_mm, anterior, posterior, gap_deg, gap_fun, opening, segment, width, calc, kind, tent,
                       _grade_codes(patients, "annular_calcification"))  # fmt: skip


def chunk_areas(patients: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Each patient's valve EROA and anatomic MVA (cm²) as :func:`chunk_valves` builds the valve
    (``ValveModel.eroa_cm2`` and ``.mva_cm2``, row by row), without the profiles the areas do not use
    (the indication of every drawn candidate)."""
    g = _grid(patients)
    secondary = level_mask(patients, "etiology", "secondary")
    gap, *_ = _gap_profiles(patients, g, secondary, _str_col(patients, "lesion_extent"))  # = max(degenerative, functional): the other is 0
    opening, _ = _openings(patients, g, secondary, _grade_codes(patients, "leaflet_calcification"))
    return geo.REGURGITANT_DISCHARGE_COEFF * geo.area_cm2(gap, g.ds_mm), geo.area_cm2(opening, g.ds_mm)


def _str_col(patients: pa.Table, name: str) -> np.ndarray:
    """A string column as an object array."""
    return level_values(patients, name, str, object)



def _lesion_span_frac(extent: np.ndarray, lseg: np.ndarray, width_frac: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and width of a primary lesion as fractions of the line (module docstring, lesion extent)."""
    centre = 0.5 * (edges[lseg] + edges[lseg + 1])
    width = width_frac.copy()
    nb = np.where(lseg == 1, 2, 1)
    lo, hi = edges[np.minimum(lseg, nb)], edges[np.maximum(lseg, nb) + 1]
    multi = extent == "multi_segment"
    centre = np.where(multi, 0.5 * (lo + hi), centre)
    width = np.where(multi, np.maximum(width, 0.8 * (hi - lo)), width)
    barlow = extent == "barlow"
    centre = np.where(barlow, 0.5, centre)
    width = np.where(barlow, np.maximum(width, 0.8), width)
    comm = extent == "commissural"
    centre = np.where(comm, np.where(lseg == 0, 0.1, 0.9), centre)
    width = np.where(comm, np.minimum(width, 0.2), width)
    return centre, width


def valve_models(v: ChunkValves) -> list[geo.ValveModel]:
    """One :class:`mitrasim.valve.ValveModel` per patient of the chunk (same grid, same profiles; each
    profile a row view of the chunk's array, as ``v.x[i]``)."""
    n, G = v.s_mm.shape
    return frozen_instances(geo.ValveModel, n, {
        "s_mm": v.s_mm, "ds_mm": v.ds_mm.tolist(), "line_length_mm": v.length_mm.tolist(), "ap_diameter_mm": v.ap_mm.tolist(),
        "ic_diameter_mm": v.length_mm.tolist(), "segment_edges_mm": map(tuple, geo.segment_edges_rows_mm(v.length_mm).tolist()),
        "anterior_mm": v.anterior_mm, "posterior_mm": v.posterior_mm, "gap_degenerative_mm": v.gap_deg_mm, "gap_functional_mm": v.gap_fun_mm,
        "opening_mm": v.opening_mm, "calcification_grade": v.calcification, "cleft": repeat(np.zeros(G, dtype=bool)), "lesion_kind": v.lesion_kind,
        "tenting_depth_mm": v.tenting_mm.tolist(), "annular_calcification_grade": v.mac_grade.tolist(),
    })  # fmt: skip


_T = TypeVar("_T")


def frozen_instances(cls: type[_T], n: int, columns: dict[str, Iterable[Any]]) -> list[_T]:
    """``n`` instances of the dataclass ``cls``: field ``f`` of instance ``i`` is item ``i`` of
    ``columns[f]``, a field without a column its default (a default factory called per instance), as
    ``cls(**row)`` would set them.  A frozen dataclass's generated ``__init__`` sets each field
    through ``object.__setattr__`` (2.9 µs for a valve's 18 fields); here each instance's
    ``__dict__`` is filled in one update, in the fields' order (0.8 µs).  Only for a dataclass without
    ``__post_init__``, ``__slots__`` or init-only fields; a column that is no field, a field with no
    column and no default, or a column shorter than ``n`` raises ``TypeError``/``ValueError``."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = [f.name for f in fields]
    if hasattr(cls, "__post_init__") or "__slots__" in vars(cls) or set(columns) - set(names):
        raise TypeError(f"{cls.__name__}: no plain dataclass, or no fields {sorted(set(columns) - set(names))}")
    cols: list[Iterable[Any]] = []
    for f in fields:
        if f.name in columns:
            cols.append(columns[f.name])
        elif f.default is not dataclasses.MISSING:
            cols.append(repeat(f.default))
        elif f.default_factory is not dataclasses.MISSING:
            cols.append(map(lambda _, make=f.default_factory: make(), range(n)))
        else:
            raise TypeError(f"{cls.__name__}: field {f.name} has no column and no default")
    new = object.__new__
    out = []
    for row in islice(zip(*cols), n):
        obj = new(cls)
        obj.__dict__.update(zip(names, row))
        out.append(obj)
    if len(out) != n:
        raise ValueError(f"{cls.__name__}: columns of fewer than {n} values")
    return out
