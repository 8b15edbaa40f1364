"""Shipping: from allocated lines to the buyer's door, or back.

Shipments are created per location from allocated units; packed with scan verification (a GST tax
invoice is issued at packing, gap-free per GSTIN and financial year); booked with the carrier the
tenant's rules choose from every eligible quote (the choice and what it beat are kept); labelled
(our 4×6 PDF with Code128 barcodes); manifested per carrier, location and pickup date with a pickup
request; tracked by webhook and polling, each carrier word mapped onto one vocabulary. The order
follows its shipments: picked-up units leave stock and count as shipped; delivered, NDR and RTO
are recorded on the order's timeline and told to its channel.

Calls to carriers never run inside a transaction other writers wait on: read, call, then write.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from ordermesh.adapters.carriers import base as cb
from ordermesh.adapters.channels.connections import Connections
from ordermesh.adapters.db.shipping import CarrierRow, ShippingRepository
from ordermesh.adapters.db.uow import UnitOfWork, UowFactory
from ordermesh.adapters.documents import invoice as inv_doc
from ordermesh.adapters.documents import label as label_doc
from ordermesh.adapters.documents import manifest as manifest_doc
from ordermesh.adapters.documents._shared import Address as DocAddress
from ordermesh.adapters.remote import RemoteError
from ordermesh.domain import carrier_choice as cc
from ordermesh.domain import delivery_estimates as de
from ordermesh.domain import events
from ordermesh.domain import gst_invoice as gst
from ordermesh.domain import ndr as ndr_rules
from ordermesh.domain.access import Permission
from ordermesh.domain.errors import Collector, Conflict, DomainError, NotFound, ValidationFailed
from ordermesh.domain.india import find_state
from ordermesh.domain.orders import derive_status
from ordermesh.domain.shipping import Packing, PackLine, chargeable_weight
from ordermesh.domain.statuses import (
    SHIPMENT_FINAL,
    NdrReason,
    OrderStatus,
    ShipmentStatus,
    can_ship_transition,
    can_transition,
)
from ordermesh.services.channel_sync import Sync
from ordermesh.services.common import require
from ordermesh.services.group_commit import GroupWriter, Waiting

IST = ZoneInfo("Asia/Kolkata")
log = logging.getLogger("ordermesh.shipping")
CARRIER_KINDS = ("shiprocket", "delhivery", "rate_card")
SHIPPED = frozenset(
    {
        ShipmentStatus.PICKED_UP,
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.NDR,
        ShipmentStatus.DELIVERED,
        ShipmentStatus.RTO_INITIATED,
        ShipmentStatus.RTO_IN_TRANSIT,
        ShipmentStatus.RTO_DELIVERED,
        ShipmentStatus.LOST,
    }
)


def repo(uow: UnitOfWork) -> ShippingRepository:
    assert uow.tenant_id is not None
    return ShippingRepository(uow.conn, uow.tenant_id)


def shipment_number(shipment_id: int) -> str:
    """Ours, derived from the id (the carrier's order reference)."""
    return f"SH{shipment_id:07d}"


# -- carrier accounts -------------------------------------------------------------------------


def create_carrier(uow: UnitOfWork, raw: Mapping[str, Any], seal: Any) -> CarrierRow:
    """``raw``: code, kind (shiprocket | delhivery | rate_card), name, base_url, credentials (sealed
    with ``seal``, never returned), settings (pickup location names, the rate card's tariff …)."""
    require(uow.actor, Permission.CARRIERS_WRITE)
    errors = Collector()
    code = str(raw.get("code") or "").strip()
    if not code or len(code) > 64:
        errors.add("code", "is required (at most 64 characters)")
    kind = raw.get("kind")
    if kind not in CARRIER_KINDS:
        errors.add("kind", f"must be one of {', '.join(CARRIER_KINDS)}")
    name = str(raw.get("name") or "").strip()
    if not name:
        errors.add("name", "is required")
    base_url = raw.get("base_url")
    if base_url is not None and (not isinstance(base_url, str) or not base_url.startswith(("http://", "https://"))):
        errors.add("base_url", "must be an http:// or https:// address")
    if kind in ("shiprocket", "delhivery") and not base_url:
        errors.add("base_url", f"a {kind} account needs the API's address")
    settings = raw.get("settings") or {}
    if not isinstance(settings, Mapping):
        errors.add("settings", "must be an object")
        settings = {}
    credentials = raw.get("credentials") or {}
    if not isinstance(credentials, Mapping) or not all(isinstance(v, str) and v for v in credentials.values()):
        errors.add("credentials", "must be an object of non-empty strings")
        credentials = {}
    if kind == "rate_card":
        from ordermesh.domain.rate_card import Tariff

        Tariff.from_dict(settings.get("tariff"), errors, "settings.tariff")
    errors.raise_if_any()
    if repo(uow).carrier(code) is not None:
        raise Conflict(f"carrier '{code}' already exists", field="code")
    repo(uow).add_carrier(
        {
            "code": code,
            "kind": kind,
            "name": name,
            "base_url": base_url.rstrip("/") if base_url else None,
            "credentials": seal(dict(credentials)) if credentials else None,
            "settings": dict(settings),
            "active": bool(raw.get("active", True)),
        },
        uow.now,
    )
    uow.audit(
        "carrier.created", "carrier", code, after={"kind": kind, "name": name, "credentials": sorted(credentials)}
    )
    row = repo(uow).carrier(code)
    assert row is not None
    uow.commit()
    return row


def list_carriers(uow: UnitOfWork) -> list[CarrierRow]:
    require(uow.actor, Permission.SHIPPING_READ)
    return repo(uow).carriers()


def _carrier_or_404(uow: UnitOfWork, code: str) -> CarrierRow:
    row = repo(uow).carrier(code)
    if row is None:
        raise NotFound(f"carrier '{code}' not found", field="carrier")
    return row


# -- shipments from allocations ---------------------------------------------------------------


def create_shipments(uow: UnitOfWork, order_id: int) -> list[int]:
    """One shipment per location for the order's allocated units not yet in a shipment."""
    from ordermesh.services.order_actions import load
    from ordermesh.services.orders import Timeline, _announce

    require(uow.actor, Permission.SHIPPING_WRITE)
    order = load(uow, order_id, for_update=True)
    status = OrderStatus(order.row.status)
    if status not in (OrderStatus.ALLOCATED, OrderStatus.IN_FULFILMENT, OrderStatus.PARTIALLY_SHIPPED):
        raise Conflict(f"order {order_id} is {status.value}: only allocated units can be shipped", field="status")
    taken = repo(uow).units_in_shipments(order_id)
    locations = {loc.spec.code: loc for loc in uow.all_locations()}
    lines_by_id = {line.id: line for line in order.lines}
    per_location: dict[str, list[dict[str, Any]]] = {}
    for a in order.allocations:
        line = lines_by_id[a.line_id]
        location = locations[a.location]
        free = a.quantity - taken.get((a.line_id, location.id), 0)
        if free > 0 and line.sku_id is not None:
            per_location.setdefault(a.location, []).append(
                {"order_line_id": line.id, "sku_id": line.sku_id, "quantity": free, "packed": 0}
            )
    if not per_location:
        raise Conflict(f"order {order_id} has no allocated units left to ship", field="lines")
    grand = Decimal(order.row.grand_total)
    items_value = sum(
        (Decimal(line.unit_price) * line.quantity - Decimal(line.discount) for line in order.lines), Decimal(0)
    )
    timeline = Timeline(uow, order_id)
    created = []
    for code, lines in sorted(per_location.items()):
        value = sum(
            (
                (Decimal(lines_by_id[x["order_line_id"]].unit_price) * x["quantity"])
                - Decimal(lines_by_id[x["order_line_id"]].discount)
                * x["quantity"]
                / lines_by_id[x["order_line_id"]].quantity
                for x in lines
            ),
            Decimal(0),
        ).quantize(Decimal("0.01"))
        # COD: the buyer pays the order's total, shared over its shipments by value.
        cod = (
            (grand * value / items_value).quantize(Decimal("0.01"))
            if order.row.payment_method == "cod" and items_value
            else Decimal(0)
        )
        shipment_id = repo(uow).add_shipment(
            {
                "order_id": order_id,
                "location_id": locations[code].id,
                "status": ShipmentStatus.CREATED.value,
                "payment_method": order.row.payment_method,
                "cod_amount": cod,
                "declared_value": value,
                "tracking_token": secrets.token_urlsafe(32),
                "ndr_attempts": 0,
                "status_at": uow.now,
                "created_at": uow.now,
                "updated_at": uow.now,
            },
            lines,
        )
        created.append(shipment_id)
        units = sum(x["quantity"] for x in lines)
        timeline.add(
            "shipment.created",
            f"Shipment {shipment_number(shipment_id)} created at {code}: {units} unit(s)",
            {"shipment_id": shipment_id, "location": code},
        )
        uow.audit("shipment.created", "shipment", str(shipment_id), after={"order_id": order_id, "location": code})
    if status is OrderStatus.ALLOCATED:
        uow.orders.update(order_id, status=OrderStatus.IN_FULFILMENT.value, updated_at=uow.now)
        _announce(uow, order_id, timeline, [], [], status.value, OrderStatus.IN_FULFILMENT)
    timeline.flush()
    uow.commit()
    return created


@dataclass(frozen=True)
class ShipmentView:
    row: Any
    lines: list[Any]
    location: str
    carrier: str | None

    def as_dict(self) -> dict[str, Any]:
        r = self.row
        return {
            "id": r.id,
            "number": shipment_number(r.id),
            "order_id": r.order_id,
            "location": self.location,
            "status": r.status,
            "payment_method": r.payment_method,
            "cod_amount": str(r.cod_amount),
            "declared_value": str(r.declared_value),
            "lines": [
                {"sku": x.sku, "name": x.name, "quantity": x.quantity, "packed": x.packed, "barcodes": x.barcodes}
                for x in self.lines
            ],
            "box": r.box,
            "dimensions_cm": [str(r.length_cm), str(r.breadth_cm), str(r.height_cm)] if r.length_cm else None,
            "dead_weight_g": r.dead_weight_g,
            "volumetric_weight_g": r.volumetric_weight_g,
            "chargeable_weight_g": r.chargeable_weight_g,
            "carrier": self.carrier,
            "service": r.service,
            "courier": r.courier,
            "awb": r.awb,
            "selection": r.selection,
            "invoice_number": r.invoice_number,
            "manifest_id": r.manifest_id,
            "tracking_token": r.tracking_token,
            "estimated_delivery": r.estimated_delivery,
            "estimate_basis": r.estimate_basis,
            "ndr_attempts": r.ndr_attempts,
            "status_at": r.status_at,
            "created_at": r.created_at,
        }


def get_shipment(uow: UnitOfWork, shipment_id: int) -> ShipmentView:
    require(uow.actor, Permission.SHIPPING_READ)
    row = repo(uow).shipment(shipment_id)
    if row is None:
        raise NotFound(f"shipment {shipment_id} not found", field="shipment")
    location = next((loc.spec.code for loc in uow.all_locations() if loc.id == row.location_id), "?")
    if not uow.actor.sees_location(location):
        raise NotFound(f"shipment {shipment_id} not found", field="shipment")
    carrier = repo(uow).carrier_by_id(row.carrier_id) if row.carrier_id else None
    return ShipmentView(row, repo(uow).lines(shipment_id), location, carrier.code if carrier else None)


# -- packing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scanned:
    accepted: bool
    message: str
    complete: bool
    remaining: str


def scan(uow: UnitOfWork, shipment_id: int, barcode: str) -> Scanned:
    """One scan at the pack station: counts a unit of the line it belongs to, or refuses and says why."""
    require(uow.actor, Permission.SHIPPING_WRITE)
    view = get_shipment(uow, shipment_id)
    if ShipmentStatus(view.row.status) is not ShipmentStatus.CREATED:
        raise Conflict(f"shipment {shipment_number(shipment_id)} is {view.row.status}: nothing to scan", field="status")
    repo(uow).shipment(shipment_id, for_update=True)
    packing = _packing(view.lines)
    result = packing.scan(barcode)
    if result.accepted and result.line_id is not None:
        repo(uow).set_packed(int(result.line_id), packing.packed[result.line_id])
        uow.commit()
    return Scanned(result.accepted, result.message, packing.complete, packing.missing_text())


def _packing(lines: Sequence[Any]) -> Packing:
    return Packing(
        [PackLine(str(x.id), x.sku, x.quantity, tuple(x.barcodes or ())) for x in lines],
        {str(x.id): x.packed for x in lines},
    )


def pack(
    uow: UnitOfWork,
    shipment_id: int,
    *,
    weight_g: int,
    dimensions_cm: tuple[Decimal, Decimal, Decimal] | None = None,
    box: str | None = None,
) -> ShipmentView:
    """Close the box: every unit scanned, weighed and measured (or a box preset). The GST tax
    invoice that goes in the box is issued now, numbered gap-free per GSTIN and financial year."""
    require(uow.actor, Permission.SHIPPING_WRITE)
    view = get_shipment(uow, shipment_id)
    row = repo(uow).shipment(shipment_id, for_update=True)
    if ShipmentStatus(row.status) is not ShipmentStatus.CREATED:
        raise Conflict(
            f"shipment {shipment_number(shipment_id)} is {row.status}, not waiting to be packed", field="status"
        )
    packing = _packing(view.lines)
    if not packing.complete:
        raise Conflict(f"the box is not complete: {packing.missing_text()}", field="lines")
    settings = uow.tenant_settings().get("shipping") or {}
    errors = Collector()
    if isinstance(weight_g, bool) or not isinstance(weight_g, int) or weight_g <= 0:
        errors.add("weight_g", "must be a positive whole number of grams")
    dims = dimensions_cm
    if box is not None:
        from ordermesh.domain.shipping import box_presets_from_list

        presets = {p.name: p for p in box_presets_from_list(settings.get("boxes") or [])}
        preset = presets.get(box)
        if preset is None:
            errors.add(
                "box", f"no box preset '{box}'" + (f"; presets: {', '.join(sorted(presets))}" if presets else "")
            )
        else:
            dims = preset.outer_cm
    if dims is None:
        errors.add("dimensions_cm", "give the box's length, breadth and height, or a box preset")
    elif len(dims) != 3 or any(Decimal(d) <= 0 for d in dims):
        errors.add("dimensions_cm", "must be three positive lengths in cm")
    errors.raise_if_any()
    assert dims is not None
    divisor = int(settings.get("volumetric_divisor", 5000))
    weight = chargeable_weight(weight_g, Decimal(dims[0]), Decimal(dims[1]), Decimal(dims[2]), divisor)
    number = _issue_invoice(uow, view)
    repo(uow).update(
        shipment_id,
        status=ShipmentStatus.PACKED.value,
        box=box,
        length_cm=Decimal(dims[0]),
        breadth_cm=Decimal(dims[1]),
        height_cm=Decimal(dims[2]),
        dead_weight_g=weight_g,
        volumetric_weight_g=int(weight.volumetric_g.to_integral_value()),
        chargeable_weight_g=weight.chargeable_g,
        invoice_number=number,
        status_at=uow.now,
        updated_at=uow.now,
    )
    _note(
        uow,
        row.order_id,
        "shipment.packed",
        f"Shipment {shipment_number(shipment_id)} packed: {weight.explain()}; invoice {number}",
        {"shipment_id": shipment_id, "invoice": number},
    )
    uow.audit("shipment.packed", "shipment", str(shipment_id), after={"weight_g": weight_g, "invoice": number})
    uow.commit()
    with uow.reopen() as fresh:
        return get_shipment(fresh, shipment_id)


def _issue_invoice(uow: UnitOfWork, view: ShipmentView) -> str:
    order = uow.orders.get(view.row.order_id)
    assert order is not None
    location = next(loc for loc in uow.all_locations() if loc.id == view.row.location_id)
    gstin = location.spec.gstin
    if not gstin:
        raise ValidationFailed(
            f"location '{location.spec.code}' has no GSTIN: a tax invoice needs the seller's GSTIN",
            field="location.gstin",
        )
    buyer_state = find_state(str(order.row.shipping_address.get("state", "")))
    if buyer_state is None:
        raise ValidationFailed(
            "the order's shipping state is unknown; fix the address first", field="shipping_address.state"
        )
    supplier_state = location.spec.address.state
    today = uow.now.astimezone(IST).date()
    fy = gst.financial_year(today)
    settings = uow.tenant_settings().get("invoices") or {}
    series = gst.InvoiceSeries(
        prefix=str(settings.get("prefix", "INV")),
        width=int(settings.get("width", 6)),
        short_year=bool(settings.get("short_year", True)),
    )
    sequence = repo(uow).next_invoice_number(gstin, fy)
    number = series.format(fy, sequence)
    lines = [
        gst.InvoiceLine(
            x.name,
            x.hsn,
            Decimal(x.quantity),
            Decimal(x.unit_price),
            Decimal(x.gst_rate),
            (Decimal(x.discount) * x.quantity / x.line_quantity).quantize(Decimal("0.01")),
        )
        for x in view.lines
    ]
    split = gst.split_tax(lines, supplier_state.gst_code, buyer_state.gst_code)
    words = gst.amount_in_words(split.total)
    addr = order.row.shipping_address
    seller = gst.Party(
        location.spec.name,
        location.spec.address.line1,
        location.spec.address.city,
        location.spec.address.pincode,
        supplier_state.gst_code,
        gstin,
    )
    buyer = gst.Party(
        addr.get("name", ""),
        addr.get("line1", ""),
        addr.get("city", ""),
        str(addr.get("pincode", "")),
        buyer_state.gst_code,
        None,
    )
    threshold = Decimal(str(settings.get("eway_bill_threshold", "50000")))
    ewaybill = gst.eway_bill(number, today, seller, buyer, split, None, threshold=threshold)
    data = {
        "lines": [
            {
                "description": t.line.description,
                "hsn": t.line.hsn,
                "quantity": str(t.line.quantity),
                "taxable": str(t.taxable),
                "rate": str(t.line.gst_rate),
                "cgst": str(t.cgst),
                "sgst": str(t.sgst),
                "igst": str(t.igst),
            }
            for t in split.lines
        ],
        "words": words,
        "supplier_state": supplier_state.gst_code,
    }
    invoice_id = repo(uow).add_invoice(
        {
            "shipment_id": view.row.id,
            "gstin": gstin,
            "financial_year": fy,
            "sequence": sequence,
            "number": number,
            "issued_at": uow.now,
            "place_of_supply": buyer_state.gst_code,
            "taxable_value": split.taxable,
            "tax_total": split.tax,
            "total": split.total,
            "data": data,
            "ewaybill": ewaybill,
        }
    )
    pdf = inv_doc.render_invoice(
        inv_doc.InvoiceData(
            invoice_number=number,
            invoice_date=today,
            seller=inv_doc.Party(
                location.spec.name,
                _street(
                    location.spec.address.line1,
                    location.spec.address.line2,
                    location.spec.address.city,
                    location.spec.address.pincode,
                ),
                supplier_state.name,
                supplier_state.gst_code,
                gstin,
            ),
            buyer=inv_doc.Party(
                addr.get("name", ""),
                _street(addr.get("line1", ""), addr.get("line2"), addr.get("city", ""), str(addr.get("pincode", ""))),
                buyer_state.name,
                buyer_state.gst_code,
                None,
            ),
            place_of_supply=buyer_state.name,
            place_of_supply_code=buyer_state.gst_code,
            lines=tuple(
                inv_doc.InvoiceLine(
                    t.line.description,
                    t.line.hsn,
                    int(t.line.quantity),
                    (t.taxable / t.line.quantity).quantize(Decimal("0.01")),
                    t.taxable,
                    t.line.gst_rate,
                    t.cgst,
                    t.sgst,
                    t.igst,
                )
                for t in split.lines
            ),
            total=split.total,
            total_in_words=words,
            order_number=f"OM{order.row.id:07d}",
        )
    )
    repo(uow).put_document("invoice", invoice_id, pdf, uow.now)
    uow.audit("invoice.issued", "invoice", number, after={"shipment_id": view.row.id, "total": str(split.total)})
    return number


def _street(line1: str, line2: str | None, city: str, pincode: str) -> tuple[str, ...]:
    return tuple(x for x in (line1, line2 or "", f"{city} {pincode}") if x)


def _note(uow: UnitOfWork, order_id: int, kind: str, message: str, data: dict[str, Any]) -> None:
    """One entry on the order's timeline, shaped as every other use case shapes it."""
    from ordermesh.services.orders import Timeline

    timeline = Timeline(uow, order_id)
    timeline.add(kind, message, data)
    timeline.flush()


# -- quotes and booking -----------------------------------------------------------------------


@dataclass
class Booked:
    shipment_id: int
    awb: str
    carrier: str
    choice: dict[str, Any] = field(default_factory=dict)


def _request(uow: UnitOfWork, view: ShipmentView) -> tuple[cb.ShipmentRequest, Any]:
    order = uow.orders.get(view.row.order_id)
    assert order is not None
    location = next(loc for loc in uow.all_locations() if loc.id == view.row.location_id)
    a = order.row.shipping_address
    state = find_state(str(a.get("state", "")))
    to = cb.Address(
        name=a.get("name", ""),
        line1=a.get("line1", ""),
        line2=a.get("line2"),
        city=a.get("city", ""),
        state=state.iso if state else str(a.get("state", "")),
        pincode=str(a.get("pincode", "")),
        phone=str(a.get("phone") or order.row.customer.get("phone") or ""),
        email=order.row.customer.get("email"),
    )
    la = location.spec.address
    pickup_names = (uow.tenant_settings().get("shipping") or {}).get("pickup_names") or {}
    pickup = cb.Pickup(
        pickup_names.get(location.spec.code, location.spec.name),
        cb.Address(location.spec.name, la.line1, la.city, la.state.iso, la.pincode, "", la.line2),
        location.spec.gstin,
    )
    parcel = cb.Parcel(
        Decimal(view.row.length_cm), Decimal(view.row.breadth_cm), Decimal(view.row.height_cm), view.row.dead_weight_g
    )
    items = [cb.Item(x.sku, x.name, x.quantity, Decimal(x.unit_price), x.hsn, Decimal(x.gst_rate)) for x in view.lines]
    request = cb.ShipmentRequest(
        reference=shipment_number(view.row.id),
        order_number=f"OM{order.row.id:07d}",
        placed_at=order.row.placed_at,
        pickup=pickup,
        to=to,
        parcel=parcel,
        payment=view.row.payment_method,
        cod_amount=Decimal(view.row.cod_amount),
        declared_value=Decimal(view.row.declared_value),
        items=items,
        invoice_number=view.row.invoice_number,
    )
    return request, order


def book(sync: Sync, shipment_id: int, *, carrier: str | None = None, quote_timeout: float = 15.0) -> Booked:
    """Quote every eligible carrier (or only ``carrier``), choose by the tenant's rules, book it,
    and make the label. The quotes and the reasons each lost are kept on the shipment.

    The carriers are asked at the same time, one thread each, and the answers wait at most
    ``quote_timeout`` seconds in all: a carrier that fails, gives no quote or has not answered by
    then is named in the problems (said when no carrier can take the shipment), and the others
    still compete."""
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import wait as wait_for

    with sync.unit(write=False) as uow:
        require(uow.actor, Permission.SHIPPING_WRITE)
        view = get_shipment(uow, shipment_id)
        if ShipmentStatus(view.row.status) is not ShipmentStatus.PACKED:
            raise Conflict(
                f"shipment {shipment_number(shipment_id)} is {view.row.status}; pack it first", field="status"
            )
        request, order = _request(uow, view)
        carriers = [c for c in repo(uow).carriers() if c.active and (carrier is None or c.code == carrier)]
        if carrier is not None and not carriers:
            raise NotFound(f"carrier '{carrier}' not found or not active", field="carrier")
        rules = cc.ChoiceRules.from_dict((uow.tenant_settings().get("shipping") or {}).get("carrier_choice") or {})
        lanes = cc.lane_stats_from_rows(
            (r.carrier, _zone_key(r.origin), r.destination, r.status) for r in repo(uow).outcomes()
        )
        history = _history(uow)
    origin, destination, parcel = request.pickup.address.pincode, request.to.pincode, request.parcel
    cod, declared = request.payment == "cod", request.declared_value

    def ask(adapter: Any) -> tuple[list[cb.Quote], str | None]:
        """One carrier's quotes, or why it has none (in a thread of its own: no database here)."""
        found = list(adapter.quote(origin, destination, parcel, cod=cod, declared_value=declared))
        if found:
            return found, None
        rate = getattr(adapter, "rate", None)  # the rate card can say why its tariff cannot take it
        if callable(rate):
            try:
                rate(origin, destination, parcel, cod_amount=declared if cod else Decimal(0))
            except DomainError as e:
                return [], e.detail
        return [], f"no service from {origin} to {destination} for this parcel ({'COD' if cod else 'prepaid'})"

    problems: list[str] = []
    asking: list[tuple[CarrierRow, Any]] = []
    for row in carriers:
        try:  # the adapters are made here: opening sealed credentials is not the threads' work
            asking.append((row, sync.connections.carrier(row)))
        except (RemoteError, DomainError) as e:
            problems.append(f"{row.code}: {e}")
    quotes: list[cc.CarrierQuote] = []
    by_key: dict[str, tuple[CarrierRow, cb.Quote]] = {}
    if asking:
        pool = ThreadPoolExecutor(max_workers=len(asking), thread_name_prefix=f"quote-{shipment_id}")
        try:
            futures = [pool.submit(ask, adapter) for _, adapter in asking]
            done = wait_for(futures, timeout=quote_timeout).done
        finally:
            pool.shutdown(wait=False, cancel_futures=True)  # a carrier still talking is not waited for
        for (row, _adapter), future in zip(asking, futures, strict=True):  # in the carriers' order
            if future not in done:
                problems.append(f"{row.code}: no answer within {quote_timeout:g} s")
                continue
            try:
                found, why_none = future.result()
            except (RemoteError, DomainError) as e:
                problems.append(f"{row.code}: {e}")
                continue
            if why_none:
                problems.append(f"{row.code}: {why_none}")
            for q in found:
                estimate = _estimate(history, row.code, request, q.etd_days)
                cq = cc.CarrierQuote(
                    row.code,
                    q.service,
                    q.service_name,
                    q.price,
                    q.cod_fee,
                    q.cod,
                    q.etd_days,
                    q.max_weight_g,
                    estimate.days if estimate.basis == "history" else None,
                )
                quotes.append(cq)
                by_key[cq.key] = (row, q)
    facts = cc.ShipmentFacts(
        request.payment == "cod",
        Decimal(order.row.grand_total),
        view.row.chargeable_weight_g or 0,
        _zone_key(request.pickup.address.pincode),
        request.to.pincode,
    )
    choice = cc.choose(quotes, facts, rules, lanes)
    if choice.chosen is None:
        detail = choice.summary + (f" ({'; '.join(problems)})" if problems else "")
        raise Conflict(f"no carrier can take shipment {shipment_number(shipment_id)}: {detail}", field="carrier")
    row, quote = by_key[choice.chosen.key]
    request = _with_service(request, quote.service)
    if row.kind == "rate_card":  # its AWB series is ours: taken in the recording transaction, gap-free
        with sync.unit() as uow:
            counter = ShippingRepository(uow.conn, sync.tenant_id)
            adapter = sync.connections.carrier(
                row, next_number=lambda: counter.next_invoice_number(f"AWB{row.id}"[:15], "awb")
            )
            booking = adapter.book(request)
            _record_booking(uow, view, row, booking, quote, choice, history, request)
            uow.commit()
    else:  # a remote booking: no transaction is held while the carrier answers
        booking = sync.connections.carrier(row).book(request)
        with sync.unit() as uow:
            _record_booking(uow, view, row, booking, quote, choice, history, request)
            uow.commit()
    return Booked(shipment_id, booking.awb, row.code, choice.as_dict())


def _with_service(request: cb.ShipmentRequest, service: str) -> cb.ShipmentRequest:
    from dataclasses import replace

    return replace(request, service=service)


def _zone_key(pincode: str) -> str:
    """Lanes and estimates group origins by the first three digits of the pincode (the sorting district)."""
    return str(pincode)[:3]


def _estimate(
    history: list[de.TransitRecord], carrier: str, request: cb.ShipmentRequest, stated: int | None
) -> de.Estimate:
    from ordermesh.adapters.pincode_directory import lookup
    from ordermesh.domain.zones import Zone, zone_for

    origin, destination = lookup(request.pickup.address.pincode), lookup(request.to.pincode)
    zone = zone_for(origin, destination) if origin and destination else Zone.NATIONAL
    return de.estimate_days(
        history, carrier, _zone_key(request.pickup.address.pincode), request.to.pincode, zone=zone, stated_days=stated
    )


def _history(uow: UnitOfWork) -> list[de.TransitRecord]:
    out = []
    for r in repo(uow).transit_history():
        days = (r.delivered_at.astimezone(IST).date() - r.picked_up_at.astimezone(IST).date()).days
        out.append(de.TransitRecord(r.carrier, _zone_key(r.origin), r.destination[:3], max(0, days)))
    out.reverse()  # oldest first
    return out


def _record_booking(
    uow: UnitOfWork,
    view: ShipmentView,
    row: CarrierRow,
    booking: cb.Booking,
    quote: cb.Quote,
    choice: cc.Choice,
    history: list[de.TransitRecord],
    request: cb.ShipmentRequest,
) -> None:
    current = repo(uow).shipment(view.row.id, for_update=True)
    if current.status != ShipmentStatus.PACKED.value:  # booked by someone else meanwhile
        raise Conflict(f"shipment {shipment_number(view.row.id)} is {current.status} now", field="status")
    estimate = _estimate(history, row.code, request, quote.etd_days)
    today = uow.now.astimezone(IST).date()
    eta = de.estimated_delivery(today, estimate)
    repo(uow).update(
        view.row.id,
        status=ShipmentStatus.READY_TO_SHIP.value,
        carrier_id=row.id,
        service=quote.service,
        courier=booking.courier or quote.service_name,
        awb=booking.awb,
        carrier_reference=booking.carrier_reference,
        selection=choice.as_dict(),
        estimated_delivery=eta,
        estimate_basis=estimate.explain(),
        status_at=uow.now,
        updated_at=uow.now,
    )
    if booking.label_pdf:
        repo(uow).put_document("carrier_label", view.row.id, booking.label_pdf, uow.now)
    repo(uow).put_document("label", view.row.id, _label(uow, view, row, booking, request), uow.now)
    _note(
        uow,
        view.row.order_id,
        "shipment.booked",
        f"Shipment {shipment_number(view.row.id)} booked with {booking.courier or quote.service_name} "
        f"({row.code}), AWB {booking.awb}: {choice.summary}",
        {"shipment_id": view.row.id, "awb": booking.awb},
    )
    uow.audit("shipment.booked", "shipment", str(view.row.id), after={"carrier": row.code, "awb": booking.awb})


def _label(
    uow: UnitOfWork, view: ShipmentView, row: CarrierRow, booking: cb.Booking, request: cb.ShipmentRequest
) -> bytes:
    def doc_address(a: cb.Address) -> DocAddress:
        state = find_state(a.state)
        return DocAddress(
            a.name,
            tuple(x for x in (a.line1, a.line2) if x),
            a.city,
            state.name if state else a.state,
            a.pincode,
            a.phone or None,
        )

    current = repo(uow).shipment(view.row.id)
    return label_doc.render_label(
        label_doc.LabelData(
            carrier=booking.courier or row.name,
            awb=booking.awb,
            order_number=request.order_number,
            ship_from=doc_address(request.pickup.address),
            ship_to=doc_address(request.to),
            payment=request.payment,
            cod_amount=request.cod_amount if request.payment == "cod" else Decimal(0),
            dead_weight_g=current.dead_weight_g,
            chargeable_weight_g=current.chargeable_weight_g,
            dimensions_cm=(Decimal(current.length_cm), Decimal(current.breadth_cm), Decimal(current.height_cm)),
            invoice_number=current.invoice_number or "",
            invoice_date=uow.now.astimezone(IST).date(),
            service=request.service,
        )
    )


def document(uow: UnitOfWork, kind: str, owner_id: int) -> bytes:
    require(uow.actor, Permission.SHIPPING_READ)
    if kind == "invoice":
        invoice = repo(uow).invoice_for(owner_id)
        if invoice is None:
            raise NotFound(f"shipment {owner_id} has no invoice yet", field="shipment")
        owner_id = invoice.id
    elif kind in ("label", "carrier_label"):
        get_shipment(uow, owner_id)
    content = repo(uow).document(kind, owner_id)
    if content is None:
        raise NotFound(f"no {kind} for {owner_id}", field=kind)
    return content


# -- manifests and pickups --------------------------------------------------------------------


@dataclass
class Manifested:
    manifest_id: int
    shipments: int
    pickup_reference: str | None
    pickup_error: str | None


def manifest(sync: Sync, carrier: str, location: str, pickup_date: date, *, cutoff: str | None = None) -> Manifested:
    """Close the day's batch for a carrier at a location: every ready shipment goes on one
    manifest (a PDF with each AWB's barcode), and a pickup is booked with the carrier. A shipment
    with no pickup scan by the cut-off raises an alert."""
    with sync.unit() as uow:
        require(uow.actor, Permission.SHIPPING_WRITE)
        row = _carrier_or_404(uow, carrier)
        loc = next((x for x in uow.all_locations() if x.spec.code == location), None)
        if loc is None:
            raise NotFound(f"location '{location}' not found", field="location")
        ready = repo(uow).ready_for_manifest(row.id, loc.id)
        if not ready:
            raise Conflict(f"nothing ready to hand over to {carrier} at {location}", field="shipments")
        cutoff_at = None
        if cutoff:
            hour, minute = (int(x) for x in cutoff.split(":"))
            cutoff_at = datetime(
                pickup_date.year, pickup_date.month, pickup_date.day, hour, minute, tzinfo=IST
            ).astimezone(UTC)
        manifest_id = repo(uow).add_manifest(
            {
                "carrier_id": row.id,
                "location_id": loc.id,
                "pickup_date": pickup_date,
                "closed_at": uow.now,
                "cutoff_at": cutoff_at,
            }
        )
        rows = []
        for s in ready:
            repo(uow).update(
                s.id,
                status=ShipmentStatus.MANIFESTED.value,
                manifest_id=manifest_id,
                status_at=uow.now,
                updated_at=uow.now,
            )
            order = uow.orders.get(s.order_id)
            assert order is not None
            a = order.row.shipping_address
            rows.append(
                manifest_doc.ManifestRow(
                    s.awb,
                    f"OM{s.order_id:07d}",
                    a.get("city", ""),
                    str(a.get("pincode", "")),
                    s.chargeable_weight_g or 0,
                    Decimal(s.cod_amount),
                )
            )
        la = loc.spec.address
        pdf = manifest_doc.render_manifest(
            manifest_doc.ManifestData(
                manifest_number=f"MF{manifest_id:07d}",
                carrier=row.name,
                location=DocAddress(
                    loc.spec.name, tuple(x for x in (la.line1, la.line2) if x), la.city, la.state.name, la.pincode
                ),
                pickup_date=pickup_date,
                shipments=tuple(rows),
                generated_at=uow.now,
            )
        )
        repo(uow).put_document("manifest", manifest_id, pdf, uow.now)
        uow.audit("manifest.closed", "manifest", str(manifest_id), after={"carrier": carrier, "shipments": len(rows)})
        bookings = [cb.Booking(s.awb, s.carrier_reference, s.courier) for s in ready]
        uow.commit()
    reference, error = None, None
    try:
        booked = sync.connections.carrier(row).request_pickup(bookings, pickup_date)
        reference = booked.reference or booked.detail or "requested"
    except (RemoteError, DomainError) as e:
        error = str(e)
    with sync.unit() as uow:
        repo(uow).update_manifest(manifest_id, pickup_reference=reference, pickup_error=error)
        if error:
            uow.alerts.open_one(
                "pickup_failed",
                f"manifest:{manifest_id}",
                f"pickup request to {carrier} failed: {error}"[:500],
                {"manifest_id": manifest_id},
                uow.now,
            )
        uow.commit()
    return Manifested(manifest_id, len(bookings), reference, error)


def check_missed_pickups(uow: UnitOfWork) -> int:
    """A manifested shipment with no pickup scan by its carrier's cut-off: an alert a person sees."""
    missed = repo(uow).missed_pickups(uow.now)
    for m in missed:
        uow.alerts.open_one(
            "missed_pickup",
            f"shipment:{m.id}",
            f"AWB {m.awb} was not picked up by the cut-off "
            f"({m.cutoff_at:%d %b %H:%M} UTC) of manifest MF{m.manifest_id:07d}",
            {"shipment_id": m.id},
            uow.now,
        )
    uow.commit()
    return len(missed)


# -- tracking ---------------------------------------------------------------------------------


@dataclass
class TrackingResult:
    recorded: int = 0
    changed: int = 0
    unknown: list[str] = field(default_factory=list)
    queued: bool = False  # stored for the workers to apply (webhooks not processed inline)


def record_tracking(uow: UnitOfWork, carrier_id: int, found: Sequence[cb.TrackingEvent], source: str) -> TrackingResult:
    """Scans from a carrier: each kept once; a shipment moves only forward (a late scan of an
    earlier state is kept in its history, not applied). The order follows: picked-up units leave
    stock and count as shipped, delivered ones as delivered.

    Scans of an AWB that is none of ours are kept and reported: one ``unknown_awb`` alert per
    AWB (subject ``carrier:awb``, its events in the alert's data), and the AWB in ``unknown``.

    However many scans come at once (a poll brings thousands), the work is set-based: one read of
    their shipments, one insert of their scans, one read of the orders that move, one update per
    table — the scans still apply one by one, in time order, in memory."""
    import json

    result = TrackingResult()
    ordered = sorted(found, key=lambda e: e.at)
    rows = repo(uow).by_awbs(carrier_id, [ev.awb for ev in ordered])
    strangers: dict[str, list[dict[str, Any]]] = {}
    scans: list[tuple[Any, cb.TrackingEvent, str]] = []
    for ev in ordered:
        row = rows.get(ev.awb)
        if row is None:
            if ev.awb not in strangers:
                result.unknown.append(ev.awb)
            strangers.setdefault(ev.awb, []).append(
                {
                    "at": ev.at.isoformat(),
                    "status": ev.status.value,
                    "carrier_status": ev.carrier_status,
                    "location": ev.location,
                    "detail": ev.detail,
                    "ndr_reason": ev.ndr_reason.value if ev.ndr_reason else None,
                    "raw": json.loads(json.dumps(dict(ev.raw), default=str)),
                }
            )
            continue
        scans.append((row, ev, f"{ev.carrier_status}|{ev.at.isoformat()}|{ev.status.value}"[:200]))
    new = repo(uow).add_events(
        [
            {
                "shipment_id": row.id,
                "at": ev.at,
                "status": ev.status.value,
                "carrier_status": ev.carrier_status[:100],
                "location": (ev.location or None),
                "detail": ev.detail,
                "ndr_reason": ev.ndr_reason.value if ev.ndr_reason else None,
                "source": source,
                "dedupe_key": key,
                "recorded_at": uow.now,
            }
            for row, ev, key in scans
        ]
    )
    moving = {
        row.id: _Moving(row, ShipmentStatus(row.status), row.picked_up_at, row.ndr_attempts) for row in rows.values()
    }
    steps: list[tuple[_Moving, cb.TrackingEvent]] = []
    taken: set[tuple[int, str]] = set()
    for row, ev, key in scans:
        if (row.id, key) not in new or (row.id, key) in taken:
            continue  # recorded before (or twice in this batch): kept once, applied once
        taken.add((row.id, key))
        result.recorded += 1
        m = moving[row.id]
        if ev.status is m.status and ev.status is not ShipmentStatus.NDR:
            continue
        if not can_ship_transition(m.status, ev.status) or m.status in SHIPMENT_FINAL:
            continue
        steps.append((m, ev))
        m.status = ev.status  # the next scan of this shipment is checked against where this one took it
        result.changed += 1
    if steps:
        _apply_steps(uow, steps)
    if strangers:
        carrier_row = repo(uow).carrier_by_id(carrier_id)
        code = carrier_row.code if carrier_row else str(carrier_id)
        for awb, kept in strangers.items():
            last = kept[-1]
            uow.alerts.open_one(
                "unknown_awb",
                f"{code}:{awb}"[:200],
                f"{code} sent {len(kept)} tracking event(s) ({source}) for AWB {awb}, which is none of our "
                f"shipments; the latest: {last['status']} ('{last['carrier_status']}') at {last['at']}"[:500],
                {"carrier": code, "awb": awb, "source": source, "events": kept},
                uow.now,
            )
    return result


@dataclass
class _Moving:
    """A shipment as a batch of scans moves it: its row, and its state advanced in memory."""

    row: Any
    status: ShipmentStatus
    picked_up_at: datetime | None
    ndr_attempts: int
    values: dict[str, Any] = field(default_factory=dict)  # what to write, merged over the batch


def _apply_steps(uow: UnitOfWork, steps: Sequence[tuple[_Moving, cb.TrackingEvent]]) -> None:
    """Apply accepted status changes in time order: the shipment's new state, units out of stock
    when first picked up, shipped/delivered counts on the order's lines, a timeline entry and an
    event for each, the order's status following, the NDR policy. Reads and writes are per batch."""
    from ordermesh.adapters.db.orders import quantities_of
    from ordermesh.services.inventory import StockLine, ship_in_transaction
    from ordermesh.services.orders import Timeline, _announce

    order_ids = {m.row.order_id for m, _ in steps}
    orders, lines_of = uow.orders.lock_many(sorted(order_ids))
    moves_units = {
        m.row.id
        for m, ev in steps
        if ev.status is ShipmentStatus.DELIVERED or (m.row.picked_up_at is None and ev.status in SHIPPED)
    }
    shipment_lines = repo(uow).lines_of_many(sorted(moves_units))
    siblings = repo(uow).statuses_for_orders(sorted(order_ids))
    lines = {oid: {line.id: dict(line._mapping) for line in found} for oid, found in lines_of.items()}
    status = {oid: OrderStatus(row.status) for oid, row in orders.items()}
    locations = {loc.id: loc.spec.code for loc in uow.all_locations()}
    timelines: dict[int, Timeline] = {}
    line_counts: dict[int, dict[str, int]] = {}  # order line id -> its new counts
    for m, ev in steps:
        row, new, order_id = m.row, ev.status, m.row.order_id
        counts = lines[order_id]
        values: dict[str, Any] = {"status": new.value, "status_at": ev.at, "updated_at": uow.now}
        attempts_before = m.ndr_attempts
        if m.picked_up_at is None and new in SHIPPED:  # the units leave the building
            units = shipment_lines.get(row.id, [])
            ship_in_transaction(
                uow,
                [StockLine(x.sku, locations[row.location_id], x.quantity) for x in units],
                reference=f"order:{order_id}",
            )
            values["picked_up_at"] = m.picked_up_at = ev.at
            for x in units:
                line = counts[x.order_line_id]
                line["allocated"] -= x.quantity
                line["shipped"] += x.quantity
                line_counts.setdefault(line["id"], {}).update(allocated=line["allocated"], shipped=line["shipped"])
        if new is ShipmentStatus.DELIVERED:
            values["delivered_at"] = ev.at
            for x in shipment_lines.get(row.id, []):
                line = counts[x.order_line_id]
                line["delivered"] += x.quantity
                line_counts.setdefault(line["id"], {})["delivered"] = line["delivered"]
        if new is ShipmentStatus.NDR:
            m.ndr_attempts += 1
            values["ndr_attempts"] = m.ndr_attempts
        m.values.update(values)
        siblings.setdefault(order_id, {})[row.id] = new.value
        timeline = timelines.setdefault(order_id, Timeline(uow, order_id))
        reason = f" ({ev.ndr_reason.value})" if ev.ndr_reason else ""
        timeline.add(
            f"shipment.{new.value}",
            f"Shipment {shipment_number(row.id)} (AWB {row.awb}): {new.value.replace('_', ' ')}{reason}"
            + (f" at {ev.location}" if ev.location else "")
            + (f" — {ev.detail}" if ev.detail else ""),
            {"shipment_id": row.id, "status": new.value, "carrier_status": ev.carrier_status},
        )
        uow.emit(events.Event(f"shipment.{new.value}", {"shipment_id": row.id, "order_id": order_id, "awb": row.awb}))
        quantities = [quantities_of(SimpleNamespace(**line)) for line in counts.values()]
        target = _order_follows(status[order_id], quantities, siblings[order_id].values())
        if target is not None:
            _announce(uow, order_id, timeline, [], [], status[order_id].value, target)
            status[order_id] = target
        if new is ShipmentStatus.NDR:
            _ndr_policy(uow, row, ev, attempts_before, timeline)
    repo(uow).update_many([{"id": m.row.id, **m.values} for m in {id(m): m for m, _ in steps}.values()])
    if line_counts:
        uow.orders.set_line_counts([{"id": line_id, **counted} for line_id, counted in line_counts.items()])
    for order_id, now_status in status.items():
        if now_status.value != orders[order_id].status:
            uow.orders.update(order_id, status=now_status.value, updated_at=uow.now)
    uow.orders.add_events_of({order_id: t.take() for order_id, t in timelines.items()})


def _order_follows(
    current: OrderStatus, quantities: Sequence[Any], shipment_statuses: Iterable[str]
) -> OrderStatus | None:
    """The status an order moves to from its lines' counts and its shipments' statuses, or None
    when it stays."""
    shipments = [ShipmentStatus(s) for s in shipment_statuses if s != "cancelled"]
    returning = (ShipmentStatus.RTO_INITIATED, ShipmentStatus.RTO_IN_TRANSIT, ShipmentStatus.RTO_DELIVERED)
    if shipments and all(s is ShipmentStatus.RTO_DELIVERED for s in shipments):
        target = OrderStatus.RTO
    elif (
        shipments
        and any(s in returning for s in shipments)
        and current in (OrderStatus.SHIPPED, OrderStatus.PARTIALLY_SHIPPED)
    ):
        target = current  # on its way back: the order says rto when every box is home
    else:
        target = derive_status(list(quantities), holds=[], confirmed=True)
        if target is OrderStatus.ALLOCATED and shipments:
            target = OrderStatus.IN_FULFILMENT
    if target is current or not can_transition(current, target):
        return None
    return target


def _ndr_policy(uow: UnitOfWork, row: Any, ev: cb.TrackingEvent, attempts_before: int, timeline: Any) -> None:
    policy = ndr_rules.NdrPolicy.from_dict((uow.tenant_settings().get("shipping") or {}).get("ndr") or {})
    decision = ndr_rules.next_step(
        policy, attempts_before + 1, ev.ndr_reason or NdrReason.OTHER, ev.at.astimezone(IST).date()
    )
    if decision.step is ndr_rules.NdrStep.RTO:
        uow.emit(
            events.Event(
                "shipment.ndr_action",
                {"shipment_id": row.id, "action": "rto", "automatic": True, "reason": decision.reason},
            )
        )
        timeline.add(
            "shipment.ndr_rto",
            f"Return to origin requested automatically: {decision.reason}",
            {"shipment_id": row.id},
        )


def receive_carrier_webhook(
    sync: Sync, tenant_code: str, carrier_code: str, headers: Mapping[str, str], body: bytes
) -> TrackingResult:
    """A carrier's tracking push: authenticated with its token or signature, then stored raw in
    the carrier inbox. Processed inline (the default), it is applied in the same transaction that
    stores it; queued (``sync.inline`` false), it waits for the workers, which apply pushes in
    batches (:func:`drain_pushes`). A push that cannot be applied is kept, failed, with its error.
    An AWB that is none of ours is kept in an ``unknown_awb`` alert and named in ``unknown``."""
    kept = _kept_headers(headers)
    with sync.uow(tenant_id=None) as uow:
        tenant = _push_tenant(uow, tenant_code)
        row, adapter = _push_carrier(uow, sync.connections, carrier_code, headers, body)
        if not sync.inline:
            repo(uow).store_received([(tenant.id, row.id, kept, body)], uow.now)
            uow.commit()
            return TrackingResult(queued=True)
        try:
            result = record_tracking(uow, row.id, adapter.parse_webhook(headers, body), "webhook")
            repo(uow).store_push(row.id, kept, body, uow.now, state="processed")
            uow.commit()
            return result
        except Exception as e:
            failure = e
    # Not applied: the push is kept, failed, with the reason, in a transaction of its own.
    with sync.uow(tenant_id=tenant.id) as uow:
        repo(uow).store_push(row.id, kept, body, uow.now, state="failed", error=_reason(failure))
        uow.commit()
    raise failure


def _push_tenant(uow: UnitOfWork, code: str) -> Any:
    """The tenant a push names, this unit of work scoped to it."""
    tenant = uow.tenants.by_code(code)
    if tenant is None:
        raise NotFound(f"no tenant '{code}'", field="tenant")
    uow.use_tenant(tenant.id, tenant)
    return tenant


def _push_carrier(
    uow: UnitOfWork, connections: Connections, code: str, headers: Mapping[str, str], body: bytes
) -> tuple[CarrierRow, Any]:
    """The carrier account a push names and its adapter, once the push's token or signature has
    been checked against that account."""
    from ordermesh.domain.errors import Unauthorized

    row = uow.carrier(code)  # from this process's cache while the tenant's carriers are unchanged
    if row is None:
        raise NotFound(f"carrier '{code}' not found", field="carrier")
    adapter = connections.carrier(row)
    try:
        adapter.verify_webhook(headers, body)
    except cb.BadSignature as e:
        raise Unauthorized(f"carrier webhook check failed: {e}") from None
    return row, adapter


@dataclass(frozen=True)
class _Push:
    tenant: str
    carrier: str
    headers: Mapping[str, str]
    body: bytes


class PushIntake:
    """Queued tracking pushes (``ORDERMESH_WEBHOOKS_INLINE=false``) stored by group commit
    (services.group_commit).

    Carriers push one scan per request, in bursts. Each request hands its push to this process's
    writer thread and waits; the writer takes every push waiting at that moment and, in one
    transaction, reads each named tenant's row (so a carrier account changed or removed by another
    process is seen, as on the one-at-a-time path), checks every push's token, stores the good ones
    in one statement and commits; only then is each request answered. A push is acknowledged only
    once it is durable, and many pushes share one round trip, one commit and one flush of the
    write-ahead log. A push naming no tenant or carrier, or failing its check, is answered with its
    own error and stored by nobody; should the transaction fail, every push of the batch gets that
    error (the carrier sends them again) and nothing of the batch is kept."""

    def __init__(self, uow: UowFactory, connections: Connections, *, max_batch: int = 500):
        self._uow, self._connections = uow, connections
        self._writer: GroupWriter[_Push, TrackingResult] = GroupWriter(
            "tracking intake", self._store, max_batch=max_batch
        )

    def submit(self, tenant: str, carrier: str, headers: Mapping[str, str], body: bytes) -> Future[TrackingResult]:
        """The push, queued for the writer; the future is done once it is stored (or refused)."""
        return self._writer.submit(_Push(tenant, carrier, headers, body))

    def close(self, timeout: float = 10) -> None:
        """Store what is waiting, then end the writer."""
        self._writer.close(timeout)

    def _store(self, batch: list[Waiting[_Push, TrackingResult]]) -> None:
        # Should the transaction fail, GroupWriter gives its error to every push not yet refused.
        taken: list[Waiting[_Push, TrackingResult]] = []
        with self._uow(tenant_id=None) as uow:
            rows: list[tuple[int, int, dict[str, Any], bytes]] = []
            tenants: dict[str, Any] = {}  # code -> its row, or why it cannot take pushes
            for w in sorted(batch, key=lambda w: w.item.tenant):  # a tenant's pushes together: one scope each
                push = w.item
                try:
                    if push.tenant not in tenants:
                        try:
                            tenants[push.tenant] = _push_tenant(uow, push.tenant)
                        except DomainError as e:
                            tenants[push.tenant] = e
                    if isinstance(tenant := tenants[push.tenant], DomainError):
                        raise tenant
                    row, _ = _push_carrier(uow, self._connections, push.carrier, push.headers, push.body)
                except DomainError as e:
                    w.done.set_exception(e)
                    continue
                rows.append((tenant.id, row.id, _kept_headers(push.headers), push.body))
                taken.append(w)
            if rows:
                repo(uow).store_received(rows, uow.now)
                uow.commit()
        for w in taken:
            w.done.set_result(TrackingResult(queued=True))


_SECRET_HEADER_PARTS = ("auth", "token", "key", "secret", "signature", "cookie")


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A push's headers as kept with it: none that could carry a credential."""
    return {k.lower(): v for k, v in headers.items() if not any(p in k.lower() for p in _SECRET_HEADER_PARTS)}


def _reason(e: Exception) -> str:
    return str(e) if isinstance(e, DomainError | RemoteError) else f"{type(e).__name__}: {e}"


def drain_pushes(sync: Sync, *, batch: int = 500) -> int:
    """Apply queued tracking pushes, oldest first, ``batch`` at a time: each batch in one
    transaction, its scans applied set-based. A push that cannot be read is marked failed and the
    rest go on; should applying the batch fail as a whole, its pushes are applied one at a time, so
    only the bad one stays failed. Pushes another worker holds are skipped. It goes on while
    batches come full; pushes that arrive while a partial batch is applied wait for the next call
    (the job's next round), so a steady trickle is applied in batches of a round's worth, not
    chased one or two at a time (each batch has a cost of its own). Returns how many pushes were
    taken."""
    taken = 0
    full = True
    while full:
        with sync.unit() as uow:
            items = repo(uow).take_pushes(batch)
            if not items:
                return taken
            full = len(items) == batch
            carriers = {c.id: c for c in repo(uow).carriers()}
            unread: list[tuple[int, str]] = []
            read: list[int] = []
            scans: dict[int, list[cb.TrackingEvent]] = {}
            for item in items:
                try:
                    adapter = sync.connections.carrier(carriers[item.carrier_id])
                    scans.setdefault(item.carrier_id, []).extend(adapter.parse_webhook(item.headers, item.body))
                    read.append(item.id)
                except Exception as e:
                    unread.append((item.id, f"cannot read the push: {_reason(e)}"))
            try:
                for carrier_id, found in scans.items():
                    record_tracking(uow, carrier_id, found, "webhook")
            except Exception:
                log.exception("a batch of %d tracking pushes failed; applying them one at a time", len(items))
            else:
                repo(uow).finish_pushes(read, "processed", None, uow.now)
                for push_id, error in unread:
                    repo(uow).finish_pushes([push_id], "failed", error, uow.now)
                uow.commit()
                taken += len(items)
                continue
        for item in items:
            _apply_push(sync, item.id)
        taken += len(items)
    return taken


def _apply_push(sync: Sync, push_id: int) -> None:
    """One queued push on its own: applied, or marked failed with the reason."""
    try:
        with sync.unit() as uow:
            item = repo(uow).push(push_id)
            if item is None or item.state != "received":
                return
            carrier = repo(uow).carrier_by_id(item.carrier_id)
            assert carrier is not None
            found = sync.connections.carrier(carrier).parse_webhook(item.headers, item.body)
            record_tracking(uow, item.carrier_id, found, "webhook")
            repo(uow).finish_pushes([push_id], "processed", None, uow.now)
            uow.commit()
    except Exception as e:
        log.warning("tracking push %s failed: %s", push_id, e)
        with sync.unit() as uow:
            repo(uow).finish_pushes([push_id], "failed", _reason(e), uow.now)
            uow.commit()


def tracking_pushes(uow: UnitOfWork, *, state: str | None, limit: int = 50) -> list[dict[str, Any]]:
    """The carrier inbox, newest first: what each push was, its state and error."""
    require(uow.actor, Permission.SHIPPING_READ)
    if state is not None and state not in ("received", "processed", "failed"):
        raise ValidationFailed("state must be received, processed or failed", field="state")
    codes = {c.id: c.code for c in repo(uow).carriers()}
    return [
        {
            "id": r.id,
            "carrier": codes.get(r.carrier_id, str(r.carrier_id)),
            "state": r.state,
            "error": r.error,
            "attempts": r.attempts,
            "received_at": r.received_at,
            "processed_at": r.processed_at,
            "body": r.body.decode("utf-8", "replace")[:4000],
        }
        for r in repo(uow).pushes(state=state, limit=limit)
    ]


def retry_push(uow: UnitOfWork, push_id: int) -> None:
    """Queue a failed push again (once what failed it is put right); the workers apply it."""
    require(uow.actor, Permission.SHIPPING_WRITE)
    item = repo(uow).push(push_id)
    if item is None:
        raise NotFound(f"tracking push {push_id} not found", field="push")
    if item.state != "failed":
        raise Conflict(f"tracking push {push_id} is {item.state}; only a failed push is retried", field="push")
    repo(uow).finish_pushes([push_id], "received", None, uow.now)
    uow.audit("shipping.push_retried", "carrier_push", str(push_id), before={"error": item.error})
    uow.commit()


def poll_tracking(sync: Sync, carrier: str) -> TrackingResult:
    """For carriers without webhooks (or as their safety net): ask for every moving shipment's scans."""
    with sync.unit(write=False) as uow:
        row = _carrier_or_404(uow, carrier)
        awbs = [r.awb for r in repo(uow).moving(row.id)]
    if not awbs or row.kind == "rate_card":
        return TrackingResult()
    found = sync.connections.carrier(row).track(awbs)
    with sync.unit() as uow:
        result = record_tracking(uow, row.id, found, "poll")
        uow.commit()
    return result


def record_scan(
    uow: UnitOfWork,
    shipment_id: int,
    status: str,
    *,
    location: str | None = None,
    detail: str | None = None,
    ndr_reason: str | None = None,
) -> TrackingResult:
    """A status entered by a person or an own fleet (the rate-card carrier has no tracking API)."""
    require(uow.actor, Permission.SHIPPING_WRITE)
    row = get_shipment(uow, shipment_id).row
    try:
        new = ShipmentStatus(status)
        reason = NdrReason(ndr_reason) if ndr_reason else None
    except ValueError as e:
        raise ValidationFailed(str(e), field="status") from None
    if not can_ship_transition(ShipmentStatus(row.status), new):
        raise Conflict(f"a shipment cannot go from {row.status} to {new.value}", field="status")
    ev = cb.TrackingEvent(row.awb or shipment_number(row.id), new, "entered", uow.now, location, detail, reason)
    result = record_tracking(uow, row.carrier_id, [ev], "person") if row.awb else TrackingResult()
    uow.commit()
    return result


# -- NDR --------------------------------------------------------------------------------------


def ndr_queue(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Shipments whose last delivery attempt failed, oldest first, with the carrier's reason."""
    require(uow.actor, Permission.SHIPPING_READ)
    out = []
    for row in reversed(repo(uow).page(status="ndr", limit=500)):
        last = [e for e in repo(uow).events(row.id) if e.status == "ndr"]
        reason = last[-1] if last else None
        out.append(
            {
                "shipment_id": row.id,
                "number": shipment_number(row.id),
                "awb": row.awb,
                "order_id": row.order_id,
                "attempts": row.ndr_attempts,
                "reason": reason.ndr_reason if reason else None,
                "carrier_words": reason.detail if reason else None,
                "since": row.status_at,
            }
        )
    return out


def ndr_action(
    sync: Sync,
    shipment_id: int,
    action: str,
    *,
    reattempt_on: date | None = None,
    phone: str | None = None,
    address: Mapping[str, Any] | None = None,
    comment: str | None = None,
) -> str:
    """A person's decision on a failed delivery, sent to the carrier: re-attempt (on a date),
    update the address or phone, or return to origin."""
    with sync.unit(write=False) as uow:
        require(uow.actor, Permission.SHIPPING_WRITE)
        view = get_shipment(uow, shipment_id)
        if view.row.status != "ndr":
            raise Conflict(
                f"shipment {shipment_number(shipment_id)} is {view.row.status}, not waiting on an NDR", field="status"
            )
        if action not in ("reattempt", "update_address", "rto"):
            raise ValidationFailed("action must be reattempt, update_address or rto", field="action")
        row = repo(uow).carrier_by_id(view.row.carrier_id)
        assert row is not None
    new_address = None
    if address:
        new_address = cb.Address(
            str(address.get("name", "")),
            str(address.get("line1", "")),
            str(address.get("city", "")),
            str(address.get("state", "")),
            str(address.get("pincode", "")),
            str(address.get("phone") or phone or ""),
            address.get("line2"),
        )
    sync.connections.carrier(row).ndr_action(
        cb.NdrAction(view.row.awb, action, reattempt_on, new_address, phone, comment)
    )
    with sync.unit() as uow:
        _note(
            uow,
            view.row.order_id,
            "shipment.ndr_action",
            f"NDR on {shipment_number(shipment_id)}: {action.replace('_', ' ')}"
            + (f" on {reattempt_on:%d %b}" if reattempt_on else "")
            + (f" — {comment}" if comment else ""),
            {"shipment_id": shipment_id, "action": action},
        )
        uow.audit("shipment.ndr_action", "shipment", str(shipment_id), after={"action": action})
        uow.commit()
    return action


def rto_awaiting_receipt(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Shipments back at the origin whose units have not been received into stock yet."""
    require(uow.actor, Permission.SHIPPING_READ)
    return [
        {
            "shipment_id": r.id,
            "number": shipment_number(r.id),
            "awb": r.awb,
            "order_id": r.order_id,
            "since": r.status_at,
        }
        for r in repo(uow).page(status="rto_delivered", limit=500)
    ]


# -- the public tracking page -----------------------------------------------------------------


def public_tracking(uow: UnitOfWork, token: str) -> dict[str, Any]:
    """What a buyer sees behind the unguessable link: status, estimate and scans — no personal data."""
    row = ShippingRepository(uow.conn, 0).by_token(token) if len(token) >= 20 else None
    if row is None:
        raise NotFound("no shipment for this link", field="token")
    scoped = ShippingRepository(uow.conn, row.tenant_id)
    carrier = scoped.carrier_by_id(row.carrier_id) if row.carrier_id else None
    return {
        "number": shipment_number(row.id),
        "status": row.status,
        "carrier": row.courier or (carrier.name if carrier else None),
        "awb": row.awb,
        "estimated_delivery": row.estimated_delivery,
        "events": [
            {"at": e.at, "status": e.status, "location": e.location, "detail": e.detail} for e in scoped.events(row.id)
        ],
    }


# -- estimate accuracy ------------------------------------------------------------------------


def estimate_accuracy(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Share of delivered shipments that arrived within a day of their estimate, by carrier."""
    require(uow.actor, Permission.SHIPPING_READ)
    rows = [
        de.DeliveredShipment(r.carrier, r.estimated_delivery, r.delivered_at.astimezone(IST).date())
        for r in repo(uow).transit_history()
        if r.estimated_delivery is not None
    ]
    return [a.as_dict() for a in de.accuracy_report(rows)]


# -- carrier credentials and the worker's NDR decisions ---------------------------------------


def set_carrier_credentials(uow: UnitOfWork, code: str, credentials: Mapping[str, Any], seal: Any) -> None:
    """Seal and keep a carrier account's secrets, replacing the ones kept before (none: removed).
    Which keys were set is audited; the values never are."""
    require(uow.actor, Permission.CARRIERS_WRITE)
    row = _carrier_or_404(uow, code)
    errors = Collector()
    for key, value in credentials.items():
        if not isinstance(key, str) or not key.strip():
            errors.add("credentials", "every secret needs a name")
        elif not isinstance(value, str) or not value:
            errors.add(f"credentials.{key}", "must be a non-empty string")
    errors.raise_if_any()
    sealed = seal({k: str(v) for k, v in credentials.items()}) if credentials else None
    repo(uow).update_carrier(row.id, {"credentials": sealed}, uow.now)
    uow.audit("carrier.credentials_set", "carrier", code, after={"keys": sorted(credentials)})
    uow.commit()


def send_ndr_decision(sync: Sync, shipment_id: int, action: str) -> bool:
    """Send a decision taken automatically on a failed delivery (the ``shipment.ndr_action`` event
    of the NDR policy) to the carrier. Idempotent: a shipment no longer waiting on an NDR, or whose
    decision for this attempt was sent already, is left alone (False). Raises when the carrier did
    not take it, so the worker tries again later."""
    if action not in ("reattempt", "rto"):
        raise ValidationFailed("an automatic NDR decision is reattempt or rto", field="action")
    with sync.unit(write=False) as uow:
        row = repo(uow).shipment(shipment_id)
        if row is None:
            raise NotFound(f"shipment {shipment_id} not found", field="shipment")
        if row.status != ShipmentStatus.NDR.value or not row.awb or row.carrier_id is None:
            return False
        for e in uow.orders.events(row.order_id):  # sent before (the event retried after the call)?
            data = e.data or {}
            if (e.kind, data.get("automatic"), data.get("shipment_id"), data.get("action"), data.get("attempt")) == (
                "shipment.ndr_action",
                True,
                row.id,
                action,
                row.ndr_attempts,
            ):
                return False
        carrier = repo(uow).carrier_by_id(row.carrier_id)
        assert carrier is not None
    sync.connections.carrier(carrier).ndr_action(cb.NdrAction(row.awb, action))
    with sync.unit() as uow:
        _note(
            uow,
            row.order_id,
            "shipment.ndr_action",
            f"NDR on {shipment_number(shipment_id)}: {action.replace('_', ' ')} sent to {carrier.code} "
            f"after attempt {row.ndr_attempts}",
            {"shipment_id": shipment_id, "action": action, "automatic": True, "attempt": row.ndr_attempts},
        )
        uow.audit(
            "shipment.ndr_action",
            "shipment",
            str(shipment_id),
            after={"action": action, "automatic": True, "attempt": row.ndr_attempts},
        )
        uow.commit()
    return True


# -- settings ---------------------------------------------------------------------------------

SHIPPING_KEYS = ("pickup_names", "boxes", "volumetric_divisor", "carrier_choice", "ndr")
INVOICE_KEYS = ("prefix", "width", "short_year", "eway_bill_threshold")


def get_settings(uow: UnitOfWork, section: str) -> dict[str, Any]:
    require(uow.actor, Permission.SHIPPING_READ)
    return dict(uow.tenant_settings().get(_section(section)) or {})


def set_settings(uow: UnitOfWork, section: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the tenant's shipping or invoice settings, every field checked and named; the old
    and new settings are kept in the audit trail."""
    from ordermesh.domain.shipping import box_presets_from_list

    require(uow.actor, Permission.SETTINGS_WRITE)
    name = _section(section)
    errors = Collector()
    known = SHIPPING_KEYS if name == "shipping" else INVOICE_KEYS
    for key in sorted(set(raw) - set(known)):
        errors.add(f"{name}.{key}", f"unknown setting; use {', '.join(known)}")
    if name == "shipping":
        names = raw.get("pickup_names", {})
        if not isinstance(names, Mapping) or not all(isinstance(v, str) and v for v in names.values()):
            errors.add("shipping.pickup_names", "must map location codes to the names carriers know them by")
        if "boxes" in raw:
            try:
                box_presets_from_list(raw["boxes"], "shipping.boxes")
            except ValidationFailed as e:
                for fe in e.errors:
                    errors.add(fe.field, fe.message)
        divisor = raw.get("volumetric_divisor", 5000)
        if isinstance(divisor, bool) or not isinstance(divisor, int) or not 1000 <= divisor <= 10000:
            errors.add("shipping.volumetric_divisor", "must be a whole number from 1000 to 10000 (usually 5000)")
        cc.ChoiceRules.from_dict(raw.get("carrier_choice") or {}, errors, "shipping.carrier_choice")
        ndr_rules.NdrPolicy.from_dict(raw.get("ndr") or {}, errors, "shipping.ndr")
    else:
        try:
            series = gst.InvoiceSeries(
                prefix=str(raw.get("prefix", "INV")),
                width=int(raw.get("width", 6)),
                short_year=bool(raw.get("short_year", True)),
            )
            if problem := series.problem():
                errors.add("invoices", problem)
        except (ValueError, TypeError) as e:
            errors.add("invoices.prefix", str(e))
        try:
            if Decimal(str(raw.get("eway_bill_threshold", "50000"))) <= 0:
                errors.add("invoices.eway_bill_threshold", "must be a positive amount")
        except ArithmeticError:
            errors.add("invoices.eway_bill_threshold", "must be an amount in rupees")
    errors.raise_if_any()
    assert uow.tenant_id is not None
    settings = dict(uow.tenant_settings())
    before = settings.get(name) or {}
    settings[name] = dict(raw)
    uow.tenants.set_settings(uow.tenant_id, settings)
    uow.audit(f"settings.{name}_changed", "settings", name, before=before, after=dict(raw))
    uow.commit()
    return dict(raw)


def _section(section: str) -> str:
    if section not in ("shipping", "invoices"):
        raise NotFound(f"no settings section '{section}'", field="section")
    return section
