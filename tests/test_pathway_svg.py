"""The guide's drawings: labels inside the picture, no label over another, no leader line through a word,
in English and French; the leaking valve drawn closed (systole) with its jet."""

from __future__ import annotations

import re

import pytest

from mitrasim.pathway import svg, texts
from mitrasim.pathway.i18n import translator

_TEXT = re.compile(r"<text x='([-\d.]+)' y='([-\d.]+)' font-size='([\d.]+)' text-anchor='(\w+)' font-weight='(\w+)'[^>]*>([^<]*)</text>")
_LINE = re.compile(r"<line x1='([-\d.]+)' y1='([-\d.]+)' x2='([-\d.]+)' y2='([-\d.]+)'")
_VIEWBOX = re.compile(r"viewBox='0 0 (\d+) (\d+)'")


def _labels(lang: str) -> dict[str, str]:
    _ = translator(lang)
    return {k: _(v) for k, v in texts.UI.items() if "{" not in v}


def _boxes(s: str) -> list[tuple[str, tuple[float, float, float, float]]]:
    import html

    return [(html.unescape(t), svg.text_box(float(x), float(y), html.unescape(t), float(fs), a, w)) for x, y, fs, a, w, t in _TEXT.findall(s)]


def _segment_hits_box(p, q, box, pad=1.0) -> bool:
    """Liang-Barsky clipping: does the segment p-q pass through the box shrunk by ``pad``?"""
    x0, y0, x1, y1 = box[0] + pad, box[1] + pad, box[2] - pad, box[3] - pad
    dx, dy = q[0] - p[0], q[1] - p[1]
    t0, t1 = 0.0, 1.0
    for pk, qk in ((-dx, p[0] - x0), (dx, x1 - p[0]), (-dy, p[1] - y0), (dy, y1 - p[1])):
        if pk == 0:
            if qk < 0:
                return False
            continue
        t = qk / pk
        if pk < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return False
    return True


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


FIGURES = {"heart": svg.heart_svg, "leak": svg.leaking_valve_svg, "clip": svg.clip_svg}


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("name", list(FIGURES))
def test_labels_fit_and_no_line_crosses_a_word(lang, name):
    s = FIGURES[name](_labels(lang))
    w, h = map(float, _VIEWBOX.search(s).groups())
    boxes = _boxes(s)
    assert len(boxes) >= 3
    for t, b in boxes:
        assert b[0] >= 0 and b[1] >= 0 and b[2] <= w and b[3] <= h, (lang, name, t, b, (w, h))
    for i, (t1, b1) in enumerate(boxes):
        for t2, b2 in boxes[i + 1:]:
            assert not _overlap(b1, b2), (lang, name, t1, t2)
    for x1, y1, x2, y2 in _LINE.findall(s):
        p, q = (float(x1), float(y1)), (float(x2), float(y2))
        for t, b in boxes:
            assert not _segment_hits_box(p, q, b), (lang, name, t, p, q)


def test_the_crossing_check_can_fail():
    assert _segment_hits_box((0, 10), (100, 10), (40, 0, 60, 20))
    assert not _segment_hits_box((0, 30), (100, 30), (40, 0, 60, 20))
    assert _overlap((0, 0, 10, 10), (5, 5, 15, 15))


def _leaflet_tips(s: str) -> list[tuple[float, float]]:
    # the two flaps are cubic paths from the ring: "M x y C ... x_tip y_tip"
    return [(float(x), float(y)) for x, y in re.findall(r"<path d='M(?:120|300) 140 C[^']* ([\d.]+) ([\d.]+)'", s)]


def test_leaking_valve_is_drawn_closed_in_systole_with_a_jet():
    s = svg.leaking_valve_svg(_labels("en"))
    (ax, ay), (px, py) = _leaflet_tips(s)
    assert abs(px - ax) <= 20 and abs(py - ay) <= 2  # flaps closed up to a small gap (an open valve: ~40 apart)
    assert max(ay, py) - 140 <= 20  # near the valve ring, as when the ventricle squeezes (open: tips ~75 below it)
    assert svg._LEAK in s  # the jet
    jet_top = min(float(y) for y in re.findall(r"L[\d.]+ ([\d.]+) L", s))
    assert jet_top < 140 - 60  # the jet reaches well into the left atrium


def test_clip_joins_the_flaps():
    (ax, ay), (px, py) = _leaflet_tips(svg.clip_svg(_labels("en")))
    assert (ax, ay) == (px, py)


def _luminance(hex_colour: str) -> float:
    """WCAG 2.x relative luminance of an sRGB colour."""
    c = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def _over_white(hex_colour: str, alpha: float) -> str:
    return "#" + "".join(f"{round(alpha * int(hex_colour[i:i + 2], 16) + (1 - alpha) * 255):02x}" for i in (1, 3, 5))


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("name", list(FIGURES))
def test_label_colours_contrast_with_every_background(name):
    """axe-core cannot measure text inside SVG: WCAG 1.4.3 (4.5:1) checked here against the drawings' fills."""
    s = FIGURES[name](_labels("fr"))
    fills = set(re.findall(r"<text [^>]*fill='(#[0-9a-fA-F]{6})'", s))
    backgrounds = ["#ffffff", _over_white(svg._LEFT, 0.45), _over_white(svg._LEFT, 0.7)]  # page, atrium, ventricle
    assert fills
    for f in fills:
        for bg in backgrounds:
            assert _contrast(f, bg) >= 4.5, (name, f, bg, round(_contrast(f, bg), 2))


def test_contrast_formula():
    assert _contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert _contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the usual AA grey on white
