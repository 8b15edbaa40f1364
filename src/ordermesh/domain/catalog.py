"""Catalog rules: what a valid SKU is, and how a bundle's availability follows from its components."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ordermesh.domain.errors import Collector
from ordermesh.domain.india import format_rate, hsn_problem, parse_gst_rate
from ordermesh.domain.money import format_amount, parse_amount

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}\Z")
BARCODE_RE = re.compile(r"^[A-Za-z0-9\-._]{4,48}\Z")
MAX_WEIGHT_G = 1_000_000
MAX_DIMENSION_CM = Decimal("1000")


@dataclass(frozen=True)
class Component:
    sku: str
    quantity: int


@dataclass
class SkuSpec:
    """A SKU as a seller describes it; validated by :func:`validate_sku`."""

    code: str
    name: str
    hsn: str
    gst_rate: Decimal
    mrp: Decimal
    weight_g: int
    dimensions_cm: tuple[Decimal, Decimal, Decimal] | None = None
    barcodes: list[str] = field(default_factory=list)
    components: list[Component] = field(default_factory=list)
    active: bool = True

    @property
    def is_bundle(self) -> bool:
        return bool(self.components)

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "name": self.name,
            "hsn": self.hsn,
            "gst_rate": format_rate(self.gst_rate),
            "mrp": format_amount(self.mrp),
            "weight_g": self.weight_g,
            "dimensions_cm": [str(d) for d in self.dimensions_cm] if self.dimensions_cm else None,
            "barcodes": list(self.barcodes),
            "components": [{"sku": c.sku, "quantity": c.quantity} for c in self.components],
            "active": self.active,
        }


def code_problem(code: str) -> str | None:
    if not CODE_RE.match(code):
        return "a code is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    return None


def build_sku(raw: Mapping[str, object], errors: Collector, *, prefix: str = "") -> SkuSpec | None:
    """Validate a SKU given as loosely typed fields (from JSON or a CSV row); report every problem."""
    p = prefix

    def text(name: str, required: bool = True) -> str:
        value = raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                errors.add(p + name, "is required")
            return ""
        if not isinstance(value, str):
            errors.add(p + name, "must be a string")
            return ""
        return value.strip()

    code = text("code")
    if code and (problem := code_problem(code)):
        errors.add(p + "code", problem)
    name = text("name")
    if len(name) > 300:
        errors.add(p + "name", "must be at most 300 characters")
    hsn = str(raw.get("hsn") or "").strip()
    if not hsn:
        errors.add(p + "hsn", "is required")
    elif problem := hsn_problem(hsn):
        errors.add(p + "hsn", problem)

    rate = parse_gst_rate(raw.get("gst_rate")) if raw.get("gst_rate") is not None else None
    if raw.get("gst_rate") is None:
        errors.add(p + "gst_rate", "is required")
    elif rate is None:
        errors.add(p + "gst_rate", "must be one of 0, 0.1, 0.25, 1, 1.5, 3, 5, 12, 18, 28, 40 (percent)")

    mrp = parse_amount(raw.get("mrp"))
    if raw.get("mrp") is None:
        errors.add(p + "mrp", "is required")
    elif mrp is None:
        errors.add(p + "mrp", "must be a non-negative amount in rupees with at most two decimals")

    weight = raw.get("weight_g")
    if weight is None:
        errors.add(p + "weight_g", "is required")
        weight = 0
    elif isinstance(weight, bool) or not isinstance(weight, int) or not 0 < weight <= MAX_WEIGHT_G:
        errors.add(p + "weight_g", f"must be a whole number of grams between 1 and {MAX_WEIGHT_G}")
        weight = 0

    dims = parse_dimensions(raw.get("dimensions_cm"), errors, p + "dimensions_cm")
    barcodes = parse_barcodes(raw.get("barcodes"), errors, p + "barcodes")
    components = parse_components(raw.get("components"), errors, p + "components", own_code=code)

    active = raw.get("active", True)
    if not isinstance(active, bool):
        errors.add(p + "active", "must be true or false")
        active = True

    if errors.errors or rate is None or mrp is None or not isinstance(weight, int):
        return None
    return SkuSpec(code, name, hsn, rate, mrp, weight, dims, barcodes, components, active)


def parse_dimensions(value: object, errors: Collector, path: str) -> tuple[Decimal, Decimal, Decimal] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        errors.add(path, "must be [length, breadth, height] in centimetres")
        return None
    out: list[Decimal] = []
    for i, item in enumerate(value):
        amount = None if isinstance(item, bool) else parse_amount(item)
        if amount is None or amount <= 0 or amount > MAX_DIMENSION_CM:
            errors.add(f"{path}.{i}", "must be a positive number of centimetres (at most 1000, two decimals)")
            return None
        out.append(canonical(amount))
    return (out[0], out[1], out[2])


def canonical(d: Decimal) -> Decimal:
    """One spelling per number: 30.00 -> 30, 12.50 -> 12.5 (never 3E+1)."""
    return d.quantize(Decimal(1)) if d == d.to_integral() else d.normalize()


def parse_barcodes(value: object, errors: Collector, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(path, "must be a list of barcodes")
        return []
    seen: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not BARCODE_RE.match(item.strip()):
            errors.add(f"{path}.{i}", "a barcode is 4-48 letters, digits, '-', '.' or '_'")
            continue
        code = item.strip()
        if code.isdigit() and len(code) in (8, 12, 13, 14) and not gtin_ok(code):
            errors.add(f"{path}.{i}", f"'{code}' looks like an EAN/UPC but its check digit is wrong")
            continue
        if code in seen:
            errors.add(f"{path}.{i}", f"'{code}' is listed twice")
            continue
        seen.append(code)
    return seen


def gtin_ok(digits: str) -> bool:
    """GS1 check digit of an EAN-8, UPC-A, EAN-13 or GTIN-14."""
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def parse_components(value: object, errors: Collector, path: str, *, own_code: str) -> list[Component]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(path, "must be a list of {sku, quantity}")
        return []
    merged: dict[str, int] = {}
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            errors.add(f"{path}.{i}", "must be an object with sku and quantity")
            continue
        sku, qty = item.get("sku"), item.get("quantity")
        if not isinstance(sku, str) or not sku.strip():
            errors.add(f"{path}.{i}.sku", "is required")
            continue
        if isinstance(qty, bool) or not isinstance(qty, int) or not 0 < qty <= 1000:
            errors.add(f"{path}.{i}.quantity", "must be a whole number from 1 to 1000")
            continue
        if sku.strip() == own_code:
            errors.add(f"{path}.{i}.sku", "a bundle cannot contain itself")
            continue
        merged[sku.strip()] = merged.get(sku.strip(), 0) + qty
    return [Component(s, q) for s, q in merged.items()]


def bundle_available(components: Sequence[Component], available: Mapping[str, int]) -> int:
    """Bundles sellable at one location: the minimum over components of floor(available / quantity)."""
    if not components:
        return 0
    return max(0, min(max(0, available.get(c.sku, 0)) // c.quantity for c in components))
