"""The warehouse's shipping pages in Chromium: the pack station driven the way a USB barcode scanner
drives it (it types the code and presses Enter, like a keyboard), from the order to the AWB and its
label; and the NDR queue with a re-attempt decided.

One tenant for the module: a Bhiwandi warehouse with a GSTIN, a kurta and a mug with barcodes, two
rate-card fleets (the cheaper wins), and a box preset."""

from __future__ import annotations

import itertools
import json
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from ordermesh.bootstrap import Container
from ordermesh.services import channel_sync as cs
from ordermesh.services import orders, shipping
from ordermesh.services.order_queries import order_number
from tests.conftest import TenantCtx, new_tenant
from tests.e2e.browser.conftest import Shop, make_user, sign_in
from tests.factories import make_location, make_sku, receive

pytestmark = pytest.mark.browser

KURTA, MUG, STRANGER = "8901234567890", "8906012345677", "4006381333931"
_buyers = itertools.count(1)


def tariff(name: str, first: str) -> dict[str, object]:
    return {
        "name": name,
        "first_slab_g": 500,
        "additional_slab_g": 500,
        "zones": {
            z: {"first": first, "additional": "30", "transit_days": 2}
            for z in ("local", "regional", "metro", "national")
        },
        "cod_supported": True,
        "cod_percent": "2",
        "cod_minimum": "35",
    }


@pytest.fixture(scope="module")
def store(web_container: Container) -> Shop:
    t = new_tenant(web_container, "packing")
    make_location(t, "BHW", "MH", name="Bhiwandi warehouse")
    make_sku(t, "KURTA", name="Blue cotton kurta", barcodes=[KURTA])
    make_sku(t, "MUG", name="Terracotta mug", hsn="6912", gst_rate="12", mrp="499.00", barcodes=[MUG])
    receive(t, "KURTA", "BHW", 50)
    receive(t, "MUG", "BHW", 50)
    for code, name, first, prefix in (("fleet", "Mumbai City Fleet", "40", "PF"), ("vans", "Deccan Vans", "90", "DV")):
        with t.uow() as uow:
            shipping.create_carrier(
                uow,
                {
                    "code": code,
                    "kind": "rate_card",
                    "name": name,
                    "settings": {"tariff": tariff(name, first), "awb_prefix": prefix, "awb_width": 8},
                },
                t.container.connections.vault.seal,
            )
    boxes = [{"name": "S2", "length_cm": "30", "breadth_cm": "20", "height_cm": "10", "tare_g": 120}]
    with t.uow() as uow:
        uow.conn.execute(
            text("UPDATE tenants SET settings = :s WHERE id = :t"),
            {"s": json.dumps({"shipping": {"boxes": boxes}}), "t": t.id},
        )
        uow.commit()
    return Shop(t)


def place(t: TenantCtx) -> int:
    """Two kurtas and a mug to a new buyer in Mumbai: allocated from Bhiwandi."""
    n = next(_buyers)
    phone = f"97{n:08d}"
    body = {
        "channel": "manual",
        "external_id": f"PACK-{n:05d}",
        "placed_at": "2026-11-26T10:00:00+05:30",
        "customer": {"name": f"Buyer {n}", "phone": phone},
        "shipping_address": {
            "name": f"Buyer {n}",
            "line1": "Flat 12, Sunrise Apartments",
            "city": "Mumbai",
            "state": "MH",
            "pincode": "400001",
            "phone": phone,
        },
        "payment": {"method": "prepaid"},
        "lines": [
            {"sku": "KURTA", "quantity": 2, "unit_price": "699"},
            {"sku": "MUG", "quantity": 1, "unit_price": "399"},
        ],
    }
    with t.uow() as uow:
        return orders.ingest_order(uow, body).order_id


