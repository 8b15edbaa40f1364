"""The unit of work: one transaction, repositories scoped to one tenant, events and audit rows
written in the same transaction as the change they describe."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Self

from sqlalchemy import Connection, Engine

from ordermesh.adapters.clock import Clock, SystemClock
from ordermesh.adapters.db.channels import ChannelRecord, ChannelRepository
from ordermesh.adapters.db.engine import SQLITE_BEGIN, driver
from ordermesh.adapters.db.idcache import ConfigCache, IdCache, StagedIds, TenantConfig
from ordermesh.adapters.db.intake import IntakeRequest, IntakeSnapshot, read_intake, read_intakes
from ordermesh.adapters.db.orders import CustomerRepository, OrderRepository
from ordermesh.adapters.db.outbox import OutboxRepository
from ordermesh.adapters.db.repositories import (
    AlertRepository,
    ApiKeyRepository,
    AuditRepository,
    LocationRecord,
    LocationRepository,
    SkuRepository,
    TenantRepository,
    TenantRow,
    UserRepository,
)
from ordermesh.adapters.db.stock import StockRepository
from ordermesh.adapters.db.tables import sqlite_timestamp
from ordermesh.domain.access import SYSTEM, Actor
from ordermesh.domain.events import Event

# Set when a unit of work commits outbox events: a worker thread in the same process waits on it.
OUTBOX_WAKE = threading.Event()


class UnitOfWork:
    """``with uow_factory(tenant_id=..., actor=...) as uow: ...; uow.commit()``.

    Leaving the block without commit rolls everything back, events and audit rows included.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        tenant_id: int | None,
        actor: Actor = SYSTEM,
        clock: Clock | None = None,
        request_id: str | None = None,
        write: bool = True,
        ids: IdCache | None = None,
        config: ConfigCache | None = None,
    ):
        self._engine = engine
        self._ids = ids or IdCache()
        self._staged = StagedIds(self._ids)
        self._config_cache = config or ConfigCache()
        self._config: TenantConfig | None = None  # this unit's view, published when it ends well
        self._primed_tenant: TenantRow | None = None  # see reopen()
        self._tenant_row: TenantRow | None = None
        self.tenant_id = tenant_id
        self.actor = actor
        self.clock = clock or SystemClock()
        self.request_id = request_id
        self.write = write
        self._events: list[tuple[int | None, Event]] = []
        self._audit: list[dict[str, Any]] = []
        self._now: datetime | None = None
        self._holding = False  # see one_transaction()
        self._gathering = False  # ditto: audit rows and events wait too
        self._wake = False

    def __enter__(self) -> Self:
        # Core connections, not ORM sessions: every statement here is explicit, and the hot paths
        # (reservations) cannot afford the session's bookkeeping.
        self.conn: Connection = self._engine.connect().execution_options(
            **{SQLITE_BEGIN: "IMMEDIATE" if self.write else "DEFERRED"}
        )
        self.conn.begin()
        self.dialect = self.conn.dialect.name
        self.tenants = TenantRepository(self.conn)
        self.users = UserRepository(self.conn)
        self.api_keys = ApiKeyRepository(self.conn)
        self.outbox = OutboxRepository(self.conn)
        if self.tenant_id is not None:
            self._bind_tenant(self.tenant_id)
        return self

    def _bind_tenant(self, tenant_id: int) -> None:
        self.skus = SkuRepository(self.conn, tenant_id, self._staged)
        self.locations = LocationRepository(self.conn, tenant_id, self._staged)
        self.stock = StockRepository(self.conn, tenant_id)
        self.audit_log = AuditRepository(self.conn, tenant_id)
        self.alerts = AlertRepository(self.conn, tenant_id)
        self.channels = ChannelRepository(self.conn, tenant_id)
        self.orders = OrderRepository(self.conn, tenant_id)
        self.customers = CustomerRepository(self.conn, tenant_id)
        self._tenant_row = self._primed_tenant if self._primed_tenant and self._primed_tenant.id == tenant_id else None
        self._config = None

    def use_tenant(self, tenant_id: int, row: TenantRow | None = None) -> None:
        """Scope this unit of work to a tenant created or found inside it (platform commands);
        ``row``: the tenant's row as this unit read it, so it is not read again."""
        self.tenant_id = tenant_id
        self._bind_tenant(tenant_id)
        if row is not None and row.id == tenant_id:
            self._tenant_row = row

    def reopen(self) -> UnitOfWork:
        """A new read-only unit of work for the same tenant and actor (to read what was committed).
        It starts from the tenant row this one read: the cached configuration of that version is
        exact for it, and a change committed since reaches the next request."""
        fresh = UnitOfWork(
            self._engine,
            tenant_id=self.tenant_id,
            actor=self.actor,
            clock=self.clock,
            request_id=self.request_id,
            write=False,
            ids=self._ids,
            config=self._config_cache,
        )
        fresh._primed_tenant = self._tenant_row
        return fresh

    def _tenant(self) -> TenantRow:
        if self._tenant_row is None:
            assert self.tenant_id is not None
            self._tenant_row = self.tenants.by_id(self.tenant_id) or TenantRow(self.tenant_id, "", "", {}, -1)
        return self._tenant_row

    @property
    def tenant_code(self) -> str:
        return self._tenant().code

    def tenant_settings(self) -> dict[str, Any]:
        """The tenant's stored settings (risk rules, routing defaults), read once per unit of work."""
        return dict(self._tenant().settings)

    def _tenant_config(self) -> TenantConfig:
        if self._config is None:
            assert self.tenant_id is not None
            self._config = self._config_cache.get(self.tenant_id, self._tenant().config_version)
        return self._config

    def channel(self, code: str) -> ChannelRecord | None:
        """A channel by code, from this process's cache while the tenant's configuration is
        unchanged (one read of the tenant row tells)."""
        config = self._tenant_config()
        if code not in config.channels:
            config.channels[code] = self.channels.get(code)
        return config.channels[code]  # type: ignore[no-any-return]

    def carrier(self, code: str) -> Any:
        """A carrier account (adapters.db.shipping.CarrierRow) by code, cached like :meth:`channel`."""
        from ordermesh.adapters.db.shipping import ShippingRepository

        config = self._tenant_config()
        if code not in config.carriers:
            assert self.tenant_id is not None
            config.carriers[code] = ShippingRepository(self.conn, self.tenant_id).carrier(code)
        return config.carriers[code]

    def intake_snapshot(self, channel_code: str, external_id: str, codes: list[str], pincode: str) -> IntakeSnapshot:
        """What order intake reads before deciding (see adapters.db.intake), in one round trip on
        PostgreSQL; the tenant row it brings serves :meth:`tenant_settings` and the caches."""
        assert self.tenant_id is not None
        if self.dialect == "postgresql":
            snapshot = read_intake(self.conn, self.tenant_id, None, channel_code, external_id, codes, pincode)
            self._tenant_row = snapshot.tenant
            return snapshot
        channel = self.channel(channel_code)
        channel_id = channel.id if channel else None
        return read_intake(self.conn, self.tenant_id, channel_id, channel_code, external_id, codes, pincode)

    def intake_snapshots(self, requests: list[IntakeRequest]) -> list[IntakeSnapshot]:
        """:meth:`intake_snapshot` for several new orders (see adapters.db.intake.read_intakes)."""
        assert self.tenant_id is not None
        snapshots = read_intakes(self.conn, self.tenant_id, requests)
        if snapshots and self.dialect == "postgresql":
            self._tenant_row = snapshots[0].tenant
        return snapshots

    def all_channels(self) -> list[ChannelRecord]:
        """Every channel of the tenant, by code, cached like :meth:`channel`."""
        config = self._tenant_config()
        if config.all_channels is None:
            config.all_channels = self.channels.all()
        return config.all_channels

    def channel_by_id(self, channel_id: int) -> ChannelRecord | None:
        return next((c for c in self.all_channels() if c.id == channel_id), None)

    def all_locations(self) -> list[LocationRecord]:
        """Every location of the tenant (as routing sees them), cached like :meth:`channel`."""
        config = self._tenant_config()
        if config.locations is None:
            config.locations = self.locations.all()
        return config.locations

    def _publish_config(self) -> None:
        if self._config is not None and self.tenant_id is not None:
            self._config_cache.publish(self.tenant_id, self._config)
        self._config = None

    def __exit__(self, *exc: object) -> None:
        if not self.write and exc[0] is None:
            self._staged.publish()  # nothing was written, so everything read was committed data
            self._publish_config()
        self._staged.discard()
        if self.conn.in_transaction():
            self.conn.rollback()
        self.conn.close()

    @property
    def now(self) -> datetime:
        """One timestamp for everything this unit of work writes."""
        if self._now is None:
            self._now = self.clock.now()
        return self._now

    def emit(self, event: Event, *, tenant_id: int | None = None) -> None:
        self._events.append((tenant_id if tenant_id is not None else self.tenant_id, event))

    def audit(
        self,
        action: str,
        entity_type: str,
        entity_key: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        tenant_id: int | None = None,
    ) -> None:
        self._audit.append(
            {
                "tenant_id": tenant_id if tenant_id is not None else self.tenant_id,
                "at": self.now,
                "actor": self.actor.ref[:120],
                "actor_label": self.actor.label[:200],
                "action": action,
                "entity_type": entity_type,
                "entity_key": entity_key[:200],
                # As text now: what the caller does with its dicts later cannot change the record.
                "before": _json_text(before),
                "after": _json_text(after),
                "request_id": self.request_id,
            }
        )

    @contextmanager
    def read_only(self) -> Iterator[None]:
        """Have the database itself refuse writes for a while (a dry run must change nothing)."""
        if self.dialect == "postgresql":
            self.conn.exec_driver_sql("SET TRANSACTION READ ONLY")  # this transaction only
            yield
            return
        self.conn.exec_driver_sql("PRAGMA query_only = ON")  # the connection's: undone before it is pooled
        try:
            yield
        finally:
            self.conn.exec_driver_sql("PRAGMA query_only = OFF")

    def commit(self) -> None:
        if self._gathering:
            return  # audit rows and events too wait for the end of one_transaction()
        if self._audit or self._events:
            if self.dialect == "postgresql":
                self._write_audit_and_events_pg()
            else:
                self._write_audit_and_events()
        self._wake = self._wake or bool(self._events)
        self._audit.clear()
        self._events.clear()
        if self._holding:
            return  # written; one_transaction() commits when its block ends
        # The connection's transaction, not the one begun in __enter__: after a commit the unit
        # goes on in a new transaction (begun by the next statement) that it may commit in turn.
        self.conn.commit()
        self._staged.publish()
        self._publish_config()
        if self._wake:
            OUTBOX_WAKE.set()  # a worker in this process starts on them now, not at its next poll
        self._wake = False
        self._now = None

    @contextmanager
    def one_transaction(self, *, gather: bool = False) -> Iterator[None]:
        """Whatever the block does commits together when it ends well: a commit asked for inside
        it (the services commit their own work) writes the unit's audit rows and events but leaves
        the transaction open. ``gather``: those rows wait too, and go in together at the end (one
        statement for a batch of orders). Should the block raise, nothing of it is committed (the
        caller rolls back)."""
        if self._holding:
            yield
            return
        self._holding, self._gathering = True, gather
        try:
            yield
        finally:
            self._holding = self._gathering = False
        self.commit()

    def _write_audit_and_events(self) -> None:
        # SQLite: the driver directly, as on PostgreSQL; two executemany calls cost microseconds.
        raw = driver(self.conn)
        if self._audit:
            raw.executemany(
                _SQLITE_AUDIT,
                [
                    (
                        a["tenant_id"],
                        sqlite_timestamp(a["at"]),
                        a["actor"],
                        a["actor_label"],
                        a["action"],
                        a["entity_type"],
                        a["entity_key"],
                        a["before"],
                        a["after"],
                        a["request_id"],
                    )
                    for a in self._audit
                ],
            )
        if self._events:
            at = sqlite_timestamp(self.now)
            raw.executemany(
                _SQLITE_OUTBOX, [(tid, ev.topic, json.dumps(ev.payload), at, at) for tid, ev in self._events]
            )

    def _write_audit_and_events_pg(self) -> None:
        # Every unit of work that changes something ends here, so on PostgreSQL the audit rows and
        # the outbox rows go in one statement, through the driver (see StockRepository.apply_all).
        a, e = self._audit, self._events
        raw = driver(self.conn)
        raw.execute(
            _PG_AUDIT_AND_OUTBOX,
            {
                "audit": _audit_json(a),
                "events": json.dumps([{"tenant_id": tid, "topic": ev.topic, "payload": ev.payload} for tid, ev in e]),
                "now": self.now,
            },
        )

    def rollback(self) -> None:
        if self.conn.in_transaction():
            self.conn.rollback()
        self._audit.clear()
        self._events.clear()
        self._wake = False


