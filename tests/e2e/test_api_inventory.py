"""The inventory API end to end: bundles, reservations, policies, the ledger, audit and alerts."""

from __future__ import annotations

from tests.e2e.conftest import Api
from tests.factories import location_payload, sku_payload


def setup_stock(api: Api) -> None:
    for code in ("TEE", "CAP"):
        assert api.post("/api/v1/skus", sku_payload(code)).status_code == 201
    combo = sku_payload("COMBO", components=[{"sku": "TEE", "quantity": 1}, {"sku": "CAP", "quantity": 2}])
    assert api.post("/api/v1/skus", combo).status_code == 201
    assert api.post("/api/v1/locations", location_payload("BHW")).status_code == 201
    assert api.post("/api/v1/locations", location_payload("BLR", state="KA")).status_code == 201
    for sku, qty in (("TEE", 10), ("CAP", 7)):
        r = api.post("/api/v1/inventory/movements", {"sku": sku, "location": "BHW", "kind": "receipt", "quantity": qty})
        assert r.status_code == 201


def test_sku_round_trip_with_exact_money(api: Api) -> None:
    r = api.post("/api/v1/skus", sku_payload("SAREE", mrp=1299.5, gst_rate=0.25, barcodes=["8901234567890"]))
    assert r.status_code == 201, r.text
    body = api.get("/api/v1/skus/SAREE").json()
    assert body["mrp"] == "1299.50" and body["gst_rate"] == "0.25"
    assert body["dimensions_cm"] == ["30", "25", "4"] and body["barcodes"] == ["8901234567890"]
    patched = api.patch("/api/v1/skus/SAREE", {"mrp": "1399"}).json()
    assert patched["mrp"] == "1399.00" and patched["version"] == 2
    assert api.patch("/api/v1/skus/SAREE", {"code": "OTHER"}).status_code == 422


def test_bundle_availability_is_the_min_over_components(api: Api) -> None:
    setup_stock(api)
    combo = api.get("/api/v1/inventory/COMBO").json()
    assert combo["is_bundle"] is True
    assert combo["totals"]["available"] == 3  # min(10 // 1, 7 // 2)
    assert (
        api.post(
            "/api/v1/inventory/movements", {"sku": "COMBO", "location": "BHW", "kind": "receipt", "quantity": 1}
        ).status_code
        == 422
    )


def test_reserving_a_bundle_reserves_its_components_and_release_undoes_it(api: Api) -> None:
    setup_stock(api)
    lines = [{"sku": "COMBO", "location": "BHW", "quantity": 2}, {"sku": "TEE", "location": "BHW", "quantity": 1}]
    r = api.post("/api/v1/inventory/reservations", {"reference": "order:42", "lines": lines})
    assert r.status_code == 201, r.text
    assert {m["sku"]: m["quantity"] for m in r.json()["movements"]} == {"TEE": 3, "CAP": 4}
    assert api.get("/api/v1/inventory/TEE").json()["totals"]["reserved"] == 3
    assert api.get("/api/v1/inventory/COMBO").json()["totals"]["available"] == 1
    # a release can give back only what the reference holds
    too_much = {"reference": "order:42", "lines": [{"sku": "TEE", "location": "BHW", "quantity": 4}]}
    assert api.post("/api/v1/inventory/releases", too_much).status_code == 409
    r = api.post("/api/v1/inventory/releases", {"reference": "order:42", "lines": lines})
    assert r.status_code == 200, r.text
    assert api.get("/api/v1/inventory/TEE").json()["totals"]["reserved"] == 0


def test_transfer_moves_stock_between_locations(api: Api) -> None:
    setup_stock(api)
    r = api.post(
        "/api/v1/inventory/movements",
        {"sku": "TEE", "location": "BHW", "kind": "transfer", "quantity": 4, "to_location": "BLR"},
    )
    assert r.status_code == 201
    by_loc = {loc["location"]: loc["on_hand"] for loc in api.get("/api/v1/inventory/TEE").json()["locations"]}
    assert by_loc == {"BHW": 6, "BLR": 4}


def test_safety_stock_and_low_stock_alert(api: Api, container) -> None:  # type: ignore[no-untyped-def]
    from ordermesh.worker.main import Worker

    setup_stock(api)
    r = api.put("/api/v1/inventory/TEE/locations/BHW/policy", {"safety_stock": 2, "low_stock_threshold": 5})
    assert r.status_code == 200 and r.json()["available"] == 8
    # when availability drops to the threshold
    adjust = {"sku": "TEE", "location": "BHW", "kind": "adjustment", "quantity": -3, "reason": "damaged in storage"}
    assert api.post("/api/v1/inventory/movements", adjust).status_code == 201
    while Worker(container).run_once():
        pass
    # then an alert is open for it, once
    alerts = api.get("/api/v1/alerts").json()
    assert [a["subject"] for a in alerts] == ["TEE@BHW"]
    # and it resolves when stock comes back
    assert (
        api.post(
            "/api/v1/inventory/movements", {"sku": "TEE", "location": "BHW", "kind": "receipt", "quantity": 10}
        ).status_code
        == 201
    )
    while Worker(container).run_once():
        pass
    assert api.get("/api/v1/alerts").json() == []


