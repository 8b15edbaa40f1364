"""Fraud and RTO risk as explainable rules: every point of a score comes with a reason a person can read.

Each rule looks at one thing (the COD value, the customer's past RTOs, the pincode's, how many orders
came from the phone lately, the address, a first-time COD buyer) and gives its points or nothing. The
score is the sum of the points, capped at 100; two thresholds turn it into a verdict. A rule whose
points are 0 is switched off.

The defaults only hold what is clearly risky. Alone, only a COD order from a customer at least half
of whose past orders came back (RTO) reaches the hold threshold; everything else needs two signals
together, e.g. a first-time buyer's COD order above the COD cap, or an address with a junk word that is
also too short. Cancelling is off until a seller sets ``cancel_at``.

RTO history and COD value only count for COD orders: a prepaid buyer has already paid, so refusing
the parcel costs them, not the seller. Address and phone-velocity rules count for every order.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, overload

from ordermesh.domain.errors import Collector
from ordermesh.domain.india import is_pincode_format
from ordermesh.domain.money import PAISA, format_amount, parse_amount
from ordermesh.domain.statuses import PaymentMethod

DEFAULT_JUNK_WORDS: tuple[str, ...] = ("test", "testing", "asdf", "qwerty", "fake", "dummy", "xyz", "na")
# A line 2 that is only one of these is an empty line 2 (forms that insist on one get "NA"), not junk.
PLACEHOLDERS = frozenset({"na", "n/a", "n.a.", "n.a", "nil", "none", "null", "-", "--", ".", "0", "x"})
DEFAULT_ADDRESS_MIN_LENGTH = 10
MAX_JUNK_WORDS = 200
MAX_JUNK_WORD_LENGTH = 30


def format_inr(amount: Decimal) -> str:
    """Rupees with the Indian digit grouping: ``Decimal("124999")`` -> ``"₹1,24,999.00"``.

    The last three digits form a group and every two digits before them another (lakh, crore), as
    Indian buyers and sellers read amounts. Rounded half up to the paisa; negatives as ``-₹1,000.00``.
    """
    if not amount.is_finite():
        raise ValueError(f"{amount} is not an amount")
    exact = amount.quantize(PAISA, rounding=ROUND_HALF_UP)
    sign = "-" if exact < 0 else ""
    rupees, paise = f"{abs(exact):.2f}".split(".")
    head, groups = rupees[:-3], [rupees[-3:]]
    while head:
        groups.insert(0, head[-2:])
        head = head[:-2]
    return f"{sign}₹{','.join(groups)}.{paise}"


# --- configuration ------------------------------------------------------------------------------

# name -> (lowest, highest) for every whole-number setting
_INT_RANGES: dict[str, tuple[int, int]] = {
    "cod_cap_points": (0, 100),
    "customer_rto_percent": (1, 100),
    "customer_rto_min_orders": (1, 1000),
    "customer_rto_points": (0, 100),
    "pincode_rto_percent": (1, 100),
    "pincode_rto_min_shipments": (1, 1_000_000),
    "pincode_rto_points": (0, 100),
    "phone_max_orders": (1, 1000),
    "phone_window_hours": (1, 720),
    "phone_velocity_points": (0, 100),
    "address_min_length": (0, 200),
    "address_junk_points": (0, 100),
    "address_short_points": (0, 100),
    "address_no_number_points": (0, 100),
    "first_cod_points": (0, 100),
    "hold_at": (1, 100),
}
_AMOUNTS = ("cod_cap", "first_cod_above")


@dataclass(frozen=True)
class RiskConfig:
    """One tenant's risk rules. Stored as JSON (:meth:`to_dict`), read back with :meth:`from_dict`.

    Rates are whole percents of concluded orders (delivered + RTO), so "50" means half of them.
    """

    # A COD order above this value (₹) is a bigger loss if it comes back.
    cod_cap: Decimal = Decimal("10000.00")
    cod_cap_points: int = 40
    # The customer's own record: RTOs / (delivered + RTO), once they have this many concluded orders.
    customer_rto_percent: int = 50
    customer_rto_min_orders: int = 3
    customer_rto_points: int = 60
    # The destination pincode's record for this tenant, once it has this many concluded shipments.
    pincode_rto_percent: int = 40
    pincode_rto_min_shipments: int = 20
    pincode_rto_points: int = 20
    # More than this many orders (this one included) from one phone within the window.
    phone_max_orders: int = 3
    phone_window_hours: int = 24
    phone_velocity_points: int = 30
    # Address quality: junk words, too few letters and digits, no house/flat/plot number.
    address_min_length: int = DEFAULT_ADDRESS_MIN_LENGTH
    address_junk_words: tuple[str, ...] = DEFAULT_JUNK_WORDS
    address_junk_points: int = 40
    address_short_points: int = 30
    address_no_number_points: int = 10
    # A buyer's first order, paid by COD, above this value (₹).
    first_cod_above: Decimal = Decimal("5000.00")
    first_cod_points: int = 20
    # Verdict: score >= cancel_at -> cancel; score >= hold_at -> hold; else confirm.
    hold_at: int = 60
    cancel_at: int | None = None

    def __post_init__(self) -> None:
        problems = _range_problems({f.name: getattr(self, f.name) for f in fields(self)})
        if problems:
            raise ValueError("; ".join(f"{name}: {message}" for name, message in problems))

    @overload
    @classmethod
    def from_dict(cls, raw: object) -> RiskConfig: ...

    @overload
    @classmethod
    def from_dict(cls, raw: object, errors: Collector, path: str = "") -> RiskConfig | None: ...

    @classmethod
    def from_dict(cls, raw: object, errors: Collector | None = None, path: str = "") -> RiskConfig | None:
        """Settings from JSON; a missing key keeps its default, an unknown key is an error.

        With a ``Collector``, problems are added to it (field paths under ``path``) and the result is
        None; without one, they are raised together as ``ValidationFailed``.
        """
        own = Collector()
        config = _parse_config(raw, own, path)
        if errors is None:
            own.raise_if_any("The risk settings have invalid fields")
            return config
        errors.errors.extend(own.errors)
        return config

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as strings with two decimals, every setting present."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _AMOUNTS:
                out[f.name] = format_amount(value)
            elif f.name == "address_junk_words":
                out[f.name] = list(value)
            else:
                out[f.name] = value
        return out


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _range_problems(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What is out of range in typed settings; shared by the constructor and :meth:`from_dict`."""
    found: list[tuple[str, str]] = []
    for name, (lo, hi) in _INT_RANGES.items():
        if not lo <= values[name] <= hi:
            found.append((name, f"must be a whole number from {lo} to {hi}"))
    for name in _AMOUNTS:
        if values[name] < 0:
            found.append((name, "must not be negative"))
    cancel_at, hold_at = values["cancel_at"], values["hold_at"]
    if cancel_at is not None and not hold_at < cancel_at <= 100:
        found.append(("cancel_at", f"must be above hold_at ({hold_at}) and at most 100, or null to never cancel"))
    words = values["address_junk_words"]
    if len(words) > MAX_JUNK_WORDS:
        found.append(("address_junk_words", f"must have at most {MAX_JUNK_WORDS} words"))
    for i, word in enumerate(words):
        if not 0 < len(word) <= MAX_JUNK_WORD_LENGTH or word != word.strip().lower():
            found.append((f"address_junk_words.{i}", _JUNK_WORD_RULE))
    return found


