"""Tenant-scoped repositories for orders and customers. The ingestion path is set-based: one
statement per table, whatever the number of lines."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, and_, bindparam, case, func, insert, or_, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ordermesh.adapters.db import tables as t
from ordermesh.adapters.db.engine import DIALECTS, among, driver
from ordermesh.domain.orders import LineQuantities

ORDERS = t.Order.__table__
LINES = t.OrderLine.__table__
ALLOCS = t.OrderAllocation.__table__
EVENTS = t.OrderEvent.__table__
CHANGES = t.OrderChange.__table__
CUSTOMERS = t.Customer.__table__
LOCS = t.Location.__table__
CHANNELS = t.Channel.__table__


def quantities_of(line: Any) -> LineQuantities:
    """An order_lines row's unit counts as the domain value that checks they add up."""
    return LineQuantities(line.quantity, line.allocated, line.shipped, line.delivered, line.cancelled, line.returned)


@dataclass
class OrderRow:
    """An order as stored: the row, its lines and its live allocations."""

    row: Any
    lines: list[Any]
    allocations: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class History:
    orders: int = 0
    delivered: int = 0
    rto: int = 0
    returned: int = 0
    recent: int = 0  # orders placed within the look-back window
    lifetime_value: Any = 0


# Statements on the order intake path, built once: SQLAlchemy then only looks up their compiled form.
_SQLITE_INSERT_ORDER = (
    sqlite_insert(ORDERS)
    .on_conflict_do_nothing(index_elements=["tenant_id", "channel_id", "external_id"])
    .returning(ORDERS.c.id)
)
_ORDER_JSON_COLUMNS = tuple(c.name for c in ORDERS.columns if isinstance(c.type, JSON))


@functools.cache
def _pg_insert_order(columns: tuple[str, ...]) -> str:
    values = ", ".join(f"%({c})s::json" if c in _ORDER_JSON_COLUMNS else f"%({c})s" for c in columns)
    return (
        f"INSERT INTO orders ({', '.join(columns)}) VALUES ({values}) "
        "ON CONFLICT (tenant_id, channel_id, external_id) DO NOTHING RETURNING id"
    )


_BY_EXTERNAL = select(ORDERS.c.id).where(
    ORDERS.c.tenant_id == bindparam("tenant_id"),
    ORDERS.c.channel_id == bindparam("channel_id"),
    ORDERS.c.external_id == bindparam("external_id"),
)
_INSERT_LINES = insert(LINES).returning(LINES.c.id, sort_by_parameter_order=True)
_INSERT_ALLOCATIONS = insert(ALLOCS)
_INSERT_EVENTS = insert(EVENTS)
# Only orders with a final delivery outcome count, named with the literal text of the partial
# index on them (tables.PINCODE_OUTCOME_SQL), so both databases read just those from it.
_PINCODE_HISTORY = select(func.count(), func.sum(case((ORDERS.c.status == "rto", 1), else_=0))).where(
    ORDERS.c.tenant_id == bindparam("tenant_id"),
    ORDERS.c.ship_pincode == bindparam("pincode"),
    text(f"orders.{t.PINCODE_OUTCOME_SQL}"),
    ORDERS.c.id != bindparam("exclude_id"),
)


# Reading one order (every API answer about an order does), built once.
_ORDER = select(ORDERS).where(ORDERS.c.tenant_id == bindparam("tenant_id"), ORDERS.c.id == bindparam("order_id"))
_ORDER_FOR_UPDATE = _ORDER.with_for_update()
_LINES_OF = (
    select(LINES)
    .where(LINES.c.tenant_id == bindparam("tenant_id"), LINES.c.order_id == bindparam("order_id"))
    .order_by(LINES.c.line_no)
)
_ALLOCATIONS_OF = (
    select(ALLOCS, LOCS.c.code.label("location"))
    .join(LOCS, LOCS.c.id == ALLOCS.c.location_id)
    .where(
        ALLOCS.c.tenant_id == bindparam("tenant_id"), ALLOCS.c.order_id == bindparam("order_id"), ALLOCS.c.quantity > 0
    )
    .order_by(ALLOCS.c.id)
)
_EVENTS_OF = (
    select(EVENTS)
    .where(EVENTS.c.tenant_id == bindparam("tenant_id"), EVENTS.c.order_id == bindparam("order_id"))
    .order_by(EVENTS.c.id)
)
_CHANGES_OF = (
    select(CHANGES)
    .where(CHANGES.c.tenant_id == bindparam("tenant_id"), CHANGES.c.order_id == bindparam("order_id"))
    .order_by(CHANGES.c.version)
)

