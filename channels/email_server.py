"""The SMTP edge: aiosmtpd's protocol in the gateway's own event loop, committing before 250.

aiosmtpd finds handler hooks by name (`handle_RCPT`, `handle_DATA`), so `EmailIngress` keeps
that shape; everything it decides is typed and tested through real SMTP clients.
Reply codes: RFC 5321 §4.2 and enhanced status codes, RFC 3463.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from gateway import metrics
from gateway.messages import RawMessage, Sink, Stored, utcnow
from normalizers.email_parse import external_id

log = structlog.get_logger(__name__)

CHANNEL = "email"
REPLY_ACCEPTED = "250 2.0.0 OK: queued"
REPLY_RELAY_DENIED = "550 5.7.1 Relaying denied: recipient not served here"
REPLY_TOO_MANY = "452 4.5.3 Too many recipients"
REPLY_RETRY = "451 4.3.0 Temporary failure, please try again later"


@dataclass(frozen=True, slots=True)
class Acceptance:
    """Which recipients this server takes mail for: whole domains and single addresses."""

    domains: frozenset[str]
    addresses: frozenset[str]

    def accepts(self, address: str) -> bool:
        """Whether mail for `address` is ours; anything else is a relay attempt."""
        address = address.strip().strip("<>").lower()
        local, at, domain = address.rpartition("@")
        if not at or not local:
            return False
        return address in self.addresses or domain in self.domains or _idna(domain) in self.domains


def _idna(domain: str) -> str:
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


class EmailIngress:
    """aiosmtpd handler: recipient policy, then the raw bytes into the sink before 250."""

    def __init__(self, *, sink: Sink, acceptance: Acceptance, max_recipients: int) -> None:
        self.sink = sink
        self.acceptance = acceptance
        self.max_recipients = max_recipients

    async def handle_RCPT(  # aiosmtpd finds its hooks by this name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        """Refuse relaying and recipients over the limit; accept the rest."""
        if len(envelope.rcpt_tos) >= self.max_recipients:
            metrics.REJECTED.labels(CHANNEL, "too_many_recipients").inc()
            return REPLY_TOO_MANY
        if not self.acceptance.accepts(address):
            metrics.REJECTED.labels(CHANNEL, "relay_denied").inc()
            return REPLY_RELAY_DENIED
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(  # aiosmtpd finds its hooks by this name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Commit the message; 250 only once it is durable, 451 when it cannot be stored."""
        payload = envelope.original_content or b""
        raw = RawMessage(
            channel=CHANNEL,
            event="message",
            external_id=external_id(payload),
            received_at=utcnow(),
            payload=payload,
            meta=envelope_meta(session, envelope),
        )
        try:
            stored = await self.sink.submit(raw)
        except Exception as exc:  # whatever the store raised, the sender must retry, not lose mail
            log.warning("email.store_failed", error=type(exc).__name__)
            metrics.REJECTED.labels(CHANNEL, "store_failed").inc()
            return REPLY_RETRY
        if stored is Stored.DUPLICATE:
            metrics.DUPLICATES.labels(CHANNEL).inc()
        else:
            metrics.RECEIVED.labels(CHANNEL).inc()
        return REPLY_ACCEPTED


def envelope_meta(session: Session, envelope: Envelope) -> Mapping[str, str]:
    """The transport facts kept with the raw message."""
    peer = session.peer
    host = peer[0] if isinstance(peer, tuple) and peer else str(peer or "")
    return {
        "mail_from": f"<{envelope.mail_from or ''}>",
        "rcpt_tos": ",".join(envelope.rcpt_tos),
        "peer": str(host),
        "helo": session.host_name or "",
        "tls": "yes" if session.ssl is not None else "no",
        "smtputf8": "yes" if envelope.smtp_utf8 else "no",
    }


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """The server side of STARTTLS with the configured certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def password_authenticator(users: Mapping[str, str]) -> Callable[..., AuthResult]:
    """An aiosmtpd authenticator for LOGIN/PLAIN against the configured users."""

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        expected = users.get(login)
        ok = expected is not None and hmac.compare_digest(auth_data.password, expected.encode("utf-8"))
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    return authenticate


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """How each SMTP session is set up."""

    hostname: str
    max_message_bytes: int
    timeout: float
    tls: ssl.SSLContext | None = None
    require_starttls: bool = False
    require_auth: bool = False
    users: Mapping[str, str] | None = None


async def start_server(
    handler: EmailIngress, options: ServerOptions, *, host: str, port: int
) -> asyncio.Server:
    """Listen with aiosmtpd's SMTP protocol in the running loop (not its threaded Controller)."""
    loop = asyncio.get_running_loop()
    # aiosmtpd logs peers and, at debug, message lines: keep personal data out of the logs.
    logging.getLogger("mail.log").setLevel(logging.WARNING)

    def protocol() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=options.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=options.hostname,  # else socket.getfqdn() (a DNS lookup) on every connection
            ident="LAPOR gateway ESMTP",
            tls_context=options.tls,
            require_starttls=options.require_starttls,
            timeout=options.timeout,
            auth_required=options.require_auth,
            auth_require_tls=True,
            authenticator=password_authenticator(options.users) if options.users else None,
            loop=loop,
        )

    return await loop.create_server(protocol, host=host, port=port)
