from __future__ import annotations

from tests.e2e.conftest import Api
from tests.factories import location_payload


def test_every_tenant_starts_with_a_manual_channel(api: Api) -> None:
    assert [c["code"] for c in api.get("/api/v1/channels").json()] == ["manual"]
    assert api.get("/api/v1/channels/manual").json()["type"] == "manual"


def test_create_and_change_a_channel(api: Api) -> None:
    assert api.post("/api/v1/locations", location_payload("BHW")).status_code == 201
    body = {"code": "shopify-main", "type": "shopify", "name": "Our store", "locations": ["BHW"]}
    r = api.post("/api/v1/channels", body)
    assert r.status_code == 201, r.text
    assert r.json()["locations"] == ["BHW"]
    assert api.patch("/api/v1/channels/shopify-main", {"name": "Main store"}).json()["name"] == "Main store"
    entries = api.get("/api/v1/audit?entity_type=channel&entity_key=shopify-main").json()["items"]
    assert [e["action"] for e in entries] == ["channel.updated", "channel.created"]


def test_bad_channels_name_the_field(api: Api) -> None:
    cases = [
        ({"code": "x", "type": "telegraph", "name": "X"}, 422, "type"),
        ({"code": "x", "type": "shopify", "name": "X", "locations": ["NOWHERE"]}, 404, "locations.0"),
        ({"code": "manual", "type": "manual", "name": "again"}, 409, "code"),
        ({"code": "bad code", "type": "other", "name": "X"}, 422, "code"),
    ]
    for body, status, field in cases:
        r = api.post("/api/v1/channels", body)
        assert r.status_code == status, (body, r.text)
        assert field in [e["field"] for e in r.json()["errors"]]


def test_another_tenants_channel_is_not_found(api: Api, other_api: Api) -> None:
    assert other_api.post("/api/v1/channels", {"code": "amz", "type": "amazon", "name": "Amazon"}).status_code == 201
    assert api.get("/api/v1/channels/amz").status_code == 404
    assert api.patch("/api/v1/channels/amz", {"name": "x"}).status_code == 404


def test_channel_sla_and_routing_settings_are_validated(api: Api) -> None:
    bad = {"code": "x", "type": "amazon", "name": "X", "sla": {"business_days": -1}, "routing": {"colour": "red"}}
    r = api.post("/api/v1/channels", bad)
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert "routing.colour" in fields and any(f.startswith("sla") for f in fields)


def test_orders_get_a_dispatch_deadline_from_their_channel(api: Api) -> None:
    from tests.factories import sku_payload

    sla = {"business_days": 1, "cutoff": "12:00"}
    assert (
        api.post("/api/v1/channels", {"code": "amz", "type": "amazon", "name": "Amazon", "sla": sla}).status_code == 201
    )
    assert api.post("/api/v1/skus", sku_payload("TEE")).status_code == 201
    body = {
        "channel": "amz",
        "external_id": "402-1",
        "placed_at": "2026-11-26T13:00:00+05:30",  # a Thursday, after the 12:00 cut-off
        "customer": {"name": "Asha"},
        "shipping_address": {"name": "Asha", "line1": "12 MG Road", "city": "Pune", "state": "MH", "pincode": "411001"},
        "payment": {"method": "prepaid"},
        "lines": [{"sku": "TEE", "quantity": 1, "unit_price": "499"}],
    }
    r = api.post("/api/v1/orders", body)
    assert r.status_code == 201, r.text
    assert r.json()["dispatch_by"].startswith("2026-11-28T18:29:59")  # Saturday 23:59:59 IST


def test_routing_switches_must_be_real_booleans_and_known_strategies(api: Api) -> None:
    body = {"code": "y", "type": "other", "name": "Y", "routing": {"allow_split": "false", "strategy": "random"}}
    r = api.post("/api/v1/channels", body)
    assert r.status_code == 422
    assert {"routing.allow_split", "routing.strategy"} <= {e["field"] for e in r.json()["errors"]}
