"""Flipkart Marketplace Seller API v3: shipments in, stock and shipment actions out.

Flipkart sells through *shipments* holding *order items*; one buyer order (``OD…``) may be split
into several shipments. ordermesh's order is the buyer order: ``external_id`` is Flipkart's
``orderId`` and every page fetches all shipments of the orders it saw (``GET /v3/shipments?orderIds=``),
so an order always arrives whole. Lines are order items (``line_id`` = ``orderItemId``), keyed by
Flipkart's listing id. Stock goes out keyed by the seller SKU, as Flipkart's listings API wants.

Auth is OAuth2 client credentials (app id and secret, HTTP Basic) for a bearer token, cached until
shortly before it expires and fetched again once when Flipkart answers 401.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_UP, Decimal
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from ordermesh.adapters.channels.base import (
    BadPayload,
    BadSignature,
    ChannelAuthFailed,
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
from ordermesh.domain.india import find_state
from ordermesh.domain.statuses import OrderStatus

IST = timezone(timedelta(hours=5, minutes=30), "IST")
PAISE = Decimal("0.01")

TOKEN_PATH = "/oauth-service/oauth/token"
FILTER_PATH = "/sellers/v3/shipments/filter"
SHIPMENTS_PATH = "/sellers/v3/shipments"
LABELS_PATH = "/sellers/v3/shipments/labels"
DISPATCH_PATH = "/sellers/v3/shipments/dispatch"
SELF_DISPATCH_PATH = "/sellers/v3/shipments/selfShip/dispatch"
SELF_DELIVERY_PATH = "/sellers/v3/shipments/selfShip/delivery"
CANCEL_PATH = "/sellers/v3/shipments/cancel"
INVENTORY_PATH = "/sellers/listings/v3/update/inventory"
LISTINGS_PATH = "/sellers/listings/v3/"

WEBHOOK_TOKEN_HEADER = "X-Ordermesh-Webhook-Token"

PRE_DISPATCH_STATES = ("APPROVED", "PACKING_IN_PROGRESS", "PACKED", "FORM_FAILED", "READY_TO_DISPATCH")
POST_DISPATCH_STATES = ("PICKUP_COMPLETE", "SHIPPED", "DELIVERED")
CANCELLATION_TYPES = ("sellerCancellation", "buyerCancellation", "marketplaceCancellation")

# One poll walks these searches in order, each over the same time window.
SWEEPS: tuple[dict[str, Any], ...] = (
    {"type": "preDispatch", "states": list(PRE_DISPATCH_STATES), "hold": False, "_date": "modifiedDate"},
    {"type": "preDispatch", "states": list(PRE_DISPATCH_STATES), "hold": True, "_date": "modifiedDate"},
    {"type": "postDispatch", "states": list(POST_DISPATCH_STATES), "_date": "modifiedDate"},
    *({"type": "cancelled", "cancellationType": kind, "_date": "cancellationDate"} for kind in CANCELLATION_TYPES),
)

_O = OrderStatus
STATUS_MAP: dict[str, OrderStatus] = {
    "APPROVED": _O.CONFIRMED,  # Flipkart accepted it; waiting for the seller to pack
    "PACKING_IN_PROGRESS": _O.IN_FULFILMENT,
    "FORM_FAILED": _O.IN_FULFILMENT,  # label/form generation failed; the seller must fix and pack again
    "PACKED": _O.IN_FULFILMENT,
    "READY_TO_DISPATCH": _O.IN_FULFILMENT,
    "PICKUP_COMPLETE": _O.SHIPPED,
    "SHIPPED": _O.SHIPPED,
    "DELIVERED": _O.DELIVERED,
    "CANCELLED": _O.CANCELLED,
    "RETURN_REQUESTED": _O.DELIVERED,  # still with the buyer until it comes back
    "RETURNED": _O.RETURNED,  # RTO instead when the item's courierReturn is true
    "COMPLETED": _O.CLOSED,
}

# What an event says when its order items carry no status of their own.
EVENT_STATUS = {
    "shipment_created": "APPROVED",
    "shipment_packed": "PACKED",
    "shipment_ready_to_dispatch": "READY_TO_DISPATCH",
    "shipment_shipped": "SHIPPED",
    "shipment_delivered": "DELIVERED",
    "shipment_cancelled": "CANCELLED",
}

_PRE_SHIP = (_O.PENDING, _O.ON_HOLD, _O.CONFIRMED, _O.ALLOCATED, _O.IN_FULFILMENT)
_RANK = {s: i for i, s in enumerate((*_PRE_SHIP, _O.SHIPPED, _O.DELIVERED, _O.RTO, _O.RETURNED, _O.CLOSED))}


@register("flipkart")
class FlipkartConnector:
    type: ClassVar[str] = "flipkart"
    STATUS_MAP: ClassVar[Mapping[str, OrderStatus]] = STATUS_MAP

    page_size_max = 20
    details_batch = 20
    inventory_batch_max = 10
    token_margin = 300.0  # seconds before expiry at which a cached token is replaced

    def __init__(self, config: ConnectorConfig, http: Http) -> None:
        self.config = config
        self.http = http
        self.clock: Callable[[], float] = time.time
        self._token: str | None = None
        self._token_expires = 0.0

    # -- auth ------------------------------------------------------------------------------------

    def _access_token(self, *, fresh: bool = False) -> str:
        now = self.clock()
        if not fresh and self._token and now < self._token_expires:
            return self._token
        app_id = self.config.credentials.get("app_id")
        secret = self.config.credentials.get("app_secret")
        if not app_id or not secret:
            raise ChannelAuthFailed("flipkart: credentials app_id and app_secret are required")
        basic = base64.b64encode(f"{app_id}:{secret}".encode()).decode()
        response = self.http.request(
            "GET",
            TOKEN_PATH,
            params={"grant_type": "client_credentials", "scope": "Seller_Api"},
            headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
        )
        body = read_json(response.content, "flipkart token response")
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise ChannelAuthFailed("flipkart: the token response has no access_token", status=response.status_code)
        try:
            lifetime = float(body.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        self._token = str(token)
        self._token_expires = now + lifetime - min(self.token_margin, lifetime / 10)
        return self._token

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """An API call with the bearer token; one fresh token and retry when Flipkart says 401."""
        for attempt in (1, 2):
            token = self._access_token(fresh=attempt == 2)
            try:
                response = self.http.request(
                    method,
                    path,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    **kwargs,
                )
            except ChannelAuthFailed as e:
                if attempt == 2 or e.status != 401:
                    raise
                self._token = None
                continue
            if not response.content:
                return {}
            return read_json(response.content, f"flipkart {method} {path}")
        raise AssertionError("unreachable")

    # -- polling ---------------------------------------------------------------------------------

    def fetch_page(self, cursor: str | None) -> RawPage:
        state = self._cursor_state(cursor)
        start, end = state["from"], state["to"]
        sweep, next_url = int(state["sweep"]), state.get("next")
        while True:
            search_body = self._search_body(SWEEPS[sweep], start, end)
            if next_url:
                search = self._call("GET", _api_path(next_url))
            else:
                search = self._call("POST", FILTER_PATH, json_body=search_body)
            if not isinstance(search, dict):
                raise BadPayload("flipkart shipment search: expected a JSON object")
            found = [s for s in search.get("shipments") or [] if isinstance(s, dict)]
            more_here = bool(search.get("hasMore")) and bool(search.get("nextPageUrl"))
            if more_here:
                following: dict[str, Any] = {**state, "sweep": sweep, "next": search["nextPageUrl"]}
            elif sweep + 1 < len(SWEEPS):
                following = {**state, "sweep": sweep + 1, "next": None}
            else:
                following = {"watermark": end}
            if found or "watermark" in following:
                break
            sweep, next_url = following["sweep"], following["next"]  # nothing found: carry on searching
        body = {
            "source": "flipkart",
            "filter": search_body["filter"],
            "search": search,
            "orderShipments": self._order_shipments(found) if found else {"shipments": []},
            "shipmentDetails": [],
        }
        ids = _unique(
            s.get("shipmentId") for s in [*body["orderShipments"].get("shipments", []), *found] if isinstance(s, dict)
        )
        for chunk in _chunks(ids, self.details_batch):
            body["shipmentDetails"].append(
                self._call("GET", SHIPMENTS_PATH + "/" + ",".join(quote(i, safe="") for i in chunk))
            )
        return RawPage(
            body=json.dumps(body).encode(),
            next_cursor=json.dumps(following, sort_keys=True),
            more="watermark" not in following,
        )

    def _cursor_state(self, cursor: str | None) -> dict[str, Any]:
        now = datetime.fromtimestamp(self.clock(), UTC)
        if cursor is None:
            since = self.config.settings.get("since")
            start = _parse_time(since, "settings.since") if since else now - timedelta(days=7)
            return {"from": _fk_time(start), "to": _fk_time(now), "sweep": 0, "next": None}
        try:
            state = json.loads(cursor)
        except ValueError:
            raise BadPayload(f"flipkart cursor is not JSON: {cursor[:80]}") from None
        if not isinstance(state, dict):
            raise BadPayload("flipkart cursor is not a JSON object")
        if "watermark" in state:
            overlap = timedelta(minutes=float(self.config.settings.get("overlap_minutes", 5)))
            start = _parse_time(state["watermark"], "cursor watermark") - overlap
            return {"from": _fk_time(start), "to": _fk_time(now), "sweep": 0, "next": None}
        if not {"from", "to", "sweep"} <= state.keys() or not 0 <= int(state["sweep"]) < len(SWEEPS):
            raise BadPayload(f"flipkart cursor is not one of ours: {cursor[:80]}")
        return state

    def _search_body(self, sweep: Mapping[str, Any], start: str, end: str) -> dict[str, Any]:
        filt = {k: v for k, v in sweep.items() if not k.startswith("_")}
        filt[sweep["_date"]] = {"from": start, "to": end}
        location = self.config.settings.get("location_id")
        if location:
            filt["locationId"] = location
        size = min(int(self.config.settings.get("page_size", self.page_size_max)), self.page_size_max)
        return {"filter": filt, "pagination": {"pageSize": size}}

    def _order_shipments(self, found: list[dict[str, Any]]) -> dict[str, Any]:
        """Every shipment of the orders a search returned, so that each order arrives whole."""
        order_ids = _unique(i.get("orderId") for s in found for i in s.get("orderItems") or [] if isinstance(i, dict))
        shipments: list[Any] = []
        for chunk in _chunks(order_ids, self.details_batch):
            answer = self._call("GET", SHIPMENTS_PATH, params={"orderIds": ",".join(chunk)})
            if isinstance(answer, dict):
                shipments.extend(answer.get("shipments") or [])
        return {"shipments": shipments}

    def parse_page(self, body: bytes) -> list[ChannelOrder]:
        doc = read_json(body, "flipkart page")
        if not isinstance(doc, dict) or "search" not in doc:
            raise BadPayload("flipkart page: not a page this connector stored")
        shipments: dict[str, dict[str, Any]] = {}
        search = doc.get("search") or {}
        order_shipments = doc.get("orderShipments") or {}
        for source in (search.get("shipments") or [], order_shipments.get("shipments") or []):
            for s in source:
                if isinstance(s, dict) and s.get("shipmentId"):
                    shipments[str(s["shipmentId"])] = s  # the per-order lookup wins: it is the later read
        details: dict[str, dict[str, Any]] = {}
        for answer in doc.get("shipmentDetails") or []:
            for d in (answer or {}).get("shipments") or []:
                if isinstance(d, dict) and d.get("shipmentId"):
                    details[str(d["shipmentId"])] = d
        return _orders_from(list(shipments.values()), details, partial=False)

    # -- webhooks --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        expected = self.config.credentials.get("webhook_token")
        if not expected:
            raise BadSignature("flipkart: no webhook_token is configured for this channel")
        given = header(headers, WEBHOOK_TOKEN_HEADER)
        if not given:
            raise BadSignature(f"flipkart: header {WEBHOOK_TOKEN_HEADER} is missing")
        if not hmac.compare_digest(given.strip().encode(), expected.encode()):
            raise BadSignature(f"flipkart: header {WEBHOOK_TOKEN_HEADER} does not match the channel's token")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        doc = read_json(body, "flipkart notification")
        if not isinstance(doc, dict) or not doc.get("eventType"):
            raise BadPayload("flipkart notification: no eventType")
        topic = str(doc["eventType"])
        attributes = doc.get("attributes") if isinstance(doc.get("attributes"), dict) else {}
        shipment = {**attributes, "shipmentId": doc.get("shipmentId") or attributes.get("shipmentId")}
        shipment.setdefault("locationId", doc.get("locationId"))
        implied = attributes.get("status") or EVENT_STATUS.get(topic)
        items = []
        for item in attributes.get("orderItems") or []:
            if isinstance(item, dict) and item.get("orderId"):
                items.append(item if item.get("status") or not implied else {**item, "status": implied})
        orders: list[ChannelOrder] = []
        if items and all(i.get("status") for i in items):
            shipment["orderItems"] = items
            shipment.setdefault("updatedAt", doc.get("timestamp"))
            orders = _orders_from([shipment], {}, partial=True)
        parts = [topic, doc.get("shipmentId"), doc.get("timestamp")]
        delivery = ":".join(str(p) for p in parts) if all(parts) else None
        return WebhookEvent(topic=topic, delivery_id=delivery, orders=orders)

    # -- inventory -------------------------------------------------------------------------------

    def push_inventory(self, levels: list[ListingQuantity]) -> list[PushOutcome]:
        outcomes: dict[int, PushOutcome] = {}
        batch: dict[str, dict[str, Any]] = {}
        members: dict[str, list[int]] = {}
        pending: list[tuple[dict[str, dict[str, Any]], dict[str, list[int]]]] = []
        size = max(1, min(int(self.config.settings.get("inventory_batch_size", 10)), self.inventory_batch_max))
        for index, level in enumerate(levels):
            listing = level.listing
            sku = listing.seller_sku
            fsn = listing.attributes.get("product_id") or listing.attributes.get("fsn")
            location = listing.attributes.get("location_id") or self.config.settings.get("location_id")
            missing = [
                n for n, v in (("seller SKU", sku), ("product_id (FSN)", fsn), ("location_id", location)) if not v
            ]
            if missing:
                outcomes[index] = PushOutcome(listing.listing_id, False, f"listing has no {', '.join(missing)}")
                continue
            assert sku is not None
            if sku not in batch and len(batch) >= size:
                pending.append((batch, members))
                batch, members = {}, {}
            entry = batch.setdefault(sku, {"product_id": str(fsn), "locations": []})
            entry["locations"] = [loc for loc in entry["locations"] if loc["id"] != location]
            entry["locations"].append({"id": str(location), "inventory": max(0, int(level.quantity))})
            members.setdefault(sku, []).append(index)
        if batch:
            pending.append((batch, members))
        for body, who in pending:
            for sku, result in self._send_inventory(body).items():
                for index in who[sku]:
                    outcomes[index] = PushOutcome(levels[index].listing.listing_id, *result)
        return [outcomes[i] for i in range(len(levels))]

    def _send_inventory(self, body: dict[str, dict[str, Any]]) -> dict[str, tuple[bool, str, bool]]:
        try:
            answer = self._call("POST", INVENTORY_PATH, json_body=body)
        except ChannelAuthFailed:
            raise
        except (ChannelRejected, ChannelUnavailable) as e:
            return {sku: (False, str(e), e.retryable) for sku in body}
        results: dict[str, tuple[bool, str, bool]] = {}
        for sku in body:
            status = answer.get(sku) if isinstance(answer, dict) else None
            if not isinstance(status, dict):
                results[sku] = (False, f"Flipkart's answer has no status for SKU {sku}", True)
                continue
            word = str(status.get("status") or "").upper()
            words = _error_words(status)
            if word == "SUCCESS":
                results[sku] = (True, "SUCCESS", False)
            elif word == "WARNING":
                results[sku] = (True, f"WARNING: {words}" if words else "WARNING", False)
            else:
                results[sku] = (False, f"{word or 'UNKNOWN'}: {words}" if words else word or "UNKNOWN", False)
        return results

    def read_inventory(self, listings: list[Listing]) -> dict[str, int]:
        by_sku: dict[str, list[Listing]] = {}
        for listing in listings:
            if listing.seller_sku:
                by_sku.setdefault(listing.seller_sku, []).append(listing)
        found: dict[str, int] = {}
        for chunk in _chunks(list(by_sku), self.inventory_batch_max):
            answer = self._call("GET", LISTINGS_PATH + ",".join(quote(s, safe="") for s in chunk))
            available = answer.get("available") if isinstance(answer, dict) else None
            for sku in chunk:
                detail = (available or {}).get(sku)
                if not isinstance(detail, dict):
                    continue  # unavailable or invalid at Flipkart: not reported
                locations = [loc for loc in detail.get("locations") or [] if isinstance(loc, dict)]
                for listing in by_sku[sku]:
                    where = listing.attributes.get("location_id") or self.config.settings.get("location_id")
                    counted = [loc for loc in locations if not where or loc.get("id") == where]
                    found[listing.listing_id] = sum(int(loc.get("inventory") or 0) for loc in counted)
        return found

    # -- order status ----------------------------------------------------------------------------

    def push_status(self, update: StatusUpdate) -> PushOutcome:
        key = update.external_id
        try:
            return self._push_status(update)
        except ChannelAuthFailed:
            raise
        except (ChannelRejected, ChannelUnavailable) as e:
            return PushOutcome(key, False, str(e), retryable=e.retryable)

    def _push_status(self, update: StatusUpdate) -> PushOutcome:
        key = update.external_id
        if update.status not in (_O.CONFIRMED, _O.SHIPPED, _O.CANCELLED, _O.DELIVERED):
            return PushOutcome(key, True, f"Flipkart is not told about {update.status.value}")
        answer = self._call("GET", SHIPMENTS_PATH, params={"orderIds": key})
        shipments = _concerned(answer.get("shipments") if isinstance(answer, dict) else None, key, update.lines)
        if not shipments:
            return PushOutcome(key, False, f"Flipkart has no shipment of order {key} with those lines")
        held = [s["shipmentId"] for s in shipments if s.get("hold")]
        if held and update.status is not _O.CANCELLED:
            return PushOutcome(key, False, f"on hold at Flipkart: {', '.join(held)}", retryable=True)
        if update.status is _O.CANCELLED:
            return self._cancel(update, shipments)
        done: list[str] = []
        to_pack = [s for s in shipments if _state(s) == "APPROVED"]
        if to_pack:
            problem = self._pack(update, to_pack)
            if problem:
                return PushOutcome(key, False, problem)
            done.append("labels generated for " + ", ".join(s["shipmentId"] for s in to_pack))
            for s in to_pack:
                s["_state"] = "PACKED"
        if update.status is _O.CONFIRMED:
            return PushOutcome(key, True, "; ".join(done) or "nothing to do: already packed")
        if update.status is _O.SHIPPED:
            return self._ship(update, shipments, done)
        return self._deliver(update, shipments)

    def _pack(self, update: StatusUpdate, shipments: list[dict[str, Any]]) -> str | None:
        rates = update.extra.get("tax_rates") or {}
        requests = []
        for s in shipments:
            tax_items = []
            for item in _items(s):
                rate = rates.get(str(item.get("orderItemId"))) or rates.get(str(item.get("sku")))
                if rate is None:
                    return f"a GST rate is needed to generate labels for {item.get('sku')} (extra['tax_rates'])"
                tax_items.append(
                    {
                        "orderItemId": item.get("orderItemId"),
                        "taxRate": float(Decimal(str(rate))),
                        "quantity": item.get("quantity"),
                    }
                )
            request: dict[str, Any] = {
                "shipmentId": s["shipmentId"],
                "locationId": s.get("locationId"),
                "taxItems": tax_items,
            }
            invoice = _invoice_of(update, s, self._today())
            if invoice and invoice.get("invoiceNumber"):
                request["invoices"] = [
                    {
                        "shipmentId": s["shipmentId"],
                        "invoiceNumber": invoice["invoiceNumber"],
                        "invoiceDate": invoice["invoiceDate"],
                    }
                ]
            sub = [
                {
                    "subShipmentId": sub.get("subShipmentId"),
                    "dimensions": (sub.get("packages") or [{}])[0].get("dimensions"),
                }
                for sub in s.get("subShipments") or []
                if isinstance(sub, dict) and (sub.get("packages") or [{}])[0].get("dimensions")
            ]
            if sub:
                request["subShipments"] = sub
            requests.append(request)
        answer = self._call("POST", LABELS_PATH, json_body={"shipments": requests})
        return _failures(answer, "label generation")

    def _today(self) -> str:
        return datetime.fromtimestamp(self.clock(), IST).date().isoformat()

    def _ship(self, update: StatusUpdate, shipments: list[dict[str, Any]], done: list[str]) -> PushOutcome:
        key = update.external_id
        packing = [s["shipmentId"] for s in shipments if _state(s) == "PACKING_IN_PROGRESS"]
        if packing:
            return PushOutcome(
                key, False, f"Flipkart is still generating labels for {', '.join(packing)}", retryable=True
            )
        self_ship = [s for s in shipments if str(s.get("shipmentType") or "").upper() == "SELF"]
        flipkart_ship = [s for s in shipments if s not in self_ship and _state(s) in ("PACKED", "FORM_FAILED")]
        if flipkart_ship:
            by_location: dict[str, list[str]] = {}
            for s in flipkart_ship:
                by_location.setdefault(str(s.get("locationId")), []).append(s["shipmentId"])
            for location, ids in by_location.items():
                answer = self._call("POST", DISPATCH_PATH, json_body={"shipmentIds": ids, "locationId": location})
                problem = _failures(answer, "ready to dispatch")
                if problem:
                    return PushOutcome(key, False, problem)
            note = " (Flipkart's courier picks it up; our carrier and tracking number are not sent)"
            done.append("ready to dispatch: " + ", ".join(s["shipmentId"] for s in flipkart_ship) + note)
        to_dispatch = [s for s in self_ship if _state(s) in ("PACKED", "READY_TO_DISPATCH")]
        if to_dispatch:
            if not update.tracking_number or not update.carrier:
                return PushOutcome(key, False, "self-ship dispatch needs the carrier and the tracking number")
            now = datetime.fromtimestamp(self.clock(), IST)
            days = int(self.config.settings.get("self_ship_delivery_days", 5))
            requests = []
            for s in to_dispatch:
                invoice = _invoice_of(update, s, self._today()) or {"invoiceDate": self._today()}
                requests.append(
                    {
                        "shipmentId": s["shipmentId"],
                        "locationId": s.get("locationId"),
                        "dispatchDate": _fk_time(now),
                        "tentativeDeliveryDate": _fk_time(now + timedelta(days=days)),
                        "deliveryPartner": update.carrier,
                        "trackingId": update.tracking_number,
                        "invoice": {
                            **invoice,
                            "items": [
                                {"orderItemId": i.get("orderItemId"), "quantity": i.get("quantity")} for i in _items(s)
                            ],
                        },
                    }
                )
            answer = self._call("POST", SELF_DISPATCH_PATH, json_body={"shipments": requests})
            problem = _failures(answer, "self-ship dispatch")
            if problem:
                return PushOutcome(key, False, problem)
            done.append(f"self-ship dispatched with {update.carrier} {update.tracking_number}")
        if not done:
            states = ", ".join(sorted({_state(s) for s in shipments}))
            return PushOutcome(key, True, f"nothing to do: shipments already {states}")
        return PushOutcome(key, True, "; ".join(done))

    def _deliver(self, update: StatusUpdate, shipments: list[dict[str, Any]]) -> PushOutcome:
        key = update.external_id
        self_ship = [
            s for s in shipments if str(s.get("shipmentType") or "").upper() == "SELF" and _state(s) == "SHIPPED"
        ]
        if not self_ship:
            return PushOutcome(key, True, "nothing to do: Flipkart's courier reports delivery itself")
        now = _fk_time(datetime.fromtimestamp(self.clock(), IST))
        body = {
            "shipments": [
                {"shipmentId": s["shipmentId"], "locationId": s.get("locationId"), "deliveryDate": now}
                for s in self_ship
            ]
        }
        problem = _failures(self._call("POST", SELF_DELIVERY_PATH, json_body=body), "self-ship delivery")
        return PushOutcome(key, problem is None, problem or "self-ship delivery recorded")

    def _cancel(self, update: StatusUpdate, shipments: list[dict[str, Any]]) -> PushOutcome:
        key = update.external_id
        open_ones = [s for s in shipments if _state(s) in ("APPROVED", "PACKING_IN_PROGRESS")]
        late = [s["shipmentId"] for s in shipments if s not in open_ones and _state(s) != "CANCELLED"]
        if late:
            return PushOutcome(
                key, False, f"Flipkart lets sellers cancel only before packing; {', '.join(late)} are past that"
            )
        if not open_ones:
            return PushOutcome(key, True, "nothing to do: already cancelled")
        reason = self.config.settings.get("cancel_reason", "not_enough_inventory")
        wanted = {line.line_id for line in update.lines if line.line_id}
        requests = []
        for s in open_ones:
            groups = _unique(
                i.get("cancellationGroupId") for i in _items(s) if not wanted or str(i.get("orderItemId")) in wanted
            )
            requests.append(
                {
                    "shipmentId": s["shipmentId"],
                    "locationId": s.get("locationId"),
                    "reason": reason,
                    "cancellationGroupIds": groups,
                }
            )
        problem = _failures(self._call("POST", CANCEL_PATH, json_body={"shipments": requests}), "cancellation")
        if problem:
            return PushOutcome(key, False, problem)
        return PushOutcome(key, True, "cancelled: " + ", ".join(s["shipmentId"] for s in open_ones))


# -- parsing -------------------------------------------------------------------------------------


def _orders_from(
    shipments: list[dict[str, Any]], details: Mapping[str, dict[str, Any]], *, partial: bool
) -> list[ChannelOrder]:
    grouped: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for s in shipments:
        for item in s.get("orderItems") or []:
            if not isinstance(item, dict):
                continue
            order_id = item.get("orderId")
            if not order_id:
                raise BadPayload(f"flipkart shipment {s.get('shipmentId')}: an order item has no orderId")
            grouped.setdefault(str(order_id), []).append((s, item))
    return [_order(order_id, pairs, details, partial) for order_id, pairs in grouped.items()]


def _order(
    order_id: str,
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
    details: Mapping[str, dict[str, Any]],
    partial: bool,
) -> ChannelOrder:
    where = f"flipkart order {order_id}"
    statuses: list[tuple[str, OrderStatus]] = []
    for _, item in pairs:
        word = str(item.get("status") or "")
        if word not in STATUS_MAP:
            raise BadPayload(f"{where}: unknown order item status '{word}'")
        ours = STATUS_MAP[word]
        if word == "RETURNED" and item.get("courierReturn"):
            ours = _O.RTO
        statuses.append((word, ours))
    active = [i for i, (_, ours) in enumerate(statuses) if ours is not _O.CANCELLED]
    kept = active or list(range(len(pairs)))
    status = _overall([statuses[i][1] for i in active]) if active else _O.CANCELLED
    words = _unique(statuses[i][0] for i in kept)

    lines: list[ChannelLine] = []
    shipping = Decimal(0)
    flipkart_discount = Decimal(0)
    for i in kept:
        item = pairs[i][1]
        lines.append(_line(item, where))
        prices = item.get("priceComponents") or {}
        shipping += money(prices.get("shippingCharge"), f"{where} shippingCharge")
        flipkart_discount += money(prices.get("flipkartDiscount"), f"{where} flipkartDiscount")

    items = [item for _, item in pairs]
    placed = (
        min(_parse_time(i.get("orderDate"), f"{where} orderDate") for i in items if i.get("orderDate"))
        if any(i.get("orderDate") for i in items)
        else None
    )
    if placed is None:
        raise BadPayload(f"{where}: no orderDate")
    stamps = [s.get("updatedAt") for s, _ in pairs] + [i.get("cancellationDate") for i in items]
    updated = max((_parse_time(t, f"{where} updatedAt") for t in stamps if t), default=None)

    cod = any(str(i.get("paymentType") or "").upper() == "COD" for i in items)
    payment_status = "paid"
    if cod:  # Flipkart's courier collects the cash
        payment_status = "cod_collected" if status in (_O.DELIVERED, _O.CLOSED) else "cod_pending"

    shipment_list = _unique_shipments(s for s, _ in pairs)
    detail = next((details[s["shipmentId"]] for s in shipment_list if s.get("shipmentId") in details), None)
    address = _address(detail.get("deliveryAddress")) if detail else {}
    billing = _address(detail.get("billingAddress")) if detail and detail.get("billingAddress") else None
    buyer = (detail or {}).get("buyerDetails") or {}
    customer = {
        "name": _name(buyer) or address.get("name"),
        "phone": address.get("phone"),
        "email": buyer.get("email") or None,
    }
    held = any(s.get("hold") for s in shipment_list)
    tags = ["flipkart"]
    if held:
        tags.append("flipkart:hold")
    if any(str(s.get("shipmentType") or "").upper() == "SELF" for s in shipment_list):
        tags.append("flipkart:self-ship")
    if any(i.get("isReplacement") or i.get("is_replacement") for i in items):
        tags.append("flipkart:replacement")
    if partial:
        tags.append("flipkart:partial")
    extra = {
        "shipments": [
            {
                "shipmentId": s.get("shipmentId"),
                "locationId": s.get("locationId"),
                "shipmentType": s.get("shipmentType"),
                "hold": bool(s.get("hold")),
                "dispatchAfterDate": s.get("dispatchAfterDate"),
                "dispatchByDate": s.get("dispatchByDate"),
                "orderItemIds": [str(i.get("orderItemId")) for i in _items(s) if str(i.get("orderId")) == order_id],
            }
            for s in shipment_list
        ],
        "cancelled_items": [str(pairs[i][1].get("orderItemId")) for i in range(len(pairs)) if i not in kept],
        "flipkart_discount": str(flipkart_discount),
    }
    return ChannelOrder(
        external_id=order_id,
        channel_status=",".join(words),
        status=status,
        placed_at=placed,
        customer=customer,
        shipping_address=address,
        payment_method="cod" if cod else "prepaid",
        payment_status=payment_status,
        lines=lines,
        billing_address=billing,
        shipping_charge=shipping,
        tags=tags,
        ready=not held and not partial and bool(address),
        updated_at=updated,
        extra=extra,
    )


def _line(item: Mapping[str, Any], where: str) -> ChannelLine:
    try:
        quantity = int(item.get("quantity"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadPayload(f"{where}: order item {item.get('orderItemId')} has no quantity") from None
    if quantity <= 0:
        raise BadPayload(f"{where}: order item {item.get('orderItemId')} has quantity {quantity}")
    prices = item.get("priceComponents") or {}
    selling = money(prices.get("sellingPrice"), f"{where} sellingPrice").quantize(PAISE)  # whole quantity
    unit = (selling / quantity).quantize(PAISE, rounding=ROUND_UP)
    listing = item.get("listingId") or item.get("sku")
    if not listing:
        raise BadPayload(f"{where}: order item {item.get('orderItemId')} has neither listingId nor sku")
    return ChannelLine(
        listing_id=str(listing),
        seller_sku=str(item["sku"]) if item.get("sku") else None,
        quantity=quantity,
        unit_price=unit,
        discount=unit * quantity - selling,
        title=item.get("title"),
        line_id=str(item["orderItemId"]) if item.get("orderItemId") else None,
    )


def _overall(statuses: list[OrderStatus]) -> OrderStatus:
    distinct = set(statuses)
    if len(distinct) == 1:
        return statuses[0]
    shipped_or_later = distinct - set(_PRE_SHIP)
    if shipped_or_later and distinct & set(_PRE_SHIP):
        return _O.PARTIALLY_SHIPPED
    if distinct & {_O.RETURNED, _O.RTO} and distinct & {_O.DELIVERED, _O.CLOSED}:
        return _O.PARTIALLY_RETURNED
    return min(distinct, key=lambda s: _RANK.get(s, 0))  # the least advanced


def _address(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    line2 = raw.get("addressLine2") or None
    landmark = raw.get("landmark") or None
    if landmark:
        line2 = f"{line2}, {landmark}" if line2 else landmark
    state_text = raw.get("state") or raw.get("stateCode")
    state = find_state(state_text) if state_text else None
    pincode = str(raw.get("pinCode") or raw.get("pincode") or "").strip() or None
    return {
        "name": _name(raw),
        "line1": raw.get("addressLine1") or None,
        "line2": line2,
        "city": raw.get("city") or None,
        "state": state.iso if state else state_text,
        "pincode": pincode,
        "phone": raw.get("contactNumber") or None,
    }


def _name(raw: Mapping[str, Any]) -> str | None:
    name = " ".join(str(p).strip() for p in (raw.get("firstName"), raw.get("lastName")) if p and str(p).strip())
    return name or None


# -- small helpers -------------------------------------------------------------------------------


def _items(shipment: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [i for i in shipment.get("orderItems") or [] if isinstance(i, dict)]


def _state(shipment: Mapping[str, Any]) -> str:
    """A shipment's state: its items share one while Flipkart processes it; the least advanced wins."""
    if shipment.get("_state"):
        return str(shipment["_state"])
    words = [str(i.get("status")) for i in _items(shipment) if i.get("status") != "CANCELLED"]
    order = (*PRE_DISPATCH_STATES, *POST_DISPATCH_STATES)
    known = [w for w in words if w in order]
    if known:
        return min(known, key=order.index)
    return words[0] if words else "CANCELLED"


