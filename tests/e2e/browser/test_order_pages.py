"""The orders queue and the order page in Chromium: holds acted on, filters, bulk actions, cancelling.

One tenant serves the whole module; each test places its own orders (each with its own buyer, so
none looks like a duplicate of another) and asserts only about those."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, StorageState, expect

from ordermesh.bootstrap import Container
from ordermesh.services import channels, order_actions, order_queries, orders
from ordermesh.services.order_queries import order_number
from tests.conftest import new_tenant
from tests.e2e.browser.conftest import VIEWPORT, LiveServer, Shop, make_user, open_shop, sign_in
from tests.factories import balance, make_sku, receive

pytestmark = pytest.mark.browser

_buyers = itertools.count(1)


@pytest.fixture(scope="module")
def store(web_container: Container) -> Shop:
    """The kurta shop, plus a silk saree dear enough for a COD review and an Instagram channel."""
    shop = open_shop(new_tenant(web_container, "orders"))
    make_sku(shop.tenant, "SAREE-SILK", name="Kanjivaram silk saree", mrp="15000.00")
    receive(shop.tenant, "SAREE-SILK", "BHW", 10)
    receive(shop.tenant, "KURTA-BLU-L", "BHW", 40)
    with shop.tenant.uow() as uow:
        channels.create_channel(uow, {"code": "insta", "type": "manual", "name": "Instagram DMs"})
    return shop


@pytest.fixture(scope="module")
def signed_in_ops(browser: Browser, live_server: LiveServer, store: Shop) -> StorageState:
    """Signed in once for the module (checking a password costs ~0.4 s); each test gets the cookie."""
    tab = _tab(browser, live_server)
    sign_in(tab, make_user(store, "ops", name="Asha Rao"))
    state = tab.context.storage_state()
    tab.context.close()
    return state


def _tab(browser: Browser, live_server: LiveServer, state: StorageState | None = None) -> Page:
    """A fresh context, as conftest's ``page`` makes, optionally with a signed-in session."""
    context = browser.new_context(
        base_url=live_server.url, viewport=VIEWPORT, locale="en-IN", timezone_id="Asia/Kolkata", storage_state=state
    )
    context.set_default_timeout(10_000)
    expect.set_options(timeout=10_000)
    return context.new_page()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer, signed_in_ops: StorageState) -> Iterator[Page]:
    """Here ``page`` is already signed in as an ops user."""
    tab = _tab(browser, live_server, signed_in_ops)
    yield tab
    tab.context.close()


@pytest.fixture
def viewer_page(browser: Browser, live_server: LiveServer, store: Shop) -> Iterator[Page]:
    tab = _tab(browser, live_server)
    sign_in(tab, make_user(store, "viewer", name="Vikram"))
    yield tab
    tab.context.close()


def place(
    shop: Shop,
    *lines: tuple[str, int],
    price: str = "699",
    method: str = "prepaid",
    channel: str = "manual",
    state: str = "MH",
) -> int:
    """An order from a new buyer in Mumbai, ingested through the service as a channel would send it."""
    n = next(_buyers)
    phone = f"98{n:08d}"
    body: dict[str, Any] = {
        "channel": channel,
        "external_id": f"WEB-{n:05d}",
        "placed_at": "2026-11-26T10:00:00+05:30",
        "customer": {"name": f"Buyer {n}", "phone": phone, "email": f"buyer{n}@example.in"},
        "shipping_address": {
            "name": f"Buyer {n}",
            "line1": "Flat 12, Sunrise Apartments",
            "line2": "MG Road",
            "city": "Mumbai",
            "state": state,
            "pincode": "400001",
            "phone": phone,
        },
        "payment": {"method": method},
        "lines": [{"sku": sku, "quantity": q, "unit_price": price} for sku, q in lines],
    }
    with shop.tenant.uow() as uow:
        return orders.ingest_order(uow, body).order_id


def status_of(shop: Shop, order_id: int) -> str:
    with shop.tenant.uow(write=False) as uow:
        return str(order_queries.get_order(uow, order_id)["status"])


def queue_row(page: Page, order_id: int) -> Locator:
    return page.get_by_role("table", name="Orders").locator(f"tr[data-order='{order_number(order_id)}']")


def line_row(page: Page, sku: str) -> Locator:
    return page.get_by_test_id("lines").locator(f"tr[data-sku='{sku}']")


