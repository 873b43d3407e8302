"""The FastAPI application: ``create_app(settings)``.

Routes are thin: validate (pydantic request models + :func:`mitrasim.case.parse_case`),
run the work in the :class:`~mitrasim.web.pool.WorkerPool`, store, answer JSON.
Errors are one JSON shape: ``{"error": {"field", "value", "allowed", "message"}}``,
rendered from :class:`~mitrasim.errors.InputError` (request validation errors are
turned into one by :func:`mitrasim.errors.from_validation_error`, the CLI's
renderer), and every reply is strict JSON (:class:`SafeJSONResponse`: NaN,
Infinity and lone surrogates can never turn a reply into a 500).

Saved cases carry an ``ETag`` (a hash of their content); ``PUT`` needs
``If-Match`` with the current one (428 without, 412 when stale), so two editors
cannot silently overwrite each other.  ``GET /api/cases`` pages with
``limit``/``offset`` and reports ``total``.
"""

from __future__ import annotations

import hashlib
import html
import json
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, AsyncIterator

from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi import Path as FastAPIPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from mitrasim import __version__
from mitrasim.disclaimer import DISCLAIMER
from mitrasim.errors import InputError, from_validation_error, json_safe
from mitrasim.examples_data import EXAMPLES
from mitrasim.examples_data import example_text as _example_text
from mitrasim.web import adapters, services
from mitrasim.web.db import Database, open_database
from mitrasim.web.jobs import JobContext, JobManager, TooManyJobs
from mitrasim.web.pool import ClientGone, PoolBusy, PoolTimeout, WorkerPool
from mitrasim.web.schemas import (
    ERROR_STATUSES,
    AssessRequest,
    CareplanRequest,
    CaseIn,
    ErrorReply,
    GradeRequest,
    PlanRequest,
    SimulateRequest,
    SweepRequest,
    TrialRequest,
)
from mitrasim.web.security import BodyLimitMiddleware, HostOriginGuard, SecurityHeadersMiddleware, token_ok
from mitrasim.web.settings import WebSettings

__all__ = ["create_app", "EXAMPLES", "example_text"]


STATIC_DIR = Path(__file__).parent / "static"


def _echo_choices() -> dict[str, list[str]]:
    """Allowed values of every categorical echo sign (the page's selects), from the grading module."""
    from mitrasim.echo.grading import CATEGORICAL, ETIOLOGIES
    from mitrasim.echo.thresholds import GUIDELINES

    return {**{k: list(v) for k, v in CATEGORICAL.items()}, "etiology": list(ETIOLOGIES), "guideline": list(GUIDELINES)}


def example_text(name: str) -> str:
    """The shipped example ``name`` (one of :data:`EXAMPLES`), read from the package's data."""
    return _example_text(name)  # package data missing from an install is a bug, not a feature left out


class SafeJSONResponse(JSONResponse):
    """Strict JSON that cannot fail: non-finite floats become ``null`` (flagged by the route where
    they are results), lone surrogates are escaped (:func:`mitrasim.errors.json_safe`)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(json_safe(content), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _error(status: int, field: str, message: str, value: Any = None, allowed: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    err: dict[str, Any] = {"field": field, "message": message}
    if value is not None:
        err["value"] = value if isinstance(value, (str, int, float, bool)) else repr(value)[:200]
    if allowed is not None:
        err["allowed"] = allowed
    return SafeJSONResponse({"error": err}, status_code=status, headers=headers)


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    """The request's first validation error, as the CLI shows it (one renderer: :mod:`mitrasim.errors`)."""
    errs = exc.errors()
    e = errs[0]
    if e.get("type") == "json_invalid":
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        ctx = e.get("ctx") or {}
        return _error(400, "body", f"malformed JSON: {ctx.get('error', e.get('msg'))} (at position {loc[-1] if loc else '?'})")
    ie = from_validation_error(exc, skip=("body", "path", "query", "header", "__root__"))
    if isinstance(ie.value, (dict, list)):
        ie.value = None
    return SafeJSONResponse({"error": ie.to_dict()}, status_code=422)


