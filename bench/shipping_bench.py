"""Shipping benchmarks: labels and manifests rendered, carrier tracking webhooks over HTTP (PostgreSQL,
beside the raw-SQL writes of the same events in the same run) and rate shopping on rate cards.

    .venv/bin/python bench/shipping_bench.py [--only labels,manifest,tracking,rates] [--seconds 5]
        [--clients 1,8] [--workers 2] [--manifest-shipments 5000] [--shipments N]

labels    render_label (4x6 inch PDF, Code128 AWB and order barcodes) in this one process, so on one core:
          distinct AWBs, buyers, COD and prepaid in turn. Target: >= 50 labels/s.
manifest  render_manifest of one manifest of 5,000 shipments (--manifest-shipments), each AWB a Code128;
          the seconds of that one call, after a small manifest has loaded the fonts. Target: < 10 s.
tracking  ``ordermesh serve --no-worker`` on PostgreSQL: inline, --workers API processes (2, one per core);
          queued, one API process fewer beside one ``ordermesh worker`` (a process per core: on two cores
          a second API process only makes each costlier, its batches smaller); a carrier account of kind shiprocket
          with a webhook token; N booked shipments (in transit, picked up) with their orders, lines and
          shipment lines written set-based in the database (--shipments; default enough for 8,000 events/s).
          Client processes (one keep-alive connection each, http_bench.Loopback) POST Shiprocket-shaped tracking
          bodies to /webhooks/carriers/{tenant}/{carrier}, each for an AWB no body named before, carrying one
          OUT FOR DELIVERY scan: one event recorded and one status change per body (so events/s = bodies/s),
          checked on every answer and counted in the database afterwards. Target: >= 1,000 events/s.
          Raw-SQL baseline, same run, same client counts, a tenant set up the same way: per event one
          transaction of what the service writes for it (the shipment by AWB and its order FOR UPDATE, the
          event row INSERT ... ON CONFLICT DO NOTHING, the shipment's status UPDATE, the order's timeline row,
          the outbox row), through psycopg with no HTTP or JSON. Also PERFORMANCE.md's reference transaction
          (order, 3 lines, 3 guarded reservations, outbox row; 2,940/s with 8 clients where the targets were set),
          by which the target column scales the absolute target to this machine (target x reference / 2,940).
rates     three rate-card carriers (RateCardCarrier.quote: the pincode directory, chargeable weight and the
          domain's rate card price), 3 origins x ~30 destinations, random parcels, half COD: quote calls/s in
          this one process after one warm pass over every lane (the directory's lookups are cached, as in a
          server). Also whole rate shops/s (3 quotes and the carrier choice). Target: >= 2,000 quotes/s.

The tracking part starts its own PostgreSQL schema (dropped afterwards) and ends the server it started by
its PID (its own process group). PostgreSQL: ORDERMESH_BENCH_PG_URL (default postgres@127.0.0.1:5432/test);
without it the tracking part is skipped and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import text

from common import (
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
from http_bench import ORDERMESH, Loopback, free_port, start_server, stop_server
from ordermesh.bootstrap import Container
from orders_bench import ADMIN, WARMUP, _ids, reference_rate, table, verdict

PARTS = ("labels", "manifest", "tracking", "rates")
TARGET_LABELS = 50.0  # labels/s, one core
TARGET_MANIFEST = 10.0  # seconds for 5,000 shipments
TARGET_EVENTS = 1000.0  # tracking events/s over HTTP
TARGET_QUOTES = 2000.0  # quotes/s
CARRIER = "sr"
WEBHOOK_TOKEN = "bench-webhook-token"
SCAN_AT = "2026-11-27 09:15:00"  # IST, as Shiprocket writes it
CURRENT_AT = "27 11 2026 09:15:00"
WARM_PER_CONNECTION = 10


# --- 1. labels ------------------------------------------------------------------------------------


def _addresses() -> tuple[Any, list[Any]]:
    from ordermesh.adapters.documents import Address

    warehouse = Address(
        "Acme Retail Pvt Ltd - Bhiwandi WH",
        ("Gala 14, Building B2, Rajlaxmi Complex", "Kalher, Bhiwandi"),
        "Thane",
        "Maharashtra",
        "421302",
        "+91 22 4000 1234",
    )
    cities = [
        ("Bengaluru", "Karnataka", "560038"),
        ("Lucknow", "Uttar Pradesh", "226010"),
        ("Pune", "Maharashtra", "411001"),
        ("Kolkata", "West Bengal", "700019"),
        ("Jaipur", "Rajasthan", "302017"),
        ("Guwahati", "Assam", "781005"),
    ]
    buyers = [
        Address(
            f"Buyer {n:04d} Sharma",
            (f"Flat {n % 90 + 1}B, Sunshine Apartments, {n % 20 + 1}th Cross Road", "Near City Hospital"),
            city,
            state,
            pincode,
            f"+91 98{n:08d}",
        )
        for n, (city, state, pincode) in enumerate(cities * 50)
    ]
    return warehouse, buyers


def label_data(n: int, warehouse: Any, buyers: list[Any]) -> Any:
    from ordermesh.adapters.documents import LabelData

    cod = n % 2 == 0
    return LabelData(
        carrier="Delhivery Surface" if n % 3 else "Blue Dart Express",
        awb=f"{1_480_000_000_000 + n * 7919}",
        order_number=f"OM{n:07d}",
        ship_from=warehouse,
        ship_to=buyers[n % len(buyers)],
        payment="cod" if cod else "prepaid",
        cod_amount=Decimal(499 + n % 4000) if cod else Decimal(0),
        dead_weight_g=300 + n % 1700,
        chargeable_weight_g=500 * (1 + n % 4),
        dimensions_cm=(Decimal(30), Decimal("20.5"), Decimal(10)),
        invoice_number=f"INV/26-27/{n:06d}",
        invoice_date=date(2026, 11, 26),
        routing_code=f"BLR/{n % 97:02d}",
        service="Surface",
    )


def labels(seconds: float) -> list[tuple[str, ...]]:
    from ordermesh.adapters.documents import render_label

    warehouse, buyers = _addresses()
    datas = [label_data(n, warehouse, buyers) for n in range(1000)]
    for d in datas[:3]:  # fonts, barcode tables
        assert render_label(d).startswith(b"%PDF")
    n, size = 0, 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    end = t0 + seconds
    while time.perf_counter() < end:
        size += len(render_label(datas[n % len(datas)]))
        n += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rate = n / wall
    verdict = f">= {TARGET_LABELS:.0f}/s: " + ("OK" if rate >= TARGET_LABELS else "MISSED")
    print(f"  labels: {n} in {wall:.2f} s, {rate:.0f}/s, {cpu / n * 1000:.1f} ms CPU each, {size // n:,} bytes each",
          flush=True)  # fmt: skip
    return [(str(n), f"{wall:.2f}", f"{rate:.0f}", f"{cpu / n * 1000:.1f}", f"{size // n:,}", verdict)]


# --- 2. manifest ----------------------------------------------------------------------------------


def manifest_data(count: int) -> Any:
    from ordermesh.adapters.documents import ManifestData, ManifestRow

    warehouse, buyers = _addresses()
    rows = tuple(
        ManifestRow(
            awb=f"{1_480_000_000_000 + n * 7919}",
            order_number=f"OM{n:07d}",
            city=buyers[n % len(buyers)].city,
            pincode=buyers[n % len(buyers)].pincode,
            weight_g=500 * (1 + n % 4),
            cod_amount=Decimal(499 + n % 4000) if n % 2 == 0 else Decimal(0),
        )
        for n in range(1, count + 1)
    )
    return ManifestData(
        manifest_number="MF0000042",
        carrier="Delhivery Surface",
        location=warehouse,
        pickup_date=date(2026, 11, 27),
        shipments=rows,
        generated_at=datetime(2026, 11, 26, 16, 30, tzinfo=UTC),
    )


def manifest(count: int) -> list[tuple[str, ...]]:
    from ordermesh.adapters.documents import render_manifest

    assert render_manifest(manifest_data(10)).startswith(b"%PDF")  # fonts loaded
    data = manifest_data(count)
    cpu0, t0 = time.process_time(), time.perf_counter()
    pdf = render_manifest(data)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    pages = len(re.findall(rb"/Type /Page[^s]", pdf))
    if not pdf.startswith(b"%PDF") or pages < 1:
        raise AssertionError("the manifest is not a PDF with pages")
    verdict = f"< {TARGET_MANIFEST:.0f} s: " + ("OK" if wall < TARGET_MANIFEST else "MISSED")
    print(f"  manifest: {count:,} shipments, {pages} pages, {len(pdf):,} bytes in {wall:.2f} s", flush=True)
    return [(f"{count:,}", str(pages), f"{len(pdf) / 1e6:.1f}", f"{wall:.2f}", f"{cpu:.2f}", verdict)]


# --- 3. tracking webhooks -------------------------------------------------------------------------


def awb_of(prefix: str, i: int) -> str:
    return f"{prefix}{i:09d}"


def tenant_code(c: Container, tenant_id: int) -> str:
    with c.uow(tenant_id=None) as uow:
        row = uow.tenants.by_id(tenant_id)
        assert row is not None
        return row.code


def add_carrier(c: Container, tenant_id: int) -> int:
    from ordermesh.services import shipping

    with c.uow(tenant_id=tenant_id, actor=ADMIN) as uow:
        row = shipping.create_carrier(
            uow,
            {
                "code": CARRIER,
                "kind": "shiprocket",
                "name": "Shiprocket",
                "base_url": "http://127.0.0.1:9",  # never called: webhooks only
                "credentials": {"email": "ops@example.in", "password": "bench", "webhook_token": WEBHOOK_TOKEN},
            },
            c.connections.vault.seal,
        )
    return int(row.id)


_ORDERS = """
INSERT INTO orders (tenant_id, channel_id, external_id, customer_id, placed_at, status, confirmed, holds, cleared_holds,
    payment_method, payment_status, currency, items_total, discount_total, shipping_total, tax_total, grand_total,
    customer, shipping_address, billing_address, tags, notes, risk_score, risk, routing, dispatch_by, sla_state,
    ship_pincode, basket, payload_hash, version, channel_data, created_at, updated_at)
