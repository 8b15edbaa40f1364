"""Bulk order import from CSV: one row per order line, rows of one order next to each other.

Unlike the catalog import this is not all-or-nothing: every order is ingested in a transaction of
its own (``services.orders.ingest_order``, the path the API takes), so one bad order is reported
and the others are kept. Importing the same file again is harmless: an order already present is
answered as a repeat, a changed one becomes a new version of that order.

The file is streamed: rows are grouped while they are read and each order is sent on as soon as
its last row is seen, so memory stays flat however long the file is. That is why an order's rows
must be consecutive; rows of an order that turn up again later are rejected rather than buffered.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.domain.access import Permission
from ordermesh.domain.errors import Collector, DomainError, FieldError, ImportRejected, RowError
from ordermesh.domain.intake import build_order
from ordermesh.domain.sla import IST
from ordermesh.domain.statuses import OrderStatus
from ordermesh.services.common import require
from ordermesh.services.orders import ingest_order, parse_time

# Order-level columns come first; the last four describe the row's line. shipping_charge is the
# order's, given once (on any of its rows).
ORDER_COLUMNS = (
    "channel",
    "external_id",
    "placed_at",
    "customer_name",
    "customer_phone",
    "customer_email",
    "ship_name",
    "ship_line1",
    "ship_line2",
    "ship_city",
    "ship_state",
    "ship_pincode",
    "ship_phone",
    "payment_method",
    "payment_status",
)
LINE_COLUMNS = ("sku", "quantity", "unit_price", "discount")
CSV_COLUMNS = (*ORDER_COLUMNS, *LINE_COLUMNS, "shipping_charge")
_ORDER_LEVEL = (*ORDER_COLUMNS, "shipping_charge")
REQUIRED_COLUMNS = (
    "channel",
    "external_id",
    "placed_at",
    "customer_name",
    "ship_line1",
    "ship_city",
    "ship_state",
    "ship_pincode",
    "payment_method",
    "sku",
    "quantity",
    "unit_price",
)

# Where an ingestion field path points in the file (lines.N.* are resolved to the Nth row).
_FIELD_COLUMNS = {
    "channel": "channel",
    "external_id": "external_id",
    "placed_at": "placed_at",
    "customer": "customer_name",
    "customer.name": "customer_name",
    "customer.phone": "customer_phone",
    "customer.email": "customer_email",
    "shipping_address": "ship_line1",
    "payment": "payment_method",
    "payment.method": "payment_method",
    "payment.status": "payment_status",
    "shipping_charge": "shipping_charge",
    "lines": "sku",
}
_ADDRESS_FIELDS = ("name", "line1", "line2", "city", "state", "pincode", "phone")

_BOM = b"\xef\xbb\xbf"
_WHOLE_NUMBER = re.compile(r"[+-]?\d+")


class UowOpener(Protocol):
    """Opens a unit of work for the importing tenant and person (one per order)."""

    def __call__(self, *, write: bool = ...) -> UnitOfWork: ...


@dataclass
class ImportReport:
    dry_run: bool = False
    rows: int = 0
    orders: int = 0
    created: int = 0
    repeated: int = 0  # already present, unchanged
    changed: int = 0  # already present, applied as a new version
    valid: int = 0  # dry run: would be imported (new or already present)
    held: Counter[str] = field(default_factory=Counter)  # hold reason -> orders of this file now held for it
    on_hold: int = 0
    rejected_orders: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    stopped: bool = False  # the rest of the file could not be read (see the last error)

    @property
    def rejected_rows(self) -> int:
        return len({e.line for e in self.errors})

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            "orders": self.orders,
            "created": self.created,
            "already_present": self.repeated,
            "changed": self.changed,
            "valid": self.valid,
            "on_hold": self.on_hold,
            "held": dict(sorted(self.held.items())),
            "rejected_orders": self.rejected_orders,
            "rejected_rows": self.rejected_rows,
            "errors": [{"line": e.line, "column": e.column, "message": e.message} for e in self.errors],
            "ignored_columns": self.ignored_columns,
            "stopped": self.stopped,
        }


@dataclass
class _Row:
    line: int
    cells: dict[str, str]


@dataclass
class _Group:
    key: tuple[str, str]
    rows: list[_Row]


class _CsvReader(Protocol):
    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...


class _Unreadable(Exception):
    """The file cannot be read past ``line``; ``pending`` is the order whose rows were being read."""

    def __init__(self, line: int, message: str, pending: _Group | None = None):
        super().__init__(message)
        self.line = line
        self.message = message
        self.pending = pending


class _Lines:
    """Byte lines of the file as text for the CSV reader, counting bytes for the progress bar."""

    def __init__(self, source: Iterable[bytes]):
        self._source = source
        self.bytes = 0
        self.count = 0

    def __iter__(self) -> Iterator[str]:
        for chunk in self._source:
            self.bytes += len(chunk)
            self.count += 1
            if self.count == 1:
                chunk = chunk.removeprefix(_BOM)
            try:
                yield chunk.decode("utf-8")
            except UnicodeDecodeError:
                raise _Unreadable(self.count, "is not UTF-8 text; the rest of the file was not read") from None


def import_orders(
    open_uow: UowOpener,
    source: Iterable[bytes],
    *,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import orders from CSV ``source`` (the file's lines as bytes, e.g. a file opened ``"rb"``).

    ``progress(bytes_read, rows_read)`` is called after each order. ``dry_run`` checks every
    order's shape and channel, and whether it is already present, without writing anything.
    A header without the required columns raises ImportRejected; every other problem is a row
    error in the report.
    """
    report = ImportReport(dry_run=dry_run)
    lines = _Lines(source)
    reader = csv.reader(iter(lines))
    with open_uow(write=False) as uow:
        require(uow.actor, Permission.ORDERS_WRITE)
        channels = {c.spec.code: c.id for c in uow.channels.all() if uow.actor.sees_channel(c.spec.code)}
        try:
            header = [h.strip() for h in next(reader, [])]
        except _Unreadable as exc:
            raise ImportRejected("the file cannot be read", [RowError(exc.line, "file", exc.message)]) from None
        except csv.Error as exc:
            raise ImportRejected("the file cannot be read", [RowError(1, "file", str(exc))]) from None
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ImportRejected(
                f"the header lacks required column(s): {', '.join(missing)}",
                [RowError(1, c, "required column is missing") for c in missing],
            )
        report.ignored_columns = [h for h in header if h and h not in CSV_COLUMNS]
        if dry_run:
            _each_order(report, reader, lines, header, progress, lambda group: _check(uow, channels, group, report))
            return report
    _each_order(report, reader, lines, header, progress, lambda group: _ingest(open_uow, channels, group, report))
    return report


