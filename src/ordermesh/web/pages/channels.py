"""Channels: sync health (with pull, push and reconcile by hand), the inbox of what channels sent
(with retry), each channel's listings with every term of the quantity we push to it, and each
channel's settings (a new channel, its connector settings, stock rule and write-only credentials)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from ordermesh.adapters.db.channels import ChannelRecord
from ordermesh.adapters.vault import VaultError
from ordermesh.domain.access import Permission
from ordermesh.domain.channels import ChannelSpec, parse_setting_value
from ordermesh.domain.errors import DomainError, Forbidden, NotFound, ValidationFailed
from ordermesh.services import channel_sync as cs
from ordermesh.services import channels, locations
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


# ---- channel settings: a new channel, and each channel's settings -------------------------------


@dataclass(frozen=True)
class TypeGuide:
    """What the form says about a channel type: its label, an example base URL, and the credential
    and setting keys its connector reads (docs/channels/<type>.md), each with what it means."""

    label: str
    base_url: str = ""
    credentials: tuple[tuple[str, str], ...] = ()
    settings: tuple[tuple[str, str], ...] = ()
    has_api: bool = True  # manual and CSV channels have nothing to talk to


SINCE = ("since", "ISO time where the first poll starts; default 7 days ago")
TYPE_GUIDES: dict[str, TypeGuide] = {
    "shopify": TypeGuide(
        "Shopify",
        "https://your-store.myshopify.com",
        (
            ("access_token", "Admin API access token (shpat_…)"),
            ("webhook_secret", "the app's client secret, which signs the webhooks"),
        ),
        (
            ("location_id", "the Shopify location whose stock ordermesh sets (required for stock)"),
            ("api_version", "default 2024-10"),
            SINCE,
            ("page_size", "orders per poll page, 1–250; default 50"),
            ("poll_overlap_seconds", "how far back each poll reaches; default 120"),
            ("notify_customer", "Shopify e-mails the buyer on fulfilment and cancellation; default true"),
            ("cancel_refund", "passed to orderCancel; default false"),
            ("cancel_restock", "passed to orderCancel; default false"),
        ),
    ),
    "woocommerce": TypeGuide(
        "WooCommerce",
        "https://shop.example.in",
        (
            ("consumer_key", "ck_…, with Read/Write permission"),
            ("consumer_secret", "cs_…, shown once when the key is created"),
            ("webhook_secret", "the Secret typed into each webhook"),
        ),
        (
            SINCE,
            ("query_string_auth", "true sends the key and secret as query parameters (hosts that strip Authorization)"),
            ("shipment_tracking", "true when the store runs the Shipment Tracking extension"),
            ("extra_statuses", 'custom status slugs to ordermesh statuses, e.g. {"shipped": "shipped"}'),
            ("timezone", "the store's time zone; default Asia/Kolkata"),
            ("overlap_seconds", "how far back each poll reaches; default 300"),
            ("page_size", "orders per page; default and at most 100"),
            ("orderby", "default modified; date if the store rejects it"),
        ),
    ),
    "amazon": TypeGuide(
        "Amazon SP-API",
        "https://sellingpartnerapi-eu.amazon.com",
        (
            ("client_id", "the LWA client identifier of the app"),
            ("client_secret", "the LWA client secret"),
            ("refresh_token", "the seller's refresh token (Atzr|…)"),
        ),
        (
            ("seller_id", "the seller's merchant token (required for stock)"),
            ("marketplace_id", "default A21TJRUUN4KGV (Amazon.in)"),
            ("lwa_url", "default https://api.amazon.com"),
            ("restricted_data", "fetch an RDT for addresses and buyer data; default true"),
            ("feed_threshold", "above this many listings a stock push goes as a feed; default 20"),
            ("carrier_codes", 'ordermesh carrier names to Amazon carrierCode values, e.g. {"Delhivery": "Delhivery"}'),
            SINCE,
        ),
    ),
    "flipkart": TypeGuide(
        "Flipkart",
        "https://api.flipkart.net",
        (
            ("app_id", "the application id"),
            ("app_secret", "the application secret"),
            ("webhook_token", "a long random secret that notifications must carry"),
        ),
        (
            ("location_id", "the seller's Flipkart dispatch location (LOC…)"),
            SINCE,
            ("page_size", "shipments per search page, at most 20"),
            ("overlap_minutes", "how far before the last watermark each poll starts; default 5"),
            ("inventory_batch_size", "SKUs per inventory call, at most 10"),
            ("cancel_reason", "sent with seller cancellations; default not_enough_inventory"),
            ("self_ship_delivery_days", "days after dispatch for the tentative delivery date; default 5"),
        ),
    ),
    "myntra": TypeGuide("Myntra"),
    "meesho": TypeGuide("Meesho"),
    "manual": TypeGuide("Manual (phone, WhatsApp, Instagram, counter)", has_api=False),
    "csv": TypeGuide("Marketplace report CSV", has_api=False),
    "other": TypeGuide("Other"),
}
RULE_KEYS = ("buffer", "percent", "maximum", "zero_below")
FORM_FIELDS = ("type", "code", "name", "base_url", "locations", "active", "settings", "inventory", "credentials")
SETTING_ROWS = 3  # empty key/value rows offered under the channel's settings
EXTRA_SECRETS = 2  # key/value secret rows for a type whose credential keys are not known


def shown_value(value: Any) -> str:
    """A setting as the form shows it: text as itself when it would read back the same, else JSON."""
    if isinstance(value, str):
        try:
            if parse_setting_value(value) == value:
                return value
        except ValueError:
            pass
    return json.dumps(value, ensure_ascii=False)


@dataclass
class ChannelForm:
    """What the form holds: as typed, to be shown again next to its errors. Never the secrets."""

    type: str
    code: str = ""
    name: str = ""
    base_url: str = ""
    locations: list[str] = field(default_factory=list)
    active: bool = True
    settings: list[tuple[str, str]] = field(default_factory=list)
    inventory: dict[str, str] = field(default_factory=lambda: dict.fromkeys(RULE_KEYS, ""))

    @classmethod
    def of(cls, spec: ChannelSpec) -> ChannelForm:
        rule = spec.inventory or {}
        return cls(
            spec.type.value,
            spec.code,
            spec.name,
            spec.base_url or "",
            list(spec.locations or []),
            spec.active,
            [(k, shown_value(v)) for k, v in sorted(spec.connector.items())],
            {k: "" if rule.get(k) is None else str(rule[k]) for k in RULE_KEYS},
        )

    def spec_fields(self, errors: dict[str, str]) -> dict[str, Any]:
        """The channel fields the service takes; what cannot be read is put in ``errors``."""
        connector: dict[str, Any] = {}
        for key, text in self.settings:
            key = key.strip()
            if not key:
                if text.strip():
                    errors.setdefault("settings", f"the value {_clip(text.strip(), 40)!r} needs a key")
                continue
            if key in connector:
                errors.setdefault("settings", f"{key} is given twice")
            if not text.strip():
                continue  # a key without a value: the setting is removed
            try:
                value = parse_setting_value(text)
            except ValueError as e:
                errors.setdefault("settings", f"{key}: {e}")
                continue
            if value is not None:
                connector[key] = value
        inventory: dict[str, Any] = {}
        for key in RULE_KEYS:
            text = self.inventory.get(key, "").strip().replace(",", "")
            if text:
                inventory[key] = int(text) if re.fullmatch(r"[+-]?\d{1,18}", text) else text
        return {
            "name": self.name,
            "base_url": self.base_url.strip() or None,
            "locations": sorted(set(self.locations)) or None,
            "active": self.active,
            "connector": connector,
            "inventory": inventory,
        }


def _form_field(path: str | None) -> str | None:
    """The form field a service error names: 'inventory.percent' -> 'inventory_percent'."""
    if not path:
        return None
    head, _, rest = path.partition(".")
    if head == "inventory":
        return f"inventory_{rest}" if rest in RULE_KEYS else "inventory"
    if head == "connector":
        return "settings"
    return head if head in FORM_FIELDS else None


def _field_errors(exc: DomainError) -> tuple[dict[str, str], str | None]:
    """The error by form field, and what names no field (shown above the form)."""
    errors: dict[str, str] = {}
    rest: list[str] = []
    for e in exc.errors or []:
        name = _form_field(e.field)
        if name is None:
            rest.append(f"{e.field}: {e.message}")
        else:
            errors.setdefault(name, e.message)
    if not exc.errors:
        rest.append(exc.detail)
    return errors, "; ".join(rest) or None


def _secrets(keys: list[str], values: list[str]) -> dict[str, str]:
    """The secrets typed in: empty ones are left as they are."""
    return {k.strip(): v for k, v in zip(keys, values, strict=False) if k.strip() and v}


def _locations(request: Request, principal: Principal, chosen: list[str]) -> list[tuple[str, str]]:
    """The tenant's locations as (code, name), and any chosen one the user cannot list."""
    with page_uow(request, principal) as uow:
        try:
            places = [(p.spec.code, p.spec.name) for p in locations.list_locations(uow, cursor=None, limit=200).items]
        except Forbidden:
            places = []
    known = {code for code, _ in places}
    return places + [(code, "") for code in chosen if code not in known]


