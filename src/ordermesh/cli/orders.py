"""``ordermesh orders``: bulk import of orders from CSV."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from ordermesh.cli.common import cli_actor, err, out, report, state, tenant_uow
from ordermesh.domain.errors import ImportRejected
from ordermesh.services import order_import

app = typer.Typer(help="Orders: bulk import.", no_args_is_help=True)

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
) -> None:
    """Import orders from a CSV file, each order on its own.

    Per order, not all or nothing: every order is saved in a transaction of its own, exactly as
    if it came through the API, so a bad order is reported (line, column, reason) and the good
    ones are kept. Importing a file again is safe: orders already present are counted as such,
    and a changed order becomes a new version. Doubtful orders are imported and held, with the
    reason. Exit code 1 if any row was rejected.
    """
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
