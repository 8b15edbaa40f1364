"""The stock ledger against a real database (SQLite and PostgreSQL): every movement, its guards, its
ledger rows, audit rows and events, refusals that write nothing, and the ledger check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from ordermesh.adapters.db import tables as t
from ordermesh.bootstrap import bootstrap
from ordermesh.config import Settings
from ordermesh.domain.access import Actor, Role
from ordermesh.domain.errors import Conflict, DomainError, Forbidden, InsufficientStock, NotFound, ValidationFailed
from ordermesh.domain.inventory import Balance
from ordermesh.services import inventory
from ordermesh.services.inventory import StockLine
from tests.conftest import TenantCtx
from tests.factories import balance, make_bundle, make_location, make_sku, receive

OUTBOX = t.OutboxEvent.__table__
AUDIT = t.AuditEntry.__table__
MOV = t.StockMovement.__table__
BAL = t.StockBalance.__table__
SKUS = t.Sku.__table__
LOCS = t.Location.__table__

VIEWER = Actor("user", "viewer", "Viewer", Role.VIEWER)
WAREHOUSE = Actor("user", "picker", "Picker", Role.WAREHOUSE)


# --- helpers ----------------------------------------------------------------------------------


def move(t_: TenantCtx, sku: str, location: str, kind: str, quantity: object, **kw: Any) -> list[inventory.Applied]:
    actor = kw.pop("actor", None)
    with t_.uow(actor=actor) as uow:
        return inventory.record_movement(uow, sku=sku, location=location, kind=kind, quantity=quantity, **kw)


def reserve(t_: TenantCtx, reference: str, *lines: tuple[str, str, int], actor: Actor | None = None) -> None:
    with t_.uow(actor=actor) as uow:
        inventory.reserve_stock(uow, [StockLine(*line) for line in lines], reference=reference)


def release(t_: TenantCtx, reference: str, *lines: tuple[str, str, int]) -> None:
    with t_.uow() as uow:
        inventory.release_stock(uow, [StockLine(*line) for line in lines], reference=reference)


def policy(t_: TenantCtx, sku: str, location: str, **kw: Any) -> None:
    with t_.uow() as uow:
        inventory.set_stock_policy(uow, sku=sku, location=location, **kw)


def check(t_: TenantCtx, *, repair: bool = False, actor: Actor | None = None) -> list[Any]:
    with t_.uow(actor=actor, write=repair) as uow:
        return inventory.check_ledger(uow, repair=repair)


def ledger(t_: TenantCtx, sku: str | None = None) -> list[Any]:
    """The tenant's ledger rows, oldest first, with SKU and location codes."""
    with t_.uow(write=False) as uow:
        stmt = (
            select(
                SKUS.c.code.label("sku"),
                LOCS.c.code.label("location"),
                MOV.c.kind,
                MOV.c.quantity,
                MOV.c.d_on_hand,
                MOV.c.d_reserved,
                MOV.c.d_quarantined,
                MOV.c.reason,
                MOV.c.reference,
            )
            .join(SKUS, SKUS.c.id == MOV.c.sku_id)
            .join(LOCS, LOCS.c.id == MOV.c.location_id)
            .where(MOV.c.tenant_id == t_.id)
            .order_by(MOV.c.id)
        )
        if sku is not None:
            stmt = stmt.where(SKUS.c.code == sku)
        return list(uow.conn.execute(stmt))


def audit_actions(t_: TenantCtx) -> list[str]:
    with t_.uow(write=False) as uow:
        rows = uow.conn.execute(select(AUDIT.c.action).where(AUDIT.c.tenant_id == t_.id).order_by(AUDIT.c.id))
        return [r.action for r in rows if r.action.startswith("inventory.")]


def audit_rows(t_: TenantCtx, action: str) -> list[Any]:
    with t_.uow(write=False) as uow:
        return list(
            uow.conn.execute(
                select(AUDIT).where(AUDIT.c.tenant_id == t_.id, AUDIT.c.action == action).order_by(AUDIT.c.id)
            )
        )


def events(t_: TenantCtx, topic: str | None = None) -> list[dict[str, Any]]:
    """The tenant's outbox payloads (for one topic, or every topic with the topic added), oldest first."""
    with t_.uow(write=False) as uow:
        stmt = select(OUTBOX.c.topic, OUTBOX.c.payload).where(OUTBOX.c.tenant_id == t_.id).order_by(OUTBOX.c.id)
        if topic is not None:
            stmt = stmt.where(OUTBOX.c.topic == topic)
        return [{"topic": r.topic, **r.payload} for r in uow.conn.execute(stmt)]


def balances(t_: TenantCtx) -> dict[tuple[str, str], tuple[int, int, int, int, int | None]]:
    with t_.uow(write=False) as uow:
        rows = uow.conn.execute(
            select(
                SKUS.c.code,
                LOCS.c.code.label("location"),
                BAL.c.on_hand,
                BAL.c.reserved,
                BAL.c.quarantined,
                BAL.c.safety_stock,
                BAL.c.low_stock_threshold,
            )
            .join(SKUS, SKUS.c.id == BAL.c.sku_id)
            .join(LOCS, LOCS.c.id == BAL.c.location_id)
            .where(BAL.c.tenant_id == t_.id)
        )
        return {(r.code, r.location): tuple(r[2:]) for r in rows}  # type: ignore[misc]


@dataclass(frozen=True)
class Snapshot:
    ledger: int
    audit: int
    outbox: int
    balances: dict[tuple[str, str], tuple[int, int, int, int, int | None]]


