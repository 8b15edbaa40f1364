"""Keeping channels in step with ordermesh: orders in (webhooks and polling, through the inbox),
stock out (available-to-sell per listing, pushed in batches and reconciled daily), and order
status back to the channel.

Nothing accepted is lost or processed twice: every webhook body and pulled page is stored raw,
with its outbox event, before it is parsed; a polling cursor moves in the transaction that stores
its page; processing claims an inbox item with a guarded UPDATE, and orders are idempotent by
(channel, external id). Calls to a channel never run inside a database transaction that other
writers wait on: read, call, then write.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ordermesh.adapters.channels.base import (
    DELETED,
    BadSignature,
    ChannelConnector,
    ChannelError,
    ChannelLine,
    ChannelOrder,
    Listing,
    ListingQuantity,
    StatusUpdate,
)
from ordermesh.adapters.channels.connections import Connections
from ordermesh.adapters.db.channel_sync import ChannelSyncRepository, InboxRow, ListingRow, StoredBody
from ordermesh.adapters.db.channels import ChannelRecord
from ordermesh.adapters.db.uow import UnitOfWork, UowFactory
from ordermesh.domain import events
from ordermesh.domain.access import Actor, Permission, Role
from ordermesh.domain.availability import (
    Ats,
    ChannelRule,
    LocationStock,
    available_to_sell,
    bundle_available_to_sell,
)
from ordermesh.domain.errors import Collector, DomainError, NotFound, Unauthorized, ValidationFailed
from ordermesh.domain.locations import Capability
from ordermesh.domain.statuses import SETTLED, OrderStatus
from ordermesh.services.common import require
from ordermesh.services.group_commit import GroupWriter, Waiting

log = logging.getLogger("ordermesh.channels")

CLAIM_LEASE = timedelta(minutes=5)  # an item 'processing' longer than this was abandoned by a crash
MAX_PAGES_PER_PULL = 20
PUSH_BATCH = 500


def channel_actor(code: str) -> Actor:
    """Who the timeline and audit trail name for what a channel's sync does."""
    return Actor("system", f"channel:{code}", f"{code} sync", Role.ADMIN)


@dataclass
class Sync:
    """What channel sync needs: units of work for one tenant, and the channel connections.
    ``lease``: how long an inbox item may stay 'processing' before another process takes it over
    (its processor died); ``inline``: process a webhook in the request that received it, or leave
    it to the workers."""

    uow: UowFactory
    connections: Connections
    tenant_id: int
    lease: timedelta = CLAIM_LEASE
    inline: bool = True

    def unit(self, actor: Actor | None = None, *, write: bool = True) -> UnitOfWork:
        if actor is None:
            return self.uow(tenant_id=self.tenant_id, write=write)
        return self.uow(tenant_id=self.tenant_id, actor=actor, write=write)


class ItemBusy(Exception):
    """Another process is working on this inbox item; try again after its lease."""


def repo(uow: UnitOfWork) -> ChannelSyncRepository:
    assert uow.tenant_id is not None
    return ChannelSyncRepository(uow.conn, uow.tenant_id)


def require_write(uow: UnitOfWork) -> None:
    require(uow.actor, Permission.CHANNELS_WRITE)


def channel_or_404(uow: UnitOfWork, code: str) -> ChannelRecord:
    record = uow.channels.get(code)
    if record is None or not uow.actor.sees_channel(code):
        raise NotFound(f"channel '{code}' not found", field="channel")
    return record


# -- credentials ------------------------------------------------------------------------------


def set_credentials(uow: UnitOfWork, connections: Connections, code: str, credentials: Mapping[str, Any]) -> None:
    """Seal and keep a channel's secrets. Which keys were set is audited; the values never are."""
    require(uow.actor, Permission.CHANNELS_WRITE)
    record = channel_or_404(uow, code)
    errors = Collector()
    for key, value in credentials.items():
        if not isinstance(value, str) or not value:
            errors.add(f"credentials.{key}", "must be a non-empty string")
    errors.raise_if_any()
    sealed = connections.vault.seal({k: str(v) for k, v in credentials.items()}) if credentials else None
    uow.channels.set_credentials(record.id, sealed, uow.now)
    uow.audit("channel.credentials_set", "channel", code, after={"keys": sorted(credentials)})
    uow.commit()


# -- listings ---------------------------------------------------------------------------------


def put_listing(uow: UnitOfWork, code: str, raw: Mapping[str, Any]) -> bool:
    """Add or change one listing; True when it is new."""
    require(uow.actor, Permission.CHANNELS_WRITE)
    record = channel_or_404(uow, code)
    created = _put_listing(uow, record, raw, Collector(), "")
    uow.commit()
    return created


def _put_listing(uow: UnitOfWork, record: ChannelRecord, raw: Mapping[str, Any], errors: Collector, at: str) -> bool:
    listing_id = str(raw.get("listing_id") or "").strip()
    if not listing_id:
        errors.add(f"{at}listing_id", "is required")
    elif len(listing_id) > 128:
        errors.add(f"{at}listing_id", "must be at most 128 characters")
    sku = raw.get("sku")
    sku_id = None
    if sku:
        found = uow.skus.ids_for([str(sku)]).get(str(sku))
        if found is None:
            errors.add(f"{at}sku", f"SKU '{sku}' not found")
        else:
            sku_id = found[0]
    attributes = raw.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        errors.add(f"{at}attributes", "must be an object")
        attributes = {}
    active = raw.get("active", True)
    if not isinstance(active, bool):
        errors.add(f"{at}active", "must be true or false")
    errors.raise_if_any()
    seller_sku = str(raw["seller_sku"]).strip() if raw.get("seller_sku") else None
    created = repo(uow).upsert_listing(
        record.id, listing_id, seller_sku, sku_id, dict(attributes), bool(active), uow.now
    )
    uow.audit(
        "channel.listing_created" if created else "channel.listing_updated",
        "listing",
        f"{record.spec.code}:{listing_id}",
        after={"sku": sku, "seller_sku": seller_sku, "attributes": dict(attributes), "active": active},
    )
    return created


LISTING_COLUMNS = ("listing_id", "sku", "seller_sku", "active")


