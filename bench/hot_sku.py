"""Hot SKU: every order takes one unit of the same SKU (2,000 available) plus two uniform ones, from
8 clients at once, until the SKU sells out or time is up. Nothing may be oversold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reserve_raw
import reserve_service
from common import (
    ACTOR,
    HOT_SKUS,
    OPENING_STOCK,
    ClientSpec,
    Database,
    Fixture,
    run_clients,
    setup_tenant,
    totals,
    verify,
)
from ordermesh.bootstrap import Container
from ordermesh.services import inventory

AVAILABLE = 2_000
SAFETY_STOCK = 100  # held back: the guard must respect it too


@dataclass
class HotRun:
    variant: str
    clients: int
    orders: int  # reserved in the measured window
    seconds: float  # until the SKU sold out, or the full window
    sold_out: bool

    @property
    def rate(self) -> float:
        return self.orders / self.seconds if self.seconds > 0 else 0.0


def prepare(db: Database) -> Fixture:
    """A fresh tenant whose first HOT_SKUS SKUs have exactly AVAILABLE units available, set through the
    service layer (an adjustment and a safety stock), so the ledger stays the truth."""
    fx = setup_tenant(db, "hot")
    c = db.container()
    try:
        for code in fx.sku_codes[:HOT_SKUS]:
            with c.uow(tenant_id=fx.tenant_id, actor=ACTOR) as uow:
                inventory.record_movement(
                    uow,
                    sku=code,
                    location=fx.location,
                    kind="adjustment",
                    quantity=-(OPENING_STOCK - AVAILABLE - SAFETY_STOCK),
                    reason="benchmark: make this SKU scarce",
                )
            with c.uow(tenant_id=fx.tenant_id, actor=ACTOR) as uow:
                inventory.set_stock_policy(uow, sku=code, location=fx.location, safety_stock=SAFETY_STOCK)
            assert _balance(c, fx, code).available == AVAILABLE
    finally:
        c.close()
    return fx


def _balance(c: Container, fx: Fixture, code: str) -> Any:
    with c.uow(tenant_id=fx.tenant_id, actor=ACTOR, write=False) as uow:
        (row,) = inventory.stock_for_sku(uow, code).locations
        return row.balance


def run(db: Database, fx: Fixture, *, clients: int, warmup: float, seconds: float) -> list[HotRun]:
    """One raw run on hot SKU 0, one service run on hot SKU 1; each verified."""
    out = []
    c = db.container()
    try:
        for hot, (variant, module) in enumerate((("raw", reserve_raw), ("service", reserve_service))):
            before = totals(c, fx.tenant_id)
            spec = ClientSpec(fx, warmup, seconds, run=f"hot-{variant}", hot=hot)
            results = run_clients(module.factory, spec, clients)
            verify(c, fx.tenant_id, before, 3 * sum(r.placed for r in results), f"hot SKU, {variant}")
            bal = _balance(c, fx, fx.sku_codes[hot])
            taken = sum(r.measured for r in results)
            sold_out = any(r.refused for r in results)
            if bal.reserved != taken or bal.reserved > bal.on_hand - bal.safety_stock:
                raise AssertionError(f"hot SKU, {variant}: oversold or miscounted: {bal}, {taken} orders took one")
            if sold_out and bal.available != 0:
                raise AssertionError(f"hot SKU, {variant}: refused while {bal.available} were still available")
            start = min(r.window_start for r in results)
            end = max(r.last_ok for r in results) if sold_out else start + seconds
            out.append(HotRun(variant, clients, sum(r.counted for r in results), end - start, sold_out))
    finally:
        c.close()
    return out
