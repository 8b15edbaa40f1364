"""Tenant-scoped repositories. Every query here filters by the tenant the repository was made for;
callers cannot forget to, because they never write queries themselves."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update

from ordermesh.adapters.db import tables as t
from ordermesh.adapters.db.engine import driver
from ordermesh.adapters.db.idcache import IdCache, StagedIds
from ordermesh.domain.catalog import Component, SkuSpec, canonical
from ordermesh.domain.india import state_by_gst_code
from ordermesh.domain.locations import Address, Capability, LocationKind, LocationSpec

TENANTS = t.Tenant.__table__
USERS = t.User.__table__
KEYS = t.ApiKey.__table__
SKUS = t.Sku.__table__
BARCODES = t.SkuBarcode.__table__
COMPONENTS = t.BundleComponent.__table__
LOCATIONS = t.Location.__table__
AUDIT = t.AuditEntry.__table__
ALERTS = t.Alert.__table__


def encode_cursor(*values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    """The values inside an opaque cursor, or None; a cursor that is not ours raises ValueError."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("cursor is not one this server issued") from exc
    if not isinstance(values, list):
        raise ValueError("cursor is not one this server issued")
    return values


@dataclass(frozen=True)
class TenantRow:
    id: int
    code: str
    name: str
    settings: dict[str, Any]
    config_version: int = 0  # see migration 0003


class TenantRepository:
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, code: str, name: str, now: datetime) -> int:
        return int(
            self.conn.execute(
                insert(TENANTS).values(code=code, name=name, settings={}, created_at=now).returning(TENANTS.c.id)
            ).scalar_one()
        )

    def by_code(self, code: str) -> TenantRow | None:
        if self.conn.dialect.name == "postgresql":  # every webhook's first statement: through the driver (ADR 0007)
            raw = driver(self.conn)
            found = raw.execute(_PG_TENANT_BY_CODE, {"code": code}).fetchone()
            return TenantRow(found[0], found[1], found[2], found[3] or {}, found[4]) if found else None
        row = self.conn.execute(_TENANT_BY_CODE, {"code": code}).first()
        return TenantRow(row.id, row.code, row.name, row.settings, row.config_version) if row else None

    def by_id(self, tenant_id: int) -> TenantRow | None:
        row = self.conn.execute(_TENANT_BY_ID, {"id": tenant_id}).first()
        return TenantRow(row.id, row.code, row.name, row.settings, row.config_version) if row else None

    def set_settings(self, tenant_id: int, settings: dict[str, Any]) -> None:
        self.conn.execute(update(TENANTS).where(TENANTS.c.id == tenant_id).values(settings=settings))

    def all(self) -> list[TenantRow]:
        rows = self.conn.execute(select(TENANTS).order_by(TENANTS.c.code)).all()
        return [TenantRow(r.id, r.code, r.name, r.settings) for r in rows]


# Statements on the order intake path, built once: SQLAlchemy then only looks up their compiled form.
_TENANT_BY_CODE = select(TENANTS).where(TENANTS.c.code == bindparam("code"))  # every webhook looks its tenant up
_TENANT_BY_ID = select(TENANTS).where(TENANTS.c.id == bindparam("id"))
_PG_TENANT_BY_CODE = "SELECT id, code, name, settings, config_version FROM tenants WHERE code = %(code)s"
_SKU_FACTS = select(SKUS.c.code, SKUS.c.id, SKUS.c.mrp, SKUS.c.gst_rate, SKUS.c.active, SKUS.c.is_bundle).where(
    SKUS.c.tenant_id == bindparam("tenant_id"), SKUS.c.code.in_(bindparam("codes", expanding=True))
)
_LOCATIONS = (
    select(LOCATIONS)
    .where(LOCATIONS.c.tenant_id == bindparam("tenant_id"))
    .order_by(LOCATIONS.c.priority, LOCATIONS.c.code)
)
_ACTIVE_LOCATIONS = _LOCATIONS.where(LOCATIONS.c.active.is_(True))


_KEY_BY_PREFIX = (
    select(KEYS, TENANTS.c.code.label("tenant_code"))
    .join(TENANTS, TENANTS.c.id == KEYS.c.tenant_id)
    .where(KEYS.c.prefix == bindparam("prefix"))
)


