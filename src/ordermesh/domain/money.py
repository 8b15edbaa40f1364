"""Money is exact: Decimal rupees with two places, never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

PAISA = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")


def parse_amount(value: object) -> Decimal | None:
    """A non-negative rupee amount from a string or number, or None if it is not one.

    More than two decimal places are refused rather than rounded: a price is what the seller typed.
    """
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        return None
    if amount != amount.quantize(PAISA, rounding=ROUND_HALF_UP):
        return None
    return amount.quantize(PAISA)


def format_amount(amount: Decimal) -> str:
    return str(amount.quantize(PAISA, rounding=ROUND_HALF_UP))