def test_a_cod_order_held_for_risk_is_confirmed_from_its_page_and_allocated(page: Page, store: Shop) -> None:
    # given a first-time buyer's COD order of ₹12,000, above the COD cap
    order_id = place(store, ("SAREE-SILK", 1), price="12000", method="cod")
    reserved_before = balance(store.tenant, "SAREE-SILK", "BHW").reserved
    page.goto("/")
    # when
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Orders").click()
    # then the queue shows it held for risk review
    row = queue_row(page, order_id)
    expect(row).to_contain_text("risk review")
    expect(row).to_contain_text("on hold")
    expect(row).to_contain_text("₹12,000.00")
    expect(row).to_contain_text("manual")
    # when
    row.get_by_role("link", name=order_number(order_id)).click()
    # then the order page says why and what to do
    expect(page).to_have_url(re.compile(rf"/orders/{order_id}$"))
    hold = page.locator("article[data-hold='risk_review']")
    expect(hold).to_contain_text("verify with the buyer (COD confirmation), then confirm or cancel")
    expect(page.get_by_test_id("payment")).to_have_text("COD · cod pending")
    expect(page.get_by_test_id("risk-reasons")).to_contain_text("above the ₹10,000.00 COD cap")
    expect(page.get_by_test_id("routing")).to_have_count(0)
    # when the seller has called the buyer
    hold.get_by_label("Note").fill("Called the buyer, confirmed")
    hold.get_by_role("button", name="Confirm order").click()
    # then
    expect(page.get_by_role("status")).to_have_text(f"{order_number(order_id)} confirmed; it is allocated.")
    expect(page.get_by_test_id("order-status")).to_have_text("allocated")
    expect(page.get_by_test_id("holds")).to_have_count(0)
    line = line_row(page, "SAREE-SILK")
    expect(line.locator("[data-col=allocated]")).to_have_text("1")
    expect(line.locator("[data-col=locations]")).to_have_text("BHW × 1")
    expect(page.get_by_test_id("routing")).to_contain_text("BHW")
    expect(page.get_by_test_id("timeline")).to_contain_text("Confirmed: Called the buyer, confirmed")
    assert balance(store.tenant, "SAREE-SILK", "BHW").reserved == reserved_before + 1


def test_the_queue_filters_by_hold_status_and_channel(page: Page, store: Shop) -> None:
    # given
    allocated = place(store, ("KURTA-BLU-L", 1))
    unmapped = place(store, ("AMZ-KURTA-XL", 1))
    on_insta = place(store, ("KURTA-BLU-L", 2), channel="insta")
    page.goto("/orders")
    filters = page.get_by_role("form", name="Filter orders")
    # when
    filters.get_by_label("Hold reason").select_option("unmapped_sku")
    filters.get_by_role("button", name="Filter").click()
    # then
    expect(page).to_have_url(re.compile(r"/orders\?.*hold=unmapped_sku"))
    expect(queue_row(page, unmapped)).to_contain_text("unmapped sku")
    expect(queue_row(page, allocated)).to_have_count(0)
    expect(page.get_by_role("table", name="Orders").locator("tbody tr")).to_have_count(1)
    # when
    filters.get_by_label("Hold reason").select_option("")
    filters.get_by_label("Status").select_option("allocated")
    filters.get_by_role("button", name="Filter").click()
    # then
    expect(queue_row(page, allocated)).to_contain_text("allocated")
    expect(queue_row(page, on_insta)).to_be_visible()
    expect(queue_row(page, unmapped)).to_have_count(0)
    # when
    filters.get_by_label("Channel").select_option("insta")
    filters.get_by_role("button", name="Filter").click()
    # then
    expect(page.get_by_role("table", name="Orders").locator("tbody tr")).to_have_count(1)
    expect(queue_row(page, on_insta)).to_contain_text("insta")
    # when nothing matches
    page.goto("/orders?channel=insta&hold=price_check")
    expect(page.get_by_text("No orders match these filters.")).to_be_visible()