SELECT ch.tenant_id, ch.id, CAST(:prefix AS text) || lpad(CAST(g AS text), 9, '0'), NULL, :now, 'shipped', true,
    CAST('[]' AS json), CAST('[]' AS json), 'prepaid', 'paid', 'INR', 499, 0, 0, 23.76, 499,
    CAST(:customer AS json), CAST(:address AS json), NULL, CAST('[]' AS json), NULL, NULL, NULL, NULL, NULL, 'ok',
    '560038', md5('b' || CAST(g AS text)), md5('p' || CAST(g AS text)), 1, NULL, :now, :now
FROM generate_series(1, :n) AS g
JOIN channels ch ON ch.tenant_id = :t AND ch.code = 'manual'
"""
_LINES = """
INSERT INTO order_lines (tenant_id, order_id, line_no, sku_code, sku_id, quantity, unit_price, discount, tax,
    allocated, shipped, delivered, cancelled, returned)
SELECT o.tenant_id, o.id, 1, :sku, :sku_id, 1, 499, 0, 23.76, 0, 1, 0, 0, 0
FROM orders o WHERE o.tenant_id = :t
"""
_SHIPMENTS = """
INSERT INTO shipments (tenant_id, order_id, location_id, status, payment_method, cod_amount, declared_value, box,
    length_cm, breadth_cm, height_cm, dead_weight_g, volumetric_weight_g, chargeable_weight_g, carrier_id, service,
    courier, awb, carrier_reference, selection, invoice_number, manifest_id, tracking_token, estimated_delivery,
    estimate_basis, ndr_attempts, picked_up_at, delivered_at, status_at, created_at, updated_at)
