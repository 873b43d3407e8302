"""Populations: schema errors name the field, sampling is reproducible and respects ranges and correlations."""

from __future__ import annotations

import numpy as np
import pytest

from mitrasim.cohort.population import SHIPPED_POPULATIONS, correlation_matrix, load_population, parse_population, sample_population
from mitrasim import ranges
from mitrasim.errors import InputError


def _minimal(**extra):
    d = {
        "name": "t",
        "continuous": {
            "age_years": {"mean": 70, "sd": 10, "lo": 40, "hi": 95},
            "lvef_pct": {"mean": 40, "sd": 10, "lo": 15, "hi": 70},
            "lvedv_ml": {"dist": "lognormal", "mean": 160, "sd": 50, "lo": 80, "hi": 400},
            "eroa_cm2": {"dist": "lognormal", "mean": 0.4, "sd": 0.15, "lo": 0.2, "hi": 1.0},
            "mva_cm2": {"mean": 4.8, "sd": 0.6, "lo": 4.0, "hi": 7.0},
        },
        "categorical": {"sex": {"levels": {"female": 0.4, "male": 0.6}}, "etiology": {"levels": {"primary": 0.5, "secondary": 0.5}}},
    }
    d.update(extra)
    return d


@pytest.mark.parametrize("name", SHIPPED_POPULATIONS)
def test_shipped_populations_load_and_cite(name):
    pop = load_population(name)
    assert pop.sources
    t = sample_population(pop, 2000, 1)
    for var, c in pop.continuous.items():
        x = t.column(var).to_numpy()
        assert x.min() >= c.lo - 1e-9 and x.max() <= c.hi + 1e-9


def test_same_seed_same_sample_and_different_seed_differs():
    pop = load_population("tvt_mixed")
    a, b, c = (sample_population(pop, 500, s) for s in (5, 5, 6))
    assert a.equals(b)
    assert not a.equals(c)


def test_marginals_and_correlation_follow_the_description():
    pop = parse_population(_minimal(correlations=[{"a": "lvef_pct", "b": "lvedv_ml", "r": -0.6}]))
    t = sample_population(pop, 20000, 3)
    ef, edv = t.column("lvef_pct").to_numpy(), t.column("lvedv_ml").to_numpy()
    assert abs(ef.mean() - 40) < 0.6
    assert np.corrcoef(ef, np.log(edv))[0, 1] < -0.45
    male = np.asarray(t.column("sex").to_pylist()) == "male"
    assert abs(male.mean() - 0.6) < 0.02


def test_not_positive_definite_correlations_are_refused():
    bad = [
        {"a": "lvef_pct", "b": "lvedv_ml", "r": 0.9},
        {"a": "lvef_pct", "b": "eroa_cm2", "r": 0.9},
        {"a": "lvedv_ml", "b": "eroa_cm2", "r": -0.9},
    ]
    with pytest.raises(InputError) as e:
        parse_population(_minimal(correlations=bad))
    assert e.value.field == "correlations" and "positive-definite" in str(e.value)


def test_negative_sd_names_the_field():
    d = _minimal()
    d["continuous"]["eroa_cm2"]["sd"] = -0.1
    with pytest.raises(InputError) as e:
        parse_population(d)
    assert e.value.field == "continuous.eroa_cm2.sd"


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"continuous": {"weight_kg": {"mean": 1, "sd": 1, "lo": 0, "hi": 2}}}, "continuous.weight_kg"),
        ({"categorical": {"sex": {"levels": {"female": 0.5, "other": 0.5}}}}, "categorical.sex.levels"),
        ({"correlations": [{"a": "lvef_pct", "b": "nope", "r": 0.1}]}, "correlations.0.b"),
        ({"colour": "blue"}, "colour"),
        ({"lv_volume_method": "mri"}, "lv_volume_method"),
    ],
)
def test_bad_population_fields(patch, field):
    d = _minimal()
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(d.get(k), dict):
            d[k] = {**d[k], **v}
        else:
            d[k] = v
    with pytest.raises(InputError) as e:
        parse_population(d)
    assert e.value.field == field


def test_correlation_matrix_is_symmetric_with_unit_diagonal():
    R = correlation_matrix(load_population("coapt_like"))
    assert np.allclose(R, R.T) and np.allclose(np.diag(R), 1.0)


