"""Risk rules without a database: every rule, every setting, and the score's arithmetic."""

from __future__ import annotations

from dataclasses import fields, replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermesh.domain.errors import Collector, ValidationFailed
from ordermesh.domain.risk import (
    DEFAULT_JUNK_WORDS,
    RULES,
    CustomerHistory,
    PincodeHistory,
    RiskAssessment,
    RiskCode,
    RiskConfig,
    RiskInput,
    RiskReason,
    Verdict,
    address_junk,
    address_length,
    address_no_number,
    address_problems,
    address_short,
    assess,
    cod_above_cap,
    customer_rto,
    first_cod_high_value,
    format_inr,
    has_house_number,
    junk_in_address,
    junk_words_in,
    phone_velocity,
    pincode_rto,
    verdict_for,
)
from ordermesh.domain.statuses import PaymentMethod

CFG = RiskConfig()
GOOD_LINE1 = "Flat 12, Sai Krupa Apartments"
GOOD_LINE2 = "MG Road, Kothrud"


def order(**overrides: Any) -> RiskInput:
    """A returning buyer's small prepaid order to a good address: nothing in it is risky."""
    data: dict[str, Any] = {
        "payment_method": "prepaid",
        "grand_total": Decimal("799.00"),
        "line1": GOOD_LINE1,
        "line2": GOOD_LINE2,
        "city": "Pune",
        "pincode": "411038",
        "customer": CustomerHistory(orders=4, delivered=4),
    }
    data.update(overrides)
    return RiskInput(**data)


def cod(**overrides: Any) -> RiskInput:
    return order(payment_method="cod", **overrides)


# --- format_inr ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("0", "₹0.00"),
        ("0.5", "₹0.50"),
        ("999", "₹999.00"),
        ("1000", "₹1,000.00"),
        ("12499", "₹12,499.00"),
        ("99999.99", "₹99,999.99"),
        ("124999", "₹1,24,999.00"),
        ("1234567.555", "₹12,34,567.56"),
        ("10000000", "₹1,00,00,000.00"),
        ("123456789012", "₹1,23,45,67,89,012.00"),
        ("-1500", "-₹1,500.00"),
        ("-0.001", "₹0.00"),
        ("1E+3", "₹1,000.00"),
    ],
)
def test_format_inr_groups_digits_the_indian_way(amount: str, text: str) -> None:
    assert format_inr(Decimal(amount)) == text


def test_format_inr_refuses_what_is_not_an_amount() -> None:
    with pytest.raises(ValueError, match="not an amount"):
        format_inr(Decimal("NaN"))


@given(st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2))
def test_format_inr_keeps_every_digit(amount: Decimal) -> None:
    # when
    text = format_inr(amount)
    # then: take the symbol and commas away and the amount is back
    assert Decimal(text.removeprefix("₹").replace(",", "")) == amount
    assert all(len(group) == 2 for group in text.removeprefix("₹").split(".")[0].split(",")[1:-1])


# --- the rules, one by one ----------------------------------------------------------------------


def test_cod_above_the_cap_gives_points_with_the_amounts_in_the_reason() -> None:
    # when
    reason = cod_above_cap(cod(grand_total=Decimal("12499.00")), CFG)
    # then
    assert reason == RiskReason(
        RiskCode.COD_ABOVE_CAP, 40, "COD order of ₹12,499.00 is above the ₹10,000.00 COD cap (+40)"
    )


@pytest.mark.parametrize(
    "inp",
    [
        cod(grand_total=Decimal("10000.00")),  # at the cap is not above it
        order(grand_total=Decimal("50000.00")),  # prepaid: the money is already in
    ],
)
def test_cod_cap_leaves_orders_at_the_cap_and_prepaid_orders_alone(inp: RiskInput) -> None:
    assert cod_above_cap(inp, CFG) is None


def test_a_cod_cap_of_zero_flags_every_cod_order() -> None:
    # given: a seller who wants to confirm every COD order by phone
    cfg = RiskConfig(cod_cap=Decimal("0"), cod_cap_points=60)
    # when
    result = assess(cod(grand_total=Decimal("1.00")), cfg)
    # then
    assert result.verdict is Verdict.HOLD


