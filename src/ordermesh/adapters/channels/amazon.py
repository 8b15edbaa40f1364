"""Amazon Selling Partner API (SP-API), India marketplace: orders polled through the Orders API v0,
stock set through the Listings Items API (one SKU) or a JSON_LISTINGS_FEED (many), shipments
confirmed through ``confirmShipment``.

Auth is a Login with Amazon (LWA) access token from the seller's refresh token, sent as
``x-amz-access-token``; calls that return buyer PII use a Restricted Data Token (RDT) in its place.
SP-API no longer needs AWS SigV4 signing (dropped in 2023), so nothing here signs requests.
Amazon has no HTTP webhooks (notifications go to SQS / EventBridge): orders are polled.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_UP, Decimal
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from ordermesh.adapters.channels.base import (
    BadPayload,
    BadSignature,
    ChannelAuthFailed,
    ChannelError,
    ChannelLine,
    ChannelOrder,
    ChannelRejected,
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
from ordermesh.domain.india import find_state
from ordermesh.domain.statuses import OrderStatus

MARKETPLACE_INDIA = "A21TJRUUN4KGV"
LWA_URL = "https://api.amazon.com"
LISTINGS = "/listings/2021-08-01/items"
FEEDS = "/feeds/2021-06-30"
ORDERS = "/orders/v0/orders"
FEED_CONTENT_TYPE = "application/json; charset=UTF-8"
FEED_MAX_MESSAGES = 10_000
TOKEN_MARGIN = 60.0  # seconds before expiry when a cached token is renewed
NO_WEBHOOKS = "Amazon does not send webhooks; orders are polled"

# Default usage plans (requests per second, burst) from the SP-API references. A response's
# x-amzn-RateLimit-Limit header replaces the rate for that operation.
USAGE_PLANS: dict[str, tuple[float, int]] = {
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
    "createRestrictedDataToken": (1.0, 10),
    "getListingsItem": (5.0, 10),
    "patchListingsItem": (5.0, 10),
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "confirmShipment": (2.0, 10),
}

# Restricted resources asked for in one RDT: getOrders with address and buyer, and getOrderItems
# on the generic path (any order id) with buyer information.
RESTRICTED_RESOURCES = [
    {"method": "GET", "path": ORDERS, "dataElements": ["buyerInfo", "shippingAddress"]},
    {"method": "GET", "path": ORDERS + "/{orderId}/orderItems", "dataElements": ["buyerInfo"]},
]

_S = OrderStatus
NOT_RELEASED = frozenset({"Pending", "PendingAvailability"})


@dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float
    stamp: float


class RateLimiter:
    """SP-API's own token-bucket model, kept on our side so calls are spaced instead of throttled."""

    def __init__(self, sleep: Callable[[float], None], clock: Callable[[], float]):
        self.sleep = sleep
        self.clock = clock
        self.buckets: dict[str, _Bucket] = {}

    def _bucket(self, operation: str) -> _Bucket:
        if operation not in self.buckets:
            rate, burst = USAGE_PLANS.get(operation, (1.0, 1))
            self.buckets[operation] = _Bucket(rate, burst, float(burst), self.clock())
        return self.buckets[operation]

    def acquire(self, operation: str) -> None:
        bucket = self._bucket(operation)
        now = self.clock()
        bucket.tokens = min(bucket.burst, bucket.tokens + (now - bucket.stamp) * bucket.rate)
        bucket.stamp = now
        if bucket.tokens < 1:
            self.sleep((1 - bucket.tokens) / bucket.rate)
            bucket.tokens = 1.0
            bucket.stamp = self.clock()
        bucket.tokens -= 1

    def observe(self, operation: str, headers: Mapping[str, str]) -> None:
        value = header(headers, "x-amzn-RateLimit-Limit")
        try:
            rate = float(value) if value is not None else 0.0
        except ValueError:
            return
        if rate > 0 and math.isfinite(rate):
            self._bucket(operation).rate = rate


