"""One patient and a warm start (issue 19, goals 2 and 3, outside the kernel): the one-patient
set-up in Python floats gives the array set-up's numbers exactly, a small batch on a fresh install
runs on the one-lane kernel with the batch kernel's numbers, a cached kernel is loaded without
numba's registry refresh, and ``mitrasim simulate`` imports nothing it does not use.

No test here is timed: the speeds are in ``benchmarks/one_patient.py`` and ``benchmarks/first_run.py``
(results in ``benchmarks/RESULTS.md``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mitrasim.physiology import dispatch as D
from mitrasim.physiology import engine as E
from mitrasim.physiology import simulation as S
from mitrasim.physiology.parameter_sets import PARAMETER_SETS, get_parameter_set

ROOT = Path(__file__).resolve().parents[1]

#: Modules a warm ``mitrasim simulate --json`` must not import: other commands' dependencies, and
#: the registries numba loads when it refreshes its target context (``numba.np.arraymath``, which
#: imports ``scipy.linalg``) — a cached kernel does not need them.
NOT_IMPORTED_BY_SIMULATE = (
    "scipy.linalg", "scipy.optimize", "pyarrow", "pandas", "dask", "distributed", "fastapi", "starlette",
    "plotly", "matplotlib", "rich", "mitrasim.web", "mitrasim.cohort", "mitrasim.procedure",
    "mitrasim.calibrate", "mitrasim.pathway", "mitrasim.echo", "numba.np.arraymath",
)

#: One patient per preset with overrides that move every timing rule (heart rate away from the
#: reference, a two-hill time constant, an atrial contraction start, a stressed volume shift).
CASES = [
    *[(name, {}, {}) for name in PARAMETER_SETS],
    ("regazzoni2022", {"la_tc_s": 0.05, "stressed_volume_shift_ml": -150.0}, {"eroa_cm2": 0.35, "hr_bpm": 41.0}),
    ("svzerod_two_hill", {"lv_tau1_s": 0.1}, {"hr_bpm": 131.0}),
    ("primary_mr", {"sys_ar_r_mmhg_s_ml": 1.6}, {"eroa_cm2": 0.45, "mva_cm2": 2.5, "hr_bpm": 58.0}),
]


@pytest.mark.parametrize("preset, overrides, kw", CASES)
def test_one_patient_float_setup_equals_the_array_setup(preset, overrides, kw):
    """The one-patient set-up (Python floats) and the batch set-up ((1,) arrays) do the same IEEE
    operations: kernel parameters, onset positions, initial state, stable step and steps per beat
    are equal bit for bit."""
    pset = get_parameter_set(preset)
    cols, block, n, _ = S._batch(pset, overrides, dict(kw))
    assert n == 1
    one = dict(zip(cols, block[:, 0].tolist()))
    assert isinstance(one["hr_bpm"], float)
    dt_max = S.SolverSettings().dt_max_s
    steps_a = S.steps_per_beat(60.0 / cols["hr_bpm"], np.minimum(dt_max, S.stable_dt_s(cols)))
    steps_f = S.steps_per_beat(60.0 / one["hr_bpm"], min(dt_max, S.stable_dt_s(one)))
    assert isinstance(steps_f, int) and steps_f == int(steps_a[0])
    assert S.stable_dt_s(one) == S.stable_dt_s(cols)[0]
    Pa, ewa = S._kernel_arrays(cols, pset.model, 1, 1, steps_f)
    Pf, ewf = S._kernel_arrays(one, pset.model, 1, 1, steps_f)
    np.testing.assert_array_equal(Pf, Pa)
    np.testing.assert_array_equal(ewf, ewa)
    np.testing.assert_array_equal(S._initial_states(pset, one, 1, 1, None), S._initial_states(pset, cols, 1, 1, None))


def test_one_patient_equals_its_place_in_a_batch():
    """simulate() of one patient (float set-up, one-lane kernel) equals that patient in a batch of
    others (array set-up, batch kernel) to 1e-12."""
    rng = np.random.default_rng(7)
    eroa, hr = rng.uniform(0.0, 0.6, 20), rng.uniform(45.0, 120.0, 20)
    batch = S.simulate("primary_mr", eroa_cm2=eroa, hr_bpm=hr)
    for i in (0, 7, 19):
        one = S.simulate("primary_mr", eroa_cm2=float(eroa[i]), hr_bpm=float(hr[i]))
        assert one.n_steps[0] == batch.n_steps[i]
        np.testing.assert_allclose(one.final_state[0], batch.final_state[i], rtol=0, atol=1e-12)
        for k, v in one.metrics.items():
            np.testing.assert_allclose(v[0], batch.metrics[k][i], rtol=1e-12, atol=1e-12, err_msg=k)
        assert one.patient_parameters(0) == batch.patient_parameters(i)


class _Uncompiled:
    """Stands in for a group kernel that is neither compiled nor cached (a fresh install)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1

    def typeof_pyval(self, value):
        return None

    def compile(self, sig):
        pass


