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

Each of these is a named function of :mod:`mitrasim.procedure.steps` over arrays of
the patients (its module docstring lists the arrays and the order of the steps);
:func:`run_procedure_arrays` is the pipeline, :mod:`mitrasim.procedure.oplog` writes
the operator's log, :mod:`mitrasim.procedure.codes` holds the typed codes (grasp
status, refusal, outcome, log action).

Finally the MVARC endpoints (:mod:`mitrasim.echo.mvarc`: technical, device and procedural
success) from the baseline and final grades, the final planimetric MVA and gradient, the
clips left in the valve and the complications.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from mitrasim import citations
from mitrasim.disclaimer import DISCLAIMER
from mitrasim.devices import Device
from mitrasim.devices.catalogue import DEFAULT_CATALOGUE
from mitrasim.echo.grading import MRGrade
from mitrasim.echo.mvarc import MVARCBatch, MVARCEndpoints
from mitrasim.procedure.indication import check_indication
from mitrasim.echo.synthetic import EchoMeasurements
from mitrasim.errors import InputError
from mitrasim.procedure import calibration as _cal
from mitrasim.procedure import oplog, steps
from mitrasim.procedure.hemodynamics import BatchHemo, grade_states, label, simulate_states, steady_ok
from mitrasim.procedure.oplog import ClipStep, scallop_label
from mitrasim.procedure.risks import DEFAULT_RATES, N_DRAWS, PATIENT_EVENTS, ComplicationRates, PatientRisk, draw_uniforms
from mitrasim.procedure.rules import DEFAULT_RULES, Rules, rules_from_case
from mitrasim.procedure.steps import PlacedClip
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
    "run_procedure_arrays",
    "ProcedureArrays",
    "scallop_label",
    "residual_profiles",
]


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class PatientSetup:
    """One patient as the procedure needs it (built from a case by :func:`setup_from_case`).

    ``planned``: clips given by the user, ``(position_mm, device name)`` in order; when
    given, the procedure places those (no targeting, no reposition).  ``initial_state``: a
    steady state ``(14,)`` of this patient's awake heart and valve from an earlier simulation
    (a trial's baseline fit), the warm start of the awake baseline (None: a cold start); it changes
    the baseline only within the steady-state tolerance.
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
    risk: PatientRisk = PatientRisk()
    initial_state: np.ndarray | None = field(default=None, compare=False, repr=False)


def setup_from_case(case: Any, rules: Rules | None = None) -> PatientSetup:
    """A :class:`PatientSetup` from a validated :class:`mitrasim.case.Case`.

    ``rules`` replaces the case's ``procedure`` rules when given.
    """
    from mitrasim.procedure.patient import calibrated_overrides
    from mitrasim.case import clip_position_mm

    p = case.patient
    planned = tuple((clip_position_mm(case, c), c.device) for c in case.procedure.clips)
    return PatientSetup(
        name=case.name or "case",
        preset=p.preset,
        valve=valve_from_spec(case.valve),
        etiology=p.etiology,
        hr_bpm=float(p.hr_bpm),
        overrides=calibrated_overrides(case),  # the case's measurements fitted (mitrasim.calibrate), else its overrides
        rules=rules if rules is not None else rules_from_case(case),
        planned=planned,
        risk=PatientRisk(float(p.age_years), None if p.lvef_pct is None else float(p.lvef_pct), p.sts_prom_pct, bool(p.on_anticoagulant)),
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
    mvarc: MVARCEndpoints
    seed: int | None
    rules: Rules
    final_state: np.ndarray
    baseline_state: np.ndarray
    course: dict[str, Any] = field(default_factory=dict)  # grasps, repositions, exchanges, procedure_minutes, ended_by
    citations: list[str] = field(default_factory=list)
    intraprocedural: dict[str, Any] = field(default_factory=dict)
    waveforms_before: dict[str, np.ndarray] | None = None
    waveforms_after: dict[str, np.ndarray] | None = None
    indication_note: str | None = None  # set when run below the TEER indication under the research flag

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
            "rules": self.rules.model_dump(),
            "loading": {"baseline": "awake", "final": "awake", "intraprocedural": self.intraprocedural.get("loading", "awake")},
            "baseline": self.baseline.to_dict(),
            "final": self.final.to_dict(),
            "intraprocedural": dict(self.intraprocedural),
            "n_clips": self.n_clips,
            "clips": [c.to_dict() for c in self.clips],
            "steps": [s.to_dict() for s in self.steps],
            "log": self.log,
            "complications": dict(self.complications),
            "stop_reason": self.stop_reason,
            "aborted": self.aborted,
            "course": dict(self.course),
            "mvarc": self.mvarc.to_dict(),
            "indication_note": self.indication_note,
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
        for ep in ("technical", "device", "procedural"):
            out[f"mvarc_{ep}_success"] = np.array([-1 if getattr(r.mvarc, ep).success is None else int(getattr(r.mvarc, ep).success) for r in R], dtype=int)
        for e in (*PATIENT_EVENTS, "slda", "embolization"):
            out[e] = np.array([r.complications.get(e, False) for r in R], dtype=bool)
        return out


# ----------------------------------------------------------------------------- helpers


def residual_profiles(valve: ValveModel, clips: Sequence[PlacedClip]) -> tuple[np.ndarray, np.ndarray]:
    """Gap and opening profiles (mm) with the *effective* clips in place."""
    eff = [c for c in clips if c.effective]
    if not eff:
        return valve.gap_mm.copy(), valve.opening_mm.copy()
    g, w, _, _ = clipped_profiles(
        valve,
        np.array([[c.position_mm for c in eff]]),
        np.array([[c.width_mm for c in eff]]),
        np.array([[c.arm_length_mm * getattr(c, "grasp_depth_factor", 1.0) for c in eff]]),
        spacers_mm=np.array([[c.spacer_mm for c in eff]]),
    )
    return g[0], w[0]


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


# ----------------------------------------------------------------------------- the process


@dataclass
class ProcedureArrays:
    """The batched procedure's lean result (no per-state echo objects; for cohorts).

    ``baseline``/``final``: :class:`BatchHemo` rows per patient **awake** (the patient's own
    loading: the pre-procedure assessment and the reported result); ``*_echo``: their
    :func:`~mitrasim.procedure.hemodynamics.echo_arrays`; ``*_grade`` (−1 indeterminate)
    and ``*_decision`` grades; ``intraprocedural_*``: the same at the start and at the end of
    the procedure in the decisions' state (``decision_states``: per patient, GA with the
    afterload restored by default; the procedure itself in ``loading``, general anaesthesia
    by default) **as read** (with reading noise when seeded) — the states the decisions were taken on;
    ``clips``, ``steps``, ``stop_reason`` per patient; ``complications``: (n,) bool per
    event; ``attempts``: clips tried (rounds with a grasp); ``engine_seconds``: time in the
    engine.
    """

    setups: list[PatientSetup]
    baseline: BatchHemo
    baseline_echo: dict[str, np.ndarray]
    baseline_grade: np.ndarray
    baseline_decision: np.ndarray
    final: BatchHemo
    final_echo: dict[str, np.ndarray]
    final_grade: np.ndarray
    final_decision: np.ndarray
    clips: list[list[PlacedClip]]
    steps: list[list[ClipStep]]
    complications: dict[str, np.ndarray]
    stop_reason: list[str]
    aborted: np.ndarray
    attempts: np.ndarray
    mvarc: MVARCBatch  # patient i's MVARCEndpoints: mvarc[i]; all at once: mvarc.columns()
    grasps: np.ndarray  # (n,) grasps in the procedure (first grasps and moves)
    repositions: np.ndarray  # (n,) moves of the same device
    exchanges: np.ndarray  # (n,) device exchanges
    minutes: np.ndarray  # (n,) procedure time (0 when no access)
    ended_by: list[str]  # "", "urgent surgery" or "death"
    engine_seconds: float
    seed: int | None
    loading: str = "awake"
    decision_states: list[str] = field(default_factory=list)  # per patient: the state the decision readings were taken in
    intraprocedural_baseline: BatchHemo | None = None
    intraprocedural_baseline_echo: dict[str, np.ndarray] | None = None
    intraprocedural_baseline_decision: np.ndarray | None = None
    intraprocedural_final: BatchHemo | None = None
    intraprocedural_final_echo: dict[str, np.ndarray] | None = None
    intraprocedural_final_decision: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.setups)


def run_procedure_arrays(
    setups: Sequence[PatientSetup],
    *,
    seed: int | np.random.Generator | np.ndarray | None = 0,
    rates: ComplicationRates | None = None,
    forward_discharge_coeff: float | None = None,
    settings: Any = None,
    loading: str = "anaesthesia",
    awake_baseline: BatchHemo | None = None,
) -> ProcedureArrays:
    """The procedure for many patients at once, vectorised: the pipeline of the named steps of
    :mod:`mitrasim.procedure.steps` (their order is listed there); the engine of
    :func:`run_procedures`, callable directly by cohorts (no per-state echo objects).

    Patient ``i``'s complication draws are row ``i`` of :func:`~mitrasim.procedure.risks.draw_uniforms`
    (``seed`` an int or a Generator, or that matrix itself, ``(n, N_DRAWS)`` uniforms — a trial
    draws it per block of patients; ``None`` = no complications); its variability and
    reading-noise key is derived from that row (:func:`_keys`), so it too depends only on the
    seed and ``i``.  ``seed`` None: no complications, no placement error, exact readings.
    ``loading``: the state the decisions are taken in (``"anaesthesia"``: general
    anaesthesia, outcomes reported awake; ``"awake"``).  ``awake_baseline``: the setups' awake
    baseline states if already simulated from the same inputs (a trial's indication,
    :func:`mitrasim.procedure.steps.awake_baseline`); simulated here when None.
    """
    setups = list(setups)
    n = len(setups)
    if n == 0:
        raise InputError("cases", [], "at least one case")
    cd = _cal.FORWARD_DISCHARGE_COEFF if forward_discharge_coeff is None else float(forward_discharge_coeff)
    U = _uniforms(seed, n)
    citations.cite("clinical_reference_stop_rules", "stone2015_mvarc")
    ctx = steps.Context.build(setups, U, DEFAULT_RATES if rates is None else rates, cd, settings, loading=loading, keys=None if seed is None else _keys(U))
    b = steps.baseline(ctx, awake_baseline)
    course = steps.start_course(ctx, b)
    while course.active.any():
        parts = _round_candidates(ctx, course)
        if not parts:
            break
        rnd = steps.simulate_round(ctx, course, steps.clip_model(course, parts))
        d = steps.release_events(ctx, rnd, steps.decide(ctx, course, rnd))
        placed = steps.placed_clips(ctx, rnd, d)
        nxt, state_dec = steps.apply_round(ctx, course, rnd, d, placed)
        oplog.round_entries(ctx, course, rnd, d, placed, state_dec, nxt)
        steps.clip_events(ctx, course, d)
    steps.closing(ctx, course)
    events = steps.post_events(ctx, course)
    awake = steps.awake_outcome(ctx, course, b)
    fe, mvarc = steps.finish(ctx, course, b, awake)
    _final_log(course, b, awake, events)
    return ProcedureArrays(
        setups=setups, baseline=b.hemo, baseline_echo=b.echo, baseline_grade=b.grade, baseline_decision=b.decision,
        final=awake.hemo, final_echo=fe, final_grade=awake.grade, final_decision=awake.decision, clips=course.clips,
        steps=course.steps, complications=course.events, stop_reason=course.stop_reason, aborted=course.aborted,
        attempts=course.attempts, mvarc=mvarc, engine_seconds=ctx.engine_seconds, seed=seed if isinstance(seed, int) else None,
        grasps=course.grasps, repositions=course.repositions, exchanges=course.exchanges, minutes=course.minutes, ended_by=course.ended_by,
        loading=loading, decision_states=list(ctx.decision_states), intraprocedural_baseline=b.intra_hemo, intraprocedural_baseline_echo=b.intra_echo,
        intraprocedural_baseline_decision=b.intra_decision, intraprocedural_final=course.hemo,
        intraprocedural_final_echo={"mean_gradient_mmhg": course.read_gradient_mmhg.copy()}, intraprocedural_final_decision=course.decision.copy(),
    )  # fmt: skip


def _uniforms(seed: int | np.random.Generator | np.ndarray | None, n: int) -> np.ndarray:
    """The ``(n, N_DRAWS)`` complication draws: given, drawn from ``seed``, or ones (no complications)."""
    if seed is None:
        return np.ones((n, N_DRAWS))
    if isinstance(seed, np.ndarray):
        if seed.shape != (n, N_DRAWS):
            raise ValueError(f"uniforms of shape {seed.shape}: ({n}, {N_DRAWS}) expected")
        return seed
    return draw_uniforms(seed, n)


def _keys(U: np.ndarray) -> np.ndarray:
    """Per-patient draw keys from the complication draws' rows (the bits of each row's first two
    uniforms), so a key depends only on the seed and the patient's row."""
    bits = np.ascontiguousarray(U[:, :2]).view(np.uint64)
    with np.errstate(over="ignore"):
        return bits[:, 0] ^ (bits[:, 1] * np.uint64(0x9E3779B97F4A7C15))


