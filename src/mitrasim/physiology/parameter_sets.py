"""Named parameter sets, each from its source and registered with its citation.

* ``regazzoni2022`` — the adult heart of Regazzoni et al. 2022 (Part I, closed-loop
  lumped model) with the paper's values unchanged and mitrasim's Bernoulli mitral valve
  (MVA 4.0 cm², EROA 0).  This is what the name ``regazzoni2022`` gives.  Its mean PA
  pressure is about 38 mmHg (pulmonary hypertension): it is the paper's set, not a normal heart.
* ``regazzoni2022_normal`` — the physiological derivative: the paper's set with both
  pulmonary resistances scaled to the healthy mean PA pressure (Kovacs 2009); within the
  normal adult ranges (``tests/test_presets.py``).  The MR phenotypes derive from it.  The
  default "normal heart" of every command, the web page and the library function
  ``simulate()`` (:data:`mitrasim.physiology.preset_names.DEFAULT_PRESET`).
* ``svzerod_two_hill`` — SimVascular svZeroDSolver's test case
  ``closed_loop_two_hill.json`` (a Regazzoni-family closed loop with two-hill
  activation and resistive diode valves), converted from SI to mL/mmHg/s by
  :func:`from_svzerod_config`, for like-for-like runs against svZeroDSolver.
* ``primary_mr`` and ``secondary_mr`` — compensated chronic MR phenotypes derived from
  ``regazzoni2022_normal`` (see each set's ``calibration`` text and
  :mod:`mitrasim.calibrate.presets` for how and to what).
"""

from __future__ import annotations

from mitrasim import citations
from mitrasim.physiology import calibration_sources  # noqa: F401  (registers chiarito2018)
from mitrasim.errors import InputError
from mitrasim.physiology.parameters import CHAMBERS, Model, ParameterSet

citations.register(
    "regazzoni2022",
    "Regazzoni F, Salvador M, Africa PC, Fedele M, Dedè L, Quarteroni A. A cardiac electromechanics model "
    "coupled with a lumped-parameter model for closed-loop blood circulation. Part I: model derivation. "
    "J Comput Phys 457:111083 (2022).",
    doi="10.1016/j.jcp.2022.111083",
)
citations.register(
    "svzerodsolver",
    "SimVascular svZeroDSolver, test case closed_loop_two_hill.json (Regazzoni et al. 2022 closed loop, "
    "two-hill activation). https://github.com/SimVascular/svZeroDSolver",
)
citations.register(
    "bernoulli_orifice",
    "Gorlin/Bernoulli orifice law in clinical units: Q [mL/s] = 50.16·A [cm²]·sqrt(Δp [mmHg]) with "
    "ρ = 1060 kg/m³; orifice inertance L = ρ·l_eff/A (e.g. Mynard JP et al. Int J Numer Meth Biomed Eng "
    "28:626 (2012)).",
    doi="10.1002/cnm.1466",
)

_REG_CHAMBERS = {
    # E_A, E_B, V0, tC, TC, TR  (Regazzoni 2022, Table of parameters; mmHg/mL, mL, s at 75 bpm)
    "lv": (2.75, 0.08, 5.0, 0.0, 0.272, 0.12),
    "rv": (0.55, 0.05, 10.0, 0.0, 0.272, 0.12),
    "la": (0.07, 0.09, 4.0, 0.60, 0.104, 0.68),
    "ra": (0.06, 0.07, 4.0, 0.56, 0.064, 0.64),
}
_REG_CIRCUITS = {
    # R, C, L
    "sys_ar": (0.8, 1.2, 5e-3),
    "sys_ven": (0.26, 60.0, 5e-4),
    "pul_ar": (0.1625, 10.0, 5e-4),
    "pul_ven": (0.1625, 16.0, 5e-4),
}
_REG_RMIN, _REG_RMAX = 0.0075, 75006.2


