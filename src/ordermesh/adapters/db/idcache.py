"""Per-process cache of code -> id for locations and SKUs, shared by one container's units of work.

A location's or SKU's code never changes and neither is ever deleted, so its id can be cached.
A SKU can become a bundle (only while it holds no stock), so SKU entries expire after a short time
and are dropped at once in the process that changes the SKU; a stale entry can only make a
reservation fail for want of stock, never oversell."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

SKU_TTL_SECONDS = 30.0


class IdCache:
    """Shared by every unit of work of one container. Ids are only added through a
    :class:`StagedIds`, which publishes them when its transaction commits: a transaction that
    rolls back may have seen its own, now vanished, rows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locations: dict[tuple[int, str], int] = {}
        self._skus: dict[tuple[int, str], tuple[int, bool, float]] = {}

    def locations(self, tenant_id: int, codes: list[str]) -> tuple[dict[str, int], list[str]]:
        """The cached ids, and the codes that must be looked up."""
        found, missing = {}, []
        for code in codes:
            hit = self._locations.get((tenant_id, code))
            if hit is None:
                missing.append(code)
            else:
                found[code] = hit
        return found, missing

    def remember_locations(self, tenant_id: int, ids: dict[str, int]) -> None:
        with self._lock:
            for code, location_id in ids.items():
                self._locations[(tenant_id, code)] = location_id

    def skus(self, tenant_id: int, codes: list[str]) -> tuple[dict[str, tuple[int, bool]], list[str]]:
        now = time.monotonic()
        found, missing = {}, []
        for code in codes:
            hit = self._skus.get((tenant_id, code))
            if hit is None or hit[2] < now:
                missing.append(code)
            else:
                found[code] = (hit[0], hit[1])
        return found, missing

    def remember_skus(self, tenant_id: int, ids: dict[str, tuple[int, bool]]) -> None:
        until = time.monotonic() + SKU_TTL_SECONDS
        with self._lock:
            for code, (sku_id, is_bundle) in ids.items():
                self._skus[(tenant_id, code)] = (sku_id, is_bundle, until)

    def forget_sku(self, tenant_id: int, code: str) -> None:
        with self._lock:
            self._skus.pop((tenant_id, code), None)


class StagedIds:
    """One unit of work's view of the cache: lookups hit the shared cache; what it fetches itself
    is kept aside until :meth:`publish` (called on commit, or at the end of a read-only unit)."""

    def __init__(self, shared: IdCache):
        self.shared = shared
        self._locations: dict[tuple[int, str], int] = {}
        self._skus: dict[tuple[int, str], tuple[int, bool]] = {}

    def locations(self, tenant_id: int, codes: list[str]) -> tuple[dict[str, int], list[str]]:
        found, missing = self.shared.locations(tenant_id, codes)
        still = []
        for code in missing:
            hit = self._locations.get((tenant_id, code))
            if hit is None:
                still.append(code)
            else:
                found[code] = hit
        return found, still

    def remember_locations(self, tenant_id: int, ids: dict[str, int]) -> None:
        for code, location_id in ids.items():
            self._locations[(tenant_id, code)] = location_id

    def skus(self, tenant_id: int, codes: list[str]) -> tuple[dict[str, tuple[int, bool]], list[str]]:
        return self.shared.skus(tenant_id, codes)  # staged SKUs are not reused: they may change

    def remember_skus(self, tenant_id: int, ids: dict[str, tuple[int, bool]]) -> None:
        for code, value in ids.items():
            self._skus[(tenant_id, code)] = value

    def forget_sku(self, tenant_id: int, code: str) -> None:
        self._skus.pop((tenant_id, code), None)
        self.shared.forget_sku(tenant_id, code)

    def publish(self) -> None:
        for (tenant_id, code), location_id in self._locations.items():
            self.shared.remember_locations(tenant_id, {code: location_id})
        for (tenant_id, code), value in self._skus.items():
            self.shared.remember_skus(tenant_id, {code: value})
        self.discard()

    def discard(self) -> None:
        self._locations.clear()
        self._skus.clear()


@dataclass
class TenantConfig:
    """A tenant's channels and carrier accounts (by code) and locations as they were at one
    configuration version."""

    version: int
    channels: dict[str, Any] = field(default_factory=dict)
    locations: list[Any] | None = None
    all_channels: list[Any] | None = None
    carriers: dict[str, Any] = field(default_factory=dict)


class ConfigCache:
    """Per process, shared by a container's units of work: each tenant's configuration at the
    newest version seen. Entries are keyed by the tenant's config_version, which triggers bump on
    every change to a channel, location or carrier account, so an entry is never used once it is
    out of date."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, TenantConfig] = {}

    def get(self, tenant_id: int, version: int) -> TenantConfig:
        """A private copy to read and fill; :meth:`publish` shares what was filled."""
        entry = self._entries.get(tenant_id)
        if entry is None or entry.version != version:
            return TenantConfig(version)
        return TenantConfig(version, dict(entry.channels), entry.locations, entry.all_channels, dict(entry.carriers))

    def publish(self, tenant_id: int, config: TenantConfig) -> None:
        with self._lock:
            entry = self._entries.get(tenant_id)
            if entry is None or entry.version < config.version:
                self._entries[tenant_id] = config
            elif entry.version == config.version:
                entry.channels.update(config.channels)
                entry.carriers.update(config.carriers)
                if entry.locations is None:
                    entry.locations = config.locations
                if entry.all_channels is None:
                    entry.all_channels = config.all_channels
