"""The TEER device catalogue: arm (paddle) length, width, grasp reach, sources.

Dimensions are those of the clinical reference table (clinical.md, marked
[check] there).  What public documents confirmed (see each device's
``source_keys``): the four G4 sizes NT, XT, NTW, XTW and independent grippers
(Abbott 2020); XT(R) arms 3 mm longer than NT(R) (EXPAND, EuroPCR 2019); PASCAL
paddles, spacer and independent clasps (CLASP, Lim et al. 2019).  The exact
millimetres (9/12 mm arms, 4/6 mm widths; PASCAL Ace 6 mm, PASCAL 10 mm
paddles; PASCAL paddle length) were *not* found in a manufacturer IFU in the
sources searched: treat them as configurable defaults and override them with
:func:`load_catalogue` (YAML) when the IFU is at hand.

``grasp_reach_mm`` is the largest coaptation/flail gap the device is taken to
bridge.  Rule (model): 10 mm for the 9-mm-arm NT family, from the EVEREST II
exclusion of flail gaps ≥ 10 mm with the original (NT-length) clip, plus 1 mm
per mm of arm beyond 9 mm (:func:`reach_from_arm_mm`: XT 13 mm, PASCAL's
10-mm paddles 11 mm).  For PASCAL the leaflets are grasped against the spacer,
so each needs to bridge only ``(gap − spacer)/2`` and keeps more tissue in the
grasp (:func:`mitrasim.valve.clip.available_leaflet_mm`); the reach itself is
not extended by the spacer, whose calibrated value is an *effective* thickness
(below), not a measured dimension.

PASCAL as PASCAL: ``spacer_mm`` is the thickness by which the central spacer
holds the two leaflets apart (it fills the gap at the device and, in
diastole, keeps the opening beside the device from closing below it — see
:mod:`mitrasim.valve.clip`); paddles are the ``width_mm``.  Both families grasp
the leaflets independently (PASCAL clasps, MitraClip G4 grippers); the model does
not yet distinguish a single-leaflet re-grasp from a new attempt
(:mod:`mitrasim.devices.variability`).  The spacer thicknesses are calibrated
(:func:`mitrasim.procedure.clip_calibration.calibrate_spacers`) on the relative valve-area
reductions by PASCAL and PASCAL Ace measured by Paukovitsch et al. 2024 (the
manufacturer's spacer dimensions were not found in the sources searched [check]).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import yaml

from mitrasim import citations
from mitrasim.errors import InputError

__all__ = ["Device", "DEFAULT_CATALOGUE", "load_catalogue", "get_device", "device_arrays", "spacer_arrays", "max_grasp_reach_mm", "reach_from_arm_mm", "PASCAL_SPACER_MM"]

citations.register(
    "abbott_g4_2020",
    "Abbott. MitraClip G4: tailored, optimized, proven - here's what's new (press material, 24 Sep 2020). "
    "https://www.abbott.com/corpnewsroom/healthy-heart/mitraclip-g4-tailored-optimized-proven-heres-whats-new.html",
    note="Four G4 clip sizes (NT, XT, NTW, XTW); independent gripper actuation.",
)
citations.register(
    "tctmd_expand2019",
    "TCTMD. Newer-generation MitraClip XTR shows promise, but beware the learning curve (EuroPCR 2019, "
    "EXPAND registry, Hausleiter J). https://www.tctmd.com/news/newer-generation-mitraclip-xtr-shows-promise-beware-learning-curve",
    note="XTR arms are longer than NTR (the catalogue's XT and NT arm_length_mm); a signal of more "
    "single-leaflet device attachment with XTR.",
)
citations.register(
    "lim2019_clasp",
    "Lim DS et al. Transcatheter valve repair for patients with mitral regurgitation: 30-day results "
    "of the CLASP study. JACC Cardiovasc Interv 12:1369 (2019).",
    note="PASCAL: broad curved paddles, a central spacer, independently actuated clasps.",
)
citations.register(
    "clinical_reference_devices",
    "mitrasim clinical reference (shared/reference/clinical.md), device table: MitraClip G4 NT/XT arm "
    "9/12 mm, NT/NTW width 4/6 mm; PASCAL Ace 6 mm and PASCAL 10 mm paddles [to check against the IFU].",
)
citations.register("user_override", "Device dimensions overridden by the user's catalogue file.")


@dataclass(frozen=True)
class Device:
    """One TEER implant size.  Lengths in mm."""

    name: str
    family: str  # "MitraClip" or "PASCAL"
    arm_length_mm: float  # clip arm / paddle length (depth of leaflet tissue held)
    width_mm: float  # along the coaptation line
    grasp_reach_mm: float  # largest gap it is taken to bridge
    source_keys: tuple[str, ...] = ()
    note: str = ""
    spacer_mm: float = 0.0  # PASCAL central spacer: effective thickness holding the leaflets apart (calibrated)


NT_ARM_MM = 9.0
NT_REACH_MM = 10.0
"""EVEREST II excluded flail gaps ≥ 10 mm with the original (NT-length, 9-mm arm) clip."""

PASCAL_SPACER_MM = {"PASCAL": 10.0, "PASCAL Ace": 0.0}
"""Effective spacer thickness (mm) from :func:`mitrasim.procedure.clip_calibration.calibrate_spacers`
(anchors: Paukovitsch 2024 relative MVA reductions, after a_dia is fitted to the MVA-halving
anchor).  PASCAL matches its anchor; PASCAL Ace's fit lands on the lower bound 0: a 6-mm
device without spacer already reduces the secondary-MR valve's area less than measured
(``PAUKOVITSCH_MVA_REDUCTION["PASCAL Ace"]``; the model's value is printed by the valve calibration report) — a miss of the clip model's single-device area effect, reported, not tuned."""
PASCAL_PADDLE_LENGTH_MM = 10.0
"""PASCAL paddle length [check: not found in the sources searched]."""


def reach_from_arm_mm(arm_length_mm: float) -> float:
    """Grasp reach rule (module docstring): ``10 + (arm − 9)`` mm."""
    return NT_REACH_MM + (arm_length_mm - NT_ARM_MM)


_MC = ("clinical_reference_devices", "abbott_g4_2020", "tctmd_expand2019", "feldman2011_everest2")
_PA = ("clinical_reference_devices", "lim2019_clasp")

DEFAULT_CATALOGUE: dict[str, Device] = {
    d.name: d
    for d in (
        Device("NT", "MitraClip", 9.0, 4.0, reach_from_arm_mm(9.0), _MC, "MitraClip G4 NT"),
        Device("XT", "MitraClip", 12.0, 4.0, reach_from_arm_mm(12.0), _MC, "MitraClip G4 XT: arms 3 mm longer"),
        Device("NTW", "MitraClip", 9.0, 6.0, reach_from_arm_mm(9.0), _MC, "MitraClip G4 NTW: wide"),
        Device("XTW", "MitraClip", 12.0, 6.0, reach_from_arm_mm(12.0), _MC, "MitraClip G4 XTW: long and wide"),
        Device("PASCAL Ace", "PASCAL", PASCAL_PADDLE_LENGTH_MM, 6.0, reach_from_arm_mm(PASCAL_PADDLE_LENGTH_MM), _PA + ("paukovitsch2024",),
               "PASCAL Ace: narrow paddles, small spacer; paddle length [check]", PASCAL_SPACER_MM["PASCAL Ace"]),
        Device("PASCAL", "PASCAL", PASCAL_PADDLE_LENGTH_MM, 10.0, reach_from_arm_mm(PASCAL_PADDLE_LENGTH_MM), _PA + ("paukovitsch2024",),
               "PASCAL (P10): 10-mm paddles, large spacer; paddle length [check]", PASCAL_SPACER_MM["PASCAL"]),
    )
}

_NUM_FIELDS = {"arm_length_mm": (3.0, 25.0), "width_mm": (2.0, 15.0), "grasp_reach_mm": (2.0, 25.0), "spacer_mm": (0.0, 15.0)}
_REQUIRED_NEW = ("arm_length_mm", "width_mm", "grasp_reach_mm")


def load_catalogue(path: str | Path | None = None, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Device]:
    """The default catalogue, updated from a YAML file and/or a mapping.

    YAML form::

        devices:
          XT: {arm_length_mm: 12.0}
          MyClip: {family: MitraClip, arm_length_mm: 10, width_mm: 5, grasp_reach_mm: 11}

    Known devices take partial updates; new devices need every numeric field.
    """
    cat = dict(DEFAULT_CATALOGUE)
    items: dict[str, Mapping[str, Any]] = {}
    if path is not None:
        data = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(data, dict) or set(data) - {"devices"}:
            raise InputError("catalogue", sorted(data) if isinstance(data, dict) else data, "a mapping with one key 'devices'")
        items.update(data.get("devices") or {})
    if overrides:
        items.update(overrides)
    allowed = {f.name for f in fields(Device)} - {"name", "source_keys"}
    for name, upd in items.items():
        field_base = f"devices.{name}"
        if not isinstance(upd, Mapping):
            raise InputError(field_base, upd, "a mapping of device fields")
        extra = set(upd) - allowed
        if extra:
            raise InputError(f"{field_base}.{sorted(extra)[0]}", upd[sorted(extra)[0]], f"one of {sorted(allowed)}")
        for k, (lo, hi) in _NUM_FIELDS.items():
            if k in upd:
                v = upd[k]
                if not isinstance(v, (int, float)) or not lo <= float(v) <= hi:
                    raise InputError(f"{field_base}.{k}", v, f"[{lo:g}, {hi:g}] mm")
        if name in cat:
            cat[name] = replace(cat[name], **{k: (float(v) if k in _NUM_FIELDS else v) for k, v in upd.items()}, source_keys=cat[name].source_keys + ("user_override",))
        else:
            missing = [k for k in ("family", *_REQUIRED_NEW) if k not in upd]
            if missing:
                raise InputError(f"{field_base}.{missing[0]}", None, "required for a new device")
            cat[name] = Device(name=name, family=str(upd["family"]), arm_length_mm=float(upd["arm_length_mm"]), width_mm=float(upd["width_mm"]), grasp_reach_mm=float(upd["grasp_reach_mm"]), source_keys=("user_override",), note=str(upd.get("note", "")), spacer_mm=float(upd.get("spacer_mm", 0.0)))
    return cat


def get_device(name: str, catalogue: Mapping[str, Device] | None = None) -> Device:
    cat = DEFAULT_CATALOGUE if catalogue is None else catalogue
    try:
        return cat[name]
    except KeyError:
        raise InputError("device", name, f"one of {sorted(cat)}") from None


def device_arrays(names: Sequence[Sequence[str | None]] | np.ndarray, catalogue: Mapping[str, Device] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Widths and arm lengths (mm) for a ``(n_plans, max_clips)`` array of device names
    (``None`` or ``""`` = no clip → NaN)."""
    arr = np.asarray(names, dtype=object)
    width = np.full(arr.shape, np.nan)
    arm = np.full(arr.shape, np.nan)
    for idx, nm in np.ndenumerate(arr):
        if nm:
            d = get_device(str(nm), catalogue)
            width[idx] = d.width_mm
            arm[idx] = d.arm_length_mm
    return width, arm


def spacer_arrays(names: Sequence[Sequence[str | None]] | np.ndarray, catalogue: Mapping[str, Device] | None = None) -> np.ndarray:
    """Spacer thickness (mm) for a ``(n_plans, max_clips)`` array of device names (0 = none)."""
    arr = np.asarray(names, dtype=object)
    out = np.zeros(arr.shape)
    for idx, nm in np.ndenumerate(arr):
        if nm:
            out[idx] = get_device(str(nm), catalogue).spacer_mm
    return out


def max_grasp_reach_mm(catalogue: Mapping[str, Device] | None = None) -> float:
    """The largest gap any device in the catalogue can bridge (mm)."""
    cat = DEFAULT_CATALOGUE if catalogue is None else catalogue
    return max(d.grasp_reach_mm for d in cat.values())
