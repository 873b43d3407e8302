"""The planner: enumerate clip plans, evaluate them in one engine batch, rank them.

Enumeration (:func:`enumerate_plans`)
-------------------------------------
Operators place clips side by side where the leak is, so a plan is a *chain*
of ``n`` clips (``n = 1 … rules.max_clips``) centred at ``c``:

* centres ``c`` on a grid of ``position_step_mm`` (1 mm) over the leak region
  (where the baseline gap exceeds 5% of its peak) widened by 2 mm each side;
* clip ``j`` of the chain at ``c + (j − (n−1)/2)·(W + spacing)`` (same width
  ``W``), or, for two clips of different sizes, edge to edge around ``c``;
* devices: the family of the case's preference (MitraClip NT/XT/NTW/XTW,
  PASCAL/PASCAL Ace, or one named device); one size for the whole chain, and
  every ordered pair of sizes for two clips; spacing 0 (edge to edge) and, for
  two clips, 2 mm (two separate grasps across a wide leak);
* every clip inside the line (``W/2 ≤ s ≤ L − W/2``); duplicates dropped.

A typical case gives 500–1,100 plans.

Evaluation
----------
The clip model (:func:`mitrasim.valve.evaluate_plans`, vectorised) gives each
plan's EROA and MVA; all plans then run as **one engine batch** (per preset),
warm-started from the baseline's steady cycle, and are measured by echo
(:mod:`mitrasim.procedure.hemodynamics`).  The grasp of each clip is assessed
on the baseline valve (:func:`mitrasim.devices.assess_grasp`).

Ranking
-------
Plans within the rules (every grasp feasible, mean gradient
``< rules.max_gradient_mmhg``, MVA ``≥ rules.min_mva_cm2``) come first; then by
residual MR grade (grades at or below the target grade count as equal: the
procedure would stop there), then mean gradient (all gradients below
:data:`GRADIENT_COMFORT_MMHG` = 4.4 mmHg count as equal; above it, 0.5 mmHg
steps), then clip count, then the number of marginal grasps (SLDA risk), then
residual EROA.  So with MR at target and a comfortable gradient the plan with
fewer clips wins, as a heart team would choose (before, 0.5 mmHg *rounded* bins
let a two-clip plan at 2.2 mmHg beat one clip at 2.4 mmHg in the P2 flail).  Each plan carries why it lost to the
best: the rule it breaks, or the first key where it is worse.

Uncertainty
-----------
A case with ``measurements:`` runs on its calibrated patient; the plans every output reports
(the :data:`INTERVAL_TOP` best, the losers, the best of each clip count; or every plan with
``intervals="all"``) and the baseline carry the calibration ensemble's 90 % intervals of LA
pressure, forward output, mean gradient, RVol and SBP: every member × every such plan in one
engine batch (:mod:`mitrasim.procedure.intervals`).  The ranking uses the point estimate.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from mitrasim import citations
from mitrasim.disclaimer import DISCLAIMER
from mitrasim.devices import Device, assess_grasp
from mitrasim.errors import InputError
from mitrasim.procedure import calibration as _cal
from mitrasim.echo.stenosis import evaluate_mvarc
from mitrasim.echo.mvarc import MVARCEndpoints, MVARCEvents, evaluate_endpoints
from mitrasim.procedure.indication import check_indication
from mitrasim.procedure.patient import DEFAULT_ENSEMBLE
from mitrasim.procedure.hemodynamics import BatchHemo, grade_states, label, simulate_states
from mitrasim.procedure.process import PatientSetup, StateSummary, _as_setup, _summary, scallop_label
from mitrasim.protocol import area_ok, compare_text, gradient_ok
from mitrasim.procedure.rules import Rules
from mitrasim.valve.clip import evaluate_plans
from mitrasim.valve.geometry import ValveModel

__all__ = ["PlanOutcome", "PlanResult", "enumerate_plans", "plan_case", "family_devices"]

LEAK_FRACTION = 0.05
LEAK_MARGIN_MM = 2.0
PAIR_SPACINGS_MM = (0.0, 2.0)
INTERVAL_TOP = 10
"""How many of the best plans carry intervals by default (``intervals="reported"``): what the JSON shows."""


@dataclass
class PlanOutcome:
    """One evaluated plan."""

    devices: tuple[str, ...]
    positions_mm: tuple[float, ...]
    scallops: tuple[str, ...]
    grasps: tuple[str, ...]
    eroa_cm2: float
    mva_cm2: float
    mean_gradient_mmhg: float
    mr_grade: str
    decision_grade: int
    rvol_ml: float
    rf_pct: float
    co_l_min: float
    la_mean_mmhg: float
    failure: str | None  # the rule it breaks (None = within the rules)
    rank: int = 0
    why_lost: str | None = None
    intervals: dict[str, Any] | None = None  # 90 % intervals of the calibrated patient (mitrasim.procedure.intervals)

    @property
    def n_clips(self) -> int:
        return len(self.devices)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def describe(self) -> str:
        """"2 × XTW at A2/P2 (16.0, 22.0 mm)"."""
        if len(set(self.devices)) == 1:
            dev = f"{self.n_clips} × {self.devices[0]}"
        else:
            dev = " + ".join(self.devices)
        where = "/".join(dict.fromkeys(self.scallops)) if len(set(self.scallops)) > 1 else self.scallops[0]
        return f"{dev} at {where} ({', '.join(f'{p:.1f}' for p in self.positions_mm)} mm)"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["n_clips"] = self.n_clips
        d["description"] = self.describe()
        return d


@dataclass
class PlanResult:
    """The ranked plans of one case."""

    name: str
    baseline: StateSummary
    plans: list[PlanOutcome]  # ranked, best first
    verdicts: dict[int, str]  # clip count → what the best plan with that many clips gives, or why refused
    rules: Rules
    n_evaluated: int
    seconds_engine: float
    seconds_total: float
    baseline_state: np.ndarray
    citations: list[str] = field(default_factory=list)
    indication_note: str | None = None  # set when planned below the TEER indication under the research flag
    baseline_intervals: dict[str, Any] | None = None  # the baseline with the calibration ensemble's 90 % intervals
    uncertainty: dict[str, Any] = field(default_factory=lambda: {"intervals": None, "why": "not computed"})

    @property
    def best(self) -> PlanOutcome:
        return self.plans[0]

    def top(self, k: int = 5) -> list[PlanOutcome]:
        return self.plans[:k]

    def best_with(self, n_clips: int) -> PlanOutcome | None:
        return next((p for p in self.plans if p.n_clips == n_clips), None)

    def losers(self, k: int = 8) -> list[PlanOutcome]:
        """A few instructive losers: the best plan of each clip count not already on top, and the
        best plan that breaks each rule."""
        seen: set[int] = {id(p) for p in self.plans[:5]}
        out: list[PlanOutcome] = []
        for n in sorted(self.verdicts):
            p = self.best_with(n)
            if p is not None and id(p) not in seen:
                out.append(p)
                seen.add(id(p))
        for key in ("gradient", "MVA", "grasp"):
            p = next((q for q in self.plans if q.failure and q.failure.startswith(key)), None)
            if p is not None and id(p) not in seen:
                out.append(p)
                seen.add(id(p))
        return out[:k]

    def mvarc(self) -> MVARCEndpoints:
        """MVARC endpoints (:mod:`mitrasim.echo.mvarc`) the best plan's predicted echo allows: the echo
        component (MR reduction, iatrogenic stenosis) is decided; the clinical events are not
        predicted by the planner, so technical, device and procedural success can at best be
        "cannot be decided" (and are "not met" when the echo component fails)."""
        b = self.best
        echo = evaluate_mvarc(self.baseline.decision_grade, b.decision_grade, eoa_after_cm2=max(b.mva_cm2, 1e-3), mean_gradient_after_mmhg=max(0.0, b.mean_gradient_mmhg))
        return evaluate_endpoints(echo, MVARCEvents(device_implanted=True if b.ok else None))

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        return {
            "name": self.name,
            "baseline": self.baseline.to_dict(),
            "mvarc_best": self.mvarc().to_dict(),
            "indication_note": self.indication_note,
            "rules": self.rules.model_dump(),
            "n_evaluated": self.n_evaluated,
            "seconds_engine": self.seconds_engine,
            "seconds_total": self.seconds_total,
            "best": self.best.to_dict(),
            "top": [p.to_dict() for p in self.top(top)],
            "losers": [p.to_dict() for p in self.losers()],
            "verdicts": {str(k): v for k, v in self.verdicts.items()},
            "uncertainty": self.uncertainty,
            "baseline_intervals": self.baseline_intervals,
            "citations": list(self.citations),
            "disclaimer": DISCLAIMER,
        }

    def reported(self, top: int) -> list[PlanOutcome]:
        """The plans an output shows: the ``top`` best, the instructive losers, the best of each clip count."""
        out = {id(p): p for p in self.top(top)}
        for p in [*self.losers(), *(self.best_with(n) for n in self.verdicts)]:
            if p is not None:
                out.setdefault(id(p), p)
        return list(out.values())


def family_devices(preference: str, catalogue: Mapping[str, Device]) -> list[Device]:
    """The sizes the planner may use for a device preference."""
    if preference in ("auto", "MitraClip"):
        fam = "MitraClip"
    elif preference == "PASCAL":
        fam = "PASCAL"
    elif preference in catalogue:
        return [catalogue[preference]]
    else:
        raise InputError("procedure.device_preference", preference, f"auto, MitraClip, PASCAL or one of {sorted(catalogue)}")
    return [d for d in catalogue.values() if d.family == fam]


def _centres(valve: ValveModel, step_mm: float) -> np.ndarray:
    g = valve.gap_mm
    if g.max() <= 0:
        return np.arange(step_mm, valve.line_length_mm, step_mm)
    on = valve.s_mm[g > LEAK_FRACTION * g.max()]
    a = max(0.0, float(on.min()) - LEAK_MARGIN_MM)
    b = min(valve.line_length_mm, float(on.max()) + LEAK_MARGIN_MM)
    return np.round(np.arange(np.floor(a), b + 1e-9, step_mm), 3)


def enumerate_plans(valve: ValveModel, devices: Sequence[Device], max_clips: int, position_step_mm: float = 1.0) -> list[tuple[tuple[float, ...], tuple[Device, ...]]]:
    """Candidate plans ``(positions_mm, devices)`` (see the module docstring)."""
    L = valve.line_length_mm
    out: dict[tuple, tuple[tuple[float, ...], tuple[Device, ...]]] = {}

    def add(pos: Sequence[float], devs: Sequence[Device]) -> None:
        if all(d.width_mm / 2 - 1e-9 <= p <= L - d.width_mm / 2 + 1e-9 for p, d in zip(pos, devs)):
            key = tuple(sorted((round(p, 2), d.name) for p, d in zip(pos, devs)))
            out.setdefault(key, (tuple(float(p) for p in pos), tuple(devs)))

    for c in _centres(valve, position_step_mm):
        for n in range(1, max_clips + 1):
            for d in devices:
                spacings = PAIR_SPACINGS_MM if n == 2 else (0.0,)
                for sp in spacings:
                    pitch = d.width_mm + sp
                    add([c + (j - (n - 1) / 2) * pitch for j in range(n)], [d] * n)
            if n == 2:
                for d1 in devices:
                    for d2 in devices:
                        if d1.name != d2.name:
                            half = (d1.width_mm + d2.width_mm) / 2
                            add([c - half / 2, c + half / 2], [d1, d2])
    return list(out.values())


def _failure(grasps: Sequence[Any], grad: float, mva: float, rules: Rules) -> str | None:
    bad = next((g for g in grasps if g.status == "infeasible"), None)
    if bad is not None:
        return "grasp not possible" + (f" ({bad.reasons[0]})" if bad.reasons else "")
    if not np.isfinite(grad):
        return "no steady state"
    if not gradient_ok(grad, rules.max_gradient_mmhg):
        return f"gradient {compare_text(grad, rules.max_gradient_mmhg, '≥', 'mmHg')}"
    if not area_ok(mva, rules.min_mva_cm2):
        return f"MVA {compare_text(mva, rules.min_mva_cm2, '<', 'cm²', 2)}"
    return None


GRADIENT_RESOLUTION_MMHG = 0.5
"""Gradient differences below this count as equal in the ranking (echo reports the mean
gradient to about 0.5 mmHg; model choice)."""


GRADIENT_COMFORT_MMHG = 4.4
"""Below this mean gradient, gradients count as equal in the ranking, so fewer clips win: a
post-procedure gradient > 4.4 mmHg predicted events in primary MR (Neuss et al., clinical.md),
while below it a heart team would not add a clip (procedure time, single-leaflet attachment,
fewer options later) to shave a few tenths of a mmHg.  Model choice anchored on that cut-off."""


def _gbin(x: float) -> float:
    """Ranking class of a mean gradient: 0 below :data:`GRADIENT_COMFORT_MMHG`, else the
    gradient in steps of :data:`GRADIENT_RESOLUTION_MMHG` (floored, so that two gradients in
    one class differ by less than the step)."""
    if not np.isfinite(x):
        return np.inf
    if x < GRADIENT_COMFORT_MMHG:
        return 0.0
    return GRADIENT_COMFORT_MMHG + np.floor((x - GRADIENT_COMFORT_MMHG) / GRADIENT_RESOLUTION_MMHG) * GRADIENT_RESOLUTION_MMHG


def _last_keys(p: PlanOutcome) -> tuple:
    """The ranking's last keys: the residual EROA and the gradient rounded far below what echo
    resolves (so that two plans equal but for floating-point rounding, e.g. mirror positions on a
    symmetric valve, tie exactly), then the positions and devices (a tie is broken the same way
    on every machine and after any rounding-level change to the engine)."""
    return (round(p.eroa_cm2, 3), round(p.mean_gradient_mmhg, 3), p.positions_mm, p.devices)


def _key(p: PlanOutcome, target: int, marginal: int) -> tuple:
    return (0 if p.ok else 1, max(p.decision_grade, target), _gbin(p.mean_gradient_mmhg), p.n_clips, marginal, *_last_keys(p))


def _why_lost(p: PlanOutcome, best: PlanOutcome, target: int) -> str:
    if p.failure:
        return p.failure
    gp, gb = max(p.decision_grade, target), max(best.decision_grade, target)
    if gp != gb:
        return f"residual MR {label(p.decision_grade)} vs {label(best.decision_grade)}"
    if _gbin(p.mean_gradient_mmhg) != _gbin(best.mean_gradient_mmhg):
        return f"gradient {p.mean_gradient_mmhg:.1f} vs {best.mean_gradient_mmhg:.1f} mmHg"
    if p.n_clips != best.n_clips:
        return f"{p.n_clips} clips vs {best.n_clips}"
    if p.grasps.count("marginal") > best.grasps.count("marginal"):
        return "marginal grasp (SLDA risk)"
    if round(p.eroa_cm2, 3) != round(best.eroa_cm2, 3):
        return f"residual EROA {p.eroa_cm2:.3f} vs {best.eroa_cm2:.3f} cm²"
    return "equivalent"


def _plan_arrays(plans: Sequence[tuple[Sequence[float], Sequence[Device]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clip positions, widths, arm lengths and spacers ``(n_plans, max clips)`` (NaN past a plan's
    last clip; spacer 0), the arrays :func:`evaluate_plans` takes."""
    n, m = len(plans), max(len(p[0]) for p in plans)
    pos, wid, arm, spc = np.full((n, m), np.nan), np.full((n, m), np.nan), np.full((n, m), np.nan), np.zeros((n, m))
    for i, (ps, ds) in enumerate(plans):
        pos[i, : len(ps)] = ps
        wid[i, : len(ps)] = [d.width_mm for d in ds]
        arm[i, : len(ps)] = [d.arm_length_mm for d in ds]
        spc[i, : len(ps)] = [d.spacer_mm for d in ds]
    return pos, wid, arm, spc