SELECT o.tenant_id, o.id, :location, 'in_transit', 'prepaid', 0, 499, NULL, 30, 20, 10, 900, 1200, 1200, :carrier,
    'delhivery_surface', 'Delhivery Surface', o.external_id, 'SR' || CAST(o.id AS text), NULL, NULL, NULL,
    substr(md5(CAST(o.id AS text) || 'a') || md5(CAST(o.id AS text) || 'b'), 1, 43), NULL, NULL, 0, :now, NULL,
    :now, :now, :now
FROM orders o WHERE o.tenant_id = :t
"""
_SHIPMENT_LINES = """
INSERT INTO shipment_lines (tenant_id, shipment_id, order_line_id, sku_id, quantity, packed)
SELECT s.tenant_id, s.id, l.id, l.sku_id, 1, 1
FROM shipments s JOIN order_lines l ON l.order_id = s.order_id WHERE s.tenant_id = :t
"""


def insert_shipments(c: Container, fx: Fixture, carrier_id: int, prefix: str, n: int) -> None:
    """``n`` orders (shipped, one unit) each with its shipment booked with the carrier and in transit,
    AWB ``prefix`` + 9 digits (1..n): the rows the service layer writes, set-based."""
    now = datetime.now(UTC)
    customer = json.dumps({"name": "Priya Sharma", "phone": "9845012345", "email": None})
    address = json.dumps(
        {
            "name": "Priya Sharma",
            "line1": "Flat 12B, Example Residency",
            "city": "Bengaluru",
            "state": "KA",
            "pincode": "560038",
            "phone": "9845012345",
        }
    )
    common = {"t": fx.tenant_id, "now": now}
    with c.engine.begin() as conn:
        conn.execute(text(_ORDERS), {**common, "prefix": prefix, "n": n, "customer": customer, "address": address})
        conn.execute(text(_LINES), {**common, "sku": fx.sku_codes[0], "sku_id": fx.sku_ids[0]})
        conn.execute(text(_SHIPMENTS), {**common, "location": fx.location_id, "carrier": carrier_id})
        conn.execute(text(_SHIPMENT_LINES), common)
    with c.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in ("orders", "order_lines", "shipments", "shipment_lines", "shipment_events"):
            conn.execute(text(f"ANALYZE {name}"))


def settle(c: Container) -> None:
    """What autovacuum does soon after the bulk load of booked shipments (otherwise it does it inside
    the measured window, on the same two cores): VACUUM ANALYZE of the tables the load wrote."""
    with c.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("orders", "order_lines", "shipments", "shipment_lines"):
            conn.execute(text(f"VACUUM ANALYZE {table}"))


def tracking_body(awb: str) -> bytes:
    """A Shiprocket tracking push (docs/carriers/shiprocket.md) with one new scan: out for delivery."""
    return json.dumps(
        {
            "awb": awb,
            "courier_name": "Delhivery Surface",
            "current_status": "OUT FOR DELIVERY",
            "current_status_id": 17,
            "shipment_status": "OUT FOR DELIVERY",
            "shipment_status_id": 17,
            "current_timestamp": CURRENT_AT,
            "order_id": f"SH{awb[-7:]}",
            "sr_order_id": int(awb[-9:]) + 300_000_000,
            "awb_assigned_date": "2026-11-25 14:10:11",
            "pickup_scheduled_date": "2026-11-25 18:00:00",
            "etd": "2026-11-28 23:59:59",
            "scans": [
                {
                    "date": SCAN_AT,
                    "status": "X-DDD3FD",
                    "activity": "Out for delivery",
                    "location": "Bengaluru_Koramangala_DC (Karnataka)",
                    "sr-status": "17",
                    "sr-status-label": "OUT FOR DELIVERY",
                }
            ],
            "is_return": 0,
            "channel_id": 4_100_000,
            "pod_status": "",
            "pod": "Not Available",
        },
        separators=(",", ":"),
    ).encode()


class Awbs:
    """Which AWB a client's n-th body names: client k of K takes base + 1 + k + n·K, never past ``last``."""

    def __init__(self, prefix: str, base: int, clients: int, last: int):
        self.prefix, self.base, self.clients, self.last = prefix, base, clients, last

    def __call__(self, reference: str) -> str:
        _, client, n = _ids(reference)
        i = self.base + 1 + client + n * self.clients
        if i > self.last:
            raise RuntimeError(f"out of booked shipments at #{i}: raise --shipments")
        return awb_of(self.prefix, i)


