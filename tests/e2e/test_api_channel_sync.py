"""Channel sync over HTTP, through the app's test client, on SQLite and PostgreSQL: channels with
sealed credentials, signed webhooks into orders (once), rejected ones kept in the inbox, listings
with their available-to-sell, pushes to the Shopify fake, health, and who may do what."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ordermesh.api.app import create_app
from ordermesh.bootstrap import Container, bootstrap
from ordermesh.config import Settings
from tests.e2e.conftest import Api, api_for
from tests.factories import location_payload, sku_payload
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

PROBLEM = "application/problem+json"
ORDER_ID = "5812345678901"
KURTA, SPEAKER = "KRT-COT-BLU-M", "SPK-BT-10W-BLK"
KURTA_VARIANT, SPEAKER_VARIANT = "44012345678901", "44012345678902"


@pytest.fixture
def fake() -> Iterator[FakeShopify]:
    with FakeShopify() as server:
        yield server


def stocked(api: Api) -> None:
    """The fixture order's two SKUs, a location and stock of each."""
    assert api.post("/api/v1/locations", location_payload("BLR", "KA")).status_code == 201
    for code, quantity in ((KURTA, 10), (SPEAKER, 4)):
        assert api.post("/api/v1/skus", sku_payload(code)).status_code == 201
        r = api.post("/api/v1/inventory/movements", {"sku": code, "location": "BLR", "kind": "receipt",
                                                     "quantity": quantity})  # fmt: skip
        assert r.status_code in (200, 201), r.text


