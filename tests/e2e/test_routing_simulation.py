"""The routing dry run through the API and the CLI, on SQLite and PostgreSQL: a rule change shows
where past orders would have gone, and nothing in the database changes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ordermesh.services import routing_simulation
from tests.conftest import TenantCtx
from tests.e2e.conftest import Api, api_for
from tests.e2e.test_api_orders import order
from tests.e2e.test_cli import om
from tests.factories import location_payload, sku_payload

TABLES = (
    "orders",
    "order_lines",
    "order_allocations",
    "order_events",
    "order_changes",
    "stock_movements",
    "outbox",
    "audit_log",
    "customers",
)


@pytest.fixture
def routed(api: Api) -> dict[str, int]:
    """Two orders to Mumbai, allocated: MUG ×1 from Bhiwandi (its only unit there; Gurugram has
    more), and TEE + CAP split between Bhiwandi (TEE) and Gurugram (CAP)."""
    for code in ("TEE", "CAP", "MUG"):
        assert api.post("/api/v1/skus", sku_payload(code)).status_code == 201
    assert api.post("/api/v1/locations", location_payload("BHW", "MH")).status_code == 201
    assert api.post("/api/v1/locations", location_payload("GGN", "HR")).status_code == 201
    for sku, location, qty in (("MUG", "BHW", 1), ("MUG", "GGN", 5), ("TEE", "BHW", 5), ("CAP", "GGN", 5)):
        body = {"sku": sku, "location": location, "kind": "receipt", "quantity": qty}
        assert api.post("/api/v1/inventory/movements", body).status_code == 201
    one = api.post("/api/v1/orders", order("S1", ("MUG", 1))).json()
    two = api.post(
        "/api/v1/orders", order("S2", ("TEE", 1), ("CAP", 1), customer={"name": "Ravi", "phone": "9123456780"})
    ).json()
    assert one["status"] == "allocated" and two["status"] == "allocated", (one["holds"], two["holds"])
    assert [a["location"] for line in two["lines"] for a in line["allocations"]] == ["BHW", "GGN"]
    return {"S1": one["id"], "S2": two["id"]}


def simulate(api: Api, rules: dict[str, Any], **more: Any) -> Any:
    return api.post("/api/v1/routing/simulate", {"since": "2026-11-01", "rules": rules, **more})


def by_number(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {o["id"]: o for o in report["orders"]}


def snapshot(t: TenantCtx) -> dict[str, Any]:
    """Everything a simulation could conceivably touch."""
    with t.uow(write=False) as uow:
        found: dict[str, Any] = {
            table: uow.conn.execute(
                text(f"SELECT COUNT(*) FROM {table} WHERE tenant_id = :t"), {"t": t.id}
            ).scalar_one()
            for table in TABLES
        }
        found["balances"] = sorted(
            tuple(r)
            for r in uow.conn.execute(
                text("SELECT sku_id, location_id, on_hand, reserved FROM stock_balances WHERE tenant_id = :t"),
                {"t": t.id},
            )
        )
        found["orders_rows"] = sorted(
            (r[0], r[1], r[2], json.dumps(r[3], sort_keys=True))
            for r in uow.conn.execute(
                text("SELECT id, status, version, routing FROM orders WHERE tenant_id = :t"), {"t": t.id}
            )
        )
    return found


def test_the_current_rules_replay_to_the_same_decisions(api: Api, routed: dict[str, int]) -> None:
    # when
    r = simulate(api, {})
    # then: MUG still goes to Bhiwandi, though its one unit there is the order's own reservation
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["orders_replayed"], report["same_decision"], report["different_decision"]) == (2, 2, 0)
    assert report["before"] == report["after"]
    after = report["after"]
    assert after["shipments"] == 3 and after["split_orders"] == 1 and after["shipments_per_order"] == 1.5
    assert after["zones"]["local"] == 2 and after["zones"]["metro"] == 1
    assert after["shipping_cost"]["total"] == "140.00"  # 350 g each: ₹40 + ₹40 local, ₹60 metro
    s1 = by_number(report)[routed["S1"]]
    assert s1["before"]["locations"] == s1["after"]["locations"] == ["BHW"]


def test_turning_splits_off_shows_which_orders_would_wait(api: Api, routed: dict[str, int]) -> None:
    before = snapshot(api.tenant)
    # when
    report = simulate(api, {"allow_split": False}).json()
    # then
    assert (report["same_decision"], report["different_decision"]) == (1, 1)
    s2 = by_number(report)[routed["S2"]]
    assert s2["same"] is False
    assert s2["before"]["locations"] == ["BHW", "GGN"] and s2["before"]["shipping_cost"] == "100.00"
    assert s2["after"]["outcome"] == "split_not_allowed" and s2["after"]["locations"] == []
    assert "splitting is turned off" in s2["after"]["explanation"]
    assert report["before"]["split_orders"] == 1 and report["after"]["split_orders"] == 0
    assert report["after"]["outcomes"] == {"allocated": 1, "split_not_allowed": 1}
    assert snapshot(api.tenant) == before


def test_pinning_a_channel_moves_orders_and_prices_the_new_lane(api: Api, routed: dict[str, int]) -> None:
    before = snapshot(api.tenant)
    # when
    r = simulate(api, {"pinned_location": "GGN"}, rate_card={"metro": "65", "slab_g": 1000})
    # then
    assert r.status_code == 200, r.text
    report = r.json()
    s1, s2 = by_number(report)[routed["S1"]], by_number(report)[routed["S2"]]
    assert s1["after"]["locations"] == ["GGN"] and s1["after"]["zones"] == ["metro"] and not s1["same"]
    assert s1["before"]["shipping_cost"] == "40.00" and s1["after"]["shipping_cost"] == "65.00"
    assert s1["after"]["distance_km"] > 1000 > s1["before"]["distance_km"]
    assert s2["after"]["outcome"] == "out_of_stock"  # Gurugram has no TEE
    assert report["rate_card"]["slab_g"] == 1000 and report["rate_card"]["metro"] == "65.00"
    assert report["before"]["zones"]["local"] == 2 and report["after"]["zones"]["metro"] == 1
    assert snapshot(api.tenant) == before


def test_the_window_and_the_channel_choose_the_orders(api: Api, routed: dict[str, int]) -> None:
    later = simulate(api, {}, since="2026-11-27").json()
    day = simulate(api, {}, since="2026-11-26", until="2026-11-26").json()
    capped = simulate(api, {}, limit=1).json()
    assert later["orders_replayed"] == 0 and later["orders"] == []
    assert day["orders_replayed"] == 2 and day["until"].startswith("2026-11-27T00:00:00+05:30")
    assert capped["orders_replayed"] == 1 and capped["truncated"] is True
    assert simulate(api, {}, channel="manual").json()["orders_replayed"] == 2
    missing = simulate(api, {}, channel="nowhere")
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "channel"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rules": {"allow_split": "no"}}, "rules.allow_split"),
        ({"rules": {"pinned_location": "NOPE"}}, "rules.pinned_location"),
        ({"rules": {"colour": "blue"}}, "rules.colour"),
        ({"rules": {"min_shipment_value": "-1"}}, "rules"),
        ({"rules": {"strategy": "cheapest"}}, "rules.strategy"),
        ({"since": "last week"}, "since"),
        ({"until": "2026-10-01"}, "until"),
        ({"rate_card": {"local": "free"}}, "rate_card.local"),
    ],
)
def test_bad_requests_name_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    r = api.post("/api/v1/routing/simulate", {"since": "2026-11-01", "rules": {}, **body})
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]


def test_reading_orders_is_enough(api: Api, routed: dict[str, int], app_client: Any, container: Any) -> None:
    viewer = api_for(app_client, container, role="viewer", tenant=api.tenant)
    r = viewer.post("/api/v1/routing/simulate", {"since": "2026-11-01", "rules": {"allow_split": False}})
    assert r.status_code == 200, r.text
    assert r.json()["different_decision"] == 1


def test_the_database_refuses_writes_during_a_simulation(api: Api) -> None:
    with api.tenant.uow(write=False) as uow, routing_simulation._read_only(uow):
        with pytest.raises(DBAPIError):
            uow.conn.execute(text("UPDATE orders SET notes = 'x' WHERE tenant_id = :t"), {"t": api.tenant.id})
    with api.tenant.uow() as uow, pytest.raises(ValueError, match="read-only"):
        routing_simulation.simulate(uow, since=routing_simulation.parse_bound("2026-11-01", "since"), rules={})


def test_the_cli_prints_a_summary_and_json(db_url: str, api: Api, routed: dict[str, int], tmp_path: Any) -> None:
    before = snapshot(api.tenant)
    rules = tmp_path / "rules.json"
    rules.write_text('{"pinned_location": "BHW"}', encoding="utf-8")
    # when
    table = om(
        db_url, "routing", "simulate", "-t", api.tenant.code, "--since", "2026-11-01", "--set", "allow_split=false"
    )
    as_json = om(
        db_url, "routing", "simulate", "-t", api.tenant.code, "--since", "2026-11-01", "--rules", str(rules),
        "--set", "min_shipment_value=500", "--json",
    )  # fmt: skip
    bad = om(db_url, "routing", "simulate", "-t", api.tenant.code, "--since", "2026-11-01", "--set", "allow_split")
    # then
    assert table.exit_code == 0, table.output
    assert "Replayed 2 orders" in table.stdout and "1 same, 1 different" in table.stdout
    assert "split orders" in table.stdout and "est. shipping, total" in table.stdout
    assert "Orders routed differently" in table.stdout and "split_not_allowed" in table.stdout
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert report["rules"] == {"pinned_location": "BHW", "min_shipment_value": 500}
    assert by_number(report)[routed["S2"]]["after"]["outcome"] == "out_of_stock"  # no CAP at Bhiwandi
    assert bad.exit_code == 1 and "--set takes KEY=VALUE" in bad.stderr
    assert snapshot(api.tenant) == before
