"""The named steps of the batched procedure (:func:`mitrasim.procedure.process.run_procedure_arrays`).

Every step is a function over arrays of the patients still in the procedure; none keeps
state of its own.  The state lives in two plain dataclasses:

* :class:`Context` (fixed for the run): the setups, the per-patient inputs of the engine
  (``presets``, ``overrides``, ``hr_bpm``), ``secondary`` (n,) bool, the rule limits as
  arrays (n,) (``max_gradient_mmhg``, ``min_mva_cm2``, ``min_eroa_reduction``,
  ``abort_gradient_mmhg``), the complication draws ``U`` (n, N_DRAWS) (row ``i`` for
  patient ``i``, columns in :mod:`mitrasim.procedure.risks`), the rates, the forward
  discharge coefficient ``cd`` and the engine ``settings``; ``groups`` (patients sharing a
  valve grid size, catalogue and rules, vectorised together).
* :class:`Course` (per patient, updated by the steps): ``hemo`` (the current state's
  :class:`~mitrasim.procedure.hemodynamics.BatchHemo`, one row per patient), ``grade`` (ASE
  grade, −1 indeterminate) and ``decision`` (decision grade), the clips in place as slot
  arrays (n, MAX_SLOTS) ``clip_pos_mm``, ``clip_width_mm``, ``clip_arm_mm`` (NaN = empty),
  ``clip_spacer_mm`` (0 = none) and ``clip_effective`` (bool), ``n_clips``, ``attempts``, ``active``, ``aborted``,
  ``events`` (event name → (n,) bool), and the per-patient lists ``clips``, ``steps`` (the
  log) and ``stop_reason``.

One round's candidate clips are a :class:`Round` (m candidates, patient-major, each
patient's first attempt first): ``patient`` (m,) index into the run, ``device`` (list of
:class:`~mitrasim.devices.Device`), ``position_mm``, ``first``, ``grasp``
(:class:`~mitrasim.procedure.batched.GraspNumbers`, status a :class:`GraspStatus` code),
``eroa_cm2`` and ``mva_cm2`` from the clip model; after :func:`simulate` and
:func:`measure` also ``hemo``, ``echo``, ``grade``, ``decision`` and ``refusal`` (a
:class:`Refusal` per candidate).

Order of the steps (``run_procedure_arrays``)::

    baseline                      engine + echo of every patient without a clip (awake: awake_baseline,
                                  warm-started from the setup's initial_state, or given)
    start_course                  the Course; log the baseline; stop who needs no clip
    while any patient is active:
        for each group:
            close_full            stop at the clip limit
            device                device per patient (choose_devices, or the planned one)
            target                candidate positions: first attempt at the target, alternatives
            grasp                 grasp status and SLDA multiplier of every candidate
        clip_model                EROA and MVA of every candidate (clips in place + the new one)
        simulate_round            engine: first attempts; then the alternatives of the patients
                                  whose decision they can change (measure + refusals between), in
                                  waves started from the patient's known states (simulate_alternatives)
        decide                    per patient: release the first attempt, reposition, or remove
        release_events            at a release: embolization, then single-leaflet attachment
        placed_clips              the clip each patient releases
        apply_round               place the clips, update the course, stop or add another
        oplog.round_entries       the operator's log of the round
    post_events                   bleeding, effusion/tamponade, stroke, urgent surgery, death
    finish                        final echo and MVARC (an MVARCBatch; then the final log lines)

The complication draws are a patient's row of ``U``, read at fixed columns (clip slot ``k``:
SLDA column ``k``, embolization column ``MAX_SLOTS + k``; patient events ``2·MAX_SLOTS + j``).

Loading states, variability and readings (issue 13):

* The procedure runs under general anaesthesia (``Context.overrides``/``hr_bpm`` and the
  groups' ``valves`` are the anaesthesia state, :mod:`mitrasim.procedure.loading`); the
  patient's own state is ``awake_overrides``/``awake_hr_bpm``/``awake_valves``.  ``baseline``
  computes both; the indication to start (``start_course``) is the awake grade; every
  decision is taken on the intraprocedural state; ``awake_outcome`` computes the final
  valve awake, which is the reported result (``finish``: MVARC on it).
* ``realise`` (between ``target`` and ``grasp``): each attempt lands at its target plus a
  seeded placement error and grasps with a seeded depth factor
  (:mod:`mitrasim.devices.variability`); the grasp, the clip model and the placed clip use
  the realised position and effective arm.
* ``measure`` reads the states with seeded beat-to-beat and reader noise
  (:mod:`mitrasim.procedure.readings`): the decision grade and the gradient the rules see
  are readings, not the model's values.
* Restored afterload (protocol ``assess_at_restored_afterload``): the grasp (device, target,
  grasp feasibility: ``Group.valves``) is in the procedure's loading state, the decision
  readings (the engine's ``Context.overrides``/``hr_bpm`` and the clip model's
  ``Group.decision_valves``) in :func:`decision_state` — under anaesthesia with the flag, GA
  with the afterload restored (:mod:`mitrasim.procedure.loading`); the same batched engine
  calls, only their parameters differ.  ``Context.decision_states`` names each patient's.
* The draws are keyed per patient (``Context.keys``, from the seed) and numbered by clip and
  attempt, so they do not depend on the batch; ``keys`` None (seed None) = the exact model
  (no placement error, no reading noise).
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass, field
from types import SimpleNamespace
from typing import Any, Mapping, Sequence

import numpy as np

from mitrasim.devices import Device
from mitrasim.devices.grasp import GRASP_STATUS
from mitrasim.procedure.codes import REFUSAL_PRECEDENCE, Action, GraspStatus, Outcome, Refusal
from mitrasim.protocol import area_ok, gradient_ok, near_limit_text
from mitrasim.echo.mvarc import MVARCBatch
from mitrasim.procedure.batched import Candidates, GraspNumbers, candidate_positions, choose_devices, first_peak, grasp_candidates
from mitrasim.procedure.hemodynamics import BatchHemo, Overrides, echo_arrays, grade_arrays, label, override_columns, simulate_states, steady_ok, take_overrides
from mitrasim.procedure import oplog, start_states
from mitrasim.procedure.timing import course_multiplier
from mitrasim.procedure.risks import (
    CLIPS_PER_PATIENT, COLUMNS, DEATH_AFTER_SURGERY_OR, DEATH_AFTER_TAMPONADE_OR, DEATH_IN_ROOM_SHARE, MAX_SLOTS, PATIENT_EVENTS,
    POST_EVENTS, REFERENCE_GRASPS, REFRACTORY_TAMPONADE_SHARE, TAMPONADE_AT_PUNCTURE_SHARE, ComplicationRates,
    patient_multipliers, scale_odds,
)
from mitrasim.procedure.timing import PHASE_MINUTES, clip_minutes
from mitrasim.devices.variability import STREAMS, grasp_depth_factor, normals, placement_error_mm
from mitrasim.physiology.parameters import N_STATE
from mitrasim.procedure.loading import loading_arrays, rows_in_state
from mitrasim.procedure.readings import observer_draws, read_echo
from mitrasim.procedure.rules import Rules
from mitrasim.procedure.clip_kernel import clipped_profiles_rows
from mitrasim.valve.clip import ValveRows

__all__ = [
    "PlacedClip",
    "GraspStatus",
    "Refusal",
    "Outcome",
    "Action",
    "Group",
    "Context",
    "Course",
    "Round",
    "Decision",
    "make_groups",
    "baseline",
    "start_course",
    "close_full",
    "device",
    "target",
    "realise",
    "grasp",
    "clip_model",
    "awake_outcome",
    "AwakeOutcome",
    "simulate",
    "measure",
    "refusals",
    "simulate_round",
    "simulate_alternatives",
    "best_alternatives",
    "decide",
    "release_events",
    "placed_clips",
    "apply_round",
    "access",
    "clip_events",
    "closing",
    "post_events",
    "finish",
]


_O = SimpleNamespace(**{m.name: int(m) for m in Outcome})  # enum members bound once for per-patient loops

# ----------------------------------------------------------------------------- state


@dataclass(slots=True)
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
    spacer_mm: float = 0.0
    grasp_depth_factor: float = 1.0  # effective arm = arm_length_mm · factor
    target_mm: float | None = None  # where the clip was aimed (position_mm: where it landed)

    @property
    def effective_arm_mm(self) -> float:
        return self.arm_length_mm * self.grasp_depth_factor

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Group:
    """Patients that share a valve grid size, a catalogue and rules: vectorised together."""

    ids: np.ndarray  # indices into the run
    valves: ValveRows  # in the procedure's loading state
    catalogue: Mapping[str, Device]
    rules: Rules
    planned: bool
    awake_valves: ValveRows | None = None  # the patients' own (awake) valves; None = same as valves
    decision_valves: ValveRows | None = None  # the valves in the decisions' state (decision_state); None = same as valves

    @property
    def read_valves(self) -> ValveRows:
        """The valves the decision readings see (``decision_valves``, else ``valves``)."""
        return self.valves if self.decision_valves is None else self.decision_valves

    @property
    def devices(self) -> list[Device]:
        return list(self.catalogue.values())


def decision_state(loading: str, rules: Any) -> str:
    """The loading state of the decision readings: under ``"anaesthesia"`` with the protocol's
    ``assess_at_restored_afterload``, ``"anaesthesia_restored_afterload"``; else ``loading``."""
    if loading == "anaesthesia" and rules.assess_at_restored_afterload:
        return "anaesthesia_restored_afterload"
    return loading


def make_groups(setups: Sequence[Any], loading: str = "awake") -> list[Group]:
    """Patients grouped by valve grid size, catalogue, rules and planned/unplanned (first-seen order);
    ``valves`` in the ``loading`` state, ``decision_valves`` in :func:`decision_state`,
    ``awake_valves`` as given."""
    by: dict[tuple[Any, ...], list[int]] = {}
    # the rules as the number of their first equal rules: hashed once per rules object (a trial's setups share one), not per patient
    rule_no: dict[Any, int] = {}
    no_of_id: dict[int, int] = {}
    for i, s in enumerate(setups):
        r = no_of_id.get(id(s.rules))
        if r is None:
            r = no_of_id[id(s.rules)] = rule_no.setdefault(s.rules, len(rule_no))
        by.setdefault((s.valve.s_mm.size, id(s.catalogue), r, bool(s.planned)), []).append(i)
    out = []
    for (_, _, _, planned), ids in by.items():
        rules = setups[ids[0]].rules
        awake = ValveRows.from_valves([setups[i].valve for i in ids])
        state = rows_in_state(awake, loading)
        read = rows_in_state(awake, decision_state(loading, rules))
        out.append(Group(np.array(ids), state, setups[ids[0]].catalogue, rules, planned, awake, read))
    return out


def _rules_numbers(setups: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    """(n,) each setup's rules as the number of its rules object among the distinct ones (by identity,
    in first-seen order: a trial's setups share one), and those objects: a rule's values are read
    once per object, not once per patient."""
    no_of_id: dict[int, int] = {}
    distinct: list[Any] = []
    numbers = []
    for s in setups:
        k = no_of_id.get(id(s.rules))
        if k is None:
            k = no_of_id[id(s.rules)] = len(distinct)
            distinct.append(s.rules)
        numbers.append(k)
    return np.array(numbers, dtype=np.intp), distinct


@dataclass
class Context:
    """What is fixed for a run (module docstring)."""

    setups: list[Any]
    presets: list[str]
    overrides: list[dict[str, float]]
    hr_bpm: np.ndarray
    secondary: np.ndarray
    max_gradient_mmhg: np.ndarray
    min_mva_cm2: np.ndarray
    min_eroa_reduction: np.ndarray
    abort_gradient_mmhg: np.ndarray
    max_grasp_attempts: np.ndarray
    U: np.ndarray
    rates: ComplicationRates
    cd: float
    settings: Any
    groups: list[Group]
    risk: dict[str, np.ndarray] = field(default_factory=dict)  # odds multipliers per event (risks.patient_multipliers)
    engine_seconds: float = 0.0
    loading: str = "awake"
    awake_overrides: list[dict[str, float]] = field(default_factory=list)
    awake_hr_bpm: np.ndarray = field(default_factory=lambda: np.zeros(0))
    keys: np.ndarray | None = None  # per-patient draw keys; None = no variability, exact readings
    decision_states: list[str] = field(default_factory=list)  # per patient: the state of the decision readings (overrides, hr_bpm)
    override_table: Overrides | None = None  # ``overrides`` as columns where they share their names (hemodynamics.override_columns)
    awake_override_table: Overrides | None = None  # ``awake_overrides`` likewise

    @classmethod
    def build(
        cls, setups: Sequence[Any], U: np.ndarray, rates: ComplicationRates, cd: float, settings: Any,
        *, loading: str = "awake", keys: np.ndarray | None = None,
    ) -> "Context":
        """The run's context; ``loading`` the state the procedure runs in (``"anaesthesia"``:
        decisions under GA, outcomes awake; ``"awake"``: one state)."""
        setups = list(setups)
        rules_no, distinct = _rules_numbers(setups)

        def rule(name: str) -> np.ndarray:
            return np.array([getattr(r, name) for r in distinct], dtype=float)[rules_no]

        presets = [s.preset for s in setups]
        awake_over = [dict(s.overrides) for s in setups]
        awake_hr = np.array([s.hr_bpm for s in setups], dtype=float)
        state_of = [decision_state(loading, r) for r in distinct]
        states = [state_of[k] for k in rules_no.tolist()]
        over, hr = loading_arrays(presets, awake_over, awake_hr, states)
        return cls(
            setups=setups,
            presets=presets,
            overrides=over,
            hr_bpm=hr,
            loading=loading,
            decision_states=states,
            override_table=override_columns(over),
            awake_overrides=awake_over,
            awake_override_table=override_columns(awake_over),
            awake_hr_bpm=awake_hr,
            keys=keys,
            secondary=np.array([s.etiology == "secondary" for s in setups]),
            max_gradient_mmhg=rule("max_gradient_mmhg"),
            min_mva_cm2=rule("min_mva_cm2"),
            min_eroa_reduction=rule("min_eroa_reduction"),
            abort_gradient_mmhg=rule("abort_gradient_mmhg"),
            max_grasp_attempts=rule("max_grasp_attempts").astype(int),
            U=U,
            rates=rates,
            cd=cd,
            settings=settings,
            groups=make_groups(setups, loading),
            risk=patient_multipliers([s.risk for s in setups]),
        )

    @property
    def n(self) -> int:
        return len(self.setups)

    @functools.cached_property
    def planned(self) -> np.ndarray:
        """(n,) bool: the patient's clips are planned (given by the user)."""
        return np.array([bool(s.planned) for s in self.setups], dtype=bool)

    @functools.cached_property
    def segment_edges_mm(self) -> np.ndarray:
        """(n, 4) each patient's own valve's segment edges (mm; the scallops the log names), read
        from the groups' stacked awake valves (the setups' valves)."""
        out = np.full((self.n, 4), np.nan)
        for grp in self.groups:
            if grp.awake_valves is not None:
                out[grp.ids] = grp.awake_valves.segment_edges_mm
        missing = np.flatnonzero(np.isnan(out).any(axis=1))  # a patient in no group with stacked valves: its setup's valve
        if missing.size:
            out[missing] = [self.setups[i].valve.segment_edges_mm for i in missing.tolist()]
        return out

    def overrides_of(self, states: np.ndarray, awake: bool = False) -> Overrides:
        """The engine overrides of patients ``states`` (columns when the patients share their names)."""
        table = self.awake_override_table if awake else self.override_table
        if table is None:
            return take_overrides(self.awake_overrides if awake else self.overrides, states)
        return take_overrides(table, states)

    def clip_limit(self, i: int) -> int:
        """Clips patient ``i`` may receive: the rule's maximum, or fewer when fewer are planned."""
        s = self.setups[i]
        return min(s.rules.max_clips, len(s.planned)) if s.planned else s.rules.max_clips

    @functools.cached_property
    def observer(self) -> tuple[np.ndarray, np.ndarray]:
        """(n,) each patient's observer draws of the readings, gradient and regurgitation
        (:func:`~mitrasim.procedure.readings.observer_draws`; drawn once per run, needs ``keys``)."""
        assert self.keys is not None
        return observer_draws(self.keys)

    @functools.cached_property
    def target_grades(self) -> np.ndarray:
        """(n,) each patient's rules' target residual grade (once per run)."""
        return np.array([s.rules.target_residual_grade for s in self.setups], dtype=int)

    @functools.cached_property
    def clip_limits(self) -> np.ndarray:
        """(n,) :meth:`clip_limit` of every patient (once per run)."""
        return np.array([self.clip_limit(i) for i in range(self.n)], dtype=int)


