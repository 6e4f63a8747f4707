"""The HTTP edge the SMS gateways share: shared-secret and source-address checks, an outbound session."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import aiohttp
import structlog
from aiohttp import web
from pydantic import SecretStr

from gateway import metrics
from gateway.errors import ConfigurationError

log = structlog.get_logger(__name__)

# Secrets travel inside URLs the gateways fill with escape codes (Kannel replaces %A, %B, %C, %D, %F...
# even inside a percent-encoded byte), so only characters that never need percent-encoding are allowed.
SECRET_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
SECRET_MIN_LENGTH = 12


def check_secret_format(secret: SecretStr | None) -> SecretStr | None:
    """Validate a configured shared secret: URL-safe characters only, long enough to resist guessing."""
    if secret is None:
        return None
    value = secret.get_secret_value()
    if len(value) < SECRET_MIN_LENGTH or not set(value) <= SECRET_ALPHABET:
        raise ValueError(
            f"must be at least {SECRET_MIN_LENGTH} characters of A-Z a-z 0-9 - . _ ~ (it travels in URLs)"
        )
    return secret


def secret_matches(given: str | None, expected: SecretStr | None) -> bool:
    """Constant-time comparison; no expected secret means the check is not configured (passes)."""
    if expected is None:
        return True
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


class PeerAllowlist:
    """Source addresses (single IPs or CIDR networks) a gateway may call from; empty allows any."""

    def __init__(self, entries: Sequence[str]) -> None:
        try:
            self._networks = tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)
        except ValueError as exc:
            raise ConfigurationError("invalid allowed_addresses entry", detail=str(exc)) from exc

    @property
    def configured(self) -> bool:
        """True when at least one address or network is listed."""
        return bool(self._networks)

    def allows(self, peer: str | None) -> bool:
        """True when the peer address is listed, or when no list is configured."""
        if not self._networks:
            return True
        if not peer:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self._networks)


def caller_allowlist(
    channel: str, *, enabled: bool, secret: SecretStr | None, allowed_addresses: Sequence[str]
) -> PeerAllowlist:
    """The addresses a gateway may call from; an enabled channel needs a secret or addresses, or it is refused."""
    allowlist = PeerAllowlist(allowed_addresses)
    if enabled and secret is None and not allowlist.configured:
        raise ConfigurationError(f"{channel} needs a secret or allowed_addresses", detail=f"[channels.{channel}]")
    return allowlist


@asynccontextmanager
async def http_session(shared: aiohttp.ClientSession | None, *, seconds: float) -> AsyncIterator[
    aiohttp.ClientSession
]:
    """The core's shared session when it lent one, else a short-lived session of our own."""
    if shared is not None:
        yield shared
        return
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as session:
        yield session


def require_caller(
    channel: str,
    request: web.Request,
    *,
    given_secret: str | None,
    secret: SecretStr | None,
    allowlist: PeerAllowlist,
) -> None:
    """Refuse with 403 (nothing stored) unless the secret and the source address both check out."""
    if secret is None and not allowlist.configured:
        # Fail closed: a gateway without any authentication configured accepts nobody.
        metrics.REJECTED.labels(channel, "no_authentication_configured").inc()
        raise web.HTTPForbidden(text="no authentication configured")
    if not allowlist.allows(request.remote):
        metrics.REJECTED.labels(channel, "address_not_allowed").inc()
        log.warning("sms_gateway.address_not_allowed", channel=channel)
        raise web.HTTPForbidden(text="address not allowed")
    if not secret_matches(given_secret, secret):
        metrics.REJECTED.labels(channel, "bad_secret").inc()
        log.warning("sms_gateway.bad_secret", channel=channel, present=given_secret is not None)
        raise web.HTTPForbidden(text="invalid secret")


async def read_capped(request: web.Request, limit: int) -> bytes:
    """The request body, refused with 413 beyond `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
    return body