def _settings_view(
    request: Request,
    principal: Principal,
    form: ChannelForm,
    *,
    record: ChannelRecord | None,
    errors: dict[str, str] | None = None,
    form_error: str | None = None,
) -> dict[str, Any]:
    guide = TYPE_GUIDES.get(form.type, TYPE_GUIDES["other"])
    secret_keys = [k for k, _ in guide.credentials]
    filled = [(k, v) for k, v in form.settings if k.strip() or v.strip()]
    settings_rows = filled + [("", "")] * SETTING_ROWS
    return {
        "active": "channels",
        "new": record is None,
        "record": record,
        "form": form,
        "guide": guide,
        "guides": TYPE_GUIDES,
        "settings_rows": settings_rows,
        "secret_keys": secret_keys,
        "extra_secrets": 0 if secret_keys or not guide.has_api else EXTRA_SECRETS,
        "credentials_set": record is not None and record.sealed_credentials is not None,
        "places": _locations(request, principal, form.locations),
        "rule_keys": RULE_KEYS,
        "rule": rule_words(record.spec.inventory or {}) if record else "",
        "errors": errors or {},
        "form_error": form_error,
        "can_write": _can_write(principal),
        "shown_value": shown_value,
    }


def _posted(
    type_: str,
    code: str,
    name: str,
    base_url: str,
    locations_: list[str],
    active: str,
    setting_key: list[str],
    setting_value: list[str],
    rule: dict[str, str],
) -> ChannelForm:
    return ChannelForm(
        type_.strip(),
        code.strip(),
        name,
        base_url,
        [c for c in locations_ if c],
        bool(active),
        list(zip(setting_key, setting_value, strict=False)),
        rule,
    )


