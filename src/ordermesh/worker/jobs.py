"""Periodic jobs. Each runs at most once per interval across all workers: a worker takes a job by
moving its last-run time forward in one guarded UPDATE, which only one worker can win."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.services.platform import list_tenants
from ordermesh.services.sla import check_sla


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    run: Callable[[UnitOfWork], object]  # per tenant, in that tenant's unit of work


JOBS = (Job("sla_check", timedelta(minutes=1), lambda uow: check_sla(uow)),)


def tenants(uow: UnitOfWork) -> list[int]:
    return [t.id for t in list_tenants(uow)]
