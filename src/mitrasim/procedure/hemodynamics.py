"""Batched hemodynamics and echo for the procedure and the planner.

One call evaluates many *states* (a patient with a given set of clips) at
once: the valve model gives each state an EROA (vena-contracta area, used by
the engine as it is) and an anatomic MVA; the engine needs the *effective*
forward area

    A_fwd = C_d,fwd · MVA_anatomic                (Bernoulli, no further coefficient)

with ``C_d,fwd`` calibrated in :mod:`mitrasim.procedure.calibration`.  States
are grouped by engine preset (one engine batch per preset: a loop over at most
a few presets, never over patients) and warm-started from a previous steady
cycle when one is given.

Echo from the steady beat
-------------------------
Every state is measured by the one echo path, :mod:`mitrasim.echo.simulated` (from the
engine's beat metrics; the web and the synthetic echo of waveforms agree with it).  The
grade is :func:`mitrasim.echo.grade_mr` (ASE 2017).  When it is indeterminate (discordant
parameters), the *decision grade* used by the stop rules is the guideline grade's named
most-likely grade (:data:`mitrasim.echo.grading.MOST_LIKELY_RULE`), never silently the worst.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from mitrasim.echo.grading import MRGrade, MRInputs, grade_label, grade_mr
from mitrasim.echo.grading import decision_grade as _decision_grade
from mitrasim.echo.simulated import ALIASING_CM_S, SECONDARY_VC_ASPECT, echo_from_beats, echo_row, grade_beats
from mitrasim.echo.synthetic import EchoMeasurements
from mitrasim.physiology.simulation import override_columns  # re-exported: the procedure's override tables
from mitrasim.physiology.simulation import require_float64

__all__ = [
    "ALIASING_CM_S",
    "SECONDARY_VC_ASPECT",
    "BatchHemo",
    "Overrides",
    "override_columns",
    "take_overrides",
    "simulate_states",
    "echo_from_metrics",
    "echo_arrays",
    "grade_arrays",
    "steady_ok",
    "decision_grade",
]



@dataclass
class BatchHemo:
    """Steady-state hemodynamics of ``n`` states; every array has a leading axis ``n``."""

    eroa_cm2: np.ndarray
    mva_cm2: np.ndarray  # anatomic (planimetric), all orifices
    forward_area_cm2: np.ndarray  # effective, given to the engine
    metrics: dict[str, np.ndarray]
    final_state: np.ndarray  # (n, 14)
    waveforms: dict[str, np.ndarray] | None = None

    @property
    def n(self) -> int:
        return int(self.eroa_cm2.shape[0])

    def take(self, idx: np.ndarray | Sequence[int]) -> "BatchHemo":
        """The states ``idx`` (a new :class:`BatchHemo`)."""
        idx = np.asarray(idx, dtype=int)
        return BatchHemo(
            eroa_cm2=self.eroa_cm2[idx],
            mva_cm2=self.mva_cm2[idx],
            forward_area_cm2=self.forward_area_cm2[idx],
            metrics={k: v[idx] for k, v in self.metrics.items()},
            final_state=self.final_state.take(idx, axis=0),  # (rows by take: 5x faster than [idx])
            waveforms=None if self.waveforms is None else {k: v[idx] for k, v in self.waveforms.items()},
        )

    @staticmethod
    def concat(parts: Sequence["BatchHemo"]) -> "BatchHemo":
        """The states of ``parts`` in order (waveforms dropped)."""
        return BatchHemo(
            eroa_cm2=np.concatenate([p.eroa_cm2 for p in parts]), mva_cm2=np.concatenate([p.mva_cm2 for p in parts]),
            forward_area_cm2=np.concatenate([p.forward_area_cm2 for p in parts]),
            metrics={k: np.concatenate([p.metrics[k] for p in parts]) for k in parts[0].metrics},
            final_state=np.concatenate([p.final_state for p in parts]),
        )  # fmt: skip

    def patient_waveforms(self, i: int) -> dict[str, np.ndarray]:
        if self.waveforms is None:
            raise ValueError("simulated without waveforms")
        return {k: v[i] for k, v in self.waveforms.items()}


Overrides = Sequence[Mapping[str, float]] | Mapping[str, np.ndarray]
"""Engine overrides of ``n`` states: one dict each, or columns (parameter name → (n,) array,
:func:`override_columns`; :func:`mitrasim.physiology.simulation.simulate`'s override columns)."""


def take_overrides(overrides: Overrides, idx: np.ndarray) -> Overrides:
    """The overrides of states ``idx`` (columns stay columns)."""
    if isinstance(overrides, Mapping):
        return {k: v[idx] for k, v in overrides.items()}
    return [overrides[int(i)] for i in idx]


def simulate_states(
    presets: Sequence[str],
    overrides: Overrides,
    hr_bpm: np.ndarray,
    eroa_cm2: np.ndarray,
    mva_cm2: np.ndarray,
    forward_discharge_coeff: float,
    *,
    initial_state: np.ndarray | None = None,
    waveforms: bool = False,
    settings: Any = None,
    order_key: np.ndarray | None = None,
) -> BatchHemo:
    """Run ``n`` states to a periodic steady state, one engine batch per preset.

    ``order_key`` (n,): a predictor of the beats each state needs; the states are run in
    its order (then put back).  The engine's lane blocks run as long as their slowest
    state, so grouping similar states shortens them; each state's result does not depend
    on its block mates, so the results are identical with or without a key.

    ``presets``: per state (length n); ``overrides``: one dict per state or columns (:data:`Overrides`);
    ``hr_bpm``, ``eroa_cm2``, ``mva_cm2`` (anatomic): arrays (n,); ``initial_state``: (n, 14) warm
    starts or None.  The engine receives ``eroa_cm2`` and ``forward_discharge_coeff · mva_cm2``.
    """
    require_float64(settings, "the procedure and the planner")
    from mitrasim.physiology.engine import METRIC_NAMES
    from mitrasim.physiology.simulation import simulate_presets

    n = len(presets)
    if order_key is not None and n > 1 and not waveforms:
        o = np.argsort(np.asarray(order_key, dtype=float), kind="stable")
        h = simulate_states(
            [presets[i] for i in o], take_overrides(overrides, o), np.broadcast_to(np.asarray(hr_bpm, dtype=float), (n,))[o],
            np.asarray(eroa_cm2, dtype=float).reshape(n)[o], np.asarray(mva_cm2, dtype=float).reshape(n)[o], forward_discharge_coeff,
            initial_state=None if initial_state is None else np.asarray(initial_state).take(o, axis=0), settings=settings,
        )  # fmt: skip
        inv = np.empty(n, dtype=np.intp)
        inv[o] = np.arange(n)
        return BatchHemo(h.eroa_cm2[inv], h.mva_cm2[inv], h.forward_area_cm2[inv], {k: v[inv] for k, v in h.metrics.items()}, h.final_state.take(inv, axis=0), None)
    eroa = np.asarray(eroa_cm2, dtype=float).reshape(n)
    mva = np.asarray(mva_cm2, dtype=float).reshape(n)
    hr = np.broadcast_to(np.asarray(hr_bpm, dtype=float), (n,))
    fwd = forward_discharge_coeff * mva
    metrics = {k: np.full(n, np.nan) for k in METRIC_NAMES}
    final = np.full((n, 14), np.nan)
    waves: dict[str, np.ndarray] | None = None
    # one engine batch for the presets that can share one (else one per preset), and, where a warm
    # start is missing or not finite, a cold one
    names, which = _preset_codes(presets)
    batches = _batches(names, which, initial_state)
    if len(batches) == 1 and not waveforms:  # every state in one batch, in order: its result is the states' (no copies in, no scatter out)
        ov_all = overrides if any(overrides) else None
        init_all = None if not batches[0][1] or initial_state is None else np.asarray(initial_state)
        res = simulate_presets(names, ov_all, eroa_cm2=eroa, mva_cm2=fwd, hr_bpm=hr, initial_state=init_all, settings=settings, which=which)
        return BatchHemo(eroa, mva, fwd, {k: res.metrics[k] for k in METRIC_NAMES}, np.ascontiguousarray(res.final_state), None)
    for idx, hot in batches:
        ov = take_overrides(overrides, idx)
        ov_arg = ov if any(ov) else None  # no names, or only empty dicts: none
        init = np.asarray(initial_state).take(idx, axis=0) if hot and initial_state is not None else None
        res = simulate_presets(
            names, ov_arg, eroa_cm2=eroa[idx], mva_cm2=fwd[idx], hr_bpm=hr[idx],
            waveforms=waveforms, initial_state=init, settings=settings, which=which[idx],
        )  # fmt: skip
        for k in METRIC_NAMES:
            metrics[k][idx] = res.metrics[k]
        final[idx] = res.final_state
        if waveforms and res.waveforms is not None:
            if waves is None:
                waves = {}
            for k, v in res.waveforms.items():
                if k not in waves or waves[k].shape[1] < v.shape[1]:
                    old = waves.get(k)
                    new = np.full((n, v.shape[1]), np.nan)
                    if old is not None:
                        new[:, : old.shape[1]] = old
                    waves[k] = new
                waves[k][idx, : v.shape[1]] = v
    return BatchHemo(eroa, mva, fwd, metrics, final, waves)


def _preset_codes(presets: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The distinct presets in order of first use and each state's index among them."""
    names = list(dict.fromkeys(presets))
    code = {p: k for k, p in enumerate(names)}
    return names, np.fromiter(map(code.__getitem__, presets), dtype=np.intp, count=len(presets))


def _batches(names: list[str], which: np.ndarray, initial_state: np.ndarray | None) -> list[tuple[np.ndarray, bool]]:
    """The engine batches of :func:`simulate_states`: ``(states, warm)`` per warm (finite start) or
    cold and, unless the presets ``names`` share one batch
    (:func:`~mitrasim.physiology.simulation.presets_mergeable`), per preset (``which``: each state's
    index in ``names``), in the order of their first state."""
    from mitrasim.physiology.simulation import presets_mergeable

    hot = np.zeros(len(which), bool) if initial_state is None else np.isfinite(initial_state).all(axis=1)
    key = hot.astype(np.intp) if len(names) == 1 or presets_mergeable(names) else 2 * which + hot
    codes, first = np.unique(key, return_index=True)
    return [(np.flatnonzero(key == c), bool(c % 2)) for c in codes[np.argsort(first)]]


def echo_arrays(hemo: BatchHemo, secondary: np.ndarray) -> dict[str, np.ndarray]:
    """Noise-free echo measurements of every state: the one echo path,
    :func:`mitrasim.echo.simulated.echo_from_beats`, on the states' beat metrics."""
    return echo_from_beats(hemo.metrics, hemo.eroa_cm2, hemo.forward_area_cm2, secondary)


def steady_ok(hemo: BatchHemo) -> np.ndarray:
    """(n,) bool: the engine reached a physiological steady beat (finite forward flow and
    pressures, 0 < ESV ≤ EDV); a state that blew up is not measured or released."""
    m = hemo.metrics
    finite = np.isfinite(m["forward_sv_ml"]) & np.isfinite(m["map_mmhg"]) & np.isfinite(m["mean_gradient_mmhg"])
    return finite & (m["esv_ml"] > 0.0) & (m["esv_ml"] <= m["edv_ml"]) & (m["edv_ml"] < 1e4)


def echo_from_metrics(hemo: BatchHemo, i: int, etiology: str = "primary", arrays: dict[str, np.ndarray] | None = None) -> EchoMeasurements:
    """Noise-free echo measurements of state ``i`` (one row of :func:`echo_arrays`)."""
    a = arrays if arrays is not None else echo_arrays(hemo.take([i]), np.array([etiology == "secondary"]))
    return echo_row(a, i if arrays is not None else 0)


def grade_arrays(echo: dict[str, np.ndarray], secondary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Guideline grade (−1 indeterminate) and decision grade of every state (:func:`mitrasim.echo.simulated.grade_beats`)."""
    return grade_beats(echo, secondary)


def decision_grade(g: MRGrade) -> int:
    """The grade the stop rules use: :func:`mitrasim.echo.grading.decision_grade` (the guideline
    grade, or when indeterminate the named most-likely grade)."""
    return _decision_grade(g)


def grade_states(hemo: BatchHemo, etiologies: Sequence[str]) -> tuple[list[EchoMeasurements], list[MRGrade], np.ndarray]:
    """Echo, guideline grade and decision grade (array) of every state."""
    echoes, grades, dec = [], [], np.zeros(hemo.n, dtype=int)
    arr = echo_arrays(hemo, np.array([e == "secondary" for e in etiologies], dtype=bool))
    for i in range(hemo.n):
        e = echo_from_metrics(hemo, i, etiologies[i], arrays=arr)
        g = grade_mr(_inputs(e), etiology=etiologies[i])
        echoes.append(e)
        grades.append(g)
        dec[i] = decision_grade(g)
    return echoes, grades, dec


def _inputs(e: EchoMeasurements) -> MRInputs:
    return e.mr_inputs()


def label(n: int) -> str:
    """``1`` → ``"1+"``."""
    return grade_label(int(n))
