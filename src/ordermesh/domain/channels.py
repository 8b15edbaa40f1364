"""Sales channels as records: what kind, which locations serve them, and their dispatch SLA."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ordermesh.domain.availability import ChannelRule
from ordermesh.domain.catalog import code_problem
from ordermesh.domain.errors import Collector


class ChannelType(StrEnum):
    MANUAL = "manual"  # phone, WhatsApp, Instagram, counter orders entered by a person
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    AMAZON = "amazon"
    FLIPKART = "flipkart"
    MYNTRA = "myntra"
    MEESHO = "meesho"
    CSV = "csv"
    OTHER = "other"


@dataclass
class ChannelSpec:
    code: str
    type: ChannelType
    name: str
    locations: list[str] | None = None  # None: every active location serves it
    sla: dict[str, Any] = field(default_factory=dict)
    routing: dict[str, Any] = field(default_factory=dict)
    active: bool = True
    base_url: str | None = None  # the channel's API; None: nothing to talk to (manual, CSV)
    connector: dict[str, Any] = field(default_factory=dict)  # the connector's settings (not secrets)
    inventory: dict[str, Any] = field(default_factory=dict)  # buffer and rule (domain.availability)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "type": self.type.value,
            "name": self.name,
            "locations": self.locations,
            "sla": self.sla,
            "routing": self.routing,
            "active": self.active,
            "base_url": self.base_url,
            "connector": self.connector,
            "inventory": self.inventory,
        }


def build_channel(raw: Mapping[str, Any], errors: Collector) -> ChannelSpec | None:
    code = raw.get("code")
    if not isinstance(code, str) or not code.strip():
        errors.add("code", "is required")
        code = ""
    elif problem := code_problem(code.strip()):
        errors.add("code", problem)
    try:
        kind = ChannelType(str(raw.get("type") or ""))
    except ValueError:
        errors.add("type", f"must be one of {', '.join(t.value for t in ChannelType)}")
        kind = ChannelType.OTHER
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.add("name", "is required")
        name = ""
    locations = raw.get("locations")
    if locations is not None and (
        not isinstance(locations, list) or not all(isinstance(x, str) and x for x in locations)
    ):
        errors.add("locations", "must be a list of location codes")
        locations = None
    base_url = raw.get("base_url")
    if base_url is not None and (
        not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")) or len(base_url) > 500
    ):
        errors.add("base_url", "must be an http:// or https:// address")
        base_url = None
    if isinstance(raw.get("inventory"), Mapping):
        ChannelRule.from_dict(raw["inventory"], errors)
    for key in ("sla", "routing", "connector", "inventory"):
        if raw.get(key) is not None and not isinstance(raw.get(key), Mapping):
            errors.add(key, "must be an object")
    active = raw.get("active", True)
    if not isinstance(active, bool):
        errors.add("active", "must be true or false")
        active = True
    if errors.errors:
        return None
    return ChannelSpec(
        code.strip(),
        kind,
        name.strip(),
        sorted(set(locations)) if locations else None,
        dict(raw.get("sla") or {}),
        dict(raw.get("routing") or {}),
        active,
        base_url.rstrip("/") if base_url else None,
        dict(raw.get("connector") or {}),
        dict(raw.get("inventory") or {}),
    )


_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


def parse_setting_value(text: str) -> Any:
    """A connector setting's value as a person typed it (CLI ``--setting key=value``, the settings
    form): numbers, true, false and null are JSON scalars; text starting with { [ or " is JSON (an
    object such as carrier_codes, or "123" kept as text); anything else is the text itself.
    ValueError when JSON-looking text is not JSON."""
    stripped = text.strip()
    if stripped in ("true", "false", "null") or stripped[:1] in ("{", "[", '"') or _NUMBER.fullmatch(stripped):
        try:
            return json.loads(stripped)
        except ValueError:
            raise ValueError(f"{stripped!r} is not valid JSON") from None
    return stripped
