"""How the chronic MR phenotypes were calibrated (reproducible: ``python -m mitrasim.physiology.calibration``).

Each phenotype starts from ``regazzoni2022`` and changes only what the disease changes:

* ``primary_mr`` (degenerative MR, chronic volume overload, preserved contractility): a dilated,
  more compliant left atrium (V0 20 mL, E_B 0.05 mmHg/mL: fixed choices) and a dilated LV;
  fitted: LV unstressed volume ``lv_v0_ml``, LV passive elastance ``lv_eb_mmhg_ml``, systemic
  arterial resistance and the circulating (stressed) blood volume, so that at EROA 0.40 cm² the
  steady beat has LVEF 64 % and LVEDV 150 mL (degenerative-MR TEER cohorts: EVEREST II RCT LVEF
  64 %, pooled LVEDV 131–161 mL; Chiarito et al. 2018, Table 3), with a mean LA pressure of
  13 mmHg and MAP 90 mmHg (mitrasim's choices: an elevated but compensated LA, normal MAP).
* ``secondary_mr`` (functional MR of a dilated weak LV): the same LA remodelling (V0 20 mL,
  E_B 0.06 mmHg/mL); fitted: LV active elastance ``lv_ea_mmhg_ml`` (contractility),
  ``lv_v0_ml``, ``lv_eb_mmhg_ml``, systemic arterial resistance and the stressed blood volume, so
  that at EROA 0.41 cm² the steady beat lands on COAPT's baseline, LVEF 31.3 % and LVEDV 193 mL
  (Stone et al. 2018), with mean LA pressure 18 mmHg, MAP 80 mmHg, forward cardiac output
  3.5 L/min and an early-filling E wave of 1.0 m/s (mitrasim's choices for treated heart failure
  with severe functional MR, which fills early and restrictively); the targets conflict (see the
  preset's calibration text) and are weighted 3:2:1:1.5:1:1.

The blood volume is moved through the initial systemic venous pressure (the largest reservoir);
the stored initial state is the steady cycle start at the phenotype's default EROA.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import least_squares

from mitrasim.physiology import calibration_sources  # noqa: F401
from mitrasim.physiology.parameter_sets import REGAZZONI2022
from mitrasim.physiology.parameters import ParameterSet
from mitrasim.physiology.simulation import SolverSettings, simulate

SETTINGS = SolverSettings(tol=1e-5, max_beats=3000, dt_max_s=2e-3)

TARGETS = {
    "primary_mr": {"eroa_cm2": 0.40, "ef_pct": 64.0, "edv_ml": 150.0, "la_mean_mmhg": 13.0, "map_mmhg": 90.0},
    "secondary_mr": {"eroa_cm2": 0.41, "ef_pct": 31.3, "edv_ml": 193.0, "la_mean_mmhg": 18.0, "map_mmhg": 80.0, "co_l_min": 3.5,
                     "e_velocity_m_s": 1.0},
}
#: Relative weights of the targets in the fit (COAPT's LVEF and LVEDV first).
WEIGHTS = {
    "primary_mr": {"ef_pct": 1.0, "edv_ml": 1.0, "la_mean_mmhg": 1.0, "map_mmhg": 1.0},
    "secondary_mr": {"ef_pct": 3.0, "edv_ml": 2.0, "la_mean_mmhg": 1.0, "map_mmhg": 1.5, "co_l_min": 1.0, "e_velocity_m_s": 1.0},
}
FIXED = {
    "primary_mr": {"la_v0_ml": 20.0, "la_eb_mmhg_ml": 0.05},
    "secondary_mr": {"la_v0_ml": 20.0, "la_eb_mmhg_ml": 0.06},
}
FREE = {
    "primary_mr": ("lv_v0_ml", "lv_eb_mmhg_ml", "p_sys_ven_mmhg", "sys_ar_r_mmhg_s_ml"),
    "secondary_mr": ("lv_ea_mmhg_ml", "lv_v0_ml", "lv_eb_mmhg_ml", "p_sys_ven_mmhg", "sys_ar_r_mmhg_s_ml"),
}
START = {
    "primary_mr": (30.0, 0.08, 40.0, 1.0),
    "secondary_mr": (0.9, 110.0, 0.2, 25.0, 1.2),
}
BOUNDS = {
    "primary_mr": ((0.0, 0.02, 5.0, 0.3), (150.0, 0.5, 80.0, 3.0)),
    "secondary_mr": ((0.2, 0.0, 0.02, 5.0, 0.3), (3.0, 170.0, 0.6, 80.0, 3.0)),
}


def phenotype(name: str, x, base: ParameterSet = REGAZZONI2022) -> ParameterSet:
    """The phenotype ``name`` with free parameters ``x`` (in the order of ``FREE[name]``)."""
    values = dict(base.values) | FIXED[name] | {"eroa_cm2": TARGETS[name]["eroa_cm2"]}
    initial = dict(base.initial)
    for k, v in zip(FREE[name], x):
        if k in initial:
            initial[k] = float(v)
        else:
            values[k] = float(v)
    return dataclasses.replace(base, name=name, values=values, initial=initial)


def residuals(name: str, x) -> np.ndarray:
    m = simulate(phenotype(name, x), settings=SETTINGS).patient_metrics()
    t = TARGETS[name]
    w = WEIGHTS[name]
    return np.array([w[k] * (m[k] - v) / v for k, v in t.items() if k != "eroa_cm2"])


def calibrate(name: str) -> tuple[ParameterSet, dict]:
    """Fit the free parameters of ``name`` to its targets; returns the set and the steady metrics."""
    fit = least_squares(lambda x: residuals(name, x), START[name], bounds=BOUNDS[name], x_scale="jac", xtol=1e-10, ftol=1e-10)
    ps = phenotype(name, fit.x)
    res = simulate(ps, settings=SETTINGS)
    steady = {s: float(v) for s, v in zip(ps.initial, res.final_state[0])}
    for i, ch in enumerate(("la", "lv", "ra", "rv")):
        key = ("v_la_ml", "v_lv_ml", "v_ra_ml", "v_rv_ml")[i]
        steady[key] -= ps.values[f"{ch}_v0_ml"]
    ps = dataclasses.replace(ps, initial=steady)
    return ps, {"free": dict(zip(FREE[name], map(float, fit.x))), "metrics": res.patient_metrics()}


if __name__ == "__main__":  # pragma: no cover - run by hand
    import sys

    for nm in sys.argv[1:] or TARGETS:
        ps, info = calibrate(nm)
        print(nm, info["free"])
        print({k: round(v, 3) for k, v in info["metrics"].items() if isinstance(v, float)})
        print("initial:", {k: round(v, 4) for k, v in ps.initial.items()})
