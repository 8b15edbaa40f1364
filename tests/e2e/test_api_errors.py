"""Bad input gets the right 4xx problem+json naming the field, and writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.e2e.conftest import Api
from tests.factories import location_payload, sku_payload

PROBLEM = "application/problem+json"


def rows(api: Api, table: str) -> int:
    with api.tenant.uow(write=False) as uow:
        return int(
            uow.conn.execute(
                text(f"SELECT COUNT(*) FROM {table} WHERE tenant_id = :t"), {"t": api.tenant.id}
            ).scalar_one()
        )


def snapshot(api: Api) -> tuple[int, ...]:
    return tuple(
        rows(api, t) for t in ("skus", "locations", "stock_movements", "stock_balances", "audit_log", "outbox")
    )


@pytest.fixture
def stocked(api: Api) -> Api:
    assert api.post("/api/v1/skus", sku_payload("TEE")).status_code == 201
    assert api.post("/api/v1/locations", location_payload("BHW")).status_code == 201
    assert (
        api.post(
            "/api/v1/inventory/movements", {"sku": "TEE", "location": "BHW", "kind": "receipt", "quantity": 3}
        ).status_code
        == 201
    )
    return api


def assert_problem(r, status: int, field: str | None = None, type_: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status and body["detail"] and body["type"].startswith("/problems/")
    if type_:
        assert body["type"] == f"/problems/{type_}"
    if field:
        assert field in [e["field"] for e in body.get("errors", [])], body
    return body


def test_malformed_json_is_400_and_writes_nothing(stocked: Api) -> None:
    before = snapshot(stocked)
    r = stocked.client.post(
        "/api/v1/skus",
        content=b'{"code": "X", "name": ',
        headers={**stocked.headers, "content-type": "application/json"},
    )
    assert_problem(r, 400, type_="malformed-json")
    assert snapshot(stocked) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sku": "NOPE", "location": "BHW", "kind": "receipt", "quantity": 1}, "sku"),
        ({"sku": "TEE", "location": "NOWHERE", "kind": "receipt", "quantity": 1}, "location"),
        ({"sku": "TEE", "location": "BHW", "kind": "receipt", "quantity": 0}, "quantity"),
        ({"sku": "TEE", "location": "BHW", "kind": "receipt", "quantity": -4}, "quantity"),
        ({"sku": "TEE", "location": "BHW", "kind": "receipt", "quantity": 1.5}, "quantity"),
        ({"sku": "TEE", "location": "BHW", "kind": "receipt", "quantity": "2"}, "quantity"),
        ({"sku": "TEE", "location": "BHW", "kind": "adjustment", "quantity": -1}, "reason"),
        ({"sku": "TEE", "location": "BHW", "kind": "teleport", "quantity": 1}, "kind"),
        ({"sku": "TEE", "location": "BHW", "kind": "transfer", "quantity": 1}, "to_location"),
        ({"sku": "TEE", "location": "BHW", "kind": "receipt"}, "quantity"),
        ({"sku": "TEE", "location": "BHW", "kind": "receipt", "quantity": 1, "colour": "red"}, "colour"),
    ],
)
def test_bad_movements_name_the_field_and_write_nothing(stocked: Api, body: dict, field: str) -> None:
    before = snapshot(stocked)
    r = stocked.post("/api/v1/inventory/movements", body)
    assert r.status_code in (404, 422)
    assert_problem(r, r.status_code, field=field)
    assert snapshot(stocked) == before


def test_overdrawing_stock_is_409_with_shortages(stocked: Api) -> None:
    before = snapshot(stocked)
    r = stocked.post(
        "/api/v1/inventory/reservations",
        {"reference": "order:1", "lines": [{"sku": "TEE", "location": "BHW", "quantity": 4}]},
    )
    body = assert_problem(r, 409, type_="insufficient-stock")
    assert body["shortages"] == [{"sku": "TEE", "location": "BHW", "requested": 4, "available": 3}]
    assert snapshot(stocked) == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"gst_rate": 7}, "gst_rate"),
        ({"gst_rate": "eighteen"}, "gst_rate"),
        ({"hsn": "61"}, "hsn"),
        ({"mrp": "-1"}, "mrp"),
        ({"mrp": "12.345"}, "mrp"),
        ({"mrp": True}, "mrp"),
        ({"weight_g": 0}, "weight_g"),
        ({"weight_g": "300"}, "weight_g"),
        ({"dimensions_cm": [10, 20]}, "dimensions_cm"),
        ({"barcodes": ["8901234567891"]}, "barcodes.0"),
        ({"code": "has space"}, "code"),
        ({"components": [{"sku": "MISSING", "quantity": 1}]}, "components.0.sku"),
    ],
)
def test_bad_skus_name_the_field(api: Api, overrides: dict, field: str) -> None:
    before = snapshot(api)
    r = api.post("/api/v1/skus", {**sku_payload("BAD"), **overrides})
    assert_problem(r, 422, field=field)
    assert snapshot(api) == before


def test_missing_sku_fields_are_each_named(api: Api) -> None:
    body = assert_problem(api.post("/api/v1/skus", {"code": "X"}), 422)
    assert {"name", "hsn", "gst_rate", "mrp", "weight_g"} <= {e["field"] for e in body["errors"]}


def test_duplicate_sku_code_is_409(stocked: Api) -> None:
    before = snapshot(stocked)
    assert_problem(stocked.post("/api/v1/skus", sku_payload("TEE")), 409, field="code", type_="already-exists")
    assert snapshot(stocked) == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"gstin": "27AAACE0000E1ZX"}, "gstin"),  # wrong check character
        ({"gstin": "29AAACS0000S1ZB"}, "gstin"),  # valid, but Karnataka's, for a Maharashtra address
        ({"gstin": "27AAACE0000E1Z"}, "gstin"),
        ({"address": {"line1": "x", "city": "Bhiwandi", "state": "MH", "pincode": "42130"}}, "address.pincode"),
        ({"address": {"line1": "x", "city": "Bhiwandi", "state": "MH", "pincode": "560001"}}, "address.pincode"),
        ({"address": {"line1": "x", "city": "Bhiwandi", "state": "Atlantis", "pincode": "421302"}}, "address.state"),
        ({"kind": "spaceport"}, "kind"),
        ({"capabilities": ["teleports"]}, "capabilities.0"),
    ],
)
def test_bad_locations_name_the_field(api: Api, overrides: dict, field: str) -> None:
    before = snapshot(api)
    assert_problem(api.post("/api/v1/locations", location_payload("L1", **overrides)), 422, field=field)
    assert snapshot(api) == before


def test_state_accepts_gst_code_iso_and_name(api: Api) -> None:
    for i, state in enumerate(["27", "MH", "Maharashtra", "maharashtra"]):
        payload = location_payload(
            f"L{i}", address={"line1": "x", "city": "Bhiwandi", "state": state, "pincode": "421302"}
        )
        r = api.post("/api/v1/locations", payload)
        assert r.status_code == 201, r.text
        assert r.json()["address"]["state"] == "27" and r.json()["address"]["state_code"] == "MH"


def test_ten_megabyte_body_is_413_and_writes_nothing(stocked: Api) -> None:
    before = snapshot(stocked)
    huge = b'{"code": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    r = stocked.client.post(
        "/api/v1/skus", content=huge, headers={**stocked.headers, "content-type": "application/json"}
    )
    assert_problem(r, 413, type_="body-too-large")
    assert snapshot(stocked) == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer om_000000000000_wrong"},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_wrong_or_missing_key_is_401(stocked: Api, headers: dict) -> None:
    before = snapshot(stocked)
    r = stocked.client.post("/api/v1/skus", json=sku_payload("NEW"), headers=headers)
    assert_problem(r, 401, type_="unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"
    assert snapshot(stocked) == before


def test_revoked_key_stops_working(stocked: Api) -> None:
    prefix = stocked.key.split("_")[1]
    assert stocked.delete(f"/api/v1/api-keys/{prefix}").status_code == 204
    assert_problem(stocked.get("/api/v1/skus"), 401)


def test_viewer_key_cannot_write(app_client, container) -> None:  # type: ignore[no-untyped-def]
    from tests.e2e.conftest import api_for

    viewer = api_for(app_client, container, role="viewer")
    assert_problem(viewer.post("/api/v1/skus", sku_payload("V")), 403, type_="forbidden")
    assert viewer.get("/api/v1/skus").status_code == 200


def test_unknown_endpoint_is_problem_json(api: Api) -> None:
    assert_problem(api.get("/api/v1/nothing-here"), 404)


def test_bad_cursor_is_422(api: Api) -> None:
    assert_problem(api.get("/api/v1/skus?cursor=!!!"), 422, field="cursor")
