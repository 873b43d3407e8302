"""``simulate()``'s override columns (parameter name → one value per patient, issue 19 goal 4): the
same patients, results and input errors as the equal list of override dicts, without a Python dict
per patient (a trial's baseline fit builds ~130,000 of them per 5,000 patients)."""

from __future__ import annotations

import numpy as np
import pytest

from mitrasim.errors import InputError
from mitrasim.physiology import simulation as S

#: The trials' step and a loose steady-state test (a short run; the comparison is exact, not a tolerance).
TRIAL = S.SolverSettings(dt_max_s=4e-3, tol=1e-2)


def _columns(n: int, seed: int = 3) -> dict[str, np.ndarray]:
    """Per-patient values of three overridden parameters, each within its range."""
    rng = np.random.default_rng(seed)
    return {
        "lv_ea_mmhg_ml": rng.uniform(1.5, 3.5, n),
        "sys_ar_r_mmhg_s_ml": rng.uniform(0.6, 1.2, n),
        "stressed_volume_shift_ml": rng.uniform(-150.0, 150.0, n),
    }


def _dicts(cols: dict[str, np.ndarray]) -> list[dict[str, float]]:
    n = len(next(iter(cols.values())))
    return [{k: float(v[i]) for k, v in cols.items()} for i in range(n)]


def _assert_identical(a: S.SimulationResult, b: S.SimulationResult) -> None:
    np.testing.assert_array_equal(a.n_steps, b.n_steps)
    np.testing.assert_array_equal(a.final_state, b.final_state)
    assert a.metrics.keys() == b.metrics.keys() and a.parameters.keys() == b.parameters.keys()
    for k in a.metrics:
        np.testing.assert_array_equal(a.metrics[k], b.metrics[k], err_msg=k)
    for k in a.parameters:
        np.testing.assert_array_equal(a.parameters[k], b.parameters[k], err_msg=k)


def test_columns_give_the_results_of_the_equal_dicts():
    """Bit for bit: every parameter, metric and end state, mixed heart rates (several step counts)."""
    n = 40
    cols = _columns(n)
    hr = np.linspace(55.0, 110.0, n)
    eroa = np.linspace(0.05, 0.5, n)
    by_dict = S.simulate("primary_mr", _dicts(cols), hr_bpm=hr, eroa_cm2=eroa, settings=TRIAL)
    by_col = S.simulate("primary_mr", cols, hr_bpm=hr, eroa_cm2=eroa, settings=TRIAL)
    assert len(np.unique(by_col.n_steps)) > 1
    _assert_identical(by_dict, by_col)
    for k, v in cols.items():  # the overrides reached the engine's parameters, each patient its own
        np.testing.assert_array_equal(by_col.parameters[k], v)


def test_a_number_among_columns_is_every_patient_s_value_and_one_patient_works():
    n = 20
    cols: dict[str, object] = dict(_columns(n))
    cols["sys_ar_r_mmhg_s_ml"] = 0.9
    dicts = [{**d, "sys_ar_r_mmhg_s_ml": 0.9} for d in _dicts(_columns(n))]
    _assert_identical(S.simulate("primary_mr", dicts, settings=TRIAL), S.simulate("primary_mr", cols, settings=TRIAL))
    one = {k: v[:1] for k, v in _columns(1).items()}
    _assert_identical(S.simulate("primary_mr", _dicts(one)[0], settings=TRIAL), S.simulate("primary_mr", one, settings=TRIAL))


def _error(overrides, **kw) -> str:
    with pytest.raises(InputError) as ei:
        S.simulate("primary_mr", overrides, settings=TRIAL, **kw)
    return str(ei.value)


@pytest.mark.parametrize(
    "name, value",
    [("lv_ea_mmhg_ml", -1.0), ("sys_ar_r_mmhg_s_ml", float("nan")), ("stressed_volume_shift_ml", 1e9), ("lv_ea_mmhg_ml", "stiff")],
)
def test_a_bad_value_raises_the_error_of_the_equal_dicts(name, value):
    """The one-line error (field, value, allowed range) of the first patient holding a bad value,
    equal to the list of dicts' error; a second bad value further on is not the one named."""
    n = 12
    cols = {k: v.astype(object) for k, v in _columns(n).items()}
    cols[name][7] = value
    cols["lv_ea_mmhg_ml"][9] = 1e6  # a later patient's bad value
    dicts = [{k: v[i] for k, v in cols.items()} for i in range(n)]
    want = _error(dicts)
    assert want.startswith(f"{name}: ") and "1e+06" not in want and "1000000" not in want
    as_arrays = {k: (v if isinstance(value, str) and k == name else v.astype(float)) for k, v in cols.items()}
    assert _error(as_arrays) == want


def test_an_unknown_name_a_wrong_length_or_a_table_is_refused():
    cols = _columns(6)
    assert _error({**cols, "lv_stiffness": np.ones(6)}) == _error([{**d, "lv_stiffness": 1.0} for d in _dicts(cols)])
    msg = _error({**cols, "lv_ea_mmhg_ml": np.full(5, 2.0)})
    assert msg.startswith("batch") or "batch" in msg
    assert "lv_ea_mmhg_ml" in _error({"lv_ea_mmhg_ml": np.full((6, 2), 2.0)})
    assert "batch" in _error(cols, eroa_cm2=np.full(5, 0.2))


