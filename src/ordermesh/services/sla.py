"""Dispatch SLA watch: orders nearing or past their dispatch-by deadline raise events and alerts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.domain import events
from ordermesh.domain.access import Permission
from ordermesh.domain.sla import DispatchSla, SlaState, default_at_risk_within, sla_state
from ordermesh.services.common import require
from ordermesh.services.orders import Timeline

HORIZON = timedelta(hours=48)  # wider than any at-risk window


def check_sla(uow: UnitOfWork, *, limit: int = 1000) -> dict[str, int]:
    """Move orders to at_risk or breached as their deadline nears or passes; each change is an
    ``sla.at_risk`` / ``sla.breached`` event, a timeline entry and, for breaches, an alert."""
    now = uow.now
    windows = {c.id: default_at_risk_within(DispatchSla.from_dict(c.spec.sla or {})) for c in uow.channels.all()}
    changed = {"at_risk": 0, "breached": 0}
    for row in uow.orders.due_for_sla(now + HORIZON, limit):
        state = sla_state(row.dispatch_by, now, False, windows.get(row.channel_id, timedelta(hours=16)))
        if state.value == row.sla_state or state not in (SlaState.AT_RISK, SlaState.BREACHED):
            continue
        uow.orders.update(row.id, sla_state=state.value)
        timeline = Timeline(uow, row.id)
        when = row.dispatch_by.isoformat(timespec="minutes")
        timeline.add(f"sla.{state.value}", f"Dispatch SLA {state.value.replace('_', ' ')}: dispatch by {when}", None)
        timeline.flush()
        uow.emit(events.Event(f"sla.{state.value}", {"order_id": row.id, "dispatch_by": when}))
        if state is SlaState.BREACHED:
            uow.alerts.open_one(
                "sla_breached",
                f"order:{row.id}",
                f"Order {row.id} missed its dispatch-by time {when}",
                {"order_id": row.id},
                now,
            )
        changed[state.value] += 1
    if any(changed.values()):
        uow.audit("sla.checked", "sla", "dispatch", after=dict(changed))
    uow.commit()
    return changed


def breach_report(uow: UnitOfWork) -> list[dict[str, Any]]:
    """At-risk and breached open orders, by channel and location."""
    require(uow.actor, Permission.ORDERS_READ)
    return [{"sla": r[0], "channel": r[1], "location": r[2], "orders": int(r[3])} for r in uow.orders.sla_breaches()]
