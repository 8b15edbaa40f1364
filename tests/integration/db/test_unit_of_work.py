"""The unit of work: a block whose commits are held until it ends (one transaction)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ordermesh.adapters.db import tables as t
from ordermesh.domain.events import Event
from tests.conftest import TenantCtx

OUTBOX = t.OutboxEvent.__table__


def _count(tenant: TenantCtx, topic: str) -> int:
    with tenant.uow(write=False) as uow:
        return int(uow.conn.execute(select(func.count()).where(OUTBOX.c.topic == topic)).scalar_one())


def test_commits_inside_one_transaction_are_undone_when_the_block_fails(tenant: TenantCtx) -> None:
    topic = f"test.held.{tenant.code}"
    with tenant.uow() as uow:
        with pytest.raises(RuntimeError), uow.one_transaction():
            uow.emit(Event(topic, {"n": 1}))
            uow.commit()  # a service committing its own work: written, not yet committed
            uow.emit(Event(topic, {"n": 2}))
            raise RuntimeError("the next step failed")
        uow.rollback()
    assert _count(tenant, topic) == 0


def test_a_block_that_ends_well_commits_everything_once(tenant: TenantCtx) -> None:
    topic = f"test.kept.{tenant.code}"
    with tenant.uow() as uow:
        with uow.one_transaction():
            uow.emit(Event(topic, {"n": 1}))
            uow.commit()
            uow.emit(Event(topic, {"n": 2}))
        assert not uow.conn.in_transaction()
    assert _count(tenant, topic) == 2
