"""The credential vault: Fernet encryption at rest, rotation to the newest key, errors without secrets."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from config.vault import Vault, looks_secret
from gateway.errors import ConfigurationError

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_round_trip_and_ciphertext_hides_the_value() -> None:
    vault = Vault([NEW])
    ciphertext = vault.encrypt("twilio-auth-token-123")
    assert "twilio-auth-token-123" not in ciphertext
    assert vault.decrypt(ciphertext) == "twilio-auth-token-123"


def test_newest_key_first_decrypts_old_and_rotates() -> None:
    before = Vault([OLD]).encrypt("s3cret-value")
    both = Vault([NEW, OLD])
    assert both.decrypt(before) == "s3cret-value"
    assert not both.is_current(before)
    rotated = both.rotate(before)
    assert both.is_current(rotated)
    assert Vault([NEW]).decrypt(rotated) == "s3cret-value"
    with pytest.raises(ConfigurationError):
        Vault([OLD]).decrypt(rotated)


@pytest.mark.parametrize(
    ("environment", "reason"),
    [
        ({}, "no secret keys"),
        ({"LAPOR_GATEWAY_SECRET_KEYS": " , "}, "no secret keys"),
        ({"LAPOR_GATEWAY_SECRET_KEYS": "not-a-fernet-key-but-long-enough"}, "invalid secret key"),
        ({"LAPOR_GATEWAY_SECRET_KEYS": f"{NEW},short"}, "invalid secret key"),
    ],
    ids=["unset", "blank", "malformed", "second_malformed"],
)
def test_bad_key_configuration_is_refused_without_echoing_keys(environment: dict[str, str], reason: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Vault.from_env(environment)
    assert caught.value.reason == reason
    assert "LAPOR_GATEWAY_SECRET_KEYS" in caught.value.detail
    for value in environment.values():
        for part in value.split(","):
            if part.strip():
                assert part.strip() not in str(caught.value)


@pytest.mark.parametrize(
    "ciphertext", ["garbage", Vault([OLD]).encrypt("x"), "é"], ids=["not_fernet", "other_key", "not_ascii"]
)
def test_undecryptable_values_name_the_variable(ciphertext: str) -> None:
    with pytest.raises(ConfigurationError, match="cannot decrypt") as caught:
        Vault([NEW]).decrypt(ciphertext)
    assert "LAPOR_GATEWAY_SECRET_KEYS" in caught.value.detail


@pytest.mark.parametrize(
    ("name", "secret"),
    [("auth_token", True), ("bot_token", True), ("app_secret", True), ("password", True), ("api_key", True),
     ("signing_secret", True), ("auth_users", True), ("account_sid", False), ("username", False),
     ("api_base_url", False), ("consumer_key", False), ("secret_keys_file", False)],
    ids=lambda value: str(value),
)
def test_secret_names(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret
