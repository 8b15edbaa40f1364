"""Marketplace order reports (CSV or tab-separated files a seller downloads) read as ChannelOrder values.

A file import has no API, so this is not a ChannelConnector: a ``Profile`` says, as data, which
column holds what (order id, date and its format, SKU, quantity, price, buyer, address, payment,
status …), and ``parse_report`` reads a file through it, row by row. Several rows with the same
order id are the lines of one order.

Memory stays flat however long the file is: rows are read one at a time through the csv module
over a text wrapper, and an order is handed out as soon as the order id changes. That needs the
rows of one order to be next to each other (every marketplace export we know writes them so); an
order id that comes back after another order is reported as an error on each of its late rows.
``grouped=False`` accepts files in any order by keeping every order until the end of the file:
memory then grows with the file (roughly 2-3 KB per order).

Problems are reported per row and column ("row 17, column quantity-purchased: 'two' is not a whole
number") and never stop the rest of the file; an order with any bad row is left out whole, so a
half order is never imported. Rows are numbered as a spreadsheet shows them: the header is row 1.
An order's problems are reported when its last row has been read, so errors come in the order
orders end, not strictly by row.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ordermesh.adapters.channels.base import BadPayload, ChannelLine, ChannelOrder
from ordermesh.domain.contacts import normalise_email, normalise_phone
from ordermesh.domain.statuses import OrderStatus

# -- the vocabulary of a profile -----------------------------------------------------------------

FIELDS: dict[str, str] = {
    "order_id": "the marketplace's order id; rows with the same id are lines of one order",
    "line_id": "the marketplace's id of the line (order item id)",
    "placed_at": "when the order was placed",
    "updated_at": "when the marketplace last changed the order",
    "status": "the marketplace's status word for the order",
    "sku": "the seller's SKU",
    "title": "the product name",
    "quantity": "units on the line (a whole number)",
    "unit_price": "price of one unit",
    "line_total": "price of all units on the line",
    "tax": "tax on the line, added to the price when prices_include_tax is false",
    "discount": "discount on the line (a leading minus sign is ignored)",
    "shipping": "shipping charged to the buyer",
    "shipping_tax": "tax on shipping, added when prices_include_tax is false",
    "shipping_discount": "discount on shipping (a leading minus sign is ignored)",
    "currency": "ISO currency code (INR when absent)",
    "buyer_name": "the buyer's name",
    "buyer_phone": "the buyer's phone",
    "buyer_email": "the buyer's email",
    "ship_name": "the recipient's name (the buyer's when absent)",
    "ship_phone": "the recipient's phone (the buyer's when absent)",
    "line1": "address line 1",
    "line2": "address line 2",
    "line3": "address line 3 (joined to line 2)",
    "city": "city",
    "state": "state: a name, ISO code or GST state code",
    "pincode": "6-digit pincode (spaces are removed)",
    "payment_method": "payment column; values in cod_values mean cash on delivery",
    "cod_amount": "amount to collect on delivery; more than zero means cash on delivery",
}
ORDER_FIELDS = (
    "placed_at",
    "updated_at",
    "status",
    "currency",
    "buyer_name",
    "buyer_phone",
    "buyer_email",
    "ship_name",
    "ship_phone",
    "line1",
    "line2",
    "line3",
    "city",
    "state",
    "pincode",
    "payment_method",
    "cod_amount",
)
MUST_MAP = ("order_id", "placed_at", "sku", "quantity")
PRICE_FIELDS = ("unit_price", "line_total")
PROFILE_KEYS = frozenset(
    {
        "name",
        "description",
        "extends",
        "columns",
        "optional",
        "delimiter",
        "encoding",
        "date_formats",
        "timezone",
        "prices_include_tax",
        "shipping",
        "cod_values",
        "default_payment",
        "status_map",
        "default_status",
        "unready_statuses",
        "continuation_rows",
        "skip_values",
        "extra_columns",
    }
)
PAISA = Decimal("0.01")
ZERO = Decimal("0.00")
IST = timezone(timedelta(hours=5, minutes=30), "IST")


class ProfileError(ValueError):
    """A profile that cannot be used; ``problems`` names each one."""

    def __init__(self, problems: list[str]):
        super().__init__("invalid report profile: " + "; ".join(problems))
        self.problems = problems


def _key(word: str) -> str:
    """Status words and COD values compare case-blind, with runs of spaces as one."""
    return " ".join(word.split()).casefold()


@dataclass(frozen=True)
class Profile:
    """How one kind of report file maps onto our order fields."""

    name: str
    columns: Mapping[str, tuple[str, ...]]  # field -> header names accepted, first found wins
    optional: frozenset[str] = frozenset()  # fields whose column may be missing from the header
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    date_formats: tuple[str, ...] = ("iso",)  # "iso" or strptime formats, tried in order
    timezone: str = "Asia/Kolkata"  # for dates written without an offset
    prices_include_tax: bool = True
    shipping: str = "per_row"  # per_row: summed over the order's rows; per_order: repeated, first row's
    cod_values: frozenset[str] = frozenset({"cod"})
    default_payment: str = "prepaid"  # when no payment column says otherwise
    status_map: Mapping[str, OrderStatus] = field(default_factory=dict)
    default_status: str | None = None  # the status word when the file has no status column
    unready_statuses: frozenset[str] | None = None  # None: the words that map to pending
    continuation_rows: bool = False  # a row with no SKU and no quantity adds discounts to a line
    skip_values: Mapping[str, frozenset[str]] = field(default_factory=dict)  # header -> values: skip row
    extra_columns: Mapping[str, str] = field(default_factory=dict)  # ChannelOrder.extra key -> header
    description: str = ""

    _statuses: dict[str, OrderStatus] = field(init=False, repr=False, compare=False)
    _unready: frozenset[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        statuses = {_key(word): status for word, status in self.status_map.items()}
        unready = None if self.unready_statuses is None else frozenset(_key(w) for w in self.unready_statuses)
        object.__setattr__(self, "_statuses", statuses)
        object.__setattr__(self, "_unready", unready)

    @property
    def price_field(self) -> str:
        return "unit_price" if "unit_price" in self.columns else "line_total"

    def status_of(self, word: str) -> OrderStatus | None:
        return self._statuses.get(_key(word))

    def is_ready(self, word: str, status: OrderStatus) -> bool:
        """Released for fulfilment: the word is not one of ``unready_statuses`` (by default, not
        one that maps to pending)."""
        if self._unready is None:
            return status is not OrderStatus.PENDING
        return _key(word) not in self._unready

    def tz(self) -> tzinfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            if self.timezone == "Asia/Kolkata":  # no tz database installed: IST has no summer time
                return IST
            raise

    def to_dict(self) -> dict[str, Any]:
        """The profile as JSON-ready data, the shape ``Profile.from_dict`` reads."""
        return {
            "name": self.name,
            "description": self.description,
            "columns": {f: list(names) if len(names) > 1 else names[0] for f, names in self.columns.items()},
            "optional": sorted(self.optional),
            "delimiter": self.delimiter,
            "encoding": self.encoding,
            "date_formats": list(self.date_formats),
            "timezone": self.timezone,
            "prices_include_tax": self.prices_include_tax,
            "shipping": self.shipping,
            "cod_values": sorted(self.cod_values),
            "default_payment": self.default_payment,
            "status_map": {word: status.value for word, status in self.status_map.items()},
            "default_status": self.default_status,
            "unready_statuses": None if self.unready_statuses is None else sorted(self.unready_statuses),
            "continuation_rows": self.continuation_rows,
            "skip_values": {header: sorted(values) for header, values in self.skip_values.items()},
            "extra_columns": dict(self.extra_columns),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Profile:
        """A user's profile, checked: unknown keys, unknown fields and missing columns are named.

        ``"extends": "<built-in name>"`` starts from a built-in profile; ``columns``, ``status_map``,
        ``skip_values`` and ``extra_columns`` are then merged key by key, other keys replace."""
        if not isinstance(raw, Mapping):
            raise ProfileError(["a profile must be a JSON object"])
        problems: list[str] = []
        unknown = sorted(set(raw) - PROFILE_KEYS)
        if unknown:
            problems.append(f"unknown keys: {', '.join(unknown)} (known: {', '.join(sorted(PROFILE_KEYS))})")
        base: dict[str, Any] = {}
        if raw.get("extends") is not None:
            parent = PROFILES.get(str(raw["extends"]))
            if parent is None:
                problems.append(f"extends: no built-in profile '{raw['extends']}' (known: {', '.join(PROFILES)})")
            else:
                base = parent.to_dict()
        merged = {**base, **{k: v for k, v in raw.items() if k in PROFILE_KEYS and k != "extends"}}
        for key in ("columns", "status_map", "skip_values", "extra_columns"):
            if isinstance(base.get(key), Mapping) and isinstance(raw.get(key), Mapping):
                merged[key] = {**base[key], **raw[key]}
        profile = _build(merged, problems)
        if problems or profile is None:
            raise ProfileError(problems)
        return profile


def _strings(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{where}: must be a column name or a list of column names")
        return ()
    return tuple(v.strip() for v in value)


def _build(raw: Mapping[str, Any], problems: list[str]) -> Profile | None:
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("name: required (a short name for the profile)")
        name = "?"
    columns_raw = raw.get("columns")
    columns: dict[str, tuple[str, ...]] = {}
    if not isinstance(columns_raw, Mapping):
        problems.append("columns: required, an object of field -> column name")
        columns_raw = {}
    for f, names in columns_raw.items():
        if f not in FIELDS:
            problems.append(f"columns: unknown field '{f}' (fields: {', '.join(FIELDS)})")
            continue
        got = _strings(names, f"columns.{f}", problems)
        if got:
            columns[f] = got
    missing = [f for f in MUST_MAP if f not in columns]
    if missing:
        problems.append(f"columns: missing required fields: {', '.join(missing)}")
    prices = [f for f in PRICE_FIELDS if f in columns]
    if len(prices) != 1:
        problems.append("columns: map exactly one of unit_price or line_total")
    optional = raw.get("optional") or []
    if not isinstance(optional, list | tuple | set | frozenset) or not all(isinstance(o, str) for o in optional):
        problems.append("optional: must be a list of field names")
        optional = []
    for o in optional:
        if o not in FIELDS:
            problems.append(f"optional: unknown field '{o}'")
        elif o in MUST_MAP or o in PRICE_FIELDS:
            problems.append(f"optional: '{o}' cannot be optional, every order needs it")
    delimiter = raw.get("delimiter", ",")
    if delimiter in ("\\t", "tab", "TAB"):
        delimiter = "\t"
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        problems.append('delimiter: must be one character (",", ";", "|" or a tab written \\t)')
        delimiter = ","
    encoding = raw.get("encoding", "utf-8-sig")
    try:
        codecs.lookup(str(encoding))
    except LookupError:
        problems.append(f"encoding: '{encoding}' is not an encoding Python knows (utf-8, utf-8-sig, cp1252 …)")
        encoding = "utf-8-sig"
    if str(encoding).lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # a byte-order mark at the start is tolerated either way
    formats = raw.get("date_formats", ["iso"])
    formats = _strings(formats, "date_formats", problems) if formats else ()
    if not formats:
        problems.append('date_formats: at least one format ("iso" or a strptime format such as %d/%m/%Y %H:%M)')
    for f in formats:
        if f != "iso" and "%" not in f:
            problems.append(f"date_formats: '{f}' is neither \"iso\" nor a strptime format")
    tz_name = raw.get("timezone", "Asia/Kolkata")
    try:
        ZoneInfo(str(tz_name))
    except (ZoneInfoNotFoundError, ValueError):
        if tz_name != "Asia/Kolkata":
            problems.append(f"timezone: '{tz_name}' is not a time zone name such as Asia/Kolkata")
    shipping = raw.get("shipping", "per_row")
    if shipping not in ("per_row", "per_order"):
        problems.append("shipping: must be per_row or per_order")
    default_payment = raw.get("default_payment", "prepaid")
    if default_payment not in ("prepaid", "cod"):
        problems.append("default_payment: must be prepaid or cod")
    status_raw = raw.get("status_map") or {}
    status_map: dict[str, OrderStatus] = {}
    if not isinstance(status_raw, Mapping):
        problems.append("status_map: must be an object of the report's status word -> our status")
        status_raw = {}
    for word, ours in status_raw.items():
        try:
            status_map[str(word)] = OrderStatus(ours)
        except ValueError:
            problems.append(
                f"status_map: '{word}' -> '{ours}' is not one of our statuses ({', '.join(s.value for s in OrderStatus)})"
            )
    default_status = raw.get("default_status")
    if "status" not in columns and default_status is None:
        problems.append("default_status: required when no status column is mapped")
    if default_status is not None and status_map and _key(str(default_status)) not in {_key(w) for w in status_map}:
        problems.append(f"default_status: '{default_status}' is not in status_map")
    if status_raw == {} and ("status" in columns or default_status is not None):
        problems.append("status_map: required (the report's status words -> our statuses)")
    unready = raw.get("unready_statuses")
    if unready is not None and (not isinstance(unready, list | tuple) or not all(isinstance(w, str) for w in unready)):
        problems.append("unready_statuses: must be a list of status words")
        unready = None
    skip_raw = raw.get("skip_values") or {}
    skip: dict[str, frozenset[str]] = {}
    if not isinstance(skip_raw, Mapping):
        problems.append("skip_values: must be an object of column name -> values")
        skip_raw = {}
    for header, values in skip_raw.items():
        skip[str(header)] = frozenset(_strings(values, f"skip_values.{header}", problems))
    extra = raw.get("extra_columns") or {}
    if not isinstance(extra, Mapping) or not all(isinstance(v, str) for v in extra.values()):
        problems.append("extra_columns: must be an object of name -> column name")
        extra = {}
    for flag in ("prices_include_tax", "continuation_rows"):
        if flag in raw and not isinstance(raw[flag], bool):
            problems.append(f"{flag}: must be true or false")
    cod = raw.get("cod_values", ["cod"])
    cod_values = _strings(cod, "cod_values", problems) if cod else ()
    if problems:
        return None
    return Profile(
        name=str(name).strip(),
        columns=columns,
        optional=frozenset(optional),
        delimiter=delimiter,
        encoding=str(encoding),
        date_formats=tuple(formats),
        timezone=str(tz_name),
        prices_include_tax=bool(raw.get("prices_include_tax", True)),
        shipping=str(shipping),
        cod_values=frozenset(_key(v) for v in cod_values),
        default_payment=str(default_payment),
        status_map=status_map,
        default_status=None if default_status is None else str(default_status),
        unready_statuses=None if unready is None else frozenset(unready),
        continuation_rows=bool(raw.get("continuation_rows", False)),
        skip_values=skip,
        extra_columns=dict(extra),
        description=str(raw.get("description") or ""),
    )


def load_profile(source: str | bytes | Mapping[str, Any]) -> Profile:
    """A built-in profile by name, or a user's profile from JSON text or a dict."""
    if isinstance(source, Mapping):
        return Profile.from_dict(source)
    text = source.decode("utf-8-sig") if isinstance(source, bytes) else source
    if text.strip() in PROFILES:
        return PROFILES[text.strip()]
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise ProfileError([f"not a built-in profile name ({', '.join(PROFILES)}) nor valid JSON: {e}"]) from None
    return Profile.from_dict(raw)


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1
    column: str | None  # the header name as written in the file
    message: str
    order_id: str | None = None

    def __str__(self) -> str:
        where = f"row {self.row}, column {self.column}" if self.column else f"row {self.row}"
        return f"{where}: {self.message}"


