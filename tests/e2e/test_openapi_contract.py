"""Property-based tests of the whole API against its own OpenAPI document (schemathesis): no input
makes it fail with a 500, every answer has a documented status, content type and shape."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ordermesh.adapters.db.migrate import upgrade
from ordermesh.api.app import create_app
from ordermesh.bootstrap import Container, bootstrap
from ordermesh.config import Settings
from ordermesh.services import catalog, locations, platform
from tests.factories import location_payload, sku_payload


def _container(tmp: Path) -> tuple[Container, str]:
    c = bootstrap(Settings(database_url=f"sqlite:///{tmp / 'contract.db'}"))
    upgrade(c.engine)
    with c.uow(tenant_id=None) as uow:
        tenant_id = platform.create_tenant(uow, code="contract")
    with c.uow(tenant_id=None) as uow:
        key = platform.create_api_key(uow, tenant="contract", role="admin").key
    # something to find, so generated paths sometimes hit real resources
    with c.uow(tenant_id=tenant_id) as uow:
        catalog.create_sku(uow, sku_payload("0"))
    with c.uow(tenant_id=tenant_id) as uow:
        locations.create_location(uow, location_payload("0"))
    return c, key


_TMP = Path(__import__("tempfile").mkdtemp(prefix="ordermesh-contract-"))
CONTAINER, KEY = _container(_TMP)
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(container=CONTAINER))


@pytest.fixture(scope="module", autouse=True)
def _close_container():  # type: ignore[no-untyped-def]
    yield
    CONTAINER.close()


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_honours_its_openapi_contract(case: schemathesis.Case) -> None:
    # Domain rules (a GST rate must be one the law knows, a pincode must exist) are stricter than
    # JSON Schema can say, so a schema-valid body may still be refused with a 422 naming the field.
    case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, excluded_checks=[positive_data_acceptance])
