"""``ordermesh channels list | create | set``: a channel's record from the command line, on SQLite and
PostgreSQL. Settings and the stock rule merge into what the channel has; errors name the field;
credentials are only ever said to be set, never shown."""

from __future__ import annotations

import json

from ordermesh.services import channel_sync as cs
from ordermesh.services import channels
from tests.conftest import TenantCtx
from tests.e2e.test_cli import om
from tests.factories import make_location

SECRET = "shpat_do_not_print_me_0123456789"


def spec_of(t: TenantCtx, code: str) -> dict[str, object]:
    with t.uow(write=False) as uow:
        return channels.get_channel(uow, code).spec.as_dict()


def test_create_then_set_merges_settings_and_the_stock_rule(db_url: str, tenant: TenantCtx) -> None:
    make_location(tenant, "BLR", "KA")
    # when
    created = om(db_url, "channels", "create", "shopify-main", "--type", "shopify", "--name", "Our store",
                 "--base-url", "https://kurta-co.myshopify.com", "--location", "BLR",
                 "--setting", "api_version=2024-10", "--setting", "page_size=50", "--setting", "notify_customer=false",
                 "--inventory", "buffer=2", "--inventory", "percent=50", "--tenant", tenant.code)  # fmt: skip
    # then values that look like JSON scalars are read as such, others stay text
    assert created.exit_code == 0, created.output
    assert "shopify-main: created" in created.stdout
    spec = spec_of(tenant, "shopify-main")
    assert spec["connector"] == {"api_version": "2024-10", "page_size": 50, "notify_customer": False}
    assert spec["inventory"] == {"buffer": 2, "percent": 50}
    assert spec["locations"] == ["BLR"] and spec["base_url"] == "https://kurta-co.myshopify.com"
    # when one setting and one rule term change, one setting is removed and the channel is switched off
    changed = om(db_url, "channels", "set", "shopify-main", "--setting", "location_id=68012345678",
                 "--setting", "page_size=null", "--inventory", "percent=60", "--inventory", "maximum=20",
                 "--name", "Kurta Co on Shopify", "--inactive", "--tenant", tenant.code)  # fmt: skip
    # then the rest is kept
    assert changed.exit_code == 0, changed.output
    assert "changed active, connector, inventory, name" in changed.stdout
    spec = spec_of(tenant, "shopify-main")
    assert spec["connector"] == {"api_version": "2024-10", "notify_customer": False, "location_id": 68012345678}
    assert spec["inventory"] == {"buffer": 2, "percent": 60, "maximum": 20}
    assert spec["name"] == "Kurta Co on Shopify" and spec["active"] is False
    assert spec["locations"] == ["BLR"]
    # and a quoted number stays text
    quoted = om(db_url, "channels", "set", "shopify-main", "--setting", 'location_id="68012345678"', "--active",
                "--tenant", tenant.code)  # fmt: skip
    assert quoted.exit_code == 0, quoted.output
    spec = spec_of(tenant, "shopify-main")
    assert spec["connector"]["location_id"] == "68012345678" and spec["active"] is True  # type: ignore[index]


def test_list_shows_each_channel_and_whether_its_credentials_are_set_never_their_values(
    db_url: str, tenant: TenantCtx
) -> None:
    # given a channel with sealed credentials, and the manual channel every tenant has
    assert om(db_url, "channels", "create", "shop", "--type", "shopify", "--name", "Our store",
              "--base-url", "https://kurta-co.myshopify.com", "--tenant", tenant.code).exit_code == 0  # fmt: skip
    with tenant.uow() as uow:
        cs.set_credentials(uow, tenant.container.connections, "shop", {"access_token": SECRET})
    # when
    listed = om(db_url, "channels", "list", "--tenant", tenant.code)
    as_json = om(db_url, "channels", "list", "--json", "--tenant", tenant.code)
    # then
    assert listed.exit_code == 0, listed.output
    rows = {line.split("│")[1].strip(): line for line in listed.stdout.splitlines() if line.count("│") > 2}
    assert set(rows) >= {"shop", "manual"}
    shop = [cell.strip() for cell in rows["shop"].split("│")[1:-1]]
    assert shop == ["shop", "shopify", "Our store", "yes", "yes", "https://kurta-co.myshopify.com", "set"]
    manual = [cell.strip() for cell in rows["manual"].split("│")[1:-1]]
    assert manual[1] == "manual" and manual[4] == "no" and manual[6] == "not set"
    assert SECRET not in listed.output
    assert as_json.exit_code == 0, as_json.output
    assert SECRET not in as_json.output and "access_token" not in as_json.output
    by_code = {c["code"]: c for c in json.loads(as_json.stdout)}
    assert by_code["shop"]["credentials_set"] is True and by_code["manual"]["credentials_set"] is False


def test_a_bad_value_names_its_field_and_exits_non_zero(db_url: str, tenant: TenantCtx) -> None:
    assert om(db_url, "channels", "create", "shop", "--type", "shopify", "--name", "Our store",
              "--inventory", "percent=50", "--tenant", tenant.code).exit_code == 0  # fmt: skip
    # when the percent is out of range
    bad = om(db_url, "channels", "set", "shop", "--inventory", "percent=150", "--tenant", tenant.code)
    # then the field is named and nothing changed
    assert bad.exit_code != 0
    assert "inventory.percent" in bad.stderr and "at most 100" in bad.stderr
    assert spec_of(tenant, "shop")["inventory"] == {"percent": 50}
    # an unknown rule term, a new channel's bad percent, a pair without '=', bad JSON, a bad type
    unknown = om(db_url, "channels", "set", "shop", "--inventory", "cap=5", "--tenant", tenant.code)
    assert unknown.exit_code != 0 and "inventory.cap: unknown setting" in unknown.stderr
    new_bad = om(db_url, "channels", "create", "amz", "--type", "amazon", "--name", "Amazon",
                 "--inventory", "percent=150", "--tenant", tenant.code)  # fmt: skip
    assert new_bad.exit_code != 0 and "inventory.percent" in new_bad.stderr
    no_pair = om(db_url, "channels", "set", "shop", "--setting", "page_size", "--tenant", tenant.code)
    assert no_pair.exit_code != 0 and "--setting 'page_size': expected KEY=VALUE" in no_pair.stderr
    bad_json = om(db_url, "channels", "set", "shop", "--setting", "carrier_codes={oops", "--tenant", tenant.code)
    assert bad_json.exit_code != 0 and "--setting carrier_codes" in bad_json.stderr
    bad_type = om(db_url, "channels", "create", "x", "--type", "ebay", "--name", "X", "--tenant", tenant.code)
    assert bad_type.exit_code != 0 and "type: must be one of" in bad_type.stderr
    nothing = om(db_url, "channels", "set", "shop", "--tenant", tenant.code)
    assert nothing.exit_code != 0 and "nothing to change" in nothing.stderr
    missing = om(db_url, "channels", "set", "nowhere", "--name", "N", "--tenant", tenant.code)
    assert missing.exit_code != 0 and "channel 'nowhere' not found" in missing.stderr
    assert "Traceback" not in bad.output
