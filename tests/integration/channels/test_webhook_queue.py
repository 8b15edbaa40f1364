"""Queued channel webhooks (ORDERMESH_WEBHOOKS_INLINE=false), on both databases: the API's
intake stores every signed body of a batch in one statement and answers; the workers' drain
(services.channel_sync.drain_webhooks) makes the orders in batches. Drained, deliveries end
exactly as the same deliveries processed one at a time; what is not one new order is processed
one at a time with its error kept; two drains at once take each body once and never oversell;
a failing batch and a process that died mid-item lose nothing."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest

from ordermesh.adapters.channels.connections import Connections
from ordermesh.domain.errors import Unauthorized
from ordermesh.services import channel_sync as cs
from ordermesh.services import orders as orders_service
from tests.conftest import TenantCtx, new_tenant
from tests.factories import make_sku, receive
from tests.fakes.shopify import WEBHOOK_SECRET, FakeShopify, fixture_json, order_variant, webhook_headers
from tests.integration.channels import test_webhook_intake as _intake_tests
from tests.integration.channels.test_webhook_intake import (
    KURTA,
    SPEAKER,
    Delivery,
    delivery,
    failing_batches,
    in_one_batch,
    mixed_deliveries,
    one_at_a_time,
    outcome,
    same_outcome,
    shop,
    signed_with,
    spy_reservations,
    sync_of,
)

fake, connections = _intake_tests.fake, _intake_tests.connections  # the fixtures, shared


def queued_sync(t: TenantCtx, made: list[Connections]) -> cs.Sync:
    s = sync_of(t, made)
    return cs.Sync(s.uow, s.connections, s.tenant_id, s.lease, inline=False)


def queue_in_one_batch(t: TenantCtx, sync: cs.Sync, deliveries: list[Delivery]) -> tuple[list[Any], list[Any]]:
    return in_one_batch(t, sync, deliveries, queued=True)


def states(t: TenantCtx) -> list[str]:
    return sorted(r[0] for r in outcome(t)["inbox"])


def test_queued_deliveries_drained_end_as_the_same_deliveries_one_at_a_time(
    container: Any, fake: FakeShopify, connections: list[Connections], monkeypatch: pytest.MonkeyPatch
) -> None:
    alone, queued = shop(new_tenant(container), fake), shop(new_tenant(container), fake)
    deliveries = mixed_deliveries()
    expected = one_at_a_time(alone, sync_of(alone, connections), deliveries)
    sync = queued_sync(queued, connections)
    first, answers = queue_in_one_batch(queued, sync, deliveries)

    # Stored, not processed: every signed body once, in one statement; the repeat within the
    # batch and the refused one go the one-at-a-time way (a duplicate; a 401, kept as rejected).
    assert [isinstance(got, cs.Received) and got.item_id is not None for got in first] == [
        True, True, True, True, True, False, False, True,
    ]  # fmt: skip
    assert not any(isinstance(got, cs.Received) and got.processed for got in first)
    assert first[5] is None and first[6] is None
    assert (answers[5].item_id, answers[5].processed) == (None, False)
    assert isinstance(answers[6], Unauthorized) and isinstance(expected[6], Unauthorized)
    assert states(queued) == ["received"] * 6 + ["rejected"]
    assert outcome(queued)["orders"] == []

    _, together = spy_reservations(monkeypatch)
    assert cs.drain_webhooks(sync) == 6
    # One statement for 7001, 7002 and 7007, though 7001 and 7002 both reserve speakers at BLR
    # (7003 waits for stock; 7004 went alone, its buyer repeating).
    assert together == [True]
    same_outcome(outcome(queued), outcome(alone))
    assert cs.drain_webhooks(sync) == 0


def test_what_is_not_one_new_order_is_drained_one_at_a_time_with_its_error_kept(
    container: Any, fake: FakeShopify, connections: list[Connections]
) -> None:
    t = shop(new_tenant(container), fake)
    sync = queued_sync(t, connections)
    made = delivery(9400, "+919860000001", [(KURTA, 2)])
    queue_in_one_batch(t, sync, [made])
    assert cs.drain_webhooks(sync) == 1
    # Then: that order cancelled, a body that does not read as an order, and a new order.
    cancelled = order_variant(fixture_json("shopify_orders_create.json"), id=9400, cancelled_at="2026-11-27T10:00:00Z",
                              cancel_reason="customer")  # fmt: skip
    body = json.dumps(cancelled).encode()
    cancel = (signed_with(WEBHOOK_SECRET, {**webhook_headers(), "X-Shopify-Topic": "orders/cancelled"}, body), body)
    junk = b'{"id": "not an order"'
    unreadable = (signed_with(WEBHOOK_SECRET, webhook_headers(), junk), junk)
    fresh = delivery(9401, "+919860000002", [(SPEAKER, 1)])
    first, _ = queue_in_one_batch(t, sync, [cancel, unreadable, fresh])
    assert all(isinstance(got, cs.Received) and got.item_id is not None for got in first)
    assert cs.drain_webhooks(sync) == 3
    seen = outcome(t)
    assert {r[0]: r[1] for r in seen["orders"]} == {"9400": "cancelled", "9401": "allocated"}
    with t.uow(write=False) as uow:
        items = {i.dedupe_key: i for i in cs.repo(uow).inbox(limit=10)}
    cancel_item = items[cs._digest(cancel[1])]
    assert (cancel_item.state, cancel_item.result["cancelled"]) == ("processed", ["9400"])
    bad = items[cs._digest(junk)]
    assert bad.state == "failed" and bad.error and "cannot read the webhook body" in bad.error
    assert items[cs._digest(fresh[1])].result["created"] == ["9401"]
    assert {r[0]: (r[1], r[2]) for r in seen["balances"]}[KURTA] == (10, 0)  # the cancellation freed it


def test_a_body_a_dead_process_left_processing_is_taken_again_once_its_lease_is_out(
    container: Any, fake: FakeShopify, connections: list[Connections]
) -> None:
    t = shop(new_tenant(container), fake)
    sync = queued_sync(t, connections)
    headers, body = delivery(9500, "+919870000001", [(KURTA, 1)])
    with t.uow() as uow:
        record = uow.channels.get("shop")
        assert record is not None
        cs.repo(uow).store(record.id, "webhook", "orders/create", cs._digest(body), headers, body,
                           uow.now - timedelta(minutes=10), state="processing")  # fmt: skip
        uow.commit()
    short = cs.Sync(sync.uow, sync.connections, sync.tenant_id, timedelta(hours=1), inline=False)
    assert cs.drain_webhooks(short) == 0  # its lease is not out yet: another process may hold it
    assert cs.drain_webhooks(sync) == 1
    assert [r[0] for r in outcome(t)["orders"]] == ["9500"]
    assert states(t) == ["processed"]


def test_two_drains_at_once_take_each_body_once_and_never_oversell(
    container: Any, fake: FakeShopify, connections: list[Connections]
) -> None:
    """Two workers draining side by side, small batches, every order wanting the same few
    speakers: each order exists once, each body is processed once, no more speakers promised
    than there were."""
    t = shop(new_tenant(container), fake, speakers=12)
    sync = queued_sync(t, connections)
    deliveries = [delivery(9600 + n, f"+9198800{n:05d}", [(SPEAKER, 1), (KURTA, n % 2)] if n % 2 else [(SPEAKER, 1)])
                  for n in range(40)]  # fmt: skip
    queue_in_one_batch(t, sync, deliveries)
    errors: list[BaseException] = []
    taken: list[int] = []
    start = threading.Barrier(2)

    def drain() -> None:
        try:
            start.wait()
            taken.append(cs.drain_webhooks(sync, batch=7))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[0]
    assert cs.drain_webhooks(sync) == 0
    seen = outcome(t)
    assert sorted(r[0] for r in seen["orders"]) == [str(9600 + n) for n in range(40)]
    assert [r[0] for r in seen["inbox"]] == ["processed"] * 40
    assert sum(1 for r in seen["orders"] if r[1] == "allocated") == 12
    assert {r[0]: (r[1], r[2]) for r in seen["balances"]}[SPEAKER] == (12, 12)
    assert sum(r[4] for r in seen["lines"] if r[2] == SPEAKER) == 12
    assert sum(taken) >= 40  # (a body left to go alone may be counted by both)


def test_a_failing_drain_batch_goes_one_at_a_time_and_loses_nothing(
    container: Any, fake: FakeShopify, connections: list[Connections], monkeypatch: pytest.MonkeyPatch
) -> None:
    t = shop(new_tenant(container), fake)
    sync = queued_sync(t, connections)
    queue_in_one_batch(t, sync, [delivery(9700 + n, f"+9198900{n:05d}", [(KURTA, 1)]) for n in range(3)])
    calls = failing_batches(monkeypatch)
    assert cs.drain_webhooks(sync) == 3
    assert calls == [3]
    seen = outcome(t)
    assert [r[0] for r in seen["orders"]] == ["9700", "9701", "9702"]
    assert [r[0] for r in seen["inbox"]] == ["processed"] * 3
    assert {r[0]: (r[1], r[2]) for r in seen["balances"]}[KURTA] == (10, 3)


def test_orders_reserving_at_one_place_reserve_in_one_statement_as_one_at_a_time(
    container: Any, fake: FakeShopify, connections: list[Connections], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Orders of a batch wanting the same SKU at the same place reserve in one statement, each
    taking its turn: the same orders, lines, allocations, ledger rows, balances and each order's
    stock audit (the balance before and after its own reservation) as one at a time."""
    alone, queued = _mugs(container, fake)
    calls, _ = spy_reservations(monkeypatch)
    one_at_a_time(alone, sync_of(alone, connections), MUG_ORDERS)
    sync = queued_sync(queued, connections)
    queue_in_one_batch(queued, sync, MUG_ORDERS)
    assert cs.drain_webhooks(sync) == 5
    assert calls == [4]  # 9804 finds no mug left and waits
    got, want = outcome(queued), outcome(alone)
    _same(got, want)
    assert got["stock audit"] == want["stock audit"]  # each order's own before and after


