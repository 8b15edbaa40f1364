"""A fake of Amazon's Selling Partner API (and Login with Amazon) on FakeServer, speaking the real
formats: LWA refresh-token exchange, access tokens checked like SP-API does (403 Unauthorized),
Restricted Data Tokens that unlock buyer PII on getOrders / getOrderItems, NextToken paging,
x-amzn-RateLimit-Limit headers, Listings Items get/patch, the feed-document upload and
JSON_LISTINGS_FEED, and shipment confirmations. Seeded from the shared fixture payloads.

    with FakeAmazon() as fake:
        connector = AmazonConnector(fake.config(), Http(fake.url, sleep=waits.append))
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections import defaultdict
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from ordermesh.adapters.channels.base import ConnectorConfig
from tests.fakes.fixtures import CHANNEL_FIXTURES
from tests.fakes.server import FakeServer, Reply, Request

FIXTURES = CHANNEL_FIXTURES
MARKETPLACE = "A21TJRUUN4KGV"
SELLER = "A1EXAMPLESELLER"
CLIENT_ID = "amzn1.application-oa2-client.0000example"
CLIENT_SECRET = "amzn1.oa2-cs.v1.example-secret-do-not-use"
REFRESH_TOKEN = "Atzr|IwEBIexample-refresh-token"
RATE_LIMITS = {  # what SP-API sends back in x-amzn-RateLimit-Limit
    "getOrders": "0.0167",
    "getOrderItems": "0.5",
    "createRestrictedDataToken": "1.0",
    "getListingsItem": "5.0",
    "patchListingsItem": "5.0",
    "createFeedDocument": "0.5",
    "createFeed": "0.0083",
    "confirmShipment": "2.0",
}
UNRESTRICTED_ADDRESS = ("City", "StateOrRegion", "PostalCode", "CountryCode")  # sent without an RDT
DATA_ELEMENTS = {"buyerInfo", "shippingAddress", "buyerTaxInformation"}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _errors(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    """SP-API's error shape: {"errors": [{"code", "message", "details"}]}."""
    return Reply.json({"errors": [{"code": code, "message": message, "details": ""}]}, status, headers)


