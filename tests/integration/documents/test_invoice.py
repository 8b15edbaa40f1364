"""The GST tax invoice: every amount printed is the data's, the tax split follows the place of supply,
and a long invoice runs onto more pages, each with the title block and the column headings."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from ordermesh.adapters.documents import InvoiceLine, inr_amount, render_invoice
from ordermesh.adapters.documents.invoice import rate_text
from tests.integration.documents import samples
from tests.integration.documents.reading import page_sizes, page_texts, tokens


def _after(words: list[str], anchor: str, count: int) -> list[str]:
    assert anchor in words, f"{anchor!r} not in {words}"
    at = words.index(anchor)
    return words[at + 1 : at + 1 + count]


def test_interstate_invoice_prints_the_data() -> None:
    data = samples.invoice(lines=5, intra=False)
    pdf = render_invoice(data)
    assert page_sizes(pdf) == [(pytest.approx(595.28, abs=0.01), pytest.approx(841.89, abs=0.01))]
    words = tokens(page_texts(pdf)[0])
    for expected in [
        "Tax Invoice",
        "Invoice No: INV/2026-27/000123",
        "Invoice Date: 04-05-2026",
        "Sold by",
        "Acme Retail Pvt Ltd",
        "GSTIN: 29AAACA1234A1Z5",
        "State: Karnataka (code 29)",
        "Bill to",
        "Priya Sharma",
        "State: Uttar Pradesh (code 09)",
        "Place of supply: Uttar Pradesh (09)",
        "Whether tax is payable on reverse charge: No",
        "Total in words: Indian Rupees (as the domain spells it) Only",
        "for Acme Retail Pvt Ltd",
        "Authorised Signatory",
        "Page 1 of 1",
    ]:
        assert expected in words, f"{expected!r} not on the invoice: {words}"
    assert "CGST" not in words and "SGST" not in words  # inter-state: IGST only
    assert "Bill to" in words and words.count("GSTIN: 29AAACA1234A1Z5") == 1  # B2C buyer: no GSTIN

    for n, line in enumerate(data.lines, start=1):
        row = [
            line.hsn,
            str(line.quantity),
            inr_amount(line.unit_price),
            inr_amount(line.taxable_value),
            rate_text(line.gst_rate),
            inr_amount(line.igst),
            inr_amount(line.total),
        ]
        assert _after(words, line.description, 7) == row, f"line {n}"

    summary_at = words.index("HSN/SAC summary")
    totals_block = words[:summary_at]
    assert _tail_pair(totals_block, "IGST") == inr_amount(data.igst_total)
    assert data.round_off  # the sample's lines do not add up to whole rupees
    assert _tail_pair(totals_block, "Round off") == inr_amount(data.round_off)
    assert _tail_pair(totals_block, "Total") == f"₹{inr_amount(data.total)}"

    # HSN summary: one row per HSN and rate, then the totals row
    summary = words[summary_at:]
    assert _after(summary, "6211", 4) == [
        inr_amount(sum((x.taxable_value for x in data.lines if x.hsn == "6211"), Decimal(0))),
        "18%",
        inr_amount(sum((x.igst for x in data.lines if x.hsn == "6211"), Decimal(0))),
        inr_amount(sum((x.igst for x in data.lines if x.hsn == "6211"), Decimal(0))),
    ]
    assert _after(summary, "Total", 3) == [
        inr_amount(data.taxable_total),
        inr_amount(data.igst_total),
        inr_amount(data.igst_total),
    ]


def _tail_pair(words: list[str], label: str) -> str:
    """The value printed right after the last occurrence of label."""
    at = len(words) - 1 - words[::-1].index(label)
    return words[at + 1]


def test_intrastate_b2b_invoice_splits_cgst_and_sgst() -> None:
    data = samples.invoice(lines=4, intra=True)
    words = tokens(page_texts(render_invoice(data))[0])
    assert "GSTIN: 29AAKFR1234Q1Z2" in words
    assert "Place of supply: Karnataka (29)" in words
    assert "IGST" not in words
    line = data.lines[0]
    assert _after(words, line.description, 8)[5:] == [
        inr_amount(line.cgst),
        inr_amount(line.sgst),
        inr_amount(line.total),
    ]
    block = words[: words.index("HSN/SAC summary")]
    assert _tail_pair(block, "CGST") == inr_amount(data.cgst_total)
    assert _tail_pair(block, "SGST") == inr_amount(data.sgst_total)
    assert _tail_pair(block, "Total") == f"₹{inr_amount(data.total)}"
    summary = words[words.index("HSN/SAC summary") :]
    assert "6109" in summary and "5%" in summary  # two HSN/rate rows


def test_many_lines_run_onto_more_pages_each_with_the_header() -> None:
    short, long = samples.invoice(lines=5), samples.invoice(lines=120, intra=True)
    assert len(page_texts(render_invoice(short))) == 1
    pages = page_texts(render_invoice(long))
    assert len(pages) >= 4
    for number, text in enumerate(pages, start=1):
        words = tokens(text)
        assert "Tax Invoice" in words, f"page {number}"
        assert "Invoice No: INV/2026-27/000123" in words, f"page {number}"
        assert f"Page {number} of {len(pages)}" in words, f"page {number}"
    for number, text in enumerate(pages[:-1], start=1):  # pages that carry lines repeat the headings
        words = tokens(text)
        assert {"HSN", "Qty", "Rate", "CGST", "SGST"} <= set(words), f"page {number}"
    everything = [w for text in pages for w in tokens(text)]
    for line in long.lines:  # no line lost or printed twice across page breaks
        assert everything.count(line.description) == 1
    assert f"₹{inr_amount(long.total)}" in everything


def test_invoice_data_must_add_up() -> None:
    data = samples.invoice(lines=2)
    with pytest.raises(ValueError, match="does not match"):
        replace(data, total=data.total + 1)
    with pytest.raises(ValueError, match="inter-state"):
        replace(data, lines=(InvoiceLine("x", "6211", 1, Decimal(100), Decimal(100), Decimal(18), cgst=Decimal(9)),))
    with pytest.raises(ValueError, match="at least one line"):
        replace(data, lines=())
