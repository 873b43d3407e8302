"""Bad input over HTTP → 4xx with a message naming the field; the server keeps serving."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from mitrasim.errors import InputError  # noqa: E402
from mitrasim.web.app import create_app  # noqa: E402
from mitrasim.web.settings import WebSettings, settings_from_env  # noqa: E402

TOKEN = "t0ken-for-tests-only-0123456789"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("webbad") / "web.sqlite3"
    settings = WebSettings(db_url=f"sqlite:///{db}", workers=1, token=TOKEN, max_body_bytes=64 * 1024)
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


def _err(r) -> dict:
    return r.json()["error"]


def test_malformed_json(client: TestClient) -> None:
    r = client.post("/api/simulate", content=b'{"eroa_cm2": [0.2,', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "malformed JSON" in _err(r)["message"]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"eroa_cm2": [3.0]}, "eroa_cm2"),  # engine range
        ({"eroa_cm2": [0.1] * 65}, "eroa_cm2"),  # patients per request
        ({"max_beats": 10_000}, "max_beats"),
        ({"preset": "../../etc/passwd"}, "preset"),
        ({"preset": "nope"}, "preset"),
        ({"overrides": [{"lv_ea_mmhg_ml": -1}]}, "lv_ea_mmhg_ml"),
        ({"unknown": 1}, "unknown"),
        ({"eroa_cm2": [0.1] * 5, "waveforms": True}, "waveforms"),
        ({"eroa_cm2": ["abc"]}, "eroa_cm2.0"),
    ],
)
def test_simulate_out_of_range(client: TestClient, body: dict, field: str) -> None:
    r = client.post("/api/simulate", json=body)
    assert r.status_code == 422, r.text
    assert _err(r)["field"] == field and _err(r)["message"]


def test_case_errors_name_the_case_field(client: TestClient) -> None:
    case = client.get("/api/examples/p2_flail").json()["case"]
    case["valve"]["lesions"][0]["gap_mm"] = 40
    r = client.post("/api/valve/assess", json={"case": case, "clips": []})
    assert r.status_code == 422 and _err(r)["field"] == "valve.lesions.0.gap_mm"
    case = client.get("/api/examples/p2_flail").json()["case"]
    r = client.post("/api/valve/assess", json={"case": case, "clips": [{"device": "XTW", "position_mm": 1.0}]})
    assert r.status_code == 422 and _err(r)["field"] == "clips.0.position_mm" and "coaptation line" in _err(r)["message"]
    r = client.post("/api/valve/assess", json={"case": case, "clips": [{"device": "Mega", "position_mm": 18}]})
    assert r.status_code == 422 and _err(r)["field"] == "clips.0.device"
    r = client.post("/api/cases", json={"name": "", "case": case})
    assert r.status_code == 422 and _err(r)["field"] == "name"


def test_examples_by_name_only(client: TestClient) -> None:
    for name in ("nope", "..%2F..%2Fpyproject", "p2_flail.yaml"):
        r = client.get(f"/api/examples/{name}")
        assert r.status_code in (404, 422), name
    assert client.get("/api/examples/..%2F..%2Fetc%2Fpasswd").status_code in (404, 422)


def test_oversized_body(client: TestClient) -> None:
    big = b'{"eroa_cm2": [' + b"0.1," * 20_000 + b"0.1]}"
    r = client.post("/api/simulate", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than" in _err(r)["message"]

    def chunks():  # no Content-Length: counted while streaming
        for _ in range(100):
            yield b" " * 1024

    r = client.post("/api/simulate", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_token_missing_or_wrong(client: TestClient) -> None:
    r = client.get("/api/health", headers={"Authorization": ""})
    assert r.status_code == 401 and _err(r)["field"] == "authorization" and r.headers["www-authenticate"] == "Bearer"
    r = client.get("/api/health", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and _err(r)["message"] == "wrong token"
    r = client.post("/api/simulate", content=b"{bad", headers={"Authorization": "Basic x", "content-type": "application/json"})
    assert r.status_code == 401  # the token is checked before the body is read
    assert client.get("/").status_code == 200  # the page itself holds no data


def test_not_found_job_and_case(client: TestClient) -> None:
    assert client.get("/api/cases/999999").status_code == 404
    assert client.get("/api/cases/abc").status_code == 422
    assert client.get("/api/jobs/nope").status_code == 404


def test_server_keeps_serving(client: TestClient) -> None:
    r = client.post("/api/simulate", json={"eroa_cm2": [0.2]})
    assert r.status_code == 200
    assert client.get("/api/health").json()["pool"]["restarts"] == 0


def test_non_loopback_host_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MITRASIM_WEB_TOKEN", raising=False)
    with pytest.raises(InputError, match="token"):
        settings_from_env(host="0.0.0.0")
    with pytest.raises(InputError, match="at least 16"):
        settings_from_env(host="0.0.0.0", token="short")
    assert settings_from_env(host="0.0.0.0", token=TOKEN).token == TOKEN
    monkeypatch.setenv("MITRASIM_WEB_TOKEN", TOKEN)
    assert settings_from_env(host="0.0.0.0").token == TOKEN
    assert WebSettings().token is None  # never defaulted


def test_serve_refuses_public_host_without_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from mitrasim.cli import app

    monkeypatch.delenv("MITRASIM_WEB_TOKEN", raising=False)
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert r.exit_code != 0
    assert isinstance(r.exception, InputError) and r.exception.field == "token"


def test_unknown_db_scheme(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="db"):
        WebSettings(db_url=f"file://{tmp_path}").checked()
