"""The pickup manifest: what one location hands over to one carrier on one pickup date. A4; every page
repeats the title block and the column headings; one row per shipment with its AWB as a scannable
Code128 (the pickup person scans it off the sheet), order number, destination, weight and COD amount;
then counts and totals and the signature boxes for both sides of the handover.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from ordermesh.adapters.documents._shared import (
    Address,
    code128,
    fit_bar_width,
    fonts,
    kg_text,
    numbered_canvas,
    para_text,
    rupees,
)

PAGE_W, PAGE_H = A4
MARGIN = 36.0
HEADER_H = 70.0
FOOTER_H = 24.0
BAR_HEIGHT = 26.0
BARCODE_COL = 165.0
ZERO = Decimal(0)


@dataclass(frozen=True)
class ManifestRow:
    awb: str
    order_number: str
    city: str
    pincode: str
    weight_g: int
    cod_amount: Decimal = ZERO  # 0: prepaid
    packages: int = 1


@dataclass(frozen=True)
class ManifestData:
    manifest_number: str
    carrier: str
    location: Address  # where the carrier collects
    pickup_date: date
    shipments: tuple[ManifestRow, ...]
    seller: str | None = None  # the seller's name, when a 3PL hands over for a client
    generated_at: datetime | None = None

    def __post_init__(self) -> None:
        awbs = [s.awb for s in self.shipments]
        if len(set(awbs)) != len(awbs):
            raise ValueError("a manifest lists each AWB once")

    @property
    def cod_count(self) -> int:
        return sum(1 for s in self.shipments if s.cod_amount > 0)

    @property
    def prepaid_count(self) -> int:
        return len(self.shipments) - self.cod_count

    @property
    def cod_total(self) -> Decimal:
        return sum((s.cod_amount for s in self.shipments), ZERO)

    @property
    def weight_total_g(self) -> int:
        return sum(s.weight_g for s in self.shipments)

    @property
    def package_count(self) -> int:
        return sum(s.packages for s in self.shipments)


def render_manifest(data: ManifestData, *, bar_width: float | None = None) -> bytes:
    """The manifest as PDF bytes. bar_width (points per module) overrides the fitted width (tests)."""
    f = fonts()
    buf = BytesIO()

    def title_block(canvas: Canvas, _doc: BaseDocTemplate) -> None:
        canvas.saveState()
        top = PAGE_H - MARGIN
        canvas.setFont(f.bold, 16)
        canvas.drawString(MARGIN, top - 16, f"Pickup Manifest · {data.carrier}")
        canvas.setFont(f.regular, 9)
        where = f"{data.location.name}, {data.location.city} {data.location.pincode}"
        canvas.drawString(MARGIN, top - 30, where)
        if data.seller:
            canvas.drawString(MARGIN, top - 42, f"Seller: {data.seller}")
        canvas.setFont(f.bold, 10)
        canvas.drawRightString(PAGE_W - MARGIN, top - 14, f"Manifest No: {data.manifest_number}")
        canvas.setFont(f.regular, 9)
        canvas.drawRightString(PAGE_W - MARGIN, top - 27, f"Pickup date: {data.pickup_date:%d-%m-%Y}")
        canvas.drawRightString(PAGE_W - MARGIN, top - 39, f"Shipments: {len(data.shipments)}")
        canvas.line(MARGIN, top - HEADER_H + 14, PAGE_W - MARGIN, top - HEADER_H + 14)
        canvas.restoreState()

    def page_number(canvas: Canvas, page: int, pages: int) -> None:
        canvas.saveState()
        canvas.setFont(f.regular, 8)
        canvas.drawRightString(PAGE_W - MARGIN, MARGIN - 12, f"Page {page} of {pages}")
        stamp = f"{data.manifest_number} · {data.carrier}"
        if data.generated_at:
            stamp += f" · generated {data.generated_at:%d-%m-%Y %H:%M}"
        canvas.drawString(MARGIN, MARGIN - 12, stamp)
        canvas.restoreState()

    doc = BaseDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=f"Manifest {data.manifest_number}",
        author="ordermesh",
        subject=f"{data.carrier} pickup {data.pickup_date:%d-%m-%Y}",
        pageCompression=1,
    )
    frame = Frame(
        MARGIN,
        MARGIN + FOOTER_H - 12,
        PAGE_W - 2 * MARGIN,
        PAGE_H - 2 * MARGIN - HEADER_H - FOOTER_H + 12,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    doc.addPageTemplates([PageTemplate(id="manifest", frames=[frame], onPage=title_block)])
    doc.build(_story(data, bar_width), canvasmaker=numbered_canvas(page_number))
    return buf.getvalue()


def _story(data: ManifestData, bar_width: float | None) -> list[Flowable]:
    f = fonts()
    width = PAGE_W - 2 * MARGIN
    base = ParagraphStyle("base", fontName=f.regular, fontSize=9, leading=11)
    bold = ParagraphStyle("bold", parent=base, fontName=f.bold)
    awb_text = ParagraphStyle("awb", parent=base, fontName=f.bold, fontSize=9, alignment=1)

    heads = ["#", "AWB", "Order No", "Destination", "Weight", "Pkgs", "COD"]
    widths = [20, BARCODE_COL, 92, 95, 48, 30, 0.0]
    widths[-1] = width - sum(widths)
    rows: list[list[object]] = [list(heads)]
    for n, s in enumerate(data.shipments, start=1):
        module = bar_width or fit_bar_width(s.awb, BARCODE_COL - 8, largest=1.1)
        symbol = code128(s.awb, bar_width=module, bar_height=BAR_HEIGHT)
        symbol.hAlign = "CENTER"
        rows.append(
            [
                str(n),
                [symbol, Spacer(1, 2), Paragraph(para_text(s.awb), awb_text)],
                Paragraph(para_text(s.order_number), base),
                Paragraph(para_text(f"{s.city} {s.pincode}"), base),
                kg_text(s.weight_g),
                str(s.packages),
                rupees(s.cod_amount) if s.cod_amount > 0 else "Prepaid",
            ]
        )
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), f.regular),
                ("FONTNAME", (0, 0), (-1, 0), f.bold),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E6E6E6")),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("VALIGN", (0, 1), (-1, -1), "MIDDLE"),
                ("ALIGN", (4, 0), (-1, -1), "RIGHT"),
                ("TOPPADDING", (0, 1), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 1), (-1, -1), 4),
            ]
        )
    )

    summary = Table(
        [
            ["Shipments", str(len(data.shipments)), "Packages", str(data.package_count)],
            ["COD shipments", str(data.cod_count), "Prepaid shipments", str(data.prepaid_count)],
            ["COD to collect", rupees(data.cod_total), "Total weight", kg_text(data.weight_total_g)],
        ],
        colWidths=[width / 4] * 4,
    )
    summary.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), f.regular),
                ("FONTNAME", (1, 0), (1, -1), f.bold),
                ("FONTNAME", (3, 0), (3, -1), f.bold),
                ("FONTSIZE", (0, 0), (-1, -1), 9.5),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ]
        )
    )

    def box(caption: str, fields: list[str]) -> list[Flowable]:
        out: list[Flowable] = [Paragraph(caption, bold), Spacer(1, 6)]
        for field in fields:
            out += [Paragraph(f"{field}: ______________________________", base), Spacer(1, 8)]
        return out

    received = f"Received {len(data.shipments)} shipments in good condition"
    signatures = Table(
        [
            [
                box("Handed over by (seller)", ["Name", "Signature", "Date & time"]),
                box(
                    f"Picked up by ({data.carrier})",
                    ["Name", "Employee ID", "Phone", "Signature", "Date & time"],
                ),
            ],
            ["", Paragraph(para_text(received), base)],
        ],
        colWidths=[width / 2, width / 2],
    )
    signatures.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (0, -1), 0.8, colors.black),
                ("BOX", (1, 0), (1, -1), 0.8, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return [table, Spacer(1, 10), KeepTogether([summary, Spacer(1, 12), signatures])]
