"""Write a trial table, or compare two, column by column (two checkouts' results).

    PYTHONPATH=src python benchmarks/compare_tables.py --write main.parquet --n 2000 --population tvt_mixed
    PYTHONPATH=src python benchmarks/compare_tables.py --compare main.parquet branch.parquet

``--write``: one chunk of an ``n``-patient trial in process (the trial of ``cohort.py --table-hash``:
one arm, stop rule MR ≤ 1+, up to 4 clips, seed 1), as Parquet.  ``--compare``: rows matched by
(arm, patient_id); per column the rows that differ — exactly for text, integer and boolean columns,
beyond a relative 1e-6 for floats (NaN equal to NaN) — and the largest relative difference; then the
patients whose decisions (:data:`DECISIONS`) differ and those whose course differs in any way.
"""

from __future__ import annotations

import argparse

import numpy as np

#: Columns whose difference is a different decision, not a number moved within the steady-state tolerance.
DECISIONS = ("grade_before", "grade_after", "clips_implanted", "clips_attempted", "stop_reason", "devices", "mvarc_device_success")
#: Columns that differ only when a different clip is left in the valve (the clip model's areas).
PLACED = ("eroa_after_cm2", "mva_after_cm2")


def write(path: str, n: int, population: str) -> None:
    import pyarrow.parquet as pq

    from cohort import _trial
    from mitrasim.cohort.trial import compute_chunk

    _, tbl, _ = compute_chunk(_trial(n, n, population).model_dump_json(), 0)
    pq.write_table(tbl, path)
    print(f"{population} n={n}: {tbl.num_rows} rows, {tbl.num_columns} columns -> {path}")


def _column_diff(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """(rows that differ, largest relative difference; 0 for non-numbers)."""
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        a, b = a.astype(float), b.astype(float)
        both_nan = np.isnan(a) & np.isnan(b)
        rel = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-300)
        rel = np.where(both_nan | (a == b), 0.0, np.nan_to_num(rel, nan=np.inf))
        return rel > 1e-6, float(rel.max(initial=0.0))
    return np.array([x != y for x, y in zip(a.tolist(), b.tolist())], dtype=bool), 0.0


def compare(path_a: str, path_b: str) -> None:
    import pyarrow.parquet as pq

    ta, tb = (pq.read_table(p).sort_by([("arm", "ascending"), ("patient_id", "ascending")]) for p in (path_a, path_b))
    if ta.num_rows != tb.num_rows or ta.column("patient_id").to_pylist() != tb.column("patient_id").to_pylist():
        raise SystemExit(f"the tables hold different patients ({ta.num_rows} and {tb.num_rows} rows)")
    n = ta.num_rows
    decided, course = np.zeros(n, bool), np.zeros(n, bool)
    print(f"{n} rows; columns that differ (rows, largest relative difference):")
    for c in ta.column_names:
        if c not in tb.column_names:
            print(f"  {c:30s} only in the first")
            continue
        a, b = (t.column(c).to_numpy(zero_copy_only=False) for t in (ta, tb))
        diff, rel = _column_diff(a, b)
        if c in DECISIONS:
            decided |= diff
        if c in PLACED or (c != "log" and a.dtype.kind != "f"):
            course |= diff
        if diff.any():
            print(f"  {c:30s} {int(diff.sum()):6d} rows ({100 * diff.mean():5.2f} %)  max rel {rel:.3g}")
    print(f"patients with a different decision ({', '.join(DECISIONS)}): {int(decided.sum())} of {n} ({100 * decided.mean():.2f} %)")
    print(f"patients with a different course (any text, integer or boolean column but the log, or another clip placed): {int(course.sum())} of {n} ({100 * course.mean():.2f} %)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", metavar="PATH")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--population", default="tvt_mixed")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"))
    a = ap.parse_args()
    if a.write:
        write(a.write, a.n, a.population)
    if a.compare:
        compare(*a.compare)


if __name__ == "__main__":
    main()
