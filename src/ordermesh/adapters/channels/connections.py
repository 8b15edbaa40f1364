"""Builds a channel's connector from its record: opens the sealed credentials, picks the
connector registered for the channel's type, and gives it an HTTP client for the base URL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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
    _vault: Vault | None = None
    _client: httpx.Client | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def http(self, base_url: str) -> Http:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=Http.timeout)
        return Http(base_url, sleep=self.sleep, client=self._client)

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

    @staticmethod
    def require_api(record: ChannelRecord) -> None:
        if not record.spec.base_url:
            raise ChannelError(f"channel '{record.spec.code}' has no base_url; set it to the channel's API address")
