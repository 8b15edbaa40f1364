"""``ordermesh carriers`` and ``ordermesh shipping``: carrier accounts, and shipments from the
command line — create them from an allocated order, the wave pick list of a location, scan and
pack, book with the best carrier (and see what it beat), labels and invoices as PDF files, the
day's manifest, tracking polled now, and the NDR queue with its decisions.

Every command works through the services and the container's carrier connections, as the API and
the worker do, so what a command does is what they would do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ordermesh.adapters.remote import RemoteError
from ordermesh.cli import channels
from ordermesh.cli.common import cli_actor, err, fail, out, read_secrets, state, tenant_uow
from ordermesh.domain.access import Permission
from ordermesh.domain.errors import NotFound
from ordermesh.domain.shipping import PickLine, wave_pick_lists
from ordermesh.services import shipping
from ordermesh.services.channel_sync import Sync
from ordermesh.services.common import require

carriers_app = typer.Typer(help="Carrier accounts: add them, their credentials, list them.", no_args_is_help=True)
app = typer.Typer(
    help="Shipments: create, pick, scan, pack, book, labels, manifests, tracking and NDRs.", no_args_is_help=True
)

TenantOpt = typer.Option(..., "--tenant", "-t", help="Tenant code.")
ShipmentArg = typer.Argument(..., min=1, help="Shipment id (the number SH0000012 is shipment 12).")


def _sync(tenant: str) -> Sync:
    """Shipping calls for the tenant, acting as the person at the terminal (checks the schema is
    current and the tenant exists)."""
    with tenant_uow(tenant, write=False) as uow:
        tenant_id = uow.tenant_id
    assert tenant_id is not None
    container = state().container()
    return Sync(partial(container.uow, actor=cli_actor()), container.connections, tenant_id)


@contextmanager
def _carrier_call(who: str) -> Iterator[None]:
    """A carrier that refused or could not be reached: a plain message and exit 1."""
    try:
        yield
    except RemoteError as e:
        fail(f"{who}: {e}")


def _write(path: Path, content: bytes, what: str) -> None:
    try:
        path.write_bytes(content)
    except OSError as e:
        fail(f"the {what} cannot be written to {path}: {e.strerror or e}")
    out().print(f"{what} written to {path} ({len(content)} bytes)")


def _number(shipment_id: int) -> str:
    return shipping.shipment_number(shipment_id)


# -- carriers ---------------------------------------------------------------------------------------


@carriers_app.command("add")
def carriers_add(
    code: str = typer.Argument(..., help="Carrier code, e.g. shiprocket or city-fleet."),
    tenant: str = TenantOpt,
    kind: str = typer.Option(..., "--kind", help=f"{', '.join(shipping.CARRIER_KINDS)}."),
    name: str = typer.Option(..., "--name", help="What people call it."),
    base_url: str | None = typer.Option(None, "--base-url", help="The carrier's API address (https://…)."),
    setting: list[str] | None = typer.Option(
        None, "--setting", metavar="KEY=VALUE", help="A setting (docs/carriers/<kind>.md); repeat."
    ),
    tariff: Path | None = typer.Option(
        None, "--tariff", metavar="FILE.json", dir_okay=False, help="For a rate_card carrier: its tariff as JSON."
    ),
    inactive: bool = typer.Option(False, "--inactive", help="Add it switched off."),
) -> None:
    """Add a carrier account. Values of --setting are JSON scalars when they look like one (8,
    true, null); text otherwise. Set its secrets with 'ordermesh carriers credentials'."""
    settings = channels._pairs(setting, "--setting")
    if tariff is not None:
        if kind != "rate_card":
            fail("--tariff is for a rate_card carrier")
        try:
            settings["tariff"] = json.loads(tariff.read_bytes())
        except OSError as e:
            fail(f"the tariff {tariff} cannot be read: {e.strerror or e}")
        except ValueError as e:
            fail(f"the tariff {tariff} is not JSON: {e}")
    raw: dict[str, Any] = {"code": code, "kind": kind, "name": name, "settings": settings, "active": not inactive}
    if base_url:
        raw["base_url"] = base_url
    container = state().container()
    with tenant_uow(tenant) as uow:
        row = shipping.create_carrier(uow, raw, container.connections.vault.seal)
    console = out()
    console.print(f"{row.code}: added ({row.kind}, {row.name}{'' if row.active else ', inactive'})")
    console.print(f"  base URL: {row.base_url or '-'}")
    console.print(f"  settings: {', '.join(sorted(row.settings)) or '-'}")
    if row.kind != "rate_card":
        console.print(f"  credentials: not set; run 'ordermesh carriers credentials {row.code} KEY=VALUE …'")


@carriers_app.command("credentials")
def carriers_credentials(
    code: str = typer.Argument(..., help="Carrier code."),
    pairs: list[str] = typer.Argument(
        ..., metavar="KEY=VALUE...", help="Secrets, e.g. email=… password=…; a KEY alone is prompted for."
    ),
    tenant: str = TenantOpt,
) -> None:
    """Seal and keep a carrier's secrets, replacing the ones kept before. The values are never
    printed (nor audited); give a KEY without =VALUE to type it at a hidden prompt instead of
    leaving it in the shell's history."""
    secrets = read_secrets(pairs)
    container = state().container()
    with tenant_uow(tenant) as uow:
        shipping.set_carrier_credentials(uow, code, secrets, container.connections.vault.seal)
    out().print(f"{code}: credentials sealed ({', '.join(sorted(secrets))})")


