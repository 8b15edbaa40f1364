"""Inventory use cases: movements, reservations, stock views, policies and the ledger check.

Every change goes through :func:`_apply`: ledger rows first, then one guarded UPDATE per balance in
key order (so concurrent transactions lock rows in the same order and cannot deadlock), then the
events and the audit row, all in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ordermesh.adapters.db.repositories import encode_cursor
from ordermesh.adapters.db.stock import GuardedMove, LedgerDifference, LocationStock
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.domain import events
from ordermesh.domain.access import Permission
from ordermesh.domain.catalog import Component, bundle_available
from ordermesh.domain.errors import (
    Collector,
    Conflict,
    InsufficientStock,
    NotFound,
    Shortage,
    ValidationFailed,
)
from ordermesh.domain.inventory import (
    MANUAL_KINDS,
    Balance,
    Delta,
    Guard,
    MovementKind,
    count_delta,
    guard_holds,
    is_low,
    movement_effect,
)
from ordermesh.services.common import Page, cursor_values, location_ids, page_limit, require

MAX_QUANTITY = 1_000_000_000


@dataclass(frozen=True)
class Change:
    sku: str
    sku_id: int | None  # None: a code this process has not resolved yet (see reserve_in_transaction)
    location: str
    location_id: int
    kind: MovementKind
    quantity: int
    delta: Delta
    guard: Guard
    reason: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class Applied:
    change: Change
    before: Balance
    after: Balance
    threshold: int | None = None


@dataclass(frozen=True)
class StockLine:
    sku: str
    location: str
    quantity: int


@dataclass
class SkuStock:
    sku: str
    is_bundle: bool
    locations: list[LocationStock]
    components: list[Component] = field(default_factory=list)

    @property
    def totals(self) -> Balance:
        return Balance(
            sum(s.balance.on_hand for s in self.locations),
            sum(s.balance.reserved for s in self.locations),
            sum(s.balance.quarantined for s in self.locations),
            sum(s.balance.safety_stock for s in self.locations),
        )

    @property
    def available(self) -> int:
        return sum(s.balance.available for s in self.locations)


def _quantity(value: object, path: str, errors: Collector, *, allow_zero: bool = False, signed: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(path, "must be a whole number")
        return 0
    if signed:
        if value == 0 or abs(value) > MAX_QUANTITY:
            errors.add(path, "an adjustment is a non-zero whole number (negative to remove units)")
    elif value < 0 or (value == 0 and not allow_zero) or value > MAX_QUANTITY:
        errors.add(path, "must be greater than zero" if not allow_zero else "must be zero or more")
    return value


def record_movement(
    uow: UnitOfWork,
    *,
    sku: str,
    location: str,
    kind: str,
    quantity: object,
    reason: str | None = None,
    to_location: str | None = None,
    reference: str | None = None,
) -> list[Applied]:
    """Post a receipt, adjustment, count, transfer, quarantine, unquarantine or write-off."""
    require(uow.actor, Permission.INVENTORY_WRITE)
    errors = Collector()
    if kind not in MANUAL_KINDS:
        errors.add("kind", f"must be one of {', '.join(sorted(MANUAL_KINDS))}")
    qty = _quantity(quantity, "quantity", errors, allow_zero=kind == "count", signed=kind == "adjustment")
    if kind == "adjustment" and not (reason or "").strip():
        errors.add("reason", "an adjustment needs a reason")
    if kind == "transfer":
        if not to_location:
            errors.add("to_location", "a transfer needs the location it goes to")
        elif to_location == location:
            errors.add("to_location", "must differ from location")
    elif to_location:
        errors.add("to_location", "only a transfer has a destination")
    if reason is not None and len(reason) > 300:
        errors.add("reason", "must be at most 300 characters")
    if reference is not None and len(reference) > 120:
        errors.add("reference", "must be at most 120 characters")
    errors.raise_if_any()

    sku_id = _plain_sku(uow, sku)
    locs = location_ids(uow, [location] + ([to_location] if to_location else []))
    note = reason.strip() if reason else None
    if kind == "count":
        # Create the row first so there is something to lock: two first counts must not both add.
        uow.stock.ensure_rows([(sku_id, locs[location])], uow.now)
        current = uow.stock.read(sku_id, locs[location], for_update=True)
        delta = count_delta(current[0] if current else Balance(), qty)
        changes = [
            Change(
                sku,
                sku_id,
                location,
                locs[location],
                MovementKind.COUNT,
                qty,
                delta,
                Guard.NON_NEGATIVE,
                note,
                reference,
            )
        ]
    elif kind == "transfer":
        assert to_location is not None
        out_delta, out_guard = movement_effect(MovementKind.TRANSFER_OUT, qty)
        in_delta, in_guard = movement_effect(MovementKind.TRANSFER_IN, qty)
        ref = reference or f"transfer:{location}->{to_location}"
        changes = [
            Change(
                sku, sku_id, location, locs[location], MovementKind.TRANSFER_OUT, qty, out_delta, out_guard, note, ref
            ),
            Change(
                sku,
                sku_id,
                to_location,
                locs[to_location],
                MovementKind.TRANSFER_IN,
                qty,
                in_delta,
                in_guard,
                note,
                ref,
            ),
        ]
    else:
        mk = MovementKind(kind)
        delta, guard = movement_effect(mk, qty)
        changes = [Change(sku, sku_id, location, locs[location], mk, qty, delta, guard, note, reference)]
    applied = _apply(uow, changes, create_rows=True, action=kind)
    uow.commit()
    return applied


def reserve_stock(uow: UnitOfWork, lines: Sequence[StockLine], *, reference: str) -> list[Applied]:
    """Promise stock to a reference (an order, a B2B hold). All lines or none: if any line lacks
    stock the whole reservation is refused with every shortage listed. Bundles reserve their
    components."""
    applied = reserve_in_transaction(uow, lines, reference=reference)
    uow.commit()
    return applied


def reserve_in_transaction(uow: UnitOfWork, lines: Sequence[StockLine], *, reference: str) -> list[Applied]:
    """:func:`reserve_stock` inside the caller's transaction (an order's), without committing."""
    require(uow.actor, Permission.INVENTORY_RESERVE)
    # The reservation statement resolves SKU codes this process has not seen yet itself, saving a
    # lookup on the hot path. If one of them turns out unknown or a bundle, nothing was written:
    # resolve them properly and go again.
    try:
        return _apply(uow, _expand(uow, lines, MovementKind.RESERVATION, reference, late=True), create_rows=False)
    except _Unresolved:
        return _apply(uow, _expand(uow, lines, MovementKind.RESERVATION, reference), create_rows=False)


def reserve_many_in_transaction(uow: UnitOfWork, requests: Sequence[tuple[str, Sequence[StockLine]]]) -> bool:
    """:func:`reserve_in_transaction` for several references in one statement, inside the caller's
    transaction: True when all are reserved (each reference with its ledger rows, audit row and
    event, as one at a time, in the order given: references reserving at one place take their
    turns), False when nothing was written (one lacks stock) and the caller reserves them one at a
    time."""
    require(uow.actor, Permission.INVENTORY_RESERVE)
    changes = [
        c for reference, lines in requests for c in _expand(uow, lines, MovementKind.RESERVATION, reference, late=True)
    ]
    try:
        applied = _apply(uow, changes, create_rows=False, record=False)
    except (InsufficientStock, _Unresolved):
        return False  # a refused statement wrote nothing
    by_reference: dict[str | None, list[Applied]] = {}
    for a in applied:
        by_reference.setdefault(a.change.reference, []).append(a)
    for reference, _ in requests:
        _record(uow, by_reference[reference], MovementKind.RESERVATION.value)
    return True


class _Unresolved(Exception):
    """A move named a SKU code the statement could not resolve to a plain SKU."""


def release_stock(uow: UnitOfWork, lines: Sequence[StockLine], *, reference: str) -> list[Applied]:
    """Withdraw a promise made under ``reference``; never more than that reference still holds."""
    applied = release_in_transaction(uow, lines, reference=reference)
    uow.commit()
    return applied


def release_in_transaction(uow: UnitOfWork, lines: Sequence[StockLine], *, reference: str) -> list[Applied]:
    """:func:`release_stock` inside the caller's transaction, without committing."""
    require(uow.actor, Permission.INVENTORY_RESERVE)
    return _from_reserved(uow, lines, MovementKind.RELEASE, reference, "release")


