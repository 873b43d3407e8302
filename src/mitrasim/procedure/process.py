"""The TEER procedure as a process, batched across patients.

Every patient goes through the same rounds; each round evaluates the candidate
clips of *all* active patients in one engine batch (per preset), warm-started
from each patient's previous steady cycle.

Round 0 — baseline: valve model → EROA, MVA → engine → echo → MR grade.

Round k = 1, 2, … (while the patient is active):

1. **Target.**  The residual gap profile ``g(s)`` after the clips in place
   (clip model, :mod:`mitrasim.valve.clip`) shows where the leak is; the
   target is the position, free of the clips in place and inside the line,
   where the clip covers the most residual gap: ``argmax_c ∫_{|s−c|≤W/2} g ds``.
2. **Device** from the anatomy at the target (:func:`mitrasim.devices.choose_device`
   on the residual valve; the case's preference).
3. **Grasp** (:func:`mitrasim.devices.assess_grasp`): good / marginal (its SLDA
   multiplier) / infeasible.
4. **Simulate** the first attempt and the alternatives the operator could
   reposition to (offsets along the line, the other sizes of the family at the
   target): all in the round's one engine batch.
5. **Measure** by echo (:mod:`mitrasim.procedure.hemodynamics`) and
   **decide** with the :class:`~mitrasim.procedure.rules.Rules`: release the
   first attempt if it is within the rules and no alternative gives a lower MR
   grade; otherwise reposition to the best alternative within the rules; if none
   is, the clip is removed and the procedure stops.  After a release: stop if
   MR ≤ the target grade, at the clip limit, or when the area is at its
   limit; otherwise add another clip.
6. **Complications** (seeded, :mod:`mitrasim.procedure.risks`): at each
   release, single-leaflet device attachment (SLDA, rate × grasp multiplier:
   the clip holds one leaflet only and the leak returns to what it was before
   it) and embolization (the clip is lost, the procedure stops); after the
   procedure, bleeding, pericardial effusion/tamponade, stroke, urgent surgery
   and in-hospital death (flags; they do not change the hemodynamics).

Finally the MVARC evaluation (:func:`mitrasim.echo.evaluate_mvarc`) of the
baseline and final grades with the final planimetric MVA and gradient.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from mitrasim import DISCLAIMER, citations
from mitrasim.devices import Device, assess_grasp, choose_device
from mitrasim.devices.catalogue import DEFAULT_CATALOGUE
from mitrasim.echo.grading import MRGrade
from mitrasim.echo.stenosis import MVARCResult, evaluate_mvarc
from mitrasim.echo.synthetic import EchoMeasurements
from mitrasim.errors import InputError
from mitrasim.procedure import calibration as _cal
from mitrasim.procedure.hemodynamics import BatchHemo, grade_states, label, simulate_states
from mitrasim.procedure.risks import DEFAULT_RATES, EVENT_LABELS, MAX_SLOTS, PATIENT_EVENTS, ComplicationRates, draw_uniforms
from mitrasim.procedure.rules import DEFAULT_RULES, Rules, rules_from_case
from mitrasim.valve.clip import clipped_profiles
from mitrasim.valve.fit import valve_from_spec
from mitrasim.valve.geometry import ValveModel

__all__ = [
    "PatientSetup",
    "setup_from_case",
    "StateSummary",
    "ClipStep",
    "PlacedClip",
    "ProcedureResult",
    "ProcedureBatch",
    "run_procedure",
    "run_procedures",
    "scallop_label",
    "residual_profiles",
]


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class PatientSetup:
    """One patient as the procedure needs it (built from a case by :func:`setup_from_case`).

    ``planned``: clips given by the user, ``(position_mm, device name)`` in order; when
    given, the procedure places those (no targeting, no reposition).
    """

    name: str
    preset: str
    valve: ValveModel
    etiology: str = "primary"
    hr_bpm: float = 70.0
    overrides: Mapping[str, float] = field(default_factory=dict)
    rules: Rules = DEFAULT_RULES
    planned: tuple[tuple[float, str], ...] = ()
    catalogue: Mapping[str, Device] = field(default_factory=lambda: DEFAULT_CATALOGUE)


def setup_from_case(case: Any, rules: Rules | None = None) -> PatientSetup:
    """A :class:`PatientSetup` from a validated :class:`mitrasim.case.Case`.

    ``rules`` replaces the case's ``procedure`` rules when given.
    """
    from mitrasim.case import clip_position_mm

    p = case.patient
    planned = tuple((clip_position_mm(case, c), c.device) for c in case.procedure.clips)
    return PatientSetup(
        name=case.name or "case",
        preset=p.preset,
        valve=valve_from_spec(case.valve),
        etiology=p.etiology,
        hr_bpm=float(p.hr_bpm),
        overrides=dict(p.overrides),
        rules=rules if rules is not None else rules_from_case(case),
        planned=planned,
    )


def _as_setup(x: Any, rules: Rules | None) -> PatientSetup:
    if isinstance(x, PatientSetup):
        return x if rules is None else PatientSetup(**{**x.__dict__, "rules": rules})
    from mitrasim.case import Case, load_case

    if isinstance(x, Case):
        return setup_from_case(x, rules)
    if isinstance(x, str) or hasattr(x, "__fspath__"):
        return setup_from_case(load_case(x), rules)
    raise InputError("cases", type(x).__name__, "Case, PatientSetup or a path to a case file")


# ----------------------------------------------------------------------------- results


@dataclass
class StateSummary:
    """The valve and the heart in one state, as the echo reports it."""

    eroa_cm2: float
    mva_cm2: float  # planimetric, all orifices
    forward_area_cm2: float  # effective, in the engine
    mr_grade: str
    decision_grade: int
    mean_gradient_mmhg: float
    rvol_ml: float
    rf_pct: float
    lvef_pct: float
    forward_sv_ml: float
    co_l_min: float
    la_mean_mmhg: float
    la_vwave_mmhg: float
    sbp_mmhg: float
    echo: EchoMeasurements
    grade: MRGrade

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k not in ("echo", "grade")}
        d["echo"] = self.echo.to_dict()
        d["grade_reasons"] = list(self.grade.reasons)
        return d


@dataclass
class PlacedClip:
    """A clip left in the valve (``effective`` False after single-leaflet attachment)."""

    device: str
    position_mm: float
    width_mm: float
    arm_length_mm: float
    scallop: str
    grasp: str
    slda_multiplier: float
    effective: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ClipStep:
    """One logged step: an attempt, a reposition, a release, a removal or an event."""

    clip: int
    action: str  # attempt | reposition | release | removed | slda | embolization | stop | event
    text: str
    device: str | None = None
    position_mm: float | None = None
    eroa_cm2: float | None = None
    mr_grade: str | None = None
    mean_gradient_mmhg: float | None = None
    mva_cm2: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProcedureResult:
    """One patient's procedure."""

    name: str
    baseline: StateSummary
    final: StateSummary
    clips: list[PlacedClip]
    steps: list[ClipStep]
    complications: dict[str, bool]
    stop_reason: str
    aborted: bool
    mvarc: MVARCResult
    seed: int | None
    rules: Rules
    final_state: np.ndarray
    baseline_state: np.ndarray
    citations: list[str] = field(default_factory=list)
    waveforms_before: dict[str, np.ndarray] | None = None
    waveforms_after: dict[str, np.ndarray] | None = None

    @property
    def n_clips(self) -> int:
        """Clips implanted (including one attached to a single leaflet)."""
        return len(self.clips)

    @property
    def log(self) -> list[str]:
        return [s.text for s in self.steps]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seed": self.seed,
            "rules": asdict(self.rules),
            "baseline": self.baseline.to_dict(),
            "final": self.final.to_dict(),
            "n_clips": self.n_clips,
            "clips": [c.to_dict() for c in self.clips],
            "steps": [s.to_dict() for s in self.steps],
            "log": self.log,
            "complications": dict(self.complications),
            "stop_reason": self.stop_reason,
            "aborted": self.aborted,
            "mvarc": self.mvarc.to_dict(),
            "citations": list(self.citations),
            "disclaimer": DISCLAIMER,
        }


