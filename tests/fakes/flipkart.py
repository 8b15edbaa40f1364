"""A fake of Flipkart's Marketplace Seller API v3 on FakeServer, speaking its public format.

It issues OAuth client-credentials tokens (HTTP Basic app id / secret) and refuses any API call
without a current bearer token (401), searches shipments with the v3 filter and pages them through
``nextPageUrl``, answers the per-order and shipping-details reads, moves shipments through
labels -> ready-to-dispatch -> (self-ship) dispatch -> delivery and seller cancellation, and keeps
listing inventory per SKU and location. ``throttle`` and ``fail`` queue 429s and 5xx answers.

Seeded from the shared fixtures: flipkart_shipments.json (two shipments) and
flipkart_listings_update_inventory.json (two SKUs at one location). Buyer addresses are not in the
fixtures (the filter call does not return them); the fake makes up details in Flipkart's
``ShipmentDetails`` shape for each seeded shipment.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from tests.fakes.fixtures import CHANNEL_FIXTURES
from tests.fakes.server import FakeServer, Reply, Request

FIXTURES = CHANNEL_FIXTURES

APP_ID = "fk-app-test"
APP_SECRET = "fk-secret-test-do-not-use"

ADDRESSES = {
    "3f6a9c2e-1b4d-4e8f-9a7c-5d2e1f0a3b4c": {
        "firstName": "Asha",
        "lastName": "Verma",
        "addressLine1": "12, 3rd Cross, Indiranagar",
        "addressLine2": "HAL 2nd Stage",
        "landmark": "Near Metro Station",
        "city": "Bengaluru",
        "state": "Karnataka",
        "stateCode": "KA",
        "pinCode": "560038",
        "contactNumber": "9000000001",
    },
    "8b2d4f6a-3c5e-4a7b-9d1f-2e4a6c8b0d1e": {
        "firstName": "Rahul",
        "lastName": "Nair",
        "addressLine1": "Flat 4B, Sea View Apartments",
        "addressLine2": "",
        "landmark": None,
        "city": "Kochi",
        "state": "Kerala",
        "stateCode": "KL",
        "pinCode": "682001",
        "contactNumber": "9000000002",
    },
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class FakeFlipkart:
    def __init__(self, *, token_lifetime: int = 3600) -> None:
        self.server = FakeServer()
        self.token_lifetime = token_lifetime
        self.tokens: set[str] = set()
        self.tokens_issued = 0
        self.tokens_work = True  # False: tokens are issued but every API call with them gets 401
        self.shipments: dict[str, dict[str, Any]] = {}
        self.details: dict[str, dict[str, Any]] = {}
        self.cancellation_type: dict[str, str] = {}
        self.listings: dict[str, dict[str, Any]] = {}
        self.pages: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self.inventory_calls: list[dict[str, Any]] = []
        self.rtd: list[str] = []
        self.self_dispatched: dict[str, dict[str, Any]] = {}
        self.cancelled: list[dict[str, Any]] = []
        self.labels: list[dict[str, Any]] = []
        self._throttles: list[tuple[re.Pattern[str], int]] = []
        self._failures: list[tuple[re.Pattern[str], int]] = []
        self.seed()
        s = self.server
        s.route("GET", r"/oauth-service/oauth/token", self._token)
        s.route("POST", r"/sellers/v3/shipments/filter", self._guard(self._filter))
        s.route("GET", r"/sellers/v3/shipments/filter", self._guard(self._next_page))
        s.route("POST", r"/sellers/v3/shipments/labels", self._guard(self._labels))
        s.route("POST", r"/sellers/v3/shipments/dispatch", self._guard(self._dispatch))
        s.route("POST", r"/sellers/v3/shipments/selfShip/dispatch", self._guard(self._self_dispatch))
        s.route("POST", r"/sellers/v3/shipments/selfShip/delivery", self._guard(self._self_delivery))
        s.route("POST", r"/sellers/v3/shipments/cancel", self._guard(self._cancel))
        s.route("GET", r"/sellers/v3/shipments", self._guard(self._by_ids))
        s.route("GET", r"/sellers/v3/shipments/(?P<ids>[^/]+)", self._guard(self._shipping_details))
        s.route("POST", r"/sellers/listings/v3/update/inventory", self._guard(self._update_inventory))
        s.route("GET", r"/sellers/listings/v3/(?P<skus>[^/]+)", self._guard(self._get_listings))

    # -- set-up ----------------------------------------------------------------------------------

    def seed(self) -> None:
        for shipment in load("flipkart_shipments.json")["shipments"]:
            self.add_shipment(shipment, address=ADDRESSES.get(shipment["shipmentId"]))
        inventory = load("flipkart_listings_update_inventory.json")
        listing_ids = {
            i["sku"]: i["listingId"] for s in self.shipments.values() for i in s["orderItems"] if i.get("listingId")
        }
        for sku, entry in inventory.items():
            if sku.startswith("_"):
                continue
            self.listings[sku] = {
                "listingId": listing_ids.get(sku, f"LST{sku}"),
                "productId": entry["product_id"],
                "listingStatus": "ACTIVE",
                "locations": [{"id": loc["id"], "status": "ENABLED", "inventory": 7} for loc in entry["locations"]],
            }

    def add_shipment(
        self, shipment: dict[str, Any], *, address: dict[str, Any] | None = None, cancellation_type: str | None = None
    ) -> None:
        shipment = copy.deepcopy(shipment)
        sid = shipment["shipmentId"]
        self.shipments[sid] = shipment
        order_id = shipment["orderItems"][0]["orderId"]
        self.details[sid] = {
            "shipmentId": sid,
            "orderId": order_id,
            "locationId": shipment.get("locationId"),
            "orderItems": [
                {"id": i["orderItemId"], "fragile": False, "large": False, "dangerous": False}
                for i in shipment["orderItems"]
            ],
            "deliveryAddress": copy.deepcopy(address) if address else None,
            "billingAddress": copy.deepcopy(address) if address else None,
            "buyerDetails": {"firstName": address["firstName"], "lastName": address["lastName"]} if address else None,
            "sellerAddress": None,
            "returnAddress": None,
        }
        if cancellation_type:
            self.cancellation_type[sid] = cancellation_type

    def throttle(self, path_pattern: str, times: int = 1) -> None:
        """The next ``times`` calls to paths matching the pattern get 429 with Retry-After: 2."""
        self._throttles.append((re.compile(path_pattern), times))

    def fail(self, path_pattern: str, status: int = 503) -> None:
        self._failures.append((re.compile(path_pattern), status))

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def status_of(self, order_item_id: str) -> str:
        for s in self.shipments.values():
            for i in s["orderItems"]:
                if i["orderItemId"] == order_item_id:
                    return str(i["status"])
        raise KeyError(order_item_id)

    def inventory(self, sku: str, location: str) -> int:
        return next(int(loc["inventory"]) for loc in self.listings[sku]["locations"] if loc["id"] == location)

    def __enter__(self) -> FakeFlipkart:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    # -- auth ------------------------------------------------------------------------------------

    def _token(self, req: Request) -> Reply:
        expected = "Basic " + base64.b64encode(f"{APP_ID}:{APP_SECRET}".encode()).decode()
        if req.header("Authorization") != expected:
            return Reply.json({"error": "unauthorized", "error_description": "Bad credentials"}, 401)
        if req.arg("grant_type") != "client_credentials" or req.arg("scope") != "Seller_Api":
            return Reply.json({"error": "invalid_request"}, 400)
        token = secrets.token_hex(16)
        if self.tokens_work:
            self.tokens.add(token)
        self.tokens_issued += 1
        return Reply.json(
            {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime, "scope": "Seller_Api"}
        )

    def _guard(self, handler: Any) -> Any:
        def guarded(req: Request) -> Reply:
            for index, (pattern, times) in enumerate(self._throttles):
                if times > 0 and pattern.search(req.path):
                    self._throttles[index] = (pattern, times - 1)
                    return Reply.json({"error": "Too many requests"}, 429, {"Retry-After": "2"})
            for index, (pattern, status) in enumerate(self._failures):
                if pattern.search(req.path):
                    del self._failures[index]
                    return Reply.json({"error": "Service unavailable"}, status)
            auth = req.header("Authorization") or ""
            if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
                return Reply.json({"error": "invalid_token", "error_description": "Invalid access token"}, 401)
            return handler(req)

        return guarded

    # -- shipments -------------------------------------------------------------------------------

    def _matches(self, shipment: dict[str, Any], f: dict[str, Any]) -> bool:
        statuses = {i["status"] for i in shipment["orderItems"]}
        kind = f.get("type")
        if kind == "preDispatch":
            if bool(shipment.get("hold")) != bool(f.get("hold", False)):
                return False
            if not statuses & set(f.get("states") or []):
                return False
        elif kind == "postDispatch":
            if not statuses & set(f.get("states") or []):
                return False
        elif kind == "cancelled":
            if statuses != {"CANCELLED"}:
                return False
            wanted = f.get("cancellationType")
            if wanted and self.cancellation_type.get(shipment["shipmentId"], "buyerCancellation") != wanted:
                return False
        else:
            raise ValueError(f"unknown filter type {kind}")
        if f.get("locationId") and shipment.get("locationId") != f["locationId"]:
            return False
        for field, stamp in (
            ("modifiedDate", shipment.get("updatedAt")),
            ("orderDate", shipment["orderItems"][0].get("orderDate")),
            ("cancellationDate", shipment["orderItems"][0].get("cancellationDate")),
        ):
            window = f.get(field)
            if window:
                if not stamp:
                    return False
                at = _time(stamp)
                if window.get("from") and at < _time(window["from"]):
                    return False
                if window.get("to") and at > _time(window["to"]):
                    return False
        return True

    def _filter(self, req: Request) -> Reply:
        body = req.json()
        f = body.get("filter") or {}
        if f.get("type") not in ("preDispatch", "postDispatch", "cancelled"):
            return Reply.json({"errors": [{"code": "INVALID_FILTER", "message": "type is required"}]}, 400)
        if f.get("type") == "cancelled" and not f.get("cancellationType"):
            return Reply.json({"errors": [{"code": "INVALID_FILTER", "message": "cancellationType required"}]}, 400)
        size = int((body.get("pagination") or {}).get("pageSize") or 20)
        if size > 20:
            return Reply.json({"errors": [{"code": "INVALID_PAGE_SIZE", "message": "pageSize max 20"}]}, 400)
        found = sorted(
            (s for s in self.shipments.values() if self._matches(s, f)), key=lambda s: s.get("updatedAt") or ""
        )
        return self._page(found, size)

    def _page(self, found: list[dict[str, Any]], size: int) -> Reply:
        head, rest = found[:size], found[size:]
        next_url = None
        if rest:
            token = secrets.token_urlsafe(8)
            self.pages[token] = (rest, size)
            next_url = f"/v3/shipments/filter?nextToken={token}"
        return Reply.json({"hasMore": bool(rest), "nextPageUrl": next_url, "shipments": copy.deepcopy(head)})

    def _next_page(self, req: Request) -> Reply:
        token = req.arg("nextToken") or ""
        if token not in self.pages:
            return Reply.json({"errors": [{"code": "INVALID_TOKEN", "message": "unknown nextToken"}]}, 400)
        rest, size = self.pages.pop(token)
        return self._page(rest, size)

    def _by_ids(self, req: Request) -> Reply:
        kinds = [k for k in ("shipmentIds", "orderIds", "orderItemIds") if req.arg(k)]
        if len(kinds) != 1:
            return Reply.json({"errors": [{"message": "exactly one of shipmentIds, orderIds, orderItemIds"}]}, 400)
        wanted = set((req.arg(kinds[0]) or "").split(","))
        out = []
        for s in self.shipments.values():
            if kinds[0] == "shipmentIds":
                hit = s["shipmentId"] in wanted
            elif kinds[0] == "orderIds":
                hit = any(i["orderId"] in wanted for i in s["orderItems"])
            else:
                hit = any(i["orderItemId"] in wanted for i in s["orderItems"])
            if hit:
                out.append(copy.deepcopy(s))
        return Reply.json({"shipments": out})

    def _shipping_details(self, req: Request) -> Reply:
        assert req.match is not None
        ids = req.match["ids"].split(",")
        return Reply.json({"shipments": [copy.deepcopy(self.details[i]) for i in ids if i in self.details]})

    def _result(self, sid: str, ok: bool, message: str = "") -> dict[str, Any]:
        if ok:
            return {"shipmentId": sid, "status": "SUCCESS"}
        return {"shipmentId": sid, "status": "FAILURE", "errorCode": "INVALID_STATE", "errorMessage": message}

    def _set(self, sid: str, status: str) -> None:
        for item in self.shipments[sid]["orderItems"]:
            if item["status"] != "CANCELLED":
                item["status"] = status

    def _labels(self, req: Request) -> Reply:
        rows = []
        for pack in req.json().get("shipments") or []:
            self.labels.append(pack)
            sid = pack.get("shipmentId")
            s = self.shipments.get(sid)
            if s is None:
                rows.append(self._result(sid, False, "unknown shipment"))
                continue
            items = {i["orderItemId"] for i in s["orderItems"] if i["status"] != "CANCELLED"}
            taxed = {t.get("orderItemId") for t in pack.get("taxItems") or [] if t.get("taxRate") is not None}
            if not items <= taxed:
                rows.append(self._result(sid, False, "taxRate is required for every order item"))
            elif {i["status"] for i in s["orderItems"]} - {"CANCELLED"} != {"APPROVED"}:
                rows.append(self._result(sid, False, "shipment is not in APPROVED state"))
            else:
                self._set(sid, "PACKED")
                rows.append(self._result(sid, True))
        return Reply.json({"shipments": rows})

    def _dispatch(self, req: Request) -> Reply:
        body = req.json()
        rows = []
        for sid in body.get("shipmentIds") or []:
            s = self.shipments.get(sid)
            states = {i["status"] for i in s["orderItems"]} - {"CANCELLED"} if s else set()
            if not s or states != {"PACKED"} or s.get("locationId") != body.get("locationId"):
                rows.append(self._result(sid, False, "shipment is not PACKED at that location"))
            else:
                self._set(sid, "READY_TO_DISPATCH")
                self.rtd.append(sid)
                rows.append(self._result(sid, True))
        return Reply.json({"shipments": rows})

    def _self_dispatch(self, req: Request) -> Reply:
        rows = []
        for d in req.json().get("shipments") or []:
            sid = d.get("shipmentId")
            s = self.shipments.get(sid)
            required = ("dispatchDate", "tentativeDeliveryDate", "invoice")
            if not s or s.get("shipmentType") != "SELF" or any(not d.get(k) for k in required):
                rows.append(self._result(sid, False, "not a self-ship shipment, or fields missing"))
            elif {i["status"] for i in s["orderItems"]} - {"CANCELLED"} - {"PACKED", "READY_TO_DISPATCH"}:
                rows.append(self._result(sid, False, "shipment is not packed"))
            else:
                self._set(sid, "SHIPPED")
                self.self_dispatched[sid] = d
                rows.append(self._result(sid, True))
        return Reply.json({"shipments": rows})

    def _self_delivery(self, req: Request) -> Reply:
        rows = []
        for d in req.json().get("shipments") or []:
            sid = d.get("shipmentId")
            s = self.shipments.get(sid)
            if not s or s.get("shipmentType") != "SELF" or not d.get("deliveryDate"):
                rows.append(self._result(sid, False, "not a self-ship shipment"))
            else:
                self._set(sid, "DELIVERED")
                rows.append(self._result(sid, True))
        return Reply.json({"shipments": rows})

    def _cancel(self, req: Request) -> Reply:
        rows = []
        for c in req.json().get("shipments") or []:
            self.cancelled.append(c)
            sid = c.get("shipmentId")
            s = self.shipments.get(sid)
            groups = set(c.get("cancellationGroupIds") or [])
            items = [i for i in (s or {}).get("orderItems", []) if i["cancellationGroupId"] in groups]
            if not s or not items or not c.get("reason"):
                rows.append(self._result(sid, False, "unknown shipment or cancellation group"))
            elif any(i["status"] not in ("APPROVED", "PACKING_IN_PROGRESS") for i in items):
                rows.append(self._result(sid, False, "order items are past PACKED"))
            else:
                for i in items:
                    i["status"] = "CANCELLED"
                    i["cancellationReason"] = c["reason"]
                self.cancellation_type[sid] = "sellerCancellation"
                rows.append(self._result(sid, True))
        return Reply.json({"shipments": rows})

    # -- listings --------------------------------------------------------------------------------

    def _update_inventory(self, req: Request) -> Reply:
        body = req.json()
        self.inventory_calls.append(body)
        if len(body) > 10:
            return Reply.json({"errors": [{"code": 4001, "description": "at most 10 SKUs per request"}]}, 400)
        out: dict[str, Any] = {}
        for sku, entry in body.items():
            listing = self.listings.get(sku)
            if listing is None:
                out[sku] = {
                    "status": "FAILURE",
                    "errors": [{"severity": "ERROR", "code": 1001, "description": f"SKU {sku} not found"}],
                    "attribute_errors": [],
                }
                continue
            if entry.get("product_id") != listing["productId"]:
                out[sku] = {
                    "status": "FAILURE",
                    "errors": [{"severity": "ERROR", "code": 1002, "description": "product_id does not match the SKU"}],
                    "attribute_errors": [],
                }
                continue
            known = {loc["id"]: loc for loc in listing["locations"]}
            bad = [loc.get("id") for loc in entry.get("locations") or [] if loc.get("id") not in known]
            if bad:
                out[sku] = {
                    "status": "FAILURE",
                    "errors": [{"severity": "ERROR", "code": 1003, "description": f"unknown location {bad[0]}"}],
                    "attribute_errors": [],
                }
                continue
            for loc in entry["locations"]:
                known[loc["id"]]["inventory"] = int(loc["inventory"])
            out[sku] = {"status": "SUCCESS", "errors": [], "attribute_errors": []}
        return Reply.json(out)

    def _get_listings(self, req: Request) -> Reply:
        assert req.match is not None
        skus = [unquote(s) for s in req.match["skus"].split(",")]
        available = {s: copy.deepcopy(self.listings[s]) for s in skus if s in self.listings}
        return Reply.json(
            {"available": available, "unavailable": [s for s in skus if s not in self.listings], "invalid": []}
        )
