"""What the worker does with each outbox topic.

EVENT_HANDLERS get a unit of work scoped to the event's tenant; the worker marks the event done in
that same transaction, so a handler that only touches the database runs exactly once.
CALLING_HANDLERS talk to channels: they run first, outside that transaction, in units of work of
their own (no other writer waits on a remote call), and raise when the channel did not
acknowledge, so the event is retried with back-off; they are idempotent. Topics without a handler
are simply marked delivered."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ordermesh.adapters.db.uow import UnitOfWork

if TYPE_CHECKING:
    from ordermesh.bootstrap import Container

Handler = Callable[[UnitOfWork, dict[str, Any]], None]
CallingHandler = Callable[["Container", int, dict[str, Any]], None]


def open_low_stock_alert(uow: UnitOfWork, payload: dict[str, Any]) -> None:
    subject = f"{payload['sku']}@{payload['location']}"
    uow.alerts.open_one(
        "low_stock",
        subject,
        f"{payload['sku']} at {payload['location']}: {payload['available']} available "
        f"(alert at {payload['threshold']} or fewer)",
        payload,
        uow.now,
    )


def resolve_low_stock_alert(uow: UnitOfWork, payload: dict[str, Any]) -> None:
    uow.alerts.resolve("low_stock", f"{payload['sku']}@{payload['location']}", uow.now)


def allocate_waiting_orders(uow: UnitOfWork, payload: dict[str, Any]) -> None:
    from ordermesh.services.orders import allocate_backorders

    allocate_backorders(uow, sorted({item["sku"] for item in payload.get("items", [])}))


def mark_listings_for_push(uow: UnitOfWork, payload: dict[str, Any]) -> None:
    from ordermesh.services.channel_sync import mark_dirty_for_skus

    mark_dirty_for_skus(uow, sorted({item["sku"] for item in payload.get("items", [])}))


def mark_order_listings_for_push(uow: UnitOfWork, payload: dict[str, Any]) -> None:
    """An order that was held or not yet routed counts against the channel's available-to-sell;
    when its status moves, its SKUs' listings are pushed again."""
    from ordermesh.services.channel_sync import mark_dirty_for_skus

    order = uow.orders.get(int(payload["order_id"]))
    if order is not None:
        mark_dirty_for_skus(uow, sorted({line.sku_code for line in order.lines}))


def order_status_to_channel(container: Container, tenant_id: int, payload: dict[str, Any]) -> None:
    """Tell the order's channel: accepted, shipped (carrier and AWB), cancelled."""
    from ordermesh.services.channel_sync import push_status

    push_status(sync_of(container, tenant_id), int(payload["order_id"]), payload["to"], payload.get("from"))


def process_inbox_item(container: Container, tenant_id: int, payload: dict[str, Any]) -> None:
    """The safety net behind inline processing: an item nobody processed yet is processed now."""
    from ordermesh.services.channel_sync import process_item

    process_item(sync_of(container, tenant_id), int(payload["item_id"]), wait_if_busy=True)


def ndr_decision_to_carrier(container: Container, tenant_id: int, payload: dict[str, Any]) -> None:
    """Send the NDR policy's automatic decision (return to origin) to the shipment's carrier."""
    from ordermesh.services.shipping import send_ndr_decision

    if payload.get("automatic"):  # a person's decision is sent as they take it
        send_ndr_decision(sync_of(container, tenant_id), int(payload["shipment_id"]), str(payload["action"]))


def sync_of(container: Container, tenant_id: int, *, single_try: bool = True) -> Any:
    from datetime import timedelta

    from ordermesh.services.channel_sync import Sync

    s = container.settings
    connections = container.connections.single_try() if single_try else container.connections
    return Sync(container.uow, connections, tenant_id, timedelta(seconds=s.worker_lease_seconds))


EVENT_HANDLERS: dict[str, list[Handler]] = {
    "inventory.stock_changed": [allocate_waiting_orders, mark_listings_for_push],
    "inventory.low_stock": [open_low_stock_alert],
    "inventory.stock_recovered": [resolve_low_stock_alert],
    "order.status_changed": [mark_order_listings_for_push],
}

CALLING_HANDLERS: dict[str, list[CallingHandler]] = {
    "order.status_changed": [order_status_to_channel],
    "channel.inbox_received": [process_inbox_item],
    "shipment.ndr_action": [ndr_decision_to_carrier],
}
