"""Whole journeys, once per kind of carrier (Shiprocket on its fake, Delhivery on its fake, the own
fleet's rate card), on both databases: an allocated order is picked, packed (one wrong scan
refused), booked with that carrier, labelled, manifested with a pickup requested, tracked to the
buyer's door — and a second order fails delivery twice, goes back and lands in the RTO list."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

from ordermesh.adapters.db.shipping import ShippingRepository
from ordermesh.adapters.db.tables import OutboxEvent
from ordermesh.domain.shipping import PickLine, wave_pick_lists
from ordermesh.services import channel_sync as cs
from ordermesh.services import inventory, shipping
from tests.conftest import TenantCtx
from tests.fakes.delhivery import WAREHOUSE, FakeDelhivery
from tests.fakes.server import FakeServer, Reply, Request
from tests.fakes.shiprocket import FakeShiprocket
from tests.integration.shipping.test_shipping_flow import TARIFF, add_shiprocket, order_status, place, stock

KINDS = ("shiprocket", "delhivery", "rate_card")
CODES = {"shiprocket": "sr", "delhivery": "dlv", "rate_card": "fleet"}
PICKUP_NAMES = {"shiprocket": "Pune Warehouse", "delhivery": WAREHOUSE, "rate_card": "Pune"}
KURTA_BARCODE = "8901234567890"

# Each step of a journey in each carrier's words: Shiprocket (code, label, activity) and Delhivery
# (StatusType, Status, NSL code, Instructions); the fleet enters our own status.
SR_WORDS = {
    "picked_up": ("42", "PICKED UP", "Shipment picked up"),
    "out_for_delivery": ("17", "OUT FOR DELIVERY", "Out for delivery"),
    "delivered": ("7", "DELIVERED", "Delivered to consignee"),
    "ndr": ("21", "UNDELIVERED", "Consignee Unavailable"),
    "rto_initiated": ("9", "RTO INITIATED", "Return to origin"),
    "rto_delivered": ("10", "RTO DELIVERED", "Returned to seller"),
}
DLV_WORDS = {
    "picked_up": ("UD", "In Transit", "X-PPOM", "Shipment picked up"),
    "out_for_delivery": ("UD", "Dispatched", "X-DDD3FD", "Out for delivery"),
    "delivered": ("DL", "Delivered", "EOD-38", "Delivered to consignee"),
    "ndr": ("UD", "Pending", "EOD-11", "Consignee unavailable"),
    "rto_initiated": ("RT", "In Transit", "RT-101", "Returned as per client instruction"),
    "rto_delivered": ("DL", "RTO", "RT-110", "RTO delivered to shipper"),
}


@dataclass
class Rig:
    """One carrier account in a tenant, with its fake (none for the fleet) and how it is tracked."""

    kind: str
    shop: TenantCtx
    conn: cs.Sync
    sr: FakeShiprocket | None = None
    dlv: FakeDelhivery | None = None

    @property
    def code(self) -> str:
        return CODES[self.kind]

    def reached(self, step: str) -> str:
        """What a step makes of the shipment: Delhivery has no pick-up word, its first road scan is In Transit."""
        return "in_transit" if (self.kind, step) == ("delhivery", "picked_up") else step

    def track(self, shipment_id: int, awb: str, step: str, at: datetime) -> shipping.TrackingResult:
        """The carrier says the shipment reached ``step`` at ``at`` (naive Indian time): a webhook
        in the carrier's documented shape and token (the fake knowing the same scan), or the
        fleet's rider entering it."""
        if self.sr is not None:
            return sr_push(self.conn, self.shop, self.sr, awb, step, at)
        if self.dlv is not None:
            return dlv_push(self.conn, self.shop, self.dlv, awb, step, at)
        with self.shop.uow() as uow:
            return shipping.record_scan(
                uow,
                shipment_id,
                step,
                location="Bengaluru hub",
                ndr_reason="customer_unavailable" if step == "ndr" else None,
            )

    def ndr_actions(self) -> list[dict[str, Any]]:
        return self.sr.ndr_actions if self.sr else self.dlv.ndr_actions if self.dlv else []


