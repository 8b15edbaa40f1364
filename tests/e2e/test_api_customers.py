"""One customer across channels; erasure on request; per-tenant risk rules."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Api, api_for
from tests.e2e.test_api_orders import order


def test_orders_from_one_phone_however_written_are_one_customer(api: Api) -> None:
    from tests.factories import location_payload, sku_payload

    api.post("/api/v1/skus", sku_payload("TEE"))
    api.post("/api/v1/locations", location_payload("BHW"))
    api.post("/api/v1/channels", {"code": "shop", "type": "shopify", "name": "Store"})
    a = api.post("/api/v1/orders", order("C1", customer={"name": "Priya", "phone": "+91-98765-43210"})).json()
    b = api.post(
        "/api/v1/orders", order("C2", channel="shop", customer={"name": "Priya S", "phone": "098765 43210"})
    ).json()
    assert a["customer"]["id"] == b["customer"]["id"]
    profile = api.get(f"/api/v1/customers/{a['customer']['id']}").json()
    assert profile["phone"] == "+919876543210" and profile["orders"] == 2
    assert {o["external_id"] for o in profile["recent_orders"]} == {"C1", "C2"}


def test_erasure_anonymises_the_person_and_keeps_the_order(api: Api, app_client: Any, container: Any) -> None:
    placed = api.post("/api/v1/orders", order("E1", ("NOPE", 1))).json()
    customer_id = placed["customer"]["id"]
    ops = api_for(app_client, container, role="ops", tenant=api.tenant)
    assert ops.post(f"/api/v1/customers/{customer_id}/erase", {"reason": "buyer's email request"}).status_code == 403
    assert api.post(f"/api/v1/customers/{customer_id}/erase", {"reason": "buyer's email request"}).status_code == 204
    profile = api.get(f"/api/v1/customers/{customer_id}").json()
    assert profile["erased"] is True and profile["phone"] is None and profile["email"] is None
    kept = api.get(f"/api/v1/orders/{placed['id']}").json()
    assert kept["customer"]["phone"] is None and kept["shipping_address"]["line1"] == "Erased"
    assert kept["shipping_address"]["pincode"] == "400001" and kept["totals"] == placed["totals"]
    audit = api.get("/api/v1/audit?entity_type=customer").json()["items"]
    assert audit[0]["action"] == "customer.erased"
    assert api.post(f"/api/v1/customers/{customer_id}/erase", {"reason": "again"}).status_code == 409


def test_risk_rules_are_stored_validated_and_audited(api: Api) -> None:
    defaults = api.get("/api/v1/settings/risk").json()
    assert defaults["hold_at"] == 60
    r = api.put("/api/v1/settings/risk", {**defaults, "cod_cap": "2000.00"})
    assert r.status_code == 200 and r.json()["cod_cap"] == "2000.00"
    bad = api.put("/api/v1/settings/risk", {"hold_at": "often"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "hold_at"
    entries = api.get("/api/v1/audit?entity_type=settings").json()["items"]
    assert entries[0]["before"]["cod_cap"] == "10000.00" and entries[0]["after"]["cod_cap"] == "2000.00"


def test_a_stricter_cod_cap_holds_orders_that_passed_before(api: Api) -> None:
    from tests.factories import location_payload, sku_payload

    api.post("/api/v1/skus", sku_payload("TEE"))
    api.post("/api/v1/locations", location_payload("BHW"))
    api.post("/api/v1/inventory/movements", {"sku": "TEE", "location": "BHW", "kind": "receipt", "quantity": 9})
    rules = {**api.get("/api/v1/settings/risk").json(), "cod_cap": "100.00", "cod_cap_points": 60}
    api.put("/api/v1/settings/risk", rules)
    held = api.post("/api/v1/orders", order("K1", method="cod")).json()
    assert [h["reason"] for h in held["holds"]] == ["risk_review"]