@dataclass
class ProcedureBatch:
    """Results of :func:`run_procedures`: one :class:`ProcedureResult` per patient, in order,
    and :meth:`arrays` for cohort tables."""

    results: list[ProcedureResult]
    seed: int | None

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, i: int) -> ProcedureResult:
        return self.results[i]

    def arrays(self) -> dict[str, np.ndarray]:
        """Column arrays (n,): n_clips, eroa/mva/gradient/grade before and after, rvol/rf/co/la_mean
        after, mvarc_success (1/0/-1 unknown), aborted, and one boolean column per complication."""
        R = self.results
        out: dict[str, np.ndarray] = {
            "n_clips": np.array([r.n_clips for r in R], dtype=int),
            "aborted": np.array([r.aborted for r in R], dtype=bool),
        }
        for tag, get in (("before", lambda r: r.baseline), ("after", lambda r: r.final)):
            for k in ("eroa_cm2", "mva_cm2", "forward_area_cm2", "mean_gradient_mmhg", "rvol_ml", "rf_pct", "co_l_min", "la_mean_mmhg", "lvef_pct"):
                out[f"{k}_{tag}"] = np.array([getattr(get(r), k) for r in R], dtype=float)
            out[f"mr_grade_{tag}"] = np.array([get(r).decision_grade for r in R], dtype=int)
        out["mvarc_success"] = np.array([-1 if r.mvarc.success is None else int(r.mvarc.success) for r in R], dtype=int)
        for e in (*PATIENT_EVENTS, "slda", "embolization"):
            out[e] = np.array([r.complications.get(e, False) for r in R], dtype=bool)
        return out


