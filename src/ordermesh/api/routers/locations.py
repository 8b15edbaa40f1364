"""Location endpoints: warehouses, stores and 3PL sites."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from ordermesh.api.deps import UowDep
from ordermesh.api.schemas.common import PROBLEM_RESPONSES
from ordermesh.api.schemas.locations import LocationIn, LocationOut, LocationPage, LocationPatch, location_out
from ordermesh.services import locations

router = APIRouter(prefix="/api/v1/locations", tags=["locations"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=201, response_model=LocationOut)
def create_location(body: LocationIn, uow: UowDep) -> dict[str, Any]:
    return location_out(locations.create_location(uow, body.model_dump(exclude_unset=True)))


@router.get("", response_model=LocationPage)
def list_locations(
    uow: UowDep,
    cursor: str | None = None,
    limit: int | None = Query(None, ge=1, le=200, description="page size, 1-200"),
) -> dict[str, Any]:
    page = locations.list_locations(uow, cursor=cursor, limit=limit)
    return {"items": [location_out(r) for r in page.items], "next_cursor": page.next_cursor}


@router.get("/{code}", response_model=LocationOut)
def get_location(code: str, uow: UowDep) -> dict[str, Any]:
    return location_out(locations.get_location(uow, code))


@router.patch("/{code}", response_model=LocationOut)
def update_location(code: str, body: LocationPatch, uow: UowDep) -> dict[str, Any]:
    return location_out(locations.update_location(uow, code, body.model_dump(exclude_unset=True)))
