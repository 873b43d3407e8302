"""One kernel call per ``simulate()`` batch whatever its mix of step counts (issue 19, goal 4): the
patients are grouped by step count into segments padded to whole blocks (of ``engine.LANES``
columns, a segment's last one of fewer, ``engine.REMAINDER_LANES``, when few patients are left for it), and
the group kernels run every segment in work lists of about equal lane-steps (one per engine thread).  A patient's
result must not depend on the rest of the batch: each equals its own one-patient run to 1e-12."""

from __future__ import annotations

import numpy as np
import pytest

from mitrasim.physiology import dispatch as D
from mitrasim.physiology import engine as E
from mitrasim.physiology import simulation as S

#: The trials' step (4 ms) and a loose steady-state test.
TRIAL = S.SolverSettings(dt_max_s=4e-3, tol=1e-2)


def _mixed(n_big: int = 17, seed: int = 11) -> np.ndarray:
    """Heart rates giving, at the trials' step, segments of 1, 2, 3, ``n_big`` (17: two blocks) and 20
    patients at five step counts, in an order that interleaves them."""
    rng = np.random.default_rng(seed)
    hr = np.concatenate([[52.0], [118.0] * 2, [95.0, 96.0, 97.0], rng.uniform(70.0, 72.0, n_big), rng.uniform(60.0, 62.0, 20)])
    return hr[rng.permutation(len(hr))]


