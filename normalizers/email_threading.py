"""Email threading: the `[LAPOR #id]` subject tag, our acknowledgement Message-IDs, reply prefixes."""

from __future__ import annotations

import re

from gateway.records import Reference

# Message-IDs of our acknowledgements start with this, so a reply (In-Reply-To/References) or
# a bounce that quotes one can be recognised without the database; the pipeline then matches
# the full id against the provider_id it stored for the reply.
ACK_ID_PREFIX = "lapor-ack."
MAX_REFERENCES = 20  # References of a long thread can list hundreds of ids

_TAG = re.compile(r"\[\s*LAPOR\s*#\s*([A-Za-z0-9][A-Za-z0-9-]{2,39})\s*\]", re.IGNORECASE)
# Reply and forward prefixes of English, Indonesian, German, French, Dutch and Outlook clients.
_PREFIX = re.compile(
    r"^\s*((re|fw|fwd|aw|wg|tr|sv|vs|balas|bls|rv|antw|ref)\s*(\[\d+\])?\s*:\s*)+",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")


def subject_tag(subject: str) -> str | None:
    """The tracking ID of a `[LAPOR #<id>]` tag in a subject, or None."""
    match = _TAG.search(subject)
    return match.group(1) if match else None


def clean_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and without our tag."""
    text = _PREFIX.sub("", subject)
    text = _TAG.sub(" ", text)
    text = _PREFIX.sub("", text)
    return _SPACES.sub(" ", text).strip(" -:")


def is_ack_id(message_id: str) -> bool:
    """Whether a `<...>` Message-ID is one the gateway generated for an acknowledgement."""
    return message_id.strip("<>").lower().startswith(ACK_ID_PREFIX)


def thread_references(subject: str, in_reply_to: tuple[str, ...], references: tuple[str, ...]) -> tuple[Reference, ...]:
    """References a reply carries, strongest first: the subject tag, our acknowledgements it
    answers, then its other parents nearest first (a reporter replying to their own first mail).

    The pipeline resolves them; a Message-ID threads only when the reply's subject matches
    (`subject_matches`) the one of the complaint it points to (gateway/pipeline.py `_same_subject`),
    so that an old thread reused for a new problem becomes a new complaint; the tag needs no check.
    """
    found: list[Reference] = []
    tag = subject_tag(subject)
    if tag is not None:
        found.append(Reference(kind="tracking_id", value=tag))
    parents = list(dict.fromkeys((*in_reply_to, *reversed(references))))[:MAX_REFERENCES]
    ours = [message_id for message_id in parents if is_ack_id(message_id)]
    others = [message_id for message_id in parents if not is_ack_id(message_id)]
    found += [Reference(kind="message_id", value=message_id) for message_id in (*ours, *others)]
    return tuple(dict.fromkeys(found))


def subject_matches(reply_subject: str, original_subject: str) -> bool:
    """Whether a reply's subject is still about the original (prefixes and our tag ignored)."""
    reply = clean_subject(reply_subject).casefold()
    original = clean_subject(original_subject).casefold()
    return bool(reply) and bool(original) and (reply == original or original in reply or reply in original)
