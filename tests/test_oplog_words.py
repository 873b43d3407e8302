"""The operator's log says what each entry holds: the words of an entry are its own numbers.

Each clip's entries (:mod:`mitrasim.procedure.oplog`) are written from one round's candidates: the
alignment names the device, scallop and position; the grasp and the leaflet-insertion check follow
at the same device and position; the check reads that candidate's EROA, MR grade, mean gradient
(against the patient's release limit) and MVA, which the entry also carries as numbers.  A log
built from the wrong candidate (another attempt of the same patient, or another patient) breaks
one of these identities.  Sampled patients with complications and placement variability on, so
repositions, exchanges, refusals and removals occur.
"""

from __future__ import annotations

import numpy as np
import pytest

from mitrasim.cohort.adapter import Strategy, patient_setups
from mitrasim.cohort.population import load_population, sample_population
from mitrasim.physiology.simulation import SolverSettings
from mitrasim.procedure import run_procedures
from mitrasim.procedure.oplog import mr_text, scallop_label
from mitrasim.protocol import AREA_COMPARISON, GRADIENT_COMPARISON, number_text

FAST = SolverSettings(dt_max_s=4e-3, tol=1e-2)
CHECKED = ("attempt", "release")


@pytest.fixture(scope="module")
def runs():
    pop = load_population("tvt_mixed")
    pts = sample_population(pop, 120, 23)
    setups = patient_setups(pts, Strategy(), FAST, dict(pop.presets))
    batch = run_procedures(setups, seed=np.random.default_rng(5), settings=FAST, research_below_indication=True)
    return setups, batch


def test_the_runs_cover_the_log_s_branches(runs):
    _, batch = runs
    actions = {s.action for r in batch.results for s in r.steps}
    assert {"align", "grasp", "insertion", "release", "attempt", "reposition", "decide"} <= actions


def test_alignment_names_the_entry_s_device_scallop_and_position(runs):
    setups, batch = runs
    n = 0
    for s, r in zip(setups, batch.results):
        for st in r.steps:
            if st.action == "align":
                assert st.text.startswith(f"Clip {st.clip} ({st.device}) at {scallop_label(s.valve, st.position_mm)}, {st.position_mm:.1f} mm: "), st.text
                n += 1
    assert n > 100


def test_grasp_insertion_and_check_follow_at_the_same_device_and_position(runs):
    _, batch = runs
    for r in batch.results:
        steps = r.steps
        for i, st in enumerate(steps):
            if st.action == "grasp":
                nxt = steps[i + 1]
                assert nxt.action == "insertion" and (nxt.device, nxt.position_mm, nxt.clip) == (st.device, st.position_mm, st.clip)
                assert steps[i - 1].action in ("align", "reposition", "exchange")
                assert (steps[i - 1].device, steps[i - 1].position_mm) == (st.device, st.position_mm)
                if i + 2 < len(steps) and steps[i + 2].action in CHECKED and steps[i + 2].eroa_cm2 is not None:
                    assert (steps[i + 2].device, steps[i + 2].position_mm) == (st.device, st.position_mm)


def test_check_reads_the_entry_s_own_numbers_against_the_patient_s_limits(runs):
    setups, batch = runs
    n = 0
    for s, r in zip(setups, batch.results):
        g_lim, a_lim = s.rules.max_gradient_mmhg, s.rules.min_mva_cm2
        for st in r.steps:
            if st.action not in CHECKED or st.eroa_cm2 is None:
                continue
            t = st.text
            assert f"→{st.eroa_cm2:.2f} cm², MR " in t and f"→{st.mr_grade}, mean gradient " in t, t
            assert f"→{number_text(st.mean_gradient_mmhg, g_lim)} mmHg (limit {GRADIENT_COMPARISON} {g_lim:g}), " in t, t
            assert f"MVA {number_text(st.mva_cm2, a_lim, 2)} cm² (limit {AREA_COMPARISON} {a_lim:g}), " in t, t
            assert st.mr_grade in {mr_text(g, d) for g in (-1, 0, 1, 2, 3, 4) for d in range(5)}
            n += 1
    assert n > 100