class ReportResult:
    """The orders of one report, handed out one at a time, and what was wrong with the rest.

    Iterate it once: each order is built when its last row has been read. ``errors`` (the first
    ``max_errors``; ``error_count`` counts them all), ``rows``, ``skipped_rows``, ``orders`` and
    ``rejected_orders`` are complete when the iteration has ended (``finished``)."""

    def __init__(self, profile: Profile, header: list[str], max_errors: int):
        self.profile = profile
        self.header = header
        self.errors: list[RowError] = []
        self.error_count = 0
        self.rows = 0
        self.skipped_rows = 0
        self.orders = 0
        self.rejected_orders = 0
        self.finished = False
        self.max_errors = max_errors
        self._source: Iterator[ChannelOrder] = iter(())
        self._started = False

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(error)

    def __iter__(self) -> Iterator[ChannelOrder]:
        if self._started:
            raise RuntimeError("a report is read once; parse it again to read it again")
        self._started = True
        return self._source

    def collect(self) -> list[ChannelOrder]:
        """Every order in a list (memory grows with the file: for small files and tests)."""
        return list(self)


# -- reading cells -------------------------------------------------------------------------------


class _Bad(Exception):
    """One cell that cannot be read; the message says what is wrong with it."""


_CURRENCY_MARK = re.compile(r"^(?:₹|rs\.?|inr)\s*|\s*(?:₹|inr)$", re.IGNORECASE)
_PLAIN = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?\Z")
_GROUPED = re.compile(r"^-?[0-9]{1,3}(?:,[0-9]{2,3})+(?:\.[0-9]+)?\Z")
_WHOLE = re.compile(r"^[0-9]+(?:\.0+)?\Z")
_PIN_NOISE = re.compile(r"[\s\-.\u00a0]")