@dataclass
class Course:
    """The procedure's state per patient (module docstring)."""

    hemo: BatchHemo
    grade: np.ndarray
    decision: np.ndarray
    clip_pos_mm: np.ndarray
    clip_width_mm: np.ndarray
    clip_arm_mm: np.ndarray
    clip_effective: np.ndarray
    clip_spacer_mm: np.ndarray
    n_clips: np.ndarray
    attempts: np.ndarray  # clips tried (rounds with a candidate)
    grasps: np.ndarray  # grasps: each clip's first grasp and each move
    repositions: np.ndarray  # moves of the same device
    exchanges: np.ndarray  # moves to another device of the family
    minutes: np.ndarray  # procedure time so far (timing.PHASE_MINUTES)
    accessed: np.ndarray  # venous access and transseptal puncture done
    ended_by: list[str]  # "", "urgent surgery" or "death": an event that ended the procedure
    active: np.ndarray
    aborted: np.ndarray
    events: dict[str, np.ndarray]
    clips: list[list[Any]]
    steps: list[list[Any]]
    stop_reason: list[str]
    read_gradient_mmhg: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n,) the current state's gradient as read
    read_eroa_cm2: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n,) the current state's EROA as read

    def effective_positions(self, ids: np.ndarray) -> np.ndarray:
        """(m, MAX_SLOTS) positions of the effective clips of patients ``ids`` (NaN elsewhere)."""
        return np.where(self.clip_effective[ids], self.clip_pos_mm[ids], np.nan)

    def stop(self, i: int, reason: str, aborted: bool | None = None) -> None:
        self.stop_reason[i] = reason
        self.active[i] = False
        if aborted is not None:
            self.aborted[i] = aborted


