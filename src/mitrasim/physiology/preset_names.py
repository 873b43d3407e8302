"""The presets' names and one-line labels, and the default "normal heart" (no imports: the CLI's
help text reads it without loading the engine).

Every command and page that offers a normal heart by default uses :data:`DEFAULT_PRESET`, the
physiological normal set; ``regazzoni2022`` stays available by name and is labelled as the
paper's own set, which is not a normal heart (its mean PA pressure is that of pulmonary
hypertension: see ``regazzoni2022_normal``'s calibration text in
:mod:`mitrasim.physiology.parameter_sets`).
"""

from __future__ import annotations

__all__ = ["DEFAULT_PRESET", "PRESET_LABELS", "preset_help"]

DEFAULT_PRESET = "regazzoni2022_normal"

#: name → what it is, as every listing shows it (CLI help, ``/api/meta``, the web page).
PRESET_LABELS: dict[str, str] = {
    "regazzoni2022_normal": "normal adult heart (the paper's set with normal pulmonary resistance; default)",
    "regazzoni2022": "the paper's own set (Regazzoni 2022), not a normal heart: pulmonary hypertension",
    "svzerod_two_hill": "svZeroDSolver's closed_loop_two_hill test case",
    "primary_mr": "compensated chronic primary MR",
    "secondary_mr": "compensated chronic secondary MR",
}


def preset_help() -> str:
    """``--preset`` help text: every preset with its label."""
    return "parameter set: " + "; ".join(f"{n} = {lab}" for n, lab in PRESET_LABELS.items())
