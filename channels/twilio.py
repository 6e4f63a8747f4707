"""Twilio SMS, MMS and WhatsApp: signed form webhooks in, REST API replies out.

Webhook security: https://www.twilio.com/docs/usage/webhooks/webhooks-security
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Literal, TypeVar
from urllib.parse import parse_qs, urlparse

import structlog
from aiohttp import web
from multidict import MultiDict
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    RequestValidator,
    add_port,
    get_signature_algorithm,
    remove_port,
)
from twilio.rest import Client

from channels.base import Channel, ChannelConfig, CredentialCheck, OutgoingReply, Route, SendResult
from channels.form import parse_form
from gateway import metrics
from gateway.errors import ConfigurationError, PermanentFailure, TransientFailure
from gateway.messages import RawMessage, utcnow

log = structlog.get_logger(__name__)
T = TypeVar("T")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_EMPTY_TWIML_BODY = EMPTY_TWIML.encode("utf-8")
FORM = "application/x-www-form-urlencoded"
_DIGESTS = {HMAC_SHA1: hashlib.sha1, HMAC_SHA256: hashlib.sha256}


def _form_payload(params: MultiDict[str] | Sequence[tuple[str, str]]) -> str:
    """The parameters as Twilio signs them: sorted names, each followed by its sorted distinct values."""
    pairs = list(params.items()) if isinstance(params, MultiDict) else params
    by_name = dict(pairs)
    if len(by_name) == len(pairs):  # every name once, as in Twilio's own webhooks: sorting the names is enough
        return "".join([name + by_name[name] for name in sorted(by_name)])
    # Sorting the distinct (name, value) pairs orders them exactly so, in one C-level sort.
    return "".join(itertools.chain.from_iterable(sorted(set(pairs))))


@functools.lru_cache(maxsize=64)  # webhooks arrive on a handful of URLs
def _url_variants(url: str) -> tuple[str, ...]:
    """The URL with and without its default port: Twilio signs either (twilio.request_validator). The one
    spelled as called comes first, as it is usually the one signed: one HMAC instead of two."""
    parsed = urlparse(url)
    return tuple(sorted(dict.fromkeys((remove_port(parsed), add_port(parsed))), key=lambda variant: variant != url))


@functools.lru_cache(maxsize=16)  # one auth token per account, two algorithms
def _keyed(token: str, algorithm: str) -> hmac.HMAC:
    """An HMAC with the token already keyed in: each check copies it instead of hashing the key again."""
    return hmac.new(token.encode("utf-8"), digestmod=_DIGESTS[algorithm])


def verify_signature(
    token: str,
    url: str,
    params: MultiDict[str] | Sequence[tuple[str, str]] | str,
    signature: str,
    *,
    settings_header: str | None = None,
) -> bool:
    """X-Twilio-Signature check of a form (or a JSON body with bodySHA256) against the URL Twilio called.

    `params`: the form's (name, value) pairs, as a MultiDict or in order; a str is a JSON body.
    Never raises: a URL that does not parse or a JSON body without its bodySHA256 is simply not verified.
    """
    if not token or not signature:
        return False
    algorithm = get_signature_algorithm(settings_header).upper()
    if algorithm not in _DIGESTS:
        return False
    # Twilio signs the percent-encoded URL; a proxy or client may hand us a raw quote instead
    # (twilio-node normalises it the same way: https://github.com/twilio/twilio-node/blob/main/src/webhooks/webhooks.ts).
    candidates = (url,) if "'" not in url else (url, url.replace("'", "%27"))
    try:
        if isinstance(params, str):
            # A JSON body is covered by the bodySHA256 query parameter, checked by the twilio library.
            if "bodySHA256" not in parse_qs(urlparse(url).query):
                return False
            validator = RequestValidator(token)
            return any(validator.validate(candidate, params, signature, algorithm) for candidate in candidates)
        # The same check as RequestValidator.validate, with the parameter string built once instead of once
        # per URL variant: signature checking was the largest single cost of an acknowledgement.
        payload = _form_payload(params)
        keyed = _keyed(token, algorithm)
        expected = signature.encode("utf-8")
        for candidate in candidates:
            for variant in _url_variants(candidate):
                mac = keyed.copy()
                mac.update((variant + payload).encode("utf-8"))
                if hmac.compare_digest(base64.b64encode(mac.digest()), expected):
                    return True
        return False
    except ValueError:  # a URL urllib cannot parse (bad port, bad IPv6 literal)
        return False


def _empty_twiml() -> web.Response:
    """200 with an empty TwiML document: stored, nothing to send back."""
    return web.Response(body=_EMPTY_TWIML_BODY, content_type="text/xml", charset="utf-8")


class TwilioConfig(ChannelConfig):
    """`[channels.twilio]`."""

    account_sid: str = ""
    auth_token: str = ""
    api_base_url: str = "https://api.twilio.com"
    signature: Literal["enforce", "log-only"] = "enforce"
    from_number: str | None = None
    timeout_seconds: float = 10.0


class TwilioChannel(Channel):
    """Receives Twilio message webhooks and sends replies through the Messages API."""

    name = "twilio"
    events = frozenset({"message", "status"})
    config_model = TwilioConfig
    config: TwilioConfig

    def routes(self) -> Sequence[Route]:
        """POST /c/twilio/receive and /c/twilio/status."""
        return (Route("POST", "/receive", self.receive), Route("POST", "/status", self.status))

    @classmethod
    def raw_from_file(cls, payload: bytes, *, source: str) -> RawMessage:
        """A stored form body; its MessageSid is the dedup key, as for live traffic."""
        raw = super().raw_from_file(payload.strip(), source=source)
        try:
            form = dict(parse_form(raw.payload))
        except (UnicodeDecodeError, ValueError):
            return raw
        sid = form.get("MessageSid") or form.get("SmsSid")
        return replace(raw, external_id=sid) if sid else raw

    def secrets(self) -> Sequence[str]:
        """The auth token."""
        return (self.config.auth_token,) if self.config.auth_token else ()

    async def _signed_form(self, request: web.Request) -> tuple[bytes, MultiDict[str], bool]:
        if request.content_type != FORM:
            metrics.REJECTED.labels(self.name, "content_type").inc()
            raise web.HTTPUnsupportedMediaType(text="expected application/x-www-form-urlencoded")
        body = await request.read()  # over client_max_size: 413 from aiohttp
        try:
            pairs = parse_form(body)
        except (UnicodeDecodeError, ValueError) as exc:
            metrics.REJECTED.labels(self.name, "malformed_body").inc()
            raise web.HTTPBadRequest(text="malformed form body") from exc
        # Twilio signs the URL it called: behind a TLS proxy that is the public URL, not ours.
        valid = verify_signature(
            self.config.auth_token,
            self.context.public_url + request.path_qs,
            pairs,
            request.headers.get("X-Twilio-Signature", ""),
            settings_header=request.headers.get("X-Twilio-Webhooks-Signature-Settings"),
        )
        if not valid:
            metrics.REJECTED.labels(self.name, "bad_signature").inc()
            if self.config.signature == "enforce":
                log.warning("twilio.bad_signature", path=request.path, present="X-Twilio-Signature" in request.headers)
                raise web.HTTPForbidden(text="invalid signature")
            metrics.SIGNATURE_UNVERIFIED.labels(self.name).inc()
        return body, MultiDict(pairs), valid

    async def receive(self, request: web.Request) -> web.Response:
        """An inbound SMS, MMS or WhatsApp message: stored, then 200 with empty TwiML."""
        body, form, valid = await self._signed_form(request)
        sid = form.get("MessageSid") or form.get("SmsSid")
        if not sid:
            metrics.REJECTED.labels(self.name, "missing_field").inc()
            raise web.HTTPBadRequest(text="MessageSid is required")
        raw = RawMessage(
            channel=self.name,
            event="message",
            external_id=sid,
            received_at=utcnow(),
            payload=body,
            meta={
                "signature": "valid" if valid else "invalid",
                "sender": form.get("From", ""),
                "peer": request.remote or "",
            },
        )
        await self.context.sink.submit(raw)
        return _empty_twiml()

    async def status(self, request: web.Request) -> web.Response:
        """A delivery status callback for one of our replies."""
        _body, form, _valid = await self._signed_form(request)
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        state = form.get("MessageStatus") or form.get("SmsStatus") or ""
        if not sid or not state:
            raise web.HTTPBadRequest(text="MessageSid and MessageStatus are required")
        known = await self.context.deliveries.record_delivery(self.name, sid, state, form.get("ErrorCode", ""))
        log.info("twilio.delivery_status", status=state, known=known)
        return _empty_twiml()

    def _client(self) -> Client:
        # The async client ignores its timeout, so the sync client runs in a thread instead.
        client = Client(
            self.config.account_sid,
            self.config.auth_token,
            http_client=TwilioHttpClient(timeout=self.config.timeout_seconds),
        )
        client.api.base_url = self.config.api_base_url.rstrip("/")
        return client

    async def send(self, reply: OutgoingReply) -> SendResult:
        """Send through POST /2010-04-01/Accounts/{sid}/Messages.json."""
        sender = reply.sender or self.config.from_number
        if not sender:
            raise ConfigurationError("no sender number", detail="set channels.twilio.from_number")

        def create() -> SendResult:
            message = self._client().messages.create(
                to=reply.address,
                from_=sender,
                body=reply.text,
                status_callback=f"{self.context.public_url}/c/{self.name}/status",
            )
            return SendResult(provider_id=message.sid, status=message.status or "queued")

        return await self._call(create)

    async def find_sent(self, reply: OutgoingReply) -> SendResult | None:
        """Look for our reply among the messages sent to the reporter in the last day."""
        sender = reply.sender or self.config.from_number

        def search() -> SendResult | None:
            since = utcnow() - timedelta(days=1)
            for message in self._client().messages.list(to=reply.address, from_=sender, date_sent_after=since,
                                                        limit=50):
                if message.body == reply.text:
                    return SendResult(provider_id=message.sid, status=message.status or "sent")
            return None

        return await self._call(search)

    async def _call(self, work: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(work)
        except TwilioRestException as exc:
            if exc.status in (401, 403):
                raise ConfigurationError("twilio rejected the credentials", detail=str(exc.status)) from None
            if exc.status == 429 or exc.status >= 500:
                raise TransientFailure("twilio unavailable", detail=str(exc.status)) from None
            raise PermanentFailure("twilio refused the message", detail=f"{exc.status} {exc.code}") from None
        except TwilioException as exc:
            # Page fetches raise a plain TwilioException("Unable to fetch page", response): read its status.
            status = getattr(exc.args[1], "status_code", None) if len(exc.args) > 1 else None
            if status in (401, 403):
                raise ConfigurationError("twilio rejected the credentials", detail=str(status)) from None
            if isinstance(status, int) and 400 <= status < 500 and status != 429:
                raise PermanentFailure("twilio refused the request", detail=str(status)) from None
            raise TransientFailure("twilio unreachable", detail=type(exc).__name__) from None
        except OSError as exc:
            raise TransientFailure("twilio unreachable", detail=type(exc).__name__) from None

    async def check_credentials(self) -> CredentialCheck:
        """Fetch the account resource with the configured SID and token."""
        if not self.config.account_sid or not self.config.auth_token:
            return CredentialCheck.INVALID_AUTH

        def fetch() -> None:
            self._client().api.v2010.accounts(self.config.account_sid).fetch()

        try:
            await self._call(fetch)
        except ConfigurationError:
            return CredentialCheck.INVALID_AUTH
        except TransientFailure:
            return CredentialCheck.CANNOT_CONNECT
        except PermanentFailure:
            return CredentialCheck.UNKNOWN
        return CredentialCheck.OK

