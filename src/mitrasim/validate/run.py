"""``mitrasim validate``: run every comparator's trial, compute the endpoints, write the credibility report.

Output folder::

    DIR/validate-manifest.json       comparator-file hash, mitrasim version, stages finished
    DIR/trials/NAME-nN/              each comparator's trial (mitrasim.cohort.trial: chunks, manifest)
    DIR/verification.json            code verification (mitrasim.validate.verification)
    DIR/sensitivity.json             Sobol analysis (mitrasim.validate.sensitivity)
    DIR/summary.json                 everything the report shows, machine-readable
    DIR/validation.csv               the validation table, one row per endpoint category
    DIR/report.html                  the report (mitrasim.validate.report)

Resume: the trials run through :func:`mitrasim.cohort.trial.run_trial` with ``resume=True`` (finished
chunks are skipped, a half-written chunk is recomputed), and each finished stage is stored with the key
of its inputs and reused when the key matches.  So an interrupted run, started again with the same
command, continues where it stopped.  A folder holding other files, or the run of another comparator
file, is refused and nothing in it is touched.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mitrasim
from mitrasim import citations
from mitrasim.cohort.trial import (
    CohortSolver,
    Trial,
    parse_trial,
    read_results,
    run_trial,
)
from mitrasim.errors import InputError
from mitrasim.validate.applicability import applicability
from mitrasim.validate.columns import arm_data
from mitrasim.validate.endpoints import EndpointRow, compute_endpoint
from mitrasim.validate.schema import Comparator, ComparatorFile, load_comparators
from mitrasim.validate.sensitivity import run_sensitivity
from mitrasim.validate.verification import code_verification

__all__ = ["MANIFEST", "comparator_trial", "run_validation"]

MANIFEST = "validate-manifest.json"


def comparator_trial(cf: ComparatorFile, comp: Comparator, n: int | None) -> Trial:
    """The trial of one comparator: its population, one arm with its strategy, the file's seed."""
    n_patients = n or comp.n_patients or cf.defaults.n_patients
    return parse_trial({
        "name": f"validate-{comp.name}",
        "description": f"comparator {comp.name} ({comp.study})",
        "population": comp.population,
        "n_patients": n_patients,
        "seed": cf.defaults.seed,
        "chunk_size": min(cf.defaults.chunk_size, n_patients),
        "arms": [{"name": comp.name, "strategy": comp.strategy}],
        "outcomes": comp.outcomes,
    })  # fmt: skip


def _key(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _atomic_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(clean(data), indent=1), encoding="utf-8")
    os.replace(tmp, path)


