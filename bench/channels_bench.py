"""Channel sync benchmarks (PostgreSQL), beside the raw-SQL new-order baseline measured in the same run.

    .venv/bin/python bench/channels_bench.py [--seconds 5] [--only intake,latency,coalesce,oversell]
        [--clients 1,8] [--workers 3] [--drainers 2] [--intake-modes inline,queued] [--listings 1000]
        [--rate 5] [--push-intervals default,1,1:0.2] [--latency-seconds S] [--coalesce-listings 10000] [--sim-orders 100000]

baseline  The raw-SQL new-order transaction of bench/orders_bench.py (3 lines over 10,000 SKUs), with the
          same client counts, in the same run: the yardstick for the intake figure. Beside it, the reference
          transaction of PERFORMANCE.md (order, 3 lines, 3 guarded reservations, outbox row), which did
          2,940/s with 8 clients where the targets were set: the target column also gives the absolute target
          scaled to this machine (target x reference here / 2,940).
intake    On PostgreSQL, a Shopify channel whose base_url is a FakeShopify in this process and whose webhook
          secret is the fixture's. Client processes (one keep-alive connection each, http_bench.Loopback)
          POST signed ``orders/create`` bodies to /webhooks/{tenant}/{channel}: the fixture order with its
          own id, phone, email and 3 lines over the 10,000 SKUs of 1-3 units, signed with HMAC-SHA256
          (base64) of the secret. Two modes (--intake-modes): inline, ``ordermesh serve --workers 3
          --no-worker`` making each order in its request; queued (ORDERMESH_WEBHOOKS_INLINE=false),
          ``ordermesh serve --workers 1`` beside 2 ``ordermesh worker --only channel_inbox`` (--drainers,
          taken from --workers), measured end to end: orders posted over the time until all are made.
          Target: >= 500 orders/s.
latency   A Shopify channel with N listings (--listings), ``ordermesh worker`` with its default settings,
          then with ORDERMESH_INVENTORY_PUSH_SECONDS=1, then also ORDERMESH_WORKER_POLL_SECONDS=0.2
          (--push-intervals PUSH[:POLL],...: the worker claims the stock event, which marks the listing due,
          only when it polls, so the poll interval adds to the push interval). Receipts through the
          service layer at a steady rate (--rate, random listing, 1-5 units); the fake notes when each
          inventorySetQuantities request arrives and which items and quantities it carries. A change's
          latency: arrival of the first request that carries its item at (at least) the quantity it made,
          minus the time its commit returned. Target: p50 <= 1 s, p99 <= 3 s.
coalesce  10,000 listings over 10,000 SKUs: first push of the new listings, then mark_dirty_for_skus of every
          SKU and ``push_inventory`` (the worker's call) until none is due; seconds and inventorySetQuantities
          calls (the connector sends 250 quantities per call). Target: < 10 s.
oversell  bench/oversell_sim.py (pure Python, seeded): oversold units per 10,000 orders by channels, push
          latency and buffer.

Every part starts its own database schema (dropped afterwards) and ends the processes it started by PID
(each is its own process group). PostgreSQL: ORDERMESH_BENCH_PG_URL (default postgres@127.0.0.1:5432/test);
without it the database parts are skipped and the simulation still runs.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests.fakes (FakeShopify, the fixture order) live beside src/
    sys.path.insert(1, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402
from tests.fakes.shopify import (  # noqa: E402
    ACCESS_TOKEN,
    API_VERSION,
    LOCATION,
    WEBHOOK_SECRET,
    FakeShopify,
    fixture_json,
    inventory_item_of,
    webhook_headers,
)

import oversell_sim  # noqa: E402
from common import (  # noqa: E402
    ClientSpec,
    Database,
    Fixture,
    Place,
    cpu_per_order,
    group_cpu,
    open_database,
    pg_problem,
    postgres_cpu,
    run_clients,
    setup_tenant,
    throughput,
)
from http_bench import Loopback, free_port, start_server, stop_server  # noqa: E402
from ordermesh.adapters.db import tables as t  # noqa: E402
from ordermesh.bootstrap import Container  # noqa: E402
from ordermesh.config import Settings  # noqa: E402
from orders_bench import (  # noqa: E402
    ADMIN,
    WARMUP,
    _ids,
    order_counts,
    phone_for,
    raw_factory,
    reference_rate,
    table,
    verdict,
)

PARTS = ("intake", "latency", "coalesce", "oversell")
ORDERMESH = Path(sys.executable).with_name("ordermesh")
CHANNEL = "shop"
TARGET_INTAKE = 500.0  # orders/s
INTAKE_MODES = ("inline", "queued")
TARGET_P50, TARGET_P99 = 1.0, 3.0  # seconds, stock change -> push
TARGET_COALESCE = 10.0  # seconds for 10,000 listings
DEFAULT_PUSH_SECONDS = Settings().inventory_push_seconds  # what the worker uses when nothing is set
VARIANT_BASE = 45_000_000_000_000  # listing (variant) id of SKU i: VARIANT_BASE + i


def variant_of(i: int) -> str:
    return str(VARIANT_BASE + i)


def item_of(i: int) -> str:
    return inventory_item_of(variant_of(i))


# --- set-up ---------------------------------------------------------------------------------------


def tenant_code(c: Container, tenant_id: int) -> str:
    with c.uow(tenant_id=None) as uow:
        row = uow.tenants.by_id(tenant_id)
        assert row is not None
        return row.code


def add_shopify_channel(c: Container, tenant_id: int, base_url: str) -> int:
    """The Shopify channel, pointed at the fake, with the fixture's secrets. Returns its id."""
    from ordermesh.services import channels

    with c.uow(tenant_id=tenant_id, actor=ADMIN) as uow:
        record = channels.create_channel(
            uow,
            {
                "code": CHANNEL,
                "type": "shopify",
                "name": "Bench Shopify store",
                "base_url": base_url,
                "credentials": {"access_token": ACCESS_TOKEN, "webhook_secret": WEBHOOK_SECRET},
                "connector": {"api_version": API_VERSION, "location_id": LOCATION, "since": "2025-01-01T00:00:00Z"},
            },
            c.connections.vault,
        )
    return int(record.id)


