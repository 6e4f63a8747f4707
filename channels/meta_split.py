"""One Meta webhook delivery split into one RawMessage per message and per delivery status.

WhatsApp: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
Messenger and Instagram: https://developers.facebook.com/docs/messenger-platform/webhooks
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from channels.signed_webhook import JsonObject, body_digest, dump
from gateway.messages import RawMessage

CHANNEL = "meta"
_MESSAGING_OBJECTS = {"page": "messenger", "instagram": "instagram"}


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """A provider status for one of our own messages."""

    provider_id: str
    status: str
    detail: str = ""


@dataclass
class Split:
    """What one delivery holds: raw messages to store and statuses to record."""

    raws: list[RawMessage] = field(default_factory=list)
    statuses: list[DeliveryStatus] = field(default_factory=list)


def _obj(value: object) -> JsonObject:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[JsonObject]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


class _Splitter:
    def __init__(self, obj: str, received_at: datetime, meta: Mapping[str, str]) -> None:
        self.obj = obj
        self.received_at = received_at
        self.meta = meta
        self.result = Split()

    def add(self, event: str, external_id: str, payload: object) -> None:
        meta = {**self.meta, "object": self.obj}
        raw = RawMessage(CHANNEL, event, external_id, self.received_at, dump(payload), meta)
        self.result.raws.append(raw)

    def unknown(self, payload: object) -> None:
        self.add("unknown", "sha256:" + body_digest(dump(payload)), payload)

    def whatsapp_change(self, entry: JsonObject, change: JsonObject) -> None:
        value = _obj(change.get("value"))
        if change.get("field") != "messages":
            self.unknown({"object": self.obj, "entry": [{"id": entry.get("id"), "changes": [change]}]})
            return
        envelope = {k: v for k, v in value.items() if k not in ("messages", "statuses", "contacts")}
        contacts = _list(value.get("contacts"))
        for message in _list(value.get("messages")):
            sender = message.get("from")
            own = [c for c in contacts if c.get("wa_id") == sender] or contacts[:1]
            sliced = {**envelope, "contacts": own, "messages": [message]}
            payload = {"object": self.obj, "entry": [{"id": entry.get("id"), "changes": [
                {"field": "messages", "value": sliced}]}]}
            if message.get("id"):
                self.add("whatsapp_message", str(message["id"]), payload)
            else:
                self.unknown(payload)
        for status in _list(value.get("statuses")):
            payload = {"object": self.obj, "entry": [{"id": entry.get("id"), "changes": [
                {"field": "messages", "value": {**envelope, "statuses": [status]}}]}]}
            provider_id, state = str(status.get("id", "")), str(status.get("status", ""))
            self.add("status", f"status:{provider_id}:{state}", payload)
            if provider_id and state:
                codes = ",".join(str(e.get("code")) for e in _list(status.get("errors")))
                self.result.statuses.append(DeliveryStatus(provider_id, state, codes))
        if not value.get("messages") and not value.get("statuses"):
            self.unknown({"object": self.obj, "entry": [{"id": entry.get("id"), "changes": [change]}]})

    def messaging_event(self, entry: JsonObject, event: JsonObject) -> None:
        payload = {"object": self.obj, "entry": [{"id": entry.get("id"), "time": entry.get("time"),
                                                   "messaging": [event]}]}
        message = _obj(event.get("message"))
        postback = _obj(event.get("postback"))
        delivery = _obj(event.get("delivery"))
        platform = _MESSAGING_OBJECTS[self.obj]
        if message.get("mid"):
            echo = bool(message.get("is_echo"))
            self.add("echo" if echo else f"{platform}_message", str(message["mid"]), payload)
        elif postback:
            self.add("postback", str(postback.get("mid") or "sha256:" + body_digest(dump(payload))), payload)
        elif delivery or "read" in event:
            self.add("status", "status:sha256:" + body_digest(dump(payload)), payload)
            mids = delivery.get("mids")
            for mid in mids if isinstance(mids, list) else []:
                self.result.statuses.append(DeliveryStatus(str(mid), "delivered"))
        else:
            self.unknown(payload)


def split_delivery(
    body: JsonObject, *, raw_body: bytes, received_at: datetime, meta: Mapping[str, str]
) -> Split:
    """Each message of each entry is its own RawMessage (external id: wamid or mid)."""
    obj = str(body.get("object", ""))
    splitter = _Splitter(obj, received_at, meta)
    entries = _list(body.get("entry"))
    if obj == "whatsapp_business_account":
        for entry in entries:
            for change in _list(entry.get("changes")):
                splitter.whatsapp_change(entry, change)
    elif obj in _MESSAGING_OBJECTS:
        for entry in entries:
            for event in _list(entry.get("messaging")):
                splitter.messaging_event(entry, event)
            if not entry.get("messaging"):
                splitter.unknown({"object": obj, "entry": [entry]})
    if not splitter.result.raws:
        splitter.add("unknown", "sha256:" + body_digest(raw_body), body)
    return splitter.result
