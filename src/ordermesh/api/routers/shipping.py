"""Shipping over HTTP: carrier accounts, shipments from packing to the buyer's door (scan, pack,
book, documents, manifests, statuses, NDRs), carriers' tracking webhooks and the public tracking
page a buyer opens from the link in their message.

Booking, manifesting and NDR actions call the carrier: the request's own transaction is ended first
(``_release``) and the service opens its units of work around the call, acting as the caller."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, BeforeValidator, Field, StrictBool, StrictInt

from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.adapters.remote import BadPayload, RemoteError
from ordermesh.api.deps import ContainerDep, UowDep
from ordermesh.api.schemas.common import PROBLEM_RESPONSES, Input, NumberLike, PageOut, path_param
from ordermesh.bootstrap import Container
from ordermesh.domain.access import Permission
from ordermesh.domain.errors import Conflict, DomainError, NotFound, ValidationFailed
from ordermesh.domain.statuses import NdrReason, ShipmentStatus
from ordermesh.services import channel_sync as cs
from ordermesh.services import shipping
from ordermesh.services.common import require
from ordermesh.web.frame import render

MAX_ID = 2**63 - 1
ShipmentId = Annotated[int, Path(ge=1, le=MAX_ID, description="the shipment's id")]
OrderId = Annotated[int, Path(ge=1, le=MAX_ID, description="the order's id")]
ManifestId = Annotated[int, Path(ge=1, le=MAX_ID, description="the manifest's id")]
PDF = "application/pdf"
PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {PDF: {"schema": {"type": "string", "format": "binary"}}}, "description": "the PDF"}
}
CARRIER_FAILED: dict[int | str, dict[str, Any]] = {502: {"description": "The carrier's API refused or failed"}}
NUMBER = re.compile(r"^\d+(\.\d+)?$")

router = APIRouter(prefix="/api/v1", tags=["shipping"], responses=PROBLEM_RESPONSES)
webhooks = APIRouter(tags=["shipping"], responses=PROBLEM_RESPONSES)
public = APIRouter(include_in_schema=False)


class CarrierFailed(DomainError):
    """The carrier's API said no (or was down): its words, answered 502."""

    code = "carrier-failed"
    title = "The carrier's API refused or failed"
    status = 502


def _iso_date(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date), Field(strict=False, description="YYYY-MM-DD")]


# -- carriers ---------------------------------------------------------------------------------


class CarrierIn(Input):
    code: str = Field(min_length=1, max_length=64, examples=["fleet"])
    kind: Literal["shiprocket", "delhivery", "rate_card"]
    name: str = Field(min_length=1, max_length=200)
    base_url: str | None = Field(None, max_length=500, description="the carrier API's address (not for rate_card)")
    credentials: dict[str, str] | None = Field(
        None,
        description="email/password/webhook_token (Shiprocket), api_token/webhook_token (Delhivery); "
        "sealed at rest, never returned",
    )
    settings: dict[str, Any] | None = Field(
        None, description="pickup names, fallback_email (Shiprocket), tariff/awb_prefix/awb_width (rate_card) …"
    )
    active: StrictBool = True


class CarrierOut(BaseModel):
    code: str
    kind: str
    name: str
    base_url: str | None
    settings: dict[str, Any]
    active: bool
    credentials_set: bool


def _carrier_out(row: Any) -> dict[str, Any]:
    return {
        "code": row.code,
        "kind": row.kind,
        "name": row.name,
        "base_url": row.base_url,
        "settings": row.settings,
        "active": row.active,
        "credentials_set": bool(row.credentials),
    }


@router.post("/carriers", status_code=201, response_model=CarrierOut)
def create_carrier(body: CarrierIn, uow: UowDep, container: ContainerDep) -> dict[str, Any]:
    """Add a carrier account. Its credentials are sealed and never returned (``credentials_set`` says
    whether there are some)."""
    row = shipping.create_carrier(uow, body.model_dump(exclude_none=True), container.connections.vault.seal)
    return _carrier_out(row)


@router.get("/carriers", response_model=list[CarrierOut])
def list_carriers(uow: UowDep) -> list[dict[str, Any]]:
    return [_carrier_out(r) for r in shipping.list_carriers(uow)]


# -- shipments --------------------------------------------------------------------------------


