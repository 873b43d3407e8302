"""The operator's words of many grasps at once equal the words of each grasp alone.

:func:`mitrasim.devices.grasp.grasp_reasons_rows` computes the leaflet numbers of a round's grasps in
one numpy pass and :func:`~mitrasim.devices.grasp.grasp_reasons` those of one grasp on Python floats;
the log must read the same whichever built it: every branch of the words (gap beyond or near the
reach, too little or little leaflet, calcification, cleft, an arm longer than the leaflet), every
device of the catalogue (spacers included), tenting, and leaflets that are NaN or infinite.
"""

from __future__ import annotations

import numpy as np

from mitrasim.devices.catalogue import DEFAULT_CATALOGUE
from mitrasim.devices.grasp import grasp_reasons, grasp_reasons_rows


def test_the_words_of_many_grasps_are_each_grasp_s_words():
    rng = np.random.default_rng(29)
    m = 4000
    devices = list(DEFAULT_CATALOGUE.values())
    dev = [devices[k] for k in rng.integers(0, len(devices), m)]
    gap = rng.uniform(0.0, 14.0, m)
    anterior = rng.uniform(2.0, 30.0, m)
    posterior = rng.uniform(2.0, 20.0, m)
    anterior[:40], posterior[40:80], anterior[80:90] = np.nan, np.nan, np.inf
    calc = rng.integers(0, 4, m)
    cleft = rng.uniform(size=m) < 0.1
    tenting = rng.uniform(0.0, 10.0, m)
    got = grasp_reasons_rows(gap, anterior, posterior, calc, cleft, dev, tenting)
    want = [grasp_reasons(*row) for row in zip(gap.tolist(), anterior.tolist(), posterior.tolist(), calc.tolist(), cleft.tolist(), dev, tenting.tolist())]
    assert got == want
    words = {w.split(" ")[0] for ws in want for w in ws}
    assert {"gap", "only", "severe", "moderate", "cleft"} <= words and any("longer than the leaflet" in w for ws in want for w in ws)
    assert any(not ws for ws in want)  # some grasps need no words
