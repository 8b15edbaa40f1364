"""Shared fixtures. Integration tests run on SQLite and on PostgreSQL.

PostgreSQL: ORDERMESH_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test). Each test
session works in a schema of its own, dropped at the end. When the server is unreachable its tests
skip with a message, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ordermesh.adapters.db.engine import normalise_url
from ordermesh.adapters.db.migrate import upgrade
from ordermesh.adapters.db.uow import UowFactory
from ordermesh.bootstrap import Container, bootstrap
from ordermesh.config import Settings
from ordermesh.domain.access import Actor
from ordermesh.services import platform

PG_URL = os.environ.get("ORDERMESH_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_problem() -> str | None:
    try:
        engine = create_engine(normalise_url(PG_URL), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means "no PostgreSQL here"
        return f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}: {str(exc).splitlines()[0]}"


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    problem = _pg_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"{problem} (CI=true: PostgreSQL tests must run, not skip)", pytrace=False)
        pytest.skip(f"{problem}; set ORDERMESH_TEST_PG_URL to run the PostgreSQL tests")
    schema = f"om_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'ordermesh.db'}"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A migrated database URL; every test that takes it runs once per database."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_schema_url")
    container = bootstrap(Settings(database_url=url))
    upgrade(container.engine)
    container.close()
    return url


@pytest.fixture(scope="session")
def container(db_url: str) -> Iterator[Container]:
    c = bootstrap(Settings(database_url=db_url, pool_size=20))
    # Tests never wait out a channel's throttling for real; a worker in one test may also meet the
    # channels (fakes long stopped) of another's tenant in the shared database.
    c.connections.sleep = lambda seconds: None
    yield c
    c.close()


@dataclass
class TenantCtx:
    id: int
    code: str
    container: Container

    @property
    def uow(self) -> UowFactory:
        """A unit-of-work factory for this tenant, acting as the tenant's admin unless told otherwise."""

        def factory(*, actor: Actor | None = None, write: bool = True, request_id: str | None = None):  # type: ignore[no-untyped-def]
            kwargs = {"actor": actor} if actor else {}
            return self.container.uow(tenant_id=self.id, write=write, request_id=request_id, **kwargs)

        return factory


def new_tenant(container: Container, prefix: str = "t") -> TenantCtx:
    code = f"{prefix}-{uuid.uuid4().hex[:12]}"
    with container.uow(tenant_id=None) as uow:
        tenant_id = platform.create_tenant(uow, code=code)
    return TenantCtx(tenant_id, code, container)


@pytest.fixture
def tenant(container: Container) -> TenantCtx:
    """A fresh tenant: tests share a database but never each other's data."""
    return new_tenant(container)


@pytest.fixture
def other_tenant(container: Container) -> TenantCtx:
    return new_tenant(container, "other")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