class ShipmentLineOut(BaseModel):
    sku: str
    name: str
    quantity: int
    packed: int
    barcodes: list[str] | None


class ShipmentOut(BaseModel):
    id: int
    number: str
    order_id: int
    location: str
    status: str
    payment_method: str
    cod_amount: str
    declared_value: str
    lines: list[ShipmentLineOut]
    box: str | None
    dimensions_cm: list[str] | None
    dead_weight_g: int | None
    volumetric_weight_g: int | None
    chargeable_weight_g: int | None
    carrier: str | None
    service: str | None
    courier: str | None
    awb: str | None
    selection: dict[str, Any] | None = Field(
        description="the carrier choice: the chosen quote, and every other quote with the sentence saying why it lost"
    )
    invoice_number: str | None
    manifest_id: int | None
    tracking_token: str = Field(description="the public tracking page is /track/{tracking_token}")
    estimated_delivery: date | None
    estimate_basis: str | None
    ndr_attempts: int
    status_at: datetime
    created_at: datetime


class ShipmentPage(PageOut):
    items: list[ShipmentOut]


def _view(uow: UnitOfWork, shipment_id: int) -> dict[str, Any]:
    """The shipment as committed, read in a fresh unit of work of the same caller."""
    with uow.reopen() as fresh:
        return shipping.get_shipment(fresh, shipment_id).as_dict()


@router.post("/orders/{order_id}/shipments", status_code=201, response_model=list[ShipmentOut])
def create_shipments(order_id: OrderId, uow: UowDep) -> list[dict[str, Any]]:
    """One shipment per location for the order's allocated units not yet in a shipment."""
    ids = shipping.create_shipments(uow, order_id)
    with uow.reopen() as fresh:
        return [shipping.get_shipment(fresh, i).as_dict() for i in ids]


@router.get("/shipments", response_model=ShipmentPage)
def list_shipments(
    uow: UowDep,
    status: ShipmentStatus | None = None,
    location: str | None = Query(None, max_length=64, description="a location code"),
    carrier: str | None = Query(None, max_length=64, description="a carrier code"),
    cursor: str | None = Query(None, max_length=20),
    limit: int = Query(50, ge=1, le=200),
) -> dict[str, Any]:
    """Newest first, keyset-paged."""
    require(uow.actor, Permission.SHIPPING_READ)
    repo = shipping.repo(uow)
    codes = {loc.id: loc.spec.code for loc in uow.all_locations()}
    location_id = None
    if location is not None:
        location_id = next((i for i, c in codes.items() if c == location), None)
        if location_id is None or not uow.actor.sees_location(location):
            raise ValidationFailed(f"no location '{location}'", field="location")
    carrier_id = None
    carriers = {c.id: c.code for c in repo.carriers()}
    if carrier is not None:
        carrier_id = next((i for i, c in carriers.items() if c == carrier), None)
        if carrier_id is None:
            raise ValidationFailed(f"no carrier '{carrier}'", field="carrier")
    before = None
    if cursor is not None:
        if not cursor.isdigit() or not 1 <= int(cursor) <= MAX_ID:
            raise ValidationFailed("not a cursor this list gave", field="cursor")
        before = int(cursor)
    items: list[dict[str, Any]] = []
    while True:  # a key that sees only some locations skips the others' shipments
        rows = repo.page(
            status=status.value if status else None,
            location_id=location_id,
            carrier_id=carrier_id,
            before_id=before,
            limit=limit,
        )
        for row in rows:
            before = row.id
            code = codes.get(row.location_id, "?")
            if uow.actor.sees_location(code):
                view = shipping.ShipmentView(row, repo.lines(row.id), code, carriers.get(row.carrier_id))
                items.append(view.as_dict())
                if len(items) == limit:
                    return {"items": items, "next_cursor": str(before)}
        if len(rows) < limit:
            return {"items": items, "next_cursor": None}


@router.get("/shipments/rto-awaiting-receipt")
def rto_awaiting_receipt(uow: UowDep) -> list[dict[str, Any]]:
    """Shipments back at the origin whose units have not been received into stock yet."""
    return shipping.rto_awaiting_receipt(uow)


@router.get("/shipments/{shipment_id}", response_model=ShipmentOut)
def get_shipment(shipment_id: ShipmentId, uow: UowDep) -> dict[str, Any]:
    return shipping.get_shipment(uow, shipment_id).as_dict()


