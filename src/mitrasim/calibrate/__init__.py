"""The patient's own heart: measurements (case file or FHIR), fit of the circulation, uncertainty.

* :mod:`mitrasim.calibrate.measurements` — the ``measurements:`` block, methods, biases, uncertainties;
* :mod:`mitrasim.calibrate.fit` — weighted least squares with batched Jacobians, identifiability,
  Laplace ensemble;
* :mod:`mitrasim.calibrate.case` — a case file's calibrated patient (used by plan and procedure).
"""

from mitrasim.calibrate.fit import Calibration, calibrate_measurements
from mitrasim.calibrate.measurements import Measured, Measurements, parse_measurements

__all__ = ["Calibration", "calibrate_measurements", "Measured", "Measurements", "parse_measurements"]
