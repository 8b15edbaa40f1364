"""The rate-card carrier: an own fleet or a local courier that has a tariff but no API.

Everything a carrier API would answer comes from data ordermesh holds (docs/carriers/rate_card.md):

- ``quote``: the tariff in ``settings["tariff"]`` (:class:`ordermesh.domain.rate_card.Tariff`)
  prices the parcel on the zone of the lane (:mod:`ordermesh.domain.zones`);
- ``book``: the AWB is ``settings["awb_prefix"]`` + the next number of the series, zero-padded to
  ``settings["awb_width"]``. The number comes from ``next_number``, given to the constructor or in
  settings; the service supplies a gap-free database counter (one row per carrier, incremented in
  the booking's transaction), because AWBs must never repeat. No label: ordermesh renders it;
- ``request_pickup``: the fleet collects on the day asked; nothing to call;
- tracking: the fleet enters statuses in ordermesh itself (dashboard or API, in ordermesh's own
  vocabulary), so ``track`` returns nothing and there are no webhooks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from ordermesh.adapters.carriers.base import (
    BadPayload,
    Booking,
    CarrierConfig,
    Http,
    NdrAction,
    Parcel,
    PickupBooking,
    Quote,
    RemoteError,
    RemoteRejected,
    ShipmentRequest,
    TrackingEvent,
    register,
)
from ordermesh.adapters.pincode_directory import lookup
from ordermesh.domain.errors import ValidationFailed
from ordermesh.domain.rate_card import NotServiceable, RateQuote, Tariff, price
from ordermesh.domain.shipping import chargeable_weight
from ordermesh.domain.statuses import ShipmentStatus
from ordermesh.domain.zones import PincodeInfo

NO_WEBHOOKS = (
    "the rate-card carrier sends no webhooks: its fleet enters shipment statuses in ordermesh itself "
    "(dashboard or API), so there is nothing to receive"
)
_SETTINGS = ("tariff", "awb_prefix", "awb_width", "carrier_code", "next_number")


@register("rate_card")
class RateCardCarrier:
    code: ClassVar[str] = "rate_card"
    # The fleet speaks ordermesh's own vocabulary.
    STATUS_MAP: ClassVar[Mapping[str, ShipmentStatus]] = {s.value: s for s in ShipmentStatus}

    def __init__(
        self,
        config: CarrierConfig,
        http: Http | None = None,
        *,
        next_number: Callable[[], int] | None = None,
        pincodes: Callable[[str], PincodeInfo | None] = lookup,
    ):
        settings = config.settings
        unknown = sorted(set(settings) - set(_SETTINGS))
        if unknown:
            raise RemoteError(f"unknown rate-card settings: {', '.join(unknown)}; use {', '.join(_SETTINGS)}")
        try:
            self.tariff = Tariff.from_dict(settings.get("tariff"), where="settings.tariff")
        except ValidationFailed as exc:
            problems = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
            raise RemoteError(f"the rate-card tariff is invalid: {problems}") from exc
        prefix = settings.get("awb_prefix", "")
        width = settings.get("awb_width", 8)
        if not isinstance(prefix, str) or (prefix != "" and not prefix.isalnum()):
            raise RemoteError("settings.awb_prefix: letters and digits only")
        if isinstance(width, bool) or not isinstance(width, int) or not 4 <= width <= 16:
            raise RemoteError("settings.awb_width: a whole number from 4 to 16")
        self.awb_prefix = prefix
        self.awb_width = width
        self.carrier_code = str(settings.get("carrier_code") or self.code)
        self._next_number = next_number or settings.get("next_number")
        self._pincodes = pincodes
        self.http = http

    # -- quoting -----------------------------------------------------------------------------

    def _info(self, pincode: str) -> PincodeInfo:
        info = self._pincodes(pincode)
        if info is None:
            raise NotServiceable(f"{pincode} is not a known pincode", field="pincode")
        return info

    def rate(self, origin: str, destination: str, parcel: Parcel, *, cod_amount: Decimal) -> RateQuote:
        """The itemised price (domain rate card); raises NotServiceable with the reason."""
        weight = chargeable_weight(
            parcel.weight_g, parcel.length_cm, parcel.breadth_cm, parcel.height_cm, self.tariff.volumetric_divisor
        )
        return price(self.tariff, self._info(origin), self._info(destination), weight.chargeable_g, cod_amount)

    def quote(
        self, origin: str, destination: str, parcel: Parcel, *, cod: bool, declared_value: Decimal
    ) -> list[Quote]:
        try:
            rated = self.rate(origin, destination, parcel, cod_amount=declared_value if cod else Decimal(0))
        except NotServiceable:
            return []
        return [
            Quote(
                carrier=self.carrier_code,
                service=self.carrier_code,
                service_name=self.tariff.name,
                price=rated.total,
                cod_fee=rated.cod_fee,
                cod=self.tariff.cod_supported,
                etd_days=rated.transit_days,
                max_weight_g=self.tariff.max_weight_g,
                detail=rated.as_dict(),
            )
        ]

    # -- booking -----------------------------------------------------------------------------

    def next_awb(self) -> str:
        if self._next_number is None:
            raise RemoteError("the rate-card carrier needs next_number (the AWB counter) to book")
        number = self._next_number()
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise RemoteError(f"the AWB counter gave {number!r}, not a positive whole number")
        if len(str(number)) > self.awb_width:
            raise RemoteRejected(f"the AWB series {self.awb_prefix}… is used up at {self.awb_width} digits")
        return f"{self.awb_prefix}{number:0{self.awb_width}d}"

    def book(self, request: ShipmentRequest) -> Booking:
        cod_amount = request.cod_amount if request.payment == "cod" else Decimal(0)
        try:
            rated = self.rate(request.pickup.address.pincode, request.to.pincode, request.parcel, cod_amount=cod_amount)
        except NotServiceable as exc:
            raise RemoteRejected(f"{self.tariff.name} cannot take {request.reference}: {exc.detail}") from exc
        return Booking(
            awb=self.next_awb(),
            carrier_reference=request.reference,
            courier=self.tariff.name,
            label_pdf=None,  # ordermesh renders the label
            extra={"rate": rated.as_dict()},
        )

    def request_pickup(self, bookings: list[Booking], on: date) -> PickupBooking:
        return PickupBooking(
            reference=None,
            scheduled_for=on,
            detail=f"{len(bookings)} shipment(s) for {self.tariff.name} to collect on {on.isoformat()}",
        )

    def cancel(self, booking: Booking) -> None:
        """Nothing to tell anyone: the AWB stays used (numbers are never reissued)."""

    # -- tracking ----------------------------------------------------------------------------

    def track(self, awbs: list[str]) -> list[TrackingEvent]:
        """Nothing to poll: statuses are entered in ordermesh by the fleet."""
        return []

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        raise BadPayload(NO_WEBHOOKS)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[TrackingEvent]:
        raise BadPayload(NO_WEBHOOKS)

    def ndr_action(self, action: NdrAction) -> None:
        """The fleet reads NDR decisions in ordermesh; nothing to send."""


def settings_example() -> dict[str, Any]:
    """A complete settings block, as the docs show it."""
    return {
        "carrier_code": "city_fleet",
        "awb_prefix": "CF",
        "awb_width": 8,
        "tariff": {
            "name": "City fleet",
            "first_slab_g": 500,
            "additional_slab_g": 500,
            "zones": {
                "local": {"first": "40", "additional": "30", "transit_days": 1},
                "regional": {"first": "55", "additional": "45", "transit_days": 2},
            },
            "fuel_surcharge_percent": "12",
            "cod_supported": True,
            "cod_percent": "2",
            "cod_minimum": "35",
            "max_weight_g": 20000,
        },
    }
