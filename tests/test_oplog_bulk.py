"""The operator's log's bulk words equal the one-at-a-time words they stand for.

:func:`mitrasim.procedure.oplog.number_texts` prints many numbers against their limits with
:func:`mitrasim.protocol.number_text`'s rule (enough decimals that the printed number falls on the
value's side of the limit) but skips the search for values far from the limit; every value near a
limit (within a few rounding steps, on both sides, exactly at it, NaN and infinities) must still
print as :func:`~mitrasim.protocol.number_text` prints it.  :func:`~mitrasim.procedure.oplog.mr_texts`
looks the grade's words up in a table built from :func:`~mitrasim.procedure.oplog.mr_text`.
"""

from __future__ import annotations

import numpy as np
import pytest

from mitrasim.procedure.oplog import mr_text, mr_texts, number_texts
from mitrasim.protocol import number_text


def _near_limits(decimals: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Values at every distance from their limit that matters to rounding to ``decimals`` decimals
    (0.3 to 0.7 rounding steps on both sides: the skip's margin is 0.6), exactly at it, far from it,
    and not finite; limits on and off the decimal grid."""
    rng = np.random.default_rng(seed)
    step = 10.0**-decimals
    limits = np.concatenate([rng.choice([1.5, 2.0, 4.0, 5.0, 10.0], 3000), rng.uniform(0.5, 12.0, 3000)])
    offsets = np.concatenate([rng.uniform(-0.7, 0.7, 4000) * step, rng.uniform(-0.52, -0.48, 500) * step, rng.uniform(0.48, 0.52, 500) * step,
                              rng.uniform(-30.0, 30.0, 1000) * step])  # fmt: skip
    values = limits + offsets[: limits.size]
    values[:50] = limits[:50]  # exactly at the limit
    values[50:60] = np.nan
    values[60:65] = np.inf
    values[65:70] = -np.inf
    return values, limits


@pytest.mark.parametrize("decimals", [1, 2])
def test_number_texts_print_each_number_as_number_text(decimals):
    values, limits = _near_limits(decimals, seed=decimals)
    got = number_texts(values.tolist(), limits.tolist(), decimals)
    want = [number_text(v, lim, decimals) for v, lim in zip(values.tolist(), limits.tolist())]
    assert got == want
    # the near values do need the search: some print with more decimals than the minimum
    assert sum(len(t.split(".")[-1]) > decimals for t in want if "." in t) > 100


def test_mr_texts_are_mr_text_of_each_pair():
    grades = np.array([g for g in range(-1, 5) for _ in range(5)] * 3)
    decisions = np.array(list(range(5)) * 6 * 3)
    assert mr_texts(grades, decisions) == [mr_text(g, d) for g, d in zip(grades.tolist(), decisions.tolist())]
    assert mr_texts(np.array([-1]), np.array([3])) == ["indeterminate (≈3+)"]
    assert mr_texts(np.zeros(0, int), np.zeros(0, int)) == []
