"""Orders: the queue (filters, keyset pages, bulk confirm and cancel) and one order with what a person
can do about it: confirm, release or fix each hold, cancel in whole or in part, hold by hand."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.responses import RedirectResponse

from ordermesh.domain.access import Permission
from ordermesh.domain.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from ordermesh.domain.statuses import SETTLED, HoldReason, OrderStatus
from ordermesh.services import catalog, channels, order_actions, order_changes, order_queries
from ordermesh.services.order_queries import OrderFilter, order_number
from ordermesh.services.platform import Principal
from ordermesh.web.frame import PrincipalDep, WebRoute, format_rupees, page_uow, render
from ordermesh.web.session import flash

router = APIRouter(route_class=WebRoute, include_in_schema=False)

OrderId = Annotated[int, Path(ge=1, le=2**63 - 1)]
PAGE_SIZE = 50
FILTERS = ("channel", "status", "hold", "sla")
# Flashes travel in the session cookie, which must stay under the browsers' 4 KB: bulk results name
# the first orders and count the rest.
BULK_DONE_LISTED = 12
BULK_FAILURES_LISTED = 5
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "state", "pincode", "phone")

STATUS_TONES = {
    "pending": "muted",
    "on_hold": "warn",
    "confirmed": "info",
    "allocated": "good",
    "in_fulfilment": "info",
    "partially_shipped": "info",
    "shipped": "good",
    "delivered": "good",
    "cancelled": "muted",
    "rto": "bad",
    "partially_returned": "warn",
    "returned": "warn",
    "closed": "muted",
}
SLA_CHIPS = {"ok": ("on time", "good"), "at_risk": ("at risk", "warn"), "breached": ("breached", "bad")}
# What the order page offers for each hold (the order's holds carry HOLD_ACTIONS, the same in words).
HOLD_CONTROLS = {
    HoldReason.RISK_REVIEW: "confirm",
    HoldReason.DUPLICATE_SUSPECTED: "confirm",
    HoldReason.PRICE_CHECK: "release",
    HoldReason.UNSERVICEABLE: "release",
    HoldReason.PAYMENT_PENDING: "release",
    HoldReason.MANUAL: "release",
    HoldReason.UNMAPPED_SKU: "map",
    HoldReason.INVALID_ADDRESS: "address",
    HoldReason.STATE_MISMATCH: "address",
    HoldReason.OUT_OF_STOCK: "retry",
}
ADDRESS_HOLDS = tuple(h.value for h, control in HOLD_CONTROLS.items() if control == "address")


def label(code: str) -> str:
    return code.replace("_", " ")


def rupees(amount: str) -> str:
    return format_rupees(Decimal(amount))


def _clip(text: str, most: int = 120) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _listed(items: list[str], most: int) -> str:
    shown = ", ".join(items[:most])
    return shown if len(items) <= most else f"{shown} and {len(items) - most} more"


def actor_name(ref: str, principal: Principal) -> str:
    if ref == principal.actor.ref:
        return principal.actor.label
    return "ordermesh" if ref.startswith("system:") else ref


# ---- the queue ----------------------------------------------------------------------------------


@router.get("/orders")
def order_queue(
    request: Request,
    principal: PrincipalDep,
    channel: str = "",
    status: str = "",
    hold: str = "",
    sla: str = "",
    cursor: str = "",
) -> Response:
    params = {"channel": channel, "status": status, "hold": hold, "sla": sla}
    return _queue(request, principal, {k: v.strip() for k, v in params.items()}, cursor.strip())


@router.post("/orders/bulk")
def bulk_action(
    request: Request,
    principal: PrincipalDep,
    action: Annotated[str, Form()] = "",
    order: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies form defaults)
    reason: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Each order in its own transaction: one order's conflict never hides the others' success."""
    if not principal.actor.can(Permission.ORDERS_WRITE):
        raise Forbidden(f"role '{principal.actor.role.value}' may not change orders")
    params = dict(parse_qsl(back))
    filters = {k: params.get(k, "") for k in FILTERS}
    ids = [int(v) for v in order if v.isdigit() and 0 < int(v) < 2**63]
    errors: dict[str, str] = {}
    if action not in ("confirm", "cancel"):
        errors["action"] = "choose confirm or cancel"
    if not ids:
        errors["order"] = "select at least one order"
    if action == "cancel" and not reason.strip():
        errors["reason"] = "say why the orders are cancelled"
    if errors:
        bulk = {"errors": errors, "reason": reason, "selected": set(ids)}
        return _queue(request, principal, filters, params.get("cursor", ""), bulk=bulk, status=422)
    done, failed = [], []
    for order_id in ids:
        try:
            with page_uow(request, principal, write=True) as uow:
                if action == "confirm":
                    result = order_actions.confirm_order(uow, order_id)
                else:
                    result = order_actions.cancel_order(uow, order_id, reason=reason.strip())
            done.append(f"{order_number(order_id)} ({label(result.value)})")
        except DomainError as exc:
            failed.append(f"{order_number(order_id)}: {_clip(exc.detail)}")
    verb = "Confirmed" if action == "confirm" else "Cancelled"
    if done:
        flash(request, f"{verb} {len(done)} of {len(ids)} orders: {_listed(done, BULK_DONE_LISTED)}.")
    for text in failed[:BULK_FAILURES_LISTED]:
        flash(request, f"Not {verb.lower()}: {text}", "error")
    if len(failed) > BULK_FAILURES_LISTED:
        flash(request, f"{len(failed) - BULK_FAILURES_LISTED} more orders were not {verb.lower()} either.", "error")
    query = urlencode({k: v for k, v in {**filters, "cursor": params.get("cursor", "")}.items() if v})
    return RedirectResponse("/orders" + (f"?{query}" if query else ""), status_code=303)


