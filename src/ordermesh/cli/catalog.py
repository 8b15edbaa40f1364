"""``ordermesh catalog``: import and export SKUs as CSV."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ordermesh.cli.common import err, out, report, tenant_uow
from ordermesh.domain.errors import ImportRejected, RowError, ValidationFailed
from ordermesh.services import catalog

app = typer.Typer(help="SKUs and bundles.", no_args_is_help=True)

FORMAT = (
    "Columns: " + ", ".join(catalog.CSV_COLUMNS) + ". Barcodes are '|'-separated; a bundle's components are "
    "'SKU:QTY|SKU:QTY'."
)


def read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str | None]]]]:
    """A CSV file as (header, [(line number, row)]); line numbers are the file's, for error messages."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"{path} is not UTF-8 encoded text", field="file") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    rows = [(reader.line_num, {k.strip(): v for k, v in row.items() if k}) for row in reader]
    return header, rows


@app.command("import", epilog=FORMAT)
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV file to import."),
    tenant: str = typer.Option(..., "--tenant", "-t", help="Tenant code."),
    partial: bool = typer.Option(False, "--partial", help="Save the good rows even when some rows are bad."),
) -> None:
    """Create or update SKUs from a CSV file.

    All or nothing: if any row is bad, every bad row is listed (line, column, reason), nothing is
    saved and the exit code is 1. With --partial the good rows are saved, the bad ones listed,
    and the exit code is 1 if any row was skipped.
    """
    header, rows = read_rows(file)
    problems: list[RowError]
    console = err()
    with tenant_uow(tenant) as uow:
        with Progress(
            TextColumn("checking {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as bar:
            task = bar.add_task(file.name, total=len(rows))
            result, problems = catalog.import_skus(
                uow, rows, header=header, partial=partial, progress=lambda n: bar.advance(task, n)
            )
    out().print(
        f"{file}: {result.created} created, {result.updated} updated, {result.unchanged} unchanged "
        f"(tenant {tenant}, {len(rows)} rows)"
    )
    if problems:
        bad = len({p.line for p in problems})
        report(ImportRejected(f"{bad} row(s) skipped", problems))
        raise typer.Exit(1)


@app.command("export", epilog=FORMAT)
def export(
    tenant: str = typer.Option(..., "--tenant", "-t", help="Tenant code."),
    output: Path | None = typer.Option(None, "--output", "-o", dir_okay=False, help="File to write (default: stdout)."),
) -> None:
    """Write every SKU as CSV in the format 'catalog import' reads, so an export imports back unchanged."""
    count = 0
    with tenant_uow(tenant, write=False) as uow:
        stream = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
        try:
            writer = csv.DictWriter(stream, fieldnames=catalog.CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            for row in catalog.export_rows(uow):
                writer.writerow(row)
                count += 1
        finally:
            if output:
                stream.close()
    if output:
        err().print(f"exported {count} SKUs to {output}")
