"""Setup shared by every benchmark: databases, a tenant with SKUs and stock, the client driver and
the correctness checks.

SKUs, their opening stock and generated ledgers are written with set-based SQL (valid ordermesh rows,
the same columns and encodings the service layer writes); the tenant and its locations go through
the service layer, as an operator would create them.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, create_engine, func, insert, select, text

from ordermesh.adapters.db import tables as t
from ordermesh.adapters.db.engine import normalise_url
from ordermesh.adapters.db.migrate import upgrade
from ordermesh.bootstrap import Container, bootstrap
from ordermesh.config import Settings
from ordermesh.domain.access import Actor, Role
from ordermesh.services import inventory, locations, platform

PG_URL = os.environ.get("ORDERMESH_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
# Empty: the server's own setting. "off" takes the WAL flush out of each commit (for raw and service alike).
PG_SYNCHRONOUS_COMMIT = os.environ.get("ORDERMESH_BENCH_PG_SYNCHRONOUS_COMMIT", "")
RESULTS = Path(__file__).resolve().parent / "results"
ACTOR = Actor("api_key", "bench", "benchmark client", Role.OPS)
OPENING_STOCK = 1_000_000  # per SKU; a 10 s run at 10,000 orders/s takes ~30 units of each


def location_payload(code: str = "BHW", name: str = "Bhiwandi") -> dict[str, Any]:
    address = {"line1": "Plot 12", "city": "Bhiwandi", "state": "MH", "pincode": "421302"}
    return {"code": code, "name": name, "address": address}


# --- databases -------------------------------------------------------------------------------


@dataclass
class Database:
    kind: str  # sqlite | postgresql
    url: str  # what ordermesh's Settings.database_url takes
    raw: str  # what sqlite3.connect / psycopg.connect take
    drop: Callable[[], None] = field(repr=False, default=lambda: None)

    def container(self, pool_size: int = 2) -> Container:
        return bootstrap(Settings(database_url=self.url, pool_size=pool_size))


def pg_problem(url: str = PG_URL) -> str | None:
    try:
        engine = create_engine(normalise_url(url), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:
        return f"PostgreSQL not reachable at {url}: {type(exc).__name__}: {str(exc).splitlines()[0]}"


def open_database(kind: str) -> Database:
    """A fresh, migrated database: a new SQLite file under bench/results/, or a new PostgreSQL schema."""
    tag = uuid.uuid4().hex[:10]
    if kind == "sqlite":
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"bench-{tag}.db"

        def drop_file() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        db = Database("sqlite", f"sqlite:///{path}", str(path), drop_file)
    else:
        schema = f"om_bench_{tag}"
        admin = create_engine(normalise_url(PG_URL))
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in PG_URL else "?"
        options = f"-csearch_path%3D{schema}"
        if PG_SYNCHRONOUS_COMMIT:
            options += f"%20-csynchronous_commit%3D{PG_SYNCHRONOUS_COMMIT}"
        url = f"{PG_URL}{sep}options={options}"

        def drop_schema() -> None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

        db = Database("postgresql", url, url.replace("postgresql+psycopg://", "postgresql://"), drop_schema)
    c = db.container()
    upgrade(c.engine)
    c.close()
    return db


# --- data --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    """What a client process needs to place orders: picklable, no connections."""

    kind: str
    url: str
    raw: str
    tenant_id: int
    location: str
    location_id: int
    sku_ids: list[int]  # sku_ids[i] is the id of sku_codes[i]
    sku_codes: list[str]


def sku_code(i: int) -> str:
    return f"KRT-{i:05d}"


def create_tenant(c: Container, code: str, location_codes: list[str]) -> tuple[int, dict[str, int]]:
    with c.uow(tenant_id=None) as uow:
        tenant_id = platform.create_tenant(uow, code=code)
    ids = {}
    for code in location_codes:
        with c.uow(tenant_id=tenant_id, actor=ACTOR) as uow:
            ids[code] = locations.create_location(uow, location_payload(code, f"Bhiwandi {code}")).id
    return tenant_id, ids


def insert_skus(engine: Engine, tenant_id: int, n: int) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "tenant_id": tenant_id,
            "code": sku_code(i),
            "name": f"Cotton kurta {i:05d}",
            "hsn": "6109",
            "gst_rate": Decimal("5"),
            "mrp": Decimal("799.00"),
            "weight_g": 350,
            "length_cm": Decimal("30"),
            "breadth_cm": Decimal("25"),
            "height_cm": Decimal("4"),
            "barcodes": [],
            "is_bundle": False,
            "active": True,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n)
    ]
    with engine.begin() as conn:
        conn.execute(insert(t.Sku.__table__), rows)


def generate_ledger(engine: Engine, tenant_id: int, *, per_pair: int, receipt: int) -> int:
    """Write ``per_pair`` movements for every (SKU, location) pair of the tenant in one INSERT ... SELECT,
    then every balance as the sum of its ledger, so the ledger check finds nothing.

    Movement k of a pair: k = 0 receives ``receipt`` units; odd k reserves 1; even k > 0 ships 1. Rows
    are written in k order, so ids grow with time across pairs as in a real ledger.
    """
    if engine.dialect.name == "postgresql":
        series = f"SELECT generate_series(0, {per_pair - 1})"
    else:
        series = f"SELECT 0 UNION ALL SELECT k + 1 FROM g WHERE k < {per_pair - 1}"
    movements = text(f"""
        WITH RECURSIVE g(k) AS ({series})
        INSERT INTO stock_movements (tenant_id, sku_id, location_id, kind, quantity, d_on_hand, d_reserved,
                                     d_quarantined, reason, reference, actor, created_at)
        SELECT s.tenant_id, s.id, l.id,
               CASE WHEN g.k = 0 THEN 'receipt' WHEN g.k % 2 = 1 THEN 'reservation' ELSE 'shipment' END,
               CASE WHEN g.k = 0 THEN {receipt} ELSE 1 END,
               CASE WHEN g.k = 0 THEN {receipt} WHEN g.k % 2 = 1 THEN 0 ELSE -1 END,
               CASE WHEN g.k = 0 THEN 0 WHEN g.k % 2 = 1 THEN 1 ELSE -1 END,
               0, NULL,
               CASE WHEN g.k = 0 THEN NULL ELSE 'gen:' || CAST(s.id AS TEXT) || ':' || CAST(g.k AS TEXT) END,
               'system:bench', :now
        FROM g
        CROSS JOIN locations l
        JOIN skus s ON s.tenant_id = l.tenant_id
        WHERE l.tenant_id = {tenant_id}
        ORDER BY g.k, l.id, s.id
    """).bindparams(bindparam("now", type_=t.UtcDateTime()))
    balances = text(f"""
        INSERT INTO stock_balances (tenant_id, sku_id, location_id, on_hand, reserved, quarantined,
                                    safety_stock, low_stock_threshold, updated_at)
        SELECT tenant_id, sku_id, location_id, SUM(d_on_hand), SUM(d_reserved), SUM(d_quarantined), 0, NULL, :now
        FROM stock_movements WHERE tenant_id = {tenant_id}
        GROUP BY tenant_id, sku_id, location_id
    """).bindparams(bindparam("now", type_=t.UtcDateTime()))
    now = datetime.now(UTC)
    mov = t.StockMovement.__table__
    count = select(func.count()).select_from(mov).where(mov.c.tenant_id == tenant_id)
    with engine.begin() as conn:
        existing = conn.execute(count).scalar_one()
        conn.execute(movements, {"now": now})
        written = int(conn.execute(count).scalar_one() - existing)
        conn.execute(balances, {"now": now})
    return written


def analyze(engine: Engine) -> None:
    """On PostgreSQL, what autovacuum does soon after a bulk load. Without statistics the planner takes
    the (tenant_id, location_id) index for the guarded UPDATE and filters every balance at the location."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("skus", "locations", "stock_balances", "stock_movements"):
                conn.execute(text(f"ANALYZE {table}"))


