"""The procedure's choices of position do not depend on the last bits of the gap.

A clip's target is the free position whose window covers the most residual gap
(:func:`mitrasim.procedure.batched.targets`).  Two windows placed symmetrically about a
symmetric gap's peak cover the same gap in exact arithmetic; every patient's gap is scaled by
its fitted EROA, which moves in its last bits whenever the engine's arithmetic does.  The choice
between such windows must be the tie rule's (the first position), not the rounding's.
"""

from types import SimpleNamespace

import numpy as np

from mitrasim.procedure import batched

G = 81
S = np.linspace(0.0, 37.3, G)
CENTRE = 0.5 * (S[40] + S[41])  # the gap's peak between two grid points: two symmetric windows tie
GAP = np.exp(-(((S - CENTRE) / 4.0) ** 2))
# scale factors of the size of a fitted EROA's rounding-level changes
SCALES = 1.0 + 1.37e-12 * np.arange(300)


def _rows(scale: float) -> tuple[SimpleNamespace, np.ndarray]:
    return SimpleNamespace(s_mm=S[None, :]), (GAP * scale)[None, :]


def test_target_of_a_symmetric_gap_is_the_first_of_the_tied_windows_at_any_scale():
    rows = np.array([0])
    got = set()
    for f in SCALES:
        vr, g = _rows(float(f))
        got.add(float(batched.targets(vr, rows, g, np.ones((1, G), bool), np.array([5.0]))[0]))
    assert got == {float(S[40])}


def test_peak_of_a_symmetric_gap_is_the_first_of_the_tied_points_at_any_scale():
    got = {int(batched.first_peak(GAP[None, :] * f)[0]) for f in SCALES}
    assert got == {40}


def test_first_peak_is_argmax_where_the_largest_value_is_clear():
    rng = np.random.default_rng(3)
    g = rng.random((50, G))
    np.testing.assert_array_equal(batched.first_peak(g), np.argmax(g, axis=1))


def test_nearest_free_takes_the_lower_of_two_equally_near_positions():
    # want exactly between grid points 40 and 41 (as computed: the two distances may round apart)
    vr = SimpleNamespace(s_mm=S[None, :])
    free = np.ones((1, G), bool)
    got = {float(batched.nearest_free(vr, np.array([0]), free, np.array([CENTRE + d]))[0]) for d in (-1e-13, 0.0, 1e-13)}
    assert got == {float(S[40])}
    # a clearly nearer free position still wins
    assert float(batched.nearest_free(vr, np.array([0]), free, np.array([S[41] - 0.01]))[0]) == float(S[41])


def _target_by_definition(s: np.ndarray, g: np.ndarray, free: np.ndarray, half: float) -> float:
    """The target as its docstring defines it, one point at a time: each free point's cover is the sum of
    ``g`` over the points within ``half`` of it, in grid order; a later point wins only by more than the tie."""
    best, out = -np.inf, np.nan
    for c in np.flatnonzero(free):
        cover = 0.0
        for j in range(s.size):
            if abs(s[j] - s[c]) <= half:
                cover += g[j]
        if best == -np.inf or cover > best + batched.COVER_TIE_REL * abs(best):
            best, out = cover, float(s[c])
    return out


def test_targets_are_their_definition_on_random_gaps_grids_and_free_masks():
    """The compiled moving-window cover (:func:`mitrasim.procedure.batched.targets`) equals the cover by
    definition bit for bit: uneven grids, widths from below one cell to half the line, ragged gaps,
    random free masks (some rows with no free point)."""
    rng = np.random.default_rng(11)
    m, G = 300, 64
    s = np.sort(rng.uniform(0.0, 40.0, (m, G)), axis=1)
    g = np.where(rng.uniform(size=(m, G)) < 0.3, 0.0, rng.exponential(2.0, (m, G)))
    free = rng.uniform(size=(m, G)) < rng.uniform(0.0, 1.0, (m, 1))
    width = rng.uniform(0.2, 20.0, m)
    got = batched.targets(SimpleNamespace(s_mm=s), np.arange(m), g, free, width)
    want = np.array([_target_by_definition(s[r], g[r], free[r], width[r] / 2) for r in range(m)])
    np.testing.assert_array_equal(got, want)
    assert np.isnan(want).any() and np.isfinite(want).sum() > m // 2
