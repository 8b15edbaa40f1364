"""An allocated order to the buyer's door and back, on both databases: shipments per location,
scan-verified packing, gap-free GST invoices, rate shopping with the reasons kept, AWB and label,
manifest and pickup, tracking that moves stock and the order, NDR and RTO."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from ordermesh.adapters.channels.connections import Connections
from ordermesh.adapters.db.shipping import ShippingRepository
from ordermesh.domain.errors import Conflict
from ordermesh.services import channel_sync as cs
from ordermesh.services import inventory, orders, shipping
from tests.conftest import TenantCtx
from tests.factories import make_location, make_sku, receive
from tests.fakes.shiprocket import EMAIL, PASSWORD, FakeShiprocket

TARIFF = {
    "name": "City fleet",
    "first_slab_g": 500,
    "additional_slab_g": 500,
    "zones": {
        z: {"first": "40", "additional": "30", "transit_days": 2} for z in ("local", "regional", "metro", "national")
    },
    "fuel_surcharge_percent": "10",
    "cod_supported": True,
    "cod_percent": "2",
    "cod_minimum": "35",
}


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
def shop(tenant: TenantCtx) -> TenantCtx:
    make_location(
        tenant,
        "PUN",
        "MH",
        address={"line1": "Plot 7, MIDC", "city": "Pune", "state": "MH", "pincode": "411028"},
        gstin="27AAACE0000E1ZM",
    )
    make_sku(tenant, "KURTA", mrp="999.00", gst_rate="5", barcodes=["8901234567890"])
    make_sku(tenant, "MUG", mrp="499.00", gst_rate="18")
    receive(tenant, "KURTA", "PUN", 10)
    receive(tenant, "MUG", "PUN", 10)
    with tenant.uow() as uow:
        shipping.create_carrier(
            uow,
            {
                "code": "fleet",
                "kind": "rate_card",
                "name": "Pune City Fleet",
                "settings": {"tariff": TARIFF, "awb_prefix": "PF", "awb_width": 8},
            },
            tenant.container.connections.vault.seal,
        )
    return tenant


def add_shiprocket(t: TenantCtx, fake: FakeShiprocket) -> None:
    with t.uow() as uow:
        shipping.create_carrier(
            uow,
            {
                "code": "sr",
                "kind": "shiprocket",
                "name": "Shiprocket",
                "base_url": fake.url,
                "credentials": {"email": EMAIL, "password": PASSWORD, "webhook_token": "sr-token"},
                "settings": {"fallback_email": "orders@example.in"},
            },
            t.container.connections.vault.seal,
        )


def place(
    t: TenantCtx,
    ext: str,
    *,
    method: str = "prepaid",
    pincode: str = "560038",
    city: str = "Bengaluru",
    state: str = "KA",
) -> int:
    with t.uow() as uow:
        return orders.ingest_order(
            uow,
            {
                "channel": "manual",
                "external_id": ext,
                "placed_at": "2026-11-26T10:00:00+05:30",
                "customer": {"name": "Priya", "phone": f"98450{abs(hash(ext)) % 10**5:05d}"},
                "shipping_address": {
                    "name": "Priya",
                    "line1": "Flat 12B, Example Residency",
                    "city": city,
                    "state": state,
                    "pincode": pincode,
                    "phone": "9845012345",
                },
                "payment": {"method": method},
                "lines": [
                    {"sku": "KURTA", "quantity": 2, "unit_price": "899"},
                    {"sku": "MUG", "quantity": 1, "unit_price": "399"},
                ],
            },
        ).order_id


def order_status(t: TenantCtx, order_id: int) -> str:
    with t.uow(write=False) as uow:
        row = uow.orders.get(order_id)
        assert row is not None
        return str(row.row.status)


def stock(t: TenantCtx, sku: str) -> tuple[int, int]:
    with t.uow(write=False) as uow:
        s = inventory.stock_for_sku(uow, sku)
        return s.totals.on_hand, s.totals.reserved


def packed(t: TenantCtx, order_id: int) -> int:
    with t.uow() as uow:
        [shipment_id] = shipping.create_shipments(uow, order_id)
    for code in ("8901234567890", "KURTA", "MUG"):
        with t.uow() as uow:
            assert shipping.scan(uow, shipment_id, code).accepted
    with t.uow() as uow:
        shipping.pack(uow, shipment_id, weight_g=900, dimensions_cm=(Decimal(30), Decimal(20), Decimal(10)))
    return shipment_id


def test_a_shipment_is_packed_only_when_every_unit_is_scanned(shop: TenantCtx) -> None:
    order_id = place(shop, "P1")
    assert order_status(shop, order_id) == "allocated"
    with shop.uow() as uow:
        [shipment_id] = shipping.create_shipments(uow, order_id)
    assert order_status(shop, order_id) == "in_fulfilment"
    with shop.uow() as uow:
        wrong = shipping.scan(uow, shipment_id, "4006381333931")
    assert not wrong.accepted and wrong.message == "barcode 4006381333931 is not in this shipment"
    with shop.uow() as uow:
        assert shipping.scan(uow, shipment_id, "8901234567890").message == "KURTA: 1 of 2"
    with shop.uow() as uow, pytest.raises(Conflict, match="KURTA: 1 more; MUG: 1 more"):
        shipping.pack(uow, shipment_id, weight_g=900, dimensions_cm=(Decimal(30), Decimal(20), Decimal(10)))
    with shop.uow() as uow:
        shipping.scan(uow, shipment_id, "kurta")
    with shop.uow() as uow:
        too_many = shipping.scan(uow, shipment_id, "KURTA")
    assert not too_many.accepted and too_many.message == "KURTA: all 2 units already packed"
    with shop.uow() as uow:
        done = shipping.scan(uow, shipment_id, "MUG")
    assert done.complete
    with shop.uow() as uow:
        view = shipping.pack(uow, shipment_id, weight_g=900, dimensions_cm=(Decimal(30), Decimal(20), Decimal(10)))
    # 30 × 20 × 10 / 5000 = 1.2 kg volumetric, more than the 900 g dead weight
    assert (view.row.dead_weight_g, view.row.chargeable_weight_g, view.row.status) == (900, 1200, "packed")
    assert view.row.invoice_number == "INV/26-27/000001"


def test_invoice_numbers_are_gap_free_per_gstin_and_year_with_the_right_tax(shop: TenantCtx) -> None:
    first = packed(shop, place(shop, "G1"))
    second = packed(shop, place(shop, "G2", pincode="411001", city="Pune", state="MH"))
    with shop.uow(write=False) as uow:
        repo = ShippingRepository(uow.conn, shop.id)
        one, two = repo.invoice_for(first), repo.invoice_for(second)
        assert repo.invoice_numbers("27AAACE0000E1ZM", "2026-27") == [1, 2]
    assert (one.number, two.number) == ("INV/26-27/000001", "INV/26-27/000002")
    # Pune -> Bengaluru is inter-state (IGST); Pune -> Pune intra-state (CGST + SGST)
    assert {line["igst"] != "0.00" for line in one.data["lines"]} == {True}
    assert {line["cgst"] != "0.00" and line["sgst"] != "0.00" for line in two.data["lines"]} == {True}
    # 2 kurtas at 899 incl. 5%: 1712.38 + 85.62; a mug at 399 incl. 18%: 338.14 + 60.86
    assert (one.taxable_value, one.tax_total, one.total) == (Decimal("2050.52"), Decimal("146.48"), Decimal("2197.00"))
    assert one.data["words"] == "Rupees Two Thousand One Hundred Ninety-Seven Only"
    with shop.uow(write=False) as uow:
        pdf = shipping.document(uow, "invoice", first)
    assert pdf.startswith(b"%PDF")


def test_the_own_fleet_books_from_its_series_labels_manifests_and_tracks(shop: TenantCtx, conn: cs.Sync) -> None:
    order_id = place(shop, "F1", method="cod")
    shipment_id = packed(shop, order_id)
    booked = shipping.book(conn, shipment_id)
    assert (booked.carrier, booked.awb) == ("fleet", "PF00000001")
    with shop.uow(write=False) as uow:
        view = shipping.get_shipment(uow, shipment_id)
        label = shipping.document(uow, "label", shipment_id)
    assert view.row.status == "ready_to_ship" and view.row.selection["chosen"].startswith("fleet/")
    assert view.row.estimated_delivery is not None and label.startswith(b"%PDF")

    result = shipping.manifest(conn, "fleet", "PUN", date(2026, 11, 27), cutoff="18:00")
    assert result.shipments == 1 and result.pickup_error is None
    with shop.uow(write=False) as uow:
        assert shipping.get_shipment(uow, shipment_id).row.status == "manifested"
        assert shipping.document(uow, "manifest", result.manifest_id).startswith(b"%PDF")

    assert stock(shop, "KURTA") == (10, 2)
    with shop.uow() as uow:
        shipping.record_scan(uow, shipment_id, "picked_up", location="Pune hub")
    assert stock(shop, "KURTA") == (8, 0)  # out of the building, no longer promised
    assert order_status(shop, order_id) == "shipped"
    with shop.uow() as uow:
        shipping.record_scan(uow, shipment_id, "delivered", location="Bengaluru")
    assert order_status(shop, order_id) == "delivered"
    with shop.uow(write=False) as uow:
        assert inventory.check_ledger(uow) == []
        kinds = [e.kind for e in uow.orders.events(order_id)]
    assert "shipment.booked" in kinds and "shipment.delivered" in kinds


def test_rate_shopping_picks_the_cheapest_and_keeps_what_it_beat(
    shop: TenantCtx, conn: cs.Sync, fake: FakeShiprocket
) -> None:
    add_shiprocket(shop, fake)
    _set_settings(shop, {"shipping": {"pickup_names": {"PUN": "Pune Warehouse"}}})
    shipment_id = packed(shop, place(shop, "R1"))
    booked = shipping.book(conn, shipment_id)
    outcomes = booked.choice["outcomes"]
    prices = {f"{o['carrier']}/{o['service']}": Decimal(o["price"]) for o in outcomes if o["verdict"] != "excluded"}
    assert booked.choice["chosen"] == min(prices, key=lambda k: prices[k])
    # the fleet and Shiprocket's two couriers to Bengaluru: three quotes, each with its sentence
    assert len(outcomes) == 3 and all(o["sentence"] for o in outcomes)
    assert outcomes[0]["verdict"] == "chosen" and {o["reason"] for o in outcomes[1:]} == {"dearer"}
    if booked.carrier == "sr":
        assert fake.by_awb[booked.awb]


def test_webhook_ndr_then_rto_brings_the_order_back(shop: TenantCtx, conn: cs.Sync, fake: FakeShiprocket) -> None:
    add_shiprocket(shop, fake)
    _set_settings(shop, {"shipping": {"pickup_names": {"PUN": "Pune Warehouse"}, "ndr": {"max_attempts": 2}}})
    order_id = place(shop, "W1")
    shipment_id = packed(shop, order_id)
    booked = shipping.book(conn, shipment_id, carrier="sr")
    assert booked.awb in fake.by_awb

    def push(code: str, label: str, activity: str, at: str, push_to_fake: bool = True) -> shipping.TrackingResult:
        body = json.dumps(
            {
                "awb": booked.awb,
                "current_status": label.upper(),
                "shipment_status": label,
                "shipment_status_id": int(code),
                "current_timestamp": at,
                "order_id": "x",
                "scans": [
                    {
                        "date": at[6:10] + "-" + at[3:5] + "-" + at[0:2] + at[10:],
                        "status": code,
                        "activity": activity,
                        "location": "Bengaluru",
                        "sr-status": code,
                        "sr-status-label": label,
                    }
                ],
            }
        ).encode()
        when = datetime.strptime(at, "%d %m %Y %H:%M:%S")
        if push_to_fake:
            fake.add_scan(booked.awb, code, label, activity, when, "Bengaluru")
        return shipping.receive_carrier_webhook(conn, shop.code, "sr", {"x-api-key": "sr-token"}, body)

    push("42", "PICKED UP", "Shipment picked up", "27 11 2026 10:00:00")
    assert order_status(shop, order_id) == "shipped"
    push("21", "UNDELIVERED", "Consignee Unavailable", "28 11 2026 12:00:00")
    with shop.uow(write=False) as uow:
        [ndr] = shipping.ndr_queue(uow)
    assert ndr["attempts"] == 1 and ndr["reason"] == "customer_unavailable"
    shipping.ndr_action(conn, shipment_id, "reattempt", reattempt_on=date(2026, 11, 30), comment="call before")
    assert fake.ndr_actions
    push("9", "RTO INITIATED", "Return to origin", "01 12 2026 09:00:00")
    push("10", "RTO DELIVERED", "Returned to seller", "04 12 2026 16:00:00")
    assert order_status(shop, order_id) == "rto"
    with shop.uow(write=False) as uow:
        [waiting] = shipping.rto_awaiting_receipt(uow)
        assert waiting["shipment_id"] == shipment_id
        page = shipping.public_tracking(uow, shipping.get_shipment(uow, shipment_id).row.tracking_token)
    assert page["status"] == "rto_delivered" and len(page["events"]) == 4
    assert "Priya" not in json.dumps(page, default=str)
    # the same push again changes nothing
    assert push("10", "RTO DELIVERED", "Returned to seller", "04 12 2026 16:00:00", False).recorded == 0


def test_a_bad_carrier_token_is_refused(shop: TenantCtx, conn: cs.Sync, fake: FakeShiprocket) -> None:
    from ordermesh.domain.errors import Unauthorized

    add_shiprocket(shop, fake)
    with pytest.raises(Unauthorized):
        shipping.receive_carrier_webhook(conn, shop.code, "sr", {"x-api-key": "wrong"}, b"{}")


def _set_settings(t: TenantCtx, settings: dict[str, Any]) -> None:
    with t.uow() as uow:
        uow.conn.execute(text("UPDATE tenants SET settings = :s WHERE id = :t"), {"s": json.dumps(settings), "t": t.id})
        uow.commit()


def _state(t: TenantCtx, order_id: int, shipment_id: int) -> dict[str, Any]:
    with t.uow(write=False) as uow:
        order = uow.orders.get(order_id)
        shipment = ShippingRepository(uow.conn, t.id).shipment(shipment_id)
        assert order is not None
        kinds = [e.kind for e in uow.orders.events(order_id)]
    return {
        "order": order.row.status,
        "lines": [(x.sku_code, x.allocated, x.shipped, x.delivered) for x in order.lines],
        "shipment": shipment.status,
        "picked_up": shipment.picked_up_at is not None,
        "delivered": shipment.delivered_at is not None,
        "ndr_attempts": shipment.ndr_attempts,
        "timeline": kinds[kinds.index("shipment.booked") + 1 :],
    }


def test_a_batch_of_scans_ends_exactly_where_the_same_scans_one_by_one_do(shop: TenantCtx, conn: cs.Sync) -> None:
    """A poll brings many scans at once; they are applied set-based, in time order. The outcome —
    shipments, orders, line counts, stock, timelines, results — must equal applying each scan alone."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from ordermesh.adapters.carriers import base as cb
    from ordermesh.domain.statuses import NdrReason, ShipmentStatus

    receive(shop, "KURTA", "PUN", 10)
    receive(shop, "MUG", "PUN", 10)
    booked = []
    for n in range(6):
        order_id = place(shop, f"B{n}")
        shipment_id = packed(shop, order_id)
        booked.append((order_id, shipment_id, shipping.book(conn, shipment_id).awb))
    with shop.uow() as uow:
        carrier_id = shipping.repo(uow).carrier("fleet").id
    t0 = datetime(2026, 11, 27, 9, 0, tzinfo=ZoneInfo("Asia/Kolkata"))

    def scans(awbs: list[str]) -> list[cb.TrackingEvent]:
        a, b, c = awbs
        at = [t0 + timedelta(hours=h) for h in range(6)]
        s = ShipmentStatus
        return [
            cb.TrackingEvent(a, s.PICKED_UP, "PKD", at[1], "Pune hub"),
            cb.TrackingEvent(a, s.IN_TRANSIT, "TRN", at[2], "Bhiwandi"),
            cb.TrackingEvent(a, s.IN_TRANSIT, "TRN", at[2], "Bhiwandi"),  # the carrier sent it twice
            cb.TrackingEvent(a, s.DELIVERED, "DLV", at[4], "Bengaluru"),
            cb.TrackingEvent(a, s.IN_TRANSIT, "TRN", at[5], "late scan"),  # after delivery: kept, not applied
            cb.TrackingEvent(b, s.PICKED_UP, "PKD", at[1]),
            cb.TrackingEvent(b, s.NDR, "UD", at[3], detail="door locked", ndr_reason=NdrReason.CUSTOMER_UNAVAILABLE),
            cb.TrackingEvent(b, s.NDR, "UD", at[4], detail="again", ndr_reason=NdrReason.CUSTOMER_UNAVAILABLE),
            cb.TrackingEvent(b, s.NDR, "UD", at[5], detail="third", ndr_reason=NdrReason.CUSTOMER_UNAVAILABLE),
            cb.TrackingEvent(c, s.OUT_FOR_DELIVERY, "OFD", at[3]),  # no pickup scan seen: units leave now
            cb.TrackingEvent(c, s.PICKED_UP, "PKD", at[2]),  # earlier in time, listed later
            cb.TrackingEvent("PF99999999", s.IN_TRANSIT, "TRN", at[2]),  # none of ours
        ]

    batch, alone = booked[:3], booked[3:]
    # when: one set of shipments gets its scans in one call, the other one scan per call
    with shop.uow() as uow:
        together = shipping.record_tracking(uow, carrier_id, scans([awb for _, _, awb in batch]), "poll")
        uow.commit()
    one_by_one = shipping.TrackingResult()
    for ev in sorted(scans([awb for _, _, awb in alone]), key=lambda e: e.at):
        with shop.uow() as uow:
            got = shipping.record_tracking(uow, carrier_id, [ev], "poll")
            uow.commit()
        one_by_one.recorded += got.recorded
        one_by_one.changed += got.changed
        one_by_one.unknown += [a for a in got.unknown if a not in one_by_one.unknown]
    # then: the same counts, and every shipment and order where its twin is
    assert (together.recorded, together.changed, together.unknown) == (10, 9, ["PF99999999"])
    assert (one_by_one.recorded, one_by_one.changed, one_by_one.unknown) == (10, 9, ["PF99999999"])
    for (o1, s1, _), (o2, s2, _) in zip(batch, alone, strict=True):
        assert _state(shop, o1, s1) == _state(shop, o2, s2)
    first, second, third = (_state(shop, o, s) for o, s, _ in batch)
    assert (first["order"], first["shipment"], first["lines"]) == (
        "delivered",
        "delivered",
        [("KURTA", 0, 2, 2), ("MUG", 0, 1, 1)],
    )
    assert (second["shipment"], second["ndr_attempts"]) == ("ndr", 3) and "shipment.ndr_rto" in second["timeline"]
    assert (third["order"], third["shipment"], third["picked_up"]) == ("shipped", "out_for_delivery", True)
    with shop.uow(write=False) as uow:
        assert inventory.check_ledger(uow) == []
        topics = [
            r.topic
            for r in uow.conn.execute(text("SELECT topic FROM outbox WHERE tenant_id = :t ORDER BY id"), {"t": shop.id})
            if r.topic.startswith("shipment.") and r.topic != "shipment.booked"
        ]
    assert len(topics) == 2 * 10  # every applied scan's event (and each automatic RTO), for both sets alike
    assert stock(shop, "KURTA") == (20 - 12, 0)  # all six shipments' units left; nothing still promised


