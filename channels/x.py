"""X (Twitter) API v2: polled mentions, search and DMs, Account Activity webhooks, replies.

CRC and signatures: https://docs.x.com/x-api/webhooks/introduction#challenge-response-checks
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Literal

import aiohttp
import structlog
import tweepy.errors
from aiohttp import web
from pydantic import Field
from tweepy.asynchronous import AsyncClient

from channels.base import Channel, ChannelConfig, ChannelContext, CredentialCheck, OutgoingReply, Route, SendResult
from channels.media_fetch import MediaSource
from channels.session_slot import SessionSlot
from channels.signed_webhook import (
    body_digest,
    check_prefixed_signature,
    parse_object,
    read_body,
    sha256_base64_signature,
)
from channels.x_activity import from_file, split_activity
from channels.x_poller import Sleep, XPoller
from channels.x_transport import make_client
from gateway.errors import ConfigurationError, PermanentFailure, RejectedInput, TransientFailure
from gateway.messages import RawMessage, utcnow

log = structlog.get_logger(__name__)

# Public replies are composed here, never from the reply text: a public tweet must carry the
# tracking ID and a neutral sentence only, never what the reporter wrote or who they are.
PUBLIC_ACK = "Terima kasih, laporan Anda sudah kami terima dengan nomor pelacakan #{tracking_id}."
PUBLIC_ACK_NO_ID = "Terima kasih, laporan Anda sudah kami terima dan sedang diproses."
PUBLIC_UPDATE = "Ada pembaruan untuk laporan #{tracking_id}. Silakan cek pesan langsung atau lapor.go.id."


class XConfig(ChannelConfig):
    """`[channels.x]`: API credentials, what to poll, and how to acknowledge."""

    api_base_url: str = "https://api.twitter.com"
    bearer_token: str = Field(default="", repr=False)
    consumer_key: str = ""
    consumer_secret: str = Field(default="", repr=False)
    access_token: str = Field(default="", repr=False)
    access_token_secret: str = Field(default="", repr=False)
    account_id: str = ""
    account_handle: str = ""
    search_query: str = ""
    poll: bool = True
    poll_mentions: bool = True
    poll_dms: bool = True
    poll_interval_seconds: float = Field(default=60.0, gt=0)
    max_pages_per_poll: int = Field(default=5, ge=1)
    max_attempts: int = Field(default=4, ge=1)
    max_rate_limit_wait_seconds: float = Field(default=900.0, gt=0)
    tweet_ack: Literal["reply", "dm"] = "reply"
    timeout_seconds: float = Field(default=15.0, gt=0)

    def secrets(self) -> list[str]:
        """The secret values, for log redaction."""
        values = (self.bearer_token, self.consumer_secret, self.access_token, self.access_token_secret)
        return [value for value in values if value]


class XChannel(Channel):
    """Mentions of the account and a search query (polled), DMs, and signed webhook deliveries."""

    name = "x"
    events = frozenset({
        "tweet", "direct_message", "activity_tweet", "activity_direct_message", "activity_other", "unknown",
    })
    config_model = XConfig

    def __init__(self, *, config: ChannelConfig, context: ChannelContext, sleep: Sleep = asyncio.sleep) -> None:
        if not isinstance(config, XConfig):
            raise ConfigurationError("wrong config model", detail=type(config).__name__)
        super().__init__(config=config, context=context)
        self.settings = config
        self._sleep = sleep
        self._session = SessionSlot(context, timeout_seconds=config.timeout_seconds)
        self._client: AsyncClient | None = None
        self._account_id = config.account_id

    def secrets(self) -> Sequence[str]:
        """Secret values of this channel's configuration."""
        return self.settings.secrets()

    @classmethod
    def raw_from_file(cls, payload: bytes, *, source: str) -> RawMessage:
        """A stored tweet or DM (JSON), with the event and dedup key live traffic would have had."""
        return from_file(super().raw_from_file(payload, source=source))

    def client(self) -> AsyncClient:
        """The tweepy client, on the context's HTTP session when there is one."""
        if self._client is None:
            self._client = make_client(self.settings, self._session.get())
        return self._client

    async def close(self) -> None:
        """Close the session this channel opened itself."""
        if self._session.owned:
            await self._session.close()
            self._client = None

    async def account_id(self) -> str:
        """Our own user id: configured, or asked of GET /2/users/me once."""
        if not self._account_id:
            me = await self.client().get_me(user_auth=True)
            self._account_id = str(me["data"]["id"])
        return self._account_id

    def poller(self) -> XPoller:
        """The poller over mentions, search and DMs as configured."""
        return XPoller(
            client=self.client(),
            context=self.context,
            account_id=self.account_id,
            search_query=self.settings.search_query,
            poll_mentions=self.settings.poll_mentions,
            poll_dms=self.settings.poll_dms,
            max_pages=self.settings.max_pages_per_poll,
            max_attempts=self.settings.max_attempts,
            max_rate_limit_wait=self.settings.max_rate_limit_wait_seconds,
            sleep=self._sleep,
        )

    async def run(self) -> None:
        """Poll at the configured interval until cancelled (nothing to do when polling is off)."""
        if not self.settings.poll:
            return
        try:
            await self.poller().run(self.settings.poll_interval_seconds)
        finally:
            await self.close()

    def routes(self) -> Sequence[Route]:
        """The Account Activity webhook: CRC challenge (GET) and signed deliveries (POST)."""
        return (
            Route("GET", "/webhook", self._crc),
            Route("POST", "/webhook", self._receive),
        )

    def _consumer_secret(self) -> str:
        if not self.settings.consumer_secret:
            # Without the secret nothing can be verified: refuse rather than accept unsigned input.
            raise RejectedInput("webhook_not_configured", status=403)
        return self.settings.consumer_secret

    async def _crc(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("crc_token")
        if not token:
            raise RejectedInput("missing_crc_token", status=400)
        response_token = sha256_base64_signature(self._consumer_secret(), token.encode())
        return web.json_response({"response_token": response_token})

    async def _receive(self, request: web.Request) -> web.StreamResponse:
        body = await read_body(request, self.context.max_body_bytes)
        expected = sha256_base64_signature(self._consumer_secret(), body)
        check_prefixed_signature(request.headers.get("x-twitter-webhooks-signature"), expected)
        received_at = utcnow()
        meta = {"transport": "webhook"}
        parsed = parse_object(body)
        if parsed is None:
            raws: list[RawMessage] = [
                RawMessage(self.name, "unknown", "sha256:" + body_digest(body), received_at, body, meta)
            ]
        else:
            raws = list(split_activity(parsed, raw_body=body, received_at=received_at, meta=meta))
        for raw in raws:
            await self.context.sink.submit(raw)
        return web.json_response({"received": len(raws)})

    def _public_text(self, reply: OutgoingReply) -> str:
        if reply.kind == "ack":
            return PUBLIC_ACK.format(tracking_id=reply.tracking_id) if reply.tracking_id else PUBLIC_ACK_NO_ID
        if reply.tracking_id:
            return PUBLIC_UPDATE.format(tracking_id=reply.tracking_id)
        return PUBLIC_ACK_NO_ID

    async def send(self, reply: OutgoingReply) -> SendResult:
        """A public reply under the reporter's tweet, or a DM (for DMs, or when configured)."""
        client = self.client()
        try:
            if reply.public and reply.in_reply_to and self.settings.tweet_ack == "reply":
                created = await client.create_tweet(
                    text=self._public_text(reply), in_reply_to_tweet_id=reply.in_reply_to, user_auth=True
                )
                return SendResult(provider_id=str(created["data"]["id"]))
            sent = await client.create_direct_message(participant_id=reply.address, text=reply.text, user_auth=True)
            data = sent.get("data") or {}
            return SendResult(provider_id=str(data.get("dm_event_id") or "") or None)
        except tweepy.errors.TooManyRequests as exc:
            raise TransientFailure("rate_limited", retry_after=_seconds_until(exc.reset_time)) from exc
        except tweepy.errors.TwitterServerError as exc:
            raise TransientFailure("provider_error", detail=str(exc.response.status)) from exc
        except tweepy.errors.HTTPException as exc:
            status = exc.response.status
            raise PermanentFailure("rejected_by_provider", detail=f"{status} {exc.api_codes}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientFailure("cannot_connect", detail=type(exc).__name__) from exc

    async def media_source(self, url: str) -> MediaSource:
        """X media URLs (pbs.twimg.com, video.twimg.com) are public: fetched as they are."""
        return MediaSource(url)

    async def check_credentials(self) -> CredentialCheck:
        """GET /2/users/me with the user-context keys, or the account lookup with the bearer token."""
        client = self.client()
        try:
            if self.settings.consumer_key and self.settings.access_token:
                await client.get_me(user_auth=True)
            elif self.settings.bearer_token and self.settings.account_handle:
                await client.get_user(username=self.settings.account_handle.lstrip("@"))
            else:
                return CredentialCheck.INVALID_AUTH
        except (tweepy.errors.Unauthorized, tweepy.errors.Forbidden):
            return CredentialCheck.INVALID_AUTH
        except (aiohttp.ClientError, TimeoutError, OSError):
            return CredentialCheck.CANNOT_CONNECT
        except tweepy.errors.TweepyException:
            return CredentialCheck.UNKNOWN
        return CredentialCheck.OK


def _seconds_until(reset_time: int | None) -> float | None:
    """Seconds from now to an x-rate-limit-reset epoch, at least one."""
    if not reset_time:
        return None
    return max(float(reset_time) - time.time(), 1.0)