def test_first_time_cod_buyer_above_the_value_gives_points() -> None:
    # given
    inp = cod(grand_total=Decimal("5000.01"), customer=CustomerHistory())
    # when
    reason = first_cod_high_value(inp, CFG)
    # then
    assert reason is not None and reason.points == 20
    assert reason.message == "First order from this buyer, COD, ₹5,000.01 (above ₹5,000.00) (+20)"


@pytest.mark.parametrize(
    "inp",
    [
        cod(grand_total=Decimal("5000.00"), customer=CustomerHistory()),
        cod(grand_total=Decimal("9000.00"), customer=CustomerHistory(orders=1)),
        order(grand_total=Decimal("9000.00"), customer=CustomerHistory()),
    ],
)
def test_first_cod_rule_needs_a_first_order_a_cod_payment_and_a_value_above_the_limit(inp: RiskInput) -> None:
    assert first_cod_high_value(inp, CFG) is None


def test_a_customer_with_no_orders_is_on_their_first_order() -> None:
    assert CustomerHistory().is_first_order
    assert not CustomerHistory(orders=1).is_first_order


def test_customer_who_refused_half_their_cod_orders_gets_points() -> None:
    # given: 2 RTO of 4 concluded orders is exactly the 50% threshold
    inp = cod(customer=CustomerHistory(orders=5, delivered=2, rto=2))
    # when
    reason = customer_rto(inp, CFG)
    # then
    assert reason == RiskReason(
        RiskCode.CUSTOMER_RTO, 60, "Customer's past orders came back 2 of 4 times (50% RTO, threshold 50%) (+60)"
    )


def test_customer_rto_rate_is_shown_rounded_down() -> None:
    # given: 2 of 3 is 66.7%
    inp = cod(customer=CustomerHistory(orders=3, delivered=1, rto=2))
    # when
    reason = customer_rto(inp, CFG)
    # then
    assert reason is not None and "(66% RTO" in reason.message


@pytest.mark.parametrize(
    "history",
    [
        CustomerHistory(orders=3, delivered=2, rto=1),  # 33%, below the threshold
        CustomerHistory(orders=9, delivered=0, rto=2),  # 100%, but only 2 concluded orders
        CustomerHistory(orders=0),
    ],
)
def test_customer_rto_needs_the_rate_and_enough_concluded_orders(history: CustomerHistory) -> None:
    assert customer_rto(cod(customer=history), CFG) is None


def test_customer_rto_does_not_count_against_a_prepaid_order() -> None:
    assert customer_rto(order(customer=CustomerHistory(orders=3, rto=3)), CFG) is None


def test_returned_orders_do_not_count_as_rto() -> None:
    # given: delivered and then returned is a delivery, not an RTO
    inp = cod(customer=CustomerHistory(orders=4, delivered=4, rto=0, returned=4))
    # then
    assert customer_rto(inp, CFG) is None


def test_pincode_with_a_high_rto_rate_gives_points() -> None:
    # given
    inp = cod(pincode_history=PincodeHistory(shipments=20, rto=8))
    # when
    reason = pincode_rto(inp, CFG)
    # then
    assert reason == RiskReason(
        RiskCode.PINCODE_RTO, 20, "Pincode 411038 has 40% RTO (8 of 20 shipments, threshold 40%) (+20)"
    )


@pytest.mark.parametrize(
    "inp",
    [
        cod(pincode_history=PincodeHistory(shipments=20, rto=7)),
        cod(pincode_history=PincodeHistory(shipments=19, rto=19)),
        order(pincode_history=PincodeHistory(shipments=100, rto=90)),
    ],
)
def test_pincode_rto_needs_the_rate_enough_shipments_and_cod(inp: RiskInput) -> None:
    assert pincode_rto(inp, CFG) is None


def test_more_orders_from_one_phone_than_allowed_gives_points() -> None:
    # given: three earlier orders in the window make this the fourth
    inp = order(phone_orders_in_window=3)
    # when
    reason = phone_velocity(inp, CFG)
    # then
    assert reason == RiskReason(RiskCode.PHONE_VELOCITY, 30, "4 orders from this phone in 24 hours, more than 3 (+30)")


def test_up_to_the_allowed_number_of_orders_from_one_phone_is_fine() -> None:
    assert phone_velocity(order(phone_orders_in_window=2), CFG) is None


