"""Indian identifiers: GST state codes, GSTIN check characters, pincodes, HSN codes and GST rates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True)
class State:
    gst_code: str  # two digits, as in the first two characters of a GSTIN
    iso: str  # ISO 3166-2:IN subdivision code without the "IN-" prefix
    name: str
    aliases: tuple[str, ...] = ()


STATES: tuple[State, ...] = (
    State("01", "JK", "Jammu and Kashmir"),
    State("02", "HP", "Himachal Pradesh"),
    State("03", "PB", "Punjab"),
    State("04", "CH", "Chandigarh"),
    State("05", "UK", "Uttarakhand", ("UT", "UL", "Uttaranchal")),
    State("06", "HR", "Haryana"),
    State("07", "DL", "Delhi", ("NCT of Delhi", "New Delhi")),
    State("08", "RJ", "Rajasthan"),
    State("09", "UP", "Uttar Pradesh"),
    State("10", "BR", "Bihar"),
    State("11", "SK", "Sikkim"),
    State("12", "AR", "Arunachal Pradesh"),
    State("13", "NL", "Nagaland"),
    State("14", "MN", "Manipur"),
    State("15", "MZ", "Mizoram"),
    State("16", "TR", "Tripura"),
    State("17", "ML", "Meghalaya"),
    State("18", "AS", "Assam"),
    State("19", "WB", "West Bengal"),
    State("20", "JH", "Jharkhand"),
    State("21", "OD", "Odisha", ("OR", "Orissa")),
    State("22", "CG", "Chhattisgarh", ("CT",)),
    State("23", "MP", "Madhya Pradesh"),
    State("24", "GJ", "Gujarat"),
    State(
        "26",
        "DH",
        "Dadra and Nagar Haveli and Daman and Diu",
        ("DN", "DD", "Dadra and Nagar Haveli", "Daman and Diu", "The Dadra and Nagar Haveli and Daman and Diu"),
    ),
    State("27", "MH", "Maharashtra"),
    State("29", "KA", "Karnataka"),
    State("30", "GA", "Goa"),
    State("31", "LD", "Lakshadweep"),
    State("32", "KL", "Kerala"),
    State("33", "TN", "Tamil Nadu"),
    State("34", "PY", "Puducherry", ("Pondicherry",)),
    State("35", "AN", "Andaman and Nicobar Islands"),
    State("36", "TS", "Telangana", ("TG",)),
    State("37", "AP", "Andhra Pradesh"),
    State("38", "LA", "Ladakh"),
    State("97", "OT", "Other Territory"),
)


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower().replace("&", "and"))


_BY_KEY: dict[str, State] = {}
for _s in STATES:
    for _k in (_s.gst_code, _s.iso, _s.name, *_s.aliases):
        _BY_KEY.setdefault(_key(_k), _s)
# GST code 25 (Daman and Diu) was merged into 26 in 2020; old GSTINs still carry it.
_BY_KEY["25"] = _BY_KEY["26"]
_BY_GST = {s.gst_code: s for s in STATES}


def find_state(text: str | int) -> State | None:
    """Accepts a GST state code ("27" or 27), an ISO code ("MH", "IN-MH") or a name ("Maharashtra")."""
    raw = str(text).strip()
    if raw.upper().startswith("IN-"):
        raw = raw[3:]
    if raw.isdigit() and len(raw) == 1:
        raw = "0" + raw
    return _BY_KEY.get(_key(raw))


def state_by_gst_code(code: str) -> State:
    return _BY_GST[code]


PINCODE_RE = re.compile(r"^[1-9][0-9]{5}\Z")


def is_pincode_format(text: str) -> bool:
    return bool(PINCODE_RE.match(text))


_GSTIN_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
GSTIN_RE = re.compile(r"^[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z]Z[0-9A-Z]\Z")


def gstin_check_char(first14: str) -> str:
    """The GSTIN check character: a Luhn mod-36 checksum over the first 14 characters."""
    total = 0
    for i, ch in enumerate(first14):
        product = _GSTIN_CHARS.index(ch) * (2 if i % 2 else 1)
        total += product // 36 + product % 36
    return _GSTIN_CHARS[(36 - total % 36) % 36]


def gstin_problem(gstin: str) -> str | None:
    """Why a GSTIN is invalid, or None when it is well formed with a correct check character."""
    if len(gstin) != 15:
        return "a GSTIN has 15 characters"
    if not GSTIN_RE.match(gstin):
        return "a GSTIN is 2 digits (state), a 10-character PAN, an entity digit, 'Z' and a check character"
    if gstin[:2] not in _BY_GST and gstin[:2] != "25":
        return f"'{gstin[:2]}' is not a GST state code"
    expected = gstin_check_char(gstin[:14])
    if gstin[14] != expected:
        return f"check character is wrong (expected '{expected}')"
    return None


HSN_RE = re.compile(r"^(?:[0-9]{4}|[0-9]{6}|[0-9]{8})\Z")


def hsn_problem(hsn: str) -> str | None:
    if not HSN_RE.match(hsn):
        return "an HSN code is 4, 6 or 8 digits"
    return None


GST_RATES: tuple[Decimal, ...] = tuple(
    Decimal(r) for r in ("0", "0.1", "0.25", "1", "1.5", "3", "5", "12", "18", "28", "40")
)


def parse_gst_rate(value: object) -> Decimal | None:
    """A GST rate in percent if it is one of the rates GST law knows, else None."""
    try:
        text = str(value).strip()
        rate = Decimal(text[:-1] if text.endswith("%") else text)
    except (InvalidOperation, ValueError):
        return None
    if not rate.is_finite():  # NaN and infinities (a signalling NaN cannot even be compared)
        return None
    for known in GST_RATES:
        if rate == known:
            return known
    return None


def format_rate(rate: Decimal) -> str:
    text = format(rate.normalize(), "f")
    return text
