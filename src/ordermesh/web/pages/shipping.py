"""Shipping for the warehouse: the shipments list (with shipments created from allocated orders),
the pack station a USB barcode scanner drives (it types the code and presses Enter), and the NDR
queue with what a person can decide about a failed delivery.

The pack station works as plain forms (each scan a POST, then the page again with the result);
``static/pack_station.js`` sends the scans with fetch instead, so a fast scanner never waits for a
page load, and keeps the focus in the scan box.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from ordermesh.adapters.remote import RemoteError
from ordermesh.domain.access import Permission
from ordermesh.domain.carrier_choice import DEFAULT_MIN_LANE_SHIPMENTS, Strategy
from ordermesh.domain.errors import DomainError, NotFound, ValidationFailed
from ordermesh.domain.ndr import DEFAULT_MAX_ATTEMPTS, DEFAULT_REVIEW_REASONS
from ordermesh.domain.shipping import MAX_DIMENSION_CM, box_presets_from_list
from ordermesh.domain.statuses import NdrReason, ShipmentStatus
from ordermesh.services import channel_sync as cs
from ordermesh.services import order_queries, shipping
from ordermesh.services.common import require
from ordermesh.services.order_queries import OrderFilter, order_number
from ordermesh.services.platform import Principal
from ordermesh.web.frame import IST, PrincipalDep, WebRoute, format_rupees, page_uow, render
from ordermesh.web.session import flash, take_flashes

router = APIRouter(route_class=WebRoute, include_in_schema=False)

ShipmentId = Annotated[int, Path(ge=1, le=2**63 - 1)]
PAGE_SIZE = 50
WAITING_LISTED = 50
MAX_WEIGHT_G = 1_000_000  # a tonne: anything heavier is a typo, not a parcel
MAX_CODE = 100  # characters of a scanned code
# SH0000012 (a shipment) or OM0000012 (an order): what the lookup and the scan box accept as "open this".
NUMBER = re.compile(r"(SH|OM)(\d{1,18})", re.IGNORECASE)
SCAN_KINDS = {"scan-good": True, "scan-bad": False}
STATUS_TONES = {
    "created": "info",
    "packed": "info",
    "ready_to_ship": "good",
    "manifested": "good",
    "picked_up": "good",
    "in_transit": "good",
    "out_for_delivery": "good",
    "delivered": "good",
    "ndr": "bad",
    "rto_initiated": "warn",
    "rto_in_transit": "warn",
    "rto_delivered": "warn",
    "lost": "bad",
    "cancelled": "muted",
}
VERDICT_TONES = {"chosen": "good", "lost": "muted", "excluded": "warn"}


def label(code: str | None) -> str:
    return (code or "").replace("_", " ")


def _clip(text: str, most: int = 300) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _sync(request: Request, principal: Principal) -> cs.Sync:
    """Carrier calls (book, NDR actions) open their own units of work, read-call-write; here each
    acts as the signed-in person, so their permissions apply and the audit names them."""
    container = request.app.state.container
    request_id = getattr(request.state, "request_id", None)

    def unit(**kwargs: Any) -> Any:
        kwargs.setdefault("actor", principal.actor)
        kwargs.setdefault("request_id", request_id)
        return container.uow(**kwargs)

    return cs.Sync(unit, container.connections, principal.tenant_id)


def _helpers() -> dict[str, Any]:
    return {
        "active": "shipping",
        "label": label,
        "status_tones": STATUS_TONES,
        "verdict_tones": VERDICT_TONES,
        "order_number": order_number,
        "rupees": lambda amount: format_rupees(Decimal(str(amount))),
    }


# ---- the shipments list ----------------------------------------------------------------------------


@router.get("/shipping")
def shipments_list(request: Request, principal: PrincipalDep, status: str = "", cursor: str = "") -> Response:
    status, cursor = status.strip(), cursor.strip()
    filter_error, code = None, 200
    if status and status not in {s.value for s in ShipmentStatus}:
        filter_error, code = f"'{_clip(status, 40)}' is not a shipment status", 422
    before = int(cursor) if cursor.isdigit() and 0 < int(cursor) < 2**63 else None
    rows: list[dict[str, Any]] = []
    next_cursor = None
    waiting: list[dict[str, Any]] = []
    with page_uow(request, principal) as uow:
        require(uow.actor, Permission.SHIPPING_READ)
        locations = {loc.id: loc.spec.code for loc in uow.all_locations()}
        carriers = {c.id: c.code for c in shipping.list_carriers(uow)}
        if filter_error is None:
            found = shipping.repo(uow).page(status=status or None, before_id=before, limit=PAGE_SIZE)
            next_cursor = str(found[-1].id) if len(found) == PAGE_SIZE else None
            for r in found:
                where = locations.get(r.location_id, "?")
                if not uow.actor.sees_location(where):
                    continue
                rows.append(
                    {
                        "id": r.id,
                        "number": shipping.shipment_number(r.id),
                        "order_id": r.order_id,
                        "location": where,
                        "status": r.status,
                        "carrier": carriers.get(r.carrier_id) if r.carrier_id else None,
                        "awb": r.awb,
                        "created_at": r.created_at,
                    }
                )
        if not cursor and principal.actor.can(Permission.ORDERS_READ):
            allocated = OrderFilter(status="allocated")
            waiting = order_queries.list_orders(uow, allocated, cursor=None, limit=WAITING_LISTED).items
    return render(
        request,
        "shipping_list.html",
        {
            **_helpers(),
            "status": status,
            "statuses": [s.value for s in ShipmentStatus],
            "filter_error": filter_error,
            "rows": rows,
            "next_cursor": next_cursor,
            "paged": bool(cursor),
            "waiting": waiting,
            "can_write": principal.actor.can(Permission.SHIPPING_WRITE),
        },
        status=code,
    )


@router.post("/shipping/create")
def create(
    request: Request,
    principal: PrincipalDep,
    order_id: Annotated[str, Form()] = "",
    then: Annotated[str, Form()] = "",
) -> Response:
    oid = int(order_id) if order_id.strip().isdigit() and 0 < int(order_id) < 2**63 else None
    if oid is None:
        raise ValidationFailed("choose an order", field="order_id")
    try:
        with page_uow(request, principal, write=True) as uow:
            created = shipping.create_shipments(uow, oid)
    except DomainError as exc:
        if exc.status in (401, 403):
            raise
        flash(request, f"No shipment for {order_number(oid)}: {_clip(exc.detail)}", "error")
        return RedirectResponse("/shipping", status_code=303)
    numbers = ", ".join(shipping.shipment_number(s) for s in created)
    flash(request, f"Created {numbers} for {order_number(oid)}.")
    if then == "pack":
        return RedirectResponse(f"/shipping/pack/{created[0]}", status_code=303)
    return RedirectResponse("/shipping", status_code=303)


# ---- the pack station --------------------------------------------------------------------------


@router.get("/shipping/pack")
def pack_lookup(request: Request, principal: PrincipalDep, q: str = "") -> Response:
    """Open a shipment by its number, or an order's shipment by the order's number."""
    query = q.strip()[:MAX_CODE]
    if not query:
        with page_uow(request, principal) as uow:
            require(uow.actor, Permission.SHIPPING_READ)
        empty = {"s": None, "query": "", "lookup_error": None, "offer": None, "can_write": False}
        return render(request, "shipping_pack.html", {**_helpers(), **empty})
    error, offer = None, None
    with page_uow(request, principal) as uow:
        require(uow.actor, Permission.SHIPPING_READ)
        match = NUMBER.fullmatch(query)
        if match is None and query.isdigit():
            match = NUMBER.fullmatch("SH" + query)
        if match is None:
            error = f"'{query}' is neither a shipment number (SH0000012) nor an order number (OM0000012)"
        elif match.group(1).upper() == "SH":
            shipment_id = int(match.group(2))
            try:
                shipping.get_shipment(uow, shipment_id)
            except NotFound:
                error = f"There is no shipment {shipping.shipment_number(shipment_id)}"
            else:
                return RedirectResponse(f"/shipping/pack/{shipment_id}", status_code=303)
        else:
            oid = int(match.group(2))
            found = _shipment_for_order(uow, oid)
            if found is not None:
                return RedirectResponse(f"/shipping/pack/{found}", status_code=303)
            row = uow.orders.get(oid) if oid < 2**63 else None
            if row is None:
                error = f"There is no order {order_number(oid)}"
            else:
                error = f"{order_number(oid)} has no shipment to pack (it is {label(row.row.status)})"
                if row.row.status in ("allocated", "in_fulfilment", "partially_shipped"):
                    offer = oid
    can_write = principal.actor.can(Permission.SHIPPING_WRITE)
    context: dict[str, Any] = {"s": None, "query": query, "lookup_error": error, "offer": offer, "can_write": can_write}
    return render(request, "shipping_pack.html", {**_helpers(), **context}, status=404)


def _shipment_for_order(uow: Any, order_id: int) -> int | None:
    """The order's shipment to work on: the first waiting to be packed, then to be booked, else the latest."""
    if order_id >= 2**63:
        return None
    visible = []
    for row in shipping.repo(uow).for_order(order_id):
        try:
            shipping.get_shipment(uow, row.id)
        except NotFound:
            continue
        visible.append(row)
    for wanted in (ShipmentStatus.CREATED.value, ShipmentStatus.PACKED.value):
        for row in sorted(visible, key=lambda r: r.id):
            if row.status == wanted:
                return int(row.id)
    return int(max(r.id for r in visible)) if visible else None


