"""Failed deliveries (NDR): what happens after an attempt fails, and what a person may do.

After each failed attempt, :func:`next_step` decides, first rule that applies:

1. the reason is one a person must look at (by default: refused, address issue, out of the
   delivery area): **review**. A refusal on a COD order is the classic fake order; an address
   problem needs a corrected address, not another trip to the same wrong door;
2. the attempts so far reached ``max_attempts`` (3 by default, as carriers allow): **rto**;
3. otherwise **reattempt** on the next working day after the attempt (Sundays and the given
   holidays skipped), or on the day the buyer asked for when that is later.

The actions a person can take on a shipment (:func:`allowed_actions`) follow from its status and
from the allowed transitions in :mod:`ordermesh.domain.statuses`: reattempt, update the address
or send it back (RTO) while it is in NDR; cancel before the carrier has it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from ordermesh.domain.delivery_estimates import is_working_day, next_working_day
from ordermesh.domain.errors import Collector, Conflict
from ordermesh.domain.statuses import SHIPMENT_TRANSITIONS, NdrReason, ShipmentStatus

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_REVIEW_REASONS = frozenset({NdrReason.REFUSED, NdrReason.ADDRESS_ISSUE, NdrReason.OUT_OF_DELIVERY_AREA})


class NdrStep(StrEnum):
    REATTEMPT = "reattempt"
    RTO = "rto"
    REVIEW = "review"


class ShipmentAction(StrEnum):
    CANCEL = "cancel"
    REATTEMPT = "reattempt"
    UPDATE_ADDRESS = "update_address"
    RTO = "rto"


# What each action moves the shipment to; an action is allowed only where that move is.
ACTION_TARGET: Mapping[ShipmentAction, ShipmentStatus] = {
    ShipmentAction.CANCEL: ShipmentStatus.CANCELLED,
    ShipmentAction.REATTEMPT: ShipmentStatus.OUT_FOR_DELIVERY,
    ShipmentAction.UPDATE_ADDRESS: ShipmentStatus.OUT_FOR_DELIVERY,
    ShipmentAction.RTO: ShipmentStatus.RTO_INITIATED,
}
_NDR_ONLY = frozenset({ShipmentAction.REATTEMPT, ShipmentAction.UPDATE_ADDRESS})


@dataclass(frozen=True)
class NdrPolicy:
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    review_reasons: frozenset[NdrReason] = DEFAULT_REVIEW_REASONS

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 10:
            raise ValueError("max_attempts is 1 to 10")

    @classmethod
    def from_dict(cls, raw: object, errors: Collector | None = None, where: str = "ndr") -> NdrPolicy:
        own = errors is None
        errs = Collector() if errors is None else errors
        policy = cls()
        if not isinstance(raw, Mapping):
            errs.add(where, "must be an object with max_attempts and review_reasons")
        else:
            for key in sorted(set(raw) - {"max_attempts", "review_reasons"}):
                errs.add(f"{where}.{key}", "unknown setting; use max_attempts, review_reasons")
            attempts = raw.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
            if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 10:
                errs.add(f"{where}.max_attempts", "must be a whole number from 1 to 10")
                attempts = DEFAULT_MAX_ATTEMPTS
            reasons = raw.get("review_reasons", sorted(DEFAULT_REVIEW_REASONS))
            chosen: set[NdrReason] = set()
            if not isinstance(reasons, list):
                errs.add(f"{where}.review_reasons", "must be a list of NDR reasons")
            else:
                for i, value in enumerate(reasons):
                    try:
                        chosen.add(NdrReason(value))
                    except ValueError:
                        errs.add(
                            f"{where}.review_reasons.{i}",
                            f"unknown reason; use {', '.join(r.value for r in NdrReason)}",
                        )
            policy = cls(attempts, frozenset(chosen) if isinstance(reasons, list) else DEFAULT_REVIEW_REASONS)
        if own:
            errs.raise_if_any("The NDR policy has invalid fields")
        return policy


@dataclass(frozen=True)
class NdrDecision:
    step: NdrStep
    reason: str  # one sentence for the NDR queue
    reattempt_on: date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step.value,
            "reason": self.reason,
            "reattempt_on": self.reattempt_on.isoformat() if self.reattempt_on else None,
        }


def next_step(
    policy: NdrPolicy,
    attempts: int,
    reason: NdrReason,
    attempted_on: date,
    *,
    holidays: Collection[date] = (),
    requested_on: date | None = None,
) -> NdrDecision:
    """What follows the ``attempts``-th failed attempt (counting this one)."""
    if attempts < 1:
        raise ValueError("attempts counts this failed attempt, so it is at least 1")
    said = reason.value.replace("_", " ")
    if reason in policy.review_reasons:
        return NdrDecision(NdrStep.REVIEW, f"attempt {attempts} failed ({said}): a person decides what next")
    if attempts >= policy.max_attempts:
        return NdrDecision(
            NdrStep.RTO, f"attempt {attempts} of {policy.max_attempts} failed ({said}): returning to origin"
        )
    on = next_working_day(attempted_on, holidays)
    if requested_on is not None and requested_on > on:
        on = requested_on if is_working_day(requested_on, holidays) else next_working_day(requested_on, holidays)
    return NdrDecision(
        NdrStep.REATTEMPT,
        f"attempt {attempts} of {policy.max_attempts} failed ({said}): reattempt on {on.isoformat()}",
        on,
    )


def allowed_actions(status: ShipmentStatus) -> frozenset[ShipmentAction]:
    """What a person may do to a shipment in this status."""
    allowed = set()
    for action, target in ACTION_TARGET.items():
        if action in _NDR_ONLY and status is not ShipmentStatus.NDR:
            continue
        if action is ShipmentAction.RTO and status is not ShipmentStatus.NDR:
            continue  # sent back by a person only after a failed delivery; carriers start other RTOs
        if target in SHIPMENT_TRANSITIONS[status]:
            allowed.add(action)
    return frozenset(allowed)


def check_action(status: ShipmentStatus, action: ShipmentAction) -> None:
    if action not in allowed_actions(status):
        can = ", ".join(sorted(a.value for a in allowed_actions(status))) or "nothing"
        raise Conflict(f"a shipment in {status.value} cannot be sent '{action.value}' (allowed: {can})", field="action")
