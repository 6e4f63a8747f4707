"""Email (RFC 5322 bytes from the SMTP server or IMAP) into the canonical record.

Parsing uses `email.policy.default`; everything a hostile message can break in the stdlib is
read through the guarded helpers of normalizers.email_parse, so bad input ends as a
complaint with flags, an Ignored, or a QuarantinedInput, never as a crash.
"""

from __future__ import annotations

from email.message import EmailMessage, Message

from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Outcome, ReplyRoute, Reporter
from normalizers.draft import Draft, build
from normalizers.email_attachments import describe_attachments
from normalizers.email_body import select_body
from normalizers.email_machine import NO_REPLY, machine_outcome
from normalizers.email_parse import address, envelope_sender, header, message_ids, parse
from normalizers.email_quotes import trim_reply
from normalizers.email_threading import clean_subject, thread_references
from normalizers.text import clean_text, extract_markers

EVENTS = frozenset({"message"})
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
    subject_markers = extract_markers(subject)
    body = select_body(message)
    attachments = describe_attachments(message, body.parts)
    message_id = (message_ids(header(message, "Message-ID")) or (None,))[0]
    in_reply_to = message_ids(header(message, "In-Reply-To"))
    ancestry = message_ids(header(message, "References"))
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
    draft = Draft(
        reporter=reporter,
        # The SMS-style follow-up ("#1916449 jalan masih rusak") works by email too.
        text=clean_text(trim_reply(clean_text(body.text)))[:BODY_MAX],
        conversation_key=(ancestry or in_reply_to or (message_id,))[0],
        reply_to=ReplyRoute(
            channel=raw.channel, address=route, sender=_recipient(message, raw), in_reply_to=message_id
        ),
        header_references=thread_references(subject, in_reply_to, ancestry),
        attachments=attachments.items,
        flags=flags,
        subject=clean_subject(subject_markers.text),
        privacy=subject_markers.privacy,
        empty_without_words=True,
    )
    return build(raw, draft)
