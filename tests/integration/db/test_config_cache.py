"""Each process caches a tenant's channels and locations for order intake, keyed by the tenant's
configuration version. A change made through any process reaches the next order everywhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from ordermesh.bootstrap import bootstrap
from ordermesh.config import Settings
from ordermesh.services import channels, locations
from tests.conftest import TenantCtx
from tests.factories import make_location, make_sku, place_order, receive


def routed_to(t: TenantCtx, ext: str) -> list[str]:
    order_id = place_order(t, ext)
    with t.uow(write=False) as uow:
        order = uow.orders.get(order_id)
        assert order is not None
        return sorted({a.location for a in order.allocations})


def version(t: TenantCtx) -> int:
    with t.uow(write=False) as uow:
        return int(uow.conn.execute(text("SELECT config_version FROM tenants WHERE id = :t"), {"t": t.id}).scalar_one())


@pytest.fixture
def other_process(tenant: TenantCtx, db_url: str) -> Iterator[TenantCtx]:
    """The same tenant through a second container, as another API process would see it."""
    container = bootstrap(Settings(database_url=db_url, pool_size=2))
    try:
        yield TenantCtx(tenant.id, tenant.code, container)
    finally:
        container.close()


def test_every_change_to_a_channel_or_location_bumps_the_tenant_config_version(tenant: TenantCtx) -> None:
    start = version(tenant)
    make_location(tenant, "BHW")
    after_create = version(tenant)
    with tenant.uow() as uow:
        locations.update_location(uow, "BHW", {"priority": 5})
    after_update = version(tenant)
    with tenant.uow() as uow:
        channels.update_channel(uow, "manual", {"name": "Phone and WhatsApp"})
    assert start < after_create < after_update < version(tenant)


def test_a_location_switched_off_elsewhere_is_not_routed_to_by_a_warm_process(
    tenant: TenantCtx, other_process: TenantCtx
) -> None:
    # given: two warehouses with stock, Bhiwandi preferred; the other process has routed there
    make_sku(tenant, "TEE")
    make_location(tenant, "BHW", priority=1)
    make_location(tenant, "PNQ", priority=2)
    receive(tenant, "TEE", "BHW", 10)
    receive(tenant, "TEE", "PNQ", 10)
    assert routed_to(other_process, "A-1") == ["BHW"]
    # when: Bhiwandi is switched off through the first process
    with tenant.uow() as uow:
        locations.update_location(uow, "BHW", {"active": False})
    # then: the other process's next order goes to Pune
    assert routed_to(other_process, "A-2") == ["PNQ"]


def test_a_channel_pinned_elsewhere_is_honoured_by_a_warm_process(tenant: TenantCtx, other_process: TenantCtx) -> None:
    make_sku(tenant, "TEE")
    make_location(tenant, "BHW", priority=1)
    make_location(tenant, "PNQ", priority=2)
    receive(tenant, "TEE", "BHW", 10)
    receive(tenant, "TEE", "PNQ", 10)
    assert routed_to(other_process, "B-1") == ["BHW"]
    with tenant.uow() as uow:
        channels.update_channel(uow, "manual", {"routing": {"pinned_location": "PNQ"}})
    assert routed_to(other_process, "B-2") == ["PNQ"]