@pytest.mark.parametrize("preset", ["regazzoni2022", "svzerod_two_hill"])
def test_a_small_batch_without_a_batch_kernel_runs_on_one_lane(monkeypatch, preset):
    """In a command about one case, while the group kernel is neither compiled nor cached, a batch
    of up to ONE_CASE_BATCH_MAX patients runs patient after patient on the one-lane kernel (no
    compilation of a group kernel) with the group kernels' numbers to 1e-12, waveforms included;
    a larger batch still asks for the group kernels, and so does any batch outside such a command."""
    rng = np.random.default_rng(3)
    ea = get_parameter_set(preset).values["lv_ea_mmhg_ml"] * rng.uniform(0.6, 1.4, 21)
    kw = {"overrides": [{"lv_ea_mmhg_ml": float(x)} for x in ea], "hr_bpm": 75.0}  # one step count: one group
    if preset == "regazzoni2022":
        kw["eroa_cm2"] = rng.uniform(0.0, 0.6, 21)
    ref = S.simulate(preset, waveforms=True, **kw)  # the batch kernel (compiled here on an empty cache)
    monkeypatch.setattr(D, "SERIAL_BATCH_MAX", D.ONE_CASE_BATCH_MAX)  # as within one_case_kernels()
    law = "diode" if get_parameter_set(preset).model.mitral == "diode" else "orifice"
    group, rem8, rem4 = _Uncompiled(), _Uncompiled(), _Uncompiled()
    monkeypatch.setattr(E, f"_run_group_lanes_{law}", group)
    monkeypatch.setattr(E, f"_run_group_rem8_{law}", rem8)
    monkeypatch.setattr(E, f"_run_group_rem4_{law}", rem4)
    res = S.simulate(preset, waveforms=True, **kw)
    assert group.calls == rem8.calls == rem4.calls == 0
    np.testing.assert_allclose(res.final_state, ref.final_state, rtol=0, atol=1e-12)
    for k in ref.metrics:
        np.testing.assert_allclose(res.metrics[k], ref.metrics[k], rtol=1e-12, atol=1e-12, err_msg=k)
    for k in ref.waveforms:
        np.testing.assert_allclose(res.waveforms[k], ref.waveforms[k], rtol=1e-12, atol=1e-12, err_msg=k)
    monkeypatch.setattr(D, "SERIAL_BATCH_MAX", 20)
    S.simulate(preset, **kw)  # 21 patients: a block of 16 and one of 8, on one thread (one block of LANES)
    assert (group.calls, rem8.calls, rem4.calls) == (1, 1, 0)
    monkeypatch.setattr(D, "SERIAL_BATCH_MAX", 0)  # the default: a library call or a trial
    S.simulate(preset, hr_bpm=75.0, overrides=kw["overrides"][:2])  # a block of 4 alone
    assert (group.calls, rem8.calls, rem4.calls) == (1, 1, 1)


def test_one_case_kernels_sets_the_limit_for_its_block_only():
    assert D.SERIAL_BATCH_MAX == 0
    with D.one_case_kernels():
        assert D.SERIAL_BATCH_MAX == D.ONE_CASE_BATCH_MAX
        with pytest.raises(RuntimeError), D.one_case_kernels(5):
            assert D.SERIAL_BATCH_MAX == 5
            raise RuntimeError
        assert D.SERIAL_BATCH_MAX == D.ONE_CASE_BATCH_MAX
    assert D.SERIAL_BATCH_MAX == 0


def _run(code: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env_extra or {})}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900)


#: ``mitrasim simulate --json`` in a fresh process, then the modules it imported and its output.
_SIMULATE = ("import sys, json, io, contextlib; from mitrasim.cli import main\n"
             "out = io.StringIO()\n"
             "with contextlib.redirect_stdout(out):\n"
             "    try: main(['simulate', '--preset', PRESET, '--json'])\n"
             "    except SystemExit as e: assert not e.code, e.code\n"
             "print(json.dumps({'modules': sorted(sys.modules), 'result': json.loads(out.getvalue())}))\n")


@pytest.mark.parametrize("preset", ["regazzoni2022", "svzerod_two_hill"])
def test_simulate_imports_only_what_it_uses(preset):
    """A warm ``mitrasim simulate --json`` loads its cached kernel without numba's registries (and
    scipy.linalg through them) and imports no other command's modules.  The kernel is compiled or
    loaded in this process first, so that the subprocess finds it cached."""
    S.simulate(preset)
    p = _run(f"PRESET = {preset!r}\n" + _SIMULATE)
    assert p.returncode == 0, p.stderr[-2000:]
    mods = set(json.loads(p.stdout.strip().splitlines()[-1])["modules"])
    loaded = sorted(m for m in NOT_IMPORTED_BY_SIMULATE if m in mods or any(x.startswith(m + ".") for x in mods))
    assert loaded == [], loaded


