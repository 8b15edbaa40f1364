"""``ordermesh inventory``: the ledger check, stock movements and stock views."""

from __future__ import annotations

import typer
from rich.table import Table

from ordermesh.adapters.db.stock import LedgerDifference
from ordermesh.cli.common import err, out, platform_uow, tenant_uow
from ordermesh.services import inventory, platform
from ordermesh.services.inventory import Applied

app = typer.Typer(help="Stock: movements, views and the ledger check.", no_args_is_help=True)

TenantOpt = typer.Option(..., "--tenant", "-t", help="Tenant code.")
ReferenceOpt = typer.Option(None, "--reference", help="Document this movement belongs to, e.g. a GRN number.")


@app.command()
def check(
    tenant: str | None = typer.Option(None, "--tenant", "-t", help="Check only this tenant (default: every tenant)."),
    repair: bool = typer.Option(False, "--repair", help="Rewrite differing balances from the ledger (audited)."),
) -> None:
    """Prove that every stock balance equals the sum of its ledger movements.

    Exit code 1 when any difference is found, also when --repair fixed it, so a nightly job notices.
    """
    if tenant:
        codes = [tenant]
    else:
        with platform_uow(write=False) as uow:
            codes = [t.code for t in platform.list_tenants(uow)]
    found: list[tuple[str, LedgerDifference]] = []
    movements = 0
    for code in codes:
        with tenant_uow(code, write=repair) as uow:
            movements += inventory.count_movements(uow)
            found.extend((code, d) for d in inventory.check_ledger(uow, repair=repair))
    checked = f"{movements} movements in {len(codes)} tenant(s) checked"
    if not found:
        out().print(f"ledger and balances agree ({checked})")
        return
    table = Table(
        "tenant",
        "SKU",
        "location",
        "on hand",
        "reserved",
        "quarantined",
        title="balance differs from ledger (balance / ledger)",
    )
    for code, d in found:
        table.add_row(code, d.sku, d.location, *(_pair(b, led) for b, led in zip(d.balance, d.ledger, strict=True)))
    out().print(table)
    if repair:
        out().print(
            f"repaired {len(found)} balance(s): rewritten from the ledger and recorded in the audit trail ({checked})"
        )
    else:
        err().print(f"{len(found)} balance(s) differ from the ledger ({checked}); run with --repair to fix them")
    raise typer.Exit(1)


def _pair(balance: int, ledger: int) -> str:
    return f"{balance} / {ledger}" if balance != ledger else str(balance)


def _render(applied: list[Applied]) -> None:
    table = Table("SKU", "location", "movement", "on hand", "reserved", "available")
    for a in applied:
        table.add_row(
            a.change.sku,
            a.change.location,
            f"{a.change.kind.value} {a.change.quantity}",
            f"{a.before.on_hand} -> {a.after.on_hand}",
            str(a.after.reserved),
            str(a.after.available),
        )
    out().print(table)


@app.command()
def receive(
    sku: str,
    location: str,
    quantity: int = typer.Argument(..., help="Units received."),
    tenant: str = TenantOpt,
    reference: str | None = ReferenceOpt,
    reason: str | None = typer.Option(None, "--reason", help="Free text kept in the ledger."),
) -> None:
    """Receive goods into a location."""
    with tenant_uow(tenant) as uow:
        _render(
            inventory.record_movement(
                uow, sku=sku, location=location, kind="receipt", quantity=quantity, reason=reason, reference=reference
            )
        )


@app.command()
def adjust(
    sku: str,
    location: str,
    by: int = typer.Option(..., "--by", help="Signed change in units, e.g. --by -3."),
    reason: str = typer.Option(..., "--reason", help="Why (damaged, found, ...); required."),
    tenant: str = TenantOpt,
    reference: str | None = ReferenceOpt,
) -> None:
    """Correct on-hand stock up or down, with a reason."""
    with tenant_uow(tenant) as uow:
        _render(
            inventory.record_movement(
                uow, sku=sku, location=location, kind="adjustment", quantity=by, reason=reason, reference=reference
            )
        )


@app.command()
def count(
    sku: str,
    location: str,
    counted: int = typer.Argument(..., help="Units physically counted."),
    tenant: str = TenantOpt,
    reference: str | None = ReferenceOpt,
) -> None:
    """Record a physical count: on hand becomes the counted quantity."""
    with tenant_uow(tenant) as uow:
        _render(
            inventory.record_movement(
                uow, sku=sku, location=location, kind="count", quantity=counted, reference=reference
            )
        )


@app.command()
def transfer(
    sku: str,
    from_location: str = typer.Argument(..., metavar="FROM"),
    to_location: str = typer.Argument(..., metavar="TO"),
    quantity: int = typer.Argument(..., help="Units moved."),
    tenant: str = TenantOpt,
    reference: str | None = ReferenceOpt,
) -> None:
    """Move stock from one location to another."""
    with tenant_uow(tenant) as uow:
        _render(
            inventory.record_movement(
                uow,
                sku=sku,
                location=from_location,
                kind="transfer",
                quantity=quantity,
                to_location=to_location,
                reference=reference,
            )
        )


@app.command()
def stock(sku: str, tenant: str = TenantOpt) -> None:
    """Show a SKU's stock at each location (a bundle's follows from its components)."""
    with tenant_uow(tenant, write=False) as uow:
        view = inventory.stock_for_sku(uow, sku)
    table = Table("location", "on hand", "reserved", "quarantined", "safety", "available", "low at")
    for s in view.locations:
        b = s.balance
        table.add_row(
            s.location,
            str(b.on_hand),
            str(b.reserved),
            str(b.quarantined),
            str(b.safety_stock),
            str(b.available),
            "" if s.low_stock_threshold is None else str(s.low_stock_threshold),
        )
    if view.is_bundle:
        table.caption = "bundle of " + ", ".join(f"{c.quantity} x {c.sku}" for c in view.components)
    out().print(table)
    out().print(f"{sku}: {view.available} available in total")
