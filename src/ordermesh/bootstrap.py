"""Composition root: builds the engine and the unit-of-work factory from Settings."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field

from sqlalchemy import Engine

from ordermesh.adapters.channels.connections import Connections
from ordermesh.adapters.clock import Clock, SystemClock
from ordermesh.adapters.db.engine import make_engine
from ordermesh.adapters.db.uow import UowFactory, make_uow_factory
from ordermesh.adapters.vault import Vault
from ordermesh.config import Settings


@dataclass
class Container:
    settings: Settings
    engine: Engine
    uow: UowFactory
    clock: Clock
    connections: Connections = field(init=False)

    def __post_init__(self) -> None:
        self.connections = Connections(self._vault)

    def _vault(self) -> Vault:
        # Built on first use: reading or generating the session secret is not every command's business.
        from ordermesh.web.secret import session_secret

        return Vault.from_config(self.settings.credentials_key, session_secret(self.settings))

    def close(self) -> None:
        self.connections.close()
        self.engine.dispose()


def settle_heap() -> None:
    """For a long-running process (API, worker) once it has started: every object alive now
    (modules, classes, functions, caches: most of the heap, and all of it lasting) is moved out of
    the garbage collector's way. Its full collections, which batches of orders set off often,
    otherwise walk all of it each time (about a tenth of a worker's time in a batch)."""
    gc.collect()
    gc.freeze()


def bootstrap(settings: Settings, *, clock: Clock | None = None) -> Container:
    engine = make_engine(
        settings.database_url, pool_size=settings.pool_size, busy_timeout_ms=settings.sqlite_busy_timeout_ms
    )
    clock = clock or SystemClock()
    return Container(settings, engine, make_uow_factory(engine, clock), clock)