# ----------------------------------------------------------------------------- helpers


def scallop_label(valve: ValveModel, position_mm: float) -> str:
    """"A2/P2" for a position in segment 2, etc."""
    seg = int(np.clip(np.searchsorted(valve.segment_edges_mm, position_mm, side="right") - 1, 0, 2)) + 1
    return f"A{seg}/P{seg}"


def residual_profiles(valve: ValveModel, clips: Sequence[PlacedClip]) -> tuple[np.ndarray, np.ndarray]:
    """Gap and opening profiles (mm) with the *effective* clips in place."""
    eff = [c for c in clips if c.effective]
    if not eff:
        return valve.gap_mm.copy(), valve.opening_mm.copy()
    g, w, _, _ = clipped_profiles(
        valve,
        np.array([[c.position_mm for c in eff]]),
        np.array([[c.width_mm for c in eff]]),
        np.array([[c.arm_length_mm for c in eff]]),
    )
    return g[0], w[0]


def _free_positions(valve: ValveModel, clips: Sequence[PlacedClip], width_mm: float) -> np.ndarray:
    """Grid positions where a clip of ``width_mm`` fits inside the line without overlapping a clip."""
    s = valve.s_mm
    ok = (s >= width_mm / 2 - 1e-9) & (s <= valve.line_length_mm - width_mm / 2 + 1e-9)
    for c in clips:
        ok &= np.abs(s - c.position_mm) >= 0.5 * (width_mm + c.width_mm) - 1e-9
    return s[ok]


def _target(valve: ValveModel, g: np.ndarray, free: np.ndarray, width_mm: float) -> float | None:
    """Free position covering the most residual gap: argmax_c Σ_{|s−c|≤W/2} g Δs."""
    if free.size == 0:
        return None
    cover = np.array([g[np.abs(valve.s_mm - c) <= width_mm / 2].sum() for c in free])
    return float(free[int(np.argmax(cover))])


def _family(dev: Device, catalogue: Mapping[str, Device]) -> list[Device]:
    return [d for d in catalogue.values() if d.family == dev.family and d.name != dev.name]


