"""``ordermesh channels`` and ``ordermesh orders import --profile`` end to end, through Typer's
CliRunner, on SQLite and PostgreSQL, against the Shopify fake where a remote is needed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ordermesh.adapters.channels.connections import Connections
from ordermesh.domain.errors import Unauthorized
from ordermesh.services import channel_sync as cs
from ordermesh.services import channels
from tests.conftest import TenantCtx
from tests.e2e.test_cli import om
from tests.factories import make_location, make_sku, receive
from tests.fakes.shopify import (
    ACCESS_TOKEN,
    API_VERSION,
    LOCATION,
    WEBHOOK_SECRET,
    FakeShopify,
    fixture_bytes,
    inventory_item_of,
    webhook_headers,
)
from tests.unit.channels.test_csv_report import AMAZON_ORDER_HEADER, COD_ORDER, table

ORDER_ID = "5812345678901"
KURTA, SPEAKER = "KRT-COT-BLU-M", "SPK-BT-10W-BLK"
KURTA_VARIANT, SPEAKER_VARIANT = "44012345678901", "44012345678902"


@pytest.fixture
def fake() -> Iterator[FakeShopify]:
    with FakeShopify() as server:
        yield server


@pytest.fixture
def shop(tenant: TenantCtx, fake: FakeShopify) -> TenantCtx:
    """A tenant with a Shopify channel 'shop' pointed at the fake, two SKUs and their stock."""
    make_location(tenant, "BLR", "KA")
    make_sku(tenant, KURTA, mrp="999.00")
    make_sku(tenant, SPEAKER, mrp="1999.00")
    receive(tenant, KURTA, "BLR", 10)
    receive(tenant, SPEAKER, "BLR", 4)
    with tenant.uow() as uow:
        channels.create_channel(
            uow,
            {
                "code": "shop",
                "type": "shopify",
                "name": "Our Shopify store",
                "base_url": fake.url,
                "credentials": {"access_token": ACCESS_TOKEN, "webhook_secret": WEBHOOK_SECRET},
                "connector": {"api_version": API_VERSION, "location_id": LOCATION, "since": "2025-01-01T00:00:00Z"},
            },
            tenant.container.connections.vault,
        )
    return tenant


@pytest.fixture
def sync(shop: TenantCtx) -> Iterator[cs.Sync]:
    connections = Connections(lambda: shop.container.connections.vault, sleep=lambda s: None)
    yield cs.Sync(shop.container.uow, connections, shop.id)
    connections.close()


def orders_of(t: TenantCtx) -> list[Any]:
    with t.uow(write=False) as uow:
        rows = uow.conn.execute(
            text("SELECT id, external_id, status FROM orders WHERE tenant_id = :t ORDER BY id"), {"t": t.id}
        )
        return list(rows)


def sealed(t: TenantCtx, code: str) -> str:
    with t.uow(write=False) as uow:
        stored = uow.conn.execute(
            text("SELECT credentials FROM channels WHERE tenant_id = :t AND code = :c"), {"t": t.id, "c": code}
        ).scalar()
    assert isinstance(stored, str)
    return stored


def listings_csv(tmp_path: Path, body: str) -> str:
    path = tmp_path / "listings.csv"
    path.write_text(body, encoding="utf-8")
    return str(path)


LISTINGS = f"""listing_id,sku,seller_sku,active,inventory_item_id
{KURTA_VARIANT},{KURTA},KRT-1,true,{inventory_item_of(KURTA_VARIANT)}
{SPEAKER_VARIANT},NOT-A-SKU,SPK-1,true,{inventory_item_of(SPEAKER_VARIANT)}
44012345678903,,UNMAPPED-1,maybe,
"""


# -- credentials ------------------------------------------------------------------------------------


def test_credentials_are_sealed_and_never_echoed(db_url: str, shop: TenantCtx) -> None:
    # when: one secret on the command line, one typed at the hidden prompt
    r = om(db_url, "channels", "credentials", "shop", "access_token=shpat_new_value_123", "webhook_secret",
           "--tenant", shop.code, input="whsec_typed_value_456\n")  # fmt: skip
    # then
    assert r.exit_code == 0, r.output
    assert "shpat_new_value_123" not in r.output and "whsec_typed_value_456" not in r.output
    assert "access_token, webhook_secret" in r.stdout
    stored = sealed(shop, "shop")
    assert "shpat_new_value_123" not in stored
    opened = shop.container.connections.vault.open(stored)
    assert opened == {"access_token": "shpat_new_value_123", "webhook_secret": "whsec_typed_value_456"}
    with shop.uow(write=False) as uow:
        audit = uow.conn.execute(
            text("SELECT after FROM audit_log WHERE tenant_id = :t AND action = 'channel.credentials_set'"),
            {"t": shop.id},
        ).scalar()
    assert "shpat_new_value_123" not in str(audit)


def test_credentials_of_an_unknown_channel_or_without_a_key_fail_plainly(db_url: str, shop: TenantCtx) -> None:
    missing = om(db_url, "channels", "credentials", "nowhere", "a=b", "--tenant", shop.code)
    assert missing.exit_code == 1 and missing.stderr == "error: channel 'nowhere' not found\n"
    bad = om(db_url, "channels", "credentials", "shop", "=secret", "--tenant", shop.code)
    assert bad.exit_code == 2 and "secret" not in bad.output.replace("secrets", "")


# -- listings, push, reconcile, health --------------------------------------------------------------


def test_listings_import_reports_bad_rows_and_keeps_the_good(db_url: str, shop: TenantCtx, tmp_path: Path) -> None:
    # when
    r = om(db_url, "channels", "listings", "import", "shop", listings_csv(tmp_path, LISTINGS), "--tenant", shop.code)
    # then: row 3 names an unknown SKU, row 4 an unreadable 'active'; row 2 is saved
    assert r.exit_code == 1, r.output
    assert "3 listing row(s) for shop: 1 created, 0 updated, 2 rejected" in r.stdout
    assert "line 3, column sku: SKU 'NOT-A-SKU' not found" in r.stderr
    assert "line 4, column active: must be true or false" in r.stderr
    listed = om(db_url, "channels", "listings", "list", "shop", "--tenant", shop.code)
    assert listed.exit_code == 0, listed.output
    [row] = [line for line in listed.stdout.splitlines() if KURTA_VARIANT in line]
    assert KURTA in row and " 10 " in row and "10 available at 1 location(s)" in row
    as_json = json.loads(om(db_url, "channels", "listings", "list", "shop", "--tenant", shop.code, "--json").stdout)
    assert as_json[0]["available_to_sell"]["quantity"] == 10 and as_json[0]["pending_push"] is True


def test_listings_import_without_a_listing_id_column_fails_plainly(
    db_url: str, shop: TenantCtx, tmp_path: Path
) -> None:
    r = om(db_url, "channels", "listings", "import", "shop", listings_csv(tmp_path, "sku,active\nX,true\n"),
           "--tenant", shop.code)  # fmt: skip
    assert r.exit_code == 1 and r.stderr == "error: the CSV needs a header row with a listing_id column\n"


def test_push_reconcile_and_health(db_url: str, shop: TenantCtx, fake: FakeShopify, tmp_path: Path) -> None:
    # given: both listings mapped, the store showing 0 of each
    body = f"""listing_id,sku,inventory_item_id
{KURTA_VARIANT},{KURTA},{inventory_item_of(KURTA_VARIANT)}
{SPEAKER_VARIANT},{SPEAKER},{inventory_item_of(SPEAKER_VARIANT)}
"""
    imported = om(db_url, "channels", "listings", "import", "shop", listings_csv(tmp_path, body), "--tenant", shop.code)
    assert imported.exit_code == 0, imported.output
    fake.stock(inventory_item_of(KURTA_VARIANT), available=0)
    fake.stock(inventory_item_of(SPEAKER_VARIANT), available=0)
    # when
    pushed = om(db_url, "channels", "push", "shop", "--tenant", shop.code)
    # then
    assert pushed.exit_code == 0, pushed.output
    assert "shop: 2 listing(s) pushed, 0 failed" in pushed.stdout
    assert fake.available(inventory_item_of(KURTA_VARIANT)) == 10
    assert fake.available(inventory_item_of(SPEAKER_VARIANT)) == 4

    # when: someone edits the kurta on Shopify
    fake.stock(inventory_item_of(KURTA_VARIANT), available=3)
    reconciled = om(db_url, "channels", "reconcile", "shop", "--tenant", shop.code)
    # then: the drift is shown and corrected
    assert reconciled.exit_code == 0, reconciled.output
    [drift] = [line for line in reconciled.stdout.splitlines() if KURTA_VARIANT in line]
    assert [cell.strip() for cell in drift.split("│")[1:5]] == [KURTA_VARIANT, KURTA, "3", "10"]
    assert "2 listing(s) checked, 1 drifted, 1 corrected" in reconciled.stdout
    assert fake.available(inventory_item_of(KURTA_VARIANT)) == 10

    health = om(db_url, "channels", "health", "--tenant", shop.code)
    assert health.exit_code == 0, health.output
    [shop_row] = [line for line in health.stdout.splitlines() if " shop " in line]
    assert "shopify" in shop_row and shop_row.count("never") == 1  # pushed, never pulled
    as_json = json.loads(om(db_url, "channels", "health", "--tenant", shop.code, "--json").stdout)
    [entry] = [h for h in as_json if h["channel"] == "shop"]
    assert entry["inventory"]["last_success_at"] is not None and entry["inventory"]["failures"] == 0


def test_pull_brings_orders_in_and_a_failing_pull_shows_in_health(
    db_url: str, shop: TenantCtx, fake: FakeShopify
) -> None:
    fake.seed_fixture()
    # when
    pulled = om(db_url, "channels", "pull", "shop", "--tenant", shop.code)
    # then
    assert pulled.exit_code == 0, pulled.output
    assert [o.external_id for o in orders_of(shop)] == [ORDER_ID]

    # when: the token is wrong
    om(db_url, "channels", "credentials", "shop", "access_token=shpat_wrong", f"webhook_secret={WEBHOOK_SECRET}",
       "--tenant", shop.code)  # fmt: skip
    failed = om(db_url, "channels", "pull", "shop", "--tenant", shop.code)
    # then: a plain error, exit 1, and health shows the failure with its text
    assert failed.exit_code == 1
    assert failed.stderr.startswith("error: ") and "Traceback" not in failed.stderr
    assert "shpat_wrong" not in failed.output
    health = om(db_url, "channels", "health", "--tenant", shop.code)
    [shop_row] = [line for line in health.stdout.splitlines() if " shop " in line]
    assert "orders 1" in shop_row
    assert len(orders_of(shop)) == 1


def test_pull_of_an_unknown_channel_fails_plainly(db_url: str, shop: TenantCtx) -> None:
    r = om(db_url, "channels", "pull", "nowhere", "--tenant", shop.code)
    assert r.exit_code == 1 and r.stderr == "error: channel 'nowhere' not found\n"


# -- inbox and retry --------------------------------------------------------------------------------


def test_inbox_shows_a_rejected_webhook_and_retry_processes_it_once_the_secret_is_right(
    db_url: str, shop: TenantCtx, sync: cs.Sync
) -> None:
    # given: the secret kept is wrong, so the real delivery is rejected
    om(db_url, "channels", "credentials", "shop", f"access_token={ACCESS_TOKEN}", "webhook_secret=not-the-secret",
       "--tenant", shop.code)  # fmt: skip
    with pytest.raises(Unauthorized):
        cs.receive_webhook(sync, shop.code, "shop", webhook_headers(), fixture_bytes("shopify_orders_create.json"))
    listed = om(db_url, "channels", "inbox", "--tenant", shop.code, "--state", "rejected", "--channel", "shop")
    assert listed.exit_code == 0, listed.output
    [row] = [line for line in listed.stdout.splitlines() if "rejected" in line]
    item_id = row.split("│")[1].strip()
    assert "webhook" in row and "orders/create" in row
    assert (
        om(db_url, "channels", "inbox", "--tenant", shop.code, "--state", "failed").stdout
        == "no inbox items in state failed\n"
    )

    # when: retried with the secret still wrong
    again = om(db_url, "channels", "retry", item_id, "--tenant", shop.code)
    # then
    assert again.exit_code == 1 and "signature still does not match" in again.stderr
    assert orders_of(shop) == []

    # when: the secret is corrected and the item retried
    om(db_url, "channels", "credentials", "shop", f"access_token={ACCESS_TOKEN}", f"webhook_secret={WEBHOOK_SECRET}",
       "--tenant", shop.code)  # fmt: skip
    retried = om(db_url, "channels", "retry", item_id, "--tenant", shop.code)
    # then
    assert retried.exit_code == 0, retried.output
    assert f"inbox item {item_id}: processed" in retried.stdout
    assert [o.external_id for o in orders_of(shop)] == [ORDER_ID]
    processed = om(db_url, "channels", "inbox", "--tenant", shop.code, "--state", "processed").stdout
    assert "orders/create" in processed


def test_a_failed_item_fails_again_plainly_and_a_bad_state_is_named(
    db_url: str, shop: TenantCtx, sync: cs.Sync
) -> None:
    import base64
    import hashlib
    import hmac

    body = b'{"id": 1, "line_items": "not a list"}'
    signature = base64.b64encode(hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    got = cs.receive_webhook(sync, shop.code, "shop", {**webhook_headers(), "X-Shopify-Hmac-Sha256": signature}, body)
    assert got.item_id is not None and not got.processed
    listed = om(db_url, "channels", "inbox", "--tenant", shop.code, "--state", "failed")
    assert "cannot read the webhook body" in listed.stdout
    retried = om(db_url, "channels", "retry", str(got.item_id), "--tenant", shop.code)
    assert retried.exit_code == 1 and retried.stderr.startswith(f"error: inbox item {got.item_id} failed again")
    bad = om(db_url, "channels", "inbox", "--tenant", shop.code, "--state", "lost")
    assert bad.exit_code == 1 and "state must be received" in bad.stderr
    unknown = om(db_url, "channels", "retry", "999999999", "--tenant", shop.code)
    assert unknown.exit_code == 1 and unknown.stderr == "error: inbox item 999999999 not found\n"


# -- orders import --profile ------------------------------------------------------------------------


def amazon_tsv(tmp_path: Path) -> str:
    """Two good orders (one of two lines) and one whose quantity cannot be read."""
    rows = [
        {**COD_ORDER, "order-item-id": "1", "sku": "AMZ-KURTA", "quantity-purchased": "2", "item-price": "1998.00"},
        {**COD_ORDER, "order-item-id": "2", "sku": SPEAKER, "quantity-purchased": "1", "item-price": "1999.00"},
        {**COD_ORDER, "order-id": "403-0000000-0000002", "order-item-id": "3", "sku": "AMZ-KURTA",
         "quantity-purchased": "two", "item-price": "999.00"},
        {**COD_ORDER, "order-id": "404-0000000-0000003", "order-item-id": "4", "sku": SPEAKER,
         "quantity-purchased": "1", "item-price": "1999.00", "payment-method": "Other", "cod-collectible-amount": "0"},
    ]  # fmt: skip
    path = tmp_path / "amazon.txt"
    path.write_bytes(table(AMAZON_ORDER_HEADER, rows, sep="\t", eol="\n"))
    return str(path)


@pytest.fixture
def amazon(shop: TenantCtx) -> TenantCtx:
    """The shop tenant with an Amazon channel (no API) whose listing AMZ-KURTA is our kurta."""
    with shop.uow() as uow:
        channels.create_channel(uow, {"code": "amz", "type": "amazon", "name": "Amazon.in"})
    with shop.uow() as uow:
        cs.put_listing(uow, "amz", {"listing_id": "AMZ-KURTA", "sku": KURTA})
    return shop


def test_orders_import_with_a_profile_maps_listings_and_reports_bad_rows(
    db_url: str, amazon: TenantCtx, tmp_path: Path
) -> None:
    path = amazon_tsv(tmp_path)
    # when
    r = om(db_url, "orders", "import", path, "--tenant", amazon.code, "--profile", "amazon_order_report",
           "--channel", "amz")  # fmt: skip
    # then: the two good orders are in, the bad one is named by row and column
    assert r.exit_code == 1, r.output
    assert "3 orders in 4 rows" in r.stdout and "2 created" in r.stdout and "1 rejected" in r.stdout
    assert "line 4, column quantity-purchased:" in r.stderr and "'two'" in r.stderr
    assert [o.external_id for o in orders_of(amazon)] == ["402-1234567-1234567", "404-0000000-0000003"]
    with amazon.uow(write=False) as uow:
        first = uow.orders.get(orders_of(amazon)[0].id)
        assert first is not None
        assert [(line.sku_code, line.quantity) for line in first.lines] == [(KURTA, 2), (SPEAKER, 1)]
        assert first.row.channel_data["status"] == "Unshipped"

    # when: the same file again
    again = om(db_url, "orders", "import", path, "--tenant", amazon.code, "--profile", "amazon_order_report",
               "--channel", "amz", "--json")  # fmt: skip
    # then: nothing new
    assert again.exit_code == 1
    report = json.loads(again.stdout)
    assert (report["created"], report["unchanged"], report["rejected_orders"]) == (0, 2, 1)
    assert report["errors"][0]["line"] == 4 and report["errors"][0]["column"] == "quantity-purchased"
    assert len(orders_of(amazon)) == 2


def test_orders_import_with_a_profile_checks_its_options_and_header(
    db_url: str, amazon: TenantCtx, tmp_path: Path
) -> None:
    path = amazon_tsv(tmp_path)
    no_channel = om(db_url, "orders", "import", path, "--tenant", amazon.code, "--profile", "amazon_order_report")
    assert no_channel.exit_code == 2 and "--channel" in no_channel.output
    unknown = om(db_url, "orders", "import", path, "--tenant", amazon.code, "--profile", "ebay", "--channel", "amz")
    assert unknown.exit_code == 1 and unknown.stderr.startswith("error: profile ebay: ")
    wrong = om(db_url, "orders", "import", path, "--tenant", amazon.code, "--profile", "flipkart_orders",
               "--channel", "amz")  # fmt: skip
    assert wrong.exit_code == 1 and wrong.stderr.startswith("error: ") and "Order Id" in wrong.stderr
    channel_alone = om(db_url, "orders", "import", path, "--tenant", amazon.code, "--channel", "amz")
    assert channel_alone.exit_code == 2
    assert orders_of(amazon) == []


def test_orders_import_with_a_json_profile_file(db_url: str, amazon: TenantCtx, tmp_path: Path) -> None:
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"name": "ours", "extends": "amazon_order_report"}), encoding="utf-8")
    r = om(db_url, "orders", "import", amazon_tsv(tmp_path), "--tenant", amazon.code, "--profile", str(profile),
           "--channel", "amz", "--dry-run")  # fmt: skip
    assert r.exit_code == 1, r.output
    assert "dry run" in r.stdout and "profile ours" in r.stdout
    assert orders_of(amazon) == []
