"""The Amazon SP-API connector against a fake of SP-API and Login with Amazon that speaks the real
formats, seeded from the shared fixture payloads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import pytest

from ordermesh.adapters.channels.amazon import AmazonConnector
from ordermesh.adapters.channels.base import (
    _REGISTRY,
    BadPayload,
    BadSignature,
    ChannelAuthFailed,
    ChannelLine,
    ConnectorConfig,
    Http,
    Listing,
    ListingQuantity,
    StatusUpdate,
)
from ordermesh.domain.statuses import OrderStatus
from tests.fakes.amazon import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeAmazon, afn_item, fixture

MFN = "406-5551234-7654321"
AFN = "402-8887776-5554443"
KURTA, SPEAKER = "KRT-COT-BLU-M", "SPK-BT-10W-BLK"


class Clock:
    """Monotonic time that moves only when the code under test sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> Iterator[FakeAmazon]:
    with FakeAmazon() as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@contextmanager
def connect(
    fake: FakeAmazon, clock: Clock, credentials: dict[str, str] | None = None, **settings: Any
) -> Iterator[AmazonConnector]:
    with Http(fake.url, sleep=clock.sleep) as http:
        yield AmazonConnector(fake.config(credentials, **settings), http, clock=clock)


def fixture_page() -> bytes:
    """A page in the connector's own shape, built from the fixture payloads."""
    items = fixture("amazon_getOrderItems.json")["payload"]["OrderItems"]
    return json.dumps(
        {"orders": fixture("amazon_getOrders.json")["payload"], "items": {MFN: items, AFN: [afn_item()]}}
    ).encode()


def parse_one(order: dict[str, Any], items: list[dict[str, Any]]) -> Any:
    body = json.dumps({"orders": {"Orders": [order]}, "items": {order["AmazonOrderId"]: items}}).encode()
    with Http("http://127.0.0.1:9") as http:
        (parsed,) = AmazonConnector(fake_config(), http).parse_page(body)
    return parsed


def fake_config() -> ConnectorConfig:
    return ConnectorConfig("http://127.0.0.1:9", {}, {"seller_id": "A1EXAMPLESELLER"})


def mfn_order(**fields: Any) -> dict[str, Any]:
    order = fixture("amazon_getOrders.json")["payload"]["Orders"][0]
    order.update(fields)
    return order


def mfn_items() -> list[dict[str, Any]]:
    return fixture("amazon_getOrderItems.json")["payload"]["OrderItems"]


# -- parsing ----------------------------------------------------------------------------------------


def test_registered_as_amazon() -> None:
    assert _REGISTRY["amazon"] is AmazonConnector
    assert AmazonConnector.type == "amazon"


def test_parses_the_fixture_mfn_cod_order_field_by_field() -> None:
    with Http("http://127.0.0.1:9") as http:
        orders = AmazonConnector(fake_config(), http).parse_page(fixture_page())
    order = next(o for o in orders if o.external_id == MFN)

    assert order.channel_status == "Unshipped"
    assert order.status == OrderStatus.CONFIRMED
    assert order.placed_at == datetime(2025, 1, 15, 9, 12, 45, tzinfo=UTC)
    assert order.updated_at == datetime(2025, 1, 15, 9, 43, 2, tzinfo=UTC)
    assert order.payment_method == "cod"
    assert order.payment_status == "cod_pending"
    assert order.ready is True
    assert order.currency == "INR"
    assert order.shipping_charge == Decimal("0.00")
    assert order.shipping_address == {
        "name": "Rahul Sampleman",
        "line1": "No. 21, Example Street",
        "line2": "T. Nagar",
        "city": "Chennai",
        "state": "TN",
        "pincode": "600017",
        "phone": "+919876543210",
    }
    assert order.customer == {
        "name": "Rahul Sampleman",
        "phone": "+919876543210",
        "email": "abcd1234efgh5678@marketplace.amazon.in",
    }
    assert order.lines == [
        ChannelLine(
            listing_id=KURTA,
            seller_sku=KURTA,
            quantity=2,
            unit_price=Decimal("899.00"),
            discount=Decimal("0.00"),
            title="Example Handicrafts Women's Cotton Kurta, Blue, M",
            line_id="62012345678901",
        )
    ]
    assert order.tags == []
    assert order.extra["order_items"] == [{"orderItemId": "62012345678901", "quantity": 2}]
    assert order.extra["fulfillment_channel"] == "MFN"
    assert order.extra["marketplace_id"] == "A21TJRUUN4KGV"
    # what intake receives adds up to Amazon's OrderTotal
    payload = order.payload(lambda line: line.seller_sku or "")
    total = sum(Decimal(li["unit_price"]) * li["quantity"] - Decimal(li["discount"]) for li in payload["lines"])
    assert total + Decimal(payload["shipping_charge"]) == Decimal(order.extra["order_total"]) == Decimal("1798.00")


