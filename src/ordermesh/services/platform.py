"""Tenants, users and API keys, and turning credentials into an Actor."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ordermesh.adapters.db.repositories import TenantRow, encode_cursor
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.adapters.security import (
    hash_key,
    hash_password,
    key_matches,
    key_prefix,
    new_api_key,
    verify_password,
)
from ordermesh.domain.access import Actor, Permission, Role
from ordermesh.domain.errors import AlreadyExists, Collector, NotFound, Unauthorized
from ordermesh.services.channels import add_default_channels
from ordermesh.services.common import Page, cursor_values, page_limit, require

TENANT_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the tenant it acts in and who it is."""

    tenant_id: int
    tenant_code: str
    actor: Actor


def _role(value: str, errors: Collector, field: str = "role") -> Role | None:
    try:
        return Role(value)
    except ValueError:
        errors.add(field, f"must be one of {', '.join(r.value for r in Role)}")
        return None


def create_tenant(uow: UnitOfWork, *, code: str, name: str | None = None) -> int:
    errors = Collector()
    if not TENANT_CODE_RE.match(code):
        errors.add("code", "a tenant code is 2-64 lowercase letters, digits or '-'")
    errors.raise_if_any()
    if uow.tenants.by_code(code):
        raise AlreadyExists(f"tenant '{code}' already exists", field="code")
    tenant_id = uow.tenants.add(code, name or code, uow.now)
    uow.use_tenant(tenant_id)
    uow.audit("tenant.created", "tenant", code, after={"code": code, "name": name or code})
    add_default_channels(uow)
    uow.commit()
    return tenant_id


def tenant_id_for(uow: UnitOfWork, code: str) -> int:
    tenant = uow.tenants.by_code(code)
    if tenant is None:
        raise NotFound(f"tenant '{code}' not found", field="tenant")
    return tenant.id


def _enter_tenant_as_admin(uow: UnitOfWork, tenant: str, locations: Sequence[str] | None) -> int:
    """Scope the unit of work to the tenant a credential is for, and check the narrowing exists."""
    tenant_id = tenant_id_for(uow, tenant)
    uow.use_tenant(tenant_id)
    require(uow.actor, Permission.USERS_MANAGE)
    if locations:
        missing = set(locations) - set(uow.locations.ids_for(locations))
        if missing:
            raise NotFound(f"location '{sorted(missing)[0]}' not found", field="locations")
    return tenant_id


def _narrowing(values: Sequence[str] | None) -> list[str] | None:
    return sorted(set(values)) if values else None


def create_user(
    uow: UnitOfWork,
    *,
    tenant: str,
    email: str,
    name: str,
    password: str,
    role: str,
    locations: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
) -> int:
    errors = Collector()
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        errors.add("email", "is not an email address")
    if len(password) < 10:
        errors.add("password", "must be at least 10 characters")
    role_value = _role(role, errors)
    errors.raise_if_any()
    assert role_value is not None
    tenant_id = _enter_tenant_as_admin(uow, tenant, locations)
    if uow.users.by_email(email):
        raise AlreadyExists(f"a user with email {email} already exists", field="email")
    user_id = uow.users.add(
        tenant_id=tenant_id,
        email=email,
        name=name.strip() or email,
        password_hash=hash_password(password),
        role=role_value.value,
        locations=_narrowing(locations),
        channels=_narrowing(channels),
        active=True,
        created_at=uow.now,
    )
    uow.audit(
        "user.created",
        "user",
        email,
        after={
            "email": email,
            "role": role_value.value,
            "locations": _narrowing(locations),
            "channels": _narrowing(channels),
        },
    )
    uow.commit()
    return user_id


@dataclass(frozen=True)
class IssuedKey:
    key: str
    prefix: str
    tenant: str
    role: str


def create_api_key(
    uow: UnitOfWork,
    *,
    tenant: str,
    role: str,
    name: str = "",
    locations: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
) -> IssuedKey:
    """Issue a key. Only its hash is stored: the plain key exists in the return value alone."""
    errors = Collector()
    role_value = _role(role, errors)
    errors.raise_if_any()
    assert role_value is not None
    tenant_id = _enter_tenant_as_admin(uow, tenant, locations)
    key, prefix = new_api_key()
    uow.api_keys.add(
        tenant_id=tenant_id,
        prefix=prefix,
        key_hash=hash_key(key),
        name=name or f"{role_value.value} key",
        role=role_value.value,
        locations=_narrowing(locations),
        channels=_narrowing(channels),
        created_at=uow.now,
    )
    uow.audit(
        "api_key.created",
        "api_key",
        prefix,
        after={"role": role_value.value, "name": name, "locations": _narrowing(locations)},
    )
    uow.commit()
    return IssuedKey(key, prefix, tenant, role_value.value)


