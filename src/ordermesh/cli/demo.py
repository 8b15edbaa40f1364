"""``ordermesh demo``: load a demo tenant to try ordermesh with."""

from __future__ import annotations

import time

import typer

from ordermesh.cli.common import cli_actor, err, migrated_container, out
from ordermesh.services import demo

app = typer.Typer(help="Demo data.", no_args_is_help=True)


@app.command()
def load(
    tenant: str = typer.Option(demo.DEMO_TENANT, "--tenant", "-t", help="Code of the demo tenant to create."),
) -> None:
    """Create a demo tenant: 3 warehouses, ~200 SKUs with bundles, opening stock, an admin user and
    an API key. Does nothing if the tenant already exists."""
    container = migrated_container()
    started = time.monotonic()
    with err().status("loading demo data") as status:
        loaded = demo.load_demo(container.uow, tenant=tenant, actor=cli_actor(), progress=status.update)
    console = out()
    if not loaded.created:
        console.print(
            f"tenant '{tenant}' already exists; nothing was loaded. Log in as {loaded.admin_email}, or issue a "
            f"new key with: ordermesh keys create --tenant {tenant} --role admin"
        )
        return
    settings = container.settings
    console.print(
        f"loaded demo tenant '{tenant}' in {time.monotonic() - started:.1f} s: {loaded.locations} warehouses, "
        f"{loaded.skus} SKUs ({loaded.bundles} bundles), {loaded.receipts} stock receipts "
        f"({loaded.units} units), {loaded.thresholds} low-stock thresholds"
    )
    console.print()
    console.print(f"dashboard:  http://{settings.host}:{settings.port}  (start it with: ordermesh serve)")
    console.print(f"login:      {loaded.admin_email} / {loaded.admin_password}")
    console.print(f"API key:    {loaded.api_key}  (admin; shown only now)")
    console.print(
        f'try:        curl -s "http://{settings.host}:{settings.port}/api/v1/skus?limit=2" '
        f'-H "Authorization: Bearer {loaded.api_key}"'
    )
