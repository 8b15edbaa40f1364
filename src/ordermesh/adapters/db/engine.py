"""Engines for SQLite and PostgreSQL with the settings ordermesh relies on."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Connection, Engine, any_, bindparam, create_engine, event, exc
from sqlalchemy.engine import make_url

# Connection execution option naming the BEGIN mode for SQLite: "IMMEDIATE" for unit-of-work writes,
# so a writer takes the write lock up front instead of failing to upgrade a read lock halfway.
SQLITE_BEGIN = "ordermesh_sqlite_begin"


def driver(conn: Connection) -> Any:
    """The driver's connection (psycopg or sqlite3) under a SQLAlchemy one, in the same transaction:
    for the hot-path statements that skip SQLAlchemy's statement machinery (ADR 0007)."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    return raw


def among(column: Any, name: str, dialect: str) -> ColumnElement[bool]:
    """``column IN :name``, the values bound as one list. On PostgreSQL ``column = ANY(:name)``, one
    array, so the statement has one shape however many values a batch brings (an expanding IN is
    rewritten for each count, and its long text parsed again by the driver every time); either way
    a statement using it can be built once and reused."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(bindparam(name, expanding=True))  # type: ignore[no-any-return]


DIALECTS = ("postgresql", "sqlite")


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use psycopg 3 for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, pool_size: int = 10, busy_timeout_ms: int = 30_000, echo: bool = False) -> Engine:
    url = normalise_url(url)
    if is_sqlite(url):
        return _sqlite_engine(url, busy_timeout_ms, echo)
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, echo=echo)
    _ping_when_idle(engine)
    return engine


# A pooled connection unused for this long is pinged before it is handed out.
IDLE_PING_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Hand out only live connections, without a round trip on every checkout.

    A connection that has sat in the pool (where a database restart or a network drop can break it
    unseen) is pinged first and replaced if dead, as ``pool_pre_ping`` would; one that was in use
    moments ago is not. That ping was a third of a reservation's round trips."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["ordermesh_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("ordermesh_idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as error:
            raise exc.DisconnectionError(f"pooled connection is dead: {error}") from error
        if not alive:
            raise exc.DisconnectionError("pooled connection is dead")


def _sqlite_engine(url: str, busy_timeout_ms: int, echo: bool) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself (see the SQLite dialect docs,
        # "Serializable isolation / Savepoints / Transactional DDL").
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine
