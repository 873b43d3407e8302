"""The one place where the validation harness reads trial result columns.

Trial tables (:func:`mitrasim.cohort.trial.read_results`) grow columns as the model grows (MVARC,
mechanics, protocol); the harness reads them here, by name, through :data:`COLUMNS`: each quantity an
endpoint needs maps to the column names that may hold it, first match wins.  A missing quantity is an
:class:`~mitrasim.errors.InputError` naming the quantity and the columns present, never a silent default.

Quantities and their meaning (cohort/adapter.py's column docstring):

* ``arm`` — the trial arm of the row;
* ``grade_after`` — residual MR grade at the end of the procedure (0-4; the procedure's decision grade);
* ``grade_before`` — baseline MR grade;
* ``clips_implanted`` — clips left in the valve;
* ``gradient_after_mmhg`` — mean transmitral gradient at the end of the procedure, mmHg;
* events (``death_inhospital``, ``stroke``, ``major_bleeding``, ``tamponade``, ``urgent_surgery``,
  ``embolization``, ``slda``, ``death_1y``, ``hfh_1y``) — booleans per patient;
* MVARC success booleans (:data:`SUCCESS`);
* derived booleans (:data:`DERIVED`): ``mr_le_1plus``, ``mr_le_2plus`` from ``grade_after``;
* subgroup keys (``etiology``, ``outcome_group``, ``sex``, ``primary_lesion``, ``lesion_segment``) — strings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from mitrasim.errors import InputError

__all__ = ["COLUMNS", "EVENTS", "SUCCESS", "DERIVED", "SUBGROUP_KEYS", "ArmData", "arm_data", "arms_of", "from_arrays"]

#: MVARC success quantities (booleans; technical and procedural success only in trials that have them).
SUCCESS = ("mvarc_technical_success", "mvarc_device_success", "mvarc_procedural_success", "mvarc_acceptable_mr", "mvarc_optimal_mr", "mvarc_no_stenosis")
#: quantity -> candidate column names, first match wins.
COLUMNS: dict[str, tuple[str, ...]] = {
    "arm": ("arm",),
    "grade_after": ("grade_after", "mr_grade_after"),
    "grade_before": ("grade_before", "mr_grade_before"),
    "clips_implanted": ("clips_implanted", "devices_implanted"),
    "gradient_after_mmhg": ("gradient_after_mmhg", "mean_gradient_after_mmhg"),
    "death_inhospital": ("death_inhospital", "in_hospital_death"),
    "stroke": ("stroke",),
    "major_bleeding": ("major_bleeding", "bleeding"),
    "tamponade": ("tamponade", "pericardial_effusion"),
    "urgent_surgery": ("urgent_surgery",),
    "embolization": ("embolization",),
    "slda": ("slda",),
    "death_1y": ("death_1y",),
    "hfh_1y": ("hfh_1y",),
    "etiology": ("etiology",),
    "outcome_group": ("outcome_group",),
    "sex": ("sex",),
    "primary_lesion": ("primary_lesion",),
    "lesion_segment": ("lesion_segment",),
    **{q: (q,) for q in SUCCESS},
}
#: Boolean outcomes derived from other quantities (name -> (quantity, largest grade)).
DERIVED: dict[str, tuple[str, int]] = {"mr_le_1plus": ("grade_after", 1), "mr_le_2plus": ("grade_after", 2)}
#: Boolean event quantities an endpoint may name (columns, then the derived ones).
EVENTS = ("death_inhospital", "stroke", "major_bleeding", "tamponade", "urgent_surgery", "embolization", "slda", "death_1y", "hfh_1y", *DERIVED)
#: String quantities an endpoint may group by.
SUBGROUP_KEYS = ("etiology", "outcome_group", "sex", "primary_lesion", "lesion_segment")


def _column(t: pa.Table, quantity: str) -> np.ndarray:
    for name in COLUMNS[quantity]:
        if name in t.column_names:
            return t.column(name).to_numpy(zero_copy_only=False)
    raise InputError(
        f"trial column for {quantity}", None, "one of " + ", ".join(COLUMNS[quantity]),
        f"the trial table has: {', '.join(sorted(t.column_names))}",
    )


def arms_of(t: pa.Table) -> list[str]:
    """The arms present in a trial table, in order of first appearance."""
    seen: dict[str, None] = {}
    for a in _column(t, "arm").tolist():
        seen.setdefault(str(a), None)
    return list(seen)


class ArmData:
    """Lazy, named access to one arm's quantities (numpy arrays of equal length)."""

    def __init__(self, table: pa.Table):
        self._t = table
        self._cache: dict[str, np.ndarray] = {}

    @property
    def n(self) -> int:
        return self._t.num_rows

    def __getitem__(self, quantity: str) -> np.ndarray:
        if quantity in DERIVED:
            base, top = DERIVED[quantity]
            return self[base] <= top
        if quantity not in COLUMNS:
            raise KeyError(quantity)
        if quantity not in self._cache:
            x = _column(self._t, quantity)
            if quantity in EVENTS or quantity in SUCCESS:
                x = x.astype(bool)
            elif quantity in ("grade_after", "grade_before", "clips_implanted"):
                x = x.astype(np.int64)
            elif quantity == "gradient_after_mmhg":
                x = x.astype(float)
            else:
                x = np.asarray([str(v) for v in x.tolist()], dtype=object)
            self._cache[quantity] = x
        return self._cache[quantity]


def arm_data(t: pa.Table, arm: str | None) -> ArmData:
    """The rows of ``arm`` (the first arm when ``None``)."""
    arms = arms_of(t)
    name = arms[0] if arm is None else arm
    if name not in arms:
        raise InputError("endpoint.arm", arm, "an arm of the trial: " + ", ".join(arms))
    mask = _column(t, "arm").astype(str) == name
    return ArmData(t.filter(pa.array(mask)))


def from_arrays(**cols: Any) -> pa.Table:
    """A trial-like table from arrays (tests build hand-made trial results with it)."""
    return pa.table({k: pa.array(v) for k, v in cols.items()})
