"""Credential checks against the provider, with a channel object built only for checking."""

from __future__ import annotations

import asyncio

import aiohttp
import structlog

from channels.base import ChannelContext, CredentialCheck
from channels.registry import CHANNELS
from config.settings import Settings
from gateway.admin.channel_store import validate_channel
from gateway.errors import ConfigurationError
from gateway.messages import RawMessage, Stored

log = structlog.get_logger(__name__)

CHECK_TIMEOUT_SECONDS = 20.0


class CheckOnly:
    """Stands in for the sink, cursors and delivery recorder of a channel that only checks credentials."""

    async def submit(self, raw: RawMessage) -> Stored:
        """Refuse: a channel built for a check never receives."""
        raise ConfigurationError("check-only channel", detail="cannot store messages")

    async def get(self, channel: str, key: str) -> str | None:
        """No positions."""
        return None

    async def set(self, channel: str, key: str, value: str) -> None:
        """Refuse: a check never moves a cursor."""
        raise ConfigurationError("check-only channel", detail="cannot move cursors")

    async def record_delivery(self, channel: str, provider_id: str, status: str, detail: str = "") -> bool:
        """Nothing to record."""
        return False


async def check_channel(settings: Settings, name: str, *, seconds: float = CHECK_TIMEOUT_SECONDS) -> CredentialCheck:
    """Check a channel's credentials (as the settings give them) against its provider."""
    config = validate_channel(settings, name)
    unused = CheckOnly()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as http:
        channel = CHANNELS[name](config=config, context=ChannelContext(
            sink=unused, public_url=settings.server.base_url, cursors=unused, deliveries=unused, http=http,
            max_body_bytes=settings.server.max_body_bytes,
        ))
        try:
            result = await asyncio.wait_for(channel.check_credentials(), seconds)
        except TimeoutError:
            result = CredentialCheck.CANNOT_CONNECT
        except (aiohttp.ClientError, OSError):
            result = CredentialCheck.CANNOT_CONNECT
    log.info("admin.credential_check", channel=name, result=str(result))
    return result
