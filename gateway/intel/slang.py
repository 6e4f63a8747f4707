"""The matching lexicon: indo-normalizer's slang list under the gateway's own domain abbreviations."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

# Slang keys never applied: each would change what a complaint says. Short keys are dropped wholesale
# (see `_usable`); these are the longer ones whose target is a different word, or ambiguous in a
# complaint ("ngapain" -> "mengapai", "lau" -> "kau" where "lau" is usually a typo of "laut").
DROPPED_SLANG: frozenset[str] = frozenset({
    "ngapain", "yoo", "iaa", "nie", "thu", "lau", "tay", "tai", "tah", "kha", "dpt", "cpa", "atu", "usa",
    "nda", "tar", "uda", "ema", "aer",
})

# Keys this short are too ambiguous to map ("u" is "untuk" or "lu", "pa" is "pak" in Sundanese, "cd" ...).
_MIN_SLANG_KEY = 3


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Token -> formal replacement, with the vocabulary used to undo letter elongation."""

    replacements: Mapping[str, str]
    vocabulary: frozenset[str]
    domain: frozenset[str]


def _rows(name: str) -> list[tuple[str, str]]:
    text = resources.files("gateway.intel").joinpath("data", name).read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text))
    next(reader)
    return [(row[0].strip().lower(), row[1].strip().lower()) for row in reader if len(row) >= 2 and row[0]]


def _usable(key: str) -> bool:
    return len(key) >= _MIN_SLANG_KEY and key.isalpha() and key not in DROPPED_SLANG


def slang_entries() -> dict[str, str]:
    """The shipped slang list after dropping ambiguous keys; the first entry of a duplicated key wins."""
    entries: dict[str, str] = {}
    for key, formal in _rows("slangs.csv"):
        if _usable(key) and key not in entries:
            entries[key] = formal
    return entries


def domain_entries() -> dict[str, str]:
    """The gateway's domain and SMS abbreviations (kel, kec, jl, pju, pdam, yg, tdk, ...)."""
    return dict(_rows("abbreviations.csv"))


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The merged lexicon, built once per process: domain abbreviations win over slang."""
    slang = slang_entries()
    domain = domain_entries()
    merged = {**slang, **domain}
    vocabulary = set(merged)
    for value in merged.values():
        vocabulary.update(value.split())
    return Lexicon(replacements=merged, vocabulary=frozenset(vocabulary), domain=frozenset(domain))
