"""Reporter commands: STOP/BERHENTI (and MULAI/START to resume) updates, YA to an escalation offer.

The one list of command words in the gateway: the SMS and Meta normalizers ask `command_of` and
turn a command into Ignored(reason), the pipeline acts on the reason (gateway/lifecycle/inbound.py).
Only a message that is the command alone counts (surrounding punctuation, letter case and a
`#<tracking id>` reference allowed): "stop pungli di kelurahan" is a complaint, not an opt-out.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal


class UpdatesKeyword(StrEnum):
    """What a keyword reply asks for."""

    STOP = "stop"
    START = "start"


Command = Literal["opt_out", "opt_in", "consent"]

# Upper-cased words (or phrases) a reporter sends alone. UNREG and STOP LAPOR are what Indonesian
# operators' premium-SMS services taught people to send; UNSUBSCRIBE/STOPALL/UNSTOP are the
# carriers' standard words (https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out).
STOP_WORDS = frozenset({"STOP", "BERHENTI", "UNREG", "STOP LAPOR", "UNSUBSCRIBE", "STOPALL"})
START_WORDS = frozenset({"MULAI", "START", "UNSTOP"})
CONSENT_WORDS = frozenset({"YA", "IYA", "SETUJU"})

_REFERENCE = re.compile(r"#[\w-]+")
_EDGE_PUNCTUATION = ".,!?;:\"'()[]*~_-"
_MAX_WORDS = 2


def _words(text: str) -> list[str]:
    words = [word.strip(_EDGE_PUNCTUATION) for word in _REFERENCE.sub(" ", text).split()]
    return [word.upper() for word in words if word]


def keyword_of(text: str) -> str | None:
    """The single upper-cased word a message consists of, ignoring a #reference and punctuation."""
    words = _words(text)
    return words[0] if len(words) == 1 else None


def _phrase(text: str) -> str | None:
    words = _words(text)
    return " ".join(words) if 0 < len(words) <= _MAX_WORDS else None


def updates_keyword(text: str) -> UpdatesKeyword | None:
    """STOP when the reporter asks for no more updates, START to resume them, else None."""
    phrase = _phrase(text)
    if phrase in STOP_WORDS:
        return UpdatesKeyword.STOP
    if phrase in START_WORDS:
        return UpdatesKeyword.START
    return None


def is_opt_out(text: str) -> bool:
    """Whether the message is a STOP or BERHENTI reply."""
    return updates_keyword(text) is UpdatesKeyword.STOP


def command_of(text: str) -> Command | None:
    """The command a whole message is (the Ignored reason a normalizer returns for it), else None."""
    keyword = updates_keyword(text)
    if keyword is UpdatesKeyword.STOP:
        return "opt_out"
    if keyword is UpdatesKeyword.START:
        return "opt_in"
    return "consent" if keyword_of(text) in CONSENT_WORDS else None