class ScanIn(Input):
    barcode: str = Field(min_length=1, max_length=128, description="as the scanner read it, or the SKU code")


class ScanOut(BaseModel):
    accepted: bool
    message: str = Field(description="what the pack station shows: the count so far, or why the scan was refused")
    complete: bool
    remaining: str


@router.post("/shipments/{shipment_id}/scan", response_model=ScanOut)
def scan(shipment_id: ShipmentId, body: ScanIn, uow: UowDep) -> dict[str, Any]:
    """One scan at the pack station. A refused scan (not in this box, or one too many) is answered
    200 with ``accepted: false`` and the message to show."""
    got = shipping.scan(uow, shipment_id, body.barcode)
    return {"accepted": got.accepted, "message": got.message, "complete": got.complete, "remaining": got.remaining}


class PackIn(Input):
    weight_g: StrictInt = Field(ge=1, le=1_000_000, description="the packed box's dead weight in grams")
    dimensions_cm: list[NumberLike] | None = Field(
        None, min_length=3, max_length=3, description="outer length, breadth and height in cm; or give box"
    )
    box: str | None = Field(None, min_length=1, max_length=64, description="a box preset of shipping.boxes")


def _dimensions(raw: list[Any] | None) -> tuple[Decimal, Decimal, Decimal] | None:
    if raw is None:
        return None
    out = []
    for i, value in enumerate(raw):
        try:
            if isinstance(value, str) and not NUMBER.match(value):
                raise InvalidOperation
            d = Decimal(str(value))
            if not d.is_finite() or not 0 < d <= 1000:
                raise InvalidOperation
        except InvalidOperation:
            raise ValidationFailed(
                "must be a length in cm above 0 and at most 1000", field=f"dimensions_cm.{i}"
            ) from None
        out.append(d)
    return out[0], out[1], out[2]


@router.post("/shipments/{shipment_id}/pack", response_model=ShipmentOut)
def pack(shipment_id: ShipmentId, body: PackIn, uow: UowDep) -> dict[str, Any]:
    """Close the box: every unit scanned, weighed, measured (or a box preset). The GST tax invoice
    is issued now."""
    view = shipping.pack(
        uow, shipment_id, weight_g=body.weight_g, dimensions_cm=_dimensions(body.dimensions_cm), box=body.box
    )
    return view.as_dict()


class BookIn(Input):
    carrier: str | None = Field(None, min_length=1, max_length=64, description="only this carrier; omit to rate-shop")


def _release(uow: UnitOfWork) -> None:
    """Check the caller may act, then end the request's own transaction: the service opens units of
    work of its own around calls to the carrier, and on SQLite an open write transaction here would
    hold the database's one write lock against them."""
    require(uow.actor, Permission.SHIPPING_WRITE)
    uow.commit()


def _sync(uow: UnitOfWork, container: Container) -> cs.Sync:
    """The service's remote-call context, its units of work acting as the caller."""
    assert uow.tenant_id is not None
    factory = partial(container.uow, actor=uow.actor, request_id=uow.request_id)
    return cs.Sync(factory, container.connections, int(uow.tenant_id))


def _carrier_call(error: RemoteError, field: str = "carrier") -> DomainError:
    return CarrierFailed(f"the carrier answered: {error}", field=field)


@router.post("/shipments/{shipment_id}/book", response_model=ShipmentOut, responses=CARRIER_FAILED)
def book(shipment_id: ShipmentId, body: BookIn, uow: UowDep, container: ContainerDep) -> dict[str, Any]:
    """Quote every eligible carrier (or only ``carrier``), choose by the tenant's rules, book it and
    make the label. ``selection`` keeps the chosen quote and why each other one lost."""
    _release(uow)
    try:
        shipping.book(_sync(uow, container), shipment_id, carrier=body.carrier)
    except RemoteError as e:
        raise _carrier_call(e) from None
    return _view(uow, shipment_id)


def _pdf(content: bytes, name: str) -> Response:
    return Response(content, media_type=PDF, headers={"Content-Disposition": f'inline; filename="{name}"'})


@router.get("/shipments/{shipment_id}/label.pdf", response_class=Response, responses=PDF_RESPONSE)
def label(shipment_id: ShipmentId, uow: UowDep) -> Response:
    """Our 4×6 label (Code128 barcodes of the AWB and order)."""
    return _pdf(shipping.document(uow, "label", shipment_id), f"label-{shipping.shipment_number(shipment_id)}.pdf")