def test_eligibility_replaces_ineligible_patients_reproducibly():
    """EVEREST II-like: every sampled patient's valve is inside the anatomic criteria; the sample is a
    function of the seed; the criteria do bind (the same description without them has patients outside)."""
    from mitrasim.cohort.mapping import chunk_valves
    from mitrasim.cohort.population import eligible

    pop = load_population("everest2_like")
    assert pop.eligibility.max_gap_mm == 10.0 and pop.eligibility.max_lesion_width_mm == 15.0
    t = sample_population(pop, 800, 3, first_id=100)
    assert t.num_rows == 800 and t.column("patient_id").to_pylist() == list(range(100, 900))
    v = chunk_valves(t)
    assert np.maximum(v.gap_deg_mm, v.gap_fun_mm).max(axis=1).max() <= 10.0
    width = t.column("lesion_width_frac").to_numpy() * t.column("ic_diameter_mm").to_numpy()
    assert width.max() <= 15.0
    # EVEREST II's criteria table: no calcification in the grasping area, no severe annular calcification
    assert set(t.column("leaflet_calcification").to_pylist()) == {"none"}
    assert "severe" not in set(t.column("annular_calcification").to_pylist())
    assert t.equals(sample_population(pop, 800, 3, first_id=100))
    free = pop.model_copy(update={"eligibility": type(pop.eligibility)()})
    free_sample = sample_population(free, 800, 3)
    assert not eligible(pop, free_sample).all()
    for column in ("leaflet_calcification", "annular_calcification"):  # each calcification criterion binds on its own
        only = pop.model_copy(update={"eligibility": type(pop.eligibility)(**{f"max_{column}": getattr(pop.eligibility, f"max_{column}")})})
        grades = np.array(free_sample.column(column).to_pylist())
        assert (eligible(only, free_sample) == (grades != "severe") if column == "annular_calcification" else eligible(only, free_sample) == (grades == "none")).all()


def test_impossible_eligibility_names_the_field():
    pop = parse_population(_minimal(eligibility={"max_gap_mm": 0.01}))
    with pytest.raises(InputError) as e:
        sample_population(pop, 50, 1)
    assert e.value.field == "eligibility"
    with pytest.raises(InputError) as e2:
        parse_population(_minimal(eligibility={"max_gap_mm": -1}))
    assert e2.value.field == "eligibility.max_gap_mm"


def test_a_cohort_valve_is_the_single_case_valve_of_the_same_anatomy():
    """cohort.mapping.chunk_valves (all patients at once, on its own N_GRID grid) and the single-case
    path (case ValveSpec → valve.valve_from_spec) describe the same secondary-MR valve: the same
    tethering bump and elliptic opening fitted to the same EROA and MVA.  On two grids the profiles
    agree to the discretisation of the area sums: a fitted peak moves by at most one cell of either
    grid's share of the area (max·ds / area, each grid)."""
    from mitrasim.case import ValveSpec
    from mitrasim.cohort.mapping import chunk_valves
    from mitrasim.valve import valve_from_spec
    from mitrasim.valve.geometry import DEFAULT_ANTERIOR_MM, DEFAULT_POSTERIOR_MM, LESION_EXPONENT

    t = sample_population(load_population("coapt_like"), 40, 5)
    t = t.filter(np.asarray(t.column("etiology").to_pylist()) == "secondary")
    cv = chunk_valves(t)
    for i in range(min(5, t.num_rows)):
        row = t.slice(i, 1).to_pylist()[0]
        L, frac = row["ic_diameter_mm"], float(np.clip(row["lesion_width_frac"], 0.05, 0.95))
        a2, p2 = row["anterior_leaflet_mm"], row["posterior_leaflet_mm"]
        spec = ValveSpec.model_validate({
            "annulus": {"ap_diameter_mm": row["ap_diameter_mm"], "ic_diameter_mm": L},
            "leaflets": {"anterior_mm": {k: a2 * v / DEFAULT_ANTERIOR_MM["A2"] for k, v in DEFAULT_ANTERIOR_MM.items()},
                         "posterior_mm": {k: p2 * v / DEFAULT_POSTERIOR_MM["P2"] for k, v in DEFAULT_POSTERIOR_MM.items()}},
            "lesions": [{"kind": "tethering", "gap_mm": 1.0, "center_mm": 0.55 * L, "width_mm": frac * L, "tenting_depth_mm": row["tenting_depth_mm"]}],
            "calcification": row["leaflet_calcification"], "annular_calcification": row["annular_calcification"],
            "eroa_cm2": row["eroa_cm2"], "mva_cm2": row["mva_cm2"],
        })  # fmt: skip
        v = valve_from_spec(spec)
        g_c, w_c, ds_c = cv.gap_fun_mm[i], cv.opening_mm[i], cv.ds_mm[i]
        assert cv.gap_deg_mm[i].max() == 0.0 and v.gap_degenerative_mm.max() == 0.0
        ds = max(ds_c, v.ds_mm)
        # (exponent p, half-width) of each profile's (1 − |x|^p)^½ shape: the bump and the ellipse
        shapes = ((g_c, v.gap_functional_mm, LESION_EXPONENT["tethering"], 0.5 * frac * L), (w_c, v.opening_mm, 2.0, 0.5 * L))
        for prof_c, prof_s, p, half in shapes:
            tol = prof_c.max() * ds_c / (prof_c.sum() * ds_c) + prof_s.max() * v.ds_mm / (prof_s.sum() * v.ds_mm)
            assert prof_c.max() == pytest.approx(prof_s.max(), rel=tol), i
            # the same shape: read at the other grid's points, linear interpolation misses the square-root
            # edge by at most max·(p·ds/half)^½ (one cell of the steepest part)
            edge = prof_s.max() * np.sqrt(p * ds / half)
            assert np.interp(v.s_mm, cv.s_mm[i], prof_c) == pytest.approx(prof_s, abs=tol * prof_s.max() + edge), i
        assert cv.tenting_mm[i] == pytest.approx(v.tenting_depth_mm)
        assert np.array_equal(np.unique(cv.lesion_kind[i]), np.unique(v.lesion_kind))


