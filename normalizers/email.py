"""Email (RFC 5322 bytes from the SMTP server or IMAP) into the canonical record.

Parsing uses `email.policy.default`; everything a hostile message can break in the stdlib is
read through the guarded helpers of normalizers.email_parse, so bad input ends as a
complaint with flags, an Ignored, or a QuarantinedInput, never as a crash.
"""

from __future__ import annotations

from email.message import EmailMessage, Message

from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import (
    Body,
    Complaint,
    FollowUp,
    Ignored,
    Outcome,
    Privacy,
    RawRef,
    ReplyRoute,
    Reporter,
    Thread,
    raw_id,
    record_id,
)
from normalizers.email_attachments import describe_attachments
from normalizers.email_body import select_body
from normalizers.email_machine import NO_REPLY, machine_outcome
from normalizers.email_parse import address, envelope_sender, header, message_ids, parse
from normalizers.email_quotes import trim_reply
from normalizers.email_threading import clean_subject, thread_references
from normalizers.text import (
    clean_text,
    dedup_key,
    derive_title,
    detect_language,
    extract_markers,
    leading_tracking_reference,
)

EVENTS = frozenset({"message"})
ATTACHMENT_ONLY_TITLE = "Laporan dengan lampiran"
BODY_MAX = 100_000  # characters of body text kept in the record; the raw keeps everything


def normalize(raw: RawMessage) -> Outcome:
    """One email to a complaint, a follow-up, or an Ignored (machines, empty mail)."""
    if raw.event not in EVENTS:
        raise UnsupportedEvent("unsupported_event", detail=raw.event)
    if not raw.payload.strip():
        raise QuarantinedInput("empty_payload")
    message = parse(raw.payload)
    machine = machine_outcome(message, raw.meta)
    if machine is not None:
        return machine
    return _complaint(raw, message)


def _reporter(message: EmailMessage, raw: RawMessage) -> tuple[Reporter, str, tuple[str, ...]]:
    """The reporter, the address replies go to, and flags about how they were found."""
    sender = address(message, "From") or address(message, "Sender")
    flags: tuple[str, ...] = ()
    reply_to = address(message, "Reply-To")
    if sender is not None and reply_to is not None and sender[1].split("@")[0].startswith(NO_REPLY):
        # Web forms send as no-reply@ with the citizen in Reply-To.
        sender, flags = reply_to, ("reporter_from_reply_to",)
    if sender is None:
        envelope = envelope_sender(raw.meta.get("mail_from", ""))
        if "@" not in envelope:
            raise QuarantinedInput("missing_sender")
        sender, flags = ("", envelope), ("reporter_from_envelope",)
    name, email_address = sender
    reporter = Reporter(identity=email_address, email=email_address, name=clean_text(name)[:200] or None)
    route = reply_to[1] if reply_to is not None else email_address
    return reporter, route, flags


def _recipient(message: Message, raw: RawMessage) -> str | None:
    rcpt = raw.meta.get("rcpt_tos", "").split(",")[0].strip().lower()
    if "@" in rcpt:
        return rcpt
    to = address(message, "To")
    return to[1] if to else None


def _complaint(raw: RawMessage, message: EmailMessage) -> Outcome:
    reporter, route, flags = _reporter(message, raw)
    subject = clean_text(header(message, "Subject"))
    body = select_body(message)
    text = clean_text(trim_reply(clean_text(body.text)))[:BODY_MAX]
    # The SMS-style follow-up ("#1916449 jalan masih rusak") works by email too.
    leading, text = leading_tracking_reference(text)
    markers = extract_markers(text)
    subject_markers = extract_markers(subject)
    privacy = Privacy(
        anonim=markers.privacy.anonim or subject_markers.privacy.anonim,
        rahasia=markers.privacy.rahasia or subject_markers.privacy.rahasia,
    )
    text = markers.text
    title = clean_subject(subject_markers.text)
    attachments = describe_attachments(message, body.parts)
    if not text and not title and not attachments.items:
        return Ignored(reason="empty_message")
    if not text:
        text = title
    message_id = (message_ids(header(message, "Message-ID")) or (None,))[0]
    in_reply_to = message_ids(header(message, "In-Reply-To"))
    ancestry = message_ids(header(message, "References"))
    references = thread_references(subject, in_reply_to, ancestry)
    if leading is not None and leading not in references:
        references = (*references, leading)
    root = (ancestry or in_reply_to or (message_id,))[0]
    flags += tuple(
        flag
        for flag, on in (
            ("html_only", body.html_only),
            ("charset_fallback", body.charset_fallback),
            ("mime_defects", bool(message.defects)),
            ("attachments_over_cap", attachments.over_cap),
            ("attachments_truncated", attachments.truncated),
        )
        if on
    )
    record = Complaint(
        id=record_id(raw.channel, raw.external_id, raw.received_at),
        channel=raw.channel,
        received_at=raw.received_at,
        raw=RawRef(ids=(raw_id(raw.channel, raw.external_id),), sha256=(raw.sha256,)),
        reporter=reporter,
        privacy=privacy,
        title=derive_title(title or text, fallback=ATTACHMENT_ONLY_TITLE),
        body=Body(text=text, language=detect_language(text)),
        attachments=attachments.items,
        dedup_key=dedup_key(reporter.identity, title, text),
        thread=Thread(conversation_key=root, references=references),
        reply_to=ReplyRoute(
            channel=raw.channel, address=route, sender=_recipient(message, raw), in_reply_to=message_id
        ),
        flags=flags,
    )
    if references:
        return FollowUp(references=references, record=record)
    return record
