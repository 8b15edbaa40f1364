from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, StrictBool, StrictInt

from ordermesh.adapters.db.repositories import SkuRecord
from ordermesh.api.schemas.common import Input, NumberLike, PageOut


class ComponentIn(Input):
    sku: str
    quantity: StrictInt


class SkuIn(Input):
    code: str = Field(examples=["KURTA-BLU-M"])
    name: str = Field(examples=["Blue cotton kurta, M"])
    hsn: str = Field(description="HSN code, 4, 6 or 8 digits", examples=["6109"])
    gst_rate: NumberLike = Field(description="percent: 0, 0.1, 0.25, 1, 1.5, 3, 5, 12, 18, 28 or 40", examples=["5"])
    mrp: NumberLike = Field(description="maximum retail price in rupees", examples=["799.00"])
    weight_g: StrictInt = Field(description="dead weight in grams", examples=[350])
    dimensions_cm: list[NumberLike] | None = Field(None, description="[length, breadth, height] in cm")
    barcodes: list[str] | None = Field(None, description="EAN/UPC (check digit verified) or your own")
    components: list[ComponentIn] | None = Field(None, description="makes this SKU a bundle of these")
    active: StrictBool = True


class SkuPatch(Input):
    code: str | None = None
    name: str | None = None
    hsn: str | None = None
    gst_rate: NumberLike | None = None
    mrp: NumberLike | None = None
    weight_g: StrictInt | None = None
    dimensions_cm: list[NumberLike] | None = None
    barcodes: list[str] | None = None
    components: list[ComponentIn] | None = None
    active: StrictBool | None = None


class ComponentOut(BaseModel):
    sku: str
    quantity: int


class SkuOut(BaseModel):
    code: str
    name: str
    hsn: str
    gst_rate: str
    mrp: str
    weight_g: int
    dimensions_cm: list[str] | None
    barcodes: list[str]
    components: list[ComponentOut]
    is_bundle: bool
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class SkuPage(PageOut):
    items: list[SkuOut]


class ImportOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected_rows: list[dict[str, Any]]


def sku_out(record: SkuRecord) -> dict[str, Any]:
    data = record.spec.as_dict()
    data.update(
        is_bundle=record.spec.is_bundle,
        version=record.version,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )
    return data
