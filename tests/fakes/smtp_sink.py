"""A local SMTP server that records what it is sent: the outbound relay in acknowledgement tests.

It speaks the real protocol (aiosmtpd in the test's loop) and can be told to refuse recipients
or to demand a login, so the channel's error mapping is tested against real replies.
"""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    """One message the sink accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def message(self) -> EmailMessage:
        """The message parsed with policy.default."""
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpSink:
    """The aiosmtpd handler: records, or answers with the configured refusal."""

    received: list[Received] = field(default_factory=list)
    rcpt_reply: str | None = None  # e.g. "550 5.1.1 no such user" or "450 4.2.1 try later"
    data_reply: str | None = None
    users: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(  # aiosmtpd finds its hooks by this name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        self.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(envelope.original_content or b""))
        )
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and self.users.get(auth_data.login.decode()) == (
            auth_data.password.decode()
        )
        return AuthResult(success=ok, handled=False)


async def start_sink(sink: SmtpSink, *, require_auth: bool = False) -> tuple[asyncio.Server, int]:
    """Listen on a free loopback port; AUTH is allowed without TLS here (loopback test only)."""
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        with warnings.catch_warnings():
            # AUTH without TLS is the point of this loopback fake; aiosmtpd warns on every connection.
            warnings.simplefilter("ignore", UserWarning)
            return smtp_protocol()

    def smtp_protocol() -> SMTP:
        return SMTP(
            sink,
            hostname="sink.test",
            auth_required=require_auth,
            auth_require_tls=False,
            authenticator=sink.authenticate,
            loop=loop,
        )

    server = await loop.create_server(protocol, host="127.0.0.1", port=0)
    return server, int(server.sockets[0].getsockname()[1])
