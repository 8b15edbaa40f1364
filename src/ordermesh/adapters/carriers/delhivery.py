"""Delhivery (B2C express) as a carrier: serviceability by pincode, prices from the invoice-charges
(kinko) API, shipments by ``/api/cmu/create.json``, labels from the packing slip, pickups, cancellation,
tracking by pull and by scan push, and NDR instructions.

Credentials: ``api_token`` (sent as ``Authorization: Token <api_token>``) and ``webhook_token`` (the
shared secret Delhivery is asked to send with every scan push). See docs/carriers/delhivery.md for the
settings, the status and NDR tables and what the public documentation does not show.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlencode

from ordermesh.adapters.carriers.base import (
    Address,
    BadPayload,
    BadSignature,
    Booking,
    CarrierConfig,
    Http,
    NdrAction,
    Parcel,
    PickupBooking,
    Quote,
    RemoteAuthFailed,
    RemoteError,
    RemoteRejected,
    ShipmentRequest,
    TrackingEvent,
    header,
    money,
    read_json,
    register,
)
from ordermesh.domain.india import find_state
from ordermesh.domain.statuses import NdrReason, ShipmentStatus

IST = timezone(timedelta(hours=5, minutes=30), "IST")  # Delhivery sends naive Indian times; India has no DST
CENT = Decimal("0.01")

PINCODE_PATH = "/c/api/pin-codes/json/"
RATE_PATH = "/api/kinko/v1/invoice/charges/.json"
WAYBILL_PATH = "/waybill/api/bulk/json/"
CREATE_PATH = "/api/cmu/create.json"
LABEL_PATH = "/api/p/packing_slip"
PICKUP_PATH = "/fm/request/new/"
EDIT_PATH = "/api/p/edit"
TRACK_PATH = "/api/v1/packages/json/"
NDR_PATH = "/api/p/update"

TRACK_BATCH = 50  # waybills per tracking call
EWAYBILL_THRESHOLD = Decimal(50000)  # Delhivery wants an e-way bill above this shipment value
DEFAULT_VOLUMETRIC_DIVISOR = 5000  # cm³ per kg
DEFAULT_PICKUP_TIME = "11:00:00"

# Delhivery's shipping modes: the word create.json wants, and the letter the rate API wants.
MODES: dict[str, str] = {"Surface": "S", "Express": "E"}
_MODE_ALIASES = {"s": "Surface", "surface": "Surface", "e": "Express", "express": "Express"}

_S = ShipmentStatus
# (StatusType, Status) as Delhivery sends them, written "TYPE/Status"; a bare "TYPE" covers every Status
# of a type whose words vary (cancellation, reverse pickups). Looked up pair first, then type.
STATUS_MAP: dict[str, ShipmentStatus] = {
    # UD: forward shipment, not delivered yet
    "UD/Manifested": _S.MANIFESTED,  # shipment created (X-UCI), pickup scheduled (FMPUR-101)
    "UD/Not Picked": _S.MANIFESTED,  # pickup attempted, parcel not handed over
    "UD/In Transit": _S.IN_TRANSIT,  # picked up (X-PPOM) and moving between facilities
    "UD/Pending": _S.NDR,  # at the delivery centre after a failed attempt (reason in the NSL code)
    "UD/Dispatched": _S.OUT_FOR_DELIVERY,  # out for delivery
    # DL: terminal
    "DL/Delivered": _S.DELIVERED,
    "DL/RTO": _S.RTO_DELIVERED,  # returned and handed back to the seller
    "DL/DTO": _S.DELIVERED,  # a reverse shipment delivered to the seller (its destination)
    # RT: return to origin in progress
    "RT/In Transit": _S.RTO_INITIATED,  # marked for RTO and moving back
    "RT/Pending": _S.RTO_IN_TRANSIT,  # at the seller's delivery centre
    "RT/Dispatched": _S.RTO_IN_TRANSIT,  # out for delivery to the seller
    # CN: cancelled (Status "Canceled" / "Cancelled")
    "CN": _S.CANCELLED,
    # PP / PU: reverse pickup pending / picked up
    "PP": _S.MANIFESTED,
    "PU": _S.IN_TRANSIT,
}

_R = NdrReason
# NSL codes of failed delivery attempts -> our reason. The meanings are the ones two independent public
# sources agree on; Delhivery's own Instructions text is kept as the event's detail. An NSL code not in
# this table gives OTHER.
NDR_REASONS: dict[str, NdrReason] = {
    "EOD-11": _R.CUSTOMER_UNAVAILABLE,  # consignee unavailable
    "EOD-74": _R.ADDRESS_ISSUE,  # bad / incomplete address and contact details
    "EOD-104": _R.ADDRESS_ISSUE,  # entry restricted area
    "EOD-6": _R.REFUSED,  # consignee refused to accept / order cancelled
    "EOD-69": _R.OTHER,  # customer wants open delivery
    "EOD-86": _R.OTHER,  # not attempted
    "EOD-40": _R.COD_NOT_READY,  # payment mode dispute
    "EOD-53": _R.COD_NOT_READY,  # payment amount dispute
    "EOD-3": _R.RESCHEDULE_REQUESTED,  # delivery rescheduled by the consignee
    "DLYDC-110": _R.RESCHEDULE_REQUESTED,
    "DLYDC-132": _R.OUT_OF_DELIVERY_AREA,  # ODA
}

# Our NDR instructions -> Delhivery's "act" words on /api/p/update.
NDR_ACTS = {"reattempt": "RE-ATTEMPT", "reschedule": "DEFER_DLV", "update_address": "EDIT_DETAILS"}


@register("delhivery")
class DelhiveryAdapter:
    code: ClassVar[str] = "delhivery"
    STATUS_MAP: ClassVar[Mapping[str, ShipmentStatus]] = STATUS_MAP

    def __init__(self, config: CarrierConfig, http: Http):
        self.config = config
        self.http = http
        self.settings = config.settings
        self.status_map: dict[str, ShipmentStatus] = dict(STATUS_MAP)
        for word, ours in (self.settings.get("extra_statuses") or {}).items():
            self.status_map[str(word)] = ShipmentStatus(ours)
        self.modes = _modes(self.settings.get("shipping_mode"))

    # -- HTTP ------------------------------------------------------------------------------------

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        token = self.config.credentials.get("api_token")
        if not token:
            raise RemoteAuthFailed("Delhivery: no api_token in the carrier's credentials")
        return {"Authorization": f"Token {token}", "Accept": "application/json", **(extra or {})}

    def _json(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json_body: Any = None, what: str
    ) -> Any:
        response = self.http.request(method, path, params=params, json_body=json_body, headers=self._headers())
        return read_json(response.content, f"Delhivery {what} response")

    # -- quotes ----------------------------------------------------------------------------------

    def serviceability(self, pincode: str) -> Mapping[str, Any] | None:
        """Delhivery's record of a pincode (``postal_code``), or None when it does not deliver there."""
        body = self._json("GET", PINCODE_PATH, params={"filter_codes": pincode}, what="pincode")
        if not isinstance(body, dict):
            raise BadPayload("Delhivery pincode response is not a JSON object")
        for entry in body.get("delivery_codes") or []:
            record = entry.get("postal_code") if isinstance(entry, dict) else None
            if isinstance(record, dict) and str(record.get("pin", "")).strip() == str(pincode).strip():
                return record
        return None

    def quote(
        self, origin: str, destination: str, parcel: Parcel, *, cod: bool, declared_value: Decimal
    ) -> list[Quote]:
        record = self.serviceability(destination)
        if record is None:
            return []
        cod_ok = _yes(record.get("cod")) or _yes(record.get("cash"))
        prepaid_ok = _yes(record.get("pre_paid"))
        if (cod and not cod_ok) or (not cod and not prepaid_ok):
            return []
        oda = _yes(record.get("is_oda"))
        grams = self._chargeable_grams(parcel)
        cod_amount = declared_value.quantize(CENT) if cod else Decimal(0)
        quotes = []
        for mode in self.modes:
            params = {
                "md": MODES[mode],
                "ss": "Delivered",
                "o_pin": origin,
                "d_pin": destination,
                "cgm": grams,
                "pt": "COD" if cod else "Pre-paid",
                "cod": str(cod_amount),
            }
            charges = _first_charge(self._json("GET", RATE_PATH, params=params, what="invoice charges"))
            if charges is None:
                continue  # no price for this mode on this lane
            where = f"Delhivery {mode} charges"
            if charges.get("total_amount") in (None, ""):
                raise BadPayload(f"{where} have no total_amount")
            price = money(charges["total_amount"], f"{where}.total_amount")
            etd = charges.get("tat") if charges.get("tat") not in (None, "") else self._etd(mode)
            quotes.append(
                Quote(
                    carrier=self.code,
                    service=mode,
                    service_name=f"Delhivery {mode}",
                    price=price,
                    cod_fee=money(charges.get("charge_COD"), f"{where}.charge_COD") if cod else Decimal(0),
                    cod=cod_ok,
                    etd_days=int(etd) if etd is not None else None,
                    max_weight_g=self._max_weight(mode),
                    detail={
                        "mode": MODES[mode],
                        "zone": charges.get("zone"),
                        "charged_weight_g": charges.get("charged_weight", grams),
                        "gross_amount": str(money(charges.get("gross_amount"), f"{where}.gross_amount")),
                        "is_oda": oda,
                        "prepaid": prepaid_ok,
                        "pickup": _yes(record.get("pickup")),
                        "sort_code": record.get("sort_code"),
                    },
                )
            )
        return quotes

    def _chargeable_grams(self, parcel: Parcel) -> int:
        divisor = self.settings.get("volumetric_divisor", DEFAULT_VOLUMETRIC_DIVISOR)
        if not divisor:
            return parcel.weight_g
        volume = parcel.length_cm * parcel.breadth_cm * parcel.height_cm
        volumetric = math.ceil(volume * 1000 / Decimal(str(divisor)))
        return max(parcel.weight_g, volumetric)

    def _etd(self, mode: str) -> int | None:
        table = self.settings.get("etd_days") or {}
        value = table.get(mode, table.get(MODES[mode]))
        return int(value) if value is not None else None

    def _max_weight(self, mode: str) -> int | None:
        table = self.settings.get("max_weight_g") or {}
        value = table.get(mode, table.get(MODES[mode])) if isinstance(table, Mapping) else table
        return int(value) if value is not None else None

    # -- booking ---------------------------------------------------------------------------------

    def book(self, request: ShipmentRequest) -> Booking:
        mode = self._mode_for(request.service)
        if request.declared_value > EWAYBILL_THRESHOLD and not request.ewaybill_number:
            raise RemoteRejected(
                f"Delhivery needs an e-way bill for shipment {request.reference}: its value "
                f"{request.declared_value} is over ₹{EWAYBILL_THRESHOLD}"
            )
        waybill = self.fetch_waybill() if self.settings.get("prefetch_waybill") else ""
        shipment = self.shipment_fields(request, mode, waybill)
        location = request.pickup.name or str(self.settings.get("pickup_location") or "")
        if not location:
            raise RemoteRejected("Delhivery: no pickup location name (the warehouse registered with Delhivery)")
        data = {"shipments": [shipment], "pickup_location": {"name": location}}
        form = urlencode({"format": "json", "data": json.dumps(data, separators=(",", ":"))}).encode()
        response = self.http.request(
            "POST",
            CREATE_PATH,
            content=form,
            headers=self._headers({"Content-Type": "application/x-www-form-urlencoded"}),
        )
        body = read_json(response.content, "Delhivery create response")
        if not isinstance(body, dict):
            raise BadPayload("Delhivery create response is not a JSON object")
        packages = [p for p in body.get("packages") or [] if isinstance(p, dict)]
        package = next((p for p in packages if str(p.get("refnum", "")) == request.reference), None)
        if package is None and packages:
            package = packages[0]
        failed = body.get("success") is False or body.get("error") is True
        if package is not None and str(package.get("status", "")).lower() in ("fail", "failure", "failed"):
            failed = True
        awb = str((package or {}).get("waybill") or "").strip()
        if failed or not awb:
            raise RemoteRejected(f"Delhivery refused shipment {request.reference}: {_remark(body, package)}")
        extra: dict[str, Any] = {
            "pickup_location": location,
            "shipping_mode": mode,
            "status": package.get("status") if package else None,
            "sort_code": package.get("sort_code") if package else None,
            "upload_wbn": body.get("upload_wbn"),
        }
        if package and package.get("remarks"):
            extra["remarks"] = package["remarks"]
        label = None
        if self.settings.get("fetch_label", True):
            try:
                label = self.label(awb)
            except RemoteError as e:  # the shipment exists: keep its AWB, fetch the label later
                extra["label_error"] = str(e)
        return Booking(
            awb=awb, carrier_reference=body.get("upload_wbn"), courier="Delhivery", label_pdf=label, extra=extra
        )

    def shipment_fields(self, request: ShipmentRequest, mode: str, waybill: str = "") -> dict[str, Any]:
        """One entry of ``shipments`` in create.json's ``data``: weight in grams, sizes in cm, strings."""
        to = request.to
        pickup = request.pickup
        back = request.return_to or pickup.address
        cod = request.payment == "cod"
        if request.payment not in ("cod", "prepaid"):
            raise RemoteRejected(f"Delhivery: unknown payment '{request.payment}' for {request.reference}")
        if cod and request.cod_amount <= 0:
            raise RemoteRejected(f"Delhivery: COD shipment {request.reference} needs a COD amount above 0")
        items = request.items
        hsn = next((item.hsn for item in items if item.hsn), None)
        shipment: dict[str, Any] = {
            "name": to.name,
            "add": _street(to),
            "pin": to.pincode,
            "city": to.city,
            "state": _state_name(to.state),
            "country": "India",
            "phone": to.phone,
            "order": request.reference,
            "payment_mode": "COD" if cod else "Prepaid",
            "return_pin": back.pincode,
            "return_city": back.city,
            "return_phone": back.phone,
            "return_add": _street(back),
            "return_state": _state_name(back.state),
            "return_country": "India",
            "return_name": back.company or back.name,
            "products_desc": ", ".join(f"{item.name} x{item.quantity}" for item in items),
            "hsn_code": hsn or "",
            "cod_amount": str(request.cod_amount.quantize(CENT)) if cod else "0",
            "order_date": request.placed_at.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S"),
            "total_amount": str(request.declared_value.quantize(CENT)),
            "seller_add": _one_line(pickup.address),
            "seller_name": str(self.settings.get("seller_name") or pickup.address.company or pickup.address.name),
            "seller_inv": request.invoice_number or "",
            "seller_gst_tin": pickup.gstin or "",
            "quantity": str(sum(item.quantity for item in items)),
            "waybill": waybill,
            "shipment_length": _cm(request.parcel.length_cm),
            "shipment_width": _cm(request.parcel.breadth_cm),
            "shipment_height": _cm(request.parcel.height_cm),
            "weight": str(request.parcel.weight_g),
            "shipping_mode": mode,
        }
        if request.ewaybill_number:
            shipment["ewbn"] = request.ewaybill_number
        return shipment

    def _mode_for(self, service: str | None) -> str:
        if service:
            mode = _MODE_ALIASES.get(service.strip().lower())
            if mode is None:
                raise RemoteRejected(f"Delhivery has no shipping mode '{service}' (Surface or Express)")
            return mode
        return self.modes[0]

    def fetch_waybill(self) -> str:
        """One waybill number reserved in advance (``/waybill/api/bulk/json/?count=1``)."""
        response = self.http.request("GET", WAYBILL_PATH, params={"count": 1}, headers=self._headers())
        try:
            body: Any = json.loads(response.content)
        except ValueError:
            body = response.text
        if isinstance(body, dict):
            body = body.get("waybills") or body.get("waybill") or body.get("data") or ""
        if isinstance(body, list):
            body = ",".join(str(x) for x in body)
        first = str(body).strip().strip('"').split(",")[0].strip()
        if not first.isdigit():
            raise BadPayload(f"Delhivery waybill response has no waybill: {str(body)[:200]}")
        return first

    def label(self, awb: str) -> bytes:
        """The shipping label as PDF: the packing slip as bytes, or JSON with a link to the PDF."""
        response = self.http.request(
            "GET", LABEL_PATH, params={"wbns": awb, "pdf": "true"}, headers=self._headers({"Accept": "*/*"})
        )
        if response.content.startswith(b"%PDF"):
            return response.content
        body = read_json(response.content, "Delhivery packing slip response")
        packages = body.get("packages") if isinstance(body, dict) else None
        package = next(
            (p for p in packages or [] if isinstance(p, dict) and str(p.get("wbn", awb)) == awb),
            None,
        )
        link = (package or {}).get("pdf_download_link")
        if not link:
            found = body.get("packages_found") if isinstance(body, dict) else None
            raise RemoteRejected(f"Delhivery has no label for {awb} (packages_found: {found})")
        # A pre-signed storage link: it carries its own authorisation and refuses a second one.
        pdf = self.http.request("GET", str(link), headers={"Accept": "application/pdf"}).content
        if not pdf.startswith(b"%PDF"):
            raise BadPayload(f"Delhivery label link for {awb} did not return a PDF")
        return pdf

    # -- pickups and cancellation ----------------------------------------------------------------

    def request_pickup(self, bookings: list[Booking], on: date) -> PickupBooking:
        if not bookings:
            return PickupBooking(reference=None, scheduled_for=None, detail="no shipments to pick up")
        default = str(self.settings.get("pickup_location") or "")
        counts: dict[str, int] = {}
        for booking in bookings:
            location = str(booking.extra.get("pickup_location") or default)
            if not location:
                raise RemoteRejected(f"Delhivery: no pickup location for {booking.awb}")
            counts[location] = counts.get(location, 0) + 1
        references: list[str] = []
        details: list[str] = []
        for location, count in counts.items():
            body = {
                "pickup_location": location,
                "pickup_date": on.isoformat(),
                "pickup_time": str(self.settings.get("pickup_time") or DEFAULT_PICKUP_TIME),
                "expected_package_count": count,
            }
            try:
                answer = self._json("POST", PICKUP_PATH, json_body=body, what="pickup request")
            except RemoteRejected as e:
                if "pr_exists" in str(e) or "already" in str(e).lower():
                    details.append(f"{location}: a pickup is already scheduled for {on.isoformat()}")
                    continue
                raise
            if not isinstance(answer, dict):
                raise BadPayload("Delhivery pickup response is not a JSON object")
            if answer.get("success") is False or answer.get("status") is False:
                raise RemoteRejected(f"Delhivery refused the pickup at {location}: {_remark(answer, None)}")
            reference = next(
                (answer[k] for k in ("pickup_id", "pr_id", "pickup_request_id") if answer.get(k) not in (None, "")),
                None,
            )
            if reference is not None:
                references.append(str(reference))
            centre = answer.get("incoming_center_name")
            details.append(f"{location}: {count} parcel(s)" + (f", centre {centre}" if centre else ""))
        return PickupBooking(
            reference=",".join(references) or None,
            scheduled_for=on,
            detail="; ".join(details),
        )

    def cancel(self, booking: Booking) -> None:
        answer = self._json(
            "POST", EDIT_PATH, json_body={"waybill": booking.awb, "cancellation": "true"}, what="cancellation"
        )
        if not isinstance(answer, dict):
            raise BadPayload("Delhivery cancellation response is not a JSON object")
        if answer.get("status") is not True and str(answer.get("status")).lower() != "true":
            raise RemoteRejected(f"Delhivery did not cancel {booking.awb}: {_remark(answer, None)}")

    # -- tracking --------------------------------------------------------------------------------

    def track(self, awbs: list[str]) -> list[TrackingEvent]:
        events: list[TrackingEvent] = []
        unique = list(dict.fromkeys(a.strip() for a in awbs if a and a.strip()))
        for chunk in _chunks(unique, TRACK_BATCH):
            body = self._json("GET", TRACK_PATH, params={"waybill": ",".join(chunk)}, what="tracking")
            events.extend(self.parse_tracking(body))
        events.sort(key=lambda e: e.at)
        return events

    def parse_tracking(self, body: Any) -> list[TrackingEvent]:
        """Events from a tracking response (``ShipmentData[].Shipment.Scans[].ScanDetail``), oldest first."""
        if not isinstance(body, dict):
            raise BadPayload("Delhivery tracking response is not a JSON object")
        if "ShipmentData" not in body:
            error = str(body.get("Error") or body.get("error") or "")
            if "no such waybill" in error.lower() or "no data" in error.lower():
                return []
            raise BadPayload(f"Delhivery tracking response has no ShipmentData: {error or list(body)[:5]}")
        events: list[TrackingEvent] = []
        for entry in body.get("ShipmentData") or []:
            shipment = entry.get("Shipment") if isinstance(entry, dict) else None
            if not isinstance(shipment, dict):
                raise BadPayload("Delhivery tracking entry has no Shipment")
            awb = str(shipment.get("AWB") or "")
            scans = [s.get("ScanDetail") for s in shipment.get("Scans") or [] if isinstance(s, dict)]
            if not scans and isinstance(shipment.get("Status"), dict):
                status = shipment["Status"]
                scans = [
                    {
                        "ScanType": status.get("StatusType"),
                        "Scan": status.get("Status"),
                        "StatusDateTime": status.get("StatusDateTime"),
                        "ScannedLocation": status.get("StatusLocation"),
                        "StatusCode": status.get("StatusCode"),
                        "Instructions": status.get("Instructions"),
                    }
                ]
            for scan in scans:
                if not isinstance(scan, dict):
                    raise BadPayload(f"Delhivery scan of {awb} is not an object")
                events.append(
                    self._event(
                        awb,
                        kind=scan.get("ScanType"),
                        word=scan.get("Scan"),
                        code=scan.get("StatusCode"),
                        at=scan.get("StatusDateTime") or scan.get("ScanDateTime"),
                        location=scan.get("ScannedLocation"),
                        instructions=scan.get("Instructions"),
                        raw=scan,
                    )
                )
        events.sort(key=lambda e: e.at)
        return events

    def status_of(self, kind: Any, word: Any) -> tuple[str, ShipmentStatus]:
        """Our status for Delhivery's StatusType and Status, and the key it was found under."""
        kind_text = str(kind or "").strip().upper()
        word_text = " ".join(str(word or "").split())
        pair = f"{kind_text}/{word_text}"
        for key in (pair, kind_text):
            if key in self.status_map:
                return pair, self.status_map[key]
        lowered = pair.lower()
        for key, ours in self.status_map.items():
            if key.lower() == lowered:
                return pair, ours
        raise BadPayload(f"unknown Delhivery status '{pair}' (StatusType/Status)")

    def _event(
        self,
        awb: str,
        *,
        kind: Any,
        word: Any,
        code: Any,
        at: Any,
        location: Any,
        instructions: Any,
        raw: Mapping[str, Any],
    ) -> TrackingEvent:
        if not awb:
            raise BadPayload("Delhivery scan without a waybill")
        carrier_status, status = self.status_of(kind, word)
        nsl = str(code or "").strip().upper() or None
        reason = None
        if status is _S.NDR or (str(kind or "").strip().upper() == "UD" and nsl and nsl.startswith("EOD-")):
            status = _S.NDR
            reason = NDR_REASONS.get(nsl or "", _R.OTHER)
        detail = str(instructions).strip() if instructions else None
        return TrackingEvent(
            awb=awb,
            status=status,
            carrier_status=carrier_status,
            at=_time(at, f"Delhivery scan of {awb}"),
            location=str(location).strip() if location else None,
            detail=detail,
            ndr_reason=reason,
            raw={**raw, **({"nsl_code": nsl} if nsl else {})},
        )

    # -- webhooks --------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Delhivery has no signature: the scan push carries a shared secret in a header agreed with
        Delhivery (``settings.webhook_header``, default Authorization, as "Token <secret>" or bare)."""
        expected = self.config.credentials.get("webhook_token")
        if not expected:
            raise BadSignature("Delhivery webhook: no webhook_token configured for this carrier")
        name = str(self.settings.get("webhook_header") or "Authorization")
        sent = header(headers, name)
        if sent is None:
            raise BadSignature(f"Delhivery webhook without the {name} header")
        sent = sent.strip()
        if sent[:6].lower() == "token ":
            sent = sent[6:].strip()
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise BadSignature(f"Delhivery webhook {name} does not match")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[TrackingEvent]:
        payload = read_json(body, "Delhivery scan push")
        items = payload if isinstance(payload, list) else [payload]
        events: list[TrackingEvent] = []
        for item in items:
            if not isinstance(item, dict):
                raise BadPayload("Delhivery scan push is not a JSON object")
            if isinstance(item.get("Shipment"), dict):
                events.append(self._nested_push(item["Shipment"]))
            elif "waybill" in item or "Scan Type" in item:
                events.append(self._flat_push(item))
            else:
                raise BadPayload(f"Delhivery scan push of an unknown shape (keys {sorted(item)[:8]})")
        events.sort(key=lambda e: e.at)
        return events

    def _nested_push(self, shipment: Mapping[str, Any]) -> TrackingEvent:
        status = shipment.get("Status")
        if not isinstance(status, dict):
            raise BadPayload("Delhivery scan push has no Shipment.Status")
        return self._event(
            str(shipment.get("AWB") or ""),
            kind=status.get("StatusType"),
            word=status.get("Status"),
            code=shipment.get("NSLCode") or status.get("StatusCode"),
            at=status.get("StatusDateTime"),
            location=status.get("StatusLocation"),
            instructions=status.get("Instructions"),
            raw=dict(shipment),
        )

    def _flat_push(self, item: Mapping[str, Any]) -> TrackingEvent:
        # Delhivery One shape: waybill, status, "Status DateTime", City, "Scan Type", Scan, ReferenceNo,
        # Instructions. "Scan" is the status word as in ScanDetail; "status" is read when Scan is absent
        # or not a known word.
        kind = item.get("Scan Type") or item.get("StatusType")
        word = item.get("Scan")
        if word is None or not self._known(kind, word):
            word = item.get("status") or item.get("Status") or word
        return self._event(
            str(item.get("waybill") or item.get("AWB") or ""),
            kind=kind,
            word=word,
            code=item.get("NSLCode") or item.get("StatusCode") or item.get("nsl_code"),
            at=item.get("Status DateTime") or item.get("StatusDateTime"),
            location=item.get("City") or item.get("Location"),
            instructions=item.get("Instructions"),
            raw=dict(item),
        )

    def _known(self, kind: Any, word: Any) -> bool:
        try:
            self.status_of(kind, word)
        except BadPayload:
            return False
        return True

    # -- NDR -------------------------------------------------------------------------------------

    def ndr_action(self, action: NdrAction) -> None:
        entry: dict[str, Any] = {"waybill": action.awb}
        if action.action == "reattempt":
            if action.reattempt_on is not None:
                entry["act"] = NDR_ACTS["reschedule"]
                entry["action_data"] = {"deferred_date": action.reattempt_on.isoformat()}
            else:
                entry["act"] = NDR_ACTS["reattempt"]
        elif action.action == "update_address":
            data: dict[str, str] = {}
            if action.address is not None:
                data["name"] = action.address.name
                data["add"] = _street(action.address)
            phone = action.phone or (action.address.phone if action.address is not None else None)
            if phone:
                data["phone"] = phone
            if not data:
                raise RemoteRejected(f"Delhivery NDR update for {action.awb}: no address or phone to send")
            entry["act"] = NDR_ACTS["update_address"]
            entry["action_data"] = data
        elif action.action == "rto":
            act = self.settings.get("rto_act")
            if not act:
                # No RTO instruction is documented: a shipment in NDR that is not re-attempted goes back
                # to the seller after Delhivery's attempts run out.
                return
            entry["act"] = str(act)
        else:
            raise RemoteRejected(f"Delhivery has no NDR action for '{action.action}'")
        answer = self._json("POST", NDR_PATH, json_body={"data": [entry]}, what="NDR update")
        if isinstance(answer, dict) and (answer.get("status") is False or answer.get("success") is False):
            raise RemoteRejected(f"Delhivery refused the NDR action for {action.awb}: {_remark(answer, None)}")


# -- helpers -------------------------------------------------------------------------------------


def _modes(setting: Any) -> list[str]:
    if setting is None or setting == "":
        return list(MODES)
    words = setting.split(",") if isinstance(setting, str) else list(setting)
    modes: list[str] = []
    for word in words:
        mode = _MODE_ALIASES.get(str(word).strip().lower())
        if mode is None:
            raise RemoteRejected(f"Delhivery setting shipping_mode: '{word}' is not Surface or Express")
        if mode not in modes:
            modes.append(mode)
    return modes


def _yes(value: Any) -> bool:
    return str(value or "").strip().upper() in ("Y", "YES", "TRUE")


def _first_charge(body: Any) -> Mapping[str, Any] | None:
    """The rate API answers a list with one object of charges; some proxies wrap it as {"data": [...]}
    or key it "0"."""
    if isinstance(body, dict):
        if isinstance(body.get("data"), list):
            body = body["data"]
        elif isinstance(body.get("0"), dict):
            return body["0"]
        elif "total_amount" in body:
            return body
        else:
            raise BadPayload(f"Delhivery invoice charges response of an unknown shape (keys {sorted(body)[:8]})")
    if not isinstance(body, list):
        raise BadPayload("Delhivery invoice charges response is not a list")
    return next((c for c in body if isinstance(c, dict)), None)


def _remark(body: Mapping[str, Any], package: Mapping[str, Any] | None) -> str:
    parts: list[str] = []
    if package is not None:
        remarks = package.get("remarks")
        if isinstance(remarks, list):
            parts.extend(str(r) for r in remarks if r)
        elif remarks:
            parts.append(str(remarks))
    for key in ("rmk", "remark", "error", "message", "detail"):
        value = body.get(key)
        if value and value is not True and str(value) not in parts:
            parts.append(str(value))
    return "; ".join(parts) or "no reason given"


def _street(address: Address) -> str:
    return ", ".join(part for part in (address.line1, address.line2) if part)


def _one_line(address: Address) -> str:
    return f"{_street(address)}, {address.city} {address.pincode}"


def _state_name(state: str) -> str:
    found = find_state(state) if state else None
    return found.name if found else state


def _cm(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _time(value: Any, where: str) -> datetime:
    if not value:
        raise BadPayload(f"{where}: no time")
    text = str(value).strip()
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for pattern in ("%d-%m-%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M"):
            try:
                stamp = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            raise BadPayload(f"{where}: '{text}' is not a time") from None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=IST)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
