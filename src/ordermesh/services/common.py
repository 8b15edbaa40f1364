"""Helpers every service shares: permission checks, paging, and code -> id resolution."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ordermesh.adapters.db.repositories import decode_cursor
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.domain.access import Actor, Permission
from ordermesh.domain.errors import Forbidden, NotFound, ValidationFailed

T = TypeVar("T")
MAX_PAGE = 200


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden(f"role '{actor.role.value}' may not do this (needs {permission.value})")


def page_limit(limit: int | None, default: int = 50) -> int:
    if limit is None:
        return default
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be from 1 to {MAX_PAGE}", field="limit")
    return limit


def cursor_values(cursor: str | None) -> list[object] | None:
    try:
        return decode_cursor(cursor)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="cursor") from exc


def location_ids(uow: UnitOfWork, codes: Sequence[str], field: str = "location") -> dict[str, int]:
    """Resolve location codes the actor may see; an unknown or hidden one is 'not found' alike."""
    ids = uow.locations.ids_for(codes)
    for code in codes:
        if code not in ids or not uow.actor.sees_location(code):
            raise NotFound(f"location '{code}' not found", field=field)
    return ids
