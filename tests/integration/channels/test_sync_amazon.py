"""Amazon (SP-API) through the real channel-sync services on both databases, against the fake:
orders polled with their items under a Restricted Data Token, no webhooks, cancellations on
Amazon, stock patched per SKU with its product type and reconciled, and order status told back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ordermesh.domain.errors import Unauthorized
from ordermesh.services import channel_sync as cs
from ordermesh.services import order_actions
from tests.conftest import TenantCtx
from tests.factories import make_location, make_sku, receive
from tests.fakes.amazon import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, SELLER, FakeAmazon
from tests.integration.channels.sync_helpers import (
    add_channel,
    finish,
    health_of,
    inbox_of,
    one_order,
    orders_of,
    put_listing,
    ship,
    status_pushes,
    sync_for,
)

ORDER_ID = "406-5551234-7654321"  # seller-fulfilled, Unshipped, COD, 2 × the kurta to Chennai
AFN_ORDER_ID = "402-8887776-5554443"  # fulfilled by Amazon: recorded nowhere until it is ours to ship
ORDER_ITEM_ID = "62012345678901"
KURTA, SPEAKER = "KRT-COT-BLU-M", "SPK-BT-10W-BLK"


@pytest.fixture
def fake() -> Iterator[FakeAmazon]:
    with FakeAmazon() as server:
        yield server


@pytest.fixture(autouse=True)
def _finish(tenant: TenantCtx) -> Iterator[None]:
    yield
    finish(tenant)


@pytest.fixture
def amazon(tenant: TenantCtx, fake: FakeAmazon) -> TenantCtx:
    """A tenant with an Amazon channel pointed at the fake (SP-API and Login with Amazon), the
    fixture's SKUs and stock in a warehouse that ships to Tamil Nadu."""
    make_location(tenant, "BLR", "KA")
    make_sku(tenant, KURTA, mrp="999.00")
    make_sku(tenant, SPEAKER, mrp="1999.00")
    receive(tenant, KURTA, "BLR", 10)
    receive(tenant, SPEAKER, "BLR", 4)
    add_channel(
        tenant,
        "amzn",
        "amazon",
        fake.url,
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN},
        {"seller_id": SELLER, "lwa_url": fake.url, "since": "2025-01-01T00:00:00Z"},
    )
    return tenant


# -- orders in --------------------------------------------------------------------------------


def test_polling_brings_the_order_with_its_items_and_address_once(amazon: TenantCtx, fake: FakeAmazon) -> None:
    sync = sync_for(amazon)
    result = cs.pull_orders(sync, "amzn")
    assert result.errors == [] and result.pages == 1
    [order] = orders_of(amazon)  # the FBA order is Amazon's to ship: not ours, not created
    assert (order.external_id, order.payment_method, order.status) == (ORDER_ID, "cod", "allocated")
    assert order.lines == [(KURTA, 2)]
    # the street address and buyer came under a Restricted Data Token
    assert fake.rdts and order.shipping_address["line1"] == "No. 21, Example Street"
    assert len(fake.sent(r"/tokens/2021-03-01/restrictedDataToken", "POST")) == 1
    [orders_call] = fake.sent(r"/orders/v0/orders")
    assert orders_call.header("x-amz-access-token") in fake.rdts
    assert {r.path for r in fake.sent(r"/orders/v0/orders/[^/]+/orderItems")} == {
        f"/orders/v0/orders/{ORDER_ID}/orderItems",
        f"/orders/v0/orders/{AFN_ORDER_ID}/orderItems",
    }
    [page] = inbox_of(amazon, "amzn")
    assert page.state == "processed" and page.result["created"] == [ORDER_ID]
    assert page.result["waiting"] == [AFN_ORDER_ID]

    # the line ids the shipment confirmation needs are kept with the order
    assert order.channel_data["lines"] == [
        {"line_id": ORDER_ITEM_ID, "listing_id": KURTA, "seller_sku": KURTA, "quantity": 2}
    ]
    assert order.channel_data["extra"]["order_items"] == [{"orderItemId": ORDER_ITEM_ID, "quantity": 2}]

    # Amazon reports the same order again (touched, unchanged): still one order
    fake.orders[0]["LastUpdateDate"] = "2025-01-15T10:30:00Z"
    fake.now = "2025-01-15T11:00:00Z"
    again = cs.pull_orders(sync, "amzn")
    assert again.errors == [] and again.pages == 1
    assert [o.external_id for o in orders_of(amazon)] == [ORDER_ID]
    assert len(inbox_of(amazon, "amzn")) == 2


