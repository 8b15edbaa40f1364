"""Inventory: find a SKU, see its stock where the user may look, read its ledger, post a movement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from ordermesh.adapters.db.repositories import LocationRecord, SkuRecord
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.domain.access import Permission
from ordermesh.domain.errors import DomainError, Forbidden, NotFound
from ordermesh.domain.inventory import is_low
from ordermesh.services import catalog, inventory, locations
from ordermesh.services.inventory import Applied, SkuStock
from ordermesh.services.platform import Principal
from ordermesh.web.frame import PrincipalDep, WebRoute, format_quantity, page_uow, render
from ordermesh.web.session import flash

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE_SIZE = 50
LEDGER_SIZE = 25


@dataclass(frozen=True)
class Kind:
    value: str
    label: str
    hint: str


# What a person may post from the dashboard, in the order the form offers them.
KINDS = [
    Kind("receipt", "Receipt", "Units received into the location."),
    Kind("adjustment", "Adjustment", "A signed correction: -3 removes three units. Needs a reason."),
    Kind("count", "Count", "Sets on hand to the quantity you counted."),
    Kind("transfer", "Transfer", "Moves units from the location to another."),
    Kind("quarantine", "Quarantine", "Sets units aside as unsellable."),
    Kind("unquarantine", "Release from quarantine", "Makes quarantined units sellable again."),
    Kind("write_off", "Write-off", "Removes quarantined units for good."),
]
FORM_FIELDS = ("kind", "location", "quantity", "to_location", "reason", "reference")


def stock_status(available: int, low_stock_threshold: int | None) -> tuple[str, str]:
    """A chip for a quantity available: its words and its tone."""
    if available <= 0:
        return "out of stock", "bad"
    if is_low(available, low_stock_threshold):
        return "low", "warn"
    return "in stock", "good"


@dataclass(frozen=True)
class StockRow:
    sku: SkuRecord
    stock: SkuStock

    @property
    def status(self) -> tuple[str, str]:
        if not self.sku.spec.active:
            return "inactive", "muted"
        if any(is_low(s.balance.available, s.low_stock_threshold) for s in self.stock.locations):
            return ("low", "warn") if self.stock.available > 0 else ("out of stock", "bad")
        return stock_status(self.stock.available, None)


@router.get("/inventory")
def inventory_list(request: Request, principal: PrincipalDep, q: str = "", cursor: str = "") -> Response:
    query = q.strip()
    with page_uow(request, principal) as uow:
        page = catalog.search_skus(uow, query=query or None, cursor=cursor or None, limit=PAGE_SIZE)
        stocks = inventory.stock_for_skus(uow, [r.spec.code for r in page.items])
        rows = [StockRow(r, stocks[r.spec.code]) for r in page.items]
    if query and not cursor and len(rows) == 1 and query in (rows[0].sku.spec.code, *rows[0].sku.spec.barcodes):
        # A scanned barcode or an exact code goes straight to the SKU.
        return RedirectResponse(f"/inventory/{quote(rows[0].sku.spec.code)}", status_code=303)
    return render(
        request,
        "inventory/list.html",
        {"active": "inventory", "q": query, "rows": rows, "next_cursor": page.next_cursor, "paged": bool(cursor)},
    )


@router.get("/inventory/{sku}")
def sku_page(request: Request, principal: PrincipalDep, sku: str, location: str = "", cursor: str = "") -> Response:
    view = _sku_view(request, principal, sku, location=location or None, cursor=cursor or None)
    return render(request, "inventory/sku.html", view)


@router.post("/inventory/{sku}/movements")
def post_movement(
    request: Request,
    principal: PrincipalDep,
    sku: str,
    kind: Annotated[str, Form()] = "",
    location: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "",
    to_location: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    reference: Annotated[str, Form()] = "",
) -> Response:
    form = {
        "kind": kind,
        "location": location,
        "quantity": quantity,
        "to_location": to_location,
        "reason": reason,
        "reference": reference,
    }
    try:
        with page_uow(request, principal, write=True) as uow:
            applied = inventory.record_movement(
                uow,
                sku=sku,
                location=location,
                kind=kind,
                quantity=_whole_number(quantity),
                reason=reason.strip() or None,
                to_location=to_location or None,
                reference=reference.strip() or None,
            )
    except DomainError as exc:
        if isinstance(exc, Forbidden) or (isinstance(exc, NotFound) and exc.field == "sku"):
            raise
        field_errors = {e.field: e.message for e in exc.errors if e.field in FORM_FIELDS}
        view = _sku_view(request, principal, sku, location=None, cursor=None)
        view.update(form=form, errors=field_errors, form_error=None if field_errors else exc.detail)
        return render(request, "inventory/sku.html", view, status=exc.status)
    flash(request, describe(applied))
    return RedirectResponse(f"/inventory/{quote(sku)}", status_code=303)


def _sku_view(
    request: Request, principal: Principal, sku: str, *, location: str | None, cursor: str | None
) -> dict[str, Any]:
    with page_uow(request, principal) as uow:
        record = catalog.get_sku(uow, sku)
        stock = inventory.stock_for_sku(uow, sku)
        components = [(c, inventory.stock_for_sku(uow, c.sku)) for c in stock.components]
        ledger = (
            None
            if record.spec.is_bundle
            else inventory.ledger_page(uow, sku=sku, location=location, cursor=cursor, limit=LEDGER_SIZE)
        )
        places = _visible_locations(uow)
    can_move = principal.actor.can(Permission.INVENTORY_WRITE) and not record.spec.is_bundle
    return {
        "active": "inventory",
        "sku": record,
        "stock": stock,
        "components": components,
        "ledger": ledger,
        "ledger_location": location or "",
        "ledger_paged": bool(cursor),
        "places": places,
        "place_names": {p.spec.code: p.spec.name for p in places},
        "can_move": can_move,
        "kinds": KINDS,
        "status_of": stock_status,
        "form": {name: "" for name in FORM_FIELDS} | {"kind": "receipt"},
        "errors": {},
        "form_error": None,
    }


def _visible_locations(uow: UnitOfWork) -> list[LocationRecord]:
    return locations.list_locations(uow, cursor=None, limit=200).items


def _whole_number(text: str) -> object:
    """'12', '+5', '-3' (or with a typographic minus sign) as an int; anything else is passed on for
    the service to reject."""
    cleaned = text.strip().replace("\u2212", "-").replace(",", "")
    try:
        return int(cleaned)
    except ValueError:
        return text


def describe(applied: list[Applied]) -> str:
    first = applied[0].change
    label = next((k.label for k in KINDS if k.value == first.kind.value), first.kind.value)
    if len(applied) == 2 and {a.change.kind.value for a in applied} == {"transfer_out", "transfer_in"}:
        out = next(a for a in applied if a.change.kind.value == "transfer_out")
        into = next(a for a in applied if a.change.kind.value == "transfer_in")
        return (
            f"Transferred {format_quantity(out.change.quantity)} of {first.sku} from {out.change.location} "
            f"to {into.change.location}."
        )
    a = applied[0]
    changes = [f"on hand {format_quantity(a.before.on_hand)} \u2192 {format_quantity(a.after.on_hand)}"]
    if a.before.quarantined != a.after.quarantined:
        changes.append(
            f"quarantined {format_quantity(a.before.quarantined)} \u2192 {format_quantity(a.after.quarantined)}"
        )
    return f"{label} posted for {first.sku} at {first.location}: {', '.join(changes)}."
