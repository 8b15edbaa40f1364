"""A property of the real ledger (SQLite and PostgreSQL): whatever sequence of movements,
reservations, releases and policy changes people make, every balance equals its ledger, nothing is
ever negative, the database agrees step by step with a pure model built from
``ordermesh.domain.inventory.apply``, and a refused operation changes nothing at all."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from ordermesh.adapters.db import tables as t
from ordermesh.bootstrap import Container
from ordermesh.domain.catalog import Component, bundle_available
from ordermesh.domain.errors import Conflict, InsufficientStock
from ordermesh.domain.inventory import Balance, MovementKind, apply, is_low
from ordermesh.services import inventory
from ordermesh.services.inventory import StockLine
from tests.conftest import new_tenant
from tests.factories import make_bundle, make_location, make_sku

SKUS = ("TEE", "CAP")
LOCATIONS = ("BHW", "BLR")
BUNDLE = "COMBO"
COMPONENTS = (Component("TEE", 1), Component("CAP", 2))
OUTBOX = t.OutboxEvent.__table__
AUDIT = t.AuditEntry.__table__

Pair = tuple[str, str]
K = MovementKind

skus = st.sampled_from(SKUS)
locations = st.sampled_from(LOCATIONS)
quantities = st.integers(1, 10)


class Refused(Exception):
    """The model's verdict: the database must refuse this operation."""


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, container: Container):
        super().__init__()
        self.tenant = new_tenant(container, "prop")
        for code in SKUS:
            make_sku(self.tenant, code)
        make_bundle(self.tenant, BUNDLE, {c.sku: c.quantity for c in COMPONENTS})
        make_location(self.tenant, "BHW", "MH")
        make_location(self.tenant, "BLR", "KA")
        self.model: dict[Pair, Balance] = {(s, loc): Balance() for s in SKUS for loc in LOCATIONS}
        self.threshold: dict[Pair, int | None] = dict.fromkeys(self.model)
        self.held: dict[str, Counter[Pair]] = {}
        self.ledger_rows = 0
        self.audit_rows = 0
        self.alerts: Counter[str] = Counter()
        self.orders = 0

    # --- the model --------------------------------------------------------------------------

    def _plan(self, changes: list[tuple[Pair, MovementKind, int]]) -> dict[Pair, Balance]:
        """Balances after the changes, as the pure rules say; raises Refused if any is refused."""
        after = dict(self.model)
        for pair, kind, q in changes:
            result = apply(after[pair], kind, q)
            if result is None:
                raise Refused
            after[pair] = result
        return after

    def _commit(self, after: dict[Pair, Balance], thresholds: dict[Pair, int | None] | None = None) -> None:
        new_thresholds = {**self.threshold, **(thresholds or {})}
        for pair in self.model:
            was = is_low(self.model[pair].available, self.threshold[pair])
            now = is_low(after[pair].available, new_thresholds[pair])
            if now and not was:
                self.alerts["inventory.low_stock"] += 1
            elif was and not now:
                self.alerts["inventory.stock_recovered"] += 1
        self.model = after
        self.threshold = new_thresholds
        self.audit_rows += 1

    def _run(self, changes: list[tuple[Pair, MovementKind, int]], call: Callable[[], object], rows: int) -> bool:
        """Do it to the model and to the database; they must agree on whether it is refused."""
        try:
            after = self._plan(changes)
        except Refused:
            try:
                call()
            except InsufficientStock:
                return False
            raise AssertionError(f"the database accepted what the rules refuse: {changes}") from None
        call()
        self._commit(after)
        self.ledger_rows += rows
        return True

    def _movement(self, sku: str, location: str, kind: str, quantity: int, **kw: object) -> None:
        def call() -> None:
            with self.tenant.uow() as uow:
                inventory.record_movement(uow, sku=sku, location=location, kind=kind, quantity=quantity, **kw)  # type: ignore[arg-type]

        if kind == "transfer":
            to = str(kw["to_location"])
            changes = [((sku, location), K.TRANSFER_OUT, quantity), ((sku, to), K.TRANSFER_IN, quantity)]
        else:
            changes = [((sku, location), K(kind), quantity)]
        self._run(changes, call, rows=len(changes))

    # --- rules ------------------------------------------------------------------------------

    @initialize(
        stock=st.lists(st.integers(0, 20), min_size=4, max_size=4),
        aside=st.lists(st.integers(0, 3), min_size=4, max_size=4),
        promised=st.lists(st.integers(0, 6), min_size=4, max_size=4),
        safety=st.lists(st.integers(0, 4), min_size=4, max_size=4),
        thresholds=st.lists(st.none() | st.integers(0, 8), min_size=4, max_size=4),
    )
    def start(
        self,
        stock: list[int],
        aside: list[int],
        promised: list[int],
        safety: list[int],
        thresholds: list[int | None],
    ) -> None:
        """Most shops have stock, some of it quarantined or promised, safety stock and alerts set;
        start there, so that every guard term is in play from the first step."""
        for pair, q, a, p, s, th in zip(self.model, stock, aside, promised, safety, thresholds, strict=True):
            sku, location = pair
            if q:
                self._movement(sku, location, "receipt", q)
            if a:
                self._movement(sku, location, "quarantine", a)
            if p:
                self.reserve([(sku, location, p)])
            if s or th is not None:
                self.set_policy(sku, location, s, th, clear=False)

    @rule(sku=skus, location=locations, q=quantities)
    def receipt(self, sku: str, location: str, q: int) -> None:
        self._movement(sku, location, "receipt", q)

    @rule(sku=skus, location=locations, q=st.integers(-12, 12).filter(bool))
    def adjustment(self, sku: str, location: str, q: int) -> None:
        self._movement(sku, location, "adjustment", q, reason="property")

    @rule(sku=skus, location=locations, counted=st.integers(0, 25))
    def count(self, sku: str, location: str, counted: int) -> None:
        self._movement(sku, location, "count", counted)

    @rule(sku=skus, source=locations, q=quantities)
    def transfer(self, sku: str, source: str, q: int) -> None:
        to = next(loc for loc in LOCATIONS if loc != source)
        self._movement(sku, source, "transfer", q, to_location=to)

    @rule(sku=skus, location=locations, q=st.integers(1, 4))
    def quarantine(self, sku: str, location: str, q: int) -> None:
        self._movement(sku, location, "quarantine", q)

    @rule(sku=skus, location=locations, q=st.integers(1, 3))
    def unquarantine(self, sku: str, location: str, q: int) -> None:
        self._movement(sku, location, "unquarantine", q)

    @rule(sku=skus, location=locations, q=st.integers(1, 3))
    def write_off(self, sku: str, location: str, q: int) -> None:
        self._movement(sku, location, "write_off", q)

    @rule(
        lines=st.lists(
            st.tuples(st.sampled_from((*SKUS, BUNDLE)), locations, st.integers(1, 5)), min_size=1, max_size=3
        )
    )
    def reserve(self, lines: list[tuple[str, str, int]]) -> None:
        self.orders += 1
        reference = f"ORD-{self.orders}"
        wanted: Counter[Pair] = Counter()
        for sku, location, q in lines:
            parts = [(c.sku, c.quantity) for c in COMPONENTS] if sku == BUNDLE else [(sku, 1)]
            for part, per in parts:
                wanted[(part, location)] += per * q

        def call() -> None:
            with self.tenant.uow() as uow:
                inventory.reserve_stock(uow, [StockLine(*line) for line in lines], reference=reference)

        changes = [(pair, K.RESERVATION, q) for pair, q in wanted.items()]
        if self._run(changes, call, rows=len(wanted)):
            self.held[reference] = wanted

    # Quantities right at a guard's edge (one under, exactly, one over), where mistakes hide.

    @rule(sku=skus, location=locations, edge=st.sampled_from((-1, 0, 1)), ignoring_safety=st.booleans())
    def reserve_at_the_edge(self, sku: str, location: str, edge: int, ignoring_safety: bool) -> None:
        b = self.model[(sku, location)]
        base = b.on_hand - b.reserved if ignoring_safety else b.available
        self.reserve([(sku, location, max(1, base + edge))])

    @rule(
        kind=st.sampled_from(("transfer", "quarantine", "adjustment")),
        sku=skus,
        location=locations,
        edge=st.sampled_from((-1, 0, 1)),
    )
    def take_unreserved_at_the_edge(self, kind: str, sku: str, location: str, edge: int) -> None:
        b = self.model[(sku, location)]
        q = max(1, b.on_hand - b.reserved + edge)
        if kind == "transfer":
            self.transfer(sku, location, q)
        elif kind == "quarantine":
            self._movement(sku, location, "quarantine", q)
        else:
            self._movement(sku, location, "adjustment", -q, reason="property")

    @rule(
        kind=st.sampled_from(("unquarantine", "write_off")),
        sku=skus,
        location=locations,
        edge=st.sampled_from((-1, 0, 1)),
    )
    def leave_quarantine_at_the_edge(self, kind: str, sku: str, location: str, edge: int) -> None:
        self._movement(sku, location, kind, max(1, self.model[(sku, location)].quarantined + edge))

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        reference = data.draw(st.sampled_from(sorted(self.held)), label="reference")
        holds = self.held[reference]
        pair = data.draw(st.sampled_from(sorted(holds)), label="pair")
        q = data.draw(st.integers(1, holds[pair] + 2), label="quantity")

        def call() -> None:
            with self.tenant.uow() as uow:
                inventory.release_stock(uow, [StockLine(pair[0], pair[1], q)], reference=reference)

        if q > holds[pair]:
            before = self.ledger_rows
            try:
                call()
            except Conflict:
                assert self.ledger_rows == before
                return
            raise AssertionError(f"released {q} of {pair} from {reference}, which holds {holds[pair]}")
        assert self._run([(pair, K.RELEASE, q)], call, rows=1), "a release within the holding was refused"
        holds[pair] -= q

    @rule(
        sku=skus,
        location=locations,
        safety=st.none() | st.integers(0, 6),
        threshold=st.none() | st.integers(0, 10),
        clear=st.booleans(),
    )
    def set_policy(self, sku: str, location: str, safety: int | None, threshold: int | None, clear: bool) -> None:
        if safety is None and threshold is None and not clear:
            safety = 0
        pair = (sku, location)
        with self.tenant.uow() as uow:
            inventory.set_stock_policy(
                uow,
                sku=sku,
                location=location,
                safety_stock=safety,
                low_stock_threshold=threshold,
                clear_threshold=clear,
            )
        after = dict(self.model)
        if safety is not None:
            after[pair] = replace(after[pair], safety_stock=safety)
        new_threshold = threshold if threshold is not None else (None if clear else self.threshold[pair])
        self._commit(after, {pair: new_threshold})

    # --- what must always hold --------------------------------------------------------------

    @invariant()
    def the_database_agrees_with_the_model(self) -> None:
        with self.tenant.uow(write=False) as uow:
            stocks = {s: inventory.stock_for_sku(uow, s) for s in (*SKUS, BUNDLE)}
            differences = inventory.check_ledger(uow)
            ledger_rows = uow.stock.count_movements()
            audits = uow.conn.execute(
                select(func.count())
                .select_from(AUDIT)
                .where(AUDIT.c.tenant_id == self.tenant.id, AUDIT.c.action.like("inventory.%"))
            ).scalar_one()
            announced = dict(
                uow.conn.execute(
                    select(OUTBOX.c.topic, func.count())
                    .where(OUTBOX.c.tenant_id == self.tenant.id, OUTBOX.c.topic.like("inventory.%"))
                    .group_by(OUTBOX.c.topic)
                ).all()
            )
        # every balance equals its ledger, and the ledger has exactly the rows accepted operations wrote
        assert differences == []
        assert ledger_rows == self.ledger_rows
        # every balance is what the pure rules say, and never negative
        seen: dict[Pair, tuple[Balance, int | None]] = {}
        for s in SKUS:
            for row in stocks[s].locations:
                seen[(s, row.location)] = (row.balance, row.low_stock_threshold)
        for pair, expected in self.model.items():
            actual, threshold = seen.get(pair, (Balance(), None))
            assert actual == expected, f"{pair}: database {actual}, model {expected}"
            assert threshold == self.threshold[pair], pair
            assert min(actual.on_hand, actual.reserved, actual.quarantined, actual.available) >= 0
        for row in stocks[BUNDLE].locations:
            avail = {s: self.model[(s, row.location)].available for s in SKUS}
            assert row.balance.available == bundle_available(COMPONENTS, avail)
        # one audit row and one stock_changed event per accepted change (none for a refused one),
        # and an alert exactly when availability crossed a threshold
        assert audits == self.audit_rows
        expected = {"inventory.stock_changed": self.audit_rows, **self.alerts}
        assert announced == {k: v for k, v in expected.items() if v}


def test_the_ledger_agrees_with_the_rules_under_any_sequence_of_operations(container: Container) -> None:
    run_state_machine_as_test(
        lambda: LedgerMachine(container),
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            # Shrinking a sequence against a database can take minutes; a failure is reported as
            # found (at most 25 steps, each printed), which is readable enough.
            phases=(Phase.explicit, Phase.reuse, Phase.generate),
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
