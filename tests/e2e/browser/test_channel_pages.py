"""The channel sync pages in Chromium, against the Shopify fake: sync health with a failing and a
fixed pull, the inbox with a failed webhook and its retry, and the listings page that says why a
channel shows the quantity it shows.

One tenant and one fake store serve the whole module. The app under test uses the container's
connections; their ``sleep`` is a no-op here, so the connector's back-off on 5xx does not wait."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, StorageState, expect

from ordermesh.bootstrap import Container
from ordermesh.services import channel_sync as cs
from ordermesh.services import channels
from tests.conftest import new_tenant
from tests.e2e.browser.conftest import VIEWPORT, LiveServer, Shop, make_user, sign_in
from tests.factories import make_location, make_sku, receive
from tests.fakes.shopify import (
    ACCESS_TOKEN,
    API_VERSION,
    LOCATION,
    WEBHOOK_SECRET,
    FakeShopify,
    inventory_item_of,
    webhook_headers,
)

pytestmark = pytest.mark.browser

KURTA, SPEAKER = "KRT-COT-BLU-M", "SPK-BT-10W-BLK"  # the fixture order's SKUs
GREEN = "KURTA-GRN-M"  # in no order, so its available-to-sell is only its stock and the rule
GREEN_VARIANT = "44012345670001"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeShopify]:
    with FakeShopify() as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def _no_waiting(live_server: LiveServer) -> Iterator[None]:
    """The served app's connectors retry 5xx with back-off: here the back-off does not sleep."""
    connections = live_server.container.connections
    before = connections.sleep
    connections.sleep = lambda seconds: None
    yield
    connections.sleep = before


@pytest.fixture(scope="module")
def store(web_container: Container, fake: FakeShopify) -> Shop:
    """A tenant with a Shopify channel 'shop' pointed at the fake, the fixture order's SKUs and stock."""
    t = new_tenant(web_container, "chan")
    make_location(t, "BLR", "KA")
    make_sku(t, KURTA, mrp="999.00")
    make_sku(t, SPEAKER, mrp="1999.00")
    make_sku(t, GREEN, mrp="999.00")
    receive(t, KURTA, "BLR", 10)
    receive(t, SPEAKER, "BLR", 4)
    receive(t, GREEN, "BLR", 16)
    with t.uow() as uow:
        channels.create_channel(
            uow,
            {
                "code": "shop",
                "type": "shopify",
                "name": "Our Shopify store",
                "base_url": fake.url,
                "credentials": {"access_token": ACCESS_TOKEN, "webhook_secret": WEBHOOK_SECRET},
                "connector": {"api_version": API_VERSION, "location_id": LOCATION, "since": "2025-01-01T00:00:00Z"},
            },
            web_container.connections.vault,
        )
    return Shop(t)


def _tab(browser: Browser, live_server: LiveServer, state: StorageState | None = None) -> Page:
    context = browser.new_context(
        base_url=live_server.url, viewport=VIEWPORT, locale="en-IN", timezone_id="Asia/Kolkata", storage_state=state
    )
    context.set_default_timeout(10_000)
    expect.set_options(timeout=10_000)
    return context.new_page()


@pytest.fixture(scope="module")
def signed_in_ops(browser: Browser, live_server: LiveServer, store: Shop) -> StorageState:
    tab = _tab(browser, live_server)
    sign_in(tab, make_user(store, "ops", name="Asha Rao"))
    state = tab.context.storage_state()
    tab.context.close()
    return state


@pytest.fixture
def page(browser: Browser, live_server: LiveServer, signed_in_ops: StorageState) -> Iterator[Page]:
    """Here ``page`` is already signed in as an ops user (channels read and write)."""
    tab = _tab(browser, live_server, signed_in_ops)
    yield tab
    tab.context.close()


@pytest.fixture
def viewer_page(browser: Browser, live_server: LiveServer, store: Shop) -> Iterator[Page]:
    tab = _tab(browser, live_server)
    sign_in(tab, make_user(store, "viewer", name="Vikram"))
    yield tab
    tab.context.close()


