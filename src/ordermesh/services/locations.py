"""Location use cases: warehouses, stores and 3PL sites."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ordermesh.adapters.db.repositories import LocationRecord, encode_cursor
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.adapters.pincodes import pincode_states
from ordermesh.domain import events
from ordermesh.domain.access import Permission
from ordermesh.domain.errors import AlreadyExists, Collector, NotFound
from ordermesh.domain.locations import LocationSpec, build_location
from ordermesh.services.common import Page, cursor_values, page_limit, require


def create_location(uow: UnitOfWork, raw: Mapping[str, Any]) -> LocationRecord:
    require(uow.actor, Permission.LOCATIONS_WRITE)
    errors = Collector()
    spec = build_location(raw, errors, pincode_states)
    errors.raise_if_any()
    assert spec is not None
    if uow.locations.get(spec.code) is not None:
        raise AlreadyExists(f"location '{spec.code}' already exists", field="code")
    uow.locations.add(spec, uow.now)
    uow.audit("location.created", "location", spec.code, after=spec.as_dict())
    uow.emit(events.location_created(spec.code))
    record = _get(uow, spec.code)
    uow.commit()
    return record


def update_location(uow: UnitOfWork, code: str, patch: Mapping[str, Any]) -> LocationRecord:
    require(uow.actor, Permission.LOCATIONS_WRITE)
    current = _get(uow, code)
    errors = Collector()
    if "code" in patch and patch["code"] != code:
        errors.add("code", "cannot be changed")
    errors.raise_if_any()
    merged = {**_raw(current.spec), **patch}
    if isinstance(patch.get("address"), Mapping):
        merged["address"] = {**_raw(current.spec)["address"], **patch["address"]}
    spec = build_location(merged, errors, pincode_states)
    errors.raise_if_any()
    assert spec is not None
    before, after = current.spec.as_dict(), spec.as_dict()
    changed = sorted(k for k in after if after[k] != before[k])
    if changed:
        uow.locations.replace(current.id, spec, uow.now)
        uow.audit(
            "location.updated",
            "location",
            code,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
        record = _get(uow, code)
        uow.commit()
        return record
    return current


def get_location(uow: UnitOfWork, code: str) -> LocationRecord:
    require(uow.actor, Permission.LOCATIONS_READ)
    return _get(uow, code)


def list_locations(uow: UnitOfWork, *, cursor: str | None, limit: int | None) -> Page[LocationRecord]:
    require(uow.actor, Permission.LOCATIONS_READ)
    n = page_limit(limit, default=100)
    after = cursor_values(cursor)
    fetched = uow.locations.page(str(after[0]) if after else None, n + 1)
    more = len(fetched) > n
    fetched = fetched[:n]
    next_cursor = encode_cursor(fetched[-1].spec.code) if more else None
    return Page([r for r in fetched if uow.actor.sees_location(r.spec.code)], next_cursor)


def _get(uow: UnitOfWork, code: str) -> LocationRecord:
    record = uow.locations.get(code)
    if record is None or not uow.actor.sees_location(code):
        raise NotFound(f"location '{code}' not found", field="location")
    return record


def _raw(spec: LocationSpec) -> dict[str, Any]:
    a = spec.address
    return {
        "code": spec.code,
        "name": spec.name,
        "kind": spec.kind.value,
        "address": {
            "line1": a.line1,
            "line2": a.line2,
            "city": a.city,
            "state": a.state.gst_code,
            "pincode": a.pincode,
        },
        "gstin": spec.gstin,
        "capabilities": [c.value for c in spec.capabilities],
        "priority": spec.priority,
        "active": spec.active,
    }
