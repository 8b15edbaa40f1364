"""The rate-card carrier: quotes from a tariff on the real pincode zones, AWBs from a counter."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ordermesh.adapters.carriers import base
from ordermesh.adapters.carriers.base import (
    Address,
    BadPayload,
    Booking,
    CarrierConfig,
    Item,
    NdrAction,
    Parcel,
    Pickup,
    RemoteError,
    RemoteRejected,
    ShipmentRequest,
)
from ordermesh.adapters.carriers.rate_card import NO_WEBHOOKS, RateCardCarrier, settings_example
from ordermesh.domain.statuses import ShipmentStatus
from ordermesh.domain.zones import PincodeInfo

D = Decimal
BOX = Parcel(D(20), D(15), D(10), 700)  # volumetric 600 g: charged on 700 g dead


def config(**changes: Any) -> CarrierConfig:
    settings = settings_example()
    settings.update(changes)
    return CarrierConfig(base_url="", credentials={}, settings=settings)


def counter(start: int = 1) -> Any:
    numbers = itertools.count(start)
    return lambda: next(numbers)


def request(to_pincode: str = "570001", payment: str = "cod", cod: str = "1500") -> ShipmentRequest:
    warehouse = Address("BLR warehouse", "1 Industrial Area", "Bengaluru", "29", "560001", "9800000000")
    return ShipmentRequest(
        reference="SHP-0001",
        order_number="SO-1001",
        placed_at=datetime(2026, 5, 4, 10, tzinfo=UTC),
        pickup=Pickup("BLR", warehouse),
        to=Address("Asha Rao", "12 Temple Road", "Mysuru", "29", to_pincode, "9811111111"),
        parcel=BOX,
        payment=payment,
        cod_amount=D(cod) if payment == "cod" else D(0),
        declared_value=D(cod),
        items=[Item("KRT-M", "Kurta", 1, D(cod))],
    )


def test_quote_prices_the_tariff_on_the_real_zone_of_the_lane() -> None:
    carrier = RateCardCarrier(config())
    quotes = carrier.quote("560001", "570001", BOX, cod=False, declared_value=D(1500))
    assert len(quotes) == 1
    q = quotes[0]
    # Bengaluru to Mysuru: same state, regional; 700 g = 2 slabs: 55 + 45 = 100, fuel 12% = 12
    assert (q.carrier, q.service, q.service_name) == ("city_fleet", "city_fleet", "City fleet")
    assert q.price == D("112.00") and q.cod_fee == D("0.00")
    assert q.etd_days == 2 and q.max_weight_g == 20000 and q.cod is True
    assert q.detail["zone"] == "regional" and q.detail["zone_reason"] == "same state" and q.detail["slabs"] == 2
    local = carrier.quote("560001", "560103", BOX, cod=True, declared_value=D(1500))[0]
    assert local.detail["zone"] == "local"
    assert local.cod_fee == D("35.00") and local.price == D(70) + D("8.40") + D(35)


def test_quote_is_empty_where_the_tariff_does_not_go() -> None:
    carrier = RateCardCarrier(config())
    assert carrier.quote("560001", "600001", BOX, cod=False, declared_value=D(1)) == []  # metro: not in tariff
    assert carrier.quote("560001", "999999", BOX, cod=False, declared_value=D(1)) == []  # unknown pincode
    heavy = Parcel(D(10), D(10), D(10), 20001)
    assert carrier.quote("560001", "570001", heavy, cod=False, declared_value=D(1)) == []
    no_cod = dict(settings_example()["tariff"], cod_supported=False)
    assert RateCardCarrier(config(tariff=no_cod)).quote("560001", "570001", BOX, cod=True, declared_value=D(9)) == []


def test_quote_uses_the_tariffs_volumetric_divisor() -> None:
    pins = {"1": PincodeInfo("110001", "07"), "2": PincodeInfo("110002", "07")}
    bulky = Parcel(D(40), D(30), D(30), 500)  # 36000 cm³: 7200 g at 5000, 9000 g at 4000
    five = RateCardCarrier(config(), pincodes=pins.get).quote("1", "2", bulky, cod=False, declared_value=D(1))
    tariff = dict(settings_example()["tariff"], volumetric_divisor=4000)
    four = RateCardCarrier(config(tariff=tariff), pincodes=pins.get).quote(
        "1", "2", bulky, cod=False, declared_value=D(1)
    )
    assert (five[0].detail["chargeable_g"], four[0].detail["chargeable_g"]) == (7200, 9000)


def test_book_takes_the_next_number_of_the_awb_series_and_makes_no_label() -> None:
    carrier = RateCardCarrier(config(), next_number=counter(41))
    first = carrier.book(request())
    assert first.awb == "CF00000041" and first.label_pdf is None
    assert first.carrier_reference == "SHP-0001" and first.courier == "City fleet"
    assert first.extra["rate"]["cod_fee"] == "35.00"
    assert carrier.book(request(payment="prepaid")).awb == "CF00000042"
    from_settings = RateCardCarrier(config(next_number=counter(7), awb_prefix="", awb_width=4))
    assert from_settings.book(request()).awb == "0007"


def test_book_refuses_what_the_tariff_cannot_take_and_a_used_up_series() -> None:
    carrier = RateCardCarrier(config(), next_number=counter())
    with pytest.raises(RemoteRejected, match="cannot take SHP-0001: City fleet does not serve the special zone"):
        carrier.book(request(to_pincode="781001"))
    with pytest.raises(RemoteError, match="needs next_number"):
        RateCardCarrier(config()).book(request())
    full = RateCardCarrier(config(awb_width=4), next_number=counter(10000))
    with pytest.raises(RemoteRejected, match="used up"):
        full.book(request())
    with pytest.raises(RemoteError, match="not a positive whole number"):
        RateCardCarrier(config(), next_number=lambda: 0).book(request())


def test_bad_settings_are_named() -> None:
    tariff = dict(settings_example()["tariff"], first_slab_g=0)
    with pytest.raises(RemoteError, match=r"settings\.tariff\.first_slab_g"):
        RateCardCarrier(config(tariff=tariff))
    with pytest.raises(RemoteError, match="unknown rate-card settings: colour"):
        RateCardCarrier(config(colour="red"))
    with pytest.raises(RemoteError, match="awb_width"):
        RateCardCarrier(config(awb_width=2))
    with pytest.raises(RemoteError, match="awb_prefix"):
        RateCardCarrier(config(awb_prefix="C-F"))


def test_pickup_tracking_and_webhooks() -> None:
    carrier = RateCardCarrier(config(), next_number=counter())
    bookings = [Booking("CF00000001"), Booking("CF00000002")]
    pickup = carrier.request_pickup(bookings, date(2026, 5, 5))
    assert pickup.scheduled_for == date(2026, 5, 5) and pickup.reference is None
    assert pickup.detail == "2 shipment(s) for City fleet to collect on 2026-05-05"
    assert carrier.track(["CF00000001"]) == []
    with pytest.raises(BadPayload, match="enters shipment statuses in ordermesh itself"):
        carrier.parse_webhook({}, b"{}")
    with pytest.raises(BadPayload) as info:
        carrier.verify_webhook({}, b"{}")
    assert str(info.value) == NO_WEBHOOKS
    carrier.cancel(bookings[0])
    carrier.ndr_action(NdrAction("CF00000001", "rto"))
    assert RateCardCarrier.STATUS_MAP["delivered"] is ShipmentStatus.DELIVERED


def test_registered_as_rate_card() -> None:
    adapter = base.make_adapter("rate_card", config())
    assert isinstance(adapter, RateCardCarrier) and adapter.code == "rate_card"
    assert "rate_card" in base.adapter_kinds()
