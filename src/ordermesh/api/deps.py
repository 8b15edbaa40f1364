"""FastAPI dependencies: the container, the authenticated principal and a unit of work bound to
the principal's tenant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.bootstrap import Container
from ordermesh.domain.errors import Unauthorized
from ordermesh.services.platform import Principal, authenticate_key


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_principal(request: Request, container: ContainerDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if not header:
        raise Unauthorized("send your API key as 'Authorization: Bearer <key>'")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <key>'")
    with container.uow(tenant_id=None, write=False) as uow:
        principal = authenticate_key(uow, key.strip())
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _uow(request: Request, container: ContainerDep, principal: PrincipalDep) -> Iterator[UnitOfWork]:
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    with container.uow(
        tenant_id=principal.tenant_id,
        actor=principal.actor,
        request_id=getattr(request.state, "request_id", None),
        write=write,
    ) as uow:
        yield uow


UowDep = Annotated[UnitOfWork, Depends(_uow)]
