"""The operator's log of the procedure: one :class:`ClipStep` per entry, its words built here.

Each function returns the entries of one step of :mod:`mitrasim.procedure.steps` for one
patient, or (``*_entries`` of the baseline, :func:`round_entries`) for every patient of the step at
once; the steps decide, this module only writes what was decided (numbers, grades,
refusals, events).  Grades are printed as the echo reports them (``"2+"`` or
``"indeterminate (≈3+)"``).
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass
from types import SimpleNamespace
from typing import Any, Sequence

import numpy as np

from mitrasim.devices.grasp import GRASP_STATUS, grasp_reasons, grasp_reasons_rows
from mitrasim.echo.grading import GRADE_LABELS
from mitrasim.procedure.codes import Action, GraspStatus, Outcome, Refusal
from mitrasim.procedure.hemodynamics import label
from mitrasim.procedure.loading import STATE_WORDS
from mitrasim.protocol import AREA_COMPARISON, GRADIENT_COMPARISON, compare_text, number_text
from mitrasim.procedure.timing import PHASE_MINUTES, transseptal_height_cm
from mitrasim.procedure.risks import EVENT_LABELS
from mitrasim.valve.geometry import ValveModel

__all__ = ["ClipStep", "scallop_label", "scallop_labels", "mr_text", "mr_texts", "number_texts", "baseline_entries", "intraprocedural_entries", "start_stop_reason", "round_entries", "refusal_text", "removal_reason", "event_entries", "final_entries", "result_entries", "access_entries", "tamponade_entries", "surgery_entry", "room_death_entry", "closing_entries"]


# enum members bound once (a member lookup on the enum class is slow in a per-patient loop)
_A = SimpleNamespace(**{m.name: m for m in Action})
_O = SimpleNamespace(**{m.name: int(m) for m in Outcome})
_INFEASIBLE = int(GraspStatus.INFEASIBLE)


@dataclass(slots=True)
class ClipStep:
    """One logged step: an attempt, a reposition, a release, a removal or an event (slots: a trial
    builds some fifteen per patient, and a slotted instance is built in half the time)."""

    clip: int
    action: str  # an Action: attempt | reposition | release | removed | slda | embolization | stop | event | ...
    text: str
    device: str | None = None
    position_mm: float | None = None
    eroa_cm2: float | None = None
    mr_grade: str | None = None
    mean_gradient_mmhg: float | None = None
    mva_cm2: float | None = None
    minutes: float = 0.0  # duration of the step

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["action"] = str(self.action)
        return d


def scallop_label(valve: ValveModel, position_mm: float) -> str:
    """"A2/P2" for a position in segment 2, etc."""
    return _scallop_of_edges(list(valve.segment_edges_mm), position_mm)


_SCALLOPS = {k: f"A{k}/P{k}" for k in (1, 2, 3)}


def _scallop_of_edges(edges: Sequence[float], position_mm: float) -> str:
    seg = min(max(bisect.bisect_right(edges, float(position_mm)) - 1, 0), 2) + 1
    return _SCALLOPS[seg]


def scallop_labels(edges_mm: np.ndarray, positions_mm: np.ndarray) -> list[str]:
    """:func:`scallop_label` of many positions at once: ``edges_mm`` (m, 4) each position's valve's
    segment edges, ``positions_mm`` (m,)."""
    seg = np.clip((np.asarray(edges_mm) <= np.asarray(positions_mm, dtype=float)[:, None]).sum(axis=1) - 1, 0, 2) + 1  # bisect_right
    return [_SCALLOPS[k] for k in seg.tolist()]


def _mr_words(grade: int, dec: int) -> str:
    return label(grade) if grade >= 0 else f"indeterminate (≈{label(dec)})"


_LABEL = {g: label(g) for g in GRADE_LABELS}
_label = _LABEL.__getitem__  # label() of a grade 0–4 (a KeyError otherwise, as label's)
_MR_TEXT = {(g, d): _mr_words(g, d) for g in (-1, *GRADE_LABELS) for d in GRADE_LABELS}


def mr_text(grade: int, dec: int) -> str:
    """The grade as the echo reports it: ``"2+"`` or ``"indeterminate (≈3+)"``."""
    t = _MR_TEXT.get((grade, dec))
    return _mr_words(grade, dec) if t is None else t


_N_DEC = len(GRADE_LABELS)
_MR_TABLE = [_MR_TEXT[g, d] for g in (-1, *GRADE_LABELS) for d in GRADE_LABELS]  # at (grade + 1) · _N_DEC + dec


def mr_texts(grade: np.ndarray, dec: np.ndarray) -> list[str]:
    """:func:`mr_text` of many (grade, decision grade) pairs: one table lookup each where both are in
    the table's range (ASE grade −1 … 4, decision grade 0 … 4), :func:`mr_text` elsewhere."""
    g, d = np.asarray(grade, dtype=np.int64), np.asarray(dec, dtype=np.int64)
    code = np.where((g >= -1) & (g < _N_DEC) & (d >= 0) & (d < _N_DEC), (g + 1) * _N_DEC + d, -1).tolist()
    return [_MR_TABLE[k] if k >= 0 else mr_text(gk, dk) for k, gk, dk in zip(code, g.tolist(), d.tolist())]


