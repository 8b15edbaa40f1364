"""Who am I, API keys, the audit trail and alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ordermesh.api.deps import PrincipalDep, UowDep
from ordermesh.api.schemas.common import PROBLEM_RESPONSES, Input, PageOut
from ordermesh.domain.access import ROLE_PERMISSIONS
from ordermesh.services import platform, sla

router = APIRouter(prefix="/api/v1", tags=["platform"], responses=PROBLEM_RESPONSES)


class MeOut(BaseModel):
    tenant: str
    actor: str
    role: str
    permissions: list[str]
    locations: list[str] | None
    channels: list[str] | None


@router.get("/me", response_model=MeOut)
def me(principal: PrincipalDep) -> dict[str, Any]:
    a = principal.actor
    return {
        "tenant": principal.tenant_code,
        "actor": a.ref,
        "role": a.role.value,
        "permissions": sorted(p.value for p in ROLE_PERMISSIONS[a.role]),
        "locations": sorted(a.locations) if a.locations is not None else None,
        "channels": sorted(a.channels) if a.channels is not None else None,
    }


class KeyIn(Input):
    role: Literal["admin", "ops", "warehouse", "finance", "support", "viewer"]
    name: str = ""
    locations: list[str] | None = Field(None, description="narrow the key to these locations")
    channels: list[str] | None = None


class KeyOut(BaseModel):
    key: str = Field(description="shown once; only its hash is stored")
    prefix: str
    role: str


@router.post("/api-keys", status_code=201, response_model=KeyOut)
def create_key(body: KeyIn, uow: UowDep, principal: PrincipalDep) -> dict[str, Any]:
    issued = platform.create_api_key(uow, tenant=principal.tenant_code, **body.model_dump())
    return {"key": issued.key, "prefix": issued.prefix, "role": issued.role}


@router.delete("/api-keys/{prefix}", status_code=204)
def revoke_key(prefix: str, uow: UowDep) -> None:
    platform.revoke_api_key(uow, prefix=prefix)


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_label: str
    action: str
    entity_type: str
    entity_key: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None


class AuditPage(PageOut):
    items: list[AuditOut]


@router.get("/audit", response_model=AuditPage)
def audit(
    uow: UowDep,
    entity_type: str | None = None,
    entity_key: str | None = None,
    cursor: str | None = None,
    limit: int | None = Query(None, ge=1, le=200, description="page size, 1-200"),
) -> dict[str, Any]:
    """The audit trail, newest first: who changed what, when, with before and after."""
    page = platform.audit_page(uow, entity_type=entity_type, entity_key=entity_key, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


class AlertOut(BaseModel):
    id: int
    kind: str
    subject: str
    message: str
    data: dict[str, Any]
    created_at: datetime


@router.get("/alerts", response_model=list[AlertOut])
def alerts(uow: UowDep) -> list[dict[str, Any]]:
    """Open alerts (low stock now; SLA breaches and sync errors as they come)."""
    return platform.open_alerts(uow)


class SlaRowOut(BaseModel):
    sla: str
    channel: str
    location: str | None
    orders: int


@router.get("/sla/breaches", response_model=list[SlaRowOut])
def sla_breaches(uow: UowDep) -> list[dict[str, Any]]:
    """Open orders at risk of missing, or past, their dispatch-by time, by channel and location."""
    return sla.breach_report(uow)
