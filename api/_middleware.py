"""One outermost ASGI middleware for what must hold on every response.

In order: a trusted-host allow-list (400), a request body limit (413, checked on the
declared length and again on the bytes actually received), security headers on every
response whatever produced it, and a last-resort 500 that says nothing. Every error here is
problem+json. Query strings are blanked in the request scope once the response starts, so a
server's access log never records ``?name=…`` (DESIGN principle 5).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api._problems import problem_response

__all__ = ["DOCS_CSP", "SECURITY_HEADERS", "Hardening"]

_log = logging.getLogger("consent.api")

SECURITY_HEADERS: Mapping[str, str] = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

#: Only when the interactive docs are switched on, only on their pages.
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: "
            "https://fastapi.tiangolo.com; connect-src 'self'; frame-ancestors 'none'")


class _TooLargeError(Exception):
    pass


def _host_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"host":
            host = bytes(value).decode("latin-1").strip().lower()
            if host.startswith("["):
                return host[1:host.find("]")] if "]" in host else ""
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return ""


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    if not host:
        return False
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern == "*" or host == pattern:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


class Hardening:
    def __init__(self, app: ASGIApp, *, trusted_hosts: Iterable[str], max_body_bytes: int,
                 body_limits: Mapping[str, int] | None = None,
                 docs_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted_hosts = tuple(trusted_hosts)
        self.max_body_bytes = max_body_bytes
        self.body_limits = dict(body_limits or {})
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        docs = scope.get("path") in self.docs_paths

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if docs:
                    headers["Content-Security-Policy"] = DOCS_CSP
                scope["query_string"] = b""
            await send(message)

        try:
            if not host_allowed(_host_of(scope), self.trusted_hosts):
                response = problem_response(400, "invalid_host", "The Host header is not served.")
                await response(scope, receive, send_with_headers)
                return
            limit = self.body_limits.get(scope.get("path", ""), self.max_body_bytes)
            try:
                body = await self._read_body(scope, receive, limit)
            except _TooLargeError:
                response = problem_response(413, "body_too_large",
                                            "The request body is larger than allowed.",
                                            headers={"Connection": "close"})
                await response(scope, receive, send_with_headers)
                return
            pending = [{"type": "http.request", "body": body, "more_body": False}]

            async def replay() -> Message:
                return pending.pop() if pending else await receive()

            await self.app(scope, replay, send_with_headers)
        except Exception as exc:
            # Type and stack only: an exception's message may carry submitted values.
            _log.error("unhandled %s\n%s", type(exc).__name__,
                       "".join(traceback.format_tb(exc.__traceback__)))
            if started:
                raise
            response = problem_response(500, "internal_error",
                                        "The request could not be completed.")
            await response(scope, receive, send_with_headers)

    @staticmethod
    async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise _TooLargeError() from None
                if declared > limit or declared < 0:
                    raise _TooLargeError()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _TooLargeError()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)