def number_texts(values: Sequence[float], limits: Sequence[float], min_decimals: int = 1) -> list[str]:
    """:func:`~mitrasim.protocol.number_text` of many values, each against its limit.  A value farther
    from its limit than ``0.6 · 10^−d`` prints with ``d = min_decimals`` decimals without the search:
    rounding to ``d`` decimals moves a number by at most ``0.5 · 10^−d``, so the printed number stays
    on the value's side of the limit (the search's first answer).  The others (and NaN) go through
    :func:`~mitrasim.protocol.number_text` itself."""
    x, lim = np.asarray(values, dtype=float), np.asarray(limits, dtype=float)
    far = (np.abs(x - lim) > 0.6 * 10.0**-min_decimals).tolist()
    spec = f".{min_decimals}f"
    return [format(v, spec) if f else number_text(v, limit, min_decimals) for v, limit, f in zip(x.tolist(), lim.tolist(), far)]


def baseline_entries(eroa_cm2: Sequence[float], rvol_ml: Sequence[float], rf_pct: Sequence[float], grade: np.ndarray, dec: np.ndarray,
                     gradient_mmhg: Sequence[float], mva_cm2: Sequence[float]) -> list[ClipStep]:  # fmt: skip
    """The baseline entry of each patient (Python floats; ``grade``/``dec`` the ASE and decision grades)."""
    return [
        ClipStep(0, _A.BASELINE, (
            f"Baseline: EROA {e:.2f} cm², RVol {rv:.0f} mL, RF {rf:.0f}%, MR {b_txt}; "
            f"mean gradient {g:.1f} mmHg, MVA {a:.2f} cm²"
        ), None, None, e, b_txt, g, a)  # fmt: skip
        for e, rv, rf, b_txt, g, a in zip(eroa_cm2, rvol_ml, rf_pct, mr_texts(grade, dec), gradient_mmhg, mva_cm2)
    ]


def intraprocedural_entries(loading: Sequence[str], hr_bpm: Sequence[float], eroa_cm2: Sequence[float], grade: np.ndarray, dec: np.ndarray,
                            gradient_mmhg: Sequence[float]) -> list[ClipStep]:  # fmt: skip
    """The reading at the start of the procedure of each patient, in its loading state (the decisions' state)."""
    return [
        ClipStep(0, _A.BASELINE, (
            f"Intraprocedural ({STATE_WORDS[state]}, HR {hr:.0f} bpm), as read: "
            f"EROA {e:.2f} cm², MR {mr}; mean gradient {g:.1f} mmHg"
        ))  # fmt: skip
        for state, hr, e, mr, g in zip(loading, hr_bpm, eroa_cm2, mr_texts(grade, dec), gradient_mmhg)
    ]


def start_stop_reason(why: int, dec: int, target_grade: int) -> str:
    """Stop reason of a patient who gets no clip (``why`` of :func:`~mitrasim.procedure.steps.start_course`)."""
    if why == 1:
        return "no steady state at baseline (engine): no clip"
    return f"MR {label(dec)} at baseline ≤ target {label(target_grade)}: no clip"


CHECK_STATE_WORDS = {"anaesthesia": "under GA", "anaesthesia_restored_afterload": "afterload restored"}
"""Short names of the decision readings' state in the log's check lines."""


