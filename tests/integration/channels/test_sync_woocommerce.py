"""WooCommerce through the real channel-sync services on both databases, against the fake store:
signed webhooks and polling into one order, cancellations on the store, stock pushed to products and
variations and reconciled, and order status told back."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator

import pytest

from ordermesh.domain.errors import Unauthorized
from ordermesh.services import channel_sync as cs
from ordermesh.services import order_actions
from tests.conftest import TenantCtx
from tests.factories import make_location, make_sku, receive
from tests.fakes.woocommerce import FIXTURES, FakeWooCommerce, fixture_order
from tests.integration.channels.sync_helpers import (
    add_channel,
    finish,
    inbox_of,
    one_order,
    orders_of,
    put_listing,
    ship,
    status_pushes,
    sync_for,
)

BODY = (FIXTURES / "woocommerce_order.json").read_bytes()
_HEADERS = json.loads((FIXTURES / "woocommerce_order.headers.json").read_bytes())
HEADERS: dict[str, str] = {k: v for k, v in _HEADERS.items() if not k.startswith("_")}
SECRET: str = _HEADERS["_test_secret"]

ORDER_ID = "727"
KURTA, SPEAKER = "KRT-COT-BLU-M", "SPK-BT-10W-BLK"
PARENT, VARIATION, SIMPLE = 1201, 1207, 1305


@pytest.fixture
def fake() -> Iterator[FakeWooCommerce]:
    with FakeWooCommerce() as server:
        yield server


@pytest.fixture(autouse=True)
def _finish(tenant: TenantCtx) -> Iterator[None]:
    yield
    finish(tenant)


@pytest.fixture
def woo(tenant: TenantCtx, fake: FakeWooCommerce) -> TenantCtx:
    """A tenant with a WooCommerce channel pointed at the fake, the fixture's SKUs and stock in
    Maharashtra (the fixture ships to Pune)."""
    make_location(tenant, "BHW", "MH")
    make_sku(tenant, KURTA, mrp="1200.00")
    make_sku(tenant, SPEAKER, mrp="1999.00")
    receive(tenant, KURTA, "BHW", 10)
    receive(tenant, SPEAKER, "BHW", 4)
    add_channel(
        tenant,
        "woo",
        "woocommerce",
        fake.url,
        {**fake.credentials, "webhook_secret": SECRET},
        {"since": "2025-01-01T00:00:00Z"},
    )
    return tenant


def sign(body: bytes, topic: str = "order.updated") -> dict[str, str]:
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return {**HEADERS, "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Signature": signature}


def assert_the_fixture_order(t: TenantCtx) -> None:
    [order] = orders_of(t)
    assert (order.external_id, order.payment_method, order.status) == (ORDER_ID, "cod", "allocated")
    assert order.lines == [(KURTA, 1), (SPEAKER, 1)]
    assert [(x["listing_id"], x["line_id"]) for x in order.channel_data["lines"]] == [("1207", "311"), ("1305", "312")]


# -- orders in --------------------------------------------------------------------------------


def test_a_signed_webhook_becomes_one_order_and_a_replay_changes_nothing(woo: TenantCtx) -> None:
    sync = sync_for(woo)
    got = cs.receive_webhook(sync, woo.code, "woo", HEADERS, BODY)
    assert got.item_id is not None and got.processed, got.error
    assert_the_fixture_order(woo)
    [item] = inbox_of(woo, "woo")
    assert (item.topic, item.state, item.result["created"]) == ("order.created", "processed", [ORDER_ID])

    again = cs.receive_webhook(sync, woo.code, "woo", HEADERS, BODY)
    assert again.item_id is None
    assert len(orders_of(woo)) == 1


def test_a_tampered_webhook_is_kept_rejected(woo: TenantCtx) -> None:
    body = BODY.replace(b"Anita", b"Anitha")
    with pytest.raises(Unauthorized):
        cs.receive_webhook(sync_for(woo), woo.code, "woo", HEADERS, body)
    assert orders_of(woo) == []
    [item] = inbox_of(woo, "woo", "rejected")
    assert item.body == body and "does not match" in (item.error or "")


def test_the_ping_sent_when_a_webhook_is_saved_is_accepted_without_an_order(woo: TenantCtx) -> None:
    headers = {"X-WC-Webhook-ID": "12", "Content-Type": "application/x-www-form-urlencoded"}
    got = cs.receive_webhook(sync_for(woo), woo.code, "woo", headers, b"webhook_id=12")
    assert got.processed and orders_of(woo) == []


def test_polling_creates_the_order_once_and_a_webhook_after_it_adds_none(woo: TenantCtx, fake: FakeWooCommerce) -> None:
    fake.seed_fixture()
    sync = sync_for(woo)
    first = cs.pull_orders(sync, "woo")
    assert first.errors == [] and first.pages == 1
    assert_the_fixture_order(woo)
    [orders_call] = fake.server.sent("GET", r"/wp-json/wc/v3/orders")
    assert orders_call.arg("modified_after") == "2025-01-01T00:00:00"

    again = cs.pull_orders(sync, "woo", force=True)  # the overlap brings the same order back
    assert again.errors == []
    cs.receive_webhook(sync, woo.code, "woo", HEADERS, BODY)
    assert len(orders_of(woo)) == 1
    assert [i.state for i in inbox_of(woo, "woo")] == ["processed"] * len(inbox_of(woo, "woo"))


def test_a_cancellation_on_the_store_cancels_ours_by_polling(woo: TenantCtx, fake: FakeWooCommerce) -> None:
    fake.seed_fixture()
    sync = sync_for(woo)
    cs.pull_orders(sync, "woo")
    assert one_order(woo, ORDER_ID).status == "allocated"

    order = fake.orders[int(ORDER_ID)]
    order["status"] = "cancelled"
    order["date_modified_gmt"] = "2025-01-17T09:00:00"
    result = cs.pull_orders(sync, "woo")
    assert result.errors == []
    assert one_order(woo, ORDER_ID).status == "cancelled"
    assert len(orders_of(woo)) == 1


def test_a_cancellation_on_the_store_cancels_ours_by_webhook(woo: TenantCtx) -> None:
    sync = sync_for(woo)
    cs.receive_webhook(sync, woo.code, "woo", HEADERS, BODY)
    cancelled = fixture_order()
    cancelled.update(status="cancelled", date_modified_gmt="2025-01-17T09:00:00")
    body = json.dumps(cancelled).encode()
    got = cs.receive_webhook(sync, woo.code, "woo", sign(body), body)
    assert got.processed, got.error
    assert one_order(woo, ORDER_ID).status == "cancelled"


# -- stock out --------------------------------------------------------------------------------


def _listings(t: TenantCtx) -> None:
    put_listing(t, "woo", str(VARIATION), KURTA, parent_id=str(PARENT))
    put_listing(t, "woo", str(SIMPLE), SPEAKER)


def test_stock_goes_to_the_variation_and_the_simple_product(woo: TenantCtx, fake: FakeWooCommerce) -> None:
    fake.seed_fixture()
    _listings(woo)
    sync = sync_for(woo)
    result = cs.push_inventory(sync, "woo")
    assert (result.pushed, result.failed) == (2, 0), result.errors
    assert fake.stock_of(VARIATION, parent=PARENT) == 10
    assert fake.stock_of(SIMPLE) == 4
    assert len(fake.server.sent("POST", rf"/wp-json/wc/v3/products/{PARENT}/variations/batch")) == 1
    assert len(fake.server.sent("POST", r"/wp-json/wc/v3/products/batch")) == 1
    assert cs.push_inventory(sync, "woo").pushed == 0  # nothing changed since


def test_a_variation_without_its_parent_id_fails_visibly(woo: TenantCtx, fake: FakeWooCommerce) -> None:
    fake.seed_fixture()
    put_listing(woo, "woo", str(VARIATION), KURTA)  # no parent_id: sent as a product, which it is not
    result = cs.push_inventory(sync_for(woo), "woo")
    assert (result.pushed, result.failed) == (0, 1)
    assert "invalid_id" in result.errors[0]
    assert fake.stock_of(VARIATION, parent=PARENT) == 4


def test_reconciliation_finds_and_corrects_drift(woo: TenantCtx, fake: FakeWooCommerce) -> None:
    fake.seed_fixture()
    _listings(woo)
    sync = sync_for(woo)
    cs.push_inventory(sync, "woo")
    fake.variations[PARENT][VARIATION]["stock_quantity"] = 3  # someone edited it in wp-admin
    report = cs.reconcile(sync, "woo")
    assert report.errors == [] and report.checked == 2 and report.corrected == 1
    assert report.drift == [{"listing_id": str(VARIATION), "sku": KURTA, "channel": 3, "ours": 10}]
    assert fake.stock_of(VARIATION, parent=PARENT) == 10
    assert cs.reconcile(sync, "woo").drift == []


# -- status back ------------------------------------------------------------------------------


def test_a_shipped_order_is_completed_on_the_store(woo: TenantCtx, fake: FakeWooCommerce) -> None:
    fake.seed_fixture()
    sync = sync_for(woo)
    cs.receive_webhook(sync, woo.code, "woo", HEADERS, BODY)
    order = one_order(woo, ORDER_ID)
    ship(woo, order.id, courier="Delhivery", awb="AWB123456789", location="BHW")
    assert cs.push_status(sync, order.id, "shipped", "allocated") == "shipped"
    assert fake.orders[int(ORDER_ID)]["status"] == "completed"
    [note] = fake.notes[int(ORDER_ID)]  # the tracking first, so the "completed" e-mail has it
    assert note["customer_note"] and note["note"] == "Shipped by Delhivery, AWB AWB123456789."
    [put] = fake.server.sent("PUT", rf"/wp-json/wc/v3/orders/{ORDER_ID}")
    assert put.json() == {"status": "completed"}
    [push] = status_pushes(woo, "woo")
    assert push.ok and push.status == "shipped" and push.key == ORDER_ID


def test_a_cancelled_order_is_cancelled_on_the_store(woo: TenantCtx, fake: FakeWooCommerce) -> None:
    fake.seed_fixture()
    sync = sync_for(woo)
    cs.receive_webhook(sync, woo.code, "woo", HEADERS, BODY)
    order = one_order(woo, ORDER_ID)
    with woo.uow() as uow:
        order_actions.cancel_order(uow, order.id, reason="buyer called to cancel")
    assert cs.push_status(sync, order.id, "cancelled", "allocated") == "cancelled"
    assert fake.orders[int(ORDER_ID)]["status"] == "cancelled"
    [push] = status_pushes(woo, "woo")
    assert push.ok and push.status == "cancelled"


def test_a_store_that_is_down_makes_the_status_push_retryable(woo: TenantCtx, fake: FakeWooCommerce) -> None:
    fake.seed_fixture()
    sync = sync_for(woo)
    cs.receive_webhook(sync, woo.code, "woo", HEADERS, BODY)
    order = one_order(woo, ORDER_ID)
    fake.fail(times=10)
    with pytest.raises(cs.ChannelError, match="did not acknowledge"):
        cs.push_status(sync, order.id, "cancelled", "allocated")
    [push] = status_pushes(woo, "woo")
    assert not push.ok and "503" in push.detail