@dataclass
class ListingImport:
    created: int = 0
    updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def import_listings(uow: UnitOfWork, code: str, rows: list[dict[str, str]]) -> ListingImport:
    """Listings from CSV rows: listing_id, sku, seller_sku, active, and any other column becomes an
    attribute (inventory_item_id, parent_id, asin, product_type, fsn, location_id …). Bad rows are
    reported by row and column; the good ones are saved."""
    require(uow.actor, Permission.CHANNELS_WRITE)
    record = channel_or_404(uow, code)
    result = ListingImport()
    for n, row in enumerate(rows, start=2):  # row 1 is the header
        errors = Collector()
        raw: dict[str, Any] = {k: (v or "").strip() for k, v in row.items() if k}
        active_text = raw.pop("active", "") or "true"
        if active_text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            result.errors.append({"row": n, "field": "active", "message": "must be true or false"})
            continue
        listing = {
            "listing_id": raw.pop("listing_id", ""),
            "sku": raw.pop("sku", "") or None,
            "seller_sku": raw.pop("seller_sku", "") or None,
            "active": active_text.lower() in ("true", "1", "yes"),
            "attributes": {k: v for k, v in raw.items() if v},
        }
        try:
            created = _put_listing(uow, record, listing, errors, "")
        except ValidationFailed as e:
            result.errors += [{"row": n, "field": fe.field, "message": fe.message} for fe in e.errors]
            continue
        if created:
            result.created += 1
        else:
            result.updated += 1
    uow.commit()
    return result


@dataclass(frozen=True)
class ListingView:
    listing: ListingRow
    ats: Ats | None  # None: not mapped to a SKU yet

    def as_dict(self) -> dict[str, Any]:
        r = self.listing
        return {
            "listing_id": r.listing_id,
            "seller_sku": r.seller_sku,
            "sku": r.sku_code,
            "attributes": r.attributes,
            "active": r.active,
            "available_to_sell": self.ats.as_dict() if self.ats else None,
            "explanation": self.ats.explain() if self.ats else "not mapped to a SKU",
            "pushed_quantity": r.pushed_quantity,
            "pushed_at": r.pushed_at,
            "push_error": r.push_error,
            "pending_push": r.dirty > 0,
            "channel_quantity": r.channel_quantity,
            "checked_at": r.checked_at,
        }


def list_listings(uow: UnitOfWork, code: str, *, after_id: int = 0, limit: int = 100) -> list[ListingView]:
    require(uow.actor, Permission.CHANNELS_READ)
    record = channel_or_404(uow, code)
    rows = repo(uow).listings(record.id, after_id=after_id, limit=limit)
    ats = listing_ats(uow, record, rows)
    return [ListingView(r, ats.get(r.id)) for r in rows]


def listing_ats(uow: UnitOfWork, channel: ChannelRecord, listings: list[ListingRow]) -> dict[int, Ats]:
    """Available-to-sell of each mapped listing, with every term (domain.availability)."""
    mapped = [r for r in listings if r.sku_id is not None and r.sku_code is not None]
    if not mapped:
        return {}
    rule = ChannelRule.from_dict(channel.spec.inventory, Collector())
    facts = uow.skus.facts_for({r.sku_code for r in mapped if r.sku_code})
    bundle_ids = [f.id for f in facts.values() if f.is_bundle]
    components = uow.skus.components_of(bundle_ids)
    sku_ids = {f.id for f in facts.values() if not f.is_bundle} | {c for parts in components.values() for c, _ in parts}
    serving = _serving_locations(uow, channel)
    balances = uow.stock.by_location(sorted(sku_ids))
    stock: dict[int, list[LocationStock]] = {
        sku_id: [
            LocationStock(b.location, b.balance.on_hand, b.balance.reserved, b.balance.safety_stock)
            for b in balances.get(sku_id, [])
            if b.location in serving
        ]
        for sku_id in sku_ids
    }
    unrouted = repo(uow).unrouted_units(sorted(sku_ids | set(bundle_ids)))
    out: dict[int, Ats] = {}
    for r in mapped:
        fact = facts.get(r.sku_code or "")
        if fact is None:
            continue
        if fact.is_bundle:
            parts = [(per, stock.get(cid, []), unrouted.get(cid, 0)) for cid, per in components.get(fact.id, [])]
            out[r.id] = bundle_available_to_sell(parts, unrouted.get(fact.id, 0), rule)
        else:
            out[r.id] = available_to_sell(stock.get(fact.id, []), unrouted.get(fact.id, 0), rule)
    return out


def _serving_locations(uow: UnitOfWork, channel: ChannelRecord) -> set[str]:
    chosen = set(channel.spec.locations) if channel.spec.locations else None
    return {
        loc.spec.code
        for loc in uow.all_locations()
        if loc.spec.active and Capability.SHIPS in loc.spec.capabilities and (chosen is None or loc.spec.code in chosen)
    }


# -- orders in: the inbox ---------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    item_id: int | None  # None: this exact delivery was received before
    processed: bool
    error: str | None = None


def receive_webhook(
    sync: Sync, tenant_code: str, channel_code: str, headers: Mapping[str, str], body: bytes
) -> Received:
    """Store a webhook body, then check its signature; only a signed body is processed. A bad
    signature is kept (state 'rejected') for inspection and answered 401."""
    with sync.uow(tenant_id=None, actor=channel_actor(channel_code)) as uow:
        tenant = uow.tenants.by_code(tenant_code)
        if tenant is None:
            raise NotFound(f"no tenant '{tenant_code}'", field="tenant")
        uow.use_tenant(tenant.id, tenant)
        record = uow.channel(channel_code)  # from this process's cache while the tenant's channels are unchanged
        if record is None:
            raise NotFound(f"channel '{channel_code}' not found", field="channel")
        sync = Sync(sync.uow, sync.connections, tenant.id, sync.lease, sync.inline)
        kept = _kept(headers)
        try:
            connector = sync.connections.connector(record)
            connector.verify_webhook(headers, body)
        except BadSignature as e:
            repo(uow).store(record.id, "webhook", _topic(kept), f"rejected:{uuid.uuid4()}", kept, body, uow.now,
                            state="rejected", error=str(e))  # fmt: skip
            uow.commit()
            raise Unauthorized(f"webhook signature check failed: {e}") from None
        topic, key = _topic(kept), _digest(body)
        if not sync.inline:  # the workers take it from here (drain_webhooks)
            item_id = repo(uow).store(record.id, "webhook", topic, key, kept, body, uow.now)
            uow.commit()
            return Received(item_id, False)
        done = _receive_in_one(uow, record, connector, topic, key, headers, kept, body)
        if done is not None:
            return done
    # Not the one-order case, or applying it failed: the body is stored (already claimed) and
    # processed order by order, and a failure stays on the item with its error. Should this
    # process die meanwhile, the inbox sweep takes the item over once its lease runs out.
    with sync.unit() as uow:
        item_id = repo(uow).store(record.id, "webhook", topic, key, kept, body, uow.now, state="processing")
        received_at = uow.now
        uow.commit()
    if item_id is None:
        return Received(None, False)
    item = InboxRow(item_id, record.id, "webhook", topic, key, kept, body, "processing", None, 0, {},
                    received_at, received_at)  # fmt: skip
    error = _process_claimed(sync, item, record, connector)
    return Received(item_id, error is None, error)


