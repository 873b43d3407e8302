"""Start states of the procedure's engine states: nearer their steady states, fewer beats.

Every engine state of the procedure is integrated to a periodic steady state from a start
state (:mod:`mitrasim.physiology.engine`: Anderson-accelerated beats until the state changes by
less than ``SolverSettings.tol`` over a beat).  The beats it takes fall with the start's
distance from the steady state, so each start here is predicted from states of the same
patient already known — never from another patient's, so a batch's results equal one-at-a-time
results.

Blood.  The engine conserves the blood a state holds,

    B(x) = w · x = Σ_chambers V_c + Σ_circuits C_k · p_k        (mL)

(``w``: 1 at the four chamber volumes, the circuit's compliance ``C_k`` at its pressure, 0 at
the flows; :func:`blood_weights`).  The steady state a start reaches is set by the blood it
holds, so a start may change the beats but must hold the blood of the start it replaces:

* an affine combination ``Σ λ_i x_i`` with ``Σ λ_i = 1`` of states holding the same blood
  under the same ``w`` holds that blood;
* otherwise (states of another loading state, whose ``w`` differs) the combination is put back
  on the blood by moving the systemic venous pressure, the largest compliance::

      p_sys_ven ← p_sys_ven + (B − w · x) / C_sys_ven          (:func:`hold_blood`)

Predictions (the steady state as a function of the orifice is smooth):

* **Another loading state** (:func:`moved`): a state of one loading state started in another
  (the anaesthesia baseline from the awake one) holds the blood it held:
  ``hold_blood(x, w_to, blood(x, w_from))`` (the blood is the patient's; a loading state
  changes where it sits, :mod:`mitrasim.procedure.loading`).
* **Transfer** (:func:`transferred`): the change a clip made in one loading state, added to
  the patient's state without a clip in another: ``x = x_a + (x_c − x_b)``, then
  :func:`hold_blood` to ``x_a``'s blood.
* **Plane** (:func:`plane`): the patient's states ``x_k`` already known at orifices
  ``c_k = (EROA, MVA)`` (cm²) near a reference state ``x_0`` at ``c_0``, extended linearly to
  the orifice ``c`` wanted::

      x = x_0 + Σ_k λ_k (x_k − x_0),   λ = clip(V⁺ (c − c_0), ±limit),   V = [c_k − c_0]  (2 × K)

  ``V⁺`` the pseudo-inverse (least squares, minimum norm where the ``c_k − c_0`` are
  collinear); the weights ``1 − Σλ, λ_1 … λ_K`` sum to 1.  Measured on the clip rounds'
  alternatives: a plane through the first attempt and two alternatives predicts the others
  nearer than a secant from the state before the clip, whose orifice is far (the response is
  curved over a clip's change, near linear over the alternatives' spread).

A prediction that is not finite or empties a chamber falls back to the start it replaces
(:func:`finite_rows`): a poor prediction costs beats, never a cold or non-physical start.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from mitrasim.physiology.parameter_sets import get_parameter_set
from mitrasim.physiology.parameters import N_STATE, STATE_NAMES, STRESSED_VOLUME_SHIFT

__all__ = ["CIRCUITS", "blood_weights", "blood", "cold_blood", "hold_blood", "moved", "transferred", "plane", "finite_rows"]

CIRCUITS = tuple(k[2:-5] for k in STATE_NAMES if k.startswith("p_"))
"""The circuits whose pressure is a state (``sys_ar`` …): compliance ``{circuit}_c_ml_mmhg``."""

_P_SYS_VEN = STATE_NAMES.index("p_sys_ven_mmhg")


Overrides = Sequence[Mapping[str, float]] | Mapping[str, np.ndarray]
"""One dict per state, or columns (name → (n,) array)."""


def _parameter(name: str, presets: Sequence[str], overrides: Overrides, default: float | None = None) -> np.ndarray:
    """(n,) parameter ``name`` of each state: the override, else the preset's value (else ``default``)."""
    n = len(presets)
    values = {p: get_parameter_set(p).values for p in dict.fromkeys(presets)}
    col = np.array([values[p].get(name, default) for p in presets], dtype=float)
    if isinstance(overrides, Mapping):
        return np.asarray(overrides[name], dtype=float).reshape(n) if name in overrides else col
    return np.array([float(o.get(name, v)) for o, v in zip(overrides, col)], dtype=float)


def blood_weights(presets: Sequence[str], overrides: Overrides) -> np.ndarray:
    """(n, 14) ``w`` of each state (module docstring): 1 at the chamber volumes, the compliance
    (the override, else the preset's value) at each circuit's pressure, 0 at the flows."""
    w = np.zeros((len(presets), N_STATE))
    for j, k in enumerate(STATE_NAMES):
        if k.startswith("v_"):
            w[:, j] = 1.0
    for c in CIRCUITS:
        w[:, STATE_NAMES.index(f"p_{c}_mmhg")] = _parameter(f"{c}_c_ml_mmhg", presets, overrides)
    return w


