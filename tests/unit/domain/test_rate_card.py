"""Tariffs as data and the itemised price of a parcel."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ordermesh.domain.errors import Collector, ValidationFailed
from ordermesh.domain.rate_card import NotServiceable, Tariff, price, price_in_zone, slab_count
from ordermesh.domain.zones import PincodeInfo, Zone

D = Decimal
BLR = PincodeInfo("560001", "29", "BENGALURU URBAN")
BLR_2 = PincodeInfo("560103", "29", "BENGALURU URBAN")
MYS = PincodeInfo("570001", "29", "MYSURU")
MAA = PincodeInfo("600001", "33", "CHENNAI")
LKO = PincodeInfo("226001", "09", "LUCKNOW")
GAU = PincodeInfo("781001", "18", "KAMRUP METRO")


def settings(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": "City fleet",
        "first_slab_g": 500,
        "additional_slab_g": 500,
        "zones": {
            "local": {"first": "40", "additional": "30", "transit_days": 1},
            "regional": {"first": "55", "additional": "45", "transit_days": 2},
            "metro": {"first": "60.50", "additional": "50"},
            "national": {"first": "75", "additional": "65"},
        },
        "fuel_surcharge_percent": "12.5",
        "cod_supported": True,
        "cod_percent": "2",
        "cod_minimum": "35",
        "max_weight_g": 10000,
    }
    raw.update(changes)
    return raw


TARIFF = Tariff.from_dict(settings())


def test_slabs_count_from_the_exact_weight() -> None:
    assert [slab_count(TARIFF, g) for g in (1, 500, 501, 1000, 1001, 1500)] == [1, 1, 2, 2, 3, 3]
    other = Tariff.from_dict(settings(first_slab_g=1000, additional_slab_g=250))
    assert [slab_count(other, g) for g in (1000, 1001, 1250, 1251)] == [1, 2, 2, 3]


def test_price_is_itemised_and_adds_up() -> None:
    q = price(TARIFF, BLR, MYS, 1200)
    assert (q.zone, q.zone_reason, q.slabs) == (Zone.REGIONAL, "same state", 3)
    assert q.freight == D("145.00")  # 55 + 2 × 45
    assert q.fuel == D("18.13")  # 12.5% of 145 = 18.125, half up
    assert q.cod_fee == D("0.00")
    assert q.total == D("163.13")
    assert q.transit_days == 2
    assert q.as_dict()["total"] == "163.13" and q.as_dict()["zone"] == "regional"


def test_zone_comes_from_the_shared_zone_function() -> None:
    assert price(TARIFF, BLR, BLR_2, 500).zone is Zone.LOCAL
    assert price(TARIFF, BLR, MAA, 500).freight == D("60.50")
    assert price(TARIFF, BLR, LKO, 500).zone is Zone.NATIONAL
    assert price(TARIFF, BLR, MAA, 500).transit_days is None


def test_cod_fee_is_a_percentage_with_a_minimum() -> None:
    assert price(TARIFF, BLR, MYS, 500, D("1000")).cod_fee == D("35.00")  # 2% = 20 < 35
    big = price(TARIFF, BLR, MYS, 500, D("2999.99"))
    assert big.cod_fee == D("60.00")  # 59.9998 -> 60.00
    assert big.total == D("55.00") + D("6.88") + D("60.00")
    # fuel is on freight only, never on the COD fee
    assert big.fuel == price(TARIFF, BLR, MYS, 500).fuel


def test_what_the_tariff_cannot_take() -> None:
    with pytest.raises(NotServiceable, match="special zone"):
        price(TARIFF, BLR, GAU, 500)
    with pytest.raises(NotServiceable, match="10001 g is over"):
        price(TARIFF, BLR, MYS, 10001)
    assert price(TARIFF, BLR, MYS, 10000).slabs == 20
    no_cod = Tariff.from_dict(settings(cod_supported=False))
    with pytest.raises(NotServiceable, match="cash on delivery"):
        price(no_cod, BLR, MYS, 500, D(100))
    assert price(no_cod, BLR, MYS, 500).cod_fee == 0
    with pytest.raises(ValueError):
        price_in_zone(TARIFF, Zone.LOCAL, 0)


def test_from_dict_names_every_bad_field() -> None:
    bad = settings(
        first_slab_g=0,
        additional_slab_g="500",
        fuel_surcharge_percent=12.5,
        cod_supported="yes",
        cod_minimum="35.001",
        max_weight_g=-1,
        volumetric_divisor=10,
        colour="red",
        zones={
            "local": {"first": "40", "additional": "-1"},
            "moon": {"first": "1", "additional": "1"},
            "metro": {"first": "abc", "transit_days": 99, "extra": 1},
            "special": "cheap",
        },
    )
    with pytest.raises(ValidationFailed) as info:
        Tariff.from_dict(bad)
    assert {e.field for e in info.value.errors} == {
        "tariff.first_slab_g",
        "tariff.additional_slab_g",
        "tariff.fuel_surcharge_percent",
        "tariff.cod_supported",
        "tariff.cod_minimum",
        "tariff.max_weight_g",
        "tariff.volumetric_divisor",
        "tariff.colour",
        "tariff.zones.local.additional",
        "tariff.zones.moon",
        "tariff.zones.metro.first",
        "tariff.zones.metro.additional",
        "tariff.zones.metro.transit_days",
        "tariff.zones.metro.extra",
        "tariff.zones.special",
    }
    errors = Collector()
    Tariff.from_dict({"name": "x", "zones": {}}, errors, where="settings.tariff")
    assert {e.field for e in errors.errors} == {
        "settings.tariff.first_slab_g",
        "settings.tariff.additional_slab_g",
        "settings.tariff.zones",
    }
    with pytest.raises(ValidationFailed, match="tariff: must be an object"):
        Tariff.from_dict(["not", "a", "tariff"])


def test_round_trip_through_settings() -> None:
    again = Tariff.from_dict(TARIFF.as_dict())
    assert again == TARIFF
    assert again.zones[Zone.METRO].first == D("60.50") and again.volumetric_divisor == 5000


@given(
    st.integers(1, 10000),
    st.decimals(D(0), D(50000), places=2),
    st.sampled_from([Zone.LOCAL, Zone.REGIONAL, Zone.METRO, Zone.NATIONAL]),
)
def test_total_is_the_sum_of_exact_paise_and_grows_with_weight(grams: int, cod: Decimal, zone: Zone) -> None:
    q = price_in_zone(TARIFF, zone, grams, cod)
    for amount in (q.freight, q.fuel, q.cod_fee, q.total):
        assert amount == amount.quantize(D("0.01"))
    assert q.total == q.freight + q.fuel + q.cod_fee
    assert (q.slabs - 1) * 500 < grams <= q.slabs * 500
    if grams + 1 <= 10000:
        assert price_in_zone(TARIFF, zone, grams + 1, cod).total >= q.total
    if cod > 0:
        assert q.cod_fee >= D(35)
