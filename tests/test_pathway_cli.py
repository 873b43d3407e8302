"""`mitrasim careplan`: outputs written atomically; bad input is one line, exit 2, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import icalendar
import pytest
from typer.testing import CliRunner

from mitrasim.cli import app
from mitrasim.pathway.guide import find_chromium

CASE_YAML = (
    "eroa_before_cm2: 0.5\neroa_after_cm2: 0.1\nmr_grade_before: '4+'\nmr_grade_after: '1+'\n"
    "mean_gradient_after_mmhg: 3.5\nmva_after_cm2: 2.2\ncoaptation_length_mm: 34\n"
    "clips: [{position_mm: 17, width_mm: 4, device: NT}]\n"
)
runner = CliRunner()


HOSPITAL = "hospital_name: Example Heart Centre\nward_phone: '01 99 00 12 34'\nout_of_hours_phone: '01 99 00 56 78'\n"


def _run(*args: str):
    return runner.invoke(app, ["careplan", *args])


def _hospital(tmp_path: Path) -> str:
    f = tmp_path / "hospital.yaml"
    f.write_text(HOSPITAL, encoding="utf-8")
    return str(f)


def test_careplan_no_pdf(tmp_path):
    case = tmp_path / "case.yaml"
    case.write_text(CASE_YAML, encoding="utf-8")
    out = tmp_path / "out"
    r = _run("--procedure-date", "2026-12-30", "--lang", "fr", "--anticoagulated", "--dental-work-date", "2027-02-01",
             "--case", str(case), "--no-pdf", "--protocol", _hospital(tmp_path), "--out", str(out))
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["careplan.fhir.json", "careplan.ics", "careplan.json", "clinician.html", "guide.html"]
    doc = json.loads((out / "careplan.json").read_text(encoding="utf-8"))
    assert doc["facts"]["lang"] == "fr" and doc["facts"]["anticoagulated"] is True
    assert doc["case"]["predicted_leak_reduction_percent"] == 80.0
    codes = [e["code"] for e in doc["events"]]
    assert "anticoagulant" in codes and "dental_after" in codes
    cal = icalendar.Calendar.from_ical((out / "careplan.ics").read_bytes())
    assert len(cal.walk("VEVENT")) == len(doc["events"])
    assert "cm²" not in (out / "guide.html").read_text(encoding="utf-8")
    assert "0.10" in (out / "clinician.html").read_text(encoding="utf-8")


def test_english_json_reports_readability(tmp_path):
    r = _run("--procedure-date", "2026-03-29", "--no-pdf", "--draft", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "careplan.json").read_text(encoding="utf-8"))
    assert doc["readability"]["flesch_kincaid_grade"] <= 6 and doc["draft"] is True


@pytest.mark.parametrize(
    "args, field",
    [
        (["--procedure-date", "2026-02-30"], "procedure-date"),
        (["--procedure-date", "2026-02-03", "--lang", "de"], "lang"),
        (["--procedure-date", "2026-02-03", "--dental-work-date", "soon"], "dental-work-date"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, args, field):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "mitrasim", "careplan", *args, "--no-pdf", "--draft", "--out", str(out)],
        capture_output=True, text=True, env={**__import__("os").environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")},
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}") and "Traceback" not in proc.stderr
    assert not out.exists() or not any(out.iterdir())


def test_bad_protocol_and_case_write_nothing(tmp_path):
    out = tmp_path / "out"
    bad = tmp_path / "p.yaml"
    bad.write_text("no_bath_days: -3\nsurprise: 1\n", encoding="utf-8")
    with pytest.raises(Exception) as e:
        runner.invoke(app, ["careplan", "--procedure-date", "2026-02-03", "--protocol", str(bad), "--no-pdf", "--out", str(out)],
                      catch_exceptions=False)
    assert "protocol.no_bath_days" in str(e.value)
    badcase = tmp_path / "c.yaml"
    badcase.write_text("eroa_before_cm2: -1\n", encoding="utf-8")
    r = _run("--procedure-date", "2026-02-03", "--case", str(badcase), "--no-pdf", "--draft", "--out", str(out))
    assert r.exit_code != 0
    assert not out.exists() or not any(out.iterdir())


def test_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    from mitrasim.pathway import export

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export, "careplan_json", boom)
    out = tmp_path / "out"
    r = _run("--procedure-date", "2026-02-03", "--no-pdf", "--draft", "--out", str(out))
    assert r.exit_code != 0
    assert list(out.iterdir()) == []


def test_no_contact_number_is_refused_unless_draft(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "mitrasim", "careplan", "--procedure-date", "2027-03-15", "--no-pdf", "--out", str(out)],
        capture_output=True, text=True, env={**__import__("os").environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")},
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: protocol.ward_phone") and len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()
    r = _run("--procedure-date", "2027-03-15", "--no-pdf", "--draft", "--out", str(out))
    assert r.exit_code == 0, r.output
    html = (out / "guide.html").read_text(encoding="utf-8")
    assert "DRAFT" in html and "@top-center" in html  # on screen and on every printed page
    fhir = json.loads((out / "careplan.fhir.json").read_text(encoding="utf-8"))
    assert fhir["entry"][0]["resource"]["status"] == "draft"
    r = _run("--procedure-date", "2027-03-15", "--no-pdf", "--protocol", _hospital(tmp_path), "--out", str(tmp_path / "ok"))
    assert r.exit_code == 0, r.output
    html = (tmp_path / "ok" / "guide.html").read_text(encoding="utf-8")
    assert "DRAFT" not in html and "01 99 00 12 34" in html and "01 99 00 56 78" in html and "15 or 112" in html


def test_without_any_pdf_renderer_html_and_calendar_and_one_line(tmp_path, monkeypatch):
    """On a machine with neither chromium nor Pango: HTML + calendar, one line on how to get the PDF, exit 0."""
    from mitrasim.pathway import pdf

    monkeypatch.setenv("MITRASIM_CHROMIUM", str(tmp_path / "no-such-chromium"))
    monkeypatch.setattr(pdf, "_weasyprint_works", lambda: False)
    r = _run("--procedure-date", "2026-02-03", "--draft", "--out", str(tmp_path / "o"))
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert "guide.pdf" not in names and "guide.html" in names and "careplan.ics" in names
    assert r.output.strip().splitlines()[-1] == pdf.NO_PDF_HINT


def test_weasyprint_makes_the_pdf_without_chromium(tmp_path, monkeypatch):
    from mitrasim.pathway import pdf

    if not pdf._weasyprint_works():
        pytest.skip("WeasyPrint or Pango is not installed here")
    monkeypatch.setenv("MITRASIM_CHROMIUM", str(tmp_path / "no-such-chromium"))
    assert pdf.pdf_renderer() == "weasyprint"
    r = _run("--procedure-date", "2026-02-03", "--draft", "--out", str(tmp_path / "o"))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "o" / "guide.pdf").read_bytes().startswith(b"%PDF-")


@pytest.mark.browser
@pytest.mark.skipif(find_chromium() is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_careplan_with_pdf(tmp_path):
    r = _run("--procedure-date", "2026-10-25", "--draft", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["careplan.fhir.json", "careplan.ics", "careplan.json", "guide.html", "guide.pdf"]
    assert (tmp_path / "guide.pdf").read_bytes().startswith(b"%PDF-")


def test_careplan_from_a_case_file_runs_the_procedure(tmp_path):
    """`--case CASE.yaml` (a case, not a result): the clinician's report shows the simulated valve; the guide does not."""
    from pathlib import Path

    from mitrasim.case_outcome import load_case_or_outcome

    case = Path(__file__).resolve().parents[1] / "examples" / "p2_flail.yaml"
    out = load_case_or_outcome(case)
    assert out.mr_grade_before == "4+" and out.mr_grade_after in ("0", "1+")
    assert len(out.clips) >= 1 and out.reduction_percent > 50
    r = runner.invoke(app, ["careplan", "--procedure-date", "2027-03-15", "--case", str(case), "--no-pdf", "--draft", "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    clin = (tmp_path / "o" / "clinician.html").read_text()
    assert out.clips[0].device in clin and "cm²" in clin and "mmHg" in clin
