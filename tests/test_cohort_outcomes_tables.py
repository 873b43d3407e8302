"""One-year outcomes: one mortality table per population type, chosen by etiology and population."""

from __future__ import annotations

import numpy as np
import pytest

from mitrasim.cohort.outcomes import (
    COAPT_DEATH_OR_HFH_BY_MR,
    COAPT_MORTALITY_1Y,
    EVEREST2_MORTALITY_1Y,
    GROUPS,
    TABLES,
    TVT_MORTALITY_1Y,
    TVT_MORTALITY_1Y_OVERALL,
    OutcomeModel,
    expected_rate_interval,
    outcome_probabilities,
)


def test_tables_are_built_from_their_sources():
    assert TABLES["tvt"] == TVT_MORTALITY_1Y
    for g in GROUPS:
        assert TABLES["everest2"][g] == pytest.approx(EVEREST2_MORTALITY_1Y * TVT_MORTALITY_1Y[g] / TVT_MORTALITY_1Y_OVERALL)
        rr = COAPT_DEATH_OR_HFH_BY_MR[g] / COAPT_DEATH_OR_HFH_BY_MR["0/1+"]
        assert TABLES["coapt"][g] == pytest.approx(COAPT_MORTALITY_1Y * TVT_MORTALITY_1Y["0/1+"] / TVT_MORTALITY_1Y_OVERALL * rr)
    for t in TABLES.values():
        assert t["0/1+"] < t["2+"] < t["3+/4+"]


@pytest.mark.parametrize("sources,primary", [((), "tvt"), (("sorajja2017_tvt",), "tvt"), (("feldman2011_everest2",), "everest2")])
def test_each_patient_reads_its_population_table(sources, primary):
    m = OutcomeModel()
    grade = np.array([1, 1, 3, 3])
    secondary = np.array([False, True, False, True])
    p, _ = outcome_probabilities(grade, np.zeros(4, bool), secondary, m, sources)
    p_ih = m.inhospital_death
    want = [TABLES[primary]["0/1+"], TABLES["coapt"]["0/1+"], TABLES[primary]["3+/4+"], TABLES["coapt"]["3+/4+"]]
    assert p == pytest.approx([(w - p_ih) / (1 - p_ih) for w in want])
    assert m.tables_of(secondary, sources).tolist() == [primary, "coapt", primary, "coapt"]


def test_a_fixed_primary_table_wins_over_auto():
    assert OutcomeModel(primary_table="tvt").primary(("feldman2011_everest2",)) == "tvt"


def test_expected_rate_uses_each_patients_table():
    m = OutcomeModel()
    groups = np.array(["0/1+"] * 10)
    died = np.zeros(10, bool)
    a, _, _ = expected_rate_interval(groups, died, m, "death", tables=np.array(["tvt"] * 10))
    b, _, _ = expected_rate_interval(groups, died, m, "death", tables=np.array(["everest2"] * 10))
    p_ih = m.inhospital_death
    assert a == pytest.approx((TABLES["tvt"]["0/1+"] - p_ih) / (1 - p_ih))
    assert b == pytest.approx(max(0.0, (TABLES["everest2"]["0/1+"] - p_ih) / (1 - p_ih)))
