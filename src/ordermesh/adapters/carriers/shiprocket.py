"""Shiprocket (an aggregator: one account, many couriers) as a carrier, through its external API v1
(``https://apiv2.shiprocket.in/v1/external``).

Auth: ``POST /auth/login {email, password}`` gives a bearer token, kept by the adapter until
Shiprocket answers 401 (then it logs in again, once, and repeats the call) or until it is older
than ``settings.token_days`` (default 9; Shiprocket's tokens last about 10 days).

Credentials: ``email`` and ``password`` of a Shiprocket API user, ``webhook_token`` (the token typed
into the tracking webhook in the Shiprocket panel). See docs/carriers/shiprocket.md.
"""

from __future__ import annotations

import hmac
import re
import threading
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from ordermesh.adapters.carriers.base import (
    BadPayload,
    BadSignature,
    Booking,
    CarrierConfig,
    Http,
    Item,
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
from ordermesh.adapters.clock import Clock, SystemClock
from ordermesh.domain.india import find_state
from ordermesh.domain.statuses import NdrReason, ShipmentStatus

IST = ZoneInfo("Asia/Kolkata")
DEFAULT_TOKEN_DAYS = 9
GRAMS_PER_KG = Decimal(1000)
KG = Decimal("0.001")

_S = ShipmentStatus
# Shiprocket's shipment status codes and their upper-case labels (FORMATS.md 5.3). Codes 1-26 agree
# across every public source; from 27 up the most common numbering is used, and code 27 itself
# (labelled differently by different sources) is left out on purpose: it fails loudly if it comes.
STATUS_CODES: dict[str, tuple[str, ShipmentStatus]] = {
    "1": ("AWB ASSIGNED", _S.READY_TO_SHIP),
    "2": ("LABEL GENERATED", _S.READY_TO_SHIP),
    "3": ("PICKUP SCHEDULED/GENERATED", _S.MANIFESTED),
    "4": ("PICKUP QUEUED", _S.MANIFESTED),
    "5": ("MANIFEST GENERATED", _S.MANIFESTED),
    "6": ("SHIPPED", _S.IN_TRANSIT),
    "7": ("DELIVERED", _S.DELIVERED),
    "8": ("CANCELLED", _S.CANCELLED),
    "9": ("RTO INITIATED", _S.RTO_INITIATED),
    "10": ("RTO DELIVERED", _S.RTO_DELIVERED),
    "11": ("PENDING", _S.IN_TRANSIT),  # held in the courier's network
    "12": ("LOST", _S.LOST),
    "13": ("PICKUP ERROR", _S.MANIFESTED),  # still waiting to be collected
    "14": ("RTO ACKNOWLEDGED", _S.RTO_DELIVERED),  # the seller confirmed the return arrived
    "15": ("PICKUP RESCHEDULED", _S.MANIFESTED),
    "16": ("CANCELLATION REQUESTED", _S.CANCELLED),
    "17": ("OUT FOR DELIVERY", _S.OUT_FOR_DELIVERY),
    "18": ("IN TRANSIT", _S.IN_TRANSIT),
    "19": ("OUT FOR PICKUP", _S.MANIFESTED),
    "20": ("PICKUP EXCEPTION", _S.MANIFESTED),
    "21": ("UNDELIVERED", _S.NDR),
    "22": ("DELAYED", _S.IN_TRANSIT),
    "23": ("PARTIAL DELIVERED", _S.DELIVERED),
    "24": ("DESTROYED", _S.LOST),
    "25": ("DAMAGED", _S.LOST),
    "26": ("FULFILLED", _S.DELIVERED),
    "38": ("REACHED AT DESTINATION HUB", _S.IN_TRANSIT),
    "39": ("MISROUTED", _S.IN_TRANSIT),
    "40": ("RTO NDR", _S.RTO_IN_TRANSIT),  # a failed attempt to hand the return back to us
    "41": ("RTO OFD", _S.RTO_IN_TRANSIT),
    "42": ("PICKED UP", _S.PICKED_UP),
    "43": ("SELF FULFILLED", _S.DELIVERED),
    "44": ("DISPOSED OFF", _S.LOST),
    "45": ("CANCELLED BEFORE DISPATCHED", _S.CANCELLED),
    "46": ("RTO IN TRANSIT", _S.RTO_IN_TRANSIT),
    "47": ("QC FAILED", _S.MANIFESTED),  # reverse pickups: the courier did not take it
    "48": ("REACHED WAREHOUSE", _S.IN_TRANSIT),
    "51": ("HANDOVER TO COURIER", _S.PICKED_UP),
    "52": ("SHIPMENT BOOKED", _S.READY_TO_SHIP),
    "75": ("RTO LOCK", _S.RTO_INITIATED),
    "76": ("UNTRACEABLE", _S.LOST),
    "77": ("ISSUE RELATED TO THE RECIPIENT", _S.NDR),
    "78": ("REACHED BACK AT SELLER CITY", _S.RTO_IN_TRANSIT),
}
STATUS_MAP: dict[str, ShipmentStatus] = {
    **{code: status for code, (_, status) in STATUS_CODES.items()},
    **{label: status for label, status in STATUS_CODES.values()},
}
# Scans Shiprocket has not mapped to one of its statuses carry this in sr-status / sr-status-label.
UNMAPPED = frozenset({"", "NA", "N/A"})

# NDR reasons come only as the courier's scan text: whole words or phrases, first match wins, so the
# order matters ("refused ... not available" is a refusal).
NDR_KEYWORDS: tuple[tuple[tuple[str, ...], NdrReason], ...] = (
    (
        ("refused", "refuse", "rejected", "not accepted", "order cancelled", "does not want", "not interested"),
        NdrReason.REFUSED,
    ),
    (
        (
            "cod not ready",
            "cash not ready",
            "cod amount not ready",
            "cash not available",
            "no cash",
            "payment not ready",
        ),
        NdrReason.COD_NOT_READY,
    ),
    (
        (
            "out of delivery area",
            "oda",
            "non serviceable",
            "non-serviceable",
            "not serviceable",
            "restricted area",
            "entry restricted",
            "no entry",
        ),
        NdrReason.OUT_OF_DELIVERY_AREA,
    ),
    (
        (
            "unavailable",
            "not available",
            "door locked",
            "premises closed",
            "office closed",
            "not reachable",
            "not responding",
            "no response",
            "not contactable",
            "unreachable",
            "shop closed",
            "house locked",
        ),
        NdrReason.CUSTOMER_UNAVAILABLE,
    ),
    (
        (
            "reschedule",
            "rescheduled",
            "rescheduling",
            "future delivery",
            "deliver later",
            "delivery on",
            "requested delivery",
            "next day",
        ),
        NdrReason.RESCHEDULE_REQUESTED,
    ),
    (("address", "incomplete", "wrong pincode", "landmark"), NdrReason.ADDRESS_ISSUE),
)

_TIME_FORMATS = ("%d %m %Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d-%m-%Y %H:%M:%S", "%Y-%m-%d")


def ndr_reason(text: str | None) -> NdrReason:
    """Our NDR reason for a courier's scan text (one keyword table for every courier)."""
    lowered = (text or "").lower()
    for words, reason in NDR_KEYWORDS:
        for word in words:
            if re.search(rf"\b{re.escape(word)}\b", lowered):
                return reason
    return NdrReason.OTHER


@register("shiprocket")
class ShiprocketCarrier:
    code: ClassVar[str] = "shiprocket"
    STATUS_MAP: ClassVar[Mapping[str, ShipmentStatus]] = STATUS_MAP

    def __init__(self, config: CarrierConfig, http: Http):
        self.config = config
        self.http = http
        self.settings = config.settings
        self.clock: Clock = SystemClock()
        self._token: str | None = None
        self._token_at: datetime | None = None
        self._lock = threading.Lock()

    # -- auth and HTTP ---------------------------------------------------------------------------

    @property
    def token_age_limit(self) -> timedelta:
        return timedelta(days=float(self.settings.get("token_days") or DEFAULT_TOKEN_DAYS))

    def _login(self) -> str:
        email = self.config.credentials.get("email")
        password = self.config.credentials.get("password")
        if not email or not password:
            raise RemoteAuthFailed("Shiprocket credentials need 'email' and 'password'")
        try:
            response = self.http.request("POST", "/auth/login", json_body={"email": email, "password": password})
        except (RemoteAuthFailed, RemoteRejected) as e:
            # Shiprocket answers a wrong password with a 4xx and a message; either way it is our credentials.
            raise RemoteAuthFailed(f"Shiprocket refused the login for {email}: {e}", status=e.status) from None
        answer = read_json(response.content, "Shiprocket login response")
        token = answer.get("token") if isinstance(answer, dict) else None
        if not token:
            raise RemoteAuthFailed(f"Shiprocket login for {email} returned no token")
        self._token = str(token)
        self._token_at = self.clock.now()
        return self._token

    def _current_token(self) -> str:
        with self._lock:
            fresh = (
                self._token is not None
                and self._token_at is not None
                and self.clock.now() - self._token_at < self.token_age_limit
            )
            return self._token if fresh and self._token else self._login()

    def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json_body: Any = None) -> Any:
        token = self._current_token()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            try:
                response = self.http.request(method, path, params=params, json_body=json_body, headers=headers)
            except RemoteAuthFailed as e:
                if e.status != 401 or attempt == 2:
                    raise
                with self._lock:
                    # log in again, unless another call did so meanwhile
                    token = self._login() if self._token in (None, token) else str(self._token)
                continue
            return read_json(response.content, f"Shiprocket {method} {path} response")
        raise AssertionError("unreachable")

    # -- quotes ----------------------------------------------------------------------------------

    def quote(
        self, origin: str, destination: str, parcel: Parcel, *, cod: bool, declared_value: Decimal
    ) -> list[Quote]:
        params = {
            "pickup_postcode": origin,
            "delivery_postcode": destination,
            "cod": 1 if cod else 0,
            "weight": f"{_kg(parcel.weight_g):.3f}",
            "declared_value": str(declared_value),
            "length": _plain(parcel.length_cm),
            "breadth": _plain(parcel.breadth_cm),
            "height": _plain(parcel.height_cm),
        }
        answer = self._call("GET", "/courier/serviceability/", params=params)
        data = answer.get("data") if isinstance(answer, dict) else None
        couriers = data.get("available_courier_companies") if isinstance(data, dict) else None
        if not couriers:
            return []  # Shiprocket's way of saying: no courier serves this pair
        if not isinstance(couriers, list):
            raise BadPayload("Shiprocket serviceability: available_courier_companies is not a list")
        return [self._quote(courier, cod) for courier in couriers]

    def _quote(self, courier: Any, cod_wanted: bool) -> Quote:
        if not isinstance(courier, dict) or courier.get("courier_company_id") in (None, ""):
            raise BadPayload("Shiprocket serviceability: a courier without courier_company_id")
        cid = str(courier["courier_company_id"])
        where = f"Shiprocket courier {cid}"
        supports_cod = str(courier.get("cod", "0")).strip() in ("1", "true", "True")
        rate = money(courier.get("rate"), f"{where}.rate")
        freight = courier.get("freight_charge")
        cod_charges = money(courier.get("cod_charges"), f"{where}.cod_charges")
        cod_fee = cod_charges if cod_wanted and supports_cod else Decimal(0)
        # freight_charge excludes the COD fee: add it ourselves, whatever `rate` says; when only
        # `rate` came, it is the total.
        price = rate if freight in (None, "") else money(freight, f"{where}.freight_charge") + cod_fee
        days = str(courier.get("estimated_delivery_days") or "").strip()
        return Quote(
            carrier=self.code,
            service=cid,
            service_name=str(courier.get("courier_name") or cid),
            price=price,
            cod_fee=cod_fee,
            cod=supports_cod,
            etd_days=int(days) if days.isdigit() else None,
            detail={
                "courier_company_id": courier["courier_company_id"],
                "rate": str(rate),
                "freight_charge": None if freight in (None, "") else str(money(freight, where)),
                "cod_charges": str(cod_charges),
                "etd": courier.get("etd"),
            },
        )

    # -- booking ---------------------------------------------------------------------------------

    def order_body(self, request: ShipmentRequest) -> dict[str, Any]:
        """The ``/orders/create/adhoc`` body for a shipment (public so the request shape can be checked)."""
        to = request.to
        first, _, last = to.name.strip().partition(" ")
        line1 = f"{to.company}, {to.line1}" if to.company else to.line1
        state = find_state(to.state)
        sub_total = sum((item.unit_price * item.quantity for item in request.items), Decimal(0))
        payment = request.payment.lower()
        if payment not in ("cod", "prepaid"):
            raise RemoteRejected(
                f"shipment {request.reference}: payment '{request.payment}' is neither cod nor prepaid"
            )
        cod = payment == "cod"
        # Shiprocket collects the order total (sub_total + charges - total_discount) on a COD order:
        # make that total the amount to collect.
        shipping_charges = max(request.cod_amount - sub_total, Decimal(0)) if cod else Decimal(0)
        total_discount = max(sub_total - request.cod_amount, Decimal(0)) if cod else Decimal(0)
        body: dict[str, Any] = {
            "order_id": request.reference,
            "order_date": _as_ist(request.placed_at).strftime("%Y-%m-%d %H:%M"),
            "pickup_location": request.pickup.name,
        }
        if self.settings.get("channel_id"):
            body["channel_id"] = int(self.settings["channel_id"])
        body.update(
            {
                "billing_customer_name": first,
                "billing_last_name": last.strip(),
                "billing_address": line1,
            }
        )
        if to.line2:
            body["billing_address_2"] = to.line2
        body.update(
            {
                "billing_city": to.city,
                "billing_pincode": _pincode(to.pincode, request.reference),
                "billing_state": state.name if state else to.state,
                "billing_country": "India",
                "billing_email": to.email or self.settings.get("fallback_email") or "",
                "billing_phone": _phone(to.phone, request.reference),
                "shipping_is_billing": True,
                "order_items": [_item(item) for item in request.items],
                "payment_method": "COD" if cod else "Prepaid",
                "shipping_charges": _number(shipping_charges),
                "giftwrap_charges": 0,
                "transaction_charges": 0,
                "total_discount": _number(total_discount),
                "sub_total": _number(sub_total),
                "length": _number(request.parcel.length_cm),
                "breadth": _number(request.parcel.breadth_cm),
                "height": _number(request.parcel.height_cm),
                "weight": _number(_kg(request.parcel.weight_g)),
            }
        )
        if request.ewaybill_number:
            body["ewaybill_no"] = request.ewaybill_number
        return body

    def book(self, request: ShipmentRequest) -> Booking:
        created = self._call("POST", "/orders/create/adhoc", json_body=self.order_body(request))
        shipment_id = created.get("shipment_id") if isinstance(created, dict) else None
        if not shipment_id:
            message = created.get("message") if isinstance(created, dict) else None
            raise RemoteRejected(f"Shiprocket created no shipment for {request.reference}: {message or created}")

        assign: dict[str, Any] = {"shipment_id": shipment_id}
        if request.service:
            assign["courier_id"] = int(request.service) if request.service.isdigit() else request.service
        assigned = self._call("POST", "/courier/assign/awb", json_body=assign)
        data = ((assigned.get("response") or {}).get("data") or {}) if isinstance(assigned, dict) else {}
        awb = str(data.get("awb_code") or "").strip()
        if not isinstance(assigned, dict) or str(assigned.get("awb_assign_status")) != "1" or not awb:
            reason = data.get("awb_assign_error") or (assigned.get("message") if isinstance(assigned, dict) else None)
            raise RemoteRejected(
                f"Shiprocket assigned no AWB to shipment {shipment_id} ({request.reference}): {reason or assigned}"
            )

        label_pdf, label_url, label_error = self._label(shipment_id)
        extra: dict[str, Any] = {
            "order_id": created.get("order_id"),
            "shipment_id": shipment_id,
            "courier_company_id": data.get("courier_company_id"),
            "label_url": label_url,
        }
        if label_error:
            extra["label_error"] = label_error
        return Booking(
            awb=awb,
            carrier_reference=str(shipment_id),
            courier=data.get("courier_name") or None,
            label_pdf=label_pdf,
            extra=extra,
        )

    def _label(self, shipment_id: Any) -> tuple[bytes | None, str | None, str | None]:
        # The AWB is assigned by now: a label that fails must not fail the booking (it can be printed
        # from the panel); the error travels in Booking.extra instead.
        try:
            answer = self._call("POST", "/courier/generate/label", json_body={"shipment_id": [shipment_id]})
            url = answer.get("label_url") if isinstance(answer, dict) else None
            if not url or str(answer.get("label_created")) != "1":
                return None, None, f"no label: {answer.get('response') if isinstance(answer, dict) else answer}"
            # The label lives on a file store: fetched without our bearer token (which must not leak
            # there, and which pre-signed storage URLs refuse).
            pdf = self.http.request("GET", str(url), headers={"Accept": "application/pdf"}).content
        except RemoteError as e:
            return None, None, str(e)
        if not pdf.startswith(b"%PDF"):
            return None, str(url), "the label URL did not return a PDF"
        return pdf, str(url), None

    # -- pickups and cancellation ----------------------------------------------------------------

    def request_pickup(self, bookings: list[Booking], on: date) -> PickupBooking:
        ids = [_shipment_id(booking) for booking in bookings]
        answer = self._call("POST", "/courier/generate/pickup", json_body={"shipment_id": ids})
        if not isinstance(answer, dict) or str(answer.get("pickup_status")) != "1":
            raise RemoteRejected(f"Shiprocket scheduled no pickup for shipments {ids}: {answer}")
        detail = answer.get("response") or {}
        scheduled = detail.get("pickup_scheduled_date")
        return PickupBooking(
            reference=str(detail.get("pickup_token_number") or "") or None,
            scheduled_for=_parse_time(scheduled, "pickup_scheduled_date").date() if scheduled else None,
            detail=str(detail.get("data") or ""),
        )

    def cancel(self, booking: Booking) -> None:
        self._call("POST", "/orders/cancel/shipment/awbs", json_body={"awbs": [booking.awb]})

    # -- tracking: pull --------------------------------------------------------------------------

    def track(self, awbs: list[str]) -> list[TrackingEvent]:
        events: list[TrackingEvent] = []
        for awb in awbs:
            answer = self._call("GET", f"/courier/track/awb/{awb}")
            data = answer.get("tracking_data") if isinstance(answer, dict) else None
            if data is None and isinstance(answer, dict) and isinstance(answer.get(awb), dict):
                data = answer[awb].get("tracking_data")  # the multi-AWB shape, keyed by AWB
            if not isinstance(data, dict):
                raise BadPayload(f"Shiprocket tracking for {awb}: no tracking_data")
            activities = data.get("shipment_track_activities") or data.get("track_activities") or []
            if not isinstance(activities, list):
                raise BadPayload(f"Shiprocket tracking for {awb}: activities are not a list")
            own = [e for scan in activities if (e := self._scan_event(awb, scan)) is not None]
            events += sorted(own, key=lambda e: e.at)
        return events

    # -- tracking: webhook -----------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        expected = self.config.credentials.get("webhook_token")
        if not expected:
            raise BadSignature("no webhook_token configured for this Shiprocket account")
        sent = header(headers, "x-api-key")
        if not sent:
            raise BadSignature("x-api-key header missing")
        if not hmac.compare_digest(sent.strip().encode(), expected.encode()):
            raise BadSignature("x-api-key does not match the webhook token")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[TrackingEvent]:
        document = read_json(body, "Shiprocket webhook body")
        if not isinstance(document, dict) or document.get("awb") in (None, ""):
            raise BadPayload("Shiprocket webhook without an awb")
        awb = str(document["awb"]).strip()
        scans = document.get("scans") or []
        if not isinstance(scans, list):
            raise BadPayload(f"Shiprocket webhook for {awb}: scans is not a list")
        events = [e for scan in scans if (e := self._scan_event(awb, scan)) is not None]

        code = _text(document.get("shipment_status_id") or document.get("current_status_id"))
        label = _text(document.get("shipment_status") or document.get("current_status"))
        status = self._status(code, label, f"Shiprocket webhook for {awb}")
        if status is not None:
            at = _parse_time(document.get("current_timestamp"), f"Shiprocket webhook for {awb}.current_timestamp")
            same = next((e for e in events if e.status is status and e.at == at), None)
            if same is None:
                last = scans[-1] if scans and isinstance(scans[-1], dict) else {}
                reason_from = next(
                    (e.detail for e in reversed(events) if e.status is status and e.detail), last.get("activity")
                )
                events.append(
                    TrackingEvent(
                        awb=awb,
                        status=status,
                        carrier_status=code or label,
                        at=at,
                        location=last.get("location") or None,
                        detail=label or None,
                        ndr_reason=ndr_reason(reason_from) if status is _S.NDR else None,
                        raw={k: v for k, v in document.items() if k != "scans"},
                    )
                )
        return sorted(events, key=lambda e: e.at)

    # -- NDR -------------------------------------------------------------------------------------

    def ndr_action(self, action: NdrAction) -> None:
        # The endpoint and body are UNCONFIRMED (FORMATS.md 5.3 and 9): see docs/carriers/shiprocket.md.
        if action.action == "rto":
            body: dict[str, Any] = {"action": "return"}
            if action.comment:
                body["comments"] = action.comment
        elif action.action in ("reattempt", "update_address"):
            notes = [action.comment] if action.comment else []
            if action.action == "update_address":
                if action.address is None and not action.phone:
                    raise RemoteRejected(f"NDR update_address for {action.awb} carries no address or phone")
                if action.address is not None:
                    a = action.address
                    notes.append(
                        "New address: " + ", ".join(p for p in (a.name, a.line1, a.line2, a.city, a.pincode) if p)
                    )
                if action.phone:
                    notes.append(f"New phone: {action.phone}")
            body = {"action": "re-attempt"}
            if action.reattempt_on:
                body["deferred_date"] = action.reattempt_on.isoformat()
            if notes:
                body["comments"] = "; ".join(notes)
        else:
            raise RemoteRejected(f"Shiprocket takes no NDR action '{action.action}'")
        self._call("POST", f"/ndr/{action.awb}/action", json_body=body)

    # -- statuses --------------------------------------------------------------------------------

    def _status(self, code: str, label: str, where: str) -> ShipmentStatus | None:
        """Our status for a Shiprocket code and label; None when Shiprocket itself did not map the scan."""
        key = _label_key(label)
        if key in STATUS_MAP:  # the label first: from code 27 up the numbering differs between sources
            return STATUS_MAP[key]
        if code in STATUS_MAP:
            return STATUS_MAP[code]
        if code.upper() in UNMAPPED and key in UNMAPPED:
            return None
        raise BadPayload(f"{where}: unknown Shiprocket status {code or '-'} '{label}'")

    def _scan_event(self, awb: str, scan: Any) -> TrackingEvent | None:
        if not isinstance(scan, dict):
            raise BadPayload(f"Shiprocket scan for {awb} is not an object")
        code = _text(scan.get("sr-status"))
        label = _text(scan.get("sr-status-label"))
        where = f"Shiprocket scan for {awb} at {scan.get('date')}"
        status = self._status(code, label, where)
        if status is None:
            return None
        activity = _text(scan.get("activity")) or None
        return TrackingEvent(
            awb=awb,
            status=status,
            carrier_status=code if code.upper() not in UNMAPPED else label,
            at=_parse_time(scan.get("date"), f"{where}.date"),
            location=_text(scan.get("location")) or None,
            detail=activity,
            ndr_reason=ndr_reason(activity) if status is _S.NDR else None,
            raw=dict(scan),
        )


