"""The FastAPI application: API routers, dashboard pages, error handling, health and metrics."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi_offline import FastAPIOffline

from ordermesh import __version__
from ordermesh.adapters.db import migrate
from ordermesh.api import problems
from ordermesh.api.middleware import RequestMiddleware
from ordermesh.api.routers import (
    channel_sync,
    channels,
    customers,
    health,
    inventory,
    locations,
    orders,
    platform,
    routing,
    shipping,
    skus,
)
from ordermesh.bootstrap import Container, bootstrap, settle_heap
from ordermesh.config import Settings
from ordermesh.domain.errors import SchemaBehind
from ordermesh.services import channel_sync as channel_sync_service
from ordermesh.services import routing as routing_service
from ordermesh.services import shipping as shipping_service
from ordermesh.web import install_web
from ordermesh.worker.main import start_in_thread

log = logging.getLogger("ordermesh")


# How long a thread that wants the GIL waits before the running one is made to give it up (Python's
# default: 5 ms). An API process hands every request between its event loop and other threads (the
# tracking intake's writer, the thread pool of the sync endpoints), and a handoff to a thread that is
# running Python waits for this interval: at 5 ms, it was most of a queued tracking push's latency,
# and eight concurrent carriers left a core idle. 0.1 ms: about 20-40% more pushes a second with the
# same CPU per push (docs/benchmarks.md).
GIL_SWITCH_SECONDS = 0.0001


def ensure_schema_current(container: Container) -> None:
    """Refuse to serve a database whose migrations are behind the code."""
    if migrate.pending(container.engine):
        current = migrate.current_revision(container.engine) or "empty"
        raise SchemaBehind(
            f"the database ({current}) is behind this version of ordermesh "
            f"({migrate.head_revision()}): run 'ordermesh db upgrade' first"
        )


def _new_writers(app: FastAPI, c: Container) -> None:
    """The group-commit writers of the webhook endpoints (services.group_commit)."""
    app.state.push_intake = shipping_service.PushIntake(c.uow, c.connections)
    app.state.webhook_intake = channel_sync_service.WebhookIntake(
        c.uow, c.connections, queued=not c.settings.webhooks_inline
    )


def create_app(
    settings: Settings | None = None,
    *,
    container: Container | None = None,
    run_worker: bool = False,
    settle: bool = False,
) -> FastAPI:
    """``settle``: a serving process's app (``ordermesh serve``), which moves what it loaded at
    start out of the garbage collector's way once started (bootstrap.settle_heap)."""
    settings = settings or (container.settings if container else Settings())
    owns_container = container is None
    c = container or bootstrap(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ensure_schema_current(c)
        _new_writers(app, c)  # this run's (the application may be started again: tests do)
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        routing_service.prepare()
        if settle:
            settle_heap()
        worker = start_in_thread(c) if run_worker else None
        try:
            yield
        finally:
            app.state.push_intake.close()
            app.state.webhook_intake.close()
            if worker:
                worker[1].set()
                worker[0].join(timeout=10)
            if owns_container:
                c.close()

    app = FastAPIOffline(
        title="ordermesh",
        version=__version__,
        description="Order management for multi-channel sellers and 3PLs. Authenticate with "
        "`Authorization: Bearer <API key>` (create one with `ordermesh keys create`). Errors are "
        "RFC 9457 problem+json.",
        lifespan=lifespan,
    )
    app.state.container = c
    _new_writers(app, c)  # replaced each time the application starts (lifespan), closed when it stops
    problems.install(app)
    # Routes are matched in order, and each one tried costs: the high-volume paths come first
    # (channels' and carriers' webhooks, new orders). No two routers share a path.
    for router in (
        channel_sync.webhooks,
        shipping.webhooks,
        orders.router,
        skus.router,
        locations.router,
        inventory.router,
        channel_sync.router,
        channels.router,
        customers.router,
        routing.router,
        platform.router,
        shipping.router,
        shipping.public,
        health.router,
    ):
        app.include_router(router)
    install_web(app, settings)
    app.add_middleware(
        RequestMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        upload_paths=("/api/v1/skus/import",),
    )

    app.openapi = lambda: problems.openapi_with_problems(app)  # type: ignore[method-assign]

    @app.get("/problems/{code}", include_in_schema=False, response_class=HTMLResponse)
    def problem_type(code: str) -> str:
        return problems.describe(code)

    return app


def app_factory() -> FastAPI:
    """For `uvicorn --factory ordermesh.api.app:app_factory` and multi-process serving."""
    import os

    return create_app(run_worker=os.environ.get("ORDERMESH_RUN_WORKER", "") == "1", settle=True)
