"""The worker: claims outbox events and runs their handlers, retrying failures with exponential
back-off until they succeed or run out of attempts (then they are 'dead', visible and retryable)."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from datetime import timedelta

from ordermesh.adapters.db.outbox import ClaimedEvent, take_job
from ordermesh.bootstrap import Container
from ordermesh.worker.handlers import CALLING_HANDLERS, EVENT_HANDLERS, CallingHandler, Handler
from ordermesh.worker.jobs import jobs_for, tenants

log = logging.getLogger("ordermesh.worker")


def backoff(attempts: int, *, base: float = 2.0, cap: float = 3600.0) -> timedelta:
    """Exponential back-off with jitter: ~2 s, 4 s, 8 s … capped at an hour."""
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=delay * random.uniform(0.8, 1.2))


class Worker:
    def __init__(
        self,
        container: Container,
        handlers: dict[str, list[Handler]] | None = None,
        name: str | None = None,
        calling: dict[str, list[CallingHandler]] | None = None,
    ):
        self.container = container
        self.handlers = EVENT_HANDLERS if handlers is None else handlers
        self.calling = CALLING_HANDLERS if calling is None else calling
        self.jobs = jobs_for(container.settings)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        s = container.settings
        self.batch = s.worker_batch_size
        self.lease = timedelta(seconds=s.worker_lease_seconds)
        self.max_attempts = s.worker_max_attempts
        self.poll = s.worker_poll_seconds

    def run_jobs(self) -> list[str]:
        """Run the periodic jobs that are due (and that no other worker has just taken)."""
        ran = []
        for job in self.jobs:
            with self.container.uow(tenant_id=None) as uow:
                taken = take_job(uow.conn, job.name, uow.now, job.every)
                ids = tenants(uow) if taken else []
                uow.commit()
            for tenant_id in ids:
                try:
                    if job.run_calling is not None:
                        job.run_calling(self.container, tenant_id)
                        continue
                    with self.container.uow(tenant_id=tenant_id) as uow:
                        job.run(uow)
                except Exception:  # one tenant's failure must not stop the others
                    log.exception("job %s failed for tenant %s", job.name, tenant_id)
            if taken:
                ran.append(job.name)
        return ran

    def run_once(self) -> int:
        """Claim one batch and process it. Returns how many events were claimed."""
        with self.container.uow(tenant_id=None) as uow:
            claimed = uow.outbox.claim(self.name, uow.now, self.lease, self.batch)
            uow.commit()
        for event in claimed:
            self._process(event)
        return len(claimed)

    def _process(self, event: ClaimedEvent) -> None:
        handlers = self.handlers.get(event.topic, [])
        try:
            for calling in self.calling.get(event.topic, []):
                if event.tenant_id is not None:
                    calling(self.container, event.tenant_id, event.payload)
            with self.container.uow(tenant_id=event.tenant_id) as uow:
                for handler in handlers:
                    handler(uow, event.payload)
                uow.outbox.done(event.id, self.name, uow.now)
                uow.commit()
        except Exception as exc:  # a failing handler must not stop the worker; it is retried
            log.warning("event %s (%s) failed on attempt %s: %s", event.id, event.topic, event.attempts, exc)
            with self.container.uow(tenant_id=None) as uow:
                give_up = event.attempts >= self.max_attempts
                retry_at = None if give_up else uow.now + backoff(event.attempts)
                uow.outbox.failed(event.id, self.name, f"{type(exc).__name__}: {exc}", retry_at)
                uow.commit()

    def run(self, stop: threading.Event) -> None:
        log.info("worker %s started", self.name)
        while not stop.is_set():
            try:
                self.run_jobs()
                busy = self.run_once() > 0
            except Exception:  # e.g. the database restarting; keep going after a pause
                log.exception("worker loop error; retrying")
                busy = False
            if not busy:
                stop.wait(self.poll)
        log.info("worker %s stopped", self.name)


def start_in_thread(container: Container) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=Worker(container).run, args=(stop,), name="ordermesh-worker", daemon=True)
    thread.start()
    return thread, stop
