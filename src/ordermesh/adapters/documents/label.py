"""The shipping label: one 4×6 inch page (288×432 pt), the size every Indian carrier and thermal printer
takes. Top to bottom: carrier and sort code; the AWB as a large Code128 with its text; COD or PREPAID;
the buyer's address with the PIN in large type; the order number as Code128 beside invoice, date,
weights and dimensions; our address and the return address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from io import BytesIO

from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from ordermesh.adapters.documents._shared import (
    Address,
    cm,
    code128,
    fit,
    fit_bar_width,
    fit_size,
    fonts,
    kg_text,
    rupees,
)

WIDTH, HEIGHT = 288.0, 432.0  # 4 × 6 inch
MARGIN = 8.0
AWB_BAR_HEIGHT = 50.0
ORDER_BAR_HEIGHT = 26.0
ADDRESS_HEIGHT = 44.0  # the buyer's street lines: four at 9.5 pt, more in smaller type
LEADING = 1.16


@dataclass(frozen=True)
class LabelData:
    carrier: str  # as printed: "Delhivery", "Blue Dart"
    awb: str
    order_number: str
    ship_from: Address  # our location
    ship_to: Address  # the buyer
    payment: str  # "prepaid" | "cod"
    cod_amount: Decimal  # to collect; 0 when prepaid
    dead_weight_g: int
    chargeable_weight_g: int
    dimensions_cm: tuple[Decimal, Decimal, Decimal]  # length, breadth, height
    invoice_number: str
    invoice_date: date
    return_to: Address | None = None  # None: returns go to ship_from
    routing_code: str | None = None  # the carrier's sort / routing code, when it gives one
    service: str | None = None  # "Surface", "Express"

    def __post_init__(self) -> None:
        if self.payment not in ("prepaid", "cod"):
            raise ValueError(f"payment must be 'prepaid' or 'cod', not {self.payment!r}")
        if self.payment == "cod" and self.cod_amount <= 0:
            raise ValueError("a COD label needs the amount to collect")
        if self.payment == "prepaid" and self.cod_amount != 0:
            raise ValueError("a prepaid label collects nothing")


def render_label(data: LabelData, *, bar_width: float | None = None) -> bytes:
    """The label as PDF bytes. bar_width (points per module) overrides the fitted width: tests use a
    too-narrow one to prove that an unreadable barcode fails them."""
    f = fonts()
    buf = BytesIO()
    c = Canvas(buf, pagesize=(WIDTH, HEIGHT), pageCompression=1)
    c.setTitle(f"Label {data.awb}")
    c.setAuthor("ordermesh")
    c.setSubject(f"{data.carrier} AWB {data.awb}, order {data.order_number}")
    inner = WIDTH - 2 * MARGIN

    def top(offset: float) -> float:  # layout reads top-down; the PDF measures from the bottom
        return HEIGHT - offset

    def rule(offset: float, weight: float = 1) -> None:
        c.setLineWidth(weight)
        c.line(MARGIN, top(offset), WIDTH - MARGIN, top(offset))

    c.setLineWidth(1.5)
    c.rect(MARGIN / 2, MARGIN / 2, WIDTH - MARGIN, HEIGHT - MARGIN)

    # Carrier and routing code ------------------------------------------------------------------
    sort_w = 0.0
    if data.routing_code:
        size = fit_size(data.routing_code, f.bold, 16, inner / 2)
        sort_w = c.stringWidth(data.routing_code, f.bold, size) + 8
        c.rect(WIDTH - MARGIN - sort_w, top(30), sort_w, 24, stroke=1, fill=0)
        c.setFont(f.bold, size)
        c.drawRightString(WIDTH - MARGIN - 4, top(24), data.routing_code)
    carrier = data.carrier + (f" · {data.service}" if data.service else "")
    c.setFont(f.bold, 15)
    c.drawString(MARGIN + 2, top(23), fit(carrier, f.bold, 15, inner - sort_w - 8))
    rule(34)

    # AWB ---------------------------------------------------------------------------------------
    c.setFont(f.regular, 7)
    c.drawString(MARGIN + 2, top(42), "AWB")
    module = bar_width or fit_bar_width(data.awb, inner, largest=1.6)
    awb = code128(data.awb, bar_width=module, bar_height=AWB_BAR_HEIGHT)
    awb.drawOn(c, (WIDTH - awb.width) / 2, top(44 + AWB_BAR_HEIGHT))
    c.setFont(f.bold, 13)
    c.drawCentredString(WIDTH / 2, top(44 + AWB_BAR_HEIGHT + 14), data.awb)
    rule(114)

    # Payment -----------------------------------------------------------------------------------
    if data.payment == "cod":
        c.setFillGray(0)
        c.rect(MARGIN, top(143), inner, 26, stroke=0, fill=1)
        c.setFillGray(1)
        text = f"COD: collect {rupees(data.cod_amount)}"
    else:
        c.rect(MARGIN, top(143), inner, 26, stroke=1, fill=0)
        text = "PREPAID"
    size = fit_size(text, f.bold, 17, inner - 8)
    c.setFont(f.bold, size)
    c.drawCentredString(WIDTH / 2, top(136), text)
    c.setFillGray(0)

    # Ship to -----------------------------------------------------------------------------------
    to = data.ship_to
    c.setFont(f.regular, 7)
    c.drawString(MARGIN + 2, top(152), "SHIP TO")
    size = fit_size(to.name, f.bold, 12, inner - 4, smallest=9)
    c.setFont(f.bold, size)
    c.drawString(MARGIN + 2, top(165), fit(to.name, f.bold, size, inner - 4))
    y = 177.0
    lines = ([to.company] if to.company else []) + list(to.lines)
    size, wrapped = _wrap_to_fit(lines, f.regular, inner - 4, ADDRESS_HEIGHT)
    c.setFont(f.regular, size)
    for line in wrapped:
        c.drawString(MARGIN + 2, top(y), line)
        y += size * LEADING
    y = max(y, 177.0 + 3 * 11)  # a short address keeps the PIN where the eye expects it
    c.setFont(f.bold, 11)
    c.drawString(MARGIN + 2, top(y + 3), fit(to.city_line(), f.bold, 11, inner - 4))
    y += 26
    c.setFont(f.bold, 22)
    c.drawString(MARGIN + 2, top(y), f"PIN {to.pincode}")
    if to.phone:
        c.setFont(f.bold, 11)
        c.drawString(MARGIN + 2, top(y + 16), f"Ph: {to.phone}")
    rule(268)

    # Order barcode and shipment facts ----------------------------------------------------------
    c.setFont(f.regular, 7)
    c.drawString(MARGIN + 2, top(276), "ORDER")
    module = bar_width or fit_bar_width(data.order_number, inner - 60, largest=1.2)
    order = code128(data.order_number, bar_width=module, bar_height=ORDER_BAR_HEIGHT)
    order.drawOn(c, (WIDTH - order.width) / 2, top(278 + ORDER_BAR_HEIGHT))
    c.setFont(f.bold, 10)
    c.drawCentredString(WIDTH / 2, top(278 + ORDER_BAR_HEIGHT + 10), data.order_number)
    facts = [
        (f"Invoice: {data.invoice_number}", f"Dead wt: {kg_text(data.dead_weight_g)}"),
        (f"Date: {data.invoice_date:%d-%m-%Y}", f"Chargeable wt: {kg_text(data.chargeable_weight_g)}"),
        ("", "Dims: " + " × ".join(cm(d) for d in data.dimensions_cm) + " cm"),
    ]
    y = 327.0
    col = inner * 0.55
    for left, right in facts:
        for x, text, room in ((MARGIN + 2, left, col - 6), (MARGIN + col + 2, right, inner - col - 4)):
            if text:
                c.setFont(f.regular, fit_size(text, f.regular, 8, room, smallest=6))
                c.drawString(x, top(y), fit(text, f.regular, 6, room))
        y += 9.5
    rule(352)

    # From and return addresses -----------------------------------------------------------------
    half = inner / 2
    _small_address(c, "FROM", data.ship_from, MARGIN + 2, top(360), half - 6)
    _small_address(c, "RETURN TO", data.return_to or data.ship_from, MARGIN + half + 4, top(360), half - 6)
    c.line(MARGIN + half, top(352), MARGIN + half, top(428))

    c.showPage()
    c.save()
    return buf.getvalue()


def _small_address(c: Canvas, caption: str, address: Address, x: float, y: float, width: float) -> None:
    f = fonts()
    c.setFont(f.regular, 6.5)
    c.drawString(x, y, caption)
    names = simpleSplit(address.name, f.bold, 7.5, width)[:2]
    c.setFont(f.bold, 7.5)
    for name in names:
        y -= 9
        c.drawString(x, y, name)
    rows = ([address.company] if address.company else []) + list(address.lines)
    wrapped = [part for row in rows for part in simpleSplit(row, f.regular, 7, width)][:3]
    wrapped += [fit(f"{address.city_line()} {address.pincode}", f.regular, 7, width)]
    if address.phone:
        wrapped.append(f"Ph: {address.phone}")
    c.setFont(f.regular, 7)
    for row in wrapped:
        y -= 8.5
        c.drawString(x, y, row)


def _wrap_to_fit(lines: list[str], font: str, width: float, height: float) -> tuple[float, list[str]]:
    """The largest size (9.5 pt down to 6.5) at which every line, wrapped to width, fits in height;
    at the smallest, the last line that fits ends in an ellipsis."""
    for size in (9.5, 9.0, 8.5, 8.0, 7.5, 7.0, 6.5):
        wrapped = [part for line in lines for part in simpleSplit(line, font, size, width)]
        room = int((height + 1) // (size * LEADING))
        if len(wrapped) <= room:
            return size, wrapped
    kept = wrapped[:room]
    kept[-1] = fit(kept[-1] + " …", font, size, width)
    return size, kept
