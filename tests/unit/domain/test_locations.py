"""Location rules without a database, against a fake pincode directory."""

from __future__ import annotations

from typing import Any

import pytest

from ordermesh.domain.errors import Collector
from ordermesh.domain.locations import (
    DEFAULT_CAPABILITIES,
    Capability,
    LocationKind,
    LocationSpec,
    build_location,
)

DIRECTORY = {
    "421302": ["MAHARASHTRA"],
    "560001": ["KARNATAKA"],
    "122001": ["HARYANA"],
    "110001": ["DELHI"],
    "201301": ["UTTAR PRADESH", "DELHI"],  # a pincode that straddles a border (fake)
}


def fake_pincode_states(pincode: str) -> list[str] | None:
    return DIRECTORY.get(pincode)


def raw_location(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": "BHW",
        "name": "Bhiwandi warehouse",
        "address": {"line1": "Plot 12, Industrial Area", "city": "Bhiwandi", "state": "MH", "pincode": "421302"},
        "gstin": "27AAACE0000E1ZM",
    }
    data.update(overrides)
    return data


def address(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"line1": "Plot 12", "city": "Bhiwandi", "state": "MH", "pincode": "421302"}
    data.update(overrides)
    return data


def build(raw: dict[str, Any]) -> tuple[LocationSpec | None, dict[str, str]]:
    errors = Collector()
    spec = build_location(raw, errors, fake_pincode_states)
    return spec, {e.field: e.message for e in errors.errors}


def test_a_valid_location_gets_defaults() -> None:
    # when
    spec, errors = build(raw_location())
    # then
    assert errors == {}
    assert spec is not None
    assert spec.kind is LocationKind.WAREHOUSE
    assert spec.capabilities == list(DEFAULT_CAPABILITIES)
    assert spec.priority == 100
    assert spec.active is True
    assert spec.address.state.iso == "MH"
    assert spec.gstin == "27AAACE0000E1ZM"


def test_as_dict_spells_the_state_three_ways() -> None:
    spec, _ = build(raw_location())
    assert spec is not None
    d = spec.as_dict()
    assert d["address"] == {
        "line1": "Plot 12, Industrial Area",
        "line2": None,
        "city": "Bhiwandi",
        "state": "27",
        "state_code": "MH",
        "state_name": "Maharashtra",
        "pincode": "421302",
    }
    assert d["capabilities"] == ["ships", "receives_returns"]


@pytest.mark.parametrize("state", ["MH", "27", 27, "IN-MH", "Maharashtra", "maharashtra"])
def test_the_state_may_be_given_any_way(state: object) -> None:
    spec, errors = build(raw_location(address=address(state=state)))
    assert errors == {}
    assert spec is not None
    assert spec.address.state.gst_code == "27"


def test_a_gstin_is_optional_and_normalised() -> None:
    spec, errors = build(raw_location(gstin=" 27aaace0000e1zm "))
    assert errors == {}
    assert spec is not None
    assert spec.gstin == "27AAACE0000E1ZM"
    spec, errors = build(raw_location(gstin=None))
    assert errors == {}
    assert spec is not None and spec.gstin is None


def test_a_store_with_pickup() -> None:
    spec, errors = build(raw_location(kind="store", capabilities=["store_pickup", "ships", "store_pickup"], priority=0))
    assert errors == {}
    assert spec is not None
    assert spec.kind is LocationKind.STORE
    assert spec.capabilities == [Capability.STORE_PICKUP, Capability.SHIPS]
    assert spec.priority == 0


def test_a_pincode_on_a_border_matches_either_state() -> None:
    spec, errors = build(raw_location(address=address(state="DL", pincode="201301"), gstin=None))
    assert errors == {}
    assert spec is not None


def test_every_bad_field_is_reported_with_its_path() -> None:
    # given
    raw = {
        "code": "-x y",
        "name": "",
        "kind": "depot",
        "address": {"line1": "", "city": "C" * 101, "state": "Atlantis", "pincode": "012345"},
        "gstin": "27AAACE0000E1ZN",
        "capabilities": ["ships", "teleport"],
        "priority": -1,
        "active": "yes",
    }
    # when
    spec, errors = build(raw)
    # then
    assert spec is None
    assert set(errors) == {
        "code",
        "name",
        "kind",
        "address.line1",
        "address.city",
        "address.state",
        "address.pincode",
        "gstin",
        "capabilities.1",
        "priority",
        "active",
    }


def test_a_missing_address_is_one_error() -> None:
    spec, errors = build(raw_location(address=None, gstin=None))
    assert spec is None
    assert set(errors) == {"address"}


def test_missing_address_fields_are_each_required() -> None:
    spec, errors = build(raw_location(address={}, gstin=None))
    assert spec is None
    assert errors == {
        "address.line1": "is required",
        "address.city": "is required",
        "address.state": "is required",
        "address.pincode": "is required",
    }


def test_an_unknown_pincode_is_refused() -> None:
    _, errors = build(raw_location(address=address(pincode="999999")))
    assert set(errors) == {"address.pincode"}
    assert "not a known pincode" in errors["address.pincode"]


def test_a_pincode_in_another_state_is_refused() -> None:
    _, errors = build(raw_location(address=address(pincode="560001"), gstin=None))
    assert errors == {"address.pincode": "560001 is in Karnataka, not Maharashtra"}


def test_a_gstin_registered_in_another_state_is_refused() -> None:
    _, errors = build(raw_location(gstin="29AAACS0000S1ZB"))
    assert set(errors) == {"gstin"}
    assert "Maharashtra" in errors["gstin"]


def test_a_gstin_from_another_state_is_reported_alongside_other_problems() -> None:
    # given: a bad code and, independently, a GSTIN from Karnataka on a Maharashtra address
    spec, errors = build(raw_location(code="-bad", gstin="29AAACS0000S1ZB"))
    # then: both are reported at once, so the user does not fix one only to meet the next
    assert spec is None
    assert set(errors) == {"code", "gstin"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("code", 12),
        ("code", "x" * 65),
        ("name", "n" * 201),
        ("gstin", 27),
        ("capabilities", "ships"),
        ("priority", True),
        ("priority", 10_001),
        ("priority", "1"),
        ("active", 0),
    ],
)
def test_wrongly_typed_or_out_of_range_values_are_refused(field: str, value: object) -> None:
    spec, errors = build(raw_location(**{field: value}))
    assert spec is None
    assert set(errors) == {field}


@pytest.mark.parametrize(
    ("field", "value"),
    [("line1", "l" * 201), ("line2", "l" * 201), ("city", 5), ("state", True), ("state", 3.5)],
)
def test_bad_address_fields_are_reported_under_address(field: str, value: object) -> None:
    _, errors = build(raw_location(address=address(**{field: value}), gstin=None))
    assert set(errors) == {f"address.{field}"}
