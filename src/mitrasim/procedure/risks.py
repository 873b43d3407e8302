"""Procedural complications: registered rates and seeded sampling.

Each rate lives here once, with its source (clinical.md, "Risks"); all are
configurable through :class:`ComplicationRates`.  Sampling is Bernoulli per
patient (per clip for single-leaflet attachment and embolization) from one
``numpy.random.Generator``: the procedure draws a uniform matrix
``U = rng.random((n_patients, N_DRAWS))`` once, row ``i`` for patient ``i``, so
a patient's draws depend on the seed and its index only (not on the batch
size or on the other patients' courses).

Columns of ``U``: ``slda[k]`` and ``embolization[k]`` for clip slots
``k = 0..MAX_SLOTS-1``, then bleeding, pericardial effusion/tamponade, stroke,
urgent surgery, in-hospital death.

Per-clip rates: the registries report SLDA per patient (about 1.5–2%) with
about 1.4 clips per patient (EXPAND: 54% one clip, 41% two, 5% three or
more), so the per-clip base rate is ``p_patient / 1.4``; each clip's rate is
multiplied by its grasp's SLDA multiplier (:func:`mitrasim.devices.assess_grasp`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

import numpy as np

from mitrasim import citations
from mitrasim.errors import InputError

__all__ = [
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
N_DRAWS = 2 * MAX_SLOTS + len(PATIENT_EVENTS)
CLIPS_PER_PATIENT = 1.4
"""Mean clips per patient used to turn per-patient SLDA and embolization rates
into per-clip rates (EXPAND: 54% one, 41% two, 5% three or more)."""


@dataclass(frozen=True)
class ComplicationRates:
    """Probabilities (fractions, not %) of each complication.

    ``slda_per_patient`` and ``embolization_per_patient`` are per procedure and
    become per-clip rates by dividing by :data:`CLIPS_PER_PATIENT`; the others
    are per procedure.
    """

    bleeding: float = 0.026  # TVT early: major bleeding about 2.6%
    pericardial_effusion: float = 0.0075  # about 0.5-1% [check]: middle
    stroke: float = 0.010  # TVT 1-2.6%; patient text "under 1 in 100": low end
    urgent_surgery: float = 0.005  # < 1% [check]
    in_hospital_death: float = 0.023  # TVT 2.3-2.7%: low end (EXPAND-era cohorts lower)
    slda_per_patient: float = 0.015  # 1.5-2% (EXPAND leaflet adverse events 2.0%)
    embolization_per_patient: float = 0.002  # very rare, < 0.5% [check]

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
    "bleeding": ("sorajja2017_tvt", "clinical_reference_risks"),
    "pericardial_effusion": ("clinical_reference_risks",),
    "stroke": ("sorajja2017_tvt", "clinical_reference_risks"),
    "urgent_surgery": ("clinical_reference_risks",),
    "in_hospital_death": ("sorajja2017_tvt", "clinical_reference_risks"),
    "slda_per_patient": ("tctmd_expand2019", "clinical_reference_risks"),
    "embolization_per_patient": ("clinical_reference_risks",),
}


def draw_uniforms(seed: int | np.random.Generator, n: int) -> np.ndarray:
    """``U`` (n, N_DRAWS) uniform draws; row ``i`` depends only on the seed and ``i``."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    citations.cite(*sorted({k for v in RATE_SOURCES.values() for k in v}))
    return rng.random((n, N_DRAWS))
