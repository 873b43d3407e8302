"""Command-line fuzz (hypothesis): every command's options and input files — random bytes, other
encodings, YAML/JSON shapes, mutated example cases, odd paths — end with exit code 0 or 2, print
no traceback, and write nothing when they fail."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import tempfile
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mitrasim.cli import main  # noqa: E402
from mitrasim.examples_data import example_text  # noqa: E402

P2 = yaml.safe_load(example_text("p2_flail"))
# No shrinking: each example runs a command (seconds on a loaded 2-core machine); the failing example is printed as found.
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True, phases=[Phase.explicit, Phase.generate])


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``mitrasim ARGV`` in this process: (exit code, stdout, stderr); an exception that escapes
    ``main`` (a traceback for the user) fails the test."""
    out, err = io.StringIO(), io.StringIO()
    code: int | None = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    return int(code or 0), out.getvalue(), err.getvalue()


def check(argv: list[str], out_dir: Path | None = None) -> int:
    code, out, err = run_cli(argv)
    assert code in (0, 2), (argv, code, err[-2000:])
    assert "Traceback" not in err + out, (argv, err[-2000:])
    if code == 2:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        assert lines and lines[-1].startswith("error: "), (argv, err)
        if out_dir is not None:
            assert not out_dir.exists() or not any(out_dir.iterdir()), (argv, sorted(p.name for p in out_dir.iterdir()))
    return code


# -- file contents -----------------------------------------------------------------------------------
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(["NaN", ".inf", "-.inf", "1e999", "~", "yes", "2026-13-45", "\u202e", "\x00"]),
)
shapes = st.recursive(scalars, lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=12), kids, max_size=4)), max_leaves=12)


def _paths(d: dict, prefix: tuple = ()) -> list[tuple]:
    out = []
    for k, v in d.items():
        out.append((*prefix, k))
        if isinstance(v, dict):
            out += _paths(v, (*prefix, k))
    return out


CASE_PATHS = _paths(P2)


@st.composite
def mutated_case(draw) -> bytes:
    d = copy.deepcopy(P2)
    path = draw(st.sampled_from(CASE_PATHS))
    node = d
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = draw(scalars)
    return yaml.safe_dump(d, allow_unicode=True).encode("utf-8")


file_bytes = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-16")),
    st.text(alphabet=st.characters(min_codepoint=0xA0, max_codepoint=0xFF), min_size=1, max_size=50).map(lambda t: ("name: " + t).encode("latin-1")),
    shapes.map(lambda x: yaml.safe_dump(x, allow_unicode=True).encode("utf-8", "surrogatepass")),
    shapes.map(lambda x: json.dumps(x).encode()),
    st.just(b"a: &a [*a, *a]\n"),  # a YAML alias loop
    st.just(b"[" * 2000 + b"]" * 2000),  # deep nesting
    mutated_case(),
)


def _file(d: Path, data: bytes, suffix: str) -> Path:
    f = d / f"input{suffix}"
    f.write_bytes(data)
    return f


@FUZZ
@given(data=file_bytes, suffix=st.sampled_from([".yaml", ".json", ".yml", ""]), cmd=st.sampled_from(["grade", "trial", "careplan-case", "careplan-protocol", "report"]))
def test_input_files(data: bytes, suffix: str, cmd: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        f = _file(d, data, suffix)
        out = d / "out"
        argv = {
            "grade": ["grade", "--case", str(f)],
            "trial": ["trial", str(f), "--out", str(out), "--no-progress"],
            "careplan-case": ["careplan", "--procedure-date", "2026-01-10", "--out", str(out), "--no-pdf", "--case", str(f)],
            "careplan-protocol": ["careplan", "--procedure-date", "2026-01-10", "--out", str(out), "--no-pdf", "--protocol", str(f)],
            "report": ["report", str(out)],
        }[cmd]
        if cmd == "report":  # a trial folder with a fuzzed manifest
            out.mkdir()
            (out / "manifest.json").write_bytes(data)
            before = sorted(p.name for p in out.iterdir())
            code = check(argv)
            if code == 2:
                assert sorted(p.name for p in out.iterdir()) == before
            return
        check(argv, out)


@pytest.mark.parametrize("cmd", ["plan", "procedure"])
@FUZZ
@given(data=st.one_of(st.binary(max_size=200), shapes.map(lambda x: yaml.safe_dump(x).encode())), suffix=st.sampled_from([".yaml", ".json"]))
def test_plan_and_procedure_files(cmd: str, data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        f = _file(Path(tmp), data, suffix)
        report = Path(tmp) / "r" / "report.html"
        check([cmd, str(f), "--report", str(report)])
        assert not report.exists()


# -- options ---------------------------------------------------------------------------------------
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-(10**30), 10**30).map(str),
    st.text(max_size=12), st.sampled_from(["nan", "inf", "-0", "1e999", "0x10", "", " ", "--", "\x00"]),
)
SIMULATE_OPTS = ["--eroa-cm2", "--mva-cm2", "--hr-bpm", "--preset", "--set"]
GRADE_OPTS = ["--eroa-cm2", "--rvol-ml", "--rf-pct", "--vc-cm", "--pisa-radius-cm", "--aliasing-cm-s", "--mr-vmax-cm-s", "--mr-vti-cm",
              "--wall-angle-deg", "--pv-flow", "--e-velocity-m-s", "--jet-area-pct", "--mva-cm2", "--mean-gradient-mmhg", "--etiology", "--guideline"]