def test_amazon_has_no_webhooks_anything_posted_is_kept_rejected(amazon: TenantCtx) -> None:
    body = b'{"NotificationType": "ORDER_CHANGE", "Payload": {}}'
    with pytest.raises(Unauthorized, match="Amazon does not send webhooks"):
        cs.receive_webhook(sync_for(amazon), amazon.code, "amzn", {"Content-Type": "application/json"}, body)
    assert orders_of(amazon) == []
    [item] = inbox_of(amazon, "amzn", "rejected")
    assert item.body == body and "orders are polled" in (item.error or "")
    assert health_of(amazon, "amzn")["inbox"]["rejected"] == 1


def test_a_cancellation_on_amazon_cancels_ours(amazon: TenantCtx, fake: FakeAmazon) -> None:
    sync = sync_for(amazon)
    cs.pull_orders(sync, "amzn")
    assert one_order(amazon, ORDER_ID).status == "allocated"
    fake.orders[0].update(OrderStatus="Canceled", LastUpdateDate="2025-01-15T10:40:00Z")
    fake.now = "2025-01-15T11:00:00Z"
    result = cs.pull_orders(sync, "amzn")
    assert result.errors == []
    assert one_order(amazon, ORDER_ID).status == "cancelled"
    assert len(orders_of(amazon)) == 1


def test_a_failing_poll_is_retried_with_a_fresh_token_then_kept_in_health(amazon: TenantCtx, fake: FakeAmazon) -> None:
    fake.fail("getOrders", status=503, times=10)
    result = cs.pull_orders(sync_for(amazon), "amzn")
    assert result.pages == 0 and result.errors
    health = health_of(amazon, "amzn")
    assert health["orders"]["failures"] == 1 and "503" in health["orders"]["last_error"]
    assert orders_of(amazon) == []


# -- stock out --------------------------------------------------------------------------------


def _listings(t: TenantCtx) -> None:
    put_listing(t, "amzn", KURTA, KURTA, seller_sku=KURTA, asin="B0EXAMPLE01", product_type="KURTA")
    put_listing(t, "amzn", SPEAKER, SPEAKER, seller_sku=SPEAKER, asin="B0EXAMPLE02", product_type="SPEAKERS")


def test_stock_is_patched_per_sku_with_its_product_type(amazon: TenantCtx, fake: FakeAmazon) -> None:
    _listings(amazon)
    sync = sync_for(amazon)
    result = cs.push_inventory(sync, "amzn")
    assert (result.pushed, result.failed) == (2, 0), result.errors
    assert fake.listings[KURTA]["quantity"]["DEFAULT"] == 10
    assert fake.listings[SPEAKER]["quantity"]["DEFAULT"] == 4
    assert {sku: body["productType"] for sku, body in fake.patches} == {KURTA: "KURTA", SPEAKER: "SPEAKERS"}
    assert cs.push_inventory(sync, "amzn").pushed == 0


def test_a_wrong_product_type_is_a_visible_failure(amazon: TenantCtx, fake: FakeAmazon) -> None:
    put_listing(amazon, "amzn", KURTA, KURTA, seller_sku=KURTA, product_type="SHIRT")
    result = cs.push_inventory(sync_for(amazon), "amzn")
    assert (result.pushed, result.failed) == (0, 1)
    assert "INVALID" in result.errors[0] and "productType" in result.errors[0]
    assert fake.listings[KURTA]["quantity"]["DEFAULT"] == 3


