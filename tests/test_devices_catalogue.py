"""Device catalogue, YAML overrides, grasp feasibility, SLDA multiplier, device choice."""

import numpy as np
import pytest

from mitrasim.case import ValveSpec
from mitrasim.devices import DEFAULT_CATALOGUE, assess_grasp, choose_device, device_arrays, get_device, load_catalogue, max_grasp_reach_mm
from mitrasim.errors import InputError
from mitrasim.valve import build_valve


def valve(**kw):
    base = {"annulus": {"ap_diameter_mm": 32, "ic_diameter_mm": 38}}
    base.update(kw)
    return build_valve(ValveSpec.model_validate(base))


def test_catalogue_contents():
    assert set(DEFAULT_CATALOGUE) == {"NT", "XT", "NTW", "XTW", "PASCAL Ace", "PASCAL"}
    assert DEFAULT_CATALOGUE["XT"].arm_length_mm - DEFAULT_CATALOGUE["NT"].arm_length_mm == 3
    assert DEFAULT_CATALOGUE["NTW"].width_mm > DEFAULT_CATALOGUE["NT"].width_mm
    assert all(d.source_keys for d in DEFAULT_CATALOGUE.values())
    assert max_grasp_reach_mm() == 13


def test_yaml_override(tmp_path):
    f = tmp_path / "cat.yaml"
    f.write_text("devices:\n  XT: {arm_length_mm: 12.5}\n  Mine: {family: MitraClip, arm_length_mm: 10, width_mm: 5, grasp_reach_mm: 11}\n")
    cat = load_catalogue(f)
    assert cat["XT"].arm_length_mm == 12.5 and cat["XT"].width_mm == 4
    assert "user_override" in cat["XT"].source_keys
    assert cat["Mine"].width_mm == 5
    assert DEFAULT_CATALOGUE["XT"].arm_length_mm == 12  # default untouched


@pytest.mark.parametrize(
    "upd, field",
    [
        ({"XT": {"arm_length_mm": 40}}, "devices.XT.arm_length_mm"),
        ({"XT": {"colour": "red"}}, "devices.XT.colour"),
        ({"New": {"family": "X", "width_mm": 5}}, "devices.New.arm_length_mm"),
    ],
)
def test_bad_override_names_field(upd, field):
    with pytest.raises(InputError) as e:
        load_catalogue(overrides=upd)
    assert e.value.field == field


def test_device_arrays():
    w, a = device_arrays([["NT", "XTW", None], ["PASCAL", "", None]])
    assert w.shape == (2, 3)
    assert w[0, 1] == 6 and a[0, 1] == 12 and np.isnan(w[0, 2]) and np.isnan(a[1, 1])
    with pytest.raises(InputError):
        get_device("Nope")


def test_good_grasp_normal_leaflets():
    v = valve(lesions=[{"kind": "prolapse", "segments": ["P2"], "gap_mm": 3, "width_mm": 10}])
    g = assess_grasp(v, 19.0, DEFAULT_CATALOGUE["NT"])
    assert g.status == "good" and g.slda_multiplier == 1.0


def test_short_posterior_leaflet_is_marginal_then_infeasible():
    short = valve(leaflets={"posterior_mm": {"P1": 10, "P2": 7, "P3": 10}}, lesions=[{"kind": "prolapse", "segments": ["P2"], "gap_mm": 3, "width_mm": 10}])
    g = assess_grasp(short, 19.0, DEFAULT_CATALOGUE["NT"])
    assert g.status == "marginal" and g.slda_multiplier > 1
    # 5.5 mm in the grasp: M = (1 + 0.5/2) * 1.3 (arm 9 mm > 5.5 mm of leaflet)
    assert g.slda_multiplier == pytest.approx(1.25 * 1.3, rel=1e-2)
    tiny = valve(leaflets={"posterior_mm": {"P1": 10, "P2": 5, "P3": 10}}, lesions=[{"kind": "prolapse", "segments": ["P2"], "gap_mm": 3, "width_mm": 10}])
    assert assess_grasp(tiny, 19.0, DEFAULT_CATALOGUE["NT"]).status == "infeasible"


def test_gap_reach_and_longer_arms():
    v = valve(leaflets={"posterior_mm": {"P1": 12, "P2": 18, "P3": 12}}, lesions=[{"kind": "flail", "segments": ["P2"], "gap_mm": 11, "width_mm": 12}])
    assert assess_grasp(v, 19.0, DEFAULT_CATALOGUE["NT"]).status == "infeasible"
    xt = assess_grasp(v, 19.0, DEFAULT_CATALOGUE["XT"])
    assert xt.feasible and xt.status == "marginal"
    assert choose_device(v, 19.0).device.name in ("XT", "XTW")


