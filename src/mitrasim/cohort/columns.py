"""A trial's patient table's categorical columns read without a Python string per patient.

Used by the population sampler, the mapping, the adapter and the trial driver alike (a module of its
own, so that none of them imports another for it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["level_mask", "level_values"]


def level_mask(patients: pa.Table, column: str, level: str) -> np.ndarray:
    """(n,) bool: the patients whose categorical ``column`` is ``level`` (compared in Arrow, without a
    Python string per patient)."""
    return pc.fill_null(pc.equal(patients.column(column), level), False).to_numpy(zero_copy_only=False)


def level_values(patients: pa.Table, name: str, value: Any, dtype: Any) -> np.ndarray:
    """(n,) ``value(level)`` of each patient's level of the categorical column ``name``, as ``dtype``:
    ``value`` applied once per distinct level (Arrow's dictionary encoding), not per patient; a
    column with nulls element by element (``None`` passed on)."""
    col = patients.column(name)
    if col.null_count:
        return np.array([None if x is None else value(x) for x in col.to_pylist()], dtype=dtype)
    enc = col.combine_chunks().dictionary_encode()
    return np.array([value(x) for x in enc.dictionary.to_pylist()], dtype=dtype)[enc.indices.to_numpy()]
