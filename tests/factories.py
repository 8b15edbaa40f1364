"""Builders for test data. Each writes through the service layer, as a user would."""

from __future__ import annotations

import uuid
from typing import Any

from ordermesh.services import catalog, inventory, locations, orders
from tests.conftest import TenantCtx

STATES = {
    "MH": ("Bhiwandi", "421302", "27AAACE0000E1ZM"),
    "HR": ("Gurugram", "122001", None),
    "KA": ("Bengaluru", "560001", "29AAACS0000S1ZB"),
}


def sku_payload(code: str, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": code,
        "name": f"Cotton kurta {code}",
        "hsn": "6109",
        "gst_rate": "5",
        "mrp": "799.00",
        "weight_g": 350,
        "dimensions_cm": [30, 25, 4],
    }
    data.update(overrides)
    return data


def location_payload(code: str, state: str = "MH", **overrides: Any) -> dict[str, Any]:
    city, pincode, gstin = STATES[state]
    data: dict[str, Any] = {
        "code": code,
        "name": f"{city} warehouse",
        "address": {"line1": "Plot 12, Industrial Area", "city": city, "state": state, "pincode": pincode},
        "gstin": gstin,
    }
    data.update(overrides)
    return data


def make_sku(t: TenantCtx, code: str, **overrides: Any) -> None:
    with t.uow() as uow:
        catalog.create_sku(uow, sku_payload(code, **overrides))


def make_bundle(t: TenantCtx, code: str, components: dict[str, int]) -> None:
    make_sku(t, code, components=[{"sku": s, "quantity": q} for s, q in components.items()])


def make_location(t: TenantCtx, code: str, state: str = "MH", **overrides: Any) -> None:
    with t.uow() as uow:
        locations.create_location(uow, location_payload(code, state, **overrides))


def receive(t: TenantCtx, sku: str, location: str, quantity: int) -> None:
    with t.uow() as uow:
        inventory.record_movement(uow, sku=sku, location=location, kind="receipt", quantity=quantity)


def balance(t: TenantCtx, sku: str, location: str) -> inventory.Balance:
    with t.uow(write=False) as uow:
        for row in inventory.stock_for_sku(uow, sku).locations:
            if row.location == location:
                return row.balance
    return inventory.Balance()


def order_payload(
    external_id: str, *, placed_at: str = "2026-11-20T10:00:00+05:30", sku: str = "TEE"
) -> dict[str, Any]:
    """A prepaid one-unit order to Mumbai, from a buyer no other order has."""
    return {
        "channel": "manual",
        "external_id": external_id,
        "placed_at": placed_at,
        "customer": {"name": "Asha", "phone": f"98{uuid.uuid4().int % 10**8:08d}"},
        "shipping_address": {
            "name": "Asha",
            "line1": "Flat 3, Lake View",
            "city": "Mumbai",
            "state": "MH",
            "pincode": "400001",
        },
        "payment": {"method": "prepaid"},
        "lines": [{"sku": sku, "quantity": 1, "unit_price": "499"}],
    }


def place_order(t: TenantCtx, external_id: str, **kw: Any) -> int:
    with t.uow() as uow:
        return orders.ingest_order(uow, order_payload(external_id, **kw)).order_id