def snapshot(t_: TenantCtx) -> Snapshot:
    with t_.uow(write=False) as uow:
        count_audit = len(list(uow.conn.execute(select(AUDIT.c.id).where(AUDIT.c.tenant_id == t_.id))))
        count_outbox = len(list(uow.conn.execute(select(OUTBOX.c.id).where(OUTBOX.c.tenant_id == t_.id))))
        count_ledger = uow.stock.count_movements()
    return Snapshot(count_ledger, count_audit, count_outbox, balances(t_))


def corrupt(t_: TenantCtx, sku: str, location: str, **values: Any) -> None:
    """Change a balance behind the ledger's back, as a bad manual fix in the database would."""
    with t_.uow() as uow:
        sku_id = uow.skus.ids_for([sku])[sku][0]
        loc_id = uow.locations.ids_for([location])[location]
        uow.conn.execute(
            update(BAL)
            .where(BAL.c.tenant_id == t_.id, BAL.c.sku_id == sku_id, BAL.c.location_id == loc_id)
            .values(**{k: getattr(BAL.c, k) + v for k, v in values.items()})
        )
        uow.commit()


@pytest.fixture
def shop(tenant: TenantCtx) -> TenantCtx:
    """TEE and CAP, a bundle COMBO = TEE x1 + CAP x2, and two locations, BHW (Maharashtra) and
    BLR (Karnataka). No stock yet."""
    make_sku(tenant, "TEE")
    make_sku(tenant, "CAP")
    make_bundle(tenant, "COMBO", {"TEE": 1, "CAP": 2})
    make_location(tenant, "BHW", "MH")
    make_location(tenant, "BLR", "KA")
    return tenant


# --- receipts ---------------------------------------------------------------------------------


def test_a_receipt_adds_to_on_hand_with_one_ledger_row(shop: TenantCtx) -> None:
    # when
    move(shop, "TEE", "BHW", "receipt", 12, reference="PO-1")
    receive(shop, "TEE", "BHW", 3)
    # then
    assert balance(shop, "TEE", "BHW") == Balance(on_hand=15)
    rows = ledger(shop)
    assert [(r.kind, r.quantity, r.d_on_hand, r.d_reserved, r.reference) for r in rows] == [
        ("receipt", 12, 12, 0, "PO-1"),
        ("receipt", 3, 3, 0, None),
    ]


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "3", True, 1_000_000_001])
def test_a_receipt_needs_a_positive_whole_quantity(shop: TenantCtx, quantity: object) -> None:
    with pytest.raises(ValidationFailed) as exc:
        move(shop, "TEE", "BHW", "receipt", quantity)
    assert exc.value.errors[0].field == "quantity"


def test_a_bundle_has_no_stock_of_its_own(shop: TenantCtx) -> None:
    with pytest.raises(ValidationFailed, match="bundle"):
        receive(shop, "COMBO", "BHW", 1)


def test_unknown_skus_and_locations_are_not_found(shop: TenantCtx) -> None:
    with pytest.raises(NotFound) as exc:
        receive(shop, "NOPE", "BHW", 1)
    assert exc.value.field == "sku"
    with pytest.raises(NotFound) as exc:
        receive(shop, "TEE", "NOWHERE", 1)
    assert exc.value.field == "location"


# --- adjustments ------------------------------------------------------------------------------


def test_an_adjustment_needs_a_reason(shop: TenantCtx) -> None:
    receive(shop, "TEE", "BHW", 10)
    for reason in (None, "", "   "):
        with pytest.raises(ValidationFailed) as exc:
            move(shop, "TEE", "BHW", "adjustment", -2, reason=reason)
        assert [e.field for e in exc.value.errors] == ["reason"]


def test_an_adjustment_moves_on_hand_either_way_and_keeps_its_reason(shop: TenantCtx) -> None:
    # given
    receive(shop, "TEE", "BHW", 10)
    # when
    move(shop, "TEE", "BHW", "adjustment", -3, reason=" damaged in rain ")
    move(shop, "TEE", "BHW", "adjustment", 1, reason="found behind a shelf")
    # then
    assert balance(shop, "TEE", "BHW").on_hand == 8
    rows = ledger(shop)[1:]
    assert [(r.kind, r.quantity, r.d_on_hand, r.reason) for r in rows] == [
        ("adjustment", -3, -3, "damaged in rain"),
        ("adjustment", 1, 1, "found behind a shelf"),
    ]


def test_a_zero_adjustment_is_refused(shop: TenantCtx) -> None:
    with pytest.raises(ValidationFailed):
        move(shop, "TEE", "BHW", "adjustment", 0, reason="nothing")


def test_an_adjustment_cannot_take_on_hand_below_reserved(shop: TenantCtx) -> None:
    # given: 10 on hand, 7 promised
    receive(shop, "TEE", "BHW", 10)
    reserve(shop, "ORD-1", ("TEE", "BHW", 7))
    # when / then
    with pytest.raises(InsufficientStock) as exc:
        move(shop, "TEE", "BHW", "adjustment", -4, reason="lost")
    assert exc.value.shortages[0].available == 3
    assert exc.value.shortages[0].requested == 4
    move(shop, "TEE", "BHW", "adjustment", -3, reason="lost")
    assert balance(shop, "TEE", "BHW") == Balance(on_hand=7, reserved=7)


# --- counts -----------------------------------------------------------------------------------


