"""What every command shares: settings and the container, the acting user, consoles, and turning
errors into plain messages."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy.engine import make_url

from ordermesh.adapters.db import migrate
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.bootstrap import Container, bootstrap
from ordermesh.config import Settings
from ordermesh.domain.access import Actor, Role
from ordermesh.domain.errors import DomainError, ImportRejected, SchemaBehind
from ordermesh.services import platform


class CliState:
    """One per invocation: the global options, and a container built on first use."""

    def __init__(self, database_url: str | None = None):
        self.database_url = database_url
        self._settings: Settings | None = None
        self._container: Container | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            overrides: dict[str, Any] = {"database_url": self.database_url} if self.database_url else {}
            self._settings = Settings(**overrides)
        return self._settings

    def container(self) -> Container:
        if self._container is None:
            self._container = bootstrap(self.settings)
        return self._container

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


# Set by the root callback for each invocation. (Not click's context object: Typer >= 0.26 vendors
# its own click, so the context API differs between the Typer versions we accept.)
_STATE: ContextVar[CliState | None] = ContextVar("ordermesh_cli_state", default=None)


def begin(database_url: str | None) -> CliState:
    """Start an invocation: a fresh state, closed by the caller when the command is done."""
    cli_state = CliState(database_url)
    _STATE.set(cli_state)
    return cli_state


def state() -> CliState:
    found = _STATE.get()
    if found is None:  # a command function called without the root app
        found = begin(None)
    return found


def display_url(url: str) -> str:
    """The database URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL SQLAlchemy cannot parse is shown as given; the engine will complain
        return url


def schema_behind_error(container: Container) -> SchemaBehind | None:
    if not migrate.pending(container.engine):
        return None
    return SchemaBehind(
        f"the database at {display_url(container.settings.database_url)} is behind; run 'ordermesh db upgrade'"
    )


def migrated_container() -> Container:
    """The container, after checking that the database's migrations are current."""
    container = state().container()
    problem = schema_behind_error(container)
    if problem:
        raise problem
    return container


def cli_actor() -> Actor:
    """The person at the terminal: an admin of whichever tenant they name (they hold the database
    credentials, so they could do anything anyway); recorded as ``cli:<os user>`` in the audit trail."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        user = "unknown"
    return Actor("cli", user, f"{user} (command line)", Role.ADMIN)


@contextmanager
def platform_uow(*, write: bool = True) -> Iterator[UnitOfWork]:
    """A unit of work bound to no tenant, for platform commands (tenants, users, keys)."""
    with migrated_container().uow(tenant_id=None, actor=cli_actor(), write=write) as uow:
        yield uow


@contextmanager
def tenant_uow(tenant: str, *, write: bool = True) -> Iterator[UnitOfWork]:
    """A unit of work scoped to the tenant with this code (error if there is none)."""
    with platform_uow(write=write) as uow:
        uow.use_tenant(platform.tenant_id_for(uow, tenant))
        yield uow


def read_secrets(pairs: list[str]) -> dict[str, str]:
    """KEY=VALUE arguments as secrets; a KEY alone is asked for at a hidden prompt, so the value
    need not stay in the shell's history."""
    secrets: dict[str, str] = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not key:
            # (the value is not echoed: it is a secret)
            raise typer.BadParameter("'=…' needs a key before the =", param_hint="KEY=VALUE")
        if not sep:
            value = typer.prompt(key, hide_input=True, err=True)
        secrets[key] = value
    return secrets


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Piped output is not cut at 80 columns: tables stay one row per line for grep and less.
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    # markup=False: SKU names and other user data are printed as they are, brackets included.
    return Console(stderr=stderr, width=160 if wide else None, highlight=False, markup=False, soft_wrap=True)


def out() -> Console:
    return _console(stderr=False)


def err() -> Console:
    return _console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def report(exc: DomainError) -> None:
    """A domain error as plain lines on stderr: the detail, then each field or row problem."""
    typer.echo(f"error: {exc.detail}", err=True)
    if isinstance(exc, ImportRejected):
        for row in exc.rows:
            typer.echo(f"line {row.line}, column {row.column}: {row.message}", err=True)
        return
    lines = [f"{e.field}: {e.message}" for e in exc.errors]
    if lines != [exc.detail] and not (len(exc.errors) == 1 and exc.errors[0].message == exc.detail):
        for line in lines:
            typer.echo(f"  {line}", err=True)
