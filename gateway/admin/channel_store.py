"""Channel settings and encrypted secrets in the database, overlaying the TOML file and the environment.

Secrets are write-only: they are decrypted only to build channel objects, and everything that shows
a channel says "set" or "not set" instead.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.base import ChannelConfig
from channels.registry import CHANNELS
from config.settings import Settings
from config.vault import Vault, looks_secret
from gateway.admin.audit import record
from gateway.admin.tables import channel_check, channel_setting, config_version
from gateway.errors import ConfigurationError
from gateway.messages import utcnow
from gateway.storage.db import Database

VERSION_ROW = "channels"


def _mentions_secret_type(annotation: object) -> bool:
    if annotation is SecretStr:
        return True
    return any(_mentions_secret_type(arg) for arg in typing.get_args(annotation))


def secret_fields(model: type[ChannelConfig]) -> frozenset[str]:
    """The settings of a channel model that hold credentials: by name (…token, …secret) or by type."""
    return frozenset(
        name for name, field in model.model_fields.items()
        if looks_secret(name) or _mentions_secret_type(field.annotation)
    )


def channel_class_config(name: str) -> type[ChannelConfig]:
    """The config model of a registered channel; ConfigurationError for an unknown name."""
    cls = CHANNELS.get(name)
    if cls is None:
        raise ConfigurationError("unknown channel", detail=f"{name} (known: {', '.join(CHANNELS)})")
    return cls.config_model


def _takes_mapping(annotation: object) -> bool:
    if typing.get_origin(annotation) is dict:
        return True
    return any(_takes_mapping(arg) for arg in typing.get_args(annotation))


def secret_value(name: str, key: str, text: str) -> Any:
    """The value of a secret as typed in: text, or a JSON object for mappings (email auth_users)."""
    model = channel_class_config(name)
    if key not in secret_fields(model):
        raise ConfigurationError("not a secret setting",
                                 detail=f"[channels.{name}] {key!r}: use `lapor-gateway channels set`")
    field = model.model_fields[key]
    if not _takes_mapping(field.annotation):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise ConfigurationError("invalid secret", detail=f'{key} takes a JSON object like {{"user": "password"}}')
    return value


def overlay(settings: Settings, overrides: Mapping[str, Mapping[str, Any]]) -> Settings:
    """Settings with the database's channel values laid over the file and environment values."""
    if not overrides:
        return settings
    channels = {name: dict(section) for name, section in settings.channels.items()}
    for name, values in overrides.items():
        channels.setdefault(name, {}).update(values)
    return settings.model_copy(update={"channels": channels})


def validation_message(exc: ValidationError) -> str:
    """A pydantic error as text without the offending input (it may be a secret)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    )


def validate_channel(settings: Settings, name: str) -> ChannelConfig:
    """The channel's validated config; errors name the key and the rule, never the value."""
    model = channel_class_config(name)
    try:
        return model.model_validate(settings.channel(name))
    except ValidationError as exc:
        raise ConfigurationError("invalid channel settings", detail=f"[channels.{name}] {validation_message(exc)}")\
            from None


def parse_value(text: str) -> Any:
    """A value from the command line: JSON when it parses as a list, object, number or boolean, else the text."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, list | dict | bool | int | float) else text


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The last credential check of a channel."""

    result: str
    checked_at: datetime