# -- helpers ---------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _label_key(label: str) -> str:
    return re.sub(r"\s+", " ", label.replace("_", " ")).strip().upper()


def _parse_time(value: Any, where: str) -> datetime:
    """Shiprocket's times are IST without an offset, in several layouts."""
    text = _text(value)
    if not text:
        raise BadPayload(f"{where}: no time")
    if text[4:5] == "-":  # 2026-11-25 14:10:11 and the other ISO layouts, read as below but without strptime
        try:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=IST)
    for layout in _TIME_FORMATS:
        try:
            return datetime.strptime(text, layout).replace(tzinfo=IST)
        except ValueError:
            continue
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadPayload(f"{where}: '{text}' is not a time") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=IST)


def _as_ist(stamp: datetime) -> datetime:
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).astimezone(IST)


def _kg(grams: int) -> Decimal:
    return (Decimal(grams) / GRAMS_PER_KG).quantize(KG)


def _plain(value: Decimal) -> str:
    """A Decimal as plain digits: 30 for 30.00, 10.5 for 10.50."""
    return format(Decimal(value).normalize(), "f")


def _number(value: Decimal | int) -> int | float:
    """A JSON number: Shiprocket takes numbers, not strings, for amounts and measures."""
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def _pincode(value: str, reference: str) -> int:
    digits = re.sub(r"\s", "", value)
    if not re.fullmatch(r"[1-9][0-9]{5}", digits):
        raise RemoteRejected(f"shipment {reference}: '{value}' is not a pincode")
    return int(digits)


def _phone(value: str, reference: str) -> int:
    digits = re.sub(r"\D", "", value)
    if len(digits) > 10 and digits.startswith(("91", "0")):
        digits = digits[-10:]
    if len(digits) != 10:
        raise RemoteRejected(f"shipment {reference}: '{value}' is not a 10-digit phone number")
    return int(digits)


def _item(item: Item) -> dict[str, Any]:
    line: dict[str, Any] = {
        "name": item.name,
        "sku": item.sku,
        "units": item.quantity,
        "selling_price": _number(item.unit_price),
        "discount": 0,
    }
    if item.gst_rate is not None:
        line["tax"] = _number(item.gst_rate)
    if item.hsn:
        line["hsn"] = int(item.hsn) if item.hsn.isdigit() else item.hsn
    return line


def _shipment_id(booking: Booking) -> int:
    raw = booking.carrier_reference or booking.extra.get("shipment_id")
    try:
        return int(str(raw))
    except ValueError:
        raise RemoteRejected(f"booking {booking.awb} has no Shiprocket shipment_id") from None
