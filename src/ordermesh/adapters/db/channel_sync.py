"""Tenant-scoped storage of what channel sync keeps: listings, the inbox, sync state, pushes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ordermesh.adapters.db import tables as t
from ordermesh.adapters.db.engine import driver

LISTINGS = t.ChannelListing.__table__
INBOX = t.ChannelInbox.__table__
SYNC = t.ChannelSync.__table__
PUSHES = t.ChannelPush.__table__
SKUS = t.Sku.__table__
ORDERS = t.Order.__table__
LINES = t.OrderLine.__table__
SHIPMENTS = t.Shipment.__table__
CARRIERS = t.Carrier.__table__

# Every channel webhook runs these: through the driver on PostgreSQL (ADR 0007); on SQLite built
# once, so SQLAlchemy only looks their compiled form up.
_SQLITE_STORE = (
    sqlite_insert(INBOX)
    .on_conflict_do_nothing(index_elements=["tenant_id", "channel_id", "dedupe_key"])
    .returning(INBOX.c.id)
)
_PG_STORE = (
    "INSERT INTO channel_inbox (tenant_id, channel_id, source, topic, dedupe_key, headers, body, state, error, "
    "attempts, result, received_at, processed_at) VALUES (%(tenant_id)s, %(channel_id)s, %(source)s, %(topic)s, "
    "%(dedupe_key)s, %(headers)s::json, %(body)s, %(state)s, %(error)s, %(attempts)s, %(result)s::json, "
    "%(received_at)s, %(processed_at)s) ON CONFLICT (tenant_id, channel_id, dedupe_key) DO NOTHING RETURNING id"
)
_FINISH = (
    update(INBOX)
    .where(INBOX.c.tenant_id == bindparam("b_tenant"), INBOX.c.id == bindparam("b_item"))
    .values(attempts=INBOX.c.attempts + 1)
)

# Orders accepted but not yet routed: their open units are promised to no location yet.
UNROUTED_STATUSES = ("pending", "on_hold", "confirmed")


@dataclass(frozen=True)
class ListingRow:
    id: int
    channel_id: int
    listing_id: str
    seller_sku: str | None
    sku_id: int | None
    sku_code: str | None
    attributes: dict[str, Any]
    active: bool
    dirty: int
    pushed_quantity: int | None
    pushed_at: datetime | None
    push_error: str | None
    channel_quantity: int | None
    checked_at: datetime | None


@dataclass(frozen=True)
class InboxRow:
    id: int
    channel_id: int
    source: str
    topic: str | None
    dedupe_key: str
    headers: dict[str, Any]
    body: bytes
    state: str
    error: str | None
    attempts: int
    result: dict[str, Any]
    received_at: datetime
    processed_at: datetime | None


@dataclass(frozen=True)
class ShippedWith:
    carrier: str  # the courier's name as buyers know it
    awb: str
    tracking_url: str | None


@dataclass(frozen=True)
class SyncRow:
    channel_id: int
    kind: str
    cursor: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failures: int
    next_attempt_at: datetime | None


_LISTING_COLUMNS = (*LISTINGS.c, SKUS.c.code.label("sku_code"))
_LISTINGS_BY_IDS = (
    select(*_LISTING_COLUMNS)
    .outerjoin(SKUS, SKUS.c.id == LISTINGS.c.sku_id)
    .where(
        LISTINGS.c.tenant_id == bindparam("b_tenant"),
        LISTINGS.c.channel_id == bindparam("b_channel"),
        LISTINGS.c.listing_id.in_(bindparam("b_ids", expanding=True)),
    )
)

# The ids go in as one array parameter: the same statement text (and prepared plan) for any count.
_PG_LISTINGS_BY_IDS = (
    "SELECT l.id, l.channel_id, l.listing_id, l.seller_sku, l.sku_id, s.code AS sku_code, l.attributes, l.active, "
    "l.dirty, l.pushed_quantity, l.pushed_at, l.push_error, l.channel_quantity, l.checked_at "
    "FROM channel_listings l LEFT OUTER JOIN skus s ON s.id = l.sku_id "
    "WHERE l.tenant_id = %(tenant)s AND l.channel_id = %(channel)s AND l.listing_id = ANY(%(ids)s::text[])"
)
_PG_FINISH = (
    "UPDATE channel_inbox SET state = %(state)s, error = %(error)s, attempts = attempts + 1, "
    "result = %(result)s::json, processed_at = %(processed_at)s WHERE tenant_id = %(tenant)s AND id = %(item)s"
)


# Bodies are bound as a binary bytea[] (%b): as text, every byte of every body was escaped. Ids
# are drawn in the order the bodies came (a queued batch is processed in that order); rows go in
# in dedupe-key order, so two batches storing the same bodies never wait for each other crosswise.
_PG_STORE_MANY = """
INSERT INTO channel_inbox (id, tenant_id, channel_id, source, topic, dedupe_key, headers, body, state, error,
                           attempts, result, received_at, processed_at)
