"""Pictures of the guide, drawn by the project as SVG (schematic, not to scale).

Each function returns a standalone ``<svg>`` string; labels come in already
translated (a mapping from label key to text) so the pictures follow the
patient's language.  Colours keep enough contrast in grey-scale print.
"""

from __future__ import annotations

import math
from typing import Mapping
from xml.sax.saxutils import escape

from mitrasim.pathway.outcome import ValveOutcome

__all__ = ["heart_svg", "leaking_valve_svg", "clip_svg", "patient_valve_svg", "text_box"]

_RIGHT = "#8fb3e0"   # right heart (blue, oxygen-poor blood)
_LEFT = "#e79a9a"    # left heart (red, oxygen-rich blood)
_VALVE = "#ffd23f"
_LINE = "#333333"
_LEAK = "#c0392b"
_LEAK_TEXT = "#8a0000"  # the word "leak": darker than the jet, for contrast on the pink atrium
_CLIP = "#6b6b6b"
_FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


def _svg(width: int, height: int, body: str, title: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' role='img' "
        f"aria-label='{escape(title, {chr(39): '&#39;'})}' class='figure-svg'>"
        f"<title>{escape(title)}</title>{body}</svg>"
    )


#: Estimated advance width of DejaVu Sans / Arial per character, in em (bold, normal): the layout keeps every
#: label inside the picture and every leader line off every label with these (checked on screenshots).
_EM_PER_CHAR = {"bold": 0.66, "normal": 0.60}
#: Font size of the drawings' labels (user units; about 10-11 pt once the drawing is printed 7 cm high).
_FIG_LABEL = 18


def text_box(x: float, y: float, s: str, size: float, anchor: str, weight: str) -> tuple[float, float, float, float]:
    """Estimated box (x0, y0, x1, y1) of a one-line label drawn at baseline (x, y)."""
    w = len(s) * size * _EM_PER_CHAR["bold" if weight == "bold" else "normal"]
    x0 = x - w if anchor == "end" else x - w / 2 if anchor == "middle" else x
    return x0, y - 0.8 * size, x0 + w, y + 0.25 * size


def _text(x: float, y: float, s: str, size: int = 15, anchor: str = "middle", weight: str = "normal", fill: str = _LINE) -> str:
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' font-weight='{weight}' "
        f"fill='{fill}' {_FONT}>{escape(s)}</text>"
    )


def _label(px: float, py: float, tx: float, ty: float, s: str, anchor: str, size: int = 16, side: str = "auto") -> str:
    """A bold label at baseline (tx, ty) and a leader line from the label's edge to the point (px, py).

    The line starts just outside the label's box: beside it (``side="auto"``: the side facing the point) or
    above it (``side="top"``), so it never runs through the words.
    """
    x0, y0, x1, y1 = text_box(tx, ty, s, size, anchor, "bold")
    if side == "top":
        sx, sy = min(max(px, x0 + 6), x1 - 6), y0 - 3
    else:
        sx, sy = (x1 + 4, (y0 + y1) / 2) if px > x1 else (x0 - 4, (y0 + y1) / 2)
    return (
        f"<line x1='{sx:.1f}' y1='{sy:.1f}' x2='{px:.1f}' y2='{py:.1f}' stroke='{_LINE}' stroke-width='1.3'/>"
        f"<circle cx='{px:.1f}' cy='{py:.1f}' r='3' fill='{_LINE}'/>" + _text(tx, ty, s, size, anchor, "bold")
    )


