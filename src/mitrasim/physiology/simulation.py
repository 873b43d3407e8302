"""``simulate``: one or many patients through the compiled engine to a periodic steady state.

A *patient* is a parameter vector: a named parameter set (preset), plus
overrides, plus the mitral areas and heart rate.  Everything is batched: pass
arrays (and a list of override dicts, or override columns: name → array) and one
call integrates them all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import chain
from operator import methodcaller
from typing import Any, Mapping, Sequence

import numpy as np

from mitrasim import citations
from mitrasim.errors import InputError
from mitrasim.physiology import dispatch, engine
from mitrasim.physiology.parameter_sets import get_parameter_set
from mitrasim.physiology.parameters import (
    CHAMBERS,
    CIRCUITS,
    KERNEL_PARAMS,
    KP,
    N_STATE,
    SPECS,
    STATE_NAMES,
    STRESSED_VOLUME_SHIFT,
    Model,
    ParameterSet,
    ParamSpec,
    active_name_set,
    check_values,
    scaled_timings,
)
from mitrasim.physiology.preset_names import DEFAULT_PRESET
from mitrasim.ranges import PLACEHOLDER_ABS, Range

__all__ = ["SolverSettings", "FLOAT32_TOL_MIN", "require_float64", "SimulationResult", "simulate", "simulate_presets", "presets_mergeable", "build_batch", "override_columns", "stable_dt_s", "steps_per_beat"]


#: Allowed range of each numeric :class:`SolverSettings` field.
_SETTINGS_RANGES = {
    "dt_max_s": Range("largest time step", "s", 1e-5, 5e-3, lo_open=True),
    "tol": Range("steady-state tolerance", "", 0.0, 1.0, lo_open=True),
    "min_beats": Range("fewest beats", "", 1, 10_000),
    "max_beats": Range("most beats", "", 1, 10_000),
    "threads": Range("number of threads (0 = all cores)", "", 0, 1024),
}
_SETTINGS_INTS = ("min_beats", "max_beats", "threads")
#: Smallest steady-state tolerance (``SolverSettings.tol``) allowed with ``precision="float32"``.  A beat's
#: residual is a difference of two float32 states, each carrying the rounding of the beat's steps; the
#: largest scaled state (chamber volumes above V0 and pressures up to a few hundred mL or mmHg, flows / 10)
#: lies below 2**9, where float32's spacing is at most 2**-15 ≈ 3.1e-5, so a tolerance near one spacing can be missed
#: by rounding alone however many beats run.  Three spacings (9.2e-5), rounded up: 1e-4.  Measured
#: (``benchmarks/RESULTS.md``, s8-h23; 200 patients each of three presets, HR 50–110, EROA 0–0.6 cm²): at 1e-4
#: every patient converged (float64's beats + 8 at most), at 3e-5 1.5 % did not within 300 beats, at 1e-5 20 %.
FLOAT32_TOL_MIN = 1e-4


@dataclass(frozen=True)
class SolverSettings:
    """Fixed-step RK4 settings and the periodic steady-state criterion; each field range-checked
    (:class:`InputError` naming it).  A plain dataclass, not a pydantic model: building a model
    class costs a warm ``mitrasim simulate`` pydantic's plugin scan of every installed package.

    dt_max_s: largest time step; a beat gets the smallest multiple of 16 steps with dt ≤ dt_max
    (and ≤ stable_dt_s: RK4 stability of the inertial branches).  tol: steady when every state
    changes less than tol over a beat (mL, mmHg, 10 mL/s).  min_beats, max_beats: beats run at
    least and at most; with ``min_beats=1`` a state may be reported on its first beat (from a
    steady start, the steady beat's metrics: ``engine._finish``).  threads: 0 = all cores.  accelerate: Anderson acceleration of the
    beat-to-beat map (engine.ACCEL_MEMORY): 8-12 beats to the same steady-state test instead of
    40-65; False integrates plain beats (a fixed number of beats as a transient).  precision: the engine's
    float type, ``"float64"`` (the default, every result's reference) or ``"float32"`` (opt-in, for large
    batches of independent patients: the same kernels with the state and every operation of the step in
    single precision, about 1.8x the patient-beats per second; metrics typically within 1e-5 relative of
    float64's at fixed beats, more only where rounding moves a one-way valve's switch by a step, which changes a metric
    by up to the fixed-step scheme's own first-order error; ``tol`` at least
    :data:`FLOAT32_TOL_MIN`; refused by the trials, fits, procedure and planner: :func:`require_float64`).
    """

    dt_max_s: float = 2.5e-3
    tol: float = 1e-3
    min_beats: int = 2
    max_beats: int = 300
    threads: int = 0
    accelerate: bool = True
    precision: str = "float64"

    def __post_init__(self) -> None:
        for name, r in _SETTINGS_RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool):
                raise InputError(name, value, r.text())
            x = r.check(value, name)
            if name in _SETTINGS_INTS:
                if x != int(x):
                    raise InputError(name, value, f"a whole number, {r.text()}")
                object.__setattr__(self, name, int(x))
            else:
                object.__setattr__(self, name, x)
        if not isinstance(self.accelerate, (bool, np.bool_)):
            raise InputError("accelerate", self.accelerate, "true or false")
        object.__setattr__(self, "accelerate", bool(self.accelerate))
        if not isinstance(self.precision, str) or self.precision not in engine.PRECISIONS:
            raise InputError("precision", self.precision, " or ".join(engine.PRECISIONS))
        if self.precision == "float32" and self.tol < FLOAT32_TOL_MIN:
            raise InputError("tol", self.tol, f"at least {FLOAT32_TOL_MIN:g} with precision float32 (float32 states "
                                              f"resolve a beat's change only to about {FLOAT32_TOL_MIN:g})")


def require_float64(settings: SolverSettings | None, user: str) -> None:
    """:class:`InputError` (field ``precision``) unless ``settings`` is None or float64: for the engine
    calls of the trials, the baseline fit, the calibration, the procedure and the planner, which stay in
    float64.  Their results are decided by differences and ties finer than float32 resolves: the fits'
    forward differences (a step of 0.01 in a parameter moves a metric by about 1e-2 relative, and float32's
    rounding of a beat's metrics, about 1e-5 relative, would be 1e-3 of that difference: a noisy Jacobian),
    the procedure's tie of clip covers (``procedure.batched.COVER_TIE_REL`` = 1e-9, below float32's 6e-8
    spacing: the chosen clip would follow last bits) and the trial tables, whose hashes are checked bit for
    bit.  Asked for float32, they refuse rather than silently change the settings."""
    if settings is not None and settings.precision != "float64":
        raise InputError("precision", settings.precision, f"float64 in {user} (its fits, tie rules and tables are decided by "
                                                          "differences float32 does not resolve)")


@dataclass
class SimulationResult:
    """Beat metrics of the steady beat (arrays over patients), optional waveforms, warm-start state."""

    preset: str
    model: Model
    metrics: dict[str, np.ndarray]
    parameters: dict[str, np.ndarray]
    final_state: np.ndarray  # (n, 14): start of the steady cycle (warm start)
    n_steps: np.ndarray  # (n,) RK4 steps per beat of each patient
    waveforms: dict[str, np.ndarray] | None = None  # each (n, max steps), NaN past a patient's own steps; "t_s" too
    citations: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n(self) -> int:
        return self.final_state.shape[0]

    def patient_metrics(self, i: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.metrics.items():
            x = v[i].item()
            if np.isnan(x):  # NaN: no value (diverged beat, or undefined for this model); flagged by ranges.result_flags
                out[k] = None if k in ("pv_systolic_reversal", "beats_to_steady") else (False if k == "converged" else x)
            else:
                out[k] = bool(x) if k in ("pv_systolic_reversal", "converged") else (int(x) if k == "beats_to_steady" else x)
        return out

    def patient_parameters(self, i: int = 0) -> dict[str, float]:
        return {k: float(v[i]) for k, v in self.parameters.items()}

    def patient_waveforms(self, i: int = 0) -> dict[str, np.ndarray]:
        """Waveforms of patient ``i`` over its steady beat (its own number of samples)."""
        if self.waveforms is None:
            raise ValueError("simulated without waveforms: call simulate(..., waveforms=True)")
        k = int(self.n_steps[i])
        return {name: v[i, :k] for name, v in self.waveforms.items()}


def _as_override_list(overrides, n_hint: int) -> list[Mapping[str, Any]]:
    if overrides is None:
        return [{}] * n_hint
    if isinstance(overrides, Mapping):
        return [overrides] * n_hint
    return list(overrides)


def _is_column(v: Any) -> bool:
    """Whether an override value is a column (one value per patient): an array or a list/tuple."""
    return isinstance(v, (np.ndarray, list, tuple))


def _override_columns(overrides: Any) -> dict[str, Any] | None:
    """``overrides`` as columns (name → (n,) array, or a scalar for every patient) when it is a mapping
    with at least one array value; None otherwise (a list of dicts, one dict for all, or nothing)."""
    if not isinstance(overrides, Mapping) or not any(_is_column(v) for v in overrides.values()):
        return None
    out: dict[str, Any] = {}
    for k, v in overrides.items():
        if _is_column(v):
            a = np.asarray(v)
            if a.ndim != 1:
                raise InputError(k, f"array of shape {a.shape}", "a number, or one value per patient (a 1-D array)")
            out[k] = a
        else:
            out[k] = v
    return out


def build_batch(
    pset: ParameterSet,
    overrides: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
    **arrays: Any,
) -> tuple[dict[str, np.ndarray], int]:
    """Per-patient parameter arrays (n,) from a preset, overrides and broadcast keyword arrays.

    ``overrides``: one dict for every patient, a list of dicts (one per patient), or columns (a
    mapping of parameter name → an array of one value per patient, or a number for all).  Keyword
    arrays are parameter names (``eroa_cm2=np.linspace(0, .6, 7)``); ``None`` is ignored.  Every
    value is range-checked; unknown names raise :class:`InputError` (columns raise the error the
    equal list of dicts raises).
    """
    cols, _, n, _ = _batch(pset, overrides, arrays)
    return cols, n


def _batch(pset: ParameterSet, overrides, arrays: dict[str, Any], sets: tuple[Sequence[ParameterSet], np.ndarray] | None = None,
           ) -> tuple[dict[str, np.ndarray], np.ndarray, int, frozenset[str]]:  # fmt: skip
    """:func:`build_batch`'s columns, the block (names × n) whose rows they are, n, and the names
    whose values were given per patient (keyword arrays of more than one value, override lists or
    columns): every other column holds one value, the parameter set's (or one override's) for all.
    ``sets``: parameter sets of ``pset``'s model and parameter names and each patient's index among
    them (:func:`simulate_presets`): the base values are each patient's own set's."""
    arrays = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in arrays.items() if v is not None}
    sizes = {a.size for a in arrays.values() if a.size != 1}
    if sets is not None:
        sizes.add(len(sets[1]))
    ocols = _override_columns(overrides)
    ol = None if overrides is None or isinstance(overrides, Mapping) else list(overrides)
    if ol is not None:
        sizes.add(len(ol))
    if ocols is not None:
        sizes.update(a.size for a in ocols.values() if isinstance(a, np.ndarray))
    sizes.discard(1)
    if len(sizes) > 1:
        raise InputError("batch", sorted(sizes), "arrays and override lists of one common length (or length 1)")
    n = sizes.pop() if sizes else 1
    allowed = active_name_set(pset.model)
    names = [k for k in pset.values if k in allowed]
    values = [pset.values[k] for k in names]
    if STRESSED_VOLUME_SHIFT not in pset.values:
        names.append(STRESSED_VOLUME_SHIFT)
        values.append(0.0)
    for k, a in arrays.items():
        if k not in allowed:
            raise InputError(k, a.tolist() if a.size < 6 else f"array of {a.size}", "a parameter of this model: " + ", ".join(sorted(allowed)))
        if k not in pset.values:
            names.append(k)
            values.append(0.0)  # set below
    varying: set[str] = {k for k, a in arrays.items() if a.size > 1}
    if sets is None:
        block = np.empty((len(names), n))  # one allocation; each column is a row view of it
        block[:] = np.array(values, dtype=float)[:, None]
    else:  # each patient's own set's values (a name not in a set: 0, as above)
        base = np.array([[ps.values.get(k, 0.0) for k in names] for ps in sets[0]], dtype=float).T
        differ = np.flatnonzero((base != base[:, :1]).any(axis=1))  # the names whose value is not every set's
        block = np.empty((len(names), n))
        block[:] = base[:, :1]  # the first set's value, then each patient's own where the sets differ
        block[differ] = base[differ].take(sets[1], axis=1)
        varying.update(names[i] for i in differ.tolist())
    cols: dict[str, np.ndarray] = dict(zip(names, block))
    if ocols is not None:
        _apply_override_columns(cols, ocols, n, pset.model)
        varying.update(k for k, v in ocols.items() if isinstance(v, np.ndarray) and v.size > 1)
    elif overrides is not None:  # (none: nothing to write, and no n empty dicts to scan)
        olist = _as_override_list(overrides, n) if ol is None else ol
        if len(olist) == 1 and n > 1:
            olist = olist * n
        if olist[0] or len(olist) > 1:
            varying.update(_apply_overrides(cols, olist, pset.model))
    for k, a in arrays.items():
        if not _all_inside(SPECS[k], a):
            SPECS[k].check(float(a[np.argmax(_outside(SPECS[k], a))]))  # raises the range's InputError
        cols[k][:] = a
    return cols, block, n, frozenset(varying)


def _apply_override_columns(cols: dict[str, np.ndarray], ocols: Mapping[str, Any], n: int, model: Model) -> None:
    """Write override columns (name → (n,) array or a number for all) into ``cols``, range-checked
    column by column; on a bad value, the error of the first patient's dict that holds one
    (:func:`check_values`, as for a list of dicts)."""
    allowed = active_name_set(model)
    try:
        vals = {k: _column(v, n) for k, v in ocols.items()}
        for k, v in vals.items():
            _check_column(k, v, allowed)
        for k, v in vals.items():
            cols[k][:] = v
    except (ValueError, TypeError):
        for i in range(n):  # raises the per-value InputError of the first patient with one (Python values, as a dict holds them)
            row = {k: (v[i] if isinstance(v, np.ndarray) else v) for k, v in ocols.items()}
            check_values({k: (x.item() if isinstance(x, np.generic) else x) for k, x in row.items()}, model)
        raise


def _column(v: Any, n: int) -> np.ndarray:
    """``v`` (a number, or one value per patient) as an (n,) float array (``v`` itself where it is one)."""
    if isinstance(v, np.ndarray) and v.dtype == np.float64 and v.shape == (n,):
        return v
    return np.broadcast_to(np.asarray(v, dtype=float), (n,))


_VALUES = methodcaller("values")  # a mapping's values (any Mapping, not only a dict)


def override_columns(overrides: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray] | None:
    """Override dicts as columns (name → (n,) array, :func:`simulate`'s override columns) when every
    dict has the first one's names in its order (a cohort's or a procedure's patients), else None;
    ValueError or TypeError where a value is not a number."""
    if not overrides:
        return None
    first = tuple(overrides[0])
    if not all(map(first.__eq__, map(tuple, overrides))):
        return None
    n, m = len(overrides), len(first)
    vals = np.fromiter(chain.from_iterable(map(_VALUES, overrides)), dtype=float, count=n * m).reshape(n, m)  # row by row, as np.array of the rows
    return {k: vals[:, j].copy() for j, k in enumerate(first)}


def _apply_overrides(cols: dict[str, np.ndarray], olist: Sequence[Mapping[str, Any]], model: Model) -> list[str]:
    """Write the override dicts into ``cols``; range-checked column by column (a cohort's override
    dicts share their names: when every dict has the first one's names in its order, all values are
    read in one pass), falling back to :func:`check_values` per dict for the exact error.  Returns
    the names written."""
    allowed = active_name_set(model)
    try:
        columns = override_columns(olist)
        if columns is not None:
            for k, col in columns.items():
                _check_column(k, col, allowed)
                cols[k][:] = col
            return list(columns)
        keys: dict[str, None] = {}
        for o in olist:
            keys.update(dict.fromkeys(o))
        for k in keys:
            idx = np.array([i for i, o in enumerate(olist) if k in o], dtype=np.intp)
            vals = np.array([float(olist[i][k]) for i in idx], dtype=float)
            _check_column(k, vals, allowed)
            cols[k][idx] = vals
        return list(keys)
    except (ValueError, TypeError):
        written: dict[str, None] = {}
        for i, o in enumerate(olist):  # raises the per-value InputError
            for k, v in check_values(dict(o), model).items():
                cols[k][i] = v
                written[k] = None
        return list(written)


def _check_column(name: str, vals: np.ndarray, allowed: frozenset[str]) -> None:
    """ValueError unless ``name`` is a parameter of the model and every value is finite and in its range."""
    spec = SPECS.get(name)
    if spec is None or name not in allowed:
        raise ValueError(name)
    if not _all_inside(spec, vals):
        raise ValueError(name)


def _all_inside(spec: ParamSpec, vals: np.ndarray) -> bool:
    """Whether no value of ``vals`` lies outside ``spec``'s range (:func:`_outside` finds none), from the
    smallest and the largest value alone (two reductions; a NaN is both, and fails)."""
    if vals.size == 0:
        return True
    if math.isfinite(spec.lo) and math.isfinite(spec.hi):
        lo, hi = vals.min(), vals.max()
        return bool((lo > spec.lo if spec.lo_open else lo >= spec.lo) and hi <= spec.hi)
    return not _outside(spec, vals).any()


def _outside(spec: ParamSpec, vals: np.ndarray) -> np.ndarray:
    """Where ``vals`` lie outside ``spec``'s range (or are not finite): :meth:`ParamSpec.check` over an array.
    With finite bounds (every parameter's) a value is inside when ``lo ≤ v ≤ hi`` (``lo < v`` when open):
    a NaN fails every comparison and an infinity one bound, so no separate finiteness test."""
    if math.isfinite(spec.lo) and math.isfinite(spec.hi):
        inside = (vals > spec.lo) if spec.lo_open else (vals >= spec.lo)
        inside &= vals <= spec.hi
        return ~inside
    return ~np.isfinite(vals) | (vals < spec.lo) | (vals > spec.hi) | ((vals <= spec.lo) if spec.lo_open else False)


#: The value a kernel parameter takes when the model does not use it: a closed valve's resistance
#: at the top of its range, anything else 1.
_UNUSED_VALUE = {name: (SPECS[name].hi if name.endswith("rmax_mmhg_s_ml") else 1.0) for name in KERNEL_PARAMS if name in SPECS}


def _one(cols: Mapping[str, Any]) -> bool:
    """Whether ``cols`` holds one patient as Python floats (:func:`simulate`'s one-patient set-up)
    rather than (n,) arrays."""
    return isinstance(cols["hr_bpm"], float)


def _fill(A: np.ndarray, rows: list, n: int, one: bool) -> None:
    """``A[i, :n] = rows[i]`` (floats for ``one`` patient, else (n,) arrays or floats), then the
    padding columns ``n:`` repeat column 0."""
    if one:
        A[:, 0] = rows
    else:
        for i, x in enumerate(rows):
            A[i, :n] = x
    A[:, n:] = A[:, :1]


def _padded(a: np.ndarray, n: int, n_pad: int) -> np.ndarray:
    """``a`` (n,) followed by ``n_pad − n`` copies of ``a[0]`` (the padding columns)."""
    out = np.empty(n_pad, dtype=a.dtype)
    out[:n] = a
    out[n:] = a[0]
    return out


def _at_columns(cols: Mapping[str, np.ndarray], varying: frozenset[str], n: int, n_pad: int, src: np.ndarray | None) -> dict[str, Any]:
    """The parameter columns at the kernel's ``n_pad`` columns: each name of ``varying`` (and the
    heart rate) as an (n_pad,) array, column ``j`` holding patient ``src[j]`` (``src`` None: the
    patients in order, then padding repeating patient 0); every other name as its one value, a float
    (a column the same for all patients: the kernel rows computed from it are filled once, not
    gathered patient by patient).  Elementwise arithmetic gives the same bits on a float as on an
    array of it, so the kernel's inputs do not change."""
    out: dict[str, Any] = {}
    for k, v in cols.items():
        if k in varying or k == "hr_bpm":
            out[k] = v.take(src) if src is not None else (v if n == n_pad else _padded(v, n, n_pad))
        else:
            out[k] = v.item(0)
    return out


def _kernel_rows(vals: Mapping[str, Any], model: Model, n_pad: int, n_steps: Any) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's parameter rows P (KERNEL_PARAMS × n_pad) and onset positions ew (2 × n_pad) from
    parameter values at the kernel's columns (:func:`_at_columns`: (n_pad,) arrays or one value for
    every column; one patient's floats); ``n_steps``: steps per beat of every column (int) or of
    each ((n_pad,) array).  A row whose value is one number is filled with it, all such rows at once."""
    T = 60.0 / vals["hr_bpm"]
    timing = scaled_timings(vals, model)
    # rows in KERNEL_PARAMS order; a parameter this model does not use (e.g. the mitral areas of a
    # diode model) gets a harmless value
    src = {**_UNUSED_VALUE, "period_s": T, **vals, **timing}
    rows = [src[name] for name in KERNEL_PARAMS]
    arrays = [i for i, v in enumerate(rows) if isinstance(v, np.ndarray)]
    P = np.empty((len(KERNEL_PARAMS), n_pad))
    P[:] = np.array([0.0 if isinstance(v, np.ndarray) else v for v in rows], dtype=float)[:, None]  # every row its one value (arrays: below)
    for i in arrays:
        P[i] = rows[i]
    n_steps = n_steps.astype(float) if isinstance(n_steps, np.ndarray) else n_steps  # (cast once: the same values)
    dt = T / n_steps
    ew = np.empty((2, n_pad))  # positions in steps (fractional) of ventricular and atrial onset
    ew[0] = _onset_steps(timing["lv_act_a"] / dt, n_steps)
    ew[1] = _onset_steps(timing["la_act_a"] / dt, n_steps)
    return P, ew


def _onset_steps(at_steps: Any, n_steps: Any) -> Any:
    """``at_steps % n_steps`` (an onset's position in its beat, steps): ``np.fmod`` where no position
    has its sign bit set (then the two are the same number: the truncated remainder of a non-negative
    number by a positive one is already the floored one, and ±0 both give +0), a third of the
    floored remainder's cost on arrays."""
    if isinstance(at_steps, np.ndarray) and not np.signbit(at_steps).any():
        return np.fmod(at_steps, n_steps)
    return at_steps % n_steps


def _kernel_arrays(cols: Mapping[str, Any], model: Model, n: int, n_pad: int, n_steps: Any):
    """The kernel's parameter rows P (KERNEL_PARAMS × n_pad) and onset positions ew (2 × n_pad) from
    parameter columns: (n,) arrays, or one patient's floats, the patients in order and the padding
    columns ``n:`` repeating patient 0; ``n_steps``: steps per beat of every patient (int) or of
    each (an (n,) array)."""
    if _one(cols):
        return _kernel_rows(cols, model, n_pad, n_steps)
    steps = n_steps if np.ndim(n_steps) == 0 else _padded(np.asarray(n_steps), n, n_pad)
    return _kernel_rows(_at_columns(cols, frozenset(cols), n, n_pad, None), model, n_pad, steps)


_P_SYS_VEN = STATE_NAMES.index("p_sys_ven_mmhg")


def _start_array(initial_state: Any, n: int) -> np.ndarray | None:
    """A warm start as a validated ((1 or n), 14) array (a result: its final states); None: cold."""
    if initial_state is None:
        return None
    if isinstance(initial_state, SimulationResult):
        initial_state = initial_state.final_state
    x0 = np.asarray(initial_state, dtype=float)
    if x0.ndim == 1:
        x0 = x0[None, :]
    if x0.shape[1] != N_STATE or x0.shape[0] not in (1, n) or not np.isfinite(x0).all():
        raise InputError("initial_state", f"array of shape {x0.shape}", f"finite array of shape ({n}, {N_STATE}) or ({N_STATE},)")
    return x0


def _cold_states(initial: Mapping[str, Any], cols: Mapping[str, Any], n: int, n_pad: int) -> np.ndarray:
    """(14, n_pad) the parameter set's initial states ``initial`` (:attr:`ParameterSet.initial`, or
    (n,) arrays of each patient's set's), the chambers' volumes on their unstressed volumes and the
    stressed-volume shift in the systemic veins (``cols``: (n,) arrays or floats)."""
    X0 = np.empty((N_STATE, n_pad))
    x = [initial[s] for s in STATE_NAMES]
    for i, ch in enumerate(CHAMBERS):  # the first four states are the chambers' volumes
        x[i] = x[i] + cols[f"{ch}_v0_ml"]
    x[_P_SYS_VEN] = x[_P_SYS_VEN] + cols[STRESSED_VOLUME_SHIFT] / cols["sys_ven_c_ml_mmhg"]
    _fill(X0, x, n, _one(cols))
    return X0


def _states_at(x0: np.ndarray, n: int, n_pad: int, src: np.ndarray | None) -> np.ndarray:
    """(14, n_pad) warm starts ``x0`` ((1 or n), 14) at the kernel's columns (:func:`_at_columns`' ``src``)."""
    if src is not None:  # the patients' rows (contiguous), then one transposing copy
        return np.ascontiguousarray(np.broadcast_to(x0, (n, N_STATE)).take(src, axis=0).T)
    xt = np.broadcast_to(x0, (n, N_STATE)).T
    X0 = np.empty((N_STATE, n_pad))
    X0[:, :n] = xt
    X0[:, n:] = X0[:, :1]
    return X0


def _initial_states(pset: ParameterSet, cols: Mapping[str, Any], n: int, n_pad: int, initial_state) -> np.ndarray:
    """(14, n_pad) start states of patients ``cols`` in order, padding repeating patient 0:
    ``initial_state`` (:func:`_start_array`), else the cold start (:func:`_cold_states`)."""
    x0 = _start_array(initial_state, n)
    return _cold_states(pset.initial, cols, n, n_pad) if x0 is None else _states_at(x0, n, n_pad, None)


def simulate(
    preset: str | ParameterSet = DEFAULT_PRESET,
    overrides: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
    *,
    eroa_cm2: Any = None,
    mva_cm2: Any = None,
    hr_bpm: Any = None,
    waveforms: bool = False,
    initial_state: Any = None,
    settings: SolverSettings | None = None,
) -> SimulationResult:
    """Simulate one or many patients to a periodic steady state and return their beat metrics.

    Args:
        preset: name of a parameter set (:data:`~mitrasim.physiology.preset_names.PRESET_LABELS`; default
            :data:`~mitrasim.physiology.preset_names.DEFAULT_PRESET`, the normal heart, as in the CLI and
            the web) or a :class:`ParameterSet`.
        overrides: a dict of parameter values for every patient, a list of dicts (one per patient),
            or columns: a dict of parameter name → array of one value per patient (a number: the
            same for every patient); columns give the same results and errors as the equal list
            of dicts without a Python dict per patient (a trial's baseline fit).
        eroa_cm2, mva_cm2, hr_bpm: scalars or arrays over patients (broadcast together).
        waveforms: also return the steady beat's waveforms (every step), see ``engine.WAVE_NAMES``.
        initial_state: warm start: a previous result, or its ``final_state`` (n, 14) or (14,).
        settings: time step and steady-state criterion.

    Returns:
        :class:`SimulationResult`; ``metrics[name]`` are arrays of length n.
    """
    pset = get_parameter_set(preset) if isinstance(preset, str) else preset
    settings = settings or SolverSettings()
    cols, block, n, varying = _batch(pset, overrides, {"eroa_cm2": eroa_cm2, "mva_cm2": mva_cm2, "hr_bpm": hr_bpm})
    if n == 1:  # one patient: its set-up in Python floats (numpy's cost per call on 1-element arrays was most of it)
        one = dict(zip(cols, block[:, 0].tolist()))
        X0 = _initial_states(pset, one, 1, 1, initial_state)
        n_steps = steps_per_beat(60.0 / one["hr_bpm"], min(settings.dt_max_s, stable_dt_s(one)))
        steps = np.array([n_steps], dtype=np.int64)
        metrics, x_end, wf_all = _run_one(pset, one, X0, n_steps, settings, waveforms)
        return _result(pset, cols, steps, metrics, x_end, wf_all)
    return _simulate_batch(pset, cols, varying, _start_array(initial_state, n), settings, waveforms)


def _simulate_batch(pset: ParameterSet, cols: dict[str, np.ndarray], varying: frozenset[str], x0: np.ndarray | None, settings: SolverSettings,
                    waveforms: bool) -> SimulationResult:  # fmt: skip
    """:func:`simulate` of a batch of more than one patient, from :func:`_batch`'s columns and names
    given per patient and the warm starts (:func:`_start_array`; None: cold)."""
    steps = steps_per_beat(60.0 / cols["hr_bpm"], np.minimum(settings.dt_max_s, stable_dt_s(cols)))
    metrics, x_end, wf_all = _run_batch(pset, cols, varying, x0, steps, settings, waveforms)
    return _result(pset, cols, steps, metrics, x_end, wf_all)


def presets_mergeable(names: Sequence[str]) -> bool:
    """Whether the named parameter sets can share one engine batch (:func:`simulate_presets`): one
    model (activation and mitral law) and the same parameter names."""
    psets = [get_parameter_set(p) for p in names]
    keys = [tuple(ps.values) for ps in psets]
    return all(ps.model == psets[0].model for ps in psets) and all(k == keys[0] for k in keys)


def simulate_presets(
    presets: Sequence[str],
    overrides: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
    *,
    eroa_cm2: Any = None,
    mva_cm2: Any = None,
    hr_bpm: Any = None,
    waveforms: bool = False,
    initial_state: Any = None,
    settings: SolverSettings | None = None,
    which: np.ndarray | None = None,
) -> SimulationResult:
    """:func:`simulate` with one named parameter set per patient (``presets``, length n; or, with
    ``which``, the distinct sets and ``which`` (n,) each patient's index among them), all in one
    engine batch: each patient's base values (and cold start) are its own set's, and its results are
    those of :func:`simulate` with that set alone, to the bit (a patient's steady state does not
    depend on its batch mates: the kernel integrates each column on its own).  The sets must share
    one model and their parameter names (:func:`presets_mergeable`), else :class:`InputError`
    (field ``presets``).  The result's ``preset`` names the sets joined by ``+``; its citations are
    all of theirs."""
    if which is None:
        names = list(dict.fromkeys(presets))
        code = {p: i for i, p in enumerate(names)}
        codes = np.fromiter(map(code.__getitem__, presets), dtype=np.intp, count=len(presets))
    else:
        names, codes = list(presets), np.asarray(which, dtype=np.intp)
    if len(names) == 1 or (codes == codes[0]).all():
        return simulate(names[int(codes[0])], overrides, eroa_cm2=eroa_cm2, mva_cm2=mva_cm2, hr_bpm=hr_bpm, waveforms=waveforms,
                        initial_state=initial_state, settings=settings)  # fmt: skip
    if not presets_mergeable(names):
        raise InputError("presets", names, "parameter sets of one model with the same parameter names (one engine batch)")
    psets = [get_parameter_set(p) for p in names]
    settings = settings or SolverSettings()
    cols, _, n, varying = _batch(psets[0], overrides, {"eroa_cm2": eroa_cm2, "mva_cm2": mva_cm2, "hr_bpm": hr_bpm}, (psets, codes))
    x0 = _start_array(initial_state, n)
    if x0 is None:  # each patient's own set's cold start, as a start given per patient
        initial = np.array([[ps.initial[s] for ps in psets] for s in STATE_NAMES], dtype=float).take(codes, axis=1)
        x0 = _cold_states(dict(zip(STATE_NAMES, initial)), cols, n, n).T
    res = _simulate_batch(psets[0], cols, varying, x0, settings, waveforms)
    cites = tuple(dict.fromkeys(c for ps in psets for c in ps.citations))
    citations.cite(*cites)
    res.preset, res.citations = "+".join(names), cites
    return res


def _result(pset: ParameterSet, cols: dict[str, np.ndarray], steps: np.ndarray, metrics: np.ndarray, x_end: np.ndarray, wf_all) -> SimulationResult:
    # An accumulator never updated in the steady beat (e.g. no systolic interval for the LA
    # v-wave with a severely stenotic valve) still holds its ±1e300 seed: no value, not a number.
    if metrics.size and not (metrics.max() < PLACEHOLDER_ABS and metrics.min() > -PLACEHOLDER_ABS):  # (a NaN: looked at too)
        metrics[np.abs(metrics) >= PLACEHOLDER_ABS] = np.nan
    cites = pset.citations
    citations.cite(*cites)
    return SimulationResult(
        preset=pset.name,
        model=pset.model,
        metrics={name: metrics[i] for i, name in enumerate(engine.METRIC_NAMES)},
        parameters=cols,
        final_state=x_end.T,
        n_steps=steps,
        waveforms=wf_all,
        citations=cites,
    )


RK4_STIFF_LIMIT = 2.5
"""Largest ``dt·R/L`` allowed in an inertial branch: the explicit RK4 is stable on the negative real
axis up to ``|λ dt| ≈ 2.785`` and an R–L branch decays at ``λ = −R/L`` (10 % margin)."""

def stable_dt_s(cols: Mapping[str, Any]) -> Any:
    """Per patient, the largest step that keeps every inertial branch stable: ``RK4_STIFF_LIMIT · min(L/R)``.

    A raised resistance shortens its branch's ``L/R`` (the presets' systemic arterial
    ``L/R`` is about 3 ms, so at the trials' 4 ms step a resistance above about 2.3× the
    preset's diverges within one beat without this bound); ``inf`` where no branch has
    an inertance.  Columns are (n,) arrays (:func:`build_batch`), or one patient's floats
    (then a float).
    """
    one = _one(cols)
    out = math.inf if one else np.full(len(cols["hr_bpm"]), np.inf)
    for c in CIRCUITS:  # R > 0 and L > 0 where given (parameter ranges)
        r, ind = cols.get(f"{c}_r_mmhg_s_ml"), cols.get(f"{c}_l_mmhg_s2_ml")
        if r is not None and ind is not None:
            out = min(out, RK4_STIFF_LIMIT * ind / r) if one else np.minimum(out, RK4_STIFF_LIMIT * ind / r)
    return out


def steps_per_beat(period_s: Any, dt_max_s: Any) -> Any:
    """RK4 steps per beat: the smallest multiple of 16 with dt = T/steps ≤ dt_max (per patient;
    an int for a float period and step)."""
    if isinstance(period_s, float) and isinstance(dt_max_s, float):
        return 16 * math.ceil(period_s / (16 * dt_max_s) - 1e-9)
    return (16 * np.ceil(np.asarray(period_s) / (16 * dt_max_s) - 1e-9)).astype(np.int64)


def _layout(steps: np.ndarray, precision: str = "float64") -> tuple[dispatch.Segments, np.ndarray | None, np.ndarray | slice]:
    """Where each patient runs in the kernel's padded batch: patients grouped by step count (a
    function of their own period and stable step only, so a patient's result does not depend on
    the rest of the batch), each group padded to whole blocks (:func:`dispatch.padded_width`: blocks
    of ``engine.LANES``, the last of fewer lanes, ``engine.REMAINDER_LANES``, when few patients are left; in
    ``precision`` float32 ``engine.LANES32`` and ``engine.REMAINDER_LANES32``) with copies of its first patient.  Returns the segments, ``src`` (n_pad,): the patient in each column
    (None: the patients in order, padding repeating patient 0), and ``pos``: each patient's column."""
    n = len(steps)
    if (steps == steps[0]).all():  # the common case: one step count, no regrouping
        return dispatch.Segments.one(int(steps[0]), dispatch.padded_width(n, precision), n), None, slice(0, n)
    # numpy's stable sort is a radix sort on 16-bit keys: the same permutation, faster, where every
    # step count fits (a beat may have up to 200,000 steps: HR 30 at the smallest dt_max_s)
    order = np.argsort(steps.astype(np.uint16) if steps.max() < 1 << 16 else steps, kind="stable")
    s = steps[order]
    first = np.concatenate(([0], np.flatnonzero(s[1:] != s[:-1]) + 1))  # first sorted patient of each step count
    n_real = np.diff(np.append(first, n))
    padded = dispatch.padded_width(n_real, precision)
    start = np.concatenate(([0], np.cumsum(padded)))
    at_sorted = np.arange(n) + np.repeat(start[:-1] - first, n_real)  # column of the i-th sorted patient
    src = np.repeat(order[first], padded)  # padding: the segment's first patient
    src[at_sorted] = order
    pos = np.empty(n, dtype=np.intp)
    pos[order] = at_sorted
    return dispatch.Segments(start, n_real, s[first]), src, pos


def _run_batch(pset: ParameterSet, cols: dict[str, np.ndarray], varying: frozenset[str], x0: np.ndarray | None, steps: np.ndarray, settings: SolverSettings,
               waveforms: bool):  # fmt: skip
    """Run a batch of patients (any mix of step counts) in one kernel call (``varying``: the names of
    ``cols`` given per patient, :func:`_batch`; ``x0``: warm starts, :func:`_start_array`); returns
    metrics (N_METRIC, n), end states (14, n) and waveforms ((n, max steps) each, NaN past a
    patient's own steps).  The kernel's inputs are built at its columns directly (:func:`_at_columns`)."""
    n = len(steps)
    seg, src, pos = _layout(steps, settings.precision)
    n_pad = int(seg.start[-1])
    vals = _at_columns(cols, varying, n, n_pad, src)
    P, ew = _kernel_rows(vals, pset.model, n_pad, int(steps[0]) if src is None else steps.take(src))
    X0p = _cold_states(pset.initial, vals, n_pad, n_pad) if x0 is None else _states_at(x0, n, n_pad, src)
    max_steps = int(seg.n_steps.max())
    metrics = np.zeros((engine.N_METRIC, n_pad))
    x_end = np.zeros((N_STATE, n_pad))
    waves = np.full((engine.N_WAVE, max_steps, n_pad), np.nan) if waveforms else np.zeros((engine.N_WAVE, 0, n_pad))
    _run(P, X0p, pset, seg, settings, ew, metrics, x_end, waves)
    wf = None
    if waveforms:
        wf = {name: waves[i][:, pos].T for i, name in enumerate(engine.WAVE_NAMES)}
        T = 60.0 / cols["hr_bpm"]
        t = np.arange(max_steps)[None, :] * (T / steps)[:, None]
        if src is not None:
            t[np.arange(max_steps)[None, :] >= steps[:, None]] = np.nan
        wf["t_s"] = t
    if isinstance(pos, slice):
        return metrics[:, pos], x_end[:, pos], wf
    return metrics.take(pos, axis=1), x_end.take(pos, axis=1), wf  # (take: 3x faster than [:, pos])


def _run_one(pset: ParameterSet, cols: Mapping[str, Any], X0: np.ndarray, n_steps: int, settings: SolverSettings, waveforms: bool):
    """Run one patient (``cols`` its Python floats) on the one-lane kernel; returns metrics
    (N_METRIC, 1), end state (14, 1), waveforms."""
    P, ew = _kernel_arrays(cols, pset.model, 1, 1, n_steps)
    metrics = np.zeros((engine.N_METRIC, 1))
    x_end = np.zeros((N_STATE, 1))
    waves = np.zeros((engine.N_WAVE, n_steps if waveforms else 0, 1))
    _run(P, np.ascontiguousarray(X0), pset, n_steps, settings, ew, metrics, x_end, waves)
    wf = None
    if waveforms:
        wf = {name: waves[i, :, :1].T for i, name in enumerate(engine.WAVE_NAMES)}
        T = P[KP["period_s"], :1]
        wf["t_s"] = np.arange(n_steps)[None, :] * (T / n_steps)[:, None]
    return metrics, x_end, wf


def _run(P, X0, pset: ParameterSet, n_steps: int | dispatch.Segments, settings: SolverSettings, ew, metrics, x_end, waves) -> None:
    kind = 0 if pset.model.activation == "cosine" else 1
    args = (P, X0, kind, pset.model.mitral == "diode", n_steps, settings.min_beats, settings.max_beats, settings.tol, ew, metrics, x_end, waves,
            settings.accelerate)
    if P.shape[1] == 1:  # one patient: the one-lane kernel, no thread pool to size
        dispatch.run_batch(*args, 1, precision=settings.precision)
        return
    threads = dispatch.batch_threads(settings.threads, P.shape[1], settings.precision)
    dispatch.run_batch(*args, threads, threads=threads, precision=settings.precision)
