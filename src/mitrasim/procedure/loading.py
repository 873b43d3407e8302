"""Loading states: the procedure's decisions under general anaesthesia, outcomes awake.

TEER is done under general anaesthesia (GA) with transoesophageal echo; the
patient is assessed before the procedure, and at discharge and 30 days,
awake.  GA unloads the heart: systolic and mean arterial pressure and the LV
dimensions are lower, and MR is read at least one grade lower in about half of
the patients (Grewal et al. 2000, 43 patients, pre-operative vs intra-operative
TEE; the model's share in a trial's patients, a validation miss in a mixed
cohort, is measured by ``benchmarks/loading_states.py`` and reported in
``benchmarks/RESULTS.md``).  The model applies GA as overrides of the engine's parameters, never as a
change of the engine:

    R_sys,GA = (1 − ΔR) · R_sys          afterload: arterial vasodilation
    C_ven,GA = (1 + ΔC) · C_ven          preload: venodilation; the same blood
                                          volume sits at a lower venous pressure
    HR_GA    = (1 − ΔHR) · HR            heart rate

with ΔR, ΔC, ΔHR in :data:`ANAESTHESIA_CHANGE`.  The directions are those
reported (Grewal 2000; anaesthetic unloading, Dryden et al. 2023); the
magnitudes are model choices [check]: no source giving the awake-to-GA change
of systemic resistance, venous capacitance and heart rate in TEER patients was
found in the sources searched.  A lower heart rate lengthens diastole, which
lowers the transmitral gradient at a given flow; lower afterload and preload
lower the regurgitant volume for the same valve (tested: LV end-diastolic
volume, regurgitant volume, LA and mean arterial pressure lower under GA than
awake for each of the five example patients, ``tests/test_loading_blood.py``).

Blood.  The blood is the patient's: anaesthesia changes where it sits, not how
much there is.  The engine conserves the blood its start state holds,
``B = w · x`` (:mod:`mitrasim.procedure.start_states`: the chamber volumes plus
each circuit's ``C_k · p_k``), and ``w`` holds the compliances, so the awake
state's pressures read with the wider venous compliance would hold
``ΔC · C_ven · p_sys_ven`` more blood and raise the preload GA lowers.  Every
state here holds the awake blood:

    started from an awake state x:   hold_blood(x, w_state, B_awake(x))      (start_states.moved)
    started cold:                    shift_state = shift − Σ_k (C_k,state − C_k) · p_k,0

the second for a cold start from the preset's initial pressures ``p_k,0``,
whose systemic venous pressure the stressed-volume shift moves
(:data:`~mitrasim.physiology.parameters.STRESSED_VOLUME_SHIFT`, set by
:func:`loading_arrays`); the two starts reach the same steady state (tested).
The procedure's anaesthesia baseline is started from the awake baseline
(:func:`mitrasim.procedure.steps.baseline`), the awake outcome from the
anaesthesia states held to the awake baseline's blood
(:func:`~mitrasim.procedure.start_states.transferred`).

The valve itself changes too: an unloaded, smaller LV tethers less, so the
*functional* coaptation gap narrows, while a flail or prolapse does not
(Michigan series, Am J Cardiol 1995, 46 patients, conscious-sedation vs GA
TEE: functional-MR vena contracta :data:`VENA_CONTRACTA_FMR_CM` awake and under GA,
flail unchanged).  With the gap proportional to the vena-contracta width,

    g_fun,GA = s_GA · g_fun,   s_GA = VC_GA / VC_awake   (:data:`FUNCTIONAL_GAP_SCALE_GA`),

degenerative gaps unchanged (:func:`valve_in_state`).  A TEER cohort read later
(:data:`TEER_GA_SOURCE`, 50 patients, sedation vs GA TEE before the clip) agrees in
direction and in primary MR (no change), but its secondary-MR vena contracta fell less
than the Michigan surgical series' functional MR (its ratio :data:`TEER_GA_VC_RATIO_SMR`
against :data:`FUNCTIONAL_GAP_SCALE_GA`); which cohort anchors ``s_GA`` is open [check]:
the constant still follows the Michigan series.

Restored afterload (the operator's "afterload challenge").  Before releasing or
adding clips, practice restores the blood pressure under GA with a vasopressor
(phenylephrine) to judge the residual MR at physiological loading: in 57
patients assessed awake (conscious sedation) and under GA, MR and mean
arterial pressure were lower under GA, and once the awake mean arterial
pressure was matched with phenylephrine MR severity no longer differed between
the states (:data:`PHENYLEPHRINE_CHALLENGE_SOURCE`, 2006); a quantitative
loading test with phenylephrine (and fluids) raised the EROA of ischaemic MR
back above its pre-operative value (Shiran et al. 2007).  The third state
``"anaesthesia_restored_afterload"`` is GA with the afterload restored:

    R_sys,restored = R_sys                      the patient's awake systemic resistance
    C_ven, HR                                   GA's (phenylephrine is a pure
                                                 α-agonist; the 2006 study matched
                                                 the pressure, not the volume)
    g_fun,restored = s_restored · g_fun,   s_restored = 1  (:data:`FUNCTIONAL_GAP_SCALE`)

The awake resistance, rather than a target mean arterial pressure, keeps the
state one engine call (a target pressure needs an iteration per patient); with
GA's lower preload (the patient's blood in the wider venous bed) and heart rate
the forward output stays lower, and the resulting mean arterial pressure lies
between GA's and the awake one (tested), about half-way: for the two example
valves at 72 bpm 13–15 mmHg below the awake pressure, GA's 21–25 mmHg below.
The state restores the resistance, not the pressure the 2006 study matched
(phenylephrine's venous effect, which would restore some preload, is not
modelled [check]); its regurgitant volume is nevertheless within a few percent
of the awake one and its decision grade the awake grade for each of the five
example patients (the functional gap's awake width and the awake resistance
carry most of it).  ``s_restored = 1`` is the model reading of
"no difference in MR severity once the pressure is matched" (the 2006 study's
abstract; full text not read [check]): the functional gap returns to its awake
width.  The procedure reads its decisions in this state when the protocol's
``assess_at_restored_afterload`` is set (:mod:`mitrasim.protocol`).

States: ``"awake"`` (the patient's own parameters), ``"anaesthesia"`` and
``"anaesthesia_restored_afterload"`` (:data:`STATE_WORDS` names them in
outputs). :func:`loading_overrides` gives one patient's overrides and heart
rate in a state; :func:`loading_arrays` many at once.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, Mapping, Sequence

import numpy as np

from mitrasim import citations
from mitrasim.errors import InputError
from mitrasim.physiology.parameter_sets import get_parameter_set
from mitrasim.physiology.parameters import STRESSED_VOLUME_SHIFT

if TYPE_CHECKING:  # pragma: no cover
    from mitrasim.valve.clip import ValveRows
    from mitrasim.valve.geometry import ValveModel

__all__ = [
    "LoadingState", "LOADING_STATES", "STATE_WORDS", "ANAESTHESIA_CHANGE", "STATE_CHANGE", "FUNCTIONAL_GAP_SCALE_GA",
    "FUNCTIONAL_GAP_SCALE", "loading_overrides", "loading_arrays", "valve_in_state", "rows_in_state",
]  # fmt: skip

citations.register(
    "grewal2000_ga_mr",
    "Grewal KS, Malkowski MJ, Piracha AR, et al. Effect of general anesthesia on the severity of mitral "
    "regurgitation by transesophageal echocardiography. Am J Cardiol 85(2):199-203 (2000).",
    doi="10.1016/s0002-9149(99)00644-x",
    note="Abstract read (PubMed 10955377): 43 patients with moderate or severe MR, pre- vs intra-operative TEE: "
    "SBP, MAP and LV end-diastolic/end-systolic dimensions lower under GA; jet area and vena contracta smaller, "
    "pulmonary-vein flow from reversed to blunted; 22 of 43 (51%) improved at least one MR grade. The abstract "
    "gives no magnitudes of the pressure or dimension changes.",
)
citations.register(
    "dryden2023_teer_anaesthesia",
    "Dryden A, Hynes M, Hibbert B. Anaesthesia for transcatheter mitral valve repair. BJA Educ 23(5):189-195 (2023).",
    doi="10.1016/j.bjae.2023.01.004",
    note="Haemodynamic goals and anaesthetic management during TEER.",
)

citations.register(
    "michigan1995_ga_fmr",
    "Accuracy of intraoperative transesophageal echocardiography for estimating the severity of functional "
    "mitral regurgitation. Am J Cardiol 76(7):508-512 (1995), Department of Internal Medicine, University of "
    "Michigan; PubMed 7653454 (authors not shown on the PubMed page read) [check].",
    note="Abstract read (PubMed 7653454): 46 patients (21 flail, 19 functional, 6 rheumatic), matched pre-operative "
    "TEE under conscious sedation and intra-operative TEE under general anaesthesia: functional-MR vena contracta "
    "(mitrasim.procedure.loading.VENA_CONTRACTA_FMR_CM) and jet area 10.0 -> 5.7 cm2 (p < 0.001); unchanged in "
    "leaflet flail (1.10 -> 1.04 cm).",
)

citations.register(
    "jcva2022_ga_teer",
    "General Anesthesia Leads to Underestimation of Regurgitation Severity in Patients With Secondary Mitral "
    "Regurgitation Undergoing Transcatheter Mitral Valve Repair. J Cardiothorac Vasc Anesth 36(4):974-982 (2022) "
    "(authors not on the page read) [check].",
    doi="10.1053/j.jvca.2021.10.024",
    note="Abstract read: 50 TEER patients, TEE under conscious sedation (work-up) vs under GA (procedure). Primary "
    "MR (n = 11): no significant change. Secondary MR (n = 39): vena contracta mitrasim.procedure.loading."
    "TEER_GA_VC_MM, EROA 30 -> 24 mm2, RVol 47 -> 34 mL, jet area 10 -> 7 cm2 (all significant).",
)
TEER_GA_SOURCE = "jcva2022_ga_teer"
"""The TEER cohort compared with the Michigan series (module docstring)."""
TEER_GA_VC_MM = {"awake": 5.5, "anaesthesia": 4.7}
"""Secondary-MR vena contracta in TEER patients, conscious sedation vs GA (mm; :data:`TEER_GA_SOURCE`)."""
TEER_GA_VC_RATIO_SMR = TEER_GA_VC_MM["anaesthesia"] / TEER_GA_VC_MM["awake"]
"""The TEER cohort's VC_GA / VC_awake in secondary MR (a cross-check of :data:`FUNCTIONAL_GAP_SCALE_GA`, not used)."""

