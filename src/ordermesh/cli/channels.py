"""``ordermesh channels``: channels and their sync from the command line. The channel records
(list, create, set: connector settings and the stock rule), health, pulls, pushes and
reconciliation now, sealed credentials, listings (import, and their available-to-sell), and the
inbox of what channels sent, with retry. Also the marketplace-report path of
``ordermesh orders import --profile``.

Every command works through the container's units of work and its ``connections``, as the API
and the worker do, so what a command does is what they would do.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Generator, Mapping
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ordermesh.adapters.channels.base import ChannelError
from ordermesh.adapters.channels.csv_report import Profile, ProfileError, load_profile, parse_report
from ordermesh.cli.common import err, fail, out, read_secrets, report, state, tenant_uow
from ordermesh.domain.channels import parse_setting_value
from ordermesh.domain.errors import DomainError, ImportRejected, RowError
from ordermesh.services import channel_sync as cs
from ordermesh.services import channels

app = typer.Typer(
    help="Channels: their settings, sync health, pulls, pushes, listings, credentials and the inbox.",
    no_args_is_help=True,
)
listings_app = typer.Typer(help="A channel's listings: import them, see their available-to-sell.", no_args_is_help=True)
app.add_typer(listings_app, name="listings")

TenantOpt = typer.Option(..., "--tenant", "-t", help="Tenant code.")
LISTING_BATCH = 500  # listing rows saved per transaction: memory stays flat however long the file


def _sync(tenant: str) -> cs.Sync:
    """Channel sync for the tenant (checks the schema is current and the tenant exists)."""
    with tenant_uow(tenant, write=False) as uow:
        tenant_id = uow.tenant_id
        cs.require_write(uow)
    assert tenant_id is not None
    container = state().container()
    return cs.Sync(container.uow, container.connections, tenant_id)


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "never"


def _lag(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(max(seconds, 0), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _errors_out(errors: list[str]) -> None:
    console = err()
    for e in errors:
        console.print(f"error: {e}")


# -- the channel records: list, create, set --------------------------------------------------------


def _pairs(items: list[str] | None, option: str) -> dict[str, Any]:
    """KEY=VALUE items of a repeated option, values read by :func:`parse_setting_value`."""
    found: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not key or not sep:
            fail(f"{option} {item!r}: expected KEY=VALUE")
        try:
            found[key] = parse_setting_value(text)
        except ValueError as e:
            fail(f"{option} {key}: {e}")
    return found


def _merged(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``current`` with ``changes`` applied; a key set to null is removed."""
    return {k: v for k, v in {**current, **changes}.items() if v is not None}


def _shown(settings: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in sorted(settings.items()))


def _connected(spec: Any) -> bool:
    return bool(spec.base_url) and spec.type.value not in ("manual", "csv")


def _print_channel(record: Any, verb: str) -> None:
    spec = record.spec
    console = out()
    console.print(f"{spec.code}: {verb} ({spec.type.value}, {spec.name}{'' if spec.active else ', inactive'})")
    console.print(f"  base URL: {spec.base_url or '-'}")
    console.print(f"  locations: {', '.join(spec.locations) if spec.locations else 'all active locations'}")
    console.print(f"  settings: {_shown(spec.connector) or '-'}")
    console.print(f"  inventory rule: {_shown(spec.inventory) or 'all available stock, no buffer'}")
    console.print(f"  credentials: {'set' if record.sealed_credentials else 'not set'}")


@app.command("list")
def list_(
    tenant: str = TenantOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the channels as JSON (credentials never included)."),
) -> None:
    """Every channel: code, type, name, whether it is connected, its base URL and whether its
    credentials are set (their values are never shown)."""
    with tenant_uow(tenant, write=False) as uow:
        records = channels.list_channels(uow)
    if as_json:
        rows = [
            {**r.spec.as_dict(), "connected": _connected(r.spec), "credentials_set": r.sealed_credentials is not None}
            for r in records
        ]
        out().print_json(json.dumps(rows))
        return
    table = Table("code", "type", "name", "active", "connected", "base URL", "credentials")
    for r in records:
        table.add_row(
            r.spec.code,
            r.spec.type.value,
            r.spec.name,
            "yes" if r.spec.active else "no",
            "yes" if _connected(r.spec) else "no",
            r.spec.base_url or "",
            "set" if r.sealed_credentials else "not set",
        )
    out().print(table)


