"""Web console sessions: a random cookie value (stored hashed) bound to a token, with a CSRF token.

Sessions live in the database, so any gateway process behind the load balancer accepts them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from gateway.admin.tables import admin_session
from gateway.admin.tokens import TokenInfo, token_by_id
from gateway.messages import utcnow
from gateway.storage.db import Database

COOKIE = "lapor_admin"
LOGIN_CSRF_COOKIE = "lapor_login_csrf"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_csrf() -> str:
    """A fresh random CSRF token."""
    return secrets.token_urlsafe(24)


def same(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of two tokens; missing values never match."""
    return bool(given) and bool(expected) and hmac.compare_digest(str(given), str(expected))


@dataclass(frozen=True, slots=True)
class Session:
    """An open console session: whose token, and the CSRF token its forms carry."""

    token: TokenInfo
    csrf: str


async def open_session(db: Database, token: TokenInfo, *, minutes: int) -> tuple[str, Session]:
    """A new session for `token`: the cookie value (shown to the browser only) and the session."""
    value = secrets.token_urlsafe(32)
    now = utcnow()
    csrf = new_csrf()
    async with db.begin() as connection:
        await connection.execute(sa.delete(admin_session).where(admin_session.c.expires_at < now))
        await connection.execute(sa.insert(admin_session).values(
            id_hash=_hash(value), token_id=token.id, csrf=csrf, created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        ))
    return value, Session(token, csrf)


async def find_session(db: Database, value: str | None) -> Session | None:
    """The session a cookie value opens, if it is unexpired and its token is not revoked."""
    if not value:
        return None
    async with db.connect() as connection:
        row = (await connection.execute(
            sa.select(admin_session).where(admin_session.c.id_hash == _hash(value),
                                           admin_session.c.expires_at > utcnow())
        )).first()
    if row is None:
        return None
    token = await token_by_id(db, row.token_id)
    return None if token is None else Session(token, row.csrf)


async def close_session(db: Database, value: str | None) -> None:
    """End a session (logout)."""
    if value:
        async with db.begin() as connection:
            await connection.execute(sa.delete(admin_session).where(admin_session.c.id_hash == _hash(value)))