def sr_body(awb: str, step: str, at: datetime) -> bytes:
    code, label, activity = SR_WORDS[step]
    scan = {"date": f"{at:%Y-%m-%d %H:%M:%S}", "status": code, "activity": activity, "location": "Bengaluru",
            "sr-status": code, "sr-status-label": label}  # fmt: skip
    body = {"awb": awb, "current_status": label, "shipment_status": label, "shipment_status_id": int(code),
            "current_timestamp": f"{at:%d %m %Y %H:%M:%S}", "order_id": "x", "scans": [scan]}  # fmt: skip
    return json.dumps(body).encode()


def sr_push(
    conn: cs.Sync, t: TenantCtx, fake: FakeShiprocket, awb: str, step: str, at: datetime, *, known: bool = True
) -> shipping.TrackingResult:
    if known:
        code, label, activity = SR_WORDS[step]
        fake.add_scan(awb, code, label, activity, at, "Bengaluru")
    return shipping.receive_carrier_webhook(conn, t.code, "sr", {"x-api-key": "sr-token"}, sr_body(awb, step, at))


def dlv_body(awb: str, step: str, at: datetime) -> bytes:
    """Delhivery's documented (nested) scan push."""
    kind, word, nsl, instructions = DLV_WORDS[step]
    status = {"Status": word, "StatusType": kind, "StatusDateTime": f"{at:%Y-%m-%dT%H:%M:%S}.000",
              "StatusLocation": "Bengaluru_Koramangala (Karnataka)", "Instructions": instructions}  # fmt: skip
    return json.dumps({"Shipment": {"AWB": awb, "ReferenceNo": "SH", "NSLCode": nsl, "Status": status}}).encode()


def dlv_push(
    conn: cs.Sync, t: TenantCtx, fake: FakeDelhivery, awb: str, step: str, at: datetime, *, known: bool = True
) -> shipping.TrackingResult:
    if known:
        kind, word, nsl, instructions = DLV_WORDS[step]
        fake.add_scan(awb, kind, word, nsl, instructions, "Bengaluru_Koramangala (Karnataka)", at=at)
    headers = {"Authorization": "Token dlv-token"}
    return shipping.receive_carrier_webhook(conn, t.code, "dlv", headers, dlv_body(awb, step, at))


# -- fixtures ---------------------------------------------------------------------------------------


def set_shipping(t: TenantCtx, shipping_settings: dict[str, Any]) -> None:
    with t.uow() as uow:
        uow.conn.execute(
            text("UPDATE tenants SET settings = :s WHERE id = :t"),
            {"s": json.dumps({"shipping": shipping_settings}), "t": t.id},
        )
        uow.commit()


def add_fleet(t: TenantCtx, **tariff: Any) -> None:
    with t.uow() as uow:
        shipping.create_carrier(
            uow,
            {
                "code": "fleet",
                "kind": "rate_card",
                "name": "Pune City Fleet",
                "settings": {"tariff": {**TARIFF, **tariff}, "awb_prefix": "PF", "awb_width": 8},
            },
            t.container.connections.vault.seal,
        )


def add_delhivery(t: TenantCtx, fake: FakeDelhivery) -> None:
    with t.uow() as uow:
        shipping.create_carrier(
            uow,
            {
                "code": "dlv",
                "kind": "delhivery",
                "name": "Delhivery",
                "base_url": fake.url,
                "credentials": {"api_token": fake.token, "webhook_token": "dlv-token"},
                "settings": {"pickup_location": WAREHOUSE, "etd_days": {"Surface": 5, "Express": 2}},
            },
            t.container.connections.vault.seal,
        )


@pytest.fixture(params=KINDS)
def rig(request: pytest.FixtureRequest, shop: TenantCtx, conn: cs.Sync) -> Iterator[Rig]:
    kind = request.param
    set_shipping(shop, {"pickup_names": {"PUN": PICKUP_NAMES[kind]}, "ndr": {"max_attempts": 2}})
    with ExitStack() as stack:
        rig = Rig(kind, shop, conn)
        if kind == "shiprocket":
            rig.sr = stack.enter_context(FakeShiprocket())
            add_shiprocket(shop, rig.sr)
        elif kind == "delhivery":
            rig.dlv = stack.enter_context(FakeDelhivery())
            add_delhivery(shop, rig.dlv)
        else:
            add_fleet(shop)
        yield rig


