"""The channel webhook intake's group commit (services.channel_sync.WebhookIntake, on both
databases): a batch of deliveries ends exactly as the same deliveries taken one at a time would,
whatever is not the plain case of one new order goes the one-at-a-time way, concurrent batches of
two processes never oversell or take an order twice, and a failing batch loses nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from ordermesh.adapters.channels.connections import Connections
from ordermesh.domain.errors import Unauthorized
from ordermesh.services import channel_sync as cs
from ordermesh.services import orders as orders_service
from ordermesh.services.group_commit import Waiting
from ordermesh.services.inventory import StockLine, reserve_many_in_transaction
from tests.conftest import TenantCtx, new_tenant
from tests.factories import make_location, make_sku, receive
from tests.fakes.shopify import (
    ACCESS_TOKEN,
    WEBHOOK_SECRET,
    FakeShopify,
    fixture_json,
    order_variant,
    webhook_headers,
)
from tests.integration.channels.sync_helpers import shopify_shop

KURTA, SPEAKER = "KRT-COT-BLU-M", "SPK-BT-10W-BLK"
Delivery = tuple[dict[str, str], bytes]


@pytest.fixture
def fake() -> Iterator[FakeShopify]:
    with FakeShopify() as server:
        yield server


@pytest.fixture
def connections() -> Iterator[list[Connections]]:
    made: list[Connections] = []
    yield made
    for c in made:
        c.close()


def shop(t: TenantCtx, fake: FakeShopify, *, speakers: int = 4) -> TenantCtx:
    return shopify_shop(t, fake.url, speakers=speakers)


def delivery(order_id: int, phone: str, lines: list[tuple[str, int]], *, sign: bool = True) -> Delivery:
    """An orders/create webhook for a new order: its buyer's phone and (SKU, quantity) lines."""
    rest = order_variant(fixture_json("shopify_orders_create.json"), id=order_id)
    template = rest["line_items"][0]
    rest["line_items"] = [
        {**template, "id": order_id * 10 + k, "sku": sku, "variant_id": 9_000 + k, "quantity": qty,
         "fulfillable_quantity": qty}
        for k, (sku, qty) in enumerate(lines)
    ]  # fmt: skip
    rest["phone"] = rest["customer"]["phone"] = rest["shipping_address"]["phone"] = phone
    body = json.dumps(rest).encode()
    secret = WEBHOOK_SECRET.encode() if sign else b"not the secret"
    digest = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()
    return {**webhook_headers(), "X-Shopify-Hmac-Sha256": digest}, body


def sync_of(t: TenantCtx, made: list[Connections]) -> cs.Sync:
    quick = Connections(lambda: t.container.connections.vault, sleep=lambda s: None)
    made.append(quick)
    return cs.Sync(t.container.uow, quick, t.id)


def one_at_a_time(t: TenantCtx, sync: cs.Sync, deliveries: list[Delivery]) -> list[Any]:
    answers: list[Any] = []
    for headers, body in deliveries:
        try:
            answers.append(cs.receive_webhook(sync, t.code, "shop", headers, body))
        except Unauthorized as e:
            answers.append(e)
    return answers


def in_one_batch(
    t: TenantCtx, sync: cs.Sync, deliveries: list[Delivery], *, queued: bool = False
) -> tuple[list[Any], list[Any]]:
    """The deliveries as one batch of the intake (``queued``: the intake that only stores them,
    ORDERMESH_WEBHOOKS_INLINE=false), each then settled as the API settles it. Returns what the
    batch answered and the final answers."""
    intake = cs.WebhookIntake(t.container.uow, sync.connections, queued=queued)
    waiting: list[Waiting[cs.Delivery, cs.Intake]] = [
        Waiting(cs.Delivery(t.code, "shop", headers, body)) for headers, body in deliveries
    ]
    intake.take(waiting)
    first = [w.done.result() for w in waiting]
    answers: list[Any] = []
    for got, (headers, body) in zip(first, deliveries, strict=True):
        try:
            answers.append(cs.WebhookIntake.settle(got, sync, t.code, "shop", headers, body))
        except Unauthorized as e:
            answers.append(e)
    return first, answers