@router.get("/shipping/pack/{shipment_id}")
def pack_page(request: Request, principal: PrincipalDep, shipment_id: ShipmentId) -> Response:
    flashes = take_flashes(request)
    scans = [f for f in flashes if f.get("kind") in SCAN_KINDS]
    context = _pack_view(request, principal, shipment_id)
    if scans:
        context["result"] = {"accepted": SCAN_KINDS[scans[-1]["kind"]], "message": scans[-1]["text"]}
    return render(
        request, "shipping_pack.html", {**context, "flashes": [f for f in flashes if f.get("kind") not in SCAN_KINDS]}
    )


@router.post("/shipping/pack/{shipment_id}/scan")
def scan(
    request: Request, principal: PrincipalDep, shipment_id: ShipmentId, barcode: Annotated[str, Form()] = ""
) -> Response:
    """One scan. A browser with the pack station's script asks for JSON; a plain form gets the page again."""
    wants_json = "application/json" in request.headers.get("accept", "")
    code = barcode.strip()[:MAX_CODE]
    here = f"/shipping/pack/{shipment_id}"
    if NUMBER.fullmatch(code):  # the next pick slip scanned: open that shipment
        goto = f"/shipping/pack?q={quote(code)}"
        return JSONResponse({"goto": goto}) if wants_json else RedirectResponse(goto, status_code=303)
    if not code:
        accepted, message = False, "Nothing was scanned"
    else:
        try:
            with page_uow(request, principal, write=True) as uow:
                result = shipping.scan(uow, shipment_id, code)
            accepted, message = result.accepted, result.message
        except DomainError as exc:
            if exc.status in (401, 403) or (isinstance(exc, NotFound) and exc.field == "shipment"):
                raise
            accepted, message = False, exc.detail
    if not wants_json:
        flash(request, _clip(message), "scan-good" if accepted else "scan-bad")
        return RedirectResponse(here, status_code=303)
    with page_uow(request, principal) as uow:
        view = shipping.get_shipment(uow, shipment_id).as_dict()
    lines = [{"sku": x["sku"], "packed": x["packed"], "quantity": x["quantity"]} for x in view["lines"]]
    return JSONResponse(
        {
            "accepted": accepted,
            "message": message,
            "complete": all(x["packed"] >= x["quantity"] for x in lines),
            "status": view["status"],
            "lines": lines,
        }
    )