def sync_row(page: Page, kind: str) -> Locator:
    return page.locator("section[data-channel='shop']").locator(f"tr[data-kind='{kind}']")


def success_flash(page: Page) -> Locator:
    return page.locator(".flash.success")


def error_flash(page: Page) -> Locator:
    return page.locator(".flash.error")


def test_a_failing_pull_shows_its_error_and_a_pull_after_the_fix_shows_the_last_success(
    page: Page, store: Shop, fake: FakeShopify
) -> None:
    # given Shopify answers 500 to the next ten calls (two pulls of five attempts each)
    fake.seed_fixture()
    fake.fail(500, times=10)
    page.goto("/")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Channels").click()
    expect(page).to_have_url(re.compile(r"/channels/sync$"))
    card = page.locator("section[data-channel='shop']")
    expect(card.get_by_test_id("connected")).to_have_text("connected")
    expect(card).to_contain_text("shopify")
    expect(sync_row(page, "orders").get_by_test_id("last-success")).to_have_text("never")
    # when
    card.get_by_role("button", name="Pull now").click()
    # then the error is flashed and kept on the card, with when it happened
    expect(error_flash(page)).to_contain_text("Order pull from shop failed")
    expect(error_flash(page)).to_contain_text("500")
    orders = sync_row(page, "orders")
    expect(orders.get_by_test_id("failures")).to_have_text("1")
    expect(orders.get_by_test_id("last-error")).to_contain_text("500")
    expect(orders.get_by_test_id("last-error")).to_contain_text(re.compile(r"at \d\d \w{3} \d{4}, \d\d:\d\d"))
    expect(orders.get_by_test_id("last-success")).to_have_text("never")
    # when it fails again, the failures count up
    card.get_by_role("button", name="Pull now").click()
    expect(orders.get_by_test_id("failures")).to_have_text("2")
    # when Shopify answers again
    page.locator("section[data-channel='shop']").get_by_role("button", name="Pull now").click()
    # then
    expect(success_flash(page)).to_have_text("Pulled 1 page of orders from shop.")
    expect(error_flash(page)).to_have_count(0)
    expect(orders.get_by_test_id("last-success")).to_contain_text("(just now)")
    expect(orders.get_by_test_id("failures")).to_have_text("0")
    expect(orders.get_by_test_id("last-error")).to_have_text("")
    expect(card.get_by_test_id("inbox-failed")).to_have_text("0")


