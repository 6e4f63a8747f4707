"""The explicit table of channels: a new channel is one line here."""

from __future__ import annotations

from channels.base import Channel
from channels.jasmin import JasminChannel
from channels.kannel import KannelChannel
from channels.smssync import SmsSyncChannel
from channels.twilio import TwilioChannel

CHANNELS: dict[str, type[Channel]] = {
    TwilioChannel.name: TwilioChannel,
    KannelChannel.name: KannelChannel,
    JasminChannel.name: JasminChannel,
    SmsSyncChannel.name: SmsSyncChannel,
}
