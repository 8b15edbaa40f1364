"""The dispatch SLA watch: deadlines set at intake, at-risk and breached states raised once."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import text

from ordermesh.adapters.db.outbox import take_job
from ordermesh.bootstrap import Container
from ordermesh.services import sla
from tests.conftest import TenantCtx
from tests.factories import make_location, make_sku, place_order, receive


def place(t: TenantCtx, ext: str, placed_at: str) -> int:
    return place_order(t, ext, placed_at=placed_at)


def states(t: TenantCtx) -> dict[int, str]:
    with t.uow(write=False) as uow:
        rows = uow.conn.execute(text("SELECT id, sla_state FROM orders WHERE tenant_id = :t"), {"t": t.id}).all()
    return {r[0]: r[1] for r in rows}


def test_late_orders_are_breached_once_and_reported(tenant: TenantCtx) -> None:
    # given: one order placed long ago, one just now
    make_sku(tenant, "TEE")
    make_location(tenant, "BHW")
    receive(tenant, "TEE", "BHW", 10)
    old = place(tenant, "OLD", "2026-01-05T10:00:00+05:30")
    new = place(tenant, "NEW", "2099-01-05T10:00:00+05:30")
    # when
    with tenant.uow() as uow:
        first = sla.check_sla(uow)
    with tenant.uow() as uow:
        second = sla.check_sla(uow)
    # then
    assert first == {"at_risk": 0, "breached": 1} and second == {"at_risk": 0, "breached": 0}
    assert states(tenant) == {old: "breached", new: "ok"}
    with tenant.uow(write=False) as uow:
        report = sla.breach_report(uow)
        kinds = [e.kind for e in uow.orders.events(old)]
        topics = [
            r[0] for r in uow.conn.execute(text("SELECT topic FROM outbox WHERE tenant_id = :t"), {"t": tenant.id})
        ]
        alerts = [a.subject for a in uow.alerts.open_alerts()]
    assert report == [{"sla": "breached", "channel": "manual", "location": "BHW", "orders": 1}]
    assert "sla.breached" in kinds and topics.count("sla.breached") == 1 and f"order:{old}" in alerts


def test_a_periodic_job_is_taken_by_one_worker_per_interval(container: Container) -> None:
    name = f"test-job-{uuid.uuid4().hex[:8]}"
    with container.uow(tenant_id=None) as uow:
        now = uow.now
        assert take_job(uow.conn, name, now, timedelta(minutes=1)) is True
        assert take_job(uow.conn, name, now, timedelta(minutes=1)) is False
        assert take_job(uow.conn, name, now + timedelta(minutes=2), timedelta(minutes=1)) is True
        uow.commit()
