"""Routing without a database: each stage of the pipeline, every sentence it writes, and properties
checked against a brute-force search over every feasible assignment."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ordermesh.domain import routing, routing_search
from ordermesh.domain.routing import (
    STRATEGIES,
    Assignment,
    Candidate,
    Outcome,
    RouteLine,
    RoutingDecision,
    RoutingRequest,
    RoutingRules,
    Verdict,
    default_strategy,
    route,
)
from ordermesh.domain.statuses import PaymentMethod
from ordermesh.domain.zones import PincodeInfo, Zone, distance_km, zone_for

MUMBAI = PincodeInfo("400001", "27", "MUMBAI", 18.94, 72.84)
BHIWANDI = PincodeInfo("421302", "27", "THANE", 19.30, 73.15)
THANE = PincodeInfo("400601", "27", "THANE", 19.19, 72.97)
PUNE = PincodeInfo("411001", "27", "PUNE", 18.52, 73.86)
NAGPUR = PincodeInfo("440001", "27", "NAGPUR", 21.15, 79.09)
GURUGRAM = PincodeInfo("122001", "06", "GURUGRAM", 28.46, 77.03)
BENGALURU = PincodeInfo("560001", "29", "BENGALURU URBAN", 12.97, 77.59)
KOLKATA = PincodeInfo("700001", "19", "KOLKATA", 22.57, 88.35)
JAIPUR = PincodeInfo("302001", "08", "JAIPUR", 26.92, 75.80)
GUWAHATI = PincodeInfo("781001", "18", "KAMRUP METRO", 26.19, 91.75)
NOWHERE = PincodeInfo("999999", "")  # a pincode the data could not place: no state, no centroid


def line(key: str = "L1", sku: str = "TS-CREW-BLK-M", quantity: int = 1, value: str = "499") -> RouteLine:
    return RouteLine(key, sku, quantity, Decimal(value))


def loc(code: str, origin: PincodeInfo, stock: dict[str, int] | None = None, **facts: Any) -> Candidate:
    return Candidate(code, origin, stock=stock or {}, **facts)


THREE_LINES = [line("L1", "TS-CREW-BLK-M", 2, "998"), line("L2", "JEANS-32", 1, "1499"), line("L3", "CAP", 1, "299")]
ALL_THREE = {"TS-CREW-BLK-M": 5, "JEANS-32": 5, "CAP": 5}


def sentence(decision: RoutingDecision, start: str) -> str:
    """The one explanation sentence that starts with ``start``."""
    found = [s for s in decision.explanation if s.startswith(start)]
    assert len(found) == 1, decision.explanation
    return found[0]


def verdict_of(decision: RoutingDecision, code: str) -> Verdict:
    return next(v.verdict for v in decision.verdicts if v.location == code)


# --- one location has everything ----------------------------------------------------------------


def test_one_location_with_everything_ships_the_whole_order() -> None:
    # given
    bhiwandi = loc("BHW01", BHIWANDI, ALL_THREE, priority=1, name="Bhiwandi")
    # when
    decision = route(THREE_LINES, [bhiwandi], MUMBAI)
    # then
    assert decision.outcome is Outcome.ALLOCATED
    assert decision.strategy == "default"
    assert decision.assignments == (
        Assignment("L1", "BHW01", 2),
        Assignment("L2", "BHW01", 1),
        Assignment("L3", "BHW01", 1),
    )
    assert decision.shipments == {"BHW01": ("L1", "L2", "L3")}
    assert decision.explanation == (
        "Allocated to BHW01 in one shipment.",
        "BHW01 Bhiwandi: all 3 lines in stock, zone local (A), priority 1",
    )
    (verdict,) = decision.verdicts
    assert (verdict.location, verdict.verdict, verdict.zone, verdict.shortages) == (
        "BHW01",
        Verdict.CHOSEN,
        Zone.LOCAL,
        (),
    )
    assert verdict.distance_km == pytest.approx(distance_km(BHIWANDI, MUMBAI))


def test_a_one_line_order_says_so() -> None:
    decision = route([line()], [loc("BHW01", BHIWANDI, {"TS-CREW-BLK-M": 1})], MUMBAI)
    assert decision.explanation[1] == "BHW01: the only line in stock, zone local (A), priority 100"


def test_the_nearest_zone_wins_over_a_better_priority() -> None:
    # given: Pune's own warehouse has a worse priority than Bhiwandi
    pune = loc("PNQ01", PUNE, ALL_THREE, priority=5, name="Pune")
    bhiwandi = loc("BHW01", BHIWANDI, ALL_THREE, priority=1, name="Bhiwandi")
    # when
    decision = route(THREE_LINES, [bhiwandi, pune], PincodeInfo("411057", "27", "PUNE", 18.59, 73.74))
    # then
    assert decision.shipments == {"PNQ01": ("L1", "L2", "L3")}
    assert sentence(decision, "BHW01") == (
        "BHW01 Bhiwandi passed over: all 3 lines in stock too, but zone regional (B) is farther than zone local (A)"
    )
    assert verdict_of(decision, "BHW01") is Verdict.PASSED_OVER


def test_more_capacity_left_wins_over_a_better_priority_in_the_same_zone() -> None:
    # given: two warehouses in the Mumbai metro area
    busy = loc("BHW01", BHIWANDI, ALL_THREE, priority=1, capacity_left=10)
    free = loc("TNA01", THANE, ALL_THREE, priority=9, capacity_left=40)
    # when
    decision = route(THREE_LINES, [busy, free], MUMBAI)
    # then
    assert decision.shipments == {"TNA01": ("L1", "L2", "L3")}
    assert (
        sentence(decision, "TNA01") == "TNA01: all 3 lines in stock, zone local (A), priority 9, capacity left today 40"
    )
    assert sentence(decision, "BHW01") == (
        "BHW01 passed over: all 3 lines in stock too, but it has less capacity left today (10 vs 40)"
    )


def test_no_capacity_limit_counts_as_the_most_capacity() -> None:
    decision = route(
        THREE_LINES, [loc("BHW01", BHIWANDI, ALL_THREE, capacity_left=10), loc("TNA01", THANE, ALL_THREE)], MUMBAI
    )
    assert decision.shipments == {"TNA01": ("L1", "L2", "L3")}
    assert sentence(decision, "BHW01").endswith("it has less capacity left today (10 vs no limit)")


def test_a_location_out_of_capacity_today_is_the_last_resort_even_when_nearest() -> None:
    # given
    full_today = loc("BHW01", BHIWANDI, ALL_THREE, capacity_left=0)
    far = loc("CCU01", KOLKATA, ALL_THREE, capacity_left=5)
    # when
    decision = route(THREE_LINES, [full_today, far], MUMBAI)
    # then
    assert decision.shipments == {"CCU01": ("L1", "L2", "L3")}
    assert (
        sentence(decision, "BHW01") == "BHW01 passed over: all 3 lines in stock too, but it has no capacity left today"
    )
    # and when it is the only one with everything, it still gets the order (capacity is soft)
    alone = route(THREE_LINES, [full_today, replace(far, stock={})], MUMBAI)
    assert alone.shipments == {"BHW01": ("L1", "L2", "L3")}


def test_priority_decides_between_equals() -> None:
    decision = route(
        THREE_LINES, [loc("BHW01", BHIWANDI, ALL_THREE, priority=5), loc("TNA01", THANE, ALL_THREE, priority=1)], MUMBAI
    )
    assert decision.shipments == {"TNA01": ("L1", "L2", "L3")}
    assert sentence(decision, "BHW01").endswith("but priority 5 comes after 1")


def test_the_code_breaks_a_complete_tie() -> None:
    decision = route(THREE_LINES, [loc("TNA01", THANE, ALL_THREE), loc("BHW01", BHIWANDI, ALL_THREE)], MUMBAI)
    assert decision.shipments == {"BHW01": ("L1", "L2", "L3")}
    assert sentence(decision, "TNA01").endswith("but on a tie BHW01 sorts first")


# --- eligibility, payment, serviceability --------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "payment", "verdict", "words"),
    [
        ({"serves_channel": False}, "prepaid", Verdict.NOT_SERVING_CHANNEL, "excluded: does not serve this channel"),
        ({"ships": False}, "prepaid", Verdict.NOT_SHIPPING, "excluded: does not ship orders"),
        ({"active": False}, "prepaid", Verdict.INACTIVE, "excluded: inactive"),
        ({"excluded_today": True}, "prepaid", Verdict.EXCLUDED_TODAY, "excluded: excluded for today"),
        ({"cod_allowed": False}, "cod", Verdict.NO_COD, "excluded: does not ship COD"),
        ({"serviceable": False}, "prepaid", Verdict.UNSERVICEABLE, "excluded: cannot deliver to 400001"),
    ],
)
def test_a_location_that_cannot_take_the_order_is_excluded_with_its_reason(
    facts: dict[str, bool], payment: str, verdict: Verdict, words: str
) -> None:
    # given: the nearest location fails one check; a far one passes them all
    near = loc("BLR01", BHIWANDI, ALL_THREE, name="Bhiwandi", **facts)
    far = loc("CCU01", KOLKATA, ALL_THREE)
    # when
    decision = route(THREE_LINES, [near, far], MUMBAI, payment)
    # then
    assert decision.shipments == {"CCU01": ("L1", "L2", "L3")}
    assert verdict_of(decision, "BLR01") is verdict
    assert sentence(decision, "BLR01") == f"BLR01 Bhiwandi {words}"
    excluded = decision.verdicts[0]
    assert (excluded.zone, excluded.distance_km, excluded.shortages) == (None, None, ())


def test_the_first_check_that_fails_is_the_reason_given() -> None:
    candidate = loc("BLR01", BENGALURU, ALL_THREE, active=False, serves_channel=False, cod_allowed=False)
    decision = route(THREE_LINES, [candidate], MUMBAI, PaymentMethod.COD)
    assert verdict_of(decision, "BLR01") is Verdict.NOT_SERVING_CHANNEL


def test_a_location_without_cod_still_ships_prepaid_orders() -> None:
    decision = route(THREE_LINES, [loc("BLR01", BENGALURU, ALL_THREE, cod_allowed=False)], MUMBAI, "prepaid")
    assert decision.outcome is Outcome.ALLOCATED


def test_no_eligible_location_is_an_outcome_of_its_own() -> None:
    # when
    decision = route(THREE_LINES, [loc("BLR01", BENGALURU, ALL_THREE, serviceable=False)], None)
    # then
    assert decision.outcome is Outcome.NO_ELIGIBLE_LOCATION
    assert decision.assignments == ()
    assert decision.shipments == {}
    assert decision.explanation == (
        "No location can ship this order: none passes the channel, payment and pincode checks.",
        "BLR01 excluded: cannot deliver to this pincode",
    )


def test_an_order_to_an_unknown_pincode_still_routes_with_zones_unknown() -> None:
    # when
    decision = route(THREE_LINES, [loc("BHW01", BHIWANDI, ALL_THREE, priority=1)], None)
    # then
    assert decision.outcome is Outcome.ALLOCATED
    assert decision.explanation[1] == "BHW01: all 3 lines in stock, zone unknown, priority 1"
    assert decision.verdicts[0].zone is None


# --- stock ----------------------------------------------------------------------------------------


def test_a_location_short_of_stock_is_skipped_with_what_it_lacks() -> None:
    # given
    gurugram = loc("GGN01", GURUGRAM, {"TS-CREW-BLK-M": 0, "JEANS-32": 1, "CAP": 0}, name="Gurugram")
    bhiwandi = loc("BHW01", BHIWANDI, ALL_THREE)
    # when
    decision = route(THREE_LINES, [gurugram, bhiwandi], GURUGRAM)
    # then
    assert decision.shipments == {"BHW01": ("L1", "L2", "L3")}
    assert sentence(decision, "GGN01") == "GGN01 Gurugram skipped: TS-CREW-BLK-M short by 2, CAP short by 1"
    assert decision.verdicts[0].verdict is Verdict.SHORT
    assert decision.verdicts[0].shortages == (("TS-CREW-BLK-M", 2), ("CAP", 1))
    assert decision.verdicts[0].zone is Zone.LOCAL


def test_lines_of_the_same_sku_share_its_stock() -> None:
    # given: two lines of one SKU, 4 units in all; the nearer location has 3
    lines = [line("L1", "MUG", 2), line("L2", "MUG", 2)]
    near, far = loc("BHW01", BHIWANDI, {"MUG": 3}), loc("CCU01", KOLKATA, {"MUG": 4})
    # when
    decision = route(lines, [near, far], MUMBAI)
    # then
    assert decision.shipments == {"CCU01": ("L1", "L2")}
    assert sentence(decision, "BHW01") == "BHW01 skipped: MUG short by 1"


def test_negative_stock_counts_as_none() -> None:
    decision = route([line(sku="MUG")], [loc("BHW01", BHIWANDI, {"MUG": -3})], MUMBAI)
    assert decision.outcome is Outcome.OUT_OF_STOCK
    assert decision.verdicts[0].shortages == (("MUG", 1),)


def test_out_of_stock_when_the_eligible_locations_together_lack_units() -> None:
    # given: 3 mugs wanted, 2 across both locations; the excluded one's stock does not count
    lines = [line("L1", "MUG", 3), line("L2", "CAP", 1)]
    candidates = [
        loc("BHW01", BHIWANDI, {"MUG": 1, "CAP": 1}),
        loc("CCU01", KOLKATA, {"MUG": 1}),
        loc("BLR01", BENGALURU, {"MUG": 9}, active=False),
    ]
    # when
    decision = route(lines, candidates, MUMBAI)
    # then
    assert decision.outcome is Outcome.OUT_OF_STOCK
    assert decision.assignments == ()
    assert decision.explanation[0] == "Not enough stock at the eligible locations: MUG short by 1."


# --- splits ---------------------------------------------------------------------------------------


def test_an_order_is_split_only_when_no_single_location_has_everything() -> None:
    # given
    lines = [line("L1", "MUG", 1, "300"), line("L2", "CAP", 1, "200")]
    mugs = loc("BHW01", BHIWANDI, {"MUG": 5}, priority=1, name="Bhiwandi")
    caps = loc("GGN01", GURUGRAM, {"CAP": 5}, priority=2)
    # when
    decision = route(lines, [mugs, caps], MUMBAI)
    # then
    assert decision.outcome is Outcome.ALLOCATED
    assert decision.shipments == {"BHW01": ("L1",), "GGN01": ("L2",)}
    assert decision.explanation == (
        "No single location has all 2 lines: split into 2 shipments (BHW01: L1; GGN01: L2).",
        "BHW01 Bhiwandi: ships L1 (₹300.00), zone local (A), priority 1",
        "GGN01: ships L2 (₹200.00), zone metro (C), priority 2",
    )
    assert [v.verdict for v in decision.verdicts] == [Verdict.CHOSEN, Verdict.CHOSEN]


def test_a_split_uses_the_fewest_locations_before_the_nearest() -> None:
    # given: three near locations with one line each, or two far ones with all three between them
    lines = [line("L1", "A"), line("L2", "B"), line("L3", "C")]
    candidates = [
        loc("NEAR1", BHIWANDI, {"A": 1}),
        loc("NEAR2", THANE, {"B": 1}),
        loc("NEAR3", MUMBAI, {"C": 1}),
        loc("FAR1", KOLKATA, {"A": 1, "B": 1}),
        loc("FAR2", GUWAHATI, {"C": 1}),
    ]
    # when
    decision = route(lines, candidates, MUMBAI)
    # then: two shipments; FAR1 pairs with the nearest location that has C
    assert decision.shipments == {"NEAR3": ("L3",), "FAR1": ("L1", "L2")}
    assert verdict_of(decision, "NEAR1") is Verdict.SHORT
    assert sentence(decision, "NEAR1") == "NEAR1 skipped: B short by 1, C short by 1"


def test_between_equal_zones_a_split_takes_the_shorter_distance() -> None:
    # given: Pune and Nagpur are both "same state" for Mumbai; Pune is nearer
    lines = [line("L1", "A"), line("L2", "B")]
    candidates = [loc("BHW01", BHIWANDI, {"A": 1}), loc("NAG01", NAGPUR, {"B": 1}), loc("PNQ01", PUNE, {"B": 1})]
    # when
    decision = route(lines, candidates, MUMBAI)
    # then
    assert decision.shipments == {"BHW01": ("L1",), "PNQ01": ("L2",)}


def test_a_line_ships_whole_when_some_location_holds_all_of_it() -> None:
    # given: BHW01 has 2 of the 3 mugs and the cap; CCU01 has all 3 mugs; PNQ01 has 1 mug
    lines = [line("L1", "MUG", 3, "900"), line("L2", "CAP", 1, "200")]
    candidates = [
        loc("BHW01", BHIWANDI, {"MUG": 2, "CAP": 1}),
        loc("CCU01", KOLKATA, {"MUG": 3}),
        loc("PNQ01", PUNE, {"MUG": 1}),
    ]
    # when
    decision = route(lines, candidates, MUMBAI)
    # then: BHW01 + PNQ01 would be nearer, but only by splitting the mugs, which CCU01 makes needless
    assert decision.shipments == {"CCU01": ("L1",), "BHW01": ("L2",)}
    assert decision.assignments == (Assignment("L1", "CCU01", 3), Assignment("L2", "BHW01", 1))


def test_a_line_is_split_by_quantity_when_no_location_holds_all_of_it() -> None:
    # given
    lines = [line("L1", "MUG", 3, "900")]
    candidates = [loc("BHW01", BHIWANDI, {"MUG": 2}), loc("PNQ01", PUNE, {"MUG": 2})]
    # when
    decision = route(lines, candidates, MUMBAI)
    # then: the nearer location gives all it has
    assert decision.assignments == (Assignment("L1", "BHW01", 2), Assignment("L1", "PNQ01", 1))
    assert decision.shipments == {"BHW01": ("L1",), "PNQ01": ("L1",)}
    assert sentence(decision, "BHW01") == "BHW01: ships L1 ×2 (₹600.00), zone local (A), priority 100"
    assert sentence(decision, "Line") == "Line L1 (MUG × 3) is split by quantity: 2 from BHW01, 1 from PNQ01."


def test_no_split_when_splitting_is_turned_off() -> None:
    lines = [line("L1", "A"), line("L2", "B")]
    candidates = [loc("BHW01", BHIWANDI, {"A": 1}), loc("PNQ01", PUNE, {"B": 1})]
    decision = route(lines, candidates, MUMBAI, rules=RoutingRules(allow_split=False))
    assert decision.outcome is Outcome.SPLIT_NOT_ALLOWED
    assert decision.explanation[0] == "No single location has all 2 lines, and splitting is turned off."


def test_no_split_over_more_locations_than_the_rules_allow() -> None:
    # given: only three locations together have everything
    lines = [line("L1", "A"), line("L2", "B"), line("L3", "C")]
    candidates = [loc("X", BHIWANDI, {"A": 1}), loc("Y", PUNE, {"B": 1}), loc("Z", NAGPUR, {"C": 1})]
    # when
    two = route(lines, candidates, MUMBAI, rules=RoutingRules(max_split_locations=2))
    one = route(lines, candidates, MUMBAI, rules=RoutingRules(max_split_locations=1))
    three = route(lines, candidates, MUMBAI, rules=RoutingRules(max_split_locations=3))
    # then
    assert two.outcome is Outcome.SPLIT_NOT_ALLOWED
    assert two.explanation[0] == "No single location has all 3 lines, and a split needs more than 2 locations."
    assert one.explanation[0] == "No single location has all 3 lines, and the rules allow one location only."
    assert three.outcome is Outcome.ALLOCATED and len(three.shipments) == 3


def test_every_part_of_a_split_is_worth_the_minimum_shipment_value() -> None:
    # given: the nearest split would send the ₹150 cap alone from PNQ01
    lines = [line("L1", "MUG", 1, "900"), line("L2", "CAP", 1, "150"), line("L3", "BAG", 1, "400")]
    candidates = [
        loc("BHW01", BHIWANDI, {"MUG": 1, "BAG": 1}),
        loc("PNQ01", PUNE, {"CAP": 1}),
        loc("CCU01", KOLKATA, {"CAP": 1, "BAG": 1}),
    ]
    rules = RoutingRules(min_shipment_value=Decimal(500))
    # when
    decision = route(lines, candidates, MUMBAI, rules=rules)
    # then: the cap and the bag travel together from Kolkata (₹550), the mug from Bhiwandi
    assert decision.shipments == {"BHW01": ("L1",), "CCU01": ("L2", "L3")}
    assert route(lines, candidates, MUMBAI).shipments == {"BHW01": ("L1", "L3"), "PNQ01": ("L2",)}


def test_a_split_below_the_minimum_is_refused_with_the_part_that_falls_short() -> None:
    # given
    lines = [line("L1", "MUG", 1, "900"), line("L2", "CAP", 1, "150")]
    candidates = [loc("BHW01", BHIWANDI, {"MUG": 1}), loc("PNQ01", PUNE, {"CAP": 1})]
    # when
    decision = route(lines, candidates, MUMBAI, rules=RoutingRules(min_shipment_value=Decimal("200")))
    # then
    assert decision.outcome is Outcome.SPLIT_BELOW_MINIMUM
    assert decision.assignments == ()
    assert decision.explanation[0] == (
        "No single location has all 2 lines, and every split leaves a shipment below the minimum of ₹200.00: "
        "the best split, BHW01 + PNQ01, would send ₹150.00 from PNQ01."
    )


def test_a_line_split_by_quantity_gives_each_part_enough_to_reach_the_minimum() -> None:
    # given: 5 mugs at ₹100 each; no location has 5; each part must be worth ₹150
    lines = [line("L1", "MUG", 5, "500")]
    candidates = [loc("BHW01", BHIWANDI, {"MUG": 4}), loc("PNQ01", PUNE, {"MUG": 3})]
    # when
    decision = route(lines, candidates, MUMBAI, rules=RoutingRules(min_shipment_value=Decimal(150)))
    # then: without a minimum Bhiwandi would send 4 and Pune 1 (₹100); with it, Pune sends 2
    assert decision.assignments == (Assignment("L1", "BHW01", 3), Assignment("L1", "PNQ01", 2))
    assert route(lines, candidates, MUMBAI).assignments == (Assignment("L1", "BHW01", 4), Assignment("L1", "PNQ01", 1))


def test_a_split_too_tangled_to_prove_best_within_the_search_limit_is_left_to_a_person(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: a search limit of one step
    monkeypatch.setattr(routing_search, "SEARCH_LIMIT", 1)
    monkeypatch.setattr(routing, "SEARCH_LIMIT", 1)
    lines = [line("L1", "MUG", 1, "900"), line("L2", "CAP", 1, "300")]
    candidates = [loc("BHW01", BHIWANDI, {"MUG": 1}), loc("PNQ01", PUNE, {"CAP": 1})]
    # when
    decision = route(lines, candidates, MUMBAI, rules=RoutingRules(min_shipment_value=Decimal(200)))
    # then
    assert decision.outcome is Outcome.SPLIT_BELOW_MINIMUM
    assert decision.explanation[0] == (
        "No single location has all 2 lines, and no split with every shipment worth at least ₹200.00 was found "
        "within the search limit of 1 steps: the order needs a person to route it."
    )


def test_the_minimum_shipment_value_does_not_apply_to_an_unsplit_order() -> None:
    rules = RoutingRules(min_shipment_value=Decimal(10_000))
    decision = route([line()], [loc("BHW01", BHIWANDI, {"TS-CREW-BLK-M": 1})], MUMBAI, rules=rules)
    assert decision.outcome is Outcome.ALLOCATED


# --- pinned channels and the fallback -------------------------------------------------------------


def test_a_pinned_channel_ships_only_from_its_location() -> None:
    # given
    rules = RoutingRules(pinned_location="CCU01")
    candidates = [loc("BHW01", BHIWANDI, ALL_THREE), loc("CCU01", KOLKATA, ALL_THREE)]
    # when
    decision = route(THREE_LINES, candidates, MUMBAI, rules=rules)
    # then
    assert decision.strategy == "pinned"
    assert decision.shipments == {"CCU01": ("L1", "L2", "L3")}
    assert verdict_of(decision, "BHW01") is Verdict.NOT_PINNED
    assert sentence(decision, "BHW01") == "BHW01 skipped: the channel is pinned to CCU01"


def test_a_pinned_location_out_of_stock_leaves_the_order_unrouted() -> None:
    candidates = [loc("BHW01", BHIWANDI, ALL_THREE), loc("CCU01", KOLKATA, {})]
    decision = route(THREE_LINES, candidates, MUMBAI, rules=RoutingRules(pinned_location="CCU01"))
    assert decision.outcome is Outcome.OUT_OF_STOCK


def test_the_fallback_takes_an_order_nothing_else_can_fill() -> None:
    # given
    candidates = [loc("BHW01", BHIWANDI, {"CAP": 5}, name="Bhiwandi"), loc("DS01", JAIPUR, {}, name="Dropship")]
    rules = RoutingRules(fallback_location="DS01")
    # when
    decision = route(THREE_LINES, candidates, MUMBAI, rules=rules)
    # then
    assert decision.outcome is Outcome.FALLBACK
    assert decision.fallback_reason is Outcome.OUT_OF_STOCK
    assert decision.shipments == {"DS01": ("L1", "L2", "L3")}
    assert decision.assignments[0] == Assignment("L1", "DS01", 2)
    assert verdict_of(decision, "DS01") is Verdict.FALLBACK
    assert decision.explanation[0] == (
        "Not enough stock at the eligible locations: TS-CREW-BLK-M short by 2, JEANS-32 short by 1. "
        "Falling back to DS01: every line goes there, to be reserved if stock allows."
    )
    assert decision.explanation[1] == (
        "DS01 Dropship (fallback): ships all 3 lines, zone national (D), priority 100; "
        "stock here is short (TS-CREW-BLK-M short by 2, JEANS-32 short by 1, CAP short by 1)"
    )


def test_the_fallback_is_not_used_when_the_order_can_be_allocated() -> None:
    rules = RoutingRules(fallback_location="DS01")
    decision = route(THREE_LINES, [loc("BHW01", BHIWANDI, ALL_THREE), loc("DS01", JAIPUR)], MUMBAI, rules=rules)
    assert decision.outcome is Outcome.ALLOCATED
    assert decision.fallback_reason is None
    assert verdict_of(decision, "DS01") is Verdict.SHORT


def test_the_fallback_of_a_pinned_channel_may_be_another_location() -> None:
    rules = RoutingRules(pinned_location="CCU01", fallback_location="BHW01")
    candidates = [loc("BHW01", BHIWANDI, ALL_THREE), loc("CCU01", KOLKATA, {})]
    decision = route(THREE_LINES, candidates, MUMBAI, rules=rules)
    assert decision.outcome is Outcome.FALLBACK
    assert decision.shipments == {"BHW01": ("L1", "L2", "L3")}


def test_the_fallback_also_catches_a_split_below_the_minimum() -> None:
    lines = [line("L1", "MUG", 1, "900"), line("L2", "CAP", 1, "150")]
    candidates = [loc("BHW01", BHIWANDI, {"MUG": 1}), loc("PNQ01", PUNE, {"CAP": 1})]
    rules = RoutingRules(min_shipment_value=Decimal(200), fallback_location="BHW01")
    decision = route(lines, candidates, MUMBAI, rules=rules)
    assert (decision.outcome, decision.fallback_reason) == (Outcome.FALLBACK, Outcome.SPLIT_BELOW_MINIMUM)


@pytest.mark.parametrize(
    ("fallback", "words"),
    [
        (loc("DS01", JAIPUR, cod_allowed=False), "The fallback DS01 cannot be used (does not ship COD)."),
        (loc("XX01", JAIPUR), "The fallback DS01 cannot be used (not a known location)."),
    ],
)
def test_a_fallback_that_cannot_ship_the_order_is_not_used(fallback: Candidate, words: str) -> None:
    # when
    decision = route(
        THREE_LINES, [loc("BHW01", BHIWANDI), fallback], MUMBAI, "cod", RoutingRules(fallback_location="DS01")
    )
    # then
    assert decision.outcome is Outcome.OUT_OF_STOCK
    assert decision.explanation[0].endswith(words)


# --- strategies and input -------------------------------------------------------------------------


def test_a_tenant_can_plug_in_a_strategy() -> None:
    # given: a strategy that ignores stores and routes the rest the default way
    def warehouses_only(request: RoutingRequest) -> RoutingDecision:
        kept = tuple(c for c in request.candidates if not c.code.startswith("STORE"))
        return replace(default_strategy(replace(request, candidates=kept)), strategy="warehouses_only")

    strategies = {**STRATEGIES, "warehouses_only": warehouses_only}
    candidates = [loc("STORE1", MUMBAI, ALL_THREE), loc("BHW01", BHIWANDI, ALL_THREE)]
    # when
    decision = route(
        THREE_LINES, candidates, MUMBAI, rules=RoutingRules(strategy="warehouses_only"), strategies=strategies
    )
    # then
    assert decision.strategy == "warehouses_only"
    assert decision.shipments == {"BHW01": ("L1", "L2", "L3")}


def test_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown routing strategy 'cheapest'"):
        route(THREE_LINES, [], MUMBAI, rules=RoutingRules(strategy="cheapest"))


@pytest.mark.parametrize(
    ("lines", "candidates", "words"),
    [
        ([], [], "at least one line"),
        ([line("L1"), line("L1", "MUG")], [], "line keys must be unique"),
        ([line(quantity=0)], [], "quantities are at least 1"),
        ([line(value="-1")], [], "values are not negative"),
        ([line()], [loc("A", MUMBAI), loc("A", PUNE)], "location codes must be unique"),
    ],
)
def test_malformed_input_is_refused(lines: list[RouteLine], candidates: list[Candidate], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        route(lines, candidates, MUMBAI)


@pytest.mark.parametrize(
    ("settings_", "words"),
    [
        ({"min_shipment_value": Decimal(-1)}, "must not be negative"),
        ({"min_shipment_value": Decimal("NaN")}, "finite Decimal"),
        ({"min_shipment_value": 100}, "finite Decimal"),
        ({"max_split_locations": 0}, "at least 1"),
        ({"max_split_locations": True}, "at least 1"),
        ({"strategy": "pinned"}, "needs a pinned_location"),
    ],
)
def test_rules_no_order_could_be_routed_with_are_refused(settings_: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        RoutingRules(**settings_)


def test_the_decision_does_not_depend_on_the_order_candidates_come_in() -> None:
    # given
    lines = [line("L1", "A", 2), line("L2", "B"), line("L3", "C")]
    candidates = [
        loc("BHW01", BHIWANDI, {"A": 1, "B": 1}),
        loc("TNA01", THANE, {"A": 1, "C": 1}),
        loc("PNQ01", PUNE, {"A": 2, "C": 1}),
        loc("CCU01", KOLKATA, {"B": 1, "C": 1}),
    ]
    first = route(lines, candidates, MUMBAI)
    # when
    shuffled = [route(lines, random.Random(seed).sample(candidates, len(candidates)), MUMBAI) for seed in range(8)]
    # then
    for other in shuffled:
        assert other.assignments == first.assignments
        assert sorted(other.verdicts) == sorted(first.verdicts)


def test_a_decision_is_stored_as_plain_json() -> None:
    # given
    decision = route(THREE_LINES, [loc("BHW01", BHIWANDI, ALL_THREE), loc("GGN01", GURUGRAM, {"CAP": 1})], MUMBAI)
    # when
    stored = json.loads(json.dumps(decision.as_dict()))
    # then
    assert stored["outcome"] == "allocated"
    assert stored["strategy"] == "default"
    assert stored["fallback_reason"] is None
    assert stored["assignments"][0] == {"line": "L1", "location": "BHW01", "quantity": 2}
    assert stored["shipments"] == {"BHW01": ["L1", "L2", "L3"]}
    assert stored["explanation"] == list(decision.explanation)
    assert stored["locations"][1] == {
        "location": "GGN01",
        "verdict": "short",
        "zone": "metro",
        "distance_km": round(distance_km(GURUGRAM, MUMBAI) or 0),
        "shortages": {"TS-CREW-BLK-M": 2, "JEANS-32": 1},
    }


# --- properties, and a brute-force check of optimality ---------------------------------------------

ORIGINS = [BHIWANDI, THANE, PUNE, NAGPUR, GURUGRAM, KOLKATA, GUWAHATI, NOWHERE]
DESTINATIONS = [MUMBAI, PUNE, GUWAHATI, NOWHERE]
SKUS = ["A", "B", "C"]
VALUES = [0, 50, 100, 150, 200, 300, 450]  # few, so sums meet the minimum exactly now and then

Case = tuple[list[RouteLine], list[Candidate], PincodeInfo, RoutingRules]


@st.composite
def cases(draw: st.DrawFn, split: bool = False) -> Case:
    """Small random orders; with ``split``, every location lacks one of the order's SKUs."""
    n_lines = draw(st.integers(2 if split else 1, 4))
    lines = [
        RouteLine(
            f"L{i}",
            SKUS[i] if split and i < 2 else draw(st.sampled_from(SKUS)),
            draw(st.sampled_from([1, 1, 2, 3])),
            Decimal(draw(st.sampled_from(VALUES))),
        )
        for i in range(n_lines)
    ]
    wanted = sorted({ln.sku for ln in lines})
    candidates = []
    for i in range(draw(st.sampled_from([2, 3, 3, 4, 4] if split else [1, 2, 3, 3, 4, 4]))):
        stock = {sku: draw(st.sampled_from([1, 2, 3, 4, 6] if split else [-1, 0, 0, 1, 2, 3, 4, 5])) for sku in SKUS}
        if split:
            stock[draw(st.sampled_from(wanted))] = 0
        candidates.append(
            Candidate(
                f"C{i}",
                draw(st.sampled_from(ORIGINS)),
                priority=draw(st.integers(1, 3)),
                capacity_left=draw(st.sampled_from([None, 0, 3, 8])),
                stock=stock,
            )
        )
    rules = RoutingRules(
        min_shipment_value=Decimal(draw(st.sampled_from([0, 0, 100, 150, 300]))),
        allow_split=draw(st.sampled_from([True, True, True, False])),
        max_split_locations=draw(st.sampled_from([None, None, None, 1, 2, 3])),
    )
    return lines, candidates, draw(st.sampled_from(DESTINATIONS)), rules