@dataclass
class Baseline:
    """The patients without a clip: states, echo arrays, ASE and decision grades; ``hemo``..
    ``decision`` awake (the model's values: the indication), ``intra_*`` in the procedure's
    loading state as read at the start of the procedure (the same objects when it is awake)."""

    hemo: BatchHemo
    echo: dict[str, np.ndarray]
    grade: np.ndarray
    decision: np.ndarray
    intra_hemo: BatchHemo | None = None
    intra_echo: dict[str, np.ndarray] | None = None
    intra_grade: np.ndarray | None = None
    intra_decision: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.intra_hemo is None:
            self.intra_hemo, self.intra_echo, self.intra_grade, self.intra_decision = self.hemo, self.echo, self.grade, self.decision


@dataclass
class Round:
    """One round's candidate clips (module docstring)."""

    patient: np.ndarray
    device: list[Device]
    position_mm: np.ndarray
    first: np.ndarray
    grasp: GraspNumbers
    eroa_cm2: np.ndarray
    mva_cm2: np.ndarray
    hemo: BatchHemo | None = None
    echo: dict[str, np.ndarray] | None = None
    grade: np.ndarray | None = None
    decision: np.ndarray | None = None
    refusal: np.ndarray | None = None
    before: dict[str, np.ndarray] = field(default_factory=dict)
    attempt: np.ndarray | None = None  # attempt number within the patient's round
    arm_factor: np.ndarray | None = None  # grasp-depth factor
    target_mm: np.ndarray | None = None  # aimed position

    @property
    def gradient_mmhg(self) -> np.ndarray:
        """The gradient as read (the reading after :func:`measure`; the model's before)."""
        if self.echo is not None:
            return self.echo["mean_gradient_mmhg"]
        assert self.hemo is not None
        return self.hemo.metrics["mean_gradient_mmhg"]

    @property
    def read_eroa_cm2(self) -> np.ndarray:
        """The EROA as read (the reading after :func:`measure`; the model's before)."""
        if self.echo is not None:
            return self.echo["eroa_cm2"]
        assert self.hemo is not None
        return self.hemo.eroa_cm2

    def take(self, keep: np.ndarray, hemo: BatchHemo) -> "Round":
        """The candidates ``keep`` (sorted) with their simulated states ``hemo``."""
        g = self.grasp
        opt = lambda a: None if a is None else a[keep]  # noqa: E731
        return Round(
            self.patient[keep], [self.device[j] for j in keep.tolist()], self.position_mm[keep], self.first[keep],
            GraspNumbers(*(getattr(g, k)[keep] for k in GraspNumbers.__dataclass_fields__)),
            self.eroa_cm2[keep], self.mva_cm2[keep], hemo,
            attempt=opt(self.attempt), arm_factor=opt(self.arm_factor), target_mm=opt(self.target_mm),
        )  # fmt: skip


@dataclass
class Decision:
    """Per patient of a round (arrays over the round's patients, in candidate order)."""

    patient: np.ndarray  # (p,) run index
    first: np.ndarray  # (p,) candidate index of the first attempt
    best_alternative: np.ndarray  # (p,) candidate index of the best alternative within the rules, −1 none
    outcome: np.ndarray  # (p,) Outcome
    chosen: np.ndarray  # (p,) candidate index released, −1 when removed
    slot: np.ndarray  # (p,) clip number − 1 (before this clip)
    embolized: np.ndarray | None = None  # (p,) bool, after release_events
    slda: np.ndarray | None = None  # (p,) bool, after release_events


# ----------------------------------------------------------------------------- steps


BASELINE_ATTEMPT = 1 << 16
"""Attempt number of the reading at the start of the procedure (no clip yet)."""


def baseline(ctx: Context, awake: BatchHemo | None = None) -> Baseline:
    """Engine and echo of every patient without a clip, awake (the indication; warm-started from the
    setup's ``initial_state`` where it has one, cold otherwise; ``awake``: these states if already
    simulated, :func:`awake_baseline` of the same inputs) and, under anaesthesia, the
    intraprocedural state read at the start (warm-started from the awake one, holding its blood:
    :func:`~mitrasim.procedure.start_states.moved`); cold starts ordered by LV stiffness."""
    t0 = time.perf_counter()
    if awake is None:
        eroa = np.array([s.valve.eroa_cm2 for s in ctx.setups])
        mva = np.array([s.valve.mva_cm2 for s in ctx.setups])
        h0, e0, g0, d0 = awake_baseline(ctx.presets, ctx.overrides_of(np.arange(ctx.n), awake=True), ctx.awake_hr_bpm, eroa, mva, ctx.secondary, ctx.cd, ctx.settings, _initial_states(ctx.setups))
    else:
        if awake.n != ctx.n:
            raise ValueError(f"awake baseline of {awake.n} states for {ctx.n} patients")
        h0 = awake.take(np.arange(ctx.n))  # a copy: the caller may hand the same states to several runs (a trial's arms)
        mva = h0.mva_cm2
        e0 = echo_arrays(h0, ctx.secondary)
        g0, d0 = grade_arrays(e0, ctx.secondary)
    if ctx.loading == "awake":
        ctx.engine_seconds += time.perf_counter() - t0
        if ctx.keys is None:
            return Baseline(h0, e0, g0, d0)
        everyone = np.arange(ctx.n)
        ei, gi, di = measure(ctx, everyone, h0, np.zeros(ctx.n, int), np.full(ctx.n, BASELINE_ATTEMPT))
        return Baseline(h0, e0, g0, d0, h0, ei, gi, di)
    eroa_i = np.empty(ctx.n)
    for grp in ctx.groups:  # the valves the decision readings see
        vr = grp.read_valves
        eroa_i[grp.ids] = vr.discharge_coeff * vr.gap_mm.sum(axis=1) * vr.ds_mm / 100.0
    everyone = np.arange(ctx.n)
    overrides = ctx.overrides_of(everyone)
    w_awake = start_states.blood_weights(ctx.presets, ctx.overrides_of(everyone, awake=True))
    x0 = start_states.moved(h0.final_state, w_awake, start_states.blood_weights(ctx.presets, overrides))  # the awake blood, where the state's compliances put it
    hi = simulate_states(ctx.presets, overrides, ctx.hr_bpm, eroa_i, mva, ctx.cd, initial_state=x0, settings=ctx.settings)
    ctx.engine_seconds += time.perf_counter() - t0
    ei, gi, di = measure(ctx, everyone, hi, np.zeros(ctx.n, int), np.full(ctx.n, BASELINE_ATTEMPT))
    return Baseline(h0, e0, g0, d0, hi, ei, gi, di)


def awake_baseline(presets: Sequence[str], overrides: Overrides, hr_bpm: np.ndarray, eroa_cm2: np.ndarray, mva_cm2: np.ndarray,
                   secondary: np.ndarray, cd: float, settings: Any, initial_state: np.ndarray | None = None,
                   ) -> tuple[BatchHemo, dict[str, np.ndarray], np.ndarray, np.ndarray]:  # fmt: skip
    """The patients' own hearts without a clip (the indication, :func:`baseline`'s awake part): engine
    states (warm-started from ``initial_state`` rows where finite; cold starts ordered by LV
    stiffness), echo arrays, ASE grade (−1 indeterminate) and decision grade."""
    # cold starts: the LV passive stiffness predicts the beats to steady state best (grouping, see simulate_states)
    if isinstance(overrides, Mapping):
        key0 = np.asarray(overrides.get("lv_eb_mmhg_ml", np.zeros(len(presets))), dtype=float)
    else:
        key0 = np.array([o.get("lv_eb_mmhg_ml", 0.0) for o in overrides], dtype=float)
    h0 = simulate_states(presets, overrides, hr_bpm, eroa_cm2, mva_cm2, cd, settings=settings, order_key=key0, initial_state=initial_state)
    e0 = echo_arrays(h0, secondary)
    g0, d0 = grade_arrays(e0, secondary)
    return h0, e0, g0, d0


