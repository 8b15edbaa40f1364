"""The pool hands out live connections: one that died while idle (a database restart, a dropped
network) is noticed at checkout and replaced, so the next unit of work does not fail."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from ordermesh.adapters.db import engine as engine_module
from ordermesh.bootstrap import bootstrap
from ordermesh.config import Settings


def test_a_connection_killed_while_idle_is_replaced_at_checkout(
    pg_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = bootstrap(Settings(database_url=pg_schema_url, pool_size=1))
    try:
        with container.engine.connect() as conn:
            pid = conn.execute(text("select pg_backend_pid()")).scalar_one()
        with container.engine.connect() as conn:  # used moments ago: the same connection, no ping
            assert conn.execute(text("select pg_backend_pid()")).scalar_one() == pid
        killer = bootstrap(Settings(database_url=pg_schema_url, pool_size=1))
        with killer.engine.begin() as admin_conn:
            assert admin_conn.execute(text("select pg_terminate_backend(:p)"), {"p": pid}).scalar_one()
        killer.close()

        monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)  # it has now been idle long enough
        with container.engine.connect() as conn:
            new_pid = conn.execute(text("select pg_backend_pid()")).scalar_one()
        assert new_pid != pid
    finally:
        container.close()
