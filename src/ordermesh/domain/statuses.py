"""The one status vocabulary, with allowed transitions written as data.

Channels and carriers map their own words onto these in one table per adapter."""

from __future__ import annotations

from enum import StrEnum

from ordermesh.domain.errors import Conflict


class OrderStatus(StrEnum):
    PENDING = "pending"
    ON_HOLD = "on_hold"
    CONFIRMED = "confirmed"
    ALLOCATED = "allocated"
    IN_FULFILMENT = "in_fulfilment"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RTO = "rto"
    PARTIALLY_RETURNED = "partially_returned"
    RETURNED = "returned"
    CLOSED = "closed"


_O = OrderStatus
ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    _O.PENDING: frozenset({_O.ON_HOLD, _O.CONFIRMED, _O.ALLOCATED, _O.CANCELLED}),
    _O.ON_HOLD: frozenset({_O.PENDING, _O.CONFIRMED, _O.ALLOCATED, _O.CANCELLED}),
    _O.CONFIRMED: frozenset({_O.ON_HOLD, _O.ALLOCATED, _O.CANCELLED}),
    _O.ALLOCATED: frozenset(
        {_O.ON_HOLD, _O.CONFIRMED, _O.IN_FULFILMENT, _O.PARTIALLY_SHIPPED, _O.SHIPPED, _O.CANCELLED}
    ),
    _O.IN_FULFILMENT: frozenset({_O.ALLOCATED, _O.PARTIALLY_SHIPPED, _O.SHIPPED, _O.CANCELLED}),
    _O.PARTIALLY_SHIPPED: frozenset({_O.SHIPPED, _O.DELIVERED, _O.RTO, _O.CANCELLED}),
    _O.SHIPPED: frozenset({_O.DELIVERED, _O.RTO}),
    _O.DELIVERED: frozenset({_O.PARTIALLY_RETURNED, _O.RETURNED, _O.CLOSED}),
    _O.PARTIALLY_RETURNED: frozenset({_O.RETURNED, _O.CLOSED}),
    _O.RETURNED: frozenset({_O.CLOSED}),
    _O.RTO: frozenset({_O.CLOSED}),
    _O.CANCELLED: frozenset({_O.CLOSED}),
    _O.CLOSED: frozenset(),
}

# Statuses an order can no longer be edited or cancelled in, as a whole.
SETTLED = frozenset({_O.DELIVERED, _O.RTO, _O.PARTIALLY_RETURNED, _O.RETURNED, _O.CANCELLED, _O.CLOSED})


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    return current == target or target in ORDER_TRANSITIONS[current]


def check_transition(current: OrderStatus, target: OrderStatus) -> None:
    if not can_transition(current, target):
        raise Conflict(f"an order cannot go from {current.value} to {target.value}", field="status")


class HoldReason(StrEnum):
    """Why an order waits for a person (or for stock). One vocabulary for API, UI and reports."""

    UNMAPPED_SKU = "unmapped_sku"
    INVALID_ADDRESS = "invalid_address"
    STATE_MISMATCH = "state_mismatch"
    UNSERVICEABLE = "unserviceable"
    PRICE_CHECK = "price_check"
    DUPLICATE_SUSPECTED = "duplicate_suspected"
    RISK_REVIEW = "risk_review"
    PAYMENT_PENDING = "payment_pending"
    OUT_OF_STOCK = "out_of_stock"
    MANUAL = "manual"


# What a person does about each hold. "release" means: looked at it, let the order through.
HOLD_ACTIONS: dict[HoldReason, str] = {
    HoldReason.UNMAPPED_SKU: "map each unknown SKU to a catalog SKU, or cancel the line",
    HoldReason.INVALID_ADDRESS: "correct the shipping address",
    HoldReason.STATE_MISMATCH: "correct the state or the pincode",
    HoldReason.UNSERVICEABLE: "correct the pincode, or release to ship by another carrier",
    HoldReason.PRICE_CHECK: "confirm the price is right, or cancel",
    HoldReason.DUPLICATE_SUSPECTED: "confirm it is a separate order, or cancel it",
    HoldReason.RISK_REVIEW: "verify with the buyer (COD confirmation), then confirm or cancel",
    HoldReason.PAYMENT_PENDING: "wait for payment, or release",
    HoldReason.OUT_OF_STOCK: "receive stock (the order is allocated automatically), or cancel",
    HoldReason.MANUAL: "release when ready",
}