@FUZZ
@given(opts=st.lists(st.tuples(st.sampled_from(SIMULATE_OPTS), values), min_size=1, max_size=3), as_json=st.booleans())
def test_simulate_options(opts: list[tuple[str, str]], as_json: bool) -> None:
    argv = ["simulate", *[x for kv in opts for x in kv]] + (["--json"] if as_json else [])
    code, out, _ = run_cli(argv)
    check(argv)
    if as_json and out.strip():
        json.loads(out, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))


@FUZZ
@given(opts=st.lists(st.tuples(st.sampled_from(GRADE_OPTS), values), min_size=1, max_size=4))
def test_grade_options(opts: list[tuple[str, str]]) -> None:
    check(["grade", *[x for kv in opts for x in kv], "--json"])


@FUZZ
@given(args=st.lists(st.one_of(values, st.sampled_from(["--json", "--help", "-h", "--version", "--before-grade", "--after-grade", "--guideline", "--top", "--seed"])), max_size=4),
       cmd=st.sampled_from(["mvarc", "echo-thresholds", "careplan", "serve", "nosuch", "demo"]))
def test_any_arguments(cmd: str, args: list[str]) -> None:
    if cmd == "serve" and not any(a in ("--help", "-h") for a in args):
        args = [*args, "--port", "0", "--db", "sqlite:////nonexistent_dir/x.db"]  # never actually serves
    if cmd == "demo":
        args = [*args, "--bogus"]  # options only: the demo itself is slow
    check([cmd, *args])


# -- paths -------------------------------------------------------------------------------------------
def test_output_paths_that_cannot_be_written(tmp_path: Path) -> None:
    f = tmp_path / "a_file"
    f.write_text("x")
    example = tmp_path / "case.yaml"
    example.write_text(example_text("p2_flail"))
    trial = tmp_path / "trial.yaml"
    trial.write_text(yaml.safe_dump({"name": "t", "population": "tvt_mixed", "n_patients": 4, "chunk_size": 4, "arms": [{"name": "a", "strategy": {"stop_rule": "mr_le_2plus"}}]}))
    for argv in (
        ["simulate", "--plot", "/nonexistent_dir/x.png"],
        ["simulate", "--plot", str(f / "x.png")],
        ["simulate", "--plot", str(tmp_path)],
        ["trial", str(trial), "--out", str(f), "--no-progress"],
        ["trial", str(trial), "--out", "/nonexistent_dir/sub/out", "--no-progress"],
        ["careplan", "--procedure-date", "2026-01-10", "--out", str(f), "--no-pdf"],
        ["careplan", "--procedure-date", "2026-01-10", "--out", "/nonexistent_dir/sub", "--no-pdf"],
        ["careplan", "--procedure-date", "9999-12-31", "--out", str(tmp_path / "cp"), "--no-pdf"],
        ["report", str(f)],
        ["report", str(tmp_path / "missing")],
        ["grade", "--case", str(tmp_path)],
        ["grade", "--case", str(tmp_path / "missing.yaml")],
        ["serve", "--db", "sqlite:////nonexistent_dir/x.db"],
        ["serve", "--db", "postgresql://u:secret@127.0.0.1:1/db"],
    ):
        code, out, err = run_cli(argv)
        assert code == 2, (argv, code, err)
        assert "Traceback" not in err and err.strip().startswith("error: ") and len(err.strip().splitlines()) == 1, (argv, err)
        assert "secret" not in err
    assert not Path("/nonexistent_dir").exists()
    assert not (tmp_path / "cp").exists()


def test_version_and_short_help() -> None:
    import mitrasim

    code, out, _ = run_cli(["--version"])
    assert code == 0 and out.strip() == f"mitrasim {mitrasim.__version__}"
    code, out, _ = run_cli(["-h"])
    assert code == 0 and "simulate" in out
    code, out, _ = run_cli(["simulate", "-h"])
    assert code == 0 and "--eroa-cm2" in out


def test_usage_errors_are_one_line() -> None:
    for argv in (["simulate", "--bogus"], ["simulate", "--hr-bpm", "abc"], ["nosuch"], ["trial"]):
        code, _, err = run_cli(argv)
        assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: "), (argv, err)


@pytest.mark.parametrize(
    "argv,reason",
    [
        (["simulate", "--mva-cm2", "0.1"], "no value for la_vwave_mmhg"),
        (["simulate", "--set", "pul_ven_c_ml_mmhg=0.001"], "diverged"),
        (["simulate", "--set", "sys_ar_r_mmhg_s_ml=10"], "aortic systolic pressure"),
        (["simulate", "--set", "sys_ven_c_ml_mmhg=1e-9", "--json"], "diverged"),
    ],
)
def test_states_that_are_not_results_exit_2_with_the_reason(argv: list[str], reason: str) -> None:
    code, out, err = run_cli(argv)
    assert code == 2 and reason in err, err
    assert "e+300" not in out and "1e300" not in out and "-100000000000" not in out
    if "--json" in argv:
        payload = json.loads(out)
        assert payload["valid"] is False and payload["flags"]


def test_range_message_is_the_same_for_every_entry_point(tmp_path: Path) -> None:
    code, _, err_sim = run_cli(["simulate", "--hr-bpm", "500"])
    d = copy.deepcopy(P2)
    d["patient"]["hr_bpm"] = 500
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump(d))
    code2, _, err_case = run_cli(["plan", str(f)])
    assert code == code2 == 2
    sentence = "heart rate 500 bpm is outside 30–200 bpm"
    assert sentence in err_sim and sentence in err_case
    _, _, e1 = run_cli(["simulate", "--eroa-cm2", "3"])
    _, _, e2 = run_cli(["grade", "--eroa-cm2", "3"])
    assert "outside 0–2 cm²" in e1 and "outside 0–2 cm²" in e2
