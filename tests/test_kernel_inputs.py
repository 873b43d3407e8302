"""The kernel's inputs built by :mod:`mitrasim.physiology.simulation` from cheaper arithmetic are the
same numbers, to the bit, as the plain expressions they replace (the trial tables depend on every bit)."""

from __future__ import annotations

import numpy as np
import pytest

from mitrasim.physiology import simulation as sim
from mitrasim.physiology.parameters import N_STATE


def _bits(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=float).view(np.int64)


def test_onset_steps_is_the_floored_remainder_bit_for_bit() -> None:
    rng = np.random.default_rng(1)
    steps = rng.choice(np.arange(160, 400, 16), 4000).astype(np.int64)
    positions = [
        rng.uniform(0.0, 1200.0, 4000),  # positions past a beat's end wrap
        np.where(rng.random(4000) < 0.5, 0.0, steps * rng.integers(0, 3, 4000)).astype(float),  # exact multiples, +0
        np.full(4000, -0.0),  # -0 (floored: +0; truncated: -0)
        rng.uniform(-500.0, 500.0, 4000),  # negative positions
    ]
    for at in positions:
        for n in (steps, steps.astype(float), 208):
            assert np.array_equal(_bits(sim._onset_steps(at, n)), _bits(at % n))
    assert sim._onset_steps(-3.5, 208) == -3.5 % 208  # one patient's floats


def test_warm_starts_at_the_kernel_columns_are_the_patients_states() -> None:
    rng = np.random.default_rng(2)
    n, n_pad = 37, 48
    src = np.concatenate([rng.permutation(n), np.zeros(n_pad - n, dtype=np.intp)])
    for x0 in (rng.normal(size=(n, N_STATE)), rng.normal(size=(1, N_STATE))):
        got = sim._states_at(x0, n, n_pad, src)
        assert got.shape == (N_STATE, n_pad) and got.flags.c_contiguous
        assert np.array_equal(got, np.broadcast_to(x0, (n, N_STATE))[src].T)


def test_the_fits_jacobians_keep_their_finite_values_and_zero_the_rest_as_nan_to_num_did() -> None:
    from mitrasim.cohort.mapping import _finite_or_zero

    rng = np.random.default_rng(3)
    J = rng.normal(size=(300, 5, 13)).transpose(0, 2, 1)  # a transposed view, as the forward differences give it
    J[::7, 1, 3], J[::11, 2, 2], J[::13, 4, 1], J[::5, 0, 0] = np.nan, np.inf, -np.inf, -0.0
    assert np.array_equal(_bits(_finite_or_zero(J)), _bits(np.nan_to_num(J, nan=0.0, posinf=0.0, neginf=0.0)))


@pytest.mark.parametrize("low", [160, 65_536 - 160])  # counts below 2**16, and counts across it (up to 200,000 may occur)
def test_the_layout_groups_patients_by_step_count_in_their_own_order(low: int) -> None:
    """Each step count's patients sit in one segment in ascending step counts, in the batch's order
    (a stable sort: the columns do not depend on the sort's algorithm), then the segment's padding."""
    rng = np.random.default_rng(4)
    steps = rng.choice(np.arange(low, low + 320, 16), 3000).astype(np.int64)
    seg, src, pos = sim._layout(steps)
    assert src is not None and np.array_equal(src[pos], np.arange(len(steps)))
    for a, n_real, n_steps in zip(seg.start[:-1].tolist(), seg.n_real.tolist(), seg.n_steps.tolist()):
        assert np.array_equal(src[a : a + n_real], np.flatnonzero(steps == n_steps))
    assert np.all(np.diff(seg.n_steps) > 0)