@pytest.mark.parametrize(
    ("line1", "line2", "city", "finding"),
    [
        ("Test address, 12 MG Road", None, "Pune", "line 1 has 'test'"),
        ("TEST TEST 12", None, "Pune", "line 1 has 'test'"),
        (GOOD_LINE1, "asdf", "Pune", "line 2 has 'asdf'"),
        (GOOD_LINE1, None, "xyz", "city has 'xyz'"),
        ("NA", None, "Pune", "line 1 has 'na'"),
        ("xxxx 12", None, "Pune", "line 1 has 'xxxx'"),
        ("Fake street 1, qwerty", None, "Pune", "line 1 has 'fake', 'qwerty'"),
        ("xxxx, test", None, "Pune", "line 1 has 'xxxx', 'test'"),
    ],
)
def test_junk_words_in_an_address_are_found(line1: str, line2: str | None, city: str, finding: str) -> None:
    assert junk_in_address(line1, line2, city) == [finding]


@pytest.mark.parametrize(
    ("line1", "line2", "city"),
    [
        ("12 Anna Nagar East", None, "Chennai"),  # "na" inside a word is not junk
        (GOOD_LINE1, "NA", "Pune"),  # a line 2 that is only a placeholder is an empty line 2
        (GOOD_LINE1, "n/a", "Pune"),
        (GOOD_LINE1, "-", "Pune"),
        ("Plot 7, Contest Road", None, "Testur"),  # "test" inside a word
        ("Room 1111, Block B", None, "Pune"),  # repeated digits are a number, not a mash
    ],
)
def test_ordinary_addresses_have_no_junk(line1: str, line2: str | None, city: str) -> None:
    assert junk_in_address(line1, line2, city) == []


def test_junk_words_are_whatever_the_tenant_lists() -> None:
    # when / then
    assert junk_words_in("Flat 3, Dummy Tower", ["tower"]) == ["tower"]
    assert junk_words_in("Flat 3, n/a", ["n/a"]) == ["n/a"]
    assert junk_words_in("anything", []) == []


def test_a_junk_address_gives_points_naming_what_was_found() -> None:
    # when
    reason = address_junk(order(line1="test 12", city="xyz"), CFG)
    # then
    assert reason == RiskReason(
        RiskCode.ADDRESS_JUNK, 40, "Address looks made up: line 1 has 'test'; city has 'xyz' (+40)"
    )


def test_address_length_counts_letters_and_digits_of_both_lines() -> None:
    assert address_length("Flat 4, MG Rd", None) == 9
    assert address_length("Flat 4,", "MG Rd") == 9
    assert address_length("  ...  ", "NA") == 0


def test_address_length_counts_indian_scripts_with_their_vowel_signs() -> None:
    # given: "Flat 12, Gandhi Nagar" in Hindi; the vowel signs are combining marks
    line1 = "फ्लैट 12, गांधी नगर"
    # then: every letter and sign counts
    assert address_length(line1, None) == len(line1.replace(" ", "").replace(",", ""))
    assert address_short(order(line1=line1, line2=None), CFG) is None


def test_a_short_address_gives_points() -> None:
    # when
    reason = address_short(order(line1="H 5, Rd", line2=None), CFG)
    # then
    assert reason == RiskReason(
        RiskCode.ADDRESS_SHORT, 30, "Address has only 4 letters and digits (at least 10 expected) (+30)"
    )


def test_an_address_of_the_minimum_length_is_not_short() -> None:
    assert address_short(order(line1="Flat 4 MG Road", line2=None), CFG) is None  # 12
    assert address_short(order(line1="Flat4MGRoa", line2=None), CFG) is None  # exactly 10


@pytest.mark.parametrize(
    ("line1", "line2", "has_number"),
    [
        ("Flat 12, Sai Krupa", None, True),
        ("Near Hanuman Mandir", "Ward 5", True),
        ("#B-3, Green Park", None, True),
        ("Near Hanuman Mandir", "Rampur village", False),
        ("Near Hanuman Mandir", "411038", False),  # the pincode is not a house number
    ],
)
def test_house_number_is_any_digit_outside_the_pincode(line1: str, line2: str | None, has_number: bool) -> None:
    assert has_house_number(line1, line2, "411038") is has_number


def test_an_address_without_a_number_gives_a_few_points() -> None:
    # when
    reason = address_no_number(order(line1="Near Hanuman Mandir, Rampur", line2=None), CFG)
    # then
    assert reason == RiskReason(RiskCode.ADDRESS_NO_NUMBER, 10, "Address has no house, flat or plot number (+10)")


