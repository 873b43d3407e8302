"""Indication for TEER: moderate-to-severe or severe MR (3+/4+) at baseline.

ACC/AHA 2020 (Otto et al.) and ESC/EACTS 2021 (Vahanian et al.) consider transcatheter
edge-to-edge repair for severe primary MR at high surgical risk and for severe secondary MR
(3+/4+ in the trials' grading: EVEREST II, COAPT). The procedure and the planner refuse a baseline
below :data:`INDICATED_FROM_GRADE` (the decision grade: the ASE 2017 grade, or its named
most-likely grade when indeterminate) unless the explicit research flag
``research_below_indication`` is set; every output of such a run then carries :func:`indication_note`.
"""

from __future__ import annotations

from mitrasim import citations
from mitrasim.echo import sources as _sources  # noqa: F401  (registers otto2020, vahanian2021_esc)
from mitrasim.echo.grading import grade_label
from mitrasim.errors import InputError

__all__ = ["INDICATED_FROM_GRADE", "RESEARCH_FLAG", "check_indication"]

INDICATED_FROM_GRADE = 3
"""Lowest baseline MR grade for which TEER is indicated (3+, "moderate-to-severe")."""

RESEARCH_FLAG = "--research-below-indication"


def check_indication(name: str, baseline_decision_grade: int, research_below_indication: bool = False) -> str | None:
    """``None`` when the baseline is within the indication; with the research flag, the note every
    output must carry; otherwise raises :class:`InputError` (field ``indication``)."""
    citations.cite("otto2020", "vahanian2021_esc")
    g = int(baseline_decision_grade)
    if g >= INDICATED_FROM_GRADE:
        return None
    label = grade_label(g)
    if not research_below_indication:
        raise InputError(
            "indication",
            f"{name}: baseline MR {label}",
            f"baseline MR {grade_label(INDICATED_FROM_GRADE)} or {grade_label(4)} (TEER indication, ACC/AHA 2020, ESC 2021)",
            f"to simulate it anyway for research, pass {RESEARCH_FLAG}",
        )
    return f"RESEARCH RUN: baseline MR {label} is below the TEER indication (MR 3+/4+); simulated under {RESEARCH_FLAG}"