def webhook_factory(port: int, tenant: str, awbs: Awbs, fx: Fixture, queued: bool = False) -> Place:
    """A client POSTing one push per call. Applied inline, the answer must say one event recorded
    and one change; queued, it must say 202 and queued (the workers apply it; counted afterwards)."""
    conn = Loopback(port)
    path = f"/webhooks/carriers/{tenant}/{CARRIER}"
    headers = {"Content-Type": "application/json", "x-api-key": WEBHOOK_TOKEN}

    def place(reference: str, picks: list[int]) -> bool:
        status, answer = conn.post(path, tracking_body(awbs(reference)), headers)
        if status != (202 if queued else 200):
            raise RuntimeError(f"POST {path} answered {status}: {answer[:300]!r}")
        got = json.loads(answer)
        if queued:
            if got.get("queued") is not True:
                raise RuntimeError(f"{reference}: expected the push queued, got {got}")
        elif got.get("recorded") != 1 or got.get("changed") != 1:
            raise RuntimeError(f"{reference}: expected one event recorded and one change, got {got}")
        return True

    return place


_RAW = {
    "shipment": "SELECT id, order_id FROM shipments WHERE tenant_id = %s AND carrier_id = %s AND awb = %s FOR UPDATE",
    "order": "SELECT id FROM orders WHERE tenant_id = %s AND id = %s FOR UPDATE",
    "event": (
        "INSERT INTO shipment_events (tenant_id, shipment_id, at, status, carrier_status, location, detail, "
        "ndr_reason, source, dedupe_key, recorded_at) VALUES (%s, %s, %s, 'out_for_delivery', '17', %s, %s, NULL, "
        "'webhook', %s, %s) ON CONFLICT (tenant_id, shipment_id, dedupe_key) DO NOTHING RETURNING id"
    ),
    "status": "UPDATE shipments SET status = 'out_for_delivery', status_at = %s, updated_at = %s WHERE id = %s",
    "timeline": (
        "INSERT INTO order_events (tenant_id, order_id, at, kind, message, data, actor) "
        "VALUES (%s, %s, %s, 'shipment.out_for_delivery', %s, %s, 'system')"
    ),
    "outbox": (
        "INSERT INTO outbox (tenant_id, topic, payload, status, attempts, created_at, available_at) "
        "VALUES (%s, 'shipment.out_for_delivery', %s, 'pending', 0, %s, %s)"
    ),
}


