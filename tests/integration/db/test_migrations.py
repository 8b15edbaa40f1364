"""Migrations build exactly the schema the code declares, on both databases, and carry data."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from ordermesh.adapters.db.engine import make_engine, normalise_url
from ordermesh.adapters.db.migrate import upgrade
from ordermesh.adapters.db.tables import Base
from tests.conftest import PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    request.getfixturevalue("pg_schema_url")  # skips or fails like every PostgreSQL test
    schema = f"om_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_migrated_schema_matches_the_tables_in_code(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diffs == []


def test_tenants_made_before_orders_existed_get_a_manual_channel(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenants (code, name, settings, created_at) VALUES ('old', 'Old', '{}', CURRENT_TIMESTAMP)"
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT c.code, c.type FROM channels c JOIN tenants t ON t.id = c.tenant_id WHERE t.code = 'old'")
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("manual", "manual")]


def test_inbox_bodies_are_compressed_with_lz4_on_postgresql(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine)
    with engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            engine.dispose()
            return  # SQLite does not compress
        lz4 = conn.execute(
            text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        ).scalar()
        methods = dict(
            conn.execute(
                text(
                    "SELECT c.relname, a.attcompression FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                    "WHERE c.relname IN ('channel_inbox', 'carrier_inbox') AND a.attname = 'body' "
                    "AND c.relnamespace = to_regnamespace(current_schema())::oid"
                )
            ).all()
        )
    engine.dispose()
    assert methods == (
        {"channel_inbox": "l", "carrier_inbox": "l"} if lz4 else {"channel_inbox": "", "carrier_inbox": ""}
    )
