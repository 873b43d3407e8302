"""Endpoints: the simulated statistic, its Monte-Carlo CI, and its agreement with the published value.

For a comparator's trial arm (``n`` virtual patients, :class:`mitrasim.validate.columns.ArmData`):

* **Proportions** (a share of patients, one row per category for distributions):
  ``p̂ = k/n``, Monte-Carlo standard error ``se = √(p̂(1−p̂)/n)``, 95% Wilson score interval
  (Wilson 1927).  The published proportion's ``se`` is ``√(p(1−p)/n_pub)`` (or, given a 95% CI,
  ``(hi − lo)/(2·z)``, z = Φ⁻¹(0.975)).
* **Means** (post-procedure gradient, clips per patient): ``x̄``, ``se = s/√n``, 95% t interval; the
  published mean's ``se = sd/√n_pub`` (or from its CI).
* **Agreement** (an equivalence test at margin ``δ``, two one-sided tests at 2.5% each):
  ``d = simulated − published``, ``se_d = √(se_sim² + se_pub²)``, ``CI_d = d ± z·se_d``:
  ``agree`` when ``CI_d ⊂ [−δ, δ]``; ``miss`` when ``CI_d ∩ [−δ, δ] = ∅``; otherwise ``inconclusive``
  (neither shown; more simulated patients help only when ``se_sim`` dominates); ``not estimable`` when the
  denominator holds no simulated patient (:data:`NOT_ESTIMABLE`).
  ``δ`` is the endpoint's ``margin`` or :data:`DEFAULT_MARGINS` by statistic — project choices for a
  medium model risk (V&V 40 leaves the acceptance criterion to the model risk), not literature numbers.
* **Calculation verification**: the Monte-Carlo half-width ``z·se_sim`` against ``δ``; it is small
  enough when ``≤ δ/4`` (:data:`MC_HALFWIDTH_FRACTION`), and ``n_needed = n·(z·se_sim / (δ/4))²``
  says how many patients would make it so.

Categories: residual MR ``"0"``, ``"1+"``, ``"2+"``, ``"3+"``, ``"4+"``, ``"0/1+"``, ``"3+/4+"``,
``"<=1+"``, ``"<=2+"``, ``">=3+"``; clip counts ``"0"``, ``"1"``, ``"2"`` … and ``"k+"`` (k or more).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from mitrasim import citations
from mitrasim.echo.thresholds import threshold
from mitrasim.errors import InputError
from mitrasim.validate.columns import ArmData
from mitrasim.validate.schema import Endpoint

__all__ = ["DEFAULT_MARGINS", "MC_HALFWIDTH_FRACTION", "Z95", "EndpointRow", "agreement", "compute_endpoint", "count_members", "grade_members", "wilson"]

Z95 = float(stats.norm.ppf(0.975))
#: Agreement margins δ by statistic (module docstring): proportions in absolute units (0.10 = 10 points),
#: gradients in mmHg, clip counts in clips per patient.  Project choices, overridable per endpoint.
DEFAULT_MARGINS: dict[str, float] = {"proportion": 0.10, "gradient_mmhg": 1.0, "clips": 0.25}
#: Calculation verification: the Monte-Carlo 95% half-width should not exceed this fraction of δ.
MC_HALFWIDTH_FRACTION = 0.25

#: The simulated statistic when its denominator is empty (a subgroup level no simulated patient fell in,
#: ``among: implanted`` with no implant; a mean of fewer than two): NaN values, n = 0, and the
#: agreement ``"not estimable"`` (NaN is written as null in the JSON summary and "n/a" in the report).
NOT_ESTIMABLE = (math.nan, math.nan, math.nan, math.nan, 0)

_GRADE_LABELS: dict[str, tuple[int, ...]] = {
    "0": (0,), "1+": (1,), "2+": (2,), "3+": (3,), "4+": (4,),
    "0/1+": (0, 1), "3+/4+": (3, 4), "<=1+": (0, 1), "<=2+": (0, 1, 2), ">=3+": (3, 4), ">=2+": (2, 3, 4),
}  # fmt: skip


@dataclass(frozen=True)
class EndpointRow:
    """One line of the validation table."""

    comparator: str
    endpoint: str
    kind: str
    category: str
    statistic: str  # "proportion" | "mean"
    unit: str
    time_point: str
    role: str
    parameter: str
    source: str
    status: str
    published: float
    published_se: float
    published_lo: float
    published_hi: float
    n_published: float
    simulated: float
    simulated_se: float
    simulated_lo: float
    simulated_hi: float
    n_simulated: int
    difference: float
    difference_lo: float
    difference_hi: float
    margin: float
    agreement: str
    mc_halfwidth_over_margin: float
    n_needed: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def grade_members(label: str) -> tuple[int, ...]:
    """MR grades (0-4) in a residual-MR category label (module docstring)."""
    key = label.strip().replace("≤", "<=").replace("≥", ">=").replace(" ", "")
    if key not in _GRADE_LABELS:
        raise InputError("shares", label, "a residual MR category: " + ", ".join(_GRADE_LABELS))
    return _GRADE_LABELS[key]


def count_members(label: str, counts: np.ndarray) -> np.ndarray:
    """Boolean mask of patients whose clip count falls in ``"k"`` or ``"k+"``."""
    s = label.strip()
    try:
        k = int(s[:-1]) if s.endswith("+") else int(s)
    except ValueError:
        raise InputError("shares", label, 'a clip count "k" or "k+" (k or more)') from None
    return counts >= k if s.endswith("+") else counts == k


def wilson(k: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval for k successes in n."""
    if n <= 0:
        return (math.nan, math.nan)
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def agreement(diff: float, se_diff: float, margin: float) -> tuple[str, float, float]:
    """(verdict, lo, hi) of the equivalence test at margin δ (module docstring)."""
    lo, hi = diff - Z95 * se_diff, diff + Z95 * se_diff
    if -margin <= lo and hi <= margin:
        return "agree", lo, hi
    if hi < -margin or lo > margin:
        return "miss", lo, hi
    return "inconclusive", lo, hi