def raw_events_factory(carrier_id: int, awbs: Awbs, fx: Fixture) -> Place:
    """The same events written with plain SQL, one transaction each (see the module docstring)."""
    from zoneinfo import ZoneInfo

    import psycopg

    con = psycopg.connect(fx.raw)
    at = datetime.strptime(SCAN_AT, "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo("Asia/Kolkata"))
    key = f"17|{at.isoformat()}|out_for_delivery"
    where = "Bengaluru_Koramangala_DC (Karnataka)"
    tenant = fx.tenant_id

    def place(reference: str, picks: list[int]) -> bool:
        awb = awbs(reference)
        now = datetime.now(UTC)
        row = con.execute(_RAW["shipment"], (tenant, carrier_id, awb)).fetchone()
        if row is None:
            raise RuntimeError(f"no shipment with AWB {awb}")
        shipment_id, order_id = row
        con.execute(_RAW["order"], (tenant, order_id))
        if con.execute(_RAW["event"], (tenant, shipment_id, at, where, "Out for delivery", key, now)).fetchone():
            con.execute(_RAW["status"], (at, now, shipment_id))
            data = json.dumps({"shipment_id": shipment_id, "status": "out_for_delivery", "carrier_status": "17"})
            message = f"Shipment SH{shipment_id:07d} (AWB {awb}): out for delivery at {where}"
            con.execute(_RAW["timeline"], (tenant, order_id, now, message, data))
            payload = json.dumps({"shipment_id": shipment_id, "order_id": order_id, "awb": awb})
            con.execute(_RAW["outbox"], (tenant, payload, now, now))
        con.commit()
        return True

    place.backend_pid = con.info.backend_pid  # type: ignore[attr-defined]
    return place


def warm_server(port: int, tenant: str, prefix: str, connections: int, queued: bool = False) -> int:
    """A few bodies over several connections first: each API process's first requests pay for its
    imports, connections and caches, which a short run must not measure. Uses AWBs 1..connections·10."""
    errors: list[BaseException] = []

    def warm(k: int) -> None:
        try:
            awbs = Awbs(prefix, 0, connections, connections * WARM_PER_CONNECTION)
            place = webhook_factory(port, tenant, awbs, None, queued)  # type: ignore[arg-type]
            for n in range(WARM_PER_CONNECTION):
                place(f"bench:0:{k}:{n}", [])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=warm, args=(k,)) for k in range(connections)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise RuntimeError(f"warming the server up failed: {errors[0]!r}")
    return connections * WARM_PER_CONNECTION


def event_counts(c: Container, tenant_id: int) -> tuple[int, int]:
    with c.engine.connect() as conn:
        events = conn.execute(text("SELECT COUNT(*) FROM shipment_events WHERE tenant_id = :t"), {"t": tenant_id})
        ofd = conn.execute(
            text("SELECT COUNT(*) FROM shipments WHERE tenant_id = :t AND status = 'out_for_delivery'"),
            {"t": tenant_id},
        )
        return int(events.scalar_one()), int(ofd.scalar_one())


def start_worker(url: str) -> subprocess.Popen[bytes]:
    """``ordermesh worker``, draining the carrier inbox every 0.2 s (and not polling the carrier, whose
    base URL here leads nowhere)."""
    env = {**os.environ, "ORDERMESH_DATABASE_URL": url, "ORDERMESH_LOG_LEVEL": "warning",
           "ORDERMESH_TRACKING_INBOX_SECONDS": "0.2", "ORDERMESH_WORKER_POLL_SECONDS": "0.2",
           "ORDERMESH_TRACKING_POLL_MINUTES": "1440"}  # the bench's carrier has no API to poll  # fmt: skip
    return subprocess.Popen([str(ORDERMESH), "worker"], env=env, start_new_session=True, stdout=subprocess.DEVNULL)


def waiting_pushes(c: Container, tenant_id: int) -> int:
    with c.engine.connect() as conn:
        found = conn.execute(
            text("SELECT COUNT(*) FROM carrier_inbox WHERE tenant_id = :t AND state = 'received'"), {"t": tenant_id}
        )
        return int(found.scalar_one())