# -- helpers ----------------------------------------------------------------------------------------


def shipment_row(t: TenantCtx, shipment_id: int) -> Any:
    with t.uow(write=False) as uow:
        return shipping.get_shipment(uow, shipment_id).row


def pick_list(t: TenantCtx, location: str) -> list[dict[str, Any]]:
    """The wave pick list of a location's created shipments, as the CLI's `shipping pick` makes it."""
    with t.uow(write=False) as uow:
        loc = next(x for x in uow.all_locations() if x.spec.code == location)
        repo = ShippingRepository(uow.conn, t.id)
        lines = [
            PickLine(f"OM{r.order_id:07d}", x.sku, x.quantity - x.packed, location)
            for r in repo.page(status="created", location_id=loc.id, limit=500)
            for x in repo.lines(r.id)
            if x.quantity > x.packed
        ]
    return [row.as_dict() for row in wave_pick_lists(lines).get(location, [])]


def pack(t: TenantCtx, order_id: int, *, weight_g: int = 900, wrong_scan: bool = False) -> int:
    """Shipment created, every unit scanned (one wrong barcode first, if asked), box closed."""
    with t.uow() as uow:
        [shipment_id] = shipping.create_shipments(uow, order_id)
    if wrong_scan:
        with t.uow() as uow:
            wrong = shipping.scan(uow, shipment_id, "4006381333931")
        assert (wrong.accepted, wrong.message) == (False, "barcode 4006381333931 is not in this shipment")
        assert wrong.remaining == "KURTA: 2 more; MUG: 1 more"
    for code in (KURTA_BARCODE, "KURTA", "MUG"):
        with t.uow() as uow:
            assert shipping.scan(uow, shipment_id, code).accepted
    with t.uow() as uow:
        view = shipping.pack(uow, shipment_id, weight_g=weight_g, dimensions_cm=(Decimal(30), Decimal(20), Decimal(10)))
    assert view.row.status == "packed"
    return shipment_id


def timeline(t: TenantCtx, order_id: int, *kinds: str) -> list[Any]:
    with t.uow(write=False) as uow:
        return [e for e in uow.orders.events(order_id) if e.kind in kinds]


def outbox(t: TenantCtx, topic: str) -> list[dict[str, Any]]:
    table = OutboxEvent.__table__
    with t.uow(write=False) as uow:
        rows = uow.conn.execute(
            select(table.c.payload).where(table.c.tenant_id == t.id, table.c.topic == topic).order_by(table.c.id)
        ).all()
    return [dict(r.payload) for r in rows]


def hold(server: FakeServer, method: str, path: str, gate: Callable[[Request], Reply | None]) -> None:
    """Put ``gate`` in front of one of a fake's routes: it runs first, and a reply it gives is
    answered instead of the route's own (undo with ``server.routes.pop(0)``)."""
    pattern = path + r"\Z"
    original = next(h for m, p, h in server.routes if m == method and p.pattern == pattern)

    def serve(request: Request) -> Reply:
        reply = gate(request)
        return reply if reply is not None else original(request)

    server.routes.insert(0, (method, re.compile(pattern), serve))


# -- the journeys -----------------------------------------------------------------------------------


