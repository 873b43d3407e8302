"""Shared, cached runs of the five examples for the procedure and planner tests (one compiled engine)."""

from __future__ import annotations

import functools
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NAMES = ("p2_flail", "coapt_secondary", "small_valve", "commissural_a3p3", "barlow")


@functools.lru_cache(maxsize=None)
def case(name: str):
    from mitrasim.case import load_case

    return load_case(EXAMPLES / f"{name}.yaml")


@functools.lru_cache(maxsize=None)
def procedures():
    """All five examples in one batched run, complications off (qualitative results); two examples
    start at 2+, below the TEER indication, so the batch runs under the research flag."""
    from mitrasim.procedure import run_procedures

    batch = run_procedures([case(n) for n in NAMES], seed=None, research_below_indication=True)
    return dict(zip(NAMES, batch.results)), batch


@functools.lru_cache(maxsize=None)
def procedures_awake():
    """As :func:`procedures`, decisions taken awake (the planner's state: one loading, exact readings)."""
    from mitrasim.procedure import run_procedures

    batch = run_procedures([case(n) for n in NAMES], seed=None, loading="awake", research_below_indication=True)
    return dict(zip(NAMES, batch.results)), batch


@functools.lru_cache(maxsize=None)
def plan(name: str):
    from mitrasim.procedure import plan_case

    return plan_case(case(name), research_below_indication=True)
