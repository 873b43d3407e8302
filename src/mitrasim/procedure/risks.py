"""Procedural complications: registered rates, the patient's and the course's risk, seeded sampling.

Each rate lives here once, with its source (clinical.md, "Risks"); all are configurable
through :class:`ComplicationRates`.  The registered rates are read as the rates of the
**reference patient** (the TVT registry's median patient: :data:`REFERENCE_AGE_YEARS`, STS-PROM
:data:`REFERENCE_STS_PCT`, LVEF ≥ :data:`LOW_LVEF_PCT`) on the **reference course**
(:data:`CLIPS_PER_PATIENT` clips, no move, :data:`~mitrasim.procedure.timing.REFERENCE_MINUTES`).
A patient's probability is the reference probability with its odds multiplied
(``odds(p) = odds(p_ref) · m``, so it stays below 1):

* **patient risk** (:func:`patient_multipliers`): in-hospital death by a surgical-risk proxy,
  the STS-PROM when given (``m = STS / REFERENCE_STS_PCT``), else
  ``DEATH_OR_PER_DECADE^((age − REFERENCE_AGE_YEARS)/10) × (LOW_LVEF_MULTIPLIER if LVEF < LOW_LVEF_PCT)``; stroke by age
  (``STROKE_OR_PER_DECADE``); major bleeding ``× BLEEDING_ANTICOAGULANT_MULTIPLIER`` on oral
  anticoagulation; etiology enters through LVEF only (no etiology effect on in-hospital events
  was read: model choice);
* **course** (:func:`mitrasim.procedure.timing.course_multiplier`): stroke and in-hospital death scale with the procedure
  time over the reference time (exposure: model choice); pericardial effusion/tamponade is a
  per-puncture and per-grasp hazard (:data:`TAMPONADE_AT_PUNCTURE_SHARE` of the reference rate at
  the transseptal puncture, the rest spread over the reference grasps); urgent surgery a per-clip
  hazard; after urgent surgery the odds of death are ``× DEATH_AFTER_SURGERY_OR``, after a
  tamponade ``× DEATH_AFTER_TAMPONADE_OR``.

Events change the course: a tamponade is drained (pericardiocentesis, +20 min) and the
procedure goes on, unless refractory (:data:`REFRACTORY_TAMPONADE_SHARE`: urgent surgery); urgent
surgery ends the procedure; :data:`DEATH_IN_ROOM_SHARE` of the in-hospital deaths happen in the
procedure room (a per-clip hazard) and end it.  Every multiplier without a source is a model
choice marked [check].

Sampling is Bernoulli from one ``numpy.random.Generator``: the procedure draws a uniform matrix
``U = rng.random((n_patients, N_DRAWS))`` once, row ``i`` for patient ``i``, so a patient's draws
depend on the seed and its index only (not on the batch size or on the other patients' courses).

Columns of ``U`` (:data:`COLUMNS`): ``slda[k]`` and ``embolization[k]`` for clip slots
``k = 0..MAX_SLOTS-1``; the post-procedure events (bleeding, stroke, in-hospital death); the
transseptal tamponade; then per clip slot ``tamponade[k]``, ``urgent_surgery[k]`` and
``room_death[k]``.

Per-clip rates: the registries report SLDA per patient, in cohorts that used
:data:`CLIPS_PER_PATIENT` clips per patient on average (EXPAND), so the per-clip base rate is
``p_patient / CLIPS_PER_PATIENT``; each clip's rate is multiplied by its grasp's SLDA multiplier
(:func:`mitrasim.devices.assess_grasp`).

Where each default rate comes from (:data:`RATE_SOURCES`; the place read is in each source's note):
in-hospital death is TVT 2017's overall in-hospital mortality (the cohort whose median patient is
the reference patient); stroke and major bleeding are TVT 2016's 30-day rates (the MVARC endpoints
that count them are 30-day endpoints); SLDA per patient is the EXPAND core-lab panel's share
(:data:`EXPAND_SLDA_PATIENTS` of :data:`EXPAND_LAE_PATIENTS` confirmed leaflet events at
:data:`EXPAND_LAE_INCIDENCE`).  Embolization: none in ACCESS-EU's 567 patients; the default lies
below that series' 95% upper bound (rule of three) and is a model choice.  Pericardial
effusion/tamponade and urgent surgery: no source was read that gives them [check]; the defaults
are the clinical reference's ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

import numpy as np

from mitrasim import citations
from mitrasim.errors import InputError

__all__ = [
    "POST_EVENTS",
    "COLUMNS",
    "PatientRisk",
    "patient_multipliers",
    "scale_odds",
    "REFERENCE_AGE_YEARS",
    "REFERENCE_STS_PCT",
    "ComplicationRates",
    "DEFAULT_RATES",
    "NO_COMPLICATIONS",
    "MAX_SLOTS",
    "N_DRAWS",
    "PATIENT_EVENTS",
    "EVENT_LABELS",
    "draw_uniforms",
    "RATE_SOURCES",
]

citations.register(
    "sorajja2016_tvt",
    "Sorajja P, et al. Initial Experience With Commercial Transcatheter Mitral Valve Repair in the United States "
    "(STS/ACC TVT Registry). J Am Coll Cardiol (2016) [volume, pages and co-authors not read: check].",
    note="Read in the ACC journal scan of 7 March 2016 (a summary of the abstract) [sec]: 564 patients, median age "
    "83, median STS-PROM for repair 7.9%, 90.8% degenerative MR; in-hospital mortality 2.3%; at 30 days mortality "
    "5.8%, stroke 1.8%, bleeding 2.6%, device-related complications 1.4% (the stroke and bleeding defaults of "
    "mitrasim.procedure.risks.ComplicationRates).",
)
citations.register(
    "maisano2013_access_eu",
    "Percutaneous Mitral Valve Interventions in the Real World: Early and 1-Year Results From the ACCESS-EU, A "
    "Prospective, Multicenter, Nonrandomized Post-Approval Study of the MitraClip Therapy in Europe. J Am Coll "
    "Cardiol (2013) (Maisano F, et al.: authors not on the page read [check]).",
    doi="10.1016/j.jacc.2013.02.094",
    note="Abstract read: 567 patients at 14 European sites, implant rate 99.6%, 30-day mortality 3.4%, single-"
    "leaflet device attachment in 27 (4.8%, first-generation device), no MitraClip device embolization.",
)
citations.register(
    "asch2021_expand_lae",
    "Asch FM, Little SH, Mackensen GB, Grayburn PA, Sorajja P, Rinaldi M, Maisano F, Kar S. Incidence and "
    "standardised definitions of mitral valve leaflet adverse events after transcatheter mitral valve repair: "
    "the EXPAND study. EuroIntervention (2021) [volume and pages not read: check]; PMC9724852.",
    doi="10.4244/EIJ-D-21-00012",
    note="Abstract read: an independent panel confirmed leaflet adverse events after MitraClip NTR/XTR in "
    "mitrasim.procedure.risks.EXPAND_LAE_PATIENTS patients (incidence EXPAND_LAE_INCIDENCE): SLDA in "
    "EXPAND_SLDA_PATIENTS, leaflet injury in 4 (2 had both); SLDA found at implant (2), before discharge (7) or "
    "at 30 days (7), resolved with additional clips in 75%.",
)
citations.register(
    "singh2024_tvt_bleeding",
    "Singh N, Cohen DJ, Shah MA, Kosinski AS, Brothers L, Vemulapalli S, Elmariah S. Trends, Predictors, and "
    "Outcomes of Bleeding Complications After Mitral Transcatheter Edge-to-Edge Repair: TVT Registry Insights. "
    "JACC Cardiovasc Interv (2024).",
    doi="10.1016/j.jcin.2024.09.035",
    note="Abstract read: in-hospital major bleeding in 2.3% of 51,533 TVT patients (2013-2022), falling from 7.1% "
    "(2013) to 2.0% (2021). A cross-check of the bleeding default (TVT 2016's 30-day rate), not used.",
)

citations.register(
    "clinical_reference_risks",
    "mitrasim clinical reference (shared/reference/clinical.md), 'Risks': in-hospital death 2.3-2.7% and "
    "stroke 1-2.6% (TVT registry), major bleeding about 2.6% (TVT early), SLDA about 1.5-2% (EXPAND leaflet "
    "adverse events 2.0%), pericardial effusion/tamponade about 0.5-1% [check], urgent surgery < 1% [check], "
    "clip embolization < 0.5% [check].",
)

MAX_SLOTS = 6
PATIENT_EVENTS = ("bleeding", "pericardial_effusion", "stroke", "urgent_surgery", "in_hospital_death")
EVENT_LABELS = {
    "bleeding": "major bleeding",
    "pericardial_effusion": "pericardial effusion / tamponade",
    "stroke": "stroke",
    "urgent_surgery": "urgent cardiac surgery",
    "in_hospital_death": "in-hospital death",
    "slda": "single-leaflet device attachment",
    "embolization": "clip embolization",
}
POST_EVENTS = ("bleeding", "stroke", "in_hospital_death")
"""Drawn after the procedure (with the patient's and the course's multipliers)."""

COLUMNS: dict[str, int] = {
    **{f"slda[{k}]": k for k in range(MAX_SLOTS)},
    **{f"embolization[{k}]": MAX_SLOTS + k for k in range(MAX_SLOTS)},
    **{e: 2 * MAX_SLOTS + j for j, e in enumerate(POST_EVENTS)},
    "tamponade_puncture": 2 * MAX_SLOTS + len(POST_EVENTS),
    **{f"tamponade[{k}]": 2 * MAX_SLOTS + len(POST_EVENTS) + 1 + k for k in range(MAX_SLOTS)},
    **{f"urgent_surgery[{k}]": 3 * MAX_SLOTS + len(POST_EVENTS) + 1 + k for k in range(MAX_SLOTS)},
    **{f"room_death[{k}]": 4 * MAX_SLOTS + len(POST_EVENTS) + 1 + k for k in range(MAX_SLOTS)},
}
"""Column of ``U`` for each draw."""

N_DRAWS = len(COLUMNS)
CLIPS_PER_PATIENT = 1.5
"""Mean clips per patient used to turn per-patient SLDA and embolization rates into per-clip rates:
EXPAND's mean (Kar 2023, ``kar2023_expand``, read on a secondary page [sec]), the cohort of the
SLDA rate."""

EXPAND_LAE_INCIDENCE = 0.020
"""Incidence of panel-confirmed leaflet adverse events in EXPAND (Asch 2021, abstract)."""
EXPAND_LAE_PATIENTS = 20
"""Patients with a panel-confirmed leaflet adverse event in EXPAND (Asch 2021, abstract)."""
EXPAND_SLDA_PATIENTS = 18
"""Of those, patients with single-leaflet device attachment (Asch 2021, abstract)."""


@dataclass(frozen=True)
class ComplicationRates:
    """Probabilities (fractions, not %) of each complication.

    ``slda_per_patient`` and ``embolization_per_patient`` are per procedure and
    become per-clip rates by dividing by :data:`CLIPS_PER_PATIENT`; the others
    are per procedure.
    """

    bleeding: float = 0.026  # TVT 2016: bleeding 2.6% at 30 days [sec]
    pericardial_effusion: float = 0.0075  # clinical reference: about 0.5-1% [check]: middle; no source read
    stroke: float = 0.018  # TVT 2016: stroke 1.8% at 30 days [sec]
    urgent_surgery: float = 0.005  # clinical reference: < 1% [check]; no source read
    in_hospital_death: float = 0.027  # TVT 2017: in-hospital mortality 2.7% (abstract)
    slda_per_patient: float = EXPAND_LAE_INCIDENCE * EXPAND_SLDA_PATIENTS / EXPAND_LAE_PATIENTS  # EXPAND panel (Asch 2021)
    embolization_per_patient: float = 0.002  # model choice below ACCESS-EU's 0 of 567 (95% upper bound 3/567)

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not (isinstance(v, (int, float)) and 0.0 <= float(v) <= 0.5):
                raise InputError(f"rates.{f.name}", v, "[0, 0.5] (a probability)")

    @property
    def slda_per_clip(self) -> float:
        return self.slda_per_patient / CLIPS_PER_PATIENT

    @property
    def embolization_per_clip(self) -> float:
        return self.embolization_per_patient / CLIPS_PER_PATIENT

    def patient_rates(self) -> np.ndarray:
        return np.array([getattr(self, e) for e in PATIENT_EVENTS])

    def with_(self, **kw: Any) -> "ComplicationRates":
        names = {f.name for f in fields(self)}
        for k in kw:
            if k not in names:
                raise InputError(f"rates.{k}", kw[k], f"one of {sorted(names)}")
        return replace(self, **kw)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> "ComplicationRates":
        return DEFAULT_RATES.with_(**dict(data or {}))


DEFAULT_RATES = ComplicationRates()
NO_COMPLICATIONS = ComplicationRates(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

RATE_SOURCES: dict[str, tuple[str, ...]] = {
    "bleeding": ("sorajja2016_tvt",),
    "pericardial_effusion": ("clinical_reference_risks",),
    "stroke": ("sorajja2016_tvt",),
    "urgent_surgery": ("clinical_reference_risks",),
    "in_hospital_death": ("sorajja2017_tvt",),
    "slda_per_patient": ("asch2021_expand_lae", "kar2023_expand"),
    "embolization_per_patient": ("maisano2013_access_eu", "clinical_reference_risks"),
}


def draw_uniforms(seed: int | np.random.Generator, n: int) -> np.ndarray:
    """``U`` (n, N_DRAWS) uniform draws; row ``i`` depends only on the seed and ``i``."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    citations.cite(*sorted({k for v in RATE_SOURCES.values() for k in v}))
    return rng.random((n, N_DRAWS))


