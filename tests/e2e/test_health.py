from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ordermesh.api.app import create_app
from ordermesh.config import Settings
from ordermesh.domain.errors import SchemaBehind


def test_healthz_readyz_metrics(app_client: TestClient) -> None:
    assert app_client.get("/healthz").json() == {"status": "ok"}
    ready = app_client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    app_client.get("/api/v1/skus")
    metrics = app_client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'ordermesh_http_requests_total{method="GET",route="/api/v1/skus",status="401"}' in metrics.text
    assert 'ordermesh_outbox_events{status="pending"}' in metrics.text


def test_openapi_and_docs_are_served(app_client: TestClient) -> None:
    spec = app_client.get("/openapi.json").json()
    assert "/api/v1/skus" in spec["paths"] and "/api/v1/inventory/movements" in spec["paths"]
    docs = app_client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()  # works offline
    assert app_client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200


def test_every_response_carries_a_request_id(app_client: TestClient) -> None:
    r = app_client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    assert app_client.get("/healthz").headers["x-request-id"]


def test_server_refuses_to_start_on_an_unmigrated_database(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'fresh.db'}"))
    with pytest.raises(SchemaBehind, match="ordermesh db upgrade"), TestClient(app):
        pass
