"""What every channel connector is: a small protocol, the normalised shapes it speaks, and the
HTTP discipline they share (timeouts, throttling, back-off, errors that say what went wrong).

A connector knows one channel's public API and nothing of our database: services fetch raw pages
and webhook bodies through it, store them in the inbox *before* parsing, then ask the connector to
parse them into ``ChannelOrder`` values, which become orders through the same intake as the API.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Protocol

import httpx2 as httpx

from ordermesh.domain.statuses import OrderStatus

# -- normalised shapes --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelLine:
    """One line of a channel's order, before it is mapped onto our catalog."""

    listing_id: str  # the channel's id of what was sold: Shopify variant id, WooCommerce product or
    # variation id, Amazon SellerSKU, Flipkart listing id; the key of channel_listings
    seller_sku: str | None  # the seller's own SKU code as the channel knows it (matches ours when shared)
    quantity: int
    unit_price: Decimal  # per unit, including GST, rupees
    discount: Decimal = Decimal(0)  # on the whole line
    title: str | None = None
    line_id: str | None = None  # the channel's id of this line (fulfilment and status push-back use it)


@dataclass(frozen=True)
class ChannelOrder:
    """A channel's order in our words. ``payload()`` is the body ``POST /api/v1/orders`` takes,
    once each line's listing is mapped to a SKU code."""

    external_id: str
    channel_status: str  # the channel's own word, as sent
    status: OrderStatus  # that word in our vocabulary (the connector's STATUS_MAP)
    placed_at: datetime
    customer: dict[str, Any]  # name, phone, email
    shipping_address: dict[str, Any]  # name, line1, line2, city, state, pincode, phone
    payment_method: str  # prepaid | cod
    payment_status: str
    lines: list[ChannelLine]
    billing_address: dict[str, Any] | None = None
    shipping_charge: Decimal = Decimal(0)
    currency: str = "INR"
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    ready: bool = True  # False: the channel has not released it for fulfilment yet (unpaid,
    # Amazon "Pending"); it is stored and looked at again on its next update
    updated_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # ids the connector needs later (fulfilment order ids …)

    def payload(self, sku_of: Callable[[ChannelLine], str]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "external_id": self.external_id,
            "placed_at": self.placed_at.isoformat(),
            "customer": {k: v for k, v in self.customer.items() if v is not None},
            "shipping_address": {k: v for k, v in self.shipping_address.items() if v is not None},
            "payment": {"method": self.payment_method, "status": self.payment_status},
            "lines": [
                {
                    "sku": sku_of(line),
                    "quantity": line.quantity,
                    "unit_price": str(line.unit_price),
                    "discount": str(line.discount),
                }
                for line in self.lines
            ],
            "shipping_charge": str(self.shipping_charge),
            "currency": self.currency,
        }
        if self.billing_address:
            body["billing_address"] = {k: v for k, v in self.billing_address.items() if v is not None}
        if self.tags:
            body["tags"] = list(self.tags)
        if self.notes:
            body["notes"] = self.notes
        return body


@dataclass(frozen=True)
class RawPage:
    """What one poll brought back, exactly as received, to be stored before it is parsed.

    ``body`` may combine several responses (Amazon's orders with their items) as one JSON document
    of the connector's own making; ``parse_page`` reads it back. ``next_cursor`` is where the next
    poll starts; it is saved only after this page is stored."""

    body: bytes
    next_cursor: str | None
    more: bool  # another page is ready now (keep going); False: caught up until the next poll
    content_type: str = "application/json"


@dataclass(frozen=True)
class WebhookEvent:
    """A webhook body, parsed: the orders it carries (usually one) and what it is about."""

    topic: str  # the channel's event name (orders/create, order.updated, …)
    delivery_id: str | None  # the channel's id of this delivery or event, when it sends one
    orders: list[ChannelOrder]


@dataclass(frozen=True)
class Listing:
    """The channel's identifiers of one sellable thing, as channel_listings keeps them."""

    listing_id: str
    seller_sku: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)  # inventory_item_id, parent_id, fsn,
    # asin, product_type, location_id … whatever the channel's inventory call needs


@dataclass(frozen=True)
class ListingQuantity:
    listing: Listing
    quantity: int


@dataclass(frozen=True)
class PushOutcome:
    """The channel's answer for one listing (or one status update)."""

    key: str  # listing id, or external order id for a status push
    ok: bool
    detail: str  # the channel's words, kept for the sync-health page
    retryable: bool = False


@dataclass(frozen=True)
class StatusUpdate:
    """Something that happened to an order that the channel should know."""

    external_id: str
    status: OrderStatus  # CONFIRMED (accepted), SHIPPED, CANCELLED, DELIVERED
    lines: list[ChannelLine] = field(default_factory=list)  # the lines concerned (all when empty)
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    reason: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # ChannelOrder.extra as stored


@dataclass(frozen=True)
class ConnectorConfig:
    """A channel's connection: where its API is and the secrets to call it (decrypted only here)."""

    base_url: str
    credentials: Mapping[str, str]
    settings: Mapping[str, Any] = field(default_factory=dict)


# -- errors --------------------------------------------------------------------------------------


