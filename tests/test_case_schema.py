"""Case files: the shipped examples load and give plausible areas; bad cases name the field."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from mitrasim.case import Case, clip_position_mm, load_case, parse_case
from mitrasim.devices import choose_device
from mitrasim.errors import InputError
from mitrasim.valve import apply_clips, valve_from_spec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NAMES = ["p2_flail", "coapt_secondary", "small_valve", "commissural_a3p3", "barlow"]


def base():
    return yaml.safe_load((EXAMPLES / "p2_flail.yaml").read_text())


def test_five_examples_shipped():
    assert sorted(p.stem for p in EXAMPLES.glob("*.yaml")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_examples_load_and_are_plausible(name):
    case = load_case(EXAMPLES / f"{name}.yaml")
    assert isinstance(case, Case)
    v = valve_from_spec(case.valve)
    assert 0.2 <= v.eroa_cm2 <= 1.0, v.eroa_cm2  # at least moderate MR, below extreme
    assert 3.0 <= v.mva_cm2 <= 7.0, v.mva_cm2
    assert case.patient.preset == ("secondary_mr" if case.patient.etiology == "secondary" else "primary_mr")
    # one clip where the leak is largest reduces EROA and MVA
    pos = float(v.s_mm[np.argmax(v.gap_mm)])
    dev = choose_device(v, pos).device
    pos = float(np.clip(pos, dev.width_mm / 2, v.line_length_mm - dev.width_mm / 2))
    r = apply_clips(v, [pos], dev.width_mm, dev.arm_length_mm)
    assert r.eroa_cm2 < v.eroa_cm2 and r.mva_cm2 < v.mva_cm2


def test_example_specific_numbers():
    coapt = load_case(EXAMPLES / "coapt_secondary.yaml")
    v = valve_from_spec(coapt.valve)
    assert v.eroa_cm2 == pytest.approx(0.41)
    assert coapt.patient.lvef_pct == 31 and coapt.echo.lvedv_ml == 193
    small = valve_from_spec(load_case(EXAMPLES / "small_valve.yaml").valve)
    assert small.mva_cm2 == pytest.approx(3.5)
    flail = valve_from_spec(load_case(EXAMPLES / "p2_flail.yaml").valve)
    seg2 = flail.segment_edges_mm[1:3]
    assert seg2[0] < flail.s_mm[np.argmax(flail.gap_mm)] < seg2[1]
    comm = valve_from_spec(load_case(EXAMPLES / "commissural_a3p3.yaml").valve)
    assert comm.s_mm[np.argmax(comm.gap_mm)] > comm.segment_edges_mm[2]


def test_json_and_defaults(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps(base()))
    case = load_case(f)
    assert case.procedure.max_clips == 4 and case.procedure.min_mva_cm2 == 1.5
    assert case.procedure.max_gradient_mmhg == 5 and case.procedure.target_residual_grade == "1+"


def _err(data):
    with pytest.raises(InputError) as e:
        parse_case(data)
    return e.value


def test_unknown_field_names_path():
    d = base()
    d["valve"]["annulus"]["diameter"] = 30
    assert _err(d).field == "valve.annulus.diameter"
    d = base()
    d["patient"]["weight"] = 70
    e = _err(d)
    assert e.field == "patient.weight" and "no such field" in e.allowed


def test_out_of_range_names_path():
    d = base()
    d["patient"]["hr_bpm"] = 400
    e = _err(d)
    assert e.field == "patient.hr_bpm" and e.value == 400


def test_leaflet_longer_than_possible():
    d = base()
    d["valve"]["leaflets"]["anterior_mm"]["A2"] = 44  # <= 1.5 x AP 32 mm = 48 mm: allowed
    parse_case(d)
    d["valve"]["annulus"]["ap_diameter_mm"] = 25  # now A2 44 > 37.5 mm
    e = _err(d)
    assert e.field == "valve.leaflets.anterior_mm.A2"
    assert "longer than the annulus" in str(e)


def test_gap_beyond_any_device():
    d = base()
    d["valve"]["lesions"][0]["gap_mm"] = 15
    e = _err(d)
    assert e.field == "valve.lesions.0.gap_mm" and "beyond any device" in str(e)


def test_clip_outside_coaptation_line():
    d = base()
    d["procedure"]["clips"] = [{"device": "NT", "position_mm": 20}, {"device": "XT", "position_mm": 36.5}]
    e = _err(d)
    assert e.field == "procedure.clips.1.position_mm" and "outside the coaptation line" in str(e)
    d["procedure"]["clips"] = [{"device": "NT", "segment": "2"}]
    case = parse_case(d)
    assert clip_position_mm(case, case.procedure.clips[0]) == pytest.approx(0.5 * 37)
    d["procedure"]["clips"] = [{"device": "ZZ", "segment": "2"}]
    assert _err(d).field == "procedure.clips.0.device"


def test_other_cross_checks():
    d = base()
    d["valve"]["lesions"] = []
    d["valve"]["eroa_cm2"] = 0.4
    assert _err(d).field == "valve.lesions"
    d = base()
    d["valve"]["lesions"][0]["segments"] = ["P4"]
    assert _err(d).field.startswith("valve.lesions.0.segments")
    d = base()
    d["procedure"]["device_preference"] = "Other"
    assert _err(d).field == "procedure.device_preference"


def test_bad_file(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("patient: [unclosed\n")
    with pytest.raises(InputError) as e:
        load_case(f)
    assert e.value.field == "path"
    with pytest.raises(InputError):
        load_case(tmp_path / "missing.yaml")
    f.write_text("- 1\n- 2\n")
    with pytest.raises(InputError):
        load_case(f)
