"""GST invoice rules, checked against the e-invoice fixtures (tests/fixtures/FORMATS.md section 7)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermesh.domain.errors import ValidationFailed
from ordermesh.domain.gst_invoice import (
    InvoiceLine,
    InvoiceSeries,
    Party,
    Transport,
    amount_in_words,
    eway_bill,
    financial_year,
    financial_year_bounds,
    hsn_summary,
    invoice_number_problem,
    lines_total,
    needs_eway_bill,
    number_in_words,
    parse_financial_year,
    place_of_supply,
    split_tax,
)

D = Decimal
GST = Path(__file__).resolve().parents[2] / "fixtures" / "gst"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GST / name).read_text(), parse_float=Decimal, parse_int=Decimal)
    return data


def test_financial_year_runs_april_to_march() -> None:
    assert financial_year(date(2026, 4, 1)) == "2026-27"
    assert financial_year(date(2027, 3, 31)) == "2026-27"
    assert financial_year(date(2026, 3, 31)) == "2025-26"
    assert financial_year(date(1999, 12, 1)) == "1999-00"
    assert financial_year_bounds("2026-27") == (date(2026, 4, 1), date(2027, 3, 31))
    assert parse_financial_year("26-27") == 2026
    for bad in ("2026-28", "2026", "26/27"):
        with pytest.raises(ValueError):
            parse_financial_year(bad)


@given(st.dates(date(2000, 1, 1), date(2098, 12, 31)))
def test_every_date_lies_within_its_financial_year(day: date) -> None:
    start, end = financial_year_bounds(financial_year(day))
    assert start <= day <= end


def test_invoice_numbers_format_parse_and_rule_46() -> None:
    series = InvoiceSeries()
    assert series.format("2026-27", 123) == "INV/2026-27/000123"
    assert series.parse("INV/2026-27/000123") == ("2026-27", 123)
    assert series.format("2026-27", 1234567) == "INV/2026-27/1234567"
    problem = series.problem()
    assert problem is not None and "18 characters" in problem
    short = InvoiceSeries("INV", 6, short_year=True)
    assert short.format("2026-27", 123) == "INV/26-27/000123" and short.problem() is None
    assert short.parse("INV/26-27/000123") == ("2026-27", 123)
    assert invoice_number_problem(short.format("2026-27", 999999)) is None
    for bad in ("INV/2026-27/12", "BILL/2026-27/000123", "INV/2026-28/000123", "INV/26-27/000123", "INV/2026-27/0x"):
        with pytest.raises(ValueError):
            series.parse(bad)
    with pytest.raises(ValueError):
        series.format("2026-27", 0)
    with pytest.raises(ValueError):
        InvoiceSeries("IN V")
    assert invoice_number_problem("EHPL/24-25/0153") is None
    assert invoice_number_problem("INV/2026-27/000123") is not None  # 18 > 16
    assert invoice_number_problem("0INV/1") is not None
    assert invoice_number_problem("INV 1") is not None


def test_place_of_supply_is_the_destination_state_code() -> None:
    assert place_of_supply("Karnataka") == "29"
    assert place_of_supply("KA") == "29"
    assert place_of_supply("7") == "07"
    assert place_of_supply("anything", export=True) == "96"
    with pytest.raises(ValidationFailed):
        place_of_supply("Atlantis")


def fixture_lines(data: dict[str, Any]) -> list[InvoiceLine]:
    """The fixture's items as tax-inclusive lines: what the buyer pays per line, at its rate."""
    return [
        InvoiceLine(item["PrdDesc"], item["HsnCd"], D(1), item["TotItemVal"], item["GstRt"], unit=item["Unit"])
        for item in data["ItemList"]
    ]


@pytest.mark.parametrize("name", ["gst_einvoice.json", "gst_einvoice_intrastate.json"])
def test_split_reproduces_the_fixtures(name: str) -> None:
    data = fixture(name)
    supplier = data["SellerDtls"]["Stcd"]
    pos = data["BuyerDtls"]["Pos"]
    split = split_tax(fixture_lines(data), supplier, pos)
    assert split.intra_state == (supplier == pos)
    for taxed, item in zip(split.lines, data["ItemList"], strict=True):
        assert taxed.taxable == item["AssAmt"]
        assert (taxed.cgst, taxed.sgst, taxed.igst) == (item["CgstAmt"], item["SgstAmt"], item["IgstAmt"])
        assert taxed.total == item["TotItemVal"]
    totals = data["ValDtls"]
    assert split.taxable == totals["AssVal"] == D("20750.00")
    assert (split.cgst, split.sgst, split.igst) == (totals["CgstVal"], totals["SgstVal"], totals["IgstVal"])
    assert split.total == totals["TotInvVal"] == D("22405.00")