def outcome(t: TenantCtx) -> dict[str, Any]:
    """Everything the deliveries changed, with the tenant's own ids taken out."""
    q = {"t": t.id}
    with t.uow(write=False) as uow:
        c = uow.conn

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in c.execute(text(sql), q)]

        ext = dict(rows("SELECT id, external_id FROM orders WHERE tenant_id = :t"))

        def named(value: Any) -> str:
            return re.sub(r"order:(\d+)", lambda m: f"order:{ext.get(int(m.group(1)), '?')}", str(value))

        return {
            "orders": sorted(
                rows(
                    "SELECT external_id, status, confirmed, payment_method, grand_total, tax_total, risk_score, "
                    "CAST(holds AS TEXT), CAST(routing AS TEXT), CAST(customer AS TEXT), CAST(channel_data AS TEXT), "
                    "dispatch_by, version FROM orders WHERE tenant_id = :t"
                )
            ),
            "lines": sorted(
                (ext[r[0]], *r[1:])
                for r in rows(
                    "SELECT order_id, line_no, sku_code, quantity, allocated, tax FROM order_lines WHERE tenant_id = :t"
                )
            ),
            "allocations": sorted(
                (ext[r[0]], *r[1:])
                for r in rows(
                    "SELECT a.order_id, l.line_no, a.quantity FROM order_allocations a "
                    "JOIN order_lines l ON l.id = a.line_id WHERE a.tenant_id = :t"
                )
            ),
            "timelines": sorted(
                (ext[r[0]], r[1], r[2], r[3])
                for r in rows("SELECT order_id, kind, message, actor FROM order_events WHERE tenant_id = :t")
            ),
            "balances": sorted(
                rows(
                    "SELECT s.code, b.on_hand, b.reserved FROM stock_balances b JOIN skus s ON s.id = b.sku_id "
                    "WHERE b.tenant_id = :t"
                )
            ),
            "movements": Counter(
                (named(r[0]), r[1], r[2], r[3])
                for r in rows(
                    "SELECT m.reference, s.code, m.kind, m.quantity FROM stock_movements m "
                    "JOIN skus s ON s.id = m.sku_id WHERE m.tenant_id = :t"
                )
            ),
            "audit": Counter(
                (r[0], r[1], r[2])
                for r in rows("SELECT action, entity_type, actor FROM audit_log WHERE tenant_id = :t")
            ),
            "stock audit": sorted(
                (r[0], named(r[1]), str(r[2]), str(r[3]))
                for r in rows(
                    "SELECT action, entity_key, CAST(before AS TEXT), CAST(after AS TEXT) FROM audit_log "
                    "WHERE tenant_id = :t AND entity_type = 'stock'"
                )
            ),
            "outbox": Counter(r[0] for r in rows("SELECT topic FROM outbox WHERE tenant_id = :t")),
            "inbox": sorted(
                (r[0], r[1], json.dumps(r[2], sort_keys=True) if isinstance(r[2], dict) else r[2])
                for r in rows("SELECT state, attempts, result FROM channel_inbox WHERE tenant_id = :t")
            ),
            "customers": sorted(rows("SELECT name, phone, email FROM customers WHERE tenant_id = :t")),
        }