def test_a_count_sets_on_hand_and_the_ledger_records_the_difference(shop: TenantCtx) -> None:
    # given
    receive(shop, "TEE", "BHW", 10)
    # when
    move(shop, "TEE", "BHW", "count", 7, reason="cycle count")
    move(shop, "TEE", "BHW", "count", 7)
    move(shop, "TEE", "BHW", "count", 9)
    # then
    assert balance(shop, "TEE", "BHW").on_hand == 9
    assert [(r.kind, r.quantity, r.d_on_hand) for r in ledger(shop)[1:]] == [
        ("count", 7, -3),
        ("count", 7, 0),
        ("count", 9, 2),
    ]
    with shop.uow(write=False) as uow:
        page = inventory.ledger_page(uow, sku="TEE", location="BHW", cursor=None, limit=2)
    assert [(i["kind"], i["on_hand_change"]) for i in page.items] == [("count", 2), ("count", 0)]
    assert page.next_cursor is not None


def test_a_count_at_a_new_location_creates_its_balance(shop: TenantCtx) -> None:
    move(shop, "CAP", "BLR", "count", 4)
    assert balance(shop, "CAP", "BLR") == Balance(on_hand=4)
    assert check(shop) == []


def test_a_count_of_zero_is_allowed_and_negative_is_not(shop: TenantCtx) -> None:
    receive(shop, "TEE", "BHW", 5)
    move(shop, "TEE", "BHW", "count", 0)
    assert balance(shop, "TEE", "BHW").on_hand == 0
    with pytest.raises(ValidationFailed):
        move(shop, "TEE", "BHW", "count", -1)


def test_a_count_below_reserved_is_recorded_and_leaves_nothing_available(shop: TenantCtx) -> None:
    # given: 6 promised, but only 4 are found
    receive(shop, "TEE", "BHW", 10)
    reserve(shop, "ORD-1", ("TEE", "BHW", 6))
    # when
    move(shop, "TEE", "BHW", "count", 4)
    # then
    b = balance(shop, "TEE", "BHW")
    assert (b.on_hand, b.reserved, b.available) == (4, 6, 0)
    with pytest.raises(InsufficientStock):
        reserve(shop, "ORD-2", ("TEE", "BHW", 1))
    assert check(shop) == []


# --- transfers --------------------------------------------------------------------------------


def test_a_transfer_moves_units_and_writes_both_sides(shop: TenantCtx) -> None:
    # given
    receive(shop, "TEE", "BHW", 10)
    # when
    move(shop, "TEE", "BHW", "transfer", 4, to_location="BLR", reason="rebalance")
    # then
    assert balance(shop, "TEE", "BHW").on_hand == 6
    assert balance(shop, "TEE", "BLR").on_hand == 4
    rows = sorted((r.location, r.kind, r.quantity, r.d_on_hand, r.reference, r.reason) for r in ledger(shop)[1:])
    assert rows == [
        ("BHW", "transfer_out", 4, -4, "transfer:BHW->BLR", "rebalance"),
        ("BLR", "transfer_in", 4, 4, "transfer:BHW->BLR", "rebalance"),
    ]


def test_a_transfer_only_moves_unreserved_units_and_writes_nothing_when_refused(shop: TenantCtx) -> None:
    # given: 10 on hand, 7 promised
    receive(shop, "TEE", "BHW", 10)
    reserve(shop, "ORD-1", ("TEE", "BHW", 7))
    before = snapshot(shop)
    # when
    with pytest.raises(InsufficientStock) as exc:
        move(shop, "TEE", "BHW", "transfer", 4, to_location="BLR")
    # then
    assert exc.value.shortages[0].available == 3
    assert snapshot(shop) == before
    assert ("TEE", "BLR") not in balances(shop)
    move(shop, "TEE", "BHW", "transfer", 3, to_location="BLR")
    assert balance(shop, "TEE", "BLR").on_hand == 3


@pytest.mark.parametrize(
    ("to_location", "kind"),
    [(None, "transfer"), ("BHW", "transfer"), ("BLR", "receipt")],
)
def test_a_transfer_names_another_location_and_only_a_transfer_does(
    shop: TenantCtx, to_location: str | None, kind: str
) -> None:
    receive(shop, "TEE", "BHW", 10)
    with pytest.raises(ValidationFailed) as exc:
        move(shop, "TEE", "BHW", kind, 1, to_location=to_location)
    assert [e.field for e in exc.value.errors] == ["to_location"]


def test_a_transfer_records_the_same_audit_action_in_either_direction(shop: TenantCtx) -> None:
    # given
    receive(shop, "TEE", "BHW", 10)
    receive(shop, "TEE", "BLR", 10)
    # when
    move(shop, "TEE", "BHW", "transfer", 1, to_location="BLR")
    move(shop, "TEE", "BLR", "transfer", 1, to_location="BHW")
    # then: one action to search the audit trail by, whichever location was created first
    there, back = audit_actions(shop)[-2:]
    assert there == back


# --- quarantine -------------------------------------------------------------------------------


def test_quarantine_unquarantine_and_write_off(shop: TenantCtx) -> None:
    # given
    receive(shop, "TEE", "BHW", 10)
    # when
    move(shop, "TEE", "BHW", "quarantine", 4, reason="torn seams")
    # then
    assert balance(shop, "TEE", "BHW") == Balance(on_hand=6, quarantined=4)
    assert balance(shop, "TEE", "BHW").available == 6
    # when
    move(shop, "TEE", "BHW", "unquarantine", 1)
    move(shop, "TEE", "BHW", "write_off", 2, reason="destroyed")
    # then
    assert balance(shop, "TEE", "BHW") == Balance(on_hand=7, quarantined=1)
    assert [(r.kind, r.d_on_hand, r.d_quarantined) for r in ledger(shop)[1:]] == [
        ("quarantine", -4, 4),
        ("unquarantine", 1, -1),
        ("write_off", 0, -2),
    ]