class UserRepository:
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, **values: Any) -> int:
        return int(self.conn.execute(insert(USERS).values(**values).returning(USERS.c.id)).scalar_one())

    def by_email(self, email: str) -> Any:
        return self.conn.execute(select(USERS).where(USERS.c.email == email.lower())).first()

    def by_id(self, user_id: int) -> Any:
        return self.conn.execute(select(USERS).where(USERS.c.id == user_id)).first()

    def touch_login(self, user_id: int, now: datetime) -> None:
        self.conn.execute(update(USERS).where(USERS.c.id == user_id).values(last_login_at=now))

    def for_tenant(self, tenant_id: int) -> list[Any]:
        return list(self.conn.execute(select(USERS).where(USERS.c.tenant_id == tenant_id).order_by(USERS.c.email)))


class ApiKeyRepository:
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, **values: Any) -> int:
        return int(self.conn.execute(insert(KEYS).values(**values).returning(KEYS.c.id)).scalar_one())

    def by_prefix(self, prefix: str) -> Any:
        """The key with this prefix and its tenant's code (``tenant_code``): every API request asks."""
        return self.conn.execute(_KEY_BY_PREFIX, {"prefix": prefix}).first()

    def for_tenant(self, tenant_id: int) -> list[Any]:
        return list(self.conn.execute(select(KEYS).where(KEYS.c.tenant_id == tenant_id).order_by(KEYS.c.id)))

    def revoke(self, tenant_id: int, prefix: str, now: datetime) -> bool:
        result = self.conn.execute(
            update(KEYS)
            .where(KEYS.c.tenant_id == tenant_id, KEYS.c.prefix == prefix, KEYS.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return result.rowcount == 1


@dataclass(frozen=True)
class SkuFacts:
    id: int
    mrp: Decimal
    gst_rate: Decimal
    active: bool
    is_bundle: bool


@dataclass
class SkuRecord:
    id: int
    spec: SkuSpec
    version: int
    created_at: datetime
    updated_at: datetime


class SkuRepository:
    def __init__(self, conn: Connection, tenant_id: int, cache: StagedIds | None = None):
        self.conn = conn
        self.tenant_id = tenant_id
        self.cache = cache or StagedIds(IdCache())

    def _scoped(self) -> Any:
        return SKUS.c.tenant_id == self.tenant_id

    def get(self, code: str) -> SkuRecord | None:
        row = self.conn.execute(select(SKUS).where(self._scoped(), SKUS.c.code == code)).first()
        if row is None:
            return None
        return self._records([row])[0]

    def ids_for(self, codes: Iterable[str], *, cached_only: bool = False) -> dict[str, tuple[int, bool]]:
        """code -> (id, is_bundle) for the codes that exist in this tenant (``cached_only``: for
        those this process already knows, without asking the database)."""
        found, missing = self.cache.skus(self.tenant_id, list(set(codes)))
        if missing and not cached_only:
            rows = self.conn.execute(
                select(SKUS.c.code, SKUS.c.id, SKUS.c.is_bundle).where(self._scoped(), SKUS.c.code.in_(missing))
            )
            fetched = {r.code: (r.id, r.is_bundle) for r in rows}
            self.cache.remember_skus(self.tenant_id, fetched)
            found.update(fetched)
        return found

    def remember_plain(self, ids: dict[str, int]) -> None:
        """Codes of plain (non-bundle) SKUs whose ids a statement of this transaction resolved."""
        self.cache.remember_skus(self.tenant_id, {code: (sku_id, False) for code, sku_id in ids.items()})

    def facts_for(self, codes: Iterable[str]) -> dict[str, SkuFacts]:
        """What order intake needs to know of each SKU a channel names, in one query."""
        codes = list(set(codes))
        if not codes:
            return {}
        rows = self.conn.execute(_SKU_FACTS, {"tenant_id": self.tenant_id, "codes": codes})
        return {r.code: SkuFacts(r.id, Decimal(r.mrp), Decimal(r.gst_rate), r.active, r.is_bundle) for r in rows}

    def weights_for(self, codes: Iterable[str]) -> dict[str, int]:
        """SKU code -> weight in grams."""
        rows = self.conn.execute(
            select(SKUS.c.code, SKUS.c.weight_g).where(self._scoped(), SKUS.c.code.in_(list(codes)))
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def codes_for_ids(self, ids: Iterable[int]) -> dict[int, str]:
        ids = list(set(ids))
        if not ids:
            return {}
        rows = self.conn.execute(select(SKUS.c.id, SKUS.c.code).where(self._scoped(), SKUS.c.id.in_(ids)))
        return {r.id: r.code for r in rows}

    def components_of(self, bundle_ids: Sequence[int]) -> dict[int, list[tuple[int, int]]]:
        """bundle id -> [(component id, quantity)]."""
        if not bundle_ids:
            return {}
        rows = self.conn.execute(
            select(COMPONENTS.c.bundle_id, COMPONENTS.c.component_id, COMPONENTS.c.quantity)
            .where(COMPONENTS.c.tenant_id == self.tenant_id, COMPONENTS.c.bundle_id.in_(list(bundle_ids)))
            .order_by(COMPONENTS.c.bundle_id, COMPONENTS.c.component_id)
        )
        out: dict[int, list[tuple[int, int]]] = {}
        for r in rows:
            out.setdefault(r.bundle_id, []).append((r.component_id, r.quantity))
        return out

    def bundles_containing(self, component_id: int) -> list[str]:
        rows = self.conn.execute(
            select(SKUS.c.code)
            .join(COMPONENTS, COMPONENTS.c.bundle_id == SKUS.c.id)
            .where(COMPONENTS.c.tenant_id == self.tenant_id, COMPONENTS.c.component_id == component_id)
            .order_by(SKUS.c.code)
        )
        return [r.code for r in rows]

    def barcode_owners(self, barcodes: Sequence[str]) -> dict[str, str]:
        """barcode -> SKU code for barcodes already taken in this tenant."""
        if not barcodes:
            return {}
        rows = self.conn.execute(
            select(BARCODES.c.barcode, SKUS.c.code)
            .join(SKUS, SKUS.c.id == BARCODES.c.sku_id)
            .where(BARCODES.c.tenant_id == self.tenant_id, BARCODES.c.barcode.in_(list(barcodes)))
        )
        return {r.barcode: r.code for r in rows}

    def by_barcode(self, barcode: str) -> str | None:
        return self.conn.execute(
            select(SKUS.c.code)
            .join(BARCODES, BARCODES.c.sku_id == SKUS.c.id)
            .where(BARCODES.c.tenant_id == self.tenant_id, BARCODES.c.barcode == barcode)
        ).scalar()

    def add(self, spec: SkuSpec, component_ids: dict[str, int], now: datetime) -> int:
        sku_id = int(
            self.conn.execute(
                insert(SKUS)
                .values(tenant_id=self.tenant_id, created_at=now, updated_at=now, version=1, **_sku_values(spec))
                .returning(SKUS.c.id)
            ).scalar_one()
        )
        self._write_children(sku_id, spec, component_ids)
        return sku_id

    def replace(self, sku_id: int, spec: SkuSpec, component_ids: dict[str, int], now: datetime) -> None:
        self.cache.forget_sku(self.tenant_id, spec.code)
        self.conn.execute(
            update(SKUS)
            .where(self._scoped(), SKUS.c.id == sku_id)
            .values(updated_at=now, version=SKUS.c.version + 1, **_sku_values(spec))
        )
        self.conn.execute(delete(BARCODES).where(BARCODES.c.tenant_id == self.tenant_id, BARCODES.c.sku_id == sku_id))
        self.conn.execute(
            delete(COMPONENTS).where(COMPONENTS.c.tenant_id == self.tenant_id, COMPONENTS.c.bundle_id == sku_id)
        )
        self._write_children(sku_id, spec, component_ids)

    def _write_children(self, sku_id: int, spec: SkuSpec, component_ids: dict[str, int]) -> None:
        if spec.barcodes:
            self.conn.execute(
                insert(BARCODES),
                [{"tenant_id": self.tenant_id, "barcode": b, "sku_id": sku_id} for b in spec.barcodes],
            )
        if spec.components:
            self.conn.execute(
                insert(COMPONENTS),
                [
                    {
                        "tenant_id": self.tenant_id,
                        "bundle_id": sku_id,
                        "component_id": component_ids[c.sku],
                        "quantity": c.quantity,
                    }
                    for c in spec.components
                ],
            )

    def search(self, query: str | None, after: str | None, limit: int) -> list[SkuRecord]:
        stmt = select(SKUS).where(self._scoped())
        if query:
            q = query.strip()
            like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").lower() + "%"
            barcode_hit = select(BARCODES.c.sku_id).where(
                BARCODES.c.tenant_id == self.tenant_id, BARCODES.c.barcode == q
            )
            stmt = stmt.where(
                or_(
                    func.lower(SKUS.c.code).like(like, escape="\\"),
                    func.lower(SKUS.c.name).like(like, escape="\\"),
                    SKUS.c.id.in_(barcode_hit),
                )
            )
        if after is not None:
            stmt = stmt.where(SKUS.c.code > after)
        rows = self.conn.execute(stmt.order_by(SKUS.c.code).limit(limit)).all()
        return self._records(rows)

    def all_records(self, after: str | None, limit: int) -> list[SkuRecord]:
        return self.search(None, after, limit)

    def count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(SKUS).where(self._scoped())).scalar_one())

    def _records(self, rows: Sequence[Any]) -> list[SkuRecord]:
        bundle_ids = [r.id for r in rows if r.is_bundle]
        comps = self.components_of(bundle_ids)
        comp_codes = self.codes_for_ids({cid for lst in comps.values() for cid, _ in lst})
        out = []
        for r in rows:
            dims = (
                (r.length_cm, r.breadth_cm, r.height_cm)
                if r.length_cm is not None and r.breadth_cm is not None and r.height_cm is not None
                else None
            )
            spec = SkuSpec(
                code=r.code,
                name=r.name,
                hsn=r.hsn,
                gst_rate=Decimal(r.gst_rate),
                mrp=Decimal(r.mrp),
                weight_g=r.weight_g,
                dimensions_cm=tuple(canonical(Decimal(d)) for d in dims) if dims else None,  # type: ignore[arg-type]
                barcodes=list(r.barcodes or []),
                components=[Component(comp_codes[cid], q) for cid, q in comps.get(r.id, [])],
                active=r.active,
            )
            out.append(SkuRecord(r.id, spec, r.version, r.created_at, r.updated_at))
        return out


def _sku_values(spec: SkuSpec) -> dict[str, Any]:
    dims = spec.dimensions_cm
    return {
        "code": spec.code,
        "name": spec.name,
        "hsn": spec.hsn,
        "gst_rate": spec.gst_rate,
        "mrp": spec.mrp,
        "weight_g": spec.weight_g,
        "length_cm": dims[0] if dims else None,
        "breadth_cm": dims[1] if dims else None,
        "height_cm": dims[2] if dims else None,
        "barcodes": list(spec.barcodes),
        "is_bundle": spec.is_bundle,
        "active": spec.active,
    }


@dataclass
class LocationRecord:
    id: int
    spec: LocationSpec
    created_at: datetime
    updated_at: datetime


class LocationRepository:
    def __init__(self, conn: Connection, tenant_id: int, cache: StagedIds | None = None):
        self.conn = conn
        self.tenant_id = tenant_id
        self.cache = cache or StagedIds(IdCache())

    def get(self, code: str) -> LocationRecord | None:
        row = self.conn.execute(
            select(LOCATIONS).where(LOCATIONS.c.tenant_id == self.tenant_id, LOCATIONS.c.code == code)
        ).first()
        return _location(row) if row else None

    def all(self, *, active_only: bool = False) -> list[LocationRecord]:
        rows = self.conn.execute(_ACTIVE_LOCATIONS if active_only else _LOCATIONS, {"tenant_id": self.tenant_id})
        return [_location(r) for r in rows]

    def page(self, after: str | None, limit: int) -> list[LocationRecord]:
        stmt = select(LOCATIONS).where(LOCATIONS.c.tenant_id == self.tenant_id)
        if after is not None:
            stmt = stmt.where(LOCATIONS.c.code > after)
        return [_location(r) for r in self.conn.execute(stmt.order_by(LOCATIONS.c.code).limit(limit))]

    def ids_for(self, codes: Iterable[str]) -> dict[str, int]:
        found, missing = self.cache.locations(self.tenant_id, list(set(codes)))
        if missing:
            rows = self.conn.execute(
                select(LOCATIONS.c.code, LOCATIONS.c.id).where(
                    LOCATIONS.c.tenant_id == self.tenant_id, LOCATIONS.c.code.in_(missing)
                )
            )
            fetched = {r.code: r.id for r in rows}
            self.cache.remember_locations(self.tenant_id, fetched)
            found.update(fetched)
        return found

    def add(self, spec: LocationSpec, now: datetime) -> int:
        return int(
            self.conn.execute(
                insert(LOCATIONS)
                .values(tenant_id=self.tenant_id, created_at=now, updated_at=now, **_location_values(spec))
                .returning(LOCATIONS.c.id)
            ).scalar_one()
        )

    def replace(self, location_id: int, spec: LocationSpec, now: datetime) -> None:
        self.conn.execute(
            update(LOCATIONS)
            .where(LOCATIONS.c.tenant_id == self.tenant_id, LOCATIONS.c.id == location_id)
            .values(updated_at=now, **_location_values(spec))
        )


def _location_values(spec: LocationSpec) -> dict[str, Any]:
    a = spec.address
    return {
        "code": spec.code,
        "name": spec.name,
        "kind": spec.kind.value,
        "line1": a.line1,
        "line2": a.line2,
        "city": a.city,
        "state_code": a.state.gst_code,
        "pincode": a.pincode,
        "gstin": spec.gstin,
        "capabilities": [c.value for c in spec.capabilities],
        "priority": spec.priority,
        "active": spec.active,
    }


def _location(r: Any) -> LocationRecord:
    spec = LocationSpec(
        code=r.code,
        name=r.name,
        kind=LocationKind(r.kind),
        address=Address(r.line1, r.city, state_by_gst_code(r.state_code), r.pincode, r.line2),
        gstin=r.gstin,
        capabilities=[Capability(c) for c in r.capabilities],
        priority=r.priority,
        active=r.active,
    )
    return LocationRecord(r.id, spec, r.created_at, r.updated_at)


class AuditRepository:
    def __init__(self, conn: Connection, tenant_id: int):
        self.conn = conn
        self.tenant_id = tenant_id

    def page(
        self,
        *,
        entity_type: str | None = None,
        entity_key: str | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[Any]:
        stmt = select(AUDIT).where(AUDIT.c.tenant_id == self.tenant_id)
        if entity_type:
            stmt = stmt.where(AUDIT.c.entity_type == entity_type)
        if entity_key:
            stmt = stmt.where(AUDIT.c.entity_key == entity_key)
        if before_id is not None:
            stmt = stmt.where(AUDIT.c.id < before_id)
        return list(self.conn.execute(stmt.order_by(AUDIT.c.id.desc()).limit(limit)))


class AlertRepository:
    def __init__(self, conn: Connection, tenant_id: int):
        self.conn = conn
        self.tenant_id = tenant_id

    def open_one(self, kind: str, subject: str, message: str, data: dict[str, Any], now: datetime) -> bool:
        """Open an alert unless one of the same kind and subject is still open."""
        existing = self.conn.execute(
            select(ALERTS.c.id).where(
                and_(
                    ALERTS.c.tenant_id == self.tenant_id,
                    ALERTS.c.kind == kind,
                    ALERTS.c.subject == subject,
                    ALERTS.c.resolved_at.is_(None),
                )
            )
        ).first()
        if existing:
            return False
        self.conn.execute(
            insert(ALERTS).values(
                tenant_id=self.tenant_id, kind=kind, subject=subject, message=message, data=data, created_at=now
            )
        )
        return True

    def resolve(self, kind: str, subject: str, now: datetime) -> int:
        return self.conn.execute(
            update(ALERTS)
            .where(
                ALERTS.c.tenant_id == self.tenant_id,
                ALERTS.c.kind == kind,
                ALERTS.c.subject == subject,
                ALERTS.c.resolved_at.is_(None),
            )
            .values(resolved_at=now)
        ).rowcount

    def open_alerts(self, limit: int = 100) -> list[Any]:
        return list(
            self.conn.execute(
                select(ALERTS)
                .where(ALERTS.c.tenant_id == self.tenant_id, ALERTS.c.resolved_at.is_(None))
                .order_by(ALERTS.c.id.desc())
                .limit(limit)
            )
        )
