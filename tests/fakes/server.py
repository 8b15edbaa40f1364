"""A local HTTP server for fakes of channel and carrier APIs: binds 127.0.0.1 on a free port,
routes by method and path pattern, and records every request so tests can assert what was sent.

    fake = FakeServer()
    fake.route("GET", r"/orders/v0/orders", lambda req: Reply.json({"payload": {...}}))
    with fake:
        client = Http(fake.url)
        ...
    fake.requests  # [Request(method, path, query, headers, body), ...]
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    match: re.Match[str] | None = None

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(value).encode(), {"Content-Type": "application/json", **(headers or {})})


Handler = Callable[[Request], Reply]


class FakeServer:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[Request] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """``pattern`` is a regular expression matched against the whole path (no query)."""
        self.routes.append((method.upper(), re.compile(pattern + r"\Z"), handler))

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
                reply = fake._dispatch(request)
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def _dispatch(self, request: Request) -> Reply:
        with self.lock:
            self.requests.append(request)
        for method, pattern, handler in self.routes:
            if method == request.method and (m := pattern.match(request.path)):
                request.match = m
                try:
                    return handler(request)
                except Exception as e:  # a fake's bug shows up as a 500 the test can read
                    return Reply(500, f"fake failed: {type(e).__name__}: {e}".encode())
        return Reply(404, f"no fake route for {request.method} {request.path}".encode())

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sent(self, method: str, path_pattern: str) -> list[Request]:
        """The requests received for a method and path pattern, in order."""
        pattern = re.compile(path_pattern + r"\Z")
        return [r for r in self.requests if r.method == method and pattern.match(r.path)]
