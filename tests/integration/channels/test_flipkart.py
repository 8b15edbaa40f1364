"""The Flipkart connector against a fake of the Seller API v3, seeded from the shared fixtures."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ordermesh.adapters.channels.base import (
    BadPayload,
    BadSignature,
    ChannelAuthFailed,
    ChannelLine,
    ConnectorConfig,
    Http,
    Listing,
    ListingQuantity,
    StatusUpdate,
    make_connector,
)
from ordermesh.adapters.channels.flipkart import IST, STATUS_MAP, FlipkartConnector
from ordermesh.domain.statuses import OrderStatus
from tests.fakes.flipkart import APP_ID, APP_SECRET, FIXTURES, FakeFlipkart, load

LOCATION = "LOC6f1e2d3c4b5a49788796a5b4c3d2e1f0"
COD_ORDER, PREPAID_ORDER = "OD432109876543210100", "OD432109876543210200"
COD_SHIPMENT, PREPAID_SHIPMENT = "3f6a9c2e-1b4d-4e8f-9a7c-5d2e1f0a3b4c", "8b2d4f6a-3c5e-4a7b-9d1f-2e4a6c8b0d1e"
NOW = datetime(2025, 1, 16, 9, 0, tzinfo=IST)
TOKEN = "shared-notification-token-do-not-use"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake() -> Iterator[FakeFlipkart]:
    with FakeFlipkart() as f:
        yield f


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def connect(
    fake: FakeFlipkart, sleeps: Sleeps, *, secret: str = APP_SECRET, **settings: Any
) -> tuple[FlipkartConnector, Http]:
    http = Http(fake.url, sleep=sleeps, attempts=3)
    config = ConnectorConfig(
        base_url=fake.url,
        credentials={"app_id": APP_ID, "app_secret": secret, "webhook_token": TOKEN},
        settings={"since": "2025-01-15T00:00:00+05:30", **settings},
    )
    connector = make_connector("flipkart", config, http)
    assert isinstance(connector, FlipkartConnector)
    connector.clock = lambda: NOW.timestamp()
    return connector, http


def poll_all(connector: FlipkartConnector, cursor: str | None = None) -> tuple[list[Any], list[Any], str | None]:
    pages, orders = [], []
    for _ in range(50):
        page = connector.fetch_page(cursor)
        pages.append(page)
        orders.extend(connector.parse_page(page.body))
        cursor = page.next_cursor
        if not page.more:
            return pages, orders, cursor
    raise AssertionError("the poll never caught up")


def shipment_like(base: dict[str, Any], n: int, **item: Any) -> dict[str, Any]:
    s = copy.deepcopy(base)
    s["shipmentId"] = f"ship-{n:04d}"
    s["updatedAt"] = (datetime(2025, 1, 15, 10, 0, tzinfo=IST) + timedelta(minutes=n)).isoformat()
    for i in s["orderItems"]:
        i.update({"orderItemId": f"item-{n:04d}", "orderId": f"OD{n:018d}", "cancellationGroupId": f"grp-{n}"})
        i.update(item)
    return s


# -- polling and parsing -------------------------------------------------------------------------


def test_first_page_parses_the_fixture_shipments_field_by_field(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    connector, http = connect(fake, sleeps)
    with http:
        page = connector.fetch_page(None)
        orders = {o.external_id: o for o in connector.parse_page(page.body)}
    assert page.more is True
    assert set(orders) == {COD_ORDER, PREPAID_ORDER}

    cod = orders[COD_ORDER]
    assert cod.channel_status == "APPROVED" and cod.status is OrderStatus.CONFIRMED
    assert cod.payment_method == "cod" and cod.payment_status == "cod_pending"
    assert cod.placed_at == datetime(2025, 1, 15, 18, 20, 11, tzinfo=IST)
    assert cod.updated_at == datetime(2025, 1, 15, 18, 20, 15, tzinfo=IST)
    assert cod.shipping_charge == Decimal("40.00")
    assert cod.lines == [
        ChannelLine(
            listing_id="LSTKTAEXAMPLE12345XABCDE1",
            seller_sku="KRT-COT-BLU-M",
            quantity=1,
            unit_price=Decimal("899.00"),
            discount=Decimal("0.00"),
            title="Example Handicrafts Women Kurta Blue M",
            line_id="12251234567890100",
        )
    ]
    assert cod.shipping_address == {
        "name": "Asha Verma",
        "line1": "12, 3rd Cross, Indiranagar",
        "line2": "HAL 2nd Stage, Near Metro Station",
        "city": "Bengaluru",
        "state": "KA",
        "pincode": "560038",
        "phone": "9000000001",
    }
    assert cod.customer == {"name": "Asha Verma", "phone": "9000000001", "email": None}
    assert cod.ready is True
    assert cod.extra["shipments"][0]["shipmentId"] == COD_SHIPMENT
    assert cod.extra["shipments"][0]["orderItemIds"] == ["12251234567890100"]

    prepaid = orders[PREPAID_ORDER]
    assert prepaid.channel_status == "PACKED" and prepaid.status is OrderStatus.IN_FULFILMENT
    assert prepaid.payment_method == "prepaid" and prepaid.payment_status == "paid"
    assert prepaid.shipping_charge == Decimal(0)
    (line,) = prepaid.lines
    assert (line.quantity, line.unit_price, line.discount) == (2, Decimal("1499.00"), Decimal(0))
    assert line.unit_price * line.quantity - line.discount == Decimal("2998")
    assert (line.listing_id, line.seller_sku) == ("LSTACCEXAMPLE67890YFGHIJ2", "SPK-BT-10W-BLK")
    assert prepaid.shipping_address["state"] == "KL" and prepaid.shipping_address["line2"] is None
    assert prepaid.payload(lambda ln: ln.seller_sku or "")["lines"][0] == {
        "sku": "SPK-BT-10W-BLK",
        "quantity": 2,
        "unit_price": "1499.00",
        "discount": "0.00",
    }

    (search,) = fake.server.sent("POST", r"/sellers/v3/shipments/filter")
    f = search.json()["filter"]
    assert f["type"] == "preDispatch" and f["hold"] is False
    assert f["states"] == ["APPROVED", "PACKING_IN_PROGRESS", "PACKED", "FORM_FAILED", "READY_TO_DISPATCH"]
    assert f["modifiedDate"] == {"from": "2025-01-15T00:00:00.000+05:30", "to": "2025-01-16T09:00:00.000+05:30"}
    assert search.json()["pagination"] == {"pageSize": 20}
    (lookup,) = fake.server.sent("GET", r"/sellers/v3/shipments")
    assert set(lookup.arg("orderIds").split(",")) == {COD_ORDER, PREPAID_ORDER}
    (details,) = fake.server.sent("GET", r"/sellers/v3/shipments/[^/]+")
    assert set(details.path.rsplit("/", 1)[1].split(",")) == {COD_SHIPMENT, PREPAID_SHIPMENT}


def test_a_poll_walks_every_search_then_leaves_a_watermark(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    connector, http = connect(fake, sleeps)
    with http:
        pages, orders, cursor = poll_all(connector)
        assert len(pages) == 2 and len(orders) == 2  # the empty searches are walked within the last call
        searches = [r.json()["filter"] for r in fake.server.sent("POST", r"/sellers/v3/shipments/filter")]
        kinds = [(f["type"], f.get("hold"), f.get("cancellationType")) for f in searches]
        assert kinds == [
            ("preDispatch", False, None),
            ("preDispatch", True, None),
            ("postDispatch", None, None),
            ("cancelled", None, "sellerCancellation"),
            ("cancelled", None, "buyerCancellation"),
            ("cancelled", None, "marketplaceCancellation"),
        ]
        assert searches[2]["states"] == ["PICKUP_COMPLETE", "SHIPPED", "DELIVERED"]
        assert all("cancellationDate" in f for f in searches[3:])
        assert json.loads(cursor or "") == {"watermark": "2025-01-16T09:00:00.000+05:30"}

        connector.clock = lambda: (NOW + timedelta(hours=1)).timestamp()
        _, again, _ = poll_all(connector, cursor)
    assert again == []  # nothing changed since the watermark
    newest = fake.server.sent("POST", r"/sellers/v3/shipments/filter")[-6].json()["filter"]["modifiedDate"]
    assert newest == {"from": "2025-01-16T08:55:00.000+05:30", "to": "2025-01-16T10:00:00.000+05:30"}


def test_pagination_follows_next_page_url_across_cursors(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    base = load("flipkart_shipments.json")["shipments"][1]
    for n in range(1, 46):
        fake.add_shipment(shipment_like(base, n))
    connector, http = connect(fake, sleeps)
    with http:
        pages, orders, _ = poll_all(connector)
    ids = [o.external_id for o in orders]
    assert len(ids) == 47 and len(set(ids)) == 47
    follow = fake.server.sent("GET", r"/sellers/v3/shipments/filter")
    assert len(follow) == 2 and all(r.arg("nextToken") for r in follow)
    first_cursor = json.loads(pages[0].next_cursor or "")
    assert first_cursor["sweep"] == 0 and first_cursor["next"].startswith("/v3/shipments/filter?nextToken=")
    assert [len(json.loads(p.body)["search"]["shipments"]) for p in pages] == [20, 20, 7, 0]


def test_a_held_shipment_is_not_ready(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    held = shipment_like(load("flipkart_shipments.json")["shipments"][0], 7)
    held["hold"] = True
    fake.add_shipment(held)
    connector, http = connect(fake, sleeps)
    with http:
        _, orders, _ = poll_all(connector)
    order = next(o for o in orders if o.external_id == "OD000000000000000007")
    assert order.ready is False and "flipkart:hold" in order.tags
    assert order.status is OrderStatus.CONFIRMED


def test_an_order_split_over_shipments_arrives_whole(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    base = load("flipkart_shipments.json")["shipments"]
    shipped = shipment_like(base[1], 1, status="SHIPPED")
    cancelled = shipment_like(base[1], 2, status="CANCELLED", cancellationDate="2025-01-15T19:00:00.000+05:30")
    for extra in (shipped, cancelled):
        extra["orderItems"][0]["orderId"] = COD_ORDER
        fake.add_shipment(extra)
    connector, http = connect(fake, sleeps)
    with http:
        page = connector.fetch_page(None)  # finds only the APPROVED shipment of the order …
        order = next(o for o in connector.parse_page(page.body) if o.external_id == COD_ORDER)
    # … and the per-order lookup brings the others
    assert [ln.line_id for ln in order.lines] == ["12251234567890100", "item-0001"]
    assert order.status is OrderStatus.PARTIALLY_SHIPPED
    assert order.channel_status == "APPROVED,SHIPPED"
    assert order.extra["cancelled_items"] == ["item-0002"]
    assert order.shipping_charge == Decimal("40.00")
    assert order.updated_at == datetime(2025, 1, 15, 19, 0, tzinfo=IST)


def test_an_order_cancelled_entirely_keeps_its_lines(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    base = load("flipkart_shipments.json")["shipments"][0]
    fake.add_shipment(
        shipment_like(base, 3, status="CANCELLED", cancellationDate="2025-01-15T20:00:00.000+05:30"),
        cancellation_type="marketplaceCancellation",
    )
    connector, http = connect(fake, sleeps)
    with http:
        _, orders, _ = poll_all(connector)
    order = next(o for o in orders if o.external_id == "OD000000000000000003")
    assert order.status is OrderStatus.CANCELLED and len(order.lines) == 1
    searches = [r.json()["filter"] for r in fake.server.sent("POST", r"/sellers/v3/shipments/filter")]
    assert searches[-1]["cancellationType"] == "marketplaceCancellation"


EXPECTED_STATUSES = [
    ("APPROVED", OrderStatus.CONFIRMED),
    ("PACKING_IN_PROGRESS", OrderStatus.IN_FULFILMENT),
    ("FORM_FAILED", OrderStatus.IN_FULFILMENT),
    ("PACKED", OrderStatus.IN_FULFILMENT),
    ("READY_TO_DISPATCH", OrderStatus.IN_FULFILMENT),
    ("PICKUP_COMPLETE", OrderStatus.SHIPPED),
    ("SHIPPED", OrderStatus.SHIPPED),
    ("DELIVERED", OrderStatus.DELIVERED),
    ("CANCELLED", OrderStatus.CANCELLED),
    ("RETURN_REQUESTED", OrderStatus.DELIVERED),
    ("RETURNED", OrderStatus.RETURNED),
    ("COMPLETED", OrderStatus.CLOSED),
]


@pytest.mark.parametrize(("word", "expected"), EXPECTED_STATUSES)
def test_every_status_word_maps(word: str, expected: OrderStatus) -> None:
    shipment = load("flipkart_shipments.json")["shipments"][0]
    shipment["orderItems"][0]["status"] = word
    body = json.dumps({"search": {"shipments": [shipment]}, "orderShipments": {}, "shipmentDetails": []})
    (order,) = FlipkartConnector(ConnectorConfig("http://unused", {}), Http("http://unused")).parse_page(body.encode())
    assert order.channel_status == word
    assert order.status is expected


def test_status_map_covers_the_documented_words() -> None:
    assert set(STATUS_MAP) == {word for word, _ in EXPECTED_STATUSES}


def parse_one(item: dict[str, Any]) -> Any:
    shipment = load("flipkart_shipments.json")["shipments"][0]
    shipment["orderItems"][0].update(item)
    body = json.dumps({"search": {"shipments": [shipment]}, "orderShipments": {}, "shipmentDetails": []})
    with Http("http://127.0.0.1:9") as http:
        return FlipkartConnector(ConnectorConfig("http://127.0.0.1:9", {}), http).parse_page(body.encode())


def test_a_courier_return_is_rto_and_a_delivered_cod_order_is_collected() -> None:
    (rto,) = parse_one({"status": "RETURNED", "courierReturn": True})
    assert rto.status is OrderStatus.RTO
    (delivered,) = parse_one({"status": "DELIVERED"})
    assert delivered.payment_status == "cod_collected"


def test_an_unknown_status_word_is_a_bad_payload_naming_it() -> None:
    with pytest.raises(BadPayload, match="ON_THE_MOON"):
        parse_one({"status": "ON_THE_MOON"})


def test_uneven_prices_split_exactly() -> None:
    (order,) = parse_one({"quantity": 3, "priceComponents": {"sellingPrice": 1000.0, "shippingCharge": 0.0}})
    (line,) = order.lines
    assert line.unit_price == Decimal("333.34") and line.discount == Decimal("0.02")
    assert line.unit_price * line.quantity - line.discount == Decimal("1000.00")


# -- webhooks ------------------------------------------------------------------------------------


def notification() -> bytes:
    return (FIXTURES / "flipkart_shipment_created_notification.json").read_bytes()


def test_notification_token_is_checked_in_constant_time(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    connector, http = connect(fake, sleeps)
    with http:
        body = notification()
        connector.verify_webhook({"x-ordermesh-webhook-token": TOKEN}, body)
        wrong = TOKEN[:-1] + chr(ord(TOKEN[-1]) ^ 1)
        with pytest.raises(BadSignature):
            connector.verify_webhook({"X-Ordermesh-Webhook-Token": wrong}, body)
        with pytest.raises(BadSignature, match="missing"):
            connector.verify_webhook({"Content-Type": "application/json"}, body)
    unconfigured = FlipkartConnector(ConnectorConfig(fake.url, {"app_id": "a", "app_secret": "b"}), http)
    with pytest.raises(BadSignature, match="webhook_token"):
        unconfigured.verify_webhook({"X-Ordermesh-Webhook-Token": TOKEN}, body)


def test_shipment_created_notification_parses_as_far_as_it_goes(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    connector, http = connect(fake, sleeps)
    with http:
        event = connector.parse_webhook({}, notification())
    assert event.topic == "shipment_created"
    assert event.delivery_id == f"shipment_created:{COD_SHIPMENT}:2025-01-15T18:20:14+05:30"
    (order,) = event.orders
    assert order.external_id == COD_ORDER and order.status is OrderStatus.CONFIRMED
    assert order.payment_method == "cod" and order.shipping_charge == Decimal("40.00")
    (line,) = order.lines
    assert (line.listing_id, line.seller_sku, line.unit_price, line.line_id) == (
        "LSTKTAEXAMPLE12345XABCDE1",
        "KRT-COT-BLU-M",
        Decimal("899.00"),
        "12251234567890100",
    )
    assert order.shipping_address == {} and order.ready is False  # the poll brings the address
    assert "flipkart:partial" in order.tags
    assert order.extra["shipments"][0]["locationId"] == LOCATION
    assert fake.server.requests == []  # parsing calls nobody


def test_a_cancellation_notification_without_order_ids_carries_no_orders(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    body = {
        "eventType": "shipment_cancelled",
        "source": "flipkart",
        "locationId": LOCATION,
        "version": "v3",
        "timestamp": "2025-01-15T19:00:00+05:30",
        "shipmentId": COD_SHIPMENT,
        "attributes": {
            "status": "CANCELLED",
            "orderItems": [{"orderItemId": "12251234567890100", "quantity": 1, "reason": "buyer", "subReason": "x"}],
        },
    }
    connector, http = connect(fake, sleeps)
    with http:
        event = connector.parse_webhook({}, json.dumps(body).encode())
        with pytest.raises(BadPayload):
            connector.parse_webhook({}, b"{not json")
    assert event.topic == "shipment_cancelled" and event.orders == []


# -- auth, throttling ----------------------------------------------------------------------------


def test_wrong_app_secret_is_auth_failed(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    connector, http = connect(fake, sleeps, secret="not-the-secret")
    with http, pytest.raises(ChannelAuthFailed):
        connector.fetch_page(None)
    assert fake.server.sent("POST", r"/sellers/v3/shipments/filter") == []


def test_token_is_cached_refreshed_before_expiry_and_once_on_401(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    connector, http = connect(fake, sleeps)
    listing = [Listing("LSTKTAEXAMPLE12345XABCDE1", "KRT-COT-BLU-M", {"location_id": LOCATION})]
    with http:
        connector.read_inventory(listing)
        connector.read_inventory(listing)
        assert fake.tokens_issued == 1
        token = fake.server.sent("GET", r"/oauth-service/oauth/token")[0]
        assert (token.arg("grant_type"), token.arg("scope")) == ("client_credentials", "Seller_Api")

        fake.expire_tokens()  # Flipkart forgets the token early: one 401, a new token, the call again
        assert connector.read_inventory(listing) == {"LSTKTAEXAMPLE12345XABCDE1": 7}
        assert fake.tokens_issued == 2

        connector.clock = lambda: (NOW + timedelta(seconds=3600 - 200)).timestamp()  # within the margin
        connector.read_inventory(listing)
        assert fake.tokens_issued == 3
        paths = [r.path for r in fake.server.requests]
        assert paths.count("/sellers/listings/v3/KRT-COT-BLU-M") == 5


def test_a_401_after_a_fresh_token_is_auth_failed(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    connector, http = connect(fake, sleeps)
    with http:
        connector.read_inventory([Listing("L", "KRT-COT-BLU-M")])
        fake.expire_tokens()
        fake.tokens_work = False
        with pytest.raises(ChannelAuthFailed, match="401"):
            connector.read_inventory([Listing("L", "KRT-COT-BLU-M")])
    assert fake.tokens_issued == 2  # one refresh, then no loop
    assert len(fake.server.sent("GET", r"/sellers/listings/v3/[^/]+")) == 3


def test_throttling_honours_retry_after(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    fake.throttle(r"/shipments/filter$", times=2)
    connector, http = connect(fake, sleeps)
    with http:
        page = connector.fetch_page(None)
    assert len(connector.parse_page(page.body)) == 2
    assert sleeps == [2.0, 2.0]
    assert len(fake.server.sent("POST", r"/sellers/v3/shipments/filter")) == 3


# -- inventory -----------------------------------------------------------------------------------


def test_inventory_push_batches_ten_skus_and_reports_each(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    for n in range(21):
        fake.listings[f"SKU-{n:02d}"] = {
            "listingId": f"LST{n:02d}",
            "productId": f"FSN{n:02d}",
            "listingStatus": "ACTIVE",
            "locations": [{"id": LOCATION, "status": "ENABLED", "inventory": 0}],
        }
    levels = [
        ListingQuantity(Listing(f"LST{n:02d}", f"SKU-{n:02d}", {"product_id": f"FSN{n:02d}"}), n) for n in range(21)
    ]
    levels += [
        ListingQuantity(Listing("LSTKTAEXAMPLE12345XABCDE1", "KRT-COT-BLU-M", {"fsn": "KTAEXAMPLE12345X"}), -3),
        ListingQuantity(Listing("LSTGONE", "NO-SUCH-SKU", {"product_id": "FSNX"}), 4),
        ListingQuantity(Listing("LSTWRONG", "SPK-BT-10W-BLK", {"product_id": "WRONGFSN"}), 4),
        ListingQuantity(Listing("LSTNOSKU", None, {"product_id": "FSNY"}), 4),
    ]
    connector, http = connect(fake, sleeps, location_id=LOCATION, inventory_batch_size=50)  # capped at 10
    with http:
        outcomes = connector.push_inventory(levels)
    assert [o.key for o in outcomes] == [lv.listing.listing_id for lv in levels]
    assert all(o.ok for o in outcomes[:22]), [o for o in outcomes if not o.ok]
    assert [len(call) for call in fake.inventory_calls] == [10, 10, 4]
    assert fake.inventory_calls[0]["SKU-03"] == {"product_id": "FSN03", "locations": [{"id": LOCATION, "inventory": 3}]}
    assert fake.inventory("SKU-20", LOCATION) == 20
    assert fake.inventory("KRT-COT-BLU-M", LOCATION) == 0  # a negative level is sent as 0
    gone, wrong, no_sku = outcomes[22:]
    assert not gone.ok and "not found" in gone.detail and not gone.retryable
    assert not wrong.ok and "product_id does not match" in wrong.detail
    assert not no_sku.ok and "seller SKU" in no_sku.detail
    assert fake.inventory("SPK-BT-10W-BLK", LOCATION) == 7


def test_inventory_push_when_flipkart_is_down_is_retryable(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    for _ in range(3):
        fake.fail(r"/update/inventory$", 503)
    connector, http = connect(fake, sleeps)
    listing = Listing(
        "LSTKTAEXAMPLE12345XABCDE1", "KRT-COT-BLU-M", {"product_id": "KTAEXAMPLE12345X", "location_id": LOCATION}
    )
    with http:
        (outcome,) = connector.push_inventory([ListingQuantity(listing, 5)])
    assert not outcome.ok and outcome.retryable and "503" in outcome.detail
    assert len(sleeps) == 2
    assert fake.inventory("KRT-COT-BLU-M", LOCATION) == 7


def test_read_inventory_by_listing_id(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    connector, http = connect(fake, sleeps)
    kurta = Listing(
        "LSTKTAEXAMPLE12345XABCDE1", "KRT-COT-BLU-M", {"product_id": "KTAEXAMPLE12345X", "location_id": LOCATION}
    )
    with http:
        connector.push_inventory([ListingQuantity(kurta, 25)])
        found = connector.read_inventory(
            [kurta, Listing("LSTACCEXAMPLE67890YFGHIJ2", "SPK-BT-10W-BLK"), Listing("LSTX", "NOT/THERE")]
        )
    assert found == {"LSTKTAEXAMPLE12345XABCDE1": 25, "LSTACCEXAMPLE67890YFGHIJ2": 7}
    (read,) = fake.server.sent("GET", r"/sellers/listings/v3/[^/]+")
    assert read.path == "/sellers/listings/v3/KRT-COT-BLU-M,SPK-BT-10W-BLK,NOT%2FTHERE"


# -- order status --------------------------------------------------------------------------------


def test_confirmed_generates_labels_with_tax_rates(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    connector, http = connect(fake, sleeps)
    with http:
        missing = connector.push_status(StatusUpdate(COD_ORDER, OrderStatus.CONFIRMED))
        assert not missing.ok and "GST rate" in missing.detail
        assert fake.labels == []
        outcome = connector.push_status(
            StatusUpdate(
                COD_ORDER,
                OrderStatus.CONFIRMED,
                extra={"tax_rates": {"KRT-COT-BLU-M": "5"}, "invoice_number": "EH/24-25/0042"},
            )
        )
    assert outcome.ok and outcome.key == COD_ORDER, outcome.detail
    (pack,) = fake.labels
    assert pack["shipmentId"] == COD_SHIPMENT and pack["locationId"] == LOCATION
    assert pack["taxItems"] == [{"orderItemId": "12251234567890100", "taxRate": 5.0, "quantity": 1}]
    assert pack["invoices"] == [
        {"shipmentId": COD_SHIPMENT, "invoiceNumber": "EH/24-25/0042", "invoiceDate": "2025-01-16"}
    ]
    assert pack["subShipments"] == [
        {"subShipmentId": "SS-1", "dimensions": {"length": 30, "breadth": 25, "height": 4, "weight": 0.35}}
    ]
    assert fake.status_of("12251234567890100") == "PACKED"


def test_shipped_marks_a_flipkart_shipment_ready_to_dispatch(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    connector, http = connect(fake, sleeps)
    update = StatusUpdate(PREPAID_ORDER, OrderStatus.SHIPPED, carrier="Delhivery", tracking_number="AWB123")
    with http:
        outcome = connector.push_status(update)
        assert outcome.ok and "ready to dispatch" in outcome.detail
        (rtd,) = fake.server.sent("POST", r"/sellers/v3/shipments/dispatch")
        assert rtd.json() == {"shipmentIds": [PREPAID_SHIPMENT], "locationId": LOCATION}
        assert fake.status_of("12251234567890200") == "READY_TO_DISPATCH"
        again = connector.push_status(update)
    assert again.ok and "already READY_TO_DISPATCH" in again.detail
    assert len(fake.server.sent("POST", r"/sellers/v3/shipments/dispatch")) == 1


def test_shipped_on_self_ship_packs_then_dispatches_with_carrier_and_awb(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    own = shipment_like(load("flipkart_shipments.json")["shipments"][0], 9)
    own["shipmentType"] = "SELF"
    fake.add_shipment(own)
    connector, http = connect(fake, sleeps)
    lines = [ChannelLine("LSTKTAEXAMPLE12345XABCDE1", "KRT-COT-BLU-M", 1, Decimal(899), line_id="item-0009")]
    update = StatusUpdate(
        "OD000000000000000009",
        OrderStatus.SHIPPED,
        lines=lines,
        carrier="Delhivery",
        tracking_number="1234567890123",
        extra={"tax_rates": {"item-0009": 5}},
    )
    with http:
        assert connector.push_status(update).ok
        sent = fake.self_dispatched["ship-0009"]
        assert (sent["deliveryPartner"], sent["trackingId"]) == ("Delhivery", "1234567890123")
        assert sent["dispatchDate"] == "2025-01-16T09:00:00.000+05:30"
        assert sent["tentativeDeliveryDate"] == "2025-01-21T09:00:00.000+05:30"
        assert sent["invoice"] == {"invoiceDate": "2025-01-16", "items": [{"orderItemId": "item-0009", "quantity": 1}]}
        assert fake.status_of("item-0009") == "SHIPPED"
        delivered = connector.push_status(StatusUpdate("OD000000000000000009", OrderStatus.DELIVERED))
    assert delivered.ok and fake.status_of("item-0009") == "DELIVERED"


def test_self_ship_without_awb_is_refused_before_calling(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    own = shipment_like(load("flipkart_shipments.json")["shipments"][1], 8)
    own["shipmentType"] = "SELF"
    fake.add_shipment(own)
    connector, http = connect(fake, sleeps)
    with http:
        outcome = connector.push_status(StatusUpdate("OD000000000000000008", OrderStatus.SHIPPED))
    assert not outcome.ok and "tracking number" in outcome.detail
    assert fake.self_dispatched == {}


def test_cancelled_cancels_by_cancellation_group(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    connector, http = connect(fake, sleeps)
    with http:
        outcome = connector.push_status(StatusUpdate(COD_ORDER, OrderStatus.CANCELLED, reason="out of stock"))
        late = connector.push_status(StatusUpdate(PREPAID_ORDER, OrderStatus.CANCELLED))
    assert outcome.ok, outcome.detail
    assert fake.cancelled == [
        {
            "shipmentId": COD_SHIPMENT,
            "locationId": LOCATION,
            "reason": "not_enough_inventory",
            "cancellationGroupIds": ["grp12251234567890100"],
        }
    ]
    assert fake.status_of("12251234567890100") == "CANCELLED"
    assert not late.ok and "before packing" in late.detail and len(fake.cancelled) == 1


def test_a_held_shipment_is_not_acted_on(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    fake.shipments[PREPAID_SHIPMENT]["hold"] = True
    connector, http = connect(fake, sleeps)
    with http:
        outcome = connector.push_status(StatusUpdate(PREPAID_ORDER, OrderStatus.SHIPPED))
    assert not outcome.ok and outcome.retryable and "hold" in outcome.detail
    assert fake.server.sent("POST", r"/sellers/v3/shipments/dispatch") == []


def test_unknown_order_is_a_failed_outcome(fake: FakeFlipkart, sleeps: Sleeps) -> None:
    connector, http = connect(fake, sleeps)
    with http:
        outcome = connector.push_status(StatusUpdate("OD999", OrderStatus.SHIPPED))
        other = connector.push_status(StatusUpdate(COD_ORDER, OrderStatus.ALLOCATED))
    assert not outcome.ok and "no shipment" in outcome.detail
    assert other.ok and "not told" in other.detail
