"""The compiled clip model of the procedure's batches (:mod:`mitrasim.procedure.clip_kernel`) equals
the clip model's numpy reference (:func:`mitrasim.valve.clip.clipped_profiles_rows`) bit for bit:
the procedure's results do not depend on which one ran (issue 19 goal 4)."""

from __future__ import annotations

import numpy as np
import pytest

from mitrasim.case import ValveSpec
from mitrasim.procedure import clip_kernel
from mitrasim.procedure.clip_calibration import REPRESENTATIVE_VALVES
from mitrasim.valve import clip as reference
from mitrasim.valve import valve_from_spec


def _valves() -> list[reference.ValveRows]:
    """The representative valves and variants of them with calcified leaflets (every grade), a
    calcified annulus (every grade), a cleft and a prolapse: every code the model reads; stacked by
    grid size (the procedure's groups)."""
    specs = []
    for k, base in enumerate(REPRESENTATIVE_VALVES.values()):
        specs.append(base)
        for j, grade in enumerate(("mild", "moderate", "severe")):
            specs.append({**base, "calcification": grade, "calcified_segments": [["A2", "P2"], ["P1", "P2", "P3"], ["A1", "A2", "A3"]][j],
                          "annular_calcification": ("mild", "moderate", "severe")[(j + k) % 3]})  # fmt: skip
        specs.append({**base, "cleft_segments": ["P2"], "lesions": [{"kind": "prolapse", "segments": ["P2", "P3"], "gap_mm": 4, "width_mm": 15}]})
    by_size: dict[int, list] = {}
    for v in (valve_from_spec(ValveSpec.model_validate(s)) for s in specs):
        by_size.setdefault(v.s_mm.size, []).append(v)
    return [reference.ValveRows.from_valves(vs) for vs in by_size.values()]


GROUPS = _valves()