@pytest.mark.parametrize(
    ("setting", "inp"),
    [
        ("cod_cap_points", cod(grand_total=Decimal("20000"))),
        ("first_cod_points", cod(grand_total=Decimal("9000"), customer=CustomerHistory())),
        ("customer_rto_points", cod(customer=CustomerHistory(orders=3, rto=3))),
        ("pincode_rto_points", cod(pincode_history=PincodeHistory(shipments=50, rto=50))),
        ("phone_velocity_points", order(phone_orders_in_window=10)),
        ("address_junk_points", order(line1="test 12 test test")),
        ("address_short_points", order(line1="H 5", line2=None)),
        ("address_no_number_points", order(line1="Near the big temple", line2=None)),
    ],
)
def test_a_rule_with_zero_points_is_switched_off(setting: str, inp: RiskInput) -> None:
    # given: the rule fires with the defaults
    assert assess(inp).reasons
    off: dict[str, Any] = {setting: 0}
    # when
    result = assess(inp, replace(CFG, **off))
    # then
    assert result.score == assess(inp).score - getattr(CFG, setting)
    assert all(r.points > 0 for r in result.reasons)


def test_every_rule_is_in_the_rule_list_once() -> None:
    names = [rule.__name__ for rule in RULES]
    assert len(names) == len(set(names)) == len(RiskCode)


# --- assessment ---------------------------------------------------------------------------------


def test_an_ordinary_order_is_confirmed_with_no_reasons() -> None:
    # when
    result = assess(order())
    # then
    assert result == RiskAssessment(0, [], Verdict.CONFIRM)


def test_a_first_time_buyers_big_cod_order_is_held_with_a_reason_for_every_point() -> None:
    # given
    inp = cod(grand_total=Decimal("12499.00"), customer=CustomerHistory())
    # when
    result = assess(inp)
    # then
    assert result.score == 60
    assert result.verdict is Verdict.HOLD
    assert [(r.code, r.points) for r in result.reasons] == [
        (RiskCode.COD_ABOVE_CAP, 40),
        (RiskCode.FIRST_COD_HIGH_VALUE, 20),
    ]


def test_a_single_weak_signal_does_not_hold_an_order() -> None:
    # given: a big COD order from a returning buyer to a good address
    inp = cod(grand_total=Decimal("25000.00"))
    # when
    result = assess(inp)
    # then
    assert (result.score, result.verdict) == (40, Verdict.CONFIRM)


def test_a_made_up_address_is_held() -> None:
    # when
    result = assess(order(line1="test", line2="asdf", city="Pune"))
    # then: junk, too short, no number
    assert [r.code for r in result.reasons] == [
        RiskCode.ADDRESS_JUNK,
        RiskCode.ADDRESS_SHORT,
        RiskCode.ADDRESS_NO_NUMBER,
    ]
    assert (result.score, result.verdict) == (80, Verdict.HOLD)


def test_the_score_is_capped_at_100_but_every_reason_is_kept() -> None:
    # given: everything at once
    inp = cod(
        grand_total=Decimal("50000"),
        line1="test",
        line2=None,
        city="xyz",
        customer=CustomerHistory(orders=3, delivered=0, rto=3),
        pincode_history=PincodeHistory(shipments=40, rto=30),
        phone_orders_in_window=5,
    )
    # when
    result = assess(inp)
    # then
    assert result.score == 100
    assert sum(r.points for r in result.reasons) == 40 + 60 + 20 + 30 + 40 + 30 + 10


def test_cancel_happens_only_when_the_seller_sets_a_cancel_threshold() -> None:
    # given
    inp = cod(grand_total=Decimal("50000"), customer=CustomerHistory(orders=3, rto=3))
    # when / then
    assert assess(inp).verdict is Verdict.HOLD
    assert assess(inp, replace(CFG, cancel_at=90)).verdict is Verdict.CANCEL


@pytest.mark.parametrize(
    ("score", "verdict"),
    [(0, Verdict.CONFIRM), (59, Verdict.CONFIRM), (60, Verdict.HOLD), (89, Verdict.HOLD), (90, Verdict.CANCEL)],
)
def test_verdict_thresholds_are_inclusive(score: int, verdict: Verdict) -> None:
    assert verdict_for(score, replace(CFG, cancel_at=90)) is verdict


