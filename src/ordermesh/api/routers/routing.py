"""Routing: a dry run of a candidate rule set over past orders."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StrictInt

from ordermesh.api.deps import ContainerDep, PrincipalDep
from ordermesh.api.schemas.common import PROBLEM_RESPONSES, Input
from ordermesh.services import routing_simulation

router = APIRouter(prefix="/api/v1/routing", tags=["routing"], responses=PROBLEM_RESPONSES)


class SimulateIn(Input):
    since: str = Field(description="a date (a whole day, India time) or an ISO 8601 date-time", examples=["2026-11-01"])
    until: str | None = Field(None, description="exclusive; a date includes that whole day")
    channel: str | None = Field(None, description="only this channel's orders")
    rules: dict[str, Any] = Field(
        default_factory=dict,
        description="candidate routing settings (min_shipment_value, allow_split, pinned_location, "
        "fallback_location, max_split_locations, strategy), laid over each channel's own; null removes one",
        examples=[{"allow_split": False}],
    )
    limit: StrictInt | None = Field(
        None,
        ge=1,
        le=routing_simulation.MAX_LIMIT,
        description=f"orders to replay, oldest first (default {routing_simulation.DEFAULT_LIMIT})",
    )
    rate_card: dict[str, Any] | None = Field(
        None, description='price per weight slab by zone, e.g. {"slab_g": 500, "local": "40", "national": "75"}'
    )


class SideOut(BaseModel):
    outcomes: dict[str, int]
    routed_orders: int
    shipments: int
    shipments_per_order: float | None
    split_orders: int
    zones: dict[str, int]
    distance_km: dict[str, float | None]
    shipping_cost: dict[str, str | int | None]


class PlanOut(BaseModel):
    outcome: str
    locations: list[str]
    zones: list[str | None]
    distance_km: float | None
    weight_g: int
    shipping_cost: str | None
    explanation: str | None = None


class OrderReplayOut(BaseModel):
    id: int
    number: str
    channel: str
    placed_at: str
    status: str
    same: bool
    before: PlanOut
    after: PlanOut


class SimulationOut(BaseModel):
    since: str
    until: str | None
    channel: str | None
    rules: dict[str, Any]
    rate_card: dict[str, Any]
    note: str
    orders_matched: int
    orders_replayed: int
    truncated: bool
    skipped: dict[str, int]
    same_decision: int
    different_decision: int
    before: SideOut
    after: SideOut
    orders: list[OrderReplayOut]


@router.post("/simulate", response_model=SimulationOut)
def simulate(body: SimulateIn, request: Request, container: ContainerDep, principal: PrincipalDep) -> dict[str, Any]:
    """Replay past orders through candidate rules and report where they would have gone, splits,
    zones, distances and estimated shipping cost, beside what was decided. Changes nothing (needs
    orders:read only), so it runs in a read-only transaction of its own."""
    since = routing_simulation.parse_bound(body.since, "since")
    until = routing_simulation.parse_bound(body.until, "until", end=True) if body.until else None
    with container.uow(
        tenant_id=principal.tenant_id,
        actor=principal.actor,
        request_id=getattr(request.state, "request_id", None),
        write=False,
    ) as uow:
        return routing_simulation.simulate(
            uow,
            since=since,
            until=until,
            rules=body.rules,
            channel=body.channel,
            limit=body.limit,
            rate_card=body.rate_card,
        )
