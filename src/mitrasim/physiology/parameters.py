"""Parameters of the closed-loop circulation: names, units, allowed ranges.

Names are used directly as configuration keys (``--set lv_ea_mmhg_ml=2.0``, a
case file's ``overrides:``); the unit is part of every name.  Units: mL, mmHg, s,
cm², cm.  Chambers are ``la, lv, ra, rv``; circuits ``sys_ar, sys_ven, pul_ar,
pul_ven``; valves ``av`` (aortic), ``tv`` (tricuspid), ``pv`` (pulmonary),
``mv`` (mitral).

Chamber activation comes in two kinds, chosen by the parameter set (the
:class:`Model`): ``"cosine"`` (Regazzoni et al. 2022: contraction start
``tc_s``, contraction and relaxation durations ``dur_contract_s`` and
``dur_relax_s``) and ``"two_hill"`` (Stergiopulos/Mynard's two-hill function as
used by svZeroDSolver: ``tshift_s``, ``tau1_s``, ``tau2_s``, ``m1``, ``m2``).
The mitral valve is either two one-way Bernoulli orifices with inertance
(``"orifice"``: forward ``mva_cm2``, regurgitant ``eroa_cm2``) or a resistive
diode (``"diode"``: ``mv_rmin``/``mv_rmax``, as in the paper and in
svZeroDSolver's files).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

import numpy as np

from mitrasim.errors import InputError
from mitrasim.ranges import RANGES, Range

CHAMBERS = ("la", "lv", "ra", "rv")
CIRCUITS = ("sys_ar", "sys_ven", "pul_ar", "pul_ven")
DIODES = ("av", "tv", "pv", "mv")

Activation = Literal["cosine", "two_hill"]
STRESSED_VOLUME_SHIFT = "stressed_volume_shift_ml"
"""The one parameter that is not in the kernel: the circulating (stressed) blood volume is set by
the initial state (the loop conserves it), so this shift moves the initial systemic venous pressure
by ``shift / sys_ven_c_ml_mmhg`` (``simulation._initial_states``)."""
MitralLaw = Literal["orifice", "diode"]


@dataclass(frozen=True)
class ParamSpec:
    name: str
    unit: str
    lo: float
    hi: float
    description: str
    lo_open: bool = False

    def check(self, value: float) -> float:
        """``float(value)`` in range, else :class:`InputError` in clinical units (:mod:`mitrasim.ranges`)."""
        return self.range().check(value, self.name)

    def range(self) -> Range:
        return Range(self.description, self.unit, self.lo, self.hi, lo_open=self.lo_open)

    @classmethod
    def shared(cls, name: str, description: str) -> "ParamSpec":
        """A parameter whose range is the project's one definition (:data:`mitrasim.ranges.RANGES`)."""
        r = RANGES[name]
        return cls(name, r.unit, r.lo, r.hi, description, lo_open=r.lo_open)

    def allowed(self) -> str:
        a = "(" if self.lo_open else "["
        return f"{a}{self.lo:g}, {self.hi:g}] {self.unit}".rstrip()


def _chamber_specs() -> list[ParamSpec]:
    out = []
    for ch in CHAMBERS:
        out += [
            ParamSpec(f"{ch}_ea_mmhg_ml", "mmHg/mL", 0.0, 20.0, f"{ch.upper()} active elastance E_A"),
            ParamSpec(f"{ch}_eb_mmhg_ml", "mmHg/mL", 0.0, 5.0, f"{ch.upper()} passive elastance E_B", lo_open=True),
            ParamSpec(f"{ch}_v0_ml", "mL", 0.0, 400.0, f"{ch.upper()} unstressed volume V0"),
            # cosine activation (Regazzoni 2022)
            ParamSpec(f"{ch}_tc_s", "s", 0.0, 2.0, f"{ch.upper()} contraction start tC (at the reference heart rate)"),
            ParamSpec(f"{ch}_dur_contract_s", "s", 0.0, 1.0, f"{ch.upper()} contraction duration TC", lo_open=True),
            ParamSpec(f"{ch}_dur_relax_s", "s", 0.0, 1.5, f"{ch.upper()} relaxation duration TR", lo_open=True),
            # two-hill activation (svZeroDSolver)
            ParamSpec(f"{ch}_tshift_s", "s", 0.0, 2.0, f"{ch.upper()} two-hill time shift"),
            ParamSpec(f"{ch}_tau1_s", "s", 0.0, 2.0, f"{ch.upper()} two-hill ascending time constant", lo_open=True),
            ParamSpec(f"{ch}_tau2_s", "s", 0.0, 2.0, f"{ch.upper()} two-hill descending time constant", lo_open=True),
            ParamSpec(f"{ch}_m1", "", 0.0, 100.0, f"{ch.upper()} two-hill ascending exponent", lo_open=True),
            ParamSpec(f"{ch}_m2", "", 0.0, 100.0, f"{ch.upper()} two-hill descending exponent", lo_open=True),
        ]
    return out


