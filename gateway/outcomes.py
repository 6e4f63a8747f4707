"""Running a normalizer safely: every failure becomes a quarantine reason, never a crash."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from gateway.errors import IgnoredInput, QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.records import Ignored, Outcome

log = structlog.get_logger(__name__)

Normalizer = Callable[[RawMessage], Outcome]


@dataclass(frozen=True, slots=True)
class Quarantined:
    """Input that could not be normalized, with the reason an operator reads."""

    reason: str


def normalize_safely(raw: RawMessage, normalizers: Mapping[str, Normalizer]) -> Outcome | Quarantined:
    """The normalizer's outcome, or Quarantined with a reason; never raises."""
    normalizer = normalizers.get(raw.channel)
    if normalizer is None:
        return Quarantined(f"no_normalizer: {raw.channel}")
    try:
        return normalizer(raw)
    except IgnoredInput as exc:
        return Ignored(reason=exc.reason, detail=exc.detail)
    except (QuarantinedInput, UnsupportedEvent) as exc:
        return Quarantined(f"{exc.reason}: {exc.detail}" if exc.detail else exc.reason)
    except Exception as exc:  # a normalizer bug must not lose the message or stop the pipeline
        log.exception("normalizer.crashed", channel=raw.channel, event=raw.event)
        return Quarantined(f"normalizer_error: {type(exc).__name__}")