def test_ledger_pages_newest_first_with_a_cursor(api: Api) -> None:
    setup_stock(api)
    for i in range(5):
        assert (
            api.post(
                "/api/v1/inventory/movements", {"sku": "TEE", "location": "BHW", "kind": "receipt", "quantity": i + 1}
            ).status_code
            == 201
        )
    first = api.get("/api/v1/inventory/TEE/ledger?limit=4").json()
    assert [e["quantity"] for e in first["items"]] == [5, 4, 3, 2]
    second = api.get(f"/api/v1/inventory/TEE/ledger?limit=4&cursor={first['next_cursor']}").json()
    assert [e["quantity"] for e in second["items"]] == [1, 10]
    assert second["next_cursor"] is None


def test_every_change_is_in_the_audit_trail(api: Api) -> None:
    setup_stock(api)
    api.patch("/api/v1/skus/TEE", {"name": "Plain tee"})
    entries = api.get("/api/v1/audit?entity_type=sku&entity_key=TEE").json()["items"]
    assert [e["action"] for e in entries] == ["sku.updated", "sku.created"]
    assert entries[0]["before"] == {"name": "Cotton kurta TEE"} and entries[0]["after"] == {"name": "Plain tee"}
    assert entries[0]["actor"].startswith("api_key:")
    stock_entries = api.get("/api/v1/audit?entity_type=stock").json()["items"]
    assert {e["action"] for e in stock_entries} == {"inventory.receipt"}


def test_sku_search_and_paging(api: Api) -> None:
    for i in range(7):
        assert api.post("/api/v1/skus", sku_payload(f"KURTA-{i}", name=f"Kurta {i}")).status_code == 201
    assert api.post("/api/v1/skus", sku_payload("MUG", name="Steel mug", barcodes=["8901234567890"])).status_code == 201
    page = api.get("/api/v1/skus?query=kurta&limit=5").json()
    assert [s["code"] for s in page["items"]] == [f"KURTA-{i}" for i in range(5)]
    rest = api.get(f"/api/v1/skus?query=kurta&limit=5&cursor={page['next_cursor']}").json()
    assert [s["code"] for s in rest["items"]] == ["KURTA-5", "KURTA-6"] and rest["next_cursor"] is None
    assert [s["code"] for s in api.get("/api/v1/skus?query=8901234567890").json()["items"]] == ["MUG"]


def test_csv_import_reports_every_bad_row_and_export_round_trips(api: Api) -> None:
    bad = (
        "code,name,hsn,gst_rate,mrp,weight_g,barcodes,components\n"
        "A1,Tee,6109,5,499,200,,\n"
        "A2,Cap,61,5,299,100,,\n"
        "A3,Mug,6912,7,199,abc,,\n"
        "A1,Dup,6109,5,1,1,,\n"
    )
    r = api.client.post(
        "/api/v1/skus/import", content=bad.encode(), headers={**api.headers, "content-type": "text/csv"}
    )
    assert r.status_code == 422
    rows = [(x["line"], x["column"]) for x in r.json()["rows"]]
    assert rows == [(3, "hsn"), (4, "gst_rate"), (4, "weight_g"), (5, "code")]
    assert api.get("/api/v1/skus").json()["items"] == []
    good = "code,name,hsn,gst_rate,mrp,weight_g,components\nA1,Tee,6109,5,499,200,\nB1,Combo,6109,5,699,400,A1:2\n"
    r = api.client.post(
        "/api/v1/skus/import", content=good.encode(), headers={**api.headers, "content-type": "text/csv"}
    )
    assert r.status_code == 200 and r.json()["created"] == 2, r.text
    exported = api.get("/api/v1/skus/export").text
    r = api.client.post(
        "/api/v1/skus/import", content=exported.encode(), headers={**api.headers, "content-type": "text/csv"}
    )
    assert r.json() == {"created": 0, "updated": 0, "unchanged": 2, "rejected_rows": []}


def test_check_endpoint_is_clean(api: Api) -> None:
    setup_stock(api)
    assert api.get("/api/v1/inventory/check").json() == {"clean": True, "differences": []}