def ship_in_transaction(uow: UnitOfWork, lines: Sequence[StockLine], *, reference: str) -> list[Applied]:
    """Units promised to ``reference`` leave the building (the carrier picked them up): on hand
    and reserved both fall, never by more than the reference holds. In the caller's transaction."""
    require(uow.actor, Permission.INVENTORY_RESERVE)
    return _from_reserved(uow, lines, MovementKind.SHIPMENT, reference, "ship")


def _from_reserved(
    uow: UnitOfWork, lines: Sequence[StockLine], kind: MovementKind, reference: str, verb: str
) -> list[Applied]:
    changes = _expand(uow, lines, kind, reference)
    # Lock the balances (in key order) before reading what the reference holds, so two releases
    # of one reference at once cannot both see it still holding the units.
    for c in sorted(changes, key=_key):
        uow.stock.read(*_key(c), for_update=True)
    held: dict[tuple[int, int], int] = {}
    for m in uow.stock.movements_for_reference(reference):
        held[(m.sku_id, m.location_id)] = held.get((m.sku_id, m.location_id), 0) + m.d_reserved
    for c in changes:
        if held.get(_key(c), 0) < c.quantity:
            raise Conflict(
                f"reference '{reference}' holds {held.get(_key(c), 0)} of '{c.sku}' at "
                f"'{c.location}', fewer than the {c.quantity} to {verb}",
                field="lines",
            )
    return _apply(uow, changes, create_rows=False)