#: Largest integer id accepted in a path (a SQL BIGINT); beyond it a request is refused (422), not a 500.
MAX_ID = 2**63 - 1
CaseId = Annotated[int, FastAPIPath(ge=1, le=MAX_ID, description="a saved case's id")]


def _etag(row: Any) -> str:
    """A strong ETag of a saved case: SHA-256 of its name, case and clips (canonical JSON)."""
    body = json.dumps({"name": row.name, "case": row.case, "clips": row.clips}, sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] + '"'


class _TokenMiddleware:
    """Every ``/api`` request needs ``Authorization: Bearer <token>`` when a token is configured."""

    def __init__(self, app: Any, token: str | None):
        self.app = app
        self.token = token

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.token is not None and scope["path"].startswith("/api"):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            ok, reason = token_ok(self.token, headers.get("authorization"))
            if not ok:
                resp = _error(401, "authorization", reason, headers={"WWW-Authenticate": "Bearer"})
                await resp(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _case_dict(data: dict[str, Any]) -> dict[str, Any]:
    """Validate a case mapping; return it as normalised JSON (same validator as the CLI)."""
    from mitrasim.case import parse_case

    return parse_case(data).model_dump(mode="json", exclude_none=True)


def create_app(settings: WebSettings | None = None, *, db: Database | None = None) -> FastAPI:
    """Build the app: database (migrated to head), worker pool, jobs, routes, page, guards."""
    settings = (settings or WebSettings()).checked()
    pool = WorkerPool(settings.workers, settings.queue_limit, settings.task_timeout_s, settings.use_processes)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = db or open_database(settings.db_url)
        app.state.jobs = JobManager(app.state.db, settings.max_jobs, settings.job_history)
        pool.start(warm=True)
        try:
            yield
        finally:
            await app.state.jobs.shutdown()
            pool.shutdown()

    app = FastAPI(
        title="mitrasim",
        version=__version__,
        description="Mitral regurgitation and TEER simulation API. " + DISCLAIMER,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        default_response_class=SafeJSONResponse,
    )
    app.state.settings = settings
    app.state.pool = pool

    # -- errors ------------------------------------------------------------------
    @app.exception_handler(InputError)
    async def _input_error(_: Request, exc: InputError) -> JSONResponse:
        return SafeJSONResponse({"error": exc.to_dict()}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(PoolBusy)
    async def _busy(_: Request, exc: PoolBusy) -> JSONResponse:
        return _error(503, "server", str(exc), headers={"Retry-After": "2"})

    @app.exception_handler(PoolTimeout)
    async def _timeout(_: Request, exc: PoolTimeout) -> JSONResponse:
        return _error(504, "server", str(exc))

    @app.exception_handler(ClientGone)
    async def _gone(_: Request, exc: ClientGone) -> JSONResponse:
        return _error(400, "client", str(exc))  # nobody reads it: the client has gone

    @app.exception_handler(TooManyJobs)
    async def _too_many(_: Request, exc: TooManyJobs) -> JSONResponse:
        return _error(429, "jobs", str(exc), headers={"Retry-After": "5"})

    api = APIRouter(prefix="/api", responses={code: {"model": ErrorReply, "description": "error (one line: field, value, allowed)"} for code in ERROR_STATUSES})

    def _db(request: Request) -> Database:
        return request.app.state.db

    # -- reference data ------------------------------------------------------------
    @api.get("/health", summary="Liveness, version and worker-pool state")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "pool": pool.stats(), "disclaimer": DISCLAIMER}

    @api.get("/meta", summary="Presets, devices, examples, limits, and the echo signs' allowed values and labels")
    async def meta() -> dict[str, Any]:
        from mitrasim.devices.catalogue import DEFAULT_CATALOGUE
        from mitrasim.echo.thresholds import GUIDELINE_LABELS
        from mitrasim.physiology.parameter_sets import PARAMETER_SETS
        from mitrasim.physiology.preset_names import DEFAULT_PRESET, PRESET_LABELS

        return {
            "presets": sorted(PARAMETER_SETS),
            "preset_labels": {n: PRESET_LABELS[n] for n in sorted(PARAMETER_SETS)},  # regazzoni2022: the paper's set, not a normal heart
            "default_preset": DEFAULT_PRESET,
            "devices": [{"name": d.name, "family": d.family, "width_mm": d.width_mm, "arm_length_mm": d.arm_length_mm, "note": d.note} for d in DEFAULT_CATALOGUE.values()],
            "examples": list(EXAMPLES),
            "limits": {"patients": settings.max_patients, "waveform_patients": settings.max_waveform_patients, "beats": settings.max_beats, "body_bytes": settings.max_body_bytes, "clips": 6},
            "echo_choices": _echo_choices(),
            "echo_labels": {"guideline": dict(GUIDELINE_LABELS)},  # the one name of each guideline set (as the command line)
            "disclaimer": DISCLAIMER,
        }

    @api.get("/examples/{name}", summary="A shipped example case, by name")
    async def example(name: str) -> dict[str, Any]:
        import yaml

        data = yaml.safe_load(example_text(name))
        return {"name": name, "case": _case_dict(data)}

    # -- computation -----------------------------------------------------------------
    @api.post("/simulate", summary="Engine steady beat for a batch of patients")
    async def simulate(req: SimulateRequest, request: Request) -> dict[str, Any]:
        n = max([len(x) for x in (req.overrides, req.eroa_cm2, req.mva_cm2, req.hr_bpm) if x] or [1])
        if n > settings.max_patients:
            raise InputError("patients", n, f"at most {settings.max_patients} per request")
        if req.waveforms and n > settings.max_waveform_patients:
            raise InputError("waveforms", n, f"at most {settings.max_waveform_patients} patients with waveforms")
        return await pool.run(services.simulate_patients, req.preset, req.overrides, req.eroa_cm2, req.mva_cm2, req.hr_bpm, req.waveforms, min(req.max_beats, settings.max_beats),
                              disconnected=request.is_disconnected)

    @api.post("/grade", summary="Guideline MR grade (and stenosis) from measured echo values")
    async def grade(req: GradeRequest) -> dict[str, Any]:
        from mitrasim.echo.commands import run_grade

        result, sten, _ = run_grade(req.echo)
        out = result.to_dict()
        out["stenosis"] = sten.to_dict() if sten is not None else None
        out["disclaimer"] = DISCLAIMER
        return services._clean(out)

    @api.post("/valve/assess", summary="Valve, beat and echo grade before and after the placed clips")
    async def assess(req: AssessRequest, request: Request) -> dict[str, Any]:
        clips = [c.model_dump() for c in req.clips]
        return await pool.run(services.assess_clips, req.case, clips, settings.max_beats, disconnected=request.is_disconnected)

    @api.post("/plan", summary="The planner's ranking of clip plans (mitrasim.procedure), with the columns its 90 % intervals are shown in")
    async def plan(req: PlanRequest, request: Request) -> dict[str, Any]:
        _case_dict(req.case)
        return await pool.run(adapters.plan_case, req.case, req.seed, req.research_below_indication, disconnected=request.is_disconnected)

    @api.post("/procedure", summary="The procedure clip by clip, with complications for a seed (mitrasim.procedure) and the columns of its 90 % intervals")
    async def procedure(req: PlanRequest, request: Request) -> dict[str, Any]:
        _case_dict(req.case)
        return await pool.run(adapters.run_procedure_case, req.case, req.seed, req.research_below_indication, disconnected=request.is_disconnected)

    @api.post("/careplan", summary="The patient's care plan (JSON) and the printable guide (HTML)")
    async def careplan(req: CareplanRequest) -> dict[str, Any]:
        from mitrasim.pathway import build_careplan, careplan_json, facts_from_dict, load_protocol, outcome_from_dict, render_guide_html

        facts = facts_from_dict(req.model_dump(include={"procedure_date", "lang", "anticoagulated", "dental_work_date", "surgery_date"}))
        outcome = None
        if req.case is not None and req.clips:
            res = await pool.run(services.assess_clips, req.case, [c.model_dump() for c in req.clips], settings.max_beats)
            outcome = outcome_from_dict(_outcome(res))
        plan = build_careplan(facts, load_protocol(None))
        # the patient's guide never carries the simulated result; careplan.case is for the clinician
        return {"careplan": services._clean(careplan_json(plan, outcome)), "guide_html": render_guide_html(plan)}

    # -- cases -------------------------------------------------------------------------
    @api.get("/cases", summary="Saved cases, newest first, a page at a time")
    async def list_cases(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=200, description="cases per page")] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_ID, description="cases to skip")] = 0,
    ) -> dict[str, Any]:
        db_ = _db(request)
        items = [{"id": r.id, "name": r.name, "updated_at": r.updated_at.isoformat(), "clips": len(r.clips or [])} for r in db_.list_cases(limit, offset)]
        total = db_.count_cases()
        return {"items": items, "total": total, "limit": limit, "offset": offset, "next_offset": offset + len(items) if offset + len(items) < total else None}

    @api.post("/cases", status_code=201, summary="Save a case (validated) with its clips and, if given, the latest result")
    async def save_case(req: CaseIn, request: Request) -> dict[str, Any]:
        case = _case_dict(req.case)
        row = _db(request).add_case(req.name, case, [c.model_dump() for c in req.clips])
        return SafeJSONResponse({"id": row.id, "name": row.name}, status_code=201, headers={"ETag": _etag(row)})

    @api.put("/cases/{case_id}", summary="Update a saved case (If-Match: its current ETag)")
    async def update_case(case_id: CaseId, req: CaseIn, request: Request, if_match: Annotated[str | None, Header(max_length=200)] = None) -> Any:
        db_ = _db(request)
        current = db_.get_case(case_id)
        if current is None:
            return _error(404, "case_id", f"no saved case {case_id}", value=case_id)
        if if_match is None:
            return _error(428, "if-match", "If-Match is required: send the ETag of the case as you loaded it (GET /api/cases/{id})")
        if if_match.strip() not in ("*", _etag(current)):
            return _error(412, "if-match", "the case was changed by someone else since you loaded it; reload it and apply your change again",
                          headers={"ETag": _etag(current)})
        case = _case_dict(req.case)
        row = db_.update_case(case_id, req.name, case, [c.model_dump() for c in req.clips])
        if row is None:
            return _error(404, "case_id", f"no saved case {case_id}", value=case_id)
        return SafeJSONResponse({"id": row.id, "name": row.name}, headers={"ETag": _etag(row)})

    @api.get("/cases/{case_id}", summary="One saved case (with its ETag)")
    async def get_case(case_id: CaseId, request: Request) -> Any:
        row = _db(request).get_case(case_id)
        if row is None:
            return _error(404, "case_id", f"no saved case {case_id}", value=case_id)
        body = {"id": row.id, "name": row.name, "case": row.case, "clips": row.clips, "updated_at": row.updated_at.isoformat(), "etag": _etag(row)}
        return SafeJSONResponse(body, headers={"ETag": _etag(row)})

    @api.delete("/cases/{case_id}", status_code=204, summary="Delete a saved case and its results")
    async def delete_case(case_id: CaseId, request: Request) -> Response:
        if not _db(request).delete_case(case_id):
            return _error(404, "case_id", f"no saved case {case_id}", value=case_id)
        return Response(status_code=204)

    @api.post("/cases/{case_id}/assess", summary="Assess the saved case's clips and store the result")
    async def assess_saved(case_id: CaseId, request: Request) -> Any:
        db_ = _db(request)
        row = db_.get_case(case_id)
        if row is None:
            return _error(404, "case_id", f"no saved case {case_id}", value=case_id)
        res = await pool.run(services.assess_clips, row.case, row.clips, settings.max_beats)
        stored = db_.add_result("assess", {"clips": row.clips}, res, case_id=case_id)
        return {"result_id": stored.id, **res}

    @api.get("/cases/{case_id}/results", summary="Stored results of a saved case (summaries)")
    async def case_results(case_id: CaseId, request: Request) -> list[dict[str, Any]]:
        return [_result_summary(r) for r in _db(request).list_results(case_id)]

    # -- jobs ----------------------------------------------------------------------------
    @api.post("/jobs/sweep", status_code=202, summary="Background job: steady beat over an EROA range")
    async def start_sweep(req: SweepRequest, request: Request) -> dict[str, Any]:
        services.resolve_preset(req.preset)
        if req.eroa_max_cm2 < req.eroa_min_cm2:
            raise InputError("eroa_max_cm2", req.eroa_max_cm2, f">= eroa_min_cm2 = {req.eroa_min_cm2:g}")
        job = request.app.state.jobs.start("sweep", req.model_dump(), _sweep_body(pool, req, settings.max_beats))
        return job.to_dict()

    @api.post("/jobs/trial", status_code=202, summary="Background job: a virtual trial (mitrasim.cohort, issue 5)")
    async def start_trial(req: TrialRequest, request: Request) -> dict[str, Any]:
        _web_trial(req.spec, req.seed, settings.max_trial_patients)  # refused now (422), not as a failed job
        job = request.app.state.jobs.start("trial", req.model_dump(), _trial_body(pool, req, settings.max_trial_patients))
        return job.to_dict()

    @api.get("/jobs/{job_id}", summary="A job's status, progress and (when done) result")
    async def get_job(job_id: str, request: Request) -> Any:
        j = request.app.state.jobs.get(job_id)
        return j if j is not None else _error(404, "job_id", f"no job {job_id}", value=job_id[:64])

    @api.delete("/jobs/{job_id}", summary="Cancel a job (takes effect between chunks)")
    async def cancel_job(job_id: str, request: Request) -> Any:
        j = request.app.state.jobs.cancel(job_id)
        return j if j is not None else _error(404, "job_id", f"no job {job_id}", value=job_id[:64])

    app.include_router(api)

    # -- page and docs --------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse((STATIC_DIR / "index.html").read_text(encoding="utf-8"))

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    async def plotly_js() -> Response:
        return Response(_plotly_js(), media_type="application/javascript", headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(_docs_html(app.openapi()))

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    app.add_middleware(_TokenMiddleware, token=settings.token)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, read_timeout_s=settings.body_timeout_s)
    app.add_middleware(HostOriginGuard, allowed=settings.host_allow_list())
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def _outcome(res: dict[str, Any]) -> dict[str, Any]:
    """A :class:`~mitrasim.pathway.ValveOutcome` mapping from an assess result (for the guide)."""
    from mitrasim.pathway.outcome import grade_or_indeterminate

    b, a = res["before"], res["after"]
    return {
        "eroa_before_cm2": round(b["eroa_cm2"], 3),
        "eroa_after_cm2": round(a["eroa_cm2"], 3),
        "mr_grade_before": grade_or_indeterminate(b["mr_grade"]),  # never a number invented for an indeterminate grade
        "mr_grade_after": grade_or_indeterminate(a["mr_grade"]),
        "mean_gradient_after_mmhg": round(a["mean_gradient_mmhg"], 2),
        "mva_after_cm2": round(max(a["mva_cm2"], 0.01), 2),
        "coaptation_length_mm": res["valve"]["line_length_mm"],
        "clips": [{"position_mm": c["position_mm"], "width_mm": c["width_mm"], "device": c["device"]} for c in res["clips"]],
    }


