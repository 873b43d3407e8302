"""The compiled engine's cache survives a reinstall and works from a read-only install."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = "import mitrasim, sys; from mitrasim.physiology.simulation import simulate; simulate('regazzoni2022', eroa_cm2=0.2); print(mitrasim.__file__)"


def _install(target: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    for p in target.rglob("*"):  # read-only install
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _run(target: Path, cache: Path) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(target), "MITRASIM_CACHE_DIR": str(cache)}
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=900, cwd=target.parent)
    assert p.returncode == 0, p.stderr
    return time.perf_counter() - t, p.stdout.strip()


@pytest.mark.slow
def test_cache_survives_reinstall_and_read_only_install(tmp_path):
    cache = tmp_path / "cache"
    a, b = tmp_path / "install_a", tmp_path / "install_b"
    _install(a)
    cold, where = _run(a, cache)
    assert where.startswith(str(a))
    assert any(cache.rglob("*.nbi")), "no compiled code was cached"
    warm, _ = _run(a, cache)
    _install(b)  # a reinstall of the same code elsewhere
    reinstalled, where_b = _run(b, cache)
    assert where_b.startswith(str(b))
    assert warm < cold / 3 and reinstalled < cold / 3, (cold, warm, reinstalled)
    for p in (a, b):
        for f in p.rglob("*"):
            f.chmod(f.stat().st_mode | stat.S_IWUSR)


@pytest.mark.slow
def test_kernels_cached_by_different_processes_load_together(tmp_path):
    """The batch kernel cached by one process and the one-patient kernel by another: a third process
    loading both (batch first) must run each one's own code (a symbol clash once ran the batch
    kernel's group loop for a single patient: ZeroDivisionError)."""
    env = {**os.environ, "MITRASIM_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT / "src")}
    run = lambda code: subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900)  # noqa: E731
    head = "import numpy as np; from mitrasim.physiology.simulation import simulate; "
    assert run(head + "simulate('primary_mr', eroa_cm2=np.full(20, 0.2))").returncode == 0
    assert run(head + "simulate('primary_mr', eroa_cm2=0.2)").returncode == 0
    p = run(head + "b = simulate('primary_mr', eroa_cm2=np.full(20, 0.2)); s = simulate('primary_mr', eroa_cm2=0.2); "
            "print(float(np.abs(b.final_state[0] - s.final_state[0]).max()))")
    assert p.returncode == 0, p.stderr[-2000:]
    assert float(p.stdout.strip()) == 0.0