class FakeAmazon:
    def __init__(self) -> None:
        self.server = FakeServer()
        self.client_id, self.client_secret, self.refresh_token = CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN
        self.seller_id = SELLER
        self.now = "2025-01-15T10:00:00Z"  # LastUpdatedBefore of every getOrders answer
        self.orders: list[dict[str, Any]] = copy.deepcopy(fixture("amazon_getOrders.json")["payload"]["Orders"])
        mfn = fixture("amazon_getOrderItems.json")["payload"]
        self.items: dict[str, list[dict[str, Any]]] = {mfn["AmazonOrderId"]: copy.deepcopy(mfn["OrderItems"])}
        self.items["402-8887776-5554443"] = [afn_item()]
        patch = fixture("amazon_patchListingsItem.json")
        self.listings: dict[str, dict[str, Any]] = {
            patch["path_params"]["sku"]: {"productType": "KURTA", "asin": "B0EXAMPLE01", "quantity": {"DEFAULT": 3}},
            "SPK-BT-10W-BLK": {"productType": "SPEAKERS", "asin": "B0EXAMPLE02", "quantity": {"AMAZON_IN": 7}},
        }
        self.rate_limits = dict(RATE_LIMITS)
        self.page_size = 100
        self.items_page_size = 100
        self.access_tokens: dict[str, bool] = {}  # token -> still valid
        self.rdts: dict[str, list[dict[str, Any]]] = {}  # token -> restricted resources it covers
        self.documents: dict[str, dict[str, Any]] = {}
        self.feeds: dict[str, dict[str, Any]] = {}
        self.confirmations: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.patches: list[tuple[str, dict[str, Any]]] = []
        self._throttle: dict[str, list[str | None]] = defaultdict(list)
        self._fail: dict[str, list[int]] = defaultdict(list)
        self._pages: dict[str, tuple[str, list[Any], int]] = {}
        self._ids = itertools.count(1)
        self._routes()

    # -- test knobs ------------------------------------------------------------------------------

    def config(self, credentials: dict[str, str] | None = None, **settings: Any) -> ConnectorConfig:
        """A channel record pointing at this fake: the right credentials unless told otherwise."""
        base = {"seller_id": self.seller_id, "lwa_url": self.url, "since": "2025-01-01T00:00:00Z"}
        right = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN}
        return ConnectorConfig(
            base_url=self.url, credentials={**right, **(credentials or {})}, settings={**base, **settings}
        )

    def throttle(self, operation: str, times: int = 1, retry_after: str | None = "2") -> None:
        """The next ``times`` calls of ``operation`` get 429 QuotaExceeded."""
        self._throttle[operation].extend([retry_after] * times)

    def fail(self, operation: str, status: int = 503, times: int = 1) -> None:
        self._fail[operation].extend([status] * times)

    def expire_tokens(self) -> None:
        """Every access token and RDT handed out so far stops working (as after an hour)."""
        self.access_tokens = dict.fromkeys(self.access_tokens, False)
        self.rdts.clear()

    def add_order(self, order_id: str, updated: str, status: str = "Unshipped", **fields: Any) -> dict[str, Any]:
        order = copy.deepcopy(self.orders[0])
        order.update({"AmazonOrderId": order_id, "LastUpdateDate": updated, "OrderStatus": status, **fields})
        self.orders.append(order)
        items = copy.deepcopy(self.items["406-5551234-7654321"])
        for n, item in enumerate(items):
            item["OrderItemId"] = f"{order_id.replace('-', '')}{n}"
        self.items[order_id] = items
        return order

    def sent(self, operation_path: str, method: str = "GET") -> list[Request]:
        return self.server.sent(method, operation_path)

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> FakeAmazon:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    # -- plumbing --------------------------------------------------------------------------------

    def _routes(self) -> None:
        s = self.server
        s.route("POST", r"/auth/o2/token", self._lwa)
        self._op("POST", r"/tokens/2021-03-01/restrictedDataToken", "createRestrictedDataToken", self._rdt)
        self._op("GET", r"/orders/v0/orders", "getOrders", self._get_orders, restricted=True)
        self._op("GET", r"/orders/v0/orders/(?P<id>[^/]+)/orderItems", "getOrderItems", self._get_items, True)
        self._op("POST", r"/orders/v0/orders/(?P<id>[^/]+)/shipmentConfirmation", "confirmShipment", self._confirm)
        listing = r"/listings/2021-08-01/items/(?P<seller>[^/]+)/(?P<sku>[^/]+)"
        self._op("GET", listing, "getListingsItem", self._get_listing)
        self._op("PATCH", listing, "patchListingsItem", self._patch_listing)
        self._op("POST", r"/feeds/2021-06-30/documents", "createFeedDocument", self._create_document)
        self._op("POST", r"/feeds/2021-06-30/feeds", "createFeed", self._create_feed)
        s.route("PUT", r"/upload/(?P<doc>[^/]+)", self._upload)

    def _op(self, method: str, pattern: str, operation: str, handler: Any, restricted: bool = False) -> None:
        def serve(request: Request) -> Reply:
            if self._fail[operation]:
                status = self._fail[operation].pop(0)
                return _errors(status, "InternalFailure", "We encountered an internal error. Please try again.")
            token = request.header("x-amz-access-token") or ""
            rdt = self.rdts.get(token)
            if rdt is not None and not restricted:
                return _errors(403, "Unauthorized", "Access to requested resource is denied.")
            if rdt is None and not self.access_tokens.get(token):
                return _errors(403, "Unauthorized", "Access to requested resource is denied.")
            if self._throttle[operation]:
                after = self._throttle[operation].pop(0)
                headers = {"Retry-After": after} if after is not None else {}
                return _errors(429, "QuotaExceeded", "You exceeded your quota for the requested resource.", headers)
            reply = handler(request, _granted(rdt, request.method, request.path))
            reply.headers["x-amzn-RateLimit-Limit"] = self.rate_limits[operation]
            reply.headers["x-amzn-RequestId"] = f"fake-{next(self._ids)}"
            return reply

        self.server.route(method, pattern, serve)

    # -- Login with Amazon -----------------------------------------------------------------------

    def _lwa(self, request: Request) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if "application/x-www-form-urlencoded" not in (request.header("Content-Type") or ""):
            return Reply.json({"error": "invalid_request", "error_description": "form body expected"}, 400)
        if form.get("grant_type") != "refresh_token":
            return Reply.json({"error": "unsupported_grant_type", "error_description": "grant_type"}, 400)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return Reply.json({"error": "invalid_client", "error_description": "Client authentication failed"}, 401)
        if form.get("refresh_token") != self.refresh_token:
            return Reply.json(
                {"error": "invalid_grant", "error_description": "The request has an invalid grant parameter"}, 400
            )
        token = f"Atza|fake-access-{next(self._ids)}"
        self.access_tokens[token] = True
        return Reply.json(
            {"access_token": token, "refresh_token": self.refresh_token, "token_type": "bearer", "expires_in": 3600}
        )

    def _rdt(self, request: Request, granted: set[str]) -> Reply:
        resources = request.json().get("restrictedResources")
        if not isinstance(resources, list) or not resources:
            return _errors(400, "InvalidInput", "restrictedResources is required")
        for resource in resources:
            if resource.get("method") not in ("GET", "PUT", "POST", "DELETE") or not resource.get("path"):
                return _errors(400, "InvalidInput", f"invalid restricted resource {resource}")
            if not set(resource.get("dataElements") or []) <= DATA_ELEMENTS:
                return _errors(400, "InvalidInput", f"invalid dataElements {resource.get('dataElements')}")
        token = f"Atz.sprdt|fake-rdt-{next(self._ids)}"
        self.rdts[token] = resources
        return Reply.json({"restrictedDataToken": token, "expiresIn": 3600})

    # -- orders ----------------------------------------------------------------------------------

    def _page(self, key: str, rows: list[Any], request: Request, size: int) -> tuple[list[Any], str | None] | Reply:
        token = request.arg("NextToken")
        if token:
            if token not in self._pages or self._pages[token][0] != key:
                return _errors(400, "InvalidInput", "Invalid NextToken")
            _, rows, start = self._pages.pop(token)
        else:
            start = 0
        chunk = rows[start : start + size]
        next_token = None
        if start + size < len(rows):
            next_token = f"fake-next-{next(self._ids)}=="
            self._pages[next_token] = (key, rows, start + size)
        return chunk, next_token

    def _get_orders(self, request: Request, granted: set[str]) -> Reply:
        if request.arg("MarketplaceIds") is None:
            return _errors(400, "InvalidInput", "Missing required 'MarketplaceIds'")
        wanted = set((request.arg("MarketplaceIds") or "").split(","))
        if request.arg("NextToken"):
            rows: list[Any] = []
        else:
            after = request.arg("LastUpdatedAfter") or request.arg("CreatedAfter")
            if not after:
                return _errors(400, "InvalidInput", "Either 'CreatedAfter' or 'LastUpdatedAfter' should be specified")
            field = "LastUpdateDate" if request.arg("LastUpdatedAfter") else "PurchaseDate"
            rows = sorted(
                (o for o in self.orders if o["MarketplaceId"] in wanted and _t(o[field]) >= _t(after)),
                key=lambda o: o[field],
            )
        size = min(int(request.arg("MaxResultsPerPage") or 100), self.page_size)
        paged = self._page("orders", rows, request, size)
        if isinstance(paged, Reply):
            return paged
        chunk, next_token = paged
        payload: dict[str, Any] = {"Orders": [_redact(o, granted) for o in chunk]}
        if next_token:
            payload["NextToken"] = next_token
        payload["CreatedBefore" if request.arg("CreatedAfter") else "LastUpdatedBefore"] = self.now
        return Reply.json({"payload": payload})

    def _get_items(self, request: Request, granted: set[str]) -> Reply:
        assert request.match is not None
        order_id = request.match["id"]
        if order_id not in self.items:
            return _errors(404, "InvalidInput", f"Invalid AmazonOrderId: {order_id}")
        paged = self._page(f"items:{order_id}", self.items[order_id], request, self.items_page_size)
        if isinstance(paged, Reply):
            return paged
        chunk, next_token = paged
        rows = [{k: v for k, v in i.items() if k != "BuyerInfo" or "buyerInfo" in granted} for i in chunk]
        payload: dict[str, Any] = {"AmazonOrderId": order_id, "OrderItems": rows}
        if next_token:
            payload["NextToken"] = next_token
        return Reply.json({"payload": payload})

    def _confirm(self, request: Request, granted: set[str]) -> Reply:
        assert request.match is not None
        order_id = request.match["id"]
        order = next((o for o in self.orders if o["AmazonOrderId"] == order_id), None)
        if order is None:
            return _errors(404, "InvalidInput", f"Invalid AmazonOrderId: {order_id}")
        body = request.json()
        package = body.get("packageDetail") or {}
        problem = None
        if body.get("marketplaceId") != order["MarketplaceId"]:
            problem = "marketplaceId does not match the order"
        elif order["FulfillmentChannel"] != "MFN" or order["OrderStatus"] not in ("Unshipped", "PartiallyShipped"):
            problem = f"Order {order_id} is {order['FulfillmentChannel']} {order['OrderStatus']}: cannot confirm"
        elif missing := [
            k
            for k in ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate", "orderItems")
            if not package.get(k)
        ]:
            problem = f"Missing required field(s): {', '.join(missing)}"
        elif not re.fullmatch(r"[1-9][0-9]*", str(package["packageReferenceId"])):
            problem = "packageReferenceId must be a positive number"
        elif package["carrierCode"] == "Other" and not package.get("carrierName"):
            problem = "carrierName is required when carrierCode is Other"
        if problem:
            return _errors(400, "InvalidInput", problem)
        items = {i["OrderItemId"]: i for i in self.items[order_id]}
        for line in package["orderItems"]:
            item = items.get(line.get("orderItemId"))
            left = item["QuantityOrdered"] - item.get("QuantityShipped", 0) if item else 0
            if item is None or not 0 < int(line.get("quantity") or 0) <= left:
                return _errors(400, "InvalidInput", f"Invalid order item {line}")
        for line in package["orderItems"]:
            items[line["orderItemId"]]["QuantityShipped"] = items[line["orderItemId"]].get("QuantityShipped", 0) + int(
                line["quantity"]
            )
        done = all(i["QuantityShipped"] >= i["QuantityOrdered"] for i in items.values())
        order["OrderStatus"] = "Shipped" if done else "PartiallyShipped"
        order["LastUpdateDate"] = self.now
        self.confirmations[order_id].append(body)
        return Reply(204)

    # -- listings and feeds ----------------------------------------------------------------------

    def _listing_problem(self, request: Request) -> Reply | None:
        assert request.match is not None
        if request.arg("marketplaceIds") != MARKETPLACE:
            return _errors(400, "InvalidInput", "marketplaceIds must be A21TJRUUN4KGV")
        if request.match["seller"] != self.seller_id:
            return _errors(403, "Unauthorized", "Access to requested resource is denied.")
        return None

    def _get_listing(self, request: Request, granted: set[str]) -> Reply:
        if problem := self._listing_problem(request):
            return problem
        assert request.match is not None
        sku = request.match["sku"]
        listing = self.listings.get(sku)
        if listing is None:
            return _errors(404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace {MARKETPLACE}")
        included = (request.arg("includedData") or "summaries").split(",")
        body: dict[str, Any] = {"sku": sku}
        if "summaries" in included:
            body["summaries"] = [
                {"marketplaceId": MARKETPLACE, "asin": listing["asin"], "productType": listing["productType"]}
            ]
        if "fulfillmentAvailability" in included:
            body["fulfillmentAvailability"] = [
                {"fulfillmentChannelCode": code, "quantity": qty} for code, qty in listing["quantity"].items()
            ]
        return Reply.json(body)

    def _patch_listing(self, request: Request, granted: set[str]) -> Reply:
        if problem := self._listing_problem(request):
            return problem
        assert request.match is not None
        sku = request.match["sku"]
        body = request.json()
        self.patches.append((sku, body))
        issues = self._apply(sku, body.get("productType"), body.get("patches"))
        status = "INVALID" if issues else "ACCEPTED"
        return Reply.json(
            {"sku": sku, "status": status, "submissionId": f"fake-sub-{next(self._ids)}", "issues": issues}
        )

    def _apply(self, sku: str, product_type: Any, patches: Any) -> list[dict[str, Any]]:
        def issue(code: str, message: str) -> list[dict[str, Any]]:
            return [
                {"code": code, "message": message, "severity": "ERROR", "attributeNames": ["fulfillment_availability"]}
            ]

        listing = self.listings.get(sku)
        if listing is None:
            return issue("4000001", f"The SKU '{sku}' does not exist in the marketplace.")
        if product_type not in ("PRODUCT", listing["productType"]):
            return issue("4000002", f"productType '{product_type}' does not match the listing")
        if not isinstance(patches, list) or not patches:
            return issue("4000003", "patches are required")
        updates: dict[str, int] = {}
        for patch in patches:
            if patch.get("op") not in ("add", "replace", "merge", "delete"):
                return issue("4000003", f"invalid op {patch.get('op')}")
            if patch.get("path") != "/attributes/fulfillment_availability":
                return issue("4000003", f"unexpected path {patch.get('path')}")
            for value in patch.get("value") or []:
                qty = value.get("quantity")
                if not value.get("fulfillment_channel_code") or not isinstance(qty, int) or qty < 0:
                    return issue("90220", f"invalid fulfillment_availability {value}")
                updates[value["fulfillment_channel_code"]] = qty
        listing["quantity"].update(updates)
        return []

    def _create_document(self, request: Request, granted: set[str]) -> Reply:
        content_type = request.json().get("contentType")
        if not content_type:
            return _errors(400, "InvalidInput", "contentType is required")
        doc = f"amzn1.tortuga.4.eu.fake-{next(self._ids)}"
        self.documents[doc] = {"contentType": content_type, "content": None}
        return Reply.json({"feedDocumentId": doc, "url": f"{self.url}/upload/{doc}?X-Amz-Signature=fake"}, 201)

    def _upload(self, request: Request) -> Reply:
        assert request.match is not None
        doc = self.documents.get(request.match["doc"])
        if doc is None or request.arg("X-Amz-Signature") != "fake":
            return Reply(403, b"<Error><Code>AccessDenied</Code></Error>", {"Content-Type": "application/xml"})
        if request.header("Content-Type") != doc["contentType"]:
            return Reply(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", {"Content-Type": "application/xml"})
        doc["content"] = request.body
        return Reply(200)

    def _create_feed(self, request: Request, granted: set[str]) -> Reply:
        body = request.json()
        doc = self.documents.get(body.get("inputFeedDocumentId") or "")
        if body.get("feedType") != "JSON_LISTINGS_FEED" or body.get("marketplaceIds") != [MARKETPLACE]:
            return _errors(400, "InvalidInput", "feedType or marketplaceIds invalid")
        if doc is None or doc["content"] is None:
            return _errors(400, "InvalidInput", "inputFeedDocumentId has no uploaded content")
        feed_id = str(50000000000 + next(self._ids))
        feed = json.loads(doc["content"])
        results = []
        for message in feed.get("messages") or []:
            if message.get("operationType") != "PATCH" or feed.get("header", {}).get("sellerId") != self.seller_id:
                issues = [{"code": "4000003", "message": "unsupported message", "severity": "ERROR"}]
            else:
                issues = self._apply(message.get("sku"), message.get("productType"), message.get("patches"))
            results.append({"messageId": message.get("messageId"), "issues": issues})
        self.feeds[feed_id] = {"feedType": body["feedType"], "document": feed, "results": results}
        return Reply.json({"feedId": feed_id}, 202)


def _granted(resources: list[dict[str, Any]] | None, method: str, path: str) -> set[str]:
    """The data elements an RDT grants for this call (a generic ``{orderId}`` path matches any id)."""
    found: set[str] = set()
    for resource in resources or []:
        pattern = re.escape(resource["path"]).replace(re.escape("{orderId}"), "[^/]+")
        if resource["method"] == method and re.fullmatch(pattern, path):
            found |= set(resource.get("dataElements") or [])
    return found


def _redact(order: dict[str, Any], granted: set[str]) -> dict[str, Any]:
    """What getOrders shows for the token it was given: PII only with an RDT that grants it."""
    shown = copy.deepcopy(order)
    if "shippingAddress" not in granted and "ShippingAddress" in shown:
        shown["ShippingAddress"] = {k: v for k, v in shown["ShippingAddress"].items() if k in UNRESTRICTED_ADDRESS}
    if "buyerInfo" not in granted:
        shown.pop("BuyerInfo", None)
    return shown


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def afn_item() -> dict[str, Any]:
    """The FBA order's item, in the same shape as the fixture's (₹1499 incl. 18% GST)."""

    def inr(amount: str) -> dict[str, str]:
        return {"CurrencyCode": "INR", "Amount": amount}

    return {
        "ASIN": "B0EXAMPLE02",
        "SellerSKU": "SPK-BT-10W-BLK",
        "OrderItemId": "62098765432109",
        "Title": "Example Handicrafts 10W Bluetooth Speaker, Black",
        "QuantityOrdered": 1,
        "QuantityShipped": 1,
        "ItemPrice": inr("1499.00"),
        "ItemTax": inr("228.66"),
        "ShippingPrice": inr("0.00"),
        "PromotionDiscount": inr("0.00"),
        "IsGift": "false",
        "ConditionId": "New",
    }
