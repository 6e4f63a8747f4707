"""X tweets and direct messages (polled v2 or Account Activity v1.1) into the canonical record."""

from __future__ import annotations

import re

from gateway.errors import UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import (
    Body,
    Complaint,
    FollowUp,
    Ignored,
    Outcome,
    RawRef,
    Reference,
    ReplyRoute,
    Reporter,
    Thread,
    raw_id,
    record_id,
)
from normalizers.text import (
    clean_text,
    dedup_key,
    derive_title,
    detect_language,
    extract_markers,
    leading_tracking_reference,
)
from normalizers.x_fields import XMessage, dm_v1, dm_v2, load, tweet_v1, tweet_v2

MEDIA_ONLY_TITLE = "Laporan dengan lampiran"
# A reply starts with the handles it answers ("@LAPOR1708 @pemkot jalan rusak"): addressing, not content.
_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w{1,15})+\s*")
_READERS = {"tweet": tweet_v2, "direct_message": dm_v2, "activity_tweet": tweet_v1, "activity_direct_message": dm_v1}


def _references(message: XMessage, tracking: Reference | None) -> tuple[Reference, ...]:
    found: list[Reference] = [tracking] if tracking else []
    replying_to_us = bool(message.for_user_id) and message.in_reply_to_user_id == message.for_user_id
    # A reply to one of our tweets (our acknowledgement) belongs to the complaint of that thread. A tweet
    # that merely starts with our handle also carries in_reply_to_user_id, but no replied-to tweet.
    if message.kind == "tweet" and replying_to_us and message.replied_to_id:
        if message.conversation_id and message.conversation_id != message.id:
            found.append(Reference(kind="conversation", value=message.conversation_id))
        found.append(Reference(kind="message_id", value=message.replied_to_id))
    return tuple(found)


def _reply_route(message: XMessage) -> ReplyRoute:
    if message.kind == "tweet":
        return ReplyRoute(channel="x", address=message.author_id, in_reply_to=message.id, public=True)
    return ReplyRoute(channel="x", address=message.author_id, in_reply_to=message.id, public=False)


def normalize(raw: RawMessage) -> Outcome:
    """A tweet or DM to a complaint or follow-up; retweets, our own posts and other events are Ignored."""
    if raw.event == "activity_other":
        return Ignored(reason="account_activity", detail=",".join(sorted(load(raw.payload))))
    reader = _READERS.get(raw.event)
    if reader is None:
        raise UnsupportedEvent("unsupported_event", detail=raw.event)
    message = reader(load(raw.payload))
    if message.event_type != "MessageCreate":
        return Ignored(reason="dm_conversation_event", detail=message.event_type)
    if message.for_user_id and message.author_id == message.for_user_id:
        return Ignored(reason="own_message")
    if message.is_retweet:
        return Ignored(reason="retweet")

    text = clean_text(_LEADING_MENTIONS.sub("", message.text, count=1))
    if not text and not message.attachments and message.location is None:
        return Ignored(reason="empty_message")
    tracking, text = leading_tracking_reference(text)
    markers = extract_markers(text)
    text = markers.text
    identity = f"x:{message.author_id}"
    references = _references(message, tracking)
    conversation = message.conversation_id or message.id
    record = Complaint(
        id=record_id(raw.channel, raw.external_id, raw.received_at),
        channel=raw.channel,
        received_at=raw.received_at,
        raw=RawRef(ids=(raw_id(raw.channel, raw.external_id),), sha256=(raw.sha256,)),
        reporter=Reporter(identity=identity, user_id=message.author_id, handle=message.handle, name=message.name),
        privacy=markers.privacy,
        title=derive_title(text, fallback=MEDIA_ONLY_TITLE),
        body=Body(text=text, language=detect_language(text)),
        incident_date=None,
        location=message.location,
        attachments=message.attachments,
        dedup_key=dedup_key(identity, text),
        thread=Thread(
            conversation_key=f"dm:{conversation}" if message.kind == "dm" else conversation,
            references=references,
        ),
        reply_to=_reply_route(message),
    )
    if references:
        return FollowUp(references=references, record=record)
    return record
