"""1-year outcomes model: mortality and heart-failure hospitalisation from the residual MR grade,
from a sourced table for each population type.

Model (every number from ``shared/reference/clinical.md`` unless marked, sources registered):

* **1-year mortality** by residual MR grade group, one table per population type
  (:data:`TABLES`); a patient with secondary MR reads ``coapt``, one with primary MR the
  population's primary table (``primary_table``: ``auto`` = ``everest2`` when the population
  cites EVEREST II, else ``tvt``):

  - ``tvt`` (STS/ACC TVT registry, Sorajja 2017; mostly degenerative MR at prohibitive surgical
    risk): :data:`TVT_MORTALITY_1Y` by group (overall :data:`TVT_MORTALITY_1Y_OVERALL`);
  - ``everest2`` (EVEREST II, device arm, primary MR at operable risk): the 1-year mortality
    :data:`EVEREST2_MORTALITY_1Y` [check] shared out over the groups with TVT's ratios to its
    overall rate (no by-MR table of EVEREST II was read: model assumption);
  - ``coapt`` (COAPT device arm, secondary MR): the 1-year mortality :data:`COAPT_MORTALITY_1Y`
    [check] for the 0/1+ group scaled by TVT's 0/1+-to-overall ratio, the other groups by
    COAPT's death-or-HFH (30 days–2 years) by 30-day MR (:data:`COAPT_DEATH_OR_HFH_BY_MR`), as
    relative risks to its 0/1+ group (the composite's ratios used for death alone: model assumption).

  These include in-hospital deaths, so for a patient who survives the procedure the probability
  is ``(p_g − p_ih) / (1 − p_ih)`` with ``p_ih`` the registry-average in-hospital death rate of the
  procedure model; a patient who dies in hospital has died at 1 year.  A patient with no clip
  keeps the baseline grade.
* **1-year HF hospitalisation**: TVT overall (:data:`TVT_HFH_1Y_OVERALL`), shared out by residual MR
  with the relative risks of COAPT's death-or-HFH by 30-day MR; the 0/1+ level is the overall
  rate times TVT's 0/1+-to-overall mortality ratio (TVT's mortality ratio of the 0/1+ group to the whole
  registry, applied to HFH: a model assumption).  An optional ``secondary_hfh_multiplier``
  (default 1) scales secondary-MR patients.  MITRA-FR (no benefit at 12/24
  months, composite HR 1.01) is not used numerically.
* **Sampling**: each patient's event is ``u < p`` with uniforms drawn from the outcome stream of
  the patient's block (:mod:`mitrasim.cohort.trial`), the same for every arm (common random
  numbers, paired).
* **Uncertainty** (:func:`expected_rate_interval`): the model's rates are drawn
  from Beta distributions ``Beta(r·n_eff + 1, (1 − r)·n_eff + 1)``; the report
  gives the model-expected rate per arm with the 2.5–97.5 percentiles over
  draws, next to the sampled event rate with its Wilson 95% CI.  ``n_eff`` per
  group is an *assumed* effective sample size (TVT's per-group sizes were not
  verified; the defaults split the 2,952 patients 65/25/10%) — configurable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from mitrasim import citations
from mitrasim.cohort import sources as _sources  # noqa: F401
from mitrasim.procedure.risks import DEFAULT_RATES

__all__ = ["OutcomeModel", "GROUPS", "TABLES", "group_of_grade", "outcome_probabilities", "apply_outcomes", "outcome_uniforms", "expected_rate_interval"]

GROUPS = ("0/1+", "2+", "3+/4+")

TVT_MORTALITY_1Y = {"0/1+": 0.217, "2+": 0.292, "3+/4+": 0.489}
TVT_MORTALITY_1Y_OVERALL = 0.258
TVT_HFH_1Y_OVERALL = 0.202
COAPT_DEATH_OR_HFH_BY_MR = {"0/1+": 0.377, "2+": 0.495, "3+/4+": 0.722}

EVEREST2_MORTALITY_1Y = 0.061
"""EVEREST II device arm, death at 12 months [check: recalled, not read here]."""

COAPT_MORTALITY_1Y = 0.191
"""COAPT device arm, all-cause death at 12 months [check: recalled, not read here]."""

_TVT_RATIO = {g: TVT_MORTALITY_1Y[g] / TVT_MORTALITY_1Y_OVERALL for g in GROUPS}

TABLES: dict[str, dict[str, float]] = {
    "tvt": dict(TVT_MORTALITY_1Y),
    "everest2": {g: EVEREST2_MORTALITY_1Y * _TVT_RATIO[g] for g in GROUPS},
    "coapt": {g: COAPT_MORTALITY_1Y * _TVT_RATIO["0/1+"] * COAPT_DEATH_OR_HFH_BY_MR[g] / COAPT_DEATH_OR_HFH_BY_MR["0/1+"] for g in GROUPS},
}
"""1-year mortality by residual MR group for each population type (module docstring)."""

TABLE_SOURCES = {"tvt": ("sorajja2017_tvt",), "everest2": ("feldman2011_everest2", "sorajja2017_tvt"), "coapt": ("stone2018_coapt", "sorajja2017_tvt")}


class OutcomeModel(BaseModel):
    """Parameters of the outcomes model (defaults from the published tables; see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mortality_1y: dict[str, float] = Field(default_factory=lambda: dict(TVT_MORTALITY_1Y), description="the tvt table (primary MR)")
    tables: dict[str, dict[str, float]] = Field(default_factory=lambda: {k: dict(v) for k, v in TABLES.items() if k != "tvt"}, description="everest2 and coapt tables")
    primary_table: Literal["auto", "tvt", "everest2"] = "auto"
    hfh_1y: dict[str, float] = Field(
        default_factory=lambda: {
            g: TVT_HFH_1Y_OVERALL * TVT_MORTALITY_1Y["0/1+"] / TVT_MORTALITY_1Y_OVERALL * COAPT_DEATH_OR_HFH_BY_MR[g] / COAPT_DEATH_OR_HFH_BY_MR["0/1+"]
            for g in GROUPS
        }
    )
    n_eff: dict[str, float] = Field(default_factory=lambda: {"0/1+": 1919.0, "2+": 738.0, "3+/4+": 295.0})
    secondary_hfh_multiplier: float = Field(1.0, gt=0, le=5)
    inhospital_death: float = Field(DEFAULT_RATES.in_hospital_death, ge=0, lt=1)

    def table(self, name: str) -> dict[str, float]:
        return self.mortality_1y if name == "tvt" else self.tables[name]

    def primary(self, population_sources: Sequence[str] = ()) -> str:
        """The primary-MR table: ``primary_table``, or for ``auto`` everest2 when the population cites EVEREST II."""
        if self.primary_table != "auto":
            return self.primary_table
        return "everest2" if "feldman2011_everest2" in population_sources else "tvt"

    def tables_of(self, secondary: np.ndarray, population_sources: Sequence[str] = ()) -> np.ndarray:
        """The table name of each patient: coapt for secondary MR, the primary table otherwise."""
        return np.where(np.asarray(secondary, bool), "coapt", self.primary(population_sources))


def group_of_grade(grade: np.ndarray) -> np.ndarray:
    """Outcome group index: 0 for 0/1+, 1 for 2+, 2 for 3+/4+."""
    g = np.asarray(grade)
    return np.where(g <= 1, 0, np.where(g == 2, 1, 2)).astype(np.int8)


def _mortality(model: OutcomeModel, tables: np.ndarray, grp: np.ndarray) -> np.ndarray:
    out = np.empty(grp.size)
    for name in np.unique(tables):
        sel = tables == name
        citations.cite(*TABLE_SOURCES[str(name)])
        out[sel] = np.array([model.table(str(name))[g] for g in GROUPS])[grp[sel]]
    return out


def outcome_probabilities(
    grade_after: np.ndarray, died_inhospital: np.ndarray, secondary: np.ndarray, model: OutcomeModel, population_sources: Sequence[str] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Per-patient 1-year probabilities of death (the patient's population table) and of HF hospitalisation."""
    citations.cite("sorajja2017_tvt", "stone2018_coapt")
    grp = group_of_grade(grade_after)
    mort = _mortality(model, model.tables_of(secondary, population_sources), grp)
    p_ih = model.inhospital_death
    p_death = np.where(died_inhospital, 1.0, np.clip((mort - p_ih) / (1 - p_ih), 0.0, 1.0))
    hfh = np.array([model.hfh_1y[g] for g in GROUPS])[grp] * np.where(secondary, model.secondary_hfh_multiplier, 1.0)
    p_hfh = np.where(died_inhospital, 0.0, np.clip(hfh, 0.0, 1.0))
    return p_death, p_hfh


def outcome_uniforms(seed: int | np.random.SeedSequence, n: int) -> np.ndarray:
    """``(n, 2)`` uniforms (death, HF hospitalisation) of ``n`` patients from one outcome stream."""
    return np.random.default_rng(seed).random((n, 2))


def apply_outcomes(table: pa.Table, etiology: np.ndarray, model: OutcomeModel, seed: int | np.random.SeedSequence | np.ndarray,
                   population_sources: Sequence[str] = ()) -> pa.Table:  # fmt: skip
    """Add ``outcome_group``, ``outcome_table``, ``p_death_1y``, ``p_hfh_1y``, ``death_1y``, ``hfh_1y`` to a procedure table
    (``seed``: the outcome stream, or its ``(n, 2)`` uniforms, :func:`outcome_uniforms`)."""
    u = seed if isinstance(seed, np.ndarray) else outcome_uniforms(seed, table.num_rows)
    if u.shape != (table.num_rows, 2):
        raise ValueError(f"outcome uniforms of shape {u.shape}: ({table.num_rows}, 2) expected")
    p_d, p_h = outcome_probabilities(
        table.column("grade_after").to_numpy(), table.column("death_inhospital").to_numpy(zero_copy_only=False), etiology == "secondary", model, population_sources
    )
    death = u[:, 0] < p_d
    hfh = u[:, 1] < p_h
    out = table
    for name, col in (
        ("outcome_group", pa.array(np.array(GROUPS, dtype=object)[group_of_grade(table.column("grade_after").to_numpy())].tolist(), pa.string())),
        ("outcome_table", pa.array(model.tables_of(etiology == "secondary", population_sources).tolist(), pa.string())),
        ("p_death_1y", p_d),
        ("p_hfh_1y", p_h),
        ("death_1y", death),
        ("hfh_1y", hfh),
    ):
        out = out.append_column(name, pa.array(col) if not isinstance(col, pa.Array) else col)
    return out


def expected_rate_interval(
    groups: np.ndarray, died_inhospital: np.ndarray, model: OutcomeModel, which: str = "death", draws: int = 2000, seed: int = 0, tables: np.ndarray | None = None
) -> tuple[float, float, float]:
    """Model-expected 1-year rate for a set of patients and its 95% interval over parameter draws
    (``tables``: each patient's mortality table, default all ``tvt``)."""
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups, dtype=object)
    tables = np.full(groups.size, "tvt", dtype=object) if tables is None else np.asarray(tables, dtype=object)
    names = sorted(set(tables.tolist())) if which == "death" else ["tvt"]
    key = tables if which == "death" else np.full(groups.size, "tvt", dtype=object)
    counts = np.array([[((key == t) & (groups == g)).sum() for g in GROUPS] for t in names], dtype=float)  # (T, 3)
    ih = float(np.mean(died_inhospital)) if len(died_inhospital) else 0.0
    r = np.array([[(model.table(t) if which == "death" else model.hfh_1y)[g] for g in GROUPS] for t in names])
    ne = np.array([model.n_eff[g] for g in GROUPS])
    sims = rng.beta(r * ne + 1, (1 - r) * ne + 1, size=(draws, *r.shape))
    total = max(counts.sum(), 1.0)

    def rate(rr: np.ndarray) -> np.ndarray:
        p_ih = model.inhospital_death
        if which == "death":
            surv = np.clip((rr - p_ih) / (1 - p_ih), 0, 1)
            return ih + (1 - ih) * (surv * counts).sum(axis=(-2, -1)) / total
        return (1 - ih) * (rr * counts).sum(axis=(-2, -1)) / total

    est = float(rate(r))
    lo, hi = np.percentile(rate(sims), [2.5, 97.5])
    return est, float(lo), float(hi)