def _expand(
    uow: UnitOfWork, lines: Sequence[StockLine], kind: MovementKind, reference: str, *, late: bool = False
) -> list[Change]:
    """Lines as changes per (SKU, location), bundles as their components. ``late``: SKU codes not
    in this process's cache are left for the statement to resolve (as plain SKUs)."""
    errors = Collector()
    if not lines:
        errors.add("lines", "at least one line is required")
    if not reference or len(reference) > 120:
        errors.add("reference", "is required (at most 120 characters)")
    for i, line in enumerate(lines):
        _quantity(line.quantity, f"lines.{i}.quantity", errors)
    errors.raise_if_any()
    skus = uow.skus.ids_for((line.sku for line in lines), cached_only=late)
    if not late:
        for i, line in enumerate(lines):
            if line.sku not in skus:
                raise NotFound(f"SKU '{line.sku}' not found", field=f"lines.{i}.sku")
    locs = location_ids(uow, sorted({line.location for line in lines}), field="lines")
    bundle_ids = [sid for sid, is_bundle in skus.values() if is_bundle]
    components = uow.skus.components_of(bundle_ids) if bundle_ids else {}
    component_codes = uow.skus.codes_for_ids({c for lst in components.values() for c, _ in lst}) if components else {}
    merged: dict[tuple[str, int], tuple[int | None, str, int]] = {}
    for line in lines:
        sku_id, is_bundle = skus.get(line.sku, (None, False))
        parts: list[tuple[int | None, str, int]] = (
            [(cid, component_codes[cid], q) for cid, q in components[sku_id]]
            if is_bundle and sku_id is not None
            else [(sku_id, line.sku, 1)]
        )
        for part_id, part_code, per in parts:
            key = (part_code, locs[line.location])
            prev = merged.get(key, (part_id, line.location, 0))[2]
            merged[key] = (part_id, line.location, prev + per * line.quantity)
    out = []
    for (code, loc_id), (sku_id, loc_code, qty) in merged.items():
        delta, guard = movement_effect(kind, qty)
        out.append(Change(code, sku_id, loc_code, loc_id, kind, qty, delta, guard, None, reference))
    return out


