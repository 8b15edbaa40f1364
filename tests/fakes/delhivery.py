"""A fake Delhivery B2C API on FakeServer, speaking the public formats: ``Authorization: Token``,
pincode serviceability (one pincode fully served, one prepaid-only, one ODA, the rest unserviceable),
invoice charges from a small tariff, waybills issued in advance, ``/api/cmu/create.json`` taking the
form-encoded ``format=json&data=...`` body, packing slips (a PDF, or JSON with a link to one), pickup
requests, cancellation, tracking with scans, NDR updates recorded. It can be told to throttle (429 +
Retry-After) or to fail with 5xx.

    with FakeDelhivery() as dlv:
        adapter = DelhiveryAdapter(CarrierConfig(dlv.url, dlv.credentials), Http(dlv.url))
"""

from __future__ import annotations

import copy
import json
import math
import re
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.fixtures import CARRIER_FIXTURES
from tests.fakes.server import FakeServer, Reply, Request

FIXTURES = CARRIER_FIXTURES
WAREHOUSE = "EXAMPLE HANDICRAFTS PUNE"
FIXTURE_AWB = "1490821234567"
CENT = Decimal("0.01")

# Per 500 g slab, by shipping mode letter and zone.
TARIFF: dict[str, dict[str, Decimal]] = {
    "S": {"A": Decimal(30), "B": Decimal(40), "D": Decimal(55)},
    "E": {"A": Decimal(45), "B": Decimal(60), "D": Decimal(85)},
}
COD_MIN = Decimal(35)
COD_RATE = Decimal("0.015")
GST = Decimal("0.18")
NDR_ACTS = ("RE-ATTEMPT", "DEFER_DLV", "EDIT_DETAILS", "PICKUP_RESCHEDULE")
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 288 432]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_bytes())


def _pin(pin: str, *, city: str, state: str, cod: bool = True, prepaid: bool = True, oda: bool = False) -> dict:
    return {
        "pin": int(pin),
        "city": city,
        "district": city,
        "state_code": state,
        "country_code": "IN",
        "pre_paid": "Y" if prepaid else "N",
        "cash": "Y" if cod else "N",
        "cod": "Y" if cod else "N",
        "pickup": "Y",
        "repl": "Y",
        "is_oda": "Y" if oda else "N",
        "sort_code": f"{city[:3].upper()}/X",
    }


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


