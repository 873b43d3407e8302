import pytest

from mitrasim.echo.grading import grade_mr
from mitrasim.echo.stenosis import evaluate_mvarc, grade_stenosis
from mitrasim.errors import InputError

EPS = 1e-6


@pytest.mark.parametrize(
    "mva, sev",
    [(1.5 + EPS, "mild"), (1.5, "moderate"), (1.0, "moderate"), (1.0 - EPS, "severe"), (2.0, "mild"), (2.0 + EPS, "none"), (4.0, "none")],
)
def test_mva_cuts(mva, sev):
    assert grade_stenosis(mva_cm2=mva).severity == sev


@pytest.mark.parametrize(
    "mva, stage",
    [(5.0, "no stenosis"), (1.5 + EPS, "B progressive"), (1.5, "C/D severe"), (1.0 + EPS, "C/D severe"), (1.0, "C/D very severe")],
)
def test_acc_aha_2020_stages(mva, stage):
    assert grade_stenosis(mva_cm2=mva).acc_aha_stage.startswith(stage)


@pytest.mark.parametrize(
    "g, sev",
    [(5 - EPS, "none or mild"), (5.0, "moderate"), (10.0, "moderate"), (10 + EPS, "severe")],
)
def test_gradient_cuts(g, sev):
    assert grade_stenosis(mean_gradient_mmhg=g).severity == sev


def test_normal_valve_has_no_stenosis():
    r = grade_stenosis(mva_cm2=5.0, mean_gradient_mmhg=1.0, hr_bpm=70)
    assert r.severity == "none" and not r.discordant and not r.caveats


def test_heart_rate_caveats():
    assert "heart rate not given" in grade_stenosis(mean_gradient_mmhg=6.0).caveats[0]
    assert "overstates" in grade_stenosis(mean_gradient_mmhg=6.0, hr_bpm=110).caveats[0]
    assert "understates" in grade_stenosis(mean_gradient_mmhg=6.0, hr_bpm=50).caveats[0]
    assert not grade_stenosis(mean_gradient_mmhg=6.0, hr_bpm=75).caveats


def test_discordant_area_decides():
    r = grade_stenosis(mva_cm2=1.8, mean_gradient_mmhg=7.0)
    assert r.severity == "mild" and r.discordant and r.by_gradient == "moderate"


def test_stenosis_bad_input():
    with pytest.raises(InputError) as e:
        grade_stenosis()
    assert e.value.field == "measurements"
    with pytest.raises(InputError) as e:
        grade_stenosis(mva_cm2=-1)
    assert e.value.field == "mva_cm2"


@pytest.mark.parametrize(
    "before, after, residual, success",
    [
        ("4+", "1+", "optimal", True),
        ("4+", "0", "optimal", True),
        ("4+", "2+", "acceptable", True),
        ("3+", "2+", "acceptable", True),
        ("2+", "2+", "not acceptable", False),
        ("4+", "3+", "not acceptable", False),
        ("indeterminate", "2+", "indeterminate", None),
        ("indeterminate", "1+", "optimal", True),
    ],
)
def test_mvarc_residual_mr(before, after, residual, success):
    r = evaluate_mvarc(before, after, eoa_after_cm2=2.5, mean_gradient_after_mmhg=3.0)
    assert r.residual_mr == residual
    assert r.success is success


@pytest.mark.parametrize(
    "eoa, grad, stenosis",
    [(1.5, 4.9, False), (1.5 - EPS, 2.0, True), (2.5, 5.0, True), (2.5, 5 - EPS, False), (None, None, None)],
)
def test_mvarc_iatrogenic_stenosis(eoa, grad, stenosis):
    r = evaluate_mvarc("4+", "1+", eoa_after_cm2=eoa, mean_gradient_after_mmhg=grad)
    assert r.iatrogenic_stenosis is stenosis
    assert r.success is (None if stenosis is None else not stenosis)


def test_mvarc_accepts_grade_objects_and_rejects_bad():
    r = evaluate_mvarc(grade_mr(eroa_cm2=0.5), grade_mr(eroa_cm2=0.1), eoa_after_cm2=2.0, mean_gradient_after_mmhg=3.0)
    assert r.mr_before == "4+" and r.residual_mr == "optimal" and r.success
    with pytest.raises(InputError) as e:
        evaluate_mvarc("6+", "1+")
    assert e.value.field == "mr_before"
