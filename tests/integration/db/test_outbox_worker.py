"""The outbox and the worker: delivered once, retried with back-off, dead after too many tries,
and shared safely between several workers."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from ordermesh.adapters.db import tables as t
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.bootstrap import Container
from ordermesh.domain.events import Event
from ordermesh.worker.main import Worker, backoff
from tests.conftest import TenantCtx

OUTBOX = t.OutboxEvent.__table__


def emit(tenant: TenantCtx, topic: str, n: int = 1) -> list[int]:
    with tenant.uow() as uow:
        for i in range(n):
            uow.emit(Event(topic, {"n": i}))
        uow.commit()
    with tenant.uow(write=False) as uow:
        rows = uow.conn.execute(
            select(OUTBOX.c.id).where(OUTBOX.c.tenant_id == tenant.id, OUTBOX.c.topic == topic).order_by(OUTBOX.c.id)
        )
        return [r.id for r in rows]


def status(tenant: TenantCtx, ids: list[int]) -> list[Any]:
    with tenant.uow(write=False) as uow:
        return list(uow.conn.execute(select(OUTBOX).where(OUTBOX.c.id.in_(ids)).order_by(OUTBOX.c.id)))


def drain(worker: Worker) -> None:
    while worker.run_once():
        pass


def test_events_are_delivered_once_in_order(container: Container, tenant: TenantCtx) -> None:
    seen: list[int] = []
    topic = f"test.ordered.{tenant.code}"
    ids = emit(tenant, topic, 5)
    worker = Worker(container, {topic: [lambda uow, p: seen.append(p["n"])]})
    drain(worker)
    drain(worker)
    assert seen == [0, 1, 2, 3, 4]
    assert {r.status for r in status(tenant, ids)} == {"done"}


def test_a_failing_handler_is_retried_with_backoff_then_dead(container: Container, tenant: TenantCtx) -> None:
    topic = f"test.failing.{tenant.code}"
    [event_id] = emit(tenant, topic)

    def boom(uow: UnitOfWork, payload: dict[str, Any]) -> None:
        raise RuntimeError("channel answered 503")

    worker = Worker(container, {topic: [boom]})
    worker.max_attempts = 3
    worker.run_once()
    [row] = status(tenant, [event_id])
    assert row.status == "pending" and row.attempts == 1 and "503" in row.last_error
    assert row.available_at > row.created_at  # waits before the next try
    # make it due again twice; the third failure gives up
    for _ in range(2):
        with tenant.uow() as uow:
            uow.conn.execute(OUTBOX.update().where(OUTBOX.c.id == event_id).values(available_at=row.created_at))
            uow.commit()
        worker.run_once()
    [row] = status(tenant, [event_id])
    assert row.status == "dead" and row.attempts == 3


def test_a_handler_failure_rolls_back_its_writes(container: Container, tenant: TenantCtx) -> None:
    topic = f"test.rollback.{tenant.code}"
    emit(tenant, topic)

    def half_then_fail(uow: UnitOfWork, payload: dict[str, Any]) -> None:
        uow.alerts.open_one("test", "half", "written before the failure", {}, uow.now)
        raise RuntimeError("second step failed")

    Worker(container, {topic: [half_then_fail]}).run_once()
    with tenant.uow(write=False) as uow:
        assert uow.alerts.open_alerts() == []


def test_backoff_grows_and_is_capped() -> None:
    delays = [backoff(n).total_seconds() for n in range(1, 20)]
    assert delays[0] < 3 and delays[3] > delays[1] and max(delays) <= 3600 * 1.2


def test_several_workers_never_process_an_event_twice(container: Container, tenant: TenantCtx) -> None:
    topic = f"test.parallel.{tenant.code}"
    ids = emit(tenant, topic, 200)
    counts: Counter[int] = Counter()
    lock = threading.Lock()

    def handle(uow: UnitOfWork, payload: dict[str, Any]) -> None:
        with lock:
            counts[payload["n"]] += 1

    def run(name: str) -> None:
        w = Worker(container, {topic: [handle]}, name=name)
        w.batch = 7
        drain(w)

    threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(counts) == list(range(200))
    assert set(counts.values()) == {1}
    assert {r.status for r in status(tenant, ids)} == {"done"}


def test_claim_locks_rows_with_skip_locked_on_postgresql(container: Container, tenant: TenantCtx) -> None:
    from sqlalchemy import event

    topic = f"test.lockshape.{tenant.code}"
    emit(tenant, topic)
    statements: list[str] = []

    def capture(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(container.engine, "before_cursor_execute", capture)
    try:
        Worker(container, {topic: []}).run_once()
    finally:
        event.remove(container.engine, "before_cursor_execute", capture)
    claim = next(s for s in statements if "FROM outbox" in s and s.lstrip().upper().startswith("SELECT"))
    if container.engine.dialect.name == "postgresql":
        assert "FOR UPDATE SKIP LOCKED" in claim
    else:
        assert any(s.startswith("BEGIN IMMEDIATE") for s in statements)  # SQLite: one writer at a time


def test_an_idle_worker_wakes_when_events_are_committed(db_url: str, tenant: TenantCtx) -> None:
    """Events do not wait for the next poll: the committing transaction wakes idle workers
    (NOTIFY on PostgreSQL, an in-process signal on SQLite)."""
    from ordermesh.bootstrap import bootstrap
    from ordermesh.config import Settings

    slow = bootstrap(
        Settings(database_url=db_url, worker_poll_seconds=30, inventory_push_seconds=3600, channel_poll_minutes=600)
    )
    seen = threading.Event()
    worker = Worker(slow, handlers={"test.wake": [lambda uow, payload: seen.set()]}, calling={})
    drain(worker)  # older events of other tests
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        import time

        time.sleep(1.0)  # idle now, waiting up to 30 s
        started = time.monotonic()
        emit(tenant, "test.wake")
        assert seen.wait(10), "the worker did not wake for a committed event"
        assert time.monotonic() - started < 5
    finally:
        stop.set()
        with tenant.uow() as uow:  # wake it so it sees stop
            uow.emit(Event("test.other", {}))
            uow.commit()
        thread.join(40)
        slow.close()
    assert not thread.is_alive()


def test_events_no_handler_listens_to_are_marked_done_with_their_claim(container: Container, tenant: TenantCtx) -> None:
    heard, unheard = f"test.heard.{tenant.code}", f"test.unheard.{tenant.code}"
    quiet = emit(tenant, unheard, 3)
    loud = emit(tenant, heard, 2)
    seen: list[int] = []
    worker = Worker(container, {heard: [lambda uow, p: seen.append(p["n"])]}, calling={})
    processed: list[str] = []
    process = worker._process
    worker._process = lambda event: (processed.append(event.topic), process(event))  # type: ignore[method-assign]
    drain(worker)
    assert seen == [0, 1] and processed == [heard, heard]  # only the heard ones went through a handler
    rows = status(tenant, quiet + loud)
    assert [r.status for r in rows] == ["done"] * 5
    assert all(r.done_at is not None and r.locked_by is None and r.attempts == 1 for r in rows)


def test_a_worker_asks_the_job_table_only_once_a_job_can_be_due(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid
    from datetime import UTC, datetime, timedelta

    from ordermesh.adapters.clock import FrozenClock
    from ordermesh.adapters.db.uow import make_uow_factory
    from ordermesh.worker import main as worker_main
    from ordermesh.worker.jobs import Job

    clock = FrozenClock(datetime.now(UTC))
    timed = Container(container.settings, container.engine, make_uow_factory(container.engine, clock), clock)
    minute, second = (Job(f"t-{uuid.uuid4().hex[:12]}", timedelta(seconds=s)) for s in (60, 1))
    asked: list[str] = []
    real_take = worker_main.take_job

    def take(conn: Any, name: str, now: Any, every: Any) -> bool:
        asked.append(name)
        return real_take(conn, name, now, every)

    monkeypatch.setattr(worker_main, "take_job", take)

    def worker() -> Worker:
        w = Worker(timed)
        w.jobs = (minute, second)
        monkeypatch.setattr(w, "_run_job", lambda job, ids, release=True: None)  # what they do is not the point
        return w

    one, two = worker(), worker()
    # the first worker takes both; asked again at once, it asks no one
    assert one.run_jobs() == [minute.name, second.name] and asked == [minute.name, second.name]
    asked.clear()
    assert one.run_jobs() == [] and asked == []
    # a second worker asks once, finds both taken, and then leaves them until they can be due
    assert two.run_jobs() == [] and asked == [minute.name, second.name]
    asked.clear()
    assert two.run_jobs() == [] and asked == []
    # a second later the one-second job is due again: taken once, by whichever asks first
    clock.advance(seconds=1)
    assert two.run_jobs() == [second.name] and one.run_jobs() == []
    assert asked == [second.name, second.name]
    asked.clear()
    # a minute on, both are due again
    clock.advance(seconds=60)
    assert one.run_jobs() == [minute.name, second.name] and asked == [minute.name, second.name]


def test_a_worker_told_to_run_only_some_jobs_runs_just_those_and_takes_no_events(
    container: Container, tenant: TenantCtx
) -> None:
    """``ordermesh worker --only channel_inbox``: a worker for queued webhooks beside the others
    leaves every event to them (it would otherwise claim events it has no handler for and mark
    them done unheard)."""
    ids = emit(tenant, "order.status_changed")
    worker = Worker(container, only=["channel_inbox"])
    assert [job.name for job in worker.jobs] == ["channel_inbox"]
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    stop.wait(0.5)
    stop.set()
    thread.join(10)
    assert [r.status for r in status(tenant, ids)] == ["pending"]
    with pytest.raises(ValueError, match="no job named channel_inbx"):
        Worker(container, only=["channel_inbx"])