@router.get("/shipments/{shipment_id}/carrier-label.pdf", response_class=Response, responses=PDF_RESPONSE)
def carrier_label(shipment_id: ShipmentId, uow: UowDep) -> Response:
    """The carrier's own label, when it makes one (Shiprocket)."""
    content = shipping.document(uow, "carrier_label", shipment_id)
    return _pdf(content, f"carrier-label-{shipping.shipment_number(shipment_id)}.pdf")


@router.get("/shipments/{shipment_id}/invoice.pdf", response_class=Response, responses=PDF_RESPONSE)
def invoice(shipment_id: ShipmentId, uow: UowDep) -> Response:
    """The GST tax invoice issued at packing."""
    shipping.get_shipment(uow, shipment_id)  # the caller sees the shipment's location
    return _pdf(shipping.document(uow, "invoice", shipment_id), f"invoice-{shipping.shipment_number(shipment_id)}.pdf")


class ManifestIn(Input):
    carrier: str = Field(min_length=1, max_length=64)
    location: str = Field(min_length=1, max_length=64)
    pickup_date: IsoDate
    cutoff: str | None = Field(
        None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM (IST): no pickup scan by then raises an alert"
    )


class ManifestOut(BaseModel):
    manifest_id: int
    shipments: int
    pickup_reference: str | None
    pickup_error: str | None = Field(description="the carrier's refusal of the pickup request; the manifest stands")


@router.post("/manifests", status_code=201, response_model=ManifestOut)
def create_manifest(body: ManifestIn, uow: UowDep, container: ContainerDep) -> dict[str, Any]:
    """Every shipment ready for the carrier at the location goes on one manifest (a PDF), and a
    pickup is requested. A failed pickup request is reported, not fatal."""
    _release(uow)
    got = shipping.manifest(_sync(uow, container), body.carrier, body.location, body.pickup_date, cutoff=body.cutoff)
    return {
        "manifest_id": got.manifest_id,
        "shipments": got.shipments,
        "pickup_reference": got.pickup_reference,
        "pickup_error": got.pickup_error,
    }


@router.get("/manifests/{manifest_id}.pdf", response_class=Response, responses=PDF_RESPONSE)
def manifest_pdf(manifest_id: ManifestId, uow: UowDep) -> Response:
    require(uow.actor, Permission.SHIPPING_READ)
    row = shipping.repo(uow).manifest(manifest_id)
    codes = {loc.id: loc.spec.code for loc in uow.all_locations()}
    if row is None or not uow.actor.sees_location(codes.get(row.location_id, "?")):
        raise NotFound(f"manifest {manifest_id} not found", field="manifest")
    return _pdf(shipping.document(uow, "manifest", manifest_id), f"MF{manifest_id:07d}.pdf")


class EventIn(Input):
    status: ShipmentStatus = Field(strict=False, description="the new status, in ordermesh's vocabulary")
    location: str | None = Field(None, max_length=200, description="where (a hub, a city)")
    detail: str | None = Field(None, max_length=1000)
    ndr_reason: NdrReason | None = Field(None, strict=False, description="for status ndr")


class EventOut(BaseModel):
    recorded: int
    changed: int
    shipment: ShipmentOut


@router.post("/shipments/{shipment_id}/events", response_model=EventOut)
def record_event(shipment_id: ShipmentId, body: EventIn, uow: UowDep) -> dict[str, Any]:
    """A status entered by a person or an own fleet's rider (carriers without tracking). Picked up
    takes the units out of stock; delivered, NDR and RTO move the order as a carrier's scan would."""
    if shipping.get_shipment(uow, shipment_id).row.awb is None:
        raise Conflict(f"shipment {shipping.shipment_number(shipment_id)} is not booked yet", field="status")
    got = shipping.record_scan(
        uow,
        shipment_id,
        body.status.value,
        location=body.location,
        detail=body.detail,
        ndr_reason=body.ndr_reason.value if body.ndr_reason else None,
    )
    return {"recorded": got.recorded, "changed": got.changed, "shipment": _view(uow, shipment_id)}


# -- NDR, RTO and reports ---------------------------------------------------------------------


