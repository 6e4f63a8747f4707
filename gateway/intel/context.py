"""IntelContext: everything the text pipeline needs, built once per process from IntelSettings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import structlog

from gateway.intel.gazetteer import Gazetteer
from gateway.intel.router import RouterModel, load_model
from gateway.intel.routing_rules import RoutingRules
from gateway.intel.settings import IntelSettings
from gateway.intel.slang import Lexicon, lexicon

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class IntelContext:
    """The loaded lexicon, gazetteer index, routing rules and (optional) router model."""

    settings: IntelSettings
    lexicon: Lexicon
    gazetteer: Gazetteer
    rules: RoutingRules
    model: RouterModel | None

    @classmethod
    def from_settings(cls, settings: IntelSettings, *, base_dir: Path | None = None) -> IntelContext:
        """Load everything; relative paths are taken from `base_dir` (default: the working directory)."""
        base = base_dir or Path.cwd()
        rules = RoutingRules.load(_resolve(base, settings.routing_rules))
        model = load_model(_resolve(base, settings.model_path)) if settings.model_path else None
        context = cls(
            settings=settings,
            lexicon=lexicon(),
            gazetteer=Gazetteer(settings.jurisdiction),
            rules=rules,
            model=model,
        )
        log.info(
            "intel.context_loaded",
            jurisdiction=settings.jurisdiction,
            regions=context.gazetteer.size,
            agencies=len(rules.agencies),
            model=bool(model),
            shadow=model.header.shadow if model else None,
            fast_scorer=model.fast if model else None,
        )
        return context

    def auto_threshold(self) -> float | None:
        """The confidence at which the model may auto-route, or None when it may not (absent or shadow)."""
        if self.model is None or self.model.header.shadow:
            return None
        return max(self.model.header.threshold, self.settings.auto_route_min_confidence)


def _resolve(base: Path, path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else base / candidate


@lru_cache(maxsize=4)
def shared_context(settings: IntelSettings) -> IntelContext:
    """The process-wide context for these settings (built on first use, then reused)."""
    return IntelContext.from_settings(settings)