def test_quarantine_cannot_take_promised_units(shop: TenantCtx) -> None:
    receive(shop, "TEE", "BHW", 10)
    reserve(shop, "ORD-1", ("TEE", "BHW", 8))
    with pytest.raises(InsufficientStock):
        move(shop, "TEE", "BHW", "quarantine", 3)
    move(shop, "TEE", "BHW", "quarantine", 2)
    assert balance(shop, "TEE", "BHW") == Balance(on_hand=8, reserved=8, quarantined=2)


@pytest.mark.parametrize("kind", ["unquarantine", "write_off"])
def test_only_quarantined_units_can_leave_quarantine(shop: TenantCtx, kind: str) -> None:
    receive(shop, "TEE", "BHW", 10)
    move(shop, "TEE", "BHW", "quarantine", 2)
    with pytest.raises(InsufficientStock) as exc:
        move(shop, "TEE", "BHW", kind, 3)
    assert exc.value.shortages[0].available == 2
    assert "quarantined" in exc.value.detail


# --- reservations and releases ----------------------------------------------------------------


def test_a_reservation_takes_from_available(shop: TenantCtx) -> None:
    # given
    receive(shop, "TEE", "BHW", 10)
    # when
    reserve(shop, "ORD-1", ("TEE", "BHW", 4))
    # then
    b = balance(shop, "TEE", "BHW")
    assert (b.on_hand, b.reserved, b.available) == (10, 4, 6)
    [row] = ledger(shop)[1:]
    assert (row.kind, row.quantity, row.d_reserved, row.reference) == ("reservation", 4, 4, "ORD-1")


def test_a_reservation_beyond_available_is_refused_with_the_shortage(shop: TenantCtx) -> None:
    receive(shop, "TEE", "BHW", 10)
    reserve(shop, "ORD-1", ("TEE", "BHW", 4))
    with pytest.raises(InsufficientStock) as exc:
        reserve(shop, "ORD-2", ("TEE", "BHW", 7))
    [s] = exc.value.shortages
    assert (s.sku, s.location, s.requested, s.available) == ("TEE", "BHW", 7, 6)
    reserve(shop, "ORD-2", ("TEE", "BHW", 6))
    assert balance(shop, "TEE", "BHW").available == 0


def test_a_reservation_where_there_was_never_stock_is_refused(shop: TenantCtx) -> None:
    with pytest.raises(InsufficientStock) as exc:
        reserve(shop, "ORD-1", ("CAP", "BLR", 1))
    assert exc.value.shortages[0].available == 0
    assert balances(shop) == {}


def test_a_reservation_is_all_or_nothing_and_lists_every_shortage(shop: TenantCtx) -> None:
    # given
    receive(shop, "TEE", "BHW", 10)
    receive(shop, "CAP", "BHW", 1)
    before = snapshot(shop)
    # when
    with pytest.raises(InsufficientStock) as exc:
        reserve(shop, "ORD-1", ("TEE", "BHW", 2), ("CAP", "BHW", 5), ("TEE", "BLR", 1))
    # then
    assert sorted((s.sku, s.location) for s in exc.value.shortages) == [("CAP", "BHW"), ("TEE", "BLR")]
    assert snapshot(shop) == before


def test_release_gives_back_only_what_the_reference_holds(shop: TenantCtx) -> None:
    # given: two orders hold 3 and 4
    receive(shop, "TEE", "BHW", 10)
    reserve(shop, "ORD-1", ("TEE", "BHW", 3))
    reserve(shop, "ORD-2", ("TEE", "BHW", 4))
    # when / then: ORD-1 cannot release ORD-2's units
    with pytest.raises(Conflict) as exc:
        release(shop, "ORD-1", ("TEE", "BHW", 4))
    assert "holds 3" in exc.value.detail
    release(shop, "ORD-1", ("TEE", "BHW", 2))
    release(shop, "ORD-1", ("TEE", "BHW", 1))
    with pytest.raises(Conflict):
        release(shop, "ORD-1", ("TEE", "BHW", 1))
    # then
    assert balance(shop, "TEE", "BHW").reserved == 4
    assert [(r.kind, r.d_reserved, r.reference) for r in ledger(shop)[3:]] == [
        ("release", -2, "ORD-1"),
        ("release", -1, "ORD-1"),
    ]


def test_a_release_for_an_unknown_reference_or_location_is_refused(shop: TenantCtx) -> None:
    receive(shop, "TEE", "BHW", 10)
    receive(shop, "TEE", "BLR", 10)
    reserve(shop, "ORD-1", ("TEE", "BHW", 3))
    with pytest.raises(Conflict):
        release(shop, "ORD-404", ("TEE", "BHW", 1))
    with pytest.raises(Conflict):
        release(shop, "ORD-1", ("TEE", "BLR", 1))
    assert balance(shop, "TEE", "BHW").reserved == 3


@pytest.mark.parametrize("reference", ["", "r" * 121])
def test_a_reservation_needs_a_reference(shop: TenantCtx, reference: str) -> None:
    receive(shop, "TEE", "BHW", 10)
    with pytest.raises(ValidationFailed) as exc:
        reserve(shop, reference, ("TEE", "BHW", 1))
    assert [e.field for e in exc.value.errors] == ["reference"]