@pytest.mark.parametrize("name", SHIPPED_POPULATIONS)
def test_sampled_flows_balance(name):
    """Issue 12: a sampled patient's LVEDV, LVEF, EROA and forward SV describe one heart: the total
    stroke volume (engine terms) is the forward SV plus the regurgitant volume at the engine's
    regurgitant VTI, to the balance's tolerance; every value stays inside its marginal's range."""
    from mitrasim.cohort.mapping import engine_lv_volumes, regurgitant_vti_cm
    from mitrasim.cohort.population import BALANCE_TOL_ML

    pop = load_population(name)
    assert pop.balances_flow
    t = sample_population(pop, 400, 7)
    col = lambda k: t.column(k).to_numpy()  # noqa: E731
    _, sv_total = engine_lv_volumes(col("lvef_pct"), col("lvedv_ml"), pop.lv_volume_method)
    etio = np.asarray(t.column("etiology").to_pylist())
    rvol = np.empty(t.num_rows)
    for e in ("primary", "secondary"):
        m = etio == e
        if m.any():
            rvol[m] = col("eroa_cm2")[m] * regurgitant_vti_cm(pop.presets[e], col("hr_bpm")[m], col("eroa_cm2")[m], col("sbp_mmhg")[m])
    assert np.abs(sv_total - col("forward_sv_ml") - rvol).max() <= BALANCE_TOL_ML
    for k in ("lvedv_ml", "lvef_pct", "eroa_cm2", "forward_sv_ml"):
        c = pop.continuous[k]
        assert col(k).min() >= c.lo and col(k).max() <= c.hi


def test_flow_balance_moves_draws_by_their_measurement_sds_only():
    """The reconciliation is the weighted least-squares projection onto the balance: h(x) = 0, and the
    move of each value is proportional to its variance times the balance's gradient (Lagrange)."""
    from mitrasim.cohort.mapping import baseline_sds
    from mitrasim.cohort.population import BALANCE_TOL_ML, BALANCED, _flow_balance, balance_flows

    pop = load_population("coapt_like")
    free = pop.model_copy(update={"eligibility": type(pop.eligibility)()})
    from mitrasim.cohort.population import _draw

    raw = _draw(free, 300, np.random.default_rng(3), 0)
    out, ok = balance_flows(free, raw)
    a = np.stack([raw.column(k).to_numpy() for k in BALANCED], axis=1)
    x = np.stack([out.column(k).to_numpy() for k in BALANCED], axis=1)
    s2 = baseline_sds(raw.column("sbp_mmhg").to_numpy(), *a.T)[:, 1:] ** 2
    from mitrasim.cohort.mapping import regurgitant_vti_cm
    from mitrasim.echo.lv_bias import ECHO_2D_EDV_BIAS_ML, ECHO_2D_ESV_BIAS_ML

    vti = regurgitant_vti_cm("secondary_mr", raw.column("hr_bpm").to_numpy(), x[:, 2], raw.column("sbp_mmhg").to_numpy())
    h, grad = _flow_balance(x, vti, ECHO_2D_EDV_BIAS_ML - ECHO_2D_ESV_BIAS_ML)
    assert np.abs(h[ok]).max() <= BALANCE_TOL_ML
    lam = (a - x) / (s2 * grad)  # the same multiplier for every value of a patient (the projection's)
    assert np.allclose(lam[ok], lam[ok, :1], rtol=1e-3)
    assert 0.1 < ok.mean() < 1.0  # the gross-error test binds, and keeps most COAPT-like draws