def _round_candidates(ctx: steps.Context, course: steps.Course) -> list[tuple[steps.Group, Any]]:
    """Per group of active patients: close_full → residual gap → device → target → grasp; the groups'
    candidates (patients with no free position on the line are stopped)."""
    parts = []
    for grp in ctx.groups:
        loc = np.flatnonzero(course.active[grp.ids])
        if loc.size == 0:
            continue
        full = steps.close_full(ctx, course, grp.ids[loc])
        loc = loc[~full]
        loc = loc[steps.access(ctx, course, grp.ids[loc])] if loc.size else loc
        if loc.size == 0:
            continue
        g_res = steps.residual_gap(grp, course, loc)
        dev = steps.device(ctx, grp, course, loc, g_res)
        cands = steps.realise(ctx, grp, course, steps.target(ctx, grp, course, loc, g_res, dev))
        none = grp.ids[loc[~np.isin(loc, cands.rows)]]
        for i in none:
            course.stop_reason[i] = "no room left on the coaptation line"
        course.active[none] = False
        if cands.rows.size:
            parts.append((grp, steps.grasp(grp, cands, loc, g_res)))
    return parts


def _final_log(course: steps.Course, b: steps.Baseline, final: steps.AwakeOutcome, events: dict[int, list[str]]) -> None:
    """The events, the stop and the (awake) result at the end of every patient's log."""
    b_txt, f_txt = oplog.mr_texts(b.grade, b.decision), oplog.mr_texts(final.grade, final.decision)
    before, after = _rows(b.hemo), _rows(final.hemo)
    for i, (log, clips, why, (e0, g0, a0), (e1, g1, a1)) in enumerate(zip(course.steps, course.clips, course.stop_reason, before, after)):
        k = len(clips)
        if i in events:
            log.extend(oplog.event_entries(k, events[i]))
        log.extend(oplog.result_entries(why, k, e0, e1, g0, g1, a0, a1, b_txt[i], f_txt[i]))


