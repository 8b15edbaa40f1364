"""Flipkart (Seller API v3) through the real channel-sync services on both databases, against the
fake: shipments polled into whole buyer orders, notifications with the shared token, cancellations on
Flipkart, stock per seller SKU and location and reconciled, and order status told back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest

from ordermesh.adapters.channels.flipkart import IST, WEBHOOK_TOKEN_HEADER
from ordermesh.domain.errors import Unauthorized
from ordermesh.services import channel_sync as cs
from ordermesh.services import order_actions
from tests.conftest import TenantCtx
from tests.factories import make_location, make_sku, receive
from tests.fakes.flipkart import APP_ID, APP_SECRET, FIXTURES, FakeFlipkart
from tests.integration.channels.sync_helpers import (
    add_channel,
    finish,
    inbox_of,
    one_order,
    orders_of,
    put_listing,
    status_pushes,
    sync_for,
)

WEBHOOK_TOKEN = "fk-notify-0123456789abcdef"
LOCATION = "LOC6f1e2d3c4b5a49788796a5b4c3d2e1f0"
KURTA, SPEAKER = "KRT-COT-BLU-M", "SPK-BT-10W-BLK"
# The fixture: one order per shipment. The kurta's is APPROVED and COD (to Bengaluru); the
# speakers' is PACKED and prepaid (to Kochi).
KURTA_ORDER, SPEAKER_ORDER = "OD432109876543210100", "OD432109876543210200"
KURTA_SHIPMENT, SPEAKER_SHIPMENT = "3f6a9c2e-1b4d-4e8f-9a7c-5d2e1f0a3b4c", "8b2d4f6a-3c5e-4a7b-9d1f-2e4a6c8b0d1e"
KURTA_ITEM, SPEAKER_ITEM = "12251234567890100", "12251234567890200"
KURTA_LISTING, SPEAKER_LISTING = "LSTKTAEXAMPLE12345XABCDE1", "LSTACCEXAMPLE67890YFGHIJ2"
KURTA_FSN, SPEAKER_FSN = "KTAEXAMPLE12345X", "ACCEXAMPLE67890Y"
NOTIFICATION = (FIXTURES / "flipkart_shipment_created_notification.json").read_bytes()


@pytest.fixture
def fake() -> Iterator[FakeFlipkart]:
    with FakeFlipkart() as server:
        yield server


@pytest.fixture(autouse=True)
def _finish(tenant: TenantCtx) -> Iterator[None]:
    yield
    finish(tenant)


@pytest.fixture
def flipkart(tenant: TenantCtx, fake: FakeFlipkart) -> TenantCtx:
    """A tenant with a Flipkart channel pointed at the fake, the fixture's SKUs, and stock in a
    Karnataka warehouse that ships to both fixture destinations."""
    make_location(tenant, "BLR", "KA")
    make_sku(tenant, KURTA, mrp="999.00")
    make_sku(tenant, SPEAKER, mrp="1999.00")
    receive(tenant, KURTA, "BLR", 10)
    receive(tenant, SPEAKER, "BLR", 4)
    add_channel(
        tenant,
        "fk",
        "flipkart",
        fake.url,
        {"app_id": APP_ID, "app_secret": APP_SECRET, "webhook_token": WEBHOOK_TOKEN},
        {"location_id": LOCATION, "since": "2025-01-01T00:00:00+05:30"},
    )
    return tenant


def notify(body: bytes = NOTIFICATION, token: str = WEBHOOK_TOKEN) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Flipkart-Event": json.loads(body)["eventType"],
            WEBHOOK_TOKEN_HEADER: token}  # fmt: skip


# -- orders in --------------------------------------------------------------------------------


def test_polling_brings_each_buyer_order_once(flipkart: TenantCtx, fake: FakeFlipkart) -> None:
    sync = sync_for(flipkart)
    result = cs.pull_orders(sync, "fk")
    assert result.errors == [] and result.pages >= 1
    kurta, speakers = orders_of(flipkart)
    assert (kurta.external_id, kurta.payment_method, kurta.status, kurta.lines) == (
        KURTA_ORDER, "cod", "allocated", [(KURTA, 1)]
    )  # fmt: skip
    assert (speakers.external_id, speakers.payment_method, speakers.status, speakers.lines) == (
        SPEAKER_ORDER, "prepaid", "allocated", [(SPEAKER, 2)]
    )  # fmt: skip
    assert kurta.shipping_address["pincode"] == "560038" and speakers.shipping_address["state"] == "KL"
    assert kurta.channel_data["lines"] == [
        {"line_id": KURTA_ITEM, "listing_id": KURTA_LISTING, "seller_sku": KURTA, "quantity": 1}
    ]
    assert kurta.channel_data["extra"]["shipments"][0]["shipmentId"] == KURTA_SHIPMENT
    with flipkart.uow(write=False) as uow:
        record = uow.channels.get("fk")
        assert record is not None
        cursor = cs.repo(uow).sync(record.id, "orders").cursor
    assert cursor is not None and "watermark" in json.loads(cursor)

    again = cs.pull_orders(sync, "fk", force=True)
    assert again.errors == []
    assert [o.external_id for o in orders_of(flipkart)] == [KURTA_ORDER, SPEAKER_ORDER]


def test_a_notification_with_the_token_is_taken_and_the_poll_brings_the_whole_order(
    flipkart: TenantCtx, fake: FakeFlipkart
) -> None:
    """A notification carries no address, so it is held as waiting; the next poll imports the
    order whole, once."""
    sync = sync_for(flipkart)
    got = cs.receive_webhook(sync, flipkart.code, "fk", notify(), NOTIFICATION)
    assert got.item_id is not None and got.processed, got.error
    [item] = inbox_of(flipkart, "fk")
    assert item.topic == "shipment_created" and item.result["waiting"] == [KURTA_ORDER]
    assert orders_of(flipkart) == []

    assert cs.receive_webhook(sync, flipkart.code, "fk", notify(), NOTIFICATION).item_id is None  # a replay
    cs.pull_orders(sync, "fk")
    kurta = one_order(flipkart, KURTA_ORDER)
    assert (kurta.lines, kurta.payment_method, kurta.status) == ([(KURTA, 1)], "cod", "allocated")
    assert len(orders_of(flipkart)) == 2


def test_a_later_notification_for_an_imported_order_is_taken(flipkart: TenantCtx, fake: FakeFlipkart) -> None:
    sync = sync_for(flipkart)
    cs.pull_orders(sync, "fk")
    packed = json.loads(NOTIFICATION)
    packed.update(eventType="shipment_packed", timestamp="2025-01-15T19:00:00+05:30")
    packed["attributes"]["orderItems"][0].pop("status")
    body = json.dumps(packed).encode()
    got = cs.receive_webhook(sync, flipkart.code, "fk", notify(body), body)
    assert got.processed, got.error
    kurta = one_order(flipkart, KURTA_ORDER)
    assert kurta.status == "allocated" and kurta.shipping_address["pincode"] == "560038"


def test_a_notification_without_the_shared_token_is_kept_rejected(flipkart: TenantCtx) -> None:
    for token in ("not-the-token", ""):
        headers = notify(token=token) if token else {"Content-Type": "application/json"}
        with pytest.raises(Unauthorized):
            cs.receive_webhook(sync_for(flipkart), flipkart.code, "fk", headers, NOTIFICATION)
    rejected = inbox_of(flipkart, "fk", "rejected")
    assert len(rejected) == 2 and all(r.body == NOTIFICATION for r in rejected)
    assert {"does not match" in (r.error or "") or "missing" in (r.error or "") for r in rejected} == {True}
    assert orders_of(flipkart) == []


def test_a_cancellation_on_flipkart_cancels_ours(flipkart: TenantCtx, fake: FakeFlipkart) -> None:
    sync = sync_for(flipkart)
    cs.pull_orders(sync, "fk")
    assert one_order(flipkart, KURTA_ORDER).status == "allocated"
    # the buyer cancels on Flipkart now (the next poll's window runs from the last one to now)
    [item] = fake.shipments[KURTA_SHIPMENT]["orderItems"]
    now = datetime.now(IST).isoformat(timespec="milliseconds")
    item.update(status="CANCELLED", cancellationDate=now, cancellationReason="order_cancelled_by_buyer")
    fake.shipments[KURTA_SHIPMENT]["updatedAt"] = now
    result = cs.pull_orders(sync, "fk")
    assert result.errors == []
    assert one_order(flipkart, KURTA_ORDER).status == "cancelled"
    assert one_order(flipkart, SPEAKER_ORDER).status == "allocated"
    assert len(orders_of(flipkart)) == 2


# -- stock out --------------------------------------------------------------------------------


def _listings(t: TenantCtx) -> None:
    put_listing(t, "fk", KURTA_LISTING, KURTA, seller_sku=KURTA, product_id=KURTA_FSN, location_id=LOCATION)
    put_listing(t, "fk", SPEAKER_LISTING, SPEAKER, seller_sku=SPEAKER, product_id=SPEAKER_FSN, location_id=LOCATION)


def test_stock_goes_out_per_seller_sku_and_location(flipkart: TenantCtx, fake: FakeFlipkart) -> None:
    _listings(flipkart)
    sync = sync_for(flipkart)
    result = cs.push_inventory(sync, "fk")
    assert (result.pushed, result.failed) == (2, 0), result.errors
    assert (fake.inventory(KURTA, LOCATION), fake.inventory(SPEAKER, LOCATION)) == (10, 4)
    [call] = fake.inventory_calls
    assert call[KURTA] == {"product_id": KURTA_FSN, "locations": [{"id": LOCATION, "inventory": 10}]}
    assert cs.push_inventory(sync, "fk").pushed == 0


def test_a_listing_without_its_fsn_fails_without_a_call(flipkart: TenantCtx, fake: FakeFlipkart) -> None:
    put_listing(flipkart, "fk", KURTA_LISTING, KURTA, seller_sku=KURTA, location_id=LOCATION)
    result = cs.push_inventory(sync_for(flipkart), "fk")
    assert (result.pushed, result.failed) == (0, 1)
    assert "product_id (FSN)" in result.errors[0]
    assert fake.inventory_calls == []


def test_reconciliation_finds_and_corrects_drift(flipkart: TenantCtx, fake: FakeFlipkart) -> None:
    _listings(flipkart)
    sync = sync_for(flipkart)
    cs.push_inventory(sync, "fk")
    fake.listings[KURTA]["locations"][0]["inventory"] = 3  # edited in the seller hub
    report = cs.reconcile(sync, "fk")
    assert report.errors == [] and report.checked == 2 and report.corrected == 1
    assert report.drift == [{"listing_id": KURTA_LISTING, "sku": KURTA, "channel": 3, "ours": 10}]
    assert fake.inventory(KURTA, LOCATION) == 10
    assert cs.reconcile(sync, "fk").drift == []


# -- status back ------------------------------------------------------------------------------


def _cancel_ours(t: TenantCtx, order_id: int) -> None:
    with t.uow() as uow:
        order_actions.cancel_order(uow, order_id, reason="out of stock")


def test_an_order_cancelled_before_packing_is_cancelled_on_flipkart(flipkart: TenantCtx, fake: FakeFlipkart) -> None:
    sync = sync_for(flipkart)
    cs.pull_orders(sync, "fk")
    order = one_order(flipkart, KURTA_ORDER)
    _cancel_ours(flipkart, order.id)
    assert cs.push_status(sync, order.id, "cancelled", "allocated") == "cancelled"
    [request] = fake.cancelled
    assert request == {
        "shipmentId": KURTA_SHIPMENT,
        "locationId": LOCATION,
        "reason": "not_enough_inventory",
        "cancellationGroupIds": [f"grp{KURTA_ITEM}"],
    }
    assert fake.status_of(KURTA_ITEM) == "CANCELLED"
    [push] = status_pushes(flipkart, "fk")
    assert push.ok and push.key == KURTA_ORDER


def test_a_packed_order_cannot_be_cancelled_and_says_why(flipkart: TenantCtx, fake: FakeFlipkart) -> None:
    sync = sync_for(flipkart)
    cs.pull_orders(sync, "fk")
    order = one_order(flipkart, SPEAKER_ORDER)
    _cancel_ours(flipkart, order.id)
    assert cs.push_status(sync, order.id, "cancelled", "allocated") == "cancelled"  # not retried
    assert fake.cancelled == []
    [push] = status_pushes(flipkart, "fk")
    assert not push.ok and "only before packing" in push.detail
    assert fake.status_of(SPEAKER_ITEM) == "PACKED"


def test_a_shipped_packed_order_is_marked_ready_to_dispatch(flipkart: TenantCtx, fake: FakeFlipkart) -> None:
    sync = sync_for(flipkart)
    cs.pull_orders(sync, "fk")
    order = one_order(flipkart, SPEAKER_ORDER)
    assert cs.push_status(sync, order.id, "shipped", "allocated") == "shipped"
    assert fake.rtd == [SPEAKER_SHIPMENT] and fake.status_of(SPEAKER_ITEM) == "READY_TO_DISPATCH"
    [push] = status_pushes(flipkart, "fk")
    assert push.ok and "ready to dispatch" in push.detail


def test_an_accepted_order_gets_its_labels_generated(flipkart: TenantCtx, fake: FakeFlipkart) -> None:
    sync = sync_for(flipkart)
    cs.pull_orders(sync, "fk")
    order = one_order(flipkart, KURTA_ORDER)
    assert cs.push_status(sync, order.id, "allocated", "pending") == "confirmed"
    [push] = status_pushes(flipkart, "fk")
    assert push.ok, push.detail
    [label] = fake.labels
    assert label["taxItems"] == [{"orderItemId": KURTA_ITEM, "taxRate": 5.0, "quantity": 1}]
    assert fake.status_of(KURTA_ITEM) == "PACKED"
