"""Channel sync end to end on both databases, against the Shopify fake: webhooks and polling
through the inbox, nothing lost or processed twice, listings and available-to-sell pushed and
reconciled, order status told back, and sync health that shows failures."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from ordermesh.adapters.channels.connections import Connections
from ordermesh.domain.errors import Unauthorized
from ordermesh.services import channel_sync as cs
from ordermesh.services import channels, order_actions
from ordermesh.worker.main import Worker
from tests.conftest import TenantCtx
from tests.factories import make_sku, receive
from tests.fakes.shopify import (
    ACCESS_TOKEN,
    WEBHOOK_SECRET,
    FakeShopify,
    fixture_bytes,
    fixture_json,
    inventory_item_of,
    order_variant,
    webhook_headers,
)
from tests.integration.channels.sync_helpers import shopify_shop

ORDER_ID = "5812345678901"
KURTA, SPEAKER = "KRT-COT-BLU-M", "SPK-BT-10W-BLK"


@pytest.fixture
def fake() -> Iterator[FakeShopify]:
    with FakeShopify() as server:
        yield server


@pytest.fixture
def shop(tenant: TenantCtx, fake: FakeShopify) -> TenantCtx:
    """A tenant with a Shopify channel pointed at the fake, the fixture's two SKUs and stock."""
    return shopify_shop(tenant, fake.url)


_QUICK: dict[int, Connections] = {}


@pytest.fixture(autouse=True)
def _close_connections() -> Iterator[None]:
    yield
    for connections in _QUICK.values():
        connections.close()
    _QUICK.clear()


def sync_for(t: TenantCtx) -> cs.Sync:
    """Channel sync for the tenant, with connectors that do not really wait out throttling."""
    quick = _QUICK.setdefault(t.id, Connections(lambda: t.container.connections.vault, sleep=lambda s: None))
    return cs.Sync(t.container.uow, quick, t.id)


def orders_of(t: TenantCtx) -> list[Any]:
    with t.uow(write=False) as uow:
        rows = uow.conn.execute(
            text("SELECT id, external_id, status, payment_method FROM orders WHERE tenant_id = :t"), {"t": t.id}
        )
        return list(rows)


def inbox_states(t: TenantCtx) -> list[str]:
    with t.uow(write=False) as uow:
        return [r.state for r in cs.inbox(uow, channel=None, state=None)]


def test_a_signed_webhook_becomes_one_order_and_a_replay_changes_nothing(shop: TenantCtx) -> None:
    sync = sync_for(shop)
    body = fixture_bytes("shopify_orders_create.json")
    got = cs.receive_webhook(sync, shop.code, "shop", webhook_headers(), body)
    assert got.item_id is not None and got.processed, got.error
    [order] = orders_of(shop)
    assert (order.external_id, order.payment_method, order.status) == (ORDER_ID, "cod", "allocated")
    with shop.uow(write=False) as uow:
        full = uow.orders.get(order.id)
        assert full is not None
        assert [(line.sku_code, line.quantity) for line in full.lines] == [(KURTA, 2), (SPEAKER, 1)]
        assert full.row.channel_data["lines"][0]["listing_id"] == "44012345678901"

    again = cs.receive_webhook(sync, shop.code, "shop", webhook_headers(), body)
    assert again.item_id is None  # the same delivery: stored once, processed once
    assert len(orders_of(shop)) == 1
    assert inbox_states(shop) == ["processed"]


def test_replays_racing_create_one_order(shop: TenantCtx) -> None:
    sync = sync_for(shop)
    body = fixture_bytes("shopify_orders_create.json")
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            cs.receive_webhook(sync, shop.code, "shop", webhook_headers(), body)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert len(orders_of(shop)) == 1
    assert inbox_states(shop) == ["processed"]


