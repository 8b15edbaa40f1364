"""GST on an outgoing invoice: financial year, invoice numbers, place of supply, the tax split,
the HSN summary, the amount in words and the e-way bill.

**Financial year.** April to March, written ``2026-27``.

**Invoice numbers.** ``{prefix}/{FY}/{counter}``, e.g. ``INV/2026-27/000123``: one series per GSTIN
per financial year. The counter is a database concern (gap-free, per GSTIN and FY); this module
only formats, parses and checks. Rule 46(b) of the CGST Rules and the e-invoice schema allow at
most 16 characters (letters, digits, ``/`` and ``-``): the long-year form with a 3-letter prefix
and 6 digits is 18, so :meth:`InvoiceSeries.problem` says so, and a series that must stay within
16 can use ``short_year`` (``INV/26-27/000123``) or fewer digits.

**Place of supply** for goods is where the movement ends: the delivery address's GST state code
(``96`` for exports). **Tax split**: CGST and SGST, half each, when the supplier's state is the
place of supply, else IGST (IGST Act ss. 7–8). Prices are tax-inclusive, as sellers list them:
per line, ``gross = quantity × unit price − discount``, ``taxable = gross × 100 / (100 + rate)``
rounded half-up to the paisa, and ``tax = gross − taxable``, so every line adds up to what the
buyer pays, and the totals, being sums of the lines, add up too. CGST is ``tax/2`` rounded, and
SGST the rest. (``inclusive=False`` prices from a taxable value instead, as B2B e-invoices do:
tax = taxable × rate, rounded.)

**E-way bill** (Rule 138): needed when the consignment value (invoice value including tax)
exceeds ₹50,000; :func:`eway_bill` returns the JSON the NIC e-way bill system takes (its
GENEWAYBILL request), or None below the threshold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ordermesh.domain.errors import ValidationFailed
from ordermesh.domain.india import find_state, format_rate, gstin_problem, hsn_problem
from ordermesh.domain.money import PAISA

EWAY_BILL_THRESHOLD = Decimal(50000)
OUTSIDE_INDIA = "96"
MAX_INVOICE_NUMBER = 16

# -- financial year ------------------------------------------------------------------------------

_FY_RE = re.compile(r"^(\d{4})-(\d{2})\Z")
_SHORT_FY_RE = re.compile(r"^(\d{2})-(\d{2})\Z")


def financial_year(day: date) -> str:
    """The Indian financial year a date falls in: 2026-04-01 and 2027-03-31 are both "2026-27"."""
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def parse_financial_year(text: str) -> int:
    """The starting year of "2026-27" (or "26-27"); ValueError when it is not a financial year."""
    match = _FY_RE.match(text)
    if match:
        start = int(match.group(1))
    else:
        short = _SHORT_FY_RE.match(text)
        if not short:
            raise ValueError(f"'{text}' is not a financial year such as 2026-27")
        start = 2000 + int(short.group(1))
        match = short
    if (start + 1) % 100 != int(match.group(2)):
        raise ValueError(f"'{text}' is not a financial year: the second year must follow the first")
    return start


def financial_year_bounds(fy: str) -> tuple[date, date]:
    start = parse_financial_year(fy)
    return date(start, 4, 1), date(start + 1, 3, 31)


# -- invoice numbers -----------------------------------------------------------------------------

_NUMBER_CHARS = re.compile(r"^[A-Za-z0-9/-]+\Z")


@dataclass(frozen=True)
class InvoiceSeries:
    prefix: str = "INV"
    width: int = 6  # counter digits, zero-padded
    short_year: bool = False  # "26-27" instead of "2026-27"

    def __post_init__(self) -> None:
        if not re.match(r"^[A-Za-z0-9-]{1,10}\Z", self.prefix) or self.prefix[0] == "0":
            raise ValueError("an invoice prefix is 1 to 10 letters, digits or '-', not starting with 0")
        if not 1 <= self.width <= 10:
            raise ValueError("the counter width is 1 to 10 digits")

    def _year(self, fy: str) -> str:
        start = parse_financial_year(fy)
        return f"{start % 100:02d}-{(start + 1) % 100:02d}" if self.short_year else f"{start}-{(start + 1) % 100:02d}"

    def format(self, fy: str, counter: int) -> str:
        """``INV/2026-27/000123``. The counter grows past the width rather than wrapping."""
        if counter < 1:
            raise ValueError("an invoice counter starts at 1")
        return f"{self.prefix}/{self._year(fy)}/{counter:0{self.width}d}"

    def parse(self, number: str) -> tuple[str, int]:
        """(financial year as "2026-27", counter) of a number in this series; ValueError otherwise."""
        parts = number.split("/")
        if len(parts) != 3 or parts[0] != self.prefix or not parts[2].isdigit() or len(parts[2]) < self.width:
            raise ValueError(f"'{number}' is not a number of the {self.prefix} series ({self.format('2026-27', 1)})")
        start = parse_financial_year(parts[1])
        if self._year(f"{start}-{(start + 1) % 100:02d}") != parts[1]:
            raise ValueError(f"'{number}' writes the year differently from this series")
        counter = int(parts[2])
        if counter < 1:
            raise ValueError(f"'{number}' has counter 0")
        return f"{start}-{(start + 1) % 100:02d}", counter

    def problem(self) -> str | None:
        """Why numbers of this series break Rule 46's 16 characters, or None."""
        longest = len(self.format("2026-27", 10**self.width - 1))
        if longest > MAX_INVOICE_NUMBER:
            return (
                f"numbers such as {self.format('2026-27', 123)} have {longest} characters; GST invoices "
                f"allow {MAX_INVOICE_NUMBER} (use a shorter prefix, the short year or fewer digits)"
            )
        return None


