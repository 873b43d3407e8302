"""``mitrasim demo`` runs every stage of the pipeline and says so, stage by stage (no silent fallback)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import mitrasim
from mitrasim.demo import DEMO_PROCEDURE_IN_DAYS, ENGINE_EROA_CM2, ENGINE_PRESET, STAGES

# the stage's line: "n. Name:" and at least one number after it (a stage that printed nothing computed nothing)
STAGE_LINE = r"^{n}\. {name}: .*\d"


@pytest.fixture(scope="module")
def demo_run() -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="250", PYTHONPATH=str(Path(mitrasim.__file__).parents[1]))
    return subprocess.run([sys.executable, "-m", "mitrasim", "demo"], capture_output=True, text=True, env=env, timeout=900)


def test_demo_exits_zero_without_errors(demo_run):
    assert demo_run.returncode == 0, demo_run.stderr[-3000:]
    assert "Traceback" not in demo_run.stderr


@pytest.mark.parametrize("n,name", list(enumerate(STAGES, start=1)))
def test_demo_prints_every_stage(demo_run, n, name):
    assert re.search(STAGE_LINE.format(n=n, name=re.escape(name)), demo_run.stdout, re.M), demo_run.stdout[-4000:]


def test_demo_stages_in_order_and_disclaimer(demo_run):
    where = [demo_run.stdout.index(f"{n}. {name}:") for n, name in enumerate(STAGES, start=1)]
    assert where == sorted(where)
    assert "not a medical device" in demo_run.stdout


def test_demo_care_plan_line_carries_no_model_prediction(demo_run):
    line = next(x for x in demo_run.stdout.splitlines() if x.startswith("7. Care plan:"))
    for model_number in ("MR", "EROA", "cm²", "mmHg", "mL"):
        assert model_number not in line


def test_demo_does_not_swallow_a_failed_stage(monkeypatch):
    """A stage that fails stops the demo with its error (nothing catches it, not even ImportError)."""
    import io

    from rich.console import Console

    import mitrasim.procedure.planner as planner

    def broken(*a, **k):
        raise ImportError("planner broken on purpose")

    monkeypatch.setattr(planner, "plan_case", broken)
    from mitrasim.demo import run_demo

    with pytest.raises(ImportError, match="on purpose"):
        run_demo(Console(file=io.StringIO()))


# ----------------------------------------------------------------------------- each stage checked, each stage broken
#
# The demo is run in this process (the command's own function) and every stage's line is read back and
# compared with the objects the run returned (printed to the digits shown), with the stored example
# reference (grades, devices) and with the physics the line claims.  Then each stage is broken on
# purpose, once by a wrong value and once by an error: the wrong value must fail that stage's check,
# the error must stop the command with a non-zero exit before the stage's line.

TODAY = dt.date(2027, 3, 1)
REFERENCE = json.loads((Path(__file__).resolve().parents[1] / "examples" / "reference" / "p2_flail.json").read_text())


def _demo_text_and_objects() -> tuple[str, dict]:
    from rich.console import Console

    from mitrasim.demo import run_demo

    buf = io.StringIO()
    out = run_demo(Console(file=buf, width=250), today=TODAY)
    return buf.getvalue(), out


@pytest.fixture(scope="module")
def good() -> dict:
    """The demo's text and objects, and the engine stage's two hearts, computed before anything is broken."""
    from mitrasim.physiology.simulation import simulate

    text, out = _demo_text_and_objects()
    res = simulate(ENGINE_PRESET, eroa_cm2=list(ENGINE_EROA_CM2))
    return {"text": text, "rvol_ml": (res.patient_metrics(0)["rvol_ml"], res.patient_metrics(1)["rvol_ml"]), **out}


def _line(text: str, n: int) -> str:
    head = f"{n}. {STAGES[n - 1]}:"
    lines = [x for x in text.splitlines() if x.startswith(head)]
    assert len(lines) == 1, f"stage {n} ({STAGES[n - 1]}) printed {len(lines)} lines"
    return lines[0]


def _match(pattern: str, line: str) -> re.Match:
    m = re.search(pattern, line)
    assert m, f"{line!r} does not read {pattern!r}"
    return m


def _shown(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def _check_engine(text: str, good: dict) -> None:
    from mitrasim.echo.thresholds import threshold

    m = _match(r"EROA ([\d.]+) cm²\): regurgitant volume (\d+) → (\d+) mL", _line(text, 1))
    eroa, normal, severe = float(m[1]), int(m[2]), int(m[3])
    assert (m[2], m[3]) == tuple(_shown(v, 0) for v in good["rvol_ml"])
    assert normal == 0  # no orifice, no regurgitation
    # the line says "acute severe MR": severe by the orifice and by the volume it drives (ASE 2017)
    assert eroa >= threshold("ase2017", "eroa_cm2", "grade4_from").value
    assert severe >= threshold("ase2017", "rvol_ml", "grade4_from").value


def _check_calibration(text: str, good: dict) -> None:
    from mitrasim.calibrate.fit import RESIDUAL_Z_ACCEPTED
    from mitrasim.calibrate.measurements import Measured

    m = _match(r"(\d+) measurements fitted on (\S+) \((\d+) engine calls; largest \|z\| ([\d.]+); (converged.*)\)$", _line(text, 2))
    case, cal = good["case"], good["calibration"]
    measured = [name for name, v in case.measurements if isinstance(v, Measured)]
    assert int(m[1]) == len(measured) == len(cal.residuals)
    assert m[2] == case.patient.preset == cal.preset
    worst = max(abs(float(r["z"])) for r in cal.residuals)
    assert m[4] == _shown(worst, 2) and worst <= RESIDUAL_Z_ACCEPTED  # every measurement fitted (the calibration's acceptance)
    assert int(m[3]) == cal.engine_calls


def _check_echo(text: str, good: dict) -> None:
    m = _match(r"baseline EROA ([\d.]+) cm², RVol (\d+) mL, RF (\d+)% → MR (\S+) \((\w+)\); mean gradient ([\d.]+) mmHg", _line(text, 3))
    b, ref = good["procedure"].baseline, REFERENCE["baseline"]
    assert (m[1], m[2], m[3], m[6]) == (_shown(b.eroa_cm2, 2), _shown(b.rvol_ml, 0), _shown(b.rf_pct, 0), _shown(b.mean_gradient_mmhg, 1))
    assert m[4] == ref["mr_grade"] == b.mr_grade and m[5] == b.grade.severity


def _check_plan(text: str, good: dict) -> None:
    plan, ref = good["plan"], REFERENCE["plan"]
    m = _match(r"(\d+) plans in one engine batch; best: (.+) → MR (\S+), gradient ([\d.]+) mmHg, MVA ([\d.]+) cm²$", _line(text, 4))
    p = plan.best
    assert int(m[1]) == plan.n_evaluated == ref["n_evaluated"]
    assert m[2] == p.describe() and list(p.devices) == ref["best"]["devices"]
    assert m[3] == ref["best"]["mr_grade"] and (m[4], m[5]) == (_shown(p.mean_gradient_mmhg, 1), _shown(p.mva_cm2, 2))
    for v in plan.verdicts.values():
        assert f"   • {v}" in text


def _check_procedure(text: str, good: dict) -> None:
    proc, ref = good["procedure"], REFERENCE["procedure"]["seed_0"]
    m = _match(r"(\d+) clip\(s\); MR (\S+) → (\S+); as the operator sees it:$", _line(text, 5))
    assert int(m[1]) == proc.n_clips == len(ref["clips"])
    assert (m[2], m[3]) == (REFERENCE["baseline"]["mr_grade"], ref["final"]["mr_grade"])
    for line in proc.log[1:]:
        assert "   " + line in text


def _check_mvarc(text: str, good: dict) -> None:
    proc, ref = good["procedure"], REFERENCE["procedure"]["seed_0"]["mvarc"]
    m = _match(r"residual MR (\w+) \(MR (\S+)\); (no iatrogenic stenosis|iatrogenic stenosis) \(mean gradient ([\d.]+) mmHg, MVA ([\d.]+) cm²\)$", _line(text, 6))
    assert m[1] == ref["residual_mr"] == proc.mvarc.residual_mr
    assert (m[3] == "iatrogenic stenosis") is ref["iatrogenic_stenosis"]
    assert (m[2], m[4], m[5]) == (proc.final.mr_grade, _shown(proc.final.mean_gradient_mmhg, 1), _shown(proc.final.mva_cm2, 2))
    for line in proc.mvarc.lines():
        assert f"   {line}" in text


def _check_careplan(text: str, good: dict) -> None:
    plan = good["careplan"]
    line = _line(text, 7)
    m = _match(r"(\d+) events from (\S+) \((.+)\) to (\S+) \((.+)\); (\d+) warning signs", line)
    first, last = plan.events[0], plan.events[-1]
    day = lambda x: (x.date() if isinstance(x, dt.datetime) else x)  # noqa: E731
    assert int(m[1]) == len(plan.events) and int(m[6]) == len(plan.warning_signs)
    assert (m[2], m[3], m[4], m[5]) == (day(first.start).isoformat(), first.title, day(last.start).isoformat(), last.title)
    assert day(first.start) <= TODAY + dt.timedelta(days=DEMO_PROCEDURE_IN_DAYS) <= day(last.start)


CHECKS = [_check_engine, _check_calibration, _check_echo, _check_plan, _check_procedure, _check_mvarc, _check_careplan]


@pytest.mark.parametrize("n", range(1, 8), ids=STAGES)
def test_each_stage_line_says_what_its_stage_computed(good, n):
    CHECKS[n - 1](good["text"], good)


def _wrap(monkeypatch, module: str, name: str, after):
    """Replace ``module.name`` by the original followed by ``after(result, *args, **kw)``."""
    mod = importlib.import_module(module)
    orig = getattr(mod, name)
    monkeypatch.setattr(mod, name, lambda *a, **k: after(orig, *a, **k))


def _without_one_measurement(orig, case, *a, **k):
    return orig(case.model_copy(update={"measurements": case.measurements.model_copy(update={"e_velocity_m_s": None})}), *a, **k)


def _milder_engine_mr(orig, *a, **k):
    demo_call = isinstance(k.get("eroa_cm2"), list) and k["eroa_cm2"] == list(ENGINE_EROA_CM2)
    return orig(*a, **({**k, "eroa_cm2": [0.0, 0.2]} if demo_call else k))


def _second_best_plan(orig, *a, **k):
    plan = orig(*a, **k)
    return dataclasses.replace(plan, plans=plan.plans[1:])


def _replace_result(**change):
    def after(orig, *a, **k):
        r = orig(*a, **k)
        return dataclasses.replace(r, **{f: v(r) for f, v in change.items()})

    return after


def _fewer_events(orig, *a, **k):
    plan = orig(*a, **k)
    return dataclasses.replace(plan, events=plan.events[1:])


def _acceptable_mvarc(r):
    return dataclasses.replace(r.mvarc, echo=dataclasses.replace(r.mvarc.echo, residual_mr="acceptable"))


# stage → (what computes it, how it is broken to give a wrong value)
BREAKS = {
    1: ("mitrasim.physiology.simulation", "simulate", _milder_engine_mr),
    2: ("mitrasim.procedure.patient", "calibrate_case", _without_one_measurement),
    3: ("mitrasim.procedure.process", "run_procedure", _replace_result(baseline=lambda r: r.final)),
    4: ("mitrasim.procedure.planner", "plan_case", _second_best_plan),
    5: ("mitrasim.procedure.process", "run_procedure", _replace_result(final=lambda r: r.baseline)),
    6: ("mitrasim.procedure.process", "run_procedure", _replace_result(mvarc=_acceptable_mvarc)),
    7: ("mitrasim.pathway.careplan", "build_careplan", _fewer_events),
}


@pytest.mark.parametrize("n", range(1, 8), ids=STAGES)
def test_a_stage_giving_a_wrong_value_fails_its_check(good, monkeypatch, n):
    module, name, after = BREAKS[n]
    _wrap(monkeypatch, module, name, after)
    text, _ = _demo_text_and_objects()
    with pytest.raises(AssertionError):
        CHECKS[n - 1](text, good)


@pytest.mark.parametrize("n", range(1, 8), ids=STAGES)
def test_a_stage_that_fails_stops_the_command_before_its_line(monkeypatch, n):
    from typer.testing import CliRunner

    from mitrasim.cli import app

    module, name, _ = BREAKS[n]

    def broken(*a, **k):
        raise RuntimeError(f"{STAGES[n - 1]} broken on purpose")

    monkeypatch.setattr(importlib.import_module(module), name, broken)
    r = CliRunner().invoke(app, ["demo"])
    assert r.exit_code != 0 and isinstance(r.exception, RuntimeError) and "on purpose" in str(r.exception)
    assert f"{n}. {STAGES[n - 1]}:" not in r.output
    assert all(f"{k}. {STAGES[k - 1]}:" not in r.output for k in range(n, 8))


def test_the_plan_stage_computes_no_intervals_it_does_not_print(good):
    """The plan line shows point estimates only: the demo asks the planner for no calibration
    ensemble (the case has measurements, so the planner's default would compute one)."""
    assert good["case"].measurements is not None
    assert good["plan"].uncertainty["intervals"] is None
    assert "%" not in _line(good["text"], 4) and "interval" not in good["text"].lower()