def test_a_bad_signature_is_kept_rejected_and_not_processed(shop: TenantCtx) -> None:
    sync = sync_for(shop)
    body = fixture_bytes("shopify_orders_create.json").replace(b"Priya", b"Pryia")
    with pytest.raises(Unauthorized):
        cs.receive_webhook(sync, shop.code, "shop", webhook_headers(), body)
    assert orders_of(shop) == []
    with shop.uow(write=False) as uow:
        [item] = cs.inbox(uow, channel="shop", state="rejected")
    assert item.body == body and "does not match" in (item.error or "")


def test_an_unknown_listing_is_held_as_unmapped_never_dropped(shop: TenantCtx) -> None:
    rest = fixture_json("shopify_orders_create.json")
    rest["line_items"][1]["sku"] = "NOT-OURS"
    body = json.dumps(rest).encode()
    headers = {**webhook_headers(), "X-Shopify-Hmac-Sha256": _sign(body)}
    got = cs.receive_webhook(sync_for(shop), shop.code, "shop", headers, body)
    assert got.processed
    [order] = orders_of(shop)
    assert order.status == "on_hold"
    with shop.uow(write=False) as uow:
        row = uow.orders.get(order.id)
        assert row is not None
        assert [h["reason"] for h in row.row.holds] == ["unmapped_sku"]


def test_a_listing_maps_the_channels_id_to_our_sku(shop: TenantCtx) -> None:
    make_sku(shop, "KURTA-BLUE-M", mrp="999.00")
    receive(shop, "KURTA-BLUE-M", "BLR", 5)
    with shop.uow() as uow:
        cs.put_listing(uow, "shop", {"listing_id": "44012345678901", "sku": "KURTA-BLUE-M"})
    cs.receive_webhook(
        sync_for(shop), shop.code, "shop", webhook_headers(), fixture_bytes("shopify_orders_create.json")
    )
    [order] = orders_of(shop)
    with shop.uow(write=False) as uow:
        row = uow.orders.get(order.id)
        assert row is not None
        assert [line.sku_code for line in row.lines] == ["KURTA-BLUE-M", SPEAKER]


def test_a_body_stored_but_never_processed_is_picked_up_by_the_worker(shop: TenantCtx) -> None:
    """A crash between storing and processing: the stored item's outbox event brings it back."""
    from ordermesh.domain import events

    body = fixture_bytes("shopify_orders_create.json")
    with shop.uow() as uow:
        record = uow.channels.get("shop")
        assert record is not None
        item_id = cs.repo(uow).store(
            record.id, "webhook", "orders/create", "sha256:x", webhook_headers(), body, uow.now
        )
        uow.emit(events.Event("channel.inbox_received", {"item_id": item_id}))
        uow.commit()
    assert orders_of(shop) == []
    worker = Worker(shop.container)
    while worker.run_once():
        pass
    [order] = orders_of(shop)
    assert order.external_id == ORDER_ID
    assert inbox_states(shop) == ["processed"]


def test_a_body_that_cannot_be_read_stays_failed_and_visible(shop: TenantCtx) -> None:
    body = b'{"id": 1, "line_items": "not a list"}'
    headers = {**webhook_headers(), "X-Shopify-Hmac-Sha256": _sign(body)}
    got = cs.receive_webhook(sync_for(shop), shop.code, "shop", headers, body)
    assert not got.processed and got.error
    with shop.uow(write=False) as uow:
        [item] = cs.inbox(uow, channel="shop", state="failed")
        assert item.error == got.error
    with shop.uow() as uow:
        assert cs.retry_item(sync_for(shop), uow, item.id) is not None  # still unreadable: still failed
    assert inbox_states(shop) == ["failed"]


