"""Virtual populations: a YAML description of distributions and correlations, sampled from a seed.

A population file (pydantic v2, ``extra="forbid"``)::

    name: coapt_like
    description: ...
    sources: [stone2018_coapt]          # citation keys (registered in mitrasim.citations)
    continuous:
      age_years: {dist: normal, mean: 71.7, sd: 11.8, lo: 40, hi: 95, source: stone2018_coapt, status: check}
      eroa_cm2:  {dist: lognormal, mean: 0.41, sd: 0.15, lo: 0.2, hi: 1.2, source: stone2018_coapt, status: src}
    categorical:
      sex: {levels: {male: 0.64, female: 0.36}, source: ..., status: check}
    correlations:
      - {a: lvef_pct, b: lvedv_ml, r: -0.45}

Sampling (:func:`sample_population`) is a Gaussian copula: latent normals
``z ~ N(0, R)`` (``R`` built from ``correlations``, identity elsewhere; it must be
positive definite), ``u = Φ(z)``; a continuous variable is the inverse CDF of
its marginal *truncated* to ``[lo, hi]`` evaluated at ``u`` (so truncation never
rejects a draw and the sample is a pure function of the seed); a categorical
variable takes the level whose cumulative-probability interval holds ``u``.
``normal``: mean/sd as given; ``lognormal``: ``mean``/``sd`` are the arithmetic
mean and SD of the variable (log-scale parameters ``σ² = ln(1 + sd²/mean²)``,
``μ = ln(mean) − σ²/2``).  Truncation shifts the sampled mean and SD a little
from the table values; the report shows the sampled ones.

Every variable in :data:`REQUIRED_CONTINUOUS` / :data:`REQUIRED_CATEGORICAL` must
be given or is taken from :data:`DEFAULT_CONTINUOUS` / :data:`DEFAULT_CATEGORICAL`
(model defaults, status ``model``).

Eligibility (optional): a trial's anatomic inclusion criteria on the valve the
mapping builds from a patient (:func:`mitrasim.cohort.mapping.chunk_valves`)::

    eligibility: {max_gap_mm: 10, max_lesion_width_mm: 15, source: feldman2011_everest2, status: src}

Also ``max_tenting_depth_mm`` (secondary MR coaptation depth),
``max_leaflet_calcification`` (worst leaflet calcification grade admitted, read as the grasping zone's)
and ``max_annular_calcification`` (worst annular calcification grade admitted).

A drawn patient who fails them is discarded and the next draw from the same
generator takes the place (rejection sampling: the sample stays a pure function
of the seed, and the marginals of the eligible patients differ from the table's;
the report shows the sampled ones).

Flow balance (a population that samples ``forward_sv_ml``, the forward stroke volume by LVOT
Doppler): the four flow measurements of one patient must describe one heart,

    total SV = LVEDV·LVEF/100 + (b_EDV − b_ESV) = forward SV + RVol,    RVol = EROA · VTI_MR

(``b``: the 2D echo volume biases against the engine's physical volumes, Rigolli 2016, for
``lv_volume_method: echo_2d``; ``VTI_MR``: the engine's regurgitant velocity-time integral at the
patient's heart rate, EROA and SBP, :func:`mitrasim.cohort.mapping.regurgitant_vti_cm`, i.e. RVol
from the EROA and the LV–LA gradient by the engine's orifice law).  Marginals drawn independently
(or through a copula) break it: COAPT's published means (``coapt_like.yaml``) taken together leave a
forward SV of a third of a normal one, cardiogenic shock.  Each draw is therefore *reconciled*
(data reconciliation): the four values ``a`` move to the nearest ``x`` on the balance in the metric
of their measurement SDs ``s`` (those of the cohort fit, :func:`mitrasim.cohort.mapping.baseline_sds`,
i.e. the calibration's), ``min Σ((x − a)/s)²`` subject to ``h(x) = 0``, solved by
:data:`BALANCE_ITERATIONS` linearised Lagrange steps (``h`` is bilinear).  Gross-error test: a draw
whose move exceeds the :data:`BALANCE_TEST_LEVEL` quantile of χ²(1), or which leaves a marginal's
``[lo, hi]``, is no patient's set of measurements and is replaced by the next draw (like an
ineligible one).  So the dependence between EROA, LVEDV, LVEF and forward SV comes from mass
conservation and the measurement SDs, not from tuned correlations; the kept patients' marginals
differ from the table's (the report shows the sampled ones; for COAPT-like patients the EROA
falls, LVEF and LVEDV rise: PISA overestimates EROA and 2D echo underestimates volumes in
secondary MR).  The sampled values are the reconciled ones.

LV volumes: ``lv_volume_method: echo_2d`` (the default; the shipped populations' LVEDV
and LVEF are echo core-lab values) fits the engine's LV to CMR-equivalent volumes,
``cmr`` takes them as they are (:func:`mitrasim.cohort.mapping.engine_lv_volumes`).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy import special

from mitrasim import citations, ranges
from mitrasim.cohort import sources as _sources  # noqa: F401  (registers the sources)
from mitrasim.cohort.columns import level_mask
from mitrasim.echo.lv_bias import LvVolumeMethod  # how LVEDV/LVEF were measured (re-exported)
from mitrasim.errors import InputError, validate_model
from mitrasim.files import read_data

__all__ = [
    "Continuous",
    "Categorical",
    "Correlation",
    "Population",
    "REQUIRED_CONTINUOUS",
    "REQUIRED_CATEGORICAL",
    "OPTIONAL_CONTINUOUS",
    "SHIPPED_POPULATIONS",
    "balance_flows",
    "load_population",
    "parse_population",
    "correlation_matrix",
    "sample_population",
    "sample_population_streams",
    "sample_streams_table",
    "Eligibility",
    "eligible",
]

Status = Literal["src", "sec", "check", "model"]

#: Continuous patient variables and their physical range (lo, hi) accepted in a description: looked up in
#: :data:`mitrasim.ranges.POPULATION`, the one definition.
REQUIRED_CONTINUOUS: dict[str, tuple[float, float]] = {
    k: (r.lo, r.hi) for k, r in ranges.POPULATION.items() if k not in ranges.POPULATION_OPTIONAL
}
#: Optional continuous variables (drawn last, in a latent block of their own, so the other variables keep
#: their values for a seed): the forward stroke volume (LVOT Doppler), which switches on the flow balance.
OPTIONAL_CONTINUOUS: dict[str, tuple[float, float]] = {k: (ranges.POPULATION[k].lo, ranges.POPULATION[k].hi) for k in ranges.POPULATION_OPTIONAL}
#: Categorical patient variables and their allowed levels.
REQUIRED_CATEGORICAL: dict[str, tuple[str, ...]] = {
    "sex": ("female", "male"),
    "etiology": ("primary", "secondary"),
    "primary_lesion": ("flail", "prolapse"),
    "lesion_segment": ("1", "2", "3"),
    "lesion_extent": ("single", "multi_segment", "bileaflet", "barlow", "commissural"),
    "leaflet_calcification": ("none", "mild", "moderate", "severe"),
    "annular_calcification": ("none", "mild", "moderate", "severe"),
}
#: Variables added for lesion-aware clip mechanics (issue 13): last in the latent order, drawn in a block of their own.
ANATOMY_VARIABLES = ("lesion_extent", "leaflet_calcification", "annular_calcification")
#: Ordered levels (grades) of the calcification variables.
CALCIFICATION_LEVELS = ("none", "mild", "moderate", "severe")

_M: dict[str, Any] = {"source": "mitrasim_cohort_model", "status": "model"}
DEFAULT_CONTINUOUS: dict[str, dict[str, Any]] = {
    # Anatomy: clinical.md/physiology.md typical values (anterior 22-26 mm, P2 10-15 mm); model spreads.
    "ap_diameter_mm": {"dist": "normal", "mean": 33.0, "sd": 4.0, "lo": 24.0, "hi": 45.0, **_M},
    "ic_diameter_mm": {"dist": "normal", "mean": 37.0, "sd": 4.0, "lo": 28.0, "hi": 50.0, **_M},
    "anterior_leaflet_mm": {"dist": "normal", "mean": 24.0, "sd": 3.0, "lo": 16.0, "hi": 36.0, **_M},
    "posterior_leaflet_mm": {"dist": "normal", "mean": 13.0, "sd": 2.5, "lo": 7.0, "hi": 22.0, **_M},
    "lesion_width_frac": {"dist": "normal", "mean": 0.3, "sd": 0.08, "lo": 0.12, "hi": 0.6, **_M},
    "tenting_depth_mm": {"dist": "normal", "mean": 8.0, "sd": 2.5, "lo": 2.0, "hi": 14.0, **_M},
    "hr_bpm": {"dist": "normal", "mean": 72.0, "sd": 12.0, "lo": 50.0, "hi": 110.0, **_M},
    "sbp_mmhg": {"dist": "normal", "mean": 120.0, "sd": 18.0, "lo": 85.0, "hi": 180.0, **_M},
}
DEFAULT_CATEGORICAL: dict[str, dict[str, Any]] = {
    "primary_lesion": {"levels": {"flail": 0.5, "prolapse": 0.5}, **_M},
    "lesion_segment": {"levels": {"1": 0.1, "2": 0.8, "3": 0.1}, **_M},
    # Lesion extent of primary MR (how the mapping shapes it: mitrasim.cohort.mapping); model
    # shares [check]: no sourced split was found in the sources searched. Cross-checks read: 56% of
    # one centre's consecutive TEER patients were outside the EVEREST criteria (lesevic2017_everest_criteria,
    # in mitrasim.cohort.sources); development.yaml's EXPAND note says about a third had complex anatomy [sec].
    "lesion_extent": {"levels": {"single": 0.6, "multi_segment": 0.15, "bileaflet": 0.12, "barlow": 0.08, "commissural": 0.05}, **_M},
    # Leaflet calcification (grasping zone) and mitral annular calcification (MAC): model shares
    # [check]; EVEREST II excluded severe calcification in the grasping zone (eligibility).
    "leaflet_calcification": {"levels": {"none": 0.65, "mild": 0.25, "moderate": 0.08, "severe": 0.02}, **_M},
    "annular_calcification": {"levels": {"none": 0.7, "mild": 0.18, "moderate": 0.09, "severe": 0.03}, **_M},
}




class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Continuous(_Model):
    """A continuous marginal: normal or lognormal (arithmetic mean/sd), truncated to [lo, hi]."""

    dist: Literal["normal", "lognormal"] = "normal"
    mean: float
    sd: float = Field(gt=0, description="standard deviation (> 0)")
    lo: float
    hi: float
    source: str = "mitrasim_cohort_model"
    status: Status = "model"
    note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> "Continuous":
        if not self.lo < self.hi:
            raise ValueError(f"lo ({self.lo}) must be below hi ({self.hi})")
        if self.dist == "lognormal" and (self.mean <= 0 or self.lo < 0):
            raise ValueError("lognormal needs mean > 0 and lo >= 0")
        return self


class Categorical(_Model):
    """A categorical variable: level -> probability (summing to 1)."""

    levels: dict[str, float]
    source: str = "mitrasim_cohort_model"
    status: Status = "model"
    note: str | None = None

    @field_validator("levels")
    @classmethod
    def _probs(cls, v: dict[str, float]) -> dict[str, float]:
        if not v or any(p < 0 for p in v.values()) or abs(sum(v.values()) - 1.0) > 1e-6:
            raise ValueError("probabilities must be >= 0 and sum to 1")
        return v


class Correlation(_Model):
    """Correlation ``r`` between the latent normals of variables ``a`` and ``b``."""

    a: str
    b: str
    r: float = Field(gt=-1, lt=1)


class Eligibility(_Model):
    """Anatomic inclusion criteria on the valve derived from a sampled patient (rejection sampling)."""

    max_gap_mm: float | None = Field(None, gt=0, le=30, description="largest systolic leaflet gap of the patient's valve, mm (EVEREST II excluded a flail gap >= 10 mm)")
    max_lesion_width_mm: float | None = Field(None, gt=0, le=60, description="widest primary-MR lesion, mm (EVEREST II excluded a flail width >= 15 mm)")
    max_tenting_depth_mm: float | None = Field(None, gt=0, le=25, description="deepest coaptation (tenting) depth of secondary MR, mm (EVEREST II excluded > 11 mm)")
    max_leaflet_calcification: Literal["none", "mild", "moderate", "severe"] | None = Field(
        None, description="worst leaflet (grasping-zone) calcification admitted (EVEREST II excluded any calcification in the grasping area)"
    )
    max_annular_calcification: Literal["none", "mild", "moderate", "severe"] | None = Field(
        None, description="worst mitral annular calcification admitted (EVEREST II excluded severe annular calcification)"
    )
    source: str = "mitrasim_cohort_model"
    status: Status = "model"
    note: str | None = None

    @property
    def active(self) -> bool:
        return any(x is not None for x in (self.max_gap_mm, self.max_lesion_width_mm, self.max_tenting_depth_mm, self.max_leaflet_calcification,
                                            self.max_annular_calcification))


#: The engine parameter set of each etiology unless a population names another.
DEFAULT_PRESETS: dict[str, str] = {"primary": "primary_mr", "secondary": "secondary_mr"}


def check_presets(presets: dict[str, str]) -> dict[str, str]:
    """``presets`` over :data:`DEFAULT_PRESETS`, each a known parameter set, else :class:`InputError`
    naming ``presets.<etiology>`` and the allowed names (no fallback to another heart)."""
    from mitrasim.physiology.parameter_sets import PARAMETER_SETS

    for etiology, name in presets.items():
        if name not in PARAMETER_SETS:
            raise InputError(f"presets.{etiology}", name, "one of " + ", ".join(sorted(PARAMETER_SETS)))
    return {**DEFAULT_PRESETS, **presets}


class Population(_Model):
    """A virtual population: marginals, correlations, the engine presets per etiology, sources."""

    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=4000)
    sources: list[str] = Field(default_factory=list)
    presets: dict[Literal["primary", "secondary"], str] = Field(
        default_factory=lambda: dict(DEFAULT_PRESETS),
        description="engine parameter set per etiology (an etiology not given keeps its default; an unknown name is refused)",
    )
    continuous: dict[str, Continuous] = Field(default_factory=dict)

    @field_validator("presets")
    @classmethod
    def _known_presets(cls, v: dict[str, str]) -> dict[str, str]:
        return check_presets(v)

    categorical: dict[str, Categorical] = Field(default_factory=dict)
    correlations: list[Correlation] = Field(default_factory=list)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    indication: Literal["mr_3plus", "any"] = Field(
        "mr_3plus",
        description="mr_3plus: the trial samples only patients whose simulated baseline MR is 3+/4+ (the TEER "
        "indication, mitrasim.procedure.indication); any: every sampled patient, also below the indication",
    )
    lv_volume_method: LvVolumeMethod = Field(
        "echo_2d",
        description="how lvedv_ml/lvef_pct were measured: echo_2d (the engine is fitted to CMR-equivalent volumes, "
        "Rigolli 2016 bias) or cmr (taken as they are); see mitrasim.cohort.mapping",
    )

    def variables(self) -> list[str]:
        """Latent-variable order: continuous (required order), categorical, then the optional continuous
        variables the population describes."""
        return list(REQUIRED_CONTINUOUS) + list(REQUIRED_CATEGORICAL) + self.optional_variables()

    def optional_variables(self) -> list[str]:
        """The :data:`OPTIONAL_CONTINUOUS` variables this population samples."""
        return [k for k in OPTIONAL_CONTINUOUS if k in self.continuous]

    @property
    def balances_flow(self) -> bool:
        """Whether the LV flows are reconciled (the population samples the forward SV; module docstring)."""
        return "forward_sv_ml" in self.continuous


def _complete(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    cont = dict(out.get("continuous") or {})
    cat = dict(out.get("categorical") or {})
    for k, v in DEFAULT_CONTINUOUS.items():
        cont.setdefault(k, v)
    for k, v in DEFAULT_CATEGORICAL.items():
        cat.setdefault(k, v)
    out["continuous"], out["categorical"] = cont, cat
    return out


def _check_marginal(name: str, c: Continuous, allowed: ranges.Range) -> None:
    """A marginal's truncation inside the variable's range (:data:`mitrasim.ranges.POPULATION`), its mean inside that."""
    if c.lo < allowed.lo or c.hi > allowed.hi:
        raise InputError(f"continuous.{name}.lo", [c.lo, c.hi], f"a truncation range inside [{allowed.lo:g}, {allowed.hi:g}]")
    if not c.lo <= c.mean <= c.hi:
        raise InputError(f"continuous.{name}.mean", c.mean, f"[{c.lo:g}, {c.hi:g}] (inside lo..hi)")


def _check_population(pop: Population) -> Population:
    for name in REQUIRED_CONTINUOUS:
        if name not in pop.continuous:
            raise InputError(f"continuous.{name}", None, "required (a marginal distribution)")
    for name in pop.continuous:
        if name not in ranges.POPULATION:
            raise InputError(f"continuous.{name}", name, "one of " + ", ".join(ranges.POPULATION))
        _check_marginal(name, pop.continuous[name], ranges.POPULATION[name])
    for name, levels in REQUIRED_CATEGORICAL.items():
        if name not in pop.categorical:
            raise InputError(f"categorical.{name}", None, "required (levels with probabilities)")
        bad = set(pop.categorical[name].levels) - set(levels)
        if bad:
            raise InputError(f"categorical.{name}.levels", sorted(bad), "levels among " + ", ".join(levels))
    for name in pop.categorical:
        if name not in REQUIRED_CATEGORICAL:
            raise InputError(f"categorical.{name}", name, "one of " + ", ".join(REQUIRED_CATEGORICAL))
    names = set(pop.variables())
    seen: set[frozenset[str]] = set()
    for i, c in enumerate(pop.correlations):
        for side in ("a", "b"):
            v = getattr(c, side)
            if v not in names:
                raise InputError(f"correlations.{i}.{side}", v, "a variable of the population: " + ", ".join(sorted(names)))
        if c.a == c.b:
            raise InputError(f"correlations.{i}.b", c.b, "a variable other than a")
        key = frozenset((c.a, c.b))
        if key in seen:
            raise InputError(f"correlations.{i}", f"{c.a}~{c.b}", "each pair at most once")
        seen.add(key)
    for s in [*pop.sources, *(c.source for c in pop.continuous.values()), *(c.source for c in pop.categorical.values()), pop.eligibility.source]:
        try:
            citations.get(s)
        except KeyError:
            raise InputError("sources", s, "a registered citation key") from None
    correlation_matrix(pop)  # raises if not positive definite
    return pop


def parse_population(data: Any, source: str = "population") -> Population:
    """Validate a mapping as a :class:`Population` (defaults filled in); errors name the field."""
    if not isinstance(data, dict):
        raise InputError(source, type(data).__name__, "a mapping with name, continuous, categorical, correlations")
    return _check_population(validate_model(Population, _complete(data)))


#: Populations shipped with mitrasim (``src/mitrasim/cohort/populations/NAME.yaml``).
SHIPPED_POPULATIONS = ("coapt_like", "everest2_like", "tvt_mixed")


@lru_cache(maxsize=None)
def _shipped_text(name: str) -> str:
    return resources.files("mitrasim.cohort").joinpath("populations", f"{name}.yaml").read_text(encoding="utf-8")


def load_population(ref: str | Path | dict[str, Any], base_dir: str | Path | None = None) -> Population:
    """A population from a shipped name (``coapt_like``), a YAML path (relative to ``base_dir``) or a mapping."""
    if isinstance(ref, dict):
        return parse_population(ref)
    ref_s = str(ref)
    if ref_s in SHIPPED_POPULATIONS:
        return parse_population(yaml.safe_load(_shipped_text(ref_s)), source=ref_s)
    p = Path(ref_s)
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    data = read_data(p, "population", f"a shipped population ({', '.join(SHIPPED_POPULATIONS)}) or a readable YAML file", "valid YAML", json_by_suffix=False)
    return parse_population(data, source=p.name)


def correlation_matrix(pop: Population) -> np.ndarray:
    """The latent correlation matrix over :meth:`Population.variables`; raises if not positive definite."""
    names = pop.variables()
    idx = {n: i for i, n in enumerate(names)}
    R = np.eye(len(names))
    for c in pop.correlations:
        R[idx[c.a], idx[c.b]] = R[idx[c.b], idx[c.a]] = c.r
    w = np.linalg.eigvalsh(R)
    if w.min() <= 1e-10:
        raise InputError(
            "correlations",
            [f"{c.a}~{c.b}={c.r:g}" for c in pop.correlations],
            "a positive-definite correlation matrix",
            f"smallest eigenvalue {w.min():.3g}: these correlations cannot hold together",
        )
    return R


def _truncated_ppf(u: np.ndarray, c: Continuous) -> np.ndarray:
    if c.dist == "normal":
        mu, sig = c.mean, c.sd
        to_z = lambda x: (x - mu) / sig  # noqa: E731
        back = lambda z: mu + sig * z  # noqa: E731
    else:
        s2 = np.log1p((c.sd / c.mean) ** 2)
        mu, sig = np.log(c.mean) - s2 / 2, np.sqrt(s2)
        to_z = lambda x: (np.log(x) - mu) / sig if x > 0 else -np.inf  # noqa: E731
        back = lambda z: np.exp(mu + sig * z)  # noqa: E731
    a, b = special.ndtr(to_z(c.lo)), special.ndtr(to_z(c.hi))
    x = back(special.ndtri(a + u * (b - a)))
    return np.clip(x, c.lo, c.hi)


#: Rejection sampling gives up when fewer than one drawn patient in this many is eligible.
MAX_DRAWS_PER_PATIENT = 50


def sample_population(pop: Population, n: int, seed: int | np.random.SeedSequence | np.random.Generator, first_id: int = 0) -> pa.Table:
    """Draw ``n`` virtual patients (a pyarrow Table, one row each), reproducibly from ``seed``.

    Columns: ``patient_id`` (``first_id`` + row), the continuous variables (float64) and the
    categorical ones (strings).  ``primary_lesion`` is only meaningful for primary MR and
    ``tenting_depth_mm`` for secondary MR (the mapping ignores the other).  With
    ``pop.eligibility`` set, ineligible draws are replaced by later ones; with a sampled
    ``forward_sv_ml`` the flows are reconciled and draws that fail the balance's test are replaced
    too (module docstring).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return sample_population_streams(pop, [n], [rng], [first_id])[0]


