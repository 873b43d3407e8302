"""MVARC endpoints of transcatheter mitral repair: technical, device and procedural success.

Stone GW et al., "Clinical Trial Design Principles and Endpoint Definitions for Transcatheter
Mitral Valve Repair and Replacement", JACC 2015;66:278–307 (Part 1) and 308–321 (Part 2),
composite endpoint table of Part 2. Each endpoint is a named function returning an
:class:`Endpoint`: its time point, its components (each met, failed, or not assessable, with
the reason) and the names of those that failed. An endpoint fails when any component fails,
cannot be decided when a component is not assessable (and none failed), and succeeds only
when every component is met.

* :func:`technical_success` — **at exit from the procedure room**: alive; device delivered,
  deployed and the delivery system retrieved; the intended device(s) correctly positioned
  (no single-leaflet attachment nor embolization in the room); no emergency surgery or
  reintervention related to the device or the access.
* :func:`device_success` — **at 30 days** (and at every later visit): alive and stroke-free;
  the device in place and working (no single-leaflet attachment, no embolization); no
  unplanned surgery or reintervention; MR reduced to *optimal* or *acceptable* and no
  iatrogenic stenosis (:func:`mitrasim.echo.evaluate_mvarc`, the echo component).
* :func:`procedural_success` — **at 30 days**: device success and no major
  device- or procedure-related adverse event (death, stroke, life-threatening or major
  bleeding, major cardiac structural complication — pericardial effusion/tamponade —,
  urgent surgery or reintervention).

Which event belongs to which endpoint follows the clinical reference's summary of Part 1/2
([check] against the papers: the bleeding and effusion severities counted here are the
procedure model's "major bleeding" and "pericardial effusion / tamponade"). The procedure
model does not time an in-hospital death within the stay, so the technical-success component
"alive at exit" is *not assessable* after one (device and procedural success fail).
The simulated final echo is taken to hold at 30 days (no remodelling is modelled).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, overload

import numpy as np

from mitrasim import citations
from mitrasim.echo import sources as _sources  # noqa: F401  (registers stone2015_mvarc)
from mitrasim.echo.stenosis import AREA_RANGE_CM2, MEAN_GRADIENT_RANGE_MMHG, MVARCResult, evaluate_mvarc, stenosis_criteria
from mitrasim.errors import InputError

__all__ = [
    "EVENT_NAMES",
    "MVARCEvents",
    "Component",
    "Endpoint",
    "MVARCEndpoints",
    "technical_success",
    "device_success",
    "procedural_success",
    "evaluate_endpoints",
    "MVARCBatch",
    "events_from_complications",
    "events_from_names",
]

PART1 = citations.register(
    "stone2015_mvarc_part1",
    "Stone GW, Vahanian AS, Adams DH, et al. Clinical Trial Design Principles and Endpoint Definitions "
    "for Transcatheter Mitral Valve Repair and Replacement: Part 1: Clinical Trial Design Principles. "
    "J Am Coll Cardiol 66:278-307 (2015).",
    doi="10.1016/j.jacc.2015.05.046",
)


@dataclass(frozen=True)
class MVARCEvents:
    """Clinical events of one patient (``None`` = not assessed; ``False`` = did not occur).

    `device_implanted`: at least one device delivered, deployed and left in the valve with the
    delivery system retrieved. The rest are adverse events of the procedure or its 30 days.
    """

    device_implanted: bool | None = None
    death: bool | None = None
    stroke: bool | None = None
    urgent_surgery: bool | None = None
    slda: bool | None = None
    embolization: bool | None = None
    major_bleeding: bool | None = None
    pericardial_effusion: bool | None = None

    def to_dict(self) -> dict[str, bool | None]:
        return asdict(self)


#: Names accepted by :meth:`MVARCEvents.from_names` (and ``mitrasim mvarc --events``).
EVENT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(MVARCEvents) if f.name != "device_implanted") + ("no_device_implanted",)


def events_from_names(names: list[str] | None) -> MVARCEvents:
    """Events from a list of names: every adverse event listed occurred, every other did not
    (``["none"]``: none occurred, a device implanted). ``None``: nothing assessed."""
    if names is None:
        return MVARCEvents()
    for n in names:
        if n not in EVENT_NAMES and n != "none":
            raise InputError("events", n, "none | " + " | ".join(EVENT_NAMES))
    if "none" in names and len(names) > 1:
        raise InputError("events", ",".join(names), "'none' alone, or a list of: " + " | ".join(EVENT_NAMES))
    kw: dict[str, bool] = {f.name: f.name in names for f in fields(MVARCEvents) if f.name != "device_implanted"}
    return MVARCEvents(device_implanted="no_device_implanted" not in names, **kw)


def events_from_complications(complications: dict[str, bool], n_clips: int) -> MVARCEvents:
    """Events from the procedure model's complication flags (:mod:`mitrasim.procedure.risks` names)."""
    c = complications
    return MVARCEvents(
        device_implanted=n_clips > 0,
        death=bool(c.get("in_hospital_death", False)),
        stroke=bool(c.get("stroke", False)),
        urgent_surgery=bool(c.get("urgent_surgery", False)),
        slda=bool(c.get("slda", False)),
        embolization=bool(c.get("embolization", False)),
        major_bleeding=bool(c.get("bleeding", False)),
        pericardial_effusion=bool(c.get("pericardial_effusion", False)),
    )