def _circuit_specs() -> list[ParamSpec]:
    out = []
    for c in CIRCUITS:
        out += [
            ParamSpec(f"{c}_r_mmhg_s_ml", "mmHg·s/mL", 0.0, 10.0, f"{c} resistance R", lo_open=True),
            ParamSpec(f"{c}_c_ml_mmhg", "mL/mmHg", 0.0, 500.0, f"{c} compliance C", lo_open=True),
            ParamSpec(f"{c}_l_mmhg_s2_ml", "mmHg·s²/mL", 0.0, 1.0, f"{c} inertance L", lo_open=True),
        ]
    return out


def _valve_specs() -> list[ParamSpec]:
    out = []
    for v in DIODES:
        out += [
            ParamSpec(f"{v}_rmin_mmhg_s_ml", "mmHg·s/mL", 0.0, 1.0, f"{v} open resistance", lo_open=True),
            ParamSpec(f"{v}_rmax_mmhg_s_ml", "mmHg·s/mL", 0.0, 1e7, f"{v} closed resistance", lo_open=True),
        ]
    return out


SPECS: dict[str, ParamSpec] = {
    s.name: s
    for s in [
        ParamSpec.shared("hr_bpm", "heart rate"),
        ParamSpec("ref_hr_bpm", "bpm", 30.0, 200.0, "heart rate at which the activation timings are given"),
        ParamSpec.shared("mva_cm2", "mitral forward (diastolic) orifice area"),
        ParamSpec.shared("eroa_cm2", "mitral effective regurgitant orifice area"),
        ParamSpec("mv_leff_cm", "cm", 0.0, 5.0, "effective length of the mitral orifices' inertance", lo_open=True),
        ParamSpec(
            "stressed_volume_shift_ml", "mL", -1500.0, 1500.0,
            "stressed blood volume added to the parameter set's (negative: removed), placed in the systemic veins "
            "at a cold start; a warm start keeps the volume of the state it starts from",
        ),
        *_chamber_specs(),
        *_circuit_specs(),
        *_valve_specs(),
    ]
}

STATE_NAMES = (
    "v_la_ml", "v_lv_ml", "v_ra_ml", "v_rv_ml",
    "p_sys_ar_mmhg", "p_sys_ven_mmhg", "p_pul_ar_mmhg", "p_pul_ven_mmhg",
    "q_sys_ar_ml_s", "q_sys_ven_ml_s", "q_pul_ar_ml_s", "q_pul_ven_ml_s",
    "q_mv_ml_s", "q_mr_ml_s",
)  # fmt: skip
N_STATE = len(STATE_NAMES)

#: Order of the parameter rows handed to the compiled kernel (structure of arrays).
KERNEL_PARAMS = (
    "period_s",
    *(f"{ch}_{k}" for ch in CHAMBERS for k in ("ea_mmhg_ml", "eb_mmhg_ml", "v0_ml")),
    *(f"{c}_{k}" for c in CIRCUITS for k in ("r_mmhg_s_ml", "c_ml_mmhg", "l_mmhg_s2_ml")),
    *(f"{v}_{k}" for v in ("av", "tv", "pv", "mv") for k in ("rmin_mmhg_s_ml", "rmax_mmhg_s_ml")),
    "mva_cm2", "eroa_cm2", "mv_leff_cm",
    # activation, after heart-rate scaling; a = tc|tshift, b = TC|tau1, c = TR|tau2, d = -|m1, e = -|m2, f = -|norm
    *(f"{ch}_act_{k}" for ch in CHAMBERS for k in "abcdef"),
)  # fmt: skip
KP = {name: i for i, name in enumerate(KERNEL_PARAMS)}


@dataclass(frozen=True)
class Model:
    """Model options fixed for a whole batch: the activation kind and the mitral valve law."""

    activation: Activation = "cosine"
    mitral: MitralLaw = "orifice"