def test_bulk_confirm_reports_each_order_s_failure_beside_the_others_success(page: Page, store: Shop) -> None:
    # given two COD orders waiting for review
    first = place(store, ("SAREE-SILK", 1), price="12000", method="cod")
    second = place(store, ("SAREE-SILK", 1), price="12500", method="cod")
    page.goto("/orders?hold=risk_review")
    page.get_by_label(f"Select {order_number(first)}", exact=True).check()
    page.get_by_label(f"Select {order_number(second)}", exact=True).check()
    expect(page.get_by_text("2 selected:")).to_be_visible()
    # and someone else cancels the second one meanwhile
    with store.tenant.uow() as uow:
        order_actions.cancel_order(uow, second, reason="buyer called to cancel")
    # when
    page.get_by_role("button", name="Confirm selected").click()
    # then
    messages = page.get_by_role("status")
    expect(messages.first).to_have_text(f"Confirmed 1 of 2 orders: {order_number(first)} (allocated).")
    expect(messages.nth(1)).to_have_text(f"Not confirmed: {order_number(second)}: order {second} is cancelled")
    expect(page).to_have_url(re.compile(r"/orders\?hold=risk_review$"))
    assert status_of(store, first) == "allocated"
    # when cancelling without a reason
    page.goto("/orders")
    page.get_by_label(f"Select {order_number(first)}", exact=True).check()
    page.get_by_role("button", name="Cancel selected").click()
    # then nothing is cancelled and the reason is asked for
    expect(page.get_by_label("Reason for cancelling")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#bulk-reason-error")).to_have_text("say why the orders are cancelled")
    expect(page.get_by_label(f"Select {order_number(first)}", exact=True)).to_be_checked()
    assert status_of(store, first) == "allocated"


def test_an_unmapped_sku_is_mapped_from_the_order_page_and_the_order_allocates(page: Page, store: Shop) -> None:
    # given an order naming the marketplace's SKU code
    order_id = place(store, ("AMZ-KURTA-M-01", 2))
    page.goto(f"/orders/{order_id}")
    hold = page.locator("article[data-hold='unmapped_sku']")
    expect(hold).to_contain_text("AMZ-KURTA-M-01")
    expect(line_row(page, "AMZ-KURTA-M-01")).to_contain_text("unmapped")
    # when mapped to a SKU that does not exist
    hold.get_by_label("Catalog SKU for AMZ-KURTA-M-01").fill("KURTA-BLU-XXL")
    hold.get_by_role("button", name="Map and re-check").click()
    # then the error is next to the field and nothing changed
    field = page.get_by_label("Catalog SKU for AMZ-KURTA-M-01")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_value("KURTA-BLU-XXL")
    expect(page.get_by_text("SKU 'KURTA-BLU-XXL' not found")).to_be_visible()
    # when
    field.fill("KURTA-BLU-M")
    page.get_by_role("button", name="Map and re-check").click()
    # then
    expect(page.get_by_role("status")).to_have_text(
        f"Hold unmapped sku resolved; {order_number(order_id)} is allocated."
    )
    expect(page.get_by_test_id("order-status")).to_have_text("allocated")
    line = line_row(page, "KURTA-BLU-M")
    expect(line.locator("[data-col=allocated]")).to_have_text("2")
    expect(line.locator("[data-col=locations]")).to_contain_text("× 2")
    expect(page.get_by_test_id("timeline")).to_contain_text("AMZ-KURTA-M-01 mapped to KURTA-BLU-M")


def test_a_wrong_state_is_corrected_from_the_order_page_as_a_new_version(page: Page, store: Shop) -> None:
    # given Mumbai's pincode with Karnataka as the state
    order_id = place(store, ("KURTA-BLU-L", 1), state="KA")
    page.goto(f"/orders/{order_id}")
    form = page.get_by_test_id("address-form")
    expect(page.locator("article[data-hold='state_mismatch']")).to_contain_text("not Karnataka")
    # when
    form.get_by_label("State").fill("MH")
    form.get_by_role("button", name="Save address and re-check").click()
    # then a reason is required
    expect(page.locator("#address-reason-error")).to_have_text("say why the order is changed")
    expect(page.get_by_test_id("address-form").get_by_label("State")).to_have_value("MH")
    # when
    page.get_by_test_id("address-form").get_by_label("Why").fill("Buyer confirmed Maharashtra on call")
    page.get_by_test_id("address-form").get_by_role("button", name="Save address and re-check").click()
    # then
    expect(page.get_by_role("status")).to_have_text(f"Address corrected; {order_number(order_id)} is allocated.")
    expect(page.get_by_test_id("changes")).to_contain_text("Buyer confirmed Maharashtra on call")
    expect(page.get_by_test_id("changes")).to_contain_text("Mumbai, KA, 400001 → Flat 12")


def test_a_partial_cancel_from_the_order_page_releases_the_stock(page: Page, store: Shop) -> None:
    # given an allocated order of three kurtas
    order_id = place(store, ("KURTA-BLU-L", 3))
    assert status_of(store, order_id) == "allocated"
    reserved = balance(store.tenant, "KURTA-BLU-L", "BHW").reserved
    page.goto(f"/orders/{order_id}")
    form = page.get_by_test_id("cancel-form")
    # when two are cancelled without a reason
    form.get_by_label("KURTA-BLU-L").fill("2")
    form.get_by_role("button", name="Cancel these units").click()
    # then
    expect(page.locator("#cancel-reason-error")).to_have_text("say why the order is cancelled")
    assert balance(store.tenant, "KURTA-BLU-L", "BHW").reserved == reserved
    # when more are cancelled than are left
    form.get_by_label("KURTA-BLU-L").fill("5")
    form.get_by_label("Reason").fill("Buyer wants one")
    form.get_by_role("button", name="Cancel these units").click()
    # then
    expect(page.locator("#cancel-qty-KURTA-BLU-L-error")).to_contain_text("only 3 unit(s) are not yet shipped")
    # when
    form.get_by_label("KURTA-BLU-L").fill("2")
    form.get_by_role("button", name="Cancel these units").click()
    # then
    expect(page.get_by_role("status")).to_have_text(
        f"Cancelled 2 × KURTA-BLU-L; {order_number(order_id)} is allocated."
    )
    line = line_row(page, "KURTA-BLU-L")
    expect(line.locator("[data-col=cancelled]")).to_have_text("2")
    expect(line.locator("[data-col=allocated]")).to_have_text("1")
    assert balance(store.tenant, "KURTA-BLU-L", "BHW").reserved == reserved - 2
    # and the inventory page agrees
    page.goto("/inventory/KURTA-BLU-L")
    bhw = page.get_by_test_id("stock-by-location").locator("tr[data-location='BHW']")
    expect(bhw.locator("td").nth(1)).to_have_text(str(reserved - 2))


def test_a_viewer_sees_no_action_buttons_and_masked_phones(viewer_page: Page, store: Shop) -> None:
    # given an order held for risk review
    order_id = place(store, ("SAREE-SILK", 1), price="12000", method="cod")
    page = viewer_page
    # when
    page.goto("/orders")
    # then
    row = queue_row(page, order_id)
    expect(row.get_by_test_id("customer-phone")).to_have_text(re.compile(r"^\+91\*+\d{4}$"))
    expect(page.get_by_role("checkbox")).to_have_count(0)
    expect(page.get_by_role("button", name="Confirm selected")).to_have_count(0)
    # when
    row.get_by_role("link", name=order_number(order_id)).click()
    # then
    expect(page.locator("article[data-hold='risk_review']")).to_contain_text("verify with the buyer")
    expect(page.get_by_test_id("customer-phone")).to_have_text(re.compile(r"^\+91\*+\d{4}$"))
    expect(page.get_by_role("main").get_by_role("button")).to_have_count(0)
    expect(page.get_by_role("main").locator("form")).to_have_count(0)
    # and a form posted anyway (with the session's own CSRF token) is refused
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    cancel = {"csrf_token": token, "reason": "not mine to cancel", "scope": "whole"}
    assert page.request.post(f"/orders/{order_id}/cancel", form=cancel).status == 403
    bulk = {"csrf_token": token, "action": "confirm", "order": str(order_id)}
    assert page.request.post("/orders/bulk", form=bulk).status == 403
    assert status_of(store, order_id) == "on_hold"


def test_a_hold_resolved_by_someone_else_meanwhile_is_reported_at_the_top(page: Page, store: Shop) -> None:
    # given an order held for a price above MRP, open in the browser
    order_id = place(store, ("KURTA-BLU-M", 1), price="999")
    page.goto(f"/orders/{order_id}")
    hold = page.locator("article[data-hold='price_check']")
    expect(hold).to_contain_text("To do: confirm the price is right, or cancel.")
    # and a colleague releases it first
    with store.tenant.uow() as uow:
        order_actions.resolve_hold(uow, order_id, "price_check", note="festival price")
    # when
    hold.get_by_role("button", name="Release hold").click()
    # then
    expect(page.get_by_test_id("page-error")).to_have_text(f"order {order_id} is not on hold for price_check")
    expect(page.get_by_test_id("order-status")).to_have_text("allocated")
