"""Self-contained HTML report of a case: valve map, loops, echo table, plan ranking, sources.

No network: the page has inline CSS, inline SVG pictures (valve map drawn here;
pressure–volume loops and LA pressure drawn by matplotlib's SVG backend) and
no scripts.  Template: ``templates/report.html.j2`` (package data).
"""

from __future__ import annotations

import io
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mitrasim import __version__, citations
from mitrasim.disclaimer import DISCLAIMER
from mitrasim.errors import InputError

__all__ = ["valve_map_svg", "loops_svg", "render_report", "write_report"]


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def valve_map_svg(valve: Any, clips: Sequence[Any] = (), title: str = "", width_px: int = 520) -> str:
    """The coaptation line from the anterolateral (left) to the posteromedial commissure (right).

    Blue: the diastolic opening ``w(s)`` (drawn symmetric about the line); red: the
    systolic gap ``g(s)`` (scaled ×3 to be seen); grey boxes: clips (width to scale),
    labelled with their device; dashed lines: the A1/A2/A3 segment edges.
    """
    from mitrasim.procedure.process import residual_profiles

    g, w = residual_profiles(valve, list(clips))
    L = valve.line_length_mm
    pad, h = 30.0, 200.0
    sx = (width_px - 2 * pad) / L
    mid = h / 2 + 10
    wmax = max(float(valve.opening_mm.max()), 1e-6)
    sy = (h / 2 - 20) / wmax
    x = pad + valve.s_mm * sx
    top = " ".join(f"{xi:.1f},{mid - wi * sy / 2:.1f}" for xi, wi in zip(x, w))
    bot = " ".join(f"{xi:.1f},{mid + wi * sy / 2:.1f}" for xi, wi in zip(x[::-1], w[::-1]))
    gtop = " ".join(f"{xi:.1f},{mid - 3 * gi * sy / 2:.1f}" for xi, gi in zip(x, g))
    gbot = " ".join(f"{xi:.1f},{mid + 3 * gi * sy / 2:.1f}" for xi, gi in zip(x[::-1], g[::-1]))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_px}" height="{h + 40:.0f}" viewBox="0 0 {width_px} {h + 40:.0f}" role="img" aria-label="{_esc(title)}">',
        f'<text x="{pad}" y="16" font-size="13" font-family="sans-serif">{_esc(title)}</text>',
        f'<polygon points="{top} {bot}" fill="#cfe3f7" stroke="#2b6cb0" stroke-width="1"/>',
        f'<polygon points="{gtop} {gbot}" fill="#e53e3e" fill-opacity="0.7" stroke="none"/>',
        f'<line x1="{pad}" y1="{mid}" x2="{pad + L * sx}" y2="{mid}" stroke="#333" stroke-width="1"/>',
    ]
    for e, name in zip(valve.segment_edges_mm[1:3], ("", "")):
        xe = pad + e * sx
        parts.append(f'<line x1="{xe:.1f}" y1="24" x2="{xe:.1f}" y2="{h}" stroke="#999" stroke-dasharray="4 3"/>')
        _ = name
    for k, lab in enumerate(("A1/P1", "A2/P2", "A3/P3")):
        a, b = valve.segment_edges_mm[k], valve.segment_edges_mm[k + 1]
        parts.append(f'<text x="{pad + (a + b) / 2 * sx:.1f}" y="{h + 14}" font-size="11" text-anchor="middle" font-family="sans-serif">{lab}</text>')
    parts.append(f'<text x="{pad}" y="{h + 30}" font-size="10" font-family="sans-serif">AL commissure</text>')
    parts.append(f'<text x="{pad + L * sx}" y="{h + 30}" font-size="10" text-anchor="end" font-family="sans-serif">PM commissure ({L:.0f} mm)</text>')
    for c in clips:
        x0 = pad + (c.position_mm - c.width_mm / 2) * sx
        fill = "#4a5568" if getattr(c, "effective", True) else "#a0aec0"
        parts.append(f'<rect x="{x0:.1f}" y="{mid - 30}" width="{c.width_mm * sx:.1f}" height="60" fill="{fill}" rx="2"><title>{_esc(c.device)} at {c.position_mm:.1f} mm</title></rect>')
        parts.append(f'<text x="{x0 + c.width_mm * sx / 2:.1f}" y="{mid - 34}" font-size="10" text-anchor="middle" font-family="sans-serif">{_esc(c.device)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def loops_svg(before: dict[str, np.ndarray] | None, after: dict[str, np.ndarray] | None) -> str:
    """PV loops (left) and LA pressure over the beat (right), before and after, as inline SVG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    for wf, lab, col in ((before, "before", "#c53030"), (after, "after", "#2b6cb0")):
        if wf is None:
            continue
        ok = np.isfinite(wf["v_lv_ml"])
        a1.plot(wf["v_lv_ml"][ok], wf["p_lv_mmhg"][ok], color=col, label=lab)
        a2.plot(wf["t_s"][ok], wf["p_la_mmhg"][ok], color=col, label=lab)
    a1.set_xlabel("LV volume (mL)")
    a1.set_ylabel("LV pressure (mmHg)")
    a1.set_title("Pressure-volume loop")
    a2.set_xlabel("time from the onset of ventricular contraction (s)")
    a2.set_ylabel("LA pressure (mmHg)")
    a2.set_title("LA pressure (v and a waves)")
    for a in (a1, a2):
        a.legend(frameon=False)
        a.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.find("<svg") :]


def _echo_rows(proc: Any) -> list[tuple[str, str, str]]:
    b, f = proc.baseline, proc.final
    eb, ef = b.echo, f.echo

    def v(x: Any, fmt: str) -> str:
        return "—" if x is None else format(x, fmt)

    return [
        ("MR grade (ASE 2017)", f"{b.mr_grade} ({b.grade.severity})", f"{f.mr_grade} ({f.grade.severity})"),
        ("EROA, PISA (cm²)", v(eb.eroa_cm2, ".2f"), v(ef.eroa_cm2, ".2f")),
        ("regurgitant volume (mL)", v(eb.rvol_ml, ".0f"), v(ef.rvol_ml, ".0f")),
        ("regurgitant fraction (%)", v(eb.rf_pct, ".0f"), v(ef.rf_pct, ".0f")),
        ("vena contracta (cm)", v(eb.vc_cm, ".2f"), v(ef.vc_cm, ".2f")),
        ("PISA radius (cm, Va 40 cm/s)", v(eb.pisa_radius_cm, ".2f"), v(ef.pisa_radius_cm, ".2f")),
        ("E velocity (m/s)", v(eb.e_velocity_m_s, ".2f"), v(ef.e_velocity_m_s, ".2f")),
        ("pulmonary-vein systolic reversal", "yes" if eb.pv_flow == "reversal" else "no", "yes" if ef.pv_flow == "reversal" else "no"),
        ("mean gradient (mmHg)", v(b.mean_gradient_mmhg, ".1f"), v(f.mean_gradient_mmhg, ".1f")),
        ("MVA, planimetric (cm²)", v(b.mva_cm2, ".2f"), v(f.mva_cm2, ".2f")),
        ("LVEF (%)", v(eb.lvef_pct, ".0f"), v(ef.lvef_pct, ".0f")),
        ("forward stroke volume (mL)", v(b.forward_sv_ml, ".0f"), v(f.forward_sv_ml, ".0f")),
        ("cardiac output (L/min)", v(b.co_l_min, ".2f"), v(f.co_l_min, ".2f")),
        ("LA mean / v-wave (mmHg)", f"{b.la_mean_mmhg:.0f} / {b.la_vwave_mmhg:.0f}", f"{f.la_mean_mmhg:.0f} / {f.la_vwave_mmhg:.0f}"),
    ]


def _interval_rows(plan: Any, procedure_iv: dict[str, Any] | None) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Rows of the two uncertainty tables: the procedure before/after, and the baseline and
    reported plans (each cell "value [p05–p95]")."""
    from mitrasim.procedure.intervals import SHOWN, format_interval

    proc_rows: list[tuple[str, ...]] = []
    if procedure_iv is not None:
        proc_rows = [(lab, format_interval(procedure_iv["before"][q], d), format_interval(procedure_iv["after"][q], d)) for q, lab, d in SHOWN]
    plan_rows: list[tuple[str, ...]] = []
    if plan is not None and plan.baseline_intervals is not None:
        plan_rows.append(("", "baseline", *(format_interval(plan.baseline_intervals[q], d) for q, _, d in SHOWN)))
        for p in plan.reported(8):
            if p.intervals is not None:
                plan_rows.append((str(p.rank), p.describe(), *(format_interval(p.intervals[q], d) for q, _, d in SHOWN)))
    return proc_rows, plan_rows


def render_report(*, case: Any, plan: Any = None, procedure: Any = None, intervals: dict[str, Any] | None = None) -> str:
    """The HTML text of the report (needs a procedure result or a plan).

    ``intervals``: the procedure's before/after intervals (:func:`mitrasim.procedure.intervals.procedure_intervals`
    of this procedure); computed here when the case has measurements and none are given.  A plan's
    intervals come with its plans (:func:`mitrasim.procedure.planner.plan_case`)."""
    import jinja2

    from mitrasim.procedure.process import setup_from_case

    if plan is None and procedure is None:
        raise InputError("report", None, "a plan and/or a procedure result")
    with citations.collect() as own:  # the report's own computation (the case's calibration, if any)
        setup = setup_from_case(case)
        if intervals is None and procedure is not None and getattr(case, "measurements", None) is not None:
            from mitrasim.procedure.intervals import procedure_intervals

            intervals = procedure_intervals(case, procedure)
    proc_iv_rows, plan_iv_rows = _interval_rows(plan, intervals)
    iv_heads = [lab for _, lab, _ in _shown()]
    valve = setup.valve
    clips = procedure.clips if procedure is not None else []
    if procedure is None and plan is not None:
        from types import SimpleNamespace

        p = plan.best
        from mitrasim.devices import get_device

        clips = [SimpleNamespace(device=d, position_mm=x, width_mm=get_device(d).width_mm, arm_length_mm=get_device(d).arm_length_mm, spacer_mm=get_device(d).spacer_mm, effective=True) for d, x in zip(p.devices, p.positions_mm)]
    before_svg = valve_map_svg(valve, [], "Before: opening (blue) and systolic gap ×3 (red)")
    after_svg = valve_map_svg(valve, clips, "After: clips (grey) at their positions")
    loops = None
    if procedure is not None and procedure.waveforms_before is not None:
        loops = loops_svg(procedure.waveforms_before, procedure.waveforms_after)
    keys: list[str] = []  # exactly what the results shown and this report cited (never the process-wide record)
    for r in (procedure, plan):
        if r is not None:
            keys += list(r.citations)
    sources = citations.format_list([*keys, *own.keys])
    text = resources.files("mitrasim.procedure").joinpath("templates/report.html.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    tpl = env.from_string(text)
    return tpl.render(
        title=case.name or "mitrasim case",
        description=(case.description or "").strip(),
        case=case,
        valve=valve,
        before_svg=before_svg,
        after_svg=after_svg,
        loops_svg=loops,
        procedure=procedure,
        echo_rows=_echo_rows(procedure) if procedure is not None else [],
        plan=plan,
        top=plan.top(8) if plan is not None else [],
        losers=plan.losers() if plan is not None else [],
        proc_iv_rows=proc_iv_rows,
        plan_iv_rows=plan_iv_rows,
        iv_heads=iv_heads,
        uncertainty=(intervals or {}).get("uncertainty") or (plan.uncertainty if plan is not None and plan.baseline_intervals is not None else None),
        sources=sources,
        disclaimer=DISCLAIMER,
        version=__version__,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _shown() -> tuple[tuple[str, str, int], ...]:
    from mitrasim.procedure.intervals import SHOWN

    return SHOWN


def write_report(path: str | Path, *, case: Any, plan: Any = None, procedure: Any = None, intervals: dict[str, Any] | None = None) -> Path:
    """Write the report to ``path`` (UTF-8); returns the path."""
    p = Path(path)
    html = render_report(case=case, plan=plan, procedure=procedure, intervals=intervals)
    try:
        p.write_text(html, encoding="utf-8")
    except OSError as e:
        raise InputError("--report", str(path), "a writable file path", str(e)) from None
    return p
