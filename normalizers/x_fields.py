"""What a tweet or DM says, read from X API v2 objects and v1.1 Account Activity objects alike.

v2 objects: https://docs.x.com/x-api/fundamentals/data-dictionary
v1.1 objects: https://developer.x.com/en/docs/x-api/v1/data-dictionary/object-model/tweet
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from gateway.errors import QuarantinedInput
from gateway.records import Attachment, Location
from normalizers.json_fields import Json, obj, text_or_none

_EXTENSION_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
                    ".webp": "image/webp", ".mp4": "video/mp4"}
_URL_EXTENSION = re.compile(r"(\.[a-z0-9]{2,4})(?:\?|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class XMessage:
    """The facts of one tweet or DM, whichever API shape it came in."""

    kind: Literal["tweet", "dm"]
    id: str
    text: str
    author_id: str
    for_user_id: str
    handle: str | None = None
    name: str | None = None
    conversation_id: str | None = None
    in_reply_to_user_id: str | None = None
    replied_to_id: str | None = None
    is_retweet: bool = False
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    created_at: datetime | None = None
    event_type: str = "MessageCreate"


def _list(value: object) -> list[Json]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _require(value: object, name: str) -> str:
    text = text_or_none(value)
    if text is None:
        raise QuarantinedInput("missing_field", detail=name)
    return text


def _media_type(url: str, default: str) -> str:
    match = _URL_EXTENSION.search(url)
    return _EXTENSION_TYPES.get(match.group(1).lower(), default) if match else default


def _best_variant(variants: list[Json]) -> Json | None:
    mp4 = [v for v in variants if v.get("content_type") == "video/mp4" and v.get("url")]
    return max(mp4, key=lambda v: int(str(v.get("bit_rate", 0) or 0)), default=None)


def _attachment_v2(media: Json) -> Attachment | None:
    kind = media.get("type")
    if kind == "photo" and media.get("url"):
        url = str(media["url"])
        return Attachment(media_type=_media_type(url, "image/jpeg"), url=url)
    variant = _best_variant(_list(media.get("variants")))
    if variant is not None:
        return Attachment(media_type="video/mp4", url=str(variant["url"]))
    if media.get("preview_image_url"):
        url = str(media["preview_image_url"])
        return Attachment(media_type=_media_type(url, "image/jpeg"), url=url)
    return None


def _attachment_v1(media: Json) -> Attachment | None:
    variant = _best_variant(_list(obj(media.get("video_info")).get("variants")))
    if media.get("type") in ("video", "animated_gif") and variant is not None:
        return Attachment(media_type="video/mp4", url=str(variant["url"]))
    url = text_or_none(media.get("media_url_https") or media.get("media_url"))
    return Attachment(media_type=_media_type(url, "image/jpeg"), url=url) if url else None


def expand_links(text: str, urls: list[Json], drop: set[str]) -> str:
    """Replace t.co links by the URLs they stand for; links to attached media are dropped."""
    for entity in urls:
        short = text_or_none(entity.get("url"))
        if not short:
            continue
        if short in drop or entity.get("media_key"):
            text = text.replace(short, "")
            continue
        expanded = text_or_none(entity.get("unwound_url") or entity.get("expanded_url"))
        if expanded:
            text = text.replace(short, expanded)
    for short in drop:
        text = text.replace(short, "")
    return text


def _location_v2(tweet: Json, places: list[Json]) -> Location | None:
    geo = obj(tweet.get("geo"))
    point = obj(geo.get("coordinates")).get("coordinates")
    place = next((p for p in places if p.get("id") == geo.get("place_id")), None) if geo else None
    return _location(point, place)


def _location(point: object, place: Json | None) -> Location | None:
    text = text_or_none(place.get("full_name")) if place else None
    level = text_or_none(place.get("place_type")) if place else None
    if isinstance(point, list) and len(point) == 2:
        try:
            longitude, latitude = float(point[0]), float(point[1])  # GeoJSON order: lon, lat
        except (TypeError, ValueError):
            longitude = latitude = float("nan")
        if -90 <= latitude <= 90 and -180 <= longitude <= 180:
            return Location(text=text, latitude=latitude, longitude=longitude, level=level)
    return Location(text=text, level=level) if text else None


def _created(value: object) -> datetime | None:
    text = text_or_none(value)
    if text is None:
        return None
    try:
        if text.isdigit():  # v1.1 DMs: epoch milliseconds
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        try:
            return datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y")  # v1.1 tweets
        except ValueError:
            return None


def tweet_v2(body: Json) -> XMessage:
    """A polled tweet: `data` plus the `includes` it refers to."""
    tweet = obj(body.get("data"))
    includes = obj(body.get("includes"))
    tweet_id = _require(tweet.get("id"), "data.id")
    author_id = _require(tweet.get("author_id"), "data.author_id")
    author = next((u for u in _list(includes.get("users")) if str(u.get("id")) == author_id), {})
    media_keys = set(obj(tweet.get("attachments")).get("media_keys") or [])  # type: ignore[call-overload]
    media = [m for m in _list(includes.get("media")) if m.get("media_key") in media_keys]
    references = _list(tweet.get("referenced_tweets"))
    replied = next((r for r in references if r.get("type") == "replied_to"), None)
    text = expand_links(str(tweet.get("text", "")), _list(obj(tweet.get("entities")).get("urls")), set())
    return XMessage(
        kind="tweet",
        id=tweet_id,
        text=text,
        author_id=author_id,
        for_user_id=str(body.get("for_user_id", "")),
        handle=text_or_none(author.get("username")),
        name=text_or_none(author.get("name")),
        conversation_id=text_or_none(tweet.get("conversation_id")),
        in_reply_to_user_id=text_or_none(tweet.get("in_reply_to_user_id")),
        replied_to_id=text_or_none(replied.get("id")) if replied else None,
        is_retweet=any(r.get("type") == "retweeted" for r in references),
        attachments=tuple(a for a in map(_attachment_v2, media) if a is not None),
        location=_location_v2(tweet, _list(includes.get("places"))),
        created_at=_created(tweet.get("created_at")),
    )


def dm_v2(body: Json) -> XMessage:
    """A polled DM event: `data` plus the `includes` it refers to."""
    event = obj(body.get("data"))
    includes = obj(body.get("includes"))
    event_id = _require(event.get("id"), "data.id")
    event_type = str(event.get("event_type", "MessageCreate"))
    sender_id = text_or_none(event.get("sender_id")) or ""
    if event_type == "MessageCreate" and not sender_id:
        raise QuarantinedInput("missing_field", detail="data.sender_id")
    sender = next((u for u in _list(includes.get("users")) if str(u.get("id")) == sender_id), {})
    media_keys = set(obj(event.get("attachments")).get("media_keys") or [])  # type: ignore[call-overload]
    media = [m for m in _list(includes.get("media")) if m.get("media_key") in media_keys]
    text = expand_links(str(event.get("text", "")), _list(obj(event.get("entities")).get("urls")), set())
    return XMessage(
        kind="dm",
        id=event_id,
        text=text,
        author_id=sender_id,
        for_user_id=str(body.get("for_user_id", "")),
        handle=text_or_none(sender.get("username")),
        name=text_or_none(sender.get("name")),
        conversation_id=text_or_none(event.get("dm_conversation_id")),
        attachments=tuple(a for a in map(_attachment_v2, media) if a is not None),
        created_at=_created(event.get("created_at")),
        event_type=event_type,
    )


def tweet_v1(body: Json) -> XMessage:
    """A tweet_create_events item of an Account Activity delivery (v1.1 tweet object)."""
    tweet = obj(body.get("tweet_create_event"))
    tweet_id = _require(tweet.get("id_str"), "id_str")
    user = obj(tweet.get("user"))
    author_id = _require(user.get("id_str"), "user.id_str")
    extended = obj(tweet.get("extended_tweet"))
    source = extended or tweet
    text = str(source.get("full_text") or source.get("text") or "")
    entities = obj(source.get("entities"))
    media_entities = _list(obj(source.get("extended_entities")).get("media")) or _list(entities.get("media"))
    drop = {str(m.get("url")) for m in media_entities if m.get("url")}
    coordinates = obj(tweet.get("coordinates")).get("coordinates")
    place = obj(tweet.get("place")) or None
    return XMessage(
        kind="tweet",
        id=tweet_id,
        text=expand_links(text, _list(entities.get("urls")), drop),
        author_id=author_id,
        for_user_id=str(body.get("for_user_id", "")),
        handle=text_or_none(user.get("screen_name")),
        name=text_or_none(user.get("name")),
        in_reply_to_user_id=text_or_none(tweet.get("in_reply_to_user_id_str")),
        replied_to_id=text_or_none(tweet.get("in_reply_to_status_id_str")),
        is_retweet="retweeted_status" in tweet,
        attachments=tuple(a for a in map(_attachment_v1, media_entities) if a is not None),
        location=_location(coordinates, place),
        created_at=_created(tweet.get("created_at")),
    )


def dm_v1(body: Json) -> XMessage:
    """A direct_message_events item of an Account Activity delivery (v1.1 DM event)."""
    event = obj(body.get("direct_message_event"))
    event_id = _require(event.get("id"), "id")
    create = obj(event.get("message_create"))
    sender_id = _require(create.get("sender_id"), "message_create.sender_id")
    data = obj(create.get("message_data"))
    sender = obj(obj(body.get("users")).get(sender_id))
    media = obj(obj(data.get("attachment")).get("media"))
    attachment = _attachment_v1(media) if media else None
    drop = {str(media.get("url"))} if media.get("url") else set()
    recipient = text_or_none(obj(create.get("target")).get("recipient_id"))
    pair = sorted(p for p in (sender_id, recipient) if p)
    return XMessage(
        kind="dm",
        id=event_id,
        text=expand_links(str(data.get("text", "")), _list(obj(data.get("entities")).get("urls")), drop),
        author_id=sender_id,
        for_user_id=str(body.get("for_user_id", "")),
        handle=text_or_none(sender.get("screen_name")),
        name=text_or_none(sender.get("name")),
        # v2 names a one-to-one conversation "<smaller id>-<larger id>"; v1.1 has no name for it.
        conversation_id="-".join(sorted(pair, key=int)) if all(p.isdigit() for p in pair) else None,
        attachments=(attachment,) if attachment else (),
        created_at=_created(event.get("created_timestamp")),
        event_type="MessageCreate" if event.get("type") == "message_create" else str(event.get("type")),
    )