# A new order's body: (order id, lines, allocations by line number, timeline entries).
OrderBody = tuple[int, Sequence[dict[str, Any]], Sequence[dict[str, Any]], Sequence[dict[str, Any]]]
_LINE_KEYS = ("line_no", "sku_code", "sku_id", "quantity", "unit_price", "discount", "tax", "allocated")
# New orders' lines, allocations (by line number) and timeline entries, any number of orders.
_PG_ADD_BODIES = """
WITH lines AS (
    INSERT INTO order_lines (tenant_id, order_id, line_no, sku_code, sku_id, quantity, unit_price, discount, tax,
                             allocated, shipped, delivered, cancelled, returned)
    SELECT %(tenant)s, order_id, line_no, sku_code, sku_id, quantity, unit_price, discount, tax, allocated,
           0, 0, 0, 0
    FROM json_to_recordset(%(lines)s::json) AS x(order_id bigint, line_no int, sku_code text, sku_id bigint,
                                               quantity int, unit_price numeric, discount numeric, tax numeric,
                                               allocated int)
    ORDER BY order_id, line_no
    RETURNING id, order_id, line_no
),
allocations AS (
    INSERT INTO order_allocations (tenant_id, order_id, line_id, location_id, quantity, created_at)
    SELECT %(tenant)s, x.order_id, lines.id, x.location_id, x.quantity, %(now)s
    FROM json_to_recordset(%(allocations)s::json) AS x(order_id bigint, line_no int, location_id bigint, quantity int)
    JOIN lines ON lines.order_id = x.order_id AND lines.line_no = x.line_no
)
INSERT INTO order_events (tenant_id, order_id, at, kind, message, data, actor)
SELECT %(tenant)s, order_id, at, kind, message, data, actor
FROM json_to_recordset(%(events)s::json) AS x(order_id bigint, at timestamptz, kind text, message text, data json,
                                              actor text, n int)
ORDER BY order_id, n
"""


@functools.cache
def _pg_insert_orders(columns: tuple[str, ...]) -> str:
    """New orders from one JSON array, typed by the table's own row type; the ones whose
    (channel, external id) exists already are left out of what it returns."""
    names = ", ".join(columns)
    return (
        f"INSERT INTO orders ({names}) SELECT {names} FROM json_populate_recordset(NULL::orders, %(rows)s::json) "
        "ORDER BY channel_id, external_id "  # a fixed order: two batches never wait on each other crosswise
        "ON CONFLICT (tenant_id, channel_id, external_id) DO NOTHING RETURNING id, channel_id, external_id"
    )


# Several orders locked with their lines (tracking batches), built once per dialect.
_LOCK_MANY = {
    d: select(ORDERS)
    .where(ORDERS.c.tenant_id == bindparam("tenant_id"), among(ORDERS.c.id, "ids", d))
    .order_by(ORDERS.c.id)
    .with_for_update()
    for d in DIALECTS
}
_LINES_OF_MANY = {
    d: select(LINES)
    .where(LINES.c.tenant_id == bindparam("tenant_id"), among(LINES.c.order_id, "ids", d))
    .order_by(LINES.c.order_id, LINES.c.line_no)
    for d in DIALECTS
}


