"""Regenerate the examples' reference results (a deliberate, reviewed change).

    PYTHONPATH=src python3 examples/reference/regenerate.py [NAME ...]

For every shipped example case (``examples/*.yaml``) this runs ``plan`` and ``procedure`` (complications
off, ``seed=None``, as ``examples/README.md`` reports them; and the CLI's default ``seed=0``) and writes
the key results to ``examples/reference/NAME.json``: baseline EROA, RVol, RF, grade, gradient and MVA;
the clips; residual grade, EROA, gradient and MVA; the MVARC endpoints; the planner's best plan.
``tests/test_example_references.py`` compares the current output with these files under tolerances
stated from the physics (engine steady-state tolerance, the valve grid's step); grades, devices and
endpoints exactly.  Run this only when a change of a published number is intended, and review the diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent
SEEDS: dict[str, int | None] = {"complications_off": None, "seed_0": 0}
"""The procedure runs stored: README's (no complication draws) and the CLI's default seed."""


def names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES.glob("*.yaml"))


def _state(s: Any) -> dict[str, Any]:
    return {
        "mr_grade": s.mr_grade, "decision_grade": int(s.decision_grade), "eroa_cm2": s.eroa_cm2, "rvol_ml": s.rvol_ml,
        "rf_pct": s.rf_pct, "mean_gradient_mmhg": s.mean_gradient_mmhg, "mva_cm2": s.mva_cm2, "forward_sv_ml": s.forward_sv_ml,
    }  # fmt: skip


def _procedure(r: Any) -> dict[str, Any]:
    m = r.mvarc
    return {
        "clips": [{"device": c.device, "scallop": c.scallop, "position_mm": c.position_mm, "effective": c.effective} for c in r.clips],
        "final": _state(r.final),
        "stop_reason": r.stop_reason,
        "aborted": r.aborted,
        "complications": sorted(k for k, v in r.complications.items() if v),
        "mvarc": {"residual_mr": m.residual_mr, "iatrogenic_stenosis": m.iatrogenic_stenosis,
                  "technical_success": m.technical.success, "device_success": m.device.success, "procedural_success": m.procedural.success},
    }  # fmt: skip


def _calibration(case: Any) -> dict[str, Any]:
    """The case's calibration: each measurement's residual in SDs (and the fit's message)."""
    from mitrasim.procedure.patient import calibrate_case

    cal = calibrate_case(case)
    return {"message": cal.message, "z": {r["name"]: r["z"] for r in cal.residuals}}


def _intervals(row: dict[str, Any] | None) -> dict[str, Any] | None:
    from mitrasim.procedure.intervals import SHOWN

    return None if row is None else {q: row[q] for q, _, _ in SHOWN}


def _plan(p: Any) -> dict[str, Any]:
    b = p.best
    return {
        "baseline_intervals": _intervals(p.baseline_intervals),
        "best_intervals": _intervals(b.intervals),
        "n_evaluated": p.n_evaluated,
        "best": {"devices": list(b.devices), "scallops": list(b.scallops), "positions_mm": list(b.positions_mm), "mr_grade": b.mr_grade,
                 "decision_grade": b.decision_grade, "eroa_cm2": b.eroa_cm2, "mva_cm2": b.mva_cm2, "mean_gradient_mmhg": b.mean_gradient_mmhg,
                 "rvol_ml": b.rvol_ml, "failure": b.failure},
        "verdicts": {str(k): v for k, v in sorted(p.verdicts.items())},
    }  # fmt: skip


def _valve_model() -> dict[str, dict[str, Any]]:
    """The valve model alone (no engine): the clip-model calibration's typical plan per example."""
    from mitrasim.procedure.clip_calibration import calibration_report

    return {
        r["case"]: {"devices": list(r["devices"]), "positions_mm": r["positions_mm"], "eroa_before_cm2": r["eroa_before"],
                    "mva_before_cm2": r["mva_before"], "eroa_after_cm2": r["eroa_after"], "mva_after_cm2": r["mva_after"]}
        for r in calibration_report().rows
    }  # fmt: skip


def results(selected: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The reference record of each example, computed now (one batched run per seed)."""
    from mitrasim.case import load_case
    from mitrasim.procedure import plan_case, run_procedures

    sel = selected or names()
    cases = [load_case(EXAMPLES / f"{n}.yaml") for n in sel]
    out: dict[str, dict[str, Any]] = {n: {"case": f"examples/{n}.yaml", "procedure": {}} for n in sel}
    for label, seed in SEEDS.items():
        batch = run_procedures(cases, seed=seed, research_below_indication=True)
        for n, r in zip(sel, batch.results):
            out[n]["baseline"] = _state(r.baseline)
            out[n]["procedure"][label] = _procedure(r)
    for n, c in zip(sel, cases):
        out[n]["plan"] = _plan(plan_case(c, research_below_indication=True))
        if c.measurements is not None:
            out[n]["calibration"] = _calibration(c)
    vm = _valve_model()
    for n in sel:
        if n in vm:
            out[n]["valve_model"] = vm[n]
    return out


def _devices(devices: list[str], scallops: list[str]) -> str:
    dev = f"{len(devices)} × {devices[0]}" if len(set(devices)) == 1 else " + ".join(devices)
    return f"{dev} at {'/'.join(dict.fromkeys(scallops))}" if scallops else dev


def _calibration_table(records: dict[str, dict[str, Any]]) -> str:
    """Table 3: each case's calibration (residuals in SDs) and the planner's best plan with its 90 % intervals."""
    from mitrasim.procedure.intervals import SHOWN, format_interval

    t = ["| case | measurements: residual (SD) | largest \\|z\\| | " + " | ".join(f"{lab}: baseline → best plan" for _, lab, _ in SHOWN) + " |",
         "|---|---|---|" + "---|" * len(SHOWN)]  # fmt: skip
    for n, r in records.items():
        c, p = r.get("calibration"), r["plan"]
        if c is None or p.get("best_intervals") is None:
            continue
        z = ", ".join(f"{k} {v:+.1f}" for k, v in c["z"].items())
        cells = [f"{format_interval(p['baseline_intervals'][q], d)} → {format_interval(p['best_intervals'][q], d)}" for q, _, d in SHOWN]
        t.append(f"| `{n}.yaml` | {z} | {max(abs(v) for v in c['z'].values()):.1f} | " + " | ".join(cells) + " |")
    return "\n".join(t)


def tables(records: dict[str, dict[str, Any]]) -> tuple[str, str, str]:
    """The three tables of ``examples/README.md``: the valve model alone, procedure and planner
    (complications off), and the calibration with the best plan's intervals; each number rounded as
    printed there."""
    t1 = ["| file | EROA cm² | MVA cm² | typical plan | EROA after | MVA after |", "|---|---|---|---|---|---|"]
    t2 = ["| case | baseline: MR, EROA, RVol, mean gradient, MVA | procedure: clips | stop | residual MR (EROA) | gradient mmHg | MVA cm² "
          "| MVARC | planner's best |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for n, r in records.items():
        if "valve_model" in r:
            v = r["valve_model"]
            t1.append(f"| `{n}.yaml` | {v['eroa_before_cm2']:.2f} | {v['mva_before_cm2']:.2f} | {_devices(v['devices'], [])} "
                      f"| {v['eroa_after_cm2']:.2f} | {v['mva_after_cm2']:.2f} |")  # fmt: skip
        b, p, best = r["baseline"], r["procedure"]["complications_off"], r["plan"]["best"]
        f, m = p["final"], p["mvarc"]
        clips = _devices([c["device"] for c in p["clips"]], [c["scallop"] for c in p["clips"]]) if p["clips"] else "none"
        mvarc = f"residual MR {m['residual_mr']}, device success {m['device_success']}"
        t2.append(
            f"| `{n}.yaml` | {b['mr_grade']}, {b['eroa_cm2']:.2f} cm², {b['rvol_ml']:.0f} mL, {b['mean_gradient_mmhg']:.1f} mmHg, {b['mva_cm2']:.2f} cm² "
            f"| {clips} | {p['stop_reason']} | {f['mr_grade']} ({f['eroa_cm2']:.2f}) | {f['mean_gradient_mmhg']:.1f} | {f['mva_cm2']:.2f} | {mvarc} "
            f"| {_devices(best['devices'], best['scallops'])}: {best['mr_grade']}, {best['mean_gradient_mmhg']:.1f} mmHg |"
        )
    return "\n".join(t1), "\n".join(t2), _calibration_table(records)


MARKERS = ("<!-- reference table {}: generated by examples/reference/regenerate.py -->", "<!-- end of reference table {} -->")


def readme_with_tables(readme: str, records: dict[str, dict[str, Any]]) -> str:
    """``readme`` with the text between each table's markers replaced by the generated table."""
    for i, table in enumerate(tables(records), start=1):
        start, end = (m.format(i) for m in MARKERS)
        a, b = readme.index(start) + len(start), readme.index(end)
        readme = readme[:a] + "\n" + table + "\n" + readme[b:]
    return readme


def stored() -> dict[str, dict[str, Any]]:
    return {n: json.loads((HERE / f"{n}.json").read_text()) for n in names()}


def main(argv: list[str]) -> None:
    for n, rec in results(argv or None).items():
        path = HERE / f"{n}.json"
        path.write_text(json.dumps(rec, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {path.relative_to(EXAMPLES.parent)}")
    readme = EXAMPLES / "README.md"
    readme.write_text(readme_with_tables(readme.read_text(), stored()))
    print(f"wrote the tables of {readme.relative_to(EXAMPLES.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])
