"""Readiness and operational gauges."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import Gauge
from sqlalchemy import text

from ordermesh.adapters.db import migrate
from ordermesh.bootstrap import Container

OUTBOX = Gauge("ordermesh_outbox_events", "Outbox events by status", ["status"])
OUTBOX_AGE = Gauge("ordermesh_outbox_oldest_pending_seconds", "Age of the oldest undelivered outbox event")


@dataclass
class Readiness:
    ready: bool
    detail: str
    checks: dict[str, str] = field(default_factory=dict)


def readiness(container: Container) -> Readiness:
    checks: dict[str, str] = {}
    try:
        with container.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready"; the reason goes to the operator
        checks["database"] = f"unreachable: {type(exc).__name__}"
        return Readiness(False, "the database does not answer", checks)
    current, head = migrate.current_revision(container.engine), migrate.head_revision()
    if current != head:
        checks["migrations"] = f"at {current or 'none'}, code needs {head}"
        return Readiness(False, "database migrations are behind: run 'ordermesh db upgrade'", checks)
    checks["migrations"] = f"current ({head})"
    return Readiness(True, "ready", checks)


def refresh_gauges(container: Container) -> None:
    with container.uow(tenant_id=None, write=False) as uow:
        counts, oldest = uow.outbox.stats()
    for status in ("pending", "done", "dead"):
        OUTBOX.labels(status).set(counts.get(status, 0))
    OUTBOX_AGE.set(max(0.0, (container.clock.now() - oldest).total_seconds()) if oldest else 0.0)
