"""``ordermesh orders import``: per-order import of a CSV file, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import TenantCtx
from tests.e2e.test_cli import om
from tests.factories import make_location, make_sku, receive

HEADER = (
    "channel,external_id,placed_at,customer_name,customer_phone,customer_email,ship_name,ship_line1,ship_line2,"
    "ship_city,ship_state,ship_pincode,ship_phone,payment_method,payment_status,sku,quantity,unit_price,discount,"
    "shipping_charge"
)


def row(ext: str, sku: str = "TEE", quantity: str = "1", *, phone: str = "9876543210", **over: str) -> str:
    cells = {
        "channel": "manual",
        "external_id": ext,
        "placed_at": "2026-11-26T10:00:00+05:30",
        "customer_name": "Priya Sharma",
        "customer_phone": phone,
        "customer_email": "priya@example.com",
        "ship_name": "",
        "ship_line1": "Flat 12, Sunrise Apartments",
        "ship_line2": "MG Road",
        "ship_city": "Mumbai",
        "ship_state": "MH",
        "ship_pincode": "400001",
        "ship_phone": "",
        "payment_method": "prepaid",
        "payment_status": "",
        "sku": sku,
        "quantity": quantity,
        "unit_price": "499",
        "discount": "",
        "shipping_charge": "",
    }
    cells.update(over)
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([cells[c] for c in HEADER.split(",")])
    return out.getvalue()


def write(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def shop(tenant: TenantCtx) -> TenantCtx:
    for code in ("TEE", "CAP"):
        make_sku(tenant, code)
    make_location(tenant, "BHW")
    receive(tenant, "TEE", "BHW", 20)
    receive(tenant, "CAP", "BHW", 20)
    return tenant


def orders_of(t: TenantCtx) -> dict[str, tuple[str, int]]:
    """external id -> (status, number of lines)"""
    with t.uow(write=False) as uow:
        rows = uow.conn.execute(
            text(
                "SELECT o.external_id, o.status, COUNT(l.id) FROM orders o JOIN order_lines l ON l.order_id = o.id "
                "WHERE o.tenant_id = :t GROUP BY o.external_id, o.status"
            ),
            {"t": t.id},
        )
        return {r[0]: (r[1], int(r[2])) for r in rows}


def test_good_orders_are_created_and_every_bad_row_is_named(db_url: str, shop: TenantCtx, tmp_path: Path) -> None:
    # given a file mixing good orders, held ones and bad rows (line numbers count the header as 1)
    f = write(
        tmp_path / "orders.csv",
        row("A1", "TEE", "2"),  # 2
        row("A1", "CAP", "1", customer_name="", ship_line1=""),  # 3: the order's columns may be left empty
        row("A2", "TEE", "two", phone="9000000002"),  # 4
        row("A3", "TEE", "1", phone="9000000003"),  # 5
        row("A3", "CAP", "1", unit_price="-5", phone="9000000003"),  # 6
        row("A4", "TEE", "1", phone="9000000004", ship_pincode="999999"),  # 7: held, not rejected
        row("A5", "TEE", "1", phone="9000000005", ship_city=""),  # 8
        row("A6", "TEE", "1", phone="9000000006", channel="nowhere"),  # 9
        row("A7", "TEE", "1", phone="9000000007", payment_method="barter"),  # 10
        row("A8", "TEE", "1", phone="9000000008"),  # 11
        row("A8", "CAP", "1", phone="9000000008", customer_name="Someone Else"),  # 12
        row("A1", "TEE", "1"),  # 13: A1 again, not next to its other rows
        row("A9", "CAP", "3", phone="9000000009", payment_method="COD", placed_at="2026-11-26 10:00"),  # 14
    )
    # when
    result = om(db_url, "orders", "import", str(f), "--tenant", shop.code)
    # then
    assert result.exit_code == 1, result.output
    assert "10 orders in 13 rows" in result.stdout
    assert "3 created, 0 already present, 0 changed, 7 rejected" in result.stdout
    assert "on hold: 1 (invalid_address 1)" in result.stdout
    errors = result.stderr.splitlines()
    assert errors[0] == "error: 7 order(s) rejected; 7 row(s) have problems"
    assert "line 4, column quantity: must be a whole number" in errors
    assert "line 6, column unit_price: must be a non-negative amount in rupees with at most two decimals" in errors
    assert "line 8, column ship_city: is required" in errors
    assert "line 9, column channel: channel 'nowhere' does not exist; create it first" in errors
    assert "line 10, column payment_method: must be prepaid or cod" in errors
    assert "line 12, column customer_name: 'Someone Else' differs from 'Priya Sharma' on line 11" in errors
    assert (
        "line 13, column external_id: order A1 of channel manual began on line 2; "
        "the rows of one order must be consecutive"
    ) in errors
    assert orders_of(shop) == {"A1": ("allocated", 2), "A4": ("on_hold", 1), "A9": ("allocated", 1)}


def test_importing_again_answers_already_present_and_applies_changes(
    db_url: str, shop: TenantCtx, tmp_path: Path
) -> None:
    first = write(tmp_path / "a.csv", row("B1", "TEE", "2"), row("B1", "CAP", "1"), row("B2", phone="9000000002"))
    assert om(db_url, "orders", "import", str(first), "-t", shop.code).exit_code == 0
    # when the same file comes again, then with one quantity changed
    again = om(db_url, "orders", "import", str(first), "-t", shop.code)
    changed = write(tmp_path / "b.csv", row("B1", "TEE", "3"), row("B1", "CAP", "1"), row("B2", phone="9000000002"))
    applied = om(db_url, "orders", "import", str(changed), "-t", shop.code, "--json")
    # then
    assert again.exit_code == 0, again.output
    assert "0 created, 2 already present, 0 changed, 0 rejected" in again.stdout
    assert applied.exit_code == 0, applied.output
    summary = json.loads(applied.stdout)
    assert (summary["created"], summary["already_present"], summary["changed"]) == (0, 1, 1)
    assert summary["errors"] == [] and summary["rows"] == 3
    with shop.uow(write=False) as uow:
        version = uow.conn.execute(
            text("SELECT version FROM orders WHERE tenant_id = :t AND external_id = 'B1'"), {"t": shop.id}
        ).scalar_one()
    assert version == 2


def test_a_dry_run_checks_everything_and_writes_nothing(db_url: str, shop: TenantCtx, tmp_path: Path) -> None:
    f = write(
        tmp_path / "dry.csv",
        row("D1", "TEE", "2"),
        row("D1", "CAP", "1"),
        row("D2", "TEE", "0", phone="9000000002"),
        row("D3", "TEE", "1", phone="9000000003", channel="nowhere"),
    )
    # when
    result = om(db_url, "orders", "import", str(f), "-t", shop.code, "--dry-run")
    # then
    assert result.exit_code == 1
    assert "dry run, nothing written: 1 valid (0 already present), 2 rejected" in result.stdout
    assert "line 4, column quantity: must be from 1 to 100000" in result.stderr
    assert "line 5, column channel: channel 'nowhere' does not exist" in result.stderr
    assert orders_of(shop) == {}
    with shop.uow(write=False) as uow:
        reserved = uow.conn.execute(
            text("SELECT COALESCE(SUM(reserved), 0) FROM stock_balances WHERE tenant_id = :t"), {"t": shop.id}
        ).scalar_one()
    assert reserved == 0


def test_a_header_without_required_columns_is_refused(db_url: str, shop: TenantCtx, tmp_path: Path) -> None:
    f = tmp_path / "short.csv"
    f.write_text("channel,external_id,sku\nmanual,X1,TEE\n", encoding="utf-8")
    result = om(db_url, "orders", "import", str(f), "-t", shop.code)
    assert result.exit_code == 1
    assert "line 1, column quantity: required column is missing" in result.stderr
    assert orders_of(shop) == {}


def test_a_file_that_is_not_utf8_stops_at_the_bad_line(db_url: str, shop: TenantCtx, tmp_path: Path) -> None:
    f = tmp_path / "latin1.csv"
    good = [row("E1"), row("E2", phone="9000000002")]
    latin1 = row("E2", "CAP", ship_line2="Jos\xe9 Nagar", phone="9000000002").encode("latin-1")
    f.write_bytes("\n".join([HEADER, *good]).encode() + b"\n" + latin1 + b"\n" + row("E3").encode() + b"\n")
    # when
    result = om(db_url, "orders", "import", str(f), "-t", shop.code)
    # then E1 is imported; E2, whose next row cannot be read, is not imported in half
    assert result.exit_code == 1
    assert "line 4, column file: is not UTF-8 text; the rest of the file was not read" in result.stderr
    assert "line 3, column external_id: not imported: the file cannot be read after this row" in result.stderr
    assert orders_of(shop) == {"E1": ("allocated", 1)}
