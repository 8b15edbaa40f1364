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


async def get_container(request: Request) -> Container:
    # async: a plain function would cost every request a hop to the thread pool and back.
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def _bearer_key(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if not header:
        raise Unauthorized("send your API key as 'Authorization: Bearer <key>'")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <key>'")
    return key.strip()


def get_principal(request: Request, container: ContainerDep) -> Principal:
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:  # the request's unit of work checked the key already
        return known
    key = _bearer_key(request)
    with container.uow(tenant_id=None, write=False) as uow:
        principal = authenticate_key(uow, key)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _uow(request: Request, container: ContainerDep) -> Iterator[UnitOfWork]:
    """The request's unit of work, bound to the tenant of its API key. The key is checked inside it
    (one connection and one transaction per request, not two), unless a dependency declared
    before it checked the key already."""
    known: Principal | None = getattr(request.state, "principal", None)
    key = None if known is not None else _bearer_key(request)
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    with container.uow(tenant_id=None, request_id=getattr(request.state, "request_id", None), write=write) as uow:
        principal = known or authenticate_key(uow, key or "")
        request.state.principal = principal
        uow.use_tenant(principal.tenant_id)
        uow.actor = principal.actor
        yield uow


UowDep = Annotated[UnitOfWork, Depends(_uow)]