def test_afn_order_is_recorded_but_not_ready_and_tagged() -> None:
    with Http("http://127.0.0.1:9") as http:
        orders = AmazonConnector(fake_config(), http).parse_page(fixture_page())
    order = next(o for o in orders if o.external_id == AFN)

    assert order.status == OrderStatus.SHIPPED
    assert order.ready is False
    assert order.tags == ["afn", "prime"]
    assert order.notes is not None and "do not ship" in order.notes
    assert order.payment_method == "prepaid"
    assert order.payment_status == "paid"
    assert order.customer["email"] == "wxyz9876stuv5432@marketplace.amazon.in"
    assert [(li.listing_id, li.quantity, li.unit_price) for li in order.lines] == [(SPEAKER, 1, Decimal("1499.00"))]
    assert order.extra["order_items"] == []  # already shipped by Amazon


def test_cod_detected_from_payment_method_details_too() -> None:
    order = parse_one(mfn_order(PaymentMethod="Other", PaymentMethodDetails=["CashOnDelivery"]), mfn_items())
    assert order.payment_method == "cod"
    prepaid = parse_one(mfn_order(PaymentMethod="Other", PaymentMethodDetails=["Standard"]), mfn_items())
    assert (prepaid.payment_method, prepaid.payment_status) == ("prepaid", "paid")


def test_line_total_is_split_into_unit_price_with_promotion_and_shipping() -> None:
    item = mfn_items()[0]
    item.update(
        QuantityOrdered=3,
        ItemPrice={"CurrencyCode": "INR", "Amount": "1000.00"},
        PromotionDiscount={"CurrencyCode": "INR", "Amount": "50.00"},
        ShippingPrice={"CurrencyCode": "INR", "Amount": "79.00"},
        ShippingDiscount={"CurrencyCode": "INR", "Amount": "40.00"},
        CODFee={"CurrencyCode": "INR", "Amount": "25.00"},
    )
    (line,) = parse_one(mfn_order(), [item]).lines
    order = parse_one(mfn_order(), [item])

    assert line.unit_price == Decimal("333.34")  # rounded up to the paisa …
    assert line.discount == Decimal("50.02")  # … and the 2 paise given back as discount
    assert line.unit_price * line.quantity - line.discount == Decimal("950.00")
    assert order.shipping_charge == Decimal("64.00")  # 79 − 40 + 25 COD fee


def test_item_without_seller_sku_falls_back_to_asin_and_zero_quantity_lines_are_dropped() -> None:
    first, second = mfn_items()[0], dict(mfn_items()[0])
    del first["SellerSKU"]
    second.update(OrderItemId="62000000000002", QuantityOrdered=0)
    order = parse_one(mfn_order(), [first, second])
    assert [(li.listing_id, li.seller_sku) for li in order.lines] == [("B0EXAMPLE01", None)]


EXPECTED = [
    ("PendingAvailability", OrderStatus.PENDING, False),
    ("Pending", OrderStatus.PENDING, False),
    ("Unshipped", OrderStatus.CONFIRMED, True),
    ("PartiallyShipped", OrderStatus.PARTIALLY_SHIPPED, True),
    ("Shipped", OrderStatus.SHIPPED, True),
    ("InvoiceUnconfirmed", OrderStatus.SHIPPED, True),
    ("Canceled", OrderStatus.CANCELLED, True),
    ("Unfulfillable", OrderStatus.CANCELLED, True),
]


