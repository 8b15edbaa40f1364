"""No overselling under real concurrency, on SQLite and PostgreSQL: several processes, each with
several threads, race to reserve the same stock through their own containers (as API processes
would), and the guarded UPDATE lets exactly as many succeed as there is stock.

The worker functions live at module level so that processes started with the 'spawn' context can
import them as ``tests.integration.concurrency.test_no_oversell``."""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from ordermesh.adapters.db import tables as t
from ordermesh.adapters.db.stock import StockRepository
from ordermesh.bootstrap import bootstrap
from ordermesh.config import Settings
from ordermesh.domain.errors import Conflict, InsufficientStock
from ordermesh.services import inventory
from ordermesh.services.inventory import StockLine
from tests.conftest import TenantCtx
from tests.factories import balance, make_bundle, make_location, make_sku, receive

PROCESSES = 4
THREADS = 8
ATTEMPTS = 5
MOV = t.StockMovement.__table__
SKUS = t.Sku.__table__


# --- what each process runs -------------------------------------------------------------------


def reserve_in_threads(url: str, tenant_id: int, worker: int, plan: list[str], location: str) -> list[tuple[str, str]]:
    """THREADS threads, started together, each making ATTEMPTS one-unit reservations; the SKU for
    thread i, attempt a is plan[(worker * THREADS + i + a) % len(plan)]. Returns (sku, outcome) pairs,
    outcome being 'ok', 'short' (InsufficientStock) or the text of any other error."""
    container = bootstrap(Settings(database_url=url, pool_size=10))
    start = threading.Barrier(THREADS)
    outcomes: list[tuple[str, str]] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        start.wait()
        for a in range(ATTEMPTS):
            sku = plan[(worker * THREADS + i + a) % len(plan)]
            try:
                with container.uow(tenant_id=tenant_id) as uow:
                    inventory.reserve_stock(uow, [StockLine(sku, location, 1)], reference=f"W{worker}-T{i}-A{a}")
                outcome = "ok"
            except InsufficientStock:
                outcome = "short"
            except Exception as exc:  # anything else is a failure the parent reports
                outcome = f"{type(exc).__name__}: {exc}"
            with lock:
                outcomes.append((sku, outcome))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    container.close()
    return outcomes


def process_main(
    results: Any, start: Any, url: str, tenant_id: int, worker: int, plan: list[str], location: str
) -> None:
    """Entry point of each spawned process: wait for the others, race, report."""
    try:
        start.wait(timeout=60)
        results.put((worker, reserve_in_threads(url, tenant_id, worker, plan, location)))
    except BaseException:
        results.put((worker, [("?", "crashed: " + traceback.format_exc())]))