@dataclass(frozen=True)
class ParameterSet:
    """A named parameter set from a source, with the initial state it starts from.

    ``initial`` gives the 12 circulation states; chamber volumes are given as
    stressed volumes (V − V0), so that changing an unstressed volume does not
    change the circulating stressed blood volume.
    """

    name: str
    description: str
    citations: tuple[str, ...]
    model: Model
    values: dict[str, float]
    initial: dict[str, float]
    calibration: str = ""
    extra: dict = field(default_factory=dict)

    def parameter_names(self) -> list[str]:
        return sorted(self.values)


def active_names(model: Model) -> set[str]:
    """Names a user may set for this model (the others do not enter its equations)."""
    return set(active_name_set(model))


@functools.lru_cache(maxsize=None)
def active_name_set(model: Model) -> frozenset[str]:
    """:func:`active_names` as one shared frozen set (no copy per call)."""
    names = {"hr_bpm", "ref_hr_bpm", STRESSED_VOLUME_SHIFT}
    for ch in CHAMBERS:
        names |= {f"{ch}_ea_mmhg_ml", f"{ch}_eb_mmhg_ml", f"{ch}_v0_ml"}
        if model.activation == "cosine":
            names |= {f"{ch}_tc_s", f"{ch}_dur_contract_s", f"{ch}_dur_relax_s"}
        else:
            names |= {f"{ch}_tshift_s", f"{ch}_tau1_s", f"{ch}_tau2_s", f"{ch}_m1", f"{ch}_m2"}
    for c in CIRCUITS:
        names |= {f"{c}_r_mmhg_s_ml", f"{c}_c_ml_mmhg", f"{c}_l_mmhg_s2_ml"}
    for v in ("av", "tv", "pv"):
        names |= {f"{v}_rmin_mmhg_s_ml", f"{v}_rmax_mmhg_s_ml"}
    if model.mitral == "orifice":
        names |= {"mva_cm2", "eroa_cm2", "mv_leff_cm"}
    else:
        names |= {"mv_rmin_mmhg_s_ml", "mv_rmax_mmhg_s_ml"}
    return frozenset(names)


def check_values(values: dict[str, float], model: Model) -> dict[str, float]:
    """Validate every value against its range and the model; returns floats."""
    allowed = active_name_set(model)
    out = {}
    for k, v in values.items():
        spec = SPECS.get(k)
        if spec is None or k not in allowed:
            raise InputError(k, v, "a parameter of this model: " + ", ".join(sorted(allowed)), "unknown parameter name")
        out[k] = spec.check(v)
    return out


