"""Trial reports: summary tables with 95% CIs per arm, paired differences, figures; HTML and CSV.

* Proportions: Wilson 95% CI (scipy ``binomtest(...).proportion_ci(method="wilson")``).
* Means: t-based 95% CI.
* 1-year mortality / HF hospitalisation: the sampled event rate (Wilson CI) and the
  model-expected rate with its 95% interval over outcome-model parameter draws
  (:func:`mitrasim.cohort.outcomes.expected_rate_interval`).
* Paired differences (each arm against the first, same patients): binary outcomes —
  difference in proportions, McNemar exact test (binomial test on the discordant
  pairs) and a paired-Wald 95% CI; continuous — mean difference with a paired
  bootstrap 95% CI (``scipy.stats.bootstrap``, ``paired=True``, seeded).
* Figures: matplotlib, inlined as SVG, no external files or CDN.
"""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
from scipy import stats

import mitrasim
from mitrasim import citations
from mitrasim.cohort.outcomes import GROUPS, expected_rate_interval
from mitrasim.cohort.mapping import ECHO_2D_EDV_BIAS_ML, ECHO_2D_ESV_BIAS_ML
from mitrasim.cohort.population import population_citations
from mitrasim.cohort.trial import Trial, read_results
from mitrasim.errors import InputError

__all__ = ["summarize", "paired_differences", "write_report"]

BINARY = {
    "mr_le_1plus_after": "residual MR ≤ 1+",
    "mr_le_2plus_after": "residual MR ≤ 2+",
    "mvarc_technical_success": "MVARC technical success",
    "mvarc_device_success": "MVARC device success",
    "mvarc_procedural_success": "MVARC procedural success",
    "mvarc_no_stenosis": "no iatrogenic stenosis (MVARC)",
    "gradient_ge5": "mean gradient ≥ 5 mmHg",
    "any_complication": "any complication",
    "slda": "single-leaflet device attachment",
    "death_inhospital": "in-hospital death",
    "death_1y": "1-year death (sampled)",
    "hfh_1y": "1-year HF hospitalisation (sampled)",
}
CONTINUOUS = {
    "clips_implanted": "clips implanted",
    "gradient_after_mmhg": "mean gradient after, mmHg",
    "mva_after_cm2": "MVA after, cm²",
    "eroa_after_cm2": "EROA after, cm²",
    "rvol_after_ml": "RVol after, mL",
}


def _arrays(t: pa.Table) -> dict[str, np.ndarray]:
    d = {c: t.column(c).to_numpy(zero_copy_only=False) for c in t.column_names if c != "log"}
    d["mr_le_1plus_after"] = d["grade_after"] <= 1
    d["mr_le_2plus_after"] = d["grade_after"] <= 2
    d["gradient_ge5"] = d["gradient_after_mmhg"] >= 5.0
    d["any_complication"] = np.array([bool(x) for x in d["complications"]])
    return d