ANY_CASE = st.one_of(cases(), cases(split=True))


def _single_key(c: Candidate, destination: PincodeInfo) -> tuple[bool, int, float, int, str]:
    exhausted = c.capacity_left is not None and c.capacity_left <= 0
    capacity = -math.inf if c.capacity_left is None else -c.capacity_left
    return (exhausted, zone_for(c.origin, destination).rank, capacity, c.priority, c.code)


def objective(used: Sequence[Candidate], destination: PincodeInfo) -> tuple[Any, ...]:
    """The order of plans the spec states, written out independently of the implementation."""
    if len(used) == 1:
        return (1, _single_key(used[0], destination))
    km = [distance_km(c.origin, destination) for c in used]
    return (
        len(used),
        sum(c.capacity_left is not None and c.capacity_left <= 0 for c in used),
        sum(zone_for(c.origin, destination).rank for c in used),
        sum(5000 if d is None else round(d) for d in km),
        sum(c.priority for c in used),
        tuple(sorted(_single_key(c, destination) for c in used)),
    )


def _spreads(quantity: int, caps: list[int]) -> Iterator[tuple[int, ...]]:
    if not caps:
        if quantity == 0:
            yield ()
        return
    for units in range(min(quantity, caps[0]) + 1):
        for rest in _spreads(quantity - units, caps[1:]):
            yield (units, *rest)