def _regazzoni_values() -> dict[str, float]:
    v: dict[str, float] = {"hr_bpm": 75.0, "ref_hr_bpm": 75.0, "mva_cm2": 4.0, "eroa_cm2": 0.0, "mv_leff_cm": 1.0}
    for ch, (ea, eb, v0, tc, dc, dr) in _REG_CHAMBERS.items():
        v |= {f"{ch}_ea_mmhg_ml": ea, f"{ch}_eb_mmhg_ml": eb, f"{ch}_v0_ml": v0}
        v |= {f"{ch}_tc_s": tc, f"{ch}_dur_contract_s": dc, f"{ch}_dur_relax_s": dr}
    for c, (r, cc, ll) in _REG_CIRCUITS.items():
        v |= {f"{c}_r_mmhg_s_ml": r, f"{c}_c_ml_mmhg": cc, f"{c}_l_mmhg_s2_ml": ll}
    for va in ("av", "tv", "pv"):
        v |= {f"{va}_rmin_mmhg_s_ml": _REG_RMIN, f"{va}_rmax_mmhg_s_ml": _REG_RMAX}
    return v


# Steady cycle start of regazzoni2022 (stressed chamber volumes V − V0).  The circulating blood
# volume is the one with which the paper's all-diode model lands on the reference steady beat
# (EDV 119.0 mL, ESV 48.0, EF 59.7 %, CO 5.33 L/min, BP 123/78, mean LA 9.0 mmHg): found by
# bisection on the initial systemic venous pressure; the state below is the steady cycle start of
# this preset (Bernoulli mitral valve) with that same volume.
_REG_INITIAL = {
    "v_la_ml": 55.8564, "v_lv_ml": 114.7509, "v_ra_ml": 60.4733, "v_rv_ml": 138.9479,
    "p_sys_ar_mmhg": 83.23, "p_sys_ven_mmhg": 30.1307, "p_pul_ar_mmhg": 35.5723, "p_pul_ven_mmhg": 23.0164,
    "q_sys_ar_ml_s": 66.8093, "q_sys_ven_ml_s": 88.0941, "q_pul_ar_ml_s": 77.4018, "q_pul_ven_ml_s": 87.9762,
    "q_mv_ml_s": 4.0961, "q_mr_ml_s": 0.0,
}  # fmt: skip


REGAZZONI2022 = ParameterSet(
    name="regazzoni2022",
    description="The paper's own adult heart at 75 bpm (Regazzoni et al. 2022), not a normal heart (pulmonary hypertension: "
    "see regazzoni2022_normal), with a Bernoulli mitral valve, MVA 4 cm², no leak.",
    citations=("regazzoni2022", "bernoulli_orifice"),
    model=Model(activation="cosine", mitral="orifice"),
    values=_regazzoni_values(),
    initial=_REG_INITIAL,
    calibration="Paper values unchanged (mean PA pressure about 38 mmHg: see regazzoni2022_normal); the mitral valve "
    "is mitrasim's two-orifice Bernoulli valve (MVA 4.0 cm², a normal adult valve area; l_eff 1 cm).",
)

# --- regazzoni2022_normal: the paper's set with normal pulmonary resistances --------------------

NORMAL_PVR_SCALE = 0.198724
"""Factor on both of the paper's pulmonary resistances that gives the healthy mean PA pressure
(:data:`mitrasim.calibrate.presets.NORMAL_MPAP_MMHG`, Kovacs 2009); found by
:func:`mitrasim.calibrate.presets.normal_pulmonary`."""

NORMAL_VOLUME_SHIFT_ML = -598.056
"""Stressed-volume shift of ``regazzoni2022_normal`` against the paper's (already in its initial state),
found with :data:`NORMAL_PVR_SCALE` by :func:`mitrasim.calibrate.presets.normal_pulmonary`."""