VENA_CONTRACTA_FMR_CM = {"awake": 1.10, "anaesthesia": 0.79}
"""Functional-MR vena contracta width, conscious sedation vs GA (Michigan 1995)."""
FUNCTIONAL_GAP_SCALE_GA = VENA_CONTRACTA_FMR_CM["anaesthesia"] / VENA_CONTRACTA_FMR_CM["awake"]
"""s_GA: the functional coaptation gap under GA relative to awake."""
FUNCTIONAL_GAP_SCALE = {"awake": 1.0, "anaesthesia": FUNCTIONAL_GAP_SCALE_GA, "anaesthesia_restored_afterload": 1.0}
"""The functional gap's scale in each state (module docstring; the restored state's 1 [check])."""

citations.register(
    "phenylephrine_challenge2006_mr",
    "Effects of the operative state and phenylephrine challenge on the assessment of mitral regurgitation "
    "severity by intraoperative transesophageal echocardiography (2006), PubMed 16950471 (authors and journal "
    "not on the abstract page read) [check].",
    note="57 patients, pre-operative TEE under conscious sedation vs intra-operative TEE under GA before and after "
    "vasoactive agents matching the pre-operative mean arterial pressure: MR and MAP lower under GA (27 patients); "
    "with pressures matched by phenylephrine no significant difference in MR severity (P = 1.0), residual "
    "under-estimation in 6 and over-estimation in 7. Abstract read (PubMed 16950471), full text not.",
)
citations.register(
    "shiran2007_loading_test",
    "Shiran A, Merdler A, Ismir E, Ammar R, Zlotnick AY, Aravot D, Lazarovici H, Zisman E, Pizov R, Lewis BS. "
    "Intraoperative transesophageal echocardiography using a quantitative dynamic loading test for the evaluation "
    "of ischemic mitral regurgitation. J Am Soc Echocardiogr 20(6):690-697 (2007), PubMed 17543738.",
    note="30 patients, ischaemic MR: EROA 0.16 cm2 pre-operative (TTE), 0.13 under GA, 0.21 after fluids (if wedge "
    "pressure < 15 mmHg) and phenylephrine (target systolic pressure 160 mmHg); the loading test avoids "
    "under-estimating ischaemic MR. Abstract read (PubMed 17543738), full text not.",
)
PHENYLEPHRINE_CHALLENGE_SOURCE = "phenylephrine_challenge2006_mr"
"""The source of the restored-afterload state (module docstring)."""