def test_status_map_covers_every_documented_word_and_nothing_else() -> None:
    assert set(AmazonConnector.STATUS_MAP) == {word for word, _, _ in EXPECTED}


@pytest.mark.parametrize(("word", "status", "ready"), EXPECTED)
def test_every_status_word(word: str, status: OrderStatus, ready: bool) -> None:
    order = parse_one(mfn_order(OrderStatus=word), mfn_items())
    assert order.channel_status == word
    assert order.status == status
    assert order.ready is ready
    if not ready:
        assert order.notes is not None and word in order.notes
        assert order.payment_status == "cod_pending"


def test_pending_prepaid_order_is_not_paid_yet() -> None:
    order = parse_one(mfn_order(OrderStatus="Pending", PaymentMethod="Other", PaymentMethodDetails=[]), mfn_items())
    assert (order.payment_method, order.payment_status, order.ready) == ("prepaid", "pending", False)


def test_unknown_status_word_is_a_bad_payload_naming_it() -> None:
    with pytest.raises(BadPayload, match="'OnTheMoon'"):
        parse_one(mfn_order(OrderStatus="OnTheMoon"), mfn_items())


def test_unknown_fields_are_tolerated() -> None:
    item = {**mfn_items()[0], "SomethingNew": {"x": 1}}
    order = parse_one(mfn_order(BrandNewFlag=True), [item])
    assert order.lines[0].quantity == 2


def test_unreadable_pages_are_bad_payloads() -> None:
    with Http("http://127.0.0.1:9") as http:
        connector = AmazonConnector(fake_config(), http)
        with pytest.raises(BadPayload, match="not valid JSON"):
            connector.parse_page(b"{nope")
        body = json.dumps({"orders": {"Orders": [mfn_order()]}, "items": {}}).encode()
        with pytest.raises(BadPayload, match=MFN):
            connector.parse_page(body)


# -- webhooks ---------------------------------------------------------------------------------------


def test_amazon_has_no_webhooks() -> None:
    body = json.dumps(fixture("amazon_getOrders.json")).encode()
    with Http("http://127.0.0.1:9") as http:
        connector = AmazonConnector(fake_config(), http)
        with pytest.raises(BadSignature, match="polled"):
            connector.verify_webhook({"x-amz-sns-message-type": "Notification"}, body)
        with pytest.raises(BadSignature, match="polled"):
            connector.verify_webhook({}, body)
        with pytest.raises(BadPayload, match="polled"):
            connector.parse_webhook({}, body)


# -- polling ----------------------------------------------------------------------------------------


def test_first_poll_uses_lwa_then_an_rdt_and_returns_pii(fake: FakeAmazon, clock: Clock) -> None:
    with connect(fake, clock) as amazon:
        page = amazon.fetch_page(None)
        orders = amazon.parse_page(page.body)

    (lwa,) = fake.server.sent("POST", r"/auth/o2/token")
    assert {k: v[0] for k, v in parse_qs(lwa.body.decode()).items()} == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    (rdt_call,) = fake.server.sent("POST", r"/tokens/2021-03-01/restrictedDataToken")
    assert (rdt_call.header("x-amz-access-token") or "").startswith("Atza|")
    resources = rdt_call.json()["restrictedResources"]
    assert {"method": "GET", "path": "/orders/v0/orders", "dataElements": ["buyerInfo", "shippingAddress"]} in resources
    (get_orders,) = fake.server.sent("GET", r"/orders/v0/orders")
    assert get_orders.arg("MarketplaceIds") == "A21TJRUUN4KGV"
    assert get_orders.arg("LastUpdatedAfter") == "2025-01-01T00:00:00Z"
    assert get_orders.arg("MaxResultsPerPage") == "100"
    assert get_orders.header("x-amz-access-token").startswith("Atz.sprdt|")
    item_calls = fake.server.sent("GET", r"/orders/v0/orders/[^/]+/orderItems")
    assert sorted(r.path.split("/")[4] for r in item_calls) == sorted([MFN, AFN])
    assert all(r.header("x-amz-access-token").startswith("Atz.sprdt|") for r in item_calls)

    assert page.more is False
    assert json.loads(page.next_cursor or "") == {"after": "2025-01-15T10:00:00Z"}  # LastUpdatedBefore
    mfn = next(o for o in orders if o.external_id == MFN)
    assert mfn.shipping_address["line1"] == "No. 21, Example Street"
    assert mfn.customer["email"] == "abcd1234efgh5678@marketplace.amazon.in"
    assert mfn.ready is True


