"""The WooCommerce connector against the shared fixtures and a fake store on 127.0.0.1."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ordermesh.adapters.channels import base
from ordermesh.adapters.channels.base import (
    BadPayload,
    BadSignature,
    ChannelAuthFailed,
    ChannelError,
    ChannelOrder,
    ConnectorConfig,
    Http,
    Listing,
    ListingQuantity,
    StatusUpdate,
)
from ordermesh.adapters.channels.woocommerce import WooCommerceConnector
from ordermesh.domain.statuses import OrderStatus
from tests.fakes.woocommerce import FIXTURES, FakeWooCommerce, fixture_order

BODY = (FIXTURES / "woocommerce_order.json").read_bytes()
HEADERS: dict[str, str] = {
    k: v for k, v in json.loads((FIXTURES / "woocommerce_order.headers.json").read_bytes()).items() if k[0] != "_"
}
SECRET = json.loads((FIXTURES / "woocommerce_order.headers.json").read_bytes())["_test_secret"]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="module")
def store() -> Iterator[FakeWooCommerce]:
    with FakeWooCommerce() as fake:
        yield fake


@pytest.fixture
def shop(store: FakeWooCommerce) -> FakeWooCommerce:
    store.reset()
    store.seed_fixture()
    return store


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def connect(shop: FakeWooCommerce, http: Http, **settings: Any) -> WooCommerceConnector:
    credentials = {**shop.credentials, "webhook_secret": SECRET}
    return WooCommerceConnector(ConnectorConfig(shop.url, credentials, settings), http)


@pytest.fixture
def http(shop: FakeWooCommerce, sleeps: Sleeps) -> Iterator[Http]:
    with Http(shop.url, sleep=sleeps, attempts=3) as client:
        yield client


@pytest.fixture
def woo(shop: FakeWooCommerce, http: Http) -> WooCommerceConnector:
    return connect(shop, http)


def offline(**settings: Any) -> WooCommerceConnector:
    # Parsing and verification make no calls; an unreachable https URL proves it.
    config = ConnectorConfig("https://shop.example.in", {"webhook_secret": SECRET}, settings)
    return WooCommerceConnector(config, Http(config.base_url, client=None))


@pytest.fixture
def parser() -> Iterator[WooCommerceConnector]:
    connector = offline()
    yield connector
    connector.http.close()


def order_total(order: ChannelOrder) -> Decimal:
    return sum((line.unit_price * line.quantity - line.discount for line in order.lines), Decimal(0)) + (
        order.shipping_charge
    )


# -- parsing the fixture ------------------------------------------------------------------------


def test_the_fixture_webhook_parses_field_by_field(parser: WooCommerceConnector) -> None:
    event = parser.parse_webhook(HEADERS, BODY)

    assert event.topic == "order.created"
    assert event.delivery_id == "8c4f3e6a1b2d4e5f9a0b1c2d3e4f5a6b"
    [order] = event.orders
    assert order.external_id == "727"
    assert order.channel_status == "processing"
    assert order.status is OrderStatus.CONFIRMED
    assert order.ready is True
    assert order.placed_at == datetime(2025, 1, 16, 5, 35, 22, tzinfo=UTC)
    assert order.updated_at == datetime(2025, 1, 16, 5, 35, 23, tzinfo=UTC)
    assert order.payment_method == "cod"
    assert order.payment_status == "cod_pending"
    assert order.currency == "INR"
    assert order.customer == {"name": "Anita Demo", "phone": "+919812345678", "email": "anita.demo@example.com"}
    assert order.shipping_address == {
        "name": "Anita Demo",
        "line1": "B-204, Sample Heights, Paud Road",
        "line2": "Kothrud",
        "city": "Pune",
        "state": "MH",
        "pincode": "411038",
        "phone": "+919812345678",
    }
    assert order.billing_address is not None and order.billing_address["pincode"] == "411038"
    kurta, speaker = order.lines
    assert (kurta.listing_id, kurta.seller_sku, kurta.line_id) == ("1207", "KRT-COT-BLU-M", "311")
    assert (kurta.quantity, kurta.unit_price, kurta.discount) == (1, Decimal("1050.00"), Decimal("0.00"))
    assert kurta.title == "Cotton Kurta - Blue, M"
    assert (speaker.listing_id, speaker.seller_sku, speaker.line_id) == ("1305", "SPK-BT-10W-BLK", "312")
    assert (speaker.quantity, speaker.unit_price, speaker.discount) == (1, Decimal("1180.00"), Decimal("0.00"))
    assert order.shipping_charge == Decimal("0.00")
    assert order_total(order) == Decimal("2230.00") == Decimal(fixture_order()["total"])
    assert order.extra["order_id"] == 727 and order.extra["status"] == "processing"
    payload = order.payload(lambda line: line.seller_sku or "")
    assert payload["lines"][0] == {"sku": "KRT-COT-BLU-M", "quantity": 1, "unit_price": "1050.00", "discount": "0.00"}
    assert payload["payment"] == {"method": "cod", "status": "cod_pending"}


def test_coupons_fees_shipping_and_odd_quantities_still_add_up_to_the_order_total(
    parser: WooCommerceConnector,
) -> None:
    order = fixture_order()
    kurta, speaker = order["line_items"]
    # 10% coupon on the kurta, three of them: 3000 + 150 GST before, 2700 + 135 after.
    kurta.update(quantity=3, subtotal="3000.00", subtotal_tax="150.00", total="2700.00", total_tax="135.00")
    # a price that does not divide by the quantity: 104.99 for three
    speaker.update(quantity=3, subtotal="99.99", subtotal_tax="5.00", total="99.99", total_tax="5.00")
    order.update(shipping_total="50.00", shipping_tax="9.00")
    order["fee_lines"] = [{"id": 9, "name": "COD charge", "total": "40.00", "total_tax": "7.20"}]
    order["total"] = "3046.19"  # 2835.00 + 104.99 + 59.00 + 47.20

    [parsed] = parser.parse_page(json.dumps([order]).encode())

    first, second = parsed.lines
    assert (first.unit_price, first.discount) == (Decimal("1050.00"), Decimal("315.00"))
    assert (second.unit_price, second.discount) == (Decimal("35.00"), Decimal("0.01"))
    assert parsed.shipping_charge == Decimal("106.20")
    assert order_total(parsed) == Decimal(order["total"])


def test_a_negative_fee_is_taken_off_the_lines(parser: WooCommerceConnector) -> None:
    order = fixture_order()
    order["fee_lines"] = [{"id": 9, "name": "Loyalty discount", "total": "-100.00", "total_tax": "0.00"}]
    order["total"] = "2130.00"

    [parsed] = parser.parse_page(json.dumps([order]).encode())

    assert parsed.lines[0].discount == Decimal("100.00")
    assert parsed.shipping_charge == Decimal("0.00")
    assert order_total(parsed) == Decimal("2130.00")


def test_prepaid_orders_and_unknown_fields(parser: WooCommerceConnector) -> None:
    order = fixture_order()
    order.update(
        payment_method="razorpay",
        payment_method_title="Credit Card/Debit Card/NetBanking",
        date_paid_gmt="2025-01-16T05:36:00",
        brand_new_field={"x": 1},
    )
    order["shipping"] = {k: "" for k in order["shipping"]}  # no separate shipping address
    order["billing"]["postcode"] = "411 038"
    order["line_items"][0]["variation_id"] = 0
    del order["date_created_gmt"]  # only the store-local time: read in the store's zone (IST by default)

    [parsed] = parser.parse_page(json.dumps([order]).encode())

    assert parsed.payment_method == "prepaid"
    assert parsed.payment_status == "paid"
    assert parsed.shipping_address["line1"] == "B-204, Sample Heights, Paud Road"
    assert parsed.shipping_address["pincode"] == "411038"
    assert parsed.lines[0].listing_id == "1201"
    assert parsed.placed_at == datetime(2025, 1, 16, 5, 35, 22, tzinfo=UTC)


# -- statuses -----------------------------------------------------------------------------------

EXPECTED = {
    "pending": (OrderStatus.PENDING, False),
    "processing": (OrderStatus.CONFIRMED, True),
    "on-hold": (OrderStatus.ON_HOLD, True),
    "completed": (OrderStatus.SHIPPED, True),
    "cancelled": (OrderStatus.CANCELLED, True),
    "refunded": (OrderStatus.CANCELLED, True),
    "failed": (OrderStatus.PENDING, False),
    "trash": (OrderStatus.CANCELLED, True),
    "checkout-draft": (OrderStatus.PENDING, False),
    "draft": (OrderStatus.PENDING, False),
    "auto-draft": (OrderStatus.PENDING, False),
}


def test_the_status_map_covers_exactly_the_documented_words() -> None:
    assert set(WooCommerceConnector.STATUS_MAP) == set(EXPECTED)


@pytest.mark.parametrize(("word", "expected"), EXPECTED.items())
def test_every_status_word(parser: WooCommerceConnector, word: str, expected: tuple[OrderStatus, bool]) -> None:
    order = fixture_order()
    order["status"] = word
    [parsed] = parser.parse_page(json.dumps([order]).encode())
    assert (parsed.status, parsed.ready) == expected
    assert parsed.channel_status == word


def test_an_unknown_status_is_a_bad_payload_naming_it(parser: WooCommerceConnector) -> None:
    order = fixture_order()
    order["status"] = "out-for-delivery"
    with pytest.raises(BadPayload, match="out-for-delivery"):
        parser.parse_page(json.dumps([order]).encode())


def test_custom_statuses_can_be_mapped_in_settings() -> None:
    connector = offline(extra_statuses={"out-for-delivery": "shipped"})
    order = fixture_order()
    order["status"] = "wc-out-for-delivery"
    [parsed] = connector.parse_page(json.dumps([order]).encode())
    assert parsed.status is OrderStatus.SHIPPED
    connector.http.close()


def test_a_refunded_cod_order_and_a_failed_prepaid_one(parser: WooCommerceConnector) -> None:
    refunded, failed = fixture_order(), fixture_order()
    refunded["status"] = "refunded"
    failed.update(status="failed", payment_method="razorpay", id=728)
    first, second = parser.parse_page(json.dumps([refunded, failed]).encode())
    assert first.payment_status == "refunded"
    assert (second.payment_status, second.ready) == ("failed", False)


# -- webhooks -----------------------------------------------------------------------------------


def test_the_fixture_signature_verifies(parser: WooCommerceConnector) -> None:
    parser.verify_webhook(HEADERS, BODY)
    parser.verify_webhook({k.lower(): v for k, v in HEADERS.items()}, BODY)


def test_one_changed_byte_is_a_bad_signature(parser: WooCommerceConnector) -> None:
    tampered = BODY.replace(b'"total": "2230.00"', b'"total": "2230.01"')
    assert tampered != BODY
    with pytest.raises(BadSignature):
        parser.verify_webhook(HEADERS, tampered)
    signature = HEADERS["X-WC-Webhook-Signature"]
    forged = {**HEADERS, "X-WC-Webhook-Signature": ("q" if signature[0] != "q" else "r") + signature[1:]}
    with pytest.raises(BadSignature):
        parser.verify_webhook(forged, BODY)


def test_a_missing_signature_or_secret_is_a_bad_signature(parser: WooCommerceConnector) -> None:
    unsigned = {k: v for k, v in HEADERS.items() if k != "X-WC-Webhook-Signature"}
    with pytest.raises(BadSignature, match="missing"):
        parser.verify_webhook(unsigned, BODY)
    no_secret = WooCommerceConnector(ConnectorConfig("https://shop.example.in", {}), parser.http)
    with pytest.raises(BadSignature, match="webhook_secret"):
        no_secret.verify_webhook(HEADERS, BODY)
    other = WooCommerceConnector(ConnectorConfig("https://shop.example.in", {"webhook_secret": "x"}), parser.http)
    with pytest.raises(BadSignature):
        other.verify_webhook(HEADERS, BODY)


def test_the_ping_sent_when_a_webhook_is_saved_is_an_event_without_orders(parser: WooCommerceConnector) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    parser.verify_webhook(headers, b"webhook_id=12")
    event = parser.parse_webhook(headers, b"webhook_id=12")
    assert event.orders == [] and event.topic == "ping"
    # anything else unsigned is refused
    with pytest.raises(BadSignature):
        parser.verify_webhook(headers, b"webhook_id=12&status=completed")


def test_deleted_orders_and_other_topics_carry_no_orders(parser: WooCommerceConnector) -> None:
    body = b'{"id": 727}'
    headers = {"X-WC-Webhook-Topic": "order.deleted", "X-WC-Webhook-Delivery-ID": "d1"}
    signature = base64.b64encode(hmac.digest(SECRET.encode(), body, hashlib.sha256)).decode()
    parser.verify_webhook({**headers, "X-WC-Webhook-Signature": signature}, body)
    assert parser.parse_webhook(headers, body).orders == []
    product = parser.parse_webhook({"X-WC-Webhook-Topic": "product.updated"}, b'{"id": 1305, "status": "publish"}')
    assert product.orders == []
    trashed = parser.parse_webhook(headers, BODY.replace(b'"status": "processing"', b'"status": "trash"'))
    assert trashed.orders[0].status is OrderStatus.CANCELLED
    with pytest.raises(BadPayload):
        parser.parse_webhook(HEADERS, b"<html>not json</html>")


# -- polling ------------------------------------------------------------------------------------


def make_orders(shop: FakeWooCommerce, count: int, start: datetime, first_id: int = 1000) -> None:
    template = fixture_order()
    for n in range(count):
        order = copy.deepcopy(template)
        stamp = start + timedelta(minutes=n)
        order.update(
            id=first_id + n,
            number=str(first_id + n),
            date_created_gmt=stamp.strftime("%Y-%m-%dT%H:%M:%S"),
            date_modified_gmt=stamp.strftime("%Y-%m-%dT%H:%M:%S"),
            date_modified=(stamp + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S"),
        )
        shop.add_order(order)


def test_polling_pages_through_and_then_only_sees_newer_changes(
    shop: FakeWooCommerce, sleeps: Sleeps, http: Http
) -> None:
    shop.orders.clear()
    start = datetime(2025, 1, 18, 0, 0, tzinfo=UTC)
    make_orders(shop, 230, start)
    woo = connect(shop, http, since="2025-01-17T00:00:00+05:30")

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = woo.fetch_page(cursor)
        pages += 1
        seen += [o.external_id for o in woo.parse_page(page.body)]
        cursor = page.next_cursor
        if not page.more:
            break
    assert pages == 3
    assert seen == [str(1000 + n) for n in range(230)]
    first = shop.requests[0]
    assert first.arg("modified_after") == "2025-01-16T18:30:00"
    assert (first.arg("dates_are_gmt"), first.arg("orderby"), first.arg("order")) == ("true", "modified", "asc")
    assert (first.arg("per_page"), [r.arg("page") for r in shop.requests]) == ("100", ["1", "2", "3"])
    assert first.header("Authorization") == "Basic " + base64.b64encode(b"ck_test_0001:cs_test_0001").decode()

    # the watermark: the newest change seen, less five minutes of overlap
    last = start + timedelta(minutes=229)
    assert json.loads(cursor or "")["since"] == (last - timedelta(minutes=5)).isoformat()
    make_orders(shop, 2, last + timedelta(hours=1), first_id=3000)
    page = woo.fetch_page(cursor)
    ids = [o.external_id for o in woo.parse_page(page.body)]
    assert ids[-2:] == ["3000", "3001"] and len(ids) == 7  # 5 overlapped + 2 new
    assert page.more is False


def test_an_empty_poll_keeps_the_watermark(shop: FakeWooCommerce, woo: WooCommerceConnector) -> None:
    cursor = json.dumps({"since": "2025-02-01T00:00:00+00:00", "page": 1})
    page = woo.fetch_page(cursor)
    assert woo.parse_page(page.body) == [] and page.more is False
    assert json.loads(page.next_cursor or "")["since"] == "2025-02-01T00:00:00+00:00"


def test_the_first_poll_looks_back_seven_days(shop: FakeWooCommerce, woo: WooCommerceConnector) -> None:
    woo.fetch_page(None)
    sent = datetime.fromisoformat(shop.requests[0].arg("modified_after") or "").replace(tzinfo=UTC)
    assert abs(sent - (datetime.now(UTC) - timedelta(days=7))) < timedelta(minutes=1)


def test_query_string_auth(shop: FakeWooCommerce, sleeps: Sleeps, http: Http) -> None:
    woo = connect(shop, http, query_string_auth=True, since="2025-01-01T00:00:00Z")
    [order] = woo.parse_page(woo.fetch_page(None).body)
    assert order.external_id == "727"
    request = shop.requests[-1]
    assert request.header("Authorization") is None
    assert (request.arg("consumer_key"), request.arg("consumer_secret")) == ("ck_test_0001", "cs_test_0001")


def test_throttling_is_waited_out_as_the_store_asks(
    shop: FakeWooCommerce, sleeps: Sleeps, woo: WooCommerceConnector
) -> None:
    shop.throttle(2, retry_after=7)
    page = woo.fetch_page(json.dumps({"since": "2025-01-01T00:00:00+00:00"}))
    assert [o.external_id for o in woo.parse_page(page.body)] == ["727"]
    assert sleeps == [7.0, 7.0]
    assert len(shop.requests) == 3


def test_wrong_credentials_fail_auth(shop: FakeWooCommerce, sleeps: Sleeps, http: Http) -> None:
    config = ConnectorConfig(shop.url, {"consumer_key": "ck_test_0001", "consumer_secret": "wrong"})
    with pytest.raises(ChannelAuthFailed, match="Consumer secret is invalid"):
        WooCommerceConnector(config, http).fetch_page(None)
    assert sleeps == []


def test_plain_http_stores_are_refused() -> None:
    with Http("http://shop.example.in") as client, pytest.raises(ChannelError, match="https"):
        WooCommerceConnector(ConnectorConfig("http://shop.example.in", {}), client)


def test_the_connector_registers_its_type() -> None:
    assert base._REGISTRY["woocommerce"] is WooCommerceConnector


# -- inventory ----------------------------------------------------------------------------------


def test_inventory_is_pushed_in_batches_of_100_per_endpoint(shop: FakeWooCommerce, woo: WooCommerceConnector) -> None:
    for pid in range(2000, 2150):
        shop.add_product(pid, f"SKU-{pid}", stock=1)
    levels = [ListingQuantity(Listing(str(pid), f"SKU-{pid}"), pid % 7) for pid in range(2000, 2150)]
    levels += [
        ListingQuantity(Listing("1207", "KRT-COT-BLU-M", {"parent_id": "1201"}), 11),
        ListingQuantity(Listing("1208", "KRT-COT-BLU-L", {"parent_id": 1201}), -3),
        ListingQuantity(Listing("1305", "SPK-BT-10W-BLK"), 0),
        ListingQuantity(Listing("9999", "GONE"), 5),
        ListingQuantity(Listing("abc", "NOT-A-NUMBER"), 5),
    ]

    outcomes = woo.push_inventory(levels)

    assert [o.key for o in outcomes] == [level.listing.listing_id for level in levels]
    product_batches = shop.server.sent("POST", r"/wp-json/wc/v3/products/batch")
    assert [len(r.json()["update"]) for r in product_batches] == [100, 52]
    [variation_batch] = shop.server.sent("POST", r"/wp-json/wc/v3/products/1201/variations/batch")
    assert variation_batch.json() == {
        "update": [
            {"id": 1207, "manage_stock": True, "stock_quantity": 11},
            {"id": 1208, "manage_stock": True, "stock_quantity": 0},
        ]
    }
    assert all(shop.stock_of(pid) == pid % 7 for pid in range(2000, 2150))
    assert (shop.stock_of(1207, 1201), shop.stock_of(1208, 1201), shop.stock_of(1305)) == (11, 0, 0)
    assert all(o.ok for o in outcomes[:-2])
    gone, bad = outcomes[-2:]
    assert not gone.ok and "woocommerce_rest_product_invalid_id" in gone.detail and not gone.retryable
    assert not bad.ok and "abc" not in json.dumps([r.json() for r in product_batches])


def test_a_failing_batch_fails_its_listings_as_retryable(shop: FakeWooCommerce, woo: WooCommerceConnector) -> None:
    shop.fail(3, status=503)
    [outcome] = woo.push_inventory([ListingQuantity(Listing("1305"), 4)])
    assert (outcome.ok, outcome.retryable) == (False, True)
    assert shop.stock_of(1305) == 9


def test_read_inventory(shop: FakeWooCommerce, woo: WooCommerceConnector) -> None:
    shop.add_product(1400, "UNMANAGED", stock=None)
    levels = woo.read_inventory(
        [
            Listing("1207", attributes={"parent_id": "1201"}),
            Listing("1208", attributes={"parent_id": "1201"}),
            Listing("1305"),
            Listing("1400"),
        ]
    )
    assert levels == {"1207": 4, "1208": 2, "1305": 9}
    [products] = shop.server.sent("GET", r"/wp-json/wc/v3/products")
    assert (products.arg("include"), products.arg("per_page")) == ("1305,1400", "100")
    [variations] = shop.server.sent("GET", r"/wp-json/wc/v3/products/1201/variations")
    assert variations.arg("include") == "1207,1208"


# -- status -------------------------------------------------------------------------------------

SHIPPED = StatusUpdate(
    "727",
    OrderStatus.SHIPPED,
    carrier="Delhivery",
    tracking_number="1490811234567",
    tracking_url="https://www.delhivery.com/track/package/1490811234567",
)


def test_shipped_adds_a_customer_note_then_completes(shop: FakeWooCommerce, woo: WooCommerceConnector) -> None:
    outcome = woo.push_status(SHIPPED)
    assert outcome.ok, outcome.detail
    [note] = shop.notes[727]
    assert note["customer_note"] is True
    assert "Delhivery" in note["note"] and "1490811234567" in note["note"]
    assert shop.orders[727]["status"] == "completed"
    calls = [(r.method, r.path) for r in shop.requests]
    assert calls == [("POST", "/wp-json/wc/v3/orders/727/notes"), ("PUT", "/wp-json/wc/v3/orders/727")]


def test_shipped_with_the_shipment_tracking_extension(shop: FakeWooCommerce, sleeps: Sleeps, http: Http) -> None:
    woo = connect(shop, http, shipment_tracking=True)
    assert woo.push_status(SHIPPED).ok
    [item] = shop.trackings[727]
    assert item["sent"] == {
        "tracking_number": "1490811234567",
        "custom_tracking_provider": "Delhivery",
        "custom_tracking_link": "https://www.delhivery.com/track/package/1490811234567",
    }
    assert shop.orders[727]["status"] == "completed" and 727 not in shop.notes
    no_link = StatusUpdate("727", OrderStatus.SHIPPED, carrier="DTDC", tracking_number="D123")
    assert woo.push_status(no_link).ok
    assert shop.trackings[727][1]["sent"] == {"tracking_number": "D123", "tracking_provider": "DTDC"}


def test_cancelled(shop: FakeWooCommerce, woo: WooCommerceConnector) -> None:
    outcome = woo.push_status(StatusUpdate("727", OrderStatus.CANCELLED, reason="buyer asked"))
    assert outcome.ok
    assert shop.orders[727]["status"] == "cancelled"
    assert shop.notes[727][0]["note"] == "Cancelled: buyer asked" and shop.notes[727][0]["customer_note"] is False


def test_confirmed_releases_only_an_on_hold_order(shop: FakeWooCommerce, woo: WooCommerceConnector) -> None:
    outcome = woo.push_status(StatusUpdate("727", OrderStatus.CONFIRMED, extra={"status": "processing"}))
    assert outcome.ok and "not on-hold" in outcome.detail
    assert shop.requests == []

    shop.orders[727]["status"] = "on-hold"
    outcome = woo.push_status(StatusUpdate("727", OrderStatus.CONFIRMED, extra={"status": "on-hold"}))
    assert outcome.ok and shop.orders[727]["status"] == "processing"
    assert [r.method for r in shop.requests] == ["GET", "PUT"]


def test_status_push_failures_are_outcomes(shop: FakeWooCommerce, woo: WooCommerceConnector) -> None:
    missing = woo.push_status(StatusUpdate("4040", OrderStatus.CANCELLED))
    assert (missing.ok, missing.retryable) == (False, False) and "Invalid ID" in missing.detail
    shop.fail(3)
    down = woo.push_status(StatusUpdate("727", OrderStatus.CANCELLED))
    assert (down.ok, down.retryable) == (False, True)
    odd = woo.push_status(StatusUpdate("727", OrderStatus.RTO))
    assert not odd.ok and "rto" in odd.detail
