"""The GST tax invoice, A4 (CGST Rules, rule 46): seller and buyer with GSTINs and states, place of
supply, one row per line with HSN, taxable value, rate and CGST+SGST (intra-state) or IGST
(inter-state), totals, an HSN-wise summary, the total in words, the reverse-charge statement and the
signature line. Long invoices run onto more pages; every page repeats the title block and the table's
column headings, and says "Page n of N".

The renderer prints what it is given and computes nothing but sums: amounts, tax split and the total in
words come from the domain. It refuses data whose total does not add up, or whose tax split does not
match the place of supply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from io import BytesIO

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
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

from ordermesh.adapters.documents._shared import fonts, inr_amount, numbered_canvas, para_text, rupees

PAGE_W, PAGE_H = A4
MARGIN = 36.0
HEADER_H = 62.0  # the title block drawn on every page
FOOTER_H = 24.0
ZERO = Decimal(0)


@dataclass(frozen=True)
class Party:
    name: str
    address_lines: tuple[str, ...]
    state: str  # name as printed: "Karnataka"
    state_code: str  # GST state code: "29"
    gstin: str | None = None  # the seller's always; the buyer's when B2B


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    hsn: str
    quantity: int
    unit_price: Decimal  # taxable value of one unit, before GST
    taxable_value: Decimal
    gst_rate: Decimal  # percent: Decimal("18")
    cgst: Decimal = ZERO
    sgst: Decimal = ZERO
    igst: Decimal = ZERO

    @property
    def tax(self) -> Decimal:
        return self.cgst + self.sgst + self.igst

    @property
    def total(self) -> Decimal:
        return self.taxable_value + self.tax


@dataclass(frozen=True)
class HsnSummaryRow:
    hsn: str
    gst_rate: Decimal
    taxable_value: Decimal
    cgst: Decimal
    sgst: Decimal
    igst: Decimal

    @property
    def tax(self) -> Decimal:
        return self.cgst + self.sgst + self.igst


@dataclass(frozen=True)
class InvoiceData:
    invoice_number: str  # "INV/2026-27/000123"
    invoice_date: date
    seller: Party
    buyer: Party
    place_of_supply: str  # state name
    place_of_supply_code: str  # GST state code
    lines: tuple[InvoiceLine, ...]
    total: Decimal  # payable: taxable + tax + round_off
    total_in_words: str  # "Indian Rupees One Thousand Four Hundred Ninety-Nine Only", from the domain
    round_off: Decimal = ZERO
    order_number: str | None = None
    reverse_charge: bool = False

    def __post_init__(self) -> None:
        if not self.lines:
            raise ValueError("an invoice needs at least one line")
        for n, line in enumerate(self.lines, start=1):
            if self.intra_state and line.igst:
                raise ValueError(f"line {n}: intra-state supply charges CGST+SGST, not IGST")
            if not self.intra_state and (line.cgst or line.sgst):
                raise ValueError(f"line {n}: inter-state supply charges IGST, not CGST+SGST")
        expected = self.taxable_total + self.cgst_total + self.sgst_total + self.igst_total + self.round_off
        if expected != self.total:
            raise ValueError(f"total {self.total} does not match the lines ({expected} with round-off)")

    @property
    def intra_state(self) -> bool:
        return self.seller.state_code == self.place_of_supply_code

    @property
    def taxable_total(self) -> Decimal:
        return sum((x.taxable_value for x in self.lines), ZERO)

    @property
    def cgst_total(self) -> Decimal:
        return sum((x.cgst for x in self.lines), ZERO)

    @property
    def sgst_total(self) -> Decimal:
        return sum((x.sgst for x in self.lines), ZERO)

    @property
    def igst_total(self) -> Decimal:
        return sum((x.igst for x in self.lines), ZERO)

    def hsn_summary(self) -> list[HsnSummaryRow]:
        """One row per HSN and rate, in the order they first appear."""
        rows: dict[tuple[str, Decimal], HsnSummaryRow] = {}
        for x in self.lines:
            key = (x.hsn, x.gst_rate)
            r = rows.get(key)
            rows[key] = HsnSummaryRow(
                x.hsn,
                x.gst_rate,
                x.taxable_value + (r.taxable_value if r else ZERO),
                x.cgst + (r.cgst if r else ZERO),
                x.sgst + (r.sgst if r else ZERO),
                x.igst + (r.igst if r else ZERO),
            )
        return list(rows.values())


def rate_text(rate: Decimal) -> str:
    return format(rate.normalize(), "f") + "%"


def render_invoice(data: InvoiceData) -> bytes:
    f = fonts()
    buf = BytesIO()
    styles = _styles()

    def title_block(canvas: Canvas, _doc: BaseDocTemplate) -> None:
        canvas.saveState()
        top = PAGE_H - MARGIN
        canvas.setFont(f.bold, 16)
        canvas.drawString(MARGIN, top - 16, "Tax Invoice")
        canvas.setFont(f.regular, 8.5)
        canvas.drawString(MARGIN, top - 30, f"{data.seller.name} · GSTIN {data.seller.gstin or '-'}")
        canvas.setFont(f.bold, 10)
        canvas.drawRightString(PAGE_W - MARGIN, top - 14, f"Invoice No: {data.invoice_number}")
        canvas.setFont(f.regular, 9)
        canvas.drawRightString(PAGE_W - MARGIN, top - 27, f"Invoice Date: {data.invoice_date:%d-%m-%Y}")
        if data.order_number:
            canvas.drawRightString(PAGE_W - MARGIN, top - 39, f"Order No: {data.order_number}")
        canvas.setLineWidth(1)
        canvas.line(MARGIN, top - HEADER_H + 12, PAGE_W - MARGIN, top - HEADER_H + 12)
        canvas.restoreState()

    def page_number(canvas: Canvas, page: int, pages: int) -> None:
        canvas.saveState()
        canvas.setFont(f.regular, 8)
        canvas.drawRightString(PAGE_W - MARGIN, MARGIN - 12, f"Page {page} of {pages}")
        canvas.drawString(MARGIN, MARGIN - 12, f"{data.invoice_number} · computer-generated invoice")
        canvas.restoreState()

    doc = BaseDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=f"Tax Invoice {data.invoice_number}",
        author=data.seller.name,
        subject=f"GST tax invoice {data.invoice_number}",
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
        id="body",
    )
    doc.addPageTemplates([PageTemplate(id="invoice", frames=[frame], onPage=title_block)])
    doc.build(_story(data, styles), canvasmaker=numbered_canvas(page_number))
    return buf.getvalue()


def _styles() -> dict[str, ParagraphStyle]:
    f = fonts()
    base = ParagraphStyle("base", fontName=f.regular, fontSize=8.5, leading=10.5)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9),
        "caption": ParagraphStyle("caption", parent=base, fontName=f.bold, fontSize=8, leading=10),
        "bold": ParagraphStyle("bold", parent=base, fontName=f.bold),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
    }


def _party(caption: str, party: Party, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = [
        Paragraph(caption, styles["caption"]),
        Paragraph(para_text(party.name), styles["bold"]),
    ]
    out += [Paragraph(para_text(line), styles["base"]) for line in party.address_lines]
    out.append(Paragraph(para_text(f"State: {party.state} (code {party.state_code})"), styles["base"]))
    if party.gstin:
        out.append(Paragraph(para_text(f"GSTIN: {party.gstin}"), styles["base"]))
    return out


GRID = [
    ("FONTSIZE", (0, 0), (-1, -1), 7.5),
    ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LEFTPADDING", (0, 0), (-1, -1), 3),
    ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ("TOPPADDING", (0, 0), (-1, -1), 2),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
]


def _grid(header_font: str, body_font: str, numeric_from: int) -> list[tuple[object, ...]]:
    return [
        *GRID,
        ("FONTNAME", (0, 0), (-1, -1), body_font),
        ("FONTNAME", (0, 0), (-1, 0), header_font),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E6E6E6")),
        ("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"),
    ]


def _story(data: InvoiceData, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    f = fonts()
    width = PAGE_W - 2 * MARGIN
    story: list[Flowable] = []

    parties = Table(
        [[_party("Sold by", data.seller, styles), _party("Bill to", data.buyer, styles)]],
        colWidths=[width / 2, width / 2],
    )
    parties.setStyle(TableStyle([*GRID, ("FONTNAME", (0, 0), (-1, -1), f.regular)]))
    story += [parties, Spacer(1, 4)]
    supply = f"Place of supply: {data.place_of_supply} ({data.place_of_supply_code})"
    story.append(Paragraph(para_text(supply), styles["bold"]))
    reverse = "Yes" if data.reverse_charge else "No"
    story += [Paragraph(f"Whether tax is payable on reverse charge: {reverse}", styles["base"]), Spacer(1, 6)]

    # Lines -------------------------------------------------------------------------------------
    if data.intra_state:
        tax_heads = ["CGST", "SGST"]
        widths = [16, 129, 44, 28, 54, 60, 30, 50, 50, 62]
    else:
        tax_heads = ["IGST"]
        widths = [16, 179, 44, 28, 54, 60, 30, 50, 62]
    heads = ["#", "Description", "HSN", "Qty", "Unit\nprice", "Taxable\nvalue", "Rate", *tax_heads, "Total"]
    rows: list[list[object]] = [list(heads)]
    for n, x in enumerate(data.lines, start=1):
        taxes = [x.cgst, x.sgst] if data.intra_state else [x.igst]
        rows.append(
            [
                str(n),
                Paragraph(para_text(x.description), styles["cell"]),
                x.hsn,
                str(x.quantity),
                inr_amount(x.unit_price),
                inr_amount(x.taxable_value),
                rate_text(x.gst_rate),
                *[inr_amount(t) for t in taxes],
                inr_amount(x.total),
            ]
        )
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([*_grid(f.bold, f.regular, 3), ("ALIGN", (6, 0), (6, -1), "RIGHT")]))
    story += [Paragraph(f"Amounts in {fonts().rupee}", styles["small"]), table, Spacer(1, 6)]

    # Totals ------------------------------------------------------------------------------------
    totals: list[list[str]] = [["Taxable value", inr_amount(data.taxable_total)]]
    if data.intra_state:
        totals += [["CGST", inr_amount(data.cgst_total)], ["SGST", inr_amount(data.sgst_total)]]
    else:
        totals += [["IGST", inr_amount(data.igst_total)]]
    if data.round_off:
        totals.append(["Round off", inr_amount(data.round_off)])
    totals.append(["Total", rupees(data.total)])
    totals_table = Table(totals, colWidths=[100, 90], hAlign="RIGHT")
    totals_table.setStyle(
        TableStyle(
            [
                *GRID,
                ("FONTNAME", (0, 0), (-1, -1), f.regular),
                ("FONTNAME", (0, -1), (-1, -1), f.bold),
                ("FONTSIZE", (0, -1), (-1, -1), 9),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
            ]
        )
    )
    words = Paragraph(para_text(f"Total in words: {data.total_in_words}"), styles["bold"])
    story += [KeepTogether([totals_table, Spacer(1, 4), words]), Spacer(1, 8)]

    # HSN summary -------------------------------------------------------------------------------
    story.append(KeepTogether(_hsn_table(data, styles)))
    story.append(Spacer(1, 14))

    # Declaration and signature -----------------------------------------------------------------
    sign = Table(
        [
            [
                Paragraph(
                    "Certified that the particulars given above are true and correct. "
                    "This is a computer-generated invoice.",
                    styles["small"],
                ),
                [
                    Paragraph(para_text(f"for {data.seller.name}"), styles["bold"]),
                    Spacer(1, 30),
                    Paragraph("Authorised Signatory", styles["base"]),
                ],
            ]
        ],
        colWidths=[width - 200, 200],
    )
    sign.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOX", (1, 0), (1, 0), 0.5, colors.black)]))
    story.append(KeepTogether([sign]))
    return story


def _hsn_table(data: InvoiceData, styles: dict[str, ParagraphStyle]) -> Sequence[Flowable]:
    f = fonts()
    summary = data.hsn_summary()
    if data.intra_state:
        heads = ["HSN", "Taxable value", "Rate", "CGST", "SGST", "Total tax"]
        widths = [80, 100, 50, 90, 90, 113]
    else:
        heads = ["HSN", "Taxable value", "Rate", "IGST", "Total tax"]
        widths = [80, 120, 60, 130, 133]
    rows: list[list[str]] = [heads]
    for r in summary:
        taxes = [r.cgst, r.sgst] if data.intra_state else [r.igst]
        rows.append(
            [r.hsn, inr_amount(r.taxable_value), rate_text(r.gst_rate), *map(inr_amount, taxes), inr_amount(r.tax)]
        )
    tax_totals = [data.cgst_total, data.sgst_total] if data.intra_state else [data.igst_total]
    rows.append(
        [
            "Total",
            inr_amount(data.taxable_total),
            "",
            *map(inr_amount, tax_totals),
            inr_amount(sum(tax_totals, ZERO)),
        ]
    )
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([*_grid(f.bold, f.regular, 1), ("FONTNAME", (0, -1), (-1, -1), f.bold)]))
    return [Paragraph("HSN/SAC summary", styles["caption"]), Spacer(1, 2), table]
