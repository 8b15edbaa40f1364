"""Stock balances and the ledger. The guarded UPDATEs here are what make overselling impossible:
each movement changes a balance only where the guard still holds, checked by the database in the
same statement, so no read-then-write race exists on SQLite or PostgreSQL."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ordermesh.adapters.db import tables as t
from ordermesh.adapters.db.engine import driver
from ordermesh.adapters.db.tables import sqlite_timestamp
from ordermesh.domain.inventory import Balance, Delta, Guard

BAL = t.StockBalance.__table__
MOV = t.StockMovement.__table__
SKUS = t.Sku.__table__
LOCS = t.Location.__table__


@dataclass(frozen=True)
class GuardedMove:
    """One ledger row to write and the balance change it makes, where ``guard`` holds.

    ``sku_id`` None: resolve ``sku`` (a plain SKU's code) in the statement itself; an unknown code
    or a bundle then makes the whole call refuse, like a failed guard."""

    sku: str
    sku_id: int | None
    location_id: int
    kind: str
    quantity: int
    delta: Delta
    guard: Guard
    reason: str | None
    reference: str | None


_GUARD_CODE = {Guard.NON_NEGATIVE: 0, Guard.COVERS_RESERVED: 1, Guard.AVAILABLE: 2}

# PostgreSQL: every move of a transaction in one statement and one round trip, all or nothing.
# ``locked`` takes the balance rows' locks in key order (so two movements never deadlock) and sees
# their latest committed values; ``verdict`` says whether every guard holds on them; only then do
# ``upd`` and ``mov`` write the balances and the ledger rows. A refusal changes nothing, so callers
# need no savepoint. ``sku_id = ANY (...)`` steers the planner to the primary key (it cannot see
# how few rows the JSON holds). The moves travel as one JSON document (json.dumps is far cheaper
# than the driver's array adaptation), which also keeps the text fixed, so psycopg prepares it once.
_PG_LOCK_SKUS = (
    "SELECT 1 FROM stock_balances WHERE tenant_id = %(tenant)s AND sku_id = ANY(%(ids)s::bigint[]) "
    "ORDER BY sku_id, location_id FOR UPDATE"
)
_PG_APPLY_ALL = """
WITH want AS (
    SELECT coalesce(w.sku_id, (SELECT s.id FROM skus s WHERE s.tenant_id = %(tenant)s AND s.code = w.sku
                                                           AND NOT s.is_bundle)) AS sku_id,
           w.sku, w.location_id, w.d_on_hand, w.d_reserved, w.d_quarantined, w.guard, w.kind, w.quantity,
           w.reason, w.reference, w.ord
    FROM json_to_recordset(%(moves)s::json) AS w(
        sku text, sku_id bigint, location_id bigint, d_on_hand int, d_reserved int, d_quarantined int, guard int,
        kind text, quantity int, reason text, reference text, ord int)
),
total AS (  -- the moves of one balance together (only reservations may share one: see apply_all)
    SELECT sku_id, location_id, min(sku) AS sku, sum(d_on_hand) AS d_on_hand, sum(d_reserved) AS d_reserved,
           sum(d_quarantined) AS d_quarantined, max(guard) AS guard
    FROM want GROUP BY sku_id, location_id
),
locked AS (
    SELECT b.on_hand + w.d_on_hand AS on_hand, b.reserved + w.d_reserved AS reserved,
           b.quarantined + w.d_quarantined AS quarantined, b.safety_stock, w.guard
    FROM stock_balances b JOIN total w ON b.sku_id = w.sku_id AND b.location_id = w.location_id
    WHERE b.tenant_id = %(tenant)s AND b.sku_id = ANY (ARRAY(SELECT sku_id FROM want))
    ORDER BY b.sku_id, b.location_id
    FOR UPDATE OF b
),
verdict AS (
    SELECT count(*) = %(n)s AS ok FROM locked
    WHERE on_hand >= 0 AND reserved >= 0 AND quarantined >= 0
      AND (guard = 0 OR (guard = 1 AND on_hand >= reserved)
           OR (guard = 2 AND on_hand - reserved - safety_stock >= 0))
),
upd AS (
    UPDATE stock_balances b
    SET on_hand = b.on_hand + w.d_on_hand, reserved = b.reserved + w.d_reserved,
        quarantined = b.quarantined + w.d_quarantined, updated_at = %(now)s
    FROM total w, verdict v
    WHERE v.ok AND b.tenant_id = %(tenant)s AND b.sku_id = ANY (ARRAY(SELECT sku_id FROM want))
      AND b.sku_id = w.sku_id AND b.location_id = w.location_id
    RETURNING w.sku, b.location_id, b.on_hand, b.reserved, b.quarantined, b.safety_stock, b.low_stock_threshold,
              b.sku_id
),
mov AS (
    INSERT INTO stock_movements (tenant_id, sku_id, location_id, kind, quantity, d_on_hand, d_reserved,
                                 d_quarantined, reason, reference, actor, created_at)
    SELECT %(tenant)s, w.sku_id, w.location_id, w.kind, w.quantity, w.d_on_hand, w.d_reserved,
           w.d_quarantined, w.reason, w.reference, %(actor)s, %(now)s
    FROM want w, verdict v WHERE v.ok ORDER BY w.ord
)
SELECT * FROM upd
"""


# SQLite: one move. The deltas are applied only where every guard holds on the result; a SKU code
# whose id is not given is resolved here (plain SKUs only), as on PostgreSQL.
_SQLITE_GUARDED = """
UPDATE stock_balances
SET on_hand = on_hand + ?1, reserved = reserved + ?2, quarantined = quarantined + ?3, updated_at = ?4
WHERE tenant_id = ?5 AND location_id = ?6
  AND sku_id = coalesce(?7, (SELECT id FROM skus WHERE tenant_id = ?8 AND code = ?9 AND NOT is_bundle))
  AND on_hand + ?1 >= 0 AND reserved + ?2 >= 0 AND quarantined + ?3 >= 0
  AND CASE ?10 WHEN 1 THEN on_hand + ?1 >= reserved + ?2
               WHEN 2 THEN on_hand + ?1 - reserved - ?2 - safety_stock >= 0
               ELSE 1 END
RETURNING on_hand, reserved, quarantined, safety_stock, low_stock_threshold, sku_id
"""
_SQLITE_LEDGER = (
    "INSERT INTO stock_movements (tenant_id, sku_id, location_id, kind, quantity, d_on_hand, d_reserved, "
    "d_quarantined, reason, reference, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


_BY_LOCATION = (
    select(
        BAL.c.sku_id,
        LOCS.c.code,
        LOCS.c.id,
        BAL.c.on_hand,
        BAL.c.reserved,
        BAL.c.quarantined,
        BAL.c.safety_stock,
        BAL.c.low_stock_threshold,
    )
    .join(LOCS, LOCS.c.id == BAL.c.location_id)
    .where(BAL.c.tenant_id == bindparam("tenant_id"), BAL.c.sku_id.in_(bindparam("sku_ids", expanding=True)))
    .order_by(LOCS.c.priority, LOCS.c.code)
)


@dataclass(frozen=True)
class BalanceAfter:
    balance: Balance
    low_stock_threshold: int | None
    sku_id: int | None = None


@dataclass(frozen=True)
class LocationStock:
    location: str
    location_id: int
    balance: Balance
    low_stock_threshold: int | None


@dataclass(frozen=True)
class LedgerDifference:
    sku: str
    location: str
    sku_id: int
    location_id: int
    balance: tuple[int, int, int]  # on_hand, reserved, quarantined as stored
    ledger: tuple[int, int, int]  # the same, as the ledger sums them


class StockRepository:
    def __init__(self, conn: Connection, tenant_id: int):
        self.conn = conn
        self.tenant_id = tenant_id
        self.dialect = conn.dialect.name

    def ensure_rows(self, pairs: Sequence[tuple[int, int]], now: datetime) -> None:
        """Create zero balances for (sku_id, location_id) pairs that have none yet."""
        if not pairs:
            return
        ins = pg_insert(BAL) if self.dialect == "postgresql" else sqlite_insert(BAL)
        self.conn.execute(
            ins.on_conflict_do_nothing(index_elements=["tenant_id", "sku_id", "location_id"]),
            [
                {
                    "tenant_id": self.tenant_id,
                    "sku_id": s,
                    "location_id": loc,
                    "on_hand": 0,
                    "reserved": 0,
                    "quarantined": 0,
                    "safety_stock": 0,
                    "updated_at": now,
                }
                for s, loc in sorted(set(pairs))
            ],
        )

    def lock_skus(self, sku_ids: Sequence[int]) -> None:
        """Lock these SKUs' balances everywhere, in the order every reservation locks them, before
        a batch reserves for several orders one after another: two batches then never each hold
        a balance the other waits for. SQLite's write transaction is exclusive already."""
        if self.dialect == "postgresql" and sku_ids:
            driver(self.conn).execute(_PG_LOCK_SKUS, {"tenant": self.tenant_id, "ids": sorted(set(sku_ids))}).fetchall()

    def apply_all(
        self, moves: Sequence[GuardedMove], actor: str, now: datetime
    ) -> dict[tuple[str, int], BalanceAfter] | None:
        """Write every move's ledger row and balance change if every guard holds, else nothing.

        Returns the balances after, by (SKU code, location_id), or None when a guard failed or a
        balance row is missing. Several moves may name one (SKU, location) only if each of them
        only adds to what is reserved (reservations for several orders): they are applied as their
        sum, and a guard that holds after the sum held after each of them (on hand stays, the
        reserve only grows). Any other moves must name distinct pairs."""
        if not moves:
            return {}
        shared = Counter((m.sku_id, m.sku, m.location_id) for m in moves)
        if len(shared) != len(moves):
            for m in moves:
                d = m.delta
                if shared[(m.sku_id, m.sku, m.location_id)] > 1 and (d.on_hand or d.quarantined or d.reserved < 0):
                    raise ValueError(f"moves sharing {m.sku}@{m.location_id} must only add to what is reserved")
        if self.dialect == "postgresql":
            return self._apply_all_pg(moves, len(shared), actor, now)
        return self._apply_all_sqlite(moves, actor, now)

    def _apply_all_pg(
        self, moves: Sequence[GuardedMove], balances: int, actor: str, now: datetime
    ) -> dict[tuple[str, int], BalanceAfter] | None:
        # The driver directly, on the unit of work's connection and transaction: this is the
        # reservation hot path, and SQLAlchemy's statement machinery would cost more CPU than the
        # database spends on the statement.
        raw = driver(self.conn)
        params = {
            "moves": json.dumps(
                [
                    {
                        "sku": m.sku,
                        "sku_id": m.sku_id,
                        "location_id": m.location_id,
                        "d_on_hand": m.delta.on_hand,
                        "d_reserved": m.delta.reserved,
                        "d_quarantined": m.delta.quarantined,
                        "guard": _GUARD_CODE[m.guard],
                        "kind": m.kind,
                        "quantity": m.quantity,
                        "reason": m.reason,
                        "reference": m.reference,
                        "ord": i,
                    }
                    for i, m in enumerate(moves)
                ]
            ),
            "tenant": self.tenant_id,
            "n": balances,  # the balances the moves change, each locked and checked once
            "actor": actor,
            "now": now,
        }
        rows = raw.execute(_PG_APPLY_ALL, params).fetchall()
        if not rows:
            return None
        return {(r[0], r[1]): BalanceAfter(Balance(r[2], r[3], r[4], r[5]), r[6], r[7]) for r in rows}

    def _apply_all_sqlite(
        self, moves: Sequence[GuardedMove], actor: str, now: datetime
    ) -> dict[tuple[str, int], BalanceAfter] | None:
        # The driver directly (see _apply_all_pg): a guarded UPDATE per move, undone together
        # through a savepoint (in-process, no I/O) when one finds its guard no longer holds.
        raw = driver(self.conn)
        at = sqlite_timestamp(now)
        out: dict[tuple[str, int], BalanceAfter] = {}
        ledger = []
        raw.execute("SAVEPOINT ordermesh_apply")
        try:
            for m in moves:
                row = raw.execute(
                    _SQLITE_GUARDED,
                    (
                        m.delta.on_hand,
                        m.delta.reserved,
                        m.delta.quarantined,
                        at,
                        self.tenant_id,
                        m.location_id,
                        m.sku_id,
                        self.tenant_id,
                        m.sku,
                        _GUARD_CODE[m.guard],
                    ),
                ).fetchone()
                if row is None:
                    raw.execute("ROLLBACK TO ordermesh_apply")
                    return None
                out[(m.sku, m.location_id)] = BalanceAfter(Balance(row[0], row[1], row[2], row[3]), row[4], row[5])
                ledger.append(
                    (
                        self.tenant_id,
                        row[5],
                        m.location_id,
                        m.kind,
                        m.quantity,
                        m.delta.on_hand,
                        m.delta.reserved,
                        m.delta.quarantined,
                        m.reason,
                        m.reference,
                        actor,
                        at,
                    )
                )
            raw.executemany(_SQLITE_LEDGER, ledger)
        finally:
            raw.execute("RELEASE ordermesh_apply")
        return out

    def read(self, sku_id: int, location_id: int, *, for_update: bool = False) -> tuple[Balance, int | None] | None:
        """One balance. ``for_update`` locks the row on PostgreSQL (SQLite's write transaction is
        already exclusive: BEGIN IMMEDIATE)."""
        stmt = select(
            BAL.c.on_hand, BAL.c.reserved, BAL.c.quarantined, BAL.c.safety_stock, BAL.c.low_stock_threshold
        ).where(BAL.c.tenant_id == self.tenant_id, BAL.c.sku_id == sku_id, BAL.c.location_id == location_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        if row is None:
            return None
        return Balance(row[0], row[1], row[2], row[3]), row[4]

    def set_policy(
        self,
        sku_id: int,
        location_id: int,
        *,
        safety_stock: int | None,
        low_stock_threshold: int | None,
        clear_threshold: bool,
        now: datetime,
    ) -> None:
        values: dict[str, Any] = {"updated_at": now}
        if safety_stock is not None:
            values["safety_stock"] = safety_stock
        if low_stock_threshold is not None or clear_threshold:
            values["low_stock_threshold"] = low_stock_threshold
        self.conn.execute(
            update(BAL)
            .where(BAL.c.tenant_id == self.tenant_id, BAL.c.sku_id == sku_id, BAL.c.location_id == location_id)
            .values(**values)
        )

    def by_location(self, sku_ids: Sequence[int]) -> dict[int, list[LocationStock]]:
        """sku id -> its balance at every location that has one, best location first."""
        if not sku_ids:
            return {}
        rows = self.conn.execute(_BY_LOCATION, {"tenant_id": self.tenant_id, "sku_ids": list(sku_ids)})
        out: dict[int, list[LocationStock]] = {}
        for r in rows:
            out.setdefault(r.sku_id, []).append(
                LocationStock(
                    r.code, r.id, Balance(r.on_hand, r.reserved, r.quarantined, r.safety_stock), r.low_stock_threshold
                )
            )
        return out

    def ledger(
        self, sku_id: int, location_id: int | None, before_id: int | None, limit: int, locations: Sequence[int] | None
    ) -> list[Any]:
        stmt = (
            select(MOV, LOCS.c.code.label("location_code"))
            .join(LOCS, LOCS.c.id == MOV.c.location_id)
            .where(MOV.c.tenant_id == self.tenant_id, MOV.c.sku_id == sku_id)
        )
        if location_id is not None:
            stmt = stmt.where(MOV.c.location_id == location_id)
        if locations is not None:
            stmt = stmt.where(MOV.c.location_id.in_(list(locations)))
        if before_id is not None:
            stmt = stmt.where(MOV.c.id < before_id)
        return list(self.conn.execute(stmt.order_by(MOV.c.id.desc()).limit(limit)))

    def movements_for_reference(self, reference: str) -> list[Any]:
        return list(
            self.conn.execute(
                select(MOV).where(MOV.c.tenant_id == self.tenant_id, MOV.c.reference == reference).order_by(MOV.c.id)
            )
        )

    def lock_all_balances(self) -> None:
        """Stop every movement while balances are rewritten from the ledger (PostgreSQL; SQLite's
        write transaction already excludes other writers)."""
        if self.dialect == "postgresql":
            self.conn.execute(text("LOCK TABLE stock_balances IN SHARE ROW EXCLUSIVE MODE"))

    def differences(self) -> list[LedgerDifference]:
        """Every (SKU, location) whose stored balance differs from what its ledger sums to."""
        # Balances and ledger rows side by side (UNION ALL), summed per (SKU, location): one pass
        # over each table on both databases, where a FULL OUTER JOIN made SQLite rescan the ledger
        # summary for every balance.
        zero = literal(0)
        balances = select(
            BAL.c.sku_id,
            BAL.c.location_id,
            BAL.c.on_hand.label("b_on_hand"),
            BAL.c.reserved.label("b_reserved"),
            BAL.c.quarantined.label("b_quarantined"),
            zero.label("l_on_hand"),
            zero.label("l_reserved"),
            zero.label("l_quarantined"),
        ).where(BAL.c.tenant_id == self.tenant_id)
        movements = select(
            MOV.c.sku_id,
            MOV.c.location_id,
            zero,
            zero,
            zero,
            MOV.c.d_on_hand,
            MOV.c.d_reserved,
            MOV.c.d_quarantined,
        ).where(MOV.c.tenant_id == self.tenant_id)
        both = balances.union_all(movements).subquery("both")
        sums = [
            func.sum(both.c[name])
            for name in ("b_on_hand", "b_reserved", "b_quarantined", "l_on_hand", "l_reserved", "l_quarantined")
        ]
        stmt = (
            select(both.c.sku_id, both.c.location_id, *sums)
            .group_by(both.c.sku_id, both.c.location_id)
            .having(or_(sums[0] != sums[3], sums[1] != sums[4], sums[2] != sums[5]))
        )
        rows = self.conn.execute(stmt).all()
        if not rows:
            return []
        sku_codes = dict(
            self.conn.execute(select(SKUS.c.id, SKUS.c.code).where(SKUS.c.id.in_([r[0] for r in rows]))).all()
        )
        loc_codes = dict(
            self.conn.execute(select(LOCS.c.id, LOCS.c.code).where(LOCS.c.id.in_([r[1] for r in rows]))).all()
        )
        return [
            LedgerDifference(
                sku_codes.get(r[0], f"#{r[0]}"),
                loc_codes.get(r[1], f"#{r[1]}"),
                r[0],
                r[1],
                (int(r[2]), int(r[3]), int(r[4])),
                (int(r[5]), int(r[6]), int(r[7])),
            )
            for r in sorted(rows, key=lambda r: (r[0], r[1]))
        ]

    def overwrite(self, diff: LedgerDifference, now: datetime) -> None:
        """Set one balance to what its ledger says (used only by the repair command)."""
        self.ensure_rows([(diff.sku_id, diff.location_id)], now)
        on_hand, reserved, quarantined = diff.ledger
        self.conn.execute(
            update(BAL)
            .where(
                BAL.c.tenant_id == self.tenant_id, BAL.c.sku_id == diff.sku_id, BAL.c.location_id == diff.location_id
            )
            .values(on_hand=on_hand, reserved=reserved, quarantined=quarantined, updated_at=now)
        )

    def count_movements(self) -> int:
        return int(
            self.conn.execute(
                select(func.count()).select_from(MOV).where(MOV.c.tenant_id == self.tenant_id)
            ).scalar_one()
        )
