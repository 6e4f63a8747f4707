"""A Telegram Update as a RawMessage: which event it is and its dedup key.

Update kinds: https://core.telegram.org/bots/api#update
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from channels.signed_webhook import JsonObject, body_digest
from gateway.messages import RawMessage

CHANNEL = "telegram"
# Known kinds; anything else is stored as "unknown" and quarantined by the normalizer.
KNOWN = ("message", "edited_message", "channel_post", "edited_channel_post", "my_chat_member")


def update_event(update: JsonObject) -> str:
    """The declared event an update is, or "unknown"."""
    return next((kind for kind in KNOWN if isinstance(update.get(kind), dict)), "unknown")


def update_external_id(update: JsonObject, event: str, payload: bytes) -> str:
    """`<chat id>:<message id>` for messages (what replies and our sent messages are keyed by), else the update id."""
    if event == "message":
        message = update["message"]
        assert isinstance(message, dict)
        chat = message.get("chat")
        if isinstance(chat, dict) and chat.get("id") is not None and message.get("message_id") is not None:
            return f"{chat['id']}:{message['message_id']}"
    if isinstance(update.get("update_id"), int):
        return f"update:{update['update_id']}"
    return "sha256:" + body_digest(payload)


def update_raw(update: JsonObject, payload: bytes, received_at: datetime, meta: Mapping[str, str]) -> RawMessage:
    """The RawMessage for one update; `payload` is the update's bytes as received."""
    event = update_event(update)
    return RawMessage(CHANNEL, event, update_external_id(update, event, payload), received_at, payload, meta)
