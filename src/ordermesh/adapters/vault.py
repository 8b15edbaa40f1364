"""Channel credentials at rest: sealed with Fernet (AES-128-CBC + HMAC-SHA256) under a key from
the environment, opened only when a connector is built, never returned by the API.

``ORDERMESH_CREDENTIALS_KEY``: one or more Fernet keys, comma-separated; the first seals, all open,
so a key is rotated by putting the new one first and re-saving credentials. Without it the key is
derived (HKDF-SHA256) from the session secret (``ORDERMESH_SECRET_KEY`` or the generated key file),
which is enough for a single machine; several machines must share the environment key.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ordermesh.domain.errors import DomainError


class VaultError(DomainError):
    code = "credentials-unreadable"
    title = "Stored credentials cannot be opened"
    status = 500


class Vault:
    # Every webhook and tracking push opens its channel's or carrier's credentials to check a
    # signature; a sealed token always opens to the same secrets under this process's keys, so
    # the last few opened are kept (by token) instead of decrypting again each time.
    _KEEP = 256

    def __init__(self, keys: list[bytes]):
        if not keys:
            raise ValueError("the vault needs at least one key")
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self._opened: dict[str, dict[str, str]] = {}

    @classmethod
    def from_config(cls, credentials_key: str | None, session_secret: str) -> Vault:
        if credentials_key:
            try:
                return cls([k.strip().encode() for k in credentials_key.split(",") if k.strip()])
            except ValueError as e:
                raise ValueError(
                    "ORDERMESH_CREDENTIALS_KEY must be Fernet keys (32 url-safe base64-encoded bytes each), "
                    f"comma-separated: {e}"
                ) from None
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"ordermesh channel credentials")
        return cls([base64.urlsafe_b64encode(derived.derive(session_secret.encode()))])

    def seal(self, secrets: Mapping[str, str]) -> str:
        return self._fernet.encrypt(json.dumps(dict(secrets), sort_keys=True).encode()).decode()

    def open(self, token: str) -> dict[str, str]:
        """The secrets sealed in ``token``: a new dict each call, so a caller may change its copy."""
        opened = self._opened.get(token)
        if opened is None:
            try:
                opened = json.loads(self._fernet.decrypt(token.encode()))
            except InvalidToken:
                raise VaultError(
                    "the channel's stored credentials cannot be opened with the current ORDERMESH_CREDENTIALS_KEY; "
                    "set the key they were saved with, or save the credentials again"
                ) from None
            if len(self._opened) >= self._KEEP:
                self._opened.clear()  # (a handful of accounts per process: rarely, if ever, reached)
            self._opened[token] = opened
        return dict(opened)
