"""Catalog use cases: create, change, find, import and export SKUs and bundles."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ordermesh.adapters.db.repositories import SkuRecord, encode_cursor
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.domain import events
from ordermesh.domain.access import Permission
from ordermesh.domain.catalog import SkuSpec, build_sku
from ordermesh.domain.errors import (
    AlreadyExists,
    Collector,
    ImportRejected,
    NotFound,
    RowError,
)
from ordermesh.services.common import Page, cursor_values, page_limit, require

IMMUTABLE = ("code",)


def create_sku(uow: UnitOfWork, raw: Mapping[str, Any]) -> SkuRecord:
    require(uow.actor, Permission.CATALOG_WRITE)
    errors = Collector()
    spec = build_sku(raw, errors)
    errors.raise_if_any()
    assert spec is not None
    if uow.skus.get(spec.code) is not None:
        raise AlreadyExists(f"SKU '{spec.code}' already exists", field="code")
    component_ids = _check_relations(uow, spec, None, errors)
    errors.raise_if_any()
    uow.skus.add(spec, component_ids, uow.now)
    uow.audit("sku.created", "sku", spec.code, after=spec.as_dict())
    uow.emit(events.sku_created(spec.code))
    record = _get(uow, spec.code)
    uow.commit()
    return record


def update_sku(uow: UnitOfWork, code: str, patch: Mapping[str, Any]) -> SkuRecord:
    """Change some fields of a SKU. The result is validated as a whole, as if created anew."""
    require(uow.actor, Permission.CATALOG_WRITE)
    current = _get(uow, code)
    errors = Collector()
    for name in IMMUTABLE:
        if name in patch and patch[name] != getattr(current.spec, name):
            errors.add(name, "cannot be changed; create a new SKU instead")
    errors.raise_if_any()
    merged = {**_raw(current.spec), **patch}
    spec = build_sku(merged, errors)
    errors.raise_if_any()
    assert spec is not None
    component_ids = _check_relations(uow, spec, current, errors)
    errors.raise_if_any()
    before, after = current.spec.as_dict(), spec.as_dict()
    changed = sorted(k for k in after if after[k] != before[k])
    if changed:
        uow.skus.replace(current.id, spec, component_ids, uow.now)
        uow.audit(
            "sku.updated",
            "sku",
            code,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
        uow.emit(events.sku_updated(code, changed))
        record = _get(uow, code)
        uow.commit()
        return record
    return current


def get_sku(uow: UnitOfWork, code: str) -> SkuRecord:
    require(uow.actor, Permission.CATALOG_READ)
    return _get(uow, code)


def search_skus(uow: UnitOfWork, *, query: str | None, cursor: str | None, limit: int | None) -> Page[SkuRecord]:
    require(uow.actor, Permission.CATALOG_READ)
    n = page_limit(limit)
    after = cursor_values(cursor)
    items = uow.skus.search(query, str(after[0]) if after else None, n + 1)
    more = len(items) > n
    items = items[:n]
    return Page(items, encode_cursor(items[-1].spec.code) if more and items else None)


def _get(uow: UnitOfWork, code: str) -> SkuRecord:
    record = uow.skus.get(code)
    if record is None:
        raise NotFound(f"SKU '{code}' not found", field="sku")
    return record


def _raw(spec: SkuSpec) -> dict[str, Any]:
    """A spec as the loose fields build_sku takes, so a patch can be merged over it."""
    return {
        "code": spec.code,
        "name": spec.name,
        "hsn": spec.hsn,
        "gst_rate": str(spec.gst_rate),
        "mrp": str(spec.mrp),
        "weight_g": spec.weight_g,
        "dimensions_cm": [str(d) for d in spec.dimensions_cm] if spec.dimensions_cm else None,
        "barcodes": list(spec.barcodes),
        "components": [{"sku": c.sku, "quantity": c.quantity} for c in spec.components],
        "active": spec.active,
    }


def _check_relations(
    uow: UnitOfWork,
    spec: SkuSpec,
    current: SkuRecord | None,
    errors: Collector,
    *,
    pending: Mapping[str, SkuSpec] | None = None,
    prefix: str = "",
) -> dict[str, int]:
    """Barcodes must be unique in the tenant; components must exist and not be bundles themselves.

    ``pending`` holds SKUs created earlier in the same import, which count as existing.
    """
    owners = uow.skus.barcode_owners(spec.barcodes)
    for i, barcode in enumerate(spec.barcodes):
        owner = owners.get(barcode)
        if owner is not None and owner != spec.code:
            errors.add(f"{prefix}barcodes.{i}", f"barcode {barcode} already belongs to SKU '{owner}'")
    found = uow.skus.ids_for(c.sku for c in spec.components)
    component_ids: dict[str, int] = {}
    for i, comp in enumerate(spec.components):
        if comp.sku in found:
            comp_id, comp_is_bundle = found[comp.sku]
            if comp_is_bundle:
                errors.add(f"{prefix}components.{i}.sku", f"'{comp.sku}' is itself a bundle; bundles cannot nest")
            component_ids[comp.sku] = comp_id
        elif pending and comp.sku in pending:
            if pending[comp.sku].is_bundle:
                errors.add(f"{prefix}components.{i}.sku", f"'{comp.sku}' is itself a bundle; bundles cannot nest")
        else:
            errors.add(f"{prefix}components.{i}.sku", f"SKU '{comp.sku}' not found")
    if current is not None and spec.is_bundle and not current.spec.is_bundle:
        used_in = uow.skus.bundles_containing(current.id)
        if used_in:
            errors.add(
                f"{prefix}components",
                f"'{spec.code}' is a component of bundle '{used_in[0]}' and cannot become a bundle",
            )
        stock = uow.stock.by_location([current.id]).get(current.id, [])
        if any(s.balance.on_hand or s.balance.reserved or s.balance.quarantined for s in stock):
            errors.add(f"{prefix}components", f"'{spec.code}' holds stock; a bundle's stock comes from its components")
    if current is not None and current.spec.is_bundle and not spec.is_bundle:
        errors.add(f"{prefix}components", "a bundle cannot be turned back into a plain SKU; create a new SKU")
    return component_ids


@dataclass
class ImportResult:
    created: int
    updated: int
    unchanged: int


CSV_COLUMNS = (
    "code",
    "name",
    "hsn",
    "gst_rate",
    "mrp",
    "weight_g",
    "length_cm",
    "breadth_cm",
    "height_cm",
    "barcodes",
    "components",
    "active",
)


def row_to_raw(row: Mapping[str, str | None], errors: Collector) -> dict[str, Any]:
    """A CSV row (all text) as the loose fields build_sku takes. Barcodes are '|'-separated;
    components are 'SKU:QTY|SKU:QTY'."""

    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    raw: dict[str, Any] = {k: cell(k) or None for k in ("code", "name", "hsn", "gst_rate", "mrp")}
    weight = cell("weight_g")
    if weight:
        raw["weight_g"] = int(weight) if weight.isdigit() else weight
    else:
        raw["weight_g"] = None
    dims = [cell("length_cm"), cell("breadth_cm"), cell("height_cm")]
    if any(dims):
        raw["dimensions_cm"] = dims
    if cell("barcodes"):
        raw["barcodes"] = [b.strip() for b in cell("barcodes").split("|") if b.strip()]
    if cell("components"):
        comps = []
        for part in cell("components").split("|"):
            sku, _, qty = part.strip().rpartition(":")
            if not sku or not qty.strip().isdigit():
                errors.add("components", f"'{part.strip()}' should be SKU:QUANTITY")
                continue
            comps.append({"sku": sku.strip(), "quantity": int(qty)})
        raw["components"] = comps
    active = cell("active").lower()
    if active:
        if active in ("true", "yes", "1", "y"):
            raw["active"] = True
        elif active in ("false", "no", "0", "n"):
            raw["active"] = False
        else:
            errors.add("active", "must be true or false")
    return raw


def _column(field_path: str) -> str:
    head = field_path.split(".")[0]
    if head == "dimensions_cm":
        index = field_path.split(".")[1] if "." in field_path else "0"
        return {"0": "length_cm", "1": "breadth_cm", "2": "height_cm"}.get(index, "length_cm")
    return head


def import_skus(
    uow: UnitOfWork,
    rows: Iterable[tuple[int, Mapping[str, str | None]]],
    *,
    header: list[str],
    partial: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[ImportResult, list[RowError]]:
    """Create or update SKUs from CSV rows ``(line_number, row)``.

    All-or-nothing by default: any bad row rejects the whole file and every bad row is reported
    with its line, column and reason. With ``partial`` the good rows are saved and the bad ones
    reported.
    """
    require(uow.actor, Permission.CATALOG_WRITE)
    missing = [c for c in ("code", "name", "hsn", "gst_rate", "mrp", "weight_g") if c not in header]
    if missing:
        raise ImportRejected(
            f"the header lacks required column(s): {', '.join(missing)}",
            [RowError(1, c, "required column is missing") for c in missing],
        )
    problems: list[RowError] = []
    seen: dict[str, int] = {}
    good: list[tuple[int, SkuSpec]] = []
    for line, row in rows:
        errors = Collector()
        raw = row_to_raw(row, errors)
        spec = build_sku(raw, errors)
        if spec is not None and spec.code in seen:
            errors.add("code", f"SKU '{spec.code}' is also on line {seen[spec.code]}")
        problems.extend(RowError(line, _column(e.field), e.message) for e in errors.errors)
        if spec is not None and not errors.errors:
            seen[spec.code] = line
            good.append((line, spec))
        if progress:
            progress(1)
    # Relations are checked with the whole file known, so components may come later in the file.
    pending = {spec.code: spec for _, spec in good}
    plain = [(ln, s) for ln, s in good if not s.is_bundle]
    bundles = [(ln, s) for ln, s in good if s.is_bundle]
    result = ImportResult(0, 0, 0)
    ready: list[tuple[int, SkuSpec, SkuRecord | None]] = []
    for line, spec in plain + bundles:
        errors = Collector()
        current = uow.skus.get(spec.code)
        _check_relations(uow, spec, current, errors, pending=pending)
        problems.extend(RowError(line, _column(e.field), e.message) for e in errors.errors)
        if not errors.errors:
            ready.append((line, spec, current))
    problems.sort(key=lambda p: (p.line, p.column))
    if problems and not partial:
        raise ImportRejected(f"{len({p.line for p in problems})} row(s) have problems; nothing was imported", problems)
    for _, spec, current in ready:
        component_ids = {c: i for c, (i, _) in uow.skus.ids_for(c.sku for c in spec.components).items()}
        if current is None:
            uow.skus.add(spec, component_ids, uow.now)
            uow.audit("sku.created", "sku", spec.code, after=spec.as_dict())
            uow.emit(events.sku_created(spec.code))
            result.created += 1
        elif current.spec.as_dict() != spec.as_dict():
            before, after = current.spec.as_dict(), spec.as_dict()
            changed = sorted(k for k in after if after[k] != before[k])
            uow.skus.replace(current.id, spec, component_ids, uow.now)
            uow.audit(
                "sku.updated",
                "sku",
                spec.code,
                before={k: before[k] for k in changed},
                after={k: after[k] for k in changed},
            )
            uow.emit(events.sku_updated(spec.code, changed))
            result.updated += 1
        else:
            result.unchanged += 1
    uow.commit()
    return result, problems


def export_rows(uow: UnitOfWork, *, batch: int = 1000) -> Iterable[dict[str, str]]:
    """Every SKU as a CSV row in the import format, so an export imports back unchanged."""
    require(uow.actor, Permission.CATALOG_READ)
    after: str | None = None
    while True:
        records = uow.skus.all_records(after, batch)
        for r in records:
            s = r.spec
            d = s.dimensions_cm
            yield {
                "code": s.code,
                "name": s.name,
                "hsn": s.hsn,
                "gst_rate": str(s.as_dict()["gst_rate"]),
                "mrp": str(s.as_dict()["mrp"]),
                "weight_g": str(s.weight_g),
                "length_cm": str(d[0]) if d else "",
                "breadth_cm": str(d[1]) if d else "",
                "height_cm": str(d[2]) if d else "",
                "barcodes": "|".join(s.barcodes),
                "components": "|".join(f"{c.sku}:{c.quantity}" for c in s.components),
                "active": "true" if s.active else "false",
            }
        if len(records) < batch:
            return
        after = records[-1].spec.code