def _result_summary(r: Any) -> dict[str, Any]:
    res = r.result or {}
    def pick(side: str) -> dict[str, Any] | None:
        s = res.get(side)
        return None if s is None else {k: s.get(k) for k in ("eroa_cm2", "mva_cm2", "mr_grade", "mean_gradient_mmhg")}
    return {"id": r.id, "kind": r.kind, "created_at": r.created_at.isoformat(), "before": pick("before"), "after": pick("after")}


def _sweep_body(pool: WorkerPool, req: SweepRequest, max_beats: int):
    import numpy as np

    async def body(ctx: JobContext) -> dict[str, Any]:
        eroa = np.linspace(req.eroa_min_cm2, req.eroa_max_cm2, req.n)
        rows: list[dict[str, Any]] = []
        for start in range(0, req.n, req.chunk):
            if ctx.cancelled:
                break
            part = [float(x) for x in eroa[start:start + req.chunk]]
            res = await pool.run(services.simulate_patients, req.preset, None, part, [req.mva_cm2], None, False, max_beats)
            for x, p in zip(part, res["patients"]):
                m = p["metrics"]
                rows.append({"eroa_cm2": x, **{k: m[k] for k in ("rvol_ml", "rf_pct", "ef_pct", "la_mean_mmhg", "mean_gradient_mmhg", "co_l_min")}})
            ctx.progress(len(rows) / req.n)
        return {"rows": rows, "complete": len(rows) == req.n}

    return body


