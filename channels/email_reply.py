"""Acknowledgements by email through the outbound relay (aiosmtplib), built so they never loop.

RFC 3834 §3.1.7 (Auto-Submitted: auto-replied) tells other responders not to answer us;
X-Auto-Response-Suppress does the same for Exchange:
https://learn.microsoft.com/openspecs/exchange_server_protocols/ms-oxcmail/ced68690-498a-4567-9d14-5c01f974d8b1
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib
from pydantic import SecretStr, model_validator

from channels.base import ChannelConfig, CredentialCheck, OutgoingReply
from gateway.errors import ConfigurationError, PermanentFailure, TransientFailure
from normalizers.email_machine import NO_REPLY
from normalizers.email_parse import message_ids
from normalizers.email_threading import ACK_ID_PREFIX

DEFAULT_SUBJECTS = {"ack": "Laporan Anda telah diterima"}
DEFAULT_SUBJECT = "Pembaruan laporan Anda"
_MACHINES = ("mailer-daemon", "postmaster", *NO_REPLY)
_ADDRESS = re.compile(r"^[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+\.[^\s@<>()\[\],;:\"]+$")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Relay:
    """Where acknowledgements are handed over, and how to log in there."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    implicit_tls: bool = False
    ca_file: str | None = None
    timeout: float = 30.0

    def tls(self) -> ssl.SSLContext | None:
        """A verifying client context with the configured CA, or None for the system CAs."""
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None


class RelaySettings(ChannelConfig):
    """The outbound relay acknowledgements go through; shared by the `email` and `imap` channels."""

    relay_host: str = "127.0.0.1"
    relay_port: int = 25
    relay_username: str | None = None
    relay_password: SecretStr | None = None
    relay_starttls: bool = False
    relay_tls: bool = False
    relay_ca_file: str | None = None
    relay_timeout_seconds: float = 30.0
    from_address: str = "pengaduan@localhost"
    from_name: str = "LAPOR! Layanan Pengaduan"

    @model_validator(mode="after")
    def _from_is_an_address(self) -> RelaySettings:
        if "@" not in self.from_address:
            raise ValueError("from_address must be an email address")
        return self

    def relay(self) -> Relay:
        """The relay as the sending code wants it."""
        return Relay(
            host=self.relay_host,
            port=self.relay_port,
            username=self.relay_username,
            password=self.relay_password.get_secret_value() if self.relay_password else None,
            starttls=self.relay_starttls,
            implicit_tls=self.relay_tls,
            ca_file=self.relay_ca_file,
            timeout=self.relay_timeout_seconds,
        )

    def relay_secrets(self) -> tuple[str, ...]:
        """The relay password, when there is one."""
        return (self.relay_password.get_secret_value(),) if self.relay_password else ()


async def send_ack(reply: OutgoingReply, settings: RelaySettings, *, now: datetime) -> str:
    """Compose and hand over an acknowledgement; returns its Message-ID (the provider id)."""
    message = compose(reply, from_address=settings.from_address, from_name=settings.from_name, now=now)
    await deliver(message, settings.relay(), sender=settings.from_address)
    return ack_message_id(reply.id, settings.from_address)


def ack_message_id(reply_id: str, from_address: str) -> str:
    """The Message-ID of a reply: deterministic per reply, recognisable in replies and bounces."""
    domain = from_address.rpartition("@")[2] or "localhost"
    return f"<{ACK_ID_PREFIX}{reply_id}@{domain}>"


def check_address(address: str) -> str:
    """The recipient, or PermanentFailure when it is malformed or belongs to a machine."""
    address = address.strip()
    if not _ADDRESS.match(address):
        raise PermanentFailure("invalid_address")
    if address.split("@", 1)[0].lower().startswith(_MACHINES):
        # Never answer a robot: that is how mail loops start (RFC 3834 §2).
        raise PermanentFailure("machine_address")
    return address


