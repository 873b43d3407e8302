"""The procedure's phases as the operator's log shows them, their durations and the transseptal height.

Phases (each a log entry; the durations add up to the procedure time, skin to closure):

* ``access``: ultrasound-guided femoral venous puncture, steerable guide (24 F MitraClip, 22 F PASCAL);
* ``transseptal``: puncture of the fossa ovalis, posterior and superior, at a height above the
  mitral annular plane measured on TEE (4-chamber view): :data:`TRANSSEPTAL_HEIGHT_CM` by
  etiology (a secondary MR coapts deeper in the ventricle, so a lower puncture still leaves room
  to steer), plus :data:`MEDIAL_EXTRA_HEIGHT_CM` for a medial (A3/P3) target, which needs more
  room to bend down;
* ``steering``: guide into the left atrium, delivery system advanced and steered down; per clip,
  alignment perpendicular to the coaptation line above the target (3D en-face view);
* ``grasp`` with the ``insertion`` check (both leaflets in the arms, insertion lengths), the
  ``check`` of MR, mean gradient and LA pressure (mean and v wave), then ``release``, or a
  ``reposition`` (open, re-grasp) or a device ``exchange`` (delivery system out, another size in);
* ``tamponade`` management (pericardiocentesis) when it happens;
* ``final`` septal (iatrogenic atrial septal defect: shunt on colour Doppler) and pericardial
  check, then ``closure`` of the venous access.

Every duration is a model choice [check]: no source read here gives phase times; they were
chosen so that a one- or two-clip procedure lasts about 1.5-2 h (the order of the registry
procedure times, [check]).  The heights are the usual teaching values [check].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mitrasim.procedure.risks import CLIPS_PER_PATIENT

__all__ = ["PHASE_MINUTES", "TRANSSEPTAL_HEIGHT_CM", "MEDIAL_EXTRA_HEIGHT_CM", "transseptal_height_cm", "clip_minutes", "REFERENCE_MINUTES"]

PHASE_MINUTES: dict[str, float] = {
    "access": 10.0,
    "transseptal": 10.0,
    "steering": 15.0,  # into the LA and down to the valve, once
    "align": 8.0,  # per clip: above the target, perpendicular to the line
    "grasp": 5.0,  # per grasp
    "insertion": 3.0,  # leaflet-insertion check, per grasp
    "check": 5.0,  # MR, gradient and LA pressure, per grasp
    "release": 5.0,
    "reposition": 5.0,  # open and move (the new grasp counted apart)
    "exchange": 15.0,  # delivery system out, another size prepared and in (the new grasp apart)
    "tamponade": 20.0,  # pericardiocentesis
    "final": 5.0,  # septal and pericardial check
    "closure": 10.0,
}
"""Minutes of each phase (model choices [check])."""

TRANSSEPTAL_HEIGHT_CM: dict[str, float] = {"primary": 4.0, "secondary": 3.5}
"""Puncture height above the mitral annular plane by etiology (teaching values [check])."""

MEDIAL_EXTRA_HEIGHT_CM = 0.5
"""Added for a medial (A3/P3) target (teaching value [check])."""


def transseptal_height_cm(etiology: str, scallop: str) -> float:
    """Target height of the transseptal puncture above the annular plane."""
    return TRANSSEPTAL_HEIGHT_CM[etiology] + (MEDIAL_EXTRA_HEIGHT_CM if scallop.endswith("3") else 0.0)


def clip_minutes(moved: Any, exchanged: Any, released: Any) -> Any:
    """Minutes of one clip (scalars or arrays of bool): alignment, the first grasp with its checks, a
    move (reposition or exchange) with its grasp and checks, and the release (when released)."""
    per_grasp = PHASE_MINUTES["grasp"] + PHASE_MINUTES["insertion"] + PHASE_MINUTES["check"]
    move = np.where(exchanged, PHASE_MINUTES["exchange"], PHASE_MINUTES["reposition"]) + per_grasp
    return PHASE_MINUTES["align"] + per_grasp + np.where(moved, move, 0.0) + np.where(released, PHASE_MINUTES["release"], 0.0)


REFERENCE_MINUTES = (
    PHASE_MINUTES["access"] + PHASE_MINUTES["transseptal"] + PHASE_MINUTES["steering"]
    + CLIPS_PER_PATIENT * float(clip_minutes(False, False, True)) + PHASE_MINUTES["final"] + PHASE_MINUTES["closure"]
)  # fmt: skip
"""Minutes of the reference course: :data:`~mitrasim.procedure.risks.CLIPS_PER_PATIENT` clips, no move, no event."""


def course_multiplier(minutes: np.ndarray) -> np.ndarray:
    """Exposure multiplier of stroke and in-hospital death: procedure time over the reference time."""
    return np.asarray(minutes, dtype=float) / REFERENCE_MINUTES
