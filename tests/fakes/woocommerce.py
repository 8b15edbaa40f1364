"""A fake WooCommerce store speaking REST API v3 (and the Shipment Tracking extension's endpoint) on
FakeServer: Basic or query-string consumer-key auth, orders filtered by ``modified_after`` and paged
with X-WP-Total / X-WP-TotalPages, products and variations with stock, batch updates with per-item
errors, order notes, tracking items. It can be told to throttle (429 + Retry-After) or to fail.

    with FakeWooCommerce() as shop:
        shop.seed_fixture()
        connector = WooCommerceConnector(ConnectorConfig(shop.url, shop.credentials), Http(shop.url))
"""

from __future__ import annotations

import base64
import copy
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.fixtures import CHANNEL_FIXTURES
from tests.fakes.server import FakeServer, Reply, Request

FIXTURES = CHANNEL_FIXTURES
API = "/wp-json/wc/v3"
TRACKING_API = "/wp-json/wc-shipment-tracking/v3"
ORDER_STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "trash",
    "checkout-draft",
)
BATCH_LIMIT = 100


def fixture_order() -> dict[str, Any]:
    return json.loads((FIXTURES / "woocommerce_order.json").read_bytes())


def _error(code: str, message: str, status: int) -> Reply:
    return Reply.json({"code": code, "message": message, "data": {"status": status}}, status=status)


