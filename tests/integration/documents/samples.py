"""Document data as the services would hand it over."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from ordermesh.adapters.documents import (
    Address,
    InvoiceData,
    InvoiceLine,
    LabelData,
    ManifestData,
    ManifestRow,
    Party,
)

PAISA = Decimal("0.01")

WAREHOUSE = Address(
    name="Acme Retail Pvt Ltd - Hoskote WH",
    lines=("Plot 12, KIADB Industrial Area", "Hoskote"),
    city="Bengaluru",
    state="Karnataka",
    pincode="562114",
    phone="+91 80 4000 1234",
)
RETURNS = Address(
    name="Acme Returns Desk",
    lines=("Unit 3, Peenya 2nd Stage",),
    city="Bengaluru",
    state="Karnataka",
    pincode="560058",
)
BUYER = Address(
    name="Priya Sharma",
    lines=("Flat 4B, Sunshine Apartments, 14th Cross Road", "Gomti Nagar"),
    city="Lucknow",
    state="Uttar Pradesh",
    pincode="226010",
    phone="+91 98765 43210",
)


def label(**changes: object) -> LabelData:
    data = LabelData(
        carrier="Delhivery",
        awb="1234567890123",
        order_number="OM-000123",
        ship_from=WAREHOUSE,
        ship_to=BUYER,
        payment="cod",
        cod_amount=Decimal("1499.00"),
        dead_weight_g=450,
        chargeable_weight_g=500,
        dimensions_cm=(Decimal("20"), Decimal("15.5"), Decimal("10")),
        invoice_number="INV/2026-27/000123",
        invoice_date=date(2026, 5, 4),
        return_to=RETURNS,
        routing_code="LKO/GMT",
        service="Surface",
    )
    return replace(data, **changes)  # type: ignore[arg-type]


SELLER = Party(
    name="Acme Retail Pvt Ltd",
    address_lines=("Plot 12, KIADB Industrial Area", "Hoskote, Bengaluru 562114"),
    state="Karnataka",
    state_code="29",
    gstin="29AAACA1234A1Z5",
)
BUYER_UP = Party("Priya Sharma", ("Flat 4B, Sunshine Apartments", "Gomti Nagar, Lucknow 226010"), "Uttar Pradesh", "09")
BUYER_KA_B2B = Party("Ravi Stores LLP", ("12 MG Road", "Bengaluru 560001"), "Karnataka", "29", gstin="29AAKFR1234Q1Z2")


def invoice_line(n: int, *, intra: bool, rate: Decimal = Decimal(18), hsn: str = "6211") -> InvoiceLine:
    quantity = 1 + n % 3
    unit = Decimal("1270.34") + n
    taxable = unit * quantity
    if intra:
        half = (taxable * rate / 200).quantize(PAISA)
        return InvoiceLine(f"Kurta {n}", hsn, quantity, unit, taxable, rate, cgst=half, sgst=half)
    return InvoiceLine(f"Kurta {n}", hsn, quantity, unit, taxable, rate, igst=(taxable * rate / 100).quantize(PAISA))


def invoice(lines: int = 3, *, intra: bool = False) -> InvoiceData:
    rows = tuple(
        invoice_line(
            n, intra=intra, rate=Decimal(5) if n % 4 == 0 else Decimal(18), hsn="6109" if n % 4 == 0 else "6211"
        )
        for n in range(1, lines + 1)
    )
    exact = sum((x.total for x in rows), Decimal(0))
    total = exact.quantize(Decimal(1))
    return InvoiceData(
        invoice_number="INV/2026-27/000123",
        invoice_date=date(2026, 5, 4),
        seller=SELLER,
        buyer=BUYER_KA_B2B if intra else BUYER_UP,
        place_of_supply="Karnataka" if intra else "Uttar Pradesh",
        place_of_supply_code="29" if intra else "09",
        lines=rows,
        total=total,
        total_in_words="Indian Rupees (as the domain spells it) Only",
        round_off=total - exact,
        order_number="OM-000123",
    )


def manifest(count: int = 30) -> ManifestData:
    rows = tuple(
        ManifestRow(
            awb=f"SF{700000 + n}IN" if n % 2 else f"{1234567890100 + n}",
            order_number=f"OM-{n:06d}",
            city="Lucknow" if n % 3 else "Pune",
            pincode="226010" if n % 3 else "411001",
            weight_g=450 + 10 * n,
            cod_amount=Decimal("1499.00") if n % 3 else Decimal(0),
        )
        for n in range(1, count + 1)
    )
    return ManifestData(
        manifest_number="MF/2026/0042",
        carrier="Delhivery",
        location=WAREHOUSE,
        pickup_date=date(2026, 5, 4),
        shipments=rows,
        generated_at=datetime(2026, 5, 4, 16, 30),
    )
