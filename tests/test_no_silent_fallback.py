"""No silent fallback: a mistyped preset is refused, an indeterminate grade is never a number."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import mitrasim
from mitrasim.errors import InputError

SRC = str(Path(mitrasim.__file__).parents[1])
COAPT_LIKE = Path(mitrasim.__file__).parent / "cohort" / "populations" / "coapt_like.yaml"


def _population(presets: dict) -> dict:
    data = yaml.safe_load(COAPT_LIKE.read_text(encoding="utf-8"))
    data["presets"] = presets
    return data


def test_mistyped_population_preset_is_refused_naming_field_and_allowed():
    from mitrasim.cohort.population import load_population
    from mitrasim.physiology.parameter_sets import PARAMETER_SETS

    with pytest.raises(InputError) as e:
        load_population(_population({"primary": "primary_mr", "secondary": "secondray_mr"}))
    msg = str(e.value)
    assert msg.startswith("presets") and "secondray_mr" in msg and "\n" not in msg
    assert all(name in msg for name in PARAMETER_SETS)


def test_population_keeps_the_default_preset_of_an_etiology_it_does_not_name():
    from mitrasim.cohort.population import DEFAULT_PRESETS, load_population

    pop = load_population(_population({"secondary": "secondary_mr"}))
    assert pop.presets == {"primary": DEFAULT_PRESETS["primary"], "secondary": "secondary_mr"}


def test_mapping_refuses_an_unknown_preset_instead_of_the_normal_heart():
    from mitrasim.cohort.mapping import resolve_preset

    assert resolve_preset("secondary_mr") == "secondary_mr"
    with pytest.raises(InputError, match="secondray_mr"):
        resolve_preset("secondray_mr")


def test_trial_cli_with_a_mistyped_preset_exits_2_with_one_line(tmp_path):
    pop = tmp_path / "pop.yaml"
    pop.write_text(yaml.safe_dump(_population({"primary": "primary_mr", "secondary": "secondray_mr"})), encoding="utf-8")
    trial = tmp_path / "trial.yaml"
    trial.write_text(yaml.safe_dump({"name": "t", "population": str(pop), "n_patients": 10, "seed": 1,
                                     "arms": [{"name": "a", "strategy": {"stop_rule": "mr_le_2plus"}}]}), encoding="utf-8")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "mitrasim", "trial", str(trial), "--out", str(out)],
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=SRC), timeout=300)
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and "presets" in line and "secondray_mr" in line and "secondary_mr" in line
    assert not out.exists()


@pytest.mark.parametrize("shown", ["indeterminate", "indeterminate (≈3+)", "indeterminate: discordant", None, ""])
def test_an_indeterminate_grade_is_never_a_number_in_the_outcome(shown):
    from mitrasim.pathway.outcome import grade_or_indeterminate

    assert grade_or_indeterminate(shown) == "indeterminate"
