""":func:`mitrasim.procedure.batched.free_mask` against its definition, position by position.

A grid position is free for a clip of width W when the clip lies inside the line
(``W/2 ≤ s ≤ L − W/2``) and does not overlap any clip in place (``|s − c_k| ≥ (W + w_k)/2``),
each to 1e-9 mm; a slot without a clip (NaN) constrains nothing.  Rows with and without clips in
each slot are mixed, as in a round where some patients have more clips than others.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from mitrasim.procedure.batched import free_mask


def _free_by_definition(s: np.ndarray, L: float, W: float, pos: np.ndarray, wid: np.ndarray) -> np.ndarray:
    out = np.zeros(s.size, bool)
    for i, x in enumerate(s.tolist()):
        ok = W / 2 - 1e-9 <= x <= L - W / 2 + 1e-9
        for c, w in zip(pos.tolist(), wid.tolist()):
            if np.isfinite(c):
                ok = ok and abs(x - c) >= 0.5 * (W + w) - 1e-9
        out[i] = ok
    return out


@pytest.mark.parametrize("share_with_clip", [0.0, 0.4, 1.0])
def test_free_mask_is_its_definition(share_with_clip: float) -> None:
    rng = np.random.default_rng(7)
    m, G, K = 60, 64, 4
    L = rng.uniform(25.0, 45.0, m)
    vr = SimpleNamespace(s_mm=np.linspace(0.0, 1.0, G)[None, :] * L[:, None], line_length_mm=L)
    rows = np.arange(m)
    pos = np.where(rng.random((m, K)) < share_with_clip, rng.uniform(0.0, 45.0, (m, K)), np.nan)
    wid = np.where(np.isfinite(pos), rng.choice([4.0, 6.0], (m, K)), np.nan)
    W = rng.choice([4.0, 6.0, 8.0], m)
    got = free_mask(vr, rows, W, pos, wid)
    for r in range(m):
        assert np.array_equal(got[r], _free_by_definition(vr.s_mm[r], float(L[r]), float(W[r]), pos[r], wid[r])), r
