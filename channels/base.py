"""The contract every channel adapter implements: transport, authentication, parsing into RawMessage."""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Protocol

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from channels.media_fetch import MediaSource
from gateway.messages import RawMessage, Sink, utcnow

if TYPE_CHECKING:
    import aiohttp


class ChannelConfig(BaseModel):
    """Base of every `[channels.<name>]` section: frozen, unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False


class CredentialCheck(StrEnum):
    """The fixed outcomes of checking a channel's credentials against its provider."""

    OK = "ok"
    INVALID_AUTH = "invalid_auth"
    CANNOT_CONNECT = "cannot_connect"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP route a channel serves under /c/<name>/."""

    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class OutgoingReply:
    """A message to a reporter, taken from the reply outbox."""

    id: str
    channel: str
    address: str
    text: str
    kind: str = "ack"
    sender: str | None = None
    in_reply_to: str | None = None
    subject: str | None = None
    complaint_id: str | None = None
    tracking_id: str | None = None
    public: bool = False
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider said when a reply was handed over."""

    provider_id: str | None
    status: str = "sent"


class CursorStore(Protocol):
    """Durable per-channel positions (since_id, UID, offset) kept in the database."""

    async def get(self, channel: str, key: str) -> str | None: ...

    async def set(self, channel: str, key: str, value: str) -> None: ...


class DeliveryRecorder(Protocol):
    """Records provider delivery statuses of our own replies."""

    async def record_delivery(self, channel: str, provider_id: str, status: str, detail: str = "") -> bool: ...


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """What the core lends a channel: the sink, the public URL, durable cursors, an HTTP session."""

    sink: Sink
    public_url: str
    cursors: CursorStore
    deliveries: DeliveryRecorder
    max_body_bytes: int = 1_048_576
    http: aiohttp.ClientSession | None = None


class Channel(abc.ABC):
    """A channel adapter; one module in channels/, one line in channels.registry."""

    name: ClassVar[str]
    events: ClassVar[frozenset[str]]
    config_model: ClassVar[type[ChannelConfig]]
    # Webhook providers cannot be asked to retry later, so their messages go to the on-disk spool
    # when the database is down. A channel whose sender retries by itself (SMTP: 451) says False.
    spools: ClassVar[bool] = True

    def __init__(self, *, config: ChannelConfig, context: ChannelContext) -> None:
        self.config = config
        self.context = context

    def routes(self) -> Sequence[Route]:
        """Webhook routes, mounted under /c/<name>/."""
        return ()

    async def run(self) -> None:  # noqa: B027 - optional hook, most channels are webhook-only
        """Long-running work (a server or poller); returns when cancelled."""

    @abc.abstractmethod
    async def send(self, reply: OutgoingReply) -> SendResult:
        """Hand a reply to the provider; raise TransientFailure or PermanentFailure."""

    async def media_source(self, url: str) -> MediaSource:
        """Where an attachment reference is fetched from; channels with media ids or provider tokens override."""
        return MediaSource(url)

    async def find_sent(self, reply: OutgoingReply) -> SendResult | None:
        """After a crash between sending and recording, ask the provider whether `reply` went out.

        None means the provider cannot tell; the reply is then sent again (at least once).
        """
        return None

    @abc.abstractmethod
    async def check_credentials(self) -> CredentialCheck:
        """Check the configured credentials against the provider."""

    @classmethod
    def raw_from_file(cls, payload: bytes, *, source: str) -> RawMessage:
        """A raw message from an archived file (replay --dry-run, ingest); the id is the content hash."""
        return RawMessage(
            channel=cls.name,
            event="message",
            external_id="file:" + hashlib.sha256(payload).hexdigest()[:40],
            received_at=utcnow(),
            payload=payload,
            meta={"source": source},
        )

    def secrets(self) -> Sequence[str]:
        """Secret values of this channel's configuration, redacted from every log line."""
        return ()