@carriers_app.command("list")
def carriers_list(tenant: str = TenantOpt) -> None:
    """Every carrier account: code, kind, name, whether it is active, its base URL, whether its
    credentials are set (their values are never shown) and its settings."""
    with tenant_uow(tenant, write=False) as uow:
        rows = shipping.list_carriers(uow)
    table = Table("code", "kind", "name", "active", "base URL", "credentials", "settings")
    for r in rows:
        table.add_row(
            r.code,
            r.kind,
            r.name,
            "yes" if r.active else "no",
            r.base_url or "",
            "set" if r.credentials else "not set",
            ", ".join(sorted(r.settings)),
        )
    out().print(table)


# -- shipments: create, pick, scan, pack --------------------------------------------------------------


@app.command("create")
def create(order_id: int = typer.Argument(..., min=1, help="Order id."), tenant: str = TenantOpt) -> None:
    """One shipment per location for the order's allocated units not yet in a shipment."""
    with tenant_uow(tenant) as uow:
        created = shipping.create_shipments(uow, order_id)
    with tenant_uow(tenant, write=False) as uow:
        views = [shipping.get_shipment(uow, shipment_id) for shipment_id in created]
    table = Table("id", "shipment", "location", "units", "lines", "COD")
    for v in views:
        table.add_row(
            str(v.row.id),
            _number(v.row.id),
            v.location,
            str(sum(x.quantity for x in v.lines)),
            ", ".join(f"{x.sku} × {x.quantity}" for x in v.lines),
            str(v.row.cod_amount) if v.row.payment_method == "cod" else "-",
        )
    console = out()
    console.print(f"order {order_id}: {len(views)} shipment(s) created")
    console.print(table)


@app.command("pick")
def pick(
    tenant: str = TenantOpt,
    location: str = typer.Option(..., "--location", "-l", help="Location code."),
    limit: int = typer.Option(500, min=1, help="At most this many shipments, oldest first."),
) -> None:
    """The wave pick list of a location: every unit of its created shipments still to pick,
    grouped by SKU, with the total and the orders each row serves."""
    with tenant_uow(tenant, write=False) as uow:
        require(uow.actor, Permission.SHIPPING_READ)
        found = next((x for x in uow.all_locations() if x.spec.code == location), None)
        if found is None or not uow.actor.sees_location(location):
            raise NotFound(f"location '{location}' not found", field="location")
        rows = list(reversed(shipping.repo(uow).page(status="created", location_id=found.id, limit=limit)))
        lines = [
            PickLine(f"OM{r.order_id:07d}", x.sku, x.quantity - x.packed, location)
            for r in rows
            for x in shipping.repo(uow).lines(r.id)
            if x.quantity > x.packed
        ]
    console = out()
    picks = wave_pick_lists(lines).get(location, [])
    if not picks:
        console.print(f"{location}: nothing to pick")
        return
    units = sum(p.quantity for p in picks)
    console.print(f"{location}: pick list for {len(rows)} shipment(s), {units} unit(s)")
    table = Table("SKU", "quantity", "orders")
    for p in picks:
        table.add_row(p.sku, str(p.quantity), ", ".join(f"{o} × {q}" for o, q in p.orders))
    console.print(table)


