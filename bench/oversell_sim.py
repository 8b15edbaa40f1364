"""Oversell simulation: several channels sell the same SKUs, each against the quantity it was last
told; how many units get sold that do not exist, by push latency and channel buffer.

    .venv/bin/python bench/oversell_sim.py [--orders 100000] [--seed 1] [--channels 2,3,5]
                                           [--latencies 1,5,30,120] [--buffers 0,1,2,5]

Pure Python, no database: a discrete-event model, seeded, so a run is reproducible.

  * K SKUs (default 50) at one warehouse, each opening with ``initial`` units.
  * Orders arrive as one Poisson stream (default 100 orders/s in total), each on a channel chosen
    uniformly from N, for a SKU chosen uniformly, of 1-3 units. The stream (times, channel, SKU,
    quantity) is the same for every latency and buffer of an N, so the cells of a row differ only
    by what the channels were told.
  * Restocks: each SKU receives ``restock_units`` at Poisson times (mean ``restock_every`` s); by
    default supply is ~90 % of demand, so SKUs sell out and come back again and again.
  * A channel takes an order when the quantity it shows covers it, then lowers its own count (as
    Shopify does); otherwise the buyer sees "sold out" (a refused order, a lost sale).
  * ordermesh hears every order at once (webhooks), accepts it, and reserves what exists; units it
    cannot reserve are oversold (a backorder, counted against available-to-sell as unrouted units,
    and filled first from the next restock).
  * Every stock change (an order, a restock) is pushed to every channel ``latency`` seconds later,
    with available-to-sell as it stands at that moment: ``domain.availability.available_to_sell``
    with ``ChannelRule(buffer=b)``.

Reported: oversold units per 10,000 orders the channels took, and refused orders per 10,000
arrivals (what the buffer costs).
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
import time
from dataclasses import dataclass
from functools import lru_cache

from ordermesh.domain.availability import ChannelRule, LocationStock, available_to_sell

ARRIVAL, RESTOCK, PUSH = 0, 1, 2


@dataclass(frozen=True)
class Scenario:
    skus: int = 50
    rate: float = 100.0  # orders/s over all channels
    orders: int = 100_000  # arrivals simulated
    initial: int = 50  # opening stock per SKU
    restock_units: int = 100
    restock_every: float = 28.0  # mean seconds between restocks of one SKU (~90 % of demand)
    seed: int = 1


@dataclass
class SimResult:
    channels: int
    latency: float
    buffer: int
    arrivals: int = 0
    accepted: int = 0
    refused: int = 0
    units_ordered: int = 0
    oversold_units: int = 0
    oversold_orders: int = 0
    pushes: int = 0
    simulated_seconds: float = 0.0

    @property
    def oversold_per_10k(self) -> float:
        return self.oversold_units * 10_000 / self.accepted if self.accepted else 0.0

    @property
    def refused_per_10k(self) -> float:
        return self.refused * 10_000 / self.arrivals if self.arrivals else 0.0


def _stream(sc: Scenario, channels: int) -> list[tuple[float, int, int, int, int]]:
    """Arrivals and restocks as (time, kind, channel, sku, units), in time order."""
    rng = random.Random(f"oversell:{sc.seed}:arrivals")
    pick = random.Random(f"oversell:{sc.seed}:channels:{channels}")
    events: list[tuple[float, int, int, int, int]] = []
    t = 0.0
    for _ in range(sc.orders):
        t += rng.expovariate(sc.rate)
        events.append((t, ARRIVAL, pick.randrange(channels), rng.randrange(sc.skus), rng.randint(1, 3)))
    horizon = t
    restock = random.Random(f"oversell:{sc.seed}:restocks")
    for sku in range(sc.skus):
        r = restock.expovariate(1 / sc.restock_every)
        while r < horizon:
            events.append((r, RESTOCK, -1, sku, sc.restock_units))
            r += restock.expovariate(1 / sc.restock_every)
    events.sort()
    return events


@lru_cache(maxsize=8)
def _cached_stream(sc: Scenario, channels: int) -> tuple[tuple[float, int, int, int, int], ...]:
    return tuple(_stream(sc, channels))


def simulate(sc: Scenario, channels: int, latency: float, buffer: int) -> SimResult:
    rule = ChannelRule(buffer=buffer)
    res = SimResult(channels, latency, buffer)
    on_hand = [sc.initial] * sc.skus
    reserved = [0] * sc.skus
    backorder = [0] * sc.skus  # oversold units waiting for stock: unrouted, against ATS

    def ats(sku: int) -> int:
        stock = [LocationStock("WH", on_hand[sku], reserved[sku], 0)]
        return available_to_sell(stock, backorder[sku], rule).quantity

    shown = [[ats(s) for s in range(sc.skus)] for _ in range(channels)]
    pending: list[tuple[float, int, int]] = []  # (due, seq, sku): pushes in flight
    seq = 0
    for t, kind, channel, sku, units in _cached_stream(sc, channels):
        while pending and pending[0][0] <= t:
            _, _, s = heapq.heappop(pending)
            quantity = ats(s)
            for c in range(channels):
                shown[c][s] = quantity
            res.pushes += 1
        if kind == ARRIVAL:
            res.arrivals += 1
            if shown[channel][sku] < units:
                res.refused += 1
                continue
            shown[channel][sku] -= units
            res.accepted += 1
            res.units_ordered += units
            free = on_hand[sku] - reserved[sku]
            take = min(units, free)
            reserved[sku] += take
            short = units - take
            if short:
                res.oversold_units += short
                res.oversold_orders += 1
                backorder[sku] += short
        else:
            on_hand[sku] += units
            fill = min(backorder[sku], units)
            backorder[sku] -= fill
            reserved[sku] += fill
        seq += 1
        heapq.heappush(pending, (t + latency, seq, sku))
        res.simulated_seconds = t
    return res


def run_grid(
    sc: Scenario, channel_counts: list[int], latencies: list[float], buffers: list[int]
) -> dict[tuple[int, float, int], SimResult]:
    return {(n, lat, b): simulate(sc, n, lat, b) for n in channel_counts for lat in latencies for b in buffers}


def _fmt_latency(lat: float) -> str:
    return f"{lat:g} s"


def tables(
    sc: Scenario, grid: dict[tuple[int, float, int], SimResult], channel_counts: list[int], latencies: list[float],
    buffers: list[int],
) -> str:  # fmt: skip
    from orders_bench import table

    header = ("channels", "push latency", *(f"buffer {b}" for b in buffers))
    over = [
        (str(n), _fmt_latency(lat), *(f"{grid[n, lat, b].oversold_per_10k:.1f}" for b in buffers))
        for n in channel_counts
        for lat in latencies
    ]
    refused = [
        (str(n), _fmt_latency(lat), *(f"{grid[n, lat, b].refused_per_10k:.0f}" for b in buffers))
        for n in channel_counts
        for lat in latencies
    ]
    any_result = next(iter(grid.values()))
    demand = sc.rate / sc.skus * 2
    supply = sc.restock_units / sc.restock_every
    intro = (
        f"Oversell simulation (seed {sc.seed}): {sc.orders:,} orders at {sc.rate:g}/s over {sc.skus} SKUs "
        f"(~{any_result.simulated_seconds:.0f} s simulated), 1-3 units each, opening stock {sc.initial}/SKU,\n"
        f"restocks of {sc.restock_units} every {sc.restock_every:g} s on average per SKU "
        f"(supply {supply:.2f} vs demand {demand:.2f} units/s per SKU)"
    )
    return (
        f"{intro}\n\nOversold units per 10,000 orders taken by the channels\n{table(header, over)}\n\n"
        f"Orders refused as sold out per 10,000 arrivals (lost sales: the other side of a buffer)\n"
        f"{table(header, refused)}"
    )


def numbers(text: str, kind: type = float) -> list:  # type: ignore[type-arg]
    return [kind(x) for x in text.split(",") if x.strip()]


def add_arguments(ap: argparse.ArgumentParser, prefix: str = "") -> None:
    ap.add_argument(f"--{prefix}orders", type=int, default=Scenario.orders, help="arrivals simulated per cell")
    ap.add_argument(f"--{prefix}seed", type=int, default=Scenario.seed)
    ap.add_argument(f"--{prefix}channels", default="2,3,5")
    ap.add_argument(f"--{prefix}latencies", default="1,5,30,120", help="push latencies, seconds")
    ap.add_argument(f"--{prefix}buffers", default="0,1,2,5")


def run_from_args(args: argparse.Namespace, prefix: str = "") -> str:
    get = lambda name: getattr(args, f"{prefix}{name}")  # noqa: E731
    sc = Scenario(orders=get("orders"), seed=get("seed"))
    channel_counts, latencies, buffers = (
        numbers(get("channels"), int),
        numbers(get("latencies")),
        numbers(get("buffers"), int),
    )
    t0 = time.perf_counter()
    grid = run_grid(sc, channel_counts, latencies, buffers)
    elapsed = time.perf_counter() - t0
    return tables(sc, grid, channel_counts, latencies, buffers) + f"\n({len(grid)} simulations in {elapsed:.1f} s)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap)
    print(run_from_args(ap.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
