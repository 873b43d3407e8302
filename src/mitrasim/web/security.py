"""Request guards: body size limit, bearer token, security headers (pure ASGI / small helpers)."""

from __future__ import annotations

import json
import secrets
from typing import Any, Awaitable, Callable

__all__ = ["BodyLimitMiddleware", "SecurityHeadersMiddleware", "token_ok", "CSP"]

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


async def _json_error(send: Send, status: int, message: str, field: str = "body") -> None:
    body = json.dumps({"error": {"field": field, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *HEADERS]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413 (by Content-Length, or while streaming)."""

    def __init__(self, app: Any, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

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
            message = await receive()
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

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in HEADERS if h[0] not in names]
            await send(message)

        await self.app(scope, receive, with_headers)


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