_JUNK_WORD_RULE = f"must be 1-{MAX_JUNK_WORD_LENGTH} characters, lower case, without surrounding spaces"


def _parse_config(raw: object, errors: Collector, path: str) -> RiskConfig | None:
    if not isinstance(raw, Mapping):
        errors.add(path or "risk", "must be an object")
        return None
    known = {f.name for f in fields(RiskConfig)}
    for key in raw:
        if key not in known:
            errors.add(_join(path, str(key)), "is not a risk setting")
    values: dict[str, Any] = {}
    bad: set[str] = set()
    for name in _INT_RANGES:
        if name in raw:
            value = raw[name]
            if isinstance(value, bool) or not isinstance(value, int):
                lo, hi = _INT_RANGES[name]
                errors.add(_join(path, name), f"must be a whole number from {lo} to {hi}")
                bad.add(name)
            else:
                values[name] = value
    for name in _AMOUNTS:
        if name in raw:
            amount = parse_amount(raw[name])
            if amount is None:
                errors.add(_join(path, name), "must be a non-negative amount in rupees with at most two decimals")
                bad.add(name)
            else:
                values[name] = amount
    if "cancel_at" in raw:
        value = raw["cancel_at"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            errors.add(_join(path, "cancel_at"), "must be a whole number up to 100, or null to never cancel")
            bad.add("cancel_at")
        else:
            values["cancel_at"] = value
    if "address_junk_words" in raw:
        words = _parse_junk_words(raw["address_junk_words"], errors, _join(path, "address_junk_words"))
        if words is None:
            bad.add("address_junk_words")
        else:
            values["address_junk_words"] = words
    candidate = {f.name: getattr(_DEFAULT, f.name) for f in fields(RiskConfig)} | values
    for name, message in _range_problems(candidate):
        if name.split(".")[0] not in bad and not (name == "cancel_at" and "hold_at" in bad):
            errors.add(_join(path, name), message)
    if errors.errors:
        return None
    return replace(_DEFAULT, **values)


def _parse_junk_words(value: object, errors: Collector, path: str) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        errors.add(path, "must be a list of words")
        return None
    words: list[str] = []
    ok = True
    for i, item in enumerate(value):
        word = item.strip().lower() if isinstance(item, str) else ""
        if not 0 < len(word) <= MAX_JUNK_WORD_LENGTH:
            errors.add(f"{path}.{i}", f"must be a word of 1-{MAX_JUNK_WORD_LENGTH} characters")
            ok = False
        elif word not in words:
            words.append(word)
    return tuple(words) if ok else None


_DEFAULT = RiskConfig()


# --- input and output ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerHistory:
    """The buyer's earlier orders (not this one), across channels."""

    orders: int = 0  # every earlier order, whatever became of it
    delivered: int = 0  # reached the buyer, including those later returned
    rto: int = 0  # returned to origin: refused or undeliverable
    returned: int = 0  # delivered, then sent back by the buyer (a subset of delivered; no rule uses it yet)

    @property
    def is_first_order(self) -> bool:
        return self.orders == 0


@dataclass(frozen=True)
class PincodeHistory:
    """This tenant's concluded shipments (delivered + RTO) to the destination pincode."""

    shipments: int = 0
    rto: int = 0


@dataclass(frozen=True)
class RiskInput:
    """What the rules look at. ``phone_orders_in_window`` counts the *other* orders from the same
    (normalised) phone placed within ``RiskConfig.phone_window_hours`` before this one."""

    payment_method: PaymentMethod
    grand_total: Decimal
    line1: str
    city: str
    pincode: str
    line2: str | None = None
    customer: CustomerHistory = field(default_factory=CustomerHistory)
    pincode_history: PincodeHistory = field(default_factory=PincodeHistory)
    phone_orders_in_window: int = 0

    def __post_init__(self) -> None:
        # accept the plain strings "prepaid" / "cod" from callers that hold them as text
        object.__setattr__(self, "payment_method", PaymentMethod(self.payment_method))

    @property
    def is_cod(self) -> bool:
        return self.payment_method is PaymentMethod.COD


class RiskCode(StrEnum):
    COD_ABOVE_CAP = "cod_above_cap"
    CUSTOMER_RTO = "customer_rto"
    PINCODE_RTO = "pincode_rto"
    PHONE_VELOCITY = "phone_velocity"
    ADDRESS_JUNK = "address_junk"
    ADDRESS_SHORT = "address_short"
    ADDRESS_NO_NUMBER = "address_no_number"
    FIRST_COD_HIGH_VALUE = "first_cod_high_value"


class Verdict(StrEnum):
    CONFIRM = "confirm"  # auto-confirm
    HOLD = "hold"  # hold for verification (risk_review): a person confirms or cancels
    CANCEL = "cancel"


@dataclass(frozen=True)
class RiskReason:
    code: RiskCode
    points: int
    message: str  # ends with the points, e.g. "... (+40)"

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "points": self.points, "message": self.message}


