"""Marketplace order reports read through column-mapping profiles: every built-in profile on a
small file with the marketplace's headers, multi-line orders, COD, statuses, bad rows reported by
row and column while good rows still parse, header checks, user profiles, and flat memory."""

from __future__ import annotations

import io
import json
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ordermesh.adapters.channels.base import BadPayload, ChannelLine
from ordermesh.adapters.channels.csv_report import (
    FLIPKART_STATUSES,
    MEESHO_STATUSES,
    PROFILES,
    Profile,
    ProfileError,
    ReportResult,
    load_profile,
    parse_report,
)
from ordermesh.domain.statuses import OrderStatus

IST = timezone(timedelta(hours=5, minutes=30))


def table(header: list[str], rows: list[dict[str, str]], *, sep: str = ",", eol: str = "\r\n") -> bytes:
    """A report file: the header, then each row's values by column name (missing ones blank)."""

    def cell(value: str) -> str:
        if sep == "," and any(c in value for c in ',"\n'):
            return '"' + value.replace('"', '""') + '"'
        return value

    lines = [sep.join(header)] + [sep.join(cell(row.get(h, "")) for h in header) for row in rows]
    return (eol.join(lines) + eol).encode("utf-8")


def read(data: bytes, profile: str | Profile, **kw: bool) -> tuple[list, ReportResult]:
    result = parse_report(data, PROFILES[profile] if isinstance(profile, str) else profile, **kw)
    orders = result.collect()
    assert result.finished
    return orders, result


# -- Amazon order report (New / Unshipped orders) -------------------------------------------------

AMAZON_ORDER_HEADER = [
    "order-id",
    "order-item-id",
    "purchase-date",
    "payments-date",
    "buyer-email",
    "buyer-name",
    "buyer-phone-number",
    "sku",
    "product-name",
    "quantity-purchased",
    "currency",
    "item-price",
    "item-tax",
    "shipping-price",
    "shipping-tax",
    "ship-service-level",
    "recipient-name",
    "ship-address-1",
    "ship-address-2",
    "ship-address-3",
    "ship-city",
    "ship-state",
    "ship-postal-code",
    "ship-country",
    "ship-phone-number",
    "item-promotion-discount",
    "item-promotion-id",
    "ship-promotion-discount",
    "ship-promotion-id",
    "delivery-start-date",
    "delivery-end-date",
    "payment-method",
    "cod-collectible-amount",
    "already-paid",
    "payment-method-fee",
    "is-business-order",
    "purchase-order-number",
    "price-designation",
    "is-prime",
]

COD_ORDER = {
    "order-id": "402-1234567-1234567",
    "purchase-date": "2024-05-01T04:45:22+00:00",
    "payments-date": "2024-05-01T04:45:22+00:00",
    "buyer-email": "Kq7abc@marketplace.amazon.in",
    "buyer-name": "Asha Kulkarni",
    "buyer-phone-number": "+91 98765 43210",
    "currency": "INR",
    "ship-service-level": "Standard",
    "recipient-name": "Asha K",
    "ship-address-1": "Flat 12, Sunrise Apartments",
    "ship-address-2": "MG Road",
    "ship-address-3": "Near City Park",
    "ship-city": "Pune",
    "ship-state": "MAHARASHTRA",
    "ship-postal-code": "411 001",
    "ship-country": "IN",
    "payment-method": "COD",
    "cod-collectible-amount": "2,447.00",
    "is-business-order": "false",
}


def amazon_order_report() -> bytes:
    rows = [
        {
            **COD_ORDER,
            "order-item-id": "11111111111111",
            "sku": "KURTA-BLU-M",
            "product-name": "Cotton kurta, blue, M",
            "quantity-purchased": "2",
            "item-price": "1998.00",
            "item-tax": "214.07",
            "shipping-price": "50.00",
            "item-promotion-discount": "-100.00",
        },
        {
            **COD_ORDER,
            "order-item-id": "22222222222222",
            "sku": "DUPATTA-RED",
            "product-name": "Dupatta, red",
            "quantity-purchased": "1",
            "item-price": "499.00",
            "item-tax": "23.76",
            "shipping-price": "0.00",
        },
        # Amazon's continuation row: a second promotion on the first item, most columns blank
        {"order-id": "402-1234567-1234567", "order-item-id": "11111111111111", "item-promotion-discount": "-50.00"},
        {
            "order-id": "403-7654321-7654321",
            "order-item-id": "33333333333333",
            "purchase-date": "2024-05-01T18:30:00+00:00",
            "buyer-name": "Ravi Iyer",
            "buyer-phone-number": "9845012345",
            "sku": "SAREE-SILK",
            "product-name": "Silk saree",
            "quantity-purchased": "3",
            "currency": "INR",
            "item-price": "1000.00",
            "shipping-price": "40.00",
            "ship-promotion-discount": "-40.00",
            "recipient-name": "Ravi Iyer",
            "ship-address-1": "4th Cross, Jayanagar",
            "ship-city": "Bengaluru",
            "ship-state": "Karnataka",
            "ship-postal-code": "560011",
            "payment-method": "Other",
            "cod-collectible-amount": "0",
        },
    ]
    return table(AMAZON_ORDER_HEADER, rows, sep="\t", eol="\n")


