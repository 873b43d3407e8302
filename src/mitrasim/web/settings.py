"""Settings of the web application: where it listens, its database, its token and its limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from mitrasim.errors import InputError

__all__ = ["WebSettings", "LOOPBACK_HOSTS", "default_db_url", "settings_from_env", "read_token_file"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""Hosts on which the app may run without a token."""

WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
TOKEN_ENV = "MITRASIM_WEB_TOKEN"
TOKEN_FILE_ENV = "MITRASIM_WEB_TOKEN_FILE"
DB_ENV = "MITRASIM_WEB_DB"
MIN_TOKEN_CHARS = 16


def default_db_url() -> str:
    """SQLite file in the user's data folder (``~/.local/share/mitrasim/web.sqlite3``)."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "mitrasim"
    return f"sqlite:///{base / 'web.sqlite3'}"


@dataclass(frozen=True)
class WebSettings:
    """Everything ``create_app`` needs; every limit is enforced at the edge."""

    host: str = "127.0.0.1"
    port: int = 8000
    db_url: str = field(default_factory=default_db_url)
    token: str | None = None
    workers: int = 2
    """Worker processes for simulation work (warm: the compiled engine is loaded once per worker)."""
    queue_limit: int = 64
    """Requests waiting for or running in the pool; beyond it the API answers 503 (retry)."""
    task_timeout_s: float = 30.0
    """Longest one simulation task may run; past it the pool is restarted and the request gets 504."""
    max_body_bytes: int = 256 * 1024
    body_timeout_s: float = 30.0
    """Longest wait for the next part of a request body (a stalled upload gets 408)."""
    max_patients: int = 64
    max_waveform_patients: int = 4
    max_beats: int = 300
    max_jobs: int = 4
    job_history: int = 200
    """Finished jobs kept (in the database; the oldest are deleted beyond it). Memory holds running jobs only."""
    max_trial_patients: int = 2000
    """Largest virtual trial a web job may run."""
    allowed_hosts: tuple[str, ...] = ()
    """Extra Host names served (e.g. a reverse proxy's public name); the bound host (and, on loopback,
    localhost/127.0.0.1/::1) are always allowed."""
    use_processes: bool = True
    """Process pool (default). ``False`` runs tasks in threads (tests of the HTTP layer only)."""

    def checked(self) -> "WebSettings":
        """Validate: a non-loopback host needs a token; numbers in range."""
        if self.host not in LOOPBACK_HOSTS and not self.token:
            raise InputError("token", None, f"a token (--token or ${TOKEN_ENV}) when host is not loopback", f"host {self.host!r} is reachable from other machines")
        if self.token is not None and (len(self.token) < MIN_TOKEN_CHARS or any(c.isspace() or not c.isprintable() for c in self.token)):
            raise InputError("token", "***", f"at least {MIN_TOKEN_CHARS} printable characters, no spaces")
        if not 1 <= self.port <= 65535:
            raise InputError("port", self.port, "[1, 65535]")
        if not 1 <= self.workers <= 32:
            raise InputError("workers", self.workers, "[1, 32]")
        if not self.db_url.startswith(("sqlite:", "postgresql:", "postgresql+")):
            raise InputError("db", self.db_url.split(":", 1)[0], "sqlite:///FILE or postgresql://...")
        return self

    def host_allow_list(self) -> frozenset[str] | None:
        """Host names the server answers (``None``: bound to every interface with nothing configured)."""
        names = {h.lower().strip("[]") for h in self.allowed_hosts}
        if self.host in WILDCARD_HOSTS:
            return frozenset(names) if names else None
        names.add(self.host.lower().strip("[]"))
        if self.host in LOOPBACK_HOSTS:
            names |= LOOPBACK_HOSTS
        return frozenset(names)

    def with_(self, **kw: object) -> "WebSettings":
        return replace(self, **kw)


def read_token_file(path: str | Path) -> str:
    """The token in ``path`` (surrounding whitespace and the final newline removed)."""
    from mitrasim.files import read_text

    try:
        return read_text(path).strip()
    except OSError as exc:
        raise InputError("token-file", str(path), "a readable file holding the token", exc.strerror) from None


def settings_from_env(token_file: str | Path | None = None, **kw: object) -> WebSettings:
    """Settings from keyword values, falling back to ``$MITRASIM_WEB_TOKEN`` / ``$MITRASIM_WEB_TOKEN_FILE``
    / ``$MITRASIM_WEB_DB``.  The token never comes from the command line (it would show in the process list)."""
    values = {k: v for k, v in kw.items() if v is not None}
    token_file = token_file or os.environ.get(TOKEN_FILE_ENV) or None
    if "token" not in values and token_file:
        values["token"] = read_token_file(token_file)
    if "token" not in values and os.environ.get(TOKEN_ENV) is not None:
        values["token"] = os.environ[TOKEN_ENV]
    if "db_url" not in values and os.environ.get(DB_ENV):
        values["db_url"] = os.environ[DB_ENV]
    return WebSettings(**values).checked()  # type: ignore[arg-type]
