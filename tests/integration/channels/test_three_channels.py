"""Three channels selling the same stock, on both databases: an order from each of Shopify,
WooCommerce and Amazon arrives once (replays included), is routed and reserved; every channel is
then told the new available-to-sell; a cancellation on one channel frees stock that appears on
the others. Stock changes reach the listings through the outbox, as in production."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ordermesh.services import channel_sync as cs
from ordermesh.services import inventory
from ordermesh.worker.main import Worker
from tests.conftest import TenantCtx
from tests.factories import make_location, make_sku, receive
from tests.fakes.amazon import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, SELLER, FakeAmazon
from tests.fakes.shopify import (
    ACCESS_TOKEN,
    API_VERSION,
    LOCATION,
    WEBHOOK_SECRET,
    FakeShopify,
    fixture_bytes,
    inventory_item_of,
    webhook_headers,
)
from tests.fakes.woocommerce import FIXTURES as WOO_FIXTURES
from tests.fakes.woocommerce import FakeWooCommerce
from tests.integration.channels.sync_helpers import add_channel, finish, orders_of, put_listing, sync_for

KURTA, SPEAKER = "KRT-COT-BLU-M", "SPK-BT-10W-BLK"
SHOP_KURTA, SHOP_SPEAKER = "44012345678901", "44012345678902"
WOO_PARENT, WOO_KURTA, WOO_SPEAKER = 1201, 1207, 1305
WOO_BODY = (WOO_FIXTURES / "woocommerce_order.json").read_bytes()
_WOO_HEADERS = json.loads((WOO_FIXTURES / "woocommerce_order.headers.json").read_bytes())
WOO_HEADERS = {k: v for k, v in _WOO_HEADERS.items() if not k.startswith("_")}


@pytest.fixture
def fakes() -> Iterator[tuple[FakeShopify, FakeWooCommerce, FakeAmazon]]:
    with FakeShopify() as shopify, FakeWooCommerce() as woo, FakeAmazon() as amazon:
        yield shopify, woo, amazon


@pytest.fixture
def seller(tenant: TenantCtx, fakes: tuple[FakeShopify, FakeWooCommerce, FakeAmazon]) -> Iterator[TenantCtx]:
    shopify, woo, amazon = fakes
    make_location(tenant, "BLR", "KA")
    make_sku(tenant, KURTA, mrp="1200.00")
    make_sku(tenant, SPEAKER, mrp="1999.00")
    receive(tenant, KURTA, "BLR", 10)
    receive(tenant, SPEAKER, "BLR", 4)
    add_channel(
        tenant,
        "shop",
        "shopify",
        shopify.url,
        {"access_token": ACCESS_TOKEN, "webhook_secret": WEBHOOK_SECRET},
        {"api_version": API_VERSION, "location_id": LOCATION},
    )
    add_channel(
        tenant,
        "woo",
        "woocommerce",
        woo.url,
        {**woo.credentials, "webhook_secret": _WOO_HEADERS["_test_secret"]},
        {"since": "2025-01-01T00:00:00Z"},
    )
    add_channel(
        tenant,
        "amzn",
        "amazon",
        amazon.url,
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN},
        {"seller_id": SELLER, "lwa_url": amazon.url, "since": "2025-01-01T00:00:00Z"},
    )
    for variant, sku in ((SHOP_KURTA, KURTA), (SHOP_SPEAKER, SPEAKER)):
        put_listing(tenant, "shop", variant, sku, inventory_item_id=inventory_item_of(variant))
        shopify.stock(inventory_item_of(variant), available=0)
    put_listing(tenant, "woo", str(WOO_KURTA), KURTA, parent_id=str(WOO_PARENT))
    put_listing(tenant, "woo", str(WOO_SPEAKER), SPEAKER)
    woo.seed_fixture()
    put_listing(tenant, "amzn", KURTA, KURTA, seller_sku=KURTA, product_type="KURTA")
    put_listing(tenant, "amzn", SPEAKER, SPEAKER, seller_sku=SPEAKER, product_type="SPEAKERS")
    yield tenant
    finish(tenant)


def shown(fakes: tuple[FakeShopify, FakeWooCommerce, FakeAmazon], sku: str) -> dict[str, int | None]:
    shopify, woo, amazon = fakes
    if sku == KURTA:
        return {
            "shop": shopify.available(inventory_item_of(SHOP_KURTA)),
            "woo": woo.stock_of(WOO_KURTA, parent=WOO_PARENT),
            "amzn": amazon.listings[KURTA]["quantity"]["DEFAULT"],
        }
    return {
        "shop": shopify.available(inventory_item_of(SHOP_SPEAKER)),
        "woo": woo.stock_of(WOO_SPEAKER),
        "amzn": amazon.listings[SPEAKER]["quantity"]["DEFAULT"],
    }


def sync_all(t: TenantCtx) -> None:
    """What the worker does: stock-change events mark listings, then each channel is pushed."""
    worker = Worker(t.container)
    while worker.run_once():
        pass
    for code in ("shop", "woo", "amzn"):
        result = cs.push_inventory(sync_for(t), code, force=True)
        assert result.failed == 0, result.errors


def reserved(t: TenantCtx, sku: str) -> int:
    with t.uow(write=False) as uow:
        return inventory.stock_for_sku(uow, sku).totals.reserved


def test_orders_from_three_channels_share_one_stock(
    seller: TenantCtx, fakes: tuple[FakeShopify, FakeWooCommerce, FakeAmazon]
) -> None:
    sync = sync_for(seller)
    sync_all(seller)
    assert shown(fakes, KURTA) == {"shop": 10, "woo": 10, "amzn": 10}

    for _ in range(2):  # every delivery twice: replays create nothing
        assert cs.receive_webhook(
            sync, seller.code, "shop", webhook_headers(), fixture_bytes("shopify_orders_create.json")
        )
        assert cs.receive_webhook(sync, seller.code, "woo", WOO_HEADERS, WOO_BODY)
        assert cs.pull_orders(sync, "amzn", force=True).errors == []
    got = {(o.external_id, o.status): o.lines for o in orders_of(seller)}
    assert len(got) == 3, got
    assert all(status == "allocated" for _, status in got)
    # Shopify 2 kurtas + 1 speaker, WooCommerce 1 + 1, Amazon 2 kurtas
    assert (reserved(seller, KURTA), reserved(seller, SPEAKER)) == (5, 2)

    sync_all(seller)
    assert shown(fakes, KURTA) == {"shop": 5, "woo": 5, "amzn": 5}
    assert shown(fakes, SPEAKER) == {"shop": 2, "woo": 2, "amzn": 2}

    # The Amazon buyer cancels: the two kurtas come back, and every channel shows them.
    _, _, amazon = fakes
    amazon.orders[0].update(OrderStatus="Canceled", LastUpdateDate="2025-01-15T10:40:00Z")
    amazon.now = "2025-01-15T11:00:00Z"
    assert cs.pull_orders(sync, "amzn", force=True).errors == []
    assert reserved(seller, KURTA) == 3
    sync_all(seller)
    assert shown(fakes, KURTA) == {"shop": 7, "woo": 7, "amzn": 7}
    assert shown(fakes, SPEAKER) == {"shop": 2, "woo": 2, "amzn": 2}
    with seller.uow(write=False) as uow:
        assert inventory.check_ledger(uow) == []
