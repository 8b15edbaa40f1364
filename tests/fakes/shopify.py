"""A fake Shopify store: the GraphQL Admin API endpoint (``POST /admin/api/{version}/graphql.json``)
on FakeServer, seeded from the shared fixture order (the REST Order resource a webhook delivers),
which it turns into GraphQL ``Order`` nodes.

It recognises an operation by its root field (the first field inside the operation's braces) and
answers in Shopify's GraphQL shape: ``data``, ``extensions.cost``, ``userErrors``, and top-level
``errors`` with ``extensions.code`` (THROTTLED, and GraphQL validation errors for missing required
variables). Arguments are read from variables named like the arguments. It returns only the fields
whose names appear in the query text, so a field the connector reads but never asked for is missing
here too.

Operations: ``orders`` (``updated_at:>=`` search, UPDATED_AT sort, cursor pagination), ``order``
(with ``fulfillmentOrders`` and ``fulfillments``), ``nodes`` (InventoryItem ``inventoryLevel``),
``inventorySetQuantities``, ``fulfillmentCreate``, ``orderCancel``, ``fulfillmentEventCreate``.

Knobs: ``throttle()`` (GraphQL THROTTLED answers, HTTP 200), ``fail()`` (HTTP 429 with Retry-After,
or 5xx), a wrong ``X-Shopify-Access-Token`` gets 401 as the real API answers it.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.fakes.fixtures import CHANNEL_FIXTURES
from tests.fakes.server import FakeServer, Reply, Request

ACCESS_TOKEN = "shpat_fake_0000000000000000000000000000"
WEBHOOK_SECRET = "test_webhook_secret_do_not_use"  # the secret the fixture's signature was made with
API_VERSION = "2024-10"
LOCATION = "gid://shopify/Location/68012345678"
OTHER_LOCATION = "gid://shopify/Location/68012345679"
PAGE_LIMIT = 250
INVENTORY_REASONS = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_created",
        "movement_updated",
        "movement_received",
        "movement_canceled",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)
CANCEL_REASONS = frozenset({"CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF"})


def fixtures_dir() -> Path:
    return CHANNEL_FIXTURES


def fixture_bytes(name: str) -> bytes:
    return (fixtures_dir() / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture_bytes(name))


def webhook_headers() -> dict[str, str]:
    """The headers delivered with shopify_orders_create.json (without the fixture's notes)."""
    raw = fixture_json("shopify_orders_create.headers.json")
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def inventory_item_of(variant_id: int | str) -> str:
    """The fake's rule for a variant's inventory item (1:1 on Shopify): 4401… -> 4601…."""
    text = str(variant_id)
    return f"gid://shopify/InventoryItem/46{text[2:]}"


# -- REST Order -> GraphQL Order --------------------------------------------------------------------


def _utc(value: str | None) -> str | None:
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(amount: Any, currency: str) -> dict[str, Any]:
    text = str(amount if amount not in (None, "") else "0.00")
    return {
        "shopMoney": {"amount": text, "currencyCode": currency},
        "presentmentMoney": {"amount": text, "currencyCode": currency},
    }


def _address(a: dict[str, Any] | None) -> dict[str, Any] | None:
    if not a:
        return None
    return {
        "name": a.get("name"),
        "firstName": a.get("first_name"),
        "lastName": a.get("last_name"),
        "company": a.get("company"),
        "address1": a.get("address1"),
        "address2": a.get("address2"),
        "city": a.get("city"),
        "province": a.get("province"),
        "provinceCode": a.get("province_code"),
        "zip": a.get("zip"),
        "country": a.get("country"),
        "countryCodeV2": a.get("country_code"),
        "phone": a.get("phone"),
        "latitude": a.get("latitude"),
        "longitude": a.get("longitude"),
    }


_FULFILMENT_ENUM = {
    None: "UNFULFILLED",
    "partial": "PARTIALLY_FULFILLED",
    "fulfilled": "FULFILLED",
    "restocked": "RESTOCKED",
}


def graphql_order(rest: dict[str, Any]) -> dict[str, Any]:
    """The GraphQL Admin ``Order`` node for a REST Order resource (the fields the REST body has)."""
    currency = rest.get("currency") or "INR"
    customer = rest.get("customer") or {}
    lines = []
    for item in rest.get("line_items") or []:
        price = Decimal(item["price"])
        discount = Decimal(item.get("total_discount") or "0")
        variant = item.get("variant_id")
        lines.append(
            {
                "id": item.get("admin_graphql_api_id") or f"gid://shopify/LineItem/{item['id']}",
                "title": item.get("title"),
                "name": item.get("name"),
                "sku": item.get("sku"),
                "quantity": item["quantity"],
                "variant": None
                if variant is None
                else {
                    "id": f"gid://shopify/ProductVariant/{variant}",
                    "legacyResourceId": str(variant),
                    "inventoryItem": {"id": inventory_item_of(variant)},
                },
                "originalUnitPriceSet": _money(item["price"], currency),
                "discountedTotalSet": _money(price * item["quantity"] - discount, currency),
                "discountAllocations": [
                    {"allocatedAmountSet": _money(a["amount"], currency)}
                    for a in item.get("discount_allocations") or []
                ],
                "taxLines": [
                    {"title": t.get("title"), "rate": t.get("rate"), "priceSet": _money(t.get("price"), currency)}
                    for t in item.get("tax_lines") or []
                ],
            }
        )
    shipping_lines = rest.get("shipping_lines") or []
    shipping_line = shipping_lines[0] if shipping_lines else None
    tags = rest.get("tags") or ""
    return {
        "id": rest.get("admin_graphql_api_id") or f"gid://shopify/Order/{rest['id']}",
        "legacyResourceId": str(rest["id"]),
        "name": rest.get("name"),
        "createdAt": _utc(rest.get("created_at")),
        "updatedAt": _utc(rest.get("updated_at")),
        "processedAt": _utc(rest.get("processed_at")),
        "cancelledAt": _utc(rest.get("cancelled_at")),
        "cancelReason": (rest.get("cancel_reason") or "").upper() or None,
        "displayFinancialStatus": (rest.get("financial_status") or "").upper() or None,
        "displayFulfillmentStatus": _FULFILMENT_ENUM.get(rest.get("fulfillment_status"), "UNFULFILLED"),
        "paymentGatewayNames": list(rest.get("payment_gateway_names") or []),
        "currencyCode": currency,
        "taxesIncluded": rest.get("taxes_included"),
        "email": rest.get("email"),
        "phone": rest.get("phone"),
        "tags": [t.strip() for t in tags.split(",") if t.strip()],
        "note": rest.get("note"),
        "totalPriceSet": _money(rest.get("total_price"), currency),
        "subtotalPriceSet": _money(rest.get("subtotal_price"), currency),
        "totalTaxSet": _money(rest.get("total_tax"), currency),
        "totalDiscountsSet": _money(rest.get("total_discounts"), currency),
        "totalShippingPriceSet": _money(
            ((rest.get("total_shipping_price_set") or {}).get("shop_money") or {}).get("amount"), currency
        ),
        "customer": None
        if not customer
        else {
            "id": customer.get("admin_graphql_api_id"),
            "firstName": customer.get("first_name"),
            "lastName": customer.get("last_name"),
            "displayName": " ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p),
            "email": customer.get("email"),
            "phone": customer.get("phone"),
        },
        "shippingAddress": _address(rest.get("shipping_address")),
        "billingAddress": _address(rest.get("billing_address")),
        "shippingLine": None
        if shipping_line is None
        else {
            "title": shipping_line.get("title"),
            "code": shipping_line.get("code"),
            "originalPriceSet": _money(shipping_line.get("price"), currency),
            "discountedPriceSet": _money(shipping_line.get("discounted_price"), currency),
        },
        "lineItems": {"nodes": lines},
    }


def order_variant(rest: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of a REST order with other values: ``id`` (also renumbers the line items and gids),
    ``updated_at``, ``financial_status``, ``fulfillment_status``, ``cancelled_at``,
    ``payment_gateway_names`` …"""
    order = copy.deepcopy(rest)
    if "id" in changes:
        new_id = int(changes["id"])
        order["admin_graphql_api_id"] = f"gid://shopify/Order/{new_id}"
        order["name"] = f"#{new_id % 100000}"
        for k, item in enumerate(order.get("line_items") or []):
            item["id"] = new_id * 10 + k
            item["admin_graphql_api_id"] = f"gid://shopify/LineItem/{item['id']}"
    order.update(changes)
    if "payment_gateway_names" in changes:
        order["gateway"] = (changes["payment_gateway_names"] or [""])[0]
    return order


# -- the fake ---------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _words(query: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", query))


def _project(value: Any, words: set[str]) -> Any:
    """Keep the fields the query names (by name, at any depth): a rough GraphQL selection."""
    if isinstance(value, dict):
        return {k: _project(v, words) for k, v in value.items() if k in words}
    if isinstance(value, list):
        return [_project(v, words) for v in value]
    return value


def _root_field(query: str) -> str | None:
    match = re.search(r"\{\s*([A-Za-z_][A-Za-z0-9_]*)", query)
    return match.group(1) if match else None


class GraphQLError(Exception):
    def __init__(self, message: str, code: str = "BAD_REQUEST"):
        super().__init__(message)
        self.code = code


class FakeShopify:
    def __init__(self, *, token: str = ACCESS_TOKEN, api_version: str = API_VERSION, location: str = LOCATION):
        self.token = token
        self.api_version = api_version
        self.location = location
        self.server = FakeServer()
        self.server.route("POST", rf"/admin/api/{re.escape(api_version)}/graphql\.json", self._handle)
        self.orders: dict[str, dict[str, Any]] = {}  # order gid -> GraphQL Order node
        self.fulfillment_orders: dict[str, list[dict[str, Any]]] = {}  # order gid -> fulfilment orders
        self.locations: set[str] = {location, OTHER_LOCATION}
        self.items: set[str] = set()  # InventoryItem gids
        self.levels: dict[tuple[str, str], int] = {}  # (item gid, location gid) -> available
        self.inventory_inputs: list[dict[str, Any]] = []  # every inventorySetQuantities input received
        self.fulfillments: list[dict[str, Any]] = []
        self.cancellations: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.operations: list[tuple[str, dict[str, Any]]] = []  # (root field, variables) answered
        self._throttles: list[dict[str, float]] = []
        self._failures: list[tuple[int, str | None]] = []
        self._ids = itertools.count(900000000001)

    # -- lifecycle ----------------------------------------------------------------------------------

    def __enter__(self) -> FakeShopify:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    # -- seeding ------------------------------------------------------------------------------------

    def add_rest_order(self, rest: dict[str, Any], *, locations: dict[int, str] | None = None) -> dict[str, Any]:
        """Store an order given as the REST resource; ``locations`` assigns line positions to a
        location other than the default (one fulfilment order per location)."""
        node = graphql_order(rest)
        self.orders[node["id"]] = node
        by_location: dict[str, list[dict[str, Any]]] = {}
        for k, line in enumerate(node["lineItems"]["nodes"]):
            where = (locations or {}).get(k, self.location)
            by_location.setdefault(where, []).append(
                {
                    "id": f"gid://shopify/FulfillmentOrderLineItem/{next(self._ids)}",
                    "totalQuantity": line["quantity"],
                    "remainingQuantity": line["quantity"],
                    "lineItem": {"id": line["id"]},
                }
            )
            if line.get("variant"):
                self.items.add(line["variant"]["inventoryItem"]["id"])
        self.fulfillment_orders[node["id"]] = [
            {
                "id": f"gid://shopify/FulfillmentOrder/{next(self._ids)}",
                "status": "OPEN",
                "assignedLocation": {"location": {"id": where}},
                "lineItems": {"nodes": items},
            }
            for where, items in by_location.items()
        ]
        return node

    def seed_fixture(self) -> dict[str, Any]:
        return self.add_rest_order(fixture_json("shopify_orders_create.json"))

    def stock(self, item: str, location: str | None = None, available: int = 0) -> None:
        self.items.add(item)
        self.levels[(item, location or self.location)] = available

    def available(self, item: str, location: str | None = None) -> int | None:
        return self.levels.get((item, location or self.location))

    def throttle(self, times: int = 1, *, requested: float = 252, available: float = 52, restore: float = 50) -> None:
        """The next ``times`` GraphQL calls answer THROTTLED (HTTP 200, no data)."""
        for _ in range(times):
            self._throttles.append({"requested": requested, "available": available, "restore": restore})

    def fail(self, status: int, times: int = 1, *, retry_after: str | None = None) -> None:
        """The next ``times`` calls answer this HTTP status (429 with Retry-After, 5xx …)."""
        self._failures.extend([(status, retry_after)] * times)

    def ops(self) -> list[str]:
        return [name for name, _ in self.operations]

    # -- HTTP ---------------------------------------------------------------------------------------

    def _handle(self, request: Request) -> Reply:
        if self._failures:
            status, retry_after = self._failures.pop(0)
            headers = {"Retry-After": retry_after} if retry_after else {}
            return Reply.json({"errors": "Exceeded 2 calls per second for api client."}, status, headers)
        if request.header("X-Shopify-Access-Token") != self.token:
            return Reply.json(
                {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}, 401
            )
        try:
            body = request.json()
            query = body["query"]
            variables = body.get("variables") or {}
            assert isinstance(query, str) and isinstance(variables, dict)
        except (ValueError, KeyError, AssertionError):
            return Reply.json({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        if self._throttles:
            t = self._throttles.pop(0)
            return Reply.json(
                {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": {
                        "cost": {
                            "requestedQueryCost": t["requested"],
                            "actualQueryCost": None,
                            "throttleStatus": {
                                "maximumAvailable": 2000.0,
                                "currentlyAvailable": t["available"],
                                "restoreRate": t["restore"],
                            },
                        }
                    },
                }
            )
        root = _root_field(query)
        handler = {
            "orders": self._orders,
            "order": self._order,
            "nodes": self._nodes,
            "inventorySetQuantities": self._inventory_set,
            "fulfillmentCreate": self._fulfillment_create,
            "orderCancel": self._order_cancel,
            "fulfillmentEventCreate": self._fulfillment_event,
        }.get(root or "")
        if handler is None:
            return self._errors(f"Field '{root}' doesn't exist on type 'QueryRoot'", "undefinedField")
        try:
            data = handler(variables)
        except GraphQLError as e:
            return self._errors(str(e), e.code)
        self.operations.append((root or "", variables))
        return Reply.json(
            {
                "data": {root: _project(data, _words(query))},
                "extensions": {
                    "cost": {
                        "requestedQueryCost": 12,
                        "actualQueryCost": 10,
                        "throttleStatus": {
                            "maximumAvailable": 2000.0,
                            "currentlyAvailable": 1990.0,
                            "restoreRate": 100.0,
                        },
                    }
                },
            }
        )

    @staticmethod
    def _errors(message: str, code: str) -> Reply:
        return Reply.json({"errors": [{"message": message, "extensions": {"code": code}}]})

    @staticmethod
    def _require(variables: dict[str, Any], *names: str) -> None:
        for name in names:
            if variables.get(name) is None:
                raise GraphQLError(f"Variable ${name} of type non-null was provided invalid value", "INVALID_VARIABLE")

    # -- queries ------------------------------------------------------------------------------------

    def _orders(self, v: dict[str, Any]) -> dict[str, Any]:
        self._require(v, "first")
        first = int(v["first"])
        if first > PAGE_LIMIT:
            raise GraphQLError(f"The page size requested ({first}) exceeds the maximum of {PAGE_LIMIT}", "BAD_REQUEST")
        since = None
        match = re.search(r"updated_at:>=\s*'?([0-9T:\-+.Z]+)'?", v.get("query") or "")
        if match:
            since = datetime.fromisoformat(match.group(1).replace("Z", "+00:00"))
        rows = sorted(self.orders.values(), key=lambda n: (n["updatedAt"], int(n["legacyResourceId"])))
        if since is not None:
            rows = [n for n in rows if datetime.fromisoformat(n["updatedAt"].replace("Z", "+00:00")) >= since]
        if v.get("after"):
            key = json.loads(base64.b64decode(v["after"]))
            rows = [n for n in rows if (n["updatedAt"], int(n["legacyResourceId"])) > (key[0], key[1])]
        page, rest = rows[:first], rows[first:]
        end = (
            base64.b64encode(json.dumps([page[-1]["updatedAt"], int(page[-1]["legacyResourceId"])]).encode()).decode()
            if page
            else None
        )
        return {
            "pageInfo": {"hasNextPage": bool(rest), "hasPreviousPage": bool(v.get("after")), "endCursor": end},
            "nodes": page,
        }

    def _order(self, v: dict[str, Any]) -> dict[str, Any] | None:
        self._require(v, "id")
        node = self.orders.get(v["id"])
        if node is None:
            return None
        return {
            **node,
            "fulfillmentOrders": {"nodes": self.fulfillment_orders.get(node["id"], [])},
            "fulfillments": [
                {"id": f["id"], "status": f["status"]} for f in self.fulfillments if f["order"] == node["id"]
            ],
        }

    def _nodes(self, v: dict[str, Any]) -> list[dict[str, Any] | None]:
        self._require(v, "ids", "locationId")
        if len(v["ids"]) > 250:
            raise GraphQLError("nodes accepts at most 250 ids", "MAX_COST_EXCEEDED")
        out: list[dict[str, Any] | None] = []
        for gid in v["ids"]:
            if gid not in self.items:
                out.append(None)
                continue
            level = self.levels.get((gid, v["locationId"]))
            out.append(
                {
                    "id": gid,
                    "inventoryLevel": None
                    if level is None
                    else {"quantities": [{"name": "available", "quantity": level}]},
                }
            )
        return out

    # -- mutations ----------------------------------------------------------------------------------

    def _inventory_set(self, v: dict[str, Any]) -> dict[str, Any]:
        self._require(v, "input")
        data = v["input"]
        self.inventory_inputs.append(copy.deepcopy(data))
        errors: list[dict[str, Any]] = []
        if data.get("name") not in ("available", "on_hand"):
            errors.append(
                {"code": "INVALID_NAME", "field": ["input", "name"], "message": "The quantity name is invalid."}
            )
        if data.get("reason") not in INVENTORY_REASONS:
            errors.append(
                {"code": "INVALID_REASON", "field": ["input", "reason"], "message": "The specified reason is invalid."}
            )
        quantities = data.get("quantities") or []
        if len(quantities) > PAGE_LIMIT:
            errors.append(
                {
                    "code": "INVALID_QUANTITY_TOO_HIGH",
                    "field": ["input", "quantities"],
                    "message": "Too many quantities.",
                }
            )
        for k, q in enumerate(quantities):
            field = ["input", "quantities", str(k)]
            if not data.get("ignoreCompareQuantity") and q.get("compareQuantity") is None:
                errors.append(
                    {
                        "code": "COMPARE_QUANTITY_REQUIRED",
                        "field": [*field, "compareQuantity"],
                        "message": "The compareQuantity argument must be given to each quantity or ignored using ignoreCompareQuantity.",
                    }
                )
            if q.get("inventoryItemId") not in self.items:
                errors.append(
                    {
                        "code": "INVALID_INVENTORY_ITEM",
                        "field": [*field, "inventoryItemId"],
                        "message": "The specified inventory item could not be found.",
                    }
                )
            elif q.get("locationId") not in self.locations:
                errors.append(
                    {
                        "code": "INVALID_LOCATION",
                        "field": [*field, "locationId"],
                        "message": "The specified location could not be found.",
                    }
                )
            elif (q["inventoryItemId"], q["locationId"]) not in self.levels:
                errors.append(
                    {
                        "code": "ITEM_NOT_STOCKED_AT_LOCATION",
                        "field": [*field, "locationId"],
                        "message": "The specified inventory item is not stocked at the location.",
                    }
                )
        if errors:  # all or nothing
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        changes = []
        for q in quantities:
            key = (q["inventoryItemId"], q["locationId"])
            changes.append({"name": data["name"], "delta": int(q["quantity"]) - self.levels[key]})
            self.levels[key] = int(q["quantity"])
        return {
            "inventoryAdjustmentGroup": {"createdAt": _now(), "reason": data["reason"], "changes": changes},
            "userErrors": [],
        }

    def _fulfillment_create(self, v: dict[str, Any]) -> dict[str, Any]:
        self._require(v, "fulfillment")
        data = v["fulfillment"]
        groups = data.get("lineItemsByFulfillmentOrder") or []

        def refuse(message: str, field: list[str]) -> dict[str, Any]:
            return {"fulfillment": None, "userErrors": [{"field": ["fulfillment", *field], "message": message}]}

        if not groups:
            return refuse("Line items by fulfillment order can't be blank.", ["lineItemsByFulfillmentOrder"])
        found = []
        for k, group in enumerate(groups):
            owner = next(
                (
                    (gid, fo)
                    for gid, fos in self.fulfillment_orders.items()
                    for fo in fos
                    if fo["id"] == group.get("fulfillmentOrderId")
                ),
                None,
            )
            if owner is None:
                return refuse("Fulfillment order does not exist.", ["lineItemsByFulfillmentOrder", str(k)])
            if owner[1]["status"] not in ("OPEN", "IN_PROGRESS"):
                return refuse(
                    f"Fulfillment order {owner[1]['id']} has an unfulfillable status= {owner[1]['status'].lower()}.",
                    ["lineItemsByFulfillmentOrder", str(k)],
                )
            found.append((owner, group))
        if (
            len({gid for (gid, _), _ in found}) > 1
            or len({fo["assignedLocation"]["location"]["id"] for (_, fo), _ in found}) > 1
        ):
            return refuse(
                "All fulfillment orders must be from the same order and location.", ["lineItemsByFulfillmentOrder"]
            )
        taken: list[tuple[dict[str, Any], int]] = []
        for (_, fo), group in found:
            lines = {line["id"]: line for line in fo["lineItems"]["nodes"]}
            asked = group.get("fulfillmentOrderLineItems")
            if asked is None:
                taken += [(line, line["remainingQuantity"]) for line in lines.values() if line["remainingQuantity"] > 0]
                continue
            for item in asked:
                line = lines.get(item.get("id"))
                if line is None or not 0 < int(item.get("quantity") or 0) <= line["remainingQuantity"]:
                    return refuse(
                        "Invalid fulfillment order line item quantity requested.", ["lineItemsByFulfillmentOrder"]
                    )
                taken.append((line, int(item["quantity"])))
        for line, quantity in taken:
            line["remainingQuantity"] -= quantity
        for (_, fo), _ in found:
            left = sum(line["remainingQuantity"] for line in fo["lineItems"]["nodes"])
            fo["status"] = "CLOSED" if left == 0 else "IN_PROGRESS"
        order_gid = found[0][0][0]
        fulfillment = {
            "id": f"gid://shopify/Fulfillment/{next(self._ids)}",
            "status": "SUCCESS",
            "order": order_gid,
            "trackingInfo": data.get("trackingInfo"),
            "notifyCustomer": data.get("notifyCustomer", False),
            "lineItems": [(line["lineItem"]["id"], quantity) for line, quantity in taken],
        }
        self.fulfillments.append(fulfillment)
        order = self.orders[order_gid]
        every = self.fulfillment_orders[order_gid]
        order["displayFulfillmentStatus"] = (
            "FULFILLED" if all(fo["status"] == "CLOSED" for fo in every) else "PARTIALLY_FULFILLED"
        )
        order["updatedAt"] = _now()
        return {"fulfillment": {"id": fulfillment["id"], "status": "SUCCESS"}, "userErrors": []}

    def _order_cancel(self, v: dict[str, Any]) -> dict[str, Any]:
        self._require(v, "orderId", "reason", "refund", "restock")
        if v["reason"] not in CANCEL_REASONS:
            raise GraphQLError(
                "Variable $reason of type OrderCancelReason! was provided invalid value", "INVALID_VARIABLE"
            )
        order = self.orders.get(v["orderId"])
        if order is None:
            return {
                "job": None,
                "orderCancelUserErrors": [
                    {"code": "NOT_FOUND", "field": ["orderId"], "message": "Order does not exist"}
                ],
            }
        if order.get("cancelledAt"):
            return {
                "job": None,
                "orderCancelUserErrors": [
                    {"code": "INVALID", "field": ["orderId"], "message": "Order has already been cancelled"}
                ],
            }
        order["cancelledAt"] = order["updatedAt"] = _now()
        order["cancelReason"] = v["reason"]
        for fo in self.fulfillment_orders.get(order["id"], []):
            if fo["status"] in ("OPEN", "IN_PROGRESS", "SCHEDULED", "ON_HOLD"):
                fo["status"] = "CANCELLED"
        self.cancellations.append(dict(v))
        return {"job": {"id": f"gid://shopify/Job/{next(self._ids)}", "done": False}, "orderCancelUserErrors": []}

    def _fulfillment_event(self, v: dict[str, Any]) -> dict[str, Any]:
        self._require(v, "fulfillmentEvent")
        event = v["fulfillmentEvent"]
        if not any(f["id"] == event.get("fulfillmentId") for f in self.fulfillments):
            return {
                "fulfillmentEvent": None,
                "userErrors": [
                    {"field": ["fulfillmentEvent", "fulfillmentId"], "message": "Fulfillment does not exist."}
                ],
            }
        record = {"id": f"gid://shopify/FulfillmentEvent/{next(self._ids)}", **event}
        self.events.append(record)
        return {"fulfillmentEvent": {"id": record["id"], "status": event.get("status")}, "userErrors": []}
