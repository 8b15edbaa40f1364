"""The physical limit: the same reservation in plain sqlite3 / psycopg 3, no SQLAlchemy.

One transaction per order: a guarded UPDATE per line in sku_id order (rowcount checked), one
multi-row INSERT of the three ledger rows, COMMIT. Same tables, same rows as the service layer's
reservation, minus its audit row and outbox event.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from common import Fixture, Place

ACTOR = "api_key:bench"
GUARD = "on_hand - reserved - safety_stock >= {p}"
UPDATE = (
    "UPDATE stock_balances SET reserved = reserved + {p}, updated_at = {p} "
    "WHERE tenant_id = {p} AND sku_id = {p} AND location_id = {p} AND " + GUARD
)
COLUMNS = (
    "tenant_id, sku_id, location_id, kind, quantity, d_on_hand, d_reserved, d_quarantined, reason, reference, actor, "
    "created_at"
)
ROW = "({p}, {p}, {p}, 'reservation', 1, 0, 1, 0, NULL, {p}, {p}, {p})"
INSERT = f"INSERT INTO stock_movements ({COLUMNS}) VALUES " + ", ".join([ROW] * 3)


def factory(fx: Fixture) -> Place:
    return _sqlite(fx) if fx.kind == "sqlite" else _postgresql(fx)


def _sqlite(fx: Fixture) -> Place:
    con = sqlite3.connect(fx.raw, isolation_level=None, timeout=30)
    # The pragmas ordermesh's engine sets on every connection.
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
        con.execute(f"PRAGMA {pragma}")
    update, insert = UPDATE.format(p="?"), INSERT.format(p="?")
    tenant, loc, ids = fx.tenant_id, fx.location_id, fx.sku_ids

    def place(reference: str, picks: list[int]) -> bool:
        skus = sorted(ids[i] for i in picks)
        # ordermesh stores SQLite timestamps as naive UTC text, as SQLAlchemy's DateTime writes them.
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        con.execute("BEGIN IMMEDIATE")
        for sku in skus:
            if con.execute(update, (1, now, tenant, sku, loc, 1)).rowcount != 1:
                con.execute("ROLLBACK")
                return False
        params: list[object] = []
        for sku in skus:
            params += (tenant, sku, loc, reference, ACTOR, now)
        con.execute(insert, params)
        con.execute("COMMIT")
        return True

    return place


def _postgresql(fx: Fixture) -> Place:
    import psycopg

    con = psycopg.connect(fx.raw)  # not autocommit: the first statement opens the transaction
    update, insert = UPDATE.format(p="%s"), INSERT.format(p="%s")
    tenant, loc, ids = fx.tenant_id, fx.location_id, fx.sku_ids

    def place(reference: str, picks: list[int]) -> bool:
        skus = sorted(ids[i] for i in picks)
        now = datetime.now(UTC)
        for sku in skus:
            if con.execute(update, (1, now, tenant, sku, loc, 1)).rowcount != 1:
                con.rollback()
                return False
        params: list[object] = []
        for sku in skus:
            params += (tenant, sku, loc, reference, ACTOR, now)
        con.execute(insert, params)
        con.commit()
        return True

    place.backend_pid = con.info.backend_pid  # type: ignore[attr-defined]
    return place
