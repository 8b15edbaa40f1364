"""Demo data: a tenant with three warehouses, about 200 SKUs and bundles, opening stock, an admin
user and an admin API key, so a new installation has something to look at.

Everything goes through the ordinary use cases (catalog import, locations, stock movements,
users, keys), so the demo obeys the same rules and leaves the same audit trail as real data. Each
step is its own transaction, as each use case owns one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ordermesh.adapters.db.uow import UnitOfWork, UowFactory
from ordermesh.domain.access import SYSTEM, Actor
from ordermesh.services import catalog, inventory, locations, platform

DEMO_TENANT = "demo"
DEMO_PASSWORD = "demo-admin-pass"

# Three warehouses in three states: Bhiwandi (Maharashtra, the Mumbai-Thane logistics belt),
# Gurugram (Haryana, for the north) and Bengaluru (Karnataka, for the south).
DEMO_LOCATIONS: tuple[dict[str, Any], ...] = (
    {
        "code": "BHW01",
        "name": "Bhiwandi Fulfilment Centre",
        "kind": "warehouse",
        "address": {
            "line1": "Building B4, Indian Corporation Warehousing Park",
            "line2": "Mankoli Naka, Dapode Road",
            "city": "Bhiwandi",
            "state": "MH",
            "pincode": "421302",
        },
        "gstin": "27AAACE0000E1ZM",
        "priority": 10,
    },
    {
        "code": "GGN01",
        "name": "Gurugram Fulfilment Centre",
        "kind": "warehouse",
        "address": {
            "line1": "Plot 112, Udyog Vihar Phase IV",
            "city": "Gurugram",
            "state": "HR",
            "pincode": "122015",
        },
        "gstin": "06AAACE0000E1ZQ",
        "priority": 20,
    },
    {
        "code": "BLR01",
        "name": "Bengaluru Fulfilment Centre",
        "kind": "warehouse",
        "address": {
            "line1": "Survey No. 41, Dabaspet Industrial Area",
            "line2": "Nelamangala Taluk",
            "city": "Bengaluru",
            "state": "KA",
            "pincode": "562123",
        },
        "gstin": "29AAACS0000S1ZB",
        "priority": 30,
    },
)


@dataclass(frozen=True)
class DemoLoaded:
    """What ``load_demo`` did. ``created`` is False when the tenant already existed (nothing was
    written); the password and key are only known on the run that created them."""

    tenant: str
    created: bool
    admin_email: str
    admin_password: str | None = None
    api_key: str | None = None
    locations: int = 0
    skus: int = 0
    bundles: int = 0
    receipts: int = 0
    units: int = 0
    thresholds: int = 0


def admin_email_for(tenant: str) -> str:
    """Emails are unique across tenants, so a demo loaded under another code gets its own admin."""
    return f"admin@{tenant}.ordermesh.local"


def _data_file(name: str) -> str:
    return resources.files("ordermesh").joinpath("demo", name).read_text(encoding="utf-8")


def demo_catalog() -> tuple[list[str], list[tuple[int, dict[str, str | None]]]]:
    """The demo catalog as (header, [(line number, row)]) in the ``catalog import`` CSV format."""
    reader = csv.DictReader(io.StringIO(_data_file("skus.csv")))
    header = list(reader.fieldnames or [])
    rows: list[tuple[int, dict[str, str | None]]] = []
    for row in reader:
        rows.append((reader.line_num, {k: v for k, v in row.items() if k}))
    return header, rows


@dataclass(frozen=True)
class OpeningStock:
    sku: str
    location: str
    quantity: int
    low_stock_threshold: int | None


def demo_stock() -> list[OpeningStock]:
    reader = csv.DictReader(io.StringIO(_data_file("stock.csv")))
    return [
        OpeningStock(
            r["sku"],
            r["location"],
            int(r["quantity"]),
            int(r["low_stock_threshold"]) if r["low_stock_threshold"] else None,
        )
        for r in reader
    ]


def _bundles(rows: list[tuple[int, dict[str, str | None]]]) -> int:
    return sum(1 for _, row in rows if (row.get("components") or "").strip())


def load_demo(
    uow_factory: UowFactory,
    *,
    tenant: str = DEMO_TENANT,
    actor: Actor = SYSTEM,
    password: str = DEMO_PASSWORD,
    progress: Callable[[str], None] | None = None,
) -> DemoLoaded:
    """Create the demo tenant and its data, unless a tenant with that code already exists."""
    email = admin_email_for(tenant)
    with uow_factory(tenant_id=None, actor=actor, write=False) as uow:
        if uow.tenants.by_code(tenant) is not None:
            return DemoLoaded(tenant, created=False, admin_email=email)

    def step(message: str) -> None:
        if progress:
            progress(message)

    step(f"creating tenant '{tenant}'")
    with uow_factory(tenant_id=None, actor=actor) as uow:
        tenant_id = platform.create_tenant(uow, code=tenant, name="Saanjh Living (demo)")

    def scoped() -> UnitOfWork:
        uow: UnitOfWork = uow_factory(tenant_id=tenant_id, actor=actor)
        return uow

    step("creating 3 warehouses")
    for raw in DEMO_LOCATIONS:
        with scoped() as uow:
            locations.create_location(uow, raw)

    header, rows = demo_catalog()
    step(f"importing {len(rows)} SKUs")
    with scoped() as uow:
        result, _ = catalog.import_skus(uow, rows, header=header)

    stock = demo_stock()
    received = [s for s in stock if s.quantity > 0]
    step(f"receiving opening stock ({len(received)} receipts)")
    for s in received:
        with scoped() as uow:
            inventory.record_movement(
                uow,
                sku=s.sku,
                location=s.location,
                kind="receipt",
                quantity=s.quantity,
                reason="opening stock",
                reference=f"GRN/{s.location}/OPENING",
            )
    thresholds = [s for s in stock if s.low_stock_threshold is not None]
    for s in thresholds:
        with scoped() as uow:
            inventory.set_stock_policy(uow, sku=s.sku, location=s.location, low_stock_threshold=s.low_stock_threshold)

    step("creating the admin user and API key")
    with uow_factory(tenant_id=None, actor=actor) as uow:
        platform.create_user(uow, tenant=tenant, email=email, name="Demo Admin", password=password, role="admin")
    with uow_factory(tenant_id=None, actor=actor) as uow:
        issued = platform.create_api_key(uow, tenant=tenant, role="admin", name="demo admin key")

    return DemoLoaded(
        tenant,
        created=True,
        admin_email=email,
        admin_password=password,
        api_key=issued.key,
        locations=len(DEMO_LOCATIONS),
        skus=result.created,
        bundles=_bundles(rows),
        receipts=len(received),
        units=sum(s.quantity for s in received),
        thresholds=len(thresholds),
    )
