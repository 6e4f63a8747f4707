"""STOP/BERHENTI (and MULAI/START to resume) replies that end or restart updates to a reporter.

Only a message that is the keyword alone counts (surrounding punctuation, letter case and a
`#<tracking id>` reference allowed): "stop pungli di kelurahan" is a complaint, not an opt-out.
"""

from __future__ import annotations

import re
from enum import StrEnum


class UpdatesKeyword(StrEnum):
    """What a keyword reply asks for."""

    STOP = "stop"
    START = "start"


_STOP_WORDS = frozenset({"STOP", "BERHENTI", "UNSUBSCRIBE", "STOPALL"})
_START_WORDS = frozenset({"MULAI", "START", "UNSTOP"})
_REFERENCE = re.compile(r"#[\w-]+")
_EDGE_PUNCTUATION = ".,!?;:\"'()[]*~_-"


def keyword_of(text: str) -> str | None:
    """The single upper-cased word a message consists of, ignoring a #reference and punctuation."""
    words = [word.strip(_EDGE_PUNCTUATION) for word in _REFERENCE.sub(" ", text).split()]
    words = [word for word in words if word]
    return words[0].upper() if len(words) == 1 else None


def updates_keyword(text: str) -> UpdatesKeyword | None:
    """STOP when the reporter asks for no more updates, START to resume them, else None."""
    word = keyword_of(text)
    if word in _STOP_WORDS:
        return UpdatesKeyword.STOP
    if word in _START_WORDS:
        return UpdatesKeyword.START
    return None


def is_opt_out(text: str) -> bool:
    """Whether the message is a STOP or BERHENTI reply."""
    return updates_keyword(text) is UpdatesKeyword.STOP
