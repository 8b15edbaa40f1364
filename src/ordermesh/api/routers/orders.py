"""Orders: intake from any channel, the queue, and what a person does to an order."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field, StrictInt

from ordermesh.api.deps import UowDep
from ordermesh.api.schemas.common import PROBLEM_RESPONSES, Input, NumberLike, PageOut
from ordermesh.services import order_actions, order_changes, order_queries, orders

OrderId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the order's id")]

router = APIRouter(prefix="/api/v1/orders", tags=["orders"], responses=PROBLEM_RESPONSES)


class CustomerIn(Input):
    name: str
    phone: str | None = None
    email: str | None = None


class OrderAddressIn(Input):
    name: str
    line1: str
    line2: str | None = None
    city: str
    state: str | StrictInt = Field(description='GST state code ("27"), ISO code ("MH") or name')
    pincode: str | StrictInt
    phone: str | None = None


class PaymentIn(Input):
    method: Literal["prepaid", "cod"]
    status: str | None = Field(None, description="pending, authorized, paid, cod_pending … (default by method)")


class OrderLineIn(Input):
    sku: str
    quantity: StrictInt = Field(ge=1)
    unit_price: NumberLike = Field(description="price per unit including GST, rupees")
    discount: NumberLike | None = Field(None, description="discount on the whole line, rupees")


class OrderIn(Input):
    channel: str = Field(examples=["manual"])
    external_id: str = Field(description="the channel's order id; the same one again is the same order")
    placed_at: str = Field(description="ISO 8601 with offset", examples=["2026-11-26T10:15:00+05:30"])
    customer: CustomerIn
    shipping_address: OrderAddressIn
    billing_address: OrderAddressIn | None = None
    payment: PaymentIn
    lines: list[OrderLineIn] = Field(min_length=1)
    shipping_charge: NumberLike | None = None
    currency: Literal["INR"] = "INR"
    tags: list[str] | None = None
    notes: str | None = None


class OrderLineOut(BaseModel):
    line_no: int
    sku: str
    mapped: bool
    quantity: int
    unit_price: str
    discount: str
    tax: str
    open: int
    allocated: int
    shipped: int
    delivered: int
    cancelled: int
    returned: int
    allocations: list[dict[str, Any]] | None = None


class OrderOut(BaseModel):
    id: int
    number: str
    channel: str
    external_id: str
    placed_at: datetime
    status: str
    holds: list[dict[str, Any]]
    customer: dict[str, Any]
    shipping_address: dict[str, Any]
    billing_address: dict[str, Any] | None
    payment: dict[str, Any]
    currency: str
    totals: dict[str, str]
    risk_score: int | None
    dispatch_by: datetime | None
    sla: str
    tags: list[str]
    notes: str | None
    version: int
    lines: list[OrderLineOut]
    risk: dict[str, Any] | None = None
    routing: dict[str, Any] | None = None
    timeline: list[dict[str, Any]] | None = None
    changes: list[dict[str, Any]] | None = None
    created_at: datetime
    updated_at: datetime


class OrderPage(PageOut):
    items: list[OrderOut]


@router.post(
    "",
    status_code=201,
    response_model=OrderOut,
    responses={200: {"model": OrderOut, "description": "already received"}},
)
def create_order(body: OrderIn, uow: UowDep, response: Response) -> dict[str, Any]:
    """Receive an order. The same (channel, external_id) again answers 200 with the order as it is
    (a changed payload is applied as a new version). Doubtful orders are accepted and held."""
    result = orders.ingest_order(uow, body.model_dump(exclude_none=True), answer=True)
    if not result.created:
        response.status_code = 200
    if result.written is not None:
        return order_queries.new_order_view(uow, result.written)
    return _read(uow, result.order_id)


@router.get("", response_model=OrderPage)
def list_orders(
    uow: UowDep,
    status: str | None = None,
    channel: str | None = None,
    hold: str | None = Query(None, description="a hold reason"),
    sla: Literal["ok", "at_risk", "breached"] | None = None,
    customer: int | None = Query(None, ge=1, le=2**63 - 1, description="customer id"),
    cursor: str | None = None,
    limit: int | None = Query(None, ge=1, le=200, description="page size, 1-200"),
) -> dict[str, Any]:
    """Newest first. Keyset-paged: every page costs the same."""
    filters = order_queries.OrderFilter(status, channel, hold, sla, customer)
    page = order_queries.list_orders(uow, filters, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/{order_id}", response_model=OrderOut)
def get_order(order_id: OrderId, uow: UowDep) -> dict[str, Any]:
    """The order with its lines and allocations, holds, risk, routing decision and timeline."""
    return order_queries.get_order(uow, order_id)


class NoteIn(Input):
    note: str | None = Field(None, max_length=500)


class ResolveIn(Input):
    note: str | None = Field(None, max_length=500)
    sku_mappings: dict[str, str] | None = Field(None, description="for unmapped_sku: channel SKU -> catalog SKU")


class CancelLineIn(Input):
    sku: str
    quantity: StrictInt = Field(ge=1)


class CancelIn(Input):
    reason: str = Field(min_length=1, max_length=300)
    lines: list[CancelLineIn] | None = Field(None, description="omit to cancel the whole order")


class HoldIn(Input):
    note: str = Field(min_length=1, max_length=500)


class EditLineIn(Input):
    sku: str
    quantity: StrictInt = Field(ge=0, description="the new quantity; 0 cancels the line")


class EditIn(Input):
    reason: str = Field(min_length=1, max_length=300)
    shipping_address: OrderAddressIn | None = None
    lines: list[EditLineIn] | None = None


@router.post("/{order_id}/confirm", response_model=OrderOut)
def confirm(order_id: OrderId, body: NoteIn, uow: UowDep) -> dict[str, Any]:
    """A person verified the order (e.g. a COD confirmation call): clear risk and duplicate reviews."""
    order_actions.confirm_order(uow, order_id, note=body.note)
    return _read(uow, order_id)


@router.post("/{order_id}/holds/{reason}/resolve", response_model=OrderOut)
def resolve(order_id: OrderId, reason: str, body: ResolveIn, uow: UowDep) -> dict[str, Any]:
    """Act on a hold; the order then goes through the pipeline again."""
    order_actions.resolve_hold(uow, order_id, reason, note=body.note, sku_mappings=body.sku_mappings)
    return _read(uow, order_id)


@router.post("/{order_id}/hold", response_model=OrderOut)
def hold(order_id: OrderId, body: HoldIn, uow: UowDep) -> dict[str, Any]:
    order_actions.hold_order(uow, order_id, note=body.note)
    return _read(uow, order_id)


@router.post("/{order_id}/cancel", response_model=OrderOut)
def cancel(order_id: OrderId, body: CancelIn, uow: UowDep) -> dict[str, Any]:
    """Cancel the whole order or some units; reservations are released at once."""
    lines = [line.model_dump() for line in body.lines] if body.lines else None
    order_actions.cancel_order(uow, order_id, reason=body.reason, lines=lines)
    return _read(uow, order_id)


@router.patch("/{order_id}", response_model=OrderOut)
def edit(order_id: OrderId, body: EditIn, uow: UowDep) -> dict[str, Any]:
    """Change the shipping address or line quantities, as a new version of the order."""
    patch = body.model_dump(exclude_none=True, exclude={"reason"})
    order_changes.edit_order(uow, order_id, patch, reason=body.reason)
    return _read(uow, order_id)


def _read(uow: Any, order_id: int) -> dict[str, Any]:
    """The order as committed: read in a fresh unit of work of the same caller."""
    with uow.reopen() as fresh:
        return order_queries.get_order(fresh, order_id)
