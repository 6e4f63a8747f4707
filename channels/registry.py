"""The explicit table of channels: a new channel is one line here."""

from __future__ import annotations

from channels.base import Channel
from channels.twilio import TwilioChannel

CHANNELS: dict[str, type[Channel]] = {
    TwilioChannel.name: TwilioChannel,
}