def test_the_procedure_s_states_by_columns_equal_those_by_dicts():
    """:func:`mitrasim.procedure.hemodynamics.simulate_states` with the override columns of a run's
    patients (two presets, warm and cold starts, an order key): every state as with the dicts."""
    from mitrasim.procedure.hemodynamics import override_columns, simulate_states

    n = 24
    cols = _columns(n, seed=8)
    dicts = _dicts(cols)
    presets = ["primary_mr", "secondary_mr"] * (n // 2)
    hr, eroa, mva = np.linspace(60.0, 100.0, n), np.linspace(0.1, 0.5, n), np.full(n, 4.0)
    table = override_columns(dicts)
    assert table is not None and list(table) == list(cols)
    cold = simulate_states(presets, dicts, hr, eroa, mva, 0.8, settings=TRIAL)
    init = cold.final_state.copy()
    init[::5] = np.nan  # cold starts among warm ones
    for kw in ({}, {"initial_state": init}, {"order_key": cols["lv_ea_mmhg_ml"]}):
        a = simulate_states(presets, dicts, hr, eroa, mva, 0.8, settings=TRIAL, **kw)
        b = simulate_states(presets, table, hr, eroa, mva, 0.8, settings=TRIAL, **kw)
        np.testing.assert_array_equal(a.final_state, b.final_state)
        for k in a.metrics:
            np.testing.assert_array_equal(a.metrics[k], b.metrics[k], err_msg=k)
    swapped = [dict(reversed(list(d.items()))) if i == 3 else d for i, d in enumerate(dicts)]
    assert override_columns(swapped) is None  # names in another order: the dicts stay dicts
    from types import MappingProxyType

    proxies = override_columns([MappingProxyType(d) for d in dicts])  # any mapping, not only a dict
    assert proxies is not None and all(np.array_equal(proxies[k], cols[k]) for k in cols)
    for k, v in table.items():
        np.testing.assert_array_equal(v, [d[k] for d in dicts])  # each dict's value, by name


def test_the_array_range_test_is_the_scalar_one():
    """``_outside`` (a column's range test) flags exactly the values :meth:`ParamSpec.check` refuses, for
    every parameter: NaN, ±inf, the bounds themselves (an open lower bound refused), and the nearest
    floats beyond and within them."""
    from mitrasim.physiology.parameters import SPECS

    for name, spec in SPECS.items():
        lo, hi = float(spec.lo), float(spec.hi)
        vals = np.array([np.nan, np.inf, -np.inf, lo, hi, np.nextafter(lo, -np.inf), np.nextafter(lo, np.inf),
                         np.nextafter(hi, -np.inf), np.nextafter(hi, np.inf), 0.5 * (lo + hi), 0.0, -1.0])  # fmt: skip
        expected = []
        for v in vals.tolist():
            try:
                spec.check(v)
                expected.append(False)
            except InputError:
                expected.append(True)
        assert S._outside(spec, vals).tolist() == expected, name


def test_no_overrides_for_many_patients_is_the_preset():
    """``overrides=None`` with many patients: every column is the preset's value (or the keyword array)."""
    from mitrasim.physiology.parameter_sets import get_parameter_set

    pset = get_parameter_set("primary_mr")
    hr = np.array([60.0, 75.0, 90.0])
    cols, n = S.build_batch(pset, None, hr_bpm=hr)
    assert n == 3 and np.array_equal(cols["hr_bpm"], hr)
    for k, v in pset.values.items():
        if k in cols and k != "hr_bpm":
            assert np.array_equal(cols[k], np.full(3, float(v))), k


def test_the_range_test_from_the_extremes_is_the_elementwise_one():
    """_all_inside (the smallest and largest value) says what _outside says of every value: at and
    beside each bound (open and closed), NaN, infinities, an empty column."""
    from mitrasim.physiology.parameters import SPECS
    from mitrasim.physiology.simulation import _all_inside, _outside

    open_, closed = next(s for s in SPECS.values() if s.lo_open), next(s for s in SPECS.values() if not s.lo_open)
    for spec in (open_, closed):
        lo, hi = spec.lo, spec.hi
        mid = 0.5 * (lo + hi)
        for bad in (lo, np.nextafter(lo, -np.inf), hi, np.nextafter(hi, np.inf), np.nan, np.inf, -np.inf):
            for where in (0, 2, 4):
                vals = np.full(5, mid)
                vals[where] = bad
                assert _all_inside(spec, vals) == (not _outside(spec, vals).any()), (spec, bad, where)
        assert _all_inside(spec, np.array([mid, np.nextafter(lo, np.inf), hi]))
        assert _all_inside(spec, np.zeros(0))


def test_an_accumulators_seed_is_no_value_and_nothing_else_is_touched():
    """simulate()'s result: a metric still at an accumulator's ±1e300 seed (PLACEHOLDER_ABS or more) is
    NaN; every other value, a NaN included, is the kernel's (the test looks at the extremes first)."""
    from mitrasim.physiology import engine
    from mitrasim.physiology.parameter_sets import get_parameter_set
    from mitrasim.physiology.simulation import _result
    from mitrasim.ranges import PLACEHOLDER_ABS

    pset = get_parameter_set("primary_mr")
    rng = np.random.default_rng(5)
    clean = rng.normal(0.0, 50.0, (engine.N_METRIC, 7))
    for seeded in ((), ((0, 1, 1e300),), ((5, 3, -1e300),), ((2, 6, -1e300), (3, 0, np.nan)), ((1, 2, PLACEHOLDER_ABS), (4, 4, -PLACEHOLDER_ABS * 0.5))):
        m = clean.copy()
        for i, j, v in seeded:
            m[i, j] = v
        want = m.copy()
        want[np.abs(want) >= PLACEHOLDER_ABS] = np.nan
        res = _result(pset, {}, np.full(7, 208), m, np.zeros((14, 7)), None)
        got = np.array([res.metrics[k] for k in engine.METRIC_NAMES])
        np.testing.assert_array_equal(got, want)
