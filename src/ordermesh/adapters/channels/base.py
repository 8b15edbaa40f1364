"""What every channel connector is: a small protocol, the normalised shapes it speaks, and the
HTTP discipline they share (timeouts, throttling, back-off, errors that say what went wrong).

A connector knows one channel's public API and nothing of our database: services fetch raw pages
and webhook bodies through it, store them in the inbox *before* parsing, then ask the connector to
parse them into ``ChannelOrder`` values, which become orders through the same intake as the API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from ordermesh.adapters.remote import (
    BadPayload,
    BadSignature,
    Http,
    Registry,
    RemoteAuthFailed,
    RemoteError,
    RemoteRejected,
    RemoteUnavailable,
    header,
    money,
    read_json,
)
from ordermesh.domain.statuses import OrderStatus

__all__ = [
    "BadPayload",
    "BadSignature",
    "ChannelAuthFailed",
    "ChannelError",
    "ChannelRejected",
    "ChannelUnavailable",
    "Http",
    "header",
    "money",
    "read_json",
]

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


# ChannelOrder.channel_status of an order the channel deleted: a cancellation carrying only the
# order's id (Shopify's orders/delete), recorded as "deleted on <channel>".
DELETED = "deleted"


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


# -- errors (shared with carriers: adapters.remote) ------------------------------------------------

ChannelError = RemoteError
ChannelAuthFailed = RemoteAuthFailed
ChannelRejected = RemoteRejected
ChannelUnavailable = RemoteUnavailable


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
CONNECTOR_MODULES: tuple[str, ...] = ("shopify", "woocommerce", "amazon", "flipkart")
CONNECTORS: Registry[ConnectorFactory] = Registry(
    "ordermesh.adapters.channels", CONNECTOR_MODULES, "connector for channel type"
)
_REGISTRY = CONNECTORS.entries
register = CONNECTORS.register
connector_types = CONNECTORS.kinds


def make_connector(channel_type: str, config: ConnectorConfig, http: Http | None = None) -> ChannelConnector:
    return CONNECTORS.factory(channel_type)(config, http or Http(config.base_url))
