"""Locations: the warehouses, stores and 3PL sites the user may see."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ordermesh.services import locations
from ordermesh.web.frame import PrincipalDep, WebRoute, page_uow, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE_SIZE = 100


@router.get("/locations")
def location_list(request: Request, principal: PrincipalDep, cursor: str = "") -> Response:
    with page_uow(request, principal) as uow:
        page = locations.list_locations(uow, cursor=cursor or None, limit=PAGE_SIZE)
    return render(
        request,
        "locations/list.html",
        {"active": "locations", "places": page.items, "next_cursor": page.next_cursor, "paged": bool(cursor)},
    )
