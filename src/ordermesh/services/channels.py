"""Channel use cases. Connectors that talk to marketplaces build on these records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ordermesh.adapters.db.channels import ChannelRecord
from ordermesh.adapters.db.uow import UnitOfWork
from ordermesh.adapters.vault import Vault
from ordermesh.domain.access import Permission
from ordermesh.domain.channels import ChannelSpec, ChannelType, build_channel
from ordermesh.domain.errors import AlreadyExists, Collector, NotFound, ValidationFailed
from ordermesh.services.common import require
from ordermesh.services.routing import validate_channel_settings

MANUAL = ChannelSpec("manual", ChannelType.MANUAL, "Manual orders (phone, WhatsApp, Instagram, counter)")


def add_default_channels(uow: UnitOfWork) -> None:
    """Every tenant starts with a manual channel; called inside the tenant's creation."""
    uow.channels.add(MANUAL, uow.now)
    uow.audit("channel.created", "channel", MANUAL.code, after=MANUAL.as_dict())


def create_channel(uow: UnitOfWork, raw: Mapping[str, Any], vault: Vault | None = None) -> ChannelRecord:
    """A new channel; ``credentials`` in ``raw`` are sealed with ``vault`` and never stored in clear."""
    require(uow.actor, Permission.CHANNELS_WRITE)
    errors = Collector()
    credentials = raw.get("credentials")
    if credentials is not None and (
        not isinstance(credentials, Mapping) or not all(isinstance(v, str) and v for v in credentials.values())
    ):
        errors.add("credentials", "must be an object of non-empty strings")
    spec = build_channel(raw, errors)
    if spec is not None:
        validate_channel_settings(spec.sla, spec.routing, errors)
    errors.raise_if_any()
    assert spec is not None
    _check_locations(uow, spec)
    if uow.channels.get(spec.code) is not None:
        raise AlreadyExists(f"channel '{spec.code}' already exists", field="code")
    channel_id = uow.channels.add(spec, uow.now)
    if credentials:
        if vault is None:
            raise ValidationFailed("credentials cannot be stored here (no vault)", field="credentials")
        uow.channels.set_credentials(channel_id, vault.seal(credentials), uow.now)
    uow.audit(
        "channel.created", "channel", spec.code, after={**spec.as_dict(), "credentials": sorted(credentials or {})}
    )
    record = _get(uow, spec.code)
    uow.commit()
    return record


def update_channel(uow: UnitOfWork, code: str, patch: Mapping[str, Any]) -> ChannelRecord:
    require(uow.actor, Permission.CHANNELS_WRITE)
    current = _get(uow, code)
    errors = Collector()
    if "code" in patch and patch["code"] != code:
        errors.add("code", "cannot be changed")
    errors.raise_if_any()
    spec = build_channel({**current.spec.as_dict(), **patch}, errors)
    if spec is not None:
        validate_channel_settings(spec.sla, spec.routing, errors)
    errors.raise_if_any()
    assert spec is not None
    _check_locations(uow, spec)
    before, after = current.spec.as_dict(), spec.as_dict()
    changed = sorted(k for k in after if after[k] != before[k])
    if not changed:
        return current
    uow.channels.replace(current.id, spec, uow.now)
    uow.audit(
        "channel.updated", "channel", code, before={k: before[k] for k in changed}, after={k: after[k] for k in changed}
    )
    record = _get(uow, code)
    uow.commit()
    return record


def get_channel(uow: UnitOfWork, code: str) -> ChannelRecord:
    require(uow.actor, Permission.CHANNELS_READ)
    return _get(uow, code)


def list_channels(uow: UnitOfWork) -> list[ChannelRecord]:
    require(uow.actor, Permission.CHANNELS_READ)
    return [c for c in uow.channels.all() if uow.actor.sees_channel(c.spec.code)]


def _get(uow: UnitOfWork, code: str) -> ChannelRecord:
    record = uow.channels.get(code)
    if record is None or not uow.actor.sees_channel(code):
        raise NotFound(f"channel '{code}' not found", field="channel")
    return record


def _check_locations(uow: UnitOfWork, spec: ChannelSpec) -> None:
    if spec.locations:
        known = uow.locations.ids_for(spec.locations)
        for i, code in enumerate(spec.locations):
            if code not in known:
                raise NotFound(f"location '{code}' not found", field=f"locations.{i}")