def _receive_in_one(
    uow: UnitOfWork,
    record: ChannelRecord,
    connector: ChannelConnector,
    topic: str | None,
    key: str,
    headers: Mapping[str, str],
    kept: dict[str, str],
    body: bytes,
) -> Received | None:
    """The common webhook, one order, in the request's own unit of work: the body is stored
    first, then the order applied and the item's result recorded, and all of it commits together
    (one transaction); should the process die before that commit, nothing is kept and nothing was
    acknowledged, so the channel delivers it again. None when the body is not one order or
    applying it failed (all of it rolled back): the caller then takes the careful path."""
    try:
        orders = connector.parse_webhook(headers, body).orders
    except Exception:
        return None  # the careful path keeps the reason with the body
    if len(orders) != 1:
        return None
    item_id = repo(uow).store(record.id, "webhook", topic, key, kept, body, uow.now, state="processed")
    if item_id is None:
        return Received(None, False)  # this very delivery was taken before
    try:
        with uow.one_transaction():
            outcome = _apply_order(uow, record, orders[0])
            result = _no_outcomes()
            result[outcome].append(orders[0].external_id)
            repo(uow).finish(item_id, "processed", None, result, uow.now)
    except Exception:
        uow.rollback()
        return None
    return Received(item_id, True)


def _kept(headers: Mapping[str, str]) -> dict[str, str]:
    """A webhook's headers as kept with its body: not the ones that carry credentials."""
    return {k.lower(): v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}


@dataclass(frozen=True)
class Read:
    """A delivery checked (and, when processed inline, parsed) with a channel record: whether its
    signature holds, its orders (None: refused, unreadable or not parsed) and its dedupe key."""

    record: ChannelRecord
    verified: bool
    orders: list[ChannelOrder] | None
    key: str


@dataclass(frozen=True)
class Delivery:
    tenant: str
    channel: str
    headers: Mapping[str, str]
    body: bytes
    read: Read | None = None  # done on the request's side, with the record the writer had last


@dataclass(frozen=True)
class Claimed:
    """A delivery the intake stored and claimed but did not apply (not the plain case of a new
    order): :meth:`WebhookIntake.settle` processes it order by order, as the careful path does."""

    sync: Sync
    item: InboxRow
    record: ChannelRecord
    connector: ChannelConnector


# What the intake answers a delivery: done (Received), stored and left to finish (Claimed), or
# not taken at all (None: the caller runs receive_webhook, which answers it as it always has).
Intake = Received | Claimed | None