class OrderRepository:
    def __init__(self, conn: Connection, tenant_id: int):
        self.conn = conn
        self.tenant_id = tenant_id
        self.dialect = conn.dialect.name

    def insert_if_new(self, values: dict[str, Any]) -> int | None:
        """Insert an order unless (channel, external id) exists; the id, or None if it existed.

        Two requests racing with the same order both reach this statement; the database's unique
        key lets exactly one insert, the other waits for it and gets None."""
        if self.dialect == "postgresql":
            # Through the driver, as the rest of intake's writes (ADR 0007); JSON columns as text.
            raw = driver(self.conn)
            params = {"tenant_id": self.tenant_id, **values}
            for column in _ORDER_JSON_COLUMNS:
                if params.get(column) is not None:
                    params[column] = json.dumps(params[column])
            row = raw.execute(_pg_insert_order(tuple(params)), params).fetchone()
            return None if row is None else int(row[0])
        return self.conn.execute(_SQLITE_INSERT_ORDER, {"tenant_id": self.tenant_id, **values}).scalar()

    def insert_many(self, rows: Sequence[dict[str, Any]]) -> dict[tuple[int, str], int]:
        """:meth:`insert_if_new` for several orders (the same columns each): the ids of the ones
        inserted, by (channel id, external id); one that existed is not among them."""
        if not rows:
            return {}
        if self.dialect != "postgresql":
            out = {}
            for values in rows:
                order_id = self.insert_if_new(values)
                if order_id is not None:
                    out[(values["channel_id"], values["external_id"])] = order_id
            return out
        raw = driver(self.conn)
        columns = ("tenant_id", *rows[0])
        # Dates and amounts as text (ISO times, exact decimals), which the row type reads back.
        given = json.dumps([{"tenant_id": self.tenant_id, **values} for values in rows], default=str)
        found = raw.execute(_pg_insert_orders(columns), {"rows": given}).fetchall()
        return {(int(r[1]), str(r[2])): int(r[0]) for r in found}

    def id_for_external(self, channel_id: int, external_id: str) -> int | None:
        return self.conn.execute(
            _BY_EXTERNAL, {"tenant_id": self.tenant_id, "channel_id": channel_id, "external_id": external_id}
        ).scalar()

    def add_lines(self, order_id: int, lines: Sequence[dict[str, Any]]) -> list[int]:
        rows = self.conn.execute(
            _INSERT_LINES, [{"tenant_id": self.tenant_id, "order_id": order_id, **line} for line in lines]
        ).all()
        return [r[0] for r in rows]

    def add_body(
        self,
        order_id: int,
        lines: Sequence[dict[str, Any]],
        allocations: Sequence[dict[str, Any]],
        events: Sequence[dict[str, Any]],
        now: datetime,
    ) -> None:
        """A new order's lines, allocations (by ``line_no``) and timeline entries."""
        self.add_bodies([(order_id, lines, allocations, events)], now)

    def add_bodies(self, bodies: Sequence[OrderBody], now: datetime) -> None:
        """New orders' lines, allocations (by ``line_no``) and timeline entries.

        On PostgreSQL in one statement through the driver, as the stock movements are (see
        StockRepository.apply_all): this is the tail of every order's intake."""
        if self.dialect != "postgresql":
            for order_id, lines, allocations, events in bodies:
                ids = self.add_lines(order_id, lines)
                by_no = {line["line_no"]: ids[i] for i, line in enumerate(lines)}
                self.add_allocations(
                    order_id,
                    [
                        {"line_id": by_no[a["line_no"]], "location_id": a["location_id"], "quantity": a["quantity"]}
                        for a in allocations
                    ],
                    now,
                )
                self.add_events(order_id, events)
            return
        raw = driver(self.conn)
        raw.execute(
            _PG_ADD_BODIES,
            {
                "tenant": self.tenant_id,
                "now": now,
                "lines": json.dumps(
                    [
                        {"order_id": oid, **{k: line[k] for k in _LINE_KEYS}}
                        for oid, lines, _, _ in bodies
                        for line in lines
                    ],
                    default=str,
                ),
                "allocations": json.dumps([{"order_id": oid, **a} for oid, _, allocs, _ in bodies for a in allocs]),
                "events": json.dumps(
                    [
                        {"order_id": oid, **e, "at": e["at"].isoformat(), "n": n}
                        for oid, _, _, events in bodies
                        for n, e in enumerate(events)
                    ],
                    default=str,
                ),
            },
        )

    def get(self, order_id: int, *, for_update: bool = False, allocations: bool = True) -> OrderRow | None:
        """The order, its lines and (unless ``allocations`` is False) its live allocations."""
        keys = {"tenant_id": self.tenant_id, "order_id": order_id}
        row = self.conn.execute(_ORDER_FOR_UPDATE if for_update else _ORDER, keys).first()
        if row is None:
            return None
        lines = list(self.conn.execute(_LINES_OF, keys))
        allocs = list(self.conn.execute(_ALLOCATIONS_OF, keys)) if allocations else []
        return OrderRow(row, lines, allocs)

    def lock_many(self, order_ids: Sequence[int]) -> tuple[dict[int, Any], dict[int, list[Any]]]:
        """Several orders locked (in id order) with their lines: two statements. Returns (order rows
        by id, lines by order id in line order)."""
        ids = sorted(set(order_ids))
        if not ids:
            return {}, {}
        keys = {"tenant_id": self.tenant_id, "ids": ids}
        orders = {r.id: r for r in self.conn.execute(_LOCK_MANY[self.dialect], keys).all()}
        lines: dict[int, list[Any]] = {}
        for line in self.conn.execute(_LINES_OF_MANY[self.dialect], keys).all():
            lines.setdefault(line.order_id, []).append(line)
        return orders, lines

    def update(self, order_id: int, **values: Any) -> None:
        self.conn.execute(
            update(ORDERS).where(ORDERS.c.tenant_id == self.tenant_id, ORDERS.c.id == order_id).values(**values)
        )

    def set_line_counts(self, rows: Sequence[dict[str, Any]]) -> None:
        """rows: {"id", "allocated", "cancelled", ...} — the new counts of each changed line."""
        for r in rows:
            values = {k: v for k, v in r.items() if k != "id"}
            self.conn.execute(
                update(LINES).where(LINES.c.tenant_id == self.tenant_id, LINES.c.id == r["id"]).values(**values)
            )

    def map_line(self, line_id: int, sku_code: str, sku_id: int) -> None:
        self.conn.execute(
            update(LINES)
            .where(LINES.c.tenant_id == self.tenant_id, LINES.c.id == line_id)
            .values(sku_code=sku_code, sku_id=sku_id)
        )

    def add_allocations(self, order_id: int, rows: Sequence[dict[str, Any]], now: datetime) -> None:
        if rows:
            self.conn.execute(
                _INSERT_ALLOCATIONS,
                [{"tenant_id": self.tenant_id, "order_id": order_id, "created_at": now, **r} for r in rows],
            )

    def clear_allocations(self, order_id: int, line_ids: Sequence[int] | None = None) -> None:
        stmt = update(ALLOCS).where(ALLOCS.c.tenant_id == self.tenant_id, ALLOCS.c.order_id == order_id)
        if line_ids is not None:
            stmt = stmt.where(ALLOCS.c.line_id.in_(list(line_ids)))
        self.conn.execute(stmt.values(quantity=0))

    def reduce_allocation(self, allocation_id: int, by: int) -> None:
        self.conn.execute(
            update(ALLOCS)
            .where(ALLOCS.c.tenant_id == self.tenant_id, ALLOCS.c.id == allocation_id)
            .values(quantity=ALLOCS.c.quantity - by)
        )

    def add_events_of(self, by_order: Mapping[int, Sequence[dict[str, Any]]]) -> None:
        """Timeline entries of several orders in one statement."""
        rows = [{"tenant_id": self.tenant_id, "order_id": oid, **e} for oid, events in by_order.items() for e in events]
        if rows:
            self.conn.execute(_INSERT_EVENTS, rows)

    def add_events(self, order_id: int, events: Sequence[dict[str, Any]]) -> None:
        if events:
            self.conn.execute(
                _INSERT_EVENTS, [{"tenant_id": self.tenant_id, "order_id": order_id, **e} for e in events]
            )

    def events(self, order_id: int) -> list[Any]:
        return list(self.conn.execute(_EVENTS_OF, {"tenant_id": self.tenant_id, "order_id": order_id}))

    def add_change(
        self, order_id: int, version: int, at: datetime, actor: str, reason: str | None, changes: dict[str, Any]
    ) -> None:
        self.conn.execute(
            insert(CHANGES).values(
                tenant_id=self.tenant_id,
                order_id=order_id,
                version=version,
                at=at,
                actor=actor,
                reason=reason,
                changes=changes,
            )
        )

    def changes(self, order_id: int) -> list[Any]:
        return list(self.conn.execute(_CHANGES_OF, {"tenant_id": self.tenant_id, "order_id": order_id}))

    def page(
        self,
        *,
        status: str | None,
        channel_id: int | None,
        hold: str | None,
        sla: str | None,
        customer_id: int | None,
        before_id: int | None,
        limit: int,
        channel_ids: Sequence[int] | None = None,
    ) -> list[Any]:
        """Newest first, keyset-paged on id, so the 100th page costs what the first does."""
        stmt = select(ORDERS).where(ORDERS.c.tenant_id == self.tenant_id)
        if status:
            stmt = stmt.where(ORDERS.c.status == status)
        if channel_id is not None:
            stmt = stmt.where(ORDERS.c.channel_id == channel_id)
        if channel_ids is not None:
            stmt = stmt.where(ORDERS.c.channel_id.in_(list(channel_ids)))
        if customer_id is not None:
            stmt = stmt.where(ORDERS.c.customer_id == customer_id)
        if sla:
            stmt = stmt.where(ORDERS.c.sla_state == sla)
        if hold:
            stmt = stmt.where(ORDERS.c.status == "on_hold")
        if not hold:
            if before_id is not None:
                stmt = stmt.where(ORDERS.c.id < before_id)
            return list(self.conn.execute(stmt.order_by(ORDERS.c.id.desc()).limit(limit)))
        # Holds are a JSON list; the reason is matched here, scanning on-hold orders (the index on
        # status and id keeps that to the held orders, a small share of all) in batches.
        found: list[Any] = []
        cursor = before_id
        while len(found) < limit:
            batch_stmt = stmt if cursor is None else stmt.where(ORDERS.c.id < cursor)
            batch = list(self.conn.execute(batch_stmt.order_by(ORDERS.c.id.desc()).limit(500)))
            found += [r for r in batch if any(h.get("reason") == hold for h in r.holds)]
            if len(batch) < 500:
                break
            cursor = batch[-1].id
        return found[:limit]

    def count_up_to(self, *, status: str | None, channel_id: int | None, cap: int) -> int:
        """How many orders match, counting no further than ``cap`` + 1 (a bounded index scan)."""
        inner = select(ORDERS.c.id).where(ORDERS.c.tenant_id == self.tenant_id)
        if status:
            inner = inner.where(ORDERS.c.status == status)
        if channel_id is not None:
            inner = inner.where(ORDERS.c.channel_id == channel_id)
        sub = inner.limit(cap + 1).subquery()
        return int(self.conn.execute(select(func.count()).select_from(sub)).scalar_one())

    def lines_for(self, order_ids: Sequence[int]) -> dict[int, list[Any]]:
        if not order_ids:
            return {}
        out: dict[int, list[Any]] = {}
        rows = self.conn.execute(
            select(LINES)
            .where(LINES.c.tenant_id == self.tenant_id, LINES.c.order_id.in_(list(order_ids)))
            .order_by(LINES.c.order_id, LINES.c.line_no)
        )
        for r in rows:
            out.setdefault(r.order_id, []).append(r)
        return out

    def duplicates(self, customer_id: int, basket: str, since: datetime, exclude_id: int | None) -> list[int]:
        rows = self.conn.execute(
            select(ORDERS.c.id).where(
                ORDERS.c.tenant_id == self.tenant_id,
                ORDERS.c.customer_id == customer_id,
                ORDERS.c.basket == basket,
                ORDERS.c.placed_at >= since,
                ORDERS.c.id != exclude_id,
                ORDERS.c.status != "cancelled",
            )
        )
        return [r[0] for r in rows]

    def customer_history(self, customer_id: int, since: datetime, exclude_id: int | None) -> History:
        s = ORDERS.c.status
        row = self.conn.execute(
            select(
                func.count(),
                func.sum(case((s.in_(["delivered", "closed", "partially_returned", "returned"]), 1), else_=0)),
                func.sum(case((s == "rto", 1), else_=0)),
                func.sum(case((s.in_(["partially_returned", "returned"]), 1), else_=0)),
                func.sum(case((ORDERS.c.placed_at >= since, 1), else_=0)),
                func.sum(case((s.in_(["delivered", "closed", "partially_returned"]), ORDERS.c.grand_total), else_=0)),
            ).where(
                ORDERS.c.tenant_id == self.tenant_id, ORDERS.c.customer_id == customer_id, ORDERS.c.id != exclude_id
            )
        ).one()
        return History(
            int(row[0] or 0), int(row[1] or 0), int(row[2] or 0), int(row[3] or 0), int(row[4] or 0), row[5] or 0
        )

    def pincode_history(self, pincode: str, exclude_id: int | None) -> tuple[int, int]:
        """(orders that reached a final delivery outcome, of them returned to origin) for a pincode."""
        row = self.conn.execute(
            _PINCODE_HISTORY, {"tenant_id": self.tenant_id, "pincode": pincode, "exclude_id": exclude_id or 0}
        ).one()
        return int(row[0] or 0), int(row[1] or 0)

    def of_customer(self, customer_id: int) -> list[Any]:
        """Every order of a customer with its personal fields (for erasure)."""
        return list(
            self.conn.execute(
                select(ORDERS.c.id, ORDERS.c.customer, ORDERS.c.shipping_address, ORDERS.c.billing_address).where(
                    ORDERS.c.tenant_id == self.tenant_id, ORDERS.c.customer_id == customer_id
                )
            )
        )

    def placed_between(
        self,
        since: datetime,
        until: datetime | None,
        channel_ids: Sequence[int],
        after: tuple[datetime, int] | None,
        limit: int,
    ) -> list[Any]:
        """Orders placed in a window, oldest first, keyset-paged on (placed_at, id)."""
        o = ORDERS.c
        stmt = select(o.id, o.channel_id, o.placed_at, o.status, o.payment_method, o.ship_pincode, o.routing).where(
            o.tenant_id == self.tenant_id, o.channel_id.in_(list(channel_ids)), o.placed_at >= since
        )
        if until is not None:
            stmt = stmt.where(o.placed_at < until)
        if after is not None:
            stmt = stmt.where(or_(o.placed_at > after[0], and_(o.placed_at == after[0], o.id > after[1])))
        return list(self.conn.execute(stmt.order_by(o.placed_at, o.id).limit(limit)))

    def live_allocations(self, order_ids: Sequence[int]) -> dict[int, list[tuple[int, str, int]]]:
        """Order id -> (line id, location code, units) it holds reserved now."""
        rows = self.conn.execute(
            select(ALLOCS.c.order_id, ALLOCS.c.line_id, LOCS.c.code, ALLOCS.c.quantity)
            .join(LOCS, LOCS.c.id == ALLOCS.c.location_id)
            .where(ALLOCS.c.tenant_id == self.tenant_id, ALLOCS.c.order_id.in_(list(order_ids)), ALLOCS.c.quantity > 0)
        )
        out: dict[int, list[tuple[int, str, int]]] = {}
        for r in rows:
            out.setdefault(int(r[0]), []).append((int(r[1]), str(r[2]), int(r[3])))
        return out

    def held_for_stock(self, sku_ids: Sequence[int], limit: int) -> list[int]:
        """Orders waiting for stock of these SKUs, oldest placed first (first in, first served)."""
        if not sku_ids:
            return []
        open_units = LINES.c.quantity - LINES.c.allocated - LINES.c.shipped - LINES.c.cancelled
        rows = self.conn.execute(
            select(ORDERS.c.id)
            .where(
                ORDERS.c.tenant_id == self.tenant_id,
                ORDERS.c.status == "on_hold",
                ORDERS.c.id.in_(
                    select(LINES.c.order_id).where(
                        LINES.c.tenant_id == self.tenant_id, LINES.c.sku_id.in_(list(sku_ids)), open_units > 0
                    )
                ),
            )
            .order_by(ORDERS.c.placed_at, ORDERS.c.id)
            .limit(limit)
        )
        return [r[0] for r in rows]

    def due_for_sla(self, horizon: datetime, limit: int) -> list[Any]:
        """Undispatched orders whose deadline is before ``horizon`` and not yet reported breached."""
        open_statuses = ["pending", "on_hold", "confirmed", "allocated", "in_fulfilment"]
        return list(
            self.conn.execute(
                select(ORDERS.c.id, ORDERS.c.dispatch_by, ORDERS.c.sla_state, ORDERS.c.channel_id)
                .where(
                    ORDERS.c.tenant_id == self.tenant_id,
                    ORDERS.c.status.in_(open_statuses),
                    ORDERS.c.dispatch_by.is_not(None),
                    ORDERS.c.dispatch_by <= horizon,
                    ORDERS.c.sla_state != "breached",
                )
                .order_by(ORDERS.c.dispatch_by)
                .limit(limit)
            )
        )

    def sla_breaches(self) -> list[Any]:
        """Open orders past or near their deadline, counted by channel and allocated location."""
        return list(
            self.conn.execute(
                select(
                    ORDERS.c.sla_state,
                    CHANNELS.c.code.label("channel"),
                    LOCS.c.code.label("location"),
                    func.count(func.distinct(ORDERS.c.id)),
                )
                .join(CHANNELS, CHANNELS.c.id == ORDERS.c.channel_id)
                .outerjoin(ALLOCS, and_(ALLOCS.c.order_id == ORDERS.c.id, ALLOCS.c.quantity > 0))
                .outerjoin(LOCS, LOCS.c.id == ALLOCS.c.location_id)
                .where(ORDERS.c.tenant_id == self.tenant_id, ORDERS.c.sla_state.in_(["at_risk", "breached"]))
                .group_by(ORDERS.c.sla_state, CHANNELS.c.code, LOCS.c.code)
                .order_by(ORDERS.c.sla_state, CHANNELS.c.code, LOCS.c.code)
            )
        )