def test_calcification_and_cleft():
    sev = valve(calcification="severe", calcified_segments=["P2"], lesions=[{"kind": "prolapse", "segments": ["P2"], "gap_mm": 3, "width_mm": 10}])
    assert assess_grasp(sev, 19.0, DEFAULT_CATALOGUE["NT"]).status == "infeasible"
    mod = valve(calcification="moderate", calcified_segments=["P2"], cleft_segments=["P2"], lesions=[{"kind": "prolapse", "segments": ["P2"], "gap_mm": 3, "width_mm": 10}])
    g = assess_grasp(mod, 19.0, DEFAULT_CATALOGUE["NT"])
    assert g.status == "marginal" and g.slda_multiplier == pytest.approx(1.5 * 1.5)


def test_small_valve_gets_narrow_short_clip():
    small = valve(annulus={"ap_diameter_mm": 25, "ic_diameter_mm": 30}, lesions=[{"kind": "prolapse", "segments": ["P2"], "gap_mm": 3, "width_mm": 10}])
    assert small.mva_cm2 < 4.0
    assert choose_device(small, 15.0).device.name == "NT"
    assert choose_device(small, 15.0, preference="PASCAL").device.name == "PASCAL Ace"
    assert choose_device(small, 15.0, preference="XTW").device.name == "XTW"


def _flail(gap_mm, posterior_mm):
    return valve(leaflets={"posterior_mm": {"P1": 12, "P2": posterior_mm, "P3": 12}}, lesions=[{"kind": "flail", "segments": ["P2"], "gap_mm": gap_mm, "width_mm": 12}])


def test_device_choice_words_follow_the_order_of_sizes():
    """The scalar choice's words: the size rule's reading, then the exchange along the order of sizes
    (the rule's own size first, then NT, XT, NTW, XTW), or none of the family when no size can grasp."""
    # gap 11 mm beyond the NT reach; P2 13 mm leaves 7.5 mm < the NT arm after half the gap → short arms;
    # a wide valve, leak 12 mm in segment 2 → NTW first, which cannot reach; NT cannot either; XT can
    v = _flail(11.0, 13.0)
    assert not assess_grasp(v, 19.0, DEFAULT_CATALOGUE["NTW"]).feasible and not assess_grasp(v, 19.0, DEFAULT_CATALOGUE["NT"]).feasible
    c = choose_device(v, 19.0)
    assert c.device.name == "XT"
    assert c.reasons[0].endswith("→ short arms") and c.reasons[1].endswith("→ wide")
    assert c.reasons[2] == "NTW cannot grasp here; XT can"
    # gap 15 mm beyond every reach: the rule's own size (long arms, wide) and the words say so
    v = _flail(15.0, 18.0)
    assert not any(assess_grasp(v, 19.0, d).feasible for d in DEFAULT_CATALOGUE.values())
    c = choose_device(v, 19.0)
    assert c.device.name == "XTW" and c.reasons[-1] == "no size of the family can grasp here"
    assert choose_device(v, 19.0, preference="NT").reasons == ("device chosen by preference",)


def test_a_family_missing_from_the_catalogue_is_refused():
    """A catalogue without any size of the preferred family is one error naming the preference
    (before, the batched choice took the catalogue's last device)."""
    from mitrasim.procedure.batched import choose_devices
    from mitrasim.valve.clip import ValveRows

    v = _flail(3.0, 13.0)
    pascal_only = {k: d for k, d in DEFAULT_CATALOGUE.items() if d.family == "PASCAL"}
    with pytest.raises(InputError) as e:
        choose_device(v, 19.0, "auto", pascal_only)
    assert e.value.field == "device_preference" and e.value.value == "auto"
    with pytest.raises(InputError):
        choose_devices(ValveRows.from_valves([v]), np.array([0]), v.gap_mm[None], np.array([v.mva_cm2]), "MitraClip", pascal_only)
    assert choose_device(v, 19.0, "PASCAL", pascal_only).device.name in pascal_only


