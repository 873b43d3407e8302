"""The seeded draws of one reading do not depend on the batch they are drawn in.

:func:`mitrasim.devices.variability.normals` mixes the clip and attempt numbers of a long batch
through a table of their values; each draw must equal the same draw made alone (no table), for
counters from 0 to past the table's range, negative ones and mixed batches.
"""

from __future__ import annotations

import numpy as np

from mitrasim.devices.variability import STREAMS, normals


def test_a_batch_s_draws_equal_the_draws_made_one_at_a_time():
    rng = np.random.default_rng(3)
    keys = rng.integers(0, np.iinfo(np.int64).max, 3000, dtype=np.int64).astype(np.uint64)
    cases = [
        (rng.integers(0, 5, keys.size), rng.integers(0, 9, keys.size)),  # a trial's clip and attempt numbers
        (rng.integers(0, 5000, keys.size), np.full(keys.size, 1 << 16)),  # past the table's range
        (rng.integers(-3, 4, keys.size), rng.integers(0, 3, keys.size)),  # negative numbers
    ]
    for clip, attempt in cases:
        for stream in (STREAMS["placement"], STREAMS["gradient_beat"]):
            batch = normals(keys, stream, clip, attempt)
            alone = np.array([normals(keys[i : i + 1], stream, clip[i : i + 1], attempt[i : i + 1])[0] for i in range(keys.size)])
            np.testing.assert_array_equal(batch, alone)
    # a scalar counter broadcasts as the array of it
    np.testing.assert_array_equal(normals(keys, 5), normals(keys, 5, np.zeros(keys.size, int), np.zeros(keys.size, int)))