def heart_svg(labels: Mapping[str, str]) -> str:
    """The heart in a front view with its four chambers and four valves (patient's left on the viewer's right).

    Every label sits outside the heart, in a column on each side, ordered top to bottom like the parts
    they point at, so the leader lines neither cross each other nor any word.
    """
    b = ["<g transform='translate(210 0)'>"]
    b.append(
        "<path d='M260 48 C330 40 392 96 380 180 C370 258 300 320 230 352 C160 318 78 262 66 186 "
        "C56 110 110 52 180 60 C205 50 235 46 260 48 Z' fill='#fbe9e7' stroke='#8d3b3b' stroke-width='3'/>"
    )
    # great vessels: aorta from the left ventricle, pulmonary trunk from the right ventricle
    b.append(f"<path d='M232 150 L232 52 C232 18 300 14 316 40' fill='none' stroke='{_LEFT}' stroke-width='22' stroke-linecap='round'/>")
    b.append(f"<path d='M188 160 L176 56 C172 30 120 26 104 40' fill='none' stroke='{_RIGHT}' stroke-width='20' stroke-linecap='round'/>")
    # chambers
    b.append(f"<ellipse cx='126' cy='124' rx='50' ry='42' fill='{_RIGHT}' stroke='{_LINE}' stroke-width='1.5'/>")
    b.append(f"<ellipse cx='300' cy='114' rx='48' ry='38' fill='{_LEFT}' stroke='{_LINE}' stroke-width='1.5'/>")
    b.append(f"<path d='M84 196 C96 172 150 168 190 186 L206 300 C170 300 110 270 84 196 Z' fill='{_RIGHT}' stroke='{_LINE}' stroke-width='1.5'/>")
    b.append(f"<path d='M214 186 C260 166 330 168 352 196 C344 258 290 318 230 336 Z' fill='{_LEFT}' stroke='{_LINE}' stroke-width='1.5'/>")
    for cx, cy, rx, rot in ((132, 178, 26, 0), (292, 164, 28, -8), (232, 150, 14, 0), (186, 152, 13, -10)):
        b.append(
            f"<ellipse cx='{cx}' cy='{cy}' rx='{rx}' ry='6' transform='rotate({rot} {cx} {cy})' fill='{_VALVE}' "
            f"stroke='{_LINE}' stroke-width='1.5'/>"
        )
    b.append("</g>")
    # (point in the picture, label key): left column for the right heart, right column for the left heart
    dx = 210 - 150
    left = [((266 + dx, 112), "label_right_atrium"), ((336 + dx, 152), "label_pulmonary"), ((282 + dx, 178), "label_tricuspid"),
            ((296 + dx, 250), "label_right_ventricle")]
    right = [((462 + dx, 104), "label_left_atrium"), ((382 + dx, 150), "label_aortic"), ((446 + dx, 162), "label_mitral"),
             ((440 + dx, 260), "label_left_ventricle")]
    for (pt, key), ty in zip(left, (40, 124, 208, 300)):
        b.append(_label(pt[0], pt[1], 6, ty, labels[key], "start", _FIG_LABEL))
    for (pt, key), ty in zip(right, (40, 124, 208, 300)):
        b.append(_label(pt[0], pt[1], 814, ty, labels[key], "end", _FIG_LABEL))
    return _svg(820, 360, "".join(b), labels["fig_heart"])