def _rows(h: BatchHemo) -> list[tuple[float, float, float]]:
    """Per state: EROA, mean gradient and MVA as Python floats (for the log)."""
    return list(zip(*(np.asarray(c, dtype=float).tolist() for c in (h.eroa_cm2, h.metrics["mean_gradient_mmhg"], h.mva_cm2))))


def run_procedures(
    cases: Sequence[Any],
    *,
    seed: int | np.random.Generator | None = 0,
    rules: Rules | None = None,
    rates: ComplicationRates | None = None,
    forward_discharge_coeff: float | None = None,
    waveforms: bool = False,
    settings: Any = None,
    research_below_indication: bool = False,
    loading: str = "anaesthesia",
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
        research_below_indication: simulate patients whose baseline MR is below 3+ (the TEER
            indication, :mod:`mitrasim.procedure.indication`); without it they are refused
            (:class:`InputError`), with it every such result carries ``indication_note``.
        loading: the decisions' loading state (:func:`run_procedure_arrays`); ``baseline`` and
            ``final`` are awake, ``intraprocedural`` the decisions' readings.

    Returns:
        :class:`ProcedureBatch` (``.results[i]`` for patient ``i``; ``.arrays()`` for columns).
    """
    with citations.collect() as used:  # the sources this call cited, no others (a long-lived process cites many)
        setups = [_as_setup(c, rules) for c in cases]
        if not setups:
            raise InputError("cases", [], "at least one case")
        cd = _cal.FORWARD_DISCHARGE_COEFF if forward_discharge_coeff is None else float(forward_discharge_coeff)
        pa_ = run_procedure_arrays(setups, seed=seed, rates=rates, forward_discharge_coeff=cd, settings=settings, loading=loading)
        for s, ok in zip(setups, steady_ok(pa_.baseline)):
            if not ok:  # a baseline with no steady beat has no MR grade to judge the indication on, nor a result
                raise InputError(
                    "baseline", f"{s.name}: no steady state", "a circulation the engine brings to a periodic steady state",
                    "check the case's patient.overrides and measurements",
                )
        notes = [check_indication(s.name, int(d), research_below_indication) for s, d in zip(setups, pa_.baseline_decision)]
        etiol = [s.etiology for s in setups]
        eb, gb, _ = grade_states(pa_.baseline, etiol)
        ef, gf, _ = grade_states(pa_.final, etiol)
        results = []
        for i, s in enumerate(setups):
            results.append(ProcedureResult(
                name=s.name, baseline=_summary(pa_.baseline, i, eb[i], gb[i], int(pa_.baseline_decision[i])),
                final=_summary(pa_.final, i, ef[i], gf[i], int(pa_.final_decision[i])), clips=pa_.clips[i], steps=pa_.steps[i],
                complications={e: bool(v[i]) for e, v in pa_.complications.items()}, stop_reason=pa_.stop_reason[i],
                aborted=bool(pa_.aborted[i]), mvarc=pa_.mvarc[i], seed=pa_.seed, rules=s.rules,
                course={"grasps": int(pa_.grasps[i]), "repositions": int(pa_.repositions[i]), "exchanges": int(pa_.exchanges[i]),
                        "procedure_minutes": float(pa_.minutes[i]), "ended_by": pa_.ended_by[i] or None},
                final_state=pa_.final.final_state[i].copy(), baseline_state=pa_.baseline.final_state[i].copy(),
                indication_note=notes[i],
                intraprocedural=_intraprocedural(pa_, i),
            ))  # fmt: skip
        if waveforms:
            _attach_waveforms(results, setups, cd, settings)
    for r in results:
        r.citations = used.keys
    return ProcedureBatch(results, pa_.seed)


def _intraprocedural(pa_: ProcedureArrays, i: int) -> dict[str, Any]:
    """The decisions' state of patient ``i``: ``loading`` (the decision readings' state),
    ``procedure_loading`` (the procedure's, where the grasp is done), and the gradient and MR decision grade as
    read at the start and at the end of the procedure."""
    out: dict[str, Any] = {"loading": pa_.decision_states[i] if pa_.decision_states else pa_.loading, "procedure_loading": pa_.loading}
    for tag, e, d in (("start", pa_.intraprocedural_baseline_echo, pa_.intraprocedural_baseline_decision), ("end", pa_.intraprocedural_final_echo, pa_.intraprocedural_final_decision)):
        if e is not None and d is not None:
            out[tag] = {"mean_gradient_mmhg_read": float(e["mean_gradient_mmhg"][i]), "mr_decision_grade_read": int(d[i])}
    return out


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
    research_below_indication: bool = False,
) -> ProcedureResult:
    """One case through the procedure (a batch of one; see :func:`run_procedures`)."""
    return run_procedures(
        [case], seed=seed, rules=rules, rates=rates, forward_discharge_coeff=forward_discharge_coeff, waveforms=waveforms,
        settings=settings, research_below_indication=research_below_indication,
    ).results[0]  # fmt: skip


_ = rules_from_case  # re-exported through the package