@pytest.mark.parametrize("name", ["gst_einvoice.json", "gst_einvoice_intrastate.json"])
def test_tax_exclusive_split_also_reproduces_the_fixtures(name: str) -> None:
    data = fixture(name)
    lines = [
        InvoiceLine(i["PrdDesc"], i["HsnCd"], i["Qty"], i["UnitPrice"], i["GstRt"], i["Discount"], i["Unit"])
        for i in data["ItemList"]
    ]
    split = split_tax(lines, data["SellerDtls"]["Stcd"], data["BuyerDtls"]["Pos"], inclusive=False)
    assert [t.taxable for t in split.lines] == [i["AssAmt"] for i in data["ItemList"]]
    assert split.tax == data["ValDtls"]["CgstVal"] + data["ValDtls"]["SgstVal"] + data["ValDtls"]["IgstVal"]


def test_inclusive_price_split_rounds_to_paise_and_halves_add_up() -> None:
    # ₹999 at 18%: 846.61 + 152.39; CGST 76.20 (76.195 half up), SGST 76.19
    split = split_tax([InvoiceLine("Tee", "6109", D(1), D(999), D(18))], "29", "29")
    line = split.lines[0]
    assert (line.taxable, line.cgst, line.sgst, line.igst) == (D("846.61"), D("76.20"), D("76.19"), D(0))
    assert line.total == D(999)
    # ₹100 at 18%: tax 15.25, halves 7.625 -> CGST 7.63 (half up, not half even), SGST 7.62
    hundred = split_tax([InvoiceLine("Tee", "6109", D(1), D(100), D(18))], "29", "29").lines[0]
    assert (hundred.taxable, hundred.cgst, hundred.sgst) == (D("84.75"), D("7.63"), D("7.62"))
    inter = split_tax([InvoiceLine("Tee", "6109", D(3), D(333), D(18), D(9))], "29", "27").lines[0]
    assert inter.line.gross == D(990) and inter.taxable == D("838.98") and inter.igst == D("151.02")
    with pytest.raises(ValueError):
        split_tax([InvoiceLine("Tee", "6109", D(1), D(10), D(18), D(11))], "29", "29")


lines_strategy = st.lists(
    st.builds(
        InvoiceLine,
        description=st.just("item"),
        hsn=st.sampled_from(["6109", "851822", "62114200"]),
        quantity=st.integers(1, 50).map(Decimal),
        unit_price=st.decimals(D("0.01"), D(100000), places=2),
        gst_rate=st.sampled_from([D(0), D(5), D(12), D(18), D(28), D("0.25"), D(3)]),
    ),
    min_size=1,
    max_size=8,
)


@given(lines_strategy, st.booleans())
def test_every_line_and_the_totals_add_up_exactly(lines: list[InvoiceLine], intra: bool) -> None:
    split = split_tax(lines, "29", "29" if intra else "33")
    for t in split.lines:
        assert t.taxable + t.tax == t.line.gross
        assert t.taxable == t.taxable.quantize(D("0.01")) and t.tax == t.tax.quantize(D("0.01"))
        assert abs(t.tax - (t.taxable * t.line.gst_rate / 100)) <= D("0.01")
        if intra:
            assert t.igst == 0 and abs(t.cgst - t.sgst) <= D("0.01") and t.cgst + t.sgst == t.tax
        else:
            assert t.cgst == t.sgst == 0
    assert split.total == lines_total(lines)
    assert split.taxable + split.cgst + split.sgst + split.igst == split.total
    summary = hsn_summary(split)
    assert sum(r.total for r in summary) == split.total
    assert sum(r.taxable for r in summary) == split.taxable


def test_hsn_summary_groups_by_hsn_and_rate() -> None:
    data = fixture("gst_einvoice.json")
    lines = [*fixture_lines(data), fixture_lines(data)[0]]
    rows = hsn_summary(split_tax(lines, "27", "29"))
    assert [(r.hsn, r.gst_rate, r.quantity, r.taxable, r.igst) for r in rows] == [
        ("621142", D(5), D(2), D(32000), D(1600)),
        ("851822", D(18), D(1), D(4750), D(855)),
    ]