@router.post("/shipping/pack/{shipment_id}/close")
def close_box(
    request: Request,
    principal: PrincipalDep,
    shipment_id: ShipmentId,
    weight_g: Annotated[str, Form()] = "",
    length_cm: Annotated[str, Form()] = "",
    breadth_cm: Annotated[str, Form()] = "",
    height_cm: Annotated[str, Form()] = "",
    box: Annotated[str, Form()] = "",
) -> Response:
    form = {"weight_g": weight_g, "length_cm": length_cm, "breadth_cm": breadth_cm, "height_cm": height_cm, "box": box}
    errors: dict[str, str] = {}
    weight = _grams(weight_g, errors)
    dims: tuple[Decimal, Decimal, Decimal] | None = None
    if not box.strip() and not any(value.strip() for value in (length_cm, breadth_cm, height_cm)):
        errors["length_cm"] = "give the box's length, breadth and height in cm, or choose a box"
    elif not box.strip():
        sizes = {name: _length(form[name], name, errors) for name in ("length_cm", "breadth_cm", "height_cm")}
        length, breadth, height = sizes.values()
        if length is not None and breadth is not None and height is not None:
            dims = (length, breadth, height)
    if errors:
        return _pack_rejected(request, principal, shipment_id, form, errors, None, 422)
    assert weight is not None
    try:
        with page_uow(request, principal, write=True) as uow:
            view = shipping.pack(uow, shipment_id, weight_g=weight, dimensions_cm=dims, box=box.strip() or None)
    except DomainError as exc:
        if exc.status in (401, 403) or (isinstance(exc, NotFound) and exc.field == "shipment"):
            raise
        fields = {"weight_g": "weight_g", "dimensions_cm": "length_cm", "box": "box"}
        placed = {fields[e.field]: e.message for e in exc.errors if e.field in fields}
        alert = None if placed and all(e.field in fields for e in exc.errors) else exc.detail
        return _pack_rejected(request, principal, shipment_id, form, placed, alert, exc.status)
    flash(
        request,
        f"Box closed: {view.row.chargeable_weight_g} g chargeable; tax invoice {view.row.invoice_number} issued.",
    )
    return RedirectResponse(f"/shipping/pack/{shipment_id}", status_code=303)


