"""Echo: what a sonographer measures, and the guideline grade of it.

- :mod:`.calculators`: PISA, volumetric method, pressure half-time, vena contracta, Bernoulli.
- :mod:`.thresholds`: the one table of grading thresholds with their sources.
- :mod:`.grading`: integrative MR grade (ASE 2017 algorithm and criteria table / ESC 2021).
- :mod:`.stenosis`: mitral stenosis grade and the echo component of MVARC (residual MR,
  iatrogenic stenosis); the endpoints themselves are :mod:`mitrasim.echo.mvarc`.
- :mod:`.simulated`: the one echo path from simulated states (procedure, planner, cohort, web).
- :mod:`.synthetic`: synthetic echo from a simulated beat's waveforms, with optional noise.
"""

from mitrasim.echo import sources as _sources  # noqa: F401
from mitrasim.echo.grading import MRGrade, MRInputs, grade_mr
from mitrasim.echo.stenosis import MVARCResult, StenosisGrade, evaluate_mvarc, grade_stenosis
from mitrasim.echo.synthetic import (
    EchoMeasurements,
    NoiseModel,
    echo_from_simulation,
    echo_from_simulation_all,
    measurement_columns,
    synthetic_echo,
)

__all__ = [
    "MRGrade",
    "MRInputs",
    "grade_mr",
    "StenosisGrade",
    "grade_stenosis",
    "MVARCResult",
    "evaluate_mvarc",
    "EchoMeasurements",
    "NoiseModel",
    "synthetic_echo",
    "echo_from_simulation",
    "echo_from_simulation_all",
    "measurement_columns",
]
