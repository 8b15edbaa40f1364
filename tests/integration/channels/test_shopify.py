"""The Shopify connector against the shared fixture order and a fake GraphQL Admin API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from ordermesh.adapters.channels.base import (
    BadPayload,
    BadSignature,
    ChannelAuthFailed,
    ChannelLine,
    ChannelOrder,
    ChannelRejected,
    ChannelUnavailable,
    ConnectorConfig,
    Http,
    Listing,
    ListingQuantity,
    StatusUpdate,
    make_connector,
)
from ordermesh.adapters.channels.shopify import STATUS_MAP, ShopifyConnector, decide_status, is_cod
from ordermesh.domain.statuses import OrderStatus
from tests.fakes.shopify import (
    ACCESS_TOKEN,
    LOCATION,
    OTHER_LOCATION,
    WEBHOOK_SECRET,
    FakeShopify,
    fixture_bytes,
    fixture_json,
    graphql_order,
    inventory_item_of,
    order_variant,
    webhook_headers,
)

IST = timezone(timedelta(hours=5, minutes=30))
FIXTURE = "shopify_orders_create.json"
ORDER_ID = "5812345678901"
SINCE = "2025-01-01T00:00:00Z"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake() -> Iterator[FakeShopify]:
    with FakeShopify() as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def connector(
    url: str, sleeps: Sleeps, *, token: str = ACCESS_TOKEN, attempts: int = 4, **settings: Any
) -> tuple[ShopifyConnector, Http]:
    config = ConnectorConfig(
        base_url=url,
        credentials={"access_token": token, "webhook_secret": WEBHOOK_SECRET},
        settings={"location_id": LOCATION, "since": SINCE, **settings},
    )
    http = Http(url, sleep=sleeps, attempts=attempts, backoff=0.25)
    return ShopifyConnector(config, http), http


@pytest.fixture
def shop(fake: FakeShopify, sleeps: Sleeps) -> Iterator[ShopifyConnector]:
    conn, http = connector(fake.url, sleeps)
    with http:
        yield conn


def offline() -> ShopifyConnector:
    """A connector for parsing and signatures only (nothing is sent)."""
    config = ConnectorConfig("http://127.0.0.1:9", {"access_token": "x", "webhook_secret": WEBHOOK_SECRET})
    return ShopifyConnector(config, Http("http://127.0.0.1:9"))


@pytest.fixture
def parser() -> Iterator[ShopifyConnector]:
    conn = offline()
    yield conn
    conn.http.close()


def webhook(parser: ShopifyConnector, rest: dict[str, Any], topic: str = "orders/updated") -> ChannelOrder:
    event = parser.parse_webhook({"X-Shopify-Topic": topic}, json.dumps(rest).encode())
    assert len(event.orders) == 1
    return event.orders[0]


def page_of(*nodes: dict[str, Any]) -> bytes:
    return json.dumps(
        {"data": {"orders": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": list(nodes)}}}
    ).encode()


# -- the fixture webhook ---------------------------------------------------------------------------


def test_fixture_webhook_verifies_and_parses_field_by_field(parser: ShopifyConnector) -> None:
    body, headers = fixture_bytes(FIXTURE), webhook_headers()
    parser.verify_webhook(headers, body)
    event = parser.parse_webhook(headers, body)
    assert event.topic == "orders/create"
    assert event.delivery_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    [order] = event.orders
    assert order.external_id == ORDER_ID
    assert (order.channel_status, order.status, order.ready) == ("unfulfilled", OrderStatus.CONFIRMED, True)
    assert (order.payment_method, order.payment_status) == ("cod", "cod_pending")
    assert order.placed_at == datetime(2025, 1, 15, 14, 32, 10, tzinfo=IST)
    assert order.updated_at == datetime(2025, 1, 15, 9, 2, 11, tzinfo=UTC)
    assert order.customer == {"name": "Priya Testuser", "phone": "+919845012345", "email": "priya.testuser@example.com"}
    assert order.shipping_address == {
        "name": "Priya Testuser",
        "line1": "Flat 12B, Example Residency, 4th Cross",
        "line2": "Indiranagar",
        "city": "Bengaluru",
        "state": "KA",
        "pincode": "560038",
        "phone": "+919845012345",
    }
    assert order.billing_address == order.shipping_address
    assert order.lines == [
        ChannelLine(
            listing_id="44012345678901",
            seller_sku="KRT-COT-BLU-M",
            quantity=2,
            unit_price=Decimal("899.00"),
            discount=Decimal("0.00"),
            title="Cotton Kurta - Blue / M",
            line_id="14012345678901",
        ),
        ChannelLine(
            listing_id="44012345678902",
            seller_sku="SPK-BT-10W-BLK",
            quantity=1,
            unit_price=Decimal("1499.00"),
            discount=Decimal("0.00"),
            title="Bluetooth Speaker 10W - Black",
            line_id="14012345678902",
        ),
    ]
    assert order.shipping_charge == Decimal("0.00")
    assert sum(line.unit_price * line.quantity - line.discount for line in order.lines) + order.shipping_charge == (
        Decimal("3297.00")
    )
    assert order.currency == "INR"
    assert (order.tags, order.notes) == ([], None)
    assert order.extra["order_gid"] == "gid://shopify/Order/5812345678901"
    assert order.extra["name"] == "#1042"
    assert order.extra["total_price"] == "3297.00"


def test_fixture_order_payload_is_what_the_orders_api_takes(parser: ShopifyConnector) -> None:
    order = webhook(parser, fixture_json(FIXTURE), "orders/create")
    body = order.payload(lambda line: line.seller_sku or "?")
    assert body["external_id"] == ORDER_ID
    assert body["payment"] == {"method": "cod", "status": "cod_pending"}
    assert body["lines"] == [
        {"sku": "KRT-COT-BLU-M", "quantity": 2, "unit_price": "899.00", "discount": "0.00"},
        {"sku": "SPK-BT-10W-BLK", "quantity": 1, "unit_price": "1499.00", "discount": "0.00"},
    ]
    assert body["shipping_address"]["pincode"] == "560038"
    assert body["shipping_charge"] == "0.00"


def test_signature_with_one_byte_changed_is_refused(parser: ShopifyConnector) -> None:
    body = bytearray(fixture_bytes(FIXTURE))
    at = body.index(b"3297.00")
    body[at] = ord("4")
    with pytest.raises(BadSignature):
        parser.verify_webhook(webhook_headers(), bytes(body))


def test_signature_missing_or_wrong_is_refused(parser: ShopifyConnector) -> None:
    body, headers = fixture_bytes(FIXTURE), webhook_headers()
    without = {k: v for k, v in headers.items() if k != "X-Shopify-Hmac-Sha256"}
    with pytest.raises(BadSignature, match="no X-Shopify-Hmac-Sha256"):
        parser.verify_webhook(without, body)
    with pytest.raises(BadSignature):
        parser.verify_webhook({**headers, "X-Shopify-Hmac-Sha256": "AAAA" + headers["X-Shopify-Hmac-Sha256"][4:]}, body)
    with pytest.raises(BadSignature):  # hex of the right digest is not what Shopify sends
        parser.verify_webhook({**headers, "X-Shopify-Hmac-Sha256": "0" * 64}, body)
    other = ShopifyConnector(ConnectorConfig("http://x", {"webhook_secret": "another-secret"}), parser.http)
    with pytest.raises(BadSignature):
        other.verify_webhook(headers, body)
    lower = {k.lower(): v for k, v in headers.items()}  # header names in any case
    parser.verify_webhook(lower, body)


def test_webhook_topics(parser: ShopifyConnector) -> None:
    cancelled = order_variant(fixture_json(FIXTURE), cancelled_at="2025-01-16T10:00:00+05:30", cancel_reason="customer")
    order = webhook(parser, cancelled, "orders/cancelled")
    assert (order.channel_status, order.status, order.ready) == ("cancelled", OrderStatus.CANCELLED, True)
    with pytest.raises(BadPayload, match="products/update"):
        parser.parse_webhook({"X-Shopify-Topic": "products/update"}, fixture_bytes(FIXTURE))
    deleted = parser.parse_webhook({"X-Shopify-Topic": "orders/delete"}, b'{"id": 450789469}')
    [gone] = deleted.orders
    assert (gone.external_id, gone.channel_status, gone.status, gone.lines) == (
        "450789469",
        "deleted",
        OrderStatus.CANCELLED,
        [],
    )
    for bad in (b"{}", b'{"id": null}', b'{"id": true}', b"[450789469]"):
        with pytest.raises(BadPayload, match="no order id"):
            parser.parse_webhook({"X-Shopify-Topic": "orders/delete"}, bad)
    with pytest.raises(BadPayload, match="not valid JSON"):
        parser.parse_webhook({"X-Shopify-Topic": "orders/create"}, b"{not json")


def test_poll_and_webhook_agree_on_the_same_order(fake: FakeShopify, shop: ShopifyConnector) -> None:
    fake.seed_fixture()
    page = shop.fetch_page(None)
    [polled] = shop.parse_page(page.body)
    hooked = webhook(shop, fixture_json(FIXTURE), "orders/create")
    for name in (
        "external_id",
        "channel_status",
        "status",
        "placed_at",
        "customer",
        "shipping_address",
        "billing_address",
        "payment_method",
        "payment_status",
        "lines",
        "shipping_charge",
        "currency",
        "tags",
        "ready",
        "updated_at",
    ):
        assert getattr(polled, name) == getattr(hooked, name), name
    assert polled.extra["inventory_items"] == {
        "44012345678901": "gid://shopify/InventoryItem/46012345678901",
        "44012345678902": "gid://shopify/InventoryItem/46012345678902",
    }
    [(op, variables)] = fake.operations
    assert op == "orders"
    assert variables["query"] == "updated_at:>='2025-01-01T00:00:00Z'"
    sent = fake.server.requests[0]
    assert sent.path == "/admin/api/2024-10/graphql.json"
    assert sent.header("X-Shopify-Access-Token") == ACCESS_TOKEN
    assert "sortKey: UPDATED_AT" in sent.json()["query"]


def test_taxes_excluded_store_folds_tax_into_unit_price(parser: ShopifyConnector) -> None:
    order = webhook(parser, order_variant(fixture_json(FIXTURE), taxes_included=False))
    assert order.lines[0].unit_price == Decimal("941.81")  # (2 × 899 + 85.62) / 2
    assert order.lines[1].unit_price == Decimal("1727.66")  # 1499 + 228.66


def test_discounts_and_tags_and_note(parser: ShopifyConnector) -> None:
    rest = fixture_json(FIXTURE)
    rest["line_items"][0]["discount_allocations"] = [{"amount": "100.00", "discount_application_index": 0}]
    rest["tags"] = "wholesale, priority"
    rest["note"] = "Leave at the gate"
    order = webhook(parser, rest)
    assert order.lines[0].discount == Decimal("100.00")
    assert order.tags == ["wholesale", "priority"]
    assert order.notes == "Leave at the gate"
    node = graphql_order(rest)
    [polled] = parser.parse_page(page_of(node))
    assert polled.lines[0].discount == Decimal("100.00")
    assert polled.tags == ["wholesale", "priority"]


# -- status words, COD, readiness ------------------------------------------------------------------

# word -> (financial_status, fulfillment_status, cancelled, COD)
CASES: dict[str, tuple[str, str | None, bool, bool]] = {
    "cancelled": ("paid", None, True, False),
    "pending": ("pending", None, False, False),
    "authorized": ("authorized", None, False, False),
    "partially_paid": ("partially_paid", None, False, False),
    "paid": ("paid", None, False, False),
    "partially_refunded": ("partially_refunded", None, False, False),
    "refunded": ("refunded", None, False, False),
    "voided": ("voided", None, False, False),
    "expired": ("expired", None, False, False),
    "unfulfilled": ("pending", None, False, True),
    "open": ("pending", "open", False, True),
    "scheduled": ("paid", "scheduled", False, False),
    "on_hold": ("pending", "on_hold", False, True),
    "request_declined": ("paid", "request_declined", False, False),
    "in_progress": ("paid", "in_progress", False, False),
    "pending_fulfillment": ("paid", "pending_fulfillment", False, False),
    "partial": ("paid", "partial", False, False),
    "partially_fulfilled": ("pending", "partially_fulfilled", False, True),
    "fulfilled": ("paid", "fulfilled", False, False),
    "restocked": ("refunded", "restocked", False, False),
    "fulfillment_not_required": ("paid", "fulfillment_not_required", False, False),
}


def test_every_status_word_has_a_case() -> None:
    assert set(CASES) == set(STATUS_MAP)


@pytest.mark.parametrize("word", sorted(STATUS_MAP))
def test_status_word_in_webhook_and_poll(parser: ShopifyConnector, word: str) -> None:
    financial, fulfillment, cancelled, cod = CASES[word]
    rest = order_variant(
        fixture_json(FIXTURE),
        financial_status=financial,
        fulfillment_status=fulfillment,
        cancelled_at="2025-01-16T10:00:00+05:30" if cancelled else None,
        payment_gateway_names=["Cash on Delivery (COD)"] if cod else ["razorpay"],
    )
    expected = STATUS_MAP[word]
    hooked = webhook(parser, rest)
    assert (hooked.channel_status, hooked.status) == (word, expected)
    assert hooked.ready is (expected is not OrderStatus.PENDING)
    node = graphql_order(rest)
    node["displayFinancialStatus"] = financial.upper()
    node["displayFulfillmentStatus"] = (fulfillment or "unfulfilled").upper()
    [polled] = parser.parse_page(page_of(node))
    assert (polled.channel_status, polled.status, polled.ready) == (word, expected, hooked.ready)


@pytest.mark.parametrize(
    ("financial", "fulfillment", "message"),
    [("teleported", None, "financial status 'teleported'"), ("paid", "beamed_up", "fulfilment status 'beamed_up'")],
)
def test_unknown_status_word_is_bad_payload_naming_it(
    parser: ShopifyConnector, financial: str, fulfillment: str | None, message: str
) -> None:
    rest = order_variant(fixture_json(FIXTURE), financial_status=financial, fulfillment_status=fulfillment)
    with pytest.raises(BadPayload, match=message):
        webhook(parser, rest)


@pytest.mark.parametrize(
    ("gateways", "cod"),
    [
        (["Cash on Delivery (COD)"], True),
        (["COD"], True),
        (["cash on delivery"], True),
        (["gokwik_cod"], True),
        (["razorpay", "Cash on Delivery (COD)"], True),
        (["Razorpay Secure (UPI, Cards, Wallets, NetBanking)"], False),
        (["shopify_payments"], False),
        (["Cashfree Payments"], False),
        (["codexpay"], False),
        ([], False),
    ],
)
def test_cod_detection(gateways: list[str], cod: bool) -> None:
    assert is_cod(gateways) is cod


@pytest.mark.parametrize(
    ("financial", "gateway", "ready", "payment_status"),
    [
        ("pending", "Cash on Delivery (COD)", True, "cod_pending"),
        ("paid", "Cash on Delivery (COD)", True, "cod_collected"),
        ("pending", "razorpay", False, "pending"),
        ("pending", "Bank Deposit", False, "pending"),
        ("authorized", "razorpay", True, "authorized"),
        ("paid", "razorpay", True, "paid"),
        ("expired", "razorpay", False, "failed"),
        ("voided", "razorpay", True, "failed"),
    ],
)
def test_readiness_and_payment_status(
    parser: ShopifyConnector, financial: str, gateway: str, ready: bool, payment_status: str
) -> None:
    rest = order_variant(fixture_json(FIXTURE), financial_status=financial, payment_gateway_names=[gateway])
    order = webhook(parser, rest)
    assert (order.ready, order.payment_status) == (ready, payment_status)
    assert order.payment_method == ("cod" if "COD" in gateway else "prepaid")


def test_decide_status_keeps_shipped_word_over_payment() -> None:
    # A prepaid order shipped before payment completed is still shipped.
    assert decide_status(cancelled=False, financial="pending", fulfillment="fulfilled", cod=False) == (
        "fulfilled",
        OrderStatus.SHIPPED,
    )
    # A refund before anything shipped stops it, even when on hold.
    assert decide_status(cancelled=False, financial="refunded", fulfillment="on_hold", cod=False) == (
        "refunded",
        OrderStatus.CANCELLED,
    )


def test_bad_pages(parser: ShopifyConnector) -> None:
    with pytest.raises(BadPayload):
        parser.parse_page(b"<html>")
    with pytest.raises(BadPayload, match=r"data\.orders"):
        parser.parse_page(b'{"data": {}}')
    node = graphql_order(fixture_json(FIXTURE))
    del node["createdAt"]
    with pytest.raises(BadPayload, match="created_at is missing"):
        parser.parse_page(page_of(node))
    node = graphql_order(fixture_json(FIXTURE))
    node["lineItems"]["nodes"][0]["quantity"] = "two"
    with pytest.raises(BadPayload, match="quantity"):
        parser.parse_page(page_of(node))


def test_deleted_variant_keeps_the_sku(parser: ShopifyConnector) -> None:
    rest = fixture_json(FIXTURE)
    rest["line_items"][1]["variant_id"] = None
    order = webhook(parser, rest)
    assert order.lines[1].listing_id == "line_item:14012345678902"
    assert order.lines[1].seller_sku == "SPK-BT-10W-BLK"


# -- polling ---------------------------------------------------------------------------------------


def seed_many(fake: FakeShopify, count: int) -> list[str]:
    base = fixture_json(FIXTURE)
    ids = []
    start = datetime(2025, 2, 1, 10, 0, tzinfo=UTC)
    for k in range(count):
        order_id = 6000000000000 + k
        stamp = (start + timedelta(minutes=10 * k)).isoformat()
        fake.add_rest_order(order_variant(base, id=order_id, updated_at=stamp, created_at=stamp))
        ids.append(str(order_id))
    return ids


def test_pagination_across_pages_then_watermark(fake: FakeShopify, sleeps: Sleeps) -> None:
    ids = seed_many(fake, 5)
    conn, http = connector(fake.url, sleeps, page_size=2)
    with http:
        seen, cursor, pages = [], None, 0
        while True:
            page = conn.fetch_page(cursor)
            pages += 1
            seen += [o.external_id for o in conn.parse_page(page.body)]
            cursor = page.next_cursor
            if not page.more:
                break
        assert (pages, seen) == (3, ids)
        afters = [variables["after"] for _, variables in fake.operations]
        assert afters[0] is None and afters[1] and afters[2] and afters[1] != afters[2]
        assert all(v["first"] == 2 and v["query"] == "updated_at:>='2025-01-01T00:00:00Z'" for _, v in fake.operations)
        # The watermark: the newest update (10:40) less the 2-minute overlap.
        assert cursor is not None and json.loads(cursor)["since"] == "2025-02-01T10:38:00Z"
        again = conn.fetch_page(cursor)
        assert [o.external_id for o in conn.parse_page(again.body)] == [ids[-1]]  # the overlap
        assert not again.more
        newer = order_variant(fixture_json(FIXTURE), id=7000000000001, updated_at="2025-02-01T11:30:00+00:00")
        fake.add_rest_order(newer)
        latest = conn.fetch_page(again.next_cursor)
        assert [o.external_id for o in conn.parse_page(latest.body)] == [ids[-1], "7000000000001"]
        assert json.loads(latest.next_cursor or "")["since"] == "2025-02-01T11:28:00Z"


def test_empty_poll_keeps_the_watermark(fake: FakeShopify, shop: ShopifyConnector) -> None:
    page = shop.fetch_page(None)
    assert shop.parse_page(page.body) == []
    assert not page.more
    assert json.loads(page.next_cursor or "")["since"] == "2025-01-01T00:00:00Z"


def test_first_poll_without_since_looks_back_seven_days(fake: FakeShopify, sleeps: Sleeps) -> None:
    conn, http = connector(fake.url, sleeps, since=None)
    with http:
        conn.fetch_page(None)
    [(_, variables)] = fake.operations
    since = datetime.fromisoformat(variables["query"].split("'")[1].replace("Z", "+00:00"))
    assert abs(since - (datetime.now(UTC) - timedelta(days=7))) < timedelta(minutes=1)


def test_bad_cursor_is_bad_payload(shop: ShopifyConnector) -> None:
    with pytest.raises(BadPayload, match="cursor"):
        shop.fetch_page("page-2")


def test_graphql_throttle_waits_for_the_bucket(fake: FakeShopify, shop: ShopifyConnector, sleeps: Sleeps) -> None:
    fake.seed_fixture()
    fake.throttle(2, requested=252, available=52, restore=50)
    page = shop.fetch_page(None)
    assert [o.external_id for o in shop.parse_page(page.body)] == [ORDER_ID]
    assert sleeps == [4.0, 4.0]  # (252 - 52) / 50
    assert len(fake.server.requests) == 3


def test_graphql_throttle_beyond_patience_is_unavailable(fake: FakeShopify, shop: ShopifyConnector) -> None:
    fake.throttle(4, requested=100, available=0, restore=100)
    with pytest.raises(ChannelUnavailable, match="throttled"):
        shop.fetch_page(None)


def test_http_429_honours_retry_after(fake: FakeShopify, shop: ShopifyConnector, sleeps: Sleeps) -> None:
    fake.seed_fixture()
    fake.fail(429, retry_after="2.0")
    page = shop.fetch_page(None)
    assert len(shop.parse_page(page.body)) == 1
    assert sleeps == [2.0]


def test_server_errors_exhaust_into_unavailable(fake: FakeShopify, shop: ShopifyConnector, sleeps: Sleeps) -> None:
    fake.fail(503, times=4)
    with pytest.raises(ChannelUnavailable):
        shop.fetch_page(None)
    assert len(sleeps) == 3


def test_wrong_token_is_auth_failure(fake: FakeShopify, sleeps: Sleeps) -> None:
    conn, http = connector(fake.url, sleeps, token="shpat_wrong")
    with http, pytest.raises(ChannelAuthFailed, match="Invalid API key"):
        conn.fetch_page(None)
    assert sleeps == []


def test_wrong_api_version_is_rejected(fake: FakeShopify, sleeps: Sleeps) -> None:
    conn, http = connector(fake.url, sleeps, api_version="2023-01")
    with http, pytest.raises(ChannelRejected, match="HTTP 404"):
        conn.fetch_page(None)


# -- inventory -------------------------------------------------------------------------------------


def test_push_inventory_in_batches_of_250(fake: FakeShopify, shop: ShopifyConnector) -> None:
    levels = []
    for k in range(260):
        item = f"gid://shopify/InventoryItem/{47000000000000 + k}"
        fake.stock(item, available=1)
        ref = item if k % 2 else item.rsplit("/", 1)[1]  # gid or numeric, both taken
        levels.append(ListingQuantity(Listing(str(45000000000000 + k), f"SKU-{k}", {"inventory_item_id": ref}), k))
    outcomes = shop.push_inventory(levels)
    assert [o.key for o in outcomes] == [lv.listing.listing_id for lv in levels]
    assert all(o.ok for o in outcomes)
    assert [len(i["quantities"]) for i in fake.inventory_inputs] == [250, 10]
    for sent in fake.inventory_inputs:
        assert (sent["name"], sent["reason"], sent["ignoreCompareQuantity"]) == ("available", "correction", True)
        assert {q["locationId"] for q in sent["quantities"]} == {LOCATION}
    assert fake.available("gid://shopify/InventoryItem/47000000000000") == 0
    assert fake.available("gid://shopify/InventoryItem/47000000000259") == 259


def test_push_inventory_fixture_quantity(fake: FakeShopify, shop: ShopifyConnector) -> None:
    sample = fixture_json("shopify_inventory_levels_set.json")["request"]
    item = f"gid://shopify/InventoryItem/{sample['inventory_item_id']}"
    location = f"gid://shopify/Location/{sample['location_id']}"
    fake.stock(item, location, 3)
    listing = Listing("44012345678901", "KRT-COT-BLU-M", {"inventory_item_id": sample["inventory_item_id"]})
    [outcome] = shop.push_inventory([ListingQuantity(listing, sample["available"])])
    assert outcome.ok, outcome.detail
    assert fake.available(item, location) == 25
    assert shop.read_inventory([listing]) == {"44012345678901": 25}


def test_push_inventory_user_errors_fail_only_their_listing(fake: FakeShopify, shop: ShopifyConnector) -> None:
    good = [inventory_item_of(44012345678901), inventory_item_of(44012345678902)]
    for item in good:
        fake.stock(item, available=5)
    levels = [
        ListingQuantity(Listing("44012345678901", None, {"inventory_item_id": good[0]}), 7),
        ListingQuantity(Listing("49999999999999", None, {"inventory_item_id": "49999999999999"}), 3),
        ListingQuantity(Listing("44012345678902", None, {"inventory_item_id": good[1]}), 0),
        ListingQuantity(Listing("45555555555555", None, {}), 1),
    ]
    outcomes = shop.push_inventory(levels)
    assert [(o.key, o.ok) for o in outcomes] == [
        ("44012345678901", True),
        ("49999999999999", False),
        ("44012345678902", True),
        ("45555555555555", False),
    ]
    assert "INVALID_INVENTORY_ITEM" in outcomes[1].detail and not outcomes[1].retryable
    assert "inventory_item_id" in outcomes[3].detail
    # Shopify applies a batch all or nothing: the two good ones went again on their own.
    assert [len(i["quantities"]) for i in fake.inventory_inputs] == [3, 2]
    assert (fake.available(good[0]), fake.available(good[1])) == (7, 0)


def test_push_inventory_without_location(fake: FakeShopify, sleeps: Sleeps) -> None:
    conn, http = connector(fake.url, sleeps, location_id=None)
    with http:
        [outcome] = conn.push_inventory([ListingQuantity(Listing("1", None, {"inventory_item_id": "2"}), 1)])
    assert not outcome.ok and "location_id" in outcome.detail
    assert fake.inventory_inputs == []


def test_push_inventory_throttled_then_applied(fake: FakeShopify, shop: ShopifyConnector, sleeps: Sleeps) -> None:
    item = inventory_item_of(44012345678901)
    fake.stock(item, available=0)
    fake.throttle(1, requested=10, available=0, restore=100)
    [outcome] = shop.push_inventory([ListingQuantity(Listing("44012345678901", None, {"inventory_item_id": item}), 9)])
    assert outcome.ok
    assert sleeps == [0.5]  # 0.1 s needed, never sooner than half a second
    assert fake.available(item) == 9


def test_read_inventory(fake: FakeShopify, shop: ShopifyConnector) -> None:
    fake.stock("gid://shopify/InventoryItem/1001", available=12)
    fake.stock("gid://shopify/InventoryItem/1002", available=0)
    fake.stock("gid://shopify/InventoryItem/1003", OTHER_LOCATION, 8)  # not at our location
    listings = [
        Listing("2001", None, {"inventory_item_id": "1001"}),
        Listing("2002", None, {"inventory_item_id": "gid://shopify/InventoryItem/1002"}),
        Listing("2003", None, {"inventory_item_id": "1003"}),
        Listing("2004", None, {"inventory_item_id": "1004"}),  # unknown to Shopify
        Listing("2005", None, {}),
        Listing("2006", None, {"inventory_item_id": "1003", "location_id": OTHER_LOCATION}),
    ]
    assert shop.read_inventory(listings) == {"2001": 12, "2002": 0, "2006": 8}
    [(_, first), (_, second)] = fake.operations
    assert first["locationId"] == LOCATION and len(first["ids"]) == 4
    assert second == {"ids": ["gid://shopify/InventoryItem/1003"], "locationId": OTHER_LOCATION}


# -- status push-back ------------------------------------------------------------------------------


def shipped(**kwargs: Any) -> StatusUpdate:
    return StatusUpdate(
        external_id=ORDER_ID,
        status=OrderStatus.SHIPPED,
        carrier="Delhivery",
        tracking_number="1234567890123",
        tracking_url="https://www.delhivery.com/track/package/1234567890123",
        **kwargs,
    )


def test_shipped_creates_fulfilment_with_tracking(fake: FakeShopify, shop: ShopifyConnector) -> None:
    fake.seed_fixture()
    outcome = shop.push_status(shipped())
    assert outcome.ok and outcome.key == ORDER_ID, outcome.detail
    [fulfillment] = fake.fulfillments
    assert fulfillment["trackingInfo"] == {
        "company": "Delhivery",
        "number": "1234567890123",
        "url": "https://www.delhivery.com/track/package/1234567890123",
    }
    assert fulfillment["notifyCustomer"] is True
    assert sorted(fulfillment["lineItems"]) == [
        ("gid://shopify/LineItem/14012345678901", 2),
        ("gid://shopify/LineItem/14012345678902", 1),
    ]
    assert fulfillment["id"] in outcome.detail
    assert fake.ops() == ["order", "fulfillmentCreate"]
    assert fake.operations[0][1] == {"id": "gid://shopify/Order/5812345678901"}
    # The next poll sees it shipped; pushing again sends nothing.
    [order] = shop.parse_page(shop.fetch_page(None).body)
    assert (order.channel_status, order.status) == ("fulfilled", OrderStatus.SHIPPED)
    again = shop.push_status(shipped())
    assert again.ok and "already fulfilled" in again.detail
    assert len(fake.fulfillments) == 1


def test_shipped_some_lines_is_a_partial_fulfilment(fake: FakeShopify, shop: ShopifyConnector) -> None:
    fake.seed_fixture()
    line = ChannelLine("44012345678901", "KRT-COT-BLU-M", 1, Decimal("899.00"), line_id="14012345678901")
    outcome = shop.push_status(shipped(lines=[line]))
    assert outcome.ok, outcome.detail
    assert fake.fulfillments[0]["lineItems"] == [("gid://shopify/LineItem/14012345678901", 1)]
    [order] = shop.parse_page(shop.fetch_page(None).body)
    assert (order.channel_status, order.status) == ("partially_fulfilled", OrderStatus.PARTIALLY_SHIPPED)


def test_shipped_from_two_locations_makes_one_fulfilment_each(fake: FakeShopify, shop: ShopifyConnector) -> None:
    fake.add_rest_order(fixture_json(FIXTURE), locations={1: OTHER_LOCATION})
    outcome = shop.push_status(shipped())
    assert outcome.ok, outcome.detail
    assert fake.ops() == ["order", "fulfillmentCreate", "fulfillmentCreate"]
    assert [f["lineItems"] for f in fake.fulfillments] == [
        [("gid://shopify/LineItem/14012345678901", 2)],
        [("gid://shopify/LineItem/14012345678902", 1)],
    ]


def test_shipped_unknown_order_fails(fake: FakeShopify, shop: ShopifyConnector) -> None:
    outcome = shop.push_status(StatusUpdate("5000000000000", OrderStatus.SHIPPED, tracking_number="X1"))
    assert not outcome.ok and "no such order" in outcome.detail
    assert fake.fulfillments == []


def test_cancelled_sends_order_cancel(fake: FakeShopify, shop: ShopifyConnector) -> None:
    fake.seed_fixture()
    outcome = shop.push_status(StatusUpdate(ORDER_ID, OrderStatus.CANCELLED, reason="buyer asked by phone"))
    assert outcome.ok, outcome.detail
    assert "job" in outcome.detail
    assert fake.cancellations == [
        {
            "orderId": "gid://shopify/Order/5812345678901",
            "reason": "OTHER",
            "refund": False,
            "restock": False,
            "notifyCustomer": True,
            "staffNote": "buyer asked by phone",
        }
    ]
    [order] = shop.parse_page(shop.fetch_page(None).body)
    assert order.status is OrderStatus.CANCELLED
    again = shop.push_status(StatusUpdate(ORDER_ID, OrderStatus.CANCELLED, reason="customer"))
    assert not again.ok and "already been cancelled" in again.detail
    assert fake.operations[-1][1]["reason"] == "CUSTOMER"


def test_confirmed_sends_nothing(fake: FakeShopify, shop: ShopifyConnector) -> None:
    outcome = shop.push_status(StatusUpdate(ORDER_ID, OrderStatus.CONFIRMED))
    assert outcome.ok and "no acceptance step" in outcome.detail
    assert fake.server.requests == []


def test_delivered_adds_a_fulfilment_event(fake: FakeShopify, shop: ShopifyConnector) -> None:
    fake.seed_fixture()
    before = shop.push_status(StatusUpdate(ORDER_ID, OrderStatus.DELIVERED))
    assert not before.ok and "no fulfilment" in before.detail
    assert shop.push_status(shipped()).ok
    outcome = shop.push_status(StatusUpdate(ORDER_ID, OrderStatus.DELIVERED))
    assert outcome.ok, outcome.detail
    assert [(e["fulfillmentId"], e["status"]) for e in fake.events] == [(fake.fulfillments[0]["id"], "DELIVERED")]


def test_status_push_throttled_is_retryable(fake: FakeShopify, shop: ShopifyConnector) -> None:
    fake.seed_fixture()
    fake.throttle(4)
    outcome = shop.push_status(shipped())
    assert not outcome.ok and outcome.retryable
    assert fake.fulfillments == []


def test_registered_as_shopify(fake: FakeShopify) -> None:
    config = ConnectorConfig(fake.url, {"access_token": ACCESS_TOKEN}, {"since": SINCE})
    with Http(fake.url) as http:
        conn = make_connector("shopify", config, http)
        assert isinstance(conn, ShopifyConnector)
        assert conn.type == "shopify"