@app.command("scan")
def scan(
    shipment_id: int = ShipmentArg,
    barcodes: list[str] = typer.Argument(..., metavar="BARCODE...", help="What the scanner read, in order."),
    tenant: str = TenantOpt,
) -> None:
    """Scan units into the box, one barcode (or SKU) at a time. A barcode that is not in the
    shipment, or of a line already complete, is refused with the reason; exit 1 if any was."""
    console = out()
    refused = 0
    result = None
    for code in barcodes:
        with tenant_uow(tenant) as uow:
            result = shipping.scan(uow, shipment_id, code)
        if result.accepted:
            console.print(f"{code}: ok, {result.message}")
        else:
            refused += 1
            console.print(f"{code}: refused, {result.message}")
    assert result is not None
    if result.complete:
        console.print(f"{_number(shipment_id)}: every unit scanned; pack it")
    else:
        console.print(f"{_number(shipment_id)}: still to scan: {result.remaining}")
    if refused:
        fail(f"{refused} of {len(barcodes)} scan(s) refused")


_DIMS = re.compile(r"\s*([0-9.]+)\s*[xX×*]\s*([0-9.]+)\s*[xX×*]\s*([0-9.]+)\s*")


def _dimensions(text: str) -> tuple[Decimal, Decimal, Decimal]:
    match = _DIMS.fullmatch(text)
    try:
        if match is None:
            raise InvalidOperation
        length, breadth, height = (Decimal(g) for g in match.groups())
    except InvalidOperation:
        raise typer.BadParameter(f"'{text}' should be LxBxH in cm, e.g. 30x20x10", param_hint="--dims") from None
    return length, breadth, height


@app.command("pack")
def pack(
    shipment_id: int = ShipmentArg,
    tenant: str = TenantOpt,
    weight: int = typer.Option(..., "--weight", metavar="GRAMS", help="The closed box's weight in grams."),
    dims: str | None = typer.Option(None, "--dims", metavar="LxBxH", help="Outer dimensions in cm, e.g. 30x20x10."),
    box: str | None = typer.Option(None, "--box", metavar="NAME", help="A box preset (the tenant's shipping.boxes)."),
) -> None:
    """Close the box once every unit is scanned: its weight, and its dimensions or a box preset.
    The GST tax invoice that goes in the box is issued now."""
    if (dims is None) == (box is None):
        fail("give the box's --dims LxBxH or a --box preset (one of them)")
    dimensions = _dimensions(dims) if dims is not None else None
    with tenant_uow(tenant) as uow:
        view = shipping.pack(uow, shipment_id, weight_g=weight, dimensions_cm=dimensions, box=box)
    r = view.row
    out().print(
        f"{_number(shipment_id)}: packed, {r.length_cm}×{r.breadth_cm}×{r.height_cm} cm"
        + (f" ({r.box})" if r.box else "")
        + f", dead {r.dead_weight_g} g, volumetric {r.volumetric_weight_g} g, chargeable {r.chargeable_weight_g} g;"
        f" invoice {r.invoice_number}"
    )


# -- booking, documents, manifests ----------------------------------------------------------------------


@app.command("book")
def book(
    shipment_id: int = ShipmentArg,
    tenant: str = TenantOpt,
    carrier: str | None = typer.Option(None, "--carrier", "-c", help="Only this carrier (default: every active one)."),
) -> None:
    """Quote every eligible carrier, book the one the tenant's rules choose, and make the label.
    Prints the carrier, the AWB, and every quote with the sentence saying why it won or lost."""
    with _carrier_call(carrier or "booking"):
        booked = shipping.book(_sync(tenant), shipment_id, carrier=carrier)
    choice = booked.choice
    console = out()
    console.print(f"{_number(shipment_id)}: booked with {booked.carrier} ({choice.get('chosen')}), AWB {booked.awb}")
    console.print(f"  {choice.get('summary', '')}")
    table = Table("carrier", "service", "price", "days", "verdict", "why")
    for o in choice.get("outcomes") or []:
        table.add_row(
            o["carrier"],
            o["service_name"] or o["service"],
            o["price"],
            "-" if o["days"] is None else str(o["days"]),
            o["verdict"],
            o["sentence"],
        )
    console.print(table)


DocOut = typer.Option(..., "--output", "-o", metavar="FILE.pdf", dir_okay=False, help="Where to write the PDF.")


@app.command("label")
def label(
    shipment_id: int = ShipmentArg,
    tenant: str = TenantOpt,
    output: Path = DocOut,
    carrier_label: bool = typer.Option(False, "--carrier-label", help="The carrier's own label, where it made one."),
) -> None:
    """The shipment's 4×6 label (ours, with the AWB's barcode) as a PDF file."""
    kind = "carrier_label" if carrier_label else "label"
    with tenant_uow(tenant, write=False) as uow:
        content = shipping.document(uow, kind, shipment_id)
    _write(output, content, f"{_number(shipment_id)} {kind.replace('_', ' ')}")