SettingOpt = typer.Option(
    None, "--setting", metavar="KEY=VALUE", help="A connector setting (docs/channels/<type>.md); repeat."
)
InventoryOpt = typer.Option(
    None, "--inventory", metavar="KEY=VALUE", help="The stock rule: buffer, percent, maximum, zero_below; repeat."
)


@app.command()
def create(
    code: str = typer.Argument(..., help="Channel code, e.g. shopify-main."),
    tenant: str = TenantOpt,
    type_: str = typer.Option(
        ..., "--type", help="manual, shopify, woocommerce, amazon, flipkart, myntra, meesho, csv or other."
    ),
    name: str = typer.Option(..., "--name", help="What people call it."),
    base_url: str | None = typer.Option(None, "--base-url", help="The channel's API address (https://…)."),
    location: list[str] | None = typer.Option(
        None, "--location", help="A location that serves it; repeat. Default: every active location."
    ),
    setting: list[str] | None = SettingOpt,
    inventory: list[str] | None = InventoryOpt,
    inactive: bool = typer.Option(False, "--inactive", help="Create it switched off."),
) -> None:
    """Add a channel. Values of --setting and --inventory are JSON scalars when they look like one
    (2, 50, true, null); text otherwise. Set its secrets with 'ordermesh channels credentials'."""
    raw: dict[str, Any] = {"code": code, "type": type_, "name": name, "active": not inactive}
    if base_url:
        raw["base_url"] = base_url
    if location:
        raw["locations"] = location
    if settings := _merged({}, _pairs(setting, "--setting")):
        raw["connector"] = settings
    if rule := _merged({}, _pairs(inventory, "--inventory")):
        raw["inventory"] = rule
    with tenant_uow(tenant) as uow:
        record = channels.create_channel(uow, raw)
    _print_channel(record, "created")


@app.command("set")
def set_(
    code: str = typer.Argument(..., help="Channel code."),
    tenant: str = TenantOpt,
    name: str | None = typer.Option(None, "--name", help="A new name."),
    base_url: str | None = typer.Option(None, "--base-url", help="A new API address; '' removes it."),
    location: list[str] | None = typer.Option(None, "--location", help="Serve it from these locations; repeat."),
    all_locations: bool = typer.Option(False, "--all-locations", help="Serve it from every active location."),
    setting: list[str] | None = SettingOpt,
    inventory: list[str] | None = InventoryOpt,
    active: bool | None = typer.Option(None, "--active/--inactive", help="Switch the channel on or off."),
) -> None:
    """Change a channel. --setting and --inventory are merged into what it has (KEY=null removes a
    key); other settings are kept."""
    if location and all_locations:
        fail("--location and --all-locations cannot be given together")
    settings, rule = _pairs(setting, "--setting"), _pairs(inventory, "--inventory")
    with tenant_uow(tenant) as uow:
        current = channels.get_channel(uow, code)
        patch: dict[str, Any] = {}
        if name is not None:
            patch["name"] = name
        if base_url is not None:
            patch["base_url"] = base_url.strip() or None
        if location or all_locations:
            patch["locations"] = location or None
        if settings:
            patch["connector"] = _merged(current.spec.connector, settings)
        if rule:
            patch["inventory"] = _merged(current.spec.inventory, rule)
        if active is not None:
            patch["active"] = active
        if not patch:
            fail(
                "nothing to change: give --name, --base-url, --location, --setting, --inventory or --active/--inactive"
            )
        record = channels.update_channel(uow, code, patch)
    before, after = current.spec.as_dict(), record.spec.as_dict()
    changed = sorted(k for k in after if after[k] != before[k])
    _print_channel(record, f"changed {', '.join(changed)}" if changed else "unchanged")


# -- health, pull, push, reconcile ---------------------------------------------------------------