def invoice_number_problem(number: str) -> str | None:
    """Why a number cannot be a GST invoice number (Rule 46(b), e-invoice DocDtls.No), or None."""
    if not number or len(number) > MAX_INVOICE_NUMBER:
        return f"an invoice number has 1 to {MAX_INVOICE_NUMBER} characters"
    if not _NUMBER_CHARS.match(number):
        return "an invoice number has only letters, digits, '/' and '-'"
    if number[0] in "0/-":
        return "an invoice number starts with a letter or a digit other than 0"
    return None


# -- place of supply and the tax split -----------------------------------------------------------


def place_of_supply(destination_state: str, *, export: bool = False) -> str:
    """The GST state code where the goods' movement ends (``96`` for exports). Accepts a code
    ("29", "7"), an ISO code ("KA") or a name ("Karnataka"); ValidationFailed when unknown."""
    if export:
        return OUTSIDE_INDIA
    state = find_state(destination_state)
    if state is None:
        raise ValidationFailed(f"'{destination_state}' is not an Indian state or union territory", field="state")
    return state.gst_code


def _paise(amount: Decimal) -> Decimal:
    return amount.quantize(PAISA, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    hsn: str
    quantity: Decimal
    unit_price: Decimal  # including GST unless the split is told otherwise
    gst_rate: Decimal  # percent, the total rate (18, not 9 + 9)
    discount: Decimal = Decimal(0)  # on the line, same basis as unit_price
    unit: str = "NOS"  # UQC

    @property
    def gross(self) -> Decimal:
        return _paise(self.quantity * self.unit_price - self.discount)


@dataclass(frozen=True)
class TaxedLine:
    line: InvoiceLine
    taxable: Decimal
    cgst: Decimal
    sgst: Decimal
    igst: Decimal

    @property
    def tax(self) -> Decimal:
        return self.cgst + self.sgst + self.igst

    @property
    def total(self) -> Decimal:
        return self.taxable + self.tax


@dataclass(frozen=True)
class TaxSplit:
    supplier_state: str
    place_of_supply: str
    lines: tuple[TaxedLine, ...]

    @property
    def intra_state(self) -> bool:
        return self.supplier_state == self.place_of_supply

    @property
    def taxable(self) -> Decimal:
        return sum((t.taxable for t in self.lines), Decimal("0.00"))

    @property
    def cgst(self) -> Decimal:
        return sum((t.cgst for t in self.lines), Decimal("0.00"))

    @property
    def sgst(self) -> Decimal:
        return sum((t.sgst for t in self.lines), Decimal("0.00"))

    @property
    def igst(self) -> Decimal:
        return sum((t.igst for t in self.lines), Decimal("0.00"))

    @property
    def tax(self) -> Decimal:
        return self.cgst + self.sgst + self.igst

    @property
    def total(self) -> Decimal:
        return self.taxable + self.tax


def split_line(line: InvoiceLine, intra_state: bool, *, inclusive: bool = True) -> TaxedLine:
    if line.quantity <= 0:
        raise ValueError(f"{line.description}: quantity must be positive")
    if line.gst_rate < 0:
        raise ValueError(f"{line.description}: the GST rate cannot be negative")
    gross = line.gross
    if gross < 0:
        raise ValueError(f"{line.description}: the discount is more than the line")
    if inclusive:
        taxable = _paise(gross * 100 / (100 + line.gst_rate))
        tax = gross - taxable
    else:
        taxable = gross
        tax = _paise(taxable * line.gst_rate / 100)
    zero = Decimal("0.00")
    if intra_state:
        cgst = _paise(tax / 2)
        return TaxedLine(line, taxable, cgst, tax - cgst, zero)
    return TaxedLine(line, taxable, zero, zero, tax)


def split_tax(
    lines: Sequence[InvoiceLine], supplier_state: str, place_of_supply: str, *, inclusive: bool = True
) -> TaxSplit:
    """The tax of every line and the totals (see the module docstring)."""
    intra = supplier_state == place_of_supply
    return TaxSplit(supplier_state, place_of_supply, tuple(split_line(ln, intra, inclusive=inclusive) for ln in lines))


@dataclass(frozen=True)
class HsnRow:
    hsn: str
    gst_rate: Decimal
    unit: str
    quantity: Decimal
    taxable: Decimal
    cgst: Decimal
    sgst: Decimal
    igst: Decimal

    @property
    def total(self) -> Decimal:
        return self.taxable + self.cgst + self.sgst + self.igst


def hsn_summary(split: TaxSplit) -> list[HsnRow]:
    """The invoice's lines summed by (HSN, rate, unit), sorted: the table GSTR-1 asks for."""
    rows: dict[tuple[str, Decimal, str], list[Decimal]] = {}
    for t in split.lines:
        key = (t.line.hsn, t.line.gst_rate, t.line.unit)
        acc = rows.setdefault(key, [Decimal(0), Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), Decimal("0.00")])
        for i, value in enumerate((t.line.quantity, t.taxable, t.cgst, t.sgst, t.igst)):
            acc[i] += value
    return [HsnRow(h, r, u, *acc) for (h, r, u), acc in sorted(rows.items())]