@app.command("invoice")
def invoice(shipment_id: int = ShipmentArg, tenant: str = TenantOpt, output: Path = DocOut) -> None:
    """The GST tax invoice issued when the shipment was packed, as a PDF file."""
    with tenant_uow(tenant, write=False) as uow:
        content = shipping.document(uow, "invoice", shipment_id)
    _write(output, content, f"{_number(shipment_id)} invoice")


_CUTOFF = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"'{text}' should be a date, YYYY-MM-DD", param_hint=option) from None


@app.command("manifest")
def manifest(
    tenant: str = TenantOpt,
    carrier: str = typer.Option(..., "--carrier", "-c", help="Carrier code."),
    location: str = typer.Option(..., "--location", "-l", help="Location code."),
    pickup_date: str | None = typer.Option(None, "--date", metavar="YYYY-MM-DD", help="Pickup date (default: today)."),
    cutoff: str | None = typer.Option(
        None, "--cutoff", metavar="HH:MM", help="The carrier's pickup cut-off (IST); no pickup scan by then: an alert."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", metavar="FILE.pdf", dir_okay=False, help="Write the PDF."
    ),
) -> None:
    """Close the day's batch for a carrier at a location: every booked shipment goes on one
    manifest, and a pickup is requested. Exit 1 if the pickup request failed (the manifest stands,
    and an alert is open)."""
    if cutoff is not None and not _CUTOFF.fullmatch(cutoff):
        raise typer.BadParameter(f"'{cutoff}' should be a time, HH:MM", param_hint="--cutoff")
    on = _date(pickup_date, "--date") or datetime.now(shipping.IST).date()
    result = shipping.manifest(_sync(tenant), carrier, location, on, cutoff=cutoff)
    number = f"MF{result.manifest_id:07d}"
    console = out()
    console.print(f"{number}: {result.shipments} shipment(s) for {carrier} at {location}, pickup {on.isoformat()}")
    if output is not None:
        with tenant_uow(tenant, write=False) as uow:
            content = shipping.document(uow, "manifest", result.manifest_id)
        _write(output, content, f"{number} manifest")
    if result.pickup_error:
        fail(f"pickup request to {carrier} failed: {result.pickup_error} (the manifest stands; an alert is open)")
    console.print(f"pickup requested: {result.pickup_reference}")


# -- tracking, NDR, estimates ---------------------------------------------------------------------------


@app.command("track")
def track(
    tenant: str = TenantOpt,
    carrier: str | None = typer.Option(None, "--carrier", "-c", help="Only this carrier."),
) -> None:
    """Poll now: ask every active carrier with a tracking API (or only --carrier) for its moving
    shipments' scans, as the worker does every ORDERMESH_TRACKING_POLL_MINUTES. Exit 1 on errors."""
    sync = _sync(tenant)
    with sync.unit(write=False) as uow:
        rows = shipping.list_carriers(uow)
    if carrier is not None:
        rows = [r for r in rows if r.code == carrier]
        if not rows:
            raise NotFound(f"carrier '{carrier}' not found", field="carrier")
        if rows[0].kind == "rate_card":
            fail(f"{carrier} is a rate-card carrier with no tracking API; its scans are entered in ordermesh")
    else:
        rows = [r for r in rows if r.active and r.kind != "rate_card"]
    console = out()
    if not rows:
        console.print("no carrier with a tracking API")
        return
    errors = []
    for row in rows:
        try:
            result = shipping.poll_tracking(sync, row.code)
        except RemoteError as e:
            errors.append(f"{row.code}: {e}")
            continue
        line = f"{row.code}: {result.recorded} new scan(s), {result.changed} shipment(s) moved"
        if result.unknown:
            line += f"; AWBs not ours: {', '.join(sorted(set(result.unknown)))}"
        console.print(line)
    if errors:
        problems = err()
        for problem in errors:
            problems.print(f"error: {problem}")
        raise typer.Exit(1)


