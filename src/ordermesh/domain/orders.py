"""Order lines and what an order's status follows from.

A line's units are always accounted for exactly once:
``quantity = open + allocated + shipped + cancelled``, with ``delivered <= shipped`` and
``returned <= delivered``. The order status is derived from its lines and holds, never set by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from ordermesh.domain.errors import Conflict
from ordermesh.domain.money import PAISA
from ordermesh.domain.statuses import OrderStatus


@dataclass(frozen=True)
class LineQuantities:
    quantity: int
    allocated: int = 0
    shipped: int = 0
    delivered: int = 0
    cancelled: int = 0
    returned: int = 0

    @property
    def open(self) -> int:
        """Units neither allocated, shipped nor cancelled: what still needs stock."""
        return self.quantity - self.allocated - self.shipped - self.cancelled

    @property
    def active(self) -> int:
        """Units the buyer still expects."""
        return self.quantity - self.cancelled

    def consistent(self) -> bool:
        return (
            self.quantity > 0
            and min(self.allocated, self.shipped, self.delivered, self.cancelled, self.returned) >= 0
            and self.open >= 0
            and self.delivered <= self.shipped
            and self.returned <= self.delivered
        )

    def allocate(self, n: int) -> LineQuantities:
        if not 0 < n <= self.open:
            raise Conflict(f"cannot allocate {n}: {self.open} unit(s) are open")
        return replace(self, allocated=self.allocated + n)

    def deallocate(self, n: int) -> LineQuantities:
        if not 0 < n <= self.allocated:
            raise Conflict(f"cannot release {n}: {self.allocated} unit(s) are allocated")
        return replace(self, allocated=self.allocated - n)

    def cancel(self, n: int) -> tuple[LineQuantities, int]:
        """Cancel ``n`` units: open ones first, then allocated ones (returned as the second value,
        the units whose reservation must be released). Shipped units cannot be cancelled."""
        cancellable = self.open + self.allocated
        if not 0 < n <= cancellable:
            raise Conflict(
                f"cannot cancel {n}: only {cancellable} unit(s) are not yet shipped or cancelled", field="quantity"
            )
        from_open = min(n, self.open)
        from_allocated = n - from_open
        return replace(self, cancelled=self.cancelled + n, allocated=self.allocated - from_allocated), from_allocated


def derive_status(
    lines: Sequence[LineQuantities], *, holds: Iterable[str], confirmed: bool, cancelled_whole: bool = False
) -> OrderStatus:
    """The order status its lines and holds imply."""
    active = sum(q.active for q in lines)
    if cancelled_whole or active == 0:
        return OrderStatus.CANCELLED
    shipped = sum(q.shipped for q in lines)
    delivered = sum(q.delivered for q in lines)
    returned = sum(q.returned for q in lines)
    if shipped:
        if returned:
            return OrderStatus.RETURNED if returned >= active else OrderStatus.PARTIALLY_RETURNED
        if delivered >= active:
            return OrderStatus.DELIVERED
        return OrderStatus.SHIPPED if shipped >= active else OrderStatus.PARTIALLY_SHIPPED
    if any(True for _ in holds):
        return OrderStatus.ON_HOLD
    if all(q.open == 0 for q in lines):
        return OrderStatus.ALLOCATED
    return OrderStatus.CONFIRMED if confirmed else OrderStatus.PENDING


@dataclass(frozen=True)
class Totals:
    items: Decimal
    discounts: Decimal
    shipping: Decimal
    tax: Decimal
    grand_total: Decimal

    def as_dict(self) -> dict[str, str]:
        return {
            k: str(getattr(self, k).quantize(PAISA)) for k in ("items", "discounts", "shipping", "tax", "grand_total")
        }


def line_tax(unit_price: Decimal, quantity: int, discount: Decimal, gst_rate: Decimal) -> Decimal:
    """GST contained in a tax-inclusive line (Indian retail prices include GST)."""
    gross = unit_price * quantity - discount
    if gross <= 0 or gst_rate == 0:
        return Decimal("0.00")
    return (gross - gross / (1 + gst_rate / 100)).quantize(PAISA)


def totals(lines: Sequence[tuple[Decimal, int, Decimal, Decimal]], shipping: Decimal) -> Totals:
    """Order totals from (unit_price, quantity, discount, tax) per line; prices include GST."""
    items = sum((p * q for p, q, _, _ in lines), Decimal("0"))
    discounts = sum((d for _, _, d, _ in lines), Decimal("0"))
    tax = sum((t for _, _, _, t in lines), Decimal("0"))
    return Totals(items, discounts, shipping, tax, items - discounts + shipping)