class ChannelError(Exception):
    """A call to a channel failed. ``retryable``: trying again later may work (throttled, down)."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class ChannelAuthFailed(ChannelError):
    """The channel refused our credentials (wrong secret, expired refresh token)."""


class ChannelRejected(ChannelError):
    """The channel understood the request and said no (unknown listing, invalid quantity)."""


class ChannelUnavailable(ChannelError):
    """Throttled beyond our patience, timed out or a 5xx: try again later."""

    retryable = True


class BadPayload(ChannelError):
    """A webhook body or page we cannot read: kept in the inbox with this message."""


class BadSignature(ChannelError):
    """A webhook whose signature does not match: answered 401 and kept, never processed."""


# -- the protocol --------------------------------------------------------------------------------


class ChannelConnector(Protocol):
    type: ClassVar[str]  # ChannelType value
    STATUS_MAP: ClassVar[Mapping[str, OrderStatus]]  # the channel's status words -> our vocabulary

    def fetch_page(self, cursor: str | None) -> RawPage:
        """One page of orders created or changed since ``cursor`` (None: the configured look-back)."""
        ...

    def parse_page(self, body: bytes) -> list[ChannelOrder]: ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise BadSignature unless the body was signed with this channel's secret."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent: ...

    def push_inventory(self, levels: list[ListingQuantity]) -> list[PushOutcome]:
        """Set each listing's sellable quantity; one outcome per listing, in batches the channel allows."""
        ...

    def read_inventory(self, listings: list[Listing]) -> dict[str, int]:
        """The quantities the channel shows now, by listing id (for the daily reconciliation)."""
        ...

    def push_status(self, update: StatusUpdate) -> PushOutcome: ...


ConnectorFactory = Callable[[ConnectorConfig, "Http"], ChannelConnector]
_REGISTRY: dict[str, ConnectorFactory] = {}


def register(channel_type: str) -> Callable[[ConnectorFactory], ConnectorFactory]:
    def add(factory: ConnectorFactory) -> ConnectorFactory:
        _REGISTRY[channel_type] = factory
        return factory

    return add


def connector_types() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def make_connector(channel_type: str, config: ConnectorConfig, http: Http | None = None) -> ChannelConnector:
    _load_all()
    factory = _REGISTRY.get(channel_type)
    if factory is None:
        raise ChannelError(f"no connector for channel type '{channel_type}'")
    return factory(config, http or Http(config.base_url))


def _load_all() -> None:
    # Importing a connector module registers it; the list is the one place that names them all.
    import importlib

    for name in CONNECTOR_MODULES:
        importlib.import_module(f"ordermesh.adapters.channels.{name}")


CONNECTOR_MODULES: tuple[str, ...] = ("shopify", "woocommerce", "amazon", "flipkart")


# -- HTTP ----------------------------------------------------------------------------------------


@dataclass
class Http:
    """One channel's HTTP client: a base URL, a timeout, and patience with throttling.

    429 and 5xx are retried with exponential back-off and jitter, honouring Retry-After (seconds)
    and rate-limit headers the caller names; 401/403 raise ChannelAuthFailed, other 4xx
    ChannelRejected with the channel's own message. ``sleep`` is injectable so tests do not wait."""

    base_url: str
    timeout: float = 20.0
    attempts: int = 5
    backoff: float = 0.5  # first wait, doubled each attempt
    max_wait: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    client: httpx.Client | None = None

    def __post_init__(self) -> None:
        self._owns_client = self.client is None  # a client shared by many channels is closed by its owner
        if self.client is None:
            self.client = httpx.Client(timeout=self.timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Iterable[int] = (200, 201, 202, 204, 207),
    ) -> httpx.Response:
        assert self.client is not None
        accepted = set(ok)
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.client.request(
                    method,
                    path if path.startswith(("http://", "https://")) else self.base_url.rstrip("/") + path,
                    params=params,
                    json=json_body,
                    content=content,
                    headers=dict(headers or {}),
                    timeout=self.timeout,
                )
            except httpx.TimeoutException as e:
                error: ChannelError = ChannelUnavailable(f"{method} {path}: timed out ({e})")
            except httpx.TransportError as e:
                error = ChannelUnavailable(f"{method} {path}: {e}")
            else:
                if response.status_code in accepted:
                    return response
                error = _error_for(method, path, response)
                if not error.retryable:
                    raise error
                if attempt < self.attempts:
                    self.sleep(self._wait(attempt, response))
                    continue
                raise error
            if attempt < self.attempts:
                self.sleep(self._wait(attempt, None))
                continue
            raise error
        raise AssertionError("unreachable")

    def _wait(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            after = response.headers.get("Retry-After")
            if after is not None:
                try:
                    return min(float(after), self.max_wait)
                except ValueError:
                    pass
        return min(self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 4), self.max_wait)

    def close(self) -> None:
        if self.client is not None and self._owns_client:
            self.client.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _error_for(method: str, path: str, response: httpx.Response) -> ChannelError:
    status = response.status_code
    text = response.text[:500]
    message = f"{method} {path}: HTTP {status}: {text}"
    if status == 429 or status >= 500:
        return ChannelUnavailable(message, status=status)
    if status in (401, 403):
        return ChannelAuthFailed(message, status=status)
    return ChannelRejected(message, status=status)


def read_json(body: bytes, what: str) -> Any:
    """JSON from a stored body, or BadPayload naming what it was."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadPayload(f"{what} is not valid JSON: {e}") from None


def money(value: Any, where: str) -> Decimal:
    """An amount as the channels send it (string or JSON number) as an exact Decimal."""
    if value is None or value == "":
        return Decimal(0)
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise BadPayload(f"{where}: '{value}' is not an amount") from None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None