_SQLITE_INSERT_BY_PHONE = (
    sqlite_insert(CUSTOMERS).on_conflict_do_nothing(index_elements=["tenant_id", "phone"]).returning(CUSTOMERS.c.id)
)
_PG_INSERT_CUSTOMER = (
    "INSERT INTO customers (tenant_id, name, phone, email, created_at) "
    "VALUES (%(tenant_id)s, %(name)s, %(phone)s, %(email)s, %(created_at)s) "
    "ON CONFLICT (tenant_id, phone) DO NOTHING RETURNING id"
)


# New buyers inserted, known ones found, in one statement (the known ones: those the insert left
# out, as the statement's snapshot shows them).
_PG_INSERT_CUSTOMERS = """
WITH given AS (
    SELECT * FROM unnest(%(names)s::text[], %(phones)s::text[], %(emails)s::text[]) WITH ORDINALITY
        AS g(name, phone, email, n)
), added AS (
    INSERT INTO customers (tenant_id, name, phone, email, created_at)
    SELECT %(tenant_id)s, name, phone, email, %(created_at)s FROM given ORDER BY n
    ON CONFLICT (tenant_id, phone) DO NOTHING RETURNING phone, id
)
SELECT phone, id, true FROM added
UNION ALL
SELECT c.phone, c.id, false FROM customers c
WHERE c.tenant_id = %(tenant_id)s AND c.phone = ANY(%(phones)s::text[])
"""


