"""Composition root: builds the engine and the unit-of-work factory from Settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from ordermesh.adapters.clock import Clock, SystemClock
from ordermesh.adapters.db.engine import make_engine
from ordermesh.adapters.db.uow import UowFactory, make_uow_factory
from ordermesh.config import Settings


@dataclass
class Container:
    settings: Settings
    engine: Engine
    uow: UowFactory
    clock: Clock

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(settings: Settings, *, clock: Clock | None = None) -> Container:
    engine = make_engine(
        settings.database_url, pool_size=settings.pool_size, busy_timeout_ms=settings.sqlite_busy_timeout_ms
    )
    clock = clock or SystemClock()
    return Container(settings, engine, make_uow_factory(engine, clock), clock)
