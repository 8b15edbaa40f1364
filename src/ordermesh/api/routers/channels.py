"""Channel records: where orders come from, who serves them, how fast they must ship."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictBool

from ordermesh.adapters.db.channels import ChannelRecord
from ordermesh.api.deps import ContainerDep, UowDep
from ordermesh.api.schemas.common import PROBLEM_RESPONSES, Input
from ordermesh.services import channels

router = APIRouter(prefix="/api/v1/channels", tags=["channels"], responses=PROBLEM_RESPONSES)

ChannelKind = Literal["manual", "shopify", "woocommerce", "amazon", "flipkart", "myntra", "meesho", "csv", "other"]


class ChannelIn(Input):
    code: str = Field(examples=["shopify-main"])
    type: ChannelKind
    name: str = Field(examples=["Our Shopify store"])
    locations: list[str] | None = Field(None, description="location codes that serve it; omit for all")
    sla: dict[str, Any] | None = Field(None, description="dispatch SLA: hours or business_days, cutoff, holidays")
    routing: dict[str, Any] | None = Field(None, description="routing strategy and rules for its orders")
    active: StrictBool = True
    base_url: str | None = Field(None, description="the channel's API address (the store, or the API endpoint)")
    credentials: dict[str, str] | None = Field(None, description="secrets; sealed at rest, never returned")
    connector: dict[str, Any] | None = Field(None, description="connector settings (api_version, location_id …)")
    inventory: dict[str, Any] | None = Field(None, description="stock sync: buffer, percent, maximum, zero_below")


class ChannelPatch(Input):
    code: str | None = None
    name: str | None = None
    locations: list[str] | None = None
    sla: dict[str, Any] | None = None
    routing: dict[str, Any] | None = None
    active: StrictBool | None = None
    base_url: str | None = None
    connector: dict[str, Any] | None = None
    inventory: dict[str, Any] | None = None


class ChannelOut(BaseModel):
    code: str
    type: str
    name: str
    locations: list[str] | None
    sla: dict[str, Any]
    routing: dict[str, Any]
    active: bool
    base_url: str | None
    connector: dict[str, Any]
    inventory: dict[str, Any]
    credentials_set: bool
    webhook_path: str
    created_at: datetime
    updated_at: datetime


def channel_out(record: ChannelRecord, tenant_code: str) -> dict[str, Any]:
    return {
        **record.spec.as_dict(),
        "credentials_set": record.sealed_credentials is not None,
        "webhook_path": f"/webhooks/{tenant_code}/{record.spec.code}",
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


@router.post("", status_code=201, response_model=ChannelOut)
def create_channel(body: ChannelIn, uow: UowDep, container: ContainerDep) -> dict[str, Any]:
    record = channels.create_channel(uow, body.model_dump(exclude_unset=True), container.connections.vault)
    return channel_out(record, uow.tenant_code)


@router.get("", response_model=list[ChannelOut])
def list_channels(uow: UowDep) -> list[dict[str, Any]]:
    return [channel_out(c, uow.tenant_code) for c in channels.list_channels(uow)]


@router.get("/{code}", response_model=ChannelOut)
def get_channel(code: str, uow: UowDep) -> dict[str, Any]:
    return channel_out(channels.get_channel(uow, code), uow.tenant_code)


@router.patch("/{code}", response_model=ChannelOut)
def update_channel(code: str, body: ChannelPatch, uow: UowDep) -> dict[str, Any]:
    return channel_out(channels.update_channel(uow, code, body.model_dump(exclude_unset=True)), uow.tenant_code)
