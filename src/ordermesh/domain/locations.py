"""Locations: warehouses, stores and 3PL sites, and what each can do."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ordermesh.domain.catalog import code_problem
from ordermesh.domain.errors import Collector
from ordermesh.domain.india import State, find_state, gstin_problem, is_pincode_format


class LocationKind(StrEnum):
    WAREHOUSE = "warehouse"
    STORE = "store"
    THREE_PL = "3pl"


class Capability(StrEnum):
    SHIPS = "ships"
    STORE_PICKUP = "store_pickup"
    RECEIVES_RETURNS = "receives_returns"


DEFAULT_CAPABILITIES = (Capability.SHIPS, Capability.RECEIVES_RETURNS)


@dataclass
class Address:
    line1: str
    city: str
    state: State
    pincode: str
    line2: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "state": self.state.gst_code,
            "state_code": self.state.iso,
            "state_name": self.state.name,
            "pincode": self.pincode,
        }


@dataclass
class LocationSpec:
    code: str
    name: str
    kind: LocationKind
    address: Address
    gstin: str | None = None
    capabilities: list[Capability] = field(default_factory=lambda: list(DEFAULT_CAPABILITIES))
    priority: int = 100
    active: bool = True

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "name": self.name,
            "kind": self.kind.value,
            "address": self.address.as_dict(),
            "gstin": self.gstin,
            "capabilities": [c.value for c in self.capabilities],
            "priority": self.priority,
            "active": self.active,
        }


# Answers the pincode directory's view of a pincode: None if unknown, else the state names it lies in.
PincodeStates = Callable[[str], list[str] | None]


def build_address(raw: object, errors: Collector, path: str, pincode_states: PincodeStates) -> Address | None:
    if not isinstance(raw, Mapping):
        errors.add(path, "is required and must be an object with line1, city, state and pincode")
        return None
    known_problems = len(errors.errors)
    line1 = _text(raw, "line1", errors, path, 200)
    line2 = _text(raw, "line2", errors, path, 200, required=False) or None
    city = _text(raw, "city", errors, path, 100)
    state_raw = raw.get("state")
    state = find_state(state_raw) if isinstance(state_raw, (str, int)) and not isinstance(state_raw, bool) else None
    if state_raw is None or state_raw == "":
        errors.add(f"{path}.state", "is required")
    elif state is None:
        errors.add(f"{path}.state", f"'{state_raw}' is not an Indian state: use a GST code, ISO code or name")
    pincode = str(raw.get("pincode") or "").strip()
    if not pincode:
        errors.add(f"{path}.pincode", "is required")
    elif not is_pincode_format(pincode):
        errors.add(f"{path}.pincode", "a pincode is 6 digits and does not start with 0")
    else:
        states = pincode_states(pincode)
        if states is None:
            errors.add(f"{path}.pincode", f"{pincode} is not a known pincode")
        elif state is not None and not any(find_state(s) == state for s in states):
            errors.add(f"{path}.pincode", f"{pincode} is in {', '.join(s.title() for s in states)}, not {state.name}")
    if state is None or len(errors.errors) > known_problems:
        return None
    return Address(line1, city, state, pincode, line2)


def build_location(raw: Mapping[str, object], errors: Collector, pincode_states: PincodeStates) -> LocationSpec | None:
    code = _text(raw, "code", errors, "", 64)
    if code and (problem := code_problem(code)):
        errors.add("code", problem)
    name = _text(raw, "name", errors, "", 200)
    kind_raw = raw.get("kind") or LocationKind.WAREHOUSE.value
    try:
        kind = LocationKind(str(kind_raw))
    except ValueError:
        errors.add("kind", "must be one of warehouse, store, 3pl")
        kind = LocationKind.WAREHOUSE
    address = build_address(raw.get("address"), errors, "address", pincode_states)
    gstin = _gstin(raw.get("gstin"), errors, address)
    capabilities = _capabilities(raw.get("capabilities"), errors)
    priority = raw.get("priority", 100)
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 10_000:
        errors.add("priority", "must be a whole number from 0 to 10000 (lower is preferred)")
        priority = 100
    active = raw.get("active", True)
    if not isinstance(active, bool):
        errors.add("active", "must be true or false")
        active = True
    if errors.errors or address is None:
        return None
    return LocationSpec(code, name, kind, address, gstin, capabilities, priority, active)


def _gstin(value: object, errors: Collector, address: Address | None) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors.add("gstin", "must be a string")
        return None
    gstin = value.strip().upper()
    if problem := gstin_problem(gstin):
        errors.add("gstin", problem)
        return None
    if address is not None and find_state(gstin[:2]) != address.state:
        errors.add("gstin", f"GSTIN is registered in state {gstin[:2]}, but the address is in {address.state.name}")
    return gstin


def _capabilities(value: object, errors: Collector) -> list[Capability]:
    if value is None:
        return list(DEFAULT_CAPABILITIES)
    if not isinstance(value, list):
        errors.add("capabilities", "must be a list")
        return []
    out: list[Capability] = []
    for i, item in enumerate(value):
        try:
            cap = Capability(str(item))
        except ValueError:
            errors.add(f"capabilities.{i}", "must be one of ships, store_pickup, receives_returns")
            continue
        if cap not in out:
            out.append(cap)
    return out


def _text(raw: Mapping[str, object], name: str, errors: Collector, path: str, limit: int, required: bool = True) -> str:
    where = f"{path}.{name}" if path else name
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(where, "is required")
        return ""
    if not isinstance(value, str):
        errors.add(where, "must be a string")
        return ""
    if len(value.strip()) > limit:
        errors.add(where, f"must be at most {limit} characters")
    return value.strip()
