"""The 4×6 label: its text reads back and both barcodes scan from a 200-dpi render."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import pytest

from ordermesh.adapters.documents import _shared, fonts, inr_amount, render_label
from tests.integration.documents import samples
from tests.integration.documents.reading import decode_pages, page_sizes, page_texts, tokens


def test_label_is_one_4x6_page_with_every_field() -> None:
    pdf = render_label(samples.label())
    assert page_sizes(pdf) == [(288.0, 432.0)]
    lines = tokens(page_texts(pdf)[0])
    for expected in [
        "Delhivery · Surface",
        "LKO/GMT",
        "1234567890123",
        "COD: collect ₹1,499.00",
        "Priya Sharma",
        "Flat 4B, Sunshine Apartments, 14th Cross Road",
        "Gomti Nagar",
        "Lucknow, Uttar Pradesh",
        "PIN 226010",
        "Ph: +91 98765 43210",
        "OM-000123",
        "Invoice: INV/2026-27/000123",
        "Date: 04-05-2026",
        "Dead wt: 0.45 kg",
        "Chargeable wt: 0.50 kg",
        "Dims: 20 × 15.5 × 10 cm",
        "FROM",
        "Plot 12, KIADB Industrial Area",
        "Bengaluru, Karnataka 562114",
        "RETURN TO",
        "Acme Returns Desk",
        "Bengaluru, Karnataka 560058",
    ]:
        assert expected in lines, f"{expected!r} not on the label: {lines}"


def test_prepaid_label_says_so_and_collects_nothing() -> None:
    pdf = render_label(samples.label(payment="prepaid", cod_amount=Decimal(0), routing_code=None))
    text = page_texts(pdf)[0]
    assert "PREPAID" in tokens(text)
    assert "COD" not in text and "₹" not in text
    assert "LKO/GMT" not in text


def test_returns_go_to_the_sender_when_no_return_address() -> None:
    lines = tokens(page_texts(render_label(samples.label(return_to=None)))[0])
    assert lines.count("Plot 12, KIADB Industrial Area") == 2
    assert lines.count("Bengaluru, Karnataka 562114") == 2
    assert "Acme Returns Desk" not in lines


def test_a_long_address_prints_whole_in_smaller_type() -> None:
    street = (
        "Door No 12-3-456/7A, Sri Lakshmi Narasimha Nilayam, 3rd Floor, Opp. Government High School",
        "Near Ramalayam Temple, Venkatanarasimharajuvaripeta Main Road",
    )
    to = replace(samples.BUYER, lines=street, company="Subramaniam Traders & Sons", pincode="620001")
    text = page_texts(render_label(samples.label(ship_to=to)))[0]
    printed = " ".join(text.split())
    for line in (*street, "Subramaniam Traders & Sons", "PIN 620001"):
        assert line in printed


@pytest.mark.parametrize(
    ("awb", "order"),
    [
        ("1234567890123", "OM-000123"),
        ("SF123456789IN", "402-1234567-1234567"),  # Amazon's order id, the longest we meet
        ("77001234567", "OD123456789012345678"),  # Flipkart's
        ("DLV-0000123456789A", "#1001"),  # Shopify's
    ],
    ids=["13-digit", "postal-style", "11-digit", "long-alphanumeric"],
)
def test_awb_and_order_number_scan_from_200_dpi(awb: str, order: str) -> None:
    pdf = render_label(samples.label(awb=awb, order_number=order))
    (found,) = decode_pages(pdf)
    assert sorted(found) == sorted([awb, order])


def test_a_barcode_too_narrow_to_scan_fails() -> None:
    """The check can fail: at 0.25 pt a module is 0.7 pixel at 200 dpi, and zbar reads nothing."""
    pdf = render_label(samples.label(), bar_width=0.25)
    (found,) = decode_pages(pdf)
    assert "1234567890123" not in found
    assert "OM-000123" not in found


def test_label_data_refuses_contradictions() -> None:
    with pytest.raises(ValueError, match="amount to collect"):
        samples.label(cod_amount=Decimal(0))
    with pytest.raises(ValueError, match="collects nothing"):
        samples.label(payment="prepaid")
    with pytest.raises(ValueError, match="printable ASCII"):
        render_label(samples.label(awb="AWB–1"))  # an en dash is no Code128 character


def test_rupee_sign_is_embedded_dejavu() -> None:
    f = fonts()
    assert f.embedded and f.rupee == "₹", (
        "DejaVu Sans not found: ₹ needs Debian's fonts-dejavu-core (`make test` installs it)"
    )


def test_indian_grouping() -> None:
    assert inr_amount(Decimal("1499")) == "1,499.00"
    assert inr_amount(Decimal("149999.5")) == "1,49,999.50"
    assert inr_amount(Decimal("123456789.005")) == "12,34,56,789.01"
    assert inr_amount(Decimal("-0.34")) == "-0.34"
    assert inr_amount(Decimal("999")) == "999.00"


@pytest.fixture
def without_dejavu(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_shared, "FONT_DIRS", ("/nonexistent",))
    _shared.fonts.cache_clear()
    try:
        yield
    finally:
        _shared.fonts.cache_clear()


@pytest.mark.usefixtures("without_dejavu")
def test_without_dejavu_it_writes_rs_and_still_scans() -> None:
    pdf = render_label(samples.label())
    assert "COD: collect Rs. 1,499.00" in tokens(page_texts(pdf)[0])
    (found,) = decode_pages(pdf)
    assert sorted(found) == sorted(["1234567890123", "OM-000123"])