Text = Annotated[str, Form()]
Texts = Annotated[list[str], Form()]


@router.get("/channels/new")
def new_channel(
    request: Request, principal: PrincipalDep, type_: Annotated[str, Query(alias="type")] = "shopify"
) -> Response:
    with page_uow(request, principal) as uow:
        cs.require_write(uow)
    form = ChannelForm(type_ if type_ in TYPE_GUIDES else "shopify")
    return render(request, "channels_settings.html", _settings_view(request, principal, form, record=None))


@router.post("/channels/new")
def create_channel(
    request: Request,
    principal: PrincipalDep,
    type_: Annotated[str, Form(alias="type")] = "",
    code: Text = "",
    name: Text = "",
    base_url: Text = "",
    locations_: Annotated[list[str], Form(alias="locations")] = [],  # noqa: B006 (FastAPI copies form defaults)
    active: Text = "",
    setting_key: Texts = [],  # noqa: B006
    setting_value: Texts = [],  # noqa: B006
    inventory_buffer: Text = "",
    inventory_percent: Text = "",
    inventory_maximum: Text = "",
    inventory_zero_below: Text = "",
    credential_key: Texts = [],  # noqa: B006
    credential_value: Texts = [],  # noqa: B006
) -> Response:
    rule = {"buffer": inventory_buffer, "percent": inventory_percent, "maximum": inventory_maximum,
            "zero_below": inventory_zero_below}  # fmt: skip
    form = _posted(type_, code, name, base_url, locations_, active, setting_key, setting_value, rule)
    errors: dict[str, str] = {}
    raw = {"code": form.code, "type": form.type, **form.spec_fields(errors)}
    raw = {k: v for k, v in raw.items() if v not in (None, {})}
    secrets = _secrets(credential_key, credential_value)
    if secrets:
        raw["credentials"] = secrets
    form_error = None
    if not errors:
        try:
            with page_uow(request, principal, write=True) as uow:
                record = channels.create_channel(uow, raw, request.app.state.container.connections.vault)
        except DomainError as exc:
            if isinstance(exc, Forbidden):
                raise
            errors, form_error = _field_errors(exc)
        else:
            said = f" with credentials ({', '.join(sorted(secrets))})" if secrets else ""
            flash(request, f"Channel {record.spec.code} created{said}.")
            return RedirectResponse(f"/channels/{quote(record.spec.code, safe='')}/settings", status_code=303)
    if secrets:
        errors.setdefault("credentials", "not saved, because of the errors above: enter them again")
    view = _settings_view(request, principal, form, record=None, errors=errors, form_error=form_error)
    return render(request, "channels_settings.html", view, status=422)