def _grams(text: str, errors: dict[str, str]) -> int | None:
    value = text.strip().replace(",", "")
    if not value.isdigit() or not 0 < int(value) <= MAX_WEIGHT_G:
        errors["weight_g"] = f"enter the weight in whole grams, 1 to {MAX_WEIGHT_G:,}"
        return None
    return int(value)


def _length(text: str, name: str, errors: dict[str, str]) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or not 0 < value <= MAX_DIMENSION_CM or value != value.quantize(Decimal("0.1")):
        errors[name] = f"enter {label(name.removesuffix('_cm'))} in cm (up to one decimal, at most {MAX_DIMENSION_CM})"
        return None
    return value


def _pack_rejected(
    request: Request,
    principal: Principal,
    shipment_id: int,
    form: dict[str, str],
    errors: dict[str, str],
    alert: str | None,
    status: int,
) -> Response:
    context = _pack_view(request, principal, shipment_id)
    context.update(form=form, errors=errors, form_error=alert)
    return render(request, "shipping_pack.html", context, status=status)


@router.post("/shipping/pack/{shipment_id}/book")
def book(
    request: Request, principal: PrincipalDep, shipment_id: ShipmentId, carrier: Annotated[str, Form()] = ""
) -> Response:
    """Rate-shop and book. No unit of work is open here: book reads, asks the carriers, then writes."""
    try:
        booked = shipping.book(_sync(request, principal), shipment_id, carrier=carrier.strip() or None)
    except DomainError as exc:
        if exc.status in (401, 403) or (isinstance(exc, NotFound) and exc.field == "shipment"):
            raise
        flash(request, f"Not booked: {_clip(exc.detail)}", "error")
    except RemoteError as exc:
        flash(request, f"Not booked: the carrier's API failed ({_clip(str(exc))}). Try again.", "error")
    else:
        flash(request, f"Booked with {booked.carrier}: AWB {booked.awb}.")
    return RedirectResponse(f"/shipping/pack/{shipment_id}", status_code=303)


def _pack_view(request: Request, principal: Principal, shipment_id: int) -> dict[str, Any]:
    with page_uow(request, principal) as uow:
        s = shipping.get_shipment(uow, shipment_id).as_dict()
        carriers = [c for c in shipping.list_carriers(uow) if c.active]
        try:
            boxes = box_presets_from_list((uow.tenant_settings().get("shipping") or {}).get("boxes") or [])
        except DomainError:
            boxes = []  # bad presets in the settings: measure by hand until they are fixed
    outcomes = list((s["selection"] or {}).get("outcomes") or [])
    can_write = principal.actor.can(Permission.SHIPPING_WRITE)
    status = s["status"]
    return {
        **_helpers(),
        "s": s,
        "query": "",
        "lookup_error": None,
        "offer": None,
        "can_write": can_write,
        "complete": all(x["packed"] >= x["quantity"] for x in s["lines"]),
        "units": sum(x["quantity"] for x in s["lines"]),
        "packed_units": sum(x["packed"] for x in s["lines"]),
        "scanning": can_write and status == ShipmentStatus.CREATED.value,
        "booking": can_write and status == ShipmentStatus.PACKED.value,
        "chosen": next((o for o in outcomes if o.get("verdict") == "chosen"), None),
        "beaten": [o for o in outcomes if o.get("verdict") != "chosen"],
        "carriers": carriers,
        "boxes": boxes,
        "result": None,
        "form": {"weight_g": "", "length_cm": "", "breadth_cm": "", "height_cm": "", "box": ""},
        "errors": {},
        "form_error": None,
    }