def _wc_time(stamp: datetime) -> str:
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class FakeWooCommerce:
    def __init__(self, consumer_key: str = "ck_test_0001", consumer_secret: str = "cs_test_0001"):
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.server = FakeServer()
        self.reset()
        self._routes()

    def reset(self) -> None:
        """Forget every order, product, note and request (one running fake can serve many tests)."""
        self.orders: dict[int, dict[str, Any]] = {}
        self.products: dict[int, dict[str, Any]] = {}
        self.variations: dict[int, dict[int, dict[str, Any]]] = {}  # parent id -> variation id -> variation
        self.notes: dict[int, list[dict[str, Any]]] = {}
        self.trackings: dict[int, list[dict[str, Any]]] = {}
        self.now = datetime(2025, 1, 20, 6, 0, 0, tzinfo=UTC)
        self._throttle: list[int] = []  # Retry-After values for the next responses
        self._failures: list[int] = []  # statuses for the next responses
        self._ids = 5000
        with self.server.lock:
            self.server.requests.clear()

    # -- control ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def credentials(self) -> dict[str, str]:
        return {"consumer_key": self.consumer_key, "consumer_secret": self.consumer_secret}

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    def throttle(self, times: int, retry_after: int = 2) -> None:
        self._throttle.extend([retry_after] * times)

    def fail(self, times: int, status: int = 503) -> None:
        self._failures.extend([status] * times)

    def seed_fixture(self) -> dict[str, Any]:
        """The fixture order and the catalogue it was sold from."""
        order = fixture_order()
        self.orders[order["id"]] = order
        self.add_product(1201, "KRT-COT-BLU", product_type="variable", stock=None)
        self.add_variation(1201, 1207, "KRT-COT-BLU-M", stock=4)
        self.add_variation(1201, 1208, "KRT-COT-BLU-L", stock=2)
        self.add_product(1305, "SPK-BT-10W-BLK", stock=9)
        return order

    def add_order(self, order: dict[str, Any]) -> None:
        self.orders[int(order["id"])] = order

    def add_product(self, pid: int, sku: str, *, product_type: str = "simple", stock: int | None = 0) -> None:
        self.products[pid] = {
            "id": pid,
            "name": sku,
            "type": product_type,
            "sku": sku,
            "manage_stock": stock is not None,
            "stock_quantity": stock,
            "stock_status": "instock",
        }

    def add_variation(self, parent: int, vid: int, sku: str, *, stock: int | None = 0) -> None:
        self.variations.setdefault(parent, {})[vid] = {
            "id": vid,
            "sku": sku,
            "manage_stock": stock is not None,
            "stock_quantity": stock,
            "stock_status": "instock",
        }

    def stock_of(self, pid: int, parent: int | None = None) -> int | None:
        item = self.variations[parent][pid] if parent else self.products[pid]
        return item["stock_quantity"]

    # -- plumbing --------------------------------------------------------------------------------

    def __enter__(self) -> FakeWooCommerce:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def _routes(self) -> None:
        add = self.server.route
        add("GET", rf"{API}/orders", self._guard(self._list_orders))
        add("GET", rf"{API}/orders/(?P<id>\d+)", self._guard(self._get_order))
        add("PUT", rf"{API}/orders/(?P<id>\d+)", self._guard(self._update_order))
        add("POST", rf"{API}/orders/(?P<id>\d+)/notes", self._guard(self._add_note))
        add("POST", rf"{TRACKING_API}/orders/(?P<id>\d+)/shipment-trackings", self._guard(self._add_tracking))
        add("GET", rf"{API}/products", self._guard(self._list_products))
        add("POST", rf"{API}/products/batch", self._guard(self._batch_products))
        add("GET", rf"{API}/products/(?P<parent>\d+)/variations", self._guard(self._list_variations))
        add("POST", rf"{API}/products/(?P<parent>\d+)/variations/batch", self._guard(self._batch_variations))

    def _guard(self, handler: Any) -> Any:
        def serve(request: Request) -> Reply:
            with self.server.lock:
                retry_after = self._throttle.pop(0) if self._throttle else None
                failure = self._failures.pop(0) if self._failures else None
            if retry_after is not None:
                reply = _error("too_many_requests", "Too many requests.", 429)
                reply.headers["Retry-After"] = str(retry_after)
                return reply
            if failure is not None:
                return _error("internal_server_error", "There has been a critical error on this website.", failure)
            refused = self._authenticate(request)
            if refused is not None:
                return refused
            return handler(request)

        return serve

    def _authenticate(self, request: Request) -> Reply | None:
        # WooCommerce over HTTPS: Basic auth, or consumer_key/consumer_secret in the query string
        # when the server strips the Authorization header.
        key = secret = None
        authorization = request.header("Authorization")
        if authorization and authorization.startswith("Basic "):
            try:
                key, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            except ValueError:
                key = secret = None
        elif request.arg("consumer_key"):
            key, secret = request.arg("consumer_key"), request.arg("consumer_secret")
        if key is None:
            return _error("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.", 401)
        if key != self.consumer_key:
            return _error("woocommerce_rest_authentication_error", "Consumer key is invalid.", 401)
        if secret != self.consumer_secret:
            return _error("woocommerce_rest_authentication_error", "Consumer secret is invalid.", 401)
        return None

    def _touch(self, order: dict[str, Any]) -> None:
        self.now += timedelta(seconds=1)
        order["date_modified_gmt"] = _wc_time(self.now)
        order["date_modified"] = _wc_time(self.now + timedelta(hours=5, minutes=30))

    # -- orders ----------------------------------------------------------------------------------

    def _list_orders(self, request: Request) -> Reply:
        try:
            per_page = int(request.arg("per_page") or 10)
            page = int(request.arg("page") or 1)
        except ValueError:
            return _error("rest_invalid_param", "Invalid parameter(s): per_page, page", 400)
        if not 1 <= per_page <= 100:
            return _error("rest_invalid_param", "Invalid parameter(s): per_page", 400)
        orderby = request.arg("orderby") or "date"
        if orderby not in ("date", "id", "include", "title", "slug", "modified"):
            return _error("rest_invalid_param", "Invalid parameter(s): orderby", 400)
        gmt = request.arg("dates_are_gmt") == "true"
        suffix = "_gmt" if gmt else ""
        orders = [o for o in self.orders.values() if o.get("status") != "trash"]
        if after := request.arg("modified_after"):
            orders = [o for o in orders if o[f"date_modified{suffix}"] > after.replace("Z", "")[:19]]
        sort_field = {"modified": "date_modified_gmt", "date": "date_created_gmt", "id": "id"}.get(orderby, "id")
        orders.sort(key=lambda o: (o[sort_field], o["id"]), reverse=request.arg("order") == "desc")
        total = len(orders)
        pages = (total + per_page - 1) // per_page
        chunk = orders[(page - 1) * per_page : page * per_page]
        return Reply.json(chunk, headers={"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})

    def _order(self, request: Request) -> dict[str, Any] | None:
        assert request.match is not None
        return self.orders.get(int(request.match["id"]))

    def _get_order(self, request: Request) -> Reply:
        order = self._order(request)
        if order is None:
            return _error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
        return Reply.json(order)

    def _update_order(self, request: Request) -> Reply:
        order = self._order(request)
        if order is None:
            return _error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
        body = request.json()
        if "status" in body:
            if body["status"] not in ORDER_STATUSES:
                return _error("rest_invalid_param", "Invalid parameter(s): status", 400)
            order["status"] = body["status"]
            if body["status"] == "completed":
                order["date_completed_gmt"] = _wc_time(self.now)
        self._touch(order)
        return Reply.json(order)

    def _add_note(self, request: Request) -> Reply:
        order = self._order(request)
        if order is None:
            return _error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
        body = request.json()
        if not body.get("note"):
            return _error("rest_missing_callback_param", "Missing parameter(s): note", 400)
        self._ids += 1
        note = {
            "id": self._ids,
            "author": "system",
            "date_created_gmt": _wc_time(self.now),
            "note": body["note"],
            "customer_note": bool(body.get("customer_note", False)),
        }
        self.notes.setdefault(order["id"], []).append(note)
        return Reply.json(note, status=201)

    def _add_tracking(self, request: Request) -> Reply:
        order = self._order(request)
        if order is None:
            return _error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
        body = request.json()
        if not body.get("tracking_number"):
            return _error("rest_missing_callback_param", "Missing parameter(s): tracking_number", 400)
        provider = body.get("tracking_provider") or body.get("custom_tracking_provider")
        if not provider:
            return _error("woocommerce_shipment_tracking_missing_provider", "Missing tracking provider.", 400)
        link = (body.get("custom_tracking_link") or "").replace("%1$s", body["tracking_number"])
        self._ids += 1
        item = {
            "tracking_id": f"{self._ids:032x}",
            "tracking_provider": provider,
            "tracking_link": link,
            "tracking_number": body["tracking_number"],
            "date_shipped": body.get("date_shipped") or self.now.date().isoformat(),
            "sent": body,
        }
        self.trackings.setdefault(order["id"], []).append(item)
        return Reply.json({k: v for k, v in item.items() if k != "sent"}, status=201)

    # -- products --------------------------------------------------------------------------------

    @staticmethod
    def _include(request: Request) -> list[int]:
        raw = request.arg("include") or ""
        return [int(x) for x in re.split(r"[,\s]+", raw) if x]

    def _list_products(self, request: Request) -> Reply:
        wanted = self._include(request)
        items = [self.products[i] for i in wanted if i in self.products] if wanted else list(self.products.values())
        per_page = int(request.arg("per_page") or 10)
        return Reply.json(items[:per_page], headers={"X-WP-Total": str(len(items))})

    def _list_variations(self, request: Request) -> Reply:
        assert request.match is not None
        parent = int(request.match["parent"])
        if parent not in self.products:
            return _error("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
        own = self.variations.get(parent, {})
        wanted = self._include(request)
        items = [own[i] for i in wanted if i in own] if wanted else list(own.values())
        per_page = int(request.arg("per_page") or 10)
        return Reply.json(items[:per_page], headers={"X-WP-Total": str(len(items))})

    def _batch(self, request: Request, catalogue: dict[int, dict[str, Any]], kind: str) -> Reply:
        body = request.json()
        updates = body.get("update") or []
        if len(updates) + len(body.get("create") or []) + len(body.get("delete") or []) > BATCH_LIMIT:
            return _error(
                "woocommerce_rest_request_entity_too_large",
                f"Unable to accept more than {BATCH_LIMIT} items for this request.",
                413,
            )
        answer = []
        for item in updates:
            item_id = item.get("id")
            target = catalogue.get(item_id) if isinstance(item_id, int) else None
            if target is None:
                answer.append(
                    {
                        "id": item_id,
                        "error": {
                            "code": f"woocommerce_rest_{kind}_invalid_id",
                            "message": "Invalid ID.",
                            "data": {"status": 400},
                        },
                    }
                )
                continue
            quantity = item.get("stock_quantity")
            if "stock_quantity" in item and not isinstance(quantity, int):
                answer.append(
                    {
                        "id": item_id,
                        "error": {
                            "code": "rest_invalid_param",
                            "message": "stock_quantity is not of type integer.",
                            "data": {"status": 400},
                        },
                    }
                )
                continue
            if "manage_stock" in item:
                target["manage_stock"] = bool(item["manage_stock"])
            if "stock_quantity" in item:
                target["stock_quantity"] = quantity
                target["stock_status"] = "instock" if quantity > 0 else "outofstock"
            answer.append(copy.deepcopy(target))
        return Reply.json({"update": answer})

    def _batch_products(self, request: Request) -> Reply:
        return self._batch(request, self.products, "product")

    def _batch_variations(self, request: Request) -> Reply:
        assert request.match is not None
        parent = int(request.match["parent"])
        if parent not in self.products:
            return _error("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
        return self._batch(request, self.variations.setdefault(parent, {}), "product_variation")