class WebhookIntake:
    """Channel webhooks processed by group commit (services.group_commit), when webhooks are
    processed inline (the default).

    Each request checks its delivery's signature and parses it (see :meth:`submit`), hands it to
    this process's writer thread and waits. The writer takes every delivery waiting, and for each
    channel's deliveries in one transaction applies the new orders together
    (services.orders.ingest_batch: one statement each for their reads, buyers, orders, stock and
    bodies), stores every body with what became of it (one statement) and commits; only then is
    each request answered (ADR 0011). Whatever is not the plain case of one new, signed order — a
    bad signature, a body that does not parse, several orders or a cancellation, the same bytes
    twice in a batch — is not handled here: those go the one-at-a-time way
    (:func:`receive_webhook`), as does every delivery of a batch whose transaction fails; an
    order the batch leaves (one the channel sent before …) is stored claimed and finished order by
    order after the commit (:meth:`settle`).

    ``queued`` (``ORDERMESH_WEBHOOKS_INLINE=false``): the writer only stores every signed body of
    the batch for the workers (one statement), commits and answers; the workers process them in
    batches of their own (:func:`drain_webhooks`). Bodies are not parsed on the request's side then."""

    def __init__(self, uow: UowFactory, connections: Connections, *, lease: timedelta = CLAIM_LEASE,
                 max_batch: int = 64, queued: bool = False):  # fmt: skip
        self._uow, self._connections, self._lease, self._queued = uow, connections, lease, queued
        self._writer: GroupWriter[Delivery, Intake] = GroupWriter("webhook intake", self.take, max_batch=max_batch)
        self._known: dict[tuple[str, str], tuple[ChannelRecord, ChannelConnector]] = {}

    def submit(self, tenant: str, channel: str, headers: Mapping[str, str], body: bytes) -> Future[Intake]:
        # The signature is checked and the body parsed here, on the request's thread, while the
        # writer waits on the database, with the channel as the writer last read it; the writer
        # uses that only if the channel it reads now is that very record (the tenant's
        # configuration has not changed since), and checks and parses again otherwise.
        known = self._known.get((tenant, channel))
        read = self._read(known[0], known[1], headers, body) if known else None
        return self._writer.submit(Delivery(tenant, channel, headers, body, read))

    def _read(
        self, record: ChannelRecord, connector: ChannelConnector, headers: Mapping[str, str], body: bytes
    ) -> Read:
        try:
            connector.verify_webhook(headers, body)
        except Exception:  # refused: the one-at-a-time path keeps it with its reason
            return Read(record, False, None, _digest(body))
        orders_in: list[ChannelOrder] | None = None
        if not self._queued:  # queued bodies are parsed by the worker that processes them
            with contextlib.suppress(Exception):  # unreadable: the one-at-a-time path keeps it with its reason
                orders_in = connector.parse_webhook(headers, body).orders
        return Read(record, True, orders_in, _digest(body))

    def close(self, timeout: float = 10) -> None:
        self._writer.close(timeout)

    @staticmethod
    def settle(
        got: Intake, sync: Sync, tenant_code: str, channel_code: str, headers: Mapping[str, str], body: bytes
    ) -> Received:
        """What the intake answered, carried to the end on the request's side: a stored delivery
        it left gets its orders applied one by one (errors kept on it), one it did not take goes
        the one-at-a-time way (:func:`receive_webhook`)."""
        if isinstance(got, Received):
            return got
        if isinstance(got, Claimed):
            error = _process_claimed(got.sync, got.item, got.record, got.connector)
            return Received(got.item.id, error is None, error)
        return receive_webhook(sync, tenant_code, channel_code, headers, body)

    def take(self, batch: list[Waiting[Delivery, Intake]]) -> None:
        """One batch, on the calling thread (the writer's): every delivery's future settled."""
        groups: dict[tuple[str, str], list[Waiting[Delivery, Intake]]] = {}
        for w in batch:
            groups.setdefault((w.item.tenant, w.item.channel), []).append(w)
        for (tenant, channel), waiting in groups.items():
            try:
                self._take_channel(tenant, channel, waiting)
            except _StoredBefore:
                log.info("%d webhooks of channel %s went one at a time: one was stored before", len(waiting), channel)
            except Exception:
                log.exception("%d webhooks of channel %s went one at a time: their batch failed", len(waiting), channel)
            for w in waiting:
                if not w.done.done():
                    w.done.set_result(None)

    def _take_channel(self, tenant_code: str, channel_code: str, waiting: list[Waiting[Delivery, Intake]]) -> None:
        with self._uow(tenant_id=None, actor=channel_actor(channel_code)) as uow:
            tenant = uow.tenants.by_code(tenant_code)
            if tenant is None:
                return
            uow.use_tenant(tenant.id, tenant)
            record = uow.channel(channel_code)
            if record is None:
                return
            connector = self._connections.connector(record)
            self._known[(tenant_code, channel_code)] = (record, connector)
            reads: dict[str, tuple[Waiting[Delivery, Intake], Read]] = {}
            for w in waiting:
                d = w.item
                read = d.read if d.read is not None and d.read.record is record else None
                read = read or self._read(record, connector, d.headers, d.body)
                if read.verified and read.key not in reads:  # (the same bytes twice: the second goes alone)
                    reads[read.key] = (w, read)
            if self._queued:
                self._queue(uow, record, reads)
                return
            plain: dict[str, tuple[Waiting[Delivery, Intake], str | None, dict[str, str], ChannelOrder]] = {}
            for key, (w, read) in reads.items():
                if (one := _plain(read.orders)) is not None:
                    kept = _kept(w.item.headers)
                    plain[key] = (w, _topic(kept), kept, one)
            if not plain:
                return
            sync = Sync(self._uow, self._connections, tenant.id, self._lease)
            received_at = uow.now
            with uow.one_transaction(gather=True):
                done = _ingest_together(uow, record, [o for _, _, _, o in plain.values()])
                # The bodies go in last, each with what became of it: an order the batch did not
                # take is stored claimed, for its request to apply. A delivery stored before (the
                # same bytes) is left out by the insert, and must have changed nothing here.
                bodies = []
                taken = set()
                for (key, (w, topic, kept, order)), ingested in zip(plain.items(), done, strict=True):
                    if ingested is None:
                        bodies.append(StoredBody(topic, key, kept, w.item.body, "processing", {}))
                        continue
                    bodies.append(StoredBody(topic, key, kept, w.item.body, "processed", _created_result(order)))
                    taken.add(key)
                stored = repo(uow).store_many(record.id, "webhook", bodies, uow.now)
                if taken - stored.keys():
                    # A delivery stored before whose order was never made (its item failed): the
                    # order stays with that item (retried there), so none of this batch is kept.
                    raise _StoredBefore("a body of the batch was stored before without its order")
        for key, (w, topic, kept, _) in plain.items():
            item_id = stored.get(key)
            if item_id is None:
                w.done.set_result(Received(None, False))  # this very delivery was taken before
            elif key in taken:
                w.done.set_result(Received(item_id, True))
            else:
                item = InboxRow(item_id, record.id, "webhook", topic, key, kept, w.item.body, "processing", None, 0,
                                {}, received_at, received_at)  # fmt: skip
                w.done.set_result(Claimed(sync, item, record, connector))

    @staticmethod
    def _queue(
        uow: UnitOfWork, record: ChannelRecord, reads: dict[str, tuple[Waiting[Delivery, Intake], Read]]
    ) -> None:
        """Queued webhooks: every signed body stored for the workers (one statement) and committed,
        then each request answered; a body stored before is answered as a duplicate."""
        if not reads:
            return
        bodies = []
        for key, (w, _) in reads.items():
            kept = _kept(w.item.headers)
            bodies.append(StoredBody(_topic(kept), key, kept, w.item.body, "received", {}))
        stored = repo(uow).store_many(record.id, "webhook", bodies, uow.now)
        uow.commit()
        for key, (w, _) in reads.items():
            w.done.set_result(Received(stored.get(key), False))


class _StoredBefore(Exception):
    """A delivery of the batch had been stored before, and not with its order."""


def _plain(orders_in: list[ChannelOrder] | None) -> ChannelOrder | None:
    """The one new order a delivery carries, when it is the plain case a batch takes (not several
    orders, not a cancellation, not a notice without an address)."""
    one = orders_in[0] if orders_in is not None and len(orders_in) == 1 else None
    return one if one is not None and one.ready and one.status is not OrderStatus.CANCELLED else None