def tracking_run(
    db: Database, name: str, clients: int, seconds: float, workers: int, shipments: int, run_no: int
) -> float:
    """One run: ``raw`` (SQL), ``http`` (pushes applied in the request) or ``queued`` (pushes stored
    by the API and applied by ``ordermesh worker`` in batches). For queued, the figure is end to end:
    the pushes posted after the warm-up over the time from the window's start until the worker has
    applied every push, so a backlog left at the end of the window counts against it."""
    fx = setup_tenant(db, "trk", n_skus=10, stock=1000)
    c = db.container()
    prefix = f"B{run_no}"
    queued = name == "queued"
    drained_at = 0.0
    try:
        carrier_id = add_carrier(c, fx.tenant_id)
        t0 = time.perf_counter()
        insert_shipments(c, fx, carrier_id, prefix, shipments)
        settle(c)
        print(f"  {name}: {shipments:,} booked shipments written and analyzed in {time.perf_counter() - t0:.1f} s",
              flush=True)  # fmt: skip
        spec = ClientSpec(fx, WARMUP, seconds, str(run_no))
        warmed = 0
        if name == "raw":
            results = run_clients(partial(raw_events_factory, carrier_id, Awbs(prefix, 0, clients, shipments)), spec, clients)  # fmt: skip
        else:
            code = tenant_code(c, fx.tenant_id)
            port = free_port()
            api_processes = max(1, workers - 1) if queued else workers  # queued: the worker takes a core
            env = {"ORDERMESH_WEBHOOKS_INLINE": "false"} if queued else None
            server = start_server(fx.url, port, api_processes, env)
            worker = start_worker(fx.url) if queued else None
            try:
                warmed = warm_server(port, code, prefix, 4 * api_processes, queued)
                awbs = Awbs(prefix, warmed, clients, shipments)
                before = (group_cpu(server.pid), group_cpu(worker.pid) if worker else 0.0, postgres_cpu())
                results = run_clients(partial(webhook_factory, port, code, awbs, queued=queued), spec, clients)
                deadline = time.monotonic() + 120
                while queued and waiting_pushes(c, fx.tenant_id):
                    if time.monotonic() > deadline or (worker is not None and worker.poll() is not None):
                        raise RuntimeError("the worker did not apply every queued push within 120 s")
                    time.sleep(0.02)
                drained_at = time.monotonic()
                after = (group_cpu(server.pid), group_cpu(worker.pid) if worker else 0.0, postgres_cpu())
                spent = [
                    (a - b) * 1000 / max(1, sum(r.placed for r in results)) for a, b in zip(after, before, strict=True)
                ]
            finally:
                if worker is not None:
                    stop_server(worker)
                stop_server(server)
        sent = sum(r.placed for r in results) + warmed
        events, ofd = event_counts(c, fx.tenant_id)
    finally:
        c.close()
    rate = throughput(results, seconds)
    client_ms, server_ms = cpu_per_order(results)
    cpu = f"client CPU/event {client_ms:.2f} ms" + (f", PostgreSQL {server_ms:.2f} ms" if server_ms is not None else "")
    if queued:
        start = min(r.window_start for r in results)
        accepted = rate
        rate = sum(r.measured for r in results) / (drained_at - start)
        cpu = f"accepted {accepted:.0f}/s in the window, all applied {drained_at - start - seconds:.2f} s after it"
        cpu += f"; client CPU/event {client_ms:.2f} ms"
    if name != "raw":
        cpu += (f"; CPU per event: API processes {spent[0]:.2f} ms" + (f", worker {spent[1]:.2f} ms" if queued else "")
                + f", PostgreSQL {spent[2]:.2f} ms")  # fmt: skip
    print(f"  {clients} client(s) {name:6s}: {rate:8.0f} events/s ({cpu}); {sent} sent, {events} events and "
          f"{ofd} shipments out for delivery in the database", flush=True)  # fmt: skip
    if events != sent or ofd != sent:
        raise AssertionError(f"{name}, {clients} clients: {sent} events sent but {events} recorded, {ofd} changed")
    return rate