REGAZZONI2022_NORMAL = ParameterSet(
    name="regazzoni2022_normal",
    description="Normal adult heart: regazzoni2022 with normal pulmonary vascular resistance (mean PA pressure of healthy "
    "subjects, Kovacs 2009); everything else the paper's.",
    citations=("regazzoni2022", "bernoulli_orifice", "kovacs2009_mpap"),
    model=REGAZZONI2022.model,
    values=REGAZZONI2022.values | {
        "pul_ar_r_mmhg_s_ml": _REG_CIRCUITS["pul_ar"][0] * NORMAL_PVR_SCALE,
        "pul_ven_r_mmhg_s_ml": _REG_CIRCUITS["pul_ven"][0] * NORMAL_PVR_SCALE,
    },
    initial={
        "v_la_ml": 55.2322,
        "v_lv_ml": 114.1078,
        "v_ra_ml": 44.0245,
        "v_rv_ml": 98.4992,
        "p_sys_ar_mmhg": 81.4287,
        "p_sys_ven_mmhg": 28.362,
        "p_pul_ar_mmhg": 12.0218,
        "p_pul_ven_mmhg": 10.7598,
        "q_sys_ar_ml_s": 66.768,
        "q_sys_ven_ml_s": 88.8585,
        "q_pul_ar_ml_s": 40.2595,
        "q_pul_ven_ml_s": 68.5107,
        "q_mv_ml_s": 0.0,
        "q_mr_ml_s": 0.0,
    },
    calibration="regazzoni2022 with both pulmonary resistances scaled by NORMAL_PVR_SCALE: with the paper's values the "
    "mean PA pressure is about 38 mmHg (pulmonary hypertension); scaled, it is the healthy resting mean of Kovacs 2009. "
    "The blood the emptier pulmonary arteries no longer hold (NORMAL_VOLUME_SHIFT_ML) is taken out, so that the "
    "cardiac output stays the paper's (5.4 L/min); the initial state below is this preset's steady cycle start "
    "(EDV 119 mL, EF 60 %, BP 122/77, mean LA 8.2 mmHg).",
)


# --- svZeroDSolver two-hill test case -----------------------------------------------------------

_PA_PER_MMHG = 133.322
_SI_R = 1.0 / _PA_PER_MMHG / 1e6  # Pa·s/m³ -> mmHg·s/mL (also Pa/m³ -> mmHg/mL, Pa·s²/m³ -> mmHg·s²/mL)
_SI_C = _PA_PER_MMHG * 1e6  # m³/Pa -> mL/mmHg

#: The numbers of closed_loop_two_hill.json (SI units, as in the file), kept so that the
#: preset works without the file; tests check them against the file when it is at hand.
SVZEROD_TWO_HILL_SI = {
    "cardiac_period": 0.689655,
    "vessels": {
        "AR_SYS": {"C": 6.93626e-09, "R_poiseuille": 90219259.0, "L": 666611.0},
        "VEN_SYS": {"C": 4.5004e-07, "R_poiseuille": 8506913.0, "L": 66661.1},
        "AR_PUL": {"C": 7.5006e-08, "R_poiseuille": 4266316.0, "L": 66661.1},
        "VEN_PUL": {"C": 1.2001e-07, "R_poiseuille": 4666283.0, "L": 66661.1},
    },
    "chambers": {
        "LA": {"Emax": 26660000.0, "Epass": 20449931.0, "Vrest": 4e-06,
               "act": {"t_shift": 0.025, "tau_1": 0.07586206896551724, "tau_2": 0.12413793103448276, "m1": 1.32, "m2": 13.1}},
        "LV": {"Emax": 333878537.0, "Epass": 12605372.0, "Vrest": 1.9763060505362944e-06,
               "act": {"t_shift": 0.207, "tau_1": 0.18551724137931036, "tau_2": 0.31172413793103454, "m1": 1.32, "m2": 27.4}},
        "RA": {"Emax": 7999343.0, "Epass": 4932281.0, "Vrest": 4e-06,
               "act": {"t_shift": 0.025, "tau_1": 0.07586206896551724, "tau_2": 0.12413793103448276, "m1": 1.32, "m2": 13.1}},
        "RV": {"Emax": 65719659.0, "Epass": 5406837.0, "Vrest": 5.431634509432495e-05,
               "act": {"t_shift": 0.207, "tau_1": 0.18551724137931036, "tau_2": 0.31172413793103454, "m1": 1.32, "m2": 27.4}},
    },
    "valves": {v: {"Rmin": 666600.0, "Rmax": 6666000000.0} for v in ("MV", "AV", "TV", "PV")},
    "initial_condition": {
        "Vc:LA": 5.624441188959639e-05, "Vc:LV": 8.142759737438906e-05,
        "Vc:RA": 8.913584459023032e-05, "Vc:RV": 0.00011868964658139648,
        "pressure:AV:AR_SYS": 9926.031159725162, "pressure:J0:VEN_SYS": 1358.6946929956582,
        "pressure:PV:AR_PUL": 2075.062641303878, "pressure:J2:VEN_PUL": 1744.2583185734634,
        "flow:AR_SYS:J0": 9.612211741415929e-05, "flow:VEN_SYS:J1": 0.00011034140583655497,
        "flow:AR_PUL:J2": 7.93375172471186e-05, "flow:VEN_PUL:J3": 4.621258343525287e-05,
    },
}  # fmt: skip