def test_without_restricted_data_the_address_is_withheld_and_the_order_waits(fake: FakeAmazon, clock: Clock) -> None:
    with connect(fake, clock, restricted_data=False) as amazon:
        orders = amazon.parse_page(amazon.fetch_page(None).body)

    assert fake.server.sent("POST", r"/tokens/2021-03-01/restrictedDataToken") == []
    mfn = next(o for o in orders if o.external_id == MFN)
    assert mfn.shipping_address == {
        "name": None,
        "line1": None,
        "line2": None,
        "city": "Chennai",
        "state": "TN",
        "pincode": "600017",
        "phone": None,
    }
    assert mfn.customer["email"] is None
    assert mfn.ready is False
    assert mfn.notes is not None and "restricted data" in mfn.notes


def test_pages_follow_next_token_then_end_on_a_watermark(fake: FakeAmazon, clock: Clock) -> None:
    fake.page_size = 1
    fake.items_page_size = 1
    fake.add_order("403-0000001-0000001", "2025-01-14T08:00:00Z")
    extra = fake.items["403-0000001-0000001"]
    extra.append({**extra[0], "OrderItemId": "62000000000099", "SellerSKU": SPEAKER})

    seen: list[str] = []
    cursor: str | None = None
    with connect(fake, clock) as amazon:
        for _ in range(10):
            page = amazon.fetch_page(cursor)
            orders = amazon.parse_page(page.body)
            seen += [o.external_id for o in orders]
            cursor = page.next_cursor
            if not page.more:
                break
        # a later poll from the watermark sees only what changed after it
        fake.add_order("403-0000002-0000002", "2025-01-15T11:00:00Z")
        fake.now = "2025-01-15T12:00:00Z"
        later = amazon.fetch_page(cursor)
        later_ids = [o.external_id for o in amazon.parse_page(later.body)]

    assert seen == [AFN, "403-0000001-0000001", MFN]  # oldest change first
    calls = fake.server.sent("GET", r"/orders/v0/orders")
    assert [c.arg("NextToken") is not None for c in calls[:3]] == [False, True, True]
    assert all(c.arg("MarketplaceIds") == "A21TJRUUN4KGV" for c in calls)
    assert all(c.arg("LastUpdatedAfter") is None for c in calls[1:3])
    assert json.loads(cursor or "") == {"after": "2025-01-15T10:00:00Z"}
    assert calls[3].arg("LastUpdatedAfter") == "2025-01-15T10:00:00Z"
    assert later_ids == ["403-0000002-0000002"]
    assert json.loads(later.next_cursor or "") == {"after": "2025-01-15T12:00:00Z"}
    # the two-item order's items came over two getOrderItems pages
    items_calls = fake.server.sent("GET", r"/orders/v0/orders/403-0000001-0000001/orderItems")
    assert len(items_calls) == 2 and items_calls[1].arg("NextToken") is not None


def test_a_429_is_waited_out_with_its_retry_after(fake: FakeAmazon, clock: Clock) -> None:
    fake.throttle("getOrders", times=1, retry_after="3")
    with connect(fake, clock) as amazon:
        page = amazon.fetch_page(None)
    assert len(amazon.parse_page(page.body)) == 2
    assert clock.waits == [3.0]
    assert len(fake.server.sent("GET", r"/orders/v0/orders")) == 2


