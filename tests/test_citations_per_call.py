"""Each result carries exactly the sources its own computation cited (per call, not the process-wide record)."""

from __future__ import annotations

import pytest

from mitrasim import citations
from mitrasim.examples_data import load_example

READABILITY = {"flesch1948", "kincaid1975"}


@pytest.fixture(scope="module")
def case():
    return load_example("p2_flail")


def test_procedure_does_not_cite_what_another_computation_cited(case):
    from mitrasim.pathway.readability import readability
    from mitrasim.procedure import run_procedure

    readability("The clip holds the two leaflets together. You go home after two days.")
    assert READABILITY <= {s.key for s in citations.used()}  # the process-wide record has them ...
    res = run_procedure(case, seed=0)
    assert not READABILITY & set(res.citations)  # ... the procedure's result does not
    # what the procedure itself relies on: the stop rules, MVARC, the engine's preset, the case's calibration
    from mitrasim.physiology.parameter_sets import get_parameter_set

    expected = {"clinical_reference_stop_rules", "stone2015_mvarc", *get_parameter_set(case.patient.preset).citations}
    assert expected <= set(res.citations)


def test_plan_and_procedure_carry_their_own_lists(case):
    from mitrasim.procedure import plan_case, run_procedure

    plan = plan_case(case)
    proc = run_procedure(case, seed=0)
    # the planner's gradient rule cites the post-TEER gradient source; the procedure's course does not
    assert "neuss2019_gradient" in plan.citations and "neuss2019_gradient" not in proc.citations
    # the procedure's complications cite the risk sources; the planner draws none
    assert "clinical_reference_risks" in proc.citations and "clinical_reference_risks" not in plan.citations


def test_repeated_calls_carry_the_same_list_despite_caches(case):
    """Cached stages (the case's calibration, the engine's tables) cite on every call, not only the first."""
    from mitrasim.procedure.patient import calibrate_case
    from mitrasim.procedure import run_procedure

    first = run_procedure(case, seed=0)
    second = run_procedure(case, seed=0)
    assert set(first.citations) == set(second.citations)
    cal = calibrate_case(case, n_ensemble=0)
    with citations.collect() as again:
        calibrate_case(case, n_ensemble=0)  # served from the cache
    assert cal.citations and set(cal.citations) <= set(again.keys)


def test_report_lists_the_results_sources_only(case):
    from mitrasim.pathway.readability import readability
    from mitrasim.procedure import run_procedure
    from mitrasim.procedure.report import render_report

    readability("Short words help.")
    proc = run_procedure(case, seed=0)
    html = render_report(case=case, procedure=proc)
    from markupsafe import escape

    def shown(key: str) -> bool:
        return str(escape(citations.get(key).format())) in html

    assert all(shown(k) for k in proc.citations)
    assert not any(shown(k) for k in READABILITY)
