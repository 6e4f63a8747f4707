"""Kannel: mobile-originated SMS from an sms-service get-url/post-url, replies through sendsms, DLRs back.

Kannel user guide (sms-service escape codes, sendsms, delivery reports):
https://www.kannel.org/download/1.4.5/userguide-1.4.5/userguide.html

The sms-service this channel expects (one line; %b is the message bytes, %u the UDH, %I Kannel's id):

    group = sms-service
    keyword = default
    get-url = "http://GATEWAY/c/kannel/receive?secret=S&id=%I&from=%p&to=%P&time=%T&text=%b&coding=%c&charset=%C&udh=%u&smsc=%i"
    max-messages = 0

`max-messages = 0` matters: Kannel sends the body of the get-url answer back to the citizen as an SMS;
our acknowledgement goes out later through sendsms, once the registry has given a tracking ID.
A post-url works too: the text is then the body and from/to/udh/coding come as X-Kannel-* headers.

Long messages: bearerbox joins the parts itself unless `sms-combine-concatenated-mo = false`, and it
hands them over one by one when `sms-combine-concatenated-mo-timeout` passes first. Each such part is
stored as event "part" (channels.concat); the pipeline reassembles them before normalization.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from urllib.parse import quote, urlencode

import aiohttp
import structlog
from aiohttp import web
from pydantic import SecretStr, field_validator
from yarl import URL

from channels import concat
from channels.base import (
    Channel,
    ChannelConfig,
    ChannelContext,
    CredentialCheck,
    OutgoingReply,
    Route,
    SendResult,
)
from channels.sms_encoding import (
    Alphabet,
    alphabet_for,
    fit_one_segment,
    parse_form_bytes,
    text_field,
    without_params,
)
from channels.sms_http import caller_allowlist, check_secret_format, http_session, read_capped, require_caller
from gateway import metrics
from gateway.errors import ConfigurationError, PermanentFailure, TransientFailure
from gateway.messages import RawMessage, Stored, utcnow

log = structlog.get_logger(__name__)

SECRET_PARAM = "secret"  # noqa: S105 - the name of the query parameter, not a value
# X-Kannel-* headers of a post-url request that carry message facts (Kannel user guide, "Kannel POST").
POST_HEADERS = ("X-Kannel-From", "X-Kannel-To", "X-Kannel-Time", "X-Kannel-UDH", "X-Kannel-SMSC",
                "X-Kannel-Coding", "X-Kannel-Service", "X-Kannel-Meta-Data")
# Delivery report types (%d): 1 delivered, 2 failed at the phone, 4 buffered, 8 accepted by the SMSC,
# 16 rejected by the SMSC (user guide, "Delivery reports").
DLR_STATUS = {1: "delivered", 2: "failed", 4: "queued", 8: "sent", 16: "failed"}
DLR_MASK_ALL = 31


class KannelConfig(ChannelConfig):
    """`[channels.kannel]`."""

    secret: SecretStr | None = None
    allowed_addresses: tuple[str, ...] = ()
    sendsms_url: str = "http://127.0.0.1:13013/cgi-bin/sendsms"
    username: str = ""
    password: SecretStr = SecretStr("")
    sender: str = "1708"
    smsc: str | None = None
    dlr_mask: int = DLR_MASK_ALL
    timeout_seconds: float = 10.0

    _secret_format = field_validator("secret")(check_secret_format)


class KannelChannel(Channel):
    """Receives MO messages and delivery reports from Kannel's smsbox; sends replies through sendsms."""

    name = "kannel"
    events = frozenset({"message", concat.PART_EVENT, "status"})
    config_model = KannelConfig
    config: KannelConfig

    def __init__(self, *, config: ChannelConfig, context: ChannelContext) -> None:
        super().__init__(config=config, context=context)
        self._allowlist = caller_allowlist(
            self.name, enabled=self.config.enabled, secret=self.config.secret,
            allowed_addresses=self.config.allowed_addresses,
        )

    def routes(self) -> Sequence[Route]:
        """GET|POST /c/kannel/receive (get-url or post-url) and GET|POST /c/kannel/status (dlr-url)."""
        return (
            Route("GET", "/receive", self.receive),
            Route("POST", "/receive", self.receive),
            Route("GET", "/status", self.status),
            Route("POST", "/status", self.status),
        )

    def secrets(self) -> Sequence[str]:
        """The shared secret and the sendsms password."""
        values = [self.config.password.get_secret_value()]
        if self.config.secret is not None:
            values.append(self.config.secret.get_secret_value())
        return tuple(value for value in values if value)

    def _authenticate(self, request: web.Request, query: dict[str, bytes]) -> None:
        given = query.get(SECRET_PARAM)
        require_caller(
            self.name,
            request,
            given_secret=given.decode("utf-8", errors="replace") if given is not None else None,
            secret=self.config.secret,
            allowlist=self._allowlist,
        )

    async def receive(self, request: web.Request) -> web.Response:
        """One MO message or one part of a long one: stored, then an empty 200 (nothing sent back)."""
        raw_query = request.rel_url.raw_query_string.encode("ascii", errors="replace")
        query = parse_form_bytes(raw_query)
        self._authenticate(request, query)
        stripped = without_params(raw_query, frozenset({SECRET_PARAM}))
        meta: dict[str, str] = {"method": request.method, "peer": request.remote or ""}
        if request.method == "POST":
            payload = await read_capped(request, self.context.max_body_bytes)
            meta["query"] = stripped.decode("ascii", errors="replace")
            meta["content_type"] = request.headers.get("Content-Type", "")
            for header in POST_HEADERS:
                if header in request.headers:
                    meta[header.lower()] = request.headers[header]
            sender = meta.get("x-kannel-from") or text_field(query, "from") or ""
            recipient = meta.get("x-kannel-to") or text_field(query, "to") or ""
            udh = _udh_bytes(meta.get("x-kannel-udh", "")) if "x-kannel-udh" in meta else query.get("udh", b"")
        else:
            payload = stripped
            sender = text_field(query, "from") or ""
            recipient = text_field(query, "to") or ""
            udh = query.get("udh", b"")
        if not payload and not stripped and not any(key.startswith("x-kannel-") for key in meta):
            metrics.REJECTED.labels(self.name, "empty_request").inc()
            raise web.HTTPBadRequest(text="no message fields")
        meta["sender"] = sender
        info = concat.parse_concat_udh(udh)
        event = "message"
        if info is not None and info.total > 1:
            event = concat.PART_EVENT
            meta.update(concat.part_meta(info, sender=sender, recipient=recipient))
        message_id = text_field(query, "id")
        if not message_id:
            # No %I in the get-url: the hash of what arrived still makes a redelivery a duplicate.
            digest = hashlib.sha256(payload + b"\x00" + meta.get("query", "").encode()).hexdigest()
            message_id = f"sha256:{digest[:40]}"
        raw = RawMessage(
            channel=self.name, event=event, external_id=message_id, received_at=utcnow(), payload=payload, meta=meta
        )
        stored = await self.context.sink.submit(raw)
        log.info("kannel.received", kind=event, duplicate=stored is Stored.DUPLICATE)
        # An empty body: with max-messages = 0 (or omit-empty) Kannel sends nothing back to the phone.
        return web.Response(text="", content_type="text/plain")

    async def status(self, request: web.Request) -> web.Response:
        """A delivery report for one of our replies (dlr-url with reply=<our id>&type=%d)."""
        raw_query = request.rel_url.raw_query_string.encode("ascii", errors="replace")
        query = parse_form_bytes(raw_query)
        self._authenticate(request, query)
        reply_id = text_field(query, "reply")
        kind = text_field(query, "type")
        if not reply_id or not kind or not kind.isdigit():
            metrics.REJECTED.labels(self.name, "missing_field").inc()
            raise web.HTTPBadRequest(text="reply and type are required")
        status = DLR_STATUS.get(int(kind), "unknown")
        raw = RawMessage(
            channel=self.name,
            event="status",
            external_id=f"dlr:{reply_id}:{kind}",
            received_at=utcnow(),
            payload=without_params(raw_query, frozenset({SECRET_PARAM})),
            meta={"method": request.method, "peer": request.remote or ""},
        )
        await self.context.sink.submit(raw)
        # The detail is kept as the reply's last error, so only a failure carries one.
        detail = f"dlr type {kind}" if status == "failed" else ""
        known = await self.context.deliveries.record_delivery(self.name, reply_id, status, detail)
        log.info("kannel.delivery_status", status=status, known=known)
        return web.Response(text="", content_type="text/plain")

    def _sendsms_url(self, params: list[tuple[str, str | bytes]]) -> URL:
        separator = "&" if "?" in self.config.sendsms_url else "?"
        # urlencode percent-encodes the UTF-16BE bytes of a UCS-2 text; yarl must not encode it again.
        return URL(self.config.sendsms_url + separator + urlencode(params), encoded=True)

    def _credentials(self) -> list[tuple[str, str | bytes]]:
        return [("username", self.config.username), ("password", self.config.password.get_secret_value())]

    async def send(self, reply: OutgoingReply) -> SendResult:
        """GET /cgi-bin/sendsms: GSM-7 when the text allows it, else UCS-2 (coding=2, UTF-16BE)."""
        text = fit_one_segment(reply.text) if reply.kind == "ack" else reply.text
        params = [*self._credentials(), ("from", reply.sender or self.config.sender), ("to", reply.address)]
        if alphabet_for(text) is Alphabet.GSM7:
            params += [("text", text.encode("utf-8")), ("charset", "UTF-8"), ("coding", "0")]
        else:
            params += [("text", text.encode("utf-16-be")), ("charset", "UTF-16BE"), ("coding", "2")]
        if self.config.smsc:
            params.append(("smsc", self.config.smsc))
        params += [("dlr-mask", str(self.config.dlr_mask)), ("dlr-url", self._dlr_url(reply.id))]
        try:
            async with http_session(self.context.http, seconds=self.config.timeout_seconds) as session:
                async with session.get(self._sendsms_url(params)) as response:
                    answer = (await response.text(errors="replace")).strip()
                    code = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientFailure("kannel unreachable", detail=type(exc).__name__) from None
        if code in (200, 202):
            return SendResult(provider_id=reply.id, status="sent")
        if code in (401, 403):
            raise ConfigurationError("kannel rejected the sendsms credentials", detail=str(code))
        if code >= 500:
            raise TransientFailure("kannel could not queue the message", detail=f"{code} {answer[:80]}")
        raise PermanentFailure("kannel refused the message", detail=f"{code} {answer[:80]}")

    def _dlr_url(self, reply_id: str) -> str:
        # Kannel fills %d in the dlr-url; our own values are URL-safe so no other escape code can appear.
        url = f"{self.context.public_url.rstrip('/')}/c/{self.name}/status?reply={quote(reply_id, safe='')}&type=%d"
        if self.config.secret is not None:
            url += f"&{SECRET_PARAM}={self.config.secret.get_secret_value()}"
        return url

    async def check_credentials(self) -> CredentialCheck:
        """sendsms with the credentials and no receiver: Kannel checks the user before the arguments."""
        try:
            async with http_session(self.context.http, seconds=self.config.timeout_seconds) as session:
                async with session.get(self._sendsms_url(self._credentials())) as response:
                    code = response.status
        except (aiohttp.ClientError, TimeoutError):
            return CredentialCheck.CANNOT_CONNECT
        if code == 403:
            return CredentialCheck.INVALID_AUTH
        if code in (400, 200, 202):  # 400 "Missing receiver number": the user was accepted
            return CredentialCheck.OK
        return CredentialCheck.UNKNOWN


def _udh_bytes(header: str) -> bytes:
    """X-Kannel-UDH is hex (06050415820000) or, from smsbox, URL-encoded bytes."""
    value = header.strip()
    try:
        return bytes.fromhex(value)
    except ValueError:
        return parse_form_bytes(b"u=" + value.encode("ascii", errors="replace")).get("u", b"")
