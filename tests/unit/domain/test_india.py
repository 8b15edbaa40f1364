"""Indian identifiers without a database: GSTINs, states, pincodes, HSN codes and GST rates."""

from __future__ import annotations

from decimal import Decimal

import indian_pincode
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermesh.domain.india import (
    GST_RATES,
    STATES,
    find_state,
    format_rate,
    gstin_check_char,
    gstin_problem,
    hsn_problem,
    is_pincode_format,
    parse_gst_rate,
    state_by_gst_code,
)

VALID_GSTINS = ["27AAACE0000E1ZM", "29AAACS0000S1ZB", "27AAACD0000D1ZP"]
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def luhn_mod36_check(first14: str) -> str:
    """An independent Luhn mod 36: double every second character from the left, add base-36 digits."""
    total = 0
    for i, ch in enumerate(first14):
        value = ALPHABET.index(ch) * (2 if i % 2 == 1 else 1)
        total += sum(divmod(value, 36))
    return ALPHABET[-total % 36]


# --- GSTIN ------------------------------------------------------------------------------------


@pytest.mark.parametrize("gstin", VALID_GSTINS)
def test_valid_gstins_pass(gstin: str) -> None:
    assert gstin_problem(gstin) is None
    assert gstin_check_char(gstin[:14]) == gstin[14]


@pytest.mark.parametrize(
    "gstin",
    [
        "27AAACE0000E1ZN",  # check character changed
        "27AAACE0000E1ZA",
        "29AAACS0000S1ZC",
        "27AAACD0000D1ZQ",
        "27AAACE0000F1ZM",  # a PAN character changed, check character kept
        "29AAACS0000S2ZB",  # entity number changed
        "27AAADE0000E1ZM",
    ],
)
def test_a_changed_character_is_caught_by_the_check_character(gstin: str) -> None:
    problem = gstin_problem(gstin)
    assert problem is not None
    assert "check character" in problem


@pytest.mark.parametrize(
    ("gstin", "words"),
    [
        ("27AAACE0000E1Z", "15 characters"),
        ("27AAACE0000E1ZMX", "15 characters"),
        ("27aaace0000e1zm", "PAN"),
        ("27AAACE0000E1XM", "PAN"),  # 14th character must be Z
        ("27AAACE0000E0ZM", "PAN"),  # entity number 0 is not used
        ("2XAAACE0000E1ZM", "PAN"),
        ("28AAACE0000E1ZK", "not a GST state code"),
        ("00AAACE0000E1ZM", "not a GST state code"),
    ],
)
def test_malformed_gstins_say_why(gstin: str, words: str) -> None:
    problem = gstin_problem(gstin)
    assert problem is not None
    assert words in problem


def test_a_gstin_from_the_old_daman_and_diu_code_is_accepted() -> None:
    # given: code 25 was merged into 26 in 2020, but old registrations still carry it
    body = "25AAACE0000E1Z"
    # when / then
    assert gstin_problem(body + gstin_check_char(body)) is None


@pytest.mark.parametrize("gstin", VALID_GSTINS)
def test_check_character_matches_an_independent_luhn_mod_36(gstin: str) -> None:
    assert luhn_mod36_check(gstin[:14]) == gstin[14]


gstin_bodies = st.builds(
    lambda state, pan_a, pan_d, pan_z, entity: f"{state}{pan_a}{pan_d}{pan_z}{entity}Z",
    st.sampled_from([s.gst_code for s in STATES]),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=5, max_size=5),
    st.text(alphabet="0123456789", min_size=4, max_size=4),
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    st.sampled_from("123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
)


@given(body=gstin_bodies)
def test_any_well_formed_gstin_with_its_check_character_is_valid(body: str) -> None:
    check = gstin_check_char(body)
    assert check == luhn_mod36_check(body)
    assert gstin_problem(body + check) is None


@given(body=gstin_bodies, position=st.integers(0, 14), replacement=st.sampled_from(ALPHABET))
def test_any_single_changed_character_makes_a_gstin_invalid(body: str, position: int, replacement: str) -> None:
    # given
    gstin = body + gstin_check_char(body)
    changed = gstin[:position] + replacement + gstin[position + 1 :]
    if changed == gstin:
        return
    # then: Luhn mod N catches every single substitution
    assert gstin_problem(changed) is not None


