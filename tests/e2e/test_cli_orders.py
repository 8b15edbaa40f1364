"""Order hold actions and cancellation from the command line."""

from __future__ import annotations

from ordermesh.services import orders
from tests.conftest import TenantCtx
from tests.e2e.test_api_orders import order
from tests.e2e.test_cli import om
from tests.factories import balance, make_location, make_sku, receive


def test_resolve_and_cancel_from_the_command_line(db_url: str, tenant: TenantCtx) -> None:
    # given: stock, and one order held for its price and one for an unknown SKU
    make_sku(tenant, "TEE")
    make_location(tenant, "BHW")
    receive(tenant, "TEE", "BHW", 5)
    with tenant.uow() as uow:
        priced = orders.ingest_order(uow, order("P1", ("TEE", 2), price="999")).order_id
    with tenant.uow() as uow:
        unmapped = orders.ingest_order(
            uow, order("P2", ("AMZ-1", 1), customer={"name": "Ravi", "phone": "9123456780"})
        ).order_id
    listed = om(db_url, "orders", "list", "--tenant", tenant.code, "--hold", "price_check")
    assert listed.exit_code == 0 and "P1" in listed.stdout and "P2" not in listed.stdout
    # when
    r1 = om(
        db_url, "orders", "resolve", str(priced), "price_check", "--tenant", tenant.code, "--note", "festival price"
    )
    r2 = om(db_url, "orders", "resolve", str(unmapped), "unmapped_sku", "--tenant", tenant.code, "--map", "AMZ-1=TEE")
    # then
    assert r1.exit_code == 0 and "allocated" in r1.stdout
    assert r2.exit_code == 0 and "allocated" in r2.stdout
    assert balance(tenant, "TEE", "BHW").reserved == 3
    cancelled = om(
        db_url, "orders", "cancel", str(priced), "--tenant", tenant.code, "--reason", "buyer", "--line", "TEE=1"
    )
    assert cancelled.exit_code == 0 and balance(tenant, "TEE", "BHW").reserved == 2
    shown = om(db_url, "orders", "show", str(priced), "--tenant", tenant.code)
    assert shown.exit_code == 0 and "Cancelled TEE × 1" in shown.stdout
    bad = om(db_url, "orders", "resolve", str(priced), "nonsense", "--tenant", tenant.code)
    assert bad.exit_code == 1 and "not a hold reason" in bad.stderr