@dataclass(frozen=True)
class Component:
    """One component of an endpoint: `met` True, False (failed) or None (not assessable)."""

    name: str
    met: bool | None
    detail: str


@dataclass
class Endpoint:
    """An MVARC composite endpoint at its time point."""

    name: str
    time_point: str
    components: list[Component]
    success: bool | None = field(init=False)
    failed: list[str] = field(init=False)
    not_assessable: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.failed = [c.name for c in self.components if c.met is False]
        self.not_assessable = [c.name for c in self.components if c.met is None]
        self.success = False if self.failed else None if self.not_assessable else True

    @property
    def verdict(self) -> str:
        """``"met"``, ``"not met: <failed components>"`` or ``"cannot be decided: <components>"``."""
        if self.success:
            return "met"
        if self.success is False:
            return "not met: " + ", ".join(self.failed)
        return "cannot be decided: " + ", ".join(self.not_assessable) + " not assessed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "time_point": self.time_point,
            "success": self.success,
            "verdict": self.verdict,
            "failed": list(self.failed),
            "not_assessable": list(self.not_assessable),
            "components": [asdict(c) for c in self.components],
        }


def _absent(name: str, occurred: bool | None, label: str) -> Component:
    """Component "no <event>": met when the event did not occur."""
    if occurred is None:
        return Component(name, None, f"{label}: not assessed")
    return Component(name, not occurred, f"{label}: {'yes' if occurred else 'no'}")


def technical_success(ev: MVARCEvents) -> Endpoint:
    """MVARC technical success, at exit from the procedure room (module docstring)."""
    alive = (
        Component("alive_at_exit", None, "in-hospital death: its time within the stay is not modelled")
        if ev.death
        else _absent("alive_at_exit", ev.death, "death")
    )
    delivered = (
        Component("device_delivered_and_retrieved", None, "device delivery: not assessed")
        if ev.device_implanted is None
        else Component("device_delivered_and_retrieved", ev.device_implanted, "device deployed and delivery system retrieved" if ev.device_implanted else "no device implanted")
    )
    placed_bad = None if ev.slda is None or ev.embolization is None else bool(ev.slda or ev.embolization)
    placed = _absent("device_correctly_positioned", placed_bad, "single-leaflet attachment or embolization")
    return Endpoint(
        "technical_success",
        "exit from the procedure room",
        [alive, delivered, placed, _absent("no_emergency_surgery_or_reintervention", ev.urgent_surgery, "emergency surgery or reintervention")],
    )


def device_success(ev: MVARCEvents, echo: MVARCResult) -> Endpoint:
    """MVARC device success, at 30 days and later (module docstring). `echo`: the residual-MR and
    stenosis evaluation (:func:`mitrasim.echo.evaluate_mvarc`)."""
    mr_ok = None if echo.residual_mr == "indeterminate" else echo.residual_mr in ("optimal", "acceptable")
    sten = echo.iatrogenic_stenosis
    return Endpoint(
        "device_success",
        "30 days (and every later visit)",
        [
            _absent("alive", ev.death, "death"),
            _absent("stroke_free", ev.stroke, "stroke"),
            Component("device_in_place", ev.device_implanted, "device implanted" if ev.device_implanted else "no device in place" if ev.device_implanted is False else "device: not assessed"),
            _absent("no_slda", ev.slda, "single-leaflet device attachment"),
            _absent("no_embolization", ev.embolization, "device embolization"),
            _absent("no_unplanned_surgery_or_reintervention", ev.urgent_surgery, "unplanned surgery or reintervention"),
            Component("mr_reduction_optimal_or_acceptable", mr_ok, f"residual MR {echo.mr_before} → {echo.mr_after}: {echo.residual_mr}"),
            Component("no_iatrogenic_stenosis", None if sten is None else not sten, "stenosis not assessed" if sten is None else "iatrogenic stenosis" if sten else "no iatrogenic stenosis"),
        ],
    )