def test_an_assessment_is_stored_as_plain_json() -> None:
    # when
    data = assess(cod(grand_total=Decimal("12499.00"))).to_dict()
    # then
    assert data == {
        "score": 40,
        "verdict": "confirm",
        "reasons": [
            {
                "code": "cod_above_cap",
                "points": 40,
                "message": "COD order of ₹12,499.00 is above the ₹10,000.00 COD cap (+40)",
            }
        ],
    }


def test_payment_method_may_be_given_as_text_or_enum() -> None:
    assert order(payment_method="cod").payment_method is PaymentMethod.COD
    assert order(payment_method=PaymentMethod.COD).is_cod
    with pytest.raises(ValueError):
        order(payment_method="upi")


# --- address problems (for the invalid_address hold) ----------------------------------------------


def test_a_good_address_has_no_problems() -> None:
    assert address_problems(GOOD_LINE1, GOOD_LINE2, "Pune", "411038") == []


def test_every_address_problem_is_reported_at_once() -> None:
    # when
    problems = address_problems("", "NA", " ", "01234")
    # then
    assert problems == ["line 1 is missing", "city is missing", "pincode '01234' is not 6 digits starting with 1-9"]


@pytest.mark.parametrize(
    ("args", "kwargs", "problem"),
    [
        (("H 5", None, "Pune", "411038"), {}, "the address has only 2 letters and digits (at least 10 expected)"),
        (("Flat 12, Sai Krupa", None, "Pune", "411038"), {"min_length": 20}, "only 14 letters and digits"),
        (("Flat 12 test road", None, "Pune", "411038"), {}, "the address looks made up: line 1 has 'test'"),
        (("Flat 12 Sunrise Road", None, "Pune", "411038"), {"junk_words": ["sunrise"]}, "line 1 has 'sunrise'"),
        (("Near Sai Baba temple", None, "Pune", "411038"), {"require_house_number": True}, "no house, flat or plot"),
        ((GOOD_LINE1, None, "Pune", ""), {}, "pincode is missing"),
        ((GOOD_LINE1, None, "Pune", "41103"), {}, "pincode '41103' is not 6 digits"),
    ],
)
def test_each_address_problem(args: tuple[str, str | None, str, str], kwargs: dict[str, Any], problem: str) -> None:
    # when
    problems = address_problems(*args, **kwargs)
    # then
    assert len(problems) == 1 and problem in problems[0], problems


def test_a_missing_house_number_is_no_problem_unless_asked_for() -> None:
    assert address_problems("Near Sai Baba temple", None, "Pune", "411038") == []


# --- configuration ------------------------------------------------------------------------------


def test_the_defaults_round_trip_through_json() -> None:
    # when
    data = CFG.to_dict()
    # then
    assert data["cod_cap"] == "10000.00" and data["cancel_at"] is None
    assert data["address_junk_words"] == list(DEFAULT_JUNK_WORDS)
    assert RiskConfig.from_dict(data) == CFG
    assert set(data) == {f.name for f in fields(RiskConfig)}


def test_missing_settings_keep_their_defaults() -> None:
    assert RiskConfig.from_dict({}) == CFG