def _ingest_together(uow: UnitOfWork, record: ChannelRecord, orders_in: list[ChannelOrder]) -> list[Any]:
    """New orders of one channel through services.orders.ingest_batch, in the caller's transaction
    (held with ``one_transaction(gather=True)``): what became of each, None for one it left."""
    from ordermesh.services import orders

    listings = repo(uow).listing_by_ids(record.id, [line.listing_id for o in orders_in for line in o.lines])
    return orders.ingest_batch(uow, [(_payload(record, o, listings), _channel_data(o)) for o in orders_in])


def _created_result(order: ChannelOrder) -> dict[str, list[str]]:
    result = _no_outcomes()
    result["created"].append(order.external_id)
    return result


def _no_outcomes() -> dict[str, list[str]]:
    """An inbox item's result: the external ids of its orders by what became of them."""
    return {"created": [], "updated": [], "cancelled": [], "waiting": [], "unchanged": []}


def _topic(headers: Mapping[str, str]) -> str | None:
    for name in ("x-shopify-topic", "x-wc-webhook-topic", "x-flipkart-event", "x-event-type"):
        if headers.get(name):
            return headers[name][:100]
    return None


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def process_item(
    sync: Sync, item_id: int, connector: ChannelConnector | None = None, *, wait_if_busy: bool = False
) -> str | None:
    """Parse a stored body and apply its orders. Returns None when done, else the error kept on the
    item. Only one process works on an item at a time: it is claimed with a guarded UPDATE.
    ``wait_if_busy``: raise ItemBusy when another process holds it (the worker then retries the
    event later, so an item whose processor died is taken over once its lease runs out)."""
    with sync.unit() as uow:
        claimed = repo(uow).claim(item_id, uow.now, uow.now - sync.lease)
        item = repo(uow).inbox_item(item_id)
        record = uow.channel_by_id(item.channel_id) if item else None
        uow.commit()
    if not claimed and wait_if_busy and item is not None and item.state == "processing":
        raise ItemBusy(f"inbox item {item_id} is being processed since {item.processed_at}")
    if not claimed or item is None or record is None:
        return None
    return _process_claimed(sync, item, record, connector)


def _process_claimed(
    sync: Sync, item: InboxRow, record: ChannelRecord, connector: ChannelConnector | None
) -> str | None:
    item_id = item.id
    result = _no_outcomes()
    problems: list[str] = []
    try:
        connector = connector or sync.connections.connector(record)
        if item.source == "webhook":
            orders = connector.parse_webhook(item.headers, item.body).orders
        else:
            orders = connector.parse_page(item.body)
    except (ChannelError, DomainError) as e:
        problems.append(f"cannot read the {item.source} body: {e}")
        orders = []
    except Exception as e:  # a body of a shape the connector did not expect: kept, visible, retryable
        log.warning("inbox item %s: %s", item_id, e, exc_info=True)
        problems.append(f"cannot read the {item.source} body: {type(e).__name__}: {e}")
        orders = []
    for order in orders:
        try:
            outcome = apply_channel_order(sync, record, order)
            result[outcome].append(order.external_id)
        except DomainError as e:
            problems.append(f"order {order.external_id}: {e.detail}" + _fields(e))
        except Exception as e:  # keep going with the others; the item stays failed and retryable
            log.exception("channel order %s failed", order.external_id)
            problems.append(f"order {order.external_id}: {type(e).__name__}: {e}")
    error = "; ".join(problems) or None
    with sync.unit() as uow:
        repo(uow).finish(item_id, "failed" if error else "processed", error, result, uow.now)
        uow.commit()
    return error


def _fields(e: DomainError) -> str:
    return "".join(f" ({fe.field}: {fe.message})" for fe in e.errors if fe.message != e.detail)


def apply_channel_order(sync: Sync, record: ChannelRecord, order: ChannelOrder) -> str:
    """One channel order into ordermesh: created, updated, cancelled, waiting or unchanged."""
    with sync.unit(channel_actor(record.spec.code)) as uow:
        return _apply_order(uow, record, order)


def _apply_order(uow: UnitOfWork, record: ChannelRecord, order: ChannelOrder) -> str:
    """:func:`apply_channel_order` in a unit of work of the channel's actor; what it changes is
    committed (with whatever the unit holds already) by the order services it calls."""
    from ordermesh.services import order_actions, orders

    # (Intake finds an order it already has by itself; only cancellations and notices ask first.)
    ready = order.status is not OrderStatus.CANCELLED and order.ready
    existing = None if ready else uow.orders.id_for_external(record.id, order.external_id)
    if order.status is OrderStatus.CANCELLED:
        if existing is None:
            return "waiting"  # cancelled before we ever took it: nothing to do
        current = uow.orders.get(existing)
        assert current is not None
        if OrderStatus(current.row.status) in SETTLED:
            return "unchanged"
        done = "deleted" if order.channel_status == DELETED else "cancelled"
        order_actions.cancel_order(uow, existing, reason=f"{done} on {record.spec.name}")
        return "cancelled"
    if not order.ready:
        # Not released for fulfilment yet, or a partial notice (no address): a new order waits
        # for its full update; an order we have keeps what it has.
        return "waiting" if existing is None else "unchanged"
    listings = repo(uow).listing_by_ids(record.id, [line.listing_id for line in order.lines])
    payload = _payload(record, order, listings)
    data = _channel_data(order)
    ingested = orders.ingest_order(uow, payload, channel_data=data)
    if ingested.created:  # a new order took its channel data in its own insert
        return "created"
    uow.orders.update(ingested.order_id, channel_data=data)
    uow.commit()
    return "updated" if ingested.changed else "unchanged"


def _payload(record: ChannelRecord, order: ChannelOrder, listings: Mapping[str, ListingRow]) -> dict[str, Any]:
    """A channel order as intake takes it, its lines named by our SKUs where the listing is mapped."""

    def sku_of(line: Any) -> str:
        mapped = listings.get(line.listing_id)
        if mapped is not None and mapped.sku_code:
            return mapped.sku_code
        # The seller's SKU as the channel gives it; one that is not in the catalog (or no SKU
        # at all: the channel's own listing code) holds the order as unmapped_sku.
        return str(line.seller_sku or f"{record.spec.type.value}:{line.listing_id}")

    return {"channel": record.spec.code, **order.payload(sku_of)}