def _concerned(shipments: Any, order_id: str, lines: list[ChannelLine]) -> list[dict[str, Any]]:
    wanted_items = {line.line_id for line in lines if line.line_id}
    wanted_listings = {line.listing_id for line in lines if not line.line_id}
    chosen = []
    for s in shipments or []:
        if not isinstance(s, dict) or not s.get("shipmentId"):
            continue
        mine = [i for i in _items(s) if str(i.get("orderId")) == order_id]
        if not mine:
            continue
        if lines and not any(
            str(i.get("orderItemId")) in wanted_items or i.get("listingId") in wanted_listings for i in mine
        ):
            continue
        chosen.append(s)
    return chosen


def _invoice_of(update: StatusUpdate, shipment: Mapping[str, Any], today: str) -> dict[str, Any] | None:
    """The seller's invoice for a shipment, when the update carries one: extra['invoices'] keyed by shipment
    id, or extra['invoice_number'] / extra['invoice_date'] for the whole order."""
    invoices = update.extra.get("invoices") or {}
    one = invoices.get(shipment.get("shipmentId")) if isinstance(invoices, Mapping) else None
    number = (one or {}).get("number") or update.extra.get("invoice_number")
    date = (one or {}).get("date") or update.extra.get("invoice_date")
    if not number and not date:
        return None
    invoice: dict[str, Any] = {"invoiceDate": str(date) if date else today}
    if number:
        invoice["invoiceNumber"] = str(number)
    return invoice


