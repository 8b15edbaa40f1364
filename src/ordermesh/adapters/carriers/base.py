"""What every carrier adapter is: a small protocol and the shapes it speaks. Adapters know one
carrier's public API (or, for the rate-card carrier, a tariff) and nothing of our database.

HTTP discipline, errors and helpers are shared with the channel connectors (adapters.remote).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from ordermesh.adapters.remote import (
    BadPayload,
    BadSignature,
    Http,
    Registry,
    RemoteAuthFailed,
    RemoteError,
    RemoteRejected,
    RemoteUnavailable,
    header,
    money,
    read_json,
)
from ordermesh.domain.statuses import NdrReason, ShipmentStatus

__all__ = [
    "BadPayload",
    "BadSignature",
    "Http",
    "RemoteAuthFailed",
    "RemoteError",
    "RemoteRejected",
    "RemoteUnavailable",
    "header",
    "money",
    "read_json",
]


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    city: str
    state: str  # GST state code ("29") or ISO code ("KA"); adapters send what their carrier wants
    pincode: str
    phone: str
    line2: str | None = None
    email: str | None = None
    company: str | None = None


@dataclass(frozen=True)
class Parcel:
    """One box: outer dimensions in centimetres and dead weight in grams."""

    length_cm: Decimal
    breadth_cm: Decimal
    height_cm: Decimal
    weight_g: int


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal  # including GST
    hsn: str | None = None
    gst_rate: Decimal | None = None  # percent


@dataclass(frozen=True)
class Pickup:
    """Where the carrier collects: our location, by the name it is registered under with the carrier."""

    name: str  # Shiprocket "pickup_location", Delhivery "pickup_location.name": must match exactly
    address: Address
    gstin: str | None = None


@dataclass(frozen=True)
class ShipmentRequest:
    reference: str  # our shipment number, unique: the carrier's order id / "order"
    order_number: str
    placed_at: datetime
    pickup: Pickup
    to: Address
    parcel: Parcel
    payment: str  # prepaid | cod
    cod_amount: Decimal  # to collect; 0 when prepaid
    declared_value: Decimal  # invoice value of the goods
    items: list[Item]
    service: str | None = None  # a carrier's service or an aggregator's courier id, from the chosen quote
    invoice_number: str | None = None
    ewaybill_number: str | None = None
    return_to: Address | None = None


@dataclass(frozen=True)
class Quote:
    """What one carrier (or one courier of an aggregator) would charge, and how fast."""

    carrier: str  # our carrier code (shiprocket, delhivery, rate card code)
    service: str  # the courier or service to book with, as the carrier names it
    service_name: str
    price: Decimal  # total including COD fee and surcharges, rupees
    cod_fee: Decimal = Decimal(0)
    cod: bool = True  # can collect cash on delivery
    etd_days: int | None = None  # the carrier's stated transit time
    max_weight_g: int | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Booking:
    awb: str
    carrier_reference: str | None = None  # e.g. Shiprocket's shipment_id
    courier: str | None = None  # who actually carries it (an aggregator's courier)
    label_pdf: bytes | None = None  # the carrier's own label, when it makes one
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PickupBooking:
    reference: str | None
    scheduled_for: date | None
    detail: str = ""


@dataclass(frozen=True)
class TrackingEvent:
    awb: str
    status: ShipmentStatus  # the carrier's word in our vocabulary (STATUS_MAP)
    carrier_status: str  # the carrier's own word or code, as sent
    at: datetime  # timezone-aware
    location: str | None = None
    detail: str | None = None
    ndr_reason: NdrReason | None = None  # for NDR events
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NdrAction:
    """What we tell the carrier about a failed delivery."""

    awb: str
    action: str  # reattempt | update_address | rto
    reattempt_on: date | None = None
    address: Address | None = None
    phone: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class CarrierConfig:
    base_url: str
    credentials: Mapping[str, str]
    settings: Mapping[str, Any] = field(default_factory=dict)


class CarrierAdapter(Protocol):
    code: ClassVar[str]
    STATUS_MAP: ClassVar[Mapping[str, ShipmentStatus]]  # the carrier's words/codes -> our vocabulary

    def quote(
        self, origin: str, destination: str, parcel: Parcel, *, cod: bool, declared_value: Decimal
    ) -> list[Quote]:
        """Every way this carrier can take the parcel between two pincodes; empty: not serviceable."""
        ...

    def book(self, request: ShipmentRequest) -> Booking:
        """Create the shipment with the carrier and get its AWB (and label, if the carrier makes one)."""
        ...

    def request_pickup(self, bookings: list[Booking], on: date) -> PickupBooking: ...

    def cancel(self, booking: Booking) -> None: ...

    def track(self, awbs: list[str]) -> list[TrackingEvent]:
        """The events of these shipments so far, oldest first (for carriers polled, not pushed)."""
        ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise BadSignature unless the carrier sent it (its token or signature)."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[TrackingEvent]: ...

    def ndr_action(self, action: NdrAction) -> None: ...


AdapterFactory = Callable[[CarrierConfig, Http], CarrierAdapter]
ADAPTER_MODULES: tuple[str, ...] = ("shiprocket", "delhivery", "rate_card")
ADAPTERS: Registry[AdapterFactory] = Registry("ordermesh.adapters.carriers", ADAPTER_MODULES, "carrier adapter of kind")
_REGISTRY = ADAPTERS.entries
register = ADAPTERS.register
adapter_kinds = ADAPTERS.kinds


def make_adapter(kind: str, config: CarrierConfig, http: Http | None = None) -> CarrierAdapter:
    return ADAPTERS.factory(kind)(config, http or Http(config.base_url))