def _amount(text: str) -> Decimal:
    """An amount as reports write it: '1,23,456.50', '₹ 499', 'Rs. 99', '-50.00', '(50.00)'."""
    if _PLAIN.match(text):
        value = Decimal(text)
        point = text.find(".")
        return value if point >= 0 and len(text) - point == 3 else value.quantize(PAISA, rounding=ROUND_HALF_UP)
    cleaned = _CURRENCY_MARK.sub("", text.strip()).replace(" ", "").replace("\u00a0", "")
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    if negative:
        cleaned = cleaned[1:-1]
    if "," in cleaned:
        # thousands (1,234,567.50) or lakhs (12,34,567.50) only: never a decimal comma (1.000,00)
        if not _GROUPED.match(cleaned):
            raise _Bad(f"'{text}' is not an amount")
        cleaned = cleaned.replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise _Bad(f"'{text}' is not an amount") from None
    if not value.is_finite():
        raise _Bad(f"'{text}' is not an amount")
    return (-value if negative else value).quantize(PAISA, rounding=ROUND_HALF_UP)


def _whole(text: str) -> int:
    if text.isascii() and text.isdigit():
        return int(text)
    cleaned = text.strip().replace(",", "")
    if not _WHOLE.match(cleaned):
        raise _Bad(f"'{text}' is not a whole number")
    return int(Decimal(cleaned))


