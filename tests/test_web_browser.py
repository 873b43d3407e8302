"""The page in Debian's chromium (Playwright): load P2 flail, clip A2/P2, see results, save, reload.

Never downloads a browser: uses ``/usr/bin/chromium``; skips with the reason when
it or the ``playwright`` package is missing.  The screenshot is kept in
``test-artifacts/`` (ignored by git).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from _web_shared import free_port, served

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
expect = None  # playwright.sync_api.expect, set by the browser fixture
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from mitrasim.web.settings import WebSettings

    db = tmp_path_factory.mktemp("browser") / "web.sqlite3"
    with served(WebSettings(db_url=f"sqlite:///{db}", port=free_port(), workers=1)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (pip install playwright)")
    global expect
    expect = sync_api.expect
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_place_clip_and_save(server: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1500})
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    page.goto(server + "/")
    page.get_by_role("note").filter(has_text="not a medical device").wait_for()

    page.select_option("#example", "p2_flail")
    page.click("#load-example")
    expect(page.locator("#r-mr-b")).to_contain_text("+", timeout=60_000)
    assert page.input_value("#f-gap") == "7"
    grade_before = page.text_content("#r-mr-b")
    assert grade_before.startswith(("3+", "4+"))

    # place an XTW on A2/P2: click the coaptation line at the middle of segment 2
    page.select_option("#device", "XTW")
    line = page.locator("[data-testid=coaptation-line]")
    box = line.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    expect(page.locator("#r-grad-a")).not_to_have_text("–", timeout=60_000)
    clip = page.get_by_role("slider", name="Clip 1, XTW")
    assert "A2/P2" in clip.get_attribute("aria-valuetext")
    residual = page.text_content("#r-mr-a")
    assert residual.startswith(("0", "1+", "2+")), residual
    eroa_after = float(page.text_content("#r-eroa-a"))
    assert eroa_after < float(page.text_content("#r-eroa-b")) / 2
    grad1 = page.text_content("#r-grad-a")
    assert float(grad1) > 0

    # keyboard: move it 2 mm, results follow
    pos = float(clip.get_attribute("aria-valuenow"))
    clip.focus()
    page.keyboard.press("Shift+ArrowRight")
    expect(clip).to_have_attribute("aria-valuenow", f"{pos + 2:g}")
    expect(page.locator("#status")).to_have_text("Results updated.", timeout=60_000)

    # save the case, reload, find it and open it
    page.fill("#case-name", "browser test P2 flail")
    page.click("#save-case")
    expect(page.locator("#save-status")).to_contain_text("Saved case", timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "web_p2_flail_clip.png"), full_page=True)

    page.reload()
    item = page.get_by_role("button", name="Open saved case browser test P2 flail")
    item.wait_for()
    item.click()
    expect(page.locator("#r-mr-a")).not_to_have_text("–", timeout=60_000)
    assert page.get_by_role("slider", name="Clip 1, XTW").count() == 1
    assert page.input_value("#case-name") == "browser test P2 flail"

    # saving an opened case updates it (PUT) instead of adding a copy; "Save as new" adds one
    expect(page.locator("#save-case-new")).to_be_visible()
    page.fill("#case-name", "browser test P2 flail, edited")
    page.click("#save-case")
    expect(page.locator("#save-status")).to_contain_text("Updated case", timeout=30_000)
    saved = page.locator("#saved-cases li")
    expect(saved.filter(has_text="browser test P2 flail, edited")).to_have_count(1)
    expect(saved.filter(has_text="browser test P2 flail (")).to_have_count(0)
    n_saved = saved.count()
    page.click("#save-case-new")
    expect(page.locator("#save-status")).to_contain_text("Saved case", timeout=30_000)
    expect(saved).to_have_count(n_saved + 1)
    expect(saved.filter(has_text="browser test P2 flail, edited")).to_have_count(2)

    # a validation message from the API names the field
    page.fill("#f-gap", "40")
    page.click("#apply-case")
    expect(page.locator("#case-errors")).to_contain_text("gap_mm", timeout=30_000)
    assert page.get_attribute("#f-gap", "aria-invalid") == "true"

    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused" in e], console_errors
    page.close()


def test_tablet_layout_and_guide(server: str, browser) -> None:
    page = browser.new_page(viewport={"width": 820, "height": 1180}, has_touch=True)
    page.goto(server + "/")  # opens on the P2 flail example by itself
    expect(page.locator("#status")).to_have_text("Baseline shown; place a clip on the line.", timeout=60_000)
    assert page.input_value("#example") == "p2_flail"
    box = page.locator("[data-testid=coaptation-line]").bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    expect(page.locator("#r-grad-a")).not_to_have_text("–", timeout=60_000)
    page.fill("#proc-date", "2026-03-02")
    page.click("#run-guide")
    expect(page.locator("#status")).to_have_text("Guide preview ready.", timeout=60_000)
    frame = page.frame_locator("#guide-frame")
    assert frame.locator("body").inner_text().strip()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web_tablet.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.close()


VIEWPORTS = {
    "desktop": {"viewport": {"width": 1366, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2},
}


#: Points of a field that must be the field itself (not something drawn over it), from its box.
_UNCOVERED_JS = """([sel, block]) => {
    const e = document.querySelector(sel);
    e.scrollIntoView({block}); e.focus({preventScroll: true});
    const r = e.getBoundingClientRect(), i = 3;  // 3 px in: inside the rounded corners (4 px)
    const out = r.top < -1 || r.bottom > innerHeight + 1 || r.left < -1 || r.right > innerWidth + 1;  // 1 px: sub-pixel scrolling
    if (document.activeElement !== e || out) return false;
    const pts = [[r.left + i, r.top + i], [r.right - i, r.top + i], [r.left + i, r.bottom - i], [r.right - i, r.bottom - i],
                 [(r.left + r.right) / 2, (r.top + r.bottom) / 2]];
    return pts.every(([x, y]) => { const h = document.elementFromPoint(x, y); return h === e || e.contains(h); });
}"""


def _covered_fields(page, selector: str) -> list[tuple[str, str]]:
    """Fields of ``selector`` that, focused at the top, middle or bottom of the screen, are not wholly
    in view or have something (the pinned valve map) drawn over them: (field, scroll position)."""
    ids = page.locator(selector).evaluate_all("es => es.map(e => e.id)")
    assert ids and all(ids), ids
    return [(i, block) for i in ids for block in ("start", "center", "end") if not page.evaluate(_UNCOVERED_JS, [f"#{i}", block])]


def _tap(page, locator, frac: float, touch: bool) -> None:
    box = locator.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] * frac, box["y"] + box["height"] / 2
    (page.touchscreen.tap if touch else page.mouse.click)(x, y)


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_every_control(server: str, browser, size: str) -> None:
    """Every control of the page at desktop and phone size: map, clip list, form (invalid → stale),
    planner, procedure, save/open, guide; screenshots in test-artifacts/."""
    touch = size == "phone"
    ctx = browser.new_context(**VIEWPORTS[size])
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    vw = VIEWPORTS[size]["viewport"]["width"]
    page.goto(server + "/")

    # opens on an example: the map works at once; legend and mm scale are drawn
    expect(page.locator("#status")).to_have_text("Baseline shown; place a clip on the line.", timeout=60_000)
    expect(page.locator("[data-testid=map-legend]")).to_contain_text("gap before")
    scale = page.locator("[data-testid=map-scale] text").all_text_contents()
    assert {"0", "10", "20", "30", "mm"} <= set(scale), scale
    expect(page.locator("#map-summary")).to_contain_text("no clip yet")

    # the clip-size selector fits the screen
    box = page.locator("#device").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= vw + 1, box

    # place a clip; its effect is visible without scrolling (summary next to the map)
    page.select_option("#device", "XTW")
    _tap(page, page.locator("[data-testid=coaptation-line]"), 0.5, touch)
    expect(page.locator("#map-summary")).to_contain_text("→", timeout=60_000)
    sb = page.locator("#map-summary").bounding_box()
    assert 0 <= sb["y"] and sb["y"] + sb["height"] <= VIEWPORTS[size]["viewport"]["height"], sb
    expect(page.locator("#r-mr-a")).not_to_have_text("–")

    # keyboard move, size change in the clip list, remove, clear
    clip = page.get_by_role("slider", name="Clip 1, XTW")
    clip.focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#status")).to_have_text("Results updated.", timeout=60_000)
    page.select_option("#clip-dev-0", "NTW")
    expect(page.get_by_role("slider", name="Clip 1, NTW")).to_have_count(1)
    _tap(page, page.locator("[data-testid=coaptation-line]"), 0.3, touch)
    expect(page.locator("#valve-map .clip")).to_have_count(2, timeout=30_000)
    page.get_by_role("button", name="Remove clip 2").click()
    expect(page.locator("#valve-map .clip")).to_have_count(1)
    page.click("#clear-clips")
    expect(page.locator("#valve-map .clip")).to_have_count(0)
    expect(page.locator("#status")).to_have_text("Baseline shown; place a clip on the line.", timeout=60_000)

    # invalid input: the error names the field in clinical units, old numbers are marked out of date
    page.fill("#f-hr", "500")
    page.click("#apply-case")
    expect(page.locator("#case-errors")).to_contain_text("heart rate 500 bpm is outside 30–200 bpm", timeout=30_000)
    expect(page.locator("#stale-note")).to_be_visible()
    expect(page.locator("#results-section")).to_have_class(re.compile(r"\bstale\b"))
    page.fill("#f-hr", "72")
    page.click("#apply-case")
    expect(page.locator("#stale-note")).to_be_hidden(timeout=60_000)

    # PV loop does not touch its plot edges: the axis range is wider than the data
    pad = page.evaluate("""() => { const g = document.getElementById('plot-pv'); const x = g.data[0].x, y = g.data[0].y;
        return [g.layout.xaxis.range[0] < Math.min(...x), g.layout.xaxis.range[1] > Math.max(...x),
                g.layout.yaxis.range[0] < Math.min(...y), g.layout.yaxis.range[1] > Math.max(...y)]; }""")
    assert pad == [True, True, True, True]

    # planner: ranked plans; apply the first
    page.click("#run-plan")
    expect(page.locator("#plan-out tbody tr").first).to_be_visible(timeout=120_000)
    assert "items.slice" not in page.text_content("#plan-out")
    # the interval columns are the command line's (procedure.intervals.SHOWN), labels and decimals
    from mitrasim.procedure.intervals import SHOWN

    heads = page.locator("#plan-out th").all_text_contents()
    assert f"calibrated patient: {' · '.join(label for _, label, _ in SHOWN)}, 90 % interval" in heads, heads
    cell = page.locator("#plan-out tbody tr").first.locator("td").nth(5).text_content()
    assert re.fullmatch(" · ".join(r"-?\d+" + (rf"\.\d{{{d}}}" if d else "") + r" \[[^\]]+\]" for _, _, d in SHOWN), cell), cell
    page.get_by_role("button", name="Apply plan 1").click()
    expect(page.locator("#valve-map .clip")).not_to_have_count(0)

    # procedure, clip by clip
    page.fill("#proc-seed", "3")
    page.click("#run-proc")
    steps = page.locator("[data-testid=procedure-steps] tbody tr")
    expect(steps.first).to_be_visible(timeout=120_000)
    assert steps.count() >= 2
    expect(page.locator(".proc-summary")).to_contain_text("MR 4+ →")
    expect(page.locator("[data-testid=procedure-intervals]")).to_contain_text(" · ".join(label for _, label, _ in SHOWN))
    page.get_by_role("button", name="Show these clips on the map").click()
    expect(page.locator("#status")).to_have_text("Results updated.", timeout=60_000)

    # save, then open it from the list
    name = f"every control {size}"
    page.fill("#case-name", name)
    page.click("#save-case")
    expect(page.locator("#save-status")).to_contain_text("Saved case", timeout=30_000)
    page.get_by_role("button", name=f"Open saved case {name}").click()
    expect(page.locator("#save-case")).to_have_text("Save changes", timeout=30_000)
    expect(page.locator("#case-name")).to_have_value(name)
    expect(page.locator("#status")).to_have_text("Results updated.", timeout=60_000)

    # guide
    page.fill("#proc-date", "2026-03-02")
    page.select_option("#guide-lang", "fr")
    page.click("#run-guide")
    expect(page.locator("#status")).to_have_text("Guide preview ready.", timeout=60_000)
    guide = page.frame_locator("#guide-frame")
    expect(guide.locator("html")).to_have_attribute("lang", "fr")  # the guide is written in the language chosen
    expect(guide.locator("h1")).not_to_be_empty()

    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "horizontal scroll"
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"web_every_control_{size}.png"), full_page=True)
    page.screenshot(path=str(ARTIFACTS / f"web_every_control_{size}_viewport.png"))
    assert not errors, errors
    ctx.close()


#: Every sign of the grade form, as ``POST /api/grade``'s ``echo`` (and ``mitrasim grade``) takes it.
#: A discordant primary-MR study: EROA 4+, RVol and RF 3+ → indeterminate, most likely 3+;
#: PISA radius with a wall-constrained convergence → a warning; normal valve area → stenosis "none".
GRADE_STUDY = {
    "hr_bpm": 72, "eroa_cm2": 0.42, "rvol_ml": 50, "rf_pct": 45, "pisa_radius_cm": 0.95, "aliasing_cm_s": 40,
    "mr_vmax_cm_s": 500, "mr_vti_cm": 140, "wall_angle_deg": 120, "vc_cm": 0.65, "vc_biplane_cm": 0.75,
    "jet_area_pct": 45, "e_velocity_m_s": 1.1, "la_volume_index_ml_m2": 50, "la_diameter_mm": 45, "lvesd_mm": 35, "tvi_mitral_aortic_ratio": 1.2, "mva_cm2": 4.5, "mean_gradient_mmhg": 1.5,
    "elliptical_orifice": True, "low_flow": True, "etiology": "primary", "guideline": "ase2017", "jet_type": "central",
    "mv_morphology": "moderate", "cw_density": "dense_parabolic", "pv_flow": "blunted", "inflow_pattern": "variable",
    "lv_size": "enlarged",
}  # fmt: skip
#: After "Clear" (the guideline stays ASE 2017): four severe signs and concordant severe quantitation.
FOUR_SEVERE = {"mv_morphology": "flail_or_large_defect", "jet_type": "eccentric_wall_hugging", "cw_density": "dense_triangular", "pv_flow": "reversal", "eroa_cm2": 0.45}  # fmt: skip
#: Then, on top of those: secondary MR graded by ESC 2021 / EACVI 2022.
SECONDARY_ESC = {"inflow_pattern": "a_dominant", "lv_size": "normal", "vc_cm": 0.2, "guideline": "esc2021", "etiology": "secondary"}  # fmt: skip


def _api(server: str, path: str, body: dict | None = None) -> dict:
    """``GET`` (no ``body``) or ``POST`` JSON to the served API; the parsed answer."""
    import json
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server + path, data, {"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=60).read())


def _grade_on_page(page, echo: dict) -> None:
    """Enter ``echo`` in the grade form (each value in the control whose ``data-echo`` names its field) and grade."""
    for field, v in echo.items():
        sel = f'#grade-form [data-echo="{field}"]'
        if isinstance(v, bool):
            page.set_checked(sel, v)
        elif isinstance(v, str):
            page.select_option(sel, v)
        else:
            page.fill(sel, str(v))
    page.click("#run-grade")


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_grade_an_echo_study(server: str, browser, size: str) -> None:
    """Every sign a sonographer records is enterable on the page and graded as the API grades it:
    the rule that decided, criteria met, warnings, most-likely grade, stenosis; a bad value names
    its field; axe-core finds no serious or critical violation; screenshots in test-artifacts/."""
    ctx = browser.new_context(**VIEWPORTS[size])
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server + "/")
    expect(page.locator("#status")).to_have_text("Baseline shown; place a clip on the line.", timeout=60_000)
    # the simulated baseline's own signs (one echo path) are shown next to its grade
    expect(page.locator("#r-cw-b")).to_have_text(re.compile(r"^(faint|dense)"))
    expect(page.locator("#r-pv-b")).to_have_text(re.compile(r"^(systolic|blunted).*S/D \d"))

    # the form has a control for every sign of the study, and each select lists the API's allowed
    # values (/api/meta), after "not recorded" where the sign is optional
    fields = page.locator("#grade-form [data-echo]").evaluate_all("es => es.map(e => e.dataset.echo)")
    assert sorted(fields) == sorted(GRADE_STUDY)
    choices = _api(server, "/api/meta")["echo_choices"]
    for field in (f for f, v in GRADE_STUDY.items() if isinstance(v, str)):
        sel = page.locator(f'#grade-form select[data-echo="{field}"]')
        optional = [] if sel.get_attribute("data-required") else [""]
        assert sel.locator("option").evaluate_all("os => os.map(o => o.value)") == optional + choices[field], field
    _grade_on_page(page, GRADE_STUDY)
    expect(page.locator("[data-testid=grade-result]")).to_contain_text("MR indeterminate", timeout=30_000)

    api = _api(server, "/api/grade", {"echo": GRADE_STUDY})
    assert api["grade"] == "indeterminate" and api["most_likely_grade"] == "3+"
    expect(page.locator("[data-testid=grade-rule]")).to_have_text(api["rule"].replace("_", " "))
    expect(page.locator("[data-testid=grade-most-likely]")).to_contain_text("3+")
    expect(page.locator("[data-testid=grade-criteria-severe]")).to_contain_text("chambers")  # enlarged LV / LA index 50
    expect(page.locator("[data-testid=grade-stenosis]")).to_have_text(re.compile(r"^none"))
    expect(page.locator(".grade-warnings")).to_contain_text("wall-constrained")
    assert page.locator("#grade-out li").count() >= len(api["reasons"])

    # the four-criteria rule on the page: four severe signs and concordant severe quantitation
    page.click("#clear-grade")
    expect(page.locator("#grade-out")).to_be_empty()
    _grade_on_page(page, FOUR_SEVERE)
    expect(page.locator("[data-testid=grade-result]")).to_contain_text("MR 4+", timeout=30_000)
    expect(page.locator("[data-testid=grade-rule]")).to_have_text("criteria severe")
    expect(page.locator("[data-testid=grade-stenosis]")).to_contain_text("not assessed")
    _grade_on_page(page, SECONDARY_ESC)
    esc = _api(server, "/api/grade", {"echo": {**FOUR_SEVERE, **SECONDARY_ESC}})
    # the guideline set has one name (the API's label) in the dropdown and in the result's heading
    label = _api(server, "/api/meta")["echo_labels"]["guideline"]["esc2021"]
    expect(page.locator("[data-testid=grade-result]")).to_contain_text(f"MR {esc['grade']} ({esc['severity']}) — {label}, secondary MR", timeout=30_000)
    expect(page.locator("#g-guideline option:checked")).to_have_text(label)
    # the count of criteria is named as the ASE 2017 rule it is, under ESC 2021 too
    assert esc["rule"] == "criteria_severe" and "ASE 2017 Fig. 12 rule, used for both guideline sets" in esc["reasons"][0]
    expect(page.locator("#grade-out li").filter(has_text=esc["reasons"][0])).to_have_count(1)
    # ESC 2021 Table 7 lists severe criteria only: each mild criterion shows as ASE 2017's, with the note
    from mitrasim.echo.grading import ESC_MILD_COLUMN_NOTE

    mild = [t for t in esc["reasons"] if t.endswith("(ASE 2017 mild column)")]
    assert len(mild) == 3, esc["reasons"]  # VC, chambers (normal LV), A-wave dominant inflow
    for t in mild:
        expect(page.locator("#grade-out li").filter(has_text=t)).to_have_count(1)
    expect(page.locator("#grade-out li").filter(has_text=ESC_MILD_COLUMN_NOTE)).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#grade-section").screenshot(path=str(ARTIFACTS / f"web_grade_{size}.png"))

    # a bad value: one line naming the field and its range, the input marked
    page.fill("#g-rf", "120")
    page.click("#run-grade")
    expect(page.locator("#grade-errors")).to_contain_text("rf_pct", timeout=30_000)
    assert page.get_attribute("#g-rf", "aria-invalid") == "true"
    page.fill("#g-rf", "")
    page.click("#run-grade")
    expect(page.locator("#grade-errors")).to_be_empty(timeout=30_000)
    assert page.get_attribute("#g-rf", "aria-invalid") is None

    # a field being filled in is never under the valve map (on a phone the map is pinned at the top
    # only over the case form's neighbours, and let go while a case field has focus)
    assert _covered_fields(page, "#grade-form :is(input, select)") == []
    assert _covered_fields(page, "#case-form :is(input, select)") == []
    if size == "phone":  # ... and it still stays in view while the results are read
        page.evaluate("document.activeElement.blur(); document.getElementById('results').scrollIntoView({block: 'start'})")
        assert abs(page.locator("#valve-section").bounding_box()["y"]) < 1
    page.locator("#g-rf").focus()

    axe_mod = pytest.importorskip("axe_playwright_python.sync_playwright")
    result = axe_mod.Axe().run(page)
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result.response["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "horizontal scroll"
    assert not errors, errors
    ctx.close()
