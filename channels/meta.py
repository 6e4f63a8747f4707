"""Meta: WhatsApp Cloud API, Messenger and Instagram messaging through one signed webhook.

Verification and signatures: https://developers.facebook.com/docs/graph-api/webhooks/getting-started
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import structlog
from aiohttp import web
from pydantic import Field

from channels.base import Channel, ChannelConfig, ChannelContext, CredentialCheck, OutgoingReply, Route, SendResult
from channels.media_fetch import MediaSource
from channels.meta_graph import INVALID_TOKEN_CODES, OUTSIDE_WINDOW_CODES, Graph, GraphError
from channels.meta_split import split_delivery
from channels.session_slot import SessionSlot
from channels.signed_webhook import (
    body_digest,
    check_prefixed_signature,
    parse_object,
    read_body,
    sha256_hex_signature,
)
from gateway.errors import ConfigurationError, PermanentFailure, RejectedInput, TransientFailure
from gateway.messages import RawMessage, utcnow

log = structlog.get_logger(__name__)

MEDIA_PREFIX = "meta-media:"


class MetaConfig(ChannelConfig):
    """`[channels.meta]`: app secret, verify token, Graph token and reply settings."""

    app_secret: str = Field(default="", repr=False)
    verify_token: str = Field(default="", repr=False)
    access_token: str = Field(default="", repr=False)
    graph_api_base_url: str = "https://graph.facebook.com"
    graph_api_version: str = "v21.0"
    whatsapp_phone_number_id: str = ""
    page_id: str = ""
    instagram_account_id: str = ""
    whatsapp_template_name: str = ""
    whatsapp_template_language: str = "id"
    reply_window_hours: float = Field(default=24.0, gt=0)
    timeout_seconds: float = Field(default=15.0, gt=0)

    def secrets(self) -> list[str]:
        """The secret values, for log redaction."""
        return [value for value in (self.app_secret, self.verify_token, self.access_token) if value]


def last_inbound(reply: OutgoingReply) -> datetime | None:
    """When the reporter last wrote to us, from `reply.meta["last_inbound_at"]` (ISO 8601), if known."""
    value = reply.meta.get("last_inbound_at")
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


class MetaChannel(Channel):
    """WhatsApp, Messenger and Instagram messages in; replies through the Graph API."""

    name = "meta"
    events = frozenset({
        "whatsapp_message", "messenger_message", "instagram_message", "postback", "echo", "status", "unknown",
    })
    config_model = MetaConfig

    def __init__(self, *, config: ChannelConfig, context: ChannelContext) -> None:
        if not isinstance(config, MetaConfig):
            raise ConfigurationError("wrong config model", detail=type(config).__name__)
        super().__init__(config=config, context=context)
        self.settings = config
        self._session = SessionSlot(context, timeout_seconds=config.timeout_seconds)

    def secrets(self) -> Sequence[str]:
        """Secret values of this channel's configuration."""
        return self.settings.secrets()

    @classmethod
    def raw_from_file(cls, payload: bytes, *, source: str) -> RawMessage:
        """A stored webhook body holding one message or status, keyed as live traffic (wamid / mid)."""
        raw = super().raw_from_file(payload, source=source)
        body = parse_object(payload)
        if body is None:
            return replace(raw, event="unknown")
        split = split_delivery(body, raw_body=payload, received_at=raw.received_at, meta=raw.meta)
        # A body with several messages is a delivery, not one raw: ingest would lose all but one of them.
        return split.raws[0] if len(split.raws) == 1 else replace(raw, event="unknown")

    def graph(self) -> Graph:
        """A Graph API client on the context's session (or one of our own)."""
        return Graph(session=self._session.get(), base_url=self.settings.graph_api_base_url,
                     version=self.settings.graph_api_version, token=self.settings.access_token)

    async def close(self) -> None:
        """Close the session this channel opened itself."""
        await self._session.close()

    def routes(self) -> Sequence[Route]:
        """The webhook: subscription verification (GET) and signed deliveries (POST)."""
        return (Route("GET", "/webhook", self._verify), Route("POST", "/webhook", self._receive))

    async def _verify(self, request: web.Request) -> web.StreamResponse:
        mode = request.query.get("hub.mode", "")
        token = request.query.get("hub.verify_token", "")
        challenge = request.query.get("hub.challenge", "")
        expected = self.settings.verify_token
        if mode != "subscribe" or not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            raise RejectedInput("verification_failed", status=403)
        return web.Response(text=challenge)

    async def _receive(self, request: web.Request) -> web.StreamResponse:
        if not self.settings.app_secret:
            raise RejectedInput("webhook_not_configured", status=403)
        body = await read_body(request, self.context.max_body_bytes)
        expected = sha256_hex_signature(self.settings.app_secret, body)
        check_prefixed_signature(request.headers.get("X-Hub-Signature-256"), expected)
        received_at = utcnow()
        meta = {"transport": "webhook", "delivery_sha256": body_digest(body)}
        parsed = parse_object(body)
        if parsed is None:
            raws = [RawMessage(self.name, "unknown", "sha256:" + body_digest(body), received_at, body, meta)]
            statuses = []
        else:
            split = split_delivery(parsed, raw_body=body, received_at=received_at, meta=meta)
            raws, statuses = split.raws, split.statuses
        for raw in raws:
            await self.context.sink.submit(raw)
        for status in statuses:
            await self.context.deliveries.record_delivery(self.name, status.provider_id, status.status, status.detail)
        return web.json_response({"received": len(raws)})

    def _within_window(self, reply: OutgoingReply) -> bool | None:
        moment = last_inbound(reply)
        if moment is None:
            return None
        return utcnow() - moment < timedelta(hours=self.settings.reply_window_hours)

    async def send(self, reply: OutgoingReply) -> SendResult:
        """A text reply inside the customer-service window; a template (WhatsApp) outside it."""
        platform, _, recipient = reply.address.partition(":")
        if not recipient:
            raise PermanentFailure("bad_address", detail=platform)
        try:
            if platform == "whatsapp":
                return await self._send_whatsapp(reply, recipient)
            if platform in ("messenger", "instagram"):
                return await self._send_messaging(reply, platform, recipient)
        except GraphError as exc:
            raise exc.failure() from None
        raise PermanentFailure("bad_address", detail=platform)

    async def _send_whatsapp(self, reply: OutgoingReply, wa_id: str) -> SendResult:
        phone_number_id = reply.sender or self.settings.whatsapp_phone_number_id
        if not phone_number_id:
            raise PermanentFailure("not_configured", detail="whatsapp_phone_number_id")
        path = f"{phone_number_id}/messages"
        within = self._within_window(reply)
        if within is not False:
            text: dict[str, object] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": wa_id,
                                       "type": "text", "text": {"body": reply.text, "preview_url": False}}
            if reply.in_reply_to:
                text["context"] = {"message_id": reply.in_reply_to}
            try:
                return _whatsapp_result(await self.graph().call("POST", path, text))
            except GraphError as exc:
                # Window unknown and closed after all: WhatsApp says so with 131047; fall back to the template.
                if within is not None or exc.code not in OUTSIDE_WINDOW_CODES:
                    raise
        return _whatsapp_result(await self.graph().call("POST", path, self._template(reply, wa_id)))

    def _template(self, reply: OutgoingReply, wa_id: str) -> dict[str, object]:
        if not self.settings.whatsapp_template_name:
            raise PermanentFailure("outside_service_window", detail="no whatsapp_template_name configured")
        template: dict[str, object] = {
            "name": self.settings.whatsapp_template_name,
            "language": {"code": self.settings.whatsapp_template_language},
        }
        if reply.tracking_id:
            template["components"] = [{"type": "body", "parameters": [{"type": "text", "text": reply.tracking_id}]}]
        return {"messaging_product": "whatsapp", "to": wa_id, "type": "template", "template": template}

    async def _send_messaging(self, reply: OutgoingReply, platform: str, recipient: str) -> SendResult:
        if self._within_window(reply) is False:
            # Messenger and Instagram allow no free-form message after 24 hours and have no templates here.
            raise PermanentFailure("outside_service_window", detail=platform)
        default = self.settings.page_id if platform == "messenger" else self.settings.instagram_account_id
        sender = reply.sender or default or "me"
        body = {"recipient": {"id": recipient}, "messaging_type": "RESPONSE", "message": {"text": reply.text}}
        answer = await self.graph().call("POST", f"{sender}/messages", body)
        return SendResult(provider_id=str(answer.get("message_id") or "") or None)

    async def check_credentials(self) -> CredentialCheck:
        """GET /{version}/me with the access token."""
        if not self.settings.access_token:
            return CredentialCheck.INVALID_AUTH
        try:
            await self.graph().call("GET", "me")
        except GraphError as exc:
            if exc.code in INVALID_TOKEN_CODES or exc.status in (401, 403):
                return CredentialCheck.INVALID_AUTH
            return CredentialCheck.UNKNOWN
        except TransientFailure:
            return CredentialCheck.CANNOT_CONNECT
        return CredentialCheck.OK

    async def media_source(self, url: str) -> MediaSource:
        """Where to download an attachment: WhatsApp media ids are looked up first (URL plus token)."""
        if not url.startswith(MEDIA_PREFIX):
            return MediaSource(url)
        graph = self.graph()
        try:
            found = await graph.call("GET", url.removeprefix(MEDIA_PREFIX))
        except GraphError as exc:
            raise exc.failure() from None
        location = found.get("url")
        if not isinstance(location, str):
            raise PermanentFailure("media_not_found")
        return MediaSource(location, graph.auth_headers)


def _whatsapp_result(answer: dict[str, object]) -> SendResult:
    messages = answer.get("messages")
    first = messages[0] if isinstance(messages, list) and messages and isinstance(messages[0], dict) else {}
    return SendResult(provider_id=str(first.get("id") or "") or None)
