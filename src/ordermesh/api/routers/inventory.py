"""Inventory endpoints: movements, stock by location, the ledger, reservations and policies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from ordermesh.api.deps import UowDep
from ordermesh.api.schemas.common import PROBLEM_RESPONSES
from ordermesh.api.schemas.inventory import (
    CheckOut,
    InventoryOut,
    LedgerPage,
    LocationBalanceOut,
    MovementIn,
    MovementsOut,
    PolicyIn,
    ReservationIn,
    inventory_out,
    location_balance_out,
    movements_out,
)
from ordermesh.services import inventory

router = APIRouter(prefix="/api/v1/inventory", tags=["inventory"], responses=PROBLEM_RESPONSES)


@router.post("/movements", status_code=201, response_model=MovementsOut)
def post_movement(body: MovementIn, uow: UowDep) -> dict[str, Any]:
    """Receipt, adjustment (signed, with a reason), count (set to the counted quantity), transfer
    (to `to_location`), quarantine, unquarantine or write-off."""
    applied = inventory.record_movement(uow, **body.model_dump())
    return movements_out(applied)


@router.post("/reservations", status_code=201, response_model=MovementsOut)
def reserve(body: ReservationIn, uow: UowDep) -> dict[str, Any]:
    """Promise stock to a reference; all lines or none. Bundles reserve their components."""
    lines = [inventory.StockLine(line.sku, line.location, line.quantity) for line in body.lines]
    return movements_out(inventory.reserve_stock(uow, lines, reference=body.reference))


@router.post("/releases", response_model=MovementsOut)
def release(body: ReservationIn, uow: UowDep) -> dict[str, Any]:
    """Withdraw a promise made under `reference`."""
    lines = [inventory.StockLine(line.sku, line.location, line.quantity) for line in body.lines]
    return movements_out(inventory.release_stock(uow, lines, reference=body.reference))


@router.get("/check", response_model=CheckOut)
def check(uow: UowDep) -> dict[str, Any]:
    """Recompute every balance from the ledger and list the differences (read only)."""
    diffs = inventory.check_ledger(uow)
    return {
        "clean": not diffs,
        "differences": [
            {
                "sku": d.sku,
                "location": d.location,
                "balance": dict(zip(("on_hand", "reserved", "quarantined"), d.balance, strict=True)) | {"available": 0},
                "ledger": dict(zip(("on_hand", "reserved", "quarantined"), d.ledger, strict=True)) | {"available": 0},
            }
            for d in diffs
        ],
    }


@router.get("/{sku}", response_model=InventoryOut)
def get_stock(sku: str, uow: UowDep) -> dict[str, Any]:
    return inventory_out(inventory.stock_for_sku(uow, sku))


@router.get("/{sku}/ledger", response_model=LedgerPage)
def get_ledger(
    sku: str,
    uow: UowDep,
    location: str | None = None,
    cursor: str | None = None,
    limit: int | None = Query(None, ge=1, le=200, description="page size, 1-200"),
) -> dict[str, Any]:
    """The SKU's movements, newest first."""
    page = inventory.ledger_page(uow, sku=sku, location=location, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.put("/{sku}/locations/{location}/policy", response_model=LocationBalanceOut)
def set_policy(sku: str, location: str, body: PolicyIn, uow: UowDep) -> dict[str, Any]:
    """Safety stock and low-stock threshold for one SKU at one location."""
    result = inventory.set_stock_policy(uow, sku=sku, location=location, **body.model_dump())
    return location_balance_out(result)