def test_amazon_order_report_reads_every_field() -> None:
    orders, result = read(amazon_order_report(), "amazon_order_report")
    assert result.errors == [] and result.rows == 4 and result.orders == 2
    cod, prepaid = orders
    assert cod.external_id == "402-1234567-1234567"
    assert cod.placed_at == datetime(2024, 5, 1, 4, 45, 22, tzinfo=UTC)
    assert cod.channel_status == "Unshipped" and cod.status is OrderStatus.CONFIRMED and cod.ready
    assert cod.customer == {"name": "Asha Kulkarni", "phone": "+919876543210", "email": "kq7abc@marketplace.amazon.in"}
    assert cod.shipping_address == {
        "name": "Asha K",
        "line1": "Flat 12, Sunrise Apartments",
        "line2": "MG Road, Near City Park",
        "city": "Pune",
        "state": "MAHARASHTRA",
        "pincode": "411001",
        "phone": "+919876543210",
    }
    assert (cod.payment_method, cod.payment_status) == ("cod", "cod_pending")
    # item-price is the line's total, tax included (India): 1998.00 for 2 is 999.00 each;
    # both promotions (-100 on its own row, -50 on the continuation row) land on the first line
    assert cod.lines == [
        ChannelLine("KURTA-BLU-M", "KURTA-BLU-M", 2, Decimal("999.00"), Decimal("150.00"), "Cotton kurta, blue, M",
                    "11111111111111"),
        ChannelLine("DUPATTA-RED", "DUPATTA-RED", 1, Decimal("499.00"), Decimal("0.00"), "Dupatta, red",
                    "22222222222222"),
    ]  # fmt: skip
    assert cod.shipping_charge == Decimal("50.00") and cod.currency == "INR"
    assert cod.extra["rows"] == [2, 4] and cod.extra["ship_service_level"] == "Standard"
    assert prepaid.external_id == "403-7654321-7654321"
    assert (prepaid.payment_method, prepaid.payment_status) == ("prepaid", "paid")
    assert prepaid.customer["email"] is None and prepaid.customer["phone"] == "+919845012345"
    assert prepaid.shipping_address["line2"] is None
    # 1000.00 for 3: 333.34 each and the 0.02 rounding kept as discount, so the line is still 1000.00
    (line,) = prepaid.lines
    assert (line.unit_price, line.discount) == (Decimal("333.34"), Decimal("0.02"))
    assert line.unit_price * line.quantity - line.discount == Decimal("1000.00")
    assert prepaid.shipping_charge == Decimal("0.00")  # 40.00 shipping, -40.00 shipping promotion


def test_amazon_cod_is_detected_from_the_collectible_amount_alone() -> None:
    row = {**COD_ORDER, "payment-method": "", "cod-collectible-amount": "499.00", "sku": "A", "quantity-purchased": "1",
           "item-price": "499.00"}  # fmt: skip
    (order,), _ = read(table(AMAZON_ORDER_HEADER, [row], sep="\t"), "amazon_order_report")
    assert order.payment_method == "cod"
    row = {**row, "cod-collectible-amount": "0.00"}
    (order,), _ = read(table(AMAZON_ORDER_HEADER, [row], sep="\t"), "amazon_order_report")
    assert order.payment_method == "prepaid"


def test_a_continuation_row_before_any_item_is_an_error() -> None:
    rows = [{"order-id": "402-0000000-0000001", "item-promotion-discount": "-5.00"}]
    orders, result = read(table(AMAZON_ORDER_HEADER, rows, sep="\t"), "amazon_order_report")
    assert orders == []
    assert str(result.errors[0]).startswith("row 2, column sku: is empty, and no earlier line")


# -- Amazon All Orders report --------------------------------------------------------------------

ALL_ORDERS_HEADER = [
    "amazon-order-id",
    "merchant-order-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
    "fulfillment-channel",
    "sales-channel",
    "order-channel",
    "ship-service-level",
    "product-name",
    "sku",
    "asin",
    "item-status",
    "quantity",
    "currency",
    "item-price",
    "item-tax",
    "shipping-price",
    "shipping-tax",
    "gift-wrap-price",
    "gift-wrap-tax",
    "item-promotion-discount",
    "ship-promotion-discount",
    "ship-city",
    "ship-state",
    "ship-postal-code",
    "ship-country",
    "promotion-ids",
    "is-business-order",
    "purchase-order-number",
    "price-designation",
]


