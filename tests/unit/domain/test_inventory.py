"""The stock ledger's rules, without a database: what each movement does and when it is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermesh.domain.inventory import (
    MANUAL_KINDS,
    Balance,
    Delta,
    Guard,
    MovementKind,
    apply,
    count_delta,
    guard_holds,
    is_low,
    movement_effect,
)

K = MovementKind


# --- movement effects -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "quantity", "delta", "guard"),
    [
        (K.RECEIPT, 5, Delta(on_hand=5), Guard.NON_NEGATIVE),
        (K.TRANSFER_IN, 5, Delta(on_hand=5), Guard.NON_NEGATIVE),
        (K.RETURN, 5, Delta(on_hand=5), Guard.NON_NEGATIVE),
        (K.ADJUSTMENT, 5, Delta(on_hand=5), Guard.NON_NEGATIVE),
        (K.ADJUSTMENT, -5, Delta(on_hand=-5), Guard.COVERS_RESERVED),
        (K.TRANSFER_OUT, 5, Delta(on_hand=-5), Guard.COVERS_RESERVED),
        (K.RESERVATION, 5, Delta(reserved=5), Guard.AVAILABLE),
        (K.RELEASE, 5, Delta(reserved=-5), Guard.NON_NEGATIVE),
        (K.SHIPMENT, 5, Delta(on_hand=-5, reserved=-5), Guard.NON_NEGATIVE),
        (K.QUARANTINE, 5, Delta(on_hand=-5, quarantined=5), Guard.COVERS_RESERVED),
        (K.UNQUARANTINE, 5, Delta(on_hand=5, quarantined=-5), Guard.NON_NEGATIVE),
        (K.WRITE_OFF, 5, Delta(quarantined=-5), Guard.NON_NEGATIVE),
    ],
)
def test_each_movement_has_its_delta_and_guard(kind: MovementKind, quantity: int, delta: Delta, guard: Guard) -> None:
    # when
    effect = movement_effect(kind, quantity)
    # then
    assert effect == (delta, guard)


def test_a_count_has_no_fixed_effect() -> None:
    # when / then
    with pytest.raises(ValueError, match="count_delta"):
        movement_effect(K.COUNT, 3)


def test_count_delta_is_the_difference_from_on_hand() -> None:
    # given
    b = Balance(on_hand=10, reserved=4, quarantined=2)
    # when / then
    assert count_delta(b, 7) == Delta(on_hand=-3)
    assert count_delta(b, 12) == Delta(on_hand=2)
    assert count_delta(b, 10) == Delta()


def test_manual_kinds_are_the_ones_people_post() -> None:
    assert {"receipt", "adjustment", "count", "transfer", "quarantine", "unquarantine", "write_off"} == MANUAL_KINDS
    assert "reservation" not in MANUAL_KINDS and "shipment" not in MANUAL_KINDS


def test_negating_a_delta_negates_every_part() -> None:
    assert -Delta(1, -2, 3) == Delta(-1, 2, -3)


# --- balances and guards ----------------------------------------------------------------------


def test_available_is_on_hand_less_reserved_and_safety_stock() -> None:
    assert Balance(on_hand=10, reserved=3, safety_stock=2).available == 5


def test_available_is_never_negative() -> None:
    assert Balance(on_hand=2, reserved=1, safety_stock=5).available == 0
    assert Balance(on_hand=1, reserved=4).available == 0


def test_plus_keeps_safety_stock() -> None:
    # given
    b = Balance(on_hand=10, reserved=1, quarantined=2, safety_stock=3)
    # when
    after = b.plus(Delta(on_hand=-1, reserved=2, quarantined=-2))
    # then
    assert after == Balance(on_hand=9, reserved=3, quarantined=0, safety_stock=3)


@pytest.mark.parametrize("guard", list(Guard))
def test_every_guard_refuses_a_negative_part(guard: Guard) -> None:
    assert not guard_holds(guard, Balance(on_hand=-1, reserved=0))
    assert not guard_holds(guard, Balance(on_hand=5, reserved=-1))
    assert not guard_holds(guard, Balance(on_hand=5, quarantined=-1))


def test_covers_reserved_needs_on_hand_at_least_reserved() -> None:
    assert guard_holds(Guard.COVERS_RESERVED, Balance(on_hand=3, reserved=3))
    assert not guard_holds(Guard.COVERS_RESERVED, Balance(on_hand=2, reserved=3))
    assert guard_holds(Guard.NON_NEGATIVE, Balance(on_hand=2, reserved=3))


def test_available_guard_counts_safety_stock() -> None:
    assert guard_holds(Guard.AVAILABLE, Balance(on_hand=5, reserved=3, safety_stock=2))
    assert not guard_holds(Guard.AVAILABLE, Balance(on_hand=5, reserved=4, safety_stock=2))


# --- apply: examples --------------------------------------------------------------------------


def test_receipt_adds_to_on_hand() -> None:
    assert apply(Balance(), K.RECEIPT, 7) == Balance(on_hand=7)


def test_reservation_up_to_available_is_accepted() -> None:
    # given
    b = Balance(on_hand=10, reserved=4, safety_stock=1)
    # when
    after = apply(b, K.RESERVATION, 5)
    # then
    assert after == Balance(on_hand=10, reserved=9, safety_stock=1)
    assert after.available == 0


def test_reservation_beyond_available_is_refused() -> None:
    assert apply(Balance(on_hand=10, reserved=4, safety_stock=1), K.RESERVATION, 6) is None


def test_reservation_cannot_use_safety_stock() -> None:
    assert apply(Balance(on_hand=5, safety_stock=5), K.RESERVATION, 1) is None


def test_release_more_than_reserved_is_refused() -> None:
    assert apply(Balance(on_hand=10, reserved=2), K.RELEASE, 3) is None
    assert apply(Balance(on_hand=10, reserved=2), K.RELEASE, 2) == Balance(on_hand=10)


def test_shipment_takes_units_from_on_hand_and_reserved() -> None:
    assert apply(Balance(on_hand=10, reserved=4), K.SHIPMENT, 3) == Balance(on_hand=7, reserved=1)
    assert apply(Balance(on_hand=10, reserved=2), K.SHIPMENT, 3) is None


def test_negative_adjustment_cannot_take_reserved_units() -> None:
    # given
    b = Balance(on_hand=10, reserved=6)
    # when / then
    assert apply(b, K.ADJUSTMENT, -4) == Balance(on_hand=6, reserved=6)
    assert apply(b, K.ADJUSTMENT, -5) is None


def test_positive_adjustment_is_always_accepted() -> None:
    assert apply(Balance(on_hand=1, reserved=3), K.ADJUSTMENT, 2) == Balance(on_hand=3, reserved=3)


def test_transfer_out_only_moves_unreserved_units() -> None:
    # given
    b = Balance(on_hand=10, reserved=6)
    # when / then
    assert apply(b, K.TRANSFER_OUT, 4) == Balance(on_hand=6, reserved=6)
    assert apply(b, K.TRANSFER_OUT, 5) is None


def test_quarantine_moves_unreserved_units_aside() -> None:
    # given
    b = Balance(on_hand=10, reserved=6)
    # when / then
    assert apply(b, K.QUARANTINE, 4) == Balance(on_hand=6, reserved=6, quarantined=4)
    assert apply(b, K.QUARANTINE, 5) is None


def test_unquarantine_and_write_off_need_quarantined_units() -> None:
    # given
    b = Balance(on_hand=1, quarantined=3)
    # when / then
    assert apply(b, K.UNQUARANTINE, 2) == Balance(on_hand=3, quarantined=1)
    assert apply(b, K.UNQUARANTINE, 4) is None
    assert apply(b, K.WRITE_OFF, 3) == Balance(on_hand=1, quarantined=0)
    assert apply(b, K.WRITE_OFF, 4) is None


def test_count_sets_on_hand_even_below_reserved() -> None:
    # given: a physical count is the truth, even when it shows fewer units than were promised
    b = Balance(on_hand=10, reserved=6, quarantined=1)
    # when
    after = apply(b, K.COUNT, 4)
    # then
    assert after == Balance(on_hand=4, reserved=6, quarantined=1)
    assert after.available == 0


def test_a_negative_count_is_refused() -> None:
    assert apply(Balance(on_hand=3), K.COUNT, -1) is None


# --- is_low -----------------------------------------------------------------------------------


def test_no_threshold_is_never_low() -> None:
    assert not is_low(0, None)


def test_low_at_or_below_the_threshold() -> None:
    assert is_low(5, 5)
    assert is_low(4, 5)
    assert not is_low(6, 5)
    assert is_low(0, 0)
    assert not is_low(1, 0)


# --- properties -------------------------------------------------------------------------------

SIGNED = {K.ADJUSTMENT}
kinds = st.sampled_from(list(MovementKind))


@st.composite
def movements(draw: st.DrawFn) -> tuple[MovementKind, int]:
    kind = draw(kinds)
    if kind is K.ADJUSTMENT:
        return kind, draw(st.integers(-50, 50).filter(bool))
    if kind is K.COUNT:
        return kind, draw(st.integers(0, 60))
    return kind, draw(st.integers(1, 50))


balances = st.builds(
    Balance,
    on_hand=st.integers(0, 100),
    reserved=st.integers(0, 100),
    quarantined=st.integers(0, 100),
    safety_stock=st.integers(0, 20),
)


@given(start=balances, steps=st.lists(movements(), max_size=60))
def test_any_sequence_of_movements_keeps_balances_non_negative(
    start: Balance, steps: list[tuple[MovementKind, int]]
) -> None:
    b = start
    for kind, q in steps:
        after = apply(b, kind, q)
        if after is not None:
            b = after
        assert b.on_hand >= 0 and b.reserved >= 0 and b.quarantined >= 0
        assert b.available >= 0
        assert b.safety_stock == start.safety_stock


@given(start=balances, step=movements())
def test_an_accepted_movement_changes_the_balance_by_exactly_its_delta(
    start: Balance, step: tuple[MovementKind, int]
) -> None:
    kind, q = step
    after = apply(start, kind, q)
    if after is None:
        return
    delta = count_delta(start, q) if kind is K.COUNT else movement_effect(kind, q)[0]
    assert after == start.plus(delta)
    assert after.plus(-delta) == start


@given(start=balances, step=movements())
def test_a_movement_is_refused_exactly_when_its_guard_would_break(
    start: Balance, step: tuple[MovementKind, int]
) -> None:
    kind, q = step
    if kind is K.COUNT:
        assert apply(start, kind, q) == start.plus(count_delta(start, q))
        return
    delta, guard = movement_effect(kind, q)
    result = apply(start, kind, q)
    assert (result is None) == (not guard_holds(guard, start.plus(delta)))


@given(start=balances, q=st.integers(1, 100))
def test_a_reservation_is_accepted_iff_available_covers_it(start: Balance, q: int) -> None:
    after = apply(start, K.RESERVATION, q)
    if start.on_hand - start.reserved - start.safety_stock >= q:
        assert after is not None
        assert after.available == start.available - q
    else:
        assert after is None


@given(start=balances, q=st.integers(1, 100))
def test_reserving_then_releasing_restores_the_balance(start: Balance, q: int) -> None:
    reserved = apply(start, K.RESERVATION, q)
    if reserved is not None:
        assert apply(reserved, K.RELEASE, q) == start


@given(start=balances, q=st.integers(1, 100))
def test_quarantine_then_unquarantine_restores_the_balance(start: Balance, q: int) -> None:
    aside = apply(start, K.QUARANTINE, q)
    if aside is not None:
        assert apply(aside, K.UNQUARANTINE, q) == start


@given(src=balances, dst=balances, q=st.integers(1, 100))
def test_a_transfer_conserves_units(src: Balance, dst: Balance, q: int) -> None:
    out = apply(src, K.TRANSFER_OUT, q)
    if out is None:
        assert src.on_hand - q < src.reserved
        return
    into = apply(dst, K.TRANSFER_IN, q)
    assert into is not None
    assert out.on_hand + into.on_hand == src.on_hand + dst.on_hand
    assert out.on_hand >= out.reserved


@given(start=balances, counted=st.integers(0, 200))
def test_a_count_sets_on_hand_to_the_counted_quantity(start: Balance, counted: int) -> None:
    after = apply(start, K.COUNT, counted)
    assert after is not None
    assert after.on_hand == counted
    assert (after.reserved, after.quarantined) == (start.reserved, start.quarantined)