@app.command()
def health(
    tenant: str = TenantOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the whole health report as JSON."),
) -> None:
    """Per channel: last successful pull and push, how long ago, failures and the last error."""
    with tenant_uow(tenant, write=False) as uow:
        rows = cs.health(uow)
    if as_json:
        out().print_json(json.dumps(rows, default=str))
        return
    table = Table(
        "channel",
        "type",
        "last pull",
        "pull lag",
        "last push",
        "push lag",
        "failures",
        "inbox",
        "pending",
        "last error",
    )
    for h in rows:
        kinds = ("orders", "inventory", "status", "reconcile")
        failures = ", ".join(f"{k} {h[k]['failures']}" for k in kinds if h[k]["failures"])
        errored = [h[k] for k in kinds if h[k]["last_error"]]
        latest = (
            max(errored, key=lambda s: s["last_error_at"].timestamp() if s["last_error_at"] else 0.0)
            if errored
            else None
        )
        inbox = h["inbox"]
        table.add_row(
            h["channel"],
            h["type"],
            _when(h["orders"]["last_success_at"]),
            _lag(h["orders"]["lag_seconds"]),
            _when(h["inventory"]["last_success_at"]),
            _lag(h["inventory"]["lag_seconds"]),
            failures or "0",
            ", ".join(f"{inbox[k]} {k}" for k in ("failed", "rejected", "waiting") if inbox[k]) or "ok",
            str(h["pending_pushes"]),
            latest["last_error"] if latest else "",
        )
    out().print(table)


@app.command()
def pull(code: str = typer.Argument(..., help="Channel code."), tenant: str = TenantOpt) -> None:
    """Fetch new and changed orders from the channel now (ignores any back-off). Exit 1 on errors."""
    result = cs.pull_orders(_sync(tenant), code, force=True)
    out().print(f"{code}: {result.pages} page(s) fetched")
    if result.errors:
        _errors_out(result.errors)
        raise typer.Exit(1)


@app.command()
def push(code: str = typer.Argument(..., help="Channel code."), tenant: str = TenantOpt) -> None:
    """Push the available-to-sell of every listing whose stock changed since its last push. Exit 1
    on errors."""
    result = cs.push_inventory(_sync(tenant), code, force=True)
    out().print(f"{code}: {result.pushed} listing(s) pushed, {result.failed} failed")
    if result.errors:
        _errors_out(result.errors)
        raise typer.Exit(1)


@app.command()
def reconcile(code: str = typer.Argument(..., help="Channel code."), tenant: str = TenantOpt) -> None:
    """Read every mapped listing's quantity back from the channel, show where it differs from
    ours (the drift) and correct it. Exit 1 on errors."""
    result = cs.reconcile(_sync(tenant), code)
    console = out()
    if result.drift:
        table = Table("listing", "SKU", "channel shows", "ours", title="drift")
        for d in result.drift:
            table.add_row(
                d["listing_id"], d["sku"] or "", "-" if d["channel"] is None else str(d["channel"]), str(d["ours"])
            )
        console.print(table)
    console.print(
        f"{code}: {result.checked} listing(s) checked, {len(result.drift)} drifted, {result.corrected} corrected"
    )
    if result.errors:
        _errors_out(result.errors)
        raise typer.Exit(1)


# -- credentials ------------------------------------------------------------------------------------


@app.command()
def credentials(
    code: str = typer.Argument(..., help="Channel code."),
    pairs: list[str] = typer.Argument(
        ..., metavar="KEY=VALUE...", help="Secrets, e.g. access_token=… webhook_secret=…; a KEY alone is prompted for."
    ),
    tenant: str = TenantOpt,
) -> None:
    """Seal and keep a channel's secrets, replacing the ones kept before. The values are never
    printed (nor audited); give a KEY without =VALUE to type it at a hidden prompt instead of
    leaving it in the shell's history."""
    secrets = read_secrets(pairs)
    container = state().container()
    with tenant_uow(tenant) as uow:
        cs.set_credentials(uow, container.connections, code, secrets)
    out().print(f"{code}: credentials sealed ({', '.join(sorted(secrets))})")


# -- listings ---------------------------------------------------------------------------------------


@listings_app.command("import")
def listings_import(
    code: str = typer.Argument(..., help="Channel code."),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV file of listings."),
    tenant: str = TenantOpt,
) -> None:
    """Add or change listings from a CSV file: listing_id, sku, seller_sku, active, and any other
    column kept as an attribute (inventory_item_id, parent_id, asin, product_type, fsn …).

    Bad rows are reported by row and column and the good ones are saved. Exit 1 if any row failed.
    """
    with tenant_uow(tenant, write=False) as uow:
        cs.channel_or_404(uow, code)
    created = updated = done = 0
    problems: list[RowError] = []
    with file.open("rb") as raw, closing(_listing_batches(raw)) as batches:
        for batch in batches:
            with tenant_uow(tenant) as uow:  # each batch saved on its own: memory stays flat
                result = cs.import_listings(uow, code, batch)
            created += result.created
            updated += result.updated
            # the service numbers a batch's rows from 2 (after the header): make them the file's
            problems += [RowError(e["row"] + done, e["field"], e["message"]) for e in result.errors]
            done += len(batch)
    rejected = len({p.line for p in problems})
    out().print(f"{file}: {done} listing row(s) for {code}: {created} created, {updated} updated, {rejected} rejected")
    if problems:
        report(ImportRejected(f"{rejected} row(s) have problems; the other rows were saved", problems))
        raise typer.Exit(1)