def sr_push(awb: str, code: str, label: str, at: str) -> bytes:
    """A Shiprocket tracking push with one scan (at as 'dd mm yyyy HH:MM:SS')."""
    return json.dumps(
        {
            "awb": awb,
            "current_status": label.upper(),
            "shipment_status": label,
            "shipment_status_id": int(code),
            "current_timestamp": at,
            "scans": [
                {
                    "date": at[6:10] + "-" + at[3:5] + "-" + at[0:2] + at[10:],
                    "status": code,
                    "activity": label,
                    "location": "Bengaluru",
                    "sr-status": code,
                    "sr-status-label": label,
                }
            ],
        }
    ).encode()


def pushes(t: TenantCtx) -> list[dict[str, Any]]:
    with t.uow(write=False) as uow:
        return list(reversed(shipping.tracking_pushes(uow, state=None)))


def test_queued_tracking_pushes_are_stored_then_applied_in_batches(
    shop: TenantCtx, conn: cs.Sync, fake: FakeShiprocket
) -> None:
    add_shiprocket(shop, fake)
    _set_settings(shop, {"shipping": {"pickup_names": {"PUN": "Pune Warehouse"}}})
    first, second = (place(shop, ext) for ext in ("Q1", "Q2"))
    awbs = [shipping.book(conn, packed(shop, o), carrier="sr").awb for o in (first, second)]
    queued = cs.Sync(conn.uow, conn.connections, conn.tenant_id, inline=False)
    token = {"x-api-key": "sr-token", "content-type": "application/json"}
    # when: three pushes arrive while no worker runs, one of them not JSON
    got = [
        shipping.receive_carrier_webhook(
            queued, shop.code, "sr", token, sr_push(awbs[0], "42", "PICKED UP", "27 11 2026 10:00:00")
        ),
        shipping.receive_carrier_webhook(queued, shop.code, "sr", token, b"{not json"),
        shipping.receive_carrier_webhook(
            queued, shop.code, "sr", token, sr_push(awbs[1], "42", "PICKED UP", "27 11 2026 11:00:00")
        ),
    ]
    # then: stored, answered at once, nothing applied yet, and no credential kept with them
    assert all(g.queued and g.recorded == 0 for g in got)
    assert [p["state"] for p in pushes(shop)] == ["received"] * 3
    assert order_status(shop, first) != "shipped"
    with shop.uow(write=False) as uow:
        kept = shipping.repo(uow).push(pushes(shop)[0]["id"]).headers
    assert kept == {"content-type": "application/json"}
    # when: a worker drains the inbox
    assert shipping.drain_pushes(conn) == 3
    # then: both good pushes applied in one batch, the bad one kept with its reason
    states = pushes(shop)
    assert [p["state"] for p in states] == ["processed", "failed", "processed"]
    assert states[1]["error"].startswith("cannot read the push")
    assert order_status(shop, first) == order_status(shop, second) == "shipped"
    assert shipping.drain_pushes(conn) == 0  # nothing waits
    # a failed push can be queued again, and is then taken once more
    with shop.uow() as uow:
        shipping.retry_push(uow, states[1]["id"])
    with shop.uow() as uow, pytest.raises(Conflict):
        shipping.retry_push(uow, states[0]["id"])  # a processed push is not retried
    assert shipping.drain_pushes(conn) == 1
    assert [p["state"] for p in pushes(shop)] == ["processed", "failed", "processed"]


def test_a_push_applied_inline_is_kept_and_one_that_fails_is_kept_with_its_error(
    shop: TenantCtx, conn: cs.Sync, fake: FakeShiprocket
) -> None:
    from ordermesh.adapters.remote import BadPayload

    add_shiprocket(shop, fake)
    _set_settings(shop, {"shipping": {"pickup_names": {"PUN": "Pune Warehouse"}}})
    order_id = place(shop, "I1")
    awb = shipping.book(conn, packed(shop, order_id), carrier="sr").awb
    token = {"x-api-key": "sr-token"}
    applied = shipping.receive_carrier_webhook(
        conn, shop.code, "sr", token, sr_push(awb, "42", "PICKED UP", "27 11 2026 10:00:00")
    )
    with pytest.raises(BadPayload):
        shipping.receive_carrier_webhook(conn, shop.code, "sr", token, b"[1, 2")
    assert (applied.queued, applied.changed) == (False, 1) and order_status(shop, order_id) == "shipped"
    kept = pushes(shop)
    assert [p["state"] for p in kept] == ["processed", "failed"] and kept[1]["body"] == "[1, 2"
    assert shipping.drain_pushes(conn) == 0  # the workers have nothing to do with either