@app.command("ndr")
def ndr(tenant: str = TenantOpt) -> None:
    """The NDR queue: shipments whose last delivery attempt failed, oldest first, with the reason.
    Decide with 'ordermesh shipping ndr-action'."""
    with tenant_uow(tenant, write=False) as uow:
        rows = shipping.ndr_queue(uow)
    if not rows:
        out().print("no failed deliveries waiting")
        return
    table = Table("id", "shipment", "AWB", "order", "attempts", "reason", "carrier's words", "since")
    for r in rows:
        table.add_row(
            str(r["shipment_id"]),
            r["number"],
            r["awb"] or "",
            f"OM{r['order_id']:07d}",
            str(r["attempts"]),
            r["reason"] or "",
            r["carrier_words"] or "",
            f"{r['since']:%Y-%m-%d %H:%M}" if r["since"] else "",
        )
    out().print(table)


NDR_ACTIONS = ("reattempt", "update_address", "rto")


@app.command("ndr-action")
def ndr_action(
    shipment_id: int = ShipmentArg,
    action: str = typer.Argument(..., metavar="ACTION", help="reattempt, update_address or rto."),
    tenant: str = TenantOpt,
    on: str | None = typer.Option(None, "--on", metavar="YYYY-MM-DD", help="For reattempt: the day to try again."),
    phone: str | None = typer.Option(None, "--phone", help="For update_address: the buyer's new phone."),
    comment: str | None = typer.Option(None, "--comment", help="For the carrier, e.g. 'call before'."),
) -> None:
    """Decide on a failed delivery and tell the carrier: re-attempt (on a day), update the phone,
    or return to origin."""
    if action not in NDR_ACTIONS:
        raise typer.BadParameter(f"'{action}' is not one of {', '.join(NDR_ACTIONS)}", param_hint="ACTION")
    if action == "update_address" and not phone:
        fail("update_address needs the new --phone")
    reattempt_on = _date(on, "--on")
    with _carrier_call(f"NDR action on {_number(shipment_id)}"):
        done = shipping.ndr_action(
            _sync(tenant), shipment_id, action, reattempt_on=reattempt_on, phone=phone, comment=comment
        )
    when = f" on {reattempt_on.isoformat()}" if reattempt_on else ""
    out().print(f"{_number(shipment_id)}: {done.replace('_', ' ')}{when} sent to the carrier")


@app.command("estimates")
def estimates(tenant: str = TenantOpt) -> None:
    """How good the delivery estimates were: per carrier, delivered shipments that arrived within
    a day of their estimate, early and late."""
    with tenant_uow(tenant, write=False) as uow:
        rows = shipping.estimate_accuracy(uow)
    if not rows:
        out().print("no delivered shipments with an estimate yet")
        return
    table = Table("carrier", "delivered", "within a day", "early", "late", "share")
    for r in rows:
        share = f"{Decimal(r['share']) * 100:.1f}%"
        table.add_row(
            r["carrier"], str(r["delivered"]), str(r["within_one_day"]), str(r["early"]), str(r["late"]), share
        )
    out().print(table)


@app.command("settings")
def settings(
    section: str = typer.Argument(..., metavar="SECTION", help="shipping or invoices."),
    tenant: str = TenantOpt,
    new: Path | None = typer.Option(
        None,
        "--set",
        metavar="FILE.json",
        dir_okay=False,
        help="Replace the section with this JSON object (every field is checked first).",
    ),
) -> None:
    """Show the tenant's shipping or invoice settings as JSON, or replace them from a file.

    shipping: pickup_names (location code → the name carriers know it by), boxes (presets with
    name and length/breadth/height in cm), volumetric_divisor (5000), carrier_choice (strategy,
    min_lane_shipments, overrides), ndr (max_attempts, review_reasons).
    invoices: prefix (INV), width (6), short_year (true: 2026-27), eway_bill_threshold (50000).
    The old and new settings are kept in the audit trail."""
    if section not in ("shipping", "invoices"):
        fail(f"no settings section '{section}': use shipping or invoices")
    if new is not None:
        try:
            raw = json.loads(new.read_bytes())
        except OSError as e:
            fail(f"the settings file {new} cannot be read: {e.strerror or e}")
        except ValueError as e:
            fail(f"the settings file {new} is not JSON: {e}")
        if not isinstance(raw, dict):
            fail(f"the settings file {new} must hold one JSON object, the whole {section} section")
        with tenant_uow(tenant) as uow:
            shown = shipping.set_settings(uow, section, raw)
        err().print(f"{section} settings stored")
    else:
        with tenant_uow(tenant, write=False) as uow:
            shown = shipping.get_settings(uow, section)
    print(json.dumps(shown, indent=2, ensure_ascii=False, sort_keys=True))