def _initial_states(setups: Sequence[Any]) -> np.ndarray | None:
    """(n, 14) the setups' warm starts of the awake baseline, NaN rows where none (cold); None when none has one."""
    if all(s.initial_state is None for s in setups):
        return None
    nan = np.full(N_STATE, np.nan)
    return np.stack([nan if s.initial_state is None else np.asarray(s.initial_state, dtype=float) for s in setups])


def start_course(ctx: Context, b: Baseline) -> Course:
    """The :class:`Course` at baseline, the baseline entry of every log; every patient is active
    except those with no steady state at baseline or a baseline grade already at the target."""
    n = ctx.n
    ok0 = steady_ok(b.hemo)
    target = ctx.target_grades
    why = np.where(~ok0, 1, np.where(b.decision <= target, 2, 0))
    assert b.intra_hemo is not None and b.intra_grade is not None and b.intra_decision is not None
    course = Course(
        hemo=b.intra_hemo.take(np.arange(n)), grade=b.intra_grade.copy(), decision=b.intra_decision.copy(),
        clip_pos_mm=np.full((n, MAX_SLOTS), np.nan), clip_width_mm=np.full((n, MAX_SLOTS), np.nan),
        clip_arm_mm=np.full((n, MAX_SLOTS), np.nan), clip_effective=np.zeros((n, MAX_SLOTS), bool),
        clip_spacer_mm=np.zeros((n, MAX_SLOTS)), n_clips=np.zeros(n, dtype=int), attempts=np.zeros(n, dtype=int), grasps=np.zeros(n, dtype=int),
        repositions=np.zeros(n, dtype=int), exchanges=np.zeros(n, dtype=int), minutes=np.zeros(n), accessed=np.zeros(n, bool),
        ended_by=[""] * n, active=why == 0,
        aborted=np.zeros(n, bool), events={e: np.zeros(n, bool) for e in (*PATIENT_EVENTS, "slda", "embolization")},
        clips=[[] for _ in range(n)], steps=[[] for _ in range(n)], stop_reason=[""] * n,
        read_gradient_mmhg=np.array((b.intra_echo or {}).get("mean_gradient_mmhg", b.intra_hemo.metrics["mean_gradient_mmhg"]), dtype=float),
        read_eroa_cm2=np.array((b.intra_echo or {}).get("eroa_cm2", b.intra_hemo.eroa_cm2), dtype=float),
    )  # fmt: skip
    h, m = b.hemo, b.hemo.metrics
    ei = b.intra_echo
    assert ei is not None
    # Python lists once (not a numpy scalar per patient and field): the same values, converted exactly
    fl = lambda a: np.asarray(a, dtype=float).tolist()  # noqa: E731
    it = lambda a: np.asarray(a).astype(int).tolist()  # noqa: E731
    eroa, rvol, rf, grad, mva = fl(h.eroa_cm2), fl(m["rvol_ml"]), fl(b.echo["rf_pct"]), fl(m["mean_gradient_mmhg"]), fl(h.mva_cm2)
    dec, why_l, target_l = it(b.decision), it(why), it(target)
    intra = ctx.loading != "awake"
    for log, entry in zip(course.steps, oplog.baseline_entries(eroa, rvol, rf, b.grade, b.decision, grad, mva)):
        log.append(entry)
    if intra:
        go = np.flatnonzero(why == 0)
        at = lambda a: np.asarray(a)[go]  # noqa: E731
        states = [ctx.decision_states[i] for i in go.tolist()]
        entries = oplog.intraprocedural_entries(states, fl(at(ctx.hr_bpm)), fl(at(ei["eroa_cm2"])), at(b.intra_grade), at(b.intra_decision), fl(at(ei["mean_gradient_mmhg"])))
        for i, entry in zip(go.tolist(), entries):
            course.steps[i].append(entry)
    for i in np.flatnonzero(why).tolist():
        course.stop_reason[i] = oplog.start_stop_reason(why_l[i], dec[i], target_l[i])
    return course


def close_full(ctx: Context, course: Course, ids: np.ndarray) -> np.ndarray:
    """Stop the patients ``ids`` at their clip limit (or out of slots) or with no grasp left;
    returns the mask of those stopped."""
    limit = ctx.clip_limits[ids]
    full = (course.n_clips[ids] >= limit) | (course.n_clips[ids] >= MAX_SLOTS)
    spent = ~full & (course.grasps[ids] >= ctx.max_grasp_attempts[ids])
    for i in ids[full]:
        course.stop_reason[i] = f"{course.n_clips[i]} clips: the limit"
    for i in ids[spent]:
        course.stop_reason[i] = f"{course.grasps[i]} grasp attempts: the limit"
    course.active[ids[full | spent]] = False
    return full | spent


def residual_gap(grp: Group, course: Course, loc: np.ndarray) -> np.ndarray:
    """(m, G) residual gap of the group's rows ``loc`` with their effective clips in place."""
    ids = grp.ids[loc]
    g, _ = clipped_profiles_rows(grp.valves, loc, course.effective_positions(ids), course.clip_width_mm[ids], course.clip_arm_mm[ids], spacers_mm=course.clip_spacer_mm[ids])
    return g


def device(ctx: Context, grp: Group, course: Course, loc: np.ndarray, g_res: np.ndarray) -> np.ndarray:
    """Device per row (index into the group's catalogue): the planned one, or
    :func:`~mitrasim.procedure.batched.choose_devices` at the peak of the residual gap."""
    ids = grp.ids[loc]
    if grp.planned:
        names = list(grp.catalogue)
        return np.array([names.index(ctx.setups[i].planned[course.n_clips[i]][1]) for i in ids], dtype=int)
    return choose_devices(grp.valves, loc, g_res, course.hemo.mva_cm2[ids], grp.rules.device_preference, grp.catalogue)


def target(ctx: Context, grp: Group, course: Course, loc: np.ndarray, g_res: np.ndarray, dev: np.ndarray) -> Candidates:
    """Candidate positions (grasp not yet assessed): the planned position, or the first attempt at the
    target and the alternatives (:func:`~mitrasim.procedure.batched.candidate_positions`)."""
    ids = grp.ids[loc]
    if grp.planned:
        pos = np.array([ctx.setups[i].planned[course.n_clips[i]][0] for i in ids], dtype=float)
        return Candidates(loc, dev, pos, np.ones(loc.size, bool), None)
    R = grp.rules
    return candidate_positions(grp.valves, loc, g_res, dev, course.clip_pos_mm[ids], course.clip_width_mm[ids], R.reposition_offsets_mm, grp.catalogue, exchange=R.device_exchange)


def realise(ctx: Context, grp: Group, course: Course, cands: Candidates) -> Candidates:
    """Each attempt as it lands: its target plus the seeded placement error (kept inside the
    line), and its seeded grasp-depth factor (:mod:`mitrasim.devices.variability`); numbered
    by clip and attempt (0 = the first attempt of the round)."""
    rows = cands.rows
    start = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if rows.size else np.zeros(0, int)
    attempt = np.arange(rows.size) - np.repeat(start, np.diff(np.r_[start, rows.size]))
    if ctx.keys is None or rows.size == 0:
        return Candidates(rows, cands.device, cands.position_mm, cands.first, cands.grasp, np.ones(rows.size), attempt, cands.position_mm.copy())
    pid = grp.ids[rows]
    k = course.n_clips[pid]
    keys = ctx.keys[pid]
    half = 0.5 * np.array([d.width_mm for d in grp.devices], dtype=float)[cands.device]
    L = grp.valves.line_length_mm[rows]
    pos = np.clip(cands.position_mm + placement_error_mm(normals(keys, STREAMS["placement"], k, attempt)), half, L - half)
    factor = grasp_depth_factor(normals(keys, STREAMS["depth"], k, attempt))
    return Candidates(rows, cands.device, pos, cands.first, cands.grasp, factor, attempt, cands.position_mm.copy())


def grasp(grp: Group, cands: Candidates, loc: np.ndarray, g_res: np.ndarray) -> Candidates:
    """The candidates with their grasp status and SLDA multiplier (:func:`~mitrasim.procedure.batched.grasp_candidates`)."""
    return grasp_candidates(grp.valves, loc, g_res, cands, grp.catalogue)


