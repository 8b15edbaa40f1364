"""Domain events, past tense. The unit of work writes them to the outbox in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    topic: str
    payload: dict[str, Any] = field(default_factory=dict)


def sku_created(code: str) -> Event:
    return Event("catalog.sku_created", {"sku": code})


def sku_updated(code: str, changed: list[str]) -> Event:
    return Event("catalog.sku_updated", {"sku": code, "changed": changed})


def location_created(code: str) -> Event:
    return Event("locations.location_created", {"location": code})


def stock_changed(pairs: list[tuple[str, str]]) -> Event:
    """Available stock may have changed for these (SKU, location) pairs; channel sync listens."""
    return Event("inventory.stock_changed", {"items": [{"sku": s, "location": loc} for s, loc in pairs]})


def low_stock(sku: str, location: str, available: int, threshold: int) -> Event:
    return Event(
        "inventory.low_stock",
        {"sku": sku, "location": location, "available": available, "threshold": threshold},
    )


def stock_recovered(sku: str, location: str, available: int) -> Event:
    return Event("inventory.stock_recovered", {"sku": sku, "location": location, "available": available})