def _each_order(
    report: ImportReport,
    reader: _CsvReader,
    lines: _Lines,
    header: list[str],
    progress: Callable[[int, int], None] | None,
    handle: Callable[[_Group], None],
) -> None:
    seen: dict[tuple[str, str], int] = {}  # order key -> the line its rows began on
    try:
        for group in _groups(reader, header, report):
            report.orders += 1
            first = group.rows[0].line
            if all(group.key) and group.key in seen:
                message = (
                    f"order {group.key[1]} of channel {group.key[0]} began on line {seen[group.key]}; "
                    "the rows of one order must be consecutive"
                )
                _reject(report, [RowError(r.line, "external_id", message) for r in group.rows])
            else:
                if all(group.key):
                    seen[group.key] = first
                handle(group)
            if progress:
                progress(lines.bytes, report.rows)
    except _Unreadable as exc:
        if exc.pending is not None:  # its next rows may be past the unreadable line: never import half an order
            report.orders += 1
            message = "not imported: the file cannot be read after this row, so the order may be incomplete"
            _reject(report, [RowError(r.line, "external_id", message) for r in exc.pending.rows])
        report.errors.append(RowError(exc.line, "file", exc.message))
        report.stopped = True
    if progress:
        progress(lines.bytes, report.rows)


def _groups(reader: _CsvReader, header: list[str], report: ImportReport) -> Iterator[_Group]:
    """Consecutive rows with the same (channel, external_id), one group at a time. A row without
    either is a group of its own (and is rejected for it)."""
    at = {name: header.index(name) for name in CSV_COLUMNS if name in header}
    current: _Group | None = None
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except _Unreadable as exc:
            exc.pending = current
            raise
        except csv.Error as exc:
            raise _Unreadable(reader.line_num + 1, f"{exc}; the rest of the file was not read", current) from None
        if not cells or all(not c.strip() for c in cells):
            continue
        report.rows += 1
        row = _Row(
            reader.line_num,
            {name: cells[i].strip() if i < len(cells) else "" for name, i in at.items()},
        )
        key = (row.cells.get("channel", ""), row.cells.get("external_id", ""))
        if current is not None and all(key) and key == current.key:
            current.rows.append(row)
            continue
        if current is not None:
            yield current
        current = _Group(key, [row])
    if current is not None:
        yield current