def _trial_body(pool: WorkerPool, req: TrialRequest, max_patients: int):
    async def body(ctx: JobContext) -> dict[str, Any]:
        return await pool.run(_run_trial, req.spec, req.seed, max_patients)

    return body


def _web_trial(spec: dict[str, Any], seed: int, max_patients: int) -> Any:
    """The trial of a web request: a shipped population by name or an inline one (never a file on
    the server), the request's seed, at most ``max_patients`` patients."""
    from mitrasim.cohort.population import SHIPPED_POPULATIONS
    from mitrasim.cohort.trial import parse_trial

    pop = spec.get("population")
    if isinstance(pop, str) and pop not in SHIPPED_POPULATIONS:
        raise InputError("spec.population", pop, f"a shipped population ({', '.join(SHIPPED_POPULATIONS)}) or an inline mapping")
    trial = parse_trial({**spec, "seed": seed}, base_dir=None, source="request")
    if trial.n_patients > max_patients:
        raise InputError("spec.n_patients", trial.n_patients, f"at most {max_patients} patients in a web job (run larger trials with `mitrasim trial`)")
    return trial


def _run_trial(spec: dict[str, Any], seed: int, max_patients: int) -> dict[str, Any]:
    """Run the trial into a temporary folder (in a worker); its summary and paired differences."""
    import tempfile

    from mitrasim.cohort.report import paired_differences, summarize
    from mitrasim.cohort.trial import read_results

    trial = _web_trial(spec, seed, max_patients)
    run_trial = adapters.trial_runner()
    with tempfile.TemporaryDirectory(prefix="mitrasim-trial-") as d:
        run = run_trial(trial, Path(d) / "out", workers=1, progress=False)
        table, _ = read_results(Path(d) / "out")
    return {
        "trial": {"name": trial.name, "n_patients": trial.n_patients, "seed": trial.seed, "arms": [a.name for a in trial.arms],
                  "seconds": run["seconds"]},
        "summary": services._clean(summarize(table, trial)),
        "paired": services._clean(paired_differences(table, trial)),
    }


