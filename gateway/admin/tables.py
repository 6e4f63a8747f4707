"""The admin tables: tokens, console sessions, the audit trail, channel settings and secrets, config version."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from gateway.storage.tables import UtcDateTime

_TZ = UtcDateTime()


class AdminTokenRow(SQLModel, table=True):
    """A bearer token: only its SHA-256 is stored, the token is printed once when created."""

    __tablename__ = "admin_token"

    id: str = Field(primary_key=True, max_length=26)
    name: str = Field(max_length=64)
    role: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=_TZ)
    last_used_at: datetime | None = Field(default=None, sa_type=_TZ)
    revoked_at: datetime | None = Field(default=None, sa_type=_TZ)


class AdminSessionRow(SQLModel, table=True):
    """A web console session opened with a token; the cookie value is stored hashed."""

    __tablename__ = "admin_session"

    id_hash: str = Field(primary_key=True, max_length=64)
    token_id: str = Field(max_length=26, index=True)
    csrf: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=_TZ)
    expires_at: datetime = Field(sa_type=_TZ, index=True)


class AuditRow(SQLModel, table=True):
    """One admin change: who, what, when; never a secret value."""

    __tablename__ = "admin_audit"

    id: str = Field(primary_key=True, max_length=26)
    at: datetime = Field(sa_type=_TZ, index=True)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    target: str = Field(default="", max_length=128)
    detail: str = Field(default="{}", sa_type=sa.Text)


class ChannelSettingRow(SQLModel, table=True):
    """A channel setting stored in the database; it overlays the TOML file and the environment.

    `value` is JSON for plain settings and Fernet ciphertext for secrets.
    """

    __tablename__ = "channel_setting"

    channel: str = Field(primary_key=True, max_length=32)
    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_type=sa.Text)
    secret: bool = Field(default=False)
    updated_at: datetime = Field(sa_type=_TZ)


class ChannelCheckRow(SQLModel, table=True):
    """The last credential check of a channel (ok, invalid_auth, cannot_connect, unknown)."""

    __tablename__ = "channel_check"

    channel: str = Field(primary_key=True, max_length=32)
    result: str = Field(max_length=16)
    checked_at: datetime = Field(sa_type=_TZ)


class ConfigVersionRow(SQLModel, table=True):
    """A counter bumped by every channel change; running gateways poll it to reload without a restart."""

    __tablename__ = "config_version"

    name: str = Field(primary_key=True, max_length=32)
    version: int = Field(default=0)
    updated_at: datetime = Field(sa_type=_TZ)


admin_token = AdminTokenRow.__table__  # type: ignore[attr-defined]
admin_session = AdminSessionRow.__table__  # type: ignore[attr-defined]
admin_audit = AuditRow.__table__  # type: ignore[attr-defined]
channel_setting = ChannelSettingRow.__table__  # type: ignore[attr-defined]
channel_check = ChannelCheckRow.__table__  # type: ignore[attr-defined]
config_version = ConfigVersionRow.__table__  # type: ignore[attr-defined]
