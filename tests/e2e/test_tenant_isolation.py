"""One tenant's key can neither read nor change another tenant's data: it gets 404, as if the
resource did not exist, so existence does not leak either."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Api
from tests.factories import location_payload, sku_payload


@pytest.fixture
def victim(other_api: Api) -> Api:
    assert other_api.post("/api/v1/skus", sku_payload("SECRET")).status_code == 201
    assert other_api.post("/api/v1/skus", sku_payload("PART")).status_code == 201
    combo = sku_payload("COMBO", components=[{"sku": "PART", "quantity": 2}])
    assert other_api.post("/api/v1/skus", combo).status_code == 201
    assert other_api.post("/api/v1/locations", location_payload("VAULT")).status_code == 201
    receipt = {"sku": "SECRET", "location": "VAULT", "kind": "receipt", "quantity": 10}
    assert other_api.post("/api/v1/inventory/movements", receipt).status_code == 201
    return other_api


def _stock(api: Api) -> dict:
    return api.get("/api/v1/inventory/SECRET").json()["totals"]


def test_reads_of_another_tenants_resources_are_404(api: Api, victim: Api) -> None:
    for path in (
        "/api/v1/skus/SECRET",
        "/api/v1/skus/COMBO",
        "/api/v1/locations/VAULT",
        "/api/v1/inventory/SECRET",
        "/api/v1/inventory/SECRET/ledger",
    ):
        r = api.get(path)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["type"] == "/problems/not-found"


def test_lists_show_nothing_of_another_tenant(api: Api, victim: Api) -> None:
    assert api.get("/api/v1/skus").json()["items"] == []
    assert api.get("/api/v1/skus?query=SECRET").json()["items"] == []
    assert api.get("/api/v1/locations").json()["items"] == []
    assert all(e["entity_key"] != "SECRET" for e in api.get("/api/v1/audit").json()["items"])
    assert api.get("/api/v1/skus/export").text.strip().splitlines()[1:] == []


def test_writes_to_another_tenants_resources_are_404_and_change_nothing(api: Api, victim: Api) -> None:
    before = _stock(victim)
    attempts = [
        api.patch("/api/v1/skus/SECRET", {"name": "pwned"}),
        api.patch("/api/v1/locations/VAULT", {"name": "pwned"}),
        api.post(
            "/api/v1/inventory/movements", {"sku": "SECRET", "location": "VAULT", "kind": "receipt", "quantity": 5}
        ),
        api.post(
            "/api/v1/inventory/movements",
            {"sku": "SECRET", "location": "VAULT", "kind": "adjustment", "quantity": -5, "reason": "x"},
        ),
        api.post(
            "/api/v1/inventory/reservations",
            {"reference": "o1", "lines": [{"sku": "SECRET", "location": "VAULT", "quantity": 1}]},
        ),
        api.post(
            "/api/v1/inventory/releases",
            {"reference": "o1", "lines": [{"sku": "SECRET", "location": "VAULT", "quantity": 1}]},
        ),
        api.put("/api/v1/inventory/SECRET/locations/VAULT/policy", {"safety_stock": 5}),
    ]
    for r in attempts:
        assert r.status_code == 404, r.text
    assert _stock(victim) == before
    assert victim.get("/api/v1/skus/SECRET").json()["name"] != "pwned"
    assert victim.get("/api/v1/locations/VAULT").json()["name"] != "pwned"


def test_same_codes_in_two_tenants_are_independent(api: Api, victim: Api) -> None:
    # given: tenant A makes its own SECRET and VAULT
    assert api.post("/api/v1/skus", sku_payload("SECRET", name="A's own")).status_code == 201
    assert api.post("/api/v1/locations", location_payload("VAULT")).status_code == 201
    # when
    receipt = {"sku": "SECRET", "location": "VAULT", "kind": "receipt", "quantity": 1}
    assert api.post("/api/v1/inventory/movements", receipt).status_code == 201
    # then
    assert _stock(api)["on_hand"] == 1
    assert _stock(victim)["on_hand"] == 10
    assert victim.get("/api/v1/skus/SECRET").json()["name"] != "A's own"


def test_a_bundle_cannot_use_another_tenants_components(api: Api, victim: Api) -> None:
    r = api.post("/api/v1/skus", sku_payload("MINE", components=[{"sku": "PART", "quantity": 1}]))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "components.0.sku"


def test_a_barcode_may_repeat_across_tenants(api: Api, victim: Api) -> None:
    assert victim.patch("/api/v1/skus/SECRET", {"barcodes": ["8901234567890"]}).status_code == 200
    assert api.post("/api/v1/skus", sku_payload("OWN", barcodes=["8901234567890"])).status_code == 201
    assert api.get("/api/v1/skus?query=8901234567890").json()["items"][0]["code"] == "OWN"


def test_location_narrowed_key_sees_only_its_locations(app_client, container, api: Api) -> None:  # type: ignore[no-untyped-def]
    from tests.e2e.conftest import api_for

    # given: two locations with stock, and a warehouse key for Gurugram only
    assert api.post("/api/v1/skus", sku_payload("TEE")).status_code == 201
    assert api.post("/api/v1/locations", location_payload("BHW")).status_code == 201
    assert api.post("/api/v1/locations", location_payload("GGN", state="HR")).status_code == 201
    for loc in ("BHW", "GGN"):
        r = api.post("/api/v1/inventory/movements", {"sku": "TEE", "location": loc, "kind": "receipt", "quantity": 4})
        assert r.status_code == 201
    packer = api_for(app_client, container, role="warehouse", locations=["GGN"], tenant=api.tenant)
    # then
    stock = packer.get("/api/v1/inventory/TEE").json()
    assert [loc["location"] for loc in stock["locations"]] == ["GGN"]
    assert stock["totals"]["on_hand"] == 4
    assert {e["location"] for e in packer.get("/api/v1/inventory/TEE/ledger").json()["items"]} == {"GGN"}
    assert packer.get("/api/v1/locations/BHW").status_code == 404
    r = packer.post("/api/v1/inventory/movements", {"sku": "TEE", "location": "BHW", "kind": "receipt", "quantity": 1})
    assert r.status_code == 404
    r = packer.post("/api/v1/inventory/movements", {"sku": "TEE", "location": "GGN", "kind": "receipt", "quantity": 1})
    assert r.status_code == 201
