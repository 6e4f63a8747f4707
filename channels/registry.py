"""The explicit table of channels: a new channel is one line here."""

from __future__ import annotations

from channels.base import Channel
from channels.email import EmailChannel
from channels.imap import ImapChannel
from channels.jasmin import JasminChannel
from channels.kannel import KannelChannel
from channels.meta import MetaChannel
from channels.smssync import SmsSyncChannel
from channels.telegram import TelegramChannel
from channels.twilio import TwilioChannel
from channels.x import XChannel

CHANNELS: dict[str, type[Channel]] = {
    TwilioChannel.name: TwilioChannel,
    KannelChannel.name: KannelChannel,
    JasminChannel.name: JasminChannel,
    SmsSyncChannel.name: SmsSyncChannel,
    XChannel.name: XChannel,
    MetaChannel.name: MetaChannel,
    TelegramChannel.name: TelegramChannel,
    EmailChannel.name: EmailChannel,
    ImapChannel.name: ImapChannel,
}
