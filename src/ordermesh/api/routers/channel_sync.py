"""Channel sync over HTTP: webhooks in, listings and their available-to-sell, pulls, pushes,
reconciliation, the inbox and sync health."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field, StrictBool

from ordermesh.api.deps import ContainerDep, UowDep
from ordermesh.api.schemas.common import PROBLEM_RESPONSES, Input, path_param
from ordermesh.bootstrap import Container
from ordermesh.domain.errors import ValidationFailed
from ordermesh.services import channel_sync as cs

router = APIRouter(prefix="/api/v1/channels", tags=["channel sync"], responses=PROBLEM_RESPONSES)
webhooks = APIRouter(tags=["channel sync"], responses=PROBLEM_RESPONSES)


class WebhookOut(BaseModel):
    received: bool
    duplicate: bool
    item_id: int | None
    processed: bool


@webhooks.post(
    "/webhooks/{tenant}/{channel}",
    response_model=WebhookOut,
    # The endpoint takes only the request (channels deliver in volume: no dependencies to solve, no
    # parameters to validate, per webhook); its parameters are documented here.
    openapi_extra={
        "parameters": [
            path_param("tenant", "the tenant's code"),
            path_param("channel", "the channel's code"),
            {
                "name": "token",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "the shared webhook token, for a channel that cannot send it in a header (Flipkart)",
            },
        ]
    },
)
async def receive_webhook(request: Request) -> Response:
    """Where a channel delivers its webhooks (Shopify, WooCommerce, Flipkart). No API key: the
    body's signature, checked with the channel's webhook secret, authenticates it. The body is
    stored before anything else; a bad signature is kept for inspection and answered 401; the same
    delivery again is answered 200 and not processed twice."""
    from starlette.concurrency import run_in_threadpool

    tenant, channel = request.path_params["tenant"], request.path_params["channel"]
    container: Container = request.app.state.container
    body = await request.body()
    headers = dict(request.headers)
    # A channel that cannot send custom headers (Flipkart) puts the shared token in the URL.
    if token := request.query_params.get("token"):
        headers.setdefault("x-ordermesh-webhook-token", token)
    sync = cs.Sync(container.uow, container.connections, 0, inline=container.settings.webhooks_inline)
    # Handled with the deliveries that arrive beside it (WebhookIntake): processed, or when
    # webhooks are queued, stored for the workers.
    intake: cs.WebhookIntake = request.app.state.webhook_intake
    got = await asyncio.wrap_future(intake.submit(tenant, channel, headers, body))
    if not isinstance(got, cs.Received):
        got = await run_in_threadpool(cs.WebhookIntake.settle, got, sync, tenant, channel, headers, body)
    # Built here, not re-validated against the response model (which documents it): the hot path.
    answer = {"received": True, "duplicate": got.item_id is None, "item_id": got.item_id, "processed": got.processed}
    return Response(json.dumps(answer), media_type="application/json")


class CredentialsIn(Input):
    credentials: dict[str, str] = Field(
        description="the channel's secrets (access_token, webhook_secret, consumer_key, refresh_token …); "
        "sealed at rest, never returned"
    )


@router.put("/{code}/credentials", status_code=204)
def set_credentials(code: str, body: CredentialsIn, uow: UowDep, container: ContainerDep) -> None:
    cs.set_credentials(uow, container.connections, code, body.credentials)


class ListingIn(Input):
    sku: str | None = Field(None, description="our SKU or bundle code; omit while unmapped")
    seller_sku: str | None = None
    attributes: dict[str, Any] | None = Field(
        None, description="ids the channel's inventory call needs: inventory_item_id, parent_id, asin, product_type …"
    )
    active: StrictBool = True


class ListingOut(BaseModel):
    listing_id: str
    seller_sku: str | None
    sku: str | None
    attributes: dict[str, Any]
    active: bool
    available_to_sell: dict[str, Any] | None
    explanation: str
    pushed_quantity: int | None
    pushed_at: datetime | None
    push_error: str | None
    pending_push: bool
    channel_quantity: int | None
    checked_at: datetime | None


@router.put("/{code}/listings/{listing_id}", response_model=ListingOut)
def put_listing(code: str, listing_id: str, body: ListingIn, uow: UowDep) -> dict[str, Any]:
    """Map one of the channel's listings to a SKU (and keep the ids its inventory call needs)."""
    cs.put_listing(uow, code, {"listing_id": listing_id, **body.model_dump(exclude_none=True)})
    with uow.reopen() as fresh:
        found = [v for v in cs.list_listings(fresh, code, limit=100_000) if v.listing.listing_id == listing_id]
    return found[0].as_dict()


@router.get("/{code}/listings", response_model=list[ListingOut])
def list_listings(
    code: str,
    uow: UowDep,
    after: int = Query(0, ge=0, le=2**63 - 1, description="the last listing row of the previous page"),
    limit: int = Query(100, ge=1, le=500),
) -> list[dict[str, Any]]:
    """Each listing with its available-to-sell and every term of it, so a seller can see why a
    channel shows the number it shows."""
    return [v.as_dict() for v in cs.list_listings(uow, code, after_id=after, limit=limit)]


