"""Reading JSON webhook payloads (Meta, Telegram, X) without trusting their shape."""

from __future__ import annotations

import json
from collections.abc import Mapping

from gateway.errors import QuarantinedInput

Json = Mapping[str, object]


def load(payload: bytes) -> Json:
    """The payload as a JSON object, or QuarantinedInput."""
    try:
        value = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise QuarantinedInput("malformed_json", detail=type(exc).__name__) from exc
    if not isinstance(value, dict):
        raise QuarantinedInput("malformed_json", detail="not an object")
    return value


def obj(value: object) -> Json:
    """The value when it is an object, else an empty one (a missing or mistyped field reads as absent)."""
    return value if isinstance(value, dict) else {}


def text_or_none(value: object) -> str | None:
    """The value as text, or None when it is missing or empty."""
    return str(value) if value not in (None, "") else None
