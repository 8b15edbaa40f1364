"""Customers (one per real person across channels) and the tenant's risk rules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import Field

from ordermesh.api.deps import UowDep
from ordermesh.api.schemas.common import PROBLEM_RESPONSES, Input
from ordermesh.services import customers, platform

router = APIRouter(prefix="/api/v1", tags=["customers"], responses=PROBLEM_RESPONSES)
CustomerId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/customers/{customer_id}")
def get_customer(customer_id: CustomerId, uow: UowDep) -> dict[str, Any]:
    """Profile, delivered / RTO / returned counts, lifetime value and recent orders."""
    return customers.get_customer(uow, customer_id)


class EraseIn(Input):
    reason: str = Field(min_length=1, max_length=300, description="on whose request, and why")


@router.post("/customers/{customer_id}/erase", status_code=204)
def erase_customer(customer_id: CustomerId, body: EraseIn, uow: UowDep) -> None:
    """Anonymise the person's data everywhere (DPDP Act); orders and tax records are kept."""
    customers.erase_customer(uow, customer_id, reason=body.reason)


@router.get("/settings/risk", tags=["settings"])
def get_risk_rules(uow: UowDep) -> dict[str, Any]:
    """The fraud and RTO risk rules orders are scored with."""
    return platform.get_risk_rules(uow)


@router.put("/settings/risk", tags=["settings"])
def set_risk_rules(body: dict[str, Any], uow: UowDep) -> dict[str, Any]:
    """Replace the risk rules; omitted keys take their defaults. Each change is in the audit trail."""
    return platform.set_risk_rules(uow, body)