@dataclass(frozen=True)
class RiskAssessment:
    score: int  # 0..100: the sum of the reasons' points, capped at 100
    reasons: list[RiskReason]
    verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "verdict": self.verdict.value, "reasons": [r.to_dict() for r in self.reasons]}


# --- the rules ----------------------------------------------------------------------------------


def _reason(code: RiskCode, points: int, message: str) -> RiskReason | None:
    return RiskReason(code, points, f"{message} (+{points})") if points > 0 else None


def _percent(part: int, whole: int) -> int:
    """Whole percent, rounded down, so a rate shown as 50% really is at least 50%."""
    return part * 100 // whole


def cod_above_cap(inp: RiskInput, cfg: RiskConfig) -> RiskReason | None:
    if not inp.is_cod or inp.grand_total <= cfg.cod_cap:
        return None
    return _reason(
        RiskCode.COD_ABOVE_CAP,
        cfg.cod_cap_points,
        f"COD order of {format_inr(inp.grand_total)} is above the {format_inr(cfg.cod_cap)} COD cap",
    )


def customer_rto(inp: RiskInput, cfg: RiskConfig) -> RiskReason | None:
    c = inp.customer
    concluded = c.delivered + c.rto
    if not inp.is_cod or concluded < cfg.customer_rto_min_orders or c.rto * 100 < cfg.customer_rto_percent * concluded:
        return None
    return _reason(
        RiskCode.CUSTOMER_RTO,
        cfg.customer_rto_points,
        f"Customer's past orders came back {c.rto} of {concluded} times ({_percent(c.rto, concluded)}% RTO,"
        f" threshold {cfg.customer_rto_percent}%)",
    )


