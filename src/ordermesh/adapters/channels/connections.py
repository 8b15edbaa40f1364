"""Builds a channel's connector from its record: opens the sealed credentials, picks the
connector registered for the channel's type, and gives it an HTTP client for the base URL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx2 as httpx

from ordermesh.adapters.channels.base import ChannelConnector, ChannelError, ConnectorConfig, Http, make_connector
from ordermesh.adapters.db.channels import ChannelRecord
from ordermesh.adapters.vault import Vault


@dataclass
class Connections:
    """One per process: the vault, and one HTTP client (with its connection pool) shared by every
    channel's connector. ``sleep`` is how connectors wait out throttling (tests pass a no-op)."""

    vault_factory: Callable[[], Vault]
    sleep: Callable[[float], None] = time.sleep
    attempts: int = 5  # tries per call; outbox handlers use one (the outbox itself retries, later)
    _vault: Vault | None = None
    _client: httpx.Client | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def http(self, base_url: str) -> Http:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=Http.timeout)
        return Http(base_url, sleep=self.sleep, client=self._client, attempts=self.attempts)

    def single_try(self) -> Connections:
        """The same vault and HTTP client, but each call tried once: for outbox handlers, whose
        event is retried with back-off by the worker, so a channel that is down never holds up
        the other events while the handler sleeps between tries."""
        with self._lock:  # the copy must share this client (closed with this one), not open its own
            if self._client is None:
                self._client = httpx.Client(timeout=Http.timeout)
        return replace(self, attempts=1)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            self._vault = self.vault_factory()
        return self._vault

    def connector(self, record: ChannelRecord) -> ChannelConnector:
        """The channel's connector. Calls that need the API fail with a clear error when the
        channel has no base URL (a webhook can still be verified with its secret)."""
        credentials = self.vault.open(record.sealed_credentials) if record.sealed_credentials else {}
        base_url = record.spec.base_url or ""
        config = ConnectorConfig(base_url, credentials, dict(record.spec.connector))
        return make_connector(record.spec.type.value, config, self.http(base_url))

    def can_connect(self, record: ChannelRecord) -> bool:
        from ordermesh.adapters.channels.base import connector_types

        return record.spec.type.value in connector_types()

    def carrier(self, row: Any, **extra: Any) -> Any:
        """A carrier account's adapter (row: adapters.db.shipping.CarrierRow); ``extra`` goes to
        the adapter's constructor (the rate-card carrier's AWB counter)."""
        from ordermesh.adapters.carriers.base import CarrierConfig, make_adapter

        credentials = self.vault.open(row.credentials) if row.credentials else {}
        config = CarrierConfig(row.base_url or "", credentials, dict(row.settings))
        if extra:
            from ordermesh.adapters.carriers.base import ADAPTERS

            return ADAPTERS.factory(row.kind)(config, self.http(row.base_url or ""), **extra)  # type: ignore[call-arg]
        return make_adapter(row.kind, config, self.http(row.base_url or ""))

    @staticmethod
    def require_api(record: ChannelRecord) -> None:
        if not record.spec.base_url:
            raise ChannelError(f"channel '{record.spec.code}' has no base_url; set it to the channel's API address")