def test_a_forward_sv_no_heart_can_give_names_the_field():
    d = _minimal()
    d["continuous"]["forward_sv_ml"] = {"mean": 190, "sd": 5, "lo": 180, "hi": 200}
    with pytest.raises(InputError) as e:
        sample_population(parse_population(d), 20, 1)
    assert e.value.field == "continuous.forward_sv_ml"


def test_a_population_without_forward_sv_is_not_balanced_and_keeps_its_draws():
    pop = parse_population(_minimal())
    assert not pop.balances_flow
    t = sample_population(pop, 50, 4)
    assert "forward_sv_ml" not in t.column_names
    d = _minimal()
    d["continuous"]["forward_sv_ml"] = {"mean": 60, "sd": 15, "lo": 25, "hi": 110}
    t2 = sample_population(parse_population(d), 50, 4)
    # the optional variable is drawn in a latent block of its own, after the others: an unbalanced draw keeps them
    from mitrasim.cohort.population import _draw

    raw = _draw(parse_population(d), 50, np.random.default_rng(4), 0)
    assert np.array_equal(raw.column("age_years").to_numpy(), t.column("age_years").to_numpy())
    assert t2.num_rows == 50


@pytest.mark.parametrize("name", list(ranges.POPULATION))
def test_a_truncation_outside_the_one_range_table_is_refused(name):
    """The population's bounds are :data:`mitrasim.ranges.POPULATION` (one definition): a marginal
    reaching past its upper end is refused, naming the field and that range."""
    r = ranges.POPULATION[name]
    d = _minimal()
    width = r.hi - r.lo
    d["continuous"][name] = {"mean": r.lo + width / 2, "sd": width / 10, "lo": r.lo, "hi": r.hi + width / 100}
    with pytest.raises(InputError) as e:
        parse_population(d)
    assert e.value.field == f"continuous.{name}.lo"
    assert f"[{r.lo:g}, {r.hi:g}]" in str(e.value)
    d["continuous"][name]["hi"] = r.hi  # at the ends: accepted
    assert parse_population(d).continuous[name].hi == r.hi


def test_population_ranges_lie_inside_the_entry_points_ranges():
    """A drawn patient is valid input everywhere: a variable the entry points also range-check
    (:data:`mitrasim.ranges.RANGES`) has its population range inside that one."""
    shared = set(ranges.POPULATION) & set(ranges.RANGES)
    assert shared  # hr, EROA, MVA
    for name in shared:
        p, r = ranges.POPULATION[name], ranges.RANGES[name]
        assert r.contains(p.lo) or (r.lo_open and p.lo > r.lo), name
        assert r.contains(p.hi), name


@pytest.mark.parametrize("name", ["coapt_like", "tvt_mixed"])
def test_streams_sampled_together_equal_each_stream_alone(name):
    """sample_population_streams reconciles and screens the streams' draws together; every stream's
    patients are those sample_population draws from it alone."""
    from mitrasim.cohort.population import sample_population_streams

    pop = load_population(name)
    sizes, ids = [5, 40, 17], [0, 100, 200]
    together = sample_population_streams(pop, sizes, [np.random.default_rng(s) for s in (1, 2, 3)], ids)
    for t, n, s, f in zip(together, sizes, (1, 2, 3), ids):
        assert t.equals(sample_population(pop, n, np.random.default_rng(s), first_id=f))