def _when(text: str, profile: Profile, zone: tzinfo) -> datetime:
    value = text.strip()
    for fmt in profile.date_formats:
        try:
            if fmt == "iso":
                parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
            else:
                parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)
    shown = ", ".join("ISO 8601 (2024-05-01T10:15:00+05:30)" if f == "iso" else f for f in profile.date_formats)
    raise _Bad(f"'{text}' is not a date in the format {shown}")


def _pincode(text: str) -> str:
    compact = _PIN_NOISE.sub("", text.strip())
    return compact if compact.isdigit() and len(compact) == 6 else text.strip()


def _ident(text: str) -> str:
    """Ids, SKUs and phones: spreadsheet exports often prefix them with ' to keep them as text."""
    value = text.strip()
    return value[1:].strip() if value.startswith("'") else value


# -- building orders -----------------------------------------------------------------------------


@dataclass
class _Line:
    row: int
    line_id: str | None
    sku: str
    title: str | None
    quantity: int
    gross: Decimal | None  # the line's value after tax, before discount; None: no price in the file
    discount: Decimal


@dataclass
class _Order:
    order_id: str
    first_row: int
    last_row: int = 0
    values: dict[str, str] = field(default_factory=dict)  # order-level fields, first non-empty wins
    value_rows: dict[str, int] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    lines: list[_Line] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    shipping: Decimal = ZERO
    shipping_discount: Decimal = ZERO
    shipping_seen: bool = False


class _Reader:
    def __init__(self, profile: Profile, header: list[str]):
        self.profile = profile
        self.zone = profile.tz()
        self.index: dict[str, int] = {}  # field -> column position
        self.names: dict[str, str] = {}  # field -> header as written
        folded = [h.strip().lstrip("\ufeff").strip().casefold() for h in header]
        position: dict[str, int] = {}
        for i, h in enumerate(folded):
            position.setdefault(h, i)
        missing: list[str] = []
        for f, accepted in profile.columns.items():
            found = next((position[a.casefold()] for a in accepted if a.casefold() in position), None)
            if found is None:
                if f not in profile.optional:
                    missing.append(" or ".join(f"'{a}'" for a in accepted) + f" ({f})")
                continue
            self.index[f] = found
            self.names[f] = header[found].strip().lstrip("\ufeff").strip()
        if missing:
            hint = ""
            if len(header) == 1:
                other = "a tab" if "\t" in header[0] else "commas" if "," in header[0] else None
                if other:
                    hint = f"; the header is one column with {other} in it: is the delimiter right?"
            raise BadPayload(
                f"the report header lacks columns the profile '{profile.name}' needs: {', '.join(missing)}{hint}"
            )
        self.order_fields = [f for f in ORDER_FIELDS if f in self.index]
        self.extra = {k: position.get(h.casefold()) for k, h in profile.extra_columns.items()}
        self.skip = {
            position[h.casefold()]: {_key(v) for v in values}
            for h, values in profile.skip_values.items()
            if h.casefold() in position
        }

    @property
    def undecodable(self) -> str:
        return f"has bytes that are not {self.profile.encoding}: set the profile's encoding (cp1252 …)"

    def cell(self, cells: list[str], f: str) -> str:
        i = self.index.get(f)
        if i is None or i >= len(cells):
            return ""
        value = cells[i].strip()
        if "\ufffd" in value:
            raise _Bad(self.undecodable)
        return value

    def skipped(self, cells: list[str]) -> bool:
        return bool(self.skip) and any(i < len(cells) and _key(cells[i]) in values for i, values in self.skip.items())


