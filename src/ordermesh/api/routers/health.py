"""Liveness, readiness and Prometheus metrics. No authentication: put them behind your network."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ordermesh.api.deps import ContainerDep
from ordermesh.services import health

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "database unreachable or migrations behind"}})
def readyz(container: ContainerDep) -> Any:
    """Ready to serve: the database answers and its migrations are current."""
    report = health.readiness(container)
    if not report.ready:
        return JSONResponse(
            {
                "type": "/problems/not-ready",
                "title": "Not ready",
                "status": 503,
                "detail": report.detail,
                "checks": report.checks,
            },
            status_code=503,
            media_type="application/problem+json",
        )
    return {"status": "ready", "checks": report.checks}


@router.get("/metrics", response_class=Response)
def metrics(container: ContainerDep) -> Response:
    """Prometheus text format: request counts and latency, outbox depth, database pool."""
    health.refresh_gauges(container)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
