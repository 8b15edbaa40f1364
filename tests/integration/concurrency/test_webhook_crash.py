"""A worker killed (SIGKILL) in the middle of a batch of queued webhooks loses nothing and does
nothing twice: what it was doing is undone with its transaction (no order without its body marked
processed), and after a restart every order exists exactly once, stock is reserved once per order,
and the ledger agrees with the balances. Multi-process behaviour, so PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from ordermesh.adapters.db.engine import normalise_url
from ordermesh.adapters.db.migrate import upgrade
from ordermesh.bootstrap import Container, bootstrap
from ordermesh.config import Settings
from ordermesh.services import channel_sync as cs
from ordermesh.services import channels, inventory
from tests.conftest import PG_URL, TenantCtx, new_tenant
from tests.factories import make_location, make_sku, receive
from tests.fakes.shopify import WEBHOOK_SECRET, fixture_json, order_variant, webhook_headers

WEBHOOKS = 450  # three of the worker's batches (200 a transaction): more than one chance to catch one
KEY = Fernet.generate_key().decode()


@pytest.fixture
def own_pg(db_url: str) -> Iterator[str]:
    """A schema of its own: the workers started here must not meet other tests' outbox events."""
    if not db_url.startswith("postgresql"):
        pytest.skip("several worker processes share one database on PostgreSQL; SQLite runs one")
    schema = f"om_crash_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg(own_pg: str) -> Iterator[Container]:
    c = bootstrap(Settings(database_url=own_pg, credentials_key=KEY, pool_size=5))
    upgrade(c.engine)
    yield c
    c.close()


def _worker(db_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ORDERMESH_DATABASE_URL": db_url,
        "ORDERMESH_CREDENTIALS_KEY": KEY,
        "ORDERMESH_WORKER_LEASE_SECONDS": "2",
        "ORDERMESH_WORKER_POLL_SECONDS": "0.1",
        "ORDERMESH_CHANNEL_INBOX_SECONDS": "0.1",
        "ORDERMESH_LOG_LEVEL": "warning",
    }
    with log.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, "-m", "ordermesh", "worker"], env=env, stdout=out, stderr=out)


def _states(t: TenantCtx) -> dict[str, int]:
    with t.uow(write=False) as uow:
        rows = uow.conn.execute(
            text("SELECT state, count(*) FROM channel_inbox WHERE tenant_id = :t GROUP BY state"), {"t": t.id}
        )
        return {r[0]: int(r[1]) for r in rows}


def _draining(t: TenantCtx) -> bool:
    """A drain batch is half done: the transaction that holds inbox rows locked FOR UPDATE has
    written orders already (not committed)."""
    with t.uow(write=False) as uow:
        held = uow.conn.execute(
            text(
                "SELECT count(*) FROM pg_locks l JOIN pg_locks o ON o.pid = l.pid "
                "WHERE l.relation = 'channel_inbox'::regclass AND l.mode = 'RowShareLock' AND l.granted "
                "AND o.relation = 'orders'::regclass AND o.mode = 'RowExclusiveLock' AND o.granted"
            )
        )
        return int(held.scalar_one()) > 0


def _made(t: TenantCtx) -> tuple[int, int]:
    """Orders in the database, and orders the processed bodies say they made."""
    with t.uow(write=False) as uow:
        orders = uow.conn.execute(text("SELECT count(*) FROM orders WHERE tenant_id = :t"), {"t": t.id}).scalar_one()
        said = uow.conn.execute(
            text("SELECT result FROM channel_inbox WHERE tenant_id = :t AND state = 'processed'"), {"t": t.id}
        ).all()
    return int(orders), sum(len((r[0] if isinstance(r[0], dict) else json.loads(r[0]))["created"]) for r in said)


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(pg: Container, own_pg: str, tmp_path: Path) -> None:
    db_url = own_pg
    log = tmp_path / "worker.log"
    t = new_tenant(pg, "crash")
    make_location(t, "BLR", "KA")
    for sku in ("KRT-COT-BLU-M", "SPK-BT-10W-BLK"):
        make_sku(t, sku, mrp="1999.00")
        receive(t, sku, "BLR", 1000)
    with t.uow() as uow:
        channels.create_channel(
            uow,
            {"code": "shop", "type": "shopify", "name": "Shop", "credentials": {"webhook_secret": WEBHOOK_SECRET}},
            pg.connections.vault,
        )
    # Webhooks stored by the API with ORDERMESH_WEBHOOKS_INLINE=false, for the workers to process.
    sync = cs.Sync(pg.uow, pg.connections, t.id, timedelta(seconds=2), inline=False)
    base = fixture_json("shopify_orders_create.json")
    for n in range(WEBHOOKS):
        phone = f"+91 98{n:08d}"
        order = order_variant(
            base, id=7_000_000_000 + n, financial_status="paid", payment_gateway_names=["razorpay"],
            phone=phone, email=f"buyer{n}@example.com",
        )  # fmt: skip
        order["customer"] = {**order["customer"], "phone": phone, "email": f"buyer{n}@example.com"}
        order["shipping_address"] = {**order["shipping_address"], "phone": phone}
        order["billing_address"] = {**(order.get("billing_address") or {}), "phone": phone}
        body = json.dumps(order).encode()
        sig = base64.b64encode(hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()).decode()
        got = cs.receive_webhook(sync, t.code, "shop", {**webhook_headers(), "X-Shopify-Hmac-Sha256": sig}, body)
        assert got.item_id is not None and not got.processed

    # Kill the worker while it holds a batch of bodies, its orders half made.
    caught = False
    for _ in range(8):
        worker = _worker(db_url, log)
        try:
            deadline = time.monotonic() + 60
            while not _draining(t):
                assert worker.poll() is None, log.read_text()
                assert time.monotonic() < deadline, f"the worker took no batch: {_states(t)}"
                assert _states(t).get("processed", 0) < WEBHOOKS, "every batch ended before one was caught"
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        states = _states(t)
        if states.get("processed", 0) < WEBHOOKS:
            caught = True
            break
    assert caught, "no worker was killed in the middle of a batch"
    # What it was doing went with it: every order there is has its body marked processed.
    orders, said = _made(t)
    assert orders == said < WEBHOOKS

    second = _worker(db_url, log)
    try:
        deadline = time.monotonic() + 90
        while _states(t).get("processed", 0) < WEBHOOKS:
            assert second.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"not everything was processed after the restart: {_states(t)}"
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)

    with t.uow(write=False) as uow:
        orders = uow.conn.execute(
            text("SELECT external_id, count(*) FROM orders WHERE tenant_id = :t GROUP BY external_id"), {"t": t.id}
        ).all()
        received = uow.conn.execute(
            text(
                "SELECT order_id, count(*) FROM order_events WHERE tenant_id = :t AND kind = 'order.received' "
                "GROUP BY order_id"
            ),
            {"t": t.id},
        ).all()
        reserved = uow.conn.execute(
            text("SELECT coalesce(sum(reserved), 0) FROM stock_balances WHERE tenant_id = :t"), {"t": t.id}
        ).scalar()
        allocated = uow.conn.execute(
            text("SELECT coalesce(sum(allocated), 0) FROM order_lines WHERE tenant_id = :t"), {"t": t.id}
        ).scalar()
    assert len(orders) == WEBHOOKS and all(n == 1 for _, n in orders)
    assert len(received) == WEBHOOKS and all(n == 1 for _, n in received)
    assert reserved == allocated == WEBHOOKS * 3  # 2 kurtas + 1 speaker each, reserved once
    with t.uow(write=False) as uow:
        assert inventory.check_ledger(uow) == []
