"""Shipping settings in Chromium: an admin changes the invoice number series, is shown exactly which
shipping fields are wrong (and nothing is stored), then saves boxes, pickup names, the carrier choice
and the NDR policy — with the override rules set through the API kept. A warehouse user reads the
page but cannot change it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from ordermesh.bootstrap import Container
from ordermesh.services import shipping
from tests.conftest import new_tenant
from tests.e2e.browser.conftest import Shop, make_user, sign_in
from tests.factories import make_location

pytestmark = pytest.mark.browser

OVERRIDE = {"when": {"payment": "cod", "order_value_above": 5000}, "exclude": ["vans"]}


@pytest.fixture(scope="module")
def shop(web_container: Container) -> Shop:
    t = new_tenant(web_container, "settings")
    make_location(t, "BHW", "MH", name="Bhiwandi warehouse")
    make_location(t, "GGN", "HR", name="Gurugram warehouse")
    with t.uow() as uow:
        shipping.set_settings(uow, "shipping", {"carrier_choice": {"strategy": "cheapest", "overrides": [OVERRIDE]}})
    return Shop(t)


def stored(shop: Shop, section: str) -> dict[str, object]:
    with shop.tenant.uow(write=False) as uow:
        return shipping.get_settings(uow, section)


def test_an_admin_sets_invoice_numbering_and_shipping_rules(page: Page, shop: Shop) -> None:
    sign_in(page, make_user(shop, "admin", name="Asha Admin"))
    page.goto("/shipping")
    page.get_by_role("link", name="Settings").click()
    invoices = page.get_by_role("form", name="Invoice numbering")
    expect(invoices.get_by_label("Prefix")).to_have_value("INV")
    expect(invoices.get_by_label("Digits in the number")).to_have_value("6")
    expect(page.get_by_test_id("overrides")).to_contain_text("1 override rule(s) apply too")

    # when: a new invoice series
    invoices.get_by_label("Prefix").fill("KRT")
    invoices.get_by_label("Digits in the number").fill("5")
    invoices.get_by_label("E-way bill above (₹)").fill("75000")
    invoices.get_by_role("button", name="Save invoice numbering").click()
    # then
    expect(page.get_by_role("status").filter(has_text="Invoices settings saved")).to_be_visible()
    expect(page.get_by_role("form", name="Invoice numbering").get_by_label("Prefix")).to_have_value("KRT")
    assert stored(shop, "invoices") == {"prefix": "KRT", "width": 5, "short_year": True, "eway_bill_threshold": "75000"}

    # when: shipping settings with a wrong divisor and a box without its empty weight
    form = page.get_by_role("form", name="Shipping")
    form.get_by_label("Volumetric divisor").fill("12")
    form.get_by_label("Box 1 Name").fill("M")
    for side, value in (("Length cm", "30"), ("Breadth cm", "20"), ("Height cm", "10")):
        form.get_by_label(f"Box 1 {side}").fill(value)
    form.get_by_role("button", name="Save shipping settings").click()
    # then: each wrong field says why, what was typed is still there, and nothing was stored
    form = page.get_by_role("form", name="Shipping")
    expect(form.locator("#f-shipping\\.volumetric_divisor-error")).to_contain_text("1000 to 10000")
    expect(form.get_by_label("Volumetric divisor")).to_have_value("12")
    expect(form.locator("#f-shipping\\.boxes\\.0\\.tare_g-error")).to_contain_text("whole number")
    expect(form.get_by_label("Box 1 Name")).to_have_value("M")
    assert "boxes" not in stored(shop, "shipping")

    # when: put right, with a pickup name, the fastest carrier and two attempts before RTO
    form.get_by_label("Volumetric divisor").fill("4000")
    form.get_by_label("Box 1 Empty box g").fill("120")
    form.get_by_label("BHW").fill("Bhiwandi WH 2")
    form.get_by_label("Choose").select_option("fastest")
    form.get_by_label("Return to origin after this many failed attempts").fill("2")
    form.get_by_label("refused").uncheck()
    form.get_by_role("button", name="Save shipping settings").click()
    # then
    expect(page.get_by_role("status").filter(has_text="Shipping settings saved")).to_be_visible()
    saved = stored(shop, "shipping")
    assert saved["volumetric_divisor"] == 4000
    assert saved["boxes"] == [{"name": "M", "length_cm": "30", "breadth_cm": "20", "height_cm": "10", "tare_g": 120}]
    assert saved["pickup_names"] == {"BHW": "Bhiwandi WH 2"}
    assert saved["carrier_choice"] == {"strategy": "fastest", "min_lane_shipments": 20, "overrides": [OVERRIDE]}
    assert saved["ndr"] == {"max_attempts": 2, "review_reasons": ["address_issue", "out_of_delivery_area"]}
    expect(page.get_by_role("form", name="Shipping").get_by_label("Box 1 Name")).to_have_value("M")


def test_a_warehouse_user_reads_the_settings_but_cannot_change_them(page: Page, shop: Shop) -> None:
    sign_in(page, make_user(shop, "warehouse", name="Ravi Packer"))
    page.goto("/shipping/settings")
    expect(page.get_by_test_id("read-only")).to_be_visible()
    expect(page.get_by_role("button", name="Save invoice numbering")).to_have_count(0)
    expect(page.get_by_role("form", name="Invoice numbering").get_by_label("Prefix")).to_be_disabled()
    # and the form posted by hand is refused, changing nothing
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    posted = page.request.post(
        "/shipping/settings/invoices",
        form={"csrf_token": token or "", "prefix": "HACK", "width": "6", "eway_bill_threshold": "50000"},
    )
    assert posted.status == 403
    assert stored(shop, "invoices").get("prefix") != "HACK"
