"""Background jobs (trials, sweeps): progress, cancellation, results stored in the database.

A job is an asyncio task in the server's loop that submits its chunks of work to
the :class:`~mitrasim.web.pool.WorkerPool` one after another, so it shares the
pool's bounds with interactive requests and a cancel takes effect between
chunks.  At most ``max_jobs`` run at once.

History is bounded: memory holds only queued and running jobs (a finished job is
read back from the database), and the database keeps the newest ``history``
finished jobs.  A job that was queued or running when the server stopped (crash,
``kill -9``) is marked failed, with that reason, when the next server starts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from mitrasim.web.db import Database

__all__ = ["Job", "JobManager", "TooManyJobs", "JobContext"]


class TooManyJobs(RuntimeError):
    pass


RESTART_REASON = "the server stopped while this job was queued or running; start it again"


@dataclass
class JobContext:
    """Handed to a job's coroutine: report progress, check cancellation."""

    job: "Job"

    def progress(self, fraction: float) -> None:
        self.job.progress = min(1.0, max(0.0, float(fraction)))

    @property
    def cancelled(self) -> bool:
        return self.job.cancel_requested


@dataclass
class Job:
    id: str
    kind: str
    request: dict[str, Any]
    status: str = "queued"  # queued, running, done, failed, cancelled
    progress: float = 0.0
    result: dict[str, Any] | None = None
    error: str | None = None
    cancel_requested: bool = False
    task: asyncio.Task | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "status": self.status, "progress": round(self.progress, 4), "error": self.error, "result": self.result if self.status == "done" else None}


class JobManager:
    """Start, follow and cancel jobs; the finished state is saved in the ``jobs`` table."""

    def __init__(self, db: Database, max_jobs: int = 4, history: int = 200):
        self.db = db
        self.max_jobs = max_jobs
        self.history = history
        self.jobs: dict[str, Job] = {}
        db.fail_unfinished_jobs(RESTART_REASON)
        db.prune_jobs(history)

    def running(self) -> int:
        return sum(1 for j in self.jobs.values() if j.status in ("queued", "running"))

    def start(self, kind: str, request: dict[str, Any], body: Callable[[JobContext], Awaitable[dict[str, Any]]]) -> Job:
        if self.running() >= self.max_jobs:
            raise TooManyJobs(f"{self.max_jobs} jobs already running; wait or cancel one")
        job = Job(id=str(uuid.uuid4()), kind=kind, request=request)
        self.jobs[job.id] = job
        self.db.put_job(job.id, kind, job.status, request)
        job.task = asyncio.get_running_loop().create_task(self._run(job, body))
        return job

    async def _run(self, job: Job, body: Callable[[JobContext], Awaitable[dict[str, Any]]]) -> None:
        job.status = "running"
        try:
            result = await body(JobContext(job))
            if job.cancel_requested:
                job.status = "cancelled"
            else:
                job.status, job.result, job.progress = "done", result, 1.0
        except asyncio.CancelledError:
            job.status = "cancelled"
        except Exception as exc:  # the job's failure is its result; the server keeps serving
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        try:
            self.db.update_job(job.id, status=job.status, progress=job.progress, result=job.result, error=job.error, finished_at=dt.datetime.now(dt.timezone.utc))
            self.db.prune_jobs(self.history)
        finally:
            self.jobs.pop(job.id, None)  # finished: the database has it (bounded memory)

    def get(self, job_id: str) -> dict[str, Any] | None:
        job = self.jobs.get(job_id)
        if job is not None:
            return job.to_dict()
        row = self.db.get_job(job_id)
        if row is None:
            return None
        return {"id": row.id, "kind": row.kind, "status": row.status, "progress": round(row.progress or 0.0, 4), "error": row.error, "result": row.result if row.status == "done" else None}

    def cancel(self, job_id: str) -> dict[str, Any] | None:
        job = self.jobs.get(job_id)
        if job is None:
            return self.get(job_id)
        if job.status in ("queued", "running"):
            job.cancel_requested = True
        return job.to_dict()

    async def shutdown(self) -> None:
        for job in self.jobs.values():
            if job.task is not None and not job.task.done():
                job.cancel_requested = True
                job.task.cancel()
