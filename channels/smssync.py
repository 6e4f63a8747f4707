"""SMSSync-style Android gateways: the phone posts what it receives and polls for what it must send.

Protocol (Ushahidi SMSSync, "Developers"): https://github.com/ushahidi/SMSSync/blob/master/website-src/content/developers/index.md

    POST /c/smssync/sync                 from, message, message_id, sent_to, sent_timestamp, secret, device_id
                                         -> {"payload": {"success": true, "error": null}}
    GET  /c/smssync/sync?task=send&secret=S   -> {"payload": {"task": "send", "secret": S, "messages": [...]}}
    POST /c/smssync/sync?task=sent        {"queued_messages": [uuid...]} -> {"message_uuids": [uuid...]}
    GET  /c/smssync/sync?task=result&secret=S -> {"message_uuids": [uuid...]}   (awaiting a report)
    POST /c/smssync/sync?task=result&secret=S {"message_result": [{uuid, sent_result_code, ...}]}

Replies wait in a PendingReplyStore until the phone polls; the phone only sends the ones the task=sent
answer lists, so acknowledgements go out through the same phone. The app sends no secret with
task=sent (ProcessMessageResult.sendQueuedMessagesPOSTRequest), so that request is authenticated by
the uuids themselves: only replies we handed out are confirmed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from aiohttp import web
from pydantic import SecretStr, field_validator

from channels.base import (
    Channel,
    ChannelConfig,
    ChannelContext,
    CredentialCheck,
    CursorStore,
    OutgoingReply,
    Route,
    SendResult,
)
from channels.sms_encoding import fit_one_segment, parse_form_bytes, text_field, without_params
from channels.sms_http import check_secret_format, read_capped, secret_matches
from gateway import metrics
from gateway.errors import ConfigurationError
from gateway.messages import RawMessage, Stored, utcnow

log = structlog.get_logger(__name__)

SECRET_PARAM = "secret"  # noqa: S105 - the name of the form field, not a value
FINAL = frozenset({"delivered", "failed"})


@dataclass(frozen=True, slots=True)
class PendingReply:
    """A reply waiting for the phone: the uuid is our reply id, which delivery reports come back with."""

    uuid: str
    to: str
    message: str


class PendingReplyStore(Protocol):
    """Durable replies waiting for an SMSSync phone to fetch, confirm and report them.

    States: pending -> offered (until a lease ends) -> confirmed -> settled (a final report came).
    """

    async def enqueue(self, channel: str, reply: PendingReply) -> None:
        """Add a reply as pending; a uuid already known is left as it is (idempotent)."""

    async def claim(self, channel: str, *, limit: int, lease: timedelta, now: datetime) -> list[PendingReply]:
        """Pending replies, and offered ones whose lease ended unconfirmed, oldest first; offer them until now+lease."""

    async def confirm(self, channel: str, uuids: Sequence[str]) -> list[str]:
        """Mark offered (or confirmed) replies confirmed; return those of `uuids` the store knows, unsettled."""

    async def awaiting_result(self, channel: str, *, limit: int) -> list[str]:
        """Uuids of confirmed replies without a final delivery report, oldest first."""

    async def settle(self, channel: str, uuids: Sequence[str]) -> None:
        """A final report (delivered or failed) came for these; stop asking the phone about them."""


class CursorReplyQueue:
    """PendingReplyStore on the channel cursor table: one JSON document, serialized by an in-process lock.

    Correct while the phone's polls and the dispatcher run in one process (`serve --role all`); with
    separate ingest and dispatch processes use a store on the reply outbox table instead.
    """

    KEY = "pending_replies"
    MAX_ENTRIES = 2000

    def __init__(self, cursors: CursorStore) -> None:
        self._cursors = cursors
        self._lock = asyncio.Lock()

    async def _load(self, channel: str) -> dict[str, dict[str, str]]:
        text = await self._cursors.get(channel, self.KEY)
        loaded = json.loads(text) if text else {}
        return loaded if isinstance(loaded, dict) else {}

    async def _save(self, channel: str, entries: dict[str, dict[str, str]]) -> None:
        await self._cursors.set(channel, self.KEY, json.dumps(entries, sort_keys=True))

    async def enqueue(self, channel: str, reply: PendingReply) -> None:
        """Add a reply as pending unless known."""
        async with self._lock:
            entries = await self._load(channel)
            if reply.uuid not in entries:
                if len(entries) >= self.MAX_ENTRIES:
                    raise ConfigurationError("smssync reply queue full", detail="is the phone polling?")
                entries[reply.uuid] = {**asdict(reply), "state": "pending", "until": "", "at": utcnow().isoformat()}
                await self._save(channel, entries)

    async def claim(self, channel: str, *, limit: int, lease: timedelta, now: datetime) -> list[PendingReply]:
        """Offer pending (or lapsed) replies."""
        async with self._lock:
            entries = await self._load(channel)
            ready = [
                entry
                for entry in sorted(entries.values(), key=lambda e: e["at"])
                if entry["state"] == "pending"
                or (entry["state"] == "offered" and datetime.fromisoformat(entry["until"]) <= now)
            ][:limit]
            for entry in ready:
                entry.update(state="offered", until=(now + lease).isoformat())
            if ready:
                await self._save(channel, entries)
            return [PendingReply(uuid=e["uuid"], to=e["to"], message=e["message"]) for e in ready]

    async def confirm(self, channel: str, uuids: Sequence[str]) -> list[str]:
        """Confirm known, unsettled replies."""
        async with self._lock:
            entries = await self._load(channel)
            known = [uuid for uuid in dict.fromkeys(uuids) if uuid in entries]
            for uuid in known:
                entries[uuid]["state"] = "confirmed"
            if known:
                await self._save(channel, entries)
            return known

    async def awaiting_result(self, channel: str, *, limit: int) -> list[str]:
        """Confirmed, unsettled replies."""
        async with self._lock:
            entries = await self._load(channel)
        confirmed = sorted((e for e in entries.values() if e["state"] == "confirmed"), key=lambda e: e["at"])
        return [entry["uuid"] for entry in confirmed][:limit]

    async def settle(self, channel: str, uuids: Sequence[str]) -> None:
        """Forget settled replies."""
        async with self._lock:
            entries = await self._load(channel)
            if any(entries.pop(uuid, None) is not None for uuid in list(uuids)):
                await self._save(channel, entries)


class SmsSyncConfig(ChannelConfig):
    """`[channels.smssync]`."""

    secret: SecretStr | None = None
    # With SMSSync's "Message Results API" off the phone never confirms: a reply counts as sent once offered.
    results_api: bool = True
    lease_seconds: float = 300.0
    batch_size: int = 20
    # The phone counts as connected when it polled task=send within this many seconds.
    poll_stale_seconds: float = 900.0

    _secret_format = field_validator("secret")(check_secret_format)


def _json(document: object, *, status: int = 200) -> web.Response:
    return web.json_response(document, status=status)


def _payload(success: bool, error: str | None, *, status: int = 200) -> web.Response:
    return _json({"payload": {"success": success, "error": error}}, status=status)


class SmsSyncChannel(Channel):
    """An Android phone running SMSSync: it pushes received SMS and pulls our replies."""

    name = "smssync"
    events = frozenset({"message", "status"})
    config_model = SmsSyncConfig
    config: SmsSyncConfig

    def __init__(
        self, *, config: ChannelConfig, context: ChannelContext, pending: PendingReplyStore | None = None
    ) -> None:
        super().__init__(config=config, context=context)
        if self.config.enabled and self.config.secret is None:
            raise ConfigurationError("smssync needs a secret", detail="[channels.smssync] secret")
        self.pending: PendingReplyStore = pending or CursorReplyQueue(context.cursors)

    def routes(self) -> Sequence[Route]:
        """GET|POST /c/smssync/sync: the phone's single Sync URL."""
        return (Route("GET", "/sync", self.poll), Route("POST", "/sync", self.push))

    def secrets(self) -> Sequence[str]:
        """The shared secret."""
        return (self.config.secret.get_secret_value(),) if self.config.secret is not None else ()

    def _secret_ok(self, given: str | None) -> bool:
        # Fail closed: without a configured secret nobody is accepted.
        return self.config.secret is not None and secret_matches(given, self.config.secret)

    def _refuse(self, reason: str) -> web.Response:
        metrics.REJECTED.labels(self.name, reason).inc()
        log.warning("smssync.refused", reason=reason)
        return _payload(False, "invalid secret" if reason == "bad_secret" else reason, status=403)

    async def poll(self, request: web.Request) -> web.Response:
        """GET ?task=send (replies to send) or ?task=result (replies awaiting a delivery report)."""
        if not self._secret_ok(request.query.get(SECRET_PARAM)):
            return self._refuse("bad_secret")
        task = request.query.get("task")
        if task == "send":
            return await self._task_send()
        if task == "result":
            uuids = await self.pending.awaiting_result(self.name, limit=self.config.batch_size * 5)
            return _json({"message_uuids": uuids})
        metrics.REJECTED.labels(self.name, "unknown_task").inc()
        return _payload(False, "unknown task", status=400)

    async def _task_send(self) -> web.Response:
        now = utcnow()
        lease = timedelta(seconds=self.config.lease_seconds)
        replies = await self.pending.claim(self.name, limit=self.config.batch_size, lease=lease, now=now)
        if replies and not self.config.results_api:
            await self.pending.confirm(self.name, [reply.uuid for reply in replies])
        await self.context.cursors.set(self.name, "last_poll", now.isoformat())
        assert self.config.secret is not None  # checked by _secret_ok
        return _json(
            {
                "payload": {
                    "task": "send",
                    # The app runs the task only when this matches its own secret.
                    "secret": self.config.secret.get_secret_value(),
                    "messages": [{"to": r.to, "message": r.message, "uuid": r.uuid} for r in replies],
                }
            }
        )

    async def push(self, request: web.Request) -> web.Response:
        """POST: a received SMS, or ?task=sent / ?task=result from the Message Results API."""
        body = await read_capped(request, self.context.max_body_bytes)
        task = request.query.get("task")
        if task == "sent":
            return await self._task_sent(request, body)
        if task == "result":
            return await self._task_result(request, body)
        if task is not None:
            metrics.REJECTED.labels(self.name, "unknown_task").inc()
            return _payload(False, "unknown task", status=400)
        return await self._message(request, body)

    async def _message(self, request: web.Request, body: bytes) -> web.Response:
        form = parse_form_bytes(body)
        if not self._secret_ok(text_field(form, SECRET_PARAM)):
            return self._refuse("bad_secret")
        payload = without_params(body, frozenset({SECRET_PARAM}))
        if not payload:
            metrics.REJECTED.labels(self.name, "empty_request").inc()
            return _payload(False, "no message fields", status=400)
        message_id = text_field(form, "message_id") or f"sha256:{hashlib.sha256(payload).hexdigest()[:40]}"
        raw = RawMessage(
            channel=self.name,
            event="message",
            external_id=message_id,
            received_at=utcnow(),
            payload=payload,
            meta={
                "content_type": request.headers.get("Content-Type", ""),
                "sender": text_field(form, "from") or "",
                "device_id": text_field(form, "device_id") or "",
                "peer": request.remote or "",
            },
        )
        stored = await self.context.sink.submit(raw)
        log.info("smssync.received", duplicate=stored is Stored.DUPLICATE)
        return _payload(True, None)

    async def _task_sent(self, request: web.Request, body: bytes) -> web.Response:
        given = request.query.get(SECRET_PARAM)
        if given is not None and not self._secret_ok(given):
            return self._refuse("bad_secret")
        uuids = _string_list(body, "queued_messages")
        if uuids is None:
            metrics.REJECTED.labels(self.name, "malformed_body").inc()
            return _payload(False, "queued_messages expected", status=400)
        confirmed = await self.pending.confirm(self.name, uuids)
        return _json({"message_uuids": confirmed})

    async def _task_result(self, request: web.Request, body: bytes) -> web.Response:
        if not self._secret_ok(request.query.get(SECRET_PARAM)):
            return self._refuse("bad_secret")
        try:
            results = json.loads(body)["message_result"]
            if not isinstance(results, list):
                raise TypeError("message_result is not a list")
        except (ValueError, KeyError, TypeError):
            metrics.REJECTED.labels(self.name, "malformed_body").inc()
            return _payload(False, "message_result expected", status=400)
        raw = RawMessage(
            channel=self.name,
            event="status",
            external_id=f"result:{hashlib.sha256(body).hexdigest()[:40]}",
            received_at=utcnow(),
            payload=body,
            meta={"peer": request.remote or ""},
        )
        await self.context.sink.submit(raw)
        settled = []
        for item in results:
            if not isinstance(item, dict) or not isinstance(item.get("uuid"), str):
                continue
            status = result_status(item)
            # The detail is kept as the reply's last error, so only a failure carries one.
            message = item.get("sent_result_message") or item.get("delivered_result_message") or ""
            detail = str(message)[:120] if status == "failed" else ""
            await self.context.deliveries.record_delivery(self.name, item["uuid"], status, detail)
            if status in FINAL:
                settled.append(item["uuid"])
        await self.pending.settle(self.name, settled)
        return _payload(True, None)

    async def send(self, reply: OutgoingReply) -> SendResult:
        """Queue the reply for the phone's next task=send poll; one segment for an acknowledgement."""
        text = fit_one_segment(reply.text) if reply.kind == "ack" else reply.text
        await self.pending.enqueue(self.name, PendingReply(uuid=reply.id, to=reply.address, message=text))
        return SendResult(provider_id=reply.id, status="queued")

    async def check_credentials(self) -> CredentialCheck:
        """The phone calls us, so: a secret is set, and the phone polled recently with it."""
        if self.config.secret is None:
            return CredentialCheck.INVALID_AUTH
        try:
            last = await self.context.cursors.get(self.name, "last_poll")
        except Exception:  # the database is down: we cannot tell
            return CredentialCheck.UNKNOWN
        try:
            age = utcnow() - datetime.fromisoformat(last or "")
        except ValueError:  # never polled
            return CredentialCheck.CANNOT_CONNECT
        return CredentialCheck.OK if age <= timedelta(seconds=self.config.poll_stale_seconds) else (
            CredentialCheck.CANNOT_CONNECT
        )


def result_status(item: dict[str, object]) -> str:
    """SMSSync's sent/delivered result codes to our delivery status (-1: no delivery report yet)."""
    sent, delivered = item.get("sent_result_code"), item.get("delivered_result_code", -1)
    if sent not in (0, "0"):
        return "failed"
    if delivered in (0, "0"):
        return "delivered"
    if delivered in (-1, "-1", None, ""):
        return "sent"
    return "failed"


def _string_list(body: bytes, key: str) -> list[str] | None:
    try:
        values = json.loads(body)[key]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        return None
    return values