def procedural_success(ev: MVARCEvents, device: Endpoint) -> Endpoint:
    """MVARC procedural success, at 30 days: device success and no major adverse event (module docstring)."""
    dev = Component("device_success", device.success, device.verdict)
    return Endpoint(
        "procedural_success",
        "30 days",
        [
            dev,
            _absent("no_death", ev.death, "death"),
            _absent("no_stroke", ev.stroke, "stroke"),
            _absent("no_major_bleeding", ev.major_bleeding, "life-threatening or major bleeding"),
            _absent("no_major_cardiac_structural_complication", ev.pericardial_effusion, "pericardial effusion / tamponade"),
            _absent("no_urgent_surgery_or_reintervention", ev.urgent_surgery, "urgent surgery or reintervention"),
        ],
    )


@dataclass
class MVARCEndpoints:
    """The three MVARC endpoints of one patient, the echo component and the events they used.

    ``success``, ``residual_mr`` and ``iatrogenic_stenosis`` are device success's and the echo
    component's (for code that read :class:`~mitrasim.echo.MVARCResult`)."""

    echo: MVARCResult
    events: MVARCEvents
    technical: Endpoint
    device: Endpoint
    procedural: Endpoint
    citations: list[str] = field(default_factory=lambda: ["stone2015_mvarc_part1", "stone2015_mvarc"])

    @property
    def success(self) -> bool | None:
        return self.device.success

    @property
    def residual_mr(self) -> str:
        return self.echo.residual_mr

    @property
    def iatrogenic_stenosis(self) -> bool | None:
        return self.echo.iatrogenic_stenosis

    @property
    def mr_before(self) -> str:
        return self.echo.mr_before

    @property
    def mr_after(self) -> str:
        return self.echo.mr_after

    def lines(self) -> list[str]:
        """One line per endpoint: name, time point, verdict."""
        return [f"MVARC {e.name.replace('_', ' ')} ({e.time_point}): {e.verdict}" for e in (self.technical, self.device, self.procedural)]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.echo.to_dict(),
            "success": self.success,
            "events": self.events.to_dict(),
            "technical_success": self.technical.to_dict(),
            "device_success": self.device.to_dict(),
            "procedural_success": self.procedural.to_dict(),
            "citations": list(self.citations),
        }


def evaluate_endpoints(echo: MVARCResult, events: MVARCEvents) -> MVARCEndpoints:
    """Technical, device and procedural success from the echo component and the events."""
    tech = technical_success(events)
    dev = device_success(events, echo)
    proc = procedural_success(events, dev)
    citations.cite("stone2015_mvarc_part1", "stone2015_mvarc")
    return MVARCEndpoints(echo, events, tech, dev, proc)


