"""Tenant-scoped storage of shipping: carrier accounts, shipments, scans, invoices, manifests, documents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ordermesh.adapters.db import tables as t
from ordermesh.adapters.db.engine import DIALECTS, among, driver

CARRIERS = t.Carrier.__table__
SHIPMENTS = t.Shipment.__table__
SLINES = t.ShipmentLine.__table__
SEVENTS = t.ShipmentEvent.__table__
PUSHES = t.CarrierInbox.__table__
# Built once: every tracking push is stored with it, so SQLAlchemy only looks its compiled form up.
_STORE_PUSH = insert(PUSHES).returning(PUSHES.c.id)
_PG_STORE_PUSH = (
    "INSERT INTO carrier_inbox (tenant_id, carrier_id, headers, body, state, error, attempts, received_at, "
    "processed_at) VALUES (%(tenant_id)s, %(carrier_id)s, %(headers)s::json, %(body)s, %(state)s, %(error)s, "
    "%(attempts)s, %(received_at)s, %(processed_at)s) RETURNING id"
)
# Many pushes waiting for the workers, one statement however many (PushIntake's group commit).
# The bodies as one binary bytea[] (%b): bound as text, every byte of every body was escaped.
_PG_STORE_RECEIVED = (
    "INSERT INTO carrier_inbox (tenant_id, carrier_id, headers, body, state, attempts, received_at) "
    "SELECT t, c, h::json, b, 'received', 0, %(now)s "
    "FROM unnest(%(tenants)s::bigint[], %(carriers)s::bigint[], %(headers)s::text[], %(bodies)b::bytea[]) AS u(t, c, h, b)"
)
# SQLite: scans go in as one executemany of this statement (SQLAlchemy batches it into multi-row
# INSERTs with RETURNING), built once, not a fresh multi-row VALUES compiled for every batch.
_SQLITE_ADD_EVENTS = (
    sqlite_insert(SEVENTS)
    .on_conflict_do_nothing(index_elements=["tenant_id", "shipment_id", "dedupe_key"])
    .returning(SEVENTS.c.shipment_id, SEVENTS.c.dedupe_key)
)
_EVENT_COLUMNS = {
    "shipment_id": "bigint", "at": "timestamptz", "status": "text", "carrier_status": "text", "location": "text",
    "detail": "text", "ndr_reason": "text", "source": "text", "dedupe_key": "text", "recorded_at": "timestamptz",
}  # fmt: skip
# On PostgreSQL the scans go in as one INSERT ... SELECT FROM unnest(one array per column): a short
# statement whatever the batch (the driver caches its parsed form), not a VALUES list per row.
_PG_ADD_EVENTS = (
    f"INSERT INTO shipment_events (tenant_id, {', '.join(_EVENT_COLUMNS)}) "
    f"SELECT %(tenant_id)s, * FROM unnest({', '.join(f'%({c})s::{k}[]' for c, k in _EVENT_COLUMNS.items())}) "
    "ON CONFLICT (tenant_id, shipment_id, dedupe_key) DO NOTHING RETURNING shipment_id, dedupe_key"
)
_UPDATES: dict[tuple[str, ...], Any] = {}  # ShippingRepository.update_many's statements by columns
COUNTERS = t.InvoiceCounter.__table__
INVOICES = t.Invoice.__table__
MANIFESTS = t.Manifest.__table__
DOCUMENTS = t.Document.__table__
LOCATIONS = t.Location.__table__
SKUS = t.Sku.__table__
LINES = t.OrderLine.__table__
ORDERS = t.Order.__table__
# A tracking batch's reads and the inbox's result, built once per dialect (one per push when applied inline).
_BY_AWBS = {
    d: select(SHIPMENTS)
    .where(
        SHIPMENTS.c.tenant_id == bindparam("tenant_id"),
        SHIPMENTS.c.carrier_id == bindparam("carrier_id"),
        among(SHIPMENTS.c.awb, "awbs", d),
    )
    .order_by(SHIPMENTS.c.id)
    .with_for_update()
    for d in DIALECTS
}
_LINES_OF_MANY = {
    d: select(SLINES.c.shipment_id, SLINES.c.order_line_id, SLINES.c.quantity, SKUS.c.code.label("sku"))
    .join(SKUS, SKUS.c.id == SLINES.c.sku_id)
    .where(SLINES.c.tenant_id == bindparam("tenant_id"), among(SLINES.c.shipment_id, "ids", d))
    .order_by(SLINES.c.shipment_id, SLINES.c.id)
    for d in DIALECTS
}
_STATUSES_FOR_ORDERS = {
    d: select(SHIPMENTS.c.order_id, SHIPMENTS.c.id, SHIPMENTS.c.status).where(
        SHIPMENTS.c.tenant_id == bindparam("tenant_id"), among(SHIPMENTS.c.order_id, "ids", d)
    )
    for d in DIALECTS
}
_FINISH_PUSHES = {
    d: update(PUSHES)
    .where(PUSHES.c.tenant_id == bindparam("b_tenant"), among(PUSHES.c.id, "ids", d))
    .values(
        state=bindparam("b_state"),
        error=bindparam("b_error"),
        attempts=PUSHES.c.attempts + 1,
        processed_at=bindparam("b_now"),
    )
    for d in DIALECTS
}


@dataclass(frozen=True)
class CarrierRow:
    id: int
    code: str
    kind: str
    name: str
    base_url: str | None
    credentials: str | None
    settings: dict[str, Any]
    active: bool


def _carrier(r: Any) -> CarrierRow:
    return CarrierRow(r.id, r.code, r.kind, r.name, r.base_url, r.credentials, dict(r.settings or {}), r.active)


class ShippingRepository:
    def __init__(self, conn: Connection, tenant_id: int):
        self.conn = conn
        self.tenant_id = tenant_id
        self.dialect = conn.dialect.name

    # -- carriers ---------------------------------------------------------------------------

    def add_carrier(self, values: dict[str, Any], now: datetime) -> int:
        return int(
            self.conn.execute(
                insert(CARRIERS)
                .values(tenant_id=self.tenant_id, created_at=now, updated_at=now, **values)
                .returning(CARRIERS.c.id)
            ).scalar_one()
        )

    def update_carrier(self, carrier_id: int, values: dict[str, Any], now: datetime) -> None:
        self.conn.execute(
            update(CARRIERS)
            .where(CARRIERS.c.tenant_id == self.tenant_id, CARRIERS.c.id == carrier_id)
            .values(updated_at=now, **values)
        )

    def carrier(self, code: str) -> CarrierRow | None:
        row = self.conn.execute(
            select(CARRIERS).where(CARRIERS.c.tenant_id == self.tenant_id, CARRIERS.c.code == code)
        ).first()
        return _carrier(row) if row else None

    def carrier_by_id(self, carrier_id: int) -> CarrierRow | None:
        row = self.conn.execute(
            select(CARRIERS).where(CARRIERS.c.tenant_id == self.tenant_id, CARRIERS.c.id == carrier_id)
        ).first()
        return _carrier(row) if row else None

    def carriers(self) -> list[CarrierRow]:
        rows = self.conn.execute(
            select(CARRIERS).where(CARRIERS.c.tenant_id == self.tenant_id).order_by(CARRIERS.c.code)
        )
        return [_carrier(r) for r in rows]

    # -- shipments --------------------------------------------------------------------------

    def add_shipment(self, values: dict[str, Any], lines: Sequence[dict[str, Any]]) -> int:
        shipment_id = int(
            self.conn.execute(
                insert(SHIPMENTS).values(tenant_id=self.tenant_id, **values).returning(SHIPMENTS.c.id)
            ).scalar_one()
        )
        self.conn.execute(
            insert(SLINES), [{"tenant_id": self.tenant_id, "shipment_id": shipment_id, **line} for line in lines]
        )
        return shipment_id

    def shipment(self, shipment_id: int, *, for_update: bool = False) -> Any:
        q = select(SHIPMENTS).where(SHIPMENTS.c.tenant_id == self.tenant_id, SHIPMENTS.c.id == shipment_id)
        if for_update:
            q = q.with_for_update()
        return self.conn.execute(q).first()

    def by_awb(self, carrier_id: int, awb: str, *, for_update: bool = False) -> Any:
        q = select(SHIPMENTS).where(
            SHIPMENTS.c.tenant_id == self.tenant_id, SHIPMENTS.c.carrier_id == carrier_id, SHIPMENTS.c.awb == awb
        )
        if for_update:
            q = q.with_for_update()
        return self.conn.execute(q).first()

    def by_awbs(self, carrier_id: int, awbs: Sequence[str]) -> dict[str, Any]:
        """The carrier's shipments with these AWBs, locked, by AWB: one statement, rows locked in id
        order (as every batch locks them, so two batches cannot deadlock on each other)."""
        if not awbs:
            return {}
        keys = {"tenant_id": self.tenant_id, "carrier_id": carrier_id, "awbs": sorted(set(awbs))}
        return {r.awb: r for r in self.conn.execute(_BY_AWBS[self.dialect], keys).all()}

    def by_token(self, token: str) -> Any:
        return self.conn.execute(select(SHIPMENTS).where(SHIPMENTS.c.tracking_token == token)).first()

    def lines(self, shipment_id: int) -> list[Any]:
        """The shipment's lines with their SKU code, barcodes, name, HSN and the order line's prices."""
        return list(
            self.conn.execute(
                select(
                    SLINES,
                    SKUS.c.code.label("sku"),
                    SKUS.c.name.label("name"),
                    SKUS.c.barcodes.label("barcodes"),
                    SKUS.c.hsn.label("hsn"),
                    SKUS.c.gst_rate.label("gst_rate"),
                    LINES.c.line_no,
                    LINES.c.unit_price,
                    LINES.c.discount,
                    LINES.c.quantity.label("line_quantity"),
                )
                .join(SKUS, SKUS.c.id == SLINES.c.sku_id)
                .join(LINES, LINES.c.id == SLINES.c.order_line_id)
                .where(SLINES.c.tenant_id == self.tenant_id, SLINES.c.shipment_id == shipment_id)
                .order_by(SLINES.c.id)
            )
        )

    def set_packed(self, line_id: int, packed: int) -> None:
        self.conn.execute(
            update(SLINES).where(SLINES.c.tenant_id == self.tenant_id, SLINES.c.id == line_id).values(packed=packed)
        )

    def update(self, shipment_id: int, **values: Any) -> None:
        self.conn.execute(
            update(SHIPMENTS)
            .where(SHIPMENTS.c.tenant_id == self.tenant_id, SHIPMENTS.c.id == shipment_id)
            .values(**values)
        )

    def update_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Each row: ``id`` and the new values of that shipment; rows with the same columns go in one
        executemany."""
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for r in rows:
            columns = tuple(sorted(k for k in r if k != "id"))
            by_columns.setdefault(columns, []).append({**{f"v_{k}": r[k] for k in columns}, "v_id": r["id"]})
        for columns, params in by_columns.items():
            stmt = _UPDATES.get(columns)
            if stmt is None:  # built once per set of columns: tracking batches write the same few
                stmt = _UPDATES[columns] = (
                    update(SHIPMENTS)
                    .where(SHIPMENTS.c.tenant_id == bindparam("v_tenant"), SHIPMENTS.c.id == bindparam("v_id"))
                    .values({k: bindparam(f"v_{k}") for k in columns})
                )
            self.conn.execute(stmt, [{**p, "v_tenant": self.tenant_id} for p in params])

    def lines_of_many(self, shipment_ids: Sequence[int]) -> dict[int, list[Any]]:
        """The lines (order line, SKU code, quantity) of several shipments, by shipment id."""
        found: dict[int, list[Any]] = {}
        if not shipment_ids:
            return found
        keys = {"tenant_id": self.tenant_id, "ids": sorted(set(shipment_ids))}
        for r in self.conn.execute(_LINES_OF_MANY[self.dialect], keys).all():
            found.setdefault(r.shipment_id, []).append(r)
        return found

    def statuses_for_orders(self, order_ids: Sequence[int]) -> dict[int, dict[int, str]]:
        """order id -> {shipment id: status} for every shipment of these orders."""
        found: dict[int, dict[int, str]] = {}
        if not order_ids:
            return found
        keys = {"tenant_id": self.tenant_id, "ids": sorted(set(order_ids))}
        for r in self.conn.execute(_STATUSES_FOR_ORDERS[self.dialect], keys).all():
            found.setdefault(r.order_id, {})[r.id] = r.status
        return found

    def for_order(self, order_id: int) -> list[Any]:
        return list(
            self.conn.execute(
                select(SHIPMENTS)
                .where(SHIPMENTS.c.tenant_id == self.tenant_id, SHIPMENTS.c.order_id == order_id)
                .order_by(SHIPMENTS.c.id)
            )
        )

    def units_in_shipments(self, order_id: int) -> dict[tuple[int, int], int]:
        """(order line id, location id) -> units already in a shipment that is not cancelled."""
        rows = self.conn.execute(
            select(SLINES.c.order_line_id, SHIPMENTS.c.location_id, func.sum(SLINES.c.quantity))
            .join(SHIPMENTS, SHIPMENTS.c.id == SLINES.c.shipment_id)
            .where(
                SLINES.c.tenant_id == self.tenant_id,
                SHIPMENTS.c.order_id == order_id,
                SHIPMENTS.c.status != "cancelled",
            )
            .group_by(SLINES.c.order_line_id, SHIPMENTS.c.location_id)
        )
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def page(
        self,
        *,
        status: str | None = None,
        location_id: int | None = None,
        carrier_id: int | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[Any]:
        q = (
            select(SHIPMENTS)
            .where(SHIPMENTS.c.tenant_id == self.tenant_id)
            .order_by(SHIPMENTS.c.id.desc())
            .limit(limit)
        )
        if status is not None:
            q = q.where(SHIPMENTS.c.status == status)
        if location_id is not None:
            q = q.where(SHIPMENTS.c.location_id == location_id)
        if carrier_id is not None:
            q = q.where(SHIPMENTS.c.carrier_id == carrier_id)
        if before_id is not None:
            q = q.where(SHIPMENTS.c.id < before_id)
        return list(self.conn.execute(q))

    def ready_for_manifest(self, carrier_id: int, location_id: int) -> list[Any]:
        return list(
            self.conn.execute(
                select(SHIPMENTS)
                .where(
                    SHIPMENTS.c.tenant_id == self.tenant_id,
                    SHIPMENTS.c.carrier_id == carrier_id,
                    SHIPMENTS.c.location_id == location_id,
                    SHIPMENTS.c.status == "ready_to_ship",
                    SHIPMENTS.c.manifest_id.is_(None),
                )
                .order_by(SHIPMENTS.c.id)
                .with_for_update()
            )
        )

    def moving(self, carrier_id: int, limit: int = 500) -> list[Any]:
        """Shipments a carrier still has (for polling its tracking)."""
        return list(
            self.conn.execute(
                select(SHIPMENTS.c.id, SHIPMENTS.c.awb)
                .where(
                    SHIPMENTS.c.tenant_id == self.tenant_id,
                    SHIPMENTS.c.carrier_id == carrier_id,
                    SHIPMENTS.c.awb.is_not(None),
                    SHIPMENTS.c.status.in_(
                        (
                            "ready_to_ship",
                            "manifested",
                            "picked_up",
                            "in_transit",
                            "out_for_delivery",
                            "ndr",
                            "rto_initiated",
                            "rto_in_transit",
                        )
                    ),
                )
                .order_by(SHIPMENTS.c.id)
                .limit(limit)
            )
        )

    # -- tracking events --------------------------------------------------------------------

    # -- the carrier inbox: tracking pushes stored raw ---------------------------------------

    def store_push(
        self,
        carrier_id: int,
        headers: dict[str, Any],
        body: bytes,
        now: datetime,
        *,
        state: str,
        error: str | None = None,
    ) -> int:
        """A push applied in the request (``processed``) or that could not be (``failed``); pushes
        for the workers go in by :meth:`store_received`."""
        values = {
            "tenant_id": self.tenant_id,
            "carrier_id": carrier_id,
            "headers": headers,
            "body": body,
            "state": state,
            "error": error[:4000] if error else None,
            "attempts": 1,
            "received_at": now,
            "processed_at": now,
        }
        if self.dialect == "postgresql":  # every tracking push: through the driver (ADR 0007)
            raw = driver(self.conn)
            values["headers"] = json.dumps(headers)
            return int(raw.execute(_PG_STORE_PUSH, values).fetchone()[0])
        return int(self.conn.execute(_STORE_PUSH, values).scalar_one())

    def store_received(self, pushes: Sequence[tuple[int, int, dict[str, Any], bytes]], now: datetime) -> None:
        """Pushes for the workers, each ``(tenant_id, carrier_id, headers, body)``, in one statement
        (several tenants' pushes may share it: each row carries its own tenant)."""
        if not pushes:
            return
        if self.dialect == "postgresql":
            driver(self.conn).execute(
                _PG_STORE_RECEIVED,
                {
                    "now": now,
                    "tenants": [p[0] for p in pushes],
                    "carriers": [p[1] for p in pushes],
                    "headers": [json.dumps(p[2]) for p in pushes],
                    "bodies": [p[3] for p in pushes],
                },
            )
            return
        self.conn.execute(
            insert(PUSHES),
            [
                dict(tenant_id=t, carrier_id=c, headers=h, body=b, state="received", attempts=0, received_at=now)
                for t, c, h, b in pushes
            ],
        )

    def take_pushes(self, limit: int) -> list[Any]:
        """The oldest pushes waiting, locked for this transaction; pushes another worker holds are
        skipped (PostgreSQL), so several workers drain side by side."""
        q = (
            select(PUSHES)
            .where(PUSHES.c.tenant_id == self.tenant_id, PUSHES.c.state == "received")
            .order_by(PUSHES.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self.conn.execute(q))

    def push(self, push_id: int) -> Any:
        return self.conn.execute(
            select(PUSHES).where(PUSHES.c.tenant_id == self.tenant_id, PUSHES.c.id == push_id)
        ).first()

    def finish_pushes(self, ids: Sequence[int], state: str, error: str | None, now: datetime) -> None:
        if ids:
            self.conn.execute(
                _FINISH_PUSHES[self.dialect],
                {"b_tenant": self.tenant_id, "ids": list(ids), "b_state": state,
                 "b_error": error[:4000] if error else None, "b_now": now},
            )  # fmt: skip

    def pushes(self, *, state: str | None, limit: int) -> list[Any]:
        q = select(PUSHES).where(PUSHES.c.tenant_id == self.tenant_id).order_by(PUSHES.c.id.desc()).limit(limit)
        if state is not None:
            q = q.where(PUSHES.c.state == state)
        return list(self.conn.execute(q))

    def add_events(self, rows: Sequence[dict[str, Any]]) -> set[tuple[int, str]]:
        """Keep scans, one statement for all; returns the (shipment id, dedupe key) of those not
        recorded before (carriers resend them; a repeat within ``rows`` is kept once)."""
        if not rows:
            return set()
        if self.dialect == "postgresql":  # a batch of a worker: one short statement, arrays bound (ADR 0007)
            params = {"tenant_id": self.tenant_id, **{c: [r[c] for r in rows] for c in _EVENT_COLUMNS}}
            return {(int(r[0]), str(r[1])) for r in driver(self.conn).execute(_PG_ADD_EVENTS, params)}
        params = [{"tenant_id": self.tenant_id, **r} for r in rows]
        return {(int(r[0]), str(r[1])) for r in self.conn.execute(_SQLITE_ADD_EVENTS, params)}

    def add_event(self, shipment_id: int, values: dict[str, Any]) -> bool:
        """Keep a scan; False when this scan was recorded before (carriers resend them)."""
        ins = pg_insert(SEVENTS) if self.dialect == "postgresql" else sqlite_insert(SEVENTS)
        stmt = (
            ins.values(tenant_id=self.tenant_id, shipment_id=shipment_id, **values)
            .on_conflict_do_nothing(index_elements=["tenant_id", "shipment_id", "dedupe_key"])
            .returning(SEVENTS.c.id)
        )
        return self.conn.execute(stmt).scalar() is not None

    def events(self, shipment_id: int) -> list[Any]:
        return list(
            self.conn.execute(
                select(SEVENTS)
                .where(SEVENTS.c.tenant_id == self.tenant_id, SEVENTS.c.shipment_id == shipment_id)
                .order_by(SEVENTS.c.at, SEVENTS.c.id)
            )
        )

    def transit_history(self) -> list[Any]:
        """Delivered shipments: carrier, origin pincode, destination pincode, picked up, delivered."""
        return list(
            self.conn.execute(
                select(
                    CARRIERS.c.code.label("carrier"),
                    LOCATIONS.c.pincode.label("origin"),
                    ORDERS.c.ship_pincode.label("destination"),
                    SHIPMENTS.c.picked_up_at,
                    SHIPMENTS.c.delivered_at,
                    SHIPMENTS.c.estimated_delivery,
                )
                .join(CARRIERS, CARRIERS.c.id == SHIPMENTS.c.carrier_id)
                .join(LOCATIONS, LOCATIONS.c.id == SHIPMENTS.c.location_id)
                .join(ORDERS, ORDERS.c.id == SHIPMENTS.c.order_id)
                .where(
                    SHIPMENTS.c.tenant_id == self.tenant_id,
                    SHIPMENTS.c.status == "delivered",
                    SHIPMENTS.c.picked_up_at.is_not(None),
                )
                .order_by(SHIPMENTS.c.delivered_at.desc())
                .limit(20_000)
            )
        )

    def outcomes(self) -> list[Any]:
        """Finished shipments for lane statistics: carrier, origin pincode, destination pincode, status."""
        return list(
            self.conn.execute(
                select(
                    CARRIERS.c.code.label("carrier"),
                    LOCATIONS.c.pincode.label("origin"),
                    ORDERS.c.ship_pincode.label("destination"),
                    SHIPMENTS.c.status,
                )
                .join(CARRIERS, CARRIERS.c.id == SHIPMENTS.c.carrier_id)
                .join(LOCATIONS, LOCATIONS.c.id == SHIPMENTS.c.location_id)
                .join(ORDERS, ORDERS.c.id == SHIPMENTS.c.order_id)
                .where(
                    SHIPMENTS.c.tenant_id == self.tenant_id,
                    SHIPMENTS.c.status.in_(("delivered", "rto_delivered", "lost")),
                )
                .limit(50_000)
            )
        )

    # -- invoices ---------------------------------------------------------------------------

    def next_invoice_number(self, gstin: str, financial_year: str) -> int:
        """The next number of the series, taken in the caller's transaction: the counter row is
        locked by the UPDATE until commit, so numbers are gap-free and never repeat."""
        ins = pg_insert(COUNTERS) if self.dialect == "postgresql" else sqlite_insert(COUNTERS)
        self.conn.execute(
            ins.values(
                tenant_id=self.tenant_id, gstin=gstin, financial_year=financial_year, last_number=0
            ).on_conflict_do_nothing(index_elements=["tenant_id", "gstin", "financial_year"])
        )
        return int(
            self.conn.execute(
                update(COUNTERS)
                .where(
                    COUNTERS.c.tenant_id == self.tenant_id,
                    COUNTERS.c.gstin == gstin,
                    COUNTERS.c.financial_year == financial_year,
                )
                .values(last_number=COUNTERS.c.last_number + 1)
                .returning(COUNTERS.c.last_number)
            ).scalar_one()
        )

    def add_invoice(self, values: dict[str, Any]) -> int:
        return int(
            self.conn.execute(
                insert(INVOICES).values(tenant_id=self.tenant_id, **values).returning(INVOICES.c.id)
            ).scalar_one()
        )

    def invoice_for(self, shipment_id: int) -> Any:
        return self.conn.execute(
            select(INVOICES).where(INVOICES.c.tenant_id == self.tenant_id, INVOICES.c.shipment_id == shipment_id)
        ).first()

    def invoice_numbers(self, gstin: str, financial_year: str) -> list[int]:
        rows = self.conn.execute(
            select(INVOICES.c.sequence)
            .where(
                INVOICES.c.tenant_id == self.tenant_id,
                INVOICES.c.gstin == gstin,
                INVOICES.c.financial_year == financial_year,
            )
            .order_by(INVOICES.c.sequence)
        )
        return [r[0] for r in rows]

    # -- manifests --------------------------------------------------------------------------

    def add_manifest(self, values: dict[str, Any]) -> int:
        return int(
            self.conn.execute(
                insert(MANIFESTS).values(tenant_id=self.tenant_id, **values).returning(MANIFESTS.c.id)
            ).scalar_one()
        )

    def manifest(self, manifest_id: int) -> Any:
        return self.conn.execute(
            select(MANIFESTS).where(MANIFESTS.c.tenant_id == self.tenant_id, MANIFESTS.c.id == manifest_id)
        ).first()

    def update_manifest(self, manifest_id: int, **values: Any) -> None:
        self.conn.execute(
            update(MANIFESTS)
            .where(MANIFESTS.c.tenant_id == self.tenant_id, MANIFESTS.c.id == manifest_id)
            .values(**values)
        )

    def manifest_shipments(self, manifest_id: int) -> list[Any]:
        return list(
            self.conn.execute(
                select(SHIPMENTS)
                .where(SHIPMENTS.c.tenant_id == self.tenant_id, SHIPMENTS.c.manifest_id == manifest_id)
                .order_by(SHIPMENTS.c.id)
            )
        )

    def missed_pickups(self, now: datetime) -> list[Any]:
        """Shipments handed over on a manifest whose carrier cut-off has passed with no pickup scan."""
        return list(
            self.conn.execute(
                select(SHIPMENTS.c.id, SHIPMENTS.c.awb, MANIFESTS.c.id.label("manifest_id"), MANIFESTS.c.cutoff_at)
                .join(MANIFESTS, MANIFESTS.c.id == SHIPMENTS.c.manifest_id)
                .where(
                    SHIPMENTS.c.tenant_id == self.tenant_id,
                    SHIPMENTS.c.status == "manifested",
                    MANIFESTS.c.cutoff_at.is_not(None),
                    MANIFESTS.c.cutoff_at < now,
                )
            )
        )

    # -- documents --------------------------------------------------------------------------

    def put_document(self, kind: str, owner_id: int, content: bytes, now: datetime) -> None:
        ins = pg_insert(DOCUMENTS) if self.dialect == "postgresql" else sqlite_insert(DOCUMENTS)
        self.conn.execute(
            ins.values(
                tenant_id=self.tenant_id, kind=kind, owner_id=owner_id, content=content, created_at=now
            ).on_conflict_do_update(
                index_elements=["tenant_id", "kind", "owner_id"], set_={"content": content, "created_at": now}
            )
        )

    def document(self, kind: str, owner_id: int) -> bytes | None:
        row = self.conn.execute(
            select(DOCUMENTS.c.content).where(
                and_(
                    DOCUMENTS.c.tenant_id == self.tenant_id,
                    DOCUMENTS.c.kind == kind,
                    DOCUMENTS.c.owner_id == owner_id,
                )
            )
        ).first()
        return bytes(row[0]) if row else None