def setup_tenant(db: Database, prefix: str, *, n_skus: int = 10_000, stock: int = OPENING_STOCK) -> Fixture:
    """A tenant with ``n_skus`` SKUs at one location (BHW), each received ``stock`` units."""
    c = db.container()
    try:
        tenant_id, locs = create_tenant(c, f"{prefix}-{uuid.uuid4().hex[:8]}", ["BHW"])
        insert_skus(c.engine, tenant_id, n_skus)
        if generate_ledger(c.engine, tenant_id, per_pair=1, receipt=stock) != n_skus:
            raise RuntimeError("opening stock: expected one receipt per SKU")
        analyze(c.engine)
        skus = t.Sku.__table__
        with c.engine.connect() as conn:
            ids = dict(conn.execute(select(skus.c.code, skus.c.id).where(skus.c.tenant_id == tenant_id)).all())
    finally:
        c.close()
    codes = [sku_code(i) for i in range(n_skus)]
    return Fixture(db.kind, db.url, db.raw, tenant_id, "BHW", locs["BHW"], [ids[c] for c in codes], codes)


# --- checks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    reserved: int
    movements: int
    oversold: int  # balances where reserved > on_hand - safety_stock


def totals(c: Container, tenant_id: int) -> Totals:
    bal, mov = t.StockBalance.__table__, t.StockMovement.__table__
    with c.engine.connect() as conn:
        reserved = conn.execute(select(func.coalesce(func.sum(bal.c.reserved), 0)).where(bal.c.tenant_id == tenant_id))
        moves = conn.execute(select(func.count()).select_from(mov).where(mov.c.tenant_id == tenant_id))
        over = conn.execute(
            select(func.count())
            .select_from(bal)
            .where(bal.c.tenant_id == tenant_id, bal.c.reserved > bal.c.on_hand - bal.c.safety_stock)
        )
        return Totals(int(reserved.scalar_one()), int(moves.scalar_one()), int(over.scalar_one()))