def test_reconciliation_finds_and_corrects_drift(amazon: TenantCtx, fake: FakeAmazon) -> None:
    _listings(amazon)
    sync = sync_for(amazon)
    cs.push_inventory(sync, "amzn")
    fake.listings[KURTA]["quantity"]["DEFAULT"] = 3  # edited in Seller Central
    report = cs.reconcile(sync, "amzn")
    assert report.errors == [] and report.checked == 2 and report.corrected == 1
    assert report.drift == [{"listing_id": KURTA, "sku": KURTA, "channel": 3, "ours": 10}]
    assert fake.listings[KURTA]["quantity"]["DEFAULT"] == 10
    assert cs.reconcile(sync, "amzn").drift == []


# -- status back ------------------------------------------------------------------------------


def test_a_cancellation_cannot_be_sent_and_is_recorded_as_not_retryable(amazon: TenantCtx, fake: FakeAmazon) -> None:
    sync = sync_for(amazon)
    cs.pull_orders(sync, "amzn")
    order = one_order(amazon, ORDER_ID)
    with amazon.uow() as uow:
        order_actions.cancel_order(uow, order.id, reason="out of stock")
    # not retryable: no ChannelError for the outbox to retry
    assert cs.push_status(sync, order.id, "cancelled", "allocated") == "cancelled"
    [push] = status_pushes(amazon, "amzn")
    assert not push.ok and push.status == "cancelled" and push.key == ORDER_ID
    assert "Seller Central" in push.detail
    assert health_of(amazon, "amzn")["status"]["failures"] == 1
    assert fake.orders[0]["OrderStatus"] == "Unshipped"  # nothing was sent


def test_nothing_is_sent_for_an_accepted_order(amazon: TenantCtx, fake: FakeAmazon) -> None:
    sync = sync_for(amazon)
    cs.pull_orders(sync, "amzn")
    order = one_order(amazon, ORDER_ID)
    assert cs.push_status(sync, order.id, "allocated", "pending") == "confirmed"
    [push] = status_pushes(amazon, "amzn")
    assert push.ok and "nothing to send" in push.detail


def test_a_shipped_order_is_confirmed_with_its_order_item_ids(amazon: TenantCtx, fake: FakeAmazon) -> None:
    sync = sync_for(amazon)
    cs.pull_orders(sync, "amzn")
    order = one_order(amazon, ORDER_ID)
    ship(amazon, order.id, courier="Delhivery", awb="AWB123456789", location="BLR")
    assert cs.push_status(sync, order.id, "shipped", "allocated") == "shipped"
    [confirmation] = fake.confirmations[ORDER_ID]
    package = confirmation["packageDetail"]
    assert package["orderItems"] == [{"orderItemId": ORDER_ITEM_ID, "quantity": 2}]
    assert (package["carrierCode"], package["carrierName"], package["trackingNumber"]) == (
        "Other", "Delhivery", "AWB123456789"
    )  # fmt: skip
    assert fake.orders[0]["OrderStatus"] == "Shipped"
    [push] = status_pushes(amazon, "amzn")
    assert push.ok and "Delhivery AWB123456789" in push.detail


def test_a_shipped_order_without_an_awb_fails_visibly_and_is_not_retried(amazon: TenantCtx, fake: FakeAmazon) -> None:
    sync = sync_for(amazon)
    cs.pull_orders(sync, "amzn")
    order = one_order(amazon, ORDER_ID)
    assert cs.push_status(sync, order.id, "shipped", "allocated") == "shipped"
    [push] = status_pushes(amazon, "amzn")
    assert not push.ok and "carrier and a tracking number" in push.detail
    assert fake.confirmations == {}
