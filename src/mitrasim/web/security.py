"""Request guards: host allow-list, same-origin check, body size limit, bearer token,
security headers (also on 500 replies) — pure ASGI middlewares and small helpers.

DNS rebinding: a page on ``attacker.example`` whose name is re-pointed at 127.0.0.1
reaches the server with ``Host: attacker.example``; :class:`HostOriginGuard`
answers 400 to any Host that is not one the server is bound to (or a configured
name).  Cross-site requests: a state-changing request (POST, PUT, PATCH, DELETE)
whose ``Origin`` is not the server's own, or that a browser marks
``Sec-Fetch-Site: cross-site``, is refused with 403.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from typing import Any, Awaitable, Callable

__all__ = ["BodyLimitMiddleware", "SecurityHeadersMiddleware", "HostOriginGuard", "token_ok", "CSP", "host_name"]

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

CSP = (
    "default-src 'none'; script-src 'self'; "
    # plotly.js and the guide preview (an inline-styled document in a sandboxed iframe) set inline styles;
    # scripts stay 'self' only.
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    "frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def host_name(hostport: str) -> str:
    """``"127.0.0.1:8000"`` → ``"127.0.0.1"``, ``"[::1]:8000"`` → ``"::1"``; lower case."""
    h = hostport.strip().lower()
    if h.startswith("["):
        return h[1:].split("]", 1)[0]
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def _origin_hostport(origin: str) -> str | None:
    scheme, sep, rest = origin.partition("://")
    if not sep or scheme not in ("http", "https") or not rest or "/" in rest:
        return None
    return rest.lower()


class HostOriginGuard:
    """Refuse a Host outside ``allowed`` (400) and a cross-origin state change (403).

    ``allowed`` = ``None`` skips the Host check (a server bound to every interface,
    with its token required, and no names configured).
    """

    def __init__(self, app: Any, allowed: frozenset[str] | None):
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if self.allowed is not None and host_name(host) not in self.allowed:
            await _json_error(send, 400, f"Host {host[:100]!r} is not served here (allowed: {', '.join(sorted(self.allowed))})", "host")
            return
        if scope.get("method", "GET").upper() in STATE_CHANGING:
            origin = headers.get("origin")
            if origin is not None and _origin_hostport(origin) != host.lower():
                await _json_error(send, 403, f"cross-origin request refused (Origin {origin[:100]!r} is not this server)", "origin")
                return
            if headers.get("sec-fetch-site", "").lower() == "cross-site":
                await _json_error(send, 403, "cross-site request refused", "origin")
                return
        await self.app(scope, receive, send)


async def _json_error(send: Send, status: int, message: str, field: str = "body") -> None:
    body = json.dumps({"error": {"field": field, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *HEADERS]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413 (by Content-Length, or while streaming),
    and a body that stalls for ``read_timeout_s`` with 408."""

    def __init__(self, app: Any, max_bytes: int, read_timeout_s: float = 30.0):
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout_s = read_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        msg = f"request body larger than {self.max_bytes} bytes"
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await _json_error(send, 400, "invalid Content-Length", "content-length")
                return
            if too_big:
                await _json_error(send, 413, msg)
                return
        seen = 0
        started = False
        refused = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            try:  # a stalled upload is not held open: each part of the body must come within read_timeout_s
                message = await asyncio.wait_for(receive(), timeout=self.read_timeout_s)
            except asyncio.TimeoutError:
                refused = True
                if not started:
                    await _json_error(send, 408, f"request body not received within {self.read_timeout_s:g} s")
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    if not started:
                        await _json_error(send, 413, msg)
                    return {"type": "http.disconnect"}  # the app stops reading; what it answers is dropped
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)


class SecurityHeadersMiddleware:
    """Add CSP, nosniff, frame denial, referrer and isolation headers to every response."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = False

        async def with_headers(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in HEADERS if h[0] not in names]
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:  # a bug: logged with its traceback; the client gets a plain 500 with the headers
            logging.getLogger("mitrasim.web").exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _json_error(send, 500, "internal error (logged on the server)", "server")


def token_ok(expected: str | None, authorization: str | None) -> tuple[bool, str]:
    """Check ``Authorization: Bearer <token>``; (ok, reason).  No token configured → ok."""
    if expected is None:
        return True, ""
    if not authorization:
        return False, "missing Authorization header (expected: Bearer <token>)"
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value:
        return False, "Authorization must be 'Bearer <token>'"
    if not secrets.compare_digest(value.strip().encode(), expected.encode()):
        return False, "wrong token"
    return True, ""
