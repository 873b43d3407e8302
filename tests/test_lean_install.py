"""A lean install: the CLI without ``click``, and one clear line naming the extra a feature needs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mitrasim
from mitrasim.errors import InputError
from mitrasim.extras import EXTRA_MODULES, MissingExtra, missing_modules, require_extra

SRC = str(Path(mitrasim.__file__).parents[1])


def _run_hiding(modules: tuple[str, ...], argv: list[str]) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh interpreter where ``modules`` cannot be imported (as if not installed)."""
    code = textwrap.dedent(f"""
        import sys
        class _Hide:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in {modules!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None
        sys.meta_path.insert(0, _Hide())
        import importlib.util
        _orig = importlib.util.find_spec
        importlib.util.find_spec = lambda name, package=None: None if name.split('.')[0] in {modules!r} else _orig(name, package)
        from mitrasim.cli import main
        main({argv!r})
    """)
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_cli_runs_without_click():
    r = _run_hiding(("click",), ["--version"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"mitrasim {mitrasim.__version__}"
    bad = _run_hiding(("click",), ["simulate", "--hr-bpm", "abc"])
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and len(bad.stderr.strip().splitlines()) == 1


def test_serve_without_the_web_extra_names_it():
    r = _run_hiding(("fastapi", "uvicorn"), ["serve"])
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and "'web' extra" in line and "pip install 'mitrasim[web]'" in line


@pytest.mark.parametrize("flag,value", [("--dask-local", "2"), ("--scheduler", "tcp://127.0.0.1:1")])
def test_trial_on_dask_without_the_dask_extra_names_it(tmp_path, flag, value):
    out = tmp_path / "out"
    trial = Path(__file__).parents[1] / "examples" / "trials"
    spec = next(iter(sorted(trial.glob("*.yaml"))), None) if trial.is_dir() else None
    if spec is None:
        pytest.skip("no example trial file in examples/trials")
    r = _run_hiding(("dask", "distributed"), ["trial", str(spec), "--out", str(out), flag, value])
    assert r.returncode == 2, r.stderr
    assert "'dask' extra" in r.stderr and "pip install 'mitrasim[dask]'" in r.stderr
    assert not out.exists()  # refused before anything is written


def test_require_extra_is_an_input_error_naming_the_extra(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, package=None: None)
    assert missing_modules("dask") == list(EXTRA_MODULES["dask"])
    with pytest.raises(MissingExtra) as e:
        require_extra("dask", "--dask-local")
    assert isinstance(e.value, InputError) and "mitrasim[dask]" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ValueError, match="unknown extra"):
        missing_modules("nosuch")
