"""The benchmark's reference kernel (benchmarks/reference_kernel.py) in float64 and float32.

The float32 kernel is the measurement behind issue 19's float32 question (``benchmarks/engine.py
--only kernel``): it must compute in single precision (a float64 constant would silently promote
the arithmetic, and the speed measured would be float64's) and agree with the float64 kernel to the
rounding a single-precision RK4 run accumulates.  Slow: compiling both kernels takes about 30 s.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from mitrasim.physiology import simulation as S
from mitrasim.physiology.parameter_sets import get_parameter_set

_BENCH = Path(__file__).resolve().parent.parent / "benchmarks"

#: float32's unit roundoff.
EPS32 = float(np.finfo(np.float32).eps) / 2


def _reference_kernel():
    spec = importlib.util.spec_from_file_location("mitrasim_bench_reference_kernel", _BENCH / "reference_kernel.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_the_float32_kernel_computes_in_single_precision_within_its_rounding():
    rk = _reference_kernel()
    ps = get_parameter_set("regazzoni2022")
    n, n_beats, dt = 40, 3, 4e-3  # not a multiple of either kernel's lanes: the last block is padded
    cols, n = S.build_batch(ps, None, eroa_cm2=np.linspace(0.0, 0.6, n))
    steps = int(S.steps_per_beat(0.8, dt))
    P, _ = S._kernel_arrays(cols, ps.model, n, n, steps)
    X0 = S._initial_states(ps, cols, n, n, None)
    m64 = rk.run(P, X0, steps, n_beats)
    m32 = rk.run(P, X0, steps, n_beats, np.float32)
    assert m64.shape == m32.shape == (len(rk.REF_METRICS), n)
    rel = np.abs(m32 - m64) / np.abs(m64)
    # a rounding of each state every step: at most n_beats·steps·ε relative (with a factor 2 for the
    # stages and the sums of the metrics; observed ≈ 1e-5)
    assert rel.max() < 2 * n_beats * steps * EPS32
    assert rel.max() > EPS32  # rounded in single precision somewhere
    # single precision for real: the vector loops' arithmetic is on floats (16 a vector in the step), none on doubles (a float64
    # literal in the step would promote it); the float64 kernel's is on 8 doubles
    ir32 = rk._block32.inspect_llvm(rk._block32.signatures[0])
    ir64 = rk._block.inspect_llvm(rk._block.signatures[0])
    vector_ops = r"= (?:fmul|fadd|fsub|fdiv)[^%]*?(<\d+ x (?:float|double)>)"
    found32, found64 = set(re.findall(vector_ops, ir32)), set(re.findall(vector_ops, ir64))
    assert "<16 x float>" in found32 and not any("double" in t for t in found32)
    assert "<8 x double>" in found64 and not any("float" in t for t in found64)
