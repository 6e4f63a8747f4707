"""Channel values in the database on SQLite and PostgreSQL: overlay, encryption at rest, audit, rotation."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from config.settings import Settings
from config.vault import SECRET_KEYS_ENV, Vault
from gateway.admin.audit import recent
from gateway.admin.channel_store import ChannelStore, secret_value
from gateway.admin.tables import channel_setting
from gateway.errors import ConfigurationError
from gateway.storage.db import Database

BASE = Settings(channels={"twilio": {"account_sid": "ACfile", "api_base_url": "http://file.example"}})
TOKEN = "Twilio-Token-At-Rest-7c6b5a"


async def test_values_and_secrets_overlay_the_file(db: Database, vault: Vault) -> None:
    store = ChannelStore(db)
    assert await store.version() == 0
    await store.set_value(BASE, "twilio", "api_base_url", "http://db.example", actor="test")
    await store.set_enabled(BASE, "twilio", True, actor="test")
    await store.set_secret(BASE, "twilio", "auth_token", TOKEN, actor="test", check="ok")
    effective = await store.effective(BASE)
    assert effective.channel("twilio") == {"account_sid": "ACfile", "api_base_url": "http://db.example",
                                           "enabled": True, "auth_token": TOKEN}
    assert await store.version() == 3
    assert await store.stored_keys() == {"twilio": {"api_base_url", "enabled", "auth_token"}}

    async with db.connect() as connection:
        rows = {row.key: row for row in (await connection.execute(sa.select(channel_setting))).all()}
    assert rows["auth_token"].secret and TOKEN not in rows["auth_token"].value
    assert json.loads(vault.decrypt(rows["auth_token"].value)) == TOKEN

    trail = await recent(db)
    assert [entry["action"] for entry in trail] == ["channel.set_secret", "channel.enable", "channel.set"]
    assert trail[0]["detail"] == {"key": "auth_token", "check": "ok"}
    assert all(entry["actor"] == "test" and entry["target"] == "twilio" for entry in trail)
    assert TOKEN not in json.dumps(trail)

    assert await store.unset("twilio", "api_base_url", actor="test")
    assert (await store.effective(BASE)).channel("twilio")["api_base_url"] == "http://file.example"
    assert not await store.unset("twilio", "api_base_url", actor="test")


# (id, call arguments, expected reason)
REFUSALS: list[tuple[str, tuple[str, str, Any], str]] = [
    ("unknown_channel", ("nope", "enabled", True), "unknown channel"),
    ("unknown_key", ("twilio", "authtoken", "x"), "unknown setting"),
    ("secret_through_set", ("twilio", "auth_token", "x"), "this setting is a secret"),
    ("invalid_value", ("twilio", "signature", "sometimes"), "invalid channel settings"),
    ("wrong_type", ("twilio", "timeout_seconds", "soon"), "invalid channel settings"),
]


@pytest.mark.parametrize(("call", "reason"), [(c, r) for _, c, r in REFUSALS], ids=[i for i, _, _ in REFUSALS])
async def test_bad_values_are_refused_and_not_stored(db: Database, call: tuple[str, str, Any], reason: str) -> None:
    store = ChannelStore(db)
    with pytest.raises(ConfigurationError) as caught:
        await store.set_value(BASE, *call, actor="test")
    assert caught.value.reason == reason
    assert await store.version() == 0 and await store.stored_keys() == {}


async def test_invalid_secret_is_refused_without_echoing_it(db: Database, vault: Vault) -> None:
    # Kannel's shared secret must be URL-safe and at least 12 characters.
    bad = "short!é"
    with pytest.raises(ConfigurationError) as caught:
        await ChannelStore(db).set_secret(BASE, "kannel", "secret", bad, actor="test", check=None)
    assert bad not in str(caught.value) and "secret" in caught.value.detail


@pytest.mark.parametrize(
    ("name", "key", "text", "expected"),
    [("twilio", "auth_token", "abc", "abc"), ("email", "auth_users", '{"alice": "pw-1"}', {"alice": "pw-1"})],
    ids=["text", "mapping"],
)
def test_secret_values_as_typed(name: str, key: str, text: str, expected: object) -> None:
    assert secret_value(name, key, text) == expected


@pytest.mark.parametrize(
    ("name", "key", "text", "reason"),
    [("email", "auth_users", "pw-not-json", "invalid secret"), ("email", "auth_users", '{"a": 1}', "invalid secret"),
     ("twilio", "account_sid", "AC1", "not a secret setting")],
    ids=["mapping_not_json", "mapping_not_text", "not_a_secret"],
)
def test_secret_values_refused(name: str, key: str, text: str, reason: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        secret_value(name, key, text)
    assert caught.value.reason == reason and text not in str(caught.value)


async def test_rotate_reencrypts_under_the_newest_key(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv(SECRET_KEYS_ENV, old)
    await ChannelStore(db).set_secret(BASE, "twilio", "auth_token", TOKEN, actor="test", check=None)
    await ChannelStore(db).set_secret(BASE, "meta", "app_secret", "meta-app-secret-1", actor="test", check=None)

    monkeypatch.setenv(SECRET_KEYS_ENV, f"{new},{old}")
    assert await ChannelStore(db).rotate(actor="test") == 2
    assert await ChannelStore(db).rotate(actor="test") == 0  # already current

    monkeypatch.setenv(SECRET_KEYS_ENV, new)  # the old key can go now
    loaded = await ChannelStore(db).load()
    assert loaded["twilio"]["auth_token"] == TOKEN and loaded["meta"]["app_secret"] == "meta-app-secret-1"
    assert (await recent(db))[0]["detail"] == {"secrets": 2, "reencrypted": 0}

    monkeypatch.setenv(SECRET_KEYS_ENV, old)
    with pytest.raises(ConfigurationError, match="cannot decrypt"):
        await ChannelStore(db).load()


async def test_stored_secrets_need_the_keys(db: Database, vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    await ChannelStore(db).set_secret(BASE, "twilio", "auth_token", TOKEN, actor="test", check=None)
    monkeypatch.delenv(SECRET_KEYS_ENV)
    with pytest.raises(ConfigurationError, match="no secret keys"):
        await ChannelStore(db).load()
    assert await ChannelStore(db).stored_keys() == {"twilio": {"auth_token"}}  # reading names needs no key
