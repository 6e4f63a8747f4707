"""The per-deployment routing rules file (config/routing.yaml): agencies, ordered keyword rules, fallback."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.errors import ConfigurationError
from gateway.intel.matching import MatchText, for_matching


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Agency(_Model):
    """An agency complaints can be routed to, with its id at the registry."""

    id: str
    name: str
    registry_id: str


class Rule(_Model):
    """Keywords (and optionally categories and region code prefixes) that send a complaint to an agency."""

    name: str
    agency: str
    category: str | None = None
    keywords: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    min_hits: int = Field(default=1, ge=1)
    confidence: float = Field(default=0.8, gt=0.0, le=1.0)


class RoutingFile(_Model):
    """The whole rules file."""

    version: Literal[1] = 1
    jurisdiction: str | None = None
    fallback: Literal["registry_triage"] = "registry_triage"
    agencies: tuple[Agency, ...]
    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _agencies_exist(self) -> RoutingFile:
        known = {a.id for a in self.agencies}
        if len(known) != len(self.agencies):
            raise ValueError("agency ids must be unique")
        for rule in self.rules:
            if rule.agency not in known:
                raise ValueError(f"rule {rule.name!r} names unknown agency {rule.agency!r}")
            if not (rule.keywords or rule.categories):
                raise ValueError(f"rule {rule.name!r} needs keywords or categories")
        return self


@dataclass(frozen=True, slots=True)
class RuleDecision:
    """What the rules say: the agency, how sure, which rule, and the runners-up."""

    agency: str
    category: str | None
    confidence: float
    rule: str
    hits: tuple[str, ...]
    alternatives: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    rule: Rule
    pattern: re.Pattern[str] | None
    order: int


def _keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    parts: list[str] = []
    for keyword in keywords:
        wildcard = keyword.endswith("*")
        # Keywords go through the same normalization as messages, so "pju" and "penerangan jalan umum" agree.
        formal = for_matching(keyword.rstrip("*")).text
        if formal:
            parts.append(re.escape(formal) + (r"\w*" if wildcard else ""))
    if not parts:
        return None
    parts.sort(key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")


class RoutingRules:
    """Compiled rules, built once per process from the rules file."""

    def __init__(self, spec: RoutingFile) -> None:
        self.spec = spec
        self.agencies = {a.id: a for a in spec.agencies}
        self._rules = tuple(
            _CompiledRule(rule, _keyword_pattern(rule.keywords), i) for i, rule in enumerate(spec.rules)
        )

    @classmethod
    def load(cls, path: str | Path) -> RoutingRules:
        """Read and validate a rules file, failing loudly on unknown keys or agencies."""
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigurationError("routing rules file not found", detail=str(path)) from exc
        except yaml.YAMLError as exc:
            raise ConfigurationError("routing rules file is not valid YAML", detail=f"{path}: {exc}") from exc
        try:
            return cls(RoutingFile.model_validate(data))
        except ValidationError as exc:
            raise ConfigurationError("invalid routing rules", detail=f"{path}: {exc}") from exc

    def decide(
        self,
        matched: MatchText,
        *,
        category: str | None = None,
        region_code: str | None = None,
    ) -> RuleDecision | None:
        """The best rule for a message: most distinct keyword hits, earlier rule on a tie; None: fallback."""
        scores: dict[str, tuple[int, int, _CompiledRule, tuple[str, ...]]] = {}
        for compiled in self._rules:
            rule = compiled.rule
            if rule.regions and not (region_code and any(region_code.startswith(p) for p in rule.regions)):
                continue
            hits: tuple[str, ...] = ()
            if compiled.pattern is not None:
                hits = tuple(dict.fromkeys(compiled.pattern.findall(matched.text)))
            category_hit = bool(category and category in rule.categories)
            count = len(hits) + (2 if category_hit else 0)
            if count < rule.min_hits:
                continue
            best = scores.get(rule.agency)
            if best is None or (count, -compiled.order) > (best[0], -best[1]):
                scores[rule.agency] = (count, compiled.order, compiled, hits)
        if not scores:
            return None
        ranked = sorted(scores.values(), key=lambda s: (-s[0], s[1]))
        count, _, winner, hits = ranked[0]
        others = sum(s[0] for s in ranked[1:])
        confidence = winner.rule.confidence * count / (count + others)
        return RuleDecision(
            agency=winner.rule.agency,
            category=winner.rule.category,
            confidence=round(confidence, 3),
            rule=winner.rule.name,
            hits=hits,
            alternatives=tuple((s[2].rule.agency, round(s[0] / (count + others), 3)) for s in ranked[1:4]),
        )
