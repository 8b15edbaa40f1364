"""Available-to-sell: the formula behind every quantity pushed to a channel."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ordermesh.domain.availability import (
    ChannelRule,
    LocationStock,
    available_to_sell,
    bundle_available_to_sell,
)
from ordermesh.domain.errors import Collector


def at(location: str, on_hand: int, reserved: int = 0, safety: int = 0) -> LocationStock:
    return LocationStock(location, on_hand, reserved, safety)


def test_sums_serving_locations_less_unrouted_and_buffer() -> None:
    ats = available_to_sell([at("BLR", 10, 2, 1), at("DEL", 5)], unrouted=3, rule=ChannelRule(buffer=2))
    assert ats.pool == 7 + 5
    assert (ats.on_hand, ats.reserved, ats.safety_stock, ats.unrouted, ats.buffer) == (15, 2, 1, 3, 2)
    assert ats.before_rule == 12 - 3 - 2
    assert ats.quantity == 7
    assert ats.locations == {"BLR": 7, "DEL": 5}
    assert ats.explain() == "12 available at 2 location(s) − 3 in orders not yet routed − buffer 2 = 7"


def test_rule_percent_maximum_and_zero_below() -> None:
    stock = [at("BLR", 20)]
    assert available_to_sell(stock, 0, ChannelRule(percent=60)).quantity == 12
    assert available_to_sell(stock, 0, ChannelRule(percent=60)).rule == "60% of 20 = 12"
    assert available_to_sell(stock, 0, ChannelRule(maximum=5)).quantity == 5
    few = available_to_sell([at("BLR", 3)], 0, ChannelRule(zero_below=4))
    assert few.quantity == 0 and "below 4" in few.rule
    assert available_to_sell([at("BLR", 4)], 0, ChannelRule(zero_below=4)).quantity == 4


def test_never_negative_and_safety_stock_never_below_zero_per_location() -> None:
    ats = available_to_sell([at("BLR", 2, 0, 5), at("DEL", 4, 4)], unrouted=10, rule=ChannelRule(buffer=3))
    assert ats.pool == 0 and ats.quantity == 0 and ats.safety_stock == 2


def test_bundle_is_built_per_location_and_limited_by_component_orders() -> None:
    # 2 mugs + 1 coaster; BLR makes min(7//2, 5) = 3, DEL min(4//2, 0) = 0
    mugs = [at("BLR", 7), at("DEL", 4)]
    coasters = [at("BLR", 5), at("DEL", 0)]
    ats = bundle_available_to_sell([(2, mugs, 0), (1, coasters, 0)], unrouted=0, rule=ChannelRule())
    assert ats.quantity == 3 and ats.locations == {"BLR": 3, "DEL": 0}
    # 4 coasters already promised to orders not yet routed: only 1 coaster left for bundles
    limited = bundle_available_to_sell([(2, mugs, 0), (1, coasters, 4)], unrouted=0, rule=ChannelRule())
    assert limited.quantity == 1
    assert bundle_available_to_sell([], 0, ChannelRule()).quantity == 0


def test_rule_from_settings_names_bad_values() -> None:
    errors = Collector()
    rule = ChannelRule.from_dict({"buffer": 2, "percent": 150, "maximum": -1, "colour": "red"}, errors)
    fields = {e.field for e in errors.errors}
    assert fields == {"inventory.percent", "inventory.maximum", "inventory.colour"}
    assert rule.buffer == 2
    ok = Collector()
    assert ChannelRule.from_dict({"percent": 0, "zero_below": 3}, ok) == ChannelRule(percent=0, zero_below=3)
    assert not ok.errors


@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 10)), max_size=5),
    st.integers(0, 40),
    st.integers(0, 10),
    st.integers(0, 100),
    st.one_of(st.none(), st.integers(0, 30)),
    st.integers(0, 10),
)
def test_never_offers_more_than_is_free(
    rows: list[tuple[int, int, int]], unrouted: int, buffer: int, percent: int, maximum: int | None, zero_below: int
) -> None:
    stock = [at(f"L{i}", on_hand, min(reserved, on_hand), safety) for i, (on_hand, reserved, safety) in enumerate(rows)]
    rule = ChannelRule(buffer, percent, maximum, zero_below)
    ats = available_to_sell(stock, unrouted, rule)
    free = sum(max(0, s.on_hand - s.reserved - s.safety_stock) for s in stock)
    assert 0 <= ats.quantity <= max(0, free - unrouted - buffer)
    assert maximum is None or ats.quantity <= maximum
    assert ats.quantity == 0 or ats.quantity >= zero_below
