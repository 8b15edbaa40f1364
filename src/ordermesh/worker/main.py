"""The worker: claims outbox events and runs their handlers, retrying failures with exponential
back-off until they succeed or run out of attempts (then they are 'dead', visible and retryable)."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ordermesh.adapters.db.outbox import ClaimedEvent, job_due, take_job
from ordermesh.adapters.db.uow import OUTBOX_WAKE
from ordermesh.bootstrap import Container
from ordermesh.worker.handlers import CALLING_HANDLERS, EVENT_HANDLERS, CallingHandler, Handler
from ordermesh.worker.jobs import Job, jobs_for, tenants

_LONG_AGO = datetime.min.replace(tzinfo=UTC)

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
        only: Sequence[str] | None = None,
    ):
        self.container = container
        self.handlers = EVENT_HANDLERS if handlers is None else handlers
        # A worker given its own handlers runs only those (tests of the outbox machinery).
        self.calling = calling if calling is not None else ({} if handlers is not None else CALLING_HANDLERS)
        # A worker given its own handlers (tests of the outbox machinery) runs no periodic jobs.
        self.jobs = jobs_for(container.settings) if handlers is None else ()
        # ``only``: a worker that runs just these periodic jobs and takes no events (one dedicated
        # to queued webhooks, say, beside workers that do the rest).
        self.take_events = only is None
        if only is not None:
            unknown = sorted(set(only) - {job.name for job in self.jobs})
            if unknown:
                raise ValueError(
                    f"no job named {', '.join(unknown)}; the jobs are {', '.join(j.name for j in self.jobs)}"
                )
            self.jobs = tuple(job for job in self.jobs if job.name in only)
        self._calling_busy = threading.Event()
        # When each job can next be due, as the job table said when this worker last asked: the
        # worker loops whenever events are committed, and asks the database only once it can be.
        self._not_before: dict[str, datetime] = {}
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        s = container.settings
        self.batch = s.worker_batch_size
        self.lease = timedelta(seconds=s.worker_lease_seconds)
        self.max_attempts = s.worker_max_attempts
        self.poll = s.worker_poll_seconds

    def run_jobs(self, *, background: bool = False) -> list[str]:
        """Run the periodic jobs that are due (and that no other worker has just taken).

        ``background``: jobs that call channels run on the worker's second thread, so a slow or
        unreachable channel never holds up the events; one such job at a time."""
        ran = []
        for job in self.jobs:
            calls_out = job.run_calling is not None and not job.local
            if background and calls_out and self._calling_busy.is_set():
                continue  # the previous calling job is still at it; this one is taken next time
            if self.container.clock.now() < self._not_before.get(job.name, _LONG_AGO):
                continue  # taken (here or by another worker) less than its interval ago: not due yet
            with self.container.uow(tenant_id=None) as uow:
                taken = take_job(uow.conn, job.name, uow.now, job.every)
                ids = tenants(uow) if taken else []
                self._not_before[job.name] = uow.now + job.every if taken else job_due(uow.conn, job.name, job.every)
                uow.commit()
            if not taken:
                continue
            ran.append(job.name)
            if background and calls_out:
                self._calling_busy.set()
                threading.Thread(target=self._run_job, args=(job, ids), name=f"job-{job.name}", daemon=True).start()
            else:
                self._run_job(job, ids, release=False)
        return ran

    def _run_job(self, job: Job, tenant_ids: list[int], *, release: bool = True) -> None:
        try:
            for tenant_id in tenant_ids:
                try:
                    if job.run_calling is not None:
                        job.run_calling(self.container, tenant_id)
                        continue
                    with self.container.uow(tenant_id=tenant_id) as uow:
                        job.run(uow)
                except Exception:  # one tenant's failure must not stop the others
                    log.exception("job %s failed for tenant %s", job.name, tenant_id)
        finally:
            if release:
                self._calling_busy.clear()

    def run_once(self) -> int:
        """Claim one batch and process it. Returns how many events were claimed. Events that no
        handler listens to (most of them: a tracking scan's shipment event, say) are marked done
        in the claiming transaction itself, not one transaction each."""
        with self.container.uow(tenant_id=None) as uow:
            claimed = uow.outbox.claim(self.name, uow.now, self.lease, self.batch)
            unheard = [e.id for e in claimed if not self.handlers.get(e.topic) and not self.calling.get(e.topic)]
            uow.outbox.done_many(unheard, self.name, uow.now)
            uow.commit()
        for event in claimed:
            if event.id not in unheard:
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
        waker = Waker(self.container.engine)
        # An idle worker wakes when events are committed (NOTIFY on PostgreSQL, an in-process signal
        # otherwise), and at least as often as its most frequent job is due.
        idle = min([self.poll, *(job.every.total_seconds() for job in self.jobs)])
        try:
            while not stop.is_set():
                try:
                    self.run_jobs(background=True)
                    busy = self.take_events and self.run_once() > 0
                except Exception:  # e.g. the database restarting; keep going after a pause
                    log.exception("worker loop error; retrying")
                    busy = False
                if not busy:
                    waker.wait(idle)
        finally:
            waker.close()
        log.info("worker %s stopped", self.name)


class Waker:
    """Waits for new outbox events: LISTEN ordermesh_outbox on PostgreSQL (the commit that writes
    events notifies), the in-process OUTBOX_WAKE signal on SQLite. A lost listening connection
    falls back to polling and is opened again on the next wait."""

    def __init__(self, engine: Any):
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        self.raw: Any = None

    def _listen(self) -> Any:
        if self.raw is None:
            raw = self.engine.raw_connection()
            conn = raw.driver_connection
            conn.autocommit = True
            conn.execute("LISTEN ordermesh_outbox")
            self.raw = raw
        return self.raw.driver_connection

    def wait(self, seconds: float) -> None:
        if not self.pg:
            OUTBOX_WAKE.wait(seconds)
            OUTBOX_WAKE.clear()
            return
        try:
            for _ in self._listen().notifies(timeout=seconds, stop_after=1):
                pass
        except Exception as e:  # the connection went away: poll this time, listen again next time
            log.warning("listening for outbox events failed (%s); polling", e)
            self.close()
            time.sleep(seconds)

    def close(self) -> None:
        if self.raw is not None:
            try:
                self.raw.driver_connection.execute("UNLISTEN *")
                self.raw.driver_connection.autocommit = False
                self.raw.close()
            except Exception:
                self.raw.invalidate()
            self.raw = None


def start_in_thread(container: Container) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=Worker(container).run, args=(stop,), name="ordermesh-worker", daemon=True)
    thread.start()
    return thread, stop
