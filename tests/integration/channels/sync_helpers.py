"""What the per-connector channel-sync tests share: a quick Sync (no real waiting on throttles),
a channel record pointed at a fake, and reads of what ended up in the database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text

from ordermesh.adapters.channels.connections import Connections
from ordermesh.adapters.db import tables
from ordermesh.services import channel_sync as cs
from ordermesh.services import channels
from tests.conftest import TenantCtx

OUTBOX = tables.OutboxEvent.__table__
CARRIERS = tables.Carrier.__table__
SHIPMENTS = tables.Shipment.__table__
LOCATIONS = tables.Location.__table__
_QUICK: dict[int, Connections] = {}


def sync_for(t: TenantCtx) -> cs.Sync:
    """Channel sync for the tenant, with connectors that do not really wait out throttling."""
    quick = _QUICK.setdefault(t.id, Connections(lambda: t.container.connections.vault, sleep=lambda s: None))
    return cs.Sync(t.container.uow, quick, t.id)


def finish(t: TenantCtx) -> None:
    """After a test: close the quick connections, and settle the tenant's outbox events. The fake
    is gone once the test ends, so a later test's worker (they serve every tenant of the shared
    database) must not try to tell it of this tenant's status changes, with real back-off sleeps."""
    for connections in _QUICK.values():
        connections.close()
    _QUICK.clear()
    with t.uow() as uow:
        uow.conn.execute(
            OUTBOX.update().where(OUTBOX.c.tenant_id == t.id, OUTBOX.c.status == "pending").values(status="done")
        )
        uow.commit()


def add_channel(
    t: TenantCtx, code: str, kind: str, base_url: str, credentials: dict[str, str], connector: dict[str, Any]
) -> None:
    with t.uow() as uow:
        channels.create_channel(
            uow,
            {
                "code": code,
                "type": kind,
                "name": f"Our {kind} store",
                "base_url": base_url,
                "credentials": credentials,
                "connector": connector,
            },
            t.container.connections.vault,
        )


def shopify_shop(t: TenantCtx, base_url: str, *, speakers: int = 4) -> TenantCtx:
    """The tenant with a Shopify channel 'shop' at ``base_url`` (the fake), the webhook fixture's
    two SKUs and stock of them at BLR: 10 kurtas and ``speakers`` speakers."""
    from tests.factories import make_location, make_sku, receive
    from tests.fakes.shopify import ACCESS_TOKEN, API_VERSION, LOCATION, WEBHOOK_SECRET

    make_location(t, "BLR", "KA")
    make_sku(t, "KRT-COT-BLU-M", mrp="999.00")
    make_sku(t, "SPK-BT-10W-BLK", mrp="1999.00")
    receive(t, "KRT-COT-BLU-M", "BLR", 10)
    receive(t, "SPK-BT-10W-BLK", "BLR", speakers)
    add_channel(
        t, "shop", "shopify", base_url, {"access_token": ACCESS_TOKEN, "webhook_secret": WEBHOOK_SECRET},
        {"api_version": API_VERSION, "location_id": LOCATION, "since": "2025-01-01T00:00:00Z"},
    )  # fmt: skip
    return t


def put_listing(t: TenantCtx, code: str, listing_id: str, sku: str, **attributes: Any) -> None:
    seller_sku = attributes.pop("seller_sku", None)
    raw: dict[str, Any] = {"listing_id": listing_id, "sku": sku, "attributes": attributes}
    if seller_sku:
        raw["seller_sku"] = seller_sku
    with t.uow() as uow:
        cs.put_listing(uow, code, raw)


@dataclass(frozen=True)
class OrderSeen:
    id: int
    external_id: str
    status: str
    payment_method: str
    lines: list[tuple[str, int]]
    channel_data: dict[str, Any]
    shipping_address: dict[str, Any]


def orders_of(t: TenantCtx) -> list[OrderSeen]:
    with t.uow(write=False) as uow:
        ids = [
            r.id
            for r in uow.conn.execute(
                text("SELECT id FROM orders WHERE tenant_id = :t ORDER BY external_id"), {"t": t.id}
            )
        ]
        seen = []
        for order_id in ids:
            full = uow.orders.get(order_id)
            assert full is not None
            seen.append(
                OrderSeen(
                    order_id,
                    full.row.external_id,
                    full.row.status,
                    full.row.payment_method,
                    [(line.sku_code, line.quantity) for line in full.lines],
                    full.row.channel_data or {},
                    full.row.shipping_address or {},
                )
            )
        return seen


def one_order(t: TenantCtx, external_id: str) -> OrderSeen:
    [order] = [o for o in orders_of(t) if o.external_id == external_id]
    return order


def inbox_of(t: TenantCtx, code: str, state: str | None = None) -> list[Any]:
    with t.uow(write=False) as uow:
        return cs.inbox(uow, channel=code, state=state)


def status_pushes(t: TenantCtx, code: str) -> list[Any]:
    with t.uow(write=False) as uow:
        record = uow.channels.get(code)
        assert record is not None
        return list(cs.repo(uow).pushes(record.id, kind="status"))


def health_of(t: TenantCtx, code: str) -> dict[str, Any]:
    with t.uow(write=False) as uow:
        [health] = [h for h in cs.health(uow) if h["channel"] == code]
    return health


def ship(t: TenantCtx, order_id: int, *, courier: str, awb: str, location: str) -> None:
    """Record that the order left with a courier and an AWB: the shipment row push_status reads
    the carrier and tracking number from (written directly: only the rows push_status needs)."""
    with t.uow() as uow:
        now = uow.now
        location_id = uow.conn.execute(
            select(LOCATIONS.c.id).where(LOCATIONS.c.tenant_id == t.id, LOCATIONS.c.code == location)
        ).scalar_one()
        carrier_id = uow.conn.execute(
            CARRIERS.insert()
            .values(tenant_id=t.id, code=f"agg-{awb}", kind="shiprocket", name="Aggregator", settings={},
                    active=True, created_at=now, updated_at=now)
            .returning(CARRIERS.c.id)
        ).scalar_one()  # fmt: skip
        uow.conn.execute(
            SHIPMENTS.insert().values(
                tenant_id=t.id, order_id=order_id, location_id=location_id, status="shipped",
                payment_method="prepaid", cod_amount=Decimal(0), declared_value=Decimal(0), carrier_id=carrier_id,
                courier=courier, awb=awb, tracking_token=uuid.uuid4().hex, ndr_attempts=0, status_at=now,
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
        uow.commit()
