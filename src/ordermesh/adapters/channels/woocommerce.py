"""WooCommerce (REST API v3) as a channel: orders by polling ``/wc/v3/orders`` and by webhooks,
stock by the products and variations batch endpoints, order status by ``PUT /orders/{id}``.

Credentials: ``consumer_key`` and ``consumer_secret`` (a REST API key with read/write access), and
``webhook_secret`` (the secret typed into the store's webhook). The base URL is the store's root;
the API lives under ``/wp-json/wc/v3/``. See docs/channels/woocommerce.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ordermesh.adapters.channels.base import (
    BadPayload,
    BadSignature,
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
from ordermesh.domain.statuses import OrderStatus, PaymentStatus

API = "/wp-json/wc/v3"
TRACKING_API = "/wp-json/wc-shipment-tracking/v3"
BATCH_LIMIT = 100  # WooCommerce's default woocommerce_rest_batch_items_limit
PAGE_SIZE = 100  # the REST API's maximum per_page
DEFAULT_LOOKBACK = timedelta(days=7)
DEFAULT_OVERLAP = timedelta(minutes=5)
CENT = Decimal("0.01")

_S = OrderStatus
# Every status word WooCommerce documents for orders (REST docs plus the OrderStatus enum in code).
STATUS_MAP: dict[str, OrderStatus] = {
    "pending": _S.PENDING,  # awaiting payment
    "processing": _S.CONFIRMED,  # paid, or COD accepted: to be fulfilled
    "on-hold": _S.ON_HOLD,  # awaiting payment confirmation (bank transfer, cheque) or held by the seller
    "completed": _S.SHIPPED,  # fulfilled; WooCommerce has no shipped/delivered distinction
    "cancelled": _S.CANCELLED,
    "refunded": _S.CANCELLED,  # fully refunded; returns are tracked in ordermesh, not by this word
    "failed": _S.PENDING,  # payment failed; the buyer may still pay, so not final
    "trash": _S.CANCELLED,
    "checkout-draft": _S.PENDING,  # block checkout in progress
    "draft": _S.PENDING,
    "auto-draft": _S.PENDING,
}
NOT_READY = frozenset({"pending", "failed", "checkout-draft", "draft", "auto-draft"})

T = TypeVar("T")
_PING = re.compile(rb"\Awebhook_id=\d+\s*\Z")


@register("woocommerce")
class WooCommerceConnector:
    type: ClassVar[str] = "woocommerce"
    STATUS_MAP: ClassVar[Mapping[str, OrderStatus]] = STATUS_MAP

    def __init__(self, config: ConnectorConfig, http: Http):
        self.config = config
        self.http = http
        self.settings = config.settings
        url = urlsplit(config.base_url)
        if url.scheme != "https" and url.hostname not in ("127.0.0.1", "localhost", "::1"):
            # Without TLS WooCommerce ignores Basic auth and wants OAuth 1.0a signatures; never send
            # the consumer secret in the clear.
            raise ChannelError(f"WooCommerce base URL must be https (got '{config.base_url}')")
        self.status_map: dict[str, OrderStatus] = dict(STATUS_MAP)
        for word, ours in (self.settings.get("extra_statuses") or {}).items():
            self.status_map[str(word)] = OrderStatus(ours)

    # -- HTTP ------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json_body: Any = None) -> Any:
        key = self.config.credentials.get("consumer_key", "")
        secret = self.config.credentials.get("consumer_secret", "")
        query = dict(params or {})
        headers: dict[str, str] = {"Accept": "application/json"}
        if self.settings.get("query_string_auth"):
            query.update(consumer_key=key, consumer_secret=secret)
        else:
            token = base64.b64encode(f"{key}:{secret}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        return self.http.request(method, path, params=query or None, json_body=json_body, headers=headers)

    # -- orders: polling -------------------------------------------------------------------------

    def fetch_page(self, cursor: str | None) -> RawPage:
        state = self._cursor(cursor)
        since = _parse_time(state["since"], "cursor.since")
        page = int(state.get("page") or 1)
        per_page = int(self.settings.get("page_size") or PAGE_SIZE)
        response = self._call(
            "GET",
            f"{API}/orders",
            params={
                "modified_after": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "dates_are_gmt": "true",
                "orderby": self.settings.get("orderby") or "modified",
                "order": "asc",
                "per_page": per_page,
                "page": page,
            },
        )
        body = response.content
        orders = read_json(body, "WooCommerce orders page")
        if not isinstance(orders, list):
            raise BadPayload("WooCommerce orders page is not a JSON list")
        newest = _parse_time(state["newest"], "cursor.newest") if state.get("newest") else None
        for order in orders:
            stamp = _gmt(order, "date_modified") if isinstance(order, dict) else None
            if stamp is not None and (newest is None or stamp > newest):
                newest = stamp
        total_pages = _int_header(response.headers, "X-WP-TotalPages")
        # Without the header (a proxy dropped it) a full page means there may be more.
        more = len(orders) >= per_page if total_pages is None else page < total_pages
        if more:
            following = {"since": _iso(since), "page": page + 1, "newest": _iso(newest) if newest else None}
        else:
            watermark = since
            if newest is not None:
                overlap = timedelta(seconds=float(self.settings.get("overlap_seconds", DEFAULT_OVERLAP.seconds)))
                watermark = max(since, newest - overlap)
            following = {"since": _iso(watermark), "page": 1, "newest": None}
        return RawPage(body=body, next_cursor=json.dumps(following), more=more)

    def _cursor(self, cursor: str | None) -> dict[str, Any]:
        if cursor:
            try:
                state = json.loads(cursor)
            except ValueError:
                raise BadPayload(f"WooCommerce cursor is not JSON: {cursor[:80]}") from None
            if not isinstance(state, dict) or "since" not in state:
                raise BadPayload(f"WooCommerce cursor has no 'since': {cursor[:80]}")
            return state
        configured = self.settings.get("since")
        since = _parse_time(configured, "settings.since") if configured else datetime.now(UTC) - DEFAULT_LOOKBACK
        return {"since": _iso(since), "page": 1, "newest": None}

    def parse_page(self, body: bytes) -> list[ChannelOrder]:
        orders = read_json(body, "WooCommerce orders page")
        if not isinstance(orders, list):
            raise BadPayload("WooCommerce orders page is not a JSON list")
        return [self.parse_order(order) for order in orders]

    # -- orders: webhooks ------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        signature = header(headers, "X-WC-Webhook-Signature")
        if signature is None and _PING.match(body):
            # WooCommerce's ping on saving a webhook is unsigned; it carries no order, so accepting
            # it cannot let anything in.
            return
        secret = self.config.credentials.get("webhook_secret")
        if not secret:
            raise BadSignature("no webhook_secret configured for this WooCommerce channel")
        if not signature:
            raise BadSignature("X-WC-Webhook-Signature header missing")
        expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
        if not hmac.compare_digest(expected, signature.strip().encode()):
            raise BadSignature("X-WC-Webhook-Signature does not match the body")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        topic = header(headers, "X-WC-Webhook-Topic") or ""
        delivery_id = header(headers, "X-WC-Webhook-Delivery-ID")
        if _PING.match(body):
            return WebhookEvent(topic=topic or "ping", delivery_id=delivery_id, orders=[])
        document = read_json(body, "WooCommerce webhook body")
        if not topic.startswith("order.") or not isinstance(document, dict):
            return WebhookEvent(topic=topic, delivery_id=delivery_id, orders=[])
        if "status" not in document and "line_items" not in document:
            # order.deleted may carry only {"id": n}: nothing to import.
            return WebhookEvent(topic=topic, delivery_id=delivery_id, orders=[])
        return WebhookEvent(topic=topic, delivery_id=delivery_id, orders=[self.parse_order(document)])

    # -- the order itself ------------------------------------------------------------------------

    def parse_order(self, order: Any) -> ChannelOrder:
        if not isinstance(order, dict) or order.get("id") in (None, ""):
            raise BadPayload("WooCommerce order without an id")
        oid = str(order["id"])
        where = f"WooCommerce order {oid}"
        word = str(order.get("status") or "")
        word = word.removeprefix("wc-")
        status = self.status_map.get(word)
        if status is None:
            raise BadPayload(f"{where}: unknown status '{word}'")
        cod = str(order.get("payment_method") or "").lower() == "cod"
        billing = order.get("billing") or {}
        shipping = order.get("shipping") or {}
        if not any(shipping.get(k) for k in ("address_1", "city", "postcode")):
            shipping = billing  # stores without shipping (or virtual orders) fill billing only

        lines = [self._line(item, where) for item in order.get("line_items") or []]
        shipping_charge = money(order.get("shipping_total"), f"{where}.shipping_total") + money(
            order.get("shipping_tax"), f"{where}.shipping_tax"
        )
        fees = sum(
            (
                money(fee.get("total"), f"{where}.fee_lines.total")
                + money(fee.get("total_tax"), f"{where}.fee_lines.total_tax")
                for fee in order.get("fee_lines") or []
            ),
            Decimal(0),
        )
        if fees >= 0:
            shipping_charge += fees  # COD charges and other surcharges travel with shipping
        else:
            lines = _spread_discount(lines, -fees)

        placed_at = _gmt(order, "date_created") or self._local(order.get("date_created"), where)
        updated_at = _gmt(order, "date_modified")
        return ChannelOrder(
            external_id=oid,
            channel_status=word,
            status=status,
            placed_at=placed_at,
            customer={
                "name": _name(billing) or _name(shipping),
                "phone": billing.get("phone") or shipping.get("phone") or None,
                "email": billing.get("email") or None,
            },
            shipping_address=_address(shipping, billing),
            billing_address=_address(billing, billing) if billing.get("address_1") else None,
            payment_method="cod" if cod else "prepaid",
            payment_status=_payment_status(order, word, cod),
            lines=lines,
            shipping_charge=shipping_charge,
            currency=str(order.get("currency") or "INR"),
            notes=(order.get("customer_note") or None),
            ready=word not in NOT_READY,
            updated_at=updated_at,
            extra={
                "order_id": order["id"],
                "number": str(order.get("number") or oid),
                "status": word,
                "payment_method": order.get("payment_method"),
                "payment_method_title": order.get("payment_method_title"),
                "total": str(money(order.get("total"), f"{where}.total")),
            },
        )

    def _line(self, item: Mapping[str, Any], where: str) -> ChannelLine:
        lid = item.get("id")
        at = f"{where} line {lid}"
        quantity = int(item.get("quantity") or 0)
        if quantity <= 0:
            raise BadPayload(f"{at}: quantity {item.get('quantity')!r}")
        gross = money(item.get("subtotal"), f"{at}.subtotal") + money(item.get("subtotal_tax"), f"{at}.subtotal_tax")
        net = money(item.get("total"), f"{at}.total") + money(item.get("total_tax"), f"{at}.total_tax")
        # Rounded up to the paisa so the discount absorbs the remainder and never goes negative;
        # unit_price * quantity - discount is always exactly what the line cost.
        unit = (gross / quantity).quantize(CENT, rounding=ROUND_CEILING)
        variation = int(item.get("variation_id") or 0)
        return ChannelLine(
            listing_id=str(variation or item.get("product_id")),
            seller_sku=(item.get("sku") or None),
            quantity=quantity,
            unit_price=unit,
            discount=unit * quantity - net,
            title=item.get("name"),
            line_id=str(lid) if lid is not None else None,
        )

    def _local(self, value: Any, where: str) -> datetime:
        # Only the store-local time came (no *_gmt twin): read it in the store's time zone.
        if not value:
            raise BadPayload(f"{where}: no date_created")
        name = str(self.settings.get("timezone") or "Asia/Kolkata")
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadPayload(f"{where}: unknown time zone setting '{name}'") from None
        stamp = _parse_time(str(value), f"{where}.date_created")
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=zone)

    # -- inventory -------------------------------------------------------------------------------

    def push_inventory(self, levels: list[ListingQuantity]) -> list[PushOutcome]:
        outcomes: dict[int, PushOutcome] = {}
        groups: dict[str | None, list[tuple[int, ListingQuantity]]] = {}
        for index, level in enumerate(levels):
            if not level.listing.listing_id.isdigit():
                outcomes[index] = PushOutcome(level.listing.listing_id, False, "not a WooCommerce product id")
                continue
            parent = level.listing.attributes.get("parent_id")
            groups.setdefault(str(parent) if parent else None, []).append((index, level))
        for parent, members in groups.items():
            path = f"{API}/products/{parent}/variations/batch" if parent else f"{API}/products/batch"
            for chunk in _chunks(members, BATCH_LIMIT):
                outcomes.update(self._push_batch(path, chunk))
        return [outcomes[i] for i in range(len(levels))]

    def _push_batch(self, path: str, chunk: list[tuple[int, ListingQuantity]]) -> dict[int, PushOutcome]:
        body = {
            "update": [
                {"id": int(level.listing.listing_id), "manage_stock": True, "stock_quantity": max(0, level.quantity)}
                for _, level in chunk
            ]
        }
        try:
            response = self._call("POST", path, json_body=body)
        except (ChannelRejected, ChannelUnavailable) as e:
            return {i: PushOutcome(level.listing.listing_id, False, str(e), e.retryable) for i, level in chunk}
        answer = read_json(response.content, f"WooCommerce {path} response")
        by_id: dict[str, Mapping[str, Any]] = {}
        for item in (answer.get("update") if isinstance(answer, dict) else None) or []:
            if isinstance(item, dict) and item.get("id") is not None:
                by_id[str(item["id"])] = item
        result: dict[int, PushOutcome] = {}
        for i, level in chunk:
            key = level.listing.listing_id
            item = by_id.get(key)
            if item is None:
                result[i] = PushOutcome(key, False, "missing from the batch response", retryable=True)
            elif item.get("error"):
                error = item["error"]
                status = (error.get("data") or {}).get("status") if isinstance(error, dict) else None
                detail = f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict) else str(error)
                result[i] = PushOutcome(key, False, detail, retryable=isinstance(status, int) and status >= 500)
            else:
                result[i] = PushOutcome(key, True, f"stock_quantity={item.get('stock_quantity')}")
        return result

    def read_inventory(self, listings: list[Listing]) -> dict[str, int]:
        groups: dict[str | None, list[str]] = {}
        for listing in listings:
            if listing.listing_id.isdigit():
                parent = listing.attributes.get("parent_id")
                groups.setdefault(str(parent) if parent else None, []).append(listing.listing_id)
        levels: dict[str, int] = {}
        for parent, ids in groups.items():
            path = f"{API}/products/{parent}/variations" if parent else f"{API}/products"
            for chunk in _chunks(ids, PAGE_SIZE):
                response = self._call("GET", path, params={"include": ",".join(chunk), "per_page": PAGE_SIZE})
                items = read_json(response.content, f"WooCommerce {path} response")
                for item in items if isinstance(items, list) else []:
                    # stock_quantity is null where the store does not manage stock: nothing to compare
                    if isinstance(item, dict) and item.get("stock_quantity") is not None:
                        levels[str(item.get("id"))] = int(item["stock_quantity"])
        return levels

    # -- status ----------------------------------------------------------------------------------

    def push_status(self, update: StatusUpdate) -> PushOutcome:
        key = update.external_id
        order = f"{API}/orders/{key}"
        try:
            if update.status == OrderStatus.SHIPPED:
                done = self._add_tracking(update)
                self._call("PUT", order, json_body={"status": "completed"})
                return PushOutcome(key, True, f"completed; {done}")
            if update.status == OrderStatus.DELIVERED:
                self._call("PUT", order, json_body={"status": "completed"})
                return PushOutcome(key, True, "completed (WooCommerce has no delivered status)")
            if update.status == OrderStatus.CANCELLED:
                self._call("PUT", order, json_body={"status": "cancelled"})
                if update.reason:
                    self._call("POST", f"{order}/notes", json_body={"note": f"Cancelled: {update.reason}"})
                return PushOutcome(key, True, "cancelled")
            if update.status == OrderStatus.CONFIRMED:
                was = update.extra.get("status")
                if was in (None, "on-hold"):
                    current = read_json(self._call("GET", order).content, f"WooCommerce order {key}")
                    was = current.get("status") if isinstance(current, dict) else None
                if was != "on-hold":
                    return PushOutcome(key, True, f"nothing to do: the order is '{was}', not on-hold")
                self._call("PUT", order, json_body={"status": "processing"})
                return PushOutcome(key, True, "processing (released from on-hold)")
        except (ChannelRejected, ChannelUnavailable) as e:
            return PushOutcome(key, False, str(e), e.retryable)
        return PushOutcome(key, False, f"WooCommerce takes no '{update.status.value}' status from ordermesh")

    def _add_tracking(self, update: StatusUpdate) -> str:
        if not update.tracking_number:
            return "no tracking number"
        order = f"{API}/orders/{update.external_id}"
        carrier = update.carrier or "Courier"
        if self.settings.get("shipment_tracking"):
            body: dict[str, Any] = {"tracking_number": update.tracking_number}
            if update.tracking_url:
                body.update(custom_tracking_provider=carrier, custom_tracking_link=update.tracking_url)
            else:
                body["tracking_provider"] = carrier
            self._call("POST", f"{TRACKING_API}/orders/{update.external_id}/shipment-trackings", json_body=body)
            return f"tracking {carrier} {update.tracking_number} added"
        note = f"Shipped by {carrier}, AWB {update.tracking_number}."
        if update.tracking_url:
            note += f" Track it at {update.tracking_url}"
        self._call("POST", f"{order}/notes", json_body={"note": note, "customer_note": True})
        return f"note with {carrier} {update.tracking_number} added"


# -- helpers ---------------------------------------------------------------------------------------


def _parse_time(value: Any, where: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadPayload(f"{where}: '{value}' is not an ISO time") from None
    return stamp


def _gmt(order: Mapping[str, Any], field: str) -> datetime | None:
    value = order.get(f"{field}_gmt")
    if not value:
        return None
    stamp = _parse_time(value, f"WooCommerce order {order.get('id')}.{field}_gmt")
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _iso(stamp: datetime) -> str:
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = header(headers, name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _name(part: Mapping[str, Any]) -> str | None:
    name = " ".join(str(part.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    return name or None


def _address(part: Mapping[str, Any], billing: Mapping[str, Any]) -> dict[str, Any]:
    line1 = str(part.get("address_1") or "").strip()
    company = str(part.get("company") or "").strip()
    if company:
        line1 = f"{company}, {line1}" if line1 else company
    postcode = re.sub(r"\s", "", str(part.get("postcode") or ""))
    return {
        "name": _name(part) or _name(billing),
        "line1": line1 or None,
        "line2": str(part.get("address_2") or "").strip() or None,
        "city": str(part.get("city") or "").strip() or None,
        "state": str(part.get("state") or "").strip() or None,
        "pincode": postcode or None,
        "phone": part.get("phone") or billing.get("phone") or None,
    }


def _payment_status(order: Mapping[str, Any], word: str, cod: bool) -> str:
    paid = bool(order.get("date_paid_gmt") or order.get("date_paid"))
    refunded = bool(order.get("refunds"))
    if word == "refunded":
        return PaymentStatus.REFUNDED
    if cod:
        # WooCommerce marks a COD order paid only when it is completed (cash collected).
        return PaymentStatus.COD_COLLECTED if paid else PaymentStatus.COD_PENDING
    if word == "failed":
        return PaymentStatus.FAILED
    if refunded:
        return PaymentStatus.PARTIALLY_REFUNDED
    if paid or word in ("processing", "completed"):
        return PaymentStatus.PAID
    return PaymentStatus.PENDING


def _spread_discount(lines: list[ChannelLine], amount: Decimal) -> list[ChannelLine]:
    # A negative fee line is a discount on the order: take it off the lines, first line first.
    result = []
    for line in lines:
        take = min(line.unit_price * line.quantity - line.discount, amount)
        amount -= take
        result.append(replace(line, discount=line.discount + take))
    if amount > 0:
        raise BadPayload(f"negative fees exceed the order's lines by {amount}")
    return result


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
