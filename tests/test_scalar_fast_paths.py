"""Scalar fast paths of the operator's log equal the definitions they stand in for, bit for bit.

The log's words are built per patient; where a numpy call on one number was replaced by Python
float arithmetic or a table built once, the result must be the same float / the same text.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from mitrasim.echo.grading import GRADE_LABELS
from mitrasim.procedure import oplog
from mitrasim.procedure.hemodynamics import label
from mitrasim.valve.clip import TENTING_FREE_MM, available_leaflet_mm, available_leaflet_one_mm

SPECIAL = (0.0, -0.0, 1e-300, -1e-300, 0.1, 2.5, 7.0, 12.3456789, -3.0, 1e300, math.inf, -math.inf, math.nan)


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1.0, a) == math.copysign(1.0, b))


def test_available_leaflet_one_equals_the_array_rule_bit_for_bit() -> None:
    rng = np.random.default_rng(19)
    rows = list(itertools.product(SPECIAL[::2], SPECIAL, (0.0, 10.0, math.nan), (0.0, TENTING_FREE_MM, 9.0, -1.0, math.nan)))
    rows += [tuple(x) for x in rng.uniform(-5.0, 15.0, (2000, 4))]
    for leaflet, gap, spacer, tenting in rows:
        with np.errstate(invalid="ignore"):  # inf − inf: NaN, as in the scalar path
            want = float(available_leaflet_mm(leaflet, gap, spacer, tenting))
        got = available_leaflet_one_mm(float(leaflet), float(gap), float(spacer), float(tenting))
        assert type(got) is float
        assert _same_float(got, want), (leaflet, gap, spacer, tenting, got, want)


def test_mr_text_table_equals_its_definition() -> None:
    for grade, dec in itertools.product((-1, *GRADE_LABELS), GRADE_LABELS):
        want = label(grade) if grade >= 0 else f"indeterminate (≈{label(dec)})"
        assert oplog.mr_text(grade, dec) == want
        assert oplog.mr_text(np.int64(grade), np.int64(dec)) == want  # numpy integers read the same table
    assert oplog.mr_text(-1, 3) == "indeterminate (≈3+)"
    with pytest.raises(KeyError):  # outside the grades, as label() itself
        oplog.mr_text(7, 0)
