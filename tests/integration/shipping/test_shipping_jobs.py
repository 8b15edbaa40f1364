"""Shipping in the worker, on both databases: the tracking_poll job asks the Shiprocket fake for
scans, the missed_pickups job opens an alert once a manifest's cut-off passes with no pickup, and
the NDR policy's automatic return to origin reaches the carrier through the worker's calling
handler, once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from ordermesh.adapters.channels.connections import Connections
from ordermesh.adapters.db.shipping import ShippingRepository
from ordermesh.config import load_settings
from ordermesh.services import channel_sync as cs
from ordermesh.services import shipping
from ordermesh.worker.handlers import CALLING_HANDLERS, ndr_decision_to_carrier
from ordermesh.worker.jobs import Job, jobs_for
from ordermesh.worker.main import Worker
from tests.conftest import TenantCtx
from tests.factories import make_location, make_sku, receive
from tests.fakes.shiprocket import FakeShiprocket
from tests.integration.shipping.test_shipping_flow import TARIFF, add_shiprocket, order_status, packed, place


@pytest.fixture
def fake() -> Iterator[FakeShiprocket]:
    with FakeShiprocket() as server:
        yield server


@pytest.fixture
def conn(tenant: TenantCtx) -> Iterator[cs.Sync]:
    connections = Connections(lambda: tenant.container.connections.vault, sleep=lambda s: None)
    yield cs.Sync(tenant.container.uow, connections, tenant.id)
    connections.close()


@pytest.fixture
def shop(tenant: TenantCtx, fake: FakeShiprocket) -> TenantCtx:
    """Pune stock, the own fleet (rate card) and Shiprocket on the fake; NDR: two attempts."""
    make_location(
        tenant,
        "PUN",
        "MH",
        address={"line1": "Plot 7, MIDC", "city": "Pune", "state": "MH", "pincode": "411028"},
        gstin="27AAACE0000E1ZM",
    )
    make_sku(tenant, "KURTA", mrp="999.00", gst_rate="5", barcodes=["8901234567890"])
    make_sku(tenant, "MUG", mrp="499.00", gst_rate="18")
    receive(tenant, "KURTA", "PUN", 20)
    receive(tenant, "MUG", "PUN", 20)
    with tenant.uow() as uow:
        shipping.create_carrier(
            uow,
            {"code": "fleet", "kind": "rate_card", "name": "Pune City Fleet", "settings": {"tariff": TARIFF}},
            tenant.container.connections.vault.seal,
        )
    add_shiprocket(tenant, fake)
    settings = {"shipping": {"pickup_names": {"PUN": "Pune Warehouse"}, "ndr": {"max_attempts": 2}}}
    with tenant.uow() as uow:
        uow.conn.execute(
            text("UPDATE tenants SET settings = :s WHERE id = :t"), {"s": json.dumps(settings), "t": tenant.id}
        )
        uow.commit()
    return tenant


def job(name: str) -> Job:
    return next(j for j in jobs_for(load_settings()) if j.name == name)


def shipment(t: TenantCtx, shipment_id: int) -> Any:
    with t.uow(write=False) as uow:
        return ShippingRepository(uow.conn, t.id).shipment(shipment_id)


def scans(t: TenantCtx, shipment_id: int) -> list[Any]:
    with t.uow(write=False) as uow:
        return ShippingRepository(uow.conn, t.id).events(shipment_id)


def push(conn: cs.Sync, t: TenantCtx, fake: FakeShiprocket, awb: str, code: str, label: str, activity: str,
         at: datetime) -> None:  # fmt: skip
    """A Shiprocket tracking webhook, the fake knowing the same scan."""
    fake.add_scan(awb, code, label, activity, at, "Bengaluru")
    scan = {"date": f"{at:%Y-%m-%d %H:%M:%S}", "status": code, "activity": activity, "location": "Bengaluru",
            "sr-status": code, "sr-status-label": label}  # fmt: skip
    body = {"awb": awb, "current_status": label.upper(), "shipment_status": label, "shipment_status_id": int(code),
            "current_timestamp": f"{at:%d %m %Y %H:%M:%S}", "order_id": "x", "scans": [scan]}  # fmt: skip
    shipping.receive_carrier_webhook(conn, t.code, "sr", {"x-api-key": "sr-token"}, json.dumps(body).encode())


def test_the_tracking_poll_job_records_the_carriers_scans(shop: TenantCtx, conn: cs.Sync, fake: FakeShiprocket) -> None:
    # given: a shipment booked with Shiprocket that the carrier has since picked up and moved on
    order_id = place(shop, "T1")
    shipment_id = packed(shop, order_id)
    booked = shipping.book(conn, shipment_id, carrier="sr")
    fake.add_scan(booked.awb, "42", "PICKED UP", "Shipment picked up", datetime(2026, 11, 27, 10, 0), "Pune")
    fake.add_scan(booked.awb, "18", "IN TRANSIT", "In transit", datetime(2026, 11, 27, 22, 0), "Pune hub")
    poll = job("tracking_poll")
    assert poll.every == timedelta(minutes=30) and poll.run_calling is not None  # in the calling-jobs thread
    # when: the worker runs the job for the tenant
    poll.run_calling(shop.container, shop.id)
    # then: both scans kept, the shipment moved, the order shipped
    assert [(e.status, e.source) for e in scans(shop, shipment_id)] == [("picked_up", "poll"), ("in_transit", "poll")]
    assert shipment(shop, shipment_id).status == "in_transit"
    assert order_status(shop, order_id) == "shipped"
    assert fake.sent("GET", f"/courier/track/awb/{booked.awb}")
    # and: polling again records nothing twice
    poll.run_calling(shop.container, shop.id)
    assert len(scans(shop, shipment_id)) == 2


def test_tracking_poll_interval_is_a_setting() -> None:
    assert next(j for j in jobs_for(load_settings(tracking_poll_minutes=5)) if j.name == "tracking_poll").every == (
        timedelta(minutes=5)
    )


def test_the_tracking_inbox_job_applies_queued_pushes(shop: TenantCtx, conn: cs.Sync, fake: FakeShiprocket) -> None:
    # given: a push stored while webhooks are queued for the workers
    order_id = place(shop, "Q1")
    shipment_id = packed(shop, order_id)
    booked = shipping.book(conn, shipment_id, carrier="sr")
    queued = cs.Sync(conn.uow, conn.connections, conn.tenant_id, inline=False)
    push(queued, shop, fake, booked.awb, "42", "PICKED UP", "Shipment picked up", datetime(2026, 11, 27, 10, 0))
    assert shipment(shop, shipment_id).status == "ready_to_ship"
    drain = job("tracking_inbox")
    assert drain.every == timedelta(seconds=1) and drain.run_calling is not None
    # when: the worker runs the job for the tenant
    drain.run_calling(shop.container, shop.id)
    # then: the push is applied and marked so
    assert shipment(shop, shipment_id).status == "picked_up" and order_status(shop, order_id) == "shipped"
    with shop.uow(write=False) as uow:
        assert [p["state"] for p in shipping.tracking_pushes(uow, state=None)] == ["processed"]
    assert next(j for j in jobs_for(load_settings(tracking_inbox_seconds=0.2)) if j.name == "tracking_inbox").every == (
        timedelta(seconds=0.2)
    )


def test_missed_pickups_opens_an_alert_after_the_cutoff(shop: TenantCtx, conn: cs.Sync) -> None:
    missed = job("missed_pickups")
    assert missed.every == timedelta(minutes=15) and missed.run_calling is None
    today = datetime.now(shipping.IST).date()

    def run() -> list[Any]:
        with shop.container.uow(tenant_id=shop.id) as uow:  # as the worker runs a tenant's job
            missed.run(uow)
        with shop.uow(write=False) as uow:
            return [a for a in uow.alerts.open_alerts() if a.kind == "missed_pickup"]

    # given: a shipment handed to the fleet for tomorrow's pickup (cut-off not yet passed)
    tomorrow = packed(shop, place(shop, "M1"))
    shipping.book(conn, tomorrow, carrier="fleet")
    shipping.manifest(conn, "fleet", "PUN", today + timedelta(days=1), cutoff="18:00")
    # then
    assert run() == []
    # given: one handed over for yesterday, its cut-off long gone with no pickup scan
    late = packed(shop, place(shop, "M2"))
    awb = shipping.book(conn, late, carrier="fleet").awb
    shipping.manifest(conn, "fleet", "PUN", today - timedelta(days=1), cutoff="18:00")
    # when
    [alert] = run()
    # then: one alert, about that shipment; running again opens no second one
    assert alert.subject == f"shipment:{late}" and awb in alert.message
    assert len(run()) == 1
    # and: once it is picked up, it is no longer missed
    with shop.uow() as uow:
        shipping.record_scan(uow, late, "picked_up")
    with shop.container.uow(tenant_id=shop.id) as uow:
        assert shipping.check_missed_pickups(uow) == 0


def test_a_second_ndr_returns_the_shipment_through_the_worker(
    shop: TenantCtx, conn: cs.Sync, fake: FakeShiprocket
) -> None:
    # given: a Shiprocket shipment picked up, then undelivered twice (the policy allows two attempts)
    order_id = place(shop, "N1")
    shipment_id = packed(shop, order_id)
    awb = shipping.book(conn, shipment_id, carrier="sr").awb
    assert CALLING_HANDLERS["shipment.ndr_action"] == [ndr_decision_to_carrier]
    push(conn, shop, fake, awb, "42", "PICKED UP", "Shipment picked up", datetime(2026, 11, 27, 10, 0))
    push(conn, shop, fake, awb, "21", "UNDELIVERED", "Consignee Unavailable", datetime(2026, 11, 28, 12, 0))
    worker = Worker(shop.container)
    while worker.run_once():
        pass
    assert [a for a in fake.ndr_actions if a["awb"] == awb] == []  # the first failure: reattempt, no RTO
    # when: the second failure, and the worker at its outbox
    push(conn, shop, fake, awb, "21", "UNDELIVERED", "Consignee Unavailable", datetime(2026, 11, 29, 12, 0))
    while worker.run_once():
        pass
    # then: the return was sent to the carrier, once, and the order's timeline says so
    assert [a["action"] for a in fake.ndr_actions if a["awb"] == awb] == ["return"]
    with shop.uow(write=False) as uow:
        notes = [e for e in uow.orders.events(order_id) if e.kind in ("shipment.ndr_rto", "shipment.ndr_action")]
    assert [e.kind for e in notes] == ["shipment.ndr_rto", "shipment.ndr_action"]
    assert notes[1].data == {"shipment_id": shipment_id, "action": "rto", "automatic": True, "attempt": 2}
    # and: the event delivered again (a retry) sends nothing more
    ndr_decision_to_carrier(shop.container, shop.id, {"shipment_id": shipment_id, "action": "rto", "automatic": True})
    assert len([a for a in fake.ndr_actions if a["awb"] == awb]) == 1
    # and: the carrier's return scan moves the shipment on
    push(conn, shop, fake, awb, "9", "RTO INITIATED", "Return to origin", datetime(2026, 11, 30, 9, 0))
    assert shipment(shop, shipment_id).status == "rto_initiated"
    with shop.uow(write=False) as uow:
        events = uow.conn.execute(
            text("SELECT status FROM outbox WHERE tenant_id = :t AND topic = 'shipment.ndr_action'"), {"t": shop.id}
        ).all()
    assert [e.status for e in events] == ["done"]