def verify(c: Container, tenant_id: int, before: Totals, lines: int, what: str) -> Totals:
    """Fail loudly unless exactly ``lines`` units were reserved, each with its ledger row, nothing is
    oversold and the ledger check finds no difference."""
    after = totals(c, tenant_id)
    problems = []
    if after.reserved - before.reserved != lines:
        problems.append(f"reserved grew by {after.reserved - before.reserved}, expected {lines}")
    if after.movements - before.movements != lines:
        problems.append(f"ledger grew by {after.movements - before.movements} rows, expected {lines}")
    if after.oversold:
        problems.append(f"{after.oversold} balance(s) oversold")
    with c.uow(tenant_id=tenant_id, actor=ACTOR, write=False) as uow:
        diffs = inventory.check_ledger(uow)
    if diffs:
        problems.append(f"ledger check: {len(diffs)} difference(s), first {diffs[0]}")
    if problems:
        raise AssertionError(f"{what}: " + "; ".join(problems))
    return after


# --- clients -----------------------------------------------------------------------------------

# A client factory connects and returns place(reference, sku_indexes) -> True if reserved, False if
# refused for lack of stock. It runs inside the client process.
Place = Callable[[str, list[int]], bool]


@dataclass(frozen=True)
class ClientSpec:
    fixture: Fixture
    warmup: float
    seconds: float
    run: str  # goes into each order's reference
    hot: int | None = None  # index of the hot SKU: every measured order takes one unit of it


@dataclass
class ClientResult:
    placed: int = 0  # every order reserved, warm-up included (for the checks)
    measured: int = 0  # reserved after the warm-up, including any that finished after the window
    counted: int = 0  # reserved inside the measured window
    window_start: float = 0.0
    last_ok: float = 0.0  # time.monotonic() of the last reserved order in the window
    refused: int = 0
    client_cpu: float = 0.0  # CPU seconds this process spent on the measured orders
    server_cpu: float | None = None  # the same for its PostgreSQL backend, when /proc shows it
    error: str | None = None


def backend_cpu(pid: int | None) -> float | None:
    """CPU seconds used so far by a local process (a PostgreSQL backend), or None if not visible."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by the live processes of a process group (a server we started in
    its own session, its worker processes too)."""
    return _cpu_where(lambda pid, fields: int(fields[2]) == pgid)


