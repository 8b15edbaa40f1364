"""``ordermesh orders``: the queue, hold actions, cancellation, and bulk import from CSV."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ordermesh.cli import channels
from ordermesh.cli.common import cli_actor, err, out, report, state, tenant_uow
from ordermesh.domain.errors import ImportRejected
from ordermesh.services import order_actions, order_import, order_queries

app = typer.Typer(help="Orders: the queue, hold actions, cancellation and bulk import.", no_args_is_help=True)

FORMAT = (
    "One row per order line; the rows of one order (same channel and external_id) must be "
    "consecutive. Columns: "
    + ", ".join(order_import.CSV_COLUMNS)
    + ". Required: "
    + ", ".join(order_import.REQUIRED_COLUMNS)
    + ". The order's columns may be left empty on its second and later rows; ship_name and "
    "ship_phone default to the customer's. placed_at is ISO 8601 (a time without an offset is IST). "
    "payment_method is prepaid or cod."
)


@app.command("import", epilog=FORMAT)
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV file to import."),
    tenant: str = typer.Option(..., "--tenant", "-t", help="Tenant code."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check every order without writing anything."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
    profile: str | None = typer.Option(
        None,
        "--profile",
        metavar="NAME_OR_JSON_FILE",
        help="Read a marketplace report through this profile (amazon_order_report, amazon_all_orders, "
        "flipkart_orders, meesho_orders, ordermesh, or a JSON profile file); needs --channel.",
    ),
    channel: str | None = typer.Option(None, "--channel", help="With --profile: the channel the orders came from."),
) -> None:
    """Import orders from a CSV file, each order on its own.

    Per order, not all or nothing: every order is saved in a transaction of its own, exactly as
    if it came through the API, so a bad order is reported (line, column, reason) and the good
    ones are kept. Importing a file again is safe: orders already present are counted as such,
    and a changed order becomes a new version. Doubtful orders are imported and held, with the
    reason. Exit code 1 if any row was rejected.

    With --profile, the file is a marketplace's own report (docs/channels/csv_report.md): each
    order goes in as that channel's order would, its SKUs mapped through the channel's listings.
    """
    if profile is not None:
        channels.import_report(file, tenant, profile, channel, dry_run=dry_run, as_json=as_json)
        return
    if channel is not None:
        raise typer.BadParameter("goes with --profile (a plain CSV names each order's channel)", param_hint="--channel")
    with tenant_uow(tenant, write=False) as uow:  # checks the schema is current and the tenant exists
        tenant_id = uow.tenant_id
    opener = partial(state().container().uow, tenant_id=tenant_id, actor=cli_actor())
    console = err()
    size = file.stat().st_size
    with (
        file.open("rb") as source,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rows]} rows"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as bar,
    ):
        task = bar.add_task(("checking " if dry_run else "importing ") + file.name, total=size, rows=0)
        result = order_import.import_orders(
            opener,
            source,
            dry_run=dry_run,
            progress=lambda done, rows: bar.update(task, completed=done, rows=rows),
        )
    if as_json:
        out().print_json(json.dumps(result.as_dict()))
    else:
        _summary(file, tenant, result)
    if result.errors:
        if not as_json:
            detail = f"{result.rejected_orders} order(s) rejected; {result.rejected_rows} row(s) have problems"
            report(ImportRejected(detail, result.errors))
        raise typer.Exit(1)


def _summary(file: Path, tenant: str, r: order_import.ImportReport) -> None:
    where = f"{file}: {r.orders} orders in {r.rows} rows (tenant {tenant})"
    if r.dry_run:
        line = f"{where}, dry run, nothing written: {r.valid} valid ({r.repeated} already present), {r.rejected_orders} rejected"
    else:
        line = (
            f"{where}: {r.created} created, {r.repeated} already present, {r.changed} changed, "
            f"{r.rejected_orders} rejected"
        )
    console = out()
    console.print(line)
    if r.on_hold:
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(r.held.items()))
        console.print(f"on hold: {r.on_hold} ({reasons})")
    if r.ignored_columns:
        console.print(f"ignored columns: {', '.join(r.ignored_columns)}")


@app.command("list")
def list_(
    tenant: str = typer.Option(..., "--tenant", "-t", help="Tenant code."),
    status: str | None = typer.Option(None, help="Order status, e.g. on_hold."),
    hold: str | None = typer.Option(None, help="Hold reason, e.g. risk_review."),
    channel: str | None = typer.Option(None, help="Channel code."),
    limit: int = typer.Option(50, help="How many, newest first."),
) -> None:
    """The order queue, newest first."""
    with tenant_uow(tenant, write=False) as uow:
        page = order_queries.list_orders(
            uow, order_queries.OrderFilter(status, channel, hold), cursor=None, limit=limit
        )
    table = Table("id", "number", "channel", "external id", "status", "holds", "total")
    for o in page.items:
        holds = ", ".join(h["reason"] for h in o["holds"])
        table.add_row(
            str(o["id"]), o["number"], o["channel"], o["external_id"], o["status"], holds, o["totals"]["grand_total"]
        )
    out().print(table)


@app.command("show")
def show(order_id: int = typer.Argument(...), tenant: str = typer.Option(..., "--tenant", "-t")) -> None:
    """One order with its lines, holds (and what resolves each), routing and timeline."""
    with tenant_uow(tenant, write=False) as uow:
        o = order_queries.get_order(uow, order_id)
    console = out()
    console.print(
        f"[bold]{o['number']}[/] {o['channel']} {o['external_id']} — {o['status']} — ₹{o['totals']['grand_total']}"
    )
    for h in o["holds"]:
        console.print(f"  hold {h['reason']}: {h['detail']}  → {h['action']}")
    for line in o["lines"]:
        where = ", ".join(f"{a['location']}×{a['quantity']}" for a in line.get("allocations") or [])
        console.print(
            f"  {line['sku']} × {line['quantity']}: allocated {line['allocated']} {where} cancelled {line['cancelled']}"
        )
    for e in o["timeline"]:
        console.print(f"  {e['at']:%Y-%m-%d %H:%M} {e['message']}")


@app.command("confirm")
def confirm(
    order_id: int = typer.Argument(...),
    tenant: str = typer.Option(..., "--tenant", "-t"),
    note: str | None = typer.Option(None, help="e.g. 'called the buyer'"),
) -> None:
    """Confirm a held order after verifying it (clears risk and duplicate reviews)."""
    with tenant_uow(tenant) as uow:
        uow.actor = cli_actor()
        status = order_actions.confirm_order(uow, order_id, note=note)
    out().print(f"order {order_id}: {status.value}")


@app.command("resolve")
def resolve(
    order_id: int = typer.Argument(...),
    reason: str = typer.Argument(..., help="The hold reason, e.g. price_check or unmapped_sku."),
    tenant: str = typer.Option(..., "--tenant", "-t"),
    map_sku: list[str] = typer.Option([], "--map", help="For unmapped_sku: THEIRS=OURS (repeatable)."),
    note: str | None = typer.Option(None),
) -> None:
    """Act on a hold; the order then goes through the pipeline again."""
    mappings = {}
    for item in map_sku:
        theirs, sep, ours = item.partition("=")
        if not sep or not theirs or not ours:
            raise typer.BadParameter(f"'{item}' should be THEIRS=OURS", param_hint="--map")
        mappings[theirs] = ours
    with tenant_uow(tenant) as uow:
        uow.actor = cli_actor()
        status = order_actions.resolve_hold(uow, order_id, reason, note=note, sku_mappings=mappings or None)
    out().print(f"order {order_id}: {status.value}")


@app.command("cancel")
def cancel(
    order_id: int = typer.Argument(...),
    tenant: str = typer.Option(..., "--tenant", "-t"),
    reason: str = typer.Option(..., help="Why it is cancelled."),
    line: list[str] = typer.Option([], "--line", help="SKU=QUANTITY to cancel part of the order (repeatable)."),
) -> None:
    """Cancel the whole order, or some units with --line; reservations are released at once."""
    lines = []
    for item in line:
        sku, sep, qty = item.partition("=")
        if not sep or not qty.isdigit():
            raise typer.BadParameter(f"'{item}' should be SKU=QUANTITY", param_hint="--line")
        lines.append({"sku": sku, "quantity": int(qty)})
    with tenant_uow(tenant) as uow:
        uow.actor = cli_actor()
        status = order_actions.cancel_order(uow, order_id, reason=reason, lines=lines or None)
    out().print(f"order {order_id}: {status.value}")
