"""Telegram bot updates into the canonical record.

Message object: https://core.telegram.org/bots/api#message
"""

from __future__ import annotations

import re

from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Attachment, Ignored, Location, Outcome, Reference, ReplyRoute, Reporter
from normalizers.draft import Draft, build
from normalizers.json_fields import Json, load, obj, text_or_none
from normalizers.text import clean_text

FILE_PREFIX = "telegram-file:"
_IGNORED_EVENTS = {"edited_message": "edited_message", "channel_post": "channel_post",
                   "edited_channel_post": "channel_post", "my_chat_member": "membership_change"}
# "/lapor jalan rusak" or "/start@LaporBot": a command, optionally addressed to the bot, and its text.
_COMMAND = re.compile(r"^/(\w{1,32})(?:@\w+)?(?:\s+|$)")
_FILE_KINDS = {"document": "application/octet-stream", "voice": "audio/ogg", "audio": "audio/mpeg",
               "video": "video/mp4", "video_note": "video/mp4", "animation": "video/mp4"}


def _attachments(message: Json) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    sizes = message.get("photo")
    if isinstance(sizes, list) and sizes and isinstance(sizes[-1], dict) and sizes[-1].get("file_id"):
        largest = sizes[-1]  # Telegram lists a photo's sizes smallest first
        size = largest.get("file_size")
        found.append(Attachment(media_type="image/jpeg", url=FILE_PREFIX + str(largest["file_id"]),
                                size=size if isinstance(size, int) else None))
    for kind, default in _FILE_KINDS.items():
        item = obj(message.get(kind))
        if item.get("file_id"):
            size = item.get("file_size")
            found.append(Attachment(media_type=str(item.get("mime_type") or default),
                                    url=FILE_PREFIX + str(item["file_id"]), name=text_or_none(item.get("file_name")),
                                    size=size if isinstance(size, int) else None))
    return tuple(found)


def _location(message: Json) -> Location | None:
    venue = obj(message.get("venue"))
    point = obj(venue.get("location")) or obj(message.get("location"))
    try:
        latitude, longitude = float(str(point["latitude"])), float(str(point["longitude"]))
    except (KeyError, ValueError):
        return None
    text = " ".join(p for p in (text_or_none(venue.get("title")), text_or_none(venue.get("address"))) if p) or None
    return Location(text=text, latitude=latitude, longitude=longitude)


def normalize(raw: RawMessage) -> Outcome:
    """A private message to the bot becomes a complaint or follow-up; other updates are Ignored."""
    if raw.event in _IGNORED_EVENTS:
        return Ignored(reason=_IGNORED_EVENTS[raw.event])
    if raw.event != "message":
        raise UnsupportedEvent("unsupported_event", detail=raw.event)
    message = obj(load(raw.payload).get("message"))
    sender, chat = obj(message.get("from")), obj(message.get("chat"))
    if sender.get("id") is None or chat.get("id") is None or message.get("message_id") is None:
        raise QuarantinedInput("missing_field", detail="message.from/chat/message_id")
    if sender.get("is_bot"):
        return Ignored(reason="bot_message")
    if chat.get("type") != "private":
        # Replying in a group would expose the complaint to everyone in it.
        return Ignored(reason="not_private_chat", detail=str(chat.get("type")))

    text = clean_text(str(message.get("text") or message.get("caption") or ""))
    attachments, location = _attachments(message), _location(message)
    command = _COMMAND.match(text)
    if command is not None:
        text = text[command.end():].strip()
        if not text and not attachments and location is None:
            return Ignored(reason="bot_command", detail=command.group(1).lower())
    chat_id, user_id = str(chat["id"]), str(sender["id"])
    replied = obj(message.get("reply_to_message"))
    # Our sent messages and stored messages are both keyed "<chat id>:<message id>".
    references = (
        (Reference(kind="message_id", value=f"{chat_id}:{replied['message_id']}"),)
        if replied.get("message_id") is not None else ()
    )
    names = (text_or_none(sender.get("first_name")), text_or_none(sender.get("last_name")))
    name = " ".join(p for p in names if p) or None
    draft = Draft(
        reporter=Reporter(identity=f"telegram:{user_id}", user_id=user_id, handle=text_or_none(sender.get("username")),
                          name=name),
        text=text,
        conversation_key=f"telegram:{chat_id}",
        reply_to=ReplyRoute(channel=raw.channel, address=chat_id, in_reply_to=str(message["message_id"])),
        references=references,
        attachments=attachments,
        location=location,
    )
    return build(raw, draft)