@register("amazon")
class AmazonConnector:
    type: ClassVar[str] = "amazon"
    # Every OrderStatus value of the Orders API v0 model.
    STATUS_MAP: ClassVar[Mapping[str, OrderStatus]] = {
        "PendingAvailability": _S.PENDING,  # pre-order: not yet available, not yet charged
        "Pending": _S.PENDING,  # placed, payment not yet authorised: no address, must not ship
        "Unshipped": _S.CONFIRMED,  # released to the seller: ship it
        "PartiallyShipped": _S.PARTIALLY_SHIPPED,
        "Shipped": _S.SHIPPED,
        "InvoiceUnconfirmed": _S.SHIPPED,  # shipped; the seller has not confirmed the invoice
        "Canceled": _S.CANCELLED,
        "Unfulfillable": _S.CANCELLED,  # multi-channel fulfilment order Amazon cannot fulfil
    }

    def __init__(self, config: ConnectorConfig, http: Http, *, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self.http = http
        self.clock = clock
        settings = config.settings
        self.marketplace_id = str(settings.get("marketplace_id") or MARKETPLACE_INDIA)
        self.seller_id = str(settings.get("seller_id") or "")
        self.lwa_url = str(settings.get("lwa_url") or LWA_URL)
        self.restricted = bool(settings.get("restricted_data", True))
        self.feed_threshold = int(settings.get("feed_threshold", 20))
        self.limiter = RateLimiter(http.sleep, clock)
        self._access: tuple[str, float] | None = None
        self._rdt: tuple[str, float] | None = None

    # -- auth ------------------------------------------------------------------------------------

    def _access_token(self) -> str:
        if self._access and self.clock() < self._access[1]:
            return self._access[0]
        creds = self.config.credentials
        missing = [k for k in ("client_id", "client_secret", "refresh_token") if not creds.get(k)]
        if missing:
            raise ChannelAuthFailed(f"Amazon credentials lack {', '.join(missing)}")
        form = urlencode(
            {
                "grant_type": "refresh_token",
                "refresh_token": creds["refresh_token"],
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            }
        ).encode()
        with Http(self.lwa_url, timeout=self.http.timeout, sleep=self.http.sleep) as lwa:
            try:
                response = lwa.request(
                    "POST",
                    "/auth/o2/token",
                    content=form,
                    headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
                )
            except ChannelRejected as e:  # LWA answers 400 invalid_grant for a revoked refresh token
                raise ChannelAuthFailed(f"Login with Amazon refused the refresh token: {e}", status=e.status) from None
        body = read_json(response.content, "Login with Amazon token response")
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise ChannelAuthFailed("Login with Amazon answered without an access_token")
        self._access = (str(token), self.clock() + float(body.get("expires_in") or 3600) - TOKEN_MARGIN)
        return self._access[0]

    def _restricted_token(self) -> str:
        if self._rdt and self.clock() < self._rdt[1]:
            return self._rdt[0]
        response = self._call(
            "createRestrictedDataToken",
            "POST",
            "/tokens/2021-03-01/restrictedDataToken",
            json_body={"restrictedResources": RESTRICTED_RESOURCES},
        )
        body = read_json(response.content, "createRestrictedDataToken response")
        token = body.get("restrictedDataToken") if isinstance(body, dict) else None
        if not token:
            raise ChannelAuthFailed("createRestrictedDataToken answered without a restrictedDataToken")
        self._rdt = (str(token), self.clock() + float(body.get("expiresIn") or 3600) - TOKEN_MARGIN)
        return self._rdt[0]

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        restricted: bool = False,
    ) -> Any:
        """One SP-API call: paced by the operation's usage plan, with the right token; a refused
        token (expired or revoked early) is renewed once before the refusal is final."""
        for attempt in (1, 2):
            use_rdt = restricted and self.restricted
            token = self._restricted_token() if use_rdt else self._access_token()
            self.limiter.acquire(operation)
            try:
                response = self.http.request(
                    method,
                    path,
                    params=params,
                    json_body=json_body,
                    headers={"x-amz-access-token": token, "Accept": "application/json"},
                )
            except ChannelAuthFailed:
                if attempt == 2:
                    raise
                self._access = None
                self._rdt = None
                continue
            self.limiter.observe(operation, response.headers)
            return response
        raise AssertionError("unreachable")

    # -- orders ----------------------------------------------------------------------------------

    def fetch_page(self, cursor: str | None) -> RawPage:
        state = self._read_cursor(cursor)
        after: str = state["after"]
        params: dict[str, Any] = {"MarketplaceIds": self.marketplace_id}
        if state.get("next"):
            params["NextToken"] = state["next"]
        else:
            params["LastUpdatedAfter"] = after
            params["MaxResultsPerPage"] = 100
        response = self._call("getOrders", "GET", ORDERS, params=params, restricted=True)
        body = read_json(response.content, "getOrders response")
        payload = body.get("payload") if isinstance(body, dict) else None
        if not isinstance(payload, dict):
            raise BadPayload(f"getOrders response has no payload: {response.text[:300]}")
        orders = payload.get("Orders") or []
        items: dict[str, list[Any]] = {}
        seen = _parse_time(state["seen"], "cursor") if state.get("seen") else None
        for order in orders:
            order_id = order.get("AmazonOrderId") if isinstance(order, dict) else None
            if not order_id:
                raise BadPayload("getOrders returned an order without AmazonOrderId")
            items[order_id] = self._order_items(order_id)
            if order.get("LastUpdateDate"):
                updated = _parse_time(order["LastUpdateDate"], f"order {order_id} LastUpdateDate")
                seen = max(seen, updated) if seen else updated
        if payload.get("LastUpdatedBefore"):
            before = _parse_time(payload["LastUpdatedBefore"], "getOrders LastUpdatedBefore")
            seen = max(seen, before) if seen else before
        raw = json.dumps({"orders": payload, "items": items}).encode()
        seen_text = _iso(seen) if seen else None
        next_token = payload.get("NextToken")
        if next_token:
            next_cursor = {"after": after, "next": next_token, "seen": seen_text}
            return RawPage(raw, json.dumps(next_cursor), more=True)
        return RawPage(raw, json.dumps({"after": seen_text or after}), more=False)

    def _read_cursor(self, cursor: str | None) -> dict[str, Any]:
        if cursor is None:
            since = self.config.settings.get("since")
            start = _parse_time(since, "settings.since") if since else datetime.now(UTC) - timedelta(days=7)
            return {"after": _iso(start)}
        try:
            state = json.loads(cursor)
        except ValueError:
            raise BadPayload(f"Amazon cursor is not ours: {cursor[:100]}") from None
        if not isinstance(state, dict) or not state.get("after"):
            raise BadPayload(f"Amazon cursor has no watermark: {cursor[:100]}")
        return state

    def _order_items(self, order_id: str) -> list[Any]:
        path = f"{ORDERS}/{quote(order_id, safe='')}/orderItems"
        found: list[Any] = []
        params: dict[str, Any] = {}
        while True:
            response = self._call("getOrderItems", "GET", path, params=params or None, restricted=True)
            body = read_json(response.content, f"getOrderItems response for {order_id}")
            payload = body.get("payload") if isinstance(body, dict) else None
            if not isinstance(payload, dict):
                raise BadPayload(f"getOrderItems for {order_id} has no payload: {response.text[:300]}")
            found.extend(payload.get("OrderItems") or [])
            if not payload.get("NextToken"):
                return found
            params = {"NextToken": payload["NextToken"]}

    def parse_page(self, body: bytes) -> list[ChannelOrder]:
        data = read_json(body, "Amazon orders page")
        if not isinstance(data, dict) or not isinstance(data.get("orders"), dict):
            raise BadPayload("Amazon orders page has no 'orders' object (getOrders payload)")
        items = data.get("items") or {}
        if not isinstance(items, dict):
            raise BadPayload("Amazon orders page: 'items' is not an object")
        orders = data["orders"].get("Orders") or []
        result = []
        for order in orders:
            if not isinstance(order, dict):
                raise BadPayload("Amazon orders page: an order is not an object")
            order_id = order.get("AmazonOrderId")
            if not order_id:
                raise BadPayload("Amazon order without AmazonOrderId")
            if order_id not in items:
                raise BadPayload(f"Amazon order {order_id}: its order items are missing from the page")
            result.append(self.parse_order(order, items[order_id]))
        return result

    def parse_order(self, order: Mapping[str, Any], items: Iterable[Mapping[str, Any]]) -> ChannelOrder:
        order_id = str(order["AmazonOrderId"])
        word = str(order.get("OrderStatus") or "")
        status = self.STATUS_MAP.get(word)
        if status is None:
            raise BadPayload(f"Amazon order {order_id}: unknown OrderStatus '{word}'")
        if not order.get("PurchaseDate"):
            raise BadPayload(f"Amazon order {order_id}: no PurchaseDate")
        placed_at = _parse_time(order["PurchaseDate"], f"order {order_id} PurchaseDate")
        updated = order.get("LastUpdateDate")
        updated_at = _parse_time(updated, f"order {order_id} LastUpdateDate") if updated else None

        lines: list[ChannelLine] = []
        shipping = Decimal(0)
        order_items: list[dict[str, Any]] = []
        for item in items:
            line, charge = _parse_item(order_id, item)
            shipping += charge
            if line is not None:
                lines.append(line)
                left = line.quantity - int(item.get("QuantityShipped") or 0)
                if left > 0:
                    order_items.append({"orderItemId": line.line_id, "quantity": left})

        details = order.get("PaymentMethodDetails") or []
        cod = order.get("PaymentMethod") == "COD" or "CashOnDelivery" in details or "COD" in details
        # COD is collected on delivery; Amazon collects prepaid orders itself once released.
        payment_status = "cod_pending" if cod else "pending" if word in NOT_RELEASED else "paid"

        address = order.get("ShippingAddress") or {}
        buyer = order.get("BuyerInfo") or {}
        shipping_address = _address(address)
        customer = {
            "name": buyer.get("BuyerName") or address.get("Name"),
            "phone": address.get("Phone"),
            "email": buyer.get("BuyerEmail"),
        }
        afn = order.get("FulfillmentChannel") == "AFN"
        tags = [tag for tag, on in (("afn", afn), ("prime", order.get("IsPrime") is True)) if on]
        if order.get("IsBusinessOrder") is True:
            tags.append("business")
        notes: list[str] = []
        ready = True
        if afn:
            ready = False
            notes.append("Fulfilled by Amazon (AFN): Amazon ships this order from its warehouse; do not ship it.")
        if word in NOT_RELEASED:
            ready = False
            notes.append(f"Amazon has not released this order yet ({word}): no address until payment is confirmed.")
        elif not afn and status == _S.CONFIRMED and not address.get("AddressLine1"):
            ready = False
            notes.append("Amazon sent no street address: the channel needs restricted data (RDT) access.")
        total = order.get("OrderTotal") or {}
        return ChannelOrder(
            external_id=order_id,
            channel_status=word,
            status=status,
            placed_at=placed_at,
            customer=customer,
            shipping_address=shipping_address,
            payment_method="cod" if cod else "prepaid",
            payment_status=payment_status,
            lines=lines,
            shipping_charge=shipping,
            currency=str(total.get("CurrencyCode") or "INR"),
            tags=tags,
            notes=" ".join(notes) or None,
            ready=ready,
            updated_at=updated_at,
            extra={
                "marketplace_id": order.get("MarketplaceId") or self.marketplace_id,
                "fulfillment_channel": order.get("FulfillmentChannel"),
                "order_items": order_items,
                "latest_ship_date": order.get("LatestShipDate"),
                "order_total": str(money(total.get("Amount"), f"order {order_id} OrderTotal")),
            },
        )

    # -- webhooks: none ---------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        raise BadSignature(NO_WEBHOOKS)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        raise BadPayload(NO_WEBHOOKS)

    # -- inventory -------------------------------------------------------------------------------

    def _listing_path(self, sku: str) -> str:
        if not self.seller_id:
            raise ChannelRejected("Amazon channel settings lack seller_id (the merchant token)")
        return f"{LISTINGS}/{quote(self.seller_id, safe='')}/{quote(sku, safe='')}"

    def push_inventory(self, levels: list[ListingQuantity]) -> list[PushOutcome]:
        outcomes: dict[str, PushOutcome] = {}
        todo: list[ListingQuantity] = []
        for level in levels:
            if str(level.listing.attributes.get("fulfillment_channel") or "").upper() == "AFN":
                outcomes[level.listing.listing_id] = PushOutcome(
                    level.listing.listing_id, False, "Fulfilled by Amazon: Amazon keeps this stock; not pushed"
                )
            else:
                todo.append(level)
        if len(todo) > self.feed_threshold:
            for start in range(0, len(todo), FEED_MAX_MESSAGES):
                for outcome in self._push_feed(todo[start : start + FEED_MAX_MESSAGES]):
                    outcomes[outcome.key] = outcome
        else:
            for level in todo:
                outcomes[level.listing.listing_id] = self._patch_one(level)
        return [outcomes[level.listing.listing_id] for level in levels]

    def _patch(self, level: ListingQuantity) -> dict[str, Any]:
        return {
            "op": "replace",
            "path": "/attributes/fulfillment_availability",
            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": max(0, int(level.quantity))}],
        }

    def _patch_one(self, level: ListingQuantity) -> PushOutcome:
        sku = level.listing.listing_id
        body = {"productType": _product_type(level.listing), "patches": [self._patch(level)]}
        try:
            response = self._call(
                "patchListingsItem",
                "PATCH",
                self._listing_path(sku),
                params={"marketplaceIds": self.marketplace_id},
                json_body=body,
            )
        except ChannelAuthFailed:
            raise
        except ChannelError as e:
            return PushOutcome(sku, False, str(e), retryable=e.retryable)
        answer = read_json(response.content, f"patchListingsItem response for {sku}")
        status = str(answer.get("status") or "") if isinstance(answer, dict) else ""
        issues = "; ".join(
            f"{i.get('severity', '')} {i.get('code', '')}: {i.get('message', '')}".strip()
            for i in (answer.get("issues") or [] if isinstance(answer, dict) else [])
            if isinstance(i, dict)
        )
        detail = f"{status} (submission {answer.get('submissionId')})" if status else response.text[:300]
        if issues:
            detail += f": {issues}"
        return PushOutcome(sku, status == "ACCEPTED", detail)

    def _push_feed(self, levels: list[ListingQuantity]) -> list[PushOutcome]:
        feed = {
            "header": {"sellerId": self.seller_id, "version": "2.0", "issueLocale": "en_US"},
            "messages": [
                {
                    "messageId": n,
                    "sku": level.listing.listing_id,
                    "operationType": "PATCH",
                    "productType": _product_type(level.listing),
                    "patches": [self._patch(level)],
                }
                for n, level in enumerate(levels, start=1)
            ],
        }
        keys = [level.listing.listing_id for level in levels]
        if not self.seller_id:
            return [PushOutcome(k, False, "Amazon channel settings lack seller_id") for k in keys]
        try:
            response = self._call(
                "createFeedDocument", "POST", f"{FEEDS}/documents", json_body={"contentType": FEED_CONTENT_TYPE}
            )
            document = read_json(response.content, "createFeedDocument response")
            if not isinstance(document, dict):
                document = {}
            document_id, url = document.get("feedDocumentId"), document.get("url")
            if not document_id or not url:
                raise ChannelRejected(f"createFeedDocument answered without feedDocumentId/url: {response.text[:300]}")
            self._upload(str(url), json.dumps(feed).encode())
            response = self._call(
                "createFeed",
                "POST",
                f"{FEEDS}/feeds",
                json_body={
                    "feedType": "JSON_LISTINGS_FEED",
                    "marketplaceIds": [self.marketplace_id],
                    "inputFeedDocumentId": document_id,
                },
            )
        except ChannelAuthFailed:
            raise
        except ChannelError as e:
            return [PushOutcome(k, False, f"feed not submitted: {e}", retryable=e.retryable) for k in keys]
        answer = read_json(response.content, "createFeed response")
        feed_id = answer.get("feedId") if isinstance(answer, dict) else None
        if not feed_id:
            return [PushOutcome(k, False, f"createFeed answered without feedId: {response.text[:300]}") for k in keys]
        return [PushOutcome(k, True, f"submitted in feed {feed_id}") for k in keys]

    def _upload(self, url: str, content: bytes) -> None:
        """PUT the feed to the presigned URL Amazon gave: no SP-API token, and the content type must
        be the one declared in createFeedDocument. A 403 there is a URL problem, not our credentials."""
        try:
            self.http.request("PUT", url, content=content, headers={"Content-Type": FEED_CONTENT_TYPE})
        except ChannelAuthFailed as e:
            raise ChannelRejected(f"feed document upload refused: {e}", status=e.status) from None

    def read_inventory(self, listings: list[Listing]) -> dict[str, int]:
        found: dict[str, int] = {}
        for listing in listings:
            try:
                response = self._call(
                    "getListingsItem",
                    "GET",
                    self._listing_path(listing.listing_id),
                    params={"marketplaceIds": self.marketplace_id, "includedData": "fulfillmentAvailability"},
                )
            except ChannelRejected as e:
                if e.status == 404:  # not listed in this marketplace: nothing to compare
                    continue
                raise
            body = read_json(response.content, f"getListingsItem response for {listing.listing_id}")
            entries = body.get("fulfillmentAvailability") if isinstance(body, dict) else None
            for entry in entries or []:
                if not isinstance(entry, dict):
                    continue
                if entry.get("fulfillmentChannelCode") == "DEFAULT" and entry.get("quantity") is not None:
                    found[listing.listing_id] = int(entry["quantity"])
        return found

    # -- status ----------------------------------------------------------------------------------

    def push_status(self, update: StatusUpdate) -> PushOutcome:
        key = update.external_id
        if update.status == _S.CONFIRMED:
            return PushOutcome(key, True, "nothing to send: Amazon releases Unshipped orders already accepted")
        if update.status == _S.DELIVERED:
            return PushOutcome(key, True, "nothing to send: Amazon reads delivery from the carrier's tracking")
        if update.status == _S.CANCELLED:
            return PushOutcome(
                key,
                False,
                "Amazon has no JSON API to cancel a seller-fulfilled order: cancel it in Seller Central "
                "(Manage Orders > Cancel order)",
            )
        if update.status != _S.SHIPPED:
            return PushOutcome(key, False, f"Amazon takes no '{update.status.value}' update")
        if str(update.extra.get("fulfillment_channel") or "") == "AFN":
            return PushOutcome(key, False, "Fulfilled by Amazon: Amazon ships and confirms this order itself")
        return self._confirm_shipment(update)

    def _confirm_shipment(self, update: StatusUpdate) -> PushOutcome:
        key = update.external_id
        if not update.carrier or not update.tracking_number:
            return PushOutcome(key, False, "Amazon needs a carrier and a tracking number to confirm a shipment")
        try:
            items = self._shipment_items(update)
            codes = self.config.settings.get("carrier_codes") or {}
            carrier_code = str(codes.get(update.carrier) or "Other")
            package: dict[str, Any] = {
                "packageReferenceId": str(update.extra.get("package_reference_id") or "1"),
                "carrierCode": carrier_code,
                "trackingNumber": update.tracking_number,
                "shipDate": str(update.extra.get("ship_date") or _iso(datetime.now(UTC))),
                "orderItems": items,
            }
            if carrier_code == "Other":
                package["carrierName"] = update.carrier
            self._call(
                "confirmShipment",
                "POST",
                f"{ORDERS}/{quote(key, safe='')}/shipmentConfirmation",
                json_body={
                    "packageDetail": package,
                    "marketplaceId": str(update.extra.get("marketplace_id") or self.marketplace_id),
                },
            )
        except ChannelAuthFailed:
            raise
        except ChannelError as e:
            return PushOutcome(key, False, str(e), retryable=e.retryable)
        return PushOutcome(key, True, f"shipment confirmed: {update.carrier} {update.tracking_number}")

    def _shipment_items(self, update: StatusUpdate) -> list[dict[str, Any]]:
        if update.lines:
            missing = [line.listing_id for line in update.lines if not line.line_id]
            if missing:
                raise ChannelRejected(f"lines without an Amazon OrderItemId: {', '.join(missing)}")
            return [{"orderItemId": line.line_id, "quantity": line.quantity} for line in update.lines]
        known = update.extra.get("order_items")
        if known:
            return [{"orderItemId": str(i["orderItemId"]), "quantity": int(i["quantity"])} for i in known]
        # Nothing stored: ask Amazon (items without PII need no RDT).
        path = f"{ORDERS}/{quote(update.external_id, safe='')}/orderItems"
        items: list[dict[str, Any]] = []
        params: dict[str, Any] | None = None
        while True:
            payload = read_json(self._call("getOrderItems", "GET", path, params=params).content, "getOrderItems")
            payload = payload.get("payload") or {}
            for item in payload.get("OrderItems") or []:
                quantity = int(item.get("QuantityOrdered") or 0) - int(item.get("QuantityShipped") or 0)
                if quantity > 0:
                    items.append({"orderItemId": str(item["OrderItemId"]), "quantity": quantity})
            if not payload.get("NextToken"):
                return items
            params = {"NextToken": payload["NextToken"]}


