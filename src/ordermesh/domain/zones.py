"""Shipping zones between two pincodes, as Indian courier rate cards price them.

Rate cards (Delhivery, Shiprocket, Ecom Express and the rest) sort every lane into five zones,
A to E, and price by zone and weight. Routing uses the same zones to prefer the nearest location,
and shipping rate cards will use them to price a parcel, so the rule lives here, once:

====  ========  ==================================================================================
rank  zone      when (checked top to bottom; the first that applies wins)
====  ========  ==================================================================================
0 A   local     same city: the same pincode, the same metro area, or the same district of a state
4 E   special   into a special area (North-East, J&K and Ladakh, Andaman & Nicobar, Lakshadweep)
                from outside that area
1 B   regional  the same state, or within one special area (Guwahati to Shillong)
2 C   metro     between two different metro areas (Bengaluru to Chennai, Mumbai to Delhi NCR)
1 B   regional  the same region (north, west, central, south, east) when not metro to metro
3 D   national  everything else
====  ========  ==================================================================================

Metro-to-metro is checked before "same region" because rate cards price metro lanes as their own
zone: Bengaluru to Chennai is metro (C), Bengaluru to Coimbatore is regional (B, same state).
Special is about the destination only, as on rate cards: Delhi to Guwahati is special, Guwahati to
Delhi is national. A lane the data cannot place (no state, no district) is never made nearer by it.

Metro areas are approximated by whole districts (India Post's district names, as the
indian-pincode data spells them), so a district's rural edge counts as part of its metro. A
destination is in a special area by its state or, as a guard against mislabelled rows in the
source data (India Post lists 799001, Agartala, under Telangana), by its postal-circle prefix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class PincodeInfo:
    """What zones and distances need to know about a pincode; built by the pincode directory."""

    pincode: str
    state_code: str  # GST state code, two digits ("27"); "" when the data does not say
    district: str = ""  # upper case, as India Post spells it ("THANE"); "" when unknown
    lat: float | None = None  # centroid, degrees; None when the data has no usable coordinates
    lon: float | None = None


class Zone(StrEnum):
    LOCAL = "local"
    REGIONAL = "regional"
    METRO = "metro"
    NATIONAL = "national"
    SPECIAL = "special"

    @property
    def rank(self) -> int:
        """Nearer is lower: local 0 < regional 1 < metro 2 < national 3 < special 4."""
        return _RANK[self]

    @property
    def letter(self) -> str:
        """The rate-card letter: local A, regional B, metro C, national D, special E."""
        return "ABCDE"[_RANK[self]]


_RANK = {Zone.LOCAL: 0, Zone.REGIONAL: 1, Zone.METRO: 2, Zone.NATIONAL: 3, Zone.SPECIAL: 4}

# Metro areas by (GST state code, district). "*" takes every district of the state (Delhi).
METRO_AREAS: dict[str, tuple[tuple[str, str], ...]] = {
    "delhi_ncr": (
        ("07", "*"),
        ("06", "GURUGRAM"),
        ("06", "FARIDABAD"),
        ("09", "GAUTAM BUDDHA NAGAR"),
        ("09", "GHAZIABAD"),
    ),
    "mumbai": (("27", "MUMBAI"), ("27", "MUMBAI SUBURBAN"), ("27", "THANE"), ("27", "PALGHAR"), ("27", "RAIGAD")),
    "kolkata": (
        ("19", "KOLKATA"),
        ("19", "HOWRAH"),
        ("19", "24 PARAGANAS NORTH"),
        ("19", "24 PARAGANAS SOUTH"),
        ("19", "HOOGHLY"),
    ),
    "chennai": (("33", "CHENNAI"), ("33", "THIRUVALLUR"), ("33", "KANCHIPURAM"), ("33", "CHENGALPATTU")),
    "bengaluru": (("29", "BENGALURU URBAN"), ("29", "BENGALURU RURAL")),
    "hyderabad": (("36", "HYDERABAD"), ("36", "RANGA REDDY"), ("36", "MEDCHAL MALKAJGIRI"), ("36", "SANGAREDDY")),
    "ahmedabad": (("24", "AHMADABAD"), ("24", "GANDHINAGAR")),
    "pune": (("27", "PUNE"),),
}
_METRO_BY_DISTRICT = {key: name for name, keys in METRO_AREAS.items() for key in keys}

# Special areas by GST state code, and by pincode prefix (the postal circles that serve them).
SPECIAL_AREAS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "north_east": (("11", "12", "13", "14", "15", "16", "17", "18"), ("78", "79", "737")),
    "jammu_kashmir_ladakh": (("01", "38"), ("18", "19")),
    "andaman_nicobar": (("35",), ("744",)),
    "lakshadweep": (("31",), ("68255",)),
}
_SPECIAL_BY_STATE = {state: name for name, (states, _) in SPECIAL_AREAS.items() for state in states}
_SPECIAL_BY_PREFIX = {prefix: name for name, (_, prefixes) in SPECIAL_AREAS.items() for prefix in prefixes}
_PREFIX_LENGTHS = sorted({len(prefix) for prefix in _SPECIAL_BY_PREFIX})

# Regions of the mainland, by GST state code; special areas are not in any.
REGIONS: dict[str, tuple[str, ...]] = {
    "north": ("02", "03", "04", "05", "06", "07", "08", "09"),
    "west": ("24", "26", "27", "30"),
    "central": ("22", "23"),
    "south": ("29", "32", "33", "34", "36", "37"),
    "east": ("10", "19", "20", "21"),
}
_REGION_BY_STATE = {state: name for name, states in REGIONS.items() for state in states}


def metro_area(info: PincodeInfo) -> str | None:
    """The metro area a pincode lies in ("mumbai", "delhi_ncr", ...), or None."""
    return _METRO_BY_DISTRICT.get((info.state_code, info.district)) or _METRO_BY_DISTRICT.get((info.state_code, "*"))


def special_area(info: PincodeInfo) -> str | None:
    """The special area a pincode lies in ("north_east", ...), by state or else by postal prefix."""
    area = _SPECIAL_BY_STATE.get(info.state_code)
    if area is None:
        for length in _PREFIX_LENGTHS:
            area = _SPECIAL_BY_PREFIX.get(info.pincode[:length])
            if area is not None:
                break
    return area


def region(info: PincodeInfo) -> str | None:
    return _REGION_BY_STATE.get(info.state_code)


def classify(origin: PincodeInfo, destination: PincodeInfo) -> tuple[Zone, str]:
    """The zone of a lane and the reason in a few words, for explanations a person reads."""
    if origin.pincode == destination.pincode:
        return Zone.LOCAL, "same pincode"
    o_metro, d_metro = metro_area(origin), metro_area(destination)
    if o_metro is not None and o_metro == d_metro:
        return Zone.LOCAL, f"same metro area ({o_metro})"
    same_state = bool(origin.state_code) and origin.state_code == destination.state_code
    if same_state and origin.district and origin.district == destination.district:
        return Zone.LOCAL, "same district"
    d_special = special_area(destination)
    o_special = special_area(origin)
    if d_special is not None and d_special != o_special:
        return Zone.SPECIAL, f"into a special area ({d_special})"
    if same_state:
        return Zone.REGIONAL, "same state"
    if d_special is not None:
        return Zone.REGIONAL, f"within one special area ({d_special})"
    if o_metro is not None and d_metro is not None:
        return Zone.METRO, f"metro to metro ({o_metro} to {d_metro})"
    o_region = region(origin)
    if o_region is not None and o_region == region(destination):
        return Zone.REGIONAL, f"same region ({o_region})"
    return Zone.NATIONAL, "rest of India"


def zone_for(origin: PincodeInfo, destination: PincodeInfo) -> Zone:
    """The shipping zone from ``origin`` to ``destination`` (see the module docstring)."""
    return classify(origin, destination)[0]


@lru_cache(maxsize=65536)
def lane(origin: PincodeInfo, destination: PincodeInfo) -> tuple[Zone, float | None]:
    """Zone and distance together, memoised: routing asks for the same few lanes all day long."""
    return classify(origin, destination)[0], distance_km(origin, destination)


_EARTH_RADIUS_KM = 6371.0088


def distance_km(origin: PincodeInfo, destination: PincodeInfo) -> float | None:
    """Great-circle (haversine) distance between the two centroids; None when either is unknown.

    A rough measure: roads are longer, and India Post's coordinates are approximate."""
    if origin.lat is None or origin.lon is None or destination.lat is None or destination.lon is None:
        return None
    lat1, lat2 = math.radians(origin.lat), math.radians(destination.lat)
    dlat = lat2 - lat1
    dlon = math.radians(destination.lon - origin.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
