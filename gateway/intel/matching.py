"""Normalization for matching only: the stored text is never rewritten with this."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from gateway.intel.slang import Lexicon, lexicon

# Letters or digit runs; "rt05/rw03" becomes "rt 05 rw 03", punctuation separates tokens.
_TOKEN = re.compile(r"[^\W\d_]+|\d+")
_ELONGATED = re.compile(r"([^\W\d_])\1{2,}")


@dataclass(frozen=True, slots=True)
class MatchText:
    """A message prepared for matching: formal tokens and their joined form."""

    tokens: tuple[str, ...]
    text: str


def squeeze(token: str, vocabulary: frozenset[str]) -> str:
    """Undo letter elongation: "bangeeet" -> "banget", "maaaf" -> "maaf" (a known word keeps its double)."""
    if not _ELONGATED.search(token):
        return token
    single = _ELONGATED.sub(r"\1", token)
    if single in vocabulary:
        return single
    double = _ELONGATED.sub(r"\1\1", token)
    return double if double in vocabulary else single


def formal_tokens(text: str, lex: Lexicon | None = None) -> tuple[str, ...]:
    """NFKC, lower case, elongation squeezed, slang and abbreviations replaced by formal words."""
    lex = lex or lexicon()
    replacements = lex.replacements
    out: list[str] = []
    for raw in _TOKEN.findall(unicodedata.normalize("NFKC", text).lower()):
        word = replacements.get(raw)
        if word is None:
            squeezed = squeeze(raw, lex.vocabulary)
            word = replacements.get(squeezed, squeezed)
        out.extend(word.split(" ") if " " in word else (word,))
    return tuple(out)


def for_matching(text: str, lex: Lexicon | None = None) -> MatchText:
    """The message as matching sees it."""
    tokens = formal_tokens(text, lex)
    return MatchText(tokens=tokens, text=" ".join(tokens))