def _plans(vr: reference.ValveRows, m: int, K: int, spacer: bool, seed: int):
    """``m`` random plans of up to ``K`` devices (absent slots NaN; slot 1 empty in every plan),
    widths and arms not on a round grid (rounding differences would show), PASCAL-like spacers."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, vr.s_mm.shape[0], m)
    L = vr.line_length_mm[rows][:, None]
    wid = rng.choice([4.0, 6.0, 10.0], (m, K)) + rng.uniform(-0.3, 0.3, (m, K))
    pos = 0.5 * wid + rng.uniform(0.0, 1.0, (m, K)) * (L - wid)
    pos[rng.uniform(size=(m, K)) < 0.3] = np.nan
    if K > 1:
        pos[:, 1] = np.nan
    arm = rng.uniform(7.0, 12.5, (m, K))
    spc = np.where(rng.uniform(size=(m, K)) < 0.5, rng.uniform(0.5, 4.0, (m, K)), 0.0) if spacer else 0.0
    return rows, pos, wid, arm, spc


@pytest.mark.parametrize("K, spacer", [(1, False), (2, True), (5, False), (5, True)])
def test_the_compiled_clip_model_equals_the_reference_bit_for_bit(K, spacer):
    assert len(GROUPS) > 1
    for vr in GROUPS:
        rows, pos, wid, arm, spc = _plans(vr, 1500, K, spacer, seed=K + 10 * spacer)
        g0, w0 = reference.clipped_profiles_rows(vr, rows, pos, wid, arm, spacers_mm=spc)
        g1, w1 = clip_kernel.clipped_profiles_rows(vr, rows, pos, wid, arm, spacers_mm=spc)
        assert np.isfinite(g0).all() and np.isfinite(w0).all()
        assert (g0 < vr.gap_mm[rows]).any() and (w0 < vr.opening_mm[rows]).any()  # the devices act
        np.testing.assert_array_equal(g1, g0)
        np.testing.assert_array_equal(w1, w0)
    assert clip_kernel._clip_rows.signatures  # these batches ran compiled (above COMPILED_MIN_CELLS)


def test_other_parameters_and_no_plan():
    vr = GROUPS[0]
    rows, pos, wid, arm, spc = _plans(vr, 500, 3, True, seed=7)
    p = reference.ClipModelParams(systolic_zone_per_arm=0.37, diastolic_zone_per_arm=1.3, ap_shrink_per_mm=0.013, functional_gap_closure=0.35,
                                  slack_reference=0.9, slack_bounds=(0.7, 1.3), tenting_free_mm=4.5)  # fmt: skip
    for a, b in zip(reference.clipped_profiles_rows(vr, rows, pos, wid, arm, p, spc), clip_kernel.clipped_profiles_rows(vr, rows, pos, wid, arm, p, spc)):
        np.testing.assert_array_equal(b, a)
    empty = clip_kernel.clipped_profiles_rows(vr, rows[:0], pos[:0], wid[:0], arm[:0])
    assert empty[0].shape == (0, vr.s_mm.shape[1])


def test_the_compiled_grasp_reading_equals_the_reference():
    """Every field of the grasp (status, SLDA multiplier, the site's gap, leaflets, calcification,
    cleft) equal to :func:`mitrasim.devices.grasp.grasp_at`, each clip on its patient's row of
    residual gaps; widths down to below a cell (the cell itself is read) and sites at the ends."""
    from mitrasim.devices.grasp import grasp_at as reference_grasp

    for vr in GROUPS:
        rows, pos, wid, arm, spc = _plans(vr, 2000, 2, True, seed=3)
        g, _ = reference.clipped_profiles_rows(vr, rows, pos, wid, arm, spacers_mm=spc)  # residual gaps, one row per "patient"
        rng = np.random.default_rng(4)
        m = 5000
        g_row = rng.integers(0, rows.size, m)
        L = vr.line_length_mm[rows[g_row]]
        at = np.where(rng.uniform(size=m) < 0.1, rng.choice([0.0, 1.0], m), rng.uniform(0.0, 1.0, m)) * L
        width = np.where(rng.uniform(size=m) < 0.1, 0.2, rng.choice([4.0, 6.0, 10.0], m))
        arm_c, reach, spacer = rng.uniform(7.0, 12.0, m), rng.uniform(8.0, 12.0, m), np.where(rng.uniform(size=m) < 0.5, 1.5, 0.0)
        want = reference_grasp(vr, rows[g_row], g[g_row], at, width, arm_c, reach, spacer)
        got = clip_kernel.grasp_at(vr, rows[g_row], g, g_row, at, width, arm_c, reach, spacer)
        assert len(np.unique(want.status)) == 3 and want.cleft.any() and (want.calcification > 0).any()
        for k in ("status", "multiplier", "gap_mm", "anterior_mm", "posterior_mm", "calcification", "cleft"):
            a, b = getattr(want, k), getattr(got, k)
            assert a.dtype == b.dtype, k
            np.testing.assert_array_equal(b, a, err_msg=k)
    assert clip_kernel._site.signatures


def test_a_small_batch_runs_the_reference_and_compiles_nothing(monkeypatch):
    """Below :data:`~mitrasim.procedure.clip_kernel.COMPILED_MIN_CELLS` (a few patients' procedure)
    the numpy reference runs: a first ``mitrasim demo`` waits for no clip-model compilation."""
    vr = GROUPS[0]
    m = clip_kernel.COMPILED_MIN_CELLS // vr.s_mm.shape[1] - 1
    rows, pos, wid, arm, spc = _plans(vr, m, 3, True, seed=9)

    def compiled(*_a, **_k):
        raise AssertionError("compiled below the threshold")

    monkeypatch.setattr(clip_kernel, "_clip_rows", compiled)
    monkeypatch.setattr(clip_kernel, "_site", compiled)
    g, w = clip_kernel.clipped_profiles_rows(vr, rows, pos, wid, arm, spacers_mm=spc)
    np.testing.assert_array_equal(g, reference.clipped_profiles_rows(vr, rows, pos, wid, arm, spacers_mm=spc)[0])
    clip_kernel.grasp_at(vr, rows, g, np.arange(m), np.nan_to_num(pos[:, 0], nan=10.0), wid[:, 0], arm[:, 0], np.full(m, 10.0))