def _listing_batches(raw: IO[bytes]) -> Generator[list[dict[str, str]], None, None]:
    """The file's rows, LISTING_BATCH at a time, read as they are needed."""
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames
        if not header or "listing_id" not in [h.strip() for h in header]:
            fail("the CSV needs a header row with a listing_id column")
        batch: list[dict[str, str]] = []
        for row in reader:
            batch.append({(k or "").strip(): v for k, v in row.items() if k})
            if len(batch) >= LISTING_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch
    except UnicodeDecodeError:
        fail(f"the CSV must be UTF-8 encoded (line {reader.line_num + 1}); the rows before it were saved")
    except csv.Error as e:
        fail(f"the CSV cannot be read at line {reader.line_num}: {e}; the rows before it were saved")
    finally:
        text.detach()


@listings_app.command("list")
def listings_list(
    code: str = typer.Argument(..., help="Channel code."),
    tenant: str = TenantOpt,
    limit: int = typer.Option(100, help="How many listings."),
    after: int = typer.Option(0, help="Continue after this listing row (from the previous page)."),
    as_json: bool = typer.Option(False, "--json", help="Print every term of available-to-sell as JSON."),
) -> None:
    """Each listing with its available-to-sell and how it was worked out."""
    with tenant_uow(tenant, write=False) as uow:
        views = cs.list_listings(uow, code, after_id=after, limit=limit)
    if as_json:
        out().print_json(json.dumps([v.as_dict() for v in views], default=str))
        return
    table = Table("listing", "SKU", "seller SKU", "active", "ATS", "pushed", "channel", "explanation")
    for v in views:
        d = v.as_dict()
        pushed = "" if d["pushed_quantity"] is None else str(d["pushed_quantity"])
        if d["pending_push"]:
            pushed += " (due)"
        if d["push_error"]:
            pushed += f" error: {d['push_error']}"
        table.add_row(
            d["listing_id"],
            d["sku"] or "",
            d["seller_sku"] or "",
            "yes" if d["active"] else "no",
            "-" if v.ats is None else str(v.ats.quantity),
            pushed.strip(),
            "" if d["channel_quantity"] is None else str(d["channel_quantity"]),
            d["explanation"],
        )
    out().print(table)


# -- inbox ------------------------------------------------------------------------------------------


@app.command()
def inbox(
    tenant: str = TenantOpt,
    state_: str | None = typer.Option(
        None, "--state", help="received, processing, processed, failed or rejected.", show_default=False
    ),
    channel: str | None = typer.Option(None, "--channel", help="Channel code."),
    limit: int = typer.Option(50, help="How many, newest first."),
) -> None:
    """What channels sent (webhooks and pulled pages), newest first; failed and rejected items
    keep their error. Retry one with 'ordermesh channels retry ITEM_ID'."""
    with tenant_uow(tenant, write=False) as uow:
        items = cs.inbox(uow, channel=channel, state=state_, limit=limit)
        codes = {c.id: c.spec.code for c in uow.all_channels()}
    if not items:
        out().print("no inbox items" + (f" in state {state_}" if state_ else ""))
        return
    table = Table("id", "channel", "source", "topic", "state", "attempts", "received", "error")
    for r in items:
        table.add_row(
            str(r.id),
            codes.get(r.channel_id, "?"),
            r.source,
            r.topic or "",
            r.state,
            str(r.attempts),
            _when(r.received_at),
            r.error or "",
        )
    out().print(table)


@app.command()
def retry(item_id: int = typer.Argument(..., min=1, help="Inbox item id."), tenant: str = TenantOpt) -> None:
    """Process a failed inbox item again (or a rejected one, once the webhook secret is right).
    Exit 1 if it fails again."""
    sync = _sync(tenant)
    with tenant_uow(tenant) as uow:
        error = cs.retry_item(sync, uow, item_id)
    if error:
        fail(f"inbox item {item_id} failed again: {error}")
    out().print(f"inbox item {item_id}: processed")