LoadingState = Literal["awake", "anaesthesia", "anaesthesia_restored_afterload"]
LOADING_STATES: tuple[str, ...] = ("awake", "anaesthesia", "anaesthesia_restored_afterload")
STATE_WORDS = {
    "awake": "awake",
    "anaesthesia": "general anaesthesia",
    "anaesthesia_restored_afterload": "general anaesthesia, afterload restored with phenylephrine",
}
"""How outputs name each loading state."""

ANAESTHESIA_CHANGE = {"sys_ar_r_mmhg_s_ml": -0.20, "sys_ven_c_ml_mmhg": 0.25, "hr_bpm": -0.10}
"""Relative change of each quantity under general anaesthesia (model magnitudes [check];
directions: Grewal 2000)."""

STATE_CHANGE: dict[str, dict[str, float]] = {
    "awake": {},
    "anaesthesia": ANAESTHESIA_CHANGE,
    "anaesthesia_restored_afterload": {k: v for k, v in ANAESTHESIA_CHANGE.items() if k != "sys_ar_r_mmhg_s_ml"},
}
"""Relative changes applied in each state: the restored state is GA without the afterload change."""


def _check_state(state: str) -> None:
    if state not in LOADING_STATES:
        raise InputError("loading_state", state, f"one of {', '.join(LOADING_STATES)}")


