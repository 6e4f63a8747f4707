"""Reporter replies that are commands, not complaints: STOP/BERHENTI, MULAI/START, and YA to an escalation offer.

The pipeline calls `handle_keyword` for each incoming text before it becomes a complaint or a
follow-up; a non-None answer means the message was a command and is kept as Ignored(reason).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from channels.base import OutgoingReply
from gateway.lifecycle import messages
from gateway.lifecycle.escalation import consent, consent_targets
from gateway.lifecycle.messages import UpdateKind
from gateway.lifecycle.optout import UpdatesKeyword, updates_keyword
from gateway.lifecycle.repository import ConsentRepository, OptOutRepository
from gateway.lifecycle.settings import LifecycleSettings


@dataclass(frozen=True, slots=True)
class KeywordOutcome:
    """What a command reply did: the Ignored reason to record, and how many complaints it touched."""

    reason: str
    complaints: int = 0


@dataclass(frozen=True, slots=True)
class InboundText:
    """An incoming message reduced to what command handling needs.

    `address` is the reporter's identity on the channel (the key of opt-outs and escalation offers);
    confirmations go to `reply_address` (e.g. Twilio's `whatsapp:+62...`) when it differs.
    """

    message_id: str
    channel: str
    address: str
    text: str
    received_at: datetime
    sender: str | None = None
    reply_address: str | None = None


def _reply(message: InboundText, kind: UpdateKind, text: str, *, tracking_id: str | None = None) -> OutgoingReply:
    seed = f"lifecycle-inbound\x00{message.channel}\x00{message.message_id}\x00{kind.value}\x00{tracking_id}"
    return OutgoingReply(
        id=hashlib.sha256(seed.encode()).hexdigest()[:32],
        channel=message.channel,
        address=message.reply_address or message.address,
        text=text,
        kind=kind.value,
        sender=message.sender,
        tracking_id=tracking_id,
    )


async def handle_keyword(
    message: InboundText,
    *,
    optouts: OptOutRepository,
    consents: ConsentRepository,
    settings: LifecycleSettings,
) -> tuple[KeywordOutcome, tuple[OutgoingReply, ...]] | None:
    """Apply a STOP/START/YA reply; None when the text is not a command (or YA with nothing to consent to).

    The returned replies (confirmations) are for the reply outbox; consent confirmations are
    already enqueued by `ConsentRepository.record_consent`, so they are not returned again.
    """
    keyword = updates_keyword(message.text)
    if keyword is UpdatesKeyword.STOP:
        await optouts.set_opt_out(message.channel, message.address, opted_out=True, at=message.received_at)
        return KeywordOutcome("opt_out"), (_reply(message, UpdateKind.OPTED_OUT, messages.opted_out()),)
    if keyword is UpdatesKeyword.START:
        await optouts.set_opt_out(message.channel, message.address, opted_out=False, at=message.received_at)
        return KeywordOutcome("opt_in"), (_reply(message, UpdateKind.OPTED_IN, messages.opted_in()),)
    offers = await consents.pending_offers(message.channel, message.address)
    chosen = consent_targets(message.text, offers, now=message.received_at, window_days=settings.consent_window_days)
    if not chosen:
        return None
    escalations = [consent(offer.escalation, message.received_at) for offer in chosen]
    confirmations = [
        _reply(
            message,
            UpdateKind.ESCALATION_CONFIRMED,
            messages.escalation_confirmed(offer.tracking_id or offer.escalation.complaint_id),
            tracking_id=offer.tracking_id,
        )
        for offer in chosen
    ]
    await consents.record_consent(escalations, confirmations)
    return KeywordOutcome("escalation_consent", complaints=len(escalations)), ()