def test_amount_in_words_in_the_indian_system() -> None:
    assert (
        amount_in_words(D("123456.70"))
        == "Rupees One Lakh Twenty-Three Thousand Four Hundred Fifty-Six and Seventy Paise Only"
    )
    assert amount_in_words(D("22405")) == "Rupees Twenty-Two Thousand Four Hundred Five Only"
    assert amount_in_words(D("10000000")) == "Rupees One Crore Only"
    assert amount_in_words(D("0.05")) == "Five Paise Only"
    assert amount_in_words(D(0)) == "Rupees Zero Only"
    assert amount_in_words(D("1999.999")) == "Rupees Two Thousand Only"
    assert number_in_words(1234567890) == (
        "One Hundred Twenty-Three Crore Forty-Five Lakh Sixty-Seven Thousand Eight Hundred Ninety"
    )
    assert number_in_words(100001) == "One Lakh One"
    assert number_in_words(19) == "Nineteen" and number_in_words(90) == "Ninety"
    with pytest.raises(ValueError):
        amount_in_words(D(-1))


SUPPLIER = Party("Example Handicrafts", "Unit 7", "Pune", "411028", "27", gstin="27AAPFU0939F1ZV")
CONSUMER = Party("Asha Rao", "12 MG Road", "Bengaluru", "560001", "29")


def test_no_eway_bill_at_or_below_the_threshold() -> None:
    split = split_tax([InvoiceLine("Sofa", "9401", D(1), D(50000), D(18))], "27", "29")
    assert eway_bill("INV/26-27/000001", date(2026, 5, 4), SUPPLIER, CONSUMER, split) is None
    assert needs_eway_bill(D("50000.01")) and not needs_eway_bill(D(50000))
    assert eway_bill("X1", date(2026, 5, 4), SUPPLIER, CONSUMER, split, threshold=D(40000)) is not None


def test_eway_bill_json_for_an_interstate_consumer_sale() -> None:
    split = split_tax([InvoiceLine("Sofa", "94016100", D(2), D("29500"), D(18))], "27", "29")
    bill = eway_bill(
        "INV/26-27/000042",
        date(2026, 5, 4),
        SUPPLIER,
        CONSUMER,
        split,
        Transport(mode=1, distance_km=840, transporter_id="29AAPFU0939F1ZV"),
    )
    assert bill is not None
    assert {k: bill[k] for k in ("supplyType", "subSupplyType", "docType", "docNo", "docDate")} == {
        "supplyType": "O",
        "subSupplyType": "1",
        "docType": "INV",
        "docNo": "INV/26-27/000042",
        "docDate": "04/05/2026",
    }
    assert (bill["fromGstin"], bill["fromStateCode"], bill["toGstin"], bill["toPincode"]) == (
        "27AAPFU0939F1ZV",
        27,
        "URP",
        560001,
    )
    assert (bill["totalValue"], bill["igstValue"], bill["cgstValue"], bill["totInvValue"]) == (50000, 9000, 0, 59000)
    assert bill["itemList"] == [
        {
            "productName": "Sofa",
            "productDesc": "Sofa",
            "hsnCode": 94016100,
            "quantity": 2,
            "qtyUnit": "NOS",
            "taxableAmount": 50000,
            "cgstRate": 0,
            "sgstRate": 0,
            "igstRate": 18,
            "cessRate": 0,
            "cessNonadvol": 0,
        }
    ]
    assert (bill["transMode"], bill["transDistance"], bill["transporterId"]) == ("1", "840", "29AAPFU0939F1ZV")
    assert "vehicleNo" not in bill
    json.dumps(bill)  # plain JSON types only


def test_eway_bill_intrastate_and_refusals() -> None:
    split = split_tax([InvoiceLine("TV", "8528", D(1), D("60001.01"), D(18))], "27", "27")
    buyer = Party("Demo Retail", "Shop 5", "Pune", "411038", "27", gstin="27AAPFU0939F1ZV")
    bill = eway_bill("INV1", date(2026, 5, 4), SUPPLIER, buyer, split)
    assert bill is not None and bill["toGstin"] == "27AAPFU0939F1ZV"
    item = bill["itemList"][0]
    assert (item["cgstRate"], item["sgstRate"], item["igstRate"]) == (9, 9, 0)
    assert bill["cgstValue"] + bill["sgstValue"] == pytest.approx(float(split.tax))
    assert bill["totInvValue"] == 60001.01 and "transMode" not in bill
    with pytest.raises(ValidationFailed, match="supplier GSTIN"):
        eway_bill("INV1", date(2026, 5, 4), Party("S", "a", "p", "411028", "27"), buyer, split)
    bad_hsn = split_tax([InvoiceLine("TV", "85", D(1), D(60000), D(18))], "27", "27")
    with pytest.raises(ValidationFailed, match="HSN"):
        eway_bill("INV1", date(2026, 5, 4), SUPPLIER, buyer, bad_hsn)