def _wilson(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def _mean_ci(x: np.ndarray) -> tuple[float, float, float]:
    m = float(np.mean(x))
    if x.size < 2:
        return m, float("nan"), float("nan")
    h = float(stats.t.ppf(0.975, x.size - 1) * np.std(x, ddof=1) / np.sqrt(x.size))
    return m, m - h, m + h


def summarize(t: pa.Table, trial: Trial) -> list[dict[str, Any]]:
    """One row per (arm, metric): estimate, 95% CI, n."""
    rows: list[dict[str, Any]] = []
    arms = [a.name for a in trial.arms]
    arm_col = np.asarray(t.column("arm").to_pylist(), dtype=object)
    for arm in arms:
        d = _arrays(t.filter(pa.array(arm_col == arm)))
        n = int(d["arm"].size)
        for k, label in BINARY.items():
            x = int(np.sum(d[k]))
            lo, hi = _wilson(x, n)
            rows.append({"arm": arm, "metric": k, "label": label, "kind": "proportion", "estimate": x / n if n else float("nan"), "ci_low": lo, "ci_high": hi, "n": n})
        for k, label in CONTINUOUS.items():
            m, lo, hi = _mean_ci(d[k].astype(float))
            rows.append({"arm": arm, "metric": k, "label": label, "kind": "mean", "estimate": m, "ci_low": lo, "ci_high": hi, "n": n})
        for which, label in (("death", "1-year death (model-expected)"), ("hfh", "1-year HF hospitalisation (model-expected)")):
            est, lo, hi = expected_rate_interval(d["outcome_group"], d["death_inhospital"], trial.outcomes, which, tables=d.get("outcome_table"))
            rows.append({"arm": arm, "metric": f"{which}_1y_expected", "label": label, "kind": "model", "estimate": est, "ci_low": lo, "ci_high": hi, "n": n})
    return rows


def paired_differences(t: pa.Table, trial: Trial, seed: int = 0) -> list[dict[str, Any]]:
    """Each arm minus the first arm on the same patients (see the module docstring)."""
    arms = [a.name for a in trial.arms]
    arm_col = np.asarray(t.column("arm").to_pylist(), dtype=object)
    by = {}
    for a in arms:
        sub = t.filter(pa.array(arm_col == a)).sort_by("patient_id")
        by[a] = _arrays(sub)
    ref = arms[0]
    out: list[dict[str, Any]] = []
    for a in arms[1:]:
        x, y = by[ref], by[a]
        if not np.array_equal(x["patient_id"], y["patient_id"]):
            raise ValueError(f"arms {ref} and {a} do not hold the same patients")
        n = x["patient_id"].size
        for k, label in BINARY.items():
            xa, ya = x[k].astype(bool), y[k].astype(bool)
            b = int(np.sum(xa & ~ya))
            c = int(np.sum(~xa & ya))
            diff = (c - b) / n
            se = np.sqrt(max((b + c) / n - diff**2, 0.0) / n)
            p = float(stats.binomtest(min(b, c), b + c, 0.5).pvalue) if b + c > 0 else 1.0
            out.append({"arm": a, "reference": ref, "metric": k, "label": label, "test": "McNemar exact", "difference": diff, "ci_low": diff - 1.96 * se, "ci_high": diff + 1.96 * se, "p_value": p, "discordant": b + c, "n_pairs": n})
        for k, label in CONTINUOUS.items():
            dx = y[k].astype(float) - x[k].astype(float)
            m = float(np.mean(dx))
            if n >= 2 and np.ptp(dx) > 0:
                res = stats.bootstrap((y[k].astype(float), x[k].astype(float)), lambda u, v, axis=-1: np.mean(u - v, axis=axis), paired=True, vectorized=True, n_resamples=999, method="percentile", random_state=seed)
                lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
                p = float(stats.wilcoxon(dx).pvalue) if np.any(dx != 0) else 1.0
            else:
                lo = hi = m
                p = 1.0
            out.append({"arm": a, "reference": ref, "metric": k, "label": label, "test": "paired bootstrap / Wilcoxon", "difference": m, "ci_low": lo, "ci_high": hi, "p_value": p, "discordant": None, "n_pairs": n})
    return out


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    s = buf.getvalue()
    return s[s.index("<svg"):]


def _figures(t: pa.Table, trial: Trial) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = [a.name for a in trial.arms]
    arm_col = np.asarray(t.column("arm").to_pylist(), dtype=object)
    data = {a: _arrays(t.filter(pa.array(arm_col == a))) for a in arms}
    figs: list[tuple[str, str]] = []
    w = 0.8 / len(arms)

    fig, ax = plt.subplots(figsize=(6, 3.2))
    kmax = max(int(d["clips_implanted"].max()) for d in data.values())
    for j, a in enumerate(arms):
        c = np.bincount(data[a]["clips_implanted"].astype(int), minlength=kmax + 1) / data[a]["arm"].size
        ax.bar(np.arange(kmax + 1) + j * w, 100 * c, w, label=a)
    ax.set_xlabel("clips implanted"), ax.set_ylabel("% of patients"), ax.legend(fontsize=8)
    figs.append(("Clips per patient", _svg(fig)))

    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    labels = ["0", "1+", "2+", "3+", "4+"]
    before = np.bincount(data[arms[0]]["grade_before"].astype(int), minlength=5) / data[arms[0]]["arm"].size
    ax.bar(np.arange(5) - 0.4 + w / 2 * 0, 100 * before, w, label="before (all arms)", color="0.6")
    for j, a in enumerate(arms):
        c = np.bincount(data[a]["grade_after"].astype(int), minlength=5) / data[a]["arm"].size
        ax.bar(np.arange(5) - 0.4 + (j + 1) * w * len(arms) / (len(arms) + 1), 100 * c, w * len(arms) / (len(arms) + 1), label=f"after: {a}")
    ax.set_xticks(range(5), labels), ax.set_xlabel("MR grade"), ax.set_ylabel("% of patients"), ax.legend(fontsize=8)
    figs.append(("MR grade before and after", _svg(fig)))

    fig, ax = plt.subplots(figsize=(6, 3.2))
    bins = np.linspace(0, max(8.0, max(float(d["gradient_after_mmhg"].max()) for d in data.values())), 40)
    ax.hist(data[arms[0]]["gradient_before_mmhg"], bins=bins, histtype="step", color="0.5", label="before")
    for a in arms:
        ax.hist(data[a]["gradient_after_mmhg"], bins=bins, histtype="step", label=f"after: {a}")
    ax.axvline(5.0, ls="--", c="k", lw=0.8)
    ax.set_xlabel("mean diastolic gradient, mmHg"), ax.set_ylabel("patients"), ax.legend(fontsize=8)
    figs.append(("Mean gradient", _svg(fig)))

    fig, axs = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
    months = np.linspace(0, 12, 49)
    for key, ax, title in (("p_death_1y", axs[0], "death"), ("p_hfh_1y", axs[1], "HF hospitalisation")):
        for a in arms:
            p = data[a][key]
            cum = 1 - np.mean((1 - p[:, None]) ** (months[None, :] / 12.0), axis=0)  # constant hazard within the year
            ax.plot(months, 100 * cum, label=a)
        ax.set_title(title, fontsize=9), ax.set_xlabel("months")
    axs[0].set_ylabel("cumulative incidence, % (model)"), axs[0].legend(fontsize=8)
    figs.append(("Outcome curves (outcomes model, constant hazard within the year)", _svg(fig)))
    return figs


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _eligibility_text(pop: Any) -> str:
    e = pop.eligibility
    if not e.active:
        return ""
    crit = [f"peak systolic leaflet gap ≤ {e.max_gap_mm:g} mm" if e.max_gap_mm is not None else "",
            f"primary lesion width ≤ {e.max_lesion_width_mm:g} mm" if e.max_lesion_width_mm is not None else ""]
    return html.escape(f" Eligibility (ineligible draws replaced): {'; '.join(c for c in crit if c)} ({e.source}, {e.status}).")


def _lv_volume_text(pop: Any) -> str:
    if pop.lv_volume_method != "echo_2d":
        return " LV volumes taken as measured (CMR)."
    return html.escape(
        f" LVEDV/LVEF are 2D echo values; the engine's LV was fitted to CMR-equivalent volumes "
        f"(EDV +{ECHO_2D_EDV_BIAS_ML:g} mL, ESV +{ECHO_2D_ESV_BIAS_ML:g} mL; rigolli2016_lv_bias)."
    )


def _baseline_html(t: pa.Table, trial: Any) -> str:
    """Sampled versus simulated baselines (issue 12): medians, the share of patients within each
    measurement's SD, and how many patients the fit reached (the others flagged, counted here)."""
    from mitrasim.cohort.mapping import FIT_WITHIN_SD, sampled_vs_simulated, within_sd_pct

    if "baseline_fit_ok" not in t.column_names or t.num_rows == 0:
        return ""
    first = t.filter(pa.compute.equal(t.column("arm"), trial.arms[0].name)) if "arm" in t.column_names else t
    rows, sd = sampled_vs_simulated(first, trial.population.lv_volume_method)
    ok = first.column("baseline_fit_ok")
    n = first.num_rows
    n_null = ok.null_count
    n_ok = int(pa.compute.sum(ok.fill_null(False)).as_py() or 0)
    fitted = "not fitted (table mapping)" if n_null == n else (
        f"{n_ok:,} of {n:,} patients fitted (every value within {FIT_WITHIN_SD:g} SD); {n - n_ok:,} not fitted, "
        "flagged in baseline_fit_ok (their simulated baseline is run as it is)")  # fmt: skip
    body = ""
    for (lab, a, b), within in zip(rows, within_sd_pct(rows, sd)):
        if np.isnan(within):
            continue  # not sampled by this population, or not simulated by the mitrasim that ran the trial
        body += f"<tr><td>{html.escape(lab)}</td><td>{np.nanmedian(a):.3g}</td><td>{np.nanmedian(b):.3g}</td><td>{within:.1f}%</td></tr>"
    return ("<h2>Baselines: sampled versus simulated</h2><table><tr><th>quantity</th><th>sampled (median)</th><th>simulated (median)</th>"
            "<th>patients within the measurement SD</th></tr>"
            f"{body}</table><p class='note'>{html.escape(fitted)}.</p>")  # fmt: skip


def _fmt(v: Any, kind: str = "") -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if not np.isfinite(v):
            return "–"
        return f"{100 * v:.1f}%" if kind in ("proportion", "model") else f"{v:.3g}"
    return html.escape(str(v))


def _throughput_html(man: dict[str, Any]) -> str:
    """Patients per second per core and the projected wall time on larger clusters
    (:func:`mitrasim.cohort.scaling.throughput`, whose docstring gives the formula and assumptions)."""
    from mitrasim.cohort.scaling import throughput

    tp = throughput(man)
    if tp is None:
        return "<h2>Throughput</h2><p class='note'>No chunk of this folder has its compute time recorded (run with an earlier mitrasim): no throughput or projection.</p>"
    overhead = (f"a Dask task's scheduler round trip {1000 * tp.task_overhead_s:.1f} ms (median of timed no-op tasks)"
                if tp.task_overhead_s is not None else "no Dask run recorded, so the scheduler's round trip is not measured and left out")
    rows = "".join(f"<tr><td>{p['patients']:,}</td><td>{p['cores']}</td><td>{p['wall_s']:,.0f} s ({p['wall_s'] / 3600:.2f} h)</td></tr>" for p in tp.projections)
    return (
        "<h2>Throughput and projected wall time</h2>"
        f"<p>{tp.patients_per_s_per_core:.2f} patients per second per core (the median chunk of {tp.n_chunks} recorded; "
        f"{tp.core_seconds:,.1f} core-seconds in all for {tp.patients:,} patients); a worker's warm-up {tp.warmup_s:.1f} s; "
        f"{overhead}; the client's writing {1000 * tp.client_s_per_chunk:.1f} ms per chunk.</p>"
        "<table><tr><th>patients</th><th>cores</th><th>projected wall time</th></tr>" + rows + "</table>"
        "<p class='note'>T(N) = patients × core-seconds per patient ÷ N + chunks × (scheduler round trip + client writing) + warm-up. "
        "Assumptions: compute scales linearly with cores; the per-task scheduler and client costs are serial and not overlapped "
        "(an upper bound); one task per chunk of this trial's chunk size; no worker lost. Linear scaling makes the projection a lower "
        "bound where cores slow down under full load: measure the factor on the target machine with "
        "<code>benchmarks/cluster.py --n-per-worker</code> (benchmarks/RESULTS.md gives one machine's).</p>"
    )


def write_report(out: str | Path) -> dict[str, Path]:
    """Read a trial folder and write ``report.html``, ``summary.csv`` and ``paired.csv`` into it."""
    out = Path(out)
    t, man = read_results(out)
    try:
        trial = Trial.model_validate_json((out / "trial.json").read_bytes())
    except (OSError, ValueError) as e:  # pydantic's ValidationError is a ValueError
        raise InputError("DIR", str(out), "a trial output folder with its trial.json", str(e).splitlines()[0][:160]) from None
    summary = summarize(t, trial)
    paired = paired_differences(t, trial)
    _write_csv(out / "summary.csv", summary)
    if paired:
        _write_csv(out / "paired.csv", paired)
    figs = _figures(t, trial)
    keys = ["mitrasim", *population_citations(trial.population), "sorajja2017_tvt", "stone2018_coapt", "clinical_reference_risks", "stone2015_mvarc", "stone2015_mvarc_part1", "zoghbi2017", "caballero2020"]
    refs = []
    for k in dict.fromkeys(keys):
        try:
            refs.append(citations.get(k).format())
        except KeyError:
            pass
    done = len(man["chunks"])
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>mitrasim trial: " + html.escape(trial.name) + "</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f3f3f3}td:first-child,td:nth-child(2){text-align:left}"
        ".note{color:#555;font-size:13px}</style></head><body>",
        f"<h1>In-silico trial: {html.escape(trial.name)}</h1>",
        f"<p class='note'>{html.escape(mitrasim.DISCLAIMER)}</p>",
        f"<p>{html.escape(trial.description)}</p>",
        f"<p>Population <b>{html.escape(trial.population.name)}</b>; {t.num_rows // len(trial.arms):,} of {trial.n_patients:,} patients "
        f"({done}/{trial.n_chunks} chunks); seed {trial.seed}; mitrasim {html.escape(man['version'])}; trial hash {man['trial_hash'][:12]}. "
        "Every patient went through mitrasim.procedure (the same targeting, device, grasp, echo and stop rules as a single case)."
        + _eligibility_text(trial.population) + _lv_volume_text(trial.population) + "</p>",
        "<h2>Summary per arm (95% CI)</h2><table><tr><th>arm</th><th>metric</th><th>estimate</th><th>95% CI</th><th>n</th></tr>",
    ]
    for r in summary:
        parts.append(f"<tr><td>{_fmt(r['arm'])}</td><td>{html.escape(r['label'])}</td><td>{_fmt(r['estimate'], r['kind'])}</td><td>{_fmt(r['ci_low'], r['kind'])} – {_fmt(r['ci_high'], r['kind'])}</td><td>{r['n']}</td></tr>")
    parts.append("</table>")
    if paired:
        parts.append("<h2>Paired differences (arm − reference, same patients)</h2><table><tr><th>arm</th><th>metric</th><th>difference</th><th>95% CI</th><th>p</th><th>test</th></tr>")
        for r in paired:
            kind = "proportion" if r["discordant"] is not None else ""
            parts.append(f"<tr><td>{_fmt(r['arm'])} − {_fmt(r['reference'])}</td><td>{html.escape(r['label'])}</td><td>{_fmt(r['difference'], kind)}</td><td>{_fmt(r['ci_low'], kind)} – {_fmt(r['ci_high'], kind)}</td><td>{r['p_value']:.3g}</td><td>{html.escape(r['test'])}</td></tr>")
        parts.append("</table>")
    parts.append(_baseline_html(t, trial))
    for title, svg in figs:
        parts.append(f"<h2>{html.escape(title)}</h2>{svg}")
    parts.append("<h2>Outcomes model</h2><p class='note'>1-year mortality by residual MR, " + "; ".join(f"{t} table: " + ", ".join(f"{g} {100 * trial.outcomes.table(t)[g]:.1f}%" for g in GROUPS) for t in ("tvt", "everest2", "coapt")) + " (secondary MR reads coapt, primary MR " + trial.outcomes.primary(trial.population.sources) + "); HF hospitalisation " + ", ".join(f"{g} {100 * trial.outcomes.hfh_1y[g]:.1f}%" for g in GROUPS) + " (TVT overall rate shared out with COAPT's relative risks by 30-day MR). Model-expected intervals: outcome-model rates drawn from Beta distributions with assumed effective sample sizes.</p>")
    parts.append(_throughput_html(man))
    parts.append("<h2>Sources</h2><ol>" + "".join(f"<li>{html.escape(r)}</li>" for r in refs) + "</ol>")
    parts.append("<details><summary>Trial configuration</summary><pre>" + html.escape(json.dumps(trial.model_dump(mode="json"), indent=1)) + "</pre></details></body></html>")
    (out / "report.html").write_text("\n".join(parts), encoding="utf-8")
    return {"html": out / "report.html", "summary": out / "summary.csv", "paired": out / "paired.csv"}
