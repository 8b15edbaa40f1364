"""ordermesh benchmarks: ``python bench/run.py`` (``make bench``).

Reservation of 3 lines + ledger rows, service layer against raw SQL, on SQLite and PostgreSQL with 1
and 8 client processes; a hot SKU on PostgreSQL; the ledger check over 1,000,000 movements.
Every run is checked for correctness and the benchmark fails loudly if anything is off.
See docs/benchmarks.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy import text

import hot_sku
import ledger_check
import reserve_raw
import reserve_service
from common import (
    PG_URL,
    RESULTS,
    ClientSpec,
    Database,
    cpu_per_order,
    open_database,
    pg_problem,
    run_clients,
    setup_tenant,
    throughput,
    totals,
    verify,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
TARGETS = {("postgresql", 8): 0.50, ("sqlite", 1): 0.10}
HOT_TARGET = 0.40
LEDGER_TARGET = 30.0

# SQLite keeps NUMERIC as floats; SQLAlchemy says so once when the SKUs are written. Not our concern here.
warnings.filterwarnings("ignore", category=sa_exc.SAWarning, message=".*Decimal objects natively.*")


@dataclass
class Row:
    database: str
    clients: int
    raw: float
    service: float
    raw_runs: list[float]
    service_runs: list[float]
    raw_cpu: tuple[float, float | None]  # client, server CPU ms per order (medians)
    service_cpu: tuple[float, float | None]

    @property
    def ratio(self) -> float:
        return self.service / self.raw if self.raw else 0.0

    @property
    def cpu_ratio(self) -> float | None:
        """Raw CPU per order ÷ service CPU per order: the throughput ratio a CPU-bound machine tends to."""
        if self.raw_cpu[1] is None or self.service_cpu[1] is None:
            return self.raw_cpu[0] / self.service_cpu[0] if self.database == "sqlite" else None
        return sum(self.raw_cpu) / sum(self.service_cpu)  # type: ignore[arg-type]


def _median_cpu(samples: list[tuple[float, float | None]]) -> tuple[float, float | None]:
    client = statistics.median(c for c, _ in samples)
    servers = [v for _, v in samples if v is not None]
    return client, (statistics.median(servers) if len(servers) == len(samples) else None)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run (default 5)")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up before each run (default 1)")
    p.add_argument(
        "--hot-seconds", type=float, default=30.0, help="time limit of each hot-SKU run, which ends when it sells out"
    )
    p.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is reported (default 3)")
    p.add_argument("--only", choices=["sqlite", "postgresql"], help="benchmark one database only")
    p.add_argument("--clients", default="1,8", help="client process counts, comma-separated (default 1,8)")
    p.add_argument("--skip-ledger-check", action="store_true", help="skip the 1,000,000-movement ledger check")
    p.add_argument("--write-docs", action="store_true", help=f"rewrite the results section of {DOCS}")
    args = p.parse_args(argv)
    try:
        args.clients = sorted({int(n) for n in args.clients.split(",") if n.strip()})
    except ValueError:
        args.clients = []
    if not args.clients or min(args.clients) < 1:
        p.error("--clients takes positive numbers, e.g. 1,8")
    return args


def say(msg: str) -> None:
    print(msg, flush=True)


def reservation(db_kind: str, args: argparse.Namespace, db: Database) -> list[Row]:
    fx = setup_tenant(db, "bench")
    c = db.container()
    rows = []
    try:
        for n in args.clients:
            runs: dict[str, list[float]] = {"raw": [], "service": []}
            cpu: dict[str, list[tuple[float, float | None]]] = {"raw": [], "service": []}
            for rep in range(args.repeat):
                for variant, module in (("raw", reserve_raw), ("service", reserve_service)):
                    before = totals(c, fx.tenant_id)
                    spec = ClientSpec(fx, args.warmup, args.seconds, run=f"{variant}-{n}-{rep}")
                    results = run_clients(module.factory, spec, n)
                    what = f"{db_kind}, {variant}, {n} client(s), run {rep + 1}"
                    verify(c, fx.tenant_id, before, 3 * sum(r.placed for r in results), what)
                    rate = throughput(results, args.seconds)
                    runs[variant].append(rate)
                    cpu[variant].append(cpu_per_order(results))
                    say(f"  {what}: {rate:,.0f} orders/s, CPU/order {_cpu(cpu[variant][-1])} (checked)")
            raw, svc = statistics.median(runs["raw"]), statistics.median(runs["service"])
            rows.append(
                Row(
                    db_kind,
                    n,
                    raw,
                    svc,
                    runs["raw"],
                    runs["service"],
                    _median_cpu(cpu["raw"]),
                    _median_cpu(cpu["service"]),
                )
            )
    finally:
        c.close()
    return rows


def reservation_table(rows: list[Row]) -> str:
    out = [
        "| database | clients | raw SQL orders/s | service layer orders/s | service ÷ raw | target | |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        target = TARGETS.get((r.database, r.clients))
        verdict = "" if target is None else ("met" if r.ratio >= target else "**not met**")
        wanted = f"≥ {target:.2f}" if target else "—"
        out.append(
            f"| {r.database} | {r.clients} | {r.raw:,.0f} | {r.service:,.0f} | {r.ratio:.2f} | {wanted} | {verdict} |"
        )
    return "\n".join(out)


def _cpu(c: tuple[float, float | None]) -> str:
    return f"{c[0]:.2f} ms" + (f" + {c[1]:.2f} ms server" if c[1] is not None else "")


def cpu_table(rows: list[Row]) -> str:
    out = [
        "| database | clients | raw: client + server CPU ms/order | service: client + server CPU ms/order "
        "| raw CPU ÷ service CPU |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = f"{r.cpu_ratio:.2f}" if r.cpu_ratio is not None else "—"
        out.append(f"| {r.database} | {r.clients} | {_cpu(r.raw_cpu)} | {_cpu(r.service_cpu)} | {ratio} |")
    return "\n".join(out)


def hot_table(runs: list[hot_sku.HotRun], uniform: Row | None) -> str:
    out = [
        "| variant | clients | orders/s | orders | seconds | sold out | ÷ uniform (same variant) | target | |",
        "|---|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for h in runs:
        base = (uniform.service if h.variant == "service" else uniform.raw) if uniform else 0.0
        ratio = h.rate / base if base else float("nan")
        target, verdict = ("—", "")
        if h.variant == "service":
            target = f"≥ {HOT_TARGET:.2f}"
            verdict = "met" if ratio >= HOT_TARGET else "**not met**"
        out.append(
            f"| {h.variant} | {h.clients} | {h.rate:,.0f} | {h.orders:,} | {h.seconds:.2f} | "
            f"{'yes' if h.sold_out else 'no'} | {ratio:.2f} | {target} | {verdict} |"
        )
    return "\n".join(out)


def ledger_table(runs: list[ledger_check.LedgerRun]) -> str:
    out = [
        "| database | movements | balances | generate (s) | check, 1st run (s) | check, 2nd run (s) "
        "| `ordermesh inventory check` (s) | target | |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for lr in runs:
        verdict = "met" if lr.check_seconds[0] < LEDGER_TARGET else "**not met**"
        second = f"{lr.check_seconds[1]:.2f}" if len(lr.check_seconds) > 1 else "— (skipped)"
        cli = f"{lr.cli_seconds:.2f}" if lr.cli_seconds is not None else "—"
        out.append(
            f"| {lr.database} | {lr.movements:,} | {lr.balances:,} | {lr.generate_seconds:.1f} | "
            f"{lr.check_seconds[0]:.2f} | {second} | {cli} | < {LEDGER_TARGET:.0f} s | {verdict} |"
        )
    return "\n".join(out)


def _cmd(cmd: str) -> str:
    try:
        root = Path(__file__).resolve().parents[1]
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10, cwd=root).stdout.strip()
    except Exception as exc:
        return f"({cmd}: {exc})"


def machine(pg_version: str | None, load_at_start: tuple[float, float, float]) -> str:
    import psycopg
    import sqlalchemy

    free = _cmd("free -g").splitlines()
    memory = re.sub(r"\s+", " ", free[1]) if len(free) > 1 else "?"
    lines = [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- CPUs (`nproc`): {_cmd('nproc')}",
        f"- memory (`free -g`, GiB: total used free shared buff/cache available): {memory}",
        f"- PostgreSQL: {pg_version or 'not measured'}",
        f"- SQLite: {sqlite3.sqlite_version} (WAL, synchronous=NORMAL, as ordermesh configures it)",
        f"- Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, psycopg {psycopg.__version__}",
        f"- load average (1, 5, 15 min) at the start: {_load(load_at_start)}; at the end: {_load(os.getloadavg())} "
        "(anything above the CPU count means other work competed with the benchmark)",
        f"- ordermesh at commit {_cmd('git rev-parse --short HEAD') or '?'}"
        + (" plus uncommitted changes" if _cmd("git status --porcelain --untracked-files=no -- src") else ""),
        "",
        "```",
        "$ lscpu | head",
        _cmd("lscpu | head"),
        "```",
    ]
    return "\n".join(lines)


def _load(avg: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in avg)


def pg_server_version() -> str | None:
    from ordermesh.adapters.db.engine import make_engine

    engine = make_engine(PG_URL)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("select version()")).scalar_one()).split(" on ")[0]
    finally:
        engine.dispose()


def write_docs(section: str) -> None:
    block = f"{BEGIN}\n{section.strip()}\n{END}"
    if DOCS.exists() and BEGIN in (current := DOCS.read_text()) and END in current:
        before, rest = current.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        DOCS.write_text(before + block + after)
    else:
        DOCS.parent.mkdir(parents=True, exist_ok=True)
        DOCS.write_text(f"# ordermesh benchmarks\n\nRun `make bench` (`python bench/run.py`).\n\n{block}\n")
    say(f"wrote {DOCS}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # On SIGTERM, unwind like Ctrl-C does, so the finally blocks drop the schema and the SQLite file.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    kinds = [args.only] if args.only else ["sqlite", "postgresql"]
    if "postgresql" in kinds and (problem := pg_problem()):
        say(f"{problem}\nSet ORDERMESH_BENCH_PG_URL, or run with --only sqlite.")
        return 2
    started, load_at_start = time.monotonic(), os.getloadavg()
    rows: list[Row] = []
    hot: list[hot_sku.HotRun] = []
    ledgers: list[ledger_check.LedgerRun] = []
    for kind in kinds:
        say(f"{kind}: setting up (10,000 SKUs at one location)")
        db = open_database(kind)
        try:
            rows += reservation(kind, args, db)
            if kind == "postgresql":
                n = max(args.clients)
                say(f"{kind}: hot SKU, {n} clients")
                hot = hot_sku.run(db, hot_sku.prepare(db), clients=n, warmup=args.warmup, seconds=args.hot_seconds)
                for h in hot:
                    say(f"  {h.variant}: {h.rate:,.0f} orders/s, {h.orders} orders in {h.seconds:.2f} s (checked)")
            if not args.skip_ledger_check:
                say(f"{kind}: ledger check over 1,000,000 movements")
                lr = ledger_check.run(db, slow=LEDGER_TARGET)
                ledgers.append(lr)
                say(
                    f"  generated in {lr.generate_seconds:.1f} s; check_ledger {', '.join(f'{x:.2f} s' for x in lr.check_seconds)}"
                )
                say(f"  `ordermesh inventory check`: {f'{lr.cli_seconds:.2f} s' if lr.cli_seconds else 'skipped'}")
        finally:
            db.drop()

    settings = (
        f"{args.repeat} run(s) of {args.seconds:g} s after {args.warmup:g} s of warm-up per figure "
        f"(median reported); clients are separate processes"
    )
    uniform_hot = next((r for r in rows if r.database == "postgresql" and r.clients == max(args.clients)), None)
    parts = [
        f"Reservation of 3 lines + ledger rows, uniform over 10,000 SKUs ({settings}):",
        reservation_table(rows),
        "CPU per order in the same runs (medians; SQLite runs inside the client; PostgreSQL backends read "
        "from /proc when the server is local):",
        cpu_table(rows),
    ]
    if hot:
        parts += [f"Hot SKU on PostgreSQL (2,000 available, {hot[0].clients} clients):", hot_table(hot, uniform_hot)]
    if ledgers:
        parts += ["Ledger check (`inventory.check_ledger`) over 1,000,000 movements:", ledger_table(ledgers)]
    report = "\n\n".join(parts)
    say("\n" + report + f"\n\n(total {time.monotonic() - started:.0f} s)")

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(
        json.dumps(
            {
                "at": datetime.now(UTC).isoformat(),
                "settings": vars(args),
                "reservation": [asdict(r) | {"ratio": r.ratio} for r in rows],
                "hot_sku": [asdict(h) | {"rate": h.rate} for h in hot],
                "ledger_check": [asdict(lr) for lr in ledgers],
            },
            indent=2,
        )
    )
    if args.write_docs:
        pg = pg_server_version() if "postgresql" in kinds else None
        write_docs(
            f"Measured {datetime.now(UTC):%Y-%m-%d} with `{' '.join(['bench/run.py', *sys.argv[1:]])}`.\n\n"
            f"{machine(pg, load_at_start)}\n\n{report}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
