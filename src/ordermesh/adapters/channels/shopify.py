"""Shopify: orders polled and stock, fulfilments and cancellations pushed through the GraphQL Admin
API; orders also arrive by webhook, as the REST Order resource Shopify delivers there.

Both shapes become the same ``ChannelOrder``: the external id is the numeric order id
(``legacyResourceId`` in GraphQL, ``id`` in the webhook), listing ids are numeric variant ids and
line ids numeric line item ids, so a poll and a webhook for one order agree.

What an order's status is, is decided from three things Shopify keeps apart: ``cancelled_at``, the
financial status and the fulfilment status (see ``STATUS_MAP`` and ``decide_status``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from ordermesh.adapters.channels.base import (
    DELETED,
    BadPayload,
    BadSignature,
    ChannelAuthFailed,
    ChannelError,
    ChannelLine,
    ChannelOrder,
    ChannelRejected,
    ChannelUnavailable,
    ConnectorConfig,
    Http,
    Listing,
    ListingQuantity,
    PushOutcome,
    RawPage,
    StatusUpdate,
    WebhookEvent,
    header,
    money,
    read_json,
    register,
)
from ordermesh.domain.contacts import normalise_phone
from ordermesh.domain.statuses import OrderStatus, PaymentStatus

DEFAULT_API_VERSION = "2024-10"
DEFAULT_PAGE_SIZE = 50  # orders per page; each carries up to 100 line items, which the query cost reflects
INVENTORY_BATCH = 250  # quantities per inventorySetQuantities call, ids per nodes() query
DEFAULT_LOOKBACK = timedelta(days=7)
DEFAULT_OVERLAP = timedelta(minutes=2)  # the next poll starts this much before the newest update seen
PAUSE_FLOOR = 0.5  # seconds; never retry a throttled query sooner than this

# Webhook topics whose body is the Order resource.
ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/cancelled",
        "orders/paid",
        "orders/fulfilled",
        "orders/partially_fulfilled",
    }
)

# A gateway name that says cash on delivery. Shopify's built-in manual method is
# "Cash on Delivery (COD)"; COD apps name their own ("COD", "Cash on delivery - Partial").
_COD_GATEWAY = re.compile(r"cash\s+on\s+delivery|(?<![a-z])cod(?![a-z])", re.IGNORECASE)

_O = OrderStatus

# Every status word Shopify documents, in the lower-case spelling of the REST resource and webhooks
# (GraphQL's enum values are read lower-cased: PARTIALLY_FULFILLED -> partially_fulfilled).
STATUS_MAP: dict[str, OrderStatus] = {
    # cancelled_at is set
    "cancelled": _O.CANCELLED,
    # financial status (REST financial_status / GraphQL displayFinancialStatus)
    "pending": _O.PENDING,  # awaiting payment; a COD order's normal state, see decide_status
    "authorized": _O.CONFIRMED,  # payment held, captured later
    "partially_paid": _O.PENDING,
    "paid": _O.CONFIRMED,
    "partially_refunded": _O.CONFIRMED,
    "refunded": _O.CANCELLED,  # decides only while nothing has been fulfilled
    "voided": _O.CANCELLED,  # authorisation released: there is no payment
    "expired": _O.PENDING,  # authorisation lapsed before capture: there is no payment
    # fulfilment status (REST fulfillment_status, null = unfulfilled / GraphQL displayFulfillmentStatus)
    "unfulfilled": _O.CONFIRMED,
    "open": _O.CONFIRMED,  # older name of UNFULFILLED
    "scheduled": _O.ON_HOLD,  # to be fulfilled at a later date (prepaid subscriptions)
    "on_hold": _O.ON_HOLD,
    "request_declined": _O.ON_HOLD,  # a fulfilment service refused it: a person decides
    "in_progress": _O.IN_FULFILMENT,
    "pending_fulfillment": _O.IN_FULFILMENT,  # older name of IN_PROGRESS
    "partial": _O.PARTIALLY_SHIPPED,  # REST
    "partially_fulfilled": _O.PARTIALLY_SHIPPED,  # GraphQL
    "fulfilled": _O.SHIPPED,
    "restocked": _O.CANCELLED,  # every line restocked and the order cancelled
    "fulfillment_not_required": _O.CLOSED,  # nothing to ship (API versions after 2024-10)
}

FINANCIAL_WORDS = frozenset(
    {"pending", "authorized", "partially_paid", "paid", "partially_refunded", "refunded", "voided", "expired"}
)
FULFILMENT_WORDS = frozenset(STATUS_MAP) - FINANCIAL_WORDS - {"cancelled"}
# Fulfilment words that mean nothing has left the building yet: the financial status may overrule them.
NOT_SHIPPED = frozenset(
    {"unfulfilled", "open", "scheduled", "on_hold", "request_declined", "in_progress", "pending_fulfillment"}
)
NO_PAYMENT_YET = frozenset({"pending", "partially_paid", "expired"})
PAYMENT_GONE = frozenset({"refunded", "voided"})
PAID_FOR = frozenset({"paid", "authorized", "partially_refunded"})
UNTOUCHED = frozenset({"unfulfilled", "open"})

_PAYMENT_STATUS: dict[str, PaymentStatus] = {
    "pending": PaymentStatus.PENDING,
    "authorized": PaymentStatus.AUTHORIZED,
    "partially_paid": PaymentStatus.PENDING,
    "paid": PaymentStatus.PAID,
    "partially_refunded": PaymentStatus.PARTIALLY_REFUNDED,
    "refunded": PaymentStatus.REFUNDED,
    "voided": PaymentStatus.FAILED,
    "expired": PaymentStatus.FAILED,
}

CANCEL_REASONS = frozenset({"CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF"})


def decide_status(
    *, cancelled: bool, financial: str | None, fulfillment: str | None, cod: bool
) -> tuple[str, OrderStatus]:
    """The word that decides an order's status, and that status.

    1. ``cancelled_at`` set: cancelled.
    2. Something has shipped (partial, fulfilled) or every line was restocked: the fulfilment word.
    3. Nothing shipped yet, and the payment is refunded or voided, or not made yet (pending, partially
       paid, expired) on a prepaid order: the financial word (cancelled or pending). A COD order's
       pending payment is its normal state: it is collected on delivery.
    4. Nothing happened on the fulfilment side (unfulfilled): the financial word when it says the
       order is paid for (paid, authorized, partially refunded -> confirmed), else the fulfilment word.
    5. Otherwise the fulfilment word (scheduled and on hold -> on hold, in progress -> in fulfilment).
    """
    if financial is not None and financial not in FINANCIAL_WORDS:
        raise BadPayload(f"unknown Shopify financial status '{financial}'")
    if fulfillment is not None and fulfillment not in FULFILMENT_WORDS:
        raise BadPayload(f"unknown Shopify fulfilment status '{fulfillment}'")
    if cancelled:
        return "cancelled", STATUS_MAP["cancelled"]
    shipped = fulfillment or "unfulfilled"
    if shipped not in NOT_SHIPPED:
        return shipped, STATUS_MAP[shipped]
    if financial in PAYMENT_GONE or (financial in NO_PAYMENT_YET and not cod):
        return financial, STATUS_MAP[financial]
    if shipped in UNTOUCHED and financial in PAID_FOR:
        return financial, STATUS_MAP[financial]
    return shipped, STATUS_MAP[shipped]


def is_cod(gateways: Iterable[Any]) -> bool:
    return any(isinstance(name, str) and _COD_GATEWAY.search(name) for name in gateways)


# -- GraphQL documents ---------------------------------------------------------------------------

_MONEY = "shopMoney { amount currencyCode }"
_ADDRESS = (
    "name firstName lastName company address1 address2 city province provinceCode zip country countryCodeV2 phone"
)

ORDERS_QUERY = f"""
query OrdersSince($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id legacyResourceId name createdAt updatedAt cancelledAt cancelReason
      displayFinancialStatus displayFulfillmentStatus paymentGatewayNames
      currencyCode taxesIncluded email phone tags note
      totalPriceSet {{ {_MONEY} }}
      subtotalPriceSet {{ {_MONEY} }}
      totalTaxSet {{ {_MONEY} }}
      totalDiscountsSet {{ {_MONEY} }}
      totalShippingPriceSet {{ {_MONEY} }}
      customer {{ id firstName lastName displayName email phone }}
      shippingAddress {{ {_ADDRESS} }}
      billingAddress {{ {_ADDRESS} }}
      shippingLine {{ title code originalPriceSet {{ {_MONEY} }} discountedPriceSet {{ {_MONEY} }} }}
      lineItems(first: 100) {{
        nodes {{
          id title name sku quantity
          variant {{ id legacyResourceId inventoryItem {{ id }} }}
          originalUnitPriceSet {{ {_MONEY} }}
          discountedTotalSet {{ {_MONEY} }}
          discountAllocations {{ allocatedAmountSet {{ {_MONEY} }} }}
          taxLines {{ title rate priceSet {{ {_MONEY} }} }}
        }}
      }}
    }}
  }}
}}
"""

INVENTORY_SET_MUTATION = """
mutation InventorySet($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { createdAt reason changes { name delta } }
    userErrors { code field message }
  }
}
"""

INVENTORY_READ_QUERY = """
query InventoryLevels($ids: [ID!]!, $locationId: ID!) {
  nodes(ids: $ids) {
    ... on InventoryItem {
      id
      inventoryLevel(locationId: $locationId) {
        quantities(names: ["available"]) { name quantity }
      }
    }
  }
}
"""

FULFILLMENT_ORDERS_QUERY = """
query FulfillmentOrdersOf($id: ID!) {
  order(id: $id) {
    id
    fulfillmentOrders(first: 10) {
      nodes {
        id status
        assignedLocation { location { id } }
        lineItems(first: 100) { nodes { id remainingQuantity lineItem { id } } }
      }
    }
  }
}
"""

FULFILLMENT_CREATE_MUTATION = """
mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}
"""

ORDER_CANCEL_MUTATION = """
mutation OrderCancel(
  $orderId: ID!, $reason: OrderCancelReason!, $refund: Boolean!, $restock: Boolean!,
  $notifyCustomer: Boolean, $staffNote: String
) {
  orderCancel(
    orderId: $orderId, reason: $reason, refund: $refund, restock: $restock,
    notifyCustomer: $notifyCustomer, staffNote: $staffNote
  ) {
    job { id done }
    orderCancelUserErrors { code field message }
  }
}
"""

FULFILLMENTS_QUERY = """
query FulfillmentsOf($id: ID!) {
  order(id: $id) { id fulfillments(first: 20) { id status } }
}
"""

FULFILLMENT_EVENT_MUTATION = """
mutation FulfillmentDelivered($fulfillmentEvent: FulfillmentEventInput!) {
  fulfillmentEventCreate(fulfillmentEvent: $fulfillmentEvent) {
    fulfillmentEvent { id status }
    userErrors { field message }
  }
}
"""

# Fulfilment order statuses that can still be fulfilled.
FULFILLABLE = frozenset({"OPEN", "IN_PROGRESS"})


# -- the connector -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cursor:
    since: datetime  # updated_at watermark of this poll
    after: str | None  # GraphQL endCursor within this poll
    newest: datetime | None  # newest updatedAt seen so far in this poll

    def dump(self) -> str:
        return json.dumps(
            {
                "since": _iso(self.since),
                "after": self.after,
                "newest": _iso(self.newest) if self.newest else None,
            }
        )


@register("shopify")
class ShopifyConnector:
    type: ClassVar[str] = "shopify"
    STATUS_MAP: ClassVar[Mapping[str, OrderStatus]] = STATUS_MAP

    def __init__(self, config: ConnectorConfig, http: Http):
        self.config = config
        self.http = http
        settings = config.settings
        self.api_version = str(settings.get("api_version") or DEFAULT_API_VERSION)
        self.page_size = max(1, min(int(settings.get("page_size") or DEFAULT_PAGE_SIZE), 250))
        self.location_id = settings.get("location_id")
        self.notify_customer = bool(settings.get("notify_customer", True))
        self.overlap = timedelta(seconds=float(settings.get("poll_overlap_seconds", DEFAULT_OVERLAP.total_seconds())))
        self.path = f"/admin/api/{self.api_version}/graphql.json"

    # -- GraphQL transport ------------------------------------------------------------------------

    def _graphql(self, query: str, variables: Mapping[str, Any], what: str) -> tuple[dict[str, Any], bytes]:
        """One GraphQL call: the decoded document and the raw bytes. THROTTLED answers (HTTP 200 with
        a THROTTLED error) are retried after the time the bucket needs to hold the query's cost; HTTP
        429/5xx are retried by ``Http``."""
        token = self.config.credentials.get("access_token")
        if not token:
            raise ChannelAuthFailed("Shopify: no access_token in the channel's credentials")
        attempts = max(1, self.http.attempts)
        for attempt in range(1, attempts + 1):
            response = self.http.request(
                "POST",
                self.path,
                json_body={"query": query, "variables": dict(variables)},
                headers={"X-Shopify-Access-Token": token, "Accept": "application/json"},
            )
            raw = response.content
            doc = read_json(raw, f"Shopify {what} response")
            if not isinstance(doc, dict):
                raise BadPayload(f"Shopify {what} response is not a JSON object")
            errors = doc.get("errors")
            if not errors:
                return doc, raw
            if _throttled(errors):
                if attempt < attempts:
                    self.http.sleep(self._throttle_wait(doc, attempt))
                    continue
                raise ChannelUnavailable(f"Shopify {what}: throttled {attempts} times: {_messages(errors)}")
            if doc.get("data"):
                return doc, raw  # field-level errors (e.g. protected customer data): keep what came back
            raise _graphql_error(what, errors)
        raise AssertionError("unreachable")

    def _throttle_wait(self, doc: Mapping[str, Any], attempt: int) -> float:
        cost = _dig(doc, "extensions", "cost") or {}
        status = cost.get("throttleStatus") or {}
        try:
            requested = float(cost.get("requestedQueryCost") or 0)
            available = float(status.get("currentlyAvailable") or 0)
            rate = float(status.get("restoreRate") or 0)
        except (TypeError, ValueError):
            rate = 0.0
        # Wait until the bucket holds the query's cost; without a restore rate, back off exponentially.
        wait = max((requested - available) / rate, PAUSE_FLOOR) if rate > 0 else self.http.backoff * 2 ** (attempt - 1)
        return min(wait, self.http.max_wait)

    # -- polling ----------------------------------------------------------------------------------

    def fetch_page(self, cursor: str | None) -> RawPage:
        state = self._read_cursor(cursor)
        variables = {
            "first": self.page_size,
            "after": state.after,
            "query": f"updated_at:>='{_iso(state.since)}'",
        }
        doc, raw = self._graphql(ORDERS_QUERY, variables, "orders")
        orders = _dig(doc, "data", "orders")
        if not isinstance(orders, dict):
            raise BadPayload("Shopify orders response has no data.orders")
        newest = state.newest
        for node in _nodes(orders):
            stamp = _time(node.get("updatedAt"), "order.updatedAt", required=False)
            if stamp and (newest is None or stamp > newest):
                newest = stamp
        info = orders.get("pageInfo") or {}
        end = info.get("endCursor")
        if info.get("hasNextPage") and end:
            return RawPage(raw, _Cursor(state.since, str(end), newest).dump(), more=True)
        watermark = state.since
        if newest is not None and newest - self.overlap > watermark:
            watermark = newest - self.overlap
        return RawPage(raw, _Cursor(watermark, None, None).dump(), more=False)

    def _read_cursor(self, cursor: str | None) -> _Cursor:
        if cursor is None:
            since_raw = self.config.settings.get("since")
            if since_raw:
                since = _time(since_raw, "settings.since")
                assert since is not None
            else:
                since = datetime.now(UTC) - DEFAULT_LOOKBACK
            return _Cursor(since, None, None)
        try:
            data = json.loads(cursor)
            since = _time(data["since"], "cursor.since")
            assert since is not None
            newest = _time(data.get("newest"), "cursor.newest", required=False)
            after = data.get("after")
            return _Cursor(since, str(after) if after else None, newest)
        except (ValueError, KeyError, TypeError, AssertionError, BadPayload):
            raise BadPayload(f"not a Shopify cursor: {cursor[:200]!r}") from None

    def parse_page(self, body: bytes) -> list[ChannelOrder]:
        doc = read_json(body, "Shopify orders page")
        orders = _dig(doc, "data", "orders") if isinstance(doc, dict) else None
        if not isinstance(orders, dict):
            raise BadPayload("Shopify orders page has no data.orders")
        return [_order_from_graphql(node) for node in _nodes(orders)]

    # -- webhooks ---------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        secret = self.config.credentials.get("webhook_secret")
        if not secret:
            raise BadSignature("Shopify webhook: no webhook_secret in the channel's credentials")
        sent = header(headers, "X-Shopify-Hmac-Sha256")
        if not sent:
            raise BadSignature("Shopify webhook: no X-Shopify-Hmac-Sha256 header")
        expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
        try:
            given = sent.strip().encode("ascii")
        except UnicodeEncodeError:
            raise BadSignature("Shopify webhook: X-Shopify-Hmac-Sha256 is not base64") from None
        if not hmac.compare_digest(expected, given):
            raise BadSignature("Shopify webhook: X-Shopify-Hmac-Sha256 does not match the body")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        topic = (header(headers, "X-Shopify-Topic") or "").strip()
        if topic == "orders/delete":
            return WebhookEvent(topic, header(headers, "X-Shopify-Webhook-Id"), [_deleted(body)])
        if topic not in ORDER_TOPICS:
            raise BadPayload(f"Shopify webhook topic '{topic or '(none)'}' does not carry an order")
        doc = read_json(body, f"Shopify {topic} webhook")
        if not isinstance(doc, dict):
            raise BadPayload(f"Shopify {topic} webhook body is not a JSON object")
        return WebhookEvent(
            topic=topic,
            delivery_id=header(headers, "X-Shopify-Webhook-Id"),
            orders=[_order_from_rest(doc)],
        )

    # -- inventory --------------------------------------------------------------------------------

    def _location_of(self, listing: Listing) -> str | None:
        location = listing.attributes.get("location_id") or self.location_id
        return _gid("Location", location) if location else None

    def push_inventory(self, levels: list[ListingQuantity]) -> list[PushOutcome]:
        outcomes: dict[int, PushOutcome] = {}
        ready: list[tuple[int, ListingQuantity, dict[str, Any]]] = []
        for i, level in enumerate(levels):
            item = level.listing.attributes.get("inventory_item_id")
            location = self._location_of(level.listing)
            if not item:
                outcomes[i] = PushOutcome(level.listing.listing_id, False, "listing has no inventory_item_id")
            elif not location:
                outcomes[i] = PushOutcome(level.listing.listing_id, False, "no location_id in the channel settings")
            else:
                quantity = {
                    "inventoryItemId": _gid("InventoryItem", item),
                    "locationId": location,
                    "quantity": max(0, int(level.quantity)),
                }
                ready.append((i, level, quantity))
        for start in range(0, len(ready), INVENTORY_BATCH):
            batch = ready[start : start + INVENTORY_BATCH]
            outcomes.update(self._set_quantities(batch, retry_rest=True))
        return [outcomes[i] for i in range(len(levels))]

    def _set_quantities(
        self, batch: list[tuple[int, ListingQuantity, dict[str, Any]]], *, retry_rest: bool
    ) -> dict[int, PushOutcome]:
        variables = {
            "input": {
                "name": "available",
                "reason": "correction",
                "ignoreCompareQuantity": True,
                "quantities": [q for _, _, q in batch],
            }
        }
        try:
            doc, _ = self._graphql(INVENTORY_SET_MUTATION, variables, "inventorySetQuantities")
        except (ChannelUnavailable, ChannelRejected, BadPayload) as e:
            return {i: PushOutcome(lv.listing.listing_id, False, str(e), retryable=e.retryable) for i, lv, _ in batch}
        payload = _dig(doc, "data", "inventorySetQuantities") or {}
        errors = payload.get("userErrors") or []
        if not errors:
            return {
                i: PushOutcome(lv.listing.listing_id, True, f"available set to {q['quantity']}") for i, lv, q in batch
            }
        by_index: dict[int, list[str]] = {}
        general: list[str] = []
        for error in errors:
            index = _quantity_index(error.get("field"))
            text = _user_error_text(error)
            if index is not None and 0 <= index < len(batch):
                by_index.setdefault(index, []).append(text)
            else:
                general.append(text)
        if general:
            detail = "; ".join(general + [t for ts in by_index.values() for t in ts])
            retryable = any(e.get("code") == "IDEMPOTENCY_CONCURRENT_REQUEST" for e in errors)
            return {i: PushOutcome(lv.listing.listing_id, False, detail, retryable) for i, lv, _ in batch}
        result = {
            batch[k][0]: PushOutcome(batch[k][1].listing.listing_id, False, "; ".join(texts))
            for k, texts in by_index.items()
        }
        rest = [entry for k, entry in enumerate(batch) if k not in by_index]
        if not rest:
            return result
        if payload.get("inventoryAdjustmentGroup") is not None:
            # Shopify applied the rest.
            result.update(
                {i: PushOutcome(lv.listing.listing_id, True, f"available set to {q['quantity']}") for i, lv, q in rest}
            )
        elif retry_rest:
            # Nothing was applied: send the others again without the ones Shopify refused.
            result.update(self._set_quantities(rest, retry_rest=False))
        else:
            result.update(
                {i: PushOutcome(lv.listing.listing_id, False, "not applied by Shopify", True) for i, lv, _ in rest}
            )
        return result

    def read_inventory(self, listings: list[Listing]) -> dict[str, int]:
        wanted: dict[str, dict[str, list[str]]] = {}  # location gid -> item gid -> listing ids
        for listing in listings:
            item = listing.attributes.get("inventory_item_id")
            location = self._location_of(listing)
            if item and location:
                wanted.setdefault(location, {}).setdefault(_gid("InventoryItem", item), []).append(listing.listing_id)
        found: dict[str, int] = {}
        for location, items in wanted.items():
            ids = list(items)
            for start in range(0, len(ids), INVENTORY_BATCH):
                chunk = ids[start : start + INVENTORY_BATCH]
                doc, _ = self._graphql(INVENTORY_READ_QUERY, {"ids": chunk, "locationId": location}, "inventory levels")
                for node in _dig(doc, "data", "nodes") or []:
                    if not isinstance(node, dict) or node.get("id") not in items:
                        continue
                    level = node.get("inventoryLevel")
                    if not isinstance(level, dict):
                        continue  # not stocked at this location
                    for entry in level.get("quantities") or []:
                        if entry.get("name") == "available" and entry.get("quantity") is not None:
                            for listing_id in items[node["id"]]:
                                found[listing_id] = int(entry["quantity"])
        return found

    # -- status push-back -------------------------------------------------------------------------

    def push_status(self, update: StatusUpdate) -> PushOutcome:
        key = update.external_id
        try:
            if update.status is OrderStatus.CONFIRMED:
                return PushOutcome(key, True, "Shopify has no acceptance step; nothing sent")
            if update.status is OrderStatus.SHIPPED:
                return self._fulfil(update)
            if update.status is OrderStatus.CANCELLED:
                return self._cancel(update)
            if update.status is OrderStatus.DELIVERED:
                return self._delivered(update)
        except (ChannelUnavailable, ChannelRejected, BadPayload) as e:
            return PushOutcome(key, False, str(e), retryable=e.retryable)
        return PushOutcome(key, False, f"Shopify has nothing to receive for status '{update.status.value}'")

    def _order_gid(self, update: StatusUpdate) -> str:
        return str(update.extra.get("order_gid") or _gid("Order", update.external_id))

    def _fulfil(self, update: StatusUpdate) -> PushOutcome:
        key = update.external_id
        doc, _ = self._graphql(FULFILLMENT_ORDERS_QUERY, {"id": self._order_gid(update)}, "fulfillment orders")
        order = _dig(doc, "data", "order")
        if not isinstance(order, dict):
            return PushOutcome(key, False, "Shopify has no such order")
        fulfillment_orders = [fo for fo in _nodes(order.get("fulfillmentOrders") or {}) if isinstance(fo, dict)]
        open_ones = [fo for fo in fulfillment_orders if fo.get("status") in FULFILLABLE]
        if not open_ones:
            statuses = sorted({str(fo.get("status")) for fo in fulfillment_orders})
            if fulfillment_orders and statuses == ["CLOSED"]:
                return PushOutcome(key, True, "already fulfilled on Shopify; nothing sent")
            return PushOutcome(key, False, f"no fulfillment order open for fulfilment (statuses: {statuses})")
        wanted = _wanted_lines(update.lines)
        groups: dict[str, list[dict[str, Any]]] = {}  # one fulfilment per assigned location
        for fo in open_ones:
            entry: dict[str, Any] = {"fulfillmentOrderId": fo["id"]}
            if wanted is not None:
                items = []
                for line in _nodes(fo.get("lineItems") or {}):
                    line_id = _numeric(_dig(line, "lineItem", "id"))
                    left = int(line.get("remainingQuantity") or 0)
                    if line_id in wanted and left > 0 and wanted[line_id] > 0:
                        take = min(left, wanted[line_id])
                        wanted[line_id] -= take
                        items.append({"id": line["id"], "quantity": take})
                if not items:
                    continue
                entry["fulfillmentOrderLineItems"] = items
            location = str(_dig(fo, "assignedLocation", "location", "id") or "")
            groups.setdefault(location, []).append(entry)
        if not groups:
            return PushOutcome(key, False, "none of the lines to ship is open on Shopify")
        tracking = {
            k: v
            for k, v in {
                "company": update.carrier,
                "number": update.tracking_number,
                "url": update.tracking_url,
            }.items()
            if v
        }
        created: list[str] = []
        for entries in groups.values():
            fulfillment: dict[str, Any] = {
                "lineItemsByFulfillmentOrder": entries,
                "notifyCustomer": self.notify_customer,
            }
            if tracking:
                fulfillment["trackingInfo"] = tracking
            doc, _ = self._graphql(FULFILLMENT_CREATE_MUTATION, {"fulfillment": fulfillment}, "fulfillmentCreate")
            payload = _dig(doc, "data", "fulfillmentCreate") or {}
            errors = payload.get("userErrors") or []
            if errors:
                done = f" (created before the error: {', '.join(created)})" if created else ""
                return PushOutcome(key, False, "; ".join(_user_error_text(e) for e in errors) + done)
            created.append(str(_dig(payload, "fulfillment", "id") or "?"))
        return PushOutcome(key, True, f"fulfilment created: {', '.join(created)}")

    def _cancel(self, update: StatusUpdate) -> PushOutcome:
        reason_word = (update.reason or "").strip()
        reason = reason_word.upper() if reason_word.upper() in CANCEL_REASONS else "OTHER"
        settings = self.config.settings
        variables = {
            "orderId": self._order_gid(update),
            "reason": reason,
            "refund": bool(settings.get("cancel_refund", False)),
            "restock": bool(settings.get("cancel_restock", False)),
            "notifyCustomer": self.notify_customer,
            "staffNote": reason_word or None,
        }
        doc, _ = self._graphql(ORDER_CANCEL_MUTATION, variables, "orderCancel")
        payload = _dig(doc, "data", "orderCancel") or {}
        errors = payload.get("orderCancelUserErrors") or payload.get("userErrors") or []
        if errors:
            return PushOutcome(update.external_id, False, "; ".join(_user_error_text(e) for e in errors))
        job = _dig(payload, "job", "id")
        return PushOutcome(update.external_id, True, f"cancellation accepted (job {job})")

    def _delivered(self, update: StatusUpdate) -> PushOutcome:
        key = update.external_id
        doc, _ = self._graphql(FULFILLMENTS_QUERY, {"id": self._order_gid(update)}, "fulfillments")
        order = _dig(doc, "data", "order")
        if not isinstance(order, dict):
            return PushOutcome(key, False, "Shopify has no such order")
        fulfillments = [f for f in order.get("fulfillments") or [] if f.get("status") == "SUCCESS"]
        if not fulfillments:
            return PushOutcome(key, False, "the order has no fulfilment on Shopify to mark delivered")
        for fulfillment in fulfillments:
            event = {"fulfillmentId": fulfillment["id"], "status": "DELIVERED"}
            doc, _ = self._graphql(FULFILLMENT_EVENT_MUTATION, {"fulfillmentEvent": event}, "fulfillmentEventCreate")
            errors = _dig(doc, "data", "fulfillmentEventCreate", "userErrors") or []
            if errors:
                return PushOutcome(key, False, "; ".join(_user_error_text(e) for e in errors))
        return PushOutcome(key, True, f"delivered event added to {len(fulfillments)} fulfilment(s)")


# -- order parsing -------------------------------------------------------------------------------


def _deleted(body: bytes) -> ChannelOrder:
    """``orders/delete`` carries only the order's id. Shopify deletes only cancelled or archived
    orders (and test orders): one we still hold open is cancelled, one that shipped stays as it is,
    one we never took needs nothing (channel sync's cancellation path decides which)."""
    doc = read_json(body, "Shopify orders/delete webhook")
    order_id = doc.get("id") if isinstance(doc, dict) else None
    if not isinstance(order_id, int | str) or isinstance(order_id, bool) or not str(order_id).strip():
        raise BadPayload("Shopify orders/delete webhook body has no order id")
    return ChannelOrder(
        external_id=str(order_id).strip(),
        channel_status=DELETED,
        status=OrderStatus.CANCELLED,
        placed_at=datetime.now(UTC),  # not known, and not used: nothing is created from a deletion
        customer={},
        shipping_address={},
        payment_method="prepaid",
        payment_status="pending",
        lines=[],
    )


def _order_from_rest(o: Mapping[str, Any]) -> ChannelOrder:
    """The Order resource as webhooks deliver it (snake_case, amounts as strings)."""
    if o.get("id") is None:
        raise BadPayload("Shopify order has no id")
    external_id = str(o["id"])
    where = f"Shopify order {external_id}"
    gateways = _strings(o.get("payment_gateway_names")) or _strings([o.get("gateway")])
    lines = []
    taxes_included = o.get("taxes_included") is not False
    for item in o.get("line_items") or []:
        discount = sum(
            (money(a.get("amount"), f"{where} discount") for a in item.get("discount_allocations") or []),
            Decimal(0),
        )
        if not item.get("discount_allocations"):
            discount = money(item.get("total_discount"), f"{where} line discount")
        tax = sum((money(t.get("price"), f"{where} line tax") for t in item.get("tax_lines") or []), Decimal(0))
        lines.append(
            _line(
                line_id=item.get("id"),
                variant_id=item.get("variant_id"),
                sku=item.get("sku"),
                quantity=item.get("quantity"),
                unit_price=money(item.get("price"), f"{where} line price"),
                discount=discount,
                tax=Decimal(0) if taxes_included else tax,
                title=item.get("name") or item.get("title"),
                where=where,
            )
        )
    shipping = _shop_amount(o.get("total_shipping_price_set"), snake=True)
    if shipping is None:
        shipping = sum(
            (
                money(s.get("discounted_price", s.get("price")), f"{where} shipping")
                for s in o.get("shipping_lines") or []
            ),
            Decimal(0),
        )
    customer = o.get("customer") or {}
    tags = o.get("tags")
    tag_list = [t.strip() for t in tags.split(",") if t.strip()] if isinstance(tags, str) else _strings(tags)
    return _build(
        external_id=external_id,
        gid=o.get("admin_graphql_api_id"),
        name=o.get("name"),
        created=o.get("created_at"),
        updated=o.get("updated_at"),
        cancelled=bool(o.get("cancelled_at")),
        financial=_word(o.get("financial_status")),
        fulfillment=_word(o.get("fulfillment_status")),
        gateways=gateways,
        currency=o.get("currency"),
        email=o.get("email") or o.get("contact_email") or customer.get("email"),
        phone=o.get("phone") or customer.get("phone"),
        customer_name=_join(customer.get("first_name"), customer.get("last_name")),
        shipping_address=_address_rest(o.get("shipping_address")),
        billing_address=_address_rest(o.get("billing_address")),
        lines=lines,
        shipping=shipping,
        tags=tag_list,
        note=o.get("note"),
        total=o.get("total_price"),
        where=where,
    )


def _order_from_graphql(node: Mapping[str, Any]) -> ChannelOrder:
    """An ``Order`` node of the GraphQL Admin API, as ORDERS_QUERY asks for it."""
    if not isinstance(node, Mapping):
        raise BadPayload("Shopify orders page holds something that is not an order")
    legacy = node.get("legacyResourceId") or _numeric(node.get("id"))
    if not legacy:
        raise BadPayload("Shopify order has no id")
    external_id = str(legacy)
    where = f"Shopify order {external_id}"
    taxes_included = node.get("taxesIncluded") is not False
    lines = []
    inventory_items: dict[str, str] = {}  # listing id -> InventoryItem gid, for channel_listings
    for item in _nodes(node.get("lineItems") or {}):
        quantity = _quantity(item.get("quantity"), where)
        unit = _shop_amount(item.get("originalUnitPriceSet"), where=f"{where} line price") or Decimal(0)
        allocations = item.get("discountAllocations")
        if allocations:
            discount = sum(
                (
                    _shop_amount(a.get("allocatedAmountSet"), where=f"{where} discount") or Decimal(0)
                    for a in allocations
                ),
                Decimal(0),
            )
        else:
            total = _shop_amount(item.get("discountedTotalSet"), where=f"{where} line total")
            discount = (unit * quantity - total) if total is not None else Decimal(0)
        tax = sum(
            (
                _shop_amount(t.get("priceSet"), where=f"{where} line tax") or Decimal(0)
                for t in item.get("taxLines") or []
            ),
            Decimal(0),
        )
        variant = item.get("variant") or {}
        lines.append(
            _line(
                line_id=_numeric(item.get("id")),
                variant_id=variant.get("legacyResourceId") or _numeric(variant.get("id")),
                sku=item.get("sku"),
                quantity=quantity,
                unit_price=unit,
                discount=discount,
                tax=Decimal(0) if taxes_included else tax,
                title=item.get("name") or item.get("title"),
                where=where,
            )
        )
        if variant.get("id") and _dig(variant, "inventoryItem", "id"):
            inventory_items[lines[-1].listing_id] = str(variant["inventoryItem"]["id"])
    shipping = _shop_amount(node.get("totalShippingPriceSet"), where=f"{where} shipping")
    if shipping is None:
        line = node.get("shippingLine") or {}
        shipping = (
            _shop_amount(line.get("discountedPriceSet"), where=f"{where} shipping")
            or _shop_amount(line.get("originalPriceSet"), where=f"{where} shipping")
            or Decimal(0)
        )
    customer = node.get("customer") or {}
    return _build(
        external_id=external_id,
        gid=node.get("id"),
        name=node.get("name"),
        created=node.get("createdAt"),
        updated=node.get("updatedAt"),
        cancelled=bool(node.get("cancelledAt")),
        financial=_word(node.get("displayFinancialStatus")),
        fulfillment=_word(node.get("displayFulfillmentStatus")),
        gateways=_strings(node.get("paymentGatewayNames")),
        currency=node.get("currencyCode"),
        email=node.get("email") or customer.get("email"),
        phone=node.get("phone") or customer.get("phone"),
        customer_name=_join(customer.get("firstName"), customer.get("lastName")) or customer.get("displayName"),
        shipping_address=_address_graphql(node.get("shippingAddress")),
        billing_address=_address_graphql(node.get("billingAddress")),
        lines=lines,
        shipping=shipping,
        tags=_strings(node.get("tags")),
        note=node.get("note"),
        total=_shop_amount(node.get("totalPriceSet"), where=f"{where} total"),
        where=where,
        more={"inventory_items": inventory_items} if inventory_items else {},
    )


def _line(
    *,
    line_id: Any,
    variant_id: Any,
    sku: Any,
    quantity: Any,
    unit_price: Decimal,
    discount: Decimal,
    tax: Decimal,
    title: Any,
    where: str,
) -> ChannelLine:
    qty = _quantity(quantity, where)
    if tax:
        # Prices exclude tax on this store: fold the line's tax into the unit price (to the paisa).
        unit_price = ((unit_price * qty + tax) / qty).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    line_key = str(line_id) if line_id not in (None, "") else None
    # No variant: the product was deleted on Shopify; only the SKU is left to map the line by.
    listing_id = str(variant_id) if variant_id not in (None, "") else f"line_item:{line_key}"
    return ChannelLine(
        listing_id=listing_id,
        seller_sku=sku.strip() if isinstance(sku, str) and sku.strip() else None,
        quantity=qty,
        unit_price=unit_price,
        discount=discount,
        title=str(title) if title else None,
        line_id=line_key,
    )


def _quantity(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadPayload(f"{where}: line quantity '{value}' is not a whole number")
    try:
        qty = int(value)
    except ValueError:
        raise BadPayload(f"{where}: line quantity '{value}' is not a whole number") from None
    if qty <= 0:
        raise BadPayload(f"{where}: line quantity {qty} is not positive")
    return qty


def _build(
    *,
    external_id: str,
    gid: Any,
    name: Any,
    created: Any,
    updated: Any,
    cancelled: bool,
    financial: str | None,
    fulfillment: str | None,
    gateways: list[str],
    currency: Any,
    email: Any,
    phone: Any,
    customer_name: str | None,
    shipping_address: dict[str, Any] | None,
    billing_address: dict[str, Any] | None,
    lines: list[ChannelLine],
    shipping: Decimal,
    tags: list[str],
    note: Any,
    total: Any,
    where: str,
    more: Mapping[str, Any] | None = None,
) -> ChannelOrder:
    cod = is_cod(gateways)
    word, status = decide_status(cancelled=cancelled, financial=financial, fulfillment=fulfillment, cod=cod)
    placed_at = _time(created, f"{where} created_at")
    assert placed_at is not None
    address = dict(shipping_address or billing_address or {})
    country = address.pop("country", None)
    if billing_address:
        billing_address = {k: v for k, v in billing_address.items() if k != "country"}
    customer = {
        "name": customer_name or address.get("name") or (billing_address or {}).get("name"),
        "phone": _phone(phone) or address.get("phone"),
        "email": email.strip().lower() if isinstance(email, str) and email.strip() else None,
    }
    if financial is None:
        payment_status = PaymentStatus.COD_PENDING if cod else PaymentStatus.PAID
    elif cod and financial in ("pending", "partially_paid"):
        payment_status = PaymentStatus.COD_PENDING
    elif cod and financial == "paid":
        payment_status = PaymentStatus.COD_COLLECTED
    else:
        payment_status = _PAYMENT_STATUS[financial]
    extra: dict[str, Any] = {
        "order_gid": str(gid) if gid else f"gid://shopify/Order/{external_id}",
        "name": name,
        "financial_status": financial,
        "fulfillment_status": fulfillment,
        "payment_gateway_names": gateways,
    }
    if country:
        extra["shipping_country"] = country  # outside India: intake's pincode check will hold it
    extra.update(more or {})
    if total is not None:
        extra["total_price"] = str(money(total, f"{where} total"))
    return ChannelOrder(
        external_id=external_id,
        channel_status=word,
        status=status,
        placed_at=placed_at,
        customer=customer,
        shipping_address=address,
        payment_method="cod" if cod else "prepaid",
        payment_status=payment_status.value,
        lines=lines,
        billing_address=billing_address,
        shipping_charge=shipping,
        currency=str(currency or "INR"),
        tags=tags,
        notes=str(note) if note else None,
        ready=status is not OrderStatus.PENDING,
        updated_at=_time(updated, f"{where} updated_at", required=False),
        extra=extra,
    )


def _address_rest(a: Any) -> dict[str, Any] | None:
    if not isinstance(a, Mapping):
        return None
    return _address(
        name=a.get("name") or _join(a.get("first_name"), a.get("last_name")),
        line1=a.get("address1"),
        line2=_join(a.get("address2"), a.get("company")),
        city=a.get("city"),
        state=a.get("province_code") or a.get("province"),
        pincode=a.get("zip"),
        phone=a.get("phone"),
        country=a.get("country_code"),
    )


def _address_graphql(a: Any) -> dict[str, Any] | None:
    if not isinstance(a, Mapping):
        return None
    return _address(
        name=a.get("name") or _join(a.get("firstName"), a.get("lastName")),
        line1=a.get("address1"),
        line2=_join(a.get("address2"), a.get("company")),
        city=a.get("city"),
        state=a.get("provinceCode") or a.get("province"),
        pincode=a.get("zip"),
        phone=a.get("phone"),
        country=a.get("countryCodeV2"),
    )


def _address(**fields: Any) -> dict[str, Any]:
    pincode = fields["pincode"]
    out = {
        "name": _text(fields["name"]),
        "line1": _text(fields["line1"]),
        "line2": _text(fields["line2"]),
        "city": _text(fields["city"]),
        "state": _text(fields["state"]),
        "pincode": re.sub(r"\s+", "", str(pincode)) if pincode not in (None, "") else None,
        "phone": _phone(fields["phone"]),
    }
    if fields["country"] and str(fields["country"]).upper() != "IN":
        out["country"] = str(fields["country"]).upper()  # taken out again by _build
    return out


# -- small helpers -------------------------------------------------------------------------------


def _throttled(errors: Any) -> bool:
    if not isinstance(errors, list):
        return False
    for error in errors:
        if not isinstance(error, dict):
            continue
        code = _dig(error, "extensions", "code")
        if code == "THROTTLED" or str(error.get("message", "")).lower() == "throttled":
            return True
    return False


def _messages(errors: Any) -> str:
    if isinstance(errors, list):
        return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)[:500]
    return str(errors)[:500]


def _graphql_error(what: str, errors: Any) -> ChannelError:
    codes = set()
    if isinstance(errors, list):
        codes = {_dig(e, "extensions", "code") for e in errors if isinstance(e, dict)}
    message = f"Shopify {what}: {_messages(errors)}"
    if "ACCESS_DENIED" in codes:
        return ChannelAuthFailed(message)
    if "INTERNAL_SERVER_ERROR" in codes:
        return ChannelUnavailable(message)
    return ChannelRejected(message)


def _user_error_text(error: Mapping[str, Any]) -> str:
    code = error.get("code")
    field = error.get("field")
    where = ".".join(str(f) for f in field) if isinstance(field, list) else None
    parts = [str(error.get("message") or "rejected")]
    if code:
        parts.insert(0, f"{code}:")
    if where:
        parts.append(f"({where})")
    return " ".join(parts)


def _quantity_index(field: Any) -> int | None:
    """``["input", "quantities", "3", "inventoryItemId"]`` -> 3."""
    if not isinstance(field, list):
        return None
    for k, part in enumerate(field[:-1]):
        if part == "quantities":
            try:
                return int(field[k + 1])
            except (TypeError, ValueError):
                return None
    return None


def _wanted_lines(lines: list[ChannelLine]) -> dict[str | None, int] | None:
    """Line ids to ship with their quantities, or None for everything still open."""
    if not lines:
        return None
    wanted: dict[str | None, int] = {}
    for line in lines:
        wanted[line.line_id] = wanted.get(line.line_id, 0) + line.quantity
    return wanted


def _nodes(connection: Any) -> list[dict[str, Any]]:
    if not isinstance(connection, Mapping):
        return []
    if isinstance(connection.get("nodes"), list):
        return [n for n in connection["nodes"] if isinstance(n, dict)]
    return [e["node"] for e in connection.get("edges") or [] if isinstance(e, dict) and isinstance(e.get("node"), dict)]


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _shop_amount(money_set: Any, *, snake: bool = False, where: str = "Shopify amount") -> Decimal | None:
    shop = _dig(money_set, "shop_money" if snake else "shopMoney")
    if not isinstance(shop, Mapping) or shop.get("amount") in (None, ""):
        return None
    return money(shop["amount"], where)


def _numeric(gid: Any) -> str | None:
    """``gid://shopify/LineItem/14012345678901`` -> ``14012345678901``; numbers pass through."""
    if gid in (None, ""):
        return None
    text = str(gid)
    return text.rsplit("/", 1)[-1].split("?", 1)[0] if text.startswith("gid://") else text


def _gid(kind: str, value: Any) -> str:
    text = str(value).strip()
    return text if text.startswith("gid://") else f"gid://shopify/{kind}/{text}"


def _word(value: Any) -> str | None:
    return str(value).strip().lower() if value not in (None, "") else None


def _strings(value: Any) -> list[str]:
    return [str(v).strip() for v in value if v not in (None, "") and str(v).strip()] if isinstance(value, list) else []


def _join(*parts: Any) -> str | None:
    text = " ".join(str(p).strip() for p in parts if p not in (None, "") and str(p).strip())
    return text or None


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


def _phone(raw: Any) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    return normalise_phone(raw) or raw.strip()


def _time(value: Any, where: str, *, required: bool = True) -> datetime | None:
    if value in (None, ""):
        if required:
            raise BadPayload(f"{where} is missing")
        return None
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadPayload(f"{where}: '{value}' is not an ISO-8601 time") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _iso(stamp: datetime) -> str:
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