def _channel_data(order: ChannelOrder) -> dict[str, Any]:
    return {
        "status": order.channel_status,
        "extra": order.extra,
        "lines": [
            {
                "line_id": line.line_id,
                "listing_id": line.listing_id,
                "seller_sku": line.seller_sku,
                "quantity": line.quantity,
            }
            for line in order.lines
        ],
    }


def retry_item(sync: Sync, uow: UnitOfWork, item_id: int) -> str | None:
    """A person's retry of a failed (or rejected, once the secret is fixed) inbox item."""
    require(uow.actor, Permission.CHANNELS_WRITE)
    item = repo(uow).inbox_item(item_id)
    if item is None:
        raise NotFound(f"inbox item {item_id} not found", field="item")
    record = uow.channel_by_id(item.channel_id)
    assert record is not None
    channel_or_404(uow, record.spec.code)
    connector = sync.connections.connector(record)
    if item.state == "rejected":
        try:
            connector.verify_webhook(item.headers, item.body)
        except BadSignature as e:
            raise ValidationFailed(f"the signature still does not match: {e}", field="item") from None
        repo(uow).finish(item_id, "received", None, {}, uow.now)
    elif item.state not in ("failed", "received"):
        raise ValidationFailed(f"inbox item {item_id} is {item.state}; only failed items are retried", field="item")
    uow.audit("channel.inbox_retried", "inbox", str(item_id), before={"state": item.state})
    uow.commit()
    return process_item(sync, item_id, connector)


def sweep_inbox(sync: Sync) -> int:
    """Items stored but not processed a minute later, or left 'processing' past the lease by a
    process that died: a crash between storing and processing loses nothing."""
    with sync.unit(write=False) as uow:
        waiting = repo(uow).waiting(uow.now - timedelta(minutes=1), uow.now - sync.lease)
    for item_id in waiting:
        process_item(sync, item_id)
    return len(waiting)


def drain_webhooks(sync: Sync, *, batch: int = 200, most: int = 2000) -> int:
    """Process queued webhook bodies (``ORDERMESH_WEBHOOKS_INLINE=false``), each channel's oldest
    first, ``batch`` at a time. A batch is one transaction: its bodies are locked (bodies another
    worker holds are skipped, should two drain at once), parsed, their new orders
    ingested together (services.orders.ingest_batch, as the inline intake does) and marked
    processed with what became of them; all of it commits together or not at all, so an order is
    made once with its body marked, and a worker dying midway leaves the bodies waiting. Bodies
    that are not one new order (several orders, a cancellation, an update of an order we have, a
    body that does not parse …) are processed one at a time after the batch, as the one-at-a-time
    path does (errors kept on the item); so is every body of a batch that fails as a whole. A
    body some process left 'processing' past the lease (it died) is taken again too. It
    goes on while batches come full, up to ``most`` bodies a call (the worker's events wait
    meanwhile; the job is due again at once). Returns how many bodies it took."""
    taken = 0
    with sync.unit(write=False) as uow:
        channel_ids = repo(uow).webhook_channels(uow.now - sync.lease)
    for channel_id in channel_ids:
        with sync.unit(write=False) as uow:
            record = uow.channel_by_id(channel_id)
        if record is None:
            continue
        full = True
        while full and taken < most:
            with sync.unit(channel_actor(record.spec.code)) as uow:
                items = repo(uow).take_webhooks(channel_id, batch, uow.now - sync.lease)
                if not items:
                    break
                full = len(items) == batch
                try:
                    with uow.one_transaction(gather=True):
                        alone = _apply_webhooks(sync, uow, record, items)
                except Exception:
                    log.exception("a batch of %d queued webhooks failed; processing them one at a time", len(items))
                    uow.rollback()
                    alone = [item.id for item in items]
            for item_id in alone:
                process_item(sync, item_id)
            taken += len(items)
    return taken


def _apply_webhooks(sync: Sync, uow: UnitOfWork, record: ChannelRecord, items: list[InboxRow]) -> list[int]:
    """A batch of one channel's queued bodies in the caller's transaction: the plain new orders
    ingested together and their bodies marked processed; the ids of the bodies left to process
    one at a time."""
    connector = sync.connections.connector(record)
    alone: list[int] = []
    plain: list[tuple[InboxRow, ChannelOrder]] = []
    for item in items:
        try:
            one = _plain(connector.parse_webhook(item.headers, item.body).orders)
        except Exception:
            one = None  # processed alone, which keeps the reason with the body
        if one is None:
            alone.append(item.id)
        else:
            plain.append((item, one))
    done = _ingest_together(uow, record, [o for _, o in plain]) if plain else []
    results = {}
    for (item, order), ingested in zip(plain, done, strict=True):
        if ingested is None:
            alone.append(item.id)
        else:
            results[item.id] = _created_result(order)
    repo(uow).finish_many(results, "processed", uow.now)
    return sorted(alone)


def inbox(uow: UnitOfWork, *, channel: str | None, state: str | None, limit: int = 50) -> list[InboxRow]:
    require(uow.actor, Permission.CHANNELS_READ)
    channel_id = channel_or_404(uow, channel).id if channel else None
    if state is not None and state not in ("received", "processing", "processed", "failed", "rejected"):
        raise ValidationFailed("state must be received, processing, processed, failed or rejected", field="state")
    visible = {c.id for c in uow.all_channels() if uow.actor.sees_channel(c.spec.code)}
    return [r for r in repo(uow).inbox(channel_id=channel_id, state=state, limit=limit) if r.channel_id in visible]


# -- polling ----------------------------------------------------------------------------------


@dataclass
class PullResult:
    pages: int = 0
    orders: int = 0
    errors: list[str] = field(default_factory=list)