def all_orders_row(order_id: str, status: str, **over: str) -> dict[str, str]:
    return {
        "amazon-order-id": order_id,
        "purchase-date": "2024-06-02T10:00:00+05:30",
        "last-updated-date": "2024-06-03T09:00:00+05:30",
        "order-status": status,
        "fulfillment-channel": "Merchant",
        "sales-channel": "Amazon.in",
        "product-name": "Steel bottle",
        "sku": "BOTTLE-1L",
        "item-status": "Unshipped",
        "quantity": "1",
        "currency": "INR",
        "item-price": "349.00",
        "item-tax": "53.24",
        "ship-city": "CHENNAI",
        "ship-state": "TAMIL NADU",
        "ship-postal-code": "600001",
        "ship-country": "IN",
        **over,
    }


def test_amazon_all_orders_statuses_fba_rows_and_pending_orders_without_prices() -> None:
    rows = [
        all_orders_row("405-0000001-0000001", "Shipped - Delivered to Buyer"),
        all_orders_row("405-0000002-0000002", "Shipped", **{"fulfillment-channel": "Amazon"}),  # FBA: not ours
        all_orders_row("405-0000003-0000003", "Pending", **{"item-price": "", "item-tax": ""}),
        all_orders_row("405-0000004-0000004", "Cancelled", quantity="0", **{"item-price": "0.00"}),
        all_orders_row("405-0000005-0000005", "Shipped - Returned to Seller"),
    ]
    orders, result = read(table(ALL_ORDERS_HEADER, rows, sep="\t"), "amazon_all_orders")
    assert result.errors == [] and result.skipped_rows == 1 and result.rows == 5
    assert [(o.external_id, o.status, o.ready) for o in orders] == [
        ("405-0000001-0000001", OrderStatus.DELIVERED, True),
        ("405-0000003-0000003", OrderStatus.PENDING, False),
        ("405-0000004-0000004", OrderStatus.CANCELLED, True),
        ("405-0000005-0000005", OrderStatus.RTO, True),
    ]
    delivered, pending, cancelled, _ = orders
    assert delivered.updated_at == datetime(2024, 6, 3, 9, 0, tzinfo=IST)
    assert delivered.lines[0].unit_price == Decimal("349.00")
    assert delivered.shipping_address["pincode"] == "600001" and delivered.shipping_address["name"] is None
    assert delivered.extra["fulfillment_channel"] == "Merchant"
    assert pending.lines[0].unit_price == Decimal("0.00") and pending.payment_status == "pending"
    assert cancelled.lines[0].quantity == 0


def test_amazon_all_orders_a_ready_order_without_a_price_is_an_error() -> None:
    rows = [all_orders_row("405-0000001-0000001", "Shipped", **{"item-price": ""})]
    orders, result = read(table(ALL_ORDERS_HEADER, rows, sep="\t"), "amazon_all_orders")
    assert orders == [] and [str(e) for e in result.errors] == ["row 2, column item-price: is empty"]


def test_quantity_zero_is_only_allowed_on_a_cancelled_order() -> None:
    rows = [all_orders_row("405-0000001-0000001", "Shipped", quantity="0")]
    orders, result = read(table(ALL_ORDERS_HEADER, rows, sep="\t"), "amazon_all_orders")
    assert orders == [] and str(result.errors[0]) == "row 2, column quantity: is 0 on an order that is not cancelled"


# -- Flipkart ------------------------------------------------------------------------------------

FLIPKART_HEADER = [
    "Ordered On", "Shipment ID", "ORDER ITEM ID", "Order Id", "HSN CODE", "Order State", "Order Type", "FSN",
    "SKU", "Product", "Invoice No.", "Invoice Date (mm/dd/yy)", "Invoice Amount", "Selling Price Per Item",
    "Shipping and Handling Charges", "Quantity", "Buyer name", "Ship to name", "Address Line 1", "Address Line 2",
    "City", "State", "PIN Code", "Dispatch After date", "Dispatch by date", "Tracking ID",
]  # fmt: skip


def flipkart_row(order_id: str, item_id: str, **over: str) -> dict[str, str]:
    return {
        "Ordered On": "Jan 15, 2025 10:30:45",
        "Shipment ID": "'80123456789",
        "ORDER ITEM ID": f"'{item_id}",
        "Order Id": f"'{order_id}",
        "Order State": "APPROVED",
        "Order Type": "COD",
        "FSN": "KTAGH3ZZXYZ",
        "SKU": "'KURTA-BLU-M",
        "Product": "Cotton kurta",
        "Invoice Amount": "1,049.00",
        "Selling Price Per Item": "₹999.00",
        "Shipping and Handling Charges": "50",
        "Quantity": "1",
        "Buyer name": "Meena Das",
        "Ship to name": "Meena Das",
        "Address Line 1": "22 Lake Road",
        "Address Line 2": "Ballygunge",
        "City": "Kolkata",
        "State": "West Bengal",
        "PIN Code": "700 019",
        "Dispatch by date": "Jan 17, 2025",
        **over,
    }