class PaymentMethod(StrEnum):
    PREPAID = "prepaid"
    COD = "cod"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    COD_PENDING = "cod_pending"  # to be collected on delivery
    COD_COLLECTED = "cod_collected"
    FAILED = "failed"


class ShipmentStatus(StrEnum):
    CREATED = "created"
    PACKED = "packed"
    READY_TO_SHIP = "ready_to_ship"  # AWB assigned and label made
    MANIFESTED = "manifested"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    NDR = "ndr"  # a failed delivery attempt, with the carrier's reason
    RTO_INITIATED = "rto_initiated"
    RTO_IN_TRANSIT = "rto_in_transit"
    RTO_DELIVERED = "rto_delivered"
    LOST = "lost"
    CANCELLED = "cancelled"


_S = ShipmentStatus
_MOVING = frozenset({_S.PICKED_UP, _S.IN_TRANSIT, _S.OUT_FOR_DELIVERY, _S.DELIVERED, _S.NDR, _S.RTO_INITIATED, _S.LOST})
SHIPMENT_TRANSITIONS: dict[ShipmentStatus, frozenset[ShipmentStatus]] = {
    _S.CREATED: frozenset({_S.PACKED, _S.CANCELLED}),
    _S.PACKED: frozenset({_S.CREATED, _S.READY_TO_SHIP, _S.CANCELLED}),
    _S.READY_TO_SHIP: frozenset({_S.MANIFESTED, _S.PICKED_UP, _S.IN_TRANSIT, _S.CANCELLED}),
    _S.MANIFESTED: frozenset({_S.READY_TO_SHIP, _S.PICKED_UP, _S.IN_TRANSIT, _S.CANCELLED}),
    # Carriers skip and repeat scans; tracking may jump ahead, never back to the warehouse.
    _S.PICKED_UP: _MOVING,
    _S.IN_TRANSIT: _MOVING,
    _S.OUT_FOR_DELIVERY: _MOVING,
    _S.NDR: frozenset({_S.IN_TRANSIT, _S.OUT_FOR_DELIVERY, _S.DELIVERED, _S.NDR, _S.RTO_INITIATED, _S.LOST}),
    _S.RTO_INITIATED: frozenset({_S.RTO_IN_TRANSIT, _S.RTO_DELIVERED, _S.LOST}),
    _S.RTO_IN_TRANSIT: frozenset({_S.RTO_DELIVERED, _S.LOST}),
    _S.DELIVERED: frozenset(),
    _S.RTO_DELIVERED: frozenset(),
    _S.LOST: frozenset({_S.DELIVERED, _S.RTO_DELIVERED}),  # found after all
    _S.CANCELLED: frozenset(),
}
SHIPMENT_FINAL = frozenset({_S.DELIVERED, _S.RTO_DELIVERED, _S.CANCELLED})


def can_ship_transition(current: ShipmentStatus, target: ShipmentStatus) -> bool:
    return current == target or target in SHIPMENT_TRANSITIONS[current]


class NdrReason(StrEnum):
    """Why a delivery attempt failed, in one vocabulary whatever words the carrier used."""

    CUSTOMER_UNAVAILABLE = "customer_unavailable"
    REFUSED = "refused"
    ADDRESS_ISSUE = "address_issue"
    COD_NOT_READY = "cod_not_ready"
    RESCHEDULE_REQUESTED = "reschedule_requested"
    OUT_OF_DELIVERY_AREA = "out_of_delivery_area"
    OTHER = "other"