class CustomerRepository:
    def __init__(self, conn: Connection, tenant_id: int):
        self.conn = conn
        self.tenant_id = tenant_id
        self.dialect = conn.dialect.name

    def match_or_create(self, name: str, phone: str | None, email: str | None, now: datetime) -> tuple[int, bool]:
        """One customer per person: the one with this phone, else this email, else a new one.
        Returns the id and whether the customer is new.

        With a phone, the insert comes first (one statement for a new buyer); the unique key on
        (tenant, phone) turns it into nothing when the buyer exists, or is being created by a
        concurrent order, which the look-up then finds."""
        values = {"tenant_id": self.tenant_id, "name": name, "phone": phone, "email": email, "created_at": now}
        if phone:
            if self.dialect == "postgresql":  # on every order's path: through the driver (ADR 0007)
                raw = driver(self.conn)
                row = raw.execute(_PG_INSERT_CUSTOMER, values).fetchone()
                new = row[0] if row else None
            else:
                new = self.conn.execute(_SQLITE_INSERT_BY_PHONE, values).scalar()
            if new is not None:
                return int(new), True
            found = self.conn.execute(self._by_phone, {"tenant_id": self.tenant_id, "phone": phone}).scalar_one()
            return int(found), False
        if email:
            found = self.conn.execute(
                select(CUSTOMERS.c.id)
                .where(CUSTOMERS.c.tenant_id == self.tenant_id, CUSTOMERS.c.email == email)
                .order_by(CUSTOMERS.c.id)
                .limit(1)
            ).scalar()
            if found:
                return int(found), False
        return int(self.conn.execute(insert(CUSTOMERS).values(**values).returning(CUSTOMERS.c.id)).scalar_one()), True

    def match_or_create_many(
        self, buyers: Sequence[tuple[str, str, str | None]], now: datetime
    ) -> dict[str, tuple[int, bool]]:
        """:meth:`match_or_create` for several buyers with distinct phones, given as (name, phone,
        email): (id, new) by phone. On PostgreSQL one statement inserts the new and finds the
        known; a phone another transaction was inserting at that moment is left out of the answer
        (the statement's snapshot cannot see it): ask :meth:`match_or_create` for that one."""
        if self.dialect != "postgresql":
            return {phone: self.match_or_create(name, phone, email, now) for name, phone, email in buyers}
        if not buyers:
            return {}
        ordered = sorted(buyers, key=lambda b: b[1])  # a fixed order: two batches never wait crosswise
        raw = driver(self.conn)
        rows = raw.execute(
            _PG_INSERT_CUSTOMERS,
            {
                "tenant_id": self.tenant_id,
                "names": [b[0] for b in ordered],
                "phones": [b[1] for b in ordered],
                "emails": [b[2] for b in ordered],
                "created_at": now,
            },
        ).fetchall()
        return {str(r[0]): (int(r[1]), bool(r[2])) for r in rows}

    _by_phone = select(CUSTOMERS.c.id).where(
        CUSTOMERS.c.tenant_id == bindparam("tenant_id"), CUSTOMERS.c.phone == bindparam("phone")
    )

    def get(self, customer_id: int) -> Any:
        return self.conn.execute(
            select(CUSTOMERS).where(CUSTOMERS.c.tenant_id == self.tenant_id, CUSTOMERS.c.id == customer_id)
        ).first()

    def erase(self, customer_id: int, name: str, now: datetime) -> None:
        self.conn.execute(
            update(CUSTOMERS)
            .where(CUSTOMERS.c.tenant_id == self.tenant_id, CUSTOMERS.c.id == customer_id)
            .values(name=name, phone=None, email=None, erased_at=now)
        )
