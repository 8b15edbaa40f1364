"""The pickup manifest: every AWB scans off the page it is printed on, and the counts add up."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ordermesh.adapters.documents import kg_text, render_manifest, rupees
from tests.integration.documents import samples
from tests.integration.documents.reading import decode_pages, page_texts, tokens


def test_every_awb_scans_from_the_page_that_prints_it() -> None:
    data = samples.manifest(30)
    pdf = render_manifest(data)
    texts = page_texts(pdf)
    decoded = decode_pages(pdf)
    assert len(texts) >= 2
    awbs = {s.awb for s in data.shipments}
    for number, (text, found) in enumerate(zip(texts, decoded, strict=True), start=1):
        printed = awbs & set(tokens(text))
        assert len(found) == len(set(found)), f"page {number}: a barcode read twice"
        assert set(found) == printed, f"page {number}: printed {sorted(printed)}, scanned {sorted(found)}"
        assert len(found) > 1 or number == len(texts), f"page {number}: several AWBs a page"
    assert sorted(a for page in decoded for a in page) == sorted(awbs)


def test_rows_header_counts_and_signatures() -> None:
    data = samples.manifest(30)
    pages = [tokens(t) for t in page_texts(render_manifest(data))]
    for number, words in enumerate(pages, start=1):
        assert "Pickup Manifest · Delhivery" in words, f"page {number}"
        assert "Manifest No: MF/2026/0042" in words, f"page {number}"
        assert "Pickup date: 04-05-2026" in words, f"page {number}"
        assert f"Page {number} of {len(pages)}" in words, f"page {number}"
        assert {"AWB", "Order No", "Destination", "Weight", "COD"} <= set(words), f"page {number}"
    words = [w for page in pages for w in page]
    for row in data.shipments:
        at = words.index(row.awb)
        cod = rupees(row.cod_amount) if row.cod_amount else "Prepaid"
        assert words[at + 1 : at + 5] == [row.order_number, f"{row.city} {row.pincode}", kg_text(row.weight_g), "1"]
        assert words[at + 5] == cod
    last = pages[-1]
    assert last[last.index("Shipments") + 1] == "30"
    assert last[last.index("COD shipments") + 1] == str(data.cod_count) == "20"
    assert last[last.index("Prepaid shipments") + 1] == "10"
    assert last[last.index("COD to collect") + 1] == rupees(data.cod_total) == "₹29,980.00"
    assert last[last.index("Total weight") + 1] == kg_text(data.weight_total_g)
    assert "Picked up by (Delhivery)" in last and "Handed over by (seller)" in last
    assert "Received 30 shipments in good condition" in last


def test_too_narrow_manifest_barcodes_do_not_scan() -> None:
    pdf = render_manifest(samples.manifest(6), bar_width=0.25)
    assert decode_pages(pdf) == [[]]


def test_a_manifest_lists_each_awb_once() -> None:
    data = samples.manifest(3)
    with pytest.raises(ValueError, match="once"):
        replace(data, shipments=(*data.shipments, data.shipments[0]))
