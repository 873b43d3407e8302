"""Credibility built in: published comparators, verification, validation, sensitivity (ASME V&V 40).

``mitrasim validate COMPARATORS.yaml --out DIR`` (:mod:`mitrasim.validate.commands`) runs each comparator's
trial through :mod:`mitrasim.cohort.trial` and writes the report of :mod:`mitrasim.validate.report`.
"""

from importlib import resources
from pathlib import Path

__all__ = ["DEVELOPMENT_COMPARATORS"]

#: The shipped development comparator file.
DEVELOPMENT_COMPARATORS = Path(str(resources.files("mitrasim.validate").joinpath("comparators", "development.yaml")))