def postgres_cpu() -> float:
    """CPU seconds used so far by every live PostgreSQL process on this machine (the backends of
    whoever is connected, and the server's own processes: WAL writer, checkpointer)."""
    return _cpu_where(lambda pid, fields: Path(f"/proc/{pid}/comm").read_text().strip() == "postgres")


def _cpu_where(match: Callable[[str, list[str]], bool]) -> float:
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if match(stat.parent.name, fields):
                total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
    return total / os.sysconf("SC_CLK_TCK")


HOT_SKUS = 2  # in a hot-SKU run, SKU indexes below this are hot ones: never picked at random


def _pick(rng: random.Random, n: int, hot: int | None, measuring: bool) -> list[int]:
    if hot is None:
        return rng.sample(range(n), 3)
    if not measuring:
        return rng.sample(range(HOT_SKUS, n), 3)
    return [hot, *rng.sample(range(HOT_SKUS, n), 2)]


def _client(factory: Callable[[Fixture], Place], spec: ClientSpec, index: int, barrier: Any, out: Any) -> None:
    res = ClientResult()
    try:
        place = factory(spec.fixture)
        rng = random.Random(f"{spec.run}:{index}")
        n_skus = len(spec.fixture.sku_ids)
        barrier.wait(timeout=120)
        t0 = time.monotonic()
        res.window_start = t0 + spec.warmup
        end = res.window_start + spec.seconds
        n = 0
        pid = getattr(place, "backend_pid", None)  # set by PostgreSQL clients
        cpu0: float | None = None
        srv0: float | None = None
        while (now := time.monotonic()) < end:
            measuring = now >= res.window_start
            if measuring and cpu0 is None:
                cpu0, srv0 = time.process_time(), backend_cpu(pid)
            picks = _pick(rng, n_skus, spec.hot, measuring)
            ok = place(f"bench:{spec.run}:{index}:{n}", picks)
            n += 1
            done = time.monotonic()
            if ok:
                res.placed += 1
                res.measured += measuring
                if measuring and done < end:
                    res.counted += 1
                    res.last_ok = done
            else:
                res.refused += 1
                if spec.hot is None or not measuring:
                    raise RuntimeError(f"order refused for lack of stock in a run that must never run out: {picks}")
                break  # the hot SKU is sold out
        if cpu0 is not None:
            res.client_cpu = time.process_time() - cpu0
            srv1 = backend_cpu(pid)
            res.server_cpu = srv1 - srv0 if srv0 is not None and srv1 is not None else None
    except Exception:
        res.error = traceback.format_exc()
    out.put((index, res))


def run_clients(factory: Callable[[Fixture], Place], spec: ClientSpec, clients: int) -> list[ClientResult]:
    """Start ``clients`` processes (spawn), release them together, collect their results."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(clients)
    out = ctx.Queue()
    procs = [ctx.Process(target=_client, args=(factory, spec, i, barrier, out), daemon=True) for i in range(clients)]
    for p in procs:
        p.start()
    results: dict[int, ClientResult] = {}
    deadline = time.monotonic() + 180 + spec.warmup + spec.seconds
    while len(results) < clients:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            i, r = out.get(timeout=min(remaining, 5))
            results[i] = r
        except Exception:
            if not any(p.is_alive() for p in procs) and out.empty():
                break
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.terminate()
    errors = [r.error for r in results.values() if r.error]
    if errors:
        raise RuntimeError("a benchmark client failed:\n" + errors[0])
    if len(results) < clients:
        raise RuntimeError(f"only {len(results)} of {clients} clients reported back")
    return [results[i] for i in range(clients)]


def throughput(results: list[ClientResult], seconds: float) -> float:
    return sum(r.counted for r in results) / seconds


def cpu_per_order(results: list[ClientResult]) -> tuple[float, float | None]:
    """Client and database-server CPU milliseconds per order over the measured orders (server None
    when not visible: SQLite runs in the client, a remote PostgreSQL's backends cannot be seen)."""
    orders = sum(r.measured for r in results) or 1
    client = sum(r.client_cpu for r in results) / orders * 1000
    servers = [r.server_cpu for r in results]
    server = None if any(v is None for v in servers) else sum(servers) / orders * 1000  # type: ignore[misc]
    return client, server