def _proportion(mask: np.ndarray) -> tuple[float, float, float, float, int]:
    n = int(mask.size)
    k = int(mask.sum())
    if n == 0:
        return NOT_ESTIMABLE
    p = k / n
    lo, hi = wilson(k, n)
    return p, math.sqrt(p * (1 - p) / n), lo, hi, n


def _mean(x: np.ndarray) -> tuple[float, float, float, float, int]:
    x = np.asarray(x, float)
    if not np.all(np.isfinite(x)):
        raise InputError("trial column", "non-finite values", "finite simulated values", f"{int((~np.isfinite(x)).sum())} of {x.size}")
    n = x.size
    if n < 2:
        return NOT_ESTIMABLE
    m = float(x.mean())
    se = float(x.std(ddof=1) / math.sqrt(n))
    t = float(stats.t.ppf(0.975, n - 1))
    return m, se, m - t * se, m + t * se, n


def _published(e: Endpoint, value: float, n: float | None, statistic: str) -> tuple[float, float, float]:
    """(se, lo, hi) of a published value."""
    if e.ci is not None and e.shares is None:
        lo, hi = e.ci
        return (hi - lo) / (2 * Z95), lo, hi
    assert n is not None
    if statistic == "proportion":
        lo, hi = wilson(round(value * n), int(n))
        return math.sqrt(value * (1 - value) / n), lo, hi
    se = float(e.sd) / math.sqrt(n)  # type: ignore[arg-type]
    return se, value - Z95 * se, value + Z95 * se


def _denominator(e: Endpoint, d: ArmData) -> np.ndarray:
    if e.among == "implanted":
        return d["clips_implanted"] > 0
    return np.ones(d.n, bool)