def scaled_timings(values: Mapping[str, Any], model: Model) -> dict[str, Any]:
    """Activation timings at the actual heart rate from those at the reference heart rate.

    Heart-rate scaling (mitrasim's documented choice; the papers give one rate):

    * two-hill: every time (shift, tau1, tau2) scales with the period, T/T_ref
      (svZeroDSolver's file gives them as fractions of the period);
    * cosine, ventricles: contraction start is kept, contraction and relaxation
      durations scale with sqrt(T/T_ref) (Bazett's QT scaling);
    * cosine, atria: the lead of atrial contraction before the next ventricular
      beat (T_ref − tC) and the contraction duration scale with sqrt(T/T_ref);
      the relaxation fills the same share of the rest of the cycle as at T_ref.

    At the reference heart rate every timing is the parameter set's own.  ``values`` are (n,)
    arrays, or one patient's Python floats (then so are the timings: the one-patient set-up of
    :func:`mitrasim.physiology.simulation.simulate`, the same arithmetic without numpy's cost per call),
    or a mix (the heart rate an array): a timing computed from floats alone, and the rows that are 0 or
    1 for every patient, are then one float, not an array of it.
    """
    T = 60.0 / values["hr_bpm"]
    Tref = 60.0 / values["ref_hr_bpm"]
    r = T / Tref
    one = isinstance(T, float)
    s = math.sqrt(r) if one else np.sqrt(r)
    zero, unit = 0.0, 1.0  # the constant rows: one number for every patient (T is finite and positive: 0·T = 0)
    out: dict[str, Any] = {}
    for ch in CHAMBERS:
        if model.activation == "two_hill":
            out[f"{ch}_act_a"] = values[f"{ch}_tshift_s"] * r
            out[f"{ch}_act_b"] = values[f"{ch}_tau1_s"] * r
            out[f"{ch}_act_c"] = values[f"{ch}_tau2_s"] * r
            out[f"{ch}_act_d"] = values[f"{ch}_m1"] + zero
            out[f"{ch}_act_e"] = values[f"{ch}_m2"] + zero
        else:
            tc, dc, dr = values[f"{ch}_tc_s"], values[f"{ch}_dur_contract_s"], values[f"{ch}_dur_relax_s"]
            if ch in ("lv", "rv"):
                out[f"{ch}_act_a"] = tc + zero
                out[f"{ch}_act_b"] = dc * s
                out[f"{ch}_act_c"] = dr * s
            else:
                lead = (Tref - tc) % Tref
                dc_new = dc * s
                share = dr / (max(Tref - dc, 1e-9) if one else np.maximum(Tref - dc, 1e-9))
                out[f"{ch}_act_a"] = (T - lead * s) % T
                out[f"{ch}_act_b"] = dc_new
                out[f"{ch}_act_c"] = share * (T - dc_new)
            out[f"{ch}_act_d"] = zero
            out[f"{ch}_act_e"] = zero
        out[f"{ch}_act_f"] = unit
    if model.activation == "two_hill":
        # The curve's peak over one period depends on its times only through their ratios to the
        # period, which the heart rate does not change (every time scales with T/T_ref): it is found at
        # the reference rate, so patients that differ only in heart rate share one peak.
        for ch in CHAMBERS:
            cols = (values[f"{ch}_tau1_s"], values[f"{ch}_tau2_s"], values[f"{ch}_m1"], values[f"{ch}_m2"], Tref)
            if one or not any(isinstance(x, np.ndarray) for x in cols):  # one timing given as numbers
                out[f"{ch}_act_f"] = 1.0 / _two_hill_max_cached(tuple(float(x) for x in cols))
                continue
            if T.size == 1:  # a single patient given as arrays: no stacking, no sort
                out[f"{ch}_act_f"] = np.full(1, 1.0 / _two_hill_max_cached(tuple(np.asarray(x).item() for x in cols)))
                continue
            rows = np.stack(np.broadcast_arrays(*cols), axis=1)
            if (rows == rows[0]).all():  # one timing (a cohort of one parameter set, at any rates): no sort
                out[f"{ch}_act_f"] = np.full(len(rows), 1.0 / _two_hill_max_cached(tuple(rows[0].tolist())))
                continue
            uniq, inv = np.unique(rows, axis=0, return_inverse=True)  # patients often share timings
            peak = np.array([_two_hill_max_cached(tuple(r)) for r in uniq.tolist()]) if len(uniq) <= 64 else two_hill_max(*uniq.T)
            out[f"{ch}_act_f"] = (1.0 / peak)[inv.ravel()]
    return out


def two_hill_raw(t, tau1, tau2, m1, m2):
    """Un-normalised two-hill activation (g1/(1+g1))·(1/(1+g2)), g_i = (t/tau_i)^m_i."""
    g1 = (t / tau1) ** m1
    g2 = (t / tau2) ** m2
    return g1 / (1.0 + g1) / (1.0 + g2)


@functools.lru_cache(maxsize=1024)
def _two_hill_max_cached(args: tuple[float, float, float, float, float]) -> float:
    return float(two_hill_max(*(np.atleast_1d(a) for a in args))[0])


def two_hill_max(tau1, tau2, m1, m2, T) -> np.ndarray:
    """Maximum of the two-hill function over one period (grid, then golden-section refinement)."""
    tau1, tau2, m1, m2, T = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, float)) for x in (tau1, tau2, m1, m2, T)))
    n = 2000
    grid = np.linspace(0.0, 1.0, n + 1)[:, None] * T[None, :]
    f = two_hill_raw(grid, tau1, tau2, m1, m2)
    k = np.argmax(f, axis=0)
    h = T / n
    cols = np.arange(T.size)
    a = np.maximum(grid[k, cols] - h, 0.0)
    b = np.minimum(grid[k, cols] + h, T)
    g = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(60):
        c = b - g * (b - a)
        d = a + g * (b - a)
        fc = two_hill_raw(c, tau1, tau2, m1, m2)
        fd = two_hill_raw(d, tau1, tau2, m1, m2)
        left = fc > fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
    x = 0.5 * (a + b)
    return np.maximum(two_hill_raw(x, tau1, tau2, m1, m2), f.max(axis=0))
