"""Lifecycle messages as outgoing replies on the reporter's own channel, with ids that never repeat a send."""

from __future__ import annotations

import hashlib

from channels.base import OutgoingReply
from gateway import acks
from gateway.lifecycle.messages import UpdateKind
from gateway.records import Complaint


def update_id(complaint_id: str, kind: UpdateKind, discriminator: str) -> str:
    """A deterministic reply id: the same event polled twice is one row in the reply outbox."""
    seed = f"lifecycle\x00{complaint_id}\x00{kind.value}\x00{discriminator}".encode()
    return hashlib.sha256(seed).hexdigest()[:32]


def update_reply(complaint: Complaint, kind: UpdateKind, text: str, *, discriminator: str) -> OutgoingReply | None:
    """The reply that carries `text` to the reporter, or None when the complaint has no reply route."""
    route = complaint.reply_to
    if route is None:
        return None
    return OutgoingReply(
        id=update_id(complaint.id, kind, discriminator),
        channel=route.channel,
        address=route.address,
        text=text,
        kind=kind.value,
        sender=route.sender,
        in_reply_to=route.in_reply_to,
        subject=_subject(complaint),
        complaint_id=complaint.id,
        tracking_id=complaint.external.tracking_id,
        public=route.public,
    )


def _subject(complaint: Complaint) -> str | None:
    # `[LAPOR #id]` in an e-mail subject threads the reporter's answer back to the complaint.
    tracking_id = complaint.external.tracking_id
    return acks.subject(tracking_id, complaint.title) if tracking_id else None


def acknowledgement_reply(complaint: Complaint, tracking_id: str) -> OutgoingReply | None:
    """The acknowledgement with the tracking ID; its id is the dispatcher's, so it is sent once."""
    route = complaint.reply_to
    if route is None:
        return None
    return OutgoingReply(
        id=f"ack:{complaint.id}",
        channel=route.channel,
        address=route.address,
        text=acks.acknowledgement(tracking_id),
        kind="ack",
        sender=route.sender,
        in_reply_to=route.in_reply_to,
        subject=acks.subject(tracking_id, complaint.title),
        complaint_id=complaint.id,
        tracking_id=tracking_id,
        public=route.public,
    )