def test_flipkart_orders() -> None:
    rows = [
        flipkart_row("OD431234567890123100", "431234567890123101"),
        flipkart_row("OD431234567890123100", "431234567890123102", SKU="DUPATTA-RED", **{"Selling Price Per Item": "299"}),
        flipkart_row("OD431234567890999900", "431234567890999901", **{"Order Type": "Prepaid", "Order State": "PACKED",
                     "Quantity": "2", "Shipping and Handling Charges": "0"}),
    ]  # fmt: skip
    orders, result = read(table(FLIPKART_HEADER, rows), "flipkart_orders")
    assert result.errors == []
    first, second = orders
    assert first.external_id == "OD431234567890123100"  # the leading ' of the export is gone
    assert first.placed_at == datetime(2025, 1, 15, 10, 30, 45, tzinfo=IST)  # no offset: IST
    assert (first.status, first.payment_method) == (OrderStatus.CONFIRMED, "cod")
    assert [(ln.seller_sku, ln.quantity, ln.unit_price, ln.line_id) for ln in first.lines] == [
        ("KURTA-BLU-M", 1, Decimal("999.00"), "431234567890123101"),
        ("DUPATTA-RED", 1, Decimal("299.00"), "431234567890123102"),
    ]
    assert first.shipping_charge == Decimal("100.00")  # per row: 50 + 50
    assert first.shipping_address["pincode"] == "700019" and first.shipping_address["line2"] == "Ballygunge"
    assert first.extra["shipment_id"] == "80123456789" and first.extra["fsn"] == "KTAGH3ZZXYZ"
    assert (second.status, second.payment_method, second.payment_status) == (OrderStatus.IN_FULFILMENT, "prepaid",
                                                                              "paid")  # fmt: skip
    assert second.lines[0].unit_price == Decimal("999.00") and second.lines[0].quantity == 2


# -- Meesho --------------------------------------------------------------------------------------

MEESHO_HEADER = [
    "Reason for Credit Entry", "Sub Order No", "Order Date", "Customer State", "Product Name", "SKU", "Size",
    "Quantity", "Supplier Listed Price (Incl. GST + Commission)", "Supplier Discounted Price (Incl GST and Commision)",
    "Packet Id",
]  # fmt: skip


def meesho_row(sub_order: str, reason: str, **over: str) -> dict[str, str]:
    return {
        "Reason for Credit Entry": reason,
        "Sub Order No": sub_order,
        "Order Date": "2024-07-09",
        "Customer State": "Uttar Pradesh",
        "Product Name": "Printed cotton saree",
        "SKU": "SAREE-PRT-01",
        "Size": "Free Size",
        "Quantity": "1",
        "Supplier Listed Price (Incl. GST + Commission)": "449",
        "Supplier Discounted Price (Incl GST and Commision)": "429",
        "Packet Id": "PKT9988",
        **over,
    }


def test_meesho_orders() -> None:
    rows = [
        meesho_row("126543210987654321_1", "PENDING"),
        meesho_row("126543210987654321_2", "RTO_COMPLETE", **{"Order Date": "08-Jul-2024", "SKU": "SAREE-PRT-02"}),
    ]
    orders, result = read(table(MEESHO_HEADER, rows), "meesho_orders")
    assert result.errors == []
    pending, rto = orders
    assert pending.external_id == "126543210987654321_1" and pending.lines[0].line_id == "126543210987654321_1"
    assert (pending.status, pending.ready, pending.payment_method) == (OrderStatus.CONFIRMED, True, "prepaid")
    assert pending.placed_at == datetime(2024, 7, 9, tzinfo=IST)
    assert pending.lines[0].unit_price == Decimal("429.00")
    assert pending.shipping_address["state"] == "Uttar Pradesh" and pending.shipping_address["line1"] is None
    assert pending.extra["packet_id"] == "PKT9988"
    assert (rto.status, rto.placed_at) == (OrderStatus.RTO, datetime(2024, 7, 8, tzinfo=IST))


# -- ordermesh template --------------------------------------------------------------------------

TEMPLATE_HEADER = [
    "external_id",
    "placed_at",
    "customer_name",
    "customer_phone",
    "customer_email",
    "line1",
    "line2",
    "city",
    "state",
    "pincode",
    "payment_method",
    "sku",
    "quantity",
    "unit_price",
    "discount",
    "shipping_charge",
]