def test_an_order_is_picked_packed_booked_manifested_and_delivered(rig: Rig) -> None:
    shop, conn, code = rig.shop, rig.conn, rig.code
    # given: an order allocated at Pune
    order_id = place(shop, "J1")
    assert order_status(shop, order_id) == "allocated" and stock(shop, "KURTA") == (10, 2)

    # the pick list of its shipment
    with shop.uow() as uow:
        [shipment_id] = shipping.create_shipments(uow, order_id)
    ref = f"OM{order_id:07d}"
    assert pick_list(shop, "PUN") == [
        {"sku": "KURTA", "bin": "", "quantity": 2, "orders": [{"order": ref, "quantity": 2}]},
        {"sku": "MUG", "bin": "", "quantity": 1, "orders": [{"order": ref, "quantity": 1}]},
    ]

    # packing: a wrong barcode refused, then every unit scanned and the box closed
    with shop.uow() as uow:
        wrong = shipping.scan(uow, shipment_id, "4006381333931")
    assert not wrong.accepted and wrong.message == "barcode 4006381333931 is not in this shipment"
    for barcode in (KURTA_BARCODE, "KURTA", "MUG"):
        with shop.uow() as uow:
            assert shipping.scan(uow, shipment_id, barcode).accepted
    assert pick_list(shop, "PUN") == []  # all picked and packed
    with shop.uow() as uow:
        view = shipping.pack(uow, shipment_id, weight_g=900, dimensions_cm=(Decimal(30), Decimal(20), Decimal(10)))
    assert (view.row.status, view.row.chargeable_weight_g) == ("packed", 1200)

    # booking with this carrier only: its quote is there and chosen
    booked = shipping.book(conn, shipment_id, carrier=code)
    assert booked.carrier == code and booked.choice["chosen"].startswith(f"{code}/")
    outcomes = booked.choice["outcomes"]
    assert outcomes and {o["carrier"] for o in outcomes} == {code} and outcomes[0]["verdict"] == "chosen"
    row = shipment_row(shop, shipment_id)
    assert (row.status, row.awb) == ("ready_to_ship", booked.awb) and row.estimated_delivery is not None
    with shop.uow(write=False) as uow:
        assert shipping.document(uow, "label", shipment_id).startswith(b"%PDF")
        if rig.kind != "rate_card":  # the carrier's own label is kept too
            assert shipping.document(uow, "carrier_label", shipment_id).startswith(b"%PDF")
    if rig.sr:
        assert booked.awb in rig.sr.by_awb
    elif rig.dlv:
        assert booked.awb in rig.dlv.shipments and rig.dlv.created[-1]["pickup_location"] == {"name": WAREHOUSE}
    else:
        assert booked.awb == "PF00000001"

    # the manifest, and a pickup requested from the carrier
    manifested = shipping.manifest(conn, code, "PUN", date(2026, 11, 27), cutoff="18:00")
    assert (manifested.shipments, manifested.pickup_error) == (1, None) and manifested.pickup_reference
    assert shipment_row(shop, shipment_id).status == "manifested"
    with shop.uow(write=False) as uow:
        assert shipping.document(uow, "manifest", manifested.manifest_id).startswith(b"%PDF")
    if rig.sr:
        assert len(rig.sr.sent("POST", "/courier/generate/pickup")) == 1
        assert rig.sr.by_awb[booked.awb].pickup_queued
    elif rig.dlv:
        [pickup] = rig.dlv.pickups
        assert (pickup["pickup_location"], pickup["pickup_date"], pickup["expected_package_count"]) == (
            WAREHOUSE,
            "2026-11-27",
            1,
        )
        assert manifested.pickup_reference == str(pickup["pickup_id"])
    else:
        assert "collect on 2026-11-27" in manifested.pickup_reference

    # tracking: picked up (the units leave the building), out for delivery, delivered
    steps = [
        ("picked_up", datetime(2026, 11, 27, 10, 0), "shipped"),
        ("out_for_delivery", datetime(2026, 11, 29, 9, 0), "shipped"),
        ("delivered", datetime(2026, 11, 29, 14, 0), "delivered"),
    ]
    for step, at, order_after in steps:
        result = rig.track(shipment_id, booked.awb, step, at)
        assert (result.changed, result.unknown) == (1, []), step
        assert shipment_row(shop, shipment_id).status == rig.reached(step)
        assert order_status(shop, order_id) == order_after
        if step == "picked_up":
            assert stock(shop, "KURTA") == (8, 0) and stock(shop, "MUG") == (9, 0)
    assert stock(shop, "KURTA") == (8, 0) and stock(shop, "MUG") == (9, 0)
    with shop.uow(write=False) as uow:
        assert inventory.check_ledger(uow) == []
        order = uow.orders.get(order_id)
    assert order is not None and {(x.sku_code, x.shipped, x.delivered) for x in order.lines} == {
        ("KURTA", 2, 2),
        ("MUG", 1, 1),
    }
    kinds = [e.kind for e in timeline(shop, order_id, "shipment.booked", "shipment.delivered")]
    assert kinds == ["shipment.booked", "shipment.delivered"]