def _side_view(clip: bool, labels: Mapping[str, str]) -> str:
    """The mitral valve from the side while the heart squeezes (systole): left atrium above, left ventricle below.

    The valve is closed.  Without a clip the two flaps stop short of each other and a jet of blood leaks
    up through the gap into the atrium; with the clip the flaps are held together in the middle.
    """
    gap = 0 if clip else 8
    b = [
        f"<rect x='20' y='20' width='380' height='110' rx='18' fill='{_LEFT}' opacity='0.45'/>",
        f"<rect x='20' y='150' width='380' height='160' rx='18' fill='{_LEFT}' opacity='0.7'/>",
        _text(32, 48, labels["label_left_atrium"], _FIG_LABEL - 1, "start"),
        _text(210, 300, labels["label_left_ventricle"], _FIG_LABEL - 1),
        f"<line x1='30' y1='140' x2='120' y2='140' stroke='{_LINE}' stroke-width='6' stroke-linecap='round'/>",
        f"<line x1='300' y1='140' x2='390' y2='140' stroke='{_LINE}' stroke-width='6' stroke-linecap='round'/>",
        # closed flaps: from the ring almost level, bowing a little towards the ventricle, tips at the centre
        f"<path d='M120 140 C150 150 180 156 {210 - gap} 156' fill='none' stroke='#7a2e2e' stroke-width='8' stroke-linecap='round'/>",
        f"<path d='M300 140 C270 150 240 156 {210 + gap} 156' fill='none' stroke='#7a2e2e' stroke-width='8' stroke-linecap='round'/>",
        _label(158, 150, 32, 204, labels["label_anterior"], "start", _FIG_LABEL, side="top"),
        _label(262, 150, 388, 244, labels["label_posterior"], "end", _FIG_LABEL, side="top"),
    ]
    if not clip:
        b.append(
            f"<path d='M204 152 C202 126 190 100 186 74 L234 74 C230 100 218 126 216 152 Z' fill='{_LEAK}' opacity='0.85'/>"
            f"<path d='M166 76 L210 34 L254 76 Z' fill='{_LEAK}'/>"
        )
        b.append(_text(266, 104, labels["label_leak"], _FIG_LABEL + 1, "start", "bold", _LEAK_TEXT))
    else:
        b.append(
            f"<rect x='201' y='146' width='18' height='34' rx='4' fill='{_CLIP}' stroke='#222' stroke-width='1.5'/>"
            f"<path d='M201 152 L190 146 M219 152 L230 146' stroke='#222' stroke-width='3'/>"
        )
        b.append(_label(212, 147, 254, 100, labels["label_clip"], "start", _FIG_LABEL))
    return "".join(b)


def leaking_valve_svg(labels: Mapping[str, str]) -> str:
    """A leaking mitral valve from the side while the heart squeezes: closed, but the flaps do not meet."""
    return _svg(420, 320, _side_view(False, labels), labels["fig_leak"])


def clip_svg(labels: Mapping[str, str]) -> str:
    """The clip joining the two flaps (side view) and the double opening it makes (view from above)."""
    side = _side_view(True, labels)
    top = (
        "<g transform='translate(440 50)'>"
        f"<ellipse cx='130' cy='120' rx='120' ry='86' fill='{_LEFT}' opacity='0.45' stroke='{_LINE}' stroke-width='3'/>"
        "<ellipse cx='76' cy='120' rx='46' ry='28' fill='#ffffff' stroke='#7a2e2e' stroke-width='4'/>"
        "<ellipse cx='184' cy='120' rx='46' ry='28' fill='#ffffff' stroke='#7a2e2e' stroke-width='4'/>"
        f"<rect x='120' y='104' width='20' height='32' rx='4' fill='{_CLIP}' stroke='#222' stroke-width='1.5'/>"
        "</g>"
        + _text(570, 292, labels["label_from_above"], _FIG_LABEL - 1)
    )
    return _svg(720, 320, side + top, labels["fig_clip"])


def _arc_point(s: float, length: float, x0: float, x1: float, y: float, sag: float) -> tuple[float, float, float]:
    """Point and tangent angle (degrees) at ``s`` mm along a gently curved coaptation line."""
    t = min(max(s / length, 0.0), 1.0)
    x = x0 + t * (x1 - x0)
    yy = y + sag * (1 - (2 * t - 1) ** 2)
    dydx = sag * (-4 * (2 * t - 1)) / (x1 - x0)
    return x, yy, math.degrees(math.atan(dydx))