def cold_blood(presets: Sequence[str], overrides: Overrides) -> np.ndarray:
    """(n,) the blood a cold start of each parameter set holds (mL): the preset's initial state with
    each chamber's unstressed volume added and the systemic venous pressure moved by the
    stressed-volume shift over its compliance (:mod:`mitrasim.physiology.simulation`), so

        B_cold = Σ_chambers (x_c,0 + V0_c) + Σ_circuits C_k · p_k,0 + shift
    """
    initial = {p: get_parameter_set(p).initial for p in dict.fromkeys(presets)}
    out = _parameter(STRESSED_VOLUME_SHIFT, presets, overrides, default=0.0)
    for k in STATE_NAMES:
        x0 = np.array([initial[p][k] for p in presets], dtype=float)
        if k.startswith("v_"):
            out = out + x0 + _parameter(f"{k[2:-3]}_v0_ml", presets, overrides)
        elif k.startswith("p_"):
            out = out + x0 * _parameter(f"{k[2:-5]}_c_ml_mmhg", presets, overrides)
    return out


def blood(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(n,) the blood ``w · x`` each state holds (mL)."""
    return np.einsum("ij,ij->i", x, w)


def hold_blood(x: np.ndarray, w: np.ndarray, target_ml: np.ndarray) -> np.ndarray:
    """``x`` (n, 14) with the systemic venous pressure moved so that each row holds ``target_ml``
    under ``w`` (a new array)."""
    out = np.array(x, dtype=float, copy=True)
    out[:, _P_SYS_VEN] += (target_ml - blood(out, w)) / w[:, _P_SYS_VEN]
    return out


def moved(x: np.ndarray, w_from: np.ndarray, w_to: np.ndarray) -> np.ndarray:
    """(n, 14) states ``x`` of one loading state (weights ``w_from``) as starts in another (``w_to``)
    holding the same blood: :func:`hold_blood` of ``x`` under ``w_to`` to ``blood(x, w_from)``."""
    return hold_blood(x, w_to, blood(x, w_from))


_VOLUMES = [j for j, k in enumerate(STATE_NAMES) if k.startswith("v_")]


def finite_rows(x: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """``x`` where its row is finite with positive chamber volumes, else ``fallback``'s row (the start
    the prediction replaces; a non-finite start would make the engine start cold, an extrapolation
    past an empty chamber is no heart)."""
    ok = np.isfinite(x).all(axis=1) & (x[:, _VOLUMES] > 0.0).all(axis=1)
    return np.where(ok[:, None], x, fallback)


def transferred(x_a: np.ndarray, x_b: np.ndarray, x_c: np.ndarray, w_a: np.ndarray) -> np.ndarray:
    """(n, 14) the start ``x_a + (x_c − x_b)`` held to ``x_a``'s blood under ``w_a``
    (:func:`hold_blood`); ``x_a`` where that is not finite."""
    return finite_rows(hold_blood(x_a + (x_c - x_b), w_a, blood(x_a, w_a)), x_a)


def plane(x0: np.ndarray, c0: np.ndarray, xk: np.ndarray, ck: np.ndarray, c: np.ndarray, limit: float) -> np.ndarray:
    """(m, 14) starts extended from known states (module docstring, *Plane*): ``x0`` (m, 14) at
    orifices ``c0`` (m, 2); ``xk`` (m, K, 14) known states at ``ck`` (m, K, 2), a row of NaN where
    a state is missing (its weight is 0; all weights 0 where ``c0`` is not finite); ``c`` (m, 2) the orifices wanted; each weight clipped to
    ``±limit``.  ``x0`` where the result is not finite."""
    have = np.isfinite(xk).all(axis=2) & np.isfinite(ck).all(axis=2) & np.isfinite(c0).all(axis=1)[:, None]
    if not have.any():  # no known state (a round's first wave): every weight 0, the sum below adds +0.0 to x0
        return finite_rows(x0 + 0.0, x0)
    V = np.where(have[:, None, :], np.swapaxes(np.nan_to_num(ck - c0[:, None, :]), 1, 2), 0.0)  # (m, 2, K)
    # V⁺ only of the rows with a known state (a row without one has V = 0 and every weight 0: the first
    # wave of a round's alternatives), and once per run of rows with the same V (a patient's
    # alternatives of one wave share its known states); each V⁺ is its matrix's own, whatever the batch
    lam = np.zeros(have.shape)
    some = np.flatnonzero(have.any(axis=1))
    if some.size:
        Vs = V[some]
        bits = Vs.reshape(some.size, -1).view(np.int64)
        new = np.r_[True, (bits[1:] != bits[:-1]).any(axis=1)]
        P = np.linalg.pinv(Vs[new], rcond=1e-3)[np.cumsum(new) - 1]
        lam[some] = np.einsum("mkc,mc->mk", P, np.nan_to_num(c - c0)[some])
    lam = np.where(have, np.clip(np.nan_to_num(lam), -limit, limit), 0.0)
    D = xk - x0[:, None, :]
    D[~have] = 0.0
    return finite_rows(x0 + np.einsum("mk,mks->ms", lam, D), x0)