class FakeDelhivery:
    def __init__(self, token: str = "dlv-test-token-0001"):
        self.token = token
        self.server = FakeServer()
        self.reset()
        self._routes()

    def reset(self) -> None:
        """Forget shipments, pickups, NDR actions and requests (one running fake serves many tests)."""
        served = fixture("delhivery_pincode_serviceability.json")["delivery_codes"][0]["postal_code"]
        self.pincodes: dict[str, dict[str, Any]] = {
            "560038": served,
            "411028": _pin("411028", city="Pune", state="MH"),
            "110001": _pin("110001", city="New Delhi", state="DL", cod=False),
            "799001": _pin("799001", city="Agartala", state="TR", oda=True),
        }
        self.warehouses = {WAREHOUSE}
        self.shipments: dict[str, dict[str, Any]] = {}  # awb -> the "Shipment" object tracking returns
        self.created: list[dict[str, Any]] = []  # create.json data as received
        self.issued: list[str] = []  # waybills handed out in advance
        self.used: set[str] = set()
        self.pickups: list[dict[str, Any]] = []
        self.ndr_actions: list[dict[str, Any]] = []
        self.label_mode = "link"  # "pdf": the packing slip answers the PDF itself; "down": it fails with 503
        self.now = datetime(2025, 1, 15, 15, 2, 41)  # naive Indian time, as Delhivery sends
        self._next_awb = 1490821300001
        self._next_pickup = 98765400
        self._next_upl = 1
        self._throttle: list[int] = []
        self._failures: list[int] = []
        with self.server.lock:
            self.server.requests.clear()

    # -- control ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def credentials(self) -> dict[str, str]:
        return {"api_token": self.token}

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    def throttle(self, times: int, retry_after: int = 2) -> None:
        self._throttle.extend([retry_after] * times)

    def fail(self, times: int, status: int = 503) -> None:
        self._failures.extend([status] * times)

    def seed_fixture_tracking(self) -> dict[str, Any]:
        shipment = fixture("delhivery_tracking.json")["ShipmentData"][0]["Shipment"]
        self.shipments[shipment["AWB"]] = copy.deepcopy(shipment)
        return shipment

    def add_shipment(self, awb: str, order: str) -> dict[str, Any]:
        shipment = {
            "AWB": awb,
            "ReferenceNo": order,
            "PickUpDate": None,
            "Destination": None,
            "DestRecieveDate": None,
            "Status": {},
            "Scans": [],
        }
        self.shipments[awb] = shipment
        self.add_scan(awb, "UD", "Manifested", "X-UCI", "Manifest uploaded")
        return shipment

    def add_scan(
        self,
        awb: str,
        kind: str,
        word: str,
        code: str,
        instructions: str,
        location: str = "Pune_Hadapsar_D (Maharashtra)",
        at: datetime | None = None,
    ) -> None:
        self.now = at or self.now + timedelta(hours=3)
        stamp = _stamp(self.now)
        shipment = self.shipments[awb]
        shipment["Scans"].append(
            {
                "ScanDetail": {
                    "ScanDateTime": stamp,
                    "ScanType": kind,
                    "Scan": word,
                    "StatusDateTime": stamp,
                    "ScannedLocation": location,
                    "StatusCode": code,
                    "Instructions": instructions,
                }
            }
        )
        shipment["Status"] = {
            "Status": word,
            "StatusType": kind,
            "StatusDateTime": stamp,
            "StatusLocation": location,
            "Instructions": instructions,
            "StatusCode": code,
        }

    # -- plumbing --------------------------------------------------------------------------------

    def __enter__(self) -> FakeDelhivery:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def _routes(self) -> None:
        add = self.server.route
        add("GET", r"/c/api/pin-codes/json/", self._guard(self._pincodes))
        add("GET", r"/api/kinko/v1/invoice/charges/\.json", self._guard(self._charges))
        add("GET", r"/waybill/api/bulk/json/", self._guard(self._waybills))
        add("POST", r"/api/cmu/create\.json", self._guard(self._create))
        add("GET", r"/api/p/packing_slip", self._guard(self._packing_slip))
        add("GET", r"/labels/(?P<awb>\d+)\.pdf", self._label_file)
        add("POST", r"/fm/request/new/", self._guard(self._pickup))
        add("POST", r"/api/p/edit", self._guard(self._edit))
        add("GET", r"/api/v1/packages/json/", self._guard(self._track))
        add("POST", r"/api/p/update", self._guard(self._ndr))

    def _guard(self, handler: Any) -> Any:
        def serve(request: Request) -> Reply:
            with self.server.lock:
                retry_after = self._throttle.pop(0) if self._throttle else None
                failure = self._failures.pop(0) if self._failures else None
            if retry_after is not None:
                return Reply.json({"detail": "Request was throttled."}, 429, {"Retry-After": str(retry_after)})
            if failure is not None:
                return Reply(failure, b"<html><body><h1>502 Bad Gateway</h1></body></html>")
            authorization = request.header("Authorization") or ""
            if not authorization.startswith("Token "):
                return Reply.json({"detail": "Authentication credentials were not provided."}, 401)
            if authorization[6:] != self.token:
                return Reply.json({"detail": "Invalid token"}, 401)
            return handler(request)

        return serve

    # -- serviceability and rates ----------------------------------------------------------------

    def _pincodes(self, request: Request) -> Reply:
        pin = (request.arg("filter_codes") or "").strip()
        record = self.pincodes.get(pin)
        return Reply.json({"delivery_codes": [{"postal_code": record}] if record else []})

    @staticmethod
    def zone(origin: str, destination: str) -> str:
        if origin[:3] == destination[:3]:
            return "A"
        if origin[:1] == destination[:1]:
            return "B"
        return "D"

    def _charges(self, request: Request) -> Reply:
        mode, status, payment = request.arg("md"), request.arg("ss"), request.arg("pt")
        origin, destination = request.arg("o_pin") or "", request.arg("d_pin") or ""
        if mode not in TARIFF or status not in ("Delivered", "RTO", "DTO") or payment not in ("Pre-paid", "COD"):
            return Reply.json({"error": "md, ss and pt are required"}, 400)
        if not re.fullmatch(r"\d+", request.arg("cgm") or ""):
            return Reply.json({"error": "cgm must be grams"}, 400)
        if not (re.fullmatch(r"\d{6}", origin) and re.fullmatch(r"\d{6}", destination)):
            return Reply.json({"error": "o_pin and d_pin are required"}, 400)
        grams = int(request.arg("cgm") or 0)
        zone = self.zone(origin, destination)
        freight = TARIFF[mode][zone] * max(1, math.ceil(grams / 500))
        cod = Decimal(request.arg("cod") or "0")
        cod_charge = Decimal(0)
        if payment == "COD":
            cod_charge = max(COD_MIN, (cod * COD_RATE).quantize(CENT, ROUND_HALF_UP))
        gross = freight + cod_charge
        tax = (gross * GST).quantize(CENT, ROUND_HALF_UP)
        charge = {
            "charge_DL": float(freight),
            "charge_COD": float(cod_charge),
            "charge_RTO": 0,
            "charge_FSC": 0,
            "gross_amount": float(gross),
            "total_amount": float(gross + tax),
            "tax_data": {"IGST": float(tax), "CGST": 0, "SGST": 0},
            "zone": zone,
            "charged_weight": grams,
            "status": status,
        }
        return Reply.json([charge])

    # -- waybills and shipments ------------------------------------------------------------------

    def _new_awb(self) -> str:
        self._next_awb += 1
        return str(self._next_awb)

    def _waybills(self, request: Request) -> Reply:
        count = int(request.arg("count") or 1)
        if not 1 <= count <= 100:
            return Reply.json({"error": "count must be 1 to 100"}, 400)
        fresh = [self._new_awb() for _ in range(count)]
        self.issued.extend(fresh)
        return Reply.json(",".join(fresh))

    def _create(self, request: Request) -> Reply:
        form = parse_qs(request.body.decode())
        if form.get("format") != ["json"] or "data" not in form:
            return Reply.json({"success": False, "rmk": "format=json and data are required", "error": True})
        try:
            data = json.loads(form["data"][0])
        except ValueError:
            return Reply.json({"success": False, "rmk": "data is not valid JSON", "error": True})
        self.created.append(data)
        location = (data.get("pickup_location") or {}).get("name")
        if location not in self.warehouses:
            return Reply.json(
                {
                    "success": False,
                    "error": True,
                    "packages": [],
                    "rmk": "ClientWarehouse matching query does not exist.",
                }
            )
        packages: list[dict[str, Any]] = []
        for shipment in data.get("shipments") or []:
            packages.append(self._create_one(shipment, location))
        ok = all(p["status"] == "Success" for p in packages) and bool(packages)
        body = {
            "success": ok,
            "package_count": len(packages),
            "upload_wbn": f"UPL{len(self.created):08d}",
            "packages": packages,
            "cod_count": sum(1 for s in data.get("shipments") or [] if s.get("payment_mode") == "COD"),
            "prepaid_count": sum(1 for s in data.get("shipments") or [] if s.get("payment_mode") == "Prepaid"),
        }
        if not ok:
            body["rmk"] = "An internal Error has occurred, Please get in touch with client.support@delhivery.com"
            body["error"] = True
        return Reply.json(body)

    def _create_one(self, shipment: dict[str, Any], location: str) -> dict[str, Any]:
        order = str(shipment.get("order") or "")
        remarks: list[str] = []
        for field in ("name", "add", "pin", "phone", "order", "payment_mode"):
            if not str(shipment.get(field) or "").strip():
                remarks.append(f"{field} is required")
        mode = shipment.get("payment_mode")
        pin = self.pincodes.get(str(shipment.get("pin")))
        if mode not in ("Prepaid", "COD", "Pickup", "REPL"):
            remarks.append(f"invalid payment_mode {mode}")
        elif pin is None:
            remarks.append("Non serviceable pincode")
        elif mode == "COD" and pin["cod"] != "Y":
            remarks.append("COD is not available for this pincode")
        if mode == "COD" and Decimal(str(shipment.get("cod_amount") or "0")) <= 0:
            remarks.append("cod_amount must be greater than 0 for COD")
        if not re.fullmatch(r"\d+(\.\d+)?", str(shipment.get("weight") or "")):
            remarks.append("weight must be in grams")
        if shipment.get("shipping_mode") not in (None, "Surface", "Express"):
            remarks.append("shipping_mode must be Surface or Express")
        waybill = str(shipment.get("waybill") or "")
        if waybill and (waybill not in self.issued or waybill in self.used):
            remarks.append(f"waybill {waybill} is not available")
        if not waybill and any(s["ReferenceNo"] == order for s in self.shipments.values()):
            remarks.append(f"Duplicate order id {order}")
        if remarks:
            return {"status": "Fail", "waybill": "", "refnum": order, "remarks": remarks, "client": "EXAMPLE"}
        awb = waybill or self._new_awb()
        self.used.add(awb)
        self.add_shipment(awb, order)
        self.shipments[awb]["_pickup_location"] = location
        return {
            "status": "Success",
            "waybill": awb,
            "refnum": order,
            "remarks": [],
            "client": "EXAMPLE",
            "sort_code": pin["sort_code"] if pin else None,
            "cod_amount": float(Decimal(str(shipment.get("cod_amount") or "0"))),
            "payment": "Pre-paid" if mode == "Prepaid" else mode,
            "serviceable": True,
        }

    def _packing_slip(self, request: Request) -> Reply:
        wanted = [w for w in (request.arg("wbns") or "").split(",") if w]
        found = [w for w in wanted if w in self.shipments]
        if self.label_mode == "down":
            return Reply(503, b"Service Unavailable")
        if self.label_mode == "pdf" and found:
            return Reply(200, MINIMAL_PDF, {"Content-Type": "application/pdf"})
        packages = [{"wbn": w, "pdf_download_link": f"{self.url}/labels/{w}.pdf", "pdf_encoding": ""} for w in found]
        return Reply.json({"packages": packages, "packages_found": len(packages)})

    def _label_file(self, request: Request) -> Reply:
        # Like a pre-signed storage URL: its own query is the authorisation; a second one is refused.
        if request.header("Authorization"):
            return Reply(
                400, b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>"
            )
        assert request.match is not None
        if request.match["awb"] not in self.shipments:
            return Reply(404, b"<Error><Code>NoSuchKey</Code></Error>")
        return Reply(200, MINIMAL_PDF, {"Content-Type": "application/pdf"})

    # -- pickups and cancellation ----------------------------------------------------------------

    def _pickup(self, request: Request) -> Reply:
        body = request.json()
        missing = [
            k for k in ("pickup_location", "pickup_date", "pickup_time", "expected_package_count") if not body.get(k)
        ]
        if missing:
            return Reply.json({"error": f"missing {', '.join(missing)}"}, 400)
        try:
            day = date.fromisoformat(body["pickup_date"])
        except ValueError:
            return Reply.json({"pickup_date": ["Date has wrong format. Use YYYY-MM-DD."]}, 400)
        if not re.fullmatch(r"\d{2}:\d{2}:\d{2}", str(body["pickup_time"])):
            return Reply.json({"pickup_time": ["Time has wrong format. Use hh:mm:ss."]}, 400)
        if body["pickup_location"] not in self.warehouses:
            return Reply.json({"pickup_location": ["ClientWarehouse matching query does not exist."]}, 400)
        if any(
            p["pickup_location"] == body["pickup_location"] and p["pickup_date"] == day.isoformat()
            for p in self.pickups
        ):
            return Reply.json({"pr_exists": "pickup already scheduled for this client warehouse on this date"}, 400)
        self._next_pickup += 1
        self.pickups.append({**body, "pickup_id": self._next_pickup})
        return Reply.json(
            {
                "pickup_id": self._next_pickup,
                "pr_id": self._next_pickup,
                "incoming_center_name": "Pune_Hadapsar_D",
                "pickup_date": day.isoformat(),
                "pickup_time": body["pickup_time"],
                "expected_package_count": body["expected_package_count"],
                "client_name": "EXAMPLE",
            }
        )

    def _edit(self, request: Request) -> Reply:
        body = request.json()
        awb = str(body.get("waybill") or "")
        if body.get("cancellation") != "true":
            return Reply.json({"status": False, "error": "only cancellation is supported by this fake"}, 400)
        shipment = self.shipments.get(awb)
        if shipment is None:
            return Reply.json({"status": False, "waybill": awb, "error": f"Waybill {awb} not found"})
        kind = shipment["Status"].get("StatusType")
        if kind in ("DL", "RT", "CN") or shipment["Status"].get("Status") not in ("Manifested", "Not Picked"):
            return Reply.json(
                {
                    "status": False,
                    "waybill": awb,
                    "remark": f"Shipment {awb} cannot be cancelled in status {shipment['Status'].get('Status')}",
                }
            )
        self.add_scan(awb, "CN", "Canceled", "X-DDC", "Cancelled by seller")
        return Reply.json(
            {
                "status": True,
                "waybill": awb,
                "order_id": shipment["ReferenceNo"],
                "remark": "Shipment has been cancelled.",
            }
        )

    # -- tracking and NDR ------------------------------------------------------------------------

    def _track(self, request: Request) -> Reply:
        wanted = [w.strip() for w in (request.arg("waybill") or "").split(",") if w.strip()]
        if not wanted:
            return Reply.json({"Error": "waybill is required"}, 400)
        if len(wanted) > 50:
            return Reply.json({"Error": "Maximum 50 waybills allowed per request"}, 400)
        found = [
            {"Shipment": {k: v for k, v in self.shipments[w].items() if not k.startswith("_")}}
            for w in wanted
            if w in self.shipments
        ]
        if not found:
            return Reply.json({"Error": "No such waybill or Order Id found"})
        return Reply.json({"ShipmentData": found})

    def _ndr(self, request: Request) -> Reply:
        body = request.json()
        entries = body.get("data")
        if not isinstance(entries, list) or not entries:
            return Reply.json({"error": "data must be a non-empty list"}, 400)
        for entry in entries:
            act = entry.get("act")
            if act not in NDR_ACTS:
                return Reply.json({"error": f"Invalid act {act}"}, 400)
            if entry.get("waybill") not in self.shipments:
                return Reply.json({"error": f"Waybill {entry.get('waybill')} not found"}, 400)
            data = entry.get("action_data") or {}
            if act == "DEFER_DLV" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(data.get("deferred_date") or "")):
                return Reply.json({"error": "deferred_date (YYYY-MM-DD) is required for DEFER_DLV"}, 400)
            if act == "EDIT_DETAILS" and not any(data.get(k) for k in ("name", "add", "phone")):
                return Reply.json({"error": "name, add or phone is required for EDIT_DETAILS"}, 400)
        self.ndr_actions.extend(copy.deepcopy(entries))
        self._next_upl += 1
        return Reply.json({"request_id": f"UPL{self._next_upl:019d}", "status": True})
