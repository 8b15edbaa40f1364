"""Catalog: the tenant's SKUs and bundles, and one SKU's details."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ordermesh.services import catalog
from ordermesh.web.frame import PrincipalDep, WebRoute, page_uow, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE_SIZE = 50


@router.get("/catalog")
def catalog_list(request: Request, principal: PrincipalDep, q: str = "", cursor: str = "") -> Response:
    query = q.strip()
    with page_uow(request, principal) as uow:
        page = catalog.search_skus(uow, query=query or None, cursor=cursor or None, limit=PAGE_SIZE)
    return render(
        request,
        "catalog/list.html",
        {"active": "catalog", "q": query, "skus": page.items, "next_cursor": page.next_cursor, "paged": bool(cursor)},
    )


@router.get("/catalog/{sku}")
def catalog_sku(request: Request, principal: PrincipalDep, sku: str) -> Response:
    with page_uow(request, principal) as uow:
        record = catalog.get_sku(uow, sku)
    return render(request, "catalog/sku.html", {"active": "catalog", "sku": record})
