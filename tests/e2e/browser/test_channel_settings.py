"""A channel's settings in Chromium: a new Shopify channel from the form with write-only
credentials, a stock rule changed on the settings page and seen in the listings' explanation, and
a bad percent shown next to its field. A viewer sees the settings and may not change them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from ordermesh.services import channel_sync as cs
from ordermesh.services import channels
from tests.e2e.browser.conftest import VIEWPORT, LiveServer, Shop, make_user, sign_in

pytestmark = pytest.mark.browser

ACCESS_TOKEN = "shpat_f0rm_secret_9d2c41e7"
WEBHOOK_SECRET = "whsec_f0rm_secret_5b88a0c3"
NEW_WEBHOOK_SECRET = "whsec_rotated_secret_77e1f0aa"


def sealed(shop: Shop, code: str) -> dict[str, str]:
    with shop.tenant.uow(write=False) as uow:
        record = channels.get_channel(uow, code)
    assert record.sealed_credentials is not None
    return shop.tenant.container.connections.vault.open(record.sealed_credentials)


def add_channel(shop: Shop, code: str, **more: object) -> None:
    with shop.tenant.uow() as uow:
        channels.create_channel(
            uow,
            {"code": code, "type": "shopify", "name": "Web store", "base_url": "https://kurta-co.myshopify.com",
             "locations": ["BHW"], **more},
            shop.tenant.container.connections.vault,
        )  # fmt: skip


def test_a_new_shopify_channel_with_credentials_that_are_never_shown_again(page: Page, shop: Shop) -> None:
    sign_in(page, make_user(shop, "ops", name="Asha Rao"))
    # given the new-channel form, reached from sync health
    page.goto("/channels/sync")
    page.get_by_role("link", name="New channel").click()
    expect(page).to_have_url(re.compile(r"/channels/new$"))
    expect(page.get_by_label("Type", exact=True)).to_have_value("shopify")
    expect(page.get_by_test_id("setting-hints")).to_contain_text("location_id")
    expect(page.get_by_test_id("ats-formula")).to_contain_text("less units in orders not yet routed")
    # when
    page.get_by_label("Code", exact=True).fill("shopify-main")
    page.get_by_label("Name", exact=True).fill("Kurta Co on Shopify")
    page.get_by_label("Base URL", exact=True).fill("https://kurta-co.myshopify.com")
    page.get_by_role("checkbox", name=re.compile(r"BHW")).check()
    page.get_by_label("Setting 1 name").fill("location_id")
    page.get_by_label("Setting 1 value").fill("68012345678")
    page.get_by_label("Setting 2 name").fill("notify_customer")
    page.get_by_label("Setting 2 value").fill("false")
    page.get_by_label("Buffer", exact=True).fill("1")
    page.get_by_label("access_token", exact=True).fill(ACCESS_TOKEN)
    page.get_by_label("webhook_secret", exact=True).fill(WEBHOOK_SECRET)
    page.get_by_role("button", name="Create channel").click()
    # then
    expect(page).to_have_url(re.compile(r"/channels/shopify-main/settings$"))
    expect(page.locator(".flash.success")).to_have_text(
        "Channel shopify-main created with credentials (access_token, webhook_secret)."
    )
    expect(page.get_by_test_id("credentials-status")).to_have_text("credentials set")
    expect(page.get_by_label("access_token", exact=True)).to_have_value("")
    expect(page.get_by_label("Setting 1 name")).to_have_value("location_id")
    expect(page.get_by_label("Setting 1 value")).to_have_value("68012345678")
    expect(page.get_by_label("Setting 2 value")).to_have_value("false")
    html = page.content()
    assert ACCESS_TOKEN not in html and WEBHOOK_SECRET not in html
    with shop.tenant.uow(write=False) as uow:
        spec = channels.get_channel(uow, "shopify-main").spec
    assert spec.connector == {"location_id": 68012345678, "notify_customer": False}
    assert spec.inventory == {"buffer": 1} and spec.locations == ["BHW"]
    assert sealed(shop, "shopify-main") == {"access_token": ACCESS_TOKEN, "webhook_secret": WEBHOOK_SECRET}
    # when only the webhook secret is typed again, the access token is kept
    page.get_by_label("webhook_secret", exact=True).fill(NEW_WEBHOOK_SECRET)
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash.success")).to_have_text(
        "Saved the settings of shopify-main; credentials updated (webhook_secret)."
    )
    assert NEW_WEBHOOK_SECRET not in page.content()
    assert sealed(shop, "shopify-main") == {"access_token": ACCESS_TOKEN, "webhook_secret": NEW_WEBHOOK_SECRET}
    # and the sync-health card links to the settings
    page.goto("/channels/sync")
    page.locator("section[data-channel='shopify-main']").get_by_role("link", name="Settings").click()
    expect(page).to_have_url(re.compile(r"/channels/shopify-main/settings$"))


def test_a_changed_stock_rule_shows_in_the_listings_explanation(page: Page, shop: Shop) -> None:
    # given a channel served from Bhiwandi (40 of the kurta there) and a listing of the kurta
    add_channel(shop, "web")
    with shop.tenant.uow() as uow:
        cs.put_listing(uow, "web", {"listing_id": "44012345670001", "sku": "KURTA-BLU-M"})
    sign_in(page, make_user(shop, "ops", name="Asha Rao"))
    page.goto("/channels/web/settings")
    expect(page.get_by_test_id("channel-rule")).to_have_text("all available stock, no buffer")
    # when
    page.get_by_label("Buffer", exact=True).fill("2")
    page.get_by_label("Percent", exact=True).fill("50")
    page.get_by_role("button", name="Save settings").click()
    # then
    expect(page.locator(".flash.success")).to_have_text("Saved the settings of web.")
    expect(page.get_by_test_id("channel-rule")).to_have_text("buffer 2; 50% of what is left")
    page.get_by_role("link", name="Listings").click()
    expect(page).to_have_url(re.compile(r"/channels/web/listings$"))
    expect(page.get_by_test_id("channel-rule")).to_have_text("Stock rule: buffer 2; 50% of what is left")
    why = page.locator("tr[data-why='44012345670001']")
    expect(why.get_by_test_id("explanation")).to_have_text(
        "40 available at 1 location(s) − buffer 2 = 38; 50% of 38 = 19"
    )


def test_a_bad_percent_is_shown_by_its_field_and_a_viewer_only_reads(
    page: Page, shop: Shop, browser: Browser, live_server: LiveServer
) -> None:
    add_channel(shop, "web", inventory={"percent": 80}, credentials={"access_token": ACCESS_TOKEN})
    sign_in(page, make_user(shop, "ops", name="Asha Rao"))
    page.goto("/channels/web/settings")
    # when
    page.get_by_label("Percent", exact=True).fill("150")
    page.get_by_label("webhook_secret", exact=True).fill(WEBHOOK_SECRET)
    page.get_by_role("button", name="Save settings").click()
    # then the error is next to the field, what was typed is kept, and the secret is not
    expect(page.locator("#f-inventory_percent-error")).to_have_text(
        "must be a whole number of at least 0 and at most 100"
    )
    percent = page.get_by_label("Percent", exact=True)
    expect(percent).to_have_value("150")
    expect(percent).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-credentials-error")).to_contain_text("not saved")
    expect(page.get_by_label("webhook_secret", exact=True)).to_have_value("")
    assert WEBHOOK_SECRET not in page.content() and ACCESS_TOKEN not in page.content()
    with shop.tenant.uow(write=False) as uow:
        assert channels.get_channel(uow, "web").spec.inventory == {"percent": 80}
    assert sealed(shop, "web") == {"access_token": ACCESS_TOKEN}
    # a viewer sees the settings, read only, and cannot open the new-channel form
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT, locale="en-IN")
    viewer = context.new_page()
    try:
        sign_in(viewer, make_user(shop, "viewer", name="Vikram"))
        viewer.goto("/channels/web/settings")
        facts = viewer.get_by_test_id("read-only-settings")
        expect(facts).to_contain_text("80% of what is left")
        expect(facts).to_contain_text("credentials set")
        expect(viewer.get_by_role("button", name="Save settings")).to_have_count(0)
        expect(viewer.locator("input[type=password]")).to_have_count(0)
        assert ACCESS_TOKEN not in viewer.content()
        viewer.goto("/channels/sync")
        expect(viewer.get_by_role("link", name="New channel")).to_have_count(0)
        response = viewer.goto("/channels/new")
        assert response is not None and response.status == 403
    finally:
        context.close()
