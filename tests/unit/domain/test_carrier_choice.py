"""Rate shopping: the chosen quote, and why every other one lost or was excluded."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermesh.domain.carrier_choice import (
    CarrierQuote,
    ChoiceRules,
    LaneStats,
    Outcome,
    Override,
    ShipmentFacts,
    Strategy,
    Verdict,
    choose,
    lane_stats_from_rows,
)
from ordermesh.domain.errors import Collector, ValidationFailed

D = Decimal
FAST = CarrierQuote("bluedart", "air", "Blue Dart Air", D("120.00"), etd_days=2)
CHEAP = CarrierQuote("xpressbees", "surface", "Xpressbees Surface", D("55.50"), etd_days=5)
MID = CarrierQuote("delhivery", "surface", "Delhivery Surface", D("68.00"), etd_days=4)
PREPAID = ShipmentFacts(cod=False, order_value=D(1200), weight_g=800, origin_zone="BLR", destination_pincode="226010")
COD_BIG = ShipmentFacts(cod=True, order_value=D(7000), weight_g=800, origin_zone="BLR", destination_pincode="226010")


def by_carrier(outcomes: tuple[Outcome, ...]) -> dict[str, Outcome]:
    return {o.quote.carrier: o for o in outcomes}


def test_cheapest_wins_and_each_loser_says_by_how_much() -> None:
    choice = choose([FAST, CHEAP, MID], PREPAID, ChoiceRules())
    assert choice.chosen == CHEAP and choice.strategy is Strategy.CHEAPEST
    assert choice.summary == "Xpressbees Surface (xpressbees) chosen as the cheapest: ₹55.50, 5 days."
    out = by_carrier(choice.outcomes)
    assert [o.quote.carrier for o in choice.outcomes] == ["xpressbees", "delhivery", "bluedart"]
    assert out["delhivery"].verdict is Verdict.LOST and out["delhivery"].reason == "dearer"
    assert out["delhivery"].sentence == (
        "Delhivery Surface (delhivery) lost: ₹68.00, ₹12.50 more than Xpressbees Surface (xpressbees) at ₹55.50."
    )
    assert out["delhivery"].figures["difference"] == "12.50"
    stored = choice.as_dict()
    assert stored["chosen"] == "xpressbees/surface" and stored["outcomes"][2]["verdict"] == "lost"


def test_cheapest_tie_goes_to_the_faster() -> None:
    same_price = CarrierQuote("ecom", "x", "Ecom Express", D("55.50"), etd_days=3)
    choice = choose([CHEAP, same_price], PREPAID, ChoiceRules())
    assert choice.chosen == same_price
    loser = choice.outcomes[1]
    assert loser.reason == "slower" and "same price, but 5 days against 3 days" in loser.sentence


def test_fastest_uses_our_estimate_before_the_carriers_days() -> None:
    choice = choose([FAST, CHEAP, MID], PREPAID, ChoiceRules(Strategy.FASTEST))
    assert choice.chosen == FAST
    assert (
        "2 days against" not in choice.outcomes[1].sentence and "4 days against 2 days" in choice.outcomes[1].sentence
    )
    # history says Blue Dart takes 6 days on this lane: Delhivery's 4 wins
    slow_air = CarrierQuote("bluedart", "air", "Blue Dart Air", D("120.00"), etd_days=2, estimated_days=6)
    assert choose([slow_air, MID], PREPAID, ChoiceRules(Strategy.FASTEST)).chosen == MID
    unknown = CarrierQuote("local", "x", "Local", D("10"))
    assert choose([unknown, MID], PREPAID, ChoiceRules(Strategy.FASTEST)).chosen == MID


LANES = {
    ("xpressbees", "BLR", "226"): LaneStats(100, 80, 18),
    ("delhivery", "BLR", "226"): LaneStats(50, 47, 2),
    ("bluedart", "BLR", "226"): LaneStats(5, 5, 0),
    ("delhivery", "BLR", "560"): LaneStats(500, 300, 200),  # another lane, ignored
}


def test_best_performing_by_lane_success_among_quotes_with_history() -> None:
    choice = choose([FAST, CHEAP, MID], PREPAID, ChoiceRules(Strategy.BEST_PERFORMING), LANES)
    assert choice.chosen == MID and not choice.fell_back
    assert "94.0% delivered of 50 shipments" in choice.summary
    out = by_carrier(choice.outcomes)
    assert out["xpressbees"].reason == "worse_lane"
    assert "80.0% delivered on this lane (RTO 18.0%) against 94.0% (RTO 4.0%)" in out["xpressbees"].sentence
    assert out["bluedart"].reason == "too_little_history"  # 5/5 delivered, but 5 < 20
    assert "only 5 finished shipment(s)" in out["bluedart"].sentence
    # with a lower threshold Blue Dart's 100% counts
    low = choose([FAST, CHEAP, MID], PREPAID, ChoiceRules(Strategy.BEST_PERFORMING, min_lane_shipments=5), LANES)
    assert low.chosen == FAST


def test_best_performing_falls_back_to_cheapest_without_history() -> None:
    choice = choose([FAST, CHEAP, MID], PREPAID, ChoiceRules(Strategy.BEST_PERFORMING), {})
    assert choice.chosen == CHEAP and choice.fell_back and choice.strategy is Strategy.CHEAPEST
    assert "no carrier has the 20 finished shipments" in choice.summary
    assert choice.as_dict()["fell_back"] is True


def test_eligibility_weight_cod_and_override_rules() -> None:
    no_cod = CarrierQuote("shadowfax", "x", "Shadowfax", D("30"), cod=False)
    small = CarrierQuote("dunzo", "x", "Dunzo", D("25"), max_weight_g=500)
    rules = ChoiceRules(
        overrides=(
            Override(payment="prepaid", exclude=("bluedart",)),  # does not apply to COD
            Override(payment="cod", order_value_above=D(5000), exclude=("xpressbees",)),
        )
    )
    choice = choose([no_cod, small, CHEAP, MID, FAST], COD_BIG, rules)
    assert choice.chosen == MID
    out = by_carrier(choice.outcomes)
    assert out["shadowfax"].reason == "no_cod" and out["shadowfax"].verdict is Verdict.EXCLUDED
    assert out["dunzo"].sentence == "Dunzo (dunzo) excluded: the parcel's 800 g is over its limit of 500 g."
    assert out["xpressbees"].sentence == (
        "Xpressbees Surface (xpressbees) excluded by rule 2: for COD orders above ₹5000.00 the rule excludes it."
    )
    assert out["bluedart"].verdict is Verdict.LOST
    # at exactly ₹5000 the rule does not apply
    exactly = ShipmentFacts(cod=True, order_value=D(5000), weight_g=800)
    assert choose([CHEAP, MID], exactly, rules).chosen == CHEAP


def test_override_can_keep_only_some_and_switch_strategy() -> None:
    rules = ChoiceRules(
        overrides=(Override(destination_prefixes=("226",), only=("bluedart", "delhivery"), strategy=Strategy.FASTEST),)
    )
    choice = choose([FAST, CHEAP, MID], PREPAID, rules)
    assert choice.chosen == FAST and choice.strategy is Strategy.FASTEST
    assert "allows only bluedart, delhivery" in by_carrier(choice.outcomes)["xpressbees"].sentence
    elsewhere = ShipmentFacts(cod=False, order_value=D(1), weight_g=1, destination_pincode="560001")
    assert choose([FAST, CHEAP, MID], elsewhere, rules).chosen == CHEAP


def test_nothing_eligible_is_said_plainly() -> None:
    choice = choose([CarrierQuote("a", "x", "A", D(1), cod=False)], COD_BIG, ChoiceRules())
    assert choice.chosen is None and choice.summary.startswith("No carrier can take this shipment: A (a) excluded")
    assert choose([], PREPAID, ChoiceRules()).summary == "No carrier can take this shipment: no quotes."


def test_rules_from_settings() -> None:
    rules = ChoiceRules.from_dict(
        {
            "strategy": "best_performing",
            "min_lane_shipments": 30,
            "overrides": [{"when": {"payment": "cod", "order_value_above": 5000}, "exclude": ["X"]}],
        }
    )
    assert rules.strategy is Strategy.BEST_PERFORMING and rules.min_lane_shipments == 30
    assert rules.overrides == (Override(payment="cod", order_value_above=D(5000), exclude=("X",)),)
    with pytest.raises(ValidationFailed) as info:
        ChoiceRules.from_dict(
            {
                "strategy": "random",
                "min_lane_shipments": 0,
                "colour": 1,
                "overrides": [
                    {"when": {"payment": "upi", "order_value_above": 12.5, "moon": 1}, "exclude": "X"},
                    {"when": {"payment": "cod"}},
                    {"when": {"destination_prefixes": ["78", "x"]}, "strategy": "slowest"},
                ],
            }
        )
    assert {e.field for e in info.value.errors} == {
        "carrier_choice.strategy",
        "carrier_choice.min_lane_shipments",
        "carrier_choice.colour",
        "carrier_choice.overrides.0.when.payment",
        "carrier_choice.overrides.0.when.order_value_above",
        "carrier_choice.overrides.0.when.moon",
        "carrier_choice.overrides.0.exclude",
        "carrier_choice.overrides.1",
        "carrier_choice.overrides.2.when.destination_prefixes",
        "carrier_choice.overrides.2.strategy",
    }
    errors = Collector()
    assert ChoiceRules.from_dict("cheap", errors) == ChoiceRules() and errors.errors[0].field == "carrier_choice"


def test_lane_stats_from_finished_shipments() -> None:
    stats = lane_stats_from_rows(
        [("d", "BLR", "226010", "delivered"), ("d", "BLR", "226001", "rto"), ("d", "BLR", "226020", "lost")]
    )
    lane = stats[("d", "BLR", "226")]
    assert (lane.shipments, lane.delivered, lane.rto) == (3, 1, 1)
    assert lane.delivered_share == D(1) / 3 and LaneStats(0, 0, 0).rto_rate == 0


quotes = st.lists(
    st.builds(
        CarrierQuote,
        carrier=st.sampled_from(["a", "b", "c", "d"]),
        service=st.sampled_from(["x", "y"]),
        service_name=st.just("S"),
        price=st.decimals(D(1), D(500), places=2),
        cod=st.booleans(),
        etd_days=st.one_of(st.none(), st.integers(1, 9)),
        max_weight_g=st.one_of(st.none(), st.integers(100, 5000)),
    ),
    max_size=6,
    unique_by=lambda q: (q.carrier, q.service),
)


@given(quotes, st.booleans(), st.integers(1, 6000), st.sampled_from(list(Strategy)))
def test_every_quote_has_one_outcome_and_the_chosen_is_eligible_and_best(
    qs: list[CarrierQuote], cod: bool, weight: int, strategy: Strategy
) -> None:
    facts = ShipmentFacts(cod=cod, order_value=D(100), weight_g=weight, origin_zone="O", destination_pincode="560001")
    choice = choose(qs, facts, ChoiceRules(strategy, min_lane_shipments=1), {})
    assert sorted(o.quote.key for o in choice.outcomes) == sorted(q.key for q in qs)
    assert all(o.sentence for o in choice.outcomes)
    chosen = [o for o in choice.outcomes if o.verdict is Verdict.CHOSEN]
    eligible = [q for q in qs if (not cod or q.cod) and (q.max_weight_g is None or weight <= q.max_weight_g)]
    assert len(chosen) == (1 if eligible else 0)
    if eligible and strategy is not Strategy.FASTEST:  # no lanes: best_performing falls back to cheapest
        assert choice.chosen is not None and choice.chosen.price == min(q.price for q in eligible)
    if eligible and strategy is Strategy.FASTEST:
        days = [q.days for q in eligible if q.days is not None]
        assert choice.chosen is not None and choice.chosen.days == (min(days) if days else None)
