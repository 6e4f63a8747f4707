"""X tweets and direct messages (polled v2 or Account Activity v1.1) into the canonical record."""

from __future__ import annotations

import re

from gateway.errors import UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Ignored, Outcome, Reference, ReplyRoute, Reporter
from normalizers.draft import Draft, build
from normalizers.json_fields import load
from normalizers.text import clean_text
from normalizers.x_fields import XMessage, dm_v1, dm_v2, tweet_v1, tweet_v2

# A reply starts with the handles it answers ("@LAPOR1708 @pemkot jalan rusak"): addressing, not content.
_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w{1,15})+\s*")
_READERS = {"tweet": tweet_v2, "direct_message": dm_v2, "activity_tweet": tweet_v1, "activity_direct_message": dm_v1}


def _references(message: XMessage) -> tuple[Reference, ...]:
    found: list[Reference] = []
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
    conversation = message.conversation_id or message.id
    draft = Draft(
        reporter=Reporter(identity=f"x:{message.author_id}", user_id=message.author_id, handle=message.handle,
                          name=message.name),
        text=text,
        conversation_key=f"dm:{conversation}" if message.kind == "dm" else conversation,
        reply_to=_reply_route(message),
        references=_references(message),
        attachments=message.attachments,
        location=message.location,
    )
    return build(raw, draft)