def _row(comp: str, e: Endpoint, category: str, statistic: str, unit: str, margin_key: str, pub: float, n_pub: float | None, sim: tuple[float, float, float, float, int]) -> EndpointRow:
    p_se, p_lo, p_hi = _published(e, pub, n_pub, statistic)
    s, s_se, s_lo, s_hi, n = sim
    margin = float(e.margin) if e.margin is not None else DEFAULT_MARGINS[margin_key]
    d = s - pub
    if n == 0:
        verdict, d_lo, d_hi = "not estimable", math.nan, math.nan
    else:
        verdict, d_lo, d_hi = agreement(d, math.hypot(s_se, p_se), margin)
    target = MC_HALFWIDTH_FRACTION * margin
    half = Z95 * s_se
    return EndpointRow(
        comparator=comp, endpoint=e.name, kind=e.kind, category=category, statistic=statistic, unit=unit,
        time_point=e.time_point, role=e.role, parameter=e.parameter or "", source=e.source or "", status=e.status,
        published=pub, published_se=p_se, published_lo=p_lo, published_hi=p_hi,
        n_published=float(n_pub) if n_pub is not None else math.nan,
        simulated=s, simulated_se=s_se, simulated_lo=s_lo, simulated_hi=s_hi, n_simulated=n,
        difference=d, difference_lo=d_lo, difference_hi=d_hi, margin=margin, agreement=verdict,
        mc_halfwidth_over_margin=half / margin, n_needed=math.ceil(n * (half / target) ** 2) if half > 0 and n > 0 else n,
    )  # fmt: skip


def _gradient_threshold(e: Endpoint) -> float:
    if e.threshold_mmhg is not None:
        return float(e.threshold_mmhg)
    t = threshold("mvarc", "mean_gradient_mmhg", "stenosis_from")
    assert t is not None
    citations.cite(*t.sources)
    return float(t.value)


def compute_endpoint(comparator: str, e: Endpoint, d: ArmData) -> list[EndpointRow]:
    """The rows of one endpoint on one arm's results (one row per category for distributions)."""
    citations.cite("wilson1927")
    if e.source:
        citations.cite(e.source)
    keep = _denominator(e, d)
    n_pub = e.n if isinstance(e.n, int) else None
    if e.kind == "device_count":
        counts = d["clips_implanted"][keep]
        if e.shares is None:
            return [_row(comparator, e, "mean", "mean", "clips", "clips", float(e.value), n_pub, _mean(counts))]  # type: ignore[arg-type]
        return [_row(comparator, e, c, "proportion", "", "proportion", p, n_pub, _proportion(count_members(c, counts))) for c, p in e.shares.items()]
    if e.kind == "residual_mr":
        g = d["grade_after"][keep]
        return [_row(comparator, e, c, "proportion", "", "proportion", p, n_pub, _proportion(np.isin(g, grade_members(c)))) for c, p in (e.shares or {}).items()]
    if e.kind in ("mr_le_1plus", "mr_le_2plus"):
        top = 1 if e.kind == "mr_le_1plus" else 2
        return [_row(comparator, e, f"<={top}+", "proportion", "", "proportion", float(e.value), n_pub, _proportion(d["grade_after"][keep] <= top))]  # type: ignore[arg-type]
    if e.kind == "mean_gradient":
        return [_row(comparator, e, "mean", "mean", "mmHg", "gradient_mmhg", float(e.value), n_pub, _mean(d["gradient_after_mmhg"][keep]))]  # type: ignore[arg-type]
    if e.kind == "gradient_share":
        thr = _gradient_threshold(e)
        g = d["gradient_after_mmhg"][keep]
        mask = g >= thr if e.op == ">=" else g > thr
        return [_row(comparator, e, f"{e.op}{thr:g} mmHg", "proportion", "", "proportion", float(e.value), n_pub, _proportion(mask))]  # type: ignore[arg-type]
    if e.kind in ("complication_rate", "success_rate"):
        return [_row(comparator, e, str(e.event), "proportion", "", "proportion", float(e.value), n_pub, _proportion(d[str(e.event)][keep]))]  # type: ignore[arg-type]
    if e.kind == "subgroup_rate":
        ev = d[str(e.event)][keep]
        level = d[str(e.by)][keep]
        rows = []
        for lv, p in (e.shares or {}).items():
            n_lv = e.n[lv] if isinstance(e.n, dict) else n_pub
            in_lv = level == lv
            sim = _proportion(ev[in_lv])
            rows.append(_row(comparator, e, f"{e.by}={lv}", "proportion", "", "proportion", p, n_lv, sim))
        return rows
    raise AssertionError(e.kind)  # the schema's Literal lists every kind
