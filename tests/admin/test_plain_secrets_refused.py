"""Plain secrets in the TOML file are refused with advice; the environment stays allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import load_settings
from gateway.errors import ConfigurationError

# (id, TOML, the advice the error must give)
REFUSED = [
    ("twilio_auth_token", '[channels.twilio]\nauth_token = "PLAIN-VALUE-1"\n',
     "lapor-gateway channels set-secret twilio auth_token"),
    ("kannel_password", '[channels.kannel]\npassword = "PLAIN-VALUE-2"\n',
     "LAPOR_GATEWAY_CHANNELS__KANNEL__PASSWORD"),
    ("meta_app_secret", '[channels.meta]\napp_secret = "PLAIN-VALUE-3"\n', "channels set-secret meta app_secret"),
    ("telegram_bot_token", '[channels.telegram]\nbot_token = "PLAIN-VALUE-4"\n', "set-secret telegram bot_token"),
    ("email_auth_users", '[channels.email]\nauth_users = { alice = "PLAIN-VALUE-5" }\n', "set-secret email auth_users"),
    ("registry_token", '[registry]\ntoken = "PLAIN-VALUE-6"\n', "LAPOR_GATEWAY_REGISTRY__TOKEN"),
    ("registry_api_key", '[registry]\napi_key = "PLAIN-VALUE-7"\n', "LAPOR_GATEWAY_REGISTRY__API_KEY"),
]


@pytest.mark.parametrize(("toml", "advice"), [(t, a) for _, t, a in REFUSED], ids=[i for i, _, _ in REFUSED])
def test_plain_secret_in_file_is_refused(tmp_path: Path, toml: str, advice: str) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    assert caught.value.reason == "plain secret in the config file"
    assert advice in caught.value.detail
    assert "PLAIN-VALUE" not in str(caught.value)


ALLOWED = [
    ("empty_secret", '[channels.twilio]\nauth_token = ""\naccount_sid = "AC1"\n'),
    ("no_secret", '[channels.twilio]\nenabled = true\naccount_sid = "AC1"\n'),
    ("empty_mapping", "[channels.email]\nauth_users = {}\n"),
]


@pytest.mark.parametrize("toml", [t for _, t in ALLOWED], ids=[i for i, _ in ALLOWED])
def test_files_without_secret_values_load(tmp_path: Path, toml: str) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(toml, encoding="utf-8")
    assert load_settings(path).channels


def test_environment_secrets_stay_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[channels.twilio]\nenabled = true\n', encoding="utf-8")
    monkeypatch.setenv("LAPOR_GATEWAY_CHANNELS__TWILIO__AUTH_TOKEN", "from-the-environment")
    monkeypatch.setenv("LAPOR_GATEWAY_REGISTRY__TOKEN", "registry-from-environment")
    settings = load_settings(path)
    assert settings.channel("twilio")["auth_token"] == "from-the-environment"
    assert settings.registry.token.get_secret_value() == "registry-from-environment"
