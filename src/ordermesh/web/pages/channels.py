"""Channels: sync health (with pull, push and reconcile by hand), the inbox of what channels sent
(with retry), and each channel's listings with every term of the quantity we push to it."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from ordermesh.domain.access import Permission
from ordermesh.domain.errors import DomainError, Forbidden, NotFound, ValidationFailed
from ordermesh.services import channel_sync as cs
from ordermesh.services import channels
from ordermesh.services.platform import Principal
from ordermesh.web.frame import PrincipalDep, WebRoute, page_uow, render, safe_next
from ordermesh.web.session import flash

router = APIRouter(route_class=WebRoute, include_in_schema=False)

ItemId = Annotated[int, Path(ge=1, le=2**63 - 1)]
INBOX_SIZE = 50
LISTINGS_SIZE = 100
INBOX_STATES = ("failed", "rejected", "received", "processing", "processed")
# Flashes travel in the session cookie (under 4 KB): errors are clipped and only the first few named.
ERRORS_FLASHED = 3
KINDS = (
    ("orders", "Order pull"),
    ("inventory", "Stock push"),
    ("reconcile", "Reconciliation"),
    ("status", "Status updates"),
)
STATE_TONES = {
    "failed": "bad",
    "rejected": "bad",
    "received": "warn",
    "processing": "info",
    "processed": "good",
}


def _clip(text: str, most: int = 300) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def lag_words(seconds: int | None) -> str:
    """How long ago, in words: 'just now', '5 minutes ago', '3 hours ago', '2 days ago'."""
    if seconds is None:
        return "never"
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return _plural(seconds // 60, "minute") + " ago"
    if seconds < 86400:
        return _plural(seconds // 3600, "hour") + " ago"
    return _plural(seconds // 86400, "day") + " ago"


def _can_write(principal: Principal) -> bool:
    return principal.actor.can(Permission.CHANNELS_WRITE)


def _sync(request: Request, principal: Principal) -> cs.Sync:
    container = request.app.state.container
    return cs.Sync(container.uow, container.connections, principal.tenant_id)


def _back(value: str, default: str) -> str:
    """Where a form returns to: one of the channel pages, never anywhere else."""
    target = safe_next(value)
    return target if target is not None and target.startswith("/channels/") else default


def _flash_errors(request: Request, errors: list[str], lead: str) -> None:
    for text in errors[:ERRORS_FLASHED]:
        flash(request, f"{lead}: {_clip(text)}", "error")
    if len(errors) > ERRORS_FLASHED:
        flash(request, f"{len(errors) - ERRORS_FLASHED} more errors; see the channel's sync health.", "error")


# ---- sync health --------------------------------------------------------------------------------


@router.get("/channels")
def channels_home(request: Request, principal: PrincipalDep) -> Response:
    return RedirectResponse("/channels/sync", status_code=303)


@router.get("/channels/sync")
def sync_health(request: Request, principal: PrincipalDep) -> Response:
    with page_uow(request, principal) as uow:
        rows = cs.health(uow)
    return render(
        request,
        "channels_health.html",
        {
            "active": "channels",
            "rows": rows,
            "kinds": KINDS,
            "can_write": _can_write(principal),
            "lag_words": lag_words,
        },
    )


def _checked(request: Request, principal: Principal, code: str) -> None:
    """The person may run sync by hand, and sees the channel."""
    with page_uow(request, principal) as uow:
        cs.require_write(uow)
        cs.channel_or_404(uow, code)


@router.post("/channels/{code}/pull")
def pull_now(request: Request, principal: PrincipalDep, code: str, back: Annotated[str, Form()] = "") -> Response:
    _checked(request, principal, code)
    result = cs.pull_orders(_sync(request, principal), code, force=True)
    if result.errors and not result.pages:
        _flash_errors(request, result.errors, f"Order pull from {code} failed")
    else:
        flash(request, f"Pulled {_plural(result.pages, 'page')} of orders from {code}.")
        _flash_errors(request, result.errors, f"Pulled from {code}, with an error")
    return RedirectResponse(_back(back, "/channels/sync"), status_code=303)


@router.post("/channels/{code}/push")
def push_now(request: Request, principal: PrincipalDep, code: str, back: Annotated[str, Form()] = "") -> Response:
    _checked(request, principal, code)
    result = cs.push_inventory(_sync(request, principal), code, force=True)
    if result.pushed or not result.errors:
        if result.pushed or result.failed:
            text = f"Pushed stock of {_plural(result.pushed, 'listing')} to {code}"
            flash(request, text + (f"; {result.failed} failed." if result.failed else "."))
        else:
            flash(request, f"Nothing to push to {code}: no listing's stock changed since its last push.")
    _flash_errors(request, result.errors, f"Stock push to {code} failed")
    return RedirectResponse(_back(back, "/channels/sync"), status_code=303)


@router.post("/channels/{code}/reconcile")
def reconcile_now(request: Request, principal: PrincipalDep, code: str, back: Annotated[str, Form()] = "") -> Response:
    _checked(request, principal, code)
    report = cs.reconcile(_sync(request, principal), code)
    if report.checked or not report.errors:
        flash(
            request,
            f"Reconciled {code}: checked {_plural(report.checked, 'listing')}, drift found on {len(report.drift)}, "
            f"corrected {report.corrected}.",
        )
    _flash_errors(request, report.errors, f"Reconciliation of {code} failed")
    return RedirectResponse(_back(back, "/channels/sync"), status_code=303)


# ---- the inbox ----------------------------------------------------------------------------------


@router.get("/channels/inbox")
def inbox_page(request: Request, principal: PrincipalDep, state: str = "", channel: str = "") -> Response:
    filters = {"state": state.strip(), "channel": channel.strip()}
    filter_error = None
    status = 200
    with page_uow(request, principal) as uow:
        known = [c.spec.code for c in channels.list_channels(uow)]
        codes = {c.id: c.spec.code for c in uow.all_channels()}
        try:
            rows = cs.inbox(uow, channel=filters["channel"] or None, state=filters["state"] or None, limit=INBOX_SIZE)
        except (ValidationFailed, NotFound) as exc:
            if exc.field not in ("state", "channel"):
                raise
            filter_error, rows, status = exc.detail, [], 422
    active_filters = {k: v for k, v in filters.items() if v}
    return render(
        request,
        "channels_inbox.html",
        {
            "active": "channels",
            "filters": filters,
            "active_filters": active_filters,
            "filter_error": filter_error,
            "states": INBOX_STATES,
            "known_channels": known,
            "rows": rows,
            "codes": codes,
            "limit": INBOX_SIZE,
            "state_tones": STATE_TONES,
            "can_write": _can_write(principal),
            "back": "/channels/inbox" + (f"?{urlencode(active_filters)}" if active_filters else ""),
        },
        status=status,
    )


@router.post("/channels/inbox/{item_id}/retry")
def retry(request: Request, principal: PrincipalDep, item_id: ItemId, back: Annotated[str, Form()] = "") -> Response:
    try:
        with page_uow(request, principal, write=True) as uow:
            error = cs.retry_item(_sync(request, principal), uow, item_id)
    except DomainError as exc:
        if isinstance(exc, Forbidden):
            raise
        flash(request, f"Inbox item {item_id} was not retried: {_clip(exc.detail)}", "error")
    else:
        if error is None:
            flash(request, f"Inbox item {item_id} retried and processed.")
        else:
            flash(request, f"Inbox item {item_id} retried, and failed again: {_clip(error)}", "error")
    return RedirectResponse(_back(back, "/channels/inbox"), status_code=303)


# ---- listings -----------------------------------------------------------------------------------


def rule_words(inventory: dict[str, Any]) -> str:
    """The channel's stock rule in words: 'buffer 2; 50% of what is left'."""
    said = []
    if inventory.get("buffer"):
        said.append(f"buffer {inventory['buffer']}")
    if inventory.get("percent") not in (None, 100):
        said.append(f"{inventory['percent']}% of what is left")
    if inventory.get("maximum") is not None:
        said.append(f"at most {inventory['maximum']}")
    if inventory.get("zero_below"):
        said.append(f"0 when fewer than {inventory['zero_below']}")
    return "; ".join(said) or "all available stock, no buffer"


@router.get("/channels/{code}/listings")
def listings_page(
    request: Request,
    principal: PrincipalDep,
    code: str,
    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
) -> Response:
    with page_uow(request, principal) as uow:
        record = cs.channel_or_404(uow, code)
        views = cs.list_listings(uow, code, after_id=after, limit=LISTINGS_SIZE)
    rows: list[dict[str, Any]] = [{"row_id": v.listing.id, **v.as_dict()} for v in views]
    return render(
        request,
        "channels_listings.html",
        {
            "active": "channels",
            "channel": record.spec,
            "rule": rule_words(record.spec.inventory or {}),
            "rows": rows,
            "next_after": rows[-1]["row_id"] if len(rows) == LISTINGS_SIZE else None,
            "paged": bool(after),
            "path": f"/channels/{quote(code, safe='')}/listings",
            "can_write": _can_write(principal),
        },
    )
