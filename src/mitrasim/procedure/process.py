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

import bisect
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from mitrasim import DISCLAIMER, citations
from mitrasim.devices import Device
from mitrasim.devices.grasp import GRASP_STATUS, grasp_reasons
from mitrasim.devices.catalogue import DEFAULT_CATALOGUE
from mitrasim.echo.grading import MRGrade
from mitrasim.echo.stenosis import MVARCResult, evaluate_mvarc
from mitrasim.echo.synthetic import EchoMeasurements
from mitrasim.errors import InputError
from mitrasim.procedure import calibration as _cal
from mitrasim.procedure.batched import Candidates, choose_devices, grasp_at, make_candidates
from mitrasim.procedure.hemodynamics import BatchHemo, echo_arrays, grade_arrays, grade_states, label, simulate_states, steady_ok
from mitrasim.procedure.risks import DEFAULT_RATES, EVENT_LABELS, MAX_SLOTS, N_DRAWS, PATIENT_EVENTS, ComplicationRates, draw_uniforms
from mitrasim.procedure.rules import DEFAULT_RULES, Rules, rules_from_case
from mitrasim.valve.clip import ValveRows, clipped_profiles, clipped_profiles_rows
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
    spacer_mm: float = 0.0

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
    seg = min(max(bisect.bisect_right(list(valve.segment_edges_mm), float(position_mm)) - 1, 0), 2) + 1
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


def _g(x: int) -> str:
    return label(x)


# ----------------------------------------------------------------------------- the process


@dataclass
class _Group:
    """Patients that share a valve grid size, a catalogue and rules: vectorised together."""

    ids: np.ndarray  # global patient indices
    valves: ValveRows
    catalogue: Mapping[str, Device]
    rules: Rules
    planned: bool

    @property
    def devices(self) -> list[Device]:
        return list(self.catalogue.values())


def _groups(setups: Sequence[PatientSetup]) -> list[_Group]:
    by: dict[tuple[Any, ...], list[int]] = {}
    for i, s in enumerate(setups):
        by.setdefault((s.valve.s_mm.size, id(s.catalogue), s.rules, bool(s.planned)), []).append(i)
    out = []
    for (_, _, rules, planned), ids in by.items():
        out.append(_Group(np.array(ids), ValveRows.from_valves([setups[i].valve for i in ids]), setups[ids[0]].catalogue, rules, planned))
    return out


def _mr_text(grade: int, dec: int) -> str:
    """The grade as the echo reports it: ``"2+"`` or ``"indeterminate (≈3+)"``."""
    return label(grade) if grade >= 0 else f"indeterminate (≈{label(dec)})"


