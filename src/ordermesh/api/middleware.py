"""One pure-ASGI middleware for every request: a request id, a body-size limit, and metrics."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ordermesh.api.problems import problem

log = logging.getLogger("ordermesh.api")

REQUESTS = Counter("ordermesh_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "ordermesh_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int, upload_paths: tuple[str, ...]):
        self.app = app
        self.max_body = max_body_bytes
        self.max_upload = max_upload_bytes
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request

        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid
        path: str = scope["path"]
        limit = self.max_upload if path in self.upload_paths else self.max_body
        declared = headers.get(b"content-length")
        start = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", rid.encode("latin-1")))
            await send(message)

        if declared is not None and declared.isdigit() and int(declared) > limit:
            response = problem(
                Request(scope), 413, "body-too-large", f"the request body is over the {limit:,}-byte limit"
            )
            await response(scope, receive, send_wrapper)
            self._observe(scope, start, status_holder["status"])
            return

        # Read the body here, bounded, so a chunked upload cannot exceed the limit either.
        chunks: list[bytes] = []
        received = 0
        more = scope["method"] not in ("GET", "HEAD", "OPTIONS", "DELETE")
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                response = problem(
                    Request(scope), 413, "body-too-large", f"the request body is over the {limit:,}-byte limit"
                )
                await response(scope, receive, send_wrapper)
                self._observe(scope, start, status_holder["status"])
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send_wrapper)
        self._observe(scope, start, status_holder["status"])

    @staticmethod
    def _observe(scope: Scope, start: float, status: int) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        LATENCY.labels(method, template).observe(time.perf_counter() - start)
        REQUESTS.labels(method, template, str(status)).inc()