def _plan_grasps(v: ValveModel, plans: Sequence[tuple[Sequence[float], Sequence[Device]]]) -> list[list[Any]]:
    """Each plan's clips' grasp assessments (:func:`assess_grasp`), computed once per distinct
    position (to 1 µm) and device."""
    cache: dict[tuple[float, str], Any] = {}
    out = []
    for ps, ds in plans:
        gs = []
        for p, d in zip(ps, ds):
            key = (round(p, 3), d.name)
            if key not in cache:
                cache[key] = assess_grasp(v, p, d)
            gs.append(cache[key])
        out.append(gs)
    return out


def _plan_outcome(v: ValveModel, ps: Sequence[float], ds: Sequence[Device], grasps: Sequence[Any], areas: Any, h: BatchHemo, echo: Any, grade: Any, decision: int,
                  i: int, R: Rules) -> PlanOutcome:  # fmt: skip
    """Plan ``i``'s outcome from its simulated state (row ``i`` of ``areas`` and ``h``) and its grade."""
    grad = float(h.metrics["mean_gradient_mmhg"][i])
    mva = float(areas.mva_cm2[i])
    return PlanOutcome(
        devices=tuple(d.name for d in ds), positions_mm=tuple(round(p, 2) for p in ps),
        scallops=tuple(scallop_label(v, p) for p in ps), grasps=tuple(g.status for g in grasps),
        eroa_cm2=float(areas.eroa_cm2[i]), mva_cm2=mva, mean_gradient_mmhg=grad,
        mr_grade=grade.grade if grade.grade_number is not None else f"indeterminate (≈{label(decision)})",
        decision_grade=decision, rvol_ml=float(h.metrics["rvol_ml"][i]), rf_pct=float(echo.rf_pct),
        co_l_min=float(h.metrics["co_l_min"][i]), la_mean_mmhg=float(h.metrics["la_mean_mmhg"][i]),
        failure=_failure(grasps, grad, mva, R),
    )  # fmt: skip


