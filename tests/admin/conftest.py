"""Fixtures of the admin tests: vault keys in the environment, tokens of every role."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog
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


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Commands run in-process point the logs at CliRunner's streams, which close after each call."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)
