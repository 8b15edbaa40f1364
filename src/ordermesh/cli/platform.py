"""``ordermesh tenants|users|keys``: tenants, dashboard users and API keys."""

from __future__ import annotations

import json
import sys

import typer
from rich.table import Table

from ordermesh.adapters.security import key_prefix
from ordermesh.cli.common import err, out, platform_uow, tenant_uow
from ordermesh.domain.errors import ValidationFailed
from ordermesh.services import platform

tenants_app = typer.Typer(help="Tenants: the brands or sellers in this installation.", no_args_is_help=True)
users_app = typer.Typer(help="Dashboard users.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)

ROLES = "admin, ops, warehouse, finance, support or viewer"
TenantOpt = typer.Option(..., "--tenant", "-t", help="Tenant code.")


@tenants_app.command("create")
def create_tenant(
    code: str = typer.Argument(..., help="Short code: lowercase letters, digits and '-'."),
    display_name: str | None = typer.Option(None, "--display-name", help="Name shown in the dashboard."),
) -> None:
    """Create a tenant."""
    with platform_uow() as uow:
        tenant_id = platform.create_tenant(uow, code=code, name=display_name)
    out().print(f"created tenant {code} (id {tenant_id})")


@tenants_app.command("list")
def list_tenants() -> None:
    """List the tenants."""
    with platform_uow(write=False) as uow:
        rows = platform.list_tenants(uow)
    table = Table("code", "name", "id")
    for t in rows:
        table.add_row(t.code, t.name, str(t.id))
    out().print(table)


@users_app.command("create")
def create_user(
    tenant: str = TenantOpt,
    email: str = typer.Option(..., "--email", help="Login email (unique across tenants)."),
    name: str = typer.Option("", "--name", help="Display name (default: the email)."),
    role: str = typer.Option(..., "--role", help=ROLES),
    location: list[str] | None = typer.Option(None, "--location", help="Limit the user to this location; repeat."),
    channel: list[str] | None = typer.Option(None, "--channel", help="Limit the user to this channel; repeat."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin instead of prompting."
    ),
) -> None:
    """Create a dashboard user. The password is prompted for (hidden), or read from stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ValidationFailed("no password on stdin", field="password")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with platform_uow() as uow:
        platform.create_user(
            uow,
            tenant=tenant,
            email=email,
            name=name,
            password=password,
            role=role,
            locations=location or None,
            channels=channel or None,
        )
    out().print(f"created user {email.strip().lower()} ({role}) in tenant {tenant}")


@keys_app.command("create")
def create_key(
    tenant: str = TenantOpt,
    role: str = typer.Option(..., "--role", help=ROLES),
    name: str = typer.Option("", "--name", help="What the key is for, e.g. 'shopify sync'."),
    location: list[str] | None = typer.Option(None, "--location", help="Limit the key to this location; repeat."),
    channel: list[str] | None = typer.Option(None, "--channel", help="Limit the key to this channel; repeat."),
    as_json: bool = typer.Option(False, "--json", help="Print {key, prefix, tenant, role} as JSON."),
) -> None:
    """Issue an API key. It is printed once: only its hash is stored."""
    with platform_uow() as uow:
        issued = platform.create_api_key(
            uow, tenant=tenant, role=role, name=name, locations=location or None, channels=channel or None
        )
    if as_json:
        typer.echo(
            json.dumps({"key": issued.key, "prefix": issued.prefix, "tenant": issued.tenant, "role": issued.role})
        )
        return
    typer.echo(issued.key)
    err().print(
        f"API key {issued.prefix} ({issued.role}) for tenant {issued.tenant}. It is shown only now: store it. "
        f"Use it as 'Authorization: Bearer <key>'."
    )


@keys_app.command("revoke")
def revoke_key(
    prefix: str = typer.Argument(..., help="The key's prefix (as 'keys list' shows it) or the key itself."),
    tenant: str = TenantOpt,
) -> None:
    """Revoke an API key; requests with it are refused from now on."""
    if prefix.startswith("om_"):
        prefix = key_prefix(prefix) or prefix
    with tenant_uow(tenant) as uow:
        platform.revoke_api_key(uow, prefix=prefix)
    out().print(f"revoked API key {prefix}")


@keys_app.command("list")
def list_keys(tenant: str = TenantOpt) -> None:
    """List a tenant's API keys (prefixes only; keys themselves are never stored)."""
    with tenant_uow(tenant, write=False) as uow:
        rows = platform.list_api_keys(uow)
    table = Table("prefix", "name", "role", "locations", "created", "revoked")
    for k in rows:
        table.add_row(
            k.prefix,
            k.name,
            k.role,
            ", ".join(k.locations) if k.locations else "all",
            f"{k.created_at:%Y-%m-%d %H:%M}",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
        )
    out().print(table)
