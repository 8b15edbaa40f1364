"""Customer identity: one spelling per phone and email, masking, and erasure placeholders."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermesh.domain.contacts import (
    ADDRESS_FIELDS_KEPT,
    ERASED_LINE,
    ERASED_NAME,
    anonymise_address,
    anonymised_contact,
    anonymised_name,
    is_erased_name,
    mask_email,
    mask_phone,
    normalise_email,
    normalise_phone,
)

E164 = re.compile(r"^\+[1-9][0-9]{7,14}\Z")


# --- phones -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "9876543210",
        "98765 43210",
        "98765-43210",
        "+91-98765-43210",
        "+91 98765 43210",
        "+919876543210",
        "09876543210",
        "919876543210",
        "91 98765 43210",
        "0091 98765 43210",
        "+91 (0) 98765 43210",
        "+91 098765 43210",
        "(+91) 98765.43210",
        "  98765\u00a043210 ",
        "98765\u201343210",  # an en dash, as word processors type it
        "tel:+91-9876543210",
    ],
)
def test_the_usual_spellings_of_an_indian_mobile_normalise_to_one(raw: str) -> None:
    assert normalise_phone(raw) == "+919876543210"


@pytest.mark.parametrize("first", "6789")
def test_indian_mobiles_start_with_6_to_9(first: str) -> None:
    assert normalise_phone(f"{first}123456789") == f"+91{first}123456789"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("022 2345 6789", "+912223456789"),  # Mumbai
        ("080-23456789", "+918023456789"),  # Bengaluru
        ("0120 456 7890", "+911204567890"),  # Noida, three-digit STD code
        ("+91 11 2345 6789", "+911123456789"),  # Delhi with the country code
        ("91 22 2345 6789", "+912223456789"),
    ],
)
def test_landlines_with_their_std_code_are_accepted(raw: str, e164: str) -> None:
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+1 (415) 555-0123", "+14155550123"),
        ("+44 20 7946 0958", "+442079460958"),
        ("0044 20 7946 0958", "+442079460958"),
        ("+971 50 123 4567", "+971501234567"),
        ("+65 6123 4567", "+6561234567"),  # 10 digits in all
    ],
)
def test_other_countries_numbers_written_with_their_code_are_kept(raw: str, e164: str) -> None:
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "abc",
        "call me",
        "98765",  # too short
        "98765432101",  # 11 digits without a trunk 0
        "5876543210",  # a bare 10-digit number starting 1-5 is not an Indian mobile
        "2223456789",  # a landline without its STD trunk 0 is ambiguous
        "00000000000",
        "9999999999",  # one digit ten times is nobody's number
        "+91 99999 99999",
        "+91 12345",  # +91 needs ten digits
        "+91 0123456789",  # a national number never starts with 0
        "1800 123 4567",  # toll-free, not a person
        "9876543210 / 9123456789",  # two numbers in one field
        "9876543210 ext 12",
        "+1 234",  # under 8 digits in all
        "+1234567890123456",  # over 15 digits
        "+0 123 456 789",
        "9.87654321E+09",  # a spreadsheet's idea of a phone number
        "+91 98765 4321O",  # a letter O for a zero
        "++919876543210",
        "+",
    ],
)
def test_junk_is_not_a_phone_number(raw: str | None) -> None:
    assert normalise_phone(raw) is None


def test_a_default_country_other_than_india_prefixes_national_numbers() -> None:
    # when / then: the trunk 0 goes, the code comes in front
    assert normalise_phone("07911 123456", default_country="44") == "+447911123456"
    assert normalise_phone("7911 123456", default_country="44") == "+447911123456"
    assert normalise_phone("+91 98765 43210", default_country="44") == "+919876543210"
    assert normalise_phone("123", default_country="44") is None


@pytest.mark.parametrize("code", ["", "+91", "0", "1234", "IN"])
def test_the_default_country_must_be_a_calling_code(code: str) -> None:
    with pytest.raises(ValueError, match="calling code"):
        normalise_phone("9876543210", default_country=code)


mobiles = st.from_regex(r"[6-9][0-9]{9}", fullmatch=True).filter(lambda n: len(set(n)) > 1)


@given(mobiles, st.sampled_from(["{n}", "+91{n}", "0{n}", "91{n}", "0091{n}", "+91-{a}-{b}", "{a} {b}", "+91 (0){n}"]))
def test_every_spelling_of_any_mobile_gives_the_same_key(number: str, template: str) -> None:
    # when
    raw = template.format(n=number, a=number[:5], b=number[5:])
    # then
    assert normalise_phone(raw) == f"+91{number}"


@given(st.text(alphabet="0123456789 +-().", max_size=20) | st.text(max_size=20))
def test_a_normalised_phone_is_e164_and_stays_the_same_when_normalised_again(raw: str) -> None:
    # when
    phone = normalise_phone(raw)
    # then
    if phone is not None:
        assert E164.match(phone)
        assert normalise_phone(phone) == phone


# --- emails -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "email"),
    [
        ("priya.sharma@example.com", "priya.sharma@example.com"),
        ("  Priya.Sharma@Example.COM ", "priya.sharma@example.com"),
        ("priya+orders@gmail.com", "priya+orders@gmail.com"),  # tags are kept: not every provider ignores them
        ("p.sharma@mail.example.co.in", "p.sharma@mail.example.co.in"),
        ("o'neil@example.com", "o'neil@example.com"),
        ("mailto:Ravi@Example.in", "ravi@example.in"),
        ("ravi@xn--h2brj9c.xn--h2brj9c", "ravi@xn--h2brj9c.xn--h2brj9c"),  # भारत in punycode
        ("ravi_k-99@sub-domain.example.org", "ravi_k-99@sub-domain.example.org"),
    ],
)
def test_emails_are_trimmed_and_lower_cased(raw: str, email: str) -> None:
    assert normalise_email(raw) == email


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "priya",
        "priya@",
        "@example.com",
        "priya@example",
        "priya@@example.com",
        "priya@one@example.com",
        "priya sharma@example.com",
        "priya.@example.com",
        ".priya@example.com",
        "pri..ya@example.com",
        "priya@example..com",
        "priya@-example.com",
        "priya@example-.com",
        "priya@example.c",
        "priya@example.123",
        "priya@exam_ple.com",
        "Priya <priya@example.com>",
        "प्रिया@example.com",
        "x" * 65 + "@example.com",
        "priya@" + "a" * 250 + ".com",
        "na",
    ],
)
def test_what_is_not_an_email_is_refused(raw: str | None) -> None:
    assert normalise_email(raw) is None


@given(st.emails())
def test_a_normalised_email_stays_the_same_when_normalised_again(raw: str) -> None:
    # when
    email = normalise_email(raw)
    # then
    if email is not None:
        assert email == email.strip().lower()
        assert normalise_email(email) == email


# --- masking ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+919876543210", "+91******3210"),
        ("98765 43210", "+91******3210"),  # normalised first
        ("+14155550123", "+1******0123"),
        ("+442079460958", "+44******0958"),
        ("+971501234567", "+971*****4567"),
        ("+6561234567", "+65****4567"),
        ("call me", "*******"),
        (None, None),
    ],
)
def test_a_masked_phone_shows_the_country_code_and_the_last_four_digits(phone: str | None, masked: str | None) -> None:
    assert mask_phone(phone) == masked


@given(mobiles)
def test_a_masked_phone_hides_the_middle_digits(number: str) -> None:
    # when
    masked = mask_phone(f"+91{number}")
    # then
    assert masked == f"+91{'*' * 6}{number[-4:]}"
    assert number[:6] not in masked


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("priya.sharma@example.com", "p***********@example.com"),
        ("Priya.Sharma@Example.com", "p***********@example.com"),
        ("ab@example.com", "a*@example.com"),
        ("a@example.com", "*@example.com"),  # one letter would give it all away
        ("not an email", "************"),
        (None, None),
    ],
)
def test_a_masked_email_shows_the_first_letter_and_the_domain(email: str | None, masked: str | None) -> None:
    assert mask_email(email) == masked


# --- erasure ------------------------------------------------------------------------------------


def test_an_erased_customer_has_the_same_placeholder_name_as_everyone_else() -> None:
    assert anonymised_name() == ERASED_NAME == "Erased customer"
    assert is_erased_name(anonymised_name())
    assert not is_erased_name("Priya Sharma")
    assert not is_erased_name(None)


def test_an_erased_contact_keeps_no_way_to_reach_the_person() -> None:
    assert anonymised_contact() == {"name": "Erased customer", "phone": None, "email": None}


def test_an_erased_address_keeps_only_what_tax_and_zones_need() -> None:
    # given
    address = {
        "name": "Priya Sharma",
        "line1": "Flat 12, Sai Krupa Apartments",
        "line2": "MG Road, Kothrud",
        "landmark": "Opposite the temple",
        "city": "Pune",
        "state": "27",
        "pincode": "411038",
        "phone": "+919876543210",
        "email": "priya.sharma@example.com",
    }
    # when
    erased = anonymise_address(address)
    # then
    assert erased == {
        "name": ERASED_NAME,
        "line1": ERASED_LINE,
        "line2": None,
        "landmark": None,
        "city": "Pune",
        "state": "27",
        "pincode": "411038",
        "phone": None,
        "email": None,
    }
    assert address["name"] == "Priya Sharma"  # the original is untouched


def test_what_an_erased_address_keeps_can_be_narrowed() -> None:
    # when
    erased = anonymise_address({"city": "Pune", "state": "27", "pincode": "411038"}, keep=frozenset({"state"}))
    # then
    assert erased == {"city": None, "state": "27", "pincode": None}
    assert {"state", "pincode", "gstin"} <= ADDRESS_FIELDS_KEPT
