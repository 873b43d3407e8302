"""The clinician's report of a care plan: the case's simulated results, kept out of the patient's guide.

A case's predicted valve (EROA in cm², ASE grade, mean gradient in mmHg, valve area in cm², clip
positions) is model output for the heart team.  It is written to ``clinician.html`` and never to the
patient's guide, calendar or FHIR CarePlan (the patient's material carries no model numbers).
An indeterminate grade is printed as the word, never as a number.
"""

from __future__ import annotations

from typing import Any

import jinja2
from markupsafe import Markup

from mitrasim.pathway import svg, texts
from mitrasim.pathway.careplan import CarePlan
from mitrasim.pathway.i18n import translator
from mitrasim.pathway.outcome import ValveOutcome

__all__ = ["clinician_rows", "render_clinician_html"]

_DISCLAIMER = (
    "Predicted by mitrasim, a research and education simulator (not a medical device). For the heart "
    "team's discussion only; not a measured result. Not for the patient's material."
)


def clinician_rows(outcome: ValveOutcome) -> list[tuple[str, str, str]]:
    """(quantity, before, after) rows of the predicted result, with units; grades as the grader gave them."""
    return [
        ("EROA (cm²)", f"{outcome.eroa_before_cm2:.2f}", f"{outcome.eroa_after_cm2:.2f}"),
        ("MR grade (ASE 2017)", outcome.mr_grade_before, outcome.mr_grade_after),
        ("Predicted EROA reduction (%)", "", f"{outcome.reduction_percent:.0f}"),
        ("Mean transmitral gradient (mmHg)", "", f"{outcome.mean_gradient_after_mmhg:.1f}"),
        ("Mitral valve area (cm²)", "", f"{outcome.mva_after_cm2:.2f}"),
        ("Clips", "", "; ".join(f"{c.device} at {c.position_mm:.1f} mm, {c.width_mm:.1f} mm wide" for c in outcome.clips)),
    ]


def _labels(lang: str) -> dict[str, str]:
    _ = translator(lang)
    return {k: _(v) for k, v in texts.UI.items() if "{" not in v} | {
        "label_before": "Before", "label_after": "After",
        "fig_case": "Predicted valve from above, before and after; clip positions along the coaptation line.",
    }


def render_clinician_html(plan: CarePlan, outcome: ValveOutcome) -> str:
    """The clinician's report (English): plan summary and the case's predicted result with the valve drawing."""
    reduction = f"Predicted EROA {outcome.eroa_before_cm2:.2f} → {outcome.eroa_after_cm2:.2f} cm² ({outcome.reduction_percent:.0f}% less)"
    figure = Markup(svg.patient_valve_svg(outcome, _labels(plan.lang), reduction, "Model prediction, not a measurement"))
    ctx: dict[str, Any] = {
        "procedure_date": plan.facts.procedure_date.isoformat(),
        "lang": plan.lang,
        "draft": plan.is_draft,
        "rows": clinician_rows(outcome),
        "figure": figure,
        "disclaimer": _DISCLAIMER,
    }
    env = jinja2.Environment(loader=jinja2.PackageLoader("mitrasim.pathway", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template("clinician.html.j2").render(**ctx)
