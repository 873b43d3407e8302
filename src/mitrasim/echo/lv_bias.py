"""The bias of 2D echo LV volumes against cardiac MR (Rigolli 2016), one definition for every user.

A 2D echo LV volume reads low against CMR (the model's physical volume) by a fixed amount,
with no bias in LVEF:

    EDV_2D = EDV − ECHO_2D_EDV_BIAS_ML,    ESV_2D = ESV − ECHO_2D_ESV_BIAS_ML

Used by the calibration's measurement model (:mod:`mitrasim.calibrate.measurements`) and the
cohort's baseline mapping (:mod:`mitrasim.cohort.mapping`).
"""

from __future__ import annotations

from typing import Literal

from mitrasim import citations

__all__ = ["ECHO_2D_EDV_BIAS_ML", "ECHO_2D_ESV_BIAS_ML", "LvVolumeMethod"]

citations.register(
    "rigolli2016_lv_bias",
    "Rigolli M, Anandabaskaran S, Christiansen JP, Whalley GA. Bias associated with left ventricular "
    "quantification by multimodality imaging: a systematic review and meta-analysis. "
    "Open Heart 3:e000388 (2016).",
    doi="10.1136/openhrt-2015-000388",
    note="65 studies, 2,888 patients: 2D echo against CMR underestimates LVEDV and LVESV "
    "(mitrasim.echo.lv_bias.ECHO_2D_EDV_BIAS_ML, ECHO_2D_ESV_BIAS_ML; p < 0.0001); LVEF agrees (bias 0.78-1.01%).",
)

ECHO_2D_EDV_BIAS_ML = 33.3
"""2D echo underestimates LVEDV against CMR by this much (mL; rigolli2016_lv_bias, 65 studies)."""
ECHO_2D_ESV_BIAS_ML = 16.2
"""2D echo underestimates LVESV against CMR by this much (mL; rigolli2016_lv_bias)."""

LvVolumeMethod = Literal["echo_2d", "cmr"]
"""How LV volumes were measured: ``echo_2d`` (read low by the biases above) or ``cmr`` (taken as they are)."""