def test_order_items_calls_are_spaced_by_the_usage_plan(fake: FakeAmazon, clock: Clock) -> None:
    for n in range(30):  # 32 orders: burst 30, then one every 2 s at 0.5 rps
        fake.add_order(f"405-{n:07d}-0000000", "2025-01-14T00:00:00Z")
    with connect(fake, clock) as amazon:
        amazon.fetch_page(None)
    assert clock.waits == [2.0, 2.0]


def test_the_rate_limit_header_replaces_the_default_rate(fake: FakeAmazon, clock: Clock) -> None:
    fake.rate_limits["getOrderItems"] = "4.0"
    for n in range(30):
        fake.add_order(f"405-{n:07d}-0000000", "2025-01-14T00:00:00Z")
    with connect(fake, clock) as amazon:
        amazon.fetch_page(None)
    assert clock.waits == [0.25, 0.25]


def test_wrong_client_secret_is_auth_failed(fake: FakeAmazon, clock: Clock) -> None:
    with (
        connect(fake, clock, {"client_secret": "rotated"}) as amazon,
        pytest.raises(ChannelAuthFailed, match="invalid_client"),
    ):
        amazon.fetch_page(None)


def test_revoked_refresh_token_is_auth_failed(fake: FakeAmazon, clock: Clock) -> None:
    with (
        connect(fake, clock, {"refresh_token": "Atzr|someone-else"}) as amazon,
        pytest.raises(ChannelAuthFailed, match="invalid_grant"),
    ):
        amazon.fetch_page(None)


def test_tokens_are_cached_until_a_minute_before_expiry(fake: FakeAmazon, clock: Clock) -> None:
    with connect(fake, clock) as amazon:
        amazon.fetch_page(None)
        amazon.fetch_page(None)
        assert len(fake.server.sent("POST", r"/auth/o2/token")) == 1
        assert len(fake.server.sent("POST", r"/tokens/2021-03-01/restrictedDataToken")) == 1
        clock.now += 3600 - 59
        amazon.fetch_page(None)
    assert len(fake.server.sent("POST", r"/auth/o2/token")) == 2
    assert len(fake.server.sent("POST", r"/tokens/2021-03-01/restrictedDataToken")) == 2


def test_a_token_refused_early_is_renewed_once(fake: FakeAmazon, clock: Clock) -> None:
    with connect(fake, clock) as amazon:
        amazon.fetch_page(None)
        fake.expire_tokens()
        page = amazon.fetch_page(None)
    assert len(amazon.parse_page(page.body)) == 2
    assert len(fake.server.sent("POST", r"/auth/o2/token")) == 2


def test_a_refusal_that_persists_after_renewal_is_auth_failed(fake: FakeAmazon, clock: Clock) -> None:
    with connect(fake, clock, seller_id="A9SOMEONEELSE") as amazon, pytest.raises(ChannelAuthFailed, match="403"):
        amazon.read_inventory([Listing(KURTA, KURTA)])
    assert len(fake.server.sent("GET", r"/listings/2021-08-01/items/.*")) == 2
    assert len(fake.server.sent("POST", r"/auth/o2/token")) == 2


# -- inventory --------------------------------------------------------------------------------------


def test_few_listings_are_patched_one_by_one(fake: FakeAmazon, clock: Clock) -> None:
    fake.listings["MUG-01"] = {"productType": "DRINKING_CUP", "asin": "B0EXAMPLE03", "quantity": {"DEFAULT": 9}}
    levels = [
        ListingQuantity(Listing(KURTA, KURTA, {"asin": "B0EXAMPLE01", "product_type": "KURTA"}), 25),
        ListingQuantity(Listing("MUG-01", "MUG-01", {"product_type": "DRINKING_CUP"}), -4),
        ListingQuantity(Listing("GONE-01", "GONE-01"), 5),
    ]
    with connect(fake, clock) as amazon:
        outcomes = amazon.push_inventory(levels)

    assert [(o.key, o.ok) for o in outcomes] == [(KURTA, True), ("MUG-01", True), ("GONE-01", False)]
    assert outcomes[0].detail.startswith("ACCEPTED")
    assert "does not exist" in outcomes[2].detail and outcomes[2].retryable is False
    assert fake.listings[KURTA]["quantity"] == {"DEFAULT": 25}
    assert fake.listings["MUG-01"]["quantity"] == {"DEFAULT": 0}  # never negative
    sku, body = fake.patches[0]
    expected = fixture("amazon_patchListingsItem.json")["request"]
    assert (sku, body) == (KURTA, {**expected, "productType": "KURTA"})
    (first, *_) = fake.server.sent("PATCH", r"/listings/2021-08-01/items/A1EXAMPLESELLER/.*")
    assert first.arg("marketplaceIds") == "A21TJRUUN4KGV"
    assert fake.server.sent("POST", r"/feeds/2021-06-30/documents") == []


