"""Telegram bots: webhook with the secret-token header, or long polling of getUpdates; sendMessage replies.

Webhook secret: https://core.telegram.org/bots/api#setwebhook (X-Telegram-Bot-Api-Secret-Token)
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Literal

import structlog
from aiohttp import web
from pydantic import Field

from channels.base import Channel, ChannelConfig, ChannelContext, CredentialCheck, OutgoingReply, Route, SendResult
from channels.media_fetch import MediaSource
from channels.session_slot import SessionSlot
from channels.signed_webhook import body_digest, dump, parse_object, read_body
from channels.telegram_api import BotApi, BotApiError
from channels.telegram_poller import TelegramPoller
from channels.telegram_updates import update_raw
from gateway.errors import ConfigurationError, PermanentFailure, RejectedInput, TransientFailure
from gateway.messages import RawMessage, utcnow

log = structlog.get_logger(__name__)

FILE_PREFIX = "telegram-file:"
Sleep = Callable[[float], Awaitable[None]]


class TelegramConfig(ChannelConfig):
    """`[channels.telegram]`: bot token, webhook secret, webhook or polling."""

    bot_token: str = Field(default="", repr=False)
    webhook_secret_token: str = Field(default="", repr=False)
    mode: Literal["webhook", "polling"] = "webhook"
    api_base_url: str = "https://api.telegram.org"
    poll_timeout_seconds: int = Field(default=30, ge=0, le=50)
    poll_limit: int = Field(default=100, ge=1, le=100)
    poll_backoff_max_seconds: float = Field(default=60.0, gt=0)
    poll_idle_seconds: float = Field(default=1.0, gt=0)
    timeout_seconds: float = Field(default=15.0, gt=0)

    def secrets(self) -> list[str]:
        """The secret values, for log redaction."""
        return [value for value in (self.bot_token, self.webhook_secret_token) if value]


class TelegramChannel(Channel):
    """Private-chat messages to the bot in; replies with sendMessage."""

    name = "telegram"
    events = frozenset({"message", "edited_message", "channel_post", "edited_channel_post", "my_chat_member",
                        "unknown"})
    config_model = TelegramConfig

    def __init__(self, *, config: ChannelConfig, context: ChannelContext, sleep: Sleep = asyncio.sleep) -> None:
        if not isinstance(config, TelegramConfig):
            raise ConfigurationError("wrong config model", detail=type(config).__name__)
        super().__init__(config=config, context=context)
        self.settings = config
        self._sleep = sleep
        self._session = SessionSlot(context, timeout_seconds=config.timeout_seconds)

    def secrets(self) -> Sequence[str]:
        """Secret values of this channel's configuration."""
        return self.settings.secrets()

    @classmethod
    def raw_from_file(cls, payload: bytes, *, source: str) -> RawMessage:
        """A stored update (or a getUpdates answer with one update), keyed as live traffic."""
        raw = super().raw_from_file(payload, source=source)
        update = parse_object(payload)
        if update is None:
            return replace(raw, event="unknown")
        result = update.get("result")
        if isinstance(result, list) and len(result) == 1 and isinstance(result[0], dict):
            update, payload = result[0], dump(result[0])
        return update_raw(update, payload, raw.received_at, raw.meta)

    def api(self) -> BotApi:
        """The Bot API client on the context's session (or one of our own)."""
        return BotApi(session=self._session.get(), base_url=self.settings.api_base_url, token=self.settings.bot_token)

    async def close(self) -> None:
        """Close the session this channel opened itself."""
        await self._session.close()

    def routes(self) -> Sequence[Route]:
        """The webhook, only in webhook mode (a bot with a webhook cannot poll, and the reverse)."""
        if self.settings.mode != "webhook":
            return ()
        return (Route("POST", "/webhook", self._receive),)

    async def _receive(self, request: web.Request) -> web.StreamResponse:
        expected = self.settings.webhook_secret_token
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        if not expected:
            raise RejectedInput("webhook_not_configured", status=403)
        if not given:
            raise RejectedInput("missing_signature", status=403)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise RejectedInput("bad_signature", status=403)
        body = await read_body(request, self.context.max_body_bytes)
        update = parse_object(body)
        meta = {"transport": "webhook"}
        if update is None:
            raw = RawMessage(self.name, "unknown", "sha256:" + body_digest(body), utcnow(), body, meta)
        else:
            raw = update_raw(update, body, utcnow(), meta)
        await self.context.sink.submit(raw)
        return web.json_response({"ok": True})

    def poller(self) -> TelegramPoller:
        """The getUpdates poller, resuming from the stored offset."""
        return TelegramPoller(
            api=self.api(),
            context=self.context,
            timeout=self.settings.poll_timeout_seconds,
            limit=self.settings.poll_limit,
            backoff_max=self.settings.poll_backoff_max_seconds,
            idle=self.settings.poll_idle_seconds,
            sleep=self._sleep,
        )

    async def run(self) -> None:
        """Long-poll getUpdates until cancelled (webhook mode: nothing to run)."""
        if self.settings.mode != "polling":
            return
        try:
            await self.poller().run()
        finally:
            await self.close()

    async def send(self, reply: OutgoingReply) -> SendResult:
        """sendMessage to the chat, as a reply to the reporter's message where known."""
        payload: dict[str, object] = {"chat_id": reply.address, "text": reply.text}
        if reply.in_reply_to:
            payload["reply_parameters"] = {"message_id": int(reply.in_reply_to) if reply.in_reply_to.isdigit()
                                           else reply.in_reply_to, "allow_sending_without_reply": True}
        try:
            result = await self.api().call("sendMessage", payload)
        except BotApiError as exc:
            raise exc.failure() from None
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return SendResult(provider_id=f"{reply.address}:{message_id}" if message_id is not None else None)

    async def check_credentials(self) -> CredentialCheck:
        """getMe with the bot token."""
        if not self.settings.bot_token:
            return CredentialCheck.INVALID_AUTH
        try:
            await self.api().call("getMe")
        except BotApiError as exc:
            # A malformed token gives 404 (no such bot path), a revoked one 401.
            return CredentialCheck.INVALID_AUTH if exc.code in (401, 403, 404) else CredentialCheck.UNKNOWN
        except TransientFailure:
            return CredentialCheck.CANNOT_CONNECT
        return CredentialCheck.OK

    async def media_source(self, url: str) -> MediaSource:
        """Where to download a `telegram-file:<file_id>` attachment (getFile, then the file URL)."""
        if not url.startswith(FILE_PREFIX):
            return MediaSource(url)
        api = self.api()
        try:
            found = await api.call("getFile", {"file_id": url.removeprefix(FILE_PREFIX)})
        except BotApiError as exc:
            raise exc.failure() from None
        path = found.get("file_path") if isinstance(found, dict) else None
        if not isinstance(path, str):
            raise PermanentFailure("media_not_found")
        return MediaSource(api.file_url(path))