def test_a_reservation_needs_lines_with_positive_quantities(shop: TenantCtx) -> None:
    receive(shop, "TEE", "BHW", 10)
    with pytest.raises(ValidationFailed):
        reserve(shop, "ORD-1")
    with pytest.raises(ValidationFailed) as exc:
        reserve(shop, "ORD-1", ("TEE", "BHW", 1), ("TEE", "BHW", 0))
    assert [e.field for e in exc.value.errors] == ["lines.1.quantity"]


# --- bundles ----------------------------------------------------------------------------------


def test_a_bundle_reserves_its_components(shop: TenantCtx) -> None:
    # given
    receive(shop, "TEE", "BHW", 10)
    receive(shop, "CAP", "BHW", 10)
    # when
    reserve(shop, "ORD-1", ("COMBO", "BHW", 3))
    # then
    assert balance(shop, "TEE", "BHW").reserved == 3
    assert balance(shop, "CAP", "BHW").reserved == 6
    assert sorted((r.sku, r.kind, r.quantity, r.reference) for r in ledger(shop)[2:]) == [
        ("CAP", "reservation", 6, "ORD-1"),
        ("TEE", "reservation", 3, "ORD-1"),
    ]
    # and the bundle's own availability follows: CAP has 4 left, enough for 2
    assert balance(shop, "COMBO", "BHW").available == 2


@pytest.fixture
def fresh_process(shop: TenantCtx, db_url: str) -> Iterator[TenantCtx]:
    """The same tenant seen from a new process: nothing cached yet. A reservation there resolves
    SKU codes inside its own statement, and must still expand bundles and name unknown SKUs."""
    container = bootstrap(Settings(database_url=db_url, pool_size=2))
    try:
        yield TenantCtx(shop.id, shop.code, container)
    finally:
        container.close()


def test_a_process_that_never_saw_a_bundle_still_reserves_its_components(
    shop: TenantCtx, fresh_process: TenantCtx
) -> None:
    receive(shop, "TEE", "BHW", 10)
    receive(shop, "CAP", "BHW", 10)
    reserve(fresh_process, "ORD-1", ("TEE", "BHW", 1), ("COMBO", "BHW", 2))
    assert (balance(shop, "TEE", "BHW").reserved, balance(shop, "CAP", "BHW").reserved) == (3, 4)
    assert sorted((r.sku, r.quantity) for r in ledger(shop) if r.kind == "reservation") == [("CAP", 4), ("TEE", 3)]
    assert check(shop) == []


def test_a_process_that_never_saw_a_sku_reserves_it_and_names_an_unknown_one(
    shop: TenantCtx, fresh_process: TenantCtx
) -> None:
    receive(shop, "TEE", "BHW", 10)
    before = snapshot(shop)
    with pytest.raises(NotFound) as exc:
        reserve(fresh_process, "ORD-1", ("TEE", "BHW", 1), ("NOPE", "BHW", 1))
    assert [e.field for e in exc.value.errors] == ["lines.1.sku"]
    assert snapshot(shop) == before
    reserve(fresh_process, "ORD-2", ("TEE", "BHW", 4))
    assert balance(shop, "TEE", "BHW").reserved == 4
    with pytest.raises(InsufficientStock):
        reserve(fresh_process, "ORD-3", ("TEE", "BHW", 7))
    assert balance(shop, "TEE", "BHW").reserved == 4


def test_a_bundle_and_its_component_on_one_order_are_merged(shop: TenantCtx) -> None:
    receive(shop, "TEE", "BHW", 10)
    receive(shop, "CAP", "BHW", 10)
    reserve(shop, "ORD-1", ("COMBO", "BHW", 2), ("TEE", "BHW", 1))
    tee_rows = [r for r in ledger(shop, "TEE") if r.kind == "reservation"]
    assert [(r.quantity, r.d_reserved) for r in tee_rows] == [(3, 3)]


def test_a_bundle_is_refused_when_any_component_is_short(shop: TenantCtx) -> None:
    # given: TEE plenty, CAP for two bundles only
    receive(shop, "TEE", "BHW", 10)
    receive(shop, "CAP", "BHW", 5)
    before = snapshot(shop)
    # when
    with pytest.raises(InsufficientStock) as exc:
        reserve(shop, "ORD-1", ("COMBO", "BHW", 3))
    # then
    [s] = exc.value.shortages
    assert (s.sku, s.requested, s.available) == ("CAP", 6, 5)
    assert snapshot(shop) == before


def test_a_bundle_releases_its_components(shop: TenantCtx) -> None:
    receive(shop, "TEE", "BHW", 10)
    receive(shop, "CAP", "BHW", 10)
    reserve(shop, "ORD-1", ("COMBO", "BHW", 3))
    release(shop, "ORD-1", ("COMBO", "BHW", 1))
    assert (balance(shop, "TEE", "BHW").reserved, balance(shop, "CAP", "BHW").reserved) == (2, 4)
    with pytest.raises(Conflict):
        release(shop, "ORD-1", ("COMBO", "BHW", 3))
    release(shop, "ORD-1", ("TEE", "BHW", 2))
    release(shop, "ORD-1", ("CAP", "BHW", 4))
    assert (balance(shop, "TEE", "BHW").reserved, balance(shop, "CAP", "BHW").reserved) == (0, 0)


# --- safety stock and low stock ---------------------------------------------------------------