def from_svzerod_config(cfg: dict) -> tuple[dict[str, float], dict[str, float]]:
    """Convert an svZeroDSolver closed-loop file (or :data:`SVZEROD_TWO_HILL_SI`) to mitrasim units.

    Accepts the JSON structure of ``closed_loop_two_hill.json`` (vessels ``AR_SYS, VEN_SYS,
    AR_PUL, VEN_PUL`` as BloodVesselCRL; chambers ``LA, LV, RA, RV`` as LinearElastanceChamber
    with two-hill activation; PiecewiseValve ``MV, AV, TV, PV``) and returns
    ``(values, initial)``: parameter values and the initial state (stressed chamber volumes).
    """
    if "simulation_parameters" in cfg:  # the raw JSON file
        period = cfg["simulation_parameters"]["cardiac_period"]
        vessels = {v["vessel_name"]: v["zero_d_element_values"] for v in cfg["vessels"]}
        chambers = {
            c["name"]: {**c["values"], "act": {k: c["activation_function"][k] for k in ("t_shift", "tau_1", "tau_2", "m1", "m2")}}
            for c in cfg["chambers"]
        }
        for c in cfg["chambers"]:
            if c["activation_function"]["type"] != "two_hill" or c["type"] != "LinearElastanceChamber":
                raise InputError(f"chambers.{c['name']}", c["type"], "LinearElastanceChamber with two_hill activation")
        valves = {v["name"]: v["params"] for v in cfg["valves"]}
        ic = cfg["initial_condition"]
    else:
        period, vessels, chambers, valves, ic = (cfg[k] for k in ("cardiac_period", "vessels", "chambers", "valves", "initial_condition"))
    hr = 60.0 / period
    v: dict[str, float] = {"hr_bpm": hr, "ref_hr_bpm": hr}
    for ch in CHAMBERS:
        c = chambers[ch.upper()]
        a = c["act"]
        v |= {
            f"{ch}_ea_mmhg_ml": c["Emax"] * _SI_R,
            f"{ch}_eb_mmhg_ml": c["Epass"] * _SI_R,
            f"{ch}_v0_ml": c["Vrest"] * 1e6,
            f"{ch}_tshift_s": a["t_shift"],
            f"{ch}_tau1_s": a["tau_1"],
            f"{ch}_tau2_s": a["tau_2"],
            f"{ch}_m1": a["m1"],
            f"{ch}_m2": a["m2"],
        }
    for name, key in (("AR_SYS", "sys_ar"), ("VEN_SYS", "sys_ven"), ("AR_PUL", "pul_ar"), ("VEN_PUL", "pul_ven")):
        e = vessels[name]
        v |= {f"{key}_r_mmhg_s_ml": e["R_poiseuille"] * _SI_R, f"{key}_c_ml_mmhg": e["C"] * _SI_C, f"{key}_l_mmhg_s2_ml": e["L"] * _SI_R}
    for name in ("AV", "TV", "PV", "MV"):
        p = valves[name]
        v |= {f"{name.lower()}_rmin_mmhg_s_ml": p["Rmin"] * _SI_R, f"{name.lower()}_rmax_mmhg_s_ml": p["Rmax"] * _SI_R}
    init = {
        "v_la_ml": ic["Vc:LA"] * 1e6 - v["la_v0_ml"],
        "v_lv_ml": ic["Vc:LV"] * 1e6 - v["lv_v0_ml"],
        "v_ra_ml": ic["Vc:RA"] * 1e6 - v["ra_v0_ml"],
        "v_rv_ml": ic["Vc:RV"] * 1e6 - v["rv_v0_ml"],
        "p_sys_ar_mmhg": ic["pressure:AV:AR_SYS"] / _PA_PER_MMHG,
        "p_sys_ven_mmhg": ic["pressure:J0:VEN_SYS"] / _PA_PER_MMHG,
        "p_pul_ar_mmhg": ic["pressure:PV:AR_PUL"] / _PA_PER_MMHG,
        "p_pul_ven_mmhg": ic["pressure:J2:VEN_PUL"] / _PA_PER_MMHG,
        "q_sys_ar_ml_s": ic["flow:AR_SYS:J0"] * 1e6,
        "q_sys_ven_ml_s": ic["flow:VEN_SYS:J1"] * 1e6,
        "q_pul_ar_ml_s": ic["flow:AR_PUL:J2"] * 1e6,
        "q_pul_ven_ml_s": ic["flow:VEN_PUL:J3"] * 1e6,
        "q_mv_ml_s": 0.0,
        "q_mr_ml_s": 0.0,
    }
    return v, init


