"""The dashboard in Chromium: signing in and out, finding stock, reading the ledger, posting movements."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ordermesh.bootstrap import Container
from ordermesh.services import platform
from tests.conftest import TenantCtx
from tests.e2e.browser.conftest import BARCODE, VIEWPORT, Shop, make_user, open_shop, sign_in

pytestmark = pytest.mark.browser


def location_row(page: Page, code: str):  # type: ignore[no-untyped-def]
    return page.get_by_test_id("stock-by-location").locator(f"tr[data-location='{code}']")


def test_a_user_signs_in_and_sees_the_frame_for_their_role(page: Page, shop: Shop) -> None:
    # given
    email = make_user(shop, "ops", name="Asha Rao")
    # when
    sign_in(page, email)
    # then
    expect(page).to_have_url(re.compile(r"/inventory$"))
    expect(page.get_by_role("heading", name="Inventory", level=1)).to_be_visible()
    expect(page.get_by_test_id("user-name")).to_have_text("Asha Rao")
    expect(page.get_by_test_id("user-role")).to_have_text("ops")
    expect(page.get_by_text(shop.code)).to_be_visible()
    nav = page.get_by_role("navigation", name="Sections")
    expect(nav.get_by_role("link")).to_have_text(
        ["Inventory", "Catalog", "Locations", "Orders", "Channels", "Shipping"]
    )
    expect(nav.get_by_role("link", name="Inventory")).to_have_attribute("aria-current", "page")


def test_a_wrong_password_or_unknown_email_gets_one_message_that_names_neither(page: Page, shop: Shop) -> None:
    # given
    email = make_user(shop, "viewer", name="Vikram")
    # when
    sign_in(page, email, "not the password at all", succeeds=False)
    # then
    error = page.get_by_test_id("login-error")
    expect(error).to_have_text("The email or password is incorrect.")
    expect(page.get_by_label("Email")).to_have_value(email)
    expect(page.get_by_label("Password")).to_have_value("")
    # when the email is unknown, the message is the same
    sign_in(page, f"nobody@{shop.code}.example.in", succeeds=False)
    expect(error).to_have_text("The email or password is incorrect.")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_a_page_asks_for_sign_in_and_returns_to_it_afterwards(page: Page, shop: Shop) -> None:
    # given
    email = make_user(shop, "support", name="Sunita")
    # when
    page.goto("/inventory/KURTA-BLU-L")
    # then
    expect(page).to_have_url(re.compile(r"/login\?next=/inventory/KURTA-BLU-L$"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(re.compile(r"/inventory/KURTA-BLU-L$"))
    expect(page.get_by_test_id("total-available")).to_have_text("7")


def test_search_opens_a_sku_with_stock_by_location_and_its_ledger(page: Page, shop: Shop) -> None:
    # given
    sign_in(page, make_user(shop, "ops", name="Asha Rao"))
    # when
    page.keyboard.press("/")
    page.keyboard.type("blue cotton")
    page.keyboard.press("Enter")
    # then
    rows = page.get_by_role("table", name="Stock by SKU").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("KURTA-BLU-L")
    expect(rows.nth(1)).to_contain_text("52")  # 40 at BHW + 12 at GGN
    # when
    page.get_by_role("link", name="KURTA-BLU-M").click()
    # then
    expect(page).to_have_url(re.compile(r"/inventory/KURTA-BLU-M$"))
    expect(page.get_by_test_id("total-on-hand")).to_have_text("52")
    expect(location_row(page, "BHW")).to_contain_text("40")
    expect(location_row(page, "GGN")).to_contain_text("12")
    ledger = page.get_by_test_id("ledger").locator("tbody tr")
    expect(ledger).to_have_count(2)
    expect(ledger.first).to_contain_text("GGN")  # newest first
    expect(ledger.first).to_contain_text("+12")
    # when the ledger is filtered to one location
    ledger_filter = page.get_by_role("form", name="Filter the ledger")
    ledger_filter.get_by_label("Location").select_option("BHW")
    ledger_filter.get_by_role("button", name="Filter").click()
    # then
    expect(ledger).to_have_count(1)
    expect(ledger.first).to_contain_text("+40")


def test_a_scanned_barcode_goes_straight_to_its_sku(page: Page, shop: Shop) -> None:
    # given
    sign_in(page, make_user(shop, "warehouse", name="Wasim"))
    # when
    page.get_by_role("searchbox", name="Search SKUs").fill(BARCODE)
    page.get_by_role("button", name="Search").click()
    # then
    expect(page).to_have_url(re.compile(r"/inventory/KURTA-BLU-M$"))


def test_a_receipt_posted_through_the_form_changes_the_balance(page: Page, shop: Shop) -> None:
    # given
    sign_in(page, make_user(shop, "ops", name="Asha Rao"))
    page.goto("/inventory/KURTA-BLU-L")
    expect(location_row(page, "BHW")).to_contain_text("7")
    # when
    form = page.locator("form[data-movement-form]")
    form.get_by_label("Movement").select_option("receipt")
    form.get_by_label("Location", exact=True).select_option("BHW")
    form.get_by_label("Quantity").fill("15")
    form.get_by_label("Reference").fill("GRN-2024-0042")
    form.get_by_role("button", name="Post movement").click()
    # then
    expect(page.get_by_role("status")).to_have_text("Receipt posted for KURTA-BLU-L at BHW: on hand 7 → 22.")
    expect(page.get_by_test_id("total-on-hand")).to_have_text("22")
    newest = page.get_by_test_id("ledger").locator("tbody tr").first
    expect(newest).to_contain_text("receipt")
    expect(newest).to_contain_text("+15")
    expect(newest).to_contain_text("GRN-2024-0042")


def test_a_rejected_movement_shows_the_error_next_to_its_field_and_keeps_the_input(page: Page, shop: Shop) -> None:
    # given
    sign_in(page, make_user(shop, "ops", name="Asha Rao"))
    page.goto("/inventory/KURTA-BLU-M")
    form = page.locator("form[data-movement-form]")
    # when an adjustment comes without a reason
    form.get_by_label("Movement").select_option("adjustment")
    expect(form.get_by_text("Change (+ adds, \u2212 removes)")).to_be_visible()
    form.get_by_label("Location", exact=True).select_option("GGN")
    form.get_by_label("Change").fill("-3")
    form.get_by_role("button", name="Post movement").click()
    # then
    reason = page.locator("form[data-movement-form]").get_by_label("Reason")
    expect(reason).to_have_attribute("aria-invalid", "true")
    expect(reason).to_be_focused()
    expect(page.locator("#f-reason-error")).to_have_text("an adjustment needs a reason")
    expect(page.locator("form[data-movement-form]").get_by_label("Change")).to_have_value("-3")
    expect(location_row(page, "GGN")).to_contain_text("12")
    # when more is transferred than there is
    form.get_by_label("Movement").select_option("transfer")
    form.get_by_label("Location", exact=True).select_option("GGN")
    form.get_by_label("Quantity").fill("100")
    form.get_by_label("To location").select_option("BHW")
    form.get_by_role("button", name="Post movement").click()
    # then
    expect(page.locator("#f-quantity-error")).to_contain_text("has 12 unreserved on hand, 100 requested")


def test_a_warehouse_user_narrowed_to_gurugram_sees_only_gurugram(page: Page, shop: Shop) -> None:
    # given
    sign_in(page, make_user(shop, "warehouse", name="Gopal", locations=["GGN"]))
    # when
    page.goto("/inventory?q=KURTA-BLU")
    # then
    expect(page.get_by_test_id("user-scope")).to_have_text("Sees GGN")
    rows = page.get_by_role("table", name="Stock by SKU").locator("tbody tr")
    expect(rows.filter(has_text="KURTA-BLU-M")).to_contain_text("12")
    # when
    page.goto("/inventory/KURTA-BLU-M")
    # then
    body = page.get_by_test_id("stock-by-location").locator("tbody tr")
    expect(body).to_have_count(1)
    expect(location_row(page, "GGN")).to_contain_text("12")
    expect(page.get_by_test_id("total-on-hand")).to_have_text("12")
    expect(page.get_by_test_id("ledger").locator("tbody tr")).to_have_count(1)
    form = page.locator("form[data-movement-form]")
    expect(form.get_by_label("Location", exact=True).locator("option")).to_have_text(["GGN · Gurugram warehouse"])
    # and Bhiwandi is not found, even by address
    page.goto("/inventory/KURTA-BLU-M?location=BHW")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")


def test_a_viewer_reads_stock_but_gets_no_movement_form(page: Page, shop: Shop) -> None:
    # given
    sign_in(page, make_user(shop, "viewer", name="Vikram"))
    # when
    page.goto("/inventory/KURTA-BLU-M")
    # then
    expect(page.get_by_test_id("total-on-hand")).to_have_text("52")
    expect(page.get_by_role("heading", name="Post a movement")).to_have_count(0)


def test_a_bundle_shows_its_components_and_what_they_make_available(page: Page, shop: Shop) -> None:
    # given
    sign_in(page, make_user(shop, "ops", name="Asha Rao"))
    # when
    page.goto("/inventory/KURTA-SET-M")
    # then: only Bhiwandi holds both a kurta and a dupatta, 40 and 25
    expect(page.get_by_text("bundle", exact=True).first).to_be_visible()
    components = page.get_by_test_id("components").locator("tbody tr")
    expect(components).to_have_text([re.compile(r"KURTA-BLU-M\s+1\s+52"), re.compile(r"DUPATTA-RED\s+1\s+25")])
    expect(location_row(page, "BHW")).to_contain_text("25")
    expect(page.get_by_test_id("total-available")).to_have_text("25")
    expect(page.get_by_role("heading", name="Post a movement")).to_have_count(0)


def test_an_unknown_sku_gets_a_not_found_page(page: Page, shop: Shop) -> None:
    # given
    sign_in(page, make_user(shop, "ops", name="Asha Rao"))
    # when
    response = page.goto("/inventory/NO-SUCH-SKU")
    # then
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.get_by_text("SKU 'NO-SUCH-SKU' not found")).to_be_visible()
    page.get_by_role("link", name="Back to Inventory").click()
    expect(page).to_have_url(re.compile(r"/inventory$"))


def test_catalog_and_locations_pages_list_the_tenant_s_records(page: Page, shop: Shop) -> None:
    # given
    sign_in(page, make_user(shop, "finance", name="Farah"))
    # when
    page.get_by_role("link", name="Catalog").click()
    page.get_by_role("link", name="KURTA-SET-M").click()
    # then
    expect(page.get_by_role("heading", name="Components")).to_be_visible()
    expect(page.get_by_text("₹799.00")).to_be_visible()
    # when
    page.get_by_role("link", name="Locations").click()
    # then
    table = page.get_by_role("table", name="Locations")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("Haryana")


def test_signing_out_ends_the_session(page: Page, shop: Shop) -> None:
    # given
    sign_in(page, make_user(shop, "ops", name="Asha Rao"))
    expect(page).to_have_url(re.compile(r"/inventory$"))
    # when
    page.get_by_role("button", name="Sign out").click()
    # then
    expect(page).to_have_url(re.compile(r"/login\?signed_out=1$"))
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    page.goto("/inventory")
    expect(page).to_have_url(re.compile(r"/login\?next=/inventory$"))


def test_screenshot_of_the_sku_page(page: Page, web_container: Container, tmp_path: Path, repo_root: Path) -> None:
    """docs/screenshot-inventory.png for the README; rewritten only with ORDERMESH_UPDATE_SCREENSHOT=1."""
    # given a tenant with a readable code (the database is this session's own, so the code is free)
    with web_container.uow(tenant_id=None) as uow:
        tenant_id = platform.create_tenant(uow, code="kurta-co", name="Kurta Co")
    shop = open_shop(TenantCtx(tenant_id, "kurta-co", web_container))
    sign_in(page, make_user(shop, "ops", name="Asha Rao"))
    page.goto("/inventory/KURTA-BLU-M")
    form = page.locator("form[data-movement-form]")
    form.get_by_label("Movement").select_option("transfer")
    form.get_by_label("Location", exact=True).select_option("BHW")
    form.get_by_label("Quantity").fill("6")
    form.get_by_label("To location").select_option("GGN")
    form.get_by_label("Reference").fill("TR-0117")
    form.get_by_role("button", name="Post movement").click()
    expect(page.get_by_role("status")).to_contain_text("Transferred 6")
    # when
    update = os.environ.get("ORDERMESH_UPDATE_SCREENSHOT") == "1"
    target = repo_root / "docs" / "screenshot-inventory.png" if update else tmp_path / "screenshot-inventory.png"
    page.screenshot(path=str(target))
    # then
    header = target.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    assert (width, height) == (VIEWPORT["width"], VIEWPORT["height"])
