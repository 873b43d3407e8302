"""The credibility report (HTML and CSV), in the structure of ASME V&V 40-2018.

Sections: question of interest and context of use; model risk; code verification; calculation
verification; validation (table and a plot of each difference over its margin); sensitivity (Sobol
indices, their convergence, a plot); applicability; sources.  Figures are matplotlib SVG inlined in
the page (no external files).  Numbers are printed as computed; ``null``/"n/a" marks a quantity that
does not apply (e.g. an observed order where the errors are zero).
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path
from typing import Any

from mitrasim.validate.applicability import SMD_MARK
from mitrasim.validate.endpoints import MC_HALFWIDTH_FRACTION, Z95
from mitrasim.validate.schema import ComparatorFile

__all__ = ["VALIDATION_COLUMNS", "write_report"]

VALIDATION_COLUMNS = (
    "comparator", "endpoint", "category", "time_point", "role", "parameter", "published", "published_lo", "published_hi",
    "n_published", "simulated", "simulated_lo", "simulated_hi", "n_simulated", "difference", "difference_lo", "difference_hi",
    "margin", "agreement", "mc_halfwidth_over_margin", "n_needed", "source", "status",
)  # fmt: skip


def _e(x: Any) -> str:
    return html.escape(str(x))


def _f(x: Any, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return _e(x)


def _table(head: list[str], rows: list[list[Any]], cls: str = "") -> str:
    h = "".join(f"<th>{_e(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, str) and c.startswith('<') else _f(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>'


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    s = buf.getvalue()
    return s[s.find("<svg"):]


def _forest(rows: list[dict[str, Any]]) -> str:
    """Each difference and its 95% CI over its margin; the band ±1 is the agreement margin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["difference_lo"] is not None]
    n = len(rows)
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * n + 1.2))
    ax.axvspan(-1, 1, color="#dfe", zorder=0)
    ax.axvline(0, color="#888", lw=0.8)
    for i, r in enumerate(rows):
        m = r["margin"]
        color = {"agree": "#1a7f37", "miss": "#b3261e"}.get(r["agreement"], "#8a6d00")
        marker = "o" if r["role"] == "validation" else "s"
        ax.plot([r["difference_lo"] / m, r["difference_hi"] / m], [i, i], color=color, lw=1.5)
        ax.plot([r["difference"] / m], [i], marker=marker, color=color, mfc="white" if r["role"] == "calibration" else color)
    ax.set_yticks(range(n), [f"{r['comparator']}: {r['endpoint']} {r['category']}" for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("(simulated − published) / margin, with 95% CI;  ● validation  □ calibration")
    return _svg(fig)


def _sobol_plot(sens: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [p["name"] for p in sens["parameters"]]
    outs = [(k, v) for k, v in sens["at_2n"]["outputs"].items() if not v["constant"]]
    if not outs:
        return ""
    fig, axes = plt.subplots(1, len(outs), figsize=(2.6 * len(outs), 2.6), sharey=True, squeeze=False)
    for ax, (k, v) in zip(axes[0], outs):
        y = range(len(names))
        ax.barh(y, v["ST"], xerr=v["ST_conf"], color="#6a8fc8", label="total")
        ax.barh(y, v["S1"], height=0.4, color="#1f3b73", label="first order")
        ax.set_title(sens["outputs"][k], fontsize=8)
        ax.set_xlim(-0.1, 1.2)
        ax.set_yticks(list(y), names, fontsize=7)
    axes[0][0].legend(fontsize=7, loc="lower right")
    return _svg(fig)


def _smd_plot(appl: list[dict[str, Any]]) -> str:
    """Standardized differences of each comparator's population from the question's; band ±0.1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variables: dict[str, None] = {}
    for a in appl:
        for r in a["rows"]:
            variables.setdefault(r["variable"], None)
    names = list(variables)
    if not names:
        return ""
    fig, ax = plt.subplots(figsize=(7.5, 0.22 * len(names) + 1.2))
    ax.axvspan(-0.1, 0.1, color="#dfe", zorder=0)
    for k, a in enumerate(appl):
        pts = {r["variable"]: r["smd"] for r in a["rows"]}
        y = [i + (k - (len(appl) - 1) / 2) * 0.12 for i, v in enumerate(names) if v in pts]
        ax.plot([pts[v] for v in names if v in pts], y, "o", ms=3.5, label=a["comparator"])
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("standardized difference, comparator − question's population (band: |d| ≤ 0.1)")
    ax.legend(fontsize=7, loc="lower right")
    return _svg(fig)


def _verification_html(ver: dict[str, Any]) -> str:
    parts = []
    for r in ver["radau"]:
        worst = max(r["rows"], key=lambda x: x["rel_error"])
        parts.append([r["preset"], ", ".join(f"{k}={v}" for k, v in r["inputs"].items()), r["beats"], len(r["rows"]), f"{worst['metric']}: {worst['rel_error']:.2e}", r["pass"]])
    out = "<h3>Engine against the scipy Radau reference</h3>" + _table(["preset", "inputs", "beats", "metrics compared", "largest relative difference", "within 0.5%"], parts)
    b = ver["batch"]
    out += "<h3>Batch equal to one at a time</h3>" + _table(["patients", "largest relative difference", "tolerance", "pass"], [[b["patients"], f"{b['max_rel_difference']:.2e}", f"{b['tolerance']:.0e}", b["pass"]]])
    s = ver["step"]
    out += (
        f"<h3>Step convergence</h3><p>{_e(s['preset'])}, EROA {s['eroa_cm2']} cm²; steps (ms): "
        + ", ".join(f"{1000 * h:.3g}" for h in s["dt_s"]) + f"; every run steady: {_f(s['all_converged'])}. Error of the trial step against the finest; "
        "an observed order is only meaningful above the steady-state tolerance's noise floor.</p>"
    )
    out += _table(["metric", "values (coarse → fine)", "error at trial step", "relative", "observed order", "≤ 1%"],
                  [[r["metric"], ", ".join(f"{v:.6g}" for v in r["values"]), f"{r['error_at_trial_step']:.2e}", f"{r['rel_error_at_trial_step']:.2e}", r["observed_order"], r["pass"]] for r in s["rows"]])
    return out


def _validation_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    out = []
    for r in rows:
        pct = r["statistic"] == "proportion"
        fmt = (lambda v: "n/a" if v is None else f"{100 * v:.1f}%") if pct else (lambda v: "n/a" if v is None else f"{v:.2f}")
        out.append([
            r["comparator"], r["endpoint"] + (f" [{r['category']}]" if r["category"] else ""), r["time_point"],
            f"{fmt(r['published'])} [{fmt(r['published_lo'])}, {fmt(r['published_hi'])}]" + (f" n={int(r['n_published'])}" if r["n_published"] else ""),
            f"{fmt(r['simulated'])} [{fmt(r['simulated_lo'])}, {fmt(r['simulated_hi'])}]",
            f"{fmt(r['difference'])} [{fmt(r['difference_lo'])}, {fmt(r['difference_hi'])}]",
            fmt(r["margin"]), f'<span class="{r["agreement"]}">{r["agreement"]}</span>',
            r["role"] + (f" ({r['parameter']})" if r["parameter"] else ""), f"{r['source']} [{r['status']}]",
        ])  # fmt: skip
    return out


def _sensitivity_html(sens: dict[str, Any] | None) -> str:
    if sens is None:
        return "<p>Not run (--no-sensitivity).</p>"
    names = [p["name"] for p in sens["parameters"]]
    out = "<p>Uncertain parameters, uniform over:</p>" + _table(["parameter", "range", "basis"], [[p["name"], f"{p['lo']:g} – {p['hi']:g}", p["basis"]] for p in sens["parameters"]])
    out += (
        f"<p>Model function: {sens['patients']} virtual patients of the question's population ({_e(sens['population'])}), the whole procedure for each "
        f"parameter set, outputs averaged. Saltelli design, N = {sens['n_base']} ({sens['at_n']['evaluations']} evaluations) and 2N = {2 * sens['n_base']} "
        f"({sens['at_2n']['evaluations']} evaluations). Convergence: largest change of a total index from N to 2N = {sens['max_total_index_change']:.3f} "
        f"(criterion ≤ {sens['convergence_tol']}); largest 95% bootstrap half-width of a total index at 2N = {sens['max_total_index_halfwidth_at_2n']:.3f}: <b>{'converged' if sens['converged'] else 'NOT converged — read the indices as indicative only'}</b>.</p>"
    )
    rows = []
    for k, v in sens["at_2n"]["outputs"].items():
        if v["constant"]:
            rows.append([sens["outputs"][k], "constant over the ranges: " + _f(v["value"])] + [""] * (len(names) - 1))
            continue
        a = sens["at_n"]["outputs"][k]
        cells = []
        for i in range(len(names)):
            prev = "" if a["constant"] else f"; N: {a['ST'][i]:.2f}"
            cells.append(f"S1 {v['S1'][i]:.2f} ± {v['S1_conf'][i]:.2f}, ST {v['ST'][i]:.2f} ± {v['ST_conf'][i]:.2f}{prev}")
        rows.append([sens["outputs"][k], *cells])
    out += _table(["output (at 2N)", *names], rows)
    return out + _sobol_plot(sens)


def _applicability_html(appl: list[dict[str, Any]]) -> str:
    out = _table(
        ["comparator", "population", "largest |SMD| vs the question's population", f"variables with |SMD| > {SMD_MARK:g}", "endpoints at a time point the model does not simulate"],
        [[a["comparator"], a["population"], f"{a['max_abs_smd']:.2f}", ", ".join(a["marked"]) or "none",
          ", ".join(f"{t['endpoint']} ({t['time_point']})" for t in a["time_point_flags"]) or "none"] for a in appl],
    )  # fmt: skip
    return out + _smd_plot(appl)


CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.6em 0;font-size:.85em}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.agree{color:#1a7f37;font-weight:600}.miss{color:#b3261e;font-weight:600}.inconclusive,.not{color:#8a6d00}
.note{background:#fff8e1;padding:.6em;border-left:4px solid #e0b000}"""


def write_report(out: Path, summary: dict[str, Any], cf: ComparatorFile) -> dict[str, Path]:
    """Write ``report.html`` and ``validation.csv`` into ``out``."""
    rows = summary["validation"]
    csv_path = out / "validation.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(VALIDATION_COLUMNS), extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if r.get(k) is None else r.get(k) for k in VALIDATION_COLUMNS})
    mr = summary["model_risk"]
    n_agree = sum(r["agreement"] == "agree" for r in rows if r["role"] == "validation")
    n_miss = sum(r["agreement"] == "miss" for r in rows if r["role"] == "validation")
    n_val = sum(r["role"] == "validation" for r in rows)
    calc = [[r["comparator"], r["endpoint"] + (f" [{r['category']}]" if r["category"] else ""), r["n_simulated"], r["simulated_se"], r["mc_halfwidth_over_margin"],
             None if r["mc_halfwidth_over_margin"] is None else r["mc_halfwidth_over_margin"] <= MC_HALFWIDTH_FRACTION, r["n_needed"]] for r in rows]  # fmt: skip
    trials = _table(["comparator", "study", "population", "patients", "folder", "chunks run", "chunks reused"],
                    [[t["comparator"], t["study"], t["population"], t["n_patients"], t["folder"], t["chunks_run"], t["chunks_skipped"]] for t in summary["trials"]])  # fmt: skip
    body = f"""<h1>mitrasim credibility report</h1>
<p class="note">Research and education software, not a medical device. This report states how far the model's answers were checked
for the question below; it is not evidence about any patient. Structure: ASME V&amp;V 40-2018; see also the FDA's 2023 guidance on the
credibility of computational modelling. mitrasim {_e(summary['mitrasim_version'])}; comparator file hash {_e(summary['comparators_hash'][:12])}.</p>
<h2>1. Question of interest and context of use</h2><p><b>Question.</b> {_e(cf.question_of_interest)}</p>
<p><b>Context of use.</b> {_e(cf.context_of_use.description)} Question's population: <code>{_e(cf.context_of_use.population.name)}</code>; strategy:
<code>{_e(", ".join(f"{k}={v}" for k, v in cf.context_of_use.strategy.model_dump().items()))}</code>.</p>
<h2>2. Model risk</h2><p>Model influence: <b>{_e(mr['model_influence'])}</b>; decision consequence: <b>{_e(mr['decision_consequence'])}</b>;
model risk level {mr['level']} of 5. {_e(mr['rationale'])}</p>
<h2>3. Code verification (run now)</h2><p>Overall: <b>{'pass' if summary['code_verification']['pass'] else 'FAIL'}</b>.</p>{_verification_html(summary['code_verification'])}
<h2>4. Calculation verification: Monte-Carlo error at the chosen n</h2>
<p>Trials run for this report:</p>{trials}
<p>Each endpoint's Monte-Carlo standard error and its 95% half-width (z = {Z95:.3f}) over the agreement margin; the half-width should be
at most {MC_HALFWIDTH_FRACTION} of the margin, and "n needed" is the number of simulated patients that would make it so (for a subgroup row: patients in that subgroup).</p>
{_table(["comparator", "endpoint", "n simulated", "MC standard error", "half-width / margin", f"≤ {MC_HALFWIDTH_FRACTION}", "n needed"], calc)}
<h2>5. Validation</h2>
<p>Agreement is an equivalence test: the 95% CI of (simulated − published), with both uncertainties, inside ±margin → <b>agree</b>;
entirely outside → <b>miss</b>; otherwise <b>inconclusive</b>. Calibration rows compare the model with data it was fitted to (a consistency
check, not evidence of predictive power); validation rows were run with frozen parameters. Validation: {n_agree} of {n_val} agree, {n_miss} miss.</p>
{_table(["comparator", "endpoint", "time point", "published [95% CI]", "simulated [95% CI]", "difference [95% CI]", "margin", "agreement", "role", "source [status]"], _validation_rows(rows), "validation")}
{_forest(rows) if rows else ""}
<h2>6. Sensitivity of the main outcomes to uncertain model parameters</h2>{_sensitivity_html(summary['sensitivity'])}
<h2>7. Applicability</h2><p>How far each comparator's population is from the question's (standardized mean differences of the sampled
baselines), and which endpoints were published at a time point the model does not simulate (the model's results are those at the end of
the procedure).</p>{_applicability_html(summary['applicability'])}
<h2>Sources</h2><ol>{''.join(f'<li>{_e(s["text"])}</li>' for s in summary['sources'])}</ol>"""
    html_path = out / "report.html"
    html_path.write_text(f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>mitrasim credibility report</title><style>{CSS}</style></head><body>{body}</body></html>", encoding="utf-8")
    return {"report": html_path, "csv": csv_path, "summary": out / "summary.json"}