def shop_channel(api: Api, base_url: str = "https://example.myshopify.com") -> dict[str, Any]:
    body = {
        "code": "shop",
        "type": "shopify",
        "name": "Our Shopify store",
        "base_url": base_url,
        "credentials": {"access_token": ACCESS_TOKEN, "webhook_secret": WEBHOOK_SECRET},
        "connector": {"api_version": API_VERSION, "location_id": LOCATION, "since": "2025-01-01T00:00:00Z"},
    }
    r = api.post("/api/v1/channels", body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def deliver(api: Api, body: bytes, headers: dict[str, str] | None = None) -> Any:
    """A webhook as Shopify sends it: no API key, the signature in the headers."""
    return api.client.post(f"/webhooks/{api.tenant.code}/shop", content=body, headers=headers or webhook_headers())


def order_ids(api: Api) -> list[str]:
    r = api.get("/api/v1/orders")
    assert r.status_code == 200, r.text
    return [o["external_id"] for o in r.json()["items"]]


def test_a_channel_with_credentials_never_returns_them(api: Api) -> None:
    # when
    created = shop_channel(api)
    # then
    assert created["credentials_set"] is True
    assert created["webhook_path"] == f"/webhooks/{api.tenant.code}/shop"
    for r in (api.get("/api/v1/channels/shop"), api.get("/api/v1/channels")):
        assert r.status_code == 200
        assert ACCESS_TOKEN not in r.text and WEBHOOK_SECRET not in r.text
    assert ACCESS_TOKEN not in str(created) and WEBHOOK_SECRET not in str(created)
    put = api.put("/api/v1/channels/shop/credentials", {"credentials": {"access_token": "shpat_rotated_1"}})
    assert put.status_code == 204 and put.content == b""
    assert "shpat_rotated_1" not in api.get("/api/v1/channels/shop").text
    audit = api.get("/api/v1/audit?entity_type=channel&entity_key=shop").text
    assert "shpat_rotated_1" not in audit and ACCESS_TOKEN not in audit


def test_bad_credentials_name_the_field(api: Api) -> None:
    shop_channel(api)
    r = api.put("/api/v1/channels/shop/credentials", {"credentials": {"access_token": ""}})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    assert "credentials.access_token" in [e["field"] for e in r.json()["errors"]]
    assert api.put("/api/v1/channels/nowhere/credentials", {"credentials": {"a": "b"}}).status_code == 404


def test_a_signed_webhook_becomes_one_order_and_a_tampered_one_is_kept_rejected(api: Api) -> None:
    stocked(api)
    shop_channel(api)
    body = fixture_bytes("shopify_orders_create.json")
    # when
    first = deliver(api, body)
    # then
    assert first.status_code == 200, first.text
    assert first.json()["duplicate"] is False and first.json()["processed"] is True
    assert order_ids(api) == [ORDER_ID]

    # when: the same delivery again
    again = deliver(api, body)
    # then
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert order_ids(api) == [ORDER_ID]

    # when: a body changed on the way
    tampered = deliver(api, body.replace(b"Priya", b"Pryia"))
    # then
    assert tampered.status_code == 401
    assert tampered.headers["content-type"].startswith(PROBLEM)
    assert "signature" in tampered.json()["detail"]
    assert order_ids(api) == [ORDER_ID]
    rejected = api.get("/api/v1/channels/inbox/items?state=rejected")
    assert rejected.status_code == 200
    [item] = rejected.json()
    assert item["channel"] == "shop" and item["state"] == "rejected" and "does not match" in item["error"]
    processed = api.get("/api/v1/channels/inbox/items?state=processed&channel=shop").json()
    assert [i["topic"] for i in processed] == ["orders/create"]


def test_queued_webhooks_are_stored_answered_and_made_orders_by_the_workers(api: Api, container: Container) -> None:
    """ORDERMESH_WEBHOOKS_INLINE=false: the API stores a signed body and answers at once; the
    workers' channel_inbox job makes the order; a tampered body is still refused and kept."""
    from ordermesh.services import channel_sync as cs

    stocked(api)
    shop_channel(api)
    body = fixture_bytes("shopify_orders_create.json")
    queued = Container(container.settings.model_copy(update={"webhooks_inline": False}), container.engine,
                       container.uow, container.clock)  # fmt: skip
    with TestClient(create_app(container=queued), raise_server_exceptions=False) as channel:
        url = f"/webhooks/{api.tenant.code}/shop"
        first = channel.post(url, content=body, headers=webhook_headers())
        assert first.status_code == 200, first.text
        assert first.json()["duplicate"] is False and first.json()["processed"] is False
        again = channel.post(url, content=body, headers=webhook_headers())
        assert again.status_code == 200 and again.json()["duplicate"] is True
        tampered = channel.post(url, content=body.replace(b"Priya", b"Pryia"), headers=webhook_headers())
        assert tampered.status_code == 401 and tampered.headers["content-type"].startswith(PROBLEM)
    assert order_ids(api) == []
    assert [i["state"] for i in api.get("/api/v1/channels/inbox/items").json()] == ["rejected", "received"]
    assert cs.drain_webhooks(cs.Sync(container.uow, container.connections, api.tenant.id)) == 1
    assert order_ids(api) == [ORDER_ID]
    [item] = api.get("/api/v1/channels/inbox/items?state=processed").json()
    assert item["result"]["created"] == [ORDER_ID]


def test_a_webhook_for_an_unknown_tenant_or_channel_is_not_found(api: Api) -> None:
    shop_channel(api)
    body = fixture_bytes("shopify_orders_create.json")
    r = api.client.post("/webhooks/no-such-tenant/shop", content=body, headers=webhook_headers())
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    r = api.client.post(f"/webhooks/{api.tenant.code}/nowhere", content=body, headers=webhook_headers())
    assert r.status_code == 404


def test_listings_import_reports_rows_and_listings_show_their_terms(api: Api, fake: FakeShopify) -> None:
    stocked(api)
    shop_channel(api, fake.url)
    assert api.patch("/api/v1/channels/shop", {"inventory": {"buffer": 2}}).status_code == 200
    csv_body = (
        "listing_id,sku,seller_sku,inventory_item_id\n"
        f"{KURTA_VARIANT},{KURTA},KRT-1,{inventory_item_of(KURTA_VARIANT)}\n"
        f"{SPEAKER_VARIANT},NOT-A-SKU,SPK-1,{inventory_item_of(SPEAKER_VARIANT)}\n"
    )
    # when
    r = api.post("/api/v1/channels/shop/listings/import", content=csv_body.encode(),
                 headers={"Content-Type": "text/csv"})  # fmt: skip
    # then
    assert r.status_code == 200, r.text
    result = r.json()
    assert (result["created"], result["updated"]) == (1, 0)
    assert result["errors"] == [{"row": 3, "field": "sku", "message": "SKU 'NOT-A-SKU' not found"}]
    listed = api.get("/api/v1/channels/shop/listings")
    assert listed.status_code == 200
    [listing] = listed.json()
    ats = listing["available_to_sell"]
    assert (ats["quantity"], ats["pool"], ats["buffer"], ats["before_rule"]) == (8, 10, 2, 8)
    assert ats["locations"] == {"BLR": 10}
    assert listing["explanation"] == "10 available at 1 location(s) − buffer 2 = 8"
    assert listing["pending_push"] is True


def test_a_listings_csv_without_listing_id_is_refused(api: Api) -> None:
    shop_channel(api)
    r = api.post("/api/v1/channels/shop/listings/import", content=b"sku\nX\n", headers={"Content-Type": "text/csv"})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    assert "listing_id" in r.json()["detail"]


def test_sync_health_lists_every_channel_with_its_sync_state(api: Api) -> None:
    stocked(api)
    shop_channel(api)
    assert deliver(api, fixture_bytes("shopify_orders_create.json")).status_code == 200
    assert deliver(api, b'{"tampered": true}').status_code == 401
    r = api.get("/api/v1/channels/sync/health")
    assert r.status_code == 200
    health = {h["channel"]: h for h in r.json()}
    assert set(health) == {"manual", "shop"}
    shop = health["shop"]
    assert shop["connected"] is True and shop["type"] == "shopify"
    assert shop["inbox"] == {"failed": 0, "rejected": 1, "waiting": 0, "processed": 1}
    for kind in ("orders", "inventory", "status", "reconcile"):
        assert set(shop[kind]) >= {"last_success_at", "lag_seconds", "failures", "last_error"}
    assert shop["inventory"]["last_success_at"] is None and shop["pending_pushes"] == 0
    assert health["manual"]["connected"] is False


@pytest.fixture
def quick_api(api: Api, request: pytest.FixtureRequest) -> Iterator[Api]:
    """The tenant's admin key on an app whose SQLite waits only a second for a lock: a request that
    held its write transaction while the service writes on its own would fail fast, not hang."""
    url = api.tenant.container.settings.database_url
    container = bootstrap(Settings(database_url=url, sqlite_busy_timeout_ms=1000))
    try:
        with TestClient(create_app(container=container), raise_server_exceptions=False) as client:
            yield Api(client, api.tenant, api.key)
    finally:
        container.close()


def test_an_admin_pulls_and_pushes_over_http(quick_api: Api, fake: FakeShopify) -> None:
    api = quick_api
    stocked(api)
    shop_channel(api, fake.url)
    body = f"listing_id,sku,inventory_item_id\n{KURTA_VARIANT},{KURTA},{inventory_item_of(KURTA_VARIANT)}\n"
    imported = api.post("/api/v1/channels/shop/listings/import", content=body.encode())
    assert imported.status_code == 200 and imported.json()["errors"] == []
    fake.seed_fixture()
    fake.stock(inventory_item_of(KURTA_VARIANT), available=0)
    # when
    pulled = api.post("/api/v1/channels/shop/pull")
    pushed = api.post("/api/v1/channels/shop/inventory/push")
    # then
    assert pulled.status_code == 200, pulled.text
    assert pulled.json()["errors"] == [] and pulled.json()["pages"] >= 1
    assert order_ids(api) == [ORDER_ID]
    assert pushed.status_code == 200, pushed.text
    assert pushed.json() == {"pushed": 1, "failed": 0, "errors": []}
    assert fake.available(inventory_item_of(KURTA_VARIANT)) == 8  # 10 received, 2 in the pulled order
    [health] = [h for h in api.get("/api/v1/channels/sync/health").json() if h["channel"] == "shop"]
    assert health["orders"]["last_success_at"] is not None and health["inventory"]["last_success_at"] is not None


def test_a_viewer_can_look_but_not_pull_push_or_change(api: Api, app_client: TestClient, container: Container) -> None:
    shop_channel(api)
    viewer = api_for(app_client, container, role="viewer", tenant=api.tenant)
    for path in ("/api/v1/channels/shop/pull", "/api/v1/channels/shop/inventory/push"):
        r = viewer.post(path)
        assert r.status_code == 403, (path, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
    r = viewer.put("/api/v1/channels/shop/credentials", {"credentials": {"access_token": "x"}})
    assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)
    assert viewer.get("/api/v1/channels/sync/health").status_code == 200
    assert viewer.get("/api/v1/channels/shop/listings").status_code == 200
    assert viewer.get("/api/v1/channels/inbox/items").status_code == 200
