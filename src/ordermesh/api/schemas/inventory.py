from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictInt

from ordermesh.adapters.db.stock import LocationStock
from ordermesh.api.schemas.common import Input, PageOut
from ordermesh.domain.inventory import Balance
from ordermesh.services.inventory import Applied, SkuStock


class MovementIn(Input):
    sku: str
    location: str
    kind: Literal["receipt", "adjustment", "count", "transfer", "quarantine", "unquarantine", "write_off"]
    quantity: StrictInt = Field(
        description="receipt/transfer/quarantine: units > 0; adjustment: signed non-zero change; count: counted units >= 0"
    )
    reason: str | None = Field(None, description="required for adjustments")
    to_location: str | None = Field(None, description="destination of a transfer")
    reference: str | None = Field(None, max_length=120, description="your document number (GRN, count sheet)")


class StockLineIn(Input):
    sku: str
    location: str
    quantity: StrictInt = Field(ge=1)


class ReservationIn(Input):
    reference: str = Field(
        min_length=1, max_length=120, description="what the stock is promised to, e.g. an order number"
    )
    lines: list[StockLineIn] = Field(min_length=1)


class PolicyIn(Input):
    safety_stock: StrictInt | None = Field(None, ge=0, description="units held back from sale at this location")
    low_stock_threshold: StrictInt | None = Field(None, ge=0, description="alert when available falls to this")
    clear_threshold: bool = False


class BalanceOut(BaseModel):
    on_hand: int
    reserved: int
    quarantined: int
    available: int


class LocationBalanceOut(BalanceOut):
    location: str
    safety_stock: int
    low_stock_threshold: int | None


class MovementOut(BaseModel):
    sku: str
    location: str
    kind: str
    quantity: int
    before: BalanceOut
    after: BalanceOut


class MovementsOut(BaseModel):
    movements: list[MovementOut]


class InventoryOut(BaseModel):
    sku: str
    is_bundle: bool
    locations: list[LocationBalanceOut]
    totals: BalanceOut


class LedgerEntryOut(BaseModel):
    id: int
    at: datetime
    sku: str
    location: str
    kind: str
    quantity: int
    on_hand_change: int
    reserved_change: int
    quarantined_change: int
    reason: str | None
    reference: str | None
    actor: str


class LedgerPage(PageOut):
    items: list[LedgerEntryOut]


class DifferenceOut(BaseModel):
    sku: str
    location: str
    balance: BalanceOut
    ledger: BalanceOut


class CheckOut(BaseModel):
    clean: bool
    differences: list[DifferenceOut]


def balance_out(b: Balance) -> dict[str, int]:
    return {"on_hand": b.on_hand, "reserved": b.reserved, "quarantined": b.quarantined, "available": b.available}


def location_balance_out(s: LocationStock) -> dict[str, Any]:
    return {
        "location": s.location,
        **balance_out(s.balance),
        "safety_stock": s.balance.safety_stock,
        "low_stock_threshold": s.low_stock_threshold,
    }


def inventory_out(stock: SkuStock) -> dict[str, Any]:
    totals = balance_out(stock.totals)
    totals["available"] = stock.available
    return {
        "sku": stock.sku,
        "is_bundle": stock.is_bundle,
        "locations": [location_balance_out(s) for s in stock.locations],
        "totals": totals,
    }


def movements_out(applied: list[Applied]) -> dict[str, Any]:
    return {
        "movements": [
            {
                "sku": a.change.sku,
                "location": a.change.location,
                "kind": a.change.kind.value,
                "quantity": a.change.quantity,
                "before": balance_out(a.before),
                "after": balance_out(a.after),
            }
            for a in applied
        ]
    }
