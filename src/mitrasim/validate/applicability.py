"""Applicability: how far each comparator's population and time point are from the question's.

Populations are compared on their sampled patients (:func:`mitrasim.cohort.population.sample_population`,
:data:`SAMPLE_N` each, fixed seed, no engine): for each continuous variable the standardized mean
difference ``d = (m_c − m_q) / √((s_c² + s_q²)/2)``; for each level of a categorical variable the
standardized difference of proportions ``(p_c − p_q) / √((p_c(1−p_c) + p_q(1−p_q))/2)`` (Austin 2009).
A variable is marked when ``|d| >`` :data:`SMD_MARK` (Austin's usual mark of a meaningful imbalance);
both are drawn from the same seed (common random numbers: a population against itself is at distance 0;
with :data:`SAMPLE_N` patients a side the sampling SE of ``d`` is at most about ``√(2/SAMPLE_N)``, 0.02), so the
mark is well above the noise.  Variables that only apply to one etiology (:data:`ETIOLOGY_ONLY`) are
compared among the patients of that etiology, and skipped when either population has none.

Time points: the model's residual MR and gradient are the values at the end of the procedure (no
remodelling, no durability); an endpoint published at another time point (:data:`ACUTE_TIME_POINTS`
lists the ones taken as the same) is marked, since comparing them assumes the acute result persists.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mitrasim import citations
from mitrasim.cohort.population import (
    REQUIRED_CATEGORICAL,
    REQUIRED_CONTINUOUS,
    Population,
    sample_population,
)
from mitrasim.validate import sources as _sources  # noqa: F401
from mitrasim.validate.schema import Comparator

__all__ = ["ACUTE_TIME_POINTS", "SAMPLE_N", "SMD_MARK", "applicability", "population_distance", "time_point_flags"]

SAMPLE_N = 5000
#: Variables meaningful for one etiology only (cohort/population.py: sample_population).
ETIOLOGY_ONLY = {"primary_lesion": "primary", "tenting_depth_mm": "secondary"}
SMD_MARK = 0.1
ACUTE_TIME_POINTS = ("procedure", "end of procedure", "intraprocedural", "intra-procedural", "acute", "post-procedure", "discharge", "in-hospital")


def _smd(a: np.ndarray, b: np.ndarray) -> float:
    pooled = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    return float((a.mean() - b.mean()) / pooled) if pooled > 0 else 0.0


def _smd_prop(p: float, q: float) -> float:
    pooled = np.sqrt((p * (1 - p) + q * (1 - q)) / 2)
    return float((p - q) / pooled) if pooled > 0 else 0.0


def population_distance(comparator: Population, question: Population, seed: int = 0) -> list[dict[str, Any]]:
    """Per-variable standardized differences, comparator minus question (module docstring)."""
    citations.cite("austin2009_smd")
    c = sample_population(comparator, SAMPLE_N, np.random.SeedSequence(seed))
    q = sample_population(question, SAMPLE_N, np.random.SeedSequence(seed))  # common random numbers: a population against itself is at distance 0
    etio_c = np.asarray(c.column("etiology").to_pylist(), dtype=object)
    etio_q = np.asarray(q.column("etiology").to_pylist(), dtype=object)

    def subset(name: str) -> tuple[np.ndarray, np.ndarray] | None:
        if name not in ETIOLOGY_ONLY:
            return np.ones(etio_c.size, bool), np.ones(etio_q.size, bool)
        mc, mq = etio_c == ETIOLOGY_ONLY[name], etio_q == ETIOLOGY_ONLY[name]
        return (mc, mq) if mc.sum() > 1 and mq.sum() > 1 else None

    rows = []
    for name in REQUIRED_CONTINUOUS:
        m = subset(name)
        if m is None:
            continue
        a, b = c.column(name).to_numpy()[m[0]], q.column(name).to_numpy()[m[1]]
        d = _smd(a, b)
        rows.append({"variable": name, "comparator": float(a.mean()), "question": float(b.mean()), "smd": d, "marked": abs(d) > SMD_MARK})
    for name, levels in REQUIRED_CATEGORICAL.items():
        m = subset(name)
        if m is None:
            continue
        a = np.asarray(c.column(name).to_pylist(), dtype=object)[m[0]]
        b = np.asarray(q.column(name).to_pylist(), dtype=object)[m[1]]
        for lv in levels:
            p, r = float(np.mean(a == lv)), float(np.mean(b == lv))
            d = _smd_prop(p, r)
            rows.append({"variable": f"{name}={lv}", "comparator": p, "question": r, "smd": d, "marked": abs(d) > SMD_MARK})
    return rows


def time_point_flags(comp: Comparator) -> list[dict[str, str]]:
    """Endpoints published at a time point the model does not simulate."""
    return [
        {"endpoint": e.name, "time_point": e.time_point}
        for e in comp.endpoints
        if e.time_point.strip().lower() not in ACUTE_TIME_POINTS
    ]


def applicability(comparators: list[Comparator], question: Population, seed: int = 0) -> list[dict[str, Any]]:
    """Per comparator: the population distance rows, the largest |d|, and the time-point flags."""
    out = []
    for comp in comparators:
        rows = population_distance(comp.population, question, seed)
        out.append({
            "comparator": comp.name,
            "population": comp.population.name,
            "question_population": question.name,
            "max_abs_smd": max(abs(r["smd"]) for r in rows),
            "marked": [r["variable"] for r in rows if r["marked"]],
            "rows": rows,
            "time_point_flags": time_point_flags(comp),
        })  # fmt: skip
    return out
