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