def _audit_json(rows: list[dict[str, Any]]) -> str:
    """Audit rows as one JSON array; before/after are JSON text already, so they are spliced in."""
    parts = []
    for r in rows:
        head = json.dumps({k: v for k, v in r.items() if k not in ("before", "after", "at")})
        parts.append(
            f'{head[:-1]}, "at": "{r["at"].isoformat()}", "before": {r["before"] or "null"}, "after": {r["after"] or "null"}}}'
        )
    return "[" + ", ".join(parts) + "]"


def _json_text(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, default=str)  # dates, decimals and enums as text


_SQLITE_AUDIT = (
    "INSERT INTO audit_log (tenant_id, at, actor, actor_label, action, entity_type, entity_key, before, after, "
    "request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SQLITE_OUTBOX = (
    "INSERT INTO outbox (tenant_id, topic, payload, status, attempts, created_at, available_at) "
    "VALUES (?, ?, ?, 'pending', 0, ?, ?)"
)

_PG_AUDIT_AND_OUTBOX = """
WITH audit AS (
    INSERT INTO audit_log (tenant_id, at, actor, actor_label, action, entity_type, entity_key, before, after,
                           request_id)
    SELECT tenant_id, at, actor, actor_label, action, entity_type, entity_key, before, after, request_id
    FROM json_to_recordset(%(audit)s::json) AS a(
        tenant_id bigint, at timestamptz, actor text, actor_label text, action text, entity_type text,
        entity_key text, before json, after json, request_id text)
), events AS (
    INSERT INTO outbox (tenant_id, topic, payload, status, attempts, created_at, available_at)
    SELECT tenant_id, topic, payload, 'pending', 0, %(now)s, %(now)s
    FROM json_to_recordset(%(events)s::json) AS o(tenant_id bigint, topic text, payload json)
    RETURNING 1
)
-- Wakes idle workers (LISTEN ordermesh_outbox) when the transaction commits; once per transaction.
SELECT pg_notify('ordermesh_outbox', '') WHERE EXISTS (SELECT 1 FROM events)
"""


UowFactory = Callable[..., UnitOfWork]


def make_uow_factory(engine: Engine, clock: Clock | None = None) -> UowFactory:
    ids = IdCache()
    config = ConfigCache()

    def factory(
        *,
        tenant_id: int | None,
        actor: Actor = SYSTEM,
        request_id: str | None = None,
        write: bool = True,
    ) -> UnitOfWork:
        return UnitOfWork(
            engine,
            tenant_id=tenant_id,
            actor=actor,
            clock=clock,
            request_id=request_id,
            write=write,
            ids=ids,
            config=config,
        )

    return factory