def template_row(order_id: str, **over: str) -> dict[str, str]:
    return {
        "external_id": order_id,
        "placed_at": "2026-11-26 10:15",
        "customer_name": "Priya Sharma",
        "customer_phone": "098765 43210",
        "customer_email": "Priya@Example.in",
        "line1": "Flat 12, Sunrise Apartments",
        "city": "Pune",
        "state": "27",
        "pincode": "411 001",
        "payment_method": "prepaid",
        "sku": "TSHIRT-BLK-M",
        "quantity": "2",
        "unit_price": "₹1,299.50",
        "discount": "100",
        "shipping_charge": "49",
        **over,
    }


def test_ordermesh_template_with_bom_crlf_rupee_amounts_and_ist_default() -> None:
    rows = [
        template_row("WA-1042"),
        # a later row of the same order: order-level columns may be left blank, shipping is per order
        {"external_id": "WA-1042", "sku": "CAP-RED", "quantity": "1", "unit_price": "Rs. 250", "shipping_charge": "49"},
        template_row("WA-1043", payment_method="COD", placed_at="2026-11-26T04:45:00Z", discount=""),
    ]
    data = b"\xef\xbb\xbf" + table(TEMPLATE_HEADER, rows)
    orders, result = read(data, "ordermesh")
    assert result.errors == []
    first, second = orders
    assert first.placed_at == datetime(2026, 11, 26, 10, 15, tzinfo=IST)
    assert first.placed_at.utcoffset() == timedelta(hours=5, minutes=30)
    assert first.customer == {"name": "Priya Sharma", "phone": "+919876543210", "email": "priya@example.in"}
    assert first.shipping_address["pincode"] == "411001" and first.shipping_address["state"] == "27"
    assert [(ln.seller_sku, ln.quantity, ln.unit_price, ln.discount) for ln in first.lines] == [
        ("TSHIRT-BLK-M", 2, Decimal("1299.50"), Decimal("100.00")),
        ("CAP-RED", 1, Decimal("250.00"), Decimal("0.00")),
    ]
    assert first.shipping_charge == Decimal("49.00")
    assert (first.status, first.channel_status) == (OrderStatus.CONFIRMED, "confirmed")
    assert (first.payment_method, second.payment_method) == ("prepaid", "cod")
    assert second.placed_at == datetime(2026, 11, 26, 4, 45, tzinfo=UTC)
    body = second.payload(lambda line: line.seller_sku or "")
    assert body["payment"] == {"method": "cod", "status": "cod_pending"}
    assert body["lines"] == [{"sku": "TSHIRT-BLK-M", "quantity": 2, "unit_price": "1299.50", "discount": "0.00"}]


def test_a_real_file_object_is_read_and_left_open() -> None:
    stream = io.BytesIO(table(TEMPLATE_HEADER, [template_row("A")]))
    orders, _ = read(stream, "ordermesh")  # type: ignore[arg-type]
    assert [o.external_id for o in orders] == ["A"] and not stream.closed


# -- statuses ------------------------------------------------------------------------------------

STATUS_CASES = (
    [("amazon_all_orders", word, ours) for word, ours in PROFILES["amazon_all_orders"].status_map.items()]
    + [("flipkart_orders", word, ours) for word, ours in FLIPKART_STATUSES.items()]
    + [("meesho_orders", word, ours) for word, ours in MEESHO_STATUSES.items()]
    + [("ordermesh", s.value, s) for s in OrderStatus]
)


def one_order(profile: str, status: str) -> bytes:
    if profile == "amazon_all_orders":
        return table(ALL_ORDERS_HEADER, [all_orders_row("405-1", status, quantity="1")], sep="\t")
    if profile == "flipkart_orders":
        return table(FLIPKART_HEADER, [flipkart_row("OD1", "1", **{"Order State": status})])
    if profile == "meesho_orders":
        return table(MEESHO_HEADER, [meesho_row("1_1", status)])
    return table([*TEMPLATE_HEADER, "status"], [template_row("A", status=status)])


@pytest.mark.parametrize(("profile", "word", "ours"), STATUS_CASES, ids=lambda v: str(v))
def test_every_status_word_maps(profile: str, word: str, ours: OrderStatus) -> None:
    (order,), _ = read(one_order(profile, word), profile)
    assert (order.channel_status, order.status) == (word, ours)
    assert order.ready is (ours is not OrderStatus.PENDING)


def test_status_words_match_whatever_their_case_and_spacing() -> None:
    (order,), _ = read(one_order("amazon_all_orders", "shipped  -  delivered to BUYER"), "amazon_all_orders")
    assert order.status is OrderStatus.DELIVERED