_SVZ_VALUES, _SVZ_INITIAL = from_svzerod_config(SVZEROD_TWO_HILL_SI)

SVZEROD_TWO_HILL = ParameterSet(
    name="svzerod_two_hill",
    description="svZeroDSolver's closed_loop_two_hill.json (Regazzoni 2022 family, two-hill activation, diode valves, ~87 bpm).",
    citations=("svzerodsolver", "regazzoni2022"),
    model=Model(activation="two_hill", mitral="diode"),
    values=_SVZ_VALUES,
    initial=_SVZ_INITIAL,
    calibration="None: the file's values converted from SI (Pa, m³, s) to mmHg, mL, s.",
)


# --- chronic MR phenotypes (calibrated by mitrasim.calibrate.presets; see its docstring) ----

def _phenotype(name: str, description: str, cites: tuple[str, ...], values: dict, initial: dict, calibration: str) -> ParameterSet:
    return ParameterSet(name=name, description=description, citations=cites, model=REGAZZONI2022_NORMAL.model,
                        values=REGAZZONI2022_NORMAL.values | values, initial=initial, calibration=calibration)


PRIMARY_MR = _phenotype(
    "primary_mr",
    "Chronic degenerative (primary) MR, compensated: dilated LV and LA, preserved contractility; EROA 0.40 cm² by default.",
    ("regazzoni2022", "bernoulli_orifice", "kovacs2009_mpap", "chiarito2018"),
    values={
        "eroa_cm2": 0.4,
        "lv_ea_mmhg_ml": 1.890039,
        "lv_eb_mmhg_ml": 0.090799,
        "lv_v0_ml": 21.584204,
        "la_eb_mmhg_ml": 0.05,
        "la_v0_ml": 20.0,
        "sys_ar_r_mmhg_s_ml": 0.990033,
        "sys_ar_c_ml_mmhg": 0.976986,
    },
    initial={
        "v_la_ml": 118.899,
        "v_lv_ml": 161.6165,
        "v_ra_ml": 41.551,
        "v_rv_ml": 93.9141,
        "p_sys_ar_mmhg": 79.5798,
        "p_sys_ven_mmhg": 24.4692,
        "p_pul_ar_mmhg": 16.1004,
        "p_pul_ven_mmhg": 15.3143,
        "q_sys_ar_ml_s": 55.9576,
        "q_sys_ven_ml_s": 75.0198,
        "q_pul_ar_ml_s": 26.027,
        "q_pul_ven_ml_s": 33.951,
        "q_mv_ml_s": 75.6814,
        "q_mr_ml_s": 5.5808,
    },
    calibration="From regazzoni2022_normal: LA remodelling fixed (V0 20 mL, E_B 0.05 mmHg/mL); LV contractility, "
    "stiffness and size, systemic resistance and compliance and blood volume fitted by mitrasim.calibrate to the "
    "targets of mitrasim.calibrate.presets.TARGETS['primary_mr'] (degenerative-MR TEER cohorts' 2D LVEF and LVEDV, "
    "Chiarito 2018, against the engine's volumes minus Rigolli 2016's 2D bias; normal blood pressure and a mean LA "
    "pressure of 13 mmHg: mitrasim's choices). Lands at LVEF 64 %, EDV 184 mL (2D-equivalent 150), BP 125/75, "
    "forward CO 4.5 L/min, mean LA 13.0, mean PA 18 mmHg, RF 49 %.",
)