def compose(reply: OutgoingReply, *, from_address: str, from_name: str, now: datetime) -> EmailMessage:
    """The acknowledgement in Bahasa Indonesia, threaded under the citizen's message."""
    message = EmailMessage()
    message["From"] = formataddr((from_name, from_address))
    message["To"] = check_address(reply.address)
    message["Subject"] = subject_of(reply)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = ack_message_id(reply.id, from_address)
    parents = message_ids(reply.in_reply_to or "")
    if parents:
        message["In-Reply-To"] = parents[-1]
        message["References"] = " ".join(parents)
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(body_of(reply), charset="utf-8")
    message["Content-Language"] = "id"  # after set_content, which clears every Content-* header
    return message


def subject_of(reply: OutgoingReply) -> str:
    """The subject, always carrying `[LAPOR #<id>]` once there is a tracking ID."""
    subject = _SPACES.sub(" ", reply.subject or DEFAULT_SUBJECTS.get(reply.kind, DEFAULT_SUBJECT)).strip()
    if reply.tracking_id:
        tag = f"[LAPOR #{reply.tracking_id}]"
        if tag not in subject:
            subject = f"{tag} {subject}"
    return subject[:200]


def body_of(reply: OutgoingReply) -> str:
    """The text of the reply with the email greeting and how to add information."""
    lines = ["Yth. Pelapor,", "", reply.text.strip(), ""]
    if reply.tracking_id:
        lines += [
            f"Nomor laporan Anda: {reply.tracking_id}.",
            "Untuk menambahkan keterangan atau lampiran, balas email ini tanpa mengubah "
            f"kode [LAPOR #{reply.tracking_id}] pada subjek.",
            "",
        ]
    lines += ["Email ini dikirim otomatis oleh layanan pengaduan SP4N-LAPOR!."]
    return "\n".join(lines) + "\n"


async def deliver(message: EmailMessage, relay: Relay, *, sender: str) -> None:
    """Hand the message to the relay; failures become Transient, Permanent or Configuration errors."""
    try:
        await aiosmtplib.send(
            message,
            sender=sender,
            hostname=relay.host,
            port=relay.port,
            username=relay.username,
            password=relay.password,
            start_tls=relay.starttls,
            use_tls=relay.implicit_tls,
            tls_context=relay.tls(),
            timeout=relay.timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [error.code for error in exc.recipients]
        if codes and all(code >= 500 for code in codes):
            raise PermanentFailure("recipient_refused", detail=str(codes[0])) from exc
        raise TransientFailure("recipient_deferred", detail=str(codes[:1])) from exc
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise ConfigurationError("relay_auth_failed", detail=str(exc.code)) from exc
    except aiosmtplib.SMTPNotSupported as exc:
        raise ConfigurationError("relay_unsupported", detail=str(exc)[:200]) from exc
    except aiosmtplib.SMTPResponseException as exc:
        if exc.code >= 500:
            raise PermanentFailure("relay_refused", detail=str(exc.code)) from exc
        raise TransientFailure("relay_deferred", detail=str(exc.code)) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise TransientFailure("relay_unavailable", detail=type(exc).__name__) from exc


async def check_relay(relay: Relay) -> CredentialCheck:
    """Connect, greet and log in to the relay without sending anything."""
    client = aiosmtplib.SMTP(
        hostname=relay.host,
        port=relay.port,
        start_tls=relay.starttls,
        use_tls=relay.implicit_tls,
        tls_context=relay.tls(),
        timeout=relay.timeout,
    )
    try:
        await client.connect()
        if relay.username:
            await client.login(relay.username, relay.password or "")
        await client.quit()
    except aiosmtplib.SMTPAuthenticationError:
        return CredentialCheck.INVALID_AUTH
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPServerDisconnected, OSError):
        return CredentialCheck.CANNOT_CONNECT
    except aiosmtplib.SMTPException:
        return CredentialCheck.UNKNOWN
    finally:
        client.close()
    return CredentialCheck.OK