def brute_force(
    lines: list[RouteLine], candidates: list[Candidate], destination: PincodeInfo, rules: RoutingRules
) -> tuple[Any, ...] | None:
    """The best objective over every feasible assignment, or None when nothing is feasible."""
    stock = [{sku: max(0, c.stock.get(sku, 0)) for sku in SKUS} for c in candidates]
    demand = {sku: sum(ln.quantity for ln in lines if ln.sku == sku) for sku in SKUS}
    splittable = {sku for sku in SKUS if all(s[sku] < demand[sku] for s in stock)}
    floor = Fraction(rules.min_shipment_value)
    best: tuple[Any, ...] | None = None

    def walk(i: int, given: list[list[int]]) -> None:
        nonlocal best
        if i == len(lines):
            used = [at for at in range(len(candidates)) if any(given[at])]
            if len(used) > 1:
                if not rules.allow_split or (rules.max_split_locations or 99) < len(used):
                    return
                for at in used:
                    worth = sum(Fraction(ln.value) * given[at][j] / ln.quantity for j, ln in enumerate(lines))
                    if worth < floor:
                        return
            key = objective([candidates[at] for at in used], destination)
            best = key if best is None or key < best else best
            return
        ln = lines[i]
        room = [
            stock[at][ln.sku] - sum(given[at][j] for j in range(i) if lines[j].sku == ln.sku)
            for at in range(len(candidates))
        ]
        if ln.sku in splittable:
            options = list(_spreads(ln.quantity, room))
        else:
            options = [
                tuple(ln.quantity if a == at else 0 for a in range(len(candidates)))
                for at in range(len(candidates))
                if room[at] >= ln.quantity
            ]
        for parts in options:
            walk(i + 1, [given[at] + [parts[at]] for at in range(len(candidates))])

    walk(0, [[] for _ in candidates])
    return best


