"""Claiming and settling outbox events. Several workers may run at once on PostgreSQL: a claim
takes rows with FOR UPDATE SKIP LOCKED and leases them for a while, so a crashed worker's rows
become claimable again when the lease runs out. On SQLite the write transaction is exclusive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from ordermesh.adapters.db import tables as t
from ordermesh.adapters.db.engine import among

OUTBOX = t.OutboxEvent.__table__


@dataclass(frozen=True)
class ClaimedEvent:
    id: int
    tenant_id: int | None
    topic: str
    payload: dict[str, Any]
    attempts: int


class OutboxRepository:
    """Platform-level: the worker serves every tenant, each event carries its tenant id."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def claim(self, worker: str, now: datetime, lease: timedelta, limit: int) -> list[ClaimedEvent]:
        due = and_(
            OUTBOX.c.status == "pending",
            OUTBOX.c.available_at <= now,
            or_(OUTBOX.c.locked_until.is_(None), OUTBOX.c.locked_until < now),
        )
        rows = self.conn.execute(
            select(OUTBOX.c.id, OUTBOX.c.tenant_id, OUTBOX.c.topic, OUTBOX.c.payload, OUTBOX.c.attempts)
            .where(due)
            .order_by(OUTBOX.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return []
        self.conn.execute(
            update(OUTBOX)
            .where(among(OUTBOX.c.id, "ids", self.conn.dialect.name))
            .values(locked_by=worker, locked_until=now + lease, attempts=OUTBOX.c.attempts + 1),
            {"ids": [r.id for r in rows]},
        )
        return [ClaimedEvent(r.id, r.tenant_id, r.topic, r.payload, r.attempts + 1) for r in rows]

    def done(self, event_id: int, worker: str, now: datetime) -> None:
        self.conn.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == event_id, OUTBOX.c.locked_by == worker)
            .values(status="done", done_at=now, locked_by=None, locked_until=None, last_error=None)
        )

    def done_many(self, event_ids: list[int], worker: str, now: datetime) -> None:
        """Several claimed events delivered at once (those no handler listens to)."""
        if event_ids:
            self.conn.execute(
                update(OUTBOX)
                .where(among(OUTBOX.c.id, "ids", self.conn.dialect.name), OUTBOX.c.locked_by == worker)
                .values(status="done", done_at=now, locked_by=None, locked_until=None, last_error=None),
                {"ids": event_ids},
            )

    def failed(self, event_id: int, worker: str, error: str, retry_at: datetime | None) -> None:
        """Record a failure; retry at ``retry_at``, or give up (status dead) when it is None."""
        values: dict[str, Any] = {"locked_by": None, "locked_until": None, "last_error": error[:4000]}
        if retry_at is None:
            values["status"] = "dead"
        else:
            values["available_at"] = retry_at
        self.conn.execute(update(OUTBOX).where(OUTBOX.c.id == event_id, OUTBOX.c.locked_by == worker).values(**values))

    def retry_dead(self, tenant_id: int | None, now: datetime) -> int:
        stmt = update(OUTBOX).where(OUTBOX.c.status == "dead")
        if tenant_id is not None:
            stmt = stmt.where(OUTBOX.c.tenant_id == tenant_id)
        return self.conn.execute(stmt.values(status="pending", available_at=now, attempts=0)).rowcount

    def stats(self) -> tuple[dict[str, int], datetime | None]:
        counts = {
            r[0]: int(r[1])
            for r in self.conn.execute(select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status)).all()
        }
        oldest = self.conn.execute(select(func.min(OUTBOX.c.available_at)).where(OUTBOX.c.status == "pending")).scalar()
        return counts, oldest


JOB_RUNS = t.JobRun.__table__


def take_job(conn: Connection, name: str, now: datetime, every: timedelta) -> bool:
    """True for exactly one caller per interval, however many workers ask at once."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    ins = pg_insert(JOB_RUNS) if conn.dialect.name == "postgresql" else sqlite_insert(JOB_RUNS)
    conn.execute(ins.values(name=name, last_run_at=now - every).on_conflict_do_nothing(index_elements=["name"]))
    taken = conn.execute(
        update(JOB_RUNS).where(JOB_RUNS.c.name == name, JOB_RUNS.c.last_run_at <= now - every).values(last_run_at=now)
    )
    return taken.rowcount == 1


def job_due(conn: Connection, name: str, every: timedelta) -> datetime:
    """When the job can next be taken: its last run plus its interval."""
    last = conn.execute(select(JOB_RUNS.c.last_run_at).where(JOB_RUNS.c.name == name)).scalar_one()
    return last + every  # type: ignore[no-any-return]
