"""Talking to other companies' APIs (channels and carriers): one HTTP discipline — a base URL, a
timeout, patience with throttling — and errors that say what went wrong and whether to retry."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

import httpx2 as httpx

# -- errors --------------------------------------------------------------------------------------


class RemoteError(Exception):
    """A call to a channel's or carrier's API failed. ``retryable``: trying again later may work (throttled, down)."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class RemoteAuthFailed(RemoteError):
    """The service refused our credentials (wrong secret, expired refresh token)."""


class RemoteRejected(RemoteError):
    """The service understood the request and said no (unknown listing, invalid quantity)."""


class RemoteUnavailable(RemoteError):
    """Throttled beyond our patience, timed out or a 5xx: try again later."""

    retryable = True


class BadPayload(RemoteError):
    """A webhook body or page we cannot read: kept in the inbox with this message."""


class BadSignature(RemoteError):
    """A webhook whose signature does not match: answered 401 and kept, never processed."""


# -- HTTP ----------------------------------------------------------------------------------------


@dataclass
class Http:
    """One remote service's HTTP client: a base URL, a timeout, and patience with throttling.

    429 and 5xx are retried with exponential back-off and jitter, honouring Retry-After (seconds)
    and rate-limit headers the caller names; 401/403 raise RemoteAuthFailed, other 4xx
    RemoteRejected with the service's own message. ``sleep`` is injectable so tests do not wait."""

    base_url: str
    timeout: float = 20.0
    attempts: int = 5
    backoff: float = 0.5  # first wait, doubled each attempt
    max_wait: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    client: httpx.Client | None = None

    def __post_init__(self) -> None:
        self._owns_client = self.client is None  # a client shared by many channels is closed by its owner
        if self.client is None:
            self.client = httpx.Client(timeout=self.timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Iterable[int] = (200, 201, 202, 204, 207),
    ) -> httpx.Response:
        assert self.client is not None
        accepted = set(ok)
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.client.request(
                    method,
                    path if path.startswith(("http://", "https://")) else self.base_url.rstrip("/") + path,
                    params=params,
                    json=json_body,
                    content=content,
                    headers=dict(headers or {}),
                    timeout=self.timeout,
                )
            except httpx.TimeoutException as e:
                error: RemoteError = RemoteUnavailable(f"{method} {path}: timed out ({e})")
            except httpx.TransportError as e:
                error = RemoteUnavailable(f"{method} {path}: {e}")
            else:
                if response.status_code in accepted:
                    return response
                error = _error_for(method, path, response)
                if not error.retryable:
                    raise error
                if attempt < self.attempts:
                    self.sleep(self._wait(attempt, response))
                    continue
                raise error
            if attempt < self.attempts:
                self.sleep(self._wait(attempt, None))
                continue
            raise error
        raise AssertionError("unreachable")

    def _wait(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            after = response.headers.get("Retry-After")
            if after is not None:
                try:
                    return min(float(after), self.max_wait)
                except ValueError:
                    pass
        return min(self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 4), self.max_wait)

    def close(self) -> None:
        if self.client is not None and self._owns_client:
            self.client.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _error_for(method: str, path: str, response: httpx.Response) -> RemoteError:
    status = response.status_code
    text = response.text[:500]
    message = f"{method} {path}: HTTP {status}: {text}"
    if status == 429 or status >= 500:
        return RemoteUnavailable(message, status=status)
    if status in (401, 403):
        return RemoteAuthFailed(message, status=status)
    return RemoteRejected(message, status=status)


def read_json(body: bytes, what: str) -> Any:
    """JSON from a stored body, or BadPayload naming what it was."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadPayload(f"{what} is not valid JSON: {e}") from None


def money(value: Any, where: str) -> Decimal:
    """An amount as the channels send it (string or JSON number) as an exact Decimal."""
    if value is None or value == "":
        return Decimal(0)
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise BadPayload(f"{where}: '{value}' is not an amount") from None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


F = TypeVar("F")


class Registry(Generic[F]):
    """One family of adapters by kind (channel connectors, carrier adapters). A module registers its
    class when imported; ``modules`` is the one place that names them all, imported on first use."""

    def __init__(self, package: str, modules: tuple[str, ...], family: str):
        self.package = package
        self.modules = modules
        self.family = family
        self.entries: dict[str, F] = {}

    def register(self, kind: str) -> Callable[[F], F]:
        def add(factory: F) -> F:
            self.entries[kind] = factory
            return factory

        return add

    def kinds(self) -> list[str]:
        self._load()
        return sorted(self.entries)

    def factory(self, kind: str) -> F:
        self._load()
        found = self.entries.get(kind)
        if found is None:
            raise RemoteError(f"no {self.family} for '{kind}'")
        return found

    def _load(self) -> None:
        import importlib

        for name in self.modules:
            importlib.import_module(f"{self.package}.{name}")
