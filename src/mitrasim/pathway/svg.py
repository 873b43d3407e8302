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

__all__ = ["heart_svg", "leaking_valve_svg", "clip_svg", "patient_valve_svg"]

_RIGHT = "#8fb3e0"   # right heart (blue, oxygen-poor blood)
_LEFT = "#e79a9a"    # left heart (red, oxygen-rich blood)
_VALVE = "#ffd23f"
_LINE = "#333333"
_LEAK = "#c0392b"
_CLIP = "#6b6b6b"
_FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


def _svg(width: int, height: int, body: str, title: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' role='img' "
        f"aria-label='{escape(title, {chr(39): '&#39;'})}' class='figure-svg'>"
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def _text(x: float, y: float, s: str, size: int = 15, anchor: str = "middle", weight: str = "normal", fill: str = _LINE) -> str:
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' font-weight='{weight}' "
        f"fill='{fill}' {_FONT}>{escape(s)}</text>"
    )


def _label(x: float, y: float, tx: float, ty: float, s: str, anchor: str) -> str:
    """A label at (tx, ty) with a leader line to the point (x, y)."""
    return (
        f"<line x1='{x:.1f}' y1='{y:.1f}' x2='{tx:.1f}' y2='{ty - 5:.1f}' stroke='{_LINE}' stroke-width='1.2'/>"
        f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{_LINE}'/>" + _text(tx, ty, s, 16, anchor, "bold")
    )


def heart_svg(labels: Mapping[str, str]) -> str:
    """The heart in a front view with its four chambers and four valves (patient's left on the viewer's right)."""
    b = ["<g transform='translate(110 0)'>"]
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
    # labels outside the heart, leader lines to each valve (coordinates after the shift)
    b.append(_label(242, 178, 10, 214, labels["label_tricuspid"], "start"))
    b.append(_label(296, 150, 10, 30, labels["label_pulmonary"], "start"))
    b.append(_label(342, 146, 610, 30, labels["label_aortic"], "end"))
    b.append(_label(412, 164, 610, 214, labels["label_mitral"], "end"))
    b.append(_text(236, 128, labels["label_right_atrium"], 13))
    b.append(_text(410, 118, labels["label_left_atrium"], 13))
    b.append(_text(262, 236, labels["label_right_ventricle"], 13))
    b.append(_text(388, 250, labels["label_left_ventricle"], 13))
    return _svg(620, 360, "".join(b), labels["fig_heart"])


def _side_view(closed: bool, labels: Mapping[str, str], clip: bool) -> str:
    """The mitral valve seen from the side: left atrium above, left ventricle below."""
    b = [
        f"<rect x='20' y='20' width='300' height='110' rx='18' fill='{_LEFT}' opacity='0.45'/>",
        f"<rect x='20' y='150' width='300' height='150' rx='18' fill='{_LEFT}' opacity='0.7'/>",
        _text(170, 46, labels["label_left_atrium"], 14),
        _text(170, 290, labels["label_left_ventricle"], 14),
        f"<line x1='30' y1='140' x2='90' y2='140' stroke='{_LINE}' stroke-width='6' stroke-linecap='round'/>",
        f"<line x1='250' y1='140' x2='310' y2='140' stroke='{_LINE}' stroke-width='6' stroke-linecap='round'/>",
    ]
    tip_a, tip_p = ((166, 212), (174, 212)) if closed else ((150, 218), (190, 208))
    b.append(f"<path d='M90 140 C110 170 140 200 {tip_a[0]} {tip_a[1]}' fill='none' stroke='#7a2e2e' stroke-width='7' stroke-linecap='round'/>")
    b.append(f"<path d='M250 140 C230 165 200 190 {tip_p[0]} {tip_p[1]}' fill='none' stroke='#7a2e2e' stroke-width='7' stroke-linecap='round'/>")
    b.append(_label(112, 166, 40, 196, labels["label_anterior"], "start"))
    b.append(_label(228, 164, 312, 196, labels["label_posterior"], "end"))
    if not closed:
        b.append(
            f"<path d='M170 226 L170 70' stroke='{_LEAK}' stroke-width='10' marker-end='url(#arrow-leak)' opacity='0.85'/>"
            f"<defs><marker id='arrow-leak' markerWidth='5' markerHeight='5' refX='2.5' refY='2.5' orient='auto'>"
            f"<path d='M0 0 L5 2.5 L0 5 Z' fill='{_LEAK}'/></marker></defs>"
        )
        b.append(_text(196, 96, labels["label_leak"], 16, "start", "bold", _LEAK))
    if clip:
        b.append(
            f"<rect x='160' y='196' width='20' height='30' rx='4' fill='{_CLIP}' stroke='#222' stroke-width='1.5'/>"
            f"<path d='M160 200 L146 186 M180 200 L194 186' stroke='#222' stroke-width='3'/>"
        )
        b.append(_label(180, 222, 250, 262, labels["label_clip"], "start"))
    return "".join(b)


def leaking_valve_svg(labels: Mapping[str, str]) -> str:
    """A leaking mitral valve from the side: the two flaps do not meet and blood flows back."""
    return _svg(340, 320, _side_view(False, labels, clip=False), labels["fig_leak"])


def clip_svg(labels: Mapping[str, str]) -> str:
    """The clip joining the two flaps (side view) and the double opening it makes (view from above)."""
    side = _side_view(True, labels, clip=True)
    top = (
        "<g transform='translate(350 40)'>"
        f"<ellipse cx='120' cy='120' rx='110' ry='80' fill='{_LEFT}' opacity='0.45' stroke='{_LINE}' stroke-width='3'/>"
        "<ellipse cx='70' cy='120' rx='42' ry='26' fill='#ffffff' stroke='#7a2e2e' stroke-width='4'/>"
        "<ellipse cx='170' cy='120' rx='42' ry='26' fill='#ffffff' stroke='#7a2e2e' stroke-width='4'/>"
        f"<rect x='110' y='104' width='20' height='32' rx='4' fill='{_CLIP}' stroke='#222' stroke-width='1.5'/>"
        "</g>"
    )
    return _svg(600, 320, side + top, labels["fig_clip"])


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
