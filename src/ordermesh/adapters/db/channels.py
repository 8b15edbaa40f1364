"""Tenant-scoped repository of sales channels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from ordermesh.adapters.db import tables as t
from ordermesh.domain.channels import ChannelSpec, ChannelType

CHANNELS = t.Channel.__table__


@dataclass
class ChannelRecord:
    id: int
    spec: ChannelSpec
    created_at: datetime
    updated_at: datetime
    sealed_credentials: str | None = None  # ciphertext; opened only to build a connector


def _record(r: Any) -> ChannelRecord:
    spec = ChannelSpec(
        r.code, ChannelType(r.type), r.name, r.locations, r.sla or {}, r.routing or {}, r.active,
        r.base_url, dict(r.connector or {}), dict(r.inventory or {}),
    )  # fmt: skip
    return ChannelRecord(r.id, spec, r.created_at, r.updated_at, r.credentials)


# Built once (on the order intake path): SQLAlchemy then only looks its compiled form up.
_BY_CODE = select(CHANNELS).where(CHANNELS.c.tenant_id == bindparam("tenant_id"), CHANNELS.c.code == bindparam("code"))


class ChannelRepository:
    def __init__(self, conn: Connection, tenant_id: int):
        self.conn = conn
        self.tenant_id = tenant_id

    def get(self, code: str) -> ChannelRecord | None:
        row = self.conn.execute(_BY_CODE, {"tenant_id": self.tenant_id, "code": code}).first()
        return _record(row) if row else None

    def all(self) -> list[ChannelRecord]:
        rows = self.conn.execute(
            select(CHANNELS).where(CHANNELS.c.tenant_id == self.tenant_id).order_by(CHANNELS.c.code)
        )
        return [_record(r) for r in rows]

    def add(self, spec: ChannelSpec, now: datetime) -> int:
        return int(
            self.conn.execute(
                insert(CHANNELS)
                .values(tenant_id=self.tenant_id, created_at=now, updated_at=now, **_values(spec))
                .returning(CHANNELS.c.id)
            ).scalar_one()
        )

    def set_credentials(self, channel_id: int, sealed: str | None, now: datetime) -> None:
        self.conn.execute(
            update(CHANNELS)
            .where(CHANNELS.c.tenant_id == self.tenant_id, CHANNELS.c.id == channel_id)
            .values(credentials=sealed, updated_at=now)
        )

    def replace(self, channel_id: int, spec: ChannelSpec, now: datetime) -> None:
        self.conn.execute(
            update(CHANNELS)
            .where(CHANNELS.c.tenant_id == self.tenant_id, CHANNELS.c.id == channel_id)
            .values(updated_at=now, **_values(spec))
        )


def _values(spec: ChannelSpec) -> dict[str, Any]:
    return {
        "code": spec.code,
        "type": spec.type.value,
        "name": spec.name,
        "locations": spec.locations,
        "sla": spec.sla,
        "routing": spec.routing,
        "active": spec.active,
        "base_url": spec.base_url,
        "connector": spec.connector,
        "inventory": spec.inventory,
    }