def clip_model(course: Course, parts: Sequence[tuple[Group, Candidates]]) -> Round:
    """EROA and MVA of every candidate: the clip model with the effective clips in place plus the new one,
    on the valves of the decision readings' state (``Group.read_valves``)."""
    pid_l: list[np.ndarray] = []
    dev_l: list[Device] = []
    eroa_l: list[np.ndarray] = []
    mva_l: list[np.ndarray] = []
    for grp, c in parts:
        pid = grp.ids[c.rows]
        devs = grp.devices
        w_new, a_new, s_new = (np.array([getattr(d, k) for d in devs], dtype=float)[c.device] for k in ("width_mm", "arm_length_mm", "spacer_mm"))
        a_new = a_new * (1.0 if c.arm_factor is None else c.arm_factor)
        P = np.concatenate([course.effective_positions(pid), c.position_mm[:, None]], axis=1)
        W = np.concatenate([course.clip_width_mm[pid], w_new[:, None]], axis=1)
        A = np.concatenate([course.clip_arm_mm[pid], a_new[:, None]], axis=1)
        S = np.concatenate([course.clip_spacer_mm[pid], s_new[:, None]], axis=1)
        vr = grp.read_valves  # the decision readings' state (the grasp was in grp.valves')
        g, w = clipped_profiles_rows(vr, c.rows, P, W, A, spacers_mm=S)
        eroa_l.append(vr.discharge_coeff[c.rows] * g.sum(axis=1) * vr.ds_mm[c.rows] / 100.0)
        mva_l.append(w.sum(axis=1) * vr.ds_mm[c.rows] / 100.0)
        pid_l.append(pid)
        dev_l.extend([devs[k] for k in np.asarray(c.device).tolist()])
    keys = GraspNumbers.__dataclass_fields__
    grasp_all = GraspNumbers(*(np.concatenate([getattr(c.grasp, k) for _, c in parts]) for k in keys))
    cat = lambda name, fill: np.concatenate([fill(c) if getattr(c, name) is None else getattr(c, name) for _, c in parts])  # noqa: E731
    return Round(
        patient=np.concatenate(pid_l), device=dev_l, position_mm=np.concatenate([c.position_mm for _, c in parts]),
        first=np.concatenate([c.first for _, c in parts]), grasp=grasp_all,
        eroa_cm2=np.concatenate(eroa_l), mva_cm2=np.concatenate(mva_l),
        attempt=cat("attempt", lambda c: np.where(c.first, 0, 1)), arm_factor=cat("arm_factor", lambda c: np.ones(c.rows.size)),
        target_mm=cat("target_mm", lambda c: c.position_mm),
    )  # fmt: skip


def simulate(ctx: Context, course: Course, rnd: Round, j: np.ndarray, init: np.ndarray | None = None) -> BatchHemo:
    """Engine steady states of candidates ``j``, warm-started from ``init`` (default: the patient's current state)."""
    q = rnd.patient[j]
    t0 = time.perf_counter()
    h = simulate_states(
        [ctx.presets[p] for p in q.tolist()], ctx.overrides_of(q), ctx.hr_bpm[q], rnd.eroa_cm2[j], rnd.mva_cm2[j], ctx.cd,
        initial_state=course.hemo.final_state.take(q, axis=0) if init is None else init, settings=ctx.settings,
    )  # fmt: skip
    ctx.engine_seconds += time.perf_counter() - t0
    return h