def tracking(clients_list: list[int], seconds: float, workers: int, shipments: int | None) -> list[tuple[str, ...]]:
    """Each run in a database of its own: a run must not meet what the one before left (the inline
    run's outbox events, which no worker took, would otherwise be the queued run's worker's work)."""
    rows = []
    run_no = 0

    def fresh(run: Callable[[Database], float]) -> float:
        db = open_database("postgresql")
        try:
            return run(db)
        finally:
            db.drop()

    for clients in clients_list:
        run_no += 1
        rates = {"reference": fresh(partial(reference_rate, clients=clients, seconds=seconds, run=str(run_no)))}
        for name in ("raw", "http", "queued"):
            run_no += 1
            # room for 8,000 events/s (the raw baseline is the faster), plus the server's warm-up
            need = shipments or int(8000 * (WARMUP + seconds)) + 4 * workers * WARM_PER_CONNECTION + 1000
            rates[name] = fresh(partial(tracking_run, name=name, clients=clients, seconds=seconds, workers=workers,
                                        shipments=need, run_no=run_no))  # fmt: skip
        best = max(rates["http"], rates["queued"])
        ratio = best / rates["raw"] if rates["raw"] else 0.0
        row = (str(clients), f"{rates['raw']:.0f}", f"{rates['reference']:.0f}")
        row += (f"{rates['http']:.0f}", f"{rates['queued']:.0f}", f"{ratio:.3f}")
        rows.append((*row, verdict(TARGET_EVENTS, best, rates["reference"])))
    return rows


# --- 4. rate shopping -----------------------------------------------------------------------------

ORIGINS = ("421302", "562114", "122001")  # Bhiwandi, Hoskote, Gurugram
DESTINATIONS = (
    "110001", "400001", "560038", "600001", "700019", "411001", "500001", "380001", "302017", "226010",
    "201301", "122018", "421301", "562125", "682001", "781005", "190001", "744101", "795001", "800001",
    "751001", "160017", "452001", "641001", "395003", "440001", "462001", "834001", "248001", "403001",
    "575001", "520001",
)  # fmt: skip


def rate_card_carriers() -> list[Any]:
    from ordermesh.adapters.carriers.base import CarrierConfig
    from ordermesh.adapters.carriers.rate_card import RateCardCarrier

    def zones(first: int, additional: int, names: tuple[str, ...]) -> dict[str, Any]:
        return {
            z: {"first": str(first + 10 * k), "additional": str(additional + 8 * k), "transit_days": 1 + k}
            for k, z in enumerate(names)
        }

    everywhere = ("local", "regional", "metro", "national", "special")
    tariffs = [
        ("fleet", {"name": "City fleet", "first_slab_g": 500, "additional_slab_g": 500,
                   "zones": zones(35, 25, ("local", "regional")), "fuel_surcharge_percent": "8",
                   "cod_supported": True, "cod_percent": "1.5", "cod_minimum": "30", "max_weight_g": 10000}),
        ("courier_a", {"name": "Courier A Surface", "first_slab_g": 500, "additional_slab_g": 500,
                       "zones": zones(40, 30, everywhere), "fuel_surcharge_percent": "12",
                       "cod_supported": True, "cod_percent": "2", "cod_minimum": "35"}),
        ("courier_b", {"name": "Courier B Air", "first_slab_g": 250, "additional_slab_g": 250,
                       "zones": zones(45, 20, everywhere[:4]), "fuel_surcharge_percent": "15",
                       "cod_supported": False, "volumetric_divisor": 4000, "max_weight_g": 30000}),
    ]  # fmt: skip
    return [
        RateCardCarrier(CarrierConfig("", {}, {"tariff": tariff, "carrier_code": code}), None)
        for code, tariff in tariffs
    ]


