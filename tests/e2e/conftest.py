"""API fixtures: the app on the session's database, and clients holding a tenant's API key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from ordermesh.api.app import create_app
from ordermesh.bootstrap import Container
from ordermesh.services import platform
from tests.conftest import TenantCtx, new_tenant


@pytest.fixture(scope="session")
def app_client(container: Container) -> Iterator[TestClient]:
    app = create_app(container=container)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@dataclass
class Api:
    client: TestClient
    tenant: TenantCtx
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def get(self, path: str, **kw):  # type: ignore[no-untyped-def]
        return self.client.get(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, path: str, json=None, **kw):  # type: ignore[no-untyped-def]
        return self.client.post(path, json=json, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def patch(self, path: str, json=None, **kw):  # type: ignore[no-untyped-def]
        return self.client.patch(path, json=json, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def put(self, path: str, json=None, **kw):  # type: ignore[no-untyped-def]
        return self.client.put(path, json=json, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def delete(self, path: str, **kw):  # type: ignore[no-untyped-def]
        return self.client.delete(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)


def api_for(
    client: TestClient,
    container: Container,
    role: str = "admin",
    locations: list[str] | None = None,
    tenant: TenantCtx | None = None,
) -> Api:
    t = tenant or new_tenant(container)
    with container.uow(tenant_id=None) as uow:
        issued = platform.create_api_key(uow, tenant=t.code, role=role, locations=locations)
    return Api(client, t, issued.key)


@pytest.fixture
def api(app_client: TestClient, container: Container) -> Api:
    return api_for(app_client, container)


@pytest.fixture
def other_api(app_client: TestClient, container: Container) -> Api:
    return api_for(app_client, container)