def _queue(
    request: Request,
    principal: Principal,
    filters: dict[str, str],
    cursor: str,
    *,
    bulk: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    filter_error = None
    with page_uow(request, principal) as uow:
        known_channels = [c.spec.code for c in channels.list_channels(uow)]
        try:
            wanted = OrderFilter(
                status=filters["status"] or None,
                channel=filters["channel"] or None,
                hold=filters["hold"] or None,
                sla=filters["sla"] or None,
            )
            page = order_queries.list_orders(uow, wanted, cursor=cursor or None, limit=PAGE_SIZE)
            rows, next_cursor = page.items, page.next_cursor
        except DomainError as exc:
            if exc.field not in (*FILTERS, "cursor"):
                raise
            filter_error, rows, next_cursor = exc.detail, [], None
            status = 422
    return render(
        request,
        "orders/list.html",
        {
            "active": "orders",
            "filters": filters,
            "active_filters": {k: v for k, v in filters.items() if v},
            "filter_error": filter_error,
            "choices": {
                "channel": known_channels,
                "status": [s.value for s in OrderStatus],
                "hold": [h.value for h in HoldReason],
                "sla": list(SLA_CHIPS),
            },
            "rows": rows,
            "next_cursor": next_cursor,
            "paged": bool(cursor),
            "back": urlencode({k: v for k, v in {**filters, "cursor": cursor}.items() if v}),
            "can_write": principal.actor.can(Permission.ORDERS_WRITE),
            "bulk": bulk or {"errors": {}, "reason": "", "selected": set()},
            **_helpers(principal),
        },
        status=status,
    )


# ---- one order ----------------------------------------------------------------------------------


@router.get("/orders/{order_id}")
def order_page(request: Request, principal: PrincipalDep, order_id: OrderId) -> Response:
    return render(request, "orders/order.html", _order_view(request, principal, order_id))


@router.post("/orders/{order_id}/confirm")
def confirm(
    request: Request, principal: PrincipalDep, order_id: OrderId, note: Annotated[str, Form()] = ""
) -> Response:
    form = {"note": note}
    try:
        with page_uow(request, principal, write=True) as uow:
            result = order_actions.confirm_order(uow, order_id, note=note.strip() or None)
    except DomainError as exc:
        return _rejected(request, principal, order_id, "confirm", form, exc)
    return _done(request, order_id, f"{order_number(order_id)} confirmed; it is {label(result.value)}.")


@router.post("/orders/{order_id}/holds/{reason}/resolve")
def resolve(
    request: Request,
    principal: PrincipalDep,
    order_id: OrderId,
    reason: str,
    note: Annotated[str, Form()] = "",
    theirs: Annotated[list[str], Form()] = [],  # noqa: B006
    ours: Annotated[list[str], Form()] = [],  # noqa: B006
) -> Response:
    mappings = {t: o.strip() for t, o in zip(theirs, ours, strict=False) if o.strip()}
    form_name = "map" if reason == HoldReason.UNMAPPED_SKU.value else f"resolve-{reason}"
    form = {"note": note, **{f"map:{t}": o for t, o in zip(theirs, ours, strict=False)}}
    try:
        with page_uow(request, principal, write=True) as uow:
            result = order_actions.resolve_hold(
                uow, order_id, reason, note=note.strip() or None, sku_mappings=mappings or None
            )
    except DomainError as exc:
        return _rejected(request, principal, order_id, form_name, form, exc)
    return _done(
        request, order_id, f"Hold {label(reason)} resolved; {order_number(order_id)} is {label(result.value)}."
    )


@router.post("/orders/{order_id}/address")
def correct_address(
    request: Request,
    principal: PrincipalDep,
    order_id: OrderId,
    name: Annotated[str, Form()] = "",
    line1: Annotated[str, Form()] = "",
    line2: Annotated[str, Form()] = "",
    city: Annotated[str, Form()] = "",
    state: Annotated[str, Form()] = "",
    pincode: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Save the corrected address as a new version of the order, then re-check its address holds."""
    address = {"name": name, "line1": line1, "line2": line2, "city": city, "state": state}
    address.update(pincode=pincode, phone=phone)
    address = {k: v.strip() for k, v in address.items()}
    try:
        with page_uow(request, principal, write=True) as uow:
            order_changes.edit_order(uow, order_id, {"shipping_address": address}, reason=reason)
        for hold in ADDRESS_HOLDS:
            try:
                with page_uow(request, principal, write=True) as uow:
                    order_actions.resolve_hold(uow, order_id, hold, note=reason.strip())
            except Conflict as exc:
                if exc.field != "reason":  # "not on hold for it": saving the address already cleared it
                    raise
    except DomainError as exc:
        return _rejected(request, principal, order_id, "address", {**address, "reason": reason}, exc)
    with page_uow(request, principal) as uow:
        view = order_queries.get_order(uow, order_id)
    still = [h for h in view["holds"] if h["reason"] in ADDRESS_HOLDS]
    if still:
        flash(request, f"Address saved, but it still needs fixing: {still[0]['detail']}.", "error")
        return RedirectResponse(f"/orders/{order_id}", status_code=303)
    return _done(request, order_id, f"Address corrected; {view['number']} is {label(view['status'])}.")


@router.post("/orders/{order_id}/cancel")
def cancel(
    request: Request,
    principal: PrincipalDep,
    order_id: OrderId,
    reason: Annotated[str, Form()] = "",
    scope: Annotated[str, Form()] = "lines",
    sku: Annotated[list[str], Form()] = [],  # noqa: B006
    quantity: Annotated[list[str], Form()] = [],  # noqa: B006
) -> Response:
    form = {"reason": reason, **{f"qty:{s}": q for s, q in zip(sku, quantity, strict=False)}}
    lines = [
        {"sku": s, "quantity": _whole_number(q)}
        for s, q in zip(sku, quantity, strict=False)
        if q.strip() not in ("", "0")
    ]
    if scope != "whole" and not lines:
        error = ValidationFailed("enter how many units of a line to cancel, or cancel the whole order", field="lines")
        return _rejected(request, principal, order_id, "cancel", form, error)
    try:
        with page_uow(request, principal, write=True) as uow:
            result = order_actions.cancel_order(uow, order_id, reason=reason, lines=None if scope == "whole" else lines)
    except DomainError as exc:
        # the service names lines by their place in the list it was given; the form by SKU
        fields = {
            f"lines.{i}.{part}": f"qty:{line['sku']}" for i, line in enumerate(lines) for part in ("sku", "quantity")
        }
        return _rejected(request, principal, order_id, "cancel", form, exc, fields)
    what = "the whole order" if scope == "whole" else ", ".join(f"{line['quantity']} × {line['sku']}" for line in lines)
    return _done(request, order_id, f"Cancelled {what}; {order_number(order_id)} is {label(result.value)}.")


@router.post("/orders/{order_id}/hold")
def hold(request: Request, principal: PrincipalDep, order_id: OrderId, note: Annotated[str, Form()] = "") -> Response:
    try:
        with page_uow(request, principal, write=True) as uow:
            order_actions.hold_order(uow, order_id, note=note)
    except DomainError as exc:
        return _rejected(request, principal, order_id, "hold", {"note": note}, exc)
    return _done(request, order_id, f"{order_number(order_id)} is on hold: {note.strip()}.")


def _done(request: Request, order_id: int, message: str) -> Response:
    flash(request, message)
    return RedirectResponse(f"/orders/{order_id}", status_code=303)


def _rejected(
    request: Request,
    principal: Principal,
    order_id: int,
    form_name: str,
    form: dict[str, str],
    exc: DomainError,
    fields: dict[str, str] | None = None,
) -> Response:
    """The order page again, with the form as it was sent and each error next to its field; or,
    when the page no longer has that form (someone else resolved the hold), the error at the top."""
    if isinstance(exc, Forbidden) or (isinstance(exc, NotFound) and exc.field == "order"):
        raise exc
    view = _order_view(request, principal, order_id)
    errors = {}
    for e in exc.errors:
        name = (fields or {}).get(e.field, e.field)
        errors[name.removeprefix("shipping_address.").replace("sku_mappings.", "map:")] = e.message
    if form_name in view["rendered"]:
        view["forms"][form_name] = {**view["forms"].get(form_name, {}), **form}
        view["errors"][form_name] = errors
        placed = bool(errors) and all(name in form or name in ("lines", "sku_mappings") for name in errors)
        view["form_error"] = (form_name, None if placed else exc.detail)
    else:
        view["page_error"] = exc.detail
    return render(request, "orders/order.html", view, status=422 if isinstance(exc, NotFound) else exc.status)


def _order_view(request: Request, principal: Principal, order_id: int) -> dict[str, Any]:
    with page_uow(request, principal) as uow:
        order = order_queries.get_order(uow, order_id)
        unmapped = sorted({line["sku"] for line in order["lines"] if not line["mapped"]})
        catalog_codes = (
            [s.spec.code for s in catalog.search_skus(uow, query=None, cursor=None, limit=200).items]
            if unmapped
            else []
        )
    can_write = principal.actor.can(Permission.ORDERS_WRITE)
    # the address form is prefilled with the phone, so only someone who may read it may edit it
    can_edit_address = can_write and principal.actor.can(Permission.CUSTOMER_CONTACTS)
    open_order = OrderStatus(order["status"]) not in SETTLED
    holds = [{**h, "control": HOLD_CONTROLS.get(HoldReason(h["reason"]), "")} for h in order["holds"]]
    rendered: set[str] = {"cancel", "hold"} if can_write and open_order else set()
    if any(h["reason"] == HoldReason.MANUAL.value for h in holds):
        rendered.discard("hold")  # held by hand already: its hold shows the release button instead
    for h in holds:  # one confirmation clears both reviews, one address form both address holds
        control = h["control"]
        if control in ("confirm", "address") and control in rendered:
            h["control"] = f"{control}-again"
        elif can_write and (control != "address" or can_edit_address):
            rendered.add(f"resolve-{h['reason']}" if control in ("release", "retry") else control)
    return {
        "active": "orders",
        "order": order,
        "holds": holds,
        "open_order": open_order,
        "can_write": can_write,
        "can_edit_address": can_edit_address,
        "rendered": rendered,
        "unmapped": unmapped,
        "catalog_codes": catalog_codes,
        "cancellable": _cancellable(order["lines"]),
        "forms": {"address": {k: order["shipping_address"].get(k) or "" for k in ADDRESS_FIELDS}},
        "errors": {},
        "form_error": None,
        "page_error": None,
        "describe_change": describe_change,
        **_helpers(principal),
    }


def _cancellable(lines: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Units not yet shipped or cancelled, per SKU (the cancel service takes SKUs, not line numbers)."""
    out: dict[str, int] = {}
    for line in lines:
        out[line["sku"]] = out.get(line["sku"], 0) + line["open"] + line["allocated"]
    return [(sku, n) for sku, n in out.items() if n > 0]


def describe_change(changes: dict[str, Any]) -> list[str]:
    """A version's changes in words: 'TEE: 3 → 1', 'Shipping address: … → …'."""
    out = []
    for key, change in sorted(changes.items()):
        if key == "lines":
            out += [f"{sku}: {c['from']} → {c['to']}" for sku, c in sorted(change.items())]
        elif key == "shipping_address":
            out.append(f"Shipping address: {_one_line(change['from'])} → {_one_line(change['to'])}")
        elif isinstance(change, dict) and "from" in change:
            out.append(f"{label(key).capitalize()}: {change['from']} → {change['to']}")
        else:
            out.append(label(key).capitalize())
    return out


def _one_line(address: dict[str, Any] | None) -> str:
    if not address:
        return "none"
    parts = [address.get(k) for k in ("line1", "line2", "city", "state", "pincode")]
    return ", ".join(str(p) for p in parts if p)


def _helpers(principal: Principal) -> dict[str, Any]:
    return {
        "status_tones": STATUS_TONES,
        "sla_chips": SLA_CHIPS,
        "label": label,
        "rupees": rupees,
        "actor_name": lambda ref: actor_name(ref, principal),
    }


def _whole_number(text: str) -> object:
    """'2' as an int; anything else is passed on for the service to reject with its field."""
    try:
        return int(text.strip().replace(",", ""))
    except ValueError:
        return text