def parse_report(
    data: bytes | IO[bytes], profile: Profile, *, grouped: bool = True, max_errors: int = 1000
) -> ReportResult:
    """Read a report file through a profile. The header is checked now (BadPayload names the
    missing columns); the rows are read as the result is iterated.

    ``grouped`` (the default) hands each order out when the order id changes and reports an order
    id that comes back later as an error; ``grouped=False`` keeps every order until the end of
    the file, so rows may be in any order but memory grows with the file."""
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
    text = io.TextIOWrapper(stream, encoding=profile.encoding, errors="replace", newline="")
    reader = csv.reader(text, delimiter=profile.delimiter)
    header = next(reader, None)
    header_row = 1
    while header is not None and not any(h.strip() for h in header):
        header = next(reader, None)
        header_row += 1
    try:
        if header is None:
            raise BadPayload("the report is empty: no header row")
        columns = _Reader(profile, header)
    except BadPayload:
        text.detach()  # leave a caller's stream open
        raise
    result = ReportResult(profile, header, max_errors)
    result._source = _orders(reader, text, columns, result, grouped, header_row + 1)
    return result


def _orders(
    reader: Any, text: io.TextIOWrapper, columns: _Reader, result: ReportResult, grouped: bool, first_row: int
) -> Iterator[ChannelOrder]:
    id_column = columns.names["order_id"]
    current: _Order | None = None
    seen: dict[str, int] = {}  # grouped: order id -> its first row; ungrouped: unused
    pending: dict[str, _Order] = {}  # ungrouped: every order until the end
    try:
        for row_number, cells in enumerate(reader, start=first_row):
            if not any(c.strip() for c in cells):
                continue
            result.rows += 1
            if columns.skipped(cells):
                result.skipped_rows += 1
                continue
            try:
                order_id = _ident(columns.cell(cells, "order_id"))
            except _Bad as e:
                result.add_error(RowError(row_number, id_column, str(e)))
                continue
            if not order_id:
                result.add_error(RowError(row_number, id_column, "is empty: the row belongs to no order"))
                continue
            if grouped:
                if current is not None and current.order_id != order_id:
                    built = _finish(current, columns, result)
                    current = None
                    if built is not None:
                        yield built
                if current is None:
                    if order_id in seen:
                        result.add_error(
                            RowError(
                                row_number,
                                id_column,
                                f"order {order_id} already ended (it started at row {seen[order_id]}); the rows "
                                "of one order must be next to each other: sort the file by order id, or import "
                                "it ungrouped",
                                order_id,
                            )
                        )
                        continue
                    seen[order_id] = row_number
                    current = _Order(order_id, row_number)
                _add_row(current, row_number, cells, columns)
            else:
                order = pending.get(order_id)
                if order is None:
                    order = pending[order_id] = _Order(order_id, row_number)
                _add_row(order, row_number, cells, columns)
        if current is not None:
            built = _finish(current, columns, result)
            if built is not None:
                yield built
        for order in pending.values():
            built = _finish(order, columns, result)
            if built is not None:
                yield built
    finally:
        result.finished = True
        text.detach()  # leave a caller's stream open


