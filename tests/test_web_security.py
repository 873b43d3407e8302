"""Web hardening: foreign Host refused, cross-site state change refused, ETag conflicts, bounded
job history, strict JSON on hostile numbers and strings, big ids and far dates, control characters
in names, paging, headers on 500s, tokens, the trial job, and workers gone after ``kill -9``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _web_shared import free_port

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from mitrasim.errors import InputError  # noqa: E402
from mitrasim.web.app import create_app  # noqa: E402
from mitrasim.web.settings import WebSettings, settings_from_env  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASE = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("websec") / "web.sqlite3"
    settings = WebSettings(db_url=f"sqlite:///{db}", workers=1, use_processes=False, job_history=3)
    with TestClient(create_app(settings), base_url=BASE, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def case(client: TestClient) -> dict:
    return client.get("/api/examples/p2_flail").json()["case"]


def _err(r) -> dict:
    return r.json()["error"]


# -- DNS rebinding and cross-site requests ---------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_foreign_host_is_refused(client: TestClient, case: dict, method: str) -> None:
    cid = client.post("/api/cases", json={"name": "keep", "case": case}).json()["id"]
    r = client.request(method, f"/api/cases/{cid}", headers={"Host": "rebind.attacker.example:8000"})
    assert r.status_code == 400 and _err(r)["field"] == "host"
    assert client.get(f"/api/cases/{cid}").status_code == 200  # still there


def test_loopback_names_are_served(client: TestClient) -> None:
    for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000"):
        assert client.get("/api/health", headers={"Host": host}).status_code == 200, host


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}])
def test_cross_site_state_change_is_refused(client: TestClient, case: dict, headers: dict) -> None:
    cid = client.post("/api/cases", json={"name": "keep", "case": case}).json()["id"]
    r = client.delete(f"/api/cases/{cid}", headers=headers)
    assert r.status_code == 403 and _err(r)["field"] == "origin"
    assert client.get(f"/api/cases/{cid}").status_code == 200
    assert client.get("/api/health", headers=headers).status_code == 200  # reads are not state changes


def test_same_origin_state_change_is_served(client: TestClient, case: dict) -> None:
    r = client.post("/api/cases", json={"name": "mine", "case": case}, headers={"Origin": BASE, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 201


def test_configured_name_is_served_and_wildcard_bind_without_names_skips_the_check() -> None:
    s = WebSettings(host="0.0.0.0", token="x" * 20, allowed_hosts=("mitrasim.example.org",))
    assert s.host_allow_list() == frozenset({"mitrasim.example.org"})
    assert WebSettings(host="0.0.0.0", token="x" * 20).host_allow_list() is None
    assert "localhost" in WebSettings().host_allow_list()


# -- lost updates --------------------------------------------------------------------------------
def test_stale_put_is_refused_with_412_and_missing_if_match_with_428(client: TestClient, case: dict) -> None:
    r = client.post("/api/cases", json={"name": "shared", "case": case})
    cid, etag0 = r.json()["id"], r.headers["etag"]
    assert client.get(f"/api/cases/{cid}").headers["etag"] == etag0
    a = client.put(f"/api/cases/{cid}", json={"name": "shared", "case": case, "clips": [{"device": "XTW", "position_mm": 18.5}]}, headers={"If-Match": etag0})
    assert a.status_code == 200 and a.headers["etag"] != etag0
    b = client.put(f"/api/cases/{cid}", json={"name": "shared", "case": case, "clips": []}, headers={"If-Match": etag0})  # second editor, stale
    assert b.status_code == 412 and b.headers["etag"] == a.headers["etag"]
    assert client.get(f"/api/cases/{cid}").json()["clips"] == [{"device": "XTW", "position_mm": 18.5}]  # the first edit survived
    assert client.put(f"/api/cases/{cid}", json={"name": "shared", "case": case}).status_code == 428


# -- hostile numbers, strings, ids, dates, nesting -----------------------------------------------
@pytest.mark.parametrize(
    "body",
    [b'{"eroa_cm2": NaN}', b'{"eroa_cm2": [NaN]}', b'{"eroa_cm2": [Infinity]}', b'{"eroa_cm2": [-Infinity]}', b'{"eroa_cm2": [1e999]}',
     b'{"preset": "\\ud800"}', b'{"eroa_cm2": ["\\udfff"]}', b'{"overrides": [{"\\ud800": 1}]}', b'{"\\ud800": 1}'],
)
def test_hostile_numbers_and_surrogates_are_422_with_strict_json(client: TestClient, body: bytes) -> None:
    r = client.post("/api/simulate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    json.loads(r.content.decode("utf-8"), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))


def test_range_errors_read_in_clinical_units(client: TestClient) -> None:
    r = client.post("/api/simulate", json={"hr_bpm": [500]})
    assert _err(r)["message"] == "hr_bpm: heart rate 500 bpm is outside 30–200 bpm"
    r = client.post("/api/simulate", json={"eroa_cm2": [3]})
    assert "effective regurgitant orifice area 3 cm² is outside 0–2 cm²" in _err(r)["message"]


@pytest.mark.parametrize("path", ["/api/cases/{}", "/api/cases/{}/results"])
def test_ids_beyond_bigint_are_422(client: TestClient, path: str) -> None:
    for cid in (2**63, 10**30, 0, -1):
        assert client.get(path.format(cid)).status_code == 422, cid
    assert client.delete(f"/api/cases/{2**63}").status_code == 422
    assert client.post(f"/api/cases/{2**64}/assess").status_code == 422


@pytest.mark.parametrize("date", ["0001-01-01", "9999-12-31", "1899-12-31"])
def test_far_care_plan_dates_are_422(client: TestClient, date: str) -> None:
    r = client.post("/api/careplan", json={"procedure_date": date})
    assert r.status_code == 422 and _err(r)["field"] == "procedure_date"
    r = client.post("/api/careplan", json={"procedure_date": "2026-01-10", "surgery_date": date})
    assert r.status_code == 422 and _err(r)["field"] == "surgery_date"


def test_deeply_nested_case_is_4xx(client: TestClient) -> None:
    deep: dict = {"a": 1}
    for _ in range(500):
        deep = {"x": deep}
    for path, body in (("/api/valve/assess", {"case": deep}), ("/api/cases", {"name": "deep", "case": deep}), ("/api/plan", {"case": deep})):
        r = client.post(path, json=body)
        assert 400 <= r.status_code < 500, (path, r.status_code)


@pytest.mark.parametrize("name", ["a\x00b", "tab\there", "evil\u202etxt.exe", "\u200f", "   ", "x\ud800"])
def test_control_and_bidi_characters_are_refused_in_case_names(client: TestClient, case: dict, name: str) -> None:
    r = client.post("/api/cases", content=json.dumps({"name": name, "case": case}).encode(), headers={"content-type": "application/json"})
    assert r.status_code == 422 and _err(r)["field"] == "name"


def test_case_list_pages(client: TestClient, case: dict) -> None:
    for i in range(5):
        client.post("/api/cases", json={"name": f"page {i}", "case": case})
    total = client.get("/api/cases").json()["total"]
    seen = []
    offset = 0
    while offset is not None:
        page = client.get("/api/cases", params={"limit": 2, "offset": offset}).json()
        assert len(page["items"]) <= 2
        seen += [c["id"] for c in page["items"]]
        offset = page["next_offset"]
    assert len(seen) == len(set(seen)) == total
    assert client.get("/api/cases", params={"limit": 0}).status_code == 422


# -- 500s keep the headers -----------------------------------------------------------------------
def test_500_reply_carries_the_security_headers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mitrasim.web import services

    def boom(*a, **k):
        raise RuntimeError("a bug")

    monkeypatch.setattr(services, "simulate_patients", boom)
    settings = WebSettings(db_url=f"sqlite:///{tmp_path / 'w.sqlite3'}", workers=1, use_processes=False)
    with TestClient(create_app(settings), base_url=BASE, raise_server_exceptions=False) as c:
        r = c.post("/api/simulate", json={"eroa_cm2": [0.2]})
    assert r.status_code == 500
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"] and r.headers["x-content-type-options"] == "nosniff"
    assert "a bug" not in r.text  # no internals in the reply


# -- tokens ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("token", [" " * 16, "", "sixteen chars 16", "abc\u0000defghijklmnopq"])
def test_blank_or_spaced_tokens_are_refused(token: str) -> None:
    with pytest.raises(InputError, match="token"):
        WebSettings(token=token).checked()


def test_token_from_a_file_or_the_environment_never_argv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "token"
    f.write_text("file-token-0123456789abcdef\n")
    monkeypatch.delenv("MITRASIM_WEB_TOKEN", raising=False)
    assert settings_from_env(token_file=f).token == "file-token-0123456789abcdef"
    monkeypatch.setenv("MITRASIM_WEB_TOKEN", "")  # set but blank: refused, not "no token"
    with pytest.raises(InputError, match="token"):
        settings_from_env()
    from mitrasim.web.commands import serve
    import inspect

    assert "token" not in inspect.signature(serve).parameters  # no --token option


# -- jobs ------------------------------------------------------------------------------------------
def _wait(client: TestClient, job_id: str, timeout_s: float = 120) -> dict:
    t0 = time.time()
    while time.time() - t0 < timeout_s:
        j = client.get(f"/api/jobs/{job_id}").json()
        if j["status"] not in ("queued", "running"):
            return j
        time.sleep(0.2)
    pytest.fail(f"job {job_id} did not finish")


def test_trial_job_finishes_with_a_summary(client: TestClient) -> None:
    spec = {"name": "web", "population": "tvt_mixed", "n_patients": 4, "chunk_size": 4,
            "arms": [{"name": "le2", "strategy": {"stop_rule": "mr_le_2plus", "max_clips": 1}}]}
    r = client.post("/api/jobs/trial", json={"spec": spec, "seed": 3})
    assert r.status_code == 202, r.text
    j = _wait(client, r.json()["id"])
    assert j["status"] == "done", j
    assert j["result"]["trial"]["n_patients"] == 4 and j["result"]["trial"]["seed"] == 3
    assert {row["arm"] for row in j["result"]["summary"]} == {"le2"}


@pytest.mark.parametrize("spec,field", [({"population": "/etc/passwd"}, "spec.population"), ({"population": "tvt_mixed", "n_patients": 10**6}, "spec.n_patients")])
def test_trial_job_refuses_server_files_and_huge_trials(client: TestClient, spec: dict, field: str) -> None:
    base = {"name": "x", "n_patients": 4, "chunk_size": 4, "arms": [{"name": "a", "strategy": {"stop_rule": "mr_le_2plus"}}]}
    r = client.post("/api/jobs/trial", json={"spec": {**base, **spec}})
    assert r.status_code == 422 and _err(r)["field"] == field


def test_job_history_is_bounded_in_memory_and_in_the_database(client: TestClient) -> None:
    app = client.app
    ids = []
    for _ in range(6):
        r = client.post("/api/jobs/sweep", json={"n": 1, "eroa_max_cm2": 0.1})
        ids.append(r.json()["id"])
        _wait(client, ids[-1])
    assert app.state.jobs.jobs == {}  # finished jobs leave memory
    assert app.state.db.count_jobs() <= 3  # settings.job_history
    assert client.get(f"/api/jobs/{ids[-1]}").json()["status"] == "done"
    assert client.get(f"/api/jobs/{ids[0]}").status_code == 404  # pruned


def test_job_left_running_by_a_dead_server_is_marked_failed(tmp_path: Path) -> None:
    from mitrasim.web.db import open_database

    url = f"sqlite:///{tmp_path / 'w.sqlite3'}"
    db = open_database(url)
    db.put_job("00000000-0000-0000-0000-000000000001", "sweep", "running", {})
    settings = WebSettings(db_url=url, workers=1, use_processes=False)
    with TestClient(create_app(settings), base_url=BASE) as c:
        j = c.get("/api/jobs/00000000-0000-0000-0000-000000000001").json()
    assert j["status"] == "failed" and "server stopped" in j["error"]


# -- the server killed with SIGKILL leaves no workers --------------------------------------------
def _descendants(pid: int) -> set[int]:
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        for t in Path(f"/proc/{p}/task").glob("*"):
            f = t / "children"
            if f.exists():
                kids = {int(x) for x in f.read_text().split()}
                out |= kids
                todo += list(kids)
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_workers_end_when_the_server_is_killed(tmp_path: Path) -> None:
    import urllib.request

    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("MITRASIM_WEB_TOKEN", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "mitrasim", "serve", "--port", str(port), "--workers", "1", "--db", f"sqlite:///{tmp_path / 'w.sqlite3'}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        t0 = time.time()
        while time.time() - t0 < 120:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("server did not start")
        kids = _descendants(server.pid)
        assert kids, "the pool should have worker processes"
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        t0 = time.time()
        while time.time() - t0 < 15 and any(_alive(k) for k in kids):
            time.sleep(0.2)
        assert not [k for k in kids if _alive(k)], "workers or resource tracker outlived the server"
    finally:
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_stalled_upload_gets_408_and_is_not_held_open() -> None:
    import asyncio

    from mitrasim.web.security import BodyLimitMiddleware

    async def app(scope, receive, send) -> None:  # reads the whole body, as a route does
        while (await receive()).get("more_body", False):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    parts = [{"type": "http.request", "body": b"{", "more_body": True}]

    async def receive() -> dict:
        if parts:
            return parts.pop()
        await asyncio.sleep(3600)  # the client stalls
        return {"type": "http.disconnect"}

    sent: list[dict] = []

    async def send(m: dict) -> None:
        sent.append(m)

    mw = BodyLimitMiddleware(app, max_bytes=1000, read_timeout_s=0.2)
    t0 = time.time()
    asyncio.run(asyncio.wait_for(mw({"type": "http", "headers": []}, receive, send), timeout=10))
    assert time.time() - t0 < 5
    assert sent[0]["status"] == 408