def measure(ctx: Context, patients: np.ndarray, hemo: BatchHemo, clip: np.ndarray | None = None, attempt: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Echo arrays as read, ASE grade (−1 indeterminate) and decision grade of states ``hemo`` of
    ``patients``; the reading of clip ``clip``, attempt ``attempt`` (:func:`mitrasim.procedure.readings.read_echo`;
    exact when the context has no keys)."""
    ech = echo_arrays(hemo, ctx.secondary[patients])
    if ctx.keys is not None and clip is not None and attempt is not None:
        ech = read_echo(ech, ctx.keys[patients], clip, attempt, observer=(ctx.observer[0][patients], ctx.observer[1][patients]))
    grd, dec = grade_arrays(ech, ctx.secondary[patients])
    return ech, grd, dec


def refusals(ctx: Context, course: Course, patients: np.ndarray, hemo: BatchHemo, decision: np.ndarray, status: np.ndarray, gradient_mmhg: np.ndarray | None = None) -> np.ndarray:
    """:class:`Refusal` per candidate state (``patients`` its patient, ``status`` its grasp); the
    first that applies in :data:`~mitrasim.procedure.codes.REFUSAL_PRECEDENCE`.  The limits are
    :func:`~mitrasim.protocol.gradient_ok` and :func:`~mitrasim.protocol.area_ok`;
    a clip that raises the decision grade is never released; one that keeps it must cut the EROA
    by at least ``min_eroa_reduction``.  ``gradient_mmhg``: the gradient as read (default: the model's)."""
    gg = hemo.metrics["mean_gradient_mmhg"] if gradient_mmhg is None else gradient_mmhg
    before = course.decision[patients]
    helps = (decision < before) | (hemo.eroa_cm2 <= (1.0 - ctx.min_eroa_reduction[patients]) * course.hemo.eroa_cm2[patients])
    bad = {
        Refusal.GRASP: status == GraspStatus.INFEASIBLE,
        Refusal.NO_STEADY_STATE: ~steady_ok(hemo),
        Refusal.GRADIENT: ~gradient_ok(gg, ctx.max_gradient_mmhg[patients]),
        Refusal.AREA: ~area_ok(hemo.mva_cm2, ctx.min_mva_cm2[patients]),
        Refusal.WORSE: decision > before,
        Refusal.NO_GAIN: ~helps,
    }
    f = np.full(patients.size, int(Refusal.NONE))
    for code in reversed(REFUSAL_PRECEDENCE):
        f = np.where(bad[code], int(code), f)
    return f


def simulate_round(ctx: Context, course: Course, rnd: Round) -> Round:
    """Simulate and measure the round: the first attempts (one engine batch), then the alternatives of
    the patients whose decision they can change (:func:`simulate_alternatives`, a batch per wave).  An
    alternative is used only (a) to reposition when the first attempt may not be released, or (b)
    when it gives a lower MR grade than a releasable first attempt; so a releasable first attempt at
    MR 0 needs no alternative.  A state's engine result does not depend on the rest of its batch.
    Returns the round restricted to the simulated candidates, with ``hemo``, ``echo``, ``grade``,
    ``decision`` and ``refusal``."""
    n = ctx.n
    pi = rnd.patient
    ia = np.flatnonzero(rnd.first)
    ha = simulate(ctx, course, rnd, ia)
    clip_no = course.n_clips[pi]
    att = np.where(rnd.first, 0, 1) if rnd.attempt is None else rnd.attempt
    ech_a, _, dec_a = measure(ctx, pi[ia], ha, clip_no[ia], att[ia])
    open_p = np.zeros(n, bool)
    open_p[pi[ia]] = (refusals(ctx, course, pi[ia], ha, dec_a, rnd.grasp.status[ia], ech_a["mean_gradient_mmhg"]) != Refusal.NONE) | (dec_a > 0)
    ib = np.flatnonzero(~rnd.first & open_p[pi])
    keep = np.sort(np.concatenate([ia, ib]))
    waves = [(ib[w], h) for w, h in _alternative_waves(ctx, course, rnd, ia, ha, ib)] if ib.size else []
    out = rnd.take(keep, merge_hemo(keep, (ia, ha), *waves))  # each wave copied once, into its rows
    assert out.hemo is not None
    out.echo, out.grade, out.decision = measure(ctx, out.patient, out.hemo, clip_no[keep], att[keep])
    out.refusal = refusals(ctx, course, out.patient, out.hemo, out.decision, out.grasp.status, out.echo["mean_gradient_mmhg"])
    # the patient's state before this clip (for the log; indexing by the array q copies)
    q = out.patient
    m = course.hemo.metrics
    out.before = {"eroa_cm2": course.read_eroa_cm2[q], "decision": course.decision[q], "mean_gradient_mmhg": course.read_gradient_mmhg[q],
                  **{k: m[k][q] for k in ("la_mean_mmhg", "la_vwave_mmhg")}}
    return out


PLANE_WAVES: tuple[int, ...] = (1, 1, 1)
"""Alternatives per patient in each wave before the last (:func:`simulate_alternatives`), in candidate
order; ``()``: one wave, every alternative from the first attempt's state.  Clip-round beats per
patient, 1,000 tvt_mixed: ``()`` 59.9, ``(2,)`` 53.9, ``(1, 1)`` 53.3, ``(1, 1, 1)`` 51.5,
``(1, 1, 1, 1)`` 51.1, ``(1,) * 6`` 51.0; farthest-first order 51.1, nearest-first 52.2–52.7
(``benchmarks/RESULTS.md``).  Each wave is one more engine call per round."""
PLANE_WEIGHT_LIMIT = 10.0
"""The largest weight of a known state in a plane start (:func:`~mitrasim.procedure.start_states.plane`):
a guard against extrapolating far past the known states.  Clip-round beats per patient, 1,000
tvt_mixed, waves (1, 1, 1): limit 2 52.5, 4 51.5, 10 51.05, 30 50.9, none 50.8."""


def simulate_alternatives(ctx: Context, course: Course, rnd: Round, ia: np.ndarray, ha: BatchHemo, ib: np.ndarray) -> BatchHemo:
    """Engine steady states of the alternatives ``ib`` (patient-major) of the round whose first attempts
    ``ia`` gave ``ha``, in waves (:data:`PLANE_WAVES`): each alternative starts from the plane
    (:func:`~mitrasim.procedure.start_states.plane` over (EROA, MVA)) through its patient's first
    attempt and the patient's alternatives of the earlier waves — the first wave from the first
    attempt's state (a nearby clipped state; the patient's current state where that is not finite).
    Every start is an affine combination of the patient's own states of this loading: it holds their
    blood, and depends on no other patient."""
    parts = _alternative_waves(ctx, course, rnd, ia, ha, ib)
    if len(parts) == 1:
        return parts[0][1]
    return merge_hemo(np.arange(ib.size), *parts)


def _alternative_waves(ctx: Context, course: Course, rnd: Round, ia: np.ndarray, ha: BatchHemo, ib: np.ndarray) -> list[tuple[np.ndarray, BatchHemo]]:
    """:func:`simulate_alternatives` wave by wave: ``(w, states)`` per wave, ``w`` its alternatives as
    positions in ``ib``."""
    n, pi = ctx.n, rnd.patient
    fs = np.full((n, ha.final_state.shape[1]), np.nan)
    fs[pi[ia]] = ha.final_state
    c_first = np.full((n, 2), np.nan)
    c_first[pi[ia]] = np.where(np.isfinite(ha.final_state).all(axis=1)[:, None], np.column_stack([rnd.eroa_cm2[ia], rnd.mva_cm2[ia]]), np.nan)
    q = pi[ib]
    x_first = start_states.finite_rows(fs[q], course.hemo.final_state[q])
    c = np.column_stack([rnd.eroa_cm2[ib], rnd.mva_cm2[ib]])
    starts = np.flatnonzero(np.r_[True, q[1:] != q[:-1]])
    rank = np.arange(q.size) - np.repeat(starts, np.diff(np.r_[starts, q.size]))
    k = int(sum(PLANE_WAVES))
    xk = np.full((n, max(k, 1), fs.shape[1]), np.nan)
    ck = np.full((n, max(k, 1), 2), np.nan)
    edges = np.r_[0, np.cumsum(PLANE_WAVES), np.iinfo(np.int64).max]
    parts: list[tuple[np.ndarray, BatchHemo]] = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        w = np.flatnonzero((rank >= lo) & (rank < hi))
        if w.size == 0:
            continue
        x = start_states.plane(x_first[w], c_first[q[w]], xk[q[w]], ck[q[w]], c[w], PLANE_WEIGHT_LIMIT)
        h = simulate(ctx, course, rnd, ib[w], x)
        mem = rank[w] < k
        xk[q[w][mem], rank[w][mem]] = h.final_state[mem]
        ck[q[w][mem], rank[w][mem]] = c[w][mem]
        parts.append((w, h))
    return parts


def best_alternatives(rnd: Round) -> dict[int, int]:
    """Per patient: the alternative (not the first attempt) with no refusal and the lowest
    (decision grade, gradient, EROA, candidate order); −1 when none."""
    first, best = _best_alternative_runs(rnd)
    return dict(zip(rnd.patient[first].tolist(), best.tolist()))


def _best_alternative_runs(rnd: Round) -> tuple[np.ndarray, np.ndarray]:
    """:func:`best_alternatives` per run of candidates (a patient's candidates are one run, its first
    attempt first): the run's first candidate and its best alternative (−1 when none)."""
    assert rnd.decision is not None and rnd.refusal is not None and rnd.hemo is not None
    pi = rnd.patient
    starts = np.r_[True, pi[1:] != pi[:-1]] if pi.size else np.zeros(0, bool)
    run = np.cumsum(starts) - 1  # each candidate's run
    ok = np.flatnonzero((rnd.refusal == Refusal.NONE) & ~rnd.first)  # the candidates that may be chosen
    grad = np.nan_to_num(rnd.gradient_mmhg[ok], nan=np.inf)
    order = ok[np.lexsort((ok, rnd.hemo.eroa_cm2[ok], grad, rnd.decision[ok], run[ok]))]
    rs = run[order]
    top = order[np.r_[True, rs[1:] != rs[:-1]]] if order.size else order  # each run's first in that order
    best = np.full(int(starts.sum()), -1)
    best[run[top]] = top
    return np.flatnonzero(starts), best


def decide(ctx: Context, course: Course, rnd: Round) -> Decision:
    """Per patient of the round: release the first attempt if it may be released and no alternative
    gives a lower decision grade; otherwise move to the best alternative within the rules (a
    reposition, or an exchange when its device differs; not for planned clips, and only with a
    grasp left after the first); otherwise remove the clip."""
    assert rnd.decision is not None and rnd.refusal is not None
    a, ba = _best_alternative_runs(rnd)
    p = rnd.patient[a]
    has_alt = ba >= 0
    dec_alt = np.where(has_alt, rnd.decision[np.where(has_alt, ba, 0)], np.iinfo(np.int64).max)
    release = (rnd.refusal[a] == Refusal.NONE) & (dec_alt >= rnd.decision[a])
    planned = ctx.planned[p]
    grasp_left = course.grasps[p] + 1 < ctx.max_grasp_attempts[p]
    move = ~release & has_alt & ~planned & grasp_left
    other = np.array([rnd.device[b].name != rnd.device[f].name if b >= 0 else False for b, f in zip(ba.tolist(), a.tolist())], dtype=bool)
    moved = np.where(other, int(Outcome.EXCHANGE), int(Outcome.REPOSITION))
    outcome = np.where(release, int(Outcome.RELEASE), np.where(move, moved, int(Outcome.REMOVE)))
    chosen = np.where(release, a, np.where(move, ba, -1))
    return Decision(p, a, ba, outcome, chosen, course.n_clips[p].copy())


def release_events(ctx: Context, rnd: Round, d: Decision) -> Decision:
    """At each release, the seeded draws of the clip's slot: embolization (the clip is lost and the
    procedure stops), else single-leaflet device attachment at ``rate × grasp multiplier``."""
    released = d.chosen >= 0
    slot = np.minimum(d.slot, MAX_SLOTS - 1)
    u_emb = ctx.U[d.patient, MAX_SLOTS + slot]
    u_slda = ctx.U[d.patient, slot]
    mult = rnd.grasp.multiplier[np.where(released, d.chosen, 0)]
    d.embolized = released & (u_emb < ctx.rates.embolization_per_clip)
    d.slda = released & ~d.embolized & (u_slda < np.minimum(1.0, ctx.rates.slda_per_clip * mult))
    return d


def placed_clips(ctx: Context, rnd: Round, d: Decision) -> list[PlacedClip | None]:
    """The clip each patient of the round releases (None when removed)."""
    out: list[PlacedClip | None] = [None] * d.patient.size
    r_ok = np.flatnonzero(d.chosen >= 0)
    j_ok = d.chosen[r_ok]
    fl = lambda a: np.asarray(a, dtype=float)[j_ok].tolist()  # noqa: E731  (Python floats, converted once)
    pos, mult = fl(rnd.position_mm), fl(rnd.grasp.multiplier)
    factor = [1.0] * j_ok.size if rnd.arm_factor is None else fl(rnd.arm_factor)
    aimed = pos if rnd.target_mm is None else fl(rnd.target_mm)
    status = np.asarray(rnd.grasp.status)[j_ok].astype(int).tolist()
    scallop = oplog.scallop_labels(ctx.segment_edges_mm[d.patient[r_ok]], np.asarray(pos, dtype=float))
    for q, (r, j) in enumerate(zip(r_ok.tolist(), j_ok.tolist())):
        dv = rnd.device[j]
        out[r] = PlacedClip(dv.name, pos[q], dv.width_mm, dv.arm_length_mm, scallop[q], GRASP_STATUS[status[q]], mult[q], True, dv.spacer_mm, factor[q], aimed[q])
    return out


def apply_round(ctx: Context, course: Course, rnd: Round, d: Decision, placed: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Update the course with the round's decisions: attempts, stops on removal and embolization, the
    clips in place (``placed[i]``: the :class:`~mitrasim.procedure.process.PlacedClip` of the round's
    patient ``i``, None when none is released), SLDA, then stop or add another clip.

    Returns ``(next_clip, state_decision)`` per patient of the round: ``next_clip`` True when
    another clip follows, and the decision grade the stop rule saw (after SLDA: the grade before
    the clip)."""
    assert d.embolized is not None and d.slda is not None and rnd.decision is not None
    p, k = d.patient, d.slot
    course.attempts[p] += 1
    course.grasps[p] += 1 + (d.outcome == _O.REPOSITION) + (d.outcome == _O.EXCHANGE)
    course.repositions[p] += d.outcome == _O.REPOSITION
    course.exchanges[p] += d.outcome == _O.EXCHANGE
    state_grad = course.hemo.metrics["mean_gradient_mmhg"][p].copy()
    state_dec = course.decision[p].copy()
    state_mva = course.hemo.mva_cm2[p].copy()
    nxt = np.zeros(p.size, bool)
    removed = d.outcome == _O.REMOVE
    lost = ~removed & d.embolized
    for r in np.flatnonzero(removed).tolist():
        kk = int(k[r])
        course.stop(int(p[r]), oplog.removal_reason(ctx, rnd, int(d.first[r]), kk), aborted=kk == 0)
    for i in p[lost].tolist():
        course.events["embolization"][i] = True
        course.stop(i, "clip embolization")
    # the clips left in the valve (row order; each patient once in a round)
    rp = np.flatnonzero(~removed & ~lost)
    ip, kp = p[rp], k[rp]
    clips = [placed[r] for r in rp.tolist()]
    for i, clip in zip(ip.tolist(), clips):
        course.clips[i].append(clip)
    course.clip_pos_mm[ip, kp] = [c.position_mm for c in clips]
    course.clip_width_mm[ip, kp] = [c.width_mm for c in clips]
    course.clip_arm_mm[ip, kp] = [c.effective_arm_mm for c in clips]
    course.clip_effective[ip, kp] = True
    course.clip_spacer_mm[ip, kp] = [c.spacer_mm for c in clips]
    course.n_clips[ip] = kp + 1
    rs = rp[d.slda[rp]]  # attached to one leaflet: not effective, the state before the clip stays
    for r in rs.tolist():
        placed[r].effective = False
    course.clip_effective[p[rs], k[rs]] = False
    course.events["slda"][p[rs]] = True
    ro = rp[~d.slda[rp]]  # effective: the released candidate's state
    tj = d.chosen[ro]
    state_dec[ro], state_mva[ro] = rnd.decision[tj], rnd.hemo.mva_cm2[tj]  # type: ignore[union-attr]
    state_grad[ro] = rnd.gradient_mmhg[tj]
    # stop at the target grade (most patients: their words once per pair of grades), or another rule, or add another clip
    target = ctx.target_grades[ip]
    reached = state_dec[rp] <= target
    for i, s_dec, t in zip(ip[reached].tolist(), state_dec[rp][reached].tolist(), target[reached].tolist()):
        course.stop_reason[i] = _target_reached_words(int(s_dec), t)
    course.active[ip[reached]] = False
    rn, inr, kn = rp[~reached], ip[~reached], kp[~reached]
    dec_l, grad_l, mva_l = state_dec[rn].tolist(), state_grad[rn].tolist(), state_mva[rn].tolist()
    for q, (r, i, kk) in enumerate(zip(rn.tolist(), inr.tolist(), kn.tolist())):
        R = ctx.setups[i].rules
        s_dec = int(dec_l[q])
        near = near_limit_text(R, grad_l[q], mva_l[q]) if s_dec == 2 and R.target_residual_grade < 2 and R.accept_2plus_near_limit else None
        if near:
            course.stop(i, f"residual MR 2+ accepted (target {label(R.target_residual_grade)}): {near}")
        elif kk + 1 >= ctx.clip_limit(i):
            course.stop(i, f"residual MR {label(s_dec)} but {kk + 1} clips: the limit")
        elif mva_l[q] < R.min_mva_cm2:
            course.stop(i, f"MVA {mva_l[q]:.2f} < {R.min_mva_cm2:g} cm²: no room for another clip")
        else:
            nxt[r] = True
    if ro.size:
        tp = p[ro]
        assign_hemo(course.hemo, tp, rnd.hemo, tj)  # type: ignore[arg-type]
        course.grade[tp], course.decision[tp] = rnd.grade[tj], rnd.decision[tj]  # type: ignore[index]
        course.read_gradient_mmhg[tp] = rnd.gradient_mmhg[tj]
        course.read_eroa_cm2[tp] = rnd.read_eroa_cm2[tj]
    return nxt, state_dec


@functools.lru_cache(maxsize=64)
def _target_reached_words(grade: int, target: int) -> str:
    """The stop reason of a patient whose residual MR ``grade`` is at or below the ``target`` grade."""
    return f"residual MR {label(grade)} ≤ target {label(target)}"


def access(ctx: Context, course: Course, ids: np.ndarray) -> np.ndarray:
    """Venous access, transseptal puncture and steering for the patients ``ids`` not yet accessed
    (their first clip): log entries, minutes, and the puncture's tamponade draw (drained, or
    refractory: urgent surgery ends the procedure).  Returns the mask of ``ids`` still active."""
    new = ids[~course.accessed[ids]]
    if new.size == 0:
        return course.active[ids]
    course.minutes[new] += PHASE_MINUTES["access"] + PHASE_MINUTES["transseptal"] + PHASE_MINUTES["steering"]
    course.accessed[new] = True
    p_t = scale_odds(ctx.rates.pericardial_effusion * TAMPONADE_AT_PUNCTURE_SHARE, ctx.risk["pericardial_effusion"][new])
    u_t = ctx.U[new, COLUMNS["tamponade_puncture"]]
    scallops = _peak_scallops(ctx, new)
    hit = u_t < p_t
    for r, (i, h) in enumerate(zip(new.tolist(), hit.tolist())):
        s = ctx.setups[i]
        family = "PASCAL" if s.rules.device_preference.startswith("PASCAL") else "MitraClip"
        course.steps[i].extend(oplog.access_entries(s.etiology, scallops[i], family))
        if h:
            _tamponade(course, i, bool(u_t[r] < p_t[r] * REFRACTORY_TAMPONADE_SHARE), 0, "at the transseptal puncture")
    return course.active[ids]


def _peak_scallops(ctx: Context, ids: np.ndarray) -> dict[int, str]:
    """Patient → the scallop ("A2/P2") at the largest gap of its own (awake) valve, the target the
    puncture is planned for: :func:`~mitrasim.procedure.oplog.scallop_label` at ``s[argmax g]``, read
    from the groups' stacked awake valves (per patient from its setup's valve where a group has none)."""
    out: dict[int, str] = {}
    want = np.zeros(ctx.n, bool)
    want[ids] = True
    for grp in ctx.groups:
        loc = np.flatnonzero(want[grp.ids])
        if loc.size == 0:
            continue
        if grp.awake_valves is None:
            for i in grp.ids[loc].tolist():
                v = ctx.setups[i].valve
                out[i] = oplog.scallop_label(v, float(v.s_mm[int(first_peak(v.gap_mm[None, :])[0])]))
            continue
        vr = grp.awake_valves
        peak = vr.s_mm[loc, first_peak(vr.gap_mm[loc])]
        out.update(zip(grp.ids[loc].tolist(), oplog.scallop_labels(vr.segment_edges_mm[loc], peak)))
    return out


def _tamponade(course: Course, i: int, refractory: bool, k: int, where: str) -> None:
    """A tamponade: drained (+ minutes), or refractory (urgent surgery, the procedure ends)."""
    course.events["pericardial_effusion"][i] = True
    course.steps[i].extend(oplog.tamponade_entries(k, where, refractory))
    course.minutes[i] += PHASE_MINUTES["tamponade"]
    if refractory:
        _end(course, i, "urgent surgery", "urgent surgery for a refractory tamponade")


def _end(course: Course, i: int, by: str, reason: str) -> None:
    course.events["urgent_surgery" if by == "urgent surgery" else "in_hospital_death"][i] = True
    course.ended_by[i] = by
    course.stop(i, reason)


def clip_events(ctx: Context, course: Course, d: Decision) -> None:
    """After each patient's clip of the round: its minutes, then the seeded events of the clip slot that
    change the course (tamponade from the grasps, urgent surgery, death in the room)."""
    p = d.patient
    k = np.minimum(d.slot, MAX_SLOTS - 1)
    moved = (d.outcome == Outcome.REPOSITION) | (d.outcome == Outcome.EXCHANGE)
    exchanged = d.outcome == Outcome.EXCHANGE
    course.minutes[p] += clip_minutes(moved, exchanged, d.outcome != Outcome.REMOVE)
    r_t = ctx.rates.pericardial_effusion * (1.0 - TAMPONADE_AT_PUNCTURE_SHARE) / REFERENCE_GRASPS
    p_t = scale_odds(r_t * (1.0 + moved), ctx.risk["pericardial_effusion"][p])
    p_s = scale_odds(ctx.rates.urgent_surgery / CLIPS_PER_PATIENT, ctx.risk["urgent_surgery"][p])
    p_d = scale_odds(ctx.rates.in_hospital_death * DEATH_IN_ROOM_SHARE / CLIPS_PER_PATIENT, ctx.risk["in_hospital_death"][p])
    u_t = ctx.U[p, COLUMNS["tamponade[0]"] + k]
    u_s = ctx.U[p, COLUMNS["urgent_surgery[0]"] + k]
    u_d = ctx.U[p, COLUMNS["room_death[0]"] + k]
    for r in np.flatnonzero((u_t < p_t) | (u_s < p_s) | (u_d < p_d)):
        i, kk = int(p[r]), int(k[r])
        if u_t[r] < p_t[r]:
            _tamponade(course, i, bool(u_t[r] < p_t[r] * REFRACTORY_TAMPONADE_SHARE), kk + 1, f"during clip {kk + 1}")
        if course.ended_by[i]:
            continue
        if u_s[r] < p_s[r]:
            course.steps[i].append(oplog.surgery_entry(kk + 1))
            _end(course, i, "urgent surgery", f"urgent surgery during clip {kk + 1}")
        elif u_d[r] < p_d[r]:
            course.steps[i].append(oplog.room_death_entry(kk + 1))
            _end(course, i, "death", f"death in the procedure room during clip {kk + 1}")


def closing(ctx: Context, course: Course) -> None:
    """The final septal and pericardial check and the closure, for every patient accessed whose
    procedure no event ended."""
    ids = np.array([i for i in np.flatnonzero(course.accessed).tolist() if not course.ended_by[i]], dtype=int)
    for i, effusion, minutes in zip(ids.tolist(), course.events["pericardial_effusion"][ids].tolist(), course.minutes[ids].tolist()):
        course.steps[i].extend(oplog.closing_entries(len(course.clips[i]), effusion, minutes))
    course.minutes[ids] += PHASE_MINUTES["final"] + PHASE_MINUTES["closure"]


def post_events(ctx: Context, course: Course) -> dict[int, list[str]]:
    """Complications after the procedure for every patient accessed and alive: major bleeding
    (patient risk), stroke (age × procedure time) and in-hospital death (patient risk × procedure
    time × urgent surgery × tamponade), the death rate less the share already in the room.
    Returns the events of each patient with one (for the log)."""
    rates = ctx.rates
    ids = np.flatnonzero(course.accessed & ~course.events["in_hospital_death"])
    t = course_multiplier(course.minutes[ids])
    ev = course.events
    m_death = ctx.risk["in_hospital_death"][ids] * t * np.where(ev["urgent_surgery"][ids], DEATH_AFTER_SURGERY_OR, 1.0) * np.where(ev["pericardial_effusion"][ids], DEATH_AFTER_TAMPONADE_OR, 1.0)
    p = {
        "bleeding": scale_odds(rates.bleeding, ctx.risk["bleeding"][ids]),
        "stroke": scale_odds(rates.stroke, ctx.risk["stroke"][ids] * t),
        "in_hospital_death": scale_odds(rates.in_hospital_death * (1.0 - DEATH_IN_ROOM_SHARE), m_death),
    }
    out: dict[int, list[str]] = {}
    for e in POST_EVENTS:
        hit = ctx.U[ids, COLUMNS[e]] < p[e]
        ev[e][ids[hit]] = True
        for i in ids[hit]:
            out.setdefault(int(i), []).append(e)
    return out


@dataclass
class AwakeOutcome:
    """The final valve in the patient's own (awake) state: the reported result."""

    hemo: BatchHemo
    echo: dict[str, np.ndarray]
    grade: np.ndarray
    decision: np.ndarray


def awake_outcome(ctx: Context, course: Course, b: Baseline) -> AwakeOutcome:
    """The final valve (effective clips as placed, with their effective arms and spacers) in the
    awake state: EROA and MVA from the awake valve rows, the engine at the awake parameters
    (started from :func:`_awake_starts`), echo without reading noise.  Patients without an
    effective clip keep their awake baseline."""
    n = ctx.n
    if ctx.loading == "awake":  # the course's states are the model's awake states (readings aside)
        ech = echo_arrays(course.hemo, ctx.secondary)
        grd, dec = grade_arrays(ech, ctx.secondary)
        return AwakeOutcome(course.hemo.take(np.arange(n)), ech, grd, dec)
    eroa, mva = b.hemo.eroa_cm2.copy(), b.hemo.mva_cm2.copy()
    for grp in ctx.groups:
        vr = grp.awake_valves if grp.awake_valves is not None else grp.valves
        ids = grp.ids
        loc = np.arange(ids.size)
        g, w = clipped_profiles_rows(vr, loc, course.effective_positions(ids), course.clip_width_mm[ids], course.clip_arm_mm[ids], spacers_mm=course.clip_spacer_mm[ids])
        has = course.clip_effective[ids].any(axis=1)
        eroa[ids] = np.where(has, vr.discharge_coeff * g.sum(axis=1) * vr.ds_mm / 100.0, eroa[ids])
        mva[ids] = np.where(has, w.sum(axis=1) * vr.ds_mm / 100.0, mva[ids])
    hemo = b.hemo.take(np.arange(n))
    run = np.flatnonzero(course.clip_effective.any(axis=1))
    if run.size:
        t0 = time.perf_counter()
        presets, overrides = [ctx.presets[p] for p in run.tolist()], ctx.overrides_of(run, awake=True)
        h = simulate_states(
            presets, overrides, ctx.awake_hr_bpm[run], eroa[run], mva[run], ctx.cd,
            initial_state=_awake_starts(course, b, run, presets, overrides), settings=ctx.settings,
        )  # fmt: skip
        ctx.engine_seconds += time.perf_counter() - t0
        assign_hemo(hemo, run, h, np.arange(run.size))
    ech = echo_arrays(hemo, ctx.secondary)
    grd, dec = grade_arrays(ech, ctx.secondary)
    return AwakeOutcome(hemo, ech, grd, dec)


AWAKE_TRANSFER = True
"""Start the awake outcome from the awake baseline plus the clips' change of the intraprocedural
state (:func:`_awake_starts`), else from the awake baseline.  Beats per awake-outcome state 7.18 →
6.33 (1,000 tvt_mixed patients; ``benchmarks/RESULTS.md``)."""


def _awake_starts(course: Course, b: Baseline, run: np.ndarray, presets: Sequence[str], awake_overrides: Overrides) -> np.ndarray:
    """(m, 14) the awake outcome's start states of patients ``run`` (their presets and awake overrides):
    the awake baseline plus the change the clips made to the intraprocedural state (current −
    intraprocedural baseline), held to the awake baseline's blood
    (:func:`~mitrasim.procedure.start_states.transferred`)."""
    x_a = b.hemo.final_state.take(run, axis=0)
    if not AWAKE_TRANSFER:
        return x_a
    assert b.intra_hemo is not None
    w = start_states.blood_weights(presets, awake_overrides)
    return start_states.transferred(x_a, b.intra_hemo.final_state.take(run, axis=0), course.hemo.final_state.take(run, axis=0), w)


def finish(ctx: Context, course: Course, b: Baseline, final: AwakeOutcome | None = None) -> tuple[dict[str, np.ndarray], MVARCBatch]:
    """The final echo arrays and the MVARC endpoints (:mod:`mitrasim.echo.mvarc`: technical, device and
    procedural success) from the baseline and final decision grades, the final planimetric MVA and
    gradient, the clips left in the valve and the complications (after :func:`post_events`);
    ``final`` the awake outcome (default: the course's state)."""
    if final is None:
        final = AwakeOutcome(course.hemo, echo_arrays(course.hemo, ctx.secondary), course.grade, course.decision)
    mva, grad = np.asarray(final.hemo.mva_cm2, float), np.asarray(final.hemo.metrics["mean_gradient_mmhg"], float)
    # the echo component's floor on the area and the gradient (as max(x, floor): a NaN area stays NaN, a NaN gradient reads 0)
    eoa, grad = np.where(mva < 1e-3, 1e-3, mva), np.where(grad > 0.0, grad, 0.0)
    n_clips = np.array([len(c) for c in course.clips], dtype=int)
    return final.echo, MVARCBatch(b.decision, final.decision, eoa, grad, course.events, n_clips)


# ----------------------------------------------------------------------------- arrays of states


def merge_hemo(keep: np.ndarray, *parts: tuple[np.ndarray, BatchHemo | None]) -> BatchHemo:
    """One :class:`BatchHemo` over the candidates ``keep`` (sorted) from parts ``(candidate indices, states)``
    (each part copied into its rows: no concatenation first)."""
    hs = [(j, hh) for j, hh in parts if hh is not None]
    h0 = hs[0][1]
    out = BatchHemo(
        eroa_cm2=np.empty(keep.size), mva_cm2=np.empty(keep.size), forward_area_cm2=np.empty(keep.size),
        metrics={k: np.empty(keep.size, dtype=v.dtype) for k, v in h0.metrics.items()},
        final_state=np.empty((keep.size, h0.final_state.shape[1])),
    )  # fmt: skip
    for j, hh in hs:
        assign_hemo(out, np.searchsorted(keep, j), hh, slice(None))
    return out


def assign_hemo(dst: BatchHemo, rows: np.ndarray, src: BatchHemo, j: np.ndarray | slice) -> None:
    """Copy states ``j`` of ``src`` into rows ``rows`` of ``dst`` (in place)."""
    dst.eroa_cm2[rows] = src.eroa_cm2[j]
    dst.mva_cm2[rows] = src.mva_cm2[j]
    dst.forward_area_cm2[rows] = src.forward_area_cm2[j]
    for k, v in dst.metrics.items():
        v[rows] = src.metrics[k][j]
    dst.final_state[rows] = src.final_state[j]


