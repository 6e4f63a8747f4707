"""Jasmin SMS gateway: MO messages from an HTTP client connector, replies through its HTTP API /send.

Jasmin HTTP API (receiving MO, sending MT, receiving DLR): https://docs.jasminsms.com/en/latest/apis/ja-http/
Jasmin waits for a 200 whose body is exactly "ACK/Jasmin"; any other answer makes it retry the message
(deliversm-thrower max_retries), and a 404 makes it give up.

An HTTP client connector is only a base URL and a method: it cannot send headers or credentials.
With method GET Jasmin appends "?id=..." to the base URL, so a secret cannot ride in a query string
there; it goes in the path instead (either way works, plus an optional source address allowlist):

    jcli : httpccm -a  ->  url http://GATEWAY/c/jasmin/receive/SECRET   method POST
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal
from urllib.parse import urlencode

import aiohttp
import structlog
from aiohttp import web
from pydantic import SecretStr, field_validator
from yarl import URL

from channels.base import (
    Channel,
    ChannelConfig,
    ChannelContext,
    CredentialCheck,
    OutgoingReply,
    Route,
    SendResult,
)
from channels.sms_encoding import fit_one_segment, is_gsm7, parse_form_bytes, text_field, without_params
from channels.sms_http import caller_allowlist, check_secret_format, http_session, read_capped, require_caller
from gateway import metrics
from gateway.errors import ConfigurationError, PermanentFailure, TransientFailure
from gateway.messages import RawMessage, Stored, utcnow

log = structlog.get_logger(__name__)

ACK = "ACK/Jasmin"
SECRET_PARAM = "secret"  # noqa: S105 - the name of the query parameter, not a value
# DLR message_status: ESME_* at level 1 (the SMSC's answer to submit_sm), the receipt's stat at level 2/3.
DLR_STATUS = {
    "ESME_ROK": "sent",
    "ACCEPTD": "sent",
    "ENROUTE": "sent",
    "DELIVRD": "delivered",
    "EXPIRED": "failed",
    "DELETED": "failed",
    "UNDELIV": "failed",
    "REJECTD": "failed",
    "UNKNOWN": "unknown",
}


class JasminConfig(ChannelConfig):
    """`[channels.jasmin]`."""

    secret: SecretStr | None = None
    allowed_addresses: tuple[str, ...] = ()
    api_url: str = "http://127.0.0.1:1401"
    username: str = ""
    password: SecretStr = SecretStr("")
    sender: str = "1708"
    dlr_level: Literal[1, 2, 3] = 2
    # SMPP data_coding 0 is "the SMSC default alphabet": GSM 03.38 by the book, Latin-1 on many SMSCs.
    default_alphabet: Literal["gsm7", "latin1"] = "gsm7"
    timeout_seconds: float = 10.0

    _secret_format = field_validator("secret")(check_secret_format)


class JasminChannel(Channel):
    """Receives MO messages and DLRs thrown by Jasmin; sends replies through its HTTP API."""

    name = "jasmin"
    events = frozenset({"message", "status"})
    config_model = JasminConfig
    config: JasminConfig

    def __init__(self, *, config: ChannelConfig, context: ChannelContext) -> None:
        super().__init__(config=config, context=context)
        self._allowlist = caller_allowlist(
            self.name, enabled=self.config.enabled, secret=self.config.secret,
            allowed_addresses=self.config.allowed_addresses,
        )

    def routes(self) -> Sequence[Route]:
        """GET|POST /c/jasmin/receive[/<secret>] (MO) and /c/jasmin/status[/<secret>] (DLR)."""
        routes: list[Route] = []
        for path, handler in (("/receive", self.receive), ("/status", self.status)):
            for method in ("GET", "POST"):
                routes += [Route(method, path, handler), Route(method, path + "/{token}", handler)]
        return tuple(routes)

    def secrets(self) -> Sequence[str]:
        """The shared secret and the HTTP API password."""
        values = [self.config.password.get_secret_value()]
        if self.config.secret is not None:
            values.append(self.config.secret.get_secret_value())
        return tuple(value for value in values if value)

    async def _form(self, request: web.Request) -> tuple[bytes, dict[str, bytes]]:
        """The parameters (query for GET, form body for POST), authenticated; the secret taken out."""
        raw_query = request.rel_url.raw_query_string.encode("ascii", errors="replace")
        query = parse_form_bytes(raw_query)
        body = await read_capped(request, self.context.max_body_bytes) if request.method == "POST" else raw_query
        fields = parse_form_bytes(body) if request.method == "POST" else query
        given = request.match_info.get("token")
        if given is None and SECRET_PARAM in query:
            given = query[SECRET_PARAM].decode("utf-8", errors="replace")
        require_caller(self.name, request, given_secret=given, secret=self.config.secret, allowlist=self._allowlist)
        if not fields:
            metrics.REJECTED.labels(self.name, "empty_request").inc()
            raise web.HTTPBadRequest(text="no parameters")
        return without_params(body, frozenset({SECRET_PARAM})), fields

    async def receive(self, request: web.Request) -> web.Response:
        """An MO message: stored, then ACK/Jasmin so that Jasmin does not throw it again."""
        payload, fields = await self._form(request)
        message_id = text_field(fields, "id")
        if not message_id:
            message_id = f"sha256:{hashlib.sha256(payload).hexdigest()[:40]}"
        raw = RawMessage(
            channel=self.name,
            event="message",
            external_id=message_id,
            received_at=utcnow(),
            payload=payload,
            meta={
                "method": request.method,
                "peer": request.remote or "",
                "sender": text_field(fields, "from") or "",
                "default_alphabet": self.config.default_alphabet,
            },
        )
        stored = await self.context.sink.submit(raw)
        log.info("jasmin.received", duplicate=stored is Stored.DUPLICATE)
        return web.Response(text=ACK, content_type="text/plain")

    async def status(self, request: web.Request) -> web.Response:
        """A delivery receipt for one of our replies, keyed by the id /send returned."""
        payload, fields = await self._form(request)
        message_id = text_field(fields, "id")
        state = text_field(fields, "message_status")
        if not message_id or not state:
            metrics.REJECTED.labels(self.name, "missing_field").inc()
            raise web.HTTPBadRequest(text="id and message_status are required")
        level = text_field(fields, "level") or ""
        raw = RawMessage(
            channel=self.name,
            event="status",
            external_id=f"dlr:{message_id}:{level}:{state}",
            received_at=utcnow(),
            payload=payload,
            meta={"method": request.method, "peer": request.remote or ""},
        )
        await self.context.sink.submit(raw)
        status = DLR_STATUS.get(state.upper(), "failed" if state.upper().startswith("ESME_") else "unknown")
        # The detail is kept as the reply's last error, so only a failure carries one.
        detail = state if status == "failed" else ""
        known = await self.context.deliveries.record_delivery(self.name, message_id, status, detail)
        log.info("jasmin.delivery_status", status=status, known=known)
        return web.Response(text=ACK, content_type="text/plain")

    def _url(self, path: str, params: list[tuple[str, str | bytes]]) -> URL:
        # urlencode percent-encodes the UTF-16BE bytes of UCS-2 content; yarl must not encode it again.
        return URL(f"{self.config.api_url.rstrip('/')}{path}?{urlencode(params)}", encoded=True)

    def _credentials(self) -> list[tuple[str, str | bytes]]:
        return [("username", self.config.username), ("password", self.config.password.get_secret_value())]

    def _dlr_url(self) -> str:
        url = f"{self.context.public_url.rstrip('/')}/c/{self.name}/status"
        if self.config.secret is not None:
            url += "/" + self.config.secret.get_secret_value()
        return url

    async def send(self, reply: OutgoingReply) -> SendResult:
        """GET /send: coding 0 for plain GSM text, coding 8 with UTF-16BE content otherwise."""
        text = fit_one_segment(reply.text) if reply.kind == "ack" else reply.text
        # Jasmin hands coding-0 bytes to the SMSC as they are; only ASCII means the same on every SMSC.
        if is_gsm7(text) and text.isascii():
            content, coding = text.encode("ascii"), "0"
        else:
            content, coding = text.encode("utf-16-be"), "8"
        params = [
            *self._credentials(),
            ("to", reply.address),
            ("from", reply.sender or self.config.sender),
            ("coding", coding),
            ("content", content),
            ("dlr", "yes"),
            ("dlr-url", self._dlr_url()),
            ("dlr-level", str(self.config.dlr_level)),
            ("dlr-method", "POST"),
        ]
        try:
            async with http_session(self.context.http, seconds=self.config.timeout_seconds) as session:
                async with session.get(self._url("/send", params)) as response:
                    answer = (await response.text(errors="replace")).strip()
                    code = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientFailure("jasmin unreachable", detail=type(exc).__name__) from None
        if code == 200 and answer.startswith("Success"):
            return SendResult(provider_id=answer.removeprefix("Success").strip().strip('"'), status="sent")
        if code == 403 and "Authentication" in answer:
            raise ConfigurationError("jasmin rejected the credentials", detail=str(code))
        if code >= 500:
            raise TransientFailure("jasmin could not send", detail=f"{code} {answer[:80]}")
        raise PermanentFailure("jasmin refused the message", detail=f"{code} {answer[:80]}")

    async def check_credentials(self) -> CredentialCheck:
        """GET /balance with the credentials: 200 ok, 403 invalid (Jasmin HTTP API >= 0.7)."""
        try:
            async with http_session(self.context.http, seconds=self.config.timeout_seconds) as session:
                async with session.get(self._url("/balance", self._credentials())) as response:
                    code = response.status
        except (aiohttp.ClientError, TimeoutError):
            return CredentialCheck.CANNOT_CONNECT
        if code == 200:
            return CredentialCheck.OK
        if code in (401, 403):
            return CredentialCheck.INVALID_AUTH
        return CredentialCheck.UNKNOWN