class _Words:
    """The words of some of one round's candidates (``rnd``: a :class:`~mitrasim.procedure.steps.Round`;
    ``rows``: the candidates, by index into the round, that the words are about, repeats allowed;
    ``slot``: the clip slot of each, when the words name the clip).

    Words are indexed by ``c``, an index into ``rows``.  The numbers the words print are taken at
    ``rows`` and converted to Python lists once per round (exactly: ``tolist``), and the words that
    depend only on a few discrete values (the limits and the state) are built once per distinct
    value; the methods ending in ``_texts`` build one kind of words for many candidates in one loop."""

    def __init__(self, ctx: Any, rnd: Any, rows: np.ndarray, slot: np.ndarray | None = None) -> None:
        self.ctx, self.rnd = ctx, rnd
        self.j: list[int] = np.asarray(rows).tolist()  # the candidate of each c
        self.device = [rnd.device[j] for j in self.j]
        self.name = [dv.name for dv in self.device]
        self._reasons: dict[int, tuple[str, ...]] = {}
        self._limits: dict[tuple[float, float, str], tuple[str, str, str]] = {}
        r, b, rows = rnd, rnd.before, np.asarray(rows)
        m, g = r.hemo.metrics, r.grasp
        pat = np.asarray(r.patient)[rows]
        fl = lambda a, at=rows: np.asarray(a, dtype=float)[at].tolist()  # noqa: E731
        it = lambda a: np.asarray(a)[rows].astype(int).tolist()  # noqa: E731
        self.v = SimpleNamespace(
            patient=pat.astype(int).tolist(), position=fl(r.position_mm), read_eroa=fl(r.read_eroa_cm2), grade=it(r.grade), decision=it(r.decision),
            gradient=fl(r.gradient_mmhg), mva=fl(r.hemo.mva_cm2), la_mean=fl(m["la_mean_mmhg"]), la_vwave=fl(m["la_vwave_mmhg"]),
            b_eroa=fl(b["eroa_cm2"]), b_decision=it(b["decision"]), b_gradient=fl(b["mean_gradient_mmhg"]), b_la_mean=fl(b["la_mean_mmhg"]),
            b_la_vwave=fl(b["la_vwave_mmhg"]), max_gradient=fl(self.ctx.max_gradient_mmhg, pat), min_mva=fl(self.ctx.min_mva_cm2, pat),
            abort_gradient=fl(self.ctx.abort_gradient_mmhg, pat), refusal=it(r.refusal), status=it(g.status),
        )  # fmt: skip
        self.mr = mr_texts(np.asarray(r.grade)[rows], np.asarray(r.decision)[rows])
        if slot is not None:  # "Clip 2 (NTW) at A2/P2, 11.3 mm" of each c
            scallops = scallop_labels(ctx.segment_edges_mm[pat], r.position_mm[rows])
            self.where = [f"Clip {k} ({nm}) at {sc}, {x:.1f} mm" for k, nm, sc, x in zip((np.asarray(slot) + 1).tolist(), self.name, scallops, self.v.position)]

    def reasons(self, j: int) -> tuple[str, ...]:
        """The grasp's words of candidate ``j`` (an index into the round)."""
        if j not in self._reasons:
            self._reasons[j] = _grasp_words(self.rnd, j)
        return self._reasons[j]

    def draw_reasons(self, cs: list[int]) -> None:
        """The grasp's words of candidates ``cs`` (indices into ``rows``) built at once
        (:func:`~mitrasim.devices.grasp.grasp_reasons_rows`), for :meth:`reasons` to read."""
        js = [j for j in dict.fromkeys(self.j[c] for c in cs) if j not in self._reasons]
        if js:
            g = self.rnd.grasp
            words = grasp_reasons_rows(g.gap_mm[js], g.anterior_mm[js], g.posterior_mm[js], g.calcification[js], g.cleft[js], [self.rnd.device[j] for j in js])
            self._reasons.update(zip(js, words))

    per_grasp = PHASE_MINUTES["grasp"] + PHASE_MINUTES["insertion"] + PHASE_MINUTES["check"]

    def grasp_texts(self, cs: list[int]) -> tuple[list[str], list[str]]:
        """The grasp and the leaflet-insertion check of candidates ``cs``: their words, in order."""
        g, at = self.rnd.grasp, [self.j[c] for c in cs]
        gap, ant, post = (np.asarray(x, dtype=float)[at] for x in (g.gap_mm, g.anterior_mm, g.posterior_mm))
        arm = np.array([self.device[c].arm_length_mm for c in cs], dtype=float)
        half_gap = gap / 2
        ins_a, ins_p = ant - half_gap, post - half_gap
        ins_a, ins_p = np.where(ins_a < arm, ins_a, arm).tolist(), np.where(ins_p < arm, ins_p, arm).tolist()  # min(arm, x), NaN as min's
        status = self.v.status
        self.draw_reasons([c for c in cs if status[c] != _GOOD])
        grasp = [_GOOD_GRASP if status[c] == _GOOD else self._grasp_not_good(c) for c in cs]
        insertion = [
            f"  leaflet insertion: anterior {a:.1f} mm, posterior {p:.1f} mm in the {self.device[c].arm_length_mm:g}-mm arms"
            for c, a, p in zip(cs, ins_a, ins_p)
        ]
        return grasp, insertion

    def _grasp_not_good(self, c: int) -> str:
        reasons = self.reasons(self.j[c])
        return f"  grasp {GRASP_STATUS[self.v.status[c]]}" + (f" ({reasons[0]})" if reasons else "")

    def check_texts(self, cs: list[int]) -> list[str]:
        """MR, gradient, MVA and LA pressure before → with each candidate of ``cs``."""
        v, limits = self.v, self._limits
        states = self.ctx.decision_states  # empty when a Context is built without them: one state, ctx.loading
        g_lim, a_lim = [v.max_gradient[c] for c in cs], [v.min_mva[c] for c in cs]
        grad = number_texts([v.gradient[c] for c in cs], g_lim)
        mva = number_texts([v.mva[c] for c in cs], a_lim, 2)
        out = []
        for q, c in enumerate(cs):
            state = states[v.patient[c]] if states else self.ctx.loading
            words = limits.get((g_lim[q], a_lim[q], state))
            if words is None:
                words = limits[g_lim[q], a_lim[q], state] = _check_words(g_lim[q], a_lim[q], state)
            out.append(
                f"{words[0]}{v.b_eroa[c]:.2f}→{v.read_eroa[c]:.2f} cm², MR {_label(v.b_decision[c])}→{self.mr[c]}, "
                f"mean gradient {v.b_gradient[c]:.1f}→{grad[q]}{words[1]}{mva[q]}{words[2]}"
                f"{v.b_la_mean[c]:.0f}→{v.la_mean[c]:.0f} mmHg, v wave {v.b_la_vwave[c]:.0f}→{v.la_vwave[c]:.0f} mmHg"
            )
        return out

    def why_not(self, c: int) -> str:
        j = self.j[c]
        return refusal_text(self.ctx, self.rnd, j, self.reasons(j) if self.v.refusal[c] == Refusal.GRASP else None)

    def entry(self, k: int, action: Action, txt: str, c: int, minutes: float = 0.0) -> ClipStep:
        """An entry that carries candidate ``c``'s readings."""
        v = self.v
        return ClipStep(k, action, txt, self.name[c], v.position[c], v.read_eroa[c], self.mr[c], v.gradient[c], v.mva[c], minutes)