def scan(page: Page, code: str) -> None:
    """What a USB scanner does: type the code into whatever has the focus, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def test_a_packer_scans_closes_the_box_and_books_with_the_keyboard_scanner(page: Page, store: Shop) -> None:
    # given an allocated order, and a packer at the station
    order_id = place(store.tenant)
    sign_in(page, make_user(store, "warehouse", name="Ravi Packer"))
    page.goto("/shipping")
    page.get_by_role("button", name=f"Create shipments for {order_number(order_id)}").click()
    expect(page.get_by_role("status").filter(has_text="Created SH")).to_contain_text(order_number(order_id))

    # when the pick slip's order number is scanned at the pack station
    page.goto("/shipping/pack")
    expect(page.get_by_label("Shipment or order number")).to_be_focused()
    scan(page, order_number(order_id))
    expect(page).to_have_url(re.compile(r"/shipping/pack/\d+$"))
    box = page.get_by_label("Scan a unit")
    result = page.get_by_test_id("scan-result")
    lines = page.get_by_test_id("pack-lines")
    expect(box).to_be_focused()
    expect(lines.locator("tr[data-sku='KURTA'] [data-testid=line-count]")).to_have_text("0 of 2")
    expect(page.get_by_role("heading", name="Close the box")).to_be_hidden()

    # a code from another parcel is refused, in red, and the focus stays for the next scan
    scan(page, STRANGER)
    expect(result).to_have_text(f"barcode {STRANGER} is not in this shipment")
    expect(result).to_have_class(re.compile(r"\bbad\b"))
    expect(box).to_be_focused()

    # two kurtas scanned back to back, faster than the answers come
    scan(page, KURTA)
    scan(page, KURTA)
    expect(result).to_have_text("KURTA: 2 of 2")
    expect(result).to_have_class(re.compile(r"\bgood\b"))
    expect(lines.locator("tr[data-sku='KURTA'] [data-testid=line-count]")).to_have_text("2 of 2")
    expect(box).to_be_focused()

    # a third kurta is one too many
    scan(page, KURTA)
    expect(result).to_have_text("KURTA: all 2 units already packed")
    expect(result).to_have_class(re.compile(r"\bbad\b"))
    expect(box).to_be_focused()

    # the mug completes the box: the weight is next
    scan(page, MUG)
    expect(result).to_have_text("MUG: 1 of 1")
    expect(page.get_by_test_id("progress")).to_have_text("3 of 3 units scanned")
    expect(page.get_by_role("heading", name="Close the box")).to_be_visible()
    weight = page.get_by_label("Weight (g)")
    expect(weight).to_be_focused()

    # then the box is closed with its weight and size
    weight.fill("900")
    page.get_by_label("Length (cm)").fill("30")
    page.get_by_label("Breadth (cm)").fill("20")
    page.get_by_label("Height (cm)").fill("10")
    page.get_by_role("button", name="Close box").click()
    expect(page.get_by_role("status").filter(has_text="Box closed")).to_contain_text("1200 g chargeable")
    expect(page.get_by_test_id("shipment-status")).to_have_text("packed")
    expect(page.get_by_test_id("weights")).to_have_text("dead 900 g, volumetric 1200 g: charged on 1200 g")

    # and booked by the rules: the cheaper fleet, with the quote it beat and why
    page.get_by_role("button", name="Book").click()
    expect(page.get_by_role("status").filter(has_text="Booked with fleet")).to_be_visible()
    expect(page.get_by_test_id("awb")).to_have_text(re.compile(r"^PF\d{8}$"))
    quotes = page.get_by_test_id("quotes")
    expect(quotes.locator("tr[data-verdict='chosen'] td").first).to_have_text("fleet")
    beaten = quotes.locator("tbody tr").nth(1)
    expect(beaten.locator("td").first).to_have_text("vans")
    expect(beaten.locator("td").last).not_to_be_empty()

    # the label and the tax invoice are PDFs
    for link in (page.get_by_test_id("label-link"), page.get_by_test_id("invoice-link")):
        href = link.get_attribute("href")
        assert href is not None
        response = page.request.get(href)
        assert response.status == 200 and response.headers["content-type"] == "application/pdf"
        assert response.body().startswith(b"%PDF")


def test_the_ndr_queue_shows_the_carrier_s_words_and_takes_a_re_attempt(page: Page, store: Shop) -> None:
    # given a booked shipment whose delivery failed
    t = store.tenant
    order_id = place(t)
    with t.uow() as uow:
        [shipment_id] = shipping.create_shipments(uow, order_id)
    for code in (KURTA, KURTA, MUG):
        with t.uow() as uow:
            shipping.scan(uow, shipment_id, code)
    with t.uow() as uow:
        shipping.pack(uow, shipment_id, weight_g=800, dimensions_cm=(Decimal(30), Decimal(20), Decimal(10)))
    shipping.book(cs.Sync(t.container.uow, t.container.connections, t.id), shipment_id)
    with t.uow() as uow:
        shipping.record_scan(uow, shipment_id, "picked_up", location="Bhiwandi")
    with t.uow() as uow:
        shipping.record_scan(uow, shipment_id, "ndr", detail="Consignee not at home", ndr_reason="customer_unavailable")
    number = shipping.shipment_number(shipment_id)
    sign_in(page, make_user(store, "warehouse", name="Ravi Packer"))

    # when the queue is opened
    page.goto("/shipping/ndr")
    row = page.get_by_role("table", name="Failed deliveries").locator(f"tr[data-shipment='{number}']")

    # then it says why, how often, and in the carrier's words; a re-attempt is sent
    expect(row).to_contain_text("customer unavailable")
    expect(row).to_contain_text("Consignee not at home")
    when = date.today() + timedelta(days=3)
    row.get_by_label("Re-attempt on").fill(when.isoformat())
    row.get_by_role("button", name="Re-attempt").click()
    expect(page.get_by_role("status").filter(has_text=number)).to_have_text(
        f"{number}: re-attempt requested on {when:%d %b}."
    )