def test_an_unknown_status_word_is_an_error_naming_it() -> None:
    orders, result = read(one_order("flipkart_orders", "TELEPORTED"), "flipkart_orders")
    assert orders == []
    assert str(result.errors[0]).startswith("row 2, column Order State: 'TELEPORTED' is not a status the profile")


def test_unready_statuses_of_a_user_profile() -> None:
    profile = Profile.from_dict({"extends": "ordermesh", "name": "mine", "unready_statuses": ["on_hold"]})
    (order,), _ = read(table([*TEMPLATE_HEADER, "status"], [template_row("A", status="on_hold")]), profile)
    assert order.ready is False and order.payment_status == "pending"


# -- bad rows ------------------------------------------------------------------------------------


def test_bad_rows_are_reported_by_row_and_column_and_good_rows_still_parse() -> None:
    rows = [
        template_row("A1"),
        template_row("A2", quantity="two"),
        template_row("A2", sku="OTHER", unit_price="12.5.0"),
        template_row("A3", placed_at="31/02/2026"),
        template_row("A4", sku=""),
        template_row("A5", unit_price="-5"),
        template_row("", sku="ORPHAN"),
        template_row("A6"),
    ]
    orders, result = read(table(TEMPLATE_HEADER, rows), "ordermesh")
    assert [o.external_id for o in orders] == ["A1", "A6"]
    # an order's problems are reported when its last row has been read, so sort by row to compare
    assert [str(e) for e in sorted(result.errors, key=lambda e: e.row)] == [
        "row 3, column quantity: 'two' is not a whole number",
        "row 4, column unit_price: '12.5.0' is not an amount",
        "row 5, column placed_at: '31/02/2026' is not a date in the format ISO 8601 (2024-05-01T10:15:00+05:30)",
        "row 6, column sku: is empty",
        "row 7, column unit_price: '-5.00' is negative",
        "row 8, column external_id: is empty: the row belongs to no order",
    ]
    assert [e.order_id for e in result.errors[:2]] == ["A2", "A2"]  # the whole order A2 is left out
    assert (result.rows, result.orders, result.rejected_orders, result.error_count) == (8, 2, 4, 6)


def test_an_order_id_that_comes_back_later_is_an_error_unless_ungrouped() -> None:
    rows = [template_row("A"), template_row("B"), template_row("A", sku="LATE")]
    data = table(TEMPLATE_HEADER, rows)
    orders, result = read(data, "ordermesh")
    assert [o.external_id for o in orders] == ["A", "B"]
    assert str(result.errors[0]).startswith("row 4, column external_id: order A already ended (it started at row 2)")
    orders, result = read(data, "ordermesh", grouped=False)
    assert result.errors == []
    assert [(o.external_id, [ln.seller_sku for ln in o.lines]) for o in orders] == [
        ("A", ["TSHIRT-BLK-M", "LATE"]),
        ("B", ["TSHIRT-BLK-M"]),
    ]


def test_bytes_that_are_not_the_profiles_encoding_are_named_and_a_cp1252_profile_reads_them() -> None:
    data = table(TEMPLATE_HEADER, [template_row("A", customer_name="Jose", unit_price="10")]).replace(
        b"Jose", b"Jos\xe9"
    )
    orders, result = read(data, "ordermesh")
    assert orders == []
    assert str(result.errors[0]).startswith("row 2, column customer_name: has bytes that are not utf-8-sig")
    cp1252 = Profile.from_dict({"extends": "ordermesh", "name": "windows", "encoding": "cp1252"})
    (order,), _ = read(data, cp1252)
    assert order.customer["name"] == "Jos\u00e9"


def test_errors_kept_are_capped_but_all_counted() -> None:
    rows = [template_row(f"A{i}", quantity="x") for i in range(30)]
    result = parse_report(table(TEMPLATE_HEADER, rows), PROFILES["ordermesh"], max_errors=5)
    assert result.collect() == [] and len(result.errors) == 5 and result.error_count == 30


def test_a_report_is_read_once() -> None:
    result = parse_report(table(TEMPLATE_HEADER, [template_row("A")]), PROFILES["ordermesh"])
    result.collect()
    with pytest.raises(RuntimeError):
        list(result)


# -- the header ----------------------------------------------------------------------------------


def test_a_header_missing_columns_names_them() -> None:
    header = [h for h in AMAZON_ORDER_HEADER if h not in ("quantity-purchased", "ship-city")]
    with pytest.raises(BadPayload) as caught:
        parse_report(table(header, [], sep="\t"), PROFILES["amazon_order_report"])
    message = str(caught.value)
    assert "'quantity-purchased' (quantity)" in message and "'ship-city' (city)" in message
    assert "amazon_order_report" in message and "sku" not in message.split("needs:")[1]


