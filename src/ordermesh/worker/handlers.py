"""What the worker does with each outbox topic. A handler gets a unit of work scoped to the
event's tenant; the worker marks the event done in that same transaction, so a handler that only
touches the database runs exactly once. Topics without a handler are simply marked delivered:
nothing subscribes to them yet (channel sync and webhooks subscribe in later releases)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ordermesh.adapters.db.uow import UnitOfWork

Handler = Callable[[UnitOfWork, dict[str, Any]], None]


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


EVENT_HANDLERS: dict[str, list[Handler]] = {
    "inventory.stock_changed": [allocate_waiting_orders],
    "inventory.low_stock": [open_low_stock_alert],
    "inventory.stock_recovered": [resolve_low_stock_alert],
}
