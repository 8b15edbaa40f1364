"""Catalog rules without a database: SKU validation, barcodes, bundles and their availability."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermesh.domain.catalog import (
    Component,
    SkuSpec,
    build_sku,
    bundle_available,
    code_problem,
    gtin_ok,
    parse_barcodes,
)
from ordermesh.domain.errors import Collector, ValidationFailed


def raw_sku(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": "KURTA-M",
        "name": "Cotton kurta, medium",
        "hsn": "6109",
        "gst_rate": "5",
        "mrp": "799.00",
        "weight_g": 350,
        "dimensions_cm": ["30.5", "25", "4"],
    }
    data.update(overrides)
    return data


def build(raw: dict[str, Any], prefix: str = "") -> tuple[SkuSpec | None, dict[str, str]]:
    errors = Collector()
    spec = build_sku(raw, errors, prefix=prefix)
    return spec, {e.field: e.message for e in errors.errors}


def gs1_check_digit(body: str) -> int:
    """An independent GS1 check digit: weights 3,1,3,... from the right of the body."""
    weights = [3, 1] * len(body)
    total = sum(int(d) * w for d, w in zip(reversed(body), weights, strict=False))
    return (10 - total % 10) % 10


# --- codes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["A", "KURTA-M", "k.1_2-3", "9" * 64])
def test_good_codes(code: str) -> None:
    assert code_problem(code) is None


@pytest.mark.parametrize("code", ["", "-KURTA", ".x", "has space", "a/b", "é", "9" * 65])
def test_bad_codes(code: str) -> None:
    assert code_problem(code) is not None


# --- a valid SKU ------------------------------------------------------------------------------


def test_a_valid_sku_is_built_with_exact_values() -> None:
    # when
    spec, errors = build(raw_sku(gst_rate="18%", mrp=799, barcodes=["4006381333931", "SHELF-12"]))
    # then
    assert errors == {}
    assert spec is not None
    assert spec.code == "KURTA-M"
    assert spec.gst_rate == Decimal("18")
    assert spec.mrp == Decimal("799.00")
    assert spec.weight_g == 350
    assert spec.dimensions_cm == (Decimal("30.50"), Decimal("25"), Decimal("4"))
    assert spec.barcodes == ["4006381333931", "SHELF-12"]
    assert not spec.is_bundle
    assert spec.active is True


def test_fields_are_trimmed() -> None:
    spec, errors = build(raw_sku(code="  KURTA-M ", name=" Kurta  ", hsn=" 6109 "))
    assert errors == {}
    assert spec is not None
    assert (spec.code, spec.name, spec.hsn) == ("KURTA-M", "Kurta", "6109")


def test_as_dict_writes_money_and_rates_as_strings() -> None:
    spec, _ = build(raw_sku(gst_rate=Decimal("12.00"), mrp="1499.5"))
    assert spec is not None
    d = spec.as_dict()
    assert d["gst_rate"] == "12"
    assert d["mrp"] == "1499.50"
    assert d["dimensions_cm"] == ["30.5", "25", "4"]


def test_whole_dimensions_are_written_as_plain_numbers() -> None:
    # given: whole centimetres that end in zero, as a seller types them
    spec, errors = build(raw_sku(dimensions_cm=[30, 20, 100]))
    # then: they read back as the seller typed them, not in exponent form ("3E+1")
    assert errors == {}
    assert spec is not None
    assert spec.as_dict()["dimensions_cm"] == ["30", "20", "100"]


# --- every problem, with its path -------------------------------------------------------------


def test_every_bad_field_is_reported_with_its_path() -> None:
    # given
    raw = {
        "code": "-bad code",
        "name": "x" * 301,
        "hsn": "61",
        "gst_rate": "7",
        "mrp": "12.345",
        "weight_g": 0,
        "dimensions_cm": [10, -1, 5],
        "barcodes": ["4006381333932", "ok-code", "ok-code", "no"],
        "components": [{"sku": "TEE", "quantity": 0}, {"sku": "", "quantity": 1}, "junk"],
        "active": "yes",
    }
    # when
    spec, errors = build(raw)
    # then
    assert spec is None
    assert set(errors) == {
        "code",
        "name",
        "hsn",
        "gst_rate",
        "mrp",
        "weight_g",
        "dimensions_cm.1",
        "barcodes.0",
        "barcodes.2",
        "barcodes.3",
        "components.0.quantity",
        "components.1.sku",
        "components.2",
        "active",
    }
    assert "check digit" in errors["barcodes.0"]
    assert "twice" in errors["barcodes.2"]


def test_missing_fields_are_each_required() -> None:
    spec, errors = build({})
    assert spec is None
    assert errors == {
        "code": "is required",
        "name": "is required",
        "hsn": "is required",
        "gst_rate": "is required",
        "mrp": "is required",
        "weight_g": "is required",
    }


def test_a_prefix_is_put_before_every_path() -> None:
    # given: a row of an import, whose errors are reported under the row
    _, errors = build(raw_sku(code="", dimensions_cm=[1, 2], barcodes=["x"]), prefix="rows.3.")
    # then
    assert set(errors) == {"rows.3.code", "rows.3.dimensions_cm", "rows.3.barcodes.0"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("code", 123),
        ("name", ["kurta"]),
        ("weight_g", True),
        ("weight_g", 350.0),
        ("weight_g", 1_000_001),
        ("mrp", -1),
        ("mrp", True),
        ("gst_rate", "abc"),
        ("dimensions_cm", "30x25x4"),
        ("dimensions_cm", [30, 25, True]),
        ("dimensions_cm", [30, 25, 1001]),
        ("barcodes", "4006381333931"),
        ("components", {"sku": "TEE"}),
        ("active", 1),
    ],
)
def test_wrongly_typed_or_out_of_range_values_are_refused(field: str, value: object) -> None:
    spec, errors = build(raw_sku(**{field: value}))
    assert spec is None
    assert len(errors) == 1
    assert next(iter(errors)).startswith(field)


def test_a_collector_raises_every_error_at_once() -> None:
    # given
    errors = Collector()
    build_sku({"code": "K"}, errors)
    # when / then
    with pytest.raises(ValidationFailed) as exc:
        errors.raise_if_any()
    assert {e.field for e in exc.value.errors} == {"name", "hsn", "gst_rate", "mrp", "weight_g"}


def test_a_gst_rate_that_is_not_a_number_is_a_field_error_not_a_crash() -> None:
    # given: "sNaN" parses as a Decimal but cannot even be compared
    spec, errors = build(raw_sku(gst_rate="sNaN"))
    # then
    assert spec is None
    assert set(errors) == {"gst_rate"}


# --- barcodes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["96385074", "036000291452", "4006381333931", "5901234123457", "10012345678902"])
def test_valid_ean_upc_and_gtin_check_digits(code: str) -> None:
    assert gtin_ok(code)


@pytest.mark.parametrize("code", ["96385075", "036000291453", "4006381333932", "10012345678900"])
def test_wrong_check_digits(code: str) -> None:
    assert not gtin_ok(code)


@given(body=st.text(alphabet="0123456789", min_size=7, max_size=13), wrong=st.integers(1, 9))
def test_gtin_check_digit_matches_gs1(body: str, wrong: int) -> None:
    check = gs1_check_digit(body)
    assert gtin_ok(body + str(check))
    assert not gtin_ok(body + str((check + wrong) % 10))


def test_digit_barcodes_of_other_lengths_are_not_check_digit_tested() -> None:
    # given: a 10-digit internal code is not an EAN/UPC
    errors = Collector()
    assert parse_barcodes(["1234567890"], errors, "barcodes") == ["1234567890"]
    assert errors.errors == []


def test_barcodes_are_trimmed_and_deduplicated_with_an_error() -> None:
    errors = Collector()
    out = parse_barcodes([" 4006381333931 ", "4006381333931"], errors, "b")
    assert out == ["4006381333931"]
    assert [e.field for e in errors.errors] == ["b.1"]


# --- bundles ----------------------------------------------------------------------------------


def test_a_bundle_lists_its_components() -> None:
    spec, errors = build(
        raw_sku(code="COMBO", components=[{"sku": "TEE", "quantity": 1}, {"sku": "CAP", "quantity": 2}])
    )
    assert errors == {}
    assert spec is not None
    assert spec.is_bundle
    assert spec.components == [Component("TEE", 1), Component("CAP", 2)]
    assert spec.as_dict()["components"] == [{"sku": "TEE", "quantity": 1}, {"sku": "CAP", "quantity": 2}]


def test_a_bundle_cannot_contain_itself() -> None:
    spec, errors = build(
        raw_sku(code="COMBO", components=[{"sku": "TEE", "quantity": 1}, {"sku": "COMBO", "quantity": 1}])
    )
    assert spec is None
    assert errors == {"components.1.sku": "a bundle cannot contain itself"}


def test_a_bundle_cannot_contain_itself_even_with_spaces() -> None:
    _, errors = build(raw_sku(code=" COMBO", components=[{"sku": "COMBO ", "quantity": 1}]))
    assert set(errors) == {"components.0.sku"}


def test_a_component_listed_twice_is_merged() -> None:
    spec, _ = build(raw_sku(code="COMBO", components=[{"sku": "TEE", "quantity": 1}, {"sku": " TEE", "quantity": 2}]))
    assert spec is not None
    assert spec.components == [Component("TEE", 3)]


@pytest.mark.parametrize("quantity", [0, -1, 1001, True, 1.5, "2"])
def test_component_quantities_are_whole_numbers_from_1_to_1000(quantity: object) -> None:
    _, errors = build(raw_sku(code="COMBO", components=[{"sku": "TEE", "quantity": quantity}]))
    assert set(errors) == {"components.0.quantity"}


def test_bundle_availability_is_the_scarcest_component() -> None:
    components = [Component("TEE", 1), Component("CAP", 2)]
    assert bundle_available(components, {"TEE": 10, "CAP": 7}) == 3
    assert bundle_available(components, {"TEE": 2, "CAP": 70}) == 2
    assert bundle_available(components, {"TEE": 10, "CAP": 1}) == 0


def test_a_missing_component_makes_the_bundle_unavailable() -> None:
    assert bundle_available([Component("TEE", 1), Component("CAP", 2)], {"TEE": 10}) == 0


def test_negative_component_availability_counts_as_zero() -> None:
    assert bundle_available([Component("TEE", 1)], {"TEE": -4}) == 0


def test_a_bundle_without_components_has_none_available() -> None:
    assert bundle_available([], {"TEE": 10}) == 0


component_lists = st.lists(
    st.builds(Component, sku=st.sampled_from(["A", "B", "C", "D"]), quantity=st.integers(1, 10)),
    min_size=1,
    max_size=4,
    unique_by=lambda c: c.sku,
)


@given(
    components=component_lists, available=st.dictionaries(st.sampled_from(["A", "B", "C", "D"]), st.integers(-5, 500))
)
def test_bundle_availability_never_exceeds_any_component(
    components: list[Component], available: dict[str, int]
) -> None:
    n = bundle_available(components, available)
    assert n >= 0
    for c in components:
        assert n <= max(0, available.get(c.sku, 0)) // c.quantity
    # and it is the largest such number: one more bundle would need more of some component
    assert any((n + 1) * c.quantity > available.get(c.sku, 0) for c in components)