def insert_listings(c: Container, fx: Fixture, channel_id: int, n: int) -> None:
    """One listing per SKU (variant id, inventory item), due for a push as a new listing is. Written
    set-based, with the columns and values ``put_listing`` writes."""
    now = datetime.now(UTC)
    rows = [
        {
            "tenant_id": fx.tenant_id,
            "channel_id": channel_id,
            "listing_id": variant_of(i),
            "seller_sku": fx.sku_codes[i],
            "sku_id": fx.sku_ids[i],
            "attributes": {"inventory_item_id": item_of(i)},
            "active": True,
            "dirty": 1,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n)
    ]
    with c.engine.begin() as conn:
        conn.execute(insert(t.ChannelListing.__table__), rows)


def dirty_listings(c: Container, tenant_id: int) -> int:
    with c.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT COUNT(*) FROM channel_listings WHERE tenant_id = :t AND dirty > 0"), {"t": tenant_id}
            ).scalar_one()
        )


class TimedShopify(FakeShopify):
    """FakeShopify that notes when each inventorySetQuantities request arrives and what it carries."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, dict[str, int]]] = []  # (time.monotonic(), item gid -> quantity)
        self._arrivals_lock = threading.Lock()

    def _inventory_set(self, v: dict[str, Any]) -> dict[str, Any]:
        at = time.monotonic()
        quantities = {q.get("inventoryItemId"): int(q.get("quantity") or 0) for q in (v.get("input") or {}).get("quantities") or []}  # fmt: skip
        with self._arrivals_lock:
            self.arrivals.append((at, quantities))
        return super()._inventory_set(v)

    def snapshot(self) -> list[tuple[float, dict[str, int]]]:
        with self._arrivals_lock:
            return list(self.arrivals)


def stock_fake(fake: FakeShopify, n: int, available: int = 0) -> None:
    for i in range(n):
        fake.stock(item_of(i), available=available)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    stop_server(proc)  # SIGTERM to its process group (we started it with start_new_session), then SIGKILL


# --- baseline -------------------------------------------------------------------------------------


def baseline(
    db: Database, clients_list: list[int], seconds: float, run_no: list[int]
) -> tuple[dict[int, float], dict[int, float]]:
    """Raw-SQL new-order rates, and the reference transaction's, by client count."""
    rates, reference = {}, {}
    for clients in clients_list:
        run_no[0] += 1
        reference[clients] = reference_rate(db, clients, seconds, str(run_no[0]))
        run_no[0] += 1
        fx = setup_tenant(db, "raw")
        before = order_counts(db, fx.tenant_id)
        results = run_clients(raw_factory, ClientSpec(fx, WARMUP, seconds, str(run_no[0])), clients)
        after = order_counts(db, fx.tenant_id)
        allocated = after.get("allocated", 0) - before.get("allocated", 0)
        if after["oversold_balances"] or allocated != sum(r.placed for r in results):
            raise AssertionError(f"raw baseline, {clients} clients: {allocated} allocated, {after}")
        rates[clients] = throughput(results, seconds)
        client_ms, _ = cpu_per_order(results)
        print(f"  baseline {clients} client(s) raw SQL: {rates[clients]:8.0f} orders/s "
              f"(client CPU/order {client_ms:.2f} ms)", flush=True)  # fmt: skip
    return rates, reference