class NdrOut(BaseModel):
    shipment_id: int
    number: str
    awb: str | None
    order_id: int
    attempts: int
    reason: str | None
    carrier_words: str | None
    since: datetime


@router.get("/ndr", response_model=list[NdrOut])
def ndr_queue(uow: UowDep) -> list[dict[str, Any]]:
    """Shipments whose last delivery attempt failed, oldest first, with the reason."""
    return shipping.ndr_queue(uow)


class TrackingPushOut(BaseModel):
    id: int
    carrier: str
    state: Literal["received", "processed", "failed"]
    error: str | None
    attempts: int
    received_at: datetime
    processed_at: datetime | None
    body: str = Field(description="the push as the carrier sent it (first 4,000 characters)")


@router.get("/tracking-pushes", response_model=list[TrackingPushOut])
def tracking_pushes(
    uow: UowDep,
    state: Literal["received", "processed", "failed"] | None = None,
    limit: int = Query(50, ge=1, le=200),
) -> list[dict[str, Any]]:
    """The carrier inbox, newest first: every tracking push as it came, its state and, for a failed
    one, why (``state=failed`` for those to look at)."""
    return shipping.tracking_pushes(uow, state=state, limit=limit)


@router.post("/tracking-pushes/{push_id}/retry", status_code=202)
def retry_tracking_push(push_id: Annotated[int, Path(ge=1, le=2**63 - 1)], uow: UowDep) -> dict[str, Any]:
    """Queue a failed push again, once what failed it is put right; the workers apply it."""
    shipping.retry_push(uow, push_id)
    return {"id": push_id, "state": "received"}


class NdrAddressIn(Input):
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=300)
    line2: str | None = Field(None, max_length=300)
    city: str = Field(min_length=1, max_length=100)
    state: str = Field(min_length=1, max_length=100)
    pincode: str = Field(pattern=r"^[1-9]\d{5}$")
    phone: str | None = Field(None, max_length=20)


class NdrActionIn(Input):
    action: Literal["reattempt", "update_address", "rto"]
    reattempt_on: IsoDate | None = None
    phone: str | None = Field(None, max_length=20)
    address: NdrAddressIn | None = None
    comment: str | None = Field(None, max_length=500)


class NdrActionOut(BaseModel):
    action: str
    shipment: ShipmentOut


@router.post("/shipments/{shipment_id}/ndr", response_model=NdrActionOut, responses=CARRIER_FAILED)
def ndr_action(shipment_id: ShipmentId, body: NdrActionIn, uow: UowDep, container: ContainerDep) -> dict[str, Any]:
    """Decide on a failed delivery; the decision is sent to the carrier."""
    if body.action == "update_address" and body.address is None and body.phone is None:
        raise ValidationFailed("update_address needs the new address or phone", field="address")
    _release(uow)
    try:
        action = shipping.ndr_action(
            _sync(uow, container),
            shipment_id,
            body.action,
            reattempt_on=body.reattempt_on,
            phone=body.phone,
            address=body.address.model_dump() if body.address else None,
            comment=body.comment,
        )
    except RemoteError as e:
        raise _carrier_call(e, "action") from None
    return {"action": action, "shipment": _view(uow, shipment_id)}


class AccuracyOut(BaseModel):
    carrier: str
    delivered: int
    within_one_day: int
    early: int
    late: int
    share: str = Field(description="share delivered within a day of the estimate, 0.000-1.000")


@router.get("/reports/delivery-estimates", response_model=list[AccuracyOut])
def delivery_estimates(uow: UowDep) -> list[dict[str, Any]]:
    """How often each carrier delivered within a day of the estimate we gave."""
    return shipping.estimate_accuracy(uow)


# -- carriers' webhooks -----------------------------------------------------------------------


class CarrierWebhookOut(BaseModel):
    recorded: int
    changed: int
    unknown: list[str] = Field(description="AWBs the push named that are not ours")
    queued: bool = Field(False, description="stored for the workers to apply (202); false: applied already (200)")