def sample_population_streams(pop: Population, sizes: Sequence[int], rngs: Sequence[np.random.Generator], first_ids: Sequence[int]) -> list[pa.Table]:
    """:func:`sample_population` of several independent streams at once: table ``b`` holds
    ``sizes[b]`` patients drawn from ``rngs[b]`` (ids from ``first_ids[b]``), exactly as
    :func:`sample_population` draws them alone; each round's draws of every stream still short are
    reconciled and screened together (both act row by row).  Each table is a slice of
    :func:`sample_streams_table`'s."""
    t = sample_streams_table(pop, sizes, rngs, first_ids)
    return [t.slice(a, n) for a, n in zip(np.cumsum([0, *sizes]).tolist(), sizes)]


def sample_streams_table(pop: Population, sizes: Sequence[int], rngs: Sequence[np.random.Generator], first_ids: Sequence[int]) -> pa.Table:
    """:func:`sample_population_streams`' patients as one table, stream after stream.  A round draws
    every short stream's candidates in one table; each stream keeps its first passing rows, all
    streams' at once (one ``take`` per round), and the rounds' kept rows are put in stream order
    by one ``take`` at the end."""
    L = np.linalg.cholesky(correlation_matrix(pop))  # once for every draw of the call
    if not pop.eligibility.active and not pop.balances_flow:
        return _draw_streams(pop, sizes, rngs, first_ids, L)
    rounds: list[pa.Table] = []  # each round's kept rows, streams in order
    rows: list[list[np.ndarray]] = [[] for _ in sizes]  # each stream's rows in the rounds' concatenation
    kept_before = 0
    got, drawn, unbalanced = [0] * len(sizes), [0] * len(sizes), [0] * len(sizes)
    while any(g < n for g, n in zip(got, sizes)):
        short = [b for b, (g, n) in enumerate(zip(got, sizes)) if g < n]
        for b in short:
            _check_draws(pop, sizes[b], got[b], drawn[b], unbalanced[b])
        ms = [2 * (sizes[b] - got[b]) + 16 for b in short]
        t = _draw_streams(pop, ms, [rngs[b] for b in short], [0] * len(short), L)
        ok = np.ones(t.num_rows, bool)
        balanced = np.ones(t.num_rows, bool)
        if pop.balances_flow:
            t, balanced = balance_flows(pop, t)
            ok &= balanced
        if pop.eligibility.active:
            ok &= eligible(pop, t)
        starts = np.cumsum([0, *ms[:-1]])
        failed = np.add.reduceat((~balanced).astype(np.int64), starts).tolist()  # per stream (every stream draws at least 16)
        keeps = [a + np.flatnonzero(ok[a : a + m])[: sizes[b] - got[b]] for b, a, m in zip(short, starts.tolist(), ms)]
        keep_all = np.concatenate(keeps)
        rounds.append(t.take(keep_all))
        at = 0
        for b, m, bad, keep in zip(short, ms, failed, keeps):
            drawn[b] += m
            unbalanced[b] += int(bad)
            rows[b].append(kept_before + np.arange(at, at + len(keep)))
            got[b] += len(keep)
            at += len(keep)
        kept_before += len(keep_all)
    out = pa.concat_tables(rounds).take(np.concatenate([r for stream in rows for r in stream]))
    return out.set_column(0, "patient_id", pa.array(np.concatenate([np.arange(f, f + n, dtype=np.int64) for f, n in zip(first_ids, sizes)])))