@dataclass
class _Candidate:
    patient: int
    position_mm: float
    device: Device
    grasp_status: str
    grasp_reasons: tuple[str, ...]
    slda_multiplier: float
    first: bool
    eroa_cm2: float = np.nan
    mva_cm2: float = np.nan


def _candidates(setup: PatientSetup, i: int, clips: list[PlacedClip], k: int, mva_now: float) -> tuple[list[_Candidate], str]:
    """The first attempt (first in the list) and the alternatives for clip ``k`` (0-based)."""
    valve = setup.valve
    g, w = residual_profiles(valve, clips)
    rv = valve.with_(gap_degenerative_mm=g, gap_functional_mm=np.zeros_like(g), opening_mm=w)
    cat = setup.catalogue
    if setup.planned:
        pos, name = setup.planned[k]
        dev = cat[name]
        ga = assess_grasp(rv, pos, dev)
        return [_Candidate(i, float(pos), dev, ga.status, ga.reasons, ga.slda_multiplier, True)], "planned clip"
    peak = float(valve.s_mm[int(np.argmax(g))])
    choice = choose_device(rv, peak, setup.rules.device_preference, cat, mva_cm2=mva_now)
    dev = choice.device
    out: list[_Candidate] = []
    seen: set[tuple[float, str]] = set()

    def add(pos: float | None, d: Device, first: bool) -> None:
        if pos is None:
            return
        key = (round(pos, 3), d.name)
        if key in seen:
            return
        seen.add(key)
        ga = assess_grasp(rv, pos, d)
        out.append(_Candidate(i, float(pos), d, ga.status, ga.reasons, ga.slda_multiplier, first))

    free = _free_positions(valve, clips, dev.width_mm)
    c0 = _target(valve, g, free, dev.width_mm)
    if c0 is None:
        return [], "no room left on the coaptation line"
    add(c0, dev, True)
    for off in setup.rules.reposition_offsets_mm:
        want = c0 + off
        if free.size:
            add(float(free[int(np.argmin(np.abs(free - want)))]), dev, False)
    for d in _family(dev, cat):
        fr = _free_positions(valve, clips, d.width_mm)
        add(_target(valve, g, fr, d.width_mm), d, False)
    return out, "; ".join(choice.reasons)


def _summary(h: BatchHemo, j: int, echo: EchoMeasurements, grade: MRGrade, dec: int) -> StateSummary:
    m = h.metrics
    return StateSummary(
        eroa_cm2=float(h.eroa_cm2[j]),
        mva_cm2=float(h.mva_cm2[j]),
        forward_area_cm2=float(h.forward_area_cm2[j]),
        mr_grade=grade.grade if grade.grade_number is not None else f"indeterminate (≈{label(dec)})",
        decision_grade=int(dec),
        mean_gradient_mmhg=float(m["mean_gradient_mmhg"][j]),
        rvol_ml=float(m["rvol_ml"][j]),
        rf_pct=float(echo.rf_pct),
        lvef_pct=float(m["ef_pct"][j]),
        forward_sv_ml=float(m["forward_sv_ml"][j]),
        co_l_min=float(m["co_l_min"][j]),
        la_mean_mmhg=float(m["la_mean_mmhg"][j]),
        la_vwave_mmhg=float(m["la_vwave_mmhg"][j]),
        sbp_mmhg=float(m["sbp_mmhg"][j]),
        echo=echo,
        grade=grade,
    )


def _g(x: int) -> str:
    return label(x)


def _result_text(c: _Candidate, before: StateSummary, after: StateSummary, valve: ValveModel, k: int) -> str:
    grasp = f"grasp {c.grasp_status}"
    if c.grasp_status != "good" and c.grasp_reasons:
        grasp += f" ({c.grasp_reasons[0]})"
    return (
        f"Clip {k + 1} ({c.device.name}) at {scallop_label(valve, c.position_mm)}, {c.position_mm:.1f} mm: {grasp}; "
        f"EROA {before.eroa_cm2:.2f}→{after.eroa_cm2:.2f} cm², MR {_g(before.decision_grade)}→{_g(after.decision_grade)}, "
        f"mean gradient {before.mean_gradient_mmhg:.1f}→{after.mean_gradient_mmhg:.1f} mmHg, MVA {after.mva_cm2:.2f} cm²"
    )