def test_settings_are_read_from_json() -> None:
    # when
    cfg = RiskConfig.from_dict(
        {
            "cod_cap": 15000,
            "first_cod_above": "2500.50",
            "hold_at": 50,
            "cancel_at": 95,
            "address_junk_words": [" TEST ", "test", "Lorem"],
        }
    )
    # then
    assert cfg.cod_cap == Decimal("15000.00")
    assert cfg.first_cod_above == Decimal("2500.50")
    assert (cfg.hold_at, cfg.cancel_at) == (50, 95)
    assert cfg.address_junk_words == ("test", "lorem")


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"cod_cap": "-1"}, "cod_cap", "non-negative amount"),
        ({"cod_cap": "10.001"}, "cod_cap", "at most two decimals"),
        ({"cod_cap": "lots"}, "cod_cap", "amount in rupees"),
        ({"cod_cap": True}, "cod_cap", "amount in rupees"),
        ({"cod_cap": None}, "cod_cap", "amount in rupees"),
        ({"first_cod_above": -5}, "first_cod_above", "non-negative amount"),
        ({"cod_cap_points": 101}, "cod_cap_points", "from 0 to 100"),
        ({"cod_cap_points": -1}, "cod_cap_points", "from 0 to 100"),
        ({"cod_cap_points": "40"}, "cod_cap_points", "whole number"),
        ({"cod_cap_points": 40.0}, "cod_cap_points", "whole number"),
        ({"cod_cap_points": True}, "cod_cap_points", "whole number"),
        ({"customer_rto_percent": 0}, "customer_rto_percent", "from 1 to 100"),
        ({"customer_rto_percent": 101}, "customer_rto_percent", "from 1 to 100"),
        ({"customer_rto_min_orders": 0}, "customer_rto_min_orders", "from 1 to 1000"),
        ({"customer_rto_points": 200}, "customer_rto_points", "from 0 to 100"),
        ({"pincode_rto_percent": 0}, "pincode_rto_percent", "from 1 to 100"),
        ({"pincode_rto_min_shipments": 0}, "pincode_rto_min_shipments", "from 1 to 1000000"),
        ({"pincode_rto_points": -3}, "pincode_rto_points", "from 0 to 100"),
        ({"phone_max_orders": 0}, "phone_max_orders", "from 1 to 1000"),
        ({"phone_window_hours": 0}, "phone_window_hours", "from 1 to 720"),
        ({"phone_window_hours": 721}, "phone_window_hours", "from 1 to 720"),
        ({"phone_velocity_points": 101}, "phone_velocity_points", "from 0 to 100"),
        ({"address_min_length": -1}, "address_min_length", "from 0 to 200"),
        ({"address_min_length": 201}, "address_min_length", "from 0 to 200"),
        ({"address_junk_points": 101}, "address_junk_points", "from 0 to 100"),
        ({"address_short_points": 101}, "address_short_points", "from 0 to 100"),
        ({"address_no_number_points": 101}, "address_no_number_points", "from 0 to 100"),
        ({"first_cod_points": 101}, "first_cod_points", "from 0 to 100"),
        ({"hold_at": 0}, "hold_at", "from 1 to 100"),
        ({"hold_at": 101}, "hold_at", "from 1 to 100"),
        ({"cancel_at": 60}, "cancel_at", "above hold_at (60)"),
        ({"cancel_at": 40}, "cancel_at", "above hold_at (60)"),
        ({"cancel_at": 101}, "cancel_at", "at most 100"),
        ({"hold_at": 80, "cancel_at": 70}, "cancel_at", "above hold_at (80)"),
        ({"cancel_at": "90"}, "cancel_at", "whole number up to 100, or null"),
        ({"address_junk_words": "test"}, "address_junk_words", "must be a list"),
        ({"address_junk_words": ["ok", 5]}, "address_junk_words.1", "1-30 characters"),
        ({"address_junk_words": ["  "]}, "address_junk_words.0", "1-30 characters"),
        ({"address_junk_words": ["x" * 31]}, "address_junk_words.0", "1-30 characters"),
        ({"address_junk_words": [f"w{i}" for i in range(201)]}, "address_junk_words", "at most 200"),
        ({"cod_limit": 5000}, "cod_limit", "is not a risk setting"),
    ],
)
def test_each_bad_setting_is_reported_with_its_field(raw: dict[str, Any], field: str, message: str) -> None:
    # given
    errors = Collector()
    # when
    cfg = RiskConfig.from_dict(raw, errors)
    # then
    assert cfg is None
    assert [(e.field, message in e.message) for e in errors.errors] == [(field, True)], errors.errors


def test_all_bad_settings_are_reported_together_under_the_path() -> None:
    # given
    errors = Collector()
    # when
    RiskConfig.from_dict({"hold_at": "high", "cancel_at": 10, "cod_cap": "x", "colour": "red"}, errors, "risk")
    # then: cancel_at is not judged against a hold_at that could not be read
    assert sorted(e.field for e in errors.errors) == ["risk.cod_cap", "risk.colour", "risk.hold_at"]


def test_settings_that_are_not_an_object_are_refused() -> None:
    # given
    errors = Collector()
    # when
    assert RiskConfig.from_dict(["hold_at", 60], errors, "risk") is None
    # then
    assert [(e.field, e.message) for e in errors.errors] == [("risk", "must be an object")]


def test_without_a_collector_bad_settings_raise_validation_failed() -> None:
    # when
    with pytest.raises(ValidationFailed) as caught:
        RiskConfig.from_dict({"hold_at": 0, "cancel_at": 101})
    # then
    assert sorted(e.field for e in caught.value.errors) == ["cancel_at", "hold_at"]


