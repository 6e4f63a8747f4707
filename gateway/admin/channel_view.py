"""How the CLI, the API and the console show a channel: values, origins, and secrets only as set / not set."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from channels.registry import CHANNELS
from config.settings import Settings
from gateway.admin.channel_store import CheckResult, secret_fields, validate_channel
from gateway.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class ChannelView:
    """One channel as an admin may see it; it never holds a secret value."""

    name: str
    enabled: bool
    settings: dict[str, Any]
    secrets: dict[str, str]
    origins: dict[str, str]
    error: str | None = None
    check: CheckResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "name": self.name, "enabled": self.enabled, "settings": self.settings, "secrets": self.secrets,
            "origins": self.origins, "error": self.error,
            "credential_check": None if self.check is None else {
                "result": self.check.result, "checked_at": self.check.checked_at.isoformat()},
            **self.extra,
        }


def describe(
    name: str, *, base: Settings, effective: Settings, stored: set[str], check: CheckResult | None = None
) -> ChannelView:
    """The view of channel `name` under the effective settings; `base` is the file and environment alone."""
    model = CHANNELS[name].config_model
    secret_keys = secret_fields(model)
    raw = effective.channel(name)
    error: str | None = None
    try:
        values = validate_channel(effective, name).model_dump(mode="json", exclude=set(secret_keys))
    except ConfigurationError as exc:
        error = exc.detail
        values = {key: raw.get(key, spec.default) for key, spec in model.model_fields.items()
                  if key not in secret_keys}
    configured = set(base.channel(name))
    origins = {
        key: "database" if key in stored else "file/env" if key in configured else "default"
        for key in model.model_fields
    }
    secrets = {key: "set" if _is_set(raw.get(key)) else "not set" for key in sorted(secret_keys)}
    return ChannelView(name=name, enabled=_truthy(values.get("enabled", False)), settings=values, secrets=secrets,
                       origins=origins, error=error, check=check)


def _truthy(value: object) -> bool:
    # Environment values arrive as text ("false" must not enable a channel).
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _is_set(value: object) -> bool:
    if value is None:
        return False
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    return bool(value)