# ----------------------------------------------------------------------------- patient and course risk

citations.register(
    "puls2016_trami",
    "Puls M, Lubos E, Boekstegers P, et al. One-year outcomes and predictors of mortality after MitraClip "
    "therapy in contemporary clinical practice: results from the German transcatheter mitral valve "
    "interventions registry. Eur Heart J 37:703-712 (2016).",
    note="Abstract read (PMC4761401): 828 patients, median age 76; predictors of 1-year mortality include LVEF "
    "below mitrasim.procedure.risks.LOW_LVEF_PCT (hazard ratio LOW_LVEF_MULTIPLIER, P = 0.01), NYHA IV, anaemia, "
    "creatinine >= 1.5 mg/dL, peripheral artery disease, severe TR and procedural failure.",
)

REFERENCE_AGE_YEARS = 82.0
"""TVT registry median age (Sorajja 2017, abstract): the registered rates are this patient's."""

REFERENCE_STS_PCT = 6.1
"""TVT registry median STS-PROM for mitral repair, in % (IQR 3.7-9.9 %) (Sorajja 2017, abstract)."""

DEATH_OR_PER_DECADE = 1.5
"""Odds ratio of in-hospital death per 10 years of age: model choice [check] (TVT names age as a
predictor of mortality; no odds ratio was read)."""

