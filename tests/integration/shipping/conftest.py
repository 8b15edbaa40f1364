"""Fixtures shared by the journey and error tests of shipping (test_shipping_flow.py and
test_shipping_jobs.py define their own ``shop`` and ``conn``, which win in those modules)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ordermesh.adapters.channels.connections import Connections
from ordermesh.services import channel_sync as cs
from tests.conftest import TenantCtx
from tests.factories import make_location, make_sku, receive

KURTA_BARCODE = "8901234567890"


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def conn(tenant: TenantCtx, slept: list[float]) -> Iterator[cs.Sync]:
    """The calls to carriers, their waits recorded instead of slept."""
    connections = Connections(lambda: tenant.container.connections.vault, sleep=slept.append)
    yield cs.Sync(tenant.container.uow, connections, tenant.id)
    connections.close()


@pytest.fixture
def shop(tenant: TenantCtx) -> TenantCtx:
    """Pune with a GSTIN, two SKUs (the kurta with a barcode), ten of each."""
    make_location(
        tenant,
        "PUN",
        "MH",
        address={"line1": "Plot 7, MIDC", "city": "Pune", "state": "MH", "pincode": "411028"},
        gstin="27AAACE0000E1ZM",
    )
    make_sku(tenant, "KURTA", mrp="999.00", gst_rate="5", barcodes=[KURTA_BARCODE])
    make_sku(tenant, "MUG", mrp="499.00", gst_rate="18")
    receive(tenant, "KURTA", "PUN", 10)
    receive(tenant, "MUG", "PUN", 10)
    return tenant
