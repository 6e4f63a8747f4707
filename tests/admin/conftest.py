"""Fixtures of the admin tests: vault keys in the environment, tokens of every role."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from config.vault import SECRET_KEYS_ENV, Vault


@pytest.fixture
def vault_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh Fernet key, set as the only LAPOR_GATEWAY_SECRET_KEYS."""
    key = Fernet.generate_key().decode()
    monkeypatch.setenv(SECRET_KEYS_ENV, key)
    return key


@pytest.fixture
def vault(vault_key: str) -> Vault:
    """The vault the environment configures."""
    return Vault.from_env()