def test_alternative_header_names_and_stray_spaces_are_accepted() -> None:
    header = [" Order ID ", "Order Item ID", "Ordered On", "Order State", "Seller SKU", "Quantity",
              "Selling Price Per Item", "Ship To Name", "Address Line 1", "City", "State", "Pincode"]  # fmt: skip
    row = flipkart_row("OD9", "9", **{"Seller SKU": "X", "Ship To Name": "N", "Pincode": "110001"})
    row[" Order ID "] = row.pop("Order Id")
    row["Order Item ID"] = row.pop("ORDER ITEM ID")
    (order,), _ = read(table(header, [row]), "flipkart_orders")
    assert (order.external_id, order.lines[0].seller_sku, order.shipping_address["pincode"]) == ("OD9", "X", "110001")


def test_a_comma_file_read_with_a_tab_profile_gets_a_hint() -> None:
    data = ",".join(AMAZON_ORDER_HEADER).encode() + b"\n"
    with pytest.raises(BadPayload, match="is the delimiter right"):
        parse_report(data, PROFILES["amazon_order_report"])


def test_blank_lines_before_the_header_keep_row_numbers_true() -> None:
    data = b"\r\n" + table(TEMPLATE_HEADER, [template_row("A", quantity="x")])
    _, result = read(data, "ordermesh")
    assert str(result.errors[0]) == "row 3, column quantity: 'x' is not a whole number"


def test_a_refused_header_leaves_the_callers_file_open() -> None:
    stream = io.BytesIO(b"nothing,useful\r\n")
    with pytest.raises(BadPayload, match="'external_id' \\(order_id\\)"):
        parse_report(stream, PROFILES["ordermesh"])
    assert not stream.closed


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(BadPayload, match="empty"):
        parse_report(b"\r\n\r\n", PROFILES["ordermesh"])


# -- user profiles -------------------------------------------------------------------------------

MY_SHOP = {
    "name": "my_shop",
    "delimiter": ";",
    "date_formats": ["%d/%m/%Y %H:%M"],
    "columns": {
        "order_id": "Order No",
        "placed_at": "Date",
        "status": "State",
        "sku": ["Item code", "SKU"],
        "quantity": "Qty",
        "line_total": "Amount",
        "buyer_name": "Customer",
        "buyer_phone": "Mobile",
        "line1": "Address",
        "city": "City",
        "state": "State code",
        "pincode": "PIN",
        "payment_method": "Mode",
    },
    "cod_values": ["Cash", "COD"],
    "status_map": {"New": "confirmed", "Awaiting payment": "pending", "Dispatched": "shipped"},
}


