"""`mitrasim validate`: comparator refusals, endpoint statistics on hand-built results, Sobol indices of
the Ishigami function, and the end-to-end run with its resume."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from mitrasim.errors import InputError
from mitrasim.validate import DEVELOPMENT_COMPARATORS
from mitrasim.validate.columns import arm_data, from_arrays
from mitrasim.validate.endpoints import (
    DEFAULT_MARGINS,
    Z95,
    agreement,
    compute_endpoint,
    wilson,
)
from mitrasim.validate.schema import Endpoint, parse_comparators, resolve_parameter

ROOT = Path(__file__).resolve().parents[1]


def _file(**over) -> dict:
    base = {
        "question_of_interest": "q",
        "context_of_use": {"description": "c", "population": "tvt_mixed"},
        "model_risk": {"model_influence": "low", "decision_consequence": "low", "rationale": "r"},
        "defaults": {"n_patients": 20, "seed": 3, "chunk_size": 10},
        "sensitivity": {"base_samples": 4, "patients": 2, "seed": 1},
        "comparators": [
            {
                "name": "tvt",
                "study": "sorajja2017_tvt",
                "population": "tvt_mixed",
                "strategy": {"stop_rule": "mr_le_1plus", "max_clips": 3},
                "endpoints": [
                    {"name": "le2", "kind": "mr_le_2plus", "value": 0.9, "n": 100, "time_point": "procedure", "role": "validation", "source": "sorajja2017_tvt"},
                    {"name": "grad", "kind": "mean_gradient", "value": 3.1, "sd": 1.5, "n": 255, "time_point": "post-procedure", "role": "calibration",
                     "parameter": "mitrasim.procedure.calibration.FORWARD_DISCHARGE_COEFF", "source": "neuss2019_gradient"},
                ],
            }
        ],
    }  # fmt: skip
    base.update(over)
    return base


def _refusal(data: dict) -> InputError:
    with pytest.raises(InputError) as ei:
        parse_comparators(data)
    assert "\n" not in str(ei.value)
    return ei.value


# --- refusals -------------------------------------------------------------------------------------


def test_the_shipped_file_is_valid_and_every_calibration_names_a_parameter():
    from mitrasim.validate.schema import load_comparators

    cf = load_comparators(DEVELOPMENT_COMPARATORS)
    eps = [e for c in cf.comparators for e in c.endpoints]
    assert {e.role for e in eps} == {"calibration", "validation"}
    for e in eps:
        assert e.source and (e.role == "validation") == (e.parameter is None)
        if e.parameter:
            resolve_parameter(e.parameter)


def test_unknown_population_field_is_refused():
    d = _file()
    from mitrasim.cohort.population import _shipped_text

    pop = yaml.safe_load(_shipped_text("tvt_mixed"))
    pop["continuous"]["shoe_size"] = {"dist": "normal", "mean": 42, "sd": 2, "lo": 30, "hi": 50}
    d["comparators"][0]["population"] = pop
    e = _refusal(d)
    assert e.field == "comparators.0.population.continuous.shoe_size"
    pop2 = yaml.safe_load(_shipped_text("tvt_mixed"))
    pop2["hospital"] = "x"
    d["comparators"][0]["population"] = pop2
    assert _refusal(d).field == "comparators.0.population.hospital"


def test_endpoint_without_a_source_is_refused():
    d = _file()
    del d["comparators"][0]["endpoints"][1]["source"]
    e = _refusal(d)
    assert e.field == "comparators.0.endpoints.1.source" and "every endpoint needs one" in str(e)
    d["comparators"][0]["endpoints"][1]["source"] = "nobody2099"
    assert _refusal(d).field == "comparators.0.endpoints.1.source"


def test_calibration_endpoint_without_a_parameter_is_refused():
    d = _file()
    del d["comparators"][0]["endpoints"][1]["parameter"]
    e = _refusal(d)
    assert e.field == "comparators.0.endpoints.1.parameter" and "required for role calibration" in str(e)
    d["comparators"][0]["endpoints"][1]["parameter"] = "mitrasim.procedure.calibration.NO_SUCH_THING"
    assert _refusal(d).field == "comparators.0.endpoints.1.parameter"


@pytest.mark.parametrize(
    "path,value,field",
    [
        (("endpoints", 0, "colour"), "red", "comparators.0.endpoints.0.colour"),
        (("endpoints", 0, "value"), 90.0, "comparators.0.endpoints.0.value"),
        (("endpoints", 0, "n"), None, "comparators.0.endpoints.0.n"),
        (("endpoints", 1, "sd"), None, "comparators.0.endpoints.1.sd"),
        (("strategy", "stop_rule"), "whenever", "comparators.0.strategy.stop_rule"),
        (("study",), "unknown2000", "comparators.0.study"),
    ],
)
def test_other_bad_fields_name_themselves(path, value, field):
    d = copy.deepcopy(_file())
    node = d["comparators"][0]
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    assert _refusal(d).field == field


def test_cli_refusal_is_one_line_exit_2(tmp_path):
    d = _file()
    del d["comparators"][0]["endpoints"][0]["source"]
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump(d))
    p = subprocess.run([sys.executable, "-m", "mitrasim", "validate", str(f), "--out", str(tmp_path / "o")], check=False, capture_output=True, text=True, cwd=ROOT,
                       env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})  # fmt: skip
    assert p.returncode == 2
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert lines == [lines[0]] and lines[0].startswith("error: comparators.0.endpoints.0.source")
    assert not (tmp_path / "o").exists()


# --- endpoints on hand-built results ----------------------------------------------------------------


def _ep(**kw) -> Endpoint:
    base = {"name": "e", "time_point": "procedure", "role": "validation", "source": "sorajja2017_tvt", "n": 100}
    return Endpoint.model_validate({**base, **kw})


@pytest.fixture()
def hand():
    """Ten patients of arm A (and two of arm B, which must be ignored)."""
    return from_arrays(
        arm=["A"] * 10 + ["B"] * 2,
        grade_after=[0, 1, 1, 2, 2, 2, 3, 4, 1, 0, 4, 4],
        clips_implanted=[1, 1, 2, 2, 3, 0, 1, 2, 1, 4, 0, 0],
        gradient_after_mmhg=[2.0, 3.0, 5.0, 4.0, 6.5, 1.0, 2.5, 4.9, 3.3, 7.0, 9.0, 9.0],
        stroke=[False, True, False, False, False, False, False, False, False, False, True, True],
        death_1y=[True, False, False, True, False, True, True, False, False, False, True, True],
        outcome_group=["0/1+", "0/1+", "0/1+", "2+", "2+", "2+", "3+/4+", "3+/4+", "0/1+", "0/1+", "x", "x"],
    )


def test_device_count_shares_and_mean(hand):
    d = arm_data(hand, "A")
    rows = compute_endpoint("c", _ep(kind="device_count", shares={"0": 0.1, "1": 0.5, "3+": 0.1}), d)
    assert [r.simulated for r in rows] == [0.1, 0.4, 0.2]
    assert (rows[1].simulated_lo, rows[1].simulated_hi) == wilson(4, 10)
    assert rows[1].simulated_se == pytest.approx(math.sqrt(0.4 * 0.6 / 10), rel=1e-12)
    # implanted only: 9 patients, 4 with one clip
    rows = compute_endpoint("c", _ep(kind="device_count", shares={"1": 0.5}, among="implanted"), d)
    assert rows[0].simulated == pytest.approx(4 / 9) and rows[0].n_simulated == 9
    m = compute_endpoint("c", _ep(kind="device_count", value=1.5, sd=0.6, n=1041), d)[0]
    x = np.array([1, 1, 2, 2, 3, 0, 1, 2, 1, 4.0])
    assert m.simulated == pytest.approx(1.7)
    assert (m.simulated_lo, m.simulated_hi) == pytest.approx(stats.t.interval(0.95, 9, loc=x.mean(), scale=stats.sem(x)), rel=1e-12)
    assert m.published_se == pytest.approx(0.6 / math.sqrt(1041))
    assert m.margin == DEFAULT_MARGINS["clips"]


def test_residual_mr_and_shares_le(hand):
    d = arm_data(hand, "A")
    rows = compute_endpoint("c", _ep(kind="residual_mr", shares={"0/1+": 0.5, "2+": 0.3, "3+/4+": 0.2, "4+": 0.1}), d)
    assert [r.simulated for r in rows] == [0.5, 0.3, 0.2, 0.1]
    assert compute_endpoint("c", _ep(kind="mr_le_2plus", value=0.9), d)[0].simulated == 0.8
    assert compute_endpoint("c", _ep(kind="mr_le_1plus", value=0.9), d)[0].simulated == 0.5
    # among implanted: patient 6 (grade 2, no clip) leaves the denominator
    assert compute_endpoint("c", _ep(kind="mr_le_2plus", value=0.9, among="implanted"), d)[0].simulated == pytest.approx(7 / 9)


def test_gradient_mean_and_share_above_threshold(hand):
    d = arm_data(hand, "A")
    g = np.array([2.0, 3.0, 5.0, 4.0, 6.5, 1.0, 2.5, 4.9, 3.3, 7.0])
    r = compute_endpoint("c", _ep(kind="mean_gradient", value=3.1, sd=1.5, n=255), d)[0]
    assert r.simulated == pytest.approx(g.mean()) and r.simulated_se == pytest.approx(stats.sem(g))
    from mitrasim.echo.thresholds import threshold

    mvarc = threshold("mvarc", "mean_gradient_mmhg", "stenosis_from").value
    ge = compute_endpoint("c", _ep(kind="gradient_share", value=0.1), d)[0]
    assert ge.simulated == pytest.approx(np.mean(g >= mvarc))
    gt = compute_endpoint("c", _ep(kind="gradient_share", value=0.1, op=">", threshold_mmhg=5.0), d)[0]
    assert gt.simulated == 0.2 and ge.simulated == 0.3  # the patient at exactly 5.0 mmHg counts only for >=


def test_complication_and_subgroup_rates(hand):
    d = arm_data(hand, "A")
    assert compute_endpoint("c", _ep(kind="complication_rate", event="stroke", value=0.01), d)[0].simulated == 0.1
    ok = arm_data(from_arrays(arm=["A"] * 4, mvarc_device_success=[True, False, True, True]), "A")
    assert compute_endpoint("c", _ep(kind="success_rate", event="mvarc_device_success", value=0.8), ok)[0].simulated == 0.75
    with pytest.raises(InputError) as ei:  # a trial without the column: named, not guessed
        compute_endpoint("c", _ep(kind="success_rate", event="mvarc_procedural_success", value=0.8), ok)
    assert "mvarc_procedural_success" in ei.value.field
    rows = compute_endpoint("c", _ep(kind="subgroup_rate", event="death_1y", by="outcome_group", shares={"0/1+": 0.2, "2+": 0.3, "3+/4+": 0.5},
                                     n={"0/1+": 100, "2+": 50, "3+/4+": 20}), d)  # fmt: skip
    assert [r.simulated for r in rows] == [0.2, pytest.approx(2 / 3), 0.5]
    assert [r.n_simulated for r in rows] == [5, 3, 2]
    assert rows[2].published_se == pytest.approx(math.sqrt(0.25 / 20))
    # a derived outcome by subgroup: residual MR <= 1+ by outcome group (0/1+ all, 2+ none)
    by = compute_endpoint("c", _ep(kind="subgroup_rate", event="mr_le_1plus", by="outcome_group", shares={"0/1+": 0.9, "2+": 0.1}, n={"0/1+": 9, "2+": 9}), d)
    assert [r.simulated for r in by] == [1.0, 0.0]
    # a level no simulated patient fell in is flagged, not an error and not a silent number
    empty = compute_endpoint("c", _ep(kind="subgroup_rate", event="death_1y", by="outcome_group", shares={"4+": 0.5}, n={"4+": 10}), d)[0]
    assert empty.agreement == "not estimable" and empty.n_simulated == 0 and math.isnan(empty.simulated)
    none = arm_data(from_arrays(arm=["A", "A"], clips_implanted=[0, 0], grade_after=[3, 4]), "A")
    assert compute_endpoint("c", _ep(kind="mr_le_2plus", value=0.9, among="implanted"), none)[0].agreement == "not estimable"


def test_agreement_is_the_stated_equivalence_test():
    assert agreement(0.01, 0.01, 0.1)[0] == "agree"  # CI ±0.0196 inside ±0.1
    assert agreement(0.2, 0.01, 0.1)[0] == "miss"  # CI [0.18, 0.22] outside
    assert agreement(0.09, 0.01, 0.1)[0] == "inconclusive"  # CI crosses 0.1
    v, _, hi = agreement(0.0, 1.0, 0.1)
    assert v == "inconclusive" and hi == pytest.approx(Z95)


def test_missing_column_names_the_quantity():
    t = from_arrays(arm=["A"], grade_after=[1])
    d = arm_data(t, "A")
    with pytest.raises(InputError) as ei:
        compute_endpoint("c", _ep(kind="mean_gradient", value=3.0, sd=1.0), d)
    assert "gradient_after_mmhg" in ei.value.field
    with pytest.raises(InputError):
        arm_data(t, "B")
    # a renamed column is found through its alias
    t2 = from_arrays(arm=["A", "A"], mr_grade_after=[1, 3])
    assert compute_endpoint("c", _ep(kind="mr_le_2plus", value=0.5), arm_data(t2, None))[0].simulated == 0.5


# --- sensitivity -----------------------------------------------------------------------------------


def test_sobol_indices_of_ishigami_recovered():
    """Analytic indices of Ishigami (a = 7, b = 0.1): each estimate within twice its own 95% bootstrap
    half-width (about 4 standard errors) and within 0.05 absolute."""
    from mitrasim.validate.sensitivity import ishigami, sobol_indices

    a, b, pi = 7.0, 0.1, math.pi
    V1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    V2 = a**2 / 8
    V13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    V = V1 + V2 + V13
    S1 = [V1 / V, V2 / V, 0.0]
    ST = [(V1 + V13) / V, V2 / V, V13 / V]
    prob = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-pi, pi]] * 3}
    r = sobol_indices(lambda X: {"y": ishigami(X, a, b)}, prob, 4096, 11)["outputs"]["y"]
    for i in range(3):
        assert abs(r["S1"][i] - S1[i]) <= min(2 * r["S1_conf"][i], 0.05), ("S1", i, r["S1"][i], S1[i])
        assert abs(r["ST"][i] - ST[i]) <= min(2 * r["ST_conf"][i], 0.05), ("ST", i, r["ST"][i], ST[i])


def test_a_constant_output_is_reported_not_nan():
    from mitrasim.validate.sensitivity import sobol_indices

    prob = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0, 1]] * 2}
    r = sobol_indices(lambda X: {"y": np.full(len(X), 2.5)}, prob, 8, 0)["outputs"]["y"]
    assert r == {"constant": True, "value": 2.5}


# --- end to end --------------------------------------------------------------------------------------


def _no_nan(text: str) -> None:
    assert "NaN" not in text and "Infinity" not in text


def test_end_to_end_small_with_resume_after_interruption(tmp_path, monkeypatch):
    """A small comparator file: report, summary and CSV written; an interruption in the middle of a trial
    and then in a later stage leaves a folder that a second run completes, reusing what was finished, with
    the same table as an uninterrupted run."""
    import mitrasim.validate.run as R

    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump(_file()))
    clean = R.run_validation(f, tmp_path / "clean")
    for name in ("report.html", "summary.json", "validation.csv", "verification.json", "sensitivity.json"):
        assert (tmp_path / "clean" / name).exists(), name
    _no_nan((tmp_path / "clean" / "summary.json").read_text())
    html = (tmp_path / "clean" / "report.html").read_text()
    for section in ("Question of interest", "Model risk", "Code verification", "Calculation verification", "Validation", "Sensitivity", "Applicability", "<svg"):
        assert section in html, section
    assert clean["code_verification"]["pass"]
    assert len(clean["validation"]) == 2 and clean["sensitivity"]["at_2n"]["evaluations"] == 8 * 6

    real = R.run_trial

    class Stop(Exception):
        pass

    def boom(i):
        raise Stop

    monkeypatch.setattr(R, "run_trial", lambda *a, **k: real(*a, **{**k, "on_chunk": boom}))
    with pytest.raises(Stop):
        R.run_validation(f, tmp_path / "cut")
    monkeypatch.setattr(R, "run_trial", real)
    monkeypatch.setattr(R, "run_sensitivity", lambda *a, **k: (_ for _ in ()).throw(Stop()))
    with pytest.raises(Stop):
        R.run_validation(f, tmp_path / "cut")
    monkeypatch.undo()
    calls = []
    monkeypatch.setattr(R, "code_verification", lambda s: calls.append(1) or {})
    again = R.run_validation(f, tmp_path / "cut")
    assert calls == []  # verification was finished before the second interruption: reused
    assert again["trials"][0]["chunks_run"] == 0 and again["trials"][0]["chunks_skipped"] == 2
    assert again["validation"] == clean["validation"]
    assert again["sensitivity"]["at_2n"] == clean["sensitivity"]["at_2n"]


def test_out_folder_of_another_file_is_refused(tmp_path):
    import mitrasim.validate.run as R

    d = _file()
    d["comparators"][0]["endpoints"] = d["comparators"][0]["endpoints"][:1]
    R.run_validation(parse_comparators(d), tmp_path / "o", sensitivity=False)
    d2 = _file(question_of_interest="another question")
    d2["comparators"][0]["endpoints"] = d2["comparators"][0]["endpoints"][:1]
    before = sorted(p.name for p in (tmp_path / "o").rglob("*"))
    with pytest.raises(InputError) as ei:
        R.run_validation(parse_comparators(d2), tmp_path / "o", sensitivity=False)
    assert ei.value.field == "--out"
    assert sorted(p.name for p in (tmp_path / "o").rglob("*")) == before


def test_shipped_file_report_at_small_n(tmp_path):
    """The development comparators through the command line at n = 20 (the full-n run is by hand)."""
    out = tmp_path / "v"
    p = subprocess.run([sys.executable, "-m", "mitrasim", "validate", str(DEVELOPMENT_COMPARATORS), "--out", str(out), "--n", "20", "--no-sensitivity"],
                       check=False, capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    s = json.loads((out / "summary.json").read_text())
    assert {r["comparator"] for r in s["validation"]} == {"expand_primary", "expand_clips", "tvt_outcomes", "neuss_gradient", "coapt_mr"}
    assert all(t["n_patients"] == 20 for t in s["trials"])
    assert all(r["agreement"] in ("agree", "miss", "inconclusive", "not estimable") for r in s["validation"])
    _no_nan((out / "summary.json").read_text())


@pytest.mark.slow
def test_shipped_file_at_default_n_resumes(tmp_path):
    """Default n, sensitivity included (measured by hand: see the closing note); run twice, the second reuses all."""
    import mitrasim.validate.run as R

    a = R.run_validation(DEVELOPMENT_COMPARATORS, tmp_path / "v")
    b = R.run_validation(DEVELOPMENT_COMPARATORS, tmp_path / "v")
    assert all(t["chunks_run"] == 0 for t in b["trials"])
    assert a["validation"] == b["validation"]


@pytest.mark.slow
def test_dask_local_gives_the_in_process_table(tmp_path):
    """The trials through a local Dask cluster: the same chunks, so the same validation table."""
    import mitrasim.validate.run as R

    cf = parse_comparators(_file())
    a = R.run_validation(cf, tmp_path / "a", sensitivity=False)
    b = R.run_validation(cf, tmp_path / "b", sensitivity=False, dask_local=2)
    assert a["validation"] == b["validation"]