def test_streams_without_screening_equal_each_stream_alone():
    """Without eligibility or a flow balance the streams are drawn in one pass and sliced; each slice
    is the table sample_population draws from that stream alone (ids, values, types)."""
    from mitrasim.cohort.population import sample_population_streams

    pop = load_population("coapt_like")
    free = pop.model_copy(update={
        "eligibility": type(pop.eligibility)(),
        "continuous": {k: v for k, v in pop.continuous.items() if k != "forward_sv_ml"},
        "correlations": [c for c in pop.correlations if "forward_sv_ml" not in (c.a, c.b)],
    })  # fmt: skip
    assert not free.eligibility.active and not free.balances_flow
    sizes, ids = [5, 0, 40, 17], [0, 50, 100, 200]
    together = sample_population_streams(free, sizes, [np.random.default_rng(s) for s in (1, 2, 3, 4)], ids)
    for t, n, s, f in zip(together, sizes, (1, 2, 3, 4), ids):
        assert t.num_rows == n
        assert t.equals(sample_population(free, n, np.random.default_rng(s), first_id=f))


def test_the_regurgitant_vti_of_fixed_patients_is_the_bilinear_table_to_the_bit():
    """regurgitant_vti_at (the heart rate's interpolation and the pressure drive once, the EROA's per
    call: the flow balance's iterations) and regurgitant_vti_cm give, bit for bit, the bilinear
    interpolation of the table over heart rate × EROA written in one go, times the Bernoulli factor;
    at the table's nodes the table's values; scalars broadcast."""
    from mitrasim.cohort import mapping as M

    rng = np.random.default_rng(11)
    n = 500
    hr, eroa, sbp = rng.uniform(30.0, 160.0, n), rng.uniform(0.0, 2.5, n), rng.uniform(60.0, 180.0, n)
    tab = M._vti_table("secondary_mr")
    H, E = M._VTI_HR_GRID, M._VTI_EROA_GRID
    h, e = np.clip(hr, H[0], H[-1]), np.clip(eroa, E[0], E[-1])
    i = np.clip(np.searchsorted(H, h, side="right") - 1, 0, len(H) - 2)
    j = np.clip(np.searchsorted(E, e, side="right") - 1, 0, len(E) - 2)
    s, t = (h - H[i]) / (H[i + 1] - H[i]), (e - E[j]) / (E[j + 1] - E[j])
    v = tab["vti"]
    ref = (v[i, j] * (1 - s) + v[i + 1, j] * s) * (1 - t) + (v[i, j + 1] * (1 - s) + v[i + 1, j + 1] * s) * t
    ref = ref * np.sqrt(np.maximum(sbp - tab["la_mmhg"], 1.0) / (tab["sbp_mmhg"] - tab["la_mmhg"]))
    at = M.regurgitant_vti_at("secondary_mr", hr, sbp)
    np.testing.assert_array_equal(at(eroa), ref)
    np.testing.assert_array_equal(M.regurgitant_vti_cm("secondary_mr", hr, eroa, sbp), ref)
    k = rng.permutation(n)  # new EROAs for the same patients
    np.testing.assert_array_equal(at(eroa[k]), M.regurgitant_vti_cm("secondary_mr", hr, eroa[k], sbp))
    node = M.regurgitant_vti_cm("secondary_mr", H[2], E[3], tab["sbp_mmhg"])
    assert node.shape == () and node == v[2, 3]  # a node of the table, at the preset's own pressures
    assert M.regurgitant_vti_cm("secondary_mr", 70.0, eroa[:3], 120.0).shape == (3,)


def test_categorical_levels_read_once_per_level_are_the_patients_values():
    """level_mask and level_values (Arrow's dictionary encoding: a level's value computed once) give
    each patient's own level, over several chunks; a column with nulls element by element."""
    import pyarrow as pa

    from mitrasim.cohort.columns import level_mask, level_values

    words = ["primary", "secondary", "secondary", "primary", "secondary"]
    t = pa.table({"etiology": pa.chunked_array([words[:2], words[2:]]), "seg": pa.chunked_array([["1", "3"], ["2", "2", "1"]]),
                  "holes": pa.array(["a", None, "b", "a", None])})  # fmt: skip
    np.testing.assert_array_equal(level_mask(t, "etiology", "secondary"), np.array(words) == "secondary")
    assert level_values(t, "etiology", str, object).tolist() == words
    assert level_values(t, "seg", int, np.int64).tolist() == [1, 3, 2, 2, 1]
    assert level_values(t, "holes", str, object).tolist() == ["a", None, "b", "a", None]
    assert level_mask(t, "holes", "a").tolist() == [True, False, False, True, False]
    assert level_values(t.slice(0, 0), "seg", int, np.int64).shape == (0,)