# ---- documents ---------------------------------------------------------------------------------


@router.get("/shipping/{shipment_id}/label.pdf")
def label_pdf(request: Request, principal: PrincipalDep, shipment_id: ShipmentId) -> Response:
    return _pdf(request, principal, "label", shipment_id)


@router.get("/shipping/{shipment_id}/invoice.pdf")
def invoice_pdf(request: Request, principal: PrincipalDep, shipment_id: ShipmentId) -> Response:
    return _pdf(request, principal, "invoice", shipment_id)


def _pdf(request: Request, principal: Principal, kind: str, shipment_id: int) -> Response:
    with page_uow(request, principal) as uow:
        shipping.get_shipment(uow, shipment_id)  # the shipment exists and its location is the person's
        content = shipping.document(uow, kind, shipment_id)
    name = f"{shipping.shipment_number(shipment_id)}-{kind}.pdf"
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "private, no-store"},
    )


# ---- the NDR queue -----------------------------------------------------------------------------


@router.get("/shipping/ndr")
def ndr_page(request: Request, principal: PrincipalDep) -> Response:
    with page_uow(request, principal) as uow:
        rows = shipping.ndr_queue(uow)
    return render(
        request,
        "shipping_ndr.html",
        {
            **_helpers(),
            "rows": rows,
            "reasons": {r.value: label(r.value) for r in NdrReason},
            "can_write": principal.actor.can(Permission.SHIPPING_WRITE),
            "tomorrow": _tomorrow(),
        },
    )


def _tomorrow() -> str:
    return (datetime.now(IST).date() + timedelta(days=1)).isoformat()