LOW_LVEF_PCT = 30.0
LOW_LVEF_MULTIPLIER = 1.58
"""LVEF < :data:`LOW_LVEF_PCT`: TRAMI's hazard ratio of 1-year mortality (Puls 2016, abstract: read there).
Applying a 1-year hazard ratio as an odds multiplier of in-hospital death is a model choice."""

STROKE_OR_PER_DECADE = 1.3
"""Odds ratio of stroke per 10 years of age: model choice [check]."""

BLEEDING_ANTICOAGULANT_MULTIPLIER = 1.5
"""Odds multiplier of major bleeding on oral anticoagulation: model choice [check]."""

TAMPONADE_AT_PUNCTURE_SHARE = 0.5
"""Share of the reference tamponade rate at the transseptal puncture; the rest comes with the grasps
(model choice [check])."""

REFRACTORY_TAMPONADE_SHARE = 0.2
"""Share of tamponades that need urgent surgery (model choice [check])."""

DEATH_IN_ROOM_SHARE = 0.1
"""Share of in-hospital deaths in the procedure room (model choice [check])."""

DEATH_AFTER_SURGERY_OR = 5.0
"""Odds multiplier of in-hospital death after urgent surgery (model choice [check])."""

DEATH_AFTER_TAMPONADE_OR = 2.0
"""Odds multiplier of in-hospital death after a tamponade (model choice [check])."""

