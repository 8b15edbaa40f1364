"""A carrier's tariff as data, and the price of one parcel on it.

A tariff prices by the zone of the lane (:mod:`ordermesh.domain.zones`: local, regional, metro,
national, special) and by weight slabs, the way Indian courier rate cards do::

    slabs    = 1 + ceil((chargeable_g − first_slab_g) / additional_slab_g), and 1 up to first_slab_g
    freight  = zone's first-slab price + (slabs − 1) × zone's additional-slab price
    fuel     = freight × fuel_surcharge_percent / 100                      (on freight only)
    cod_fee  = max(cod_minimum, cod_amount × cod_percent / 100)           (only when collecting)
    total    = freight + fuel + cod_fee

Each amount is rounded half-up to the paisa, and the total is the sum of the rounded amounts, so
the itemised quote always adds up. Prices are before GST on the freight (rate cards are quoted
ex-GST; the carrier's invoice adds 18%). A zone missing from the tariff is a lane it does not
serve, as is a parcel over ``max_weight_g`` or a COD parcel on a tariff without COD.

The tariff as settings (amounts as strings or whole numbers; never floats)::

    {"name": "City fleet", "first_slab_g": 500, "additional_slab_g": 500,
     "zones": {"local": {"first": "40", "additional": "30", "transit_days": 1},
               "regional": {"first": "55", "additional": "45"}},
     "fuel_surcharge_percent": "12", "cod_supported": true, "cod_percent": "2", "cod_minimum": "35",
     "max_weight_g": 20000, "volumetric_divisor": 5000}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ordermesh.domain.errors import Collector, DomainError
from ordermesh.domain.money import MAX_AMOUNT, PAISA, format_amount
from ordermesh.domain.shipping import DEFAULT_VOLUMETRIC_DIVISOR
from ordermesh.domain.zones import PincodeInfo, Zone, classify

_KEYS = (
    "name",
    "first_slab_g",
    "additional_slab_g",
    "zones",
    "fuel_surcharge_percent",
    "cod_supported",
    "cod_percent",
    "cod_minimum",
    "max_weight_g",
    "volumetric_divisor",
)
_ZONE_KEYS = ("first", "additional", "transit_days")
MAX_SLAB_G = 100_000
MAX_WEIGHT_G = 1_000_000


class NotServiceable(DomainError):
    """The tariff cannot take this parcel on this lane; ``detail`` says why."""

    code = "not-serviceable"
    title = "Not serviceable"
    status = 422


@dataclass(frozen=True)
class ZoneRate:
    first: Decimal  # price of the first slab
    additional: Decimal  # price of each further slab
    transit_days: int | None = None  # the carrier's stated days on this zone


@dataclass(frozen=True)
class Tariff:
    name: str
    first_slab_g: int
    additional_slab_g: int
    zones: Mapping[Zone, ZoneRate]
    fuel_surcharge_percent: Decimal = Decimal(0)
    cod_supported: bool = False
    cod_percent: Decimal = Decimal(0)
    cod_minimum: Decimal = Decimal(0)
    max_weight_g: int | None = None
    volumetric_divisor: int = DEFAULT_VOLUMETRIC_DIVISOR

    def as_dict(self) -> dict[str, Any]:
        zones: dict[str, Any] = {}
        for zone, rate in sorted(self.zones.items(), key=lambda kv: kv[0].rank):
            entry: dict[str, Any] = {"first": format_amount(rate.first), "additional": format_amount(rate.additional)}
            if rate.transit_days is not None:
                entry["transit_days"] = rate.transit_days
            zones[zone.value] = entry
        return {
            "name": self.name,
            "first_slab_g": self.first_slab_g,
            "additional_slab_g": self.additional_slab_g,
            "zones": zones,
            "fuel_surcharge_percent": str(self.fuel_surcharge_percent),
            "cod_supported": self.cod_supported,
            "cod_percent": str(self.cod_percent),
            "cod_minimum": format_amount(self.cod_minimum),
            "max_weight_g": self.max_weight_g,
            "volumetric_divisor": self.volumetric_divisor,
        }

    @classmethod
    def from_dict(cls, raw: object, errors: Collector | None = None, where: str = "tariff") -> Tariff:
        """A tariff from settings. Every bad field is named (``tariff.zones.metro.first``); with no
        ``errors`` given, raises ValidationFailed listing all of them."""
        own = errors is None
        errs = Collector() if errors is None else errors
        tariff = _build(raw, errs, where)
        if own:
            errs.raise_if_any("The tariff has invalid fields")
        if tariff is None:  # only when the caller collects errors itself
            return _EMPTY
        return tariff


_EMPTY = Tariff("", 1, 1, {})


def _build(raw: object, errors: Collector, where: str) -> Tariff | None:
    if not isinstance(raw, Mapping):
        errors.add(where, "must be an object")
        return None
    before = len(errors.errors)
    for key in sorted(set(raw) - set(_KEYS)):
        errors.add(f"{where}.{key}", f"unknown field; use {', '.join(_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 80:
        errors.add(f"{where}.name", "must be a name of 1 to 80 characters")
    first_slab = _whole(raw, "first_slab_g", where, errors, 1, MAX_SLAB_G, required=True)
    additional_slab = _whole(raw, "additional_slab_g", where, errors, 1, MAX_SLAB_G, required=True)
    max_weight = _whole(raw, "max_weight_g", where, errors, 1, MAX_WEIGHT_G)
    divisor = _whole(raw, "volumetric_divisor", where, errors, 1000, 10000)
    fuel = _decimal(raw.get("fuel_surcharge_percent", "0"), f"{where}.fuel_surcharge_percent", errors, Decimal(100))
    cod_supported = raw.get("cod_supported", False)
    if not isinstance(cod_supported, bool):
        errors.add(f"{where}.cod_supported", "must be true or false")
    cod_percent = _decimal(raw.get("cod_percent", "0"), f"{where}.cod_percent", errors, Decimal(100))
    cod_minimum = _decimal(raw.get("cod_minimum", "0"), f"{where}.cod_minimum", errors, MAX_AMOUNT, money=True)
    zones = _zones(raw.get("zones"), f"{where}.zones", errors)
    if len(errors.errors) > before or not isinstance(name, str):
        return None
    return Tariff(
        name=name.strip(),
        first_slab_g=first_slab or 1,
        additional_slab_g=additional_slab or 1,
        zones=zones,
        fuel_surcharge_percent=fuel or Decimal(0),
        cod_supported=bool(cod_supported),
        cod_percent=cod_percent or Decimal(0),
        cod_minimum=cod_minimum or Decimal(0),
        max_weight_g=max_weight,
        volumetric_divisor=divisor or DEFAULT_VOLUMETRIC_DIVISOR,
    )


def _zones(raw: object, where: str, errors: Collector) -> dict[Zone, ZoneRate]:
    names = ", ".join(z.value for z in Zone)
    if not isinstance(raw, Mapping) or not raw:
        errors.add(where, f"must map at least one zone ({names}) to its prices")
        return {}
    zones: dict[Zone, ZoneRate] = {}
    for key, entry in raw.items():
        here = f"{where}.{key}"
        try:
            zone = Zone(key)
        except ValueError:
            errors.add(here, f"unknown zone; use {names}")
            continue
        if not isinstance(entry, Mapping):
            errors.add(here, "must be an object with first, additional and optionally transit_days")
            continue
        for extra in sorted(set(entry) - set(_ZONE_KEYS)):
            errors.add(f"{here}.{extra}", f"unknown field; use {', '.join(_ZONE_KEYS)}")
        first = _decimal(entry.get("first"), f"{here}.first", errors, MAX_AMOUNT, money=True, required=True)
        additional = _decimal(
            entry.get("additional"), f"{here}.additional", errors, MAX_AMOUNT, money=True, required=True
        )
        days = _whole(entry, "transit_days", here, errors, 0, 60)
        if first is not None and additional is not None:
            zones[zone] = ZoneRate(first, additional, days)
    return zones


def _whole(
    raw: Mapping[str, Any], key: str, where: str, errors: Collector, low: int, high: int, *, required: bool = False
) -> int | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors.add(f"{where}.{key}", f"must be a whole number from {low} to {high}")
        return None
    return value


def _decimal(
    value: object, where: str, errors: Collector, high: Decimal, *, money: bool = False, required: bool = False
) -> Decimal | None:
    what = "an amount in rupees" if money else "a percentage"
    if value is None:
        if required:
            errors.add(where, f'is required: {what}, as a string such as "42.50"')
        return None
    if isinstance(value, bool | float):
        errors.add(where, f"must be {what} as a string or whole number, not {type(value).__name__}")
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.add(where, f"must be {what}")
        return None
    places, decimals = (PAISA, 2) if money else (Decimal("0.001"), 3)
    if not number.is_finite() or number < 0 or number > high or number != number.quantize(places):
        errors.add(where, f"must be {what} from 0 to {high}, with at most {decimals} decimals")
        return None
    return number


# -- pricing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateQuote:
    """One parcel's price, itemised."""

    tariff: str
    zone: Zone
    zone_reason: str  # why the lane is in that zone ("same state"), for people
    chargeable_g: int
    slabs: int  # first slab included
    freight: Decimal
    fuel: Decimal
    cod_fee: Decimal
    total: Decimal
    transit_days: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tariff": self.tariff,
            "zone": self.zone.value,
            "zone_reason": self.zone_reason,
            "chargeable_g": self.chargeable_g,
            "slabs": self.slabs,
            "freight": format_amount(self.freight),
            "fuel": format_amount(self.fuel),
            "cod_fee": format_amount(self.cod_fee),
            "total": format_amount(self.total),
            "transit_days": self.transit_days,
        }


