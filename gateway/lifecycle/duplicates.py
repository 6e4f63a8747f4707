"""Cross-channel duplicates: the same person reporting the same thing again, by another channel, soon after.

Pure: the pipeline queries candidate earlier complaints (by `contact_keys` within the window) and
asks `find_duplicate`; a match makes the new complaint a duplicate of the earliest original,
sent to the registry as a follow-up of it instead of being filed twice.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import phonenumbers

from gateway.records import Complaint, Insight, Reporter, Thread

MatchedOn = Literal["same_identity", "contact_in_text"]

SHINGLE_WORDS = 2
# Below this many shingles in the shorter text, containment says little ("jalan rusak" is in
# many complaints): similarity falls back to Jaccard, which punishes the longer text's extra words.
MIN_CONTAINMENT_SHINGLES = 6

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_MARKERS = re.compile(r"#(?:anonim|rahasia)\b|#[\w-]+", re.IGNORECASE)
_URL = re.compile(r"https?://\S+")
_MENTION = re.compile(r"(?<![\w.])@\w+")
_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{7,}\d")
_NON_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True, slots=True)
class DuplicateMatch:
    """The complaint a new one duplicates, how similar the texts are, and why the reporters match."""

    parent_id: str
    similarity: float
    matched_on: MatchedOn


def phone_key(e164: str) -> str:
    """The lookup key of a phone number."""
    return f"tel:{e164}"


def email_key(address: str) -> str:
    """The lookup key of an email address."""
    return f"mailto:{address.strip().lower()}"


def reporter_keys(reporter: Reporter) -> frozenset[str]:
    """Keys that identify a reporter across channels: phone and email (and the channel identity)."""
    keys = {f"id:{reporter.identity}"}
    if reporter.phone:
        keys.add(phone_key(reporter.phone))
    if reporter.email:
        keys.add(email_key(reporter.email))
    return frozenset(keys)


def text_keys(text: str) -> frozenset[str]:
    """Phone numbers (as E.164, region ID) and email addresses written in a text, as lookup keys."""
    keys = {email_key(found) for found in _EMAIL.findall(text)}
    for match in phonenumbers.PhoneNumberMatcher(text, "ID"):
        keys.add(phone_key(phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)))
    return frozenset(keys)


def contact_keys(complaint: Complaint) -> frozenset[str]:
    """Every key to index a complaint under, so the pipeline can query candidates for a new one."""
    return reporter_keys(complaint.reporter) | text_keys(complaint.body.text)


def _words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).casefold()
    # Contacts and @mentions say who, not what: they are matched as identities, not as text.
    for pattern in (_URL, _EMAIL, _MENTION, _PHONE_LIKE, _MARKERS):
        text = pattern.sub(" ", text)
    return [word for word in _NON_WORD.sub(" ", text).split() if word]


def shingles(text: str, size: int = SHINGLE_WORDS) -> frozenset[tuple[str, ...]]:
    """Word n-grams of the normalised text (lower case; markers, URLs, contacts, mentions, punctuation removed)."""
    words = _words(text)
    if len(words) < size:
        return frozenset({tuple(words)}) if words else frozenset()
    return frozenset(tuple(words[i : i + size]) for i in range(len(words) - size + 1))


def similarity(first: str, second: str) -> float:
    """Near-identity of two texts in [0, 1]: containment of shingles, or Jaccard for short texts.

    Containment (shared shingles over the smaller set) lets an email that wraps the SMS text in a
    greeting and a signature still match it.
    """
    a, b = shingles(first), shingles(second)
    if not a or not b:
        return 0.0
    shared = len(a & b)
    smaller = min(len(a), len(b))
    if smaller >= MIN_CONTAINMENT_SHINGLES:
        return shared / smaller
    return shared / len(a | b)


def _matched_on(new: Complaint, earlier: Complaint) -> MatchedOn | None:
    mine, theirs = reporter_keys(new.reporter), reporter_keys(earlier.reporter)
    if mine & theirs:
        return "same_identity"
    if mine & text_keys(earlier.body.text) or theirs & text_keys(new.body.text):
        return "contact_in_text"
    return None


def _root(complaint: Complaint) -> str:
    thread = complaint.thread
    if thread.relation == "duplicate" and thread.parent_id:
        return thread.parent_id
    return complaint.id


def find_duplicate(
    new: Complaint, candidates: Sequence[Complaint], *, window: timedelta, threshold: float
) -> DuplicateMatch | None:
    """The earliest candidate the new complaint duplicates, or None.

    A candidate qualifies when it arrived before the new one and within `window`, its reporter is
    the same person (a shared phone or email, or one's contact written in the other's text), and
    the texts are near-identical (similarity at least `threshold`). A candidate that is itself a
    duplicate links the new one to its original.
    """
    best: tuple[Complaint, float, MatchedOn] | None = None
    for earlier in sorted(candidates, key=lambda c: (c.received_at, c.id)):
        if earlier.id == new.id or not (timedelta(0) <= new.received_at - earlier.received_at <= window):
            continue
        matched_on = _matched_on(new, earlier)
        if matched_on is None:
            continue
        score = similarity(new.body.text, earlier.body.text)
        if score >= threshold:
            best = (earlier, score, matched_on)
            break
    if best is None:
        return None
    earlier, score, matched_on = best
    return DuplicateMatch(parent_id=_root(earlier), similarity=round(score, 4), matched_on=matched_on)


def mark_duplicate(complaint: Complaint, match: DuplicateMatch) -> Complaint:
    """The complaint linked as a duplicate of `match.parent_id`, with the decision kept as an insight."""
    thread: Thread = complaint.thread.model_copy(update={"relation": "duplicate", "parent_id": match.parent_id})
    insight = Insight(
        kind="duplicate_of",
        value=match.parent_id,
        confidence=match.similarity,
        decided_by="rule",
        detail={"matched_on": match.matched_on},
    )
    kept = tuple(i for i in complaint.insights if i.kind != "duplicate_of")
    return complaint.model_copy(update={"thread": thread, "insights": (*kept, insight)})
