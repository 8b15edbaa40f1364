"""Catalog endpoints: SKUs and bundles, CSV import and export."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ordermesh.api.deps import UowDep
from ordermesh.api.schemas.catalog import ImportOut, SkuIn, SkuOut, SkuPage, SkuPatch, sku_out
from ordermesh.api.schemas.common import PROBLEM_RESPONSES
from ordermesh.domain.errors import ValidationFailed
from ordermesh.services import catalog

router = APIRouter(prefix="/api/v1/skus", tags=["catalog"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=201, response_model=SkuOut)
def create_sku(body: SkuIn, uow: UowDep) -> dict[str, Any]:
    """Create a SKU; with `components` it is a bundle whose stock comes from them."""
    return sku_out(catalog.create_sku(uow, body.model_dump(exclude_unset=True)))


@router.get("", response_model=SkuPage)
def search_skus(
    uow: UowDep,
    query: str | None = Query(None, description="part of a code or name, or an exact barcode"),
    cursor: str | None = None,
    limit: int | None = Query(None, ge=1, le=200, description="page size, 1-200"),
) -> dict[str, Any]:
    page = catalog.search_skus(uow, query=query, cursor=cursor, limit=limit)
    return {"items": [sku_out(r) for r in page.items], "next_cursor": page.next_cursor}


@router.get("/export", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_skus(uow: UowDep) -> Response:
    """Every SKU as CSV, in the format `POST /api/v1/skus/import` takes."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=catalog.CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(catalog.export_rows(uow))
    return Response(
        out.getvalue(), media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="skus.csv"'}
    )


@router.post("/import", response_model=ImportOut)
async def import_skus(
    request: Request,
    uow: UowDep,
    partial: bool = Query(False, description="save the good rows even if some are bad"),
) -> dict[str, Any]:
    """Create or update SKUs from a CSV body (Content-Type: text/csv). All-or-nothing unless
    `partial=true`; every bad row is reported with line, column and reason."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("the CSV must be UTF-8 encoded", field="body") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    rows = ((reader.line_num, {k.strip(): v for k, v in row.items() if k}) for row in reader)
    result, problems = catalog.import_skus(uow, rows, header=header, partial=partial)
    return {**result.__dict__, "rejected_rows": [p.__dict__ for p in problems]}


@router.get("/{code}", response_model=SkuOut)
def get_sku(code: str, uow: UowDep) -> dict[str, Any]:
    return sku_out(catalog.get_sku(uow, code))


@router.patch("/{code}", response_model=SkuOut)
def update_sku(code: str, body: SkuPatch, uow: UowDep) -> dict[str, Any]:
    """Change some fields; the SKU is validated as a whole afterwards. The code cannot change."""
    return sku_out(catalog.update_sku(uow, code, body.model_dump(exclude_unset=True)))