def test_a_user_profile_from_json_reads_its_file() -> None:
    profile = load_profile(json.dumps(MY_SHOP))
    header = ["Order No", "Date", "State", "Item code", "Qty", "Amount", "Customer", "Mobile", "Address", "City",
              "State code", "PIN", "Mode"]  # fmt: skip
    data = (
        ";".join(header) + "\n"
        "S-1;05/03/2025 14:20;New;MUG-1;4;1.000,00;Anil;+91-99887-76655;1 Park St;Delhi;DL;110 001;cash\n"
        "S-2;05/03/2025 15:00;Awaiting payment;MUG-1;1;250;Anil;9988776655;1 Park St;Delhi;DL;110001;UPI\n"
    ).encode()
    orders, result = read(data, profile)
    assert [str(e) for e in result.errors] == ["row 2, column Amount: '1.000,00' is not an amount"]
    (pending,) = orders
    assert pending.placed_at == datetime(2025, 3, 5, 15, 0, tzinfo=IST)
    assert (pending.status, pending.ready, pending.payment_method) == (OrderStatus.PENDING, False, "prepaid")
    fixed = data.replace(b"1.000,00", b"1000.00")
    orders, result = read(fixed, profile)
    assert result.errors == [] and orders[0].payment_method == "cod"
    assert (orders[0].lines[0].unit_price, orders[0].customer["phone"]) == (Decimal("250.00"), "+919988776655")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"colour": "blue", "sheet": 1}, "unknown keys: colour, sheet"),
        ({"columns": {**MY_SHOP["columns"], "gift_note": "Note"}}, "columns: unknown field 'gift_note'"),
        (
            {"columns": {"order_id": "Order No", "line_total": "Amount"}},
            "missing required fields: placed_at, sku, quantity",
        ),
        ({"columns": {**MY_SHOP["columns"], "unit_price": "Rate"}}, "map exactly one of unit_price or line_total"),
        ({"status_map": {"New": "teleported"}}, "status_map: 'New' -> 'teleported' is not one of our statuses"),
        ({"delimiter": ";;"}, "delimiter: must be one character"),
        ({"encoding": "klingon-8"}, "encoding: 'klingon-8' is not an encoding"),
        ({"date_formats": ["dd/mm/yyyy"]}, "'dd/mm/yyyy' is neither \"iso\" nor a strptime format"),
        ({"timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus'"),
        ({"shipping": "sometimes"}, "shipping: must be per_row or per_order"),
        ({"optional": ["sku"]}, "optional: 'sku' cannot be optional"),
        ({"extends": "ebay"}, "extends: no built-in profile 'ebay'"),
        ({"columns": {**MY_SHOP["columns"], "quantity": 3}}, "columns.quantity: must be a column name"),
        ({"prices_include_tax": "yes"}, "prices_include_tax: must be true or false"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_user_profile_problems_are_named(change: dict, problem: str) -> None:
    with pytest.raises(ProfileError) as caught:
        Profile.from_dict({**MY_SHOP, **change})
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_a_profile_without_status_needs_a_default_status_in_its_map() -> None:
    raw = {**MY_SHOP, "columns": {k: v for k, v in MY_SHOP["columns"].items() if k != "status"}}
    with pytest.raises(ProfileError, match="default_status: required"):
        Profile.from_dict(raw)
    with pytest.raises(ProfileError, match="default_status: 'Shipped' is not in status_map"):
        Profile.from_dict({**raw, "default_status": "Shipped"})
    assert Profile.from_dict({**raw, "default_status": "new"}).default_status == "new"


def test_load_profile_by_name_and_not_json() -> None:
    assert load_profile("meesho_orders") is PROFILES["meesho_orders"]
    with pytest.raises(ProfileError, match="not a built-in profile name"):
        load_profile("{not json")
    with pytest.raises(ProfileError, match="must be a JSON object"):
        load_profile("[1, 2]")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_built_in_profile_round_trips_through_its_dict(name: str) -> None:
    profile = PROFILES[name]
    again = Profile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert again.to_dict() == profile.to_dict()
    assert again == profile


def test_extending_a_built_in_merges_columns() -> None:
    profile = Profile.from_dict(
        {"extends": "amazon_order_report", "name": "amazon_us", "prices_include_tax": False,
         "columns": {"quantity": "quantity-ordered"}}
    )  # fmt: skip
    assert profile.columns["quantity"] == ("quantity-ordered",)
    assert profile.columns["sku"] == ("sku",) and profile.delimiter == "\t"
    header = [h if h != "quantity-purchased" else "quantity-ordered" for h in AMAZON_ORDER_HEADER]
    row = {**COD_ORDER, "sku": "A", "quantity-ordered": "2", "item-price": "200.00", "item-tax": "36.00",
           "shipping-price": "10.00", "shipping-tax": "1.80"}  # fmt: skip
    (order,), _ = read(table(header, [row], sep="\t"), profile)
    assert order.lines[0].unit_price == Decimal("118.00")  # (200 + 36 tax) / 2
    assert order.shipping_charge == Decimal("11.80")


# -- memory --------------------------------------------------------------------------------------


def big_amazon_file(rows: int) -> bytes:
    header = "\t".join(AMAZON_ORDER_HEADER)
    out = io.StringIO()
    out.write(header + "\n")
    template = {**COD_ORDER, "quantity-purchased": "2", "item-price": "998.00", "shipping-price": "50.00"}
    for i in range(rows):
        row = {
            **template,
            "order-id": f"402-{i // 2:07d}-1234567",
            "order-item-id": f"{i:014d}",
            "sku": f"SKU-{i % 97}",
        }
        out.write("\t".join(row.get(h, "") for h in AMAZON_ORDER_HEADER) + "\n")
    return out.getvalue().encode()


@pytest.mark.slow
def test_a_100000_row_file_parses_in_flat_memory() -> None:
    data = big_amazon_file(100_000)
    assert len(data) > 20_000_000
    tracemalloc.start()
    try:
        result = parse_report(data, PROFILES["amazon_order_report"])
        count = lines = 0
        for order in result:
            count += 1
            lines += len(order.lines)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (count, lines, result.error_count, result.rows) == (50_000, 100_000, 0, 100_000)
    assert peak < 50 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize(
    ("written", "amount"),
    [
        ("₹ 1,23,456.50", Decimal("123456.50")),
        ("Rs. 99", Decimal("99.00")),
        ("INR 1,299", Decimal("1299.00")),
        ("1 299.5", Decimal("1299.50")),
        ("499.999", Decimal("500.00")),
        ("1.000,00", None),
        ("12,3", None),
        ("free", None),
        ("NaN", None),
    ],
)
def test_amounts_as_reports_write_them(written: str, amount: Decimal | None) -> None:
    orders, result = read(table(TEMPLATE_HEADER, [template_row("A", unit_price=written, quantity="1")]), "ordermesh")
    if amount is None:
        assert orders == [] and str(result.errors[0]) == f"row 2, column unit_price: '{written}' is not an amount"
    else:
        assert orders[0].lines[0].unit_price == amount