def _plain_sku(uow: UnitOfWork, code: str) -> int:
    found = uow.skus.ids_for([code]).get(code)
    if found is None:
        raise NotFound(f"SKU '{code}' not found", field="sku")
    if found[1]:
        raise ValidationFailed(
            f"'{code}' is a bundle; its stock comes from its components, so move those instead", field="sku"
        )
    return found[0]


def _apply(
    uow: UnitOfWork, changes: list[Change], *, create_rows: bool, action: str | None = None, record: bool = True
) -> list[Applied]:
    now = uow.now
    ordered = sorted(changes, key=lambda c: (c.sku_id or 0, c.sku, c.location_id))
    if create_rows:
        uow.stock.ensure_rows([(c.sku_id, c.location_id) for c in ordered if c.sku_id is not None], now)
    moves = [
        GuardedMove(c.sku, c.sku_id, c.location_id, c.kind.value, c.quantity, c.delta, c.guard, c.reason, c.reference)
        for c in ordered
    ]
    after_all = uow.stock.apply_all(moves, uow.actor.ref, now)
    if after_all is None and any(c.sku_id is None for c in ordered):
        raise _Unresolved()
    if after_all is None:
        # Nothing was written; say which lines fell short, as the balances stand now.
        short = [c for c in ordered if not _would_hold(uow, c)]
        raise _refusal(changes[0].kind, [_shortage(uow, c) for c in short or ordered[:1]])
    applied: list[Applied] = []
    resolved: dict[str, int] = {}
    # Each change's balance after it: the balance after them all, less the changes of that balance
    # that come after it (several reservations of one balance go in as their sum; in order).
    later: dict[tuple[str, int], Balance] = {}
    for c in reversed(ordered):
        key = (c.sku, c.location_id)
        result = after_all[key]
        if c.sku_id is None and result.sku_id is not None:
            resolved[c.sku] = result.sku_id
            c = replace(c, sku_id=result.sku_id)
        after = later.get(key, result.balance)
        later[key] = after.plus(-c.delta)
        applied.append(Applied(c, later[key], after, result.low_stock_threshold))
    applied.reverse()
    if resolved:
        uow.skus.remember_plain(resolved)
    for a in applied:
        t = a.threshold
        _alert_transition(uow, a.change.sku, a.change.location, a.before.available, t, a.after.available, t)
    if record:
        _record(uow, applied, action or changes[0].kind.value)
    return applied


def _alert_transition(
    uow: UnitOfWork,
    sku: str,
    location: str,
    before: int,
    before_threshold: int | None,
    after: int,
    after_threshold: int | None,
) -> None:
    was, now = is_low(before, before_threshold), is_low(after, after_threshold)
    if now and not was:
        assert after_threshold is not None
        uow.emit(events.low_stock(sku, location, after, after_threshold))
    elif was and not now:
        uow.emit(events.stock_recovered(sku, location, after))


def _key(c: Change) -> tuple[int, int]:
    """(sku_id, location_id) of a change whose SKU has been resolved."""
    assert c.sku_id is not None
    return c.sku_id, c.location_id


def _would_hold(uow: UnitOfWork, c: Change) -> bool:
    current = uow.stock.read(*_key(c))
    return current is not None and guard_holds(c.guard, current[0].plus(c.delta))


def _shortage(uow: UnitOfWork, c: Change) -> Shortage:
    current = uow.stock.read(*_key(c))
    balance = current[0] if current else Balance()
    if c.kind is MovementKind.RESERVATION:
        have = balance.available
    elif c.kind is MovementKind.RELEASE:
        have = balance.reserved
    elif c.kind in (MovementKind.UNQUARANTINE, MovementKind.WRITE_OFF):
        have = balance.quarantined
    else:
        have = max(0, balance.on_hand - balance.reserved)
    return Shortage(c.sku, c.location, abs(c.quantity), have)