def _plotly_js() -> bytes:
    """plotly.js from the installed ``plotly`` package (offline; cached after the first read)."""
    global _PLOTLY_CACHE
    if _PLOTLY_CACHE is None:
        import plotly

        f = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
        if f.is_file():
            _PLOTLY_CACHE = f.read_bytes()
        else:
            from plotly.offline import get_plotlyjs

            _PLOTLY_CACHE = get_plotlyjs().encode()
    return _PLOTLY_CACHE


_PLOTLY_CACHE: bytes | None = None


def _docs_html(spec: dict[str, Any]) -> str:
    """A plain, offline list of the API from its OpenAPI document (no CDN, no script)."""
    rows = []
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td><td>{html.escape(op.get('summary', ''))}</td><td>{html.escape(body.rsplit('/', 1)[-1])}</td></tr>")
    schemas = json.dumps(spec.get("components", {}).get("schemas", {}), indent=1)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>mitrasim API</title>"
        "<link rel='stylesheet' href='/static/app.css'></head><body class='docs'><main><h1>mitrasim API</h1>"
        f"<p>{html.escape(DISCLAIMER)}</p><p>Machine-readable: <a href='/api/openapi.json'>/api/openapi.json</a>. "
        "Send JSON; with a token configured, add <code>Authorization: Bearer TOKEN</code>.</p>"
        "<table><thead><tr><th>method</th><th>path</th><th>what</th><th>body</th></tr></thead><tbody>"
        + "".join(rows)
        + f"</tbody></table><h2>Schemas</h2><pre>{html.escape(schemas)}</pre></main></body></html>"
    )
