"""The reply outbox: acknowledgements and updates to reporters, sent once through their channel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Row

from channels.base import Channel, OutgoingReply, SendResult
from config.settings import DispatchSettings
from gateway import metrics
from gateway.errors import ConfigurationError, GatewayError, PermanentFailure, TransientFailure
from gateway.messages import utcnow
from gateway.polling import poll_forever
from gateway.retry import RetryPolicy
from gateway.storage.claims import claim
from gateway.storage.db import Database
from gateway.storage.tables import reply

log = structlog.get_logger(__name__)


def outgoing(row: Row[Any]) -> OutgoingReply:
    """The OutgoingReply a reply row holds; the tracking ID travels in the row's `meta`."""
    meta = json.loads(row.meta or "{}")
    return OutgoingReply(
        id=row.id,
        channel=row.channel,
        address=row.address,
        text=row.text,
        kind=row.kind,
        sender=row.sender,
        in_reply_to=row.in_reply_to,
        subject=row.subject,
        complaint_id=row.complaint_id,
        tracking_id=meta.get("tracking_id") or None,
        public=row.public,
        meta=meta,
    )


class ReplySender:
    """Claims due replies and hands each to its channel.

    A reply is marked `sending` before it leaves; if the process dies before the provider's answer
    is recorded, the next claim asks the channel (`find_sent`) before sending again.
    """

    def __init__(self, db: Database, channels: Mapping[str, Channel], settings: DispatchSettings) -> None:
        self._db = db
        self._channels = channels
        self._settings = settings
        self._policy = RetryPolicy(settings)
        self.wake = asyncio.Event()

    async def run(self) -> None:
        """Send replies until cancelled."""
        await poll_forever(
            self.send_pending, wake=self.wake, poll_seconds=self._settings.poll_seconds,
            full_batch=self._settings.batch_size, log=log, name="replies",
        )

    async def send_pending(self) -> int:
        """Claim one batch of due replies and send them."""
        now = utcnow()
        table = reply
        lease = {"state": "sending", "locked_until": now + timedelta(seconds=self._settings.lease_seconds)}
        # Two claims, because a claimed row comes back as "sending" either way: replies a crashed holder
        # left behind are looked up at the provider before sending; fresh ones are just sent.
        abandoned = await claim(
            self._db, table, ready=sa.and_(table.c.state == "sending", table.c.locked_until < now),
            order_by=table.c.next_attempt_at, limit=self._settings.batch_size, values=lease,
        )
        fresh = await claim(
            self._db, table, ready=sa.and_(table.c.state == "pending", table.c.next_attempt_at <= now),
            order_by=table.c.next_attempt_at, limit=max(self._settings.batch_size - len(abandoned), 0), values=lease,
        )
        await asyncio.gather(
            *(self._send(row, recovering=True) for row in abandoned),
            *(self._send(row, recovering=False) for row in fresh),
        )
        return len(abandoned) + len(fresh)

    async def _send(self, row: Row[Any], *, recovering: bool) -> None:
        message = outgoing(row)
        channel = self._channels.get(row.channel)
        try:
            if channel is None:
                raise TransientFailure("channel_not_running", detail=row.channel, retry_after=60)
            result = await self._deliver(channel, message, recovering=recovering)
        except TransientFailure as exc:
            await self._failed(row, exc, retry=True)
        except (PermanentFailure, ConfigurationError) as exc:
            await self._failed(row, exc, retry=False)
        except Exception as exc:
            log.exception("replies.send_crashed", reply=row.id, channel=row.channel)
            await self._failed(row, TransientFailure("unexpected_error", detail=type(exc).__name__), retry=True)
        else:
            metrics.REPLIES.labels(row.channel, "sent").inc()
            async with self._db.begin() as connection:
                await connection.execute(
                    sa.update(reply)
                    .where(reply.c.id == row.id)
                    .values(state="sent", provider_id=result.provider_id, delivery_status=result.status,
                            attempts=row.attempts + 1, sent_at=utcnow(), locked_until=None, last_error=None)
                )

    async def _deliver(self, channel: Channel, message: OutgoingReply, *, recovering: bool) -> SendResult:
        if recovering:
            # The previous holder died after claiming; the provider may already have it.
            found = await channel.find_sent(message)
            if found is not None:
                log.info("replies.recovered_sent", reply=message.id, channel=message.channel)
                return found
        return await channel.send(message)

    async def _failed(self, row: Row[Any], failure: GatewayError, *, retry: bool) -> None:
        attempts = row.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "last_error": str(failure), "locked_until": None}
        if retry and attempts < self._settings.max_attempts and isinstance(failure, TransientFailure):
            delay = self._policy.next_delay(attempts, failure)
            values |= {"state": "pending", "next_attempt_at": utcnow() + timedelta(seconds=delay)}
            metrics.REPLIES.labels(row.channel, "retry").inc()
        else:
            values |= {"state": "dead"}
            metrics.REPLIES.labels(row.channel, "dead").inc()
            log.warning("replies.dead_letter", reply=row.id, channel=row.channel, reason=failure.reason)
        async with self._db.begin() as connection:
            await connection.execute(sa.update(reply).where(reply.c.id == row.id).values(**values))
