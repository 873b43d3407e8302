"""Load test of the web API on loopback: N mixed requests from C concurrent clients, memory before/after.

Starts ``mitrasim serve`` as a separate process (127.0.0.1, a fresh SQLite file in a
temporary folder, ``--workers`` warm worker processes) unless ``--url`` points at a
running loopback server, then sends ``--requests`` requests from ``--clients``
httpx.AsyncClient tasks over a fixed mix of routes (engine, grade, valve assess,
reference data, examples, case save/list/get, a bad request answered 422).
Reports p50/p95/max latency per route and overall, throughput, the error count
(a 5xx, an unexpected status or a transport error) and the server's resident
memory (server + its workers, from /proc) before and after.  Exits 1 on any error.

    python benchmarks/web_load.py --requests 2000 --clients 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

#: (name, weight, method, path, body, expected status).  ``{case}`` is a saved case's id.
MIX = (
    ("simulate", 30, "POST", "/api/simulate", "simulate", 200),
    ("grade", 15, "POST", "/api/grade", {"echo": {"eroa_cm2": 0.35, "rvol_ml": 55, "etiology": "primary"}}, 200),
    ("assess", 5, "POST", "/api/valve/assess", "assess", 200),
    ("health", 10, "GET", "/api/health", None, 200),
    ("meta", 10, "GET", "/api/meta", None, 200),
    ("example", 10, "GET", "/api/examples/p2_flail", None, 200),
    ("cases_list", 8, "GET", "/api/cases?limit=20", None, 200),
    ("case_get", 5, "GET", "/api/cases/{case}", None, 200),
    ("case_save", 2, "POST", "/api/cases", "save", 201),
    ("bad_input", 5, "POST", "/api/simulate", {"hr_bpm": [500]}, 422),
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int) -> tuple[str, subprocess.Popen]:
    import httpx

    db = Path(tempfile.mkdtemp(prefix="mitrasim-load-")) / "web.sqlite3"
    port = _free_port()
    src = Path(__file__).resolve().parents[1] / "src"
    env = dict(os.environ, PYTHONPATH=str(src) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("MITRASIM_WEB_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "mitrasim", "serve", "--port", str(port), "--workers", str(workers), "--db", f"sqlite:///{db}"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    t0 = time.time()
    while time.time() - t0 < 180:
        try:
            if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            time.sleep(0.3)
        if proc.poll() is not None:
            raise RuntimeError("server exited: " + proc.stderr.read().decode()[-2000:])
    proc.kill()
    raise RuntimeError("server did not start in 180 s")


def rss_mb(pid: int) -> float | None:
    """Resident memory of ``pid`` and all its descendants (Linux /proc), MB."""
    if not Path("/proc").exists():
        return None
    pids, todo = set(), [pid]
    while todo:
        p = todo.pop()
        pids.add(p)
        for t in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(x) for x in (t / "children").read_text().split()]
            except OSError:
                pass
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def _schedule(n: int) -> list[int]:
    """Route index of each request: the MIX weights, interleaved deterministically."""
    weights = [m[1] for m in MIX]
    total = sum(weights)
    out, acc = [], [0.0] * len(MIX)
    for _ in range(n):
        for k, w in enumerate(weights):
            acc[k] += w / total
        k = max(range(len(MIX)), key=lambda j: acc[j])
        acc[k] -= 1.0
        out.append(k)
    return out


async def run_load(url: str, n: int, clients: int, max_seconds: float, token: str | None, case: dict, case_id: int) -> dict:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for i, k in enumerate(_schedule(n)):
        queue.put_nowait((i, k))
    lat: dict[str, list[float]] = {m[0]: [] for m in MIX}
    errors: list[str] = []
    deadline = time.perf_counter() + max_seconds

    def body(spec, i: int):
        if spec == "simulate":
            return {"preset": "regazzoni2022", "eroa_cm2": [round(0.6 * (i % 50) / 49, 4)], "mva_cm2": [4.0]}
        if spec == "assess":
            return {"case": case, "clips": [{"device": "XTW", "position_mm": 17.0 + (i % 5) * 0.5}]}
        if spec == "save":
            return {"name": f"load {i}", "case": case, "clips": []}
        return spec

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120.0) as c:
            while time.perf_counter() < deadline:
                try:
                    i, k = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                name, _, method, path, spec, expected = MIX[k]
                t = time.perf_counter()
                try:
                    r = await c.request(method, path.format(case=case_id), json=body(spec, i))
                    if r.status_code != expected:
                        errors.append(f"{name} {r.status_code}: {r.text[:200]}")
                except httpx.HTTPError as exc:
                    errors.append(f"{name} {type(exc).__name__}: {exc}")
                lat[name].append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - t0
    every = sorted(x for v in lat.values() for x in v)
    return {
        "requests": n,
        "completed": len(every),
        "clients": clients,
        "errors": len(errors),
        "first_errors": errors[:5],
        "wall_s": round(wall, 3),
        "throughput_req_s": round(len(every) / wall, 1) if wall > 0 else None,
        **_quantiles(every),
        "routes": {k: {"n": len(v), **_quantiles(sorted(v))} for k, v in lat.items()},
    }


def _quantiles(lat: list[float]) -> dict:
    if not lat:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else lat * 99
    return {"p50_ms": round(1000 * statistics.median(lat), 1), "p95_ms": round(1000 * q[94], 1), "max_ms": round(1000 * lat[-1], 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the server started here")
    ap.add_argument("--max-seconds", type=float, default=600.0)
    ap.add_argument("--url", default=None, help="a running server on loopback (default: start one here)")
    ap.add_argument("--token", default=None, help="bearer token of the --url server (default: $MITRASIM_WEB_TOKEN)")
    a = ap.parse_args(argv)
    if not (1 <= a.requests <= 5000 and 1 <= a.clients <= 64 and 0 < a.max_seconds <= 1800):
        ap.error("bounds: 1..5000 requests, 1..64 clients, max-seconds in (0, 1800]")
    token = a.token or (os.environ.get("MITRASIM_WEB_TOKEN") if a.url else None)
    proc = None
    if a.url:
        if urlparse(a.url).hostname not in ("127.0.0.1", "localhost", "::1"):
            ap.error("--url must be a loopback address")
        url = a.url
    else:
        url, proc = start_server(a.workers)
    try:
        import httpx

        h = {"Authorization": f"Bearer {token}"} if token else {}
        case = httpx.get(url + "/api/examples/p2_flail", headers=h, timeout=60).json()["case"]
        httpx.post(url + "/api/valve/assess", json={"case": case, "clips": []}, headers=h, timeout=120)  # warm every path once
        case_id = httpx.post(url + "/api/cases", json={"name": "load", "case": case}, headers=h, timeout=60).json()["id"]
        before = rss_mb(proc.pid) if proc else None
        out = asyncio.run(run_load(url, a.requests, a.clients, a.max_seconds, token, case, case_id))
        out["rss_before_mb"], out["rss_after_mb"] = before, (rss_mb(proc.pid) if proc else None)
        out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    out["workers"] = a.workers if not a.url else None
    print(json.dumps(out, indent=2))
    return 0 if out["errors"] == 0 and out["completed"] == a.requests else 1


if __name__ == "__main__":
    sys.exit(main())