def _fails(c: _Candidate, s: StateSummary, cur: StateSummary, rules: Rules) -> str | None:
    """Why this clip may not be released (None = it may)."""
    if c.grasp_status == "infeasible":
        return "grasp not possible" + (f": {c.grasp_reasons[0]}" if c.grasp_reasons else "")
    if not np.isfinite(s.mean_gradient_mmhg):
        return "no steady state"
    if s.mean_gradient_mmhg >= rules.max_gradient_mmhg:
        return f"gradient {s.mean_gradient_mmhg:.1f} mmHg ≥ {rules.max_gradient_mmhg:g}"
    if s.mva_cm2 < rules.min_mva_cm2:
        return f"MVA {s.mva_cm2:.2f} < {rules.min_mva_cm2:g} cm²"
    helps = s.decision_grade < cur.decision_grade or s.eroa_cm2 <= (1.0 - rules.min_eroa_reduction) * cur.eroa_cm2
    if not helps:
        return f"no gain (EROA {cur.eroa_cm2:.2f}→{s.eroa_cm2:.2f} cm², MR stays {_g(s.decision_grade)})"
    return None


# ----------------------------------------------------------------------------- the process


def run_procedures(
    cases: Sequence[Any],
    *,
    seed: int | np.random.Generator | None = 0,
    rules: Rules | None = None,
    rates: ComplicationRates | None = None,
    forward_discharge_coeff: float | None = None,
    waveforms: bool = False,
    settings: Any = None,
) -> ProcedureBatch:
    """Run the procedure for many patients at once (see the module docstring).

    Args:
        cases: :class:`mitrasim.case.Case` objects, :class:`PatientSetup` objects or
            paths to case files (mixed is fine).
        seed: seed (or Generator) of the complication draws; ``None`` = no complications.
        rules: replaces every case's own ``procedure`` rules when given.
        rates: complication rates (default :data:`mitrasim.procedure.risks.DEFAULT_RATES`).
        forward_discharge_coeff: anatomic MVA → engine forward area (default: calibrated).
        waveforms: also store the baseline and final steady beats (for reports; small batches).
        settings: engine :class:`mitrasim.physiology.simulation.SolverSettings`.

    Returns:
        :class:`ProcedureBatch` (``.results[i]`` for patient ``i``; ``.arrays()`` for columns).
    """
    setups = [_as_setup(c, rules) for c in cases]
    n = len(setups)
    if n == 0:
        raise InputError("cases", [], "at least one case")
    cd = _cal.FORWARD_DISCHARGE_COEFF if forward_discharge_coeff is None else float(forward_discharge_coeff)
    rates = DEFAULT_RATES if rates is None else rates
    U = draw_uniforms(seed, n) if seed is not None else np.ones((n, 2 * MAX_SLOTS + len(PATIENT_EVENTS)))
    seed_int = seed if isinstance(seed, int) else None
    citations.cite("clinical_reference_stop_rules", "stone2015_mvarc")

    presets = [s.preset for s in setups]
    overrides = [dict(s.overrides) for s in setups]
    hr = np.array([s.hr_bpm for s in setups])
    etiol = [s.etiology for s in setups]

    # round 0: baseline
    eroa0 = np.array([s.valve.eroa_cm2 for s in setups])
    mva0 = np.array([s.valve.mva_cm2 for s in setups])
    h0 = simulate_states(presets, overrides, hr, eroa0, mva0, cd, settings=settings)
    e0, g0, d0 = grade_states(h0, etiol)
    baseline = [_summary(h0, i, e0[i], g0[i], d0[i]) for i in range(n)]
    current = list(baseline)
    state = h0.final_state.copy()
    clips: list[list[PlacedClip]] = [[] for _ in range(n)]
    steps: list[list[ClipStep]] = [[] for _ in range(n)]
    stop = [""] * n
    aborted = [False] * n
    events = [{e: False for e in (*PATIENT_EVENTS, "slda", "embolization")} for _ in range(n)]
    attempted = [False] * n
    active = np.zeros(n, dtype=bool)
    for i, s in enumerate(setups):
        b = baseline[i]
        steps[i].append(ClipStep(0, "baseline", (
            f"Baseline: EROA {b.eroa_cm2:.2f} cm², RVol {b.rvol_ml:.0f} mL, RF {b.rf_pct:.0f}%, MR {b.mr_grade}; "
            f"mean gradient {b.mean_gradient_mmhg:.1f} mmHg, MVA {b.mva_cm2:.2f} cm²"
        ), eroa_cm2=b.eroa_cm2, mr_grade=b.mr_grade, mean_gradient_mmhg=b.mean_gradient_mmhg, mva_cm2=b.mva_cm2))  # fmt: skip
        if b.decision_grade <= s.rules.target_residual_grade:
            stop[i] = f"MR {_g(b.decision_grade)} at baseline ≤ target {_g(s.rules.target_residual_grade)}: no clip"
        else:
            active[i] = True

    k = 0
    while active.any():
        idx = np.flatnonzero(active)
        cands: list[_Candidate] = []
        for i in idx:
            s = setups[i]
            limit = min(s.rules.max_clips, len(s.planned)) if s.planned else s.rules.max_clips
            if len(clips[i]) >= limit or len(clips[i]) >= MAX_SLOTS:
                stop[i] = f"{len(clips[i])} clips: the limit"
                active[i] = False
                continue
            cs, why = _candidates(s, int(i), clips[i], len(clips[i]), current[i].mva_cm2)
            if not cs:
                stop[i] = why
                active[i] = False
                continue
            cands.extend(cs)
        if not cands:
            break
        # clip model for every candidate, then one engine batch (per preset)
        for c in cands:
            eff = [cl for cl in clips[c.patient] if cl.effective]
            v = setups[c.patient].valve
            g, w, _, _ = clipped_profiles(
                v,
                np.array([[*(cl.position_mm for cl in eff), c.position_mm]]),
                np.array([[*(cl.width_mm for cl in eff), c.device.width_mm]]),
                np.array([[*(cl.arm_length_mm for cl in eff), c.device.arm_length_mm]]),
            )
            c.eroa_cm2 = float(v.discharge_coeff * g[0].sum() * v.ds_mm / 100.0)
            c.mva_cm2 = float(w[0].sum() * v.ds_mm / 100.0)
        pi = [c.patient for c in cands]
        h = simulate_states(
            [presets[p] for p in pi], [overrides[p] for p in pi], hr[pi],
            np.array([c.eroa_cm2 for c in cands]), np.array([c.mva_cm2 for c in cands]), cd,
            initial_state=state[pi], settings=settings,
        )  # fmt: skip
        ech, grd, dec = grade_states(h, [etiol[p] for p in pi])
        by_patient: dict[int, list[int]] = {}
        for j, p in enumerate(pi):
            by_patient.setdefault(p, []).append(j)
        for p, js in by_patient.items():
            s = setups[p]
            R = s.rules
            v = s.valve
            cur = current[p]
            attempted[p] = True
            nclip = len(clips[p])
            sums = {j: _summary(h, j, ech[j], grd[j], int(dec[j])) for j in js}
            first = js[0]
            c0, s0 = cands[first], sums[first]
            txt0 = _result_text(c0, cur, s0, v, nclip)
            f0 = _fails(c0, s0, cur, R)
            ok_alt = [j for j in js[1:] if _fails(cands[j], sums[j], cur, R) is None]
            best_alt = min(ok_alt, key=lambda j: (sums[j].decision_grade, sums[j].mean_gradient_mmhg, sums[j].eroa_cm2), default=None)
            chosen: int | None = None
            if c0.grasp_status == "infeasible":
                steps[p].append(ClipStep(nclip + 1, "attempt", f"Clip {nclip + 1} ({c0.device.name}) at {scallop_label(v, c0.position_mm)}, {c0.position_mm:.1f} mm: {f0}", c0.device.name, c0.position_mm))
            elif f0 is None and (best_alt is None or sums[best_alt].decision_grade >= s0.decision_grade):
                chosen = first
                steps[p].append(ClipStep(nclip + 1, "release", txt0 + ": release", c0.device.name, c0.position_mm, s0.eroa_cm2, s0.mr_grade, s0.mean_gradient_mmhg, s0.mva_cm2))
            else:
                why = f0 or f"MR {_g(s0.decision_grade)} where a nearby grasp gives {_g(sums[best_alt].decision_grade)}"  # type: ignore[index]
                if s0.mean_gradient_mmhg > R.abort_gradient_mmhg:
                    why += f" > abort limit {R.abort_gradient_mmhg:g} mmHg"
                steps[p].append(ClipStep(nclip + 1, "attempt", txt0 + f": not released ({why})", c0.device.name, c0.position_mm, s0.eroa_cm2, s0.mr_grade, s0.mean_gradient_mmhg, s0.mva_cm2))
            if chosen is None and best_alt is not None and not s.planned:
                chosen = best_alt
                cb, sb = cands[best_alt], sums[best_alt]
                steps[p].append(ClipStep(nclip + 1, "reposition", "  reposition → " + _result_text(cb, cur, sb, v, nclip) + ": release", cb.device.name, cb.position_mm, sb.eroa_cm2, sb.mr_grade, sb.mean_gradient_mmhg, sb.mva_cm2))
            if chosen is None:
                steps[p].append(ClipStep(nclip + 1, "removed", f"  clip {nclip + 1} opened and removed; no position within the rules: stop"))
                stop[p] = f"clip {nclip + 1} not released: {f0 or 'no acceptable position'}"
                if nclip == 0:
                    aborted[p] = True
                active[p] = False
                continue
            c, sc = cands[chosen], sums[chosen]
            placed = PlacedClip(c.device.name, c.position_mm, c.device.width_mm, c.device.arm_length_mm, scallop_label(v, c.position_mm), c.grasp_status, c.slda_multiplier)
            slot = min(nclip, MAX_SLOTS - 1)
            p_slda = min(1.0, rates.slda_per_clip * c.slda_multiplier)
            p_emb = rates.embolization_per_clip
            if U[p, MAX_SLOTS + slot] < p_emb:
                events[p]["embolization"] = True
                steps[p].append(ClipStep(nclip + 1, "embolization", f"  complication: clip {nclip + 1} embolized and retrieved; leak back to EROA {cur.eroa_cm2:.2f} cm² (MR {_g(cur.decision_grade)}): stop"))
                stop[p] = "clip embolization"
                active[p] = False
                continue
            clips[p].append(placed)
            if U[p, slot] < p_slda:
                placed.effective = False
                events[p]["slda"] = True
                steps[p].append(ClipStep(nclip + 1, "slda", (
                    f"  complication: single-leaflet device attachment of clip {nclip + 1} (grasp {c.grasp_status}, "
                    f"risk ×{c.slda_multiplier:.1f}); leak back to EROA {cur.eroa_cm2:.2f} cm² (MR {_g(cur.decision_grade)})"
                )))  # fmt: skip
                sc = cur  # the hemodynamics of the state before this clip
            else:
                current[p] = sc
                state[p] = h.final_state[chosen]
            n_now = len(clips[p])
            limit = min(R.max_clips, len(s.planned)) if s.planned else R.max_clips
            if sc.decision_grade <= R.target_residual_grade:
                stop[p] = f"residual MR {_g(sc.decision_grade)} ≤ target {_g(R.target_residual_grade)}"
                active[p] = False
            elif n_now >= limit:
                stop[p] = f"residual MR {_g(sc.decision_grade)} but {n_now} clips: the limit"
                active[p] = False
            elif sc.mva_cm2 < R.min_mva_cm2:
                stop[p] = f"MVA {sc.mva_cm2:.2f} < {R.min_mva_cm2:g} cm²: no room for another clip"
                active[p] = False
            else:
                steps[p].append(ClipStep(nclip + 1, "decide", f"  residual MR {_g(sc.decision_grade)} > {_g(R.target_residual_grade)}: add another clip"))
        k += 1

    # final echo, complications, MVARC
    results = []
    for i, s in enumerate(setups):
        if attempted[i]:
            for j, e in enumerate(PATIENT_EVENTS):
                if U[i, 2 * MAX_SLOTS + j] < rates.patient_rates()[j]:
                    events[i][e] = True
                    steps[i].append(ClipStep(len(clips[i]), "event", f"complication: {EVENT_LABELS[e]}"))
        f, b = current[i], baseline[i]
        steps[i].append(ClipStep(len(clips[i]), "stop", f"Stop: {stop[i]}"))
        steps[i].append(ClipStep(len(clips[i]), "final", (
            f"Result: {len(clips[i])} clip(s); EROA {b.eroa_cm2:.2f}→{f.eroa_cm2:.2f} cm², MR {b.mr_grade}→{f.mr_grade}, "
            f"mean gradient {b.mean_gradient_mmhg:.1f}→{f.mean_gradient_mmhg:.1f} mmHg, MVA {b.mva_cm2:.2f}→{f.mva_cm2:.2f} cm²"
        ), eroa_cm2=f.eroa_cm2, mr_grade=f.mr_grade, mean_gradient_mmhg=f.mean_gradient_mmhg, mva_cm2=f.mva_cm2))  # fmt: skip
        mv = evaluate_mvarc(b.grade if b.grade.grade_number is not None else b.decision_grade,
                            f.grade if f.grade.grade_number is not None else f.decision_grade,
                            eoa_after_cm2=max(f.mva_cm2, 1e-3), mean_gradient_after_mmhg=max(0.0, f.mean_gradient_mmhg))  # fmt: skip
        results.append(ProcedureResult(
            name=s.name, baseline=b, final=f, clips=clips[i], steps=steps[i], complications=events[i],
            stop_reason=stop[i], aborted=aborted[i], mvarc=mv, seed=seed_int, rules=s.rules,
            final_state=state[i].copy(), baseline_state=h0.final_state[i].copy(),
        ))  # fmt: skip
    if waveforms:
        _attach_waveforms(results, setups, cd, settings)
    keys = [src.key for src in citations.used()]
    for r in results:
        r.citations = keys
    return ProcedureBatch(results, seed_int)