def _paise(amount: Decimal) -> Decimal:
    return amount.quantize(PAISA, rounding=ROUND_HALF_UP)


def slab_count(tariff: Tariff, chargeable_g: int) -> int:
    if chargeable_g <= tariff.first_slab_g:
        return 1
    return 1 + -(-(chargeable_g - tariff.first_slab_g) // tariff.additional_slab_g)


def cod_fee(tariff: Tariff, cod_amount: Decimal) -> Decimal:
    if cod_amount <= 0:
        return Decimal("0.00")
    return max(_paise(tariff.cod_minimum), _paise(cod_amount * tariff.cod_percent / 100))


def price_in_zone(
    tariff: Tariff, zone: Zone, chargeable_g: int, cod_amount: Decimal = Decimal(0), zone_reason: str = ""
) -> RateQuote:
    """The price of a parcel in a known zone; raises NotServiceable with the reason."""
    if chargeable_g <= 0:
        raise ValueError("chargeable weight must be positive")
    if cod_amount < 0:
        raise ValueError("the COD amount cannot be negative")
    rate = tariff.zones.get(zone)
    if rate is None:
        raise NotServiceable(f"{tariff.name} does not serve the {zone.value} zone", field="zone")
    if tariff.max_weight_g is not None and chargeable_g > tariff.max_weight_g:
        raise NotServiceable(
            f"{chargeable_g} g is over {tariff.name}'s limit of {tariff.max_weight_g} g", field="weight"
        )
    if cod_amount > 0 and not tariff.cod_supported:
        raise NotServiceable(f"{tariff.name} does not collect cash on delivery", field="cod")
    slabs = slab_count(tariff, chargeable_g)
    freight = _paise(rate.first + (slabs - 1) * rate.additional)
    fuel = _paise(freight * tariff.fuel_surcharge_percent / 100)
    fee = cod_fee(tariff, cod_amount)
    return RateQuote(
        tariff=tariff.name,
        zone=zone,
        zone_reason=zone_reason,
        chargeable_g=chargeable_g,
        slabs=slabs,
        freight=freight,
        fuel=fuel,
        cod_fee=fee,
        total=freight + fuel + fee,
        transit_days=rate.transit_days,
    )


def price(
    tariff: Tariff,
    origin: PincodeInfo,
    destination: PincodeInfo,
    chargeable_g: int,
    cod_amount: Decimal = Decimal(0),
) -> RateQuote:
    """The itemised price of a parcel from ``origin`` to ``destination`` (pincodes as the pincode
    directory describes them; the domain cannot look them up itself)."""
    zone, reason = classify(origin, destination)
    return price_in_zone(tariff, zone, chargeable_g, cod_amount, reason)