def _check_words(g_lim: float, a_lim: float, state: str) -> tuple[str, str, str]:
    """The fixed words of a check line around its numbers, for its limits and the readings' state."""
    where = "" if state == "awake" else f" ({CHECK_STATE_WORDS.get(state, STATE_WORDS[state])})"
    return (f"  check{where}: EROA ", f" mmHg (limit {GRADIENT_COMPARISON} {g_lim:g}), MVA ", f" cm² (limit {AREA_COMPARISON} {a_lim:g}), LA mean ")


def _grasp_words(rnd: Any, j: int) -> tuple[str, ...]:
    """:func:`~mitrasim.devices.grasp.grasp_reasons` of candidate ``j`` of the round (its grasp's anatomy and device)."""
    g = rnd.grasp
    return grasp_reasons(float(g.gap_mm[j]), float(g.anterior_mm[j]), float(g.posterior_mm[j]), int(g.calcification[j]), bool(g.cleft[j]), rnd.device[j])


_GOOD = int(GraspStatus.GOOD)
_GOOD_GRASP = f"  grasp {GRASP_STATUS[_GOOD]}"
_MIN_GRASP, _MIN_INSERTION, _MIN_ALIGN = PHASE_MINUTES["grasp"], PHASE_MINUTES["insertion"], PHASE_MINUTES["align"]
_MIN_CHECK, _MIN_RELEASED = PHASE_MINUTES["check"], PHASE_MINUTES["check"] + PHASE_MINUTES["release"]
_MIN_REPOSITION, _MIN_EXCHANGE = PHASE_MINUTES["reposition"], PHASE_MINUTES["exchange"]
_MIN_ACCESS, _MIN_TRANSSEPTAL, _MIN_STEERING = PHASE_MINUTES["access"], PHASE_MINUTES["transseptal"], PHASE_MINUTES["steering"]
_MIN_FINAL, _MIN_CLOSURE = PHASE_MINUTES["final"], PHASE_MINUTES["closure"]