def test_fba_listings_are_never_pushed(fake: FakeAmazon, clock: Clock) -> None:
    with connect(fake, clock) as amazon:
        (outcome,) = amazon.push_inventory(
            [ListingQuantity(Listing(SPEAKER, SPEAKER, {"fulfillment_channel": "AFN"}), 3)]
        )
    assert outcome.ok is False and "Fulfilled by Amazon" in outcome.detail
    assert fake.patches == []
    assert fake.listings[SPEAKER]["quantity"] == {"AMAZON_IN": 7}


def test_many_listings_go_in_one_json_listings_feed(fake: FakeAmazon, clock: Clock) -> None:
    fake.listings[SPEAKER]["productType"] = "PRODUCT"
    levels = [
        ListingQuantity(Listing(KURTA, KURTA, {"product_type": "PRODUCT"}), 25),
        ListingQuantity(Listing(SPEAKER, SPEAKER), 0),
    ]
    with connect(fake, clock, feed_threshold=1) as amazon:
        outcomes = amazon.push_inventory(levels)

    (feed_id,) = fake.feeds
    assert [(o.key, o.ok, o.detail) for o in outcomes] == [
        (KURTA, True, f"submitted in feed {feed_id}"),
        (SPEAKER, True, f"submitted in feed {feed_id}"),
    ]
    # the uploaded document is exactly the fixture feed
    assert fake.feeds[feed_id]["document"] == fixture("amazon_json_listings_feed.json")
    (create,) = fake.server.sent("POST", r"/feeds/2021-06-30/feeds")
    assert create.json()["feedType"] == "JSON_LISTINGS_FEED"
    (upload,) = fake.server.sent("PUT", r"/upload/.*")
    assert upload.header("x-amz-access-token") is None
    assert fake.listings[KURTA]["quantity"]["DEFAULT"] == 25
    assert fake.listings[SPEAKER]["quantity"]["DEFAULT"] == 0
    assert fake.patches == []


def test_a_feed_amazon_cannot_take_now_is_retryable(fake: FakeAmazon, clock: Clock) -> None:
    fake.fail("createFeedDocument", 503, times=5)
    levels = [ListingQuantity(Listing(f"SKU-{n}", f"SKU-{n}"), n) for n in range(3)]
    with connect(fake, clock, feed_threshold=2) as amazon:
        outcomes = amazon.push_inventory(levels)
    assert [(o.ok, o.retryable) for o in outcomes] == [(False, True)] * 3
    assert "503" in outcomes[0].detail


def test_read_inventory_reads_the_seller_fulfilled_quantity(fake: FakeAmazon, clock: Clock) -> None:
    with connect(fake, clock) as amazon:
        found = amazon.read_inventory([Listing(KURTA, KURTA), Listing(SPEAKER, SPEAKER), Listing("GONE-01")])
    assert found == {KURTA: 3}  # the FBA-only SKU has no DEFAULT quantity; the unknown one is skipped
    call = fake.server.sent("GET", rf"/listings/2021-08-01/items/A1EXAMPLESELLER/{KURTA}")[0]
    assert call.arg("includedData") == "fulfillmentAvailability"
    assert call.arg("marketplaceIds") == "A21TJRUUN4KGV"


# -- status -----------------------------------------------------------------------------------------


def shipped(order: Any, **extra: Any) -> StatusUpdate:
    return StatusUpdate(
        external_id=order.external_id,
        status=OrderStatus.SHIPPED,
        lines=list(order.lines),
        carrier="Delhivery",
        tracking_number="1490811234567",
        extra={**order.extra, "ship_date": "2025-01-16T06:30:00Z", **extra},
    )


