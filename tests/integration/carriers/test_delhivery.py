"""The Delhivery adapter against the shared fixtures and a fake Delhivery API on 127.0.0.1."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

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
from ordermesh.adapters.carriers.delhivery import NDR_REASONS, STATUS_MAP, DelhiveryAdapter, _first_charge
from ordermesh.domain.statuses import NdrReason, ShipmentStatus
from tests.fakes.delhivery import FIXTURE_AWB, FIXTURES, MINIMAL_PDF, WAREHOUSE, FakeDelhivery, fixture
from tests.fakes.server import Reply

IST = timezone(timedelta(hours=5, minutes=30))
WEBHOOK_TOKEN = "whk-test-secret-0001"
NDR_PUSH = (FIXTURES / "delhivery_scan_push_webhook.json").read_bytes()
RTO_PUSH = (FIXTURES / "delhivery_scan_push_webhook_rto_delivered.json").read_bytes()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeDelhivery]:
    with FakeDelhivery() as fake:
        yield fake


@pytest.fixture
def dlv(server: FakeDelhivery) -> FakeDelhivery:
    server.reset()
    return server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def http(dlv: FakeDelhivery, sleeps: Sleeps) -> Iterator[Http]:
    with Http(dlv.url, sleep=sleeps, attempts=3) as client:
        yield client


def connect(dlv: FakeDelhivery, http: Http, *, token: str | None = None, **settings: Any) -> DelhiveryAdapter:
    credentials = {"api_token": token or dlv.token, "webhook_token": WEBHOOK_TOKEN}
    return DelhiveryAdapter(CarrierConfig(dlv.url, credentials, settings), http)


@pytest.fixture
def adapter(dlv: FakeDelhivery, http: Http) -> DelhiveryAdapter:
    return connect(dlv, http, etd_days={"Surface": 5, "Express": 2})


@pytest.fixture
def parser() -> Iterator[DelhiveryAdapter]:
    # Parsing and verification make no calls: an unreachable host proves it.
    config = CarrierConfig("https://track.delhivery.invalid", {"webhook_token": WEBHOOK_TOKEN}, {})
    with Http(config.base_url) as client:
        yield DelhiveryAdapter(config, client)


PUNE = Address(
    name="Example Handicrafts",
    company="Example Handicrafts Pvt Ltd",
    line1="Unit 7, Example Industrial Estate",
    line2="Hadapsar",
    city="Pune",
    state="MH",
    pincode="411028",
    phone="9822000000",
)
PRIYA = Address(
    name="Priya Testuser",
    line1="Flat 12B, Example Residency, 4th Cross",
    line2="Indiranagar",
    city="Bengaluru",
    state="29",  # a GST state code: Delhivery gets the name
    pincode="560038",
    phone="9845012345",
)
PARCEL = Parcel(length_cm=Decimal("30"), breadth_cm=Decimal("25"), height_cm=Decimal("10"), weight_g=1350)


def request_1042(**changes: Any) -> ShipmentRequest:
    """The shipment of the fixture create order (delhivery_create_order.json)."""
    values: dict[str, Any] = {
        "reference": "SH-1042",
        "order_number": "#1042",
        "placed_at": datetime(2025, 1, 15, 9, 2, 10, tzinfo=UTC),
        "pickup": Pickup(name=WAREHOUSE, address=PUNE, gstin="27AAACE0000E1ZM"),
        "to": PRIYA,
        "parcel": PARCEL,
        "payment": "cod",
        "cod_amount": Decimal("3297.00"),
        "declared_value": Decimal("3297.00"),
        "items": [
            Item("KRT-COT-BLU-M", "Cotton Kurta", 2, Decimal("899.00"), hsn="621142", gst_rate=Decimal(5)),
            Item("SPK-BT-10W-BLK", "Bluetooth Speaker", 1, Decimal("1499.00"), hsn="851822", gst_rate=Decimal(18)),
        ],
        "service": "Surface",
        "invoice_number": "EHPL/24-25/0154",
    }
    values.update(changes)
    return ShipmentRequest(**values)


def created_data(dlv: FakeDelhivery) -> dict[str, Any]:
    [sent] = dlv.server.sent("POST", r"/api/cmu/create\.json")
    form = parse_qs(sent.body.decode(), strict_parsing=True)
    assert set(form) == {"format", "data"} and form["format"] == ["json"]
    return json.loads(form["data"][0])


# -- registration ----------------------------------------------------------------------------------


def test_the_adapter_registers_under_its_code() -> None:
    assert base._REGISTRY["delhivery"] is DelhiveryAdapter
    assert DelhiveryAdapter.code == "delhivery"


# -- the fixtures, field by field ------------------------------------------------------------------


def test_the_fixture_tracking_response_parses_field_by_field(parser: DelhiveryAdapter) -> None:
    events = parser.parse_tracking(fixture("delhivery_tracking.json"))

    assert [e.awb for e in events] == [FIXTURE_AWB] * 5
    assert [e.status for e in events] == [
        ShipmentStatus.MANIFESTED,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.NDR,
    ]
    assert [e.carrier_status for e in events] == [
        "UD/Manifested",
        "UD/In Transit",
        "UD/In Transit",
        "UD/Dispatched",
        "UD/Pending",
    ]
    first, picked, hub, ofd, ndr = events
    assert first.at == datetime(2025, 1, 15, 15, 2, 41, 312000, tzinfo=IST)
    assert first.at.utcoffset() == timedelta(hours=5, minutes=30)
    assert first.location == "Pune_Hadapsar_D (Maharashtra)" and first.detail == "Manifest uploaded"
    assert picked.raw["StatusCode"] == "X-PPOM" and picked.detail == "Shipment picked up"
    assert hub.location == "Pune_Chakan_GW (Maharashtra)"
    assert ofd.detail == "Out for delivery" and ofd.ndr_reason is None
    assert ndr.at == datetime(2025, 1, 18, 14, 12, 10, 512000, tzinfo=UTC)
    assert ndr.ndr_reason is NdrReason.CUSTOMER_UNAVAILABLE
    assert ndr.detail == "Consignee Unavailable"  # Delhivery's own words are kept
    assert ndr.location == "Bengaluru_Indiranagar_D (Karnataka)"
    assert ndr.raw["nsl_code"] == "EOD-11"


def test_the_fixture_ndr_push_parses_field_by_field(parser: DelhiveryAdapter) -> None:
    [event] = parser.parse_webhook({}, NDR_PUSH)

    assert event.awb == FIXTURE_AWB
    assert event.status is ShipmentStatus.NDR
    assert event.carrier_status == "UD/Pending"
    assert event.ndr_reason is NdrReason.CUSTOMER_UNAVAILABLE
    assert event.detail == "Consignee Unavailable"
    assert event.location == "Bengaluru_Indiranagar_D (Karnataka)"
    assert event.at == datetime(2025, 1, 18, 19, 42, 10, 512000, tzinfo=IST)
    assert event.raw["ReferenceNo"] == "SH-1042" and event.raw["Sortcode"] == "BLR/IND"


def test_the_fixture_rto_delivered_push_parses(parser: DelhiveryAdapter) -> None:
    [event] = parser.parse_webhook({}, RTO_PUSH)

    assert event.status is ShipmentStatus.RTO_DELIVERED
    assert event.carrier_status == "DL/RTO"
    assert event.ndr_reason is None  # an RT-* code is not a failed delivery
    assert event.detail == "Returned to shipper"
    assert event.at == datetime(2025, 1, 27, 12, 15, 48, 233000, tzinfo=IST)
    assert event.location == "Pune_Hadapsar_D (Maharashtra)"


def test_the_flat_delhivery_one_push_parses(parser: DelhiveryAdapter) -> None:
    body = {
        "waybill": FIXTURE_AWB,
        "status": "Pending",
        "Status DateTime": "2025-01-18 19:42:10",
        "City": "Bengaluru",
        "Scan Type": "UD",
        "Scan": "Pending",
        "ReferenceNo": "SH-1042",
        "Instructions": "Customer refused to accept the shipment",
        "NSLCode": "EOD-6",
    }
    [event] = parser.parse_webhook({}, json.dumps(body).encode())

    assert event.awb == FIXTURE_AWB
    assert event.status is ShipmentStatus.NDR
    assert event.ndr_reason is NdrReason.REFUSED
    assert event.location == "Bengaluru"
    assert event.at == datetime(2025, 1, 18, 19, 42, 10, tzinfo=IST)
    assert event.detail == "Customer refused to accept the shipment"


def test_a_list_of_flat_pushes_gives_every_event_oldest_first(parser: DelhiveryAdapter) -> None:
    later = {"waybill": "1", "Scan Type": "DL", "Scan": "Delivered", "Status DateTime": "2025-01-20T10:00:00"}
    earlier = {"waybill": "1", "Scan Type": "UD", "Scan": "Dispatched", "Status DateTime": "2025-01-20T08:00:00"}
    events = parser.parse_webhook({}, json.dumps([later, earlier]).encode())

    assert [e.status for e in events] == [ShipmentStatus.OUT_FOR_DELIVERY, ShipmentStatus.DELIVERED]


def test_the_flat_shape_falls_back_to_status_when_scan_is_a_description(parser: DelhiveryAdapter) -> None:
    body = {"waybill": "9", "Scan Type": "RT", "Scan": "Shipment marked for RTO", "status": "In Transit"}
    body["Status DateTime"] = "2025-01-21T11:00:00"
    [event] = parser.parse_webhook({}, json.dumps(body).encode())

    assert event.status is ShipmentStatus.RTO_INITIATED and event.carrier_status == "RT/In Transit"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"something": "else"}',
        b'{"Shipment": {"AWB": "1", "Status": {"StatusType": "UD", "Status": "Teleported", "StatusDateTime": "2025-01-01T00:00:00"}}}',
        b'{"Shipment": {"AWB": "1", "Status": {"StatusType": "UD", "Status": "Pending", "StatusDateTime": "yesterday"}}}',
        b'{"Shipment": {"AWB": "", "Status": {"StatusType": "UD", "Status": "Pending", "StatusDateTime": "2025-01-01T00:00:00"}}}',
    ],
)
def test_unreadable_pushes_are_bad_payloads(parser: DelhiveryAdapter, body: bytes) -> None:
    with pytest.raises(BadPayload):
        parser.parse_webhook({}, body)


def test_an_unknown_status_names_the_words(parser: DelhiveryAdapter) -> None:
    body = {"Shipment": {"AWB": "1", "Status": {"StatusType": "XX", "Status": "Lost in space"}}}
    body["Shipment"]["Status"]["StatusDateTime"] = "2025-01-01T00:00:00"
    with pytest.raises(BadPayload, match="XX/Lost in space"):
        parser.parse_webhook({}, json.dumps(body).encode())


def test_extra_statuses_from_settings_extend_the_table(dlv: FakeDelhivery, http: Http) -> None:
    adapter = connect(dlv, http, extra_statuses={"LT/Lost": "lost"})
    body = {"waybill": "1", "Scan Type": "LT", "Scan": "Lost", "Status DateTime": "2025-01-01T00:00:00"}
    [event] = adapter.parse_webhook({}, json.dumps(body).encode())
    assert event.status is ShipmentStatus.LOST


# -- every status and NDR reason -------------------------------------------------------------------

_WORD_FOR_TYPE = {"CN": "Canceled", "PP": "Open", "PU": "In Transit"}


@pytest.mark.parametrize(("key", "ours"), sorted(STATUS_MAP.items()))
def test_every_status_in_the_table(parser: DelhiveryAdapter, key: str, ours: ShipmentStatus) -> None:
    kind, _, word = key.partition("/")
    word = word or _WORD_FOR_TYPE[kind]
    push = {"Shipment": {"AWB": "77", "Status": {"StatusType": kind, "Status": word}}}
    push["Shipment"]["Status"]["StatusDateTime"] = "2025-02-01T10:00:00"
    [event] = parser.parse_webhook({}, json.dumps(push).encode())

    assert event.status is ours
    assert event.carrier_status == f"{kind}/{word}"
    assert (event.ndr_reason is not None) == (ours is ShipmentStatus.NDR)


def test_status_words_are_matched_whatever_their_case(parser: DelhiveryAdapter) -> None:
    assert parser.status_of("ud", "in  transit")[1] is ShipmentStatus.IN_TRANSIT
    assert parser.status_of("DL", "rto")[1] is ShipmentStatus.RTO_DELIVERED


@pytest.mark.parametrize(("code", "reason"), sorted(NDR_REASONS.items()))
def test_every_ndr_reason_in_the_table(parser: DelhiveryAdapter, code: str, reason: NdrReason) -> None:
    push = {"Shipment": {"AWB": "78", "NSLCode": code, "Status": {"StatusType": "UD", "Status": "Pending"}}}
    push["Shipment"]["Status"].update(StatusDateTime="2025-02-01T20:00:00", Instructions="as Delhivery wrote it")
    [event] = parser.parse_webhook({}, json.dumps(push).encode())

    assert event.status is ShipmentStatus.NDR
    assert event.ndr_reason is reason
    assert event.detail == "as Delhivery wrote it"


def test_an_eod_code_on_an_undelivered_scan_is_an_ndr_and_unknown_codes_are_other(parser: DelhiveryAdapter) -> None:
    push = {"Shipment": {"AWB": "79", "NSLCode": "EOD-999", "Status": {"StatusType": "UD", "Status": "Dispatched"}}}
    push["Shipment"]["Status"]["StatusDateTime"] = "2025-02-01T20:00:00"
    [event] = parser.parse_webhook({}, json.dumps(push).encode())
    assert event.status is ShipmentStatus.NDR and event.ndr_reason is NdrReason.OTHER

    delivered = {"Shipment": {"AWB": "79", "NSLCode": "EOD-38", "Status": {"StatusType": "DL", "Status": "Delivered"}}}
    delivered["Shipment"]["Status"]["StatusDateTime"] = "2025-02-02T12:00:00"
    [event] = parser.parse_webhook({}, json.dumps(delivered).encode())
    assert event.status is ShipmentStatus.DELIVERED and event.ndr_reason is None


# -- webhook authentication ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [f"Token {WEBHOOK_TOKEN}", WEBHOOK_TOKEN, f"token   {WEBHOOK_TOKEN}"])
def test_the_shared_token_passes(parser: DelhiveryAdapter, value: str) -> None:
    parser.verify_webhook({"authorization": value}, NDR_PUSH)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": f"Token {WEBHOOK_TOKEN}x"},
        {"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
        {"Authorization": WEBHOOK_TOKEN[:-1]},
        {"X-Delhivery-Token": WEBHOOK_TOKEN},
    ],
)
def test_a_wrong_or_missing_token_is_refused(parser: DelhiveryAdapter, headers: dict[str, str]) -> None:
    with pytest.raises(BadSignature):
        parser.verify_webhook(headers, NDR_PUSH)


def test_the_header_name_comes_from_settings(dlv: FakeDelhivery, http: Http) -> None:
    adapter = connect(dlv, http, webhook_header="X-Delhivery-Token")
    adapter.verify_webhook({"x-delhivery-token": WEBHOOK_TOKEN}, NDR_PUSH)
    with pytest.raises(BadSignature):
        adapter.verify_webhook({"Authorization": f"Token {WEBHOOK_TOKEN}"}, NDR_PUSH)


def test_without_a_configured_token_every_push_is_refused(http: Http, dlv: FakeDelhivery) -> None:
    adapter = DelhiveryAdapter(CarrierConfig(dlv.url, {"api_token": dlv.token}), http)
    with pytest.raises(BadSignature, match="webhook_token"):
        adapter.verify_webhook({"Authorization": "Token "}, NDR_PUSH)


# -- quotes ----------------------------------------------------------------------------------------


def test_prepaid_quotes_for_both_modes_with_exact_prices(adapter: DelhiveryAdapter, dlv: FakeDelhivery) -> None:
    quotes = adapter.quote("411028", "560038", PARCEL, cod=False, declared_value=Decimal("3297.00"))

    surface, express = quotes
    # 1350 g -> 3 slabs of 500 g, zone D; +18% GST.
    assert (surface.service, surface.service_name) == ("Surface", "Delhivery Surface")
    assert surface.price == Decimal("194.7") and surface.cod_fee == Decimal(0)
    assert (express.service, express.price) == ("Express", Decimal("300.9"))
    assert surface.carrier == express.carrier == "delhivery"
    assert surface.cod is True and express.cod is True  # the pincode takes COD
    assert (surface.etd_days, express.etd_days) == (5, 2)
    assert surface.detail["zone"] == "D" and surface.detail["is_oda"] is False
    assert surface.detail["gross_amount"] == "165.0" and surface.detail["mode"] == "S"

    [pin_call] = dlv.server.sent("GET", r"/c/api/pin-codes/json/")
    assert pin_call.arg("filter_codes") == "560038"
    calls = dlv.server.sent("GET", r"/api/kinko/v1/invoice/charges/\.json")
    assert [c.arg("md") for c in calls] == ["S", "E"]
    for call in calls:
        assert call.header("Authorization") == f"Token {dlv.token}"
        assert (call.arg("ss"), call.arg("pt"), call.arg("o_pin"), call.arg("d_pin")) == (
            "Delivered",
            "Pre-paid",
            "411028",
            "560038",
        )
        # 30×25×10 cm = 7500 cm³ / 5000 = 1.5 kg volumetric, above the 1350 g dead weight
        assert call.arg("cgm") == "1500" and call.arg("cod") == "0"


def test_a_cod_quote_carries_the_cod_fee_inside_the_price(adapter: DelhiveryAdapter, dlv: FakeDelhivery) -> None:
    surface, _express = adapter.quote("411028", "560038", PARCEL, cod=True, declared_value=Decimal("3297"))

    # freight 165 + COD 1.5% of 3297 = 49.46; gross 214.46; GST 38.60.
    assert surface.cod_fee == Decimal("49.46")
    assert surface.price == Decimal("253.06")
    call = dlv.server.sent("GET", r"/api/kinko/v1/invoice/charges/\.json")[0]
    assert (call.arg("pt"), call.arg("cod")) == ("COD", "3297.00")


def test_an_unserviceable_pincode_gives_no_quotes_and_no_rate_call(
    adapter: DelhiveryAdapter, dlv: FakeDelhivery
) -> None:
    assert adapter.quote("411028", "999999", PARCEL, cod=False, declared_value=Decimal(500)) == []
    assert dlv.server.sent("GET", r"/api/kinko/v1/invoice/charges/\.json") == []


def test_a_prepaid_only_pincode_refuses_cod_but_quotes_prepaid(adapter: DelhiveryAdapter) -> None:
    assert adapter.quote("411028", "110001", PARCEL, cod=True, declared_value=Decimal(999)) == []

    quotes = adapter.quote("411028", "110001", PARCEL, cod=False, declared_value=Decimal(999))
    assert [q.service for q in quotes] == ["Surface", "Express"]
    assert all(q.cod is False for q in quotes)


def test_oda_pincodes_say_so_and_volumetric_weight_is_charged(adapter: DelhiveryAdapter, dlv: FakeDelhivery) -> None:
    bulky = Parcel(Decimal("40"), Decimal("30"), Decimal("30"), weight_g=900)  # 36000 cm³ / 5000 = 7.2 kg
    [surface, _] = adapter.quote("411028", "799001", bulky, cod=False, declared_value=Decimal(500))

    assert surface.detail["is_oda"] is True
    assert dlv.server.sent("GET", r"/api/kinko/v1/invoice/charges/\.json")[0].arg("cgm") == "7200"
    assert surface.price == Decimal("973.5")  # 15 slabs × 55, +18%


def test_settings_choose_the_modes_and_etd_is_unknown_without_settings(dlv: FakeDelhivery, http: Http) -> None:
    adapter = connect(dlv, http, shipping_mode="Express")
    [quote] = adapter.quote("411028", "560038", PARCEL, cod=False, declared_value=Decimal(500))
    assert quote.service == "Express" and quote.etd_days is None
    assert [c.arg("md") for c in dlv.server.sent("GET", r"/api/kinko/v1/invoice/charges/\.json")] == ["E"]


@pytest.mark.parametrize(
    "body",
    [
        [{"total_amount": 81.03, "charge_COD": 20}],
        {"data": [{"total_amount": 81.03, "charge_COD": 20}]},
        {"0": {"total_amount": 81.03, "charge_COD": 20}, "_crm": {}},
    ],
)
def test_the_rate_answer_is_read_in_each_public_shape(body: Any) -> None:
    charge = _first_charge(body)
    assert charge is not None and (charge["total_amount"], charge["charge_COD"]) == (81.03, 20)


def test_a_rate_answer_without_a_total_is_a_bad_payload(adapter: DelhiveryAdapter, dlv: FakeDelhivery) -> None:
    with pytest.raises(BadPayload):
        _first_charge({"unexpected": True})
    dlv.server.routes.insert(0, ("GET", re.compile(r"/api/kinko/v1/invoice/charges/\.json\Z"), _no_total))
    try:
        with pytest.raises(BadPayload, match="total_amount"):
            adapter.quote("411028", "560038", PARCEL, cod=False, declared_value=Decimal(1))
    finally:
        dlv.server.routes.pop(0)


def _no_total(_request: Any) -> Reply:
    return Reply.json([{"gross_amount": 10}])


# -- booking ---------------------------------------------------------------------------------------


def test_booking_sends_the_documented_form_body(adapter: DelhiveryAdapter, dlv: FakeDelhivery) -> None:
    booking = adapter.book(request_1042())

    [sent] = dlv.server.sent("POST", r"/api/cmu/create\.json")
    assert sent.header("Content-Type") == "application/x-www-form-urlencoded"
    assert sent.header("Authorization") == f"Token {dlv.token}"
    data = created_data(dlv)
    expected = fixture("delhivery_create_order.json")
    assert data["pickup_location"] == expected["pickup_location"] == {"name": WAREHOUSE}
    [shipment] = data["shipments"]
    for key, value in expected["shipments"][0].items():
        if key == "address_type":
            continue  # not known from an ordermesh address
        assert shipment[key] == value, key
    assert shipment["weight"] == "1350"  # grams
    assert shipment["payment_mode"] == "COD" and shipment["cod_amount"] == "3297.00"
    assert shipment["state"] == "Karnataka" and shipment["return_state"] == "Maharashtra"
    assert shipment["shipment_length"] == "30"
    assert "ewbn" not in shipment

    assert booking.awb in dlv.shipments and booking.awb.isdigit()
    assert booking.courier == "Delhivery" and booking.carrier_reference == "UPL00000001"
    assert booking.extra["pickup_location"] == WAREHOUSE and booking.extra["shipping_mode"] == "Surface"
    assert booking.label_pdf == MINIMAL_PDF


def test_the_label_link_is_fetched_without_our_token(adapter: DelhiveryAdapter, dlv: FakeDelhivery) -> None:
    booking = adapter.book(request_1042())

    [slip] = dlv.server.sent("GET", r"/api/p/packing_slip")
    assert (slip.arg("wbns"), slip.arg("pdf")) == (booking.awb, "true")
    [download] = dlv.server.sent("GET", r"/labels/\d+\.pdf")
    assert download.header("Authorization") is None


def test_a_packing_slip_answered_as_pdf_is_the_label(adapter: DelhiveryAdapter, dlv: FakeDelhivery) -> None:
    dlv.label_mode = "pdf"
    booking = adapter.book(request_1042())
    assert booking.label_pdf == MINIMAL_PDF
    assert dlv.server.sent("GET", r"/labels/\d+\.pdf") == []


def test_a_label_failure_keeps_the_booking(adapter: DelhiveryAdapter, dlv: FakeDelhivery, sleeps: Sleeps) -> None:
    dlv.label_mode = "down"
    booking = adapter.book(request_1042())

    assert booking.awb in dlv.shipments
    assert booking.label_pdf is None and "HTTP 503" in booking.extra["label_error"]
    assert len(sleeps) == 2  # retried like any outage, then given up on


def test_a_prepaid_booking_with_a_prefetched_waybill(dlv: FakeDelhivery, http: Http) -> None:
    adapter = connect(dlv, http, prefetch_waybill=True)
    request = request_1042(payment="prepaid", cod_amount=Decimal(0), service="E", ewaybill_number=None)
    booking = adapter.book(request)

    [fetch] = dlv.server.sent("GET", r"/waybill/api/bulk/json/")
    assert fetch.arg("count") == "1"
    [shipment] = created_data(dlv)["shipments"]
    assert shipment["waybill"] == booking.awb == dlv.issued[0]
    assert shipment["payment_mode"] == "Prepaid" and shipment["cod_amount"] == "0"
    assert shipment["total_amount"] == "3297.00" and shipment["shipping_mode"] == "Express"


def test_a_refused_shipment_names_delhiverys_remark(adapter: DelhiveryAdapter, dlv: FakeDelhivery) -> None:
    adapter.book(request_1042())
    with pytest.raises(RemoteRejected, match="Duplicate order id SH-1042"):
        adapter.book(request_1042())
    to_nowhere = Address("A", "Somewhere", "Nowhere", "KA", "999999", "9000000000")
    with pytest.raises(RemoteRejected, match="Non serviceable pincode"):
        adapter.book(request_1042(reference="SH-1043", to=to_nowhere))


def test_an_unregistered_pickup_location_is_refused(adapter: DelhiveryAdapter) -> None:
    request = request_1042(pickup=Pickup(name="SOMEWHERE ELSE", address=PUNE))
    with pytest.raises(RemoteRejected, match="ClientWarehouse matching query does not exist"):
        adapter.book(request)


def test_big_shipments_need_an_ewaybill_before_any_call(adapter: DelhiveryAdapter, dlv: FakeDelhivery) -> None:
    with pytest.raises(RemoteRejected, match="e-way bill"):
        adapter.book(request_1042(declared_value=Decimal("50000.01"), cod_amount=Decimal("50000.01")))
    assert dlv.requests == []

    adapter.book(request_1042(declared_value=Decimal(60000), cod_amount=Decimal(60000), ewaybill_number="331009999999"))
    assert created_data(dlv)["shipments"][0]["ewbn"] == "331009999999"


def test_an_unknown_service_is_refused(adapter: DelhiveryAdapter) -> None:
    with pytest.raises(RemoteRejected, match="Rocket"):
        adapter.book(request_1042(service="Rocket"))


# -- auth, throttling, outages ---------------------------------------------------------------------


def test_a_wrong_token_is_an_auth_failure_without_retries(dlv: FakeDelhivery, http: Http, sleeps: Sleeps) -> None:
    adapter = connect(dlv, http, token="not-the-token")
    with pytest.raises(RemoteAuthFailed, match="Invalid token"):
        adapter.quote("411028", "560038", PARCEL, cod=False, declared_value=Decimal(1))
    assert len(dlv.requests) == 1 and sleeps == []


def test_throttling_is_honoured(adapter: DelhiveryAdapter, dlv: FakeDelhivery, sleeps: Sleeps) -> None:
    dlv.seed_fixture_tracking()
    dlv.throttle(2, retry_after=7)
    events = adapter.track([FIXTURE_AWB])
    assert len(events) == 5
    assert sleeps == [7.0, 7.0]
    assert len(dlv.server.sent("GET", r"/api/v1/packages/json/")) == 3


def test_a_5xx_blip_is_retried_and_an_outage_is_unavailable(
    adapter: DelhiveryAdapter, dlv: FakeDelhivery, sleeps: Sleeps
) -> None:
    dlv.fail(1, 502)
    assert len(adapter.quote("411028", "560038", PARCEL, cod=False, declared_value=Decimal(1))) == 2
    assert len(sleeps) == 1

    dlv.fail(3, 503)
    with pytest.raises(RemoteUnavailable):
        adapter.cancel(Booking(awb="1"))


# -- pickups and cancellation ----------------------------------------------------------------------


def test_a_pickup_request_counts_the_parcels(adapter: DelhiveryAdapter, dlv: FakeDelhivery) -> None:
    bookings = [adapter.book(request_1042(reference=f"SH-{n}")) for n in (1, 2, 3)]
    pickup = adapter.request_pickup(bookings, date(2025, 1, 16))

    [sent] = dlv.server.sent("POST", r"/fm/request/new/")
    assert sent.json() == {
        "pickup_location": WAREHOUSE,
        "pickup_date": "2025-01-16",
        "pickup_time": "11:00:00",
        "expected_package_count": 3,
    }
    assert pickup.reference == str(dlv.pickups[0]["pickup_id"])
    assert pickup.scheduled_for == date(2025, 1, 16)
    assert "Pune_Hadapsar_D" in pickup.detail


def test_a_second_pickup_the_same_day_is_already_scheduled(dlv: FakeDelhivery, http: Http) -> None:
    adapter = connect(dlv, http, pickup_location=WAREHOUSE, pickup_time="15:30:00")
    adapter.request_pickup([Booking(awb="1")], date(2025, 1, 16))
    again = adapter.request_pickup([Booking(awb="2"), Booking(awb="3")], date(2025, 1, 16))

    assert len(dlv.pickups) == 1 and dlv.pickups[0]["pickup_time"] == "15:30:00"
    assert again.reference is None and "already scheduled" in again.detail


def test_a_pickup_at_an_unknown_location_is_refused(dlv: FakeDelhivery, http: Http) -> None:
    adapter = connect(dlv, http, pickup_location="NOWHERE")
    with pytest.raises(RemoteRejected, match="ClientWarehouse"):
        adapter.request_pickup([Booking(awb="1")], date(2025, 1, 16))


def test_cancel_sends_the_waybill_and_is_refused_once_moving(adapter: DelhiveryAdapter, dlv: FakeDelhivery) -> None:
    booking = adapter.book(request_1042())
    adapter.cancel(booking)

    [sent] = dlv.server.sent("POST", r"/api/p/edit")
    assert sent.json() == {"waybill": booking.awb, "cancellation": "true"}
    assert dlv.shipments[booking.awb]["Status"]["StatusType"] == "CN"
    [*_, cancelled] = adapter.track([booking.awb])
    assert cancelled.status is ShipmentStatus.CANCELLED

    moving = adapter.book(request_1042(reference="SH-2000"))
    dlv.add_scan(moving.awb, "UD", "In Transit", "X-PPOM", "Shipment picked up")
    with pytest.raises(RemoteRejected, match="cannot be cancelled"):
        adapter.cancel(moving)
    with pytest.raises(RemoteRejected, match="not found"):
        adapter.cancel(Booking(awb="404"))


# -- tracking --------------------------------------------------------------------------------------


def test_tracking_batches_fifty_waybills_a_call(adapter: DelhiveryAdapter, dlv: FakeDelhivery) -> None:
    awbs = [str(1490821400000 + n) for n in range(120)]
    for awb in awbs[::10]:
        dlv.add_shipment(awb, f"SH-{awb}")
    events = adapter.track([*awbs, awbs[0]])

    calls = dlv.server.sent("GET", r"/api/v1/packages/json/")
    assert [len(c.arg("waybill").split(",")) for c in calls] == [50, 50, 20]
    assert sorted(e.awb for e in events) == sorted(awbs[::10])
    assert all(e.status is ShipmentStatus.MANIFESTED for e in events)
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_tracking_follows_a_shipment_to_rto_delivered(adapter: DelhiveryAdapter, dlv: FakeDelhivery) -> None:
    booking = adapter.book(request_1042())
    awb = booking.awb
    dlv.add_scan(awb, "UD", "In Transit", "X-PPOM", "Shipment picked up")
    dlv.add_scan(awb, "UD", "Dispatched", "X-DDD3FD", "Out for delivery")
    dlv.add_scan(awb, "UD", "Pending", "EOD-74", "Bad address")
    dlv.add_scan(awb, "RT", "In Transit", "RT-101", "Returned as per client instructions")
    dlv.add_scan(awb, "RT", "Dispatched", "RT-OFD", "Out for delivery to shipper")
    dlv.add_scan(awb, "DL", "RTO", "RT-110", "Returned to shipper")

    events = adapter.track([awb])
    assert [e.status for e in events] == [
        ShipmentStatus.MANIFESTED,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.NDR,
        ShipmentStatus.RTO_INITIATED,
        ShipmentStatus.RTO_IN_TRANSIT,
        ShipmentStatus.RTO_DELIVERED,
    ]
    assert events[3].ndr_reason is NdrReason.ADDRESS_ISSUE


def test_tracking_unknown_waybills_gives_nothing(adapter: DelhiveryAdapter) -> None:
    assert adapter.track(["1"]) == []
    assert adapter.track([]) == []


# -- NDR actions -----------------------------------------------------------------------------------


def test_ndr_action_request_shapes(adapter: DelhiveryAdapter, dlv: FakeDelhivery) -> None:
    dlv.seed_fixture_tracking()
    new_address = Address("Priya T", "Flat 14C, Example Residency", "Bengaluru", "KA", "560038", "9845000000")
    adapter.ndr_action(NdrAction(awb=FIXTURE_AWB, action="reattempt"))
    adapter.ndr_action(NdrAction(awb=FIXTURE_AWB, action="reattempt", reattempt_on=date(2025, 1, 21)))
    adapter.ndr_action(NdrAction(awb=FIXTURE_AWB, action="update_address", address=new_address))
    adapter.ndr_action(NdrAction(awb=FIXTURE_AWB, action="update_address", phone="9845011111"))

    bodies = [r.json() for r in dlv.server.sent("POST", r"/api/p/update")]
    assert bodies == [
        {"data": [{"waybill": FIXTURE_AWB, "act": "RE-ATTEMPT"}]},
        {"data": [{"waybill": FIXTURE_AWB, "act": "DEFER_DLV", "action_data": {"deferred_date": "2025-01-21"}}]},
        {
            "data": [
                {
                    "waybill": FIXTURE_AWB,
                    "act": "EDIT_DETAILS",
                    "action_data": {"name": "Priya T", "add": "Flat 14C, Example Residency", "phone": "9845000000"},
                }
            ]
        },
        {"data": [{"waybill": FIXTURE_AWB, "act": "EDIT_DETAILS", "action_data": {"phone": "9845011111"}}]},
    ]
    assert [a["act"] for a in dlv.ndr_actions] == ["RE-ATTEMPT", "DEFER_DLV", "EDIT_DETAILS", "EDIT_DETAILS"]


def test_rto_is_not_sent_unless_an_act_is_configured(dlv: FakeDelhivery, http: Http) -> None:
    dlv.seed_fixture_tracking()
    connect(dlv, http).ndr_action(NdrAction(awb=FIXTURE_AWB, action="rto"))
    assert dlv.server.sent("POST", r"/api/p/update") == []

    with pytest.raises(RemoteRejected, match="Invalid act RTO"):  # the fake knows no such act
        connect(dlv, http, rto_act="RTO").ndr_action(NdrAction(awb=FIXTURE_AWB, action="rto"))
    assert dlv.server.sent("POST", r"/api/p/update")[0].json() == {"data": [{"waybill": FIXTURE_AWB, "act": "RTO"}]}


def test_ndr_actions_without_content_or_unknown_are_refused(adapter: DelhiveryAdapter, dlv: FakeDelhivery) -> None:
    with pytest.raises(RemoteRejected, match="no address or phone"):
        adapter.ndr_action(NdrAction(awb="1", action="update_address"))
    with pytest.raises(RemoteRejected, match="teleport"):
        adapter.ndr_action(NdrAction(awb="1", action="teleport"))
    assert dlv.requests == []
