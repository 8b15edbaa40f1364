from tests.e2e.conftest import Api
from tests.factories import location_payload, sku_payload


def test_create_receive_and_read_stock(api: Api) -> None:
    # given
    assert api.post("/api/v1/skus", sku_payload("TEE-M")).status_code == 201
    assert api.post("/api/v1/locations", location_payload("BHW")).status_code == 201
    # when
    r = api.post("/api/v1/inventory/movements", {"sku": "TEE-M", "location": "BHW", "kind": "receipt", "quantity": 5})
    # then
    assert r.status_code == 201, r.text
    stock = api.get("/api/v1/inventory/TEE-M").json()
    assert stock["totals"] == {"on_hand": 5, "reserved": 0, "quarantined": 0, "available": 5}
    assert stock["locations"][0]["location"] == "BHW"