def test_an_order_undelivered_twice_comes_back_to_origin(rig: Rig) -> None:
    shop, conn, code = rig.shop, rig.conn, rig.code
    order_id = place(shop, "J2")
    shipment_id = pack(shop, order_id, wrong_scan=True)
    awb = shipping.book(conn, shipment_id, carrier=code).awb
    assert shipping.manifest(conn, code, "PUN", date(2026, 11, 28)).pickup_error is None
    rig.track(shipment_id, awb, "picked_up", datetime(2026, 11, 28, 10, 0))
    assert order_status(shop, order_id) == "shipped" and stock(shop, "KURTA") == (8, 0)

    # the first failed attempt: in the NDR queue, a person asks for a re-attempt
    result = rig.track(shipment_id, awb, "ndr", datetime(2026, 11, 29, 12, 0))
    assert result.changed == 1 and shipment_row(shop, shipment_id).status == "ndr"
    with shop.uow(write=False) as uow:
        [queued] = shipping.ndr_queue(uow)
    assert (queued["shipment_id"], queued["attempts"], queued["reason"]) == (shipment_id, 1, "customer_unavailable")
    assert outbox(shop, "shipment.ndr_action") == []  # one attempt of two: no automatic return yet
    shipping.ndr_action(conn, shipment_id, "reattempt", reattempt_on=date(2026, 11, 30), comment="call first")
    if rig.sr:
        [sent] = rig.ndr_actions()
        assert (sent["awb"], sent["action"], sent["deferred_date"]) == (awb, "re-attempt", "2026-11-30")
    elif rig.dlv:
        [sent] = rig.ndr_actions()
        assert sent == {"waybill": awb, "act": "DEFER_DLV", "action_data": {"deferred_date": "2026-11-30"}}
    else:
        assert rig.ndr_actions() == []  # the fleet reads NDR decisions in ordermesh
    [note] = timeline(shop, order_id, "shipment.ndr_action")
    assert note.message.startswith(f"NDR on {shipping.shipment_number(shipment_id)}: reattempt on 30 Nov")

    # out again, and undelivered again: the second attempt of two returns it automatically
    rig.track(shipment_id, awb, "out_for_delivery", datetime(2026, 11, 30, 9, 0))
    assert shipment_row(shop, shipment_id).status == "out_for_delivery"
    rig.track(shipment_id, awb, "ndr", datetime(2026, 11, 30, 15, 0))
    row = shipment_row(shop, shipment_id)
    assert (row.status, row.ndr_attempts) == ("ndr", 2)
    assert [e.kind for e in timeline(shop, order_id, "shipment.ndr_rto")] == ["shipment.ndr_rto"]
    [decision] = outbox(shop, "shipment.ndr_action")
    assert (decision["shipment_id"], decision["action"], decision["automatic"]) == (shipment_id, "rto", True)
    before = len(rig.ndr_actions())
    # what the worker's handler for the event does (test_shipping_jobs.py runs the worker itself)
    shipping.send_ndr_decision(conn, int(decision["shipment_id"]), str(decision["action"]))
    if rig.sr:
        assert rig.ndr_actions()[before:] == [{"awb": awb, "action": "return"}]
    else:  # Delhivery returns it once its attempts run out (no RTO word); the fleet reads it here
        assert len(rig.ndr_actions()) == before
    automatic = timeline(shop, order_id, "shipment.ndr_action")[-1]
    assert automatic.data == {"shipment_id": shipment_id, "action": "rto", "automatic": True, "attempt": 2}

    # the carrier takes it back to Pune
    rig.track(shipment_id, awb, "rto_initiated", datetime(2026, 12, 1, 9, 0))
    assert shipment_row(shop, shipment_id).status == "rto_initiated" and order_status(shop, order_id) == "shipped"
    rig.track(shipment_id, awb, "rto_delivered", datetime(2026, 12, 4, 16, 0))
    assert shipment_row(shop, shipment_id).status == "rto_delivered"
    assert order_status(shop, order_id) == "rto"
    with shop.uow(write=False) as uow:
        [waiting] = shipping.rto_awaiting_receipt(uow)
        assert shipping.ndr_queue(uow) == []
    assert (waiting["shipment_id"], waiting["awb"], waiting["order_id"]) == (shipment_id, awb, order_id)
    assert stock(shop, "KURTA") == (8, 0)  # back at the door, not in stock until received