def _add_row(order: _Order, row: int, cells: list[str], columns: _Reader) -> None:
    profile = columns.profile
    names = columns.names
    order.last_row = row
    errors: list[RowError] = []
    width = len(cells)
    values = {f: cells[i].strip() for f, i in columns.index.items() if i < width}
    if "\ufffd" in "".join(values.values()):
        for f, value in list(values.items()):
            if "\ufffd" in value:
                errors.append(RowError(row, names[f], columns.undecodable, order.order_id))
                values[f] = ""

    def amount(f: str) -> Decimal | None:
        text = values.get(f)
        if not text:
            return None
        try:
            return _amount(text)
        except _Bad as e:
            errors.append(RowError(row, names[f], str(e), order.order_id))
            return None

    for f in columns.order_fields:
        if f not in order.values and values.get(f):
            order.values[f] = values[f]
            order.value_rows[f] = row
    for key, i in columns.extra.items():
        if i is not None and key not in order.extra and i < width and cells[i].strip():
            order.extra[key] = _ident(cells[i])
    sku = _ident(values.get("sku", ""))
    quantity_text = values.get("quantity", "")
    discount = amount("discount")
    discount = abs(discount) if discount is not None else ZERO
    shipping = amount("shipping")
    shipping_tax = None if profile.prices_include_tax else amount("shipping_tax")
    shipping_discount = amount("shipping_discount")
    for f, charge in (("shipping", shipping), ("shipping_tax", shipping_tax)):
        if charge is not None and charge < 0:
            errors.append(RowError(row, names[f], f"'{charge}' is negative", order.order_id))
    if shipping is not None or shipping_discount is not None:
        if profile.shipping == "per_row" or not order.shipping_seen:
            if shipping:
                order.shipping += shipping
            if shipping_tax:
                order.shipping += shipping_tax
            if shipping_discount:
                order.shipping_discount += abs(shipping_discount)
        order.shipping_seen = True
    line_id = _ident(values.get("line_id", "")) or None
    if profile.continuation_rows and not sku and not quantity_text:
        # Amazon writes extra promotions of a line on rows of their own, mostly blank.
        target = next((ln for ln in reversed(order.lines) if line_id and ln.line_id == line_id), None)
        target = target or (order.lines[-1] if order.lines else None)
        if target is None:
            errors.append(RowError(row, names["sku"], "is empty, and no earlier line of this order to add to"))
        else:
            target.discount += discount
        order.errors.extend(errors)
        return
    if not sku and "sku" in values:
        errors.append(RowError(row, names["sku"], "is empty", order.order_id))
    quantity = None
    if quantity_text:
        try:
            quantity = _whole(quantity_text)
        except _Bad as e:
            errors.append(RowError(row, names["quantity"], str(e), order.order_id))
    elif "quantity" in values:
        errors.append(RowError(row, names["quantity"], "is empty", order.order_id))
    price_field = profile.price_field
    price = amount(price_field)
    tax = None if profile.prices_include_tax else amount("tax")
    if price is not None and price < 0:
        errors.append(RowError(row, names[price_field], f"'{price}' is negative", order.order_id))
    gross = None
    if price is not None and quantity is not None:
        gross = (price * quantity if price_field == "unit_price" else price) + (tax or 0)
    if errors:
        order.errors.extend(errors)
    elif quantity is not None:
        order.lines.append(_Line(row, line_id, sku, values.get("title") or None, quantity, gross, discount))


def _finish(order: _Order, columns: _Reader, result: ReportResult) -> ChannelOrder | None:
    profile = columns.profile
    errors = order.errors
    names = columns.names

    def fail(f: str, message: str, row: int | None = None) -> None:
        errors.append(RowError(row or order.first_row, names.get(f, f), message, order.order_id))

    word = order.values.get("status") or profile.default_status or ""
    status = profile.status_of(word) if word else None
    if status is None:
        if word:
            known = ", ".join(profile.status_map)
            fail("status", f"'{word}' is not a status the profile '{profile.name}' knows ({known})")
        else:
            fail("status", "is empty")
    placed_at = updated_at = None
    for f in ("placed_at", "updated_at"):
        text = order.values.get(f)
        if not text:
            if f == "placed_at":
                fail(f, "is empty")
            continue
        try:
            moment = _when(text, profile, columns.zone)
        except _Bad as e:
            fail(f, str(e), order.value_rows[f])
            continue
        if f == "placed_at":
            placed_at = moment
        else:
            updated_at = moment
    ready = status is not None and profile.is_ready(word, status)
    cancelled = status is OrderStatus.CANCELLED
    lines: list[ChannelLine] = []
    for ln in order.lines:
        if ln.quantity == 0 and not cancelled:
            fail("quantity", "is 0 on an order that is not cancelled", ln.row)
        gross = ln.gross
        if gross is None:
            if ready:
                fail(profile.price_field, "is empty", ln.row)
                continue
            gross = ZERO  # not released yet: the marketplace leaves prices out until paid
        unit, rounding = _unit_price(gross, ln.quantity)
        lines.append(
            ChannelLine(
                listing_id=ln.sku,
                seller_sku=ln.sku,
                quantity=ln.quantity,
                unit_price=unit,
                discount=ln.discount + rounding if rounding else ln.discount,
                title=ln.title,
                line_id=ln.line_id,
            )
        )
    if not order.lines and not errors:
        fail("sku", "the order has no item rows")
    cod_text = order.values.get("cod_amount")
    cod_amount = ZERO
    if cod_text:
        try:
            cod_amount = _amount(cod_text)
        except _Bad as e:
            fail("cod_amount", str(e), order.value_rows["cod_amount"])
    if errors or status is None or placed_at is None:
        result.rejected_orders += 1
        for error in errors:
            result.add_error(error)
        return None
    v = order.values
    method_text = v.get("payment_method")
    if method_text is not None:
        method = "cod" if _key(method_text) in profile.cod_values else "prepaid"
    else:
        method = profile.default_payment
    if cod_amount > 0:
        method = "cod"
    line2 = ", ".join(p for p in (v.get("line2"), v.get("line3")) if p) or None
    buyer_phone = _phone(v.get("buyer_phone"))
    ship_phone = _phone(v.get("ship_phone")) or buyer_phone
    email = v.get("buyer_email")
    result.orders += 1
    return ChannelOrder(
        external_id=order.order_id,
        channel_status=word,
        status=status,
        placed_at=placed_at,
        customer={
            "name": v.get("buyer_name") or v.get("ship_name"),
            "phone": buyer_phone or ship_phone,
            "email": (normalise_email(email) or email) if email else None,
        },
        shipping_address={
            "name": v.get("ship_name") or v.get("buyer_name"),
            "line1": v.get("line1"),
            "line2": line2,
            "city": v.get("city"),
            "state": v.get("state"),
            "pincode": _pincode(v["pincode"]) if v.get("pincode") else None,
            "phone": ship_phone,
        },
        payment_method=method,
        payment_status="cod_pending" if method == "cod" else "paid" if ready else "pending",
        lines=lines,
        shipping_charge=max(order.shipping - order.shipping_discount, ZERO),
        currency=(v.get("currency") or "INR").upper(),
        ready=ready,
        updated_at=updated_at,
        extra={"import_profile": profile.name, "rows": [order.first_row, order.last_row], **order.extra},
    )