def pull_orders(sync: Sync, code: str, *, force: bool = False, max_pages: int = MAX_PAGES_PER_PULL) -> PullResult:
    """Fetch pages since the channel's cursor: each page is stored, and the cursor moved, in one
    transaction, before the page is parsed. A failure backs off (unless ``force``)."""
    result = PullResult()
    with sync.unit(write=False) as uow:
        record = channel_or_404(uow, code)
        state = repo(uow).sync(record.id, "orders")
    if not force and state.next_attempt_at is not None and state.next_attempt_at > _now(sync):
        return result
    try:
        Connections.require_api(record)
        connector = sync.connections.connector(record)
    except (ChannelError, DomainError) as e:
        _failed(sync, record.id, "orders", str(e), state.failures)
        result.errors.append(str(e))
        return result
    cursor = state.cursor
    for _ in range(max_pages):
        try:
            page = connector.fetch_page(cursor)
        except ChannelError as e:
            _failed(sync, record.id, "orders", str(e), state.failures)
            result.errors.append(str(e))
            return result
        with sync.unit() as uow:
            now_state = repo(uow).sync(record.id, "orders", for_update=True)
            if now_state.cursor != cursor:  # another process moved it meanwhile: let it carry on
                uow.commit()
                break
            item_id = repo(uow).store(record.id, "poll", "page", _digest(page.body), {}, page.body, uow.now)
            if item_id is not None:
                uow.emit(events.Event("channel.inbox_received", {"item_id": item_id}))
            repo(uow).succeeded(record.id, "orders", uow.now, cursor=page.next_cursor, last_error=None)
            uow.commit()
        result.pages += 1
        cursor = page.next_cursor
        if item_id is not None:
            error = process_item(sync, item_id, connector)
            if error:
                result.errors.append(error)
        if not page.more:
            break
    return result


def _now(sync: Sync) -> datetime:
    with sync.unit(write=False) as uow:
        return uow.now


def _failed(sync: Sync, channel_id: int, kind: str, error: str, failures: int) -> None:
    with sync.unit() as uow:
        wait = timedelta(seconds=min(3600, 30 * 2**failures))
        repo(uow).failed(channel_id, kind, error, uow.now, uow.now + wait)
        uow.commit()


# -- stock out --------------------------------------------------------------------------------


@dataclass
class PushResult:
    pushed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def mark_dirty_for_skus(uow: UnitOfWork, sku_codes: list[str]) -> int:
    """Stock of these SKUs changed: their listings, and those of bundles made of them, are due a push."""
    ids = uow.skus.ids_for(sku_codes)
    sku_ids = [sku_id for sku_id, _ in ids.values()]
    for sku_id, is_bundle in ids.values():
        if not is_bundle:
            sku_ids += [i for i, _ in uow.skus.ids_for(uow.skus.bundles_containing(sku_id)).values()]
    return repo(uow).mark_dirty(sorted(set(sku_ids)))


def push_inventory(sync: Sync, code: str, *, force: bool = False, reason: str = "inventory") -> PushResult:
    """Push the quantity of every listing whose stock changed since its last push."""
    result = PushResult()
    with sync.unit(write=False) as uow:
        record = channel_or_404(uow, code)
        state = repo(uow).sync(record.id, "inventory")
        now = uow.now
    if not force and state.next_attempt_at is not None and state.next_attempt_at > now:
        return result
    after_id = 0
    while True:
        with sync.unit(write=False) as uow:
            rows = repo(uow).listings(record.id, only_dirty=True, limit=PUSH_BATCH, after_id=after_id)
            ats = listing_ats(uow, record, rows)
        if not rows:
            break
        after_id = rows[-1].id
        levels = [(r, ats[r.id].quantity) for r in rows if r.id in ats]
        _push_levels(sync, record, levels, reason, result, state.failures)
        if result.errors and not result.pushed:
            break  # the channel is failing as a whole: back off rather than hammer it
        if len(rows) < PUSH_BATCH:
            break
    return result


def _push_levels(
    sync: Sync,
    record: ChannelRecord,
    levels: list[tuple[ListingRow, int]],
    kind: str,
    result: PushResult,
    failures: int,
) -> None:
    if not levels:
        return
    try:
        Connections.require_api(record)
        connector = sync.connections.connector(record)
        outcomes = connector.push_inventory(
            [ListingQuantity(Listing(r.listing_id, r.seller_sku, r.attributes), q) for r, q in levels]
        )
    except (ChannelError, DomainError) as e:
        _failed(sync, record.id, "inventory", str(e), failures)
        result.errors.append(str(e))
        result.failed += len(levels)
        return
    by_key = {o.key: o for o in outcomes}
    with sync.unit() as uow:
        pushes = []
        for r, quantity in levels:
            o = by_key.get(r.listing_id)
            ok = o is not None and o.ok
            detail = o.detail if o is not None else "the channel gave no answer for this listing"
            repo(uow).record_push(r, quantity, ok, detail, uow.now)
            pushes.append(
                {"channel_id": record.id, "kind": kind, "key": r.listing_id, "quantity": quantity,
                 "status": None, "ok": ok, "detail": detail[:2000], "at": uow.now}
            )  # fmt: skip
            if ok:
                result.pushed += 1
            else:
                result.failed += 1
                result.errors.append(f"{r.listing_id}: {detail}")
        repo(uow).add_pushes(pushes)
        if result.failed and not result.pushed:
            wait = timedelta(seconds=min(3600, 30 * 2**failures))
            repo(uow).failed(record.id, "inventory", result.errors[0], uow.now, uow.now + wait)
        else:
            repo(uow).succeeded(record.id, "inventory", uow.now, last_error=result.errors[0] if result.errors else None)
        uow.commit()


@dataclass
class Reconciliation:
    checked: int = 0
    drift: list[dict[str, Any]] = field(default_factory=list)
    corrected: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "drift": self.drift, "corrected": self.corrected, "errors": self.errors}


