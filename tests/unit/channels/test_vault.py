"""The vault that seals channel and carrier credentials at rest."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from ordermesh.adapters.vault import Vault, VaultError


def test_opens_what_it_sealed_and_each_caller_gets_its_own_copy() -> None:
    vault = Vault([Fernet.generate_key()])
    token = vault.seal({"webhook_secret": "s3cret"})
    first = vault.open(token)
    first["webhook_secret"] = "changed by a caller"
    assert vault.open(token) == {"webhook_secret": "s3cret"}  # the kept copy is not the caller's


def test_a_token_sealed_under_another_key_is_refused_every_time() -> None:
    sealed = Vault([Fernet.generate_key()]).seal({"api_token": "t"})
    other = Vault([Fernet.generate_key()])
    for _ in range(2):
        with pytest.raises(VaultError, match="cannot be opened"):
            other.open(sealed)


def test_rotation_opens_old_tokens_with_the_old_key_still_listed() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    sealed = Vault([old]).seal({"api_token": "t"})
    assert Vault([new, old]).open(sealed) == {"api_token": "t"}
    with pytest.raises(VaultError):
        Vault([new]).open(sealed)


def test_many_accounts_are_all_opened_right() -> None:
    vault = Vault([Fernet.generate_key()])
    tokens = {i: vault.seal({"n": str(i)}) for i in range(Vault._KEEP + 10)}
    for _ in range(2):
        for i, token in tokens.items():
            assert vault.open(token) == {"n": str(i)}