def _assert_patient_equal(one: S.SimulationResult, batch: S.SimulationResult, i: int) -> None:
    assert one.n_steps[0] == batch.n_steps[i]
    np.testing.assert_allclose(one.final_state[0], batch.final_state[i], rtol=0, atol=1e-12)
    for k, v in one.metrics.items():
        np.testing.assert_allclose(v[0], batch.metrics[k][i], rtol=1e-12, atol=1e-12, err_msg=k)
    if one.waveforms is not None:
        wb = batch.patient_waveforms(i)
        for k, w in one.patient_waveforms(0).items():
            np.testing.assert_allclose(w, wb[k], rtol=1e-12, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("preset", ["primary_mr", "svzerod_two_hill"])
def test_a_mixed_batch_equals_each_patient_run_alone(preset):
    """Five step counts interleaved, segments of 1 to 20 patients (padding in each), warm starts
    and per-patient overrides: every patient's metrics, end state and waveforms equal its own run."""
    hr = _mixed()
    n = len(hr)
    rng = np.random.default_rng(5)
    orifice = preset == "primary_mr"
    kw = {"eroa_cm2": rng.uniform(0.0, 0.6, n)} if orifice else {}
    over = [{"stressed_volume_shift_ml": float(x)} for x in rng.uniform(-150.0, 150.0, n)]
    cold = S.simulate(preset, over, hr_bpm=hr, settings=TRIAL, **kw)
    assert len(np.unique(cold.n_steps)) == 5
    warm = S.simulate(preset, over, hr_bpm=hr, settings=TRIAL, initial_state=cold.final_state * 1.01, waveforms=True, **kw)
    for i in range(n):
        one_kw = {k: float(v[i]) for k, v in kw.items()}
        _assert_patient_equal(S.simulate(preset, over[i], hr_bpm=float(hr[i]), settings=TRIAL, **one_kw), cold, i)
        _assert_patient_equal(S.simulate(preset, over[i], hr_bpm=float(hr[i]), settings=TRIAL, initial_state=cold.final_state[i] * 1.01,
                                         waveforms=True, **one_kw), warm, i)
    past = np.arange(warm.waveforms["t_s"].shape[1])[None, :] >= warm.n_steps[:, None]  # NaN past a patient's own beat
    for k, w in warm.waveforms.items():
        assert np.isnan(w[past]).all() and np.isfinite(w[~past]).all(), k


def test_a_mixed_batch_is_one_kernel_call(monkeypatch):
    calls = []
    inner = D.run_batch
    monkeypatch.setattr(D, "run_batch", lambda *a, **k: (calls.append(a[4]), inner(*a, **k)))
    res = S.simulate("primary_mr", hr_bpm=_mixed(), eroa_cm2=0.3, settings=TRIAL)
    assert len(calls) == 1
    seg = calls[0]
    assert isinstance(seg, D.Segments) and list(seg.n_steps) == sorted(set(res.n_steps.tolist()))
    assert list(seg.n_real) == [int((res.n_steps == s).sum()) for s in seg.n_steps]
    assert list(np.diff(seg.start)) == [{1: 4, 2: 4, 3: 4, 17: 20, 20: 20}[int(n)] for n in seg.n_real]  # D.padded_width


def test_threads_and_work_lists_do_not_change_a_result():
    """The same mixed batch on one thread and on two: identical."""
    hr = np.tile(_mixed(n_big=40), 3)
    eroa = np.linspace(0.05, 0.55, len(hr))
    runs = []
    for t in (1, 2):
        runs.append(S.simulate("primary_mr", hr_bpm=hr, eroa_cm2=eroa, settings=S.SolverSettings(dt_max_s=4e-3, tol=1e-2, threads=t)))
    for k in runs[0].metrics:
        np.testing.assert_array_equal(runs[0].metrics[k], runs[1].metrics[k], err_msg=k)
    np.testing.assert_array_equal(runs[0].final_state, runs[1].final_state)


def _segments(counts: list[int], steps: list[int]) -> D.Segments:
    padded = [D.padded_width(c) for c in counts]
    return D.Segments(np.concatenate(([0], np.cumsum(padded))).astype(np.int64), np.array(counts, np.int64), np.array(steps, np.int64))


@pytest.mark.parametrize("n_lists", [1, 2, 3, 8])
def test_work_lists_cover_every_block_once_with_equal_steps(n_lists):
    """Many small segments and one large: every block of columns is in exactly one work item,
    each item lies in one segment and carries its step count; an item of LANES lanes is whole
    blocks of LANES from its segment's start, one of fewer (REMAINDER_LANES) is its segment's last block
    alone (segments whose remainder is at most max(REMAINDER_LANES): 3, 1, 5, 17, 2, 40, 2500 = 156·16 + 4);
    and the lists' lane-steps differ by at most one block's (the largest step count × LANES)."""
    seg = _segments([3, 1, 2500, 5, 17, 2, 40, 12], [144, 160, 176, 192, 208, 224, 304, 320])
    work, lists = D.plan_work(seg, n_lists)
    assert len(lists) == n_lists + 1 and lists[0] == 0 and lists[-1] == len(work) and (np.diff(lists) >= 0).all()
    covered = np.concatenate([np.arange(a, b) for a, b, _, _ in work])
    np.testing.assert_array_equal(covered, np.arange(seg.start[-1]))
    remainders = []
    for a, b, s, lanes in work:
        k = np.searchsorted(seg.start, a, side="right") - 1
        assert b <= seg.start[k + 1] and s == seg.n_steps[k]
        if lanes == E.LANES:
            assert (a - seg.start[k]) % E.LANES == 0 and (b - a) % E.LANES == 0 and b > a
        else:
            assert lanes in E.REMAINDER_LANES and b - a == lanes and b == seg.start[k + 1]
            remainders.append(int(k))
    assert remainders == [0, 1, 2, 3, 4, 5, 6]  # every segment but the last (12 = 16 − 4: one block of LANES)
    weight = np.array([sum((b - a) * s for a, b, s, _ in work[lists[t]:lists[t + 1]]) for t in range(n_lists)])
    assert weight.max() - weight.min() <= E.LANES * seg.n_steps.max()


def test_more_lists_than_blocks_leaves_none_empty():
    seg = _segments([3, 1], [144, 160])
    work, lists = D.plan_work(seg, 8)
    assert len(lists) == 3 and (np.diff(lists) == 1).all() and len(work) == 2


def test_a_mixed_small_batch_on_the_one_lane_kernel_equals_the_batch_kernel(monkeypatch):
    """A command about one case without a group kernel runs each segment's real patients (not its
    padding) on the one-lane kernel: the group kernels' numbers, waveforms included."""
    hr = _mixed()
    eroa = np.linspace(0.0, 0.6, len(hr))
    ref = S.simulate("primary_mr", hr_bpm=hr, eroa_cm2=eroa, settings=TRIAL, waveforms=True)
    monkeypatch.setattr(D, "SERIAL_BATCH_MAX", D.ONE_CASE_BATCH_MAX)
    monkeypatch.setattr(D, "_cached", lambda kernel: kernel is not E._run_group_lanes_orifice)
    columns = []
    inner = E._run_group_1_orifice
    monkeypatch.setattr(E, "_run_group_1_orifice", lambda *a: (columns.append(a[-1] - a[-2]), inner(*a)))
    res = S.simulate("primary_mr", hr_bpm=hr, eroa_cm2=eroa, settings=TRIAL, waveforms=True)
    assert sum(columns) == len(hr) and len(columns) == 5
    np.testing.assert_allclose(res.final_state, ref.final_state, rtol=0, atol=1e-12)
    for k in ref.metrics:
        np.testing.assert_allclose(res.metrics[k], ref.metrics[k], rtol=1e-12, atol=1e-12, err_msg=k)
    for k in ref.waveforms:
        np.testing.assert_allclose(res.waveforms[k], ref.waveforms[k], rtol=1e-12, atol=1e-12, err_msg=k)


def test_the_two_hill_peak_is_the_one_at_each_patients_own_rate():
    """Every two-hill time scales with the period, so the curve's peak over a period does not depend
    on the heart rate: the normalisation found once at the reference rate equals the peak found at
    each patient's own scaled times (to the golden-section search's rounding), and patients that
    differ only in heart rate share it (one search for a whole mixed-rate batch)."""
    from mitrasim.physiology.parameter_sets import get_parameter_set
    from mitrasim.physiology.parameters import scaled_timings, two_hill_max

    pset = get_parameter_set("svzerod_two_hill")
    hr = np.array([41.0, 63.0, 88.0, 131.0, 177.0])
    cols, _ = S.build_batch(pset, None, hr_bpm=hr)
    t = scaled_timings(cols, pset.model)
    T = 60.0 / hr
    for ch in ("la", "lv", "ra", "rv"):
        own = two_hill_max(t[f"{ch}_act_b"], t[f"{ch}_act_c"], t[f"{ch}_act_d"], t[f"{ch}_act_e"], T)
        np.testing.assert_allclose(1.0 / t[f"{ch}_act_f"], own, rtol=1e-12, err_msg=ch)
        assert len(set(t[f"{ch}_act_f"].tolist())) == 1


def test_override_dicts_read_in_one_pass_equal_each_dict_checked_alone():
    """Override dicts with the same names in the same order are read in one pass; names in another
    order, a missing name, or a bad value take the general paths: the same columns, the same error."""
    from mitrasim.errors import InputError
    from mitrasim.physiology.parameter_sets import get_parameter_set
    from mitrasim.physiology.parameters import check_values

    pset = get_parameter_set("primary_mr")
    rng = np.random.default_rng(2)
    same = [{"lv_ea_mmhg_ml": float(a), "stressed_volume_shift_ml": float(b)} for a, b in rng.uniform([1.0, -100.0], [3.0, 100.0], (6, 2))]
    shuffled = [dict(reversed(list(o.items()))) if i % 2 else o for i, o in enumerate(same)]
    partial = [o if i % 3 else {"lv_ea_mmhg_ml": o["lv_ea_mmhg_ml"]} for i, o in enumerate(same)]
    for olist in (same, shuffled, partial):
        cols, _ = S.build_batch(pset, olist)
        for i, o in enumerate(olist):
            for k, v in check_values(dict(o), pset.model).items():
                assert cols[k][i] == v, (k, i)
        untouched = [i for i, o in enumerate(olist) if "stressed_volume_shift_ml" not in o]
        assert (cols["stressed_volume_shift_ml"][untouched] == 0.0).all()
    bad = [dict(o) for o in same]
    bad[4]["lv_ea_mmhg_ml"] = -1.0
    with pytest.raises(InputError, match="lv_ea_mmhg_ml"):
        S.build_batch(pset, bad)
    unknown = [{**o, "no_such_ml": 1.0} for o in same]
    with pytest.raises(InputError, match="no_such_ml"):
        S.build_batch(pset, unknown)