def test_a_webhook_order_and_its_body_are_kept_together_with_what_became_of_it(shop: TenantCtx) -> None:
    got = cs.receive_webhook(
        sync_for(shop), shop.code, "shop", webhook_headers(), fixture_bytes("shopify_orders_create.json")
    )
    assert got.processed and got.item_id is not None
    with shop.uow(write=False) as uow:
        [item] = cs.inbox(uow, channel="shop", state=None)
        assert (item.id, item.state, item.error, item.attempts) == (got.item_id, "processed", None, 1)
        assert item.result["created"] == [ORDER_ID] and item.processed_at is not None
        [order] = orders_of(shop)
        actors = uow.conn.execute(
            text(
                "SELECT DISTINCT actor FROM audit_log WHERE tenant_id = :t AND entity_type = 'order' AND entity_key = :o"
            ),
            {"t": shop.id, "o": str(order.id)},
        ).scalars()
        assert set(actors) == {"system:channel:shop"}


def test_the_items_result_commits_with_its_order(shop: TenantCtx, monkeypatch: pytest.MonkeyPatch) -> None:
    """Body, order and the item's result are one transaction: when recording the result fails, the
    order is not kept without it; the careful path then makes the order once and records it."""
    real = cs.ChannelSyncRepository.finish
    calls: list[int] = []

    def fails_once(self: cs.ChannelSyncRepository, *args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("connection lost while recording the result")
        real(self, *args, **kwargs)

    monkeypatch.setattr(cs.ChannelSyncRepository, "finish", fails_once)
    got = cs.receive_webhook(
        sync_for(shop), shop.code, "shop", webhook_headers(), fixture_bytes("shopify_orders_create.json")
    )
    assert got.processed and len(calls) == 2
    [order] = orders_of(shop)
    with shop.uow(write=False) as uow:
        [item] = cs.inbox(uow, channel="shop", state=None)
        assert (item.id, item.state, item.result["created"]) == (got.item_id, "processed", [ORDER_ID])
        created = uow.conn.execute(
            text(
                "SELECT COUNT(*) FROM audit_log WHERE tenant_id = :t AND action = 'order.created' AND entity_key = :o"
            ),
            {"t": shop.id, "o": str(order.id)},
        )
        assert created.scalar() == 1


def test_an_order_that_fails_half_way_leaves_nothing_of_it_and_its_body_failed(
    shop: TenantCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order's lines are written after its row and its reservation: a failure there must take
    the row and the reservation back with it, keep the body failed with the reason, and a retry
    must then make the order exactly once."""
    from ordermesh.adapters.db.orders import OrderRepository

    real = OrderRepository.add_body

    def broken(self: OrderRepository, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full while writing the order lines")

    monkeypatch.setattr(OrderRepository, "add_body", broken)
    got = cs.receive_webhook(
        sync_for(shop), shop.code, "shop", webhook_headers(), fixture_bytes("shopify_orders_create.json")
    )
    assert not got.processed and got.error is not None and "disk full" in got.error
    assert orders_of(shop) == []
    assert inbox_states(shop) == ["failed"]
    with shop.uow(write=False) as uow:
        reserved = uow.conn.execute(
            text("SELECT SUM(reserved) FROM stock_balances WHERE tenant_id = :t"), {"t": shop.id}
        )
        assert reserved.scalar() == 0
    monkeypatch.setattr(OrderRepository, "add_body", real)
    with shop.uow() as uow:
        assert cs.retry_item(sync_for(shop), uow, got.item_id or 0) is None
    [order] = orders_of(shop)
    assert order.external_id == ORDER_ID and inbox_states(shop) == ["processed"]
    again = cs.receive_webhook(
        sync_for(shop), shop.code, "shop", webhook_headers(), fixture_bytes("shopify_orders_create.json")
    )
    assert again.item_id is None and len(orders_of(shop)) == 1


def test_polling_stores_each_page_moves_the_cursor_and_never_duplicates(shop: TenantCtx, fake: FakeShopify) -> None:
    fake.seed_fixture()
    sync = sync_for(shop)
    first = cs.pull_orders(sync, "shop")
    assert first.errors == [] and first.pages >= 1
    assert [o.external_id for o in orders_of(shop)] == [ORDER_ID]
    with shop.uow(write=False) as uow:
        record = uow.channels.get("shop")
        assert record is not None
        cursor = cs.repo(uow).sync(record.id, "orders").cursor
    assert cursor is not None
    # the webhook for the same order afterwards: no second order
    cs.receive_webhook(sync, shop.code, "shop", webhook_headers(), fixture_bytes("shopify_orders_create.json"))
    cs.pull_orders(sync, "shop", force=True)
    assert len(orders_of(shop)) == 1


def test_a_failing_pull_keeps_the_cursor_and_shows_in_health(shop: TenantCtx, fake: FakeShopify) -> None:
    fake.seed_fixture()
    fake.fail(500, times=10)
    result = cs.pull_orders(sync_for(shop), "shop")
    assert result.pages == 0 and result.errors
    with shop.uow(write=False) as uow:
        [health] = [h for h in cs.health(uow) if h["channel"] == "shop"]
    assert health["orders"]["failures"] == 1 and "500" in health["orders"]["last_error"]
    assert health["orders"]["last_success_at"] is None
    assert orders_of(shop) == []


def test_a_cancellation_on_the_channel_cancels_ours(shop: TenantCtx) -> None:
    sync = sync_for(shop)
    cs.receive_webhook(sync, shop.code, "shop", webhook_headers(), fixture_bytes("shopify_orders_create.json"))
    cancelled = order_variant(
        fixture_json("shopify_orders_create.json"), cancelled_at="2025-01-15T16:00:00+05:30", cancel_reason="customer"
    )
    body = json.dumps(cancelled).encode()
    headers = {**webhook_headers(), "X-Shopify-Topic": "orders/cancelled", "X-Shopify-Hmac-Sha256": _sign(body)}
    got = cs.receive_webhook(sync, shop.code, "shop", headers, body)
    assert got.processed, got.error
    [order] = orders_of(shop)
    assert order.status == "cancelled"


def test_a_deleted_order_is_cancelled_if_we_still_hold_it_and_otherwise_left_alone(shop: TenantCtx) -> None:
    sync = sync_for(shop)

    def delete(order_id: str) -> cs.Received:
        body = json.dumps({"id": int(order_id)}).encode()
        headers = {**webhook_headers(), "X-Shopify-Topic": "orders/delete", "X-Shopify-Hmac-Sha256": _sign(body),
                   "X-Shopify-Webhook-Id": f"delete-{order_id}"}  # fmt: skip
        return cs.receive_webhook(sync, shop.code, "shop", headers, body)

    never_seen = delete("5899999999999")  # an order we never took: nothing to do, nothing failed
    assert never_seen.processed and orders_of(shop) == []
    cs.receive_webhook(sync, shop.code, "shop", webhook_headers(), fixture_bytes("shopify_orders_create.json"))
    got = delete(ORDER_ID)
    assert got.processed, got.error
    [order] = orders_of(shop)
    assert order.status == "cancelled"
    with shop.uow(write=False) as uow:
        items = {i.id: i for i in cs.inbox(uow, channel="shop", state=None)}
        assert items[got.item_id or 0].result["cancelled"] == [ORDER_ID]
        assert items[never_seen.item_id or 0].result["waiting"] == ["5899999999999"]
        reason = uow.conn.execute(
            text("SELECT message FROM order_events WHERE tenant_id = :t AND order_id = :o AND kind LIKE '%cancel%'"),
            {"t": shop.id, "o": order.id},
        ).scalars()
        assert any("deleted on" in m for m in reason)
    assert inbox_states(shop).count("failed") == 0


def _listing(t: TenantCtx, variant: str, sku: str) -> None:
    with t.uow() as uow:
        cs.put_listing(uow, "shop", {"listing_id": variant, "sku": sku,
                                     "attributes": {"inventory_item_id": inventory_item_of(variant)}})  # fmt: skip


def test_stock_changes_are_pushed_once_with_the_channel_rule(shop: TenantCtx, fake: FakeShopify) -> None:
    with shop.uow() as uow:
        channels.update_channel(uow, "shop", {"inventory": {"buffer": 2, "percent": 50}})
    _listing(shop, "44012345678901", KURTA)
    _listing(shop, "44012345678902", SPEAKER)
    fake.stock(inventory_item_of("44012345678901"), available=0)
    fake.stock(inventory_item_of("44012345678902"), available=0)
    sync = sync_for(shop)
    result = cs.push_inventory(sync, "shop")
    assert (result.pushed, result.failed) == (2, 0), result.errors
    assert fake.available(inventory_item_of("44012345678901")) == (10 - 2) * 50 // 100
    assert fake.available(inventory_item_of("44012345678902")) == (4 - 2) * 50 // 100
    assert cs.push_inventory(sync, "shop").pushed == 0  # nothing changed since

    receive(shop, KURTA, "BLR", 6)  # the worker marks the kurta's listing; only it is pushed
    with shop.uow() as uow:
        cs.mark_dirty_for_skus(uow, [KURTA])
        uow.commit()
    again = cs.push_inventory(sync, "shop")
    assert again.pushed == 1
    assert fake.available(inventory_item_of("44012345678901")) == (16 - 2) * 50 // 100
    with shop.uow(write=False) as uow:
        [view] = [v for v in cs.list_listings(uow, "shop") if v.listing.listing_id == "44012345678901"]
    assert view.as_dict()["explanation"] == "16 available at 1 location(s) − buffer 2 = 14; 50% of 14 = 7"
    assert view.listing.pushed_quantity == 7


def test_reconciliation_finds_and_corrects_drift(shop: TenantCtx, fake: FakeShopify) -> None:
    _listing(shop, "44012345678901", KURTA)
    fake.stock(inventory_item_of("44012345678901"), available=0)
    sync = sync_for(shop)
    cs.push_inventory(sync, "shop")
    fake.stock(inventory_item_of("44012345678901"), available=3)  # someone edited it on Shopify
    report = cs.reconcile(sync, "shop")
    assert report.checked == 1 and report.corrected == 1
    assert report.drift == [{"listing_id": "44012345678901", "sku": KURTA, "channel": 3, "ours": 10}]
    assert fake.available(inventory_item_of("44012345678901")) == 10
    assert cs.reconcile(sync, "shop").drift == []


def test_a_cancelled_order_is_told_to_the_channel(shop: TenantCtx, fake: FakeShopify) -> None:
    fake.seed_fixture()
    sync = sync_for(shop)
    cs.receive_webhook(sync, shop.code, "shop", webhook_headers(), fixture_bytes("shopify_orders_create.json"))
    [order] = orders_of(shop)
    with shop.uow() as uow:
        order_actions.cancel_order(uow, order.id, reason="buyer called to cancel")
    assert cs.push_status(sync, order.id, "cancelled", "allocated") == "cancelled"
    assert len(fake.cancellations) == 1
    with shop.uow(write=False) as uow:
        record = uow.channels.get("shop")
        assert record is not None
        [push] = cs.repo(uow).pushes(record.id, kind="status")
    assert push.ok and push.status == "cancelled" and push.key == ORDER_ID


def test_credentials_are_sealed_at_rest(shop: TenantCtx) -> None:
    with shop.uow(write=False) as uow:
        stored = uow.conn.execute(
            text("SELECT credentials FROM channels WHERE tenant_id = :t AND code = 'shop'"), {"t": shop.id}
        ).scalar()
        record = uow.channels.get("shop")
    assert stored and ACCESS_TOKEN not in stored and WEBHOOK_SECRET not in stored
    assert record is not None and "credentials" not in record.spec.as_dict()
    assert shop.container.connections.vault.open(stored)["access_token"] == ACCESS_TOKEN


def _sign(body: bytes) -> str:
    import base64
    import hashlib
    import hmac

    return base64.b64encode(hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()).decode()
