"""The web app's store: cases, results and jobs, through SQLAlchemy 2 (SQLite or PostgreSQL).

The schema is owned by the Alembic migrations in ``migrations/`` (shipped with the
package); :func:`open_database` runs ``upgrade head`` before use.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, create_engine, delete, event, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

__all__ = ["Base", "CaseRow", "ResultRow", "JobRow", "Database", "open_database", "MIGRATIONS_DIR"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    pass


class CaseRow(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)
    case: Mapped[dict[str, Any]] = mapped_column(JSON)
    clips: Mapped[list[Any]] = mapped_column(JSON, default=list)


class ResultRow(Base):
    __tablename__ = "results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)


class JobRow(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(String(2000), nullable=True)


def run_migrations(engine: Engine) -> None:
    """``alembic upgrade head`` on ``engine`` with the packaged scripts."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Database:
    """An engine and a session factory; small typed helpers used by the routes."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessions()

    # -- cases ---------------------------------------------------------------
    def add_case(self, name: str, case: dict[str, Any], clips: list[dict[str, Any]]) -> CaseRow:
        with self.session() as s, s.begin():
            row = CaseRow(name=name, case=case, clips=clips)
            s.add(row)
        return row

    def update_case(self, case_id: int, name: str, case: dict[str, Any], clips: list[dict[str, Any]]) -> CaseRow | None:
        with self.session() as s, s.begin():
            row = s.get(CaseRow, case_id)
            if row is None:
                return None
            row.name, row.case, row.clips = name, case, clips
        return row

    def get_case(self, case_id: int) -> CaseRow | None:
        with self.session() as s:
            return s.get(CaseRow, case_id)

    def list_cases(self, limit: int = 200, offset: int = 0) -> list[CaseRow]:
        with self.session() as s:
            return list(s.scalars(select(CaseRow).order_by(CaseRow.updated_at.desc(), CaseRow.id.desc()).offset(offset).limit(limit)))

    def count_cases(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(CaseRow)) or 0)

    def delete_case(self, case_id: int) -> bool:
        with self.session() as s, s.begin():
            row = s.get(CaseRow, case_id)
            if row is None:
                return False
            s.delete(row)
        return True

    # -- results -------------------------------------------------------------
    def add_result(self, kind: str, request: dict[str, Any], result: dict[str, Any], case_id: int | None = None) -> ResultRow:
        with self.session() as s, s.begin():
            row = ResultRow(kind=kind, request=request, result=result, case_id=case_id)
            s.add(row)
        return row

    def list_results(self, case_id: int) -> list[ResultRow]:
        with self.session() as s:
            return list(s.scalars(select(ResultRow).where(ResultRow.case_id == case_id).order_by(ResultRow.id.desc())))

    # -- jobs ----------------------------------------------------------------
    def put_job(self, job_id: str, kind: str, status: str, request: dict[str, Any]) -> None:
        with self.session() as s, s.begin():
            s.add(JobRow(id=job_id, kind=kind, status=status, request=request))

    def update_job(self, job_id: str, **values: Any) -> None:
        with self.session() as s, s.begin():
            row = s.get(JobRow, job_id)
            if row is not None:
                for k, v in values.items():
                    setattr(row, k, v)

    def get_job(self, job_id: str) -> JobRow | None:
        with self.session() as s:
            return s.get(JobRow, job_id)

    def fail_unfinished_jobs(self, reason: str) -> int:
        """Mark jobs left queued/running by a server that stopped (crash, kill -9) as failed."""
        with self.session() as s, s.begin():
            res = s.execute(update(JobRow).where(JobRow.status.in_(("queued", "running"))).values(status="failed", error=reason, finished_at=_now()))
            return int(res.rowcount or 0)

    def prune_jobs(self, keep: int) -> int:
        """Delete finished jobs beyond the newest ``keep``; returns how many were deleted."""
        with self.session() as s, s.begin():
            finished = select(JobRow.id).where(JobRow.status.not_in(("queued", "running"))).order_by(JobRow.created_at.desc(), JobRow.id.desc()).offset(keep)
            ids = list(s.scalars(finished))
            if ids:
                s.execute(delete(JobRow).where(JobRow.id.in_(ids)))
            return len(ids)

    def count_jobs(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(JobRow)) or 0)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()


def open_database(url: str, create_folder: bool = False) -> Database:
    """Connect, migrate to head, return a :class:`Database`.

    A SQLite file's folder must exist and be writable (``create_folder``: make it, for the
    default location only); an unreachable or refused database is an :class:`InputError`
    naming ``db`` (password hidden), not a traceback.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from mitrasim.errors import InputError

    shown = _redacted(url)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        from mitrasim.files import check_output_file

        f = Path(url.removeprefix("sqlite:///"))
        if create_folder:
            f.parent.mkdir(parents=True, exist_ok=True)
        check_output_file(f, "db")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        engine = create_engine(url, pool_pre_ping=True, **({"connect_args": {"connect_timeout": 10}} if url.startswith("postgresql") else {}))
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        run_migrations(engine)
    except (SQLAlchemyError, OSError, ImportError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        raise InputError("db", shown, "a reachable, writable database (sqlite:///FILE or postgresql://...)", reason) from None
    return Database(engine)


def _redacted(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    cred, at, host = rest.rpartition("@")
    user = cred.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in cred else url
