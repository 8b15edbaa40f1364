"""The stock ledger's rules: what each movement does to a balance, and when it is refused.

The ledger (movements) is the source of truth. A balance per (SKU, location) is the sum of its
movements' deltas. These functions are the rules both the database guards and the property tests
check against.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class MovementKind(StrEnum):
    RECEIPT = "receipt"  # goods received: on_hand +q
    ADJUSTMENT = "adjustment"  # signed correction with a reason: on_hand +/-q
    TRANSFER_OUT = "transfer_out"  # leaves this location for another: on_hand -q
    TRANSFER_IN = "transfer_in"  # arrives from another location: on_hand +q
    COUNT = "count"  # physical count: on_hand set to the counted quantity
    RESERVATION = "reservation"  # promised to an order: reserved +q
    RELEASE = "release"  # promise withdrawn: reserved -q
    SHIPMENT = "shipment"  # reserved units leave: on_hand -q, reserved -q
    RETURN = "return"  # sellable units come back: on_hand +q
    QUARANTINE = "quarantine"  # set aside, not sellable: on_hand -q, quarantined +q
    UNQUARANTINE = "unquarantine"  # back to sellable: quarantined -q, on_hand +q
    WRITE_OFF = "write_off"  # quarantined units destroyed or lost: quarantined -q


# Kinds a person or program may post directly; the rest come from orders, shipments and returns.
MANUAL_KINDS = frozenset({"receipt", "adjustment", "count", "transfer", "quarantine", "unquarantine", "write_off"})


@dataclass(frozen=True)
class Delta:
    on_hand: int = 0
    reserved: int = 0
    quarantined: int = 0

    def __neg__(self) -> Delta:
        return Delta(-self.on_hand, -self.reserved, -self.quarantined)


@dataclass(frozen=True)
class Balance:
    on_hand: int = 0
    reserved: int = 0
    quarantined: int = 0
    safety_stock: int = 0

    @property
    def available(self) -> int:
        """Sellable now: on hand less what is promised and what is held back; never negative."""
        return max(0, self.on_hand - self.reserved - self.safety_stock)

    def plus(self, delta: Delta) -> Balance:
        return replace(
            self,
            on_hand=self.on_hand + delta.on_hand,
            reserved=self.reserved + delta.reserved,
            quarantined=self.quarantined + delta.quarantined,
        )


class Guard(StrEnum):
    """What must still hold after a movement; the repository turns each into a WHERE clause.

    NON_NEGATIVE: on_hand, reserved and quarantined stay >= 0 (every movement).
    COVERS_RESERVED: on_hand stays >= reserved, so promised units are not adjusted away.
    AVAILABLE: on_hand - reserved - safety_stock stays >= 0, so a promise never oversells.
    """

    NON_NEGATIVE = "non_negative"
    COVERS_RESERVED = "covers_reserved"
    AVAILABLE = "available"


def movement_effect(kind: MovementKind, quantity: int) -> tuple[Delta, Guard]:
    """The delta a movement applies and the guard it needs. ``quantity`` is positive, except for
    adjustments, where it is the signed change. COUNT is handled by :func:`count_delta`."""
    q = quantity
    match kind:
        case MovementKind.RECEIPT | MovementKind.TRANSFER_IN | MovementKind.RETURN:
            return Delta(on_hand=q), Guard.NON_NEGATIVE
        case MovementKind.ADJUSTMENT:
            return Delta(on_hand=q), (Guard.COVERS_RESERVED if q < 0 else Guard.NON_NEGATIVE)
        case MovementKind.TRANSFER_OUT:
            return Delta(on_hand=-q), Guard.COVERS_RESERVED
        case MovementKind.RESERVATION:
            return Delta(reserved=q), Guard.AVAILABLE
        case MovementKind.RELEASE:
            return Delta(reserved=-q), Guard.NON_NEGATIVE
        case MovementKind.SHIPMENT:
            return Delta(on_hand=-q, reserved=-q), Guard.NON_NEGATIVE
        case MovementKind.QUARANTINE:
            return Delta(on_hand=-q, quarantined=q), Guard.COVERS_RESERVED
        case MovementKind.UNQUARANTINE:
            return Delta(on_hand=q, quarantined=-q), Guard.NON_NEGATIVE
        case MovementKind.WRITE_OFF:
            return Delta(quarantined=-q), Guard.NON_NEGATIVE
        case MovementKind.COUNT:
            raise ValueError("a count's delta depends on the balance; use count_delta")
    raise ValueError(f"unknown movement kind {kind!r}")


def count_delta(balance: Balance, counted: int) -> Delta:
    """A physical count sets on hand to what was counted; the ledger records the difference."""
    return Delta(on_hand=counted - balance.on_hand)


def guard_holds(guard: Guard, after: Balance) -> bool:
    if after.on_hand < 0 or after.reserved < 0 or after.quarantined < 0:
        return False
    if guard is Guard.COVERS_RESERVED:
        return after.on_hand >= after.reserved
    if guard is Guard.AVAILABLE:
        return after.on_hand - after.reserved - after.safety_stock >= 0
    return True


def apply(balance: Balance, kind: MovementKind, quantity: int) -> Balance | None:
    """The balance after a movement, or None when the movement must be refused."""
    if kind is MovementKind.COUNT:
        return balance.plus(count_delta(balance, quantity)) if quantity >= 0 else None
    delta, guard = movement_effect(kind, quantity)
    after = balance.plus(delta)
    return after if guard_holds(guard, after) else None


def is_low(available: int, threshold: int | None) -> bool:
    """Low stock: availability at or below the threshold set for the SKU at that location.

    An alert fires when a balance becomes low, not on every movement while it stays low."""
    return threshold is not None and available <= threshold
