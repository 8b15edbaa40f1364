"""The ``ordermesh`` command: one Typer app, one sub-app per area.

Errors are turned into plain messages in one place, :class:`OrdermeshGroup`: a DomainError prints
``error: <detail>`` (and its field or row problems) on stderr and exits 1; usage errors exit 2 as
Typer does. Users never see a traceback for something they can fix.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError
from typer.core import TyperGroup

from ordermesh import __version__
from ordermesh.cli import catalog, channels, db, demo, inventory, orders, platform, routing, serve, shipping
from ordermesh.cli.common import begin, display_url, report, state
from ordermesh.domain.errors import DomainError


class OrdermeshGroup(TyperGroup):
    """The root group: every command runs inside its ``invoke``, so its errors pass through here."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            report(exc)
            raise typer.Exit(1) from None
        except (OperationalError, InterfaceError) as exc:
            message = str(exc.orig or exc).strip()
            first = message.splitlines()[0] if message else type(exc).__name__
            url = display_url(state().settings.database_url)
            typer.echo(f"error: the database at {url} cannot be used: {first}", err=True)
            raise typer.Exit(1) from None
        except BrokenPipeError:  # the reader went away (`ordermesh catalog export | head`): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(1) from None
        except ArgumentError as exc:  # a database URL SQLAlchemy cannot parse or has no driver for
            typer.echo(f"error: the database URL cannot be used: {exc}", err=True)
            raise typer.Exit(1) from None
        except ValidationError as exc:  # ORDERMESH_* settings that do not parse
            for e in exc.errors():
                name = ".".join(str(p) for p in e["loc"])
                typer.echo(f"error: setting ORDERMESH_{name.upper()}: {e['msg']}", err=True)
            raise typer.Exit(1) from None
        except Exception as exc:
            if type(exc).__module__.split(".")[0] in ("click", "typer"):
                raise  # exits, aborts and usage errors are Typer's to report
            if os.environ.get("ORDERMESH_DEBUG"):
                raise
            typer.echo(
                f"error: unexpected {type(exc).__name__}: {exc} (set ORDERMESH_DEBUG=1 to see where it happened)",
                err=True,
            )
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=OrdermeshGroup,
    name="ordermesh",
    help="Order management for multi-channel sellers and 3PLs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals can hold database passwords and API keys
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ordermesh {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        metavar="URL",
        help="SQLAlchemy URL of the database; overrides ORDERMESH_DATABASE_URL.",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Order management for multi-channel sellers and 3PLs.

    Configuration comes from ORDERMESH_* environment variables (see docs/configuration.md).
    """
    ctx.call_on_close(begin(database_url).close)


app.add_typer(db.app, name="db")
app.add_typer(platform.tenants_app, name="tenants")
app.add_typer(platform.users_app, name="users")
app.add_typer(platform.keys_app, name="keys")
app.add_typer(catalog.app, name="catalog")
app.add_typer(inventory.app, name="inventory")
app.add_typer(orders.app, name="orders")
app.add_typer(channels.app, name="channels")
app.add_typer(routing.app, name="routing")
app.add_typer(shipping.carriers_app, name="carriers")
app.add_typer(shipping.app, name="shipping")
app.add_typer(demo.app, name="demo")
app.command("serve")(serve.serve)
app.command("worker")(serve.worker)