def test_when_the_statement_is_refused_the_orders_reserve_one_at_a_time(
    container: Any, fake: FakeShopify, connections: list[Connections], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused (as when another process took the stock meanwhile: nothing written), the batch's
    orders reserve order by order, in order, with the same outcome."""
    alone, queued = _mugs(container, fake)
    calls: list[int] = []

    def refusing(uow: Any, requests: Any) -> bool:
        calls.append(len(requests))
        return False

    monkeypatch.setattr(orders_service, "reserve_many_in_transaction", refusing)
    one_at_a_time(alone, sync_of(alone, connections), MUG_ORDERS)
    sync = queued_sync(queued, connections)
    queue_in_one_batch(queued, sync, MUG_ORDERS)
    assert cs.drain_webhooks(sync) == 5
    assert calls == [4]
    _same(outcome(queued), outcome(alone))


MUG_ORDERS = [
    delivery(9800, "+919890000001", [("MUG-CER-350", 1)]),
    delivery(9801, "+919890000002", [("MUG-CER-350", 1), (KURTA, 1)]),
    delivery(9802, "+919890000003", [(KURTA, 2)]),
    delivery(9803, "+919890000004", [("MUG-CER-350", 1)]),
    delivery(9804, "+919890000005", [("MUG-CER-350", 1)]),
]


def _mugs(container: Any, fake: FakeShopify) -> list[TenantCtx]:
    tenants = []
    for _ in range(2):
        t = shop(new_tenant(container), fake)
        make_sku(t, "MUG-CER-350", mrp="2999.00")
        receive(t, "MUG-CER-350", "BLR", 3)
        tenants.append(t)
    return tenants


def _same(got: dict[str, Any], want: dict[str, Any]) -> None:
    same_outcome(got, want)
    assert {r[0]: r[1] for r in got["orders"]}["9804"] == "on_hold"
