"""Pincode directory backed by the embedded dataset of ``indian-pincode`` (no network)."""

from __future__ import annotations

from functools import lru_cache

import indian_pincode


@lru_cache(maxsize=65536)
def pincode_states(pincode: str) -> list[str] | None:
    """The states a pincode lies in (a few straddle two), or None when the pincode is unknown."""
    details = indian_pincode.get_details(pincode)
    if not details:
        return None
    states = details.get("states") or ([details["state"]] if details.get("state") else [])
    return list(states) or None