def reconcile(sync: Sync, code: str) -> Reconciliation:
    """Read every mapped listing's quantity back from the channel, report where it differs from
    ours and correct it: the safety net for any missed change."""
    report = Reconciliation()
    after_id = 0
    with sync.unit(write=False) as uow:
        record = channel_or_404(uow, code)
    while True:
        with sync.unit(write=False) as uow:
            rows = [r for r in repo(uow).listings(record.id, after_id=after_id, limit=PUSH_BATCH) if r.active]
            batch_end = after_id
            ats = listing_ats(uow, record, rows)
        if not rows:
            break
        batch_end = rows[-1].id
        mapped = [r for r in rows if r.id in ats]
        try:
            Connections.require_api(record)
            connector = sync.connections.connector(record)
            theirs = connector.read_inventory([Listing(r.listing_id, r.seller_sku, r.attributes) for r in mapped])
        except (ChannelError, DomainError) as e:
            report.errors.append(str(e))
            _failed(sync, record.id, "reconcile", str(e), 0)
            return report
        wrong: list[tuple[ListingRow, int]] = []
        with sync.unit() as uow:
            for r in mapped:
                report.checked += 1
                shown = theirs.get(r.listing_id)
                repo(uow).record_channel_quantity(r.id, shown, uow.now)
                ours = ats[r.id].quantity
                if shown != ours:
                    report.drift.append({"listing_id": r.listing_id, "sku": r.sku_code, "channel": shown, "ours": ours})
                    wrong.append((r, ours))
            uow.commit()
        result = PushResult()
        _push_levels(sync, record, wrong, "reconcile", result, 0)
        report.corrected += result.pushed
        report.errors += result.errors
        after_id = batch_end
        if len(rows) < PUSH_BATCH:
            break
    with sync.unit() as uow:
        if not report.errors:
            repo(uow).succeeded(record.id, "reconcile", uow.now, last_error=None)
        uow.audit("channel.reconciled", "channel", code, after={"checked": report.checked, "drift": len(report.drift)})
        uow.commit()
    return report


# -- status back ------------------------------------------------------------------------------

# What the channel hears of our order statuses (the rest it does not need to know).
TOLD = {
    OrderStatus.ALLOCATED: OrderStatus.CONFIRMED,
    OrderStatus.SHIPPED: OrderStatus.SHIPPED,
    OrderStatus.PARTIALLY_SHIPPED: OrderStatus.SHIPPED,
    OrderStatus.CANCELLED: OrderStatus.CANCELLED,
    OrderStatus.DELIVERED: OrderStatus.DELIVERED,
}


def push_status(sync: Sync, order_id: int, new_status: str, old_status: str | None = None) -> str | None:
    """Tell the order's channel what happened to it. Raises ChannelError when the channel did not
    acknowledge, so the outbox retries it; returns what was told, or None when nothing was due."""
    told = TOLD.get(OrderStatus(new_status))
    if told is None or (told is OrderStatus.CONFIRMED and old_status not in (None, "pending", "on_hold", "confirmed")):
        return None
    with sync.unit(write=False) as uow:
        order = uow.orders.get(order_id)
        if order is None:
            return None
        record = uow.channel_by_id(order.row.channel_id)
        if record is None or not record.spec.base_url or not sync.connections.can_connect(record):
            return None
        facts = uow.skus.facts_for([line.sku_code for line in order.lines])
        shipped = repo(uow).latest_shipment(order_id) if told in (OrderStatus.SHIPPED, OrderStatus.DELIVERED) else None
    data = order.row.channel_data or {}
    # GST rates by the channel's ids of each line (marketplaces ask for them when packing).
    tax_rates: dict[str, str] = {}
    for line, sent in zip(order.lines, data.get("lines", []), strict=False):
        fact = facts.get(line.sku_code)
        if fact is not None:
            for key in (sent.get("line_id"), sent.get("seller_sku"), sent.get("listing_id"), line.sku_code):
                if key:
                    tax_rates.setdefault(str(key), str(fact.gst_rate))
    lines = [
        ChannelLine(
            str(x.get("listing_id") or ""),
            x.get("seller_sku"),
            int(x.get("quantity") or 0),
            Decimal(0),
            line_id=x.get("line_id"),
        )
        for x in data.get("lines", [])
    ]
    update = StatusUpdate(
        order.row.external_id,
        told,
        lines,
        carrier=shipped.carrier if shipped else None,
        tracking_number=shipped.awb if shipped else None,
        tracking_url=shipped.tracking_url if shipped else None,
        extra={**(data.get("extra") or {}), "tax_rates": tax_rates},
    )
    outcome = sync.connections.connector(record).push_status(update)
    with sync.unit() as uow:
        repo(uow).add_pushes(
            [{"channel_id": record.id, "kind": "status", "key": order.row.external_id, "quantity": None,
              "status": told.value, "ok": outcome.ok, "detail": outcome.detail[:2000], "at": uow.now}]
        )  # fmt: skip
        if outcome.ok:
            repo(uow).succeeded(record.id, "status", uow.now, last_error=None)
        else:
            repo(uow).failed(record.id, "status", outcome.detail, uow.now, uow.now)
        uow.commit()
    if not outcome.ok and outcome.retryable:
        raise ChannelError(
            f"{record.spec.code} did not acknowledge {told.value} of {order.row.external_id}: {outcome.detail}"
        )
    return told.value


# -- health -----------------------------------------------------------------------------------


def health(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Per channel: last successful pull and push, lag, failures with their error text."""
    require(uow.actor, Permission.CHANNELS_READ)
    states = {(s.channel_id, s.kind): s for s in repo(uow).all_sync()}
    out = []
    for record in uow.all_channels():
        if not uow.actor.sees_channel(record.spec.code):
            continue
        counts = repo(uow).counts(record.id)
        kinds = {}
        for kind in ("orders", "inventory", "status", "reconcile"):
            s = states.get((record.id, kind))
            kinds[kind] = {
                "last_success_at": s.last_success_at if s else None,
                "last_attempt_at": s.last_attempt_at if s else None,
                "lag_seconds": int((uow.now - s.last_success_at).total_seconds()) if s and s.last_success_at else None,
                "failures": s.failures if s else 0,
                "last_error": s.last_error if s else None,
                "last_error_at": s.last_error_at if s else None,
                "next_attempt_at": s.next_attempt_at if s else None,
            }
        out.append(
            {
                "channel": record.spec.code,
                "type": record.spec.type.value,
                "name": record.spec.name,
                "connected": bool(record.spec.base_url) and record.spec.type.value not in ("manual", "csv"),
                "inbox": {
                    "failed": counts.get("failed", 0),
                    "rejected": counts.get("rejected", 0),
                    "waiting": counts.get("received", 0) + counts.get("processing", 0),
                    "processed": counts.get("processed", 0),
                },
                **kinds,
                "pending_pushes": len(repo(uow).listings(record.id, only_dirty=True, limit=1000)),
            }
        )
    return out


def json_body(value: Any) -> bytes:
    return json.dumps(value, default=str).encode()
