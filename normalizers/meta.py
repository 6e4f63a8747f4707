"""WhatsApp Cloud API, Messenger and Instagram messages into the canonical record."""

from __future__ import annotations

from gateway.errors import IgnoredInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Ignored, Outcome, Reference, ReplyRoute, Reporter
from normalizers.draft import Draft, build
from normalizers.json_fields import load
from normalizers.meta_fields import MetaMessage, messaging, whatsapp
from normalizers.text import clean_text

_PLATFORMS = {"messenger_message": "messenger", "instagram_message": "instagram", "postback": ""}
_OBJECT_PLATFORM = {"page": "messenger", "instagram": "instagram"}


def _read(raw: RawMessage) -> MetaMessage:
    body = load(raw.payload)
    if raw.event == "whatsapp_message":
        return whatsapp(body)
    platform = _PLATFORMS[raw.event] or _OBJECT_PLATFORM.get(str(body.get("object")), "messenger")
    return messaging(body, platform)


def normalize(raw: RawMessage) -> Outcome:
    """One inbound message to a complaint or follow-up; statuses and our own echoes are Ignored."""
    if raw.event == "status":
        return Ignored(reason="delivery_status")
    if raw.event == "echo":
        return Ignored(reason="own_message")
    if raw.event != "whatsapp_message" and raw.event not in _PLATFORMS:
        raise UnsupportedEvent("unsupported_event", detail=raw.event)
    try:
        message = _read(raw)
    except IgnoredInput as exc:
        return Ignored(reason=exc.reason, detail=exc.detail)

    # A reply to one of our messages (or to the reporter's own earlier one) continues that complaint.
    replied = (Reference(kind="message_id", value=message.replied_to),) if message.replied_to else ()
    draft = Draft(
        reporter=Reporter(identity=message.identity, phone=message.phone, user_id=message.sender, name=message.name),
        text=clean_text(message.text),
        conversation_key=message.identity,
        reply_to=ReplyRoute(channel=raw.channel, address=f"{message.platform}:{message.sender}",
                            sender=message.recipient, in_reply_to=message.id),
        references=replied,
        attachments=message.attachments,
        location=message.location,
        commands=True,
    )
    return build(raw, draft)