def _failures(answer: Any, what: str) -> str | None:
    rows = answer.get("shipments") if isinstance(answer, dict) else None
    if not isinstance(rows, list):
        return None
    bad = [
        f"{r.get('shipmentId')}: {r.get('errorCode') or r.get('status')} {r.get('errorMessage') or ''}".strip()
        for r in rows
        if isinstance(r, dict) and str(r.get("status") or "SUCCESS").upper() not in ("SUCCESS", "WARNING")
    ]
    return f"Flipkart refused {what}: " + "; ".join(bad) if bad else None


def _error_words(status: Mapping[str, Any]) -> str:
    errors = [*(status.get("errors") or []), *(status.get("attribute_errors") or status.get("attributeErrors") or [])]
    words = []
    for e in errors:
        if isinstance(e, dict):
            words.append(" ".join(str(p) for p in (e.get("code"), e.get("description") or e.get("message")) if p))
        else:
            words.append(str(e))
    return "; ".join(w for w in words if w)


def _unique(values: Iterable[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        if v:
            seen.setdefault(str(v), None)
    return list(seen)


def _unique_shipments(shipments: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[Any, dict[str, Any]] = {}
    for s in shipments:
        seen.setdefault(s.get("shipmentId") or id(s), s)
    return list(seen.values())


def _chunks(values: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _api_path(url: str) -> str:
    """Flipkart's nextPageUrl is relative to the /sellers base (``/v3/shipments/filter?…``)."""
    parts = urlsplit(url)
    path = parts.path if parts.path.startswith("/") else "/" + parts.path
    if not path.startswith("/sellers/"):
        path = "/sellers" + path
    return path + (f"?{parts.query}" if parts.query else "")


def _parse_time(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value or "").strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise BadPayload(f"{where}: '{value}' is not a date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=IST)


def _fk_time(moment: datetime) -> str:
    return moment.astimezone(IST).isoformat(timespec="milliseconds")


__all__ = ["STATUS_MAP", "FlipkartConnector"]
