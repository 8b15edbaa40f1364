"""Customer identity: phone numbers and emails in one spelling, masked for those who should not see
them, and the placeholders personal data is replaced with when a buyer asks to be erased.

One real person is one customer across channels: matched on the phone in E.164 ("+919876543210"),
else on the lower-cased email. Channels spell the same number a dozen ways ("98765 43210",
"+91-98765-43210", "09876543210", "919876543210", "0091 98765 43210"); they all normalise to one key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, overload

INDIA = "91"
_SEPARATORS = re.compile(r"[\s\-.()\u00a0\u2010-\u2015]")  # spaces, hyphens and dashes, dots, brackets
_DIGITS = re.compile(r"^[0-9]+\Z")
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}\Z")
# E.164 country codes are prefix-free: 1 and 7 are one digit, these are two, every other is three.
_TWO_DIGIT_CODES = frozenset(
    re.findall(
        r"[0-9]{2}",
        "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
        "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98",
    )
)


def normalise_phone(raw: str | None, default_country: str = INDIA) -> str | None:
    """The number in E.164 (``"+919876543210"``), or None when it is not a plausible phone number.

    Indian numbers (the default country, or written with +91 / 0091 / 91): a 10-digit national
    number. A bare 10-digit number must be a mobile (starting 6-9); a landline needs its STD code with
    the trunk 0 ("022 2345 6789", "0120-4567890") or the country code, because a bare 10-digit number
    starting 1-5 is as likely a foreign number without its code. A trunk 0 after +91 ("+91 (0)98...")
    is dropped. Other countries: kept when written with + or 00 and 8-15 digits in all. Letters,
    extensions, two numbers in one field and numbers of one repeated digit are refused.
    """
    if not (_DIGITS.match(default_country) and 1 <= len(default_country) <= 3 and default_country[0] != "0"):
        raise ValueError(f"default_country must be a country calling code such as '91', not {default_country!r}")
    if raw is None:
        return None
    text = raw.strip()
    if text.lower().startswith("tel:"):
        text = text[4:]
    compact = _SEPARATORS.sub("", text.replace("(0)", ""))
    if compact.startswith("+"):
        return _international(compact[1:])
    if compact.startswith("00"):
        return _international(compact[2:])
    if not _DIGITS.match(compact):
        return None
    if default_country == INDIA:
        return _indian_national(compact)
    national = compact[1:] if compact.startswith("0") else compact
    return _plausible(default_country + national)


def _international(digits: str) -> str | None:
    if not _DIGITS.match(digits):
        return None
    if digits.startswith(INDIA):
        return _indian(digits[2:])
    return _plausible(digits)


def _indian_national(digits: str) -> str | None:
    if len(digits) == 10:
        return _indian(digits) if digits[0] in "6789" else None
    if len(digits) == 11 and digits[0] == "0":
        return _indian(digits[1:])
    if len(digits) in (12, 13) and digits.startswith(INDIA):
        return _indian(digits[2:])
    return None


def _indian(national: str) -> str | None:
    """+91 and a 10-digit national significant number (mobile 6-9, or STD code + subscriber)."""
    if len(national) == 11 and national[0] == "0":
        national = national[1:]
    if len(national) != 10 or national[0] == "0" or len(set(national)) == 1:
        return None
    return f"+{INDIA}{national}"


def _plausible(digits: str) -> str | None:
    if not 8 <= len(digits) <= 15 or digits[0] == "0" or len(set(digits)) == 1:
        return None
    return f"+{digits}"


_LOCAL_RE = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")


def normalise_email(raw: str | None) -> str | None:
    """Trimmed and lower-cased, or None when it does not have the shape of an address.

    The shape: one ``@``; a local part of at most 64 ASCII characters without leading, trailing or
    doubled dots; a domain of at least two labels ending in a top-level domain of letters (or
    ``xn--`` punycode). It does not rewrite Gmail dots or ``+tags``: those may be different people to
    other providers.
    """
    if raw is None:
        return None
    text = raw.strip().lower()
    if text.startswith("mailto:"):
        text = text[7:]
    if len(text) > 254 or text.count("@") != 1:
        return None
    local, domain = text.split("@")
    if len(local) > 64 or not _LOCAL_RE.match(local):
        return None
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL_RE.match(label) for label in labels):
        return None
    tld = labels[-1]
    if not ((tld.isascii() and tld.isalpha() and len(tld) >= 2) or tld.startswith("xn--")):
        return None
    return text


def _country_code(digits: str) -> str:
    if digits[0] in "17":
        return digits[0]
    return digits[:2] if digits[:2] in _TWO_DIGIT_CODES else digits[:3]


@overload
def mask_phone(phone: str) -> str: ...
@overload
def mask_phone(phone: None) -> None: ...
def mask_phone(phone: str | None) -> str | None:
    """``"+919876543210"`` -> ``"+91******3210"``: the country code and the last four digits, enough
    to tell two numbers apart on a call, not enough to call. Anything that is not a phone number is
    masked entirely."""
    if phone is None:
        return None
    e164 = phone if _E164.match(phone) else normalise_phone(phone)
    if e164 is None:
        return "*" * len(phone.strip())
    digits = e164[1:]
    code = _country_code(digits)
    hidden = len(digits) - len(code) - 4
    return f"+{code}{'*' * hidden}{digits[-4:]}"


@overload
def mask_email(email: str) -> str: ...
@overload
def mask_email(email: None) -> None: ...
def mask_email(email: str | None) -> str | None:
    """``"priya.sharma@example.com"`` -> ``"p***********@example.com"``: the first letter and the
    domain; a one-letter local part is hidden entirely. Anything that is not an email is masked
    entirely."""
    if email is None:
        return None
    normal = normalise_email(email)
    if normal is None:
        return "*" * len(email.strip())
    local, domain = normal.split("@")
    shown = "" if len(local) == 1 else local[0]
    return f"{shown}{'*' * (len(local) - len(shown))}@{domain}"


# --- erasure (Digital Personal Data Protection Act, 2023) ---------------------------------------
#
# On a verified erasure request the person's data is replaced, not deleted: orders, invoices and
# their tax records stay (GST law requires keeping them), with the placeholders below where the
# name, contact details and street address were. The placeholders are the same for everyone, so
# nothing in them can lead back to the person, and an erased phone or email no longer matches the
# person's future orders (they would start a new customer).

ERASED_NAME = "Erased customer"
ERASED_LINE = "Erased"
# What an erased address keeps: what place-of-supply (GST), zones and pincode-level reports need.
ADDRESS_FIELDS_KEPT = frozenset({"city", "state", "state_code", "state_name", "pincode", "country", "gstin"})


def anonymised_name() -> str:
    return ERASED_NAME


def anonymised_contact() -> dict[str, str | None]:
    """The customer as an order records it (``{"name", "phone", "email"}``), erased."""
    return {"name": ERASED_NAME, "phone": None, "email": None}


def anonymise_address(address: Mapping[str, Any], keep: frozenset[str] = ADDRESS_FIELDS_KEPT) -> dict[str, Any]:
    """A copy with every personal field erased: ``name`` becomes ``ERASED_NAME``, ``line1``
    ``ERASED_LINE`` (both are required wherever addresses are validated), everything else that is
    not in ``keep`` becomes None (line 2, phone, email, landmark, any field a channel added)."""
    out: dict[str, Any] = {}
    for key, value in address.items():
        if key in keep:
            out[key] = value
        elif key == "name":
            out[key] = ERASED_NAME
        elif key == "line1":
            out[key] = ERASED_LINE
        else:
            out[key] = None
    return out


def is_erased_name(name: str | None) -> bool:
    return name == ERASED_NAME