def test_safety_stock_is_held_back_from_reservations(shop: TenantCtx) -> None:
    # given
    receive(shop, "TEE", "BHW", 10)
    # when
    policy(shop, "TEE", "BHW", safety_stock=3)
    # then
    assert balance(shop, "TEE", "BHW").available == 7
    with pytest.raises(InsufficientStock) as exc:
        reserve(shop, "ORD-1", ("TEE", "BHW", 8))
    assert exc.value.shortages[0].available == 7
    reserve(shop, "ORD-1", ("TEE", "BHW", 7))
    assert balance(shop, "TEE", "BHW").available == 0
    # when the safety stock is lowered, the units become sellable again
    policy(shop, "TEE", "BHW", safety_stock=1)
    reserve(shop, "ORD-2", ("TEE", "BHW", 2))
    assert balance(shop, "TEE", "BHW") == Balance(on_hand=10, reserved=9, safety_stock=1)


def test_safety_stock_above_on_hand_leaves_nothing_available(shop: TenantCtx) -> None:
    receive(shop, "TEE", "BHW", 2)
    policy(shop, "TEE", "BHW", safety_stock=5)
    assert balance(shop, "TEE", "BHW").available == 0
    with pytest.raises(InsufficientStock):
        reserve(shop, "ORD-1", ("TEE", "BHW", 1))


def test_a_policy_needs_something_to_set(shop: TenantCtx) -> None:
    with pytest.raises(ValidationFailed):
        policy(shop, "TEE", "BHW")
    with pytest.raises(ValidationFailed):
        policy(shop, "TEE", "BHW", safety_stock=-1)


def test_low_stock_is_announced_once_when_availability_crosses_the_threshold(shop: TenantCtx) -> None:
    # given: 10 available, alert at 5
    receive(shop, "TEE", "BHW", 10)
    policy(shop, "TEE", "BHW", low_stock_threshold=5)
    assert events(shop, "inventory.low_stock") == []
    # when: availability falls 10 -> 7 -> 5 -> 4 -> 1
    reserve(shop, "ORD-1", ("TEE", "BHW", 3))
    assert events(shop, "inventory.low_stock") == []
    reserve(shop, "ORD-2", ("TEE", "BHW", 2))
    reserve(shop, "ORD-3", ("TEE", "BHW", 1))
    move(shop, "TEE", "BHW", "adjustment", -3, reason="damaged")
    # then: one alert, at the crossing
    assert events(shop, "inventory.low_stock") == [
        {"topic": "inventory.low_stock", "sku": "TEE", "location": "BHW", "available": 5, "threshold": 5}
    ]
    # when: it recovers, then falls again
    receive(shop, "TEE", "BHW", 10)
    reserve(shop, "ORD-4", ("TEE", "BHW", 7))
    # then
    assert [e["available"] for e in events(shop, "inventory.low_stock")] == [5, 4]
    assert [e["available"] for e in events(shop, "inventory.stock_recovered")] == [11]


def test_setting_a_threshold_above_availability_announces_low_stock(shop: TenantCtx) -> None:
    receive(shop, "TEE", "BHW", 3)
    policy(shop, "TEE", "BHW", low_stock_threshold=5)
    policy(shop, "TEE", "BHW", low_stock_threshold=4)
    assert [e["threshold"] for e in events(shop, "inventory.low_stock")] == [5]
    policy(shop, "TEE", "BHW", clear_threshold=True)
    assert len(events(shop, "inventory.stock_recovered")) == 1
    assert balances(shop)[("TEE", "BHW")][4] is None


def test_raising_safety_stock_can_make_stock_low(shop: TenantCtx) -> None:
    receive(shop, "TEE", "BHW", 10)
    policy(shop, "TEE", "BHW", low_stock_threshold=2)
    policy(shop, "TEE", "BHW", safety_stock=8)
    assert [e["available"] for e in events(shop, "inventory.low_stock")] == [2]


def test_every_change_announces_the_stock_it_touched(shop: TenantCtx) -> None:
    receive(shop, "TEE", "BHW", 10)
    receive(shop, "CAP", "BHW", 10)
    move(shop, "TEE", "BHW", "transfer", 1, to_location="BLR")
    reserve(shop, "ORD-1", ("COMBO", "BHW", 1))
    changed = [e["items"] for e in events(shop, "inventory.stock_changed")]
    assert changed[-2:] == [
        [{"sku": "TEE", "location": "BHW"}, {"sku": "TEE", "location": "BLR"}],
        [{"sku": "CAP", "location": "BHW"}, {"sku": "TEE", "location": "BHW"}],
    ]


# --- audit ------------------------------------------------------------------------------------


def test_every_mutating_call_writes_one_audit_row(shop: TenantCtx) -> None:
    # when
    receive(shop, "TEE", "BHW", 20)
    move(shop, "TEE", "BHW", "adjustment", -1, reason="damaged")
    move(shop, "TEE", "BHW", "count", 18)
    move(shop, "TEE", "BHW", "transfer", 2, to_location="BLR")
    move(shop, "TEE", "BHW", "quarantine", 2)
    move(shop, "TEE", "BHW", "unquarantine", 1)
    move(shop, "TEE", "BHW", "write_off", 1)
    reserve(shop, "ORD-1", ("TEE", "BHW", 3))
    release(shop, "ORD-1", ("TEE", "BHW", 1))
    policy(shop, "TEE", "BHW", safety_stock=1)
    check(shop)  # reading changes nothing, so it leaves no trace
    # then
    actions = audit_actions(shop)
    assert actions == [
        "inventory.receipt",
        "inventory.adjustment",
        "inventory.count",
        "inventory.transfer",
        "inventory.quarantine",
        "inventory.unquarantine",
        "inventory.write_off",
        "inventory.reservation",
        "inventory.release",
        "inventory.policy_set",
    ]


