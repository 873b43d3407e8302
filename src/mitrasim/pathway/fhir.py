"""The care plan as FHIR R4: a Bundle with a CarePlan, its Appointments and its Tasks.

The same :class:`~mitrasim.pathway.careplan.Event` list that makes the calendar makes this export, so the
two always agree.  Each event becomes, by its ``kind``:

* ``appointment`` → an ``Appointment`` (status ``proposed``: the hospital books it) referenced from
  ``CarePlan.activity.reference``; timed events carry ``start``/``end`` instants, all-day ones a
  ``requestedPeriod`` of dates;
* ``task`` → a ``Task`` (status ``requested``, intent ``plan``) with its ``executionPeriod``;
* ``medication`` → ``CarePlan.activity.detail`` of kind ``MedicationRequest`` (the drug itself is the
  prescriber's, so no MedicationRequest resource is invented);
* ``info`` → ``CarePlan.activity.detail`` with its scheduled period.

The resources are validated with ``fhir.resources`` (its R4B models; R4B changed nothing in CarePlan,
Appointment or Task from R4).  A plan without the hospital's telephone number is exported with
``CarePlan.status = draft``.  Texts are the patient's language; no simulated result enters the export.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from mitrasim.pathway import texts
from mitrasim.pathway.careplan import CarePlan, Event
from mitrasim.pathway.i18n import translator

__all__ = ["FHIR_VERSION", "careplan_to_fhir"]

FHIR_VERSION = "4.0.1"
_NAMESPACE = uuid.UUID("0b1f5a63-2c4e-5d7a-8e91-3f6a2b7c9d40")


def _urn(plan: CarePlan, what: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, plan.facts.procedure_date.isoformat() + '|' + what)}"


def _period(e: Event) -> dict[str, str]:
    if e.all_day:
        return {"start": e.first_day.isoformat(), "end": e.last_day.isoformat()}
    return {"start": e.start.isoformat(), "end": e.end.isoformat()}


def _appointment(e: Event, plan_ref: str, subject: dict[str, str], lang: str) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Appointment",
        "language": lang,
        "status": "proposed",
        "description": e.title,
        "comment": e.description,
        "basedOn": [{"reference": plan_ref}],
        "participant": [{"actor": subject, "status": "needs-action"}],
    }
    if e.all_day:
        res["requestedPeriod"] = [_period(e)]
    else:
        res["start"], res["end"] = e.start.isoformat(), e.end.isoformat()  # type: ignore[union-attr]
    return res


def _task(e: Event, plan_ref: str, subject: dict[str, str], lang: str) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "language": lang,
        "status": "requested",
        "intent": "plan",
        "description": f"{e.title}. {e.description}",
        "basedOn": [{"reference": plan_ref}],
        "for": subject,
        "executionPeriod": _period(e),
    }


def _detail(e: Event) -> dict[str, Any]:
    d: dict[str, Any] = {"status": "scheduled", "description": f"{e.title}. {e.description}", "scheduledPeriod": _period(e)}
    if e.kind == "medication":
        d["kind"] = "MedicationRequest"
    return d


def careplan_to_fhir(plan: CarePlan, now: dt.datetime | None = None) -> dict[str, Any]:
    """The plan as a FHIR R4 ``Bundle`` (type ``collection``), validated; returned as JSON-ready dict."""
    _ = translator(plan.lang)
    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    plan_ref = _urn(plan, "CarePlan")
    subject = {"display": _(texts.UI["fhir_subject"])}
    entries: list[dict[str, Any]] = []
    activities: list[dict[str, Any]] = []
    for i, e in enumerate(plan.events):
        if e.kind in ("appointment", "task"):
            ref = _urn(plan, f"{i}|{e.code}|{e.start.isoformat()}")
            make = _appointment if e.kind == "appointment" else _task
            entries.append({"fullUrl": ref, "resource": make(e, plan_ref, subject, plan.lang)})
            activities.append({"reference": {"reference": ref, "display": e.title}})
        else:
            activities.append({"detail": _detail(e)})
    careplan = {
        "resourceType": "CarePlan",
        "language": plan.lang,
        "status": "draft" if plan.is_draft else "active",
        "intent": "plan",
        "title": _(texts.UI["doc_title"]),
        "description": _(texts.UI["subtitle"]),
        "subject": subject,
        "created": stamp.isoformat(),
        "period": {"start": min(_period(e)["start"] for e in plan.events if e.all_day),
                   "end": max(_period(e)["end"] for e in plan.events if e.all_day)},
        "activity": activities,
        "note": [{"text": _(texts.UI["research_notice"])}],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": stamp.isoformat(),
        "entry": [{"fullUrl": plan_ref, "resource": careplan}, *entries],
    }
    Bundle.model_validate(bundle)  # raises on any invalid element
    return bundle
