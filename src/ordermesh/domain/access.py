"""Roles and what each may do. One table, used by the API, the dashboard and the CLI."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    OPS = "ops"
    WAREHOUSE = "warehouse"
    FINANCE = "finance"
    SUPPORT = "support"
    VIEWER = "viewer"


class Permission(StrEnum):
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"
    LOCATIONS_READ = "locations:read"
    LOCATIONS_WRITE = "locations:write"
    INVENTORY_READ = "inventory:read"
    INVENTORY_WRITE = "inventory:write"
    INVENTORY_RESERVE = "inventory:reserve"
    CHANNELS_READ = "channels:read"
    CHANNELS_WRITE = "channels:write"
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    SHIPPING_READ = "shipping:read"
    SHIPPING_WRITE = "shipping:write"  # pick, pack, book, manifest, act on NDRs
    CARRIERS_WRITE = "carriers:write"  # carrier accounts and their credentials
    CUSTOMERS_READ = "customers:read"
    CUSTOMER_CONTACTS = "customers:contacts"  # see phone numbers and emails unmasked
    CUSTOMERS_ERASE = "customers:erase"  # anonymise a person on request (DPDP Act)
    SETTINGS_WRITE = "settings:write"
    AUDIT_READ = "audit:read"
    USERS_MANAGE = "users:manage"


_READ = {
    Permission.CATALOG_READ,
    Permission.LOCATIONS_READ,
    Permission.INVENTORY_READ,
    Permission.CHANNELS_READ,
    Permission.ORDERS_READ,
    Permission.CUSTOMERS_READ,
    Permission.SHIPPING_READ,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPS: frozenset(
        _READ
        | {
            Permission.CATALOG_WRITE,
            Permission.LOCATIONS_WRITE,
            Permission.INVENTORY_WRITE,
            Permission.INVENTORY_RESERVE,
            Permission.AUDIT_READ,
            Permission.CHANNELS_WRITE,
            Permission.ORDERS_WRITE,
            Permission.SHIPPING_WRITE,
            Permission.CARRIERS_WRITE,
            Permission.CUSTOMER_CONTACTS,
            Permission.SETTINGS_WRITE,
        }
    ),
    Role.WAREHOUSE: frozenset(_READ | {Permission.INVENTORY_WRITE, Permission.SHIPPING_WRITE}),
    Role.FINANCE: frozenset(_READ | {Permission.AUDIT_READ, Permission.CUSTOMER_CONTACTS}),
    Role.SUPPORT: frozenset(_READ | {Permission.ORDERS_WRITE, Permission.CUSTOMER_CONTACTS}),
    Role.VIEWER: frozenset(_READ),
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user, an API key, the CLI or the system itself.

    ``locations``/``channels`` narrow what the actor sees; None means every one of the tenant's.
    """

    kind: str  # user | api_key | cli | system
    id: str
    label: str
    role: Role = Role.ADMIN
    locations: frozenset[str] | None = None
    channels: frozenset[str] | None = None

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def sees_location(self, code: str) -> bool:
        return self.locations is None or code in self.locations

    def sees_channel(self, code: str) -> bool:
        return self.channels is None or code in self.channels

    def visible_locations(self, codes: Iterable[str]) -> list[str]:
        return [c for c in codes if self.sees_location(c)]

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id}"


SYSTEM = Actor("system", "system", "ordermesh", Role.ADMIN)