def test_an_audit_row_records_the_balance_before_and_after(shop: TenantCtx) -> None:
    receive(shop, "TEE", "BHW", 10)
    reserve(shop, "ORD-1", ("TEE", "BHW", 4))
    [row] = audit_rows(shop, "inventory.reservation")
    assert row.entity_key == "ORD-1"
    assert row.actor == "system:system"
    assert row.before == {"TEE@BHW": {"on_hand": 10, "reserved": 0, "quarantined": 0, "available": 10}}
    assert row.after == {"TEE@BHW": {"on_hand": 10, "reserved": 4, "quarantined": 0, "available": 6}}


# --- refusals write nothing -------------------------------------------------------------------


Op = Callable[[TenantCtx], object]

REFUSALS: list[tuple[str, Op, type[DomainError]]] = [
    ("reserve-beyond-available", lambda s: reserve(s, "ORD-9", ("TEE", "BHW", 3)), InsufficientStock),
    (
        "reserve-one-line-short",
        lambda s: reserve(s, "ORD-9", ("TEE", "BHW", 1), ("CAP", "BHW", 99)),
        InsufficientStock,
    ),
    ("reserve-bundle-short", lambda s: reserve(s, "ORD-9", ("COMBO", "BHW", 3)), InsufficientStock),
    ("reserve-nowhere", lambda s: reserve(s, "ORD-9", ("TEE", "BLR", 1)), InsufficientStock),
    ("transfer-reserved", lambda s: move(s, "TEE", "BHW", "transfer", 3, to_location="BLR"), InsufficientStock),
    ("adjust-below-reserved", lambda s: move(s, "TEE", "BHW", "adjustment", -3, reason="x"), InsufficientStock),
    ("quarantine-reserved", lambda s: move(s, "TEE", "BHW", "quarantine", 3), InsufficientStock),
    ("unquarantine-too-many", lambda s: move(s, "TEE", "BHW", "unquarantine", 3), InsufficientStock),
    ("write-off-too-many", lambda s: move(s, "TEE", "BHW", "write_off", 3), InsufficientStock),
    ("release-more-than-held", lambda s: release(s, "ORD-1", ("TEE", "BHW", 7)), Conflict),
    ("release-unknown-reference", lambda s: release(s, "ORD-404", ("TEE", "BHW", 1)), Conflict),
    ("adjust-without-reason", lambda s: move(s, "TEE", "BHW", "adjustment", -1), ValidationFailed),
    ("count-negative", lambda s: move(s, "TEE", "BHW", "count", -1), ValidationFailed),
    ("move-a-bundle", lambda s: move(s, "COMBO", "BHW", "receipt", 1), ValidationFailed),
    ("post-a-shipment", lambda s: move(s, "TEE", "BHW", "shipment", 1), ValidationFailed),
    ("transfer-to-itself", lambda s: move(s, "TEE", "BHW", "transfer", 1, to_location="BHW"), ValidationFailed),
    ("unknown-location", lambda s: move(s, "TEE", "NOWHERE", "receipt", 1), NotFound),
    ("viewer-receipt", lambda s: move(s, "TEE", "BHW", "receipt", 1, actor=VIEWER), Forbidden),
    ("warehouse-reserve", lambda s: reserve(s, "ORD-9", ("TEE", "BHW", 1), actor=WAREHOUSE), Forbidden),
    ("viewer-repair", lambda s: check(s, repair=True, actor=VIEWER), Forbidden),
]


@pytest.mark.parametrize(("op", "error"), [(op, err) for _, op, err in REFUSALS], ids=[n for n, _, _ in REFUSALS])
def test_a_refused_operation_writes_nothing(shop: TenantCtx, op: Op, error: type[DomainError]) -> None:
    # given: TEE at BHW: 10 on hand, 8 promised to ORD-1, 2 in quarantine; CAP at BHW: 1
    receive(shop, "TEE", "BHW", 12)
    receive(shop, "CAP", "BHW", 1)
    move(shop, "TEE", "BHW", "quarantine", 2)
    reserve(shop, "ORD-1", ("TEE", "BHW", 6))
    reserve(shop, "ORD-2", ("TEE", "BHW", 2))
    before = snapshot(shop)
    # when
    with pytest.raises(error):
        op(shop)
    # then: no ledger row, no audit row, no event, no balance changed
    assert snapshot(shop) == before
    assert check(shop) == []


# --- the ledger check -------------------------------------------------------------------------


def busy_day(s: TenantCtx) -> None:
    receive(s, "TEE", "BHW", 30)
    receive(s, "CAP", "BHW", 30)
    receive(s, "CAP", "BLR", 5)
    move(s, "TEE", "BHW", "transfer", 5, to_location="BLR")
    move(s, "CAP", "BLR", "count", 7)
    move(s, "TEE", "BLR", "adjustment", -1, reason="damaged")
    move(s, "TEE", "BHW", "quarantine", 3)
    move(s, "TEE", "BHW", "unquarantine", 1)
    move(s, "TEE", "BHW", "write_off", 1)
    policy(s, "TEE", "BHW", safety_stock=2, low_stock_threshold=10)
    reserve(s, "ORD-1", ("COMBO", "BHW", 4), ("TEE", "BLR", 2))
    reserve(s, "ORD-2", ("TEE", "BHW", 5))
    release(s, "ORD-1", ("COMBO", "BHW", 1))
    release(s, "ORD-2", ("TEE", "BHW", 5))
    with pytest.raises(InsufficientStock):
        reserve(s, "ORD-3", ("CAP", "BLR", 8))


