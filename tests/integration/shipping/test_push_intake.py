"""Queued tracking pushes stored by group commit (services.shipping.PushIntake), on both databases:
every push waiting is stored in one transaction, each answered only once that transaction has
committed, each refused one with its own error, and a failed transaction keeps none of its batch."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from sqlalchemy import text

from ordermesh.adapters.db.shipping import ShippingRepository
from ordermesh.domain.errors import NotFound, Unauthorized
from ordermesh.services import shipping
from tests.conftest import TenantCtx

WAIT = 20  # seconds: only ever reached when something is wrong


def add_carrier(t: TenantCtx, token: str) -> None:
    with t.uow() as uow:
        shipping.create_carrier(
            uow,
            {
                "code": "sr",
                "kind": "shiprocket",
                "name": "Shiprocket",
                "base_url": "http://127.0.0.1:9",  # never called: pushes are only stored here
                "credentials": {"email": "ops@example.in", "password": "pw", "webhook_token": token},
            },
            t.container.connections.vault.seal,
        )


def body(awb: str) -> bytes:
    return json.dumps({"awb": awb, "current_status": "PICKED UP", "scans": []}).encode()


def stored(t: TenantCtx) -> list[tuple[str, str, dict[str, Any]]]:
    """The tenant's carrier inbox as another connection sees it: (body, state, headers kept)."""
    with t.container.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT body, state, headers FROM carrier_inbox WHERE tenant_id = :t ORDER BY id"), {"t": t.id}
        ).all()
    return [(bytes(r.body).decode(), r.state, r.headers if isinstance(r.headers, dict) else json.loads(r.headers))
            for r in rows]  # fmt: skip


@pytest.fixture
def intake(tenant: TenantCtx) -> Iterator[shipping.PushIntake]:
    writer = shipping.PushIntake(tenant.container.uow, tenant.container.connections)
    yield writer
    writer.close()


def token(value: str) -> dict[str, str]:
    return {"x-api-key": value, "content-type": "application/json"}


def test_pushes_waiting_together_are_stored_in_one_transaction_and_answered_after_its_commit(
    tenant: TenantCtx, other_tenant: TenantCtx, intake: shipping.PushIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_carrier(tenant, "tok-a")
    add_carrier(other_tenant, "tok-b")
    # given: the writer held inside its first transaction, after the insert, before the commit
    inserted, release = threading.Event(), threading.Event()
    batches: list[int] = []
    real = ShippingRepository.store_received

    def held(self: ShippingRepository, pushes: Any, now: Any) -> None:
        real(self, pushes, now)
        batches.append(len(pushes))
        inserted.set()
        assert release.wait(WAIT)

    monkeypatch.setattr(ShippingRepository, "store_received", held)
    first = intake.submit(tenant.code, "sr", token("tok-a"), body("A1"))
    assert inserted.wait(WAIT)
    # then: its request is not answered, and nobody else sees the push, until the commit
    assert not first.done() and stored(tenant) == []
    # when: more pushes arrive meanwhile, for two tenants, some of them not to be stored
    later = {
        "a2": intake.submit(tenant.code, "sr", token("tok-a"), body("A2")),
        "b1": intake.submit(other_tenant.code, "sr", token("tok-b"), body("B1")),
        "wrong token": intake.submit(tenant.code, "sr", token("tok-b"), body("X1")),
        "no token": intake.submit(tenant.code, "sr", {}, body("X2")),
        "no carrier": intake.submit(tenant.code, "dhl", token("tok-a"), body("X3")),
        "no tenant": intake.submit("nobody-here", "sr", token("tok-a"), body("X4")),
        "a3": intake.submit(tenant.code, "sr", token("tok-a"), body("A3")),
    }
    release.set()
    assert first.result(WAIT).queued is True
    for name in ("a2", "b1", "a3"):
        assert later[name].result(WAIT).queued is True, name
    # then: every refusal is its own, with what a carrier's request would be answered
    for name in ("wrong token", "no token"):
        with pytest.raises(Unauthorized):
            later[name].result(WAIT)
    with pytest.raises(NotFound) as no_carrier:
        later["no carrier"].result(WAIT)
    with pytest.raises(NotFound) as no_tenant:
        later["no tenant"].result(WAIT)
    assert no_carrier.value.errors[0].field == "carrier" and no_tenant.value.errors[0].field == "tenant"
    # and: the pushes that waited together went in together (a second transaction, three rows)
    assert batches == [1, 3]
    kept = {"content-type": "application/json"}  # the token is not kept with the push
    assert [(b, s, h) for b, s, h in stored(tenant)] == [
        (body(n).decode(), "received", kept) for n in ("A1", "A2", "A3")
    ]
    assert stored(other_tenant) == [(body("B1").decode(), "received", kept)]


def test_a_batch_whose_transaction_fails_answers_each_push_with_the_error_and_keeps_none(
    tenant: TenantCtx, intake: shipping.PushIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_carrier(tenant, "tok-a")
    real = ShippingRepository.store_received

    def broken(self: ShippingRepository, pushes: Any, now: Any) -> None:
        real(self, pushes, now)
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(ShippingRepository, "store_received", broken)
    with pytest.raises(RuntimeError, match="disk is full"):
        intake.submit(tenant.code, "sr", token("tok-a"), body("F1")).result(WAIT)
    assert stored(tenant) == []  # rolled back: the carrier, answered with an error, sends it again
    # and the writer goes on with the next pushes
    monkeypatch.setattr(ShippingRepository, "store_received", real)
    assert intake.submit(tenant.code, "sr", token("tok-a"), body("F1")).result(WAIT).queued
    assert [b for b, _, _ in stored(tenant)] == [body("F1").decode()]


def test_many_requests_at_once_are_each_stored_exactly_once(tenant: TenantCtx, intake: shipping.PushIntake) -> None:
    add_carrier(tenant, "tok-a")
    threads, per_thread = 8, 25
    answered: list[str] = []
    errors: list[BaseException] = []

    def carrier(k: int) -> None:
        try:
            for n in range(per_thread):
                name = f"C{k}-{n}"
                intake.submit(tenant.code, "sr", token("tok-a"), body(name)).result(WAIT)
                answered.append(name)
        except BaseException as e:
            errors.append(e)

    workers = [threading.Thread(target=carrier, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    bodies = [json.loads(b)["awb"] for b, _, _ in stored(tenant)]
    assert sorted(bodies) == sorted(answered) and len(bodies) == threads * per_thread


def test_closing_stores_what_waits_and_then_refuses_more(tenant: TenantCtx) -> None:
    add_carrier(tenant, "tok-a")
    intake = shipping.PushIntake(tenant.container.uow, tenant.container.connections)
    waiting: list[Future[shipping.TrackingResult]] = [
        intake.submit(tenant.code, "sr", token("tok-a"), body(f"Z{n}")) for n in range(20)
    ]
    intake.close()
    assert all(w.result(0).queued for w in waiting)  # done before close returned
    assert len(stored(tenant)) == 20
    with pytest.raises(RuntimeError, match="closed"):
        intake.submit(tenant.code, "sr", token("tok-a"), body("Z99"))