def _rank(outs: list[PlanOutcome], marginal: list[int], target_grade: int) -> list[PlanOutcome]:
    """The outcomes best first (:func:`_key`), each with its rank and why it lost to the best."""
    ranked = [outs[i] for i in sorted(range(len(outs)), key=lambda i: _key(outs[i], target_grade, marginal[i]))]
    for r, out in enumerate(ranked):
        out.rank = r + 1
        out.why_lost = None if r == 0 else _why_lost(out, ranked[0], target_grade)
    return ranked


@citations.stamped
def plan_case(
    case: Any,
    *,
    rules: Rules | None = None,
    position_step_mm: float = 1.0,
    forward_discharge_coeff: float | None = None,
    baseline: tuple[BatchHemo, int] | None = None,
    settings: Any = None,
    research_below_indication: bool = False,
    intervals: Literal["reported", "all", "none"] = "reported",
    interval_top: int = INTERVAL_TOP,
    n_ensemble: int = DEFAULT_ENSEMBLE,
    ensemble_seed: int = 0,
) -> PlanResult:
    """Enumerate, evaluate (one engine batch) and rank the plans of one case.

    Args:
        case: a :class:`mitrasim.case.Case`, a :class:`PatientSetup` or a path.
        rules: replaces the case's rules when given.
        position_step_mm: grid step of the chain centres.
        forward_discharge_coeff: anatomic MVA → engine forward area (default: calibrated).
        baseline: a precomputed baseline ``(BatchHemo, index)`` to warm-start from.
        intervals: which plans carry the 90 % intervals of the case's calibration ensemble
            (:mod:`mitrasim.procedure.intervals`; only a case with ``measurements:``):
            ``"reported"`` the ``interval_top`` best, the losers and the best of each clip count
            (what every output shows), ``"all"`` every enumerated plan, ``"none"``.
        n_ensemble, ensemble_seed: the calibration ensemble's size and seed.

    Returns:
        :class:`PlanResult` (``.plans`` ranked best first, ``.verdicts`` per clip count); its
        ``citations`` are the sources this call cited (:func:`mitrasim.citations.collect`), no others.
    """
    t0 = time.perf_counter()
    if isinstance(case, str) or hasattr(case, "__fspath__"):
        from mitrasim.case import load_case

        case = load_case(case)
    if intervals not in ("reported", "all", "none"):
        raise InputError("intervals", intervals, "reported, all or none")
    s: PatientSetup = _as_setup(case, rules)
    R = s.rules
    if not 0.25 <= position_step_mm <= 5:
        raise InputError("position_step_mm", position_step_mm, "[0.25, 5] mm")
    cd = _cal.FORWARD_DISCHARGE_COEFF if forward_discharge_coeff is None else float(forward_discharge_coeff)
    v = s.valve
    citations.cite("clinical_reference_stop_rules", "maisano1999", "neuss2019_gradient")
    if baseline is None:
        h0 = simulate_states([s.preset], [dict(s.overrides)], np.array([s.hr_bpm]), np.array([v.eroa_cm2]), np.array([v.mva_cm2]), cd, settings=settings)
        j0 = 0
    else:
        h0, j0 = baseline
    e0, g0, d0 = grade_states(h0.take([j0]), [s.etiology])
    base = _summary(h0.take([j0]), 0, e0[0], g0[0], int(d0[0]))
    indication = check_indication(s.name, int(d0[0]), research_below_indication)  # refuses below 3+ without the flag

    devices = family_devices(R.device_preference, s.catalogue)
    plans = enumerate_plans(v, devices, R.max_clips, position_step_mm)
    n = len(plans)
    pos, wid, arm, spc = _plan_arrays(plans)
    grasps = _plan_grasps(v, plans)
    areas = evaluate_plans(v, pos, wid, arm, spacers_mm=spc)
    t1 = time.perf_counter()
    h = simulate_states(
        [s.preset] * n, [dict(s.overrides)] * n, np.full(n, s.hr_bpm), areas.eroa_cm2, areas.mva_cm2, cd,
        initial_state=np.broadcast_to(h0.final_state[j0], (n, 14)).copy(), settings=settings,
    )  # fmt: skip
    t2 = time.perf_counter()
    ech, grd, dec = grade_states(h, [s.etiology] * n)
    outs = [_plan_outcome(v, ps, ds, grasps[i], areas, h, ech[i], grd[i], int(dec[i]), i, R) for i, (ps, ds) in enumerate(plans)]
    ranked = _rank(outs, [sum(g.status == "marginal" for g in gs) for gs in grasps], R.target_residual_grade)
    verdicts = _verdicts(ranked, R, base)
    res = PlanResult(
        name=s.name, baseline=base, plans=ranked, verdicts=verdicts, rules=R, n_evaluated=n,
        seconds_engine=t2 - t1, seconds_total=0.0,
        baseline_state=h0.final_state[j0].copy(), citations=[], indication_note=indication,
    )  # fmt: skip
    if intervals != "none":
        chosen = ranked if intervals == "all" else res.reported(interval_top)
        res.uncertainty = _attach_intervals(res, case, chosen, h0.take([j0]), h, {id(o): i for i, o in enumerate(outs)}, cd, settings, n_ensemble, ensemble_seed)
    else:
        res.uncertainty = {"intervals": None, "why": "not asked for (intervals='none')"}
    res.seconds_total = time.perf_counter() - t0
    return res


