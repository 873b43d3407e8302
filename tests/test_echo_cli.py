import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mitrasim.cli import app
from mitrasim.errors import InputError

runner = CliRunner()
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _run(*args):
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.run([sys.executable, "-m", "mitrasim", "grade", *args], capture_output=True, text=True, env=env, timeout=60)


def test_json_shape_from_pisa():
    r = runner.invoke(app, ["grade", "--pisa-radius-cm", "0.9", "--aliasing-cm-s", "40", "--mr-vmax-cm-s", "500", "--mr-vti-cm", "140", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert {"grade", "severity", "reasons", "measurements"} <= set(d)
    # EROA 0.407 cm² (severe) against RVol 57 mL (moderate): discordant quantitation, EROA most likely
    assert (d["grade"], d["rule"], d["most_likely_grade"]) == ("indeterminate", "discordant_quantitation", "4+")
    assert d["measurements"]["eroa_cm2"] == pytest.approx(0.407, abs=1e-3)
    assert d["measurements"]["rvol_ml"] == pytest.approx(57.0, abs=0.1)
    assert {"rvol_ml", "eroa_cm2"} <= set(d["disagreeing"]) and d["most_likely_rule"]
    assert isinstance(d["reasons"], list) and d["reasons"]


def test_json_moderate_severe_and_guideline_switch():
    r = runner.invoke(app, ["grade", "--eroa-cm2", "0.35", "--rvol-ml", "50", "--json"])
    d = json.loads(r.stdout)
    assert (d["grade"], d["severity"]) == ("3+", "moderate-severe")
    args = ["grade", "--eroa-cm2", "0.32", "--etiology", "secondary", "--guideline", "esc2021", "--elliptical-orifice", "--json"]
    d = json.loads(runner.invoke(app, args).stdout)
    assert d["grade"] == "4+" and d["guideline"] == "esc2021"


def test_esc_grade_names_the_ase_count_rule_it_used():
    """Under ESC 2021 the count rule's only source is ASE 2017 Fig. 12: the printed reason says so,
    and the table names the guideline set as every output does (GUIDELINE_LABELS)."""
    from mitrasim.echo.thresholds import COUNT_RULE_SOURCE, GUIDELINE_LABELS

    signs = ["--mv-morphology", "flail_or_large_defect", "--jet-type", "eccentric_wall_hugging", "--cw-density", "dense_triangular",
             "--pv-flow", "reversal", "--eroa-cm2", "0.45", "--guideline", "esc2021"]  # fmt: skip
    r = runner.invoke(app, ["grade", *signs], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    assert f"the {COUNT_RULE_SOURCE} rule, used for both guideline sets" in r.stdout
    assert f"MR grade ({GUIDELINE_LABELS['esc2021']}, primary MR)" in r.stdout
    d = json.loads(runner.invoke(app, ["grade", *signs, "--json"]).stdout)
    assert d["rule"] == "criteria_severe" and f"the {COUNT_RULE_SOURCE} rule, used for both guideline sets" in d["reasons"][0]


def test_human_output_table():
    r = runner.invoke(app, ["grade", "--eroa-cm2", "0.25", "--vc-cm", "0.5", "--pv-flow", "normal"])
    assert r.exit_code == 0, r.output
    assert "MR 2+" in r.stdout and "eroa_cm2" in r.stdout and "not a medical device" in r.stdout


def test_case_file(tmp_path):
    case = tmp_path / "case.yaml"
    case.write_text("patient: {hr_bpm: 70}\necho:\n  eroa_cm2: 0.45\n  rvol_ml: 65\n  pv_flow: reversal\n  etiology: primary\n")
    d = json.loads(runner.invoke(app, ["grade", "--case", str(case), "--json"]).stdout)
    assert d["grade"] == "4+"
    # command-line values win over the case file
    d = json.loads(runner.invoke(app, ["grade", "--case", str(case), "--pv-flow", "normal", "--eroa-cm2", "0.25", "--rvol-ml", "35", "--json"]).stdout)
    assert d["grade"] == "2+"


@pytest.mark.parametrize(
    "args, field",
    [
        (["--pisa-radius-cm", "-0.5", "--aliasing-cm-s", "40", "--mr-vmax-cm-s", "500"], "pisa_radius_cm"),
        (["--rf-pct", "120"], "rf_pct"),
        (["--pisa-radius-cm", "0.9", "--aliasing-cm-s", "40", "--mr-vmax-cm-s", "30"], "mr_vmax_cm_s"),
        (["--eroa-cm2", "abc"], "eroa_cm2"),
        (["--pv-flow", "up"], "pv_flow"),
        (["--eroa-cm2", "0.3", "--guideline", "nope"], "guideline"),
    ],
)
def test_bad_input_one_line_exit_2(args, field):
    p = _run(*args)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}:")
    assert "allowed" in lines[0] or "is outside" in lines[0]  # or the range sentence of mitrasim.ranges


def test_missing_everything_lists_what_is_needed():
    p = _run()
    assert p.returncode == 2 and "Traceback" not in p.stderr
    for opt in ("--eroa-cm2", "--rvol-ml", "--rf-pct", "--vc-cm", "--case"):
        assert opt in p.stderr


def test_case_file_bad_field(tmp_path):
    case = tmp_path / "case.yaml"
    case.write_text("echo:\n  eroa_cm2: 0.3\n  eroa_mm2: 30\n")
    p = _run("--case", str(case))
    assert p.returncode == 2 and "echo.eroa_mm2" in p.stderr and "no such field" in p.stderr
    case.write_text("echo:\n  rf_pct: 140\n")
    p = _run("--case", str(case))
    assert p.returncode == 2 and "echo.rf_pct" in p.stderr


def test_thresholds_command_lists_sources():
    r = runner.invoke(app, ["echo-thresholds", "--json"])
    rows = json.loads(r.stdout)
    assert any(row["parameter"] == "eroa_cm2" and row["value"] == 0.4 for row in rows)
    assert all(row["sources"] for row in rows)


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_grade_reads_shipped_example_echo_section():
    r = runner.invoke(app, ["grade", "--case", str(EXAMPLES / "coapt_secondary.yaml"), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    # EROA 0.41 cm² → severe; etiology taken from patient.etiology; context fields (LVEF, LVEDV) accepted
    assert d["grade"] == "4+" and d["etiology"] == "secondary"


def test_grade_example_without_mr_values_says_what_is_needed():
    p = _run("--case", str(EXAMPLES / "small_valve.yaml"))  # echo: has only mva_cm2
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.startswith("error: measurements:") and "--eroa-cm2" in p.stderr


def test_issue_examples_from_the_command_line():
    """One severe sign never settles the grade; a radius with a wall-constrained jet is no sign; a
    normal valve has no stenosis."""
    d = json.loads(runner.invoke(app, ["grade", "--pv-flow", "reversal", "--json"]).stdout)
    assert d["grade"] == "indeterminate" and d["criteria_severe"] == ["pv_flow"]
    d = json.loads(runner.invoke(app, ["grade", "--vc-cm", "0.25", "--eroa-cm2", "0.25", "--rvol-ml", "35", "--rf-pct", "35", "--json"]).stdout)
    assert d["grade"] == "2+" and d["warnings"]  # a 0.25 cm VC cannot belong to a 0.25 cm² orifice
    args = ["grade", "--pisa-radius-cm", "1.0", "--aliasing-cm-s", "40", "--mr-vmax-cm-s", "500", "--wall-angle-deg", "120", "--json"]
    d = json.loads(runner.invoke(app, args).stdout)
    assert d["grade"] == "3+" and d["criteria_severe"] == [] and any("wall-constrained" in w for w in d["warnings"])
    d = json.loads(runner.invoke(app, ["grade", "--eroa-cm2", "0.1", "--mva-cm2", "5.0", "--mean-gradient-mmhg", "1", "--json"]).stdout)
    assert d["stenosis"]["severity"] == "none"


@pytest.mark.parametrize(
    "opt, value",
    [("--cw-density", "thick"), ("--mv-morphology", "flail"), ("--jet-type", "wall"), ("--inflow-pattern", "e"), ("--lv-size", "big"), ("--vc-biplane-cm", "4")],
)
def test_new_signs_bad_input_one_line(opt, value):
    p = _run("--eroa-cm2", "0.3", opt, value)
    field = opt[2:].replace("-", "_")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().startswith(f"error: {field}:") and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_new_signs_from_a_case_file(tmp_path):
    case = tmp_path / "c.yaml"
    case.write_text(
        "echo:\n  mv_morphology: flail_or_large_defect\n  cw_density: dense_triangular\n  pv_flow: reversal\n"
        "  jet_type: eccentric_wall_hugging\n  lv_size: enlarged\n  vc_biplane_cm: 0.9\n  inflow_pattern: e_dominant\n"
    )
    d = json.loads(runner.invoke(app, ["grade", "--case", str(case), "--json"]).stdout)
    assert d["grade"] == "4+" and d["rule"] == "criteria_severe" and len(d["criteria_severe"]) == 7


def test_case_schema_and_grade_share_one_echo_definition():
    from mitrasim.case import Case
    from mitrasim.echo.schema import EchoInput

    assert Case.model_fields["echo"].annotation == (EchoInput | None)


def _mvarc(*args):
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.run([sys.executable, "-m", "mitrasim", "mvarc", *args], capture_output=True, text=True, env=env, timeout=60)


def test_mvarc_json_success_and_stenosis():
    args = ["mvarc", "--before-grade", "4+", "--after-grade", "1+", "--mva-cm2", "2.1", "--mean-gradient-mmhg", "3.2", "--json"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    # echo criteria alone never make a success: the clinical components are not assessed
    assert (d["residual_mr"], d["iatrogenic_stenosis"], d["success"]) == ("optimal", False, None)
    assert d["device_success"]["not_assessable"] and d["device_success"]["failed"] == []
    assert d["citations"] and "not a medical device" in d["disclaimer"]
    d = json.loads(runner.invoke(app, [*args, "--events", "none"]).stdout)
    assert [d[k]["success"] for k in ("technical_success", "device_success", "procedural_success")] == [True, True, True]
    d = json.loads(runner.invoke(app, ["mvarc", "--before-grade", "4", "--after-grade", "2+", "--mean-gradient-mmhg", "5", "--events", "none", "--json"]).stdout)
    assert (d["residual_mr"], d["iatrogenic_stenosis"], d["success"]) == ("acceptable", True, False)
    assert d["device_success"]["failed"] == ["no_iatrogenic_stenosis"] and d["technical_success"]["success"] is True
    d = json.loads(runner.invoke(app, ["mvarc", "--before-grade", "3+", "--after-grade", "2+", "--events", "none", "--json"]).stdout)
    assert d["iatrogenic_stenosis"] is None and d["success"] is None


def test_mvarc_human_output():
    r = runner.invoke(app, ["mvarc", "--before-grade", "4+", "--after-grade", "3+", "--mva-cm2", "2.5"])
    assert r.exit_code == 0, r.output
    assert "device success (30 days" in r.stdout and "not met: mr_reduction_optimal_or_acceptable" in r.stdout
    assert "not acceptable" in r.stdout and "not a medical device" in r.stdout
    assert "clinical events not given" in r.stdout


@pytest.mark.parametrize(
    "args, field",
    [
        (["--before-grade", "5+", "--after-grade", "1+"], "before_grade"),
        (["--before-grade", "4+", "--after-grade", "mild"], "after_grade"),
        (["--after-grade", "1+"], "before_grade"),
        (["--before-grade", "4+", "--after-grade", "1+", "--mva-cm2", "-1"], "mva_cm2"),
        (["--before-grade", "4+", "--after-grade", "1+", "--mva-cm2", "abc"], "mva_cm2"),
        (["--before-grade", "4+", "--after-grade", "1+", "--mean-gradient-mmhg", "99"], "mean_gradient_mmhg"),
        (["--before-grade", "4+", "--after-grade", "1+", "--events", "dead"], "events"),
        (["--before-grade", "4+", "--after-grade", "1+", "--events", "none,stroke"], "events"),
    ],
)
def test_mvarc_bad_input_one_line_exit_2(args, field):
    p = _mvarc(*args)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}:"), p.stderr
    assert "allowed" in lines[0]


def test_esc_reasons_show_table7_cuts_the_ase_mild_column_and_check_marks():
    """ESC 2021 Table 7's own cuts (biplane VC from 0.8 cm, dilated LA from 60 mL/m²) in the printed
    reasons; the ASE set prints its own; mild criteria under ESC are labelled ASE's; a "[check]" in a
    reason or note is printed, not taken for markup."""
    from mitrasim.echo.grading import ESC_MILD_COLUMN_NOTE, ESC_SECONDARY_LA_NOTE

    study = ["grade", "--vc-biplane-cm", "0.8", "--la-volume-index-ml-m2", "59", "--pv-flow", "normal", "--pisa-radius-cm", "1.0"]
    esc = runner.invoke(app, [*study, "--guideline", "esc2021", "--etiology", "secondary"], env={"COLUMNS": "300"})
    assert esc.exit_code == 0, esc.output
    assert "biplane vena contracta 0.8 cm ≥ 0.8 → severe criterion" in esc.stdout
    assert "LA volume index 59 mL/m² above 34 (upper normal) and < 60" in esc.stdout
    assert "pulmonary-vein systolic dominance → mild criterion (ASE 2017 mild column)" in esc.stdout
    assert f"note: {ESC_MILD_COLUMN_NOTE}" in esc.stdout and f"note: {ESC_SECONDARY_LA_NOTE}" in esc.stdout
    assert "this radius is EACVI's [check])" in esc.stdout and ESC_SECONDARY_LA_NOTE.endswith("[check]")
    ase = runner.invoke(app, study, env={"COLUMNS": "300"})
    assert "biplane vena contracta 0.8 cm ≤ 0.8: not a severe criterion" in ase.stdout
    assert "LA volume index 59 mL/m² > 34 → enlarged chamber(s), severe criterion" in ase.stdout
    assert "ASE 2017 mild column" not in ase.stdout
    d = json.loads(runner.invoke(app, [*study, "--guideline", "esc2021", "--json"]).stdout)
    assert "biplane vena contracta 0.8 cm ≥ 0.8 → severe criterion" in d["reasons"] and ESC_MILD_COLUMN_NOTE in d["notes"]


def test_threshold_listing_prints_check_marks():
    r = runner.invoke(app, ["echo-thresholds", "--guideline", "esc2021"], env={"COLUMNS": "2000"})
    assert r.exit_code == 0, r.output
    assert "used for both etiologies [check]" in r.stdout


def test_elliptical_orifice_and_low_flow_are_two_flags():
    """ESC 2021 Table 7, secondary MR: the elliptical orifice lowers EROA's severe cut, low flow RVol's."""
    base = ["grade", "--etiology", "secondary", "--guideline", "esc2021", "--json"]
    grade = lambda *a: json.loads(runner.invoke(app, [*base, *a]).stdout)["grade"]  # noqa: E731
    assert grade("--rvol-ml", "48", "--elliptical-orifice") == "3+"
    assert grade("--rvol-ml", "48", "--low-flow") == "4+"
    assert grade("--eroa-cm2", "0.32", "--low-flow") == "3+"
    assert grade("--eroa-cm2", "0.32", "--elliptical-orifice") == "4+"


def test_table7_diameters_and_tvi_ratio_on_the_command_line():
    args = ["grade", "--lvesd-mm", "41", "--la-diameter-mm", "50", "--tvi-mitral-aortic-ratio", "1.5", "--json"]
    d = json.loads(runner.invoke(app, [*args, "--guideline", "esc2021"]).stdout)
    assert sorted(d["criteria_severe"]) == ["chambers", "tvi_ratio"]
    d = json.loads(runner.invoke(app, args).stdout)
    assert d["criteria_severe"] == [] and "TVI mitral/TVI aortic 1.5: not a criterion of the ase2017 set" in d["reasons"]
    bad = runner.invoke(app, ["grade", "--lvesd-mm", "300"])
    assert isinstance(bad.exception, InputError) and bad.exception.field == "lvesd_mm", bad.output