# -- orders import --profile ------------------------------------------------------------------------


def _profile(value: str) -> Profile:
    """A built-in profile by name, or a JSON profile from a file (or given inline)."""
    path = Path(value)
    try:
        if value.strip().startswith("{") or not path.is_file():
            return load_profile(value)
        return load_profile(path.read_bytes())
    except ProfileError as e:
        fail(f"profile {value}: {e}")
    except (OSError, UnicodeDecodeError) as e:
        fail(f"profile {value} cannot be read: {e}")


def import_report(
    file: Path, tenant: str, profile_name: str, channel: str | None, *, dry_run: bool, as_json: bool
) -> None:
    """``ordermesh orders import FILE --profile P --channel C``: a marketplace report read through
    a profile, one order at a time, each applied as the channel's own order would be (listings map
    its SKUs, its statuses apply). Bad rows and bad orders are reported; the good ones are kept."""
    if not channel:
        raise typer.BadParameter("is required with --profile", param_hint="--channel")
    profile = _profile(profile_name)
    sync = _sync(tenant)
    with sync.unit(write=False) as uow:
        record = cs.channel_or_404(uow, channel)
    counts = {"created": 0, "updated": 0, "unchanged": 0, "cancelled": 0, "waiting": 0}
    problems: list[RowError] = []
    failed_orders = 0
    console = err()
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
        task = bar.add_task(("checking " if dry_run else "importing ") + file.name, total=file.stat().st_size, rows=0)
        try:
            result = parse_report(source, profile)
        except ChannelError as e:  # the header lacks a column the profile needs
            fail(f"{file}: {e}")
        for order in result:
            if not dry_run:
                try:
                    counts[cs.apply_channel_order(sync, record, order)] += 1
                except DomainError as e:
                    failed_orders += 1
                    problems += _order_problems(profile, order.external_id, order.extra.get("rows") or [0], e)
            bar.update(task, completed=source.tell(), rows=result.rows)
    problems += [RowError(e.row, e.column or "row", e.message) for e in result.errors]
    problems.sort(key=lambda p: (p.line, p.column))
    rejected = result.rejected_orders + failed_orders
    more = result.error_count - len(result.errors)
    summary = {
        "profile": profile.name,
        "channel": channel,
        "dry_run": dry_run,
        "rows": result.rows,
        "skipped_rows": result.skipped_rows,
        "orders": result.orders + result.rejected_orders,
        **counts,
        "rejected_orders": rejected,
        "errors": [{"line": p.line, "column": p.column, "message": p.message} for p in problems],
        "more_errors": more,
    }
    if as_json:
        out().print_json(json.dumps(summary))
    else:
        where = f"{file}: {summary['orders']} orders in {result.rows} rows (tenant {tenant}, channel {channel}, profile {profile.name})"
        if dry_run:
            line = f"{where}, dry run, read only, nothing written: {result.orders} readable, {rejected} rejected"
        else:
            done = ", ".join(f"{n} {word}" for word, n in counts.items())
            line = f"{where}: {done}, {rejected} rejected"
        out().print(line)
        if result.skipped_rows:
            out().print(f"skipped rows: {result.skipped_rows} (the profile's skip_values)")
    if problems:
        if not as_json:
            detail = f"{rejected} order(s) rejected; {len({p.line for p in problems})} row(s) have problems"
            if more:
                detail += f" (and {more} more problem(s) not listed)"
            report(ImportRejected(detail, problems))
        raise typer.Exit(1)


def _order_problems(profile: Profile, external_id: str, rows: list[int], e: DomainError) -> list[RowError]:
    """Intake's objections to an order, at the order's first row, under the report's column names
    where the field has one (``lines.0.quantity`` -> ``quantity-purchased``)."""
    first = int(rows[0]) if rows else 0

    def column(field: str | None) -> str:
        if not field:
            return "order"
        names = profile.columns.get(field.rsplit(".", 1)[-1])
        return names[0] if names else field

    if e.errors:
        return [RowError(first, column(fe.field), f"order {external_id}: {fe.message}") for fe in e.errors]
    return [RowError(first, column(e.field), f"order {external_id}: {e.detail}")]
