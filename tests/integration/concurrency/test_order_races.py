"""Orders under real concurrency, on SQLite and PostgreSQL: the same order posted many times at
once is created once; many processes ordering one hot SKU allocate exactly its stock and hold the
rest as out of stock. Worker functions live at module level so spawned processes can import them."""

from __future__ import annotations

import multiprocessing
import queue
import threading
import traceback
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import text

from ordermesh.bootstrap import bootstrap
from ordermesh.config import Settings
from ordermesh.services import inventory, orders
from tests.conftest import TenantCtx
from tests.factories import balance, make_location, make_sku, receive

PROCESSES = 8
ORDERS_PER_PROCESS = 20


def order_body(external_id: str, sku: str = "HOT", phone: str = "9876543210") -> dict[str, Any]:
    return {
        "channel": "manual",
        "external_id": external_id,
        "placed_at": "2026-11-26T10:00:00+05:30",
        "customer": {"name": "Buyer", "phone": phone},
        "shipping_address": {
            "name": "Buyer",
            "line1": "Flat 4, Shanti Niwas",
            "line2": "Station Road",
            "city": "Mumbai",
            "state": "MH",
            "pincode": "400001",
        },
        "payment": {"method": "prepaid"},
        "lines": [{"sku": sku, "quantity": 1, "unit_price": "299"}],
    }


def test_fifty_concurrent_posts_of_one_order_create_it_once(db_url: str, tenant: TenantCtx) -> None:
    # given
    make_sku(tenant, "HOT")
    make_location(tenant, "BHW")
    receive(tenant, "HOT", "BHW", 10)
    start = threading.Barrier(50)
    results: list[Any] = []
    lock = threading.Lock()

    def post() -> None:
        start.wait()
        try:
            with tenant.uow() as uow:
                got = orders.ingest_order(uow, order_body("SAME-1"))
            outcome: Any = (got.order_id, got.created)
        except Exception as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        with lock:
            results.append(outcome)

    # when
    threads = [threading.Thread(target=post) for _ in range(50)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    # then
    assert all(isinstance(r, tuple) for r in results), [r for r in results if not isinstance(r, tuple)][:3]
    assert len({order_id for order_id, _ in results}) == 1
    assert sum(1 for _, created in results if created) == 1
    with tenant.uow(write=False) as uow:
        count = uow.conn.execute(
            text("SELECT COUNT(*) FROM orders WHERE tenant_id = :t"), {"t": tenant.id}
        ).scalar_one()
    assert count == 1
    assert balance(tenant, "HOT", "BHW").reserved == 1


def place_orders(url: str, tenant_id: int, worker: int) -> list[str]:
    container = bootstrap(Settings(database_url=url, pool_size=4))
    statuses = []
    for n in range(ORDERS_PER_PROCESS):
        try:
            with container.uow(tenant_id=tenant_id) as uow:
                got = orders.ingest_order(uow, order_body(f"P{worker}-{n}", phone=f"9{worker:02d}{n:07d}"))
            with container.uow(tenant_id=tenant_id, write=False) as uow:
                statuses.append(uow.orders.get(got.order_id).row.status)  # type: ignore[union-attr]
        except Exception as exc:
            statuses.append(f"{type(exc).__name__}: {exc}")
    container.close()
    return statuses


def process_main(results: Any, start: Any, url: str, tenant_id: int, worker: int) -> None:
    try:
        start.wait(timeout=60)
        results.put(place_orders(url, tenant_id, worker))
    except BaseException:
        results.put(["crashed: " + traceback.format_exc()])


def test_eight_processes_ordering_a_hot_sku_allocate_exactly_its_stock(db_url: str, tenant: TenantCtx) -> None:
    # given: 100 units and 8 x 20 = 160 one-unit orders about to race for them
    make_sku(tenant, "HOT")
    make_location(tenant, "BHW")
    receive(tenant, "HOT", "BHW", 100)
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    start = ctx.Barrier(PROCESSES)
    procs = [
        ctx.Process(target=process_main, args=(results, start, db_url, tenant.id, w), daemon=True)
        for w in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    statuses: list[str] = []
    try:
        for _ in procs:
            statuses += results.get(timeout=180)
    except queue.Empty:
        pytest.fail("an ordering process did not report within 180 s")
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
        results.close()
        results.join_thread()
    # then
    counts = Counter(statuses)
    assert counts == {"allocated": 100, "on_hold": 60}, counts
    final = balance(tenant, "HOT", "BHW")
    assert final.reserved == 100 and final.on_hand == 100 and final.available == 0
    with tenant.uow(write=False) as uow:
        assert inventory.check_ledger(uow) == []
        held = uow.conn.execute(
            text("SELECT holds FROM orders WHERE tenant_id = :t AND status = 'on_hold'"), {"t": tenant.id}
        ).all()
    assert len(held) == 60
