"""Admin bearer tokens with roles (viewer < operator < admin); only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, cast

import sqlalchemy as sa
from ulid import ULID

from gateway.admin.audit import record
from gateway.admin.tables import admin_token
from gateway.messages import utcnow
from gateway.storage.db import Database

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
TOKEN_PREFIX = "lgw_"  # noqa: S105 - a prefix that makes leaked tokens easy to find, not a token
# A token is 256 random bits, so a fast hash is enough: there is nothing to brute-force.
_TOKEN_BYTES = 32
_TOUCH_EVERY = timedelta(minutes=1)


def parse_role(value: str) -> Role:
    """The role named `value`; ValueError for anything else."""
    if value not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    return value


def role_allows(have: str, need: Role) -> bool:
    """True when role `have` includes the permissions of `need`."""
    return have in ROLES and ROLES.index(have) >= ROLES.index(need)


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """Who a token belongs to; never the token itself."""

    id: str
    name: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def actor(self) -> str:
        """How the audit trail names this token's holder."""
        return f"token:{self.name}:{self.id}"


def _info(row: sa.Row[tuple[object, ...]]) -> TokenInfo:
    values = row._mapping
    return TokenInfo(
        id=str(values["id"]), name=str(values["name"]), role=parse_role(str(values["role"])),
        created_at=cast(datetime, values["created_at"]), last_used_at=cast("datetime | None", values["last_used_at"]),
        revoked_at=cast("datetime | None", values["revoked_at"]),
    )


async def create_token(db: Database, *, role: Role, name: str, actor: str) -> tuple[TokenInfo, str]:
    """A new token: its description and the plain token, which is shown once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    info = TokenInfo(id=str(ULID()), name=name, role=role, created_at=utcnow())
    async with db.begin() as connection:
        await connection.execute(sa.insert(admin_token).values(
            id=info.id, name=name, role=role, token_hash=hash_token(token), created_at=info.created_at,
        ))
        await record(connection, actor=actor, action="token.create", target=info.id, detail={"name": name,
                                                                                            "role": role})
    return info, token


async def authenticate(db: Database, token: str) -> TokenInfo | None:
    """The holder of a valid, unrevoked token, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    async with db.connect() as connection:
        row = (await connection.execute(
            sa.select(admin_token).where(admin_token.c.token_hash == hash_token(token),
                                         admin_token.c.revoked_at.is_(None))
        )).first()
    if row is None:
        return None
    info = _info(row)
    now = utcnow()
    if info.last_used_at is None or now - info.last_used_at > _TOUCH_EVERY:
        async with db.begin() as connection:
            await connection.execute(sa.update(admin_token).where(admin_token.c.id == info.id)
                                     .values(last_used_at=now))
    return info


async def token_by_id(db: Database, token_id: str) -> TokenInfo | None:
    """An unrevoked token by its id (console sessions refer to it)."""
    async with db.connect() as connection:
        row = (await connection.execute(
            sa.select(admin_token).where(admin_token.c.id == token_id, admin_token.c.revoked_at.is_(None))
        )).first()
    return None if row is None else _info(row)


async def list_tokens(db: Database) -> list[TokenInfo]:
    """Every token, oldest first."""
    async with db.connect() as connection:
        rows = (await connection.execute(sa.select(admin_token).order_by(admin_token.c.created_at))).all()
    return [_info(row) for row in rows]


async def revoke_token(db: Database, token_id: str, *, actor: str) -> bool:
    """Revoke a token; False when there is no such active token."""
    async with db.begin() as connection:
        result = await connection.execute(
            sa.update(admin_token).where(admin_token.c.id == token_id, admin_token.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        if result.rowcount:
            await record(connection, actor=actor, action="token.revoke", target=token_id)
    return bool(result.rowcount)
