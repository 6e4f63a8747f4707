"""The steps every normalizer shares once its channel's format is parsed: from a Draft to the record.

A channel normalizer reads its transport format into a Draft (who wrote, what text, where a
reply goes, which earlier messages it answers); `build` then applies the same rules to every
channel: empty messages and reporter commands are Ignored, a leading `#<tracking id>` and the
`#anonim`/`#rahasia` markers are taken out of the text, and a message with references becomes
a FollowUp.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.lifecycle.optout import command_of
from gateway.messages import RawMessage
from gateway.records import (
    Attachment,
    Body,
    Complaint,
    FollowUp,
    Ignored,
    Location,
    Outcome,
    Privacy,
    RawRef,
    Reference,
    ReplyRoute,
    Reporter,
    Thread,
    raw_id,
    record_id,
)
from normalizers.text import dedup_key, derive_title, detect_language, extract_markers, leading_tracking_reference

MEDIA_ONLY_TITLE = "Laporan dengan lampiran"


@dataclass(frozen=True, slots=True)
class Draft:
    """What a channel read from its format, before the shared rules make it a record.

    `text` is cleaned but still holds a leading `#<tracking id>` and the privacy markers.
    References are kept strongest first: `header_references` outrank a typed `#<tracking id>`
    (an email's subject tag and In-Reply-To chain), `references` follow it (the message a chat
    reply answers).
    """

    reporter: Reporter
    text: str
    conversation_key: str | None
    reply_to: ReplyRoute
    references: tuple[Reference, ...] = ()
    header_references: tuple[Reference, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    flags: tuple[str, ...] = ()
    fallback_title: str = MEDIA_ONLY_TITLE
    # Reporter commands (STOP, MULAI, YA) sent alone are commands, not complaints (SMS, WhatsApp).
    commands: bool = False
    # Email: the subject (reply prefixes and markers already taken out) titles the complaint, stands
    # in for an empty body and is part of the duplicate key; None where the channel has no subject.
    subject: str | None = None
    # Privacy markers found outside the text (an email subject's).
    privacy: Privacy = field(default_factory=Privacy)
    # Email: a body of nothing but markers and a #reference, with no subject or attachment, is empty.
    empty_without_words: bool = False


def _ignored(draft: Draft) -> Ignored | None:
    """Empty messages, and a reporter command sent alone, are not complaints."""
    if draft.attachments or draft.location is not None:
        return None
    if not draft.text and not draft.subject:
        return Ignored(reason="empty_message")
    command = command_of(draft.text) if draft.commands else None
    if command is not None:
        # The whole text is kept: "YA #1234" consents to that complaint only.
        return Ignored(reason=command, detail=draft.text, identity=draft.reporter.identity)
    return None


def _references(draft: Draft, tracking: Reference | None) -> tuple[Reference, ...]:
    typed = (tracking,) if tracking is not None and tracking not in draft.header_references else ()
    return (*draft.header_references, *typed, *draft.references)


def build(raw: RawMessage, draft: Draft) -> Outcome:
    """The complaint (or follow-up, or Ignored) a drafted message is, under the rules every channel shares."""
    ignored = _ignored(draft)
    if ignored is not None:
        return ignored
    tracking, text = leading_tracking_reference(draft.text)
    markers = extract_markers(text)
    text = markers.text
    subject = draft.subject or ""
    if draft.empty_without_words and not text and not subject and not draft.attachments:
        return Ignored(reason="empty_message")
    text = text or subject
    identity = draft.reporter.identity
    references = _references(draft, tracking)
    key_parts = (identity, text) if draft.subject is None else (identity, draft.subject, text)
    record = Complaint(
        id=record_id(raw.channel, raw.external_id, raw.received_at),
        channel=raw.channel,
        received_at=raw.received_at,
        raw=RawRef(ids=(raw_id(raw.channel, raw.external_id),), sha256=(raw.sha256,)),
        reporter=draft.reporter,
        privacy=Privacy(
            anonim=markers.privacy.anonim or draft.privacy.anonim,
            rahasia=markers.privacy.rahasia or draft.privacy.rahasia,
        ),
        title=derive_title(subject or text, fallback=draft.fallback_title),
        body=Body(text=text, language=detect_language(text)),
        location=draft.location,
        attachments=draft.attachments,
        dedup_key=dedup_key(*key_parts),
        thread=Thread(conversation_key=draft.conversation_key, references=references),
        reply_to=draft.reply_to,
        flags=draft.flags,
    )
    if references:
        return FollowUp(references=references, record=record)
    return record