SECONDARY_MR = _phenotype(
    "secondary_mr",
    "Secondary (functional) MR of a dilated weak LV, compensated chronic heart failure; EROA 0.41 cm² (COAPT) by default.",
    ("regazzoni2022", "bernoulli_orifice", "kovacs2009_mpap", "stone2018_coapt"),
    values={
        "eroa_cm2": 0.41,
        "lv_ea_mmhg_ml": 0.552162,
        "lv_eb_mmhg_ml": 0.071843,
        "lv_v0_ml": 33.043317,
        "la_eb_mmhg_ml": 0.06,
        "la_v0_ml": 20.0,
        "sys_ar_r_mmhg_s_ml": 1.142189,
        "sys_ar_c_ml_mmhg": 0.855031,
    },
    initial={
        "v_la_ml": 151.394,
        "v_lv_ml": 272.7819,
        "v_ra_ml": 39.729,
        "v_rv_ml": 90.8108,
        "p_sys_ar_mmhg": 76.0873,
        "p_sys_ven_mmhg": 20.9413,
        "p_pul_ar_mmhg": 20.6256,
        "p_pul_ven_mmhg": 20.3222,
        "q_sys_ar_ml_s": 48.4985,
        "q_sys_ven_ml_s": 62.2854,
        "q_pul_ar_ml_s": 10.6826,
        "q_pul_ven_ml_s": 16.5544,
        "q_mv_ml_s": 148.7986,
        "q_mr_ml_s": 1.1429,
    },
    calibration="From regazzoni2022_normal: LA remodelling fixed (V0 20 mL, E_B 0.06 mmHg/mL); LV contractility, "
    "stiffness and size, systemic resistance and compliance and blood volume fitted by mitrasim.calibrate to "
    "mitrasim.calibrate.presets.TARGETS['secondary_mr']: COAPT's 2D LVEF and LVEDV (Stone 2018), "
    "SBP 117.5 mmHg, forward cardiac index 2.0 L/min/m² at BSA 1.9 m², mean LA 18 mmHg (a compensated state, not "
    "shock). At EROA 0.41 cm² the regurgitant volume is about 55 mL, so a forward index of 2.0 needs a total stroke "
    "volume near 105 mL: the fit lands at LVEF 33.8 %, EDV 307 mL (CMR-equivalent; 2D 274 mL, above COAPT's mean), "
    "BP 117/70, forward CO 3.8 L/min, mean LA 18, mean PA 22 mmHg, RF 52 %.",
)


PARAMETER_SETS: dict[str, ParameterSet] = {
    p.name: p for p in (REGAZZONI2022, REGAZZONI2022_NORMAL, SVZEROD_TWO_HILL, PRIMARY_MR, SECONDARY_MR)
}


def get_parameter_set(name: str) -> ParameterSet:
    try:
        return PARAMETER_SETS[name]
    except KeyError:
        raise InputError("preset", name, "one of " + ", ".join(sorted(PARAMETER_SETS))) from None
