"""A new order's 201 answer is built from what intake wrote, not read back: it must be exactly
what reading the order gives, in every outcome intake can reach."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Api
from tests.e2e.test_api_orders import order
from tests.factories import location_payload, sku_payload


@pytest.fixture
def shop(api: Api) -> Api:
    for code in ("TEE", "CAP"):
        assert api.post("/api/v1/skus", sku_payload(code)).status_code == 201
    assert api.post("/api/v1/skus", sku_payload("RICH", mrp="25000")).status_code == 201
    assert (
        api.post("/api/v1/skus", {**sku_payload("KIT"), "components": [{"sku": "TEE", "quantity": 2}]}).status_code
        == 201
    )
    assert api.post("/api/v1/locations", location_payload("BHW")).status_code == 201
    assert api.post("/api/v1/locations", location_payload("GGN", "HR")).status_code == 201
    for sku, location, qty in (("TEE", "BHW", 3), ("CAP", "GGN", 5), ("RICH", "BHW", 3), ("TEE", "GGN", 2)):
        r = api.post(
            "/api/v1/inventory/movements", {"sku": sku, "location": location, "kind": "receipt", "quantity": qty}
        )
        assert r.status_code == 201
    return api


CASES: dict[str, dict[str, Any]] = {
    "allocated": order("N1", ("TEE", 2)),
    "split across locations": order("N2", ("TEE", 1), ("CAP", 2)),
    "bundle": order("N3", ("KIT", 1)),
    "out of stock": order("N4", ("TEE", 50)),
    "unmapped SKU": order("N5", ("NOPE", 1)),
    "price above MRP": order("N6", ("TEE", 1), price="5000"),
    "COD risk review": order("N7", ("RICH", 3), method="cod", price="24000"),
    "bad pincode": order(
        "N8",
        shipping_address={"name": "A", "line1": "Flat 1, X Road", "city": "Mumbai", "state": "MH", "pincode": "999999"},
    ),
    "discount, shipping, tags, notes": order(
        "N9",
        ("CAP", 1),
        shipping_charge="49",
        tags=["vip", "gift"],
        notes="leave at the gate",
        lines=[{"sku": "CAP", "quantity": 2, "unit_price": "499.50", "discount": "100.25"}],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_answer_to_a_new_order_is_what_reading_it_gives(shop: Api, case: str) -> None:
    r = shop.post("/api/v1/orders", CASES[case])
    assert r.status_code == 201, r.text
    answered = r.json()
    read = shop.get(f"/api/v1/orders/{answered['id']}").json()
    assert answered == read