def _unit_price(gross: Decimal, quantity: int) -> tuple[Decimal, Decimal]:
    """Per-unit price in whole paise, and what rounding it up added to the line (kept as discount
    so the line's total stays exactly what the report says)."""
    if quantity == 1 or quantity <= 0:
        return gross, ZERO
    unit = (gross / quantity).quantize(PAISA, rounding=ROUND_CEILING)
    return unit, unit * quantity - gross


def _phone(text: str | None) -> str | None:
    if not text:
        return None
    raw = _ident(text)
    return normalise_phone(raw) or raw


# -- built-in profiles ---------------------------------------------------------------------------

_O = OrderStatus
# Amazon's words: the Orders report has none (everything in it is unshipped), the All Orders
# report writes order-status with these values.
AMAZON_STATUSES: dict[str, OrderStatus] = {
    "Pending": _O.PENDING,
    "PendingAvailability": _O.PENDING,
    "Unshipped": _O.CONFIRMED,
    "PartiallyShipped": _O.PARTIALLY_SHIPPED,
    "Pending - Waiting for Pick Up": _O.IN_FULFILMENT,
    "Shipping": _O.IN_FULFILMENT,
    "Shipped": _O.SHIPPED,
    "Shipped - Picked Up": _O.SHIPPED,
    "Shipped - Out for Delivery": _O.SHIPPED,
    "Shipped - Lost in Transit": _O.SHIPPED,
    "Shipped - Damaged": _O.SHIPPED,
    "Shipped - Delivered to Buyer": _O.DELIVERED,
    "Complete": _O.DELIVERED,
    "Shipped - Returning to Seller": _O.RTO,
    "Shipped - Returned to Seller": _O.RTO,
    "Shipped - Rejected by Buyer": _O.RTO,
    "Cancelled": _O.CANCELLED,
    "Canceled": _O.CANCELLED,
}
FLIPKART_STATUSES: dict[str, OrderStatus] = {
    "APPROVED": _O.CONFIRMED,
    "PACKING_IN_PROGRESS": _O.IN_FULFILMENT,
    "FORM_FAILED": _O.ON_HOLD,
    "PACKED": _O.IN_FULFILMENT,
    "READY_TO_DISPATCH": _O.IN_FULFILMENT,
    "PICKUP_COMPLETE": _O.SHIPPED,
    "SHIPPED": _O.SHIPPED,
    "DELIVERED": _O.DELIVERED,
    "COMPLETED": _O.DELIVERED,
    "RETURN_REQUESTED": _O.DELIVERED,
    "RETURNED": _O.RETURNED,
    "CANCELLED": _O.CANCELLED,
}
MEESHO_STATUSES: dict[str, OrderStatus] = {
    "PENDING": _O.CONFIRMED,  # waiting for the supplier to accept: released to the supplier already
    "READY_TO_SHIP": _O.IN_FULFILMENT,
    "SHIPPED": _O.SHIPPED,
    "DELIVERED": _O.DELIVERED,
    "DOOR_STEP_EXCHANGED": _O.DELIVERED,
    "CANCELLED": _O.CANCELLED,
    "RTO_INITIATED": _O.RTO,
    "RTO_OTW": _O.RTO,
    "RTO_LOCKED": _O.RTO,
    "RTO_COMPLETE": _O.RTO,
    "RETURN": _O.RETURNED,
    "RETURNED": _O.RETURNED,
}