def _refusal(kind: MovementKind, shortages: list[Shortage]) -> Exception:
    s = shortages[0]
    what = {
        MovementKind.RESERVATION: "available",
        MovementKind.RELEASE: "reserved",
        MovementKind.UNQUARANTINE: "quarantined",
        MovementKind.WRITE_OFF: "quarantined",
    }.get(kind, "unreserved on hand")
    detail = f"insufficient stock: '{s.sku}' at '{s.location}' has {s.available} {what}, {s.requested} requested"
    if len(shortages) > 1:
        detail += f" (and {len(shortages) - 1} more line(s) short)"
    return InsufficientStock(detail, shortages=shortages, field="quantity")


def _record(uow: UnitOfWork, applied: list[Applied], action: str) -> None:
    def snap(b: Balance) -> dict[str, int]:
        return {"on_hand": b.on_hand, "reserved": b.reserved, "quarantined": b.quarantined, "available": b.available}

    first = applied[0].change
    key = first.reference or f"{first.sku}@{first.location}"
    uow.audit(
        f"inventory.{action}",
        "stock",
        key,
        before={f"{a.change.sku}@{a.change.location}": snap(a.before) for a in applied},
        after={f"{a.change.sku}@{a.change.location}": snap(a.after) for a in applied},
    )
    uow.emit(events.stock_changed(sorted({(a.change.sku, a.change.location) for a in applied})))


def stock_for_sku(uow: UnitOfWork, sku: str) -> SkuStock:
    """A SKU's stock at every location the actor may see; for a bundle, derived from its components."""
    require(uow.actor, Permission.INVENTORY_READ)
    found = uow.skus.ids_for([sku]).get(sku)
    if found is None:
        raise NotFound(f"SKU '{sku}' not found", field="sku")
    sku_id, is_bundle = found
    if not is_bundle:
        rows = uow.stock.by_location([sku_id]).get(sku_id, [])
        return SkuStock(sku, False, [r for r in rows if uow.actor.sees_location(r.location)])
    parts = uow.skus.components_of([sku_id])[sku_id]
    codes = uow.skus.codes_for_ids([c for c, _ in parts])
    per_component = uow.stock.by_location([c for c, _ in parts])
    components = [Component(codes[c], q) for c, q in parts]
    by_loc: dict[str, dict[str, LocationStock]] = {}
    for cid, _ in parts:
        for row in per_component.get(cid, []):
            by_loc.setdefault(row.location, {})[codes[cid]] = row
    out = []
    for loc, at_loc in by_loc.items():
        if not uow.actor.sees_location(loc):
            continue
        avail = bundle_available(components, {code: r.balance.available for code, r in at_loc.items()})
        on_hand = bundle_available(components, {code: r.balance.on_hand for code, r in at_loc.items()})
        any_row = next(iter(at_loc.values()))
        out.append(LocationStock(loc, any_row.location_id, Balance(on_hand, max(0, on_hand - avail), 0, 0), None))
    return SkuStock(sku, True, out, components)


def stock_for_skus(uow: UnitOfWork, codes: Sequence[str]) -> dict[str, SkuStock]:
    """Stock of several SKUs at once (a list page): one query for all plain SKUs."""
    require(uow.actor, Permission.INVENTORY_READ)
    found = uow.skus.ids_for(codes)
    plain = {code: sid for code, (sid, is_bundle) in found.items() if not is_bundle}
    rows = uow.stock.by_location(list(plain.values()))
    out = {
        code: SkuStock(code, False, [r for r in rows.get(sid, []) if uow.actor.sees_location(r.location)])
        for code, sid in plain.items()
    }
    for code, (_, is_bundle) in found.items():
        if is_bundle:
            out[code] = stock_for_sku(uow, code)
    return out


