"""Shared by the web tests: a free loopback port and the app served by uvicorn in a thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(settings) -> Iterator[str]:
    """``create_app(settings)`` on 127.0.0.1:``settings.port`` in a thread; yields its base URL."""
    import uvicorn

    from mitrasim.web.app import create_app

    srv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    for _ in range(600):
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started, "server did not start"
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        srv.should_exit = True
        th.join(timeout=20)