SELECT b.id, %(tenant)s, %(channel)s, %(source)s, b.topic, b.key, b.headers::json, b.body, b.state, NULL,
       CASE WHEN b.state = 'processed' THEN 1 ELSE 0 END, b.result::json, %(now)s,
       CASE WHEN b.state IN ('processing', 'processed') THEN %(now)s::timestamptz END
FROM (
    SELECT nextval('channel_inbox_id_seq') AS id, g.*
    FROM (
        SELECT * FROM unnest(%(topics)s::text[], %(keys)s::text[], %(headers)s::text[], %(bodies)b::bytea[],
                             %(states)s::text[], %(results)s::text[]) WITH ORDINALITY AS u(topic, key, headers, body,
                                                                                          state, result, n)
        ORDER BY u.n
    ) g
) b
ORDER BY b.key
ON CONFLICT (tenant_id, channel_id, dedupe_key) DO NOTHING RETURNING id, dedupe_key
"""


# Several items finished at once, each with its own result (a worker's batch of webhooks).
_PG_FINISH_MANY = """
UPDATE channel_inbox i SET state = %(state)s, error = NULL, attempts = i.attempts + 1, result = f.result::json,
       processed_at = %(now)s
FROM unnest(%(ids)s::bigint[], %(results)s::text[]) AS f(id, result)
WHERE i.tenant_id = %(tenant)s AND i.id = f.id
"""


def _abandoned(stale_before: datetime) -> Any:
    """Items left 'processing' past the lease: the process that claimed them died."""
    return and_(INBOX.c.state == "processing", INBOX.c.processed_at < stale_before)


@dataclass(frozen=True)
class StoredBody:
    """A body for :meth:`ChannelSyncRepository.store_many`, with the state and result it is kept with."""

    topic: str | None
    key: str  # the dedupe key
    headers: dict[str, Any]
    body: bytes
    state: str
    result: dict[str, Any]


def _listing(r: Any) -> ListingRow:
    return ListingRow(
        r.id, r.channel_id, r.listing_id, r.seller_sku, r.sku_id, r.sku_code, dict(r.attributes or {}), r.active,
        r.dirty, r.pushed_quantity, r.pushed_at, r.push_error, r.channel_quantity, r.checked_at,
    )  # fmt: skip


def _inbox(r: Any) -> InboxRow:
    return InboxRow(
        r.id, r.channel_id, r.source, r.topic, r.dedupe_key, dict(r.headers or {}), bytes(r.body), r.state, r.error,
        r.attempts, dict(r.result or {}), r.received_at, r.processed_at,
    )  # fmt: skip


def _sync(r: Any) -> SyncRow:
    return SyncRow(
        r.channel_id, r.kind, r.cursor, r.last_attempt_at, r.last_success_at, r.last_error, r.last_error_at,
        r.failures, r.next_attempt_at,
    )  # fmt: skip


class ChannelSyncRepository:
    def __init__(self, conn: Connection, tenant_id: int):
        self.conn = conn
        self.tenant_id = tenant_id
        self.dialect = conn.dialect.name

    def _insert(self, table: Any) -> Any:
        return pg_insert(table) if self.dialect == "postgresql" else sqlite_insert(table)

    # -- listings ---------------------------------------------------------------------------

    def upsert_listing(
        self,
        channel_id: int,
        listing_id: str,
        seller_sku: str | None,
        sku_id: int | None,
        attributes: dict[str, Any],
        active: bool,
        now: datetime,
    ) -> bool:
        """Add or replace a listing; True when it was new. A changed listing is pushed again."""
        existed = self.conn.execute(
            select(LISTINGS.c.id).where(
                LISTINGS.c.tenant_id == self.tenant_id,
                LISTINGS.c.channel_id == channel_id,
                LISTINGS.c.listing_id == listing_id,
            )
        ).scalar()
        values = {"seller_sku": seller_sku, "sku_id": sku_id, "attributes": attributes, "active": active}
        stmt = (
            self._insert(LISTINGS)
            .values(
                tenant_id=self.tenant_id,
                channel_id=channel_id,
                listing_id=listing_id,
                dirty=1,
                created_at=now,
                updated_at=now,
                **values,
            )
            .on_conflict_do_update(
                index_elements=["tenant_id", "channel_id", "listing_id"],
                set_={**values, "updated_at": now, "dirty": LISTINGS.c.dirty + 1},
            )
        )
        self.conn.execute(stmt)
        return existed is None

    def listings(
        self, channel_id: int, *, only_dirty: bool = False, limit: int | None = None, after_id: int = 0
    ) -> list[ListingRow]:
        q = (
            select(*_LISTING_COLUMNS)
            .outerjoin(SKUS, SKUS.c.id == LISTINGS.c.sku_id)
            .where(
                LISTINGS.c.tenant_id == self.tenant_id, LISTINGS.c.channel_id == channel_id, LISTINGS.c.id > after_id
            )
            .order_by(LISTINGS.c.id)
        )
        if only_dirty:
            q = q.where(LISTINGS.c.dirty > 0, LISTINGS.c.active.is_(True), LISTINGS.c.sku_id.is_not(None))
        if limit:
            q = q.limit(limit)
        return [_listing(r) for r in self.conn.execute(q)]

    def listing_by_ids(self, channel_id: int, listing_ids: Iterable[str]) -> dict[str, ListingRow]:
        ids = list(set(listing_ids))
        if not ids:
            return {}
        if self.dialect == "postgresql":  # every channel order: through the driver (ADR 0007)
            from psycopg.rows import namedtuple_row

            raw = driver(self.conn)
            cur = raw.cursor(row_factory=namedtuple_row)
            found = cur.execute(_PG_LISTINGS_BY_IDS, {"tenant": self.tenant_id, "channel": channel_id, "ids": ids})
            return {r.listing_id: _listing(r) for r in found}
        rows = self.conn.execute(_LISTINGS_BY_IDS, {"b_tenant": self.tenant_id, "b_channel": channel_id, "b_ids": ids})
        return {r.listing_id: _listing(r) for r in rows}

    def mark_dirty(self, sku_ids: Sequence[int]) -> int:
        """Listings of these SKUs (on every channel) have a stock change to push."""
        if not sku_ids:
            return 0
        return int(
            self.conn.execute(
                update(LISTINGS)
                .where(LISTINGS.c.tenant_id == self.tenant_id, LISTINGS.c.sku_id.in_(list(sku_ids)))
                .values(dirty=LISTINGS.c.dirty + 1)
            ).rowcount
        )

    def record_push(self, listing: ListingRow, quantity: int, ok: bool, detail: str, now: datetime) -> None:
        """After a push: a success clears ``dirty`` unless another change came meanwhile."""
        values: dict[str, Any] = {"push_error": None if ok else detail[:2000]}
        if ok:
            values |= {
                "pushed_quantity": quantity,
                "pushed_at": now,
                "dirty": case((LISTINGS.c.dirty == listing.dirty, 0), else_=LISTINGS.c.dirty),
            }
        self.conn.execute(
            update(LISTINGS).where(LISTINGS.c.tenant_id == self.tenant_id, LISTINGS.c.id == listing.id).values(**values)
        )

    def record_channel_quantity(self, listing_id: int, quantity: int | None, now: datetime) -> None:
        self.conn.execute(
            update(LISTINGS)
            .where(LISTINGS.c.tenant_id == self.tenant_id, LISTINGS.c.id == listing_id)
            .values(channel_quantity=quantity, checked_at=now)
        )

    def dirty_channels(self) -> list[int]:
        rows = self.conn.execute(
            select(LISTINGS.c.channel_id)
            .where(LISTINGS.c.tenant_id == self.tenant_id, LISTINGS.c.dirty > 0, LISTINGS.c.sku_id.is_not(None))
            .distinct()
        )
        return [r[0] for r in rows]

    def unrouted_units(self, sku_ids: Sequence[int]) -> dict[int, int]:
        """sku id -> open units in orders accepted but not yet routed (pending, held, confirmed)."""
        if not sku_ids:
            return {}
        open_units = LINES.c.quantity - LINES.c.allocated - LINES.c.shipped - LINES.c.cancelled
        rows = self.conn.execute(
            select(LINES.c.sku_id, func.sum(open_units))
            .join(ORDERS, and_(ORDERS.c.tenant_id == LINES.c.tenant_id, ORDERS.c.id == LINES.c.order_id))
            .where(
                LINES.c.tenant_id == self.tenant_id,
                LINES.c.sku_id.in_(list(sku_ids)),
                ORDERS.c.status.in_(UNROUTED_STATUSES),
            )
            .group_by(LINES.c.sku_id)
        )
        return {r[0]: int(r[1] or 0) for r in rows}

    # -- inbox ------------------------------------------------------------------------------

    def store(
        self,
        channel_id: int,
        source: str,
        topic: str | None,
        dedupe_key: str,
        headers: dict[str, Any],
        body: bytes,
        now: datetime,
        *,
        state: str = "received",
        error: str | None = None,
        result: dict[str, Any] | None = None,
        attempts: int = 0,
    ) -> int | None:
        """Keep a body; its id, or None when this very delivery was stored before."""
        values = {
            "tenant_id": self.tenant_id,
            "channel_id": channel_id,
            "source": source,
            "topic": topic,
            "dedupe_key": dedupe_key,
            "headers": headers,
            "body": body,
            "state": state,
            "error": error,
            "attempts": attempts,
            "result": result or {},
            "received_at": now,
            "processed_at": now if state in ("processing", "processed") else None,
        }
        if self.dialect == "postgresql":  # every webhook: through the driver (ADR 0007)
            raw = driver(self.conn)
            values["headers"], values["result"] = json.dumps(headers), json.dumps(result or {})
            row = raw.execute(_PG_STORE, values).fetchone()
            return None if row is None else int(row[0])
        return self.conn.execute(_SQLITE_STORE, values).scalar()

    def store_many(self, channel_id: int, source: str, bodies: Sequence[StoredBody], now: datetime) -> dict[str, int]:
        """:meth:`store` for several bodies of one channel with distinct dedupe keys, each with
        its state and result: their ids by dedupe key; a delivery stored before is left out. A
        body stored ``processed`` counts the one attempt that processed it."""
        if self.dialect != "postgresql":
            out = {}
            for b in bodies:
                item_id = self.store(channel_id, source, b.topic, b.key, b.headers, b.body, now, state=b.state,
                                     result=b.result, attempts=int(b.state == "processed"))  # fmt: skip
                if item_id is not None:
                    out[b.key] = item_id
            return out
        ordered = list(bodies)
        rows = (
            driver(self.conn)
            .execute(
                _PG_STORE_MANY,
                {
                    "tenant": self.tenant_id,
                    "channel": channel_id,
                    "source": source,
                    "now": now,
                    "topics": [b.topic for b in ordered],
                    "keys": [b.key for b in ordered],
                    "headers": [json.dumps(b.headers) for b in ordered],
                    "bodies": [b.body for b in ordered],
                    "states": [b.state for b in ordered],
                    "results": [json.dumps(b.result) for b in ordered],
                },
            )
            .fetchall()
        )
        return {str(r[1]): int(r[0]) for r in rows}

    def inbox_item(self, item_id: int, *, for_update: bool = False) -> InboxRow | None:
        q = select(INBOX).where(INBOX.c.tenant_id == self.tenant_id, INBOX.c.id == item_id)
        if for_update:
            q = q.with_for_update()
        row = self.conn.execute(q).first()
        return _inbox(row) if row else None

    def webhook_channels(self, stale_before: datetime) -> list[int]:
        """The channels with webhook bodies waiting to be processed."""
        q = select(INBOX.c.channel_id).distinct().where(*self._waiting_webhooks(stale_before))
        return [int(r[0]) for r in self.conn.execute(q)]

    def take_webhooks(self, channel_id: int, limit: int, stale_before: datetime) -> list[InboxRow]:
        """A channel's oldest webhook bodies waiting to be processed (stored while webhooks are
        queued for the workers, or left 'processing' past the lease by a process that died),
        locked for this transaction; bodies another worker holds are skipped (PostgreSQL), so
        several workers drain side by side."""
        q = (
            select(INBOX)
            .where(*self._waiting_webhooks(stale_before), INBOX.c.channel_id == channel_id)
            .order_by(INBOX.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_inbox(r) for r in self.conn.execute(q)]

    def _waiting_webhooks(self, stale_before: datetime) -> tuple[Any, ...]:
        return (
            INBOX.c.tenant_id == self.tenant_id,
            or_(
                INBOX.c.state == "received",
                _abandoned(stale_before),
            ),
            INBOX.c.source == "webhook",
        )

    def finish_many(self, results: Mapping[int, dict[str, Any]], state: str, now: datetime) -> None:
        """:meth:`finish` for several items at once, each with its own result and no error."""
        if not results:
            return
        if self.dialect == "postgresql":  # a worker's batch: one statement, arrays bound (ADR 0007)
            driver(self.conn).execute(
                _PG_FINISH_MANY,
                {"tenant": self.tenant_id, "state": state, "now": now, "ids": list(results),
                 "results": [json.dumps(r) for r in results.values()]},
            )  # fmt: skip
            return
        for item_id, result in results.items():
            self.finish(item_id, state, None, result, now)

    def claim(self, item_id: int, now: datetime, stale_before: datetime) -> bool:
        """Take an item for processing; False when another process has it, or it is done. One
        guarded UPDATE, so of two processes only one can win."""
        claimed = self.conn.execute(
            update(INBOX)
            .where(
                INBOX.c.tenant_id == self.tenant_id,
                INBOX.c.id == item_id,
                or_(
                    INBOX.c.state.in_(("received", "failed")),
                    _abandoned(stale_before),
                ),
            )
            .values(state="processing", processed_at=now)
        ).rowcount
        return bool(claimed)

    def finish(self, item_id: int, state: str, error: str | None, result: dict[str, Any], now: datetime) -> None:
        values = {"state": state, "error": error[:4000] if error else None, "result": result, "processed_at": now}
        if self.dialect == "postgresql":  # every webhook: through the driver (ADR 0007)
            raw = driver(self.conn)
            values["result"] = json.dumps(result)
            raw.execute(_PG_FINISH, {"tenant": self.tenant_id, "item": item_id, **values})
            return
        self.conn.execute(_FINISH, {"b_tenant": self.tenant_id, "b_item": item_id, **values})

    def inbox(
        self, *, channel_id: int | None = None, state: str | None = None, before_id: int | None = None, limit: int = 50
    ) -> list[InboxRow]:
        q = select(INBOX).where(INBOX.c.tenant_id == self.tenant_id).order_by(INBOX.c.id.desc()).limit(limit)
        if channel_id is not None:
            q = q.where(INBOX.c.channel_id == channel_id)
        if state is not None:
            q = q.where(INBOX.c.state == state)
        if before_id is not None:
            q = q.where(INBOX.c.id < before_id)
        return [_inbox(r) for r in self.conn.execute(q)]

    def waiting(self, older_than: datetime, stale_before: datetime, limit: int = 100) -> list[int]:
        """Items stored but never processed, or abandoned mid-processing by a process that died."""
        rows = self.conn.execute(
            select(INBOX.c.id)
            .where(
                INBOX.c.tenant_id == self.tenant_id,
                or_(
                    and_(INBOX.c.state == "received", INBOX.c.received_at < older_than),
                    _abandoned(stale_before),
                ),
            )
            .order_by(INBOX.c.id)
            .limit(limit)
        )
        return [r[0] for r in rows]

    def counts(self, channel_id: int) -> dict[str, int]:
        rows = self.conn.execute(
            select(INBOX.c.state, func.count())
            .where(INBOX.c.tenant_id == self.tenant_id, INBOX.c.channel_id == channel_id)
            .group_by(INBOX.c.state)
        )
        return {r[0]: int(r[1]) for r in rows}

    # -- sync state -------------------------------------------------------------------------

    def sync(self, channel_id: int, kind: str, *, for_update: bool = False) -> SyncRow:
        q = select(SYNC).where(SYNC.c.tenant_id == self.tenant_id, SYNC.c.channel_id == channel_id, SYNC.c.kind == kind)
        if for_update:
            self.conn.execute(
                self._insert(SYNC)
                .values(tenant_id=self.tenant_id, channel_id=channel_id, kind=kind, failures=0)
                .on_conflict_do_nothing()
            )
            q = q.with_for_update()
        row = self.conn.execute(q).first()
        if row is None:
            return SyncRow(channel_id, kind, None, None, None, None, None, 0, None)
        return _sync(row)

    def all_sync(self) -> list[SyncRow]:
        rows = self.conn.execute(select(SYNC).where(SYNC.c.tenant_id == self.tenant_id))
        return [_sync(r) for r in rows]

    def save_sync(self, channel_id: int, kind: str, **values: Any) -> None:
        self.conn.execute(
            self._insert(SYNC)
            .values(tenant_id=self.tenant_id, channel_id=channel_id, kind=kind, failures=0)
            .on_conflict_do_nothing()
        )
        self.conn.execute(
            update(SYNC)
            .where(SYNC.c.tenant_id == self.tenant_id, SYNC.c.channel_id == channel_id, SYNC.c.kind == kind)
            .values(**values)
        )

    def succeeded(self, channel_id: int, kind: str, now: datetime, **values: Any) -> None:
        self.save_sync(
            channel_id, kind, last_attempt_at=now, last_success_at=now, failures=0, next_attempt_at=None, **values
        )

    def failed(self, channel_id: int, kind: str, error: str, now: datetime, retry_at: datetime) -> None:
        self.save_sync(
            channel_id,
            kind,
            last_attempt_at=now,
            last_error=error[:4000],
            last_error_at=now,
            failures=SYNC.c.failures + 1,
            next_attempt_at=retry_at,
        )

    def latest_shipment(self, order_id: int) -> ShippedWith | None:
        """The order's most recent shipment with an AWB: what a channel is told when it ships."""
        row = self.conn.execute(
            select(SHIPMENTS.c.awb, SHIPMENTS.c.courier, CARRIERS.c.name)
            .join(CARRIERS, CARRIERS.c.id == SHIPMENTS.c.carrier_id)
            .where(
                SHIPMENTS.c.tenant_id == self.tenant_id,
                SHIPMENTS.c.order_id == order_id,
                SHIPMENTS.c.awb.is_not(None),
                SHIPMENTS.c.status != "cancelled",
            )
            .order_by(SHIPMENTS.c.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return ShippedWith(row.courier or row.name, row.awb, None)

    # -- pushes -----------------------------------------------------------------------------

    def add_pushes(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(insert(PUSHES), [{"tenant_id": self.tenant_id, **r} for r in rows])

    def pushes(
        self, channel_id: int, *, kind: str | None = None, failed_only: bool = False, limit: int = 50
    ) -> list[Any]:
        q = (
            select(PUSHES)
            .where(PUSHES.c.tenant_id == self.tenant_id, PUSHES.c.channel_id == channel_id)
            .order_by(PUSHES.c.id.desc())
            .limit(limit)
        )
        if kind is not None:
            q = q.where(or_(PUSHES.c.kind == kind))
        if failed_only:
            q = q.where(PUSHES.c.ok.is_(False))
        return list(self.conn.execute(q))