def loading_overrides(preset: str, overrides: Mapping[str, float], hr_bpm: float, state: str) -> tuple[dict[str, float], float]:
    """The engine overrides and heart rate of one patient in ``state``.

    ``overrides`` are the patient's own (awake) overrides of ``preset``; a parameter not
    overridden takes the preset's value before it is scaled (:func:`loading_arrays` of one patient).
    """
    out, hr = loading_arrays([preset], [overrides], np.array([hr_bpm], dtype=float), state)
    return out[0], float(hr[0])


@lru_cache(maxsize=64)
def _preset_values(preset: str) -> dict[str, float]:
    """The values of a preset's parameters (cached: the procedure asks once per patient)."""
    return dict(get_parameter_set(preset).values)


@lru_cache(maxsize=64)
def _preset_initial(preset: str) -> dict[str, float]:
    """A preset's initial state (the cold start's circuit pressures)."""
    return dict(get_parameter_set(preset).initial)


def _compliance_pressure(name: str) -> str | None:
    """The initial-state pressure of compliance ``name`` (``sys_ven_c_ml_mmhg`` → ``p_sys_ven_mmhg``), else None."""
    return f"p_{name[: -len('_c_ml_mmhg')]}_mmhg" if name.endswith("_c_ml_mmhg") else None


def loading_arrays(
    presets: Sequence[str], overrides: Sequence[Mapping[str, float]], hr_bpm: np.ndarray, state: str | Sequence[str],
) -> tuple[list[dict[str, float]], np.ndarray]:
    """The engine overrides and heart rates of many patients in their states (``state`` one for all
    or one per patient): ``(overrides list, hr_bpm array)``.  Each patient's dict is a copy of its
    own (awake) overrides of its preset with every parameter of :data:`STATE_CHANGE` set to
    ``(overridden or preset value) · (1 + change)``, its heart rate scaled likewise; each state is
    checked and cited once.  A state that changes a compliance also moves the stressed-volume shift,
    so that a cold start in it holds the awake blood (module docstring, *Blood*)."""
    n = len(presets)
    states = [state] * n if isinstance(state, str) else list(state)
    hr = np.asarray(hr_bpm, dtype=float).reshape(n)
    out = [dict(o) for o in overrides]
    hr_out = hr.copy()
    for st in dict.fromkeys(states):
        _check_state(st)
        citations.cite("grewal2000_ga_mr", "dryden2023_teer_anaesthesia")
        if st == "awake":
            continue
        if st == "anaesthesia_restored_afterload":
            citations.cite(PHENYLEPHRINE_CHALLENGE_SOURCE, "shiran2007_loading_test")
        idx = [i for i, x in enumerate(states) if x == st]
        change = STATE_CHANGE[st]
        for i in idx:
            o, values, initial = out[i], _preset_values(presets[i]), _preset_initial(presets[i])
            held = 0.0  # blood the changed compliances would add to a cold start (module docstring)
            for name, rel in change.items():
                if name != "hr_bpm":
                    own = float(o.get(name, values[name]))
                    o[name] = own * (1.0 + rel)
                    p0 = _compliance_pressure(name)
                    held += 0.0 if p0 is None else (o[name] - own) * initial[p0]
            if held != 0.0:
                o[STRESSED_VOLUME_SHIFT] = float(o.get(STRESSED_VOLUME_SHIFT, values.get(STRESSED_VOLUME_SHIFT, 0.0))) - held
        hr_out[idx] = hr[idx] * (1.0 + change.get("hr_bpm", 0.0))
    return out, hr_out


def _gap_scale(state: str) -> float:
    _check_state(state)
    if state != "awake":
        citations.cite("michigan1995_ga_fmr" if state == "anaesthesia" else PHENYLEPHRINE_CHALLENGE_SOURCE)
    return FUNCTIONAL_GAP_SCALE[state]


def valve_in_state(valve: "ValveModel", state: str) -> "ValveModel":
    """The valve in ``state``: the functional gap scaled by :data:`FUNCTIONAL_GAP_SCALE` (module docstring)."""
    s = _gap_scale(state)
    return valve if s == 1.0 else valve.with_(gap_functional_mm=valve.gap_functional_mm * s)


def rows_in_state(rows: "ValveRows", state: str) -> "ValveRows":
    """:func:`valve_in_state` for stacked valve rows (the procedure's groups)."""
    s = _gap_scale(state)
    return rows if s == 1.0 else replace(rows, gap_functional_mm=rows.gap_functional_mm * s)
