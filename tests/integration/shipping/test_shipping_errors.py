"""Shipping when things go wrong, on both databases: a pincode no carrier serves, a parcel over the
fleet's weight limit, a carrier API that fails, throttles or hangs (the others still quote, all at
the same time), scans pushed twice, and scans of an AWB that is none of ours (kept and reported)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from ordermesh.adapters.remote import RemoteUnavailable
from ordermesh.domain.errors import Conflict
from ordermesh.services import channel_sync as cs
from ordermesh.services import shipping
from tests.conftest import TenantCtx
from tests.fakes.delhivery import FakeDelhivery
from tests.fakes.server import Reply, Request
from tests.fakes.shiprocket import FakeShiprocket
from tests.integration.shipping.test_journeys import (
    add_delhivery,
    add_fleet,
    dlv_push,
    hold,
    pack,
    set_shipping,
    shipment_row,
    sr_push,
)
from tests.integration.shipping.test_shipping_flow import add_shiprocket, place

PICKED = datetime(2026, 11, 27, 10, 0)


@pytest.fixture
def sr() -> Iterator[FakeShiprocket]:
    with FakeShiprocket() as fake:
        yield fake


@pytest.fixture
def dlv() -> Iterator[FakeDelhivery]:
    with FakeDelhivery() as fake:
        fake.warehouses.add("Pune Warehouse")
        yield fake


@pytest.fixture
def store(shop: TenantCtx) -> TenantCtx:
    set_shipping(shop, {"pickup_names": {"PUN": "Pune Warehouse"}, "ndr": {"max_attempts": 2}})
    return shop


def bookable_again(conn: cs.Sync, t: TenantCtx, shipment_id: int, carrier: str | None = None) -> None:
    row = shipment_row(t, shipment_id)
    assert (row.status, row.awb, row.carrier_id) == ("packed", None, None)
    booked = shipping.book(conn, shipment_id, carrier=carrier)
    assert shipment_row(t, shipment_id).status == "ready_to_ship" and booked.awb


# -- quoting and booking ------------------------------------------------------------------------------


def test_an_unserviceable_pincode_is_refused_saying_why(store: TenantCtx, conn: cs.Sync, sr: FakeShiprocket) -> None:
    # given: Shiprocket has no courier to 400001, and the fleet's tariff only the local zone
    add_shiprocket(store, sr)
    add_fleet(store, zones={"local": {"first": "40", "additional": "30", "transit_days": 1}})
    shipment_id = pack(store, place(store, "U1", pincode="400001", city="Mumbai", state="MH"))
    # when
    with pytest.raises(Conflict) as refused:
        shipping.book(conn, shipment_id)
    # then: each carrier's reason, and the shipment still packed
    detail = refused.value.detail
    assert detail.startswith(f"no carrier can take shipment {shipping.shipment_number(shipment_id)}")
    assert "sr: no service from 411028 to 400001 for this parcel (prepaid)" in detail
    assert "fleet: City fleet does not serve the" in detail and refused.value.field == "carrier"
    # and: once Shiprocket serves it, it books
    sr.serviceable["400001"] = {12: True}
    bookable_again(conn, store, shipment_id)


def test_a_parcel_over_the_fleets_weight_limit_gets_no_quote_and_a_clear_message(
    store: TenantCtx, conn: cs.Sync
) -> None:
    add_fleet(store, max_weight_g=1000)
    shipment_id = pack(store, place(store, "W1"))  # 900 g in a 30 × 20 × 10 box: 1200 g chargeable
    with pytest.raises(Conflict, match="fleet: 1200 g is over City fleet's limit of 1000 g"):
        shipping.book(conn, shipment_id)
    assert shipment_row(store, shipment_id).status == "packed"


def test_a_carrier_down_while_quoting_is_retried_then_named_and_the_shipment_stays_bookable(
    store: TenantCtx, conn: cs.Sync, sr: FakeShiprocket, slept: list[float]
) -> None:
    add_shiprocket(store, sr)
    shipment_id = pack(store, place(store, "D1"))
    sr.fail(5)  # every try of the first call (the login)
    with pytest.raises(Conflict) as refused:
        shipping.book(conn, shipment_id, carrier="sr")
    # tried five times, waiting between tries; the carrier's own words in the answer
    assert len(sr.sent("POST", "/auth/login")) == 5 and len(slept) == 4
    assert "sr: POST /auth/login: HTTP 502: <html><body>502 Bad Gateway</body></html>" in refused.value.detail
    # and: once it is back, the same shipment books
    bookable_again(conn, store, shipment_id, "sr")
    assert len(slept) == 4


def test_a_carrier_down_while_booking_leaves_the_shipment_packed(
    store: TenantCtx, conn: cs.Sync, sr: FakeShiprocket, slept: list[float]
) -> None:
    add_shiprocket(store, sr)
    shipment_id = pack(store, place(store, "D2"))
    hold(sr.server, "POST", "/orders/create/adhoc", lambda r: Reply(503, b"Service Temporarily Unavailable"))
    with pytest.raises(RemoteUnavailable, match="HTTP 503: Service Temporarily Unavailable"):
        shipping.book(conn, shipment_id, carrier="sr")
    assert len(sr.sent("POST", "/orders/create/adhoc")) == 5 and len(slept) == 4
    sr.server.routes.pop(0)  # Shiprocket is back
    bookable_again(conn, store, shipment_id, "sr")


def test_a_throttled_carrier_is_waited_for(
    store: TenantCtx, conn: cs.Sync, sr: FakeShiprocket, slept: list[float]
) -> None:
    add_shiprocket(store, sr)
    shipment_id = pack(store, place(store, "T1"))
    sr.throttle(2, retry_after=3)
    assert shipping.book(conn, shipment_id, carrier="sr").carrier == "sr"
    assert slept == [3.0, 3.0]  # Retry-After honoured


def test_a_carrier_that_does_not_answer_in_time_is_left_out_and_the_others_compete(
    store: TenantCtx, conn: cs.Sync, sr: FakeShiprocket
) -> None:
    add_shiprocket(store, sr)
    add_fleet(store)
    release = threading.Event()

    def stuck(request: Request) -> Reply | None:
        release.wait(10)
        return None

    hold(sr.server, "GET", "/courier/serviceability/", stuck)
    try:
        first = pack(store, place(store, "H1"))
        started = time.monotonic()
        booked = shipping.book(conn, first, quote_timeout=0.5)
        assert time.monotonic() - started < 5
        assert booked.carrier == "fleet" and {o["carrier"] for o in booked.choice["outcomes"]} == {"fleet"}
        # only the stuck carrier: it is named, and the shipment waits, packed
        second = pack(store, place(store, "H2"))
        with pytest.raises(Conflict, match=r"sr: no answer within 0\.5 s"):
            shipping.book(conn, second, carrier="sr", quote_timeout=0.5)
    finally:
        release.set()
        sr.server.routes.pop(0)
    bookable_again(conn, store, second, "sr")


def test_carriers_are_quoted_at_the_same_time(
    store: TenantCtx, conn: cs.Sync, sr: FakeShiprocket, dlv: FakeDelhivery
) -> None:
    # given: each carrier's first quoting call waits for the other's to arrive
    add_shiprocket(store, sr)
    add_delhivery(store, dlv)
    both_asked = threading.Barrier(2, timeout=5)

    def together(request: Request) -> Reply | None:
        try:
            both_asked.wait()
        except threading.BrokenBarrierError:
            return Reply.json({"message": "asked one carrier after the other"}, status=400)
        return None

    hold(sr.server, "GET", "/courier/serviceability/", together)
    hold(dlv.server, "GET", "/c/api/pin-codes/json/", together)
    shipment_id = pack(store, place(store, "P1"))
    # when
    booked = shipping.book(conn, shipment_id)
    # then: both quoted (asked in parallel), in the carriers' order, the cheapest chosen
    outcomes = booked.choice["outcomes"]
    assert {o["carrier"] for o in outcomes} == {"sr", "dlv"}
    assert (outcomes[0]["verdict"], outcomes[0]["carrier"]) == ("chosen", booked.carrier)


# -- tracking -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["shiprocket", "delhivery"])
def test_a_scan_pushed_twice_is_kept_once(
    kind: str, store: TenantCtx, conn: cs.Sync, sr: FakeShiprocket, dlv: FakeDelhivery
) -> None:
    code = "sr" if kind == "shiprocket" else "dlv"
    if kind == "shiprocket":
        add_shiprocket(store, sr)
    else:
        add_delhivery(store, dlv)
    shipment_id = pack(store, place(store, "K1"))
    awb = shipping.book(conn, shipment_id, carrier=code).awb

    def push(known: bool) -> shipping.TrackingResult:
        if kind == "shiprocket":
            return sr_push(conn, store, sr, awb, "picked_up", PICKED, known=known)
        return dlv_push(conn, store, dlv, awb, "picked_up", PICKED, known=known)

    first = push(True)
    assert (first.recorded, first.changed, first.unknown) == (1, 1, [])
    again = push(False)
    assert (again.recorded, again.changed, again.unknown) == (0, 0, [])
    with store.uow(write=False) as uow:
        token = shipping.get_shipment(uow, shipment_id).row.tracking_token
        assert len(shipping.public_tracking(uow, token)["events"]) == 1


@pytest.mark.parametrize("kind", ["shiprocket", "delhivery"])
def test_scans_of_an_unknown_awb_are_kept_in_an_alert_and_reported(
    kind: str, store: TenantCtx, conn: cs.Sync, sr: FakeShiprocket, dlv: FakeDelhivery
) -> None:
    code = "sr" if kind == "shiprocket" else "dlv"
    if kind == "shiprocket":
        add_shiprocket(store, sr)
    else:
        add_delhivery(store, dlv)
    stranger = "999999999"

    def push(step: str, at: datetime) -> shipping.TrackingResult:
        if kind == "shiprocket":
            return sr_push(conn, store, sr, stranger, step, at, known=False)
        return dlv_push(conn, store, dlv, stranger, step, at, known=False)

    def alerts() -> list[Any]:
        with store.uow(write=False) as uow:
            return [a for a in uow.alerts.open_alerts() if a.kind == "unknown_awb"]

    # when: a push about an AWB that is none of ours
    got = push("picked_up", PICKED)
    # then: reported, nothing recorded, and the scan kept in an alert a person sees
    assert (got.recorded, got.changed, got.unknown) == (0, 0, [stranger])
    [alert] = alerts()
    assert alert.subject == f"{code}:{stranger}" and stranger in alert.message and code in alert.message
    assert (alert.data["carrier"], alert.data["awb"], alert.data["source"]) == (code, stranger, "webhook")
    [event] = alert.data["events"]
    assert event["status"] == ("picked_up" if kind == "shiprocket" else "in_transit")
    assert event["at"].startswith("2026-11-27T10:00:00") and event["raw"]
    # and: a later push about it is reported again, under the same open alert
    assert push("delivered", datetime(2026, 11, 29, 14, 0)).unknown == [stranger]
    assert [a.subject for a in alerts()] == [f"{code}:{stranger}"]
