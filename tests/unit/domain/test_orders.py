"""Order lines always account for every unit; the derived status follows the lines and holds."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordermesh.domain.errors import Conflict
from ordermesh.domain.orders import LineQuantities, derive_status, line_tax, totals
from ordermesh.domain.statuses import ORDER_TRANSITIONS, OrderStatus, can_transition, check_transition

actions = st.lists(st.tuples(st.sampled_from(["allocate", "deallocate", "cancel"]), st.integers(1, 12)), max_size=30)


@settings(max_examples=300)
@given(quantity=st.integers(1, 20), steps=actions)
def test_any_sequence_of_line_actions_keeps_every_unit_accounted_for(
    quantity: int, steps: list[tuple[str, int]]
) -> None:
    q = LineQuantities(quantity)
    for action, n in steps:
        before = q
        try:
            if action == "allocate":
                q = q.allocate(n)
            elif action == "deallocate":
                q = q.deallocate(n)
            else:
                q, released = q.cancel(n)
                assert 0 <= released <= before.allocated
                assert before.allocated - q.allocated == released
        except Conflict:
            assert q == before  # a refused action changes nothing
        assert q.consistent()
        assert q.open + q.allocated + q.shipped + q.cancelled == q.quantity


def test_cancelling_takes_open_units_before_allocated_ones() -> None:
    q = LineQuantities(5).allocate(3)  # 2 open, 3 allocated
    after, released = q.cancel(3)
    assert (after.open, after.allocated, after.cancelled, released) == (0, 2, 3, 1)


def test_shipped_units_cannot_be_cancelled() -> None:
    q = LineQuantities(4, allocated=1, shipped=3)
    with pytest.raises(Conflict):
        q.cancel(2)


@pytest.mark.parametrize(
    ("lines", "holds", "confirmed", "status"),
    [
        ([LineQuantities(2)], [], False, OrderStatus.PENDING),
        ([LineQuantities(2)], [], True, OrderStatus.CONFIRMED),
        ([LineQuantities(2)], ["risk_review"], False, OrderStatus.ON_HOLD),
        ([LineQuantities(2, allocated=2)], [], True, OrderStatus.ALLOCATED),
        ([LineQuantities(2, allocated=1, cancelled=1)], [], True, OrderStatus.ALLOCATED),
        ([LineQuantities(2, cancelled=2)], [], True, OrderStatus.CANCELLED),
        ([LineQuantities(2, shipped=1, allocated=1)], [], True, OrderStatus.PARTIALLY_SHIPPED),
        ([LineQuantities(2, shipped=2)], [], True, OrderStatus.SHIPPED),
        ([LineQuantities(2, shipped=2, delivered=2)], [], True, OrderStatus.DELIVERED),
        ([LineQuantities(2, shipped=2, delivered=2, returned=1)], [], True, OrderStatus.PARTIALLY_RETURNED),
        ([LineQuantities(2, shipped=2, delivered=2, returned=2)], [], True, OrderStatus.RETURNED),
    ],
)
def test_status_is_derived_from_lines_and_holds(
    lines: list[LineQuantities], holds: list[str], confirmed: bool, status: OrderStatus
) -> None:
    assert derive_status(lines, holds=holds, confirmed=confirmed) is status


def test_every_status_has_a_transition_row_and_closed_is_final() -> None:
    assert set(ORDER_TRANSITIONS) == set(OrderStatus)
    assert ORDER_TRANSITIONS[OrderStatus.CLOSED] == frozenset()
    assert not can_transition(OrderStatus.DELIVERED, OrderStatus.CANCELLED)
    with pytest.raises(Conflict):
        check_transition(OrderStatus.SHIPPED, OrderStatus.ALLOCATED)


@given(st.lists(st.sampled_from(list(OrderStatus)), min_size=1, max_size=20))
def test_only_listed_transitions_are_legal(path: list[OrderStatus]) -> None:
    for a, b in itertools.pairwise(path):
        assert can_transition(a, b) == (a == b or b in ORDER_TRANSITIONS[a])


def test_gst_is_contained_in_tax_inclusive_prices() -> None:
    assert line_tax(Decimal("118.00"), 1, Decimal("0"), Decimal("18")) == Decimal("18.00")
    assert line_tax(Decimal("105.00"), 2, Decimal("10.00"), Decimal("5")) == Decimal("9.52")
    assert line_tax(Decimal("100"), 1, Decimal("0"), Decimal("0")) == Decimal("0.00")


@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 50), st.integers(0, 10**5)), min_size=1, max_size=10))
def test_totals_add_up_exactly(lines: list[tuple[int, int, int]]) -> None:
    rows = [(Decimal(p) / 100, q, min(Decimal(d) / 100, Decimal(p) / 100 * q), Decimal(0)) for p, q, d in lines]
    t = totals(rows, Decimal("49.00"))
    assert t.grand_total == t.items - t.discounts + t.shipping
