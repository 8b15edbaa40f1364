"""Parcels before they leave: chargeable weight, box presets, packing by scan, and pick lists.

**Chargeable weight.** Carriers charge the larger of the dead weight and the volumetric weight,
L × B × H (cm) / divisor, in kilograms; the divisor is 5000 for Indian express couriers (some use
4000 for air or 4750), so it is a setting. Here everything is in grams and exact:
``volumetric_g = L × B × H × 1000 / divisor`` as a Decimal, and the chargeable weight is the larger
of the two, rounded *up* to the next whole gram and no further. Carriers then round again — up to
the next 10 g on some invoices, up to the next slab (500 g) on most rate cards — and that rounding
belongs to the tariff: :mod:`ordermesh.domain.rate_card` counts slabs from the exact grams, so no
weight is rounded twice.

**Box presets** are data (name, inner dimensions, tare weight, wall thickness): the parcel's outer
dimensions are the inner ones plus two walls, and its dead weight is the contents plus the tare.

**Packing by scan.** A shipment's lines (SKU, the barcodes its units carry, quantity) and one scan
at a time: each scan counts for one line or is refused with a sentence a packer reads. Scanning
the SKU itself counts too (a printed SKU label). The shipment is ``complete`` only when every
line is fully scanned.

**Pick lists** group what is to be picked by SKU and bin, with totals and the orders each row
serves: one order's list, or a wave of many orders, one list per location.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from ordermesh.domain.errors import Collector

DEFAULT_VOLUMETRIC_DIVISOR = 5000
MAX_DIMENSION_CM = Decimal(1000)
MAX_TARE_G = 100_000


# -- chargeable weight ---------------------------------------------------------------------------


def volumetric_weight_g(
    length_cm: Decimal, breadth_cm: Decimal, height_cm: Decimal, divisor: int = DEFAULT_VOLUMETRIC_DIVISOR
) -> Decimal:
    """L × B × H / divisor, in grams, exact (no rounding)."""
    if divisor <= 0:
        raise ValueError("the volumetric divisor must be positive")
    for value in (length_cm, breadth_cm, height_cm):
        if value < 0:
            raise ValueError("dimensions cannot be negative")
    return Decimal(length_cm) * Decimal(breadth_cm) * Decimal(height_cm) * 1000 / Decimal(divisor)


@dataclass(frozen=True)
class ChargeableWeight:
    dead_g: int
    volumetric_g: Decimal  # exact
    chargeable_g: int  # max(dead, volumetric), up to the next whole gram
    basis: str  # "dead" or "volumetric": which one the carrier charges

    def explain(self) -> str:
        vol = format(self.volumetric_g.quantize(Decimal("0.1")), "f")
        return f"dead {self.dead_g} g, volumetric {vol} g: charged on {self.basis} weight, {self.chargeable_g} g"


def chargeable_weight(
    dead_g: int,
    length_cm: Decimal,
    breadth_cm: Decimal,
    height_cm: Decimal,
    divisor: int = DEFAULT_VOLUMETRIC_DIVISOR,
) -> ChargeableWeight:
    """The weight a carrier charges for: the larger of dead and volumetric (see the module docstring)."""
    if dead_g < 0:
        raise ValueError("dead weight cannot be negative")
    volumetric = volumetric_weight_g(length_cm, breadth_cm, height_cm, divisor)
    if volumetric > dead_g:
        grams = int(volumetric.to_integral_value(rounding=ROUND_CEILING))
        return ChargeableWeight(dead_g, volumetric, grams, "volumetric")
    return ChargeableWeight(dead_g, volumetric, dead_g, "dead")


def round_up(grams: int, step: int) -> int:
    """``grams`` up to the next multiple of ``step`` (10 g, or a 500 g slab): for showing what a
    carrier's invoice will say; pricing counts slabs itself."""
    if step <= 0:
        raise ValueError("step must be positive")
    return -(-grams // step) * step


# -- box presets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoxPreset:
    name: str
    length_cm: Decimal  # inner
    breadth_cm: Decimal
    height_cm: Decimal
    tare_g: int  # the empty box with its filler
    wall_mm: int = 0  # board thickness; outer = inner + 2 walls

    @property
    def outer_cm(self) -> tuple[Decimal, Decimal, Decimal]:
        extra = Decimal(self.wall_mm) * 2 / 10
        return self.length_cm + extra, self.breadth_cm + extra, self.height_cm + extra

    def fits(self, length_cm: Decimal, breadth_cm: Decimal, height_cm: Decimal) -> bool:
        """Whether an item of these dimensions fits inside, in any orientation."""
        item = sorted((length_cm, breadth_cm, height_cm))
        inner = sorted((self.length_cm, self.breadth_cm, self.height_cm))
        return all(i <= b for i, b in zip(item, inner, strict=True))

    def chargeable(self, contents_g: int, divisor: int = DEFAULT_VOLUMETRIC_DIVISOR) -> ChargeableWeight:
        """The chargeable weight of this box holding ``contents_g`` grams."""
        return chargeable_weight(contents_g + self.tare_g, *self.outer_cm, divisor=divisor)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "length_cm": str(self.length_cm),
            "breadth_cm": str(self.breadth_cm),
            "height_cm": str(self.height_cm),
            "tare_g": self.tare_g,
            "wall_mm": self.wall_mm,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], errors: Collector, where: str = "box") -> BoxPreset | None:
        """A preset from settings; every problem is added to ``errors`` under ``where``."""
        if not isinstance(raw, Mapping):
            errors.add(where, "must be an object with name, length_cm, breadth_cm, height_cm and tare_g")
            return None
        known = {"name", "length_cm", "breadth_cm", "height_cm", "tare_g", "wall_mm"}
        for key in sorted(set(raw) - known):
            errors.add(f"{where}.{key}", f"unknown field; use {', '.join(sorted(known))}")
        before = len(errors.errors)
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 40:
            errors.add(f"{where}.name", "must be a name of 1 to 40 characters")
        dims = [_dimension(raw.get(key), f"{where}.{key}", errors) for key in ("length_cm", "breadth_cm", "height_cm")]
        tare = _whole(raw.get("tare_g"), f"{where}.tare_g", errors, 0, MAX_TARE_G, required=True)
        wall = _whole(raw.get("wall_mm", 0), f"{where}.wall_mm", errors, 0, 50)
        if len(errors.errors) > before or not isinstance(name, str):
            return None
        length, breadth, height = (d or Decimal(0) for d in dims)
        return cls(name.strip(), length, breadth, height, tare or 0, wall or 0)