# --- 1. webhook intake ------------------------------------------------------------------------------


class JsonTemplate:
    """A JSON document rendered once with ``"@@NAME@@"`` placeholders, filled per request by joining
    its pieces with JSON literals: a distinct body costs the client a join, not a ``json.dumps`` of
    the whole order (the clients share the machine's cores with the server they measure)."""

    def __init__(self, document: Any):
        self.parts = re.split(r'"@@(\w+)@@"', json.dumps(document, separators=(",", ":")))

    def render(self, values: dict[str, str]) -> str:
        parts = self.parts
        return "".join(part if i % 2 == 0 else values[part] for i, part in enumerate(parts))


def webhook_factory(port: int, tenant: str, channel: str, fx: Fixture) -> Place:
    """A client: POSTs one signed orders/create body per order, a distinct order each time."""
    order = fixture_json("shopify_orders_create.json")
    line = {**order["line_items"][0]}
    line.update(id="@@id@@", admin_graphql_api_id="@@gid@@", sku="@@sku@@", variant_id="@@variant@@",
                quantity="@@qty@@", fulfillable_quantity="@@qty@@", price="499.00")  # fmt: skip
    order.update(id="@@id@@", admin_graphql_api_id="@@gid@@", name="@@name@@", order_number="@@number@@",
                 phone="@@phone@@", email="@@email@@", contact_email="@@email@@", line_items="@@lines@@")  # fmt: skip
    order["customer"].update(phone="@@phone@@", email="@@email@@")
    order["shipping_address"]["phone"] = order["billing_address"]["phone"] = "@@phone@@"
    body_of, line_of = JsonTemplate(order), JsonTemplate(line)
    headers = webhook_headers()
    secret = WEBHOOK_SECRET.encode()
    path = f"/webhooks/{tenant}/{channel}"
    codes = fx.sku_codes
    conn = Loopback(port)

    def place(reference: str, picks: list[int]) -> bool:
        run, client, n = _ids(reference)
        order_id = int(f"7{run}{client:02d}{n:09d}")
        phone = phone_for(reference)
        lines = []
        for k, i in enumerate(picks):
            line_id = order_id * 10 + k
            lines.append(line_of.render({"id": str(line_id), "gid": f'"gid://shopify/LineItem/{line_id}"',
                                         "sku": json.dumps(codes[i]), "variant": str(VARIANT_BASE + i),
                                         "qty": str(1 + (n + k + client) % 3)}))  # fmt: skip
        body = body_of.render(
            {"id": str(order_id), "gid": f'"gid://shopify/Order/{order_id}"', "name": f'"#{order_id % 100000}"',
             "number": str(order_id % 100000), "phone": f'"+91{phone}"', "email": f'"buyer{phone}@example.com"',
             "lines": "[" + ",".join(lines) + "]"}
        ).encode()  # fmt: skip
        signature = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()
        status, answer = conn.post(path, body, {**headers, "X-Shopify-Hmac-Sha256": signature,
                                                "X-Shopify-Webhook-Id": f"bench-{reference}"})  # fmt: skip
        if status != 200:
            raise RuntimeError(f"POST {path} answered {status}: {answer[:300]!r}")
        got = json.loads(answer)
        if got.get("duplicate"):
            raise RuntimeError(f"order {order_id} was taken for a duplicate delivery: {got}")
        return True

    return place


