"""Shipping over HTTP, through the app's test client, on SQLite and PostgreSQL: the own fleet from
order to doorstep (scan-verified packing, invoice, booking, label, manifest, statuses), Shiprocket
booking and its tracking webhook (token checked), NDR actions, the public tracking page without
personal data, and who may do what."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ordermesh.bootstrap import Container
from tests.e2e.conftest import Api, api_for
from tests.factories import location_payload, sku_payload
from tests.fakes.shiprocket import EMAIL, PASSWORD, FakeShiprocket

PROBLEM = "application/problem+json"
KURTA_BARCODE = "8901234567890"
TARIFF = {
    "name": "City fleet",
    "first_slab_g": 500,
    "additional_slab_g": 500,
    "zones": {
        z: {"first": "40", "additional": "30", "transit_days": 2} for z in ("local", "regional", "metro", "national")
    },
    "fuel_surcharge_percent": "10",
    "cod_supported": True,
    "cod_percent": "2",
    "cod_minimum": "35",
}


@pytest.fixture
def fake() -> Iterator[FakeShiprocket]:
    with FakeShiprocket() as server:
        yield server


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def warehouse(api: Api) -> None:
    """A Pune warehouse (its name is the pickup location registered with Shiprocket), two SKUs, stock."""
    location = location_payload(
        "PUN",
        "MH",
        name="Pune Warehouse",
        address={"line1": "Plot 7, MIDC", "city": "Pune", "state": "MH", "pincode": "411028"},
    )
    ok(api.post("/api/v1/locations", location), 201)
    ok(api.post("/api/v1/skus", sku_payload("KURTA", mrp="999.00", barcodes=[KURTA_BARCODE])), 201)
    ok(api.post("/api/v1/skus", sku_payload("MUG", mrp="499.00", gst_rate="18")), 201)
    for sku in ("KURTA", "MUG"):
        r = api.post("/api/v1/inventory/movements", {"sku": sku, "location": "PUN", "kind": "receipt", "quantity": 10})
        assert r.status_code in (200, 201), r.text


def fleet(api: Api) -> dict[str, Any]:
    body = {
        "code": "fleet",
        "kind": "rate_card",
        "name": "Pune City Fleet",
        "settings": {"tariff": TARIFF, "awb_prefix": "PF", "awb_width": 8},
    }
    return ok(api.post("/api/v1/carriers", body), 201)  # type: ignore[no-any-return]


def place(api: Api, ext: str, method: str = "prepaid") -> int:
    body = {
        "channel": "manual",
        "external_id": ext,
        "placed_at": "2026-11-26T10:00:00+05:30",
        "customer": {"name": "Priya Raman", "phone": "9845012345"},
        "shipping_address": {
            "name": "Priya Raman",
            "line1": "Flat 12B, Example Residency",
            "city": "Bengaluru",
            "state": "KA",
            "pincode": "560038",
            "phone": "9845012345",
        },
        "payment": {"method": method},
        "lines": [
            {"sku": "KURTA", "quantity": 2, "unit_price": "899"},
            {"sku": "MUG", "quantity": 1, "unit_price": "399"},
        ],
    }
    order = ok(api.post("/api/v1/orders", body), 201)
    assert order["status"] == "allocated", order
    return int(order["id"])


def packed(api: Api, order_id: int) -> dict[str, Any]:
    [shipment] = ok(api.post(f"/api/v1/orders/{order_id}/shipments"), 201)
    for code in (KURTA_BARCODE, "KURTA", "MUG"):
        assert ok(api.post(f"/api/v1/shipments/{shipment['id']}/scan", {"barcode": code}))["accepted"]
    return ok(  # type: ignore[no-any-return]
        api.post(f"/api/v1/shipments/{shipment['id']}/pack", {"weight_g": 900, "dimensions_cm": [30, 20, "10"]})
    )


def test_the_own_fleet_from_order_to_doorstep(api: Api) -> None:
    warehouse(api)
    carrier = fleet(api)
    assert carrier["credentials_set"] is False and "credentials" not in carrier
    assert [c["code"] for c in ok(api.get("/api/v1/carriers"))] == ["fleet"]
    order_id = place(api, "F1", method="cod")

    [shipment] = ok(api.post(f"/api/v1/orders/{order_id}/shipments"), 201)
    sid = shipment["id"]
    assert (shipment["status"], shipment["location"], len(shipment["lines"])) == ("created", "PUN", 2)
    assert ok(api.get(f"/api/v1/orders/{order_id}"))["status"] == "in_fulfilment"

    # the pack station: a wrong barcode is refused with a message, not an error
    wrong = ok(api.post(f"/api/v1/shipments/{sid}/scan", {"barcode": "4006381333931"}))
    assert wrong == {
        "accepted": False,
        "message": "barcode 4006381333931 is not in this shipment",
        "complete": False,
        "remaining": wrong["remaining"],
    }
    r = api.post(f"/api/v1/shipments/{sid}/scan", {"code": KURTA_BARCODE})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert {e["field"] for e in r.json()["errors"]} >= {"barcode"}
    assert ok(api.post(f"/api/v1/shipments/{sid}/scan", {"barcode": KURTA_BARCODE}))["message"] == "KURTA: 1 of 2"
    early = api.post(f"/api/v1/shipments/{sid}/pack", {"weight_g": 900, "dimensions_cm": [30, 20, 10]})
    assert early.status_code == 409 and "KURTA: 1 more; MUG: 1 more" in early.json()["detail"]
    ok(api.post(f"/api/v1/shipments/{sid}/scan", {"barcode": "KURTA"}))
    done = ok(api.post(f"/api/v1/shipments/{sid}/scan", {"barcode": "MUG"}))
    assert done["accepted"] and done["complete"]
    bad = api.post(f"/api/v1/shipments/{sid}/pack", {"weight_g": 900, "dimensions_cm": [30, 20, "tall"]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "dimensions_cm.2"

    box = ok(api.post(f"/api/v1/shipments/{sid}/pack", {"weight_g": 900, "dimensions_cm": [30, 20, 10]}))
    assert (box["status"], box["chargeable_weight_g"], box["invoice_number"]) == ("packed", 1200, "INV/26-27/000001")

    booked = ok(api.post(f"/api/v1/shipments/{sid}/book", {}))
    assert (booked["status"], booked["carrier"], booked["awb"]) == ("ready_to_ship", "fleet", "PF00000001")
    assert booked["selection"]["chosen"].startswith("fleet/")
    assert all(o["sentence"] for o in booked["selection"]["outcomes"])
    assert booked["estimated_delivery"] is not None

    for doc in ("label.pdf", "invoice.pdf"):
        r = api.get(f"/api/v1/shipments/{sid}/{doc}")
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert r.content.startswith(b"%PDF")
    r = api.get(f"/api/v1/shipments/{sid}/carrier-label.pdf")  # the own fleet makes none
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM

    manifest = ok(
        api.post("/api/v1/manifests", {"carrier": "fleet", "location": "PUN", "pickup_date": "2026-11-27"}), 201
    )
    assert manifest["shipments"] == 1 and manifest["pickup_error"] is None
    r = api.get(f"/api/v1/manifests/{manifest['manifest_id']}.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    assert ok(api.get(f"/api/v1/shipments/{sid}"))["status"] == "manifested"
    again = api.post("/api/v1/manifests", {"carrier": "fleet", "location": "PUN", "pickup_date": "2026-11-27"})
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "shipments"

    moved = ok(api.post(f"/api/v1/shipments/{sid}/events", {"status": "picked_up", "location": "Pune hub"}))
    assert (moved["changed"], moved["shipment"]["status"]) == (1, "picked_up")
    assert ok(api.get(f"/api/v1/orders/{order_id}"))["status"] == "shipped"
    backwards = api.post(f"/api/v1/shipments/{sid}/events", {"status": "packed"})
    assert backwards.status_code == 409 and backwards.json()["errors"][0]["field"] == "status"
    ok(api.post(f"/api/v1/shipments/{sid}/events", {"status": "delivered", "location": "Bengaluru"}))
    assert ok(api.get(f"/api/v1/orders/{order_id}"))["status"] == "delivered"

    listed = ok(api.get("/api/v1/shipments", params={"status": "delivered", "carrier": "fleet", "location": "PUN"}))
    assert [s["id"] for s in listed["items"]] == [sid] and listed["next_cursor"] is None
    r = api.get("/api/v1/shipments", params={"carrier": "nobody"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "carrier"
    [accuracy] = ok(api.get("/api/v1/reports/delivery-estimates"))
    assert (accuracy["carrier"], accuracy["delivered"]) == ("fleet", 1)


def test_the_public_tracking_page_shows_the_journey_and_nothing_personal(api: Api) -> None:
    warehouse(api)
    fleet(api)
    sid = packed(api, place(api, "T1"))["id"]
    token = ok(api.post(f"/api/v1/shipments/{sid}/book", {}))["tracking_token"]
    ok(api.post(f"/api/v1/shipments/{sid}/events", {"status": "picked_up", "location": "Pune hub"}))
    ok(api.post(f"/api/v1/shipments/{sid}/events", {"status": "in_transit", "location": "Bengaluru hub"}))

    anonymous = api.client
    data = ok(anonymous.get(f"/api/v1/track/{token}"))
    assert (data["status"], data["awb"], data["carrier"]) == ("in_transit", "PF00000001", "City fleet")
    assert [e["location"] for e in data["events"]] == ["Pune hub", "Bengaluru hub"]
    page = anonymous.get(f"/track/{token}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "In transit" in html and "PF00000001" in html and "Bengaluru hub" in html
    for personal in ("Priya", "Example Residency", "9845012345", "560038"):
        assert personal not in html and personal not in json.dumps(data)

    missing = anonymous.get("/track/" + "x" * 43, headers={"Accept": "text/html"})
    assert missing.status_code == 404 and "Tracking link not found" in missing.text
    r = anonymous.get("/api/v1/track/" + "x" * 43)
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM and r.json()["errors"][0]["field"] == "token"


def shiprocket(api: Api, fake: FakeShiprocket) -> dict[str, Any]:
    body = {
        "code": "sr",
        "kind": "shiprocket",
        "name": "Shiprocket",
        "base_url": fake.url,
        "credentials": {"email": EMAIL, "password": PASSWORD, "webhook_token": "sr-token"},
        "settings": {"fallback_email": "orders@example.in"},
    }
    return ok(api.post("/api/v1/carriers", body), 201)  # type: ignore[no-any-return]


def push(awb: str, code: str, label: str, activity: str, at: str) -> bytes:
    """A Shiprocket tracking webhook body (at: 'DD MM YYYY HH:MM:SS')."""
    return json.dumps(
        {
            "awb": awb,
            "current_status": label.upper(),
            "shipment_status": label,
            "shipment_status_id": int(code),
            "current_timestamp": at,
            "order_id": "x",
            "scans": [
                {
                    "date": f"{at[6:10]}-{at[3:5]}-{at[0:2]}{at[10:]}",
                    "status": code,
                    "activity": activity,
                    "location": "Bengaluru",
                    "sr-status": code,
                    "sr-status-label": label,
                }
            ],
        }
    ).encode()


def test_shiprocket_books_and_its_webhook_is_checked_by_token(api: Api, fake: FakeShiprocket) -> None:
    warehouse(api)
    carrier = shiprocket(api, fake)
    assert carrier["credentials_set"] is True and "sr-token" not in json.dumps(carrier)
    assert "sr-token" not in ok(api.get("/api/v1/carriers")).__repr__()
    order_id = place(api, "S1")
    sid = packed(api, order_id)["id"]

    booked = ok(api.post(f"/api/v1/shipments/{sid}/book", {"carrier": "sr"}))
    awb = booked["awb"]
    assert booked["carrier"] == "sr" and awb in fake.by_awb and booked["selection"]["chosen"].startswith("sr/")
    r = api.get(f"/api/v1/shipments/{sid}/carrier-label.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")

    url = f"/webhooks/carriers/{api.tenant.code}/sr"
    picked = push(awb, "42", "PICKED UP", "Shipment picked up", "27 11 2026 10:00:00")
    r = api.client.post(url, content=picked, headers={"x-api-key": "wrong", "content-type": "application/json"})
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    assert api.client.post(url, content=picked).status_code == 401  # no token at all
    got = ok(api.client.post(url, content=picked, headers={"x-api-key": "sr-token"}))
    assert got["changed"] == 1 and got["recorded"] >= 1 and got["unknown"] == []
    assert ok(api.get(f"/api/v1/orders/{order_id}"))["status"] == "shipped"
    assert ok(api.client.post(url, content=picked, headers={"x-api-key": "sr-token"}))["recorded"] == 0
    stranger = push("999999999", "42", "PICKED UP", "Shipment picked up", "27 11 2026 10:00:00")
    assert ok(api.client.post(url, content=stranger, headers={"x-api-key": "sr-token"}))["unknown"] == ["999999999"]
    r = api.client.post(url, content=b"not json", headers={"x-api-key": "sr-token"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
    # every push is kept: the unreadable one with its reason, and it can be queued again
    [failed] = ok(api.get("/api/v1/tracking-pushes", params={"state": "failed"}))
    assert (failed["carrier"], failed["body"]) == ("sr", "not json") and failed["error"]
    assert len(ok(api.get("/api/v1/tracking-pushes"))) == 4
    assert api.post(f"/api/v1/tracking-pushes/{failed['id']}/retry").status_code == 202
    assert api.post(f"/api/v1/tracking-pushes/{failed['id']}/retry").status_code == 409  # queued already
    assert api.get("/api/v1/tracking-pushes", params={"state": "lost"}).status_code == 422
    r = api.client.post(f"/webhooks/carriers/{api.tenant.code}/nobody", content=picked)
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "carrier"

    undelivered = push(awb, "21", "UNDELIVERED", "Consignee Unavailable", "28 11 2026 12:00:00")
    fake.add_scan(awb, "21", "UNDELIVERED", "Consignee Unavailable", datetime(2026, 11, 28, 12), "Bengaluru")
    ok(api.client.post(url, content=undelivered, headers={"x-api-key": "sr-token"}))
    [ndr] = ok(api.get("/api/v1/ndr"))
    assert (ndr["shipment_id"], ndr["attempts"], ndr["reason"]) == (sid, 1, "customer_unavailable")
    r = api.post(f"/api/v1/shipments/{sid}/ndr", {"action": "reattempt", "reattempt_on": "2026-13-01"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reattempt_on"
    acted = ok(
        api.post(
            f"/api/v1/shipments/{sid}/ndr",
            {"action": "reattempt", "reattempt_on": "2026-11-30", "comment": "call before"},
        )
    )
    assert acted["action"] == "reattempt" and fake.ndr_actions


def test_queued_pushes_are_answered_202_once_stored_and_the_workers_apply_them(
    api: Api, fake: FakeShiprocket, container: Container
) -> None:
    from ordermesh.api.app import create_app
    from ordermesh.services import channel_sync as cs
    from ordermesh.services import shipping

    warehouse(api)
    shiprocket(api, fake)
    sid = packed(api, place(api, "Q1"))["id"]
    awb = ok(api.post(f"/api/v1/shipments/{sid}/book", {"carrier": "sr"}))["awb"]
    # an API process whose webhooks are queued for the workers (ORDERMESH_WEBHOOKS_INLINE=false)
    queued = Container(container.settings.model_copy(update={"webhooks_inline": False}), container.engine,
                       container.uow, container.clock)  # fmt: skip
    with TestClient(create_app(container=queued), raise_server_exceptions=False) as carrier:
        url = f"/webhooks/carriers/{api.tenant.code}/sr"
        picked = push(awb, "42", "PICKED UP", "Shipment picked up", "27 11 2026 10:00:00")
        r = carrier.post(url, content=picked, headers={"x-api-key": "wrong"})
        assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
        r = carrier.post(f"/webhooks/carriers/{api.tenant.code}/nobody", content=picked)
        assert r.status_code == 404 and r.json()["errors"][0]["field"] == "carrier"
        r = carrier.post(url, content=picked, headers={"x-api-key": "sr-token"})
        assert (r.status_code, r.json()) == (202, {"recorded": 0, "changed": 0, "unknown": [], "queued": True})
    # stored, not applied: the refused ones are not kept
    assert [p["state"] for p in ok(api.get("/api/v1/tracking-pushes"))] == ["received"]
    assert ok(api.get(f"/api/v1/shipments/{sid}"))["status"] != "picked_up"
    assert shipping.drain_pushes(cs.Sync(container.uow, container.connections, api.tenant.id)) == 1
    assert ok(api.get(f"/api/v1/shipments/{sid}"))["status"] == "picked_up"


def test_a_viewer_can_look_but_not_book(api: Api, app_client: TestClient, container: Container) -> None:
    warehouse(api)
    fleet(api)
    sid = packed(api, place(api, "V1"))["id"]
    viewer = api_for(app_client, container, role="viewer", tenant=api.tenant)
    assert ok(viewer.get(f"/api/v1/shipments/{sid}"))["status"] == "packed"
    for path, body in (
        (f"/api/v1/shipments/{sid}/book", {}),
        (f"/api/v1/shipments/{sid}/scan", {"barcode": "MUG"}),
        ("/api/v1/manifests", {"carrier": "fleet", "location": "PUN", "pickup_date": "2026-11-27"}),
        ("/api/v1/carriers", {"code": "x", "kind": "rate_card", "name": "X"}),
    ):
        r = viewer.post(path, body)
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, (path, r.text)
    assert ok(api.get(f"/api/v1/shipments/{sid}"))["status"] == "packed"  # nothing was booked


def test_shipping_and_invoice_settings_are_checked_and_kept(api: Api) -> None:
    bad = api.put("/api/v1/settings/invoices", {"prefix": "INVOICES", "width": 8})
    assert bad.status_code == 422 and "16" in bad.text
    good = api.put("/api/v1/settings/invoices", {"prefix": "OM", "width": 6, "short_year": True})
    assert good.status_code == 200, good.text
    assert api.get("/api/v1/settings/invoices").json() == {"prefix": "OM", "width": 6, "short_year": True}
    r = api.put("/api/v1/settings/shipping", {"volumetric_divisor": 12, "colour": "red"})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"shipping.volumetric_divisor", "shipping.colour"}
    ok = api.put("/api/v1/settings/shipping", {"pickup_names": {"PUN": "Pune Warehouse"}, "ndr": {"max_attempts": 2}})
    assert ok.status_code == 200, ok.text
    assert api.get("/api/v1/settings/risk").status_code == 200  # the risk rules' own route is untouched
