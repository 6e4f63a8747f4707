"""Email: the gateway's own SMTP server for complaint addresses, acknowledgements through a relay.

The server is aiosmtpd's protocol on `loop.create_server` in the gateway's loop (channels.email_server);
replies go out through the configured relay (channels.email_reply).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import structlog
from pydantic import Field, SecretStr, field_validator, model_validator

from channels.base import Channel, CredentialCheck, OutgoingReply, SendResult
from channels.email_reply import RelaySettings, check_relay, send_ack
from channels.email_server import Acceptance, EmailIngress, ServerOptions, start_server, tls_context
from gateway import metrics
from gateway.errors import ConfigurationError
from gateway.messages import RawMessage, utcnow
from normalizers.email_parse import external_id

log = structlog.get_logger(__name__)


class EmailConfig(RelaySettings):
    """`[channels.email]`: the SMTP server, who it takes mail for, and the outbound relay."""

    host: str = "127.0.0.1"
    port: int = 2525
    hostname: str = "localhost"
    domains: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    max_message_bytes: int = 25 * 1024 * 1024
    max_recipients: int = 50
    timeout_seconds: float = 300.0  # RFC 5321 §4.5.3.2.7: at least five minutes between commands
    tls_cert: str | None = None
    tls_key: str | None = None
    require_starttls: bool = False
    require_auth: bool = False
    auth_users: dict[str, SecretStr] = Field(default_factory=dict)

    @field_validator("domains", "addresses")
    @classmethod
    def _lower(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(value.strip().lower() for value in values)

    @model_validator(mode="after")
    def _consistent(self) -> EmailConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if (self.require_starttls or self.require_auth) and self.tls_cert is None:
            raise ValueError("require_starttls and require_auth need tls_cert and tls_key (AUTH only after STARTTLS)")
        if self.require_auth and not self.auth_users:
            raise ValueError("require_auth needs auth_users")
        return self


class EmailChannel(Channel):
    """Receives complaints over SMTP and sends acknowledgements through a relay."""

    name = "email"
    events = frozenset({"message"})
    config_model = EmailConfig
    config: EmailConfig

    @classmethod
    def raw_from_file(cls, payload: bytes, *, source: str) -> RawMessage:
        """An archived .eml; its Message-ID (or content hash) is the dedup key, as for live mail."""
        return RawMessage(
            channel=cls.name,
            event="message",
            external_id=external_id(payload),
            received_at=utcnow(),
            payload=payload,
            meta={"source": source},
        )

    def secrets(self) -> Sequence[str]:
        """The relay password and the SMTP AUTH passwords."""
        found = [secret.get_secret_value() for secret in self.config.auth_users.values()]
        return tuple(value for value in (*found, *self.config.relay_secrets()) if value)

    def _acceptance(self) -> Acceptance:
        accepted = Acceptance(domains=frozenset(self.config.domains), addresses=frozenset(self.config.addresses))
        if not accepted.domains and not accepted.addresses:
            raise ConfigurationError("no recipients", detail="[channels.email] needs domains or addresses")
        return accepted

    def _options(self) -> ServerOptions:
        tls = None
        if self.config.tls_cert and self.config.tls_key:
            for path in (self.config.tls_cert, self.config.tls_key):
                if not Path(path).is_file():
                    raise ConfigurationError("tls file missing", detail=path)
            tls = tls_context(self.config.tls_cert, self.config.tls_key)
        return ServerOptions(
            hostname=self.config.hostname,
            max_message_bytes=self.config.max_message_bytes,
            timeout=self.config.timeout_seconds,
            tls=tls,
            require_starttls=self.config.require_starttls,
            require_auth=self.config.require_auth,
            users={user: secret.get_secret_value() for user, secret in self.config.auth_users.items()},
        )

    async def start(self) -> asyncio.Server:
        """Bind the SMTP server (port 0 picks a free one) and return it, serving."""
        handler = EmailIngress(
            sink=self.context.sink, acceptance=self._acceptance(), max_recipients=self.config.max_recipients
        )
        server = await start_server(handler, self._options(), host=self.config.host, port=self.config.port)
        bound = server.sockets[0].getsockname() if server.sockets else None
        log.info("email.listening", address=str(bound))
        return server

    async def run(self) -> None:
        """Serve SMTP until cancelled."""
        server = await self.start()
        try:
            await server.serve_forever()
        finally:
            server.close()
            await server.wait_closed()

    async def send(self, reply: OutgoingReply) -> SendResult:
        """Send the acknowledgement; its Message-ID is the provider id replies and bounces point at."""
        provider_id = await send_ack(reply, self.config, now=utcnow())
        metrics.REPLIES.labels(self.name, "sent").inc()
        return SendResult(provider_id=provider_id)

    async def check_credentials(self) -> CredentialCheck:
        """Log in to the outbound relay."""
        return await check_relay(self.config.relay())
