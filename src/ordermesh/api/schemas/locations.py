from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, StrictBool, StrictInt

from ordermesh.adapters.db.repositories import LocationRecord
from ordermesh.api.schemas.common import Input, PageOut


class AddressIn(Input):
    line1: str
    line2: str | None = None
    city: str
    state: str | StrictInt = Field(description='GST state code ("27"), ISO code ("MH") or name ("Maharashtra")')
    pincode: str = Field(examples=["421302"])


class AddressPatch(Input):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | StrictInt | None = None
    pincode: str | None = None


class LocationIn(Input):
    code: str = Field(examples=["BHW"])
    name: str = Field(examples=["Bhiwandi warehouse"])
    kind: str = Field("warehouse", description="warehouse | store | 3pl")
    address: AddressIn
    gstin: str | None = Field(None, description="validated with its check character; must match the state")
    capabilities: list[str] | None = Field(None, description="ships, store_pickup, receives_returns")
    priority: StrictInt = Field(100, description="lower is preferred when routing")
    active: StrictBool = True


class LocationPatch(Input):
    name: str | None = None
    kind: str | None = None
    address: AddressPatch | None = None
    gstin: str | None = None
    capabilities: list[str] | None = None
    priority: StrictInt | None = None
    active: StrictBool | None = None
    code: str | None = None


class AddressOut(BaseModel):
    line1: str
    line2: str | None
    city: str
    state: str = Field(description="GST state code")
    state_code: str = Field(description="ISO 3166-2:IN code")
    state_name: str
    pincode: str


class LocationOut(BaseModel):
    code: str
    name: str
    kind: str
    address: AddressOut
    gstin: str | None
    capabilities: list[str]
    priority: int
    active: bool
    created_at: datetime
    updated_at: datetime


class LocationPage(PageOut):
    items: list[LocationOut]


def location_out(record: LocationRecord) -> dict[str, Any]:
    data = record.spec.as_dict()
    data.update(created_at=record.created_at, updated_at=record.updated_at)
    return data