def _cols(**mapping: str | tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {f: (names,) if isinstance(names, str) else names for f, names in mapping.items()}


AMAZON_ORDER_REPORT = Profile(
    name="amazon_order_report",
    description="Amazon Seller Central order report (New / Unshipped orders, tab-separated), one row per order item",
    columns=_cols(
        order_id="order-id",
        line_id="order-item-id",
        placed_at="purchase-date",
        sku="sku",
        title="product-name",
        quantity="quantity-purchased",
        line_total="item-price",
        tax="item-tax",
        discount="item-promotion-discount",
        shipping="shipping-price",
        shipping_tax="shipping-tax",
        shipping_discount="ship-promotion-discount",
        currency="currency",
        buyer_name="buyer-name",
        buyer_email="buyer-email",
        buyer_phone="buyer-phone-number",
        ship_name="recipient-name",
        ship_phone="ship-phone-number",
        line1="ship-address-1",
        line2="ship-address-2",
        line3="ship-address-3",
        city="ship-city",
        state="ship-state",
        pincode="ship-postal-code",
        payment_method="payment-method",
        cod_amount="cod-collectible-amount",
        status="order-status",
    ),
    optional=frozenset(
        {
            "line_id",
            "title",
            "tax",
            "discount",
            "shipping",
            "shipping_tax",
            "shipping_discount",
            "currency",
            "buyer_name",
            "buyer_email",
            "buyer_phone",
            "ship_phone",
            "line2",
            "line3",
            "payment_method",
            "cod_amount",
            "status",
        }
    ),
    delimiter="\t",
    cod_values=frozenset({"cod"}),
    status_map=AMAZON_STATUSES,
    default_status="Unshipped",
    continuation_rows=True,
    extra_columns={"ship_service_level": "ship-service-level", "is_business_order": "is-business-order"},
)
AMAZON_ALL_ORDERS = Profile(
    name="amazon_all_orders",
    description="Amazon 'All Orders' report (tab-separated): status and amounts, no buyer name, street or phone",
    columns=_cols(
        order_id="amazon-order-id",
        placed_at="purchase-date",
        updated_at="last-updated-date",
        status="order-status",
        sku="sku",
        title="product-name",
        quantity=("quantity", "quantity-purchased"),
        line_total="item-price",
        tax="item-tax",
        discount="item-promotion-discount",
        shipping="shipping-price",
        shipping_tax="shipping-tax",
        shipping_discount="ship-promotion-discount",
        currency="currency",
        city="ship-city",
        state="ship-state",
        pincode="ship-postal-code",
    ),
    optional=frozenset(
        {"updated_at", "title", "tax", "discount", "shipping", "shipping_tax", "shipping_discount", "currency"}
    ),
    delimiter="\t",
    status_map=AMAZON_STATUSES,
    skip_values={"fulfillment-channel": frozenset({"Amazon", "AFN"})},
    extra_columns={
        "merchant_order_id": "merchant-order-id",
        "fulfillment_channel": "fulfillment-channel",
        "sales_channel": "sales-channel",
    },
)
FLIPKART_ORDERS = Profile(
    name="flipkart_orders",
    description="Flipkart Seller Hub orders download (CSV), one row per order item",
    columns=_cols(
        order_id=("Order Id", "Order ID"),
        line_id=("ORDER ITEM ID", "Order Item ID"),
        placed_at="Ordered On",
        status="Order State",
        sku=("SKU", "Seller SKU"),
        title="Product",
        quantity="Quantity",
        unit_price="Selling Price Per Item",
        shipping="Shipping and Handling Charges",
        buyer_name=("Buyer name", "Buyer Name"),
        ship_name=("Ship to name", "Ship To Name"),
        line1="Address Line 1",
        line2="Address Line 2",
        city="City",
        state="State",
        pincode=("PIN Code", "Pincode"),
        payment_method=("Payment Type", "Payment Mode", "Order Type"),
    ),
    optional=frozenset({"line_id", "title", "shipping", "buyer_name", "line2", "payment_method"}),
    date_formats=(
        "iso",
        "%b %d, %Y %H:%M:%S",
        "%b %d, %Y %I:%M %p",
        "%b %d, %Y",
        "%d-%m-%Y %H:%M:%S",
        "%d-%m-%Y %H:%M",
        "%d-%m-%Y",
    ),
    cod_values=frozenset({"cod", "postpaid", "cash on delivery"}),
    status_map=FLIPKART_STATUSES,
    extra_columns={
        "shipment_id": "Shipment ID",
        "fsn": "FSN",
        "tracking_id": "Tracking ID",
        "dispatch_by": "Dispatch by date",
        "invoice_no": "Invoice No.",
    },
)
MEESHO_ORDERS = Profile(
    name="meesho_orders",
    description="Meesho supplier panel orders CSV, one row per sub order (no buyer name, address or phone)",
    columns=_cols(
        order_id="Sub Order No",
        line_id="Sub Order No",
        placed_at="Order Date",
        status="Reason for Credit Entry",
        sku=("SKU", "Supplier SKU"),
        title="Product Name",
        quantity="Quantity",
        line_total=(
            "Supplier Discounted Price (Incl GST and Commision)",
            "Supplier Discounted Price (Incl GST and Commission)",
            "Supplier Discounted Price",
        ),
        state="Customer State",
    ),
    optional=frozenset({"line_id", "title", "state"}),
    date_formats=("iso", "%Y-%m-%d %H:%M:%S", "%d-%b-%Y", "%d-%m-%Y", "%d/%m/%Y"),
    status_map=MEESHO_STATUSES,
    extra_columns={"packet_id": "Packet Id", "size": "Size", "catalog_id": "Catalog ID"},
)
ORDERMESH_TEMPLATE = Profile(
    name="ordermesh",
    description="ordermesh's own template: the fields of POST /api/v1/orders, one row per line",
    columns=_cols(
        order_id="external_id",
        placed_at="placed_at",
        status="status",
        buyer_name="customer_name",
        buyer_phone="customer_phone",
        buyer_email="customer_email",
        line1="line1",
        line2="line2",
        city="city",
        state="state",
        pincode="pincode",
        payment_method="payment_method",
        sku="sku",
        quantity="quantity",
        unit_price="unit_price",
        discount="discount",
        shipping="shipping_charge",
    ),
    optional=frozenset({"status", "buyer_phone", "buyer_email", "line2", "payment_method", "discount", "shipping"}),
    shipping="per_order",
    status_map={s.value: s for s in OrderStatus},
    default_status="confirmed",
)

PROFILES: dict[str, Profile] = {
    p.name: p for p in (AMAZON_ORDER_REPORT, AMAZON_ALL_ORDERS, FLIPKART_ORDERS, MEESHO_ORDERS, ORDERMESH_TEMPLATE)
}

__all__ = [
    "FIELDS",
    "PROFILES",
    "Profile",
    "ProfileError",
    "ReportResult",
    "RowError",
    "load_profile",
    "parse_report",
]