@dataclass
class ProcedureArrays:
    """The batched procedure's lean result (no per-state echo objects; for cohorts).

    ``baseline``/``final``: :class:`BatchHemo` rows per patient; ``*_echo``: their
    :func:`~mitrasim.procedure.hemodynamics.echo_arrays`; ``*_grade`` (−1 indeterminate)
    and ``*_decision`` grades; ``clips``, ``steps``, ``stop_reason`` per patient;
    ``complications``: (n,) bool per event; ``attempts``: clips tried (rounds with a
    grasp); ``engine_seconds``: time in the engine.
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
    mvarc: list[MVARCResult]
    engine_seconds: float
    seed: int | None

    def __len__(self) -> int:
        return len(self.setups)


def run_procedure_arrays(
    setups: Sequence[PatientSetup],
    *,
    seed: int | np.random.Generator | None = 0,
    rates: ComplicationRates | None = None,
    forward_discharge_coeff: float | None = None,
    settings: Any = None,
) -> ProcedureArrays:
    """The procedure for many patients at once, vectorised (module docstring); the engine of
    :func:`run_procedures`, callable directly by cohorts (no per-state echo objects).

    Patient ``i``'s complication draws are row ``i`` of :func:`~mitrasim.procedure.risks.draw_uniforms`
    (``seed`` an int or a Generator; ``None`` = no complications).
    """
    setups = list(setups)
    n = len(setups)
    if n == 0:
        raise InputError("cases", [], "at least one case")
    cd = _cal.FORWARD_DISCHARGE_COEFF if forward_discharge_coeff is None else float(forward_discharge_coeff)
    rates = DEFAULT_RATES if rates is None else rates
    U = draw_uniforms(seed, n) if seed is not None else np.ones((n, N_DRAWS))
    citations.cite("clinical_reference_stop_rules", "stone2015_mvarc")
    presets = [s.preset for s in setups]
    overrides = [dict(s.overrides) for s in setups]
    hr = np.array([s.hr_bpm for s in setups], dtype=float)
    secondary = np.array([s.etiology == "secondary" for s in setups])
    groups = _groups(setups)
    rule = lambda name: np.array([getattr(s.rules, name) for s in setups], dtype=float)  # noqa: E731
    max_grad, min_mva, min_red, abort_grad = rule("max_gradient_mmhg"), rule("min_mva_cm2"), rule("min_eroa_reduction"), rule("abort_gradient_mmhg")

    t_engine = time.perf_counter()
    # cold starts: the LV passive stiffness predicts the beats to steady state best (grouping, see simulate_states)
    key0 = np.array([o.get("lv_eb_mmhg_ml", 0.0) for o in overrides], dtype=float)
    h0 = simulate_states(presets, overrides, hr, np.array([s.valve.eroa_cm2 for s in setups]), np.array([s.valve.mva_cm2 for s in setups]), cd, settings=settings, order_key=key0)
    t_engine = time.perf_counter() - t_engine
    e0 = echo_arrays(h0, secondary)
    g0, d0 = grade_arrays(e0, secondary)
    cur = h0.take(np.arange(n))
    cur_grade, cur_dec = g0.copy(), d0.copy()
    ok0 = steady_ok(h0)
    clip_pos = np.full((n, MAX_SLOTS), np.nan)
    clip_w = np.full((n, MAX_SLOTS), np.nan)
    clip_arm = np.full((n, MAX_SLOTS), np.nan)
    clip_spc = np.zeros((n, MAX_SLOTS))
    clip_eff = np.zeros((n, MAX_SLOTS), bool)
    nclip = np.zeros(n, dtype=int)
    clips: list[list[PlacedClip]] = [[] for _ in range(n)]
    steps: list[list[ClipStep]] = [[] for _ in range(n)]
    stop = [""] * n
    aborted = np.zeros(n, bool)
    attempts = np.zeros(n, dtype=int)
    events = {e: np.zeros(n, bool) for e in (*PATIENT_EVENTS, "slda", "embolization")}
    active = np.zeros(n, bool)
    for i, s in enumerate(setups):
        b_txt = _mr_text(int(g0[i]), int(d0[i]))
        steps[i].append(ClipStep(0, "baseline", (
            f"Baseline: EROA {h0.eroa_cm2[i]:.2f} cm², RVol {h0.metrics['rvol_ml'][i]:.0f} mL, RF {e0['rf_pct'][i]:.0f}%, MR {b_txt}; "
            f"mean gradient {h0.metrics['mean_gradient_mmhg'][i]:.1f} mmHg, MVA {h0.mva_cm2[i]:.2f} cm²"
        ), eroa_cm2=float(h0.eroa_cm2[i]), mr_grade=b_txt, mean_gradient_mmhg=float(h0.metrics["mean_gradient_mmhg"][i]), mva_cm2=float(h0.mva_cm2[i])))  # fmt: skip
        if not ok0[i]:
            stop[i] = "no steady state at baseline (engine): no clip"
        elif d0[i] <= s.rules.target_residual_grade:
            stop[i] = f"MR {_g(int(d0[i]))} at baseline ≤ target {_g(s.rules.target_residual_grade)}: no clip"
        else:
            active[i] = True

    while active.any():
        parts: list[tuple[_Group, np.ndarray, Any]] = []  # (group, local rows, Candidates)
        for grp in groups:
            loc = np.flatnonzero(active[grp.ids])
            if loc.size == 0:
                continue
            ids = grp.ids[loc]
            R = grp.rules
            limit = np.array([min(R.max_clips, len(setups[i].planned)) if grp.planned else R.max_clips for i in ids])
            full = (nclip[ids] >= limit) | (nclip[ids] >= MAX_SLOTS)
            for i in ids[full]:
                stop[i] = f"{nclip[i]} clips: the limit"
            active[ids[full]] = False
            loc, ids = loc[~full], ids[~full]
            if loc.size == 0:
                continue
            g_res, _ = clipped_profiles_rows(grp.valves, loc, np.where(clip_eff[ids], clip_pos[ids], np.nan), clip_w[ids], clip_arm[ids], spacers_mm=clip_spc[ids])
            devs = grp.devices
            if grp.planned:
                names = list(grp.catalogue)
                pos = np.array([setups[i].planned[nclip[i]][0] for i in ids], dtype=float)
                dev = np.array([names.index(setups[i].planned[nclip[i]][1]) for i in ids])
                ga = grasp_at(grp.valves, loc, g_res, pos, np.array([devs[k].width_mm for k in dev]), np.array([devs[k].arm_length_mm for k in dev]), np.array([devs[k].grasp_reach_mm for k in dev]), np.array([devs[k].spacer_mm for k in dev]))
                cands = Candidates(loc, dev, pos, np.ones(loc.size, bool), ga)
            else:
                dev = choose_devices(grp.valves, loc, g_res, cur.mva_cm2[ids], R.device_preference, grp.catalogue)
                cands = make_candidates(grp.valves, loc, g_res, dev, clip_pos[ids], clip_w[ids], R.reposition_offsets_mm, grp.catalogue)
                none = ~np.isin(loc, cands.rows)
                for i in ids[none]:
                    stop[i] = "no room left on the coaptation line"
                active[ids[none]] = False
            if cands.rows.size:
                parts.append((grp, loc, cands))
        if not parts:
            break
        # clip model for every candidate (with the effective clips in place), then one engine batch
        pid_l, dev_l, eroa_l, mva_l = [], [], [], []
        for grp, _, c in parts:
            pid = grp.ids[c.rows]
            devs = grp.devices
            w_new = np.array([devs[k].width_mm for k in c.device])
            a_new = np.array([devs[k].arm_length_mm for k in c.device])
            P = np.concatenate([np.where(clip_eff[pid], clip_pos[pid], np.nan), c.position_mm[:, None]], axis=1)
            W = np.concatenate([clip_w[pid], w_new[:, None]], axis=1)
            A = np.concatenate([clip_arm[pid], a_new[:, None]], axis=1)
            S = np.concatenate([clip_spc[pid], np.array([devs[k].spacer_mm for k in c.device])[:, None]], axis=1)
            g, w = clipped_profiles_rows(grp.valves, c.rows, P, W, A, spacers_mm=S)
            vr = grp.valves
            eroa_l.append(vr.discharge_coeff[c.rows] * g.sum(axis=1) * vr.ds_mm[c.rows] / 100.0)
            mva_l.append(w.sum(axis=1) * vr.ds_mm[c.rows] / 100.0)
            pid_l.append(pid)
            dev_l.extend(devs[k] for k in c.device)
        pi = np.concatenate(pid_l)
        eroa_c, mva_c = np.concatenate(eroa_l), np.concatenate(mva_l)
        pos_c = np.concatenate([c.position_mm for _, _, c in parts])
        first_c = np.concatenate([c.first for _, _, c in parts])
        gn = {k: np.concatenate([getattr(c.grasp, k) for _, _, c in parts]) for k in ("status", "multiplier", "gap_mm", "anterior_mm", "posterior_mm", "calcification", "cleft")}

        def simulate_rows(j: np.ndarray, init: np.ndarray | None = None) -> BatchHemo:
            q = pi[j]
            return simulate_states([presets[p] for p in q], [overrides[p] for p in q], hr[q], eroa_c[j], mva_c[j], cd, initial_state=cur.final_state[q] if init is None else init, settings=settings)

        def fail_codes(j: np.ndarray, hh: BatchHemo, dd: np.ndarray) -> np.ndarray:
            """Why candidate ``j`` may not be released: 0 = it may (see :func:`why_not`)."""
            q = pi[j]
            gg = hh.metrics["mean_gradient_mmhg"]
            f = np.zeros(j.size, dtype=int)
            helps = (dd < cur_dec[q]) | (hh.eroa_cm2 <= (1.0 - min_red[q]) * cur.eroa_cm2[q])
            for code, bad in ((5, ~helps), (4, hh.mva_cm2 < min_mva[q]), (3, gg >= max_grad[q]), (2, ~steady_ok(hh)), (1, gn["status"][j] == 2)):
                f = np.where(bad, code, f)
            return f

        # Two engine batches: the first attempts, then the alternatives of the patients whose
        # decision they can change.  An alternative is used only (a) to reposition when the first
        # attempt may not be released, or (b) when it gives a lower MR grade than a releasable
        # first attempt; so a releasable first attempt at MR 0 needs no alternative.  A state's
        # engine result does not depend on the rest of its batch.
        t0 = time.perf_counter()
        ia = np.flatnonzero(first_c)
        ha = simulate_rows(ia)
        t_engine += time.perf_counter() - t0
        _, dec_a = grade_arrays(echo_arrays(ha, secondary[pi[ia]]), secondary[pi[ia]])
        open_p = np.zeros(n, bool)
        open_p[pi[ia]] = (fail_codes(ia, ha, dec_a) != 0) | (dec_a > 0)
        ib = np.flatnonzero(~first_c & open_p[pi])
        keep = np.sort(np.concatenate([ia, ib]))
        t0 = time.perf_counter()
        # the alternatives start from their patient's first attempt (a nearby clipped state: fewer beats)
        if ib.size:
            fs = np.full((n, ha.final_state.shape[1]), np.nan)
            fs[pi[ia]] = ha.final_state
            init_b = np.where(np.isfinite(fs[pi[ib]]).all(axis=1)[:, None], fs[pi[ib]], cur.final_state[pi[ib]])
        else:
            init_b = None
        hb = simulate_rows(ib, init_b) if ib.size else None
        t_engine += time.perf_counter() - t0
        h = _merge(keep, (ia, ha), (ib, hb))
        pi, pos_c, first_c = pi[keep], pos_c[keep], first_c[keep]
        gn = {k: v[keep] for k, v in gn.items()}
        dev_l = [dev_l[j] for j in keep]
        ech = echo_arrays(h, secondary[pi])
        grd, dec = grade_arrays(ech, secondary[pi])
        grad = h.metrics["mean_gradient_mmhg"]
        fail = fail_codes(np.arange(pi.size), h, dec)
        ok_alt = (fail == 0) & ~first_c
        order = np.lexsort((np.arange(pi.size), h.eroa_cm2, np.nan_to_num(grad, nan=np.inf), dec, ~ok_alt, pi))
        best_alt: dict[int, int] = {}
        for j in order:
            p = int(pi[j])
            if p not in best_alt:
                best_alt[p] = int(j) if ok_alt[j] else -1
        reasons_cache: dict[int, tuple[str, ...]] = {}

        def reasons(j: int) -> tuple[str, ...]:
            if j not in reasons_cache:
                reasons_cache[j] = grasp_reasons(float(gn["gap_mm"][j]), float(gn["anterior_mm"][j]), float(gn["posterior_mm"][j]), int(gn["calcification"][j]), bool(gn["cleft"][j]), dev_l[j])
            return reasons_cache[j]

        def text(j: int, p: int, k: int) -> str:
            st = GRASP_STATUS[int(gn["status"][j])]
            grasp = f"grasp {st}" + (f" ({reasons(j)[0]})" if st != "good" and reasons(j) else "")
            return (
                f"Clip {k + 1} ({dev_l[j].name}) at {scallop_label(setups[p].valve, pos_c[j])}, {pos_c[j]:.1f} mm: {grasp}; "
                f"EROA {cur.eroa_cm2[p]:.2f}→{h.eroa_cm2[j]:.2f} cm², MR {_g(int(cur_dec[p]))}→{_g(int(dec[j]))}, "
                f"mean gradient {cur.metrics['mean_gradient_mmhg'][p]:.1f}→{grad[j]:.1f} mmHg, MVA {h.mva_cm2[j]:.2f} cm²"
            )

        def why_not(j: int, p: int) -> str:
            f = int(fail[j])
            if f == 1:
                return "grasp not possible" + (f": {reasons(j)[0]}" if reasons(j) else "")
            if f == 2:
                return "no steady state"
            if f == 3:
                return f"gradient {grad[j]:.1f} mmHg ≥ {max_grad[p]:g}"
            if f == 4:
                return f"MVA {h.mva_cm2[j]:.2f} < {min_mva[p]:g} cm²"
            return f"no gain (EROA {cur.eroa_cm2[p]:.2f}→{h.eroa_cm2[j]:.2f} cm², MR stays {_g(int(dec[j]))})"

        def step(k: int, action: str, txt: str, j: int | None = None) -> ClipStep:
            if j is None:
                return ClipStep(k, action, txt)
            return ClipStep(k, action, txt, dev_l[j].name, float(pos_c[j]), float(h.eroa_cm2[j]), _mr_text(int(grd[j]), int(dec[j])), float(grad[j]), float(h.mva_cm2[j]))

        take_p, take_j = [], []
        starts = np.flatnonzero(np.r_[True, pi[1:] != pi[:-1]])
        for a in starts:
            p = int(pi[a])
            s = setups[p]
            R = s.rules
            k = int(nclip[p])
            attempts[p] += 1
            ba = best_alt[p]
            chosen = -1
            f0 = int(fail[a])
            if gn["status"][a] == 2:
                steps[p].append(ClipStep(k + 1, "attempt", f"Clip {k + 1} ({dev_l[a].name}) at {scallop_label(s.valve, pos_c[a])}, {pos_c[a]:.1f} mm: {why_not(a, p)}", dev_l[a].name, float(pos_c[a])))
            elif f0 == 0 and (ba < 0 or dec[ba] >= dec[a]):
                chosen = int(a)
                steps[p].append(step(k + 1, "release", text(a, p, k) + ": release", a))
            else:
                why = why_not(a, p) if f0 else f"MR {_g(int(dec[a]))} where a nearby grasp gives {_g(int(dec[ba]))}"
                if grad[a] > abort_grad[p]:
                    why += f" > abort limit {abort_grad[p]:g} mmHg"
                steps[p].append(step(k + 1, "attempt", text(a, p, k) + f": not released ({why})", a))
            if chosen < 0 and ba >= 0 and not s.planned:
                chosen = ba
                steps[p].append(step(k + 1, "reposition", "  reposition → " + text(ba, p, k) + ": release", ba))
            if chosen < 0:
                steps[p].append(ClipStep(k + 1, "removed", f"  clip {k + 1} opened and removed; no position within the rules: stop"))
                stop[p] = f"clip {k + 1} not released: {why_not(a, p) if f0 else 'no acceptable position'}"
                aborted[p] = k == 0
                active[p] = False
                continue
            d = dev_l[chosen]
            mult = float(gn["multiplier"][chosen])
            placed = PlacedClip(d.name, float(pos_c[chosen]), d.width_mm, d.arm_length_mm, scallop_label(s.valve, pos_c[chosen]), GRASP_STATUS[int(gn["status"][chosen])], mult, spacer_mm=d.spacer_mm)
            slot = min(k, MAX_SLOTS - 1)
            if U[p, MAX_SLOTS + slot] < rates.embolization_per_clip:
                events["embolization"][p] = True
                steps[p].append(ClipStep(k + 1, "embolization", f"  complication: clip {k + 1} embolized and retrieved; leak back to EROA {cur.eroa_cm2[p]:.2f} cm² (MR {_g(int(cur_dec[p]))}): stop"))
                stop[p] = "clip embolization"
                active[p] = False
                continue
            clips[p].append(placed)
            clip_pos[p, k], clip_w[p, k], clip_arm[p, k], clip_eff[p, k] = placed.position_mm, d.width_mm, d.arm_length_mm, True
            clip_spc[p, k] = d.spacer_mm
            nclip[p] = k + 1
            if U[p, slot] < min(1.0, rates.slda_per_clip * mult):
                placed.effective = False
                clip_eff[p, k] = False
                events["slda"][p] = True
                steps[p].append(ClipStep(k + 1, "slda", (
                    f"  complication: single-leaflet device attachment of clip {k + 1} (grasp {placed.grasp}, "
                    f"risk ×{mult:.1f}); leak back to EROA {cur.eroa_cm2[p]:.2f} cm² (MR {_g(int(cur_dec[p]))})"
                )))  # fmt: skip
                s_dec, s_mva = int(cur_dec[p]), float(cur.mva_cm2[p])
            else:
                take_p.append(p)
                take_j.append(chosen)
                s_dec, s_mva = int(dec[chosen]), float(h.mva_cm2[chosen])
            limit = min(R.max_clips, len(s.planned)) if s.planned else R.max_clips
            if s_dec <= R.target_residual_grade:
                stop[p] = f"residual MR {_g(s_dec)} ≤ target {_g(R.target_residual_grade)}"
                active[p] = False
            elif k + 1 >= limit:
                stop[p] = f"residual MR {_g(s_dec)} but {k + 1} clips: the limit"
                active[p] = False
            elif s_mva < R.min_mva_cm2:
                stop[p] = f"MVA {s_mva:.2f} < {R.min_mva_cm2:g} cm²: no room for another clip"
                active[p] = False
            else:
                steps[p].append(ClipStep(k + 1, "decide", f"  residual MR {_g(s_dec)} > {_g(R.target_residual_grade)}: add another clip"))
        if take_p:
            tp, tj = np.array(take_p), np.array(take_j)
            _assign(cur, tp, h, tj)
            cur_grade[tp], cur_dec[tp] = grd[tj], dec[tj]

    # complications after the procedure, the final echo, MVARC
    p_rates = rates.patient_rates()
    fe = echo_arrays(cur, secondary)
    mvarc = []
    for i in range(n):
        if attempts[i]:
            for j, e in enumerate(PATIENT_EVENTS):
                if U[i, 2 * MAX_SLOTS + j] < p_rates[j]:
                    events[e][i] = True
                    steps[i].append(ClipStep(len(clips[i]), "event", f"complication: {EVENT_LABELS[e]}"))
        b_txt, f_txt = _mr_text(int(g0[i]), int(d0[i])), _mr_text(int(cur_grade[i]), int(cur_dec[i]))
        fg = float(cur.metrics["mean_gradient_mmhg"][i])
        steps[i].append(ClipStep(len(clips[i]), "stop", f"Stop: {stop[i]}"))
        steps[i].append(ClipStep(len(clips[i]), "final", (
            f"Result: {len(clips[i])} clip(s); EROA {h0.eroa_cm2[i]:.2f}→{cur.eroa_cm2[i]:.2f} cm², MR {b_txt}→{f_txt}, "
            f"mean gradient {h0.metrics['mean_gradient_mmhg'][i]:.1f}→{fg:.1f} mmHg, MVA {h0.mva_cm2[i]:.2f}→{cur.mva_cm2[i]:.2f} cm²"
        ), eroa_cm2=float(cur.eroa_cm2[i]), mr_grade=f_txt, mean_gradient_mmhg=fg, mva_cm2=float(cur.mva_cm2[i])))  # fmt: skip
        mvarc.append(evaluate_mvarc(int(d0[i]), int(cur_dec[i]), eoa_after_cm2=max(float(cur.mva_cm2[i]), 1e-3), mean_gradient_after_mmhg=max(0.0, fg)))
    return ProcedureArrays(
        setups=setups, baseline=h0, baseline_echo=e0, baseline_grade=g0, baseline_decision=d0,
        final=cur, final_echo=fe, final_grade=cur_grade, final_decision=cur_dec, clips=clips, steps=steps,
        complications=events, stop_reason=stop, aborted=aborted, attempts=attempts, mvarc=mvarc,
        engine_seconds=t_engine, seed=seed if isinstance(seed, int) else None,
    )  # fmt: skip




def _merge(keep: np.ndarray, *parts: tuple[np.ndarray, BatchHemo | None]) -> BatchHemo:
    """One :class:`BatchHemo` over the candidates ``keep`` (sorted) from parts ``(candidate indices, states)``."""
    pos = np.searchsorted(keep, np.concatenate([j for j, hh in parts if hh is not None]))
    hs = [hh for _, hh in parts if hh is not None]
    out = BatchHemo(
        eroa_cm2=np.empty(keep.size), mva_cm2=np.empty(keep.size), forward_area_cm2=np.empty(keep.size),
        metrics={k: np.empty(keep.size, dtype=v.dtype) for k, v in hs[0].metrics.items()},
        final_state=np.empty((keep.size, hs[0].final_state.shape[1])),
    )  # fmt: skip
    _assign(out, pos, BatchHemo(
        eroa_cm2=np.concatenate([x.eroa_cm2 for x in hs]), mva_cm2=np.concatenate([x.mva_cm2 for x in hs]),
        forward_area_cm2=np.concatenate([x.forward_area_cm2 for x in hs]),
        metrics={k: np.concatenate([x.metrics[k] for x in hs]) for k in hs[0].metrics},
        final_state=np.concatenate([x.final_state for x in hs]),
    ), np.arange(pos.size))  # fmt: skip
    return out


def _assign(dst: BatchHemo, rows: np.ndarray, src: BatchHemo, j: np.ndarray) -> None:
    """Copy states ``j`` of ``src`` into rows ``rows`` of ``dst`` (in place)."""
    dst.eroa_cm2[rows] = src.eroa_cm2[j]
    dst.mva_cm2[rows] = src.mva_cm2[j]
    dst.forward_area_cm2[rows] = src.forward_area_cm2[j]
    for k, v in dst.metrics.items():
        v[rows] = src.metrics[k][j]
    dst.final_state[rows] = src.final_state[j]


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
    if not setups:
        raise InputError("cases", [], "at least one case")
    cd = _cal.FORWARD_DISCHARGE_COEFF if forward_discharge_coeff is None else float(forward_discharge_coeff)
    pa_ = run_procedure_arrays(setups, seed=seed, rates=rates, forward_discharge_coeff=cd, settings=settings)
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
            final_state=pa_.final.final_state[i].copy(), baseline_state=pa_.baseline.final_state[i].copy(),
        ))  # fmt: skip
    if waveforms:
        _attach_waveforms(results, setups, cd, settings)
    keys = [src.key for src in citations.used()]
    for r in results:
        r.citations = keys
    return ProcedureBatch(results, pa_.seed)


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