def _valve_panel(o: ValveOutcome, after: bool, dx: float, title: str, labels: Mapping[str, str]) -> str:
    """One top view of the patient's valve: annulus, coaptation line, leak, clips."""
    x0, x1, yline, sag = dx + 40, dx + 280, 150.0, 26.0
    length = o.coaptation_length_mm
    scale = (x1 - x0) / length
    b = [_text(dx + 160, 34, title, 18, weight="bold")]
    b.append(f"<ellipse cx='{dx + 160}' cy='150' rx='140' ry='92' fill='#fbe9e7' stroke='{_LINE}' stroke-width='3'/>")
    pts = " ".join("{:.1f},{:.1f}".format(*_arc_point(length * i / 40, length, x0, x1, yline, sag)[:2]) for i in range(41))
    b.append(f"<polyline points='{pts}' fill='none' stroke='#7a2e2e' stroke-width='4'/>")
    centre = sum(c.position_mm for c in o.clips) / len(o.clips)
    before_len = min(length * 0.8, max(4.0, length * min(1.0, o.eroa_before_cm2 / 0.6)))
    thick = 8 + 30 * min(o.eroa_before_cm2, 1.0)
    if not after:
        x, y, ang = _arc_point(centre, length, x0, x1, yline, sag)
        b.append(
            f"<ellipse cx='{x:.1f}' cy='{y:.1f}' rx='{before_len * scale / 2:.1f}' ry='{thick / 2:.1f}' "
            f"transform='rotate({ang:.1f} {x:.1f} {y:.1f})' fill='{_LEAK}' opacity='0.75'/>"
        )
    else:
        ratio = 0.0 if o.eroa_before_cm2 <= 0 else min(1.0, o.eroa_after_cm2 / o.eroa_before_cm2)
        if ratio > 0:
            half = before_len / 2
            left = min(c.position_mm - c.width_mm / 2 for c in o.clips)
            right = max(c.position_mm + c.width_mm / 2 for c in o.clips)
            for end, sign in ((left, -1), (right, 1)):
                seg = max(1.0, half * ratio)
                s = end + sign * seg / 2
                x, y, ang = _arc_point(s, length, x0, x1, yline, sag)
                b.append(
                    f"<ellipse cx='{x:.1f}' cy='{y:.1f}' rx='{seg * scale / 2:.1f}' ry='{max(3.0, thick * math.sqrt(ratio) / 2):.1f}' "
                    f"transform='rotate({ang:.1f} {x:.1f} {y:.1f})' fill='{_LEAK}' opacity='0.75'/>"
                )
        for c in o.clips:
            x, y, ang = _arc_point(c.position_mm, length, x0, x1, yline, sag)
            w = max(6.0, c.width_mm * scale)
            b.append(
                f"<rect x='{x - w / 2:.1f}' y='{y - 14:.1f}' width='{w:.1f}' height='28' rx='3' fill='{_CLIP}' stroke='#111' "
                f"stroke-width='1.5' transform='rotate({ang:.1f} {x:.1f} {y:.1f})'/>"
                f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3.5' fill='#ffffff'/>"
            )
    b.append(_text(dx + 160, 84, labels["label_anterior"], 13))
    b.append(_text(dx + 160, 226, labels["label_posterior"], 13))
    return "".join(b)


def patient_valve_svg(o: ValveOutcome, labels: Mapping[str, str], reduction_text: str, disclaimer: str) -> str:
    """The patient's valve from above, before and after, with clip positions and the predicted leak drop."""
    body = (
        _valve_panel(o, False, 0, labels["label_before"], labels)
        + _valve_panel(o, True, 330, labels["label_after"], labels)
        + f"<path d='M300 150 L340 150' stroke='{_LINE}' stroke-width='4' marker-end='url(#arr)'/>"
        "<defs><marker id='arr' markerWidth='5' markerHeight='5' refX='2.5' refY='2.5' orient='auto'>"
        f"<path d='M0 0 L5 2.5 L0 5 Z' fill='{_LINE}'/></marker></defs>"
        + _text(330, 272, reduction_text, 16, weight="bold")
        + _text(330, 296, disclaimer, 11, fill="#444444")
    )
    return _svg(660, 310, body, labels["fig_case"])
