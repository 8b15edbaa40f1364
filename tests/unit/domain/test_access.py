"""Roles, permissions and what an actor may see."""

from __future__ import annotations

import pytest

from ordermesh.domain.access import ROLE_PERMISSIONS, SYSTEM, Actor, Permission, Role

P = Permission
READS = {
    P.CATALOG_READ,
    P.LOCATIONS_READ,
    P.INVENTORY_READ,
    P.CHANNELS_READ,
    P.ORDERS_READ,
    P.CUSTOMERS_READ,
    P.SHIPPING_READ,
}


def actor(role: Role, locations: frozenset[str] | None = None) -> Actor:
    return Actor("user", "7", "Asha", role, locations)


def test_every_role_has_permissions() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)


@pytest.mark.parametrize("role", list(Role))
def test_every_role_can_read(role: Role) -> None:
    assert ROLE_PERMISSIONS[role] >= READS


def test_admin_can_do_everything() -> None:
    assert all(actor(Role.ADMIN).can(p) for p in Permission)


def test_ops_can_do_everything_but_manage_users_and_erase_customers() -> None:
    assert {p for p in Permission if actor(Role.OPS).can(p)} == set(Permission) - {P.USERS_MANAGE, P.CUSTOMERS_ERASE}


def test_warehouse_moves_stock_but_does_not_promise_it() -> None:
    warehouse = actor(Role.WAREHOUSE)
    assert warehouse.can(P.INVENTORY_WRITE)
    assert warehouse.can(P.SHIPPING_WRITE)  # picks, packs, books and hands over
    assert not warehouse.can(P.CARRIERS_WRITE)
    assert not warehouse.can(P.INVENTORY_RESERVE)
    assert not warehouse.can(P.CATALOG_WRITE)
    assert not warehouse.can(P.AUDIT_READ)


def test_finance_reads_audits_and_sees_buyers_contacts() -> None:
    assert ROLE_PERMISSIONS[Role.FINANCE] == frozenset(READS | {P.AUDIT_READ, P.CUSTOMER_CONTACTS})


def test_support_works_orders_and_sees_buyers_contacts() -> None:
    assert ROLE_PERMISSIONS[Role.SUPPORT] == frozenset(READS | {P.ORDERS_WRITE, P.CUSTOMER_CONTACTS})


def test_viewer_only_reads_and_sees_contacts_masked() -> None:
    assert ROLE_PERMISSIONS[Role.VIEWER] == frozenset(READS)
    assert not actor(Role.VIEWER).can(P.CUSTOMER_CONTACTS)
    assert not actor(Role.WAREHOUSE).can(P.CUSTOMER_CONTACTS)


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_only_admins_manage_users(role: Role) -> None:
    assert not actor(role).can(P.USERS_MANAGE)


def test_an_actor_without_narrowing_sees_every_location() -> None:
    a = actor(Role.OPS)
    assert a.sees_location("BHW")
    assert a.visible_locations(["BLR", "BHW"]) == ["BLR", "BHW"]


def test_a_narrowed_actor_sees_only_its_locations_in_order() -> None:
    a = actor(Role.WAREHOUSE, frozenset({"BHW", "DEL"}))
    assert a.sees_location("BHW")
    assert not a.sees_location("BLR")
    assert a.visible_locations(["DEL", "BLR", "BHW"]) == ["DEL", "BHW"]


def test_an_empty_narrowing_sees_nothing() -> None:
    assert not actor(Role.OPS, frozenset()).sees_location("BHW")


def test_an_actor_ref_names_its_kind_and_id() -> None:
    assert actor(Role.VIEWER).ref == "user:7"
    assert Actor("api_key", "om_ab12", "CI key").ref == "api_key:om_ab12"


def test_an_actor_is_an_admin_unless_told() -> None:
    assert Actor("cli", "local", "CLI").role is Role.ADMIN


def test_the_system_actor_is_an_unrestricted_admin() -> None:
    assert SYSTEM.role is Role.ADMIN
    assert SYSTEM.locations is None and SYSTEM.channels is None
    assert SYSTEM.ref == "system:system"