def same_outcome(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Every part of :func:`outcome` as one at a time; of the stock audit, which reservations were
    made (the balances before and after each may differ where the order of orders did)."""
    for part in want:
        if part != "stock audit":
            assert got[part] == want[part], part
    assert [a[:2] for a in got["stock audit"]] == [a[:2] for a in want["stock audit"]]


def spy_reservations(monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], list[bool]]:
    """Every one-statement reservation for several orders from now on: how many orders each
    carried, and whether it was taken."""
    sizes: list[int] = []
    taken: list[bool] = []
    real = orders_service.reserve_many_in_transaction

    def spy(uow: Any, requests: Any) -> bool:
        sizes.append(len(requests))
        taken.append(real(uow, requests))
        return taken[-1]

    monkeypatch.setattr(orders_service, "reserve_many_in_transaction", spy)
    return sizes, taken


def mixed_deliveries() -> list[Delivery]:
    a = delivery(7001, "+919800000001", [(KURTA, 2), (SPEAKER, 1)])
    return [
        a,
        delivery(7002, "+919800000002", [(SPEAKER, 3)]),  # takes the last speakers …
        delivery(7003, "+919800000003", [(SPEAKER, 1)]),  # … so this one waits for stock
        delivery(7004, "+919800000001", [(KURTA, 1)]),  # the first buyer again: one at a time
        delivery(7005, "+919800000005", [("NOT-IN-CATALOG", 1)]),  # held as unmapped
        a,  # the same delivery again
        delivery(7006, "+919800000006", [(KURTA, 1)], sign=False),  # refused, kept as rejected
        delivery(7007, "+919800000007", [(KURTA, 3)]),
    ]


def test_a_batch_ends_as_the_same_deliveries_one_at_a_time(
    container: Any, fake: FakeShopify, connections: list[Connections]
) -> None:
    alone, batched = shop(new_tenant(container), fake), shop(new_tenant(container), fake)
    deliveries = mixed_deliveries()
    expected = one_at_a_time(alone, sync_of(alone, connections), deliveries)
    first, answers = in_one_batch(batched, sync_of(batched, connections), deliveries)

    # The plain new orders were done by the batch itself; the rest went the one-at-a-time way.
    taken = [isinstance(got, cs.Received) and got.processed for got in first]
    assert taken == [True, True, True, False, True, False, False, True]
    assert first[5] is None and first[6] is None  # the repeat within the batch, the refused one
    assert isinstance(first[3], cs.Claimed)  # stored by the batch, its order applied after it

    def shape(answer: Any) -> Any:
        return type(answer).__name__ if isinstance(answer, Exception) else (answer.item_id is None, answer.processed)

    assert [shape(a) for a in answers] == [shape(e) for e in expected]
    got, want = outcome(batched), outcome(alone)
    # 7004 went after the whole batch (its buyer repeats), 7007 before it: the balances each saw
    # before reserving differ, what each reserved does not.
    same_outcome(got, want)
    statuses = {r[0]: r[1] for r in got["orders"]}
    assert statuses == {"7001": "allocated", "7002": "allocated", "7003": "on_hold", "7004": "allocated",
                        "7005": "on_hold", "7007": "allocated"}  # fmt: skip


def test_orders_racing_in_two_processes_batches_never_oversell_nor_repeat(
    container: Any, fake: FakeShopify, connections: list[Connections]
) -> None:
    """Two intakes (two API processes) and a request thread per buyer, every order wanting the
    same few speakers: each order exists once, each body is stored and processed once, and no
    more speakers are promised than there were."""
    t = shop(new_tenant(container), fake, speakers=12)
    sync = sync_of(t, connections)
    intakes = [cs.WebhookIntake(t.container.uow, sync.connections) for _ in range(2)]
    deliveries = [delivery(8000 + n, f"+9198100{n:05d}", [(SPEAKER, 1), (KURTA, n % 2)] if n % 2 else [(SPEAKER, 1)])
                  for n in range(30)]  # fmt: skip
    errors: list[BaseException] = []

    def request(n: int) -> None:
        headers, body = deliveries[n]
        try:
            for _ in range(2):  # each delivered twice, through either process
                intake = intakes[n % 2]
                got = intake.submit(t.code, "shop", headers, body).result(timeout=60)
                cs.WebhookIntake.settle(got, sync, t.code, "shop", headers, body)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=request, args=(n,)) for n in range(len(deliveries))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for intake in intakes:
        intake.close()
    assert not errors, errors[0]
    seen = outcome(t)
    assert sorted(r[0] for r in seen["orders"]) == [str(8000 + n) for n in range(30)]
    assert [r[0] for r in seen["inbox"]] == ["processed"] * 30
    allocated = sum(1 for r in seen["orders"] if r[1] == "allocated")
    assert allocated == 12
    balances = {r[0]: (r[1], r[2]) for r in seen["balances"]}
    assert balances[SPEAKER] == (12, 12)
    promised = sum(r[4] for r in seen["lines"] if r[2] == SPEAKER)
    assert promised == 12


def failing_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every batch writes all it would, then its transaction fails; the sizes of the batches tried."""
    real = orders_service.ingest_batch
    calls: list[int] = []

    def failing(uow: Any, batch: Any) -> Any:
        calls.append(len(batch))
        real(uow, batch)  # everything written …
        raise RuntimeError("the database went away")  # … then the transaction fails

    monkeypatch.setattr(orders_service, "ingest_batch", failing)
    return calls


def test_a_failing_batch_leaves_every_delivery_to_the_one_at_a_time_path(
    container: Any, fake: FakeShopify, connections: list[Connections], monkeypatch: pytest.MonkeyPatch
) -> None:
    t = shop(new_tenant(container), fake)
    sync = sync_of(t, connections)
    calls = failing_batches(monkeypatch)
    deliveries = [delivery(9000 + n, f"+9198200{n:05d}", [(KURTA, 1)]) for n in range(3)]
    first, answers = in_one_batch(t, sync, deliveries)
    assert calls == [3]
    assert first == [None, None, None]  # nothing of the batch kept: each goes the usual way
    assert all(a.processed and a.item_id is not None for a in answers)
    seen = outcome(t)
    assert [r[0] for r in seen["orders"]] == ["9000", "9001", "9002"]
    assert [r[0] for r in seen["inbox"]] == ["processed"] * 3
    assert {r[0]: (r[1], r[2]) for r in seen["balances"]}[KURTA] == (10, 3)


def test_a_body_stored_before_without_its_order_keeps_the_batch_from_making_it(
    container: Any, fake: FakeShopify, connections: list[Connections]
) -> None:
    """The same bytes again after their first delivery failed: the order stays with that item
    (retried there), not made by the batch under a delivery answered as a repeat."""
    t = shop(new_tenant(container), fake)
    sync = sync_of(t, connections)
    headers, body = delivery(9100, "+919830000001", [(KURTA, 1)])
    with t.uow() as uow:
        record = uow.channels.get("shop")
        assert record is not None
        failed = cs.repo(uow).store(record.id, "webhook", "orders/create", "sha256:" + hashlib.sha256(body).hexdigest(),
                                    {}, body, uow.now, state="failed", error="it failed")  # fmt: skip
        uow.commit()
    other = delivery(9101, "+919830000002", [(KURTA, 1)])
    first, answers = in_one_batch(t, sync, [(headers, body), other])
    assert first == [None, None]  # the whole batch went the one-at-a-time way
    assert (answers[0].item_id, answers[0].processed) == (None, False)  # the repeat, as ever
    assert answers[1].processed
    seen = outcome(t)
    assert [r[0] for r in seen["orders"]] == ["9101"]
    assert sorted(r[0] for r in seen["inbox"]) == ["failed", "processed"]
    assert failed is not None


def signed_with(secret: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {**headers, "X-Shopify-Hmac-Sha256": digest}


def test_a_webhook_checked_ahead_with_an_old_secret_is_checked_again_with_the_new(
    container: Any, fake: FakeShopify, connections: list[Connections]
) -> None:
    """Requests check signatures ahead of the writer with the channel as the writer last read
    it; once the secret changes, what the writer reads decides: the new secret is taken, the old
    one refused."""
    t = shop(new_tenant(container), fake)
    sync = sync_of(t, connections)
    intake = cs.WebhookIntake(t.container.uow, sync.connections)

    def deliver(headers: dict[str, str], body: bytes) -> Any:
        got = intake.submit(t.code, "shop", headers, body).result(timeout=30)
        try:
            return cs.WebhookIntake.settle(got, sync, t.code, "shop", headers, body)
        except Unauthorized as e:
            return e

    first = deliver(*delivery(9200, "+919840000001", [(KURTA, 1)]))
    assert first.processed
    ahead = intake.submit(t.code, "shop", *delivery(9201, "+919840000002", [(KURTA, 1)]))
    ahead.result(timeout=30)
    with t.uow() as uow:
        cs.set_credentials(uow, sync.connections, "shop", {"access_token": ACCESS_TOKEN, "webhook_secret": "new-one"})
    # Checked ahead with the old secret (the writer has not read the channel since): refused all
    # the same, as the writer reads the new one.
    headers, body = delivery(9203, "+919840000004", [(KURTA, 1)])
    old = deliver(signed_with(WEBHOOK_SECRET, headers, body), body)
    assert isinstance(old, Unauthorized)
    headers, body = delivery(9202, "+919840000003", [(KURTA, 1)])
    new = deliver(signed_with("new-one", headers, body), body)
    assert isinstance(new, cs.Received) and new.processed
    intake.close()
    assert sorted(r[0] for r in outcome(t)["orders"]) == ["9200", "9201", "9202"]


def test_orders_reserving_at_different_places_reserve_in_one_statement_as_one_at_a_time(
    container: Any, fake: FakeShopify, connections: list[Connections], monkeypatch: pytest.MonkeyPatch
) -> None:
    tenants = []
    for _ in range(2):
        t = shop(new_tenant(container), fake)
        for code, units in (("TOTE-JUTE-L", 5), ("MUG-CER-350", 2)):
            make_sku(t, code, mrp="2999.00")
            receive(t, code, "BLR", units)
        tenants.append(t)
    alone, batched = tenants
    deliveries = [
        delivery(9300, "+919850000001", [(KURTA, 2), ("TOTE-JUTE-L", 1)]),
        delivery(9301, "+919850000002", [(SPEAKER, 4)]),  # every speaker: low stock, an alert
        delivery(9302, "+919850000003", [("MUG-CER-350", 2)]),
    ]
    _, together = spy_reservations(monkeypatch)
    one_at_a_time(alone, sync_of(alone, connections), deliveries)
    assert together == []  # one order at a time never reserves several
    first, _ = in_one_batch(batched, sync_of(batched, connections), deliveries)
    assert together == [True], first
    assert all(isinstance(got, cs.Received) and got.processed for got in first)
    got, want = outcome(batched), outcome(alone)
    for part in want:
        assert got[part] == want[part], part
    assert {r[0]: r[1] for r in got["orders"]} == {"9300": "allocated", "9301": "allocated", "9302": "allocated"}


def test_reservations_in_one_statement_are_all_or_nothing(tenant: TenantCtx) -> None:
    make_location(tenant, "BLR", "KA")
    for code in ("A-1", "B-1"):
        make_sku(tenant, code, mrp="100.00")
        receive(tenant, code, "BLR", 3)
    with tenant.uow() as uow:
        # One of them lacks stock: nothing is written, for either.
        assert not reserve_many_in_transaction(
            uow, [("order:1", [StockLine("A-1", "BLR", 2)]), ("order:2", [StockLine("B-1", "BLR", 4)])]
        )
        # Two at one place that together want more than there is, though each alone fits: nothing.
        assert not reserve_many_in_transaction(
            uow, [("order:1", [StockLine("A-1", "BLR", 2)]), ("order:2", [StockLine("A-1", "BLR", 2)])]
        )
        assert reserve_many_in_transaction(
            uow,
            [
                ("order:1", [StockLine("A-1", "BLR", 2)]),
                ("order:2", [StockLine("B-1", "BLR", 1)]),
                ("order:3", [StockLine("A-1", "BLR", 1)]),
            ],
        )
        uow.commit()
    with tenant.uow(write=False) as uow:
        balances = {
            r[0]: (r[1], r[2])
            for r in uow.conn.execute(
                text(
                    "SELECT s.code, b.on_hand, b.reserved FROM stock_balances b JOIN skus s ON s.id = b.sku_id "
                    "WHERE b.tenant_id = :t"
                ),
                {"t": tenant.id},
            )
        }
        moves = sorted(
            tuple(r)
            for r in uow.conn.execute(
                text("SELECT reference, quantity FROM stock_movements WHERE tenant_id = :t AND kind = 'reservation'"),
                {"t": tenant.id},
            )
        )
    assert balances == {"A-1": (3, 3), "B-1": (3, 1)}
    assert moves == [("order:1", 2), ("order:2", 1), ("order:3", 1)]


def test_only_reservations_may_share_a_balance_in_one_statement(tenant: TenantCtx) -> None:
    """Moves summed into one change of a balance are checked after the sum: sound only for moves
    that only add to what is reserved, so any other kind sharing a balance is refused outright."""
    from ordermesh.adapters.db.stock import GuardedMove
    from ordermesh.domain.inventory import Delta, Guard

    make_location(tenant, "BLR", "KA")
    make_sku(tenant, "A-1", mrp="100.00")
    receive(tenant, "A-1", "BLR", 3)
    with tenant.uow() as uow:
        loc = uow.locations.ids_for(["BLR"])["BLR"]
        receipt = GuardedMove("A-1", None, loc, "receipt", 1, Delta(on_hand=1), Guard.NON_NEGATIVE, None, "r")
        with pytest.raises(ValueError, match="only add to what is reserved"):
            uow.stock.apply_all([receipt, receipt], uow.actor.ref, uow.now)
