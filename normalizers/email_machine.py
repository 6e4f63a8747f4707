"""Mail written by machines: auto-replies, bounces, abuse reports, read receipts. Never acknowledged.

Answering any of these is how mail loops start (RFC 3834 §2, RFC 5321 §4.5.5), so each
becomes an explicit Ignored with its reason, kept in the archive.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.message import EmailMessage

from gateway.records import Ignored
from normalizers.email_bounce import bounce_outcome
from normalizers.email_parse import address, content_param, envelope_sender, header, walk

# Out-of-office subjects as Outlook, Gmail, Exchange, Lotus Notes and Indonesian clients write
# them; anchored at the start so "jalan rusak di luar kantor camat" stays a complaint.
_OUT_OF_OFFICE = re.compile(
    r"^\s*(automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|out of (the )?office|"
    r"ooo\b|away from (the )?office|vacation reply|on vacation|auto\s*:|"
    r"balasan otomatis|balas otomatis|jawaban otomatis|sedang cuti|sedang tidak di kantor|"
    r"di luar kantor\s*:|tidak di kantor\s*:)",
    re.IGNORECASE,
)
# Subjects of non-standard bounces (Exchange, qmail, Exim, Postfix, Gmail, Lotus, Indonesian).
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliverable\b|undelivered mail|undeliverable mail|delivery status notification|"
    r"mail delivery failed|delivery failure|delivery notification: delivery has failed|"
    r"returned mail\b|failure notice\b|mail system error|nondeliverable|non-delivery|"
    r"warning: could not send|message not delivered|pesan tidak terkirim|gagal terkirim)",
    re.IGNORECASE,
)
# postmaster is left out: it is also a human role; its bounces match the subject rules.
_DAEMONS = ("mailer-daemon", "mailer_daemon", "mail-daemon")
# Values of X-Auto-Response-Suppress that automated senders set; DR/NDR/RN/NRN alone only ask
# not to get receipts. https://learn.microsoft.com/openspecs/exchange_server_protocols/ms-oxcmail
# RFC 3834 §2: list software and its request/owner addresses are never answered.
_LIST_ROBOTS = frozenset({"listserv", "majordomo", "mailman", "sympa", "lyris", "ezmlm"})
_LIST_SUFFIXES = ("-request", "-owner", "-bounces", "-admin")
# Senders that say outright that nobody reads replies; a web form's citizen is in Reply-To.
NO_REPLY = ("noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply")
_SUPPRESS = frozenset({"all", "oof", "autoreply"})
_BULK = frozenset({"bulk", "list", "junk"})


def machine_outcome(message: EmailMessage, meta: Mapping[str, str]) -> Ignored | None:
    """An Ignored when the message was written by a machine, otherwise None."""
    report = _report(message)
    if report is not None:
        return report
    subject = header(message, "Subject")
    sender = address(message, "From")
    local = sender[1].split("@", 1)[0] if sender else ""
    if (
        local.startswith(_DAEMONS)
        or header(message, "X-Failed-Recipients")
        or _BOUNCE_SUBJECT.match(subject)
    ):
        return bounce_outcome(message, standard=False)
    auto = _auto_reply(message, subject)
    if auto is not None:
        return auto
    if _is_list_robot(local):
        return Ignored(reason="list_mail", detail=local[:64])
    if local.startswith(NO_REPLY) and address(message, "Reply-To") is None:
        return Ignored(reason="no_reply_sender")
    if _null_return_path(message, meta):
        return Ignored(reason="null_return_path")
    return None


def _report(message: EmailMessage) -> Ignored | None:
    """multipart/report (RFC 6522) by its report-type, and stray report parts elsewhere."""
    if message.get_content_type() == "multipart/report":
        kind = content_param(message, "report-type").lower()
    else:
        kind = ""
    if not kind:
        kind = _report_part_kind(message)
    if kind == "delivery-status":
        return bounce_outcome(message, standard=True)
    if kind == "feedback-report":
        return Ignored(reason="abuse_report")
    if kind == "disposition-notification":
        return Ignored(reason="read_receipt")
    if message.get_content_type() == "multipart/report":
        return Ignored(reason="automated_report", detail=kind[:64])
    return None


def _report_part_kind(message: EmailMessage) -> str:
    for part in walk(message):
        subtype = part.get_content_type()
        if subtype in ("message/delivery-status", "message/global-delivery-status"):
            return "delivery-status"
        if subtype == "message/feedback-report":
            return "feedback-report"
        if subtype in ("message/disposition-notification", "message/global-disposition-notification"):
            return "disposition-notification"
    return ""


def _auto_reply(message: EmailMessage, subject: str) -> Ignored | None:
    # RFC 3834 §5: anything but "no" means the message was generated automatically.
    submitted = header(message, "Auto-Submitted").lower()
    if submitted and not submitted.startswith("no"):
        return Ignored(reason="auto_reply", detail=f"Auto-Submitted: {submitted[:64]}")
    for name in ("X-Autoreply", "X-Autorespond", "X-Autorespons"):
        if header(message, name):
            return Ignored(reason="auto_reply", detail=name)
    suppress = {v.strip().lower() for v in header(message, "X-Auto-Response-Suppress").split(",")}
    if suppress & _SUPPRESS:
        return Ignored(reason="auto_reply", detail="X-Auto-Response-Suppress")
    precedence = header(message, "Precedence").lower()
    if precedence in _BULK:
        return Ignored(reason="bulk_mail", detail=f"Precedence: {precedence}")
    if precedence == "auto_reply":
        return Ignored(reason="auto_reply", detail="Precedence: auto_reply")
    if _OUT_OF_OFFICE.match(subject):
        return Ignored(reason="auto_reply", detail="out-of-office subject")
    return None


def _null_return_path(message: EmailMessage, meta: Mapping[str, str]) -> bool:
    """Return-Path: <> (as the delivering server recorded it) or an empty envelope MAIL FROM."""
    if "mail_from" in meta and not envelope_sender(meta["mail_from"]):
        return True
    return_path = header(message, "Return-Path")
    return bool(return_path) and not envelope_sender(return_path)


def _is_list_robot(local: str) -> bool:
    return local in _LIST_ROBOTS or local.startswith("owner-") or local.endswith(_LIST_SUFFIXES)