def race(url: str, tenant_id: int, plan: list[str], location: str) -> list[tuple[str, str]]:
    """Run PROCESSES spawned processes of THREADS threads each, and gather every outcome."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    start = ctx.Barrier(PROCESSES)
    procs = [
        ctx.Process(target=process_main, args=(results, start, url, tenant_id, w, plan, location), daemon=True)
        for w in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    outcomes: list[tuple[str, str]] = []
    try:
        for _ in procs:
            _, got = results.get(timeout=120)
            outcomes += got
    except queue.Empty:
        pytest.fail("a worker process did not report within 120 s")
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
                p.join()
        results.close()
        results.join_thread()
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    return outcomes


def reservation_rows(t_: TenantCtx) -> Counter[str]:
    with t_.uow(write=False) as uow:
        rows = uow.conn.execute(
            select(SKUS.c.code, func.count(), func.sum(MOV.c.quantity))
            .join(SKUS, SKUS.c.id == MOV.c.sku_id)
            .where(MOV.c.tenant_id == t_.id, MOV.c.kind == "reservation")
            .group_by(SKUS.c.code)
        )
        return Counter({r[0]: int(r[1]) for r in rows})


def check(t_: TenantCtx) -> list[Any]:
    with t_.uow(write=False) as uow:
        return inventory.check_ledger(uow)


# --- the races --------------------------------------------------------------------------------


def test_many_processes_reserving_one_sku_never_oversell(db_url: str, tenant: TenantCtx) -> None:
    # given: 100 available, and 4 x 8 x 5 = 160 one-unit reservations about to race for them
    make_sku(tenant, "TEE")
    make_location(tenant, "BHW")
    receive(tenant, "TEE", "BHW", 100)
    # when
    outcomes = race(db_url, tenant.id, ["TEE"], "BHW")
    # then: exactly 100 succeed and every other attempt is refused for lack of stock, nothing else
    assert len(outcomes) == PROCESSES * THREADS * ATTEMPTS
    counted = Counter(outcome for _, outcome in outcomes)
    assert counted == {"ok": 100, "short": 60}, [o for o in counted if o not in ("ok", "short")]
    b = balance(tenant, "TEE", "BHW")
    assert (b.on_hand, b.reserved, b.available) == (100, 100, 0)
    assert reservation_rows(tenant) == {"TEE": 100}
    assert check(tenant) == []


def test_bundles_and_their_components_reserved_together_never_oversell(db_url: str, tenant: TenantCtx) -> None:
    # given: COMBO = TEE x1 + CAP x2, and less of each component than the race will ask for
    make_sku(tenant, "TEE")
    make_sku(tenant, "CAP")
    make_bundle(tenant, "COMBO", {"TEE": 1, "CAP": 2})
    make_location(tenant, "BHW")
    receive(tenant, "TEE", "BHW", 45)
    receive(tenant, "CAP", "BHW", 70)
    # when: threads reserve a mix of COMBO, TEE and CAP
    outcomes = race(db_url, tenant.id, ["COMBO", "TEE", "CAP"], "BHW")
    # then: only stock-outs were refused, and some were
    ok = Counter(sku for sku, outcome in outcomes if outcome == "ok")
    others = {outcome for _, outcome in outcomes if outcome not in ("ok", "short")}
    assert others == set()
    assert len(outcomes) - sum(ok.values()) > 0
    # and the successes add up exactly to what is reserved, which never exceeds what is on hand
    tee, cap = balance(tenant, "TEE", "BHW"), balance(tenant, "CAP", "BHW")
    assert tee.reserved == ok["COMBO"] + ok["TEE"]
    assert cap.reserved == 2 * ok["COMBO"] + ok["CAP"]
    assert (tee.on_hand, cap.on_hand) == (45, 70)
    assert tee.reserved <= tee.on_hand and cap.reserved <= cap.on_hand
    rows = reservation_rows(tenant)
    assert rows == {"TEE": ok["COMBO"] + ok["TEE"], "CAP": ok["COMBO"] + ok["CAP"]}
    assert check(tenant) == []


def test_transfers_and_reservations_racing_on_one_sku_keep_the_ledger_consistent(tenant: TenantCtx) -> None:
    # given: 40 at BHW; one thread moves units to BLR while another promises them
    make_sku(tenant, "TEE")
    make_location(tenant, "BHW", "MH")
    make_location(tenant, "BLR", "KA")
    receive(tenant, "TEE", "BHW", 40)
    start = threading.Barrier(2)
    outcomes: dict[str, Counter[str]] = {"transfer": Counter(), "reserve": Counter()}

    def attempt(what: str, call: Callable[[int], None]) -> None:
        start.wait()
        for i in range(30):
            try:
                call(i)
                outcomes[what]["ok"] += 1
            except InsufficientStock:
                outcomes[what]["short"] += 1
            except Exception as exc:
                outcomes[what][f"{type(exc).__name__}: {exc}"] += 1

    def transfer(_: int) -> None:
        with tenant.uow() as uow:
            inventory.record_movement(uow, sku="TEE", location="BHW", kind="transfer", quantity=1, to_location="BLR")

    def reserve(i: int) -> None:
        with tenant.uow() as uow:
            inventory.reserve_stock(uow, [StockLine("TEE", "BHW", 1)], reference=f"ORD-{i}")

    # when
    threads = [
        threading.Thread(target=attempt, args=("transfer", transfer)),
        threading.Thread(target=attempt, args=("reserve", reserve)),
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    # then
    moved, promised = outcomes["transfer"]["ok"], outcomes["reserve"]["ok"]
    assert set(outcomes["transfer"]) | set(outcomes["reserve"]) <= {"ok", "short"}, outcomes
    assert moved + promised == 40  # 60 attempts for 40 units: every unit went one way or the other
    bhw, blr = balance(tenant, "TEE", "BHW"), balance(tenant, "TEE", "BLR")
    assert (bhw.on_hand, bhw.reserved, blr.on_hand) == (40 - moved, promised, moved)
    assert bhw.reserved <= bhw.on_hand
    assert check(tenant) == []


# --- injected races: two transactions read the same state before either writes ----------------


@pytest.fixture
def rendezvous(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, Callable[..., bool]], None]]:
    """Make two threads meet right after a given StockRepository read, so that both have read
    before either writes. Where the database serialises the transactions (SQLite's BEGIN
    IMMEDIATE), the second thread cannot get that far until the first commits; the first waits a
    moment and goes on alone, which is the correct serial outcome."""
    barrier = threading.Barrier(2)

    def install(method: str, when: Callable[..., bool]) -> None:
        original = getattr(StockRepository, method)

        def wrapped(self: StockRepository, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            if when(*args, **kwargs):
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait(timeout=1.0)
            return result

        monkeypatch.setattr(StockRepository, method, wrapped)

    yield install
    barrier.abort()


def run_together(*calls: Callable[[], None]) -> list[str]:
    outcomes: list[str] = []

    def run(call: Callable[[], None]) -> None:
        try:
            call()
            outcomes.append("ok")
        except Exception as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    return sorted(outcomes)


def test_two_releases_of_one_reference_at_once_release_it_only_once(
    tenant: TenantCtx, rendezvous: Callable[[str, Callable[..., bool]], None]
) -> None:
    # given: ORD-1 holds 5 and ORD-2 holds 5
    make_sku(tenant, "TEE")
    make_location(tenant, "BHW")
    receive(tenant, "TEE", "BHW", 10)
    for ref in ("ORD-1", "ORD-2"):
        with tenant.uow() as uow:
            inventory.reserve_stock(uow, [StockLine("TEE", "BHW", 5)], reference=ref)
    # and both releases will have read what ORD-1 holds before either writes
    rendezvous("movements_for_reference", lambda reference: reference == "ORD-1")

    def release_ord_1() -> None:
        with tenant.uow() as uow:
            inventory.release_stock(uow, [StockLine("TEE", "BHW", 5)], reference="ORD-1")

    # when: a cancellation is delivered twice at once
    outcomes = run_together(release_ord_1, release_ord_1)
    # then: one release succeeds, the other finds nothing left to release, ORD-2 keeps its 5
    assert outcomes == ["Conflict", "ok"]
    assert balance(tenant, "TEE", "BHW").reserved == 5
    with tenant.uow(write=False) as uow:
        held = sum(m.d_reserved for m in uow.stock.movements_for_reference("ORD-1"))
    assert held == 0
    with pytest.raises(Conflict):
        release_ord_1()
    assert check(tenant) == []


def test_two_first_counts_at_a_location_at_once_set_on_hand_to_the_count(
    tenant: TenantCtx, rendezvous: Callable[[str, Callable[..., bool]], None]
) -> None:
    # given: a SKU never stocked at BLR, and two people counting it there at the same moment
    make_sku(tenant, "TEE")
    make_location(tenant, "BLR", "KA")
    rendezvous("read", lambda *a, **kw: kw.get("for_update", False))

    def count_ten() -> None:
        with tenant.uow() as uow:
            inventory.record_movement(uow, sku="TEE", location="BLR", kind="count", quantity=10)

    # when
    outcomes = run_together(count_ten, count_ten)
    # then: a count says how many there are, however many people count
    assert outcomes == ["ok", "ok"]
    assert balance(tenant, "TEE", "BLR").on_hand == 10
    assert check(tenant) == []