# -- amount in words -----------------------------------------------------------------------------

_ONES = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
]
_TENS = ["_", "_", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety"]


def _below_hundred(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")


def number_in_words(n: int) -> str:
    """A whole number in the Indian system: crore, lakh, thousand, hundred."""
    if n < 0:
        raise ValueError("no words for negative amounts")
    if n < 100:
        return _below_hundred(n)
    parts: list[str] = []
    crore, n = divmod(n, 10**7)
    if crore:
        parts.append(f"{number_in_words(crore)} Crore")
    for size, name in ((10**5, "Lakh"), (1000, "Thousand"), (100, "Hundred")):
        count, n = divmod(n, size)
        if count:
            parts.append(f"{_below_hundred(count)} {name}")
    if n:
        parts.append(_below_hundred(n))
    return " ".join(parts)


def amount_in_words(amount: Decimal) -> str:
    """The amount as an invoice writes it: Rupees One Lakh Twenty-Three Thousand Four Hundred
    Fifty-Six and Seventy Paise Only."""
    paise_total = int(_paise(amount) * 100)
    if paise_total < 0:
        raise ValueError("no words for negative amounts")
    rupees, paise = divmod(paise_total, 100)
    if rupees and paise:
        return f"Rupees {number_in_words(rupees)} and {_below_hundred(paise)} Paise Only"
    if paise:
        return f"{_below_hundred(paise)} Paise Only"
    return f"Rupees {number_in_words(rupees)} Only"


# -- e-way bill ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    name: str
    address1: str
    place: str
    pincode: str
    state_code: str  # GST state code
    gstin: str | None = None  # None for a consumer: "URP" (unregistered person) on the bill
    address2: str = ""


@dataclass(frozen=True)
class Transport:
    """What is known of the movement; each field goes on the bill only when known."""

    mode: int | None = None  # 1 road, 2 rail, 3 air, 4 ship
    distance_km: int | None = None
    transporter_id: str | None = None  # the transporter's GSTIN or TRANSIN
    transporter_name: str | None = None
    vehicle_no: str | None = None


def needs_eway_bill(consignment_value: Decimal, threshold: Decimal = EWAY_BILL_THRESHOLD) -> bool:
    return consignment_value > threshold


def _number(amount: Decimal) -> float | int:
    """A JSON number for an amount of at most 2 (or 3) decimals: floats print their shortest
    round-tripping form, so 827.50 goes out as 827.5, exactly."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def eway_bill(
    invoice_number: str,
    invoice_date: date,
    supplier: Party,
    recipient: Party,
    split: TaxSplit,
    transport: Transport | None = None,
    *,
    threshold: Decimal = EWAY_BILL_THRESHOLD,
) -> dict[str, Any] | None:
    """The NIC e-way bill request for an outward supply, or None when the invoice value does not
    exceed ``threshold``. Raises ValidationFailed for data the portal would refuse."""
    if not needs_eway_bill(split.total, threshold):
        return None
    problems = []
    if supplier.gstin is None or gstin_problem(supplier.gstin):
        problems.append(f"supplier GSTIN: {gstin_problem(supplier.gstin or '') or 'missing'}")
    if recipient.gstin is not None and gstin_problem(recipient.gstin):
        problems.append(f"recipient GSTIN: {gstin_problem(recipient.gstin)}")
    for t in split.lines:
        if hsn_problem(t.line.hsn):
            problems.append(f"{t.line.description}: {hsn_problem(t.line.hsn)}")
    if problems:
        raise ValidationFailed("; ".join(problems), field="eway_bill")
    intra = split.intra_state
    bill: dict[str, Any] = {
        "supplyType": "O",  # outward
        "subSupplyType": "1",  # supply
        "docType": "INV",
        "docNo": invoice_number,
        "docDate": invoice_date.strftime("%d/%m/%Y"),
        "fromGstin": supplier.gstin,
        "fromTrdName": supplier.name,
        "fromAddr1": supplier.address1,
        "fromAddr2": supplier.address2,
        "fromPlace": supplier.place,
        "fromPincode": int(supplier.pincode),
        "fromStateCode": int(supplier.state_code),
        "actFromStateCode": int(supplier.state_code),
        "toGstin": recipient.gstin or "URP",
        "toTrdName": recipient.name,
        "toAddr1": recipient.address1,
        "toAddr2": recipient.address2,
        "toPlace": recipient.place,
        "toPincode": int(recipient.pincode),
        "toStateCode": int(split.place_of_supply),
        "actToStateCode": int(recipient.state_code),
        "transactionType": 1,  # regular
        "totalValue": _number(split.taxable),
        "cgstValue": _number(split.cgst),
        "sgstValue": _number(split.sgst),
        "igstValue": _number(split.igst),
        "cessValue": 0,
        "cessNonAdvolValue": 0,
        "otherValue": 0,
        "totInvValue": _number(split.total),
        "itemList": [_item(t, intra) for t in split.lines],
    }
    if transport is not None:
        known = {
            "transMode": None if transport.mode is None else str(transport.mode),
            "transDistance": None if transport.distance_km is None else str(transport.distance_km),
            "transporterId": transport.transporter_id,
            "transporterName": transport.transporter_name,
            "vehicleNo": transport.vehicle_no,
            "vehicleType": "R" if transport.vehicle_no else None,
        }
        bill |= {key: value for key, value in known.items() if value is not None}
    return bill


def _item(t: TaxedLine, intra: bool) -> dict[str, Any]:
    rate = t.line.gst_rate
    half = _number(Decimal(format_rate(rate / 2)))
    return {
        "productName": t.line.description[:100],
        "productDesc": t.line.description[:100],
        "hsnCode": int(t.line.hsn),
        "quantity": _number(t.line.quantity),
        "qtyUnit": t.line.unit,
        "taxableAmount": _number(t.taxable),
        "cgstRate": half if intra else 0,
        "sgstRate": half if intra else 0,
        "igstRate": 0 if intra else _number(rate),
        "cessRate": 0,
        "cessNonadvol": 0,
    }


def lines_total(lines: Iterable[InvoiceLine]) -> Decimal:
    """What the buyer pays for these lines (tax-inclusive prices)."""
    return sum((line.gross for line in lines), Decimal("0.00"))