def test_the_ledger_check_is_clean_after_a_busy_day(shop: TenantCtx) -> None:
    # given
    busy_day(shop)
    # when
    diffs = check(shop)
    # then
    assert diffs == []
    assert balance(shop, "TEE", "BHW") == Balance(on_hand=23, reserved=3, quarantined=1, safety_stock=2)
    assert balance(shop, "CAP", "BHW") == Balance(on_hand=30, reserved=6)
    assert balance(shop, "TEE", "BLR") == Balance(on_hand=4, reserved=2)
    assert balance(shop, "CAP", "BLR") == Balance(on_hand=7)


def test_the_ledger_check_finds_and_repairs_a_corrupted_balance(shop: TenantCtx) -> None:
    # given: a balance changed behind the ledger's back
    busy_day(shop)
    corrupt(shop, "TEE", "BHW", on_hand=5, reserved=-1)
    # when: checking only
    [diff] = check(shop)
    # then: the difference is reported, nothing is changed and nothing recorded
    assert (diff.sku, diff.location, diff.balance, diff.ledger) == ("TEE", "BHW", (28, 2, 1), (23, 3, 1))
    assert balance(shop, "TEE", "BHW").on_hand == 28
    assert audit_rows(shop, "inventory.repaired") == []
    # when: repairing
    [repaired] = check(shop, repair=True)
    # then: the balance is what the ledger says, and the repair is on record
    assert repaired == diff
    assert balance(shop, "TEE", "BHW") == Balance(on_hand=23, reserved=3, quarantined=1, safety_stock=2)
    assert check(shop) == []
    [row] = audit_rows(shop, "inventory.repaired")
    assert row.before == {"TEE@BHW": {"on_hand": 28, "reserved": 2, "quarantined": 1}}
    assert row.after == {"TEE@BHW": {"on_hand": 23, "reserved": 3, "quarantined": 1}}
    assert events(shop, "inventory.stock_changed")[-1]["items"] == [{"sku": "TEE", "location": "BHW"}]


def test_the_ledger_check_restores_a_deleted_balance(shop: TenantCtx) -> None:
    # given
    busy_day(shop)
    with shop.uow() as uow:
        cap = uow.skus.ids_for(["CAP"])["CAP"][0]
        uow.conn.execute(delete(BAL).where(BAL.c.tenant_id == shop.id, BAL.c.sku_id == cap))
        uow.commit()
    # when
    diffs = check(shop, repair=True)
    # then
    assert sorted((d.sku, d.location, d.balance) for d in diffs) == [
        ("CAP", "BHW", (0, 0, 0)),
        ("CAP", "BLR", (0, 0, 0)),
    ]
    assert balance(shop, "CAP", "BHW") == Balance(on_hand=30, reserved=6)
    assert balance(shop, "CAP", "BLR") == Balance(on_hand=7)
    assert check(shop) == []


def test_a_repair_with_nothing_to_repair_records_nothing(shop: TenantCtx) -> None:
    busy_day(shop)
    before = snapshot(shop)
    assert check(shop, repair=True) == []
    assert snapshot(shop) == before


def test_the_ledger_check_sees_only_its_own_tenant(shop: TenantCtx, other_tenant: TenantCtx) -> None:
    # given: the other tenant's balance is corrupted
    make_sku(other_tenant, "TEE")
    make_location(other_tenant, "BHW")
    receive(other_tenant, "TEE", "BHW", 5)
    receive(shop, "TEE", "BHW", 5)
    corrupt(other_tenant, "TEE", "BHW", on_hand=1)
    # when / then
    assert check(shop) == []
    assert check(shop, repair=True) == []
    assert len(check(other_tenant)) == 1
    assert balance(other_tenant, "TEE", "BHW").on_hand == 6


def test_a_viewer_may_check_but_not_repair(shop: TenantCtx) -> None:
    receive(shop, "TEE", "BHW", 5)
    corrupt(shop, "TEE", "BHW", on_hand=1)
    assert len(check(shop, actor=VIEWER)) == 1
    with pytest.raises(Forbidden):
        check(shop, repair=True, actor=VIEWER)


# --- who may move what ------------------------------------------------------------------------


def test_an_actor_narrowed_to_one_location_cannot_move_stock_elsewhere(shop: TenantCtx) -> None:
    # given
    picker = Actor("user", "p", "Picker", Role.WAREHOUSE, locations=frozenset({"BHW"}))
    receive(shop, "TEE", "BHW", 5)
    # when / then
    move(shop, "TEE", "BHW", "receipt", 1, actor=picker)
    with pytest.raises(NotFound):
        move(shop, "TEE", "BLR", "receipt", 1, actor=picker)
    with pytest.raises(NotFound):
        move(shop, "TEE", "BHW", "transfer", 1, to_location="BLR", actor=picker)
    assert balance(shop, "TEE", "BHW").on_hand == 6


def test_one_tenant_cannot_move_another_tenants_stock(shop: TenantCtx, other_tenant: TenantCtx) -> None:
    receive(shop, "TEE", "BHW", 5)
    with pytest.raises(NotFound):
        receive(other_tenant, "TEE", "BHW", 1)
    with pytest.raises(NotFound):
        reserve(other_tenant, "ORD-1", ("TEE", "BHW", 1))
    assert balance(shop, "TEE", "BHW") == Balance(on_hand=5)