def test_adding_to_a_collector_keeps_the_errors_already_in_it() -> None:
    # given
    errors = Collector()
    errors.add("name", "is required")
    # when
    RiskConfig.from_dict({"hold_at": 0}, errors, "risk")
    # then
    assert [e.field for e in errors.errors] == ["name", "risk.hold_at"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hold_at": 0},
        {"cancel_at": 50},
        {"cod_cap": Decimal("-1")},
        {"address_junk_words": ("Test",)},
        {"address_junk_words": ("",)},
        {"customer_rto_percent": 0},
    ],
)
def test_a_config_built_in_code_is_checked_too(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RiskConfig(**kwargs)


# --- properties ---------------------------------------------------------------------------------


@st.composite
def configs(draw: st.DrawFn) -> RiskConfig:
    points = st.integers(0, 100)
    hold_at = draw(st.integers(1, 100))
    cancel_at = draw(st.none() | st.integers(hold_at + 1, 101).map(lambda n: n if n <= 100 else None))
    return RiskConfig(
        cod_cap=draw(st.decimals(0, 100_000, places=2)),
        cod_cap_points=draw(points),
        customer_rto_percent=draw(st.integers(1, 100)),
        customer_rto_min_orders=draw(st.integers(1, 20)),
        customer_rto_points=draw(points),
        pincode_rto_percent=draw(st.integers(1, 100)),
        pincode_rto_min_shipments=draw(st.integers(1, 100)),
        pincode_rto_points=draw(points),
        phone_max_orders=draw(st.integers(1, 10)),
        phone_window_hours=draw(st.integers(1, 720)),
        phone_velocity_points=draw(points),
        address_min_length=draw(st.integers(0, 200)),
        address_junk_words=tuple(draw(st.lists(st.sampled_from(["test", "na", "fake", "n/a", "lorem"]), unique=True))),
        address_junk_points=draw(points),
        address_short_points=draw(points),
        address_no_number_points=draw(points),
        first_cod_above=draw(st.decimals(0, 100_000, places=2)),
        first_cod_points=draw(points),
        hold_at=hold_at,
        cancel_at=cancel_at,
    )


@st.composite
def inputs(draw: st.DrawFn) -> RiskInput:
    delivered, rto = draw(st.integers(0, 50)), draw(st.integers(0, 50))
    shipments = draw(st.integers(0, 500))
    words = st.sampled_from(["Flat", "12", "test", "NA", "Road", "xyz", "Nagar", "#4", "asdf", "गांधी", "-", ""])
    text = st.lists(words, max_size=6).map(" ".join)
    return RiskInput(
        payment_method=draw(st.sampled_from(list(PaymentMethod))),
        grand_total=draw(st.decimals(0, 200_000, places=2)),
        line1=draw(text),
        line2=draw(st.none() | text),
        city=draw(text),
        pincode=draw(st.sampled_from(["411038", "", "12"])),
        customer=CustomerHistory(delivered + rto + draw(st.integers(0, 5)), delivered, rto, 0),
        pincode_history=PincodeHistory(shipments, draw(st.integers(0, shipments))),
        phone_orders_in_window=draw(st.integers(0, 20)),
    )


@given(inputs(), configs())
def test_the_score_is_the_sum_of_the_reasons_capped_at_100(inp: RiskInput, cfg: RiskConfig) -> None:
    # when
    result = assess(inp, cfg)
    # then
    assert 0 <= result.score <= 100
    assert result.score == min(100, sum(r.points for r in result.reasons))
    assert all(r.points > 0 and r.message.endswith(f"(+{r.points})") for r in result.reasons)
    assert result.verdict is verdict_for(result.score, cfg)


_RANK = {Verdict.CONFIRM: 0, Verdict.HOLD: 1, Verdict.CANCEL: 2}


@given(configs(), st.integers(0, 100), st.integers(0, 100))
def test_the_verdict_never_gets_milder_as_the_score_rises(cfg: RiskConfig, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert _RANK[verdict_for(low, cfg)] <= _RANK[verdict_for(high, cfg)]


@given(configs())
def test_any_valid_config_round_trips_through_json(cfg: RiskConfig) -> None:
    assert RiskConfig.from_dict(cfg.to_dict()) == cfg