def pincode_rto(inp: RiskInput, cfg: RiskConfig) -> RiskReason | None:
    p = inp.pincode_history
    if (
        not inp.is_cod
        or p.shipments < cfg.pincode_rto_min_shipments
        or p.rto * 100 < cfg.pincode_rto_percent * p.shipments
    ):
        return None
    return _reason(
        RiskCode.PINCODE_RTO,
        cfg.pincode_rto_points,
        f"Pincode {inp.pincode} has {_percent(p.rto, p.shipments)}% RTO ({p.rto} of {p.shipments} shipments,"
        f" threshold {cfg.pincode_rto_percent}%)",
    )


def phone_velocity(inp: RiskInput, cfg: RiskConfig) -> RiskReason | None:
    total = inp.phone_orders_in_window + 1
    if total <= cfg.phone_max_orders:
        return None
    return _reason(
        RiskCode.PHONE_VELOCITY,
        cfg.phone_velocity_points,
        f"{total} orders from this phone in {cfg.phone_window_hours} hours, more than {cfg.phone_max_orders}",
    )


def first_cod_high_value(inp: RiskInput, cfg: RiskConfig) -> RiskReason | None:
    if not inp.is_cod or not inp.customer.is_first_order or inp.grand_total <= cfg.first_cod_above:
        return None
    return _reason(
        RiskCode.FIRST_COD_HIGH_VALUE,
        cfg.first_cod_points,
        f"First order from this buyer, COD, {format_inr(inp.grand_total)} (above {format_inr(cfg.first_cod_above)})",
    )


def address_junk(inp: RiskInput, cfg: RiskConfig) -> RiskReason | None:
    found = junk_in_address(inp.line1, inp.line2, inp.city, cfg.address_junk_words)
    if not found:
        return None
    return _reason(RiskCode.ADDRESS_JUNK, cfg.address_junk_points, f"Address looks made up: {'; '.join(found)}")


def address_short(inp: RiskInput, cfg: RiskConfig) -> RiskReason | None:
    length = address_length(inp.line1, inp.line2)
    if length >= cfg.address_min_length:
        return None
    return _reason(
        RiskCode.ADDRESS_SHORT,
        cfg.address_short_points,
        f"Address has only {length} letters and digits (at least {cfg.address_min_length} expected)",
    )


def address_no_number(inp: RiskInput, cfg: RiskConfig) -> RiskReason | None:
    if has_house_number(inp.line1, inp.line2, inp.pincode):
        return None
    return _reason(
        RiskCode.ADDRESS_NO_NUMBER, cfg.address_no_number_points, "Address has no house, flat or plot number"
    )


Rule = Callable[[RiskInput, RiskConfig], RiskReason | None]

# In the order the reasons are shown.
RULES: tuple[Rule, ...] = (
    cod_above_cap,
    first_cod_high_value,
    customer_rto,
    pincode_rto,
    phone_velocity,
    address_junk,
    address_short,
    address_no_number,
)


