"""Typed codes of the procedure's steps (:mod:`mitrasim.procedure.steps`) instead of bare integers."""

from __future__ import annotations

from enum import IntEnum, StrEnum

from mitrasim.devices.grasp import GRASP_STATUS

__all__ = ["GraspStatus", "Refusal", "Outcome", "Action"]


class GraspStatus(IntEnum):
    """Grasp status codes of :func:`mitrasim.devices.grasp_arrays` (names: ``GRASP_STATUS``)."""

    GOOD = 0
    MARGINAL = 1
    INFEASIBLE = 2

    @property
    def word(self) -> str:
        return GRASP_STATUS[int(self)]


if tuple(s.word for s in GraspStatus) != tuple(GRASP_STATUS):  # pragma: no cover - a guard on the devices module
    raise ImportError(f"GraspStatus out of step with mitrasim.devices.grasp.GRASP_STATUS {GRASP_STATUS}")


class Refusal(IntEnum):
    """Why a candidate clip may not be released (the first that applies, in this order)."""

    NONE = 0  #: it may be released
    GRASP = 1  #: the grasp is infeasible
    NO_STEADY_STATE = 2  #: the engine found no steady state
    GRADIENT = 3  #: mean gradient at or above the release limit
    AREA = 4  #: valve area below the limit
    NO_GAIN = 5  #: neither a lower grade nor the minimum EROA reduction


class Outcome(IntEnum):
    """The operator's decision on a clip."""

    RELEASE = 0  #: the first attempt is released
    REPOSITION = 1  #: moved to the best alternative within the rules and released there
    REMOVE = 2  #: opened and removed; the procedure stops


class Action(StrEnum):
    """Kinds of log entries (:class:`mitrasim.procedure.process.ClipStep` ``action``)."""

    BASELINE = "baseline"
    ATTEMPT = "attempt"
    REPOSITION = "reposition"
    RELEASE = "release"
    REMOVED = "removed"
    SLDA = "slda"
    EMBOLIZATION = "embolization"
    DECIDE = "decide"
    EVENT = "event"
    STOP = "stop"
    FINAL = "final"