def test_batched_device_choice_equals_the_scalar_rule():
    """procedure.batched.choose_devices (the procedure's rule, per row at the residual gap's peak) picks
    what devices.choose_device picks at that position, for every family preference, on valves that cross
    each threshold of the size rule (gap, leaflet length, MVA, segment, leak length) and after a clip."""
    import numpy as np

    from mitrasim.case import ValveSpec
    from mitrasim.procedure.batched import choose_devices
    from mitrasim.valve import apply_clips, valve_from_spec
    from mitrasim.procedure.clip_calibration import REPRESENTATIVE_VALVES
    from mitrasim.valve.clip import ValveRows

    valves = [valve_from_spec(ValveSpec.model_validate(v)) for v in REPRESENTATIVE_VALVES.values()]
    for gap in (3.0, 5.0, 5.5, 8.0):  # around LONG_ARM_GAP_MM
        for post in (9.0, 13.0, 16.0):  # around the NT arm after half the gap
            for seg, width in (("P2", 13.0), ("P2", 6.0), ("P1", 8.0), ("P3", 8.0)):  # segment, leak length
                for ic in (26.0, 37.0):  # small valve (MVA < 4) or not
                    spec = {"annulus": {"ap_diameter_mm": 0.85 * ic, "ic_diameter_mm": ic},
                            "leaflets": {"anterior_mm": {"A1": 22, "A2": 26, "A3": 22}, "posterior_mm": {"P1": post, "P2": post, "P3": post}},
                            "lesions": [{"kind": "flail", "segments": [seg], "gap_mm": gap, "width_mm": width}], "calcification": "none"}  # fmt: skip
                    valves.append(valve_from_spec(ValveSpec.model_validate(spec)))
    clipped = []
    for v in valves[:5]:  # residual gaps after one clip at the peak (the procedure's second round)
        c = float(v.s_mm[np.argmax(v.gap_mm)])
        r = apply_clips(v, [c], [DEFAULT_CATALOGUE["NT"].width_mm], [DEFAULT_CATALOGUE["NT"].arm_length_mm])
        clipped.append((v, r.gap_mm, r.mva_cm2))
    cases = [(v, v.gap_mm, v.mva_cm2) for v in valves] + clipped
    keys = list(DEFAULT_CATALOGUE)
    chosen = set()
    for pref in ("auto", "MitraClip", "PASCAL", "XTW"):
        for i, (v, gi, m) in enumerate(cases):
            got = choose_devices(ValveRows.from_valves([v]), np.array([0]), gi[None], np.array([m]), pref, DEFAULT_CATALOGUE)[0]
            peak = float(v.s_mm[np.argmax(gi)])
            want = choose_device(v.with_(gap_degenerative_mm=gi, gap_functional_mm=np.zeros_like(gi)), peak, pref, mva_cm2=m).device.name
            assert keys[got] == want, (pref, i)
            chosen.add(keys[got])
    assert {"NT", "XT", "NTW", "XTW", "PASCAL", "PASCAL Ace"} <= chosen  # every branch of the size rule taken


def _under_the_clip(v, pos, width_mm):
    """Reference reading, cell by cell: the largest gap and worst calcification within half the
    clip's width (at least one cell) of ``pos``, any cleft there, the leaflet lengths in its cell."""
    i = min(int(pos // v.ds_mm), v.s_mm.size - 1)
    cells = [j for j, s in enumerate(v.s_mm) if abs(s - pos) <= max(width_mm / 2, v.ds_mm)] or [i]
    gap = max(float(v.gap_mm[j]) for j in cells)
    calc = max(int(v.calcification_grade[j]) for j in cells)
    cleft = any(bool(v.cleft[j]) for j in cells)
    return gap, calc, cleft, float(v.anterior_mm[i]), float(v.posterior_mm[i])


def test_scalar_and_batched_grasp_read_the_same_anatomy():
    """``assess_grasp`` (one clip) and ``grasp_at`` (a stack of valves) give the same numbers, and
    both read the anatomy under the clip as the cell-by-cell reference does."""
    from mitrasim.devices import grasp_at
    from mitrasim.valve.clip import ValveRows

    vs = [
        valve(lesions=[{"kind": "prolapse", "segments": ["P2"], "gap_mm": 3, "width_mm": 10}]),
        valve(lesions=[{"kind": "flail", "segments": ["P2", "P3"], "gap_mm": 9, "width_mm": 14}], calcification="moderate", calcified_segments=["P2"]),
        valve(lesions=[{"kind": "prolapse", "segments": ["P1"], "gap_mm": 5, "width_mm": 8}], cleft_segments=["P1"], leaflets={"posterior_mm": {"P1": 6, "P2": 7, "P3": 6}}),
        valve(lesions=[{"kind": "tethering", "segments": ["P2"], "gap_mm": 4, "tenting_depth_mm": 11}]),
    ]
    vr = ValveRows.from_valves(vs)
    cases = [(k, float(p), d) for k, v in enumerate(vs) for p in np.linspace(0, v.line_length_mm, 13) for d in DEFAULT_CATALOGUE.values()]
    rows = np.array([k for k, _, _ in cases])
    col = lambda f: np.array([f(d) for _, _, d in cases], dtype=float)  # noqa: E731
    pos = np.array([p for _, p, _ in cases])
    b = grasp_at(vr, rows, vr.gap_mm[rows], pos, col(lambda d: d.width_mm), col(lambda d: d.arm_length_mm), col(lambda d: d.grasp_reach_mm), col(lambda d: d.spacer_mm))
    statuses = set()
    for j, (k, p, d) in enumerate(cases):
        gap, calc, cleft, a_len, p_len = _under_the_clip(vs[k], p, d.width_mm)
        assert (b.gap_mm[j], b.calcification[j], bool(b.cleft[j]), b.anterior_mm[j], b.posterior_mm[j]) == (gap, calc, cleft, a_len, p_len)
        s = assess_grasp(vs[k], p, d)
        assert s.gap_mm == gap
        assert (s.status, s.slda_multiplier) == (("good", "marginal", "infeasible")[int(b.status[j])], float(b.multiplier[j]))
        statuses.add(s.status)
    assert statuses == {"good", "marginal", "infeasible"}  # every branch of the rule is compared
