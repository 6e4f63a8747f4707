"""Every config test starts from an environment without LAPOR_GATEWAY_* variables."""

from __future__ import annotations

import os

import pytest

from config.settings import ENV_PREFIX


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove the gateway's variables the developer's shell may have set."""
    for key in list(os.environ):
        if key.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