@router.post("/shipping/ndr/{shipment_id}")
def ndr_decide(
    request: Request,
    principal: PrincipalDep,
    shipment_id: ShipmentId,
    action: Annotated[str, Form()] = "",
    reattempt_on: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    line1: Annotated[str, Form()] = "",
    line2: Annotated[str, Form()] = "",
    city: Annotated[str, Form()] = "",
    state: Annotated[str, Form()] = "",
    pincode: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> Response:
    number = shipping.shipment_number(shipment_id)
    when: date | None = None
    problem = None
    if reattempt_on.strip():
        try:
            when = date.fromisoformat(reattempt_on.strip())
        except ValueError:
            problem = "the re-attempt date must be a date (YYYY-MM-DD)"
    address = {"name": name, "line1": line1, "line2": line2, "city": city, "state": state, "pincode": pincode}
    address = {k: v.strip()[:200] for k, v in address.items()}
    if action == "update_address" and not phone.strip() and not address["line1"]:
        problem = "give the new phone number or the new address"
    if action == "update_address" and address["line1"] and not (address["city"] and address["pincode"]):
        problem = "a new address needs its city and pincode"
    if problem is None:
        try:
            shipping.ndr_action(
                _sync(request, principal),
                shipment_id,
                action,
                reattempt_on=when if action == "reattempt" else None,
                phone=phone.strip()[:30] or None,
                address={**address, "line2": address["line2"] or None} if address["line1"] else None,
                comment=comment.strip()[:500] or None,
            )
        except DomainError as exc:
            if exc.status in (401, 403):
                raise
            problem = exc.detail
        except RemoteError as exc:
            problem = f"the carrier's API failed ({_clip(str(exc))}); try again"
    if problem is not None:
        flash(request, f"{number}: {_clip(problem)}", "error")
    else:
        done = {
            "reattempt": "re-attempt requested" + (f" on {when:%d %b}" if when else ""),
            "update_address": "new contact details sent to the carrier",
            "rto": "return to origin requested",
        }
        flash(request, f"{number}: {done.get(action, action)}.")
    return RedirectResponse("/shipping/ndr", status_code=303)


# ---- shipping and invoice settings -------------------------------------------------------------

EMPTY_BOX_ROWS = 2  # blank rows under the presets, to add boxes


def _whole_or_text(value: str) -> int | str:
    """A whole number as a number; anything else as typed, for the service to name what is wrong."""
    text = value.strip()
    return int(text) if text.isdigit() and len(text) < 12 else text


def _box_rows(boxes: list[dict[str, Any]]) -> list[dict[str, str]]:
    keys = ("name", "length_cm", "breadth_cm", "height_cm", "tare_g", "wall_mm")
    rows = [{k: "" if b.get(k) is None else str(b.get(k)) for k in keys} for b in boxes]
    return rows + [dict.fromkeys(keys, "") for _ in range(EMPTY_BOX_ROWS)]


def _settings_forms(current: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The two forms' fields, as strings, from the stored settings (defaults where unset)."""
    inv, ship = current["invoices"], current["shipping"]
    choice, ndr = ship.get("carrier_choice") or {}, ship.get("ndr") or {}
    return {
        "invoices": {
            "prefix": str(inv.get("prefix", "INV")),
            "width": str(inv.get("width", 6)),
            "short_year": bool(inv.get("short_year", True)),
            "eway_bill_threshold": str(inv.get("eway_bill_threshold", "50000")),
        },
        "shipping": {
            "volumetric_divisor": str(ship.get("volumetric_divisor", 5000)),
            "pickup_names": dict(ship.get("pickup_names") or {}),
            "strategy": str(choice.get("strategy", Strategy.CHEAPEST.value)),
            "min_lane_shipments": str(choice.get("min_lane_shipments", DEFAULT_MIN_LANE_SHIPMENTS)),
            "overrides": len(choice.get("overrides") or []),
            "max_attempts": str(ndr.get("max_attempts", DEFAULT_MAX_ATTEMPTS)),
            "review_reasons": list(ndr.get("review_reasons", sorted(DEFAULT_REVIEW_REASONS))),
            "boxes": _box_rows(list(ship.get("boxes") or [])),
        },
    }


def _settings_page(
    request: Request,
    principal: Principal,
    forms: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    alert: str | None = None,
    status: int = 200,
) -> Response:
    with page_uow(request, principal) as uow:
        current = {section: shipping.get_settings(uow, section) for section in ("invoices", "shipping")}
        locations = [(loc.spec.code, loc.spec.name) for loc in uow.all_locations()]
    shown = _settings_forms(current)
    if forms:
        shown.update(forms)
    return render(
        request,
        "shipping_settings.html",
        {
            **_helpers(),
            "forms": shown,
            "errors": errors or {},
            "alert": alert,
            "locations": locations,
            "strategies": [s.value for s in Strategy],
            "ndr_reasons": [r.value for r in NdrReason],
            "can_write": principal.actor.can(Permission.SETTINGS_WRITE),
        },
        status=status,
    )


@router.get("/shipping/settings")
def settings_page(request: Request, principal: PrincipalDep) -> Response:
    """The invoice number series and the shipping settings (boxes, pickup names, carrier choice,
    NDR policy), for an admin to change; anyone who sees shipping can read them."""
    return _settings_page(request, principal)


def _store_settings(
    request: Request, principal: Principal, section: str, raw: dict[str, Any], form: dict[str, Any]
) -> Response:
    try:
        with page_uow(request, principal, write=True) as uow:
            shipping.set_settings(uow, section, raw)
    except DomainError as exc:
        if exc.status in (401, 403):
            raise
        prefix = f"{section}."
        placed = {e.field[len(prefix) :]: e.message for e in exc.errors if e.field and e.field.startswith(prefix)}
        unplaced = [e for e in exc.errors if not (e.field and e.field.startswith(prefix))]
        alert = "; ".join(e.message for e in unplaced) if unplaced else None
        if section == "invoices" and "prefix" in placed and not form.get("prefix"):
            alert = placed.pop("prefix")
        return _settings_page(
            request, principal, {section: form}, {f"{section}.{k}": v for k, v in placed.items()}, alert, 422
        )
    flash(request, f"{section.capitalize()} settings saved.")
    return RedirectResponse("/shipping/settings", status_code=303)


@router.post("/shipping/settings/invoices")
def save_invoice_settings(
    request: Request,
    principal: PrincipalDep,
    prefix: Annotated[str, Form()] = "",
    width: Annotated[str, Form()] = "",
    short_year: Annotated[str, Form()] = "",
    eway_bill_threshold: Annotated[str, Form()] = "",
) -> Response:
    form = {
        "prefix": prefix.strip()[:40],
        "width": width.strip()[:12],
        "short_year": bool(short_year),
        "eway_bill_threshold": eway_bill_threshold.strip()[:20],
    }
    if not form["width"].isdigit():
        errors = {"invoices.width": "the number of digits must be a whole number, e.g. 6"}
        return _settings_page(request, principal, {"invoices": form}, errors, None, 422)
    raw = {**form, "width": int(form["width"])}
    return _store_settings(request, principal, "invoices", raw, form)


@router.post("/shipping/settings/shipping")
def save_shipping_settings(
    request: Request,
    principal: PrincipalDep,
    volumetric_divisor: Annotated[str, Form()] = "",
    pickup_location: Annotated[list[str] | None, Form()] = None,
    pickup_name: Annotated[list[str] | None, Form()] = None,
    strategy: Annotated[str, Form()] = "",
    min_lane_shipments: Annotated[str, Form()] = "",
    max_attempts: Annotated[str, Form()] = "",
    review_reasons: Annotated[list[str] | None, Form()] = None,
    box_name: Annotated[list[str] | None, Form()] = None,
    box_length_cm: Annotated[list[str] | None, Form()] = None,
    box_breadth_cm: Annotated[list[str] | None, Form()] = None,
    box_height_cm: Annotated[list[str] | None, Form()] = None,
    box_tare_g: Annotated[list[str] | None, Form()] = None,
    box_wall_mm: Annotated[list[str] | None, Form()] = None,
) -> Response:
    with page_uow(request, principal) as uow:
        current = shipping.get_settings(uow, "shipping")
    names = {
        code.strip()[:64]: name.strip()[:100]
        for code, name in zip(pickup_location or [], pickup_name or [], strict=False)
        if code.strip() and name.strip()
    }
    columns = [box_name, box_length_cm, box_breadth_cm, box_height_cm, box_tare_g, box_wall_mm]
    keys = ("name", "length_cm", "breadth_cm", "height_cm", "tare_g", "wall_mm")
    typed = [
        dict(zip(keys, (v.strip()[:40] for v in values), strict=True))
        for values in zip(*[c or [] for c in columns], strict=False)
    ]
    typed = [row for row in typed if any(row.values())]  # a blank row adds nothing
    boxes = []
    for row in typed:
        box: dict[str, Any] = {k: row[k] for k in ("name", "length_cm", "breadth_cm", "height_cm")}
        box["tare_g"] = _whole_or_text(row["tare_g"]) if row["tare_g"] else None
        if row["wall_mm"]:
            box["wall_mm"] = _whole_or_text(row["wall_mm"])
        boxes.append(box)
    choice = dict(current.get("carrier_choice") or {})  # overrides are kept as they are
    choice.update(strategy=strategy.strip(), min_lane_shipments=_whole_or_text(min_lane_shipments))
    raw = {
        **current,
        "volumetric_divisor": _whole_or_text(volumetric_divisor),
        "pickup_names": names,
        "boxes": boxes,
        "carrier_choice": choice,
        "ndr": {"max_attempts": _whole_or_text(max_attempts), "review_reasons": list(review_reasons or [])},
    }
    form = {
        "volumetric_divisor": volumetric_divisor.strip()[:12],
        "pickup_names": names,
        "strategy": strategy.strip()[:40],
        "min_lane_shipments": min_lane_shipments.strip()[:12],
        "overrides": len(choice.get("overrides") or []),
        "max_attempts": max_attempts.strip()[:12],
        "review_reasons": list(review_reasons or []),
        "boxes": typed + _box_rows([])[:EMPTY_BOX_ROWS],
    }
    return _store_settings(request, principal, "shipping", raw, form)
