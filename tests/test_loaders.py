"""Every file loader reads through ``files.read_data``: a missing, non-UTF-8 or unparseable file is
one :class:`InputError` naming the loader's field, the path and what is allowed, in one line; a
field that fails its schema is named by its path (``errors.validate_model``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mitrasim.case import load_case
from mitrasim.cohort.population import load_population
from mitrasim.cohort.trial import load_trial
from mitrasim.echo.schema import load_case_echo
from mitrasim.errors import InputError
from mitrasim.validate.schema import load_comparators

# loader, its field, what a readable file is, what valid content is
LOADERS = [
    (load_case, "path", "a readable case file", "valid YAML or JSON"),
    (load_population, "population", "a readable YAML file", "valid YAML"),
    (load_trial, "trial", "a readable trial YAML file", "valid YAML"),
    (load_case_echo, "case", "a readable YAML/JSON case file", "valid YAML/JSON"),
    (load_comparators, "COMPARATORS", "a readable comparator YAML file", "valid YAML"),
]
IDS = [f[0].__name__ for f in LOADERS]


def _error(loader, path: Path) -> InputError:
    with pytest.raises(InputError) as e:
        loader(path)
    assert "\n" not in str(e.value)
    return e.value


@pytest.mark.parametrize("loader, field, readable, valid", LOADERS, ids=IDS)
def test_a_missing_file_names_the_field_the_path_and_a_readable_file(tmp_path, loader, field, readable, valid):
    p = tmp_path / "absent.yaml"
    err = _error(loader, p)
    assert (err.field, err.value) == (field, str(p))
    assert readable in err.allowed
    assert "No such file" in str(err)


@pytest.mark.parametrize("loader, field, readable, valid", LOADERS, ids=IDS)
def test_a_file_that_is_not_utf8_is_unreadable(tmp_path, loader, field, readable, valid):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    err = _error(loader, p)
    assert (err.field, err.value) == (field, str(p))
    assert readable in err.allowed and "not UTF-8" in str(err)


@pytest.mark.parametrize("loader, field, readable, valid", LOADERS, ids=IDS)
def test_a_file_that_does_not_parse_says_which_syntax(tmp_path, loader, field, readable, valid):
    p = tmp_path / "broken.yaml"
    p.write_text("a: [1, 2\nb: {\n", encoding="utf-8")
    err = _error(loader, p)
    assert (err.field, err.allowed) == (field, valid)
    assert err.value == str(p)


def test_a_json_case_file_is_parsed_as_json(tmp_path):
    """Both case readers take a ``.json`` file as JSON (a trailing comma is a JSON error)."""
    p = tmp_path / "case.json"
    p.write_text('{"patient": {"hr_bpm": 70,}}', encoding="utf-8")
    for loader, allowed in ((load_case, "valid YAML or JSON"), (load_case_echo, "valid YAML/JSON")):
        assert _error(loader, p).allowed == allowed


@pytest.mark.parametrize(
    "loader, text, field",
    [
        (load_population, "name: t\ncontinuous: {age_years: {mean: 70, sd: -1, lo: 40, hi: 95}}\n", "continuous.age_years.sd"),
        (load_trial, "name: t\npopulation: coapt_like\nn_patients: 0\n", "n_patients"),
        (load_comparators, "sources: {k1: {text: a source text, colour: blue}}\n", "sources.k1.colour"),
    ],
    ids=["population", "trial", "comparators"],
)
def test_a_schema_error_in_a_file_names_the_field(tmp_path, loader, text, field):
    p = tmp_path / "bad.yaml"
    p.write_text(text, encoding="utf-8")
    assert _error(loader, p).field == field
