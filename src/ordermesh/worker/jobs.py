"""Periodic jobs. Each runs at most once per interval across all workers: a worker takes a job by
moving its last-run time forward in one guarded UPDATE, which only one worker can win."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.config import Settings
from ordermesh.services.platform import list_tenants
from ordermesh.services.sla import check_sla

if TYPE_CHECKING:
    from ordermesh.bootstrap import Container

log = logging.getLogger("ordermesh.worker")


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    run: Callable[[UnitOfWork], object] = lambda uow: None  # per tenant, in that tenant's unit of work
    # per tenant, for jobs that call channels: they open their own units of work around the calls
    run_calling: Callable[[Container, int], object] | None = None
    # a run_calling job that calls no one (it only needs units of work of its own): it runs on the
    # worker's main thread, never queued behind a slow channel or carrier
    local: bool = False


def _each_connected_channel(action: str) -> Callable[[Container, int], object]:
    def run(container: Container, tenant_id: int) -> None:
        from ordermesh.services import channel_sync as cs
        from ordermesh.worker.handlers import sync_of

        sync = sync_of(container, tenant_id, single_try=False)  # its own thread: it may wait out throttling
        with container.uow(tenant_id=tenant_id, write=False) as uow:
            due = set(cs.repo(uow).dirty_channels()) if action == "push" else None  # the common case: none
            channels = [
                c.spec.code
                for c in uow.all_channels()
                if c.spec.active
                and c.spec.base_url
                and (due is None or c.id in due)
                and container.connections.can_connect(c)
            ]
        for code in channels:
            if action == "pull":
                cs.pull_orders(sync, code)
            elif action == "push":
                cs.push_inventory(sync, code)
            else:
                cs.reconcile(sync, code)
        if action == "pull":
            cs.sweep_inbox(sync)

    return run


def _poll_tracking(container: Container, tenant_id: int) -> None:
    """Ask every active carrier account with a tracking API (not the rate-card fleet, whose scans
    people enter) for its moving shipments' scans. One carrier's failure does not stop the others."""
    from ordermesh.adapters.remote import RemoteError
    from ordermesh.services import shipping
    from ordermesh.worker.handlers import sync_of

    sync = sync_of(container, tenant_id, single_try=False)  # its own thread: it may wait out throttling
    with container.uow(tenant_id=tenant_id, write=False) as uow:
        codes = [c.code for c in shipping.repo(uow).carriers() if c.active and c.kind != "rate_card"]
    for code in codes:
        try:
            shipping.poll_tracking(sync, code)
        except RemoteError as e:  # the carrier is down or refuses: one line, tried again next round
            log.error("tracking poll of carrier %s failed for tenant %s: %s", code, tenant_id, e)
        except Exception:
            log.exception("tracking poll of carrier %s failed for tenant %s", code, tenant_id)


def _drain_webhooks(container: Container, tenant_id: int) -> None:
    """Process the tenant's queued channel webhooks, in batches."""
    from ordermesh.services import channel_sync
    from ordermesh.worker.handlers import sync_of

    channel_sync.drain_webhooks(sync_of(container, tenant_id))


def _drain_pushes(container: Container, tenant_id: int) -> None:
    """Apply the tenant's queued carrier tracking pushes, in batches."""
    from ordermesh.services import shipping
    from ordermesh.worker.handlers import sync_of

    shipping.drain_pushes(sync_of(container, tenant_id, single_try=False))


def _missed_pickups(uow: UnitOfWork) -> object:
    from ordermesh.services.shipping import check_missed_pickups

    return check_missed_pickups(uow)


def jobs_for(settings: Settings) -> tuple[Job, ...]:
    return (
        Job("sla_check", timedelta(minutes=1), lambda uow: check_sla(uow)),
        Job(
            "channel_pull",
            timedelta(minutes=settings.channel_poll_minutes),
            run_calling=_each_connected_channel("pull"),
        ),
        Job(
            "inventory_push",
            timedelta(seconds=settings.inventory_push_seconds),
            run_calling=_each_connected_channel("push"),
        ),
        Job("inventory_reconcile", timedelta(days=1), run_calling=_each_connected_channel("reconcile")),
        Job(
            "channel_inbox",
            timedelta(seconds=settings.channel_inbox_seconds),
            run_calling=_drain_webhooks,
            local=True,
        ),
        Job("tracking_poll", timedelta(minutes=settings.tracking_poll_minutes), run_calling=_poll_tracking),
        Job(
            "tracking_inbox",
            timedelta(seconds=settings.tracking_inbox_seconds),
            run_calling=_drain_pushes,
            local=True,
        ),
        Job("missed_pickups", timedelta(minutes=15), _missed_pickups),
    )


def tenants(uow: UnitOfWork) -> list[int]:
    return [t.id for t in list_tenants(uow)]