def ledger_page(
    uow: UnitOfWork, *, sku: str, location: str | None, cursor: str | None, limit: int | None
) -> Page[dict[str, Any]]:
    require(uow.actor, Permission.INVENTORY_READ)
    n = page_limit(limit)
    before = cursor_values(cursor)
    sku_id = _plain_sku(uow, sku)
    loc_id = location_ids(uow, [location])[location] if location else None
    visible = None
    if uow.actor.locations is not None:
        visible = list(uow.locations.ids_for(uow.actor.locations).values())
    rows = uow.stock.ledger(sku_id, loc_id, int(str(before[0])) if before else None, n + 1, visible)
    more = len(rows) > n
    rows = rows[:n]
    items = [
        {
            "id": r.id,
            "at": r.created_at,
            "sku": sku,
            "location": r.location_code,
            "kind": r.kind,
            "quantity": r.quantity,
            "on_hand_change": r.d_on_hand,
            "reserved_change": r.d_reserved,
            "quarantined_change": r.d_quarantined,
            "reason": r.reason,
            "reference": r.reference,
            "actor": r.actor,
        }
        for r in rows
    ]
    return Page(items, encode_cursor(rows[-1].id) if more and rows else None)


def set_stock_policy(
    uow: UnitOfWork,
    *,
    sku: str,
    location: str,
    safety_stock: object = None,
    low_stock_threshold: object = None,
    clear_threshold: bool = False,
) -> LocationStock:
    """Safety stock held back from sale, and the availability at which a low-stock alert fires."""
    require(uow.actor, Permission.INVENTORY_WRITE)
    errors = Collector()
    if safety_stock is not None:
        _quantity(safety_stock, "safety_stock", errors, allow_zero=True)
    if low_stock_threshold is not None:
        _quantity(low_stock_threshold, "low_stock_threshold", errors, allow_zero=True)
    if safety_stock is None and low_stock_threshold is None and not clear_threshold:
        errors.add("safety_stock", "give safety_stock, low_stock_threshold or both")
    errors.raise_if_any()
    sku_id = _plain_sku(uow, sku)
    loc_id = location_ids(uow, [location])[location]
    uow.stock.ensure_rows([(sku_id, loc_id)], uow.now)
    before = uow.stock.read(sku_id, loc_id, for_update=True)
    assert before is not None
    uow.stock.set_policy(
        sku_id,
        loc_id,
        safety_stock=safety_stock if isinstance(safety_stock, int) else None,
        low_stock_threshold=low_stock_threshold if isinstance(low_stock_threshold, int) else None,
        clear_threshold=clear_threshold,
        now=uow.now,
    )
    after = uow.stock.read(sku_id, loc_id)
    assert after is not None
    uow.audit(
        "inventory.policy_set",
        "stock",
        f"{sku}@{location}",
        before={"safety_stock": before[0].safety_stock, "low_stock_threshold": before[1]},
        after={"safety_stock": after[0].safety_stock, "low_stock_threshold": after[1]},
    )
    _alert_transition(uow, sku, location, before[0].available, before[1], after[0].available, after[1])
    uow.emit(events.stock_changed([(sku, location)]))
    uow.commit()
    return LocationStock(location, loc_id, after[0], after[1])


def check_ledger(uow: UnitOfWork, *, repair: bool = False) -> list[LedgerDifference]:
    """Compare every balance with the sum of its ledger. With ``repair``, rewrite the balances from
    the ledger (the ledger is the truth) and record what was changed in the audit trail."""
    require(uow.actor, Permission.INVENTORY_WRITE if repair else Permission.INVENTORY_READ)
    if repair:
        uow.stock.lock_all_balances()
    diffs = uow.stock.differences()
    if repair and diffs:
        for d in diffs:
            uow.stock.overwrite(d, uow.now)
        uow.audit(
            "inventory.repaired",
            "stock",
            "ledger-check",
            before={
                f"{d.sku}@{d.location}": dict(zip(("on_hand", "reserved", "quarantined"), d.balance, strict=True))
                for d in diffs
            },
            after={
                f"{d.sku}@{d.location}": dict(zip(("on_hand", "reserved", "quarantined"), d.ledger, strict=True))
                for d in diffs
            },
        )
        uow.emit(events.stock_changed(sorted({(d.sku, d.location) for d in diffs})))
        uow.commit()
    return diffs


def count_movements(uow: UnitOfWork) -> int:
    """How many ledger rows the tenant has (what a ledger check covers)."""
    require(uow.actor, Permission.INVENTORY_READ)
    return uow.stock.count_movements()