def refusal_text(ctx: Any, rnd: Any, j: int, reasons: tuple[str, ...] | None = None) -> str:
    """Why candidate ``j`` of the round may not be released (its :class:`Refusal`)."""
    f = int(rnd.refusal[j])
    p = int(rnd.patient[j])
    if f == Refusal.GRASP:
        if reasons is None:
            reasons = _grasp_words(rnd, j)
        return "grasp not possible" + (f": {reasons[0]}" if reasons else "")
    if f == Refusal.NO_STEADY_STATE:
        return "no steady state"
    if f == Refusal.GRADIENT:
        return f"gradient {compare_text(float(rnd.gradient_mmhg[j]), float(ctx.max_gradient_mmhg[p]), '≥', 'mmHg')}"
    if f == Refusal.AREA:
        return f"MVA {compare_text(float(rnd.hemo.mva_cm2[j]), float(ctx.min_mva_cm2[p]), '<', 'cm²', 2)}"
    if f == Refusal.WORSE:
        return f"MR would worsen ({_label(int(rnd.before['decision'][j]))}→{_label(int(rnd.decision[j]))})"
    return f"no gain (EROA {rnd.before['eroa_cm2'][j]:.2f}→{rnd.read_eroa_cm2[j]:.2f} cm², MR stays {_label(int(rnd.decision[j]))})"


def removal_reason(ctx: Any, rnd: Any, a: int, k: int) -> str:
    """Stop reason when clip ``k + 1`` (first attempt ``a``) is removed."""
    why = refusal_text(ctx, rnd, a) if rnd.refusal[a] != Refusal.NONE else "no acceptable position"
    return f"clip {k + 1} not released: {why}"


def round_entries(ctx: Any, course: Any, rnd: Any, d: Any, placed: list[Any], state_dec: Any, next_clip: Any) -> None:
    """Append the round's entries to each patient's log, as the operator works: steering and
    alignment above the target, the grasp, the leaflet-insertion check, the check of MR, gradient
    and LA pressure with the decision (release, or not and why), a reposition or device exchange
    with its own grasp, insertion and check, the removal, embolization or SLDA, and the decision to
    add another clip.  Each entry carries its minutes (:data:`~mitrasim.procedure.timing.PHASE_MINUTES`).

    Each kind of words is built for every patient of the round in one loop (:class:`_Words`), then
    each patient's entries are appended in the operator's order."""
    n = d.patient.size
    outcome = np.asarray(d.outcome)
    mv = np.flatnonzero((outcome == _O.REPOSITION) | (outcome == _O.EXCHANGE))  # the rows that move to their best alternative
    # c = r: row r's first attempt; c = n + i: the best alternative of row mv[i]
    w = _Words(ctx, rnd, np.concatenate([d.first, d.best_alternative[mv]]), np.concatenate([d.slot, d.slot[mv]]))
    v = w.v
    ba_c = [-1] * n
    for i, r in enumerate(mv.tolist()):
        ba_c[r] = n + i
    status, refusal, decision, gradient, abort = v.status, v.refusal, v.decision, v.gradient, v.abort_gradient
    graspable = [c for c in range(n) if status[c] != _INFEASIBLE] + list(range(n, n + mv.size))
    w.draw_reasons([c for c in range(n) if status[c] == _INFEASIBLE])  # the words of the grasps not possible
    texts = dict(zip(graspable, zip(*w.grasp_texts(graspable), w.check_texts(graspable))))  # c → (grasp, insertion, check)
    ba_decision = np.asarray(rnd.decision)[d.best_alternative].astype(int).tolist()  # read only where a best alternative exists
    names, position, where = w.name, v.position, w.where
    rows = zip(*(np.asarray(x).tolist() for x in (d.patient, d.slot, outcome, d.embolized, d.slda, next_clip, state_dec)))
    for r, (p, k, out, embolized, slda, nxt, s_dec) in enumerate(rows):
        a, k1 = r, k + 1
        log = course.steps[p]
        name, pos = names[a], position[a]
        log.append(ClipStep(k1, _A.ALIGN, f"{where[a]}: steered above the target, arms perpendicular to the coaptation line", name, pos, None, None, None, None, _MIN_ALIGN))
        if status[a] == _INFEASIBLE:
            log.append(ClipStep(k1, _A.ATTEMPT, f"  grasp: {w.why_not(a)}", name, pos, None, None, None, None, w.per_grasp))
        else:
            g_txt, i_txt, c_txt = texts[a]
            log.append(ClipStep(k1, _A.GRASP, g_txt, name, pos, None, None, None, None, _MIN_GRASP))
            log.append(ClipStep(k1, _A.INSERTION, i_txt, name, pos, None, None, None, None, _MIN_INSERTION))
            if out == _O.RELEASE:
                log.append(w.entry(k1, _A.RELEASE, c_txt + ": release", a, _MIN_RELEASED))
            else:
                why = w.why_not(a) if refusal[a] != Refusal.NONE else f"MR {_label(decision[a])} where a nearby grasp gives {_label(ba_decision[r])}"
                if gradient[a] > abort[a]:
                    why += f" > abort limit {abort[a]:g} mmHg"
                log.append(w.entry(k1, _A.ATTEMPT, c_txt + f": not released ({why})", a, _MIN_CHECK))
        if out == _O.REPOSITION or out == _O.EXCHANGE:
            ba = ba_c[r]
            b_name, b_pos = names[ba], position[ba]
            if out == _O.REPOSITION:
                log.append(ClipStep(k1, _A.REPOSITION, f"  reposition → {where[ba]}", b_name, b_pos, None, None, None, None, _MIN_REPOSITION))
            else:
                log.append(ClipStep(k1, _A.EXCHANGE, f"  device exchange {name} → {b_name}: {where[ba]}", b_name, b_pos, None, None, None, None, _MIN_EXCHANGE))
            g_txt, i_txt, c_txt = texts[ba]
            log.append(ClipStep(k1, _A.GRASP, g_txt, b_name, b_pos, None, None, None, None, _MIN_GRASP))
            log.append(ClipStep(k1, _A.INSERTION, i_txt, b_name, b_pos, None, None, None, None, _MIN_INSERTION))
            log.append(w.entry(k1, _A.RELEASE, c_txt + ": release", ba, _MIN_RELEASED))
        if out == _O.REMOVE:
            log.append(ClipStep(k1, _A.REMOVED, f"  clip {k1} opened and removed; no position within the rules: stop"))
            continue
        if embolized or slda:
            before = f"EROA {v.b_eroa[a]:.2f} cm² (MR {_label(v.b_decision[a])})"
            if embolized:
                log.append(ClipStep(k1, _A.EMBOLIZATION, f"  complication: clip {k1} embolized and retrieved; leak back to {before}: stop"))
                continue
            c = placed[r]
            log.append(ClipStep(k1, _A.SLDA, (
                f"  complication: single-leaflet device attachment of clip {k1} (grasp {c.grasp}, "
                f"risk ×{c.slda_multiplier:.1f}); leak back to {before}"
            )))  # fmt: skip
        if nxt:
            log.append(ClipStep(k1, _A.DECIDE, f"  residual MR {_label(s_dec)} > {_label(ctx.setups[p].rules.target_residual_grade)}: add another clip"))


def access_entries(etiology: str, scallop: str, device_family: str) -> list[ClipStep]:
    """Venous access, the transseptal puncture (height above the annular plane for the target) and
    the steering of the guide into the left atrium."""
    words = _ACCESS_WORDS.get((etiology, scallop, device_family))
    if words is None:
        words = _ACCESS_WORDS[etiology, scallop, device_family] = _access_words(etiology, scallop, device_family)
    return [
        ClipStep(0, _A.ACCESS, words[0], None, None, None, None, None, None, _MIN_ACCESS),
        ClipStep(0, _A.TRANSSEPTAL, words[1], None, None, None, None, None, None, _MIN_TRANSSEPTAL),
        ClipStep(0, _A.STEERING, words[2], None, None, None, None, None, None, _MIN_STEERING),
    ]