def _attach_intervals(res: PlanResult, case: Any, chosen: list[PlanOutcome], h0: BatchHemo, h: BatchHemo, index: dict[int, int],
                      cd: float, settings: Any, n_ensemble: int, seed: int) -> dict[str, Any]:  # fmt: skip
    """Give the baseline and the ``chosen`` plans the calibration ensemble's 90 % intervals: every
    member at every one of these valve states in one engine batch (:func:`state_intervals`),
    warm-started from the point estimate's steady state of each.  Returns the plan's ``uncertainty``."""
    from mitrasim.procedure.intervals import PLAN_QUANTITIES, case_ensemble, state_intervals

    ens = case_ensemble(case, n_ensemble, seed) if n_ensemble > 0 else None
    if ens is None:
        why = "the case has no measurements: no calibration, no ensemble" if getattr(case, "measurements", None) is None else "n_ensemble = 0"
        return {"intervals": None, "why": why}
    rows = [index[id(p)] for p in chosen]
    eroa = np.concatenate([h0.eroa_cm2, h.eroa_cm2[rows]])
    fwd = np.concatenate([h0.forward_area_cm2, h.forward_area_cm2[rows]])
    init = np.vstack([h0.final_state, h.final_state[rows]])
    values = [{q: float(m[q][i]) for q in PLAN_QUANTITIES} for m, i in [(h0.metrics, 0), *((h.metrics, r) for r in rows)]]
    t = time.perf_counter()
    out = state_intervals(ens, eroa, fwd, values, initial_state=init, settings=settings)
    res.baseline_intervals = out[0]
    for p, row in zip(chosen, out[1:]):
        p.intervals = row
    return {"intervals": "reported plans" if len(chosen) < len(res.plans) else "every plan", "plans_with_intervals": len(chosen),
            "seconds_engine": time.perf_counter() - t, **ens.describe()}  # fmt: skip


