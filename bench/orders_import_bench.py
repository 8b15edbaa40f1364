"""Bulk CSV order import: orders per second and peak memory (target: 100,000 orders under 300 MB).

``python bench/orders_import_bench.py [--orders N] [--keep]``

Generates a CSV of N orders (1-3 lines each, random SKUs, ten destination pincodes - so the pincode
history the risk check counts grows to N/10 orders each - prepaid and COD, a distinct buyer per
order so nothing is held as a duplicate), makes a fresh SQLite database with a
tenant, 1,000 SKUs and ample stock at one location, then runs the real command,
``ordermesh orders import``, in a child process and reads that process's peak resident memory
with ``resource.getrusage(RUSAGE_CHILDREN)``. A 100-order import is run first, so the figure for the
big file can be read against the command's own baseline (Python, SQLAlchemy, the pincode data).

Not part of the test suite: it takes minutes, and it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from common import RESULTS, open_database, setup_tenant
from ordermesh.services.order_import import CSV_COLUMNS

LIMIT_MB = 300
DESTINATIONS = [
    ("Mumbai", "Maharashtra", "400001"),
    ("New Delhi", "Delhi", "110001"),
    ("Bengaluru", "Karnataka", "560034"),
    ("Chennai", "Tamil Nadu", "600040"),
    ("Kolkata", "West Bengal", "700091"),
    ("Hyderabad", "Telangana", "500081"),
    ("Ahmedabad", "Gujarat", "380015"),
    ("Pune", "Maharashtra", "411057"),
    ("Jaipur", "Rajasthan", "302017"),
    ("Lucknow", "Uttar Pradesh", "226010"),
]


def generate(path: Path, orders: int, sku_codes: list[str], *, prefix: str = "BENCH", seed: int = 7) -> int:
    """Write the file row by row (the generator holds one order at a time too). Returns the rows."""
    rng = random.Random(seed)
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for i in range(orders):
            city, state, pincode = DESTINATIONS[i % len(DESTINATIONS)]
            phone = f"9{i:09d}"
            method = "cod" if rng.random() < 0.3 else "prepaid"
            placed = f"2026-11-{1 + i % 28:02d}T{8 + i % 12:02d}:{i % 60:02d}:00+05:30"
            for n, sku in enumerate(rng.sample(sku_codes, rng.randint(1, 3))):
                first = n == 0
                writer.writerow(
                    [
                        "manual",
                        f"{prefix}-{i:07d}",
                        placed if first else "",
                        f"Buyer {i}" if first else "",
                        phone if first else "",
                        f"buyer{i}@example.in" if first else "",
                        "",
                        f"Flat {1 + i % 90}, Block {chr(65 + i % 6)}, Shanti Apartments" if first else "",
                        "Near the market" if first else "",
                        city if first else "",
                        state if first else "",
                        pincode if first else "",
                        "",
                        method if first else "",
                        "",
                        sku,
                        rng.randint(1, 2),
                        f"{rng.randint(199, 799)}.00",
                        "",
                        "49" if first and method == "cod" else "",
                    ]
                )
                rows += 1
    return rows


def run_import(url: str, tenant: str, path: Path) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ordermesh",
            "--database-url",
            url,
            "orders",
            "import",
            str(path),
            "-t",
            tenant,
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise RuntimeError(f"the import failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, json.loads(done.stdout)


def peak_children_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kilobytes on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the database and the CSV file")
    args = parser.parse_args()

    db = open_database("sqlite")
    try:
        fixture = setup_tenant(db, "import", n_skus=1_000, stock=10_000_000)
        engine = create_engine(db.url)
        with engine.connect() as conn:
            tenant = conn.execute(text("SELECT code FROM tenants WHERE id = :i"), {"i": fixture.tenant_id}).scalar_one()
        engine.dispose()

        small = RESULTS / "orders-import-small.csv"
        generate(small, 100, fixture.sku_codes, prefix="WARM", seed=1)
        small_s, small_report = run_import(db.url, tenant, small)
        baseline = peak_children_mb()

        big = RESULTS / "orders-import.csv"
        started = time.perf_counter()
        rows = generate(big, args.orders, fixture.sku_codes)
        print(
            f"generated {args.orders:,} orders in {rows:,} rows ({big.stat().st_size / 2**20:.1f} MB) in "
            f"{time.perf_counter() - started:.1f} s"
        )
        elapsed, report = run_import(db.url, tenant, big)
        peak = peak_children_mb()
        result = {
            "database": "sqlite",
            "orders": args.orders,
            "rows": rows,
            "file_mb": round(big.stat().st_size / 2**20, 1),
            "seconds": round(elapsed, 1),
            "orders_per_s": round(args.orders / elapsed, 1),
            "peak_rss_mb": round(peak, 1),
            "baseline_peak_rss_mb (100 orders)": round(baseline, 1),
            "limit_mb": LIMIT_MB,
            "created": report["created"],
            "on_hold": report["on_hold"],
            "held": report["held"],
            "rejected_orders": report["rejected_orders"],
            "small_import": {"seconds": round(small_s, 2), "created": small_report["created"]},
        }
        print(json.dumps(result, indent=2))
        if report["created"] != args.orders:
            print(f"WARNING: {args.orders - int(report['created']):,} orders were not created", file=sys.stderr)
        if peak >= LIMIT_MB:
            print(f"FAIL: peak memory {peak:.0f} MB is not under {LIMIT_MB} MB", file=sys.stderr)
            sys.exit(1)
        if not args.keep:
            small.unlink(missing_ok=True)
            big.unlink(missing_ok=True)
    finally:
        if not args.keep:
            db.drop()


if __name__ == "__main__":
    main()
