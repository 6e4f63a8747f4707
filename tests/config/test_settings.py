"""Settings: defaults < TOML file < LAPOR_GATEWAY_<SECTION>__<KEY>; unknown keys fail loudly."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from channels.twilio import TwilioConfig
from config.settings import Settings, channel_config, load_settings
from gateway.errors import ConfigurationError

TOML = """
[server]
port = 9001
public_url = "https://lapor.example.go.id"

[database]
url = "sqlite:///from-toml.db"
pool_size = 3

[registry]
url = "http://127.0.0.1:8090"

[channels.twilio]
enabled = true
account_sid = "AC0123456789abcdef0123456789abcdef"
signature = "enforce"
"""


@pytest.fixture
def toml_file(tmp_path: Path) -> Path:
    """A gateway.toml with a value in several sections."""
    path = tmp_path / "gateway.toml"
    path.write_text(TOML, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings(None)
    assert settings.database.url == "sqlite+aiosqlite:///var/gateway.db"
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.server.base_url == "http://127.0.0.1:8080"
    assert settings.channels == {}


def test_toml_values_are_read(toml_file: Path) -> None:
    settings = load_settings(toml_file)
    assert (settings.server.port, settings.database.url, settings.database.pool_size) == (
        9001, "sqlite:///from-toml.db", 3)
    assert settings.server.base_url == "https://lapor.example.go.id"
    assert settings.registry.url == "http://127.0.0.1:8090"


def test_environment_wins_over_toml_and_keeps_the_rest_of_the_section(
    toml_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAPOR_GATEWAY_DATABASE__URL", "postgresql+psycopg://postgres@127.0.0.1:5432/gateway")
    monkeypatch.setenv("LAPOR_GATEWAY_SERVER__PORT", "9100")
    settings = load_settings(toml_file)
    assert settings.database.url == "postgresql+psycopg://postgres@127.0.0.1:5432/gateway"
    assert settings.database.pool_size == 3, "the TOML keys the environment does not set stay"
    assert settings.server.port == 9100
    assert settings.server.public_url == "https://lapor.example.go.id"


def test_config_file_from_lapor_gateway_config(toml_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAPOR_GATEWAY_CONFIG", str(toml_file))
    assert load_settings().server.port == 9001


def test_nested_channel_variables_join_and_override_the_toml_section(
    toml_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAPOR_GATEWAY_CHANNELS__TWILIO__AUTH_TOKEN", "env-auth-token")
    monkeypatch.setenv("LAPOR_GATEWAY_CHANNELS__TWILIO__SIGNATURE", "log-only")
    twilio = channel_config(load_settings(toml_file), "twilio", TwilioConfig)
    assert twilio.auth_token == "env-auth-token"
    assert twilio.account_sid == "AC0123456789abcdef0123456789abcdef", "TOML keys of the channel stay"
    assert (twilio.enabled, twilio.signature) == (True, "log-only"), "the environment wins over TOML"


def test_channel_from_environment_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAPOR_GATEWAY_CHANNELS__TWILIO__AUTH_TOKEN", "only-env")
    monkeypatch.setenv("LAPOR_GATEWAY_CHANNELS__TWILIO__ENABLED", "true")
    twilio = channel_config(load_settings(None), "twilio", TwilioConfig)
    assert (twilio.auth_token, twilio.enabled) == ("only-env", True)


@pytest.mark.parametrize(
    ("toml", "environment"),
    [
        ("[bogus]\nkey = 1\n", {}),
        ("[server]\nprot = 8080\n", {}),
        ("unknown_top_level = true\n", {}),
        ("[server]\nport = \"not a number\"\n", {}),
        ("[logging]\nlevel = \"verbose\"\n", {}),
        ("[server\nport = 1\n", {}),
        ("", {"LAPOR_GATEWAY_BOGUS": "1"}),
        ("", {"LAPOR_GATEWAY_DATABSE__URL": "sqlite:///typo.db"}),
        ("", {"LAPOR_GATEWAY_DATABASE__URLL": "sqlite:///typo.db"}),
        ("", {"LAPOR_GATEWAY_SERVER__PORT": "eighty"}),
        ("[channels.twilio]\nauth_token = \"plain-in-file\"\n", {}),
        ("[registry]\ntoken = \"plain-in-file\"\n", {}),
    ],
    ids=["unknown-section", "unknown-key", "unknown-top-level-key", "wrong-type", "not-an-allowed-value",
         "invalid-toml", "unknown-env-section", "misspelt-env-section", "unknown-env-key", "wrong-env-type",
         "plain-channel-secret-in-file", "plain-registry-token-in-file"],
)
def test_unknown_or_invalid_settings_are_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str, environment: dict[str, str]
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(toml, encoding="utf-8")
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError):
        load_settings(path)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        load_settings(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    "section",
    [{"authtoken": "typo"}, {"signature": "sometimes"}, {"enabled": "perhaps"}],
    ids=["unknown-channel-key", "bad-signature-mode", "bad-bool"],
)
def test_invalid_channel_section_is_an_error(section: dict[str, str]) -> None:
    settings = Settings(channels={"twilio": section})
    with pytest.raises(ConfigurationError) as caught:
        channel_config(settings, "twilio", TwilioConfig)
    assert "[channels.twilio]" in caught.value.detail


def test_settings_are_frozen_and_keep_secrets_out_of_their_repr(
    toml_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAPOR_GATEWAY_REGISTRY__TOKEN", "toml-registry-token")
    settings = load_settings(toml_file)
    assert settings.registry.token.get_secret_value() == "toml-registry-token"
    with pytest.raises(ValidationError):
        settings.server.port = 1  # type: ignore[misc]
    assert "toml-registry-token" not in repr(settings) and "toml-registry-token" not in str(settings)