def verdict_for(score: int, cfg: RiskConfig) -> Verdict:
    if cfg.cancel_at is not None and score >= cfg.cancel_at:
        return Verdict.CANCEL
    if score >= cfg.hold_at:
        return Verdict.HOLD
    return Verdict.CONFIRM


def assess(inp: RiskInput, cfg: RiskConfig | None = None) -> RiskAssessment:
    """Run every rule. The score is the sum of the reasons' points, capped at 100."""
    if cfg is None:
        cfg = _DEFAULT
    reasons = [reason for rule in RULES if (reason := rule(inp, cfg)) is not None]
    score = min(100, sum(r.points for r in reasons))
    return RiskAssessment(score, reasons, verdict_for(score, cfg))


# --- address quality ----------------------------------------------------------------------------


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _line2(line2: str | None) -> str:
    text = _clean(line2)
    return "" if text.lower() in PLACEHOLDERS else text


@lru_cache(maxsize=64)
def _junk_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    # a junk word counts as a whole word; "na" is junk, "Nagar" is not
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)" if words else r"(?!x)x", re.IGNORECASE)


_MASH = re.compile(r"(?<!\w)([^\W\d_])\1{3,}(?!\w)")  # a "word" of one letter typed 4+ times: "xxxx", "aaaaa"


def junk_words_in(text: str, junk_words: Iterable[str] = DEFAULT_JUNK_WORDS) -> list[str]:
    """The junk words (whole words, any case) and letter-mash words in ``text``, lower-cased, in the
    order they appear, each once."""
    matches = [*_junk_pattern(tuple(junk_words)).finditer(text), *_MASH.finditer(text)]
    found: list[str] = []
    for match in sorted(matches, key=lambda m: m.start()):
        if match.group(0).lower() not in found:
            found.append(match.group(0).lower())
    return found


def junk_in_address(
    line1: str, line2: str | None, city: str, junk_words: Iterable[str] = DEFAULT_JUNK_WORDS
) -> list[str]:
    """Human findings such as ``"line 1 has 'test'"``. A line 2 that is only "NA", "-" and the like is
    an empty line 2, not junk."""
    words = tuple(junk_words)
    found: list[str] = []
    for label, text in (("line 1", _clean(line1)), ("line 2", _line2(line2)), ("city", _clean(city))):
        hits = junk_words_in(text, words)
        if hits:
            found.append(f"{label} has {', '.join(repr(h) for h in hits)}")
    return found


def address_length(line1: str, line2: str | None) -> int:
    """Letters and digits (in any script, with their vowel signs) in the address lines."""
    text = f"{_clean(line1)} {_line2(line2)}"
    return sum(1 for ch in text if ch.isalnum() or unicodedata.category(ch).startswith("M"))


def has_house_number(line1: str, line2: str | None, pincode: str = "") -> bool:
    """Whether the lines carry a house, flat or plot number: any digit, once the pincode (often
    repeated in line 2) is taken out."""
    text = f"{_clean(line1)} {_line2(line2)}"
    if pincode:
        text = text.replace(pincode, " ")
    return any(ch.isdigit() for ch in text)


def address_problems(
    line1: str,
    line2: str | None,
    city: str,
    pincode: str,
    *,
    min_length: int = DEFAULT_ADDRESS_MIN_LENGTH,
    junk_words: Iterable[str] = DEFAULT_JUNK_WORDS,
    require_house_number: bool = False,
) -> list[str]:
    """Everything wrong with an address, as sentences a person can act on; empty when it looks fine.

    For the ``invalid_address`` hold. It does not look the pincode up (that needs the pincode
    directory); it only checks its shape.
    """
    problems: list[str] = []
    if not _clean(line1):
        problems.append("line 1 is missing")
    elif (length := address_length(line1, line2)) < min_length:
        problems.append(f"the address has only {length} letters and digits (at least {min_length} expected)")
    if not _clean(city):
        problems.append("city is missing")
    junk = junk_in_address(line1, line2, city, junk_words)
    if junk:
        problems.append(f"the address looks made up: {'; '.join(junk)}")
    if require_house_number and _clean(line1) and not has_house_number(line1, line2, pincode):
        problems.append("there is no house, flat or plot number")
    pin = pincode.strip()
    if not pin:
        problems.append("pincode is missing")
    elif not is_pincode_format(pin):
        problems.append(f"pincode '{pin}' is not 6 digits starting with 1-9")
    return problems