def warm_server(port: int, tenant: str, fx: Fixture, connections: int, each: int = 10) -> int:
    """Send a few bodies over several connections first: each API process's first requests pay for
    its imports, connections and statement caches (~0.5 s), which a short run must not measure."""
    errors: list[BaseException] = []

    def warm(k: int) -> None:
        try:
            place = webhook_factory(port, tenant, CHANNEL, fx)
            rng = random.Random(f"warm:{k}")
            for n in range(each):
                place(f"bench:0:{k}:{n}", rng.sample(range(len(fx.sku_codes)), 3))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=warm, args=(k,)) for k in range(connections)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise RuntimeError(f"warming the server up failed: {errors[0]!r}")
    return connections * each


def inbox_states(db: Database, tenant_id: int) -> dict[str, int]:
    c = db.container()
    try:
        with c.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT state, COUNT(*) FROM channel_inbox WHERE tenant_id = :t GROUP BY state"), {"t": tenant_id}
            ).all()
    finally:
        c.close()
    return {str(s): int(n) for s, n in rows}


def start_drainer(url: str) -> subprocess.Popen[bytes]:
    """``ordermesh worker --only channel_inbox``: a worker dedicated to queued webhooks, taking them
    every 0.2 s. It takes no outbox events, as the inline runs' server (--no-worker) leaves them too."""
    env = {**os.environ, "ORDERMESH_DATABASE_URL": url, "ORDERMESH_LOG_LEVEL": "warning",
           "ORDERMESH_CHANNEL_INBOX_SECONDS": "0.2"}  # fmt: skip
    return subprocess.Popen([str(ORDERMESH), "worker", "--only", "channel_inbox"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL)  # fmt: skip


def waiting_bodies(c: Container, tenant_id: int) -> bool:
    """Whether any webhook body still waits for the worker: one probe of the inbox's state index
    (a count of every state, polled, would cost the database as much as a share of the work)."""
    with c.engine.connect() as conn:
        found = conn.execute(
            text("SELECT EXISTS (SELECT 1 FROM channel_inbox WHERE tenant_id = :t AND state = 'received')"),
            {"t": tenant_id},
        )
        return bool(found.scalar_one())


def intake_run(
    db: Database, mode: str, clients: int, seconds: float, workers: int, drainers_n: int, run_no: int
) -> tuple[float, str]:
    """One run: ``inline`` (each webhook's order made in its request, by group commit) or ``queued``
    (ORDERMESH_WEBHOOKS_INLINE=false: the API stores each signed body and answers; a worker makes
    the orders in batches). For queued the figure is end to end: the orders posted after the
    warm-up over the time from the window's start until the worker has made every one, so a
    backlog left at the end of the window counts against it."""
    fx = setup_tenant(db, "hooks")
    queued = mode == "queued"
    c = db.container()
    try:
        code = tenant_code(c, fx.tenant_id)
        with FakeShopify() as fake:
            add_shopify_channel(c, fx.tenant_id, fake.url)
            port = free_port()
            api_processes = max(1, workers - drainers_n) if queued else workers  # queued: workers take a share
            env = {"ORDERMESH_WEBHOOKS_INLINE": "false"} if queued else None
            server = start_server(fx.url, port, api_processes, env)
            drainers = [start_drainer(fx.url) for _ in range(drainers_n if queued else 0)]
            try:
                warmed = warm_server(port, code, fx, connections=4 * api_processes)
                while queued and waiting_bodies(c, fx.tenant_id):
                    time.sleep(0.05)
                spec = ClientSpec(fx, WARMUP, seconds, str(run_no))
                pids = [server.pid, *(d.pid for d in drainers)]
                before = [group_cpu(p) for p in pids] + [postgres_cpu()]
                results = run_clients(partial(webhook_factory, port, code, CHANNEL), spec, clients)
                deadline = time.monotonic() + 120
                while queued and waiting_bodies(c, fx.tenant_id):
                    if time.monotonic() > deadline or any(d.poll() is not None for d in drainers):
                        raise RuntimeError("the workers did not process every queued webhook within 120 s")
                    time.sleep(0.05)
                drained_at = time.monotonic()
                after = [group_cpu(p) for p in pids] + [postgres_cpu()]
                per = max(1, sum(r.placed for r in results))
                spent = [(a - b) * 1000 / per for a, b in zip(after, before, strict=True)]
            finally:
                for d in drainers:
                    stop_server(d)
                stop_server(server)
    finally:
        c.close()
    sent = sum(r.placed for r in results) + warmed
    orders = order_counts(db, fx.tenant_id)
    states = inbox_states(db, fx.tenant_id)
    made = sum(v for k, v in orders.items() if k != "oversold_balances")
    rate = throughput(results, seconds)
    client_ms, _ = cpu_per_order(results)
    detail = f"client {client_ms:.2f} ms, API processes {spent[0]:.2f} ms"
    if queued:
        start = min(r.window_start for r in results)
        accepted = rate
        rate = sum(r.measured for r in results) / (drained_at - start)
        detail = (f"accepted {accepted:.0f}/s in the window, all made {drained_at - start - seconds:.2f} s after it; "
                  f"CPU per order: {detail}, workers {sum(spent[1:-1]):.2f} ms")  # fmt: skip
    else:
        detail = f"CPU per order: {detail}"
    print(f"  intake {mode} {clients} client(s): {rate:8.0f} orders/s ({detail}, PostgreSQL {spent[-1]:.2f} ms); "
          f"{sent} bodies, inbox {states}, orders {orders}", flush=True)  # fmt: skip
    if made != sent or states.get("processed", 0) != sent:
        raise AssertionError(f"{mode}: {sent} bodies sent but {made} orders made, inbox {states}")
    return rate, detail


def intake(
    db: Database,
    clients_list: list[int],
    seconds: float,
    workers: int,
    drainers: int,
    modes: list[str],
    raw: dict[int, float],
    reference: dict[int, float],
    run_no: list[int],
) -> list[tuple[str, ...]]:
    rows = []
    for clients in clients_list:
        rates = {}
        for mode in modes:
            run_no[0] += 1
            rates[mode], _ = intake_run(db, mode, clients, seconds, workers, drainers, run_no[0])
        best = max(rates.values())
        base = raw.get(clients, 0.0)
        ratio = f"{best / base:.3f}" if base else "-"
        ref = reference.get(clients)
        rows.append((str(clients), f"{base:.0f}" if base else "-", f"{ref:.0f}" if ref else "-",
                     *(f"{rates[m]:.0f}" if m in rates else "-" for m in INTAKE_MODES), ratio,
                     verdict(TARGET_INTAKE, best, ref)))  # fmt: skip
    return rows


# --- 2. stock change -> push latency ------------------------------------------------------------------


def start_worker(url: str, push_seconds: float | None, poll_seconds: float | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ORDERMESH_DATABASE_URL": url, "ORDERMESH_LOG_LEVEL": "warning"}
    env.pop("ORDERMESH_INVENTORY_PUSH_SECONDS", None)
    env.pop("ORDERMESH_WORKER_POLL_SECONDS", None)
    if push_seconds is not None:
        env["ORDERMESH_INVENTORY_PUSH_SECONDS"] = f"{push_seconds:g}"
    if poll_seconds is not None:
        env["ORDERMESH_WORKER_POLL_SECONDS"] = f"{poll_seconds:g}"
    return subprocess.Popen([str(ORDERMESH), "worker"], env=env, start_new_session=True, stdout=subprocess.DEVNULL)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def latency_run(
    n: int, rate: float, seconds: float, push_seconds: float | None, poll_seconds: float | None, seed: int
) -> tuple[list[float], int, int, int]:
    """Latencies of every change seen pushed, changes never seen, requests during the run, and
    the seconds the first push of the new listings took."""
    from ordermesh.services import inventory

    interval = push_seconds if push_seconds is not None else DEFAULT_PUSH_SECONDS
    db = open_database("postgresql")  # its own schema: the worker's jobs see this tenant only
    try:
        fx = setup_tenant(db, "latency", n_skus=n, stock=1000)
        c = db.container()
        try:
            with TimedShopify() as fake:
                channel_id = add_shopify_channel(c, fx.tenant_id, fake.url)
                insert_listings(c, fx, channel_id, n)
                stock_fake(fake, n)
                worker = start_worker(fx.url, push_seconds, poll_seconds)
                try:
                    t0 = time.monotonic()
                    deadline = t0 + interval + 120
                    while dirty_listings(c, fx.tenant_id):  # the worker's first push: every new listing
                        if worker.poll() is not None:
                            raise RuntimeError(f"ordermesh worker exited with {worker.returncode}")
                        if time.monotonic() > deadline:
                            raise RuntimeError("the worker did not push the new listings in time")
                        time.sleep(0.2)
                    first_push = time.monotonic() - t0
                    time.sleep(1.0)  # let the start-up reconciliation (no drift) finish
                    warm_requests = len(fake.snapshot())
                    rng = random.Random(f"latency:{seed}:{push_seconds}")
                    on_hand = [1000] * n
                    changes: list[tuple[str, float, float, int]] = []  # (item, before, committed, quantity)
                    next_at = time.monotonic()
                    end = next_at + seconds
                    while next_at < end:
                        pause = next_at - time.monotonic()
                        if pause > 0:
                            time.sleep(pause)
                        i, q = rng.randrange(n), rng.randint(1, 5)
                        before = time.monotonic()
                        with c.uow(tenant_id=fx.tenant_id, actor=ADMIN) as uow:
                            inventory.record_movement(uow, sku=fx.sku_codes[i], location="BHW", kind="receipt",
                                                      quantity=q)  # fmt: skip
                        committed = time.monotonic()
                        on_hand[i] += q
                        changes.append((item_of(i), before, committed, on_hand[i]))
                        next_at += 1 / rate
                    drain = time.monotonic() + interval + 30
                    while True:
                        seen, missing = match(changes, fake.snapshot())
                        if not missing or time.monotonic() > drain or worker.poll() is not None:
                            break
                        time.sleep(0.5)
                    requests = len(fake.snapshot()) - warm_requests
                finally:
                    stop_process(worker)
        finally:
            c.close()
    finally:
        db.drop()
    return seen, len(missing), requests, round(first_push)


def match(
    changes: list[tuple[str, float, float, int]], arrivals: list[tuple[float, dict[str, int]]]
) -> tuple[list[float], list[tuple[str, float, float, int]]]:
    by_item: dict[str, list[tuple[float, int]]] = {}
    for at, quantities in arrivals:
        for item, q in quantities.items():
            by_item.setdefault(item, []).append((at, q))
    seen, missing = [], []
    for change in changes:
        item, before, committed, quantity = change
        hit = next((at for at, q in by_item.get(item, []) if at >= before and q >= quantity), None)
        if hit is None:
            missing.append(change)
        else:
            seen.append(max(0.0, hit - committed))
    return seen, missing


Setting = tuple[float | None, float | None]  # (ORDERMESH_INVENTORY_PUSH_SECONDS, ORDERMESH_WORKER_POLL_SECONDS)


def parse_settings(text: str) -> list[Setting]:
    """'default,1,0.5:0.2': the defaults; push every 1 s; push every 0.5 s with the worker polling every 0.2 s."""
    out: list[Setting] = []
    for entry in (x.strip() for x in text.split(",")):
        if entry == "default":
            out.append((None, None))
        elif entry:
            push, _, poll = entry.partition(":")
            out.append((float(push), float(poll) if poll else None))
    return out


def latency(n: int, rate: float, seconds: float | None, settings: list[Setting]) -> list[tuple[str, ...]]:
    rows = []
    for push_seconds, poll_seconds in settings:
        interval = push_seconds if push_seconds is not None else DEFAULT_PUSH_SECONDS
        run_for = seconds if seconds is not None else max(30.0, 4 * interval)
        label = f"default ({DEFAULT_PUSH_SECONDS:g} s)" if push_seconds is None else f"{push_seconds:g} s"
        if poll_seconds is not None:
            label += f", poll {poll_seconds:g} s"
        seen, missing, requests, first = latency_run(n, rate, run_for, push_seconds, poll_seconds, seed=1)
        if not seen:
            rows.append((label, "0", str(missing), "-", "-", "-", str(requests), "no change was seen pushed"))
            continue
        p50, p99 = statistics.median(seen), percentile(seen, 99)
        ok = p50 <= TARGET_P50 and p99 <= TARGET_P99
        print(f"  latency, push every {label}: {len(seen)} changes over {run_for:g} s, p50 {p50:.2f} s, "
              f"p99 {p99:.2f} s, max {max(seen):.2f} s, {missing} never seen, {requests} push requests "
              f"(first push of {n} new listings ~{first} s after start)", flush=True)  # fmt: skip
        verdict = f"p50 <= {TARGET_P50:g}, p99 <= {TARGET_P99:g}: " + ("OK" if ok else "MISSED")
        rows.append((label, str(len(seen)), str(missing), f"{p50:.2f}", f"{p99:.2f}", f"{max(seen):.2f}",
                     str(requests), verdict))  # fmt: skip
    return rows


# --- 3. coalescing --------------------------------------------------------------------------------


def coalesce(n: int) -> list[tuple[str, ...]]:
    from ordermesh.services import channel_sync as cs

    db = open_database("postgresql")
    rows = []
    try:
        fx = setup_tenant(db, "coalesce", n_skus=n, stock=500)
        c = db.container()
        try:
            with TimedShopify() as fake:
                channel_id = add_shopify_channel(c, fx.tenant_id, fake.url)
                insert_listings(c, fx, channel_id, n)
                stock_fake(fake, n)
                sync = cs.Sync(c.uow, c.connections, fx.tenant_id)

                def push_all(what: str) -> None:
                    calls0 = len(fake.snapshot())
                    t0 = time.perf_counter()
                    rounds = pushed = failed = 0
                    while dirty_listings(c, fx.tenant_id) and rounds < 100:
                        r = cs.push_inventory(sync, CHANNEL)
                        rounds, pushed, failed = rounds + 1, pushed + r.pushed, failed + r.failed
                        if r.errors:
                            raise RuntimeError(f"push_inventory: {r.failed} failed, first error {r.errors[0]}")
                    elapsed = time.perf_counter() - t0
                    calls = len(fake.snapshot()) - calls0
                    wrong = sum(1 for i in range(n) if fake.available(item_of(i)) != 500)
                    verdict = f"< {TARGET_COALESCE:g} s: " + ("OK" if elapsed < TARGET_COALESCE else "MISSED")
                    print(f"  coalesce, {what}: {pushed} pushed in {elapsed:.2f} s, {calls} inventorySetQuantities "
                          f"calls, {rounds} push_inventory call(s), {wrong} level(s) wrong at the fake", flush=True)  # fmt: skip
                    if wrong or pushed != n:
                        raise AssertionError(f"coalesce {what}: {pushed} of {n} pushed, {wrong} wrong at the fake")
                    rows.append((what, str(pushed), f"{elapsed:.2f}", str(calls), f"{pushed / max(calls, 1):.0f}",
                                 str(rounds), verdict))  # fmt: skip

                push_all(f"{n:,} new listings")
                t0 = time.perf_counter()
                with c.uow(tenant_id=fx.tenant_id, actor=ADMIN) as uow:
                    marked = cs.mark_dirty_for_skus(uow, list(fx.sku_codes))
                    uow.commit()
                mark = time.perf_counter() - t0
                print(f"  coalesce: mark_dirty_for_skus of {n:,} SKUs marked {marked} listing(s) in {mark:.2f} s",
                      flush=True)  # fmt: skip
                push_all(f"{n:,} marked dirty (mark took {mark:.2f} s)")
        finally:
            c.close()
    finally:
        db.drop()
    return rows


# --- main -----------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="measured seconds per baseline/intake run")
    ap.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {','.join(PARTS)}")
    ap.add_argument("--clients", default="1,8")
    # One more API process than cores: each process's webhook writer spends much of a batch
    # waiting on PostgreSQL (ADR 0011), so a third process uses the CPU the two leave idle.
    ap.add_argument("--workers", type=int, default=3, help="API processes of ordermesh serve (intake)")
    ap.add_argument("--intake-modes", default=",".join(INTAKE_MODES),
                    help="intake: inline (orders made in the request) and/or queued (made by a worker)")  # fmt: skip
    ap.add_argument("--drainers", type=int, default=2,
                    help="intake, queued: ordermesh worker --only channel_inbox processes (taken from --workers)")  # fmt: skip
    ap.add_argument("--listings", type=int, default=1000, help="listings mapped in the latency part")
    ap.add_argument("--rate", type=float, default=5.0, help="stock changes per second in the latency part")
    ap.add_argument("--push-intervals", default="default,0.5",
                    help="latency part: 'default' (nothing set) or PUSH[:POLL], setting ORDERMESH_INVENTORY_PUSH_SECONDS "
                         "(and ORDERMESH_WORKER_POLL_SECONDS)")  # fmt: skip
    ap.add_argument("--latency-seconds", type=float, default=None,
                    help="seconds of stock changes per latency run (default: 4 push intervals, at least 30)")  # fmt: skip
    ap.add_argument("--coalesce-listings", type=int, default=10_000)
    oversell_sim.add_arguments(ap, prefix="sim-")
    args = ap.parse_args()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    if unknown := set(parts) - set(PARTS):
        ap.error(f"--only: unknown part(s) {', '.join(sorted(unknown))}; use {','.join(PARTS)}")
    modes = [m.strip() for m in args.intake_modes.split(",") if m.strip()]
    if not modes or set(modes) - set(INTAKE_MODES):
        ap.error(f"--intake-modes: {','.join(INTAKE_MODES)}")
    clients = [int(x) for x in args.clients.split(",") if x]
    if any(n < 1 or n > 9 for n in clients):
        ap.error("--clients: 1 to 9 client processes")
    if len(clients) > 4:
        ap.error("--clients: at most 4 client counts (each run takes a digit of the order ids and phones)")
    try:
        settings = parse_settings(args.push_intervals)
    except ValueError:
        ap.error("--push-intervals: 'default' or PUSH_SECONDS[:WORKER_POLL_SECONDS], comma-separated")
    # The bench seals the channel's credentials; the server and worker it starts must open them.
    if not os.environ.get("ORDERMESH_CREDENTIALS_KEY"):
        from cryptography.fernet import Fernet

        os.environ["ORDERMESH_CREDENTIALS_KEY"] = Fernet.generate_key().decode()

    db_parts = [p for p in parts if p != "oversell"]
    problem = pg_problem() if db_parts else None
    if problem:
        print(f"skipping {', '.join(db_parts)}: {problem}")
        db_parts = []
    out: list[str] = []
    if db_parts:
        run_no = [0]
        db = open_database("postgresql")
        try:
            raw, reference = baseline(db, clients, args.seconds, run_no)
            out.append(
                f"Raw-SQL new-order baseline (bench/orders_bench.py) and PERFORMANCE.md's reference transaction, "
                f"{args.seconds:g} s per run:\n"
                + table(
                    ("clients", "raw SQL orders/s", "reference orders/s"),
                    [(str(k), f"{v:.0f}", f"{reference[k]:.0f}") for k, v in raw.items()],
                )
            )
            if "intake" in db_parts:
                rows = intake(db, clients, args.seconds, args.workers, args.drainers, modes, raw, reference, run_no)
                out.append(
                    f"1. Shopify orders/create webhooks over HTTP (PostgreSQL; inline: ordermesh serve --workers "
                    f"{args.workers} --no-worker; queued: --workers {max(1, args.workers - args.drainers)} beside "
                    f"{args.drainers} ordermesh worker --only channel_inbox, end to end), {args.seconds:g} s per run:\n"
                    + table(
                        (
                            "clients",
                            "raw SQL orders/s",
                            "reference orders/s",
                            "inline orders/s",
                            "queued orders/s",
                            "best/raw",
                            "target",
                        ),
                        rows,
                    )
                )
        finally:
            db.drop()
        if "latency" in db_parts:
            rows = latency(args.listings, args.rate, args.latency_seconds, settings)
            out.append(
                f"2. Stock change -> inventorySetQuantities arrival, {args.listings:,} listings, {args.rate:g} "
                "receipts/s (ordermesh worker; push interval = ORDERMESH_INVENTORY_PUSH_SECONDS, poll = "
                "ORDERMESH_WORKER_POLL_SECONDS, default 1 s):\n"
                + table(
                    ("push interval", "changes", "never seen", "p50 s", "p99 s", "max s", "requests", "target"), rows
                )
            )
        if "coalesce" in db_parts:
            rows = coalesce(args.coalesce_listings)
            out.append(
                "3. Coalescing: push_inventory until no listing is due (FakeShopify, 250 quantities per call):\n"
                + table(("what", "pushed", "seconds", "calls", "per call", "push_inventory calls", "target"), rows)
            )
    if "oversell" in parts:
        out.append("4. " + oversell_sim.run_from_args(args, prefix="sim_"))
    print()
    print("\n\n".join(out))
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: stop what we started
    sys.exit(main())