def order_payload(group_rows: list[_Row]) -> tuple[dict[str, Any], dict[str, int], list[RowError]]:
    """The rows of one order as the payload ingest_order takes, the line each order-level column's
    value came from, and problems the payload cannot show (rows that disagree on the order)."""
    values: dict[str, str] = {}
    source: dict[str, int] = {}
    problems: list[RowError] = []
    for row in group_rows:
        for name in _ORDER_LEVEL:
            value = row.cells.get(name, "")
            if not value:
                continue  # later rows may leave the order's columns empty
            if name not in values:
                values[name], source[name] = value, row.line
            elif value != values[name]:
                problems.append(
                    RowError(row.line, name, f"'{value}' differs from '{values[name]}' on line {source[name]}")
                )

    def v(name: str) -> str | None:
        return values.get(name) or None

    address = {f: v(f"ship_{f}") for f in _ADDRESS_FIELDS}
    address["name"] = address["name"] or v("customer_name")
    address["phone"] = address["phone"] or v("customer_phone")
    method = v("payment_method")
    payload: dict[str, Any] = {
        "channel": v("channel"),
        "external_id": v("external_id"),
        "placed_at": _time(v("placed_at")),
        "customer": _present({"name": v("customer_name"), "phone": v("customer_phone"), "email": v("customer_email")}),
        "shipping_address": _present(address),
        "payment": _present({"method": method.lower() if method else None, "status": v("payment_status")}),
        "lines": [_line(row.cells) for row in group_rows],
    }
    if v("shipping_charge"):
        payload["shipping_charge"] = v("shipping_charge")
    return _present(payload), source, problems


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: value for k, value in values.items() if value is not None}


def _time(text: str | None) -> str | None:
    """A date-time without an offset is India time: spreadsheets rarely keep offsets."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return text  # ingestion names the problem
    return value.replace(tzinfo=IST).isoformat() if value.tzinfo is None else text


def _line(cells: Mapping[str, str]) -> dict[str, Any]:
    quantity: Any = cells.get("quantity") or None
    if quantity is not None and _WHOLE_NUMBER.fullmatch(quantity):
        quantity = int(quantity)
    return _present(
        {
            "sku": cells.get("sku") or None,
            "quantity": quantity,
            "unit_price": cells.get("unit_price") or None,
            "discount": cells.get("discount") or None,
        }
    )


def row_errors(errors: Iterable[FieldError], rows: list[_Row], source: Mapping[str, int]) -> list[RowError]:
    """Ingestion's field paths (``lines.1.quantity``, ``shipping_address.pincode``) as file lines
    and columns."""
    out = []
    first = rows[0].line
    for e in errors:
        parts = e.field.split(".")
        if parts[0] == "lines" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(rows):
            out.append(RowError(rows[int(parts[1])].line, parts[2] if len(parts) > 2 else "sku", e.message))
            continue
        if parts[0] in ("shipping_address", "billing_address") and len(parts) > 1:
            column = f"ship_{parts[1]}"
            if column == "ship_name" and "ship_name" not in source:
                column = "customer_name"  # the CSV fell back to the buyer's name
        else:
            column = _FIELD_COLUMNS.get(e.field, _FIELD_COLUMNS.get(parts[0], parts[0]))
        if column not in CSV_COLUMNS:
            column = "external_id"  # about the order as a whole (its state, say), not one cell
        out.append(RowError(source.get(column, first), column, e.message))
    return out


def _reject(report: ImportReport, problems: list[RowError]) -> None:
    report.rejected_orders += 1
    report.errors.extend(sorted(problems, key=lambda p: (p.line, p.column)))


def _check(uow: UnitOfWork, channels: Mapping[str, int], group: _Group, report: ImportReport) -> None:
    """Dry run: the shape as ingestion would check it, the channel, and whether it is present."""
    payload, source, problems = order_payload(group.rows)
    errors = Collector()
    order_in = build_order(payload, errors, parse_time)
    problems += row_errors(errors.errors, group.rows, source)
    if order_in is not None and order_in.channel not in channels:
        problems.append(
            RowError(
                source.get("channel", group.rows[0].line), "channel", f"channel '{order_in.channel}' does not exist"
            )
        )
    if problems:
        _reject(report, problems)
        return
    assert order_in is not None
    report.valid += 1
    if uow.orders.id_for_external(channels[order_in.channel], order_in.external_id) is not None:
        report.repeated += 1


def _ingest(open_uow: UowOpener, channels: Mapping[str, int], group: _Group, report: ImportReport) -> None:
    """One order, one transaction: created, a repeat, a new version, or rejected with its rows."""
    payload, source, problems = order_payload(group.rows)
    if problems:
        _reject(report, problems)
        return
    channel_id = channels.get(group.key[0])
    try:
        with open_uow() as uow:
            existing = uow.orders.id_for_external(channel_id, group.key[1]) if channel_id is not None else None
            before = uow.orders.get(existing) if existing is not None else None
            version = before.row.version if before is not None else None
            result = ingest_order(uow, payload)
            with uow.reopen() as fresh:
                order = fresh.orders.get(result.order_id)
    except DomainError as exc:
        field_errors = exc.errors or [FieldError(exc.field or "external_id", exc.detail)]
        _reject(report, row_errors(field_errors, group.rows, source))
        return
    assert order is not None
    if result.created:
        report.created += 1
    elif version is not None and order.row.version != version:
        report.changed += 1
    else:
        report.repeated += 1
    if order.row.status == OrderStatus.ON_HOLD.value:
        report.on_hold += 1
        report.held.update({h["reason"] for h in order.row.holds})