def _attach_waveforms(results: list[ProcedureResult], setups: list[PatientSetup], cd: float, settings: Any) -> None:
    """Baseline and final steady beats with waveforms (one batch, warm-started)."""
    n = len(results)
    pres = [s.preset for s in setups] * 2
    ov = [dict(s.overrides) for s in setups] * 2
    hr = np.array([s.hr_bpm for s in setups] * 2)
    eroa = np.array([r.baseline.eroa_cm2 for r in results] + [r.final.eroa_cm2 for r in results])
    mva = np.array([r.baseline.mva_cm2 for r in results] + [r.final.mva_cm2 for r in results])
    init = np.concatenate([np.stack([r.baseline_state for r in results]), np.stack([r.final_state for r in results])])
    h = simulate_states(pres, ov, hr, eroa, mva, cd, initial_state=init, waveforms=True, settings=settings)
    for i, r in enumerate(results):
        r.waveforms_before = h.patient_waveforms(i)
        r.waveforms_after = h.patient_waveforms(n + i)


def run_procedure(
    case: Any,
    *,
    seed: int | np.random.Generator | None = 0,
    rules: Rules | None = None,
    rates: ComplicationRates | None = None,
    forward_discharge_coeff: float | None = None,
    waveforms: bool = False,
    settings: Any = None,
) -> ProcedureResult:
    """One case through the procedure (a batch of one; see :func:`run_procedures`)."""
    return run_procedures([case], seed=seed, rules=rules, rates=rates, forward_discharge_coeff=forward_discharge_coeff, waveforms=waveforms, settings=settings).results[0]


_ = rules_from_case  # re-exported through the package
