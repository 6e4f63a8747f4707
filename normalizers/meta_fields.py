"""What a WhatsApp, Messenger or Instagram message says, read from its webhook slice.

WhatsApp messages: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#messages-object
Messenger messages: https://developers.facebook.com/docs/messenger-platform/reference/webhook-events/messages
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import IgnoredInput, QuarantinedInput, UnsupportedEvent
from gateway.records import Attachment, Location
from normalizers.json_fields import Json, obj, text_or_none
from normalizers.phone import to_e164

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


def _first(value: object, name: str) -> Json:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    raise QuarantinedInput("missing_field", detail=name)


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
    value = obj(_first(entry.get("changes"), "entry.changes").get("value"))
    message = _first(value.get("messages"), "value.messages")
    wa_id = text_or_none(message.get("from"))
    message_id = text_or_none(message.get("id"))
    if wa_id is None or message_id is None:
        raise QuarantinedInput("missing_field", detail="messages[0].from/id")
    kind = str(message.get("type", ""))
    if kind in _WHATSAPP_IGNORED:
        raise IgnoredInput(_WHATSAPP_IGNORED[kind], detail=kind)
    contacts = value.get("contacts")
    contact = obj(contacts[0]) if isinstance(contacts, list) and contacts else {}
    text = ""
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    part = obj(message.get(kind))
    if kind == "text":
        text = str(part.get("body", ""))
    elif kind in _WHATSAPP_MEDIA:
        if not part.get("id"):
            raise QuarantinedInput("missing_field", detail=f"{kind}.id")
        text = str(part.get("caption", ""))
        media_type = str(part.get("mime_type") or "application/octet-stream").split(";")[0].strip()
        attachments = (Attachment(media_type=media_type, url=MEDIA_PREFIX + str(part["id"]),
                                  name=text_or_none(part.get("filename"))),)
    elif kind == "location":
        label = " ".join(p for p in (text_or_none(part.get("name")), text_or_none(part.get("address"))) if p) or None
        location = _location(part.get("latitude"), part.get("longitude"), label)
        if location is None:
            raise QuarantinedInput("bad_location")
    elif kind == "interactive":
        reply = obj(part.get("button_reply")) or obj(part.get("list_reply"))
        text = " — ".join(p for p in (text_or_none(reply.get("title")), text_or_none(reply.get("description"))) if p)
    elif kind == "button":
        text = str(part.get("text") or part.get("payload") or "")
    else:
        raise UnsupportedEvent("unsupported_message_type", detail=kind or "missing type")
    phone = to_e164("+" + wa_id)
    return MetaMessage(
        platform="whatsapp",
        id=message_id,
        sender=wa_id,
        recipient=text_or_none(obj(value.get("metadata")).get("phone_number_id")),
        text=text,
        identity=phone or f"whatsapp:{wa_id}",
        phone=phone,
        name=text_or_none(obj(contact.get("profile")).get("name")),
        attachments=attachments,
        location=location,
        replied_to=text_or_none(obj(message.get("context")).get("id")),
    )


def _messenger_attachment(item: Json) -> tuple[Attachment | None, Location | None]:
    kind = str(item.get("type", ""))
    payload = obj(item.get("payload"))
    if kind == "location":
        coordinates = obj(payload.get("coordinates"))
        return None, _location(coordinates.get("lat"), coordinates.get("long"), text_or_none(item.get("title")))
    url = text_or_none(payload.get("url"))
    if kind in _MESSENGER_TYPES and url:
        return Attachment(media_type=_MESSENGER_TYPES[kind], url=url), None
    return None, None


def messaging(body: Json, platform: str) -> MetaMessage:
    """One Messenger or Instagram messaging event (message or postback)."""
    entry = _first(body.get("entry"), "entry")
    event = _first(entry.get("messaging"), "entry.messaging")
    sender = text_or_none(obj(event.get("sender")).get("id"))
    if sender is None:
        raise QuarantinedInput("missing_field", detail="sender.id")
    message = obj(event.get("message"))
    postback = obj(event.get("postback"))
    if postback:
        text = str(postback.get("title") or postback.get("payload") or "")
        message_id = text_or_none(postback.get("mid")) or f"postback:{event.get('timestamp')}"
    else:
        text = str(message.get("text", ""))
        message_id = text_or_none(message.get("mid")) or ""
    attachments: list[Attachment] = []
    location = None
    items = message.get("attachments")
    for item in items if isinstance(items, list) else []:
        attachment, found = _messenger_attachment(obj(item))
        if attachment is not None:
            attachments.append(attachment)
        location = location or found
    return MetaMessage(
        platform=platform,
        id=message_id,
        sender=sender,
        recipient=text_or_none(obj(event.get("recipient")).get("id")),
        text=text,
        identity=f"{platform}:{sender}",
        attachments=tuple(attachments),
        location=location,
        replied_to=text_or_none(obj(message.get("reply_to")).get("mid")),
    )