class ChannelStore:
    """Reads and writes the database's channel values; every write is audited and bumps the config version."""

    def __init__(self, db: Database, *, vault: Vault | None = None,
                 vault_factory: Callable[[], Vault] = Vault.from_env) -> None:
        self.db = db
        self._vault = vault
        self._vault_factory = vault_factory

    @property
    def vault(self) -> Vault:
        """The vault, built from the environment the first time a secret is needed."""
        if self._vault is None:
            self._vault = self._vault_factory()
        return self._vault

    async def load(self) -> dict[str, dict[str, Any]]:
        """Every stored channel value, secrets decrypted: {channel: {key: value}}."""
        async with self.db.connect() as connection:
            rows = (await connection.execute(sa.select(channel_setting))).all()
        result: dict[str, dict[str, Any]] = {}
        for row in rows:
            value = json.loads(self.vault.decrypt(row.value) if row.secret else row.value)
            result.setdefault(row.channel, {})[row.key] = value
        return result

    async def stored_keys(self) -> dict[str, set[str]]:
        """Which keys of which channels the database sets (without decrypting anything)."""
        async with self.db.connect() as connection:
            rows = (await connection.execute(sa.select(channel_setting.c.channel, channel_setting.c.key))).all()
        result: dict[str, set[str]] = {}
        for channel, key in rows:
            result.setdefault(channel, set()).add(key)
        return result

    async def effective(self, settings: Settings) -> Settings:
        """Settings as a gateway would run with them now."""
        return overlay(settings, await self.load())

    async def version(self) -> int:
        """The config version running gateways compare against."""
        async with self.db.connect() as connection:
            value = (await connection.execute(
                sa.select(config_version.c.version).where(config_version.c.name == VERSION_ROW)
            )).scalar_one_or_none()
        return int(value or 0)

    async def candidate(self, settings: Settings, name: str, key: str, value: Any) -> Settings:
        """The effective settings with one more value, validated; nothing is stored."""
        model = channel_class_config(name)
        if key not in model.model_fields:
            raise ConfigurationError("unknown setting", detail=f"[channels.{name}] has no {key!r}")
        effective = overlay(await self.effective(settings), {name: {key: value}})
        validate_channel(effective, name)
        return effective

    async def set_value(self, settings: Settings, name: str, key: str, value: Any, *, actor: str) -> None:
        """Store a plain setting (refusing secret keys, unknown keys and invalid values)."""
        if key in secret_fields(channel_class_config(name)):
            raise ConfigurationError("this setting is a secret",
                                     detail=f"use `lapor-gateway channels set-secret {name} {key}`")
        await self.candidate(settings, name, key, value)
        await self._write(name, key, json.dumps(value), secret=False, actor=actor, action="channel.set",
                          detail={"key": key, "value": json.dumps(value)[:200]})

    async def set_enabled(self, settings: Settings, name: str, enabled: bool, *, actor: str) -> None:
        """Enable or disable a channel."""
        await self.candidate(settings, name, "enabled", enabled)
        await self._write(name, "enabled", json.dumps(enabled), secret=False, actor=actor,
                          action="channel.enable" if enabled else "channel.disable", detail={})

    async def set_secret(self, settings: Settings, name: str, key: str, value: Any, *, actor: str,
                         check: str | None) -> None:
        """Store a secret encrypted; the audit says which key and the check result, never the value."""
        if key not in secret_fields(channel_class_config(name)):
            raise ConfigurationError("not a secret setting",
                                     detail=f"[channels.{name}] {key!r}: use `lapor-gateway channels set`")
        await self.candidate(settings, name, key, value)
        await self._write(name, key, self.vault.encrypt(json.dumps(value)), secret=True, actor=actor,
                          action="channel.set_secret", detail={"key": key, "check": check or "skipped"})

    async def unset(self, name: str, key: str, *, actor: str) -> bool:
        """Remove a database value, so the file, the environment or the default applies again."""
        channel_class_config(name)
        async with self.db.begin() as connection:
            result = await connection.execute(sa.delete(channel_setting).where(
                channel_setting.c.channel == name, channel_setting.c.key == key))
            if result.rowcount:
                await record(connection, actor=actor, action="channel.unset", target=name, detail={"key": key})
                await _bump(connection)
        return bool(result.rowcount)

    async def _write(self, name: str, key: str, stored: str, *, secret: bool, actor: str, action: str,
                     detail: Mapping[str, str]) -> None:
        async with self.db.begin() as connection:
            # Delete and insert: the same statement on SQLite and PostgreSQL, atomic in the transaction.
            await connection.execute(sa.delete(channel_setting).where(
                channel_setting.c.channel == name, channel_setting.c.key == key))
            await connection.execute(sa.insert(channel_setting).values(
                channel=name, key=key, value=stored, secret=secret, updated_at=utcnow()))
            await record(connection, actor=actor, action=action, target=name, detail=detail)
            await _bump(connection)

    async def record_check(self, name: str, result: str) -> None:
        """Remember the outcome of a credential check for the console."""
        async with self.db.begin() as connection:
            await connection.execute(sa.delete(channel_check).where(channel_check.c.channel == name))
            await connection.execute(sa.insert(channel_check).values(channel=name, result=result,
                                                                     checked_at=utcnow()))

    async def checks(self) -> dict[str, CheckResult]:
        """The last credential check per channel."""
        async with self.db.connect() as connection:
            rows = (await connection.execute(sa.select(channel_check))).all()
        return {row.channel: CheckResult(row.result, row.checked_at) for row in rows}

    async def rotate(self, *, actor: str) -> int:
        """Re-encrypt every stored secret under the newest key; returns how many changed."""
        changed = 0
        async with self.db.begin() as connection:
            rows = (await connection.execute(
                sa.select(channel_setting).where(channel_setting.c.secret.is_(True))
            )).all()
            for row in rows:
                if self.vault.is_current(row.value):
                    continue
                await connection.execute(
                    sa.update(channel_setting)
                    .where(channel_setting.c.channel == row.channel, channel_setting.c.key == row.key)
                    .values(value=self.vault.rotate(row.value))
                )
                changed += 1
            await record(connection, actor=actor, action="keys.rotate", detail={"secrets": len(rows),
                                                                                "reencrypted": changed})
        return changed


async def _bump(connection: AsyncConnection) -> None:
    result = await connection.execute(
        sa.update(config_version).where(config_version.c.name == VERSION_ROW)
        .values(version=config_version.c.version + 1, updated_at=utcnow())
    )
    if not result.rowcount:
        await connection.execute(sa.insert(config_version).values(name=VERSION_ROW, version=1, updated_at=utcnow()))