@webhooks.post(
    "/webhooks/carriers/{tenant}/{carrier}",
    response_model=CarrierWebhookOut,
    responses={202: {"description": "Stored; the workers apply it (ORDERMESH_WEBHOOKS_INLINE=false)"}},
    # The endpoint takes only the request (carriers push in volume: no dependencies to solve, no
    # path parameters to validate, per push); its two path parameters are documented here.
    openapi_extra={
        "parameters": [path_param("tenant", "the tenant's code"), path_param("carrier", "the carrier account's code")]
    },
)
async def carrier_webhook(request: Request) -> Response:
    """Where a carrier pushes tracking (Shiprocket, Delhivery). No API key: the carrier's token
    (``webhook_token`` of the carrier account) authenticates it; a wrong or missing one is 401.
    Every push is stored raw; one that cannot be applied is kept, failed, with its error."""
    from starlette.concurrency import run_in_threadpool

    tenant, carrier = request.path_params["tenant"], request.path_params["carrier"]
    container: Container = request.app.state.container
    body = await request.body()
    try:
        if container.settings.webhooks_inline:
            sync = cs.Sync(container.uow, container.connections, 0)
            got = await run_in_threadpool(
                shipping.receive_carrier_webhook, sync, tenant, carrier, dict(request.headers), body
            )
        else:  # stored with the pushes that arrive beside it, one commit for all (PushIntake)
            intake: shipping.PushIntake = request.app.state.push_intake
            got = await asyncio.wrap_future(intake.submit(tenant, carrier, dict(request.headers), body))
    except BadPayload as e:
        raise ValidationFailed(str(e), field="body") from None
    except RemoteError as e:
        raise ValidationFailed(f"the push cannot be read: {e}", field="body") from None
    # The answer is built here, not re-validated against the response model (which documents it):
    # carriers push in volume, and this is their whole hot path.
    answer = {"recorded": got.recorded, "changed": got.changed, "unknown": got.unknown, "queued": got.queued}
    return Response(json.dumps(answer), status_code=202 if got.queued else 200, media_type="application/json")


# -- public tracking --------------------------------------------------------------------------


class TrackingEventOut(BaseModel):
    at: datetime
    status: str
    location: str | None
    detail: str | None


class TrackingOut(BaseModel):
    number: str
    status: str
    carrier: str | None
    awb: str | None
    estimated_delivery: date | None
    events: list[TrackingEventOut]


Token = Annotated[str, Path(min_length=1, max_length=100, description="the shipment's tracking token")]


def _tracking(container: Container, token: str) -> dict[str, Any]:
    with container.uow(tenant_id=None, write=False) as uow:
        return shipping.public_tracking(uow, token)


@router.get("/track/{token}", response_model=TrackingOut)
def track_json(token: Token, container: ContainerDep) -> dict[str, Any]:
    """No API key: the unguessable token is the key. Status, carrier, AWB, estimate and scans —
    nothing personal."""
    return _tracking(container, token)


@public.get("/track/{token}", response_class=HTMLResponse)
def track_page(token: str, request: Request, container: ContainerDep) -> Response:
    """The page behind the link a buyer is sent: no sign-in, nothing personal."""
    found: dict[str, Any] | None
    try:
        found = _tracking(container, token) if len(token) <= 100 else None
    except NotFound:
        found = None
    response = render(request, "track.html", {"t": found}, status=200 if found else 404)
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@router.get("/settings/shipping", tags=["settings"])
def get_shipping_settings(uow: UowDep) -> dict[str, Any]:
    """pickup_names (location code -> the carrier's pickup name), boxes, volumetric_divisor,
    carrier_choice (strategy and overrides), ndr (max_attempts, review reasons)."""
    return shipping.get_settings(uow, "shipping")


@router.put("/settings/shipping", tags=["settings"])
def set_shipping_settings(body: dict[str, Any], uow: UowDep) -> dict[str, Any]:
    """Replace the shipping settings; every field is checked and named; the change is audited."""
    return shipping.set_settings(uow, "shipping", body)


@router.get("/settings/invoices", tags=["settings"])
def get_invoice_settings(uow: UowDep) -> dict[str, Any]:
    """prefix, width, short_year (numbers within GST Rule 46's 16 characters), eway_bill_threshold."""
    return shipping.get_settings(uow, "invoices")


@router.put("/settings/invoices", tags=["settings"])
def set_invoice_settings(body: dict[str, Any], uow: UowDep) -> dict[str, Any]:
    """Replace the invoice series settings; a series whose numbers would exceed 16 characters is refused."""
    return shipping.set_settings(uow, "invoices", body)