# --- states -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("27", "MH"),
        (27, "MH"),
        ("MH", "MH"),
        ("mh", "MH"),
        ("IN-MH", "MH"),
        ("in-mh", "MH"),
        ("Maharashtra", "MH"),
        ("  MAHARASHTRA ", "MH"),
        ("7", "DL"),
        (7, "DL"),
        ("07", "DL"),
        ("NCT of Delhi", "DL"),
        ("New Delhi", "DL"),
        ("Orissa", "OD"),
        ("OR", "OD"),
        ("Pondicherry", "PY"),
        ("Uttaranchal", "UK"),
        ("UT", "UK"),
        ("TG", "TS"),
        ("CT", "CG"),
        ("Jammu & Kashmir", "JK"),
        ("jammu-and-kashmir", "JK"),
        ("Daman and Diu", "DH"),
        ("25", "DH"),
        ("The Dadra and Nagar Haveli and Daman and Diu", "DH"),
        ("97", "OT"),
    ],
)
def test_states_are_found_by_gst_code_iso_code_name_or_alias(text: str | int, iso: str) -> None:
    state = find_state(text)
    assert state is not None
    assert state.iso == iso


@pytest.mark.parametrize("text", ["", "  ", "Atlantis", "IN-", "XX", "99", "28", "100", "IN-27X"])
def test_unknown_states_are_none(text: str) -> None:
    assert find_state(text) is None


@pytest.mark.parametrize("state", STATES, ids=lambda s: s.iso)
def test_every_state_is_found_by_each_of_its_names(state: object) -> None:
    from ordermesh.domain.india import State

    assert isinstance(state, State)
    for text in (state.gst_code, state.iso, f"IN-{state.iso}", state.name, state.name.upper(), *state.aliases):
        assert find_state(text) is state, text
    assert state_by_gst_code(state.gst_code) is state


def test_no_two_states_share_a_code_or_name() -> None:
    def key(text: str) -> str:
        return "".join(ch for ch in text.lower().replace("&", "and") if ch.isalnum())

    seen: dict[str, str] = {}
    for s in STATES:
        for text in {key(t) for t in (s.gst_code, s.iso, s.name, *s.aliases)}:
            assert text not in seen, f"{text!r} names both {seen.get(text)} and {s.name}"
            seen[text] = s.name


def test_state_by_gst_code_refuses_unknown_codes() -> None:
    with pytest.raises(KeyError):
        state_by_gst_code("28")


def test_every_state_the_pincode_directory_uses_is_known() -> None:
    # given: the directory the location rules check pincodes against
    names = indian_pincode.list_states()
    # then: each of its state names resolves, or no address in that state could ever be valid
    assert names
    assert [n for n in names if find_state(n) is None] == []


# --- pincodes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("pincode", ["421302", "110001", "999999"])
def test_pincode_format_accepts_six_digits(pincode: str) -> None:
    assert is_pincode_format(pincode)


@pytest.mark.parametrize("pincode", ["021302", "42130", "4213021", "42130a", "", "४२१३०२"])
def test_pincode_format_refuses_others(pincode: str) -> None:
    assert not is_pincode_format(pincode)


# --- HSN --------------------------------------------------------------------------------------


@pytest.mark.parametrize("hsn", ["6109", "610910", "61091000", "0101"])
def test_hsn_codes_are_4_6_or_8_digits(hsn: str) -> None:
    assert hsn_problem(hsn) is None


@pytest.mark.parametrize("hsn", ["61", "610", "61091", "6109100", "610910001", "61O9", "", "6109 10"])
def test_other_hsn_codes_are_refused(hsn: str) -> None:
    assert hsn_problem(hsn) is not None


# --- GST rates --------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", GST_RATES)
def test_every_known_rate_parses_to_itself(rate: Decimal) -> None:
    assert parse_gst_rate(str(rate)) == rate
    assert parse_gst_rate(rate) == rate


@pytest.mark.parametrize(
    ("value", "rate"),
    [
        ("5", "5"),
        (5, "5"),
        (5.0, "5"),
        ("18%", "18"),
        (" 12 ", "12"),
        ("28.00", "28"),
        ("0.10", "0.1"),
        (0.25, "0.25"),
        (Decimal("1.50"), "1.5"),
        ("40", "40"),  # the rate for demerit goods since GST's September 2025 rate change
    ],
)
def test_rates_are_accepted_in_their_usual_spellings(value: object, rate: str) -> None:
    parsed = parse_gst_rate(value)
    assert parsed == Decimal(rate)
    assert format_rate(parsed) == rate


@pytest.mark.parametrize("value", ["7", "2", "40.5", "-5", "abc", "", None, True, "NaN", "Infinity", "5%%", "sNaN"])
def test_unknown_rates_are_none(value: object) -> None:
    assert parse_gst_rate(value) is None


def test_a_signalling_nan_rate_is_none_not_an_exception() -> None:
    assert parse_gst_rate("sNaN") is None


@given(st.text(max_size=12))
def test_parsing_a_rate_never_raises(text: str) -> None:
    result = parse_gst_rate(text)
    assert result is None or result in GST_RATES


def test_rates_are_formatted_without_trailing_zeros_or_exponents() -> None:
    assert format_rate(Decimal("28.00")) == "28"
    assert format_rate(Decimal("0.10")) == "0.1"
    assert format_rate(Decimal("0")) == "0"
    assert format_rate(Decimal("1E+1")) == "10"