REFERENCE_GRASPS = CLIPS_PER_PATIENT
"""Grasps on the reference course (one per clip, no move)."""


@dataclass(frozen=True)
class PatientRisk:
    """What the in-hospital risk model reads from a patient (None = the reference value)."""

    age_years: float | None = None
    lvef_pct: float | None = None
    sts_prom_pct: float | None = None
    on_anticoagulant: bool = False


def scale_odds(p: np.ndarray | float, m: np.ndarray | float) -> np.ndarray:
    """``p`` with its odds multiplied by ``m`` (``p = 1`` stays 1)."""
    p = np.asarray(p, dtype=float)
    o = p / np.maximum(1.0 - p, 1e-300) * m
    return np.where(p >= 1.0, 1.0, o / (1.0 + o))


def patient_multipliers(risks: "list[PatientRisk]") -> dict[str, np.ndarray]:
    """Odds multipliers per event (n,) from each patient's risk (module docstring)."""
    citations.cite("sorajja2017_tvt", "puls2016_trami")
    age = np.array([REFERENCE_AGE_YEARS if r.age_years is None else r.age_years for r in risks], dtype=float)
    lvef = np.array([np.inf if r.lvef_pct is None else r.lvef_pct for r in risks], dtype=float)
    sts = np.array([np.nan if r.sts_prom_pct is None else r.sts_prom_pct for r in risks], dtype=float)
    proxy = DEATH_OR_PER_DECADE ** ((age - REFERENCE_AGE_YEARS) / 10.0) * np.where(lvef < LOW_LVEF_PCT, LOW_LVEF_MULTIPLIER, 1.0)
    one = np.ones(len(risks))
    return {
        "in_hospital_death": np.where(np.isfinite(sts), sts / REFERENCE_STS_PCT, proxy),
        "stroke": STROKE_OR_PER_DECADE ** ((age - REFERENCE_AGE_YEARS) / 10.0),
        "bleeding": np.where([r.on_anticoagulant for r in risks], BLEEDING_ANTICOAGULANT_MULTIPLIER, 1.0),
        "pericardial_effusion": one,
        "urgent_surgery": one,
    }