def test_shipped_confirms_the_shipment_with_carrier_and_awb(fake: FakeAmazon, clock: Clock) -> None:
    with connect(fake, clock) as amazon:
        order = next(o for o in amazon.parse_page(amazon.fetch_page(None).body) if o.external_id == MFN)
        outcome = amazon.push_status(shipped(order))

    assert outcome.ok is True and "1490811234567" in outcome.detail
    assert fake.confirmations[MFN] == [
        {
            "packageDetail": {
                "packageReferenceId": "1",
                "carrierCode": "Other",
                "trackingNumber": "1490811234567",
                "shipDate": "2025-01-16T06:30:00Z",
                "orderItems": [{"orderItemId": "62012345678901", "quantity": 2}],
                "carrierName": "Delhivery",
            },
            "marketplaceId": "A21TJRUUN4KGV",
        }
    ]
    assert next(o for o in fake.orders if o["AmazonOrderId"] == MFN)["OrderStatus"] == "Shipped"


def test_known_carriers_use_amazons_carrier_code(fake: FakeAmazon, clock: Clock) -> None:
    with connect(fake, clock, carrier_codes={"Delhivery": "Delhivery"}) as amazon:
        order = parse_one(mfn_order(), mfn_items())
        update = StatusUpdate(MFN, OrderStatus.SHIPPED, carrier="Delhivery", tracking_number="AWB1", extra=order.extra)
        assert amazon.push_status(update).ok is True
    package = fake.confirmations[MFN][0]["packageDetail"]
    assert package["carrierCode"] == "Delhivery" and "carrierName" not in package
    assert package["orderItems"] == [{"orderItemId": "62012345678901", "quantity": 2}]  # from extra


def test_shipped_without_stored_items_asks_amazon_for_them(fake: FakeAmazon, clock: Clock) -> None:
    with connect(fake, clock) as amazon:
        update = StatusUpdate(MFN, OrderStatus.SHIPPED, carrier="Blue Dart", tracking_number="BD123")
        assert amazon.push_status(update).ok is True
    assert fake.confirmations[MFN][0]["packageDetail"]["orderItems"] == [
        {"orderItemId": "62012345678901", "quantity": 2}
    ]


def test_shipment_amazon_refuses_is_not_ok_and_not_retryable(fake: FakeAmazon, clock: Clock) -> None:
    with connect(fake, clock) as amazon:
        order = parse_one(mfn_order(), mfn_items())
        assert amazon.push_status(shipped(order)).ok is True
        again = amazon.push_status(shipped(order))  # already shipped
        no_awb = amazon.push_status(StatusUpdate(MFN, OrderStatus.SHIPPED, carrier="Delhivery"))
    assert (again.ok, again.retryable) == (False, False)
    assert "cannot confirm" in again.detail
    assert no_awb.ok is False and "tracking number" in no_awb.detail
    assert len(fake.confirmations[MFN]) == 1


def test_afn_orders_are_not_confirmed(fake: FakeAmazon, clock: Clock) -> None:
    with connect(fake, clock) as amazon:
        outcome = amazon.push_status(
            StatusUpdate(
                AFN, OrderStatus.SHIPPED, carrier="X", tracking_number="1", extra={"fulfillment_channel": "AFN"}
            )
        )
    assert outcome.ok is False and "Fulfilled by Amazon" in outcome.detail
    assert fake.confirmations == {}


def test_cancel_must_be_done_in_seller_central(fake: FakeAmazon, clock: Clock) -> None:
    with connect(fake, clock) as amazon:
        outcome = amazon.push_status(StatusUpdate(MFN, OrderStatus.CANCELLED, reason="out of stock"))
        confirmed = amazon.push_status(StatusUpdate(MFN, OrderStatus.CONFIRMED))
    assert (outcome.ok, outcome.retryable) == (False, False)
    assert "Seller Central" in outcome.detail
    assert confirmed.ok is True
    assert fake.server.requests == []  # neither sends anything