def _check_draws(pop: Population, n: int, got: int, drawn: int, unbalanced: int) -> None:
    """Give up (InputError naming the field) when fewer than one draw in :data:`MAX_DRAWS_PER_PATIENT` was kept."""
    if drawn <= MAX_DRAWS_PER_PATIENT * max(n, 20):
        return
    if unbalanced > drawn // 2:
        raise InputError(
            "continuous.forward_sv_ml", pop.continuous["forward_sv_ml"].mean,
            f"LVEDV, LVEF, EROA and forward SV marginals whose flows balance (total SV = forward SV + RVol) for at least 1 in {MAX_DRAWS_PER_PATIENT} drawn patients",
            f"{got} of {drawn} drawn patients were kept; {unbalanced} failed the flow balance",
        )  # fmt: skip
    raise InputError(
        "eligibility", pop.eligibility.model_dump(exclude_none=True, include={"max_gap_mm", "max_lesion_width_mm", "max_tenting_depth_mm", "max_leaflet_calcification", "max_annular_calcification"}),
        f"criteria that at least 1 in {MAX_DRAWS_PER_PATIENT} patients of the population meets",
        f"{got} of {drawn} drawn patients were eligible",
    )


#: The balance's gross-error test: a draw whose reconciliation moves its four flow measurements by a
#: Mahalanobis distance² above this quantile of χ²(1) is replaced (its values cannot be one patient's
#: measurements within their uncertainty; data-reconciliation convention, level a model choice).
BALANCE_TEST_LEVEL = 0.99
#: Measurements the flow balance reconciles, in order.
BALANCED = ("lvedv_ml", "lvef_pct", "eroa_cm2", "forward_sv_ml")
#: Linearised Lagrange steps of the reconciliation (module docstring).
BALANCE_ITERATIONS = 6
BALANCE_TOL_ML = 0.05
"""A reconciled draw must close the balance to this (mL): far below any measurement SD."""