def clean(x: Any) -> Any:
    """JSON-safe copy: a non-finite float becomes ``null`` (documented as 'not applicable')."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    return x


def _prepare(out: Path, cf: ComparatorFile) -> dict[str, Any]:
    man_path = out / MANIFEST
    if man_path.exists():
        try:
            man = json.loads(man_path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise InputError("--out", str(out), "a validation folder with a readable validate-manifest.json", str(e)) from None
        if man.get("comparators_hash") != cf.hash():
            raise InputError("--out", str(out), "a new folder, or the folder of this same comparator file", "it holds the run of another comparator file; nothing was changed")
        if man.get("version") != mitrasim.__version__:
            raise InputError("--out", str(out), f"a run made with mitrasim {mitrasim.__version__}", f"it was made with {man.get('version')}; nothing was changed")
        return man
    if out.exists() and any(out.iterdir()):
        raise InputError("--out", str(out), "an empty or new folder, or a validation folder", f"it holds other files: {sorted(p.name for p in out.iterdir())[:5]}")
    out.mkdir(parents=True, exist_ok=True)
    man = {"format": "mitrasim-validate/1", "comparators_hash": cf.hash(), "version": mitrasim.__version__, "stages": {}}
    _atomic_json(man_path, man)
    return man


def _stage(out: Path, man: dict[str, Any], name: str, key: str, compute: Callable[[], Any]) -> Any:
    """A stored stage result when its key matches, else computed and stored."""
    path = out / f"{name}.json"
    if man["stages"].get(name) == key and path.exists():
        return json.loads(path.read_text())
    data = clean(compute())
    _atomic_json(path, data)
    man["stages"][name] = key
    _atomic_json(out / MANIFEST, man)
    return data


def run_validation(
    comparators: str | Path | ComparatorFile,
    out: str | Path,
    *,
    n: int | None = None,
    dask_local: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    sensitivity: bool = True,
    on_stage: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the validation of a comparator file into ``out``; return the summary."""
    from mitrasim.validate.report import write_report

    if scheduler and dask_local:
        raise InputError("--scheduler", scheduler, "either --scheduler or --dask-local, not both")
    cf = comparators if isinstance(comparators, ComparatorFile) else load_comparators(comparators)
    out = Path(out)
    man = _prepare(out, cf)
    citations.cite("asme_vv40_2018", "fda2023_cms_credibility")
    trials: dict[str, Trial] = {c.name: comparator_trial(cf, c, n) for c in cf.comparators}
    rows: list[EndpointRow] = []
    trial_info = []
    for comp in cf.comparators:
        trial = trials[comp.name]
        tdir = out / "trials" / f"{comp.name}-n{trial.n_patients}"
        tdir.parent.mkdir(exist_ok=True)  # the trial runner wants an existing parent folder
        res = run_trial(trial, tdir, resume=True, scheduler=scheduler, dask_local=dask_local, progress=progress)
        table, _ = read_results(tdir)
        data = arm_data(table, comp.name)
        for e in comp.endpoints:
            rows.extend(compute_endpoint(comp.name, e, data))
        trial_info.append({"comparator": comp.name, "study": comp.study, "population": comp.population.name, "n_patients": trial.n_patients,
                           "folder": str(tdir.relative_to(out)), "chunks_run": res["chunks_run"], "chunks_skipped": res["chunks_skipped"], "seconds": res["seconds"]})
        if on_stage:
            on_stage(f"trial {comp.name}")
    solver: CohortSolver = trials[cf.comparators[0].name].solver
    settings = solver.settings()
    ver = _stage(out, man, "verification", _key([mitrasim.__version__, solver.model_dump()]), lambda: code_verification(settings))
    if on_stage:
        on_stage("verification")
    sens = None
    if sensitivity:
        s = cf.sensitivity
        strat = cf.context_of_use.strategy
        sens = _stage(
            out, man, "sensitivity", _key([mitrasim.__version__, s.model_dump(), cf.context_of_use.population.model_dump(mode="json"), strat.model_dump(), solver.model_dump()]),
            lambda: run_sensitivity(cf.context_of_use.population, strat, settings, s.base_samples, s.patients, s.seed),
        )
        if on_stage:
            on_stage("sensitivity")
    appl = applicability(cf.comparators, cf.context_of_use.population, seed=cf.defaults.seed)
    summary = clean({
        "format": "mitrasim-validate-summary/1",
        "mitrasim_version": mitrasim.__version__,
        "comparators_hash": cf.hash(),
        "question_of_interest": cf.question_of_interest,
        "context_of_use": {"description": cf.context_of_use.description, "population": cf.context_of_use.population.name,
                           "strategy": cf.context_of_use.strategy.model_dump()},
        "model_risk": {**cf.model_risk.model_dump(), "level": cf.model_risk.level},
        "trials": trial_info,
        "code_verification": ver,
        "validation": [r.as_dict() for r in rows],
        "sensitivity": sens,
        "applicability": appl,
        "sources": [{"key": s.key, "text": s.format()} for s in citations.used()],
    })  # fmt: skip
    _atomic_json(out / "summary.json", summary)
    write_report(out, summary, cf)
    return summary
