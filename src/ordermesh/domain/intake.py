"""What an incoming order must look like before anything is written, and the checks that turn a
well-formed but doubtful order into holds rather than rejections."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ordermesh.domain.errors import Collector
from ordermesh.domain.india import State, find_state, is_pincode_format
from ordermesh.domain.money import parse_amount
from ordermesh.domain.statuses import HoldReason, PaymentMethod, PaymentStatus

MAX_LINES = 500
MAX_QUANTITY = 100_000


@dataclass(frozen=True)
class AddressIn:
    name: str
    line1: str
    line2: str
    city: str
    state_raw: str
    pincode: str
    phone: str

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "state": self.state_raw,
            "pincode": self.pincode,
            "phone": self.phone,
        }


@dataclass(frozen=True)
class LineIn:
    sku: str
    quantity: int
    unit_price: Decimal
    discount: Decimal


@dataclass(frozen=True)
class OrderIn:
    channel: str
    external_id: str
    placed_at: datetime
    customer_name: str
    customer_phone: str
    customer_email: str
    shipping: AddressIn
    billing: AddressIn | None
    payment_method: PaymentMethod
    payment_status: PaymentStatus
    lines: tuple[LineIn, ...]
    shipping_charge: Decimal
    currency: str
    tags: tuple[str, ...] = ()
    notes: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def fingerprint(self) -> str:
        """The same order, however often a channel sends it: hash of what the buyer asked for."""
        canonical = json.dumps(self.raw, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def basket(self) -> str:
        """Who ordered which SKUs in what quantity: two orders with the same basket from the same
        buyer close together are probably one order placed twice."""
        items = sorted((line.sku, line.quantity) for line in self.lines)
        key = json.dumps([self.customer_phone or self.customer_email, items])
        return hashlib.sha256(key.encode()).hexdigest()[:32]


def _text(raw: Mapping[str, Any], name: str, errors: Collector, path: str, limit: int, *, required: bool) -> str:
    where = f"{path}.{name}" if path else name
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(where, "is required")
        return ""
    if not isinstance(value, str):
        errors.add(where, "must be a string")
        return ""
    if len(value) > limit:
        errors.add(where, f"must be at most {limit} characters")
    return value.strip()


def build_address_in(raw: object, errors: Collector, path: str) -> AddressIn | None:
    if not isinstance(raw, Mapping):
        errors.add(path, "must be an object with name, line1, city, state, pincode and phone")
        return None
    state = raw.get("state")
    if isinstance(state, int) and not isinstance(state, bool):
        state = str(state)
    pincode = raw.get("pincode")
    if isinstance(pincode, int) and not isinstance(pincode, bool):
        pincode = str(pincode)
    fields = {**raw, "state": state, "pincode": pincode}
    return AddressIn(
        name=_text(fields, "name", errors, path, 200, required=True),
        line1=_text(fields, "line1", errors, path, 300, required=True),
        line2=_text(fields, "line2", errors, path, 300, required=False),
        city=_text(fields, "city", errors, path, 100, required=True),
        state_raw=_text(fields, "state", errors, path, 60, required=True),
        pincode=_text(fields, "pincode", errors, path, 10, required=True),
        phone=_text(fields, "phone", errors, path, 30, required=False),
    )


def _amount(value: object, path: str, errors: Collector, *, required: bool) -> Decimal:
    if value is None:
        if required:
            errors.add(path, "is required")
        return Decimal("0.00")
    amount = None if isinstance(value, bool) else parse_amount(value)
    if amount is None:
        errors.add(path, "must be a non-negative amount in rupees with at most two decimals")
        return Decimal("0.00")
    return amount


def build_order(
    raw: Mapping[str, Any], errors: Collector, parse_time: Callable[[str], datetime | None]
) -> OrderIn | None:
    """Check an order's shape; every problem is reported with its field path and nothing is written.

    Doubts about content (an unknown SKU, a pincode that does not exist) are not errors here: they
    become holds later, so the order is kept and a person can fix it."""
    channel = _text(raw, "channel", errors, "", 64, required=True)
    external_id = _text(raw, "external_id", errors, "", 100, required=True)
    placed_raw = raw.get("placed_at")
    placed_at = parse_time(placed_raw) if isinstance(placed_raw, str) else None
    if placed_raw is None:
        errors.add("placed_at", "is required")
    elif placed_at is None:
        errors.add("placed_at", "must be an ISO 8601 date-time with a UTC offset, e.g. 2026-11-26T10:15:00+05:30")
    customer = raw.get("customer")
    if not isinstance(customer, Mapping):
        errors.add("customer", "must be an object with name, phone and email")
        customer = {}
    c_name = _text(customer, "name", errors, "customer", 200, required=True)
    c_phone = _text(customer, "phone", errors, "customer", 30, required=False)
    c_email = _text(customer, "email", errors, "customer", 254, required=False)
    shipping = build_address_in(raw.get("shipping_address"), errors, "shipping_address")
    billing = (
        build_address_in(raw["billing_address"], errors, "billing_address")
        if raw.get("billing_address") is not None
        else None
    )
    payment = raw.get("payment")
    method, status = PaymentMethod.PREPAID, PaymentStatus.PENDING
    if not isinstance(payment, Mapping):
        errors.add("payment", "must be an object with method (prepaid or cod) and status")
    else:
        try:
            method = PaymentMethod(str(payment.get("method")))
        except ValueError:
            errors.add("payment.method", "must be prepaid or cod")
        default_status = PaymentStatus.COD_PENDING if method is PaymentMethod.COD else PaymentStatus.PAID
        try:
            status = PaymentStatus(str(payment.get("status") or default_status.value))
        except ValueError:
            errors.add("payment.status", f"must be one of {', '.join(s.value for s in PaymentStatus)}")
    lines = _lines(raw.get("lines"), errors)
    shipping_charge = _amount(raw.get("shipping_charge"), "shipping_charge", errors, required=False)
    currency = raw.get("currency", "INR")
    if currency != "INR":
        errors.add("currency", "only INR is supported")
    tags = raw.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) and len(t) <= 50 for t in tags):
        errors.add("tags", "must be a list of short strings")
        tags = []
    notes = raw.get("notes") or ""
    if not isinstance(notes, str) or len(notes) > 2000:
        errors.add("notes", "must be a string of at most 2000 characters")
        notes = ""
    if errors.errors or shipping is None or placed_at is None:
        return None
    return OrderIn(
        channel, external_id, placed_at, c_name, c_phone, c_email, shipping, billing, method, status,
        tuple(lines), shipping_charge, "INR", tuple(tags), notes, raw,
    )  # fmt: skip


def _lines(value: object, errors: Collector) -> list[LineIn]:
    if not isinstance(value, list) or not value:
        errors.add("lines", "must be a non-empty list")
        return []
    if len(value) > MAX_LINES:
        errors.add("lines", f"at most {MAX_LINES} lines")
        return []
    out = []
    for i, item in enumerate(value):
        path = f"lines.{i}"
        if not isinstance(item, Mapping):
            errors.add(path, "must be an object with sku, quantity and unit_price")
            continue
        sku = _text(item, "sku", errors, path, 64, required=True)
        qty = item.get("quantity")
        if isinstance(qty, bool) or not isinstance(qty, int):
            errors.add(f"{path}.quantity", "must be a whole number")
            qty = 0
        elif not 0 < qty <= MAX_QUANTITY:
            errors.add(f"{path}.quantity", f"must be from 1 to {MAX_QUANTITY}")
        price = _amount(item.get("unit_price"), f"{path}.unit_price", errors, required=True)
        discount = _amount(item.get("discount"), f"{path}.discount", errors, required=False)
        if isinstance(qty, int) and qty > 0 and discount > price * qty:
            errors.add(f"{path}.discount", "cannot exceed the line's value")
        out.append(LineIn(sku, qty, price, discount))
    return out


@dataclass(frozen=True)
class Hold:
    reason: HoldReason
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason.value, "detail": self.detail}


@dataclass(frozen=True)
class SkuFacts:
    """What the catalog says about a SKU an order line names."""

    mrp: Decimal
    active: bool


def line_holds(lines: Sequence[LineIn], catalog: Mapping[str, SkuFacts]) -> list[Hold]:
    holds = []
    unknown = sorted({line.sku for line in lines if line.sku not in catalog or not catalog[line.sku].active})
    if unknown:
        holds.append(Hold(HoldReason.UNMAPPED_SKU, f"not in the catalog (or inactive): {', '.join(unknown)}"))
    for line in lines:
        facts = catalog.get(line.sku)
        if facts is not None and line.unit_price > facts.mrp:
            holds.append(
                Hold(HoldReason.PRICE_CHECK, f"{line.sku} sold at ₹{line.unit_price}, above its MRP of ₹{facts.mrp}")
            )
        elif line.unit_price == 0 and line.discount == 0:
            holds.append(Hold(HoldReason.PRICE_CHECK, f"{line.sku} has a price of zero"))
    return holds


def address_holds(
    address: AddressIn, pincode_states: Callable[[str], list[str] | None]
) -> tuple[list[Hold], State | None]:
    """Pincode format, existence, and agreement with the state. Returns the holds and the state
    the order ships to (from the state field, or failing that, the pincode)."""
    state = find_state(address.state_raw) if address.state_raw else None
    if not is_pincode_format(address.pincode):
        return [Hold(HoldReason.INVALID_ADDRESS, f"'{address.pincode}' is not a 6-digit pincode")], state
    states = pincode_states(address.pincode)
    if states is None:
        return [Hold(HoldReason.INVALID_ADDRESS, f"pincode {address.pincode} does not exist")], state
    pin_states = [s for s in (find_state(name) for name in states) if s is not None]
    if state is None:
        if pin_states:
            return [
                Hold(
                    HoldReason.STATE_MISMATCH,
                    f"'{address.state_raw}' is not a state; pincode {address.pincode} is in {pin_states[0].name}",
                )
            ], pin_states[0]
        return [Hold(HoldReason.INVALID_ADDRESS, f"'{address.state_raw}' is not an Indian state")], None
    if pin_states and state not in pin_states:
        return [
            Hold(HoldReason.STATE_MISMATCH, f"pincode {address.pincode} is in {pin_states[0].name}, not {state.name}")
        ], state
    return [], state
