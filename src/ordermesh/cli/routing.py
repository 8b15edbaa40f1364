"""``ordermesh routing``: try a routing rule change on past orders before switching it on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ordermesh.cli.common import fail, out, tenant_uow
from ordermesh.domain.errors import ValidationFailed
from ordermesh.services import routing_simulation

app = typer.Typer(help="Routing: dry runs of rule changes.", no_args_is_help=True)

RULES_HELP = (
    "Settings: min_shipment_value, allow_split, pinned_location, fallback_location, max_split_locations, "
    "strategy. They are laid over each channel's own settings; null (--set KEY=null) removes a channel's "
    "setting. Shipping costs are estimates from a simple rate card (--rate local=40 --rate slab_g=500; "
    "defaults ₹40/50/60/75/100 per 500 g for local/regional/metro/national/special), not carrier quotes."
)


def _assignments(pairs: list[str], option: str) -> dict[str, Any]:
    """KEY=VALUE pairs; a value that reads as JSON (false, 500, null, "x") is taken as JSON."""
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationFailed(f"{option} takes KEY=VALUE, not '{pair}'", field=option.lstrip("-"))
        try:
            found[key.strip()] = json.loads(text)
        except ValueError:
            found[key.strip()] = text
    return found


@app.command(epilog=RULES_HELP)
def simulate(
    tenant: str = typer.Option(..., "--tenant", "-t", help="Tenant code."),
    since: str = typer.Option(..., "--since", help="First day (India time) or ISO date-time of orders to replay."),
    until: str | None = typer.Option(None, "--until", help="Last day, included (or an ISO date-time, excluded)."),
    channel: str | None = typer.Option(None, "--channel", help="Only this channel's orders."),
    rules_file: Path | None = typer.Option(
        None, "--rules", exists=True, dir_okay=False, readable=True, help="JSON file with candidate settings."
    ),
    settings: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="A candidate setting (repeatable)."),
    rates: list[str] = typer.Option([], "--rate", metavar="KEY=VALUE", help="A rate card entry (repeatable)."),
    limit: int = typer.Option(routing_simulation.DEFAULT_LIMIT, "--limit", help="Orders to replay, oldest first."),
    rows: int = typer.Option(20, "--rows", help="Orders with a different decision to list (0: none)."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole report as JSON."),
) -> None:
    """Replay past orders through candidate routing rules and compare with what was decided.

    Changes nothing: the stock is today's (each order's own allocation added back), the orders
    stay as they are. Reports the same/different decisions, shipments, splits, zones, distance
    and estimated shipping cost, before and after.
    """
    rules: dict[str, Any] = {}
    if rules_file is not None:
        try:
            loaded = json.loads(rules_file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            fail(f"{rules_file} is not a JSON file: {exc}")
        if not isinstance(loaded, dict):
            fail(f"{rules_file} must hold a JSON object of routing settings")
        rules.update(loaded)
    rules.update(_assignments(settings, "--set"))
    start = routing_simulation.parse_bound(since, "since")
    end = routing_simulation.parse_bound(until, "until", end=True) if until else None
    with tenant_uow(tenant, write=False) as uow:
        report = routing_simulation.simulate(
            uow,
            since=start,
            until=end,
            rules=rules,
            channel=channel,
            limit=limit,
            rate_card=_assignments(rates, "--rate") if rates else None,
        )
    if as_json:
        out().print_json(json.dumps(report))
        return
    _render(report, rows)


def _render(report: dict[str, Any], rows: int) -> None:
    console = out()
    window = f"{report['since']} to {report['until'] or 'now'}"
    console.print(
        f"Replayed {report['orders_replayed']} orders placed {window}"
        + (f" on {report['channel']}" if report["channel"] else "")
        + f" with {json.dumps(report['rules'])}: {report['same_decision']} same, "
        f"{report['different_decision']} different"
    )
    if report["truncated"]:
        console.print(f"(stopped at the first {report['orders_matched']} orders; raise --limit for more)")
    if report["skipped"]:
        console.print("not replayed: " + ", ".join(f"{k} {v}" for k, v in report["skipped"].items()))
    before, after = report["before"], report["after"]
    table = Table("", "before", "after", title="Routing dry run (nothing was changed)")
    for label, key in (("routed orders", "routed_orders"), ("shipments", "shipments")):
        table.add_row(label, str(before[key]), str(after[key]))
    table.add_row("shipments per order", _num(before["shipments_per_order"]), _num(after["shipments_per_order"]))
    table.add_row("split orders", str(before["split_orders"]), str(after["split_orders"]))
    for zone in before["zones"]:
        if before["zones"][zone] or after["zones"][zone]:
            table.add_row(f"zone {zone}", str(before["zones"][zone]), str(after["zones"][zone]))
    table.add_row("distance, total km", _num(before["distance_km"]["total"]), _num(after["distance_km"]["total"]))
    table.add_row(
        "distance per shipment, km",
        _num(before["distance_km"]["average_per_shipment"]),
        _num(after["distance_km"]["average_per_shipment"]),
    )
    table.add_row("est. shipping, total ₹", before["shipping_cost"]["total"], after["shipping_cost"]["total"])
    table.add_row(
        "est. shipping per order ₹",
        before["shipping_cost"]["average_per_order"] or "-",
        after["shipping_cost"]["average_per_order"] or "-",
    )
    for outcome in sorted(set(before["outcomes"]) | set(after["outcomes"])):
        table.add_row(
            f"outcome {outcome}", str(before["outcomes"].get(outcome, 0)), str(after["outcomes"].get(outcome, 0))
        )
    console.print(table)
    changed = [o for o in report["orders"] if not o["same"]][: max(rows, 0)]
    if changed:
        listing = Table("order", "placed", "before", "after", "zones after", "why", title="Orders routed differently")
        for o in changed:
            listing.add_row(
                o["number"],
                o["placed_at"][:16],
                _where(o["before"]),
                _where(o["after"]),
                ", ".join(z or "?" for z in o["after"]["zones"]) or "-",
                o["after"]["explanation"] or "",
            )
        console.print(listing)
    console.print(report["note"])


def _where(plan: dict[str, Any]) -> str:
    return " + ".join(plan["locations"]) if plan["locations"] else plan["outcome"]


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
