"""Load test of the web API on loopback: N simulate requests from C concurrent clients.

Starts ``mitrasim serve``'s app in this process (uvicorn on 127.0.0.1, a fresh
SQLite file in a temporary folder, the default warm process pool) unless ``--url``
points at a running loopback server, then sends ``--requests`` POST /api/simulate
(one patient, a different EROA each) from ``--clients`` httpx.AsyncClient tasks.
Bounded: at most 2000 requests, 64 clients and ``--max-seconds`` overall.
Prints p50/p95/max latency, throughput and the error count; exits 1 on any error.

    python benchmarks/web_load.py --requests 200 --clients 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int) -> tuple[str, object, threading.Thread]:
    import uvicorn

    from mitrasim.web.app import create_app
    from mitrasim.web.settings import WebSettings

    db = Path(tempfile.mkdtemp(prefix="mitrasim-load-")) / "web.sqlite3"
    port = _free_port()
    app = create_app(WebSettings(db_url=f"sqlite:///{db}", port=port, workers=workers))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    t0 = time.time()
    while not srv.started:
        if time.time() - t0 > 120:
            raise RuntimeError("server did not start in 120 s")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", srv, th


async def run_load(url: str, n: int, clients: int, max_seconds: float, token: str | None) -> dict:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + max_seconds

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60.0) as c:
            while time.perf_counter() < deadline:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                body = {"preset": "regazzoni2022", "eroa_cm2": [round(0.6 * (i % 50) / 49, 4)], "mva_cm2": [4.0]}
                t = time.perf_counter()
                try:
                    r = await c.post("/api/simulate", json=body)
                    if r.status_code != 200:
                        errors.append(f"{r.status_code}: {r.text[:200]}")
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                latencies.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - t0
    lat = sorted(latencies)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else lat * 99
    return {
        "requests": n,
        "completed": len(lat),
        "clients": clients,
        "errors": len(errors),
        "first_errors": errors[:3],
        "wall_s": round(wall, 3),
        "throughput_req_s": round(len(lat) / wall, 1) if wall > 0 else None,
        "p50_ms": round(1000 * statistics.median(lat), 1) if lat else None,
        "p95_ms": round(1000 * q[94], 1) if lat else None,
        "max_ms": round(1000 * lat[-1], 1) if lat else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the in-process server")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--url", default=None, help="a running server on loopback (default: start one here)")
    ap.add_argument("--token", default=None)
    a = ap.parse_args(argv)
    if not (1 <= a.requests <= 2000 and 1 <= a.clients <= 64 and 0 < a.max_seconds <= 600):
        ap.error("bounds: 1..2000 requests, 1..64 clients, max-seconds in (0, 600]")
    srv = th = None
    if a.url:
        if urlparse(a.url).hostname not in ("127.0.0.1", "localhost", "::1"):
            ap.error("--url must be a loopback address")
        url = a.url
    else:
        url, srv, th = start_server(a.workers)
    try:
        import httpx

        httpx.post(url + "/api/simulate", json={"eroa_cm2": [0.2]}, headers={"Authorization": f"Bearer {a.token}"} if a.token else {}, timeout=60)  # warm
        out = asyncio.run(run_load(url, a.requests, a.clients, a.max_seconds, a.token))
    finally:
        if srv is not None:
            srv.should_exit = True  # type: ignore[attr-defined]
            th.join(timeout=30)  # type: ignore[union-attr]
    out["workers"] = a.workers if not a.url else None
    print(json.dumps(out, indent=2))
    return 0 if out["errors"] == 0 and out["completed"] == a.requests else 1


if __name__ == "__main__":
    sys.exit(main())