def box_presets_from_list(raw: object, where: str = "boxes") -> list[BoxPreset]:
    """A tenant's box presets; raises ValidationFailed naming every bad field (and repeated names)."""
    errors = Collector()
    presets: list[BoxPreset] = []
    if not isinstance(raw, list):
        errors.add(where, "must be a list of boxes")
        errors.raise_if_any()
        return presets
    seen: set[str] = set()
    for i, item in enumerate(raw):
        preset = BoxPreset.from_dict(item, errors, f"{where}.{i}")
        if preset is None:
            continue
        if preset.name.lower() in seen:
            errors.add(f"{where}.{i}.name", f"'{preset.name}' is already a box name")
        seen.add(preset.name.lower())
        presets.append(preset)
    errors.raise_if_any()
    return presets


def _dimension(value: object, where: str, errors: Collector) -> Decimal | None:
    try:
        if isinstance(value, bool) or value is None or isinstance(value, float):
            raise InvalidOperation
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.add(where, "must be a number of centimetres (as a string or whole number)")
        return None
    if not number.is_finite() or number <= 0 or number > MAX_DIMENSION_CM or number != number.quantize(Decimal("0.1")):
        errors.add(where, f"must be more than 0 and at most {MAX_DIMENSION_CM} cm, to 0.1 cm")
        return None
    return number


def _whole(value: object, where: str, errors: Collector, low: int, high: int, *, required: bool = False) -> int | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors.add(where, f"must be a whole number from {low} to {high}")
        return None
    return value


# -- packing by scan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PackLine:
    line_id: str
    sku: str
    quantity: int
    barcodes: tuple[str, ...] = ()  # EAN/UPC/GTIN or any code printed on the unit


@dataclass(frozen=True)
class ScanResult:
    accepted: bool
    message: str
    line_id: str | None = None
    sku: str | None = None
    packed: int = 0  # units of that line packed after this scan
    quantity: int = 0


