"""``ordermesh db``: schema migrations."""

from __future__ import annotations

import typer

from ordermesh.adapters.db import migrate
from ordermesh.cli.common import display_url, out, state

app = typer.Typer(help="Database migrations.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Migrate the database to the revision this version of ordermesh needs."""
    container = state().container()
    url = display_url(container.settings.database_url)
    before = migrate.current_revision(container.engine)
    migrate.upgrade(container.engine)
    after = migrate.current_revision(container.engine)
    if before == after:
        out().print(f"{url}: already at the head revision ({after})")
    else:
        out().print(f"{url}: upgraded from {before or 'an empty database'} to {after}")


@app.command()
def status() -> None:
    """Show the database's revision and the one the code needs; exit 1 when it is behind."""
    container = state().container()
    current, head = migrate.current_revision(container.engine), migrate.head_revision()
    console = out()
    console.print(f"database: {display_url(container.settings.database_url)}")
    console.print(f"current:  {current or 'none (empty database)'}")
    console.print(f"head:     {head}")
    if current != head:
        console.print("behind: run 'ordermesh db upgrade'")
        raise typer.Exit(1)
    console.print("up to date")