def _extends(p: PlanOutcome, base: PlanOutcome) -> bool:
    """Does plan ``p`` hold every clip of ``base`` (same device, same position)?"""
    have = list(zip(p.devices, p.positions_mm))
    return all(any(d == d2 and abs(x - x2) < 0.05 for d2, x2 in have) for d, x in zip(base.devices, base.positions_mm))


def _verdicts(ranked: list[PlanOutcome], R: Rules, base: StateSummary) -> dict[int, str]:
    """Per clip count: what the best plan with that many clips gives, or why it is refused.

    Up to the best plan's count: the best plan of that count within the rules.  Beyond it,
    the question a heart team asks — can another clip be *added* to the best plan? — so
    only plans that hold the best plan's clips count: "refused" when every one of them
    breaks a rule (the rules it breaks are listed).
    """
    out: dict[int, str] = {}
    best = ranked[0]
    words = {1: "one clip", 2: "a second clip", 3: "a third clip", 4: "a fourth clip"}
    for n in range(1, R.max_clips + 1):
        word = words.get(n, f"{n} clips")
        if best.ok and n > best.n_clips:
            cands = [p for p in ranked if p.n_clips == n and _extends(p, best)]
            scope = f"every {n}-clip plan that adds to the best"
        if not (best.ok and n > best.n_clips) or not cands:
            cands = [p for p in ranked if p.n_clips == n]
            scope = f"every {n}-clip plan"
        if not cands:
            continue
        ok = sorted((p for p in cands if p.ok), key=lambda p: (p.decision_grade, *_last_keys(p)))
        if not ok:
            p = cands[0]
            reasons = sorted({(q.failure or "").split(" ")[0] for q in cands} - {""})
            out[n] = f"{word}: refused — {scope} breaks a rule ({', '.join(reasons)}); the best, {p.describe()}, gives {p.failure}"
            continue
        p = best if (best.n_clips == n and best.ok) else ok[0]
        txt = f"{word}: {p.describe()} → MR {p.mr_grade}, gradient {p.mean_gradient_mmhg:.1f} mmHg, MVA {p.mva_cm2:.2f} cm²"
        if n > best.n_clips and best.ok and max(best.decision_grade, R.target_residual_grade) <= R.target_residual_grade:
            txt += f" (not needed: MR {best.mr_grade} with {best.n_clips})"
        out[n] = txt
    _ = base
    return out