def test_a_kernel_loaded_without_the_refresh_gives_numbas_own_load():
    """The same command with numba's ordinary cache load (registry refresh first) gives the same
    JSON, bit for bit."""
    S.simulate("regazzoni2022")
    light = _run("PRESET = 'regazzoni2022'\n" + _SIMULATE)
    full = _run("from mitrasim.physiology import dispatch; dispatch._load_without_refresh = lambda kernel: None\n"
                "PRESET = 'regazzoni2022'\n" + _SIMULATE)
    assert light.returncode == 0 and full.returncode == 0, (light.stderr[-1000:], full.stderr[-1000:])
    a, b = (json.loads(p.stdout.strip().splitlines()[-1]) for p in (light, full))
    assert "numba.np.arraymath" in b["modules"] and "numba.np.arraymath" not in a["modules"]
    assert a["result"] == b["result"]


@pytest.mark.slow
def test_first_demo_compiles_the_one_lane_kernel_only(tmp_path):
    """On an empty cache ``mitrasim demo`` compiles one engine kernel, the one-lane kernel of the
    orifice law (its batches are small enough to run on it), says so once, and completes."""
    p = subprocess.run([sys.executable, "-m", "mitrasim", "demo"], capture_output=True, text=True, timeout=1800,
                       env={**os.environ, "PYTHONPATH": str(ROOT / "src"), "MITRASIM_CACHE_DIR": str(tmp_path)})
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stderr.count("compiling the engine once") == 1
    kernels = {f.name.split("-")[0].rsplit(".", 1)[-1] for f in tmp_path.rglob("*.nbi")}  # "engine._run_group_1_orifice-629.py311.nbi"
    assert {k for k in kernels if k.startswith(("_run_group", "_run_batch"))} == {"_run_group_1_orifice"}, kernels


@pytest.mark.parametrize("field, value", [("dt_max_s", 0.0), ("dt_max_s", 0.01), ("tol", 0.0), ("tol", float("nan")),
                                          ("min_beats", 0), ("max_beats", 2.5), ("max_beats", True), ("threads", -1),
                                          ("accelerate", "yes")])
def test_solver_settings_refuse_a_value_out_of_range_naming_it(field, value):
    """SolverSettings is a plain dataclass (no pydantic model to build at import); a bad value is
    refused with the project's one-line InputError naming the field and the value."""
    from mitrasim.errors import InputError

    with pytest.raises(InputError) as e:
        S.SolverSettings(**{field: value})
    assert field in str(e.value) and "\n" not in str(e.value)
    shown = format(value, "g") if isinstance(value, float) and not isinstance(value, bool) else str(value)
    assert shown.lower() in str(e.value).lower() or repr(value) in str(e.value)


def test_solver_settings_keep_whole_numbers_and_floats():
    s = S.SolverSettings(dt_max_s=4e-3, max_beats=50.0, threads=2)
    assert s.max_beats == 50 and isinstance(s.max_beats, int) and s.dt_max_s == 4e-3 and s.accelerate is True
    assert s == S.SolverSettings(dt_max_s=4e-3, max_beats=50, threads=2) and hash(s) == hash(S.SolverSettings(dt_max_s=4e-3, max_beats=50, threads=2))


def test_one_case_commands_run_inside_one_case_kernels(monkeypatch, tmp_path):
    """``plan``, ``procedure`` and ``calibrate`` run their callback inside one_case_kernels; other
    commands do not (a stand-in module registers each name and records the limit it sees)."""
    import types

    from mitrasim import cli

    seen: dict[str, int] = {}
    fake = types.ModuleType("fake_commands")

    def register(app):
        for name in ("plan", "procedure", "calibrate", "trial"):
            app.command(name)(lambda name=name: seen.__setitem__(name, D.SERIAL_BATCH_MAX))

    fake.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_commands", fake)
    for name in ("plan", "procedure", "calibrate", "trial"):
        monkeypatch.setitem(cli.COMMANDS, name, "fake_commands")
        with pytest.raises(SystemExit) as e:
            cli.main([name])
        assert e.value.code == 0
    assert seen == {"plan": D.ONE_CASE_BATCH_MAX, "procedure": D.ONE_CASE_BATCH_MAX, "calibrate": D.ONE_CASE_BATCH_MAX, "trial": 0}
    assert D.SERIAL_BATCH_MAX == 0
