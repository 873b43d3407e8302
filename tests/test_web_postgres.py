"""The PostgreSQL URL path: migrations, save and reload a case.

Uses ``$MITRASIM_TEST_POSTGRES_URL`` if set; otherwise starts a throw-away server
with the local ``initdb``/``pg_ctl`` (as the ``postgres`` user when run as root)
on a free loopback port, and stops it after.  Skips, saying why, when neither is
possible or the ``psycopg`` driver is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("fastapi")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root and no runuser to start PostgreSQL as the postgres user")
        return [runuser, "-u", "postgres", "--", *cmd]
    return cmd


def _pg_tool(name: str) -> str | None:
    """A PostgreSQL server tool on PATH, or in Debian's versioned folder."""
    import glob

    found = shutil.which(name)
    if found:
        return found
    cands = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return cands[-1] if cands else None


@pytest.fixture(scope="module")
def pg_url():
    url = os.environ.get("MITRASIM_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    pytest.importorskip("psycopg", reason="the psycopg driver is needed for a PostgreSQL URL")
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("no MITRASIM_TEST_POSTGRES_URL and no local initdb/pg_ctl to start a server")
    root = Path(tempfile.mkdtemp(prefix="mitrasim-pg-"))
    root.chmod(0o777)
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = _free_port()
    r = subprocess.run(_as_postgres([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]), capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        pytest.skip(f"initdb failed: {r.stderr.strip()[-300:]}")
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    r = subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "-t", "60", "start"]), capture_output=True, text=True, timeout=90)
    if r.returncode != 0:
        pytest.skip(f"pg_ctl start failed: {r.stderr.strip()[-300:]}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def test_postgres_url_migrates_saves_and_reloads(pg_url: str) -> None:
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine, text

    from mitrasim.web.app import create_app
    from mitrasim.web.settings import WebSettings

    settings = WebSettings(db_url=pg_url, workers=1, use_processes=False)
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as c:
        case = c.get("/api/examples/p2_flail").json()["case"]
        r = c.post("/api/cases", json={"name": "on postgres", "case": case, "clips": [{"device": "NT", "position_mm": 18}]})
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as c:  # a second start: upgrade head is a no-op
        got = c.get(f"/api/cases/{cid}").json()
        assert got["name"] == "on postgres" and got["clips"][0]["device"] == "NT"
    eng = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    with eng.connect() as con:
        assert con.execute(text("select version_num from alembic_version")).scalar() == "0001"
    eng.dispose()
