"""The ``ordermesh`` command line end to end, through Typer's CliRunner, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from ordermesh import __version__
from ordermesh.bootstrap import Container
from ordermesh.cli.main import app
from ordermesh.demo import generate
from ordermesh.domain.catalog import gtin_ok
from ordermesh.domain.errors import Unauthorized
from ordermesh.services import catalog, inventory, platform
from tests.conftest import TenantCtx
from tests.factories import make_location, make_sku

runner = CliRunner()

GOOD_CSV = """code,name,hsn,gst_rate,mrp,weight_g,length_cm,breadth_cm,height_cm,barcodes,components,active
TEE-BLK-M,"Cotton Tee, Black, M",6109,5,699.00,180,30,25,2,8906123000014,,true
TEE-WHT-M,"Cotton Tee, White, M",6109,5,699,180,30,25,2.5,8906123000021|TEE-WHT-M-OLD,,true
JHUMKA-01,Oxidised Jhumka,7117,3,499.5,40,,,,,,true
COMBO-TEE2,"Tee pack of 2",6109,5,1299,360,,,,,TEE-BLK-M:1|TEE-WHT-M:1,true
BOOK-01,Konkan Recipes,4901,0,499,420,22,14,2,,,false
"""


def om(db_url: str | None, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    argv = (["--database-url", db_url] if db_url else []) + list(args)
    result = runner.invoke(app, argv, input=input, env=env, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def sku_count(container: Container, tenant: str) -> int:
    with container.uow(tenant_id=None, write=False) as uow:
        uow.use_tenant(platform.tenant_id_for(uow, tenant))
        return uow.skus.count()


# --- tenants, users, keys -------------------------------------------------------------------------


def test_tenants_create_and_list(db_url: str) -> None:
    code = unique("acme")
    # when
    created = om(db_url, "tenants", "create", code, "--display-name", "Acme Apparel")
    listed = om(db_url, "tenants", "list")
    again = om(db_url, "tenants", "create", code)
    # then
    assert created.exit_code == 0, created.output
    assert f"created tenant {code}" in created.stdout
    assert listed.exit_code == 0 and code in listed.stdout and "Acme Apparel" in listed.stdout
    assert again.exit_code == 1
    assert again.stderr == f"error: tenant '{code}' already exists\n"


def test_configuration_comes_from_the_environment_too(db_url: str) -> None:
    code = unique("envt")
    result = om(None, "tenants", "create", code, env={"ORDERMESH_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    assert code in om(None, "tenants", "list", env={"ORDERMESH_DATABASE_URL": db_url}).stdout


def test_keys_create_json_prints_a_key_that_authenticates(db_url: str, container: Container) -> None:
    code = unique("keys")
    assert om(db_url, "tenants", "create", code).exit_code == 0
    # when
    result = om(db_url, "keys", "create", "--tenant", code, "--role", "ops", "--name", "shopify sync", "--json")
    # then
    assert result.exit_code == 0, result.output
    issued = json.loads(result.stdout)
    assert list(issued) == ["key", "prefix", "tenant", "role"]
    assert issued["tenant"] == code and issued["role"] == "ops"
    with container.uow(tenant_id=None) as uow:
        principal = platform.authenticate_key(uow, issued["key"])
    assert principal.tenant_code == code and principal.actor.role.value == "ops"
    assert principal.actor.id == issued["prefix"]

    listed = om(db_url, "keys", "list", "--tenant", code)
    assert issued["prefix"] in listed.stdout and "shopify sync" in listed.stdout
    assert issued["key"] not in listed.stdout

    revoked = om(db_url, "keys", "revoke", "--tenant", code, issued["prefix"])
    assert revoked.exit_code == 0, revoked.output
    with container.uow(tenant_id=None) as uow, pytest.raises(Unauthorized):
        platform.authenticate_key(uow, issued["key"])
    twice = om(db_url, "keys", "revoke", "--tenant", code, issued["prefix"])
    assert twice.exit_code == 1 and "not found or already revoked" in twice.stderr


def test_keys_create_without_json_prints_the_key_alone_on_stdout(db_url: str, container: Container) -> None:
    code = unique("keys")
    om(db_url, "tenants", "create", code)
    result = om(db_url, "keys", "create", "--tenant", code, "--role", "viewer")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    with container.uow(tenant_id=None) as uow:
        assert platform.authenticate_key(uow, key).tenant_code == code
    assert "shown only now" in result.stderr


def test_users_create_reads_the_password_from_stdin_or_a_hidden_prompt(db_url: str, container: Container) -> None:
    code = unique("users")
    om(db_url, "tenants", "create", code)
    email = f"ops-{uuid.uuid4().hex[:8]}@example.in"
    # when
    piped = om(
        db_url,
        "users",
        "create",
        "--tenant",
        code,
        "--email",
        email,
        "--name",
        "Priya",
        "--role",
        "ops",
        "--password-stdin",
        input="correct horse battery\n",
    )
    prompted_email = f"wh-{uuid.uuid4().hex[:8]}@example.in"
    prompted = om(
        db_url,
        "users",
        "create",
        "--tenant",
        code,
        "--email",
        prompted_email,
        "--role",
        "warehouse",
        input="another long secret\nanother long secret\n",
    )
    short = om(
        db_url,
        "users",
        "create",
        "-t",
        code,
        "--email",
        f"x-{uuid.uuid4().hex[:6]}@example.in",
        "--role",
        "nobody",
        "--password-stdin",
        input="short\n",
    )
    # then
    assert piped.exit_code == 0, piped.output
    assert prompted.exit_code == 0, prompted.output
    assert "another long secret" not in prompted.output  # hidden input is not echoed
    with container.uow(tenant_id=None) as uow:
        assert platform.authenticate_user(uow, email, "correct horse battery").tenant_code == code
    with container.uow(tenant_id=None) as uow:
        assert platform.authenticate_user(uow, prompted_email, "another long secret").actor.role.value == "warehouse"
    assert short.exit_code == 1
    assert short.stderr.startswith("error: ")
    assert "password: must be at least 10 characters" in short.stderr
    assert "role: must be one of" in short.stderr


def test_usage_errors_exit_2_and_domain_errors_print_one_plain_line(db_url: str) -> None:
    missing_option = om(db_url, "keys", "create", "--role", "admin")
    unknown_tenant = om(db_url, "catalog", "export", "--tenant", "no-such-tenant")
    assert missing_option.exit_code == 2
    assert unknown_tenant.exit_code == 1
    assert unknown_tenant.stderr == "error: tenant 'no-such-tenant' not found\n"
    assert unknown_tenant.stdout == ""


# --- catalog --------------------------------------------------------------------------------------


def test_catalog_import_reports_every_bad_row_and_writes_nothing(
    db_url: str, tmp_path: Path, container: Container
) -> None:
    code = unique("cat")
    om(db_url, "tenants", "create", code)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "code,name,hsn,gst_rate,mrp,weight_g,length_cm,breadth_cm,height_cm,barcodes,components,active\n"
        "OK-1,Good row,6109,5,699,180,30,25,2,,,true\n"
        "BAD-HSN,Bad HSN,61X9,5,699,180,,,,,,true\n"
        "OK-2,Good row,6109,5,699,180,,,,,,true\n"
        "BAD-RATE,Bad rate,6109,7,699,180,,,,8906123000015,,true\n"
        "BAD-COMBO,Bad combo,6109,5,699,180,,,,,NOPE:1,maybe\n",
        encoding="utf-8",
    )
    # when
    result = om(db_url, "catalog", "import", str(bad), "--tenant", code)
    # then
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "error: 3 row(s) have problems; nothing was imported"
    assert "line 3, column hsn: an HSN code is 4, 6 or 8 digits" in lines
    assert any(line.startswith("line 5, column gst_rate: ") for line in lines)
    assert any(line.startswith("line 5, column barcodes: ") and "check digit" in line for line in lines)
    assert "line 6, column active: must be true or false" in lines
    assert sku_count(container, code) == 0

    # with --partial the good rows are saved and the bad ones still reported (exit 1)
    partial = om(db_url, "catalog", "import", str(bad), "--tenant", code, "--partial")
    assert partial.exit_code == 1
    assert "2 created" in partial.stdout
    assert "line 3, column hsn: an HSN code is 4, 6 or 8 digits" in partial.stderr
    assert sku_count(container, code) == 2


def test_catalog_import_rejects_a_header_without_required_columns(db_url: str, tmp_path: Path) -> None:
    code = unique("cat")
    om(db_url, "tenants", "create", code)
    f = tmp_path / "skus.csv"
    f.write_text("code,name\nA,B\n", encoding="utf-8")
    result = om(db_url, "catalog", "import", str(f), "-t", code)
    assert result.exit_code == 1
    assert "line 1, column hsn: required column is missing" in result.stderr


def test_catalog_export_then_import_round_trips_unchanged(db_url: str, tmp_path: Path) -> None:
    source, copy = unique("src"), unique("copy")
    om(db_url, "tenants", "create", source)
    om(db_url, "tenants", "create", copy)
    original = tmp_path / "original.csv"
    original.write_text(GOOD_CSV, encoding="utf-8")
    # given a catalog with bundles, barcodes, dimensions and an inactive SKU
    imported = om(db_url, "catalog", "import", str(original), "--tenant", source)
    assert imported.exit_code == 0, imported.output
    assert "5 created, 0 updated, 0 unchanged" in imported.stdout
    # when
    exported = tmp_path / "exported.csv"
    to_file = om(db_url, "catalog", "export", "--tenant", source, "-o", str(exported))
    to_stdout = om(db_url, "catalog", "export", "--tenant", source)
    back = om(db_url, "catalog", "import", str(exported), "--tenant", source)
    into_other = om(db_url, "catalog", "import", str(exported), "--tenant", copy)
    again = om(db_url, "catalog", "export", "--tenant", copy)
    # then
    assert to_file.exit_code == 0 and "exported 5 SKUs" in to_file.stderr
    assert to_stdout.stdout == exported.read_text(encoding="utf-8")
    assert back.exit_code == 0 and "0 created, 0 updated, 5 unchanged" in back.stdout
    assert into_other.exit_code == 0 and "5 created" in into_other.stdout
    assert again.stdout == to_stdout.stdout
    rows = list(csv.DictReader(io.StringIO(to_stdout.stdout)))
    assert tuple(rows[0]) == catalog.CSV_COLUMNS
    by_code = {r["code"]: r for r in rows}
    assert by_code["COMBO-TEE2"]["components"] == "TEE-BLK-M:1|TEE-WHT-M:1"
    assert by_code["TEE-WHT-M"]["barcodes"] == "8906123000021|TEE-WHT-M-OLD"
    assert by_code["TEE-WHT-M"]["height_cm"] == "2.5" and by_code["JHUMKA-01"]["mrp"] == "499.50"
    assert by_code["BOOK-01"]["active"] == "false"


# --- inventory ------------------------------------------------------------------------------------


def test_inventory_check_finds_a_corrupted_balance_and_repairs_it(
    db_url: str, tenant: TenantCtx, container: Container
) -> None:
    make_sku(tenant, "TEE")
    make_sku(tenant, "CAP")
    make_location(tenant, "BHW")
    received = om(db_url, "inventory", "receive", "TEE", "BHW", "100", "--tenant", tenant.code)
    om(db_url, "inventory", "receive", "CAP", "BHW", "40", "--tenant", tenant.code, "--reference", "GRN-7")
    assert received.exit_code == 0, received.output
    assert "0 -> 100" in received.stdout
    clean = om(db_url, "inventory", "check", "--tenant", tenant.code)
    assert clean.exit_code == 0, clean.output
    assert "ledger and balances agree (2 movements in 1 tenant(s) checked)" in clean.stdout
    # given a balance written behind the ledger's back
    with container.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE stock_balances SET on_hand = on_hand + 7, quarantined = 2 WHERE tenant_id = :t AND sku_id = "
                "(SELECT id FROM skus WHERE tenant_id = :t AND code = 'TEE')"
            ),
            {"t": tenant.id},
        )
    # when
    dirty = om(db_url, "inventory", "check", "--tenant", tenant.code)
    repaired = om(db_url, "inventory", "check", "--tenant", tenant.code, "--repair")
    after = om(db_url, "inventory", "check", "--tenant", tenant.code)
    # then
    assert dirty.exit_code == 1
    row = next(line for line in dirty.stdout.splitlines() if "TEE" in line)
    assert "BHW" in row and "107 / 100" in row and "2 / 0" in row
    assert "CAP" not in dirty.stdout
    assert "1 balance(s) differ from the ledger" in dirty.stderr
    assert repaired.exit_code == 1
    assert "107 / 100" in repaired.stdout and "repaired 1 balance(s)" in repaired.stdout
    assert after.exit_code == 0 and "ledger and balances agree" in after.stdout
    with tenant.uow(write=False) as uow:
        assert inventory.stock_for_sku(uow, "TEE").totals.on_hand == 100
        trail = platform.audit_page(uow, entity_type="stock", entity_key="ledger-check", cursor=None, limit=5)
    assert [e["action"] for e in trail.items] == ["inventory.repaired"]
    assert trail.items[0]["actor"].startswith("cli:")
    assert trail.items[0]["after"] == {"TEE@BHW": {"on_hand": 100, "reserved": 0, "quarantined": 0}}


def test_inventory_movement_commands(db_url: str, tenant: TenantCtx) -> None:
    make_sku(tenant, "TEE")
    make_location(tenant, "BHW")
    make_location(tenant, "BLR", state="KA")
    t = ("--tenant", tenant.code)
    assert om(db_url, "inventory", "receive", "TEE", "BHW", "20", *t).exit_code == 0
    # when
    adjusted = om(db_url, "inventory", "adjust", "TEE", "BHW", "--by", "-3", "--reason", "damaged in storage", *t)
    counted = om(db_url, "inventory", "count", "TEE", "BHW", "15", *t)
    moved = om(db_url, "inventory", "transfer", "TEE", "BHW", "BLR", "5", *t)
    too_many = om(db_url, "inventory", "transfer", "TEE", "BHW", "BLR", "50", *t)
    no_reason = om(db_url, "inventory", "adjust", "TEE", "BHW", "--by", "2", "--reason", " ", *t)
    shown = om(db_url, "inventory", "stock", "TEE", *t)
    # then
    assert adjusted.exit_code == 0 and "20 -> 17" in adjusted.stdout
    assert counted.exit_code == 0 and "17 -> 15" in counted.stdout
    assert moved.exit_code == 0 and "15 -> 10" in moved.stdout and "0 -> 5" in moved.stdout
    assert too_many.exit_code == 1
    assert too_many.stderr.startswith("error: insufficient stock: 'TEE' at 'BHW' has 10 unreserved on hand")
    assert no_reason.exit_code == 1 and "reason: an adjustment needs a reason" in no_reason.stderr
    assert shown.exit_code == 0 and "TEE: 15 available in total" in shown.stdout


def test_worker_once_processes_pending_events(db_url: str, tenant: TenantCtx) -> None:
    make_sku(tenant, "TEE")
    make_location(tenant, "BHW")
    om(db_url, "inventory", "receive", "TEE", "BHW", "5", "--tenant", tenant.code)  # emits stock.changed
    # when
    counts = []
    for _ in range(100):
        result = om(db_url, "worker", "--once")
        assert result.exit_code == 0, result.output
        counts.append(int(result.stdout.split()[1]))
        if counts[-1] == 0:
            break
    # then
    assert sum(counts) >= 1 and counts[-1] == 0
    assert result.stdout == "processed 0 event(s)\n"


def test_worker_only_names_an_unknown_job_plainly(db_url: str) -> None:
    result = om(db_url, "worker", "--only", "channel_inbx")
    assert result.exit_code == 2
    assert "no job named channel_inbx" in result.output and "channel_inbox" in result.output


# --- demo -----------------------------------------------------------------------------------------


def test_demo_load_creates_a_realistic_tenant_once(db_url: str, container: Container) -> None:
    code = unique("demo")
    # when
    first = om(db_url, "demo", "load", "--tenant", code)
    second = om(db_url, "demo", "load", "--tenant", code)
    # then
    assert first.exit_code == 0, first.output
    assert "http://127.0.0.1:8000" in first.stdout
    assert f"admin@{code}.ordermesh.local / demo-admin-pass" in first.stdout
    key = next(line.split()[2] for line in first.stdout.splitlines() if line.startswith("API key:"))
    with container.uow(tenant_id=None) as uow:
        assert platform.authenticate_key(uow, key).tenant_code == code
    with container.uow(tenant_id=None) as uow:
        assert platform.authenticate_user(uow, f"admin@{code}.ordermesh.local", "demo-admin-pass").tenant_code == code

    for _ in range(50):  # the worker turns the demo's low-stock events into alerts
        if om(db_url, "worker", "--once").stdout == "processed 0 event(s)\n":
            break
    with container.uow(tenant_id=None, write=False) as uow:
        uow.use_tenant(platform.tenant_id_for(uow, code))
        locs = uow.locations.all()
        rows = list(catalog.export_rows(uow))
        tee = inventory.stock_for_sku(uow, "TS-CREW-BLK-M")
        combo = inventory.stock_for_sku(uow, "COMBO-TEE3-M")
        movements = uow.stock.count_movements()
        alerts = uow.alerts.open_alerts()
    assert 190 <= len(rows) <= 210
    assert {(loc.spec.code, loc.spec.address.state.iso) for loc in locs} == {
        ("BHW01", "MH"),
        ("GGN01", "HR"),
        ("BLR01", "KA"),
    }
    assert all(loc.spec.gstin for loc in locs)
    bundles = [r for r in rows if r["components"]]
    assert len(bundles) >= 3
    assert all(1 < len(b["components"].split("|")) <= 3 for b in bundles)
    eans = [b for r in rows for b in r["barcodes"].split("|") if b]
    assert len(eans) > len(rows) * 0.8
    assert all(len(b) == 13 and gtin_ok(b) for b in eans)
    assert {r["gst_rate"] for r in rows} >= {"0", "3", "5", "12", "18"}
    assert tee.totals.on_hand > 0 and combo.is_bundle
    assert movements > 200
    assert alerts, "some demo stock starts below its low-stock threshold"

    assert second.exit_code == 0
    assert "already exists" in second.stdout
    assert sku_count(container, code) == len(rows)
    clean = om(db_url, "inventory", "check", "--tenant", code)
    assert clean.exit_code == 0 and f"({movements} movements" in clean.stdout


def test_demo_files_are_what_the_generator_writes() -> None:
    skus = generate.sku_rows()
    shipped = Path(generate.__file__).parent
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=generate.SKU_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(skus)
    assert (shipped / "skus.csv").read_text(encoding="utf-8") == out.getvalue()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=generate.STOCK_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(generate.stock_rows(skus))
    assert (shipped / "stock.csv").read_text(encoding="utf-8") == out.getvalue()


# --- database and server --------------------------------------------------------------------------


def test_db_status_reports_a_fresh_database_as_behind_until_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    behind = om(url, "db", "status")
    refused = om(url, "tenants", "list")
    upgraded = om(url, "db", "upgrade")
    current = om(url, "db", "status")
    again = om(url, "db", "upgrade")
    assert behind.exit_code == 1
    assert "current:  none (empty database)" in behind.stdout and "behind: run 'ordermesh db upgrade'" in behind.stdout
    assert refused.exit_code == 1 and "is behind; run 'ordermesh db upgrade'" in refused.stderr
    assert upgraded.exit_code == 0 and "upgraded from an empty database to" in upgraded.stdout
    assert current.exit_code == 0 and "up to date" in current.stdout
    assert again.exit_code == 0 and "already at the head revision" in again.stdout


def test_serve_refuses_a_database_that_is_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    started: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started.append(a))
    url = f"sqlite:///{tmp_path / 'unmigrated.db'}"
    result = om(url, "serve", "--port", "8799")
    assert result.exit_code == 1
    assert result.stderr == f"error: the database at {url} is behind; run 'ordermesh db upgrade'\n"
    assert started == []


def test_python_dash_m_ordermesh_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ordermesh", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"ordermesh {__version__}\n"
