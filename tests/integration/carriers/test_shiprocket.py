"""The Shiprocket carrier against the shared fixtures and a fake Shiprocket on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ordermesh.adapters.carriers import base
from ordermesh.adapters.carriers.base import (
    Address,
    BadPayload,
    BadSignature,
    Booking,
    CarrierConfig,
    Http,
    Item,
    NdrAction,
    Parcel,
    Pickup,
    RemoteAuthFailed,
    RemoteRejected,
    RemoteUnavailable,
    ShipmentRequest,
)
from ordermesh.adapters.carriers.shiprocket import ShiprocketCarrier, ndr_reason
from ordermesh.adapters.clock import FrozenClock
from ordermesh.domain.statuses import NdrReason, ShipmentStatus
from tests.fakes.server import FakeServer, Reply
from tests.fakes.shiprocket import FIXTURES, FakeShiprocket, fixture

IST = ZoneInfo("Asia/Kolkata")
S = ShipmentStatus
WEBHOOK_TOKEN = "sr_webhook_token_do_not_use"
NDR_BODY = (FIXTURES / "shiprocket_tracking_webhook.json").read_bytes()
RTO_BODY = (FIXTURES / "shiprocket_tracking_webhook_rto_delivered.json").read_bytes()
PUNE = Address("Example Handicrafts", "Plot 7, Example Industrial Estate", "Pune", "27", "411028", "9822012345")
BENGALURU = Address(
    name="Priya Testuser",
    line1="Flat 12B, Example Residency, 4th Cross",
    line2="Indiranagar",
    city="Bengaluru",
    state="29",
    pincode="560038",
    phone="+91 98450 12345",
    email="priya.testuser@example.com",
)
PARCEL = Parcel(Decimal("30"), Decimal("25"), Decimal("10"), 1350)


def fixture_request(**changes: Any) -> ShipmentRequest:
    """The shipment that shiprocket_create_order.json books."""
    request = ShipmentRequest(
        reference="SH-1042",
        order_number="#1042",
        placed_at=datetime(2025, 1, 15, 9, 2, 30, tzinfo=UTC),  # 14:32 IST
        pickup=Pickup("Pune Warehouse", PUNE, "27AAACE0000E1ZM"),
        to=BENGALURU,
        parcel=PARCEL,
        payment="cod",
        cod_amount=Decimal("3297.00"),
        declared_value=Decimal("3297.00"),
        items=[
            Item("KRT-COT-BLU-M", "Cotton Kurta - Blue / M", 2, Decimal("899.00"), "621142", Decimal("5")),
            Item("SPK-BT-10W-BLK", "Bluetooth Speaker 10W - Black", 1, Decimal("1499.00"), "851822", Decimal("18")),
        ],
        service="12",
    )
    return replace(request, **changes)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeShiprocket]:
    with FakeShiprocket() as fake:
        yield fake


@pytest.fixture
def sr(server: FakeShiprocket) -> FakeShiprocket:
    server.reset()
    return server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def http(sr: FakeShiprocket, sleeps: Sleeps) -> Iterator[Http]:
    with Http(sr.url, sleep=sleeps, attempts=3) as client:
        yield client


def connect(
    sr: FakeShiprocket, http: Http, credentials: dict[str, str] | None = None, **settings: Any
) -> ShiprocketCarrier:
    creds = {**sr.credentials, "webhook_token": WEBHOOK_TOKEN} if credentials is None else credentials
    return ShiprocketCarrier(CarrierConfig(sr.url, creds, settings), http)


@pytest.fixture
def carrier(sr: FakeShiprocket, http: Http) -> ShiprocketCarrier:
    return connect(sr, http)


@pytest.fixture
def parser() -> Iterator[ShiprocketCarrier]:
    # Webhooks need no calls: an unreachable base URL proves it.
    config = CarrierConfig("https://apiv2.shiprocket.in/v1/external", {"webhook_token": WEBHOOK_TOKEN})
    with Http(config.base_url) as client:
        yield ShiprocketCarrier(config, client)


def webhook(**changes: Any) -> bytes:
    document = json.loads(NDR_BODY)
    document.update(changes)
    return json.dumps(document).encode()


# -- the fixtures, served as they are --------------------------------------------------------------


@pytest.fixture
def fixture_server() -> Iterator[FakeServer]:
    """A server answering with the fixture files byte for byte, behind the same login."""
    fake = FakeServer()
    fake.route("POST", r"/auth/login", lambda r: Reply.json({"token": "fixture-token"}))
    serviceability = fixture("shiprocket_serviceability_response.json")
    fake.route("GET", r"/courier/serviceability/", lambda r: Reply.json(serviceability))
    fake.route("POST", r"/orders/create/adhoc", lambda r: Reply.json(fixture("shiprocket_create_order_response.json")))
    fake.route(
        "POST", r"/courier/assign/awb", lambda r: Reply.json(fixture("shiprocket_assign_awb.json")["response_200"])
    )
    with fake:
        label = {"label_created": 1, "label_url": f"{fake.url}/label.pdf", "response": "ok", "not_created": []}
        fake.route("POST", r"/courier/generate/label", lambda r: Reply.json(label))
        fake.route("GET", r"/label\.pdf", lambda r: Reply(200, b"%PDF-1.4\n%%EOF\n"))
        yield fake


def test_the_fixture_serviceability_parses_field_by_field(fixture_server: FakeServer) -> None:
    with Http(fixture_server.url) as client:
        carrier = ShiprocketCarrier(CarrierConfig(fixture_server.url, {"email": "e", "password": "p"}), client)
        delhivery, xpressbees = carrier.quote("411028", "560038", PARCEL, cod=True, declared_value=Decimal("3297"))

    assert (delhivery.carrier, delhivery.service, delhivery.service_name) == ("shiprocket", "12", "Delhivery Surface")
    assert (delhivery.price, delhivery.cod_fee, delhivery.cod, delhivery.etd_days) == (
        Decimal("136.0"),
        Decimal("40.0"),
        True,
        5,
    )
    assert delhivery.detail["rate"] == "96.0" and delhivery.detail["etd"] == "Jan 20, 2025"
    assert (xpressbees.service, xpressbees.service_name) == ("43", "Xpressbees Surface")
    assert (xpressbees.price, xpressbees.cod_fee, xpressbees.etd_days) == (Decimal("123.5"), Decimal("35.0"), 6)
    sent = fixture_server.sent("GET", r"/courier/serviceability/")[0]
    assert sent.query == {
        "pickup_postcode": ["411028"],
        "delivery_postcode": ["560038"],
        "cod": ["1"],
        "weight": ["1.350"],
        "declared_value": ["3297"],
        "length": ["30"],
        "breadth": ["25"],
        "height": ["10"],
    }
    assert sent.header("Authorization") == "Bearer fixture-token"


def test_the_fixture_order_and_awb_responses_make_the_booking(fixture_server: FakeServer) -> None:
    with Http(fixture_server.url) as client:
        carrier = ShiprocketCarrier(CarrierConfig(fixture_server.url, {"email": "e", "password": "p"}), client)
        booking = carrier.book(fixture_request())

    assert booking.awb == "19041424751540"
    assert booking.carrier_reference == "708765432"
    assert booking.courier == "Delhivery Surface"
    assert booking.label_pdf == b"%PDF-1.4\n%%EOF\n"
    assert booking.extra["order_id"] == 712345678 and booking.extra["courier_company_id"] == 12
    assign = fixture_server.sent("POST", r"/courier/assign/awb")[0]
    assert assign.json() == fixture("shiprocket_assign_awb.json")["request"]


# -- booking: the request shape --------------------------------------------------------------------


def test_booking_sends_exactly_the_documented_order(sr: FakeShiprocket, carrier: ShiprocketCarrier) -> None:
    booking = carrier.book(fixture_request())

    [create] = sr.sent("POST", r"/orders/create/adhoc")
    expected = {k: v for k, v in fixture("shiprocket_create_order.json").items() if k not in ("_comment", "comment")}
    assert create.json() == expected
    # not just equal as numbers: the JSON types Shiprocket validates
    body = create.json()
    assert isinstance(body["billing_pincode"], int) and isinstance(body["billing_phone"], int)
    assert body["weight"] == 1.35 and body["payment_method"] == "COD" and body["shipping_is_billing"] is True
    assert create.header("Authorization") == "Bearer eyJhbGciOiJIUzI1NiJ9.fake-0001.sig"

    shipment = sr.shipments[booking.extra["shipment_id"]]
    assert sr.collect_amount(shipment) == Decimal("3297")
    [assign] = sr.sent("POST", r"/courier/assign/awb")
    assert assign.json() == {"shipment_id": shipment.shipment_id, "courier_id": 12}
    [label] = sr.sent("POST", r"/courier/generate/label")
    assert label.json() == {"shipment_id": [shipment.shipment_id]}

    assert booking.awb == shipment.awb == "19041424751541"
    assert booking.carrier_reference == str(shipment.shipment_id)
    assert booking.courier == "Delhivery Surface"
    assert booking.label_pdf is not None and booking.label_pdf.startswith(b"%PDF-1.4")
    assert f"AWB {booking.awb}".encode() in booking.label_pdf and booking.label_pdf.rstrip().endswith(b"%%EOF")
    [download] = sr.sent("GET", r"/files/labels/\d+\.pdf")
    assert download.header("Authorization") is None  # the token never goes to the file store
    assert "label_error" not in booking.extra


def test_prepaid_booking_words_weights_and_names(sr: FakeShiprocket, http: Http) -> None:
    carrier = connect(sr, http, fallback_email="orders@example.in", channel_id="3422553")
    to = replace(
        BENGALURU, name="Ravi", email=None, line2=None, company="Acme Traders", state="KA", phone="09845012345"
    )
    request = fixture_request(
        payment="prepaid",
        cod_amount=Decimal(0),
        to=to,
        parcel=Parcel(Decimal("20.5"), Decimal("15"), Decimal("7.25"), 1234),
        items=[Item("SKU-1", "Widget", 3, Decimal("33.33"))],
        service="43",
        ewaybill_number="331000123456",
        placed_at=datetime(2025, 1, 31, 20, 0, tzinfo=UTC),  # already 1 February in India
    )
    carrier.book(request)

    body = sr.sent("POST", r"/orders/create/adhoc")[0].json()
    assert body["payment_method"] == "Prepaid"
    assert body["order_date"] == "2025-02-01 01:30"
    assert body["channel_id"] == 3422553
    assert (body["billing_customer_name"], body["billing_last_name"]) == ("Ravi", "")
    assert body["billing_address"] == "Acme Traders, Flat 12B, Example Residency, 4th Cross"
    assert "billing_address_2" not in body
    assert (body["billing_state"], body["billing_email"], body["billing_phone"]) == (
        "Karnataka",
        "orders@example.in",
        9845012345,
    )
    assert body["order_items"] == [
        {"name": "Widget", "sku": "SKU-1", "units": 3, "selling_price": 33.33, "discount": 0}
    ]
    assert (body["sub_total"], body["shipping_charges"], body["total_discount"]) == (99.99, 0, 0)
    assert (body["length"], body["breadth"], body["height"], body["weight"]) == (20.5, 15, 7.25, 1.234)
    assert body["ewaybill_no"] == "331000123456"
    assert sr.sent("POST", r"/courier/assign/awb")[0].json()["courier_id"] == 43


@pytest.mark.parametrize(
    ("cod_amount", "shipping", "discount"),
    [("3347.00", 50, 0), ("1000.00", 0, 2297), ("3297.50", 0.5, 0)],
)
def test_the_cod_amount_is_what_shiprocket_collects(
    sr: FakeShiprocket, carrier: ShiprocketCarrier, cod_amount: str, shipping: float, discount: float
) -> None:
    booking = carrier.book(fixture_request(cod_amount=Decimal(cod_amount)))
    body = sr.sent("POST", r"/orders/create/adhoc")[0].json()
    assert (body["sub_total"], body["shipping_charges"], body["total_discount"]) == (3297, shipping, discount)
    assert sr.collect_amount(sr.shipments[booking.extra["shipment_id"]]) == Decimal(cod_amount)


def test_without_a_chosen_courier_shiprocket_picks_one(sr: FakeShiprocket, carrier: ShiprocketCarrier) -> None:
    booking = carrier.book(fixture_request(service=None))
    assert sr.sent("POST", r"/courier/assign/awb")[0].json() == {"shipment_id": int(booking.carrier_reference or 0)}
    assert booking.awb


def test_a_courier_that_cannot_take_the_shipment_is_refused_with_shiprocket_s_reason(
    sr: FakeShiprocket, carrier: ShiprocketCarrier
) -> None:
    delhi = replace(BENGALURU, city="New Delhi", state="07", pincode="110001")
    with pytest.raises(RemoteRejected, match="not serviceable for this shipment"):
        carrier.book(fixture_request(to=delhi, service="43"))  # Xpressbees has no COD in 110001


def test_bad_phone_numbers_and_pincodes_are_refused_before_calling(
    sr: FakeShiprocket, carrier: ShiprocketCarrier
) -> None:
    with pytest.raises(RemoteRejected, match="phone"):
        carrier.book(fixture_request(to=replace(BENGALURU, phone="98450")))
    with pytest.raises(RemoteRejected, match="pincode"):
        carrier.book(fixture_request(to=replace(BENGALURU, pincode="56003")))
    assert sr.sent("POST", r"/orders/create/adhoc") == []


def test_an_unregistered_pickup_location_is_shiprocket_s_rejection(
    sr: FakeShiprocket, carrier: ShiprocketCarrier
) -> None:
    with pytest.raises(RemoteRejected, match="Wrong Pickup location") as caught:
        carrier.book(fixture_request(pickup=Pickup("Mumbai Warehouse", PUNE)))
    assert caught.value.status == 422


def test_a_label_that_fails_does_not_undo_the_booking(sr: FakeShiprocket, carrier: ShiprocketCarrier) -> None:
    sr.labels_fail = True
    booking = carrier.book(fixture_request())
    assert booking.awb and booking.label_pdf is None
    assert "Label could not be generated" in booking.extra["label_error"]


# -- quotes ----------------------------------------------------------------------------------------


def test_cod_quotes_add_the_cod_fee_in_exact_rupees(sr: FakeShiprocket, carrier: ShiprocketCarrier) -> None:
    quotes = carrier.quote("411028", "560038", PARCEL, cod=True, declared_value=Decimal("3297.00"))

    # 1.35 kg = three 500 g slabs; COD fee: the larger of the flat fee and a percentage of the value
    assert [(q.service, q.price, q.cod_fee, q.cod, q.etd_days) for q in quotes] == [
        ("12", Decimal("145.46"), Decimal("49.46"), True, 5),  # 96.00 + 1.5% of 3297
        ("43", Decimal("129.71"), Decimal("41.21"), True, 6),  # 88.50 + 1.25% of 3297
    ]
    assert all(isinstance(q.price, Decimal) for q in quotes)
    sent = sr.sent("GET", r"/courier/serviceability/")[0]
    assert (sent.arg("cod"), sent.arg("weight"), sent.arg("declared_value")) == ("1", "1.350", "3297.00")


def test_prepaid_quotes_carry_no_cod_fee(sr: FakeShiprocket, carrier: ShiprocketCarrier) -> None:
    parcel = replace(PARCEL, weight_g=480)
    quotes = carrier.quote("411028", "560038", parcel, cod=False, declared_value=Decimal("500"))
    assert [(q.price, q.cod_fee) for q in quotes] == [(Decimal("32.0"), Decimal(0)), (Decimal("29.5"), Decimal(0))]
    assert sr.sent("GET", r"/courier/serviceability/")[0].arg("weight") == "0.480"


def test_couriers_without_cod_say_so(sr: FakeShiprocket, carrier: ShiprocketCarrier) -> None:
    delhi = carrier.quote("411028", "110001", PARCEL, cod=True, declared_value=Decimal("1000"))
    assert [(q.service, q.cod, q.cod_fee, q.price) for q in delhi] == [
        ("12", True, Decimal("40.0"), Decimal("136.0")),
        ("43", False, 0, Decimal("88.5")),
        ("54", True, Decimal("30.0"), Decimal("111.75")),
    ]
    [shillong] = carrier.quote("411028", "793001", PARCEL, cod=False, declared_value=Decimal("1000"))
    assert (shillong.service_name, shillong.cod, shillong.etd_days) == ("Ekart Logistics", False, 7)


def test_an_unserviceable_pincode_has_no_quotes(sr: FakeShiprocket, carrier: ShiprocketCarrier) -> None:
    assert carrier.quote("411028", "400001", PARCEL, cod=True, declared_value=Decimal("3297")) == []


# -- auth ------------------------------------------------------------------------------------------


def test_one_login_serves_many_calls(sr: FakeShiprocket, carrier: ShiprocketCarrier) -> None:
    for _ in range(3):
        carrier.quote("411028", "560038", PARCEL, cod=False, declared_value=Decimal("1"))
    assert sr.logins == 1
    [login] = sr.sent("POST", r"/auth/login")
    assert login.json() == {"email": sr.email, "password": sr.password}
    assert login.header("Authorization") is None


def test_an_expired_token_is_replaced_once_and_the_call_repeated(
    sr: FakeShiprocket, carrier: ShiprocketCarrier, sleeps: Sleeps
) -> None:
    carrier.quote("411028", "560038", PARCEL, cod=False, declared_value=Decimal("1"))
    sr.expire_tokens()
    quotes = carrier.quote("411028", "560038", PARCEL, cod=False, declared_value=Decimal("1"))

    assert len(quotes) == 2 and sr.logins == 2 and sleeps == []
    calls = [(r.method, r.path, r.header("Authorization")) for r in sr.requests]
    assert calls[2:] == [
        ("GET", "/courier/serviceability/", "Bearer eyJhbGciOiJIUzI1NiJ9.fake-0001.sig"),  # refused: 401
        ("POST", "/auth/login", None),
        ("GET", "/courier/serviceability/", "Bearer eyJhbGciOiJIUzI1NiJ9.fake-0002.sig"),
    ]


def test_a_token_older_than_token_days_is_renewed_before_it_is_refused(sr: FakeShiprocket, http: Http) -> None:
    carrier = connect(sr, http, token_days=2)
    clock = FrozenClock(datetime(2025, 1, 15, 6, 0, tzinfo=UTC))
    carrier.clock = clock
    carrier.quote("411028", "560038", PARCEL, cod=False, declared_value=Decimal("1"))
    clock.advance(days=1, hours=23)
    carrier.quote("411028", "560038", PARCEL, cod=False, declared_value=Decimal("1"))
    assert sr.logins == 1
    clock.advance(hours=1)
    carrier.quote("411028", "560038", PARCEL, cod=False, declared_value=Decimal("1"))
    assert sr.logins == 2
    assert [r.path for r in sr.requests].count("/auth/login") == 2


def test_the_default_token_age_is_nine_days(sr: FakeShiprocket, carrier: ShiprocketCarrier) -> None:
    clock = FrozenClock(datetime(2025, 1, 1, tzinfo=UTC))
    carrier.clock = clock
    carrier.quote("411028", "560038", PARCEL, cod=False, declared_value=Decimal("1"))
    clock.advance(days=8, hours=23)
    carrier.quote("411028", "560038", PARCEL, cod=False, declared_value=Decimal("1"))
    assert sr.logins == 1
    clock.advance(hours=1)
    carrier.quote("411028", "560038", PARCEL, cod=False, declared_value=Decimal("1"))
    assert sr.logins == 2


def test_a_refused_token_after_a_fresh_login_fails_auth(
    sr: FakeShiprocket, carrier: ShiprocketCarrier, sleeps: Sleeps
) -> None:
    sr.accept_tokens = False
    with pytest.raises(RemoteAuthFailed) as caught:
        carrier.quote("411028", "560038", PARCEL, cod=False, declared_value=Decimal("1"))
    assert caught.value.status == 401
    assert sr.logins == 2 and len(sr.sent("GET", r"/courier/serviceability/")) == 2 and sleeps == []


def test_wrong_credentials_fail_auth_without_retrying(sr: FakeShiprocket, http: Http, sleeps: Sleeps) -> None:
    carrier = connect(sr, http, {"email": sr.email, "password": "wrong"})
    with pytest.raises(RemoteAuthFailed, match="Invalid email and password combination"):
        carrier.quote("411028", "560038", PARCEL, cod=False, declared_value=Decimal("1"))
    assert len(sr.requests) == 1 and sleeps == []
    with pytest.raises(RemoteAuthFailed, match="email"):
        connect(sr, http, {}).cancel(Booking("1"))


# -- throttling and blips --------------------------------------------------------------------------


def test_throttling_is_waited_out_as_shiprocket_asks(
    sr: FakeShiprocket, carrier: ShiprocketCarrier, sleeps: Sleeps
) -> None:
    sr.throttle(2, retry_after=7)
    assert len(carrier.quote("411028", "560038", PARCEL, cod=True, declared_value=Decimal("1"))) == 2
    assert sleeps == [7.0, 7.0]
    assert [r.path for r in sr.requests] == ["/auth/login", "/auth/login", "/auth/login", "/courier/serviceability/"]


def test_a_bad_gateway_blip_is_retried_with_back_off(
    sr: FakeShiprocket, carrier: ShiprocketCarrier, sleeps: Sleeps
) -> None:
    carrier.quote("411028", "560038", PARCEL, cod=True, declared_value=Decimal("1"))
    sr.fail(1, status=502)
    booking = carrier.book(fixture_request())
    assert booking.awb
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 0.625
    assert len(sr.sent("POST", r"/orders/create/adhoc")) == 2


def test_throttling_beyond_patience_is_unavailable(
    sr: FakeShiprocket, carrier: ShiprocketCarrier, sleeps: Sleeps
) -> None:
    carrier.quote("411028", "560038", PARCEL, cod=True, declared_value=Decimal("1"))
    sr.throttle(3, retry_after=1)
    with pytest.raises(RemoteUnavailable) as caught:
        carrier.track(["19041424751540"])
    assert caught.value.retryable and caught.value.status == 429 and sleeps == [1.0, 1.0]


# -- pickup, cancellation ---------------------------------------------------------------------------


def test_pickup_for_several_shipments(sr: FakeShiprocket, carrier: ShiprocketCarrier) -> None:
    first = carrier.book(fixture_request())
    second = carrier.book(fixture_request(reference="SH-1043", service="43"))
    pickup = carrier.request_pickup([first, second], date(2025, 1, 16))

    [sent] = sr.sent("POST", r"/courier/generate/pickup")
    assert sent.json() == {"shipment_id": [int(first.carrier_reference or 0), int(second.carrier_reference or 0)]}
    assert pickup.scheduled_for == date(2025, 1, 16)
    assert pickup.reference == "Reference No: 194_BIGFOOT 2_16012025"
    assert pickup.detail == (
        f"Pickup is confirmed by Delhivery Surface, Xpressbees Surface For AWB :- {first.awb}, {second.awb}"
    )
    with pytest.raises(RemoteRejected, match="Already in Pickup Queue"):
        carrier.request_pickup([first], date(2025, 1, 16))


def test_cancelling_sends_the_awb(sr: FakeShiprocket, carrier: ShiprocketCarrier) -> None:
    booking = carrier.book(fixture_request())
    carrier.cancel(booking)
    assert sr.sent("POST", r"/orders/cancel/shipment/awbs")[0].json() == {"awbs": [booking.awb]}
    assert sr.by_awb[booking.awb].cancelled
    # Shiprocket never takes a cancelled order's id again
    with pytest.raises(RemoteRejected, match="cancelled order"):
        carrier.book(fixture_request())


def test_a_shipment_on_its_way_cannot_be_cancelled(sr: FakeShiprocket, carrier: ShiprocketCarrier) -> None:
    booking = carrier.book(fixture_request())
    sr.add_scan(booking.awb, "42", "PICKED UP", "Shipment picked up", datetime(2025, 1, 16, 13, 10))
    with pytest.raises(RemoteRejected, match="already picked up"):
        carrier.cancel(booking)


# -- tracking pull ---------------------------------------------------------------------------------


def test_tracking_pull_oldest_first_with_the_ndr_reason(sr: FakeShiprocket, carrier: ShiprocketCarrier) -> None:
    booking = carrier.book(fixture_request())
    awb = booking.awb
    sr.add_scan(awb, "NA", "NA", "Manifested - Manifest uploaded", datetime(2025, 1, 15, 15, 2, 41), "Pune")
    sr.add_scan(awb, "42", "PICKED UP", "In Transit - Shipment picked up", datetime(2025, 1, 16, 13, 10, 5), "Pune")
    sr.add_scan(awb, "18", "IN TRANSIT", "Shipment Received at Facility", datetime(2025, 1, 16, 22, 41, 37), "Chakan")
    sr.add_scan(awb, "21", "UNDELIVERED", "Pending - Address incomplete", datetime(2025, 1, 18, 19, 42, 10), "Blr")

    events = carrier.track([awb, "99999999999"])

    assert [(e.status, e.carrier_status, e.location) for e in events] == [
        (S.PICKED_UP, "42", "Pune"),
        (S.IN_TRANSIT, "18", "Chakan"),
        (S.NDR, "21", "Blr"),
    ]
    assert events[0].at == datetime(2025, 1, 16, 13, 10, 5, tzinfo=IST)
    assert events[-1].at == datetime(2025, 1, 18, 14, 12, 10, tzinfo=UTC)
    assert (events[-1].ndr_reason, events[-1].detail) == (NdrReason.ADDRESS_ISSUE, "Pending - Address incomplete")
    assert events[-1].raw["sr-status-label"] == "UNDELIVERED"
    assert all(e.awb == awb for e in events) and events[0].ndr_reason is None
    assert [r.path for r in sr.sent("GET", r"/courier/track/awb/.+")] == [
        f"/courier/track/awb/{awb}",
        "/courier/track/awb/99999999999",
    ]


def test_an_unknown_tracking_status_is_a_bad_payload(sr: FakeShiprocket, carrier: ShiprocketCarrier) -> None:
    booking = carrier.book(fixture_request())
    sr.add_scan(booking.awb, "99", "TELEPORTED", "Beamed up", datetime(2025, 1, 16, 13, 10, 5))
    with pytest.raises(BadPayload, match="99 'TELEPORTED'"):
        carrier.track([booking.awb])


# -- webhooks: auth --------------------------------------------------------------------------------


def test_the_webhook_token_is_checked(parser: ShiprocketCarrier) -> None:
    parser.verify_webhook({"x-api-key": WEBHOOK_TOKEN}, NDR_BODY)
    parser.verify_webhook({"X-Api-Key": WEBHOOK_TOKEN, "Content-Type": "application/json"}, NDR_BODY)
    with pytest.raises(BadSignature, match="does not match"):
        parser.verify_webhook({"x-api-key": WEBHOOK_TOKEN + "x"}, NDR_BODY)
    with pytest.raises(BadSignature, match="does not match"):
        parser.verify_webhook({"x-api-key": "X" + WEBHOOK_TOKEN[1:]}, NDR_BODY)
    with pytest.raises(BadSignature, match="missing"):
        parser.verify_webhook({"Authorization": f"Bearer {WEBHOOK_TOKEN}"}, NDR_BODY)
    with pytest.raises(BadSignature, match="missing"):
        parser.verify_webhook({"x-api-key": ""}, NDR_BODY)
    unconfigured = ShiprocketCarrier(CarrierConfig(parser.config.base_url, {}), parser.http)
    with pytest.raises(BadSignature, match="webhook_token"):
        unconfigured.verify_webhook({"x-api-key": WEBHOOK_TOKEN}, NDR_BODY)


# -- webhooks: parsing -----------------------------------------------------------------------------


def test_the_ndr_webhook_parses_field_by_field(parser: ShiprocketCarrier) -> None:
    events = parser.parse_webhook({"x-api-key": WEBHOOK_TOKEN}, NDR_BODY)

    # the first scan is one Shiprocket did not map ("NA"); the current status is the last scan
    assert [(e.status, e.carrier_status) for e in events] == [
        (S.PICKED_UP, "42"),
        (S.IN_TRANSIT, "18"),
        (S.OUT_FOR_DELIVERY, "17"),
        (S.NDR, "21"),
    ]
    picked, _, ofd, ndr = events
    assert picked.at == datetime(2025, 1, 16, 13, 10, 5, tzinfo=IST)
    assert picked.location == "Pune_Hadapsar_D (Maharashtra)"
    assert picked.detail == "In Transit - Shipment picked up" and picked.raw["status"] == "X-PPOM"
    assert ofd.location == "Bengaluru_Indiranagar_D (Karnataka)"
    assert all(e.awb == "19041424751540" for e in events)
    assert ndr.at == datetime(2025, 1, 18, 19, 42, 10, tzinfo=IST) == datetime(2025, 1, 18, 14, 12, 10, tzinfo=UTC)
    assert (ndr.ndr_reason, ndr.detail) == (NdrReason.CUSTOMER_UNAVAILABLE, "Pending - Consignee Unavailable")
    assert ndr.raw["status"] == "EOD-11"
    assert [e.ndr_reason for e in events[:3]] == [None, None, None]


def test_the_rto_delivered_webhook(parser: ShiprocketCarrier) -> None:
    events = parser.parse_webhook({}, RTO_BODY)
    assert [(e.status, e.carrier_status, e.at.astimezone(IST).strftime("%d %H:%M")) for e in events] == [
        (S.NDR, "21", "20 19:10"),
        (S.RTO_INITIATED, "9", "21 10:02"),
        (S.RTO_IN_TRANSIT, "46", "23 02:31"),
        (S.RTO_DELIVERED, "10", "27 12:15"),
    ]
    assert events[0].ndr_reason is NdrReason.REFUSED
    assert events[-1].location == "Pune_Hadapsar_D (Maharashtra)"


def test_a_current_status_without_its_scan_is_an_event_of_its_own(parser: ShiprocketCarrier) -> None:
    events = parser.parse_webhook(
        {},
        webhook(
            awb=19041424751540,  # some senders use a number
            current_status="DELIVERED",
            current_status_id=7,
            shipment_status="DELIVERED",
            shipment_status_id=7,
            current_timestamp="20 01 2025 11:05:00",
            scans=[],
        ),
    )
    [delivered] = events
    assert (delivered.awb, delivered.status, delivered.carrier_status) == ("19041424751540", S.DELIVERED, "7")
    assert delivered.at == datetime(2025, 1, 20, 5, 35, tzinfo=UTC)
    assert (
        delivered.detail == "DELIVERED" and "scans" not in delivered.raw and delivered.raw["sr_order_id"] == 712345678
    )

    # an NDR whose scan came earlier takes its reason from the last NDR scan
    document = json.loads(NDR_BODY)
    document["current_timestamp"] = "18 01 2025 19:45:00"
    events = parser.parse_webhook({}, json.dumps(document).encode())
    assert len(events) == 5 and events[-1].status is S.NDR
    assert events[-1].ndr_reason is NdrReason.CUSTOMER_UNAVAILABLE


def test_the_label_decides_when_codes_disagree(parser: ShiprocketCarrier) -> None:
    # from code 27 up sources number differently: the label wins over the number
    [event] = parser.parse_webhook({}, webhook(shipment_status_id=99, shipment_status="RTO IN TRANSIT", scans=[]))
    assert event.status is S.RTO_IN_TRANSIT and event.carrier_status == "99"
    [event] = parser.parse_webhook({}, webhook(shipment_status_id=18, shipment_status="In Transit (hub)", scans=[]))
    assert event.status is S.IN_TRANSIT


def test_unknown_statuses_and_broken_bodies_are_bad_payloads(parser: ShiprocketCarrier) -> None:
    with pytest.raises(BadPayload, match="27 'PICKUP BOOKED'"):
        parser.parse_webhook({}, webhook(shipment_status_id=27, shipment_status="PICKUP BOOKED", scans=[]))
    document = json.loads(NDR_BODY)
    document["scans"][1]["sr-status"], document["scans"][1]["sr-status-label"] = "63", "WAITING"
    with pytest.raises(BadPayload, match="63 'WAITING'"):
        parser.parse_webhook({}, json.dumps(document).encode())
    with pytest.raises(BadPayload, match="not a time"):
        parser.parse_webhook({}, webhook(current_timestamp="yesterday", scans=[]))
    with pytest.raises(BadPayload, match="awb"):
        parser.parse_webhook({}, webhook(awb=""))
    with pytest.raises(BadPayload, match="JSON"):
        parser.parse_webhook({}, b"<html>")


# -- every status ----------------------------------------------------------------------------------

EXPECTED: dict[str, ShipmentStatus] = {
    "1": S.READY_TO_SHIP,
    "2": S.READY_TO_SHIP,
    "3": S.MANIFESTED,
    "4": S.MANIFESTED,
    "5": S.MANIFESTED,
    "6": S.IN_TRANSIT,
    "7": S.DELIVERED,
    "8": S.CANCELLED,
    "9": S.RTO_INITIATED,
    "10": S.RTO_DELIVERED,
    "11": S.IN_TRANSIT,
    "12": S.LOST,
    "13": S.MANIFESTED,
    "14": S.RTO_DELIVERED,
    "15": S.MANIFESTED,
    "16": S.CANCELLED,
    "17": S.OUT_FOR_DELIVERY,
    "18": S.IN_TRANSIT,
    "19": S.MANIFESTED,
    "20": S.MANIFESTED,
    "21": S.NDR,
    "22": S.IN_TRANSIT,
    "23": S.DELIVERED,
    "24": S.LOST,
    "25": S.LOST,
    "26": S.DELIVERED,
    "38": S.IN_TRANSIT,
    "39": S.IN_TRANSIT,
    "40": S.RTO_IN_TRANSIT,
    "41": S.RTO_IN_TRANSIT,
    "42": S.PICKED_UP,
    "43": S.DELIVERED,
    "44": S.LOST,
    "45": S.CANCELLED,
    "46": S.RTO_IN_TRANSIT,
    "47": S.MANIFESTED,
    "48": S.IN_TRANSIT,
    "51": S.PICKED_UP,
    "52": S.READY_TO_SHIP,
    "75": S.RTO_INITIATED,
    "76": S.LOST,
    "77": S.NDR,
    "78": S.RTO_IN_TRANSIT,
    "AWB ASSIGNED": S.READY_TO_SHIP,
    "LABEL GENERATED": S.READY_TO_SHIP,
    "PICKUP SCHEDULED/GENERATED": S.MANIFESTED,
    "PICKUP QUEUED": S.MANIFESTED,
    "MANIFEST GENERATED": S.MANIFESTED,
    "SHIPPED": S.IN_TRANSIT,
    "DELIVERED": S.DELIVERED,
    "CANCELLED": S.CANCELLED,
    "RTO INITIATED": S.RTO_INITIATED,
    "RTO DELIVERED": S.RTO_DELIVERED,
    "PENDING": S.IN_TRANSIT,
    "LOST": S.LOST,
    "PICKUP ERROR": S.MANIFESTED,
    "RTO ACKNOWLEDGED": S.RTO_DELIVERED,
    "PICKUP RESCHEDULED": S.MANIFESTED,
    "CANCELLATION REQUESTED": S.CANCELLED,
    "OUT FOR DELIVERY": S.OUT_FOR_DELIVERY,
    "IN TRANSIT": S.IN_TRANSIT,
    "OUT FOR PICKUP": S.MANIFESTED,
    "PICKUP EXCEPTION": S.MANIFESTED,
    "UNDELIVERED": S.NDR,
    "DELAYED": S.IN_TRANSIT,
    "PARTIAL DELIVERED": S.DELIVERED,
    "DESTROYED": S.LOST,
    "DAMAGED": S.LOST,
    "FULFILLED": S.DELIVERED,
    "REACHED AT DESTINATION HUB": S.IN_TRANSIT,
    "MISROUTED": S.IN_TRANSIT,
    "RTO NDR": S.RTO_IN_TRANSIT,
    "RTO OFD": S.RTO_IN_TRANSIT,
    "PICKED UP": S.PICKED_UP,
    "SELF FULFILLED": S.DELIVERED,
    "DISPOSED OFF": S.LOST,
    "CANCELLED BEFORE DISPATCHED": S.CANCELLED,
    "RTO IN TRANSIT": S.RTO_IN_TRANSIT,
    "QC FAILED": S.MANIFESTED,
    "REACHED WAREHOUSE": S.IN_TRANSIT,
    "HANDOVER TO COURIER": S.PICKED_UP,
    "SHIPMENT BOOKED": S.READY_TO_SHIP,
    "RTO LOCK": S.RTO_INITIATED,
    "UNTRACEABLE": S.LOST,
    "ISSUE RELATED TO THE RECIPIENT": S.NDR,
    "REACHED BACK AT SELLER CITY": S.RTO_IN_TRANSIT,
}


def test_the_status_map_covers_exactly_the_documented_codes_and_labels() -> None:
    assert dict(ShiprocketCarrier.STATUS_MAP) == EXPECTED
    codes = {k for k in EXPECTED if k.isdigit()}
    assert codes == {str(n) for n in range(1, 27)} | {str(n) for n in (38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48)} | {
        "51",
        "52",
        "75",
        "76",
        "77",
        "78",
    }


@pytest.mark.parametrize(("key", "expected"), EXPECTED.items())
def test_every_status_in_a_webhook_and_a_scan(parser: ShiprocketCarrier, key: str, expected: ShipmentStatus) -> None:
    code, label = (key, "") if key.isdigit() else ("", key.lower())  # labels in any case
    scan = {
        "date": "2025-01-16 13:10:05",
        "status": "X",
        "activity": "Pending - Consignee Unavailable",
        "location": "Hub",
        "sr-status": code or "NA",
        "sr-status-label": label or "NA",
    }
    body = webhook(
        shipment_status_id=code,
        shipment_status=label,
        current_status_id=code,
        current_status=label,
        current_timestamp="16 01 2025 13:10:05",
        scans=[scan],
    )
    [event] = parser.parse_webhook({}, body)
    assert event.status is expected
    assert event.carrier_status == (code or label)
    assert event.ndr_reason is (NdrReason.CUSTOMER_UNAVAILABLE if expected is S.NDR else None)


# -- NDR -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("activity", "reason"),
    [
        ("Pending - Consignee Unavailable", NdrReason.CUSTOMER_UNAVAILABLE),
        ("Consignee not available, door locked", NdrReason.CUSTOMER_UNAVAILABLE),
        ("Pending - Consignee refused to accept/order cancelled", NdrReason.REFUSED),
        ("Customer refused - not available to pay", NdrReason.REFUSED),
        ("COD amount not ready", NdrReason.COD_NOT_READY),
        ("Consignee asked to reschedule delivery", NdrReason.RESCHEDULE_REQUESTED),
        ("Customer requested future delivery", NdrReason.RESCHEDULE_REQUESTED),
        ("Address incomplete / wrong", NdrReason.ADDRESS_ISSUE),
        ("Out of delivery area", NdrReason.OUT_OF_DELIVERY_AREA),
        ("ODA location - shipment held", NdrReason.OUT_OF_DELIVERY_AREA),
        ("Shipment held for Kodagu route", NdrReason.OTHER),  # "oda" inside a word is no ODA
        ("Consignee will collect", NdrReason.OTHER),
        (None, NdrReason.OTHER),
    ],
)
def test_ndr_reasons_from_the_scan_text(activity: str | None, reason: NdrReason) -> None:
    assert ndr_reason(activity) is reason


@pytest.fixture
def undelivered(sr: FakeShiprocket, carrier: ShiprocketCarrier) -> str:
    awb = carrier.book(fixture_request()).awb
    sr.add_scan(awb, "21", "UNDELIVERED", "Pending - Consignee Unavailable", datetime(2025, 1, 18, 19, 42, 10))
    return awb


def test_ndr_reattempt_on_a_date_with_a_comment(
    sr: FakeShiprocket, carrier: ShiprocketCarrier, undelivered: str
) -> None:
    carrier.ndr_action(NdrAction(undelivered, "reattempt", date(2025, 1, 20), comment="Buyer home after 6 pm"))
    [sent] = sr.sent("POST", rf"/ndr/{undelivered}/action")
    assert sent.json() == {"action": "re-attempt", "deferred_date": "2025-01-20", "comments": "Buyer home after 6 pm"}
    assert sr.ndr_actions == [{"awb": undelivered, **sent.json()}]


def test_ndr_return_and_address_update(sr: FakeShiprocket, carrier: ShiprocketCarrier, undelivered: str) -> None:
    new = replace(BENGALURU, line1="Flat 14C, Example Residency", line2=None)
    carrier.ndr_action(NdrAction(undelivered, "update_address", address=new, phone="9845099999"))
    carrier.ndr_action(NdrAction(undelivered, "rto"))
    assert [a for a in sr.ndr_actions] == [
        {
            "awb": undelivered,
            "action": "re-attempt",
            "comments": "New address: Priya Testuser, Flat 14C, Example Residency, Bengaluru, 560038; "
            "New phone: 9845099999",
        },
        {"awb": undelivered, "action": "return"},
    ]


def test_ndr_actions_shiprocket_or_we_refuse(sr: FakeShiprocket, carrier: ShiprocketCarrier) -> None:
    booking = carrier.book(fixture_request())
    with pytest.raises(RemoteRejected, match="undelivered"):
        carrier.ndr_action(NdrAction(booking.awb, "reattempt"))
    with pytest.raises(RemoteRejected, match="'hold'"):
        carrier.ndr_action(NdrAction(booking.awb, "hold"))
    with pytest.raises(RemoteRejected, match="no address or phone"):
        carrier.ndr_action(NdrAction(booking.awb, "update_address"))
    assert sr.ndr_actions == []


# -- registry --------------------------------------------------------------------------------------


def test_the_adapter_registers_its_code() -> None:
    assert base._REGISTRY["shiprocket"] is ShiprocketCarrier
    assert ShiprocketCarrier.code == "shiprocket"