@dataclass
class Packing:
    """One shipment being packed. ``packed`` (line id -> units) lets a session resume from storage."""

    lines: Sequence[PackLine]
    packed: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = [line.line_id for line in self.lines]
        if len(set(ids)) != len(ids):
            raise ValueError("line ids must be unique")
        for line in self.lines:
            if line.quantity <= 0:
                raise ValueError(f"{line.sku}: quantity must be positive")
            if not 0 <= self.packed.get(line.line_id, 0) <= line.quantity:
                raise ValueError(f"{line.sku}: packed count out of range")
        self.packed = {line.line_id: self.packed.get(line.line_id, 0) for line in self.lines}

    def _matches(self, code: str) -> list[PackLine]:
        folded = code.casefold()
        by_barcode = [line for line in self.lines if code in line.barcodes]
        return by_barcode or [line for line in self.lines if line.sku.casefold() == folded]

    def scan(self, text: str) -> ScanResult:
        """Count one unit for the line this barcode belongs to, or refuse and say why."""
        code = text.strip()
        if not code:
            return ScanResult(False, "empty scan")
        matches = self._matches(code)
        if not matches:
            return ScanResult(False, f"barcode {code} is not in this shipment")
        for line in matches:  # a SKU split over two lines fills the first, then the next
            done = self.packed[line.line_id]
            if done < line.quantity:
                self.packed[line.line_id] = done + 1
                return ScanResult(
                    True, f"{line.sku}: {done + 1} of {line.quantity}", line.line_id, line.sku, done + 1, line.quantity
                )
        line = matches[0]
        total = sum(m.quantity for m in matches)
        return ScanResult(False, f"{line.sku}: all {total} units already packed", line.line_id, line.sku, total, total)

    def unscan(self, text: str) -> ScanResult:
        """Take one unit back out (a wrong item put back on the shelf)."""
        code = text.strip()
        matches = [m for m in self._matches(code) if self.packed[m.line_id] > 0] if code else []
        if not matches:
            return ScanResult(False, f"barcode {code} has no packed unit to remove")
        line = matches[-1]
        self.packed[line.line_id] -= 1
        left = self.packed[line.line_id]
        return ScanResult(True, f"{line.sku}: {left} of {line.quantity}", line.line_id, line.sku, left, line.quantity)

    def remaining(self) -> dict[str, int]:
        """Units still to scan, by line id, for lines not yet complete."""
        return {
            line.line_id: line.quantity - self.packed[line.line_id]
            for line in self.lines
            if self.packed[line.line_id] < line.quantity
        }

    @property
    def complete(self) -> bool:
        return bool(self.lines) and not self.remaining()

    def missing_text(self) -> str:
        by_id = {line.line_id: line for line in self.lines}
        return "; ".join(f"{by_id[i].sku}: {n} more" for i, n in self.remaining().items())


# -- pick lists ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PickLine:
    order: str
    sku: str
    quantity: int
    location: str  # the warehouse
    bin: str = ""  # the bin or shelf inside it; "" when bins are not tracked


@dataclass(frozen=True)
class PickRow:
    sku: str
    bin: str
    quantity: int
    orders: tuple[tuple[str, int], ...]  # (order, units) it serves, sorted by order

    def as_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "bin": self.bin,
            "quantity": self.quantity,
            "orders": [{"order": o, "quantity": q} for o, q in self.orders],
        }


def pick_list(lines: Iterable[PickLine], *, walk: bool = False) -> list[PickRow]:
    """Lines grouped by (SKU, bin) with totals, sorted by SKU then bin (``walk``: by bin then SKU,
    the order a picker walks the aisles in)."""
    grouped: dict[tuple[str, str], dict[str, int]] = {}
    for line in lines:
        if line.quantity <= 0:
            raise ValueError(f"{line.order} {line.sku}: quantity must be positive")
        orders = grouped.setdefault((line.sku, line.bin), {})
        orders[line.order] = orders.get(line.order, 0) + line.quantity
    rows = [
        PickRow(sku, bin_, sum(orders.values()), tuple(sorted(orders.items())))
        for (sku, bin_), orders in grouped.items()
    ]
    rows.sort(key=(lambda r: (r.bin, r.sku)) if walk else (lambda r: (r.sku, r.bin)))
    return rows


def order_pick_list(order: str, lines: Iterable[PickLine], *, walk: bool = False) -> list[PickRow]:
    """One order's pick list."""
    return pick_list((line for line in lines if line.order == order), walk=walk)


def wave_pick_lists(lines: Iterable[PickLine], *, walk: bool = False) -> dict[str, list[PickRow]]:
    """A wave (batch) of many orders: one pick list per location, locations sorted."""
    by_location: dict[str, list[PickLine]] = {}
    for line in lines:
        by_location.setdefault(line.location, []).append(line)
    return {loc: pick_list(by_location[loc], walk=walk) for loc in sorted(by_location)}
