"""What a WhatsApp, Messenger or Instagram message says, read from its webhook slice.

WhatsApp messages: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#messages-object
Messenger messages: https://developers.facebook.com/docs/messenger-platform/reference/webhook-events/messages
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.errors import IgnoredInput, QuarantinedInput, UnsupportedEvent
from gateway.records import Attachment, Location
from normalizers.phone import to_e164

Json = Mapping[str, object]
MEDIA_PREFIX = "meta-media:"
_WHATSAPP_MEDIA = ("image", "document", "audio", "video", "sticker")
# Known WhatsApp message types that are not complaints: kept in the archive as Ignored.
_WHATSAPP_IGNORED = {"reaction": "reaction", "system": "system_message", "unsupported": "unsupported_message_type",
                     "contacts": "contact_card", "order": "order", "request_welcome": "welcome_request"}
_MESSENGER_TYPES = {"image": "image/*", "video": "video/*", "audio": "audio/*", "file": "application/octet-stream"}


@dataclass(frozen=True, slots=True)
class MetaMessage:
    """The facts of one inbound message, whichever Meta product it came from."""

    platform: str
    id: str
    sender: str
    recipient: str | None
    text: str
    identity: str
    phone: str | None = None
    name: str | None = None
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    replied_to: str | None = None


def load(payload: bytes) -> Json:
    """The payload as a JSON object, or QuarantinedInput."""
    try:
        value = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise QuarantinedInput("malformed_json", detail=type(exc).__name__) from exc
    if not isinstance(value, dict):
        raise QuarantinedInput("malformed_json", detail="not an object")
    return value


def _obj(value: object) -> Json:
    return value if isinstance(value, dict) else {}


def _first(value: object, name: str) -> Json:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    raise QuarantinedInput("missing_field", detail=name)


def _str(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _location(latitude: object, longitude: object, text: str | None) -> Location | None:
    try:
        lat, lon = float(str(latitude)), float(str(longitude))
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return Location(text=text, latitude=lat, longitude=lon)


def whatsapp(body: Json) -> MetaMessage:
    """One WhatsApp Cloud API message (the channel keeps one per RawMessage)."""
    entry = _first(body.get("entry"), "entry")
    value = _obj(_first(entry.get("changes"), "entry.changes").get("value"))
    message = _first(value.get("messages"), "value.messages")
    wa_id = _str(message.get("from"))
    message_id = _str(message.get("id"))
    if wa_id is None or message_id is None:
        raise QuarantinedInput("missing_field", detail="messages[0].from/id")
    kind = str(message.get("type", ""))
    if kind in _WHATSAPP_IGNORED:
        raise IgnoredInput(_WHATSAPP_IGNORED[kind], detail=kind)
    contacts = value.get("contacts")
    contact = _obj(contacts[0]) if isinstance(contacts, list) and contacts else {}
    text = ""
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    part = _obj(message.get(kind))
    if kind == "text":
        text = str(part.get("body", ""))
    elif kind in _WHATSAPP_MEDIA:
        if not part.get("id"):
            raise QuarantinedInput("missing_field", detail=f"{kind}.id")
        text = str(part.get("caption", ""))
        media_type = str(part.get("mime_type") or "application/octet-stream").split(";")[0].strip()
        attachments = (Attachment(media_type=media_type, url=MEDIA_PREFIX + str(part["id"]),
                                  name=_str(part.get("filename"))),)
    elif kind == "location":
        label = " ".join(p for p in (_str(part.get("name")), _str(part.get("address"))) if p) or None
        location = _location(part.get("latitude"), part.get("longitude"), label)
        if location is None:
            raise QuarantinedInput("bad_location")
    elif kind == "interactive":
        reply = _obj(part.get("button_reply")) or _obj(part.get("list_reply"))
        text = " — ".join(p for p in (_str(reply.get("title")), _str(reply.get("description"))) if p)
    elif kind == "button":
        text = str(part.get("text") or part.get("payload") or "")
    else:
        raise UnsupportedEvent("unsupported_message_type", detail=kind or "missing type")
    phone = to_e164("+" + wa_id)
    return MetaMessage(
        platform="whatsapp",
        id=message_id,
        sender=wa_id,
        recipient=_str(_obj(value.get("metadata")).get("phone_number_id")),
        text=text,
        identity=phone or f"whatsapp:{wa_id}",
        phone=phone,
        name=_str(_obj(contact.get("profile")).get("name")),
        attachments=attachments,
        location=location,
        replied_to=_str(_obj(message.get("context")).get("id")),
    )


def _messenger_attachment(item: Json) -> tuple[Attachment | None, Location | None]:
    kind = str(item.get("type", ""))
    payload = _obj(item.get("payload"))
    if kind == "location":
        coordinates = _obj(payload.get("coordinates"))
        return None, _location(coordinates.get("lat"), coordinates.get("long"), _str(item.get("title")))
    url = _str(payload.get("url"))
    if kind in _MESSENGER_TYPES and url:
        return Attachment(media_type=_MESSENGER_TYPES[kind], url=url), None
    return None, None


def messaging(body: Json, platform: str) -> MetaMessage:
    """One Messenger or Instagram messaging event (message or postback)."""
    entry = _first(body.get("entry"), "entry")
    event = _first(entry.get("messaging"), "entry.messaging")
    sender = _str(_obj(event.get("sender")).get("id"))
    if sender is None:
        raise QuarantinedInput("missing_field", detail="sender.id")
    message = _obj(event.get("message"))
    postback = _obj(event.get("postback"))
    if postback:
        text = str(postback.get("title") or postback.get("payload") or "")
        message_id = _str(postback.get("mid")) or f"postback:{event.get('timestamp')}"
    else:
        text = str(message.get("text", ""))
        message_id = _str(message.get("mid")) or ""
    attachments: list[Attachment] = []
    location = None
    items = message.get("attachments")
    for item in items if isinstance(items, list) else []:
        attachment, found = _messenger_attachment(_obj(item))
        if attachment is not None:
            attachments.append(attachment)
        location = location or found
    return MetaMessage(
        platform=platform,
        id=message_id,
        sender=sender,
        recipient=_str(_obj(event.get("recipient")).get("id")),
        text=text,
        identity=f"{platform}:{sender}",
        attachments=tuple(attachments),
        location=location,
        replied_to=_str(_obj(message.get("reply_to")).get("mid")),
    )
