"""Account Activity API deliveries split into one RawMessage per tweet, DM or other event.

Payloads: https://docs.x.com/x-api/enterprise-gnip-2.0/fundamentals/account-activity
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime

from channels.signed_webhook import JsonObject, body_digest, dump, parse_object
from gateway.messages import RawMessage

CHANNEL = "x"
# Envelope keys that accompany the events, not events themselves.
_ENVELOPE = frozenset({"for_user_id", "user_has_blocked", "users", "apps", "source"})
# Known deliveries that are never complaints: kept in the archive as an explicit Ignored.
OTHER_EVENTS = frozenset({
    "favorite_events",
    "follow_events",
    "unfollow_events",
    "block_events",
    "unblock_events",
    "mute_events",
    "unmute_events",
    "user_event",
    "tweet_delete_events",
    "direct_message_indicate_typing_events",
    "direct_message_mark_read_events",
})


def _raw(event: str, external_id: str, payload: object, received_at: datetime, meta: Mapping[str, str]) -> RawMessage:
    return RawMessage(
        channel=CHANNEL,
        event=event,
        external_id=external_id,
        received_at=received_at,
        payload=dump(payload),
        meta=meta,
    )


def _dm_users(users: object, event: Mapping[str, object]) -> dict[str, object]:
    """Only the two parties of a DM from the delivery's `users` map, not everyone in the batch."""
    if not isinstance(users, dict):
        return {}
    create = event.get("message_create")
    wanted: set[str] = set()
    if isinstance(create, dict):
        wanted.add(str(create.get("sender_id", "")))
        target = create.get("target")
        if isinstance(target, dict):
            wanted.add(str(target.get("recipient_id", "")))
    return {key: value for key, value in users.items() if key in wanted}


def split_activity(
    body: JsonObject, *, raw_body: bytes, received_at: datetime, meta: Mapping[str, str]
) -> Iterator[RawMessage]:
    """Yield one RawMessage per tweet and DM; other event groups are one RawMessage each."""
    for_user_id = str(body.get("for_user_id", ""))
    for key, items in body.items():
        if key in _ENVELOPE:
            continue
        if key == "tweet_create_events" and isinstance(items, list):
            for tweet in items:
                if isinstance(tweet, dict) and tweet.get("id_str"):
                    payload: JsonObject = {"for_user_id": for_user_id, "tweet_create_event": tweet}
                    yield _raw("activity_tweet", str(tweet["id_str"]), payload, received_at, meta)
                else:
                    yield _raw("unknown", "sha256:" + body_digest(dump(tweet)), tweet, received_at, meta)
        elif key == "direct_message_events" and isinstance(items, list):
            for event in items:
                if isinstance(event, dict) and event.get("id"):
                    payload = {
                        "for_user_id": for_user_id,
                        "direct_message_event": event,
                        "users": _dm_users(body.get("users"), event),
                    }
                    yield _raw("activity_direct_message", f"dm:{event['id']}", payload, received_at, meta)
                else:
                    yield _raw("unknown", "sha256:" + body_digest(dump(event)), event, received_at, meta)
        else:
            event_name = "activity_other" if key in OTHER_EVENTS else "unknown"
            group: JsonObject = {"for_user_id": for_user_id, key: items}
            digest = body_digest(dump(group))
            yield _raw(event_name, f"{key}:{digest}", group, received_at, meta)
    if not any(key not in _ENVELOPE for key in body):
        yield _raw("unknown", "sha256:" + body_digest(raw_body), body, received_at, meta)


def from_file(raw: RawMessage) -> RawMessage:
    """An archived X file as live traffic would have stored it: poll payload, bare v2 object or delivery."""
    body = parse_object(raw.payload)
    if body is None:
        return replace(raw, event="unknown")
    data = body.get("data")
    if isinstance(data, dict) and data.get("id"):
        if "event_type" in data or "dm_conversation_id" in data:
            return replace(raw, event="direct_message", external_id=f"dm:{data['id']}")
        return replace(raw, event="tweet", external_id=str(data["id"]))
    if body.get("id") and ("text" in body or "event_type" in body):
        # A bare v2 object, as in API responses saved one by one.
        return from_file(replace(raw, payload=dump({"data": body})))
    if isinstance(body.get("tweet_create_event"), dict) or isinstance(body.get("direct_message_event"), dict):
        key = "tweet_create_event" if "tweet_create_event" in body else "direct_message_event"
        event = body[key]
        assert isinstance(event, dict)
        if key == "tweet_create_event" and event.get("id_str"):
            return replace(raw, event="activity_tweet", external_id=str(event["id_str"]))
        if key == "direct_message_event" and event.get("id"):
            return replace(raw, event="activity_direct_message", external_id=f"dm:{event['id']}")
        return replace(raw, event="unknown")
    split = list(split_activity(body, raw_body=raw.payload, received_at=raw.received_at, meta=raw.meta))
    return split[0] if len(split) == 1 else replace(raw, event="unknown")
