"""Available-to-sell on a channel: the one formula every listing's pushed quantity comes from.

    ATS = Σ available at the locations that serve the channel (on hand − reserved − safety stock)
          − units of accepted orders not yet routed
          − the channel's buffer
    then the channel's rule: a percentage of that pool, at most a maximum, and zero below a
    threshold (so the last few units are not offered where a cancellation costs a penalty).

A bundle's pool is what its components make at each location (a bundle ships from one place),
and never more than the components' own pools, net of their unrouted orders, allow. Every term is
kept, so a seller can see why Flipkart shows 7.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ordermesh.domain.errors import Collector


@dataclass(frozen=True)
class ChannelRule:
    buffer: int = 0  # units never offered on this channel
    percent: int = 100  # share of the pool offered, 0-100, rounded down
    maximum: int | None = None  # never offer more than this
    zero_below: int = 0  # offer 0 when fewer than this would be offered

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], errors: Collector, where: str = "inventory") -> ChannelRule:
        known = {"buffer", "percent", "maximum", "zero_below"}
        for key in sorted(set(raw) - known):
            errors.add(f"{where}.{key}", f"unknown setting; use {', '.join(sorted(known))}")

        def whole(key: str, default: int | None, low: int, high: int | None = None) -> int | None:
            value = raw.get(key, default)
            if value is None:
                return None
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < low
                or (high is not None and value > high)
            ):
                bound = f" and at most {high}" if high else ""
                errors.add(f"{where}.{key}", f"must be a whole number of at least {low}{bound}")
                return default
            return value

        percent = whole("percent", 100, 0, 100)
        return cls(
            buffer=whole("buffer", 0, 0) or 0,
            percent=100 if percent is None else percent,
            maximum=whole("maximum", None, 0),
            zero_below=whole("zero_below", 0, 0) or 0,
        )

    def as_dict(self) -> dict[str, Any]:
        return {"buffer": self.buffer, "percent": self.percent, "maximum": self.maximum, "zero_below": self.zero_below}


@dataclass(frozen=True)
class LocationStock:
    location: str
    on_hand: int
    reserved: int
    safety_stock: int

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)


@dataclass(frozen=True)
class Ats:
    """A listing's quantity and every term that made it."""

    quantity: int
    pool: int  # Σ available at serving locations (safety stock already out)
    on_hand: int
    reserved: int
    safety_stock: int
    unrouted: int
    buffer: int
    before_rule: int  # pool − unrouted − buffer, never below 0
    rule: str  # what the rule did, in words ("60% of 12 = 7"), or "" when it changed nothing
    locations: dict[str, int]  # available by serving location

    def as_dict(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "pool": self.pool,
            "on_hand": self.on_hand,
            "reserved": self.reserved,
            "safety_stock": self.safety_stock,
            "unrouted": self.unrouted,
            "buffer": self.buffer,
            "before_rule": self.before_rule,
            "rule": self.rule,
            "locations": dict(self.locations),
        }

    def explain(self) -> str:
        parts = [f"{self.pool} available at {len(self.locations)} location(s)"]
        if self.unrouted:
            parts.append(f"− {self.unrouted} in orders not yet routed")
        if self.buffer:
            parts.append(f"− buffer {self.buffer}")
        text = " ".join(parts) + f" = {self.before_rule}"
        return f"{text}; {self.rule}" if self.rule else text


def apply_rule(net: int, rule: ChannelRule) -> tuple[int, str]:
    quantity = net * rule.percent // 100
    said = []
    if rule.percent != 100:
        said.append(f"{rule.percent}% of {net} = {quantity}")
    if rule.maximum is not None and quantity > rule.maximum:
        quantity = rule.maximum
        said.append(f"capped at {rule.maximum}")
    if 0 < quantity < rule.zero_below:
        said.append(f"{quantity} is below {rule.zero_below}, so 0")
        quantity = 0
    return quantity, "; ".join(said)


def available_to_sell(stock: list[LocationStock], unrouted: int, rule: ChannelRule) -> Ats:
    """A plain SKU's ATS on one channel; ``stock``: its balances at the locations serving it."""
    pool = sum(s.available for s in stock)
    return _finish(
        pool,
        unrouted,
        rule,
        on_hand=sum(s.on_hand for s in stock),
        reserved=sum(s.reserved for s in stock),
        safety=sum(min(s.safety_stock, max(0, s.on_hand - s.reserved)) for s in stock),
        locations={s.location: s.available for s in stock},
    )


def bundle_available_to_sell(
    components: list[tuple[int, list[LocationStock], int]], unrouted: int, rule: ChannelRule
) -> Ats:
    """A bundle's ATS: ``components`` as (units per bundle, balances at serving locations, units of
    that component in unrouted orders); ``unrouted``: bundles in unrouted orders."""
    if not components:
        return _finish(0, unrouted, rule, on_hand=0, reserved=0, safety=0, locations={})
    places = set.intersection(*({s.location for s in stock} for _, stock, _ in components))
    at: dict[str, int] = {}
    for place in sorted(places):
        at[place] = min(next(s.available for s in stock if s.location == place) // per for per, stock, _ in components)
    pool = sum(at.values())
    # Orders not yet routed for a component compete for the same units.
    for per, stock, component_unrouted in components:
        pool = min(pool, max(0, sum(s.available for s in stock) - component_unrouted) // per)
    return _finish(pool, unrouted, rule, on_hand=0, reserved=0, safety=0, locations=at)


def _finish(
    pool: int, unrouted: int, rule: ChannelRule, *, on_hand: int, reserved: int, safety: int, locations: dict[str, int]
) -> Ats:
    before = max(0, pool - unrouted - rule.buffer)
    quantity, said = apply_rule(before, rule)
    return Ats(quantity, pool, on_hand, reserved, safety, unrouted, rule.buffer, before, said, locations)