def _access_words(etiology: str, scallop: str, device_family: str) -> tuple[str, str, str]:
    sheath = "22 F" if device_family == "PASCAL" else "24 F"
    h = transseptal_height_cm(etiology, scallop)
    return (
        f"Access: right femoral vein, ultrasound-guided; {sheath} steerable guide",
        f"Transseptal puncture: posterior-superior fossa, {h:.1f} cm above the mitral annular plane (target {scallop})",
        "Guide into the left atrium; delivery system advanced and steered down towards the valve",
    )


_ACCESS_WORDS: dict[tuple[str, str, str], tuple[str, str, str]] = {}
""":func:`access_entries`' words by (etiology, scallop, device family): a few combinations, built once each."""


def tamponade_entries(k: int, where: str, refractory: bool) -> list[ClipStep]:
    """A pericardial effusion with tamponade: drained, or refractory (urgent surgery)."""
    if refractory:
        return [ClipStep(k, _A.EVENT, f"complication: pericardial tamponade ({where}), refractory to pericardiocentesis: urgent cardiac surgery, procedure ended", minutes=PHASE_MINUTES["tamponade"])]
    return [ClipStep(k, _A.EVENT, f"complication: pericardial tamponade ({where}); pericardiocentesis, haemodynamics restored; procedure continues", minutes=PHASE_MINUTES["tamponade"])]


def surgery_entry(k: int) -> ClipStep:
    return ClipStep(k, _A.EVENT, f"complication during clip {k}: leaflet injury, urgent cardiac surgery; procedure ended")


def room_death_entry(k: int) -> ClipStep:
    return ClipStep(k, _A.EVENT, f"complication during clip {k}: cardiac arrest, death in the procedure room; procedure ended")


def closing_entries(n_clips: int, effusion: bool, minutes_so_far: float) -> list[ClipStep]:
    """The final septal and pericardial check and the closure; then the procedure time."""
    total = minutes_so_far + _MIN_FINAL + _MIN_CLOSURE
    return [
        ClipStep(n_clips, _A.FINAL_CHECK, _FINAL_CHECK_WORDS[bool(effusion)], None, None, None, None, None, None, _MIN_FINAL),
        ClipStep(n_clips, _A.CLOSURE, f"Guide withdrawn; venous access closed (figure-of-eight suture). Procedure time {total:.0f} min", None, None, None, None, None, None, _MIN_CLOSURE),
    ]


_FINAL_CHECK_WORDS = {
    effusion: "Final check: interatrial septum with a small left-to-right shunt through the puncture (iatrogenic ASD, left alone); "
    + ("pericardial effusion drained, no re-accumulation" if effusion else "no pericardial effusion")
    for effusion in (False, True)
}


def event_entries(n_clips: int, events: list[str]) -> list[ClipStep]:
    """Patient-level complications after the procedure, one entry each."""
    return [ClipStep(n_clips, _A.EVENT, f"complication: {EVENT_LABELS[e]}") for e in events]


def final_entries(stop_reason: str, n_clips: int, before: dict[str, float], after: dict[str, float], b_txt: str, f_txt: str) -> list[ClipStep]:
    """The stop and the result: EROA, MR, mean gradient and MVA before → after."""
    return result_entries(stop_reason, n_clips, before["eroa_cm2"], after["eroa_cm2"], before["mean_gradient_mmhg"], after["mean_gradient_mmhg"], before["mva_cm2"], after["mva_cm2"], b_txt, f_txt)


def result_entries(stop_reason: str, n_clips: int, eroa_before: float, eroa_after: float, gradient_before: float, gradient_after: float,
                   mva_before: float, mva_after: float, b_txt: str, f_txt: str) -> list[ClipStep]:  # fmt: skip
    """:func:`final_entries` from the numbers themselves (cm², mmHg; a batch's lists, no dict per patient)."""
    return [
        ClipStep(n_clips, _A.STOP, f"Stop: {stop_reason}"),
        ClipStep(n_clips, _A.FINAL, (
            f"Result: {n_clips} clip(s), awake; EROA {eroa_before:.2f}→{eroa_after:.2f} cm², MR {b_txt}→{f_txt}, "
            f"mean gradient {gradient_before:.1f}→{gradient_after:.1f} mmHg, "
            f"MVA {mva_before:.2f}→{mva_after:.2f} cm²"
        ), None, None, eroa_after, f_txt, gradient_after, mva_after),
    ]  # fmt: skip
