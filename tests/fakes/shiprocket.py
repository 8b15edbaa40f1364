"""A fake Shiprocket (external API v1) on FakeServer, speaking the formats of FORMATS.md section 5:
token login, serviceability per pincode pair (some pincodes unserviceable, some without COD), adhoc
orders, AWB assignment, labels (a small valid PDF on a "file store" route that, like a pre-signed
storage URL, refuses an Authorization header), pickups, AWB cancellation, tracking by AWB, NDR
actions (recorded), and on request 429 + Retry-After or 5xx blips.

    with FakeShiprocket() as sr:
        carrier = ShiprocketCarrier(CarrierConfig(sr.url, sr.credentials), Http(sr.url))
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

from tests.fakes.fixtures import CARRIER_FIXTURES
from tests.fakes.server import FakeServer, Handler, Reply, Request

FIXTURES = CARRIER_FIXTURES
EMAIL = "api.user@example.in"
PASSWORD = "test_password_do_not_use"
PICKUP_LOCATIONS = ("Pune Warehouse",)
REQUIRED = (
    "order_id",
    "order_date",
    "pickup_location",
    "billing_customer_name",
    "billing_address",
    "billing_city",
    "billing_pincode",
    "billing_state",
    "billing_country",
    "billing_email",
    "billing_phone",
    "shipping_is_billing",
    "order_items",
    "payment_method",
    "sub_total",
    "length",
    "breadth",
    "height",
    "weight",
)
CENT = Decimal("0.01")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_bytes())


def _pdf(text: str) -> bytes:
    """A one-page PDF with a line of text, cross-reference table and all."""
    stream = f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 288 432] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def _message(message: str, status: int) -> Reply:
    return Reply.json({"message": message, "status_code": status}, status=status)


@dataclass(frozen=True)
class Courier:
    id: int
    name: str
    per_slab: Decimal  # freight per 500 g
    cod_flat: Decimal  # COD fee: the larger of this and cod_percent of the declared value
    cod_percent: Decimal
    days: int


COURIERS = {
    12: Courier(12, "Delhivery Surface", Decimal("32.00"), Decimal("40.00"), Decimal("1.5"), 5),
    43: Courier(43, "Xpressbees Surface", Decimal("29.50"), Decimal("35.00"), Decimal("1.25"), 6),
    54: Courier(54, "Ekart Logistics", Decimal("27.25"), Decimal("30.00"), Decimal("2"), 7),
}


@dataclass
class Shipment:
    shipment_id: int
    order_id: int
    body: dict[str, Any]
    status: int = 1  # Shiprocket's NEW
    awb: str | None = None
    courier_id: int | None = None
    pickup_queued: bool = False
    cancelled: bool = False
    scans: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cod(self) -> bool:
        return bool(self.body["payment_method"] == "COD")


class FakeShiprocket:
    def __init__(self, email: str = EMAIL, password: str = PASSWORD):
        self.email = email
        self.password = password
        self.server = FakeServer()
        self.reset()
        self._routes()

    def reset(self) -> None:
        """Forget orders, tokens, scans and requests (one running fake can serve many tests)."""
        self.tokens: set[str] = set()
        self.logins = 0
        # delivery pincode -> courier id -> COD possible there
        self.serviceable: dict[str, dict[int, bool]] = {
            "560038": {12: True, 43: True},  # Bengaluru: both couriers, COD with both
            "110001": {12: True, 43: False, 54: True},  # Delhi: Xpressbees prepaid only
            "793001": {54: False},  # Shillong: one courier, no COD at all
        }
        self.shipments: dict[int, Shipment] = {}
        self.orders_by_channel_id: dict[str, Shipment] = {}
        self.cancelled_order_ids: set[str] = set()
        self.by_awb: dict[str, Shipment] = {}
        self.ndr_actions: list[dict[str, Any]] = []
        self.pickup_date = date(2025, 1, 16)
        self._throttle: list[int] = []
        self._failures: list[int] = []
        self._next_id = 708765432
        self._next_order = 712345678
        self._awbs = {12: 19041424751540, 43: 14123451234567, 54: 5011223344556}
        self.label_downloads = 0
        self.accept_tokens = True  # False: logins succeed, but every token is refused (a revoked API user)
        self.labels_fail = False
        with self.server.lock:
            self.server.requests.clear()

    # -- control ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def credentials(self) -> dict[str, str]:
        return {"email": self.email, "password": self.password}

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    def throttle(self, times: int, retry_after: int = 2) -> None:
        self._throttle.extend([retry_after] * times)

    def fail(self, times: int, status: int = 502) -> None:
        self._failures.extend([status] * times)

    def expire_tokens(self) -> None:
        """Every token handed out so far stops working (as after its ten days)."""
        self.tokens.clear()

    def add_scan(
        self, awb: str, code: str, label: str, activity: str, at: datetime, location: str = "", raw: str = ""
    ) -> None:
        shipment = self.by_awb[awb]
        shipment.scans.append(
            {
                "date": at.strftime("%Y-%m-%d %H:%M:%S"),
                "status": raw or code,
                "activity": activity,
                "location": location,
                "sr-status": code,
                "sr-status-label": label,
            }
        )
        if code.isdigit():
            shipment.status = int(code)

    def sent(self, method: str, path: str) -> list[Request]:
        return self.server.sent(method, path)

    # -- plumbing --------------------------------------------------------------------------------

    def __enter__(self) -> FakeShiprocket:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def _routes(self) -> None:
        add = self.server.route
        add("POST", r"/auth/login", self._guard(self._login, auth=False))
        add("GET", r"/courier/serviceability/", self._guard(self._serviceability))
        add("POST", r"/orders/create/adhoc", self._guard(self._create_order))
        add("POST", r"/courier/assign/awb", self._guard(self._assign_awb))
        add("POST", r"/courier/generate/label", self._guard(self._generate_label))
        add("GET", r"/files/labels/(?P<id>\d+)\.pdf", self._guard(self._download_label, auth=False))
        add("POST", r"/courier/generate/pickup", self._guard(self._generate_pickup))
        add("POST", r"/orders/cancel/shipment/awbs", self._guard(self._cancel_awbs))
        add("GET", r"/courier/track/awb/(?P<awb>[^/]+)", self._guard(self._track))
        add("POST", r"/ndr/(?P<awb>[^/]+)/action", self._guard(self._ndr_action))

    def _guard(self, handler: Handler, *, auth: bool = True) -> Handler:
        def serve(request: Request) -> Reply:
            with self.server.lock:
                retry_after = self._throttle.pop(0) if self._throttle else None
                failure = self._failures.pop(0) if self._failures else None
            if retry_after is not None:
                return Reply(
                    429, b'{"message":"Too Many Attempts."}', {"Retry-After": str(retry_after), "Content-Type": "json"}
                )
            if failure is not None:
                return Reply(failure, b"<html><body>502 Bad Gateway</body></html>", {"Content-Type": "text/html"})
            if auth:
                authorization = request.header("Authorization") or ""
                token = authorization.removeprefix("Bearer ")
                if not authorization.startswith("Bearer ") or token not in self.tokens or not self.accept_tokens:
                    return _message("Unauthenticated.", 401)
            return handler(request)

        return serve

    # -- auth ------------------------------------------------------------------------------------

    def _login(self, request: Request) -> Reply:
        body = request.json()
        if body.get("email") != self.email or body.get("password") != self.password:
            return _message("Invalid email and password combination", 400)
        self.logins += 1
        token = f"eyJhbGciOiJIUzI1NiJ9.fake-{self.logins:04d}.sig"
        self.tokens.add(token)
        return Reply.json(
            {
                "id": 1123581,
                "first_name": "API",
                "last_name": "User",
                "email": self.email,
                "company_id": 271828,
                "created_at": "2024-06-01 10:00:00",
                "token": token,
            }
        )

    # -- serviceability --------------------------------------------------------------------------

    def quote_for(self, courier: Courier, weight_kg: Decimal, cod: bool, declared: Decimal) -> dict[str, Any]:
        slabs = int((weight_kg / Decimal("0.5")).to_integral_value(rounding=ROUND_CEILING))
        freight = courier.per_slab * max(slabs, 1)
        cod_charges = max(courier.cod_flat, (declared * courier.cod_percent / 100).quantize(CENT, ROUND_HALF_UP))
        etd = self.pickup_date + timedelta(days=courier.days - 1)
        return {
            "courier_company_id": courier.id,
            "courier_name": courier.name,
            "rate": float(freight),
            "freight_charge": float(freight),
            "cod_charges": float(cod_charges),
            "cod": 1 if cod else 0,
            "etd": etd.strftime("%b %d, %Y"),
            "estimated_delivery_days": str(courier.days),
            "min_weight": 0.5,
        }

    def _serviceability(self, request: Request) -> Reply:
        pickup, delivery = request.arg("pickup_postcode") or "", request.arg("delivery_postcode") or ""
        if not (pickup.isdigit() and len(pickup) == 6 and delivery.isdigit() and len(delivery) == 6):
            return _message("The pickup postcode and delivery postcode must be 6 digits.", 422)
        if request.arg("cod") not in ("0", "1"):
            return _message("The cod field must be 0 or 1.", 422)
        try:
            weight = Decimal(request.arg("weight") or "")
            declared = Decimal(request.arg("declared_value") or "0")
        except ArithmeticError:
            return _message("The weight must be a number.", 422)
        if weight <= 0:
            return _message("The weight must be greater than 0.", 422)
        couriers = [
            self.quote_for(COURIERS[cid], weight, cod_ok, declared)
            for cid, cod_ok in self.serviceable.get(delivery, {}).items()
        ]
        return Reply.json({"status": 200, "data": {"available_courier_companies": couriers}})

    # -- orders ----------------------------------------------------------------------------------

    def _create_order(self, request: Request) -> Reply:
        body = request.json()
        missing = [key for key in REQUIRED if body.get(key) in (None, "")]
        if missing:
            return Reply.json(
                {"message": "Oops! Invalid Data.", "errors": {k: [f"The {k} field is required."] for k in missing}},
                status=422,
            )
        problems: dict[str, list[str]] = {}
        if body["pickup_location"] not in PICKUP_LOCATIONS:
            problems["pickup_location"] = ["Wrong Pickup location entered."]
        if body["payment_method"] not in ("COD", "Prepaid"):
            problems["payment_method"] = ["The selected payment method is invalid."]
        if not (isinstance(body["billing_pincode"], int) and 100000 <= body["billing_pincode"] <= 999999):
            problems["billing_pincode"] = ["The billing pincode must be 6 digits."]
        if len(str(body["billing_phone"])) != 10:
            problems["billing_phone"] = ["The billing phone must be 10 digits."]
        for key in ("sub_total", "length", "breadth", "height", "weight"):
            if not isinstance(body[key], int | float) or isinstance(body[key], bool):
                problems[key] = [f"The {key} must be a number."]
        for n, item in enumerate(body["order_items"]):
            if not isinstance(item.get("selling_price"), int | float) or not isinstance(item.get("units"), int):
                problems[f"order_items.{n}"] = ["selling_price and units must be numbers."]
        if str(body["order_id"]) in self.cancelled_order_ids:
            problems["order_id"] = ["Order Id already exists for a cancelled order."]
        if problems:
            return Reply.json({"message": "Oops! Invalid Data.", "errors": problems}, status=422)

        self._next_id += 1
        self._next_order += 1
        shipment = Shipment(self._next_id, self._next_order, body)
        self.shipments[shipment.shipment_id] = shipment
        self.orders_by_channel_id[str(body["order_id"])] = shipment
        return Reply.json(
            {
                "order_id": shipment.order_id,
                "channel_order_id": str(body["order_id"]),
                "shipment_id": shipment.shipment_id,
                "status": "NEW",
                "status_code": 1,
                "onboarding_completed_now": 0,
                "awb_code": "",
                "courier_company_id": "",
                "courier_name": "",
                "new_channel": False,
                "packaging_box_error": "",
            }
        )

    def collect_amount(self, shipment: Shipment) -> Decimal:
        """What the courier collects on a COD order: Shiprocket's order total."""
        b = shipment.body
        total = Decimal(str(b["sub_total"]))
        for key in ("shipping_charges", "giftwrap_charges", "transaction_charges"):
            total += Decimal(str(b.get(key) or 0))
        return total - Decimal(str(b.get("total_discount") or 0))

    def _shipment(self, raw: Any) -> Shipment | None:
        try:
            return self.shipments.get(int(raw))
        except (TypeError, ValueError):
            return None

    def _assign_awb(self, request: Request) -> Reply:
        body = request.json()
        shipment = self._shipment(body.get("shipment_id"))
        if shipment is None:
            return _message("Invalid shipment id.", 400)
        if shipment.awb:
            return _message(f"AWB is already assigned: {shipment.awb}", 400)
        pin = str(shipment.body["billing_pincode"])
        offered = self.serviceable.get(pin, {})
        cid = body.get("courier_id")
        if cid is None:
            choices = [c for c, cod_ok in offered.items() if cod_ok or not shipment.cod]
            cid = choices[0] if choices else None
        if cid not in offered or (shipment.cod and not offered[cid]):
            return Reply.json(
                {
                    "awb_assign_status": 0,
                    "response": {
                        "data": {"awb_assign_error": "Selected courier is not serviceable for this shipment."}
                    },
                }
            )
        self._awbs[cid] += 1
        shipment.awb, shipment.courier_id, shipment.status = str(self._awbs[cid]), cid, 1
        self.by_awb[shipment.awb] = shipment
        return Reply.json(
            {
                "awb_assign_status": 1,
                "response": {
                    "data": {
                        "courier_company_id": cid,
                        "awb_code": shipment.awb,
                        "cod": 1 if shipment.cod else 0,
                        "order_id": shipment.order_id,
                        "shipment_id": shipment.shipment_id,
                        "awb_code_status": 1,
                        "assigned_date_time": {"date": "2025-01-15 15:02:41.000000", "timezone": "Asia/Kolkata"},
                        "applied_weight": shipment.body["weight"],
                        "courier_name": COURIERS[cid].name,
                    }
                },
            }
        )

    def _generate_label(self, request: Request) -> Reply:
        ids = request.json().get("shipment_id")
        if not isinstance(ids, list) or not ids:
            return _message("The shipment id field must be an array.", 422)
        shipments = [self._shipment(i) for i in ids]
        if self.labels_fail or any(s is None or not s.awb for s in shipments):
            return Reply.json({"label_created": 0, "response": "Label could not be generated.", "not_created": ids})
        first = shipments[0]
        assert first is not None
        first.status = max(first.status, 2)
        return Reply.json(
            {
                "label_created": 1,
                "label_url": f"{self.url}/files/labels/{first.shipment_id}.pdf",
                "response": "Label has been created and uploaded successfully!",
                "not_created": [],
            }
        )

    def _download_label(self, request: Request) -> Reply:
        if request.header("Authorization"):
            # what a pre-signed storage URL answers to a second auth mechanism
            return Reply(400, b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message>")
        assert request.match is not None
        shipment = self._shipment(request.match["id"])
        if shipment is None or not shipment.awb:
            return Reply(404, b"<Error><Code>NoSuchKey</Code></Error>")
        self.label_downloads += 1
        return Reply(200, _pdf(f"AWB {shipment.awb}"), {"Content-Type": "application/pdf"})

    def _generate_pickup(self, request: Request) -> Reply:
        ids = request.json().get("shipment_id")
        if not isinstance(ids, list) or not ids:
            return _message("The shipment id field must be an array.", 422)
        shipments = [self._shipment(i) for i in ids]
        if any(s is None or not s.awb for s in shipments):
            return _message("Please assign AWB before generating pickup.", 400)
        if any(s.pickup_queued for s in shipments if s is not None):
            return _message("Already in Pickup Queue.", 400)
        awbs, names = [], []
        for shipment in shipments:
            assert shipment is not None
            shipment.pickup_queued, shipment.status = True, 4
            awbs.append(shipment.awb or "")
            names.append(COURIERS[shipment.courier_id or 0].name)
        couriers = ", ".join(dict.fromkeys(names))
        return Reply.json(
            {
                "pickup_status": 1,
                "response": {
                    "pickup_scheduled_date": f"{self.pickup_date.isoformat()} 10:00:00",
                    "pickup_token_number": f"Reference No: 194_BIGFOOT {len(awbs)}_{self.pickup_date:%d%m%Y}",
                    "status": 3,
                    "others": "{}",
                    "pickup_generated_date": {"date": "2025-01-15 15:02:42.000000", "timezone": "Asia/Kolkata"},
                    "data": f"Pickup is confirmed by {couriers} For AWB :- {', '.join(awbs)}",
                },
            }
        )

    def _cancel_awbs(self, request: Request) -> Reply:
        awbs = request.json().get("awbs")
        if not isinstance(awbs, list) or not awbs:
            return _message("The awbs field is required.", 422)
        for awb in awbs:
            shipment = self.by_awb.get(str(awb))
            if shipment is None:
                return _message(f"Invalid AWB: {awb}", 400)
            if shipment.status in (6, 7, 17, 18, 21, 42):
                return _message(f"Shipment {awb} is already picked up and cannot be cancelled.", 400)
        for awb in awbs:
            shipment = self.by_awb[str(awb)]
            shipment.cancelled, shipment.status = True, 8
            self.cancelled_order_ids.add(str(shipment.body["order_id"]))
        return Reply.json({"message": "Bulk Shipment cancellation is in progress. Please wait for 24 hours."})

    # -- tracking and NDR ------------------------------------------------------------------------

    def _track(self, request: Request) -> Reply:
        assert request.match is not None
        shipment = self.by_awb.get(request.match["awb"])
        if shipment is None or not shipment.scans:
            return Reply.json(
                {
                    "tracking_data": {
                        "track_status": 0,
                        "shipment_status": 0,
                        "shipment_track": [],
                        "shipment_track_activities": None,
                        "error": "Aahh! There is no activities found in our DB. Please have some patience it will"
                        " be updated soon.",
                    }
                }
            )
        return Reply.json(
            {
                "tracking_data": {
                    "track_status": 1,
                    "shipment_status": shipment.status,
                    "shipment_track": [
                        {
                            "id": shipment.shipment_id,
                            "awb_code": shipment.awb,
                            "courier_company_id": shipment.courier_id,
                            "shipment_id": shipment.shipment_id,
                            "order_id": shipment.order_id,
                            "current_status": shipment.scans[-1]["sr-status-label"],
                        }
                    ],
                    # Shiprocket lists the newest activity first
                    "shipment_track_activities": list(reversed(shipment.scans)),
                    "track_url": f"https://shiprocket.co/tracking/{shipment.awb}",
                    "etd": "2025-01-20 18:00:00",
                }
            }
        )

    def _ndr_action(self, request: Request) -> Reply:
        assert request.match is not None
        awb = request.match["awb"]
        shipment = self.by_awb.get(awb)
        if shipment is None:
            return _message(f"Invalid AWB: {awb}", 404)
        if shipment.status != 21:
            return _message("Action can only be taken on undelivered (NDR) shipments.", 422)
        body = request.json()
        if body.get("action") not in ("re-attempt", "return"):
            return _message("The selected action is invalid.", 422)
        self.ndr_actions.append({"awb": awb, **body})
        return Reply.json({"message": "Action taken successfully.", "status_code": 200})
