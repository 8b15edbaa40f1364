"""Routing alone: decisions per second for 3-line orders over 5 locations (target >= 20,000/s).

``python bench/routing_bench.py [--seconds S] [--runs N] [--json]``

Pure Python, one process, no database: the orders, locations and pincodes are built first (the
pincode directory is warmed, as it is in a running server), then only ``route()`` is timed. Each
scenario routes a fixed, seeded set of orders round and round for ``--seconds`` and reports the
median of ``--runs`` runs, per second of wall-clock time and per second of CPU time (the steadier
figure on a shared machine), with the outcome mix so a figure is never read without its workload:

- mixed (the headline): random stock (0-4 units per SKU and location), prepaid and COD, one
  location closed for COD and one not serving the channel - about 55% go to one location, 35% are
  split, 9% are out of stock;
- single: every location has everything - the common case, ranking only;
- split: no location has everything - every order runs the exact split search;
- split_minimum: the same with a minimum shipment value, so the search tracks shipment values;
- wide: 10 lines over 10 locations with scattered stock - the largest size routing promises to solve
  exactly.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import Counter
from decimal import Decimal

from ordermesh.adapters.pincode_directory import lookup
from ordermesh.domain.routing import Candidate, RouteLine, RoutingRules, route
from ordermesh.domain.zones import PincodeInfo

TARGET = 20_000
ORIGINS = ["421302", "122001", "560001", "600001", "700001", "500001", "380001", "411001", "302001", "226001"]
DESTINATIONS = [
    "400001", "110001", "560034", "600040", "700091", "500081", "380015", "411057", "302017", "226010",
    "781001", "682001", "751001", "800001", "141001", "462001", "641001", "190001", "744101", "395007",
]  # fmt: skip
SKUS = [f"SKU-{i:03d}" for i in range(40)]

Order = tuple[list[RouteLine], list[Candidate], PincodeInfo, str, RoutingRules]


def _info(pin: str) -> PincodeInfo:
    info = lookup(pin)
    if info is None:
        raise SystemExit(f"pincode {pin} is not in the directory")
    return info


def _lines(rng: random.Random, n: int) -> list[RouteLine]:
    skus = rng.sample(SKUS, n)
    return [
        RouteLine(f"L{i}", sku, q := rng.randint(1, 3), Decimal(rng.randint(199, 2499)) * q)
        for i, sku in enumerate(skus)
    ]


def _candidates(rng: random.Random, stocks: list[dict[str, int]], flags: bool) -> list[Candidate]:
    return [
        Candidate(
            f"LOC{i:02d}",
            _info(ORIGINS[i % len(ORIGINS)]),
            priority=rng.randint(1, 5),
            serves_channel=not (flags and i == 4),
            cod_allowed=not (flags and i == 2),
            capacity_left=rng.choice([None, 50, 200]),
            stock=stock,
        )
        for i, stock in enumerate(stocks)
    ]


def _stocks(rng: random.Random, n: int, low: int, high: int) -> list[dict[str, int]]:
    return [{sku: rng.randint(low, high) for sku in SKUS} for _ in range(n)]


def scenario(name: str, count: int = 500, seed: int = 7) -> list[Order]:
    rng = random.Random(seed)
    orders: list[Order] = []
    for _ in range(count):
        n_lines, n_locations = (10, 10) if name == "wide" else (3, 5)
        lines = _lines(rng, n_lines)
        if name == "mixed":
            stocks = _stocks(rng, n_locations, 0, 4)
        elif name == "single":
            stocks = _stocks(rng, n_locations, 3, 20)
        else:  # every location lacks a different line (six of ten when wide): none has everything
            stocks = _stocks(rng, n_locations, 3, 9)
            for i, stock in enumerate(stocks):
                stock.update(
                    dict.fromkeys((lines[(i + j) % n_lines].sku for j in range(6 if name == "wide" else 1)), 0)
                )
        candidates = _candidates(rng, stocks, flags=name == "mixed")
        payment = rng.choice(["prepaid", "cod"]) if name == "mixed" else "prepaid"
        minimum = Decimal(300) if name == "split_minimum" else Decimal(0)
        orders.append(
            (lines, candidates, _info(rng.choice(DESTINATIONS)), payment, RoutingRules(min_shipment_value=minimum))
        )
    return orders


def measure(orders: list[Order], seconds: float) -> tuple[float, float]:
    """Decisions per second of wall-clock time, and per second of this process's CPU time (the
    second is steadier on a shared machine: time another process takes from ours is not counted)."""
    done = 0
    start, cpu = time.perf_counter(), time.process_time()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for lines, candidates, destination, payment, rules in orders:
            route(lines, candidates, destination, payment, rules)
        done += len(orders)
    return done / (time.perf_counter() - start), done / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    results = {}
    for name in ("mixed", "single", "split", "split_minimum", "wide"):
        orders = scenario(name, count=100 if name == "wide" else 500)
        mix = Counter(route(*order).outcome.value for order in orders)
        splits = sum(1 for order in orders if len(route(*order).shipments) > 1)
        runs = [measure(orders, args.seconds) for _ in range(args.runs)]
        wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        results[name] = {
            "decisions_per_s": round(wall),
            "decisions_per_cpu_s": round(cpu),
            "outcomes": dict(mix),
            "splits": splits,
        }
        if not args.json:
            shape = "10 lines x 10 locations" if name == "wide" else "3 lines x 5 locations"
            print(
                f"{name:14} {shape:24} {wall:>9,.0f} decisions/s ({cpu:,.0f} per CPU s)"
                f"   {', '.join(f'{k} {v}' for k, v in sorted(mix.items()))}; {splits} split of {len(orders)}"
            )
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        rate = results["mixed"]["decisions_per_s"]
        print(
            f"target: >= {TARGET:,} decisions/s for 3-line orders over 5 locations (mixed): {'met' if rate >= TARGET else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