@settings(max_examples=400, deadline=None)
@given(ANY_CASE)
def test_routing_never_promises_stock_a_location_does_not_have(
    case: Case,
) -> None:
    # given
    lines, candidates, destination, rules = case
    # when
    decision = route(lines, candidates, destination, rules=rules)
    # then
    by_code = {c.code: c for c in candidates}
    taken: dict[tuple[str, str], int] = {}
    sku_of = {ln.key: ln.sku for ln in lines}
    for a in decision.assignments:
        assert a.quantity >= 1
        taken[a.location, sku_of[a.line_key]] = taken.get((a.location, sku_of[a.line_key]), 0) + a.quantity
    for (code, sku), units in taken.items():
        assert units <= by_code[code].stock.get(sku, 0)
    if decision.outcome is Outcome.ALLOCATED:
        for ln in lines:
            assert sum(a.quantity for a in decision.assignments if a.line_key == ln.key) == ln.quantity
    else:
        assert decision.assignments == ()
    assert len(decision.verdicts) == len(candidates)


@settings(max_examples=1000, deadline=None)
@given(ANY_CASE)
def test_routing_is_never_worse_than_a_brute_force_search(
    case: Case,
) -> None:
    # given
    lines, candidates, destination, rules = case
    # when
    decision = route(lines, candidates, destination, rules=rules)
    best = brute_force(lines, candidates, destination, rules)
    # then
    if best is None:
        assert decision.outcome is not Outcome.ALLOCATED
        return
    assert decision.outcome is Outcome.ALLOCATED
    used = [c for c in candidates if c.code in decision.shipments]
    assert objective(used, destination) == best
    if len(used) > 1:  # every part of a split carries at least the minimum
        for c in used:
            worth = sum(
                Fraction(ln.value) * a.quantity / ln.quantity
                for ln in lines
                for a in decision.assignments
                if a.line_key == ln.key and a.location == c.code
            )
            assert worth >= rules.min_shipment_value