def _distinct_rows(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(key, axis=0, return_index=True, return_inverse=True)[1:]`` of an ``(n, k)`` integer
    array: the first row of each distinct row (in the rows' lexicographic order) and each row's
    distinct row.  Each row is read as one integer, its columns the digits (most significant first,
    each shifted to 0 and in the base of its range), whose order is the rows' lexicographic order;
    rows of too wide a range for one int64 take ``np.unique`` itself."""
    if key.shape[0] == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    lo = key.min(axis=0)
    base = key.max(axis=0) - lo + 1
    if float(np.prod(base.astype(float))) >= 2.0**62:
        _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
        return first, inverse.reshape(-1)
    code = np.zeros(key.shape[0], np.int64)
    for j in range(key.shape[1]):
        code = code * base[j] + (key[:, j] - lo[j])
    _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


ENDPOINT_NAMES = ("technical", "device", "procedural")
"""The three endpoints of :class:`MVARCEndpoints`, in its order."""


class MVARCBatch(Sequence[MVARCEndpoints]):
    """The MVARC endpoints of many patients (a procedure run): patient ``i``'s
    :class:`MVARCEndpoints` on demand (``batch[i]``, :func:`evaluate_mvarc` and
    :func:`evaluate_endpoints` on its values), and :meth:`columns` for all at once.

    ``before``/``after``: decision grades (ints); ``eoa_cm2``/``mean_gradient_mmhg``: the echo
    component's values after the procedure; ``complications``: event name →
    ``(n,)`` bool (:func:`events_from_complications` names); ``n_clips``: devices left in place.

    :meth:`columns` evaluates the endpoints once per distinct combination of what decides them
    — the two grades, the two stenosis criteria (:func:`~mitrasim.echo.stenosis.stenosis_criteria`),
    the events and whether a device is in place — on one patient of that combination, and gives
    every patient its combination's flags (the endpoints depend on nothing else).  A patient whose
    EOA or gradient the echo component would refuse is evaluated alone (the same error).
    """

    def __init__(self, before: np.ndarray, after: np.ndarray, eoa_cm2: np.ndarray, mean_gradient_mmhg: np.ndarray,
                 complications: dict[str, np.ndarray], n_clips: np.ndarray) -> None:  # fmt: skip
        self.before, self.after = np.asarray(before).astype(int), np.asarray(after).astype(int)
        self.eoa_cm2, self.mean_gradient_mmhg = np.asarray(eoa_cm2, dtype=float), np.asarray(mean_gradient_mmhg, dtype=float)
        self.complications = {k: np.asarray(v, dtype=bool) for k, v in complications.items()}
        self.n_clips = np.asarray(n_clips).astype(int)
        self._cache: dict[int, MVARCEndpoints] = {}

    def __len__(self) -> int:
        return int(self.before.size)

    @overload
    def __getitem__(self, i: int) -> MVARCEndpoints: ...
    @overload
    def __getitem__(self, i: slice) -> list[MVARCEndpoints]: ...
    def __getitem__(self, i: int | slice) -> MVARCEndpoints | list[MVARCEndpoints]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self))[i]
        if i not in self._cache:
            echo = evaluate_mvarc(int(self.before[i]), int(self.after[i]), eoa_after_cm2=float(self.eoa_cm2[i]), mean_gradient_after_mmhg=float(self.mean_gradient_mmhg[i]))
            events = events_from_complications({k: bool(v[i]) for k, v in self.complications.items()}, int(self.n_clips[i]))
            self._cache[i] = evaluate_endpoints(echo, events)
        return self._cache[i]

    def columns(self) -> dict[str, Any]:
        """Per patient: ``residual_mr`` (str array), ``no_stenosis`` (bool: the echo component found
        no iatrogenic stenosis), ``technical``/``device``/``procedural`` (bool: the endpoint succeeded)
        and ``failed`` (list of ``endpoint:component`` strings joined by ``;``)."""
        n = len(self)
        e, g = self.eoa_cm2, self.mean_gradient_mmhg
        (e_lo, e_hi), (g_lo, g_hi) = AREA_RANGE_CM2, MEAN_GRADIENT_RANGE_MMHG  # evaluate_mvarc's ranges
        plain = np.isfinite(e) & np.isfinite(g) & (e > e_lo) & (e <= e_hi) & (g >= g_lo) & (g <= g_hi)
        for i in np.flatnonzero(~plain):
            self[int(i)]  # raises the echo component's error
        small, high = stenosis_criteria(e, g)
        events = [self.complications[k] for k in sorted(self.complications)]
        key = np.column_stack([self.before, self.after, small, high, self.n_clips > 0, *events]).astype(np.int64) if n else np.zeros((0, 1), np.int64)
        first, inverse = _distinct_rows(key)
        reps = [self[int(i)] for i in first]
        pick = lambda values: np.asarray(values, dtype=object)[inverse.reshape(-1)]  # noqa: E731
        out: dict[str, Any] = {
            "residual_mr": pick([m.residual_mr for m in reps]),
            "no_stenosis": pick([m.iatrogenic_stenosis is False for m in reps]).astype(bool),
            **{ep: pick([getattr(m, ep).success is True for m in reps]).astype(bool) for ep in ENDPOINT_NAMES},
            "failed": pick([";".join(f"{ep}:{c}" for ep in ENDPOINT_NAMES for c in getattr(m, ep).failed) for m in reps]).tolist(),
        }
        citations.cite("stone2015_mvarc_part1", "stone2015_mvarc")
        return out