@router.get("/channels/{code}/settings")
def channel_settings(request: Request, principal: PrincipalDep, code: str) -> Response:
    with page_uow(request, principal) as uow:
        record = channels.get_channel(uow, code)
    view = _settings_view(request, principal, ChannelForm.of(record.spec), record=record)
    return render(request, "channels_settings.html", view)


@router.post("/channels/{code}/settings")
def save_channel_settings(
    request: Request,
    principal: PrincipalDep,
    code: str,
    name: Text = "",
    base_url: Text = "",
    locations_: Annotated[list[str], Form(alias="locations")] = [],  # noqa: B006 (FastAPI copies form defaults)
    active: Text = "",
    setting_key: Texts = [],  # noqa: B006
    setting_value: Texts = [],  # noqa: B006
    inventory_buffer: Text = "",
    inventory_percent: Text = "",
    inventory_maximum: Text = "",
    inventory_zero_below: Text = "",
    credential_key: Texts = [],  # noqa: B006
    credential_value: Texts = [],  # noqa: B006
) -> Response:
    with page_uow(request, principal) as uow:
        current = channels.get_channel(uow, code)
        cs.require_write(uow)
    rule = {"buffer": inventory_buffer, "percent": inventory_percent, "maximum": inventory_maximum,
            "zero_below": inventory_zero_below}  # fmt: skip
    form = _posted(current.spec.type.value, code, name, base_url, locations_, active, setting_key, setting_value, rule)
    errors: dict[str, str] = {}
    patch = form.spec_fields(errors)
    secrets = _secrets(credential_key, credential_value)
    form_error = None
    if not errors:
        try:
            with page_uow(request, principal, write=True) as uow:
                record = channels.update_channel(uow, code, patch)
            if secrets:
                _keep_credentials(request, principal, record, secrets)
        except DomainError as exc:
            if isinstance(exc, Forbidden) or (isinstance(exc, NotFound) and exc.field == "channel"):
                raise
            errors, form_error = _field_errors(exc)
        else:
            said = f"; credentials updated ({', '.join(sorted(secrets))})" if secrets else ""
            flash(request, f"Saved the settings of {code}{said}.")
            return RedirectResponse(f"/channels/{quote(code, safe='')}/settings", status_code=303)
    if secrets:
        errors.setdefault("credentials", "not saved, because of the errors above: enter them again")
    with page_uow(request, principal) as uow:
        current = channels.get_channel(uow, code)
    view = _settings_view(request, principal, form, record=current, errors=errors, form_error=form_error)
    return render(request, "channels_settings.html", view, status=422)


def _keep_credentials(request: Request, principal: Principal, record: ChannelRecord, given: dict[str, str]) -> None:
    """Seal ``given`` with the channel's other credentials kept as they were."""
    connections = request.app.state.container.connections
    kept: dict[str, str] = {}
    if record.sealed_credentials:
        try:
            kept = connections.vault.open(record.sealed_credentials)
        except VaultError:
            needed = {k for k, _ in TYPE_GUIDES.get(record.spec.type.value, TYPE_GUIDES["other"]).credentials}
            if not needed or not needed <= set(given):
                raise ValidationFailed(
                    "the stored credentials cannot be opened with the current key: enter all of them again",
                    field="credentials",
                ) from None
    with page_uow(request, principal, write=True) as uow:
        cs.set_credentials(uow, connections, record.spec.code, {**kept, **given})