def revoke_api_key(uow: UnitOfWork, *, prefix: str) -> None:
    require(uow.actor, Permission.USERS_MANAGE)
    assert uow.tenant_id is not None
    if not uow.api_keys.revoke(uow.tenant_id, prefix, uow.now):
        raise NotFound(f"API key '{prefix}' not found or already revoked", field="prefix")
    uow.audit("api_key.revoked", "api_key", prefix, before={"revoked": False}, after={"revoked": True})
    uow.commit()


def _frozen(values: object) -> frozenset[str] | None:
    return frozenset(str(v) for v in values) if isinstance(values, list) else None


def authenticate_key(uow: UnitOfWork, key: str) -> Principal:
    prefix = key_prefix(key)
    row = uow.api_keys.by_prefix(prefix) if prefix else None
    if row is None or row.revoked_at is not None or not key_matches(key, row.key_hash):
        raise Unauthorized("the API key is not valid")
    actor = Actor("api_key", row.prefix, row.name, Role(row.role), _frozen(row.locations), _frozen(row.channels))
    return Principal(row.tenant_id, row.tenant_code, actor)


def authenticate_user(uow: UnitOfWork, email: str, password: str) -> Principal:
    row = uow.users.by_email(email.strip().lower())
    if row is None:
        hash_password(password)  # spend the same time as a real check, so timing does not reveal emails
        raise Unauthorized("email or password is wrong")
    if not row.active or not verify_password(row.password_hash, password):
        raise Unauthorized("email or password is wrong")
    uow.users.touch_login(row.id, uow.now)
    principal = principal_for_user(uow, row.id)
    uow.use_tenant(principal.tenant_id)
    uow.actor = principal.actor
    uow.audit("user.logged_in", "user", row.email)
    uow.commit()
    return principal


def principal_for_user(uow: UnitOfWork, user_id: int) -> Principal:
    row = uow.users.by_id(user_id)
    if row is None or not row.active:
        raise Unauthorized("the session has ended; log in again")
    tenant = uow.tenants.by_id(row.tenant_id)
    assert tenant is not None
    actor = Actor("user", str(row.id), row.name, Role(row.role), _frozen(row.locations), _frozen(row.channels))
    return Principal(tenant.id, tenant.code, actor)


def audit_page(
    uow: UnitOfWork, *, entity_type: str | None, entity_key: str | None, cursor: str | None, limit: int | None
) -> Page[dict[str, Any]]:
    require(uow.actor, Permission.AUDIT_READ)
    n = page_limit(limit)
    before = cursor_values(cursor)
    rows = uow.audit_log.page(
        entity_type=entity_type, entity_key=entity_key, before_id=int(str(before[0])) if before else None, limit=n + 1
    )
    more = len(rows) > n
    rows = rows[:n]
    return Page([dict(r._mapping) for r in rows], encode_cursor(rows[-1].id) if more and rows else None)


def open_alerts(uow: UnitOfWork) -> list[dict[str, Any]]:
    require(uow.actor, Permission.INVENTORY_READ)
    return [dict(r._mapping) for r in uow.alerts.open_alerts()]


def list_tenants(uow: UnitOfWork) -> list[TenantRow]:
    """Every tenant of the installation (operators' command line; no tenant is in scope)."""
    return uow.tenants.all()


def list_api_keys(uow: UnitOfWork) -> list[Any]:
    require(uow.actor, Permission.USERS_MANAGE)
    assert uow.tenant_id is not None
    return uow.api_keys.for_tenant(uow.tenant_id)


def get_risk_rules(uow: UnitOfWork) -> dict[str, Any]:
    from ordermesh.domain.risk import RiskConfig

    require(uow.actor, Permission.ORDERS_READ)
    return RiskConfig.from_dict(uow.tenant_settings().get("risk") or {}).to_dict()


def set_risk_rules(uow: UnitOfWork, raw: dict[str, Any]) -> dict[str, Any]:
    """Replace the tenant's risk rules (missing keys take their defaults); the old and new rules
    are kept in the audit trail, which is their version history."""
    from ordermesh.domain.risk import RiskConfig

    require(uow.actor, Permission.SETTINGS_WRITE)
    errors = Collector()
    config = RiskConfig.from_dict(raw, errors)
    errors.raise_if_any()
    assert config is not None and uow.tenant_id is not None
    settings = dict(uow.tenant_settings())
    before = RiskConfig.from_dict(settings.get("risk") or {}).to_dict()
    after = config.to_dict()
    settings["risk"] = after
    uow.tenants.set_settings(uow.tenant_id, settings)
    uow.audit("settings.risk_changed", "settings", "risk", before=before, after=after)
    uow.commit()
    return after