# -- helpers --------------------------------------------------------------------------------------


def _parse_time(value: Any, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadPayload(f"{where}: '{value}' is not an ISO-8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _amount(item: Mapping[str, Any], name: str, where: str) -> Decimal:
    value = item.get(name)
    return money(value.get("Amount") if isinstance(value, dict) else None, f"{where} {name}")


def _parse_item(order_id: str, item: Mapping[str, Any]) -> tuple[ChannelLine | None, Decimal]:
    """A line and the shipping (and COD fee) it carries. ItemPrice is the line total (unit price ×
    quantity), GST-inclusive on Amazon.in; the unit price is rounded up to the paisa and the
    difference added to the discount, so the line still adds up to what Amazon charged."""
    if not isinstance(item, dict):
        raise BadPayload(f"Amazon order {order_id}: an order item is not an object")
    where = f"order {order_id} item {item.get('OrderItemId')}"
    charge = (
        _amount(item, "ShippingPrice", where)
        - _amount(item, "ShippingDiscount", where)
        + _amount(item, "CODFee", where)
        - _amount(item, "CODFeeDiscount", where)
    )
    try:
        quantity = int(item.get("QuantityOrdered") or 0)
    except (TypeError, ValueError):
        raise BadPayload(f"{where}: QuantityOrdered '{item.get('QuantityOrdered')}' is not a number") from None
    if quantity <= 0:  # a line cancelled before release carries nothing to ship
        return None, charge
    if not item.get("OrderItemId"):
        raise BadPayload(f"Amazon order {order_id}: an order item has no OrderItemId")
    total = _amount(item, "ItemPrice", where)
    unit = (total / quantity).quantize(Decimal("0.01"), rounding=ROUND_UP)
    discount = _amount(item, "PromotionDiscount", where) + (unit * quantity - total)
    sku = item.get("SellerSKU")
    listing_id = sku or item.get("ASIN")
    if not listing_id:
        raise BadPayload(f"{where}: neither SellerSKU nor ASIN")
    line = ChannelLine(
        listing_id=str(listing_id),
        seller_sku=str(sku) if sku else None,
        quantity=quantity,
        unit_price=unit,
        discount=discount,
        title=item.get("Title"),
        line_id=str(item["OrderItemId"]),
    )
    return line, charge


def _address(address: Mapping[str, Any]) -> dict[str, Any]:
    region = address.get("StateOrRegion")
    state = find_state(region) if region else None
    extra_lines = [str(address[k]) for k in ("AddressLine2", "AddressLine3") if address.get(k)]
    pincode = str(address.get("PostalCode") or "").replace(" ", "") or None
    return {
        "name": address.get("Name"),
        "line1": address.get("AddressLine1"),
        "line2": ", ".join(extra_lines) or None,
        "city": address.get("City"),
        "state": state.iso if state else region,
        "pincode": pincode,
        "phone": address.get("Phone"),
    }


def _product_type(listing: Listing) -> str:
    return str(listing.attributes.get("product_type") or "PRODUCT")
