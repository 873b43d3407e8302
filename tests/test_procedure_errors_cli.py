"""Bad input → one-line errors naming the field (exit 2); the CLI, the report and the demo."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from _procedure_shared import EXAMPLES
from mitrasim.errors import InputError

runner = CliRunner()


def _write(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((EXAMPLES / "p2_flail.yaml").read_text())
    mutate(data)
    p = tmp_path / "case.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


BAD = [
    ("unknown field", lambda d: d["valve"].update(colour="red"), "valve.colour"),
    ("leaflet too long", lambda d: (d["valve"]["annulus"].update(ap_diameter_mm=20), d["valve"]["leaflets"]["posterior_mm"].update(P2=25)), "valve.leaflets.posterior_mm.P2"),
    ("gap beyond any device", lambda d: d["valve"]["lesions"][0].update(gap_mm=14), "valve.lesions.0.gap_mm"),
    ("clip outside the line", lambda d: d["procedure"].update(clips=[{"device": "XTW", "position_mm": 36}]), "procedure.clips.0.position_mm"),
    ("unknown device", lambda d: d["procedure"].update(device_preference="SuperClip"), "procedure.device_preference"),
]


@pytest.mark.parametrize("what,mutate,field", BAD, ids=[b[0] for b in BAD])
def test_bad_case_names_the_field(tmp_path, what, mutate, field):
    from mitrasim.case import load_case
    from mitrasim.procedure import plan_case, run_procedure

    p = _write(tmp_path, mutate)
    with pytest.raises(InputError) as e:
        run_procedure(p)
    assert e.value.field == field
    with pytest.raises(InputError):
        plan_case(p)
    with pytest.raises(InputError):
        load_case(p)


@pytest.mark.parametrize("cmd", ["plan", "procedure"])
def test_cli_bad_case_is_one_line_exit_2(tmp_path, cmd):
    from mitrasim.cli import main

    p = _write(tmp_path, BAD[0][1])
    with pytest.raises(SystemExit) as e:
        main([cmd, str(p)])
    assert e.value.code == 2


def test_cli_bad_seed_exit_2(capsys):
    from mitrasim.cli import main

    with pytest.raises(SystemExit) as e:
        main(["procedure", str(EXAMPLES / "p2_flail.yaml"), "--seed", "abc"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--seed" in err[0]


def test_rules_and_rates_validate():
    from mitrasim.procedure import ComplicationRates, Rules

    with pytest.raises(InputError) as e:
        Rules(max_clips=9)
    assert e.value.field == "rules.max_clips"
    with pytest.raises(InputError) as e:
        ComplicationRates(stroke=2.0)
    assert e.value.field == "rates.stroke"
    with pytest.raises(InputError) as e:
        ComplicationRates().with_(tamponade=0.1)
    assert e.value.field == "rates.tamponade"


def test_cli_plan_json_and_report(tmp_path):
    from mitrasim.cli import app

    out = tmp_path / "r.html"
    r = runner.invoke(app, ["plan", str(EXAMPLES / "p2_flail.yaml"), "--json", "--report", str(out)])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["n_evaluated"] >= 500 and d["best"]["n_clips"] >= 1 and "not a medical device" in d["disclaimer"]
    html = out.read_text()
    assert "<svg" in html and "Plan ranking" in html and "Sources" in html and "not a medical device" in html
    assert "Pressure–volume loops" in html and "Echo before and after" in html
    # self-contained: no external scripts, styles, images or fonts
    for bad in ("<script", "<link", 'src="http', "url(http", "@import"):
        assert bad not in html


def test_cli_procedure_json_deterministic():
    from mitrasim.cli import app

    args = ["procedure", str(EXAMPLES / "p2_flail.yaml"), "--seed", "7", "--json"]
    a, b = runner.invoke(app, args), runner.invoke(app, args)
    assert a.exit_code == 0, a.output
    assert a.output == b.output
    d = json.loads(a.output)
    assert d["seed"] == 7 and d["log"][0].startswith("Baseline")


def test_cli_procedure_text():
    from mitrasim.cli import app

    r = runner.invoke(app, ["procedure", str(EXAMPLES / "p2_flail.yaml")])
    assert r.exit_code == 0, r.output
    assert "Before / after" in r.output and "MVARC" in r.output


def test_demo_runs_the_pipeline():
    from rich.console import Console

    from mitrasim.demo import demo_case, run_demo

    buf = io.StringIO()
    out = run_demo(Console(file=buf, width=140))
    text = buf.getvalue()
    assert "4. Plan:" in text and "5. Procedure:" in text and "Before / after" in text and "not a medical device" in text
    assert out["procedure"].n_clips >= 1
    # the packaged copy is the shipped example
    from mitrasim.case import load_case

    assert demo_case() == load_case(EXAMPLES / "p2_flail.yaml")


@pytest.mark.parametrize("name", ["p2_flail", "coapt_secondary", "small_valve", "commissural_a3p3", "barlow"])
def test_packaged_examples_match_the_source_tree(name):
    """Each example shipped as package data (read by the web app and the demo) is the one in examples/."""
    from mitrasim.case import load_case
    from mitrasim.examples_data import EXAMPLES as PACKAGED, example_text, load_example

    assert name in PACKAGED
    assert example_text(name) == (EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8")
    assert load_example(name) == load_case(EXAMPLES / f"{name}.yaml")


def test_packaged_examples_are_all_the_examples():
    from mitrasim.examples_data import EXAMPLES as PACKAGED

    assert set(PACKAGED) == {p.stem for p in EXAMPLES.glob("*.yaml")}
