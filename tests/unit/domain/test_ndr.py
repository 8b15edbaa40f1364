"""The NDR policy: what follows a failed delivery, and what a person may do in each status."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermesh.domain.errors import Conflict, ValidationFailed
from ordermesh.domain.ndr import (
    ACTION_TARGET,
    NdrPolicy,
    NdrStep,
    ShipmentAction,
    allowed_actions,
    check_action,
    next_step,
)
from ordermesh.domain.statuses import SHIPMENT_TRANSITIONS, NdrReason, ShipmentStatus

SAT = date(2026, 5, 2)
MON = date(2026, 5, 4)
TUE = date(2026, 5, 5)
POLICY = NdrPolicy()


def test_reattempt_on_the_next_working_day() -> None:
    d = next_step(POLICY, 1, NdrReason.CUSTOMER_UNAVAILABLE, SAT)
    assert (d.step, d.reattempt_on) == (NdrStep.REATTEMPT, MON)
    assert d.reason == "attempt 1 of 3 failed (customer unavailable): reattempt on 2026-05-04"
    assert next_step(POLICY, 2, NdrReason.COD_NOT_READY, SAT, holidays={MON}).reattempt_on == TUE
    assert d.as_dict() == {"step": "reattempt", "reason": d.reason, "reattempt_on": "2026-05-04"}


def test_buyer_requested_day_when_later_moved_off_a_sunday() -> None:
    later = next_step(POLICY, 1, NdrReason.RESCHEDULE_REQUESTED, SAT, requested_on=date(2026, 5, 10))
    assert later.reattempt_on == date(2026, 5, 11)  # the 10th is a Sunday
    earlier = next_step(POLICY, 1, NdrReason.RESCHEDULE_REQUESTED, SAT, requested_on=SAT)
    assert earlier.reattempt_on == MON


def test_auto_rto_after_max_attempts() -> None:
    assert next_step(POLICY, 3, NdrReason.CUSTOMER_UNAVAILABLE, SAT).step is NdrStep.RTO
    assert next_step(POLICY, 2, NdrReason.CUSTOMER_UNAVAILABLE, SAT).step is NdrStep.REATTEMPT
    one = NdrPolicy(max_attempts=1)
    decision = next_step(one, 1, NdrReason.OTHER, SAT)
    assert decision.step is NdrStep.RTO and decision.reattempt_on is None
    assert "returning to origin" in decision.reason


def test_some_reasons_go_straight_to_review() -> None:
    for reason in (NdrReason.REFUSED, NdrReason.ADDRESS_ISSUE, NdrReason.OUT_OF_DELIVERY_AREA):
        assert next_step(POLICY, 1, reason, SAT).step is NdrStep.REVIEW
    # review comes before the attempt limit: a refusal is looked at, not returned blindly
    assert next_step(POLICY, 3, NdrReason.REFUSED, SAT).step is NdrStep.REVIEW
    lenient = NdrPolicy(review_reasons=frozenset())
    assert next_step(lenient, 1, NdrReason.REFUSED, SAT).step is NdrStep.REATTEMPT
    with pytest.raises(ValueError):
        next_step(POLICY, 0, NdrReason.OTHER, SAT)


def test_policy_from_settings() -> None:
    policy = NdrPolicy.from_dict({"max_attempts": 2, "review_reasons": ["refused", "cod_not_ready"]})
    assert policy == NdrPolicy(2, frozenset({NdrReason.REFUSED, NdrReason.COD_NOT_READY}))
    assert NdrPolicy.from_dict({}) == NdrPolicy()
    with pytest.raises(ValidationFailed) as info:
        NdrPolicy.from_dict({"max_attempts": 0, "review_reasons": ["refused", "angry"], "x": 1})
    assert {e.field for e in info.value.errors} == {"ndr.max_attempts", "ndr.review_reasons.1", "ndr.x"}
    with pytest.raises(ValueError):
        NdrPolicy(max_attempts=0)


def test_allowed_actions_per_status() -> None:
    assert allowed_actions(ShipmentStatus.NDR) == {
        ShipmentAction.REATTEMPT,
        ShipmentAction.UPDATE_ADDRESS,
        ShipmentAction.RTO,
    }
    for status in (ShipmentStatus.CREATED, ShipmentStatus.PACKED, ShipmentStatus.READY_TO_SHIP):
        assert allowed_actions(status) == {ShipmentAction.CANCEL}
    for status in (ShipmentStatus.IN_TRANSIT, ShipmentStatus.DELIVERED, ShipmentStatus.RTO_DELIVERED):
        assert allowed_actions(status) == frozenset()
    check_action(ShipmentStatus.NDR, ShipmentAction.RTO)
    with pytest.raises(Conflict, match="a shipment in delivered cannot be sent 'rto' \\(allowed: nothing\\)"):
        check_action(ShipmentStatus.DELIVERED, ShipmentAction.RTO)


@given(st.sampled_from(list(ShipmentStatus)))
def test_every_allowed_action_is_an_allowed_transition(status: ShipmentStatus) -> None:
    for action in allowed_actions(status):
        assert ACTION_TARGET[action] in SHIPMENT_TRANSITIONS[status]


@given(st.integers(1, 10), st.integers(1, 10), st.sampled_from(list(NdrReason)), st.dates())
def test_never_reattempts_past_the_limit_and_always_on_a_later_working_day(
    limit: int, attempts: int, reason: NdrReason, on: date
) -> None:
    if on >= date(9999, 12, 1):
        return
    d = next_step(NdrPolicy(limit), attempts, reason, on)
    if d.step is NdrStep.REATTEMPT:
        assert attempts < limit and d.reattempt_on is not None
        assert d.reattempt_on > on and d.reattempt_on.weekday() != 6
    else:
        assert d.reattempt_on is None
