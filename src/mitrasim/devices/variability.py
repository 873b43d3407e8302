"""Seeded per-clip variability: placement error, grasp depth, repeated grasp attempts.

A clip rarely lands exactly on its target, and the leaflets rarely sit fully in
the arms.  Each grasp attempt ``c`` of clip ``k`` of patient ``i`` draws

    Δs = σ_place · z₁                          placement error along the line (mm)
    f  = 1 − min(f_max, σ_depth · |z₂|)        grasp-depth factor: effective arm ℓ·f

with ``z₁, z₂`` standard normals (:data:`PLACEMENT_SD_MM`, :data:`GRASP_DEPTH_SD`,
:data:`GRASP_DEPTH_LOSS_MAX`: model choices [check]; no study giving the
distribution of clip placement relative to the targeted segment or of leaflet
insertion depth was found in the sources searched).  The clip model and the grasp
rule see the realised position and the effective arm.  A repositioning or a
different size is a new attempt with its own draws.

Draws are counter-based: a per-patient key (from the procedure's seed; row ``i``
depends only on the seed and ``i``, like the complication draws) hashed with the
stream, clip and attempt numbers (SplitMix64) gives a uniform, mapped to a normal by
the inverse CDF.  So every draw is a pure function of (seed, patient, stream, clip,
attempt): reproducible, independent of which other patients share the batch, of the
order attempts are evaluated in, and of the number of workers.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = [
    "PLACEMENT_SD_MM",
    "GRASP_DEPTH_SD",
    "GRASP_DEPTH_LOSS_MAX",
    "STREAMS",
    "patient_keys",
    "normals",
    "placement_error_mm",
    "grasp_depth_factor",
]

PLACEMENT_SD_MM = 1.5
"""SD of the clip's position along the coaptation line around its target (mm; model [check])."""
GRASP_DEPTH_SD = 0.15
"""Scale of the half-normal loss of leaflet insertion (fraction of the arm; model [check])."""
GRASP_DEPTH_LOSS_MAX = 0.5
"""At most half the arm is lost to a shallow grasp (model)."""

STREAMS = {"placement": 1, "depth": 2, "gradient_beat": 3, "regurgitation_beat": 4, "gradient_observer": 5, "regurgitation_observer": 6}
"""Stream numbers of the counter-based draws (one per kind of draw)."""

_M1, _M2, _GOLD = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


def patient_keys(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n,)`` uint64 keys, row ``i`` a function of the generator's state and ``i`` only."""
    return rng.integers(0, np.iinfo(np.int64).max, size=n, dtype=np.int64).astype(np.uint64)


def _mix(x: np.ndarray | np.unsignedinteger) -> np.ndarray:
    z = x + _GOLD
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _mixed_counter(x: np.ndarray | int, offset: int) -> np.ndarray:
    """``_mix(x + offset)`` of a counter (a clip or attempt number, or an array of them): over a table
    of its values when they are a long array of small non-negative numbers (the same numbers: the
    mix is elementwise), directly otherwise."""
    a = np.asarray(x, dtype=np.int64)
    if a.size > _TABLE_MIN_SIZE:
        lo, hi = int(a.min()), int(a.max())
        if lo >= 0 and hi < _TABLE_MAX_VALUE:
            return _mix(np.arange(hi + 1, dtype=np.uint64) + np.uint64(offset))[a]
    return _mix(a.astype(np.uint64) + np.uint64(offset))


_TABLE_MIN_SIZE, _TABLE_MAX_VALUE = 64, 4096


def normals(keys: np.ndarray, stream: int, clip: np.ndarray | int = 0, attempt: np.ndarray | int = 0) -> np.ndarray:
    """Standard normals, one per element of the broadcast of ``keys``, ``clip``, ``attempt``."""
    with np.errstate(over="ignore"):
        h = _mix(np.asarray(keys, dtype=np.uint64) ^ _mix(np.uint64(stream) * np.uint64(1_000_003)))
        h = _mix(h ^ _mixed_counter(clip, 1 << 20))
        h = _mix(h ^ _mixed_counter(attempt, 1 << 40))
    u = ((h >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
    return special.ndtri(u)


def placement_error_mm(z: np.ndarray) -> np.ndarray:
    """``Δs = σ_place · z`` (mm)."""
    return PLACEMENT_SD_MM * np.asarray(z, dtype=float)


def grasp_depth_factor(z: np.ndarray) -> np.ndarray:
    """``f = 1 − min(f_max, σ_depth · |z|)``: effective arm length / nominal."""
    return 1.0 - np.minimum(GRASP_DEPTH_LOSS_MAX, GRASP_DEPTH_SD * np.abs(np.asarray(z, dtype=float)))