def balance_flows(pop: Population, patients: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """Reconcile each drawn patient's LVEDV, LVEF, EROA and forward SV to the flow balance (module
    docstring); returns the table with the reconciled values and ``(n,) bool``: the draws that pass
    the gross-error test and keep every reconciled value inside its marginal's ``[lo, hi]``."""
    from mitrasim.cohort.mapping import baseline_sds, regurgitant_vti_at  # the engine's orifice law and the measurement SDs
    from mitrasim.echo.lv_bias import ECHO_2D_EDV_BIAS_ML, ECHO_2D_ESV_BIAS_ML

    col = lambda k: patients.column(k).to_numpy()  # noqa: E731
    a = np.stack([col(k) for k in BALANCED], axis=1)
    sbp, hr = col("sbp_mmhg"), col("hr_bpm")
    groups = [(m, regurgitant_vti_at(pop.presets[e], hr[m], sbp[m])) for e in ("primary", "secondary") if (m := level_mask(patients, "etiology", e)).any()]

    def vti_at(eroa: np.ndarray) -> np.ndarray:
        v = np.empty(len(hr))
        for m, vti in groups:
            v[m] = vti(eroa[m])
        return v

    bias = 0.0
    if pop.lv_volume_method == "echo_2d":
        bias = ECHO_2D_EDV_BIAS_ML - ECHO_2D_ESV_BIAS_ML
        citations.cite("rigolli2016_lv_bias")
    s2 = baseline_sds(sbp, a[:, 0], a[:, 1], a[:, 2], a[:, 3])[:, 1:] ** 2  # SDs at the drawn values
    x = a.copy()
    for _ in range(BALANCE_ITERATIONS):
        vti = vti_at(x[:, 2])  # the VTI at the current EROA (a weak dependence, held fixed within a step)
        h, grad = _flow_balance(x, vti, bias)
        # Lagrange step of min Σ (x − a)²/s² subject to h(x) = 0, linearised at x (exact in 1-2 steps: h is bilinear in EDV, EF)
        lam = (h + np.sum(grad * (a - x), axis=1)) / np.sum(grad**2 * s2, axis=1)
        x = a - s2 * grad * lam[:, None]
    d2 = np.sum((x - a) ** 2 / s2, axis=1)
    ok = (d2 <= _chi2_quantile(BALANCE_TEST_LEVEL)) & (np.abs(_flow_balance(x, vti_at(x[:, 2]), bias)[0]) < BALANCE_TOL_ML)
    for j, k in enumerate(BALANCED):
        c = pop.continuous[k]
        ok &= (x[:, j] >= c.lo) & (x[:, j] <= c.hi)
    out = patients
    for j, k in enumerate(BALANCED):
        out = out.set_column(out.column_names.index(k), k, pa.array(x[:, j]))
    return out, ok


@lru_cache(maxsize=4)
def _chi2_quantile(level: float) -> float:
    """The ``level`` quantile of χ²(1) (the balance's gross-error test; computed once)."""
    from scipy.stats import chi2

    return float(chi2.ppf(level, 1))


def _flow_balance(x: np.ndarray, vti_cm: np.ndarray, bias_ml: float) -> tuple[np.ndarray, np.ndarray]:
    """The balance ``h = LVEDV·LVEF/100 + bias − forward SV − EROA·VTI`` (mL) and its gradient in
    :data:`BALANCED` order (``bias``: the engine's SV minus the 2D echo one, Rigolli 2016)."""
    edv, ef, eroa, fwd = x.T
    h = edv * ef / 100.0 + bias_ml - fwd - eroa * vti_cm
    grad = np.stack([ef / 100.0, edv / 100.0, -vti_cm, -np.ones_like(fwd)], axis=1)
    return h, grad


def eligible(pop: Population, patients: pa.Table) -> np.ndarray:
    """(n,) bool: the patients meeting ``pop.eligibility`` on the valve the mapping builds for them."""
    from mitrasim.cohort.mapping import chunk_valves  # the valve mapping (imports the engine lazily)

    e = pop.eligibility
    ok = np.ones(patients.num_rows, bool)
    v = chunk_valves(patients) if (e.max_gap_mm is not None or e.max_lesion_width_mm is not None) else None
    if e.max_gap_mm is not None:
        ok &= np.maximum(v.gap_deg_mm, v.gap_fun_mm).max(axis=1) <= e.max_gap_mm
    if e.max_lesion_width_mm is not None:
        ok &= ~level_mask(patients, "etiology", "primary") | (v.lesion_width_mm <= e.max_lesion_width_mm)
    if e.max_tenting_depth_mm is not None:
        ok &= ~level_mask(patients, "etiology", "secondary") | (patients.column("tenting_depth_mm").to_numpy() <= e.max_tenting_depth_mm)
    for column, worst in (("leaflet_calcification", e.max_leaflet_calcification), ("annular_calcification", e.max_annular_calcification)):
        if worst is not None:
            grade = pc.index_in(patients.column(column), value_set=pa.array(CALCIFICATION_LEVELS))  # each patient's level's index
            if grade.null_count:
                raise ValueError(f"{column}: a level outside {CALCIFICATION_LEVELS}")
            ok &= grade.to_numpy() <= CALCIFICATION_LEVELS.index(worst)
    return ok


def _draw(pop: Population, n: int, rng: np.random.Generator, first_id: int, L: np.ndarray | None = None) -> pa.Table:
    """``n`` patients from the copula (no eligibility); ``L``: the Cholesky factor of
    :func:`correlation_matrix` if already computed."""
    L = np.linalg.cholesky(correlation_matrix(pop)) if L is None else L
    return _draw_streams(pop, [n], [rng], [first_id], L)


def _draw_streams(pop: Population, sizes: Sequence[int], rngs: Sequence[np.random.Generator], first_ids: Sequence[int], L: np.ndarray) -> pa.Table:
    """:func:`_draw` of several streams as one table, stream after stream: each stream's correlated
    normals from its own generator (:func:`_latent`), then the marginals' transforms once over every
    row; they act element by element, so each row is what :func:`_draw` of its stream alone gives."""
    z = np.concatenate([_latent(pop, n, rng, L) for n, rng in zip(sizes, rngs)])
    u = special.ndtr(z)
    names = pop.variables()
    cols: dict[str, Any] = {"patient_id": np.concatenate([np.arange(f, f + n, dtype=np.int64) for n, f in zip(sizes, first_ids)])}
    for j, name in enumerate(names):
        if name in REQUIRED_CONTINUOUS or name in OPTIONAL_CONTINUOUS:
            cols[name] = _truncated_ppf(u[:, j], pop.continuous[name])
        else:
            levels = pop.categorical[name].levels
            keys = list(levels)
            cum = np.cumsum([levels[k] for k in keys])
            k = np.minimum(np.searchsorted(cum / cum[-1], u[:, j], side="right"), len(keys) - 1)
            cols[name] = pa.array(keys, type=pa.string()).take(k)  # the level of each patient (no Python string per patient)
    cols["ic_diameter_mm"] = np.maximum(cols["ic_diameter_mm"], cols["ap_diameter_mm"] * 0.9)
    return pa.table(cols)


def _latent(pop: Population, n: int, rng: np.random.Generator, L: np.ndarray) -> np.ndarray:
    """(n, variables): one stream's standard normals correlated by ``L``.  Two blocks of standard
    normals: the variables older than ANATOMY_VARIABLES (last in the order) keep, for a seed, the
    values they had before those were added (L is lower triangular)."""
    n_opt = len(pop.optional_variables())
    k = L.shape[0] - len(ANATOMY_VARIABLES) - n_opt
    blocks = [rng.standard_normal((n, k)), rng.standard_normal((n, len(ANATOMY_VARIABLES)))] + ([rng.standard_normal((n, n_opt))] if n_opt else [])
    return np.concatenate(blocks, axis=1) @ L.T


def population_citations(pop: Population) -> list[str]:
    """Citation keys behind a population (its sources and every marginal's), in order."""
    seen: dict[str, None] = {}
    for s in [*pop.sources, *(c.source for c in pop.continuous.values()), *(c.source for c in pop.categorical.values())]:
        seen.setdefault(s, None)
    if pop.eligibility.active:
        seen.setdefault(pop.eligibility.source, None)
    if pop.lv_volume_method == "echo_2d":
        seen.setdefault("rigolli2016_lv_bias", None)
    return list(seen)
