"""Noisy echo readings at the procedure's decisions.

Every reading an operator acts on is a measurement: the model's state (the
"true" beat metrics, :func:`mitrasim.procedure.hemodynamics.echo_arrays`) plus
beat-to-beat variation (a new draw at every reading) and the reader's bias (one
draw per patient and quantity for the whole procedure: the same echocardiographer
reads every step):

    gradient_read = gradient · (1 + cv_beat,G · z_beat) + sd_obs,G · z_obs
    Q_read        = Q · (1 + cv_beat,R · z_beat + cv_obs,R · z_obs)

for each regurgitation quantity ``Q`` (EROA, PISA radius, RVol, volumetric RVol,
RF, vena contracta; one common draw per reading, so they stay consistent), all
clipped at 0.  The gradient is read by TEE at the procedure's heart rate (the
state under anaesthesia, :mod:`mitrasim.procedure.loading`).  The MR grade is then
graded from the read values, so a decision can be wrong the way real decisions
are: a clip released at a read 4.8 mmHg whose true gradient is 5.3, a second clip
not added because residual MR read 1+ was 2+.

Magnitudes (:data:`READING_VARIABILITY`) are model choices [check]: the echo
reading resolution (0.5 mmHg) and typical Doppler beat-to-beat variation in sinus
rhythm set their order; no study giving inter-observer and beat-to-beat SDs of the
intraprocedural TEE gradient and PISA after TEER was found in the sources searched.
"""

from __future__ import annotations

import numpy as np

from mitrasim.devices.variability import STREAMS, normals

__all__ = ["READING_VARIABILITY", "REGURGITATION_FIELDS", "read_echo", "observer_draws"]

READING_VARIABILITY = {
    "gradient_beat_cv": 0.08,
    "gradient_observer_sd_mmhg": 0.4,
    "regurgitation_beat_cv": 0.10,
    "regurgitation_observer_cv": 0.15,
}
"""Beat-to-beat and inter-observer variability of the readings (model [check])."""

REGURGITATION_FIELDS = ("eroa_cm2", "pisa_radius_cm", "rvol_ml", "rvol_volumetric_ml", "rf_pct", "vc_cm")
"""Echo fields scaled by the regurgitation reading noise."""


def observer_draws(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The observer's draws (gradient, regurgitation) of patients ``keys``: a patient's own, the same
    in every reading (drawn once per run by the procedure and passed to :func:`read_echo`)."""
    return normals(keys, STREAMS["gradient_observer"]), normals(keys, STREAMS["regurgitation_observer"])


def read_echo(echo: dict[str, np.ndarray], keys: np.ndarray, clip: np.ndarray | int, attempt: np.ndarray | int,
              observer: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    """The readings of states whose true echo is ``echo`` (arrays (m,)); ``keys`` (m,) the
    patients' draw keys (:func:`mitrasim.devices.variability.patient_keys`), ``clip`` and
    ``attempt`` the reading's numbers (the beat-to-beat draw differs per reading); ``observer``:
    :func:`observer_draws` of ``keys`` when already drawn."""
    v = READING_VARIABILITY
    zb_g = normals(keys, STREAMS["gradient_beat"], clip, attempt)
    zb_r = normals(keys, STREAMS["regurgitation_beat"], clip, attempt)
    zo_g, zo_r = observer_draws(keys) if observer is None else observer
    out = dict(echo)
    g = np.asarray(echo["mean_gradient_mmhg"], dtype=float)
    out["mean_gradient_mmhg"] = np.maximum(0.0, g * (1.0 + v["gradient_beat_cv"] * zb_g) + v["gradient_observer_sd_mmhg"] * zo_g)
    f = np.maximum(0.0, 1.0 + v["regurgitation_beat_cv"] * zb_r + v["regurgitation_observer_cv"] * zo_r)
    for name in REGURGITATION_FIELDS:
        out[name] = np.asarray(echo[name], dtype=float) * f
    out["rf_pct"] = np.minimum(100.0, out["rf_pct"])
    return out
