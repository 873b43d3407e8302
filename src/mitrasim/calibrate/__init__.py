"""The patient's own heart: measurements (case file or FHIR), fit of the circulation, uncertainty.

* :mod:`mitrasim.calibrate.measurements` — the ``measurements:`` block, methods, biases, uncertainties;
* :mod:`mitrasim.calibrate.fit` — weighted least squares with batched Jacobians, identifiability,
  Laplace ensemble;
* :mod:`mitrasim.procedure.patient` — a case file's calibrated patient (used by plan and procedure).
"""

from typing import Any

from mitrasim.calibrate.measurements import Measured, Measurements, parse_measurements


def __getattr__(name: str) -> Any:  # the fit (scipy.optimize, the engine) only when asked for
    if name in ("Calibration", "calibrate_measurements"):
        from mitrasim.calibrate import fit

        return getattr(fit, name)
    raise AttributeError(name)


__all__ = ["Calibration", "Measured", "Measurements", "calibrate_measurements", "parse_measurements"]