def rates(seconds: float) -> list[tuple[str, ...]]:
    from ordermesh.adapters.carriers.base import Parcel
    from ordermesh.adapters.pincode_directory import lookup
    from ordermesh.domain import carrier_choice as cc

    carriers = rate_card_carriers()
    destinations = [p for p in DESTINATIONS if lookup(p) is not None]
    if len(destinations) < len(DESTINATIONS):
        print(f"  rates: {len(DESTINATIONS) - len(destinations)} destination pincode(s) not in the directory, left out")
    rng = random.Random(7)
    shops = []
    for _ in range(5000):
        parcel = Parcel(
            Decimal(rng.choice((15, 20, 25, 30, 40))),
            Decimal(rng.choice((10, 15, 20, 25))),
            Decimal(rng.choice((4, 8, 10, 15))),
            rng.randint(150, 12_000),
        )
        shops.append((rng.choice(ORIGINS), rng.choice(destinations), parcel, rng.random() < 0.5, Decimal(rng.randint(299, 4999))))  # fmt: skip
    for origin, destination, parcel, cod, value in shops:  # every lane once: the directory's cache warm
        for carrier in carriers:
            carrier.quote(origin, destination, parcel, cod=cod, declared_value=value)

    def measure(with_choice: bool) -> tuple[int, int, int, float]:
        rules = cc.ChoiceRules.from_dict({})
        calls = quotes = n = 0
        t0 = time.perf_counter()
        end = t0 + seconds
        while time.perf_counter() < end:
            origin, destination, parcel, cod, value = shops[n % len(shops)]
            found = []
            for carrier in carriers:
                found += carrier.quote(origin, destination, parcel, cod=cod, declared_value=value)
            calls += len(carriers)
            quotes += len(found)
            if with_choice:
                cqs = [
                    cc.CarrierQuote(q.carrier, q.service, q.service_name, q.price, q.cod_fee, q.cod, q.etd_days,
                                    q.max_weight_g)
                    for q in found
                ]  # fmt: skip
                weight = max(parcel.weight_g, int(parcel.length_cm * parcel.breadth_cm * parcel.height_cm / 5))
                cc.choose(cqs, cc.ShipmentFacts(cod, value, weight, origin[:3], destination), rules)
            n += 1
        return calls, quotes, n, time.perf_counter() - t0

    rows = []
    for with_choice in (False, True):
        calls, quotes, n, wall = measure(with_choice)
        what = "3 quotes + carrier choice" if with_choice else "3 quotes (adapter + domain)"
        ok = calls / wall >= TARGET_QUOTES
        verdict = f">= {TARGET_QUOTES:.0f}/s: " + ("OK" if ok else "MISSED") if not with_choice else "-"
        print(f"  rates, {what}: {calls / wall:.0f} quote calls/s, {n / wall:.0f} shipments/s, "
              f"{quotes / max(calls, 1):.0%} of calls serviceable", flush=True)  # fmt: skip
        rows.append((what, f"{calls / wall:.0f}", f"{n / wall:.0f}", f"{quotes / max(calls, 1):.0%}", verdict))
    return rows


# --- main -----------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {','.join(PARTS)}")
    ap.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run (labels, tracking, rates)")
    ap.add_argument("--clients", default="1,8", help="tracking: client processes per run")
    ap.add_argument("--workers", type=int, default=2, help="tracking: API processes")
    ap.add_argument("--manifest-shipments", type=int, default=5000)
    ap.add_argument("--shipments", type=int, default=None, help="tracking: booked shipments per run")
    args = ap.parse_args()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    if unknown := set(parts) - set(PARTS):
        ap.error(f"--only: unknown part(s) {', '.join(sorted(unknown))}; use {','.join(PARTS)}")
    clients = [int(x) for x in args.clients.split(",") if x]
    if any(n < 1 or n > 9 for n in clients):
        ap.error("--clients: 1 to 9 client processes")
    out: list[str] = []
    if "labels" in parts:
        rows = labels(args.seconds)
        out.append(
            f"1. 4x6 labels rendered in one process (one core), {args.seconds:g} s:\n"
            + table(("labels", "seconds", "labels/s", "CPU ms each", "bytes each", "target"), rows)
        )
    if "manifest" in parts:
        rows = manifest(args.manifest_shipments)
        out.append("2. One manifest PDF:\n" + table(("shipments", "pages", "MB", "seconds", "CPU s", "target"), rows))
    if "tracking" in parts:
        problem = pg_problem()
        if problem:
            print(f"skipping tracking: {problem}")
        else:
            # The bench seals the carrier's credentials; the server it starts must open them.
            if not os.environ.get("ORDERMESH_CREDENTIALS_KEY"):
                from cryptography.fernet import Fernet

                os.environ["ORDERMESH_CREDENTIALS_KEY"] = Fernet.generate_key().decode()
            rows = tracking(clients, args.seconds, args.workers, args.shipments)
            out.append(
                f"3. Shiprocket tracking webhooks over HTTP (ordermesh serve --no-worker: inline --workers "
                f"{args.workers}, queued --workers {max(1, args.workers - 1)} beside ordermesh worker; "
                f"PostgreSQL), one event per body, {args.seconds:g} s per run:\n"
                + table(
                    (
                        "clients",
                        "raw SQL events/s",
                        "reference orders/s",
                        "inline events/s",
                        "queued events/s",
                        "best/raw",
                        "target",
                    ),
                    rows,
                )
            )
    if "rates" in parts:
        rows = rates(args.seconds)
        out.append(
            f"4. Rate shopping, 3 rate-card carriers, one process, {args.seconds:g} s each:\n"
            + table(("what", "quote calls/s", "shipments/s", "serviceable", "target"), rows)
        )
    print()
    print("\n\n".join(out))
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: stop what we started
    sys.exit(main())
