"""WhatsApp Cloud API, Messenger and Instagram messages into the canonical record."""

from __future__ import annotations

from gateway.errors import IgnoredInput, UnsupportedEvent
from gateway.lifecycle.optout import command_of
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
from normalizers.meta_fields import MetaMessage, load, messaging, whatsapp
from normalizers.text import (
    clean_text,
    dedup_key,
    derive_title,
    detect_language,
    extract_markers,
    leading_tracking_reference,
)

MEDIA_ONLY_TITLE = "Laporan dengan lampiran"
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

    text = clean_text(message.text)
    if not message.attachments and message.location is None:
        if not text:
            return Ignored(reason="empty_message")
        command = command_of(text)
        if command is not None:
            # STOP/BERHENTI, MULAI, YA: the pipeline acts on them for this reporter (gateway/lifecycle/optout.py).
            return Ignored(reason=command, detail=text, identity=message.identity)
    tracking, text = leading_tracking_reference(text)
    markers = extract_markers(text)
    text = markers.text
    references: list[Reference] = [tracking] if tracking else []
    if message.replied_to:
        # A reply to one of our messages (or to the reporter's own earlier one) continues that complaint.
        references.append(Reference(kind="message_id", value=message.replied_to))
    record = Complaint(
        id=record_id(raw.channel, raw.external_id, raw.received_at),
        channel=raw.channel,
        received_at=raw.received_at,
        raw=RawRef(ids=(raw_id(raw.channel, raw.external_id),), sha256=(raw.sha256,)),
        reporter=Reporter(identity=message.identity, phone=message.phone, user_id=message.sender,
                          name=message.name),
        privacy=markers.privacy,
        title=derive_title(text, fallback=MEDIA_ONLY_TITLE),
        body=Body(text=text, language=detect_language(text)),
        location=message.location,
        attachments=message.attachments,
        dedup_key=dedup_key(message.identity, text),
        thread=Thread(conversation_key=message.identity, references=tuple(references)),
        reply_to=ReplyRoute(channel=raw.channel, address=f"{message.platform}:{message.sender}",
                            sender=message.recipient, in_reply_to=message.id),
    )
    if references:
        return FollowUp(references=tuple(references), record=record)
    return record