class ListingImportOut(BaseModel):
    created: int
    updated: int
    errors: list[dict[str, Any]]


@router.post("/{code}/listings/import", response_model=ListingImportOut)
async def import_listings(code: str, request: Request, uow: UowDep) -> dict[str, Any]:
    """Listings from a CSV body: listing_id, sku, seller_sku, active, and any other column as an
    attribute (inventory_item_id, parent_id, asin, product_type, fsn, location_id)."""
    rows = read_csv(await request.body())
    from starlette.concurrency import run_in_threadpool

    result = await run_in_threadpool(cs.import_listings, uow, code, rows)
    return {"created": result.created, "updated": result.updated, "errors": result.errors}


def read_csv(raw: bytes) -> list[dict[str, str]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("the CSV must be UTF-8 encoded", field="body") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "listing_id" not in [h.strip() for h in reader.fieldnames]:
        raise ValidationFailed("the CSV needs a header row with a listing_id column", field="body")
    return [{(k or "").strip(): v for k, v in row.items()} for row in reader]


class PullOut(BaseModel):
    pages: int
    errors: list[str]


@router.post("/{code}/pull", response_model=PullOut)
def pull(code: str, uow: UowDep, container: ContainerDep) -> dict[str, Any]:
    """Fetch new and changed orders from the channel now."""
    _release(uow)
    result = cs.pull_orders(cs.Sync(container.uow, container.connections, _tenant(uow)), code, force=True)
    return {"pages": result.pages, "errors": result.errors}


class PushOut(BaseModel):
    pushed: int
    failed: int
    errors: list[str]


@router.post("/{code}/inventory/push", response_model=PushOut)
def push(code: str, uow: UowDep, container: ContainerDep) -> dict[str, Any]:
    """Push every listing whose stock changed since its last push, now."""
    _release(uow)
    result = cs.push_inventory(cs.Sync(container.uow, container.connections, _tenant(uow)), code, force=True)
    return {"pushed": result.pushed, "failed": result.failed, "errors": result.errors}


class ReconcileOut(BaseModel):
    checked: int
    drift: list[dict[str, Any]]
    corrected: int
    errors: list[str]


@router.post("/{code}/inventory/reconcile", response_model=ReconcileOut)
def reconcile(code: str, uow: UowDep, container: ContainerDep) -> dict[str, Any]:
    """Read the channel's quantities back, report drift and correct it."""
    _release(uow)
    return cs.reconcile(cs.Sync(container.uow, container.connections, _tenant(uow)), code).as_dict()


class InboxItemOut(BaseModel):
    id: int
    channel: str
    source: str
    topic: str | None
    state: str
    error: str | None
    attempts: int
    result: dict[str, Any]
    received_at: datetime
    processed_at: datetime | None
    size: int


@router.get("/inbox/items", response_model=list[InboxItemOut])
def list_inbox(
    uow: UowDep,
    channel: str | None = None,
    state: str | None = Query(None, description="received, processing, processed, failed or rejected"),
    limit: int = Query(50, ge=1, le=200),
) -> list[dict[str, Any]]:
    """What channels sent, newest first; failed and rejected items keep their error."""
    codes = {c.id: c.spec.code for c in uow.all_channels()}
    return [inbox_out(r, codes) for r in cs.inbox(uow, channel=channel, state=state, limit=limit)]


def inbox_out(r: Any, codes: dict[int, str]) -> dict[str, Any]:
    return {
        "id": r.id,
        "channel": codes.get(r.channel_id, "?"),
        "source": r.source,
        "topic": r.topic,
        "state": r.state,
        "error": r.error,
        "attempts": r.attempts,
        "result": r.result,
        "received_at": r.received_at,
        "processed_at": r.processed_at,
        "size": len(r.body),
    }


class RetryOut(BaseModel):
    processed: bool
    error: str | None


@router.post("/inbox/items/{item_id}/retry", response_model=RetryOut)
def retry(item_id: Annotated[int, Path(ge=1, le=2**63 - 1)], uow: UowDep, container: ContainerDep) -> dict[str, Any]:
    """Process a failed item again (or a rejected one, once the webhook secret is right)."""
    error = cs.retry_item(cs.Sync(container.uow, container.connections, _tenant(uow)), uow, item_id)
    return {"processed": error is None, "error": error}


@router.get("/sync/health")
def sync_health(uow: UowDep) -> list[dict[str, Any]]:
    """Per channel: last successful pull and push, lag, failures with their error text."""
    return cs.health(uow)


def _release(uow: Any) -> None:
    """Check the caller may act, then end the request's own transaction: the service opens units
    of work of its own around calls to the channel, and on SQLite an open write transaction here
    would hold the database's one write lock against them."""
    cs.require_write(uow)
    uow.commit()


def _tenant(uow: Any) -> int:
    assert uow.tenant_id is not None
    return int(uow.tenant_id)