def test_a_failed_webhook_is_in_the_inbox_with_its_error_and_a_retry(
    page: Page, viewer_page: Page, store: Shop, live_server: LiveServer
) -> None:
    # given a signed webhook whose body the connector cannot read
    body = b'{"id": 1, "line_items": "not a list"}'
    signature = base64.b64encode(hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    request = urllib.request.Request(
        f"{live_server.url}/webhooks/{store.code}/shop",
        data=body,
        headers={**webhook_headers(), "X-Shopify-Hmac-Sha256": signature},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    assert answer["received"] and not answer["processed"]
    item_id = answer["item_id"]
    # when
    page.goto("/channels/sync")
    card = page.locator("section[data-channel='shop']")
    expect(card.get_by_test_id("inbox-failed")).to_have_text("1")
    card.get_by_role("link", name="Failed").click()
    # then
    expect(page).to_have_url(re.compile(r"/channels/inbox\?state=failed&channel=shop$"))
    row = page.get_by_role("table", name="Inbox items").locator(f"tr[data-item='{item_id}']")
    expect(row).to_contain_text("webhook")
    expect(row).to_contain_text("orders/create")
    expect(row).to_contain_text("failed")
    expect(row.get_by_test_id("item-error")).to_contain_text("cannot read the webhook body")
    # when it is retried, still unreadable
    row.get_by_role("button", name=f"Retry item {item_id}").click()
    # then the outcome is flashed and the item is still there, failed, tried twice
    expect(error_flash(page)).to_contain_text(f"Inbox item {item_id} retried, and failed again: cannot read")
    expect(page).to_have_url(re.compile(r"/channels/inbox\?state=failed&channel=shop$"))
    expect(row.locator("td").nth(6)).to_have_text("2")
    # a viewer sees the item, and no buttons here or on sync health
    viewer_page.goto("/channels/inbox?state=failed")
    viewer_row = viewer_page.get_by_role("table", name="Inbox items").locator(f"tr[data-item='{item_id}']")
    expect(viewer_row.get_by_test_id("item-error")).to_contain_text("cannot read the webhook body")
    expect(viewer_page.get_by_role("button", name=re.compile("Retry"))).to_have_count(0)
    viewer_page.goto("/channels/sync")
    expect(viewer_page.locator("section[data-channel='shop']")).to_be_visible()
    expect(viewer_page.get_by_role("button", name="Pull now")).to_have_count(0)
    expect(viewer_page.get_by_role("button", name="Reconcile")).to_have_count(0)


def test_the_listings_page_explains_the_quantity_pushed_and_what_the_channel_shows(
    page: Page, store: Shop, fake: FakeShopify
) -> None:
    # given keep 2 back and offer half the rest on this channel; a listing of 16 units at BLR
    with store.tenant.uow() as uow:
        channels.update_channel(uow, "shop", {"inventory": {"buffer": 2, "percent": 50}})
    item = inventory_item_of(GREEN_VARIANT)
    with store.tenant.uow() as uow:
        cs.put_listing(
            uow,
            "shop",
            {"listing_id": GREEN_VARIANT, "sku": GREEN, "seller_sku": "KRT-GRN-M",
             "attributes": {"inventory_item_id": item}},
        )  # fmt: skip
    fake.stock(item, available=0)
    # when
    page.goto("/channels/sync")
    page.locator("section[data-channel='shop']").get_by_role("link", name="Listings").click()
    # then every term of the quantity is on the row
    expect(page).to_have_url(re.compile(r"/channels/shop/listings$"))
    expect(page.get_by_test_id("channel-rule")).to_have_text("Stock rule: buffer 2; 50% of what is left")
    row = page.get_by_role("table", name="Listings").locator(f"tr[data-listing='{GREEN_VARIANT}']")
    expect(row).to_contain_text(GREEN)
    expect(row).to_contain_text("KRT-GRN-M")
    expect(row.get_by_test_id("quantity")).to_have_text("7")
    expect(row.get_by_test_id("pool")).to_have_text("16")
    expect(row.get_by_test_id("unrouted")).to_have_text("0")
    expect(row.get_by_test_id("buffer")).to_have_text("2")
    expect(row.get_by_test_id("rule")).to_have_text("50% of 14 = 7")
    expect(row.get_by_test_id("locations")).to_have_text("BLR 16")
    why = page.locator(f"tr[data-why='{GREEN_VARIANT}']")
    expect(why).to_contain_text("Why 7:")
    expect(why.get_by_test_id("explanation")).to_have_text(
        "16 available at 1 location(s) − buffer 2 = 14; 50% of 14 = 7"
    )
    expect(row.get_by_test_id("pushed")).to_contain_text("never")
    expect(row.get_by_test_id("pushed")).to_contain_text("push due")
    expect(row.get_by_test_id("channel-quantity")).to_have_text("not checked")
    # when the stock is pushed
    page.get_by_role("button", name="Push stock now").click()
    # then
    expect(success_flash(page)).to_have_text("Pushed stock of 1 listing to shop.")
    expect(page).to_have_url(re.compile(r"/channels/shop/listings$"))
    expect(row.get_by_test_id("pushed")).to_contain_text(re.compile(r"^\s*7 at \d\d \w{3} \d{4}"))
    expect(row.get_by_test_id("pushed")).not_to_contain_text("push due")
    assert fake.available(item) == 7
    # when someone sets 3 on Shopify by hand and the seller reconciles
    fake.stock(item, available=3)
    page.get_by_role("button", name="Reconcile").click()
    # then the drift is found and corrected, and the page shows what Shopify showed
    expect(success_flash(page)).to_have_text("Reconciled shop: checked 1 listing, drift found on 1, corrected 1.")
    expect(row.get_by_test_id("channel-quantity")).to_contain_text(re.compile(r"^\s*3 at"))
    assert fake.available(item) == 7
